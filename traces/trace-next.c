/*
 * trace-next.c — reading events: loading a frame (header checks, checksum
 * of the stored bytes, decompression into a buffer of exactly the declared
 * size, checksum of the content), stepping through its records, the
 * checks at each frame boundary (record and event counts, gaps, the index
 * entry) and at the end (the trailer's totals), seeking through the index
 * or through frame headers scanned on demand, and the totals for info.
 */
#include <stdlib.h>

#include "trace_int.h"

#define FRAME_ERR(r, ...) \
	tr_rerr((r), SVT_TRACE_EINPUT, (r)->frame_no, (r)->frame_off, (r)->seq, __VA_ARGS__)

static bool grow(uint8_t **buf, size_t *cap, size_t need)
{
	if (need <= *cap)
		return true;
	uint8_t *b = realloc(*buf, need);
	if (b == NULL)
		return false;
	*buf = b;
	*cap = need;
	return true;
}

static int load_frame(struct svt_trace_reader *r, uint64_t off, uint64_t no)
{
	uint8_t hb[TR_FRAME_HDR];
	const uint8_t *p, *content;
	const char *why, *pre = r->via_index ?
		"the index points at a damaged frame or not at a frame: " : "";
	bool crc = !(r->flags & SVT_TRACE_NO_CRC);
	struct tr_frame f;
	int rc;

	r->in_frame = false;
	r->frame_no = no;
	r->frame_off = off;
	if (r->data_end - off < TR_FRAME_HDR)
		return FRAME_ERR(r, "%s%llu bytes after the last frame: too short for a frame "
				 "header (truncated file?)", pre,
				 (unsigned long long)(r->data_end - off));
	if ((rc = tr_src_read(r, off, TR_FRAME_HDR, hb, &p)) != SVT_TRACE_OK)
		return rc;
	if (!r->indexed && svt_get32(p) == TR_INDEX_MAGIC)
		return FRAME_ERR(r, "the frames end here at the seek index, but the trailer or "
				 "index is damaged: the trace may be incomplete");
	if (!tr_frame_decode(p, crc, &f, &why))
		return FRAME_ERR(r, "%s%s", pre, why);
	if (r->indexed && (no >= r->nindex || r->index[no].offset != off ||
			   r->index[no].first_seq != f.first_seq))
		return FRAME_ERR(r, "frame does not match the index (entry %llu of %llu)",
				 (unsigned long long)no, (unsigned long long)r->nindex);
	if (f.stored_size > r->data_end - off - TR_FRAME_HDR)
		return FRAME_ERR(r, "frame of %u bytes runs past the end of the %s (truncated "
				 "file?)", f.stored_size, r->indexed ? "frame area" : "file");
	if (r->fd >= 0 && !grow(&r->sbuf, &r->scap, f.stored_size))
		return tr_rerr(r, SVT_TRACE_ENOMEM, no, off, r->seq, "out of memory");
	if ((rc = tr_src_read(r, off + TR_FRAME_HDR, f.stored_size, r->sbuf, &p)) != SVT_TRACE_OK)
		return rc;
	if (crc && svt_crc32c(0, p, f.stored_size) != f.stored_crc)
		return FRAME_ERR(r, "frame checksum mismatch: the stored bytes are damaged");
	content = p;
	if (f.method == TR_METHOD_ZSTD) {
		if (ZSTD_getFrameContentSize(p, f.stored_size) != f.content_size)
			return FRAME_ERR(r, "zstd frame's content size is not the frame header's");
		size_t n = ZSTD_findFrameCompressedSize(p, f.stored_size);
		if (ZSTD_isError(n) || n != f.stored_size)
			return FRAME_ERR(r, "the stored bytes are not exactly one zstd frame");
		if (!grow(&r->cbuf, &r->ccap, f.content_size))
			return tr_rerr(r, SVT_TRACE_ENOMEM, no, off, r->seq, "out of memory");
		n = ZSTD_decompressDCtx(r->dctx, r->cbuf, f.content_size, p, f.stored_size);
		if (ZSTD_isError(n))
			return FRAME_ERR(r, "zstd: %s", ZSTD_getErrorName(n));
		if (n != f.content_size)
			return FRAME_ERR(r, "zstd frame decompressed to %zu bytes, not %u", n,
					 f.content_size);
		content = r->cbuf;
	}
	if (crc && svt_crc32c(0, content, f.content_size) != f.content_crc)
		return FRAME_ERR(r, "content checksum mismatch");
	r->fr = f;
	r->cstart = r->cp = content;
	r->cend = content + f.content_size;
	tr_state_reset(&r->st);
	r->frame_nrec = r->frame_nseq = 0;
	r->in_frame = true;
	r->next_off = off + TR_FRAME_HDR + f.stored_size;
	r->next_no = no + 1;
	r->via_index = false;
	return SVT_TRACE_OK;
}

static int at_end(struct svt_trace_reader *r)
{
	uint64_t got[SVT_TRACE_NTYPES] = { 0 };

	if (!r->indexed)
		return tr_rerr(r, SVT_TRACE_EINPUT, SVT_TRACE_NONE, r->next_off, r->seq,
			       "the frames end after %llu frame(s) but the file has no valid "
			       "trailer and index: the trace may be incomplete",
			       (unsigned long long)r->next_no);
	if (r->next_no != r->tr.frames || r->seq != r->tr.events)
		return tr_rerr(r, SVT_TRACE_EINPUT, SVT_TRACE_NONE, r->next_off, r->seq,
			       "the trailer says %llu events in %llu frames; the file holds %llu "
			       "in %llu",
			       (unsigned long long)r->tr.events, (unsigned long long)r->tr.frames,
			       (unsigned long long)r->seq, (unsigned long long)r->next_no);
	if (r->full_pass) {
		for (uint32_t t = 0; t < r->tr.ntypes; t++)
			got[t < SVT_TRACE_NTYPES ? t : 0] += r->tr.counts[t];
		for (unsigned t = 0; t < SVT_TRACE_NTYPES; t++)
			if (got[t] != r->counts[t])
				return tr_rerr(r, SVT_TRACE_EINPUT, SVT_TRACE_NONE, r->next_off,
					       r->seq, "the trailer counts %llu %s records; the "
					       "file holds %llu",
					       (unsigned long long)got[t], svt_trace_type_name(t),
					       (unsigned long long)r->counts[t]);
	}
	return SVT_TRACE_END;
}

/* The next event, whatever came before (no pending event, no sticky error). */
static int step(struct svt_trace_reader *r, struct svt_trace_event *ev)
{
	for (;;) {
		if (r->in_frame) {
			if (r->cp < r->cend) {
				const char *why;
				const uint8_t *rec = r->cp;
				uint64_t at = (uint64_t)(r->cp - r->cstart);
				if (r->frame_nrec == r->fr.nrec)
					return FRAME_ERR(r, "frame holds more records than its "
							 "header's %u", r->fr.nrec);
				if (!tr_decode(&r->st, &r->cp, r->cend, ev, r->membuf, &why))
					return FRAME_ERR(r, "record at byte %llu of the frame's "
							 "content: %s", (unsigned long long)at,
							 why);
				if (ev->type == SVT_TRACE_STEP_DONE && r->hs.h.minor < 6) {
					/* type 12 means STEP_DONE from 1.6 on; before, a
					 * writer passed it on as a type it did not know */
					uint64_t t = SVT_TRACE_STEP_DONE, len = 0;
					svt_getv(&rec, r->cp, &t);
					svt_getv(&rec, r->cp, &len);
					ev->type = SVT_TRACE_UNKNOWN;
					ev->u.unknown.type = t;
					ev->u.unknown.len = (uint32_t)len;
					ev->u.unknown.data = rec;
				}
				uint64_t span = svt_trace_event_span(ev);
				if (span > r->fr.nseq - r->frame_nseq)
					return FRAME_ERR(r, "frame's records cover more events "
							 "than its header's %llu",
							 (unsigned long long)r->fr.nseq);
				ev->seq = r->seq;
				r->seq += span;
				r->frame_nrec++;
				r->frame_nseq += span;
				r->counts[ev->type]++;
				if (ev->type == SVT_TRACE_UNKNOWN)
					r->unknown_seen++;
				return SVT_TRACE_OK;
			}
			if (r->frame_nrec != r->fr.nrec || r->frame_nseq != r->fr.nseq)
				return FRAME_ERR(r, "frame header says %u records covering %llu "
						 "events; its content holds %llu covering %llu",
						 r->fr.nrec,
						 (unsigned long long)r->fr.nseq,
						 (unsigned long long)r->frame_nrec,
						 (unsigned long long)r->frame_nseq);
			r->in_frame = false;
		}
		if (r->next_off >= r->data_end)
			return at_end(r);
		int rc = load_frame(r, r->next_off, r->next_no);
		if (rc != SVT_TRACE_OK)
			return rc;
		if (r->fr.first_seq < r->seq)
			return FRAME_ERR(r, "frame starts at event %llu, before the end of the "
					 "frame before it", (unsigned long long)r->fr.first_seq);
		if (r->fr.first_seq > r->seq) {
			memset(ev, 0, sizeof(*ev));
			ev->type = SVT_TRACE_LOST;
			ev->seq = r->seq;
			ev->u.lost.count = r->fr.first_seq - r->seq;
			ev->u.lost.reason = SVT_TRACE_LOST_GAP;
			r->seq = r->fr.first_seq;
			return SVT_TRACE_OK;
		}
	}
}

int svt_trace_next(struct svt_trace_reader *r, struct svt_trace_event *ev)
{
	if (r->err.status < 0)
		return r->err.status;
	if (r->have_pending) {
		*ev = r->pending;
		r->have_pending = false;
		return SVT_TRACE_OK;
	}
	return step(r, ev);
}

void tr_scan(struct svt_trace_reader *r, uint64_t seq)
{
	bool crc = !(r->flags & SVT_TRACE_NO_CRC);
	uint8_t hb[TR_FRAME_HDR];
	const uint8_t *p;
	struct tr_frame f;

	while (!r->scan_done && (r->nindex == 0 || r->scan_seq <= seq)) {
		uint64_t off = r->scan_off;
		const char *why = NULL;
		if (off >= r->data_end) {
			r->scan_done = true;
			break;
		}
		if (r->data_end - off < TR_FRAME_HDR)
			why = "too few bytes for a frame header (truncated file?)";
		else if (tr_src_read(r, off, TR_FRAME_HDR, hb, &p) != SVT_TRACE_OK)
			why = "read failed";
		else if (svt_get32(p) == TR_INDEX_MAGIC) {
			r->scan_done = true;    /* the frames end at the index */
			break;
		} else if (!tr_frame_decode(p, crc, &f, &why))
			;
		else if (f.stored_size > r->data_end - off - TR_FRAME_HDR)
			why = "frame runs past the end of the file (truncated file?)";
		else if (r->nindex > 0 && f.first_seq < r->scan_seq)
			why = "frame event numbers go backwards";
		else if (r->nindex == r->index_cap) {
			uint64_t cap = r->index_cap ? 2 * r->index_cap : 64;
			struct tr_index_entry *ix = realloc(r->index, (size_t)cap * sizeof(*ix));
			if (ix == NULL)
				why = "out of memory";
			else {
				r->index = ix;
				r->index_cap = cap;
			}
		}
		if (why != NULL) {
			r->scan_stop = why;
			r->scan_done = true;
			break;
		}
		r->index[r->nindex].offset = off;
		r->index[r->nindex].first_seq = f.first_seq;
		r->nindex++;
		r->scan_seq = f.first_seq + f.nseq;
		r->scan_off = off + TR_FRAME_HDR + f.stored_size;
	}
}

int svt_trace_seek(struct svt_trace_reader *r, uint64_t seq)
{
	struct svt_trace_event ev;
	uint64_t total;
	bool known;

	memset(&r->err, 0, sizeof(r->err));
	r->have_pending = false;
	if (r->indexed) {
		total = r->tr.events;
		known = true;
	} else {
		tr_scan(r, seq);
		total = r->scan_seq;
		known = r->scan_done && r->scan_stop == NULL;
		if (!known && seq >= r->scan_seq)
			return tr_rerr(r, SVT_TRACE_EINPUT, r->nindex, r->scan_off, seq,
				       "cannot seek: frame headers unreadable from here on: %s",
				       r->scan_stop);
	}
	r->in_frame = false;
	r->full_pass = false;
	if (seq > total)
		return tr_rerr(r, SVT_TRACE_EARG, SVT_TRACE_NONE, SVT_TRACE_NONE, seq,
			       "beyond the end of the trace (%llu events)",
			       (unsigned long long)total);
	if (seq == total || r->nindex == 0) {
		r->next_off = r->indexed ? r->data_end : r->scan_off;
		r->next_no = r->nindex;
		r->seq = seq;
		return SVT_TRACE_OK;
	}
	uint64_t lo = 0, hi = r->nindex;       /* last entry with first_seq <= seq, or 0 */
	while (hi - lo > 1) {
		uint64_t mid = lo + (hi - lo) / 2;
		if (r->index[mid].first_seq <= seq)
			lo = mid;
		else
			hi = mid;
	}
	r->next_off = r->index[lo].offset;
	r->next_no = lo;
	r->seq = lo == 0 ? 0 : r->index[lo].first_seq;
	r->via_index = true;
	if (lo == 0) {
		r->full_pass = true;
		memset(r->counts, 0, sizeof(r->counts));
	}
	for (;;) {
		int rc = step(r, &ev);
		if (rc == SVT_TRACE_END)
			return tr_rerr(r, SVT_TRACE_EINPUT, SVT_TRACE_NONE, r->next_off, seq,
				       "event not found where the index says it is");
		if (rc != SVT_TRACE_OK)
			return rc;
		if (ev.seq + svt_trace_event_span(&ev) > seq) {
			r->pending = ev;
			r->have_pending = true;
			return SVT_TRACE_OK;
		}
	}
}

int svt_trace_info(struct svt_trace_reader *r, struct svt_trace_info *info)
{
	memset(info, 0, sizeof(*info));
	info->major = r->hs.h.major;
	info->minor = r->hs.h.minor;
	info->file_size = r->size;
	info->indexed = r->indexed;
	if (r->indexed) {
		info->frames = r->tr.frames;
		info->events = r->tr.events;
		info->records = r->tr.records;
		info->lost = r->tr.lost;
		for (uint32_t t = 0; t < r->tr.ntypes; t++)
			info->counts[t < SVT_TRACE_NTYPES ? t : 0] += r->tr.counts[t];
	} else {
		tr_scan(r, UINT64_MAX);
		info->frames = r->nindex;
		info->events = r->scan_seq;
	}
	info->unknown_seen = r->unknown_seen;
	info->bytes_per_event = info->events ? (double)r->size / (double)info->events : 0.0;
	return SVT_TRACE_OK;
}

int svt_trace_verify_frames(struct svt_trace_reader *r, uint64_t *frames)
{
	uint64_t off = r->data_start, no = 0, seq = 0, records = 0;
	int rc = SVT_TRACE_OK;

	memset(&r->err, 0, sizeof(r->err));
	r->have_pending = false;
	r->via_index = false;
	r->full_pass = false;
	*frames = 0;
	while (off < r->data_end) {
		r->seq = seq;
		if ((rc = load_frame(r, off, no)) != SVT_TRACE_OK)
			goto out;
		if (r->fr.first_seq < seq) {
			rc = FRAME_ERR(r, "frame starts at event %llu, before the end of the frame "
				       "before it", (unsigned long long)r->fr.first_seq);
			goto out;
		}
		seq = r->fr.first_seq + r->fr.nseq;
		records += r->fr.nrec;
		off = r->next_off;
		*frames = ++no;
	}
	r->seq = seq;
	if (!r->indexed) {
		rc = tr_rerr(r, SVT_TRACE_EINPUT, SVT_TRACE_NONE, off, seq,
			     "the frames end after %llu frame(s) but the file has no valid "
			     "trailer and index: the trace may be incomplete",
			     (unsigned long long)no);
		goto out;
	}
	/* (the trailer's records per type add up to its records: load_trailer) */
	if (no != r->tr.frames || seq != r->tr.events || records != r->tr.records)
		rc = tr_rerr(r, SVT_TRACE_EINPUT, SVT_TRACE_NONE, off, seq,
			     "the trailer says %llu events, %llu records in %llu frames; the "
			     "frames hold %llu, %llu in %llu", (unsigned long long)r->tr.events,
			     (unsigned long long)r->tr.records, (unsigned long long)r->tr.frames,
			     (unsigned long long)seq, (unsigned long long)records,
			     (unsigned long long)no);
out:
	/* back to the start, as after opening */
	r->in_frame = false;
	r->next_off = r->data_start;
	r->next_no = 0;
	r->seq = 0;
	r->full_pass = true;
	memset(r->counts, 0, sizeof(r->counts));
	return rc;
}
