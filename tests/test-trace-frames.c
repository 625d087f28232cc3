/*
 * test-trace-frames.c — hand-built traces: headers and frames assembled
 * byte by byte (with correct checksums, so the checks behind the checksums
 * are what is tested): records running past their frame, the reserved
 * type 0, unknown types skipped, record and event counts that do not
 * match the frame header, gaps and overlaps between frames, absurd sizes
 * and counts in the file header and frame headers, and a zstd frame whose
 * size disagrees with its header.
 */
#define _POSIX_C_SOURCE 200809L
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "trace-gen.h"
#include "trace_int.h"

struct raw {
	const uint8_t *content;
	size_t len;
	uint32_t nrec;
	uint64_t first_seq, nseq;
	bool zstd;
};

static void put(struct tg_buf *b, const void *p, size_t n)
{
	cr_assert_eq(tg_sink(b, p, n), 0);
}

/* Records per type in a content, walking type and length varints. */
static void count_types(const struct raw *f, uint64_t *counts)
{
	const uint8_t *p = f->content, *end = p + f->len;
	uint64_t t, l;
	while (p < end && svt_getv(&p, end, &t) && svt_getv(&p, end, &l) &&
	       l <= (uint64_t)(end - p)) {
		counts[t < SVT_TRACE_NTYPES ? t : 0]++;
		p += l;
	}
}

/* A trace of the standard header and these frames, with index and trailer. */
static void build(struct tg_buf *b, const struct raw *fr, int n)
{
	struct svt_trace_header h;
	struct tr_trailer t = { 0 };
	struct tr_index_entry ix[8];
	uint8_t *hdr, fh[TR_FRAME_HDR];
	size_t hlen;

	tg_header(&h);
	cr_assert(tr_header_encode(&h, 4096, &hdr, &hlen));
	put(b, hdr, hlen);
	free(hdr);
	for (int i = 0; i < n; i++) {
		struct tr_frame f = { 0 };
		uint8_t z[1024];
		const uint8_t *stored = fr[i].content;
		f.content_size = (uint32_t)fr[i].len;
		f.stored_size = (uint32_t)fr[i].len;
		f.first_seq = fr[i].first_seq;
		f.nseq = fr[i].nseq;
		f.nrec = fr[i].nrec;
		f.content_crc = svt_crc32c(0, fr[i].content, fr[i].len);
		if (fr[i].zstd) {
			size_t zn = ZSTD_compress(z, sizeof(z), fr[i].content, fr[i].len, 1);
			cr_assert(!ZSTD_isError(zn));
			f.method = TR_METHOD_ZSTD;
			f.stored_size = (uint32_t)zn;
			stored = z;
		}
		f.stored_crc = svt_crc32c(0, stored, f.stored_size);
		tr_frame_encode(&f, fh);
		ix[i].offset = b->n;
		ix[i].first_seq = f.first_seq;
		put(b, fh, TR_FRAME_HDR);
		put(b, stored, f.stored_size);
		t.records += f.nrec;
		t.events = f.first_seq + f.nseq;
		count_types(&fr[i], t.counts);
	}
	uint8_t tail[1024];
	t.frames = (uint64_t)n;
	t.index_offset = b->n;
	t.index_size = TR_INDEX_FIXED + 16 * (uint64_t)n + 4;
	t.ntypes = SVT_TRACE_NTYPES;
	tr_index_encode(ix, (uint64_t)n, tail);
	put(b, tail, (size_t)t.index_size);
	tr_trailer_encode(&t, tail);
	put(b, tail, tr_trailer_size(t.ntypes));
}

/* Read all; return the status, the events in evs (up to 8). */
static int read_all(const struct tg_buf *b, struct svt_trace_event *evs, size_t *n,
		    struct svt_trace_error *err)
{
	uint8_t *copy = malloc(b->n);
	memcpy(copy, b->p, b->n);
	struct svt_trace_reader *r = svt_trace_open_mem(copy, b->n, "hand.svt", 0, err);
	int rc;
	*n = 0;
	if (r == NULL) {
		free(copy);
		return err->status;
	}
	struct svt_trace_event ev;
	while ((rc = svt_trace_next(r, &ev)) == SVT_TRACE_OK) {
		if (ev.type == SVT_TRACE_UNKNOWN)
			ev.u.unknown.data = NULL;       /* points into the reader */
		if (*n < 8)
			evs[*n] = ev;
		(*n)++;
	}
	*err = *svt_trace_reader_error(r);
	svt_trace_close(r);
	free(copy);
	return rc;
}

static void expect_error(const uint8_t *content, size_t len, uint32_t nrec, uint64_t nseq,
			 const char *what)
{
	struct tg_buf b = { 0 };
	struct raw f = { content, len, nrec, 0, nseq, false };
	struct svt_trace_event evs[8];
	struct svt_trace_error err;
	size_t n;
	build(&b, &f, 1);
	cr_assert_eq(read_all(&b, evs, &n, &err), SVT_TRACE_EINPUT, "%s: %s", what, err.msg);
	cr_assert(strstr(err.msg, what) != NULL, "want \"%s\", got: %s", what, err.msg);
	cr_assert(strncmp(err.msg, "hand.svt: frame 0, offset ", 26) == 0, "%s", err.msg);
	cr_assert(strstr(err.msg, "event ") != NULL, "%s", err.msg);
	free(b.p);
}

/* One frame of three records c[0..len) (sequence numbers 0 to 2), read
 * back whole into evs. */
static void read_three(const uint8_t *c, size_t len, bool zstd, struct svt_trace_event evs[8])
{
	struct raw f = { c, len, 3, 0, 3, zstd };
	struct tg_buf b = { 0 };
	struct svt_trace_error err;
	size_t n;
	build(&b, &f, 1);
	cr_assert_eq(read_all(&b, evs, &n, &err), SVT_TRACE_END, "%s", err.msg);
	cr_assert_eq(n, 3);
	free(b.p);
}

Test(trace_frames, good_and_unknown_types)
{
	/* FLUSH_ALL; type 200 with two bytes; INVLPG 0x1000 (zigzag 0x2000). */
	static const uint8_t c[] = { 5, 0, 0xc8, 0x01, 2, 0xaa, 0xbb, 3, 2, 0x80, 0x40 };
	struct svt_trace_event evs[8];
	read_three(c, sizeof(c), false, evs);
	cr_assert(evs[0].type == SVT_TRACE_FLUSH_ALL && evs[0].seq == 0);
	cr_assert(evs[1].type == SVT_TRACE_UNKNOWN && evs[1].u.unknown.type == 200 &&
		  evs[1].u.unknown.len == 2 && evs[1].seq == 1);
	cr_assert(evs[2].type == SVT_TRACE_INVLPG && evs[2].u.invlpg_va == 0x1000 &&
		  evs[2].seq == 2);
	read_three(c, sizeof(c), true, evs);      /* the same, compressed */
}

/* STEP_DONE (1.6): an empty payload; bytes a later minor may append are
 * skipped, and it takes one sequence number like any record. */
Test(trace_frames, step_done)
{
	/* STEP_DONE; STEP_DONE with three bytes; FLUSH_ALL */
	static const uint8_t c[] = { 12, 0, 12, 3, 1, 2, 3, 5, 0 };
	struct svt_trace_event evs[8];
	read_three(c, sizeof(c), false, evs);
	cr_assert(evs[0].type == SVT_TRACE_STEP_DONE && evs[0].seq == 0);
	cr_assert(evs[1].type == SVT_TRACE_STEP_DONE && evs[1].seq == 1);
	cr_assert(evs[2].type == SVT_TRACE_FLUSH_ALL && evs[2].seq == 2);
}

Test(trace_frames, bad_records)
{
	static const uint8_t past[] = { 5, 50 };
	expect_error(past, 2, 1, 1, "record length runs past the frame");
	static const uint8_t zero[] = { 0, 0 };
	expect_error(zero, 2, 1, 1, "record type 0 is reserved");
	static const uint8_t trunc_type[] = { 5, 0, 0x80, 0x80 };
	expect_error(trunc_type, 4, 2, 2, "record type runs past the frame");
	static const uint8_t mem_long[] = { 6, 4, 0, 0x80, 0x80, 0x01 };       /* 4096 << 2 */
	expect_error(mem_long, 6, 1, 1, "MEM: length above 4096");
	static const uint8_t mem_short[] = { 6, 4, 0, 0x1c, 1, 2 };    /* raw, 8 bytes, 2 given */
	expect_error(mem_short, 6, 1, 1, "MEM: data runs past the record");
	static const uint8_t mode[] = { 1, 3, TR_F_MODE, 0, 0x0c };      /* code size 3 */
	expect_error(mode, 5, 1, 1, "FAULT: bad mode byte");
	static const uint8_t insn[] = { 1, 4, TR_F_INSN, 0, 16, 0 };
	expect_error(insn, 6, 1, 1, "FAULT: instruction longer than 15 bytes");
	static const uint8_t lost0[] = { 8, 2, 0, 0 };
	expect_error(lost0, 4, 1, 1, "LOST: count 0");
	static const uint8_t gap[] = { 8, 2, 1, 3 };                    /* reason GAP stored */
	expect_error(gap, 4, 1, 1, "LOST: bad reason");
	static const uint8_t dec[] = { 7, 1, 3 };                       /* input INVLPG */
	expect_error(dec, 3, 1, 1, "DECISION: input is not FAULT");
	static const uint8_t cr[] = { 2, 2, 9, 0 };
	expect_error(cr, 4, 1, 1, "CR_WRITE: unknown register");
	static const uint8_t mark[] = { 9, 5, 0, 0, 2, 'a', 0 };
	expect_error(mark, 7, 1, 1, "MARK: NUL in text");
	static const uint8_t kind6[] = { 10, 2, 6, 0 };
	expect_error(kind6, 4, 1, 1, "GUEST: unknown kind");
	static const uint8_t pkru33[] = { 10, 6, 5, 0x80, 0x80, 0x80, 0x80, 0x10 };     /* 2^32 */
	expect_error(pkru33, 8, 1, 1, "GUEST: PKRU above 32 bits");
	static const uint8_t pkru_cpl[] = { 10, 3, 0xc5, 0x01, 0 };      /* head 5 | CPL 3 << 6 */
	expect_error(pkru_cpl, 5, 1, 1,
		     "GUEST: cpl or an injected fault on an action that is no access");
}

/* GUEST kind 5, PKRU: no address, its value a varint; the next access's
 * address is a delta from the access before the PKRU record. */
Test(trace_frames, guest_pkru)
{
	static const uint8_t c[] = {
		10, 3, 0, 0x80, 0x40,                           /* READ va 0x1000 cpl 0 */
		10, 6, 5, 0xd4, 0xaa, 0xd5, 0xaa, 0x05,         /* PKRU 0x55555554 */
		10, 4, 0xc0, 0x01, 0x80, 0x40,                  /* READ va 0x2000 cpl 3 */
	};
	struct svt_trace_event evs[8];
	read_three(c, sizeof(c), false, evs);
	cr_assert(evs[1].type == SVT_TRACE_GUEST && evs[1].u.guest.kind == SVT_GUEST_PKRU &&
		  evs[1].u.guest.val[0] == 0x55555554u && evs[1].u.guest.va == 0 &&
		  evs[1].u.guest.cpl == 0 && evs[1].seq == 1);
	cr_assert(evs[2].u.guest.kind == SVT_GUEST_READ && evs[2].u.guest.va == 0x2000 &&
		  evs[2].u.guest.cpl == 3);
}

Test(trace_frames, counts_gaps_overlaps)
{
	static const uint8_t two[] = { 5, 0, 5, 0 };
	expect_error(two, 4, 1, 2, "frame holds more records than its header's 1");
	expect_error(two, 4, 2, 3, "frame header says 2 records covering 3 events");
	static const uint8_t lost[] = { 8, 2, 5, 1 };
	expect_error(lost, 4, 1, 1, "cover more events than its header's 1");

	static const uint8_t one[] = { 5, 0 };
	struct raw f[2] = { { one, 2, 1, 0, 1, false }, { one, 2, 1, 10, 1, true } };
	struct tg_buf b = { 0 };
	struct svt_trace_event evs[8];
	struct svt_trace_error err;
	size_t n;
	build(&b, f, 2);
	cr_assert_eq(read_all(&b, evs, &n, &err), SVT_TRACE_END, "%s", err.msg);
	cr_assert_eq(n, 3);
	cr_assert(evs[1].type == SVT_TRACE_LOST && evs[1].seq == 1 && evs[1].u.lost.count == 9 &&
		  evs[1].u.lost.reason == SVT_TRACE_LOST_GAP, "a gap is reported as LOST");
	cr_assert(evs[2].type == SVT_TRACE_FLUSH_ALL && evs[2].seq == 10);
	free(b.p);

	memset(&b, 0, sizeof(b));
	f[1].first_seq = 0;
	build(&b, f, 2);
	cr_assert_eq(read_all(&b, evs, &n, &err), SVT_TRACE_EINPUT);
	cr_assert(strstr(err.msg, "before the end of the frame before it") != NULL, "%s", err.msg);
	free(b.p);
}

/* A trace whose first frame header is edited (and its checksum redone). */
static void frame_header_error(void (*edit)(uint8_t *fh), const char *what)
{
	static const uint8_t one[] = { 5, 0 };
	struct raw f = { one, 2, 1, 0, 1, false };
	struct tg_buf b = { 0 };
	struct svt_trace_event evs[8];
	struct svt_trace_error err;
	size_t n;
	build(&b, &f, 1);
	uint8_t *fh = b.p + svt_get32(b.p + 12);
	edit(fh);
	svt_put32(fh + 44, svt_crc32c(0, fh, 44));
	cr_assert_eq(read_all(&b, evs, &n, &err), SVT_TRACE_EINPUT);
	cr_assert(strstr(err.msg, what) != NULL, "want \"%s\", got: %s", what, err.msg);
	cr_assert(strstr(err.msg, "frame 0, offset") != NULL, "%s", err.msg);
	free(b.p);
}

static void huge_content(uint8_t *fh) { svt_put32(fh + 12, 1u << 30); }
static void huge_stored(uint8_t *fh) { svt_put32(fh + 8, 1000000); svt_put32(fh + 12, 1000000); }
static void huge_nrec(uint8_t *fh) { svt_put32(fh + 32, 1000); }
static void no_nrec(uint8_t *fh) { svt_put32(fh + 32, 0); }
static void method(uint8_t *fh) { fh[4] = 7; }
static void reserved(uint8_t *fh) { fh[6] = 1; }
static void seq_wrap(uint8_t *fh) { svt_put64(fh + 16, ~0ull); }

Test(trace_frames, absurd_frame_headers)
{
	frame_header_error(huge_content, "frame content larger than 16 MiB");
	frame_header_error(huge_stored, "runs past the end");
	frame_header_error(huge_nrec, "record count larger than its content");
	frame_header_error(no_nrec, "frame holds no records");
	frame_header_error(method, "unknown frame compression method");
	frame_header_error(reserved, "reserved frame header bytes");
	frame_header_error(seq_wrap, "event numbers overflow");
}

/* A header of these fields (tag, length, payload already in f), checksummed. */
static int header_status(const uint8_t *fields, size_t flen, uint32_t size_override,
			 struct svt_trace_error *err)
{
	struct tg_buf b = { 0 };
	uint8_t fixed[TR_FILE_FIXED], crc[4];
	memcpy(fixed, svt_trace_file_magic, 8);
	svt_put16(fixed + 8, 1);
	svt_put16(fixed + 10, 0);
	svt_put32(fixed + 12, size_override ? size_override : (uint32_t)(TR_FILE_FIXED + flen + 4));
	put(&b, fixed, sizeof(fixed));
	put(&b, fields, flen);
	svt_put32(crc, svt_crc32c(0, b.p, b.n));
	put(&b, crc, 4);
	struct svt_trace_reader *r = svt_trace_open_mem(b.p, b.n, "hdr.svt", 0, err);
	int rc = r ? SVT_TRACE_OK : err->status;
	svt_trace_close(r);
	free(b.p);
	return rc;
}

#define MACHINE 4, 3, 46, 0, 1
#define POLICY  6, 6, 0, 0, 0, 16, 0, 0

Test(trace_frames, absurd_headers)
{
	struct svt_trace_error err;
	static const uint8_t good[] = { MACHINE, 5, 1, 0, POLICY };
	cr_assert_eq(header_status(good, sizeof(good), 0, &err), SVT_TRACE_OK, "%s", err.msg);
	static const uint8_t unknown_tag[] = { MACHINE, 5, 1, 0, POLICY, 99, 2, 1, 2 };
	cr_assert_eq(header_status(unknown_tag, sizeof(unknown_tag), 0, &err), SVT_TRACE_OK);

	static const struct { uint8_t f[24]; size_t n; const char *what; } cases[] = {
		{ { MACHINE, POLICY }, 13, "lacks the MACHINE, RAM or POLICY" },
		{ { MACHINE, 5, 5, 0xff, 0xff, 0xff, 0xff, 0x0f, POLICY }, 20,
		  "more than 16384 RAM" },
		{ { MACHINE, 5, 3, 0x80, 0x01, 0, POLICY }, 18,
		  "RAM range count larger than the field" },
		{ { MACHINE, 5, 3, 1, 0, 0, POLICY }, 18, "empty RAM range" },
		{ { MACHINE, 5, 3, 1, 0, 5, POLICY }, 18, "RAM range beyond guest_frames" },
		{ { 4, 3, 99, 0, 1, 5, 1, 0, POLICY }, 16, "MAXPHYADDR not in 32..52" },
		{ { MACHINE, 5, 1, 0, 6, 6, 0, 0, 0, 3, 0, 0 }, 16, "pool_frames not in 16" },
		{ { MACHINE, 5, 1, 0, POLICY, 1, 0x90, 0x4e }, 19, "runs past the header" },
		{ { MACHINE, 5, 1, 0, POLICY, 1, 2, 'a', 0 }, 20, "NUL inside a header string" },
		{ { MACHINE, 5, 1, 0, POLICY, 4, 3, 46, 0, 1 }, 21, "header field repeated" },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		cr_assert_eq(header_status(cases[i].f, cases[i].n, 0, &err), SVT_TRACE_EINPUT,
			     "case %zu", i);
		cr_assert(strstr(err.msg, cases[i].what) != NULL, "case %zu: %s", i, err.msg);
		cr_assert(strncmp(err.msg, "hdr.svt: offset 0: header: ", 27) == 0, "%s", err.msg);
	}
	cr_assert_eq(header_status(good, sizeof(good), 2u << 20, &err), SVT_TRACE_EINPUT);
	cr_assert(strstr(err.msg, "header size out of range") != NULL, "%s", err.msg);
	cr_assert_eq(header_status(good, sizeof(good), 5000, &err), SVT_TRACE_EINPUT);
	cr_assert(strstr(err.msg, "header runs past the end of the file") != NULL, "%s", err.msg);
}

Test(trace_frames, zstd_size_disagrees)
{
	static const uint8_t c[] = { 5, 0, 5, 0, 5, 0, 5, 0 };
	struct raw f = { c, sizeof(c), 4, 0, 4, true };
	struct tg_buf b = { 0 };
	struct svt_trace_event evs[8];
	struct svt_trace_error err;
	size_t n;
	build(&b, &f, 1);
	uint8_t *fh = b.p + svt_get32(b.p + 12);
	svt_put32(fh + 12, 6);                   /* content 6 bytes, zstd says 8 */
	svt_put32(fh + 32, 3);
	svt_put64(fh + 24, 3);
	svt_put32(fh + 44, svt_crc32c(0, fh, 44));
	cr_assert_eq(read_all(&b, evs, &n, &err), SVT_TRACE_EINPUT);
	cr_assert(strstr(err.msg, "content size is not the frame header's") != NULL, "%s", err.msg);
	free(b.p);
}
