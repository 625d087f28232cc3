/*
 * test-walk-unit.c — walker behaviour that the exhaustive model comparison
 * does not reach: the environment contract (reads and writes only through
 * env, little-endian entries, failures reported as SVT_WALK_ENV, nothing
 * written on a faulting walk or without SVT_WALK_SET_AD), the per-level
 * record, and a few hand-worked SDM cases.
 */
#include <criterion/criterion.h>
#include <string.h>

#include "svt.h"

#define MEMSZ 0x10000

struct tmem {
	uint8_t b[MEMSZ];
	unsigned reads, writes;
	uint64_t fail_read_at, fail_write_at; /* 0: never */
};

static int tread(void *ctx, uint64_t gpa, void *buf, size_t len)
{
	struct tmem *m = ctx;
	m->reads++;
	if (m->fail_read_at && gpa == m->fail_read_at)
		return -1;
	for (size_t i = 0; i < len; i++)
		((uint8_t *)buf)[i] = gpa + i < MEMSZ ? m->b[gpa + i] : 0;
	return 0;
}

static int twrite(void *ctx, uint64_t gpa, const void *buf, size_t len)
{
	struct tmem *m = ctx;
	m->writes++;
	if ((m->fail_write_at && gpa == m->fail_write_at) || gpa + len > MEMSZ)
		return -1;
	memcpy(m->b + gpa, buf, len);
	return 0;
}

static void put(struct tmem *m, uint64_t gpa, uint64_t v, unsigned size)
{
	for (unsigned i = 0; i < size; i++)
		m->b[gpa + i] = (uint8_t)(v >> (8 * i));
}

static uint64_t get(const struct tmem *m, uint64_t gpa, unsigned size)
{
	uint64_t v = 0;
	for (unsigned i = size; i-- > 0;)
		v = (v << 8) | m->b[gpa + i];
	return v;
}

static struct tmem mem;
static struct svt_env env = { .ctx = &mem, .read_gpa = tread, .write_gpa = twrite };

static void regs_4level(struct svt_regs *r)
{
	memset(r, 0, sizeof(*r));
	r->cr0 = SVT_CR0_PE | SVT_CR0_PG | SVT_CR0_WP;
	r->cr4 = SVT_CR4_PAE;
	r->efer = SVT_EFER_LME | SVT_EFER_LMA | SVT_EFER_NXE;
	r->cr3 = 0x1000;
	r->maxphyaddr = 46;
	r->features = SVT_FEAT_1GPAGE;
}

/* 4-level: 0x7f0000401000 -> 0xabc000, user RW, A/D clear everywhere. */
static void build_4level(void)
{
	memset(&mem, 0, sizeof(mem));
	uint64_t va = 0x7f0000401000ull;
	put(&mem, 0x1000 + 8 * ((va >> 39) & 511), 0x2000 | 7, 8);
	put(&mem, 0x2000 + 8 * ((va >> 30) & 511), 0x3000 | 7, 8);
	put(&mem, 0x3000 + 8 * ((va >> 21) & 511), 0x4000 | 7, 8);
	put(&mem, 0x4000 + 8 * ((va >> 12) & 511), 0xabc000 | 7, 8);
}

Test(walk_unit, records_every_level)
{
	struct svt_regs r;
	struct svt_access acc = { .va = 0x7f0000401123ull, .kind = SVT_ACC_WRITE, .cpl = 3 };
	struct svt_walk w;

	regs_4level(&r);
	build_4level();
	cr_assert_eq(svt_walk(&env, &r, &acc, 0, &w), SVT_WALK_OK);
	cr_assert_eq(w.mode, SVT_MODE_4LEVEL);
	cr_assert_eq(w.gpa, 0xabc123);
	cr_assert_eq(w.page_size, 4096);
	cr_assert_eq(w.nlevels, 4);
	static const uint64_t tables[4] = { 0x1000, 0x2000, 0x3000, 0x4000 };
	for (unsigned i = 0; i < 4; i++) {
		cr_assert_eq(w.lv[i].level, 4 - i);
		cr_assert_eq(w.lv[i].table, tables[i]);
		cr_assert_eq(w.lv[i].size, 8);
		cr_assert_eq(w.lv[i].leaf, i == 3);
		cr_assert_eq(w.lv[i].rights, SVT_RIGHT_W | SVT_RIGHT_U | SVT_RIGHT_X);
	}
	cr_assert_eq(w.lv[0].entry_gpa, 0x1000 + 8 * 254);
	/* A on every level, D on the leaf: four updates, none applied. */
	cr_assert_eq(w.nad, 4);
	cr_assert_eq(w.ad[3].new, 0xabc000 | 7 | SVT_PTE_A | SVT_PTE_D);
	cr_assert_eq(w.ad[0].new, 0x2000 | 7 | SVT_PTE_A);
	cr_assert_eq(mem.writes, 0, "without SVT_WALK_SET_AD nothing is written");
}

Test(walk_unit, set_ad_writes_little_endian)
{
	struct svt_regs r;
	struct svt_access acc = { .va = 0x7f0000401123ull, .kind = SVT_ACC_WRITE, .cpl = 3 };
	struct svt_walk w;

	regs_4level(&r);
	build_4level();
	/* Put the key in bits 62:59 and XD clear: the high half must survive. */
	uint64_t pte_gpa = 0x4000 + 8 * 1;
	put(&mem, pte_gpa, (5ull << 59) | 0xabc000 | 7, 8);
	cr_assert_eq(svt_walk(&env, &r, &acc, SVT_WALK_SET_AD, &w), SVT_WALK_OK);
	cr_assert_eq(w.pkey, 5);
	cr_assert_eq(mem.writes, 4);
	cr_assert_eq(get(&mem, pte_gpa, 8), (5ull << 59) | 0xabc000 | 7 | 0x60);
	/* Walking again changes nothing more. */
	mem.writes = 0;
	cr_assert_eq(svt_walk(&env, &r, &acc, SVT_WALK_SET_AD, &w), SVT_WALK_OK);
	cr_assert_eq(w.nad, 0);
	cr_assert_eq(mem.writes, 0);
}

Test(walk_unit, faulting_walk_writes_nothing)
{
	struct svt_regs r;
	struct svt_access acc = { .va = 0x7f0000401123ull, .kind = SVT_ACC_WRITE, .cpl = 3 };
	struct svt_walk w;

	regs_4level(&r);
	build_4level();
	put(&mem, 0x4000 + 8, 0xabc000 | 5, 8); /* leaf read-only */
	cr_assert_eq(svt_walk(&env, &r, &acc, SVT_WALK_SET_AD, &w), SVT_WALK_PF);
	cr_assert_eq(w.error_code, SVT_PFEC_P | SVT_PFEC_W | SVT_PFEC_U);
	cr_assert_eq(w.cr2, acc.va);
	cr_assert_eq(w.nad, 0);
	cr_assert_eq(mem.writes, 0);
	cr_assert_eq(get(&mem, 0x1000 + 8 * 254, 8), 0x2000 | 7, "no A on upper levels");
}

Test(walk_unit, env_failures_are_not_guest_faults)
{
	struct svt_regs r;
	struct svt_access acc = { .va = 0x7f0000401123ull, .kind = SVT_ACC_READ, .cpl = 0 };
	struct svt_walk w;

	regs_4level(&r);
	build_4level();
	mem.fail_read_at = 0x3000 + 8 * 2;
	cr_assert_eq(svt_walk(&env, &r, &acc, 0, &w), SVT_WALK_ENV);
	mem.fail_read_at = 0;
	mem.fail_write_at = 0x4000 + 8;
	cr_assert_eq(svt_walk(&env, &r, &acc, SVT_WALK_SET_AD, &w), SVT_WALK_ENV);
	mem.fail_write_at = 0;
}

Test(walk_unit, two_level_entries_are_32_bits)
{
	struct svt_regs r = { .cr0 = SVT_CR0_PE | SVT_CR0_PG, .cr3 = 0x1000, .maxphyaddr = 36 };
	struct svt_access acc = { .va = 0xc0401abc, .kind = SVT_ACC_WRITE, .cpl = 0 };
	struct svt_walk w;

	memset(&mem, 0, sizeof(mem));
	put(&mem, 0x1000 + 4 * 0x301, 0x2000 | 3, 4);
	put(&mem, 0x2000 + 4 * 1, 0x7000 | 1, 4);       /* read-only, WP=0 */
	put(&mem, 0x2000 + 4 * 2, 0xffffffff, 4);        /* a neighbour that must stay */
	cr_assert_eq(svt_walk(&env, &r, &acc, SVT_WALK_SET_AD, &w), SVT_WALK_OK);
	cr_assert_eq(w.gpa, 0x7abc);
	cr_assert_eq(w.lv[1].size, 4);
	cr_assert_eq(w.lv[1].entry_gpa, 0x2004);
	cr_assert_eq(get(&mem, 0x2004, 4), 0x7000 | 1 | 0x60);
	cr_assert_eq(get(&mem, 0x2008, 4), 0xffffffff);
	/* The same write with CR0.WP=1 faults, and at CPL 3 it is a user fault. */
	r.cr0 |= SVT_CR0_WP;
	cr_assert_eq(svt_walk(&env, &r, &acc, 0, &w), SVT_WALK_PF);
	cr_assert_eq(w.error_code, SVT_PFEC_P | SVT_PFEC_W);
	acc.cpl = 3;
	cr_assert_eq(svt_walk(&env, &r, &acc, 0, &w), SVT_WALK_PF);
	cr_assert_eq(w.error_code, SVT_PFEC_P | SVT_PFEC_W | SVT_PFEC_U, "the PDE is supervisor");
}

Test(walk_unit, pae_uses_loaded_pdptes_not_memory)
{
	struct svt_regs r = { .cr0 = SVT_CR0_PE | SVT_CR0_PG, .cr4 = SVT_CR4_PAE,
			      .cr3 = 0x1020, .maxphyaddr = 36 };
	struct svt_access acc = { .va = 0x40201000, .kind = SVT_ACC_READ, .cpl = 0 };
	struct svt_walk w;

	memset(&mem, 0, sizeof(mem));
	put(&mem, 0x1020 + 8, 0x2000 | 1, 8);          /* PDPTE[1] */
	put(&mem, 0x2000 + 8 * 1, 0x3000 | 3, 8);
	put(&mem, 0x3000 + 8 * 1, 0x9000 | 3, 8);
	cr_assert_eq(svt_pae_load_pdptes(&env, &r), 0);
	cr_assert_eq(r.pdpte[1], 0x2001);
	put(&mem, 0x1020 + 8, 0, 8);                   /* memory changes, registers do not */
	mem.writes = 0;
	cr_assert_eq(svt_walk(&env, &r, &acc, SVT_WALK_SET_AD, &w), SVT_WALK_OK);
	cr_assert_eq(w.gpa, 0x9000);
	cr_assert_eq(w.lv[0].entry_gpa, 0x1028);
	cr_assert_eq(w.nad, 2, "no A/D update of a PDPTE");
	cr_assert_eq(mem.writes, 2);
	/* A reserved bit in a present PDPTE fails the load and keeps the registers. */
	put(&mem, 0x1020 + 8, 0x2000 | 1 | (1ull << 36), 8);
	cr_assert_eq(svt_pae_load_pdptes(&env, &r), -1);
	cr_assert_eq(r.pdpte[1], 0x2001);
	/* ...but not in one that is not present. */
	put(&mem, 0x1020 + 8, (1ull << 36), 8);
	cr_assert_eq(svt_pae_load_pdptes(&env, &r), 0);
	cr_assert_eq(svt_walk(&env, &r, &acc, 0, &w), SVT_WALK_PF);
	cr_assert_eq(w.error_code, 0);
	cr_assert_eq(w.nlevels, 1);
}

Test(walk_unit, paging_modes)
{
	struct svt_regs r = { .maxphyaddr = 40 };
	cr_assert_eq(svt_paging_mode(&r), SVT_MODE_NONE);
	r.cr0 = SVT_CR0_PE | SVT_CR0_PG;
	cr_assert_eq(svt_paging_mode(&r), SVT_MODE_2LEVEL);
	r.cr4 = SVT_CR4_PAE | SVT_CR4_LA57;
	cr_assert_eq(svt_paging_mode(&r), SVT_MODE_PAE, "LA57 matters only in long mode");
	r.efer = SVT_EFER_LME;
	cr_assert_eq(svt_paging_mode(&r), SVT_MODE_5LEVEL);
	r.cr4 = SVT_CR4_PAE;
	cr_assert_eq(svt_paging_mode(&r), SVT_MODE_4LEVEL);
	r.cr4 = 0;
	cr_assert_eq(svt_paging_mode(&r), SVT_MODE_INVALID);
	r.cr0 = SVT_CR0_PG;
	r.efer = 0;
	cr_assert_eq(svt_paging_mode(&r), SVT_MODE_INVALID, "PG without PE");
	r.cr0 = SVT_CR0_PE;
	r.maxphyaddr = 53;
	cr_assert_eq(svt_paging_mode(&r), SVT_MODE_INVALID);
}
