/*
 * stream.h — the hypervisor's live stream (traces/FORMAT.md, "The live
 * stream") turned into a trace.
 *
 * The stream is what the hypervisor sends on its second serial port:
 * packets of "SVTL", type, packet number, first event number, payload
 * length, payload and CRC-32C.  HELLO carries what the trace header needs,
 * RECORDS trace records in the trace format's own encoding (delta state
 * reset in each packet), END the event total and the verdict.  Damaged
 * bytes are skipped up to the next good packet; the events they held
 * become a LOST record, so the trace says what it is missing.
 */
#ifndef SVT_STREAM_H
#define SVT_STREAM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "trace.h"

struct svt_stream_result {
	uint64_t events;                /* sequence numbers in the trace (lost ones included) */
	uint64_t lost;                  /* events missing from the stream */
	uint64_t damaged_bytes;         /* bytes that were no good packet */
	uint64_t packets;               /* good packets */
	bool hello;                     /* the HELLO packet arrived: a trace was begun */
	bool end;                       /* the END packet arrived */
	char verdict[256];              /* END's verdict, or "" */
	char guest[256];                /* HELLO's guest name */
	char msg[700];                  /* on failure: why */
};

/* Called once, at HELLO, to start the trace: return a writer (NULL on
 * failure, with the reason in err). */
typedef struct svt_trace_writer *(*svt_stream_open_fn)(void *ctx, const struct svt_trace_header *h,
						      struct svt_trace_error *err);

/*
 * Convert the stream buf[0..n) into a trace through the writer open()
 * returns; the writer is closed here.  Returns 0, or -1 with res->msg set
 * (no HELLO, a checksummed packet that does not decode, the writer
 * failed).  Damage and loss are not failures: they are counted in *res
 * and written into the trace as LOST records.
 */
int svt_stream_convert(const uint8_t *buf, size_t n, const char *producer, svt_stream_open_fn open,
		       void *ctx, struct svt_stream_result *res);

#endif
