/*
 * fuzz-export.c — the Perfetto exporter (sim/report/export*.c) on arbitrary
 * traces.  An input that starts like a trace (0x89) is exported as a
 * whole file, with and without checksums.  Any other input is turned into
 * events of every type (hostile header strings and MARK texts, inputs
 * with and without their decisions, mismatched decisions, LOST, unknown
 * records), written by the trace writer in small frames, then maybe cut
 * short and a byte flipped; the exporter runs over it with options from
 * the input.  Every output must be one document of strict JSON (RFC 8259,
 * strings valid UTF-8: checked below by a parser that shares nothing with
 * the writer), starting as a Perfetto file does, and its metadata must say
 * "complete": true exactly when the export returned success.  The raw
 * input as one JSON string must pass the same check.
 */
#define _POSIX_C_SOURCE 200809L
#include <stdbool.h>
#include <string.h>

#include "export.h"
#include "fuzz.h"
#include "trace.h"

/* ---- a strict JSON checker ------------------------------------------------ */

struct jc {
	const unsigned char *p, *end;
	int depth;
};

static void jc_ws(struct jc *c)
{
	while (c->p < c->end && (*c->p == ' ' || *c->p == '\t' || *c->p == '\n' || *c->p == '\r'))
		c->p++;
}

static bool jc_lit(struct jc *c, const char *s)
{
	size_t n = strlen(s);
	if ((size_t)(c->end - c->p) < n || memcmp(c->p, s, n) != 0)
		return false;
	c->p += n;
	return true;
}

static bool jc_digits(struct jc *c)
{
	const unsigned char *s = c->p;
	while (c->p < c->end && *c->p >= '0' && *c->p <= '9')
		c->p++;
	return c->p > s;
}

static bool jc_number(struct jc *c)
{
	if (c->p < c->end && *c->p == '-')
		c->p++;
	if (c->p < c->end && *c->p == '0')
		c->p++;
	else if (c->p >= c->end || *c->p < '1' || *c->p > '9' || !jc_digits(c))
		return false;
	if (c->p < c->end && *c->p == '.') {
		c->p++;
		if (!jc_digits(c))
			return false;
	}
	if (c->p < c->end && (*c->p == 'e' || *c->p == 'E')) {
		c->p++;
		if (c->p < c->end && (*c->p == '+' || *c->p == '-'))
			c->p++;
		if (!jc_digits(c))
			return false;
	}
	return true;
}

static int hexval(unsigned char x)
{
	return x >= '0' && x <= '9' ? x - '0' : x >= 'a' && x <= 'f' ? x - 'a' + 10 :
	       x >= 'A' && x <= 'F' ? x - 'A' + 10 : -1;
}

/* One UTF-8 code point from the raw bytes, by decoding it and checking
 * the value against the length (no overlong), surrogates and 0x10FFFF. */
static bool jc_utf8(struct jc *c)
{
	unsigned b = *c->p, n = b >= 0xf0 ? 3 : b >= 0xe0 ? 2 : b >= 0xc0 ? 1 : 0;
	static const uint32_t min[4] = { 0, 0x80, 0x800, 0x10000 };
	uint32_t cp = n == 0 ? 0 : b & (0x3fu >> n);

	if (n == 0 || b >= 0xf8 || (size_t)(c->end - c->p) <= n)
		return false;
	for (unsigned i = 1; i <= n; i++) {
		if ((c->p[i] & 0xc0) != 0x80)
			return false;
		cp = cp << 6 | (c->p[i] & 0x3f);
	}
	if (cp < min[n] || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
		return false;
	c->p += n + 1;
	return true;
}

static bool jc_string(struct jc *c)
{
	if (!jc_lit(c, "\""))
		return false;
	while (c->p < c->end) {
		unsigned char x = *c->p;
		if (x == '"') {
			c->p++;
			return true;
		}
		if (x < 0x20)
			return false;
		if (x == '\\') {
			if (++c->p >= c->end)
				return false;
			x = *c->p++;
			if (x == 'u') {
				for (int i = 0; i < 4; i++)
					if (c->p >= c->end || hexval(*c->p++) < 0)
						return false;
			} else if (!strchr("\"\\/bfnrt", x) || x == 0) {
				return false;
			}
		} else if (x >= 0x80) {
			if (!jc_utf8(c))
				return false;
		} else {
			c->p++;
		}
	}
	return false;
}

static bool jc_value(struct jc *c);

/* An object or array: open and close brackets, values (after a key for an object). */
static bool jc_container(struct jc *c, char close, bool object)
{
	if (++c->depth > 32)
		return false;
	c->p++;
	jc_ws(c);
	if (c->p < c->end && *c->p == close) {
		c->p++;
		c->depth--;
		return true;
	}
	for (;;) {
		jc_ws(c);
		if (object) {
			if (!jc_string(c))
				return false;
			jc_ws(c);
			if (!jc_lit(c, ":"))
				return false;
			jc_ws(c);
		}
		if (!jc_value(c))
			return false;
		jc_ws(c);
		if (c->p < c->end && *c->p == ',') {
			c->p++;
			continue;
		}
		if (c->p < c->end && *c->p == close) {
			c->p++;
			c->depth--;
			return true;
		}
		return false;
	}
}

static bool jc_value(struct jc *c)
{
	if (c->p >= c->end)
		return false;
	switch (*c->p) {
	case '{': return jc_container(c, '}', true);
	case '[': return jc_container(c, ']', false);
	case '"': return jc_string(c);
	case 't': return jc_lit(c, "true");
	case 'f': return jc_lit(c, "false");
	case 'n': return jc_lit(c, "null");
	default: return jc_number(c);
	}
}

/* The whole buffer is one JSON value; else where it stops. */
static size_t json_bad_at(const char *s, size_t n)
{
	struct jc c = { (const unsigned char *)s, (const unsigned char *)s + n, 0 };
	jc_ws(&c);
	bool ok = jc_value(&c);
	jc_ws(&c);
	return ok && c.p == c.end ? 0 : (size_t)(c.p - (const unsigned char *)s) + 1;
}

/* ---- running the exporter -------------------------------------------------- */

static void export_one(const uint8_t *buf, size_t n, unsigned flags, struct fz *opt)
{
	struct svt_trace_error err;
	struct svt_trace_reader *r = svt_trace_open_mem(buf, n, "fuzz", flags, &err);
	if (r == NULL)
		return;
	struct svt_trace_info info;
	svt_trace_info(r, &info);
	struct svt_export_opts o = { .to = UINT64_MAX, .name = "fuzz \"trace\"\n" };
	uint8_t m = fz_u8(opt);
	if (m & 1)
		o.from = fz_u8(opt) % (info.events + 2);
	if (m & 2)
		o.to = o.from + fz_u8(opt);
	o.no_mem = m & 4;
	o.counter_every = m >> 4;
	char *doc = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&doc, &len);
	FZ_CHECK(f != NULL, "open_memstream");
	struct svt_export_stats st;
	int rc = svt_export_perfetto(r, &info, &o, f, &st);
	FZ_CHECK(fclose(f) == 0, "fclose");
	FZ_CHECK(rc == SVT_TRACE_OK || (rc < 0 && rc == svt_trace_reader_error(r)->status),
		 "status %d", rc);
	size_t bad = json_bad_at(doc, len);
	FZ_CHECK(bad == 0, "not JSON at byte %zu of %zu: ...%.60s", bad - 1, len, doc + bad - 1);
	static const char start[] = "{\"displayTimeUnit\":\"ns\",\"traceEvents\":[";
	FZ_CHECK(strncmp(doc, start, sizeof(start) - 1) == 0, "start");
	FZ_CHECK((rc == SVT_TRACE_OK) == st.complete, "complete");
	FZ_CHECK(strstr(doc, st.complete ? "\"complete\":true" : "\"complete\":false") != NULL,
		 "metadata does not say complete=%d", st.complete);
	free(doc);
	svt_trace_close(r);
}

/* ---- traces made from the input -------------------------------------------- */

static void text(struct fz *f, char *out, size_t max, size_t *len)
{
	size_t n = fz_u8(f) % (max + 1);
	for (size_t i = 0; i < n; i++) {
		out[i] = (char)fz_u8(f);
		if (out[i] == 0)
			out[i] = (char)0xc3;    /* half a UTF-8 sequence */
	}
	out[n] = 0;
	*len = n;
}

static void event(struct fz *f, struct svt_trace_event *ev, uint8_t *data)
{
	static const uint8_t bits[3] = { 16, 32, 64 };
	static const uint8_t inputs[3] = { SVT_TRACE_FAULT, SVT_TRACE_CR_WRITE, SVT_TRACE_INVPCID };
	uint8_t t = fz_u8(f);
	size_t n;

	memset(ev, 0, sizeof(*ev));
	ev->type = (enum svt_trace_type)(t % SVT_TRACE_NTYPES);
	switch (ev->type) {
	case SVT_TRACE_FAULT:
		ev->u.fault.va = fz_u64(f, 8);
		ev->u.fault.error_code = (uint32_t)fz_u64(f, t & 0x80 ? 4 : 1);
		ev->u.fault.cpl = fz_u8(f) % 4;
		ev->u.fault.code_bits = bits[fz_u8(f) % 3];
		ev->u.fault.has_regs = t & 0x40;
		ev->u.fault.regs.rip = fz_u64(f, 8);
		break;
	case SVT_TRACE_CR_WRITE:
		ev->u.cr.reg = fz_u8(f) % 4;
		ev->u.cr.val = fz_u64(f, t & 0x80 ? 8 : 4);
		break;
	case SVT_TRACE_INVLPG:
		ev->u.invlpg_va = fz_u64(f, 8);
		break;
	case SVT_TRACE_INVPCID:
		ev->u.invpcid.type = fz_u8(f) % 4;
		ev->u.invpcid.pcid = fz_u64(f, 2);
		ev->u.invpcid.va = fz_u64(f, 8);
		break;
	case SVT_TRACE_MEM:
		ev->u.mem.gpa = fz_u64(f, 6);
		ev->u.mem.len = 1 + fz_u8(f) % 64;
		for (uint32_t i = 0; i < ev->u.mem.len; i++)
			data[i] = fz_u8(f);
		ev->u.mem.data = data;
		break;
	case SVT_TRACE_DECISION: {
		struct svt_trace_decision *d = &ev->u.decision;
		d->input = inputs[fz_u8(f) % 3];
		if (d->input == SVT_TRACE_FAULT) {
			d->outcome = fz_u8(f) % 5;
			d->error_code = (uint32_t)fz_u64(f, 2);
			d->cr2 = fz_u64(f, 8);
			d->gpa = fz_u64(f, 6);
			d->has_regs = t & 0x80;
			d->regs.rip = fz_u64(f, 8);
		} else {
			d->rc = t & 0x80 ? SVT_E_GP : 0;
		}
		break;
	}
	case SVT_TRACE_LOST:
		ev->u.lost.count = 1 + fz_u64(f, t & 0x80 ? 8 : 2) % (UINT64_MAX >> 8);
		ev->u.lost.reason = fz_u8(f) % 3;
		break;
	case SVT_TRACE_MARK:
		ev->u.mark.time = fz_u64(f, 8);
		ev->u.mark.kind = fz_u8(f) % 4;
		text(f, ev->u.mark.text, SVT_TRACE_MAX_MARK, &n);
		ev->u.mark.len = (uint16_t)n;
		break;
	default:
		ev->type = SVT_TRACE_UNKNOWN;
		ev->u.unknown.type = SVT_TRACE_NTYPES + fz_u8(f);
		ev->u.unknown.len = fz_u8(f) % 16;
		for (uint32_t i = 0; i < ev->u.unknown.len; i++)
			data[i] = fz_u8(f);
		ev->u.unknown.data = data;
		break;
	}
}

static void made(struct fz *f, struct fz *opt)
{
	static char producer[65], guest[65];
	static uint8_t data[256];
	struct svt_trace_range ram = { 0, 4096 };
	struct svt_trace_header h = {
		.producer = producer, .cpu_model = "fuzz", .guest = guest, .maxphyaddr = 40,
		.guest_frames = 4096, .ram = &ram, .nram = 1, .pool_frames = 64,
	};
	struct fz_sink sink = { 0 };
	struct svt_trace_error err;
	size_t n;
	uint8_t mode = fz_u8(f);

	text(f, producer, 64, &n);
	text(f, guest, 64, &n);
	struct svt_trace_writer *w = svt_trace_writer_open_sink(fz_sink_write, &sink, "fuzz", &h,
								mode & 1, &err);
	FZ_CHECK(w != NULL, "writer: %s", err.msg);
	svt_trace_writer_set_frame_size(w, mode & 2 ? SVT_TRACE_FRAME_MIN : 4096);
	for (int i = 0; i < 4000 && fz_more(f); i++) {
		struct svt_trace_event ev;
		event(f, &ev, data);
		svt_trace_write(w, &ev);
	}
	FZ_CHECK(svt_trace_writer_close(w, &err) == SVT_TRACE_OK, "close: %s", err.msg);
	if (mode & 4 && sink.len > 0)           /* cut short */
		sink.len = (size_t)fz_u64(opt, 3) % sink.len;
	if (mode & 8 && sink.len > 0)           /* one byte flipped */
		sink.buf[fz_u64(opt, 3) % sink.len] ^= (uint8_t)(1u << (mode >> 5));
	export_one(sink.buf, sink.len, mode & 16 ? SVT_TRACE_NO_CRC : 0, opt);
	free(sink.buf);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	/* the option bytes come from the end, the events from the front */
	struct fz opt = { data, size, size - (size < 8 ? size : 8) };
	struct fz f = { data, size - (size < 8 ? size : 8), 0 };
	char *s = NULL;
	size_t len = 0;

	FILE *out = open_memstream(&s, &len);
	FZ_CHECK(out != NULL, "open_memstream");
	svt_json_str(out, (const char *)data, size);
	FZ_CHECK(fclose(out) == 0, "fclose");
	size_t bad = json_bad_at(s, len);
	FZ_CHECK(bad == 0, "string not JSON at byte %zu: %.40s", bad - 1, s + bad - 1);
	free(s);

	if (size > 0 && data[0] == 0x89) {
		export_one(data, size, 0, &opt);
		opt.off = size - (size < 8 ? size : 8);
		export_one(data, size, SVT_TRACE_NO_CRC, &opt);
		return 0;
	}
	made(&f, &opt);
	return 0;
}
