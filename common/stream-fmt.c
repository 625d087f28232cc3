/*
 * stream-fmt.c — the live stream's packets (stream_fmt.h).
 */
#include "bytes.h"
#include "common_deps.h"
#include "stream_fmt.h"

static const uint8_t magic[4] = { 'S', 'V', 'T', 'L' };

void svt_stream_header_put(uint8_t h[SVT_STREAM_HDR], const struct svt_stream_packet *pk)
{
	h[0] = magic[0], h[1] = magic[1], h[2] = magic[2], h[3] = magic[3];
	svt_put32(h + 4, pk->type);
	svt_put32(h + 8, pk->no);
	svt_put64(h + 12, pk->first);
	svt_put32(h + 20, pk->len);
}

uint32_t svt_stream_crc(const uint8_t h[SVT_STREAM_HDR], const uint8_t *payload, uint32_t len)
{
	return svt_crc32c(svt_crc32c(0, h, SVT_STREAM_HDR), payload, len);
}

bool svt_stream_packet_get(const uint8_t *buf, size_t n, struct svt_stream_packet *pk)
{
	if (n < SVT_STREAM_HDR + SVT_STREAM_CRC || memcmp(buf, magic, 4) != 0)
		return false;
	uint32_t len = svt_get32(buf + 20);
	if (len > SVT_STREAM_MAX_PAYLOAD || n - SVT_STREAM_HDR - SVT_STREAM_CRC < len ||
	    svt_stream_crc(buf, buf + SVT_STREAM_HDR, len) != svt_get32(buf + SVT_STREAM_HDR + len))
		return false;
	pk->type = svt_get32(buf + 4);
	pk->no = svt_get32(buf + 8);
	pk->first = svt_get64(buf + 12);
	pk->len = len;
	return true;
}

/*
 * HELLO payload: maxphyaddr (1), features (4), guest frames (8), pool
 * frames (4), links (4), oos (4), prefetch (4), emulate (1), early (1),
 * guest name length (1) and bytes; then, since device pass-through, the
 * CPU string's length (1) and bytes, the device ranges' count (2) and
 * ranges (8 + 8 each); then, since the root cache, root_cache (4); then,
 * since evidence records, the evidence the recorder logs (4); then, where
 * guest RAM is not all of [0, guest frames), the RAM ranges' count (2)
 * and ranges (8 + 8 each).
 */
size_t svt_stream_hello_put(const struct svt_stream_hello *h, uint8_t *p)
{
	size_t n = 0;
	p[n++] = h->maxphyaddr;
	svt_put32(p + n, h->features), n += 4;
	svt_put64(p + n, h->guest_frames), n += 8;
	svt_put32(p + n, h->pool_frames), n += 4;
	svt_put32(p + n, h->links), n += 4;
	svt_put32(p + n, h->policy.oos), n += 4;
	svt_put32(p + n, h->policy.prefetch), n += 4;
	p[n++] = h->policy.emulate;
	p[n++] = h->policy.early_unshadow;
	size_t gl = h->guest_len > SVT_STREAM_MAX_NAME ? SVT_STREAM_MAX_NAME : h->guest_len;
	p[n++] = (uint8_t)gl;
	memcpy(p + n, h->guest, gl), n += gl;
	size_t cl = h->cpu_len > SVT_STREAM_MAX_NAME ? SVT_STREAM_MAX_NAME : h->cpu_len;
	p[n++] = (uint8_t)cl;
	memcpy(p + n, h->cpu, cl), n += cl;
	size_t nd = h->ndevices > SVT_STREAM_MAX_DEVICES ? SVT_STREAM_MAX_DEVICES : h->ndevices;
	svt_put16(p + n, (uint16_t)nd), n += 2;
	for (size_t i = 0; i < nd; i++) {
		svt_put64(p + n, h->devices[i].gfn), n += 8;
		svt_put64(p + n, h->devices[i].count), n += 8;
	}
	svt_put32(p + n, h->root_cache), n += 4;
	svt_put32(p + n, h->evidence), n += 4;
	if (h->nram) {
		size_t nr = h->nram > SVT_STREAM_MAX_RAM ? SVT_STREAM_MAX_RAM : h->nram;
		svt_put16(p + n, (uint16_t)nr), n += 2;
		for (size_t i = 0; i < nr; i++) {
			svt_put64(p + n, h->ram[i].gfn), n += 8;
			svt_put64(p + n, h->ram[i].count), n += 8;
		}
	}
	return n;
}

const char *svt_stream_hello_get(const uint8_t *p, uint32_t len, struct svt_stream_hello *h,
				 struct svt_trace_range *dev)
{
	if (len < 32 || 32 + (uint32_t)p[31] > len)
		return "the HELLO packet is too short";
	memset(h, 0, sizeof(*h));
	h->maxphyaddr = p[0];
	h->features = svt_get32(p + 1);
	h->guest_frames = svt_get64(p + 5);
	h->pool_frames = svt_get32(p + 13);
	h->links = svt_get32(p + 17);
	h->policy.oos = svt_get32(p + 21);
	h->policy.prefetch = svt_get32(p + 25);
	h->policy.emulate = p[29] != 0;
	h->policy.early_unshadow = p[30] != 0;
	h->guest_len = p[31];
	h->guest = (const char *)p + 32;
	h->devices = dev;
	uint32_t at = 32 + (uint32_t)h->guest_len;
	if (at == len)
		return NULL;            /* a hypervisor from before device pass-through */
	uint32_t cl = p[at++];
	if (at + cl + 2 > len)
		return "the HELLO packet's CPU string is cut short";
	h->has_cpu = true;
	h->cpu = (const char *)p + at;
	h->cpu_len = cl;
	at += cl;
	size_t nd = svt_get16(p + at);
	at += 2;
	if (nd > SVT_STREAM_MAX_DEVICES || at + 16 * nd > len)
		return "the HELLO packet's device ranges are cut short";
	for (size_t i = 0; i < nd; i++, at += 16) {
		dev[i].gfn = svt_get64(p + at);
		dev[i].count = svt_get64(p + at + 8);
	}
	h->ndevices = nd;
	if (at + 4 <= len)      /* hypervisors since the root cache */
		h->root_cache = svt_get32(p + at);
	if (at + 8 <= len)      /* hypervisors since evidence records */
		h->evidence = svt_get32(p + at + 4);
	at += 8;
	if (at >= len)
		return NULL;
	/* hypervisors since RAM above 4 GiB, when guest RAM has a hole */
	size_t nr = at + 2 <= len ? svt_get16(p + at) : SVT_STREAM_MAX_RAM + 1;
	at += 2;
	if (nr == 0 || nr > SVT_STREAM_MAX_RAM || at + 16 * nr > len)
		return "the HELLO packet's RAM ranges are cut short";
	for (size_t i = 0; i < nr; i++, at += 16) {
		h->ram[i].gfn = svt_get64(p + at);
		h->ram[i].count = svt_get64(p + at + 8);
	}
	h->nram = nr;
	return NULL;
}

size_t svt_stream_end_put(uint64_t events, const char *verdict, uint8_t *p)
{
	size_t vl = svt_strnlen(verdict, SVT_STREAM_MAX_NAME);
	svt_put64(p, events);
	p[8] = (uint8_t)vl;
	memcpy(p + 9, verdict, vl);
	return 9 + vl;
}

bool svt_stream_end_get(const uint8_t *p, uint32_t len, uint64_t *events, const char **verdict,
			size_t *vlen)
{
	if (len < 9 || 9 + (uint32_t)p[8] > len)
		return false;
	*events = svt_get64(p);
	*verdict = (const char *)p + 9;
	*vlen = p[8];
	return true;
}
