/*
 * db.c — the results database (db.h, schema/results.sql): opening it
 * (creating it, recognising it, migrating an older schema forward) and
 * reading result sets: the user's SQL, and the program's own statements
 * (db-read.c holds those that read).  Writing runs is db-write.c.
 *
 * A results file may come from anywhere: every SQLite result is checked,
 * damage and foreign files are input errors (SVT_DB_EINPUT), and a reading
 * connection is read-only, refuses ATTACH, lets no view in the file call
 * anything but harmless built-in functions, and runs only statements that
 * SQLite says do not write.
 *
 * Several processes and threads may use one file, each with its own
 * connection: WAL mode lets readers run while one writer appends, and the
 * busy timeout makes writers wait for each other instead of failing.
 */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "db_int.h"

#define BUSY_MS         60000           /* how long a writer waits for the lock */

extern const char svt_results_sql[];    /* schema/results.sql (results-sql.c) */

/*
 * Forward migrations: migrations[v] takes a version-v database to v + 1.
 * Steps change tables only.  Around them every view is dropped, then the
 * tables and indexes schema/results.sql has and the database lacks are
 * created, and the views recreated, all from the schema itself.
 *
 * Version 1, the first layout: runs had no workload and recorded_policy
 * columns (synthetic workloads and recorded-policy replays came later),
 * timeline no prefetched column, and run_summary was the only view.
 *
 * Version 2: timeline had a column for some of the core's counters only,
 * and called pool_used shadow_pages.  Version 3 has one for each counter
 * of SVT_COUNTERS (src/svt.h); the new ones are NULL in old intervals.  A
 * counter added to that list is a step like this one, and a column at the
 * end of timeline in schema/results.sql.
 *
 * Version 4 adds runs.whatif, how a replay relates to recording under its
 * policy (sim/replay/whatif.h); NULL in older runs.
 */
static const char *const migrations[SVT_DB_VERSION] = {
	[1] = "ALTER TABLE runs ADD COLUMN workload TEXT;"
	      "ALTER TABLE runs ADD COLUMN recorded_policy INTEGER NOT NULL DEFAULT 0;"
	      "ALTER TABLE timeline ADD COLUMN prefetched INTEGER NOT NULL DEFAULT 0;",
	[2] = "ALTER TABLE timeline RENAME COLUMN shadow_pages TO pool_used;"
	      "ALTER TABLE timeline ADD COLUMN emulated_wp0 INTEGER;"
	      "ALTER TABLE timeline ADD COLUMN early_unshadows INTEGER;"
	      "ALTER TABLE timeline ADD COLUMN resyncs_va INTEGER;"
	      "ALTER TABLE timeline ADD COLUMN cr3_noflush INTEGER;"
	      "ALTER TABLE timeline ADD COLUMN shadows_made INTEGER;"
	      "ALTER TABLE timeline ADD COLUMN resets INTEGER;"
	      "ALTER TABLE timeline ADD COLUMN invpcids INTEGER;"
	      "ALTER TABLE timeline ADD COLUMN pool_free INTEGER;"
	      "ALTER TABLE timeline ADD COLUMN env_errors INTEGER;",
	[3] = "ALTER TABLE runs ADD COLUMN whatif TEXT;",
};

static int vfail(struct svt_db *db, int status, const char *fmt, va_list ap)
{
	int n = snprintf(db->err, sizeof(db->err), "%s: ", db->path);

	if (n >= 0 && (size_t)n < sizeof(db->err))
		vsnprintf(db->err + n, sizeof(db->err) - (size_t)n, fmt, ap);
	return status;
}

int db_fail(struct svt_db *db, int status, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vfail(db, status, fmt, ap);
	va_end(ap);
	return status;
}

int svt_db_fail(struct svt_db *db, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vfail(db, -1, fmt, ap);
	va_end(ap);
	return -1;
}

const char *svt_db_error(const struct svt_db *db)
{
	return db->err;
}

int db_sqlfail(struct svt_db *db, sqlite3 *h, const char *what)
{
	int rc = sqlite3_errcode(h) & 0xff;
	const char *msg = sqlite3_errmsg(h);

	if (rc == SQLITE_NOTADB)
		return db_fail(db, SVT_DB_EINPUT, "not a shadowvt results database (%s)", msg);
	if (rc == SQLITE_CORRUPT || rc == SQLITE_FORMAT)
		return db_fail(db, SVT_DB_EINPUT, "damaged: %s: %s", what, msg);
	return db_fail(db, SVT_DB_EIO, "%s: %s", what, msg);
}

int db_exec(struct svt_db *db, sqlite3 *h, const char *sql, const char *what)
{
	return sqlite3_exec(h, sql, NULL, NULL, NULL) == SQLITE_OK ? 0 : db_sqlfail(db, h, what);
}

/*
 * svt_pid_gone(pid, host): 1 if host is this machine and no process pid
 * exists there, else 0.  The query command shows a run still 'running' as
 * 'incomplete?' when it is.  Direct use only: a view in a foreign file
 * cannot call it.
 */
static void pid_gone(sqlite3_context *ctx, int argc, sqlite3_value **argv)
{
	char me[256];
	const unsigned char *host;
	int64_t pid;

	(void)argc;
	sqlite3_result_int(ctx, 0);
	if (sqlite3_value_type(argv[0]) != SQLITE_INTEGER ||
	    sqlite3_value_type(argv[1]) != SQLITE_TEXT)
		return;
	pid = sqlite3_value_int64(argv[0]);
	host = sqlite3_value_text(argv[1]);
	/* pid 0 and negative pids would ask about process groups. */
	if (pid <= 0 || pid > 0x7fffffff || host == NULL || gethostname(me, sizeof(me)) != 0)
		return;
	me[sizeof(me) - 1] = '\0';
	if (strcmp((const char *)host, me) == 0 && kill((pid_t)pid, 0) != 0 && errno == ESRCH)
		sqlite3_result_int(ctx, 1);
}

/* Settings every connection gets. */
static int configure(struct svt_db *db, sqlite3 *h)
{
	sqlite3_extended_result_codes(h, 1);
	sqlite3_limit(h, SQLITE_LIMIT_ATTACHED, 0);
	if (sqlite3_busy_timeout(h, BUSY_MS) != SQLITE_OK ||
	    sqlite3_db_config(h, SQLITE_DBCONFIG_DEFENSIVE, 1, (int *)NULL) != SQLITE_OK ||
	    sqlite3_db_config(h, SQLITE_DBCONFIG_TRUSTED_SCHEMA, 0, (int *)NULL) != SQLITE_OK ||
	    sqlite3_create_function(h, "svt_pid_gone", 2, SQLITE_UTF8 | SQLITE_DIRECTONLY, NULL,
				    pid_gone, NULL, NULL) != SQLITE_OK)
		return db_sqlfail(db, h, "configuring the connection");
	return 0;
}

/*
 * What the file holds: *version 0 for a blank database (an empty file
 * too), 1..SVT_DB_VERSION for ours; anything else is an input error.  One
 * statement, so one snapshot: another process may be creating the schema.
 */
static int inspect(struct svt_db *db, int *version)
{
	static const char sql[] =
		"SELECT (SELECT application_id FROM pragma_application_id),"
		" (SELECT user_version FROM pragma_user_version),"
		" (SELECT count(*) FROM sqlite_master),"
		" (SELECT count(*) FROM sqlite_master WHERE type = 'table'"
		"  AND name IN ('runs', 'violations', 'counters', 'timeline'))";
	int64_t v[4] = { 0 };
	sqlite3_stmt *st;
	int rc;

	if (sqlite3_prepare_v2(db->h, sql, -1, &st, NULL) != SQLITE_OK)
		return db_sqlfail(db, db->h, "reading the schema");
	if ((rc = sqlite3_step(st)) == SQLITE_ROW)
		for (int i = 0; i < 4; i++)
			v[i] = sqlite3_column_int64(st, i);
	rc = rc == SQLITE_ROW ? 0 : db_sqlfail(db, db->h, "reading the schema");
	sqlite3_finalize(st);
	if (rc != 0)
		return rc;
	*version = 0;
	if (v[0] == 0 && v[1] == 0 && v[2] == 0)
		return 0;
	if (v[0] != DB_APP_ID)
		return db_fail(db, SVT_DB_EINPUT, "not a shadowvt results database");
	if (v[1] > SVT_DB_VERSION)
		return db_fail(db, SVT_DB_EINPUT,
			       "schema version %lld is newer than this shadowvt (%d)",
			       (long long)v[1], SVT_DB_VERSION);
	if (v[1] < 1 || v[3] != 4)
		return db_fail(db, SVT_DB_EINPUT, "not a shadowvt results database (damaged: %s)",
			       v[1] < 1 ? "no schema version" : "tables missing");
	*version = (int)v[1];
	return 0;
}

/*
 * Bring h from version `from` (0: blank) to SVT_DB_VERSION, inside the
 * caller's transaction.  The schema, made afresh in memory, is the model.
 */
static int migrate(struct svt_db *db, sqlite3 *h, int from)
{
	sqlite3 *fresh = NULL;
	sqlite3_stmt *objs = NULL, *have = NULL;
	char *drop = NULL, sql[64];
	int rc;

	if (from == 0)
		return db_exec(db, h, svt_results_sql, "creating the schema");
	if (sqlite3_open(":memory:", &fresh) != SQLITE_OK ||
	    sqlite3_exec(fresh, svt_results_sql, NULL, NULL, NULL) != SQLITE_OK ||
	    sqlite3_prepare_v2(fresh, "SELECT type, name, sql FROM sqlite_master"
			       " WHERE sql IS NOT NULL ORDER BY rowid", -1, &objs,
			       NULL) != SQLITE_OK) {
		rc = db_fail(db, SVT_DB_EIO, "the built-in schema: %s", sqlite3_errmsg(fresh));
		goto out;
	}
	/* Views are derived: drop them all, whatever the old ones were. */
	rc = SQLITE_NOMEM;
	if (sqlite3_prepare_v2(h,
			       "SELECT group_concat('DROP VIEW \"' || replace(name, '\"', '\"\"') "
			       "|| '\";', '') FROM sqlite_master WHERE type = 'view'", -1, &have,
			       NULL) == SQLITE_OK &&
	    (rc = sqlite3_step(have)) == SQLITE_ROW && sqlite3_column_text(have, 0) != NULL)
		drop = sqlite3_mprintf("%s", (const char *)sqlite3_column_text(have, 0));
	if (rc != SQLITE_ROW || sqlite3_finalize(have) != SQLITE_OK) {
		have = NULL;
		rc = db_sqlfail(db, h, "migrating");
		goto out;
	}
	have = NULL;
	if (drop != NULL && (rc = db_exec(db, h, drop, "migrating: dropping views")) != 0)
		goto out;
	for (int v = from; v < SVT_DB_VERSION; v++) {
		snprintf(sql, sizeof(sql), "migrating from schema version %d", v);
		if ((rc = db_exec(db, h, migrations[v], sql)) != 0)
			goto out;
	}
	if (sqlite3_prepare_v2(h, "SELECT 1 FROM sqlite_master WHERE type = ?1 AND name = ?2",
			       -1, &have, NULL) != SQLITE_OK) {
		rc = db_sqlfail(db, h, "migrating");
		goto out;
	}
	while ((rc = sqlite3_step(objs)) == SQLITE_ROW) {
		const char *type = (const char *)sqlite3_column_text(objs, 0);
		bool present = false;

		if (type == NULL)
			break;
		if (strcmp(type, "view") != 0) {
			if (sqlite3_bind_text(have, 1, type, -1, SQLITE_TRANSIENT) != SQLITE_OK ||
			    sqlite3_bind_text(have, 2,
					      (const char *)sqlite3_column_text(objs, 1), -1,
					      SQLITE_TRANSIENT) != SQLITE_OK)
				break;
			rc = sqlite3_step(have);
			present = rc == SQLITE_ROW;
			if (sqlite3_reset(have) != SQLITE_OK)
				break;
		}
		if (!present && (rc = db_exec(db, h, (const char *)sqlite3_column_text(objs, 2),
					   "migrating: creating schema objects")) != 0)
			goto out;
	}
	if (rc != SQLITE_DONE) {
		rc = db_sqlfail(db, h, "migrating");
		goto out;
	}
	snprintf(sql, sizeof(sql), "PRAGMA user_version = %d", SVT_DB_VERSION);
	rc = db_exec(db, h, sql, "migrating");
out:
	sqlite3_free(drop);
	sqlite3_finalize(have);
	sqlite3_finalize(objs);
	sqlite3_close(fresh);
	return rc;
}

/* Create or migrate, under the write lock: another process may have done
 * it since we looked. */
static int upgrade(struct svt_db *db)
{
	int version, rc;

	if ((rc = db_exec(db, db->h, "BEGIN IMMEDIATE", "locking")) != 0)
		return rc;
	if ((rc = inspect(db, &version)) == 0 && version < SVT_DB_VERSION &&
	    (rc = migrate(db, db->h, version)) == 0 && (rc = inspect(db, &version)) == 0 &&
	    version != SVT_DB_VERSION)
		rc = db_fail(db, SVT_DB_EIO, "the built-in schema is version %d, not %d", version,
			     SVT_DB_VERSION);
	if (rc == 0)
		rc = db_exec(db, db->h, "COMMIT", "committing the schema");
	if (rc != 0)
		sqlite3_exec(db->h, "ROLLBACK", NULL, NULL, NULL);
	return rc;
}

/*
 * Read-only and older than us: migrate a copy in memory, so the reports
 * see the current schema and the file is left alone.
 */
static int copy_to_memory(struct svt_db *db, int version)
{
	sqlite3 *mem = NULL;
	sqlite3_backup *b;
	int rc;

	if (sqlite3_open(":memory:", &mem) != SQLITE_OK) {
		sqlite3_close(mem);
		return db_fail(db, SVT_DB_EIO, "out of memory");
	}
	if ((b = sqlite3_backup_init(mem, "main", db->h, "main")) == NULL) {
		rc = db_sqlfail(db, mem, "reading");
	} else {
		rc = sqlite3_backup_step(b, -1);
		sqlite3_backup_finish(b);
		rc = rc == SQLITE_DONE ? 0 : db_sqlfail(db, db->h, "reading");
	}
	sqlite3_close(rc == 0 ? db->h : mem);
	if (rc != 0)
		return rc;
	db->h = mem;
	if ((rc = configure(db, mem)) != 0 || (rc = db_exec(db, mem, "BEGIN", "migrating")) != 0 ||
	    (rc = migrate(db, mem, version)) != 0)
		return rc;
	return db_exec(db, mem, "COMMIT", "migrating");
}

/*
 * Switching a new file to WAL takes an exclusive lock, and SQLite returns
 * SQLITE_BUSY at once instead of calling the busy handler: processes
 * creating one file together retry here.  Once one has switched it, the
 * switch is a no-op for the others.
 */
static int set_wal(struct svt_db *db)
{
	const struct timespec pause = { .tv_sec = 0, .tv_nsec = 2000000 };
	int rc;

	for (long waited = 0;; waited += 2) {
		rc = sqlite3_exec(db->h, "PRAGMA journal_mode = WAL", NULL, NULL, NULL);
		if (rc == SQLITE_OK)
			return 0;
		if ((rc & 0xff) != SQLITE_BUSY || waited >= BUSY_MS)
			return db_sqlfail(db, db->h, "setting WAL mode");
		nanosleep(&pause, NULL);
	}
}

static int db_connect(struct svt_db *db, bool create)
{
	struct stat sb;
	char *name;
	int version, rc;

	if (stat(db->path, &sb) == 0) {
		if (S_ISDIR(sb.st_mode))
			return db_fail(db, SVT_DB_EINPUT, "is a directory, not a results database");
	} else if (errno != ENOENT || !create) {
		return db_fail(db, SVT_DB_EIO, "cannot open: %s", strerror(errno));
	}
	/* "./" keeps names like ":memory:" or "file:..." plain file names. */
	name = sqlite3_mprintf("%s%s", db->path[0] == '/' ? "" : "./", db->path);
	if (name == NULL)
		return db_fail(db, SVT_DB_EIO, "out of memory");
	rc = sqlite3_open_v2(name, &db->h, create ? SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE
			     : SQLITE_OPEN_READONLY, NULL);
	sqlite3_free(name);
	if (rc != SQLITE_OK)
		return db->h ? db_sqlfail(db, db->h, "cannot open") :
			db_fail(db, SVT_DB_EIO, "out of memory");
	if ((rc = configure(db, db->h)) != 0 || (rc = inspect(db, &version)) != 0)
		return rc;
	if (!create) {
		if (version == 0)
			return db_fail(db, SVT_DB_EINPUT,
				       "not a shadowvt results database (it is empty)");
		if (version < SVT_DB_VERSION && (rc = copy_to_memory(db, version)) != 0)
			return rc;
		return db_exec(db, db->h, "PRAGMA query_only = 1", "opening");
	}
	/* WAL: readers never block the writer, and one writer at a time
	 * appends; NORMAL sync is safe in WAL (a power cut may lose the last
	 * commits, never consistency). */
	if ((rc = set_wal(db)) != 0 ||
	    (rc = db_exec(db, db->h, "PRAGMA synchronous = NORMAL; PRAGMA foreign_keys = ON",
		       "opening")) != 0)
		return rc;
	if (version < SVT_DB_VERSION && (rc = upgrade(db)) != 0)
		return rc;
	return 0;
}

struct svt_db *svt_db_open(const char *path, bool create, int *status, char *err, size_t errlen)
{
	struct svt_db *db = calloc(1, sizeof(*db));

	if (db == NULL || (db->path = strdup(path)) == NULL) {
		free(db);
		snprintf(err, errlen, "%s: out of memory", path);
		*status = SVT_DB_EIO;
		return NULL;
	}
	db->writable = create;
	*status = db_connect(db, create);
	if (*status == SVT_DB_OK)
		return db;
	snprintf(err, errlen, "%s", db->err);
	svt_db_close(db);
	return NULL;
}

/* ---- reading ------------------------------------------------------------ */

void svt_db_rows_free(struct svt_db_rows *r)
{
	for (unsigned c = 0; r->names != NULL && c < r->ncols; c++)
		free(r->names[c]);
	for (size_t i = 0; i < r->nrows * r->ncols; i++)
		free(r->cells[i].text);
	free(r->names);
	free(r->cells);
	memset(r, 0, sizeof(*r));
}

/* Append the statement's current row; -1 when out of memory. */
static int rows_push(struct svt_db_rows *r, sqlite3_stmt *st)
{
	static const char hex[] = "0123456789abcdef";
	struct svt_db_cell *row;

	if (r->ncols == 0)
		return 0;
	if (r->nrows == r->cap) {
		size_t cap = r->cap ? 2 * r->cap : 64;
		void *p = NULL;

		if (cap <= SIZE_MAX / sizeof(*row) / r->ncols)
			p = realloc(r->cells, cap * r->ncols * sizeof(*row));
		if (p == NULL)
			return -1;
		r->cells = p;
		r->cap = cap;
	}
	row = &r->cells[r->nrows * r->ncols];
	for (unsigned c = 0; c < r->ncols; c++) {
		int t = sqlite3_column_type(st, (int)c);
		const unsigned char *v;
		size_t n;

		row[c].type = t == SQLITE_INTEGER ? SVT_DB_INTEGER : t == SQLITE_FLOAT ? SVT_DB_REAL
			: t == SQLITE_NULL ? SVT_DB_NULL : SVT_DB_TEXT;
		row[c].text = NULL;
		if (t == SQLITE_NULL)
			continue;
		if (t == SQLITE_BLOB) {         /* as an SQL literal: X'0a1b' */
			v = sqlite3_column_blob(st, (int)c);
			n = (size_t)sqlite3_column_bytes(st, (int)c);
			if ((row[c].text = malloc(2 * n + 4)) != NULL) {
				char *o = row[c].text;
				*o++ = 'X';
				*o++ = '\'';
				for (size_t i = 0; i < n; i++) {
					*o++ = hex[v[i] >> 4];
					*o++ = hex[v[i] & 15];
				}
				strcpy(o, "'");
			}
		} else {
			v = sqlite3_column_text(st, (int)c);
			n = (size_t)sqlite3_column_bytes(st, (int)c);
			if (v != NULL && (row[c].text = malloc(n + 1)) != NULL) {
				memcpy(row[c].text, v, n);
				row[c].text[n] = '\0';
			}
		}
		if (row[c].text == NULL) {
			while (c-- > 0)
				free(row[c].text);
			return -1;
		}
	}
	r->nrows++;
	return 0;
}

/*
 * Prepare sql (one statement that reads: user_sql, exactly one) for
 * reading, pending rows committed first.  NULL, with the message in
 * svt_db_error, when it cannot be.
 */
static sqlite3_stmt *prepare_read(struct svt_db *db, const char *what, const char *sql,
				  bool user_sql)
{
	sqlite3_stmt *st = NULL, *more = NULL;
	const char *tail = NULL;

	if (db->flush != NULL && db->flush(db) != 0)
		return NULL;
	if (sqlite3_prepare_v2(db->h, sql, -1, &st, &tail) != SQLITE_OK) {
		db_fail(db, -1, "%s: %s", what, sqlite3_errmsg(db->h));
		return NULL;
	}
	if (st == NULL) {
		db_fail(db, -1, "%s: no SQL statement", what);
		return NULL;
	}
	if (user_sql && tail != NULL) {
		int rc = sqlite3_prepare_v2(db->h, tail, -1, &more, NULL);
		bool extra = rc != SQLITE_OK || more != NULL;

		sqlite3_finalize(more);
		if (extra) {
			sqlite3_finalize(st);
			db_fail(db, -1, "%s: give one SQL statement", what);
			return NULL;
		}
	}
	if (!sqlite3_stmt_readonly(st)) {
		sqlite3_finalize(st);
		db_fail(db, -1, "%s: the statement would change the database, which is opened"
			" read-only", what);
		return NULL;
	}
	return st;
}

sqlite3_stmt *db_prepare_read(struct svt_db *db, const char *what, const char *sql,
			      const int64_t *args, unsigned nargs)
{
	sqlite3_stmt *st = prepare_read(db, what, sql, false);

	for (unsigned i = 0; st != NULL && i < nargs; i++)
		if (sqlite3_bind_int64(st, (int)i + 1, args[i]) != SQLITE_OK) {
			db_fail(db, -1, "%s: %s", what, sqlite3_errmsg(db->h));
			sqlite3_finalize(st);
			st = NULL;
		}
	return st;
}

/* Read the rows of st (prepared and bound) into out, and finalize st. */
static int read_rows(struct svt_db *db, const char *what, sqlite3_stmt *st, int rc,
		     struct svt_db_rows *out)
{
	out->ncols = (unsigned)sqlite3_column_count(st);
	if (rc == SQLITE_OK && (out->names = calloc(out->ncols + 1, sizeof(char *))) == NULL)
		rc = SQLITE_NOMEM;
	for (unsigned c = 0; rc == SQLITE_OK && c < out->ncols; c++) {
		const char *name = sqlite3_column_name(st, (int)c);
		if ((out->names[c] = strdup(name ? name : "?")) == NULL)
			rc = SQLITE_NOMEM;
	}
	if (rc == SQLITE_OK) {
		while ((rc = sqlite3_step(st)) == SQLITE_ROW)
			if (rows_push(out, st) != 0) {
				rc = SQLITE_NOMEM;
				break;
			}
	}
	if (rc != SQLITE_DONE) {
		if (out->names == NULL)
			out->ncols = 0;
		db_fail(db, -1, "%s: %s", what, rc == SQLITE_NOMEM ? "out of memory"
			: sqlite3_errmsg(db->h));
		sqlite3_finalize(st);
		return -1;
	}
	sqlite3_finalize(st);
	return 0;
}

int svt_db_select(struct svt_db *db, const char *what, const char *sql, int64_t run,
		  struct svt_db_rows *out)
{
	sqlite3_stmt *st;
	int idx;

	memset(out, 0, sizeof(*out));
	if ((st = prepare_read(db, what, sql, true)) == NULL)
		return -1;
	idx = run > 0 ? sqlite3_bind_parameter_index(st, ":run") : 0;
	return read_rows(db, what, st, idx > 0 ? sqlite3_bind_int64(st, idx, run) : SQLITE_OK, out);
}

int db_select(struct svt_db *db, const char *what, const char *sql, const int64_t *args,
	      unsigned nargs, struct svt_db_rows *out)
{
	sqlite3_stmt *st;

	memset(out, 0, sizeof(*out));
	if ((st = db_prepare_read(db, what, sql, args, nargs)) == NULL)
		return -1;
	return read_rows(db, what, st, SQLITE_OK, out);
}

/* ---- run statuses --------------------------------------------------------- */

static const char *const status_names[] = {
	[SVT_RUN_CLEAN] = "clean", [SVT_RUN_VIOLATIONS] = "violations",
	[SVT_RUN_BAD_INPUT] = "bad-input", [SVT_RUN_INCOMPLETE] = "incomplete",
	[SVT_RUN_RUNNING] = "running", [SVT_RUN_NOT_RUN] = "not-run",
};

const char *svt_db_run_status_name(enum svt_db_run_status s)
{
	return (unsigned)s < sizeof(status_names) / sizeof(status_names[0]) ?
		status_names[s] : NULL;
}

int svt_db_run_status_parse(const char *name)
{
	for (size_t i = 0; name != NULL && i < sizeof(status_names) / sizeof(status_names[0]); i++)
		if (strcmp(name, status_names[i]) == 0)
			return (int)i;
	return -1;
}

void svt_db_close(struct svt_db *db)
{
	if (db == NULL)
		return;
	if (db->close_writer != NULL)
		db->close_writer(db);
	sqlite3_close_v2(db->h);
	free(db->path);
	free(db);
}
