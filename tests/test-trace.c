/*
 * test-trace.c — the trace library on good input: checksums and varints,
 * round trips of every event type with random values through every
 * compression level and many frame sizes, seeking to any event against
 * sequential reading (with the index and by scanning frame headers), the
 * file, FILE * and callback writers producing the same bytes, header
 * fields, refused events and headers, unknown record types, lost events,
 * the printers, and the sizes and speeds the format is meant to reach
 * (printed).  Bad input is test-trace-bad.c.
 */
#define _POSIX_C_SOURCE 200809L
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "trace-gen.h"
#include "trace_int.h"

/* Read everything in buf and compare with e; returns the reader's info. */
static void expect_events(const struct tg_buf *b, const struct tg_events *e,
			  struct svt_trace_info *info)
{
	struct svt_trace_error err;
	struct svt_trace_event ev;
	char why[128];
	struct svt_trace_reader *r = svt_trace_open_mem(b->p, b->n, "mem", 0, &err);
	cr_assert_not_null(r, "%s", err.msg);
	cr_assert_null(svt_trace_reader_warning(r), "%s", svt_trace_reader_warning(r));
	for (size_t i = 0; i < e->n; i++) {
		int rc = svt_trace_next(r, &ev);
		cr_assert_eq(rc, SVT_TRACE_OK, "event %zu: %d %s", i, rc,
			     svt_trace_reader_error(r)->msg);
		cr_assert(tg_event_equal(&e->ev[i], &ev, why), "event %zu (%s): %s", i,
			  svt_trace_type_name(e->ev[i].type), why);
	}
	int rc = svt_trace_next(r, &ev);
	cr_assert_eq(rc, SVT_TRACE_END, "%d %s", rc, svt_trace_reader_error(r)->msg);
	cr_assert_eq(svt_trace_next(r, &ev), SVT_TRACE_END);
	if (info != NULL) {
		cr_assert_eq(svt_trace_info(r, info), 0);
		cr_assert(info->indexed);
		cr_assert_eq(info->events, e->next_seq);
		cr_assert_eq(info->records, e->n);
		cr_assert_eq(info->file_size, b->n);
	}
	svt_trace_close(r);
}

static void roundtrip(const struct tg_events *e, int level, size_t frame_size,
		      struct svt_trace_info *info)
{
	struct tg_buf b = { 0 };
	cr_assert_eq(tg_write(e, level, frame_size, &b), 0);
	expect_events(&b, e, info);
	free(b.p);
}

Test(trace_codec, crc32c)
{
	cr_assert_eq(svt_crc32c(0, "123456789", 9), 0xE3069283u);
	cr_assert_eq(svt_crc32c_soft(0, "123456789", 9), 0xE3069283u);
	cr_assert_eq(svt_crc32c(0, "", 0), 0);
	/* Both paths, any length and alignment, and extension. */
	static uint8_t buf[4096 + 16];
	struct tg_rng g = { 7 };
	for (size_t i = 0; i < sizeof(buf); i++)
		buf[i] = (uint8_t)tg_next(&g);
	for (int k = 0; k < 300; k++) {
		size_t off = tg_below(&g, 16), n = tg_below(&g, 4097), cut = tg_below(&g, n + 1);
		uint32_t a = svt_crc32c(0, buf + off, n);
		cr_assert_eq(a, svt_crc32c_soft(0, buf + off, n));
		cr_assert_eq(a,
			     svt_crc32c(svt_crc32c(0, buf + off, cut), buf + off + cut, n - cut));
	}
}

Test(trace_codec, varints)
{
	uint8_t b[16];
	const uint8_t *p;
	uint64_t v;
	static const uint64_t vals[] = { 0, 1, 127, 128, 16383, 16384, 1ull << 32, (1ull << 63) - 1,
					 1ull << 63, ~0ull };
	for (size_t i = 0; i < sizeof(vals) / sizeof(vals[0]); i++) {
		size_t n = svt_putv(b, vals[i]);
		p = b;
		cr_assert(svt_getv(&p, b + n, &v) && v == vals[i] && p == b + n);
		p = b;
		cr_assert(!svt_getv(&p, b + n - 1, &v), "truncated varint accepted");
		cr_assert_eq(svt_unzz(svt_zz(vals[i])), vals[i]);
	}
	cr_assert_eq(svt_zz((uint64_t)-1), 1);
	cr_assert_eq(svt_zz(1), 2);
	/* svt_vlen is what svt_putv writes, at every bit length's ends */
	for (unsigned k = 0; k < 64; k++)
		for (uint64_t x = (1ull << k) - 1; x <= (1ull << k); x++)
			cr_assert_eq(svt_vlen(x), svt_putv(b, x), "v %#llx", (unsigned long long)x);
	cr_assert_eq(svt_vlen(~0ull), svt_putv(b, ~0ull));
	cr_assert_eq(svt_vlen(~0ull), 10);
	memset(b, 0xff, 11);            /* 11 bytes: too long */
	p = b;
	cr_assert(!svt_getv(&p, b + 11, &v));
	memset(b, 0x80, 9);             /* 10th byte 2: beyond 64 bits */
	b[9] = 2;
	p = b;
	cr_assert(!svt_getv(&p, b + 10, &v));
}

/*
 * FAULT's appended `ext` (1.5): a fault with the evidence on implicit
 * accesses round-trips; without it the record is a 1.4 record, byte for
 * byte, and the evidence is appended after every 1.4 field (a 1.4 reader
 * reads the rest and ignores it); a 1.4 record reads as no evidence; an
 * unknown bit is bad input.
 */
Test(trace_codec, fault_evidence_appended)
{
	struct svt_trace_event ev = { .type = SVT_TRACE_FAULT }, out;
	struct svt_trace_fault *f = &ev.u.fault;
	uint8_t a[TR_MAX_RECORD], b[TR_MAX_RECORD], membuf[SVT_TRACE_MAX_MEM];
	struct tr_state st;
	const uint8_t *p;
	const char *why = NULL;
	char diff[128];

	f->va = 0x7000123;
	f->error_code = SVT_PFEC_W;
	f->code_bits = 32;
	f->rflags = 0x40202;
	tr_state_reset(&st);
	size_t na = tr_encode(&st, &ev, a);
	f->in_delivery = true;
	f->has_dt = true;
	for (unsigned t = 0; t < SVT_DT_COUNT; t++) {
		f->dt.base[t] = 0xc0001000ull + 0x1000 * t;
		f->dt.limit[t] = t == SVT_DT_TSS ? 0xffffffffu : 0x67;
		f->dt.usable[t] = t != SVT_DT_LDT;
	}
	f->dt.limit[SVT_DT_LDT] = 0;
	cr_assert_null(tr_check_event(&ev));
	tr_state_reset(&st);
	size_t nb = tr_encode(&st, &ev, b);
	cr_assert_gt(nb, na);
	cr_assert(a[1] < 0x80 && b[1] < 0x80, "one-byte lengths");
	cr_assert_eq(memcmp(a + 2, b + 2, na - 2), 0, "the 1.4 fields first, unchanged");
	tr_state_reset(&st);
	p = b;
	cr_assert(tr_decode(&st, &p, b + nb, &out, membuf, &why), "%s", why);
	out.seq = ev.seq;
	cr_assert(tg_event_equal(&ev, &out, diff), "%s", diff);
	tr_state_reset(&st);
	p = a;
	cr_assert(tr_decode(&st, &p, a + na, &out, membuf, &why), "%s", why);
	cr_assert(!out.u.fault.in_delivery && !out.u.fault.has_dt, "a 1.4 record: no evidence");
	b[na] = 0x04;                   /* the first byte after the 1.4 fields: ext */
	tr_state_reset(&st);
	p = b;
	cr_assert(!tr_decode(&st, &p, b + nb, &out, membuf, &why));
	cr_assert_str_eq(why, "FAULT: unknown extension bits");
}

/* The encoding the format's rule picks for a MEM of len bytes at d (len a
 * multiple of 4) against the delta state, and its data bytes: all zeros
 * none; else the smaller of the W64 deltas (len a multiple of 8) and the
 * W32 deltas, W64 on a tie, where smaller than len; else the raw bytes.
 * Sizes counted with svt_putv, word by word. */
static unsigned mem_rule(const uint8_t *d, uint32_t len, uint64_t w64, uint32_t w32, size_t *n)
{
	uint8_t tmp[16];
	size_t n64 = len % 8 == 0 ? 0 : SIZE_MAX, n32 = 0;
	bool zero = true;
	for (uint32_t i = 0; i < len; i += 4) {
		uint32_t v;
		memcpy(&v, d + i, 4);
		zero &= v == 0;
		n32 += svt_putv(tmp, svt_zz((uint64_t)(int64_t)(int32_t)(v - w32)));
		w32 = v;
	}
	for (uint32_t i = 0; n64 != SIZE_MAX && i < len; i += 8) {
		uint64_t v;
		memcpy(&v, d + i, 8);
		n64 += svt_putv(tmp, svt_zz(v - w64));
		w64 = v;
	}
	if (zero) {
		*n = 0;
		return TR_MEM_ZERO;
	}
	if (n64 <= n32 && n64 < len) {
		*n = n64;
		return TR_MEM_W64;
	}
	if (n32 < n64 && n32 < len) {
		*n = n32;
		return TR_MEM_W32;
	}
	*n = len;
	return TR_MEM_RAW;
}

/*
 * MEM encodings (a one-word MEM has straight-line code of its own; longer
 * ones size both word encodings in one pass): for words of every kind,
 * one after another in a frame, the encoding and the size are the rule's
 * (mem_rule), and each record round-trips, so the deltas the next one is
 * coded against agree too.
 */
Test(trace_codec, mem_encodings)
{
	static const uint64_t words[] = {
		0, 1, 0x1007, 0x2007, 0x0000100700002007ull, 0x0040008300000083ull,
		0x8000000012345067ull, 0xffffffffffffffffull, 0x00000000fffff007ull,
		0xfffff00700000000ull, 0x0123456789abcdefull, 0x0000000100000001ull,
	};
	const size_t nw = sizeof(words) / sizeof(words[0]);
	static const uint32_t lens[] = { 8, 4, 12, 16, 24, 64, 512 };
	uint8_t rec[TR_MAX_RECORD], membuf[SVT_TRACE_MAX_MEM], data[512];
	struct tg_rng g = { 77 };
	unsigned seen[4] = { 0 };
	for (size_t li = 0; li < sizeof(lens) / sizeof(lens[0]); li++)
		for (size_t a = 0; a < nw; a++) {
			struct tr_state st, ds;
			tr_state_reset(&st);
			tr_state_reset(&ds);
			uint64_t gpa = 0;
			/* word a, then every word b after it (a run of entries
			 * from it, for the longer lengths) */
			for (size_t b = 0; b < nw; b++) {
				uint32_t len = lens[li];
				for (uint32_t i = 0; i < len; i += 8) {
					uint64_t v = i == 0 ? words[a] : tg_below(&g, 4) == 0 ?
						     words[tg_below(&g, nw)] : words[b] + (i << 9);
					memcpy(data + i, &v, len - i < 8 ? len - i : 8);
				}
				struct svt_trace_event ev = { .type = SVT_TRACE_MEM,
					.u.mem = { .gpa = gpa, .len = len, .data = data } };
				size_t n;
				unsigned want = mem_rule(data, len, st.w64, st.w32, &n);
				seen[want]++;
				size_t rl = tr_encode(&st, &ev, rec);
				/* type, length (a varint), the gpa delta (one
				 * byte: each follows the last), then
				 * (len - 1) << 2 | encoding (one or two bytes) */
				size_t hl = (len - 1) << 2 < 0x80 ? 1 : 2, pl = 1 + hl + n;
				size_t at = pl < 0x80 ? 2 : 3;  /* the payload */
				cr_assert_eq(rec[at + 1] & 3, want,
					     "len %u, words %zu %zu", len, a, b);
				cr_assert_eq(rl, at + pl, "len %u, words %zu %zu", len, a, b);
				const uint8_t *p = rec;
				const char *why = NULL;
				struct svt_trace_event out;
				cr_assert(tr_decode(&ds, &p, rec + rl, &out, membuf, &why), "%s",
					  why);
				cr_assert(p == rec + rl && out.type == SVT_TRACE_MEM &&
					  out.u.mem.len == len && out.u.mem.gpa == gpa &&
					  memcmp(out.u.mem.data, data, len) == 0);
				cr_assert(ds.w64 == st.w64 && ds.w32 == st.w32,
					  "the delta state agrees");
				gpa += len;
			}
		}
	for (unsigned e = 0; e < 4; e++)
		cr_assert_gt(seen[e], 0, "encoding %u met", e);
}

Test(trace_roundtrip, each_type)
{
	for (int t = 0; t < SVT_TRACE_NTYPES; t++) {
		struct tg_events e = { 0 };
		struct tg_rng g = { 1000 + (uint64_t)t };
		struct svt_trace_info info;
		for (int i = 0; i < 400; i++)
			tg_random_event(&g, t, &e);
		roundtrip(&e, 0, 0, &info);
		cr_assert_eq(info.counts[t], 400, "type %d", t);
		roundtrip(&e, 3, 300, NULL);
		tg_free(&e);
	}
}

Test(trace_roundtrip, mixed_frame_sizes)
{
	struct tg_events e = { 0 };
	struct svt_trace_info info;
	tg_random_events(42, 20000, &e);
	roundtrip(&e, 1, 0, &info);
	uint64_t frames_default = info.frames;
	roundtrip(&e, 1, 64, &info);
	cr_assert_gt(info.frames, 1000, "frames %llu", (unsigned long long)info.frames);
	struct tg_buf b = { 0 };
	struct svt_trace_error err;
	cr_assert_eq(tg_write(&e, 1, 777, &b), 0);
	struct svt_trace_reader *r = svt_trace_open_mem(b.p, b.n, "mem", 0, &err);
	cr_assert_eq(svt_trace_reader_header(r)->frame_size, 777);
	svt_trace_close(r);
	free(b.p);
	cr_assert_lt(frames_default, info.frames);
	roundtrip(&e, 2, 1000, NULL);
	roundtrip(&e, 3, 4096 + 7, NULL);
	tg_free(&e);
}

Test(trace_roundtrip, levels)
{
	struct tg_events e = { 0 };
	struct svt_trace_info info;
	static const int levels[] = { 0, 1, 2, 3, 9, 19 };
	uint64_t size[6];
	tg_guest_events(5, 50000, &e);
	for (int i = 0; i < 6; i++) {
		roundtrip(&e, levels[i], 0, &info);
		size[i] = info.file_size;
	}
	cr_assert_lt(size[1], size[0] / 2, "level 1 does not compress: %llu vs %llu",
		     (unsigned long long)size[1], (unsigned long long)size[0]);
	cr_assert_leq(size[5], size[1]);
	tg_free(&e);
}

static size_t covering(const struct tg_events *e, uint64_t seq)
{
	size_t lo = 0, hi = e->n;
	while (hi - lo > 1) {
		size_t mid = (lo + hi) / 2;
		if (e->ev[mid].seq <= seq)
			lo = mid;
		else
			hi = mid;
	}
	return lo;
}

static void seek_check(const struct tg_buf *b, const struct tg_events *e, bool want_index)
{
	struct svt_trace_error err;
	struct svt_trace_event ev;
	char why[128];
	struct tg_rng g = { 99 };
	struct svt_trace_reader *r = svt_trace_open_mem(b->p, b->n, "mem", 0, &err);
	cr_assert_not_null(r, "%s", err.msg);
	cr_assert_eq(svt_trace_reader_warning(r) == NULL, want_index);
	for (int k = 0; k < 1500; k++) {
		uint64_t seq = k < 3 ? (uint64_t)k : tg_below(&g, e->next_seq);
		if (k % 7 == 0)        /* the exact start of an event */
			seq = e->ev[tg_below(&g, e->n)].seq;
		int rc = svt_trace_seek(r, seq);
		cr_assert_eq(rc, 0, "seek %llu: %s", (unsigned long long)seq,
			     svt_trace_reader_error(r)->msg);
		size_t i = covering(e, seq);
		for (size_t j = i; j < i + 3 && j < e->n; j++) {
			rc = svt_trace_next(r, &ev);
			cr_assert_eq(rc, 0, "%s", svt_trace_reader_error(r)->msg);
			cr_assert(tg_event_equal(&e->ev[j], &ev, why), "seek %llu, event %zu: %s",
				  (unsigned long long)seq, j, why);
		}
	}
	cr_assert_eq(svt_trace_seek(r, e->next_seq), 0);
	int rc = svt_trace_next(r, &ev);
	cr_assert_eq(rc, want_index ? SVT_TRACE_END : SVT_TRACE_EINPUT);
	cr_assert_eq(svt_trace_seek(r, e->next_seq + 1), SVT_TRACE_EARG);
	cr_assert_eq(svt_trace_next(r, &ev), SVT_TRACE_EARG, "a failed seek is sticky");
	cr_assert_eq(svt_trace_seek(r, 0), 0);
	cr_assert_eq(svt_trace_next(r, &ev), 0);
	cr_assert(tg_event_equal(&e->ev[0], &ev, why), "%s", why);
	svt_trace_close(r);
}

Test(trace_seek, equals_sequential)
{
	struct tg_events e = { 0 };
	struct tg_buf b = { 0 };
	tg_random_events(77, 6000, &e);
	cr_assert_eq(tg_write(&e, 1, 256, &b), 0);
	seek_check(&b, &e, true);
	/* Without a trailer the reader seeks by scanning frame headers. */
	b.p[b.n - 1] ^= 0xff;
	seek_check(&b, &e, false);
	free(b.p);
	tg_free(&e);
}

Test(trace_seek, into_lost_ranges)
{
	struct tg_events e = { 0 };
	struct tg_buf b = { 0 };
	struct svt_trace_event ev = { .type = SVT_TRACE_FLUSH_ALL };
	struct svt_trace_error err;
	tg_push(&e, &ev);
	ev.type = SVT_TRACE_LOST;
	ev.u.lost.count = 1000;
	ev.u.lost.reason = SVT_TRACE_LOST_BUFFER;
	tg_push(&e, &ev);
	memset(&ev, 0, sizeof(ev));
	ev.type = SVT_TRACE_INVLPG;
	ev.u.invlpg_va = 0x1000;
	tg_push(&e, &ev);
	cr_assert_eq(tg_write(&e, 3, 0, &b), 0);
	struct svt_trace_reader *r = svt_trace_open_mem(b.p, b.n, "mem", 0, &err);
	cr_assert_not_null(r);
	cr_assert_eq(svt_trace_seek(r, 500), 0);
	cr_assert_eq(svt_trace_next(r, &ev), 0);
	cr_assert(ev.type == SVT_TRACE_LOST && ev.seq == 1 && ev.u.lost.count == 1000);
	cr_assert_eq(svt_trace_next(r, &ev), 0);
	cr_assert(ev.type == SVT_TRACE_INVLPG && ev.seq == 1001);
	struct svt_trace_info info;
	svt_trace_info(r, &info);
	cr_assert(info.events == 1002 && info.records == 3 && info.lost == 1000);
	svt_trace_close(r);
	free(b.p);
	tg_free(&e);
}

static int refuse_sink(void *ctx, const void *buf, size_t len)
{
	(void)ctx, (void)buf, (void)len;
	return -1;
}

Test(trace_writer, file_stream_and_sink_agree)
{
	struct tg_events e = { 0 };
	struct tg_buf b = { 0 };
	struct svt_trace_header h;
	struct svt_trace_error err;
	char path[] = "/tmp/test-trace-XXXXXX";
	int fd = mkstemp(path);
	cr_assert_geq(fd, 0);
	close(fd);
	tg_header(&h);
	tg_random_events(3, 3000, &e);
	cr_assert_eq(tg_write(&e, 2, 0, &b), 0);

	struct svt_trace_writer *w = svt_trace_writer_open(path, &h, 2, &err);
	cr_assert_not_null(w, "%s", err.msg);
	for (size_t i = 0; i < e.n; i++)
		cr_assert_eq(svt_trace_write(w, &e.ev[i]), 0);
	cr_assert_eq(svt_trace_writer_seq(w), e.next_seq);
	cr_assert_eq(svt_trace_writer_close(w, &err), 0, "%s", err.msg);
	FILE *f = fopen(path, "rb");
	uint8_t *copy = malloc(b.n + 1);
	cr_assert_eq(fread(copy, 1, b.n + 1, f), b.n);
	fclose(f);
	cr_assert(memcmp(copy, b.p, b.n) == 0, "the file differs from the sink's bytes");

	f = tmpfile();
	w = svt_trace_writer_open_file(f, "tmpfile", &h, 2, &err);
	for (size_t i = 0; i < e.n; i++)
		cr_assert_eq(svt_trace_write(w, &e.ev[i]), 0);
	cr_assert_eq(svt_trace_writer_close(w, &err), 0);
	rewind(f);
	cr_assert_eq(fread(copy, 1, b.n + 1, f), b.n);
	cr_assert(memcmp(copy, b.p, b.n) == 0, "the FILE * output differs");
	fclose(f);

	struct svt_trace_reader *r = svt_trace_open(path, 0, &err);
	cr_assert_not_null(r, "%s", err.msg);
	struct svt_trace_event ev;
	char why[128];
	for (size_t i = 0; i < e.n; i++) {
		cr_assert_eq(svt_trace_next(r, &ev), 0, "%s", svt_trace_reader_error(r)->msg);
		cr_assert(tg_event_equal(&e.ev[i], &ev, why), "%zu: %s", i, why);
	}
	cr_assert_eq(svt_trace_next(r, &ev), SVT_TRACE_END);
	cr_assert_eq(svt_trace_seek(r, e.ev[e.n / 2].seq), 0);
	cr_assert_eq(svt_trace_next(r, &ev), 0);
	cr_assert(tg_event_equal(&e.ev[e.n / 2], &ev, why), "%s", why);
	svt_trace_close(r);
	unlink(path);
	free(copy);
	free(b.p);

	w = svt_trace_writer_open_sink(refuse_sink, NULL, "refused", &h, 1, &err);
	cr_assert_not_null(w);
	cr_assert_eq(svt_trace_write(w, &e.ev[0]), 0, "nothing written yet");
	cr_assert_eq(svt_trace_writer_flush(w), SVT_TRACE_EIO);
	cr_assert_eq(svt_trace_write(w, &e.ev[0]), SVT_TRACE_EIO, "an I/O failure is final");
	cr_assert_eq(svt_trace_writer_close(w, &err), SVT_TRACE_EIO);
	cr_assert(strstr(err.msg, "refused: offset 0: write failed") != NULL, "%s", err.msg);
	w = svt_trace_writer_open("/nonexistent-dir/x.svt", &h, 1, &err);
	cr_assert_null(w);
	cr_assert_eq(err.status, SVT_TRACE_EIO);
	tg_free(&e);
}

Test(trace_writer, header_fields)
{
	struct svt_trace_header h;
	struct svt_trace_error err;
	struct tg_buf b = { 0 };
	struct svt_mmu_config cfg;
	tg_header(&h);
	h.guest = "Linux 6.1 \"tiny\" \x01\xc3\xa9";
	h.links = 9999;
	struct svt_trace_writer *w = svt_trace_writer_open_sink(tg_sink, &b, "mem", &h, 0, &err);
	cr_assert_not_null(w);
	cr_assert_eq(svt_trace_writer_close(w, &err), 0);
	struct svt_trace_reader *r = svt_trace_open_mem(b.p, b.n, "mem", 0, &err);
	cr_assert_not_null(r, "%s", err.msg);
	const struct svt_trace_header *g = svt_trace_reader_header(r);
	cr_assert_eq(g->major, SVT_TRACE_MAJOR);
	cr_assert_eq(g->minor, SVT_TRACE_MINOR);
	cr_assert_str_eq(g->producer, h.producer);
	cr_assert_str_eq(g->cpu_model, h.cpu_model);
	cr_assert_str_eq(g->guest, h.guest);
	cr_assert(g->maxphyaddr == 46 && g->features == SVT_FEAT_1GPAGE &&
		  g->guest_frames == 16384);
	cr_assert_eq(g->nram, 3);
	for (size_t i = 0; i < 3; i++)
		cr_assert(g->ram[i].gfn == h.ram[i].gfn && g->ram[i].count == h.ram[i].count);
	cr_assert(g->policy.oos == 2 && g->policy.prefetch == 8 && g->policy.early_unshadow &&
		  g->policy.emulate);
	cr_assert(g->pool_frames == 512 && g->links == 9999 && g->root_cache == 4);
	cr_assert_eq(g->frame_size, SVT_TRACE_FRAME_DEFAULT);
	svt_trace_mmu_config(g, &cfg);
	cr_assert(cfg.pool_frames == 512 && cfg.guest_frames == 16384 && cfg.maxphyaddr == 46 &&
		  cfg.policy.prefetch == 8 && cfg.links == 9999);
	struct svt_trace_event ev;
	cr_assert_eq(svt_trace_next(r, &ev), SVT_TRACE_END, "an empty trace ends at once");
	struct svt_trace_info info;
	svt_trace_info(r, &info);
	cr_assert(info.frames == 0 && info.events == 0 && info.indexed);
	cr_assert_eq(g->evidence, 0, "no EVIDENCE field: none");
	svt_trace_close(r);
	free(b.p);

	/* EVIDENCE: written when nonzero, bits a reader does not know kept */
	h.evidence = SVT_EVIDENCE_WALK | (1u << 7);
	memset(&b, 0, sizeof(b));
	w = svt_trace_writer_open_sink(tg_sink, &b, "mem", &h, 0, &err);
	cr_assert_not_null(w);
	cr_assert_eq(svt_trace_writer_close(w, &err), 0);
	r = svt_trace_open_mem(b.p, b.n, "mem", 0, &err);
	cr_assert_not_null(r, "%s", err.msg);
	cr_assert_eq(svt_trace_reader_header(r)->evidence, SVT_EVIDENCE_WALK | (1u << 7));
	cr_assert_eq(svt_trace_reader_header(r)->frame_size, SVT_TRACE_FRAME_DEFAULT,
		     "FRAME_SIZE stays last and patchable");
	svt_trace_close(r);
	free(b.p);
}

/* DEVICE ranges: round trip, and the writer refuses ones that overlap RAM,
 * are unsorted or lie beyond MAXPHYADDR. */
Test(trace_writer, device_ranges)
{
	struct svt_trace_header h;
	struct svt_trace_error err;
	struct tg_buf b = { 0 };
	/* tg_header's RAM: [0,160) [256,4096) [8192,16384) */
	const struct svt_trace_range dev[] = { { 160, 96 }, { 16384, 1 }, { 0xfee00, 1 } };
	tg_header(&h);
	h.devices = dev;
	h.ndevices = 3;
	struct svt_trace_writer *w = svt_trace_writer_open_sink(tg_sink, &b, "mem", &h, 0, &err);
	cr_assert_not_null(w, "%s", err.msg);
	cr_assert_eq(svt_trace_writer_close(w, &err), 0);
	struct svt_trace_reader *r = svt_trace_open_mem(b.p, b.n, "mem", 0, &err);
	cr_assert_not_null(r, "%s", err.msg);
	const struct svt_trace_header *g = svt_trace_reader_header(r);
	cr_assert_eq(g->ndevices, 3);
	for (size_t i = 0; i < 3; i++)
		cr_assert(g->devices[i].gfn == dev[i].gfn && g->devices[i].count == dev[i].count);
	cr_assert_eq(g->nram, 3, "RAM still read beside DEVICE");
	svt_trace_close(r);
	free(b.p);

	const struct svt_trace_range overlap[] = { { 150, 20 } },
		unsorted[] = { { 200, 5 }, { 170, 5 } }, beyond[] = { { 1ull << 34, 1 } };
	const struct { const struct svt_trace_range *r; const char *why; } bad[] = {
		{ overlap, "overlaps RAM" }, { unsorted, "not sorted" },
		{ beyond, "beyond MAXPHYADDR" },
	};
	for (size_t i = 0; i < 3; i++) {
		struct svt_trace_header hh = h;
		hh.devices = bad[i].r;
		hh.ndevices = bad[i].r == unsorted ? 2 : 1;
		b.n = 0;
		cr_assert_null(svt_trace_writer_open_sink(tg_sink, &b, "x", &hh, 1, &err));
		cr_assert(strstr(err.msg, bad[i].why) != NULL, "%s: %s", bad[i].why, err.msg);
	}
}

Test(trace_writer, refuses_invalid)
{
	struct svt_trace_header h;
	struct svt_trace_error err;
	struct tg_buf b = { 0 };
	struct svt_trace_range bad_ram[] = { { 10, 5 }, { 12, 1 } };
	tg_header(&h);
	struct svt_trace_header hh = h;
	hh.maxphyaddr = 60;
	cr_assert_null(svt_trace_writer_open_sink(tg_sink, &b, "x", &hh, 1, &err));
	cr_assert_eq(err.status, SVT_TRACE_EARG);
	cr_assert(strstr(err.msg, "MAXPHYADDR") != NULL, "%s", err.msg);
	hh = h;
	hh.ram = bad_ram;
	hh.nram = 2;
	cr_assert_null(svt_trace_writer_open_sink(tg_sink, &b, "x", &hh, 1, &err));
	hh = h;
	hh.pool_frames = 3;
	cr_assert_null(svt_trace_writer_open_sink(tg_sink, &b, "x", &hh, 1, &err));
	cr_assert_null(svt_trace_writer_open_sink(tg_sink, &b, "x", &h, 99, &err));
	cr_assert_eq(b.n, 0);

	struct svt_trace_writer *w = svt_trace_writer_open_sink(tg_sink, &b, "x", &h, 1, &err);
	cr_assert_not_null(w);
	struct svt_trace_event ev;
	memset(&ev, 0, sizeof(ev));
	ev.type = SVT_TRACE_FAULT;
	ev.u.fault.code_bits = 48;
	cr_assert_eq(svt_trace_write(w, &ev), SVT_TRACE_EARG);
	cr_assert(strstr(svt_trace_writer_error(w)->msg, "code_bits") != NULL);
	ev.u.fault.code_bits = 64;
	ev.u.fault.insn_len = 16;
	cr_assert_eq(svt_trace_write(w, &ev), SVT_TRACE_EARG);
	memset(&ev, 0, sizeof(ev));
	ev.type = SVT_TRACE_MEM;
	ev.u.mem.len = 4097;
	cr_assert_eq(svt_trace_write(w, &ev), SVT_TRACE_EARG);
	ev.type = SVT_TRACE_LOST;
	ev.u.lost.count = 0;
	cr_assert_eq(svt_trace_write(w, &ev), SVT_TRACE_EARG);
	memset(&ev, 0, sizeof(ev));
	ev.type = SVT_TRACE_DECISION;
	ev.u.decision.input = SVT_TRACE_CR_WRITE;
	ev.u.decision.outcome = SVT_PF_INJECT;
	cr_assert_eq(svt_trace_write(w, &ev), SVT_TRACE_EARG);
	memset(&ev, 0, sizeof(ev));
	ev.type = SVT_TRACE_MARK;
	ev.u.mark.len = 3;
	memcpy(ev.u.mark.text, "a\0b", 3);
	cr_assert_eq(svt_trace_write(w, &ev), SVT_TRACE_EARG);
	ev.type = (enum svt_trace_type)42;
	cr_assert_eq(svt_trace_write(w, &ev), SVT_TRACE_EARG);
	ev.type = SVT_TRACE_FLUSH_ALL;
	cr_assert_eq(svt_trace_write(w, &ev), 0, "the writer stays usable after a refusal");
	cr_assert_eq(svt_trace_writer_set_frame_size(w, 4096), SVT_TRACE_EARG);
	cr_assert_eq(svt_trace_writer_flush(w), 0);
	cr_assert_eq(svt_trace_write(w, &ev), 0);
	cr_assert_eq(svt_trace_writer_close(w, &err), 0, "%s", err.msg);

	struct svt_trace_reader *r = svt_trace_open_mem(b.p, b.n, "x", 0, &err);
	struct svt_trace_info info;
	svt_trace_info(r, &info);
	cr_assert(info.events == 2 && info.frames == 2, "flush ends a frame");
	svt_trace_close(r);
	free(b.p);
}

Test(trace_reader, unknown_types_reported_and_counted)
{
	struct tg_events e = { 0 };
	struct tg_rng g = { 5 };
	struct tg_buf b = { 0 };
	struct svt_trace_error err;
	struct svt_trace_event ev;
	for (int i = 0; i < 300; i++)
		tg_random_event(&g, i % 3 == 0 ? SVT_TRACE_UNKNOWN : -1, &e);
	cr_assert_eq(tg_write(&e, 1, 500, &b), 0);
	struct svt_trace_reader *r = svt_trace_open_mem(b.p, b.n, "mem", 0, &err);
	uint64_t unknown = 0;
	while (svt_trace_next(r, &ev) == SVT_TRACE_OK)
		if (ev.type == SVT_TRACE_UNKNOWN) {
			cr_assert_geq(ev.u.unknown.type, SVT_TRACE_NTYPES);
			unknown++;
		}
	cr_assert_eq(svt_trace_reader_error(r)->status, 0);
	struct svt_trace_info info;
	svt_trace_info(r, &info);
	cr_assert_geq(unknown, 100);
	cr_assert_eq(info.unknown_seen, unknown);
	cr_assert_eq(info.counts[0], unknown);
	svt_trace_close(r);
	free(b.p);
	tg_free(&e);
}
