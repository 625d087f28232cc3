/*
 * synth-hw.c — the modelled VT-x machine under a synthetic guest: walks
 * the shadow tables, caches translations, and hands every #PF, control
 * register write and INVLPG to the core through the recorder (synth.h).
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "synth.h"
#include "rng.h"

uint64_t syn_rand(struct syn *s)
{
	return svt_splitmix64(&s->rng);
}

uint64_t syn_below(struct syn *s, uint64_t n)
{
	return n ? syn_rand(s) % n : 0;
}

bool syn_fail(struct syn *s, const char *fmt, ...)
{
	if (!s->failed) {
		va_list ap;
		int n = snprintf(s->err, s->errlen, "event %llu: ",
				 (unsigned long long)svt_trace_writer_seq(s->rec.w));
		va_start(ap, fmt);
		if (n >= 0 && (size_t)n < s->errlen)
			vsnprintf(s->err + n, s->errlen - (size_t)n, fmt, ap);
		va_end(ap);
		s->failed = true;
	}
	return false;
}

bool syn_done(const struct syn *s)
{
	return s->failed || s->rec.failed || svt_trace_writer_seq(s->rec.w) >= s->cfg->events;
}

static void tlb_flush(struct syn *s)
{
	for (unsigned i = 0; i < SYN_TLB; i++)
		s->tlb[i].valid = false;
}

/* Back to the guest after the core ran: the hardware takes the state the
 * core gives it.  Without VPID every VM exit and entry drops the TLB. */
void syn_vm_entry(struct syn *s)
{
	svt_mmu_hw_state(s->mmu, &s->hw);
	tlb_flush(s);
}

static struct svt_regs hw_regs(const struct syn *s)
{
	struct svt_regs r = {
		.cr0 = s->hw.cr0, .cr3 = s->hw.cr3, .cr4 = s->hw.cr4, .efer = s->hw.efer,
		.rflags = 0x2, .maxphyaddr = 46, .features = SVT_FEAT_1GPAGE,
	};
	return r;
}

/* Translate through the TLB and the shadow tables: 0 (machine address in
 * *mpa), 1 (#PF, *ec), 2 (#GP), -1 (failure). */
static int hw_xlate(struct syn *s, uint64_t va, enum svt_access_kind k, unsigned cpl,
		    uint64_t *mpa, uint32_t *ec)
{
	uint64_t la = s->hw.mode >= SVT_MODE_4LEVEL ? va : va & 0xffffffffull;
	struct syn_tlbe *t = &s->tlb[(la >> 12) % SYN_TLB];

	if (t->valid && t->vpn == la >> 12) {
		bool ok = (cpl < 3 || t->u) && (k != SVT_ACC_WRITE || (t->w && t->dirty)) &&
			  (k != SVT_ACC_FETCH || t->x);
		if (ok) {
			*mpa = (t->mfn << 12) | (la & 0xfff);
			return 0;
		}
		t->valid = false;       /* re-walk: the walk gives the exact error code */
	}
	struct svt_regs r = hw_regs(s);
	if (s->hw.mode == SVT_MODE_PAE && svt_pae_load_pdptes(&s->hwenv, &r) != 0)
		return syn_fail(s, "the shadow PDPTEs at %#llx do not load",
				(unsigned long long)s->hw.cr3), -1;
	struct svt_access acc = { .va = la, .kind = k, .cpl = (uint8_t)cpl };
	struct svt_walk w;
	switch (svt_walk(&s->hwenv, &r, &acc, SVT_WALK_SET_AD, &w)) {
	case SVT_WALK_OK:
		break;
	case SVT_WALK_PF:
		*ec = w.error_code;
		return 1;
	case SVT_WALK_GP:
		return 2;
	default:
		return syn_fail(s, "the hardware walk of %#llx left the shadow pool and guest RAM",
				(unsigned long long)va), -1;
	}
	if (w.page_size != 4096)
		return syn_fail(s, "shadow maps %#llx with a %llu-byte page", (unsigned long long)va,
				(unsigned long long)w.page_size), -1;
	if (svt_machine_m2g(&s->mach, w.gpa >> 12) == ~0ull)
		return syn_fail(s, "shadow maps %#llx to machine address %#llx, not guest RAM",
				(unsigned long long)va, (unsigned long long)w.gpa), -1;
	t->valid = true;
	t->vpn = la >> 12;
	t->mfn = w.gpa >> 12;
	t->w = (w.rights & SVT_RIGHT_W) != 0;
	t->u = (w.rights & SVT_RIGHT_U) != 0;
	t->x = (w.rights & SVT_RIGHT_X) != 0;
	t->dirty = k == SVT_ACC_WRITE || (w.lv[w.nlevels - 1].entry & SVT_PTE_D);
	*mpa = w.gpa;
	return 0;
}

static int code_bits(const struct syn *s)
{
	return (s->efer & SVT_EFER_LMA) ? 64 : 32;
}

int syn_access(struct syn *s, uint64_t va, enum svt_access_kind k, unsigned cpl,
	       unsigned size, uint64_t val, uint64_t rip, uint32_t *ec, uint64_t *cr2)
{
	s->emulated = false;
	s->accesses++;
	for (unsigned tries = 0; tries < 32; tries++) {
		uint64_t mpa;
		uint32_t e = 0;
		int r = hw_xlate(s, va, k, cpl, &mpa, &e);
		if (r < 0)
			return -1;
		if (r == 2)
			return syn_fail(s, "#GP on access to %#llx", (unsigned long long)va), -1;
		if (r == 0) {
			if (k == SVT_ACC_WRITE && svt_machine_write(&s->mach, mpa, &val, size) != 0)
				return syn_fail(s, "write of %u bytes at %#llx failed", size,
						(unsigned long long)va), -1;
			return 0;
		}
		/* #PF: a VM exit, and the core decides. */
		struct svt_fault f = {
			.va = va, .error_code = e, .cpl = (uint8_t)cpl, .rflags = 0x2,
			.code_bits = code_bits(s),
		};
		uint8_t insn[3];
		if (k == SVT_ACC_WRITE) {
			unsigned n = 0;
			if (size == 8)
				insn[n++] = 0x48;       /* REX.W */
			insn[n++] = 0x89;               /* MOV r/m, r */
			insn[n++] = 0x07;               /* [rDI], rAX */
			s->regs.gpr[0] = val;
			s->regs.gpr[7] = va;
			s->regs.rip = rip;
			s->regs.rflags = 0x2;
			f.regs = &s->regs;
			f.insn = insn;
			f.insn_len = n;
		}
		struct svt_fault_result res;
		enum svt_pf_outcome o = svt_recorder_fault(&s->rec.r, s->mmu, &f, &res);
		syn_vm_entry(s);
		switch (o) {
		case SVT_PF_FIXED:
		case SVT_PF_RETRY:
			continue;
		case SVT_PF_EMULATED:
			s->emulated = true;
			return 0;
		case SVT_PF_INJECT:
			*ec = res.error_code;
			*cr2 = res.cr2;
			return 1;
		default:
			return syn_fail(s, "the core calls %#llx device memory (gpa %#llx)",
					(unsigned long long)va, (unsigned long long)res.gpa), -1;
		}
	}
	return syn_fail(s, "livelock: access to %#llx (kind %d, cpl %u) faults forever",
			(unsigned long long)va, (int)k, cpl), -1;
}

int syn_cr(struct syn *s, enum svt_trace_cr reg, uint64_t val)
{
	int rc = svt_recorder_cr(&s->rec.r, s->mmu, reg, val);
	syn_vm_entry(s);
	if (rc != 0)
		return syn_fail(s, "the core refused CR%s write %#llx",
				reg == SVT_TRACE_CR0 ? "0" : reg == SVT_TRACE_CR3 ? "3" :
				reg == SVT_TRACE_CR4 ? "4" : " EFER", (unsigned long long)val), -1;
	const struct svt_regs *g = svt_mmu_guest_regs(s->mmu);
	s->cr0 = g->cr0;
	s->cr3 = g->cr3;
	s->cr4 = g->cr4;
	s->efer = g->efer;
	return 0;
}

void syn_invlpg(struct syn *s, uint64_t va)
{
	svt_recorder_invlpg(&s->rec.r, s->mmu, va);
	syn_vm_entry(s);
}
