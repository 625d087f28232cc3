/*
 * test-step.c — a write granted for one step (svt_fault_result.step,
 * docs/core.md "Closed: ..."), replayed: a supervisor write at CPL 0 that
 * only CR0.WP=0 allows, to a read-only user page under SMAP with
 * RFLAGS.AC=1, with its registers but no instruction (an event's stack
 * push).  The core gives it a writable supervisor-only path for one step,
 * which a STEP_DONE record ends (traces/FORMAT.md 1.6).  Replay allows the
 * grant exactly between the fault and the STEP_DONE: a trace that ends
 * the step is clean; one whose producer ran on without ending it, or that
 * ends a step nobody asked for, is reported (INV-REPLAY); a core that
 * keeps the grant past the step's end (seeded bug 85) is reported (a
 * user page supervisor-only under SMAP after the step), as is one that
 * retries the write instead (bug 86, with the producer's stop after
 * SVT_PF_STUCK_AFTER retries: INV-PROGRESS).  A fault in the step is its
 * instruction or delivery faulting again, not the producer's mistake; a
 * second page that needs the grant joins the step, and a core that ends
 * the step there instead (bug 87: the two pages would take the grant from
 * each other for ever) is reported (INV-PROGRESS).  The traces are made
 * here.
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

unsigned svt_broken;            /* the core's seeded bug (src/mmu_int.h); 0: none */

static int put_fault(struct svt_trace_writer *w, uint64_t va, uint32_t ec, uint64_t rflags)
{
	struct svt_trace_event ev = { .type = SVT_TRACE_FAULT };
	ev.u.fault.va = va;
	ev.u.fault.error_code = ec;
	ev.u.fault.code_bits = 64;
	ev.u.fault.rflags = rflags;
	ev.u.fault.has_regs = true;
	ev.u.fault.regs.rip = 0x7000;
	ev.u.fault.regs.gpr[4] = va + 8;
	ev.u.fault.regs.rflags = rflags;
	return svt_trace_write(w, &ev);
}

static int put_fixed(struct svt_trace_writer *w)
{
	struct svt_trace_event ev = { .type = SVT_TRACE_DECISION };
	ev.u.decision.input = SVT_TRACE_FAULT;
	ev.u.decision.outcome = SVT_PF_FIXED;
	return svt_trace_write(w, &ev);
}

static int put_step_done(struct svt_trace_writer *w)
{
	struct svt_trace_event ev = { .type = SVT_TRACE_STEP_DONE };
	return svt_trace_write(w, &ev);
}

/*
 * The trace: 4-level tables (va 0x400000 and 0x402000: user pages,
 * read-only, A and D set; va 0x401000: a user page, writable in its PTE;
 * all under a read-only PD entry, which the step's grant makes writable
 * and supervisor-only too, so that the neighbour the fault maps is
 * supervisor-only during the step), CR4.SMAP, CR0.WP=0, then `script`: w
 * the write (AC=1) and its FIXED, v a write to 0x402010 and its FIXED (a
 * second page of the same delivery: a step too), s a STEP_DONE, r a
 * supervisor read of 0x401000 with AC=1 (allowed), x a supervisor read of
 * 0x7ff000 (nothing mapped: INJECT), i an INVLPG of 0x400000, W the write
 * n times with no decision (a producer that retries).
 */
static struct tg_buf make(const char *script)
{
	struct tg_buf b = { 0 };
	struct svt_trace_error err;
	struct svt_trace_writer *w = tg_open_guest(&b, "a step", 1024, 46);
	cr_assert_not_null(w);
	OK(tg_put_mem64(w, 0x1000, 0x2000 | 7));
	OK(tg_put_mem64(w, 0x2000, 0x3000 | 7));
	OK(tg_put_mem64(w, 0x3000 + 2 * 8, 0x4000 | 0x25));  /* PD[2]: read-only, A */
	OK(tg_put_mem64(w, 0x4000, 0x9000 | 0x65));
	OK(tg_put_mem64(w, 0x4008, 0xa000 | 0x67));
	OK(tg_put_mem64(w, 0x4010, 0xb000 | 0x65));
	OK(tg_put_cr(w, SVT_TRACE_CR4, 0x20 | SVT_CR4_SMAP));
	OK(tg_put_cr(w, SVT_TRACE_EFER, 0x100));
	OK(tg_put_cr(w, SVT_TRACE_CR3, 0x1000));
	OK(tg_put_cr(w, SVT_TRACE_CR0, 0x80000011));         /* PG, ET, PE: WP clear */
	const uint64_t ac = 2 | SVT_RFLAGS_AC;
	for (const char *s = script; *s; s++) {
		switch (*s) {
		case 'w':
			OK(put_fault(w, 0x400010, SVT_PFEC_P | SVT_PFEC_W, ac));
			OK(put_fixed(w));
			break;
		case 'v':
			OK(put_fault(w, 0x402010, SVT_PFEC_P | SVT_PFEC_W, ac));
			OK(put_fixed(w));
			break;
		case 'x':       /* (no decision: what matters is the step's end) */
			OK(put_fault(w, 0x7ff000, 0, ac));
			break;
		case 'W':
			for (unsigned i = 0; i < SVT_PF_STUCK_AFTER; i++)
				OK(put_fault(w, 0x400010, SVT_PFEC_P | SVT_PFEC_W, ac));
			break;
		case 's':
			OK(put_step_done(w));
			break;
		case 'r':       /* (no decision: a prefetched shadow may make it spurious) */
			OK(put_fault(w, 0x401008, 0, ac));
			break;
		default:
			OK(tg_put_invlpg(w, 0x400000));
			break;
		}
	}
	cr_assert_eq(svt_trace_writer_close(w, &err), SVT_TRACE_OK, "%s", err.msg);
	return b;
}

/* Replay at every audit level from `audit` up; the report of the last. */
static char *replay(const char *script, unsigned broken, enum svt_audit_level audit,
		    struct svt_replay_result *res)
{
	struct tg_buf b = make(script);
	svt_broken = broken;
	char *out = replay_mem(&b, audit, res);
	svt_broken = 0;
	free(b.p);
	return out;
}

Test(step, a_step_ended_replays_clean)
{
	static const enum svt_audit_level levels[] = { SVT_AUDIT_FAULTS, SVT_AUDIT_FULL };
	for (unsigned l = 0; l < 2; l++) {
		struct svt_replay_result res;
		char *out = replay("wsrwsiws", 0, levels[l], &res);
		cr_assert_eq(res.violations, 0, "%s", out);
		cr_assert_eq(res.divergences, 0, "%s", out);
		cr_assert_eq(res.counters.env_errors, 0, "%s", out);
		free(out);
	}
}

Test(step, a_step_not_ended_is_reported)
{
	struct svt_replay_result res;
	char *out = replay("wri", 0, SVT_AUDIT_FAULTS, &res);
	cr_assert_eq(res.divergences + res.violations, 1, "%s", out);
	cr_assert_geq(tg_count(out, "no STEP_DONE before it"), 1, "%s", out);
	cr_assert_eq(res.counters.env_errors, 1, "the core ended it itself: %s", out);
	free(out);
	out = replay("wi", 0, SVT_AUDIT_FAULTS, &res);
	cr_assert_geq(tg_count(out, "no STEP_DONE before it"), 1, "%s", out);
	free(out);
	out = replay("rs", 0, SVT_AUDIT_FAULTS, &res);
	cr_assert_eq(res.divergences + res.violations, 1, "%s", out);
	cr_assert_geq(tg_count(out, "a STEP_DONE where the core asked for no step"), 1, "%s", out);
	free(out);
}

Test(step, a_grant_kept_past_the_step_is_reported)
{
	struct svt_replay_result res;
	char *out = replay("ws", 85, SVT_AUDIT_FAULTS, &res);
	cr_assert_geq(res.violations, 1, "%s", out);
	cr_assert_geq(tg_count(out, "after the end of a step: the shadows make a user page "
			       "supervisor-only"), 1, "%s", out);
	free(out);
	out = replay("ws", 0, SVT_AUDIT_FAULTS, &res);
	cr_assert_eq(res.violations, 0, "%s", out);
	free(out);
}

Test(step, a_write_retried_instead_is_reported_stuck)
{
	struct svt_replay_result res;
	char *out = replay("W", 86, SVT_AUDIT_FAULTS, &res);
	cr_assert_eq(tg_count(out, "the core reports it stuck"), 1, "%s", out);
	free(out);
}

/* A fault in a step is its instruction or delivery faulting again: the
 * step goes on (FIXED, RETRY), or the core ends it (INJECT here), and
 * neither is the producer's mistake. */
Test(step, a_fault_in_a_step_is_part_of_it)
{
	static const char *const clean[] = { "wrs", "wxi", "wxws" };
	for (unsigned i = 0; i < 3; i++) {
		struct svt_replay_result res;
		char *out = replay(clean[i], 0, SVT_AUDIT_FULL, &res);
		cr_assert_eq(res.violations + res.divergences, 0, "%s: %s", clean[i], out);
		cr_assert_eq(res.counters.env_errors, 0, "%s: %s", clean[i], out);
		free(out);
	}
}

/* An event's frame on two pages, both needing the step's grant: the
 * second page's fault comes in the step and joins it (clean, at every
 * level); a core that ends the step there instead (seeded bug 87) takes
 * the first page's grant back, which the two would then take from each
 * other for ever: INV-PROGRESS, at the second fault. */
Test(step, a_step_on_two_pages_keeps_both)
{
	static const enum svt_audit_level levels[] = { SVT_AUDIT_FAULTS, SVT_AUDIT_FULL };
	for (unsigned l = 0; l < 2; l++) {
		struct svt_replay_result res;
		char *out = replay("wvsi", 0, levels[l], &res);
		cr_assert_eq(res.violations + res.divergences, 0, "%s", out);
		cr_assert_eq(res.counters.env_errors, 0, "%s", out);
		free(out);
	}
	struct svt_replay_result res;
	char *out = replay("wvs", 87, SVT_AUDIT_FAULTS, &res);
	cr_assert_eq(tg_count(out, "took back the step's grant for the write at 0x400010"), 1,
		     "%s", out);
	cr_assert_geq(tg_count(out, "INV-PROGRESS"), 1, "%s", out);
	free(out);
}
