/*
 * rec-adapt.c — between events (trace_event.h) and the core's own types:
 * a FAULT event as a struct svt_fault for replay, the FAULT and DECISION
 * events a recorder writes around a call of the core, and a CR_WRITE
 * handed to the core.
 */
#include "common_deps.h"
#include "trace_event.h"

void svt_trace_fault_to_core(const struct svt_trace_fault *tf, struct svt_emu_regs *regs,
			     struct svt_fault *f)
{
	memset(f, 0, sizeof(*f));
	f->va = tf->va;
	f->error_code = tf->error_code;
	f->cpl = tf->cpl;
	f->rflags = tf->rflags;
	f->pkru = tf->pkru;
	f->code_bits = tf->code_bits;
	if (tf->has_regs)
		*regs = tf->regs;
	f->regs = tf->has_regs ? regs : NULL;
	f->insn = tf->insn;
	f->insn_len = tf->insn_len;
	f->in_delivery = tf->in_delivery;
	f->dt = tf->has_dt ? &tf->dt : NULL;
}

void svt_trace_event_fault(const struct svt_fault *f, struct svt_trace_event *ev)
{
	/* Field by field, not the whole event cleared first: the
	 * hypervisor's recorder calls this on every fault. */
	struct svt_trace_fault *t = &ev->u.fault;

	svt_trace_event_fault_head(f, ev);
	/* What is absent is cleared by stores of constant size the compiler
	 * makes in line (most faults have no instruction, no registers and
	 * no tables): no call for each. */
	if (f->insn && f->insn_len > 0 && f->insn_len <= SVT_TRACE_MAX_INSN) {
		t->insn_len = (uint8_t)f->insn_len;
		memcpy(t->insn, f->insn, f->insn_len);
		memset(t->insn + t->insn_len, 0, SVT_TRACE_MAX_INSN - t->insn_len);
	} else {
		t->insn_len = 0;
		__builtin_memset(t->insn, 0, sizeof(t->insn));
	}
	t->has_regs = f->regs != NULL;
	if (f->regs)
		t->regs = *f->regs;
	else
		__builtin_memset(&t->regs, 0, sizeof(t->regs));
	t->in_delivery = f->in_delivery;
	t->has_dt = f->dt != NULL;
	if (f->dt)
		t->dt = *f->dt;
	else
		__builtin_memset(&t->dt, 0, sizeof(t->dt));
}

void svt_trace_event_decision(const struct svt_fault *f, enum svt_pf_outcome o,
			      const struct svt_fault_result *res, struct svt_trace_event *ev)
{
	struct svt_trace_decision *d = &ev->u.decision;

	svt_trace_event_decision_head(o, res, ev);
	d->has_regs = o == SVT_PF_EMULATED && f->regs;
	if (d->has_regs)
		d->regs = *f->regs;
	else
		__builtin_memset(&d->regs, 0, sizeof(d->regs));     /* in line, as above */
}

int svt_trace_cr_apply(struct svt_mmu *m, unsigned reg, uint64_t val, bool code64)
{
	switch (reg) {
	case SVT_TRACE_CR0: return svt_mmu_write_cr0_mode(m, val, code64);
	case SVT_TRACE_CR3: return svt_mmu_write_cr3(m, val);
	case SVT_TRACE_CR4: return svt_mmu_write_cr4(m, val);
	default: return svt_mmu_write_efer(m, val);
	}
}

