/*
 * mmu-steps.c — the random guest's steps.
 *
 * A step is one thing a guest OS or its programs do: an access
 * (mmu-access.c), a page-table change (map, unmap, flip rights, clear A/D,
 * repoint a present leaf to another frame and touch it at once after the
 * flush, free a table and reuse its frame as data), an address-space operation,
 * an invalidation, a control-register write (valid, or one the SDM answers
 * with #GP), an implicit write only CR0.WP=0 allows followed by setting WP
 * again, a PAE PDPTE change, or turning paging off and on (the
 * paging-off scenario lives mostly with paging off and builds new tables
 * each time it turns paging on).  Before each step the OS settles the
 * invalidations it owes (mh_os_flush_pending).
 */
#include <stdlib.h>
#include <string.h>

#include "mmu-harness.h"

#define P  SVT_PTE_P
#define PS SVT_PTE_PS

static bool paging(const struct mh_machine *m)
{
	return (m->arch.cr0 & SVT_CR0_PG) != 0;
}

/* ---- page-table changes ----------------------------------------------- */

static uint64_t pick_map_va(struct mh_machine *m, int as, int lv)
{
	struct mh_os *os = m->os;
	uint64_t size = 1ull << mh_os_shift(os, lv);
	uint64_t base = as < 0 ? os->kdyn : os->ubase[mh_below(&m->rng, os->nubase)];
	base &= ~(size - 1);
	return mh_os_canon(os, base + mh_below(&m->rng, lv == 1 ? 48 : 4) * size);
}

static int pick_as(struct mh_machine *m)
{
	struct mh_os *os = m->os;
	if (mh_pct(&m->rng, 25))
		return -1;
	for (int k = 0; k < 4 && mh_pct(&m->rng, 20); k++) {
		int a = (int)mh_below(&m->rng, MH_MAX_AS);
		if (os->as[a].used)
			return a;
	}
	return os->cur;
}

static bool step_map(struct mh_machine *m, uint64_t *ava)
{
	int as = pick_as(m), lv = 1;
	if (mh_pct(&m->rng, 15)) {
		lv = mh_pct(&m->rng, 30) && mh_os_large_ok(m, 3) ? 3 : 2;
		if (!mh_os_large_ok(m, lv))
			lv = 1;
	}
	uint64_t va = pick_map_va(m, as, lv);
	*ava = va;
	return mh_os_map(m, as, va, lv, mh_os_leaf(m, as >= 0, lv));
}

/* A table the OS may change (not the direct map), or -1. */
static int pick_table(struct mh_machine *m, bool need_parent)
{
	struct mh_os *os = m->os;
	for (int k = 0; k < 40; k++) {
		int t = (int)mh_below(&m->rng, MH_MAX_TABLES);
		struct mh_table *T = &os->t[t];
		if (!T->used || (T->prot && T->parent != -1) || (need_parent && T->parent == -1))
			continue;
		if (T->as >= 0 && T->as != os->cur && mh_pct(&m->rng, 70))
			continue;
		return t;
	}
	return -1;
}

enum { E_UNMAP, E_FLIP, E_CLEAR_AD, E_REPOINT };

static bool step_entry(struct mh_machine *m, int what, uint64_t *ava)
{
	struct mh_os *os = m->os;
	int t = pick_table(m, false);
	if (t < 0)
		return true;
	struct mh_table *T = &os->t[t];
	unsigned n = mh_os_nent(os, T->level), i0 = (unsigned)mh_below(&m->rng, n), i = i0;
	for (unsigned k = 0; k < n; k++) {
		unsigned j = (i0 + k) % n;
		if (T->parent == -1 && mh_os_kernel_idx(os, j))
			continue;
		i = j;
		if (T->e[j] & P)
			break;
	}
	if (T->parent == -1 && mh_os_kernel_idx(os, i))
		return true;
	uint64_t v = mh_twin_read(m, T->gpa + (uint64_t)i * os->esize, os->esize), nv = v;
	bool pdpte = os->levels == 3 && T->level == 3;
	bool leaf = T->level == 1 || ((v & PS) && mh_os_large_ok(m, T->level) && !pdpte);
	*ava = mh_os_canon(os, T->va_base + ((uint64_t)i << mh_os_shift(os, T->level)));
	switch (what) {
	case E_UNMAP:
		nv = mh_pct(&m->rng, 50) || pdpte ? 0 : v & ~P;
		break;
	case E_FLIP: {
		static const uint64_t leaf_bits[] = { P, SVT_PTE_RW, SVT_PTE_US,
						      SVT_PTE_A, SVT_PTE_D, SVT_PTE_G, SVT_PTE_PWT,
						      SVT_PTE_XD, 0 };
		static const uint64_t dir_bits[] = { P, SVT_PTE_RW, SVT_PTE_US, SVT_PTE_A,
						     SVT_PTE_PCD, SVT_PTE_XD };
		uint64_t b;
		if (pdpte)
			b = mh_pct(&m->rng, 50) ? P : SVT_PTE_PWT;
		else if (leaf)
			b = leaf_bits[mh_below(&m->rng, 9)];
		else
			b = dir_bits[mh_below(&m->rng, 6)];
		if (b == SVT_PTE_XD && os->levels < 3)
			b = SVT_PTE_US;
		if (b == 0)             /* protection key, or (rarely) a reserved bit */
			b = os->levels >= 4 ? mh_below(&m->rng, 16) << 59 :
			    mh_pct(&m->rng, 20) && os->levels == 3 ? 1ull << 62 : SVT_PTE_A;
		/* never make a table of what is not one */
		if (b == P && !leaf && !(v & P) && T->child[i] < 0)
			return true;
		nv = v ^ b;
		break;
	}
	case E_REPOINT: {
		/* a present 4 KiB leaf moved to another data frame (page
		 * migration); flushed and touched at once below */
		uint64_t g = mh_below(&m->rng, m->gframes);
		uint64_t fm = os->esize == 4 ? 0xfffff000ull : 0x000ffffffffff000ull;
		if (T->level != 1 || !(v & P) || os->fstate[g] != MH_F_DATA)
			return true;
		nv = (v & ~fm) | (g << 12);
		if (nv == v)
			return true;
		break;
	}
	default:
		nv = v & ~(mh_pct(&m->rng, 50) ? SVT_PTE_A : mh_pct(&m->rng, 50) ? SVT_PTE_D :
			   SVT_PTE_A | SVT_PTE_D);
		if (nv == v)
			return true;
		break;
	}
	int child = T->child[i];
	if (!mh_os_write_entry(m, t, i, nv))
		return false;
	if (child >= 0 && !(nv & P) && !(nv >> 12)) {
		os->t[t].child[i] = -1;         /* cleared: the table below is gone */
		mh_os_release(m, child);
	}
	if (what == E_REPOINT) {        /* the address touched right after its flush */
		uint64_t val;
		struct mh_end e;
		return mh_os_flush_pending(m, false) &&
		       mh_data(m, *ava, 4, SVT_ACC_READ, (nv & SVT_PTE_US) ? 3 : 0, false, NULL, 0,
			       &val, &e);
	}
	return true;
}

static bool step_free(struct mh_machine *m, uint64_t *ava)
{
	struct mh_os *os = m->os;
	int t = pick_table(m, true);
	if (t < 0 || os->t[t].level >= os->levels)
		return true;
	uint64_t g = os->t[t].gpa >> 12;
	*ava = os->t[t].va_base;
	if (!mh_os_free_table(m, t, mh_pct(&m->rng, 60)))
		return false;
	os->recent_gfn[os->nrecent++ % 16] = g;
	if (!mh_pct(&m->rng, 40) || !paging(m))
		return true;
	/* the frame, now data, mapped and written at once */
	uint64_t va = pick_map_va(m, os->cur, 1);
	if (!mh_os_map(m, os->cur, va, 1, (g << 12) | P | SVT_PTE_RW | SVT_PTE_US | SVT_PTE_A) ||
	    !mh_os_flush_pending(m, false))
		return false;
	*ava = va;
	return mh_gen_write(m, va, 3, ava);
}

/* One page table under a second parent (an OS sharing a table between
 * processes, or mapping it twice in one): some of its entries written and
 * not flushed (a leaf made present, A cleared, rights flipped, a frame
 * moved: the first link's TLB entries may be stale, the second link has
 * none), then the table linked by an empty level-2 entry of the current
 * address space or another one, accessed through that link, and the link
 * removed (its flush is owed, settled before the next step). */
static bool step_alias(struct mh_machine *m, uint64_t *ava)
{
	struct mh_os *os = m->os;
	int t = -1, p = -1;
	unsigned j = 0;
	for (int k = 0; k < 40 && t < 0; k++) {
		int c = (int)mh_below(&m->rng, MH_MAX_TABLES);
		if (os->t[c].used && os->t[c].level == 1 && !os->t[c].prot)
			t = c;
	}
	/* the second parent: a level-2 table with an empty slot (a root in
	 * 2-level paging: a user slot), not t's own link */
	for (int k = 0; k < 60 && p < 0; k++) {
		int c = (int)mh_below(&m->rng, MH_MAX_TABLES);
		const struct mh_table *C = &os->t[c];
		if (t < 0 || !C->used || C->level != 2 || (C->prot && C->parent != -1) ||
		    (C->as >= 0 && C->as != os->cur && mh_pct(&m->rng, 50)))
			continue;
		unsigned i = (unsigned)mh_below(&m->rng, mh_os_nent(os, 2));
		if (C->parent == -1 && mh_os_kernel_idx(os, i))
			continue;
		if (C->e[i] == 0 && C->child[i] < 0 &&
		    !(mh_twin_read(m, C->gpa + (uint64_t)i * os->esize, os->esize) & P))
			p = c, j = i;
	}
	if (p < 0)
		return true;
	struct mh_table *T = &os->t[t];
	uint64_t fm = os->esize == 4 ? 0xfffff000ull : 0x000ffffffffff000ull;
	unsigned nent = mh_os_nent(os, 1), wrote[4], nw = 0;
	mh_log(m,
	       " alias: level-1 table %d (gpa %#llx, as %d) also under table %d index %u (as %d)",
	       t, (unsigned long long)T->gpa, T->as, p, j, os->t[p].as);
	for (unsigned k = 0; k < 4; k++) {
		unsigned i = (unsigned)mh_below(&m->rng, nent);
		uint64_t gpa = T->gpa + (uint64_t)i * os->esize,
			v = mh_twin_read(m, gpa, os->esize);
		uint64_t nv, g = mh_below(&m->rng, m->gframes);
		unsigned r = (unsigned)mh_below(&m->rng, 100);
		if (!(v & P))
			nv = mh_os_leaf(m, T->as >= 0, 1);
		else if (r < 40)
			nv = v & ~(SVT_PTE_A | (mh_pct(&m->rng, 50) ? SVT_PTE_D : 0));
		else if (r < 70)
			nv = v ^ SVT_PTE_RW;
		else if (os->fstate[g] == MH_F_DATA)
			nv = (v & ~fm) | (g << 12);
		else
			nv = 0;
		if (nv == v || !mh_os_write_entry(m, t, i, nv)) {
			if (m->failed)
				return false;
			continue;
		}
		wrote[nw++] = i;
	}
	int a = os->t[p].as >= 0 ? os->t[p].as : os->cur;
	if (!mh_os_write_entry(m, p, j, T->gpa | P | SVT_PTE_RW | SVT_PTE_US |
			       (mh_pct(&m->rng, 50) ? SVT_PTE_A : 0)))
		return false;
	if (a != os->cur && !mh_os_switch(m, a, false))
		return false;
	/* through the second link: the entries just written, and others */
	uint64_t base = os->t[p].va_base + ((uint64_t)j << mh_os_shift(os, 2));
	for (unsigned k = 0; k < nw + 3; k++) {
		unsigned i = k < nw ? wrote[k] : (unsigned)mh_below(&m->rng, nent);
		uint64_t va = mh_os_canon(os, base + ((uint64_t)i << 12)), val;
		unsigned cpl = mh_pct(&m->rng, 70) ? 3 : 0;
		struct mh_end e;
		*ava = va;
		if (mh_pct(&m->rng, 30)) {
			if (!mh_gen_write(m, va, cpl, ava))
				return false;
			continue;
		}
		unsigned size = 1u << mh_below(&m->rng, 4);
		if (!mh_data(m, va + mh_below(&m->rng, MH_PAGE - size + 1), size, SVT_ACC_READ, cpl,
			     false, NULL, 0, &val, &e))
			return false;
	}
	/* unlinked; the flush it owes (a non-leaf entry: a full one) comes
	 * before the next access */
	return mh_os_write_entry(m, p, j, 0);
}

/*
 * A write that crosses from a page table (an alias mapped writable) into a
 * page with nothing behind it: the core must emulate the first part (or
 * take the table out of sync), and bare metal drops the second part.
 * Before the fix of K12 the core retried it for ever.
 */
static bool step_cross_device(struct mh_machine *m, uint64_t *ava)
{
	struct mh_os *os = m->os;
	int t = -1;
	for (int k = 0; k < 40 && t < 0; k++) {
		int c = (int)mh_below(&m->rng, MH_MAX_TABLES);
		if (os->t[c].used)
			t = c;
	}
	if (t < 0 || (!m->hole_n && m->maxphyaddr <= 32))
		return true;
	uint64_t dev = m->hole_n && mh_pct(&m->rng, 60) ? m->hole_lo + mh_below(&m->rng, m->hole_n)
						      : m->gframes + mh_below(&m->rng, 16);
	int as = os->cur;
	bool user = mh_pct(&m->rng, 70);
	uint64_t fl = P | SVT_PTE_RW | SVT_PTE_A | SVT_PTE_D | (user ? SVT_PTE_US : 0);
	uint64_t va = pick_map_va(m, as, 1), fm = os->esize == 4 ? 0xffffffffull : ~0ull;
	if (((os->t[t].gpa & ~0xfffull) & fm) != (os->t[t].gpa & ~0xfffull) ||
	    ((dev << 12) & fm) != dev << 12)
		return true;
	mh_log(m, " cross-device: va %#llx -> table %d (gpa %#llx), next page -> gfn %#llx",
	       (unsigned long long)va, t, (unsigned long long)os->t[t].gpa,
	       (unsigned long long)dev);
	if (!mh_os_map(m, as, va, 1, (os->t[t].gpa & ~0xfffull) | fl) ||
	    !mh_os_map(m, as, mh_os_canon(os, va + MH_PAGE), 1, (dev << 12) | fl) ||
	    !mh_os_flush_pending(m, false))
		return false;
	m->force_cross = true;
	bool ok = mh_gen_write(m, va, user ? 3 : 0, ava);
	m->force_cross = false;
	return ok;
}

/*
 * An implicit supervisor write (no instruction: the core cannot emulate
 * it) to a data page the guest maps read-only, which only CR0.WP=0 allows:
 * the core makes the shadow path writable and supervisor-only.  Then
 * CR0.WP=1 and a supervisor write there, which bare metal answers with #PF
 * (P|W): a core that kept the writable shadow (SVT_BUG(80)) lets it
 * through.  The guest rarely sets WP again soon after such a write.  Half
 * the time the page is a user page and, before WP is set, CR4.SMAP goes on
 * and the supervisor reads it with RFLAGS.AC as it is: bare metal refuses
 * that read where AC=0, and a core that kept the supervisor-only shadow
 * (SVT_BUG(83)) lets it through.  A third of the time the write is instead
 * an event's delivery at CPL 0 pushing onto the page and the next one,
 * mapped the same way (mh_frame): under SMAP with RFLAGS.AC=1 or the keys
 * both pages need the step's grant, and a core that ends the step at the
 * second page's fault (SVT_BUG(87)) has the two fault in turn for ever.
 */
static bool step_wp0_write(struct mh_machine *m, uint64_t *ava)
{
	struct mh_os *os = m->os;
	uint64_t g = 0, fm = os->esize == 4 ? 0xffffffffull : ~0ull, gpa, cr2, val;
	uint32_t ec;
	struct mh_end e;
	bool found = false;
	for (int k = 0; k < 20 && !found; k++) {
		g = mh_below(&m->rng, m->gframes);
		found = mh_ram(m, g) && os->fstate[g] == MH_F_DATA && ((g << 12) & fm) == g << 12;
	}
	if (!found)
		return true;
	int as = mh_pct(&m->rng, 50) ? -1 : os->cur;
	uint64_t va = pick_map_va(m, as, 1);
	bool user = mh_pct(&m->rng, 50);
	uint64_t fl = P | SVT_PTE_A | (mh_pct(&m->rng, 50) ? SVT_PTE_D : 0) |
		      (mh_pct(&m->rng, 30) ? SVT_PTE_G : 0) | (user ? SVT_PTE_US : 0);
	/* a third of the time an event's frame across into the next page,
	 * mapped read-only the same way to another data frame (A and D set:
	 * which of a faulting delivery's pushes set D is the CPU's to say);
	 * its own random numbers, so that the guest's program before and
	 * after it (and an old seed's failure) does not move */
	struct mh_rng frng = { m->rng.s ^ va ^ 0x3f2au };
	uint64_t g2 = 0;
	bool frame = mh_pct(&frng, 33);
	for (int k = 0; k < 20 && frame && !g2; k++) {
		uint64_t c = mh_below(&frng, m->gframes);
		if (c != g && mh_ram(m, c) && os->fstate[c] == MH_F_DATA &&
		    ((c << 12) & fm) == c << 12)
			g2 = c;
	}
	frame = g2 != 0;
	if (frame)
		fl |= SVT_PTE_D;
	*ava = va;
	if (!mh_os_map(m, as, va, 1, (g << 12) | fl) ||
	    (frame && !mh_os_map(m, as, mh_os_canon(os, va + MH_PAGE), 1, (g2 << 12) | fl)) ||
	    !mh_os_flush_pending(m, false))
		return false;
	/* mapped as asked (mh_os_map keeps the direct map; a table above may
	 * hold a reserved bit)?  Else nothing to test here. */
	if (mh_or_translate(m, va, SVT_ACC_READ, 0, false, false, &gpa, &ec, &cr2) != 0 ||
	    gpa >> 12 != g)
		return true;
	if (frame && (mh_or_translate(m, mh_os_canon(os, va + MH_PAGE), SVT_ACC_READ, 0, false,
				      false, &gpa, &ec, &cr2) != 0 || gpa >> 12 != g2))
		frame = false;
	mh_log(m, " wp0 write: va %#llx -> gfn %#llx read-only; WP=0, implicit write, WP=1, write",
	       (unsigned long long)va, (unsigned long long)g);
	if (mh_pct(&m->rng, 50) &&     /* a read-only shadow there first, or none */
	    !mh_data(m, va + mh_below(&m->rng, MH_PAGE - 7), 8, SVT_ACC_READ, 0, false, NULL, 0,
		     &val, &e))
		return false;
	/* (under SMAP or the keys, the core grants the write one step: K13) */
	int rc = mh_cr(m, 0, m->arch.cr0 & ~SVT_CR0_WP);
	if (rc != 0)
		return rc != -1;
	unsigned size = 1u << mh_below(&m->rng, 4);
	uint64_t wva = va + mh_below(&m->rng, MH_PAGE / size) * size;
	val = mh_rand(&m->rng) & (size == 8 ? ~0ull : (1ull << (8 * size)) - 1);    /* data */
	if (frame) {
		/* (under SMAP with RFLAGS.AC=1 or the keys: a step for both) */
		uint64_t fva[2] = { mh_os_canon(os, va + MH_PAGE), va + MH_PAGE - 8 };
		uint64_t fval[2] = { val, mh_rand(&frng) };
		wva = fva[1];
		if (!mh_frame(m, fva, fval, &e))
			return false;
	} else if (!mh_data(m, wva, size, SVT_ACC_WRITE, 0, true, NULL, 0, &val, &e)) {
		return false;
	}
	if (user && !(m->arch.cr4 & SVT_CR4_SMAP)) {
		/* SMAP on under WP=0 (a #GP where the CPU lacks it: nothing
		 * to test), an explicit read, SMAP off again */
		rc = mh_cr(m, 4, m->arch.cr4 | SVT_CR4_SMAP);
		if (rc == -1 ||
		    (rc == 0 && !mh_data(m, wva & ~7ull, 8, SVT_ACC_READ, 0, false, NULL, 0, &val,
					 &e)))
			return false;
		if (rc == 0 && mh_cr(m, 4, m->arch.cr4 & ~SVT_CR4_SMAP) == -1)
			return false;
	}
	rc = mh_cr(m, 0, m->arch.cr0 | SVT_CR0_WP);
	if (rc != 0)
		return rc != -1;
	return mh_gen_write(m, va, 0, ava);
}

/* ---- address spaces, invalidations, control registers ------------------ */

static bool step_as(struct mh_machine *m)
{
	struct mh_os *os = m->os;
	unsigned r = (unsigned)mh_below(&m->rng, 100);
	int a = (int)mh_below(&m->rng, MH_MAX_AS);
	if (r < 25) {
		a = mh_os_new_as(m);
		for (unsigned k = 0; a > 0 && k < 4; k++)
			if (!mh_os_map(m, a, pick_map_va(m, a, 1), 1, mh_os_leaf(m, true, 1)))
				return false;
		return !m->failed;
	}
	if (r < 40)
		return mh_os_destroy_as(m, a);
	if (!os->as[a].used)
		a = os->cur;
	return mh_os_switch(m, a, false);
}

static bool step_flush(struct mh_machine *m, uint64_t *ava)
{
	struct mh_os *os = m->os;
	unsigned r = (unsigned)mh_below(&m->rng, 100);
	uint64_t va = mh_pick_page(m) + mh_below(&m->rng, MH_PAGE);
	*ava = va;
	if (r < 40)
		return mh_invlpg(m, va);
	if (r < 65 && mh_long_mode(m)) {
		unsigned type = mh_pct(&m->rng, 5) ? 4 + (unsigned)mh_below(&m->rng, 4) :
			(unsigned)mh_below(&m->rng, 4);
		uint64_t pcid = mh_pct(&m->rng, 70) ?
			((m->arch.cr4 & SVT_CR4_PCIDE) ? m->arch.cr3 & 0xfff : 0) :
			mh_pct(&m->rng, 5) ? 0x1000 + mh_below(&m->rng, 100) :
			mh_below(&m->rng, 4096);
		if (mh_pct(&m->rng, 3))
			va ^= 1ull << 60;
		int rc = mh_invpcid(m, type, pcid, va);
		if (rc == 0 && type == 2)
			for (int x = 0; x < MH_MAX_AS; x++)
				mh_os_clear_pending(&os->as[x]);
		return rc >= 0 || rc == SVT_E_GP;
	}
	if (r < 90 && os->as[os->cur].used)
		return mh_os_switch(m, os->cur, mh_pct(&m->rng, 50));
	return mh_flush_all(m);
}

#define CR0_NW (1ull << 29)
#define CR0_CD (1ull << 30)

static void all_flushed(struct mh_machine *m)
{
	for (int x = 0; x < MH_MAX_AS; x++)
		mh_os_clear_pending(&m->os->as[x]);
}

static bool step_cr(struct mh_machine *m)
{
	struct mh_os *os = m->os;
	bool lm = mh_long_mode(m);
	uint64_t cr0 = m->arch.cr0, cr4 = m->arch.cr4, efer = m->arch.efer;
	unsigned r = (unsigned)mh_below(&m->rng, 100);
	int rc;

	if (r < 14)
		return mh_cr(m, 0, cr0 ^ SVT_CR0_WP) != -1;
	if (r < 24)
		return mh_cr(m, 8, efer ^ SVT_EFER_NXE) != -1;
	if (r < 34)
		return mh_cr(m, 4, cr4 ^ SVT_CR4_SMEP) != -1;
	if (r < 44)
		return mh_cr(m, 4, cr4 ^ SVT_CR4_SMAP) != -1;
	if (r < 51)
		return mh_cr(m, 4, cr4 ^ SVT_CR4_PKE) != -1;
	if (r < 59) {
		rc = mh_cr(m, 4, cr4 ^ SVT_CR4_PGE);
		if (rc == 0)
			all_flushed(m);
		return rc != -1;
	}
	if (r < 66 && lm) {
		if (cr4 & SVT_CR4_PCIDE) {
			rc = mh_cr(m, 4, cr4 & ~SVT_CR4_PCIDE);
			if (rc == 0)
				all_flushed(m);
			return rc != -1;
		}
		if ((m->arch.cr3 & 0xfff) && mh_pct(&m->rng, 70)) {
			if (mh_cr(m, 3, m->arch.cr3 & ~0xfffull) != 0)
				return false;
			if (!((cr4 & SVT_CR4_PGE) && os->as[os->cur].pend_kernel))
				mh_os_clear_pending(&os->as[os->cur]);
		}
		return mh_cr(m, 4, m->arch.cr4 | SVT_CR4_PCIDE) != -1;
	}
	if (r < 70) {
		if (os->levels == 2 && (os->dmap_large || m->policy.oos))
			return true;
		return mh_cr(m, 4, cr4 ^ SVT_CR4_PSE) != -1;
	}
	if (r < 74 && (cr0 & CR0_CD) == ((cr0 & CR0_NW) << 1))
		return mh_cr(m, 0, cr0 ^ (CR0_CD | CR0_NW)) != -1;
	/* writes the SDM answers with #GP (mh_cr checks both sides agree) */
	switch (mh_below(&m->rng, 9)) {
	case 0: rc = mh_cr(m, 0, (cr0 | SVT_CR0_PG) & ~SVT_CR0_PE); break;
	case 1: rc = mh_cr(m, 0, (cr0 | CR0_NW) & ~CR0_CD); break;
	case 2: rc = mh_cr(m, 4,
			   cr4 | (lm && mh_pct(&m->rng, 50) ? 1ull << 40 : 1ull << 15)); break;
	case 3: rc = lm ? mh_cr(m, 4, cr4 & ~SVT_CR4_PAE) : 0; break;
	case 4: rc = lm ? mh_cr(m, 4, cr4 ^ SVT_CR4_LA57) : 0; break;
	case 5: rc = (cr0 & SVT_CR0_PG) ? mh_cr(m, 8, efer ^ SVT_EFER_LME) : 0; break;
	case 6: rc = mh_cr(m, 8, efer | 2); break;
	case 7:
		rc = lm && m->maxphyaddr < 52 ? mh_cr(m, 3, m->arch.cr3 | 1ull <<
			(m->maxphyaddr + mh_below(&m->rng, 52 - m->maxphyaddr))) : 0;
		break;
	default: rc = lm ? mh_cr(m, 0, cr0 | 1ull << 32) :
		 !lm ? mh_cr(m, 4, cr4 | SVT_CR4_PCIDE) : 0; break;
	}
	return rc != -1;
}

/* PAE: a PDPTE with a reserved bit makes the next PDPTE load #GP. */
static bool step_pdpte(struct mh_machine *m)
{
	struct mh_os *os = m->os;
	struct mh_table *R = &os->t[os->as[os->cur].root];
	unsigned i = (unsigned)mh_below(&m->rng, 4);
	static const unsigned rsvd[] = { 1, 2, 5, 6, 7, 8 };
	uint64_t gpa = R->gpa + 8 * i, cur = mh_twin_read(m, gpa, 8);
	uint64_t bad = cur | P | (1ull << rsvd[mh_below(&m->rng, 6)]);
	struct mh_insn in;
	struct mh_end end;
	if (!(cur & P))
		return true;
	mh_log(m, " PDPTE %u <- %#llx (reserved bit), then a PDPTE load", i,
	       (unsigned long long)bad);
	mh_encode(m, MH_W_CMPXCHG8B, 8, 32, mh_os_pt_va(m, gpa), bad, cur, 0, 0, &in);
	if (!mh_insn(m, in.b, in.len, 0, &end))
		return false;
	int rc = mh_pct(&m->rng, 50) ? mh_cr(m, 3, m->arch.cr3) :
		 mh_cr(m, 4, m->arch.cr4 ^ SVT_CR4_SMEP);
	if (rc == -1)
		return false;
	if (rc == 0)
		return mh_fail(m, "harness: PDPTE load with reserved bit %#llx did not fault",
			       (unsigned long long)bad);
	mh_encode(m, MH_W_CMPXCHG8B, 8, 32, mh_os_pt_va(m, gpa), cur, bad, 0, 0, &in);
	return mh_insn(m, in.b, in.len, 0, &end);
}

/* Paging off and on again (mode none: between phases of new tables). */
static bool step_pg(struct mh_machine *m)
{
	struct mh_os *os = m->os;
	all_flushed(m);
	if (!paging(m)) {
		if (m->mode == MH_MODE_NONE)
			return mh_os_paging_on(m, mh_pct(&m->rng, 50) ? 2 : 3);
		return mh_cr(m, 0, m->arch.cr0 | SVT_CR0_PG) == 0 ||
		       mh_fail(m, "turning paging back on raised #GP");
	}
	if (mh_long_mode(m))
		return true;
	if (mh_cr(m, 0, m->arch.cr0 & ~SVT_CR0_PG) != 0)
		return false;
	if (m->mode == MH_MODE_NONE) {
		os->levels = 0;
		if (mh_pct(&m->rng, 50) && mh_cr(m, 4, m->arch.cr4 & ~SVT_CR4_PAE) != 0)
			return false;
	}
	return true;
}

bool mh_os_step(struct mh_machine *m, uint64_t *ava)
{
	struct mh_os *os = m->os;
	unsigned r = (unsigned)mh_below(&m->rng, 1000);
	*ava = os->dmap;
	if (!paging(m))
		all_flushed(m);
	else if (os->levels && !mh_os_flush_pending(m, false))
		return false;
	if (!os->levels) {              /* mode none, paging off */
		if (r < 880)
			return mh_step_access(m, ava);
		if (r < 950) {
			static const uint64_t bits[] = { SVT_CR4_PAE, SVT_CR4_PSE, SVT_CR4_PGE,
							 SVT_CR4_SMEP, SVT_CR4_SMAP, SVT_CR4_PKE };
			return mh_cr(m, 4, m->arch.cr4 ^ bits[mh_below(&m->rng, 6)]) != -1;
		}
		if (r < 960)
			return mh_cr(m, 3, mh_below(&m->rng, m->gframes) << 12) != -1;
		if (r < 970)
			return mh_cr(m, 0, m->arch.cr0 ^ SVT_CR0_WP) != -1;
		return step_pg(m);
	}
	if (!paging(m)) {
		if (r < 800)
			return mh_step_access(m, ava);
		if (r < 850)
			return step_map(m, ava);
		if (r < 900)
			return step_entry(m, E_FLIP, ava);
		if (r < 950)
			return step_cr(m);
		return step_pg(m);
	}
	if (r < 520)
		return mh_step_access(m, ava);
	if (r < 620)
		return step_map(m, ava);
	if (r < 660)
		return step_entry(m, E_UNMAP, ava);
	if (r < 730)
		return step_entry(m, E_FLIP, ava);
	if (r < 762)
		return step_entry(m, E_CLEAR_AD, ava);
	if (r < 770)
		return step_entry(m, E_REPOINT, ava);
	if (r < 800)
		return step_free(m, ava);
	if (r < 840)
		return step_as(m);
	if (r < 880)
		return step_flush(m, ava);
	if (r < 935)
		return step_cr(m);
	if (r < 960 && os->levels == 3)
		return step_pdpte(m);
	if (r < 968 && !mh_long_mode(m))
		return step_pg(m);
	if (r < 976)
		return step_alias(m, ava);
	if (r < 980)
		return step_cross_device(m, ava);
	if (r < 988)
		return step_wp0_write(m, ava);
	return mh_step_access(m, ava);
}
