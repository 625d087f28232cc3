/*
 * stream.c — the hypervisor's live stream into a trace (stream.h).
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "bytes.h"
#include "rec_codec.h"
#include "stream.h"
#include "stream_fmt.h"

struct conv {
	char cpu[300];                  /* the trace header's CPU model */
	struct svt_trace_range devices[SVT_STREAM_MAX_DEVICES];
	struct svt_stream_result *r;
	svt_stream_open_fn open;
	void *ctx;
	struct svt_trace_writer *w;
	uint64_t seq;                   /* next event number expected */
	bool hello;
	uint64_t end_events;
	struct svt_trace_error err;
};

/* HELLO (traces/FORMAT.md, "The live stream"): the machine and policy, the
 * guest's name, then (newer hypervisors) the CPU's brand string and the
 * device ranges passed through. */
static int hello(struct conv *c, const uint8_t *p, uint32_t len, const char *producer)
{
	struct svt_stream_hello hl;
	const char *why = svt_stream_hello_get(p, len, &hl, c->devices);
	if (why) {
		snprintf(c->r->msg, sizeof(c->r->msg), "%s", why);
		return -1;
	}
	memcpy(c->r->guest, hl.guest, hl.guest_len);
	c->r->guest[hl.guest_len] = 0;
	snprintf(c->cpu, sizeof(c->cpu), "Bochs 2.7 (VT-x, EPT off)");
	if (hl.has_cpu) {
		char brand[SVT_STREAM_MAX_NAME + 1];
		memcpy(brand, hl.cpu, hl.cpu_len);
		brand[hl.cpu_len] = 0;
		for (size_t i = 0; i < hl.cpu_len; i++)
			if ((unsigned char)brand[i] < 0x20 || (unsigned char)brand[i] > 0x7e)
				brand[i] = '?';
		snprintf(c->cpu, sizeof(c->cpu), "%s (VT-x, EPT off)", brand);
	}
	struct svt_trace_range all = { .gfn = 0, .count = hl.guest_frames };
	struct svt_trace_header h = {
		.producer = producer, .cpu_model = c->cpu, .guest = c->r->guest,
		.maxphyaddr = hl.maxphyaddr, .features = hl.features,
		.guest_frames = hl.guest_frames, .ram = hl.nram ? hl.ram : &all,
		.nram = hl.nram ? hl.nram : 1, .devices = c->devices, .ndevices = hl.ndevices,
		.pool_frames = hl.pool_frames, .links = hl.links, .root_cache = hl.root_cache,
		.policy = hl.policy, .evidence = hl.evidence,
	};
	c->w = c->open(c->ctx, &h, &c->err);
	if (!c->w) {
		snprintf(c->r->msg, sizeof(c->r->msg), "%s", c->err.msg);
		return -1;
	}
	c->hello = true;
	c->r->hello = true;
	return 0;
}

static int records(struct conv *c, uint64_t first, const uint8_t *p, uint32_t len)
{
	struct tr_state st;
	uint8_t membuf[SVT_TRACE_MAX_MEM];
	const uint8_t *end = p + len;

	if (first > c->seq) {           /* packets went missing */
		struct svt_trace_event ev = { .type = SVT_TRACE_LOST };
		ev.u.lost.count = first - c->seq;
		ev.u.lost.reason = SVT_TRACE_LOST_TRANSPORT;
		if (svt_trace_write(c->w, &ev) != SVT_TRACE_OK)
			return -1;
		c->r->lost += first - c->seq;
		c->seq = first;
	} else if (first < c->seq) {
		return 0;               /* a packet seen twice */
	}
	tr_state_reset(&st);
	while (p < end) {
		struct svt_trace_event ev;
		const char *why;
		if (!tr_decode(&st, &p, end, &ev, membuf, &why)) {
			snprintf(c->r->msg, sizeof(c->r->msg),
				 "the packet with event %" PRIu64 " passes its checksum but does "
				 "not decode: %s", c->seq, why);
			return -2;      /* checksummed but undecodable: the hypervisor is wrong */
		}
		if (svt_trace_write(c->w, &ev) != SVT_TRACE_OK)
			return -1;
		c->seq += svt_trace_event_span(&ev);
	}
	return 0;
}

static int convert(struct conv *c, const uint8_t *buf, size_t n, const char *producer)
{
	size_t off = 0;
	while (off + SVT_STREAM_HDR + SVT_STREAM_CRC <= n) {
		struct svt_stream_packet pk;
		if (!svt_stream_packet_get(buf + off, n - off, &pk)) {
			off++;          /* damaged: look for the next packet */
			c->r->damaged_bytes++;
			continue;
		}
		const uint8_t *p = buf + off + SVT_STREAM_HDR;
		uint64_t ev_count;
		const char *verdict;
		size_t vlen;
		c->r->packets++;
		if (pk.type == SVT_STREAM_HELLO && !c->hello) {
			if (hello(c, p, pk.len, producer) != 0)
				return -1;
		} else if (pk.type == SVT_STREAM_RECORDS && c->hello) {
			int rc = records(c, pk.first, p, pk.len);
			if (rc == -1) {
				snprintf(c->r->msg, sizeof(c->r->msg), "%s",
					 svt_trace_writer_error(c->w)->msg);
				return -1;
			}
			if (rc < 0)
				return -1;
		} else if (pk.type == SVT_STREAM_END && c->hello &&
			   svt_stream_end_get(p, pk.len, &ev_count, &verdict, &vlen)) {
			c->r->end = true;
			c->end_events = ev_count;
			memcpy(c->r->verdict, verdict, vlen);
			c->r->verdict[vlen] = 0;
		}
		off += SVT_STREAM_HDR + pk.len + SVT_STREAM_CRC;
	}
	c->r->damaged_bytes += n - off;
	if (!c->hello) {
		snprintf(c->r->msg, sizeof(c->r->msg),
			 "no HELLO packet: the hypervisor did not start recording");
		return -1;
	}
	if (c->r->end && c->end_events > c->seq) {
		struct svt_trace_event ev = { .type = SVT_TRACE_LOST };
		ev.u.lost.count = c->end_events - c->seq;
		ev.u.lost.reason = SVT_TRACE_LOST_TRANSPORT;
		if (svt_trace_write(c->w, &ev) != SVT_TRACE_OK) {
			snprintf(c->r->msg, sizeof(c->r->msg), "%s",
				 svt_trace_writer_error(c->w)->msg);
			return -1;
		}
		c->r->lost += c->end_events - c->seq;
		c->seq = c->end_events;
	}
	if (svt_trace_writer_close(c->w, &c->err) != SVT_TRACE_OK) {
		c->w = NULL;
		snprintf(c->r->msg, sizeof(c->r->msg), "%s", c->err.msg);
		return -1;
	}
	c->w = NULL;
	return 0;
}

int svt_stream_convert(const uint8_t *buf, size_t n, const char *producer, svt_stream_open_fn open,
		       void *ctx, struct svt_stream_result *res)
{
	struct conv c = { .r = res, .open = open, .ctx = ctx };
	memset(res, 0, sizeof(*res));
	int rc = convert(&c, buf, n, producer);
	if (c.w)
		svt_trace_writer_close(c.w, NULL);
	res->events = c.seq;
	return rc;
}
