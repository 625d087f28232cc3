/*
 * test-trace-dump.c — the printers (every event type as one text line and
 * as one JSON object that a strict parser accepts; the info block), the
 * sizes and speeds on a plausible guest's stream (printed: bytes per event
 * overall, for page-table-entry MEM records alone and for FAULT events
 * alone; write and read rates), and the fuzz seed corpus
 * (TRACE_CORPUS_OUT=dir writes tests/trace-corpus/).
 */
#define _POSIX_C_SOURCE 200809L
#include <criterion/criterion.h>
#include <criterion/logging.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "trace-gen.h"
#include "trace_int.h"

/* ---- a strict JSON checker (RFC 8259 values, ASCII input) ---------------- */

static const char *js_value(const char *p);

static const char *js_ws(const char *p)
{
	while (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r')
		p++;
	return p;
}

static const char *js_string(const char *p)
{
	if (*p++ != '"')
		return NULL;
	while (*p != '"') {
		if ((unsigned char)*p < 0x20)
			return NULL;
		if (*p == '\\') {
			p++;
			if (*p == 'u') {
				for (int i = 1; i <= 4; i++)
					if (!strchr("0123456789abcdefABCDEF", p[i]) || p[i] == 0)
						return NULL;
				p += 4;
			} else if (!strchr("\"\\/bfnrt", *p) || *p == 0) {
				return NULL;
			}
		}
		p++;
	}
	return p + 1;
}

static const char *js_seq(const char *p, char close, bool object)
{
	p = js_ws(p + 1);
	if (*p == close)
		return p + 1;
	for (;;) {
		if (object) {
			if ((p = js_string(js_ws(p))) == NULL)
				return NULL;
			p = js_ws(p);
			if (*p++ != ':')
				return NULL;
		}
		if ((p = js_value(p)) == NULL)
			return NULL;
		p = js_ws(p);
		if (*p == close)
			return p + 1;
		if (*p++ != ',')
			return NULL;
	}
}

static const char *js_value(const char *p)
{
	p = js_ws(p);
	if (*p == '{')
		return js_seq(p, '}', true);
	if (*p == '[')
		return js_seq(p, ']', false);
	if (*p == '"')
		return js_string(p);
	if (strncmp(p, "true", 4) == 0 || strncmp(p, "null", 4) == 0)
		return p + 4;
	if (strncmp(p, "false", 5) == 0)
		return p + 5;
	const char *s = p;
	if (*p == '-')
		p++;
	if (*p < '0' || *p > '9')
		return NULL;
	while ((*p >= '0' && *p <= '9') || *p == '.' || *p == 'e' || *p == 'E' || *p == '+' ||
	       (*p == '-' && p > s))
		p++;
	return p;
}

static bool json_ok(const char *line)
{
	const char *end = js_value(line);
	return end != NULL && strcmp(js_ws(end), "") == 0;
}

/* ---- printers ---------------------------------------------------------- */

static char *dump(const struct svt_trace_event *ev, bool json)
{
	char *s = NULL;
	size_t n = 0;
	FILE *f = open_memstream(&s, &n);
	svt_trace_dump_event(f, ev, json);
	fclose(f);
	return s;
}

Test(trace_dump, every_type_text_and_json)
{
	static const char *const text_has[SVT_TRACE_NTYPES] = {
		"UNKNOWN code=", "FAULT va=0x", "CR_WRITE ", "INVLPG va=0x", "INVPCID type=",
		"FLUSH_ALL", "MEM gpa=0x", "DECISION ", "LOST count=", "MARK time=", "GUEST ",
		"CPU ", "STEP_DONE",
	};
	struct tg_events e = { 0 };
	struct tg_rng g = { 3 };
	for (int t = 0; t < SVT_TRACE_NTYPES; t++)
		for (int k = 0; k < 30; k++)
			tg_random_event(&g, t, &e);
	for (size_t i = 0; i < e.n; i++) {
		char *text = dump(&e.ev[i], false), *json = dump(&e.ev[i], true);
		size_t tl = strlen(text), jl = strlen(json);
		cr_assert(tl > 0 && text[tl - 1] == '\n' && strchr(text, '\n') == text + tl - 1,
			  "one line: %s", text);
		cr_assert(strstr(text, text_has[e.ev[i].type]) != NULL, "%s", text);
		cr_assert(jl > 0 && json[jl - 1] == '\n' && strchr(json, '\n') == json + jl - 1);
		cr_assert(json_ok(json), "not JSON: %s", json);
		free(text);
		free(json);
	}
	/* A page-table entry reads as one. */
	struct svt_trace_event ev = { .type = SVT_TRACE_MEM, .seq = 12 };
	static const uint8_t pte[8] = { 0x67, 0x30, 0x12, 0, 0, 0, 0, 0x80 };
	ev.u.mem.gpa = 0x1ff8;
	ev.u.mem.len = 8;
	ev.u.mem.data = pte;
	char *text = dump(&ev, false);
	cr_assert_str_eq(text, "12 MEM gpa=0x1ff8 len=8 0x8000000000123067\n");
	free(text);
	/* The end of a step: its type alone. */
	struct svt_trace_event sd = { .type = SVT_TRACE_STEP_DONE, .seq = 14 };
	text = dump(&sd, false);
	cr_assert_str_eq(text, "14 STEP_DONE\n");
	free(text);
	text = dump(&sd, true);
	cr_assert_str_eq(text, "{\"seq\":14,\"type\":\"STEP_DONE\"}\n");
	free(text);
	/* A PKRU action: its value, no address. */
	struct svt_trace_event pk = { .type = SVT_TRACE_GUEST, .seq = 13 };
	pk.u.guest.kind = SVT_GUEST_PKRU;
	pk.u.guest.val[0] = 0x55555554u;
	text = dump(&pk, false);
	cr_assert_str_eq(text, "13 GUEST pkru val=0x55555554\n");
	free(text);
	text = dump(&pk, true);
	cr_assert(json_ok(text) && strstr(text, "\"kind\":\"pkru\",\"val\":\"0x55555554\"") &&
		  !strstr(text, "\"va\""), "%s", text);
	free(text);
	tg_free(&e);
}

Test(trace_dump, info_text_and_json)
{
	struct tg_events e = { 0 };
	struct tg_buf b = { 0 };
	struct svt_trace_error err;
	struct svt_trace_info info;
	tg_random_events(8, 500, &e);
	cr_assert_eq(tg_write(&e, 3, 1000, &b), 0);
	struct svt_trace_reader *r = svt_trace_open_mem(b.p, b.n, "mem", 0, &err);
	cr_assert_eq(svt_trace_info(r, &info), 0);
	char *s = NULL;
	size_t n = 0;
	FILE *f = open_memstream(&s, &n);
	svt_trace_dump_info(f, svt_trace_reader_header(r), &info, true);
	fclose(f);
	cr_assert(json_ok(s), "%s", s);
	cr_assert(strstr(s, "\"events\":") &&
		  strstr(s, "\"ram\":[{\"gfn\":0,\"count\":160}"), "%s", s);
	free(s);
	f = open_memstream(&s, &n);
	svt_trace_dump_info(f, svt_trace_reader_header(r), &info, false);
	fclose(f);
	cr_assert(strstr(s, "producer:        \"test-trace 1.0\"") &&
		  strstr(s, "index:           valid") && strstr(s, "bytes per event:"), "%s", s);
	free(s);
	svt_trace_close(r);
	free(b.p);
	tg_free(&e);
}

/* ---- sizes and speeds ----------------------------------------------------- */

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* Events of e for which keep() holds. */
static void filter(const struct tg_events *e, bool (*keep)(const struct svt_trace_event *),
		   struct tg_events *out)
{
	for (size_t i = 0; i < e->n; i++)
		if (keep(&e->ev[i]))
			tg_push(out, &e->ev[i]);
}

static bool is_pte(const struct svt_trace_event *ev)
{
	return ev->type == SVT_TRACE_MEM && ev->u.mem.len == 8;
}

static bool is_fault(const struct svt_trace_event *ev)
{
	return ev->type == SVT_TRACE_FAULT;
}

static double per_event(const struct tg_events *e, int level)
{
	struct tg_buf b = { 0 };
	cr_assert_eq(tg_write(e, level, 0, &b), 0);
	free(b.p);
	return (double)b.n / (double)e->n;
}

Test(trace_size, guest_stream, .timeout = 600)
{
	const char *env = getenv("TRACE_BENCH_EVENTS");
	size_t n = env ? (size_t)atol(env) : 300000;
	struct tg_events e = { 0 }, ptes = { 0 }, faults = { 0 };
	struct tg_buf b = { 0 };
	struct svt_trace_error err;
	struct svt_trace_event ev;
	uint64_t raw = 0;

	tg_guest_events(1, n, &e);
	for (int level = 1; level <= 3; level += 2) {
		b.n = 0;
		double t0 = now();
		cr_assert_eq(tg_write(&e, level, 0, &b), 0);
		double tw = now() - t0;
		struct svt_trace_reader *r = svt_trace_open_mem(b.p, b.n, "mem", 0, &err);
		t0 = now();
		uint64_t k = 0;
		while (svt_trace_next(r, &ev) == SVT_TRACE_OK)
			k++;
		double tr = now() - t0;
		cr_assert_eq(k, e.n);
		struct svt_trace_info info;
		svt_trace_info(r, &info);
		if (level == 1) {
			/* Uncompressed content bytes, for the compression ratio. */
			for (uint64_t i = 0; i < info.frames; i++)
				raw += svt_get32(b.p + r->index[i].offset + 12);
		}
		svt_trace_close(r);
		cr_log_info("guest stream, %zu events, level %d: %.2f bytes/event (content %.2f), "
			    "write %.1f Mevents/s (%.0f MB/s of content), read %.1f Mevents/s",
			    e.n, level, (double)b.n / (double)e.n, (double)raw / (double)e.n,
			    (double)e.n / tw * 1e-6, (double)raw / tw * 1e-6,
			    (double)e.n / tr * 1e-6);
		cr_assert_lt((double)b.n / (double)e.n, 10.0, "over the 10 bytes/event target");
	}
	filter(&e, is_pte, &ptes);
	filter(&e, is_fault, &faults);
	cr_log_info("page-table-entry MEM records alone: %.2f bytes each (level 1), %.2f (level 3)",
		    per_event(&ptes, 1), per_event(&ptes, 3));
	cr_log_info("FAULT events alone (with registers): %.2f bytes each (level 1), %.2f "
		    "(level 3); uncompressed %.2f", per_event(&faults, 1), per_event(&faults, 3),
		    per_event(&faults, 0));
	free(b.p);
	tg_free(&ptes);
	tg_free(&faults);
	tg_free(&e);
}

/* ---- the fuzzer's seed corpus --------------------------------------------- */

static void corpus_file(const char *dir, const char *name, const uint8_t *p, size_t n)
{
	char path[512];
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	FILE *f = fopen(path, "wb");
	cr_assert_not_null(f, "%s", path);
	cr_assert_eq(fwrite(p, 1, n, f), n);
	cr_assert_eq(fclose(f), 0);
}

Test(trace_corpus, seeds)
{
	const char *dir = getenv("TRACE_CORPUS_OUT");
	struct tg_events e = { 0 }, g = { 0 }, none = { 0 };
	struct tg_buf b = { 0 };
	tg_random_events(21, 40, &e);
	tg_guest_events(22, 120, &g);
	struct {
		const char *name;
		const struct tg_events *ev;
		int level;
		size_t frame;
		size_t cut;
	} seeds[] = {
		{ "all-types.svt", &e, 1, 300, 0 },
		{ "all-types-stored.svt", &e, 0, 200, 0 },
		{ "guest.svt", &g, 3, 0, 0 },
		{ "guest-frames.svt", &g, 1, 256, 0 },
		{ "empty-trace.svt", &none, 1, 0, 0 },
		{ "truncated-mid-frame.svt", &e, 1, 300, 2 },
		{ "no-trailer.svt", &g, 1, 256, 1 },
	};
	for (size_t i = 0; i < sizeof(seeds) / sizeof(seeds[0]); i++) {
		b.n = 0;
		cr_assert_eq(tg_write(seeds[i].ev, seeds[i].level, seeds[i].frame, &b), 0);
		size_t n = b.n;
		size_t idx = (size_t)svt_get64(b.p + b.n - svt_get32(b.p + b.n - 12) + 40);
		if (seeds[i].cut == 1) {         /* drop the index and trailer */
			n = idx;
		} else if (seeds[i].cut == 2) {  /* in the middle of the second frame */
			cr_assert_geq(svt_get64(b.p + idx + 8), 3, "%s: three frames",
				      seeds[i].name);
			size_t f1 = (size_t)svt_get64(b.p + idx + 32),
				f2 = (size_t)svt_get64(b.p + idx + 48);
			n = f1 + (f2 - f1) / 2;
		}
		cr_assert_leq(n, b.n);
		cr_assert_lt(n, 16384, "%s: seeds stay small", seeds[i].name);
		if (dir != NULL)
			corpus_file(dir, seeds[i].name, b.p, n);
	}
	/* For the fuzzer's wrapped mode (its first byte 1): one zstd frame
	 * whose content is real records (no LOST, so events = records). */
	struct tr_state st, before;
	uint8_t seed[5 + 4096 + TR_MAX_RECORD + 1];
	size_t len = 0;
	tr_state_reset(&st);
	for (size_t i = 0; i < e.n; i++) {
		if (e.ev[i].type == SVT_TRACE_LOST)
			continue;
		before = st;
		size_t k = tr_encode(&st, &e.ev[i], seed + 5 + len);
		if (len + k > 4096)
			st = before;    /* too big for the fuzzer's frames: drop it */
		else
			len += k;
	}
	size_t nrec = 0;
	const uint8_t *p = seed + 5, *end = seed + 5 + len;
	uint64_t t, l;
	while (p < end && svt_getv(&p, end, &t) && svt_getv(&p, end, &l)) {
		p += l;
		nrec++;
	}
	seed[0] = 1;                    /* mode: wrapped */
	seed[1] = 0;                    /* one frame */
	seed[2] = 1;                    /* zstd, no gap, nseq = nrec */
	seed[3] = (uint8_t)(len - 2);   /* length = 2 + this % 4095 */
	seed[4] = (uint8_t)((len - 2) >> 8);
	seed[5 + len] = (uint8_t)(nrec - 1);    /* nrec = 1 + this % (len / 2) */
	cr_assert_lt(nrec, 256);
	if (dir != NULL)
		corpus_file(dir, "wrapped-records.bin", seed, 5 + len + 1);
	free(b.p);
	tg_free(&e);
	tg_free(&g);
}
