/*
 * replay.h — the replay engine and verifier (shadowvt replay).
 *
 * A replay feeds one trace through a fresh core (the hosted build of the
 * same src/ code) and checks it:
 *
 *  - INV-REPLAY, with the recorded policy: every decision the core makes
 *    must equal the recorded one; the first divergence is reported.
 *  - INV-FAULT: every #PF the core injects is checked against the
 *    independent reference walker (sim/replay/refmodel.c) on the replayed guest
 *    memory: the same error code and CR2, and never a fault that bare
 *    metal would not raise; after every fixed fault the access must now
 *    go through the shadows, and bare metal must allow it too, through
 *    the same frame.
 *  - INV-PROGRESS, at every audit level: the same fault RP_PROGRESS_MAX
 *    times in a row, each fixed or retried, with no other input between.
 *  - INV-CR, at audit level faults and up: every CR0, CR3, CR4 and EFER
 *    write judged by the independent control-register model
 *    (sim/replay/crmodel.c): #GP or not, then the registers and paging
 *    mode the core reached.
 *  - INV-PERM, INV-FRAME (svt_mmu_audit_va at each fault; and, after a
 *    fixed fault, the entries of its L1 table in the prefetch window that
 *    the fault mapped, against the reference walker), and per audit
 *    level whole-core audits: INV-PERM, INV-FRAME, INV-WP, INV-SYNC,
 *    INV-STRUCT (svt_mmu_audit).
 *
 * Under another policy than the recording's, the trace's memory records
 * are fed as writes the core did not see (svt_mmu_guest_wrote), recorded
 * faults that the replay's shadows already allow are skipped (that exit
 * would not have happened), and a write the recording's core emulated but
 * this one does not is performed on guest memory by the bare-metal
 * emulation (the guest's retried write).  Such a replay's counters are
 * labelled exact or approximate (whatif.h, res->whatif); to judge, the
 * trace is replayed once more under its own policy, unchecked.
 */
#ifndef SVT_REPLAY_H
#define SVT_REPLAY_H

#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "db.h"
#include "machine.h"
#include "svt.h"
#include "whatif.h"

struct svt_progress;

enum svt_audit_level {
	SVT_AUDIT_NONE = 0,     /* decisions only (INV-REPLAY) */
	SVT_AUDIT_FAULTS,       /* + INV-FAULT, INV-PERM/INV-FRAME at every fault, INV-CR */
	SVT_AUDIT_PERIODIC,     /* + a full audit every 4096 inputs and at the end */
	SVT_AUDIT_FULL,         /* + a full audit after every input */
};
/* The levels' names, indexed by level and ending with NULL: "none",
 * "faults", "periodic", "full" (the word list of replay's --audit). */
extern const char *const svt_audit_names[];
const char *svt_audit_name(enum svt_audit_level a);     /* "?" if no level */
int svt_audit_parse(const char *s);     /* a name above or its digit 0..3; -1 if unknown */

/* The replay's state just before an event (the at_from hook): the guest
 * memory the replay knows (the trace's MEM records so far and the core's
 * own writes; what was never written reads as zero), the guest's control
 * registers as the core holds them, and where. */
struct svt_replay_state {
	uint64_t seq;
	struct svt_gmem *mem;
	const struct svt_regs *regs;
	const struct svt_trace_header *header;
};

struct svt_replay_config {
	const char *path;       /* the trace, or its name when mem is set */
	const void *mem;        /* NULL, or the whole trace in memory (mem_len bytes) */
	size_t mem_len;
	bool policy_given;      /* else the recorded policy and pool */
	struct svt_policy policy;
	unsigned pool;
	/* policy_given with a spec (replay --policy k=v,...): the keys it
	 * names change the trace's recorded policy and pool, the others keep
	 * the recorded values (policy and pool above are then unused). */
	const char *policy_spec;
	enum svt_audit_level audit;
	struct svt_db *db;      /* NULL: no database */
	/* Not NULL: the status line (progress.h) that lines to out go
	 * through, so that none lands on it (replay, replay -j N); draw:
	 * this replay draws it too, with its own events so far (replay -j 1). */
	struct svt_progress *progress;
	bool draw;
	uint64_t *events_seen;  /* not NULL: the events read are added to it as the
				 * replay goes (atomically; for an aggregate line) */
	unsigned show;          /* violations to print (more are counted) */
	unsigned store;         /* violations to store in the database */
	FILE *out;              /* violation lines and the summary */
	volatile sig_atomic_t *stop;    /* set by a signal: end the run as incomplete */
	/*
	 * A range (replay --from/--to): only events from..to (sequence
	 * numbers, inclusive) are checked; to_set false: to the end.  The
	 * core's state at `from` is the full replay's: every event before it
	 * is replayed into the core with the checks off (the decisions not
	 * compared, no audit, no reference walk, no violation reported), while
	 * the state the checks keep goes on as in a full replay (the CR model,
	 * the same-fault streak, the inputs counted towards the periodic
	 * audit), so the range reports exactly the violations a full replay
	 * reports at those events.  The end-of-trace audit runs only when the
	 * range reaches the trace's end.
	 */
	uint64_t from, to;
	bool to_set;
	bool stop_at_first;     /* end the run at the first violation or divergence */
	double deadline;        /* CLOCK_MONOTONIC seconds: then end as by stop; 0: none */
	/* Hooks for the reducer (reduce.h); NULL: none.  at_from: once, just
	 * before event `from` is replayed (also when from is 0), with the
	 * state the range starts from; on_violation: every violation and
	 * divergence in the range, printed or not (true: end the run after
	 * this event, as stop_at_first does); on_mem: every read and write of
	 * guest RAM, with the event being replayed. */
	void (*at_from)(void *ctx, const struct svt_replay_state *st);
	bool (*on_violation)(void *ctx, uint64_t seq, enum svt_invariant inv, uint64_t va,
			     uint64_t gfn);
	void (*on_mem)(void *ctx, uint64_t seq, uint64_t gpa, size_t len, bool write);
	void *hook_ctx;
};

struct svt_replay_result {
	enum svt_db_run_status status;
	uint64_t events;        /* events replayed */
	uint64_t inputs;        /* inputs handed to the core */
	uint64_t skipped;       /* recorded faults not taken under this policy */
	uint64_t violations;
	uint64_t divergences;
	int64_t first_divergence;       /* event number, or -1 */
	int64_t first_violation;        /* event of the first violation or divergence, or -1 */
	uint64_t lost;          /* events the trace says were lost */
	double seconds;
	uint64_t peak_rss_kb;
	struct svt_counters counters;
	char policy[128];
	char recorded[128];     /* the trace's recorded policy, canonical */
	/* How this replay's counters relate to recording the same guest under
	 * res->policy (whatif.h): recorded, exact or approximate, and why. */
	enum svt_whatif whatif;
	char whatif_why[1024];
	char message[700];      /* bad input: where and what */
	char store_error[600];  /* cfg->db: the first write that failed, or "" */
	int64_t run;            /* the run's id in cfg->db, or 0 */
};

/* Replay one trace.  Returns an SVT_EXIT_* status: OK (clean), NEGATIVE
 * (violations or divergences), INPUT (the trace is bad: the run is stored
 * as bad-input with what was checked up to the damage). */
int svt_replay(const struct svt_replay_config *cfg, struct svt_replay_result *res);

/* "crc32c:XXXXXXXX" of the whole file, as runs.trace_checksum holds it;
 * false (and "unknown") if it cannot be read. */
bool svt_replay_checksum(const char *path, char *out, size_t len);

#endif /* SVT_REPLAY_H */
