/*
 * mmu_fault.c — the shadow MMU's fault path (Xen's sh_page_fault): walk the
 * guest's tables; inject the guest's own faults with the error code and CR2
 * bare metal would give; otherwise set the guest's A/D bits as the CPU
 * would and propagate the translation into the shadows (with prefetch).
 * Writes the shadows must not let through go to mmu_ptwrite.c (emulation,
 * out of sync, unshadow).  Also here: computing shadow entries from guest
 * entries, and walking the shadows as the hardware would.
 */
#include "mmu_int.h"

/* ---- entry computation -------------------------------------------------- */

/*
 * Invariants of the shadow entries made here: a shadow entry is
 * (mfn << 12) | flags, the flags all outside the frame field (bits 31:12
 * of a 4-byte entry, 51:12 of an 8-byte one); a 4-byte entry reaches
 * frames below 2^20 only (mfn_fits()).
 */
_Static_assert(((SVT_PTE_P | SVT_PTE_RW | SVT_PTE_US | SVT_PTE_A | SVT_PTE_D) & ~0xfffull) == 0,
	       "the low flags lie below the frame field");
_Static_assert(((SVT_PTE_XD | SVT_PTE_PKEY) & 0x000ffffffffff000ull) == 0,
	       "XD and the protection key lie above the frame field");
_Static_assert((0xfffffull << 12) == 0xfffff000u, "a 4-byte entry's frame field is 20 bits");
_Static_assert((SH_PTE_MT & ~0xfffull) == 0 && (SH_PTE_PAT_LARGE & 0xfffull) == 0,
	       "a 4 KiB leaf's memory type lies below the frame field, a large page's PAT bit "
	       "in it");
_Static_assert((SPLINTER_PKEY | 7u << SPLINTER_MT_SHIFT) <= 0xff,
	       "a splinter key (protection key, PAT index) fits sh_page.sub");

static bool ps_is_page(const struct svt_mmu *m, unsigned level)
{
	switch (m->v.mode) {
	case SVT_MODE_2LEVEL: return level == 2 && (m->v.g.cr4 & SVT_CR4_PSE);
	case SVT_MODE_PAE: return level == 2;
	case SVT_MODE_4LEVEL: case SVT_MODE_5LEVEL: return level == 2 || level == 3;
	case SVT_MODE_NONE: return level == 2;
	default: return false;
	}
}

/* Would the CPU use guest entry ge at this level without faulting on it
 * (present, no reserved bit), and has it been accessed (A=1)? */
bool g_entry_valid(struct svt_mmu *m, g_entry_t ge, unsigned level, bool *large)
{
	uint64_t e = g_entry_x(ge);

	*large = level > 1 && (e & SVT_PTE_PS) && ps_is_page(m, level);
	if (m->v.mode == SVT_MODE_NONE)
		return true;
	if (!(e & SVT_PTE_P) || (!(e & SVT_PTE_A) && !SVT_BUG(29)))
		return false;
	return (e & svt_rsvd_mask(&m->v.g, m->v.mode, level, *large)) == 0;
}

/* The guest-physical frame an entry points to; for a large page at level
 * 2 or 3 its base (PSE-36 included). */
uint64_t g_frame_of(const struct svt_mmu *m, g_entry_t ge, unsigned level)
{
	uint64_t e = g_entry_x(ge);

	if (level == 1)
		return g_frame(m, ge);
	if (m->d.gesize == 4)
		return (e & 0xffc00000u) | (((e >> 13) & 0xff) << 32);
	return e & svt_bits(m->v.g.maxphyaddr - 1, 12 + 9 * (level - 1));
}

static bool mfn_fits(struct svt_mmu *m, svt_mfn_t mfn)
{
	if (m->d.esize == 4 && svt_mfn_x(mfn) > 0xfffff) {
		m->d.c.env_errors++;      /* 32-bit shadow entries cannot reach it */
		return false;
	}
	return true;
}

/* The shadow entry pointing to machine frame mfn with flags. */
static inline sh_entry_t sh_make(svt_mfn_t mfn, uint64_t flags)
{
	return sh_entry((svt_mfn_x(mfn) << 12) | flags);
}

/* Shadow leaf for guest L1 entry ge (not present: none); *gfn its frame. */
sh_entry_t sh_leaf_from_guest(struct svt_mmu *m, g_entry_t ge, svt_gfn_t *gfn)
{
	uint64_t g = g_entry_x(ge);
	bool large;

	*gfn = svt_gfn(0);
	if (!g_entry_valid(m, ge, 1, &large))
		return SH_ENTRY_NONE;
	*gfn = svt_gfn(g_frame(m, ge) >> 12);
	svt_mfn_t mfn = g_mfn(m, *gfn);
	if (!svt_mfn_valid(mfn) || !mfn_fits(m, mfn))
		return SH_ENTRY_NONE;
	/* the memory type bits PWT, PCD and PAT sit where a 4 KiB shadow
	 * leaf has them, in every guest format */
	uint64_t flags = SVT_PTE_P | SVT_PTE_A | (g & (SVT_PTE_US | SH_PTE_MT));
	if ((g & SVT_PTE_RW) && ((g & SVT_PTE_D) || SVT_BUG(21)) && !gfn_wp(m, svt_gfn_x(*gfn)))
		flags |= SVT_PTE_RW | SVT_PTE_D;
	if (m->d.esize == 8) {
		if ((m->v.g.efer & SVT_EFER_NXE) && (g & SVT_PTE_XD) &&
		    !(SVT_BUG(25) && m->v.mode == SVT_MODE_PAE))
			flags |= SVT_PTE_XD;
		if (m->v.mode >= SVT_MODE_4LEVEL && !SVT_BUG(26))
			flags |= g & SVT_PTE_PKEY;
	}
	return sh_make(mfn, flags);
}

/*
 * The key of a guest large page's splinter shadows (FL1, FL2; guest entry
 * ge maps the page): what every 4 KiB piece carries besides its frame and
 * write protection.  Bits 3:0 the protection key (IA-32e), bits 6:4 the
 * memory type, the PAT index PAT:PCD:PWT (SDM 4.9.2, 11.12.3), its PAT bit
 * read from bit 12, where every entry that maps a large page holds it
 * (4 MiB PDEs included; bit 7 is PS there).  Mappings of one large frame
 * with other memory types get other splinters.
 */
unsigned sh_splinter_key(const struct svt_mmu *m, g_entry_t ge)
{
	uint64_t g = g_entry_x(ge);
	unsigned mt = ((g & SVT_PTE_PWT) ? 1u : 0) | ((g & SVT_PTE_PCD) ? 2u : 0) |
		      ((g & SH_PTE_PAT_LARGE) ? 4u : 0);

	return (m->v.mode >= SVT_MODE_4LEVEL ? svt_pte_pkey(g) : 0) | mt << SPLINTER_MT_SHIFT;
}

/* Shadow leaf for one 4 KiB piece of a guest superpage whose splinter key
 * is key: the guest's restrictions are in the shadow entry above; only
 * write protection of page-table frames, the protection key and the
 * memory type (its PAT bit moved to bit 7, a 4 KiB entry's) live here. */
sh_entry_t sh_leaf_splinter(struct svt_mmu *m, svt_gfn_t gfn, unsigned key)
{
	svt_mfn_t mfn = g_mfn(m, gfn);
	unsigned mt = key >> SPLINTER_MT_SHIFT;

	if (!svt_mfn_valid(mfn) || !mfn_fits(m, mfn))
		return SH_ENTRY_NONE;
	uint64_t flags = SVT_PTE_P | SVT_PTE_A | SVT_PTE_US;
	if (!gfn_wp(m, svt_gfn_x(gfn)))
		flags |= SVT_PTE_RW | SVT_PTE_D;
	if (m->v.mode >= SVT_MODE_4LEVEL)
		flags |= (uint64_t)(key & SPLINTER_PKEY) << SVT_PTE_PKEY_SHIFT;
	flags |= ((mt & 1) ? SVT_PTE_PWT : 0) | ((mt & 2) ? SVT_PTE_PCD : 0) |
		 ((mt & 4) && !SVT_BUG(74) ? SH_PTE_PAT : 0);
	return sh_make(mfn, flags);
}

/* Shadow non-leaf entry for guest entry ge (a table pointer, or a large
 * page splintered into child) pointing to shadow page child. */
sh_entry_t sh_nonleaf(struct svt_mmu *m, g_entry_t ge, unsigned level, bool large, uint32_t child)
{
	svt_mfn_t mfn = SP(m, child)->mfn;
	uint64_t g = g_entry_x(ge);

	if (!mfn_fits(m, mfn))
		return SH_ENTRY_NONE;
	if (m->d.smode == SVT_MODE_PAE && level == 3)
		return sh_make(mfn, SVT_PTE_P);         /* a PDPTE (PAE, or 2-on-3) */
	uint64_t flags = SVT_PTE_P | SVT_PTE_A | (g & (SVT_PTE_RW | SVT_PTE_US)) |
			 (SVT_BUG(23) ? SVT_PTE_US : 0);
	if (large && !(g & SVT_PTE_D) && !SVT_BUG(22))
		flags &= ~SVT_PTE_RW;   /* not writable until the guest's D is set */
	if (m->d.esize == 8 && (m->v.g.efer & SVT_EFER_NXE) && (g & SVT_PTE_XD) && !SVT_BUG(24))
		flags |= SVT_PTE_XD;
	return sh_make(mfn, flags);
}

static sh_entry_t sh_splinter_link(struct svt_mmu *m, uint32_t child)
{
	svt_mfn_t mfn = SP(m, child)->mfn;
	return mfn_fits(m, mfn) ?
		sh_make(mfn, SVT_PTE_P | SVT_PTE_A | SVT_PTE_RW | SVT_PTE_US) : SH_ENTRY_NONE;
}

static unsigned sh_index(const struct svt_mmu *m, uint64_t va, unsigned level)
{
	if (m->d.smode == SVT_MODE_2LEVEL)
		return (unsigned)(va >> (level == 2 ? 22 : 12)) & 0x3ff;
	if (m->d.smode == SVT_MODE_PAE && level == 3)
		return (unsigned)(va >> 30) & 3;
	return (unsigned)(va >> (12 + 9 * (level - 1))) & 0x1ff;
}

/* ---- propagation -------------------------------------------------------- */

/* Prefetch reads the guest entries of up to PREFETCH_SPAN candidates at once. */
#define PREFETCH_SPAN 64

static void prefetch_l1_(struct svt_mmu *m, uint32_t spi, unsigned idx);
static inline void prefetch_l1(struct svt_mmu *m, uint32_t spi, unsigned idx)
{
	PROF_BEGIN(m, t);
	prefetch_l1_(m, spi, idx);
	PROF_END(m, t, SVT_PROF_PREFETCH);
}
static void prefetch_l1_(struct svt_mmu *m, uint32_t spi, unsigned idx)
{
	unsigned w = m->d.cfg.policy.prefetch, n = m->d.nents;
	const struct sh_page *p = SP(m, spi);
	unsigned lo = idx > w / 2 ? idx - w / 2 : 0;
	unsigned hi = idx + w / 2 + 1 < n ? idx + w / 2 + 1 : n;

	if (w == 0)
		return;
	for (unsigned j = lo; j < hi; j++) {
		if (j == idx || sh_present(sh_get(m, spi, j)))
			continue;
		if (p->type == SH_FL1) {
			svt_gfn_t gfn = svt_gfn(p->gfn + (SVT_BUG(47) ? idx : j));
			sh_entry_t e = sh_leaf_splinter(m, gfn, p->sub);
			if (sh_entry_x(e) != 0) {
				sh_set_leaf(m, spi, j, e, gfn);
				m->d.c.prefetched++;
			}
			continue;
		}
		/* The guest entries from here to the last candidate, in one
		 * read (a recorder logs one span, not one word at a time; the
		 * entries of an L1 part are consecutive guest entries). */
		unsigned last = j, ge_size = m->d.gesize;
		for (unsigned k = j + 1; k < hi && k - j < PREFETCH_SPAN; k++)
			if (k != idx && !sh_present(sh_get(m, spi, k)))
				last = k;
		uint8_t buf[PREFETCH_SPAN * 8];
		_Static_assert(sizeof(buf) == PREFETCH_SPAN * sizeof(uint64_t),
			       "buf holds PREFETCH_SPAN entries of the widest format");
		size_t len = (size_t)(last - j + 1) * ge_size;
		uint64_t gpa = (p->gfn << 12) + (uint64_t)sh_gidx(m, p, j) * ge_size;
		if (m->d.env.read_gpa(m->d.env.ctx, gpa, buf, len) != 0) {
			m->d.c.env_errors++;
			return;
		}
		for (unsigned k = j; k <= last; k++) {
			bool large;
			g_entry_t ge = g_entry(svt_le_load(buf + (size_t)(k - j) * ge_size,
							   ge_size));
			if (SVT_BUG(46))
				ge.ge |= SVT_PTE_A;
			if (k == idx || sh_present(sh_get(m, spi, k)) ||
			    !g_entry_valid(m, ge, 1, &large))
				continue;
			l1_install(m, spi, k, ge);
			m->d.c.prefetched += sh_present(sh_get(m, spi, k));
		}
		j = last;
	}
}

/* Link a child shadow under spi[idx]; an out-of-sync L1 is brought back in
 * sync before it gains a parent. */
static bool link_child(struct svt_mmu *m, uint32_t spi, unsigned idx, sh_entry_t val, uint32_t c)
{
	const struct sh_page *cp = SP(m, c);
	sh_entry_t old = sh_get(m, spi, idx);

	if (!SVT_BUG(36) && cp->type == SH_L1 && gfn_is_ram(m, cp->gfn) && m->d.gi[cp->gfn].oos &&
	    !(sh_present(old) && sp_aux(m, spi)[idx] == c))
		oos_resync_gfn(m, cp->gfn);
	if (sh_is_table(cp->type) && gfn_forced(m, cp->gfn) &&
	    !(sh_present(old) && sp_aux(m, spi)[idx] == c))
		oos_forced_resync(m, cp->gfn);  /* likewise a table unsynced by force */
	if (sh_entry_x(val) == 0)
		return false;
	sh_set_child(m, spi, idx, val, c);
	return sh_present(sh_get(m, spi, idx));
}

/* Splinter a guest superpage: FL2 (1 GiB only) and FL1, then the leaf. */
static bool propagate_large(struct svt_mmu *m, uint32_t spi, unsigned level, g_entry_t ge,
			    uint64_t va, uint64_t base_gfn)
{
	unsigned key = sh_splinter_key(m, ge);
	unsigned idx = sh_index(m, va, level);
	bool made;

	if (level == 3) {
		uint32_t f2 = sp_get(m, base_gfn, SH_FL2, key, &made);
		if (f2 == SP_NONE || !link_child(m, spi, idx, sh_nonleaf(m, ge, 3, true, f2), f2))
			return false;
		unsigned i2 = sh_index(m, va, 2);
		uint64_t piece = (uint64_t)i2 * (SVT_BUG(28) ? 256 : 512);
		uint32_t f1 = sp_get(m, base_gfn + piece, SH_FL1, key, &made);
		if (f1 == SP_NONE || !link_child(m, f2, i2, sh_splinter_link(m, f1), f1))
			return false;
		spi = f1;
	} else {
		/* 2-on-3: the shadow entry maps one 2 MiB half of a 4 MiB page */
		if (sh_2on3(m))
			base_gfn += (uint64_t)(idx & 1) * 512;
		uint32_t f1 = sp_get(m, base_gfn, SH_FL1, key, &made);
		if (f1 == SP_NONE || !link_child(m, spi, idx, sh_nonleaf(m, ge, 2, true, f1), f1))
			return false;
		spi = f1;
	}
	unsigned i1 = sh_index(m, va, 1);
	svt_gfn_t gfn = svt_gfn(SP(m, spi)->gfn + i1);
	sh_set_leaf(m, spi, i1, sh_leaf_splinter(m, gfn, key), gfn);
	prefetch_l1(m, spi, i1);
	return sh_present(sh_get(m, spi, i1));
}

static bool propagate_phys(struct svt_mmu *m, uint64_t va)
{
	bool ok;
	uint32_t root = m->v.root;
	unsigned idx = sh_index(m, va, 2);

	sp_touch(m, root);
	g_entry_t ge = g_table_entry(m, SP(m, root), idx, &ok);
	return propagate_large(m, root, 2, ge, va, (uint64_t)idx << 10);
}

/* Build the shadow path for a successful guest walk (A/D already set). */
static bool propagate(struct svt_mmu *m, const struct svt_walk *w, uint64_t va, bool write)
{
	uint32_t spi = m->v.root;
	bool made;

	if (spi == SP_NONE)
		return false;
	sp_touch(m, spi);
	if (SP(m, spi)->type == SH_PDPT) {
		/* 2-on-3: the part of the guest's top level that maps va */
		unsigned q = sh_index(m, va, 3);
		uint64_t tgfn = SP(m, spi)->gfn;
		uint32_t c = sh_present(sh_get(m, spi, q)) ? sp_aux(m, spi)[q] : SP_NONE;
		if (c != SP_NONE && SP(m, c)->gfn == tgfn && SP(m, c)->type == SH_L2 &&
		    SP(m, c)->sub == q) {
			sp_touch(m, c);
		} else {
			c = sp_get(m, tgfn, SH_L2, q, &made);
			if (c == SP_NONE ||
			    !link_child(m, spi, q, sh_nonleaf(m, g_entry(SVT_PTE_P), 3, false, c),
					c))
				return false;
		}
		spi = c;
	}
	for (unsigned i = 0; i < w->nlevels; i++) {
		const struct svt_walk_level *gl = &w->lv[i];
		unsigned level = gl->level;
		g_entry_t ge = g_entry(gl->entry);

		if (!(m->v.mode == SVT_MODE_PAE && level == 3))
			ge.ge |= SVT_PTE_A;
		if (gl->leaf) {
			if (write)
				ge.ge |= SVT_PTE_D;
			if (level > 1)
				return propagate_large(m, spi, level, ge, va, (w->gpa &
					~((SVT_BUG(27) ? 0x200000 : w->page_size) - 1)) >> 12);
			unsigned idx = sh_index(m, va, 1);
			l1_install(m, spi, idx, ge);
			prefetch_l1(m, spi, idx);
			return sh_present(sh_get(m, spi, idx));
		}
		/* Most faults find the upper levels linked already: the same
		 * child, the same entry.  Then there is nothing to do there
		 * but what sp_get() does to a shadow it finds (touch it). */
		unsigned sidx = sh_index(m, va, level);
		unsigned part = sh_child_part(m, level, sidx);
		sh_entry_t cur = sh_get(m, spi, sidx);
		uint64_t cgfn = g_frame(m, ge) >> 12;
		if (sh_present(cur)) {
			uint32_t c = sp_aux(m, spi)[sidx];
			const struct sh_page *cp = SP(m, c);
			if (cp->gfn == cgfn && cp->type == level - 1 && cp->sub == part &&
			    sh_entry_x(cur) == sh_entry_x(sh_nonleaf(m, ge, level, false, c))) {
				sp_touch(m, c);
				spi = c;
				continue;
			}
		}
		uint32_t c = sp_get(m, cgfn, level - 1, part, &made);
		if (c == SP_NONE ||
		    !link_child(m, spi, sidx, sh_nonleaf(m, ge, level, false, c), c))
			return false;
		spi = c;
	}
	return false;
}

/* ---- CR0.WP=0: writable, supervisor-only paths --------------------------- */

/*
 * The hardware runs with CR0.WP=1, so a supervisor write the guest allows
 * only because its CR0.WP=0 (a read-only page) faults.  An emulated write
 * needs an instruction; one that comes without (an implicit write by the
 * CPU) is let through as KVM lets them all: every shadow entry on the
 * path whose guest entry is read-only is made writable and supervisor-only
 * (U/S=0), and, under the guest's CR4.SMEP, execute-disable where the
 * guest's walk is user-accessible so far (supervisor fetches from a user
 * page stay forbidden).  The hardware then allows a supervisor access
 * exactly where the guest does under WP=0, and no user access: a user
 * access faults and propagation puts the guest's own rights back (as does
 * a supervisor fetch the XD stops).  Not where the walk is user-accessible
 * so far and the guest has CR4.SMAP (U/S=0 would let supervisor data
 * accesses through that SMAP stops) or protection keys (keys do not apply
 * to supervisor pages), nor where the guest's walk is writable all the way
 * (the write is forbidden by PKRU.WD): for those a supervisor-only path
 * would let later supervisor accesses past SMAP and the keys, so they get
 * it for one step only (svt_fault_result.step): the caller runs the guest
 * for one instruction or event delivery and calls svt_mmu_step_done() at
 * the next VM exit, which puts the entries back as they were.  The step's
 * grant also makes the shadow leaf writable and supervisor-only (the
 * PKRU.WD case has no read-only level).  Setting CR0.WP drops every
 * shadow while any lasting grant exists (svt_mmu_write_cr0_mode()).
 */
static bool wp0_level(const struct svt_mmu *m, const struct svt_walk_level *gl)
{
	/* PAE PDPTEs have no R/W bit (and come from registers) */
	return !(m->v.mode == SVT_MODE_PAE && gl->level == 3) && !(gl->entry & SVT_PTE_RW);
}

bool wp0_grantable(const struct svt_mmu *m, const struct svt_regs *regs, const struct svt_walk *w)
{
	bool keys = (regs->cr4 & SVT_CR4_PKE) && m->v.mode >= SVT_MODE_4LEVEL;

	if (w->rights & SVT_RIGHT_W)
		return false;           /* only PKRU.WD forbids it */
	for (unsigned i = 0; i < w->nlevels; i++)
		if (wp0_level(m, &w->lv[i]) && (w->lv[i].rights & SVT_RIGHT_U) &&
		    ((regs->cr4 & SVT_CR4_SMAP) || keys))
			return false;
	return true;
}

static unsigned sh_top_level(const struct svt_mmu *m)
{
	switch (m->d.smode) {
	case SVT_MODE_2LEVEL: return 2;
	case SVT_MODE_PAE: return 3;
	case SVT_MODE_5LEVEL: return 5;
	default: return 4;
	}
}

/* After propagate() built the path of va for walk w (wp0_grantable(), or
 * for a step): make it writable for the supervisor.  For a step, the leaf
 * too, and every entry changed is kept as it was for svt_mmu_step_done().
 * Returns whether it could. */
static bool wp0_grant(struct svt_mmu *m, const struct svt_walk *w, uint64_t va, bool step)
{
	uint32_t spi = m->v.root;
	bool smep = (m->v.g.cr4 & SVT_CR4_SMEP) != 0;

	for (unsigned level = sh_top_level(m); spi != SP_NONE && level >= 1; level--) {
		unsigned idx = sh_index(m, va, level);
		uint64_t e = sh_entry_x(sh_get(m, spi, idx));
		const struct svt_walk_level *gl = NULL;
		if (!(e & SVT_PTE_P))
			return false;
		for (unsigned i = 0; i < w->nlevels; i++)
			if (w->lv[i].level == level)
				gl = &w->lv[i];
		/* (FL2 and FL1 links and splinter leaves are writable and user
		 * already: the guest's large page is judged in its entry above) */
		bool lv = gl && wp0_level(m, gl) && !(m->d.smode == SVT_MODE_PAE && level == 3);
		if (lv || (step && level == 1)) {
			uint64_t n = (e | SVT_PTE_RW) & ~SVT_PTE_US;
			if (level == 1 || gl->leaf)
				n |= SVT_PTE_D;
			if (level > 1 && gl->leaf)
				n &= ~SVT_PTE_D;        /* a link: no D bit */
			/* (a splinter leaf: the guest's whole walk judges) */
			if (smep && ((gl ? gl->rights : w->rights) & SVT_RIGHT_U))
				n |= SVT_PTE_XD;
			if (step && n != e) {
				if (m->v.nstep == MMU_STEP_MAX)
					return false;
				const struct sh_page *p = SP(m, spi);
				m->v.step[m->v.nstep].va = va;
				m->v.step[m->v.nstep].gfn = p->gfn;
				m->v.step[m->v.nstep].spi = spi;
				m->v.step[m->v.nstep].idx = (uint16_t)idx;
				m->v.step[m->v.nstep].level = (uint8_t)level;
				m->v.step[m->v.nstep].type = p->type;
				m->v.step[m->v.nstep].sub = p->sub;
				m->v.step[m->v.nstep].old = sh_get(m, spi, idx);
				m->v.step[m->v.nstep].now = sh_entry(n);
				m->v.nstep++;
			}
			sh_raw_set(m, spi, idx, sh_entry(n));
			if (!step)
				m->d.wp0_granted = true;
		}
		if (level == 1)
			return true;
		spi = sp_aux(m, spi)[idx];
	}
	return false;
}

/* Put back the entries a step's grant changed (wp0_grant()) from the
 * from-th on, newest first, and flush what the hardware may have cached
 * through them: each address's translation, or every translation where an
 * entry above a leaf was changed (any address below it may have been
 * reached in the step).  From 0, the step is over.  A fault in the step
 * (its instruction faulting again) may have changed shadows since the
 * grant: an entry no longer as the grant made it, or in a page freed or
 * made anew since, is the core's newer work, and stays. */
void step_revoke_from(struct svt_mmu *m, unsigned from)
{
	bool upper = false;

	for (unsigned i = m->v.nstep; i-- > from;) {
		const struct sh_page *p = SP(m, m->v.step[i].spi);
		if (p->type == m->v.step[i].type && p->gfn == m->v.step[i].gfn &&
		    p->sub == m->v.step[i].sub &&
		    sh_entry_x(sh_get(m, m->v.step[i].spi, m->v.step[i].idx)) ==
		    sh_entry_x(m->v.step[i].now))
			sh_raw_set(m, m->v.step[i].spi, m->v.step[i].idx, m->v.step[i].old);
		upper = upper || m->v.step[i].level > 1;
	}
	if (upper)
		m->d.env.flush_tlb(m->d.env.ctx, SVT_FLUSH_ALL, 0);
	else
		for (unsigned i = from; i < m->v.nstep; i++)
			m->d.env.flush_tlb(m->d.env.ctx, SVT_FLUSH_VA, m->v.step[i].va);
	m->v.nstep = from;
	if (from == 0) {
		m->v.nstep_va = 0;
		m->v.step_open = false;
	}
}

void svt_mmu_step_done(struct svt_mmu *m)
{
	if (!m->v.step_open)
		return;
	m->d.epoch++;
	if (SVT_BUG(85)) {
		m->v.nstep = 0;         /* the grant stays */
		m->v.nstep_va = 0;
		m->v.step_open = false;
		return;
	}
	step_revoke(m);
}

/* Is va reached through an entry the open step's grant changed? */
bool step_covers(const struct svt_mmu *m, uint64_t va)
{
	for (unsigned i = 0; m->v.step_open && i < m->v.nstep; i++) {
		unsigned shift = 12 + 9 * (m->v.step[i].level - 1u);
		if (((va ^ m->v.step[i].va) & 0x01ffffffffffffffull) >> shift == 0)
			return true;
	}
	return false;
}

/* ---- walking the shadows as the hardware would -------------------------- */

static int shadow_read(void *ctx, uint64_t pa, void *buf, size_t len)
{
	struct svt_mmu *m = ctx;
	const uint8_t *p = m->d.env.map_mfn(m->d.env.ctx, svt_mfn(pa >> 12));

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
	uint32_t spi = m->v.root;
	unsigned level;

	switch (m->d.smode) {
	case SVT_MODE_2LEVEL: level = 2; break;
	case SVT_MODE_PAE: level = 3; break;
	case SVT_MODE_5LEVEL: level = 5; break;
	default: level = 4; break;
	}
	for (; spi != SP_NONE; level--) {
		unsigned idx = sh_index(m, va, level);
		if (!sh_present(sh_get(m, spi, idx)))
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
	struct svt_regs r = m->v.g;
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
	if (hw.mode == SVT_MODE_PAE && m->v.root != SP_NONE)
		for (unsigned i = 0; i < 4; i++)
			r.pdpte[i] = sh_entry_x(sh_get(m, m->v.root, i));
	/* (the registers select hw.mode, the shadows' format: PG and PE
	 * set, PAE and LA57 as in hw.cr4, LMA for IA-32e shadows only) */
	return svt_walk_mode(&senv, &r, hw.mode, acc, SVT_WALK_CORE, w);
}

/* ---- the fault handler -------------------------------------------------- */

static void apply_ad(struct svt_mmu *m, const struct svt_walk *w)
{
	for (unsigned i = 0; i < w->nad; i++) {
		uint8_t raw[8];
		svt_le_store(raw, w->ad[i].new, w->ad[i].size);
		audit_gfn_dirty(m, w->ad[i].gpa >> 12);
		if (m->d.env.write_gpa(m->d.env.ctx, w->ad[i].gpa, raw, w->ad[i].size) != 0)
			m->d.c.env_errors++;
	}
}

enum svt_pf_outcome svt_mmu_page_fault(struct svt_mmu *m, const struct svt_fault *f,
				       struct svt_fault_result *res)
{
	uint32_t ec = f->error_code;
	bool user = (ec & SVT_PFEC_U) != 0;
	struct svt_access acc = {
		.va = m->v.mode >= SVT_MODE_4LEVEL ? f->va : (f->va & 0xffffffffu),
		.kind = (ec & SVT_PFEC_W) ? SVT_ACC_WRITE :
			((ec & SVT_PFEC_I) && !SVT_BUG(15)) ? SVT_ACC_FETCH : SVT_ACC_READ,
		.cpl = user ? 3 : f->cpl,
		.implicit = !user && f->cpl == 3,
	};
	struct svt_regs regs = m->v.g;
	struct svt_walk w, hw;
	uint64_t gfn;

	m->d.c.faults++;
	m->d.epoch++;
	res->outcome = SVT_PF_RETRY;
	res->error_code = 0;
	res->cr2 = 0;
	res->gpa = 0;
	res->wants_regs = false;
	res->used_regs = false;
	res->stuck = false;
	res->step = false;
	/* (a step still open: its instruction or delivery faulted again,
	 * and the grant stays while this fault is decided: pf_done()) */
	if (SVT_BUG(87))
		step_abandon(m);
	regs.rflags = f->rflags;
	regs.pkru = f->pkru;

	if (m->v.mode == SVT_MODE_NONE) {
		gfn = acc.va >> 12;
		if (!svt_mfn_valid(g_mfn(m, svt_gfn(gfn)))) {
			res->gpa = acc.va;
			return pf_done(m, f, res, SVT_PF_MMIO);
		}
		if (!propagate_phys(m, acc.va))
			return pf_done(m, f, res, SVT_PF_RETRY);
		m->d.c.fixed++;
		return pf_done(m, f, res, SVT_PF_FIXED);
	}

	PROF_BEGIN(m, t0);
	/* (m->v.mode is svt_paging_mode(&m->v.g), and regs differ from
	 * m->v.g in RFLAGS and PKRU only) */
	int wr = svt_walk_mode(&m->d.env, &regs, m->v.mode, &acc, SVT_WALK_CORE, &w);
	PROF_END(m, t0, SVT_PROF_GWALK);
	switch (wr) {
	case SVT_WALK_OK:
		break;
	case SVT_WALK_PF:
		/* (Shadows are PAE-format whenever the guest pages, so the
		 * hardware runs with NXE and a fetch fault carries I/D.) */
		return pf_inject(m, f, res, w.error_code | (SVT_BUG(14) ? ec & SVT_PFEC_I : 0),
				 w.cr2);
	default:
		m->d.c.env_errors++;
		return pf_done(m, f, res, SVT_PF_RETRY);
	}
	/*
	 * A supervisor data access at CPL 0-2 to a user page that SMAP allows
	 * only because RFLAGS.AC = 1 may be an implicit access, which SMAP
	 * forbids: the hardware does not say which.  Decide it before
	 * anything is set in the guest's entries, from the evidence the
	 * caller gives (mmu_implicit.c).  A caller that gives none (synth's
	 * reads, traces from before this) gets the explicit reading, as
	 * before: asking would livelock a caller that never gives it.
	 */
	if (!user && acc.kind != SVT_ACC_FETCH && (regs.cr4 & SVT_CR4_SMAP) &&
	    (regs.rflags & SVT_RFLAGS_AC) && !SVT_BUG(78)) {
		struct svt_access ia = acc;
		struct svt_walk iw;
		ia.implicit = true;
		if ((f->regs != NULL || f->in_delivery) &&
		    svt_walk_mode(&m->d.env, &regs, m->v.mode, &ia, SVT_WALK_CORE, &iw) ==
			    SVT_WALK_PF) {
			res->used_regs = true;
			if (mmu_access_implicit(f, acc.kind == SVT_ACC_WRITE, acc.va,
						m->v.mode >= SVT_MODE_4LEVEL))
				return pf_inject(m, f, res, iw.error_code, iw.cr2);
		}
	}
	gfn = w.gpa >> 12;
	if (!svt_mfn_valid(g_mfn(m, svt_gfn(gfn)))) {
		apply_ad(m, &w);
		res->gpa = SVT_BUG(61) ? w.gpa & ~0xfffull : w.gpa;
		return pf_done(m, f, res, SVT_PF_MMIO);
	}

	/*
	 * The shadow may already allow the access: a translation the hardware
	 * had cached from before a shadow entry gained rights (the #PF dropped
	 * it; re-running succeeds), or an implicit supervisor access at CPL < 3
	 * that SMAP forbids whatever RFLAGS.AC says — the hardware does not
	 * tell the two apart.  The first time, re-run; the same fault again at
	 * once means it was implicit.  A fault the core still cannot explain
	 * (the guest's walk allows the access, so does the shadow, and the
	 * hardware faulted MMU_SPURIOUS_MAX times in a row with no other input
	 * between) is injected as the hardware reported it: re-running would
	 * loop for ever (docs/core.md, "Faults the core cannot explain").
	 */
	PROF_BEGIN(m, t1);
	bool allows = sh_maps(m, acc.va) &&
		      hw_walk(m, &acc, regs.rflags, regs.pkru, &hw) == SVT_WALK_OK;
	PROF_END(m, t1, SVT_PROF_SWALK);
	if (allows) {
		struct svt_access ia = acc;
		struct svt_walk iw;
		ia.implicit = true;
		bool again = !SVT_BUG(62) && fault_memo_next(m, &m->v.spurious, acc.va, ec);
		if (again && svt_walk(&m->d.env, &regs, &ia, SVT_WALK_CORE, &iw) == SVT_WALK_PF) {
			m->v.spurious.repeats = 0;
			return pf_inject(m, f, res, iw.error_code, iw.cr2);
		}
		if (fault_memo_count(m, &m->v.spurious, acc.va, ec, again) >= MMU_SPURIOUS_MAX) {
			m->v.spurious.repeats = 0;
			return pf_inject(m, f, res, ec, acc.va);
		}
		m->d.env.flush_tlb(m->d.env.ctx, SVT_FLUSH_VA, acc.va);
		m->v.retry_spurious = true;
		return pf_done(m, f, res, SVT_PF_RETRY);
	}

	PROF_BEGIN(m, t2);
	int o = pt_or_wp0_write(m, f, res, &regs, &acc, &w, gfn, user);
	PROF_END(m, t2, SVT_PROF_PTWRITE);
	bool grant = o == PT_CONTINUE_WP0 || o == PT_CONTINUE_STEP, step = o == PT_CONTINUE_STEP;
	if (o != PT_CONTINUE && !grant)
		return (enum svt_pf_outcome)o;
	if (!SVT_BUG(20))
		apply_ad(m, &w);
	if (w.nad > 0)
		m->d.c.ad_faults++;
	else
		m->d.c.fixed++;
	bool write = acc.kind == SVT_ACC_WRITE;
	PROF_BEGIN(m, t3);
	bool pr = propagate(m, &w, acc.va, write);
	PROF_END(m, t3, SVT_PROF_PROPAGATE);
	if (!pr)
		return pf_done(m, f, res, SVT_PF_RETRY);
	if (write && gfn_wp(m, gfn)) {
		/* The walk itself made the target a page table (a table that
		 * maps itself): the write is a page-table write after all. */
		o = pt_or_wp0_write(m, f, res, &regs, &acc, &w, gfn, user);
		grant = grant || o == PT_CONTINUE_WP0 || o == PT_CONTINUE_STEP;
		step = step || o == PT_CONTINUE_STEP;
		if (o != PT_CONTINUE && o != PT_CONTINUE_WP0 && o != PT_CONTINUE_STEP)
			return (enum svt_pf_outcome)o;
		if (!propagate(m, &w, acc.va, write))
			return pf_done(m, f, res, SVT_PF_RETRY);
	}
	if (grant) {
		unsigned n0 = m->v.nstep;
		if (step && m->v.step_open && m->v.nstep_va == MMU_STEP_PAGES) {
			/* (more pages than one instruction or delivery writes:
			 * the step starts again from this one) */
			step_revoke(m);
			n0 = 0;
		}
		if (!wp0_grant(m, &w, acc.va, step)) {
			step_revoke_from(m, n0);        /* this fault's part; an open step stays */
			return pf_done(m, f, res, SVT_PF_RETRY);
		}
		if (step) {
			/* one instruction or event delivery, until
			 * svt_mmu_step_done(); a second page of it (its first
			 * faulted again) joins the open step, so that the two
			 * do not take the grant from each other in turn */
			m->v.step_open = true;
			m->v.nstep_va++;
			res->step = true;
		}
		m->d.env.flush_tlb(m->d.env.ctx, SVT_FLUSH_VA, acc.va);
	}
	/* (Whether the shadows now allow the access is for the replay's
	 * checks to say: a second walk here would double the cost of a fault.) */
	return pf_done(m, f, res, SVT_PF_FIXED);
}
