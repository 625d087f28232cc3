/*
 * stream.c — the hypervisor's live stream into a trace (stream.h).
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "stream.h"
#include "trace_int.h"

#define PK_HDR 24
#define PK_MAX (1u << 20)

#define STREAM_MAX_DEVICES 64

struct conv {
	char cpu[300];                  /* the trace header's CPU model */
	struct svt_trace_range devices[STREAM_MAX_DEVICES];
	struct svt_stream_result *r;
	svt_stream_open_fn open;
	void *ctx;
	struct svt_trace_writer *w;
	uint64_t seq;                   /* next event number expected */
	bool hello;
	uint64_t end_events;
	struct svt_trace_error err;
};

static uint32_t get32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static uint64_t get64(const uint8_t *p)
{
	return get32(p) | (uint64_t)get32(p + 4) << 32;
}

/* HELLO (traces/FORMAT.md, "The live stream"): the machine and policy, the
 * guest's name, then (optional, newer hypervisors) the CPU's brand string
 * and the device ranges passed through. */
static int hello(struct conv *c, const uint8_t *p, uint32_t len, const char *producer)
{
	if (len < 32 || 32 + (uint32_t)p[31] > len) {
		snprintf(c->r->msg, sizeof(c->r->msg), "the HELLO packet is too short");
		return -1;
	}
	size_t gl = p[31];
	memcpy(c->r->guest, p + 32, gl);
	c->r->guest[gl] = 0;
	snprintf(c->cpu, sizeof(c->cpu), "Bochs 2.7 (VT-x, EPT off)");
	uint32_t at = 32 + (uint32_t)gl;
	size_t ndev = 0;
	uint32_t root_cache = 0;
	if (at < len) {
		uint32_t bl = p[at++];
		if (at + bl + 2 > len) {
			snprintf(c->r->msg, sizeof(c->r->msg), "the HELLO packet's CPU string is cut short");
			return -1;
		}
		char brand[256];
		memcpy(brand, p + at, bl);
		brand[bl] = 0;
		for (uint32_t i = 0; i < bl; i++)
			if ((unsigned char)brand[i] < 0x20 || (unsigned char)brand[i] > 0x7e)
				brand[i] = '?';
		at += bl;
		snprintf(c->cpu, sizeof(c->cpu), "%s (VT-x, EPT off)", brand);
		ndev = (size_t)p[at] | (size_t)p[at + 1] << 8;
		at += 2;
		if (ndev > STREAM_MAX_DEVICES || at + 16 * ndev > len) {
			snprintf(c->r->msg, sizeof(c->r->msg), "the HELLO packet's device ranges are cut short");
			return -1;
		}
		for (size_t i = 0; i < ndev; i++, at += 16) {
			c->devices[i].gfn = get64(p + at);
			c->devices[i].count = get64(p + at + 8);
		}
		if (at + 4 <= len)      /* hypervisors since the root cache */
			root_cache = get32(p + at);
	}
	struct svt_trace_range ram = { .gfn = 0, .count = get64(p + 5) };
	struct svt_trace_header h = {
		.producer = producer, .cpu_model = c->cpu, .guest = c->r->guest,
		.maxphyaddr = p[0], .features = get32(p + 1), .guest_frames = get64(p + 5),
		.ram = &ram, .nram = 1, .devices = c->devices, .ndevices = ndev,
		.pool_frames = get32(p + 13), .links = get32(p + 17), .root_cache = root_cache,
		.policy = { .oos = get32(p + 21), .prefetch = get32(p + 25), .emulate = p[29] != 0,
			    .early_unshadow = p[30] != 0 },
	};
	c->w = c->open(c->ctx, &h, &c->err);
	if (!c->w) {
		snprintf(c->r->msg, sizeof(c->r->msg), "%s", c->err.msg);
		return -1;
	}
	c->hello = true;
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
			snprintf(c->r->msg, sizeof(c->r->msg), "the packet with event %" PRIu64 " passes its "
				 "checksum but does not decode: %s", c->seq, why);
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
	while (off + PK_HDR + 4 <= n) {
		const uint8_t *h = buf + off;
		uint32_t len = get32(h + 20);
		if (memcmp(h, "SVTL", 4) != 0 || len > PK_MAX || off + PK_HDR + len + 4 > n ||
		    svt_crc32c(0, h, PK_HDR + len) != get32(h + PK_HDR + len)) {
			off++;          /* damaged: look for the next packet */
			c->r->damaged_bytes++;
			continue;
		}
		uint32_t type = get32(h + 4);
		const uint8_t *p = h + PK_HDR;
		c->r->packets++;
		if (type == SVT_STREAM_HELLO && !c->hello) {
			if (hello(c, p, len, producer) != 0)
				return -1;
		} else if (type == SVT_STREAM_RECORDS && c->hello) {
			int rc = records(c, get64(h + 12), p, len);
			if (rc == -1) {
				snprintf(c->r->msg, sizeof(c->r->msg), "%s", svt_trace_writer_error(c->w)->msg);
				return -1;
			}
			if (rc < 0)
				return -1;
		} else if (type == SVT_STREAM_END && c->hello && len >= 9 && 9 + (uint32_t)p[8] <= len) {
			c->r->end = true;
			c->end_events = get64(p);
			memcpy(c->r->verdict, p + 9, p[8]);
			c->r->verdict[p[8]] = 0;
		}
		off += PK_HDR + len + 4;
	}
	c->r->damaged_bytes += n - off;
	if (!c->hello) {
		snprintf(c->r->msg, sizeof(c->r->msg), "no HELLO packet: the hypervisor did not start "
			 "recording");
		return -1;
	}
	if (c->r->end && c->end_events > c->seq) {
		struct svt_trace_event ev = { .type = SVT_TRACE_LOST };
		ev.u.lost.count = c->end_events - c->seq;
		ev.u.lost.reason = SVT_TRACE_LOST_TRANSPORT;
		if (svt_trace_write(c->w, &ev) != SVT_TRACE_OK) {
			snprintf(c->r->msg, sizeof(c->r->msg), "%s", svt_trace_writer_error(c->w)->msg);
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
