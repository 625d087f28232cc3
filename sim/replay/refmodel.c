/*
 * refmodel.c — independent reference model of paging (Intel SDM Vol. 3A
 * chapter 4: 4.3 32-bit paging, 4.4 PAE paging, 4.5 4-level and 5-level
 * paging, 4.6 access rights, 4.7 page-fault exceptions, 4.8 A/D flags).
 *
 * Structure: each entry format is one row of `formats[]` (size, whether it
 * maps a page, which bits carry rights, how its reserved bits and its
 * physical address are formed).  Each paging mode is a list of levels in
 * `modes[]`; a level names the format it has when it references a table and
 * the one it has when PS=1 maps a page there.  rm_translate() walks the
 * list, then applies the access-rights rules of 4.6 in one place.
 *
 * Project decisions (not architectural): a faulting access sets no A/D
 * flag; PDPTE registers holding reserved bits (impossible after a MOV to
 * CR3) fault like a reserved-bit violation.
 */
#include <stddef.h>
#include <string.h>

#include "refmodel.h"

#define B(n) (1ull << (n))
/* constant-expression form of span() for the format table */
#define SPAN(hi, lo) ((~0ull >> (63 - (hi))) & (~0ull << (lo)))

/* Bits hi..lo inclusive; empty when lo > hi. */
static uint64_t span(int hi, int lo)
{
	if (hi > 63)
		hi = 63;
	if (lo < 0)
		lo = 0;
	if (lo > hi)
		return 0;
	return (~0ull >> (63 - hi)) & (~0ull << lo);
}

/* ------------------------------------------------------------------------
 * Entry formats
 */

enum fmt_id {
	F32_DIR,        /* 32-bit PDE referencing a page table (Table 4-6) */
	F32_4M,         /* 32-bit PDE mapping a 4-MByte page (Table 4-5) */
	F32_PTE,        /* 32-bit PTE (Table 4-6) */
	FPAE_PDPTE,     /* PAE PDPTE register (Table 4-8) */
	FPAE_DIR,       /* PAE PDE referencing a page table (Table 4-10) */
	FPAE_2M,        /* PAE PDE mapping a 2-MByte page (Table 4-9) */
	FPAE_PTE,       /* PAE PTE (Table 4-11) */
	FE_TOP,         /* PML5E / PML4E (Tables 4-14, 4-15): PS reserved */
	FE_PDPT_DIR,    /* PDPTE referencing a page directory (Table 4-17); if
			   chosen with PS=1 (no 1-GByte pages) PS is reserved */
	FE_1G,          /* PDPTE mapping a 1-GByte page (Table 4-16) */
	FE_DIR,         /* PDE referencing a page table (Table 4-19) */
	FE_2M,          /* PDE mapping a 2-MByte page (Table 4-18) */
	FE_PTE,         /* PTE (Table 4-20) */
	NFMT
};

/* How the upper reserved bits depend on MAXPHYADDR / NXE. */
enum hi_rule {
	HI_NONE,        /* 32-bit PDE/PTE: no reserved bits */
	HI_PSE36,       /* bit 21 and bits 20:(min(M,40)-19) */
	HI_PAE_PDPTE,   /* 63:M */
	HI_PAE,         /* 62:M, and 63 unless NXE */
	HI_IA32E,       /* 51:M, and 63 unless NXE */
};

/* How the physical address in the entry is formed. */
enum addr_rule {
	AD_32,          /* bits 31:lo */
	AD_PSE36,       /* bits 31:22, and PDE bits (min(M,40)-20):13 -> 39:32 */
	AD_M,           /* bits (M-1):lo */
};

struct fmt {
	const char *name;
	unsigned bytes;
	bool maps_page;
	bool has_rw_us;         /* R/W and U/S take part in rights */
	bool has_xd;            /* bit 63 is XD when NXE=1 */
	bool has_pkey;          /* bits 62:59 are the protection key */
	enum hi_rule hi;
	uint64_t always_rsvd;
	enum addr_rule addr;
	int addr_lo;
	uint64_t page_bytes;
	int pat_bit;            /* maps_page: where the PAT bit is */
};

static const struct fmt formats[NFMT] = {
	[F32_DIR] = { .name = "PDE", .bytes = 4, .has_rw_us = true,
		.hi = HI_NONE, .addr = AD_32, .addr_lo = 12 },
	[F32_4M] = { .name = "PDE(4M)", .bytes = 4, .maps_page = true,
		.has_rw_us = true, .hi = HI_PSE36,
		.addr = AD_PSE36, .addr_lo = 22, .page_bytes = 4ull << 20,
		.pat_bit = RM_PAT_BIT_BIG },
	[F32_PTE] = { .name = "PTE", .bytes = 4, .maps_page = true,
		.has_rw_us = true, .hi = HI_NONE, .addr = AD_32,
		.addr_lo = 12, .page_bytes = 4096,
		.pat_bit = RM_PAT_BIT_4K },
	[FPAE_PDPTE] = { .name = "PDPTE", .bytes = 8, .hi = HI_PAE_PDPTE,
		.always_rsvd = SPAN(2, 1) | SPAN(8, 5), .addr = AD_M,
		.addr_lo = 12 },
	[FPAE_DIR] = { .name = "PDE", .bytes = 8, .has_rw_us = true,
		.has_xd = true, .hi = HI_PAE, .addr = AD_M,
		.addr_lo = 12 },
	[FPAE_2M] = { .name = "PDE(2M)", .bytes = 8, .maps_page = true,
		.has_rw_us = true, .has_xd = true, .hi = HI_PAE,
		.always_rsvd = SPAN(20, 13), .addr = AD_M, .addr_lo = 21,
		.page_bytes = 2ull << 20,
		.pat_bit = RM_PAT_BIT_BIG },
	[FPAE_PTE] = { .name = "PTE", .bytes = 8, .maps_page = true,
		.has_rw_us = true, .has_xd = true, .hi = HI_PAE,
		.addr = AD_M, .addr_lo = 12, .page_bytes = 4096,
		.pat_bit = RM_PAT_BIT_4K },
	[FE_TOP] = { .name = "PML4E/PML5E", .bytes = 8, .has_rw_us = true,
		.has_xd = true, .hi = HI_IA32E,
		.always_rsvd = B(7), .addr = AD_M, .addr_lo = 12 },
	[FE_PDPT_DIR] = { .name = "PDPTE", .bytes = 8, .has_rw_us = true,
		.has_xd = true, .hi = HI_IA32E,
		.always_rsvd = B(7), .addr = AD_M, .addr_lo = 12 },
	[FE_1G] = { .name = "PDPTE(1G)", .bytes = 8, .maps_page = true,
		.has_rw_us = true, .has_xd = true, .has_pkey = true,
		.hi = HI_IA32E, .always_rsvd = SPAN(29, 13),
		.addr = AD_M, .addr_lo = 30, .page_bytes = 1ull << 30,
		.pat_bit = RM_PAT_BIT_BIG },
	[FE_DIR] = { .name = "PDE", .bytes = 8, .has_rw_us = true,
		.has_xd = true, .hi = HI_IA32E, .addr = AD_M,
		.addr_lo = 12 },
	[FE_2M] = { .name = "PDE(2M)", .bytes = 8, .maps_page = true,
		.has_rw_us = true, .has_xd = true, .has_pkey = true,
		.hi = HI_IA32E, .always_rsvd = SPAN(20, 13),
		.addr = AD_M, .addr_lo = 21, .page_bytes = 2ull << 20,
		.pat_bit = RM_PAT_BIT_BIG },
	[FE_PTE] = { .name = "PTE", .bytes = 8, .maps_page = true,
		.has_rw_us = true, .has_xd = true, .has_pkey = true,
		.hi = HI_IA32E, .addr = AD_M, .addr_lo = 12,
		.page_bytes = 4096,
		.pat_bit = RM_PAT_BIT_4K },
};

static bool nxe_on(const struct rm_cpu *c)
{
	return (c->efer & RM_EFER_NXE) != 0;
}

static int pse36_width(const struct rm_cpu *c)
{
	return c->maxphyaddr < 40 ? (int)c->maxphyaddr : 40;
}

static uint64_t fmt_rsvd(const struct fmt *f, const struct rm_cpu *c)
{
	int m = (int)c->maxphyaddr;
	uint64_t r = f->always_rsvd;

	switch (f->hi) {
	case HI_NONE:
		break;
	case HI_PSE36:
		r |= B(21) | span(20, pse36_width(c) - 19);
		break;
	case HI_PAE_PDPTE:
		r |= span(63, m);
		break;
	case HI_PAE:
		r |= span(62, m);
		if (!nxe_on(c))
			r |= B(63);
		break;
	case HI_IA32E:
		r |= span(51, m);
		if (!nxe_on(c))
			r |= B(63);
		break;
	}
	return r;
}

static uint64_t fmt_addr(const struct fmt *f, const struct rm_cpu *c, uint64_t e)
{
	switch (f->addr) {
	case AD_32:
		return e & span(31, f->addr_lo);
	case AD_PSE36: {
		int w = pse36_width(c) - 32;    /* address bits above 31 */
		uint64_t hi = (e >> 13) & span(w - 1, 0);
		return (e & span(31, 22)) | (hi << 32);
	}
	case AD_M:
		return e & span((int)c->maxphyaddr - 1, f->addr_lo);
	}
	return 0;
}

/* ------------------------------------------------------------------------
 * Paging modes as lists of levels
 */

#define NOPAGE NFMT

struct level {
	int level;              /* 5..1 */
	int shift;              /* lowest linear-address bit of the index */
	int index_bits;
	enum fmt_id table_fmt;  /* format when the entry references a table */
	enum fmt_id page_fmt;   /* format when PS=1 maps a page, or NOPAGE */
	bool in_register;       /* PAE PDPTEs */
};

struct mode {
	const char *name;
	int nlevels;
	int va_bits;            /* 32, or canonical width for IA-32e */
	struct level lv[5];
};

static const struct mode modes[] = {
	[RM_PAGING_32] = { "32-bit", 2, 32, {
		{ 2, 22, 10, F32_DIR, F32_4M, false },
		{ 1, 12, 10, F32_PTE, NOPAGE, false } } },
	[RM_PAGING_PAE] = { "PAE", 3, 32, {
		{ 3, 30, 2, FPAE_PDPTE, NOPAGE, true },
		{ 2, 21, 9, FPAE_DIR, FPAE_2M, false },
		{ 1, 12, 9, FPAE_PTE, NOPAGE, false } } },
	[RM_PAGING_4L] = { "4-level", 4, 48, {
		{ 4, 39, 9, FE_TOP, NOPAGE, false },
		{ 3, 30, 9, FE_PDPT_DIR, FE_1G, false },
		{ 2, 21, 9, FE_DIR, FE_2M, false },
		{ 1, 12, 9, FE_PTE, NOPAGE, false } } },
	[RM_PAGING_5L] = { "5-level", 5, 57, {
		{ 5, 48, 9, FE_TOP, NOPAGE, false },
		{ 4, 39, 9, FE_TOP, NOPAGE, false },
		{ 3, 30, 9, FE_PDPT_DIR, FE_1G, false },
		{ 2, 21, 9, FE_DIR, FE_2M, false },
		{ 1, 12, 9, FE_PTE, NOPAGE, false } } },
};

enum rm_paging rm_paging_of(const struct rm_cpu *c)
{
	bool long_mode;

	if (!(c->cr0 & RM_CR0_PG))
		return RM_PAGING_OFF;
	long_mode = (c->efer & (RM_EFER_LMA | RM_EFER_LME)) != 0;
	if (long_mode) {
		if (!(c->cr4 & RM_CR4_PAE))
			return RM_PAGING_BAD;
		return (c->cr4 & RM_CR4_LA57) ? RM_PAGING_5L : RM_PAGING_4L;
	}
	return (c->cr4 & RM_CR4_PAE) ? RM_PAGING_PAE : RM_PAGING_32;
}

const char *rm_paging_name(enum rm_paging p)
{
	switch (p) {
	case RM_PAGING_OFF: return "off";
	case RM_PAGING_32: return "32-bit";
	case RM_PAGING_PAE: return "PAE";
	case RM_PAGING_4L: return "4-level";
	case RM_PAGING_5L: return "5-level";
	case RM_PAGING_BAD: return "invalid";
	}
	return "?";
}

/* Which format an entry has, given its PS bit and the CPU state. */
static enum fmt_id pick_format(const struct rm_cpu *c, enum rm_paging p,
			       const struct level *l, uint64_t e)
{
	if (l->page_fmt == NOPAGE || !(e & RM_E_PS))
		return l->table_fmt;
	if (p == RM_PAGING_32 && !(c->cr4 & RM_CR4_PSE))
		return l->table_fmt;            /* PS ignored */
	if (l->page_fmt == FE_1G && !c->gbpages)
		return l->table_fmt;            /* PS=1 is then reserved */
	return l->page_fmt;
}

uint64_t rm_rsvd_bits(const struct rm_cpu *c, enum rm_paging p, int level,
		      bool big)
{
	const struct mode *m;
	int i;

	if (p != RM_PAGING_32 && p != RM_PAGING_PAE && p != RM_PAGING_4L &&
	    p != RM_PAGING_5L)
		return 0;
	m = &modes[p];
	for (i = 0; i < m->nlevels; i++) {
		const struct level *l = &m->lv[i];
		if (l->level != level)
			continue;
		if (big && l->page_fmt != NOPAGE)
			return fmt_rsvd(&formats[l->page_fmt], c);
		/* a PDPTE referencing a directory: PS is reserved only
		 * where it cannot select a 1-GByte page */
		if (l->table_fmt == FE_PDPT_DIR && c->gbpages)
			return fmt_rsvd(&formats[l->table_fmt], c) & ~RM_E_PS;
		return fmt_rsvd(&formats[l->table_fmt], c);
	}
	return 0;
}

static bool canonical(uint64_t la, int width)
{
	int64_t s = (int64_t)(la << (64 - width)) >> (64 - width);
	return (uint64_t)s == la;
}

static uint64_t load_width(uint64_t v, unsigned bytes)
{
	return bytes == 4 ? (v & 0xffffffffull) : v;
}

/* ------------------------------------------------------------------------
 * Access rights (SDM 4.6) and protection keys (4.6.2)
 */

struct rights {
	bool w, u, x;
};

/* true if the page-level protections forbid the access */
static bool page_rights_fault(const struct rm_cpu *c, const struct rm_req *r,
			      bool user_access, struct rights rt)
{
	bool wp = (c->cr0 & RM_CR0_WP) != 0;
	bool smep = (c->cr4 & RM_CR4_SMEP) != 0;
	bool smap = (c->cr4 & RM_CR4_SMAP) != 0;
	bool ac = (c->rflags & RM_RFLAGS_AC) != 0;
	/* SMAP blocks supervisor data accesses to user-mode addresses unless
	 * the access is explicit and EFLAGS.AC=1. */
	bool smap_blocks = smap && (r->implicit_sv || !ac);

	if (user_access) {
		if (!rt.u)
			return true;
		if (r->op == RM_OP_WRITE && !rt.w)
			return true;
		if (r->op == RM_OP_EXEC && !rt.x)
			return true;
		return false;
	}
	switch (r->op) {
	case RM_OP_EXEC:
		if (!rt.x)
			return true;
		if (rt.u && smep)
			return true;
		return false;
	case RM_OP_READ:
		return rt.u && smap_blocks;
	case RM_OP_WRITE:
		if (rt.u && smap_blocks)
			return true;
		return !rt.w && wp;
	}
	return false;
}

static bool pkey_fault(const struct rm_cpu *c, enum rm_paging p,
		       const struct rm_req *r, bool user_access,
		       struct rights rt, unsigned key)
{
	bool ad, wd;

	if (p != RM_PAGING_4L && p != RM_PAGING_5L)
		return false;
	if (!(c->cr4 & RM_CR4_PKE) || r->op == RM_OP_EXEC || !rt.u)
		return false;
	ad = (c->pkru >> (2 * key)) & 1;
	wd = (c->pkru >> (2 * key + 1)) & 1;
	if (ad)
		return true;
	return r->op == RM_OP_WRITE && wd &&
	       (user_access || (c->cr0 & RM_CR0_WP));
}

/* ------------------------------------------------------------------------
 * The translation
 */

unsigned rm_pat_index(uint64_t e, int pat_bit)
{
	return (unsigned)(((e >> pat_bit) & 1) << 2 | ((e & RM_E_PCD) ? 2 : 0) |
			  ((e & RM_E_PWT) ? 1 : 0));
}

void rm_translate(const struct rm_cpu *c, const struct rm_req *r,
		  rm_load_fn load, void *ctx, struct rm_out *o)
{
	enum rm_paging p = rm_paging_of(c);
	const struct mode *m;
	bool user_access = r->cpl == 3 && !r->implicit_sv;
	uint32_t pfec_base = 0;
	struct rights rt = { true, true, true };
	uint64_t la = r->la, table = 0, leaf_entry = 0;
	const struct fmt *leaf = NULL;
	unsigned i;

	/* all but the entries, each zeroed as the walk reaches it: those past
	 * n are never read, and zeroing all five costs as much as a walk */
	memset(o, 0, offsetof(struct rm_out, e));
	o->paging = p;

	if (p == RM_PAGING_OFF) {
		o->kind = RM_OK;
		o->pa = la & 0xffffffffull;
		o->w = o->u = o->x = true;
		return;
	}
	if (p == RM_PAGING_BAD) {
		o->kind = RM_GP;
		return;
	}
	m = &modes[p];
	if (m->va_bits == 32)
		la &= 0xffffffffull;
	else if (!canonical(la, m->va_bits)) {
		o->kind = RM_GP;
		return;
	}

	if (r->op == RM_OP_WRITE)
		pfec_base |= RM_PF_W;
	if (user_access)
		pfec_base |= RM_PF_U;
	if (r->op == RM_OP_EXEC &&
	    ((c->cr4 & RM_CR4_SMEP) || ((c->cr4 & RM_CR4_PAE) && nxe_on(c))))
		pfec_base |= RM_PF_I;

	switch (p) {
	case RM_PAGING_32:
		table = c->cr3 & span(31, 12);
		break;
	case RM_PAGING_PAE:
		table = c->cr3 & span(31, 5);
		break;
	default:
		table = c->cr3 & span((int)c->maxphyaddr - 1, 12);
		break;
	}

	for (i = 0; i < (unsigned)m->nlevels; i++) {
		const struct level *l = &m->lv[i];
		unsigned idx = (unsigned)((la >> l->shift) & span(l->index_bits - 1, 0));
		unsigned bytes = formats[l->table_fmt].bytes;
		struct rm_ent *ent = &o->e[o->n++];
		const struct fmt *f;
		uint64_t e;

		memset(ent, 0, sizeof(*ent));
		ent->level = l->level;
		ent->bytes = bytes;
		ent->table = table;
		ent->pa = table + (uint64_t)idx * bytes;
		if (l->in_register) {
			e = c->pdptr[idx];
			ent->from_reg = true;
		} else if (!load(ctx, ent->pa, bytes, &e)) {
			o->kind = RM_MEMERR;
			return;
		}
		e = load_width(e, bytes);
		ent->before = ent->after = e;

		if (!(e & RM_E_P)) {
			o->kind = RM_PF;
			o->pfec = pfec_base;
			o->cr2 = la;
			return;
		}
		f = &formats[pick_format(c, p, l, e)];
		if (e & fmt_rsvd(f, c)) {
			o->kind = RM_PF;
			o->pfec = pfec_base | RM_PF_P | RM_PF_RSVD;
			o->cr2 = la;
			return;
		}
		if (f->has_rw_us) {
			rt.w = rt.w && (e & RM_E_RW);
			rt.u = rt.u && (e & RM_E_US);
		}
		if (f->has_xd && nxe_on(c) && (e & RM_E_XD))
			rt.x = false;
		ent->w = rt.w;
		ent->u = rt.u;
		ent->x = rt.x;

		if (f->maps_page) {
			ent->leaf = true;
			leaf = f;
			leaf_entry = e;
			o->page_bytes = f->page_bytes;
			o->pa = fmt_addr(f, c, e) | (la & (f->page_bytes - 1));
			break;
		}
		table = fmt_addr(f, c, e);
	}

	if (leaf == NULL) {     /* cannot happen: the last level maps a page */
		o->kind = RM_MEMERR;
		return;
	}
	if (leaf->has_pkey)
		o->pkey = (unsigned)((leaf_entry >> 59) & 0xf);
	o->pat_index = rm_pat_index(leaf_entry, leaf->pat_bit);

	{
		bool pf = page_rights_fault(c, r, user_access, rt);
		bool pk = pkey_fault(c, p, r, user_access, rt, o->pkey);

		if (pf || pk) {
			o->kind = RM_PF;
			o->pfec = pfec_base | RM_PF_P | (pk ? RM_PF_PK : 0);
			o->cr2 = la;
			o->pa = 0;
			o->page_bytes = 0;
			o->pkey = 0;
			o->pat_index = 0;
			return;
		}
	}

	o->kind = RM_OK;
	o->w = rt.w;
	o->u = rt.u;
	o->x = rt.x;
	/* 4.8: A in every entry used (not the PDPTE registers), D in the leaf
	 * for a write. */
	for (i = 0; i < o->n; i++) {
		struct rm_ent *ent = &o->e[i];

		if (ent->from_reg)
			continue;
		ent->after |= RM_E_A;
		if (ent->leaf && r->op == RM_OP_WRITE)
			ent->after |= RM_E_D;
	}
}

int rm_pae_load(const struct rm_cpu *c, rm_load_fn load, void *ctx,
		uint64_t pdptr[4])
{
	uint64_t base = c->cr3 & span(31, 5), v[4];
	uint64_t rsvd = fmt_rsvd(&formats[FPAE_PDPTE], c);
	int i;

	for (i = 0; i < 4; i++) {
		if (!load(ctx, base + 8u * (unsigned)i, 8, &v[i]))
			return -2;
		if ((v[i] & RM_E_P) && (v[i] & rsvd))
			return -1;
	}
	for (i = 0; i < 4; i++)
		pdptr[i] = v[i];
	return 0;
}
