/*
 * replay-mem.c — a trace held in memory replayed into a memstream, for the
 * replay tests (see replay-mem.h).
 */
#define _POSIX_C_SOURCE 200809L
#include <criterion/criterion.h>
#include <stdio.h>

#include "replay-mem.h"

char *replay_mem(const struct tg_buf *b, enum svt_audit_level audit,
		 struct svt_replay_result *res)
{
	char *out = NULL;
	size_t outlen = 0;
	FILE *f = open_memstream(&out, &outlen);
	cr_assert_not_null(f);
	struct svt_replay_config cfg = {
		.path = "mem", .mem = b->p, .mem_len = b->n, .audit = audit, .show = 100, .out = f,
	};
	svt_replay(&cfg, res);
	fclose(f);
	return out;
}
