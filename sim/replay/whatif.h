/*
 * whatif.h — how a replay under another policy relates to reality: the
 * label every replay result carries (docs/replay.md, "What-ifs").
 *
 * A replay of a trace recorded under policy R, run under policy P, is
 *  - recorded: P is R (every knob and the pool); the counters are the
 *    recording's, and every decision was compared with it (INV-REPLAY);
 *  - exact: P differs from R, but the core under P made exactly the
 *    decisions the core under R made on every recorded input, so the
 *    guest would have run the same way under P and recording it under P
 *    gives the same counters (pool_free aside, which is the pool's size
 *    less its use).  The cases proven: for every knob that differs, the
 *    mechanism it governs acted neither in this replay nor in the trace
 *    replayed under R (svt_whatif_recorded): oos: no page taken out of
 *    sync; prefetch: no entry prefetched; early: no early unshadow;
 *    emulate: no write emulated and no frame unshadowed; pool: no
 *    eviction.  Without R's counters, only knobs R lacks (oos 0,
 *    prefetch 0, early 0) and a smaller pool can be judged, from this
 *    replay's counters alone.  And no recorded fault was skipped and no
 *    event was lost;
 *  - approximate: anything else.  The trace holds only the exits R took:
 *    the replay drops the exits P avoids (counted as skipped faults) but
 *    cannot make the exits P would add (faults on accesses R's shadows
 *    allowed, writes to pages R left unprotected, refaults after an early
 *    unshadow or an eviction), so no bound on the error is proven.
 */
#ifndef SVT_WHATIF_H
#define SVT_WHATIF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "svt.h"

enum svt_whatif {
	SVT_WHATIF_RECORDED = 0,
	SVT_WHATIF_EXACT,
	SVT_WHATIF_APPROX,
};

/* "recorded", "exact", "approximate" ("?" if none). */
const char *svt_whatif_name(enum svt_whatif w);

struct svt_whatif_in {
	struct svt_policy rec;          /* the trace's recorded policy and pool */
	unsigned rec_pool;
	struct svt_policy pol;          /* the replay's */
	unsigned pool;
	const struct svt_counters *c;   /* the replay's counters at its end */
	const struct svt_counters *rc;  /* the same trace's under R (the recording's), or NULL */
	uint64_t skipped;               /* recorded faults the replay did not take */
	uint64_t lost;                  /* events the trace says were lost */
};

/* The label, and in why (len bytes) a sentence saying why. */
enum svt_whatif svt_whatif_judge(const struct svt_whatif_in *in, char *why, size_t len);

struct svt_replay_config;
/* The recording's counters: the trace of cfg (the same range) replayed
 * under its own policy with no audit, no database and no output.  false
 * if that replay did not reach the same end (bad input, interrupted). */
bool svt_whatif_recorded(const struct svt_replay_config *cfg, struct svt_counters *out);

#endif /* SVT_WHATIF_H */
