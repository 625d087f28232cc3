/*
 * db-merge.c — shards and the merge (db.h): a shard is a results database
 * with one finished run, written by one task of a cluster job; the merge
 * reads it and writes its rows into the experiment's database through the
 * same write interface a replay uses (db-write.c), inside the caller's
 * transaction, so a merge killed halfway leaves no part of a run.
 *
 * A shard is refused, and nothing of it written, when it is not a results
 * database, is of another schema version, holds other than exactly one
 * run, a run that did not finish, or a run whose trace checksum, policy,
 * audit level or tool version (the build identity) is not the one the
 * merge expects for that file.
 */
#define _POSIX_C_SOURCE 200809L
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "db_int.h"

static void say(char *err, size_t len, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void say(char *err, size_t len, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(err, len, fmt, ap);
	va_end(ap);
}

static const char *col(sqlite3_stmt *st, int i)
{
	const unsigned char *t = sqlite3_column_text(st, i);
	return t ? (const char *)t : NULL;
}

static void copy(char *dst, size_t len, const char *s)
{
	snprintf(dst, len, "%s", s ? s : "");
}

/* The shard's schema version, run count and first run's key and status,
 * read on its own read-only connection. */
static int read_key(struct svt_db *s, struct svt_db_shard *out, int64_t *run, char *err, size_t len)
{
	static const char sql[] =
		"SELECT (SELECT user_version FROM pragma_user_version), (SELECT count(*) "
		"FROM runs), id, trace_checksum, policy, audit, tool_version, status FROM runs "
		"ORDER BY id LIMIT 1";
	sqlite3_stmt *st;
	int rc;

	memset(out, 0, sizeof(*out));
	if (sqlite3_prepare_v2(s->h, sql, -1, &st, NULL) != SQLITE_OK) {
		say(err, len, "%s: reading the shard: %s", s->path, sqlite3_errmsg(s->h));
		return -1;
	}
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		out->version = sqlite3_column_int(st, 0);
		out->runs = sqlite3_column_int64(st, 1);
		*run = sqlite3_column_int64(st, 2);
		copy(out->checksum, sizeof(out->checksum), col(st, 3));
		copy(out->policy, sizeof(out->policy), col(st, 4));
		copy(out->audit, sizeof(out->audit), col(st, 5));
		copy(out->tool_version, sizeof(out->tool_version), col(st, 6));
		int status = col(st, 7) ? svt_db_run_status_parse(col(st, 7)) : -1;
		out->status = status < 0 ? SVT_RUN_RUNNING : (enum svt_db_run_status)status;
	} else if (rc == SQLITE_DONE) {
		out->runs = 0;
	} else {
		say(err, len, "%s: reading the shard: %s", s->path, sqlite3_errmsg(s->h));
	}
	sqlite3_finalize(st);
	return rc == SQLITE_ROW || rc == SQLITE_DONE ? 0 : -1;
}

int svt_db_shard_seal(struct svt_db *db)
{
	if (db->flush != NULL && db->flush(db) != 0)
		return -1;
	return db_exec(db, db->h, "PRAGMA journal_mode = DELETE",
		       "sealing the shard") == 0 ? 0 : -1;
}

int svt_db_shard_read(const char *path, struct svt_db_shard *out, char *err, size_t errlen)
{
	int st;
	int64_t run = 0;
	struct svt_db *s = svt_db_open(path, false, &st, err, errlen);

	if (s == NULL)
		return -1;
	int rc = read_key(s, out, &run, err, errlen);
	svt_db_close(s);
	return rc;
}

/* The rows of run in the shard, written to db under run id `to`. */
static int copy_rows(struct svt_db *db, struct svt_db *s, int64_t run, int64_t to,
		     char *err, size_t len)
{
#define SEL_COLUMN(name, kind, what) ", " #name
	static const char *const sql[3] = {
		"SELECT seq, invariant, va, gfn, level, guest_entry, shadow_entry, what, from_seq,"
		" to_seq FROM violations WHERE run = ?1 ORDER BY rowid",
		"SELECT first_seq, last_seq, events" SVT_COUNTERS(SEL_COLUMN)
		" FROM timeline WHERE run = ?1 ORDER BY rowid",
		"SELECT name, value FROM counters WHERE run = ?1 ORDER BY name",
	};
#undef SEL_COLUMN
	for (int k = 0; k < 3; k++) {
		sqlite3_stmt *st;
		int rc, wrc = 0;
		if (sqlite3_prepare_v2(s->h, sql[k], -1, &st, NULL) != SQLITE_OK ||
		    sqlite3_bind_int64(st, 1, run) != SQLITE_OK) {
			say(err, len, "%s: reading the shard: %s", s->path, sqlite3_errmsg(s->h));
			sqlite3_finalize(st);
			return -1;
		}
		while (wrc == 0 && (rc = sqlite3_step(st)) == SQLITE_ROW) {
			if (k == 0) {
				struct svt_db_violation v = {
					.seq = (uint64_t)sqlite3_column_int64(st, 0),
					.invariant = col(st, 1),
					.va = (uint64_t)sqlite3_column_int64(st, 2),
					.gfn = (uint64_t)sqlite3_column_int64(st, 3),
					.level = (unsigned)sqlite3_column_int64(st, 4),
					.guest_entry = (uint64_t)sqlite3_column_int64(st, 5),
					.shadow_entry = (uint64_t)sqlite3_column_int64(st, 6),
					.what = col(st, 7),
					.from_seq = (uint64_t)sqlite3_column_int64(st, 8),
					.to_seq = (uint64_t)sqlite3_column_int64(st, 9),
				};
				wrc = svt_db_violation(db, to, &v);
			} else if (k == 1) {
				struct svt_db_interval iv = {
					.first_seq = (uint64_t)sqlite3_column_int64(st, 0),
					.last_seq = (uint64_t)sqlite3_column_int64(st, 1),
					.events = (uint64_t)sqlite3_column_int64(st, 2),
				};
				int c = 3;
#define GET_COLUMN(name, kind, what) iv.ctr.name = (uint64_t)sqlite3_column_int64(st, c++);
				SVT_COUNTERS(GET_COLUMN)
#undef GET_COLUMN
				wrc = svt_db_interval(db, to, &iv);
			} else {
				wrc = svt_db_counter(db, to, col(st, 0),
						     (uint64_t)sqlite3_column_int64(st, 1));
			}
		}
		sqlite3_finalize(st);
		if (wrc != 0)
			return -2;
		if (rc != SQLITE_DONE) {
			say(err, len, "%s: reading the shard: %s", s->path, sqlite3_errmsg(s->h));
			return -1;
		}
	}
	return 0;
}

int64_t svt_db_merge_shard(struct svt_db *db, const char *path, const char *checksum,
			   const char *policy, const char *audit,
			   const char *tool_version, char *err, size_t errlen)
{
	static const char run_sql[] =
		"SELECT trace, guest, workload, recorded_policy, trace_events, pid, host, started,"
		" finished, seconds, events, violations, divergence_seq, message, whatif"
		" FROM runs WHERE id = ?1";
	struct svt_db_shard k;
	int64_t run = 0, id = -1;
	sqlite3_stmt *st = NULL;
	int status;
	struct svt_db *s = svt_db_open(path, false, &status, err, errlen);

	if (s == NULL)
		return -1;
	if (read_key(s, &k, &run, err, errlen) != 0)
		goto out;
	if (k.version != SVT_DB_VERSION) {
		say(err, errlen, "%s: schema version %d, this shadowvt writes %d", path, k.version,
		    SVT_DB_VERSION);
		goto out;
	}
	if (k.runs != 1) {
		say(err, errlen, "%s: holds %lld runs, a shard holds one", path, (long long)k.runs);
		goto out;
	}
	if (k.status != SVT_RUN_CLEAN && k.status != SVT_RUN_VIOLATIONS &&
	    k.status != SVT_RUN_BAD_INPUT) {
		say(err, errlen, "%s: its run did not finish (%s)", path,
		    svt_db_run_status_name(k.status));
		goto out;
	}
	if (strcmp(k.tool_version, tool_version) != 0) {
		say(err, errlen, "%s: made by another build (%s), this is %s", path, k.tool_version,
		    tool_version);
		goto out;
	}
	if (strcmp(k.checksum, checksum) != 0 || strcmp(k.policy, policy) != 0 ||
	    strcmp(k.audit, audit) != 0) {
		say(err, errlen,
		    "%s: holds trace %s under %s, audit %s; expected trace %s under %s, audit %s",
		    path, k.checksum, k.policy, k.audit, checksum, policy, audit);
		goto out;
	}
	int64_t have = svt_db_find_run(db, checksum, policy, audit, tool_version);
	if (have != 0) {
		id = have > 0 ? 0 : -2;
		goto out;
	}
	if (sqlite3_prepare_v2(s->h, run_sql, -1, &st, NULL) != SQLITE_OK ||
	    sqlite3_bind_int64(st, 1, run) != SQLITE_OK || sqlite3_step(st) != SQLITE_ROW) {
		say(err, errlen, "%s: reading the shard: %s", path, sqlite3_errmsg(s->h));
		goto out;
	}
	struct svt_db_run r = {
		.trace = col(st, 0) ? col(st, 0) : "", .trace_checksum = checksum,
		.guest = col(st, 1), .workload = col(st, 2), .policy = policy,
		.recorded_policy = sqlite3_column_int(st, 3) != 0, .audit = audit,
		.tool_version = tool_version, .trace_events = (uint64_t)sqlite3_column_int64(st, 4),
		.pid = sqlite3_column_int64(st, 5), .host = col(st, 6), .started = col(st, 7),
	};
	int64_t to = svt_db_run_begin(db, &r);
	if (to <= 0) {
		id = -2;
		goto out;
	}
	struct svt_db_run_end e = {
		.status = k.status, .events = (uint64_t)sqlite3_column_int64(st, 10),
		.violations = (uint64_t)sqlite3_column_int64(st, 11),
		.divergence_seq = sqlite3_column_type(st, 12) == SQLITE_NULL ? -1 :
				  sqlite3_column_int64(st, 12),
		.seconds = sqlite3_column_double(st, 9), .message = col(st, 13),
		.finished = col(st, 8), .whatif = col(st, 14),
	};
	int rc = copy_rows(db, s, run, to, err, errlen);
	if (rc != 0) {
		id = rc;
		goto out;
	}
	id = svt_db_run_end(db, to, &e) == 0 ? to : -2;
out:
	sqlite3_finalize(st);
	svt_db_close(s);
	return id;
}
