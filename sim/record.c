/*
 * record.c — the recording environment (machine.h): the core's reads of
 * guest memory are compared with a mirror of what a replayer will know,
 * and the differences become MEM records written before the input they
 * served (DESIGN.md, "Recording principle").
 */
#include <stdlib.h>
#include <string.h>

#include "machine.h"

static bool grow(void **p, size_t *cap, size_t need, size_t elem)
{
	if (need <= *cap)
		return true;
	size_t n = *cap ? *cap : 64;
	while (n < need)
		n *= 2;
	void *q = realloc(*p, n * elem);
	if (!q)
		return false;
	*p = q;
	*cap = n;
	return true;
}

/* Note that bytes [gpa, gpa + len) hold data (read from the truth). */
static void pend(struct svt_rec *r, uint64_t gpa, const uint8_t *data, size_t len)
{
	struct svt_rec_span *last = r->nspan ? &r->span[r->nspan - 1] : NULL;

	if (!grow((void **)&r->buf, &r->bufcap, r->buflen + len, 1)) {
		r->failed = true;
		return;
	}
	memcpy(r->buf + r->buflen, data, len);
	if (last && last->gpa + last->len == gpa && last->off + last->len == r->buflen &&
	    last->len + len <= SVT_TRACE_MAX_MEM && ((gpa ^ last->gpa) >> 12) == 0) {
		last->len += (uint32_t)len;
	} else {
		if (!grow((void **)&r->span, &r->spancap, r->nspan + 1, sizeof(*r->span))) {
			r->failed = true;
			return;
		}
		r->span[r->nspan++] = (struct svt_rec_span){ .gpa = gpa, .len = (uint32_t)len,
							     .off = (uint32_t)r->buflen };
	}
	r->buflen += len;
}

static int rec_read(void *ctx, uint64_t gpa, void *buf, size_t len)
{
	struct svt_rec *r = ctx;
	uint8_t *out = buf;

	svt_gmem_read(&r->m->mem, gpa, buf, len);
	/* Page by page: the differing bytes, as one span per page. */
	while (len > 0) {
		size_t off = gpa & 0xfff, n = 4096 - off;
		if (n > len)
			n = len;
		if ((gpa >> 12) < r->mirror.frames) {
			uint8_t *mp = svt_gmem_page(&r->mirror, gpa >> 12, false);
			size_t lo = n, hi = 0;
			for (size_t i = 0; i < n; i++) {
				uint8_t known = mp ? mp[off + i] : 0;
				if (known != out[i]) {
					if (lo == n)
						lo = i;
					hi = i + 1;
				}
			}
			if (lo < hi) {
				/* whole 8-byte words where the read covers them: the
				 * writer's word encodings need whole words */
				uint64_t a = (gpa + lo) & ~7ull, b = (gpa + hi + 7) & ~7ull;
				if (a >= gpa && b <= gpa + n) {
					lo = (size_t)(a - gpa);
					hi = (size_t)(b - gpa);
				}
				pend(r, gpa + lo, out + lo, hi - lo);
				if (svt_gmem_write(&r->mirror, gpa + lo, out + lo, hi - lo) != 0)
					r->failed = true;
			}
		}
		out += n;
		gpa += n;
		len -= n;
	}
	return 0;
}

static int rec_write(void *ctx, uint64_t gpa, const void *buf, size_t len)
{
	struct svt_rec *r = ctx;
	int rc = r->m->env.write_gpa(r->m->env.ctx, gpa, buf, len);
	if (svt_gmem_write(&r->mirror, gpa, buf, len) != 0)
		r->failed = true;
	return rc;
}

static uint64_t rec_g2m(void *ctx, uint64_t gfn)
{
	struct svt_rec *r = ctx;
	return r->m->env.gfn_to_mfn(r->m->env.ctx, gfn);
}

static void *rec_map(void *ctx, uint64_t mfn)
{
	struct svt_rec *r = ctx;
	return r->m->env.map_mfn(r->m->env.ctx, mfn);
}

static void rec_flush(void *ctx, int kind, uint64_t va)
{
	struct svt_rec *r = ctx;
	r->m->env.flush_tlb(r->m->env.ctx, kind, va);
}

static void rec_event(void *ctx, const struct svt_event *ev)
{
	struct svt_rec *r = ctx;
	r->m->env.event(r->m->env.ctx, ev);
}

int svt_rec_init(struct svt_rec *r, struct svt_machine *m, struct svt_trace_writer *w)
{
	memset(r, 0, sizeof(*r));
	r->m = m;
	r->w = w;
	if (svt_gmem_init(&r->mirror, m->mem.frames) != 0)
		return -1;
	r->env = (struct svt_env){
		.ctx = r, .read_gpa = rec_read, .write_gpa = rec_write, .gfn_to_mfn = rec_g2m,
		.map_mfn = rec_map, .flush_tlb = rec_flush, .event = rec_event,
	};
	return 0;
}

void svt_rec_free(struct svt_rec *r)
{
	svt_gmem_free(&r->mirror);
	free(r->span);
	free(r->buf);
	r->span = NULL;
	r->buf = NULL;
}

static void put(struct svt_rec *r, const struct svt_trace_event *ev)
{
	if (!r->failed && svt_trace_write(r->w, ev) != SVT_TRACE_OK)
		r->failed = true;
}

/* Write the pending MEM records, then the input. */
static void flush_pending(struct svt_rec *r, const struct svt_trace_event *input)
{
	for (size_t i = 0; i < r->nspan; i++) {
		struct svt_trace_event ev = { .type = SVT_TRACE_MEM };
		ev.u.mem.gpa = r->span[i].gpa;
		ev.u.mem.len = r->span[i].len;
		ev.u.mem.data = r->buf + r->span[i].off;
		r->mem_bytes += r->span[i].len;
		put(r, &ev);
	}
	r->nspan = 0;
	r->buflen = 0;
	put(r, input);
}

enum svt_pf_outcome svt_rec_fault(struct svt_rec *r, struct svt_mmu *mmu, const struct svt_fault *f,
				  struct svt_fault_result *res)
{
	struct svt_trace_event in, d;

	svt_trace_event_fault(f, &in);
	enum svt_pf_outcome o = svt_mmu_page_fault(mmu, f, res);
	flush_pending(r, &in);
	svt_trace_event_decision(f, o, res, &d);
	put(r, &d);
	return o;
}

int svt_rec_cr(struct svt_rec *r, struct svt_mmu *mmu, enum svt_trace_cr reg, uint64_t val)
{
	struct svt_trace_event in = { .type = SVT_TRACE_CR_WRITE };
	int rc;

	in.u.cr.reg = (uint8_t)reg;
	in.u.cr.val = val;
	rc = svt_trace_cr_apply(mmu, reg, val);
	flush_pending(r, &in);
	struct svt_trace_event d = { .type = SVT_TRACE_DECISION };
	d.u.decision.input = SVT_TRACE_CR_WRITE;
	d.u.decision.rc = rc;
	put(r, &d);
	return rc;
}

void svt_rec_invlpg(struct svt_rec *r, struct svt_mmu *mmu, uint64_t va)
{
	struct svt_trace_event in = { .type = SVT_TRACE_INVLPG };

	in.u.invlpg_va = va;
	svt_mmu_invlpg(mmu, va);
	flush_pending(r, &in);
}

int svt_rec_invpcid(struct svt_rec *r, struct svt_mmu *mmu, unsigned type, uint64_t pcid, uint64_t va)
{
	struct svt_trace_event in = { .type = SVT_TRACE_INVPCID };

	in.u.invpcid.type = type;
	in.u.invpcid.pcid = pcid;
	in.u.invpcid.va = va;
	int rc = svt_mmu_invpcid(mmu, type, pcid, va);
	flush_pending(r, &in);
	struct svt_trace_event d = { .type = SVT_TRACE_DECISION };
	d.u.decision.input = SVT_TRACE_INVPCID;
	d.u.decision.rc = rc;
	put(r, &d);
	return rc;
}

void svt_rec_flush_all(struct svt_rec *r, struct svt_mmu *mmu)
{
	struct svt_trace_event in = { .type = SVT_TRACE_FLUSH_ALL };

	svt_mmu_flush_all(mmu);
	flush_pending(r, &in);
}

void svt_rec_mark(struct svt_rec *r, const char *text)
{
	struct svt_trace_event ev = { .type = SVT_TRACE_MARK };
	size_t n = strlen(text);

	if (n > SVT_TRACE_MAX_MARK)
		n = SVT_TRACE_MAX_MARK;
	ev.u.mark.kind = SVT_TRACE_MARK_PHASE;
	ev.u.mark.len = (uint16_t)n;
	memcpy(ev.u.mark.text, text, n);
	ev.u.mark.text[n] = 0;
	put(r, &ev);
}
