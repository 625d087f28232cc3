/*
 * mmu-guest.c — the random guest OS's page tables: geometry per paging
 * mode, a frame allocator over guest RAM, tables created (zeroed with REP
 * STOS, then linked) and freed (entries cleared one by one or all at once,
 * then unlinked, the frame reused as data), entries written with the
 * instructions a kernel uses (MOV, XCHG, LOCK CMPXCHG, LOCK OR/AND,
 * BTS/BTR; in 32-bit code two MOVs or CMPXCHG8B for an 8-byte entry),
 * through the direct map once paging is on, physically before.  Every
 * write is a guest instruction compared on both sides (mmu-exec.c).
 *
 * The flush discipline lives here too: a change to a present entry leaves
 * the address spaces that may cache it owing an INVLPG or a full flush,
 * settled before the next access (mh_os_flush_pending).  A change of a
 * non-present entry owes nothing (SDM 4.10.4.3).  PAE PDPTEs live in
 * registers and are reloaded by MOV to CR3 only.
 */
#include <stdlib.h>
#include <string.h>

#include "mmu-harness.h"

#include "mmu-pte.h"

struct mh_os *mh_os_new(struct mh_machine *m)
{
	struct mh_os *os = calloc(1, sizeof(*os));
	if (!os)
		return NULL;
	os->t = calloc(MH_MAX_TABLES, sizeof(*os->t));
	os->tab_of_gfn = malloc(m->gframes * sizeof(int16_t));
	os->fstate = malloc(m->gframes);
	if (!os->t || !os->tab_of_gfn || !os->fstate) {
		mh_os_free(os);
		return NULL;
	}
	for (uint64_t g = 0; g < m->gframes; g++) {
		os->tab_of_gfn[g] = -1;
		os->fstate[g] = mh_ram(m, g) ? MH_F_DATA : MH_F_HOLE;
	}
	return os;
}

void mh_os_free(struct mh_os *os)
{
	if (!os)
		return;
	free(os->t);
	free(os->tab_of_gfn);
	free(os->fstate);
	free(os);
}

/* ---- geometry --------------------------------------------------------- */

unsigned mh_os_shift(const struct mh_os *os, int lv)
{
	if (os->levels == 2)
		return lv == 2 ? 22 : 12;
	return 12 + 9 * (unsigned)(lv - 1);
}

unsigned mh_os_nent(const struct mh_os *os, int lv)
{
	if (os->levels == 2)
		return 1024;
	return os->levels == 3 && lv == 3 ? 4 : 512;
}

unsigned mh_os_idx(const struct mh_os *os, int lv, uint64_t va)
{
	return (unsigned)((va >> mh_os_shift(os, lv)) & (mh_os_nent(os, lv) - 1));
}

bool mh_os_large_ok(const struct mh_machine *m, int lv)
{
	const struct mh_os *os = m->os;
	if (lv == 2)
		return os->levels == 2 ? (m->arch.cr4 & SVT_CR4_PSE) != 0 : os->levels >= 3;
	return lv == 3 && os->levels >= 4 && m->gbpages;
}

bool mh_os_kernel_idx(const struct mh_os *os, unsigned i)
{
	switch (os->levels) {
	case 2: return i >= 512;
	case 3: return i >= 2;
	default: return i >= 256;
	}
}

uint64_t mh_os_canon(const struct mh_os *os, uint64_t va)
{
	unsigned w = os->levels == 5 ? 57 : os->levels == 4 ? 48 : 32;
	if (w == 32)
		return va & 0xffffffffull;
	return (uint64_t)((int64_t)(va << (64 - w)) >> (64 - w));
}

uint64_t mh_os_pt_va(const struct mh_machine *m, uint64_t gpa)
{
	return (m->arch.cr0 & SVT_CR0_PG) ? m->os->dmap + gpa : gpa;
}

static uint64_t emask(const struct mh_os *os)
{
	return os->esize == 4 ? 0xffffffffull : ~0ull;
}

/* ---- writes the OS makes ------------------------------------------------ */

static bool os_insn(struct mh_machine *m, const struct mh_insn *in, uint64_t gpa)
{
	struct mh_end end;
	if (!mh_insn(m, in->b, in->len, 0, &end))
		return false;
	if (end.kind != MH_DONE)
		return mh_fail(m, "the guest OS's own write at gpa %#llx did not complete (%d)",
			       (unsigned long long)gpa, (int)end.kind);
	return true;
}

bool mh_os_zero(struct mh_machine *m, uint64_t gpa, uint64_t bytes)
{
	int bits = mh_code_bits(m);
	unsigned size = bits == 64 && bytes % 8 == 0 && mh_pct(&m->rng, 85) ? 8 :
			bytes % 4 == 0 && !mh_pct(&m->rng, 5) ? 4 : 1;
	struct mh_insn in;
	m->regs.rflags &= ~(uint64_t)SVT_EMU_DF;
	mh_log(m, " zero %llu bytes at gpa %#llx", (unsigned long long)bytes,
	       (unsigned long long)gpa);
	if (!mh_encode(m, MH_W_STOS, size, bits, mh_os_pt_va(m, gpa), 0, 0, bytes / size, 0, &in))
		return mh_fail(m, "harness: cannot encode REP STOS");
	return os_insn(m, &in, gpa);
}

static bool single_bit(uint64_t x)
{
	return x && !(x & (x - 1));
}

static unsigned bit_of(uint64_t x)
{
	unsigned b = 0;
	while (!(x & 1))
		x >>= 1, b++;
	return b;
}

/* Write val to the entry at gpa (esz bytes) the way a kernel would. */
static bool pt_write(struct mh_machine *m, uint64_t gpa, uint64_t val, unsigned esz)
{
	int bits = mh_code_bits(m);
	uint64_t va = mh_os_pt_va(m, gpa), cur = mh_twin_read(m, gpa, esz);
	struct mh_insn in;
	unsigned r = (unsigned)mh_below(&m->rng, 100);

	if (esz == 8 && bits == 32) {
		if ((!(cur & P) || !(val & P)) && r < 60) {
			/* two halves, the present bit's half last when setting */
			bool hi_first = (val & P) != 0;
			for (int k = 0; k < 2; k++) {
				unsigned half = (k == 0) == hi_first ? 4 : 0;
				mh_encode(m, MH_W_MOV, 4, bits, va + half, val >> (8 * half),
					  0, 0, 0, &in);
				if (!os_insn(m, &in, gpa))
					return false;
			}
			return true;
		}
		mh_encode(m, MH_W_CMPXCHG8B, 8, bits, va, val, cur, 0, 0, &in);
		return os_insn(m, &in, gpa);
	}
	enum mh_wop op = MH_W_MOV;
	uint64_t src = val;
	if (r < 40)
		op = MH_W_MOV;
	else if (r < 52)
		op = MH_W_XCHG;
	else if (r < 67)
		op = MH_W_CMPXCHG;
	else if (r < 74)
		op = MH_W_MOVI;
	else if (val != cur && (val & cur) == cur) {
		op = single_bit(val & ~cur) ? MH_W_BTS : MH_W_OR;
		src = op == MH_W_BTS ? bit_of(val & ~cur) : val & ~cur;
	} else if (val != cur && (val & cur) == val) {
		op = single_bit(cur & ~val) ? MH_W_BTR : MH_W_AND;
		src = op == MH_W_BTR ? bit_of(cur & ~val) : (val | ~cur) & emask(m->os);
	}
	if (!mh_encode(m, op, esz, bits, va, src, cur, 0, 0, &in))
		mh_encode(m, MH_W_MOV, esz, bits, va, val, 0, 0, 0, &in);
	return os_insn(m, &in, gpa);
}

/* ---- the flush discipline ---------------------------------------------- */

static void note_change(struct mh_machine *m, int t, unsigned i, uint64_t old, uint64_t val)
{
	struct mh_os *os = m->os;
	struct mh_table *T = &os->t[t];
	if (!(old & P) || old == val)
		return;         /* nothing can be cached from a non-present entry */
	if (os->levels == 3 && T->level == 3)
		return;         /* PDPTEs: registers, loaded by MOV to CR3 */
	bool kernel = T->as < 0 || (T->parent == -1 && mh_os_kernel_idx(os, i));
	bool leaf = T->level == 1 || ((old & PS) && mh_os_large_ok(m, T->level));
	uint64_t va = mh_os_canon(os, T->va_base + ((uint64_t)i << mh_os_shift(os, T->level)));
	for (int x = 0; x < MH_MAX_AS; x++) {
		struct mh_as *s = &os->as[x];
		if (!s->used || (T->as >= 0 && x != T->as))
			continue;
		if (leaf && s->npend < MH_MAX_PEND)
			s->pend[s->npend++] = va;
		else
			s->pend_full = true;
		s->pend_kernel |= kernel;
	}
}

/* ---- tables ------------------------------------------------------------ */

static int64_t alloc_frame(struct mh_machine *m)
{
	struct mh_os *os = m->os;
	for (int k = 0; k < 300; k++) {
		uint64_t g = mh_below(&m->rng, m->gframes);
		if (os->fstate[g] == MH_F_DATA)
			return (int64_t)g;
	}
	for (uint64_t g = 0; g < m->gframes; g++)
		if (os->fstate[g] == MH_F_DATA)
			return (int64_t)g;
	return -1;
}

/* Another live PAE root in a frame with a free 32-byte slot. */
static int64_t shared_pdpt_slot(struct mh_machine *m)
{
	struct mh_os *os = m->os;
	for (int k = 0; k < MH_MAX_TABLES; k++) {
		struct mh_table *T = &os->t[k];
		if (!T->used || T->parent != -1)
			continue;
		for (int tries = 0; tries < 8; tries++) {
			uint64_t gpa = (T->gpa & ~0xfffull) + 32 * mh_below(&m->rng, 128);
			bool taken = false;
			for (int j = 0; j < MH_MAX_TABLES; j++)
				taken |= os->t[j].used && os->t[j].gpa == gpa;
			if (!taken)
				return (int64_t)gpa;
		}
	}
	return -1;
}

static int new_table(struct mh_machine *m, int lv, int as, int parent, unsigned pidx,
		     uint64_t va_base)
{
	struct mh_os *os = m->os;
	int t = -1;
	for (int k = 0; k < MH_MAX_TABLES && t < 0; k++)
		if (!os->t[k].used)
			t = k;
	if (t < 0)
		return -1;
	bool pdpt = os->levels == 3 && lv == 3;
	int64_t gpa = pdpt && mh_pct(&m->rng, 30) ? shared_pdpt_slot(m) : -1;
	if (gpa < 0) {
		int64_t g = alloc_frame(m);
		if (g < 0)
			return -1;
		gpa = g * (int64_t)MH_PAGE + (pdpt ? 32 * (int64_t)mh_below(&m->rng, 128) : 0);
	}
	struct mh_table *T = &os->t[t];
	memset(T, 0, sizeof(*T));
	T->used = true;
	T->level = lv;
	T->as = as;
	T->parent = parent;
	T->pidx = pidx;
	T->prot = parent == -1;
	T->gpa = (uint64_t)gpa;
	T->va_base = va_base;
	for (int k = 0; k < 1024; k++)
		T->child[k] = -1;
	os->fstate[gpa >> 12] = MH_F_TABLE;
	os->tab_of_gfn[gpa >> 12] = (int16_t)t;
	mh_log(m, " new level-%d table %d at gpa %#llx for va %#llx (as %d)", lv, t,
	       (unsigned long long)gpa, (unsigned long long)va_base, as);
	if (!mh_os_zero(m, (uint64_t)gpa, (uint64_t)mh_os_nent(os, lv) * os->esize))
		return -1;
	return t;
}

int mh_os_new_root(struct mh_machine *m, int as)
{
	return new_table(m, m->os->levels, as, -1, 0, 0);
}

/* Forget t and everything below it; its frame becomes data. */
void mh_os_release(struct mh_machine *m, int t)
{
	struct mh_os *os = m->os;
	struct mh_table *T = &os->t[t];
	uint64_t g = T->gpa >> 12;
	for (unsigned i = 0; i < mh_os_nent(os, T->level); i++)
		if (T->child[i] >= 0 && !(T->parent == -1 && mh_os_kernel_idx(os, i)))
			mh_os_release(m, T->child[i]);
	T->used = false;
	os->tab_of_gfn[g] = -1;
	os->fstate[g] = MH_F_DATA;
	for (int k = 0; k < MH_MAX_TABLES; k++)
		if (os->t[k].used && (os->t[k].gpa >> 12) == g) {
			os->fstate[g] = MH_F_TABLE;
			os->tab_of_gfn[g] = (int16_t)k;
		}
}

bool mh_os_write_entry(struct mh_machine *m, int t, unsigned i, uint64_t val)
{
	struct mh_os *os = m->os;
	struct mh_table *T = &os->t[t];
	uint64_t gpa = T->gpa + (uint64_t)i * os->esize;
	/* what memory holds, not what the OS last wrote: the access since
	 * may have set A/D, random writes may have garbled it */
	uint64_t old = mh_twin_read(m, gpa, os->esize);
	val &= emask(os);
	if (!pt_write(m, gpa, val, os->esize))
		return false;
	T->e[i] = val;
	note_change(m, t, i, old, val);
	/* PAE: a changed PDPTE of the running address space counts once the
	 * PDPTEs are loaded again; an OS that relies on it reloads CR3 at
	 * once.  (Known core bug K10, mmu-access.c: unless it is exposed,
	 * always, so that a MOV to CR0/CR4 never loads different PDPTEs.) */
	if (os->levels == 3 && T->parent == -1 && t == os->as[os->cur].root &&
	    (m->arch.cr0 & SVT_CR0_PG) && (m->policy.oos || mh_pct(&m->rng, 70)))
		return mh_os_switch(m, os->cur, true);
	return true;
}

bool mh_os_write_kroot(struct mh_machine *m, unsigned i, uint64_t val, int child)
{
	struct mh_os *os = m->os;
	for (int x = 0; x < MH_MAX_AS; x++) {
		if (!os->as[x].used)
			continue;
		if (!mh_os_write_entry(m, os->as[x].root, i, val))
			return false;
		os->t[os->as[x].root].child[i] = (int16_t)child;
	}
	os->kroot_e[i] = val & emask(os);
	os->kroot_child[i] = (int16_t)child;
	return true;
}

static uint64_t nonleaf_flags(struct mh_machine *m, bool user, int parent_lv)
{
	struct mh_os *os = m->os;
	if (os->levels == 3 && parent_lv == 3)
		return P | (mh_pct(&m->rng, 10) ? PWT | PCD : 0);
	if (os->quiet_flags)            /* the direct map: plain kernel RW */
		return P | RW | (mh_pct(&m->rng, 50) ? A : 0);
	uint64_t f = P | RW | (user ? US : 0) | (mh_pct(&m->rng, 50) ? A : 0);
	if (mh_pct(&m->rng, 4))
		f &= ~RW;
	if (mh_pct(&m->rng, 4))
		f ^= US;
	if (os->levels >= 3 && (m->arch.efer & SVT_EFER_NXE) && mh_pct(&m->rng, 5))
		f |= XD;
	if (mh_pct(&m->rng, 8))
		f |= PWT | PCD;
	return f;
}

int mh_os_table(struct mh_machine *m, int as, uint64_t va, int lv, bool create)
{
	struct mh_os *os = m->os;
	int cur = os->as[as >= 0 ? as : os->cur].root;
	for (int L = os->levels; L > lv; L--) {
		unsigned i = mh_os_idx(os, L, va);
		bool kslot = L == os->levels && mh_os_kernel_idx(os, i);
		struct mh_table *T = &os->t[cur];
		int child = kslot ? os->kroot_child[i] : T->child[i];
		uint64_t e = kslot ? os->kroot_e[i] : T->e[i];
		if (child >= 0 && !(e & P) && create) {
			uint64_t ne = e | P;
			if (kslot ? !mh_os_write_kroot(m, i, ne, child) :
			    !mh_os_write_entry(m, cur, i, ne))
				return -1;
		} else if (child < 0) {
			if (!create || (T->prot && !kslot && T->parent != -1))
				return -1;
			uint64_t span = 1ull << mh_os_shift(os, L);
			int owner = kslot ? -1 : T->as;
			child = new_table(m, L - 1, owner, kslot ? MH_KROOT : cur, i,
					  mh_os_canon(os, va & ~(span - 1)));
			if (child < 0)
				return -1;
			uint64_t ne = os->t[child].gpa | nonleaf_flags(m, owner >= 0, L);
			if (kslot) {
				if (!mh_os_write_kroot(m, i, ne, child))
					return -1;
			} else {
				int old = T->child[i];
				if (!mh_os_write_entry(m, cur, i, ne))
					return -1;
				os->t[cur].child[i] = (int16_t)child;
				if (old >= 0)
					mh_os_release(m, old);
			}
		}
		cur = child;
	}
	return cur;
}

bool mh_os_map(struct mh_machine *m, int as, uint64_t va, int lv, uint64_t val)
{
	struct mh_os *os = m->os;
	int t = mh_os_table(m, as, va, lv, true);
	if (t < 0)
		return !m->failed;
	struct mh_table *T = &os->t[t];
	unsigned i = mh_os_idx(os, lv, va);
	if (T->prot && T->parent != -1)
		return true;    /* the direct map stays as it is */
	uint64_t size = 1ull << mh_os_shift(os, lv);
	mh_log(m, " map va %#llx level %d <- %#llx (as %d)", (unsigned long long)va, lv,
	       (unsigned long long)val, as);
	if (lv == os->levels && mh_os_kernel_idx(os, i)) {
		int old = os->kroot_child[i];
		if ((old >= 0 && os->t[old].prot) || i == mh_os_idx(os, lv, os->dmap))
			return true;
		if (!mh_os_write_kroot(m, i, val, -1))
			return false;
		if (old >= 0)
			mh_os_release(m, old);
	} else {
		int old = T->child[i];
		if (!mh_os_write_entry(m, t, i, val))
			return false;
		os->t[t].child[i] = -1;
		if (old >= 0)
			mh_os_release(m, old);
	}
	struct mh_map *mp = &os->maps[os->nmaps++ % MH_MAX_MAPS];
	mp->as = as;
	mp->va = va & ~(size - 1);
	mp->size = size;
	return true;
}

bool mh_os_free_table(struct mh_machine *m, int t, bool clear_first)
{
	struct mh_os *os = m->os;
	struct mh_table *T = &os->t[t];
	if (!T->used || T->prot || T->parent == -1)
		return true;
	mh_log(m, " free level-%d table %d at gpa %#llx", T->level, t, (unsigned long long)T->gpa);
	if (clear_first && T->level == 1) {
		if (mh_pct(&m->rng, 40)) {
			bool present = false;
			for (unsigned i = 0; i < mh_os_nent(os, 1); i++)
				present |= (T->e[i] & P) != 0, T->e[i] = 0;
			if (!mh_os_zero(m, T->gpa, (uint64_t)mh_os_nent(os, 1) * os->esize))
				return false;
			if (present)
				mh_os_pend_full(m, T->as, T->as < 0);
		} else {
			/* entry by entry: the pattern early unshadowing looks for */
			unsigned n = 0;
			for (unsigned i = 0; i < mh_os_nent(os, 1) && n < 6; i++)
				if (T->e[i] || mh_pct(&m->rng, 1)) {
					if (!mh_os_write_entry(m, t, i, 0))
						return false;
					n++;
				}
		}
	}
	if (T->parent == MH_KROOT) {
		if (!mh_os_write_kroot(m, T->pidx, 0, -1))
			return false;
	} else {
		if (!mh_os_write_entry(m, T->parent, T->pidx, 0))
			return false;
		os->t[T->parent].child[T->pidx] = -1;
	}
	mh_os_release(m, t);
	return true;
}

bool mh_os_may_garble(struct mh_machine *m, uint64_t gpa)
{
	struct mh_os *os = m->os;
	uint64_t g = gpa >> 12;
	if (!mh_ram(m, g) || !os->levels || os->fstate[g] != MH_F_TABLE)
		return true;
	struct mh_table *T = &os->t[os->tab_of_gfn[g]];
	/* With out-of-sync pages any write to a table may leave the shadows
	 * stale (even one that puts back what was there: its own A/D); the
	 * OS then flushes before the next access, as it must. */
	if (m->policy.oos)
		mh_os_pend_full(m, T->as, T->as < 0);
	if (T->prot)
		return false;
	return m->policy.oos == 0 || T->level == 1;
}
