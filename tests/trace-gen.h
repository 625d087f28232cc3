/*
 * trace-gen.h — what the trace tests share: a seeded generator of random
 * events of every type (values chosen to hit the encodings' edges), a
 * generator of a plausible guest's event stream (for sizes and speeds), an
 * in-memory sink, writing a list of events to a buffer, and comparing
 * events field by field.
 */
#ifndef SVT_TRACE_GEN_H
#define SVT_TRACE_GEN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "trace.h"

struct tg_rng {
	uint64_t s;
};

uint64_t tg_next(struct tg_rng *g);
uint64_t tg_below(struct tg_rng *g, uint64_t n);

/* A growable byte buffer; tg_sink appends to one (ctx). */
struct tg_buf {
	uint8_t *p;
	size_t n, cap;
};
int tg_sink(void *ctx, const void *buf, size_t len);

/* Events with their own copies of MEM and UNKNOWN data; seq filled in as
 * the writer assigns it. */
struct tg_events {
	struct svt_trace_event *ev;
	size_t n, cap;
	uint64_t next_seq;
};
void tg_push(struct tg_events *e, const struct svt_trace_event *ev);
void tg_free(struct tg_events *e);

/* A header with a RAM map with a hole, and a policy. */
void tg_header(struct svt_trace_header *h);
/* A writer into buf for a guest made up by a test: guest frames 0..frames-1
 * all RAM, MAXPHYADDR maxphy, the default policy, a 64-frame pool.  NULL
 * (the writer's message on stderr) if refused. */
struct svt_trace_writer *tg_open_guest(struct tg_buf *buf, const char *guest, uint64_t frames,
				       uint8_t maxphy);
/* As tg_open_guest, the header claiming evidence (SVT_EVIDENCE_*) and
 * features (SVT_FEAT_*). */
struct svt_trace_writer *tg_open_guest_ev(struct tg_buf *buf, const char *guest, uint64_t frames,
					  uint8_t maxphy, uint32_t evidence, uint32_t features);
/* 4-level paging on with CR3 = cr3: CR4.PAE, EFER.LME, CR3, then CR0 with
 * PG, WP, ET and PE.  0, or the writer's status. */
int tg_put_paging_4level(struct svt_trace_writer *w, uint64_t cr3);

/* One random event (of type t, or any type when t < 0). */
void tg_random_event(struct tg_rng *g, int t, struct tg_events *out);
/* n random events of every type. */
void tg_random_events(uint64_t seed, size_t n, struct tg_events *out);

/*
 * A plausible guest: faults with registers from a few code sites, each
 * followed by the page-table entries it read (MEM, 8 bytes, most entries
 * of a table sequential frames) and the decision; now and then CR3 loads,
 * INVLPG, emulated page-table writes, whole zeroed or filled tables.
 */
void tg_guest_events(uint64_t seed, size_t n, struct tg_events *out);

/* Write events to buf; frame_size 0 keeps the default.  Returns the
 * writer's close status (0). */
int tg_write(const struct tg_events *e, int level, size_t frame_size, struct tg_buf *buf);

/* Single events for hand-made traces: svt_trace_write's status.  mem64
 * writes one little-endian word; fault a FAULT at CPL 0 in 64-bit code
 * without registers. */
int tg_put_mem64(struct svt_trace_writer *w, uint64_t gpa, uint64_t v);
int tg_put_cr(struct svt_trace_writer *w, unsigned reg, uint64_t v);
int tg_put_fault(struct svt_trace_writer *w, uint64_t va, uint32_t ec);
int tg_put_invlpg(struct svt_trace_writer *w, uint64_t va);

/* How many times what occurs in s (a report's lines, say). */
unsigned tg_count(const char *s, const char *what);

/* Equal, or false with a reason in why (128 bytes). */
bool tg_event_equal(const struct svt_trace_event *a, const struct svt_trace_event *b, char *why);

#endif
