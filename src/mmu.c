/*
 * mmu.c — the shadow MMU's bookkeeping: the storage block, shadow pages
 * and the pool with its eviction, the hash by (guest frame, type), reverse
 * maps and back-pointers, write protection of guest page tables,
 * unshadowing, the root cache, and the control-register entry points that
 * change what the shadows must look like (mode changes reset them).
 * The fault path is in mmu_fault.c, out-of-sync pages in mmu_oos.c,
 * writes to page tables in mmu_ptwrite.c, the audits in mmu_audit.c.
 */
#include "mmu_int.h"

/* ---- small helpers ------------------------------------------------------ */

static size_t align8(size_t n) { return (n + 7) & ~(size_t)7; }

void mmu_event(struct svt_mmu *m, enum svt_event_kind k, uint64_t a, uint64_t b, uint64_t c)
{
	if (m->d.env.event) {
		struct svt_event ev = { .kind = k, .a = a, .b = b, .c = c };
		m->d.env.event(m->d.env.ctx, &ev);
	}
}

/* The machine frame of gfn: guest RAM, or a device frame the environment
 * passes through (any frame the environment maps that is not RAM: it is
 * mapped for the guest like RAM, but never write-protected, never tracked
 * as a page table, never in a reverse map); SVT_INVALID_MFN for neither
 * (MMIO the hypervisor handles, or nothing). */
svt_mfn_t g_mfn(struct svt_mmu *m, svt_gfn_t gfn)
{
	uint64_t g = svt_gfn_x(gfn);

	if (!gfn_is_ram(m, g) && (g > UINT32_MAX || g >> (m->d.cfg.maxphyaddr - 12)))
		return SVT_INVALID_MFN;         /* (a shadow leaf keeps frames in 32 bits) */
	return m->d.env.gfn_to_mfn(m->d.env.ctx, gfn);
}

int g_read_entry(struct svt_mmu *m, uint64_t gpa, unsigned size, g_entry_t *val)
{
	uint8_t raw[8];

	if (m->d.env.read_gpa(m->d.env.ctx, gpa, raw, size) != 0) {
		m->d.c.env_errors++;
		return -1;
	}
	*val = g_entry(svt_le_load(raw, size));
	return 0;
}

/* ---- shadow entries ----------------------------------------------------- */

unsigned sp_nents(const struct svt_mmu *m, const struct sh_page *p)
{
	return p->type == SH_PAE_ROOT || p->type == SH_PDPT ? 4 : m->d.nents;
}

/* The machine address of the frame a shadow entry points to. */
uint64_t sh_frame(const struct svt_mmu *m, sh_entry_t e)
{
	return m->d.esize == 4 ? (e.se & 0xfffff000u) : (e.se & svt_bits(51, 12));
}

void sh_raw_set(struct svt_mmu *m, uint32_t spi, unsigned idx, sh_entry_t e)
{
	struct sh_page *sp = SP(m, spi);
	uint8_t *p = sp->map + (size_t)idx * m->d.esize;
	uint64_t val = sh_entry_x(e);
	audit_sp_dirty(m, spi);
	/* P is bit 0 of the entry's first byte */
	sp->present += (uint16_t)((val & SVT_PTE_P) - (p[0] & SVT_PTE_P));
	if (val & SVT_PTE_P) {
		if (idx < sp->lo)
			sp->lo = (uint16_t)idx;
		if (idx >= sp->hi)
			sp->hi = (uint16_t)(idx + 1);
	} else if (sp->present == 0) {
		sp->lo = SH_MAX_ENTRIES;        /* empty again: the range starts over */
		sp->hi = 0;
	}
	svt_le_store(p, val, m->d.esize);
}

/* The guest entry a shadow entry is derived from (table types, PHYS and
 * the PAE root; a 2-on-3 PDPT's entries, derived from nothing, as a PDPTE
 * with P).  *ok is false where there is none or it cannot be read. */
g_entry_t g_table_entry(struct svt_mmu *m, const struct sh_page *p, unsigned idx, bool *ok)
{
	g_entry_t v = g_entry(0);

	*ok = true;
	switch (p->type) {
	case SH_PHYS:
		return g_entry(((uint64_t)idx << 22) | SVT_PTE_P | (SVT_BUG(60) ? 0 : SVT_PTE_RW) |
			       SVT_PTE_US | SVT_PTE_A | SVT_PTE_D | SVT_PTE_PS);
	case SH_PAE_ROOT:
		return g_entry(m->v.g.pdpte[idx & 3]);
	case SH_PDPT:
		return g_entry(SVT_PTE_P);
	case SH_L1: case SH_L2: case SH_L3: case SH_L4: case SH_L5:
		if (g_read_entry(m, (p->gfn << 12) + (uint64_t)sh_gidx(m, p, idx) * m->d.gesize,
				 m->d.gesize, &v) == 0)
			return v;
		break;
	}
	*ok = false;
	return g_entry(0);
}

/* ---- links: reverse maps and back-pointers ------------------------------ */

static bool evict_one(struct svt_mmu *m);

static uint32_t link_alloc(struct svt_mmu *m)
{
	for (unsigned tries = 0; m->d.free_link == 0; tries++)
		if (tries > 64 || !evict_one(m))
			return 0;
	uint32_t l = m->d.free_link;
	if (m->d.links[l - 1].idx < m->d.al.lo_depth)
		m->d.al.lo_depth = m->d.links[l - 1].idx;       /* its depth (list_del) */
	m->d.free_link = m->d.links[l - 1].next;
	m->d.links_used++;
	return l;
}

static bool list_add(struct svt_mmu *m, uint32_t *head, uint32_t spi, unsigned idx)
{
	uint32_t l = link_alloc(m);

	if (l == 0)
		return false;
	m->d.links[l - 1].sp = spi;
	m->d.links[l - 1].idx = idx;
	m->d.links[l - 1].next = *head;
	*head = l;
	return true;
}

static void list_del(struct svt_mmu *m, uint32_t *head, uint32_t spi, unsigned idx)
{
	for (uint32_t *pl = head; *pl != 0; pl = &m->d.links[*pl - 1].next) {
		struct sh_link *k = &m->d.links[*pl - 1];
		if (k->sp == spi && k->idx == idx) {
			uint32_t l = *pl;
			*pl = k->next;
			k->next = m->d.free_link;
			k->sp = 0;
			/* a free link's idx: its depth in the free stack (the audit's) */
			k->idx = m->d.free_link ? m->d.links[m->d.free_link - 1].idx + 1 : 1;
			m->d.free_link = l;
			m->d.links_used--;
			return;
		}
	}
	m->d.c.env_errors++;      /* not found: an internal inconsistency the audit reports */
}

/* ---- setting shadow entries -------------------------------------------- */

static void sp_free(struct svt_mmu *m, uint32_t spi);

/* A shadow page of type and frame gfn was made or freed, or gained or
 * lost a parent entry: out-of-sync L1s may be reached from other roots
 * now (struct oos_slot's memo).  Splinters are no L1's ancestors (only an
 * FL2 is their parent) and never out of sync, and an L1 of a frame in
 * sync is no page's ancestor and in no slot's memo (a frame taken out of
 * sync starts its slot's memo afresh): they leave the memo be. */
static inline void link_changed(struct svt_mmu *m, unsigned type, uint64_t gfn)
{
	if (type == SH_FL1 || type == SH_FL2 ||
	    (type == SH_L1 && gfn_is_ram(m, gfn) && !m->d.gi[gfn].oos) ||
	    (type == SH_L2 && SVT_BUG(90)))
		return;
	m->d.link_gen++;
}

static void child_release(struct svt_mmu *m, uint32_t spi, unsigned idx, uint32_t child)
{
	struct sh_page *c = SP(m, child);

	audit_sp_dirty(m, child);
	link_changed(m, c->type, c->gfn);
	list_del(m, &c->parents, spi, idx);
	c->refs--;
	if (c->refs == 0 && c->pins == 0 && c->busy != m->d.epoch)
		sp_free(m, child);
}

/* A leaf entry (SH_L1, SH_FL1) mapping guest frame gfn, or not present. */
void sh_set_leaf(struct svt_mmu *m, uint32_t spi, unsigned idx, sh_entry_t val, svt_gfn_t gfn)
{
	sh_entry_t old = sh_get(m, spi, idx);
	uint32_t *aux = sp_aux(m, spi);
	uint64_t g = svt_gfn_x(gfn);

	if (sh_present(old))
		audit_gfn_dirty(m, aux[idx]);
	if (sh_present(val))
		audit_gfn_dirty(m, g);
	if (sh_present(old) && sh_present(val) && (aux[idx] == g || SVT_BUG(32))) {
		sh_raw_set(m, spi, idx, val);
		return;
	}
	if (sh_present(old)) {
		sh_raw_set(m, spi, idx, SH_ENTRY_NONE);
		if (gfn_is_ram(m, aux[idx]))
			list_del(m, &m->d.gi[aux[idx]].rmap, spi, idx);
	}
	if (sh_present(val)) {
		/* RAM goes in its frame's reverse map; a passed-through device
		 * frame (g_mfn) has none, and one whose number does not fit
		 * aux is left unmapped */
		if (gfn_is_ram(m, g) ? !list_add(m, &m->d.gi[g].rmap, spi, idx) : g > UINT32_MAX)
			return;
		aux[idx] = (uint32_t)g;
		sh_raw_set(m, spi, idx, val);
	}
}

/* A non-leaf entry pointing to sp child, or not present (val without P). */
void sh_set_child(struct svt_mmu *m, uint32_t spi, unsigned idx, sh_entry_t val, uint32_t child)
{
	sh_entry_t old = sh_get(m, spi, idx);
	uint32_t *aux = sp_aux(m, spi);
	uint32_t oc = sh_present(old) ? aux[idx] : SP_NONE;

	if (oc != SP_NONE && oc == child && sh_present(val)) {
		sh_raw_set(m, spi, idx, val);
		return;
	}
	if (sh_present(val)) {
		audit_sp_dirty(m, child);
		if (!list_add(m, &SP(m, child)->parents, spi, idx)) {
			val = SH_ENTRY_NONE;
		} else {
			SP(m, child)->refs += !SVT_BUG(33);
			aux[idx] = child;
			link_changed(m, SP(m, child)->type, SP(m, child)->gfn);
		}
	}
	sh_raw_set(m, spi, idx, sh_present(val) ? val : SH_ENTRY_NONE);
	if (oc != SP_NONE)
		child_release(m, spi, idx, oc);
}

void sh_clear(struct svt_mmu *m, uint32_t spi, unsigned idx)
{
	if (!sh_present(sh_get(m, spi, idx)))
		return;
	if (SP(m, spi)->level == 1)
		sh_set_leaf(m, spi, idx, SH_ENTRY_NONE, svt_gfn(0));
	else
		sh_set_child(m, spi, idx, SH_ENTRY_NONE, SP_NONE);
}

/* ---- the hash and shadow pages ------------------------------------------ */

static unsigned bucket(const struct svt_mmu *m, uint64_t gfn, unsigned type, unsigned sub)
{
	uint64_t h = (gfn * 0x9e3779b97f4a7c15ull) ^ ((uint64_t)type << 56) ^ ((uint64_t)sub << 48);
	h ^= h >> 29;
	return (unsigned)(h % m->d.nbuckets);
}

uint32_t sp_lookup(struct svt_mmu *m, uint64_t gfn, unsigned type, unsigned sub)
{
	for (uint32_t i = m->d.hash[bucket(m, gfn, type, sub)]; i != SP_NONE;
	     i = SP(m, i)->hash_next) {
		const struct sh_page *p = SP(m, i);
		if (p->gfn == gfn && p->type == type && p->sub == sub)
			return i;
	}
	return SP_NONE;
}

void sp_touch(struct svt_mmu *m, uint32_t spi)
{
	SP(m, spi)->stamp = ++m->d.clock;
	SP(m, spi)->busy = m->d.epoch;
}

static void hash_remove(struct svt_mmu *m, uint32_t spi)
{
	struct sh_page *p = SP(m, spi);
	uint32_t prev = SP_NONE;

	for (uint32_t *pi = &m->d.hash[bucket(m, p->gfn, p->type, p->sub)]; *pi != SP_NONE;
	     prev = *pi, pi = &SP(m, *pi)->hash_next) {
		if (*pi == spi) {
			*pi = p->hash_next;
			if (prev != SP_NONE)
				audit_sp_dirty(m, prev);        /* its hash_next changed */
			return;
		}
	}
	m->d.c.env_errors++;
}

static void root_cache_remove(struct svt_mmu *m, uint32_t spi)
{
	for (unsigned i = 0; i < m->v.nroots; i++) {
		if (m->v.roots[i] != spi)
			continue;
		for (unsigned j = i + 1; j < m->v.nroots; j++)
			m->v.roots[j - 1] = m->v.roots[j];
		m->v.nroots--;
		SP(m, spi)->pins--;
		return;
	}
}

static inline void sh_zero(uint8_t *e, unsigned es)
{
	/* one store (zero reads the same in either byte order; entries are
	 * aligned, the map 8-byte aligned): byte stores would make the
	 * compiler reload everything else in the loop after each */
	if (es == 8)
		*(uint64_t *)(void *)e = 0;
	else
		*(uint32_t *)(void *)e = 0;
}

/* The leaves (SH_L1, SH_FL1) of sp_empty(), entries [lo, end) of size es:
 * each leaves its frame's reverse map as list_del() takes it out, written
 * out so that the free-link stack and the tables stay in registers across
 * the page (inline: built once per entry size). */
static inline void sp_empty_leaves(struct svt_mmu *m, uint32_t spi, unsigned lo, unsigned end,
				   unsigned es)
{
	const uint32_t *aux = sp_aux(m, spi);
	uint8_t *e = SP(m, spi)->map + (size_t)lo * es;
	struct sh_link *lk = m->d.links;
	struct gfn_info *gi = m->d.gi;
	uint64_t frames = m->d.cfg.guest_frames;
	uint32_t fl = m->d.free_link, depth0 = fl ? lk[fl - 1].idx : 0, depth = depth0;

	for (unsigned i = lo; i < end; i++, e += es) {
		if (!(e[0] & SVT_PTE_P))
			continue;
		uint32_t g = aux[i];
		sh_zero(e, es);
		if (g >= frames)
			continue;       /* not RAM: no reverse map, nothing to log */
		if (!gi[g].alogged)
			audit_gfn_dirty(m, g);
		uint32_t *pl = &gi[g].rmap;
		while (*pl != 0 && (lk[*pl - 1].sp != spi || lk[*pl - 1].idx != i))
			pl = &lk[*pl - 1].next;
		if (*pl == 0) {
			m->d.c.env_errors++;    /* as list_del() */
			continue;
		}
		uint32_t l = *pl;
		struct sh_link *k = &lk[l - 1];
		*pl = k->next;
		k->next = fl;
		k->sp = 0;
		k->idx = ++depth;       /* its depth in the free stack (list_del()) */
		fl = l;
	}
	m->d.free_link = fl;
	m->d.links_used -= depth - depth0;
}

/*
 * Empty shadow page spi in one pass, as sh_clear() of each present entry in
 * index order would (the same reverse maps, parent lists, frees, audit log
 * and events, in the same order), for a page about to be freed: a torn-down
 * table has dozens of entries, and sh_clear() for each redoes per entry
 * what is done here once (sh_raw_set()'s count and bounds, the lookups of
 * the link and frame tables, the free-link stack's depth).
 */
static void sp_empty(struct svt_mmu *m, uint32_t spi)
{
	struct sh_page *p = SP(m, spi);
	unsigned es = m->d.esize;
	unsigned end = p->hi < sp_nents(m, p) ? p->hi : sp_nents(m, p);

	if (p->present == 0)
		return;
	audit_sp_dirty(m, spi);
	if (p->level == 1 && es == 8) {
		sp_empty_leaves(m, spi, p->lo, end, 8);
	} else if (p->level == 1) {
		sp_empty_leaves(m, spi, p->lo, end, 4);
	} else {
		/* Links to children: each child loses this parent entry and
		 * may be freed with it (child_release()), after the entry is
		 * cleared, as sh_set_child() does it. */
		const uint32_t *aux = sp_aux(m, spi);
		uint8_t *e = p->map + (size_t)p->lo * es;
		for (unsigned i = p->lo; i < end; i++, e += es) {
			if (!(e[0] & SVT_PTE_P))
				continue;
			sh_zero(e, es);
			if (aux[i] != SP_NONE)
				child_release(m, spi, i, aux[i]);
		}
	}
	p->present = 0;
	p->lo = SH_MAX_ENTRIES;
	p->hi = 0;
}

static void sp_free(struct svt_mmu *m, uint32_t spi)
{
	struct sh_page *p = SP(m, spi);

	p->pins++;      /* nothing below may free it again */
	sp_empty(m, spi);
	p->pins--;
	audit_sp_dirty(m, spi);
	if (sh_is_table(p->type))
		audit_gfn_dirty(m, p->gfn);
	hash_remove(m, spi);
	link_changed(m, p->type, p->gfn);
	if (sh_is_table(p->type) && gfn_is_ram(m, p->gfn) && !SVT_BUG(35)) {
		struct gfn_info *gi = &m->d.gi[p->gfn];
		gi->pt--;
		if (gi->pt == 0 && gi->oos)
			oos_drop(m, p->gfn);
		if (gi->pt == 0 && gi->forced)
			oos_forced_drop(m, p->gfn);
	}
	mmu_event(m, SVT_EV_SHADOW_FREE, p->gfn, p->type, svt_mfn_x(p->mfn));
	p->type = SH_FREE;
	p->fdepth = m->d.free_sp == SP_NONE ? 1 : SP(m, m->d.free_sp)->fdepth + 1;
	p->hash_next = m->d.free_sp;
	m->d.free_sp = spi;
	m->d.c.pool_used--;
	m->d.c.pool_free++;
}

/* Unlink sp from every parent entry and free it. */
void sp_destroy(struct svt_mmu *m, uint32_t spi)
{
	struct sh_page *p = SP(m, spi);

	if (p->type == SH_FREE)
		return;
	root_cache_remove(m, spi);
	p->pins++;
	while (p->parents != 0) {
		const struct sh_link *k = &m->d.links[p->parents - 1];
		sh_clear(m, k->sp, k->idx);
	}
	p->pins--;
	if (m->v.root == spi)
		m->v.root = SP_NONE;
	sp_free(m, spi);
}

/* May shadow page p be evicted now: not a pinned root, not in use by the
 * current operation? */
static inline bool evictable(const struct svt_mmu *m, const struct sh_page *p)
{
	return !p->pins && (p->busy != m->d.epoch || SVT_BUG(48));
}

/*
 * The least recently used shadow page that may be evicted now (the
 * smallest stamp), or SP_NONE.  A scan of the whole pool finds it and
 * remembers the EVICT_MEMO oldest pages in use (evictable or not) with
 * their stamps.  Later, the first remembered page whose stamp is still
 * the one remembered (neither used nor freed since) and that may be
 * evicted now is the same answer without a scan: every page outside the
 * memo was newer than all in it at the scan and can only have become
 * newer, and a page the memo holds that was used since is newer still.
 * When no remembered page will do, the pool is scanned again.
 */
static uint32_t evict_pick(struct svt_mmu *m)
{
	struct evict_memo *e = &m->d.ev;
	uint32_t best = SP_NONE;

	for (uint32_t k = e->pos; k < e->n; k++) {
		const struct sh_page *p = SP(m, e->spi[k]);
		if (p->type == SH_FREE || p->stamp != e->stamp[k]) {
			if (k == e->pos)
				e->pos++;       /* gone for good: not looked at again */
			continue;
		}
		if (evictable(m, p))
			return e->spi[k];
	}
	e->n = e->pos = 0;
	for (uint32_t i = 1; i <= m->d.cfg.pool_frames; i++) {
		const struct sh_page *p = SP(m, i);
		if (p->type == SH_FREE)
			continue;
		if (e->n < EVICT_MEMO || (p->stamp < e->stamp[e->n - 1]) != SVT_BUG(88)) {
			uint32_t k = e->n < EVICT_MEMO ? e->n++ : EVICT_MEMO - 1;
			for (; k > 0 && (e->stamp[k - 1] > p->stamp) != SVT_BUG(88); k--) {
				e->stamp[k] = e->stamp[k - 1];
				e->spi[k] = e->spi[k - 1];
			}
			e->stamp[k] = p->stamp;
			e->spi[k] = i;
		}
		if (evictable(m, p) && (best == SP_NONE || p->stamp < SP(m, best)->stamp))
			best = i;
	}
	return best;
}

/* Free the least recently used shadow page not in use by the current
 * operation and not a pinned root.  Returns false if there is none. */
static bool evict_one(struct svt_mmu *m)
{
	uint32_t best = evict_pick(m);

	if (best == SP_NONE) {
		/* Give up a cached root other than the current one. */
		for (unsigned k = m->v.nroots; k-- > 0;) {
			uint32_t r = m->v.roots[k];
			if (r == m->v.root || SP(m, r)->busy == m->d.epoch)
				continue;
			best = r;
			break;
		}
		if (best == SP_NONE)
			return false;
	}
	mmu_event(m, SVT_EV_EVICT, SP(m, best)->gfn, SP(m, best)->type, 0);
	sp_destroy(m, best);
	m->d.c.evictions++;
	m->d.env.flush_tlb(m->d.env.ctx, SVT_FLUSH_ALL, 0);
	return true;
}

static unsigned type_level(const struct svt_mmu *m, unsigned type)
{
	switch (type) {
	case SH_FL1: return 1;
	case SH_FL2: return 2;
	case SH_PHYS: return 2;
	case SH_PAE_ROOT: case SH_PDPT: return 3;
	default: (void)m; return type;     /* SH_L1..SH_L5 */
	}
}

/* Find or make the shadow (gfn, type, sub); it comes back busy. */
uint32_t sp_get(struct svt_mmu *m, uint64_t gfn, unsigned type, unsigned sub, bool *made)
{
	uint32_t spi = sp_lookup(m, gfn, type, sub);

	*made = false;
	if (spi != SP_NONE) {
		sp_touch(m, spi);
		return spi;
	}
	if (sh_is_table(type) && gfn_is_ram(m, gfn) && m->d.gi[gfn].oos && !SVT_BUG(44))
		oos_resync_gfn(m, gfn);         /* in sync before it becomes another kind of
						 * table */
	if (sh_is_table(type) && gfn_forced(m, gfn))
		oos_forced_resync(m, gfn);      /* likewise a table unsynced by force */
	for (unsigned tries = 0; m->d.free_sp == SP_NONE; tries++)
		if (tries > 64 || !evict_one(m))
			return SP_NONE;
	spi = m->d.free_sp;
	struct sh_page *p = SP(m, spi);
	m->d.free_sp = p->hash_next;
	link_changed(m, type, gfn);
	if (p->fdepth < m->d.al.sp_lo)
		m->d.al.sp_lo = p->fdepth;      /* its depth: below it the list is as audited */
	m->d.c.pool_used++;
	m->d.c.pool_free--;

	uint64_t *frame = (uint64_t *)(void *)p->map;      /* 8-byte aligned (svt_mmu_init) */
	for (unsigned i = 0; i < SH_PAGE_SIZE / sizeof(uint64_t); i++)
		frame[i] = 0;
	p->present = 0;
	p->lo = SH_MAX_ENTRIES;
	p->hi = 0;
	p->gfn = gfn;
	p->type = (uint8_t)type;
	p->level = (uint8_t)type_level(m, type);
	p->sub = (uint8_t)sub;
	p->parents = 0;
	p->refs = 0;
	p->pins = 0;
	unsigned b = bucket(m, gfn, type, sub);
	p->hash_next = m->d.hash[b];
	m->d.hash[b] = spi;
	sp_touch(m, spi);
	audit_sp_dirty(m, spi);
	if (sh_is_table(type))
		audit_gfn_dirty(m, gfn);
	m->d.c.shadows_made++;
	mmu_event(m, SVT_EV_SHADOW_NEW, gfn, type, svt_mfn_x(p->mfn));
	if (sh_is_table(type) && gfn_is_ram(m, gfn)) {
		if (m->d.gi[gfn].pt++ == 0 && gfn_wp(m, gfn) && !SVT_BUG(30))
			wp_gfn(m, gfn, true);
	}
	*made = true;
	return spi;
}

/* Write-protect (or, for an out-of-sync page, unprotect) every shadow
 * leaf mapping gfn.  Unprotecting grants write only where the shadow
 * entry's source still allows it; the reverse map does not change. */
void wp_gfn(struct svt_mmu *m, uint64_t gfn, bool protect)
{
	bool changed = false;

	for (uint32_t l = m->d.gi[gfn].rmap; l != 0; l = m->d.links[l - 1].next) {
		const struct sh_link *k = &m->d.links[l - 1];
		uint64_t e = sh_entry_x(sh_get(m, k->sp, k->idx));

		if (protect) {
			if ((e & SVT_PTE_RW) && !(SVT_BUG(31) && SP(m, k->sp)->type == SH_FL1)) {
				sh_raw_set(m, k->sp, k->idx, sh_entry(e & ~SVT_PTE_RW));
				changed = true;
			}
			continue;
		}
		const struct sh_page *p = SP(m, k->sp);
		bool ok = true;
		if (p->type == SH_L1) {
			g_entry_t g = g_table_entry(m, p, k->idx, &ok);
			svt_gfn_t ggfn;
			ok = ok && (sh_entry_x(sh_leaf_from_guest(m, g, &ggfn)) & SVT_PTE_RW) &&
			     svt_gfn_x(ggfn) == gfn;
		}
		if (ok)
			sh_raw_set(m, k->sp, k->idx, sh_entry(e | SVT_PTE_RW | SVT_PTE_D));
	}
	if (changed)
		m->d.env.flush_tlb(m->d.env.ctx, SVT_FLUSH_ALL, 0);
}

/* Drop every shadow of a guest frame (every part); its mappings become
 * writable again lazily, on the next write fault.  (A 2-on-3 PDPT keyed by
 * the frame stays: it shadows nothing the guest wrote.) */
void unshadow_gfn(struct svt_mmu *m, uint64_t gfn)
{
	bool any = false;

	for (unsigned t = SH_L1; t <= (SVT_BUG(34) ? SH_L1 : sh_top_table(m)); t++) {
		for (unsigned part = 0; part < sh_parts(m, t); part++) {
			uint32_t spi = sp_lookup(m, gfn, t, part);
			if (spi == SP_NONE)
				continue;
			if (spi == m->v.root) {
				/* The hardware is using it: empty it instead. */
				for (unsigned i = 0; i < sp_nents(m, SP(m, spi)); i++)
					sh_clear(m, spi, i);
				continue;
			}
			sp_destroy(m, spi);
			any = true;
		}
	}
	if (any) {
		m->d.c.unshadows++;
		mmu_event(m, SVT_EV_UNSHADOW, gfn, 0, 0);
	}
	m->d.env.flush_tlb(m->d.env.ctx, SVT_FLUSH_ALL, 0);
}

/* ---- modes, roots ------------------------------------------------------- */

static void reset_all(struct svt_mmu *m)
{
	while (m->v.nroots > 0)
		root_cache_remove(m, m->v.roots[0]);
	m->v.root = SP_NONE;
	for (uint32_t i = 1; i <= m->d.cfg.pool_frames; i++)
		if (SP(m, i)->type != SH_FREE)
			sp_destroy(m, i);
	for (unsigned s = 0; s < SVT_OOS_MAX; s++)
		m->d.oos[s].used = false;
	for (unsigned k = 0; k < OOS_FORCED_MAX; k++)
		m->d.forced[k] = ~0ull;         /* (sp_free() cleared their frames' marks) */
	m->d.wp0_granted = false;
	m->d.c.resets++;
	mmu_event(m, SVT_EV_RESET, 0, 0, 0);
	m->d.env.flush_tlb(m->d.env.ctx, SVT_FLUSH_ALL, 0);
}

static void set_mode(struct svt_mmu *m)
{
	m->v.mode = svt_paging_mode(&m->v.g);
	/* 2-level guests get PAE-format shadows (2-on-3, mmu_int.h); only
	 * the 1:1 tables of paging off keep the 2-level format */
	m->d.smode = m->v.mode == SVT_MODE_NONE ? SVT_MODE_2LEVEL :
		     m->v.mode == SVT_MODE_2LEVEL ? SVT_MODE_PAE : m->v.mode;
	m->d.esize = m->d.smode == SVT_MODE_2LEVEL ? 4 : 8;
	m->d.nents = m->d.esize == 4 ? 1024 : 512;     /* SH_PAGE_SIZE / esize */
	m->d.gesize = m->v.mode <= SVT_MODE_2LEVEL ? 4 : 8;
}

/*
 * Does PAE root spi already hold what the PDPTEs make of it: the root
 * set_root() last linked, from the same PDPTEs, each entry present where
 * its PDPTE is (a child evicted since took its parent entry with it)?
 * Then only what the linking would do to an entry already as it must be
 * is done: its child touched, in order.  Most PAE CR3 loads reload the
 * current CR3 (a guest flushing its TLB).
 */
static bool pae_root_current(struct svt_mmu *m, uint32_t spi)
{
	if (m->v.pae_built_root != spi)
		return false;
	for (unsigned i = 0; i < 4; i++)
		if ((m->v.g.pdpte[i] != m->v.pae_built[i] && !SVT_BUG(89)) ||
		    !(m->v.g.pdpte[i] & SVT_PTE_P) != !sh_present(sh_get(m, spi, i)))
			return false;
	for (unsigned i = 0; i < 4; i++)
		if (m->v.g.pdpte[i] & SVT_PTE_P) {
			sp_touch(m, sp_aux(m, spi)[i]);
			audit_sp_dirty(m, spi);
		}
	return true;
}

/* Point the hardware at the shadow of the guest's current top level. */
static void set_root(struct svt_mmu *m)
{
	uint64_t gfn;
	unsigned type;
	bool made;

	m->d.epoch++;
	switch (m->v.mode) {
	case SVT_MODE_NONE:
		gfn = 0, type = SH_PHYS;
		break;
	case SVT_MODE_2LEVEL:
		gfn = (m->v.g.cr3 >> 12) & 0xfffff, type = SH_PDPT;
		break;
	case SVT_MODE_PAE:
		gfn = (m->v.g.cr3 & 0xffffffe0u) >> 5, type = SH_PAE_ROOT;
		break;
	default:
		gfn = (m->v.g.cr3 & svt_bits(m->v.g.maxphyaddr - 1, 12)) >> 12;
		type = m->v.mode == SVT_MODE_5LEVEL ? SH_L5 : SH_L4;
		break;
	}
	/* Keep the old root alive while the new one is found.  Most loads
	 * reload the current one (a guest that flushes its TLB so): it is
	 * what the lookup would find. */
	uint32_t spi = m->v.root;
	if (spi != SP_NONE && SP(m, spi)->gfn == gfn && SP(m, spi)->type == type &&
	    SP(m, spi)->sub == 0)
		sp_touch(m, spi);
	else
		spi = sp_get(m, gfn, type, 0, &made);
	if (spi == SP_NONE) {
		/* Every frame is a pinned root: start again from nothing. */
		reset_all(m);
		m->d.epoch++;
		spi = sp_get(m, gfn, type, 0, &made);
	}
	if (m->v.mode == SVT_MODE_PAE && !pae_root_current(m, spi)) {
		for (unsigned i = 0; i < 4; i++) {
			uint64_t pd = m->v.g.pdpte[i];
			if (!(pd & SVT_PTE_P)) {
				sh_clear(m, spi, i);
				continue;
			}
			/* most loads find the entry linked to the right child
			 * already: that child is what the lookup would find */
			uint64_t cgfn = (pd & svt_bits(m->v.g.maxphyaddr - 1, 12)) >> 12;
			uint32_t c = sh_present(sh_get(m, spi, i)) ? sp_aux(m, spi)[i] : SP_NONE;
			if (c != SP_NONE && SP(m, c)->gfn == cgfn && SP(m, c)->type == SH_L2 &&
			    SP(m, c)->sub == 0)
				sp_touch(m, c);
			else
				c = sp_get(m, cgfn, SH_L2, 0, &made);
			if (c == SP_NONE) {
				sh_clear(m, spi, i);
				continue;
			}
			sh_entry_t e = sh_entry((svt_mfn_x(SP(m, c)->mfn) << 12) | SVT_PTE_P);
			if (sh_present(sh_get(m, spi, i)) && sp_aux(m, spi)[i] == c &&
			    sh_entry_x(sh_get(m, spi, i)) == sh_entry_x(e))
				audit_sp_dirty(m, spi);         /* all sh_set_child() would do */
			else
				sh_set_child(m, spi, i, e, c);
		}
		m->v.pae_built_root = spi;
		for (unsigned i = 0; i < 4; i++)
			m->v.pae_built[i] = m->v.g.pdpte[i];
	}
	/* The root cache: most recent first, pinned. */
	unsigned pos = 0;
	while (pos < m->v.nroots && m->v.roots[pos] != spi)
		pos++;
	if (pos == m->v.nroots) {
		SP(m, spi)->pins++;
		if (m->v.nroots < SVT_ROOT_CACHE_MAX)
			m->v.nroots++;
		pos = m->v.nroots - 1;
	}
	for (unsigned i = pos; i > 0; i--)
		m->v.roots[i] = m->v.roots[i - 1];
	m->v.roots[0] = spi;
	m->v.root = spi;
	unsigned keep = m->d.cfg.root_cache ? m->d.cfg.root_cache : 4;
	if (keep > SVT_ROOT_CACHE_MAX)
		keep = SVT_ROOT_CACHE_MAX;
	while (m->v.nroots > keep) {
		uint32_t old = m->v.roots[m->v.nroots - 1];
		root_cache_remove(m, old);
		if (SP(m, old)->refs == 0 && SP(m, old)->pins == 0)
			sp_free(m, old);
	}
}

/* Mode-relevant state: a change of any of it drops every shadow. */
static uint64_t shape_of(enum svt_mode mode, const struct svt_regs *g)
{
	return (uint64_t)(mode + 1) | ((g->cr4 & SVT_CR4_PSE) << 8) |
	       (SVT_BUG(66) ? 0 : (g->efer & SVT_EFER_NXE) << 8);
}

/* What a register write flushes: nothing, the new CR3's address space
 * (its PCID), or every translation. */
enum { FLUSH_NONE, FLUSH_SPACE, FLUSH_EVERYTHING };

/* After new registers: the new root, if CR3 changed, then the flush, if
 * any (out-of-sync pages resynced: those of the new root's address space,
 * or all). */
static inline void root_and_flush(struct svt_mmu *m, bool root_changed, int flush)
{
	/* tables unsynced by force go back in sync at every CR3 load, even a
	 * no-flush one, and every flush (stricter than a TLB: never wrong) */
	if (root_changed || flush)
		oos_forced_resync(m, OOS_FORCED_ALL);
	if (root_changed) {
		PROF_BEGIN(m, t);
		set_root(m);
		PROF_END(m, t, SVT_PROF_ROOT);
	}
	if (flush) {
		/* a CR3 load flushes its own address space; CR0 and CR4
		 * changes, everything */
		if (flush == FLUSH_SPACE)
			oos_resync_root(m, m->v.root);
		else
			oos_resync_all(m);
		m->d.env.flush_tlb(m->d.env.ctx, SVT_FLUSH_ALL, 0);
	}
}

/*
 * Apply new guest registers.  A change of paging mode, CR4.PSE or
 * EFER.NXE (which decide what guest entries mean) drops every shadow;
 * otherwise a new CR3 selects a new root, and a flush resyncs out-of-sync
 * pages (those of the new root's address space, or all) and flushes the
 * hardware TLB.  When a PAE PDPTE load fails, nothing changes and
 * SVT_E_GP is returned.
 */
static int apply_regs(struct svt_mmu *m, const struct svt_regs *ng, bool load_pdptes,
		      bool root_changed, int flush)
{
	struct svt_regs n = *ng;
	enum svt_mode nmode = svt_paging_mode(&n);

	if (nmode == SVT_MODE_INVALID)
		return SVT_E_GP;
	if (nmode == SVT_MODE_PAE && load_pdptes) {
		if (svt_pae_load_pdptes(&m->d.env, &n) != 0 && !SVT_BUG(18))
			return SVT_E_GP;
		root_changed = true;    /* the PAE root is built from the PDPTEs */
	}
	if (shape_of(nmode, &n) != shape_of(m->v.mode, &m->v.g)) {
		reset_all(m);           /* with the old entry format */
		m->v.g = n;
		set_mode(m);
		set_root(m);
		return 0;
	}
	m->v.g = n;
	root_and_flush(m, root_changed, flush);
	return 0;
}

int svt_mmu_write_cr0_mode(struct svt_mmu *m, uint64_t val, bool code64)
{
	struct svt_regs n = m->v.g;
	const uint64_t cd = 1ull << 30, nw = 1ull << 29;
	const uint64_t old = m->v.g.cr0;
	bool pg_off = (old & SVT_CR0_PG) && !(val & SVT_CR0_PG);

	step_abandon(m);
	m->d.epoch++;
	m->d.c.cr_writes++;
	if ((val >> 32) != 0 || ((val & SVT_CR0_PG) && !(val & SVT_CR0_PE)) ||
	    ((val & nw) && !(val & cd)))
		return SVT_E_GP;
	if ((val & SVT_CR0_PG) && (m->v.g.efer & SVT_EFER_LME) && !(m->v.g.cr4 & SVT_CR4_PAE))
		return SVT_E_GP;
	/* SDM Vol. 2B MOV: paging cannot be turned off while CR4.PCIDE = 1,
	 * nor from 64-bit mode (CS.L = 1 in IA-32e mode); Vol. 3A 2.5: nor
	 * can CR0.WP be cleared while CR4.CET = 1 */
	if (pg_off && (m->v.g.cr4 & SVT_CR4_PCIDE) && !SVT_BUG(72))
		return SVT_E_GP;
	if (pg_off && code64 && (m->v.g.efer & SVT_EFER_LMA) && !SVT_BUG(75))
		return SVT_E_GP;
	if (!(val & SVT_CR0_WP) && (m->v.g.cr4 & SVT_CR4_CET) && !SVT_BUG(73))
		return SVT_E_GP;
	val |= SVT_CR0_ET;              /* hard-wired to 1 (P6 and later) */
	n.cr0 = val;
	n.efer &= ~SVT_EFER_LMA;
	if ((val & SVT_CR0_PG) && (n.efer & SVT_EFER_LME))
		n.efer |= SVT_EFER_LMA;
	uint64_t changed = old ^ val;
	bool pdptes = (changed & (SVT_CR0_PG | cd | nw)) != 0;
	/* Leaves made writable and supervisor-only for CR0.WP=0 (wp0_grant())
	 * grant what WP=1 forbids: setting WP drops every shadow if any exist
	 * (KVM keys its shadow pages by WP instead). */
	bool drop = (changed & SVT_CR0_WP) && (val & SVT_CR0_WP) && m->d.wp0_granted &&
		    !SVT_BUG(80);
	int rc = apply_regs(m, &n, pdptes, false,
			    (changed & (SVT_CR0_PG | (SVT_BUG(67) ? 0 : SVT_CR0_WP) | cd)) ?
			    FLUSH_EVERYTHING : FLUSH_NONE);
	if (rc == 0 && drop && m->d.wp0_granted) {
		reset_all(m);
		set_root(m);
	}
	return rc;
}

int svt_mmu_write_cr0(struct svt_mmu *m, uint64_t val)
{
	return svt_mmu_write_cr0_mode(m, val, false);
}

int svt_mmu_write_cr3(struct svt_mmu *m, uint64_t val)
{
	bool lma = (m->v.g.efer & SVT_EFER_LMA) != 0;
	bool pcide = (m->v.g.cr4 & SVT_CR4_PCIDE) != 0;

	step_abandon(m);

	m->d.epoch++;
	m->d.c.cr_writes++;
	bool noflush = pcide && ((val >> 63) || SVT_BUG(41));
	if (pcide)
		val &= ~(1ull << 63);   /* no-flush: not part of CR3 */
	if (lma && (val & svt_bits(63, m->v.g.maxphyaddr)) && !SVT_BUG(71))
		return SVT_E_GP;
	if (!lma)
		val &= 0xffffffffu;
	/*
	 * A CR3 load resyncs the out-of-sync pages its new root reaches,
	 * except with the no-flush bit (CR4.PCIDE=1): the TLB may then keep
	 * every translation of the new PCID, so a shadow still out of sync
	 * is a TLB the architecture allows (KVM reasons the same way for its
	 * unsync pages).  A guest that needs a fresh view flushes (INVLPG,
	 * INVPCID, a CR3 load without the bit), and those resync.
	 */
	if (noflush)
		m->d.c.cr3_noflush++;
	int flush = noflush || SVT_BUG(39) ? FLUSH_NONE : FLUSH_SPACE;
	if (m->v.mode != SVT_MODE_PAE) {
		/* No PDPTEs and no change of mode: apply_regs() would only
		 * copy the registers twice (every PTI entry and exit, every
		 * process switch of a 2-level guest) */
		m->v.g.cr3 = val;
		root_and_flush(m, true, flush);
		return 0;
	}
	struct svt_regs n = m->v.g;
	n.cr3 = val;
	return apply_regs(m, &n, m->v.mode == SVT_MODE_PAE && !(SVT_BUG(17) && val == m->v.g.cr3),
			  true, flush);
}

int svt_mmu_write_cr4(struct svt_mmu *m, uint64_t val)
{
	struct svt_regs n = m->v.g;
	bool lma = (m->v.g.efer & SVT_EFER_LMA) != 0;
	uint64_t changed = m->v.g.cr4 ^ val;

	step_abandon(m);

	m->d.epoch++;
	m->d.c.cr_writes++;
	/* Bits 10:0 exist everywhere; of the others, those the CPU has
	 * (SVT_FEAT_CR4_KNOWN); VMXE (13) is never offered to a guest, bit 15
	 * and bits 63:25 are reserved (SDM Vol. 3A 2.5) */
	uint32_t feat = m->v.g.features;
	uint64_t have = svt_bits(10, 0) | ((feat & SVT_FEAT_CR4_KNOWN) && !SVT_BUG(76) ?
					   feat & SVT_FEAT_CR4_OPTIONAL :
					   SVT_FEAT_CR4_OPTIONAL);
	uint64_t rsvd = val & ~have;
	if (SVT_BUG(68))
		rsvd &= svt_bits(24, 0);
	if (rsvd)
		return SVT_E_GP;
	if (lma && (!(val & SVT_CR4_PAE) || (changed & SVT_CR4_LA57)))
		return SVT_E_GP;
	if ((val & SVT_CR4_PCIDE) && !(m->v.g.cr4 & SVT_CR4_PCIDE) &&
	    (!lma || ((m->v.g.cr3 & 0xfff) && !SVT_BUG(69))))
		return SVT_E_GP;
	if ((val & SVT_CR4_CET) && !(m->v.g.cr0 & SVT_CR0_WP) && !SVT_BUG(73))
		return SVT_E_GP;
	n.cr4 = val;
	bool pdptes = (changed & (SVT_BUG(19) ? SVT_CR4_PAE :
				  SVT_CR4_PAE | SVT_CR4_PGE | SVT_CR4_PSE | SVT_CR4_SMEP)) != 0;
	/* Leaves made writable and supervisor-only for CR0.WP=0 (wp0_grant())
	 * were made where SMAP, protection keys or (without XD) SMEP did not
	 * keep the supervisor from a user page: turning one of them on drops
	 * every shadow while any exist, as setting CR0.WP does. */
	bool drop = (changed & val & (SVT_CR4_SMAP | SVT_CR4_PKE | SVT_CR4_SMEP)) &&
		    m->d.wp0_granted && !SVT_BUG(83);
	int rc = apply_regs(m, &n, pdptes, false,
			    changed && !SVT_BUG(43) ? FLUSH_EVERYTHING : FLUSH_NONE);
	if (rc == 0 && drop && m->d.wp0_granted) {
		reset_all(m);
		set_root(m);
	}
	return rc;
}

int svt_mmu_write_efer(struct svt_mmu *m, uint64_t val)
{
	struct svt_regs n = m->v.g;
	const uint64_t known = 1ull | SVT_EFER_LME | SVT_EFER_LMA | SVT_EFER_NXE | (1ull << 14) |
			       (1ull << 15);

	step_abandon(m);

	m->d.epoch++;
	m->d.c.cr_writes++;
	if (val & ~known)
		return SVT_E_GP;
	if ((m->v.g.cr0 & SVT_CR0_PG) && ((val ^ m->v.g.efer) & SVT_EFER_LME) && !SVT_BUG(70))
		return SVT_E_GP;
	n.efer = (val & ~SVT_EFER_LMA) | (m->v.g.efer & SVT_EFER_LMA);
	return apply_regs(m, &n, false, false,
			  ((val ^ m->v.g.efer) & SVT_EFER_NXE) ? FLUSH_EVERYTHING : FLUSH_NONE);
}

void svt_mmu_invlpg(struct svt_mmu *m, uint64_t va)
{
	step_abandon(m);
	m->d.c.invlpgs++;
	m->d.epoch++;
	if (m->v.mode < SVT_MODE_4LEVEL)
		va &= 0xffffffffu;
	if (!SVT_BUG(38))
		oos_resync_va(m, va);
	/* INVLPG drops every paging-structure cache entry */
	oos_forced_resync(m, OOS_FORCED_ALL);
	m->d.env.flush_tlb(m->d.env.ctx, SVT_FLUSH_VA, va);
}

int svt_mmu_invpcid(struct svt_mmu *m, unsigned type, uint64_t pcid, uint64_t va)
{
	step_abandon(m);
	if (type > 3 || pcid > 0xfff)
		return SVT_E_GP;
	/* Without CR4.PCIDE only PCID 0 exists (SDM, INVPCID). */
	if (type <= 1 && pcid != 0 && !(m->v.g.cr4 & SVT_CR4_PCIDE))
		return SVT_E_GP;
	if (type == 0) {
		int64_t sx = (int64_t)(va << 16) >> 16;
		if (m->v.mode == SVT_MODE_5LEVEL)
			sx = (int64_t)(va << 7) >> 7;
		if ((uint64_t)sx != va)
			return SVT_E_GP;
	}
	m->d.c.invpcids++;
	m->d.epoch++;
	if (type != 0)
		oos_resync_all(m);
	else if (!SVT_BUG(45))
		oos_resync_va(m, va);   /* one address (of any PCID: stricter, never wrong) */
	oos_forced_resync(m, OOS_FORCED_ALL);
	m->d.env.flush_tlb(m->d.env.ctx, type == 0 ? SVT_FLUSH_VA : SVT_FLUSH_ALL, va);
	return 0;
}

void svt_mmu_flush_all(struct svt_mmu *m)
{
	step_abandon(m);
	m->d.c.flushes++;
	m->d.epoch++;
	oos_resync_all(m);
	oos_forced_resync(m, OOS_FORCED_ALL);
	m->d.env.flush_tlb(m->d.env.ctx, SVT_FLUSH_ALL, 0);
}

const struct svt_regs *svt_mmu_guest_regs(const struct svt_mmu *m)
{
	return &m->v.g;
}

void svt_mmu_hw_state(const struct svt_mmu *m, struct svt_hw_state *hw)
{
	uint64_t cr4 = m->v.g.cr4 & ~(SVT_CR4_PGE | SVT_CR4_PCIDE | SVT_CR4_PSE |
				      (SVT_BUG(64) ? SVT_CR4_SMAP : 0));

	hw->mode = m->d.smode;
	hw->cr0 = m->v.g.cr0 | SVT_CR0_PE | SVT_CR0_PG | (SVT_BUG(63) ? 0 : SVT_CR0_WP);
	if (m->d.smode == SVT_MODE_2LEVEL)
		cr4 &= ~(SVT_CR4_PAE | SVT_CR4_LA57);
	else
		cr4 |= SVT_CR4_PAE;
	if (m->v.mode == SVT_MODE_NONE)
		cr4 &= ~(SVT_CR4_SMEP | SVT_CR4_SMAP | SVT_CR4_PKE);
	hw->cr4 = cr4;
	hw->efer = m->v.g.efer & ~(SVT_EFER_LME | SVT_EFER_LMA);
	if (m->v.mode >= SVT_MODE_4LEVEL)
		hw->efer |= SVT_EFER_LME | SVT_EFER_LMA;
	/* With PAE-format shadows NXE is always on, so that a fetch fault
	 * carries I/D and the core can tell it from a read; shadow entries set
	 * XD only where the guest's NXE gives it meaning. */
	if (m->d.smode != SVT_MODE_2LEVEL && !SVT_BUG(65))
		hw->efer |= SVT_EFER_NXE;
	hw->cr3 = m->v.root != SP_NONE ? svt_mfn_x(m->d.sp[m->v.root - 1].mfn) << 12 : 0;
}

const struct svt_counters *svt_mmu_counters(const struct svt_mmu *m)
{
	return &m->d.c;
}

const uint64_t *svt_mmu_prof(const struct svt_mmu *m)
{
	return m->d.prof;
}

/* ---- storage and start-up ---------------------------------------------- */

/*
 * One block holds everything, each part at an 8-byte boundary.
 * Invariant: the storage is 8-byte aligned (svt_mmu_init checks), and no
 * part needs more.
 */
struct layout {
	size_t sp, aux, hash, links, gi, snap, total;
	unsigned nbuckets, nlinks;
};
_Static_assert(_Alignof(struct svt_mmu) <= 8, "the MMU state sits at the start of the block");

static bool layout_of(const struct svt_mmu_config *cfg, struct layout *l)
{
	/* 1-based uint32_t link indices, and svt_mmu_init's loop over them */
	uint64_t nlinks = cfg->links ? cfg->links : (uint64_t)cfg->pool_frames * SH_LINKS_PER_FRAME;

	if (cfg->pool_frames < SVT_POOL_MIN || cfg->pool_frames > SH_POOL_MAX ||
	    cfg->guest_frames == 0 || cfg->guest_frames > (1ull << 32) || cfg->maxphyaddr < 32 ||
	    cfg->maxphyaddr > 52 ||
	    cfg->policy.oos > SVT_OOS_MAX || nlinks >= UINT32_MAX)
		return false;
	l->nbuckets = cfg->pool_frames * 2 + 1;
	l->nlinks = (unsigned)nlinks;
	size_t off = align8(sizeof(struct svt_mmu));
	l->sp = off;
	off = align8(off + sizeof(struct sh_page) * cfg->pool_frames);
	l->aux = off;
	off = align8(off + sizeof(uint32_t) * SH_MAX_ENTRIES * (size_t)cfg->pool_frames);
	l->hash = off;
	off = align8(off + sizeof(uint32_t) * l->nbuckets);
	l->links = off;
	off = align8(off + sizeof(struct sh_link) * (size_t)l->nlinks);
	l->gi = off;
	off = align8(off + sizeof(struct gfn_info) * (size_t)cfg->guest_frames);
	l->snap = off;
	off = align8(off + (size_t)SVT_OOS_MAX * SH_PAGE_SIZE);
	l->total = off;
	return true;
}

size_t svt_mmu_storage_size(const struct svt_mmu_config *cfg)
{
	struct layout l;
	return layout_of(cfg, &l) ? l.total : 0;
}

struct svt_mmu *svt_mmu_init(void *storage, size_t len, const struct svt_mmu_config *cfg,
			     const struct svt_env *env, const svt_mfn_t *pool_mfns)
{
	struct layout l;

	if (storage == NULL || ((uintptr_t)storage & 7) || !layout_of(cfg, &l) || len < l.total ||
	    env == NULL || env->read_gpa == NULL || env->write_gpa == NULL ||
	    env->gfn_to_mfn == NULL || env->map_mfn == NULL || env->flush_tlb == NULL)
		return NULL;
	uint8_t *base = storage;
	for (size_t i = 0; i < l.total / 8; i++)
		((uint64_t *)storage)[i] = 0;
	for (size_t i = l.total & ~(size_t)7; i < l.total; i++)
		base[i] = 0;
	struct svt_mmu *m = storage;
	m->d.env = *env;
	m->d.cfg = *cfg;
	m->d.cfg.links = l.nlinks;
	m->d.sp = (struct sh_page *)(base + l.sp);
	m->d.aux = (uint32_t *)(base + l.aux);
	m->d.hash = (uint32_t *)(base + l.hash);
	m->d.nbuckets = l.nbuckets;
	m->d.links = (struct sh_link *)(base + l.links);
	m->d.nlinks = l.nlinks;
	m->d.gi = (struct gfn_info *)(base + l.gi);
	m->d.snap = base + l.snap;
	for (uint32_t i = 1; i <= cfg->pool_frames; i++) {
		struct sh_page *p = SP(m, i);
		p->mfn = pool_mfns[i - 1];
		p->map = env->map_mfn(env->ctx, p->mfn);
		if (p->map == NULL || ((uintptr_t)p->map & 7))
			return NULL;
		p->type = SH_FREE;
		p->hash_next = i < cfg->pool_frames ? i + 1 : SP_NONE;
		p->fdepth = cfg->pool_frames - i + 1;
	}
	m->d.free_sp = 1;
	m->d.al.sp_lo = UINT32_MAX;
	for (uint32_t i = 1; i <= l.nlinks; i++) {
		m->d.links[i - 1].next = i < l.nlinks ? i + 1 : 0;
		m->d.links[i - 1].idx = l.nlinks - i + 1;     /* depth (list_del) */
	}
	m->d.al.lo_depth = UINT32_MAX;
	m->d.free_link = 1;
	m->d.c.pool_free = cfg->pool_frames;
	m->v.last_wr_gfn = ~0ull;
	m->v.retry.at = ~0ull;          /* no RETRY yet (pf_done()) */
	for (unsigned k = 0; k < OOS_FORCED_MAX; k++)
		m->d.forced[k] = ~0ull;

	/* The state after reset: paging off. */
	m->v.g.cr0 = 0x60000010;
	m->v.g.rflags = 2;
	m->v.g.maxphyaddr = cfg->maxphyaddr;
	m->v.g.features = cfg->features;
	set_mode(m);
	set_root(m);
	return m;
}
