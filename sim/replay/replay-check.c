/*
 * replay-check.c — the replay's independent checks: the reference walker
 * (sim/replay/refmodel.c) over the replayed guest memory, for INV-FAULT, and the
 * guest's own retried write, performed on bare-metal terms (replay_int.h).
 */
#include <string.h>

#include "refmodel.h"
#include "replay_int.h"

static bool ref_load(void *ctx, uint64_t pa, unsigned bytes, uint64_t *val)
{
	struct rp *p = ctx;
	*val = 0;
	svt_gmem_read(&p->mach.mem, pa, val, bytes);
	return true;
}

static struct rm_cpu ref_cpu(const struct rp *p, uint64_t rflags, uint32_t pkru)
{
	const struct svt_regs *g = svt_mmu_guest_regs(p->mmu);
	struct rm_cpu c = {
		.cr0 = g->cr0, .cr3 = g->cr3, .cr4 = g->cr4, .efer = g->efer, .rflags = rflags,
		.pkru = pkru, .maxphyaddr = p->h->maxphyaddr,
		.gbpages = (p->h->features & SVT_FEAT_1GPAGE) != 0,
	};
	memcpy(c.pdptr, g->pdpte, sizeof(c.pdptr));
	return c;
}

/* The access a recorded fault stands for (the error code says which). */
void rp_fault_access(const struct svt_trace_fault *f, struct svt_access *acc)
{
	bool user = (f->error_code & SVT_PFEC_U) != 0;
	acc->va = f->va;
	acc->kind = (f->error_code & SVT_PFEC_W) ? SVT_ACC_WRITE :
		    (f->error_code & SVT_PFEC_I) ? SVT_ACC_FETCH : SVT_ACC_READ;
	acc->cpl = user ? 3 : f->cpl;
	acc->implicit = !user && f->cpl == 3;
}

static void ref_walk(const struct rp *p, const struct svt_access *acc, uint64_t rflags,
		     uint32_t pkru, struct rm_out *o)
{
	struct rm_cpu c = ref_cpu(p, rflags, pkru);
	struct rm_req rq = {
		.la = acc->va, .cpl = acc->cpl, .implicit_sv = acc->implicit,
		.op = acc->kind == SVT_ACC_WRITE ? RM_OP_WRITE :
		      acc->kind == SVT_ACC_FETCH ? RM_OP_EXEC : RM_OP_READ,
	};
	rm_translate(&c, &rq, ref_load, (void *)p, o);
}

/* INV-FAULT for a #PF the core injected. */
void rp_check_inject(struct rp *p, const struct svt_trace_fault *f, const struct svt_fault_result *res)
{
	struct svt_access acc;
	struct rm_out o;

	rp_fault_access(f, &acc);
	ref_walk(p, &acc, f->rflags, f->pkru, &o);
	if (o.kind == RM_OK) {
		rp_violation(p, SVT_INV_FAULT, f->va, o.pa >> 12, 0, 0, 0,
			     "#PF injected where bare metal translates the access");
		return;
	}
	if (o.kind != RM_PF) {
		rp_violation(p, SVT_INV_FAULT, f->va, 0, 0, 0, 0,
			     "#PF injected where bare metal raises #GP or cannot walk");
		return;
	}
	if (o.pfec != res->error_code || o.cr2 != res->cr2) {
		snprintf(p->what, sizeof(p->what),
			 "#PF injected with error code %#x, CR2 %#llx; bare metal: %#x, %#llx",
			 res->error_code, (unsigned long long)res->cr2, o.pfec,
			 (unsigned long long)o.cr2);
		uint64_t ge = o.n ? o.e[o.n - 1].before : 0;
		rp_violation(p, SVT_INV_FAULT, f->va, 0, o.n ? (unsigned)o.e[o.n - 1].level : 0, ge, 0,
			     p->what);
	}
}

/* The hardware's walk of the replay's shadows: does the access go through? */
bool rp_shadow_allows(struct rp *p, const struct svt_access *acc, uint64_t rflags, uint32_t pkru,
		      uint64_t *mpa)
{
	struct svt_hw_state hw;
	svt_mmu_hw_state(p->mmu, &hw);
	struct svt_regs r = {
		.cr0 = hw.cr0, .cr3 = hw.cr3, .cr4 = hw.cr4, .efer = hw.efer, .rflags = rflags,
		.pkru = pkru, .maxphyaddr = 52, .features = SVT_FEAT_1GPAGE,
	};
	struct svt_access a = *acc;
	struct svt_walk w;
	if (hw.mode < SVT_MODE_4LEVEL)
		a.va &= 0xffffffffull;
	if (hw.mode == SVT_MODE_PAE && svt_pae_load_pdptes(&p->hwenv, &r) != 0)
		return false;
	if (svt_walk(&p->hwenv, &r, &a, 0, &w) != SVT_WALK_OK)
		return false;
	*mpa = w.gpa;
	return true;
}

/* After a fixed fault: where the shadows now let the access through, bare
 * metal must allow it too, through the same frame. */
void rp_check_fixed(struct rp *p, const struct svt_trace_fault *f)
{
	struct svt_access acc;
	uint64_t mpa;
	struct rm_out o;

	rp_fault_access(f, &acc);
	if (!rp_shadow_allows(p, &acc, f->rflags, f->pkru, &mpa))
		return;         /* the guest re-runs and faults again: not wrong by itself */
	ref_walk(p, &acc, f->rflags, f->pkru, &o);
	if (o.kind != RM_OK) {
		snprintf(p->what, sizeof(p->what),
			 "the shadows allow an access bare metal faults (#PF error code %#x)", o.pfec);
		rp_violation(p, SVT_INV_FAULT, f->va, 0, 0, 0, 0, p->what);
		return;
	}
	uint64_t gfn = svt_machine_m2g(&p->mach, mpa >> 12);
	if (gfn != o.pa >> 12)
		rp_violation(p, SVT_INV_FRAME, f->va, o.pa >> 12, 1, o.e[o.n - 1].before, 0,
			     "the shadows send the access to another frame than bare metal");
}

/*
 * INV-SYNC at a flush: after the guest's INVLPG of va (or INVPCID of va in
 * the current PCID) the architecture lets no TLB keep a stale translation
 * of va, out-of-sync pages or not.  Every access (read, write, fetch, at
 * CPL 0 and 3) the shadows let through must go through on bare metal too,
 * to the same frame: judged by the reference walker over the replayed
 * guest memory (which holds the guest's walk for va where the trace has
 * walk evidence), never by the core's propagation code.
 */
void rp_check_flushed(struct rp *p, uint64_t va, const char *flush)
{
	static const enum svt_access_kind kinds[3] = { SVT_ACC_READ, SVT_ACC_WRITE, SVT_ACC_FETCH };
	static const char *const kind_names[3] = { "read", "write", "fetch" };
	for (unsigned k = 0; k < 3; k++)
		for (uint8_t cpl = 0; cpl <= 3; cpl += 3) {
			struct svt_access acc = { .va = va, .kind = kinds[k], .cpl = cpl };
			uint64_t mpa;
			struct rm_out o;
			if (!rp_shadow_allows(p, &acc, 0, 0, &mpa))
				continue;
			ref_walk(p, &acc, 0, 0, &o);
			if (o.kind != RM_OK) {
				snprintf(p->what, sizeof(p->what), "after %s the shadows still allow a "
					 "CPL %u %s that the guest's tables forbid (#PF error code %#x)",
					 flush, cpl, kind_names[k], o.pfec);
				rp_violation(p, SVT_INV_SYNC, va, 0, o.n ? (unsigned)o.e[o.n - 1].level : 0,
					     o.n ? o.e[o.n - 1].before : 0, 0, p->what);
				return;
			}
			uint64_t gfn = svt_machine_m2g(&p->mach, mpa >> 12);
			if (gfn != o.pa >> 12) {
				snprintf(p->what, sizeof(p->what), "after %s the shadows send a CPL %u %s "
					 "to frame %#llx; the guest's tables to %#llx", flush, cpl,
					 kind_names[k], (unsigned long long)gfn,
					 (unsigned long long)(o.pa >> 12));
				rp_violation(p, SVT_INV_SYNC, va, o.pa >> 12, 1, o.e[o.n - 1].before, 0,
					     p->what);
				return;
			}
		}
}

/* ---- the guest's write, on bare-metal terms ------------------------------------ */

struct bare {
	struct rp *p;
	const struct svt_trace_fault *f;
	int rc;
};

static int bare_xlate(struct bare *b, uint64_t la, bool write, uint64_t *gpa)
{
	struct svt_access acc;
	struct rm_out o;

	rp_fault_access(b->f, &acc);
	acc.va = la;
	acc.kind = write ? SVT_ACC_WRITE : SVT_ACC_READ;
	ref_walk(b->p, &acc, b->f->rflags, b->f->pkru, &o);
	if (o.kind != RM_OK)
		return SVT_EMU_FAULT;
	/* the walk's A/D updates happen on bare metal too */
	for (unsigned i = 0; i < o.n; i++)
		if (!o.e[i].from_reg && o.e[i].after != o.e[i].before)
			rp_guest_write(b->p, o.e[i].pa, &o.e[i].after, o.e[i].bytes);
	*gpa = o.pa;
	return 0;
}

static int bare_read(void *ctx, uint64_t la, void *buf, unsigned len, unsigned flags)
{
	struct bare *b = ctx;
	uint8_t *out = buf;
	for (unsigned i = 0; i < len; i++) {
		uint64_t gpa;
		int rc = bare_xlate(b, la + i, (flags & SVT_EMU_RD_DEST) != 0, &gpa);
		if (rc)
			return rc;
		svt_gmem_read(&b->p->mach.mem, gpa, out + i, 1);
	}
	return 0;
}

static int bare_cmpxchg(void *ctx, uint64_t la, const void *expect, const void *val, unsigned len)
{
	struct bare *b = ctx;
	const uint8_t *v = val;
	(void)expect;   /* nothing runs between the read and the write */
	for (unsigned i = 0; i < len; i++) {
		uint64_t gpa;
		int rc = bare_xlate(b, la + i, true, &gpa);
		if (rc)
			return rc;
		rp_guest_write(b->p, gpa, v + i, 1);
	}
	return 0;
}

/* Perform the faulting write instruction as the guest's retry would;
 * true if it completed. */
bool rp_bare_write(struct rp *p, const struct svt_trace_fault *f)
{
	struct bare b = { .p = p, .f = f };
	struct svt_emu_mem mem = { .ctx = &b, .read = bare_read, .cmpxchg = bare_cmpxchg,
				   .misaligned_ok = true };
	struct svt_emu_regs regs = f->regs;
	struct svt_emu_result er;

	if (!f->has_regs || f->insn_len == 0)
		return false;
	return svt_emulate(&regs, f->code_bits, f->insn, f->insn_len, &mem, &er) == SVT_EMU_OK;
}
