/*
 * fuzz-trace.c — the trace reader (traces/trace*.c, common/rec-dec.c) on arbitrary input.  An
 * input that starts like a trace (0x89) is read as a whole file, once with
 * checksums and once without (so damage reaches the decoders); otherwise
 * its first byte picks a mode: the rest as a file without checksums; the
 * rest as frame contents wrapped in a valid header, frames (stored or zstd),
 * index and trailer with correct checksums, so the record decoders see
 * hostile records behind good checksums; or the rest as header fields
 * behind a valid magic and checksum.  Every input: open, info, read every
 * event, seek to a few positions; each must end in a clean status, every
 * event must be well-formed, sequence numbers must run without holes, END
 * must agree with the trailer's totals, and a seek must land on the event
 * covering the requested number.
 */
#include <string.h>
#include <zstd.h>

#include "fuzz.h"
#include "trace.h"
#include "trace_int.h"

static FILE *devnull;

static void check_event(const struct svt_trace_event *ev, unsigned minor)
{
	switch (ev->type) {
	case SVT_TRACE_FAULT:
		FZ_CHECK(ev->u.fault.insn_len <= 15 && ev->u.fault.cpl <= 3, "fault fields");
		FZ_CHECK(ev->u.fault.code_bits == 16 || ev->u.fault.code_bits == 32 ||
			 ev->u.fault.code_bits == 64, "code bits %u", ev->u.fault.code_bits);
		break;
	case SVT_TRACE_MEM:
		FZ_CHECK(ev->u.mem.len >= 1 && ev->u.mem.len <= 4096 && ev->u.mem.data != NULL,
			 "MEM length %u", ev->u.mem.len);
		FZ_CHECK(ev->u.mem.gpa + ev->u.mem.len <= (1ull << 52), "MEM address");
		break;
	case SVT_TRACE_DECISION:
		FZ_CHECK(ev->u.decision.outcome <= SVT_PF_RETRY, "outcome");
		break;
	case SVT_TRACE_LOST:
		FZ_CHECK(ev->u.lost.count >= 1, "LOST count 0");
		break;
	case SVT_TRACE_MARK:
		FZ_CHECK(ev->u.mark.len <= 255 &&
			 strlen(ev->u.mark.text) == ev->u.mark.len, "MARK");
		break;
	case SVT_TRACE_GUEST: {
		/* what the decoder accepts is what the writer accepts (a PKRU
		 * below 2^32, no kind above 5) */
		const char *bad = tr_check_guest(&ev->u.guest);
		FZ_CHECK(bad == NULL, "GUEST decoded yet refused: %s", bad);
		break;
	}
	case SVT_TRACE_UNKNOWN:
		/* (STEP_DONE's code is a type not known before 1.6) */
		FZ_CHECK(ev->u.unknown.type >= SVT_TRACE_NTYPES ||
			 (ev->u.unknown.type == SVT_TRACE_STEP_DONE && minor < 6),
			 "unknown type %llu", (unsigned long long)ev->u.unknown.type);
		break;
	case SVT_TRACE_STEP_DONE:
		FZ_CHECK(minor >= 6, "STEP_DONE in a file of minor %u", minor);
		break;
	default:
		FZ_CHECK(ev->type < SVT_TRACE_NTYPES, "type %d", ev->type);
	}
	svt_trace_dump_event(devnull, ev, false);
	svt_trace_dump_event(devnull, ev, true);
}

static void exercise(const uint8_t *buf, size_t n, unsigned flags, struct fz *seeks)
{
	struct svt_trace_error err;
	struct svt_trace_event ev;
	struct svt_trace_info info;
	struct svt_trace_reader *r = svt_trace_open_mem(buf, n, "fuzz", flags, &err);
	int rc;

	if (r == NULL) {
		FZ_CHECK(err.status < 0 && strncmp(err.msg, "fuzz: ", 6) == 0, "open: %s", err.msg);
		return;
	}
	svt_trace_info(r, &info);
	svt_trace_dump_info(devnull, svt_trace_reader_header(r), &info, true);
	uint64_t next = 0;
	while ((rc = svt_trace_next(r, &ev)) == SVT_TRACE_OK) {
		check_event(&ev, svt_trace_reader_header(r)->minor);
		FZ_CHECK(ev.seq == next, "event %llu after %llu", (unsigned long long)ev.seq,
			 (unsigned long long)next);
		FZ_CHECK(ev.seq + svt_trace_event_span(&ev) > ev.seq, "sequence overflow");
		next = ev.seq + svt_trace_event_span(&ev);
	}
	const struct svt_trace_error *e = svt_trace_reader_error(r);
	if (rc == SVT_TRACE_END)
		FZ_CHECK(info.indexed && next == info.events, "END at %llu of %llu",
			 (unsigned long long)next, (unsigned long long)info.events);
	else
		FZ_CHECK(rc < 0 && rc == e->status && strncmp(e->msg, "fuzz: ", 6) == 0,
			 "next: %d %s", rc, e->msg);
	for (int k = 0; k < 4 && fz_more(seeks); k++) {
		uint64_t s = fz_u64(seeks, 3);
		if (info.events < UINT64_MAX - 2)
			s %= info.events + 2;
		if (svt_trace_seek(r, s) != SVT_TRACE_OK)
			continue;
		rc = svt_trace_next(r, &ev);
		if (rc == SVT_TRACE_OK) {
			check_event(&ev, svt_trace_reader_header(r)->minor);
			FZ_CHECK(ev.seq <= s && s < ev.seq + svt_trace_event_span(&ev),
				 "seek %llu gave %llu", (unsigned long long)s,
				 (unsigned long long)ev.seq);
		} else {
			FZ_CHECK(rc == SVT_TRACE_END ? s >= info.events : rc < 0,
				 "seek, next: %d", rc);
		}
	}
	svt_trace_close(r);
}

static uint8_t out[1 << 21];
static size_t outn;

static void put(const void *p, size_t n)
{
	if (n <= sizeof(out) - outn) {
		memcpy(out + outn, p, n);
		outn += n;
	}
}

static void std_header(void)
{
	static const struct svt_trace_range ram[] = { { 0, 100 }, { 200, 56 } };
	struct svt_trace_header h = {
		.producer = "fuzz", .maxphyaddr = 40, .guest_frames = 256, .ram = ram, .nram = 2,
		.pool_frames = 64,
	};
	uint8_t *hdr;
	size_t hlen;
	FZ_CHECK(tr_header_encode(&h, 4096, &hdr, &hlen), "header");
	put(hdr, hlen);
	free(hdr);
}

/* The rest of the input as up to 8 frames behind correct checksums. */
static void wrapped(struct fz *f)
{
	static uint8_t content[4096], z[8192];
	struct tr_index_entry ix[8];
	struct tr_trailer t = { 0 };
	uint8_t fh[TR_FRAME_HDR], tail[1024];
	uint64_t seq = 0;
	int nf = 1 + fz_u8(f) % 8;

	outn = 0;
	std_header();
	for (int i = 0; i < nf; i++) {
		struct tr_frame fr = { 0 };
		uint8_t mode = fz_u8(f);
		size_t len = 2 + fz_u64(f, 2) % (sizeof(content) - 1);
		for (size_t k = 0; k < len; k++)
			content[k] = fz_u8(f);
		fr.nrec = 1 + (uint32_t)(fz_u8(f) % (len / 2));
		fr.nseq = fr.nrec + (mode & 4 ? fz_u8(f) : 0);
		seq += mode & 8 ? fz_u8(f) : 0;         /* a gap */
		fr.first_seq = seq;
		seq += fr.nseq;
		fr.content_size = (uint32_t)len;
		fr.content_crc = svt_crc32c(0, content, len);
		const uint8_t *stored = content;
		fr.stored_size = (uint32_t)len;
		if (mode & 1) {
			size_t zn = ZSTD_compress(z, sizeof(z), content, len, 1);
			FZ_CHECK(!ZSTD_isError(zn), "compress");
			fr.method = TR_METHOD_ZSTD;
			fr.stored_size = (uint32_t)zn;
			stored = z;
		}
		fr.stored_crc = svt_crc32c(0, stored, fr.stored_size);
		tr_frame_encode(&fr, fh);
		ix[i].offset = outn;
		ix[i].first_seq = fr.first_seq;
		put(fh, sizeof(fh));
		put(stored, fr.stored_size);
		t.records += fr.nrec;
		/* Count record types as far as they parse, for the trailer. */
		const uint8_t *p = content, *end = content + len;
		uint64_t ty, l;
		while (p < end && svt_getv(&p, end, &ty) && svt_getv(&p, end, &l) &&
		       l <= (uint64_t)(end - p)) {
			t.counts[ty < SVT_TRACE_NTYPES ? ty : 0]++;
			p += l;
		}
	}
	uint64_t sum = 0;       /* the trailer must add up; make it, whatever the content */
	for (int k = 1; k < SVT_TRACE_NTYPES; k++)
		sum += t.counts[k];
	t.counts[0] = t.records > sum ? t.records - sum : 0;
	t.records = sum + t.counts[0];
	t.events = seq;
	t.frames = (uint64_t)nf;
	t.index_offset = outn;
	t.index_size = TR_INDEX_FIXED + 16 * (uint64_t)nf + 4;
	t.ntypes = SVT_TRACE_NTYPES;
	tr_index_encode(ix, (uint64_t)nf, tail);
	put(tail, (size_t)t.index_size);
	tr_trailer_encode(&t, tail);
	put(tail, tr_trailer_size(t.ntypes));
}

/* The rest of the input as header fields behind a good magic and checksum. */
static void header_fields(struct fz *f)
{
	uint8_t fixed[TR_FILE_FIXED], crc[4];
	uint16_t minor = fz_u8(f);
	size_t n = f->n - f->off;
	if (n > 65536)
		n = 65536;
	outn = 0;
	memcpy(fixed, svt_trace_file_magic, 8);
	svt_put16(fixed + 8, 1);
	svt_put16(fixed + 10, minor);
	svt_put32(fixed + 12, (uint32_t)(TR_FILE_FIXED + n + 4));
	put(fixed, sizeof(fixed));
	put(f->p + f->off, n);
	svt_put32(crc, svt_crc32c(0, out, outn));
	put(crc, 4);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fz seeks = { data, size, size / 2 };
	struct fz f = { data, size, 1 };

	if (devnull == NULL && (devnull = fopen("/dev/null", "w")) == NULL)
		abort();
	if (size == 0 || data[0] == 0x89) {
		exercise(data, size, 0, &seeks);
		seeks.off = size / 2;
		exercise(data, size, SVT_TRACE_NO_CRC, &seeks);
		return 0;
	}
	switch (data[0] % 3) {
	case 0:
		exercise(data + 1, size - 1, SVT_TRACE_NO_CRC, &seeks);
		break;
	case 1:
		wrapped(&f);
		exercise(out, outn, 0, &seeks);
		break;
	default:
		header_fields(&f);
		exercise(out, outn, 0, &seeks);
		break;
	}
	return 0;
}
