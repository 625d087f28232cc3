/*
 * synth-os.c — the synthetic guest's operating system (synth.h): frames,
 * page tables written through the direct map with real instructions,
 * processes, demand paging and copy-on-write, and the flushes the
 * architecture requires after each change.
 */
#include <string.h>

#include "synth.h"

#define E_P     SVT_PTE_P
#define E_RW    SVT_PTE_RW
#define E_US    SVT_PTE_US
#define E_A     SVT_PTE_A
#define E_D     SVT_PTE_D
#define E_PS    SVT_PTE_PS
#define E_G     (1ull << 8)
#define E_NX    SVT_PTE_XD

/* Code sites (RIPs) of the kernel's page-table writers, for the trace. */
#define CR0_ET          (1ull << 4)
#define SITE_SET_PTE    0x1100
#define SITE_CLEAR_PAGE 0x1200
#define SITE_USER       0x401000
#define SITE_UACCESS    0x1300

uint64_t syn_ktext(const struct syn *s, uint64_t site)
{
	return s->dmap + 0x100000 + site;
}

uint64_t syn_frame_mask(const struct syn *s)
{
	return s->esize == 4 ? 0xfffff000ull : 0x000ffffffffff000ull;
}

unsigned syn_nent(const struct syn *s, int lv)
{
	if (s->levels == 3 && lv == 3)
		return 4;
	return s->esize == 4 ? 1024 : 512;
}

unsigned syn_idx(const struct syn *s, int lv, uint64_t va)
{
	if (s->esize == 4)
		return (unsigned)(va >> (lv == 2 ? 22 : 12)) & 1023;
	if (s->levels == 3 && lv == 3)
		return (unsigned)(va >> 30) & 3;
	return (unsigned)(va >> (12 + 9 * (lv - 1))) & 511;
}

static int top_level(const struct syn *s)
{
	return s->levels;
}

uint64_t syn_read_entry(struct syn *s, uint64_t gpa)
{
	uint64_t v = 0;
	svt_gmem_read(&s->mach.mem, gpa, &v, s->esize);
	return v;
}

uint64_t syn_kva(const struct syn *s, uint64_t gpa)
{
	return (s->cr0 & SVT_CR0_PG) ? s->dmap + gpa : gpa;
}

static bool kwrite(struct syn *s, uint64_t gpa, unsigned size, uint64_t val, uint64_t site)
{
	uint32_t ec;
	uint64_t cr2;
	int r = syn_access(s, syn_kva(s, gpa), SVT_ACC_WRITE, 0, size, val,
			   syn_ktext(s, site), &ec, &cr2);
	if (r == 1)
		return syn_fail(s, "the kernel's write to %#llx took #PF %#x at %#llx",
				(unsigned long long)syn_kva(s, gpa), ec, (unsigned long long)cr2);
	return r == 0;
}

/* Write one paging-structure entry as a kernel does: one store, or for
 * 8-byte entries in 32-bit code two, ordered so that no half-written
 * entry is ever present with a wrong frame (Linux's set_pte for PAE). */
bool syn_write_entry(struct syn *s, uint64_t gpa, uint64_t val)
{
	if (s->esize == 4)
		return kwrite(s, gpa, 4, val, SITE_SET_PTE);
	if (s->efer & SVT_EFER_LMA)
		return kwrite(s, gpa, 8, val, SITE_SET_PTE);
	uint64_t old = syn_read_entry(s, gpa);
	if ((old >> 32) == (val >> 32))
		return kwrite(s, gpa, 4, val & 0xffffffffu, SITE_SET_PTE);
	if ((old & E_P) && !kwrite(s, gpa, 4, 0, SITE_SET_PTE))
		return false;
	return kwrite(s, gpa + 4, 4, val >> 32, SITE_SET_PTE + 4) &&
	       kwrite(s, gpa, 4, val & 0xffffffffu, SITE_SET_PTE);
}

/* ---- frames ---------------------------------------------------------------- */

uint64_t syn_alloc(struct syn *s, enum syn_fstate st)
{
	if (s->nfree == 0)
		return syn_fail(s, "the guest ran out of memory"), 0;
	uint64_t gfn = s->freel[--s->nfree];
	uint64_t gpa = gfn << 12;
	s->fstate[gfn] = (uint8_t)st;
	s->fref[gfn] = 0;
	/* clear_page */
	if (!syn_clear(s, gpa, syn_kva(s, gpa), syn_ktext(s, SITE_CLEAR_PAGE), st == SYN_F_PT))
		return 0;
	return gpa;
}

void syn_free(struct syn *s, uint64_t gpa)
{
	uint64_t gfn = gpa >> 12;
	s->fstate[gfn] = SYN_F_FREE;
	s->freel[s->nfree++] = gfn;
}

uint64_t syn_leaf(struct syn *s, uint64_t gfn, bool w, bool u, bool x)
{
	uint64_t e = (gfn << 12) | E_P | (w ? E_RW : 0) | (u ? E_US : 0);
	if (!x && s->esize == 8)
		e |= E_NX;
	return e;
}

uint64_t syn_table_entry(const struct syn *s, uint64_t t, int lv, bool user)
{
	if (s->levels == 3 && lv == 3)
		return t | E_P;         /* PAE PDPTE: no rights bits */
	return t | E_P | E_RW | E_A | (user ? E_US : 0);
}

void syn_reload_cr3(struct syn *s)
{
	syn_cr(s, SVT_TRACE_CR3, s->cr3 & ~(1ull << 63));
}

static uint64_t cur_root(const struct syn *s)
{
	return s->cur < 0 ? s->kroot : s->proc[s->cur].root;
}

uint64_t syn_entry(struct syn *s, uint64_t root, uint64_t va, int level, bool create)
{
	uint64_t table = root;

	for (int lv = top_level(s); lv > level; lv--) {
		uint64_t eg = table + (uint64_t)syn_idx(s, lv, va) * s->esize;
		uint64_t e = syn_read_entry(s, eg);
		if (!(e & E_P)) {
			if (!create)
				return 0;
			uint64_t t = syn_alloc(s, SYN_F_PT);
			if (!t || !syn_write_entry(s, eg, syn_table_entry(s, t, lv, true)))
				return 0;
			if (s->levels == 3 && lv == 3 && root == cur_root(s))
				syn_reload_cr3(s);  /* the CPU reads PDPTEs at CR3 loads only */
			e = syn_read_entry(s, eg);
		}
		if (lv <= 3 && (e & E_PS) && !(s->levels == 3 && lv == 3))
			return 0;       /* a large page: user space has none */
		table = e & syn_frame_mask(s);
	}
	return table + (uint64_t)syn_idx(s, level, va) * s->esize;
}

uint64_t syn_pte(struct syn *s, uint64_t root, uint64_t va, bool create)
{
	return syn_entry(s, root, va, 1, create);
}

/* ---- boot -------------------------------------------------------------------- */

static bool map_dmap(struct syn *s)
{
	uint64_t frames = s->cfg->guest_frames;
	uint64_t big = s->esize == 4 ? 1024 : 512;      /* frames per large page */
	uint64_t n = (frames + big - 1) / big;
	uint64_t pd;

	if (s->levels == 2) {
		pd = s->kroot;
	} else {
		/* the kernel's table chain down to the PD holding the direct map */
		uint64_t table = s->kroot;
		for (int lv = top_level(s); lv >= 3; lv--) {
			uint64_t eg = table + (uint64_t)syn_idx(s, lv, s->dmap) * s->esize;
			uint64_t t = syn_alloc(s, SYN_F_PT);
			if (!t || !syn_write_entry(s, eg, syn_table_entry(s, t, lv, false)))
				return false;
			table = t;
		}
		pd = table;
	}
	for (uint64_t i = 0; i < n; i++) {
		uint64_t va = s->dmap + i * big * 4096;
		uint64_t e = (i * big * 4096) | E_P | E_RW | E_A | E_D | E_PS | E_G;
		if (s->esize == 8)
			e |= E_NX;
		if (!syn_write_entry(s, pd + (uint64_t)syn_idx(s, 2, va) * s->esize, e))
			return false;
	}
	return true;
}

bool syn_boot(struct syn *s)
{
	uint64_t frames = s->cfg->guest_frames;

	/* frames 0..255: the kernel image; the rest is free, lowest first */
	for (uint64_t g = frames; g-- > 256;)
		s->freel[s->nfree++] = g;
	for (uint64_t g = 0; g < 256; g++)
		s->fstate[g] = SYN_F_KERNEL;
	s->cur = -1;

	if (syn_cr(s, SVT_TRACE_CR0, SVT_CR0_PE | CR0_ET) != 0)
		return false;
	svt_recorder_mark(&s->rec.r, SVT_TRACE_MARK_PHASE,
			  "boot: building the direct map with large pages",
			  sizeof("boot: building the direct map with large pages") - 1);
	s->kroot = syn_alloc(s, SYN_F_PT);
	if (!s->kroot || !map_dmap(s))
		return false;
	uint64_t cr4 = SVT_CR4_PGE | (s->levels == 2 ? SVT_CR4_PSE : SVT_CR4_PAE);
	if (s->levels == 5)
		cr4 |= SVT_CR4_LA57;
	if (syn_cr(s, SVT_TRACE_CR4, cr4) != 0)
		return false;
	if (s->esize == 8 &&
	    syn_cr(s, SVT_TRACE_EFER, SVT_EFER_NXE | (s->ia32e ? SVT_EFER_LME : 0)) != 0)
		return false;
	if (syn_cr(s, SVT_TRACE_CR3, s->kroot) != 0 ||
	    syn_cr(s, SVT_TRACE_CR0, SVT_CR0_PG | SVT_CR0_WP | SVT_CR0_PE | CR0_ET) != 0)
		return false;
	if (s->pcid && syn_cr(s, SVT_TRACE_CR4, s->cr4 | SVT_CR4_PCIDE) != 0)
		return false;
	svt_recorder_mark(&s->rec.r, SVT_TRACE_MARK_PHASE, "boot: paging on",
			  sizeof("boot: paging on") - 1);
	return true;
}

/* ---- processes ----------------------------------------------------------------- */

static bool kernel_idx(const struct syn *s, unsigned i)
{
	switch (s->levels) {
	case 2: return i >= 768;
	case 3: return i == 3;
	default: return i >= 256;
	}
}

int syn_new_proc(struct syn *s)
{
	int p;
	for (p = 0; p < SYN_MAX_PROCS && s->proc[p].used; p++)
		;
	if (p == SYN_MAX_PROCS)
		return -1;
	uint64_t root = syn_alloc(s, SYN_F_PT);
	if (!root)
		return -1;
	int top = top_level(s);
	for (unsigned i = 0; i < syn_nent(s, top); i++) {
		if (!kernel_idx(s, i))
			continue;
		uint64_t e = syn_read_entry(s, s->kroot + (uint64_t)i * s->esize);
		if (e && !syn_write_entry(s, root + (uint64_t)i * s->esize, e))
			return -1;
	}
	struct syn_proc *pr = &s->proc[p];
	memset(pr, 0, sizeof(*pr));
	pr->used = true;
	pr->root = root;
	pr->stale = true;
	pr->brk = s->ubase + syn_below(s, 64) * 0x200000ull;
	if (s->pcid) {
		pr->pcid = s->next_pcid;
		s->next_pcid = s->next_pcid % 4095 + 1;
	}
	return p;
}

void syn_switch(struct syn *s, int p)
{
	if (p == s->cur)
		return;
	uint64_t root = p < 0 ? s->kroot : s->proc[p].root;
	uint64_t cr3 = root;
	if (s->pcid && p >= 0) {
		cr3 |= s->proc[p].pcid;
		if (!s->proc[p].stale)
			cr3 |= 1ull << 63;      /* its PCID's translations are still good */
		s->proc[p].stale = false;
	}
	s->cur = p;
	s->switches++;
	syn_cr(s, SVT_TRACE_CR3, cr3);
}

/* After entries of process p changed: flush now if it runs, else later. */
static void owe_flush(struct syn *s, int p, uint64_t va, unsigned n)
{
	if (p != s->cur) {
		s->proc[p].stale = true;
		return;
	}
	if (n <= 8) {
		syn_invlpg(s, va);
		return;
	}
	syn_reload_cr3(s);
}

static bool table_empty(struct syn *s, uint64_t t, int lv)
{
	for (unsigned i = 0; i < syn_nent(s, lv); i++)
		if (syn_read_entry(s, t + (uint64_t)i * s->esize) & E_P)
			return false;
	return true;
}

/* Free the empty user tables below `table` at level lv on va's path (all of
 * them when whole). Returns true if `table` itself became empty. */
static bool free_tables(struct syn *s, uint64_t table, int lv, bool *changed)
{
	for (unsigned i = 0; i < syn_nent(s, lv); i++) {
		if (lv == top_level(s) && kernel_idx(s, i))
			continue;
		uint64_t eg = table + (uint64_t)i * s->esize;
		uint64_t e = syn_read_entry(s, eg);
		if (!(e & E_P) || lv == 1)
			continue;
		uint64_t child = e & syn_frame_mask(s);
		bool empty = lv - 1 == 1 ? table_empty(s, child, 1) :
			free_tables(s, child, lv - 1, changed);
		if (!empty)
			continue;
		if (!syn_write_entry(s, eg, 0))
			return false;
		syn_free(s, child);
		*changed = true;
	}
	return lv != top_level(s) && table_empty(s, table, lv);
}

void syn_unmap_range(struct syn *s, int p, uint64_t va, uint64_t pages, bool free_tbl)
{
	struct syn_proc *pr = &s->proc[p];
	unsigned cleared = 0;
	uint64_t first = 0;

	for (uint64_t i = 0; i < pages && !s->failed; i++) {
		uint64_t a = va + i * 4096;
		uint64_t pte = syn_pte(s, pr->root, a, false);
		if (!pte)
			continue;
		uint64_t e = syn_read_entry(s, pte);
		if (!(e & E_P))
			continue;
		if (!syn_write_entry(s, pte, 0))
			return;
		uint64_t gfn = (e & syn_frame_mask(s)) >> 12;
		if (s->fref[gfn] > 0 && --s->fref[gfn] == 0)
			syn_free(s, gfn << 12);
		if (cleared++ == 0)
			first = a;
		if (cleared <= 8 && p == s->cur)
			syn_invlpg(s, a);
	}
	bool changed = false;
	if (free_tbl && !s->failed)
		free_tables(s, pr->root, top_level(s), &changed);
	if (changed && s->levels == 3 && p == s->cur)
		syn_reload_cr3(s);
	else if (changed || cleared > 8)
		owe_flush(s, p, first, 9);
	else if (cleared > 0 && p != s->cur)
		pr->stale = true;
}

void syn_drop_vma(struct syn *s, int p, unsigned i)
{
	struct syn_proc *pr = &s->proc[p];
	syn_unmap_range(s, p, pr->vma[i].va, pr->vma[i].pages, true);
	pr->vma[i] = pr->vma[--pr->nvma];
}

void syn_exit_proc(struct syn *s, int p)
{
	struct syn_proc *pr = &s->proc[p];

	while (pr->nvma > 0 && !s->failed)
		syn_drop_vma(s, p, pr->nvma - 1);
	s->exits++;
	if (s->cur == p) {
		int q;
		for (q = 0; q < SYN_MAX_PROCS && (q == p || !s->proc[q].used); q++)
			;
		syn_switch(s, q < SYN_MAX_PROCS ? q : -1);
	}
	if (s->failed)
		return;
	bool changed = false;
	free_tables(s, pr->root, top_level(s), &changed);
	syn_free(s, pr->root);
	pr->used = false;
}

bool syn_add_vma(struct syn *s, int p, uint64_t pages, bool w, bool x, uint64_t *va)
{
	struct syn_proc *pr = &s->proc[p];
	if (pr->nvma == SYN_MAX_VMAS)
		return false;
	uint64_t a = pr->brk + syn_below(s, 4) * 4096;
	if (a + pages * 4096 > s->utop)
		a = pr->brk = s->ubase;
	for (unsigned i = 0; i < pr->nvma; i++)
		if (a < pr->vma[i].va + pr->vma[i].pages * 4096 && pr->vma[i].va < a + pages * 4096)
			return false;   /* wrapped into a mapping: refuse */
	pr->vma[pr->nvma++] = (struct syn_vma){ .va = a, .pages = pages, .w = w, .x = x };
	pr->brk = a + pages * 4096;
	*va = a;
	return true;
}

int syn_fork(struct syn *s, int parent)
{
	int c = syn_new_proc(s);
	if (c < 0)
		return -1;
	struct syn_proc *pp = &s->proc[parent], *cp = &s->proc[c];
	bool wp = false;

	memcpy(cp->vma, pp->vma, sizeof(cp->vma));
	cp->nvma = pp->nvma;
	cp->brk = pp->brk;
	for (unsigned v = 0; v < pp->nvma && !s->failed; v++) {
		const struct syn_vma *m = &pp->vma[v];
		for (uint64_t i = 0; i < m->pages && !s->failed; i++) {
			uint64_t a = m->va + i * 4096;
			uint64_t pte = syn_pte(s, pp->root, a, false);
			uint64_t e = pte ? syn_read_entry(s, pte) : 0;
			if (!(e & E_P))
				continue;
			if (e & E_RW) {
				e &= ~E_RW;     /* copy-on-write, in both */
				if (!syn_write_entry(s, pte, e))
					return -1;
				wp = true;
			}
			uint64_t cpte = syn_pte(s, cp->root, a, true);
			if (!cpte || !syn_write_entry(s, cpte, e))
				return -1;
			s->fref[(e & syn_frame_mask(s)) >> 12]++;
		}
	}
	if (wp)
		owe_flush(s, parent, 0, 9);
	s->forks++;
	return c;
}

/* ---- the #PF handler and user accesses ----------------------------------------- */

static const struct syn_vma *find_vma(const struct syn *s, uint64_t va)
{
	const struct syn_proc *pr = &s->proc[s->cur];
	for (unsigned i = 0; i < pr->nvma; i++)
		if (va >= pr->vma[i].va && va < pr->vma[i].va + pr->vma[i].pages * 4096)
			return &pr->vma[i];
	return NULL;
}

/* The error code bare metal gives a #PF of a k access at cpl, the leaf
 * present or not: P, W/R, U/S and I/D (no reserved bits in synth's
 * tables, no protection keys). */
uint32_t syn_expect_ec(const struct syn *s, enum svt_access_kind k, unsigned cpl, bool present)
{
	uint32_t ec = present ? SVT_PFEC_P : 0;
	if (k == SVT_ACC_WRITE)
		ec |= SVT_PFEC_W;
	if (cpl == 3)
		ec |= SVT_PFEC_U;
	/* I/D: a fetch, with SMEP or with NXE in PAE-format paging (SDM 4.7) */
	if (k == SVT_ACC_FETCH &&
	    ((s->cr4 & SVT_CR4_SMEP) || (s->esize == 8 && (s->efer & SVT_EFER_NXE))))
		ec |= SVT_PFEC_I;
	return ec;
}

static bool handle_pf(struct syn *s, uint64_t cr2, uint32_t ec, uint64_t fva,
		      enum svt_access_kind k, unsigned cpl)
{
	const struct syn_vma *m = find_vma(s, cr2);
	uint64_t va = cr2 & ~0xfffull;

	s->injected++;
	if (!m)
		return syn_fail(s, "#PF %#x at %#llx outside every mapping", ec,
				(unsigned long long)cr2);
	if (cr2 != fva)
		return syn_fail(s, "#PF of the access to %#llx has CR2 %#llx",
				(unsigned long long)fva, (unsigned long long)cr2);
	uint64_t pte = syn_pte(s, s->proc[s->cur].root, va, true);
	if (!pte)
		return false;
	uint64_t e = syn_read_entry(s, pte);
	uint32_t want = syn_expect_ec(s, k, cpl, (e & E_P) != 0);
	if (ec != want)
		return syn_fail(s, "#PF at %#llx (entry %#llx, %s at CPL %u) has error code %#x, "
				"bare metal gives %#x", (unsigned long long)cr2,
				(unsigned long long)e,
				k == SVT_ACC_WRITE ? "write" : k == SVT_ACC_FETCH ?
				"fetch" : "read", cpl, ec, want);
	if (!(e & E_P)) {
		uint64_t g = syn_alloc(s, SYN_F_DATA);
		if (!g)
			return false;
		s->fref[g >> 12] = 1;
		s->demand++;
		return syn_write_entry(s, pte, syn_leaf(s, g >> 12, m->w, true, m->x));
	}
	if ((ec & SVT_PFEC_W) && m->w && !(e & E_RW)) {
		uint64_t gfn = (e & syn_frame_mask(s)) >> 12;
		uint64_t ne;
		if (s->fref[gfn] > 1) {
			uint64_t g = syn_alloc(s, SYN_F_DATA);
			if (!g)
				return false;
			s->fref[gfn]--;
			s->fref[g >> 12] = 1;
			ne = syn_leaf(s, g >> 12, true, true, m->x);
		} else {
			ne = e | E_RW;
		}
		s->cow++;
		if (!syn_write_entry(s, pte, ne))
			return false;
		syn_invlpg(s, va);
		return true;
	}
	return syn_fail(s, "#PF %#x at %#llx the guest cannot explain (entry %#llx)", ec,
			(unsigned long long)cr2, (unsigned long long)e);
}

bool syn_user_at(struct syn *s, uint64_t va, enum svt_access_kind k, unsigned cpl)
{
	for (unsigned tries = 0; tries < 4; tries++) {
		uint32_t ec;
		uint64_t cr2;
		unsigned size = (s->efer & SVT_EFER_LMA) ? 8 : 4;
		int r = syn_access(s, va, k, cpl, size, s->accesses & 0xffff,
				   cpl == 3 ? SITE_USER : syn_ktext(s, SITE_UACCESS), &ec, &cr2);
		if (r <= 0)
			return r == 0;
		if (!handle_pf(s, cr2, ec, va, k, cpl))
			return false;
	}
	return syn_fail(s, "user access to %#llx keeps faulting", (unsigned long long)va);
}

bool syn_user(struct syn *s, uint64_t va, enum svt_access_kind k)
{
	return syn_user_at(s, va, k, 3);
}

void syn_touch_vma(struct syn *s, int p, unsigned i, unsigned n)
{
	const struct syn_vma *m = &s->proc[p].vma[i];
	syn_switch(s, p);
	for (unsigned j = 0; j < n && !s->failed; j++) {
		uint64_t va = m->va + syn_below(s, m->pages) * 4096 + syn_below(s, 512) * 8;
		enum svt_access_kind k = SVT_ACC_READ;
		if (m->x && syn_below(s, 2))
			k = SVT_ACC_FETCH;
		else if (m->w && syn_below(s, 2))
			k = SVT_ACC_WRITE;
		syn_user(s, va, k);
	}
}
