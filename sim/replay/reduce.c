/*
 * reduce.c — cuts and reductions of traces (reduce.h): the replay's state
 * at an event written as a trace's first records, and the search for a
 * small trace that shows the same violation, each candidate replayed in
 * memory through the core.
 */
#define _POSIX_C_SOURCE 200809L
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "progress.h"
#include "reduce.h"
#include "sim.h"
#include "trace.h"

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* ---- bytes ---------------------------------------------------------------- */

void svt_rd_bytes_free(struct svt_rd_bytes *b)
{
	free(b->p);
	memset(b, 0, sizeof(*b));
}

static int bytes_sink(void *ctx, const void *buf, size_t len)
{
	struct svt_rd_bytes *b = ctx;
	if (b->len + len > b->cap) {
		size_t cap = b->cap ? b->cap : 65536;
		while (cap < b->len + len)
			cap *= 2;
		uint8_t *np = realloc(b->p, cap);
		if (!np)
			return -1;
		b->p = np;
		b->cap = cap;
	}
	memcpy(b->p + b->len, buf, len);
	b->len += len;
	return 0;
}

/* ---- lists of records ------------------------------------------------------- */

/* Events with their own copies of MEM data. */
struct rd_list {
	struct svt_trace_event *v;
	size_t n, cap;
};

static void list_free(struct rd_list *l)
{
	for (size_t i = 0; i < l->n; i++)
		if (l->v[i].type == SVT_TRACE_MEM)
			free((void *)l->v[i].u.mem.data);
	free(l->v);
	memset(l, 0, sizeof(*l));
}

static int list_push(struct rd_list *l, const struct svt_trace_event *ev)
{
	if (l->n == l->cap) {
		size_t cap = l->cap ? 2 * l->cap : 1024;
		struct svt_trace_event *nv = realloc(l->v, cap * sizeof(*nv));
		if (!nv)
			return -1;
		l->v = nv;
		l->cap = cap;
	}
	struct svt_trace_event *e = &l->v[l->n];
	*e = *ev;
	if (ev->type == SVT_TRACE_MEM) {
		uint8_t *d = malloc(ev->u.mem.len);
		if (!d)
			return -1;
		memcpy(d, ev->u.mem.data, ev->u.mem.len);
		e->u.mem.data = d;
	} else if (ev->type == SVT_TRACE_UNKNOWN) {
		return 0;       /* not kept: its payload is the reader's */
	}
	l->n++;
	return 0;
}

static int push_mem(struct rd_list *l, uint64_t gpa, const uint8_t *data, uint32_t len)
{
	struct svt_trace_event ev = { .type = SVT_TRACE_MEM };
	ev.u.mem.gpa = gpa;
	ev.u.mem.len = len;
	ev.u.mem.data = data;
	return list_push(l, &ev);
}

static int push_cr(struct rd_list *l, unsigned reg, uint64_t val)
{
	struct svt_trace_event ev = { .type = SVT_TRACE_CR_WRITE };
	ev.u.cr.reg = (uint8_t)reg;
	ev.u.cr.val = val;
	return list_push(l, &ev);
}

static int push_note(struct rd_list *l, const char *text)
{
	struct svt_trace_event ev = { .type = SVT_TRACE_MARK };
	ev.u.mark.kind = SVT_TRACE_MARK_NOTE;
	snprintf(ev.u.mark.text, sizeof(ev.u.mark.text), "%s", text);
	ev.u.mark.len = (uint16_t)strlen(ev.u.mark.text);
	return list_push(l, &ev);
}

/* ---- the state at an event, as records ---------------------------------------- */

/* Runs of nonzero 8-byte words of every page the replay's memory holds
 * (runs joined across up to two zero words), then the control-register
 * writes that bring a fresh core from its reset state to regs, in an
 * order the architecture accepts: EFER (LMA is the processor's), CR4
 * without PCIDE and CET, CR3 without a PCID, CR0 (paging on: PAE's
 * PDPTEs load from the memory above), then CR4 and CR3 whole. */
static int state_records(struct rd_list *l, struct svt_gmem *g, const struct svt_regs *r)
{
	const uint64_t pages = 1ull << SVT_GMEM_CHUNK_BITS;
	for (size_t c = 0; c < g->nchunks; c++) {
		if (!g->chunk[c])
			continue;
		for (uint64_t i = 0; i < pages; i++) {
			const uint8_t *pg = g->chunk[c][i];
			if (!pg)
				continue;
			uint64_t gpa = (((uint64_t)c << SVT_GMEM_CHUNK_BITS) | i) << 12;
			const uint64_t *w = (const uint64_t *)(const void *)pg;
			unsigned j = 0;
			while (j < 512) {
				if (w[j] == 0) {
					j++;
					continue;
				}
				unsigned start = j, end = j + 1;
				for (unsigned k = j + 1; k < 512 && k <= end + 2; k++)
					if (w[k] != 0)
						end = k + 1;
				if (push_mem(l, gpa + start * 8u, pg + start * 8u,
					     (end - start) * 8u) != 0)
					return -1;
				j = end;
			}
		}
	}
	uint64_t cr4a = r->cr4 & ~(SVT_CR4_PCIDE | SVT_CR4_CET);
	bool pcid = (r->cr4 & SVT_CR4_PCIDE) != 0;
	if ((r->efer & ~SVT_EFER_LMA) && push_cr(l, SVT_TRACE_EFER, r->efer & ~SVT_EFER_LMA) != 0)
		return -1;
	if (push_cr(l, SVT_TRACE_CR4, cr4a) != 0 ||
	    push_cr(l, SVT_TRACE_CR3, pcid ? r->cr3 & ~0xfffull : r->cr3) != 0 ||
	    push_cr(l, SVT_TRACE_CR0, r->cr0) != 0)
		return -1;
	if (cr4a != r->cr4 && push_cr(l, SVT_TRACE_CR4, r->cr4) != 0)
		return -1;
	if (pcid && (r->cr3 & 0xfff) && push_cr(l, SVT_TRACE_CR3, r->cr3) != 0)
		return -1;
	return 0;
}

struct capture {
	struct rd_list *l;
	bool got;
	int rc;
};

static void capture_at(void *ctx, const struct svt_replay_state *st)
{
	struct capture *c = ctx;
	c->got = true;
	c->rc = state_records(c->l, st->mem, st->regs);
}

/* The state records just before event `at` of a trace (in memory if mem):
 * the trace replayed up to there with the checks off.  Returns an
 * SVT_EXIT_* status, the message in msg. */
static int capture(const char *path, const void *mem, size_t len, uint64_t at, struct rd_list *l,
		   char *msg, size_t msglen)
{
	struct svt_replay_result *res = malloc(sizeof(*res));
	struct capture c = { .l = l };
	struct svt_replay_config cfg = {
		.path = path, .mem = mem, .mem_len = len, .audit = SVT_AUDIT_NONE,
		.from = at, .to = at, .to_set = true, .at_from = capture_at, .hook_ctx = &c,
	};
	if (!res) {
		snprintf(msg, msglen, "%s: out of memory", path);
		return SVT_EXIT_INPUT;
	}
	int st = svt_replay(&cfg, res);
	if (st == SVT_EXIT_USAGE || st == SVT_EXIT_INPUT || !c.got) {
		snprintf(msg, msglen, "%s",
			 res->message[0] ? res->message : "the trace ends early");
		free(res);
		return st == SVT_EXIT_USAGE ? st : SVT_EXIT_INPUT;
	}
	free(res);
	if (c.rc != 0) {
		snprintf(msg, msglen, "%s: out of memory", path);
		return SVT_EXIT_INPUT;
	}
	return SVT_EXIT_OK;
}

/* Events from..to (to: inclusive, or ~0) of a trace into l; without
 * markers, no MARK, LOST or GUEST. */
static int read_events(struct svt_trace_reader *r, uint64_t from, uint64_t to, bool markers,
		       struct rd_list *l, char *msg, size_t msglen)
{
	struct svt_trace_event ev;
	int st;

	if ((st = svt_trace_seek(r, from)) != SVT_TRACE_OK) {
		snprintf(msg, msglen, "%s", svt_trace_reader_error(r)->msg);
		return SVT_EXIT_INPUT;
	}
	while ((st = svt_trace_next(r, &ev)) == SVT_TRACE_OK && ev.seq <= to)
		if ((markers || (ev.type != SVT_TRACE_MARK && ev.type != SVT_TRACE_LOST &&
				 ev.type != SVT_TRACE_GUEST)) &&
		    list_push(l, &ev) != 0) {
			snprintf(msg, msglen, "out of memory");
			return SVT_EXIT_INPUT;
		}
	if (st < 0) {
		snprintf(msg, msglen, "%s", svt_trace_reader_error(r)->msg);
		return SVT_EXIT_INPUT;
	}
	return SVT_EXIT_OK;
}

/* Write events as a trace with header h into out. */
static int emit(const struct svt_trace_header *h, const struct svt_trace_event *const *evs,
		size_t n, int level, struct svt_rd_bytes *out, char *msg, size_t msglen)
{
	struct svt_trace_error err;
	out->len = 0;
	struct svt_trace_writer *w = svt_trace_writer_open_sink(bytes_sink, out, "(reduced)", h,
								 level, &err);
	if (!w) {
		snprintf(msg, msglen, "%s", err.msg);
		return -1;
	}
	for (size_t i = 0; i < n; i++)
		if (svt_trace_write(w, evs[i]) != SVT_TRACE_OK &&
		    svt_trace_writer_error(w)->status != SVT_TRACE_OK)
			break;
	if (svt_trace_writer_close(w, &err) != SVT_TRACE_OK) {
		snprintf(msg, msglen, "%s", err.msg);
		return -1;
	}
	return 0;
}

static const char *base_name(const char *path)
{
	const char *s = strrchr(path, '/');
	return s ? s + 1 : path;
}

/* ---- cut ----------------------------------------------------------------------- */

int svt_cut(const struct svt_cut_config *cfg, struct svt_rd_bytes *out,
	    struct svt_cut_result *res)
{
	struct svt_trace_error err;
	struct svt_trace_event ev;
	struct rd_list pro = { 0 };
	struct svt_trace_writer *w = NULL;
	int st, rs = SVT_TRACE_OK;

	memset(res, 0, sizeof(*res));
	struct svt_trace_reader *r = svt_trace_open(cfg->path, 0, &err);
	if (!r) {
		snprintf(res->message, sizeof(res->message), "%s", err.msg);
		return SVT_EXIT_INPUT;
	}
	char note[SVT_TRACE_MAX_MARK + 1], end[24] = "end";
	if (cfg->to_set)
		snprintf(end, sizeof(end), "%" PRIu64, cfg->to);
	snprintf(note, sizeof(note), "cut of %.160s: its events %" PRIu64 "..%s",
		 base_name(cfg->path), cfg->from, end);
	st = SVT_EXIT_INPUT;
	if (push_note(&pro, note) != 0) {
		snprintf(res->message, sizeof(res->message), "out of memory");
		goto out;
	}
	st = capture(cfg->path, NULL, 0, cfg->from, &pro, res->message, sizeof(res->message));
	if (st != SVT_EXIT_OK)
		goto out;
	/* the state records, then the window streamed from the original */
	st = SVT_EXIT_INPUT;
	out->len = 0;
	/* a window of the guest's actions, not its run: not to be run again */
	struct svt_trace_header h = *svt_trace_reader_header(r);
	h.evidence &= ~SVT_EVIDENCE_ACTIONS;
	w = svt_trace_writer_open_sink(bytes_sink, out, "(cut)", &h, cfg->level, &err);
	if (!w) {
		snprintf(res->message, sizeof(res->message), "%s", err.msg);
		goto out;
	}
	for (size_t i = 0; i < pro.n; i++)
		svt_trace_write(w, &pro.v[i]);
	res->prologue = svt_trace_writer_seq(w);
	if (svt_trace_seek(r, cfg->from) != SVT_TRACE_OK) {
		snprintf(res->message, sizeof(res->message), "%s", svt_trace_reader_error(r)->msg);
		goto out;
	}
	while ((rs = svt_trace_next(r, &ev)) == SVT_TRACE_OK &&
	       (!cfg->to_set || ev.seq <= cfg->to))
		if (svt_trace_write(w, &ev) != SVT_TRACE_OK &&
		    svt_trace_writer_error(w)->status != SVT_TRACE_OK)
			break;
	if (rs < 0) {
		snprintf(res->message, sizeof(res->message), "%s", svt_trace_reader_error(r)->msg);
		goto out;
	}
	res->events = svt_trace_writer_seq(w);
	rs = svt_trace_writer_close(w, &err);
	w = NULL;
	if (rs != SVT_TRACE_OK) {
		snprintf(res->message, sizeof(res->message), "%s", err.msg);
		goto out;
	}
	st = SVT_EXIT_OK;
out:
	if (w)
		svt_trace_writer_close(w, NULL);
	list_free(&pro);
	svt_trace_close(r);
	return st;
}

/* ---- memory the replay reads ------------------------------------------------------ */

/*
 * Which bytes of which MEM record a replay reads: every guest word (8
 * bytes) has an owner, the record that last wrote it (or the core, once
 * it wrote the whole word itself); a read of a word marks it needed in
 * its owner.  Dropping what no read needs leaves every value the replay
 * reads as it was, so the replay is the same.
 */
#define RD_NEED_WORDS 9         /* bits for the 513 words a 4096-byte record can touch */

struct memtrack {
	const struct svt_trace_event *const *evs;
	size_t n;
	uint64_t *keys;         /* word + 1; 0: empty */
	int64_t *own;           /* record index, or -1: the core */
	size_t cap, used;
	uint64_t (*need)[RD_NEED_WORDS];
	bool oom;
};

static int64_t *mt_slot(struct memtrack *t, uint64_t word, bool add)
{
	if (add && 2 * (t->used + 1) > t->cap) {
		size_t cap = t->cap ? 2 * t->cap : 65536;
		uint64_t *nk = calloc(cap, sizeof(*nk));
		int64_t *no = malloc(cap * sizeof(*no));
		if (!nk || !no) {
			free(nk);
			free(no);
			t->oom = true;
			return NULL;
		}
		for (size_t i = 0; i < t->cap; i++) {
			if (!t->keys[i])
				continue;
			size_t h = (size_t)((t->keys[i] * 0x9e3779b97f4a7c15ull) >> 20) &
				   (cap - 1);
			while (nk[h])
				h = (h + 1) & (cap - 1);
			nk[h] = t->keys[i];
			no[h] = t->own[i];
		}
		free(t->keys);
		free(t->own);
		t->keys = nk;
		t->own = no;
		t->cap = cap;
	}
	if (!t->cap)
		return NULL;
	uint64_t k = word + 1;
	size_t h = (size_t)((k * 0x9e3779b97f4a7c15ull) >> 20) & (t->cap - 1);
	while (t->keys[h] && t->keys[h] != k)
		h = (h + 1) & (t->cap - 1);
	if (t->keys[h])
		return &t->own[h];
	if (!add)
		return NULL;
	t->keys[h] = k;
	t->used++;
	return &t->own[h];
}

static void mt_hook(void *ctx, uint64_t seq, uint64_t gpa, size_t len, bool write)
{
	struct memtrack *t = ctx;
	if (len == 0)
		return;
	uint64_t w0 = gpa >> 3, w1 = (gpa + len - 1) >> 3;
	bool by_mem = seq < t->n && t->evs[seq]->type == SVT_TRACE_MEM;
	for (uint64_t w = w0; w <= w1; w++) {
		if (write) {
			bool whole = w * 8 >= gpa && w * 8 + 8 <= gpa + len;
			if (!by_mem && !whole)
				continue;       /* the rest of the word stays the record's */
			int64_t *o = mt_slot(t, w, true);
			if (o)
				*o = by_mem ? (int64_t)seq : -1;
			continue;
		}
		int64_t *o = mt_slot(t, w, false);
		if (!o || *o < 0)
			continue;
		uint64_t base = t->evs[*o]->u.mem.gpa >> 3, bit = w - base;
		if (bit < 64 * RD_NEED_WORDS)
			t->need[*o][bit / 64] |= 1ull << (bit % 64);
	}
}

static void mt_free(struct memtrack *t)
{
	free(t->keys);
	free(t->own);
	free(t->need);
}

/* ---- the reducer -------------------------------------------------------------------- */

struct rd {
	const struct svt_reduce_config *cfg;
	struct svt_reduce_result *res;
	const struct svt_trace_header *h;
	struct svt_trace_header hdr;    /* h, without SVT_EVIDENCE_ACTIONS */
	struct svt_trace_reader *r;     /* the original */
	struct rd_list all;             /* its events all_from..E, markers left out */
	uint64_t all_from;
	bool loaded;
	uint64_t target_seq;            /* E */
	struct rd_list pro;             /* the state at S */
	size_t s_idx;                   /* all.v[s_idx] is the first of the window */
	bool keep_decisions;            /* the target is INV-REPLAY */
	struct svt_rd_bytes buf;
	const struct svt_trace_event **evs;     /* a candidate */
	size_t nevs;
	double t0;
	double deadline;                /* the budget's end (from the target found on); 0: none */
	bool hit;
	char phase[32];
	size_t units_left;
};

/* The status line (progress.h): the step, the inputs left, the replays. */
static void draw(struct rd *d)
{
	struct svt_progress *pr = d->cfg->progress;
	const char *name = strrchr(d->cfg->path, '/');

	if (!pr || !svt_progress_due(pr))
		return;
	svt_progress_draw(pr, "reduce %s: %s, %zu inputs, %u candidates replayed, %.0f s",
			  name ? name + 1 : d->cfg->path, d->phase, d->units_left, d->res->tests,
			  now() - d->t0);
}

static bool out_of_time(struct rd *d)
{
	if (d->cfg->stop && *d->cfg->stop) {
		d->res->stopped = true;
		return true;
	}
	if (d->deadline > 0 && now() >= d->deadline) {
		d->res->budget_hit = true;
		return true;
	}
	return false;
}

/* A candidate's violation: the target ends its replay. */
static bool probe_violation(void *ctx, uint64_t seq, enum svt_invariant inv, uint64_t va,
			    uint64_t gfn)
{
	struct rd *d = ctx;
	(void)seq;
	if (inv == d->res->inv && va == d->res->va && gfn == d->res->gfn)
		d->hit = true;
	return d->hit;
}

/* Replay the bytes in d->buf: does the target show?  With t, the memory
 * the replay reads is tracked. */
static bool replay_shows(struct rd *d, struct memtrack *t)
{
	struct svt_replay_result *res = malloc(sizeof(*res));
	struct svt_replay_config cfg = {
		.path = "(candidate)", .mem = d->buf.p, .mem_len = d->buf.len,
		.audit = d->cfg->audit,
		.on_violation = probe_violation, .hook_ctx = d, .stop = d->cfg->stop,
		.deadline = d->deadline,
	};
	if (!res)
		return false;
	d->hit = false;
	if (t) {
		/* the whole run's reads: no stop at the target, no deadline */
		cfg.on_violation = NULL;
		cfg.on_mem = mt_hook;
		cfg.hook_ctx = t;
		cfg.deadline = 0;
		svt_replay(&cfg, res);
		free(res);
		return true;
	}
	svt_replay(&cfg, res);
	free(res);
	d->res->tests++;
	draw(d);
	return d->hit;
}

static bool is_input(enum svt_trace_type t)
{
	return t == SVT_TRACE_FAULT || t == SVT_TRACE_CR_WRITE || t == SVT_TRACE_INVLPG ||
	       t == SVT_TRACE_INVPCID || t == SVT_TRACE_FLUSH_ALL;
}

/* The candidate: the state at S, then the window's MEM records and the
 * inputs marked in keep (and their DECISIONs where the target is one, and
 * the STEP_DONE that ends a kept fault's step: a step's faults are those
 * since the last other input or STEP_DONE). */
static void assemble(struct rd *d, const bool *keep)
{
	size_t n = 0;
	bool last_kept = false, step_kept = false;
	for (size_t i = 0; i < d->pro.n; i++)
		d->evs[n++] = &d->pro.v[i];
	for (size_t i = d->s_idx; i < d->all.n; i++) {
		const struct svt_trace_event *e = &d->all.v[i];
		if (e->type == SVT_TRACE_MEM) {
			d->evs[n++] = e;
		} else if (is_input(e->type)) {
			last_kept = !keep || keep[i];
			step_kept = e->type == SVT_TRACE_FAULT && (step_kept || last_kept);
			if (last_kept)
				d->evs[n++] = e;
		} else if (e->type == SVT_TRACE_DECISION && d->keep_decisions && last_kept) {
			d->evs[n++] = e;
		} else if (e->type == SVT_TRACE_STEP_DONE) {
			if (step_kept)
				d->evs[n++] = e;        /* the end of a kept fault's step */
			step_kept = false;
		}
	}
	d->nevs = n;
}

static bool test(struct rd *d, const bool *keep)
{
	char msg[700];
	assemble(d, keep);
	if (emit(d->h, d->evs, d->nevs, 0, &d->buf, msg, sizeof(msg)) != 0)
		return false;
	return replay_shows(d, NULL);
}

/* The state at S into d->pro (the original replayed up to S), and the
 * window S..E loaded (read again only when S is before what is loaded:
 * memory in proportion to the window). */
static int set_start(struct rd *d, uint64_t s)
{
	list_free(&d->pro);
	int st = capture(d->cfg->path, NULL, 0, s, &d->pro, d->res->message,
			 sizeof(d->res->message));
	if (st != SVT_EXIT_OK)
		return st;
	if (!d->loaded || s < d->all_from) {
		list_free(&d->all);
		st = read_events(d->r, s, d->target_seq, false, &d->all, d->res->message,
				 sizeof(d->res->message));
		if (st != SVT_EXIT_OK)
			return st;
		d->all_from = s;
		d->loaded = true;
	}
	d->s_idx = 0;
	while (d->s_idx < d->all.n && d->all.v[d->s_idx].seq < s)
		d->s_idx++;
	d->units_left = 0;
	for (size_t i = d->s_idx; i < d->all.n; i++)
		d->units_left += is_input(d->all.v[i].type);
	const struct svt_trace_event **v = realloc(d->evs, (d->pro.n + d->all.n + 1) * sizeof(*v));
	if (!v) {
		snprintf(d->res->message, sizeof(d->res->message), "out of memory");
		return SVT_EXIT_INPUT;
	}
	d->evs = v;
	return SVT_EXIT_OK;
}

/* ddmin over the inputs kept: remove chunks while the target still shows. */
static void ddmin(struct rd *d, bool *keep)
{
	size_t *u = malloc(d->all.n * sizeof(*u)), nu = 0;
	if (!u)
		return;
	for (size_t i = d->s_idx; i < d->all.n; i++)
		if (is_input(d->all.v[i].type) && keep[i])
			u[nu++] = i;
	size_t gran = 2;
	while (nu >= 1 && !out_of_time(d)) {
		d->units_left = nu;
		size_t chunk = (nu + gran - 1) / gran;
		bool reduced = false;
		for (size_t c = 0; c * chunk < nu && !out_of_time(d); c++) {
			size_t lo = c * chunk, hi = lo + chunk < nu ? lo + chunk : nu;
			for (size_t k = lo; k < hi; k++)
				keep[u[k]] = false;
			if (test(d, keep)) {
				memmove(u + lo, u + hi, (nu - hi) * sizeof(*u));
				nu -= hi - lo;
				gran = gran > 2 ? gran - 1 : 2;
				reduced = true;
				break;
			}
			for (size_t k = lo; k < hi; k++)
				keep[u[k]] = true;
		}
		if (!reduced) {
			if (gran >= nu)
				break;
			gran = 2 * gran < nu ? 2 * gran : nu;
		}
	}
	d->units_left = nu;
	free(u);
}

static bool needed(const struct memtrack *t, size_t i, uint64_t b)
{
	return (t->need[i][b / 64] >> (b % 64)) & 1;
}

/* The runs of needed words of MEM record i, clipped to it: how many, and
 * (when l) each as a record in l. */
static size_t mem_runs(const struct memtrack *t, size_t i, struct rd_list *l)
{
	const struct svt_trace_event *e = t->evs[i];
	uint64_t gpa = e->u.mem.gpa, end = gpa + e->u.mem.len, base = gpa >> 3;
	uint64_t nwords = ((end - 1) >> 3) - base + 1;
	size_t runs = 0;
	for (uint64_t b = 0; b < nwords;) {
		if (!needed(t, i, b)) {
			b++;
			continue;
		}
		uint64_t c = b;
		while (c < nwords && needed(t, i, c))
			c++;
		uint64_t lo = (base + b) * 8 > gpa ? (base + b) * 8 : gpa;
		uint64_t hi = (base + c) * 8 < end ? (base + c) * 8 : end;
		if (l) {
			struct svt_trace_event m = *e;
			m.u.mem.gpa = lo;
			m.u.mem.len = (uint32_t)(hi - lo);
			m.u.mem.data = e->u.mem.data + (lo - gpa);
			list_push(l, &m);       /* failing: a run lost, which the check sees */
		}
		runs++;
		b = c;
	}
	return runs;
}

/* The candidate in d->evs with only the MEM bytes its replay reads: the
 * events in *outv (MEM records in tmp). */
static int prune(struct rd *d, struct rd_list *tmp, const struct svt_trace_event ***outv,
		 size_t *outn)
{
	char msg[700];
	struct memtrack t = { .evs = d->evs, .n = d->nevs };
	const struct svt_trace_event **v = NULL;
	int rc = -1;

	t.need = calloc(d->nevs ? d->nevs : 1, sizeof(*t.need));
	if (!t.need || emit(d->h, d->evs, d->nevs, 0, &d->buf, msg, sizeof(msg)) != 0)
		goto out;
	replay_shows(d, &t);
	if (t.oom)
		goto out;
	size_t runs = 0, n = 0, m = 0;
	for (size_t i = 0; i < d->nevs; i++)
		if (d->evs[i]->type == SVT_TRACE_MEM)
			runs += mem_runs(&t, i, NULL);
	tmp->v = malloc((runs ? runs : 1) * sizeof(*tmp->v));
	v = malloc((d->nevs + runs + 1) * sizeof(*v));
	if (!tmp->v || !v)
		goto out;
	tmp->cap = runs ? runs : 1;
	for (size_t i = 0; i < d->nevs; i++) {
		if (d->evs[i]->type != SVT_TRACE_MEM) {
			v[n++] = d->evs[i];
			continue;
		}
		mem_runs(&t, i, tmp);
		while (m < tmp->n)
			v[n++] = &tmp->v[m++];
	}
	*outv = v;
	*outn = n;
	v = NULL;
	rc = 0;
out:
	free(v);
	mt_free(&t);
	return rc;
}

/* The first violation of the original: the target. */
struct first {
	bool got;
	uint64_t seq, va, gfn;
	enum svt_invariant inv;
};

static bool first_violation(void *ctx, uint64_t seq, enum svt_invariant inv, uint64_t va,
			    uint64_t gfn)
{
	struct first *f = ctx;
	if (!f->got) {
		f->got = true;
		f->seq = seq, f->inv = inv, f->va = va, f->gfn = gfn;
	}
	return true;
}

int svt_reduce(const struct svt_reduce_config *cfg, struct svt_rd_bytes *out,
	       struct svt_reduce_result *res)
{
	struct rd d = { .cfg = cfg, .res = res };
	struct svt_trace_error err;
	struct svt_trace_info info;
	struct first f = { 0 };
	bool *keep = NULL;
	int st = SVT_EXIT_INPUT;

	memset(res, 0, sizeof(*res));
	d.t0 = now();
	snprintf(d.phase, sizeof(d.phase), "the target");
	struct svt_trace_reader *r = svt_trace_open(cfg->path, 0, &err);
	if (!r) {
		snprintf(res->message, sizeof(res->message), "%s", err.msg);
		return SVT_EXIT_INPUT;
	}
	/* a reduced trace holds part of the guest's actions: not to be run again */
	d.hdr = *svt_trace_reader_header(r);
	d.hdr.evidence &= ~SVT_EVIDENCE_ACTIONS;
	d.h = &d.hdr;
	if (svt_trace_info(r, &info) == SVT_TRACE_OK) {
		res->in_events = info.events;
		res->in_bytes = info.file_size;
	}

	/* 1. the target: the original's first violation */
	struct svt_replay_result *rr = malloc(sizeof(*rr));
	if (!rr) {
		snprintf(res->message, sizeof(res->message), "out of memory");
		goto out;
	}
	struct svt_replay_config rc = {
		.path = cfg->path, .audit = cfg->audit, .stop_at_first = true, .from = cfg->from,
		.on_violation = first_violation, .hook_ctx = &f, .stop = cfg->stop,
		.progress = cfg->progress, .draw = cfg->progress != NULL,  /* replay's line */
	};
	int rst = svt_replay(&rc, rr);
	if (rst == SVT_EXIT_USAGE) {
		snprintf(res->message, sizeof(res->message), "%s", rr->message);
		free(rr);
		st = SVT_EXIT_USAGE;
		goto out;
	}
	if (!f.got) {
		char *m = res->message;
		size_t ml = sizeof(res->message);
		if (rst == SVT_EXIT_INPUT)
			snprintf(m, ml, "%s", rr->message);
		else if (rr->status == SVT_RUN_INCOMPLETE)
			snprintf(m, ml, "%s: interrupted before its first violation", cfg->path);
		else
			snprintf(m, ml, "%s: replays clean%s at audit level %s: nothing to reduce",
				 cfg->path, cfg->from ? " from --from on" : "",
				 svt_audit_name(cfg->audit));
		st = rst == SVT_EXIT_INPUT ? SVT_EXIT_INPUT :
		     rst == SVT_EXIT_OK ? SVT_EXIT_NEGATIVE :
		     cfg->stop && *cfg->stop ? SVT_EXIT_INTERRUPTED : SVT_EXIT_INPUT;
		free(rr);
		goto out;
	}
	free(rr);
	res->inv = f.inv, res->va = f.va, res->gfn = f.gfn, res->seq = f.seq;
	if (cfg->budget > 0)
		d.deadline = now() + cfg->budget;
	d.keep_decisions = f.inv == SVT_INV_REPLAY;
	if (cfg->log)
		svt_progress_print(cfg->progress, cfg->log, "%s: target %s va %#" PRIx64 " gfn %#"
				   PRIx64 " at event %" PRIu64 "\n", cfg->path,
				   svt_invariant_name(f.inv), f.va, f.gfn, f.seq);
	d.r = r;
	d.target_seq = f.seq;

	/* 2. the latest start that still shows it: windows ending at E twice
	 * as long each time until one shows it (short ones replay fast), then
	 * bisection between that one and the last that did not */
	snprintf(d.phase, sizeof(d.phase), "window");
	uint64_t good = 0, bad = f.seq + 1;     /* good shows it; bad does not */
	bool good_seen = false;                 /* good's candidate was replayed and showed it */
	for (uint64_t step = 0;; step = step ? 2 * step : 1) {
		uint64_t s = step < f.seq ? f.seq - step : 0;
		if (out_of_time(&d))
			break;
		if ((st = set_start(&d, s)) != SVT_EXIT_OK)
			goto out;
		if (test(&d, NULL)) {
			good = s, good_seen = true;
			break;
		}
		bad = s;
		if (s == 0)
			break;
	}
	while (good_seen && bad - good > 1 && !out_of_time(&d)) {
		uint64_t mid = good + (bad - good) / 2;
		if ((st = set_start(&d, mid)) != SVT_EXIT_OK)
			goto out;
		if (test(&d, NULL))
			good = mid;
		else
			bad = mid;
	}
	if ((st = set_start(&d, good)) != SVT_EXIT_OK)
		goto out;
	if (!good_seen && (out_of_time(&d) || !test(&d, NULL))) {
		st = SVT_EXIT_NEGATIVE;
		char *m = res->message;
		size_t ml = sizeof(res->message);
		if (out_of_time(&d))
			snprintf(m, ml, "%s: %s before a candidate showed the violation at event %"
				 PRIu64, cfg->path, res->stopped ? "interrupted" :
				 "the budget ran out", f.seq);
		else
			snprintf(m, ml, "%s: the violation at event %" PRIu64 " does not show "
				 "in a trace that starts a fresh core at event %" PRIu64 " (the "
				 "state records of shadowvt cut)", cfg->path, f.seq, good);
		goto out;
	}
	res->window_from = good;
	for (size_t i = d.s_idx; i < d.all.n; i++)
		res->window_inputs += is_input(d.all.v[i].type);
	if (cfg->log)
		svt_progress_print(cfg->progress, cfg->log, "%s: window %" PRIu64 "..%" PRIu64 ": %"
				   PRIu64 " inputs (%u candidates, %.2f s)\n", cfg->path, good,
				   f.seq, res->window_inputs, res->tests, now() - d.t0);

	/* 3. ddmin over the window's inputs */
	keep = malloc(d.all.n ? d.all.n : 1);
	if (!keep) {
		st = SVT_EXIT_INPUT;
		snprintf(res->message, sizeof(res->message), "out of memory");
		goto out;
	}
	memset(keep, 1, d.all.n);
	snprintf(d.phase, sizeof(d.phase), "ddmin");
	ddmin(&d, keep);
	for (size_t i = d.s_idx; i < d.all.n; i++)
		res->kept_inputs += is_input(d.all.v[i].type) && keep[i];
	if (cfg->log)
		svt_progress_print(cfg->progress, cfg->log, "%s: ddmin: %" PRIu64 " inputs kept "
				   "(%u candidates, %.2f s)%s\n", cfg->path, res->kept_inputs,
				   res->tests, now() - d.t0,
				   res->budget_hit ? "; the budget ran out" :
				   res->stopped ? "; interrupted" : "");

	/* 4. only the memory read; the result checked once more */
	snprintf(d.phase, sizeof(d.phase), "memory");
	assemble(&d, keep);
	struct rd_list tmp = { 0 };
	const struct svt_trace_event **pv = NULL;
	size_t pn = 0;
	char note[SVT_TRACE_MAX_MARK + 1];
	snprintf(note, sizeof(note), "reduced from %.120s: %s va %#" PRIx64 " gfn %#" PRIx64
		 " at its event %" PRIu64, base_name(cfg->path), svt_invariant_name(f.inv), f.va,
		 f.gfn, f.seq);
	struct rd_list nl = { 0 };
	/* with no time left the last candidate shown is written as it is */
	bool pruned = !out_of_time(&d) && prune(&d, &tmp, &pv, &pn) == 0;
	const struct svt_trace_event **fin = pruned ? pv : d.evs;
	size_t fn = pruned ? pn : d.nevs;
	const struct svt_trace_event **withnote =
		malloc(((fn > d.nevs ? fn : d.nevs) + 1) * sizeof(*withnote));
	st = SVT_EXIT_INPUT;
	if (withnote && push_note(&nl, note) == 0) {
		withnote[0] = &nl.v[0];
		memcpy(withnote + 1, fin, fn * sizeof(*fin));
		/* the pruned trace must still show it; the unpruned one was shown */
		if (emit(d.h, withnote, fn + 1, cfg->level, &d.buf, res->message,
			 sizeof(res->message)) == 0 && (!pruned || replay_shows(&d, NULL))) {
			st = SVT_EXIT_OK;
		} else if (pruned) {
			/* not expected: fall back to the candidate with all its memory */
			memcpy(withnote + 1, d.evs, d.nevs * sizeof(*d.evs));
			fn = d.nevs;
			if (emit(d.h, withnote, fn + 1, cfg->level, &d.buf, res->message,
				 sizeof(res->message)) == 0)
				st = SVT_EXIT_OK;
		}
		if (st != SVT_EXIT_OK && !res->message[0])
			snprintf(res->message, sizeof(res->message), "%s: the reduced trace does "
				 "not show the violation (a bug in shadowvt reduce)", cfg->path);
	}
	if (st == SVT_EXIT_OK) {
		res->out_events = fn + 1;
		res->out_bytes = d.buf.len;
		*out = d.buf;
		memset(&d.buf, 0, sizeof(d.buf));
	}
	free(withnote);
	free(pv);
	list_free(&tmp);
	list_free(&nl);
out:
	if (cfg->progress)
		svt_progress_end(cfg->progress);
	res->seconds = now() - d.t0;
	free(keep);
	free(d.evs);
	svt_rd_bytes_free(&d.buf);
	list_free(&d.all);
	list_free(&d.pro);
	svt_trace_close(r);
	return st;
}
