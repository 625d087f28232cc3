/*
 * mmu-access.c — the accesses of the random guest and its programs: reads
 * and fetches of 1-8 bytes, implicit supervisor accesses, misaligned MOVs,
 * and write instructions of every kind the emulator knows (MOV, MOV imm,
 * XCHG, CMPXCHG either way, CMPXCHG8B, CMPXCHG16B in 64-bit code, LOCK
 * OR/AND/XOR/ADD/SUB, BTS/BTR, STOS and MOVS with and without REP), at
 * CPL 0-3, with RFLAGS.AC and PKRU varied.  Where the guest OS needs its
 * page tables to stay what it built (mh_os_may_garble) a write puts back
 * what is there.  The list of
 * known core bugs the guest steers around is here too.
 */
#include <string.h>

#include "mmu-harness.h"

/* ---- what an access looks like ----------------------------------------- */

/* Mostly the privilege the address is meant for: programs touch user
 * addresses, the kernel its own. */
static unsigned pick_cpl(struct mh_machine *m, uint64_t va)
{
	const struct mh_os *os = m->os;
	bool user = (m->arch.cr0 & SVT_CR0_PG) &&
		    (os->levels >= 4 ? (int64_t)va >= 0 : va < 0x80000000ull);
	unsigned r = (unsigned)mh_below(&m->rng, 100);
	if (r < 25)
		return (unsigned)mh_below(&m->rng, 4);
	return user ? 3 : r < 90 ? 0 : 1 + (unsigned)mh_below(&m->rng, 2);
}

static void pick_context(struct mh_machine *m)
{
	if (mh_pct(&m->rng, 20))
		m->regs.rflags ^= SVT_RFLAGS_AC;
	if (mh_pct(&m->rng, 15))
		m->pkru = mh_pct(&m->rng, 40) ? 0 : (uint32_t)mh_rand(&m->rng) &
			  (uint32_t)mh_rand(&m->rng) & ~3u;
}

static bool paging(const struct mh_machine *m)
{
	return (m->arch.cr0 & SVT_CR0_PG) != 0;
}

/* A page-aligned linear address worth touching. */
uint64_t mh_pick_page(struct mh_machine *m)
{
	struct mh_os *os = m->os;
	unsigned r = (unsigned)mh_below(&m->rng, 100);
	if (!paging(m)) {
		if (r < 85)
			return mh_below(&m->rng, m->gframes + 16) << 12;
		if (r < 95)
			return (m->hole_lo + mh_below(&m->rng, m->hole_n)) << 12;
		return mh_rand(&m->rng) & 0xfffff000ull;
	}
	if (r < 62 && os->nmaps)
		for (int k = 0; k < 6; k++) {
			unsigned n = os->nmaps < MH_MAX_MAPS ? os->nmaps : MH_MAX_MAPS;
			const struct mh_map *mp = &os->maps[mh_below(&m->rng, n)];
			if (mp->as >= 0 && mp->as != os->cur)
				continue;
			uint64_t pages = mp->size >> 12 < 16 ? mp->size >> 12 : 16;
			return mh_os_canon(os, mp->va + (mh_below(&m->rng, pages) << 12));
		}
	if (r < 80)
		return os->dmap + (mh_below(&m->rng, m->gframes + 32) << 12);
	if (r < 87)
		return os->kdyn + (mh_below(&m->rng, 64) << 12);
	uint64_t va;
	if (r < 96)
		va = os->ubase[mh_below(&m->rng, os->nubase)] + (mh_below(&m->rng, 64) << 12);
	else
		va = mh_rand(&m->rng);
	va = mh_os_canon(os, va) & ~0xfffull;
	if (os->levels >= 4 && mh_pct(&m->rng, 3))
		va ^= 1ull << 60;               /* not canonical: #GP */
	return va;
}

static uint64_t rand_value(struct mh_machine *m)
{
	unsigned r = (unsigned)mh_below(&m->rng, 100);
	if (r < 30)
		return mh_below(&m->rng, 256);
	if (r < 60)
		return (mh_below(&m->rng, m->gframes + 8) << 12) | (mh_rand(&m->rng) & 0x1ff) |
		       (mh_pct(&m->rng, 20) ? mh_rand(&m->rng) & 0xfff0000000000000ull : 0);
	return mh_rand(&m->rng);
}

static uint64_t size_mask(unsigned size)
{
	return size == 8 ? ~0ull : (1ull << (8 * size)) - 1;
}

/* The bytes at va now, if a write there may only keep them (see
 * mh_os_may_garble); else a random value. */
static uint64_t write_value(struct mh_machine *m, uint64_t va, unsigned size, unsigned cpl,
			    bool implicit, bool *benign)
{
	uint64_t gpa, cr2;
	uint32_t ec;
	*benign = false;
	if (mh_or_translate(m, va, SVT_ACC_WRITE, implicit ? 0 : cpl, implicit, false,
			    &gpa, &ec, &cr2) == 0 && mh_ram(m, gpa >> 12) &&
	    !mh_os_may_garble(m, gpa)) {
		*benign = true;
		return mh_twin_read(m, gpa, size);
	}
	return rand_value(m) & size_mask(size);
}

/* write_value() for a write that may cross into the next page: each part
 * is judged where it lands, and if either may only keep its bytes, both
 * do (a part that does not translate is never written: any value). */
static uint64_t write_value2(struct mh_machine *m, uint64_t va, unsigned size, unsigned cpl,
			     bool *benign)
{
	unsigned first = (unsigned)(MH_PAGE - (va & 0xfff));
	if (first >= size)
		return write_value(m, va, size, cpl, false, benign);
	uint64_t cur = 0, gpa, cr2;
	uint32_t ec;
	*benign = false;
	for (unsigned part = 0; part < 2; part++) {
		unsigned off = part ? first : 0, n = part ? size - first : first;
		if (mh_or_translate(m, va + off, SVT_ACC_WRITE, cpl, false, false, &gpa, &ec,
				    &cr2) != 0 || !mh_ram(m, gpa >> 12))
			continue;
		if (!mh_os_may_garble(m, gpa))
			*benign = true;
		cur |= mh_twin_read(m, gpa, n) << (8 * off);
	}
	return *benign ? cur : rand_value(m) & size_mask(size);
}

bool mh_gen_write(struct mh_machine *m, uint64_t page, unsigned cpl, uint64_t *ava)
{
	static const unsigned weight[MH_W_COUNT] = {
		[MH_W_MOV] = 24, [MH_W_MOVI] = 6, [MH_W_XCHG] = 8, [MH_W_CMPXCHG] = 12,
		[MH_W_CMPXCHG8B] = 5, [MH_W_OR] = 4, [MH_W_AND] = 4, [MH_W_XOR] = 3,
		[MH_W_ADD] = 3, [MH_W_SUB] = 2, [MH_W_BTS] = 5, [MH_W_BTR] = 5,
		[MH_W_STOS] = 9, [MH_W_MOVS] = 8, [MH_W_CMPXCHG16B] = 3,
	};
	int bits = mh_code_bits(m);
	unsigned total = 0, r, size;
	enum mh_wop op = MH_W_MOV;
	for (int i = 0; i < MH_W_COUNT; i++)
		total += weight[i];
	r = (unsigned)mh_below(&m->rng, total);
	for (int i = 0; i < MH_W_COUNT; i++) {
		if (r < weight[i]) {
			op = (enum mh_wop)i;
			break;
		}
		r -= weight[i];
	}
	if (op == MH_W_CMPXCHG16B && bits != 64)
		op = MH_W_CMPXCHG8B;
	size = op == MH_W_CMPXCHG8B ? 8 : op == MH_W_CMPXCHG16B ? 16 :
	       1u << mh_below(&m->rng, bits == 64 ? 4 : 3);
	if ((op == MH_W_BTS || op == MH_W_BTR) && size == 1)
		size = 4;
	/* Now and then the write crosses into the next page (CMPXCHG16B must
	 * be aligned): absent or read-only there, the #PF is the second
	 * page's unless the first faults, and nothing is written; into a
	 * page table, the core emulates both parts. */
	bool cross = paging(m) && (m->force_cross || mh_pct(&m->rng, 6)) && op != MH_W_CMPXCHG16B;
	if (cross && size == 1)
		size = 2u << mh_below(&m->rng, bits == 64 ? 2 : 1);
	if (cross && m->os->levels && !m->force_cross) {
		/* where the next page is what the test wants: a page table
		 * (through the direct map, at CPL 0), or the first page past
		 * a mapping (often absent or with other rights) */
		struct mh_os *os = m->os;
		unsigned w = (unsigned)mh_below(&m->rng, 100);
		int t = (int)mh_below(&m->rng, MH_MAX_TABLES);
		for (unsigned k = 0; k < 16 && !os->t[t].used; k++)
			t = (int)mh_below(&m->rng, MH_MAX_TABLES);
		if (w < 35 && os->t[t].used) {
			page = mh_os_pt_va(m, os->t[t].gpa & ~0xfffull) - MH_PAGE;
			cpl = 0;
		} else if (w < 70 && os->nmaps) {
			unsigned n = os->nmaps < MH_MAX_MAPS ? os->nmaps : MH_MAX_MAPS;
			const struct mh_map *mp = &os->maps[mh_below(&m->rng, n)];
			if (mp->as < 0 || mp->as == os->cur)
				page = mh_os_canon(os, mp->va + mp->size - MH_PAGE);
		}
	}
	uint64_t va = cross ? page + MH_PAGE - 1 - mh_below(&m->rng, size - 1) :
		      page + mh_below(&m->rng, MH_PAGE / size) * size;
	*ava = va;
	bool benign;
	unsigned q = size > 8 ? 8 : size;      /* CMPXCHG16B: the low quadword here */
	uint64_t cur = write_value2(m, va, q, cpl, &benign);
	uint64_t src = rand_value(m) & size_mask(q), cmp = cur, count = 0, src_va = 0;
	uint64_t cmp_hi = 0, src_hi = 0;
	if (op == MH_W_CMPXCHG16B) {
		bool b2;
		cmp_hi = write_value(m, va + 8, 8, cpl, false, &b2);
		src_hi = b2 ? cmp_hi : rand_value(m);
	}
	m->regs.rflags &= ~(uint64_t)SVT_EMU_DF;
	if (benign) {
		switch (op) {
		case MH_W_OR: case MH_W_XOR: case MH_W_ADD: case MH_W_SUB:
			src = 0;
			break;
		case MH_W_AND:
			src = size_mask(size);
			break;
		case MH_W_CMPXCHG: case MH_W_CMPXCHG8B: case MH_W_CMPXCHG16B:
			cmp = cur ^ 1;  /* the compare fails: the bytes written back */
			break;
		case MH_W_BTS: case MH_W_BTR: {
			unsigned b0 = (unsigned)mh_below(&m->rng, 8 * size), b = 0;
			bool want = op == MH_W_BTS, found = false;
			for (unsigned k = 0; k < 8 * size && !found; k++) {
				b = (b0 + k) % (8 * size);
				found = ((cur >> b) & 1) == want;
			}
			if (!found)
				op = MH_W_MOV, src = cur;
			else
				src = b;
			break;
		}
		case MH_W_XCHG:
			src = cur;
			break;
		default:
			op = MH_W_MOV;
			src = cur;
			break;
		}
	} else {
		/* elements that fit before the end of the page; a crossing
		 * one, then some of the next page (misaligned: one element a
		 * pass of the emulator, which both sides allow 64 of) */
		uint64_t room = (MH_PAGE - (va & 0xfff)) / size;
		if (!room)
			room = 1 + mh_below(&m->rng, 32);
		if (op == MH_W_CMPXCHG || op == MH_W_CMPXCHG8B || op == MH_W_CMPXCHG16B)
			cmp = mh_pct(&m->rng, 50) ? cur : rand_value(m);
		if (op == MH_W_STOS && mh_pct(&m->rng, 50))
			count = 1 + mh_below(&m->rng, room);
		if (op == MH_W_MOVS) {
			src_va = mh_pick_page(m) + mh_below(&m->rng, MH_PAGE);
			if (mh_pct(&m->rng, 40))
				count = 1 + mh_below(&m->rng, room < 64 ? room : 64);
		}
		if ((op == MH_W_STOS || op == MH_W_MOVS) && !count && mh_pct(&m->rng, 10))
			m->regs.rflags |= SVT_EMU_DF;
	}
	struct mh_insn in;
	struct mh_end end;
	if (!mh_encode(m, op, size, bits, va, src, cmp, count, src_va, &in))
		mh_encode(m, MH_W_MOV, q, bits, va, src, 0, 0, 0, &in);
	else if (op == MH_W_CMPXCHG16B) {
		m->regs.gpr[SVT_EMU_RDX] = cmp_hi;
		m->regs.gpr[SVT_EMU_RCX] = src_hi;
	}
	mh_log(m, " %s%s %u bytes at %#llx%s%s", count ? "rep " : "", mh_wop_name(op), size,
	       (unsigned long long)va, benign ? " (keeping the bytes: a page table)" : "",
	       cross ? " (crossing into the next page)" : "");
	return mh_insn(m, in.b, in.len, cpl, &end);
}

/*
 * Known limitations of the core (docs/core.md, "Known limitations").
 * Unless one is exposed (mh_config.expose; mmu-soak --expose Kn or
 * --strict), the guest avoids what it fails on, so that a run goes on
 * testing the rest.  None is avoided today:
 *   K3  an implicit supervisor access at CPL 0-2 under SMAP with
 *       RFLAGS.AC=1 that comes with no evidence the core can tell it by
 *       (an explicit operand over a system table, no instruction outside
 *       event delivery): the core takes it for an explicit one,
 *       propagates (setting A, and D for a write, in the guest's entries)
 *       or reports MMIO, where bare metal raises #PF and sets nothing.
 *       This harness hands its implicit accesses over with evidence, in
 *       a segment load, during event delivery or by an instruction with
 *       explicit operands elsewhere (pick_pres() in mmu-exec.c), which
 *       the core tells: nothing to avoid.
 * K1, K5, K6, K8, K9 and K10 were core bugs this harness found, K2, K4, K7,
 * K11, K12 and K13 limitations (K2 and K7: an implicit write that must be
 * emulated, by the supervisor to a read-only page under CR0.WP=0, to the
 * current top-level table, or to a page table on the walk of the very
 * address written, was retried for ever; the core now lets the hardware
 * perform it, with the table out of sync until the next flush or the path
 * writable and supervisor-only.  K4: with 32-bit shadows and no SMEP a
 * fetch fault had no I/D bit, so the core took a supervisor fetch from a
 * user page under SMAP
 * for a read and injected a #PF bare metal does not raise; 2-level guests
 * now get PAE-format shadows with NXE on.  K11: with emulation off, a MOVS
 * whose destination is a page table on the walk of its source never
 * completed.  K12: a write the core must emulate that crosses into a page
 * with nothing behind it was retried for ever.  K13: such an implicit
 * write under CR0.WP=0 to a page the guest's walk makes user-accessible,
 * with CR4.SMAP or (IA-32e) CR4.PKE on, was retried for ever, as a
 * supervisor-only path would let the supervisor past SMAP and the keys
 * later; the core now grants the path for one step, which the hypervisor
 * ends at the next exit (mh_vm_exit())); they are fixed and no longer
 * avoided.
 */
bool mh_step_access(struct mh_machine *m, uint64_t *ava)
{
	struct mh_os *os = m->os;
	uint64_t page = os->nrecent_va && mh_pct(&m->rng, 40) ?
		os->recent_va[mh_below(&m->rng, os->nrecent_va < 8 ? os->nrecent_va : 8)] :
		mh_pick_page(m);
	unsigned cpl = pick_cpl(m, page), r = (unsigned)mh_below(&m->rng, 100), size;
	uint64_t va, val = 0;
	os->recent_va[os->nrecent_va++ % 8] = page;     /* locality: come back soon */
	struct mh_end end;
	pick_context(m);
	if (r < 30) {
		size = 1u << mh_below(&m->rng, 4);
		va = page + mh_below(&m->rng, MH_PAGE - size + 1);
		*ava = va;
		return mh_data(m, va, size, SVT_ACC_READ, cpl, false, NULL, 0, &val, &end);
	}
	if (r < 37) {
		va = page + mh_below(&m->rng, MH_PAGE);
		*ava = va;
		return mh_data(m, va, 1, SVT_ACC_FETCH, cpl, false, NULL, 0, &val, &end);
	}
	if (r < 45) {
		bool write = r >= 42;
		bool benign;
		size = 1u << mh_below(&m->rng, 4);
		va = page + mh_below(&m->rng, MH_PAGE / size) * size;
		*ava = va;
		enum svt_access_kind k = write ? SVT_ACC_WRITE : SVT_ACC_READ;
		if (write)
			val = write_value(m, va, size, cpl, true, &benign);
		return mh_data(m, va, size, k, cpl, true, NULL, 0, &val, &end);
	}
	if (r < 50) {
		int bits = mh_code_bits(m);
		bool benign;
		struct mh_insn in;
		size = 2u << mh_below(&m->rng, bits == 64 ? 3 : 2);
		va = page + (mh_below(&m->rng, MH_PAGE - size) | 1);
		*ava = va;
		val = write_value(m, va, size, cpl, false, &benign);
		mh_encode_mov(m, size, bits, va, val, &in);
		return mh_data(m, va, size, SVT_ACC_WRITE, cpl, false, in.b, in.len, &val, &end);
	}
	return mh_gen_write(m, page, cpl, ava);
}
