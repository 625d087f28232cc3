/*
 * mmu_fault.c — the shadow MMU's fault path (Xen's sh_page_fault): walk the
 * guest's tables; inject the guest's own faults with the error code and CR2
 * bare metal would give; otherwise set the guest's A/D bits as the CPU
 * would and propagate the translation into the shadows (with prefetch), or
 * — for writes to write-protected guest page tables, and for supervisor
 * writes the shadows cannot express under CR0.WP=0 — emulate the
 * instruction after checking the guest's own permission for it (Xen's
 * emulate_map_dest), re-validating the shadow entries it changed.  Also
 * here: out-of-sync L1 pages (unprotect on write, snapshot, resync) and the
 * early-unshadow heuristic.
 */
#include "mmu_int.h"

/* ---- entry computation -------------------------------------------------- */

static bool ps_is_page(const struct svt_mmu *m, unsigned level)
{
	switch (m->mode) {
	case SVT_MODE_2LEVEL: return level == 2 && (m->g.cr4 & SVT_CR4_PSE);
	case SVT_MODE_PAE: return level == 2;
	case SVT_MODE_4LEVEL: case SVT_MODE_5LEVEL: return level == 2 || level == 3;
	case SVT_MODE_NONE: return level == 2;
	default: return false;
	}
}

/* Would the CPU use guest entry ge at this level without faulting on it
 * (present, no reserved bit), and has it been accessed (A=1)? */
bool g_entry_valid(struct svt_mmu *m, uint64_t ge, unsigned level, bool *large)
{
	*large = level > 1 && (ge & SVT_PTE_PS) && ps_is_page(m, level);
	if (m->mode == SVT_MODE_NONE)
		return true;
	if (!(ge & SVT_PTE_P) || !(ge & SVT_PTE_A))
		return false;
	return (ge & svt_rsvd_mask(&m->g, m->mode, level, *large)) == 0;
}

static uint64_t g_frame(const struct svt_mmu *m, uint64_t ge)
{
	return m->esize == 4 ? (ge & 0xfffff000u) : (ge & svt_bits(m->g.maxphyaddr - 1, 12));
}

/* The guest-physical frame an entry points to; for a large page at level
 * 2 or 3 its base (PSE-36 included). */
uint64_t g_frame_of(const struct svt_mmu *m, uint64_t ge, unsigned level)
{
	if (level == 1)
		return g_frame(m, ge);
	if (m->esize == 4)
		return (ge & 0xffc00000u) | (((ge >> 13) & 0xff) << 32);
	return ge & svt_bits(m->g.maxphyaddr - 1, 12 + 9 * (level - 1));
}

static bool mfn_fits(struct svt_mmu *m, uint64_t mfn)
{
	if (m->esize == 4 && mfn > 0xfffff) {
		m->c.env_errors++;      /* 32-bit shadow entries cannot reach it */
		return false;
	}
	return true;
}

/* Shadow leaf for guest L1 entry ge (0: not present); *gfn its frame. */
uint64_t sh_leaf_from_guest(struct svt_mmu *m, uint64_t ge, uint64_t *gfn)
{
	bool large;

	*gfn = 0;
	if (!g_entry_valid(m, ge, 1, &large))
		return 0;
	*gfn = g_frame(m, ge) >> 12;
	uint64_t mfn = g_mfn(m, *gfn);
	if (mfn == SVT_INVALID_MFN || !mfn_fits(m, mfn))
		return 0;
	uint64_t e = (mfn << 12) | SVT_PTE_P | SVT_PTE_A | (ge & SVT_PTE_US);
	if ((ge & SVT_PTE_RW) && (ge & SVT_PTE_D) && !gfn_wp(m, *gfn))
		e |= SVT_PTE_RW | SVT_PTE_D;
	if (m->esize == 8) {
		if ((m->g.efer & SVT_EFER_NXE) && (ge & SVT_PTE_XD))
			e |= SVT_PTE_XD;
		if (m->mode >= SVT_MODE_4LEVEL)
			e |= ge & svt_bits(62, 59);
	}
	return e;
}

/* Shadow leaf for one 4 KiB piece of a guest superpage: the guest's
 * restrictions are in the shadow entry above; only write protection of
 * page-table frames and the protection key live here. */
uint64_t sh_leaf_splinter(struct svt_mmu *m, uint64_t gfn, unsigned pkey)
{
	uint64_t mfn = g_mfn(m, gfn);

	if (mfn == SVT_INVALID_MFN || !mfn_fits(m, mfn))
		return 0;
	uint64_t e = (mfn << 12) | SVT_PTE_P | SVT_PTE_A | SVT_PTE_US;
	if (!gfn_wp(m, gfn))
		e |= SVT_PTE_RW | SVT_PTE_D;
	if (m->mode >= SVT_MODE_4LEVEL)
		e |= (uint64_t)pkey << 59;
	return e;
}

/* Shadow non-leaf entry for guest entry ge (a table pointer, or a large
 * page splintered into child) pointing to shadow page child. */
uint64_t sh_nonleaf(struct svt_mmu *m, uint64_t ge, unsigned level, bool large, uint32_t child)
{
	uint64_t mfn = SP(m, child)->mfn;

	if (!mfn_fits(m, mfn))
		return 0;
	if (m->mode == SVT_MODE_PAE && level == 3)
		return (mfn << 12) | SVT_PTE_P;
	uint64_t e = (mfn << 12) | SVT_PTE_P | SVT_PTE_A | (ge & (SVT_PTE_RW | SVT_PTE_US));
	if (large && !(ge & SVT_PTE_D))
		e &= ~SVT_PTE_RW;       /* not writable until the guest's D is set */
	if (m->esize == 8 && (m->g.efer & SVT_EFER_NXE) && (ge & SVT_PTE_XD))
		e |= SVT_PTE_XD;
	return e;
}

static uint64_t sh_splinter_link(struct svt_mmu *m, uint32_t child)
{
	uint64_t mfn = SP(m, child)->mfn;
	return mfn_fits(m, mfn) ?
		(mfn << 12) | SVT_PTE_P | SVT_PTE_A | SVT_PTE_RW | SVT_PTE_US : 0;
}

static unsigned sh_index(const struct svt_mmu *m, uint64_t va, unsigned level)
{
	if (m->smode == SVT_MODE_2LEVEL)
		return (unsigned)(va >> (level == 2 ? 22 : 12)) & 0x3ff;
	if (m->smode == SVT_MODE_PAE && level == 3)
		return (unsigned)(va >> 30) & 3;
	return (unsigned)(va >> (12 + 9 * (level - 1))) & 0x1ff;
}

/* ---- out-of-sync pages -------------------------------------------------- */

static uint8_t *snap_of(struct svt_mmu *m, unsigned slot)
{
	return m->snap + (size_t)slot * 4096;
}

/* Set an SH_L1 entry from guest entry ge; an out-of-sync page's snapshot
 * follows what its shadow reflects. */
static void l1_install(struct svt_mmu *m, uint32_t spi, unsigned idx, uint64_t ge)
{
	uint64_t gfn;
	uint64_t e = sh_leaf_from_guest(m, ge, &gfn);
	const struct sh_page *p = SP(m, spi);

	sh_set_leaf(m, spi, idx, e, gfn);
	if (gfn_is_ram(m, p->gfn) && m->gi[p->gfn].oos)
		svt_le_store(snap_of(m, m->gi[p->gfn].oos - 1) + (size_t)idx * m->esize, ge, m->esize);
}

void oos_drop(struct svt_mmu *m, uint64_t gfn)
{
	unsigned s = m->gi[gfn].oos;
	if (s) {
		m->oos[s - 1].used = false;
		m->gi[gfn].oos = 0;
	}
}

/* Bring out-of-sync slot s in sync; keep: leave the page writable and out
 * of sync (its snapshot now what the shadow reflects) rather than
 * write-protect it again, for a page the guest goes on writing. */
static void oos_resync_slot(struct svt_mmu *m, unsigned s, bool keep)
{
	uint64_t gfn = m->oos[s].gfn;
	uint32_t spi = sp_lookup(m, gfn, SH_L1, 0);
	const uint8_t *snap = snap_of(m, s);

	if (spi != SP_NONE) {
		uint8_t buf[512];       /* the guest page, a piece at a time */
		sp_touch(m, spi);       /* not to be evicted while we fill it */
		for (unsigned off = 0; off < 4096 && SP(m, spi)->present; off += sizeof(buf)) {
			/* a piece with no present shadow entry has nothing to resync */
			unsigned e0 = off / m->esize, e1 = (off + (unsigned)sizeof(buf)) / m->esize;
			if (sh_next_present(m, spi, e0, e1) == e1)
				continue;
			bool ok = m->env.read_gpa(m->env.ctx, (gfn << 12) + off, buf, sizeof(buf)) == 0;
			if (!ok)
				m->c.env_errors++;
			/* most pieces are as they were: past the words that agree */
			unsigned b = 0;
			while (ok && b < sizeof(buf) && svt_le_load(snap + off + b, 8) == svt_le_load(buf + b, 8))
				b += 8;
			for (; b < sizeof(buf); b += m->esize) {
				unsigned i = (off + b) / m->esize;
				if (ok && (b & 7) == 0 && svt_le_load(snap + off + b, 8) ==
				    svt_le_load(buf + b, 8)) {
					b += 8 - m->esize;      /* a whole unchanged word */
					continue;
				}
				uint64_t old = svt_le_load(snap + off + b, m->esize);
				uint64_t cur = ok ? svt_le_load(buf + b, m->esize) : 0;
				if (cur == old || !(sh_get(m, spi, i) & SVT_PTE_P))
					continue;
				l1_install(m, spi, i, cur);
			}
		}
	}
	m->c.resyncs++;
	mmu_event(m, SVT_EV_RESYNC, gfn, 0, 0);
	m->env.flush_tlb(m->env.ctx, SVT_FLUSH_ALL, 0);
	if (keep && spi != SP_NONE) {
		m->oos[s].age = ++m->oos_clock;
		return;
	}
	m->oos[s].used = false;
	m->gi[gfn].oos = 0;
	if (m->gi[gfn].pt > 0)
		wp_gfn(m, gfn, true);
}

void oos_resync_gfn(struct svt_mmu *m, uint64_t gfn)
{
	if (gfn_is_ram(m, gfn) && m->gi[gfn].oos)
		oos_resync_slot(m, m->gi[gfn].oos - 1, false);
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
	unsigned idx = (unsigned)(va >> 12) & (m->nents - 1);

	for (unsigned s = 0; s < SVT_OOS_MAX; s++) {
		if (!m->oos[s].used)
			continue;
		uint64_t gfn = m->oos[s].gfn;
		uint32_t spi = sp_lookup(m, gfn, SH_L1, 0);
		uint8_t buf[8];
		if (spi == SP_NONE || !(sh_get(m, spi, idx) & SVT_PTE_P))
			continue;       /* absent stays absent until a fault */
		if (m->env.read_gpa(m->env.ctx, (gfn << 12) + (uint64_t)idx * m->esize, buf, m->esize) != 0) {
			m->c.env_errors++;
			continue;
		}
		uint64_t cur = svt_le_load(buf, m->esize);
		if (cur == svt_le_load(snap_of(m, s) + (size_t)idx * m->esize, m->esize))
			continue;
		l1_install(m, spi, idx, cur);
		m->c.resyncs_va++;
	}
}

void oos_resync_all(struct svt_mmu *m)
{
	PROF_BEGIN(t);
	for (unsigned s = 0; s < SVT_OOS_MAX; s++)
		if (m->oos[s].used)
			oos_resync_slot(m, s, false);
	PROF_END(t, 5);
}

/* Can shadow page spi be reached from root, going up its parents?  Past
 * budget link visits the answer is yes (the safe side). */
static bool sp_reaches(struct svt_mmu *m, uint32_t spi, uint32_t root, unsigned depth, unsigned *budget)
{
	if (spi == root)
		return true;
	if (depth == 0)
		return false;
	for (uint32_t l = SP(m, spi)->parents; l != 0; l = m->links[l - 1].next) {
		if (*budget == 0)
			return true;
		--*budget;
		if (sp_reaches(m, m->links[l - 1].sp, root, depth - 1, budget))
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
void oos_resync_root(struct svt_mmu *m, uint32_t root)
{
	PROF_BEGIN(t);
	for (unsigned s = 0; s < SVT_OOS_MAX; s++) {
		if (!m->oos[s].used)
			continue;
		uint32_t spi = sp_lookup(m, m->oos[s].gfn, SH_L1, 0);
		unsigned budget = 256;
		if (spi == SP_NONE || root == SP_NONE)
			oos_resync_slot(m, s, false);
		else if (sp_reaches(m, spi, root, 5, &budget))
			oos_resync_slot(m, s, true);
	}
	PROF_END(t, 5);
}

/* Only an L1 page table, shadowed as nothing else, goes out of sync. */
static bool oos_eligible(struct svt_mmu *m, uint64_t gfn)
{
	return m->cfg.policy.oos > 0 && gfn_is_ram(m, gfn) && m->gi[gfn].pt == 1 &&
	       sp_lookup(m, gfn, SH_L1, 0) != SP_NONE;
}

static void oos_mark_(struct svt_mmu *m, uint64_t gfn);
static void oos_mark(struct svt_mmu *m, uint64_t gfn)
{
	PROF_BEGIN(t);
	oos_mark_(m, gfn);
	PROF_END(t, 6);
}
static void oos_mark_(struct svt_mmu *m, uint64_t gfn)
{
	unsigned n = m->cfg.policy.oos, s = n;

	for (unsigned i = 0; i < n; i++)
		if (!m->oos[i].used) {
			s = i;
			break;
		}
	if (s == n) {
		s = 0;
		for (unsigned i = 1; i < n; i++)
			if (m->oos[i].age < m->oos[s].age)
				s = i;
		oos_resync_slot(m, s, false);
	}
	/* The snapshot: what the shadow reflects.  Only entries with a
	 * present shadow entry are ever compared with it (here, at a resync,
	 * by the audit), and l1_install() keeps it for entries made present
	 * later: the pieces of the page with none are not read. */
	uint8_t *snap = snap_of(m, s);
	uint32_t spi = sp_lookup(m, gfn, SH_L1, 0);
	for (unsigned off = 0; off < 4096; off += 512) {
		unsigned e0 = off / m->esize, e1 = (off + 512) / m->esize;
		if (spi != SP_NONE && sh_next_present(m, spi, e0, e1) == e1)
			continue;
		if (m->env.read_gpa(m->env.ctx, (gfn << 12) + off, snap + off, 512) != 0) {
			m->c.env_errors++;
			return;
		}
	}
	m->oos[s].gfn = gfn;
	m->oos[s].age = ++m->oos_clock;
	m->oos[s].used = true;
	m->gi[gfn].oos = (uint8_t)(s + 1);
	wp_gfn(m, gfn, false);
	m->c.oos++;
	mmu_event(m, SVT_EV_OOS, gfn, 0, 0);
}

/* ---- propagation -------------------------------------------------------- */

static void prefetch_l1_(struct svt_mmu *m, uint32_t spi, unsigned idx);
static void prefetch_l1(struct svt_mmu *m, uint32_t spi, unsigned idx)
{
	PROF_BEGIN(t);
	prefetch_l1_(m, spi, idx);
	PROF_END(t, 4);
}
static void prefetch_l1_(struct svt_mmu *m, uint32_t spi, unsigned idx)
{
	unsigned w = m->cfg.policy.prefetch, n = m->nents;
	const struct sh_page *p = SP(m, spi);
	unsigned lo = idx > w / 2 ? idx - w / 2 : 0;
	unsigned hi = idx + w / 2 + 1 < n ? idx + w / 2 + 1 : n;

	if (w == 0)
		return;
	for (unsigned j = lo; j < hi; j++) {
		if (j == idx || (sh_get(m, spi, j) & SVT_PTE_P))
			continue;
		if (p->type == SH_FL1) {
			uint64_t gfn = p->gfn + j;
			uint64_t e = sh_leaf_splinter(m, gfn, p->pkey);
			if (e) {
				sh_set_leaf(m, spi, j, e, gfn);
				m->c.prefetched++;
			}
			continue;
		}
		/* The guest entries from here to the last candidate, in one
		 * read (a recorder logs one span, not one word at a time). */
		unsigned last = j;
		for (unsigned k = j + 1; k < hi && k - j < 64; k++)
			if (k != idx && !(sh_get(m, spi, k) & SVT_PTE_P))
				last = k;
		uint8_t buf[64 * 8];
		size_t len = (size_t)(last - j + 1) * m->esize;
		if (m->env.read_gpa(m->env.ctx, (p->gfn << 12) + (uint64_t)j * m->esize, buf, len) != 0) {
			m->c.env_errors++;
			return;
		}
		for (unsigned k = j; k <= last; k++) {
			bool large;
			uint64_t ge = svt_le_load(buf + (size_t)(k - j) * m->esize, m->esize);
			if (k == idx || (sh_get(m, spi, k) & SVT_PTE_P) || !g_entry_valid(m, ge, 1, &large))
				continue;
			l1_install(m, spi, k, ge);
			m->c.prefetched += (sh_get(m, spi, k) & SVT_PTE_P) != 0;
		}
		j = last;
	}
}

/* Link a child shadow under spi[idx]; an out-of-sync L1 is brought back in
 * sync before it gains a parent. */
static bool link_child(struct svt_mmu *m, uint32_t spi, unsigned idx, uint64_t val, uint32_t c)
{
	const struct sh_page *cp = SP(m, c);
	uint64_t old = sh_get(m, spi, idx);

	if (cp->type == SH_L1 && gfn_is_ram(m, cp->gfn) && m->gi[cp->gfn].oos &&
	    !((old & SVT_PTE_P) && sp_aux(m, spi)[idx] == c))
		oos_resync_gfn(m, cp->gfn);
	if (val == 0)
		return false;
	sh_set_child(m, spi, idx, val, c);
	return (sh_get(m, spi, idx) & SVT_PTE_P) != 0;
}

/* Splinter a guest superpage: FL2 (1 GiB only) and FL1, then the leaf. */
static bool propagate_large(struct svt_mmu *m, uint32_t spi, unsigned level, uint64_t ge,
			    uint64_t va, uint64_t base_gfn)
{
	unsigned pkey = m->mode >= SVT_MODE_4LEVEL ? (unsigned)((ge >> 59) & 0xf) : 0;
	unsigned idx = sh_index(m, va, level);
	bool made;

	if (level == 3) {
		uint32_t f2 = sp_get(m, base_gfn, SH_FL2, pkey, &made);
		if (f2 == SP_NONE || !link_child(m, spi, idx, sh_nonleaf(m, ge, 3, true, f2), f2))
			return false;
		unsigned i2 = sh_index(m, va, 2);
		uint32_t f1 = sp_get(m, base_gfn + (uint64_t)i2 * 512, SH_FL1, pkey, &made);
		if (f1 == SP_NONE || !link_child(m, f2, i2, sh_splinter_link(m, f1), f1))
			return false;
		spi = f1;
	} else {
		uint32_t f1 = sp_get(m, base_gfn, SH_FL1, pkey, &made);
		if (f1 == SP_NONE || !link_child(m, spi, idx, sh_nonleaf(m, ge, 2, true, f1), f1))
			return false;
		spi = f1;
	}
	unsigned i1 = sh_index(m, va, 1);
	uint64_t gfn = SP(m, spi)->gfn + i1;
	sh_set_leaf(m, spi, i1, sh_leaf_splinter(m, gfn, pkey), gfn);
	prefetch_l1(m, spi, i1);
	return (sh_get(m, spi, i1) & SVT_PTE_P) != 0;
}

static bool propagate_phys(struct svt_mmu *m, uint64_t va)
{
	bool ok;
	uint32_t root = m->root;
	unsigned idx = sh_index(m, va, 2);

	sp_touch(m, root);
	uint64_t ge = g_table_entry(m, SP(m, root), idx, &ok);
	return propagate_large(m, root, 2, ge, va, (uint64_t)idx << 10);
}

/* Build the shadow path for a successful guest walk (A/D already set). */
static bool propagate(struct svt_mmu *m, const struct svt_walk *w, uint64_t va, bool write)
{
	uint32_t spi = m->root;
	bool made;

	if (spi == SP_NONE)
		return false;
	sp_touch(m, spi);
	for (unsigned i = 0; i < w->nlevels; i++) {
		const struct svt_walk_level *gl = &w->lv[i];
		unsigned level = gl->level;
		uint64_t ge = gl->entry;

		if (!(m->mode == SVT_MODE_PAE && level == 3))
			ge |= SVT_PTE_A;
		if (gl->leaf) {
			if (write)
				ge |= SVT_PTE_D;
			if (level > 1)
				return propagate_large(m, spi, level, ge, va,
						       (w->gpa & ~(w->page_size - 1)) >> 12);
			unsigned idx = sh_index(m, va, 1);
			l1_install(m, spi, idx, ge);
			prefetch_l1(m, spi, idx);
			return (sh_get(m, spi, idx) & SVT_PTE_P) != 0;
		}
		/* Most faults find the upper levels linked already: the same
		 * child, the same entry.  Then there is nothing to do there
		 * but what sp_get() does to a shadow it finds (touch it). */
		unsigned sidx = sh_index(m, va, level);
		uint64_t cur = sh_get(m, spi, sidx);
		uint64_t cgfn = g_frame(m, ge) >> 12;
		if (cur & SVT_PTE_P) {
			uint32_t c = sp_aux(m, spi)[sidx];
			const struct sh_page *cp = SP(m, c);
			if (cp->gfn == cgfn && cp->type == level - 1 && cp->pkey == 0 &&
			    cur == sh_nonleaf(m, ge, level, false, c)) {
				sp_touch(m, c);
				spi = c;
				continue;
			}
		}
		uint32_t c = sp_get(m, cgfn, level - 1, 0, &made);
		if (c == SP_NONE || !link_child(m, spi, sidx, sh_nonleaf(m, ge, level, false, c), c))
			return false;
		spi = c;
	}
	return false;
}

/* ---- walking the shadows as the hardware would -------------------------- */

static int shadow_read(void *ctx, uint64_t pa, void *buf, size_t len)
{
	struct svt_mmu *m = ctx;
	const uint8_t *p = m->env.map_mfn(m->env.ctx, pa >> 12);

	if (p == NULL || (pa & 0xfff) + len > 4096)
		return -1;
	if (len == 8 || len == 4) {     /* an entry: one load, one store */
		svt_le_store(buf, svt_le_load(p + (pa & 0xfff), (unsigned)len), (unsigned)len);
		return 0;
	}
	for (size_t i = 0; i < len; i++)
		((uint8_t *)buf)[i] = p[(pa & 0xfff) + i];
	return 0;
}

static int shadow_write(void *ctx, uint64_t pa, const void *buf, size_t len)
{
	(void)ctx, (void)pa, (void)buf, (void)len;
	return -1;
}

/* Does the current root map va at all (a present shadow leaf)?  If not,
 * the shadows cannot allow an access there, and no full walk is needed.
 * (Shadows have no large pages: guest superpages are splintered.) */
static bool sh_maps(struct svt_mmu *m, uint64_t va)
{
	uint32_t spi = m->root;
	unsigned level;

	switch (m->smode) {
	case SVT_MODE_2LEVEL: level = 2; break;
	case SVT_MODE_PAE: level = 3; break;
	case SVT_MODE_5LEVEL: level = 5; break;
	default: level = 4; break;
	}
	for (; spi != SP_NONE; level--) {
		unsigned idx = sh_index(m, va, level);
		if (!(sh_get(m, spi, idx) & SVT_PTE_P))
			return false;
		if (level == 1)
			return true;
		spi = sp_aux(m, spi)[idx];
	}
	return false;
}

/* Walk the shadow tables for acc with the hardware's registers (and the
 * guest's RFLAGS and PKRU, which the hardware uses as they are). */
int hw_walk(struct svt_mmu *m, const struct svt_access *acc, uint64_t rflags, uint32_t pkru,
	    struct svt_walk *w)
{
	struct svt_hw_state hw;
	struct svt_regs r = m->g;
	struct svt_env senv = { .ctx = m, .read_gpa = shadow_read, .write_gpa = shadow_write };

	svt_mmu_hw_state(m, &hw);
	r.cr0 = hw.cr0;
	r.cr3 = hw.cr3;
	r.cr4 = hw.cr4;
	r.efer = hw.efer;
	r.rflags = rflags;
	r.pkru = pkru;
	r.maxphyaddr = 52;
	r.features = SVT_FEAT_1GPAGE;
	if (hw.mode == SVT_MODE_PAE && m->root != SP_NONE)
		for (unsigned i = 0; i < 4; i++)
			r.pdpte[i] = sh_get(m, m->root, i);
	return svt_walk(&senv, &r, acc, 0, w);
}

/* ---- emulation of guest writes ------------------------------------------ */

static bool is_root_gfn(struct svt_mmu *m, uint64_t gfn);

struct emu_ctx {
	struct svt_mmu *m;
	struct svt_regs regs;           /* the guest's, with the fault's RFLAGS/PKRU */
	uint8_t cpl;
	bool implicit;
	uint32_t ec;                    /* the #PF a callback raised */
	uint64_t cr2;
	bool mmio;                      /* a callback met device memory */
	uint64_t early_gfn;             /* unshadow after the write */
};

#define EMU_NOT_RAM 0x100               /* callback code: not RAM, do not emulate */

static int emu_xlate(struct emu_ctx *x, uint64_t la, enum svt_access_kind kind, uint64_t *gpa)
{
	struct svt_mmu *m = x->m;
	struct svt_access acc = { .va = la, .kind = kind, .cpl = x->cpl, .implicit = x->implicit };
	struct svt_walk w;

	if (m->mode == SVT_MODE_NONE) {
		*gpa = la & 0xffffffffu;
	} else {
		switch (svt_walk(&m->env, &x->regs, &acc, SVT_WALK_SET_AD, &w)) {
		case SVT_WALK_OK:
			*gpa = w.gpa;
			break;
		case SVT_WALK_PF:
			x->ec = w.error_code;
			x->cr2 = w.cr2;
			return SVT_EMU_FAULT;
		default:
			m->c.env_errors++;
			x->mmio = true;
			return EMU_NOT_RAM;
		}
	}
	if (g_mfn(m, *gpa >> 12) == SVT_INVALID_MFN) {
		x->mmio = true;
		return EMU_NOT_RAM;
	}
	return 0;
}

static int emu_read(void *ctx, uint64_t la, void *buf, unsigned len, unsigned flags)
{
	struct emu_ctx *x = ctx;
	uint8_t *out = buf;
	unsigned done = 0;
	uint64_t mask = x->m->mode >= SVT_MODE_4LEVEL ? ~0ull : 0xffffffffull;

	while (done < len) {
		uint64_t a = (la + done) & mask, gpa;
		unsigned chunk = 4096 - (unsigned)(a & 0xfff);
		if (chunk > len - done)
			chunk = len - done;
		int rc = emu_xlate(x, a, (flags & SVT_EMU_RD_DEST) ? SVT_ACC_WRITE : SVT_ACC_READ, &gpa);
		if (rc)
			return rc;
		if (x->m->env.read_gpa(x->m->env.ctx, gpa, out + done, chunk) != 0) {
			x->m->c.env_errors++;
			return EMU_NOT_RAM;
		}
		done += chunk;
	}
	return 0;
}

/* Bring the shadows of a guest page table in line with a write to it. */
static void revalidate(struct svt_mmu *m, uint64_t gfn, unsigned off, unsigned len)
{
	unsigned first = off / m->esize, last = (off + len - 1) / m->esize;
	bool changed = false;

	for (unsigned t = SH_L1; t <= SH_L5; t++) {
		uint32_t spi = sp_lookup(m, gfn, t, 0);
		if (spi == SP_NONE)
			continue;
		sp_touch(m, spi);
		for (unsigned idx = first; idx <= last && idx < m->nents; idx++) {
			uint64_t before = sh_get(m, spi, idx);
			bool ok, large;
			if (!(before & SVT_PTE_P)) {
				/* Absent stays absent until a fault, except that with
				 * prefetch on, a leaf the guest has just made valid
				 * (its own fault handler's write) is propagated now,
				 * saving the fault that would follow. */
				if (t != SH_L1 || !m->cfg.policy.prefetch)
					continue;
				uint64_t ge = g_table_entry(m, SP(m, spi), idx, &ok);
				if (ok && g_entry_valid(m, ge, 1, &large)) {
					l1_install(m, spi, idx, ge);
					m->c.prefetched += (sh_get(m, spi, idx) & SVT_PTE_P) != 0;
				}
				continue;
			}
			uint64_t ge = g_table_entry(m, SP(m, spi), idx, &ok);
			if (t == SH_L1) {
				l1_install(m, spi, idx, ok ? ge : 0);
				changed |= sh_get(m, spi, idx) != before;
				continue;
			}
			uint32_t c = SP_NONE;
			if (ok && g_entry_valid(m, ge, t, &large)) {
				if (!large)
					c = sp_lookup(m, g_frame(m, ge) >> 12, t - 1, 0);
			}
			if (c != SP_NONE && c == sp_aux(m, spi)[idx])
				sh_set_child(m, spi, idx, sh_nonleaf(m, ge, t, false, c), c);
			else
				sh_clear(m, spi, idx);
			changed |= sh_get(m, spi, idx) != before;
		}
	}
	if (changed)    /* a shadow entry the hardware may have cached changed */
		m->env.flush_tlb(m->env.ctx, SVT_FLUSH_ALL, 0);
}

void svt_mmu_guest_wrote(struct svt_mmu *m, uint64_t gpa, uint64_t len)
{
	while (len > 0) {
		uint64_t gfn = gpa >> 12;
		unsigned off = (unsigned)(gpa & 0xfff);
		unsigned n = 4096 - off;
		if (n > len)
			n = (unsigned)len;
		if (gfn_protected(m, gfn))
			revalidate(m, gfn, off, n);
		gpa += n;
		len -= n;
	}
}

/* Early unshadow: a page table the guest keeps clearing is being freed. */
static void note_pt_write(struct emu_ctx *x, uint64_t gfn, const uint8_t *val, unsigned len)
{
	struct svt_mmu *m = x->m;
	bool zero = true;

	for (unsigned i = 0; i < len; i++)
		zero = zero && val[i] == 0;
	if (zero && gfn == m->last_wr_gfn)
		m->last_wr_zeroes++;
	else
		m->last_wr_zeroes = zero;
	m->last_wr_gfn = gfn;
	if (m->cfg.policy.early_unshadow && m->last_wr_zeroes >= 2 && !is_root_gfn(m, gfn))
		x->early_gfn = gfn;
}

/*
 * The write itself: compare and store, as one step for the guest.  A
 * misaligned destination may cross into a second page; each piece is
 * translated (and permission-checked) on its own, and nothing is written
 * unless every piece still holds what was read.
 */
static int emu_cmpxchg(void *ctx, uint64_t la, const void *expect, const void *val, unsigned len)
{
	struct emu_ctx *x = ctx;
	struct svt_mmu *m = x->m;
	uint64_t mask = m->mode >= SVT_MODE_4LEVEL ? ~0ull : 0xffffffffull;
	uint64_t gpa[2];
	unsigned plen[2], n = 0, off = 0;
	uint8_t cur[16];

	if (len > 16)
		return EMU_NOT_RAM;
	while (off < len) {
		uint64_t a = (la + off) & mask;
		unsigned chunk = 4096 - (unsigned)(a & 0xfff);
		if (chunk > len - off)
			chunk = len - off;
		int rc = emu_xlate(x, a, SVT_ACC_WRITE, &gpa[n]);
		if (rc)
			return rc;
		if (m->env.read_gpa(m->env.ctx, gpa[n], cur + off, chunk) != 0)
			return EMU_NOT_RAM;
		plen[n++] = chunk;
		off += chunk;
	}
	for (unsigned i = 0; i < len; i++)
		if (cur[i] != ((const uint8_t *)expect)[i])
			return SVT_EMU_RETRY;
	off = 0;
	for (unsigned k = 0; k < n; k++) {
		if (m->env.write_gpa(m->env.ctx, gpa[k], (const uint8_t *)val + off, plen[k]) != 0) {
			m->c.env_errors++;
			return EMU_NOT_RAM;
		}
		uint64_t gfn = gpa[k] >> 12;
		if (gfn_is_ram(m, gfn) && m->gi[gfn].pt > 0) {
			revalidate(m, gfn, (unsigned)(gpa[k] & 0xfff), plen[k]);
			note_pt_write(x, gfn, (const uint8_t *)val + off, plen[k]);
		}
		off += plen[k];
	}
	return 0;
}

/* ---- the fault handler -------------------------------------------------- */

static void apply_ad(struct svt_mmu *m, const struct svt_walk *w)
{
	for (unsigned i = 0; i < w->nad; i++) {
		uint8_t raw[8];
		svt_le_store(raw, w->ad[i].new, w->ad[i].size);
		if (m->env.write_gpa(m->env.ctx, w->ad[i].gpa, raw, w->ad[i].size) != 0)
			m->c.env_errors++;
	}
}

static enum svt_pf_outcome done(struct svt_mmu *m, const struct svt_fault *f,
				struct svt_fault_result *res, enum svt_pf_outcome o)
{
	res->outcome = o;
	switch (o) {
	case SVT_PF_INJECT: m->c.injected++; break;
	case SVT_PF_MMIO: m->c.mmio++; break;
	case SVT_PF_RETRY: m->c.retries++; break;
	default: break;
	}
	mmu_event(m, SVT_EV_FAULT, f->va, f->error_code, o);
	return o;
}

static enum svt_pf_outcome inject(struct svt_mmu *m, const struct svt_fault *f,
				  struct svt_fault_result *res, uint32_t ec, uint64_t cr2)
{
	if (SVT_BUG(2))
		ec &= ~SVT_PFEC_U;
	res->error_code = ec;
	res->cr2 = cr2;
	return done(m, f, res, SVT_PF_INJECT);
}

static bool is_root_gfn(struct svt_mmu *m, uint64_t gfn)
{
	return m->root != SP_NONE && sh_is_table(SP(m, m->root)->type) && SP(m, m->root)->gfn == gfn;
}

#define PT_CONTINUE (-1)

/* Is gfn one of the tables this walk went through? */
static bool on_walk(const struct svt_mmu *m, const struct svt_walk *w, uint64_t gfn)
{
	for (unsigned i = 0; i < w->nlevels; i++) {
		if (m->mode == SVT_MODE_PAE && w->lv[i].level == 3)
			continue;
		if (w->lv[i].table >> 12 == gfn)
			return true;
	}
	return false;
}

/*
 * A write the shadows must not let through: to a page table in sync, or a
 * supervisor write the guest allows under CR0.WP=0 that the hardware (WP=1)
 * forbids (a read-only page, or PKRU.WD).  Out of sync (policy), emulate,
 * or unshadow and go on (PT_CONTINUE: propagate as for any other page).
 */
static int pt_or_wp0_write(struct svt_mmu *m, const struct svt_fault *f,
			   struct svt_fault_result *res, const struct svt_regs *regs,
			   const struct svt_access *acc, const struct svt_walk *w, uint64_t gfn,
			   bool user)
{
	bool write = acc->kind == SVT_ACC_WRITE;
	bool wp0 = false;

	if (write && !user && !(regs->cr0 & SVT_CR0_WP)) {
		struct svt_regs r1 = *regs;
		r1.cr0 |= SVT_CR0_WP;
		wp0 = svt_check_rights(&r1, acc, w->rights, m->mode >= SVT_MODE_4LEVEL, w->pkey) != 0;
	}
	bool ptw = write && gfn_wp(m, gfn);
	if (!ptw && !wp0)
		return PT_CONTINUE;
	if (ptw && !wp0 && oos_eligible(m, gfn)) {
		oos_mark(m, gfn);
		return PT_CONTINUE;
	}
	/* Unshadowing cannot help with these: emulate whatever the policy. */
	bool must = wp0 || is_root_gfn(m, gfn) || on_walk(m, w, gfn);
	if (m->cfg.policy.emulate || must)
		res->used_regs = true;  /* nothing before here looks at them */
	if ((m->cfg.policy.emulate || must) && f->regs == NULL) {
		/* A caller may leave the registers out where it expects no
		 * emulation (a user-mode write, say): ask for them, the
		 * guest runs the instruction again and faults again.
		 * Nothing has changed yet. */
		res->wants_regs = true;
		return done(m, f, res, SVT_PF_RETRY);
	}
	if ((m->cfg.policy.emulate || must) && f->insn_len > 0 && f->insn != NULL && f->regs != NULL) {
		struct emu_ctx x = { .m = m, .regs = *regs, .cpl = acc->cpl,
				     .implicit = acc->implicit, .early_gfn = ~0ull };
		struct svt_emu_mem mem = { .ctx = &x, .read = emu_read, .cmpxchg = emu_cmpxchg,
					   .misaligned_ok = true };
		struct svt_emu_result er;
		int rc = svt_emulate(f->regs, f->code_bits, f->insn, f->insn_len, &mem, &er);
		if (rc == SVT_EMU_OK) {
			if (ptw)
				m->c.emulated++;
			else
				m->c.emulated_wp0++;
			if (x.early_gfn != ~0ull) {
				unshadow_gfn(m, x.early_gfn);
				m->c.early_unshadows++;
				m->last_wr_gfn = ~0ull;
			}
			return done(m, f, res, SVT_PF_EMULATED);
		}
		if (rc == SVT_EMU_FAULT)
			return inject(m, f, res, x.ec, x.cr2);
		if (rc == SVT_EMU_RETRY)
			return done(m, f, res, SVT_PF_RETRY);
		if (ptw && !must) {
			unshadow_gfn(m, gfn);   /* not an instruction we emulate */
			return done(m, f, res, SVT_PF_RETRY);
		}
	}
	if (must) {
		m->c.env_errors++;      /* nothing can perform this write (docs/core.md) */
		return done(m, f, res, SVT_PF_RETRY);
	}
	unshadow_gfn(m, gfn);
	return PT_CONTINUE;
}

enum svt_pf_outcome svt_mmu_page_fault(struct svt_mmu *m, const struct svt_fault *f,
				       struct svt_fault_result *res)
{
	uint32_t ec = f->error_code;
	bool user = (ec & SVT_PFEC_U) != 0;
	struct svt_access acc = {
		.va = m->mode >= SVT_MODE_4LEVEL ? f->va : (f->va & 0xffffffffu),
		.kind = (ec & SVT_PFEC_W) ? SVT_ACC_WRITE : (ec & SVT_PFEC_I) ? SVT_ACC_FETCH : SVT_ACC_READ,
		.cpl = user ? 3 : f->cpl,
		.implicit = !user && f->cpl == 3,
	};
	struct svt_regs regs = m->g;
	struct svt_walk w, hw;
	uint64_t gfn;

	m->c.faults++;
	m->epoch++;
	res->outcome = SVT_PF_RETRY;
	res->error_code = 0;
	res->cr2 = 0;
	res->gpa = 0;
	res->wants_regs = false;
	res->used_regs = false;
	regs.rflags = f->rflags;
	regs.pkru = f->pkru;

	if (m->mode == SVT_MODE_NONE) {
		gfn = acc.va >> 12;
		if (g_mfn(m, gfn) == SVT_INVALID_MFN) {
			res->gpa = acc.va;
			return done(m, f, res, SVT_PF_MMIO);
		}
		if (!propagate_phys(m, acc.va))
			return done(m, f, res, SVT_PF_RETRY);
		m->c.fixed++;
		return done(m, f, res, SVT_PF_FIXED);
	}

	PROF_BEGIN(t0);
	int wr = svt_walk(&m->env, &regs, &acc, 0, &w);
	PROF_END(t0, 0);
	switch (wr) {
	case SVT_WALK_OK:
		break;
	case SVT_WALK_PF:
		/* (32-bit shadows without SMEP cannot tell a fetch from a read:
		 * it is taken for a read; docs/core.md.) */
		return inject(m, f, res, w.error_code, w.cr2);
	default:
		m->c.env_errors++;
		return done(m, f, res, SVT_PF_RETRY);
	}
	gfn = w.gpa >> 12;
	if (g_mfn(m, gfn) == SVT_INVALID_MFN) {
		apply_ad(m, &w);
		res->gpa = w.gpa;
		return done(m, f, res, SVT_PF_MMIO);
	}

	/*
	 * The shadow may already allow the access: a translation the hardware
	 * had cached from before a shadow entry gained rights (the #PF dropped
	 * it; re-running succeeds), or an implicit supervisor access at CPL < 3
	 * that SMAP forbids whatever RFLAGS.AC says — the hardware does not
	 * tell the two apart.  The first time, re-run; the same fault again at
	 * once means it was implicit.
	 */
	PROF_BEGIN(t1);
	bool allows = sh_maps(m, acc.va) && hw_walk(m, &acc, regs.rflags, regs.pkru, &hw) == SVT_WALK_OK;
	PROF_END(t1, 1);
	if (allows) {
		struct svt_access ia = acc;
		struct svt_walk iw;
		ia.implicit = true;
		if (m->last_spurious_va == acc.va && m->last_spurious_ec == ec &&
		    m->last_spurious_at + 1 == m->c.faults &&
		    svt_walk(&m->env, &regs, &ia, 0, &iw) == SVT_WALK_PF)
			return inject(m, f, res, iw.error_code, iw.cr2);
		m->last_spurious_va = acc.va;
		m->last_spurious_ec = ec;
		m->last_spurious_at = m->c.faults;
		m->env.flush_tlb(m->env.ctx, SVT_FLUSH_VA, acc.va);
		return done(m, f, res, SVT_PF_RETRY);
	}

	PROF_BEGIN(t2);
	int o = pt_or_wp0_write(m, f, res, &regs, &acc, &w, gfn, user);
	PROF_END(t2, 2);
	if (o != PT_CONTINUE)
		return (enum svt_pf_outcome)o;
	apply_ad(m, &w);
	if (w.nad > 0)
		m->c.ad_faults++;
	else
		m->c.fixed++;
	bool write = acc.kind == SVT_ACC_WRITE;
	PROF_BEGIN(t3);
	bool pr = propagate(m, &w, acc.va, write);
	PROF_END(t3, 3);
	if (!pr)
		return done(m, f, res, SVT_PF_RETRY);
	if (write && gfn_wp(m, gfn)) {
		/* The walk itself made the target a page table (a table that
		 * maps itself): the write is a page-table write after all. */
		o = pt_or_wp0_write(m, f, res, &regs, &acc, &w, gfn, user);
		if (o != PT_CONTINUE)
			return (enum svt_pf_outcome)o;
		if (!propagate(m, &w, acc.va, write))
			return done(m, f, res, SVT_PF_RETRY);
	}
	/* (Whether the shadows now allow the access is for the replay's
	 * checks to say: a second walk here would double the cost of a fault.) */
	return done(m, f, res, SVT_PF_FIXED);
}
