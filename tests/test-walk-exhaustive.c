/*
 * test-walk-exhaustive.c — the guest page-table walker (src/svt.h) against
 * the independent reference model (tests/refmodel.c), over every
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

/* ====================================================================
 * Sparse test memory (shared shape with test-walk-rsvd.c)
 */

#define TM_PAGES 8
#define TM_WLOG 16

struct tmem {
	unsigned n;
	uint64_t base[TM_PAGES];
	uint8_t page[TM_PAGES][4096];
	unsigned nwrites;
	struct { uint64_t gpa; size_t len; } wlog[TM_WLOG];
	unsigned stray;         /* writes outside every page */
};

static uint8_t *tm_find(struct tmem *m, uint64_t gpa)
{
	uint64_t pg = gpa & ~0xfffull;
	unsigned i;

	for (i = 0; i < m->n; i++)
		if (m->base[i] == pg)
			return &m->page[i][gpa & 0xfff];
	return NULL;
}

static void tm_add(struct tmem *m, uint64_t gpa)
{
	if (tm_find(m, gpa))
		return;
	cr_assert(m->n < TM_PAGES, "test memory full");
	m->base[m->n] = gpa & ~0xfffull;
	memset(m->page[m->n], 0, 4096);
	m->n++;
}

/* svt_env callbacks: unbacked addresses read as zero. */
static int tm_read(void *ctx, uint64_t gpa, void *buf, size_t len)
{
	struct tmem *m = ctx;
	uint8_t *out = buf;
	size_t i;

	for (i = 0; i < len; i++) {
		uint8_t *p = tm_find(m, gpa + i);
		out[i] = p ? *p : 0;
	}
	return 0;
}

static int tm_write(void *ctx, uint64_t gpa, const void *buf, size_t len)
{
	struct tmem *m = ctx;
	const uint8_t *in = buf;
	size_t i;

	if (m->nwrites < TM_WLOG) {
		m->wlog[m->nwrites].gpa = gpa;
		m->wlog[m->nwrites].len = len;
	}
	m->nwrites++;
	for (i = 0; i < len; i++) {
		uint8_t *p = tm_find(m, gpa + i);
		if (p)
			*p = in[i];
		else
			m->stray++;
	}
	return 0;
}

static uint64_t tm_get(struct tmem *m, uint64_t gpa, unsigned bytes)
{
	uint64_t v = 0;
	unsigned i;

	for (i = 0; i < bytes; i++) {
		uint8_t *p = tm_find(m, gpa + i);
		v |= (uint64_t)(p ? *p : 0) << (8 * i);
	}
	return v;
}

static void tm_put(struct tmem *m, uint64_t gpa, unsigned bytes, uint64_t v)
{
	unsigned i;

	for (i = 0; i < bytes; i++) {
		uint8_t *p = tm_find(m, gpa + i);
		cr_assert(p != NULL, "tm_put outside test memory: %#" PRIx64, gpa);
		*p = (uint8_t)(v >> (8 * i));
	}
}

/* the model's load callback */
static bool tm_load(void *ctx, uint64_t pa, unsigned bytes, uint64_t *val)
{
	*val = tm_get(ctx, pa, bytes);
	return true;
}

/* ====================================================================
 * Comparing one access: walker vs model
 */

struct report {
	char buf[3072];
	size_t len;
	unsigned bad;
};

static void note(struct report *r, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
static void note(struct report *r, const char *fmt, ...)
{
	va_list ap;
	int k;

	r->bad++;
	if (r->len >= sizeof(r->buf) - 1)
		return;
	va_start(ap, fmt);
	k = vsnprintf(r->buf + r->len, sizeof(r->buf) - r->len, fmt, ap);
	va_end(ap);
	if (k > 0)
		r->len += (size_t)k;
	if (r->len >= sizeof(r->buf))
		r->len = sizeof(r->buf) - 1;
}

static const char *status_name(int s)
{
	switch (s) {
	case SVT_WALK_OK: return "OK";
	case SVT_WALK_PF: return "#PF";
	case SVT_WALK_GP: return "#GP";
	case SVT_WALK_ENV: return "ENV";
	}
	return "?";
}

static void regs_to_cpu(const struct svt_regs *r, struct rm_cpu *c)
{
	memset(c, 0, sizeof(*c));
	c->cr0 = r->cr0;
	c->cr3 = r->cr3;
	c->cr4 = r->cr4;
	c->efer = r->efer;
	c->rflags = r->rflags;
	c->pkru = r->pkru;
	c->maxphyaddr = r->maxphyaddr;
	c->gbpages = (r->features & SVT_FEAT_1GPAGE) != 0;
	memcpy(c->pdptr, r->pdpte, sizeof(c->pdptr));
}

static int expect_status(enum rm_kind k)
{
	switch (k) {
	case RM_OK: return SVT_WALK_OK;
	case RM_PF: return SVT_WALK_PF;
	case RM_GP: return SVT_WALK_GP;
	case RM_MEMERR: return SVT_WALK_ENV;
	}
	return -1;
}

static int expect_mode(enum rm_paging p)
{
	switch (p) {
	case RM_PAGING_OFF: return SVT_MODE_NONE;
	case RM_PAGING_32: return SVT_MODE_2LEVEL;
	case RM_PAGING_PAE: return SVT_MODE_PAE;
	case RM_PAGING_4L: return SVT_MODE_4LEVEL;
	case RM_PAGING_5L: return SVT_MODE_5LEVEL;
	case RM_PAGING_BAD: return SVT_MODE_INVALID;
	}
	return -2;
}

static unsigned rights_of(bool w, bool u, bool x)
{
	return (w ? SVT_RIGHT_W : 0) | (u ? SVT_RIGHT_U : 0) |
	       (x ? SVT_RIGHT_X : 0);
}

static void pfec_str(char *s, size_t n, uint32_t ec)
{
	snprintf(s, n, "%#x[%s%s%s%s%s%s]", ec,
		 ec & SVT_PFEC_P ? "P" : "-", ec & SVT_PFEC_W ? "W" : "-",
		 ec & SVT_PFEC_U ? "U" : "-", ec & SVT_PFEC_RSVD ? "R" : "-",
		 ec & SVT_PFEC_I ? "I" : "-", ec & SVT_PFEC_PK ? "K" : "-");
}

/*
 * Run model and walker on the current memory and compare everything.
 * Memory is left as the walker left it.  Returns the number of
 * discrepancies (0 = agree); details in *rep.
 */
static unsigned compare_walk(struct tmem *mem, const struct svt_regs *regs,
			     const struct svt_access *acc, struct rm_out *exp,
			     struct svt_walk *w, struct report *rep)
{
	struct svt_env env = { .ctx = mem, .read_gpa = tm_read,
			       .write_gpa = tm_write };
	struct rm_cpu cpu;
	struct rm_req req;
	unsigned i, skip = 0, nchanged = 0, k;
	char a[48], b[48];

	rep->len = 0;
	rep->bad = 0;
	rep->buf[0] = 0;

	regs_to_cpu(regs, &cpu);
	req.la = acc->va;
	req.op = acc->kind == SVT_ACC_WRITE ? RM_OP_WRITE :
		 acc->kind == SVT_ACC_FETCH ? RM_OP_EXEC : RM_OP_READ;
	req.cpl = acc->cpl;
	req.implicit_sv = acc->implicit;
	rm_translate(&cpu, &req, tm_load, mem, exp);

	mem->nwrites = 0;
	mem->stray = 0;
	memset(w, 0xa5, sizeof(*w));
	svt_walk(&env, regs, acc, SVT_WALK_SET_AD, w);

	if ((int)w->status != expect_status(exp->kind))
		note(rep, "  status: expected %s got %s\n",
		     status_name(expect_status(exp->kind)),
		     status_name(w->status));
	if (exp->kind != RM_GP && (int)w->mode != expect_mode(exp->paging))
		note(rep, "  mode: expected %d got %d\n",
		     expect_mode(exp->paging), (int)w->mode);

	if (exp->kind == RM_PF && w->status == SVT_WALK_PF) {
		if (w->error_code != exp->pfec) {
			pfec_str(a, sizeof(a), exp->pfec);
			pfec_str(b, sizeof(b), w->error_code);
			note(rep, "  error code: expected %s got %s\n", a, b);
		}
		if (w->cr2 != exp->cr2)
			note(rep, "  cr2: expected %#" PRIx64 " got %#" PRIx64 "\n",
			     exp->cr2, w->cr2);
	}
	if (exp->kind == RM_OK && w->status == SVT_WALK_OK) {
		if (w->gpa != exp->pa)
			note(rep, "  gpa: expected %#" PRIx64 " got %#" PRIx64 "\n",
			     exp->pa, w->gpa);
		if (exp->paging != RM_PAGING_OFF) {
			unsigned er = rights_of(exp->w, exp->u, exp->x);
			bool ia32e = exp->paging == RM_PAGING_4L ||
				     exp->paging == RM_PAGING_5L;

			if (w->page_size != exp->page_bytes)
				note(rep, "  page size: expected %#" PRIx64
				     " got %#" PRIx64 "\n", exp->page_bytes,
				     w->page_size);
			if (w->rights != er)
				note(rep, "  rights: expected %#x got %#x\n", er,
				     w->rights);
			/* the key is compared where it means something */
			if ((ia32e && (regs->cr4 & SVT_CR4_PKE)) || !ia32e) {
				unsigned ek = ia32e ? exp->pkey : 0;
				if (w->pkey != ek)
					note(rep, "  pkey: expected %u got %u\n",
					     ek, w->pkey);
			}
		}
	}

	/* entries read; the walker may or may not list the PAE PDPTE */
	if (exp->kind != RM_GP && exp->paging != RM_PAGING_OFF) {
		if (exp->n > 0 && exp->e[0].from_reg &&
		    w->nlevels == exp->n - 1 && w->nlevels > 0 &&
		    w->lv[0].level != exp->e[0].level)
			skip = 1;
		if (w->nlevels != exp->n - skip) {
			note(rep, "  entries read: expected %u got %u\n",
			     exp->n, w->nlevels);
		} else {
			for (i = skip; i < exp->n; i++) {
				const struct rm_ent *e = &exp->e[i];
				const struct svt_walk_level *l = &w->lv[i - skip];

				if (l->level != e->level || l->size != e->bytes ||
				    l->entry_gpa != e->pa || l->entry != e->before ||
				    l->table != e->table)
					note(rep, "  lv[%u]: expected L%d size %u table %#"
					     PRIx64 " at %#" PRIx64 " = %#" PRIx64
					     ", got L%u size %u table %#" PRIx64
					     " at %#" PRIx64 " = %#" PRIx64 "\n",
					     i - skip, e->level, e->bytes, e->table,
					     e->pa, e->before, l->level, l->size,
					     l->table, l->entry_gpa, l->entry);
				if (exp->kind == RM_OK && w->status == SVT_WALK_OK &&
				    (l->leaf != e->leaf ||
				     l->rights != rights_of(e->w, e->u, e->x)))
					note(rep, "  lv[%u]: expected leaf=%d rights=%#x,"
					     " got leaf=%d rights=%#x\n", i - skip,
					     e->leaf, rights_of(e->w, e->u, e->x),
					     l->leaf, l->rights);
			}
		}
	}

	/* memory after the walk */
	for (i = 0; i < exp->n; i++) {
		const struct rm_ent *e = &exp->e[i];
		uint64_t now;

		if (e->from_reg)
			continue;
		now = tm_get(mem, e->pa, e->bytes);
		if (now != e->after)
			note(rep, "  L%d entry at %#" PRIx64 " after walk: expected %#"
			     PRIx64 " got %#" PRIx64 " (was %#" PRIx64 ")\n",
			     e->level, e->pa, e->after, now, e->before);
		if (e->after != e->before)
			nchanged++;
	}
	if (mem->stray)
		note(rep, "  %u bytes written outside test memory\n", mem->stray);
	for (k = 0; k < mem->nwrites && k < TM_WLOG; k++) {
		bool ok = false;

		for (i = 0; i < exp->n; i++) {
			const struct rm_ent *e = &exp->e[i];
			if (!e->from_reg && e->after != e->before &&
			    mem->wlog[k].gpa >= e->pa &&
			    mem->wlog[k].gpa + mem->wlog[k].len <= e->pa + e->bytes)
				ok = true;
		}
		if (!ok)
			note(rep, "  unexpected write of %zu bytes at %#" PRIx64 "\n",
			     mem->wlog[k].len, mem->wlog[k].gpa);
	}

	/* ad[] describes exactly the changed entries, top-down */
	if (w->status == SVT_WALK_OK || w->status == SVT_WALK_PF) {
		if (w->nad != nchanged) {
			note(rep, "  nad: expected %u got %u\n", nchanged, w->nad);
		} else {
			k = 0;
			for (i = 0; i < exp->n && k < SVT_WALK_MAX_LEVELS; i++) {
				const struct rm_ent *e = &exp->e[i];
				const struct svt_ad_update *u = &w->ad[k];

				if (e->from_reg || e->after == e->before)
					continue;
				if (u->gpa != e->pa || u->old != e->before ||
				    u->new != e->after || u->size != e->bytes)
					note(rep, "  ad[%u]: expected %#" PRIx64 ": %#"
					     PRIx64 " -> %#" PRIx64 " (%u), got %#"
					     PRIx64 ": %#" PRIx64 " -> %#" PRIx64
					     " (%u)\n", k, e->pa, e->before,
					     e->after, e->bytes, u->gpa, u->old,
					     u->new, u->size);
				k++;
			}
		}
	}
	return rep->bad;
}

static void describe_expected(char *s, size_t n, const struct rm_out *e)
{
	char ec[48];

	switch (e->kind) {
	case RM_OK:
		snprintf(s, n, "OK gpa=%#" PRIx64 " size=%#" PRIx64, e->pa,
			 e->page_bytes);
		break;
	case RM_PF:
		pfec_str(ec, sizeof(ec), e->pfec);
		snprintf(s, n, "#PF ec=%s cr2=%#" PRIx64, ec, e->cr2);
		break;
	case RM_GP:
		snprintf(s, n, "#GP");
		break;
	case RM_MEMERR:
		snprintf(s, n, "ENV");
		break;
	}
}

static void describe_got(char *s, size_t n, const struct svt_walk *w)
{
	char ec[48];

	switch (w->status) {
	case SVT_WALK_OK:
		snprintf(s, n, "OK gpa=%#" PRIx64 " size=%#" PRIx64, w->gpa,
			 w->page_size);
		break;
	case SVT_WALK_PF:
		pfec_str(ec, sizeof(ec), w->error_code);
		snprintf(s, n, "#PF ec=%s cr2=%#" PRIx64, ec, w->cr2);
		break;
	default:
		snprintf(s, n, "%s", status_name(w->status));
		break;
	}
}

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
