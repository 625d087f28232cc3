/*
 * reduce.h — from a violation to a small reproducer: `shadowvt cut` and
 * `shadowvt reduce` (reduce.c).
 *
 * A cut is a self-contained trace of events N..M of another: its first
 * records are a MARK note naming the original and the numbering, the
 * guest memory the replay knows just before event N (MEM records of every
 * nonzero 8-byte word: the trace's MEM records so far and the core's own
 * writes) and the control-register writes that bring a fresh core's
 * guest registers to theirs at N (EFER, CR4, CR3, CR0, then CR4.PCIDE and
 * CET and CR3's PCID); then events N..M as they are.  Its replay starts a
 * fresh core there: the core's shadows at N are not carried over (the
 * format has no record for them), so a cut shows what `replay --from N
 * --to M` shows wherever the violation does not depend on shadows built
 * before N, which the reducer's own checks establish for its results.
 *
 * The reducer takes a trace that replays with a violation, the first one
 * at or after cfg->from (its invariant, guest address and frame as replay
 * prints them) being the target, and shrinks it in three steps, every candidate checked by
 * replaying it in memory through the core (svt_replay) at the given audit
 * level, its replay ended at the target: the latest start S of a cut S..E
 * (E the target's event) that still shows the target (windows twice as
 * long each time, then bisection); delta debugging (ddmin) over the
 * window's inputs (FAULT, CR_WRITE, INVLPG, INVPCID, FLUSH_ALL) with
 * every MEM record kept; then only the guest memory the final replay
 * reads (the parts of MEM records whose bytes some read returns), which
 * changes nothing the replay sees.  DECISION records are dropped unless
 * the target is INV-REPLAY (the result's replay checks the invariants,
 * not the recorded answers), and so are MARK and LOST.
 */
#ifndef SVT_REDUCE_H
#define SVT_REDUCE_H

#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "replay.h"

/* A trace built in memory. */
struct svt_rd_bytes {
	uint8_t *p;
	size_t len, cap;
};
void svt_rd_bytes_free(struct svt_rd_bytes *b);

struct svt_cut_config {
	const char *path;
	uint64_t from, to;      /* inclusive */
	bool to_set;            /* else to the end */
	int level;              /* zstd level of the result */
};

struct svt_cut_result {
	uint64_t prologue;      /* records before event `from`'s copy (the note included) */
	uint64_t events;        /* events of the cut */
	char message[700];      /* why not */
};

/* Cut path's events from..to into out.  Returns SVT_EXIT_OK, USAGE (the
 * range is outside the trace) or INPUT, with res->message. */
int svt_cut(const struct svt_cut_config *cfg, struct svt_rd_bytes *out,
	    struct svt_cut_result *res);

struct svt_reduce_config {
	const char *path;
	uint64_t from;                  /* the target: the first violation from this event on */
	enum svt_audit_level audit;     /* every replay's */
	double budget;                  /* seconds from the target found on; 0: none */
	struct svt_progress *progress;  /* NULL, or the status line (progress.h) the
					 * log's lines go through */
	FILE *log;                      /* one line per step, or NULL */
	volatile sig_atomic_t *stop;    /* set by a signal: stop, keep the best so far */
	int level;                      /* zstd level of the result */
};

struct svt_reduce_result {
	/* the target, in the original */
	enum svt_invariant inv;
	uint64_t va, gfn, seq;
	uint64_t in_events, in_bytes;
	uint64_t window_from;           /* S */
	uint64_t window_inputs;         /* inputs in S..E */
	uint64_t kept_inputs;
	uint64_t out_events, out_bytes;
	unsigned tests;                 /* candidates replayed */
	double seconds;
	bool budget_hit, stopped;
	char message[700];
};

/* Reduce cfg->path into out.  Returns SVT_EXIT_OK (out reproduces the
 * target; also when the budget ran out or a signal came: the best so far),
 * NEGATIVE (the trace replays clean: nothing to reduce), USAGE or INPUT
 * with res->message. */
int svt_reduce(const struct svt_reduce_config *cfg, struct svt_rd_bytes *out,
	       struct svt_reduce_result *res);

#endif /* SVT_REDUCE_H */
