/*
 * db.h — the results database (schema/results.sql, shadowvt(1) "THE
 * RESULTS DATABASE").
 *
 * A replay writes one run: a row in runs when it starts (status
 * 'running', committed at once, so a replay killed halfway leaves a run
 * that says so), then violations, timeline intervals and counters in
 * batched transactions, then the final status.  Several processes and
 * threads may write one database at once: each uses its own struct svt_db;
 * SQLite's WAL mode and a busy timeout serialise the batches.
 *
 * Every function that can fail returns 0 or -1; svt_db_error() then holds
 * a message that names the database file ("FILE: what went wrong").
 */
#ifndef SVT_DB_H
#define SVT_DB_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "svt.h"

/* The schema version this program writes (PRAGMA user_version). */
#define SVT_DB_VERSION 4

struct svt_db;

/* Why svt_db_open failed (for the exit status). */
enum svt_db_status {
	SVT_DB_OK = 0,
	SVT_DB_EINPUT = -1,     /* not a shadowvt results database, a newer
				   schema than this program knows, or damaged */
	SVT_DB_EIO = -2,        /* cannot create, open or write it */
};

/*
 * Open (create = true: create it if missing, and migrate an older schema
 * forward) or open read-only (create = false: it must exist and be of this
 * version or older; nothing is written).  On failure return NULL with
 * *status set and the message in err.
 */
struct svt_db *svt_db_open(const char *path, bool create, int *status, char *err, size_t errlen);
void svt_db_close(struct svt_db *db);
const char *svt_db_error(const struct svt_db *db);

/* ---- writing a run ------------------------------------------------------ */

struct svt_db_run {
	const char *trace;              /* the trace file as named on the command line */
	const char *trace_checksum;     /* "crc32c:XXXXXXXX" of the whole file */
	const char *guest;              /* the trace header's guest description */
	const char *workload;           /* synth workload, or "" */
	const char *policy;             /* canonical policy string */
	bool recorded_policy;           /* policy is the one the trace was made with */
	const char *audit;              /* audit level name */
	const char *tool_version;
	uint64_t trace_events;          /* events in the trace (sequence numbers) */
	/* Where and when it ran: NULL and 0 mean here and now (the merge of a
	 * cluster's shards, db-merge.c, keeps the shard's). */
	const char *started, *host;
	int64_t pid;
};

/* Insert the run (status 'running', started now, this pid) and commit.
 * Returns the run id (> 0), or -1. */
int64_t svt_db_run_begin(struct svt_db *db, const struct svt_db_run *r);

struct svt_db_violation {
	uint64_t seq;                   /* event number the violation was found at */
	const char *invariant;          /* "INV-PERM", ... */
	uint64_t va, gfn;
	unsigned level;
	uint64_t guest_entry, shadow_entry;
	const char *what;               /* a sentence */
	uint64_t from_seq, to_seq;      /* the event range that reproduces it */
};
int svt_db_violation(struct svt_db *db, int64_t run, const struct svt_db_violation *v);

/* One timeline interval: what happened between events first_seq and
 * last_seq.  ctr: per counter of SVT_COUNTERS, how much it grew in the
 * interval (kind COUNT) or its value at the interval's end (LEVEL). */
struct svt_db_interval {
	uint64_t first_seq, last_seq;
	uint64_t events;
	struct svt_counters ctr;
};
int svt_db_interval(struct svt_db *db, int64_t run, const struct svt_db_interval *iv);

/* One final counter (name, value) of the run; written again, it replaces
 * the value. */
int svt_db_counter(struct svt_db *db, int64_t run, const char *name, uint64_t value);
/* Every counter of SVT_COUNTERS, by its name. */
int svt_db_counters(struct svt_db *db, int64_t run, const struct svt_counters *c);

/* A run's status, as runs.status holds it (by name). */
enum svt_db_run_status {
	SVT_RUN_CLEAN,          /* "clean": no violation, no divergence */
	SVT_RUN_VIOLATIONS,     /* "violations": invariants broken or decisions diverged */
	SVT_RUN_BAD_INPUT,      /* "bad-input": the trace is damaged; results up to the damage */
	SVT_RUN_INCOMPLETE,     /* "incomplete": interrupted */
	SVT_RUN_RUNNING,        /* "running": begun and not ended (or its process died) */
	SVT_RUN_NOT_RUN,        /* "not-run": never begun (shadowvt run); never stored */
};
/* Its name; NULL for a value that is none of these. */
const char *svt_db_run_status_name(enum svt_db_run_status s);
/* The status of that name; -1 if there is none. */
int svt_db_run_status_parse(const char *name);

struct svt_db_run_end {
	enum svt_db_run_status status;  /* clean, violations, bad-input or incomplete */
	uint64_t events;                /* events replayed */
	uint64_t violations;            /* found (rows stored may be fewer: a cap) */
	int64_t divergence_seq;         /* first INV-REPLAY event, or -1 */
	double seconds;                 /* replay wall time */
	const char *message;            /* "" or why it ended (bad input: the reader's message) */
	const char *finished;           /* NULL: now */
	const char *whatif;             /* NULL: unchanged; "recorded", "exact", "approximate" */
};
/* Write the end of the run and commit everything pending. */
int svt_db_run_end(struct svt_db *db, int64_t run, const struct svt_db_run_end *e);

/* Commit what is pending now (rows are otherwise committed in batches). */
int svt_db_flush(struct svt_db *db);

/* One transaction around several runs (the merge): between svt_db_begin
 * and svt_db_commit nothing is committed, run begin included, so a
 * process killed in between leaves none of those rows.  svt_db_rollback
 * drops them. */
int svt_db_begin(struct svt_db *db);
int svt_db_commit(struct svt_db *db);
void svt_db_rollback(struct svt_db *db);

/* ---- shards and the merge (db-merge.c) -------------------------------------
 *
 * A shard is a results database holding one finished run, written by one
 * task of a cluster job (shadowvt run --slurm).  The merge copies its rows
 * into the experiment's database through the write interface above.
 */
struct svt_db_shard {
	int version;                    /* the shard's schema version */
	int64_t runs;                   /* how many runs it holds (1 for a good shard) */
	enum svt_db_run_status status;
	char checksum[64], policy[128], audit[32], tool_version[160];
};
/* Make the database db (a shard, its only connection) one self-contained
 * file, out of WAL mode, so that it can be copied and read where it is
 * published without side files.  0, or -1 (svt_db_error). */
int svt_db_shard_seal(struct svt_db *db);
/* Read the shard at path: its schema version and its run's key and status.
 * 0, or -1 with the message in err (not a results database, damaged). */
int svt_db_shard_read(const char *path, struct svt_db_shard *out, char *err, size_t errlen);
/*
 * Copy the shard's one run, with its violations, timeline and counters,
 * into db (inside the caller's svt_db_begin/svt_db_commit).  The shard must
 * be of this schema version, hold exactly one finished run, and that run's
 * trace checksum, policy, audit level and tool version (build identity)
 * must be those given.  Returns the new run id (> 0); 0 when db already
 * holds a finished run with that key (a duplicate: nothing is copied); -1
 * with the message in err when the shard is refused or cannot be read, -2
 * when writing db failed (svt_db_error).
 */
int64_t svt_db_merge_shard(struct svt_db *db, const char *path, const char *checksum,
			   const char *policy, const char *audit,
			   const char *tool_version, char *err, size_t errlen);

/* db-find.c: the newest finished run (clean, violations or bad-input) of
 * the trace with this checksum, under this canonical policy and audit
 * level, by this tool version (shadowvt run's cache).  Its id, 0 if there
 * is none, -1 on failure (svt_db_error). */
int64_t svt_db_find_run(struct svt_db *db, const char *checksum, const char *policy,
			const char *audit, const char *tool_version);

/* ---- reading ----------------------------------------------------------- */

/*
 * Every statement the program runs is in db*.c: the reads below
 * (db-read.c) answer the program's own questions, and svt_db_select runs
 * the user's SQL (query --sql).  Each returns 0, or -1 with the message in
 * svt_db_error, and commits the rows pending on db first.
 *
 * Rows to show come back as a result set read into memory: every cell as
 * SQLite renders it (integers in decimal, reals as SQLite prints them,
 * blobs as X'hex' text), or NULL.  *out is zeroed first; free it with
 * svt_db_rows_free, also on failure.
 */
enum svt_db_type { SVT_DB_NULL, SVT_DB_INTEGER, SVT_DB_REAL, SVT_DB_TEXT };
struct svt_db_cell {
	enum svt_db_type type;
	char *text;                     /* NULL for SVT_DB_NULL */
};
struct svt_db_rows {
	unsigned ncols;
	size_t nrows, cap;
	char **names;                   /* ncols column names */
	struct svt_db_cell *cells;      /* row r, column c: cells[r * ncols + c] */
};
void svt_db_rows_free(struct svt_db_rows *rows);

/*
 * The user's SQL: exactly one statement, and one that reads (one that
 * would write is refused); run (if > 0) is bound to a parameter named :run
 * if it has one.  what names it in messages ("--sql").
 */
int svt_db_select(struct svt_db *db, const char *what, const char *sql, int64_t run,
		  struct svt_db_rows *out);

/* Canned reports, by name: "summary", "violations", "faults", "memory",
 * "compare".  NULL-terminated. */
extern const char *const svt_db_reports[];
/* Report `name`'s rows; run > 0 restricts per-run reports to that run,
 * which must exist. */
int svt_db_report_rows(struct svt_db *db, const char *name, int64_t run, struct svt_db_rows *out);

/* A run's timeline summed: every counter of SVT_COUNTERS, COUNT ones
 * summed over its intervals and LEVEL ones at their peak (a column that
 * older intervals lack counts as 0). */
struct svt_db_totals {
	int64_t run;
	uint64_t intervals, events;
	uint64_t exits;                 /* faults + cr_writes + invlpgs + flushes */
	struct svt_counters ctr;
};
/* Every run's totals (runs without intervals have none), by run id: *out
 * malloc'd (free it), *n of them. */
int svt_db_totals(struct svt_db *db, struct svt_db_totals **out, size_t *n);

/* A run as the database holds it (shadowvt run's summary). */
struct svt_db_run_info {
	enum svt_db_run_status status;
	bool recorded_policy;
	char whatif[16];                /* runs.whatif, "" if NULL */
	uint64_t events;                /* replayed */
	uint64_t violations;            /* found */
	int64_t divergence_seq;         /* -1 if none */
	double seconds;
	char message[700];
	bool has_totals;                /* it has timeline intervals, summed in totals */
	struct svt_db_totals totals;
};
int svt_db_run_info(struct svt_db *db, int64_t run, struct svt_db_run_info *out);

/* shadowvt report's reads, as rows with these columns. */
enum svt_db_runs_column {
	SVT_DB_RUNS_ID, SVT_DB_RUNS_TRACE, SVT_DB_RUNS_CHECKSUM, SVT_DB_RUNS_WORKLOAD,
	SVT_DB_RUNS_POLICY, SVT_DB_RUNS_RECORDED, SVT_DB_RUNS_AUDIT,
	/* a status name, or "incomplete?" (running, process gone) */
	SVT_DB_RUNS_STATUS, SVT_DB_RUNS_EVENTS, SVT_DB_RUNS_TRACE_EVENTS, SVT_DB_RUNS_VIOLATIONS,
	SVT_DB_RUNS_DIVERGENCE, SVT_DB_RUNS_SECONDS, SVT_DB_RUNS_EPS, SVT_DB_RUNS_STARTED,
	SVT_DB_RUNS_MESSAGE,
};
/* Every run, by id. */
int svt_db_runs(struct svt_db *db, struct svt_db_rows *out);
/* Violations stored per run (run, count), by run id. */
int svt_db_violation_counts(struct svt_db *db, struct svt_db_rows *out);
enum svt_db_compare_column {
	SVT_DB_CMP_CHECKSUM, SVT_DB_CMP_TRACE, SVT_DB_CMP_RUN, SVT_DB_CMP_POLICY, SVT_DB_CMP_EXITS,
	SVT_DB_CMP_FAULTS, SVT_DB_CMP_EMULATED, SVT_DB_CMP_RESYNCS, SVT_DB_CMP_PEAK,
	SVT_DB_CMP_EVICTIONS, SVT_DB_CMP_VIOLATIONS,
	SVT_DB_CMP_BASIS,               /* recorded, exact, approximate or recording */
	SVT_DB_CMP_GROUP,               /* "trace CHECKSUM" or "guest GUEST" */
};
/* Every run of a trace replayed more than once, and every recorded-policy
 * run of a guest recorded under more than one policy: by group and run
 * (schema/results.sql, policy_compare). */
int svt_db_compare(struct svt_db *db, struct svt_db_rows *out);
/* Run's timeline in at most `points` rows, each the largest values of its
 * share of the intervals: first_seq, last_seq, faults per 1,000 events,
 * shadow pages in use (pool_used), and how many intervals it covers. */
int svt_db_timeline_points(struct svt_db *db, int64_t run, unsigned points,
			   struct svt_db_rows *out);
/* Run's first `limit` violations: seq, invariant, va, gfn, level,
 * guest_entry, shadow_entry (addresses and entries in hex), what,
 * reproduce ("from..to"). */
int svt_db_run_violations(struct svt_db *db, int64_t run, unsigned limit, struct svt_db_rows *out);

/* shadowvt run --junit: run's first `per_invariant` violations of each
 * invariant, by invariant and seq, with how many of it the run stored. */
enum svt_db_first_column {
	SVT_DB_FIRST_INVARIANT, SVT_DB_FIRST_SEQ, SVT_DB_FIRST_VA, SVT_DB_FIRST_WHAT,
	SVT_DB_FIRST_REPRODUCE, SVT_DB_FIRST_STORED,
};
int svt_db_first_violations(struct svt_db *db, int64_t run, unsigned per_invariant,
			    struct svt_db_rows *out);

/* Set svt_db_error to "FILE: " and the message; returns -1. */
int svt_db_fail(struct svt_db *db, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#endif /* SVT_DB_H */
