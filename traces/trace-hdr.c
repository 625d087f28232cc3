/*
 * trace-hdr.c — the fixed structures of a trace file (traces/FORMAT.md):
 * the file header and its tagged fields, frame headers, the seek index and
 * the trailer.  Each has an encoder writing explicit little-endian bytes
 * and a decoder that checks magic, checksum and every size and count
 * against hard limits before anything is allocated.
 */
#include <stdlib.h>
#include <zstd.h>

#include "trace_int.h"

const uint8_t svt_trace_file_magic[8] = { 0x89, 'S', 'V', 'T', '\r', '\n', 0x1a, '\n' };
const uint8_t svt_trace_end_magic[8] = { 'S', 'V', 'T', '-', 'E', 'N', 'D', '\n' };

#define NEED(cond, msg) do { if (!(cond)) { *why = (msg); return false; } } while (0)

#define POLICY_EARLY_UNSHADOW 1u
#define POLICY_EMULATE        2u

void svt_trace_mmu_config(const struct svt_trace_header *h, struct svt_mmu_config *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	cfg->pool_frames = h->pool_frames;
	cfg->guest_frames = h->guest_frames;
	cfg->links = h->links;
	cfg->root_cache = h->root_cache;
	cfg->maxphyaddr = h->maxphyaddr;
	cfg->features = h->features;
	cfg->policy = h->policy;
}

static size_t slen(const char *s)
{
	if (s == NULL)
		return 0;
	const char *z = memchr(s, 0, SVT_TRACE_MAX_STRING + 1);
	return z == NULL ? SVT_TRACE_MAX_STRING + 1 : (size_t)(z - s);
}

const char *tr_check_header(const struct svt_trace_header *h)
{
	if (slen(h->producer) > SVT_TRACE_MAX_STRING || slen(h->cpu_model) > SVT_TRACE_MAX_STRING ||
	    slen(h->guest) > SVT_TRACE_MAX_STRING)
		return "a header string is longer than 4096 bytes";
	if (h->maxphyaddr < 32 || h->maxphyaddr > 52)
		return "MAXPHYADDR not in 32..52";
	if (h->features & ~(uint32_t)SVT_FEAT_ALL)
		return "unknown CPU feature bits";
	if (h->guest_frames > (1ull << (h->maxphyaddr - 12)))
		return "guest_frames beyond MAXPHYADDR";
	if (h->pool_frames < 16 || h->pool_frames > (1u << 28))
		return "pool_frames not in 16..2^28";
	if (h->policy.oos > 65536 || h->policy.prefetch > 512 || h->root_cache > 65536)
		return "a policy value is out of range (oos <= 65536, prefetch <= 512, "
		       "root_cache <= 65536)";
	if (h->nram > SVT_TRACE_MAX_RANGES)
		return "more than 16384 RAM ranges";
	if (h->nram > 0 && h->ram == NULL)
		return "RAM ranges missing";
	uint64_t end = 0;
	for (size_t i = 0; i < h->nram; i++) {
		const struct svt_trace_range *r = &h->ram[i];
		if (r->count == 0)
			return "an empty RAM range";
		if (i > 0 && r->gfn < end)
			return "RAM ranges not sorted or overlapping";
		if (r->gfn > h->guest_frames || r->count > h->guest_frames - r->gfn)
			return "a RAM range beyond guest_frames";
		end = r->gfn + r->count;
	}
	if (h->ndevices > SVT_TRACE_MAX_RANGES)
		return "more than 16384 device ranges";
	if (h->ndevices > 0 && h->devices == NULL)
		return "device ranges missing";
	end = 0;
	size_t ri = 0;
	for (size_t i = 0; i < h->ndevices; i++) {
		const struct svt_trace_range *r = &h->devices[i];
		if (r->count == 0)
			return "an empty device range";
		if (i > 0 && r->gfn < end)
			return "device ranges not sorted or overlapping";
		if (r->gfn >= (1ull << (h->maxphyaddr - 12)) ||
		    r->count > (1ull << (h->maxphyaddr - 12)) - r->gfn)
			return "a device range beyond MAXPHYADDR";
		while (ri < h->nram && h->ram[ri].gfn + h->ram[ri].count <= r->gfn)
			ri++;
		if (ri < h->nram && h->ram[ri].gfn < r->gfn + r->count)
			return "a device range overlaps RAM";
		end = r->gfn + r->count;
	}
	return NULL;
}

/* ---- the file header ------------------------------------------------------ */

static uint8_t *put_field(uint8_t *p, unsigned tag, const void *payload, size_t len)
{
	p += svt_putv(p, tag);
	p += svt_putv(p, len);
	memcpy(p, payload, len);
	return p + len;
}

static uint8_t *put_ranges(uint8_t *p, unsigned tag, const struct svt_trace_range *r, size_t n)
{
	uint8_t t2[20];
	size_t rlen = (size_t)svt_putv(t2, n);
	uint64_t end = 0;
	for (size_t i = 0; i < n; i++) {
		rlen += svt_putv(t2, r[i].gfn - end) + svt_putv(t2, r[i].count);
		end = r[i].gfn + r[i].count;
	}
	p += svt_putv(p, tag);
	p += svt_putv(p, rlen);
	p += svt_putv(p, n);
	end = 0;
	for (size_t i = 0; i < n; i++) {
		p += svt_putv(p, r[i].gfn - end);
		p += svt_putv(p, r[i].count);
		end = r[i].gfn + r[i].count;
	}
	return p;
}

bool tr_header_encode(const struct svt_trace_header *h, uint32_t frame_size,
		      uint8_t **out, size_t *outlen)
{
	size_t cap = TR_FILE_FIXED + 3 * (SVT_TRACE_MAX_STRING + 16) +
		     20 * (h->nram + h->ndevices) + 256;
	uint8_t *buf = malloc(cap), *p, *q;
	uint8_t tmp[128];
	if (buf == NULL)
		return false;

	memcpy(buf, svt_trace_file_magic, 8);
	svt_put16(buf + 8, SVT_TRACE_MAJOR);
	svt_put16(buf + 10, SVT_TRACE_MINOR);
	p = buf + TR_FILE_FIXED;
	p = put_field(p, TR_H_PRODUCER, h->producer ? h->producer : "", slen(h->producer));
	p = put_field(p, TR_H_CPU_MODEL, h->cpu_model ? h->cpu_model : "", slen(h->cpu_model));
	p = put_field(p, TR_H_GUEST, h->guest ? h->guest : "", slen(h->guest));

	q = tmp;
	q += svt_putv(q, h->maxphyaddr);
	q += svt_putv(q, h->features);
	q += svt_putv(q, h->guest_frames);
	p = put_field(p, TR_H_MACHINE, tmp, (size_t)(q - tmp));

	/* RAM: count, then per range the gap from the previous range's end
	 * and the length, in frames; DEVICE (only if there are any) alike. */
	p = put_ranges(p, TR_H_RAM, h->ram, h->nram);
	if (h->ndevices > 0)
		p = put_ranges(p, TR_H_DEVICE, h->devices, h->ndevices);

	q = tmp;
	q += svt_putv(q, h->policy.oos);
	q += svt_putv(q, h->policy.prefetch);
	q += svt_putv(q, (h->policy.early_unshadow ? POLICY_EARLY_UNSHADOW : 0) |
			(h->policy.emulate ? POLICY_EMULATE : 0));
	q += svt_putv(q, h->pool_frames);
	q += svt_putv(q, h->links);
	q += svt_putv(q, h->root_cache);
	p = put_field(p, TR_H_POLICY, tmp, (size_t)(q - tmp));

	if (h->evidence) {      /* only when there is any (version 1.2) */
		q = tmp;
		q += svt_putv(q, h->evidence);
		p = put_field(p, TR_H_EVIDENCE, tmp, (size_t)(q - tmp));
	}

	/* Last, and fixed-width, so the writer can patch it (tr_header_set_frame_size). */
	svt_put32(tmp, frame_size);
	p = put_field(p, TR_H_FRAME_SIZE, tmp, 4);

	size_t n = (size_t)(p - buf) + 4;
	svt_put32(buf + 12, (uint32_t)n);
	svt_put32(p, svt_crc32c(0, buf, n - 4));
	*out = buf;
	*outlen = n;
	return true;
}

void tr_header_set_frame_size(uint8_t *hdr, size_t len, uint32_t frame_size)
{
	svt_put32(hdr + len - 8, frame_size);
	svt_put32(hdr + len - 4, svt_crc32c(0, hdr, len - 4));
}

uint32_t tr_header_size(const uint8_t *fixed, uint64_t file_size, const char **why)
{
	*why = NULL;
	if (memcmp(fixed, svt_trace_file_magic, 8) != 0) {
		*why = "not a shadowvt trace (bad magic)";
		return 0;
	}
	if (svt_get16(fixed + 8) != SVT_TRACE_MAJOR) {
		*why = "unsupported major version (this reader reads version 1)";
		return 0;
	}
	uint32_t n = svt_get32(fixed + 12);
	if (n < TR_FILE_FIXED + 4 || n > SVT_TRACE_MAX_HEADER) {
		*why = "header size out of range (20 bytes .. 1 MiB)";
		return 0;
	}
	if (n > file_size) {
		*why = "header runs past the end of the file";
		return 0;
	}
	return n;
}

static bool get_string(const uint8_t *p, uint64_t len, char **out, const char **why)
{
	NEED(len <= SVT_TRACE_MAX_STRING, "header string longer than 4096 bytes");
	NEED(memchr(p, 0, (size_t)len) == NULL, "NUL inside a header string");
	NEED(*out == NULL, "header field repeated");
	*out = malloc((size_t)len + 1);
	if (*out == NULL)
		return false;
	memcpy(*out, p, (size_t)len);
	(*out)[len] = '\0';
	return true;
}

static bool get_ranges(const uint8_t *p, const uint8_t *end, struct svt_trace_range **out,
		       size_t *nout, const char *what, const char **why)
{
	uint64_t n, gap = 0, count = 0, at = 0;
	bool ram = what[0] == 'R';
#define RNEED(c, r, d) do { if (!(c)) { *why = ram ? (r) : (d); return false; } } while (0)
	RNEED(svt_getv(&p, end, &n), "RAM field truncated", "DEVICE field truncated");
	RNEED(n <= SVT_TRACE_MAX_RANGES, "more than 16384 RAM ranges",
	      "more than 16384 device ranges");
	RNEED(n <= (uint64_t)(end - p) / 2, "RAM range count larger than the field",
	      "device range count larger than the field");
	*out = malloc(n == 0 ? 1 : (size_t)n * sizeof(**out));
	if (*out == NULL)
		return false;
	for (uint64_t i = 0; i < n; i++) {
		RNEED(svt_getv(&p, end, &gap) && svt_getv(&p, end, &count), "RAM field truncated",
		      "DEVICE field truncated");
		RNEED(gap < (1ull << 52) && count <= (1ull << 52) &&
		      at + gap + count <= (1ull << 52),
		      "RAM range beyond 2^52 frames", "device range beyond 2^52 frames");
		(*out)[i].gfn = at + gap;
		(*out)[i].count = count;
		at += gap + count;
	}
#undef RNEED
	*nout = (size_t)n;
	return true;
}

static bool get_u32(const uint8_t **p, const uint8_t *end, uint32_t *v, const char **why)
{
	uint64_t x;
	NEED(svt_getv(p, end, &x), "header field truncated");
	NEED(x <= UINT32_MAX, "header value above 32 bits");
	*v = (uint32_t)x;
	return true;
}

/* One known field; false with *why (or, *why NULL, out of memory). */
static bool get_field(unsigned tag, const uint8_t *p, const uint8_t *end,
		      struct tr_header_store *hs, const char **why)
{
	struct svt_trace_header *h = &hs->h;
	uint32_t v;
	switch (tag) {
	case TR_H_PRODUCER:
	case TR_H_CPU_MODEL:
	case TR_H_GUEST:
		return get_string(p, (uint64_t)(end - p), &hs->strings[tag - 1], why);
	case TR_H_MACHINE:
		if (!get_u32(&p, end, &v, why))
			return false;
		NEED(v >= 32 && v <= 52, "MAXPHYADDR not in 32..52");
		h->maxphyaddr = (uint8_t)v;
		if (!get_u32(&p, end, &h->features, why))
			return false;
		NEED(svt_getv(&p, end, &h->guest_frames), "MACHINE field truncated");
		return true;
	case TR_H_RAM:
		if (!get_ranges(p, end, &hs->ram, &h->nram, "RAM", why))
			return false;
		h->ram = hs->ram;
		return true;
	case TR_H_DEVICE:
		if (!get_ranges(p, end, &hs->devices, &h->ndevices, "device", why))
			return false;
		h->devices = hs->devices;
		return true;
	case TR_H_POLICY:
		if (!get_u32(&p, end, &h->policy.oos, why) ||
		    !get_u32(&p, end, &h->policy.prefetch, why) || !get_u32(&p, end, &v, why))
			return false;
		NEED(v <= 3, "unknown policy flags");
		h->policy.early_unshadow = v & POLICY_EARLY_UNSHADOW;
		h->policy.emulate = (v & POLICY_EMULATE) != 0;
		return get_u32(&p, end, &h->pool_frames, why) && get_u32(&p, end, &h->links, why) &&
		       get_u32(&p, end, &h->root_cache, why);
	case TR_H_FRAME_SIZE:
		NEED(end - p >= 4, "FRAME_SIZE field truncated");
		h->frame_size = svt_get32(p);
		return true;
	case TR_H_EVIDENCE:
		/* bits this reader does not know are kept: they only add */
		return get_u32(&p, end, &h->evidence, why);
	}
	return true;    /* unknown tags are skipped */
}

int tr_header_decode(const uint8_t *buf, size_t len, bool check_crc,
		     struct tr_header_store *hs, const char **why)
{
	const uint8_t *p = buf + TR_FILE_FIXED, *end = buf + len - 4;
	unsigned seen = 0;

	memset(hs, 0, sizeof(*hs));
	hs->h.major = svt_get16(buf + 8);
	hs->h.minor = svt_get16(buf + 10);
	if (check_crc && svt_crc32c(0, buf, len - 4) != svt_get32(end)) {
		*why = "header checksum mismatch";
		return SVT_TRACE_EINPUT;
	}
	while (p < end) {
		uint64_t tag, flen;
		if (!svt_getv(&p, end, &tag) || !svt_getv(&p, end, &flen) ||
		    flen > (uint64_t)(end - p)) {
			*why = "header field runs past the header";
			return SVT_TRACE_EINPUT;
		}
		if (tag >= 1 && tag <= TR_H_EVIDENCE) {
			if (seen & (1u << tag)) {
				*why = "header field repeated";
				return SVT_TRACE_EINPUT;
			}
			seen |= 1u << tag;
			*why = NULL;
			if (!get_field((unsigned)tag, p, p + flen, hs, why))
				return *why ? SVT_TRACE_EINPUT : SVT_TRACE_ENOMEM;
		}
		p += flen;
	}
	unsigned need = 1u << TR_H_MACHINE | 1u << TR_H_RAM | 1u << TR_H_POLICY;
	if ((seen & need) != need) {
		*why = "header lacks the MACHINE, RAM or POLICY field";
		return SVT_TRACE_EINPUT;
	}
	hs->h.producer = hs->strings[0] ? hs->strings[0] : "";
	hs->h.cpu_model = hs->strings[1] ? hs->strings[1] : "";
	hs->h.guest = hs->strings[2] ? hs->strings[2] : "";
	*why = tr_check_header(&hs->h);
	return *why ? SVT_TRACE_EINPUT : SVT_TRACE_OK;
}

void tr_header_free(struct tr_header_store *hs)
{
	for (int i = 0; i < 3; i++)
		free(hs->strings[i]);
	free(hs->ram);
	free(hs->devices);
	memset(hs, 0, sizeof(*hs));
}

/* ---- frame headers ---------------------------------------------------------- */

void tr_frame_encode(const struct tr_frame *f, uint8_t out[TR_FRAME_HDR])
{
	svt_put32(out, TR_FRAME_MAGIC);
	out[4] = f->method;
	out[5] = out[6] = out[7] = 0;
	svt_put32(out + 8, f->stored_size);
	svt_put32(out + 12, f->content_size);
	svt_put64(out + 16, f->first_seq);
	svt_put64(out + 24, f->nseq);
	svt_put32(out + 32, f->nrec);
	svt_put32(out + 36, f->stored_crc);
	svt_put32(out + 40, f->content_crc);
	svt_put32(out + 44, svt_crc32c(0, out, 44));
}

bool tr_frame_decode(const uint8_t in[TR_FRAME_HDR], bool check_crc, struct tr_frame *f,
		     const char **why)
{
	NEED(svt_get32(in) == TR_FRAME_MAGIC, "not a frame (bad frame magic)");
	NEED(!check_crc || svt_crc32c(0, in, 44) == svt_get32(in + 44),
	     "frame header checksum mismatch");
	f->method = in[4];
	NEED(f->method == TR_METHOD_STORED || f->method == TR_METHOD_ZSTD,
	     "unknown frame compression method");
	NEED(in[5] == 0 && in[6] == 0 && in[7] == 0, "reserved frame header bytes not zero");
	f->stored_size = svt_get32(in + 8);
	f->content_size = svt_get32(in + 12);
	f->first_seq = svt_get64(in + 16);
	f->nseq = svt_get64(in + 24);
	f->nrec = svt_get32(in + 32);
	f->stored_crc = svt_get32(in + 36);
	f->content_crc = svt_get32(in + 40);
	NEED(f->content_size <= SVT_TRACE_MAX_CONTENT, "frame content larger than 16 MiB");
	if (f->method == TR_METHOD_STORED)
		NEED(f->stored_size == f->content_size, "stored frame's sizes differ");
	else
		NEED(f->stored_size <= ZSTD_COMPRESSBOUND(f->content_size) && f->stored_size > 0,
		     "compressed frame size out of range");
	NEED(f->nrec >= 1, "frame holds no records");
	NEED(f->nrec <= f->content_size / 2, "frame record count larger than its content");
	NEED(f->nseq >= f->nrec, "frame covers fewer events than it holds records");
	NEED(f->first_seq + f->nseq >= f->first_seq, "frame event numbers overflow");
	return true;
}

/* ---- the index -------------------------------------------------------------- */

void tr_index_encode(const struct tr_index_entry *e, uint64_t n, uint8_t *out)
{
	svt_put32(out, TR_INDEX_MAGIC);
	svt_put32(out + 4, 0);
	svt_put64(out + 8, n);
	for (uint64_t i = 0; i < n; i++) {
		svt_put64(out + TR_INDEX_FIXED + 16 * i, e[i].offset);
		svt_put64(out + TR_INDEX_FIXED + 16 * i + 8, e[i].first_seq);
	}
	size_t len = TR_INDEX_FIXED + 16 * (size_t)n;
	svt_put32(out + len, svt_crc32c(0, out, len));
}

bool tr_index_decode(const uint8_t *p, uint64_t len, bool check_crc, struct tr_index_entry *e,
		     uint64_t n, const char **why)
{
	NEED(len == TR_INDEX_FIXED + 16 * n + 4, "index size does not match the frame count");
	NEED(svt_get32(p) == TR_INDEX_MAGIC, "bad index magic");
	NEED(svt_get32(p + 4) == 0, "reserved index bytes not zero");
	NEED(svt_get64(p + 8) == n, "index entry count does not match the trailer");
	NEED(!check_crc || svt_crc32c(0, p, (size_t)len - 4) == svt_get32(p + len - 4),
	     "index checksum mismatch");
	for (uint64_t i = 0; i < n; i++) {
		e[i].offset = svt_get64(p + TR_INDEX_FIXED + 16 * i);
		e[i].first_seq = svt_get64(p + TR_INDEX_FIXED + 16 * i + 8);
	}
	return true;
}

/* ---- the trailer ------------------------------------------------------------ */

void tr_trailer_encode(const struct tr_trailer *t, uint8_t *out)
{
	uint32_t size = tr_trailer_size(t->ntypes);
	svt_put32(out, TR_TRAILER_MAGIC);
	svt_put32(out + 4, t->ntypes);
	svt_put64(out + 8, t->events);
	svt_put64(out + 16, t->records);
	svt_put64(out + 24, t->lost);
	svt_put64(out + 32, t->frames);
	svt_put64(out + 40, t->index_offset);
	svt_put64(out + 48, t->index_size);
	for (uint32_t i = 0; i < t->ntypes; i++)
		svt_put64(out + TR_TRAILER_FIXED + 8 * i, t->counts[i]);
	uint8_t *tail = out + size - TR_TRAILER_TAIL;
	svt_put32(tail, svt_crc32c(0, out, size - TR_TRAILER_TAIL));
	svt_put32(tail + 4, size);
	memcpy(tail + 8, svt_trace_end_magic, 8);
}

uint32_t tr_trailer_tail(const uint8_t tail[TR_TRAILER_TAIL], const char **why)
{
	uint32_t size = svt_get32(tail + 4);
	*why = NULL;
	if (memcmp(tail + 8, svt_trace_end_magic, 8) != 0) {
		*why = "no trailer at the end of the file (truncated, or the recording was "
		       "interrupted)";
		return 0;
	}
	if (size < tr_trailer_size(1) || size > tr_trailer_size(TR_MAX_NTYPES) ||
	    (size - tr_trailer_size(0)) % 8 != 0) {
		*why = "trailer size out of range";
		return 0;
	}
	return size;
}

bool tr_trailer_decode(const uint8_t *p, uint32_t len, bool check_crc, struct tr_trailer *t,
		       const char **why)
{
	NEED(svt_get32(p) == TR_TRAILER_MAGIC, "bad trailer magic");
	t->ntypes = svt_get32(p + 4);
	NEED(t->ntypes >= 1 && t->ntypes <= TR_MAX_NTYPES && len == tr_trailer_size(t->ntypes),
	     "trailer type count does not match its size");
	NEED(!check_crc || svt_crc32c(0, p, len - TR_TRAILER_TAIL) ==
			   svt_get32(p + len - TR_TRAILER_TAIL), "trailer checksum mismatch");
	t->events = svt_get64(p + 8);
	t->records = svt_get64(p + 16);
	t->lost = svt_get64(p + 24);
	t->frames = svt_get64(p + 32);
	t->index_offset = svt_get64(p + 40);
	t->index_size = svt_get64(p + 48);
	uint64_t sum = 0;
	for (uint32_t i = 0; i < t->ntypes; i++) {
		t->counts[i] = svt_get64(p + TR_TRAILER_FIXED + 8 * i);
		NEED(sum + t->counts[i] >= sum, "trailer counts overflow");
		sum += t->counts[i];
	}
	NEED(sum == t->records, "trailer record count is not the sum of its per-type counts");
	NEED(t->records <= t->events && t->lost <= t->events, "trailer totals inconsistent");
	NEED(t->records == 0 || t->frames >= 1, "trailer: records but no frames");
	NEED(t->frames <= t->records, "trailer: more frames than records");
	return true;
}
