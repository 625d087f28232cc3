/*
 * demo.h — the built-in demo guest (demo.c): a 4-level page table in six
 * pages of guest-physical memory, its registers, and a tour of accesses
 * through it.
 */
#ifndef SVT_DEMO_H
#define SVT_DEMO_H

#include <stdint.h>

#include "svt.h"

#define SVT_DEMO_SIZE   (6u * 4096)

struct svt_demo_stop {
	uint64_t va;
	enum svt_access_kind kind;
	uint8_t cpl;
	const char *what;
};
extern const struct svt_demo_stop svt_demo_tour[];
extern const unsigned svt_demo_tour_len;
void svt_demo_build(uint8_t *mem);
void svt_demo_regs(struct svt_regs *r);

#endif
