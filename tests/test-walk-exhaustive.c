/*
 * test-walk-exhaustive.c — the guest page-table walker (src/svt.h) against
 * the independent reference model (sim/replay/refmodel.c), over every
 * combination of the flags that decide a translation, in the style of
 * kvm-unit-tests x86/access.c: an enum of flag bits, a names table, and a
 * "bump" that steps through every combination, skipping illegal ones.
 *
 * One Test() per paging mode and page size (Criterion runs them in
 * parallel).  Each combination builds a page-table path in a small sparse
 * test memory, runs the model (read-only), then svt_walk() with
 * SVT_WALK_SET_AD, and compares: status, mode, #PF error code, CR2, gpa,
 * page size, rights, protection key, the entries read (lv[]), every
 * entry's value after the walk, the writes made, and ad[]/nad.
 *
 * Enumerated per mode/size (see xflag below): at the leaf and at the level
 * above it P, R/W, U/S, A, D, XD and one reserved-or-ignored bit; access
 * type x CPL 0/3 x implicit; CR0.WP; EFER.NXE; CR4.SMEP; CR4.SMAP x
 * RFLAGS.AC; CR4.PKE (and, for IA-32e, PKRU AD/WD for the leaf's key x key
 * 0 / key 13).  Levels higher up are fixed present, writable, user, A=1.
 *
 * Pruning (combinations that cannot show anything new, documented in
 * legal()):
 *  - if the walk stops at the level above the leaf (not present, or a
 *    reserved bit set there), the leaf is never read: only leaf flags = 0;
 *  - a non-present leaf ignores its other bits: only two representatives
 *    (all other enumerated leaf bits clear, or all set);
 *  - RFLAGS.AC is enumerated with and without SMAP (it must not matter
 *    without SMAP), nothing is pruned there;
 *  - PKRU.AD/WD are enumerated only with CR4.PKE=1 (with PKE=0, PKRU is
 *    all-ones: every key access- and write-disabled, which must not
 *    matter); and when the walk cannot reach a valid leaf the PKRU/key
 *    combinations collapse to (PKE=0, key 0) and (PKE=1, key 13, AD=WD=1).
 */
#include <criterion/criterion.h>

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "refmodel.h"
#include "svt.h"

#include "walkcmp.h"


/* ====================================================================
 * The enumeration
 */

enum xflag {
	X_LEAF_P, X_LEAF_RW, X_LEAF_US, X_LEAF_A, X_LEAF_D, X_LEAF_NX, X_LEAF_R,
	X_UP_P, X_UP_RW, X_UP_US, X_UP_A, X_UP_D, X_UP_NX, X_UP_R,
	X_ACC_WRITE, X_ACC_FETCH, X_ACC_USER, X_ACC_IMPLICIT,
	X_CR0_WP, X_EFER_NXE, X_CR4_SMEP, X_CR4_SMAP, X_RFLAGS_AC,
	X_CR4_PKE, X_PKRU_AD, X_PKRU_WD, X_PKEY_13,
	X_CR4_PSE_OFF, X_PDE_PS,        /* 32-bit 4K only: PS ignored */
	X_CPL_2,                        /* supervisor CPL 2 instead of 1 */
	NR_XFLAGS
};

static const char *const xflag_names[NR_XFLAGS] = {
	[X_LEAF_P] = "leaf.P",
	[X_LEAF_RW] = "leaf.RW",
	[X_LEAF_US] = "leaf.US",
	[X_LEAF_A] = "leaf.A",
	[X_LEAF_D] = "leaf.D",
	[X_LEAF_NX] = "leaf.XD",
	[X_LEAF_R] = "leaf.R",
	[X_UP_P] = "up.P",
	[X_UP_RW] = "up.RW",
	[X_UP_US] = "up.US",
	[X_UP_A] = "up.A",
	[X_UP_D] = "up.D",
	[X_UP_NX] = "up.XD",
	[X_UP_R] = "up.R",
	[X_ACC_WRITE] = "write",
	[X_ACC_FETCH] = "fetch",
	[X_ACC_USER] = "user(CPL3)",
	[X_ACC_IMPLICIT] = "implicit",
	[X_CR0_WP] = "CR0.WP",
	[X_EFER_NXE] = "EFER.NXE",
	[X_CR4_SMEP] = "CR4.SMEP",
	[X_CR4_SMAP] = "CR4.SMAP",
	[X_RFLAGS_AC] = "RFLAGS.AC",
	[X_CR4_PKE] = "CR4.PKE",
	[X_PKRU_AD] = "PKRU.AD",
	[X_PKRU_WD] = "PKRU.WD",
	[X_PKEY_13] = "key13",
	[X_CR4_PSE_OFF] = "CR4.PSE=0",
	[X_PDE_PS] = "PDE.PS(ignored)",
	[X_CPL_2] = "CPL2",
};

#define XB(f) (1ull << (f))
#define X_LEAF_ALL (XB(X_LEAF_P) | XB(X_LEAF_RW) | XB(X_LEAF_US) | \
		    XB(X_LEAF_A) | XB(X_LEAF_D) | XB(X_LEAF_NX) | XB(X_LEAF_R))
#define X_UP_ALL (XB(X_UP_P) | XB(X_UP_RW) | XB(X_UP_US) | XB(X_UP_A) | \
		  XB(X_UP_D) | XB(X_UP_NX) | XB(X_UP_R))

#define LEAF_KEY 13u
#define OTHER_KEY 6u    /* in the ignored key bits of non-leaf entries */

struct xcfg {
	const char *name;
	enum svt_mode mode;
	int npath;              /* entries on the path, PAE PDPTE included */
	int levels[5];          /* level of each, top first */
	int shifts[5], idxbits[5];
	unsigned esize;         /* 4 or 8 */
	uint64_t table[5];      /* table holding path[i] */
	uint64_t frame;
	bool large;             /* the leaf is a PS=1 entry */
	bool pae, ia32e;
	uint64_t cr3_low;       /* low CR3 bits (PWT/PCD or PCID) */
	uint64_t cr4_extra;
	uint64_t va;
	int leaf_r, up_r;       /* bit numbers of the reserved-or-ignored bit */
	bool leaf_r_rsvd, up_r_rsvd;
	bool up_is_pdpte;       /* PAE 2M: the level above is a PDPTE register */
	uint64_t dims;          /* enumerated flags */
	unsigned cpl_sup;       /* CPL of supervisor accesses (0, or 1 with X_CPL_2) */
	unsigned maxphyaddr;
};

static int level_shift(enum svt_mode mode, int level)
{
	if (mode == SVT_MODE_2LEVEL)
		return level == 2 ? 22 : 12;
	return 12 + 9 * (level - 1);
}

static int level_idxbits(enum svt_mode mode, int level)
{
	if (mode == SVT_MODE_2LEVEL)
		return 10;
	if (mode == SVT_MODE_PAE && level == 3)
		return 2;
	return 9;
}

static void make_cfg(struct xcfg *c, const char *name, enum svt_mode mode,
		     int leaf_level, bool cpl12)
{
	/* tables by level: [5]..[1]; chosen so high address bits matter */
	static const uint64_t t2l[6] = { 0, 0x00806000, 0x00403000 };
	static const uint64_t tpae[6] = { 0, 0x2468ac000ull, 0x123456000ull,
					  0x5fe0 };
	static const uint64_t tlm[6] = { 0, 0x3fffffffe000ull, 0xabcd000ull,
					 0x200000102000ull, 0x123456789000ull,
					 0x7000 };
	const uint64_t *t;
	int top, i;

	memset(c, 0, sizeof(*c));
	c->name = name;
	c->mode = mode;
	c->maxphyaddr = 46;
	c->pae = mode == SVT_MODE_PAE;
	c->ia32e = mode == SVT_MODE_4LEVEL || mode == SVT_MODE_5LEVEL;
	c->esize = mode == SVT_MODE_2LEVEL ? 4 : 8;
	top = mode == SVT_MODE_2LEVEL ? 2 : mode == SVT_MODE_PAE ? 3 :
	      mode == SVT_MODE_4LEVEL ? 4 : 5;
	t = mode == SVT_MODE_2LEVEL ? t2l : mode == SVT_MODE_PAE ? tpae : tlm;
	c->npath = top - leaf_level + 1;
	for (i = 0; i < c->npath; i++) {
		c->levels[i] = top - i;
		c->shifts[i] = level_shift(mode, top - i);
		c->idxbits[i] = level_idxbits(mode, top - i);
		c->table[i] = t[top - i];
	}
	c->large = leaf_level > 1;
	c->up_is_pdpte = c->pae && leaf_level == 2;

	switch (mode) {
	case SVT_MODE_2LEVEL:
		c->va = 0x8cd56abcull;
		c->frame = leaf_level == 1 ? 0x0c0ab000ull : 0xabc0400000ull;
		c->cr3_low = 0x18;
		c->leaf_r = leaf_level == 1 ? 9 : 21;   /* ignored / reserved */
		c->leaf_r_rsvd = leaf_level == 2;
		c->up_r = 8;                            /* ignored */
		break;
	case SVT_MODE_PAE:
		c->va = 0xb5a56abcull;
		c->frame = leaf_level == 1 ? 0x30000b000ull : 0x3fffe00000ull;
		c->cr3_low = 0x18;                      /* bits 4:0 ignored */
		c->leaf_r = leaf_level == 1 ? 52 : 13;  /* reserved */
		c->leaf_r_rsvd = true;
		c->up_r = leaf_level == 1 ? 62 : 9;     /* PDE rsvd / PDPTE ign */
		c->up_r_rsvd = leaf_level == 1;
		break;
	default:
		c->va = mode == SVT_MODE_4LEVEL ? 0xffffa5b6c7d89abcull :
						  0xff5ab6c7d8e9fabcull;
		c->frame = leaf_level == 1 ? 0x2aaaaaaaa000ull :
			   leaf_level == 2 ? 0x155555400000ull :
					     0x2a8040000000ull;
		if (mode == SVT_MODE_4LEVEL) {
			c->cr3_low = 0x5a5;             /* a PCID */
			c->cr4_extra = SVT_CR4_PCIDE;
		} else {
			c->cr3_low = 0x18;
			c->cr4_extra = SVT_CR4_LA57;
		}
		/* leaf: a reserved bit of its format; up: PDE bit M (rsvd),
		 * PDPTE bit 58 (ignored), PML4E PS (rsvd) */
		c->leaf_r = leaf_level == 1 ? 51 : leaf_level == 2 ? 20 : 29;
		c->leaf_r_rsvd = true;
		c->up_r = leaf_level == 1 ? 46 : leaf_level == 2 ? 58 : 7;
		c->up_r_rsvd = leaf_level != 2;
		break;
	}

	c->dims = X_LEAF_ALL | X_UP_ALL | XB(X_ACC_WRITE) | XB(X_ACC_FETCH) |
		  XB(X_ACC_USER) | XB(X_ACC_IMPLICIT) | XB(X_CR0_WP) |
		  XB(X_EFER_NXE) | XB(X_CR4_SMEP) | XB(X_CR4_SMAP) |
		  XB(X_RFLAGS_AC) | XB(X_CR4_PKE);
	if (c->ia32e)
		c->dims |= XB(X_PKRU_AD) | XB(X_PKRU_WD) | XB(X_PKEY_13);
	if (mode == SVT_MODE_2LEVEL)    /* no XD bit in 4-byte entries */
		c->dims &= ~(XB(X_LEAF_NX) | XB(X_UP_NX));
	if (c->npath < 2)               /* 32-bit 4M: nothing above */
		c->dims &= ~X_UP_ALL;
	if (c->up_is_pdpte)             /* only P and an ignored bit */
		c->dims &= ~X_UP_ALL | XB(X_UP_P) | XB(X_UP_R);
	if (mode == SVT_MODE_2LEVEL && leaf_level == 1)
		c->dims |= XB(X_CR4_PSE_OFF) | XB(X_PDE_PS);
	if (cpl12) {
		/* CPL 1/2: supervisor like CPL 0; drop the dimensions that
		 * only exercise the walk, not the privilege decision */
		c->dims &= ~(XB(X_ACC_USER) | XB(X_LEAF_R) | XB(X_UP_R) |
			     XB(X_UP_D) | XB(X_UP_A) | XB(X_LEAF_A));
		c->dims |= XB(X_CPL_2);
		c->cpl_sup = 1;
	}
}

#define HAS(x, f) (((x) >> (f)) & 1)

/* does the walk stop at the level above the leaf? */
static bool up_stops(const struct xcfg *c, uint64_t x)
{
	if (c->npath < 2)
		return false;
	if (!HAS(x, X_UP_P))
		return true;
	if (HAS(x, X_UP_R) && c->up_r_rsvd)
		return true;
	if (HAS(x, X_UP_NX) && !HAS(x, X_EFER_NXE) && c->esize == 8 &&
	    !c->up_is_pdpte)
		return true;
	return false;
}

static bool leaf_stops(const struct xcfg *c, uint64_t x)
{
	if (!HAS(x, X_LEAF_P))
		return true;
	if (HAS(x, X_LEAF_R) && c->leaf_r_rsvd)
		return true;
	if (HAS(x, X_LEAF_NX) && !HAS(x, X_EFER_NXE) && c->esize == 8)
		return true;
	return false;
}

static bool legal(const struct xcfg *c, uint64_t x)
{
	uint64_t leaf = x & X_LEAF_ALL & c->dims;

	if (HAS(x, X_ACC_WRITE) && HAS(x, X_ACC_FETCH))
		return false;
	if (HAS(x, X_ACC_FETCH) && HAS(x, X_ACC_IMPLICIT))
		return false;   /* implicit accesses are data accesses */
	if (HAS(x, X_PDE_PS) && !HAS(x, X_CR4_PSE_OFF))
		return false;   /* would be a 4M page: another test */
	if (c->ia32e && !HAS(x, X_CR4_PKE) &&
	    (HAS(x, X_PKRU_AD) || HAS(x, X_PKRU_WD)))
		return false;   /* PKE=0: PKRU is all-ones */
	if (up_stops(c, x)) {
		if (leaf)
			return false;   /* leaf never read */
	} else if (!HAS(x, X_LEAF_P)) {
		if (leaf && leaf != (c->dims & X_LEAF_ALL & ~XB(X_LEAF_P)))
			return false;   /* ignored bits: two representatives */
	}
	if (c->ia32e && (up_stops(c, x) || leaf_stops(c, x))) {
		/* no valid leaf: keys cannot matter; keep two states */
		bool a = !HAS(x, X_CR4_PKE) && !HAS(x, X_PKEY_13);
		bool b = HAS(x, X_CR4_PKE) && HAS(x, X_PKEY_13) &&
			 HAS(x, X_PKRU_AD) && HAS(x, X_PKRU_WD);
		if (!a && !b)
			return false;
	}
	return true;
}

/* next combination within c->dims; false when wrapped */
static bool bump(const struct xcfg *c, uint64_t *x)
{
	*x = ((*x | ~c->dims) + 1) & c->dims;
	return *x != 0;
}

static uint64_t flags_bits(bool leaf, const struct xcfg *c, uint64_t x)
{
	int o = leaf ? X_LEAF_P : X_UP_P;   /* same order for both */
	int r = leaf ? c->leaf_r : c->up_r;
	uint64_t v = 0;

	if (HAS(x, o + 0)) v |= SVT_PTE_P;
	if (HAS(x, o + 1)) v |= SVT_PTE_RW;
	if (HAS(x, o + 2)) v |= SVT_PTE_US;
	if (HAS(x, o + 3)) v |= SVT_PTE_A;
	if (HAS(x, o + 4)) v |= SVT_PTE_D;
	if (HAS(x, o + 5)) v |= SVT_PTE_XD;
	if (HAS(x, o + 6)) v |= 1ull << r;
	return v;
}

static unsigned path_index(const struct xcfg *c, int i)
{
	return (unsigned)((c->va >> c->shifts[i]) & ((1ull << c->idxbits[i]) - 1));
}

static uint64_t pkru_for(const struct xcfg *c, uint64_t x)
{
	unsigned k = HAS(x, X_PKEY_13) ? LEAF_KEY : 0, i;
	uint32_t v = 0;

	if (!c->ia32e || !HAS(x, X_CR4_PKE))
		return 0xffffffffu;
	for (i = 0; i < 16; i++) {
		unsigned ad = (unsigned)HAS(x, X_PKRU_AD), wd = (unsigned)HAS(x, X_PKRU_WD);
		if (i != k) {
			ad ^= 1;
			wd ^= 1;
		}
		v |= (ad | wd << 1) << (2 * i);
	}
	return v;
}

/* build registers, memory and access for combination x */
static void build(const struct xcfg *c, uint64_t x, struct tmem *m,
		  struct svt_regs *r, struct svt_access *a)
{
	int i, n = c->npath;

	memset(r, 0, sizeof(*r));
	r->cr0 = SVT_CR0_PE | SVT_CR0_PG | (HAS(x, X_CR0_WP) ? SVT_CR0_WP : 0);
	r->cr3 = c->table[0] | c->cr3_low;
	r->cr4 = c->cr4_extra;
	if (c->mode == SVT_MODE_2LEVEL && !HAS(x, X_CR4_PSE_OFF))
		r->cr4 |= SVT_CR4_PSE;
	if (c->mode != SVT_MODE_2LEVEL)
		r->cr4 |= SVT_CR4_PAE;
	if (HAS(x, X_CR4_SMEP)) r->cr4 |= SVT_CR4_SMEP;
	if (HAS(x, X_CR4_SMAP)) r->cr4 |= SVT_CR4_SMAP;
	if (HAS(x, X_CR4_PKE)) r->cr4 |= SVT_CR4_PKE;
	if (HAS(x, X_EFER_NXE)) r->efer |= SVT_EFER_NXE;
	if (c->ia32e)
		r->efer |= SVT_EFER_LME | SVT_EFER_LMA;
	r->rflags = 0x2 | (HAS(x, X_RFLAGS_AC) ? SVT_RFLAGS_AC : 0);
	r->pkru = (uint32_t)pkru_for(c, x);
	r->features = SVT_FEAT_1GPAGE;
	r->maxphyaddr = (uint8_t)c->maxphyaddr;

	for (i = 0; i < n; i++) {
		bool is_leaf = i == n - 1, is_up = i == n - 2;
		uint64_t next = is_leaf ? c->frame : c->table[i + 1];
		uint64_t v;
		uint64_t ea = (c->table[i] & ~(uint64_t)(c->pae && i == 0 ? 0x1f : 0xfff)) +
			      (uint64_t)path_index(c, i) * c->esize;

		if (is_leaf) {
			if (c->mode == SVT_MODE_2LEVEL && c->large)
				/* PSE-36: address bits 39:32 in PDE bits 20:13 */
				next = (next & 0xffc00000ull) | ((next >> 32) << 13);
			v = next | flags_bits(true, c, x);
			if (c->large)
				v |= SVT_PTE_PS;
			if (c->ia32e)
				v |= (uint64_t)(HAS(x, X_PKEY_13) ? LEAF_KEY : 0) << 59;
		} else if (c->pae && i == 0) {
			/* the PDPTE register; memory holds a stale zero */
			v = next;
			if (!is_up || HAS(x, X_UP_P))
				v |= SVT_PTE_P;
			if (is_up && HAS(x, X_UP_R))
				v |= 1ull << c->up_r;
			r->pdpte[path_index(c, i)] = v;
			tm_put(m, ea, 8, 0);
			continue;
		} else if (is_up) {
			v = next | flags_bits(false, c, x);
			if (c->mode == SVT_MODE_2LEVEL && HAS(x, X_PDE_PS))
				v |= SVT_PTE_PS;
		} else {
			v = next | SVT_PTE_P | SVT_PTE_RW | SVT_PTE_US | SVT_PTE_A;
		}
		if (c->ia32e && !is_leaf)
			v |= (uint64_t)OTHER_KEY << 59;   /* ignored here */
		tm_put(m, ea, c->esize, v);
	}

	memset(a, 0, sizeof(*a));
	a->va = c->va;
	a->kind = HAS(x, X_ACC_WRITE) ? SVT_ACC_WRITE :
		  HAS(x, X_ACC_FETCH) ? SVT_ACC_FETCH : SVT_ACC_READ;
	a->cpl = (uint8_t)(HAS(x, X_ACC_USER) ? 3 :
			   HAS(x, X_CPL_2) ? 2 : c->cpl_sup);
	a->implicit = HAS(x, X_ACC_IMPLICIT);
}

static void describe_case(char *s, size_t n, const struct xcfg *c, uint64_t x,
			  const struct svt_access *a)
{
	size_t len;
	int i;

	len = (size_t)snprintf(s, n, "%s: %s CPL%u%s va=%#" PRIx64 " flags:",
			       c->name,
			       a->kind == SVT_ACC_WRITE ? "write" :
			       a->kind == SVT_ACC_FETCH ? "fetch" : "read",
			       a->cpl, a->implicit ? " implicit" : "", a->va);
	for (i = 0; i < NR_XFLAGS && len < n; i++)
		if (HAS(x & c->dims, i))
			len += (size_t)snprintf(s + len, n - len, " %s",
						xflag_names[i]);
	if (len < n)
		snprintf(s + len, n - len, " (leaf.R=bit %d%s, up.R=bit %d%s)",
			 c->leaf_r, c->leaf_r_rsvd ? " rsvd" : " ign", c->up_r,
			 c->up_r_rsvd ? " rsvd" : " ign");
}

#define MAX_REPORTS 20

static void run_cfg(const struct xcfg *c)
{
	static struct tmem mem;        /* one process per test */
	struct svt_regs regs;
	struct svt_access acc;
	struct svt_walk w;
	struct rm_out exp;
	struct report rep;
	uint64_t x = 0, count = 0;
	unsigned fails = 0, i;
	struct timespec t0, t1;
	char desc[1024], e[128], g[128];

	memset(&mem, 0, sizeof(mem));
	for (i = 0; i < (unsigned)c->npath; i++)
		tm_add(&mem, c->table[i]);

	timespec_get(&t0, TIME_UTC);
	do {
		if (!legal(c, x))
			continue;
		count++;
		build(c, x, &mem, &regs, &acc);
		if (compare_walk(&mem, &regs, &acc, &exp, &w, &rep) == 0)
			continue;
		describe_case(desc, sizeof(desc), c, x, &acc);
		describe_expected(e, sizeof(e), &exp);
		describe_got(g, sizeof(g), &w);
		fprintf(stderr, "MISMATCH %s\n  expected %s\n  got      %s\n%s",
			desc, e, g, rep.buf);
		if (++fails >= MAX_REPORTS) {
			fprintf(stderr, "%s: stopping after %u mismatches\n",
				c->name, fails);
			break;
		}
	} while (bump(c, &x));
	timespec_get(&t1, TIME_UTC);

	fprintf(stderr, "[walk-exhaustive] %-16s %9" PRIu64 " combinations, %.2f s%s\n",
		c->name, count,
		(double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9,
		fails ? " (stopped early)" : "");
	cr_assert_eq(fails, 0, "%s: %u combination(s) disagree with the model "
		     "(see stderr)", c->name, fails);
}

#define XTEST(tname, label, mode, leaf_level, cpl12)                     \
	Test(walk_exhaustive, tname, .timeout = 600)                     \
	{                                                                \
		struct xcfg c;                                           \
		make_cfg(&c, label, mode, leaf_level, cpl12);            \
		run_cfg(&c);                                             \
	}

XTEST(legacy32_4k, "32-bit 4K", SVT_MODE_2LEVEL, 1, false)
XTEST(legacy32_4m, "32-bit 4M", SVT_MODE_2LEVEL, 2, false)
XTEST(pae_4k, "PAE 4K", SVT_MODE_PAE, 1, false)
XTEST(pae_2m, "PAE 2M", SVT_MODE_PAE, 2, false)
XTEST(lm4_4k, "4-level 4K", SVT_MODE_4LEVEL, 1, false)
XTEST(lm4_2m, "4-level 2M", SVT_MODE_4LEVEL, 2, false)
XTEST(lm4_1g, "4-level 1G", SVT_MODE_4LEVEL, 3, false)
XTEST(lm5_4k, "5-level 4K", SVT_MODE_5LEVEL, 1, false)
XTEST(lm5_2m, "5-level 2M", SVT_MODE_5LEVEL, 2, false)
XTEST(lm5_1g, "5-level 1G", SVT_MODE_5LEVEL, 3, false)

/* supervisor accesses at CPL 1 and 2 (same rules as CPL 0) */
XTEST(cpl12_legacy32_4k, "CPL1/2 32-bit 4K", SVT_MODE_2LEVEL, 1, true)
XTEST(cpl12_legacy32_4m, "CPL1/2 32-bit 4M", SVT_MODE_2LEVEL, 2, true)
XTEST(cpl12_pae_4k, "CPL1/2 PAE 4K", SVT_MODE_PAE, 1, true)
XTEST(cpl12_pae_2m, "CPL1/2 PAE 2M", SVT_MODE_PAE, 2, true)
XTEST(cpl12_lm4_4k, "CPL1/2 4-level 4K", SVT_MODE_4LEVEL, 1, true)
XTEST(cpl12_lm4_1g, "CPL1/2 4-level 1G", SVT_MODE_4LEVEL, 3, true)
XTEST(cpl12_lm5_2m, "CPL1/2 5-level 2M", SVT_MODE_5LEVEL, 2, true)
