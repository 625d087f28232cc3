/*
 * test-mmu-unit.c — unit tests of the shadow MMU core through its public
 * interface, one component at a time: the 1:1 tables while paging is off,
 * propagation and A/D, injected faults, write protection and emulation of
 * page-table writes, reverse maps, the pool and eviction, each policy
 * (out-of-sync, prefetch, early unshadow, emulate/unshadow), CR0.WP=0
 * emulation, MMIO, control-register checks and the audits themselves.
 * The "hardware" here is the core's own walker (tested on its own against
 * the SDM model) over the shadow tables; the model-based harness
 * (test-mmu-model.c) checks everything against an independent oracle.
 */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "svt.h"
#include "mmu_int.h"      /* free_list_audited_from_its_top: the pool itself */

#define GFRAMES 256             /* guest RAM: 1 MiB */
#define HOLE    200             /* gfn 200..207: not RAM (MMIO) */
#define MFRAMES 1024            /* machine memory */
#define POOL_BASE 600           /* pool frames start here */

struct mach {
	uint8_t mem[MFRAMES * 4096];
	unsigned pool;
	unsigned flushes;
	struct svt_mmu *mmu;
	void *store;
	struct svt_env env;
	uint32_t pkru;
	uint64_t rflags;
	unsigned outcomes[5];
};

static struct mach *M;

static uint64_t g2m(uint64_t gfn)
{
	/* a fixed shuffle: guest frames are never their machine frames */
	return (gfn * 7 + 3) % GFRAMES + 300 * (gfn % 2);
}

static uint64_t e_gfn_to_mfn(void *ctx, uint64_t gfn)
{
	(void)ctx;
	if (gfn >= GFRAMES || (gfn >= HOLE && gfn < HOLE + 8))
		return SVT_INVALID_MFN_RAW;
	return g2m(gfn);
}

static svt_mfn_t e_g2m(void *ctx, svt_gfn_t gfn)
{
	return svt_mfn(e_gfn_to_mfn(ctx, svt_gfn_x(gfn)));
}

static int e_read(void *ctx, uint64_t gpa, void *buf, size_t len)
{
	struct mach *m = ctx;
	for (size_t i = 0; i < len; i++) {
		uint64_t mfn = e_gfn_to_mfn(m, (gpa + i) >> 12);
		((uint8_t *)buf)[i] = mfn == SVT_INVALID_MFN_RAW ? 0 :
			m->mem[mfn * 4096 + ((gpa + i) & 0xfff)];
	}
	return 0;
}

static int e_write(void *ctx, uint64_t gpa, const void *buf, size_t len)
{
	struct mach *m = ctx;
	for (size_t i = 0; i < len; i++) {
		uint64_t mfn = e_gfn_to_mfn(m, (gpa + i) >> 12);
		if (mfn == SVT_INVALID_MFN_RAW)
			return -1;
		m->mem[mfn * 4096 + ((gpa + i) & 0xfff)] = ((const uint8_t *)buf)[i];
	}
	return 0;
}

static void *e_map(void *ctx, svt_mfn_t f)
{
	struct mach *m = ctx;
	uint64_t mfn = svt_mfn_x(f);
	if (mfn < POOL_BASE || mfn >= POOL_BASE + m->pool)
		return NULL;
	return m->mem + mfn * 4096;
}

static void e_flush(void *ctx, int kind, uint64_t va)
{
	(void)kind, (void)va;
	((struct mach *)ctx)->flushes++;
}

static uint64_t (*clock_fn)(void *ctx);      /* the environment's ticks, if any */
static void (*event_fn)(void *ctx, const struct svt_event *ev);     /* told of events, if any */

static void mach_init(unsigned pool, struct svt_policy pol)
{
	struct svt_mmu_config cfg = {
		.pool_frames = pool, .guest_frames = GFRAMES, .maxphyaddr = 40,
		.features = SVT_FEAT_1GPAGE, .policy = pol,
	};
	svt_mfn_t mfns[400];

	M = calloc(1, sizeof(*M));
	cr_assert_not_null(M);
	M->pool = pool;
	M->env = (struct svt_env){ .ctx = M, .read_gpa = e_read, .write_gpa = e_write,
				   .gfn_to_mfn = e_g2m, .map_mfn = e_map, .flush_tlb = e_flush,
				   .ticks = clock_fn, .event = event_fn };
	for (unsigned i = 0; i < pool; i++)
		mfns[i] = svt_mfn(POOL_BASE + i);
	size_t sz = svt_mmu_storage_size(&cfg);
	cr_assert_gt(sz, 0);
	M->store = aligned_alloc(8, (sz + 7) & ~(size_t)7);
	M->mmu = svt_mmu_init(M->store, sz, &cfg, &M->env, mfns);
	cr_assert_not_null(M->mmu);
	M->rflags = 2;
}

static void mach_fini(void)
{
	free(M->store);
	free(M);
}

static uint64_t gread(uint64_t gpa, unsigned size)
{
	uint8_t b[8] = { 0 };
	e_read(M, gpa, b, size);
	uint64_t v = 0;
	for (unsigned i = size; i-- > 0;)
		v = (v << 8) | b[i];
	return v;
}

static void gwrite(uint64_t gpa, uint64_t v, unsigned size)
{
	uint8_t b[8];
	for (unsigned i = 0; i < size; i++)
		b[i] = (uint8_t)(v >> (8 * i));
	e_write(M, gpa, b, size);
}

/* The hardware: walk the shadow tables in machine memory. */
static int hw_read(void *ctx, uint64_t pa, void *buf, size_t len)
{
	(void)ctx;
	if (pa + len > sizeof(M->mem))
		return -1;
	memcpy(buf, M->mem + pa, len);
	return 0;
}

static int hw_write(void *ctx, uint64_t pa, const void *buf, size_t len)
{
	(void)ctx;
	if (pa + len > sizeof(M->mem))
		return -1;
	memcpy(M->mem + pa, buf, len);
	return 0;
}

static enum svt_walk_status t_hw_walk(const struct svt_access *acc, struct svt_walk *w)
{
	struct svt_hw_state hs;
	struct svt_env henv = { .ctx = M, .read_gpa = hw_read, .write_gpa = hw_write };
	struct svt_regs r = { .maxphyaddr = 40, .features = SVT_FEAT_1GPAGE };

	svt_mmu_hw_state(M->mmu, &hs);
	r.cr0 = hs.cr0, r.cr3 = hs.cr3, r.cr4 = hs.cr4, r.efer = hs.efer;
	r.pkru = M->pkru, r.rflags = M->rflags;
	if (hs.mode == SVT_MODE_PAE)
		cr_assert_eq(svt_pae_load_pdptes(&henv, &r), 0, "shadow PDPTEs must load");
	return svt_walk(&henv, &r, acc, SVT_WALK_SET_AD, w);
}

struct result {
	int kind;               /* 0 done, 1 #PF injected, 2 MMIO */
	uint32_t ec;
	uint64_t cr2;
	uint64_t mpa;           /* machine address reached */
};

/* One access, as the CPU under VT-x would perform it; writes are
 * MOV [RDI], RAX (8 bytes) so the core can emulate them. */
static struct result access8(uint64_t va, enum svt_access_kind kind, uint8_t cpl, uint64_t val)
{
	struct svt_access acc = { .va = va, .kind = kind, .cpl = cpl };
	static const uint8_t mov[] = { 0x48, 0x89, 0x07 };
	struct result r = { 0 };

	for (int tries = 0; tries < 16; tries++) {
		struct svt_walk w;
		if (t_hw_walk(&acc, &w) == SVT_WALK_OK) {
			r.mpa = w.gpa;
			if (kind == SVT_ACC_WRITE)
				for (unsigned i = 0; i < 8; i++)
					M->mem[w.gpa + i] = (uint8_t)(val >> (8 * i));
			return r;
		}
		struct svt_emu_regs regs = { .rip = 0x1000 };
		regs.gpr[SVT_EMU_RDI] = va;
		regs.gpr[SVT_EMU_RAX] = val;
		struct svt_fault f = {
			.va = va, .error_code = w.error_code, .cpl = cpl, .rflags = M->rflags,
			.pkru = M->pkru, .regs = &regs, .code_bits = 64, .insn = mov, .insn_len = 3,
		};
		struct svt_fault_result fr;
		enum svt_pf_outcome o = svt_mmu_page_fault(M->mmu, &f, &fr);
		M->outcomes[o]++;
		switch (o) {
		case SVT_PF_INJECT:
			r.kind = 1, r.ec = fr.error_code, r.cr2 = fr.cr2;
			return r;
		case SVT_PF_MMIO:
			r.kind = 2, r.mpa = fr.gpa;
			return r;
		case SVT_PF_EMULATED:
			cr_assert_eq(regs.rip, 0x1003, "emulation advances RIP");
			return r;
		default:
			break;
		}
	}
	cr_assert_fail("access to %#lx livelocked", (unsigned long)va);
	return r;
}

static void audit_clean(void)
{
	struct svt_violation v[8];
	unsigned n = svt_mmu_audit(M->mmu, SVT_AUDIT_ALL, v, 8);
	for (unsigned i = 0; i < n && i < 8; i++)
		cr_log_error("%s va %#lx gfn %#lx idx %u level %u guest %#lx shadow %#lx: %s",
			     svt_invariant_name(v[i].inv), (unsigned long)v[i].va,
			     (unsigned long)svt_gfn_x(v[i].gfn), v[i].index, v[i].level,
			     (unsigned long)v[i].guest_entry,
			     (unsigned long)v[i].shadow_entry, v[i].what);
	cr_assert_eq(n, 0, "%u violations", n);
}

/* ---- a 4-level guest -------------------------------------------------- */

#define P 1ull
#define RW 2ull
#define US 4ull
#define A 0x20ull
#define D 0x40ull
#define PS 0x80ull
#define XD (1ull << 63)

/* PML4 at gfn 1, PDPT 2, PD 3, PT 4; PT maps va 0x400000+i*4K -> gfn 16+i;
 * the direct map at 0x40000000 (PDPT[1]) is a 1 GiB page over all of RAM,
 * supervisor RW, so the guest can write its own tables. */
static void build_4level(void)
{
	gwrite(0x1000, 0x2000 | P | RW | US, 8);
	gwrite(0x2000, 0x3000 | P | RW | US, 8);
	gwrite(0x2008, 0x0 | P | RW | PS | A | D, 8);           /* 1 GiB direct map of gpa 0 */
	gwrite(0x3000 + 8 * 2, 0x4000 | P | RW | US, 8);
	for (unsigned i = 0; i < 16; i++)
		gwrite(0x4000 + 8 * i, ((16ull + i) << 12) | P | RW | US, 8);
	/* va 0x414000: the PT itself */
	gwrite(0x4000 + 8 * 20, (0x4000) | P | RW | US | A | D, 8);
	/* va 0x415000: MMIO */
	gwrite(0x4000 + 8 * 21, ((uint64_t)HOLE << 12) | P | RW | A | D, 8);
}

static void enter_4level(void)
{
	build_4level();
	cr_assert_eq(svt_mmu_write_cr4(M->mmu, SVT_CR4_PAE), 0);
	cr_assert_eq(svt_mmu_write_efer(M->mmu, SVT_EFER_LME | SVT_EFER_NXE), 0);
	cr_assert_eq(svt_mmu_write_cr3(M->mmu, 0x1000), 0);
	cr_assert_eq(svt_mmu_write_cr0(M->mmu, SVT_CR0_PE | SVT_CR0_PG | SVT_CR0_WP), 0);
	cr_assert(svt_mmu_guest_regs(M->mmu)->efer & SVT_EFER_LMA, "long mode is active");
}

static const struct svt_policy plain = { .emulate = true };

Test(mmu_unit, paging_off_is_one_to_one)
{
	mach_init(32, plain);
	gwrite(0x5123, 0xabcdef, 8);
	struct result r = access8(0x5123, SVT_ACC_READ, 0, 0);
	cr_assert_eq(r.kind, 0);
	cr_assert_eq(r.mpa, e_gfn_to_mfn(M, 5) * 4096 + 0x123);
	r = access8((uint64_t)HOLE << 12, SVT_ACC_READ, 0, 0);
	cr_assert_eq(r.kind, 2, "not RAM: MMIO");
	cr_assert_eq(r.mpa, (uint64_t)HOLE << 12);
	audit_clean();
	mach_fini();
}

Test(mmu_unit, propagation_sets_guest_ad_like_hardware)
{
	mach_init(32, plain);
	enter_4level();
	struct result r = access8(0x401008, SVT_ACC_READ, 3, 0);
	cr_assert_eq(r.kind, 0);
	cr_assert_eq(r.mpa, g2m(17) * 4096 + 8);
	cr_assert(gread(0x1000, 8) & A);
	cr_assert(gread(0x4008, 8) & A);
	cr_assert_not(gread(0x4008, 8) & D, "a read sets no D");
	audit_clean();
	/* The shadow must not be writable until the guest's D is set. */
	r = access8(0x401008, SVT_ACC_WRITE, 3, 0x55);
	cr_assert_eq(r.kind, 0);
	cr_assert(gread(0x4008, 8) & D, "the write set D in the guest PTE");
	cr_assert_eq(gread((17 << 12) + 8, 8), 0x55);
	cr_assert_geq(svt_mmu_counters(M->mmu)->ad_faults, 2);
	audit_clean();
	mach_fini();
}

Test(mmu_unit, guest_faults_are_injected_exactly)
{
	mach_init(32, plain);
	enter_4level();
	gwrite(0x4000 + 8 * 3, (19ull << 12) | P | US, 8);         /* read-only user */
	gwrite(0x4000 + 8 * 5, (21ull << 12) | P | RW | US | XD, 8); /* NX */
	struct result r = access8(0x403000, SVT_ACC_WRITE, 3, 1);
	cr_assert_eq(r.kind, 1);
	cr_assert_eq(r.ec, SVT_PFEC_P | SVT_PFEC_W | SVT_PFEC_U);
	cr_assert_eq(r.cr2, 0x403000);
	cr_assert_not(gread(0x4018, 8) & A, "a faulting access sets no A");
	r = access8(0x405000, SVT_ACC_FETCH, 3, 0);
	cr_assert_eq(r.kind, 1);
	cr_assert_eq(r.ec, SVT_PFEC_P | SVT_PFEC_U | SVT_PFEC_I);
	r = access8(0x7000000, SVT_ACC_READ, 0, 0);
	cr_assert_eq(r.kind, 1);
	cr_assert_eq(r.ec, 0, "not present, supervisor read");
	/* Supervisor write to a read-only page with CR0.WP=0 is emulated. */
	cr_assert_eq(svt_mmu_write_cr0(M->mmu, SVT_CR0_PE | SVT_CR0_PG), 0);
	r = access8(0x403010, SVT_ACC_WRITE, 0, 0x77);
	cr_assert_eq(r.kind, 0);
	cr_assert_eq(gread((19 << 12) + 0x10, 8), 0x77);
	cr_assert_eq(svt_mmu_counters(M->mmu)->emulated_wp0, 1);
	audit_clean();
	mach_fini();
}

Test(mmu_unit, page_table_writes_are_emulated_and_revalidated)
{
	mach_init(32, plain);
	enter_4level();
	cr_assert_eq(access8(0x402000, SVT_ACC_READ, 3, 0).kind, 0);
	/* The guest rewrites PTE 2 through its direct map: PT gfn 4 is shadowed,
	 * so the write traps and is emulated. */
	uint64_t pte2 = 0x40000000ull + 0x4000 + 8 * 2;
	struct result r = access8(pte2, SVT_ACC_WRITE, 0, (40ull << 12) | P | RW | US | A);
	cr_assert_eq(r.kind, 0);
	cr_assert_eq(svt_mmu_counters(M->mmu)->emulated, 1);
	cr_assert_eq(gread(0x4010, 8), (40ull << 12) | P | RW | US | A);
	audit_clean();
	r = access8(0x402000, SVT_ACC_READ, 3, 0);
	cr_assert_eq(r.mpa, g2m(40) * 4096, "the shadow follows the new entry at once");
	/* Mapping the page table itself writable leaves it read-only in the shadow. */
	r = access8(0x414000 + 8 * 7, SVT_ACC_WRITE, 0, 0);
	cr_assert_eq(r.kind, 0);
	cr_assert_eq(svt_mmu_counters(M->mmu)->emulated, 2);
	audit_clean();
	mach_fini();
}

/* A user-mode write fault without registers (the hypervisor gives them
 * with supervisor writes only) to a page table it must emulate: nothing
 * happens but a RETRY asking for them; given them, it is emulated. */
static enum svt_pf_outcome fault_bare(uint64_t va, uint8_t cpl, struct svt_fault_result *fr)
{
	struct svt_access acc = { .va = va, .kind = SVT_ACC_WRITE, .cpl = cpl };
	struct svt_walk w;
	cr_assert_neq(t_hw_walk(&acc, &w), SVT_WALK_OK, "the write must fault");
	struct svt_fault f = { .va = va, .error_code = w.error_code, .cpl = cpl,
			       .rflags = M->rflags, .pkru = M->pkru, .code_bits = 64 };
	return svt_mmu_page_fault(M->mmu, &f, fr);
}

Test(mmu_unit, write_without_registers_asks_for_them)
{
	mach_init(32, plain);
	enter_4level();
	cr_assert_eq(access8(0x402000, SVT_ACC_READ, 3, 0).kind, 0);
	uint64_t alias = 0x414000 + 8 * 2;      /* PTE 2, through the user-writable alias */
	cr_assert_eq(access8(alias, SVT_ACC_READ, 3, 0).kind, 0);
	uint64_t before = gread(0x4010, 8);
	struct svt_fault_result fr;
	cr_assert_eq(fault_bare(alias, 3, &fr), SVT_PF_RETRY);
	cr_assert(fr.wants_regs, "the core asks for the registers");
	cr_assert(fr.used_regs, "and says its outcome depends on them");
	cr_assert_eq(gread(0x4010, 8), before, "nothing written");
	cr_assert_eq(svt_mmu_counters(M->mmu)->emulated, 0);
	cr_assert_eq(svt_mmu_counters(M->mmu)->unshadows, 0, "nor unshadowed");
	audit_clean();
	cr_assert_eq(access8(alias, SVT_ACC_WRITE, 3, (41ull << 12) | P | RW | US | A).kind, 0);
	cr_assert_eq(svt_mmu_counters(M->mmu)->emulated, 1, "given them, emulated");
	cr_assert_eq(gread(0x4010, 8), (41ull << 12) | P | RW | US | A);
	cr_assert_eq(access8(0x402000, SVT_ACC_READ, 3, 0).mpa, g2m(41) * 4096);
	/* A write to an ordinary page needs none: fixed without them. */
	cr_assert_eq(access8(0x403000, SVT_ACC_READ, 3, 0).kind, 0);
	cr_assert_eq(fault_bare(0x403000, 3, &fr), SVT_PF_FIXED);
	cr_assert_not(fr.wants_regs);
	cr_assert_not(fr.used_regs, "a recorder may leave them out");
	audit_clean();
	mach_fini();

	/* Where the policy unshadows instead of emulating, nothing is asked
	 * for a write through the direct map; through the alias, on the
	 * walk of its own address, the write must still be emulated. */
	struct svt_policy unsh = { .emulate = false };
	mach_init(32, unsh);
	enter_4level();
	cr_assert_eq(access8(0x402000, SVT_ACC_READ, 3, 0).kind, 0);
	cr_assert_eq(access8(alias, SVT_ACC_READ, 3, 0).kind, 0);
	cr_assert_eq(fault_bare(alias, 3, &fr), SVT_PF_RETRY);
	cr_assert(fr.wants_regs, "a write the core must emulate whatever the policy");
	uint64_t pte2 = 0x40000000ull + 0x4000 + 8 * 2;
	cr_assert_eq(access8(pte2, SVT_ACC_READ, 0, 0).kind, 0);
	fault_bare(pte2, 0, &fr);
	cr_assert_not(fr.wants_regs);
	cr_assert_geq(svt_mmu_counters(M->mmu)->unshadows, 1);
	cr_assert_eq(access8(pte2, SVT_ACC_WRITE, 0, 0).kind, 0, "then written directly");
	cr_assert_eq(gread(0x4010, 8), 0);
	cr_assert_eq(svt_mmu_counters(M->mmu)->emulated, 0);
	audit_clean();
	mach_fini();
}

Test(mmu_unit, mmio_is_reported_with_its_gpa)
{
	mach_init(32, plain);
	enter_4level();
	struct result r = access8(0x415008, SVT_ACC_READ, 0, 0);
	cr_assert_eq(r.kind, 2);
	cr_assert_eq(r.mpa, ((uint64_t)HOLE << 12) + 8);
	mach_fini();
}

Test(mmu_unit, unshadow_policy_unprotects_instead)
{
	struct svt_policy pol = { .emulate = false };
	mach_init(32, pol);
	enter_4level();
	cr_assert_eq(access8(0x402000, SVT_ACC_READ, 3, 0).kind, 0);
	uint64_t pte2 = 0x40000000ull + 0x4000 + 8 * 2;
	cr_assert_eq(access8(pte2, SVT_ACC_WRITE, 0, 0).kind, 0);
	cr_assert_eq(svt_mmu_counters(M->mmu)->emulated, 0);
	cr_assert_geq(svt_mmu_counters(M->mmu)->unshadows, 1);
	cr_assert_eq(gread(0x4010, 8), 0);
	cr_assert_eq(access8(0x402000, SVT_ACC_READ, 3, 0).kind, 1, "the cleared PTE faults");
	audit_clean();
	mach_fini();
}

Test(mmu_unit, out_of_sync_pages_resync_at_flush)
{
	struct svt_policy pol = { .oos = 2, .emulate = true };
	mach_init(32, pol);
	enter_4level();
	cr_assert_eq(svt_mmu_write_cr4(M->mmu, SVT_CR4_PAE | SVT_CR4_PCIDE), 0);
	cr_assert_eq(access8(0x402000, SVT_ACC_READ, 3, 0).kind, 0);
	cr_assert_eq(access8(0x403000, SVT_ACC_READ, 3, 0).kind, 0);
	uint64_t pte2 = 0x40000000ull + 0x4000 + 8 * 2, pte3 = pte2 + 8;
	cr_assert_eq(access8(pte2, SVT_ACC_WRITE, 0, (41ull << 12) | P | RW | US | A).kind, 0);
	cr_assert_eq(svt_mmu_counters(M->mmu)->oos, 1);
	cr_assert_eq(svt_mmu_counters(M->mmu)->emulated, 0, "an OOS page is written directly");
	cr_assert_eq(access8(pte3, SVT_ACC_WRITE, 0, (42ull << 12) | P | RW | US | A).kind, 0);
	cr_assert_eq(svt_mmu_counters(M->mmu)->oos, 1, "still out of sync: no second fault");
	/* Stale until the guest invalidates: allowed, and the audits agree. */
	cr_assert_eq(access8(0x402000, SVT_ACC_READ, 3, 0).mpa, g2m(18) * 4096);
	cr_assert_eq(access8(0x403000, SVT_ACC_READ, 3, 0).mpa, g2m(19) * 4096);
	audit_clean();
	/* INVLPG takes one address: the other stays stale, the page out of sync. */
	svt_mmu_invlpg(M->mmu, 0x402000);
	cr_assert_eq(svt_mmu_counters(M->mmu)->resyncs_va, 1);
	cr_assert_eq(svt_mmu_counters(M->mmu)->resyncs, 0);
	cr_assert_eq(access8(0x402000, SVT_ACC_READ, 3, 0).mpa, g2m(41) * 4096);
	cr_assert_eq(access8(0x403000, SVT_ACC_READ, 3, 0).mpa, g2m(19) * 4096);
	audit_clean();
	/* INVLPG of an address whose entry did not change resyncs nothing. */
	svt_mmu_invlpg(M->mmu, 0x405000);
	cr_assert_eq(svt_mmu_counters(M->mmu)->resyncs_va, 1);
	/* A CR3 load with the no-flush bit keeps the TLB, so the staleness... */
	cr_assert_eq(svt_mmu_write_cr3(M->mmu, 0x1000 | 1ull << 63), 0);
	cr_assert_eq(svt_mmu_counters(M->mmu)->cr3_noflush, 1);
	cr_assert_eq(svt_mmu_counters(M->mmu)->resyncs, 0);
	cr_assert_eq(access8(0x403000, SVT_ACC_READ, 3, 0).mpa, g2m(19) * 4096);
	/* ...and one without it flushes its address space: in sync again,
	 * and still out of sync (the guest writes on without faulting). */
	cr_assert_eq(svt_mmu_write_cr3(M->mmu, 0x1000), 0);
	cr_assert_eq(svt_mmu_counters(M->mmu)->resyncs, 1);
	cr_assert_eq(access8(0x403000, SVT_ACC_READ, 3, 0).mpa, g2m(42) * 4096);
	audit_clean();
	unsigned faults = (unsigned)svt_mmu_counters(M->mmu)->faults;
	cr_assert_eq(access8(pte2, SVT_ACC_WRITE, 0, (43ull << 12) | P | RW | US | A).kind, 0);
	cr_assert_eq(access8(pte3, SVT_ACC_WRITE, 0, (44ull << 12) | P | RW | US | A).kind, 0);
	cr_assert_eq(svt_mmu_counters(M->mmu)->faults, faults, "no fault: still out of sync");
	cr_assert_eq(svt_mmu_counters(M->mmu)->oos, 1);
	/* INVPCID of one address is INVLPG's twin... */
	cr_assert_eq(svt_mmu_invpcid(M->mmu, 0, 0, 0x403000), 0);
	cr_assert_eq(svt_mmu_counters(M->mmu)->resyncs_va, 2);
	cr_assert_eq(access8(0x403000, SVT_ACC_READ, 3, 0).mpa, g2m(44) * 4096);
	cr_assert_eq(access8(0x402000, SVT_ACC_READ, 3, 0).mpa, g2m(41) * 4096,
		     "still the value before the write");
	/* ...its other types resync every page and protect it again. */
	cr_assert_eq(svt_mmu_invpcid(M->mmu, 1, 0, 0), 0);
	cr_assert_eq(svt_mmu_counters(M->mmu)->resyncs, 2);
	cr_assert_eq(access8(0x402000, SVT_ACC_READ, 3, 0).mpa, g2m(43) * 4096);
	audit_clean();
	cr_assert_eq(access8(pte2, SVT_ACC_WRITE, 0, (45ull << 12) | P | RW | US | A).kind, 0);
	cr_assert_eq(svt_mmu_counters(M->mmu)->oos, 2, "protected again: the write faulted");
	/* A flushing CR3 load of another address space, whose tables do not
	 * reach the page (PML4 at gfn 8: only the 1 GiB direct map), leaves
	 * it stale; loading the first space again resyncs it. */
	gwrite(0x8000, 0x9000 | P | RW | US, 8);
	gwrite(0x9008, 0x0 | P | RW | PS | A | D, 8);
	cr_assert_eq(svt_mmu_write_cr3(M->mmu, 0x8000), 0);
	cr_assert_eq(svt_mmu_counters(M->mmu)->resyncs, 2, "not this space's page");
	cr_assert_eq(access8(0x40000000ull + 0x4000 + 8 * 2, SVT_ACC_READ, 0, 0).kind, 0);
	audit_clean();
	cr_assert_eq(svt_mmu_write_cr3(M->mmu, 0x1000), 0);
	cr_assert_eq(svt_mmu_counters(M->mmu)->resyncs, 3);
	cr_assert_eq(access8(0x402000, SVT_ACC_READ, 3, 0).mpa, g2m(45) * 4096);
	audit_clean();
	mach_fini();
}

Test(mmu_unit, prefetch_fills_neighbours_already_accessed)
{
	struct svt_policy pol = { .prefetch = 8, .emulate = true };
	mach_init(32, pol);
	build_4level();
	for (unsigned i = 0; i < 16; i++)
		gwrite(0x4000 + 8 * i, gread(0x4000 + 8 * i, 8) | A, 8);
	gwrite(0x4000 + 8 * 6, gread(0x4030, 8) & ~A, 8);   /* not accessed: not prefetched */
	cr_assert_eq(svt_mmu_write_cr4(M->mmu, SVT_CR4_PAE), 0);
	cr_assert_eq(svt_mmu_write_efer(M->mmu, SVT_EFER_LME), 0);
	cr_assert_eq(svt_mmu_write_cr3(M->mmu, 0x1000), 0);
	cr_assert_eq(svt_mmu_write_cr0(M->mmu, SVT_CR0_PE | SVT_CR0_PG), 0);
	cr_assert_eq(access8(0x404000, SVT_ACC_READ, 0, 0).kind, 0);
	cr_assert_eq(svt_mmu_counters(M->mmu)->prefetched, 7,
		     "4 on each side but the one not accessed");
	unsigned faults = (unsigned)svt_mmu_counters(M->mmu)->faults;
	cr_assert_eq(access8(0x405000, SVT_ACC_READ, 0, 0).kind, 0);
	cr_assert_eq(svt_mmu_counters(M->mmu)->faults, faults, "prefetched: no fault");
	cr_assert_eq(access8(0x406000, SVT_ACC_READ, 0, 0).kind, 0);
	cr_assert_eq(svt_mmu_counters(M->mmu)->faults, faults + 1);
	audit_clean();
	mach_fini();
}

Test(mmu_unit, early_unshadow_on_a_table_being_cleared)
{
	struct svt_policy pol = { .early_unshadow = true, .emulate = true };
	mach_init(32, pol);
	enter_4level();
	cr_assert_eq(access8(0x402000, SVT_ACC_READ, 3, 0).kind, 0);
	for (unsigned i = 0; i < 3; i++)
		cr_assert_eq(access8(0x40000000ull + 0x4000 + 8 * i, SVT_ACC_WRITE, 0, 0).kind, 0);
	cr_assert_eq(svt_mmu_counters(M->mmu)->early_unshadows, 1);
	audit_clean();
	mach_fini();
}

Test(mmu_unit, pool_pressure_evicts_and_never_fails)
{
	mach_init(16, plain);
	enter_4level();
	/* 40 page directories live at once under one PDPT, sharing one PT. */
	for (unsigned k = 2; k < 42; k++) {
		gwrite(0x2000 + 8 * k, ((100ull + k) << 12) | P | RW | US, 8);
		gwrite(((100ull + k) << 12) + 8 * 2, 0x4000 | P | RW | US, 8);
	}
	for (unsigned round = 0; round < 3; round++)
		for (unsigned k = 2; k < 42; k++) {
			uint64_t va = ((uint64_t)k << 30) | 0x400000 | (0x1000 * (k % 16));
			cr_assert_eq(access8(va, SVT_ACC_READ, 3, 0).kind, 0);
		}
	cr_assert_gt(svt_mmu_counters(M->mmu)->evictions, 0);
	cr_assert_leq(svt_mmu_counters(M->mmu)->pool_used, 16);
	audit_clean();
	mach_fini();
}

/* The guest frames of the shadow pages evicted, in order. */
static uint64_t evicted[8];
static unsigned nevicted;

static void note_evict(void *ctx, const struct svt_event *ev)
{
	(void)ctx;
	if (ev->kind == SVT_EV_EVICT && nevicted < 8)
		evicted[nevicted++] = ev->a;
}

/*
 * Eviction takes the least recently used page that may go, also when it
 * answers from what its last scan of the pool remembered: a page used
 * since that scan is newer than every other and must be passed over.
 * Pool 16, a 4-level guest whose page directories 100 + k (PDPT entry k)
 * share one page table: the root (pinned), the PDPT, the table and the
 * directories.  Each access below faults and touches its whole path.
 */
Test(mmu_unit, eviction_takes_the_least_recently_used)
{
	event_fn = note_evict;
	nevicted = 0;
	mach_init(16, plain);
	event_fn = NULL;
	enter_4level();
	for (unsigned k = 2; k < 20; k++) {
		gwrite(0x2000 + 8 * k, ((100ull + k) << 12) | P | RW | US, 8);
		gwrite(((100ull + k) << 12) + 8 * 2, 0x4000 | P | RW | US, 8);
	}
	for (unsigned i = 16; i < 18; i++)
		gwrite(0x4000 + 8 * i, ((16ull + i) << 12) | P | RW | US, 8);
	/* directory k through table entry e (each entry once: a fault) */
#define TOUCH(k, e) cr_assert_eq(access8(((uint64_t)(k) << 30) | 0x400000 | 0x1000 * (e), \
					 SVT_ACC_READ, 3, 0).kind, 0)
	for (unsigned k = 2; k < 14; k++)
		TOUCH(k, k);
	TOUCH(2, 15);           /* directory 2 is the newest now */
	TOUCH(14, 14);          /* the pool is full */
	cr_assert_eq(nevicted, 0);
	TOUCH(15, 0);           /* scans: evicts 3, remembers 4, 5, 6, ... */
	TOUCH(16, 1);           /* 4, from the memo */
	TOUCH(5, 16);           /* directory 5 is the newest now */
	TOUCH(17, 17);          /* 5 is passed over: 6 */
#undef TOUCH
	cr_assert_eq(nevicted, 3);
	cr_assert_eq(evicted[0], 103);
	cr_assert_eq(evicted[1], 104);
	cr_assert_eq(evicted[2], 106, "evicted %#lx", (unsigned long)evicted[2]);
	audit_clean();
	mach_fini();
}

Test(mmu_unit, control_register_checks)
{
	mach_init(32, plain);
	cr_assert_eq(svt_mmu_write_cr0(M->mmu, SVT_CR0_PG), SVT_E_GP, "PG without PE");
	cr_assert_eq(svt_mmu_write_cr4(M->mmu, 1ull << 13), SVT_E_GP, "VMXE is hidden");
	cr_assert_eq(svt_mmu_write_efer(M->mmu, SVT_EFER_LME), 0);
	cr_assert_eq(svt_mmu_write_cr0(M->mmu, SVT_CR0_PE | SVT_CR0_PG), SVT_E_GP,
		     "long mode without PAE");
	cr_assert_eq(svt_mmu_write_efer(M->mmu, 0), 0);
	/* PAE with a bad PDPTE: the CR3 load faults and nothing changes. */
	gwrite(0x1000, 0x2000 | P | (1ull << 5), 8);
	cr_assert_eq(svt_mmu_write_cr4(M->mmu, SVT_CR4_PAE), 0);
	cr_assert_eq(svt_mmu_write_cr3(M->mmu, 0x1000), 0, "paging is off: no PDPTE load");
	cr_assert_eq(svt_mmu_write_cr0(M->mmu, SVT_CR0_PE | SVT_CR0_PG), SVT_E_GP);
	cr_assert_eq(svt_mmu_guest_regs(M->mmu)->cr0 & SVT_CR0_PG, 0);
	cr_assert_eq(svt_mmu_invpcid(M->mmu, 4, 0, 0), SVT_E_GP);
	audit_clean();
	mach_fini();
}

/*
 * A fault the core cannot explain: the hardware enforces PKRU.AD for key 1
 * on a user page, and the core is told PKRU 0 (a caller that does not read
 * it), so the guest's walk and the shadow both allow the read.  It is
 * re-run three times in a row and injected the fourth, as the hardware
 * reported it; an input between starts the count again.  Told the real
 * PKRU, the core injects the protection-key fault at once.
 */
Test(mmu_unit, unexplained_fault_is_injected_not_retried_for_ever)
{
	const uint64_t va = 0x401000, key1 = 1ull << 59;
	mach_init(32, plain);
	enter_4level();
	gwrite(0x4008, (17ull << 12) | P | RW | US | A | key1, 8);
	cr_assert_eq(svt_mmu_write_cr4(M->mmu, SVT_CR4_PAE | SVT_CR4_PKE), 0);
	cr_assert_eq(access8(va, SVT_ACC_READ, 3, 0).kind, 0, "PKRU 0: the shadow is built");
	M->pkru = 1u << 2;                      /* AD for key 1, in the hardware only */
	struct svt_access acc = { .va = va, .kind = SVT_ACC_READ, .cpl = 3 };
	struct svt_walk w;
	cr_assert_eq(t_hw_walk(&acc, &w), SVT_WALK_PF);
	cr_assert_eq(w.error_code, SVT_PFEC_P | SVT_PFEC_U | SVT_PFEC_PK);
	struct svt_fault f = { .va = va, .error_code = w.error_code, .cpl = 3, .rflags = 2,
			       .pkru = 0, .code_bits = 64 };
	struct svt_fault_result fr;
	for (int round = 0; round < 2; round++) {
		for (int i = 0; i < 3; i++)
			cr_assert_eq(svt_mmu_page_fault(M->mmu, &f, &fr), SVT_PF_RETRY,
				     "round %d try %d", round, i);
		if (round == 0) {
			svt_mmu_invlpg(M->mmu, 0x7000);         /* an input between: counted anew */
			continue;
		}
		cr_assert_eq(svt_mmu_page_fault(M->mmu, &f, &fr), SVT_PF_INJECT,
			     "the fourth in a row");
		cr_assert_eq(fr.error_code, w.error_code, "as the hardware reported it");
		cr_assert_eq(fr.cr2, va);
	}
	cr_assert_eq(svt_mmu_page_fault(M->mmu, &f, &fr), SVT_PF_RETRY, "then counted anew");
	f.pkru = M->pkru;                       /* the caller reads PKRU: injected at once */
	cr_assert_eq(svt_mmu_page_fault(M->mmu, &f, &fr), SVT_PF_INJECT);
	cr_assert_eq(fr.error_code, SVT_PFEC_P | SVT_PFEC_U | SVT_PFEC_PK);
	audit_clean();
	mach_fini();
}

/* A 2-level and a PAE guest, each with a large page. */
Test(mmu_unit, two_level_and_pae_guests)
{
	mach_init(32, plain);
	/* 2-level: PD at gfn 1; PDE[0] 4 MiB page at 0 (all RAM), PDE[1] -> PT gfn 2 */
	gwrite(0x1000, 0 | P | RW | US | PS, 4);
	gwrite(0x1004, 0x2000 | P | RW | US, 4);
	gwrite(0x2000 + 4 * 3, (30ull << 12) | P | RW | US, 4);
	cr_assert_eq(svt_mmu_write_cr4(M->mmu, SVT_CR4_PSE), 0);
	cr_assert_eq(svt_mmu_write_cr3(M->mmu, 0x1000), 0);
	cr_assert_eq(svt_mmu_write_cr0(M->mmu, SVT_CR0_PE | SVT_CR0_PG | SVT_CR0_WP), 0);
	struct result r = access8(0x403000, SVT_ACC_WRITE, 3, 9);
	cr_assert_eq(r.kind, 0);
	cr_assert_eq(gread(30 << 12, 8), 9);
	cr_assert_eq(access8(0x9000, SVT_ACC_READ, 3, 0).mpa, g2m(9) * 4096);
	/* the 4 MiB page maps the PT: writing the PT through it is emulated */
	cr_assert_eq(access8(0x2000 + 4 * 4, SVT_ACC_WRITE, 0, 0).kind, 0);
	cr_assert_eq(svt_mmu_counters(M->mmu)->emulated, 1);
	audit_clean();
	/* PAE: PDPT at 0x3020 (not page aligned), PDPTE[0] -> PD gfn 4, 2 MiB page */
	gwrite(0x3020, 0x4000 | P, 8);
	gwrite(0x4000, 0 | P | RW | PS, 8);
	cr_assert_eq(svt_mmu_write_cr0(M->mmu, SVT_CR0_PE), 0);
	cr_assert_eq(svt_mmu_write_cr4(M->mmu, SVT_CR4_PAE), 0);
	cr_assert_eq(svt_mmu_write_cr3(M->mmu, 0x3020), 0);
	cr_assert_eq(svt_mmu_write_cr0(M->mmu, SVT_CR0_PE | SVT_CR0_PG | SVT_CR0_WP), 0);
	r = access8(0x7008, SVT_ACC_READ, 0, 0);
	cr_assert_eq(r.kind, 0);
	cr_assert_eq(r.mpa, g2m(7) * 4096 + 8);
	cr_assert_eq(access8(0x7008, SVT_ACC_READ, 3, 0).ec, SVT_PFEC_P | SVT_PFEC_U);
	cr_assert_geq(svt_mmu_counters(M->mmu)->resets, 2);
	audit_clean();
	mach_fini();
}

/*
 * A PAE CR3 load takes the PDPTEs anew: one that now points to another
 * page directory, as present as before, must be followed after a reload
 * of the same CR3 (the root the core linked last, with every entry still
 * present, is kept only where the PDPTEs are the ones it was linked from;
 * seeded bug 89 keeps it regardless); and a PDPTE whose directory's
 * shadow was evicted is linked again.
 */
Test(mmu_unit, pae_cr3_reload_follows_changed_pdptes)
{
	event_fn = note_evict;
	nevicted = 0;
	mach_init(16, plain);
	event_fn = NULL;
	/* PDPT at 0x3000: PDPTE[0] -> PD gfn 4 (a 2 MiB page at 0), PDPTE[1]
	 * -> PD gfn 5 -> PT gfn 8, whose entry 5 maps frame 50; PD gfn 6 ->
	 * PT gfn 9 maps frame 60 there instead */
	gwrite(0x3000, 0x4000 | P, 8);
	gwrite(0x3008, 0x5000 | P, 8);
	gwrite(0x4000, 0 | P | RW | PS, 8);
	gwrite(0x5000, 0x8000 | P | RW, 8);
	gwrite(0x8000 + 8 * 5, (50ull << 12) | P | RW, 8);
	gwrite(0x6000, 0x9000 | P | RW, 8);
	gwrite(0x9000 + 8 * 5, (60ull << 12) | P | RW, 8);
	cr_assert_eq(svt_mmu_write_cr4(M->mmu, SVT_CR4_PAE), 0);
	cr_assert_eq(svt_mmu_write_cr3(M->mmu, 0x3000), 0);
	cr_assert_eq(svt_mmu_write_cr0(M->mmu, SVT_CR0_PE | SVT_CR0_PG | SVT_CR0_WP), 0);
	const uint64_t va = (1ull << 30) + 0x5008;
	cr_assert_eq(access8(va, SVT_ACC_READ, 0, 0).mpa, g2m(50) * 4096 + 8);
	gwrite(0x3008, 0x6000 | P, 8);
	cr_assert_eq(access8(va, SVT_ACC_READ, 0, 0).mpa, g2m(50) * 4096 + 8,
		     "no CR3 load yet: the PDPTE registers still hold the old one");
	cr_assert_eq(svt_mmu_write_cr3(M->mmu, 0x3000), 0);
	cr_assert_eq(access8(va, SVT_ACC_READ, 0, 0).mpa, g2m(60) * 4096 + 8,
		     "reloaded: the new directory");
	audit_clean();
	/* tables under PD gfn 4 fill the pool until PD gfn 6's shadow, the
	 * least recently used, is evicted, its root entry with it; the same
	 * CR3 again links it anew */
	for (unsigned k = 0; k < 14; k++) {
		gwrite(0x4000 + 8 * (1 + k), ((100ull + k) << 12) | P | RW, 8);
		gwrite((100ull + k) << 12, (40ull << 12) | P | RW, 8);
		cr_assert_eq(access8((1ull + k) << 21, SVT_ACC_READ, 0, 0).mpa, g2m(40) * 4096);
	}
	bool pd6 = false;
	for (unsigned i = 0; i < nevicted; i++)
		pd6 |= evicted[i] == 6;
	cr_assert(pd6, "PD gfn 6's shadow evicted (%u evictions)", nevicted);
	uint64_t made = svt_mmu_counters(M->mmu)->shadows_made;
	cr_assert_eq(svt_mmu_write_cr3(M->mmu, 0x3000), 0);
	cr_assert_eq(svt_mmu_counters(M->mmu)->shadows_made, made + 1,
		     "the load made PD gfn 6's shadow again and linked it");
	cr_assert_eq(access8(va, SVT_ACC_READ, 0, 0).mpa, g2m(60) * 4096 + 8);
	cr_assert_eq(access8(0x7008, SVT_ACC_READ, 0, 0).mpa, g2m(7) * 4096 + 8);
	audit_clean();
	mach_fini();
}

/*
 * A CR3 load resyncs the out-of-sync pages its root reaches, and
 * remembers which those are until a link that could change it: a page
 * directory's shadow linked under the root's path must be such a change
 * (seeded bug 90 leaves the memo be).  4-level, oos on: page table X
 * (gfn 51) under directory D (50), first reached only from root B (48,
 * through PDPT 49), is taken out of sync there; root A (52, PDPT 53 with
 * a 1 GiB direct map of gpa 0 at 1 GiB) is loaded (X does not reach it),
 * then PDPT 53's entry 0 is pointed at D and used, X's entry 0 rewritten
 * without an exit, and A loaded again: X must be resynced.
 */
Test(mmu_unit, cr3_load_resyncs_a_page_its_root_reaches_since)
{
	const struct svt_policy oos = { .oos = 2, .emulate = true };
	const uint64_t t = P | RW | US | A, leaf = P | RW | A | D, dmap = 1ull << 30;
	mach_init(32, oos);
	gwrite(48ull << 12, (49ull << 12) | t, 8);
	gwrite(49ull << 12, (50ull << 12) | t, 8);
	gwrite(50ull << 12, (51ull << 12) | t, 8);
	gwrite(51ull << 12, (60ull << 12) | leaf, 8);
	gwrite((51ull << 12) + 8 * 5, (51ull << 12) | leaf, 8);     /* va 0x5000: X itself */
	gwrite(52ull << 12, (53ull << 12) | t, 8);
	gwrite((53ull << 12) + 8, 0 | P | RW | PS | A | D, 8);     /* va 1 GiB: gpa 0 */
	cr_assert_eq(svt_mmu_write_cr4(M->mmu, SVT_CR4_PAE), 0);
	cr_assert_eq(svt_mmu_write_efer(M->mmu, SVT_EFER_LME | SVT_EFER_NXE), 0);
	cr_assert_eq(svt_mmu_write_cr3(M->mmu, 48ull << 12), 0);
	cr_assert_eq(svt_mmu_write_cr0(M->mmu, SVT_CR0_PE | SVT_CR0_PG | SVT_CR0_WP), 0);
	cr_assert_eq(access8(0, SVT_ACC_READ, 0, 0).mpa, g2m(60) * 4096);
	uint64_t before = svt_mmu_counters(M->mmu)->oos;
	cr_assert_eq(access8(0x5000 + 8, SVT_ACC_WRITE, 0, (61ull << 12) | leaf).kind, 0);
	cr_assert_eq(svt_mmu_counters(M->mmu)->oos, before + 1, "X out of sync");
	cr_assert_eq(svt_mmu_write_cr3(M->mmu, 52ull << 12), 0);
	cr_assert_eq(access8(dmap + 0x1000, SVT_ACC_READ, 0, 0).mpa, g2m(1) * 4096);
	cr_assert_eq(svt_mmu_write_cr3(M->mmu, 52ull << 12), 0);  /* A's shadows all made */
	cr_assert_eq(access8(dmap + (53ull << 12), SVT_ACC_WRITE, 0, (50ull << 12) | t).kind, 0);
	cr_assert_eq(access8(0, SVT_ACC_READ, 0, 0).mpa, g2m(60) * 4096, "D under A now");
	cr_assert_eq(access8(dmap + (51ull << 12), SVT_ACC_WRITE, 0, (62ull << 12) | leaf).kind,
		     0);
	cr_assert_eq(svt_mmu_write_cr3(M->mmu, 52ull << 12), 0);
	cr_assert_eq(access8(0, SVT_ACC_READ, 0, 0).mpa, g2m(62) * 4096,
		     "the load resynced X, which A reaches through D");
	audit_clean();
	mach_fini();
}

/* 2-on-3: a 2-level guest runs on PAE-format shadows, the hardware with
 * CR4.PAE and EFER.NXE on, so a fetch fault carries I/D: a supervisor
 * fetch from a user page under SMAP without SMEP is not taken for a read
 * (it was known limitation K4).  A guest L1 is shadowed by two parts
 * (entries 0-511, 512-1023), a guest L2 by four under a PDPT root. */
Test(mmu_unit, two_level_guest_on_pae_shadows)
{
	mach_init(32, plain);
	/* PD at gfn 1: PDE[0] a supervisor 4 MiB page at 0, PDE[1] and
	 * PDE[256] -> PT gfn 2, whose entries 3 and 600 map user pages */
	gwrite(0x1000, 0 | P | RW | PS, 4);
	gwrite(0x1000 + 4 * 1, 0x2000 | P | RW | US, 4);
	gwrite(0x1000 + 4 * 256, 0x2000 | P | RW | US, 4);
	gwrite(0x2000 + 4 * 3, (30ull << 12) | P | RW | US, 4);
	gwrite(0x2000 + 4 * 600, (31ull << 12) | P | RW | US, 4);
	cr_assert_eq(svt_mmu_write_cr4(M->mmu, SVT_CR4_PSE | SVT_CR4_SMAP), 0);
	cr_assert_eq(svt_mmu_write_cr3(M->mmu, 0x1000), 0);
	cr_assert_eq(svt_mmu_write_cr0(M->mmu, SVT_CR0_PE | SVT_CR0_PG | SVT_CR0_WP), 0);
	struct svt_hw_state hs;
	svt_mmu_hw_state(M->mmu, &hs);
	cr_assert_eq(hs.mode, SVT_MODE_PAE, "PAE-format shadows");
	cr_assert((hs.cr4 & SVT_CR4_PAE) && (hs.efer & SVT_EFER_NXE), "hardware CR4.PAE and NXE");
	cr_assert_eq(svt_mmu_guest_regs(M->mmu)->cr4, SVT_CR4_PSE | SVT_CR4_SMAP,
		     "the guest's own CR4");
	/* SMAP does not apply to fetches (SDM 4.6.1) */
	struct result r = access8(0x403000, SVT_ACC_FETCH, 0, 0);
	cr_assert_eq(r.kind, 0, "a supervisor fetch from a user page under SMAP runs");
	cr_assert_eq(r.mpa, g2m(30) * 4096);
	r = access8(0x403008, SVT_ACC_READ, 0, 0);
	cr_assert_eq(r.kind, 1, "a supervisor read there faults");
	cr_assert_eq(r.ec, SVT_PFEC_P, "the guest's error code: no I/D");
	/* the second half of the L1, and the L1 under a second part of the L2 */
	cr_assert_eq(access8(0x658000, SVT_ACC_READ, 3, 0).mpa, g2m(31) * 4096);
	cr_assert_eq(access8(0x40003010, SVT_ACC_READ, 3, 0).mpa, g2m(30) * 4096 + 0x10);
	/* PDPT, L2 parts 0 and 1, L1 parts 0 and 1 */
	cr_assert_eq(svt_mmu_counters(M->mmu)->pool_used, 5);
	/* a write to guest entry 600 through the 4 MiB page: emulated, and the
	 * second part's shadow entry 88 revalidated */
	cr_assert_eq(access8(0x2000 + 4 * 600, SVT_ACC_WRITE, 0,
			     (32ull << 12) | P | RW | US | A).kind, 0);
	cr_assert_eq(svt_mmu_counters(M->mmu)->emulated, 1);
	cr_assert_eq(access8(0x658000, SVT_ACC_READ, 3, 0).mpa, g2m(32) * 4096);
	/* the 4 MiB page's first 2 MiB: one FL1 */
	cr_assert_eq(access8(0x5008, SVT_ACC_READ, 0, 0).mpa, g2m(5) * 4096 + 8);
	cr_assert_eq(svt_mmu_counters(M->mmu)->pool_used, 6, "and an FL1 for the 4 MiB page");
	audit_clean();
	mach_fini();
}

/*
 * Implicit supervisor accesses (docs/core.md, "Implicit supervisor
 * accesses"): a supervisor read or write at CPL 0 of a user page under
 * SMAP with RFLAGS.AC=1 is let through if explicit and raises #PF if
 * implicit (a GDT, LDT, IDT or TSS access), and the core tells which from
 * the evidence the hypervisor gives: event delivery, the instruction and
 * its registers, the descriptor tables.  Each case on a page of its own
 * (va 0x400000 + i * 4 KiB, a user page, A clear): explicit means the core
 * propagates and sets A; implicit means #PF(P) and A left clear.
 */
struct k3case {
	bool write, delivery;
	uint8_t insn[3], len;
	int esp, edi;           /* relative to va; 0x10000: far away */
	int dt;                 /* 0 none, 1 the GDT holds va, 2 tables elsewhere */
	bool implicit;
	const char *what;
};

Test(mmu_unit, implicit_supervisor_access_evidence)
{
	static const struct k3case c[] = {
		{ false, true, {0}, 0, 0, 0, 0, true, "a read during event delivery" },
		{ true, true, {0}, 0, 0, 0, 0, false,
		  "a write during delivery, no tables: a push" },
		{ true, true, {0}, 0, 0, 0, 1, true, "a write during delivery in the GDT" },
		{ true, true, {0}, 0, 0, 0, 2, false,
		  "a write during delivery outside the tables" },
		{ false, false, {0x8e, 0x1f}, 2, 0x10000, 0, 0, false,
		  "MOV DS, [EDI]: its operand" },
		{ false, false, {0x8e, 0x1f}, 2, 0x10000, 0x10000, 0, true,
		  "MOV DS, [EDI] elsewhere" },
		{ false, false, {0xcf}, 1, -8, 0x10000, 0, false, "IRET: a stack slot" },
		{ false, false, {0xcf}, 1, 0x10000, 0x10000, 0, true, "IRET, the stack elsewhere" },
		{ true, false, {0xff, 0x1f}, 2, 8, 0x10000, 0, false, "CALL far [EDI]: a push" },
		{ true, false, {0xff, 0x1f}, 2, 0x10000, 0x10000, 0, false,
		  "CALL far [EDI], a write off the stack, no tables: a call gate's new stack" },
		{ true, false, {0xff, 0x1f}, 2, 0x10000, 0x10000, 1, true,
		  "CALL far [EDI], a write in the GDT" },
		{ false, false, {0x8e, 0x1f}, 2, 0x10000, 0x10000, 2, false,
		  "MOV DS, [EDI] elsewhere, va in no table" },
		{ false, false, {0x1f}, 1, 0, 0x10000, 0, false, "POP DS: its slot" },
		{ false, false, {0xc5, 0x3f}, 2, 0x10000, 0x10000, 0, true,
		  "LDS EDI, [EDI] elsewhere" },
	};
	mach_init(32, plain);
	/* PD at gfn 1: PDE[0] a supervisor 4 MiB page, PDE[1] -> PT gfn 2 */
	gwrite(0x1000, 0 | P | RW | PS | A, 4);
	gwrite(0x1004, 0x2000 | P | RW | US | A, 4);
	for (unsigned i = 0; i < sizeof(c) / sizeof(c[0]); i++)
		gwrite(0x2000 + 4 * i, ((30ull + i) << 12) | P | RW | US, 4);
	cr_assert_eq(svt_mmu_write_cr4(M->mmu, SVT_CR4_PSE | SVT_CR4_SMAP), 0);
	cr_assert_eq(svt_mmu_write_cr3(M->mmu, 0x1000), 0);
	cr_assert_eq(svt_mmu_write_cr0(M->mmu, SVT_CR0_PE | SVT_CR0_PG | SVT_CR0_WP), 0);
	for (unsigned i = 0; i < sizeof(c) / sizeof(c[0]); i++) {
		uint32_t va = 0x400000 + 0x1000 * i + 0x10;
		struct svt_emu_regs regs = { .rip = 0x1000, .rflags = 2 | SVT_RFLAGS_AC };
		regs.gpr[SVT_EMU_RSP] = (uint32_t)(va + c[i].esp);
		regs.gpr[SVT_EMU_RDI] = (uint32_t)(va + c[i].edi);
		struct svt_dtables dt = { .usable = { true, false, true, true } };
		for (unsigned t = 0; t < SVT_DT_COUNT; t++)
			dt.base[t] = 0x100000 + 0x1000 * t, dt.limit[t] = 0xfff;
		if (c[i].dt == 1)
			dt.base[SVT_DT_GDT] = va & ~0xfffu;
		struct svt_fault f = {
			.va = va, .error_code = c[i].write ? SVT_PFEC_W : 0, .cpl = 0,
			.rflags = regs.rflags, .regs = &regs, .code_bits = 32,
			.insn = c[i].len ? c[i].insn : NULL, .insn_len = c[i].len,
			.in_delivery = c[i].delivery, .dt = c[i].dt ? &dt : NULL,
		};
		struct svt_fault_result fr;
		enum svt_pf_outcome o = svt_mmu_page_fault(M->mmu, &f, &fr);
		bool a = (gread(0x2000 + 4 * i, 4) & A) != 0;
		if (c[i].implicit) {
			cr_assert_eq(o, SVT_PF_INJECT, "%s: implicit, #PF", c[i].what);
			cr_assert_eq(fr.error_code, SVT_PFEC_P | (c[i].write ? SVT_PFEC_W : 0),
				     "%s: the error code SMAP gives", c[i].what);
			cr_assert_eq(fr.cr2, va);
			cr_assert(!a, "%s: nothing set in the guest's entry", c[i].what);
		} else {
			cr_assert_eq(o, SVT_PF_FIXED,
				     "%s: explicit, AC lets it through", c[i].what);
			cr_assert(a, "%s: A set", c[i].what);
		}
		cr_assert(fr.used_regs, "%s: the evidence decided it", c[i].what);
	}
	audit_clean();
	mach_fini();
}

/* Find the machine address of the shadow leaf the hardware uses for va. */
static uint64_t shadow_leaf_pa(uint64_t va)
{
	struct svt_access acc = { .va = va, .kind = SVT_ACC_READ, .cpl = 0 };
	struct svt_walk w;
	cr_assert_eq(t_hw_walk(&acc, &w), SVT_WALK_OK);
	return w.lv[w.nlevels - 1].entry_gpa;
}

Test(mmu_unit, reverse_map_protects_every_alias)
{
	mach_init(32, plain);
	enter_4level();
	/* gfn 50 mapped twice, user RW dirty, at 0x40a000 and 0x40b000 */
	gwrite(0x4000 + 8 * 10, (50ull << 12) | P | RW | US | A | D, 8);
	gwrite(0x4000 + 8 * 11, (50ull << 12) | P | RW | US | A | D, 8);
	cr_assert_eq(access8(0x40a000, SVT_ACC_WRITE, 3, 1).kind, 0);
	cr_assert_eq(access8(0x40b000, SVT_ACC_WRITE, 3, 2).kind, 0);
	cr_assert(M->mem[shadow_leaf_pa(0x40a000)] & RW);
	/* Now gfn 50 becomes a page table (PD entry 3 -> gfn 50): both aliases
	 * must lose write access as soon as it is shadowed. */
	gwrite(0x3000 + 8 * 3, (50ull << 12) | P | RW | US, 8);
	gwrite(50ull << 12, (60ull << 12) | P | RW | US, 8);
	cr_assert_eq(access8(0x600000, SVT_ACC_READ, 3, 0).kind, 0);
	cr_assert_not(M->mem[shadow_leaf_pa(0x40a000)] & RW);
	cr_assert_not(M->mem[shadow_leaf_pa(0x40b000)] & RW);
	unsigned before = (unsigned)svt_mmu_counters(M->mmu)->emulated;
	cr_assert_eq(access8(0x40b000, SVT_ACC_WRITE, 3, (61ull << 12) | P | RW | US | A).kind, 0);
	cr_assert_eq(svt_mmu_counters(M->mmu)->emulated, before + 1);
	cr_assert_eq(access8(0x600000, SVT_ACC_READ, 3, 0).mpa, g2m(61) * 4096);
	audit_clean();
	mach_fini();
}

/* A supervisor write at CPL 0 that comes with the registers but no
 * instruction (the CPU's own write: an event's stack push), as the
 * hardware performs it once the shadows let it: 0 done (*mpa where), 1
 * #PF injected (*ec).  Fails the test on a livelock. */
static int implicit_write(uint64_t va, uint64_t val, uint64_t *mpa, uint32_t *ec)
{
	struct svt_access acc = { .va = va, .kind = SVT_ACC_WRITE, .cpl = 0 };

	for (int tries = 0; tries < 16; tries++) {
		struct svt_walk w;
		if (t_hw_walk(&acc, &w) == SVT_WALK_OK) {
			for (unsigned i = 0; i < 8; i++)
				M->mem[w.gpa + i] = (uint8_t)(val >> (8 * i));
			*mpa = w.gpa;
			return 0;
		}
		struct svt_emu_regs regs = { .rip = 0x1000 };
		struct svt_fault f = { .va = va, .error_code = w.error_code, .cpl = 0,
				       .rflags = M->rflags, .pkru = M->pkru, .regs = &regs,
				       .code_bits = 64 };
		struct svt_fault_result fr;
		enum svt_pf_outcome o = svt_mmu_page_fault(M->mmu, &f, &fr);
		cr_assert_neq(o, SVT_PF_EMULATED, "nothing to emulate without an instruction");
		cr_assert_neq(o, SVT_PF_MMIO);
		if (o == SVT_PF_INJECT) {
			*ec = fr.error_code;
			return 1;
		}
	}
	cr_assert_fail("implicit write to %#lx livelocked", (unsigned long)va);
	return -1;
}

/* CR0.WP=0 (K7 of the model harness): a read-only page the supervisor
 * writes with no instruction gets a writable, supervisor-only shadow path
 * (XD under SMEP); a user access puts the guest's rights back; setting
 * CR0.WP drops it. */
Test(mmu_unit, implicit_write_under_wp0_gets_a_supervisor_only_leaf)
{
	mach_init(32, plain);
	enter_4level();
	gwrite(0x4000 + 8 * 5, (21ull << 12) | P | US | A, 8);         /* va 0x405000: user, RO */
	cr_assert_eq(svt_mmu_write_cr4(M->mmu, SVT_CR4_PAE | SVT_CR4_SMEP), 0);
	cr_assert_eq(svt_mmu_write_cr0(M->mmu, SVT_CR0_PE | SVT_CR0_PG), 0);
	uint64_t mpa;
	uint32_t ec = 0;
	cr_assert_eq(implicit_write(0x405008, 0x1234, &mpa, &ec), 0);
	cr_assert_eq(mpa, g2m(21) * 4096 + 8);
	cr_assert_eq(gread((21ull << 12) + 8, 8), 0x1234, "the hardware wrote it");
	cr_assert(gread(0x4000 + 8 * 5, 8) & D, "and the guest's D is set");
	uint64_t se = 0;
	for (unsigned i = 0; i < 8; i++)
		se |= (uint64_t)M->mem[shadow_leaf_pa(0x405000) + i] << (8 * i);
	cr_assert((se & RW) && !(se & US) && (se & XD), "writable, supervisor-only, XD: %#lx",
		  (unsigned long)se);
	cr_assert_eq(svt_mmu_counters(M->mmu)->env_errors, 0);
	audit_clean();
	/* a user read faults on it and gets the guest's rights back */
	cr_assert_eq(access8(0x405000, SVT_ACC_READ, 3, 0).kind, 0);
	se = 0;
	for (unsigned i = 0; i < 8; i++)
		se |= (uint64_t)M->mem[shadow_leaf_pa(0x405000) + i] << (8 * i);
	cr_assert(!(se & RW) && (se & US), "the guest's rights: %#lx", (unsigned long)se);
	audit_clean();
	cr_assert_eq(implicit_write(0x405010, 0x5678, &mpa, &ec), 0, "granted again");
	/* CR0.WP=1: the grant goes, and the same write faults as bare metal */
	uint64_t resets = svt_mmu_counters(M->mmu)->resets;
	cr_assert_eq(svt_mmu_write_cr0(M->mmu, SVT_CR0_PE | SVT_CR0_PG | SVT_CR0_WP), 0);
	cr_assert_eq(svt_mmu_counters(M->mmu)->resets, resets + 1);
	audit_clean();
	cr_assert_eq(implicit_write(0x405010, 0x9abc, &mpa, &ec), 1);
	cr_assert_eq(ec, SVT_PFEC_P | SVT_PFEC_W);
	cr_assert_eq(gread((21ull << 12) + 16, 8), 0x5678);
	mach_fini();
}

static uint64_t shadow_leaf(uint64_t va)
{
	uint64_t se = 0, pa = shadow_leaf_pa(va);
	for (unsigned i = 0; i < 8; i++)
		se |= (uint64_t)M->mem[pa + i] << (8 * i);
	return se;
}

/* One supervisor write at CPL 0 with no instruction; its outcome. */
static enum svt_pf_outcome wp0_fault(uint64_t va, struct svt_emu_regs *regs,
				     struct svt_fault_result *fr)
{
	struct svt_access acc = { .va = va, .kind = SVT_ACC_WRITE, .cpl = 0 };
	struct svt_walk w;
	cr_assert_neq(t_hw_walk(&acc, &w), SVT_WALK_OK, "the write faults");
	struct svt_fault f = { .va = va, .error_code = w.error_code, .cpl = 0,
			       .rflags = M->rflags, .pkru = M->pkru, .regs = regs,
			       .code_bits = 64 };
	return svt_mmu_page_fault(M->mmu, &f, fr);
}

/* A 4-level machine where a supervisor write that only CR0.WP=0 allows
 * gets a step: under protection keys (keys: PKRU.WD for key 0) or SMAP
 * with RFLAGS.AC=1 (and SMEP).  The flags of a user leaf for it. */
static uint64_t step_setup(unsigned keys)
{
	mach_init(32, plain);
	enter_4level();
	if (keys) {
		M->pkru = 2;
		cr_assert_eq(svt_mmu_write_cr4(M->mmu, SVT_CR4_PAE | SVT_CR4_PKE), 0);
		return P | US | A | RW | D;     /* writable: only PKRU.WD (key 0) forbids it */
	}
	M->rflags |= SVT_RFLAGS_AC;
	cr_assert_eq(svt_mmu_write_cr4(M->mmu, SVT_CR4_PAE | SVT_CR4_SMAP | SVT_CR4_SMEP), 0);
	return P | US | A;
}

/*
 * K13 of the model harness: under SMAP (RFLAGS.AC=1 lets the supervisor at
 * a user page) or protection keys (PKRU.WD, which CR0.WP=0 overrides for
 * the supervisor), a supervisor-only path would let later supervisor
 * accesses past SMAP or the keys.  The write gets it for one step
 * (svt_fault_result.step), and svt_mmu_step_done() puts the entries back.
 */
Test(mmu_unit, implicit_write_under_wp0_with_smap_or_keys_gets_one_step)
{
	for (unsigned keys = 0; keys < 2; keys++) {
		uint64_t va = 0x405010, ge = (21ull << 12) | step_setup(keys);
		gwrite(0x4000 + 8 * 5, ge, 8);
		cr_assert_eq(svt_mmu_write_cr0(M->mmu, SVT_CR0_PE | SVT_CR0_PG), 0);
		struct svt_emu_regs regs = { .rip = 0x1000 };
		struct svt_fault_result fr;
		cr_assert_eq(wp0_fault(va, &regs, &fr), SVT_PF_FIXED, "keys %u", keys);
		cr_assert(fr.step, "for one step");
		cr_assert_eq(svt_mmu_counters(M->mmu)->env_errors, 0);
		uint64_t se = shadow_leaf(va);
		cr_assert((se & RW) && !(se & US), "writable, supervisor-only: %#lx",
			  (unsigned long)se);
		cr_assert(keys || (se & XD), "XD under SMEP: %#lx", (unsigned long)se);
		audit_clean();          /* (the step's grant is allowed while it lasts) */
		uint64_t mpa;
		uint32_t ec;
		cr_assert_eq(implicit_write(va, 0x5678, &mpa, &ec), 0, "the write goes through");
		cr_assert_eq(gread((21ull << 12) + 0x10, 8), 0x5678);
		unsigned flushes = M->flushes;
		svt_mmu_step_done(M->mmu);
		cr_assert_gt(M->flushes, flushes, "the step's translation flushed");
		se = shadow_leaf(va);
		cr_assert((keys || !(se & RW)) && (se & US), "the guest's rights again: %#lx",
			  (unsigned long)se);
		audit_clean();
		flushes = M->flushes;
		svt_mmu_step_done(M->mmu);
		cr_assert_eq(M->flushes, flushes, "no step open: nothing to do");
		/* the next write gets its own step; a fault of its
		 * instruction before the step ends that the guest must see
		 * (here: nothing mapped) ends it; so does any other input */
		cr_assert_eq(wp0_fault(va, &regs, &fr), SVT_PF_FIXED);
		cr_assert(fr.step);
		struct svt_access rd = { .va = 0x41e000, .kind = SVT_ACC_READ, .cpl = 0 };
		struct svt_walk w;
		cr_assert_neq(t_hw_walk(&rd, &w), SVT_WALK_OK);
		struct svt_fault f = { .va = 0x41e000, .error_code = w.error_code, .cpl = 0,
				       .rflags = M->rflags, .pkru = M->pkru, .code_bits = 64 };
		cr_assert_eq(svt_mmu_page_fault(M->mmu, &f, &fr), SVT_PF_INJECT);
		cr_assert_not(fr.step);
		cr_assert_eq(svt_mmu_counters(M->mmu)->env_errors, 0, "a fault may come in a step");
		se = shadow_leaf(va);
		cr_assert((keys || !(se & RW)) && (se & US), "ended: %#lx", (unsigned long)se);
		audit_clean();
		cr_assert_eq(wp0_fault(va, &regs, &fr), SVT_PF_FIXED);
		cr_assert(fr.step);
		svt_mmu_invlpg(M->mmu, 0x41e000);
		cr_assert_eq(svt_mmu_counters(M->mmu)->env_errors, 1, "the step was not ended");
		se = shadow_leaf(va);
		cr_assert((keys || !(se & RW)) && (se & US), "ended: %#lx", (unsigned long)se);
		audit_clean();
		mach_fini();
	}
}

/*
 * An event's stack frame across a page boundary, both pages needing the
 * step's grant: the delivery faults on the first page, gets the step, is
 * delivered again and faults on the second.  That fault comes with the step
 * open (the monitor trap flag's exit has not come), and its grant joins the
 * step's: both pages are writable for the delivery that follows, and
 * svt_mmu_step_done() takes both back.  Ending the step at the second
 * fault instead (seeded bug 87) takes the first page's grant back, and the
 * two faults would follow each other for ever.
 */
Test(mmu_unit, a_step_needing_two_pages_keeps_both)
{
	for (unsigned keys = 0; keys < 2; keys++) {
		uint64_t ge = step_setup(keys);
		gwrite(0x4000 + 8 * 5, (21ull << 12) | ge, 8);
		gwrite(0x4000 + 8 * 6, (22ull << 12) | ge, 8);
		cr_assert_eq(svt_mmu_write_cr0(M->mmu, SVT_CR0_PE | SVT_CR0_PG), 0);
		struct svt_emu_regs regs = { .rip = 0x1000 };
		struct svt_fault_result fr;
		uint64_t mpa;
		uint32_t ec;
		/* pushes from 0x406010 down: the upper page first */
		cr_assert_eq(wp0_fault(0x406000, &regs, &fr), SVT_PF_FIXED, "keys %u", keys);
		cr_assert(fr.step);
		cr_assert_eq(implicit_write(0x406000, 0x11, &mpa, &ec), 0);
		cr_assert_eq(wp0_fault(0x405ff8, &regs, &fr), SVT_PF_FIXED, "keys %u", keys);
		cr_assert(fr.step, "the second page joins the step");
		for (uint64_t va = 0x405ff8; va <= 0x406000; va += 8) {
			uint64_t se = shadow_leaf(va);
			cr_assert((se & RW) && !(se & US), "%#lx granted: %#lx", (unsigned long)va,
				  (unsigned long)se);
		}
		audit_clean();
		/* the delivery again: both pushes go through */
		cr_assert_eq(implicit_write(0x406000, 0x22, &mpa, &ec), 0, "keys %u", keys);
		cr_assert_eq(implicit_write(0x405ff8, 0x33, &mpa, &ec), 0, "keys %u", keys);
		cr_assert_eq(gread((22ull << 12), 8), 0x22);
		cr_assert_eq(gread((21ull << 12) + 0xff8, 8), 0x33);
		unsigned flushes = M->flushes;
		svt_mmu_step_done(M->mmu);
		cr_assert_gt(M->flushes, flushes, "the step's translations flushed");
		for (uint64_t va = 0x405ff8; va <= 0x406000; va += 8) {
			uint64_t se = shadow_leaf(va);
			cr_assert((keys || !(se & RW)) && (se & US), "%#lx back: %#lx",
				  (unsigned long)va, (unsigned long)se);
		}
		cr_assert_eq(svt_mmu_counters(M->mmu)->env_errors, 0);
		audit_clean();
		mach_fini();
	}
}

/*
 * A step's grant outlives shadows freed in it: faults of the stepped
 * instruction (here, reads under forty page tables of their own, more than
 * the 32-frame pool holds) evict shadow pages, the granted path's among
 * them, and make others in their frames.  The end of the step puts back
 * only the entries still as the grant made them, in pages still the same
 * table: writing the old value into a page evicted and made anew for
 * another table would corrupt that table (the audit finds it).
 */
Test(mmu_unit, a_step_survives_shadows_freed_in_it)
{
	uint64_t ge = step_setup(0);
	gwrite(0x4000 + 8 * 5, (21ull << 12) | ge, 8);
	for (unsigned i = 3; i < 43; i++) {
		gwrite(0x3000 + 8 * i, ((100ull + i) << 12) | P | RW | US | A, 8);
		gwrite((100ull + i) << 12, (60ull << 12) | P | RW | A | D, 8);
	}
	cr_assert_eq(svt_mmu_write_cr0(M->mmu, SVT_CR0_PE | SVT_CR0_PG), 0);
	struct svt_emu_regs regs = { .rip = 0x1000 };
	struct svt_fault_result fr;
	cr_assert_eq(wp0_fault(0x405010, &regs, &fr), SVT_PF_FIXED);
	cr_assert(fr.step);
	uint64_t evictions = svt_mmu_counters(M->mmu)->evictions;
	for (unsigned i = 3; i < 43; i++) {
		uint64_t va = (uint64_t)i << 21;
		struct svt_access rd = { .va = va, .kind = SVT_ACC_READ, .cpl = 0 };
		struct svt_walk w;
		if (t_hw_walk(&rd, &w) == SVT_WALK_OK)
			continue;
		struct svt_fault f = { .va = va, .error_code = w.error_code, .cpl = 0,
				       .rflags = M->rflags, .pkru = M->pkru, .code_bits = 64 };
		cr_assert_eq(svt_mmu_page_fault(M->mmu, &f, &fr), SVT_PF_FIXED, "va %#lx",
			     (unsigned long)va);
		cr_assert_not(fr.step);
	}
	cr_assert_gt(svt_mmu_counters(M->mmu)->evictions, evictions, "the pool was full");
	svt_mmu_step_done(M->mmu);
	audit_clean();
	for (unsigned i = 3; i < 43; i++) {
		uint64_t va = (uint64_t)i << 21;
		cr_assert_eq(access8(va, SVT_ACC_READ, 0, 0).mpa, g2m(60) * 4096, "va %#lx",
			     (unsigned long)va);
	}
	audit_clean();
	cr_assert_eq(svt_mmu_counters(M->mmu)->env_errors, 0);
	mach_fini();
}

/* A fault the core answers RETRY again and again with nothing between (a
 * write it must emulate, from a caller that never gives the registers it
 * asks for) is reported stuck the SVT_PF_STUCK_AFTER-th time in a row (the
 * hypervisor stops the guest there); an input or another fault between
 * starts the count again. */
Test(mmu_unit, a_fault_retried_again_and_again_is_stuck)
{
	mach_init(32, plain);
	enter_4level();
	gwrite(0x4000 + 8 * 5, (21ull << 12) | P | A, 8);      /* supervisor, read-only */
	gwrite(0x4000 + 8 * 6, (22ull << 12) | P | A, 8);
	cr_assert_eq(svt_mmu_write_cr0(M->mmu, SVT_CR0_PE | SVT_CR0_PG), 0);
	struct svt_fault_result fr;
	for (unsigned round = 0; round < 2; round++) {
		for (unsigned i = 1; i < SVT_PF_STUCK_AFTER; i++) {
			cr_assert_eq(wp0_fault(0x405010, NULL, &fr), SVT_PF_RETRY);
			cr_assert(fr.wants_regs);
			cr_assert_not(fr.stuck, "round %u, try %u", round, i);
		}
		cr_assert_eq(wp0_fault(0x405010, NULL, &fr), SVT_PF_RETRY);
		cr_assert(fr.stuck, "stuck at try %u", SVT_PF_STUCK_AFTER);
	}
	/* an input between (here an INVLPG elsewhere), or another fault,
	 * starts the count again: the guest may have changed something */
	for (unsigned i = 1; i < SVT_PF_STUCK_AFTER; i++)
		cr_assert_eq(wp0_fault(0x405010, NULL, &fr), SVT_PF_RETRY);
	cr_assert_not(fr.stuck);
	svt_mmu_invlpg(M->mmu, 0x800000);
	cr_assert_eq(wp0_fault(0x405010, NULL, &fr), SVT_PF_RETRY);
	cr_assert_not(fr.stuck, "counted again after the INVLPG");
	for (unsigned i = 2; i < SVT_PF_STUCK_AFTER; i++)
		cr_assert_eq(wp0_fault(0x405010, NULL, &fr), SVT_PF_RETRY);
	cr_assert_eq(wp0_fault(0x406010, NULL, &fr), SVT_PF_RETRY);
	cr_assert_not(fr.stuck, "another address");
	cr_assert_eq(wp0_fault(0x405010, NULL, &fr), SVT_PF_RETRY);
	cr_assert_not(fr.stuck, "counted again after another fault");
	/* with the registers it is done, and that ends the run too */
	struct svt_emu_regs regs = { .rip = 0x1000 };
	cr_assert_eq(wp0_fault(0x405010, &regs, &fr), SVT_PF_FIXED);
	cr_assert_not(fr.stuck);
	audit_clean();
	mach_fini();
}

/* K2/K7 of the model harness: a write with no instruction to a page table
 * on its own walk (the PT maps itself at va 0x414000) or to the current
 * top level goes out of sync by force until the next flush, whatever the
 * policy; the hardware performs it. */
Test(mmu_unit, implicit_write_to_a_table_on_its_walk_goes_out_of_sync)
{
	struct svt_policy pols[2] = { { .emulate = true }, { .emulate = false } };
	for (unsigned k = 0; k < 2; k++) {
		mach_init(32, pols[k]);
		enter_4level();
		cr_assert_eq(access8(0x402000, SVT_ACC_READ, 3, 0).mpa, g2m(18) * 4096);
		uint64_t mpa, val = (43ull << 12) | P | RW | US | A;
		uint32_t ec;
		cr_assert_eq(implicit_write(0x414000 + 8 * 2, val, &mpa, &ec), 0);
		cr_assert_eq(gread(0x4010, 8), val);
		cr_assert_eq(svt_mmu_counters(M->mmu)->emulated, 0);
		cr_assert_eq(svt_mmu_counters(M->mmu)->env_errors, 0);
		cr_assert(M->mem[shadow_leaf_pa(0x414000)] & RW, "the table is writable");
		audit_clean();
		/* until INVLPG: then in sync and write-protected again */
		svt_mmu_invlpg(M->mmu, 0x402000);
		cr_assert_not(M->mem[shadow_leaf_pa(0x414000)] & RW, "protected again");
		audit_clean();
		cr_assert_eq(access8(0x402000, SVT_ACC_READ, 3, 0).mpa, g2m(43) * 4096);
		/* the top level, through the direct map: until the next CR3 load */
		uint64_t pml4e = 0x40000000ull + 0x1000 + 8 * 5;
		cr_assert_eq(access8(pml4e, SVT_ACC_READ, 0, 0).kind, 0);
		cr_assert_eq(implicit_write(pml4e, 0, &mpa, &ec), 0);
		cr_assert(M->mem[shadow_leaf_pa(pml4e)] & RW);
		audit_clean();
		cr_assert_eq(svt_mmu_write_cr3(M->mmu, 0x1000), 0);
		cr_assert_not(M->mem[shadow_leaf_pa(pml4e)] & RW);
		cr_assert_eq(svt_mmu_counters(M->mmu)->env_errors, 0);
		audit_clean();
		mach_fini();
	}
}

Test(mmu_unit, root_cache_makes_switching_back_cheap)
{
	mach_init(32, plain);
	enter_4level();
	gwrite(0x8000, 0x2000 | P | RW | US, 8);       /* a second PML4 at gfn 8 */
	cr_assert_eq(access8(0x400000, SVT_ACC_READ, 3, 0).kind, 0);
	cr_assert_eq(svt_mmu_write_cr3(M->mmu, 0x8000), 0);
	cr_assert_eq(access8(0x400000, SVT_ACC_READ, 3, 0).kind, 0);
	uint64_t made = svt_mmu_counters(M->mmu)->shadows_made;
	uint64_t faults = svt_mmu_counters(M->mmu)->faults;
	for (unsigned i = 0; i < 10; i++) {
		cr_assert_eq(svt_mmu_write_cr3(M->mmu, (i & 1) ? 0x8000 : 0x1000), 0);
		cr_assert_eq(access8(0x400000, SVT_ACC_READ, 3, 0).kind, 0);
	}
	cr_assert_eq(svt_mmu_counters(M->mmu)->shadows_made, made, "no shadow rebuilt");
	cr_assert_eq(svt_mmu_counters(M->mmu)->faults, faults, "no fault after a switch back");
	audit_clean();
	mach_fini();
}

Test(mmu_unit, audits_catch_corrupted_shadows)
{
	struct svt_violation v[16];
	mach_init(32, plain);
	enter_4level();
	cr_assert_eq(access8(0x401000, SVT_ACC_READ, 3, 0).kind, 0);
	cr_assert_eq(access8(0x414000, SVT_ACC_READ, 0, 0).kind, 0);
	audit_clean();
	/* A read-only leaf made writable behind the core's back. */
	uint64_t pa = shadow_leaf_pa(0x401000);
	M->mem[pa] |= RW;
	unsigned n = svt_mmu_audit(M->mmu, SVT_AUDIT_ALL, v, 16);
	cr_assert_geq(n, 2);
	bool perm = false, sync = false;
	for (unsigned i = 0; i < n && i < 16; i++) {
		perm |= v[i].inv == SVT_INV_PERM && v[i].va == 0x401000;
		sync |= v[i].inv == SVT_INV_SYNC;
	}
	cr_assert(perm && sync, "INV-PERM and INV-SYNC both report it");
	cr_assert_eq(svt_mmu_audit_va(M->mmu, 0x401000, v, 16), 1);
	cr_assert_eq(v[0].inv, SVT_INV_PERM);
	M->mem[pa] &= ~RW;
	/* The page table, mapped through 0x414000, made writable: INV-WP. */
	pa = shadow_leaf_pa(0x414000);
	M->mem[pa] |= RW;
	n = svt_mmu_audit(M->mmu, SVT_AUDIT_ENTRIES, v, 16);
	cr_assert_geq(n, 1);
	cr_assert_eq(v[0].inv, SVT_INV_WP);
	M->mem[pa] &= ~RW;
	/* A leaf pointing at the wrong machine frame: INV-FRAME. */
	pa = shadow_leaf_pa(0x401000);
	M->mem[pa + 1] ^= 0x10;
	n = svt_mmu_audit(M->mmu, SVT_AUDIT_WALK, v, 16);
	cr_assert_eq(n, 1);
	cr_assert_eq(v[0].inv, SVT_INV_FRAME);
	M->mem[pa + 1] ^= 0x10;
	audit_clean();
	mach_fini();
}

Test(mmu_unit, five_level_guest_with_pcid)
{
	mach_init(32, plain);
	/* PML5 at gfn 9 -> PML4 gfn 1 (the 4-level tables) */
	build_4level();
	gwrite(0x9000, 0x1000 | P | RW | US, 8);
	cr_assert_eq(svt_mmu_write_cr4(M->mmu, SVT_CR4_PAE | SVT_CR4_LA57), 0);
	cr_assert_eq(svt_mmu_write_efer(M->mmu, SVT_EFER_LME), 0);
	cr_assert_eq(svt_mmu_write_cr3(M->mmu, 0x9000), 0);
	cr_assert_eq(svt_mmu_write_cr0(M->mmu, SVT_CR0_PE | SVT_CR0_PG), 0);
	struct svt_hw_state hs;
	svt_mmu_hw_state(M->mmu, &hs);
	cr_assert_eq(hs.mode, SVT_MODE_5LEVEL);
	cr_assert_eq(access8(0x401000, SVT_ACC_READ, 3, 0).mpa, g2m(17) * 4096);
	cr_assert_eq(svt_mmu_write_cr4(M->mmu, SVT_CR4_PAE | SVT_CR4_LA57 | SVT_CR4_PCIDE), 0);
	cr_assert_eq(svt_mmu_write_cr3(M->mmu, 0x9000 | 5 | (1ull << 63)), 0, "PCID 5, no flush");
	cr_assert_eq(svt_mmu_guest_regs(M->mmu)->cr3, 0x9005, "bit 63 is not stored");
	cr_assert_eq(svt_mmu_write_cr4(M->mmu, SVT_CR4_PAE), SVT_E_GP,
		     "LA57 cannot change in long mode");
	cr_assert_eq(svt_mmu_invpcid(M->mmu, 0, 5, 0x0000800000000000ull), 0,
		     "canonical with LA57");
	cr_assert_eq(svt_mmu_invpcid(M->mmu, 0, 5, 0x0100000000000000ull), SVT_E_GP);
	audit_clean();
	mach_fini();
}

/* A clock that advances 10 ticks each time it is read. */
static uint64_t fake_now;
static uint64_t fake_ticks(void *ctx)
{
	(void)ctx;
	return fake_now += 10;
}

Test(mmu_unit, profile_counts_ticks_only_with_a_clock)
{
	const uint64_t *prof;

	mach_init(32, plain);
	enter_4level();
	access8(0x401008, SVT_ACC_READ, 3, 0);
	prof = svt_mmu_prof(M->mmu);
	for (unsigned i = 0; i < SVT_PROF_N; i++)
		cr_assert_eq(prof[i], 0, "no clock: part %u stays 0", i);
	mach_fini();

	clock_fn = fake_ticks;
	mach_init(32, plain);
	clock_fn = NULL;
	enter_4level();
	access8(0x401008, SVT_ACC_READ, 3, 0);
	/* PTE 2 through the direct map: a page-table write, emulated */
	access8(0x40000000ull + 0x4000 + 8 * 2, SVT_ACC_WRITE, 0, (40ull << 12) | P | RW | US | A);
	prof = svt_mmu_prof(M->mmu);
	/* The guest walk reads the clock twice and nothing inside it does:
	 * 10 ticks per fault (paging was on for every one). */
	uint64_t faults = svt_mmu_counters(M->mmu)->faults;
	cr_assert_gt(faults, 0);
	cr_assert_eq(prof[SVT_PROF_GWALK], 10 * faults);
	cr_assert_geq(prof[SVT_PROF_SWALK], 10);
	cr_assert_geq(prof[SVT_PROF_PTWRITE], 10);
	cr_assert_geq(prof[SVT_PROF_PROPAGATE], 10);
	cr_assert_geq(prof[SVT_PROF_ROOT], 10, "the CR3 load made a root");
	cr_assert_eq(prof[SVT_PROF_OOS], 0, "out of sync is off");
	cr_assert_geq(svt_mmu_counters(M->mmu)->emulated, 1);
	audit_clean();
	mach_fini();
}

/* ---- memory types ------------------------------------------------------ */

#define PWT 0x8ull
#define PCD 0x10ull
#define PAT4K 0x80ull                   /* PAT in a 4 KiB entry (PS elsewhere) */
#define PATBIG 0x1000ull                /* PAT in an entry that maps a large page */

/* The flags that give PAT index mt (PAT:PCD:PWT, SDM 11.12.3) in an entry
 * whose PAT bit is pat. */
static uint64_t mt_bits(unsigned mt, uint64_t pat)
{
	return ((mt & 1) ? PWT : 0) | ((mt & 2) ? PCD : 0) | ((mt & 4) ? pat : 0);
}

/* The PAT index of the shadow leaf the hardware uses for va, read as the
 * CPU reads a 4 KiB entry (shadows never map large pages); *mpa the
 * machine address reached. */
static unsigned shadow_mt(uint64_t va, uint64_t *mpa)
{
	struct svt_access acc = { .va = va, .kind = SVT_ACC_READ, .cpl = 0 };
	struct svt_walk w;
	cr_assert_eq(t_hw_walk(&acc, &w), SVT_WALK_OK, "va %#lx is mapped in the shadows",
		     (unsigned long)va);
	cr_assert_eq(w.lv[w.nlevels - 1].level, 1, "a 4 KiB shadow leaf");
	uint64_t e = w.lv[w.nlevels - 1].entry;
	if (mpa)
		*mpa = w.gpa;
	return ((e & PWT) ? 1u : 0) | ((e & PCD) ? 2u : 0) | ((e & PAT4K) ? 4u : 0);
}

/* Fault va in (a supervisor read), then its shadow leaf's PAT index. */
static unsigned faulted_mt(uint64_t va, uint64_t gfn)
{
	uint64_t mpa;
	cr_assert_eq(access8(va, SVT_ACC_READ, 0, 0).kind, 0);
	unsigned mt = shadow_mt(va, &mpa);
	cr_assert_eq(mpa, g2m(gfn) * 4096 + (va & 0xfff), "va %#lx: the frame is the guest's",
		     (unsigned long)va);
	return mt;
}

Test(mmu_unit, memory_types_reach_4level_leaves_and_splinters)
{
	struct svt_policy pol = { .prefetch = 16, .emulate = true };
	mach_init(32, pol);
	build_4level();
	/* PT entries 0..7 (va 0x400000..) carry PAT indexes 0..7, all accessed
	 * so that prefetch fills them from the first fault */
	for (unsigned i = 0; i < 8; i++)
		gwrite(0x4000 + 8 * i, gread(0x4000 + 8 * i, 8) | A | mt_bits(i, PAT4K), 8);
	/* the 1 GiB direct map: PAT index 5; PD[3] (va 0x600000) a 2 MiB page
	 * at gpa 0 with index 6, PD[4] (va 0x800000) the same page with 1 */
	gwrite(0x2008, gread(0x2008, 8) | mt_bits(5, PATBIG), 8);
	gwrite(0x3000 + 8 * 3, 0 | P | RW | US | PS | A | D | mt_bits(6, PATBIG), 8);
	gwrite(0x3000 + 8 * 4, 0 | P | RW | US | PS | A | D | mt_bits(1, PATBIG), 8);
	cr_assert_eq(svt_mmu_write_cr4(M->mmu, SVT_CR4_PAE), 0);
	cr_assert_eq(svt_mmu_write_efer(M->mmu, SVT_EFER_LME | SVT_EFER_NXE), 0);
	cr_assert_eq(svt_mmu_write_cr3(M->mmu, 0x1000), 0);
	cr_assert_eq(svt_mmu_write_cr0(M->mmu, SVT_CR0_PE | SVT_CR0_PG | SVT_CR0_WP), 0);

	cr_assert_eq(faulted_mt(0x400000, 16), 0);
	unsigned faults = (unsigned)svt_mmu_counters(M->mmu)->faults;
	for (unsigned i = 1; i < 8; i++)
		cr_assert_eq(shadow_mt(0x400000 + 0x1000 * i, NULL), i, "prefetched PTE %u", i);
	cr_assert_eq(svt_mmu_counters(M->mmu)->faults, faults, "all prefetched");
	for (unsigned i = 0; i < 8; i++)
		cr_assert_eq(faulted_mt(0x400000 + 0x1000 * i, 16 + i), i, "PTE %u", i);

	/* splinters: the PAT bit moves from bit 12 to bit 7 (and the frame
	 * stays the guest's: bit 12 is a frame bit in a 4 KiB entry) */
	cr_assert_eq(faulted_mt(0x40021000, 0x21), 5, "1 GiB page");
	cr_assert_eq(shadow_mt(0x40022000, NULL), 5, "prefetched piece of the 1 GiB page");
	cr_assert_eq(faulted_mt(0x620000, 0x20), 6, "2 MiB page");
	cr_assert_eq(shadow_mt(0x621000, NULL), 6, "prefetched piece of the 2 MiB page");
	cr_assert_eq(faulted_mt(0x820000, 0x20), 1, "the same 2 MiB frame, another type");
	cr_assert_eq(shadow_mt(0x620000, NULL), 6, "each mapping keeps its own type");
	audit_clean();

	/* the guest changes a leaf's type through the direct map (emulated
	 * writes to its shadowed tables), then INVLPG: the shadow follows */
	uint64_t pte = (gread(0x4010, 8) & ~mt_bits(7, PAT4K)) | mt_bits(4, PAT4K);
	uint64_t pde = (gread(0x3018, 8) & ~mt_bits(7, PATBIG)) | mt_bits(3, PATBIG);
	cr_assert_eq(access8(0x40004010, SVT_ACC_WRITE, 0, pte).kind, 0);
	cr_assert_eq(access8(0x40003018, SVT_ACC_WRITE, 0, pde).kind, 0);
	svt_mmu_invlpg(M->mmu, 0x402000);
	svt_mmu_invlpg(M->mmu, 0x620000);
	cr_assert_eq(faulted_mt(0x402000, 18), 4);
	cr_assert_eq(faulted_mt(0x620000, 0x20), 3);
	audit_clean();
	mach_fini();
}

Test(mmu_unit, memory_types_in_2level_and_pae_guests)
{
	mach_init(32, plain);
	/* paging off: the 1:1 tables use PAT index 0 (the PAT is not used) */
	cr_assert_eq(faulted_mt(0x5000, 5), 0);
	/* 2-level: PDE[0] a 4 MiB page at 0 with index 5 (PAT at bit 12, as
	 * in every large-page entry); PDE[1] -> PT gfn 2 whose entries 3 and
	 * 4 map gfns 30 (index 6, PAT at bit 7) and 31 (index 0) */
	gwrite(0x1000, 0 | P | RW | US | PS | mt_bits(5, PATBIG), 4);
	gwrite(0x1004, 0x2000 | P | RW | US, 4);
	gwrite(0x2000 + 4 * 3, (30ull << 12) | P | RW | US | mt_bits(6, PAT4K), 4);
	gwrite(0x2000 + 4 * 4, (31ull << 12) | P | RW | US, 4);
	cr_assert_eq(svt_mmu_write_cr4(M->mmu, SVT_CR4_PSE), 0);
	cr_assert_eq(svt_mmu_write_cr3(M->mmu, 0x1000), 0);
	cr_assert_eq(svt_mmu_write_cr0(M->mmu, SVT_CR0_PE | SVT_CR0_PG | SVT_CR0_WP), 0);
	cr_assert_eq(faulted_mt(0x9000, 9), 5, "4 MiB page splintered");
	cr_assert_eq(faulted_mt(0x403000, 30), 6);
	cr_assert_eq(faulted_mt(0x404000, 31), 0);
	audit_clean();
	/* PAE: PDPT at 0x3020 -> PD gfn 4; PD[0] a 2 MiB page at 0 with index
	 * 7; PD[1] -> PT gfn 5, entry 2 maps gfn 40 with index 5 */
	gwrite(0x3020, 0x4000 | P, 8);
	gwrite(0x4000, 0 | P | RW | PS | mt_bits(7, PATBIG), 8);
	gwrite(0x4008, 0x5000 | P | RW, 8);
	gwrite(0x5000 + 8 * 2, (40ull << 12) | P | RW | mt_bits(5, PAT4K), 8);
	cr_assert_eq(svt_mmu_write_cr0(M->mmu, SVT_CR0_PE), 0);
	cr_assert_eq(svt_mmu_write_cr4(M->mmu, SVT_CR4_PAE), 0);
	cr_assert_eq(svt_mmu_write_cr3(M->mmu, 0x3020), 0);
	cr_assert_eq(svt_mmu_write_cr0(M->mmu, SVT_CR0_PE | SVT_CR0_PG | SVT_CR0_WP), 0);
	cr_assert_eq(faulted_mt(0x7000, 7), 7, "2 MiB page splintered");
	cr_assert_eq(faulted_mt(0x202000, 40), 5);
	audit_clean();
	mach_fini();
}

/* The free list's depths (sh_page.fdepth): a whole audit walks it all and
 * reports a page in use on it or depths that do not count down; the
 * incremental audit checks its top down to the deepest page taken since
 * the last audit (below that the list is as that audit saw it) and takes
 * the count from the top's depth. */
static unsigned structs(unsigned flags)
{
	struct svt_violation v[16];
	unsigned n = svt_mmu_audit(M->mmu, flags, v, 16), k = 0;
	for (unsigned i = 0; i < n && i < 16; i++)
		k += v[i].inv == SVT_INV_STRUCT;
	return k;
}

Test(mmu_unit, free_list_audited_from_its_top)
{
	mach_init(32, plain);
	enter_4level();
	cr_assert_eq(access8(0x401000, SVT_ACC_READ, 3, 0).kind, 0);
	audit_clean();
	cr_assert_eq(structs(SVT_AUDIT_ALL | SVT_AUDIT_INCR), 0);
	struct svt_mmu *m = M->mmu;
	uint32_t h = m->d.free_sp;
	cr_assert_neq(h, SP_NONE);
	/* the top page marked in use behind the core's back */
	SP(m, h)->type = SH_L1;
	cr_assert_geq(structs(SVT_AUDIT_ALL), 1, "the whole audit sees it");
	SP(m, h)->type = SH_FREE;
	cr_assert_eq(structs(SVT_AUDIT_ALL), 0);
	/* a depth two below the top that does not count down: the whole audit */
	uint32_t d = SP(m, SP(m, h)->hash_next)->hash_next;
	cr_assert_neq(d, SP_NONE);
	SP(m, d)->fdepth += 5;
	cr_assert_geq(structs(SVT_AUDIT_ALL), 1, "the whole audit sees it");
	SP(m, d)->fdepth -= 5;
	cr_assert_eq(structs(SVT_AUDIT_ALL), 0);
	/* pages taken off the top since (new shadows): checked down to the
	 * deepest of them, so a top whose depth is one too many is caught */
	cr_assert_eq(access8(0x40000000, SVT_ACC_READ, 0, 0).kind, 0);
	h = m->d.free_sp;
	SP(m, h)->fdepth++;
	cr_assert_geq(structs(SVT_AUDIT_ALL | SVT_AUDIT_INCR), 1, "a wrong depth at the top");
	SP(m, h)->fdepth--;
	audit_clean();
	mach_fini();
}
