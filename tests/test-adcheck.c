/*
 * test-adcheck.c — the A/D check at faults (INV-FAULT, sim/replay/
 * replay-check.c) on a guest whose page table maps itself, as
 * kvm-unit-tests' eventinj does: one word is the level-3, level-2 and
 * level-1 entry of the same walk, so the D bit bare metal sets in the leaf
 * is also "in" the upper entries; replay must not call that a violation,
 * and must still call an A/D update nothing explains one.  The traces are
 * made here (4-level tables in MEM records, paging turned on, the faults).
 * Also here, on traces made the same way: a write with no instruction to a
 * page table on its own walk, which the core lets the hardware perform with
 * the table out of sync until the next flush (docs/core.md, "Known
 * limitations"), is no INV-WP violation for replay under oos=0, at level 1
 * or at the top level; nor is the writable, supervisor-only leaf a write
 * only CR0.WP=0 allows gets (INV-PERM).  And the flush check's skip of
 * leaves judged before, on a 2-level guest's table, whose PAE-format
 * shadows hold half of it each.
 */
#define _POSIX_C_SOURCE 200809L
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "replay-mem.h"
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

/* Replay b at the audit level: clean, nothing reported.  Frees b. */
static void expect_clean(struct tg_buf *b, enum svt_audit_level audit)
{
	struct svt_replay_result res;
	char *out = replay_mem(b, audit, &res);
	cr_assert_eq(res.status, SVT_RUN_CLEAN, "%s", out);
	cr_assert_eq(res.violations, 0, "%s", out);
	free(out);
	free(b->p);
}

Test(adcheck, a_table_that_maps_itself)
{
	struct tg_buf b = make(true);

	expect_clean(&b, SVT_AUDIT_FAULTS);
}

Test(adcheck, an_ordinary_chain)
{
	struct tg_buf b = make(false);
	struct svt_replay_result res;
	char *out = replay_mem(&b, SVT_AUDIT_FAULTS, &res);
	cr_assert_eq(res.status, SVT_RUN_CLEAN, "%s", out);
	free(out);
	free(b.p);
}

/* ---- tables written by the CPU itself ---------------------------------- */

/* A 4-level guest under oos=0: PML4 0x1000 -> PDPT 0x2000 -> PD 0x3000 ->
 * PT 0x4000; va 0 maps page 0x9000, va 0x1000 the PT itself, va 0x3000
 * the PML4.  A read at va 0 shadows the tables; then a supervisor write
 * with registers but no instruction (an event's stack push, say) to the
 * table at target (the PT, or the PML4), whose own walk reads it; the
 * hardware's write (a MEM record); 4090 inputs that flush nothing, so that
 * the periodic audit (INV-WP among it) runs while the table is writable;
 * then INVLPG, after which it is protected again. */
static struct tg_buf make_unsync(uint64_t target)
{
	const struct svt_trace_range ram = { 0, 1024 };
	struct svt_trace_header h = {
		.producer = "trace-gen", .cpu_model = "synthetic", .guest = "implicit writes",
		.maxphyaddr = 46, .guest_frames = 1024, .ram = &ram, .nram = 1,
		.policy = { .oos = 0, .prefetch = 0, .emulate = true }, .pool_frames = 64,
	};
	struct tg_buf b = { 0 };
	struct svt_trace_error err;
	struct svt_trace_writer *w = svt_trace_writer_open_sink(tg_sink, &b, "mem", &h, 0, &err);
	cr_assert_not_null(w, "%s", err.msg);
	OK(tg_put_mem64(w, 0x1000, 0x2000 | 3));
	OK(tg_put_mem64(w, 0x2000, 0x3000 | 3));
	OK(tg_put_mem64(w, 0x3000, 0x4000 | 3));
	OK(tg_put_mem64(w, 0x4000, 0x9000 | 3));
	OK(tg_put_mem64(w, 0x4008, 0x4000 | 3));
	OK(tg_put_mem64(w, 0x4018, 0x1000 | 3));
	OK(tg_put_paging_4level(w, 0x1000));
	OK(tg_put_fault(w, 0, 0));
	uint64_t va = target == 0x4000 ? 0x1010 : 0x3010;
	struct svt_trace_event ev = { .type = SVT_TRACE_FAULT };
	ev.u.fault.va = va;
	ev.u.fault.error_code = SVT_PFEC_W;
	ev.u.fault.code_bits = 64;
	ev.u.fault.has_regs = true;
	ev.u.fault.rflags = 2;
	OK(svt_trace_write(w, &ev));
	OK(tg_put_mem64(w, target + 0x10, 0x9000 | 3));       /* the hardware's write */
	for (int i = 0; i < 4090; i++)
		OK(tg_put_cr(w, SVT_TRACE_CR0, 0x80010011));   /* as it is: flushes nothing */
	OK(tg_put_invlpg(w, 0x2000));
	OK(tg_put_fault(w, 0x2000, 0));
	cr_assert_eq(svt_trace_writer_close(w, &err), SVT_TRACE_OK, "%s", err.msg);
	return b;
}

static void replay_unsync(uint64_t target)
{
	struct tg_buf b = make_unsync(target);

	expect_clean(&b, SVT_AUDIT_PERIODIC);
}

Test(adcheck, a_page_table_written_by_the_cpu_on_its_own_walk)
{
	replay_unsync(0x4000);
}

Test(adcheck, the_top_level_table_written_by_the_cpu)
{
	replay_unsync(0x1000);
}

/* CR0.WP=0 and CR4.SMEP: va 0 maps page 0x9000 user and read-only; a
 * supervisor write with no instruction there gets a writable,
 * supervisor-only, XD leaf, which replay's INV-PERM must accept (the guest
 * lets its supervisor write there, and no one else), at the CR3 load that
 * follows (every leaf judged) and at the periodic audit; then a user read
 * puts the guest's rights back. */
Test(adcheck, a_leaf_made_writable_for_cr0_wp_0)
{
	const struct svt_trace_range ram = { 0, 1024 };
	struct svt_trace_header h = {
		.producer = "trace-gen", .cpu_model = "synthetic", .guest = "CR0.WP=0",
		.maxphyaddr = 46, .guest_frames = 1024, .ram = &ram, .nram = 1,
		.policy = { .emulate = true }, .pool_frames = 64,
	};
	struct tg_buf b = { 0 };
	struct svt_trace_error err;
	struct svt_trace_writer *w = svt_trace_writer_open_sink(tg_sink, &b, "mem", &h, 0, &err);
	cr_assert_not_null(w, "%s", err.msg);
	OK(tg_put_mem64(w, 0x1000, 0x2000 | 7));
	OK(tg_put_mem64(w, 0x2000, 0x3000 | 7));
	OK(tg_put_mem64(w, 0x3000, 0x4000 | 7));
	OK(tg_put_mem64(w, 0x4000, 0x9000 | 5));               /* user, read-only */
	OK(tg_put_cr(w, SVT_TRACE_CR4, 0x100020));             /* PAE, SMEP */
	OK(tg_put_cr(w, SVT_TRACE_EFER, 0x100));
	OK(tg_put_cr(w, SVT_TRACE_CR3, 0x1000));
	OK(tg_put_cr(w, SVT_TRACE_CR0, 0x80000011));           /* PG, ET, PE; WP clear */
	struct svt_trace_event ev = { .type = SVT_TRACE_FAULT };
	ev.u.fault.va = 8;
	ev.u.fault.error_code = SVT_PFEC_W;
	ev.u.fault.code_bits = 64;
	ev.u.fault.has_regs = true;
	ev.u.fault.rflags = 2;
	OK(svt_trace_write(w, &ev));
	OK(tg_put_cr(w, SVT_TRACE_CR3, 0x1000));       /* a flush: every leaf judged */
	for (int i = 0; i < 4091; i++)
		OK(tg_put_cr(w, SVT_TRACE_CR0, 0x80000011));   /* as it is */
	ev.u.fault.error_code = SVT_PFEC_U | SVT_PFEC_P;       /* a user read: U/S=0 faults */
	ev.u.fault.cpl = 3;
	ev.u.fault.has_regs = false;
	OK(svt_trace_write(w, &ev));
	cr_assert_eq(svt_trace_writer_close(w, &err), SVT_TRACE_OK, "%s", err.msg);
	expect_clean(&b, SVT_AUDIT_PERIODIC);
}

/* ---- a 2-level guest's table as the flush check compares it ----------- */

/* A 2-level guest: PD 0x1000 -> PT 0x2000, whose entry 512 (va 0x200000,
 * the table's upper half: the second part of its PAE-format shadow) maps
 * page 0x9000.  A read there shadows it; a CR3 load judges every leaf; then
 * the guest's entry changes to page 0xa000 behind the core's back (a MEM
 * record under the recorded policy: the core is not told, as if it had
 * missed the write); the next CR3 load must find the shadow stale (the
 * entry is put back after it, so the audit at the end sees nothing).  The
 * check skips leaves whose shadow and guest entries are as they were at
 * the last flush: the guest entry of shadow entry i of the upper part is
 * the 4-byte entry 512 + i, not the bytes at i * 8 (entries 2i and 2i+1,
 * unchanged here). */
Test(adcheck, a_2level_guest_entry_changed_behind_the_core_is_found_at_the_flush)
{
	struct tg_buf b = { 0 };
	struct svt_trace_error err;
	struct svt_trace_writer *w = tg_open_guest(&b, "a 2-level table's upper half", 1024, 36);
	cr_assert_not_null(w);
	OK(tg_put_mem64(w, 0x1000, 0x2000 | 7));
	OK(tg_put_mem64(w, 0x2000 + 512 * 4, 0x9000 | 7));
	OK(tg_put_cr(w, SVT_TRACE_CR3, 0x1000));
	OK(tg_put_cr(w, SVT_TRACE_CR0, 0x80000011));          /* PG, ET, PE */
	OK(tg_put_fault(w, 0x200000, 0));
	OK(tg_put_cr(w, SVT_TRACE_CR3, 0x1000));              /* every leaf judged */
	OK(tg_put_mem64(w, 0x2000 + 512 * 4, 0xa000 | 0x27)); /* not told to the core; A set */
	OK(tg_put_cr(w, SVT_TRACE_CR3, 0x1000));
	OK(tg_put_mem64(w, 0x2000 + 512 * 4, 0x9000 | 0x27)); /* as the shadow has it again */
	cr_assert_eq(svt_trace_writer_close(w, &err), SVT_TRACE_OK, "%s", err.msg);
	struct svt_replay_result res;
	char *out = replay_mem(&b, SVT_AUDIT_PERIODIC, &res);
	/* at the second CR3 load (event 7) or not at all: the entry is put
	 * back before the audit at the end */
	cr_assert_gt(res.violations, 0, "the stale leaf was not found:\n%s", out);
	cr_assert_not_null(strstr(out, "event 7: INV-SYNC va 0x200000"), "%s", out);
	free(out);
	free(b.p);
}
