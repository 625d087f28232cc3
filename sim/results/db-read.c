/*
 * db-read.c — the questions the program itself asks of a results
 * database (db.h): the canned reports of shadowvt query, the reads of
 * shadowvt report's page and of shadowvt run's summary and JUnit report.
 * Every statement the program runs is here or in the other db*.c files;
 * the rest of sim/ calls these functions, and only `query --sql` hands
 * SQL of its own (the user's) to svt_db_select.
 *
 * Values a caller decides on come back typed (struct svt_db_run_info,
 * struct svt_db_totals); rows a caller shows come back as svt_db_rows,
 * each cell as SQLite renders it, in the columns db.h names.  The timeline
 * totals are generated from SVT_COUNTERS (src/svt.h), like the timeline's
 * columns and the writer's INSERT.
 */
#define _POSIX_C_SOURCE 200809L
#include <stdlib.h>
#include <string.h>

#include "db_int.h"

/* ---- shadowvt query's canned reports --------------------------------------- */

const char *const svt_db_reports[] = { "summary", "violations", "faults", "memory",
				       "compare", NULL };

/*
 * The reports, on the views of schema/results.sql.  ?1 is the --run
 * argument, 0 for every run.  A run still 'running' whose process is gone
 * from this host is shown as 'incomplete?' (svt_pid_gone, db.c); in the
 * database it stays 'running'.
 */
static const char *const report_sql[] = {
	"SELECT run AS id, trace, workload, policy, audit,"
	" CASE WHEN status = 'running' AND svt_pid_gone(pid, host) THEN 'incomplete?'"
	" ELSE status END AS status, events, violations, divergence, seconds, events_per_s"
	" FROM run_summary WHERE ?1 <= 0 OR run = ?1 ORDER BY run",

	"SELECT run, seq, invariant, va, gfn, level, guest_entry AS guest, shadow_entry AS shadow,"
	" what, reproduce FROM violation_context WHERE ?1 <= 0 OR run = ?1 ORDER BY run, seq",

	"SELECT run, policy, events, exits, exits_pct, faults, fixed, ad_faults AS ad, injected,"
	" emulated, mmio, retries, cr_writes, invlpgs, flushes, faults_pct, fixed_pct, ad_pct,"
	" injected_pct, emulated_pct, mmio_pct, retries_pct"
	" FROM fault_mix WHERE ?1 <= 0 OR run = ?1 ORDER BY run",

	"SELECT run, first_seq, last_seq, events, shadow_pages, shadow_kib, peak_so_far, evictions,"
	" unshadows FROM shadow_memory WHERE ?1 <= 0 OR run = ?1 ORDER BY run, first_seq",

	"SELECT checksum, trace, run, policy, status, exits, emulated, peak_shadow_pages,"
	" evictions, resyncs, violations, basis, grp AS 'group' FROM policy_compare"
	" WHERE ?1 <= 0 OR grp IN (SELECT grp FROM policy_compare WHERE run = ?1)"
	" ORDER BY grp, exits, run",
};

int svt_db_report_rows(struct svt_db *db, const char *name, int64_t run, struct svt_db_rows *out)
{
	struct svt_db_rows rows;
	char what[64];
	size_t i = 0;

	memset(out, 0, sizeof(*out));
	while (svt_db_reports[i] != NULL && strcmp(svt_db_reports[i], name) != 0)
		i++;
	if (svt_db_reports[i] == NULL)
		return svt_db_fail(db, "there is no report '%s'", name);
	snprintf(what, sizeof(what), "report %s", name);
	if (run > 0) {
		if (db_select(db, what, "SELECT count(*) FROM runs WHERE id = ?1", &run, 1,
			      &rows) != 0) {
			svt_db_rows_free(&rows);
			return -1;
		}
		bool none = rows.nrows != 1 || rows.ncols != 1 || rows.cells[0].text == NULL ||
			strcmp(rows.cells[0].text, "0") == 0;
		svt_db_rows_free(&rows);
		if (none)
			return svt_db_fail(db, "there is no run %lld", (long long)run);
	}
	return db_select(db, what, report_sql[i], &run, 1, out);
}

/* ---- the timeline summed ---------------------------------------------------- */

/* Counts are summed over a run's intervals, levels taken at their peak. */
#define AGG_COUNT "sum"
#define AGG_LEVEL "max"
#define TOTAL_COLUMN(name, kind, what) ", " AGG_##kind "(" #name ")"

/* ?1: one run, or 0 for every run. */
static const char totals_sql[] =
	"SELECT run, count(*), sum(events), sum(faults) + sum(cr_writes) + sum(invlpgs) + "
	"sum(flushes)" SVT_COUNTERS(TOTAL_COLUMN) " FROM timeline WHERE ?1 <= 0 OR run = ?1 GROUP "
	"BY run ORDER BY run";

/* The row st is on as totals (NULL, in columns older intervals lack, as 0). */
static void totals_row(sqlite3_stmt *st, struct svt_db_totals *t)
{
	int c = 4;

	t->run = sqlite3_column_int64(st, 0);
	t->intervals = (uint64_t)sqlite3_column_int64(st, 1);
	t->events = (uint64_t)sqlite3_column_int64(st, 2);
	t->exits = (uint64_t)sqlite3_column_int64(st, 3);
#define TOTAL_VALUE(name, kind, what) t->ctr.name = (uint64_t)sqlite3_column_int64(st, c++);
	SVT_COUNTERS(TOTAL_VALUE)
#undef TOTAL_VALUE
}

/* The totals of run (> 0), or of every run: *out malloc'd, *n rows. */
static int read_totals(struct svt_db *db, int64_t run, struct svt_db_totals **out, size_t *n)
{
	sqlite3_stmt *st = db_prepare_read(db, "reading the timeline", totals_sql, &run, 1);
	size_t cap = 0;
	int rc;

	*out = NULL;
	*n = 0;
	if (st == NULL)
		return -1;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		if (*n == cap) {
			void *p = realloc(*out, (cap = cap ? 2 * cap : 16) * sizeof(**out));
			if (p == NULL) {
				sqlite3_finalize(st);
				return svt_db_fail(db, "out of memory");
			}
			*out = p;
		}
		memset(&(*out)[*n], 0, sizeof(**out));
		totals_row(st, &(*out)[(*n)++]);
	}
	if (rc != SQLITE_DONE)
		svt_db_fail(db, "reading the timeline: %s", sqlite3_errmsg(db->h));
	sqlite3_finalize(st);
	return rc == SQLITE_DONE ? 0 : -1;
}

int svt_db_totals(struct svt_db *db, struct svt_db_totals **out, size_t *n)
{
	return read_totals(db, 0, out, n);
}

/* ---- one run, for shadowvt run ---------------------------------------------- */

int svt_db_run_info(struct svt_db *db, int64_t run, struct svt_db_run_info *out)
{
	static const char sql[] =
		"SELECT status, recorded_policy, events, violations, divergence_seq, "
		"seconds, message, whatif FROM runs WHERE id = ?1";
	sqlite3_stmt *st = db_prepare_read(db, "reading a run", sql, &run, 1);
	struct svt_db_totals *t = NULL;
	size_t n = 0;
	int rc, status;

	memset(out, 0, sizeof(*out));
	if (st == NULL)
		return -1;
	if ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		const unsigned char *msg = sqlite3_column_text(st, 6);

		status = svt_db_run_status_parse((const char *)sqlite3_column_text(st, 0));
		out->status = (enum svt_db_run_status)status;
		out->recorded_policy = sqlite3_column_int64(st, 1) == 1;
		out->events = (uint64_t)sqlite3_column_int64(st, 2);
		out->violations = (uint64_t)sqlite3_column_int64(st, 3);
		out->divergence_seq = sqlite3_column_type(st, 4) == SQLITE_NULL ? -1
			: sqlite3_column_int64(st, 4);
		out->seconds = sqlite3_column_double(st, 5);
		snprintf(out->message, sizeof(out->message), "%s", msg ? (const char *)msg : "");
		const unsigned char *wi = sqlite3_column_text(st, 7);
		snprintf(out->whatif, sizeof(out->whatif), "%s", wi ? (const char *)wi : "");
		if (status < 0)
			rc = svt_db_fail(db, "run %lld has no status this program knows",
					 (long long)run);
		else
			rc = 0;
	} else if (rc == SQLITE_DONE) {
		rc = svt_db_fail(db, "there is no run %lld", (long long)run);
	} else {
		rc = svt_db_fail(db, "reading a run: %s", sqlite3_errmsg(db->h));
	}
	sqlite3_finalize(st);
	if (rc != 0 || read_totals(db, run, &t, &n) != 0)
		return -1;
	if (n == 1) {
		out->has_totals = true;
		out->totals = t[0];
	}
	free(t);
	return 0;
}

/* ---- shadowvt report ------------------------------------------------------------ */

int svt_db_runs(struct svt_db *db, struct svt_db_rows *out)
{
	/* The columns of SVT_DB_RUNS_*; query's 'incomplete?' for a dead process. */
	static const char sql[] =
		"SELECT run, trace, trace_checksum, workload, policy, recorded_policy, audit,"
		" CASE WHEN status = 'running' AND svt_pid_gone(pid, host) THEN 'incomplete?'"
		" ELSE status END, events, trace_events, violations, divergence, seconds, "
		"events_per_s, started, message FROM run_summary ORDER BY run";

	return db_select(db, "report runs", sql, NULL, 0, out);
}

int svt_db_violation_counts(struct svt_db *db, struct svt_db_rows *out)
{
	return db_select(db, "report violations",
			 "SELECT run, count(*) FROM violations GROUP BY run ORDER BY run",
			 NULL, 0, out);
}

int svt_db_compare(struct svt_db *db, struct svt_db_rows *out)
{
	static const char sql[] =
		"SELECT checksum, trace, run, policy, exits, faults, emulated, resyncs, "
		"peak_shadow_pages, evictions, violations, basis, grp FROM policy_compare ORDER "
		"BY grp, run";

	return db_select(db, "report compare", sql, NULL, 0, out);
}

int svt_db_timeline_points(struct svt_db *db, int64_t run, unsigned points, struct svt_db_rows *out)
{
	/* Faults as a rate, so that the last interval, shorter than the
	 * others, is not a dip. */
	static const char sql[] =
		"SELECT min(first_seq), max(last_seq), max(rate), max(pool_used), count(*) FROM"
		" (SELECT first_seq, last_seq, 1000.0 * faults / nullif(events, 0) AS "
		"rate, pool_used,  ntile(?2) OVER (ORDER BY first_seq) AS b"
		"  FROM timeline WHERE run = ?1) GROUP BY b ORDER BY b";
	const int64_t args[] = { run, points };

	return db_select(db, "report timeline", sql, args, 2, out);
}

int svt_db_run_violations(struct svt_db *db, int64_t run, unsigned limit, struct svt_db_rows *out)
{
	static const char sql[] =
		"SELECT seq, invariant, va, gfn, level, guest_entry, shadow_entry, what, reproduce"
		" FROM violation_context WHERE run = ?1 ORDER BY seq LIMIT ?2";
	const int64_t args[] = { run, limit };

	return db_select(db, "report violations", sql, args, 2, out);
}

/* ---- shadowvt run --junit ------------------------------------------------------- */

int svt_db_first_violations(struct svt_db *db, int64_t run, unsigned per_invariant,
			    struct svt_db_rows *out)
{
	static const char sql[] =
		"SELECT invariant, seq, va, what, reproduce, n FROM ("
		" SELECT invariant, seq, va, what, reproduce,"
		"  row_number() OVER (PARTITION BY invariant ORDER BY seq) AS k,"
		"  count(*) OVER (PARTITION BY invariant) AS n"
		" FROM violation_context WHERE run = ?1)"
		" WHERE k <= ?2 ORDER BY invariant, seq";
	const int64_t args[] = { run, per_invariant };

	return db_select(db, "the violations", sql, args, 2, out);
}
