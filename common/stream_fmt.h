/*
 * stream_fmt.h — the live stream (traces/FORMAT.md, "The live stream"):
 * the packets the hypervisor sends on its recording channel and `shadowvt
 * record` reads back into a trace.  The writer (vmx/record.c) and the
 * reader (sim/live/stream.c) take the layout from here and nowhere else.
 *
 * A packet is a 24-byte header ("SVTL", type, packet number, first event,
 * payload length; little-endian), the payload, and the CRC-32C of header
 * and payload.  RECORDS payloads are records (rec_codec.h) with the delta
 * state reset at the start of each packet.
 */
#ifndef SVT_STREAM_FMT_H
#define SVT_STREAM_FMT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "svt.h"
#include "trace_event.h"

#define SVT_STREAM_HDR          24
#define SVT_STREAM_CRC          4
#define SVT_STREAM_MAX_PAYLOAD  (1u << 20)      /* the reader refuses longer packets */
#define SVT_STREAM_MAX_DEVICES  64              /* device ranges in HELLO */
#define SVT_STREAM_MAX_NAME     255             /* bytes of the guest name, CPU string, verdict */
#define SVT_STREAM_MAX_RAM      4               /* RAM ranges in HELLO */
#define SVT_STREAM_HELLO_MAX    (70 + 2 * SVT_STREAM_MAX_NAME + 16 * SVT_STREAM_MAX_DEVICES + \
				 16 * SVT_STREAM_MAX_RAM)
#define SVT_STREAM_END_MAX      (9 + SVT_STREAM_MAX_NAME)

enum svt_stream_type { SVT_STREAM_HELLO = 1, SVT_STREAM_RECORDS = 2, SVT_STREAM_END = 3 };

struct svt_stream_packet {
	uint32_t type;          /* enum svt_stream_type */
	uint32_t no;            /* packet number, from 0 */
	uint64_t first;         /* RECORDS: the first record's event number */
	uint32_t len;           /* payload bytes */
};

/* The header of pk into h; then the CRC of header and payload. */
void svt_stream_header_put(uint8_t h[SVT_STREAM_HDR], const struct svt_stream_packet *pk);
uint32_t svt_stream_crc(const uint8_t h[SVT_STREAM_HDR], const uint8_t *payload, uint32_t len);

/* Whether a whole, good packet (magic, length within the limit and within
 * the n bytes at buf, CRC) starts at buf; fills *pk.  Its payload is at
 * buf + SVT_STREAM_HDR, and it takes SVT_STREAM_HDR + len + 4 bytes. */
bool svt_stream_packet_get(const uint8_t *buf, size_t n, struct svt_stream_packet *pk);

/* HELLO: what the trace header needs. */
struct svt_stream_hello {
	uint8_t maxphyaddr;
	uint32_t features;
	uint64_t guest_frames;
	uint32_t pool_frames, links, root_cache;
	struct svt_policy policy;
	const char *guest;              /* not NUL-terminated; guest_len bytes */
	size_t guest_len;
	bool has_cpu;                   /* the CPU string and devices follow (since device
					 * pass-through) */
	const char *cpu;                /* the CPU's brand string, cpu_len bytes */
	size_t cpu_len;
	const struct svt_trace_range *devices;
	size_t ndevices;
	uint32_t evidence;              /* SVT_EVIDENCE_*; 0 from older hypervisors */
	/* Guest RAM, sorted, when it is not all of [0, guest_frames) (RAM above
	 * 4 GiB); nram 0: all of it, as from older hypervisors. */
	struct svt_trace_range ram[SVT_STREAM_MAX_RAM];
	size_t nram;
};

/* Encode h into buf (SVT_STREAM_HELLO_MAX bytes); names longer than
 * SVT_STREAM_MAX_NAME and devices past SVT_STREAM_MAX_DEVICES are cut.
 * Returns the payload length. */
size_t svt_stream_hello_put(const struct svt_stream_hello *h, uint8_t *buf);
/* Decode a HELLO payload: NULL, or why not.  guest and cpu point into p;
 * the device ranges are stored in dev[SVT_STREAM_MAX_DEVICES]. */
const char *svt_stream_hello_get(const uint8_t *p, uint32_t len, struct svt_stream_hello *h,
				 struct svt_trace_range *dev);

/* END: the events sent and the verdict.  put returns the payload length
 * (buf: SVT_STREAM_END_MAX bytes); get is false when p is no END payload. */
size_t svt_stream_end_put(uint64_t events, const char *verdict, uint8_t *buf);
bool svt_stream_end_get(const uint8_t *p, uint32_t len, uint64_t *events, const char **verdict,
			size_t *vlen);

#endif /* SVT_STREAM_FMT_H */
