/*
 * export.h — a trace as other tools' formats (`shadowvt export`).
 *
 * Today one format: the Chrome/Perfetto trace-event JSON object form
 * ({"displayTimeUnit", "traceEvents", "metadata"}), which ui.perfetto.dev
 * and chrome://tracing open.  The exporter streams: it reads one event at
 * a time from a reader and writes it at once, holding only the exit whose
 * DECISION has not come yet, so its memory does not grow with the trace.
 * Whatever happens to the input, what it writes is one complete JSON
 * document; a damaged trace ends the event list early and the metadata
 * says "complete": false with the reader's message.  export-json.c holds
 * the JSON string writer (any bytes in, valid JSON out).
 */
#ifndef SVT_EXPORT_H
#define SVT_EXPORT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "names.h"
#include "trace.h"

/* Records between two samples of the running totals ("ph":"C"). */
#define SVT_EXPORT_COUNTER_EVERY 1000

struct svt_export_opts {
	uint64_t from, to;              /* sequence numbers, inclusive */
	bool no_mem;                    /* leave MEM records out */
	uint64_t counter_every;         /* records per totals sample; 0: the default */
	const char *name;               /* the trace as the metadata names it */
	/* if not NULL: called every 1024 records with the event just written
	 * (the export command's progress line) */
	void (*progress)(void *ctx, uint64_t seq);
	void *progress_ctx;
};

struct svt_export_stats {
	uint64_t records;               /* trace records exported */
	uint64_t written;               /* trace-event objects written */
	bool complete;                  /* the range was read to its end without error */
};

/*
 * Write r's events from o->from to o->to as a Perfetto JSON document to f.
 * info is svt_trace_info() of r, taken before (the header totals the
 * metadata reports).  The reader is positioned here (svt_trace_seek when
 * from > 0).  Returns SVT_TRACE_OK, or the reader's error status with
 * svt_trace_reader_error(r) saying what; the document is closed either way.
 * Write errors are the caller's to find (ferror, fclose).
 */
int svt_export_perfetto(struct svt_trace_reader *r, const struct svt_trace_info *info,
			const struct svt_export_opts *o, FILE *f, struct svt_export_stats *st);

/*
 * n bytes as a JSON string, quotes included: '"' and '\' escaped, control
 * characters and U+007F as \u00XX, U+2028 and U+2029 as \u2028/\u2029 (so
 * the output is also valid JavaScript), valid UTF-8 copied, and every byte
 * that is not part of a valid UTF-8 sequence (RFC 3629: no overlong forms,
 * no surrogates, nothing above U+10FFFF) written as \ufffd.
 */
void svt_json_str(FILE *f, const char *s, size_t n);

#endif
