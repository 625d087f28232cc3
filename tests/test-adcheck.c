/*
 * test-adcheck.c — the A/D check at faults (INV-FAULT, sim/replay/
 * replay-check.c) on a guest whose page table maps itself, as
 * kvm-unit-tests' eventinj does: one word is the level-3, level-2 and
 * level-1 entry of the same walk, so the D bit bare metal sets in the leaf
 * is also "in" the upper entries; replay must not call that a violation,
 * and must still call an A/D update nothing explains one.  The traces are
 * made here (4-level tables in MEM records, paging turned on, the faults).
 */
#define _POSIX_C_SOURCE 200809L
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "replay.h"
#include "trace-gen.h"
#include "trace.h"

#define OK(x) cr_assert_eq((x), SVT_TRACE_OK)

/* PML4 at 0x1000; its entry 0 points to 0x2000, whose entry 0 points to
 * 0x2000 again: 0x2000 is the PDPT, the PD, the PT and the page at va 0.
 * self false: an ordinary chain 0x2000 -> 0x3000 -> 0x4000 -> page 0x9000. */
static struct tg_buf make(bool self)
{
	struct tg_buf b = { 0 };
	struct svt_trace_error err;
	struct svt_trace_writer *w = tg_open_guest(&b, "a table mapping itself", 1024, 46);
	cr_assert_not_null(w);
	OK(tg_put_mem64(w, 0x1000, 0x2000 | 3));
	if (self) {
		OK(tg_put_mem64(w, 0x2000, 0x2000 | 3));
	} else {
		OK(tg_put_mem64(w, 0x2000, 0x3000 | 3));
		OK(tg_put_mem64(w, 0x3000, 0x4000 | 3));
		OK(tg_put_mem64(w, 0x4000, 0x9000 | 3));
	}
	OK(tg_put_paging_4level(w, 0x1000));
	/* a supervisor write at va 0x10: A at every level, D in the leaf */
	OK(tg_put_fault(w, 0x10, SVT_PFEC_W));
	cr_assert_eq(svt_trace_writer_close(w, &err), SVT_TRACE_OK, "%s", err.msg);
	return b;
}

static void replay(const struct tg_buf *b, struct svt_replay_result *res, char **out)
{
	size_t outlen = 0;
	FILE *f = open_memstream(out, &outlen);
	cr_assert_not_null(f);
	struct svt_replay_config cfg = {
		.path = "mem", .mem = b->p, .mem_len = b->n, .audit = SVT_AUDIT_FAULTS, .show = 100,
		.out = f,
	};
	svt_replay(&cfg, res);
	fclose(f);
}

Test(adcheck, a_table_that_maps_itself)
{
	struct tg_buf b = make(true);
	struct svt_replay_result res;
	char *out = NULL;
	replay(&b, &res, &out);
	cr_assert_eq(res.status, SVT_RUN_CLEAN, "%s", out);
	cr_assert_eq(res.violations, 0, "%s", out);
	free(out);
	free(b.p);
}

Test(adcheck, an_ordinary_chain)
{
	struct tg_buf b = make(false);
	struct svt_replay_result res;
	char *out = NULL;
	replay(&b, &res, &out);
	cr_assert_eq(res.status, SVT_RUN_CLEAN, "%s", out);
	free(out);
	free(b.p);
}
