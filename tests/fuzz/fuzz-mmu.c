/*
 * fuzz-mmu.c — a hostile guest against the shadow MMU.  The input chooses
 * the guest's page tables (any entries, mostly pointing into a small RAM,
 * so there are loops, self-references, tables used at several levels,
 * tables mapped as data, pointers outside RAM), its paging mode and
 * policy, a tiny pool, and a sequence of events: accesses performed by a
 * "hardware" that walks the shadow tables and raises #PF into the core
 * (with arbitrary instruction bytes to emulate), control-register writes,
 * INVLPG/INVPCID/flushes, and raw #PFs with arbitrary error codes.  The
 * core must never crash or hang, every outcome must be well-formed, and
 * after every event its own audits must find nothing.
 */
#include <string.h>

#include "fuzz.h"
#include "svt.h"

#define GF 32                   /* guest RAM frames */
#define POOLMAX 40
#define POOL0 64                /* pool frames start at machine frame 64 */
#define MF (POOL0 + POOLMAX)

static uint8_t mach[MF * 4096];
static unsigned npool;

static uint64_t f_g2m(void *ctx, uint64_t gfn)
{
	(void)ctx;
	if (gfn >= GF || gfn == 13)     /* gfn 13: a device hole */
		return SVT_INVALID_MFN_RAW;
	return (gfn * 5 + 7) % GF + 32 * (gfn & 1);   /* 0..63 */
}

static svt_mfn_t f_gfn_to_mfn(void *ctx, svt_gfn_t gfn)
{
	return svt_mfn(f_g2m(ctx, svt_gfn_x(gfn)));
}

static int f_read(void *ctx, uint64_t gpa, void *buf, size_t len)
{
	for (size_t i = 0; i < len; i++) {
		uint64_t mfn = f_g2m(ctx, (gpa + i) >> 12);
		((uint8_t *)buf)[i] = mfn == SVT_INVALID_MFN_RAW ? 0xff :
			mach[mfn * 4096 + ((gpa + i) & 0xfff)];
	}
	return 0;
}

static int f_write(void *ctx, uint64_t gpa, const void *buf, size_t len)
{
	for (size_t i = 0; i < len; i++) {
		uint64_t mfn = f_g2m(ctx, (gpa + i) >> 12);
		if (mfn == SVT_INVALID_MFN_RAW)
			return -1;
		mach[mfn * 4096 + ((gpa + i) & 0xfff)] = ((const uint8_t *)buf)[i];
	}
	return 0;
}

static void *f_map(void *ctx, svt_mfn_t f)
{
	uint64_t mfn = svt_mfn_x(f);
	(void)ctx;
	return mfn >= POOL0 && mfn < POOL0 + npool ? mach + mfn * 4096 : NULL;
}

static void f_flush(void *ctx, int kind, uint64_t va)
{
	(void)ctx, (void)kind, (void)va;
}

static int h_read(void *ctx, uint64_t pa, void *buf, size_t len)
{
	(void)ctx;
	if (pa + len > sizeof(mach))
		return -1;
	memcpy(buf, mach + pa, len);
	return 0;
}

static int h_write(void *ctx, uint64_t pa, const void *buf, size_t len)
{
	(void)ctx;
	if (pa + len > sizeof(mach))
		return -1;
	memcpy(mach + pa, buf, len);
	return 0;
}

static void audit(struct svt_mmu *m, const char *after)
{
	struct svt_violation v[4];
	unsigned n = svt_mmu_audit(m, SVT_AUDIT_ALL, v, 4);
	for (unsigned i = 0; i < n && i < 4; i++)
		fprintf(stderr,
			"%s gfn %#llx idx %u level %u guest %#llx shadow %#llx va %#llx: %s\n",
			svt_invariant_name(v[i].inv),
			(unsigned long long)svt_gfn_x(v[i].gfn), v[i].index, v[i].level,
			(unsigned long long)v[i].guest_entry, (unsigned long long)v[i].shadow_entry,
			(unsigned long long)v[i].va, v[i].what);
	FZ_CHECK(n == 0, "%u violations after %s", n, after);
}

/* One access as the hardware would do it, with the core handling #PFs. */
static void hw_access(struct svt_mmu *m, struct svt_access *acc, struct fz *f, uint32_t pkru,
		      uint64_t rflags)
{
	uint8_t insn[16];
	struct svt_emu_regs regs;

	for (unsigned i = 0; i < sizeof(insn); i++)
		insn[i] = fz_u8(f);
	memset(&regs, 0, sizeof(regs));
	for (unsigned i = 0; i < 16; i++)
		regs.gpr[i] = (fz_u8(f) & 1) ? acc->va : fz_u64(f, 2);
	regs.rflags = 2;
	for (int tries = 0; tries < 8; tries++) {
		struct svt_hw_state hs;
		struct svt_regs r = { .maxphyaddr = 52, .features = SVT_FEAT_1GPAGE,
				      .pkru = pkru, .rflags = rflags };
		struct svt_env henv = { .read_gpa = h_read, .write_gpa = h_write };
		struct svt_walk w;

		svt_mmu_hw_state(m, &hs);
		r.cr0 = hs.cr0, r.cr3 = hs.cr3, r.cr4 = hs.cr4, r.efer = hs.efer;
		FZ_CHECK(svt_paging_mode(&r) == hs.mode,
			 "hardware state is not the mode it claims");
		if (hs.mode == SVT_MODE_PAE)
			FZ_CHECK(svt_pae_load_pdptes(&henv, &r) == 0, "shadow PDPTEs do not load");
		enum svt_walk_status st = svt_walk(&henv, &r, acc, SVT_WALK_SET_AD, &w);
		if (st == SVT_WALK_OK) {
			FZ_CHECK(w.gpa < POOL0 * 4096ull,
				 "the guest reached machine memory outside RAM");
			return;
		}
		if (st == SVT_WALK_GP)
			return;
		FZ_CHECK(st == SVT_WALK_PF, "shadow walk status %d", st);
		struct svt_fault flt = { .va = acc->va, .error_code = w.error_code, .cpl = acc->cpl,
					 .rflags = rflags, .pkru = pkru, .regs = &regs,
					 .code_bits = hs.mode >= SVT_MODE_4LEVEL ? 64 : 32,
					 .insn = insn, .insn_len = fz_u8(f) & 1 ? 16 : 0 };
		struct svt_fault_result res;
		enum svt_pf_outcome o = svt_mmu_page_fault(m, &flt, &res);
		FZ_CHECK(o <= SVT_PF_RETRY, "outcome %d", o);
		if (o == SVT_PF_INJECT) {
			FZ_CHECK((res.error_code & ~0x3fu) == 0, "error code %#x", res.error_code);
			FZ_CHECK(res.cr2 == acc->va || hs.mode < SVT_MODE_4LEVEL, "CR2");
			return;
		}
		if (o == SVT_PF_MMIO || o == SVT_PF_EMULATED)
			return;
	}
	/* Giving up after 8 tries is fine for a hostile guest only if the
	 * core is still consistent: the audit after the event says so. */
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static uint64_t store[(1 << 22) / 8];
	struct fz f = { data, size, 0 };

	memset(mach, 0, sizeof(mach));
	uint8_t sel = fz_u8(&f);
	npool = 16 + fz_u8(&f) % (POOLMAX - 15);
	struct svt_mmu_config cfg = {
		.pool_frames = npool, .guest_frames = GF, .maxphyaddr = (uint8_t)(36 + (sel & 7)),
		.features = SVT_FEAT_1GPAGE, .links = 64 + fz_u8(&f) * 4,
		.policy = { .oos = (sel >> 3) & 3, .prefetch = (sel & 0x20) ? 8 : 0,
			    .early_unshadow = (sel & 0x40) != 0, .emulate = (sel & 0x80) != 0 },
	};
	svt_mfn_t mfns[POOLMAX];
	for (unsigned i = 0; i < npool; i++)
		mfns[i] = svt_mfn(POOL0 + i);
	struct svt_env env = { .read_gpa = f_read, .write_gpa = f_write, .gfn_to_mfn = f_gfn_to_mfn,
			       .map_mfn = f_map, .flush_tlb = f_flush };
	size_t need = svt_mmu_storage_size(&cfg);
	FZ_CHECK(need > 0 && need <= sizeof(store), "storage %zu", need);
	struct svt_mmu *m = svt_mmu_init(store, sizeof(store), &cfg, &env, mfns);
	FZ_CHECK(m != NULL, "init");

	/* Guest RAM: entries chosen by the input (2 bytes each), the rest zero. */
	unsigned nent = fz_u8(&f);
	for (unsigned i = 0; i < nent && fz_more(&f); i++) {
		uint8_t a = fz_u8(&f), b = fz_u8(&f);
		/* flags P RW US PWT PCD A D PS */
		uint64_t e = ((uint64_t)(a % (GF + 4)) << 12) | b;
		if (a & 0x80)
			e |= 1ull << 63;
		/* mostly the first entries of a table, where the accesses below go */
		uint8_t c = fz_u8(&f);
		uint64_t gpa = ((uint64_t)(c % GF) << 12) |
			((uint64_t)(c & 0x80 ? fz_u8(&f) : fz_u8(&f) & 7) << 3);
		f_write(NULL, gpa, &e, 8);
	}

	uint32_t pkru = 0;
	uint64_t rflags = 2;
	for (unsigned ev = 0; ev < 48 && fz_more(&f); ev++) {
		uint8_t op = fz_u8(&f);
		uint64_t x = fz_u64(&f, 8);
		switch (op % 10) {
		case 0: case 1: case 2: case 3: {
			/* Addresses whose table indices are small (where the input's
			 * entries are), now and then any address. */
			uint64_t va = x;
			if (!(op & 0x10)) {
				va = 0;
				for (unsigned k = 0; k < 5; k++)
					va |= ((x >> (8 * k)) & 7) << (12 + 9 * k);
				va |= (x >> 40) & 0xfff;
				if (x & (1ull << 63))   /* 2-level and PAE index layout */
					va = (((x >> 8) & 3) << 30) | (((x >> 16) & 7) << 22) |
					     (((x >> 24) & 7) << 12);
			}
			struct svt_access acc = {
				.va = va,
				.kind = (enum svt_access_kind)((op >> 5) % 3),
				.cpl = (op & 0x80) ? 3 : 0,
			};
			acc.implicit = acc.kind != SVT_ACC_FETCH && (x & 1) && (op & 0x80);
			if (svt_mmu_guest_regs(m)->efer & SVT_EFER_LMA)
				acc.va = (uint64_t)((int64_t)(acc.va << 16) >> 16);
			else
				acc.va &= 0xffffffffu;
			hw_access(m, &acc, &f, pkru, rflags);
			break;
		}
		case 4:
			svt_mmu_write_cr3(m, ((x % (GF + 2)) << 12) | ((x >> 20) & 0xfe0) |
					     (x & (1ull << 63)));
			break;
		case 5:
			svt_mmu_write_cr0(m, 0x10 | SVT_CR0_PE | (x & (SVT_CR0_PG | SVT_CR0_WP)));
			break;
		case 6:
			svt_mmu_write_cr4(m, x & (SVT_CR4_PSE | SVT_CR4_PAE | SVT_CR4_PGE |
						  SVT_CR4_LA57 | SVT_CR4_PCIDE | SVT_CR4_SMEP |
						  SVT_CR4_SMAP | SVT_CR4_PKE));
			break;
		case 7:
			svt_mmu_write_efer(m, x & (SVT_EFER_LME | SVT_EFER_NXE));
			break;
		case 8:
			switch (x & 3) {
			case 0: svt_mmu_invlpg(m, x >> 2); break;
			case 1: svt_mmu_invpcid(m, (unsigned)(x >> 2) & 7, (x >> 5) & 0x1fff,
						x >> 20); break;
			case 2: svt_mmu_flush_all(m); break;
			case 3:
				pkru = (uint32_t)(x >> 2);
				rflags = 2 | ((x >> 8) & SVT_RFLAGS_AC);
				if (x & 4)      /* and the end of a step (any open, or none) */
					svt_mmu_step_done(m);
				break;
			}
			break;
		case 9: {
			/* A raw #PF with an arbitrary error code, as a confused or
			 * malicious recording might present. */
			struct svt_fault flt = { .va = x, .error_code = (uint32_t)(x >> 40) & 0x3f,
						 .cpl = op >> 6, .rflags = rflags, .pkru = pkru };
			struct svt_fault_result res;
			FZ_CHECK(svt_mmu_page_fault(m, &flt, &res) <= SVT_PF_RETRY, "outcome");
			break;
		}
		}
		audit(m, "an event");
	}
	return 0;
}
