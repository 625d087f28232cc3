/*
 * trace-write.c — the trace writer.  Events are encoded into the current
 * frame's buffer (common/rec-enc.c); once it holds frame_size bytes the frame is
 * compressed, checksummed, given its header and handed to the sink in one
 * piece, and the delta state starts afresh.  The writer only ever appends,
 * through the sink, and counts the bytes itself, so it works the same on a
 * file, a pipe, or a callback that ships frames elsewhere; close appends
 * the index and the trailer.  The header is encoded at open and sent
 * with the first frame (or at a flush), so the frame size can still change.
 */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <zstd.h>

#include "trace_int.h"

struct svt_trace_writer {
	char *name;
	svt_trace_sink_fn sink;
	void *ctx;
	FILE *own;                      /* opened by svt_trace_writer_open */
	int level;
	ZSTD_CCtx *cctx;
	size_t frame_size;
	uint8_t *content;               /* frame_size + TR_MAX_RECORD bytes */
	size_t clen;
	uint8_t *stored;
	size_t scap;
	struct tr_state st;
	uint64_t offset;                /* bytes handed to the sink */
	uint64_t seq;                   /* the next event's number */
	uint64_t frame_first;
	uint64_t frame_nseq;
	uint32_t frame_nrec;
	uint64_t nframes;
	struct tr_index_entry *index;
	size_t index_cap;
	uint64_t counts[SVT_TRACE_NTYPES];
	uint64_t records, lost;
	uint8_t *header;                 /* encoded, until emitted with the first frame */
	size_t header_len;
	struct svt_trace_error err;
};

void tr_error_set(struct svt_trace_error *e, int status, const char *name, uint64_t frame,
		  uint64_t offset, uint64_t seq, const char *fmt, ...)
{
	size_t n = 0, cap = sizeof(e->msg);
	va_list ap;

	e->status = status;
	e->frame = frame;
	e->offset = offset;
	e->seq = seq;
	n += (size_t)snprintf(e->msg, cap, "%s", name ? name : "(trace)");
	const char *sep = ": ";
	if (frame != SVT_TRACE_NONE && n < cap) {
		n += (size_t)snprintf(e->msg + n, cap - n, "%sframe %llu", sep,
				      (unsigned long long)frame);
		sep = ", ";
	}
	if (offset != SVT_TRACE_NONE && n < cap) {
		n += (size_t)snprintf(e->msg + n, cap - n, "%soffset %llu", sep,
				      (unsigned long long)offset);
		sep = ", ";
	}
	if (seq != SVT_TRACE_NONE && n < cap) {
		n += (size_t)snprintf(e->msg + n, cap - n, "%sevent %llu", sep,
				      (unsigned long long)seq);
		sep = ", ";
	}
	if (n < cap)
		n += (size_t)snprintf(e->msg + n, cap - n, ": ");
	if (n < cap) {
		va_start(ap, fmt);
		vsnprintf(e->msg + n, cap - n, fmt, ap);
		va_end(ap);
	}
}

static int fail(struct svt_trace_writer *w, int status, uint64_t seq, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
static int fail(struct svt_trace_writer *w, int status, uint64_t seq, const char *fmt, ...)
{
	struct svt_trace_error e;
	char what[256];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(what, sizeof(what), fmt, ap);
	va_end(ap);
	tr_error_set(&e, status, w->name, SVT_TRACE_NONE, w->offset, seq, "%s", what);
	if (w->err.status == SVT_TRACE_OK || status != SVT_TRACE_EARG)
		w->err = e;
	return status;
}

static int emit(struct svt_trace_writer *w, const void *buf, size_t len)
{
	if (w->err.status != SVT_TRACE_OK && w->err.status != SVT_TRACE_EARG)
		return w->err.status;
	errno = 0;
	if (w->sink(w->ctx, buf, len) != 0)
		return fail(w, SVT_TRACE_EIO, SVT_TRACE_NONE, "write failed: %s",
			    errno ? strerror(errno) : "sink refused the bytes");
	w->offset += len;
	return SVT_TRACE_OK;
}

static int file_sink(void *ctx, const void *buf, size_t len)
{
	FILE *f = ctx;
	if (fwrite(buf, 1, len, f) != len) {
		if (errno == 0)
			errno = EIO;
		return -1;
	}
	return 0;
}

static int emit_frame(struct svt_trace_writer *w)
{
	struct tr_frame f = { 0 };
	size_t clen = w->clen;

	if (w->header != NULL) {
		int rc = emit(w, w->header, w->header_len);
		if (rc != SVT_TRACE_OK)
			return rc;
		free(w->header);
		w->header = NULL;
	}
	if (clen == 0)
		return SVT_TRACE_OK;
	if (w->nframes == w->index_cap) {
		size_t cap = w->index_cap ? 2 * w->index_cap : 64;
		struct tr_index_entry *ix = realloc(w->index, cap * sizeof(*ix));
		if (ix == NULL)
			return fail(w, SVT_TRACE_ENOMEM, SVT_TRACE_NONE, "out of memory");
		w->index = ix;
		w->index_cap = cap;
	}
	f.content_size = (uint32_t)clen;
	f.content_crc = svt_crc32c(0, w->content, clen);
	f.method = TR_METHOD_STORED;
	if (w->level > 0) {
		size_t n = ZSTD_compress2(w->cctx, w->stored + TR_FRAME_HDR, w->scap - TR_FRAME_HDR,
					  w->content, clen);
		if (ZSTD_isError(n))
			return fail(w, SVT_TRACE_EIO, SVT_TRACE_NONE, "zstd: %s",
				    ZSTD_getErrorName(n));
		if (n < clen) {         /* else store: smaller and faster to read */
			f.method = TR_METHOD_ZSTD;
			f.stored_size = (uint32_t)n;
		}
	}
	if (f.method == TR_METHOD_STORED) {
		memcpy(w->stored + TR_FRAME_HDR, w->content, clen);
		f.stored_size = (uint32_t)clen;
		f.stored_crc = f.content_crc;
	} else {
		f.stored_crc = svt_crc32c(0, w->stored + TR_FRAME_HDR, f.stored_size);
	}
	f.first_seq = w->frame_first;
	f.nseq = w->frame_nseq;
	f.nrec = w->frame_nrec;
	tr_frame_encode(&f, w->stored);

	w->index[w->nframes].offset = w->offset;
	w->index[w->nframes].first_seq = w->frame_first;
	int rc = emit(w, w->stored, TR_FRAME_HDR + f.stored_size);
	if (rc != SVT_TRACE_OK)
		return rc;
	w->nframes++;
	w->clen = 0;
	w->frame_first = w->seq;
	w->frame_nseq = 0;
	w->frame_nrec = 0;
	tr_state_reset(&w->st);
	return SVT_TRACE_OK;
}

static bool alloc_buffers(struct svt_trace_writer *w, size_t frame_size)
{
	size_t ccap = frame_size + TR_MAX_RECORD;
	uint8_t *c = malloc(ccap);
	size_t scap = TR_FRAME_HDR + ZSTD_compressBound(ccap);
	uint8_t *s = malloc(scap);
	if (c == NULL || s == NULL) {
		free(c);
		free(s);
		return false;
	}
	free(w->content);
	free(w->stored);
	w->content = c;
	w->stored = s;
	w->scap = scap;
	w->frame_size = frame_size;
	return true;
}

struct svt_trace_writer *svt_trace_writer_open_sink(svt_trace_sink_fn fn, void *ctx,
						    const char *name,
						    const struct svt_trace_header *h, int level,
						    struct svt_trace_error *err)
{
	struct svt_trace_error local;
	struct svt_trace_writer *w;
	const char *why;

	if (err == NULL)
		err = &local;
	memset(err, 0, sizeof(*err));
	if (name == NULL)
		name = "(trace)";
	if (fn == NULL || h == NULL) {
		tr_error_set(err, SVT_TRACE_EARG, name, SVT_TRACE_NONE, SVT_TRACE_NONE,
			     SVT_TRACE_NONE, "no sink or no header");
		return NULL;
	}
	if ((why = tr_check_header(h)) != NULL) {
		tr_error_set(err, SVT_TRACE_EARG, name, SVT_TRACE_NONE, SVT_TRACE_NONE,
			     SVT_TRACE_NONE, "invalid header: %s", why);
		return NULL;
	}
	if (level < 0 || level > ZSTD_maxCLevel()) {
		tr_error_set(err, SVT_TRACE_EARG, name, SVT_TRACE_NONE, SVT_TRACE_NONE,
			     SVT_TRACE_NONE, "compression level %d not in 0..%d", level,
			     ZSTD_maxCLevel());
		return NULL;
	}
	w = calloc(1, sizeof(*w));
	if (w == NULL || (w->name = strdup(name)) == NULL ||
	    !alloc_buffers(w, SVT_TRACE_FRAME_DEFAULT) ||
	    (level > 0 && (w->cctx = ZSTD_createCCtx()) == NULL))
		goto nomem;
	if (w->cctx != NULL &&
	    (ZSTD_isError(ZSTD_CCtx_setParameter(w->cctx, ZSTD_c_compressionLevel, level)) ||
	     ZSTD_isError(ZSTD_CCtx_setParameter(w->cctx, ZSTD_c_checksumFlag, 0)) ||
	     ZSTD_isError(ZSTD_CCtx_setParameter(w->cctx, ZSTD_c_contentSizeFlag, 1))))
		goto nomem;
	w->sink = fn;
	w->ctx = ctx;
	w->level = level;
	tr_state_reset(&w->st);
	if (!tr_header_encode(h, (uint32_t)w->frame_size, &w->header, &w->header_len))
		goto nomem;
	return w;
nomem:
	tr_error_set(err, SVT_TRACE_ENOMEM, name, SVT_TRACE_NONE, SVT_TRACE_NONE, SVT_TRACE_NONE,
		     "out of memory");
	if (w != NULL) {
		ZSTD_freeCCtx(w->cctx);
		free(w->content);
		free(w->stored);
		free(w->name);
		free(w);
	}
	return NULL;
}

struct svt_trace_writer *svt_trace_writer_open_file(FILE *f, const char *name,
						    const struct svt_trace_header *h, int level,
						    struct svt_trace_error *err)
{
	return svt_trace_writer_open_sink(file_sink, f, name, h, level, err);
}

struct svt_trace_writer *svt_trace_writer_open(const char *path, const struct svt_trace_header *h,
					       int level, struct svt_trace_error *err)
{
	struct svt_trace_writer *w;
	FILE *f = fopen(path, "wb");
	if (f == NULL) {
		struct svt_trace_error local;
		tr_error_set(err ? err : &local, SVT_TRACE_EIO, path, SVT_TRACE_NONE,
			     SVT_TRACE_NONE, SVT_TRACE_NONE, "cannot create: %s", strerror(errno));
		return NULL;
	}
	w = svt_trace_writer_open_file(f, path, h, level, err);
	if (w == NULL)
		fclose(f);
	else
		w->own = f;
	return w;
}

int svt_trace_writer_set_frame_size(struct svt_trace_writer *w, size_t bytes)
{
	if (w->header == NULL || w->seq != 0 || bytes < SVT_TRACE_FRAME_MIN ||
	    bytes > SVT_TRACE_FRAME_MAX)
		return fail(w, SVT_TRACE_EARG, SVT_TRACE_NONE,
			    "frame size must be 64 B..8 MiB, set before the first event");
	if (!alloc_buffers(w, bytes))
		return fail(w, SVT_TRACE_ENOMEM, SVT_TRACE_NONE, "out of memory");
	tr_header_set_frame_size(w->header, w->header_len, (uint32_t)bytes);
	return SVT_TRACE_OK;
}

int svt_trace_write(struct svt_trace_writer *w, const struct svt_trace_event *ev)
{
	const char *why = tr_check_event(ev);
	if (w->err.status != SVT_TRACE_OK && w->err.status != SVT_TRACE_EARG)
		return w->err.status;
	if (why != NULL)
		return fail(w, SVT_TRACE_EARG, w->seq, "invalid event: %s", why);
	uint64_t span = svt_trace_event_span(ev);
	if (w->seq + span < w->seq)
		return fail(w, SVT_TRACE_EARG, w->seq, "event numbers overflow");

	w->clen += tr_encode(&w->st, ev, w->content + w->clen);
	w->seq += span;
	w->frame_nseq += span;
	w->frame_nrec++;
	w->records++;
	w->counts[ev->type]++;
	if (ev->type == SVT_TRACE_LOST)
		w->lost += span;
	if (w->clen >= w->frame_size)
		return emit_frame(w);
	return SVT_TRACE_OK;
}

int svt_trace_writer_flush(struct svt_trace_writer *w)
{
	int rc = emit_frame(w);
	if (rc == SVT_TRACE_OK && w->own != NULL && fflush(w->own) != 0)
		rc = fail(w, SVT_TRACE_EIO, SVT_TRACE_NONE, "write failed: %s", strerror(errno));
	return rc;
}

uint64_t svt_trace_writer_seq(const struct svt_trace_writer *w)
{
	return w->seq;
}

const struct svt_trace_error *svt_trace_writer_error(const struct svt_trace_writer *w)
{
	return &w->err;
}

static int write_tail(struct svt_trace_writer *w)
{
	struct tr_trailer t = { 0 };
	int rc = emit_frame(w);
	if (rc != SVT_TRACE_OK)
		return rc;
	size_t ilen = TR_INDEX_FIXED + 16 * (size_t)w->nframes + 4;
	uint8_t *buf = malloc(ilen + tr_trailer_size(SVT_TRACE_NTYPES));
	if (buf == NULL)
		return fail(w, SVT_TRACE_ENOMEM, SVT_TRACE_NONE, "out of memory");
	tr_index_encode(w->index, w->nframes, buf);
	t.events = w->seq;
	t.records = w->records;
	t.lost = w->lost;
	t.frames = w->nframes;
	t.index_offset = w->offset;
	t.index_size = ilen;
	t.ntypes = SVT_TRACE_NTYPES;
	memcpy(t.counts, w->counts, sizeof(w->counts));
	tr_trailer_encode(&t, buf + ilen);
	rc = emit(w, buf, ilen + tr_trailer_size(SVT_TRACE_NTYPES));
	free(buf);
	return rc;
}

int svt_trace_writer_close(struct svt_trace_writer *w, struct svt_trace_error *err)
{
	int rc = SVT_TRACE_OK;
	if (w == NULL)
		return SVT_TRACE_OK;
	if (w->err.status == SVT_TRACE_OK || w->err.status == SVT_TRACE_EARG)
		write_tail(w);
	if (w->own != NULL) {
		if (fclose(w->own) != 0)
			fail(w, SVT_TRACE_EIO, SVT_TRACE_NONE, "close failed: %s", strerror(errno));
	} else if (w->sink == file_sink && fflush(w->ctx) != 0) {
		fail(w, SVT_TRACE_EIO, SVT_TRACE_NONE, "write failed: %s", strerror(errno));
	}
	/* A refused event did not damage the file; report only real failures. */
	if (w->err.status != SVT_TRACE_EARG)
		rc = w->err.status;
	if (err != NULL) {
		if (rc != SVT_TRACE_OK)
			*err = w->err;
		else
			memset(err, 0, sizeof(*err));
	}
	ZSTD_freeCCtx(w->cctx);
	free(w->header);
	free(w->content);
	free(w->stored);
	free(w->index);
	free(w->name);
	free(w);
	return rc;
}
