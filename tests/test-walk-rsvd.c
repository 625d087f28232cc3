/*
 * test-walk-rsvd.c — reserved-bit sweep and the corner cases around the
 * walker (src/svt.h), compared with the independent reference model
 * (sim/replay/refmodel.c).
 *
 *  - every paging mode and page size; every entry on the walk path; every
 *    bit of that entry (0..31 for 32-bit paging, 0..63 otherwise) toggled
 *    on its own; MAXPHYADDR 32, 36, 39, 40, 46, 52; EFER.NXE 0/1; 1-GByte
 *    pages supported or not; a read at CPL 0, a write and a fetch at CPL 3.
 *    In PAE mode the PDPTE is toggled in memory and reloaded through
 *    svt_pae_load_pdptes() (checked against the model, registers
 *    untouched on failure), and the walk is also repeated with the old
 *    registers to check that the walker never reads the PDPT itself;
 *  - svt_pae_load_pdptes() on its own;
 *  - svt_paging_mode() over CR0.PG/PE, CR4.PAE/LA57, EFER.LME/LMA;
 *  - non-canonical addresses in 4- and 5-level paging (#GP), and the low
 *    32 bits only in 32-bit and PAE paging;
 *  - paging disabled (identity, gpa = va & 0xffffffff);
 *  - svt_rsvd_mask() against the model's reserved masks.
 *
 * The harness (test memory, walker-vs-model comparison) is the same as in
 * test-walk-exhaustive.c.
 */
#include <criterion/criterion.h>

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "refmodel.h"
#include "svt.h"

#include "walkcmp.h"



/* ====================================================================
 * Layout for the sweep: every table below 4 GiB (MAXPHYADDR goes down to
 * 32), table page numbers pairwise at least two bits apart so that no
 * single toggled address bit turns one table into another.
 */

#define MAX_REPORTS 20

static const uint64_t sweep_table[6] = {
	0, 0x300000, 0x0c0000, 0x030000, 0x00c000, 0x003000,
};
#define PAE_PDPT 0x30fe0ull    /* 32-byte aligned, not page aligned */

static const unsigned maxphy_list[] = { 32, 36, 39, 40, 46, 52 };
#define N_MAXPHY (sizeof(maxphy_list) / sizeof(maxphy_list[0]))

struct scfg {
	const char *name;
	enum svt_mode mode;
	int leaf_level;
	bool pse;               /* 32-bit paging: CR4.PSE */
	int top;
	unsigned esize;
	uint64_t va;
};

static int s_shift(const struct scfg *c, int level)
{
	if (c->mode == SVT_MODE_2LEVEL)
		return level == 2 ? 22 : 12;
	return 12 + 9 * (level - 1);
}

static unsigned s_index(const struct scfg *c, int level)
{
	int bits = c->mode == SVT_MODE_2LEVEL ? 10 :
		   (c->mode == SVT_MODE_PAE && level == 3) ? 2 : 9;
	return (unsigned)((c->va >> s_shift(c, level)) & ((1ull << bits) - 1));
}

static uint64_t s_table(const struct scfg *c, int level)
{
	if (c->mode == SVT_MODE_PAE && level == 3)
		return PAE_PDPT;
	return sweep_table[level];
}

static uint64_t s_entry_gpa(const struct scfg *c, int level)
{
	return s_table(c, level) + (uint64_t)s_index(c, level) * c->esize;
}

static uint64_t s_frame(const struct scfg *c)
{
	switch (c->leaf_level) {
	case 1: return 0x0a5a5000ull;
	case 2: return c->mode == SVT_MODE_2LEVEL ? 0x2a800000ull : 0x2a400000ull;
	default: return 0x40000000ull;
	}
}

static void s_cfg(struct scfg *c, const char *name, enum svt_mode mode,
		  int leaf_level, bool pse)
{
	memset(c, 0, sizeof(*c));
	c->name = name;
	c->mode = mode;
	c->leaf_level = leaf_level;
	c->pse = pse;
	c->top = mode == SVT_MODE_2LEVEL ? 2 : mode == SVT_MODE_PAE ? 3 :
		 mode == SVT_MODE_4LEVEL ? 4 : 5;
	c->esize = mode == SVT_MODE_2LEVEL ? 4 : 8;
	c->va = mode == SVT_MODE_2LEVEL ? 0x8cd56abcull :
		mode == SVT_MODE_PAE ? 0xb5a56abcull :
		mode == SVT_MODE_4LEVEL ? 0xffffa5b6c7d89abcull :
					  0xff5ab6c7d8e9fabcull;
}

/* base entry at `level`: present, writable, user, A=D=0 */
static uint64_t s_base_entry(const struct scfg *c, int level)
{
	uint64_t v;

	if (c->mode == SVT_MODE_PAE && level == 3)
		return sweep_table[2] | SVT_PTE_P;
	v = SVT_PTE_P | SVT_PTE_RW | SVT_PTE_US;
	if (level == c->leaf_level) {
		v |= s_frame(c);
		if (level > 1)
			v |= SVT_PTE_PS;
	} else {
		v |= sweep_table[level - 1];
	}
	return v;
}

static void s_regs(const struct scfg *c, unsigned maxphy, bool nxe, bool gb,
		   struct svt_regs *r)
{
	memset(r, 0, sizeof(*r));
	r->cr0 = SVT_CR0_PE | SVT_CR0_PG | SVT_CR0_WP;
	r->cr3 = (c->mode == SVT_MODE_PAE ? PAE_PDPT : sweep_table[c->top]) | 0x18;
	switch (c->mode) {
	case SVT_MODE_2LEVEL:
		r->cr4 = c->pse ? SVT_CR4_PSE : 0;
		break;
	case SVT_MODE_PAE:
		r->cr4 = SVT_CR4_PAE;
		break;
	case SVT_MODE_5LEVEL:
		r->cr4 = SVT_CR4_PAE | SVT_CR4_LA57;
		r->efer = SVT_EFER_LME | SVT_EFER_LMA;
		break;
	default:
		r->cr4 = SVT_CR4_PAE;
		r->efer = SVT_EFER_LME | SVT_EFER_LMA;
		break;
	}
	if (nxe)
		r->efer |= SVT_EFER_NXE;
	r->rflags = 0x2;
	r->pkru = 0;
	r->features = gb ? SVT_FEAT_1GPAGE : 0;
	r->maxphyaddr = (uint8_t)maxphy;
}

static void s_fill(const struct scfg *c, struct tmem *m, struct svt_regs *r,
		   int tlevel, uint64_t tmask)
{
	int l;

	for (l = c->top; l >= c->leaf_level; l--) {
		uint64_t v = s_base_entry(c, l);
		if (l == tlevel)
			v ^= tmask;
		tm_put(m, s_entry_gpa(c, l), c->esize, v);
		if (c->mode == SVT_MODE_PAE && l == 3) {
			unsigned i;
			for (i = 0; i < 4; i++)
				r->pdpte[i] = 0;
			r->pdpte[s_index(c, 3)] = v;
		}
	}
}

static const struct { enum svt_access_kind kind; uint8_t cpl; } s_acc[] = {
	{ SVT_ACC_READ, 0 }, { SVT_ACC_WRITE, 3 }, { SVT_ACC_FETCH, 3 },
};

static const char *acc_name(enum svt_access_kind k)
{
	return k == SVT_ACC_WRITE ? "write" : k == SVT_ACC_FETCH ? "fetch" : "read";
}

static bool s_check(const struct scfg *c, struct tmem *m,
		    const struct svt_regs *r, const struct svt_access *a,
		    int tlevel, int bit, const char *extra, unsigned *fails)
{
	struct rm_out exp;
	struct svt_walk w;
	struct report rep;
	char e[128], g[128];

	if (compare_walk(m, r, a, &exp, &w, &rep) == 0)
		return true;
	describe_expected(e, sizeof(e), &exp);
	describe_got(g, sizeof(g), &w);
	fprintf(stderr, "MISMATCH %s: L%d bit %d toggled%s, MAXPHYADDR %u, NXE %d, "
		"1G %d, %s CPL%u va=%#" PRIx64 "\n  expected %s\n  got      %s\n%s",
		c->name, tlevel, bit, extra, r->maxphyaddr,
		!!(r->efer & SVT_EFER_NXE), !!(r->features & SVT_FEAT_1GPAGE),
		acc_name(a->kind), a->cpl, a->va, e, g, rep.buf);
	(*fails)++;
	return false;
}

static void sweep(const struct scfg *c)
{
	static struct tmem mem;
	struct svt_env env = { .ctx = &mem, .read_gpa = tm_read,
			       .write_gpa = tm_write };
	unsigned mi, fails = 0, nbits = c->esize * 8;
	uint64_t count = 0;
	int l, bit, nxe, gb;
	size_t ai;

	memset(&mem, 0, sizeof(mem));
	for (l = c->top; l >= c->leaf_level; l--)
		tm_add(&mem, s_table(c, l));

	for (mi = 0; mi < N_MAXPHY; mi++)
	for (nxe = 0; nxe < 2; nxe++)
	for (gb = 0; gb < 2; gb++)
	for (l = c->top; l >= c->leaf_level; l--)
	for (bit = -1; bit < (int)nbits; bit++) {   /* -1: nothing toggled */
		uint64_t tmask = bit < 0 ? 0 : 1ull << bit;
		struct svt_regs r, old;

		if (fails >= MAX_REPORTS)
			goto out;
		if (bit < 0 && l != c->top)
			continue;
		s_regs(c, maxphy_list[mi], nxe, gb, &r);
		s_fill(c, &mem, &r, l, tmask);

		if (c->mode == SVT_MODE_PAE && l == 3) {
			/* The PDPTE was toggled in memory.  `old` holds the
			 * registers as loaded before (the untoggled PDPTE, and
			 * sentinels in the three unused registers). */
			struct rm_cpu cpu;
			uint64_t want[4];
			unsigned k = s_index(c, 3), i;
			int rc_m, rc_w;

			old = r;
			for (i = 0; i < 4; i++)
				old.pdpte[i] = 0x0badc0de000ull | (i << 12);
			old.pdpte[k] = s_base_entry(c, 3);

			/* MOV to CR3 (model and walker) */
			memset(&cpu, 0, sizeof(cpu));
			cpu.cr0 = old.cr0;
			cpu.cr3 = old.cr3;
			cpu.cr4 = old.cr4;
			cpu.efer = old.efer;
			cpu.maxphyaddr = old.maxphyaddr;
			rc_m = rm_pae_load(&cpu, tm_load, &mem, want);
			r = old;
			rc_w = svt_pae_load_pdptes(&env, &r);
			count++;
			if (rc_m != rc_w ||
			    (rc_m == 0 && memcmp(r.pdpte, want, sizeof(want))) ||
			    (rc_m != 0 && memcmp(r.pdpte, old.pdpte, sizeof(want)))) {
				fprintf(stderr, "MISMATCH %s: PDPTE bit %d toggled, "
					"MAXPHYADDR %u: svt_pae_load_pdptes returned %d "
					"(expected %d), pdpte[%u] = %#" PRIx64
					" (expected %#" PRIx64 ")\n", c->name, bit,
					r.maxphyaddr, rc_w, rc_m, k, r.pdpte[k],
					rc_m == 0 ? want[k] : old.pdpte[k]);
				fails++;
				continue;
			}
			/* the walk with the registers as they were: the PDPT
			 * in memory must not matter */
			for (ai = 0; ai < sizeof(s_acc) / sizeof(s_acc[0]); ai++) {
				struct svt_access a = { .va = c->va,
					.kind = s_acc[ai].kind, .cpl = s_acc[ai].cpl };
				struct svt_regs tmp;

				s_fill(c, &mem, &tmp, l, tmask);
				count++;
				s_check(c, &mem, &old, &a, l, bit,
					" in memory only (old PDPTE registers)", &fails);
			}
			if (rc_m != 0)
				continue;       /* MOV to CR3 would #GP */
			/* r now holds the freshly loaded registers */
		}

		for (ai = 0; ai < sizeof(s_acc) / sizeof(s_acc[0]); ai++) {
			struct svt_access a = { .va = c->va, .kind = s_acc[ai].kind,
						.cpl = s_acc[ai].cpl };
			struct svt_regs rr = r;

			/* rebuild memory (a previous walk set A/D); in PAE
			 * mode keep the registers svt_pae_load_pdptes() gave */
			s_fill(c, &mem, &rr, l, tmask);
			if (c->mode == SVT_MODE_PAE)
				memcpy(rr.pdpte, r.pdpte, sizeof(rr.pdpte));
			count++;
			s_check(c, &mem, &rr, &a, l, bit, "", &fails);
		}
	}
out:
	fprintf(stderr, "[walk-rsvd] %-22s %7" PRIu64 " walks/loads%s\n",
		c->name, count, fails >= MAX_REPORTS ? " (stopped early)" : "");
	cr_assert_eq(fails, 0, "%s: %u disagreement(s) with the model (see stderr)",
		     c->name, fails);
}

#define STEST(tname, label, mode, leaf, pse)                             \
	Test(walk_rsvd, tname)                                           \
	{                                                                \
		struct scfg c;                                           \
		s_cfg(&c, label, mode, leaf, pse);                       \
		sweep(&c);                                               \
	}

STEST(legacy32_4k_pse0, "32-bit 4K (PSE=0)", SVT_MODE_2LEVEL, 1, false)
STEST(legacy32_4k_pse1, "32-bit 4K (PSE=1)", SVT_MODE_2LEVEL, 1, true)
STEST(legacy32_4m, "32-bit 4M", SVT_MODE_2LEVEL, 2, true)
STEST(pae_4k, "PAE 4K", SVT_MODE_PAE, 1, false)
STEST(pae_2m, "PAE 2M", SVT_MODE_PAE, 2, false)
STEST(lm4_4k, "4-level 4K", SVT_MODE_4LEVEL, 1, false)
STEST(lm4_2m, "4-level 2M", SVT_MODE_4LEVEL, 2, false)
STEST(lm4_1g, "4-level 1G", SVT_MODE_4LEVEL, 3, false)
STEST(lm5_4k, "5-level 4K", SVT_MODE_5LEVEL, 1, false)
STEST(lm5_2m, "5-level 2M", SVT_MODE_5LEVEL, 2, false)
STEST(lm5_1g, "5-level 1G", SVT_MODE_5LEVEL, 3, false)

/* ====================================================================
 * svt_pae_load_pdptes() on its own
 */

Test(walk_rsvd, pae_load_pdptes)
{
	static struct tmem mem;
	struct svt_env env = { .ctx = &mem, .read_gpa = tm_read,
			       .write_gpa = tm_write };
	static const uint64_t cr3s[] = { 0x30000, 0x30fe0 | 0x18, 0x30020 | 0x7 };
	unsigned fails = 0, mi, ci, idx, count = 0;
	int bit, present;

	memset(&mem, 0, sizeof(mem));
	tm_add(&mem, 0x30000);
	for (ci = 0; ci < sizeof(cr3s) / sizeof(cr3s[0]); ci++)
	for (mi = 0; mi < N_MAXPHY; mi++)
	for (idx = 0; idx < 4; idx++)
	for (present = 0; present < 2; present++)
	for (bit = -1; bit < 64; bit++) {
		uint64_t base = cr3s[ci] & 0xffffffe0ull, want[4];
		struct svt_regs r, before;
		struct rm_cpu cpu;
		unsigned i;
		int rc_m, rc_w;

		memset(&r, 0, sizeof(r));
		r.cr0 = SVT_CR0_PE | SVT_CR0_PG;
		r.cr4 = SVT_CR4_PAE;
		r.cr3 = cr3s[ci];
		r.maxphyaddr = (uint8_t)maxphy_list[mi];
		for (i = 0; i < 4; i++) {
			r.pdpte[i] = 0xdead0000ull + i;  /* sentinels */
			tm_put(&mem, base + 8 * i, 8,
			       (0x100000ull * (i + 1)) | SVT_PTE_P);
		}
		{
			uint64_t v = (0x100000ull * (idx + 1)) |
				     (present ? SVT_PTE_P : 0);
			if (bit >= 0)
				v ^= 1ull << bit;
			tm_put(&mem, base + 8 * idx, 8, v);
		}
		before = r;
		memset(&cpu, 0, sizeof(cpu));
		cpu.cr3 = r.cr3;
		cpu.cr4 = r.cr4;
		cpu.maxphyaddr = r.maxphyaddr;
		rc_m = rm_pae_load(&cpu, tm_load, &mem, want);
		mem.nwrites = 0;
		rc_w = svt_pae_load_pdptes(&env, &r);
		count++;
		if (rc_m != rc_w || mem.nwrites ||
		    memcmp(r.pdpte, rc_m == 0 ? want : before.pdpte, sizeof(want)) ||
		    r.cr3 != before.cr3) {
			if (fails++ < MAX_REPORTS)
				fprintf(stderr, "MISMATCH pae_load_pdptes: CR3 %#" PRIx64
					" MAXPHYADDR %u PDPTE%u (P=%d) bit %d: "
					"returned %d expected %d; pdpte[%u] %#" PRIx64
					" expected %#" PRIx64 "; %u writes\n", r.cr3,
					r.maxphyaddr, idx, present, bit, rc_w, rc_m,
					idx, r.pdpte[idx],
					rc_m == 0 ? want[idx] : before.pdpte[idx],
					mem.nwrites);
		}
	}
	fprintf(stderr, "[walk-rsvd] pae_load_pdptes        %7u loads\n", count);
	cr_assert_eq(fails, 0, "%u svt_pae_load_pdptes disagreement(s)", fails);
}

/* ====================================================================
 * svt_paging_mode()
 */

Test(walk_rsvd, paging_mode)
{
	static const uint64_t bitsv[6] = {
		SVT_CR0_PG, SVT_CR0_PE, SVT_CR4_PAE, SVT_CR4_LA57,
		SVT_EFER_LME, SVT_EFER_LMA,
	};
	unsigned combo, fails = 0, checked = 0, unchecked = 0;
	unsigned unchecked_invalid = 0;

	for (combo = 0; combo < 64; combo++) {
		struct svt_regs r;
		struct rm_cpu cpu;
		enum svt_mode got;
		bool pg = combo & 1, pe = combo & 2, lme = combo & 16,
		     lma = combo & 32;
		int want;

		memset(&r, 0, sizeof(r));
		r.cr0 = (pg ? bitsv[0] : 0) | (pe ? bitsv[1] : 0);
		r.cr4 = ((combo & 4) ? bitsv[2] : 0) | ((combo & 8) ? bitsv[3] : 0) |
			SVT_CR4_PSE;
		r.efer = (lme ? bitsv[4] : 0) | (lma ? bitsv[5] : 0) | SVT_EFER_NXE;
		r.maxphyaddr = 46;
		regs_to_cpu(&r, &cpu);
		want = expect_mode(rm_paging_of(&cpu));
		got = svt_paging_mode(&r);
		/* Combinations no CPU can hold, where SVT_MODE_INVALID is as
		 * defensible as the literal rules: PG without PE, and LMA
		 * without PG.  Counted, not checked.  (LME with PG but LMA=0,
		 * and LMA=1 with LME=0, are checked: both select IA-32e.) */
		if ((pg && !pe) || (lma && !pg)) {
			unchecked++;
			if ((int)got == SVT_MODE_INVALID)
				unchecked_invalid++;
			continue;
		}
		checked++;
		if ((int)got != want) {
			fprintf(stderr, "MISMATCH paging_mode PG=%d PE=%d PAE=%d LA57=%d"
				" LME=%d LMA=%d: expected %d got %d\n", pg, !!pe,
				!!(combo & 4), !!(combo & 8), lme, lma, want, (int)got);
			fails++;
		}
	}
	fprintf(stderr, "[walk-rsvd] paging_mode            %7u combinations"
		" (+%u impossible ones unchecked, %u of them SVT_MODE_INVALID)\n",
		checked, unchecked, unchecked_invalid);
	cr_assert_eq(fails, 0, "%u svt_paging_mode disagreement(s)", fails);
}

/* ====================================================================
 * Non-canonical addresses, paging disabled, impossible modes
 */

/* map `va` (4K pages) through the sweep layout, every entry P|RW|US */
static void full_path(struct tmem *m, struct scfg *c, uint64_t va,
		      struct svt_regs *r)
{
	int l;

	c->va = va;
	s_regs(c, 46, true, true, r);
	memset(m, 0, sizeof(*m));
	for (l = c->top; l >= 1; l--)
		tm_add(m, s_table(c, l));
	s_fill(c, m, r, -1, 0);
}

/*
 * Linear-address width: 4-level and 5-level paging raise #GP for
 * non-canonical addresses (48 / 57 bits); 32-bit and PAE paging use the
 * low 32 bits of the address (CR2 included).
 */
Test(walk_rsvd, va_width)
{
	static const uint64_t vas[] = {
		0x0000800000000000ull, 0xffff7fffffffffffull, 0x0001000000000000ull,
		0x8000000000000000ull, 0x7fffffffffffffffull, 0x00ff800000000000ull,
		0xff00000000000000ull, 0x0000000000001000ull, 0xffff800000000000ull,
		0x00007ffffffff000ull, 0xfffffffffffff000ull, 0x0100000000000000ull,
		0xfeffffffffffffffull, 0x0200000000000000ull, 0x00fffffffffff000ull,
		0xff80000000000000ull, 0x0080000000000000ull, 0xdead00008cd56abcull,
		0xffffffff8cd56abcull, 0x00000001b5a56abcull,
	};
	static const enum svt_mode modes[] = {
		SVT_MODE_2LEVEL, SVT_MODE_PAE, SVT_MODE_4LEVEL, SVT_MODE_5LEVEL,
	};
	static struct tmem mem;
	unsigned fails = 0, count = 0, i, k, mi, gp[6] = { 0 };

	for (mi = 0; mi < 4; mi++)
	for (i = 0; i < sizeof(vas) / sizeof(vas[0]); i++)
	for (k = 0; k < 3; k++) {
		struct svt_regs r;
		struct svt_access a = { .va = vas[i], .kind = s_acc[k].kind,
					.cpl = s_acc[k].cpl };
		struct scfg c;
		struct rm_out exp;
		struct svt_walk w;
		struct report rep;
		char e[128], g[128];

		s_cfg(&c, "va_width", modes[mi], 1, false);
		full_path(&mem, &c, vas[i], &r);
		count++;
		if (compare_walk(&mem, &r, &a, &exp, &w, &rep) == 0) {
			if (exp.kind == RM_GP)
				gp[modes[mi]]++;
			continue;
		}
		describe_expected(e, sizeof(e), &exp);
		describe_got(g, sizeof(g), &w);
		if (fails++ < MAX_REPORTS)
			fprintf(stderr, "MISMATCH %s paging, %s CPL%u va=%#" PRIx64
				"\n  expected %s\n  got      %s\n%s",
				rm_paging_name(exp.paging), acc_name(a.kind), a.cpl,
				a.va, e, g, rep.buf);
	}
	/* sanity: the list really holds non-canonical addresses */
	cr_assert(gp[SVT_MODE_4LEVEL] >= 3 * 10 && gp[SVT_MODE_5LEVEL] >= 3 * 6,
		  "too few #GP cases (%u, %u)", gp[SVT_MODE_4LEVEL],
		  gp[SVT_MODE_5LEVEL]);
	cr_assert(gp[SVT_MODE_2LEVEL] == 0 && gp[SVT_MODE_PAE] == 0);
	fprintf(stderr, "[walk-rsvd] va_width               %7u walks (%u, %u #GP)\n",
		count, gp[SVT_MODE_4LEVEL], gp[SVT_MODE_5LEVEL]);
	cr_assert_eq(fails, 0, "%u disagreement(s)", fails);
}

Test(walk_rsvd, paging_disabled)
{
	static const uint64_t vas[] = {
		0, 0xfff, 0x12345678, 0xffffffffull, 0x100000000ull,
		0xdeadbeefcafef00dull, 0xffffffff80001234ull, 0x00000001fffff000ull,
	};
	static const uint64_t cr4s[] = {
		0, SVT_CR4_PAE, SVT_CR4_PAE | SVT_CR4_LA57 | SVT_CR4_SMEP |
		SVT_CR4_SMAP | SVT_CR4_PKE | SVT_CR4_PSE,
	};
	static const uint64_t efers[] = { 0, SVT_EFER_NXE, SVT_EFER_LME | SVT_EFER_NXE };
	static struct tmem mem;
	unsigned fails = 0, count = 0, i, j, k, acc, pe;

	memset(&mem, 0, sizeof(mem));
	tm_add(&mem, 0x3000);
	tm_put(&mem, 0x3000, 8, 0xffffffffffffffffull);
	for (i = 0; i < sizeof(vas) / sizeof(vas[0]); i++)
	for (j = 0; j < 3; j++)
	for (k = 0; k < 3; k++)
	for (pe = 0; pe < 2; pe++)
	for (acc = 0; acc < 4; acc++) {
		struct svt_regs r;
		struct svt_access a;
		struct svt_walk w;
		struct rm_out exp;
		struct report rep;

		memset(&r, 0, sizeof(r));
		r.cr0 = (pe ? SVT_CR0_PE : 0) | SVT_CR0_WP;
		r.cr3 = 0x3000;
		r.cr4 = cr4s[j];
		r.efer = efers[k];
		r.rflags = 2;
		r.pkru = 0xffffffffu;
		r.maxphyaddr = 36;
		memset(&a, 0, sizeof(a));
		a.va = vas[i];
		a.kind = acc == 1 ? SVT_ACC_WRITE : acc == 2 ? SVT_ACC_FETCH : SVT_ACC_READ;
		a.cpl = acc == 3 ? 3 : 0;
		count++;
		mem.nwrites = 0;
		if (compare_walk(&mem, &r, &a, &exp, &w, &rep) ||
		    w.status != SVT_WALK_OK || w.gpa != (vas[i] & 0xffffffffull) ||
		    w.nlevels != 0 || w.nad != 0 || mem.nwrites != 0) {
			if (fails++ < MAX_REPORTS)
				fprintf(stderr, "MISMATCH paging disabled va=%#" PRIx64
					" CR4=%#" PRIx64 " EFER=%#" PRIx64 " %s CPL%u: "
					"status %s gpa %#" PRIx64 " nlevels %u nad %u "
					"writes %u\n%s", a.va, r.cr4, r.efer,
					acc_name(a.kind), a.cpl, status_name(w.status),
					w.gpa, w.nlevels, w.nad, mem.nwrites, rep.buf);
		}
	}
	fprintf(stderr, "[walk-rsvd] paging_disabled        %7u walks\n", count);
	cr_assert_eq(fails, 0, "%u disagreement(s)", fails);
}

Test(walk_rsvd, invalid_mode)
{
	static struct tmem mem;
	struct svt_env env = { .ctx = &mem, .read_gpa = tm_read,
			       .write_gpa = tm_write };
	struct svt_regs r;
	struct svt_access a = { .va = 0x1000, .kind = SVT_ACC_READ };
	struct svt_walk w;

	memset(&mem, 0, sizeof(mem));
	tm_add(&mem, 0x3000);
	memset(&r, 0, sizeof(r));
	r.cr0 = SVT_CR0_PE | SVT_CR0_PG;
	r.cr3 = 0x3000;
	r.cr4 = SVT_CR4_PSE;                    /* no PAE */
	r.efer = SVT_EFER_LME | SVT_EFER_LMA;
	r.maxphyaddr = 46;
	cr_expect_eq(svt_paging_mode(&r), SVT_MODE_INVALID);
	mem.nwrites = 0;
	cr_expect_eq(svt_walk(&env, &r, &a, SVT_WALK_SET_AD, &w), SVT_WALK_GP,
		     "IA-32e without CR4.PAE must not translate");
	cr_expect_eq(w.status, SVT_WALK_GP);
	cr_expect_eq(mem.nwrites, 0u);
}

/* ====================================================================
 * svt_rsvd_mask() against the model's masks
 */

Test(walk_rsvd, rsvd_mask)
{
	static const struct { enum svt_mode m; enum rm_paging p; int top; } modes[] = {
		{ SVT_MODE_2LEVEL, RM_PAGING_32, 2 },
		{ SVT_MODE_PAE, RM_PAGING_PAE, 3 },
		{ SVT_MODE_4LEVEL, RM_PAGING_4L, 4 },
		{ SVT_MODE_5LEVEL, RM_PAGING_5L, 5 },
	};
	unsigned fails = 0, count = 0, mi, i, nxe, gb;
	int level, big;

	for (i = 0; i < 4; i++)
	for (mi = 0; mi < N_MAXPHY; mi++)
	for (nxe = 0; nxe < 2; nxe++)
	for (gb = 0; gb < 2; gb++)
	for (level = 1; level <= modes[i].top; level++)
	for (big = 0; big < 2; big++) {
		struct svt_regs r;
		struct rm_cpu cpu;
		uint64_t want, got;

		/* a `large` entry exists only where PS selects a page */
		if (big && !(level == 2 || (level == 3 && modes[i].p >= RM_PAGING_4L && gb)))
			continue;
		memset(&r, 0, sizeof(r));
		r.cr0 = SVT_CR0_PE | SVT_CR0_PG;
		r.cr4 = SVT_CR4_PSE | (modes[i].m != SVT_MODE_2LEVEL ? SVT_CR4_PAE : 0) |
			(modes[i].m == SVT_MODE_5LEVEL ? SVT_CR4_LA57 : 0);
		r.efer = (nxe ? SVT_EFER_NXE : 0) |
			 (modes[i].p >= RM_PAGING_4L ? SVT_EFER_LME | SVT_EFER_LMA : 0);
		r.features = gb ? SVT_FEAT_1GPAGE : 0;
		r.maxphyaddr = (uint8_t)maxphy_list[mi];
		regs_to_cpu(&r, &cpu);
		want = rm_rsvd_bits(&cpu, modes[i].p, level, big);
		got = svt_rsvd_mask(&r, modes[i].m, (unsigned)level, big);
		if (modes[i].m == SVT_MODE_2LEVEL) {
			want &= 0xffffffffull;
			got &= 0xffffffffull;
		}
		count++;
		if (want != got && fails++ < MAX_REPORTS)
			fprintf(stderr, "MISMATCH svt_rsvd_mask %s L%d large=%d MAXPHYADDR %u"
				" NXE %u 1G %u: expected %#" PRIx64 " got %#" PRIx64
				" (differ %#" PRIx64 ")\n", rm_paging_name(modes[i].p),
				level, big, r.maxphyaddr, nxe, gb, want, got, want ^ got);
	}
	fprintf(stderr, "[walk-rsvd] rsvd_mask              %7u masks\n", count);
	cr_assert_eq(fails, 0, "%u svt_rsvd_mask disagreement(s)", fails);
}
