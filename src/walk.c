/*
 * walk.c — paging-mode selection, the access-rights check and the entry
 * points of the guest page-table walker.
 *
 * The per-mode walks live in walk_tmpl.h; this file decides which one a
 * register state selects, handles paging-disabled translation, performs the
 * PAE PDPTE load of MOV to CR3, and computes the access-check bits of the
 * error code (the SDM 4.6 check all modes share is inline, walk_int.h).
 */
#include "walk_int.h"

enum svt_mode svt_paging_mode(const struct svt_regs *r)
{
	bool pg = (r->cr0 & SVT_CR0_PG) != 0;
	bool pae = (r->cr4 & SVT_CR4_PAE) != 0;
	bool lma = (r->efer & SVT_EFER_LMA) || (pg && (r->efer & SVT_EFER_LME));

	if (r->maxphyaddr < 32 || r->maxphyaddr > 52)
		return SVT_MODE_INVALID;
	if (pg && !(r->cr0 & SVT_CR0_PE))
		return SVT_MODE_INVALID;
	if (!pg)
		return (r->efer & SVT_EFER_LMA) ? SVT_MODE_INVALID : SVT_MODE_NONE;
	if (lma) {
		if (!pae)
			return SVT_MODE_INVALID;
		return (r->cr4 & SVT_CR4_LA57) ? SVT_MODE_5LEVEL : SVT_MODE_4LEVEL;
	}
	return pae ? SVT_MODE_PAE : SVT_MODE_2LEVEL;
}

uint32_t svt_access_pfec(const struct svt_regs *r, const struct svt_access *acc)
{
	uint32_t ec = 0;

	if (acc->kind == SVT_ACC_WRITE)
		ec |= SVT_PFEC_W;
	if (acc->cpl == 3 && !acc->implicit)
		ec |= SVT_PFEC_U;
	/* I/D is reported only where execute protection exists (SDM 4.7). */
	if (acc->kind == SVT_ACC_FETCH &&
	    ((r->cr4 & SVT_CR4_SMEP) ||
	     ((r->cr4 & SVT_CR4_PAE) && (r->efer & SVT_EFER_NXE))))
		ec |= SVT_PFEC_I;
	return ec;
}

enum svt_walk_status svt_walk(const struct svt_env *env, const struct svt_regs *r,
			      const struct svt_access *acc, unsigned flags,
			      struct svt_walk *w)
{
	return svt_walk_mode(env, r, svt_paging_mode(r), acc, flags, w);
}

enum svt_walk_status svt_walk_mode(const struct svt_env *env, const struct svt_regs *r,
				   enum svt_mode mode, const struct svt_access *acc, unsigned flags,
				   struct svt_walk *w)
{
	w->status = SVT_WALK_OK;
	w->mode = mode;
	w->error_code = 0;
	w->cr2 = 0;
	w->gpa = 0;
	w->page_size = 0;
	w->rights = 0;
	w->pkey = 0;
	w->nlevels = 0;
	w->nad = 0;

	switch (w->mode) {
	case SVT_MODE_NONE:
		/* No paging: linear addresses are 32 bits and map 1:1. */
		w->gpa = acc->va & 0xffffffffu;
		w->page_size = 4096;
		w->rights = SVT_RIGHT_W | SVT_RIGHT_U | SVT_RIGHT_X;
		return SVT_WALK_OK;
	case SVT_MODE_2LEVEL:
		return svt_walk_l2(env, r, acc, flags, w);
	case SVT_MODE_PAE:
		return svt_walk_l3(env, r, acc, flags, w);
	case SVT_MODE_4LEVEL:
		return svt_walk_l4(env, r, acc, flags, w);
	case SVT_MODE_5LEVEL:
		return svt_walk_l5(env, r, acc, flags, w);
	case SVT_MODE_INVALID:
		break;
	}
	w->status = SVT_WALK_GP;
	return SVT_WALK_GP;
}

uint64_t svt_rsvd_mask(const struct svt_regs *r, enum svt_mode mode,
		       unsigned level, bool large)
{
	switch (mode) {
	case SVT_MODE_2LEVEL:
		return svt_rsvd_mask_l2(r, level, large);
	case SVT_MODE_PAE:
		return svt_rsvd_mask_l3(r, level, large);
	case SVT_MODE_4LEVEL:
		return svt_rsvd_mask_l4(r, level, large);
	case SVT_MODE_5LEVEL:
		return svt_rsvd_mask_l5(r, level, large);
	default:
		return 0;
	}
}

int svt_pae_load_pdptes(const struct svt_env *env, struct svt_regs *r)
{
	uint64_t base = r->cr3 & 0xffffffe0u;
	uint64_t mask = svt_rsvd_mask_l3(r, 3, false);
	uint64_t pdpte[4];
	uint8_t raw[32];

	/* the four in one read: 32 bytes aligned to 32 never cross a page */
	if (env->read_gpa(env->ctx, base, raw, sizeof(raw)) != 0)
		return -2;
	for (unsigned i = 0; i < 4; i++) {
		pdpte[i] = svt_le_load(raw + 8 * i, 8);
		if ((pdpte[i] & SVT_PTE_P) && (pdpte[i] & mask))
			return -1;
	}
	for (unsigned i = 0; i < 4; i++)
		r->pdpte[i] = pdpte[i];
	return 0;
}
