/*
 * replay-check.c — the replay's independent checks: the reference walker
 * (sim/replay/refmodel.c) over the replayed guest memory, for INV-FAULT,
 * INV-SYNC at flushes and the neighbours a fixed fault prefetched; the
 * control-register model (sim/replay/crmodel.c) for INV-CR; and the
 * guest's own retried write, performed on bare-metal terms (replay_int.h).
 */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "names.h"
#include "refmodel.h"
#include "replay_int.h"

/* svt_gmem_page(g, gfn, false), inline: the page of RAM frame gfn if it
 * was ever written, else NULL. */
static inline const uint8_t *gmem_have(const struct svt_gmem *g, uint64_t gfn)
{
	if (gfn >= g->frames)
		return NULL;
	uint8_t **c = g->chunk[gfn >> SVT_GMEM_CHUNK_BITS];
	return c ? c[gfn & ((1ull << SVT_GMEM_CHUNK_BITS) - 1)] : NULL;
}

static bool ref_load(void *ctx, uint64_t pa, unsigned bytes, uint64_t *val)
{
	struct rp *p = ctx;
	*val = 0;
	if (!p->mach.mem.hook && (pa & 0xfff) + bytes <= 4096 && bytes <= 8) {
		/* an entry within one page, nobody watching: as svt_gmem_read
		 * reads it (a page never written, or not RAM, reads zero) */
		const uint8_t *pg = gmem_have(&p->mach.mem, pa >> 12);
		if (pg && bytes == 8)
			memcpy(val, pg + (pa & 0xfff), 8);
		else if (pg)
			memcpy(val, pg + (pa & 0xfff), bytes);
		return true;
	}
	svt_gmem_read(&p->mach.mem, pa, val, bytes);
	return true;
}

/* The guest's registers as the reference walker takes them (filled field
 * by field: a struct built and copied whole costs more than the walk's
 * first level). */
static void ref_cpu(const struct rp *p, uint64_t rflags, uint32_t pkru, struct rm_cpu *c)
{
	const struct svt_regs *g = svt_mmu_guest_regs(p->mmu);
	c->cr0 = g->cr0;
	c->cr3 = g->cr3;
	c->cr4 = g->cr4;
	c->efer = g->efer;
	c->rflags = rflags;
	c->pkru = pkru;
	c->maxphyaddr = p->h->maxphyaddr;
	c->gbpages = (p->h->features & SVT_FEAT_1GPAGE) != 0;
	for (unsigned i = 0; i < 4; i++)
		c->pdptr[i] = g->pdpte[i];
}

/* The access a recorded fault stands for (the error code says which; a
 * supervisor data access is implicit or explicit by implicit.c's rule). */
bool rp_fault_access(const struct svt_trace_fault *f, struct svt_access *acc)
{
	bool user = (f->error_code & SVT_PFEC_U) != 0;
	acc->va = f->va;
	acc->kind = (f->error_code & SVT_PFEC_W) ? SVT_ACC_WRITE :
		    (f->error_code & SVT_PFEC_I) ? SVT_ACC_FETCH : SVT_ACC_READ;
	acc->cpl = user ? 3 : f->cpl;
	/* a supervisor access at CPL 3 is an implicit one (U/S = 0 in the
	 * error code says the CPU made it as a supervisor access) */
	acc->implicit = !user && f->cpl == 3;
	if (user || acc->kind == SVT_ACC_FETCH)
		return false;
	switch (rp_sv_kind(f, acc->kind == SVT_ACC_WRITE)) {
	case RP_SV_IMPLICIT:
		acc->implicit = true;
		return false;
	case RP_SV_EITHER:
		/* the permissive reading: explicit, at a CPL below 3 (an
		 * event delivery's push for the handler) */
		acc->implicit = false;
		acc->cpl = f->cpl == 3 ? 0 : f->cpl;
		return true;
	case RP_SV_EXPLICIT:
		if (f->in_delivery) {
			/* a push onto the handler's stack: the handler's CPL */
			acc->implicit = false;
			acc->cpl = f->cpl == 3 ? 0 : f->cpl;
		}
		return false;
	}
	return false;
}

void rp_implicit_reading(struct svt_access *acc)
{
	acc->implicit = true;
}

static void ref_walk(const struct rp *p, const struct svt_access *acc, uint64_t rflags,
		     uint32_t pkru, struct rm_out *o)
{
	struct rm_cpu c;
	ref_cpu(p, rflags, pkru, &c);
	struct rm_req rq = {
		.la = acc->va, .cpl = acc->cpl, .implicit_sv = acc->implicit,
		.op = acc->kind == SVT_ACC_WRITE ? RM_OP_WRITE :
		      acc->kind == SVT_ACC_FETCH ? RM_OP_EXEC : RM_OP_READ,
	};
	rm_translate(&c, &rq, ref_load, (void *)p, o);
}

/* INV-FAULT for a #PF the core injected. */
void rp_check_inject(struct rp *p, const struct svt_trace_fault *f,
		     const struct svt_fault_result *res)
{
	struct svt_access acc;
	struct rm_out o;

	bool either = rp_fault_access(f, &acc) || p->hw_refused;
	ref_walk(p, &acc, f->rflags, f->pkru, &o);
	if (either && (o.kind != RM_PF || o.pfec != res->error_code || o.cr2 != res->cr2)) {
		/* the evidence leaves it open, or the hardware faulted on an
		 * access the shadows allow explicitly: the implicit reading
		 * may be the one the #PF is right for */
		struct svt_access ia = acc;
		struct rm_out io;
		rp_implicit_reading(&ia);
		ref_walk(p, &ia, f->rflags, f->pkru, &io);
		if (io.kind == RM_PF && io.pfec == res->error_code && io.cr2 == res->cr2)
			return;
	}
	/* An emulated write that crosses into the next page: its first page
	 * faulted in the shadows (a page table), the #PF is the second
	 * page's, CR2 its first byte; bare metal is asked there. */
	if (o.kind == RM_OK && acc.kind == SVT_ACC_WRITE && f->has_regs && f->insn_len &&
	    res->cr2 == (f->va | 0xfff) + 1) {
		acc.va = res->cr2;
		ref_walk(p, &acc, f->rflags, f->pkru, &o);
	}
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
		rp_violation(p, SVT_INV_FAULT, f->va, 0,
			     o.n ? (unsigned)o.e[o.n - 1].level : 0, ge, 0, p->what);
	}
}

/*
 * The guest's A and D bits at a fault (INV-FAULT): before the core runs,
 * the reference walk of the fault's access over guest memory as it is
 * (what bare metal would set: rm_ent.after); after it, every entry on
 * that walk the core did not otherwise rewrite must hold no A or D bit
 * bare metal would not set (a read never sets D; D is set in leaves
 * only; a walk that faults sets nothing), and once the shadows let the
 * access through, every one it would.  An emulated write's own target
 * is not judged (the write may be to the entry itself).
 */
void rp_ad_before(struct rp *p, const struct svt_trace_fault *f)
{
	struct svt_access acc;
	rp_fault_access(f, &acc);
	ref_walk(p, &acc, f->rflags, f->pkru, &p->ad_ref);
	ref_cpu(p, f->rflags, f->pkru, &p->ad_cpu);
	p->fx_known = false;
}

/* Would the reference walk of the fault's access give p->ad_ref again
 * now?  It is a function of the registers and of the entries it reads,
 * each read where the one above it points: so where the registers and
 * every entry it read are as then, it reads and gives the same. */
static bool ad_ref_holds(struct rp *p, const struct svt_trace_fault *f)
{
	const struct rm_out *r = &p->ad_ref;
	const struct rm_cpu *a = &p->ad_cpu;
	struct rm_cpu c;
	ref_cpu(p, f->rflags, f->pkru, &c);
	if (c.cr0 != a->cr0 || c.cr3 != a->cr3 || c.cr4 != a->cr4 || c.efer != a->efer ||
	    c.rflags != a->rflags || c.pkru != a->pkru || c.maxphyaddr != a->maxphyaddr ||
	    c.gbpages != a->gbpages || memcmp(c.pdptr, a->pdptr, sizeof(c.pdptr)) != 0)
		return false;
	for (unsigned i = 0; i < r->n; i++) {
		uint64_t now;
		if (r->e[i].from_reg)
			continue;
		ref_load(p, r->e[i].pa, r->e[i].bytes, &now);
		if (now != r->e[i].before)
			return false;
	}
	return true;
}

void rp_check_ad(struct rp *p, const struct svt_trace_fault *f, enum svt_pf_outcome o)
{
	const struct rm_out *r = &p->ad_ref;
	const uint64_t AD = RM_E_A | RM_E_D;
	bool through = false;

	if (o == SVT_PF_FIXED && p->fx_known) {
		through = r->kind == RM_OK && p->fx_through;   /* rp_check_fixed's walk */
	} else if (o == SVT_PF_FIXED) {
		struct svt_access acc;
		uint64_t mpa;
		rp_fault_access(f, &acc);
		through = r->kind == RM_OK && rp_shadow_allows(p, &acc, f->rflags, f->pkru, &mpa);
	}
	for (unsigned i = 0; i < r->n; i++) {
		const struct rm_ent *e = &r->e[i];
		uint64_t now = 0;
		if (e->from_reg)
			continue;
		if (o == SVT_PF_EMULATED && r->kind == RM_OK && e->pa < (r->pa & ~7ull) + 16 &&
		    e->pa + e->bytes > (r->pa & ~7ull))
			continue;
		ref_load(p, e->pa, e->bytes, &now);
		if ((now & ~AD) != (e->before & ~AD))
			continue;       /* rewritten: a page-table write, not an A/D update */
		/* one word may be an entry at several levels of the walk (a table
		 * that maps itself): bare metal's updates of each level add up */
		uint64_t allowed = 0, want = 0;
		for (unsigned j = 0; j < r->n; j++) {
			const struct rm_ent *x = &r->e[j];
			if (x->from_reg || x->pa != e->pa)
				continue;
			allowed |= (r->kind == RM_OK ? x->after : x->before) | x->before;
			want |= x->after;
		}
		uint64_t extra = now & AD & ~allowed, missing = through ? want & AD & ~now : 0;
		if (!extra && !missing)
			continue;
		snprintf(p->what, sizeof(p->what),
			 "after the core handled the fault (%s) the guest's level-%d entry, "
			 "%#" PRIx64 " before, is %#" PRIx64 ": it %s %s, which bare metal %s for "
			 "this access", svt_trace_outcome_name(o), e->level, e->before, now,
			 extra ? "has" : "lacks",
			 ((extra | missing) & RM_E_D) ?
			 ((extra | missing) & RM_E_A ? "A and D" : "D") : "A",
			 extra ? "does not set" : "sets");
		rp_violation(p, SVT_INV_FAULT, f->va, 0, (unsigned)e->level, e->before, 0, p->what);
		return;
	}
}

/* The hardware's read of machine memory, as svt_machine_hw_env's: an
 * 8-byte entry of a pool frame (what a walk of the shadows mostly reads)
 * copied in place, anything else by svt_machine_read. */
int rp_hw_read(void *ctx, uint64_t pa, void *buf, size_t len)
{
	struct svt_machine *m = ctx;
	uint64_t mfn = pa >> 12;
	if (len == 8 && (pa & 0xfff) <= 4096 - 8 && mfn >= SVT_POOL_MFN0 &&
	    mfn - SVT_POOL_MFN0 < m->pool_frames) {
		memcpy(buf, m->pool + (pa - SVT_POOL_MFN0 * 4096), 8);
		return 0;
	}
	return svt_machine_read(m, pa, buf, len);
}

static void hw_view(struct rp *p, struct hw_view *v)
{
	struct svt_hw_state hw;
	svt_mmu_hw_state(p->mmu, &hw);
	memset(&v->r, 0, sizeof(v->r));
	v->r.cr0 = hw.cr0;
	v->r.cr3 = hw.cr3;
	v->r.cr4 = hw.cr4;
	v->r.efer = hw.efer;
	v->r.maxphyaddr = 52;
	v->r.features = SVT_FEAT_1GPAGE;
	v->mode = hw.mode;
	v->ok = hw.mode != SVT_MODE_PAE || svt_pae_load_pdptes(&p->hwenv, &v->r) == 0;
}

/* The hardware's walk of the shadows for acc (w filled as far as it went). */
static enum svt_walk_status hw_walk(struct rp *p, struct hw_view *v, const struct svt_access *acc,
				    uint64_t rflags, uint32_t pkru, struct svt_walk *w)
{
	struct svt_access a = *acc;
	if (!v->ok)
		return SVT_WALK_ENV;
	if (v->mode < SVT_MODE_4LEVEL)
		a.va &= 0xffffffffull;
	v->r.rflags = rflags;
	v->r.pkru = pkru;
	return svt_walk(&p->hwenv, &v->r, &a, 0, w);
}

/* The memory type the hardware's successful walk w of the shadows gives:
 * the PAT index (PAT:PCD:PWT) of its leaf, read here where the SDM puts
 * the bits for the leaf's page size (refmodel.h), not by the core. */
static unsigned hw_pat_index(const struct svt_walk *w)
{
	const struct svt_walk_level *l = &w->lv[w->nlevels - 1];
	return rm_pat_index(l->entry, l->level > 1 ? RM_PAT_BIT_BIG : RM_PAT_BIT_4K);
}

static bool hw_allows(struct rp *p, struct hw_view *v, const struct svt_access *acc,
		      uint64_t rflags, uint32_t pkru, uint64_t *mpa, unsigned *pat)
{
	struct svt_walk w;
	if (hw_walk(p, v, acc, rflags, pkru, &w) != SVT_WALK_OK)
		return false;
	*mpa = w.gpa;
	if (pat)
		*pat = hw_pat_index(&w);
	return true;
}

/* The hardware's walk of the replay's shadows: does the access go through?
 * (pat, where not NULL: the memory type it goes through with) */
static bool shadow_allows_mt(struct rp *p, const struct svt_access *acc, uint64_t rflags,
			     uint32_t pkru, uint64_t *mpa, unsigned *pat)
{
	struct hw_view v;
	hw_view(p, &v);
	return hw_allows(p, &v, acc, rflags, pkru, mpa, pat);
}

bool rp_shadow_allows(struct rp *p, const struct svt_access *acc, uint64_t rflags, uint32_t pkru,
		      uint64_t *mpa)
{
	return shadow_allows_mt(p, acc, rflags, pkru, mpa, NULL);
}

bool rp_shadow_refuses_present(struct rp *p, const struct svt_access *acc, uint64_t rflags,
			       uint32_t pkru)
{
	struct hw_view v;
	struct svt_walk w;
	hw_view(p, &v);
	return hw_walk(p, &v, acc, rflags, pkru, &w) != SVT_WALK_OK &&
	       (w.error_code & SVT_PFEC_P);
}

/* INV-FRAME's memory type: the shadows must map a frame with the memory
 * type the guest's leaf gives it (vmx/ runs the guest with its own
 * IA32_PAT, so the same index is the same type).  NULL where they do. */
static const char *memtype_differs(unsigned shadow, const struct rm_out *o, char *msg, size_t len)
{
	if (shadow == o->pat_index)
		return NULL;
	snprintf(msg, len, "the shadows map the page with PAT index %u (PAT:PCD:PWT), the "
		 "guest's leaf with %u", shadow, o->pat_index);
	return msg;
}

/* After a fixed fault: where the shadows now let the access through, bare
 * metal must allow it too, through the same frame. */
void rp_check_fixed(struct rp *p, const struct svt_trace_fault *f)
{
	struct svt_access acc;
	uint64_t mpa;
	unsigned pat;
	struct rm_out o;
	char msg[160];

	rp_fault_access(f, &acc);
	/* for rp_check_ad and rp_shadow_after: nothing changes the shadows in
	 * between */
	p->fx_known = true;
	hw_view(p, &p->fx_view);
	p->fx_st = hw_walk(p, &p->fx_view, &acc, f->rflags, f->pkru, &p->fx_walk);
	p->fx_through = p->fx_st == SVT_WALK_OK;
	if (!p->fx_through)
		return;         /* the guest re-runs and faults again: not wrong by itself */
	mpa = p->fx_walk.gpa;
	pat = hw_pat_index(&p->fx_walk);
	if (ad_ref_holds(p, f))
		o = p->ad_ref;  /* the same walk: the core changed none of it */
	else
		ref_walk(p, &acc, f->rflags, f->pkru, &o);
	if (o.kind != RM_OK) {
		snprintf(p->what, sizeof(p->what),
			 "the shadows allow an access bare metal faults (#PF error code "
			 "%#x)", o.pfec);
		rp_violation(p, SVT_INV_FAULT, f->va, 0, 0, 0, 0, p->what);
		return;
	}
	uint64_t gfn = svt_machine_m2g(&p->mach, mpa >> 12);
	if (gfn != o.pa >> 12)
		rp_violation(p, SVT_INV_FRAME, f->va, o.pa >> 12, 1,
			     o.n ? o.e[o.n - 1].before : 0, 0,
			     "the shadows send the access to another frame than bare metal");
	else if (memtype_differs(pat, &o, msg, sizeof(msg)))
		rp_violation(p, SVT_INV_FRAME, f->va, o.pa >> 12,
			     o.n ? (unsigned)o.e[o.n - 1].level : 0,
			     o.n ? o.e[o.n - 1].before : 0, 0, msg);
}

/*
 * A fault the core answered MMIO (nothing behind the address): bare
 * metal's walk of the access must succeed, to the very guest-physical
 * address the core reports (the device model acts on it), which must be
 * neither guest RAM nor a device passed through.
 */
void rp_check_mmio(struct rp *p, const struct svt_trace_fault *f,
		   const struct svt_fault_result *res)
{
	struct svt_access acc;
	struct rm_out o;

	rp_fault_access(f, &acc);
	ref_walk(p, &acc, f->rflags, f->pkru, &o);
	if (o.kind != RM_OK) {
		snprintf(p->what, sizeof(p->what), "the core sends the access to gpa %#" PRIx64
			 " as memory with nothing behind it; bare metal faults (#PF "
			 "error code %#x)", res->gpa, o.pfec);
		rp_violation(p, SVT_INV_FAULT, f->va, 0, 0, 0, 0, p->what);
		return;
	}
	if (o.pa != res->gpa) {
		snprintf(p->what, sizeof(p->what), "the core sends the access to gpa %#" PRIx64
			 " as memory with nothing behind it; bare metal's walk gives gpa %#" PRIx64,
			 res->gpa, o.pa);
		rp_violation(p, SVT_INV_FRAME, f->va, o.pa >> 12,
			     o.n ? (unsigned)o.e[o.n - 1].level : 0, o.n ? o.e[o.n - 1].before : 0,
			     0, p->what);
		return;
	}
	if (svt_mfn_valid(p->mach.env.gfn_to_mfn(p->mach.env.ctx, svt_gfn(o.pa >> 12)))) {
		snprintf(p->what, sizeof(p->what), "the core sends the access to gpa %#" PRIx64
			 " as memory with nothing behind it, but guest RAM or a device is there",
			 res->gpa);
		rp_violation(p, SVT_INV_FRAME, f->va, o.pa >> 12, 0, 0, 0, p->what);
	}
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
	struct hw_view v;
	hw_view(p, &v);         /* one view: the checks change nothing */
	if (!v.ok)
		return;         /* the hardware cannot walk: nothing goes through */
	for (unsigned k = 0; k < 3; k++)
		for (uint8_t cpl = 0; cpl <= 3; cpl += 3) {
			struct svt_access acc = { .va = va, .kind = kinds[k], .cpl = cpl };
			uint64_t mpa;
			unsigned pat;
			struct svt_walk w;
			struct rm_out o;
			char msg[160];
			if (hw_walk(p, &v, &acc, 0, 0, &w) != SVT_WALK_OK) {
				/* a walk that stops short of a leaf (an absent or
				 * reserved entry, no canonical address, memory not
				 * there) reads the same entries whatever the
				 * access, and stops there for every one */
				if (k == 0 && cpl == 0 &&
				    (w.nlevels == 0 || !w.lv[w.nlevels - 1].leaf))
					return;
				continue;
			}
			mpa = w.gpa;
			pat = hw_pat_index(&w);
			ref_walk(p, &acc, 0, 0, &o);
			if (o.kind != RM_OK) {
				snprintf(p->what, sizeof(p->what),
					 "after %s the shadows still allow a CPL %u %s that the "
					 "guest's tables forbid (#PF error code %#x)", flush, cpl,
					 kind_names[k], o.pfec);
				rp_violation(p, SVT_INV_SYNC, va, 0,
					     o.n ? (unsigned)o.e[o.n - 1].level : 0,
					     o.n ? o.e[o.n - 1].before : 0, 0, p->what);
				return;
			}
			uint64_t gfn = svt_machine_m2g(&p->mach, mpa >> 12);
			if (gfn != o.pa >> 12) {
				snprintf(p->what, sizeof(p->what),
					 "after %s the shadows send a CPL %u %s to frame %#llx; "
					 "the guest's tables to %#llx", flush, cpl, kind_names[k],
					 (unsigned long long)gfn, (unsigned long long)(o.pa >> 12));
				rp_violation(p, SVT_INV_SYNC, va, o.pa >> 12, 1,
					     o.n ? o.e[o.n - 1].before : 0, 0, p->what);
				return;
			}
			if (memtype_differs(pat, &o, msg, sizeof(msg))) {
				snprintf(p->what, sizeof(p->what), "after %s: %s", flush, msg);
				rp_violation(p, SVT_INV_FRAME, va, o.pa >> 12,
					     o.n ? (unsigned)o.e[o.n - 1].level : 0,
					     o.n ? o.e[o.n - 1].before : 0, 0, p->what);
				return;
			}
		}
}

/* ---- the neighbours a fixed fault prefetched ------------------------------------ */

/*
 * Prefetch (docs/core.md, "Policies") fills, with a fault, the entries of
 * the faulting L1 table around the faulting one that the guest has
 * accessed: policy.prefetch entries, half on each side.  The window
 * checked here is at least that: (prefetch + 1) / 2 entries on each side,
 * within the table (for a splintered large page, its FL1 shadow; while
 * paging is off, the 1:1 tables').  Only the entries the shadows did not
 * map before the fault and do after it are checked: those the fault made
 * (prefetch, or a resync on the way) from the guest's entries as they are
 * now.  Entries mapped before may be stale in an out-of-sync page, as a
 * TLB may be until the guest's flush (INV-SYNC judges them there).
 *
 * Shadow tables have the guest's format, and shadows never map large
 * pages: the neighbours of va are the other entries of the shadow L1
 * table the hardware's walk of va reaches, read from it directly (one
 * walk, not one per entry).
 */

/* What the hardware's walk of va through the shadows reads: the level-2
 * table and its entry (t2 0: the walk stopped above it), and the shadow
 * L1 table it reaches, with its entry size (t1 0: none), even where va's
 * own entry is absent.  One walk serves the prefetched neighbours and
 * sync before link. */
#define RP_UP_MAX 4     /* shadow entries above level 1 (5-level paging) */

struct sh_path {
	uint64_t t2, e2, t1;
	unsigned esize;
	unsigned nup;
	uint64_t up[RP_UP_MAX]; /* the entries above level 1, top first (struct tree_seen) */
};

/* (up: what rp_check_tree's walk down to the same L1 table passes, so
 * that either judgement of it serves the other) */
static void shadow_path_of(enum svt_walk_status st, const struct svt_walk *w, struct sh_path *sp)
{
	sp->t2 = sp->e2 = sp->t1 = 0;
	sp->nup = 0;
	sp->esize = 8;
	if (st != SVT_WALK_OK && st != SVT_WALK_PF)
		return;
	for (unsigned i = 0; i < w->nlevels; i++)
		if (w->lv[i].level == 2) {
			sp->t2 = w->lv[i].table;
			sp->e2 = w->lv[i].entry;
		} else if (w->lv[i].level == 1) {
			sp->t1 = w->lv[i].table;
			sp->esize = w->lv[i].size;
		}
	for (unsigned i = 0; i < w->nlevels && sp->nup < RP_UP_MAX; i++)
		if (w->lv[i].level > 1)
			sp->up[sp->nup++] = w->lv[i].entry;
}

static void shadow_path(struct rp *p, struct hw_view *v, uint64_t va, struct sh_path *sp)
{
	struct svt_access acc = { .va = va, .kind = SVT_ACC_READ, .cpl = 0 };
	struct svt_walk w;
	enum svt_walk_status st = hw_walk(p, v, &acc, 1ull << 18, 0, &w);  /* RFLAGS.AC: no SMAP */
	shadow_path_of(st, &w, sp);
}

/* The shadow table at table where it is a pool frame, as the hardware's
 * reads of it find it (svt_machine_hw_env); else NULL. */
static const uint8_t *pool_table(const struct rp *p, uint64_t table)
{
	uint64_t mfn = table >> 12;
	if ((table & 0xfff) || mfn < SVT_POOL_MFN0 || mfn - SVT_POOL_MFN0 >= p->mach.pool_frames)
		return NULL;
	return p->mach.pool + (mfn - SVT_POOL_MFN0) * 4096;
}

/* Is entry j of the shadow table present?  (pg: the table, where
 * pool_table found it) */
static bool shadow_present(struct rp *p, const uint8_t *pg, uint64_t table, unsigned esize,
			   unsigned j)
{
	uint8_t raw[8] = { 0 };
	if (pg)
		return (pg[(size_t)j * esize] & 1) != 0;
	if (p->hwenv.read_gpa(p->hwenv.ctx, table + (uint64_t)j * esize, raw, esize) != 0)
		return false;
	return (raw[0] & 1) != 0;
}

void rp_shadow_before(struct rp *p, const struct svt_trace_fault *f)
{
	struct hw_view v;
	struct sh_path sp;
	unsigned half = (p->prefetch + 1) / 2;

	hw_view(p, &v);
	shadow_path(p, &v, f->va, &sp);
	p->lk_t2 = sp.t2;       /* for sync before link */
	p->lk_e2 = sp.e2;
	p->nb_lo = p->nb_hi = 0;
	p->nb_table = 0;
	if (p->prefetch == 0)
		return;
	bool mapped = sp.t1 != 0;
	unsigned esize = sp.esize;
	p->nb_table = sp.t1;
	/* the shadows' format, not the guest's: 2-level (paging off only) has
	 * 4-byte entries; a 2-level guest's shadows are PAE-format (2-on-3) */
	unsigned n = v.mode == SVT_MODE_2LEVEL ? 1024 : 512;
	uint64_t va = v.mode < SVT_MODE_4LEVEL ? f->va & 0xffffffffull : f->va;
	p->nb_idx = (unsigned)(va >> 12) & (n - 1);
	p->nb_base = va & ~(((uint64_t)n << 12) - 1);
	p->nb_lo = p->nb_idx > half ? p->nb_idx - half : 0;
	p->nb_hi = p->nb_idx + half + 1 < n ? p->nb_idx + half + 1 : n;
	const uint8_t *pg = mapped ? pool_table(p, p->nb_table) : NULL;
	for (unsigned j = p->nb_lo; j < p->nb_hi; j++)
		p->nb_mapped[j] = mapped && shadow_present(p, pg, p->nb_table, esize, j);
}

/* Why an entry is checked, and what a violation there is: "CONTEXT: the
 * shadows ...", reported as INV (or, when INV is 0, as what went wrong:
 * INV-PERM or INV-FRAME).  The context is worded only for a report
 * (why_context): nearly every check finds nothing. */
enum why_kind { WHY_FLUSH, WHY_NEIGHBOUR, WHY_LINK };
struct ent_why {
	enum svt_invariant inv;
	enum why_kind kind;
	const char *flush;      /* WHY_FLUSH: what flushed */
	uint64_t va;            /* WHY_NEIGHBOUR, WHY_LINK: the fault's address */
	uint64_t table;         /* WHY_LINK: the shadow L1 table linked */
};

static void why_context(const struct ent_why *why, char *buf, size_t len)
{
	switch (why->kind) {
	case WHY_FLUSH:
		snprintf(buf, len, "after %s", why->flush);
		break;
	case WHY_NEIGHBOUR:
		snprintf(buf, len, "a neighbour the fault at %#" PRIx64 " mapped", why->va);
		break;
	case WHY_LINK:
		snprintf(buf, len, "the shadow L1 table at %#" PRIx64 " linked by the fault at %#"
			 PRIx64 " (sync before link)", why->table, why->va);
		break;
	}
}

static void nb_report(struct rp *p, enum svt_invariant inv, uint64_t va, const struct ent_why *why,
		      const struct rm_out *o, const char *what)
{
	const struct rm_ent *leaf = o->n ? &o->e[o->n - 1] : NULL;
	char context[120];
	why_context(why, context, sizeof(context));
	snprintf(p->what, sizeof(p->what), "%s: %s", context, what);
	rp_violation(p, why->inv ? why->inv : inv, va, o->kind == RM_OK ? o->pa >> 12 : 0,
		     leaf ? (unsigned)leaf->level : 0, leaf ? leaf->before : 0, 0, p->what);
}
/*
 * Is the supervisor-only translation w of va the open step's grant (the
 * core makes the entries on the path of each address the step was asked
 * for at supervisor-only until STEP_DONE: svt_mmu_step_done())?  Exactly
 * when a shadow entry with U/S=0 on w's path is one such an address goes
 * through too (the same entry: the same address bits above it).  Outside a
 * step, never.
 */
static bool step_grant(const struct rp *p, const struct hw_view *v, const struct svt_walk *w,
		       uint64_t va)
{
	unsigned n = p->nstep < RP_STEP_PAGES ? p->nstep : RP_STEP_PAGES;
	for (unsigned k = 0; p->step_open && k < n; k++)
		for (unsigned i = 0; i < w->nlevels; i++) {
			unsigned level = w->lv[i].level;
			if ((v->mode == SVT_MODE_PAE && level == 3) ||
			    (w->lv[i].entry & SVT_PTE_US))
				continue;       /* (PDPTEs have no U/S) */
			if (((va ^ p->step[k].acc.va) & 0x01ffffffffffffffull) >>
			    (12 + 9 * (level - 1)) == 0)
				return true;
		}
	return false;
}

/*
 * The shadows' translation of va (the hardware's walk, an explicit
 * supervisor read with RFLAGS.AC set and no key restrictions, which any
 * valid translation allows) against the reference walker's: both valid,
 * the same frame with the same memory type (the PAT index, each side's
 * read at its leaf's position), no A bit left for bare metal to set, and no right the
 * guest's tables do not give.  The hardware runs with CR0.WP=1 and the
 * guest's SMEP, SMAP and keys, the guest with its own CR0.WP: so writable
 * only where the guest's leaf is dirty and its walk is writable, or, while
 * the guest's CR0.WP=0 (which lets the supervisor alone write read-only
 * pages), where the shadows are supervisor-only; user-accessible only
 * where the guest's walk is; supervisor-only where the guest's page is a
 * user page only if neither SMAP nor keys (IA-32e, CR4.PKE) would keep
 * the supervisor from it, and under SMEP only if not executable (those
 * make a user page less accessible to the kernel); executable only where
 * the guest's walk is; and the leaf's protection key under CR4.PKE.  One
 * walk on each side per entry; the first wrong thing is reported.
 */
static bool check_entry(struct rp *p, struct hw_view *v, uint64_t va, const struct ent_why *why)
{
	const uint64_t ac = 1ull << 18;
	struct svt_access acc = { .va = va, .kind = SVT_ACC_READ, .cpl = 0 };
	struct svt_walk w;
	struct rm_out o;
	char msg[160];

	if (hw_walk(p, v, &acc, ac, 0, &w) != SVT_WALK_OK)
		return true;
	ref_walk(p, &acc, ac, 0, &o);
	if (o.kind != RM_OK) {
		snprintf(msg, sizeof(msg), "the shadows map a page the guest's tables do not "
			 "(#PF error code %#x)", o.pfec);
		nb_report(p, SVT_INV_PERM, va, why, &o, msg);
		return false;
	}
	uint64_t gfn = svt_machine_m2g(&p->mach, w.gpa >> 12);
	if (gfn != o.pa >> 12) {
		snprintf(msg, sizeof(msg), "the shadows map frame %#" PRIx64 ", the guest's "
			 "tables %#" PRIx64, gfn, o.pa >> 12);
		nb_report(p, SVT_INV_FRAME, va, why, &o, msg);
		return false;
	}
	if (memtype_differs(hw_pat_index(&w), &o, msg, sizeof(msg))) {
		nb_report(p, SVT_INV_FRAME, va, why, &o, msg);
		return false;
	}
	for (unsigned i = 0; i < o.n; i++)
		if (!o.e[i].from_reg && o.e[i].after != o.e[i].before) {
			snprintf(msg, sizeof(msg), "the shadows map a page through a level-%d "
				 "guest entry without A (bare metal sets it first)", o.e[i].level);
			nb_report(p, SVT_INV_PERM, va, why, &o, msg);
			return false;
		}
	const struct svt_regs *g = svt_mmu_guest_regs(p->mmu);
	bool sw = (w.rights & SVT_RIGHT_W) != 0, su = (w.rights & SVT_RIGHT_U) != 0,
	     sx = (w.rights & SVT_RIGHT_X) != 0;
	const char *bad = NULL;
	bool keys = (g->cr4 & SVT_CR4_PKE) && o.paging >= RM_PAGING_4L;
	if (sw && !o.w && (g->cr0 & SVT_CR0_WP))
		bad = "the shadows make writable a page the guest's tables make read-only";
	else if (sw && !o.w && su)
		bad = "the shadows let user code write a page the guest's tables make read-only "
		      "(CR0.WP=0 lets only the supervisor)";
	else if (sw && o.n && !(o.e[o.n - 1].before & RM_E_D))
		bad = "the shadows make writable a page whose guest leaf is not dirty "
		      "(bare metal sets D first)";
	else if (su && !o.u)
		bad = "the shadows make user-accessible a supervisor page";
	else if (!su && o.u && o.paging != RM_PAGING_OFF &&
		 ((g->cr4 & SVT_CR4_SMAP) || keys || ((g->cr4 & SVT_CR4_SMEP) && sx)) &&
		 !step_grant(p, v, &w, va))
		bad = "the shadows make a user page supervisor-only, which lets the kernel at it "
		      "past SMEP, SMAP or keys";
	else if (sx && !o.x)
		bad = "the shadows make executable a page the guest's tables make XD";
	else if ((g->cr4 & SVT_CR4_PKE) && o.u && o.paging >= RM_PAGING_4L && w.pkey != o.pkey)
		bad = "the shadows give the page another protection key than the guest's leaf";
	if (bad)
		nb_report(p, SVT_INV_PERM, va, why, &o, bad);
	return bad == NULL;
}

static void check_neighbours(struct rp *p, struct hw_view *v, const struct sh_path *sp,
			     const struct svt_trace_fault *f)
{
	uint64_t table = sp->t1;
	unsigned esize = sp->esize;

	if (p->nb_lo == p->nb_hi || table == 0)
		return;
	bool same = table == p->nb_table;       /* else a new shadow: all of it made now */
	struct ent_why why = { .inv = 0, .kind = WHY_NEIGHBOUR, .va = f->va };
	const uint8_t *pg = pool_table(p, table);
	for (unsigned j = p->nb_lo; j < p->nb_hi; j++) {
		if (j == p->nb_idx || (same && p->nb_mapped[j]) ||
		    !shadow_present(p, pg, table, esize, j))
			continue;
		check_entry(p, v, p->nb_base + ((uint64_t)j << 12), &why);
	}
}

/* ---- INV-SYNC: whole address spaces at flushes, and sync before link ---------- */

#define SH_ADDR 0x000ffffffffff000ull

/*
 * What the judgement of a leaf depends on besides the entries the two
 * walks read: the bits of the guest's and the hardware's registers that
 * the two walkers and check_entry read (svt_walk, rm_translate: the paging
 * mode, CR0.WP, CR4.PSE, SMEP, SMAP, PKE, EFER.NXE).  Not CR4.PGE: a
 * toggle of it, as guests flush their global entries, changes no
 * judgement; which leaves a flush leaves unjudged is struct tree_seen's
 * gskip.  And, to re-read the guest's walk of a table's addresses without
 * walking (tree_seen's gp[]), where that walk starts now: the guest's top
 * table (t0, from CR3) and its PDPTE registers.
 */
#define JK_CR0  (SVT_CR0_PE | SVT_CR0_WP | SVT_CR0_PG)
#define JK_CR4  (SVT_CR4_PSE | SVT_CR4_PAE | SVT_CR4_LA57 | SVT_CR4_PCIDE | SVT_CR4_SMEP | \
		 SVT_CR4_SMAP | SVT_CR4_PKE)
#define JK_EFER (SVT_EFER_LME | SVT_EFER_LMA | SVT_EFER_NXE)
#define JK_REGS 6
struct jctx {
	uint64_t regs[JK_REGS]; /* guest CR0 CR4 EFER, hardware CR0 CR4 EFER, masked as above */
	bool keep_global;
	bool t0_known;
	uint64_t t0;            /* the guest's top table (the first entry's, from CR3) */
	uint64_t pdpte[4];      /* the guest's PDPTE registers */
};

static void jctx_init(struct rp *p, const struct hw_view *v, bool keep_global, struct jctx *jc)
{
	const struct svt_regs *g = svt_mmu_guest_regs(p->mmu);
	struct svt_access acc = { .va = 0, .kind = SVT_ACC_READ, .cpl = 0 };
	struct rm_out o;

	jc->regs[0] = g->cr0 & JK_CR0;
	jc->regs[1] = g->cr4 & JK_CR4;
	jc->regs[2] = g->efer & JK_EFER;
	jc->regs[3] = v->r.cr0 & JK_CR0;
	jc->regs[4] = v->r.cr4 & JK_CR4;
	jc->regs[5] = v->r.efer & JK_EFER;
	jc->keep_global = keep_global;
	memcpy(jc->pdpte, g->pdpte, sizeof(jc->pdpte));
	/* the first entry of every walk is in the one table CR3 names */
	ref_walk(p, &acc, 1ull << 18, 0, &o);
	jc->t0_known = o.n > 0;
	jc->t0 = o.n > 0 ? o.e[0].table : 0;
}

/*
 * Sync before link (docs/core.md, "Shadowing"): a shadow L1 table that
 * the fault linked under a level-2 shadow entry that did not lead to it
 * before must agree with the guest's tables as they are now, every entry
 * of it, out of sync or not: no TLB can hold anything for the addresses
 * the new link opens.  Judged entry by entry by the reference walker.
 */
static bool judge_l1(struct rp *p, struct hw_view *v, const struct ent_why *why,
		     const struct jctx *jc, uint64_t table, unsigned esize, uint64_t base,
		     const uint64_t *up, unsigned nup);

static void check_link(struct rp *p, struct hw_view *v, const struct sh_path *sp,
		       const struct svt_trace_fault *f)
{
	if (p->lk_t2 == 0 || p->res->lost || sp->t1 == 0 || sp->t2 != p->lk_t2 ||
	    ((p->lk_e2 & 1) && (p->lk_e2 & SH_ADDR) == (sp->e2 & SH_ADDR)))
		return;         /* no new link there, or not one this walk can tell */
	unsigned n = 4096 / sp->esize;
	uint64_t va = v->mode < SVT_MODE_4LEVEL ? f->va & 0xffffffffull : f->va;
	struct ent_why why = { .inv = SVT_INV_SYNC, .kind = WHY_LINK, .va = f->va,
			       .table = sp->t1 };
	struct jctx jc;
	jctx_init(p, v, false, &jc);
	judge_l1(p, v, &why, &jc, sp->t1, sp->esize, va & ~(((uint64_t)n << 12) - 1), sp->up,
		 sp->nup);
}

void rp_shadow_after(struct rp *p, const struct svt_trace_fault *f, enum svt_pf_outcome o)
{
	struct hw_view view, *v = &view;
	struct sh_path sp;

	if (o != SVT_PF_FIXED && o != SVT_PF_RETRY)
		return;
	if (o == SVT_PF_FIXED && p->fx_known) {
		/* rp_check_fixed's walk of the same address in the same view: a
		 * walk reads the same entries whatever the access (svt_walk
		 * checks the rights only once at the leaf), and stops short of
		 * one (absent, reserved bits, no canonical address, memory not
		 * there) for every access alike */
		v = &p->fx_view;
		shadow_path_of(p->fx_st, &p->fx_walk, &sp);
	} else {
		hw_view(p, v);
		shadow_path(p, v, f->va, &sp);
	}
	if (o == SVT_PF_FIXED)
		check_neighbours(p, v, &sp, f);
	check_link(p, v, &sp, f);
}

/*
 * What a shadow L1 table looked like when its leaves were last judged and
 * found agreeing: its present entries, the guest L1 table's entries then
 * at the same places, and all else the judgement of a leaf rests on: the
 * registers (struct jctx), the shadow entries above it, the addresses it
 * maps, and the guest's walk above its L1 entry (for a splintered large
 * page: the whole walk, every leaf resting on its one guest entry), each
 * kept as it was, not hashed.  A leaf whose shadow entry and guest entry
 * are both as they were then, under the same rest, is judged the same
 * again, so it is skipped: exact, never a guess.  Only the 64-byte lines
 * of both tables that held a present shadow entry are kept (packed, in
 * order), since an absent entry is never judged: a table whose present
 * entries and their guest entries are all as then, and whose other lines
 * still hold no present entry, is skipped whole, which skips exactly the
 * same leaves.  One slot per pool frame (RP_TREE_SEEN at most, a frame
 * taking its slot modulo that over from another).
 */
#define RP_TREE_SEEN 4096
#define RP_GP_MAX 5
struct gpath {
	unsigned n;             /* entries of the guest's walk kept (above L1, or all: large) */
	bool large;
	uint64_t l1;            /* the guest L1 table's address; 0 if large */
	struct {
		uint64_t table, pa, val;        /* where the walk read val */
		unsigned bytes;
		bool reg;                       /* a PDPTE register (pa - table: its index * 8) */
	} e[RP_GP_MAX];
};

struct tree_seen {
	uint64_t table;                 /* machine address; 0: a free slot */
	uint64_t base;                  /* the linear address of entry 0 */
	uint64_t regs[JK_REGS];
	uint64_t up[RP_UP_MAX];
	unsigned nup, esize;
	uint64_t lines;                 /* which 64-byte lines of the table held a present entry */
	bool gskip;                     /* the global leaves were left unjudged (keep_global) */
	/* the guest's side (gp's values where gp says, gu's lines) was as
	 * kept here when struct rp's gw_clock had this value */
	uint64_t gwhen;
	struct gpath gp;
	/* those lines of the shadow table (sh) and of the guest L1 table
	 * (gu), packed: line l is the k-th, k the lines kept below it */
	uint8_t sh[4096], gu[4096];
};

static struct tree_seen *seen_slot(struct rp *p, uint64_t table)
{
	uint64_t mfn = table >> 12;
	if (mfn < SVT_POOL_MFN0 || mfn - SVT_POOL_MFN0 >= p->mach.pool_frames)
		return NULL;    /* not a pool frame: judged every time */
	if (!p->tseen) {
		unsigned n = p->mach.pool_frames < RP_TREE_SEEN ? p->mach.pool_frames :
			     RP_TREE_SEEN;
		p->tseen = calloc(n, sizeof(*p->tseen));
		if (!p->tseen)
			return NULL;    /* out of memory: judge every leaf every time */
		p->ntseen = n;
	}
	uint64_t k = mfn - SVT_POOL_MFN0;
	return &p->tseen[k < p->ntseen ? k : k % p->ntseen];
}

/* The reference walk of va, kept in *gp: the guest's entries above its L1
 * entry and the L1 table's address (large false); or, for a large page (a
 * splintered shadow), every entry of the walk (large true).  False if the
 * guest does not map va. */
static bool guest_path(struct rp *p, uint64_t va, struct gpath *gp)
{
	struct svt_access acc = { .va = va, .kind = SVT_ACC_READ, .cpl = 0 };
	struct rm_out o;
	ref_walk(p, &acc, 1ull << 18, 0, &o);
	if (o.kind != RM_OK || o.n == 0 || o.n > RP_GP_MAX)
		return false;
	gp->large = o.e[o.n - 1].level != 1;
	gp->n = o.n - !gp->large;
	gp->l1 = gp->large ? 0 : o.e[o.n - 1].table;
	for (unsigned i = 0; i < gp->n; i++) {
		gp->e[i].table = o.e[i].table;
		gp->e[i].pa = o.e[i].pa;
		gp->e[i].val = o.e[i].before;
		gp->e[i].bytes = o.e[i].bytes;
		gp->e[i].reg = o.e[i].from_reg;
	}
	return true;
}

/* The same walk above the L1 entry (or the same whole walk), entry for
 * entry: the same values, the same L1 table. */
static bool gpath_same(const struct gpath *a, const struct gpath *b)
{
	if (a->n != b->n || a->large != b->large || a->l1 != b->l1)
		return false;
	for (unsigned i = 0; i < a->n; i++)
		if (a->e[i].val != b->e[i].val || a->e[i].reg != b->e[i].reg)
			return false;
	return true;
}

/* Was guest frame gfn left unwritten after gw_clock had the value since?
 * (false where the replay does not keep track: struct rp's gw_when) */
static inline bool gw_unwritten(const struct rp *p, uint64_t gfn, uint64_t since)
{
	return p->gw_when && gfn < p->gw_frames && p->gw_when[gfn] <= since;
}

/* Would the reference walk read the very entries of gp again now?  The
 * walk's first entry is at the same place in the table CR3 names now
 * (jc->t0; a PDPTE register: the same register), each later one where the
 * entry above it (the same value) points, as when gp was taken: so the
 * walk reads gp's values again iff every one of them is there now. */
static bool gpath_holds(struct rp *p, const struct jctx *jc, struct gpath *gp, uint64_t since)
{
	if (!jc->t0_known)
		return false;
	for (unsigned i = 0; i < gp->n; i++) {
		uint64_t now = 0, pa = gp->e[i].pa;
		if (gp->e[i].reg) {
			now = jc->pdpte[((pa - gp->e[i].table) >> 3) & 3];
		} else {
			if (i == 0)
				pa = jc->t0 + (pa - gp->e[i].table);
			if (pa == gp->e[i].pa && gw_unwritten(p, pa >> 12, since))
				continue;       /* as it was at since, and nothing wrote it */
			ref_load(p, pa, gp->e[i].bytes, &now);
		}
		if (now != gp->e[i].val)
			return false;
	}
	/* every value is where gp now says, as of now (for struct tree_seen's
	 * gwhen: the first entry's table is the one CR3 names now) */
	if (gp->n && !gp->e[0].reg) {
		gp->e[0].pa = jc->t0 + (gp->e[0].pa - gp->e[0].table);
		gp->e[0].table = jc->t0;
	}
	return true;
}

/* The canonical linear address of a shadow entry's page (mode's width). */
static uint64_t canon(const struct hw_view *v, uint64_t va)
{
	if (v->mode == SVT_MODE_4LEVEL && (va & (1ull << 47)))
		return va | 0xffff000000000000ull;
	if (v->mode == SVT_MODE_5LEVEL && (va & (1ull << 56)))
		return va | 0xff00000000000000ull;
	return va;
}

/* The page of machine memory at pa (page aligned) for reading: the pool
 * frame itself, else a copy in tmp (guest RAM through its machine frame,
 * read as svt_machine_read reads it); NULL where pa is neither. */
static const uint8_t *mach_page(struct rp *p, uint64_t pa, uint8_t *tmp)
{
	uint64_t mfn = pa >> 12;
	if (!(pa & 0xfff) && mfn >= SVT_POOL_MFN0 && mfn - SVT_POOL_MFN0 < p->mach.pool_frames)
		return p->mach.pool + (mfn - SVT_POOL_MFN0) * 4096;
	return p->hwenv.read_gpa(p->hwenv.ctx, pa, tmp, 4096) == 0 ? tmp : NULL;
}

/* The guest page at gpa (page aligned) as svt_gmem_read reads it: the page
 * itself where it exists and nobody watches reads (on_mem), zeros where
 * it does not, else a copy in tmp. */
static const uint8_t *guest_page(struct rp *p, uint64_t gpa, uint8_t *tmp)
{
	static const uint8_t zero[4096];
	if (!p->mach.mem.hook && !(gpa & 0xfff)) {
		const uint8_t *pg = svt_gmem_page(&p->mach.mem, gpa >> 12, false);
		return pg ? pg : zero;
	}
	svt_gmem_read(&p->mach.mem, gpa, tmp, 4096);
	return tmp;
}

static inline uint64_t ent_load(const uint8_t *b, unsigned esize)
{
	uint64_t e = 0;
	if (esize == 8)         /* little-endian host, as the walkers assume */
		memcpy(&e, b, 8);
	else
		memcpy(&e, b, 4);
	return e;
}

/* Does the 64-byte line at l (entries of esize bytes) hold an entry with P
 * set? */
static inline bool line_present(const uint8_t *l, unsigned esize)
{
	uint64_t w[8], any = 0;
	memcpy(w, l, sizeof(w));
	for (unsigned k = 0; k < 8; k++)
		any |= w[k];
	return (any & (esize == 8 ? SVT_PTE_P : SVT_PTE_P | SVT_PTE_P << 32)) != 0;
}

/* Which 64-byte lines of the table in buf (entries of esize bytes) hold
 * an entry with P set: past 512 bytes at a time where they are all zero
 * (absent shadow entries mostly are), else a line at a time. */
static uint64_t present_lines(const uint8_t *buf, unsigned esize)
{
	static const uint8_t zero[512];
	uint64_t m = 0;
	for (unsigned c = 0; c < 8; c++) {
		const uint8_t *ch = buf + c * 512;
		if (memcmp(ch, zero, 512) == 0)
			continue;
		for (unsigned i = 0; i < 8; i++)
			if (line_present(ch + i * 64, esize))
				m |= 1ull << (c * 8 + i);
	}
	return m;
}

/* The bits set in x (without a library call where the CPU's own
 * instruction is not assumed). */
static inline unsigned popcount64(uint64_t x)
{
	x -= (x >> 1) & 0x5555555555555555ull;
	x = (x & 0x3333333333333333ull) + ((x >> 2) & 0x3333333333333333ull);
	x = (x + (x >> 4)) & 0x0f0f0f0f0f0f0f0full;
	return (unsigned)((x * 0x0101010101010101ull) >> 56);
}

/* Do lines [l, l + r) of the table in buf (entries of esize bytes) hold no
 * present entry?  Mostly they are all zero: one compare for the run. */
static bool lines_absent(const uint8_t *buf, unsigned l, unsigned r, unsigned esize)
{
	static const uint8_t zero[4096];
	if (memcmp(buf + l * 64, zero, r * 64) == 0)
		return true;
	for (unsigned i = l; i < l + r; i++)
		if (line_present(buf + i * 64, esize))
			return false;
	return true;
}

/* Is every shadow entry of the table in buf that was present when seen
 * was kept as it was then, and every other one absent still? */
static bool shadow_as_then(const struct tree_seen *seen, const uint8_t *buf, unsigned esize)
{
	uint64_t m = seen->lines;
	unsigned l = 0, k = 0;
	while (l < 64) {
		uint64_t rest = m >> l;         /* lines l.. */
		if (rest & 1) {                 /* a run of kept lines, packed alike */
			unsigned r = ~rest ? (unsigned)__builtin_ctzll(~rest) : 64 - l;
			if (memcmp(buf + l * 64, seen->sh + k * 64, r * 64) != 0)
				return false;
			k += r;
			l += r;
		} else {                        /* a run of lines that held none */
			unsigned r = rest ? (unsigned)__builtin_ctzll(rest) : 64 - l;
			if (!lines_absent(buf, l, r, esize))
				return false;
			l += r;
		}
	}
	return true;
}

/* Is the guest L1 table in gu as it was when seen was kept, in every line
 * that held a present shadow entry (a superset of the entries judged)? */
static bool guest_as_then(const struct tree_seen *seen, const uint8_t *gu)
{
	uint64_t m = seen->lines;
	unsigned k = 0;
	while (m) {
		unsigned l = (unsigned)__builtin_ctzll(m);
		uint64_t rest = m >> l;
		unsigned r = ~rest ? (unsigned)__builtin_ctzll(~rest) : 64 - l;
		if (memcmp(gu + l * 64, seen->gu + k * 64, r * 64) != 0)
			return false;
		k += r;
		m &= r < 64 ? ~(((1ull << r) - 1) << l) : 0;
	}
	return true;
}

/*
 * The guest's L1 entries as the shadow L1 table mapping the addresses from
 * base holds them: entry i at i * esize.  A 2-level guest's table (1,024
 * four-byte entries) has PAE-format shadows (8-byte entries, 2-on-3): one
 * for each half, the upper mapping the addresses with bit 21 set; its
 * entry i is the guest's 512 * half + i, widened into buf.  Otherwise the
 * guest's page as it is.
 */
static const uint8_t *guest_l1_view(struct rp *p, const struct jctx *jc, uint64_t l1,
				    uint64_t base, unsigned esize, uint8_t *gbuf, uint8_t *buf)
{
	const uint8_t *g = guest_page(p, l1, gbuf);
	if (esize != 8 || (jc->regs[1] & SVT_CR4_PAE))
		return g;
	const uint8_t *half = g + ((base >> 21) & 1) * 2048;
	for (unsigned i = 0; i < 512; i++) {
		uint64_t e = ent_load(half + i * 4, 4);
		memcpy(buf + i * 8, &e, 8);     /* little-endian host, as ent_load */
	}
	return buf;
}

/* Every present leaf of the shadow L1 table at table (entries of esize
 * bytes, mapping the addresses from base), reached through the shadow
 * entries up[0..nup): false at the first violation.  Leaves judged before
 * under the same rest with the same shadow and guest entries are skipped
 * (struct tree_seen); a table whose present entries and their guest
 * entries are all as then (and no other entry present) is skipped whole,
 * and a 64-byte line of both likewise, which skips exactly the same
 * leaves. */
static bool judge_l1(struct rp *p, struct hw_view *v, const struct ent_why *why,
		     const struct jctx *jc, uint64_t table, unsigned esize, uint64_t base,
		     const uint64_t *up, unsigned nup)
{
	static const uint8_t zero[4096];
	uint8_t sbuf[4096], gbuf[4096], xbuf[4096];
	const uint8_t *buf, *gu = zero;
	unsigned per = 64 / esize, j0;
	struct tree_seen *seen = NULL;
	struct gpath gp;
	const struct gpath *path = NULL;        /* the guest's walk now, where known */
	bool same = false, ctx = false, shsame = false;

	if (!(buf = mach_page(p, table, sbuf)))
		return true;    /* not the pool's: the walks report what matters */
	/* (while a step's grant stands, nothing judged is remembered: its
	 * entries are allowed only until the step ends) */
	if (!p->step_open && (seen = seen_slot(p, table)) != NULL) {
		ctx = seen->table == table && seen->base == base && seen->esize == esize &&
		      seen->nup == nup && memcmp(seen->regs, jc->regs, sizeof(jc->regs)) == 0 &&
		      (nup == 0 || memcmp(seen->up, up, nup * sizeof(*up)) == 0);
		shsame = ctx && seen->lines && shadow_as_then(seen, buf, esize);
	}
	/* the lines that hold a present entry (where shsame, those kept), and
	 * the first such entry */
	uint64_t now = shsame ? seen->lines : present_lines(buf, esize);
	if (!now)
		return true;
	for (j0 = (unsigned)__builtin_ctzll(now) * per; !(buf[(size_t)j0 * esize] & SVT_PTE_P);
	     j0++)
		;
	if (seen) {
		if (ctx && !p->mach.mem.hook && gpath_holds(p, jc, &seen->gp, seen->gwhen)) {
			path = &seen->gp;
			same = true;
		} else if (guest_path(p, canon(v, base | ((uint64_t)j0 << 12)), &gp)) {
			path = &gp;
			same = ctx && gpath_same(&seen->gp, &gp);
		} else {
			seen = NULL;
		}
	}
	/* a leaf is skipped where its shadow and guest entries are as then:
	 * whole 64-byte lines of both at a time (with the global leaves judged
	 * then, or exempt now), and the whole table where every line that
	 * holds a present shadow entry is (an absent one is never judged);
	 * the guest L1 table is as then where nothing wrote it since (gwhen:
	 * the same table, gpath_same) */
	bool lines = same && (jc->keep_global || !seen->gskip);
	if (lines && shsame && (path->large || gw_unwritten(p, path->l1 >> 12, seen->gwhen) ||
				guest_as_then(seen, gu = guest_l1_view(p, jc, path->l1, base, esize,
									      gbuf, xbuf)))) {
		if (path != &seen->gp)
			seen->gp = *path;       /* the same values, where the walk reads them now */
		seen->gwhen = p->gw_clock;
		return true;    /* every leaf judged so before, under the same rest */
	}
	if (path && !path->large && gu == zero)
		/* (not read above) */
		gu = guest_l1_view(p, jc, path->l1, base, esize, gbuf, xbuf);
	for (uint64_t m = now; m; m &= m - 1) {
		unsigned l = (unsigned)__builtin_ctzll(m);
		const uint8_t *cur = buf + l * 64, *gcur = gu + l * 64;
		/* the line then, where it held a present entry (else every
		 * entry of it was absent, unlike any present one now) */
		const uint8_t *osh = NULL, *ogu = NULL;
		if (same && (seen->lines >> l & 1)) {
			unsigned k = popcount64(seen->lines & ((1ull << l) - 1));
			osh = seen->sh + k * 64;
			ogu = seen->gu + k * 64;
			if (lines && memcmp(osh, cur, 64) == 0 && memcmp(ogu, gcur, 64) == 0)
				continue;       /* every leaf there judged so before */
		}
		for (unsigned i = 0; i < per; i++) {
			uint64_t e = ent_load(cur + i * esize, esize);
			if (!(e & SVT_PTE_P))
				continue;
			if (jc->keep_global && (e & SVT_PTE_G))
				continue;       /* a global translation outlives the flush */
			if (osh && ent_load(osh + i * esize, esize) == e &&
			    ent_load(ogu + i * esize, esize) == ent_load(gcur + i * esize, esize) &&
			    !(seen->gskip && (e & SVT_PTE_G)))
				continue;       /* judged so before, under the same rest */
			uint64_t va = canon(v, base | ((uint64_t)(l * per + i) << 12));
			if (!check_entry(p, v, va, why))
				return false;
		}
	}
	if (seen) {
		if (path != &seen->gp)
			seen->gp = *path;
		seen->table = table;
		seen->base = base;
		seen->esize = esize;
		seen->nup = nup;
		memcpy(seen->regs, jc->regs, sizeof(seen->regs));
		if (nup)
			memcpy(seen->up, up, nup * sizeof(*up));
		seen->gskip = jc->keep_global;
		seen->gwhen = p->gw_clock;
		seen->lines = now;
		unsigned k = 0;
		for (uint64_t m = now; m; m &= m - 1, k++) {
			unsigned l = (unsigned)__builtin_ctzll(m);
			memcpy(seen->sh + k * 64, buf + l * 64, 64);
			memcpy(seen->gu + k * 64, gu + l * 64, 64);
		}
	}
	return true;
}

/* Every leaf below the shadow table at table (level >= 2, entries of
 * esize bytes, mapping the addresses from base), reached through the
 * shadow entries up[0..nup): false at the first violation. */
static bool tree(struct rp *p, struct hw_view *v, const struct ent_why *why, const struct jctx *jc,
		 uint64_t table, int level, unsigned esize, uint64_t base, const uint64_t *up,
		 unsigned nup)
{
	uint8_t tmp[4096];
	uint64_t path[RP_UP_MAX];
	const uint8_t *buf = mach_page(p, table, tmp);
	unsigned per = 64 / esize,
		shift = esize == 4 ? 12 + 10 * (level - 1) : 12 + 9 * (level - 1);
	if (!buf)
		return true;
	if (nup)        /* (nup < RP_UP_MAX: a tree is 5 levels deep at most) */
		memcpy(path, up, nup * sizeof(*up));
	for (uint64_t m = present_lines(buf, esize); m; m &= m - 1)
	for (unsigned j = (unsigned)__builtin_ctzll(m) * per, end = j + per; j < end; j++) {
		uint64_t e = ent_load(buf + j * esize, esize);
		if (!(e & SVT_PTE_P))
			continue;
		uint64_t va = canon(v, base | ((uint64_t)j << shift)),
			 below = e & (esize == 4 ? 0xfffff000ull : SH_ADDR);
		bool ok = true;
		path[nup] = e;
		if (e & SVT_PTE_PS)     /* shadows never map large pages: judged as one */
			ok = (jc->keep_global && (e & SVT_PTE_G)) || check_entry(p, v, va, why);
		else if (level == 2)
			ok = judge_l1(p, v, why, jc, below, esize, va, path, nup + 1);
		else
			ok = tree(p, v, why, jc, below, level - 1, esize, va, path, nup + 1);
		if (!ok)
			return false;
	}
	return true;
}

/*
 * INV-SYNC after a flush of a whole address space (a CR3 load that
 * flushes, a CR4 write that flushes, INVPCID of a context or of
 * everything, FLUSH_ALL): every translation the current shadows give must
 * be one the guest's tables give now, out-of-sync pages included; with
 * keep_global, translations the hardware holds as global (CR4.PGE) are
 * exempt, as a TLB may keep them.  Every present shadow leaf reachable
 * from the current root is judged by the reference walker.
 */
void rp_check_tree(struct rp *p, const char *flush, bool keep_global)
{
	const struct svt_regs *g = svt_mmu_guest_regs(p->mmu);
	struct hw_view v;
	struct jctx jc;

	if (!(g->cr0 & SVT_CR0_PG) || p->res->lost)
		return;         /* paging off: the 1:1 tables follow nothing the guest wrote */
	hw_view(p, &v);
	if (!v.ok)
		return;
	struct ent_why why = { .inv = SVT_INV_SYNC, .kind = WHY_FLUSH, .flush = flush };
	keep_global = keep_global && (v.r.cr4 & SVT_CR4_PGE);
	jctx_init(p, &v, keep_global, &jc);
	switch (v.mode) {
	case SVT_MODE_2LEVEL:
		tree(p, &v, &why, &jc, v.r.cr3 & 0xfffff000ull, 2, 4, 0, NULL, 0);
		break;
	case SVT_MODE_PAE:
		for (unsigned i = 0; i < 4; i++)
			if ((v.r.pdpte[i] & SVT_PTE_P) &&
			    !tree(p, &v, &why, &jc, v.r.pdpte[i] & SH_ADDR, 2, 8, (uint64_t)i << 30,
				  &v.r.pdpte[i], 1))
				break;
		break;
	case SVT_MODE_4LEVEL:
	case SVT_MODE_5LEVEL:
		tree(p, &v, &why, &jc, v.r.cr3 & SH_ADDR, (int)v.mode, 8, 0, NULL, 0);
		break;
	default:
		break;
	}
}

/* ---- INV-WP judged by the reference walker ----------------------------------- */

/*
 * Shadows stay exact only while every guest table they rest on is
 * read-only to the guest, except out-of-sync L1 tables, of which the
 * policy allows `oos` at once (docs/core.md, "Shadowing").  Which guest
 * tables the current shadows rest on is found without the core: the
 * reference walk of one leaf of each shadow L1 table gives every guest
 * table above it and the L1 table itself.  Then every leaf of the current
 * shadows the hardware may write through (R/W at every level) must not
 * map one of them at level 2 and up, and map at most `oos` distinct
 * level-1 ones.
 */
struct wp_state {
	/* per guest frame: 1 + the table level the shadows rest on */
	uint8_t *level;
	uint64_t *writable;             /* guest frames of writable leaves, and their addresses */
	uint64_t *wva;
	size_t nw, wcap;
	bool oom;
};

static void wp_mark(struct rp *p, struct wp_state *st, uint64_t gfn, int level)
{
	if (gfn < p->h->guest_frames && (st->level[gfn] == 0 || st->level[gfn] > level + 1))
		st->level[gfn] = (uint8_t)(level + 1);
}

static void wp_tree(struct rp *p, struct hw_view *v, struct wp_state *st, uint64_t table, int level,
		    unsigned esize, uint64_t base, bool w)
{
	uint8_t buf[4096];
	unsigned n = 4096 / esize,
		shift = esize == 4 ? 12 + 10 * (level - 1) : 12 + 9 * (level - 1);
	bool marked = false;
	if (p->hwenv.read_gpa(p->hwenv.ctx, table, buf, sizeof(buf)) != 0)
		return;
	for (unsigned j = 0; j < n && !st->oom; j++) {
		uint64_t e = 0;
		memcpy(&e, buf + j * esize, esize);
		if (!(e & SVT_PTE_P))
			continue;
		uint64_t va = base | ((uint64_t)j << shift);
		if (v->mode == SVT_MODE_4LEVEL && (va & (1ull << 47)))
			va |= 0xffff000000000000ull;
		else if (v->mode == SVT_MODE_5LEVEL && (va & (1ull << 56)))
			va |= 0xff00000000000000ull;
		bool ew = w && (e & SVT_PTE_RW);
		if (level > 1 && !(e & SVT_PTE_PS)) {
			wp_tree(p, v, st, e & (esize == 4 ? 0xfffff000ull : SH_ADDR),
				level - 1, esize, va, ew);
			continue;
		}
		if (!marked) {
			/* the guest tables this shadow table rests on */
			struct svt_access acc = { .va = va, .kind = SVT_ACC_READ, .cpl = 0 };
			struct rm_out o;
			ref_walk(p, &acc, 1ull << 18, 0, &o);
			for (unsigned i = 0; i < o.n; i++)
				if (!o.e[i].from_reg)
					wp_mark(p, st, o.e[i].table >> 12, o.e[i].level);
			marked = true;
		}
		if (!ew)
			continue;
		if (st->nw == st->wcap) {
			size_t c = st->wcap ? 2 * st->wcap : 256;
			uint64_t *a = realloc(st->writable, c * sizeof(*a)), *b;
			if (a)
				st->writable = a;
			b = a ? realloc(st->wva, c * sizeof(*b)) : NULL;
			if (!a || !b) {
				st->oom = true;
				return;
			}
			st->wva = b, st->wcap = c;
		}
		uint64_t mfn = (e & (esize == 4 ? 0xfffff000ull : SH_ADDR)) >> 12;
		st->writable[st->nw] = svt_machine_m2g(&p->mach, mfn);
		st->wva[st->nw++] = va;
	}
}

void rp_check_wp(struct rp *p)
{
	const struct svt_regs *g = svt_mmu_guest_regs(p->mmu);
	struct hw_view v;
	struct wp_state st = { .level = NULL };

	if (!(g->cr0 & SVT_CR0_PG) || p->res->lost || p->h->guest_frames > SVT_GMEM_MAX_FRAMES)
		return;
	hw_view(p, &v);
	if (!v.ok)
		return;
	st.level = calloc(p->h->guest_frames ? p->h->guest_frames : 1, 1);
	if (!st.level)
		return;
	switch (v.mode) {
	case SVT_MODE_2LEVEL:
		wp_tree(p, &v, &st, v.r.cr3 & 0xfffff000ull, 2, 4, 0, true);
		break;
	case SVT_MODE_PAE:
		for (unsigned i = 0; i < 4; i++)
			if (v.r.pdpte[i] & SVT_PTE_P)
				wp_tree(p, &v, &st, v.r.pdpte[i] & SH_ADDR, 2, 8,
					(uint64_t)i << 30, true);
		break;
	case SVT_MODE_4LEVEL:
	case SVT_MODE_5LEVEL:
		wp_tree(p, &v, &st, v.r.cr3 & SH_ADDR, (int)v.mode, 8, 0, true);
		break;
	default:
		break;
	}
	/* the writable leaves against the tables; distinct L1 tables counted
	 * by marking them level 0x80 | 1 once seen writable */
	unsigned l1s = 0;
	for (size_t i = 0; i < st.nw && !st.oom; i++) {
		uint64_t gfn = st.writable[i];
		if (gfn >= p->h->guest_frames || !st.level[gfn])
			continue;
		int lv = (st.level[gfn] & 0x7f) - 1;
		bool unsync = false;
		for (unsigned k = 0; k < p->nunsync && k < RP_UNSYNC_MAX && !unsync; k++)
			unsync = p->unsync[k] == gfn;
		if (unsync)
			/* written by the CPU since the last flush (rp_note_wfault) */
			continue;
		if (lv >= 2) {
			snprintf(p->what, sizeof(p->what),
				 "the guest's level-%d table at gfn %#" PRIx64 " is writable "
				 "through the shadows, which rest on it", lv, gfn);
			rp_violation(p, SVT_INV_WP, st.wva[i], gfn, (unsigned)lv, 0, 0, p->what);
			break;
		}
		if (!(st.level[gfn] & 0x80)) {
			st.level[gfn] |= 0x80;
			if (++l1s > p->oos) {
				snprintf(p->what, sizeof(p->what),
					 "%u guest L1 tables the shadows rest on are writable "
					 "through them; the policy lets %u be out of sync",
					 l1s, p->oos);
				rp_violation(p, SVT_INV_WP, st.wva[i], gfn, 1, 0, 0, p->what);
				break;
			}
		}
	}
	free(st.level);
	free(st.writable);
	free(st.wva);
}

/*
 * A write the core must emulate but cannot, for want of an instruction (an
 * implicit write by the CPU), to a page table the write's own walk reads
 * (the current top level among them), or one only CR0.WP=0 allows, is let
 * through by the core with the table writable and out of sync, at any
 * level, until the next flush (docs/core.md, "Guest page-table writes").
 * Judged by the reference walk of the write before the core ran: the frame
 * it reaches is noted if a table of that walk is in it, or if the walk is
 * read-only; rp_check_wp() then lets a table in a noted frame be writable,
 * until rp_unsync_flushed() forgets them at the next INVLPG, INVPCID, CR3
 * load, flushing CR4 write or flush of everything.  Whether an instruction
 * could have performed the write is not judged here (the decision is
 * INV-REPLAY's); the window is.
 */
void rp_note_wfault(struct rp *p, const struct svt_trace_fault *f)
{
	struct svt_access acc;
	struct rm_out o;

	if (!(f->error_code & SVT_PFEC_W))
		return;
	rp_fault_access(f, &acc);
	ref_walk(p, &acc, f->rflags, f->pkru, &o);
	if (o.kind != RM_OK || o.paging == RM_PAGING_OFF)
		return;
	uint64_t gfn = o.pa >> 12;
	bool note = !o.w;
	for (unsigned i = 0; i < o.n && !note; i++)
		note = !o.e[i].from_reg && o.e[i].table >> 12 == gfn;
	for (unsigned k = 0; k < p->nunsync && k < RP_UNSYNC_MAX && note; k++)
		note = p->unsync[k] != gfn;
	if (note)
		p->unsync[p->nunsync++ % RP_UNSYNC_MAX] = gfn;
}

void rp_unsync_flushed(struct rp *p)
{
	p->nunsync = 0;
}

/* ---- INV-CR: control-register writes against the model ------------------------- */

void rp_cr_predict(struct rp *p, unsigned reg, uint64_t val, bool code64,
		   struct crm_out *pred)
{
	enum crm_code code = code64 ? CRM_CODE_64 :
		(p->h->evidence & SVT_EVIDENCE_MODE) ? CRM_CODE_OTHER : CRM_CODE_UNKNOWN;
	crm_write(&p->crm, p->h->maxphyaddr, (enum crm_reg)reg, val, code, ref_load, p, pred);
}

/* The core's registers, as the model's own from now on. */
static void cr_follow(struct rp *p, const struct svt_regs *g)
{
	p->crm.cr0 = g->cr0;
	p->crm.cr3 = g->cr3;
	p->crm.cr4 = g->cr4;
	p->crm.efer = g->efer;
	memcpy(p->crm.pdpte, g->pdpte, sizeof(p->crm.pdpte));
}

/* The model's paging mode in the core's numbering (svt.h: by levels). */
static int cr_mode(enum rm_paging m)
{
	switch (m) {
	case RM_PAGING_OFF: return SVT_MODE_NONE;
	case RM_PAGING_32: return SVT_MODE_2LEVEL;
	case RM_PAGING_PAE: return SVT_MODE_PAE;
	case RM_PAGING_4L: return SVT_MODE_4LEVEL;
	case RM_PAGING_5L: return SVT_MODE_5LEVEL;
	case RM_PAGING_BAD: break;
	}
	return SVT_MODE_INVALID;
}

/* The first register where the core and the model differ after an
 * accepted write: its name, and both values; false if none. */
static bool cr_differ(const struct svt_regs *g, const struct crm_regs *m, char *name, size_t len,
		      uint64_t *core, uint64_t *model)
{
	const struct { const char *n; uint64_t c, m; } r[] = {
		{ "CR0", g->cr0 & CRM_CR0_JUDGED, m->cr0 & CRM_CR0_JUDGED },
		{ "CR3", g->cr3, m->cr3 }, { "CR4", g->cr4, m->cr4 }, { "EFER", g->efer, m->efer },
	};
	for (size_t i = 0; i < sizeof(r) / sizeof(r[0]); i++)
		if (r[i].c != r[i].m) {
			snprintf(name, len, "%s%s", r[i].n,
				 i == 0 ? " (PE MP EM TS NE WP AM NW CD PG)" : "");
			*core = r[i].c;
			*model = r[i].m;
			return true;
		}
	if (crm_paging(m) != RM_PAGING_PAE)
		return false;
	for (unsigned i = 0; i < 4; i++)
		if (g->pdpte[i] != m->pdpte[i]) {
			snprintf(name, len, "PDPTE register %u", i);
			*core = g->pdpte[i];
			*model = m->pdpte[i];
			return true;
		}
	return false;
}

/*
 * INV-CR: the core's decision on a CR write (rc: 0 or SVT_E_GP) and the
 * registers and paging mode it reached, against the model.  Where the
 * model does not judge, or after a difference (reported once), the model
 * takes the core's registers and goes on from there: one wrong decision
 * is one violation.
 */
void rp_check_cr(struct rp *p, unsigned reg, uint64_t val, int rc, const struct crm_out *pred)
{
	const struct svt_regs *g = svt_mmu_guest_regs(p->mmu);
	char insn[64], name[48];
	uint64_t cv, mv;

	if (reg == CRM_EFER)
		snprintf(insn, sizeof(insn), "WRMSR of %#" PRIx64 " to IA32_EFER", val);
	else
		snprintf(insn, sizeof(insn), "MOV of %#" PRIx64 " to %s", val,
			 crm_reg_name((enum crm_reg)reg));
	switch (pred->verdict) {
	case CRM_UNJUDGED:
		if (rc == 0)
			cr_follow(p, g);
		return;
	case CRM_GP:
		if (rc != 0)
			return;
		snprintf(p->what, sizeof(p->what),
			 "%s: the core accepted it; the SDM raises #GP: %s", insn, pred->rule);
		rp_violation(p, SVT_INV_CR, 0, 0, 0, val, 0, p->what);
		cr_follow(p, g);
		return;
	case CRM_ACCEPT:
		break;
	}
	if (rc != 0) {
		snprintf(p->what, sizeof(p->what),
			 "%s: the core raised #GP; the SDM's rules accept it%s", insn,
			 pred->pdptes_loaded ? " (and the PDPTEs it loads)" : "");
		rp_violation(p, SVT_INV_CR, 0, 0, 0, val, 0, p->what);
		return;         /* nothing changed on either side */
	}
	int cmode = svt_paging_mode(g), mmode = cr_mode(crm_paging(&pred->next));
	if (cr_differ(g, &pred->next, name, sizeof(name), &cv, &mv)) {
		snprintf(p->what, sizeof(p->what), "%s: after it the core's %s is %#" PRIx64
			 ", the SDM's %#" PRIx64, insn, name, cv, mv);
		rp_violation(p, SVT_INV_CR, 0, 0, 0, val, 0, p->what);
		cr_follow(p, g);
		return;
	}
	if (cmode != mmode) {
		snprintf(p->what, sizeof(p->what),
			 "%s: after it the core's paging mode is %s, the SDM's %s", insn,
			 cmode < 0 ? "invalid" : svt_mode_name(cmode),
			 mmode < 0 ? "invalid" : svt_mode_name(mmode));
		rp_violation(p, SVT_INV_CR, 0, 0, 0, val, 0, p->what);
		cr_follow(p, g);
		return;
	}
	p->crm = pred->next;
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
