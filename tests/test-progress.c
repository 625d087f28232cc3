/*
 * test-progress.c — INV-PROGRESS (sim/replay/replay.c): replay reports a
 * fault that comes back RP_PROGRESS_MAX times in a row, each answered
 * fixed or retry, with no other input between, as a livelock, once per
 * run of them; fewer, or runs broken by another input or another fault,
 * are not.  The traces are made here: 4-level tables in MEM records, the
 * CR writes that turn paging on, then the faults.  The faults come again
 * although the guest's tables allow the access: the real core injects
 * such a fault the fourth time in a row (docs/core.md, "Faults the core
 * cannot explain"), so the livelocks are made by a core with seeded bug 62,
 * which retries it for ever; the real core makes none.
 */
#define _POSIX_C_SOURCE 200809L
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "replay-mem.h"
#include "replay.h"
#include "svt.h"
#include "trace-gen.h"
#include "trace.h"

#define OK(x) cr_assert_eq((x), SVT_TRACE_OK)

unsigned svt_broken = 62;       /* the core's seeded bug (src/walk_int.h); 0: none */

/* The trace: paging on, then `script` (f: a fault at 0x400000, g: one at
 * 0x401000, i: INVLPG), each letter repeated as its count says. */
static struct tg_buf make(const char *script)
{
	struct tg_buf b = { 0 };
	struct svt_trace_error err;
	struct svt_trace_writer *w = tg_open_guest(&b, "a livelock", 1024, 46);
	cr_assert_not_null(w);
	OK(tg_put_mem64(w, 0x1000, 0x2000 | 7));
	OK(tg_put_mem64(w, 0x2000, 0x3000 | 7));
	OK(tg_put_mem64(w, 0x3000 + 2 * 8, 0x4000 | 7));     /* PD[2]: 0x400000 */
	OK(tg_put_mem64(w, 0x4000, 0x9000 | 0x67));          /* PT[0]: present, A and D set */
	OK(tg_put_mem64(w, 0x4008, 0xa000 | 0x67));
	OK(tg_put_paging_4level(w, 0x1000));
	for (const char *s = script; *s;) {
		char c = *s++;
		unsigned n = (unsigned)strtoul(s, (char **)&s, 10);
		for (unsigned i = 0; i < n; i++) {
			if (c == 'f')
				OK(tg_put_fault(w, 0x400000, SVT_PFEC_U));
			else if (c == 'g')
				OK(tg_put_fault(w, 0x401000, SVT_PFEC_U));
			else
				OK(tg_put_invlpg(w, 0x400000));
		}
	}
	cr_assert_eq(svt_trace_writer_close(w, &err), SVT_TRACE_OK, "%s", err.msg);
	return b;
}

/* Replay; the number of INV-PROGRESS lines it prints. */
static unsigned progress_reports(const char *script, struct svt_replay_result *res)
{
	struct tg_buf b = make(script);
	char *out = replay_mem(&b, SVT_AUDIT_FAULTS, res);
	unsigned n = 0;
	for (const char *p = out; (p = strstr(p, "INV-PROGRESS")) != NULL; p++)
		n++;
	free(out);
	free(b.p);
	return n;
}

Test(progress, a_fault_that_comes_back_without_end)
{
	struct svt_replay_result res;
	cr_assert_eq(progress_reports("f200", &res), 1, "one report per run of them");
	cr_assert_eq(res.violations, 1);
	cr_assert_eq(progress_reports("f64", &res), 1);
	cr_assert_eq(progress_reports("f64i1f64", &res), 2, "a new run after an INVLPG");
}

Test(progress, fewer_or_broken_runs_are_progress)
{
	struct svt_replay_result res;
	cr_assert_eq(progress_reports("f63", &res), 0);
	cr_assert_eq(res.violations, 0, "the trace is otherwise clean");
	cr_assert_eq(progress_reports("f40i1f40i1f40", &res), 0, "INVLPG between");
	cr_assert_eq(progress_reports("f40g1f40g1f40", &res), 0, "another fault between");
}

/* A fault the core answers RETRY for ever: a supervisor write that only
 * CR0.WP=0 allows, which the core must have the registers for and the
 * trace never gives (wants_regs, each time).  The SVT_PF_STUCK_AFTER-th in a
 * row the core reports it stuck (live, the hypervisor stops the guest
 * there, long before RP_PROGRESS_MAX), and replay says so; with seeded bug
 * 84 it never does. */
static unsigned stuck_reports(unsigned n, unsigned broken, struct svt_replay_result *res)
{
	struct tg_buf b = { 0 };
	struct svt_trace_error err;
	struct svt_trace_writer *w = tg_open_guest(&b, "stuck", 1024, 46);
	cr_assert_not_null(w);
	OK(tg_put_mem64(w, 0x1000, 0x2000 | 7));
	OK(tg_put_mem64(w, 0x2000, 0x3000 | 7));
	OK(tg_put_mem64(w, 0x3000 + 2 * 8, 0x4000 | 7));
	OK(tg_put_mem64(w, 0x4000, 0x9000 | 0x61));          /* supervisor, read-only, A and D */
	OK(tg_put_cr(w, SVT_TRACE_CR4, 0x20));
	OK(tg_put_cr(w, SVT_TRACE_EFER, 0x100));
	OK(tg_put_cr(w, SVT_TRACE_CR3, 0x1000));
	OK(tg_put_cr(w, SVT_TRACE_CR0, 0x80000011));         /* PG, ET, PE: WP clear */
	for (unsigned i = 0; i < n; i++)
		OK(tg_put_fault(w, 0x400010, SVT_PFEC_P | SVT_PFEC_W));
	cr_assert_eq(svt_trace_writer_close(w, &err), SVT_TRACE_OK, "%s", err.msg);
	svt_broken = broken;
	char *out = replay_mem(&b, SVT_AUDIT_FAULTS, res);
	svt_broken = 62;
	unsigned np = tg_count(out, "INV-PROGRESS");
	cr_assert(np == 0 || tg_count(out, "the core reports it stuck") == np, "%s", out);
	free(out);
	free(b.p);
	return np;
}

Test(progress, a_stuck_fault_is_reported)
{
	struct svt_replay_result res;
	cr_assert_eq(stuck_reports(SVT_PF_STUCK_AFTER - 1, 0, &res), 0);
	cr_assert_eq(res.violations, 0, "the trace is otherwise clean");
	cr_assert_eq(stuck_reports(SVT_PF_STUCK_AFTER, 0, &res), 1);
	cr_assert_eq(res.violations, 1);
	cr_assert_eq(stuck_reports(2 * SVT_PF_STUCK_AFTER, 0, &res), 2, "once per run of them");
	cr_assert_eq(stuck_reports(SVT_PF_STUCK_AFTER, 84, &res), 0, "bug 84: never stuck");
	cr_assert_eq(res.violations, 0);
}

/* The real core injects the fault the fourth time: no livelock. */
Test(progress, the_real_core_does_not_livelock)
{
	struct svt_replay_result res;
	svt_broken = 0;
	cr_assert_eq(progress_reports("f200", &res), 0);
	svt_broken = 62;
}
