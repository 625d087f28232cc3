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
 * emulation (the guest's retried write).
 */
#ifndef SVT_REPLAY_H
#define SVT_REPLAY_H

#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "db.h"
#include "svt.h"

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

struct svt_replay_config {
	const char *path;       /* the trace, or its name when mem is set */
	const void *mem;        /* NULL, or the whole trace in memory (mem_len bytes) */
	size_t mem_len;
	bool policy_given;      /* else the recorded policy and pool */
	struct svt_policy policy;
	unsigned pool;
	enum svt_audit_level audit;
	struct svt_db *db;      /* NULL: no database */
	bool progress;          /* draw a progress line on stderr */
	unsigned show;          /* violations to print (more are counted) */
	unsigned store;         /* violations to store in the database */
	FILE *out;              /* violation lines and the summary */
	volatile sig_atomic_t *stop;    /* set by a signal: end the run as incomplete */
};

struct svt_replay_result {
	enum svt_db_run_status status;
	uint64_t events;        /* events replayed */
	uint64_t inputs;        /* inputs handed to the core */
	uint64_t skipped;       /* recorded faults not taken under this policy */
	uint64_t violations;
	uint64_t divergences;
	int64_t first_divergence;       /* event number, or -1 */
	uint64_t lost;          /* events the trace says were lost */
	double seconds;
	uint64_t peak_rss_kb;
	struct svt_counters counters;
	char policy[128];
	char message[700];      /* bad input: where and what */
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
