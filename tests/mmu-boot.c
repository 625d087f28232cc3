/*
 * mmu-boot.c — the random guest OS's address spaces, its flushes and its
 * leaves, and its boot.  Each
 * address space has its own root whose kernel half is a copy of every
 * other's (REP MOVS of the kernel half, or entry by entry) and a PCID;
 * switching is MOV to CR3 (with the no-flush bit sometimes, under
 * CR4.PCIDE).  Booting starts in 32-bit protected mode with paging off,
 * builds the tables for the chosen paging mode physically (a direct map
 * of all of RAM, some kernel mappings, some user mappings), then sets
 * EFER, CR4, CR3 and CR0.PG in the order the SDM requires: the 4- and
 * 5-level scenarios enable long mode from there.  The flush discipline
 * settles what an address space owes (an INVLPG per address, or a full
 * flush by CR3 reload, CR4.PGE toggle or INVPCID, whichever is correct
 * for global and PCID-tagged entries).  Leaves map data frames, page
 * tables, aliases of recent frames, the MMIO hole, frames past RAM, with
 * random rights, protection keys and now and then a reserved bit.
 */
#include <string.h>

#include "mmu-harness.h"

#include "mmu-pte.h"

#define CR0_ET (1ull << 4)
#define CR0_NE (1ull << 5)
#define CR0_NW (1ull << 29)
#define CR0_CD (1ull << 30)

static unsigned first_kernel_idx(const struct mh_os *os)
{
	return os->levels == 2 ? 512 : os->levels == 3 ? 2 : 256;
}

bool mh_os_switch(struct mh_machine *m, int a, bool reload_only)
{
	struct mh_os *os = m->os;
	struct mh_as *s = &os->as[a];
	uint64_t cr3 = os->t[s->root].gpa;
	bool pcide = (m->arch.cr4 & SVT_CR4_PCIDE) != 0, pge = (m->arch.cr4 & SVT_CR4_PGE) != 0;
	bool noflush = false;

	if (pcide) {
		cr3 |= s->pcid;
		noflush = !reload_only && !s->pend_full && mh_pct(&m->rng, 50);
	} else if (os->levels != 3 && mh_pct(&m->rng, 20)) {
		cr3 |= mh_below(&m->rng, 4) << 3;       /* PWT, PCD */
	}
	mh_log(m, " switch to address space %d%s", a, noflush ? " (no flush)" : "");
	int r = mh_cr(m, 3, cr3 | (noflush ? 1ull << 63 : 0));
	if (r != 0)
		return r < 0 ? false : mh_fail(m, "the guest OS's CR3 load of %#llx raised #GP",
					       (unsigned long long)cr3);
	os->cur = a;
	if (!noflush && !(pge && s->pend_kernel))
		mh_os_clear_pending(s);
	if (s->npend || s->pend_full)
		return mh_os_flush_pending(m, false);
	return true;
}

int mh_os_new_as(struct mh_machine *m)
{
	struct mh_os *os = m->os;
	int a = -1;
	for (int x = 0; x < MH_MAX_AS && a < 0; x++)
		if (!os->as[x].used)
			a = x;
	if (a < 0)
		return -1;
	int root = mh_os_new_root(m, a);
	if (root < 0)
		return -1;
	struct mh_as *s = &os->as[a];
	memset(s, 0, sizeof(*s));
	s->root = root;
	s->pcid = (uint16_t)(1 + a + 8 * mh_below(&m->rng, 500));
	s->pend_full = true;    /* a PCID used before may hold stale entries */

	struct mh_table *R = &os->t[root];
	unsigned k0 = first_kernel_idx(os), n = mh_os_nent(os, os->levels);
	bool any = false;
	for (unsigned i = k0; i < n; i++)
		any |= os->kroot_e[i] != 0;
	if (any && os->levels != 3 && os->as[os->cur].used && mh_pct(&m->rng, 50)) {
		/* REP MOVS of the kernel half from the running root */
		struct mh_insn in;
		struct mh_end end;
		int bits = mh_code_bits(m);
		uint64_t src = mh_os_pt_va(m, os->t[os->as[os->cur].root].gpa + k0 * os->esize);
		uint64_t dst = mh_os_pt_va(m, R->gpa + k0 * os->esize);
		unsigned size = bits == 64 ? os->esize : 4;
		m->regs.rflags &= ~(uint64_t)SVT_EMU_DF;
		mh_log(m, " copy the kernel half into the new root");
		mh_encode(m, MH_W_MOVS, size, bits, dst, 0, 0,
			  (n - k0) * os->esize / size, src, &in);
		if (!mh_insn(m, in.b, in.len, 0, &end))
			return -1;
		if (end.kind != MH_DONE)
			return mh_fail(m, "the guest OS's REP MOVS did not complete"), -1;
		for (unsigned i = k0; i < n; i++) {
			R->e[i] = os->kroot_e[i];
			R->child[i] = os->kroot_child[i];
		}
	} else {
		for (unsigned i = k0; i < n; i++) {
			if (!os->kroot_e[i] && !mh_pct(&m->rng, 1))
				continue;
			if (!mh_os_write_entry(m, root, i, os->kroot_e[i]))
				return -1;
			R->child[i] = os->kroot_child[i];
		}
	}
	s->used = true;
	return a;
}

bool mh_os_destroy_as(struct mh_machine *m, int a)
{
	struct mh_os *os = m->os;
	struct mh_as *s = &os->as[a];
	if (a == os->cur || !s->used)
		return true;
	mh_log(m, " destroy address space %d", a);
	mh_os_release(m, s->root);
	s->used = false;
	mh_os_clear_pending(s);
	return true;
}

/* ---- the flush discipline (see mmu-guest.c) ---------------------------- */

void mh_os_pend_full(struct mh_machine *m, int a, bool kernel)
{
	for (int x = 0; x < MH_MAX_AS; x++) {
		struct mh_as *s = &m->os->as[x];
		if (!s->used || (a >= 0 && x != a))
			continue;
		s->pend_full = true;
		s->pend_kernel |= kernel;
	}
}

void mh_os_clear_pending(struct mh_as *s)
{
	s->npend = 0;
	s->pend_full = s->pend_kernel = false;
}

bool mh_os_flush_pending(struct mh_machine *m, bool required)
{
	struct mh_os *os = m->os;
	struct mh_as *s = &os->as[os->cur];
	bool lm = mh_long_mode(m), pge = (m->arch.cr4 & SVT_CR4_PGE) != 0;
	bool pcide = (m->arch.cr4 & SVT_CR4_PCIDE) != 0;

	if (!os->levels || !s->used || (!s->npend && !s->pend_full))
		return true;
	if (m->policy.oos == 0 && !required && mh_pct(&m->rng, 30)) {
		mh_log(m, " the OS skips the flush it owes (oos=0: the shadows must not care)");
		mh_os_clear_pending(s);
		return true;
	}
	if (s->pend_full || mh_pct(&m->rng, 10)) {
		unsigned r = (unsigned)mh_below(&m->rng, 4);
		if (r == 0 && lm) {
			if (mh_invpcid(m, 2, 0, 0) != 0)
				return false;
			for (int x = 0; x < MH_MAX_AS; x++)
				mh_os_clear_pending(&os->as[x]);
			return true;
		}
		if (pge && (r == 1 || s->pend_kernel)) {
			if (mh_cr(m, 4, m->arch.cr4 & ~SVT_CR4_PGE) != 0 ||
			    mh_cr(m, 4, m->arch.cr4 | SVT_CR4_PGE) != 0)
				return false;
			for (int x = 0; x < MH_MAX_AS; x++)
				mh_os_clear_pending(&os->as[x]);
			return true;
		}
		if (r == 2 && lm && !pge) {
			if (mh_invpcid(m, pcide && mh_pct(&m->rng, 50) ? 1 : 3,
				       pcide ? m->arch.cr3 & 0xfff : 0, 0) != 0)
				return false;
			mh_os_clear_pending(s);
			return true;
		}
		return mh_os_switch(m, os->cur, true);
	}
	for (unsigned k = 0; k < s->npend; k++) {
		if (lm && pcide && !pge && mh_pct(&m->rng, 30)) {
			if (mh_invpcid(m, 0, m->arch.cr3 & 0xfff, s->pend[k]) != 0)
				return false;
		} else if (!mh_invlpg(m, s->pend[k])) {
			return false;
		}
	}
	mh_os_clear_pending(s);
	return true;
}

/* ---- leaves ------------------------------------------------------------ */

static uint64_t pick_gfn(struct mh_machine *m)
{
	struct mh_os *os = m->os;
	unsigned r = (unsigned)mh_below(&m->rng, 100);
	uint64_t g;
	if (r < 12) {
		for (int k = 0; k < 20; k++) {
			struct mh_table *T = &os->t[mh_below(&m->rng, MH_MAX_TABLES)];
			if (T->used)
				return T->gpa >> 12;
		}
	}
	if (r < 25 && os->nrecent)
		return os->recent_gfn[mh_below(&m->rng, os->nrecent < 16 ? os->nrecent : 16)];
	if (r < 29)
		return m->hole_lo + mh_below(&m->rng, m->hole_n);
	if (r < 31)
		return m->gframes + mh_below(&m->rng, 64);
	if (r < 33 && os->levels >= 3 && m->maxphyaddr > 33)
		return (1ull << 20) +
			mh_below(&m->rng, (1ull << (m->maxphyaddr - 12)) - (1ull << 20));
	if (r < 85) {
		int64_t d = -1;
		for (int k = 0; k < 50 && d < 0; k++) {
			g = mh_below(&m->rng, m->gframes);
			if (os->fstate[g] == MH_F_DATA)
				d = (int64_t)g;
		}
		if (d >= 0)
			return (uint64_t)d;
	}
	return mh_below(&m->rng, m->gframes);
}

uint64_t mh_os_leaf(struct mh_machine *m, bool user, int lv)
{
	struct mh_os *os = m->os;
	uint64_t size = 1ull << mh_os_shift(os, lv), v;
	bool nxe = (m->arch.efer & SVT_EFER_NXE) != 0;

	if (lv == 1) {
		uint64_t g = pick_gfn(m);
		os->recent_gfn[os->nrecent++ % 16] = g;
		v = g << 12;
	} else {
		v = size * (mh_pct(&m->rng, 70) ? 0 : mh_below(&m->rng, 3)) | PS;
		if (os->levels == 2 && mh_pct(&m->rng, 5))
			v |= mh_below(&m->rng, 16) << 13;       /* PSE-36: above 4 GiB */
		if (mh_pct(&m->rng, 5))
			v |= 1ull << 12;                        /* PAT */
	}
	v |= (mh_pct(&m->rng, 95) ? P : 0) | (mh_pct(&m->rng, 70) ? RW : 0) |
	     (mh_pct(&m->rng, user ? 90 : 10) ? US : 0) | (mh_pct(&m->rng, 50) ? A : 0) |
	     (mh_pct(&m->rng, 40) ? D : 0) | (mh_pct(&m->rng, 10) ? PWT | PCD : 0) |
	     (!user && mh_pct(&m->rng, 40) ? G : 0);
	if (lv == 1 && mh_pct(&m->rng, 5))
		v |= PS;                                        /* PAT in a PTE */
	if (os->levels >= 3 && mh_pct(&m->rng, nxe ? 20 : 2))
		v |= XD;
	if (os->levels >= 4 && mh_pct(&m->rng, 30))
		v |= mh_below(&m->rng, 16) << 59;               /* protection key */
	if (mh_pct(&m->rng, 2)) {                               /* a reserved bit */
		if (os->levels == 2)
			v |= lv == 2 ? 1ull << 21 : 0;
		else if (lv > 1 && mh_pct(&m->rng, 50))
			v |= 1ull << 13;
		else if (m->maxphyaddr < 52)
			v |= 1ull << (m->maxphyaddr + mh_below(&m->rng, 52 - m->maxphyaddr));
	}
	return os->esize == 4 ? v & 0xffffffffull : v;
}

/* ---- boot ------------------------------------------------------------- */

static uint64_t dmap_flags(struct mh_machine *m)
{
	return P | RW | (mh_pct(&m->rng, 50) ? A : 0) | (mh_pct(&m->rng, 50) ? D : 0) |
	       ((m->arch.cr4 & SVT_CR4_PGE) && mh_pct(&m->rng, 50) ? G : 0) |
	       (mh_pct(&m->rng, 10) ? SVT_PTE_PWT : 0);
}

static void protect_path(struct mh_machine *m, uint64_t va, int lv)
{
	struct mh_os *os = m->os;
	for (int l = lv; l < os->levels; l++) {
		int t = mh_os_table(m, 0, va, l, false);
		if (t >= 0)
			os->t[t].prot = true;
	}
}

/* 4 MiB of direct map (all of RAM) in the table at level lv holding it. */
static bool build_dmap(struct mh_machine *m)
{
	struct mh_os *os = m->os;
	uint64_t base = os->dmap;

	os->dmap_large = false;
	if (os->levels == 2 && os->pse && mh_pct(&m->rng, 70)) {
		os->dmap_large = true;
		return mh_os_write_kroot(m, mh_os_idx(os, 2, base), 0 | PS | dmap_flags(m), -1);
	}
	if (os->levels >= 4 && m->gbpages && mh_pct(&m->rng, 40)) {
		int t = mh_os_table(m, 0, base, 3, true);
		if (t < 0)
			return mh_fail(m, "harness: no room for the direct map");
		os->dmap_large = true;
		protect_path(m, base, 3);
		return mh_os_write_entry(m, t, mh_os_idx(os, 3, base), PS | dmap_flags(m));
	}
	uint64_t span = os->levels == 2 ? 4ull << 20 : 2ull << 20;
	for (uint64_t off = 0; off < (4ull << 20); off += span) {
		if (os->levels != 2 && mh_pct(&m->rng, 70)) {
			int t = mh_os_table(m, 0, base + off, 2, true);
			if (t < 0)
				return mh_fail(m, "harness: no room for the direct map");
			os->dmap_large = true;
			if (!mh_os_write_entry(m, t, mh_os_idx(os, 2, base + off),
					       off | PS | dmap_flags(m)))
				return false;
			continue;
		}
		int t = mh_os_table(m, 0, base + off, 1, true);
		if (t < 0)
			return mh_fail(m, "harness: no room for the direct map");
		for (uint64_t p = 0; p < span; p += MH_PAGE)
			if (!mh_os_write_entry(m, t, mh_os_idx(os, 1, base + off + p),
					       (off + p) | dmap_flags(m)))
				return false;
	}
	protect_path(m, base, 1);
	protect_path(m, base + (2ull << 20), 1);
	return true;
}

bool mh_os_paging_on(struct mh_machine *m, int levels)
{
	struct mh_os *os = m->os;
	static const uint64_t ub32[] = { 0x00400000, 0x08000000, 0x40000000 };
	static const uint64_t ub64[] = { 0x400000, 0x7fffc0000000ull, 0x8000000000ull,
					 0x1000000000000ull, 0xa0000000000000ull };

	/* forget whatever tables an earlier phase had */
	for (int k = 0; k < MH_MAX_TABLES; k++)
		os->t[k].used = false;
	for (uint64_t g = 0; g < m->gframes; g++) {
		os->tab_of_gfn[g] = -1;
		if (os->fstate[g] == MH_F_TABLE)
			os->fstate[g] = MH_F_DATA;
	}
	memset(os->as, 0, sizeof(os->as));
	memset(os->kroot_e, 0, sizeof(os->kroot_e));
	for (int i = 0; i < 1024; i++)
		os->kroot_child[i] = -1;
	os->nmaps = 0;
	os->cur = 0;
	os->levels = levels;
	os->esize = levels == 2 ? 4 : 8;
	if (levels <= 3) {
		os->dmap = 0xc0000000ull;
		os->kdyn = 0x80000000ull;
		memcpy(os->ubase, ub32, sizeof(ub32));
		os->nubase = 3;
	} else {
		os->dmap = levels == 5 ? 0xff11000000000000ull : 0xffff888000000000ull;
		os->kdyn = levels == 5 ? 0xffa0000000000000ull : 0xffffc90000000000ull;
		memcpy(os->ubase, ub64, sizeof(os->ubase));
		os->nubase = levels == 5 ? 4 : 3;
		if (levels == 5)
			os->ubase[2] = ub64[3];
	}
	mh_log(m, " boot: build %d-level tables with paging off", levels);

	/* EFER and CR4 first: LME and LA57 only change with paging off */
	uint64_t efer = (levels >= 3 && mh_pct(&m->rng, 70)) || mh_pct(&m->rng, 20) ?
		SVT_EFER_NXE : 0;
	if (levels >= 4)
		efer |= SVT_EFER_LME;
	uint64_t cr4 = levels == 2 ? 0 : SVT_CR4_PAE;
	os->pse = levels == 2 ? mh_pct(&m->rng, 85) : mh_pct(&m->rng, 30);
	cr4 |= os->pse ? SVT_CR4_PSE : 0;
	cr4 |= levels == 5 ? SVT_CR4_LA57 : 0;
	cr4 |= mh_pct(&m->rng, 40) ? SVT_CR4_PGE : 0;
	cr4 |= mh_pct(&m->rng, 25) ? SVT_CR4_SMEP : 0;
	cr4 |= mh_pct(&m->rng, 25) ? SVT_CR4_SMAP : 0;
	cr4 |= mh_pct(&m->rng, levels >= 4 ? 40 : 10) ? SVT_CR4_PKE : 0;
	if (mh_cr(m, 8, efer) != 0 || mh_cr(m, 4, cr4) != 0)
		return mh_fail(m, "boot: EFER/CR4 setup refused");

	if (mh_os_new_as(m) != 0)
		return mh_fail(m, "harness: no root for the first address space");
	os->cur = 0;
	os->quiet_flags = true;
	bool ok = build_dmap(m);
	os->quiet_flags = false;
	if (!ok)
		return false;
	for (unsigned k = 0; k < 6; k++)
		if (!mh_os_map(m, -1, os->kdyn + k * MH_PAGE, 1, mh_os_leaf(m, false, 1)))
			return false;
	for (unsigned k = 0; k < 12; k++) {
		uint64_t va = os->ubase[k % os->nubase] + mh_below(&m->rng, 32) * MH_PAGE;
		if (!mh_os_map(m, 0, mh_os_canon(os, va), 1, mh_os_leaf(m, true, 1)))
			return false;
	}
	if (mh_os_large_ok(m, 2) && !mh_os_map(m, 0, os->ubase[2] + (4ull << 22), 2,
					       mh_os_leaf(m, true, 2)))
		return false;
	if (mh_pct(&m->rng, 50)) {
		int a = mh_os_new_as(m);
		for (unsigned k = 0; a > 0 && k < 6; k++)
			if (!mh_os_map(m, a, os->ubase[0] + mh_below(&m->rng, 32) * MH_PAGE, 1,
				       mh_os_leaf(m, true, 1)))
				return false;
	}
	uint64_t cr3 = os->t[os->as[0].root].gpa;
	if (levels != 3 && mh_pct(&m->rng, 20))
		cr3 |= mh_below(&m->rng, 4) << 3;
	uint64_t cr0 = m->arch.cr0 | SVT_CR0_PG | (mh_pct(&m->rng, 90) ? SVT_CR0_WP : 0);
	if (mh_cr(m, 3, cr3) != 0 || mh_cr(m, 0, cr0) != 0)
		return mh_fail(m, "boot: enabling %d-level paging raised #GP", levels);
	for (int x = 0; x < MH_MAX_AS; x++)
		mh_os_clear_pending(&os->as[x]);
	mh_log(m, " boot: %d-level paging on", levels);
	return true;
}

bool mh_os_boot(struct mh_machine *m)
{
	/* 32-bit protected mode, paging off; the caches on or (rarely) off */
	uint64_t cr0 = SVT_CR0_PE | CR0_ET | CR0_NE | (mh_pct(&m->rng, 30) ? CR0_CD | CR0_NW : 0);
	if (mh_cr(m, 0, cr0) != 0)
		return mh_fail(m, "boot: entering protected mode raised #GP");
	static const int levels[MH_MODE_COUNT] = { 0, 2, 3, 4, 5 };
	if (m->mode == MH_MODE_NONE)
		return true;
	return mh_os_paging_on(m, levels[m->mode]);
}
