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

/* The schema version this program writes (PRAGMA user_version). */
#define SVT_DB_VERSION 2

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

/* One timeline interval: what happened between events first_seq and last_seq. */
struct svt_db_interval {
	uint64_t first_seq, last_seq;
	uint64_t events, faults, fixed, ad_faults, injected, emulated, mmio, retries;
	uint64_t oos, resyncs, unshadows, evictions, prefetched, cr_writes, invlpgs, flushes;
	uint64_t shadow_pages;          /* in use at the end of the interval */
};
int svt_db_interval(struct svt_db *db, int64_t run, const struct svt_db_interval *iv);

/* Final per-class counters (name, value) of the run. */
int svt_db_counter(struct svt_db *db, int64_t run, const char *name, uint64_t value);

enum svt_db_run_status {
	SVT_RUN_CLEAN,          /* "clean": no violation, no divergence */
	SVT_RUN_VIOLATIONS,     /* "violations": invariants broken or decisions diverged */
	SVT_RUN_BAD_INPUT,      /* "bad-input": the trace is damaged; results up to the damage */
	SVT_RUN_INCOMPLETE,     /* "incomplete": interrupted */
};
const char *svt_db_run_status_name(enum svt_db_run_status s);

struct svt_db_run_end {
	enum svt_db_run_status status;
	uint64_t events;                /* events replayed */
	uint64_t violations;            /* found (rows stored may be fewer: a cap) */
	int64_t divergence_seq;         /* first INV-REPLAY event, or -1 */
	double seconds;                 /* replay wall time */
	const char *message;            /* "" or why it ended (bad input: the reader's message) */
};
/* Write the end of the run and commit everything pending. */
int svt_db_run_end(struct svt_db *db, int64_t run, const struct svt_db_run_end *e);

/* Commit what is pending now (rows are otherwise committed in batches). */
int svt_db_flush(struct svt_db *db);

/* db-find.c: the newest finished run (clean, violations or bad-input) of
 * the trace with this checksum, under this canonical policy and audit
 * level, by this tool version (shadowvt run's cache).  Its id, 0 if there
 * is none, -1 on failure (svt_db_error). */
int64_t svt_db_find_run(struct svt_db *db, const char *checksum, const char *policy,
			const char *audit, const char *tool_version);

/* ---- reading ----------------------------------------------------------- */

enum svt_db_format { SVT_DB_TABLE, SVT_DB_CSV, SVT_DB_JSON };

/* Canned reports, by name: "summary", "violations", "faults", "memory",
 * "compare".  NULL-terminated. */
extern const char *const svt_db_reports[];

/* Run report `name` (or, if sql is not NULL, that statement, read-only)
 * and print its rows to f.  run > 0 restricts per-run reports to that run.
 * Returns 0, or -1 with the message in svt_db_error. */
int svt_db_report(struct svt_db *db, const char *name, const char *sql, int64_t run,
		  enum svt_db_format fmt, FILE *f);

/*
 * What svt_db_report is built on (db.c reads, cmd-query.c prints).  A result
 * set read into memory: every cell as SQLite renders it (integers in
 * decimal, reals as SQLite prints them, blobs as X'hex' text), or NULL.
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

/*
 * Run one statement that reads (one that would write is refused) and read
 * its rows into *out (zeroed first; free with svt_db_rows_free, also on
 * failure).  what names it in messages ("report summary", "--sql").
 * user_sql: sql came from the user: exactly one statement, and run (if
 * > 0) is bound to a parameter named :run if it has one; otherwise run is
 * bound to ?1 if the statement has parameters.  Pending rows are committed
 * first.  Returns 0, or -1 with the message in svt_db_error.
 */
int svt_db_select(struct svt_db *db, const char *what, const char *sql, bool user_sql,
		  int64_t run, struct svt_db_rows *out);
void svt_db_rows_free(struct svt_db_rows *rows);

/* Set svt_db_error to "FILE: " and the message; returns -1. */
int svt_db_fail(struct svt_db *db, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#endif /* SVT_DB_H */
