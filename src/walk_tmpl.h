/*
 * walk_tmpl.h — the guest page-table walker, one instance per paging mode.
 *
 * Included by walk_l<N>.c with GUEST_LEVELS defined as 2 (32-bit paging),
 * 3 (PAE), 4 or 5 (IA-32e).  Everything mode-specific is a compile-time
 * constant or a small switch on the level, so each instance reads like a
 * walker written for its mode alone.  The rules are those of Intel SDM
 * Vol. 3A ch. 4; docs/core.md lists them with the project's choices.
 *
 * Invariants:
 *  - guest memory is read and written only through env;
 *  - a faulting walk leaves guest memory untouched;
 *  - w->lv[] holds every entry the walk used, top level first, as read.
 */
#ifndef GUEST_LEVELS
#error "define GUEST_LEVELS (2, 3, 4 or 5) before including walk_tmpl.h"
#endif

#include "walk_int.h"

#define SVT_PASTE2(a, b) a##b
#define SVT_PASTE(a, b) SVT_PASTE2(a, b)
#define FN(name) SVT_PASTE(name##_l, GUEST_LEVELS)

#if GUEST_LEVELS == 2
typedef uint32_t gentry_t;
#define GENTRY_SIZE 4
#define GINDEX_BITS 10          /* linear-address bits per level */
#else
typedef uint64_t gentry_t;
#define GENTRY_SIZE 8
#define GINDEX_BITS 9
#endif

#define IA32E (GUEST_LEVELS >= 4)

/*
 * Invariants the code below keeps by construction:
 *  - an entry is GENTRY_SIZE bytes, and a table is one 4 KiB page of
 *    2^GINDEX_BITS of them, which level_index() selects;
 *  - the PAE PDPT is 4 entries, 32 bytes (CR3 bits 31:5 locate it; two
 *    linear-address bits index it) and is the four pdpte[] registers;
 *  - the levels and the page offset cover the linear address: 32 bits,
 *    or the 48 or 57 of the canonical check;
 *  - a walk records at most GUEST_LEVELS entries in w->lv[] and A/D
 *    updates in w->ad[].
 */
_Static_assert(sizeof(gentry_t) == GENTRY_SIZE, "an entry is GENTRY_SIZE bytes");
_Static_assert((1u << GINDEX_BITS) * GENTRY_SIZE == 4096, "a table is one 4 KiB page");
_Static_assert(GUEST_LEVELS != 3 || (4 * GENTRY_SIZE == 32 &&
	       sizeof(((struct svt_regs *)0)->pdpte) == 4 * sizeof(uint64_t)),
	       "the PAE PDPT: four 8-byte entries in 32 bytes, as the four PDPTE registers");
_Static_assert(12 + GINDEX_BITS * GUEST_LEVELS - (GUEST_LEVELS == 3 ? 7 : 0) ==
	       (GUEST_LEVELS == 5 ? 57 : GUEST_LEVELS == 4 ? 48 : 32),
	       "the levels and the page offset cover the linear address");
_Static_assert(GUEST_LEVELS <= SVT_WALK_MAX_LEVELS, "w->lv[] and w->ad[] hold every level");

/* Bit position of the lowest linear-address bit that indexes a level. */
static inline unsigned FN(level_shift)(unsigned level)
{
#if GUEST_LEVELS == 2
	return level == 2 ? 22 : 12;
#else
	return 12 + 9 * (level - 1);
#endif
}

static inline unsigned FN(level_index)(uint64_t va, unsigned level)
{
#if GUEST_LEVELS == 3
	if (level == 3)
		return (unsigned)(va >> 30) & 0x3;
#endif
	return (unsigned)(va >> FN(level_shift)(level)) & ((1u << GINDEX_BITS) - 1);
}

/* Can PS=1 make an entry at this level a leaf? (Where PS is reserved the
 * reserved-bit mask catches it; where it is ignored this says no.) */
static inline bool FN(ps_selects_page)(const struct svt_regs *r, unsigned level)
{
#if GUEST_LEVELS == 2
	return level == 2 && (r->cr4 & SVT_CR4_PSE);
#elif GUEST_LEVELS == 3
	(void)r;
	return level == 2;
#else
	(void)r;
	return level == 2 || level == 3;
#endif
}

/*
 * What every entry of a walk must leave clear whatever its level: the
 * address bits above MAXPHYADDR, and XD without EFER.NXE (nothing for
 * 32-bit paging, whose only reserved bits are a 4 MiB PDE's).  Worked out
 * once a walk, not at every level.
 */
static inline uint64_t FN(rsvd_base)(const struct svt_regs *r)
{
#if GUEST_LEVELS == 2
	(void)r;
	return 0;
#else
	return svt_bits(GUEST_LEVELS == 3 ? 62 : 51, r->maxphyaddr) |
	       ((r->efer & SVT_EFER_NXE) ? 0 : SVT_PTE_XD);
#endif
}

/* The reserved-bit mask (svt_rsvd_mask()) of an entry at this level,
 * base being rsvd_base(r); inline, as the walk asks at every level. */
static inline uint64_t FN(rsvd_mask)(const struct svt_regs *r, uint64_t base, unsigned level,
				     bool large)
{
#if GUEST_LEVELS == 2
	unsigned m = r->maxphyaddr;
	(void)base;
	/* Only a 4 MiB PDE has reserved bits: bit 21, and the PSE-36 address
	 * bits 20:13 above MAXPHYADDR (PSE-36 reaches 40 bits at most). */
	if (level == 2 && large) {
		unsigned pm = m > 40 ? 40 : m;
		return svt_bits(21, 21) | svt_bits(20, pm - 19);
	}
	return 0;
#else
	uint64_t mask = base;
#if GUEST_LEVELS == 3
	if (level == 3) /* PDPTE register: 2:1, 8:5, 63:M */
		return svt_bits(2, 1) | svt_bits(8, 5) | svt_bits(63, r->maxphyaddr);
#else
	if (level >= 4)
		mask |= SVT_PTE_PS;
	if (level == 3 && !(r->features & SVT_FEAT_1GPAGE))
		mask |= SVT_PTE_PS;
	if (level == 3 && large)
		mask |= svt_bits(29, 13);
#endif
	if (level == 2 && large)
		mask |= svt_bits(20, 13);
	return mask;
#endif
}

uint64_t FN(svt_rsvd_mask)(const struct svt_regs *r, unsigned level, bool large)
{
	return FN(rsvd_mask)(r, FN(rsvd_base)(r), level, large);
}

/* The frame bits of an entry (MAXPHYADDR-1:12; 31:12 for 32-bit paging),
 * once a walk. */
static inline uint64_t FN(frame_bits)(const struct svt_regs *r)
{
#if GUEST_LEVELS == 2
	(void)r;
	return 0xfffff000u;
#else
	return svt_bits(r->maxphyaddr - 1, 12);
#endif
}

/* Guest-physical base of the page a leaf maps (fb: frame_bits(r)). */
static inline uint64_t FN(leaf_frame)(uint64_t fb, gentry_t e, unsigned level)
{
#if GUEST_LEVELS == 2
	(void)fb;
	if (level == 2) /* PSE-36: PDE bits 20:13 are address bits 39:32 */
		return (e & 0xffc00000u) | ((uint64_t)((e >> 13) & 0xff) << 32);
	return e & 0xfffff000u;
#else
	return e & fb & ~((1ull << FN(level_shift)(level)) - 1);
#endif
}

static inline uint64_t FN(table_of)(uint64_t fb, gentry_t e)
{
	return e & fb;
}

static enum svt_walk_status FN(fault)(struct svt_walk *w, uint32_t ec, uint64_t va)
{
	w->status = SVT_WALK_PF;
	w->error_code = ec;
	w->cr2 = va;
	w->nad = 0;
	return SVT_WALK_PF;
}

enum svt_walk_status FN(svt_walk)(const struct svt_env *env, const struct svt_regs *r,
				  const struct svt_access *acc, unsigned flags,
				  struct svt_walk *w)
{
	uint64_t va = acc->va;
	unsigned rights = SVT_RIGHT_W | SVT_RIGHT_U | SVT_RIGHT_X;
	const uint64_t fb = FN(frame_bits)(r), rsvd = FN(rsvd_base)(r);
	uint64_t table;
	unsigned level;

#if IA32E
	/* Canonical: bits 63:(N-1) all equal, N = 48 or 57. */
	{
		unsigned n = GUEST_LEVELS == 5 ? 57 : 48;
		int64_t sx = (int64_t)(va << (64 - n)) >> (64 - n);
		if ((uint64_t)sx != va) {
			w->status = SVT_WALK_GP;
			return SVT_WALK_GP;
		}
	}
	table = r->cr3 & fb;
#elif GUEST_LEVELS == 3
	va &= 0xffffffffu;
	table = r->cr3 & 0xffffffe0u;
#else
	va &= 0xffffffffu;
	table = r->cr3 & 0xfffff000u;
#endif

	/* Unrolled, so that each level's shifts, masks and reserved bits are
	 * constants rather than worked out at every step. */
#pragma GCC unroll 5
	for (level = GUEST_LEVELS; level >= 1; level--) {
		struct svt_walk_level *l = &w->lv[w->nlevels++];
		unsigned idx = FN(level_index)(va, level);
		gentry_t e;

		l->level = (uint8_t)level;
		l->size = GENTRY_SIZE;
		l->leaf = false;
		l->table = table;
		l->entry_gpa = table + (uint64_t)idx * GENTRY_SIZE;
#if GUEST_LEVELS == 3
		if (level == 3) {
			/* The PDPTE registers, not memory; validated at load. */
			e = r->pdpte[idx];
			l->entry = e;
			l->rights = (uint8_t)rights;
			if (!(e & SVT_PTE_P))
				return FN(fault)(w, svt_access_pfec(r, acc), va);
			table = FN(table_of)(fb, e);
			continue;
		}
#endif
		uint8_t raw[GENTRY_SIZE];
		if (env->read_gpa(env->ctx, l->entry_gpa, raw, sizeof(raw)) != 0) {
			w->status = SVT_WALK_ENV;
			return SVT_WALK_ENV;
		}
		e = (gentry_t)svt_le_load(raw, GENTRY_SIZE);
		l->entry = e;

		bool large = level > 1 && (e & SVT_PTE_PS) && FN(ps_selects_page)(r, level);
		if (!(e & SVT_PTE_P)) {
			l->rights = (uint8_t)rights;
			return FN(fault)(w, svt_access_pfec(r, acc), va);
		}
		if (e & FN(rsvd_mask)(r, rsvd, level, large)) {
			l->rights = (uint8_t)rights;
			return FN(fault)(w, svt_access_pfec(r, acc) | SVT_PFEC_P |
					 (SVT_WBUG(6, flags) ? 0 : SVT_PFEC_RSVD), va);
		}
		bool upper = !large && level > 1;
		if (!(e & SVT_PTE_RW) && !(SVT_WBUG(4, flags) && upper))
			rights &= ~SVT_RIGHT_W;
		if (!(e & SVT_PTE_US) && !(SVT_WBUG(3, flags) && upper))
			rights &= ~SVT_RIGHT_U;
#if GUEST_LEVELS != 2
		/* XD: reserved, hence caught above, unless NXE */
		if ((e & SVT_PTE_XD) && !(SVT_WBUG(5, flags) && upper))
			rights &= ~SVT_RIGHT_X;
#endif
		l->rights = (uint8_t)rights;
		if (large || level == 1) {
			l->leaf = true;
			w->page_size = 1ull << FN(level_shift)(level);
			w->gpa = FN(leaf_frame)(fb, e, level) | (va & (w->page_size - 1));
			break;
		}
		table = FN(table_of)(fb, e);
	}

	const struct svt_walk_level *leaf = &w->lv[w->nlevels - 1];
#if IA32E
	w->pkey = (uint8_t)svt_pte_pkey(leaf->entry);
#endif
	w->rights = (uint8_t)rights;
	uint32_t ec = svt_check_rights(r, acc, rights, IA32E, w->pkey);
	bool sv = acc->cpl < 3 || acc->implicit;        /* a supervisor-mode access */
	if (SVT_WBUG(10, flags) && !ec && acc->kind == SVT_ACC_WRITE && !(rights & SVT_RIGHT_W))
		ec = svt_access_pfec(r, acc) | SVT_PFEC_P;
	if (SVT_WBUG(11, flags) && acc->kind == SVT_ACC_FETCH && (rights & SVT_RIGHT_X) && sv)
		ec = 0;
	if (SVT_WBUG(12, flags) && !ec && (r->cr4 & SVT_CR4_SMAP) && sv &&
	    acc->kind != SVT_ACC_FETCH && (rights & SVT_RIGHT_U))
		ec = svt_access_pfec(r, acc) | SVT_PFEC_P;
	if (SVT_WBUG(13, flags))
		ec &= ~SVT_PFEC_PK;
	if (ec)
		return FN(fault)(w, ec, va);

	/* Success: A on every entry used, D on the leaf for a write. */
	for (unsigned i = 0; i < w->nlevels; i++) {
		const struct svt_walk_level *l = &w->lv[i];
		uint64_t nv = l->entry | (SVT_WBUG(7, flags) && l != leaf ? 0 : SVT_PTE_A);

#if GUEST_LEVELS == 3
		if (l->level == 3)
			continue;
#endif
		if (l == leaf && (acc->kind == SVT_ACC_WRITE || SVT_WBUG(8, flags)) &&
		    !(SVT_WBUG(9, flags) && (l->entry & SVT_PTE_A)))
			nv |= SVT_PTE_D;
		if (nv == l->entry)
			continue;
		struct svt_ad_update *u = &w->ad[w->nad++];
		u->gpa = l->entry_gpa;
		u->old = l->entry;
		u->new = nv;
		u->size = GENTRY_SIZE;
		if (flags & SVT_WALK_SET_AD) {
			uint8_t raw[GENTRY_SIZE];
			svt_le_store(raw, nv, GENTRY_SIZE);
			if (env->write_gpa(env->ctx, u->gpa, raw, sizeof(raw)) != 0) {
				w->status = SVT_WALK_ENV;
				return SVT_WALK_ENV;
			}
		}
	}
	w->status = SVT_WALK_OK;
	return SVT_WALK_OK;
}

#undef FN
#undef SVT_PASTE
#undef SVT_PASTE2
#undef IA32E
#undef GENTRY_SIZE
#undef GINDEX_BITS
