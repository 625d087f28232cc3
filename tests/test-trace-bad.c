/*
 * test-trace-bad.c — the trace reader on bad input.  Every case must give
 * a clear error (status and a message naming the input and the frame,
 * offset or event) and never a crash, a hang, a huge allocation or a
 * damaged file read as complete: empty and short files, wrong magic or
 * major version, a trace cut at every byte offset, every byte flipped,
 * index entries pointing outside the file or into a frame, trailer totals
 * that lie, and hand-built frames with records running past their frame,
 * reserved or unknown types, wrong counts, gaps and overlaps, and absurd
 * sizes in the header and frame headers.  Inputs are copied into buffers
 * of exactly their size, so AddressSanitizer catches any read past them.
 */
#define _POSIX_C_SOURCE 200809L
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "trace-gen.h"
#include "trace_int.h"

/* Open len bytes of p (copied to a buffer of exactly that size) and read
 * all events; compare each with want (if given).  Returns the final status
 * (of open, or of the last next). */
static int read_copy(const uint8_t *p, size_t len, unsigned flags, const struct tg_events *want,
		     struct svt_trace_error *out, size_t *nread)
{
	struct svt_trace_error err;
	struct svt_trace_event ev;
	char why[128];
	uint8_t *copy = malloc(len ? len : 1);
	memcpy(copy, p, len);
	struct svt_trace_reader *r = svt_trace_open_mem(copy, len, "bad.svt", flags, &err);
	*nread = 0;
	if (r == NULL) {
		cr_assert_lt(err.status, 0);
		cr_assert(strncmp(err.msg, "bad.svt: ", 9) == 0, "%s", err.msg);
		*out = err;
		free(copy);
		return err.status;
	}
	int rc;
	while ((rc = svt_trace_next(r, &ev)) == SVT_TRACE_OK) {
		if (want != NULL) {
			cr_assert_lt(*nread, want->n, "more events than written");
			cr_assert(tg_event_equal(&want->ev[*nread], &ev, why), "event %zu: %s",
				  *nread, why);
		}
		cr_assert_lt(*nread, 10000000, "no end");
		(*nread)++;
	}
	*out = *svt_trace_reader_error(r);
	if (rc < 0) {
		cr_assert_eq(rc, out->status);
		cr_assert(strncmp(out->msg, "bad.svt: ", 9) == 0, "%s", out->msg);
		cr_assert(strstr(out->msg, "frame") || strstr(out->msg, "offset"), "%s", out->msg);
	}
	/* Seeking anywhere must not crash either. */
	for (uint64_t s = 0; s < 2000; s += 97)
		if (svt_trace_seek(r, s) == SVT_TRACE_OK)
			svt_trace_next(r, &ev);
	svt_trace_close(r);
	free(copy);
	return rc;
}

static void small_trace(struct tg_events *e, struct tg_buf *b, size_t n, size_t frame)
{
	tg_random_events(11, n, e);
	cr_assert_eq(tg_write(e, 1, frame, b), 0);
}

Test(trace_bad, empty_short_magic_version)
{
	struct svt_trace_error err;
	size_t n;
	struct tg_events e = { 0 };
	struct tg_buf b = { 0 };
	small_trace(&e, &b, 20, 0);

	cr_assert_eq(read_copy(b.p, 0, 0, NULL, &err, &n), SVT_TRACE_EINPUT);
	cr_assert(strstr(err.msg, "empty file") != NULL, "%s", err.msg);
	cr_assert_eq(read_copy(b.p, 10, 0, NULL, &err, &n), SVT_TRACE_EINPUT);
	cr_assert(strstr(err.msg, "too short") != NULL, "%s", err.msg);
	b.p[1] = 'X';
	cr_assert_eq(read_copy(b.p, b.n, 0, NULL, &err, &n), SVT_TRACE_EINPUT);
	cr_assert(strstr(err.msg, "offset 0: not a shadowvt trace (bad magic)") != NULL,
		  "%s", err.msg);
	b.p[1] = 'S';
	b.p[8] = 2;
	cr_assert_eq(read_copy(b.p, b.n, 0, NULL, &err, &n), SVT_TRACE_EINPUT);
	cr_assert(strstr(err.msg, "unsupported major version") != NULL, "%s", err.msg);
	b.p[8] = 1;
	b.p[10] = 7;                    /* a later minor version: read, header checksum fails */
	cr_assert_eq(read_copy(b.p, b.n, 0, NULL, &err, &n), SVT_TRACE_EINPUT);
	cr_assert(strstr(err.msg, "header checksum") != NULL, "%s", err.msg);
	cr_assert_eq(read_copy(b.p, b.n, SVT_TRACE_NO_CRC, &e, &err, &n), SVT_TRACE_END);

	char path[] = "/tmp/test-trace-bad-XXXXXX";
	int fd = mkstemp(path);
	close(fd);
	cr_assert_null(svt_trace_open(path, 0, &err));
	cr_assert_eq(err.status, SVT_TRACE_EINPUT);
	cr_assert(strncmp(err.msg, path, strlen(path)) == 0 && strstr(err.msg, "empty"),
		  "%s", err.msg);
	unlink(path);
	cr_assert_null(svt_trace_open(path, 0, &err));
	cr_assert_eq(err.status, SVT_TRACE_EIO);
	cr_assert(strstr(err.msg, "cannot open") != NULL, "%s", err.msg);
	cr_assert_null(svt_trace_open("/tmp", 0, &err));
	cr_assert(strstr(err.msg, "not a regular file") != NULL, "%s", err.msg);
	free(b.p);
	tg_free(&e);
}

Test(trace_bad, truncated_at_every_offset)
{
	struct tg_events e = { 0 };
	struct tg_buf b = { 0 };
	struct svt_trace_error err;
	size_t n, opened = 0;
	small_trace(&e, &b, 60, 200);
	cr_assert_gt(b.n, 1000);
	for (size_t len = 0; len < b.n; len++) {
		int rc = read_copy(b.p, len, 0, &e, &err, &n);
		cr_assert_eq(rc, SVT_TRACE_EINPUT, "cut at %zu: status %d (%s)", len, rc, err.msg);
		if (n > 0)
			opened++;
	}
	cr_assert_gt(opened, b.n / 2, "most cuts still give their complete frames");
	cr_assert_eq(read_copy(b.p, b.n, 0, &e, &err, &n), SVT_TRACE_END);
	cr_assert_eq(n, e.n);
	free(b.p);
	tg_free(&e);
}

Test(trace_bad, every_byte_flipped)
{
	struct tg_events e = { 0 };
	struct tg_buf b = { 0 };
	struct svt_trace_error err;
	size_t n;
	small_trace(&e, &b, 40, 150);
	for (size_t i = 0; i < b.n; i++) {
		static const uint8_t masks[] = { 0xff, 0x01, 0x80 };
		for (int m = 0; m < 3; m++) {
			b.p[i] ^= masks[m];
			int rc = read_copy(b.p, b.n, 0, &e, &err, &n);
			cr_assert(rc == SVT_TRACE_EINPUT || (rc == SVT_TRACE_END && n == e.n),
				  "byte %zu ^ %#x: status %d after %zu events", i, masks[m], rc, n);
			/* Without checksums the decoders see the damage: no crash,
			 * no hang, any clean outcome. */
			rc = read_copy(b.p, b.n, SVT_TRACE_NO_CRC, NULL, &err, &n);
			cr_assert(rc == SVT_TRACE_EINPUT || rc == SVT_TRACE_END);
			b.p[i] ^= masks[m];
		}
	}
	free(b.p);
	tg_free(&e);
}

/* Offsets of the index and its entries in a finished trace. */
static uint64_t index_offset(const struct tg_buf *b, uint64_t *frames)
{
	uint32_t tsize = svt_get32(b->p + b->n - 12);
	const uint8_t *t = b->p + b->n - tsize;
	*frames = svt_get64(t + 32);
	return svt_get64(t + 40);
}

static void fix_index_crc(struct tg_buf *b)
{
	uint64_t frames, off = index_offset(b, &frames);
	size_t len = TR_INDEX_FIXED + 16 * frames;
	svt_put32(b->p + off + len, svt_crc32c(0, b->p + off, len));
}

Test(trace_bad, index_outside_file_or_not_at_a_frame)
{
	struct tg_events e = { 0 };
	struct tg_buf b = { 0 };
	struct svt_trace_error err;
	struct svt_trace_event ev;
	uint64_t frames;
	size_t n;
	small_trace(&e, &b, 200, 300);
	uint64_t ix = index_offset(&b, &frames);
	cr_assert_gt(frames, 3);
	uint8_t *entry1 = b.p + ix + TR_INDEX_FIXED + 16;
	uint64_t off1 = svt_get64(entry1);

	svt_put64(entry1, 1ull << 40);           /* outside the file */
	fix_index_crc(&b);
	struct svt_trace_reader *r = svt_trace_open_mem(b.p, b.n, "bad.svt", 0, &err);
	cr_assert_not_null(r, "%s", err.msg);
	cr_assert(svt_trace_reader_warning(r) &&
		  strstr(svt_trace_reader_warning(r), "index offsets"), "%s",
		  svt_trace_reader_warning(r));
	cr_assert_eq(svt_trace_seek(r, e.ev[e.n - 1].seq), 0, "seeks by scanning instead");
	svt_trace_close(r);
	cr_assert_eq(read_copy(b.p, b.n, 0, &e, &err, &n), SVT_TRACE_EINPUT);
	cr_assert_eq(n, e.n, "all events, then the error");
	cr_assert(strstr(err.msg, "trailer or index is damaged") != NULL, "%s", err.msg);

	svt_put64(entry1, off1 + 5);             /* into frame 1: not a frame */
	fix_index_crc(&b);
	r = svt_trace_open_mem(b.p, b.n, "bad.svt", 0, &err);
	cr_assert_null(svt_trace_reader_warning(r));
	uint64_t in_frame1 = svt_get64(entry1 + 8);
	cr_assert_eq(svt_trace_seek(r, in_frame1), SVT_TRACE_EINPUT);
	const struct svt_trace_error *re = svt_trace_reader_error(r);
	cr_assert(re->frame == 1 && re->offset == off1 + 5, "%s", re->msg);
	cr_assert(strstr(re->msg, "bad.svt: frame 1, offset ") && strstr(re->msg, "not at a frame"),
		  "%s", re->msg);
	cr_assert_eq(svt_trace_next(r, &ev), SVT_TRACE_EINPUT, "sticky");
	cr_assert_eq(svt_trace_seek(r, 0), 0, "a good seek clears it");
	cr_assert_eq(svt_trace_next(r, &ev), 0);
	svt_trace_close(r);
	cr_assert_eq(read_copy(b.p, b.n, 0, &e, &err, &n), SVT_TRACE_EINPUT);
	cr_assert(strstr(err.msg, "does not match the index") != NULL, "%s", err.msg);
	free(b.p);
	tg_free(&e);
}

Test(trace_bad, trailer_totals_lie)
{
	struct tg_events e = { 0 };
	struct tg_buf b = { 0 };
	struct svt_trace_error err;
	size_t n;
	small_trace(&e, &b, 100, 0);
	uint32_t tsize = svt_get32(b.p + b.n - 12);
	uint8_t *t = b.p + b.n - tsize;
	svt_put64(t + 8, svt_get64(t + 8) + 1);   /* one event more than there is */
	svt_put32(b.p + b.n - 16, svt_crc32c(0, t, tsize - 16));
	cr_assert_eq(read_copy(b.p, b.n, 0, &e, &err, &n), SVT_TRACE_EINPUT);
	cr_assert_eq(n, e.n);
	cr_assert(strstr(err.msg, "the trailer says") != NULL, "%s", err.msg);
	svt_put64(t + 8, svt_get64(t + 8) - 1);
	svt_put64(t + TR_TRAILER_FIXED + 8, svt_get64(t + TR_TRAILER_FIXED + 8) + 1);  /* FAULTs */
	svt_put64(t + 16, svt_get64(t + 16) + 1);
	svt_put32(b.p + b.n - 16, svt_crc32c(0, t, tsize - 16));
	cr_assert_eq(read_copy(b.p, b.n, 0, &e, &err, &n), SVT_TRACE_EINPUT);
	cr_assert(strstr(err.msg, "FAULT records") != NULL, "%s", err.msg);
	free(b.p);
	tg_free(&e);
}

/* svt_trace_verify_frames (shadowvt verify) over a verdict: what it and the
 * open say of a file; 0 whole, else damaged. */
static int verify_copy(const uint8_t *p, size_t len, uint64_t *frames, char *msg, size_t msglen)
{
	struct svt_trace_error err;
	uint8_t *copy = malloc(len ? len : 1);
	memcpy(copy, p, len);
	struct svt_trace_reader *r = svt_trace_open_mem(copy, len, "bad.svt", 0, &err);
	int rc = -1;
	*frames = 0;
	if (r == NULL)
		snprintf(msg, msglen, "%s", err.msg);
	else if (svt_trace_reader_warning(r))
		snprintf(msg, msglen, "%s", svt_trace_reader_warning(r));
	else if ((rc = svt_trace_verify_frames(r, frames)) != SVT_TRACE_OK)
		snprintf(msg, msglen, "%s", svt_trace_reader_error(r)->msg);
	svt_trace_close(r);
	free(copy);
	return rc;
}

Test(trace_bad, verify_frames_finds_every_flipped_byte)
{
	struct tg_events e = { 0 };
	struct tg_buf b = { 0 };
	struct svt_trace_error err;
	struct svt_trace_info info;
	struct svt_trace_event ev;
	uint64_t frames;
	size_t n = 0;
	char msg[700];
	small_trace(&e, &b, 60, 200);

	/* a good trace: every frame passes, and the reader is back at the start */
	struct svt_trace_reader *r = svt_trace_open_mem(b.p, b.n, "good.svt", 0, &err);
	cr_assert_not_null(r, "%s", err.msg);
	cr_assert_eq(svt_trace_verify_frames(r, &frames), SVT_TRACE_OK, "%s",
		     svt_trace_reader_error(r)->msg);
	cr_assert_eq(svt_trace_info(r, &info), SVT_TRACE_OK);
	cr_assert(frames > 3 && frames == info.frames, "%llu frames", (unsigned long long)frames);
	while (svt_trace_next(r, &ev) == SVT_TRACE_OK)
		n++;
	cr_assert_eq(n, e.n, "all events read after the check");
	cr_assert_eq(svt_trace_next(r, &ev), SVT_TRACE_END, "%s", svt_trace_reader_error(r)->msg);
	svt_trace_close(r);

	/* any byte of it flipped: the open, the trailer and index, or a frame says so */
	for (size_t i = 0; i < b.n; i++) {
		static const uint8_t masks[] = { 0xff, 0x01, 0x80 };
		for (int m = 0; m < 3; m++) {
			b.p[i] ^= masks[m];
			int rc = verify_copy(b.p, b.n, &frames, msg, sizeof(msg));
			cr_assert_neq(rc, SVT_TRACE_OK, "byte %zu ^ %#x not noticed", i, masks[m]);
			cr_assert(strncmp(msg, "bad.svt: ", 9) == 0, "%s", msg);
			b.p[i] ^= masks[m];
		}
	}

	/* a trailer whose totals lie, its checksum made right */
	uint32_t tsize = svt_get32(b.p + b.n - 12);
	uint8_t *t = b.p + b.n - tsize;
	svt_put64(t + 8, svt_get64(t + 8) + 1);         /* one event more than the frames hold */
	svt_put32(b.p + b.n - 16, svt_crc32c(0, t, tsize - 16));
	cr_assert_eq(verify_copy(b.p, b.n, &frames, msg, sizeof(msg)), SVT_TRACE_EINPUT);
	cr_assert(strstr(msg, "the trailer says") && strstr(msg, "the frames hold"), "%s", msg);
	svt_put64(t + 8, svt_get64(t + 8) - 1);
	svt_put32(b.p + b.n - 16, svt_crc32c(0, t, tsize - 16));

	/* an index entry that points into a frame, its checksum made right */
	uint64_t ix = index_offset(&b, &frames);
	uint8_t *entry1 = b.p + ix + TR_INDEX_FIXED + 16;
	svt_put64(entry1, svt_get64(entry1) + 5);
	fix_index_crc(&b);
	cr_assert_eq(verify_copy(b.p, b.n, &frames, msg, sizeof(msg)), SVT_TRACE_EINPUT);
	cr_assert(strstr(msg, "bad.svt: frame 1, offset ") &&
		  strstr(msg, "does not match the index"), "%s", msg);
	cr_assert_eq(frames, 1, "frame 0 passed");
	free(b.p);
	tg_free(&e);
}
