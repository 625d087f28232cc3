/*
 * test-implicit.c — replay's own rule for implicit supervisor accesses
 * (sim/replay/implicit.c; docs/replay.md, INV-FAULT): a supervisor read at
 * CPL 0 under SMAP with RFLAGS.AC=1 of a user page, which SMAP forbids if
 * the access is implicit (a descriptor table's) and AC allows if it is
 * explicit, told apart by the FAULT record's evidence (traces/FORMAT.md
 * 1.5).  Replay must judge the core's answer by that evidence: a #PF for
 * an implicit access is right, a fix (the A bit set, the shadows opened)
 * wrong; for an explicit access the reverse.  The traces are made here
 * (4-level tables in MEM records, CR4.SMAP, the fault); the core is the
 * one built with SVT_BROKEN, svt_broken 0 the real core, the seeded bugs
 * 78, 81 and 82 the wrong answers.
 */
#define _POSIX_C_SOURCE 200809L
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "emul.h"
#include "replay-mem.h"
#include "replay.h"
#include "trace-gen.h"
#include "trace.h"

#define OK(x) cr_assert_eq((x), SVT_TRACE_OK)

unsigned svt_broken;            /* the core's seeded bug (src/mmu_int.h); 0: none */

#define AC      0x40000ull      /* RFLAGS.AC */
#define SMAP    0x200000ull     /* CR4.SMAP */
#define GDT     0x7000ull       /* a supervisor page: the GDT where the test does not move it */

enum shape {
	DELIVERY_READ,          /* an IDT read during event delivery */
	MOV_SREG_REG,           /* MOV DS, AX: the GDT read (implicit only) */
	MOV_SREG_MEM,           /* MOV DS, [RDI]: the operand read (explicit) */
	NO_EVIDENCE,            /* an IDT read, nothing said about it */
	NO_EVIDENCE_AGAIN,      /* the same, the hardware faulting thrice in a row */
};

/* PML4 0x1000 -> PDPT 0x2000 -> PD 0x3000 -> PT 0x4000, all user and
 * writable, A clear; va 0 maps the user page 0x9000, va 0x7000 the
 * supervisor page 0xa000.  CR4.PAE and SMAP, 4-level paging, then one
 * supervisor read at va 0x10 (CPL 0, RFLAGS.AC = ac) in the given shape. */
static struct tg_buf make(enum shape sh, bool ac)
{
	struct tg_buf b = { 0 };
	struct svt_trace_error err;
	struct svt_trace_writer *w = tg_open_guest(&b, "implicit accesses", 1024, 46);
	cr_assert_not_null(w);
	OK(tg_put_mem64(w, 0x1000, 0x2000 | 7));
	OK(tg_put_mem64(w, 0x2000, 0x3000 | 7));
	OK(tg_put_mem64(w, 0x3000, 0x4000 | 7));
	OK(tg_put_mem64(w, 0x4000, 0x9000 | 7));               /* user */
	OK(tg_put_mem64(w, 0x4000 + 7 * 8, 0xa000 | 3));       /* supervisor */
	OK(tg_put_cr(w, SVT_TRACE_CR4, 0x20 | SMAP));
	OK(tg_put_cr(w, SVT_TRACE_EFER, 0x100));
	OK(tg_put_cr(w, SVT_TRACE_CR3, 0x1000));
	OK(tg_put_cr(w, SVT_TRACE_CR0, 0x80010011));
	struct svt_trace_event ev = { .type = SVT_TRACE_FAULT };
	struct svt_trace_fault *f = &ev.u.fault;
	f->va = 0x10;
	f->error_code = 0;              /* not present in the shadows yet */
	f->code_bits = 64;
	f->rflags = 2 | (ac ? AC : 0);
	if (sh != NO_EVIDENCE && sh != NO_EVIDENCE_AGAIN) {
		f->has_dt = true;
		f->dt.base[SVT_DT_GDT] = GDT;
		f->dt.limit[SVT_DT_GDT] = 0xfff;
		f->dt.usable[SVT_DT_GDT] = true;
		f->dt.base[SVT_DT_IDT] = 0;
		f->dt.limit[SVT_DT_IDT] = 0xfff;
		f->dt.usable[SVT_DT_IDT] = true;
	}
	switch (sh) {
	case DELIVERY_READ:
		f->in_delivery = true;
		break;
	case MOV_SREG_REG:
		/* the GDT in the user page: selector 0x10 */
		f->dt.base[SVT_DT_GDT] = 0;
		f->dt.base[SVT_DT_IDT] = GDT;
		f->has_regs = true;
		f->regs.gpr[SVT_EMU_RAX] = 0x10;
		f->regs.rflags = f->rflags;
		f->insn_len = 2;
		f->insn[0] = 0x8e;      /* MOV DS, AX */
		f->insn[1] = 0xd8;
		break;
	case MOV_SREG_MEM:
		/* the operand in the user page, the tables not given */
		f->has_dt = false;
		f->has_regs = true;
		f->regs.gpr[SVT_EMU_RDI] = 0x10;
		f->regs.rflags = f->rflags;
		f->insn_len = 2;
		f->insn[0] = 0x8e;      /* MOV DS, [RDI] */
		f->insn[1] = 0x1f;
		break;
	case NO_EVIDENCE:
	case NO_EVIDENCE_AGAIN:
		break;
	}
	OK(svt_trace_write(w, &ev));
	for (int k = 0; sh == NO_EVIDENCE_AGAIN && k < 2; k++) {
		f->error_code = SVT_PFEC_P;     /* the shadows map it now; SMAP refuses */
		OK(svt_trace_write(w, &ev));
	}
	cr_assert_eq(svt_trace_writer_close(w, &err), SVT_TRACE_OK, "%s", err.msg);
	return b;
}

/* Replay the trace (audit level faults) over the core with seeded bug
 * `bug` (0: the real core); the result, and the report in *out. */
static void replay(enum shape sh, bool ac, unsigned bug, struct svt_replay_result *res, char **out)
{
	struct tg_buf b = make(sh, ac);
	svt_broken = bug;
	*out = replay_mem(&b, SVT_AUDIT_FAULTS, res);
	svt_broken = 0;
	free(b.p);
}

static void expect_clean(enum shape sh, bool ac)
{
	struct svt_replay_result res;
	char *out = NULL;
	replay(sh, ac, 0, &res, &out);
	cr_assert_eq(res.status, SVT_RUN_CLEAN, "%s", out);
	cr_assert_eq(res.violations, 0, "%s", out);
	free(out);
}

/* The core with `bug` answers wrongly: replay reports INV-FAULT. */
static void expect_caught(enum shape sh, bool ac, unsigned bug, const char *what)
{
	struct svt_replay_result res;
	char *out = NULL;
	replay(sh, ac, bug, &res, &out);
	cr_assert_eq(res.status, SVT_RUN_VIOLATIONS, "%s", out);
	cr_assert_gt(res.violations, 0, "%s", out);
	cr_assert_not_null(strstr(out, "INV-FAULT"), "%s", out);
	cr_assert_not_null(strstr(out, what), "%s", out);
	free(out);
}

/* (i) The IDT in a user page, read during event delivery with AC=1: the
 * real core injects the #PF SMAP raises, which replay accepts (the
 * explicit reading alone called it "#PF injected where bare metal
 * translates the access"). */
Test(implicit, a_delivery_read_injected_is_right)
{
	expect_clean(DELIVERY_READ, true);
}

/* (ii) The same trace through a core that takes the read for explicit
 * (bug 81) and fixes it: the A bits it sets are ones bare metal does
 * not. */
Test(implicit, a_delivery_read_fixed_is_wrong)
{
	expect_caught(DELIVERY_READ, true, 81, "bare metal does not set");
}

/* A descriptor read of MOV DS, AX from a GDT in a user page, AC=1: the
 * #PF is right, a core that looks at no evidence (bug 78) is caught. */
Test(implicit, a_segment_load_injected_is_right)
{
	expect_clean(MOV_SREG_REG, true);
}

Test(implicit, a_segment_load_fixed_is_wrong)
{
	expect_caught(MOV_SREG_REG, true, 78, "bare metal does not set");
}

/* (iii) The reverse: MOV DS, [RDI] reading its operand from a user page
 * with AC=1 (the tables not given: the explicit range alone) is explicit: the real core fixes it,
 * clean; a core that takes it for implicit (bug 82) injects a #PF bare
 * metal does not raise. */
Test(implicit, an_explicit_operand_read_fixed_is_right)
{
	expect_clean(MOV_SREG_MEM, true);
}

Test(implicit, an_explicit_operand_read_injected_is_wrong)
{
	expect_caught(MOV_SREG_MEM, true, 82, "#PF injected where bare metal translates");
}

/* With AC=0 SMAP refuses both kinds: the #PF is right whatever the
 * evidence. */
Test(implicit, ac_0_faults_either_way)
{
	expect_clean(DELIVERY_READ, false);
	expect_clean(MOV_SREG_MEM, false);
	expect_clean(NO_EVIDENCE, false);
}

/* Without evidence replay takes the read for explicit, as the core does:
 * fixing it is clean. */
Test(implicit, no_evidence_is_explicit)
{
	expect_clean(NO_EVIDENCE, true);
}

/* ... and when the hardware faults on it again at once although the
 * shadows now allow the explicit access (a #PF drops stale translations):
 * the real core retries once, then injects the #PF SMAP raises, which
 * replay accepts (by the explicit reading alone it would be "#PF injected
 * where bare metal translates the access").  A core that retries for ever
 * (bug 62) is left to INV-PROGRESS. */
Test(implicit, no_evidence_repeated_is_implicit)
{
	expect_clean(NO_EVIDENCE_AGAIN, true);
}
