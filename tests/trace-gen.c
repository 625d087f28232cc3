/*
 * trace-gen.c — event generators and helpers for the trace tests (see
 * trace-gen.h).  Deterministic: everything comes from a splitmix64 seed.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "trace-gen.h"
#include "rng.h"

uint64_t tg_next(struct tg_rng *g)
{
	return svt_splitmix64(&g->s);
}

uint64_t tg_below(struct tg_rng *g, uint64_t n)
{
	return n ? tg_next(g) % n : 0;
}

/* A value that exercises varint edges: small, a power of two boundary,
 * or anything. */
static uint64_t edgy(struct tg_rng *g)
{
	switch (tg_below(g, 4)) {
	case 0:
		return tg_below(g, 300);
	case 1: {
		unsigned b = (unsigned)tg_below(g, 64);
		return (1ull << b) - tg_below(g, 2);
	}
	case 2:
		return ~tg_below(g, 300);
	default:
		return tg_next(g);
	}
}

int tg_sink(void *ctx, const void *buf, size_t len)
{
	struct tg_buf *b = ctx;
	if (b->n + len > b->cap) {
		size_t cap = b->cap ? b->cap : 4096;
		while (cap < b->n + len)
			cap *= 2;
		uint8_t *p = realloc(b->p, cap);
		if (p == NULL)
			return -1;
		b->p = p;
		b->cap = cap;
	}
	memcpy(b->p + b->n, buf, len);
	b->n += len;
	return 0;
}

void tg_push(struct tg_events *e, const struct svt_trace_event *ev)
{
	if (e->n == e->cap) {
		e->cap = e->cap ? 2 * e->cap : 256;
		e->ev = realloc(e->ev, e->cap * sizeof(*e->ev));
		if (e->ev == NULL)
			abort();
	}
	struct svt_trace_event *x = &e->ev[e->n++];
	*x = *ev;
	x->seq = e->next_seq;
	e->next_seq += svt_trace_event_span(ev);
	const uint8_t *src = NULL;
	size_t len = 0;
	if (ev->type == SVT_TRACE_MEM) {
		src = ev->u.mem.data;
		len = ev->u.mem.len;
	} else if (ev->type == SVT_TRACE_UNKNOWN) {
		src = ev->u.unknown.data;
		len = ev->u.unknown.len;
	}
	if (src != NULL || len > 0) {
		uint8_t *copy = malloc(len ? len : 1);
		if (copy == NULL)
			abort();
		if (len)
			memcpy(copy, src, len);
		if (ev->type == SVT_TRACE_MEM)
			x->u.mem.data = copy;
		else
			x->u.unknown.data = copy;
	}
}

void tg_free(struct tg_events *e)
{
	for (size_t i = 0; i < e->n; i++) {
		if (e->ev[i].type == SVT_TRACE_MEM)
			free((void *)e->ev[i].u.mem.data);
		else if (e->ev[i].type == SVT_TRACE_UNKNOWN)
			free((void *)e->ev[i].u.unknown.data);
	}
	free(e->ev);
	memset(e, 0, sizeof(*e));
}

void tg_header(struct svt_trace_header *h)
{
	static const struct svt_trace_range ram[] = { { 0, 160 }, { 256, 3840 }, { 8192, 8192 } };
	memset(h, 0, sizeof(*h));
	h->producer = "test-trace 1.0";
	h->cpu_model = "synthetic";
	h->guest = "random events";
	h->maxphyaddr = 46;
	h->features = SVT_FEAT_1GPAGE;
	h->guest_frames = 16384;
	h->ram = ram;
	h->nram = 3;
	h->policy.oos = 2;
	h->policy.prefetch = 8;
	h->policy.early_unshadow = true;
	h->policy.emulate = true;
	h->pool_frames = 512;
	h->root_cache = 4;
}

static void random_regs(struct tg_rng *g, struct svt_emu_regs *r)
{
	uint64_t *w = (uint64_t *)r;
	unsigned n = sizeof(*r) / 8;
	if (tg_below(g, 2)) {           /* a few changes from the last ones */
		for (unsigned k = (unsigned)tg_below(g, 4); k > 0; k--)
			w[tg_below(g, n)] += edgy(g);
	} else {
		for (unsigned i = 0; i < n; i++)
			w[i] = edgy(g);
	}
}

static void random_data(struct tg_rng *g, uint8_t *d, uint32_t len)
{
	uint64_t base = tg_next(g), step = tg_below(g, 3) << 12;
	switch (tg_below(g, 4)) {
	case 0:
		memset(d, 0, len);
		break;
	case 1:                         /* sequential 8-byte entries */
		for (uint32_t i = 0; i + 8 <= len; i += 8)
			for (int b = 0; b < 8; b++)
				d[i + b] = (uint8_t)((base + step * (i / 8)) >> (8 * b));
		for (uint32_t i = len & ~7u; i < len; i++)
			d[i] = (uint8_t)tg_next(g);
		break;
	case 2:                         /* sequential 4-byte entries */
		for (uint32_t i = 0; i + 4 <= len; i += 4)
			for (int b = 0; b < 4; b++)
				d[i + b] = (uint8_t)((base + step * (i / 4)) >> (8 * b));
		for (uint32_t i = len & ~3u; i < len; i++)
			d[i] = (uint8_t)tg_next(g);
		break;
	default:
		for (uint32_t i = 0; i < len; i++)
			d[i] = (uint8_t)tg_next(g);
	}
}

void tg_random_event(struct tg_rng *g, int t, struct tg_events *out)
{
	static struct svt_emu_regs regs;        /* carried over, so deltas are small */
	static uint8_t data[SVT_TRACE_MAX_MEM];
	struct svt_trace_event ev;

	memset(&ev, 0, sizeof(ev));
	ev.type = t >= 0 ? (enum svt_trace_type)t :
		(enum svt_trace_type)tg_below(g, SVT_TRACE_NTYPES);
	switch (ev.type) {
	case SVT_TRACE_FAULT: {
		struct svt_trace_fault *f = &ev.u.fault;
		f->va = edgy(g);
		f->error_code = (uint32_t)(tg_below(g, 2) ? tg_below(g, 64) : tg_next(g));
		f->cpl = (uint8_t)tg_below(g, 4);
		f->code_bits = (uint8_t)(16 << tg_below(g, 3));
		f->insn_len = (uint8_t)tg_below(g, 16);
		for (unsigned i = 0; i < f->insn_len; i++)
			f->insn[i] = (uint8_t)tg_next(g);
		f->has_regs = tg_below(g, 4) != 0;
		f->pkru = (uint32_t)(tg_below(g, 2) ? 0 : tg_next(g));
		if (f->has_regs) {
			random_regs(g, &regs);
			f->regs = regs;
		}
		f->rflags = tg_below(g, 2) && f->has_regs ? f->regs.rflags : edgy(g);
		/* since 1.5: delivery and the descriptor tables, from numbers
		 * of their own (the rest of the sequence stays as it was) */
		struct tg_rng h = { f->va ^ 0x1500 };
		f->in_delivery = tg_below(&h, 4) == 0;
		f->has_dt = tg_below(&h, 4) == 0;
		for (unsigned k = 0; f->has_dt && k < SVT_DT_COUNT; k++) {
			f->dt.base[k] = edgy(&h);
			f->dt.usable[k] = tg_below(&h, 4) != 0;
			f->dt.limit[k] = f->dt.usable[k] ? (uint32_t)tg_next(&h) : 0;
		}
		break;
	}
	case SVT_TRACE_CR_WRITE:
		ev.u.cr.reg = (uint8_t)tg_below(g, 4);
		ev.u.cr.val = edgy(g);
		ev.u.cr.code64 = tg_below(g, 2) != 0;
		break;
	case SVT_TRACE_CPU: {
		struct svt_trace_cpu *c = &ev.u.cpu;
		c->kind = (uint8_t)tg_below(g, SVT_CPU_NKINDS);
		if (c->kind == SVT_CPU_CPUID) {
			c->leaf = (uint32_t)(tg_below(g, 2) ? tg_below(g, 8) : tg_next(g));
			c->subleaf = (uint32_t)(tg_below(g, 2) ? 0 : tg_next(g));
			for (unsigned i = 0; i < 4; i++)
				c->out[i] = (uint32_t)tg_next(g);
			break;
		}
		c->vector = (uint8_t)(tg_below(g, 2) ? 14 : tg_below(g, 32));
		c->has_ec = tg_below(g, 2) != 0;
		c->error_code = c->has_ec ? (uint32_t)tg_next(g) : 0;
		c->cr2 = c->vector == 14 ? edgy(g) : 0;
		c->rflags = edgy(g);
		break;
	}
	case SVT_TRACE_INVLPG:
		ev.u.invlpg_va = edgy(g);
		break;
	case SVT_TRACE_INVPCID:
		ev.u.invpcid.type = (uint32_t)tg_below(g, 4);
		ev.u.invpcid.pcid = edgy(g);
		ev.u.invpcid.va = edgy(g);
		break;
	case SVT_TRACE_FLUSH_ALL:
		break;
	case SVT_TRACE_MEM: {
		static const uint32_t lens[] = { 8, 8, 8, 4, 4096, 16, 1, 2, 12 };
		uint32_t len = tg_below(g, 3) ? lens[tg_below(g, 9)] :
			1 + (uint32_t)tg_below(g, 4096);
		ev.u.mem.len = len;
		ev.u.mem.gpa = tg_below(g, 2) ? tg_below(g, 1ull << 20) * 8 :
			tg_below(g, (1ull << 52) - len + 1);
		random_data(g, data, len);
		ev.u.mem.data = data;
		break;
	}
	case SVT_TRACE_DECISION: {
		struct svt_trace_decision *d = &ev.u.decision;
		static const uint8_t inputs[] = { SVT_TRACE_FAULT, SVT_TRACE_FAULT,
						  SVT_TRACE_CR_WRITE, SVT_TRACE_INVPCID };
		d->input = inputs[tg_below(g, 4)];
		if (d->input != SVT_TRACE_FAULT) {
			static const int32_t rcs[] = { 0, SVT_E_GP, INT32_MIN, INT32_MAX, 1 };
			d->rc = rcs[tg_below(g, 5)];
			break;
		}
		d->outcome = (uint8_t)tg_below(g, SVT_PF_RETRY + 1);
		if (tg_below(g, 2)) {
			d->error_code = (uint32_t)tg_next(g);
			d->cr2 = edgy(g);
		}
		if (tg_below(g, 3) == 0)
			d->gpa = edgy(g);
		d->has_regs = tg_below(g, 2);
		if (d->has_regs) {
			random_regs(g, &regs);
			d->regs = regs;
		}
		break;
	}
	case SVT_TRACE_LOST:
		ev.u.lost.count = 1 + tg_below(g, tg_below(g, 2) ? 10 : 1ull << 30);
		ev.u.lost.reason = (uint32_t)tg_below(g, 3);
		break;
	case SVT_TRACE_MARK:
		ev.u.mark.time = edgy(g);
		ev.u.mark.kind = (uint32_t)tg_below(g, 4);
		ev.u.mark.len = (uint16_t)tg_below(g, SVT_TRACE_MAX_MARK + 1);
		for (unsigned i = 0; i < ev.u.mark.len; i++)
			ev.u.mark.text[i] = (char)(1 + tg_below(g, 255));
		break;
	case SVT_TRACE_GUEST: {
		/* canonical: only the fields the kind has (what decoding gives back) */
		struct svt_trace_guest *x = &ev.u.guest;
		x->kind = (uint8_t)tg_below(g, SVT_GUEST_NKINDS);
		if (x->kind == SVT_GUEST_RFLAGS) {
			x->val[0] = edgy(g);
			break;
		}
		if (x->kind == SVT_GUEST_PKRU) {
			x->val[0] = (uint32_t)edgy(g);
			break;
		}
		x->va = edgy(g);
		if (x->kind == SVT_GUEST_CLEAR) {
			x->rip = edgy(g);
			x->val[0] = edgy(g);
			x->flags = tg_below(g, 2) ? SVT_GUEST_PT : 0;
			break;
		}
		x->cpl = (uint8_t)tg_below(g, 4);
		if (x->kind == SVT_GUEST_WRITE) {
			static const uint8_t sizes[] = { 1, 2, 4, 8 };
			x->op = (uint8_t)tg_below(g, SVT_GUEST_CMPXCHG16B + 1);
			x->size = x->op == SVT_GUEST_CMPXCHG16B ? 16 :
				  x->op == SVT_GUEST_CMPXCHG8B ? 8 :
				  sizes[tg_below(g, 4)];
			x->rip = edgy(g);
			x->val[0] = edgy(g);
			x->val[1] = x->size == 16 ? edgy(g) : 0;
			if (x->op >= SVT_GUEST_CMPXCHG) {
				x->cmp[0] = edgy(g);
				x->cmp[1] = x->size == 16 ? edgy(g) : 0;
				x->flags |= tg_below(g, 2) ? SVT_GUEST_OK : 0;
			}
		}
		if (tg_below(g, 3) == 0) {
			x->flags |= SVT_GUEST_INJECTED;
			x->error_code = (uint32_t)tg_next(g);
			x->cr2 = edgy(g);
		}
		break;
	}
	case SVT_TRACE_STEP_DONE:       /* nothing but its type */
		break;
	case SVT_TRACE_UNKNOWN:
		ev.u.unknown.type = SVT_TRACE_NTYPES +
			tg_below(g, 2) * tg_below(g, UINT32_MAX - SVT_TRACE_NTYPES + 1);
		ev.u.unknown.len = (uint32_t)tg_below(g, 300);
		random_data(g, data, ev.u.unknown.len ? ev.u.unknown.len : 1);
		ev.u.unknown.data = data;
		break;
	}
	tg_push(out, &ev);
}

void tg_random_events(uint64_t seed, size_t n, struct tg_events *out)
{
	struct tg_rng g = { seed };
	for (size_t i = 0; i < n; i++)
		tg_random_event(&g, -1, out);
}

int tg_write(const struct tg_events *e, int level, size_t frame_size, struct tg_buf *buf)
{
	struct svt_trace_header h;
	struct svt_trace_error err;
	tg_header(&h);
	struct svt_trace_writer *w = svt_trace_writer_open_sink(tg_sink, buf, "mem", &h,
								level, &err);
	if (w == NULL) {
		fprintf(stderr, "%s\n", err.msg);
		return err.status;
	}
	if (frame_size != 0 && svt_trace_writer_set_frame_size(w, frame_size) != 0)
		return SVT_TRACE_EARG;
	for (size_t i = 0; i < e->n; i++) {
		int rc = svt_trace_write(w, &e->ev[i]);
		if (rc != 0) {
			fprintf(stderr, "%s\n", svt_trace_writer_error(w)->msg);
			svt_trace_writer_close(w, NULL);
			return rc;
		}
	}
	int rc = svt_trace_writer_close(w, &err);
	if (rc != 0)
		fprintf(stderr, "%s\n", err.msg);
	return rc;
}

#define DIFF(cond, ...) \
	do { if (cond) { snprintf(why, 128, __VA_ARGS__); return false; } } while (0)

static bool regs_equal(const struct svt_emu_regs *a, const struct svt_emu_regs *b)
{
	return memcmp(a, b, sizeof(*a)) == 0;  /* all uint64_t: no padding */
}

bool tg_event_equal(const struct svt_trace_event *a, const struct svt_trace_event *b, char *why)
{
	DIFF(a->type != b->type, "type %d vs %d", a->type, b->type);
	DIFF(a->seq != b->seq, "seq %llu vs %llu", (unsigned long long)a->seq,
	     (unsigned long long)b->seq);
	switch (a->type) {
	case SVT_TRACE_FAULT: {
		const struct svt_trace_fault *x = &a->u.fault, *y = &b->u.fault;
		DIFF(x->va != y->va || x->error_code != y->error_code || x->cpl != y->cpl ||
		     x->code_bits != y->code_bits || x->rflags != y->rflags || x->pkru != y->pkru,
		     "FAULT scalar fields differ");
		DIFF(x->insn_len != y->insn_len || memcmp(x->insn, y->insn, x->insn_len) != 0,
		     "FAULT instruction differs");
		DIFF(x->has_regs != y->has_regs || (x->has_regs && !regs_equal(&x->regs, &y->regs)),
		     "FAULT registers differ");
		DIFF(x->in_delivery != y->in_delivery || x->has_dt != y->has_dt ||
		     (x->has_dt && (memcmp(x->dt.base, y->dt.base, sizeof(x->dt.base)) != 0 ||
				    memcmp(x->dt.limit, y->dt.limit, sizeof(x->dt.limit)) != 0 ||
				    memcmp(x->dt.usable, y->dt.usable, sizeof(x->dt.usable)) != 0)),
		     "FAULT delivery or descriptor tables differ");
		return true;
	}
	case SVT_TRACE_CR_WRITE:
		DIFF(a->u.cr.reg != b->u.cr.reg || a->u.cr.val != b->u.cr.val ||
		     a->u.cr.code64 != b->u.cr.code64, "CR_WRITE differs");
		return true;
	case SVT_TRACE_CPU: {
		const struct svt_trace_cpu *x = &a->u.cpu, *y = &b->u.cpu;
		DIFF(x->kind != y->kind || x->vector != y->vector || x->has_ec != y->has_ec ||
		     x->leaf != y->leaf || x->subleaf != y->subleaf ||
		     memcmp(x->out, y->out, sizeof(x->out)) != 0 ||
		     x->error_code != y->error_code || x->cr2 != y->cr2 || x->rflags != y->rflags,
		     "CPU differs");
		return true;
	}
	case SVT_TRACE_INVLPG:
		DIFF(a->u.invlpg_va != b->u.invlpg_va, "INVLPG differs");
		return true;
	case SVT_TRACE_INVPCID:
		DIFF(a->u.invpcid.type != b->u.invpcid.type ||
		     a->u.invpcid.pcid != b->u.invpcid.pcid || a->u.invpcid.va != b->u.invpcid.va,
		     "INVPCID differs");
		return true;
	case SVT_TRACE_FLUSH_ALL:
	case SVT_TRACE_STEP_DONE:
		return true;
	case SVT_TRACE_MEM:
		DIFF(a->u.mem.gpa != b->u.mem.gpa || a->u.mem.len != b->u.mem.len ||
		     memcmp(a->u.mem.data, b->u.mem.data, a->u.mem.len) != 0, "MEM differs");
		return true;
	case SVT_TRACE_DECISION: {
		const struct svt_trace_decision *x = &a->u.decision, *y = &b->u.decision;
		DIFF(x->input != y->input || x->outcome != y->outcome || x->rc != y->rc ||
		     x->error_code != y->error_code || x->cr2 != y->cr2 || x->gpa != y->gpa,
		     "DECISION fields differ");
		DIFF(x->has_regs != y->has_regs || (x->has_regs && !regs_equal(&x->regs, &y->regs)),
		     "DECISION registers differ");
		return true;
	}
	case SVT_TRACE_LOST:
		DIFF(a->u.lost.count != b->u.lost.count || a->u.lost.reason != b->u.lost.reason,
		     "LOST differs");
		return true;
	case SVT_TRACE_MARK:
		DIFF(a->u.mark.time != b->u.mark.time || a->u.mark.kind != b->u.mark.kind ||
		     a->u.mark.len != b->u.mark.len ||
		     memcmp(a->u.mark.text, b->u.mark.text, a->u.mark.len) != 0, "MARK differs");
		return true;
	case SVT_TRACE_GUEST: {
		const struct svt_trace_guest *x = &a->u.guest, *y = &b->u.guest;
		DIFF(x->kind != y->kind || x->op != y->op || x->size != y->size ||
		     x->cpl != y->cpl || x->flags != y->flags || x->error_code != y->error_code ||
		     x->va != y->va || x->rip != y->rip || x->cr2 != y->cr2 ||
		     x->val[0] != y->val[0] || x->val[1] != y->val[1] || x->cmp[0] != y->cmp[0] ||
		     x->cmp[1] != y->cmp[1], "GUEST differs");
		return true;
	}
	case SVT_TRACE_UNKNOWN:
		DIFF(a->u.unknown.type != b->u.unknown.type ||
		     a->u.unknown.len != b->u.unknown.len ||
		     (a->u.unknown.len && memcmp(a->u.unknown.data, b->u.unknown.data,
						 a->u.unknown.len) != 0), "UNKNOWN differs");
		return true;
	}
	return true;
}

int tg_put_mem64(struct svt_trace_writer *w, uint64_t gpa, uint64_t v)
{
	uint8_t d[8];
	for (unsigned i = 0; i < 8; i++)
		d[i] = (uint8_t)(v >> (8 * i));
	struct svt_trace_event ev = { .type = SVT_TRACE_MEM };
	ev.u.mem.gpa = gpa;
	ev.u.mem.len = 8;
	ev.u.mem.data = d;
	return svt_trace_write(w, &ev);
}

int tg_put_cr(struct svt_trace_writer *w, unsigned reg, uint64_t v)
{
	struct svt_trace_event ev = { .type = SVT_TRACE_CR_WRITE };
	ev.u.cr.reg = (uint8_t)reg;
	ev.u.cr.val = v;
	return svt_trace_write(w, &ev);
}

struct svt_trace_writer *tg_open_guest(struct tg_buf *buf, const char *guest, uint64_t frames,
				       uint8_t maxphy)
{
	return tg_open_guest_ev(buf, guest, frames, maxphy, 0, 0);
}

struct svt_trace_writer *tg_open_guest_ev(struct tg_buf *buf, const char *guest, uint64_t frames,
					  uint8_t maxphy, uint32_t evidence, uint32_t features)
{
	const struct svt_trace_range ram = { 0, frames };
	struct svt_trace_header h = {
		.producer = "trace-gen", .cpu_model = "synthetic", .guest = guest,
		.maxphyaddr = maxphy, .guest_frames = frames, .ram = &ram, .nram = 1,
		.policy = { .oos = 2, .prefetch = 8, .emulate = true, .early_unshadow = true },
		.pool_frames = 64, .evidence = evidence, .features = features,
	};
	struct svt_trace_error err;
	struct svt_trace_writer *w = svt_trace_writer_open_sink(tg_sink, buf, "mem", &h, 0, &err);
	if (!w)
		fprintf(stderr, "%s\n", err.msg);
	return w;
}

int tg_put_paging_4level(struct svt_trace_writer *w, uint64_t cr3)
{
	int rc = tg_put_cr(w, SVT_TRACE_CR4, 0x20);
	if (rc == 0)
		rc = tg_put_cr(w, SVT_TRACE_EFER, 0x100);
	if (rc == 0)
		rc = tg_put_cr(w, SVT_TRACE_CR3, cr3);
	return rc == 0 ? tg_put_cr(w, SVT_TRACE_CR0, 0x80010011) : rc;
}

int tg_put_fault(struct svt_trace_writer *w, uint64_t va, uint32_t ec)
{
	struct svt_trace_event ev = { .type = SVT_TRACE_FAULT };
	ev.u.fault.va = va;
	ev.u.fault.error_code = ec;
	ev.u.fault.code_bits = 64;
	return svt_trace_write(w, &ev);
}

int tg_put_invlpg(struct svt_trace_writer *w, uint64_t va)
{
	struct svt_trace_event ev = { .type = SVT_TRACE_INVLPG };
	ev.u.invlpg_va = va;
	return svt_trace_write(w, &ev);
}

unsigned tg_count(const char *s, const char *what)
{
	unsigned n = 0;
	for (const char *p = s; (p = strstr(p, what)) != NULL; p++)
		n++;
	return n;
}
