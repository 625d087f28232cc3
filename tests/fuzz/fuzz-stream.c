/*
 * fuzz-stream.c — the live-stream converter (sim/live/stream.c) on arbitrary
 * input.  The first byte picks how the rest is used: as the raw stream;
 * or cut into packets (HELLO, RECORDS, END, unknown types) with correct
 * checksums around hostile payloads, so the record decoder and the
 * header checks see them; with bytes flipped here and there.  Whatever
 * comes in, the conversion must end with 0 or -1 (with a message), and a
 * trace it writes must read back cleanly to its end with as many events
 * as the conversion reported.
 */
#include <string.h>

#include "fuzz.h"
#include "stream.h"
#include "stream_fmt.h"
#include "trace_int.h"

static struct svt_trace_writer *open_sink(void *ctx, const struct svt_trace_header *h,
					  struct svt_trace_error *err)
{
	return svt_trace_writer_open_sink(fz_sink_write, ctx, "fuzz", h, 0, err);
}

static void put32(uint8_t *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static size_t packet(uint8_t *out, uint32_t type, uint32_t no, uint64_t first,
		     const uint8_t *payload, uint32_t len)
{
	memcpy(out, "SVTL", 4);
	put32(out + 4, type);
	put32(out + 8, no);
	put32(out + 12, (uint32_t)first);
	put32(out + 16, (uint32_t)(first >> 32));
	put32(out + 20, len);
	memcpy(out + 24, payload, len);
	put32(out + 24 + len, svt_crc32c(0, out, 24 + len));
	return 28 + len;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fz f = { data, size, 0 };
	static uint8_t buf[1 << 18];
	size_t n = 0;

	if (fz_u8(&f) & 1) {
		n = size - f.off;
		memcpy(buf, data + f.off, n);
	} else {
		/* a plausible HELLO first, then packets of fuzz */
		uint8_t hello[64] = { 36 };
		put32(hello + 5, 1 + (uint32_t)fz_u64(&f, 2));          /* guest frames */
		put32(hello + 13, 16 + fz_u8(&f));                      /* pool */
		hello[31] = 5;
		memcpy(hello + 32, "fuzzy", 5);
		if (fz_u8(&f) & 1)
			n += packet(buf, SVT_STREAM_HELLO, 0, 0, hello, 37);
		uint64_t first = 0;
		for (uint32_t no = 1; fz_more(&f) && n + 4200 < sizeof(buf); no++) {
			uint32_t type = 1 + fz_u8(&f) % 4;
			uint32_t len = fz_u8(&f) * 8u;
			uint8_t payload[2048];
			for (uint32_t i = 0; i < len; i++)
				payload[i] = fz_u8(&f);
			first += fz_u8(&f) & 3;
			n += packet(buf + n, type, no, first, payload, len);
			if ((fz_u8(&f) & 15) == 0)
				buf[fz_u64(&f, 3) % n] ^= (uint8_t)(1u << (fz_u8(&f) & 7));
		}
	}
	struct fz_sink s = { 0 };
	struct svt_stream_result res;
	int rc = svt_stream_convert(buf, n, "fuzz", open_sink, &s, &res);
	FZ_CHECK(rc == 0 || rc == -1, "convert returned %d\n", rc);
	FZ_CHECK(rc == 0 || res.msg[0], "failure without a message\n");
	if (rc == 0) {
		struct svt_trace_error err;
		struct svt_trace_reader *r = svt_trace_open_mem(s.buf, s.len, "converted", 0, &err);
		FZ_CHECK(r != NULL, "the converted trace does not open: %s\n", err.msg);
		struct svt_trace_event ev;
		uint64_t events = 0;
		int st;
		while ((st = svt_trace_next(r, &ev)) == SVT_TRACE_OK)
			events += svt_trace_event_span(&ev);
		FZ_CHECK(st == SVT_TRACE_END, "the converted trace does not read to its end: %s\n",
			 svt_trace_reader_error(r)->msg);
		FZ_CHECK(events == res.events, "%llu events read, %llu converted\n",
			 (unsigned long long)events, (unsigned long long)res.events);
		svt_trace_close(r);
	}
	free(s.buf);
	return 0;
}
