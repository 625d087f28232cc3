/*
 * mmu_oos.c — out-of-sync L1 pages (Xen's oos.c): with the out-of-sync
 * policy, an L1 page table the guest writes is made writable in every
 * shadow instead of having each write emulated; its contents as the shadow
 * reflects them are kept in a snapshot, and the page is brought back in
 * sync (entries that changed since the snapshot re-propagated) at the
 * flushes that cover it — INVLPG of one address, a CR3 load reaching it,
 * a full flush — or before it is linked under a new parent or shadowed as
 * another level.  Also here: l1_install(), the one way an SH_L1 entry is
 * set from a guest entry, which keeps the snapshot of an out-of-sync page
 * in step with its shadow.  A 2-level guest's L1 has two shadow pages
 * (2-on-3, mmu_int.h): part h shadows the guest bytes [2048h, 2048h +
 * 2048) of the page; each is resynced for its own half.
 */
#include "mmu_int.h"

/*
 * Guest pages are read, snapshotted and compared in pieces of OOS_PIECE
 * bytes: a piece without a present shadow entry has nothing to resync.
 * Invariants: the pieces tile a page, and each holds whole 8-byte words
 * (a resync skips unchanged words a word at a time).
 */
#define OOS_PIECE 512u
_Static_assert(SH_PAGE_SIZE % OOS_PIECE == 0 && OOS_PIECE % 8 == 0,
	       "snapshot pieces tile a page in whole words");

/* The snapshot of out-of-sync slot s: the guest page as its shadow reflects it. */
static uint8_t *snap_of(struct svt_mmu *m, unsigned slot)
{
	return m->d.snap + (size_t)slot * SH_PAGE_SIZE;
}

/* Set an SH_L1 entry from guest entry ge; an out-of-sync page's snapshot
 * follows what its shadow reflects. */
void l1_install(struct svt_mmu *m, uint32_t spi, unsigned idx, g_entry_t ge)
{
	svt_gfn_t gfn;
	sh_entry_t e = sh_leaf_from_guest(m, ge, &gfn);
	const struct sh_page *p = SP(m, spi);

	sh_set_leaf(m, spi, idx, e, gfn);
	audit_gfn_dirty(m, p->gfn);     /* its snapshot, read by the audit */
	if (gfn_is_ram(m, p->gfn) && m->d.gi[p->gfn].oos)
		svt_le_store(snap_of(m, m->d.gi[p->gfn].oos - 1) +
			     (size_t)sh_gidx(m, p, idx) * m->d.gesize, g_entry_x(ge), m->d.gesize);
}

void oos_drop(struct svt_mmu *m, uint64_t gfn)
{
	unsigned s = m->d.gi[gfn].oos;
	audit_gfn_dirty(m, gfn);
	if (s) {
		m->d.oos[s - 1].used = false;
		m->d.gi[gfn].oos = 0;
	}
}

/* The guest bytes one part of an L1 shadow covers: SH_PAGE_SIZE, or half
 * of it with 2-on-3.  Invariant: a piece never straddles two parts. */
static unsigned part_bytes(const struct svt_mmu *m)
{
	return m->d.nents * m->d.gesize;
}
_Static_assert(512 * 4 % OOS_PIECE == 0, "a 2-on-3 L1 part covers whole pieces");

/* The shadow of part of out-of-sync slot o's page (sp_lookup()), or
 * SP_NONE: every CR3 load asks it of every page its root reaches. */
static inline uint32_t oos_l1(struct svt_mmu *m, struct oos_slot *o, unsigned part)
{
	uint32_t spi = o->l1[part];
	if (spi != SP_NONE) {
		const struct sh_page *p = SP(m, spi);
		if (p->type == SH_L1 && p->gfn == o->gfn && p->sub == part)
			return spi;     /* the one page with that key */
	} else if (o->l1_none[part] == m->d.link_gen + 1) {
		return SP_NONE;
	}
	spi = sp_lookup(m, o->gfn, SH_L1, part);
	o->l1[part] = spi;
	o->l1_none[part] = spi == SP_NONE ? m->d.link_gen + 1 : 0;
	return spi;
}

/* Bring out-of-sync slot s in sync; keep: leave the page writable and out
 * of sync (its snapshot now what the shadow reflects) rather than
 * write-protect it again, for a page the guest goes on writing. */
static void oos_resync_slot(struct svt_mmu *m, unsigned s, bool keep)
{
	uint64_t gfn = m->d.oos[s].gfn;
	const uint8_t *snap = snap_of(m, s);
	unsigned ges = m->d.gesize, pb = part_bytes(m);
	bool any = false;

	for (unsigned part = 0; part < sh_parts(m, SH_L1); part++) {
		uint32_t spi = oos_l1(m, &m->d.oos[s], part);
		if (spi == SP_NONE)
			continue;
		any = true;
		uint8_t buf[OOS_PIECE]; /* the guest page, a piece at a time */
		sp_touch(m, spi);       /* not to be evicted while we fill it */
		/* only the pieces of [lo, hi) hold present entries (a resync
		 * changes present entries only: the bounds hold throughout) */
		unsigned top = SP(m, spi)->hi * ges < pb ? SP(m, spi)->hi * ges : pb;
		for (unsigned off = part * pb + (SP(m, spi)->lo * ges & ~(OOS_PIECE - 1));
		     off < part * pb + top && SP(m, spi)->present; off += sizeof(buf)) {
			/* a piece with no present shadow entry has nothing to
			 * resync; of the others, only the words from the first
			 * present entry to the last (sh_page.hi) are read */
			unsigned e0 = (off - part * pb) / ges;
			unsigned e1 = e0 + (unsigned)sizeof(buf) / ges;
			unsigned first = sh_next_present(m, spi, e0, e1);
			if (first == e1)
				continue;
			unsigned last = SP(m, spi)->hi < e1 ? SP(m, spi)->hi : e1;
			unsigned b = (first - e0) * ges & ~7u, end = ((last - e0) * ges + 7) & ~7u;
			bool ok = m->d.env.read_gpa(m->d.env.ctx, (gfn << 12) + off + b, buf + b,
						    end - b) == 0;
			if (!ok)
				m->d.c.env_errors++;
			/* Most pieces are as they were, and a changed one mostly
			 * in a word or two: past the words that agree in one
			 * svt_same_words() (a CR3 load resyncs every page its
			 * root reaches: this is most of its cost), then each
			 * entry of a word that differs (two, with 2-level
			 * entries: a word is whole again after both). */
			for (;;) {
				if (ok && (b & 7) == 0 && b < end)
					b += 8 * (unsigned)svt_same_words(snap + off + b, buf + b,
									  (end - b) / 8);
				if (b >= end)
					break;
				unsigned i = e0 + b / ges;
				uint64_t old = svt_le_load(snap + off + b, ges);
				uint64_t cur = ok ? svt_le_load(buf + b, ges) : 0;
				b += ges;
				if ((SVT_BUG(42) ? (uint32_t)cur == (uint32_t)old : cur == old) ||
				    !sh_present(sh_get(m, spi, i)))
					continue;
				l1_install(m, spi, i, g_entry(cur));
			}
		}
	}
	m->d.c.resyncs++;
	mmu_event(m, SVT_EV_RESYNC, gfn, keep && any, 0);
	audit_gfn_dirty(m, gfn);
	m->d.env.flush_tlb(m->d.env.ctx, SVT_FLUSH_ALL, 0);
	if (keep && any) {
		m->d.oos[s].age = ++m->d.oos_clock;
		return;
	}
	m->d.oos[s].used = false;
	m->d.gi[gfn].oos = 0;
	if (m->d.gi[gfn].pt > 0)
		wp_gfn(m, gfn, true);
}

void oos_resync_gfn(struct svt_mmu *m, uint64_t gfn)
{
	if (gfn_is_ram(m, gfn) && m->d.gi[gfn].oos)
		oos_resync_slot(m, m->d.gi[gfn].oos - 1, false);
}

/*
 * INVLPG and INVPCID of one address: only that address's translations go.
 * Any L1 page maps va at one index only, so resync that entry of every
 * out-of-sync page (whichever address space it belongs to: a global
 * translation goes from every PCID) and leave the rest of each page out of
 * sync, as a TLB keeps its other entries.
 */
void oos_resync_va(struct svt_mmu *m, uint64_t va)
{
	unsigned ges = m->d.gesize;
	unsigned gidx = (unsigned)(va >> 12) & (SVT_BUG(37) ? 511 : SH_PAGE_SIZE / ges - 1);
	unsigned part = sh_part_of(m, SH_L1, gidx), idx = sh_slot_of(m, SH_L1, gidx);

	for (unsigned s = 0; s < SVT_OOS_MAX; s++) {
		if (!m->d.oos[s].used)
			continue;
		uint64_t gfn = m->d.oos[s].gfn;
		uint32_t spi = oos_l1(m, &m->d.oos[s], part);
		uint8_t buf[8];
		if (spi == SP_NONE || !sh_present(sh_get(m, spi, idx)))
			continue;       /* absent stays absent until a fault */
		uint64_t gpa = (gfn << 12) + (uint64_t)gidx * ges;
		if (m->d.env.read_gpa(m->d.env.ctx, gpa, buf, ges) != 0) {
			m->d.c.env_errors++;
			continue;
		}
		uint64_t cur = svt_le_load(buf, ges);
		if (cur == svt_le_load(snap_of(m, s) + (size_t)gidx * ges, ges))
			continue;
		l1_install(m, spi, idx, g_entry(cur));
		m->d.c.resyncs_va++;
	}
}

static void resync_all(struct svt_mmu *m)
{
	for (unsigned s = 0; s < SVT_OOS_MAX; s++)
		if (m->d.oos[s].used)
			oos_resync_slot(m, s, false);
}

void oos_resync_all(struct svt_mmu *m)
{
	PROF_BEGIN(m, t);
	resync_all(m);
	PROF_END(m, t, SVT_PROF_RESYNC);
}

/* Can shadow page spi be reached from root, going up its parents?  Past
 * budget link visits the answer is yes (the safe side). */
static bool sp_reaches(struct svt_mmu *m, uint32_t spi, uint32_t root, unsigned depth,
		       unsigned *budget)
{
	if (spi == root)
		return true;
	if (depth == 0)
		return false;
	for (uint32_t l = SP(m, spi)->parents; l != 0; l = m->d.links[l - 1].next) {
		if (*budget == 0)
			return true;
		--*budget;
		if (sp_reaches(m, m->d.links[l - 1].sp, root, depth - 1, budget))
			return true;
	}
	return false;
}

/*
 * A CR3 load that flushes (no PCIDs, or the no-flush bit clear) drops the
 * TLB entries of the new address space (its PCID) only: resync the
 * out-of-sync pages its root reaches, and leave them out of sync (the
 * guest was writing them, and would fault on the next write just to be
 * let out again).  Pages only other address spaces reach may stay stale,
 * as their PCIDs' TLB entries may; with PCIDs off, each of those spaces
 * flushes again when its CR3 is loaded.
 */
static void resync_root(struct svt_mmu *m, uint32_t root)
{
	for (unsigned s = 0; s < SVT_OOS_MAX; s++) {
		struct oos_slot *o = &m->d.oos[s];
		if (!o->used)
			continue;
		bool any = false, reaches = false;
		if (o->reach && o->reach_gen == m->d.link_gen && o->reach_root == root) {
			/* nothing the answer depends on changed since: a guest
			 * that reloads CR3 after each edit asks again and again */
			any = o->reach >= 2;
			reaches = o->reach == 3;
		} else {
			for (unsigned part = 0; part < sh_parts(m, SH_L1) && !reaches; part++) {
				uint32_t spi = oos_l1(m, o, part);
				unsigned budget = 256;
				any |= spi != SP_NONE;
				reaches = spi != SP_NONE && root != SP_NONE &&
					  sp_reaches(m, spi, root, SVT_BUG(40) ? 1 : 5, &budget);
			}
			o->reach = (uint8_t)(1 + any + reaches);
			o->reach_gen = m->d.link_gen;
			o->reach_root = root;
		}
		if (!any || root == SP_NONE)
			oos_resync_slot(m, s, false);
		else if (reaches)
			oos_resync_slot(m, s, true);
	}
}

void oos_resync_root(struct svt_mmu *m, uint32_t root)
{
	PROF_BEGIN(m, t);
	resync_root(m, root);
	PROF_END(m, t, SVT_PROF_RESYNC);
}

static void oos_mark_(struct svt_mmu *m, uint64_t gfn);
void oos_mark(struct svt_mmu *m, uint64_t gfn)
{
	PROF_BEGIN(m, t);
	oos_mark_(m, gfn);
	PROF_END(m, t, SVT_PROF_OOS);
}
static void oos_mark_(struct svt_mmu *m, uint64_t gfn)
{
	unsigned n = m->d.cfg.policy.oos, s = n;

	for (unsigned i = 0; i < n; i++)
		if (!m->d.oos[i].used) {
			s = i;
			break;
		}
	if (s == n) {
		s = 0;
		for (unsigned i = 1; i < n; i++)
			if (m->d.oos[i].age < m->d.oos[s].age)
				s = i;
		oos_resync_slot(m, s, false);
	}
	/* The snapshot: what the shadow reflects.  Only entries with a
	 * present shadow entry are ever compared with it (here, at a resync,
	 * by the audit), and l1_install() keeps it for entries made present
	 * later: the pieces of the page with none are not read, nor those
	 * of a part with no shadow (2-on-3: a part is made only after the
	 * page is back in sync, sp_get()). */
	uint8_t *snap = snap_of(m, s);
	unsigned pb = part_bytes(m);
	audit_gfn_dirty(m, gfn);
	for (unsigned off = 0; off < SH_PAGE_SIZE; off += OOS_PIECE) {
		uint32_t spi = sp_lookup(m, gfn, SH_L1, off / pb);
		unsigned e0 = off % pb / m->d.gesize, e1 = e0 + OOS_PIECE / m->d.gesize;
		if (spi == SP_NONE || sh_next_present(m, spi, e0, e1) == e1)
			continue;
		if (m->d.env.read_gpa(m->d.env.ctx, (gfn << 12) + off, snap + off, OOS_PIECE) !=
		    0) {
			m->d.c.env_errors++;
			return;
		}
	}
	m->d.oos[s].gfn = gfn;
	m->d.oos[s].age = ++m->d.oos_clock;
	m->d.oos[s].used = true;
	m->d.oos[s].reach = 0;
	for (unsigned part = 0; part < 2; part++) {
		m->d.oos[s].l1[part] = SP_NONE;
		m->d.oos[s].l1_none[part] = 0;
	}
	m->d.gi[gfn].oos = (uint8_t)(s + 1);
	wp_gfn(m, gfn, false);
	m->d.c.oos++;
	mmu_event(m, SVT_EV_OOS, gfn, 0, 0);
}

/* ---- tables unsynced by force ----------------------------------------------
 *
 * A write that must be emulated but cannot be (it comes with no
 * instruction: the CPU's own write of a descriptor's accessed bit, an
 * event's stack push) to a page table on the write's own walk or to the
 * current top-level table would be retried for ever: unshadowing only
 * shadows the table again on the walk.  Instead the table, of any level,
 * is made writable in every shadow and the hardware performs the write;
 * its shadows may then be stale, as a TLB and the paging-structure caches
 * may be, until the next flush of any kind (INVLPG, INVPCID, any CR3 load,
 * a CR0/CR4 change, a full flush), before it is linked under a new parent
 * or shadowed as another level: then every present entry of every shadow
 * of the frame is brought in line with the guest's (pt_revalidate()) and
 * the frame is write-protected again.  Stale upper-level entries still
 * point to children that are themselves kept in sync, which is what a
 * paging-structure cache holding the old entry gives.  At most
 * OOS_FORCED_MAX frames at once; one more resyncs the oldest.  The
 * policy's out-of-sync slots, snapshots and counters are not used.
 */

static void forced_mark_shadows(struct svt_mmu *m, uint64_t gfn)
{
	audit_gfn_dirty(m, gfn);
	for (unsigned t = SH_L1; t <= SH_L5; t++)
		for (unsigned part = 0; part < sh_parts(m, t); part++) {
			uint32_t spi = sp_lookup(m, gfn, t, part);
			if (spi != SP_NONE)
				audit_sp_dirty(m, spi);
		}
}

static void forced_resync_slot(struct svt_mmu *m, unsigned k)
{
	uint64_t gfn = m->d.forced[k];

	m->d.forced[k] = ~0ull;
	if (!gfn_is_ram(m, gfn) || !m->d.gi[gfn].forced)
		return;
	m->d.gi[gfn].forced = 0;
	forced_mark_shadows(m, gfn);
	pt_revalidate(m, gfn, 0, SH_PAGE_SIZE);
	if (gfn_protected(m, gfn))
		wp_gfn(m, gfn, true);
	mmu_event(m, SVT_EV_RESYNC, gfn, 0, 1);
	m->d.env.flush_tlb(m->d.env.ctx, SVT_FLUSH_ALL, 0);
}

void oos_forced_resync(struct svt_mmu *m, uint64_t gfn)
{
	for (unsigned k = 0; k < OOS_FORCED_MAX; k++)
		if (m->d.forced[k] != ~0ull && (gfn == OOS_FORCED_ALL || m->d.forced[k] == gfn))
			forced_resync_slot(m, k);
}

/* The frame is no longer shadowed at all: nothing to resync. */
void oos_forced_drop(struct svt_mmu *m, uint64_t gfn)
{
	audit_gfn_dirty(m, gfn);
	m->d.gi[gfn].forced = 0;
	for (unsigned k = 0; k < OOS_FORCED_MAX; k++)
		if (m->d.forced[k] == gfn)
			m->d.forced[k] = ~0ull;
}

/* Unsync page table gfn by force; false if it cannot be (then nothing
 * changed). */
bool oos_force(struct svt_mmu *m, uint64_t gfn)
{
	unsigned k = 0;

	if (SVT_BUG(79) || !gfn_is_ram(m, gfn) || m->d.gi[gfn].pt == 0)
		return false;
	if (!gfn_protected(m, gfn))
		return true;            /* writable already */
	while (k < OOS_FORCED_MAX && m->d.forced[k] != ~0ull)
		k++;
	if (k == OOS_FORCED_MAX) {
		/* the oldest goes back in sync; the others move down */
		forced_resync_slot(m, 0);
		for (k = 0; k + 1 < OOS_FORCED_MAX; k++)
			m->d.forced[k] = m->d.forced[k + 1];
		m->d.forced[k] = ~0ull;
	}
	m->d.forced[k] = gfn;
	m->d.gi[gfn].forced = 1;
	forced_mark_shadows(m, gfn);
	wp_gfn(m, gfn, false);
	mmu_event(m, SVT_EV_OOS, gfn, 1, 0);
	return true;
}
