/*
 * synth-kernel.c — the workloads that take the core down its less common
 * paths (synth.h).
 *
 * "atomic": a kernel updating entries as Linux does with atomic
 * instructions: LOCK CMPXCHG (CMPXCHG8B in 32-bit PAE code, CMPXCHG16B on
 * a pair of entries) in a try-again loop whose first try expects a stale
 * value, so that the compare fails (ptep_set_access_flags,
 * ptep_test_and_clear_young, PAE set_pte_atomic); XCHG clears
 * (ptep_get_and_clear); present leaves repointed to another frame (page
 * migration); an address touched right after its INVLPG; one page table
 * linked under a second parent (another process's directory, or a second
 * slot of its own) after writes nobody flushed; and with PCIDs (4level,
 * 5level) INVPCID of one address, and leaving a process whose pages are
 * out of sync and dirty with a no-flush CR3 load and coming back with a
 * flushing one.
 *
 * "protect": a kernel using the CPU's protections: a CR0.WP=0 window
 * (writes to a read-only page and to page tables), SMEP and SMAP with
 * STAC/CLAC (RFLAGS.AC) accesses to user memory, EFER.NXE toggled in
 * 2level paging, in PAE a PDPT edit made visible by a CR4.PGE toggle
 * rather than a CR3 load, page-crossing copies into a page table
 * (through a 4 KiB kernel mapping) whose next page is absent or
 * read-only, control-register writes the SDM refuses with #GP, in PAE and
 * 4level a fetch with EFER.NXE clear from an unmapped page (no I/D bit
 * without SMEP), a clean large page (A and D clear) read, then written: A
 * on the read alone, D only with the write, a write under a read-only
 * level-2 entry, a read through a leaf with a reserved bit set, and in
 * 4level and 5level a 1 GiB page written and read; mprotect adding and
 * removing PROT_EXEC over a range (8-byte entries: XD alone changes, in
 * the high half, by plain stores to a page table the core may have out of
 * sync) flushed by one CR3 load, then fetches that must fault; leaves made
 * read-only or not present and flushed by a CR4.PGE toggle alone, then
 * user writes that must fault; and in PAE, 4level and 5level, with
 * EFER.NXE clear and SMAP without SMEP, a kernel fetch from a user page
 * no shadow maps yet (it goes through), and after a flushing CR3 load a
 * user read through a leaf with XD (reserved without NXE: #PF with RSVD).
 * Where the core emulates a write (CR0.WP=0, a copy into a page table
 * through a mapping with A and D clear), the A and D bits of the access's
 * walk are checked as bare metal sets them.  "atomic" also ages a level-2
 * entry (A cleared, flushed, set again by the next walk).
 *
 * Everything the guest does is what a real kernel may do under the SDM: it
 * flushes after every change that needs it.  The faults the kernel causes
 * on purpose (a SMAP or SMEP probe, a write to a read-only page with
 * CR0.WP=1, the second page of a copy) are checked against bare metal:
 * error code and CR2, and no A bit set by the SMEP probe; as are the
 * results of the atomic instructions (what a failed compare or an XCHG
 * returns is what memory held) and the #GP of each refused write.
 */
#include "synth.h"

#define E_P     SVT_PTE_P
#define E_RW    SVT_PTE_RW
#define E_US    SVT_PTE_US
#define E_A     SVT_PTE_A
#define E_D     SVT_PTE_D
#define RFLAGS_AC (1ull << 18)

/* code sites of the kernel's routines, for the trace */
#define SITE_ATOMIC     0x1400
#define SITE_COPY       0x1500
#define SITE_WP0        0x1600
#define SITE_PROBE      0x1700
#define SITE_UTEXT      0x401000        /* a user process's code */

#define VMAP_PAGES      4       /* 0: a page table, 1: the page after it, 2: a read-only page */

/* ---- atomic entry updates ------------------------------------------------------ */

static int kinsn(struct syn *s, struct syn_insn *in, uint64_t gpa, uint64_t site)
{
	uint32_t ec;
	uint64_t cr2;
	in->va = syn_kva(s, gpa);
	in->cpl = 0;
	in->rip = syn_ktext(s, site);
	int r = syn_insn(s, in, &ec, &cr2);
	if (r == 1)
		return syn_fail(s, "the kernel's atomic write to %#llx took #PF %#x at %#llx",
				(unsigned long long)in->va, ec, (unsigned long long)cr2), -1;
	return r;
}

/* One LOCK CMPXCHG of the entry at gpa (CMPXCHG8B for 8-byte entries in
 * 32-bit code): 1 exchanged, 0 compare failure (*actual: what memory
 * held), -1 failure. */
static int pte_cmpxchg(struct syn *s, uint64_t gpa, uint64_t expect, uint64_t val, uint64_t *actual)
{
	struct syn_insn in = { .size = s->esize, .val = { val, 0 }, .cmp = { expect, 0 } };
	in.op = s->esize == 8 && !(s->efer & SVT_EFER_LMA) ? SYN_CMPXCHG8B : SYN_CMPXCHG;
	uint64_t before = syn_read_entry(s, gpa);
	if (kinsn(s, &in, gpa, SITE_ATOMIC) != 0)
		return -1;
	if (in.ok) {
		if (before != expect)
			return syn_fail(s,
					"CMPXCHG of %#llx succeeded expecting %#llx; it held %#llx",
					(unsigned long long)syn_kva(s, gpa),
					(unsigned long long)expect, (unsigned long long)before), -1;
		*actual = expect;
		return 1;
	}
	if (in.old[0] != before)
		return syn_fail(s, "CMPXCHG of %#llx failed and returned %#llx; memory held %#llx",
				(unsigned long long)syn_kva(s, gpa), (unsigned long long)in.old[0],
				(unsigned long long)before), -1;
	*actual = in.old[0];
	return 0;
}

/* Linux's try_cmpxchg loop: entry = (entry & ~clear) | set.  With stale,
 * the first try expects a value the entry does not hold (as when the
 * hardware set A or D since the kernel read it), so its compare fails. */
static bool pte_update(struct syn *s, uint64_t gpa, uint64_t clear, uint64_t set, bool stale)
{
	uint64_t guess = syn_read_entry(s, gpa);
	if (stale)
		guess = (guess & (E_A | E_D)) ? guess & ~(E_A | E_D) : guess | E_A;
	for (unsigned n = 0; n < 4; n++) {
		uint64_t actual;
		int r = pte_cmpxchg(s, gpa, guess, (guess & ~clear) | set, &actual);
		if (r != 0)
			return r == 1;
		guess = actual;
	}
	return syn_fail(s, "the CMPXCHG loop on %#llx does not end",
			(unsigned long long)syn_kva(s, gpa));
}

/* ptep_get_and_clear: XCHG with 0 (in 32-bit PAE code the low half, then
 * the high half read and cleared with a MOV).  *old: the entry. */
static bool pte_get_and_clear(struct syn *s, uint64_t gpa, uint64_t *old)
{
	uint64_t before = syn_read_entry(s, gpa);
	bool pae32 = s->esize == 8 && !(s->efer & SVT_EFER_LMA);
	struct syn_insn in = { .op = SYN_XCHG, .size = pae32 ? 4 : s->esize };
	if (kinsn(s, &in, gpa, SITE_ATOMIC) != 0)
		return false;
	*old = in.old[0];
	if (pae32) {
		uint32_t hi;
		svt_gmem_read(&s->mach.mem, gpa + 4, &hi, 4);
		*old |= (uint64_t)hi << 32;
		if (hi && !syn_write_entry(s, gpa, 0))
			return false;
		if (syn_read_entry(s, gpa) != 0)
			return syn_fail(s, "the entry at %#llx is not clear after XCHG",
					(unsigned long long)syn_kva(s, gpa));
	}
	if (*old != before)
		return syn_fail(s, "XCHG of %#llx returned %#llx; the entry held %#llx",
				(unsigned long long)syn_kva(s, gpa), (unsigned long long)*old,
				(unsigned long long)before);
	return true;
}

/* Two adjacent entries (gpa 16-byte aligned) changed at once with
 * CMPXCHG16B, the first try stale. */
static bool pair_update(struct syn *s, uint64_t gpa, uint64_t clear)
{
	uint64_t guess[2] = { syn_read_entry(s, gpa), syn_read_entry(s, gpa + 8) };
	guess[0] ^= E_A;
	for (unsigned n = 0; n < 4; n++) {
		struct syn_insn in = {
			.op = SYN_CMPXCHG16B, .size = 16, .cmp = { guess[0], guess[1] },
			.val = { guess[0] & ~clear, guess[1] & ~clear },
		};
		uint64_t cur[2] = { syn_read_entry(s, gpa), syn_read_entry(s, gpa + 8) };
		if (kinsn(s, &in, gpa, SITE_ATOMIC) != 0)
			return false;
		if (in.ok)
			return true;
		if (in.old[0] != cur[0] || in.old[1] != cur[1])
			return syn_fail(s,
					"CMPXCHG16B of %#llx failed and returned "
					"%#llx:%#llx; memory held %#llx:%#llx",
					(unsigned long long)syn_kva(s, gpa),
					(unsigned long long)in.old[1],
					(unsigned long long)in.old[0], (unsigned long long)cur[1],
					(unsigned long long)cur[0]);
		guess[0] = in.old[0];
		guess[1] = in.old[1];
	}
	return syn_fail(s, "the CMPXCHG16B loop on %#llx does not end",
			(unsigned long long)syn_kva(s, gpa));
}

/* A present entry changed in place: set_pte_atomic (CMPXCHG8B) in PAE,
 * one MOV elsewhere. */
static bool pte_set_present(struct syn *s, uint64_t gpa, uint64_t val)
{
	if (s->esize == 8 && !(s->efer & SVT_EFER_LMA))
		return pte_update(s, gpa, ~0ull, val, false);
	return syn_write_entry(s, gpa, val);
}

/* ---- helpers ---------------------------------------------------------------- */

static void flush_one(struct syn *s, int p, uint64_t va)
{
	if (p != s->cur) {
		s->proc[p].stale = true;
		return;
	}
	if (s->pcid && syn_below(s, 2))
		syn_invpcid(s, 0, s->proc[p].pcid, va);        /* one address, this PCID */
	else
		syn_invlpg(s, va);
}

/* A process to work in, running, with a writable mapping touched; the
 * index of that mapping, or -1. */
static int setup(struct syn *s, int *pp)
{
	int p = syn_nprocs(s) < 3 ? syn_spawn(s) : syn_random_proc(s);
	if (p < 0 || s->failed)
		return -1;
	struct syn_proc *pr = &s->proc[p];
	while (pr->nvma > 8 && !s->failed)
		syn_drop_vma(s, p, 3 + (unsigned)syn_below(s, pr->nvma - 3));
	uint64_t va;
	if (s->failed || !syn_add_vma(s, p, 8 + syn_below(s, 24), true, false, &va))
		return -1;
	unsigned i = pr->nvma - 1;
	syn_switch(s, p);
	for (uint64_t k = 0; k < pr->vma[i].pages && !s->failed; k++)
		if (syn_below(s, 3) != 0)
			syn_user(s, va + k * 4096, syn_below(s, 2) ? SVT_ACC_WRITE : SVT_ACC_READ);
	*pp = p;
	return s->failed ? -1 : (int)i;
}

/* The present leaves of mapping i of p: up to max (va, entry's gpa). */
static unsigned present(struct syn *s, int p, unsigned i, uint64_t *va, uint64_t *pte, unsigned max)
{
	const struct syn_vma *m = &s->proc[p].vma[i];
	unsigned n = 0;
	for (uint64_t k = 0; k < m->pages && n < max; k++) {
		uint64_t a = m->va + k * 4096, g = syn_pte(s, s->proc[p].root, a, false);
		if (g && (syn_read_entry(s, g) & E_P)) {
			va[n] = a;
			pte[n++] = g;
		}
	}
	return n;
}

/* ---- atomic ------------------------------------------------------------------- */

/* Page aging and write protection with CMPXCHG loops, then the accesses
 * that set A again and take the copy-on-write fault. */
static void age(struct syn *s, int p, uint64_t *va, uint64_t *pte, unsigned n)
{
	for (unsigned k = 0; k < n && !s->failed; k++) {
		bool wp = syn_below(s, 3) == 0 && (syn_read_entry(s, pte[k]) & E_RW);
		if (!pte_update(s, pte[k], wp ? E_RW : E_A, 0, k == 0 || syn_below(s, 3) == 0))
			return;
		flush_one(s, p, va[k]);
		syn_user(s, va[k], wp ? SVT_ACC_WRITE : SVT_ACC_READ);
	}
	/* the A bit of the level-2 entry above va[0] cleared too (an OS aging
	 * its page tables) and flushed: the next walk sets it again (SDM 4.8) */
	uint64_t l2 = n && !s->failed ? syn_entry(s, s->proc[p].root, va[0], 2, false) : 0;
	if (l2 && p == s->cur && syn_below(s, 2) &&
	    (syn_read_entry(s, l2) & (E_P | E_A | SVT_PTE_PS)) == (E_P | E_A) &&
	    pte_update(s, l2, E_A, 0, false)) {
		flush_one(s, p, va[0]);
		syn_user(s, va[0], SVT_ACC_READ);
		if (!s->failed && !(syn_read_entry(s, l2) & E_A))
			syn_fail(s,
				 "a read of %#llx after the A bit of its level-2 entry %#llx was "
				 "cleared and flushed left it clear", (unsigned long long)va[0],
				 (unsigned long long)syn_read_entry(s, l2));
	}
	/* mprotect(PROT_EXEC) and back on one page: only the high half of an
	 * 8-byte entry changes (XD); the page is fetched while executable */
	uint64_t e = n ? syn_read_entry(s, pte[0]) : 0;
	if (s->failed || s->esize != 8 || !(e & E_P) || !(e & SVT_PTE_XD))
		return;
	if (!pte_update(s, pte[0], SVT_PTE_XD, 0, false))
		return;
	flush_one(s, p, va[0]);
	syn_user(s, va[0], SVT_ACC_FETCH);
	if (!s->failed && pte_update(s, pte[0], 0, SVT_PTE_XD, false))
		flush_one(s, p, va[0]);
}

/* ptep_get_and_clear, the flush, and the address touched at once: a
 * demand fault maps a new frame. */
static void clear_touch(struct syn *s, int p, uint64_t va, uint64_t pte)
{
	uint64_t old;
	if (!pte_get_and_clear(s, pte, &old))
		return;
	uint64_t gfn = (old & syn_frame_mask(s)) >> 12;
	if (s->fref[gfn] > 0 && --s->fref[gfn] == 0)
		syn_free(s, gfn << 12);
	flush_one(s, p, va);
	syn_user(s, va, SVT_ACC_WRITE);
}

/* Page migration: the data moves to a new frame, the present leaf is
 * repointed, flushed, used. */
static void repoint(struct syn *s, int p, uint64_t va, uint64_t pte)
{
	uint64_t e = syn_read_entry(s, pte);
	uint64_t gfn = (e & syn_frame_mask(s)) >> 12;
	if (!(e & E_P) || s->fref[gfn] != 1)
		return;
	uint64_t g = syn_alloc(s, SYN_F_DATA);
	if (!g)
		return;
	s->fref[g >> 12] = 1;
	if (!pte_set_present(s, pte, (e & ~syn_frame_mask(s)) | g))
		return;
	flush_one(s, p, va);
	s->fref[gfn] = 0;
	syn_free(s, gfn << 12);
	syn_user(s, va, syn_below(s, 2) ? SVT_ACC_WRITE : SVT_ACC_READ);
}

/* One page table of p under a second parent: entries written and not
 * flushed, then the table linked by another directory entry (another
 * process's, or p's own) and read through it; the link removed and
 * flushed. */
static void alias(struct syn *s, int p, unsigned i, uint64_t *va, uint64_t *pte, unsigned n)
{
	struct syn_proc *pr = &s->proc[p];
	const struct syn_vma *m = &pr->vma[i];
	uint64_t t = pte[0] & ~0xfffull;
	uint64_t span = (uint64_t)syn_nent(s, 1) * 4096;        /* what one table maps */
	uint64_t base = va[0] & ~(span - 1);

	/* unflushed writes: a leaf made present (no flush needed), A cleared
	 * in another (a stale TLB entry may keep it) */
	for (uint64_t k = 0; k < m->pages; k++) {
		uint64_t a = m->va + k * 4096;
		if ((a & ~(span - 1)) != base)
			continue;
		uint64_t g = t + (uint64_t)syn_idx(s, 1, a) * s->esize;
		if (syn_read_entry(s, g) & E_P)
			continue;
		uint64_t f = syn_alloc(s, SYN_F_DATA);
		if (!f || !syn_write_entry(s, g, syn_leaf(s, f >> 12, m->w, true, m->x)))
			return;
		s->fref[f >> 12] = 1;
		break;
	}
	if (n > 1 && !pte_update(s, pte[1], E_A, 0, false))
		return;
	pr->stale = true;       /* that A is the TLB's to keep until p's next flush */

	/* the second parent */
	int q = syn_below(s, 3) == 0 ? p : syn_random_proc(s);
	struct syn_proc *qr = &s->proc[q];
	uint64_t where = 0, l2 = 0;
	for (unsigned tries = 0; tries < 8 && !where && !s->failed; tries++) {
		uint64_t a = (s->ubase + syn_below(s, (s->utop - s->ubase) / span) * span);
		bool used = false;
		for (unsigned v = 0; v < qr->nvma; v++)
			used |= a < qr->vma[v].va + qr->vma[v].pages * 4096 &&
				qr->vma[v].va < a + span;
		if (used)
			continue;
		l2 = syn_entry(s, qr->root, a, 2, true);
		if (l2 && !(syn_read_entry(s, l2) & E_P))
			where = a;
	}
	if (!where || s->failed)
		return;
	if (!syn_write_entry(s, l2, syn_table_entry(s, t, 2, true)))
		return;
	syn_switch(s, q);
	for (unsigned k = 0; k < syn_nent(s, 1) && !s->failed; k++) {
		uint64_t e = syn_read_entry(s, t + (uint64_t)k * s->esize);
		if ((e & E_P) && (e & E_US) && syn_below(s, 2))
			syn_user(s, where + (uint64_t)k * 4096, SVT_ACC_READ);
	}
	if (s->failed || !syn_write_entry(s, l2, 0))
		return;
	if (q == s->cur)
		syn_reload_cr3(s);
	else
		qr->stale = true;
}

void syn_w_atomic(struct syn *s)
{
	int p;
	int i = setup(s, &p);
	if (i < 0)
		return;
	uint64_t va[8], pte[8];
	unsigned n = present(s, p, (unsigned)i, va, pte, 8);
	if (n == 0)
		return;
	switch (syn_below(s, 6)) {
	case 0:
		age(s, p, va, pte, n);
		break;
	case 1:
		for (unsigned k = 0; k < n && !s->failed; k += 2)
			clear_touch(s, p, va[k], pte[k]);
		break;
	case 2:
		for (unsigned k = 0; k < n && !s->failed; k += 1 + (unsigned)syn_below(s, 2))
			repoint(s, p, va[k], pte[k]);
		break;
	case 3:
		/* the same address invalidated and touched at once, unchanged */
		for (unsigned k = 0; k < n && !s->failed; k++) {
			flush_one(s, p, va[k]);
			syn_user(s, va[k], SVT_ACC_READ);
		}
		if (s->esize == 8 && (s->efer & SVT_EFER_LMA)) {
			/* two adjacent entries aged at once */
			uint64_t g = pte[0] & ~15ull;
			if (!pair_update(s, g, E_A))
				return;
			uint64_t a = va[0] - (pte[0] - g) / 8 * 4096;
			flush_one(s, p, a);
			flush_one(s, p, a + 4096);
		}
		break;
	case 4:
		alias(s, p, (unsigned)i, va, pte, n);
		break;
	default:
		/* leave p with entries changed and not flushed: with PCIDs a
		 * no-flush load of another process, then p's flushing load */
		for (unsigned k = 0; k < n && !s->failed; k++)
			if (!pte_update(s, pte[k], E_A, 0, syn_below(s, 2)))
				return;
		s->proc[p].stale = true;
		if (s->pcid) {
			/* paging cannot be turned off while CR4.PCIDE = 1;
			 * tried from a compatibility-mode code segment, as an
			 * OS leaving long mode does (from 64-bit code it would
			 * be #GP for that reason alone) */
			s->compat = true;
			syn_cr_probe(s, SVT_TRACE_CR0, s->cr0 & ~SVT_CR0_PG,
				     "CR0.PG cleared with CR4.PCIDE=1");
			s->compat = false;
		}
		int q = syn_random_proc(s);
		if (q != p) {
			syn_switch(s, q);
			if (s->proc[q].nvma > 0)
				syn_touch_vma(s, q, (unsigned)syn_below(s, s->proc[q].nvma), 4);
			syn_switch(s, p);
		} else {
			syn_reload_cr3(s);
			s->proc[p].stale = false;
		}
		for (unsigned k = 0; k < n && !s->failed; k++)
			syn_user(s, va[k], SVT_ACC_READ);
		break;
	}
}

/* ---- protect ------------------------------------------------------------------ */

/* The kernel's 4 KiB mapping area: one page table in the last level-2
 * slot of the kernel half, where the direct map does not reach. */
static bool vmap_init(struct syn *s)
{
	if (s->vmap_pt)
		return s->vmap_pt != 1;
	uint64_t big = s->esize == 4 ? 4ull << 20 : 2ull << 20;
	uint64_t va, l2;
	if (s->levels == 2)
		va = 0xffc00000ull;
	else if (s->levels == 3)
		va = 0xffe00000ull;
	else
		va = s->dmap + 511 * big;
	if (s->dmap + s->cfg->guest_frames * 4096 > (va & ~(big - 1))) {
		s->vmap_pt = 1;
		return false;
	}
	l2 = syn_entry(s, s->kroot, va, 2, false);
	uint64_t pt = syn_alloc(s, SYN_F_PT);
	if (!l2 || !pt)
		return false;
	uint64_t e = syn_table_entry(s, pt, 2, false);
	if (!syn_write_entry(s, l2, e))
		return false;
	if (s->levels == 2)     /* the kernel half lives in every root */
		for (int p = 0; p < SYN_MAX_PROCS && !s->failed; p++)
			if (s->proc[p].used)
				syn_write_entry(s, s->proc[p].root + (l2 - s->kroot), e);
	s->vmap_pt = pt;
	s->vmap_va = va;
	return !s->failed;
}

static bool vmap_set(struct syn *s, unsigned k, uint64_t gpa, bool w)
{
	uint64_t e = gpa | E_P | (w ? E_RW : 0);
	if (s->esize == 8)
		e |= SVT_PTE_XD;
	return syn_write_entry(s, s->vmap_pt + k * s->esize, e);
}

static void vmap_clear(struct syn *s, unsigned k)
{
	if (syn_read_entry(s, s->vmap_pt + k * s->esize) & E_P) {
		syn_write_entry(s, s->vmap_pt + k * s->esize, 0);
		syn_invlpg(s, s->vmap_va + k * 4096);
	}
}

/* Memory with nothing behind it, as a driver's mapping of a device the
 * machine lacks: a kernel mapping (vmap page 3) of a frame beyond guest
 * RAM, read and written at an offset inside the page.  Bare metal reads
 * all ones and drops the writes, with no fault; the core answers MMIO with
 * the access's guest-physical address, which replay judges. */
static void mmio(struct syn *s)
{
	if (!vmap_init(s))
		return;
	uint64_t gpa = (s->cfg->guest_frames + 1 + syn_below(s, 16)) << 12;
	uint64_t va = s->vmap_va + 3 * 4096 + 8 * syn_below(s, 512);
	if (!vmap_set(s, 3, gpa, true))
		return;
	syn_invlpg(s, s->vmap_va + 3 * 4096);
	for (unsigned n = 0; n < 2 && !s->failed; n++) {
		uint32_t ec = 0;
		uint64_t cr2 = 0;
		enum svt_access_kind k = n == 0 ? SVT_ACC_READ : SVT_ACC_WRITE;
		if (syn_access(s, va, k, 0, 8, ~0ull, syn_ktext(s, SITE_PROBE), &ec, &cr2) == 1)
			syn_fail(s, "a %s of %#llx, mapped to %#llx where nothing is, took #PF %#x "
				 "(bare metal: all ones, no fault)", n == 0 ? "read" : "write",
				 (unsigned long long)va, (unsigned long long)gpa, ec);
	}
	vmap_clear(s, 3);
}

/* A deliberate fault: the access at cpl must give #PF with error code
 * want at CR2 va, as on bare metal. */
static void probe_at(struct syn *s, uint64_t va, enum svt_access_kind k, unsigned cpl,
		     uint32_t want, const char *what)
{
	uint32_t ec = 0;
	uint64_t cr2 = 0;
	uint64_t rip = cpl == 3 ? SITE_UTEXT : syn_ktext(s, SITE_PROBE);
	int r = syn_access(s, va, k, cpl, 4, 0x5a5a5a5a, rip, &ec, &cr2);
	if (r == 0)
		syn_fail(s, "%s at %#llx went through; bare metal gives #PF %#x", what,
			 (unsigned long long)va, want);
	else if (r == 1 && (ec != want || cr2 != va))
		syn_fail(s,
			 "%s at %#llx: #PF %#x at %#llx; bare metal gives #PF %#x at %#llx", what,
			 (unsigned long long)va, ec, (unsigned long long)cr2, want,
			 (unsigned long long)va);
}

static void probe(struct syn *s, uint64_t va, enum svt_access_kind k, uint32_t want,
		  const char *what)
{
	probe_at(s, va, k, 0, want, what);
}

/* After an access to va that went through, whoever performed it (the
 * hardware, or the core emulating it): bare metal has set A in every entry
 * of its walk in the running root (PAE PDPTEs have none) and, for a write,
 * D in the leaf (SDM 4.8). */
static void check_ad(struct syn *s, uint64_t va, bool write, const char *what)
{
	uint64_t root = s->cur < 0 ? s->kroot : s->proc[s->cur].root;
	for (int lv = s->levels; lv >= 1 && !s->failed; lv--) {
		if (s->levels == 3 && lv == 3)
			continue;
		uint64_t g = syn_entry(s, root, va, lv, false);
		uint64_t e = g ? syn_read_entry(s, g) : 0;
		uint64_t want = E_P | E_A | (lv == 1 && write ? E_D : 0);
		if ((e & want) != want)
			syn_fail(s, "%s %#llx went through, but its level-%d entry at %#llx is "
				 "%#llx (bare metal: A%s set)", what, (unsigned long long)va, lv,
				 (unsigned long long)g, (unsigned long long)e,
				 lv == 1 && write ? " and D" : "");
	}
}

/* copy_to_user-like page-crossing copy into a page table, mapped at
 * vmap page 0, whose next page is absent or read-only: #PF at the
 * second page; the kernel maps it writable and copies again. */
static void crossing(struct syn *s, uint64_t t)
{
	bool ro = syn_below(s, 2);
	unsigned half = (s->efer & SVT_EFER_LMA) ? 4 : 2;
	uint64_t scratch = syn_alloc(s, SYN_F_DATA);
	if (!scratch || !vmap_set(s, 0, t, true) || (ro && !vmap_set(s, 1, scratch, false)))
		return;
	uint64_t tail = 0;
	svt_gmem_read(&s->mach.mem, t + 4096 - half, &tail, half);
	uint64_t more = (s->rounds & 0xffff) | 0x1000;
	struct syn_insn in = {
		.op = SYN_MOV, .va = s->vmap_va + 4096 - half, .size = 2 * half, .cpl = 0,
		.rip = syn_ktext(s, SITE_COPY), .val = { tail | (more << (8 * half)), 0 },
	};
	uint32_t ec = 0;
	uint64_t cr2 = 0;
	int r = syn_insn(s, &in, &ec, &cr2);
	uint32_t want = SVT_PFEC_W | (ro ? SVT_PFEC_P : 0);
	if (r == 0)
		syn_fail(s, "the copy across %#llx went through; its second page is %s",
			 (unsigned long long)(s->vmap_va + 4096), ro ? "read-only" : "absent");
	else if (r == 1 && (ec != want || cr2 != s->vmap_va + 4096))
		syn_fail(s,
			 "the copy to %#llx: #PF %#x at %#llx; bare metal gives #PF %#x at %#llx",
			 (unsigned long long)in.va, ec, (unsigned long long)cr2, want,
			 (unsigned long long)(s->vmap_va + 4096));
	if (s->failed)
		return;
	/* the fixup: the second page mapped writable, the copy again */
	if (!vmap_set(s, 1, scratch, true))
		return;
	if (ro)
		syn_invlpg(s, s->vmap_va + 4096);
	r = syn_insn(s, &in, &ec, &cr2);
	if (r == 1)
		syn_fail(s, "the copy to %#llx took #PF %#x at %#llx after the fixup",
			 (unsigned long long)in.va, ec, (unsigned long long)cr2);
	uint64_t got_tail = 0, got_more = 0;
	svt_gmem_read(&s->mach.mem, t + 4096 - half, &got_tail, half);
	svt_gmem_read(&s->mach.mem, scratch, &got_more, half);
	if (!s->failed && (got_tail != tail || got_more != more))
		syn_fail(s, "the copy to %#llx left %#llx and %#llx, not %#llx and %#llx",
			 (unsigned long long)in.va, (unsigned long long)got_tail,
			 (unsigned long long)got_more, (unsigned long long)tail,
			 (unsigned long long)more);
	/* the mapping of the page table had A and D clear: the copy (emulated
	 * or not) set them, on both pages */
	if (!s->failed && r == 0) {
		check_ad(s, in.va, true, "the copy to");
		check_ad(s, s->vmap_va + 4096, true, "the copy to");
	}
	/* once more into the kernel's own page table (the vmap's, on the walk
	 * of the copy: the core must emulate the write) with a frame beyond
	 * guest RAM, with nothing behind it, as the second page (no random
	 * draw: the workload's stream stays): bare metal writes the table's
	 * part (its own bytes back) and drops the rest, with no fault */
	uint64_t pt = s->vmap_pt & ~0xfffull, ptail = 0;
	svt_gmem_read(&s->mach.mem, pt + 4096 - half, &ptail, half);
	in.val[0] = ptail | ((uint64_t)0x5a5a5a5a << (8 * half));
	if (!s->failed && vmap_set(s, 0, pt, true) &&
	    vmap_set(s, 1, (s->cfg->guest_frames + 1) << 12, true)) {
		syn_invlpg(s, s->vmap_va);
		syn_invlpg(s, s->vmap_va + 4096);
		r = syn_insn(s, &in, &ec, &cr2);
		got_tail = 0;
		svt_gmem_read(&s->mach.mem, pt + 4096 - half, &got_tail, half);
		if (r == 1)
			syn_fail(s, "the copy to %#llx, a page table's last bytes and on into "
				 "nothing, took #PF %#x at %#llx (bare metal: no fault)",
				 (unsigned long long)in.va, ec, (unsigned long long)cr2);
		else if (!s->failed && got_tail != ptail)
			syn_fail(s, "the copy to %#llx, on into nothing, left %#llx in the page "
				 "table, not %#llx", (unsigned long long)in.va,
				 (unsigned long long)got_tail, (unsigned long long)ptail);
	}
	vmap_clear(s, 0);
	vmap_clear(s, 1);
	syn_free(s, scratch);
}

/* CR0.WP=0: the kernel writes a read-only page and a page table, then
 * with WP=1 again a write to the read-only page faults. */
static void wp0(struct syn *s, uint64_t va, uint64_t pte)
{
	uint64_t ro = syn_alloc(s, SYN_F_DATA);
	if (!ro || !vmap_set(s, 2, ro, false))
		return;
	uint64_t page = s->vmap_va + 2 * 4096;
	uint32_t ec;
	uint64_t cr2;
	if (syn_cr(s, SVT_TRACE_CR0, s->cr0 & ~SVT_CR0_WP) != 0)
		return;
	int r = syn_access(s, page + 8 * syn_below(s, 512), SVT_ACC_WRITE, 0, 4, s->rounds,
			   syn_ktext(s, SITE_WP0), &ec, &cr2);
	if (r == 1)
		syn_fail(s, "with CR0.WP=0 the kernel's write to read-only %#llx took #PF %#x",
			 (unsigned long long)page, ec);
	else if (r == 0)        /* emulated: the core walks for it, A and D as bare metal */
		check_ad(s, page, true, "with CR0.WP=0 the kernel's write to read-only");
	/* a page-table write in the window: write protection, flushed */
	uint64_t e = syn_read_entry(s, pte);
	if (!s->failed && (e & E_P) && syn_write_entry(s, pte, e & ~E_RW))
		syn_invlpg(s, va);
	if (!s->failed)
		syn_cr_probe(s, SVT_TRACE_CR4, s->cr4 | SVT_CR4_CET, "CR4.CET with CR0.WP=0");
	if (s->failed || syn_cr(s, SVT_TRACE_CR0, s->cr0 | SVT_CR0_WP) != 0)
		return;
	probe(s, page, SVT_ACC_WRITE, SVT_PFEC_P | SVT_PFEC_W,
	      "with CR0.WP=1 a write to read-only");
	vmap_clear(s, 2);
	syn_free(s, ro);
	if ((e & E_P) && (e & E_RW))
		syn_user(s, va, SVT_ACC_WRITE);         /* copy-on-write gives it back */
}

/* SMEP and SMAP on: STAC, the kernel reads and writes user memory (demand
 * faults included), CLAC, and the probes bare metal refuses. */
static void smap(struct syn *s, int p, unsigned i, uint64_t va)
{
	uint64_t want = SVT_CR4_SMEP | SVT_CR4_SMAP;
	if ((s->cr4 & want) != want && syn_cr(s, SVT_TRACE_CR4, s->cr4 | want) != 0)
		return;
	const struct syn_vma *m = &s->proc[p].vma[i];
	s->rflags |= RFLAGS_AC;                 /* STAC */
	syn_user_at(s, va, SVT_ACC_READ, 0);
	for (unsigned k = 0; k < 3 && !s->failed; k++)
		syn_user_at(s, m->va + syn_below(s, m->pages) * 4096, SVT_ACC_WRITE, 0);
	s->rflags &= ~RFLAGS_AC;                /* CLAC */
	if (s->failed)
		return;
	probe(s, va, SVT_ACC_READ, SVT_PFEC_P, "a SMAP read (RFLAGS.AC=0) of user");
	/* SMEP: a fetch from user text */
	for (unsigned v = 0; v < s->proc[p].nvma && !s->failed; v++) {
		const struct syn_vma *x = &s->proc[p].vma[v];
		if (!x->x)
			continue;
		uint64_t a = x->va + syn_below(s, x->pages) * 4096;
		if (!syn_user(s, a, SVT_ACC_FETCH))
			break;
		/* A cleared (page aging) and flushed first: a fetch that
		 * faults sets no A bit on bare metal */
		uint64_t g = syn_pte(s, s->proc[p].root, a, false);
		if (!g || !pte_update(s, g, E_A, 0, false))
			break;
		flush_one(s, p, a);
		probe(s, a, SVT_ACC_FETCH, SVT_PFEC_P | SVT_PFEC_I, "a SMEP fetch from user");
		if (!s->failed && (syn_read_entry(s, g) & E_A))
			syn_fail(s,
				 "the SMEP fetch from %#llx faulted and set A in its entry %#llx",
				 (unsigned long long)a, (unsigned long long)syn_read_entry(s, g));
		break;
	}
	if (!s->failed && syn_below(s, 2))
		syn_cr(s, SVT_TRACE_CR4, s->cr4 & ~want);
}

/* Control-register writes the SDM refuses with #GP, as a test suite's
 * guest makes them: a reserved CR4 bit; EFER.LME changed with paging on;
 * in IA-32e mode a CR3 with bits above MAXPHYADDR, and CR4.PCIDE set with
 * CR3[11:0] not 0; in PAE a CR3 whose PDPT has a reserved bit set.  Each
 * refused write changes nothing. */
static void cr_probes(struct syn *s)
{
	syn_cr_probe(s, SVT_TRACE_CR4, s->cr4 | (1ull << 30), "reserved CR4 bit 30");
	if (!s->failed)
		syn_cr_probe(s, SVT_TRACE_CR4, s->cr4 | (1ull << 24),
			     "CR4.PKS on a CPU without PKS");
	if (!s->failed)
		syn_cr_probe(s, SVT_TRACE_EFER, s->efer ^ SVT_EFER_LME,
			     "EFER.LME changed with paging on");
	if (!s->failed && s->ia32e) {
		syn_cr_probe(s, SVT_TRACE_CR0, s->cr0 & ~SVT_CR0_PG,
			     "CR0.PG cleared in 64-bit mode");
		if (!s->failed)
			syn_cr_probe(s, SVT_TRACE_CR3, s->cr3 | (1ull << 50),
				     "CR3 above MAXPHYADDR");
		if (!s->failed && !s->pcid && syn_cr(s, SVT_TRACE_CR3, s->cr3 | SVT_PTE_PWT) == 0) {
			syn_cr_probe(s, SVT_TRACE_CR4, s->cr4 | SVT_CR4_PCIDE,
				     "CR4.PCIDE with CR3[11:0] not 0");
			if (!s->failed)
				syn_cr(s, SVT_TRACE_CR3, s->cr3 & ~(uint64_t)SVT_PTE_PWT);
		}
	}
	if (!s->failed && s->levels == 3) {
		uint64_t pdpt = syn_alloc(s, SYN_F_DATA);
		if (!pdpt)
			return;
		/* a present PDPTE with R/W, reserved there */
		if (syn_write_entry(s, pdpt,
				    syn_read_entry(s, s->cr3 & 0xfffff000ull) | E_P | E_RW))
			syn_cr_probe(s, SVT_TRACE_CR3, pdpt,
				     "PAE CR3 whose PDPTE 0 has a reserved bit");
		syn_free(s, pdpt);
	}
}

/* PAE: a new page directory under an empty PDPTE of p, made visible by a
 * CR4.PGE toggle (which reloads the PDPTEs) instead of a CR3 load; a
 * mapping there used. */
static void pdpt_edit(struct syn *s, int p)
{
	struct syn_proc *pr = &s->proc[p];
	unsigned u = (unsigned)syn_below(s, 3);
	uint64_t eg = pr->root + u * 8ull;
	if (syn_read_entry(s, eg) & E_P)
		return;
	uint64_t va = (uint64_t)u << 30 | (syn_below(s, 256) << 21);
	if (va < s->ubase)
		va += s->ubase;
	for (unsigned v = 0; v < pr->nvma; v++)
		if (va < pr->vma[v].va + pr->vma[v].pages * 4096 && pr->vma[v].va < va + 8 * 4096)
			return;
	if (pr->nvma == SYN_MAX_VMAS)
		return;
	uint64_t pd = syn_alloc(s, SYN_F_PT);
	if (!pd || !syn_write_entry(s, eg, syn_table_entry(s, pd, 3, true)))
		return;
	syn_switch(s, p);
	uint64_t bit = syn_below(s, 2) ? SVT_CR4_PGE : SVT_CR4_SMEP;
	if (syn_cr(s, SVT_TRACE_CR4, s->cr4 ^ bit) != 0 ||
	    syn_cr(s, SVT_TRACE_CR4, s->cr4 ^ bit) != 0)
		return;
	pr->vma[pr->nvma++] = (struct syn_vma){ .va = va, .pages = 8, .w = true };
	for (unsigned k = 0; k < 4 && !s->failed; k++)
		syn_user(s, va + syn_below(s, 8) * 4096, SVT_ACC_WRITE);
}

/* PAE: a present user PDPTE of p pointed at a copy of its page directory
 * (a kernel moving a directory), made visible by loading the same CR3
 * again, which reloads the PDPTEs; the old directory freed, and p's
 * mappings under the PDPTE used.  A core that kept the root it built from
 * the old PDPTEs would translate through the old directory's shadow
 * (seeded bug 89). */
static void pdpt_move(struct syn *s, int p)
{
	struct syn_proc *pr = &s->proc[p];
	unsigned u = (unsigned)syn_below(s, 3);
	uint64_t eg = pr->root + u * 8ull, e = syn_read_entry(s, eg);
	if (!(e & E_P))
		return;
	uint64_t old = e & syn_frame_mask(s), pd = syn_alloc(s, SYN_F_PT);
	if (!pd)
		return;
	/* p's root in use, as the old PDPTEs made it, before the move */
	syn_switch(s, p);
	for (unsigned i = 0; i < 512 && !s->failed; i++) {
		uint64_t v = syn_read_entry(s, old + 8ull * i);
		if ((v & E_P) && !syn_write_entry(s, pd + 8ull * i, v))
			return;
	}
	if (s->failed || !syn_write_entry(s, eg, syn_table_entry(s, pd, 3, true)))
		return;
	syn_reload_cr3(s);
	syn_free(s, old);
	for (unsigned v = 0; v < pr->nvma && !s->failed; v++)
		if (pr->vma[v].va >> 30 == u)
			syn_touch_vma(s, p, v, 4);
}

/* PAE and 4level: EFER.NXE cleared, a kernel fetch from a user address
 * no mapping covers (its walk ends at an entry that is not present, with
 * no XD bit on the way): the #PF has the I/D bit only under SMEP (SDM
 * 4.7); NXE set again.  Nothing else runs in between (the direct map has
 * XD set, reserved without NXE). */
static void nxe_off(struct syn *s)
{
	if (s->esize != 8 || s->cur < 0)
		return;
	const struct syn_proc *pr = &s->proc[s->cur];
	uint64_t va = s->utop - 4096 * (1 + syn_below(s, 64));
	for (unsigned v = 0; v < pr->nvma; v++)
		if (va >= pr->vma[v].va && va < pr->vma[v].va + pr->vma[v].pages * 4096)
			return;
	if (syn_pte(s, pr->root, va, false) &&
	    (syn_read_entry(s, syn_pte(s, pr->root, va, false)) & E_P))
		return;
	if (syn_cr(s, SVT_TRACE_EFER, s->efer & ~SVT_EFER_NXE) != 0)
		return;
	probe(s, va, SVT_ACC_FETCH, (s->cr4 & SVT_CR4_SMEP) ? SVT_PFEC_I : 0,
	      "a fetch with EFER.NXE clear from an unmapped page");
	if (!s->failed)
		syn_cr(s, SVT_TRACE_EFER, s->efer | SVT_EFER_NXE);
}

/* A clean large page (A and D clear) over RAM in the kernel half, below
 * the 4 KiB mapping area: a read, then the same value written back.  Bare
 * metal sets A on the read and not D, and D with the write; a shadow of it
 * (a splintered large page) must not let the write through before D is
 * set.  Then unmapped and flushed. */
static void clean_big(struct syn *s)
{
	if (!vmap_init(s))
		return;
	uint64_t big = s->esize == 4 ? 4ull << 20 : 2ull << 20;
	uint64_t va = s->vmap_va - big, nbig = s->cfg->guest_frames * 4096 / big;
	if (nbig < 2 || s->dmap + s->cfg->guest_frames * 4096 > va)
		return;
	uint64_t l2 = syn_entry(s, s->kroot, va, 2, false);
	if (!l2 || (syn_read_entry(s, l2) & E_P))
		return;
	uint64_t gpa = (1 + syn_below(s, nbig - 1)) * big, off = syn_below(s, big / 4) * 4;
	uint64_t e = gpa | E_P | E_RW | SVT_PTE_PS;
	if (s->esize == 8)
		e |= SVT_PTE_XD;
	if (syn_below(s, 2))            /* write-through by the PAT (index 5: PAT, PWT) */
		e |= (1ull << 12) | SVT_PTE_PWT;
	/* the kernel half lives in every root in 2level */
	for (int p = -1; p < SYN_MAX_PROCS && !s->failed; p++)
		if (p < 0 ? true : s->proc[p].used && s->levels == 2)
			syn_write_entry(s,
					(p < 0 ? s->kroot : s->proc[p].root) + (l2 - s->kroot), e);
	uint32_t v = 0, ec = 0;
	uint64_t cr2 = 0;
	/* the entry the walk reads: the running root's own copy in 2level */
	uint64_t cl2 = s->levels == 2 && s->cur >= 0 ? s->proc[s->cur].root + (l2 - s->kroot) : l2;
	svt_gmem_read(&s->mach.mem, gpa + off, &v, 4);
	if (!s->failed && syn_access(s, va + off, SVT_ACC_READ, 0, 4, 0, syn_ktext(s, SITE_PROBE),
				     &ec, &cr2) != 0)
		syn_fail(s, "a read of the clean large page at %#llx took #PF %#x",
			 (unsigned long long)(va + off), ec);
	else if (!s->failed && (syn_read_entry(s, cl2) & (E_A | E_D)) != E_A)
		syn_fail(s, "a read of the clean large page at %#llx left its entry %#llx "
			 "(bare metal: A set, D clear)", (unsigned long long)(va + off),
			 (unsigned long long)syn_read_entry(s, cl2));
	else if (!s->failed && syn_access(s, va + off, SVT_ACC_WRITE, 0, 4, v,
					  syn_ktext(s, SITE_PROBE), &ec, &cr2) != 0)
		syn_fail(s, "a write of the clean large page at %#llx took #PF %#x",
			 (unsigned long long)(va + off), ec);
	else if (!s->failed && !(syn_read_entry(s, cl2) & E_D))
		syn_fail(s, "a write of the clean large page at %#llx left D clear in its entry "
			 "%#llx", (unsigned long long)(va + off),
			 (unsigned long long)syn_read_entry(s, cl2));
	for (int p = -1; p < SYN_MAX_PROCS && !s->failed; p++)
		if (p < 0 ? true : s->proc[p].used && s->levels == 2)
			syn_write_entry(s,
					(p < 0 ? s->kroot : s->proc[p].root) + (l2 - s->kroot), 0);
	if (!s->failed)
		syn_invlpg(s, va + off);
}

/* 4level and 5level: a 1 GiB page over guest-physical 0 in the kernel
 * half, the slot after the direct map's (which fits in its first GiB): a
 * value written through it at a frame of the kernel's own must land in
 * that frame (a splinter of the wrong piece would put it elsewhere), a
 * read too; then unmapped and flushed. */
static void one_gig(struct syn *s)
{
	uint64_t va = s->dmap + (1ull << 30);
	if (s->levels < 4 || s->cfg->guest_frames * 4096 > (1ull << 30))
		return;
	uint64_t l3 = syn_entry(s, s->kroot, va, 3, false);
	if (!l3 || (syn_read_entry(s, l3) & E_P))
		return;
	uint64_t f = syn_alloc(s, SYN_F_DATA);
	if (!f)
		return;
	uint64_t off = syn_below(s, 1024) * 4, val = 0x5eed0000u | syn_below(s, 0x10000);
	uint32_t ec = 0, got = 0;
	uint64_t cr2 = 0;
	if (!syn_write_entry(s, l3, E_P | E_RW | E_A | E_D | SVT_PTE_PS | SVT_PTE_XD))
		goto out;
	if (syn_access(s, va + f + off, SVT_ACC_WRITE, 0, 4, val, syn_ktext(s, SITE_PROBE), &ec,
		       &cr2) != 0 ||
	    syn_access(s, va + f + off, SVT_ACC_READ, 0, 4, 0, 0, &ec, &cr2) != 0) {
		syn_fail(s, "an access through the 1 GiB page at %#llx took #PF %#x",
			 (unsigned long long)(va + f + off), ec);
		goto out;
	}
	svt_gmem_read(&s->mach.mem, f + off, &got, 4);
	if (got != val)
		syn_fail(s, "%#llx written through the 1 GiB page at %#llx, but its frame %#llx "
			 "holds %#x", (unsigned long long)val, (unsigned long long)(va + f + off),
			 (unsigned long long)(f + off), got);
	if (!s->failed && syn_write_entry(s, l3, 0))
		syn_invlpg(s, va + f + off);
out:
	syn_free(s, f);
}

/* A read-only level-2 entry over a writable leaf (R/W=0 above: the whole
 * range write-protected at once), flushed: a kernel write there must fault
 * with CR0.WP=1 (SDM 4.6: every level's R/W counts); R/W set again and
 * flushed. */
/*
 * One frame as page tables of two levels (4- and 5-level paging): the
 * running process's L1 table T of va is written without a flush (so the
 * core may hold it out of sync), then a level-3 entry of an unused user
 * gigabyte is pointed at T, making it a page directory there too.  Entry
 * k of T, a present user leaf mapping data frame D, is then a directory
 * entry whose page table is D: the kernel puts a read-only user leaf for
 * frame X in D's entry j, and a user read through the alias at (k, j)
 * must go through, as on bare metal, to X.  D's word is restored, the
 * link removed and the address space flushed.  What the core may not do
 * is shadow the out-of-sync T as a directory without bringing it in sync
 * first.
 */
static void two_levels(struct syn *s, int p, uint64_t va, uint64_t pte)
{
	struct syn_proc *pr = &s->proc[p];
	uint64_t t = pte & ~0xfffull, span = 1ull << 30;
	if (s->levels < 4 || p != s->cur)
		return;
	if (!pte_update(s, pte, E_A, 0, false))
		return;
	pr->stale = true;       /* the A just cleared is the TLB's to keep until a flush */
	unsigned n1 = syn_nent(s, 1), k = n1;
	uint64_t pde = 0;
	for (unsigned j = syn_below(s, n1), n = 0; n < n1; n++) {
		unsigned x = (j + n) % n1;
		uint64_t e = syn_read_entry(s, t + (uint64_t)x * s->esize);
		/* as a directory entry: present, user, no PS (bit 7), and XD
		 * only where EFER.NXE makes it no reserved bit */
		if ((e & (E_P | E_US | SVT_PTE_PS)) == (E_P | E_US) &&
		    (!(e & SVT_PTE_XD) || (s->efer & SVT_EFER_NXE)) &&
		    ((e & ~0xfffull & ~SVT_PTE_XD) >> 12) < s->cfg->guest_frames) {
			k = x;
			pde = e;
			break;
		}
	}
	if (k == n1)
		return;
	uint64_t where = 0, l3 = 0, lo = (s->ubase + span - 1) & ~(span - 1);
	if (s->utop < lo + span)
		return;
	for (unsigned tries = 0; tries < 8 && !where && !s->failed; tries++) {
		uint64_t a = lo + syn_below(s, (s->utop - lo) / span) * span;   /* 1 GiB aligned */
		bool used = (va & ~(span - 1)) == a;
		for (unsigned v = 0; v < pr->nvma; v++)
			used |= a < pr->vma[v].va + pr->vma[v].pages * 4096 &&
				pr->vma[v].va < a + span;
		if (used)
			continue;
		l3 = syn_entry(s, pr->root, a, 3, true);
		if (l3 && !(syn_read_entry(s, l3) & E_P))
			where = a;
	}
	if (!where || s->failed)
		return;
	unsigned j = syn_below(s, n1);
	uint64_t d = (pde & ~0xfffull & ~SVT_PTE_XD) + (uint64_t)j * s->esize;
	uint64_t x = syn_alloc(s, SYN_F_DATA);
	if (!x)
		return;
	uint64_t old = syn_read_entry(s, d);
	s->ptever[d >> 12] = 1;         /* D is a page table now: its stores are evidence */
	if (syn_write_entry(s, d, syn_leaf(s, x >> 12, false, true, false)) &&
	    syn_write_entry(s, l3, syn_table_entry(s, t, 3, true))) {
		uint64_t a = where + (uint64_t)k * (2ull << 20) + (uint64_t)j * 4096;
		uint32_t ec = 0;
		uint64_t cr2 = 0;
		if (syn_access(s, a, SVT_ACC_READ, 3, 4, 0, SITE_UTEXT, &ec, &cr2) == 1)
			syn_fail(s, "a user read at %#llx through an L1 table linked as a page "
				 "directory too took #PF %#x; bare metal reads frame %#llx",
				 (unsigned long long)a, ec, (unsigned long long)x);
		/* T's entry k cleared, then INVLPG of the alias: bare metal's
		 * walk now stops at the directory entry (T, a directory here,
		 * must not be left writable and stale in the shadows) */
		if (!s->failed && syn_write_entry(s, t + (uint64_t)k * s->esize, 0)) {
			syn_invlpg(s, a);
			probe_at(s, a, SVT_ACC_READ, 3, SVT_PFEC_U, "a user read through a page "
				 "directory entry cleared and flushed (an L1 table linked as a "
				 "directory)");
			if (!s->failed)
				syn_write_entry(s, t + (uint64_t)k * s->esize, pde);
		}
		if (!s->failed && syn_write_entry(s, l3, 0))
			syn_reload_cr3(s);
	}
	if (!s->failed)
		syn_write_entry(s, d, old);
	syn_free(s, x);
}

static void ro_upper(struct syn *s, int p, uint64_t va)
{
	uint64_t l2 = syn_entry(s, s->proc[p].root, va, 2, false);
	uint64_t e = l2 ? syn_read_entry(s, l2) : 0;
	if (p != s->cur || !(s->cr0 & SVT_CR0_WP) ||
	    (e & (E_P | E_RW | SVT_PTE_PS)) != (E_P | E_RW))
		return;
	if (!syn_write_entry(s, l2, e & ~(uint64_t)E_RW))
		return;
	flush_one(s, p, va);
	probe(s, va, SVT_ACC_WRITE, SVT_PFEC_P | SVT_PFEC_W,
	      "a write under a read-only level-2 entry");
	if (!s->failed && syn_write_entry(s, l2, syn_read_entry(s, l2) | E_RW))
		flush_one(s, p, va);
	/* 8-byte entries: an address bit above MAXPHYADDR (46) set in the
	 * leaf, reserved: any access faults with RSVD (SDM 4.7) */
	uint64_t pte = s->esize == 8 && !s->failed ? syn_pte(s, s->proc[p].root, va, false) : 0;
	uint64_t l1 = pte ? syn_read_entry(s, pte) : 0;
	if (!(l1 & E_P) || !syn_write_entry(s, pte, l1 | (1ull << 50)))
		return;
	flush_one(s, p, va);
	probe(s, va, SVT_ACC_READ, SVT_PFEC_P | SVT_PFEC_RSVD,
	      "a read through a leaf with bit 50 set");
	if (!s->failed && syn_write_entry(s, pte, syn_read_entry(s, pte) & ~(1ull << 50)))
		flush_one(s, p, va);
}

/* 8-byte entries: mprotect(PROT_EXEC) and back over mapping i of p (the
 * running process), as a kernel changes a range: plain MOV stores to
 * every present leaf (only XD, in the high half, changes), one flushing
 * CR3 load for them all (more than a few entries).  A few pages are
 * fetched while executable; after XD is set again and flushed, a fetch
 * from them must fault (SDM 4.6) however stale the translation was. */
static void xd_mprotect(struct syn *s, int p, unsigned i)
{
	uint64_t va[32], pte[32];
	unsigned n = present(s, p, i, va, pte, 32);
	struct syn_vma *m = &s->proc[p].vma[i];
	if (s->esize != 8 || p != s->cur || m->x || n == 0)
		return;
	unsigned pick[3] = { 0, n - 1, (unsigned)syn_below(s, n) };
	for (int set = 0; set < 2 && !s->failed; set++) {
		for (unsigned k = 0; k < n && !s->failed; k++) {
			uint64_t e = syn_read_entry(s, pte[k]);
			syn_write_entry(s, pte[k], set ? e | SVT_PTE_XD : e & ~SVT_PTE_XD);
		}
		m->x = !set;
		if (!s->failed)
			syn_reload_cr3(s);
		for (unsigned k = 0; k < 3 && !s->failed; k++) {
			if (!set)
				syn_user(s, va[pick[k]], SVT_ACC_FETCH);
			else
				probe_at(s, va[pick[k]], SVT_ACC_FETCH, 3,
					 syn_expect_ec(s, SVT_ACC_FETCH, 3, true),
					 "a fetch (XD set by mprotect, then a CR3 load)");
		}
	}
}

/* A few writable leaves of mapping i of p (the running process), written
 * first, then made read-only or not present with MOV stores and flushed
 * by a CR4.PGE toggle alone (which flushes every TLB entry, SDM 4.10.4.1):
 * a user write there must fault.  Each leaf put back and flushed. */
static void pge_flush(struct syn *s, int p, unsigned i)
{
	uint64_t va[32], pte[32], old[3];
	unsigned n = present(s, p, i, va, pte, 32), used = 0, at[3];
	if (p != s->cur || !(s->cr4 & SVT_CR4_PGE))
		return;
	for (unsigned k = (unsigned)syn_below(s, 4); k < n && used < 3 && !s->failed; k += 2) {
		uint64_t e = syn_read_entry(s, pte[k]);
		if (!(e & E_RW) || !syn_user(s, va[k], SVT_ACC_WRITE))
			continue;
		old[used] = syn_read_entry(s, pte[k]);
		at[used++] = k;
	}
	if (used == 0 || s->failed)
		return;
	for (unsigned u = 0; u < used && !s->failed; u++)
		syn_write_entry(s, pte[at[u]], old[u] & ~(u == 2 ? E_P : E_RW));
	if (s->failed || syn_cr(s, SVT_TRACE_CR4, s->cr4 ^ SVT_CR4_PGE) != 0 ||
	    syn_cr(s, SVT_TRACE_CR4, s->cr4 ^ SVT_CR4_PGE) != 0)
		return;
	for (unsigned u = 0; u < used && !s->failed; u++)
		probe_at(s, va[at[u]], SVT_ACC_WRITE, 3, syn_expect_ec(s, SVT_ACC_WRITE, 3, u != 2),
			 u == 2 ? "after a CR4.PGE toggle a user write to unmapped" :
			 "after a CR4.PGE toggle a user write to write-protected");
	for (unsigned u = 0; u < used && !s->failed; u++)
		if (syn_write_entry(s, pte[at[u]], old[u]))
			flush_one(s, p, va[at[u]]);
}

/* PAE, 4level and 5level: EFER.NXE cleared, with SMAP and not SMEP.  A
 * kernel fetch from a user page no shadow maps yet (a fresh executable
 * page at a free address) goes through: SMAP restricts data accesses only
 * (SDM 4.6).  Then, after a flushing CR3 load, a user read of va (read
 * before, its leaf has XD) faults with RSVD: bit 63 is reserved without
 * NXE (SDM 4.7).  NXE and CR4 as they were, the page unmapped.  Nothing
 * else runs with NXE clear (the direct map has XD). */
static void nxe_stale(struct syn *s, int p, uint64_t va)
{
	const struct syn_proc *pr = &s->proc[p];
	uint64_t g = syn_pte(s, pr->root, va, false), e = g ? syn_read_entry(s, g) : 0;
	if (s->esize != 8 || p != s->cur || !(s->efer & SVT_EFER_NXE) ||
	    (e & (E_P | SVT_PTE_XD)) != (E_P | SVT_PTE_XD))
		return;
	uint64_t tva = s->utop - 4096 * (65 + syn_below(s, 64));
	for (unsigned v = 0; v < pr->nvma; v++)
		if (tva >= pr->vma[v].va && tva < pr->vma[v].va + pr->vma[v].pages * 4096)
			return;
	uint64_t tpte = syn_pte(s, pr->root, tva, true);
	if (!tpte || (syn_read_entry(s, tpte) & E_P))
		return;
	uint64_t f = syn_alloc(s, SYN_F_DATA);
	if (!f)
		return;
	uint64_t cr4 = s->cr4, want = (cr4 | SVT_CR4_SMAP) & ~SVT_CR4_SMEP;
	uint32_t ec = 0;
	uint64_t cr2 = 0;
	if (!syn_write_entry(s, tpte, syn_leaf(s, f >> 12, false, true, true)) ||
	    !syn_user(s, va, SVT_ACC_READ) ||
	    (want != cr4 && syn_cr(s, SVT_TRACE_CR4, want) != 0))
		goto out;
	s->rflags &= ~RFLAGS_AC;
	if (syn_cr(s, SVT_TRACE_EFER, s->efer & ~SVT_EFER_NXE) != 0)
		goto out;
	if (syn_access(s, tva, SVT_ACC_FETCH, 0, 4, 0, syn_ktext(s, SITE_PROBE), &ec, &cr2) == 1)
		syn_fail(s, "with EFER.NXE clear, CR4.SMAP set and SMEP clear, a kernel fetch from "
			 "user %#llx took #PF %#x (bare metal: SMAP restricts data accesses only)",
			 (unsigned long long)tva, ec);
	if (!s->failed)
		syn_reload_cr3(s);
	if (!s->failed)
		probe_at(s, va, SVT_ACC_READ, 3,
			 syn_expect_ec(s, SVT_ACC_READ, 3, true) | SVT_PFEC_RSVD,
			 "with EFER.NXE clear, after a flushing CR3 load, a user read through "
			 "a leaf with XD");
	if (!s->failed)
		syn_cr(s, SVT_TRACE_EFER, s->efer | SVT_EFER_NXE);
	if (!s->failed && want != cr4)
		syn_cr(s, SVT_TRACE_CR4, cr4);
out:
	if (!s->failed && syn_write_entry(s, tpte, 0))
		flush_one(s, p, tva);
	syn_free(s, f);
}

void syn_w_protect(struct syn *s)
{
	int p;
	int i = setup(s, &p);
	if (i < 0)
		return;
	uint64_t va[4], pte[4];
	unsigned n = present(s, p, (unsigned)i, va, pte, 4);
	if (n == 0)
		return;
	switch (syn_below(s, 12)) {
	case 0:
		if (vmap_init(s))
			crossing(s, pte[0] & ~0xfffull);
		break;
	case 9:
		xd_mprotect(s, p, (unsigned)i);
		break;
	case 10:
		pge_flush(s, p, (unsigned)i);
		break;
	case 11:
		nxe_stale(s, p, va[0]);
		break;
	case 5:
		nxe_off(s);
		break;
	case 6:
		if (s->levels >= 4 && syn_below(s, 2))
			one_gig(s);
		else
			clean_big(s);
		break;
	case 7:
		if (s->levels >= 4 && syn_below(s, 2))
			two_levels(s, p, va[0], pte[0]);
		else
			ro_upper(s, p, va[0]);
		break;
	case 4:
		cr_probes(s);
		if (!s->failed)
			mmio(s);
		break;
	case 1:
		if (vmap_init(s))
			wp0(s, va[0], pte[0]);
		break;
	case 2:
		smap(s, p, (unsigned)i, va[0]);
		break;
	case 3:
		if (s->levels == 3 && syn_below(s, 2))
			pdpt_move(s, p);
		else if (s->levels == 3)
			pdpt_edit(s, p);
		else if (s->levels == 2)
			syn_cr(s, SVT_TRACE_EFER, s->efer ^ SVT_EFER_NXE);
		/* user text fetched: I/D as the guest's SMEP and NXE say */
		for (unsigned v = 0; v < s->proc[p].nvma && !s->failed; v++)
			if (s->proc[p].vma[v].x)
				syn_touch_vma(s, p, v, 4);
		break;
	default:
		if (syn_nprocs(s) > 6)
			syn_exit_proc(s, syn_random_proc(s));
		break;
	}
}
