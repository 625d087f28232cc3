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

/* The action limit (syn_config.actions) reached: the hardware does nothing more. */
static bool act_stop(const struct syn *s)
{
	return !s->in_clear && s->cfg->actions && s->actions >= s->cfg->actions;
}

bool syn_done(const struct syn *s)
{
	return s->failed || s->rec.failed || svt_trace_writer_seq(s->rec.w) >= s->cfg->events ||
	       act_stop(s);
}

/* Log an action done (SVT_EVIDENCE_ACTIONS) with its outcome r (1: the
 * #PF ec, cr2 delivered), RFLAGS and PKRU first if they changed: not the
 * stores inside syn_clear, which is one action. */
static void act_log(struct syn *s, struct svt_trace_guest *g, int r, uint32_t ec, uint64_t cr2)
{
	if (s->in_clear)
		return;
	if (r == 1) {
		g->flags |= SVT_GUEST_INJECTED;
		g->error_code = ec;
		g->cr2 = cr2;
	}
	if (s->rflags != s->act_rflags) {
		struct svt_trace_guest rf = { .kind = SVT_GUEST_RFLAGS, .val = { s->rflags, 0 } };
		svt_recorder_guest_action(&s->rec.r, &rf);
		s->act_rflags = s->rflags;
	}
	if (s->pkru != s->act_pkru) {
		struct svt_trace_guest pk = { .kind = SVT_GUEST_PKRU, .val = { s->pkru, 0 } };
		svt_recorder_guest_action(&s->rec.r, &pk);
		s->act_pkru = s->pkru;
	}
	svt_recorder_guest_action(&s->rec.r, g);
	s->actions++;
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
		.rflags = s->rflags, .pkru = s->pkru, .maxphyaddr = 46, .features = SVT_FEAT_1GPAGE,
	};
	return r;
}

/* A data access to a user page in the TLB that PKRU forbids (SDM Vol. 3A
 * 4.6.2): the TLB holds the key, the CPU checks PKRU at every access. */
static bool tlb_pk_denies(const struct syn *s, const struct syn_tlbe *t, enum svt_access_kind k,
			  unsigned cpl)
{
	if (s->hw.mode < SVT_MODE_4LEVEL || !(s->hw.cr4 & SVT_CR4_PKE) || !t->u ||
	    k == SVT_ACC_FETCH)
		return false;
	bool ad = (s->pkru >> (2 * t->pkey)) & 1, wd = (s->pkru >> (2 * t->pkey + 1)) & 1;
	return ad || (wd && k == SVT_ACC_WRITE && (cpl == 3 || (s->hw.cr0 & SVT_CR0_WP)));
}

/* Translate through the TLB and the shadow tables: 0 (machine address in
 * *mpa), 1 (#PF, *ec), 2 (#GP), -1 (failure).  implicit: an implicit
 * supervisor-mode access (a system data structure's, SDM Vol. 3A 4.6),
 * which the CPU knows it makes: always walked, SMAP refusing it a user
 * page whatever RFLAGS.AC says. */
static int hw_xlate_as(struct syn *s, uint64_t va, enum svt_access_kind k, unsigned cpl,
		       bool implicit, uint64_t *mpa, uint32_t *ec)
{
	uint64_t la = s->hw.mode >= SVT_MODE_4LEVEL ? va : va & 0xffffffffull;
	struct syn_tlbe *t = &s->tlb[(la >> 12) % SYN_TLB];

	if (t->valid && t->vpn == la >> 12 && !implicit) {
		/* a supervisor access to a user page under SMEP or SMAP: the
		 * walk decides (RFLAGS.AC, the kind of access) */
		bool smx = cpl < 3 && t->u && (s->hw.cr4 & (SVT_CR4_SMEP | SVT_CR4_SMAP));
		bool ok = !smx && (cpl < 3 || t->u) && (k != SVT_ACC_WRITE || (t->w && t->dirty)) &&
			  (k != SVT_ACC_FETCH || t->x) && !tlb_pk_denies(s, t, k, cpl);
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
	struct svt_access acc = { .va = la, .kind = k, .cpl = (uint8_t)cpl, .implicit = implicit };
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
		return syn_fail(s, "shadow maps %#llx with a %llu-byte page",
				(unsigned long long)va, (unsigned long long)w.page_size), -1;
	if (svt_machine_m2g(&s->mach, w.gpa >> 12) == ~0ull)
		return syn_fail(s, "shadow maps %#llx to machine address %#llx, not guest RAM",
				(unsigned long long)va, (unsigned long long)w.gpa), -1;
	t->valid = true;
	t->vpn = la >> 12;
	t->mfn = w.gpa >> 12;
	t->w = (w.rights & SVT_RIGHT_W) != 0;
	t->u = (w.rights & SVT_RIGHT_U) != 0;
	t->x = (w.rights & SVT_RIGHT_X) != 0;
	t->pkey = w.pkey;
	t->dirty = k == SVT_ACC_WRITE || (w.lv[w.nlevels - 1].entry & SVT_PTE_D);
	*mpa = w.gpa;
	return 0;
}

static int hw_xlate(struct syn *s, uint64_t va, enum svt_access_kind k, unsigned cpl,
		    uint64_t *mpa, uint32_t *ec)
{
	return hw_xlate_as(s, va, k, cpl, false, mpa, ec);
}

static int code_bits(const struct syn *s)
{
	return (s->efer & SVT_EFER_LMA) ? 64 : 32;
}

/* Encode the instruction of in (a memory operand [rDI]) and load the
 * registers it reads; returns its length. */
static unsigned encode(struct syn *s, const struct syn_insn *in, uint8_t *insn)
{
	bool rexw = in->size == 8 && code_bits(s) == 64;
	unsigned n = 0;

	memset(&s->regs.gpr, 0, sizeof(s->regs.gpr));
	switch (in->op) {
	case SYN_MOV:
	case SYN_XCHG:
		if (rexw)
			insn[n++] = 0x48;       /* REX.W */
		insn[n++] = in->op == SYN_MOV ? 0x89 : 0x87;    /* MOV/XCHG r/m, r */
		insn[n++] = 0x07;               /* [rDI], rAX */
		s->regs.gpr[0] = in->val[0];
		break;
	case SYN_CMPXCHG:
		insn[n++] = 0xf0;               /* LOCK */
		if (rexw)
			insn[n++] = 0x48;
		insn[n++] = 0x0f;
		insn[n++] = 0xb1;               /* CMPXCHG r/m, r */
		insn[n++] = 0x0f;               /* [rDI], rCX */
		s->regs.gpr[0] = in->cmp[0];
		s->regs.gpr[1] = in->val[0];
		break;
	case SYN_CMPXCHG8B:
	case SYN_CMPXCHG16B:
		insn[n++] = 0xf0;
		if (in->op == SYN_CMPXCHG16B)
			insn[n++] = 0x48;
		insn[n++] = 0x0f;
		insn[n++] = 0xc7;               /* group 9 */
		insn[n++] = 0x0f;               /* /1 [rDI] */
		if (in->op == SYN_CMPXCHG8B) {
			s->regs.gpr[0] = in->cmp[0] & 0xffffffffu;      /* EDX:EAX */
			s->regs.gpr[2] = in->cmp[0] >> 32;
			s->regs.gpr[3] = in->val[0] & 0xffffffffu;      /* ECX:EBX */
			s->regs.gpr[1] = in->val[0] >> 32;
		} else {
			s->regs.gpr[0] = in->cmp[0];                    /* RDX:RAX */
			s->regs.gpr[2] = in->cmp[1];
			s->regs.gpr[3] = in->val[0];                    /* RCX:RBX */
			s->regs.gpr[1] = in->val[1];
		}
		break;
	}
	s->regs.gpr[7] = in->va;
	s->regs.rip = in->rip;
	s->regs.rflags = s->rflags;
	return n;
}

static uint64_t size_mask(unsigned size)
{
	return size >= 8 ? ~0ull : (1ull << (8 * size)) - 1;
}

/* The results the CPU leaves after the core emulated the instruction. */
static void emulated_results(struct syn *s, struct syn_insn *in)
{
	const uint64_t *g = s->regs.gpr;
	switch (in->op) {
	case SYN_MOV:
		break;
	case SYN_XCHG:
		in->old[0] = g[0] & size_mask(in->size);
		break;
	case SYN_CMPXCHG:
	case SYN_CMPXCHG8B:
	case SYN_CMPXCHG16B:
		in->ok = (s->regs.rflags & SVT_EMU_ZF) != 0;
		if (in->op == SYN_CMPXCHG)
			in->old[0] = g[0] & size_mask(in->size);
		else if (in->op == SYN_CMPXCHG8B)
			in->old[0] = (g[0] & 0xffffffffu) | (g[2] << 32);
		else
			in->old[0] = g[0], in->old[1] = g[2];
		break;
	}
}

/* The instruction performed by the hardware itself (the shadows allow the
 * write): read the destination, compute, write.  size bytes at mpa[0]
 * (first bytes of the page), the rest at mpa[1]. */
static int native(struct syn *s, struct syn_insn *in, const uint64_t *mpa, unsigned first)
{
	uint8_t cur[16] = { 0 }, nv[16];
	unsigned size = in->size;

	if (svt_machine_read(&s->mach, mpa[0], cur, first) != 0 ||
	    (first < size && svt_machine_read(&s->mach, mpa[1], cur + first, size - first) != 0))
		return syn_fail(s, "read of %u bytes at %#llx failed", size,
				(unsigned long long)in->va), -1;
	uint64_t m[2] = { 0, 0 };
	memcpy(m, cur, size);
	memcpy(nv, in->val, size);
	if (in->op == SYN_XCHG) {
		in->old[0] = m[0];
	} else if (in->op != SYN_MOV) {
		in->ok = (m[0] & size_mask(size)) == (in->cmp[0] & size_mask(size)) &&
			 (size < 16 || m[1] == in->cmp[1]);
		if (!in->ok) {
			in->old[0] = m[0], in->old[1] = m[1];
			/* a locked compare failure writes back what it read */
			memcpy(nv, cur, size);
		}
	}
	if (svt_machine_write(&s->mach, mpa[0], nv, first) != 0 ||
	    (first < size && svt_machine_write(&s->mach, mpa[1], nv + first, size - first) != 0))
		return syn_fail(s, "write of %u bytes at %#llx failed", size,
				(unsigned long long)in->va), -1;
	syn_stored(s, (svt_machine_m2g(&s->mach, mpa[0] >> 12) << 12) | (mpa[0] & 0xfff), first);
	if (first < size)
		syn_stored(s, (svt_machine_m2g(&s->mach, mpa[1] >> 12) << 12) | (mpa[1] & 0xfff),
			   size - first);
	return 0;
}

static int insn_do(struct syn *s, struct syn_insn *in, uint32_t *ec, uint64_t *cr2)
{
	s->emulated = false;
	s->accesses++;
	in->ok = false;
	in->old[0] = in->old[1] = 0;
	unsigned first = (unsigned)(4096 - (in->va & 0xfff));
	if (first > in->size)
		first = in->size;
	for (unsigned tries = 0; tries < 32; tries++) {
		uint64_t mpa[2] = { 0, 0 }, fva = in->va;
		uint32_t e = 0;
		/* every page the write touches is translated before anything is written */
		int r = hw_xlate(s, in->va, SVT_ACC_WRITE, in->cpl, &mpa[0], &e);
		if (r == 0 && first < in->size) {
			fva = in->va + first;
			r = hw_xlate(s, fva, SVT_ACC_WRITE, in->cpl, &mpa[1], &e);
		}
		if (r < 0)
			return -1;
		if (r == 2)
			return syn_fail(s, "#GP on access to %#llx", (unsigned long long)fva), -1;
		if (r == 0)
			return native(s, in, mpa, first);
		/* #PF: a VM exit, and the core decides. */
		uint8_t insn[8];
		unsigned n = encode(s, in, insn);
		struct svt_fault f = {
			.va = fva, .error_code = e, .cpl = (uint8_t)in->cpl, .rflags = s->rflags,
			.pkru = s->pkru, .code_bits = code_bits(s), .regs = &s->regs, .insn = insn,
			.insn_len = n,
		};
		struct svt_fault_result res;
		enum svt_pf_outcome o = svt_recorder_fault(&s->rec.r, s->mmu, &f, &res);
		syn_vm_entry(s);
		if (res.step)   /* (only for a write without an instruction: synth has none) */
			return syn_fail(s,
					"the core granted the access at %#llx one step, "
					"which synth does not run", (unsigned long long)f.va), -1;
		switch (o) {
		case SVT_PF_FIXED:
		case SVT_PF_RETRY:
			continue;
		case SVT_PF_EMULATED:
			s->emulated = true;
			/* the CPU goes on at the RIP the core gives it */
			if (s->regs.rip != in->rip + n)
				return syn_fail(s,
						"the core emulated the %u-byte write at %#llx "
						"and resumed the guest at %#llx, not after it "
						"(%#llx)", n, (unsigned long long)in->rip,
						(unsigned long long)s->regs.rip,
						(unsigned long long)(in->rip + n)), -1;
			emulated_results(s, in);
			return 0;
		case SVT_PF_INJECT:
			*ec = res.error_code;
			*cr2 = res.cr2;
			return 1;
		case SVT_PF_MMIO:
			/* nothing behind it: the write is dropped, as on bare
			 * metal (only a plain MOV: an exchange would need the
			 * old value, all ones, which no caller asks of it) */
			if (in->op != SYN_MOV)
				return syn_fail(s, "an exchange at %#llx where nothing is",
						(unsigned long long)fva), -1;
			s->regs.rip = in->rip + n;
			return 0;
		default:
			return syn_fail(s, "the core answered %d for a write of %#llx", (int)o,
					(unsigned long long)fva), -1;
		}
	}
	return syn_fail(s, "livelock: write to %#llx (cpl %u) faults forever",
			(unsigned long long)in->va, in->cpl), -1;
}

int syn_insn(struct syn *s, struct syn_insn *in, uint32_t *ec, uint64_t *cr2)
{
	if (act_stop(s)) {
		in->ok = false;
		in->old[0] = in->old[1] = 0;
		s->emulated = false;
		return 0;
	}
	int r = insn_do(s, in, ec, cr2);
	if (r < 0)
		return r;
	static const uint8_t ops[] = {
		[SYN_MOV] = SVT_GUEST_MOV, [SYN_XCHG] = SVT_GUEST_XCHG,
		[SYN_CMPXCHG] = SVT_GUEST_CMPXCHG, [SYN_CMPXCHG8B] = SVT_GUEST_CMPXCHG8B,
		[SYN_CMPXCHG16B] = SVT_GUEST_CMPXCHG16B,
	};
	bool cmp = in->op == SYN_CMPXCHG || in->op == SYN_CMPXCHG8B || in->op == SYN_CMPXCHG16B;
	struct svt_trace_guest g = {
		.kind = SVT_GUEST_WRITE, .op = ops[in->op], .size = (uint8_t)in->size,
		.cpl = (uint8_t)in->cpl, .va = in->va, .rip = in->rip,
		.val = { in->val[0], in->size == 16 ? in->val[1] : 0 },
		.cmp = { cmp ? in->cmp[0] : 0, cmp && in->size == 16 ? in->cmp[1] : 0 },
	};
	if (cmp && in->ok)
		g.flags |= SVT_GUEST_OK;
	act_log(s, &g, r, r == 1 ? *ec : 0, r == 1 ? *cr2 : 0);
	return r;
}

static int access_do(struct syn *s, uint64_t va, enum svt_access_kind k, unsigned cpl,
		     uint32_t *ec, uint64_t *cr2)
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
		if (r == 0)
			return 0;
		/* #PF: a VM exit, and the core decides. */
		struct svt_fault f = {
			.va = va, .error_code = e, .cpl = (uint8_t)cpl, .rflags = s->rflags,
			.pkru = s->pkru, .code_bits = code_bits(s),
		};
		struct svt_fault_result res;
		enum svt_pf_outcome o = svt_recorder_fault(&s->rec.r, s->mmu, &f, &res);
		syn_vm_entry(s);
		if (res.step)   /* (only for a write without an instruction: synth has none) */
			return syn_fail(s,
					"the core granted the access at %#llx one step, "
					"which synth does not run", (unsigned long long)f.va), -1;
		switch (o) {
		case SVT_PF_FIXED:
		case SVT_PF_RETRY:
			continue;
		case SVT_PF_EMULATED:
			return syn_fail(s, "the core emulated a %s of %#llx",
					k == SVT_ACC_FETCH ? "fetch" : "read",
					(unsigned long long)va), -1;
		case SVT_PF_INJECT:
			*ec = res.error_code;
			*cr2 = res.cr2;
			return 1;
		case SVT_PF_MMIO:
			/* nothing behind it: the read gives all ones, as on bare metal */
			return 0;
		default:
			return syn_fail(s, "the core answered %d for an access to %#llx", (int)o,
					(unsigned long long)va), -1;
		}
	}
	return syn_fail(s, "livelock: access to %#llx (kind %d, cpl %u) faults forever",
			(unsigned long long)va, (int)k, cpl), -1;
}

/* syn_read_as and syn_write_as: the access k, faults handed to the core
 * until it goes through (the machine address in *mpa) or is injected. */
static int sv_do(struct syn *s, const struct syn_read *a, enum svt_access_kind k, uint64_t *mpa,
		 uint32_t *ec, uint64_t *cr2)
{
	struct svt_emu_regs regs;
	bool give_regs = false;
	const char *kn = k == SVT_ACC_WRITE ? "write" : "read";
	s->emulated = false;
	s->accesses++;
	for (unsigned tries = 0; tries < 32; tries++) {
		uint32_t e = 0;
		int r = hw_xlate_as(s, a->va, k, a->cpl, a->implicit, mpa, &e);
		if (r < 0)
			return -1;
		if (r == 2)
			return syn_fail(s, "#GP on a %s of %#llx", kn,
					(unsigned long long)a->va), -1;
		if (r == 0)
			return 0;
		/* #PF: a VM exit, with what the exit tells (svt.h, struct
		 * svt_fault): the IDT-vectoring information, the tables, the
		 * instruction and its registers where there is one */
		struct svt_fault f = {
			.va = a->va, .error_code = e, .cpl = (uint8_t)a->cpl, .rflags = s->rflags,
			.pkru = s->pkru, .code_bits = code_bits(s), .in_delivery = a->in_delivery,
			.dt = a->dt,
		};
		if (a->insn_len || give_regs) {
			regs = a->regs;
			regs.rflags = s->rflags;
			f.regs = &regs;
		}
		if (a->insn_len) {
			f.insn = a->insn;
			f.insn_len = a->insn_len;
		}
		struct svt_fault_result res;
		enum svt_pf_outcome o = svt_recorder_fault(&s->rec.r, s->mmu, &f, &res);
		syn_vm_entry(s);
		/* asked for: the registers (and no instruction, for a write
		 * the CPU makes itself) with the same fault, as vmx/ gives them */
		give_regs = give_regs || res.wants_regs;
		switch (o) {
		case SVT_PF_FIXED:
		case SVT_PF_RETRY:
			continue;
		case SVT_PF_INJECT:
			*ec = res.error_code;
			*cr2 = res.cr2;
			return 1;
		default:
			return syn_fail(s, "the core answered %s for a %s of %#llx",
					svt_trace_outcome_name(o), kn,
					(unsigned long long)a->va), -1;
		}
	}
	return syn_fail(s, "livelock: a%s %s of %#llx at CPL %u faults forever",
			a->implicit ? "n implicit" : "", kn, (unsigned long long)a->va, a->cpl), -1;
}

int syn_read_as(struct syn *s, const struct syn_read *a, uint32_t *ec, uint64_t *cr2)
{
	uint64_t mpa;
	return sv_do(s, a, SVT_ACC_READ, &mpa, ec, cr2);
}

int syn_write_as(struct syn *s, const struct syn_read *a, unsigned size, uint64_t val,
		 uint32_t *ec, uint64_t *cr2)
{
	uint64_t mpa;
	uint8_t b[8];
	if (size > 8 || ((a->va & 0xfff) + size) > 4096)
		return syn_fail(s, "a %u-byte write at %#llx", size, (unsigned long long)a->va), -1;
	int r = sv_do(s, a, SVT_ACC_WRITE, &mpa, ec, cr2);
	if (r != 0)
		return r;
	/* the CPU's own store: no instruction, nothing the core emulates */
	for (unsigned i = 0; i < size; i++)
		b[i] = (uint8_t)(val >> (8 * i));
	if (svt_machine_write(&s->mach, mpa, b, size) != 0)
		return syn_fail(s, "write of %u bytes at %#llx failed", size,
				(unsigned long long)a->va), -1;
	syn_stored(s, (svt_machine_m2g(&s->mach, mpa >> 12) << 12) | (mpa & 0xfff), size);
	return 0;
}

int syn_access(struct syn *s, uint64_t va, enum svt_access_kind k, unsigned cpl,
	       unsigned size, uint64_t val, uint64_t rip, uint32_t *ec, uint64_t *cr2)
{
	if (k == SVT_ACC_WRITE) {
		struct syn_insn in = { .op = SYN_MOV, .va = va, .size = size,
				       .cpl = cpl, .rip = rip, .val = { val, 0 } };
		return syn_insn(s, &in, ec, cr2);
	}
	if (act_stop(s)) {
		s->emulated = false;
		return 0;
	}
	int r = access_do(s, va, k, cpl, ec, cr2);
	if (r < 0)
		return r;
	struct svt_trace_guest g = {
		.kind = k == SVT_ACC_FETCH ? SVT_GUEST_FETCH : SVT_GUEST_READ, .cpl = (uint8_t)cpl,
		.va = va,
	};
	act_log(s, &g, r, r == 1 ? *ec : 0, r == 1 ? *cr2 : 0);
	return r;
}

bool syn_clear(struct syn *s, uint64_t gpa, uint64_t kva, uint64_t rip, bool pt)
{
	if (act_stop(s))
		return true;
	uint64_t gfn = gpa >> 12;
	if (pt && gfn < s->cfg->guest_frames)
		s->ptever[gfn] = 1;
	s->in_clear = true;
	bool ok = false;
	uint32_t ec;
	uint64_t cr2;
	int r = syn_access(s, kva, SVT_ACC_WRITE, 0, 4, 0, rip, &ec, &cr2);
	if (r == 0 && !s->emulated) {
		/* the rest of the stores find the translation in the TLB */
		uint8_t *p = svt_gmem_page(&s->mach.mem, gfn, true);
		if (p) {
			memset(p, 0, 4096);
			syn_stored(s, gpa, 4096);
			ok = true;
		} else {
			syn_fail(s, "out of host memory");
		}
	} else if (r == 0) {
		ok = true;
		for (unsigned off = 4; off < 4096 && ok; off += 4) {
			uint32_t cur;
			svt_gmem_read(&s->mach.mem, gpa + off, &cur, 4);
			if (cur != 0)
				r = syn_access(s, kva + off, SVT_ACC_WRITE, 0, 4, 0,
					       rip, &ec, &cr2);
			ok = r == 0;
		}
	}
	if (r == 1)
		syn_fail(s, "the kernel's write to %#llx took #PF %#x at %#llx",
			 (unsigned long long)kva, ec, (unsigned long long)cr2);
	s->in_clear = false;
	if (ok) {
		struct svt_trace_guest g = {
			.kind = SVT_GUEST_CLEAR, .flags = pt ? SVT_GUEST_PT : 0,
			.va = kva, .rip = rip, .val = { gpa, 0 },
		};
		act_log(s, &g, 0, 0, 0);
	}
	return ok;
}

void syn_stored(struct syn *s, uint64_t gpa, unsigned len)
{
	uint64_t gfn = gpa >> 12;
	if (gfn < s->cfg->guest_frames && s->ptever[gfn])
		svt_recorder_guest_store(&s->rec.r, gpa, len);
}

/* The synthetic kernel's code is 64-bit wherever IA-32e mode is active,
 * but where it runs a compatibility-mode segment on purpose: the mode of
 * its CR writes (EVIDENCE `mode`). */
static bool code64(const struct syn *s)
{
	return s->ia32e && (s->efer & SVT_EFER_LMA) && !s->compat;
}

int syn_cr(struct syn *s, enum svt_trace_cr reg, uint64_t val)
{
	if (act_stop(s))
		return 0;
	s->actions++;
	int rc = svt_recorder_cr_mode(&s->rec.r, s->mmu, reg, val, code64(s));
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

bool syn_cr_probe(struct syn *s, enum svt_trace_cr reg, uint64_t val, const char *what)
{
	if (act_stop(s))
		return true;
	s->actions++;
	int rc = svt_recorder_cr_mode(&s->rec.r, s->mmu, reg, val, code64(s));
	syn_vm_entry(s);
	if (rc == 0)
		return syn_fail(s, "the core accepted CR%s write %#llx (%s); bare metal raises #GP",
				reg == SVT_TRACE_CR0 ? "0" : reg == SVT_TRACE_CR3 ? "3" :
				reg == SVT_TRACE_CR4 ? "4" : " EFER",
				(unsigned long long)val, what);
	return true;
}

void syn_invlpg(struct syn *s, uint64_t va)
{
	if (act_stop(s))
		return;
	s->actions++;
	svt_recorder_invlpg(&s->rec.r, s->mmu, va);
	syn_vm_entry(s);
}

void syn_invpcid(struct syn *s, unsigned type, uint64_t pcid, uint64_t va)
{
	if (act_stop(s))
		return;
	s->actions++;
	if (svt_recorder_invpcid(&s->rec.r, s->mmu, type, pcid, va) != 0)
		syn_fail(s, "the core refused INVPCID type %u pcid %#llx va %#llx", type,
			 (unsigned long long)pcid, (unsigned long long)va);
	syn_vm_entry(s);
}
