/*
 * trace-read.c — opening a trace: the byte source (a file read with pread,
 * or a buffer), the file header, and the trailer and index at the end.  A
 * header that fails its checks makes the open fail; a trailer or index that
 * fails them leaves a reader that works from the start without them and
 * says why in its warning.  Events are read in trace-next.c.
 */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "trace_int.h"

int tr_rerr(struct svt_trace_reader *r, int status, uint64_t frame, uint64_t off, uint64_t seq,
	    const char *fmt, ...)
{
	char what[384];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(what, sizeof(what), fmt, ap);
	va_end(ap);
	tr_error_set(&r->err, status, r->name, frame, off, seq, "%s", what);
	return status;
}

int tr_src_read(struct svt_trace_reader *r, uint64_t off, size_t len, uint8_t *buf,
		const uint8_t **out)
{
	if (off > r->size || len > r->size - off)
		return tr_rerr(r, SVT_TRACE_EINPUT, SVT_TRACE_NONE, off, SVT_TRACE_NONE,
			       "read of %zu bytes past the end of the file", len);
	if (r->fd < 0) {
		*out = r->mem + off;
		return SVT_TRACE_OK;
	}
	size_t done = 0;
	while (done < len) {
		ssize_t n = pread(r->fd, buf + done, len - done, (off_t)(off + done));
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return tr_rerr(r, SVT_TRACE_EIO, SVT_TRACE_NONE, off + done, SVT_TRACE_NONE,
				       "read failed: %s",
				       n < 0 ? strerror(errno) :
				       "the file shrank while being read");
		done += (size_t)n;
	}
	*out = buf;
	return SVT_TRACE_OK;
}

/* Why the trailer or index cannot be used, or NULL (then r->indexed). */
static const char *load_trailer(struct svt_trace_reader *r)
{
	uint8_t tail[TR_TRAILER_TAIL], tbuf[TR_TRAILER_MAX];
	const uint8_t *p;
	const char *why;
	struct tr_trailer *t = &r->tr;
	bool crc = !(r->flags & SVT_TRACE_NO_CRC);

	if (r->size - r->data_start < TR_TRAILER_TAIL + tr_trailer_size(1) + TR_INDEX_FIXED + 4)
		return r->size == r->data_start ? "the file ends after its header"
						: "no trailer at the end of the file (truncated?)";
	if (tr_src_read(r, r->size - TR_TRAILER_TAIL, TR_TRAILER_TAIL, tail, &p) != SVT_TRACE_OK)
		return r->err.msg;
	uint32_t tsize = tr_trailer_tail(p, &why);
	if (tsize == 0)
		return why;
	if (tsize > r->size - r->data_start)
		return "trailer size larger than the file";
	uint64_t tstart = r->size - tsize;
	if (tr_src_read(r, tstart, tsize, tbuf, &p) != SVT_TRACE_OK)
		return r->err.msg;
	if (!tr_trailer_decode(p, tsize, crc, t, &why))
		return why;
	if (t->index_offset < r->data_start || t->index_offset > tstart ||
	    t->index_size != tstart - t->index_offset)
		return "trailer's index offset or size points outside the file's index area";
	if (t->frames > (tstart - t->index_offset) / TR_INDEX_ENTRY)
		return "trailer's frame count larger than its index";
	if ((t->frames == 0) != (t->index_offset == r->data_start))
		return "trailer's frame count does not match the space before the index";

	uint64_t n = t->frames;
	r->index = malloc(n == 0 ? 1 : (size_t)n * sizeof(*r->index));
	uint8_t *ibuf = r->fd >= 0 ? malloc((size_t)t->index_size) : NULL;
	if (r->index == NULL || (r->fd >= 0 && ibuf == NULL)) {
		free(ibuf);
		return "out of memory reading the index";
	}
	int rc = tr_src_read(r, t->index_offset, (size_t)t->index_size, ibuf, &p);
	bool ok = rc == SVT_TRACE_OK && tr_index_decode(p, t->index_size, crc, r->index, n, &why);
	free(ibuf);
	if (rc != SVT_TRACE_OK)
		return r->err.msg;
	if (!ok)
		return why;
	for (uint64_t i = 0; i < n; i++) {
		const struct tr_index_entry *e = &r->index[i];
		uint64_t lim = i + 1 < n ? e[1].offset : t->index_offset;
		if (i == 0 && e->offset != r->data_start)
			return "index entry 0 does not point at the first frame";
		if (e->offset >= lim || lim - e->offset < TR_FRAME_HDR + 1)
			return "index offsets not increasing by at least a frame";
		if (i > 0 && e->first_seq <= e[-1].first_seq)
			return "index event numbers not increasing";
		if (e->first_seq >= t->events)
			return "index event number beyond the trailer's total";
	}
	r->nindex = r->index_cap = n;
	r->indexed = true;
	r->data_end = t->index_offset;
	return NULL;
}

static struct svt_trace_reader *finish_open(struct svt_trace_reader *r, struct svt_trace_error *err)
{
	uint8_t fixed[TR_FILE_FIXED];
	const uint8_t *p;
	const char *why;
	int rc;

	if (r->size == 0) {
		rc = tr_rerr(r, SVT_TRACE_EINPUT, SVT_TRACE_NONE, SVT_TRACE_NONE, SVT_TRACE_NONE,
			     "empty file (0 bytes): not a trace");
		goto fail;
	}
	if (r->size < TR_FILE_FIXED + 4) {
		rc = tr_rerr(r, SVT_TRACE_EINPUT, SVT_TRACE_NONE, 0, SVT_TRACE_NONE,
			     "%llu bytes: too short for a trace header",
			     (unsigned long long)r->size);
		goto fail;
	}
	if ((rc = tr_src_read(r, 0, TR_FILE_FIXED, fixed, &p)) != SVT_TRACE_OK)
		goto fail;
	uint32_t hsize = tr_header_size(p, r->size, &why);
	if (hsize == 0) {
		rc = tr_rerr(r, SVT_TRACE_EINPUT, SVT_TRACE_NONE, 0, SVT_TRACE_NONE, "%s", why);
		goto fail;
	}
	uint8_t *hbuf = r->fd >= 0 ? malloc(hsize) : NULL;
	if (r->fd >= 0 && hbuf == NULL) {
		rc = tr_rerr(r, SVT_TRACE_ENOMEM, SVT_TRACE_NONE, 0, SVT_TRACE_NONE,
			     "out of memory");
		goto fail;
	}
	rc = tr_src_read(r, 0, hsize, hbuf, &p);
	if (rc == SVT_TRACE_OK) {
		rc = tr_header_decode(p, hsize, !(r->flags & SVT_TRACE_NO_CRC), &r->hs, &why);
		if (rc != SVT_TRACE_OK)
			tr_rerr(r, rc, SVT_TRACE_NONE, 0, SVT_TRACE_NONE, "header: %s",
				rc == SVT_TRACE_ENOMEM ? "out of memory" : why);
	}
	free(hbuf);
	if (rc != SVT_TRACE_OK)
		goto fail;
	r->data_start = hsize;
	r->data_end = r->size;
	r->scan_off = hsize;

	why = load_trailer(r);
	if (why != NULL) {
		snprintf(r->warning, sizeof(r->warning),
			 "%s: trailer or index unusable (%s); reading from the start, seeking by "
			 "scanning frames", r->name, why);
		free(r->index);
		r->index = NULL;
		r->nindex = r->index_cap = 0;
		r->indexed = false;
		r->data_end = r->size;
		memset(&r->tr, 0, sizeof(r->tr));
	}
	memset(&r->err, 0, sizeof(r->err));
	if ((r->dctx = ZSTD_createDCtx()) == NULL) {
		rc = tr_rerr(r, SVT_TRACE_ENOMEM, SVT_TRACE_NONE, SVT_TRACE_NONE, SVT_TRACE_NONE,
			     "out of memory");
		goto fail;
	}
	r->next_off = r->data_start;
	r->full_pass = true;
	return r;
fail:
	if (err != NULL)
		*err = r->err;
	(void)rc;
	svt_trace_close(r);
	return NULL;
}

static struct svt_trace_reader *new_reader(const char *name, unsigned flags,
					   struct svt_trace_error *err)
{
	struct svt_trace_reader *r = calloc(1, sizeof(*r));
	if (r != NULL && (r->name = strdup(name ? name : "(trace)")) != NULL) {
		r->flags = flags;
		r->fd = -1;
		return r;
	}
	free(r);
	if (err != NULL)
		tr_error_set(err, SVT_TRACE_ENOMEM, name, SVT_TRACE_NONE, SVT_TRACE_NONE,
			     SVT_TRACE_NONE, "out of memory");
	return NULL;
}

struct svt_trace_reader *svt_trace_open(const char *path, unsigned flags,
					struct svt_trace_error *err)
{
	struct svt_trace_reader *r = new_reader(path, flags, err);
	struct stat sb;
	if (r == NULL)
		return NULL;
	r->fd = open(path, O_RDONLY | O_CLOEXEC);
	if (r->fd < 0 || fstat(r->fd, &sb) != 0) {
		tr_rerr(r, SVT_TRACE_EIO, SVT_TRACE_NONE, SVT_TRACE_NONE, SVT_TRACE_NONE,
			"cannot open: %s", strerror(errno));
		goto fail;
	}
	if (!S_ISREG(sb.st_mode)) {
		tr_rerr(r, SVT_TRACE_EINPUT, SVT_TRACE_NONE, SVT_TRACE_NONE, SVT_TRACE_NONE,
			"not a regular file");
		goto fail;
	}
	r->size = (uint64_t)sb.st_size;
	return finish_open(r, err);
fail:
	if (err != NULL)
		*err = r->err;
	svt_trace_close(r);
	return NULL;
}

struct svt_trace_reader *svt_trace_open_mem(const void *buf, size_t len, const char *name,
					    unsigned flags, struct svt_trace_error *err)
{
	struct svt_trace_reader *r = new_reader(name, flags, err);
	if (r == NULL)
		return NULL;
	r->mem = buf;
	r->size = buf == NULL ? 0 : len;
	return finish_open(r, err);
}

const struct svt_trace_header *svt_trace_reader_header(const struct svt_trace_reader *r)
{
	return &r->hs.h;
}

const char *svt_trace_reader_warning(const struct svt_trace_reader *r)
{
	return r->warning[0] ? r->warning : NULL;
}

const struct svt_trace_error *svt_trace_reader_error(const struct svt_trace_reader *r)
{
	return &r->err;
}

void svt_trace_close(struct svt_trace_reader *r)
{
	if (r == NULL)
		return;
	if (r->fd >= 0)
		close(r->fd);
	tr_header_free(&r->hs);
	ZSTD_freeDCtx(r->dctx);
	free(r->index);
	free(r->sbuf);
	free(r->cbuf);
	free(r->name);
	free(r);
}
