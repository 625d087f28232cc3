/*
 * walkcmp.c — the shared half of the walker tests (walkcmp.h): sparse test
 * memory, and running one access through the walker and the model and
 * comparing fault, error code, CR2, gpa, page size, entries and A/D.
 */
#include <criterion/criterion.h>

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "walkcmp.h"
/* ====================================================================
 * Sparse test memory (shared shape with test-walk-rsvd.c)
 */


uint8_t *tm_find(struct tmem *m, uint64_t gpa)
{
	uint64_t pg = gpa & ~0xfffull;
	unsigned i;

	for (i = 0; i < m->n; i++)
		if (m->base[i] == pg)
			return &m->page[i][gpa & 0xfff];
	return NULL;
}

void tm_add(struct tmem *m, uint64_t gpa)
{
	if (tm_find(m, gpa))
		return;
	cr_assert(m->n < TM_PAGES, "test memory full");
	m->base[m->n] = gpa & ~0xfffull;
	memset(m->page[m->n], 0, 4096);
	m->n++;
}

/* svt_env callbacks: unbacked addresses read as zero. */
int tm_read(void *ctx, uint64_t gpa, void *buf, size_t len)
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

int tm_write(void *ctx, uint64_t gpa, const void *buf, size_t len)
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

uint64_t tm_get(struct tmem *m, uint64_t gpa, unsigned bytes)
{
	uint64_t v = 0;
	unsigned i;

	for (i = 0; i < bytes; i++) {
		uint8_t *p = tm_find(m, gpa + i);
		v |= (uint64_t)(p ? *p : 0) << (8 * i);
	}
	return v;
}

void tm_put(struct tmem *m, uint64_t gpa, unsigned bytes, uint64_t v)
{
	unsigned i;

	for (i = 0; i < bytes; i++) {
		uint8_t *p = tm_find(m, gpa + i);
		cr_assert(p != NULL, "tm_put outside test memory: %#" PRIx64, gpa);
		*p = (uint8_t)(v >> (8 * i));
	}
}

/* the model's load callback */
bool tm_load(void *ctx, uint64_t pa, unsigned bytes, uint64_t *val)
{
	*val = tm_get(ctx, pa, bytes);
	return true;
}

/* ====================================================================
 * Comparing one access: walker vs model
 */


void note(struct report *r, const char *fmt, ...)
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

const char *status_name(int s)
{
	switch (s) {
	case SVT_WALK_OK: return "OK";
	case SVT_WALK_PF: return "#PF";
	case SVT_WALK_GP: return "#GP";
	case SVT_WALK_ENV: return "ENV";
	}
	return "?";
}

void regs_to_cpu(const struct svt_regs *r, struct rm_cpu *c)
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

int expect_status(enum rm_kind k)
{
	switch (k) {
	case RM_OK: return SVT_WALK_OK;
	case RM_PF: return SVT_WALK_PF;
	case RM_GP: return SVT_WALK_GP;
	case RM_MEMERR: return SVT_WALK_ENV;
	}
	return -1;
}

int expect_mode(enum rm_paging p)
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

unsigned rights_of(bool w, bool u, bool x)
{
	return (w ? SVT_RIGHT_W : 0) | (u ? SVT_RIGHT_U : 0) |
	       (x ? SVT_RIGHT_X : 0);
}

void pfec_str(char *s, size_t n, uint32_t ec)
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
unsigned compare_walk(struct tmem *mem, const struct svt_regs *regs,
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

void describe_expected(char *s, size_t n, const struct rm_out *e)
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

void describe_got(char *s, size_t n, const struct svt_walk *w)
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
