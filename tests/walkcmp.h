/*
 * walkcmp.h — what the walker tests share: a small sparse guest memory
 * (with a log of the walker's writes) and the comparison of one access
 * between the walker (src/) and the independent SDM model (refmodel.c),
 * reporting every discrepancy in words.
 */
#ifndef SVT_WALKCMP_H
#define SVT_WALKCMP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "refmodel.h"
#include "svt.h"

#define TM_PAGES 8
#define TM_WLOG 16

struct tmem {
	unsigned n;
	uint64_t base[TM_PAGES];
	uint8_t page[TM_PAGES][4096];
	unsigned nwrites;
	struct { uint64_t gpa; size_t len; } wlog[TM_WLOG];
	unsigned stray;         /* writes outside every page */
};

struct report {
	char buf[3072];
	size_t len;
	unsigned bad;
};

void note(struct report *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
uint8_t *tm_find(struct tmem *m, uint64_t gpa);
void tm_add(struct tmem *m, uint64_t gpa);
uint64_t tm_get(struct tmem *m, uint64_t gpa, unsigned bytes);
int tm_read(void *ctx, uint64_t gpa, void *buf, size_t len);
int tm_write(void *ctx, uint64_t gpa, const void *buf, size_t len);
void tm_put(struct tmem *m, uint64_t gpa, unsigned bytes, uint64_t v);
bool tm_load(void *ctx, uint64_t pa, unsigned bytes, uint64_t *val);
const char *status_name(int s);
void regs_to_cpu(const struct svt_regs *r, struct rm_cpu *c);
int expect_status(enum rm_kind k);
int expect_mode(enum rm_paging p);
unsigned rights_of(bool w, bool u, bool x);
void pfec_str(char *s, size_t n, uint32_t ec);
unsigned compare_walk(struct tmem *mem, const struct svt_regs *regs,
			     const struct svt_access *acc, struct rm_out *exp,
			     struct svt_walk *w, struct report *rep);
void describe_expected(char *s, size_t n, const struct rm_out *e);
void describe_got(char *s, size_t n, const struct svt_walk *w);

#endif
