/*
 * mmu_audit.c — the invariant checks of DESIGN.md over the shadow MMU's
 * state, reported as data (struct svt_violation), in the spirit of Xen's
 * SHADOW_AUDIT levels.  SVT_AUDIT_STRUCT checks the bookkeeping (INV-STRUCT),
 * SVT_AUDIT_ENTRIES every entry of every shadow against the guest entry it
 * came from (INV-SYNC, INV-WP), SVT_AUDIT_WALK every translation the current
 * root gives against a fresh walk of the guest's tables (INV-PERM,
 * INV-FRAME).  The walk audit deliberately does not reuse the propagation
 * code: it reconstructs each address and asks the walker.
 */
#include "mmu_int.h"

const char *svt_invariant_name(enum svt_invariant inv)
{
	static const char *const names[] = {
		"INV-PERM", "INV-FRAME", "INV-WP", "INV-SYNC", "INV-STRUCT", "INV-FAULT",
		"INV-REPLAY", "INV-PROGRESS", "INV-CR", "INV-CPU",
	};
	return (unsigned)inv < sizeof(names) / sizeof(names[0]) ? names[inv] : "INV-?";
}

struct audit {
	struct svt_mmu *m;
	struct svt_violation *out;
	unsigned max, n;
};

static void report(struct audit *a, enum svt_invariant inv, uint64_t va, uint64_t gfn,
		   uint32_t spi, unsigned idx, uint64_t ge, uint64_t se, const char *what)
{
	if (a->n < a->max) {
		struct svt_violation *v = &a->out[a->n];
		v->inv = inv;
		v->va = va;
		v->gfn = svt_gfn(gfn);
		v->shadow_mfn = spi != SP_NONE ? SP(a->m, spi)->mfn : svt_mfn(0);
		v->index = idx;
		v->level = spi != SP_NONE ? SP(a->m, spi)->level : 0;
		v->guest_entry = ge;
		v->shadow_entry = se;
		v->what = what;
	}
	a->n++;
}

/* Does shadow entry e point to machine frame mfn (compared as the entry
 * holds it: as an address, mfn << 12)? */
static bool maps_mfn(const struct svt_mmu *m, sh_entry_t e, svt_mfn_t mfn)
{
	return sh_frame(m, e) == svt_mfn_x(mfn) << 12;
}

/* Bits the hardware may change in a shadow entry by itself. */
#define HW_AD (SVT_PTE_A | SVT_PTE_D)

/*
 * A present shadow entry agrees with the entry propagation would make now
 * if it is that entry, or that entry less write permission (the D bit or a
 * page-table write protection not yet reflected: a spurious fault fixes it,
 * as for a TLB entry with fewer rights).
 */
static bool within(sh_entry_t se, sh_entry_t swant)
{
	uint64_t e = sh_entry_x(se), want = sh_entry_x(swant);

	if (!(want & SVT_PTE_P))
		return false;
	if ((e ^ want) & ~(HW_AD | SVT_PTE_RW))
		return false;
	return !(e & SVT_PTE_RW) || (want & SVT_PTE_RW);
}

/*
 * A path entry wp0_grant() made (mmu_fault.c), while the guest's CR0.WP=0:
 * the entry propagation would make, less U/S, with R/W (and XD) added
 * (R/W taken away again where its frame became a page table since).
 * Whether the rights it gives are the guest's is the walk audit's to say
 * (check_leaf()), which sees the whole path.
 */
static bool wp0_within(const struct svt_mmu *m, sh_entry_t se, sh_entry_t swant)
{
	uint64_t e = sh_entry_x(se), want = sh_entry_x(swant);

	if ((m->v.g.cr0 & SVT_CR0_WP) || !(want & SVT_PTE_P) || (e & SVT_PTE_US) ||
	    ((want & SVT_PTE_XD) && !(e & SVT_PTE_XD)))
		return false;
	return ((e ^ want) & ~(HW_AD | SVT_PTE_RW | SVT_PTE_US | SVT_PTE_XD)) == 0;
}

/* ---- INV-STRUCT ----------------------------------------------------------- */

/* INV-STRUCT of shadow page i, in use: its hash key, its parents, its
 * entries and their counts.  Returns its leaves that map RAM; *found: the
 * hash finds it by its key. */
static unsigned struct_page(struct audit *a, uint32_t i, bool *found)
{
	struct svt_mmu *m = a->m;
	struct sh_page *p = SP(m, i);
	unsigned leaves = 0;

	*found = sp_lookup(m, p->gfn, p->type, p->sub) == i;
	if (!*found)
		report(a, SVT_INV_STRUCT, 0, p->gfn, i, 0, 0, 0,
		       "shadow page not found by its hash key");
	/* parents: the list matches refs and each entry points here */
	uint32_t nparents = 0;
	for (uint32_t l = p->parents; l != 0 && nparents <= m->d.nlinks;
	     l = m->d.links[l - 1].next) {
		const struct sh_link *k = &m->d.links[l - 1];
		nparents++;
		if (k->sp == 0 || k->sp > m->d.cfg.pool_frames || SP(m, k->sp)->type == SH_FREE ||
		    !sh_present(sh_get(m, k->sp, k->idx)) || sp_aux(m, k->sp)[k->idx] != i ||
		    !maps_mfn(m, sh_get(m, k->sp, k->idx), p->mfn))
			report(a, SVT_INV_STRUCT, 0, p->gfn, i, k->idx, 0, 0,
			       "back-pointer to an entry that does not point here");
	}
	if (nparents != p->refs)
		report(a, SVT_INV_STRUCT, 0, p->gfn, i, 0, nparents, p->refs,
		       "reference count differs from the number of back-pointers");
	/* children and leaves */
	unsigned n = sp_nents(m, p), present = 0;
	for (unsigned idx = 0; idx < n; idx++) {
		sh_entry_t e = sh_get(m, i, idx);
		if (!sh_present(e))
			continue;
		present++;
		if (idx < p->lo || idx >= p->hi)
			report(a, SVT_INV_STRUCT, 0, p->gfn, i, idx, p->lo, p->hi,
			       "a present entry outside the page's present range");
		if (p->level == 1) {
			/* (a passed-through device frame has no reverse map) */
			if (gfn_is_ram(m, sp_aux(m, i)[idx]))
				leaves++;
			continue;
		}
		uint32_t c = sp_aux(m, i)[idx];
		if (c == SP_NONE || c > m->d.cfg.pool_frames || SP(m, c)->type == SH_FREE ||
		    !maps_mfn(m, e, SP(m, c)->mfn))
			report(a, SVT_INV_STRUCT, 0, p->gfn, i, idx, 0, sh_entry_x(e),
			       "non-leaf entry does not point to the shadow page noted for it");
	}
	if (present != p->present)
		report(a, SVT_INV_STRUCT, 0, p->gfn, i, 0, present, p->present,
		       "count of present entries is off");
	return leaves;
}

/* INV-STRUCT of guest frame gfn: its reverse map, its page-table count, its
 * out-of-sync slot.  Returns its reverse-map nodes (at most budget + 1).
 * none_unless_counted: the hash is known to hold no table-type shadow of a
 * frame whose count is 0 (audit_struct()), so such a frame's count is not
 * looked up again. */
static uint32_t struct_gfn(struct audit *a, uint64_t gfn, uint64_t budget, bool none_unless_counted)
{
	struct svt_mmu *m = a->m;
	svt_mfn_t mfn = SVT_INVALID_MFN;
	unsigned pt = 0;
	uint32_t rmaps = 0;

	for (uint32_t l = m->d.gi[gfn].rmap; l != 0; l = m->d.links[l - 1].next) {
		const struct sh_link *k = &m->d.links[l - 1];
		if (++rmaps > budget)
			break;
		if (!svt_mfn_valid(mfn))
			mfn = m->d.env.gfn_to_mfn(m->d.env.ctx, svt_gfn(gfn));
		sh_entry_t e = k->sp && k->sp <= m->d.cfg.pool_frames ? sh_get(m, k->sp, k->idx) :
									 SH_ENTRY_NONE;
		if (SP(m, k->sp)->level != 1 || !sh_present(e) ||
		    sp_aux(m, k->sp)[k->idx] != gfn || !maps_mfn(m, e, mfn))
			report(a, SVT_INV_STRUCT, 0, gfn, k->sp, k->idx, 0, sh_entry_x(e),
			       "reverse-map node for an entry that does not map the frame");
	}
	for (unsigned t = SH_L1; t <= SH_L5 && (m->d.gi[gfn].pt != 0 || !none_unless_counted); t++)
		pt += sp_nparts(m, gfn, t);
	if (pt != m->d.gi[gfn].pt)
		report(a, SVT_INV_STRUCT, 0, gfn, SP_NONE, 0, pt, m->d.gi[gfn].pt,
		       "page-table count differs from the shadows of the frame");
	unsigned s = m->d.gi[gfn].oos;
	if (s && (!m->d.oos[s - 1].used || m->d.oos[s - 1].gfn != gfn || pt == 0 ||
		  pt != sp_nparts(m, gfn, SH_L1)))
		report(a, SVT_INV_STRUCT, 0, gfn, SP_NONE, 0, 0, 0,
		       "out-of-sync slot inconsistent");
	if (m->d.gi[gfn].forced) {
		unsigned k = 0;
		while (k < OOS_FORCED_MAX && m->d.forced[k] != gfn)
			k++;
		if (k == OOS_FORCED_MAX || pt == 0 || s)
			report(a, SVT_INV_STRUCT, 0, gfn, SP_NONE, 0, 0, 0,
			       "table unsynced by force not in the forced list, or not a table");
	}
	return rmaps;
}

/* The free shadow pages: returns how many, at most pool_frames + 1. */
static uint64_t free_pages(struct audit *a)
{
	struct svt_mmu *m = a->m;
	uint64_t free_n = 0;
	uint32_t last = SP_NONE;

	for (uint32_t i = m->d.free_sp; i != SP_NONE; i = SP(m, i)->hash_next) {
		if (SP(m, i)->type != SH_FREE || ++free_n > m->d.cfg.pool_frames) {
			report(a, SVT_INV_STRUCT, 0, 0, i, 0, 0, 0,
			       "free list holds a page in use, or loops");
			return free_n;
		}
		if (last != SP_NONE && SP(m, i)->fdepth + 1 != SP(m, last)->fdepth) {
			report(a, SVT_INV_STRUCT, 0, 0, i, 0, SP(m, i)->fdepth, SP(m, last)->fdepth,
			       "free list depths do not count down");
			return free_n;
		}
		last = i;
	}
	if (last != SP_NONE && SP(m, last)->fdepth != 1)
		report(a, SVT_INV_STRUCT, 0, 0, last, 0, SP(m, last)->fdepth, 1,
		       "free list depths do not count down");
	m->d.al.sp_head = (uint32_t)free_n;
	return free_n;
}

/* The free list after a whole audit: the pages taken since lie at depths
 * sp_lo and above, and the list below them is as that audit saw it (no one
 * links a page into the list but sp_free(), at the top); the pages now
 * above that are checked, and the count is the top's depth. */
static uint64_t free_pages_incr(struct audit *a)
{
	struct svt_mmu *m = a->m;
	struct audit_log *al = &m->d.al;
	uint32_t h = m->d.free_sp;
	uint32_t hd = h != SP_NONE && h <= m->d.cfg.pool_frames ? SP(m, h)->fdepth : 0;
	uint32_t lo = al->sp_lo < al->sp_head + 1 ? al->sp_lo : al->sp_head + 1;

	if (hd > m->d.cfg.pool_frames || (h != SP_NONE && hd == 0))
		hd = 0, lo = 1;         /* not believable: let the walk below report it */
	uint32_t d = hd;
	for (uint32_t i = h; i != SP_NONE && d >= lo; i = SP(m, i)->hash_next, d--) {
		if (i > m->d.cfg.pool_frames || SP(m, i)->type != SH_FREE ||
		    SP(m, i)->fdepth != d) {
			report(a, SVT_INV_STRUCT, 0, 0, i, 0,
			       i <= m->d.cfg.pool_frames ? SP(m, i)->fdepth : 0, d,
			       "free list holds a page in use, or a wrong depth");
			break;
		}
	}
	al->sp_head = hd;
	al->sp_lo = UINT32_MAX;
	return hd;
}

/* Is free link l (1-based) a free node whose idx is its depth in the free
 * stack: one more than the next node's, 1 at the bottom? */
static bool free_link_ok(const struct svt_mmu *m, uint32_t l)
{
	if (l == 0 || l > m->d.nlinks)
		return false;
	const struct sh_link *k = &m->d.links[l - 1];
	if (k->sp != 0)
		return false;
	if (k->next == 0)
		return k->idx == 1;
	return k->next <= m->d.nlinks && m->d.links[k->next - 1].sp == 0 &&
	       m->d.links[k->next - 1].idx + 1 == k->idx;
}

/*
 * Do the hash chains end, in the pool, within pool_frames pages in all
 * (as they do when no two share a page)?  Then every lookup ends, having
 * read only pool pages (the lookups of struct_gfn() may then be left out
 * where they would find nothing).  False also where they might end but
 * take longer: the caller then looks everything up.
 */
static bool hash_chains_end(struct svt_mmu *m)
{
	uint32_t hops = 0;

	for (unsigned b = 0; b < m->d.nbuckets; b++)
		for (uint32_t i = m->d.hash[b]; i != SP_NONE; i = SP(m, i)->hash_next)
			if (i > m->d.cfg.pool_frames || ++hops > m->d.cfg.pool_frames)
				return false;
	return true;
}

/* The stamp of the newest entry of eviction's memo (evict_pick()) still
 * as remembered (its page in use, its stamp the same); *valid: how many
 * entries are. */
static uint64_t memo_newest(struct svt_mmu *m, uint32_t *valid)
{
	const struct evict_memo *e = &m->d.ev;
	uint64_t newest = 0;

	*valid = 0;
	for (uint32_t k = e->pos; k < e->n && k < EVICT_MEMO; k++) {
		uint32_t i = e->spi[k];
		if (i == SP_NONE || i > m->d.cfg.pool_frames || SP(m, i)->type == SH_FREE ||
		    SP(m, i)->stamp != e->stamp[k])
			continue;
		(*valid)++;
		newest = e->stamp[k];
	}
	return newest;
}

/* The memo's entries [pos, n) are in the order of their stamps, and those
 * still as remembered are older than every other page in use, so that the
 * first of them that may go is the pool's least recently used page that
 * may: pages_le, the pages in use whose stamp is at most the newest such
 * entry's, are exactly the valid entries. */
static void memo_check(struct audit *a, uint32_t valid, uint64_t pages_le)
{
	const struct svt_mmu *m = a->m;
	const struct evict_memo *e = &m->d.ev;

	for (uint32_t k = e->pos + 1; k < e->n && k < EVICT_MEMO; k++)
		if (e->stamp[k - 1] >= e->stamp[k]) {
			report(a, SVT_INV_STRUCT, 0, 0, e->spi[k], 0, e->stamp[k - 1], e->stamp[k],
			       "eviction's memo out of order");
			return;
		}
	if (e->pos > e->n || e->n > EVICT_MEMO || pages_le != valid)
		report(a, SVT_INV_STRUCT, 0, 0, SP_NONE, 0, pages_le, valid,
		       "eviction's memo misses a page older than one it holds");
}

/*
 * The whole INV-STRUCT.  A frame's page-table count is checked against
 * the table types the hash finds for it (struct_gfn()); most frames have
 * a count of 0 and, when the hash finds no table-type shadow of any such
 * frame, nothing to look up.  That is known from the pool: a lookup of
 * (gfn, table type, part) that finds page r finds a page in use with that
 * key, and the lookup of r's own key (struct_page()) is that very lookup,
 * so it finds r too.  Thus if every page in use that its key finds, of a
 * table type and a part below sh_parts(), shadows a frame with a count
 * above 0 (and every
 * lookup ends: hash_chains_end()), the lookups for a frame with a count of
 * 0 find nothing, as the count says; otherwise every frame is looked up.
 */
static void audit_struct(struct audit *a)
{
	struct svt_mmu *m = a->m;
	uint64_t used = 0, free_n = free_pages(a), leaves = 0, rmaps = 0;
	bool counted = true;    /* every table-type shadow the hash finds is of a counted frame */
	uint32_t memo_valid;
	uint64_t memo_top = memo_newest(m, &memo_valid), memo_le = 0;

	for (uint32_t i = 1; i <= m->d.cfg.pool_frames; i++) {
		struct sh_page *p = SP(m, i);
		bool found;
		p->aused = p->type != SH_FREE;
		p->aleaves = 0;
		if (p->type == SH_FREE)
			continue;
		used++;
		memo_le += memo_valid && p->stamp <= memo_top;
		p->aleaves = (uint16_t)struct_page(a, i, &found);
		leaves += p->aleaves;
		if (found && sh_is_table(p->type) && p->sub < sh_parts(m, p->type) &&
		    gfn_is_ram(m, p->gfn) &&
		    m->d.gi[p->gfn].pt == 0)
			counted = false;
	}
	if (used != m->d.c.pool_used || used + free_n != m->d.cfg.pool_frames)
		report(a, SVT_INV_STRUCT, 0, 0, SP_NONE, 0, used, free_n, "pool accounting is off");
	memo_check(a, memo_valid, memo_le);
	/* reverse maps */
	counted = counted && hash_chains_end(m);
	for (uint64_t gfn = 0; gfn < m->d.cfg.guest_frames && rmaps <= m->d.nlinks; gfn++) {
		struct gfn_info *gi = &m->d.gi[gfn];
		if (counted && gi->rmap == 0 && gi->pt == 0 && gi->oos == 0 && gi->forced == 0) {
			gi->armap = 0;  /* struct_gfn() would find nothing to report */
			continue;
		}
		gi->armap = struct_gfn(a, gfn, m->d.nlinks - rmaps, counted);
		rmaps += gi->armap;
	}
	if (rmaps != leaves)
		report(a, SVT_INV_STRUCT, 0, 0, SP_NONE, 0, rmaps, leaves,
		       "reverse-map nodes differ from present shadow leaves");
	/* the free-link stack, each node checked by free_link_ok() */
	const struct sh_link *lk = m->d.links;
	uint32_t freelinks = 0, nl = m->d.nlinks;
	for (uint32_t l = m->d.free_link; l != 0 && freelinks <= nl; l = lk[l - 1].next) {
		/* A run of nodes each followed by the next one in memory, as
		 * most of the stack is: free_link_ok() of each written out for
		 * that case, the next node's place taken from l rather than
		 * loaded (so that the loads need not wait on each other). */
		while (l < nl && freelinks <= nl && lk[l - 1].next == l + 1 && lk[l - 1].sp == 0 &&
		       lk[l].sp == 0 && lk[l].idx + 1 == lk[l - 1].idx) {
			freelinks++;
			l++;
		}
		if (freelinks > nl)
			break;
		freelinks++;
		if (!free_link_ok(m, l)) {
			report(a, SVT_INV_STRUCT, 0, 0, SP_NONE, 0, l, freelinks,
			       "free-link stack holds a link in use, or a wrong depth");
			break;
		}
	}
	if (freelinks + m->d.links_used != m->d.nlinks)
		report(a, SVT_INV_STRUCT, 0, 0, SP_NONE, 0, freelinks, m->d.links_used,
		       "link accounting is off");
	if (m->v.root == SP_NONE || SP(m, m->v.root)->type == SH_FREE)
		report(a, SVT_INV_STRUCT, 0, 0, SP_NONE, 0, 0, 0, "no current root");
	m->d.al.used = used;
	m->d.al.leaves = leaves;
	m->d.al.rmaps = rmaps;
	m->d.al.head_depth = freelinks;
}

/* ---- INV-SYNC and INV-WP --------------------------------------------------- */

/* INV-SYNC and INV-WP of entries [from, to) of shadow page i. */
static void audit_page_entries(struct audit *a, uint32_t i, unsigned from, unsigned to)
{
	struct svt_mmu *m = a->m;

	{
		const struct sh_page *p = SP(m, i);
		unsigned n = to < sp_nents(m, p) ? to : sp_nents(m, p);
		bool oos = sh_is_table(p->type) && gfn_is_ram(m, p->gfn) && m->d.gi[p->gfn].oos;
		/* unsynced by force: any entry may be stale until the next flush */
		bool forced = sh_is_table(p->type) && gfn_forced(m, p->gfn);

		if (p->type == SH_FREE)
			return;
		if (p->type == SH_PAE_ROOT && i != m->v.root)
			return;         /* built from PDPTEs loaded earlier */
		for (unsigned idx = from; idx < n; idx++) {
			sh_entry_t e = sh_get(m, i, idx), want = SH_ENTRY_NONE;
			svt_gfn_t gfn;
			bool ok = true, large = false;
			g_entry_t ge = g_entry(0);

			if (!sh_present(e))
				continue;
			if (p->level == 1 && (sh_entry_x(e) & SVT_PTE_RW) &&
			    gfn_protected(m, sp_aux(m, i)[idx]))
				report(a, SVT_INV_WP, 0, sp_aux(m, i)[idx], i, idx, 0,
				       sh_entry_x(e), "a shadowed page table is writable");
			if (forced)
				continue;
			switch (p->type) {
			case SH_L1:
				ge = g_table_entry(m, p, idx, &ok);
				want = ok ? sh_leaf_from_guest(m, ge, &gfn) : SH_ENTRY_NONE;
				if (oos && !within(e, want)) {
					const uint8_t *snap = m->d.snap +
						(size_t)(m->d.gi[p->gfn].oos - 1) * SH_PAGE_SIZE;
					size_t off = (size_t)sh_gidx(m, p, idx) * m->d.gesize;
					ge = g_entry(svt_le_load(snap + off, m->d.gesize));
					want = sh_leaf_from_guest(m, ge, &gfn);
				}
				break;
			case SH_FL1:
				want = sh_leaf_splinter(m, svt_gfn(p->gfn + idx), p->sub);
				break;
			case SH_FL2:
				/* the link itself; checked by STRUCT */
				want = sh_get(m, i, idx);
				if (SP(m, sp_aux(m, i)[idx])->gfn != p->gfn + (uint64_t)idx * 512)
					report(a, SVT_INV_SYNC, 0, p->gfn, i, idx, 0, sh_entry_x(e),
					       "1 GiB splinter links the wrong 2 MiB piece");
				break;
			case SH_PDPT: {
				/* 2-on-3: entry q points to part q of the guest L2's shadow */
				const struct sh_page *cp = SP(m, sp_aux(m, i)[idx]);
				if (cp->gfn == p->gfn && cp->type == SH_L2 && cp->sub == idx)
					want = sh_nonleaf(m, g_entry(SVT_PTE_P), 3, false,
							  sp_aux(m, i)[idx]);
				break;
			}
			default: {
				ge = g_table_entry(m, p, idx, &ok);
				uint32_t c = sp_aux(m, i)[idx];
				if (p->type == SH_PAE_ROOT) {
					ok = ok && (g_entry_x(ge) & SVT_PTE_P);
					large = false;
				} else {
					ok = ok && g_entry_valid(m, ge, p->level, &large);
				}
				if (!ok) {
					want = SH_ENTRY_NONE;
					break;
				}
				uint64_t base = large ? (p->type == SH_PHYS ? (uint64_t)idx << 10 :
					(g_frame_of(m, ge, p->level) >> 12)) :
					g_frame_of(m, ge, 1) >> 12;
				unsigned ct = large ? (p->level == 3 ? SH_FL2 : SH_FL1) :
					(p->type == SH_PAE_ROOT ? SH_L2 : p->level - 1u);
				/* 2-on-3: a shadow L2 entry is one half of its guest
				 * entry, pointing to that half of the child */
				unsigned key = large ? sh_splinter_key(m, ge) :
					sh_child_part(m, p->type, idx);
				if (large && sh_span(m, p->type) == 2)
					base += (uint64_t)(idx & 1) * 512;
				const struct sh_page *cp = SP(m, c);
				if (cp->gfn != base || cp->type != ct || cp->sub != key) {
					want = SH_ENTRY_NONE;
					break;
				}
				want = sh_nonleaf(m,
						  g_entry(g_entry_x(ge) |
							  (p->type == SH_PAE_ROOT ? 0 : SVT_PTE_A)),
						  p->level, large, c);
				break;
			}
			}
			if (!within(e, want) && !wp0_within(m, e, want))
				report(a, SVT_INV_SYNC, 0, p->gfn, i, idx, g_entry_x(ge),
				       sh_entry_x(e), sh_entry_x(want) ?
				       "shadow entry differs from the guest entry it came from" :
				       "shadow entry present where the guest entry allows none");
		}
	}
}

static void audit_entries(struct audit *a)
{
	for (uint32_t i = 1; i <= a->m->d.cfg.pool_frames; i++)
		audit_page_entries(a, i, 0, SH_MAX_ENTRIES);
}

/* ---- INV-PERM and INV-FRAME --------------------------------------------- */

/*
 * A walk of the translations.  With cache (the incremental and the whole
 * audit, whose logs of changes say when a cache goes stale): a table-type
 * shadow page whose translations were all found clean keeps the context it
 * was reached in (sh_page.actx, audit_ctx()), and a later walk that
 * reaches it in the same context, nothing under it having changed since
 * (the page and every page above a changed one lose their context,
 * audit_incr()), skips it: each check below it would read the same
 * entries, shadow and guest, and find them clean again.  That holds only
 * if the guest's walks below it read no guest table other than those the
 * shadow pages under it shadow (whose changes the log notes): gfn_at[]
 * holds, per level below the root's, the guest frame the table-type page
 * on the current path shadows (~0: none, a splinter), and bad counts the
 * leaves whose guest walk read another table.
 */
struct walkctx {
	struct audit *a;
	bool cache;
	unsigned top;                   /* the root's level */
	uint64_t gfn_at[6];
	unsigned bad;
	struct svt_env env;             /* the walks' own: rd_cached() */
	struct {
		uint64_t gpa, val;
		unsigned len;           /* 0: empty */
	} rd[8];
};

/*
 * The walks' reads of guest memory, kept for the rest of the walk of the
 * translations: nothing changes guest memory during an audit, and the walk
 * of each leaf reads the entries above it again, as the walk of the leaf
 * before it did (one read kept per (gpa >> 12) % 8: the upper tables are
 * usually different frames).  Reads that fail are not kept.
 */
static int rd_cached(void *ctx, uint64_t gpa, void *buf, size_t len)
{
	struct walkctx *wc = ctx;
	const struct svt_env *env = &wc->a->m->d.env;

	if (len > 8)
		return env->read_gpa(env->ctx, gpa, buf, len);
	unsigned k = (unsigned)(gpa >> 12) & 7;
	if (wc->rd[k].len == len && wc->rd[k].gpa == gpa) {
		svt_le_store(buf, wc->rd[k].val, (unsigned)len);
		return 0;
	}
	int rc = env->read_gpa(env->ctx, gpa, buf, len);
	if (rc == 0) {
		wc->rd[k].gpa = gpa;
		wc->rd[k].val = svt_le_load(buf, (unsigned)len);
		wc->rd[k].len = (unsigned)len;
	}
	return rc;
}

static void walkctx_init(struct walkctx *wc, struct audit *a, bool cache)
{
	*wc = (struct walkctx){ .a = a, .cache = cache && a->m->v.mode != SVT_MODE_NONE };
	/* all a walk without SVT_WALK_SET_AD calls */
	wc->env = (struct svt_env){ .ctx = wc, .read_gpa = rd_cached };
}

/* Check one present shadow leaf: the guest's own walk of va must allow at
 * least what the shadow grants, through the frame it maps. */
static void check_leaf(struct audit *a, struct walkctx *wc, uint64_t va, unsigned srights,
		       sh_entry_t sh, uint32_t spi, unsigned idx)
{
	uint64_t se = sh_entry_x(sh);
	struct svt_mmu *m = a->m;
	struct svt_access acc = { .va = va, .kind = SVT_ACC_READ, .cpl = 0 };
	struct svt_regs g = m->v.g;
	struct svt_walk w;

	/* The page-level rights are what matter: no SMAP, SMEP or keys in
	 * the way of the audit's own walk. */
	g.cr4 &= ~(SVT_CR4_SMAP | SVT_CR4_SMEP | SVT_CR4_PKE);
	if (m->v.mode == SVT_MODE_NONE) {
		svt_mfn_t mfn = g_mfn(m, svt_gfn((va & 0xffffffffu) >> 12));
		if (!svt_mfn_valid(mfn) || !maps_mfn(m, sh, mfn))
			report(a, SVT_INV_FRAME, va, va >> 12, spi, idx, 0, se,
			       "1:1 shadow maps the wrong frame");
		return;
	}
	if (svt_walk(wc ? &wc->env : &m->d.env, &g, &acc, SVT_WALK_CORE, &w) != SVT_WALK_OK) {
		report(a, SVT_INV_PERM, va, 0, spi, idx, w.error_code, se,
		       "shadow maps an address the guest's tables do not");
		return;
	}
	for (unsigned l = 0; wc && wc->cache && l < w.nlevels; l++) {
		const struct svt_walk_level *lv = &w.lv[l];
		if (lv->level < wc->top && lv->table >> 12 != wc->gfn_at[lv->level])
			wc->bad++;      /* a table no shadow page on this path shadows */
	}
	for (unsigned l = 0; l < w.nlevels; l++) {
		if (m->v.mode == SVT_MODE_PAE && w.lv[l].level == 3)
			continue;
		if (!(w.lv[l].entry & SVT_PTE_A))
			report(a, SVT_INV_PERM, va, w.gpa >> 12, spi, idx, w.lv[l].entry, se,
			       "shadow present while a guest entry's A bit is clear");
	}
	uint64_t gleaf = w.lv[w.nlevels - 1].entry;
	uint64_t cr4 = m->v.g.cr4;
	/* The hardware runs with CR0.WP=1 and the guest's SMEP, SMAP and
	 * keys; the guest may have CR0.WP=0, which lets the supervisor (only)
	 * write read-only pages.  A supervisor-only shadow of a user page
	 * gives the supervisor what SMAP and keys would take away, and a
	 * supervisor fetch SMEP forbids unless it is XD. */
	if ((srights & SVT_RIGHT_W) && (!(gleaf & SVT_PTE_D) ||
	    (!(w.rights & SVT_RIGHT_W) && ((m->v.g.cr0 & SVT_CR0_WP) || (srights & SVT_RIGHT_U)))))
		report(a, SVT_INV_PERM, va, w.gpa >> 12, spi, idx, gleaf, se,
		       "shadow writable where the guest is read-only or not dirty");
	if ((srights & SVT_RIGHT_U) && !(w.rights & SVT_RIGHT_U))
		report(a, SVT_INV_PERM, va, w.gpa >> 12, spi, idx, gleaf, se,
		       "shadow user-accessible where the guest is supervisor-only");
	/* (a step's grant, svt_mmu_step_done(), makes it so until the step ends) */
	if (!(srights & SVT_RIGHT_U) && (w.rights & SVT_RIGHT_U) &&
	    ((cr4 & SVT_CR4_SMAP) || ((cr4 & SVT_CR4_PKE) && m->v.mode >= SVT_MODE_4LEVEL) ||
	     ((cr4 & SVT_CR4_SMEP) && (srights & SVT_RIGHT_X))) && !step_covers(m, va))
		report(a, SVT_INV_PERM, va, w.gpa >> 12, spi, idx, gleaf, se,
		       "shadow supervisor-only where the guest's user page is kept from the "
		       "supervisor (SMAP, SMEP or keys)");
	if ((srights & SVT_RIGHT_X) && !(w.rights & SVT_RIGHT_X) && (m->v.g.efer & SVT_EFER_NXE))
		report(a, SVT_INV_PERM, va, w.gpa >> 12, spi, idx, gleaf, se,
		       "shadow executable where the guest forbids execution");
	if (m->v.mode >= SVT_MODE_4LEVEL && svt_pte_pkey(se) != w.pkey)
		report(a, SVT_INV_PERM, va, w.gpa >> 12, spi, idx, gleaf, se,
		       "shadow carries a different protection key");
	svt_mfn_t mfn = g_mfn(m, svt_gfn(w.gpa >> 12));
	if (!svt_mfn_valid(mfn) || !maps_mfn(m, sh, mfn))
		report(a, SVT_INV_FRAME, va, w.gpa >> 12, spi, idx, gleaf, se,
		       "shadow maps a different machine frame than the guest frame's");
}

/* va as the guest's walk takes it: sign-extended from bit 47 or 56 where
 * the shadow has four or five levels. */
static uint64_t canonical(const struct svt_mmu *m, uint64_t v)
{
	if (m->d.smode < SVT_MODE_4LEVEL)
		return v;
	unsigned bits = m->d.smode == SVT_MODE_5LEVEL ? 57 : 48;
	return (uint64_t)((int64_t)(v << (64 - bits)) >> (64 - bits));
}

/*
 * The context table-type shadow page p is reached in at va (the bits
 * above its own; the lower 12 are clear) with shadow rights r: what every
 * check under p reads from outside it.  That is va and r, and of the
 * guest's walk the part above p's level: it must reach the table p
 * shadows, through entries whose A bits are set, and it contributes only
 * its rights (SVT_RIGHT_*, as the walker accumulates them) to the walks
 * below (CR0, CR4, EFER and the mode are those of the last audit, or the
 * audit is a whole one).  Packed as va | rights << 4 | r << 1 | 1; 0 where
 * the walk above does not reach p's table (then p is walked, and not
 * cached).
 */
static uint64_t audit_ctx(struct walkctx *wc, const struct sh_page *p, uint64_t va, unsigned r)
{
	struct svt_mmu *m = wc->a->m;
	struct svt_access acc = { .va = canonical(m, va), .kind = SVT_ACC_READ, .cpl = 0 };
	struct svt_regs g = m->v.g;
	struct svt_walk w;
	unsigned grights = SVT_RIGHT_W | SVT_RIGHT_U | SVT_RIGHT_X;

	if (!wc->cache || !sh_is_table(p->type) || p->level >= wc->top || (va & 0xfff))
		return 0;
	g.cr4 &= ~(SVT_CR4_SMAP | SVT_CR4_SMEP | SVT_CR4_PKE);      /* as check_leaf() */
	if (svt_walk(&wc->env, &g, &acc, SVT_WALK_CORE, &w) == SVT_WALK_ENV)
		return 0;
	for (unsigned l = 0; l < w.nlevels; l++) {
		const struct svt_walk_level *lv = &w.lv[l];
		if (lv->level <= p->level)
			return lv->level == p->level && lv->table == p->gfn << 12 ?
			       va | (uint64_t)grights << 4 | (uint64_t)(r & 7) << 1 | 1 : 0;
		if (!(m->v.mode == SVT_MODE_PAE && lv->level == 3) && !(lv->entry & SVT_PTE_A))
			return 0;
		grights = lv->rights;
	}
	return 0;
}

/* The translations under shadow page spi; all false (an incremental
 * audit): only those under pages in the audit's log, descending only
 * through pages marked as above one (struct audit_log).  Below the root,
 * a page found clean before in the same context is skipped (struct
 * walkctx). */
static void walk_tree(struct walkctx *wc, uint32_t spi, uint64_t va, unsigned rights,
		      unsigned depth, bool all)
{
	struct audit *a = wc->a;
	struct svt_mmu *m = a->m;
	struct sh_page *p = SP(m, spi);
	unsigned n = sp_nents(m, p);
	bool oos = p->type == SH_L1 && gfn_is_ram(m, p->gfn) && m->d.gi[p->gfn].oos;
	uint64_t ctx = 0;
	unsigned n0 = a->n, bad0 = wc->bad;

	if (depth > 6)
		return;
	if (sh_is_table(p->type) && gfn_forced(m, p->gfn)) {
		p->actx = 0;
		return;         /* may be stale until the next flush, as a TLB may */
	}
	all = all || p->alogged == 1;
	if (!all && p->level == 1)
		return;
	if (all && depth > 0 && wc->cache) {
		ctx = audit_ctx(wc, p, va, rights);
		if (ctx != 0 && p->actx == ctx)
			return;
	}
	if (depth == 0)
		wc->top = p->level;
	for (unsigned l = 0; l < p->level && l < 6; l++)
		wc->gfn_at[l] = ~0ull;
	if (p->level < 6)
		wc->gfn_at[p->level] = sh_is_table(p->type) ? p->gfn : ~0ull;
	for (unsigned idx = sh_next_present(m, spi, 0, n); idx < n;
	     idx = sh_next_present(m, spi, idx + 1, n)) {
		sh_entry_t se = sh_get(m, spi, idx);
		uint64_t e = sh_entry_x(se);
		if (!(e & SVT_PTE_P))
			continue;
		unsigned shift;
		if (m->d.smode == SVT_MODE_2LEVEL)
			shift = p->level == 2 ? 22 : 12;
		else
			shift = 12 + 9 * (p->level - 1);
		uint64_t v = va | ((uint64_t)idx << shift);
		unsigned r = rights;
		if (p->type != SH_PAE_ROOT && p->type != SH_PDPT) {     /* PDPTEs: no rights */
			if (!(e & SVT_PTE_RW))
				r &= ~SVT_RIGHT_W;
			if (!(e & SVT_PTE_US))
				r &= ~SVT_RIGHT_U;
			if (m->d.esize == 8 && (e & SVT_PTE_XD))
				r &= ~SVT_RIGHT_X;
		}
		if (p->level == 1) {
			if (oos || !all)
				continue;       /* may be stale until the next flush:
						 * INV-SYNC covers it */
			check_leaf(a, wc, canonical(m, v), r, se, spi, idx);
		} else if (all || (sp_aux(m, spi)[idx] - 1u < m->d.cfg.pool_frames &&
				   SP(m, sp_aux(m, spi)[idx])->alogged)) {
			walk_tree(wc, sp_aux(m, spi)[idx], v, r, depth + 1, all);
		}
	}
	if (all && depth > 0 && wc->cache)
		p->actx = ctx != 0 && a->n == n0 && wc->bad == bad0 ? ctx : 0;
}

/* ---- the incremental audit ----------------------------------------------- */

static void log_save_regs(struct svt_mmu *m)
{
	struct audit_log *al = &m->d.al;
	al->cr0 = m->v.g.cr0, al->cr3 = m->v.g.cr3, al->cr4 = m->v.g.cr4, al->efer = m->v.g.efer;
	for (unsigned i = 0; i < 4; i++)
		al->pdpte[i] = m->v.g.pdpte[i];
	al->root = m->v.root;
	al->mode = m->v.mode;
}

/* After a whole audit: the log starts over (audit_struct() set the totals). */
static void log_reset(struct svt_mmu *m)
{
	for (uint32_t i = 1; i <= m->d.cfg.pool_frames; i++)
		SP(m, i)->alogged = 0;
	for (uint64_t g = 0; g < m->d.cfg.guest_frames; g++)
		m->d.gi[g].alogged = 0;
	m->d.al.nsp = m->d.al.ngfn = 0;
	m->d.al.overflow = false;
	m->d.al.lo_depth = UINT32_MAX;
	m->d.al.sp_lo = UINT32_MAX;
	m->d.al.valid = true;
	log_save_regs(m);
}

/* No translations known clean: the log since then is lost (or the
 * registers every context assumes changed). */
static void ctx_reset(struct svt_mmu *m)
{
	for (uint32_t i = 1; i <= m->d.cfg.pool_frames; i++)
		SP(m, i)->actx = 0;
}

/* cache: for the incremental audits after it (struct walkctx) */
static void audit_whole(struct audit *a, bool cache)
{
	struct svt_mmu *m = a->m;
	audit_struct(a);
	audit_entries(a);
	ctx_reset(m);
	if (m->v.root != SP_NONE) {
		struct walkctx wc;
		walkctx_init(&wc, a, cache);
		walk_tree(&wc, m->v.root, 0, SVT_RIGHT_W | SVT_RIGHT_U | SVT_RIGHT_X, 0, true);
	}
	log_reset(m);
}

/*
 * What changed since the last audit (struct audit_log), checked as the
 * whole audit checks it: each frame in the log (reverse map, counts, slot;
 * INV-WP and INV-SYNC of the leaves mapping it), each shadow page in the
 * log or shadowing such a frame (INV-STRUCT of the page and of the hash
 * chain after it, INV-SYNC and INV-WP of its entries), the translations
 * under those pages (every one after a new root or CR3, less those under
 * pages found clean before in the same context: struct walkctx), the
 * totals kept since the last whole audit and the free-link stack above the
 * deepest node taken from it.  After a change of CR0, CR4 or EFER: every
 * entry and every translation, the bookkeeping as it changed.
 */
static void audit_incr(struct audit *a)
{
	struct svt_mmu *m = a->m;
	struct audit_log *al = &m->d.al;
	bool walk_all = false;
	/* CR0, CR4 and EFER bear on every entry and translation, not on
	 * the bookkeeping: all of those then, the rest as it changed */
	bool regs = al->cr0 != m->v.g.cr0 || al->cr4 != m->v.g.cr4 || al->efer != m->v.g.efer;

	if (!al->valid || al->overflow || al->mode != m->v.mode) {
		audit_whole(a, true);
		return;
	}
	if (regs) {
		walk_all = true;
		ctx_reset(m);
	}
	if (al->cr3 != m->v.g.cr3 || al->root != m->v.root || al->pdpte[0] != m->v.g.pdpte[0] ||
	    al->pdpte[1] != m->v.g.pdpte[1] || al->pdpte[2] != m->v.g.pdpte[2] ||
	    al->pdpte[3] != m->v.g.pdpte[3]) {
		walk_all = true;
		if (m->v.root != SP_NONE)
			audit_sp_dirty(m, m->v.root);   /* a PAE root's entries are the PDPTEs */
	}
	for (unsigned j = 0; j < al->ngfn; j++) {
		uint64_t g = al->gfn[j];
		struct gfn_info *gi = &m->d.gi[g];
		uint32_t n = struct_gfn(a, g, m->d.nlinks, false);
		al->rmaps += (uint64_t)n - gi->armap;
		gi->armap = n;
		unsigned k = 0;
		for (uint32_t l = regs ? 0 : gi->rmap; l != 0 && k <= m->d.nlinks;
		     l = m->d.links[l - 1].next, k++) {
			const struct sh_link *lk = &m->d.links[l - 1];
			if (lk->sp - 1u < m->d.cfg.pool_frames)
				audit_page_entries(a, lk->sp, lk->idx, lk->idx + 1);
		}
		for (unsigned t = SH_L1; t <= SH_L5; t++) {
			for (unsigned part = 0; part < sh_parts(m, t); part++) {
				uint32_t spi = sp_lookup(m, g, t, part);
				if (spi != SP_NONE)
					audit_sp_dirty(m, spi); /* its guest entries may have
								 * changed */
			}
		}
	}
	if (al->overflow) {
		a->n = 0;
		audit_whole(a, true);
		return;
	}
	for (unsigned j = 0; j < al->nsp; j++) {
		uint32_t i = al->sp[j];
		struct sh_page *p = SP(m, i);
		if (p->type == SH_FREE) {
			al->used -= p->aused;
			al->leaves -= p->aused ? p->aleaves : 0;
			p->aused = 0;
			p->aleaves = 0;
			continue;
		}
		bool found;
		unsigned lv = struct_page(a, i, &found);
		al->used += !p->aused;
		al->leaves += (uint64_t)lv - (p->aused ? p->aleaves : 0);
		p->aused = 1;
		p->aleaves = (uint16_t)lv;
		/* the hash chain from here (a page before it that changed is in the log) */
		unsigned hops = 0;
		for (uint32_t q = p->hash_next; q != SP_NONE; q = SP(m, q)->hash_next) {
			if (q > m->d.cfg.pool_frames || ++hops > m->d.cfg.pool_frames ||
			    SP(m, q)->type == SH_FREE ||
			    sp_lookup(m, SP(m, q)->gfn, SP(m, q)->type, SP(m, q)->sub) != q) {
				report(a, SVT_INV_STRUCT, 0, p->gfn, i, 0, q, 0,
				       "hash chain holds a free page, loops, or hides a page");
				break;
			}
		}
		/* each leaf maps its noted frame, as its reverse-map node says */
		if (p->level == 1) {
			unsigned n = sp_nents(m, p);
			for (unsigned idx = sh_next_present(m, i, 0, n); idx < n;
			     idx = sh_next_present(m, i, idx + 1, n)) {
				uint32_t g = sp_aux(m, i)[idx];
				if (gfn_is_ram(m, g) &&
				    !maps_mfn(m, sh_get(m, i, idx),
					      m->d.env.gfn_to_mfn(m->d.env.ctx, svt_gfn(g))))
					report(a, SVT_INV_STRUCT, 0, g, i, idx, 0,
					       sh_entry_x(sh_get(m, i, idx)),
					       "reverse-map node for an entry that does not map "
					       "the frame");
			}
		}
		if (!regs)
			audit_page_entries(a, i, 0, SH_MAX_ENTRIES);
	}
	if (regs)
		audit_entries(a);
	uint64_t free_n = free_pages_incr(a);
	if (al->used != m->d.c.pool_used || al->used + free_n != m->d.cfg.pool_frames)
		report(a, SVT_INV_STRUCT, 0, 0, SP_NONE, 0, al->used, free_n,
		       "pool accounting is off");
	if (al->rmaps != al->leaves)
		report(a, SVT_INV_STRUCT, 0, 0, SP_NONE, 0, al->rmaps, al->leaves,
		       "reverse-map nodes differ from present shadow leaves");
	/* the free-link stack: below depth lo - 1 it is as the last audit saw it */
	uint32_t h = m->d.free_link;
	uint32_t hd = h && h <= m->d.nlinks ? m->d.links[h - 1].idx : 0;
	uint32_t lo = al->lo_depth < al->head_depth + 1 ? al->lo_depth : al->head_depth + 1;
	bool ok = (h == 0 || free_link_ok(m, h)) && hd + m->d.links_used == m->d.nlinks &&
		  hd + 1 >= lo;
	for (uint32_t l = h, d = hd; ok && l != 0 && d >= lo; d--, l = m->d.links[l - 1].next)
		ok = free_link_ok(m, l) && m->d.links[l - 1].idx == d;
	if (!ok)
		report(a, SVT_INV_STRUCT, 0, 0, SP_NONE, 0, hd, m->d.links_used,
		       "link accounting is off");
	al->head_depth = hd;
	al->lo_depth = UINT32_MAX;
	if (m->v.root == SP_NONE || SP(m, m->v.root)->type == SH_FREE)
		report(a, SVT_INV_STRUCT, 0, 0, SP_NONE, 0, 0, 0, "no current root");
	/* the translations: mark the pages above those in the log; none of
	 * them keeps a context it was found clean in (struct walkctx) */
	bool lost = false;
	for (unsigned j = 0; j < al->nsp; j++) {
		struct sh_page *p = SP(m, al->sp[j]);
		unsigned k = 0;
		p->actx = 0;
		if (p->type == SH_FREE)
			continue;
		for (uint32_t l = p->parents; l != 0 && k++ <= m->d.nlinks;
		     l = m->d.links[l - 1].next) {
			uint32_t q = m->d.links[l - 1].sp;
			if (q - 1u >= m->d.cfg.pool_frames || SP(m, q)->alogged)
				continue;
			if (al->nsp == AUDIT_LOG_SP) {
				walk_all = lost = true;
				break;
			}
			SP(m, q)->alogged = 2;
			al->sp[al->nsp++] = q;
		}
	}
	if (lost)
		ctx_reset(m);
	if (m->v.root != SP_NONE) {
		struct walkctx wc;
		walkctx_init(&wc, a, true);
		walk_tree(&wc, m->v.root, 0, SVT_RIGHT_W | SVT_RIGHT_U | SVT_RIGHT_X, 0, walk_all);
	}
	for (unsigned j = 0; j < al->nsp; j++)
		SP(m, al->sp[j])->alogged = 0;
	for (unsigned j = 0; j < al->ngfn; j++)
		m->d.gi[al->gfn[j]].alogged = 0;
	al->nsp = al->ngfn = 0;
	log_save_regs(m);
}

unsigned svt_mmu_audit(struct svt_mmu *m, unsigned what, struct svt_violation *out, unsigned max)
{
	struct audit a = { .m = m, .out = out, .max = max, .n = 0 };

	if ((what & SVT_AUDIT_ALL) == SVT_AUDIT_ALL) {
		if (what & SVT_AUDIT_INCR)
			audit_incr(&a);
		else
			audit_whole(&a, false);
		return a.n;
	}
	if (what & SVT_AUDIT_STRUCT)
		audit_struct(&a);
	if (what & SVT_AUDIT_ENTRIES)
		audit_entries(&a);
	if ((what & SVT_AUDIT_WALK) && m->v.root != SP_NONE) {
		struct walkctx wc;
		walkctx_init(&wc, &a, false);
		walk_tree(&wc, m->v.root, 0, SVT_RIGHT_W | SVT_RIGHT_U | SVT_RIGHT_X, 0, true);
	}
	return a.n;
}

void svt_mmu_audit_note(struct svt_mmu *m, uint64_t gpa, uint64_t len)
{
	for (uint64_t g = gpa >> 12; len > 0 && g <= (gpa + len - 1) >> 12; g++)
		audit_gfn_dirty(m, g);
}

unsigned svt_mmu_audit_va(struct svt_mmu *m, uint64_t va, struct svt_violation *out, unsigned max)
{
	struct audit a = { .m = m, .out = out, .max = max, .n = 0 };
	struct svt_access acc = { .va = va, .kind = SVT_ACC_READ, .cpl = 0 };
	struct svt_walk w;

	if (m->v.mode < SVT_MODE_4LEVEL)
		acc.va &= 0xffffffffu;
	if (hw_walk(m, &acc, m->v.g.rflags, m->v.g.pkru, &w) != SVT_WALK_OK || w.nlevels == 0)
		return 0;       /* nothing mapped: nothing granted */
	/* Find the shadow page holding the leaf, for the report and the OOS test. */
	uint32_t spi = m->v.root;
	for (unsigned l = 0; l + 1 < w.nlevels && spi != SP_NONE; l++) {
		const struct svt_walk_level *lv = &w.lv[l];
		unsigned idx = (unsigned)((lv->entry_gpa & 0xfff) / m->d.esize);
		if (sh_is_table(SP(m, spi)->type) && gfn_forced(m, SP(m, spi)->gfn))
			return 0;       /* unsynced by force: may be stale until the next flush */
		spi = sp_aux(m, spi)[idx];
	}
	if (spi == SP_NONE || (sh_is_table(SP(m, spi)->type) && gfn_forced(m, SP(m, spi)->gfn)))
		return 0;
	const struct sh_page *p = SP(m, spi);
	if (p->type == SH_L1 && gfn_is_ram(m, p->gfn) && m->d.gi[p->gfn].oos)
		return 0;
	unsigned idx = (unsigned)((w.lv[w.nlevels - 1].entry_gpa & 0xfff) / m->d.esize);
	unsigned r = w.rights;
	/* (the hardware runs with NXE whenever shadows are 8-byte: an XD
	 * there, such as wp0_grant() sets under SMEP, holds even where the
	 * guest's EFER.NXE is 0) */
	if (m->d.esize == 4)
		r |= SVT_RIGHT_X;
	check_leaf(&a, NULL, acc.va, r, sh_entry(w.lv[w.nlevels - 1].entry), spi, idx);
	return a.n;
}
