/*
 * test-db-open.c — opening results databases: a version-1 database is
 * migrated (read-only: in memory, the file untouched; for writing: in
 * place, by one of several processes opening it at once) to exactly the
 * schema a new database gets; files that are not ours are refused with a
 * message naming them (newer schema, foreign SQLite, text, empty,
 * directory, missing) and left unchanged; and damaged copies of a real
 * database (cut at many lengths, bytes flipped) give errors, never a
 * crash, whatever is asked of them.
 */
#define _POSIX_C_SOURCE 200809L
#include <criterion/criterion.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "test-db.h"

/* The version-1 layout sim/results/db.c's migrations start from. */
static const char v1_schema[] =
	"PRAGMA application_id = 1398166610; PRAGMA user_version = 1;"
	"CREATE TABLE runs (id INTEGER PRIMARY KEY, trace TEXT NOT NULL, trace_checksum TEXT,"
	" guest TEXT, policy TEXT NOT NULL, audit TEXT, tool_version TEXT, trace_events INTEGER,"
	" pid INTEGER, host TEXT, started TEXT NOT NULL, finished TEXT, seconds REAL,"
	" status TEXT NOT NULL DEFAULT 'running' CHECK (status IN ('running', 'clean',"
	" 'violations', 'bad-input', 'incomplete')), events INTEGER, violations INTEGER,"
	" divergence_seq INTEGER, message TEXT);"
	"CREATE TABLE violations (run INTEGER NOT NULL REFERENCES runs (id) ON DELETE CASCADE,"
	" seq INTEGER NOT NULL, invariant TEXT NOT NULL, va INTEGER, gfn INTEGER, level INTEGER,"
	" guest_entry INTEGER, shadow_entry INTEGER, what TEXT, from_seq INTEGER, to_seq INTEGER);"
	"CREATE INDEX violations_run_seq ON violations (run, seq);"
	"CREATE TABLE counters (run INTEGER NOT NULL REFERENCES runs (id) ON DELETE CASCADE,"
	" name TEXT NOT NULL, value INTEGER NOT NULL, PRIMARY KEY (run, name)) WITHOUT ROWID;"
	"CREATE TABLE timeline (run INTEGER NOT NULL REFERENCES runs (id) ON DELETE CASCADE,"
	" first_seq INTEGER NOT NULL, last_seq INTEGER NOT NULL, events INTEGER NOT NULL,"
	" faults INTEGER NOT NULL, fixed INTEGER NOT NULL, ad_faults INTEGER NOT NULL,"
	" injected INTEGER NOT NULL, emulated INTEGER NOT NULL, mmio INTEGER NOT NULL,"
	" retries INTEGER NOT NULL, oos INTEGER NOT NULL, resyncs INTEGER NOT NULL,"
	" unshadows INTEGER NOT NULL, evictions INTEGER NOT NULL, cr_writes INTEGER NOT NULL,"
	" invlpgs INTEGER NOT NULL, flushes INTEGER NOT NULL, shadow_pages INTEGER NOT NULL);"
	"CREATE INDEX timeline_run_seq ON timeline (run, first_seq);"
	"CREATE VIEW run_summary AS SELECT id AS run, trace, policy, status, events FROM runs;"
	"INSERT INTO runs (trace, trace_checksum, policy, audit, started, status, events, "
	"violations, seconds) VALUES ('old.svt', 'crc32c:1', 'oos=2', 'faults', "
	"'2024-01-01T00:00:00.000Z', 'violations', 1000, 1, 2.0);"
	"INSERT INTO timeline VALUES (1, 0, 999, 1000, 100, 50, 10, 10, 20, 0, 10, 5, 5, 0, 0, 3,"
	" 2, 1, 40);"
	"INSERT INTO violations VALUES (1, 500, 'INV-WP', -140737488355328, 7, 1, 7, 5, 'old',"
	" 490, 500);";

static char *make_v1(const char *dir)
{
	char *path = tdb_path(dir, "v1.db");

	tdb_exec(path, v1_schema);
	cr_assert_eq(tdb_int(path, "PRAGMA user_version"), 1);
	return path;
}

/* Columns (name, type, not null, default, key) of every table, and the
 * names of every table, index and view, differ between a and b. */
static int64_t schema_diff(const char *a, const char *b)
{
	char sql[2048];
	sqlite3 *h;
	sqlite3_stmt *st;
	int64_t n;

	cr_assert_eq(sqlite3_open_v2(a, &h, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
	snprintf(sql, sizeof(sql), "ATTACH '%s' AS f", b);
	cr_assert_eq(sqlite3_exec(h, sql, NULL, NULL, NULL), SQLITE_OK, "%s", sqlite3_errmsg(h));
	cr_assert_eq(sqlite3_prepare_v2(h,
		"WITH a AS (SELECT m.name, p.name, p.type, p.\"notnull\", p.dflt_value, p.pk"
		"  FROM main.sqlite_master m, pragma_table_info(m.name, 'main') p WHERE m.type "
		"= 'table'),"
		" b AS (SELECT m.name, p.name, p.type, p.\"notnull\", p.dflt_value, p.pk"
		"  FROM f.sqlite_master m, pragma_table_info(m.name, 'f') p WHERE m.type "
		"= 'table'),"
		" oa AS (SELECT type, name FROM main.sqlite_master),"
		" ob AS (SELECT type, name FROM f.sqlite_master)"
		" SELECT (SELECT count(*) FROM (SELECT * FROM a EXCEPT SELECT * FROM b))"
		" + (SELECT count(*) FROM (SELECT * FROM b EXCEPT SELECT * FROM a))"
		" + (SELECT count(*) FROM (SELECT * FROM oa EXCEPT SELECT * FROM ob))"
		" + (SELECT count(*) FROM (SELECT * FROM ob EXCEPT SELECT * FROM oa))",
		-1, &st, NULL), SQLITE_OK, "%s", sqlite3_errmsg(h));
	cr_assert_eq(sqlite3_step(st), SQLITE_ROW);
	n = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	sqlite3_close(h);
	return n;
}

Test(db_open, v1_read_only_in_memory)
{
	char *dir = tdb_dir(), *path = make_v1(dir);
	struct svt_db *db = tdb_open(path, false);
	int rc;
	char *out = tdb_report(db, "summary", NULL, 0, SVT_DB_CSV, &rc);

	cr_assert_eq(rc, 0, "%s", svt_db_error(db));
	cr_assert(strstr(out, "1,old.svt,,oos=2,faults,violations,1000,1,,2.0,500\r\n") != NULL,
		  "%s", out);
	free(out);
	out = tdb_report(db, "violations", NULL, 0, SVT_DB_CSV, &rc);
	cr_assert_eq(rc, 0, "%s", svt_db_error(db));
	cr_assert(strstr(out, "1,500,INV-WP,0xffff800000000000,0x7,1,") != NULL, "%s", out);
	free(out);
	out = tdb_report(db, NULL, "DELETE FROM runs", 0, SVT_DB_CSV, &rc);
	cr_assert_eq(rc, -1);
	free(out);
	cr_assert_eq(svt_db_run_begin(db, &(struct svt_db_run){ .trace = "t", .policy = "p" }), -1);
	svt_db_close(db);
	cr_assert_eq(tdb_int(path, "PRAGMA user_version"), 1, "the file is left alone");
	cr_assert_eq(tdb_int(path, "SELECT count(*) FROM sqlite_master WHERE type = 'view'"), 1);
	tdb_rmdir(dir);
	free(path);
}

Test(db_open, v1_migrated_in_place)
{
	char *dir = tdb_dir(), *path = make_v1(dir), *fresh = tdb_path(dir, "fresh.db");
	pid_t pids[3];
	int status, rc;

	svt_db_close(tdb_open(fresh, true));
	cr_assert_gt(schema_diff(path, fresh), 0);
	/* Three writers open it at once: one migrates, the others find it done. */
	for (int i = 0; i < 3; i++) {
		cr_assert_geq(pids[i] = fork(), 0);
		if (pids[i] == 0) {
			tdb_child = true;
			struct svt_db *db = tdb_open(path, true);
			int64_t run = tdb_run(db, "new.svt", "crc32c:1", "oos=0");
			tdb_fill(db, run, 1, 0, 0, 0);
			tdb_end(db, run, SVT_RUN_CLEAN, 0);
			svt_db_close(db);
			_exit(0);
		}
	}
	for (int i = 0; i < 3; i++) {
		cr_assert_eq(waitpid(pids[i], &status, 0), pids[i]);
		cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	}
	cr_assert_eq(tdb_int(path, "PRAGMA user_version"), SVT_DB_VERSION);
	cr_assert_eq(schema_diff(path, fresh), 0, "a migrated database has the current schema");
	cr_assert_eq(tdb_int(path, "SELECT count(*) FROM runs"), 4);
	cr_assert_eq(tdb_int(path, "SELECT count(*) FROM runs WHERE workload IS NULL"
			     " AND recorded_policy = 0"), 1,
			     "the old run, with the new columns' defaults");
	cr_assert_eq(tdb_int(path, "SELECT sum(prefetched) FROM timeline"), 0);
	cr_assert_eq(tdb_int(path, "SELECT pool_used FROM timeline WHERE run = 1"), 40,
		     "shadow_pages is pool_used now");
	cr_assert_eq(tdb_int(path,
			     "SELECT count(*) FROM timeline WHERE run = 1 AND invpcids IS NULL"
			     " AND pool_free IS NULL AND env_errors IS NULL"), 1,
		     "counters the old interval did not hold are NULL");
	cr_assert_eq(tdb_int(path,
			     "SELECT count(*) FROM timeline WHERE run > 1 AND invpcids IS NULL"),
		     0, "new intervals hold every counter");

	struct svt_db *db = tdb_open(path, false);
	char *out = tdb_report(db, "compare", NULL, 0, SVT_DB_CSV, &rc);
	cr_assert_eq(rc, 0, "%s", svt_db_error(db));
	cr_assert(strstr(out, "crc32c:1,old.svt,1,oos=2,violations,106,20,40,0,5,1,approximate,"
			  "trace crc32c:1\r\n") != NULL, "%s", out);
	free(out);
	svt_db_close(db);
	tdb_rmdir(dir);
	free(path);
	free(fresh);
}

/* Opening path fails in both modes with status st and exactly the message
 * "PATH: why" (why NULL: any message naming the file). */
static void refused(const char *path, int st, const char *why)
{
	for (int create = 0; create < 2; create++) {
		char err[600], want[600];
		int got = 99;
		struct svt_db *db = svt_db_open(path, create, &got, err, sizeof(err));

		cr_assert_null(db, "%s opened (create %d)", path, create);
		cr_assert_eq(got, st, "%s (create %d): status %d: %s", path, create, got, err);
		snprintf(want, sizeof(want), "%s: %s", path, why ? why : "");
		if (why != NULL)
			cr_assert_str_eq(err, want);
		else
			cr_assert(strncmp(err, want, strlen(want)) == 0, "%s", err);
	}
}

Test(db_open, not_ours)
{
	char *dir = tdb_dir(), *p = tdb_path(dir, "x.db");
	struct svt_db *db;

	svt_db_close(tdb_open(p, true));
	tdb_exec(p, "PRAGMA user_version = 5");
	refused(p, SVT_DB_EINPUT, "schema version 5 is newer than this shadowvt (4)");
	unlink(p);

	tdb_exec(p, "CREATE TABLE foo (x); INSERT INTO foo VALUES (1)");
	refused(p, SVT_DB_EINPUT, "not a shadowvt results database");
	cr_assert_eq(tdb_int(p, "SELECT count(*) FROM sqlite_master"), 1, "left unchanged");
	cr_assert_eq(tdb_int(p,
			     "SELECT count(*) FROM pragma_journal_mode WHERE journal_mode = "
			     "'delete'"), 1);
	unlink(p);
	tdb_exec(p, "PRAGMA user_version = 2; CREATE TABLE runs (id)");
	refused(p, SVT_DB_EINPUT, "not a shadowvt results database");
	unlink(p);
	tdb_exec(p,
		 "PRAGMA application_id = 1398166610; PRAGMA user_version = 2; CREATE TABLE "
		 "runs (id)");
	refused(p, SVT_DB_EINPUT, "not a shadowvt results database (damaged: tables missing)");
	unlink(p);

	tdb_write_file(p, "id,trace\n1,a.svt\n", 17);
	refused(p, SVT_DB_EINPUT, "not a shadowvt results database (file is not a database)");
	char big[8192];
	memset(big, 'x', sizeof(big));
	tdb_write_file(p, big, sizeof(big));
	refused(p, SVT_DB_EINPUT, "not a shadowvt results database (file is not a database)");
	unlink(p);

	refused(dir, SVT_DB_EINPUT, "is a directory, not a results database");

	/* Missing: read-only fails, writing creates it. */
	int st;
	char err[600];
	cr_assert_null(svt_db_open(p, false, &st, err, sizeof(err)));
	cr_assert_eq(st, SVT_DB_EIO);
	cr_assert(strstr(err, "No such file or directory") &&
		  strncmp(err, p, strlen(p)) == 0, "%s", err);
	svt_db_close(tdb_open(p, true));
	cr_assert_eq(tdb_int(p, "PRAGMA user_version"), SVT_DB_VERSION);
	unlink(p);

	/* Empty: nothing to read, but a writer makes it a database. */
	tdb_write_file(p, "", 0);
	cr_assert_null(svt_db_open(p, false, &st, err, sizeof(err)));
	cr_assert_eq(st, SVT_DB_EINPUT);
	cr_assert(strstr(err, "not a shadowvt results database (it is empty)"), "%s", err);
	db = tdb_open(p, true);
	tdb_end(db, tdb_run(db, "a", NULL, "p"), SVT_RUN_CLEAN, 0);
	svt_db_close(db);
	cr_assert_eq(tdb_int(p, "SELECT count(*) FROM runs"), 1);

	/* Names SQLite would treat specially are plain files. */
	cr_assert_eq(chdir(dir), 0);
	svt_db_close(tdb_open(":memory:", true));
	cr_assert_eq(access(":memory:", F_OK), 0);
	free(p);
	tdb_rmdir(dir);
}

/* Everything one can ask of a (possibly damaged) database, printed in
 * format fmt: never a crash; an error names the file.  1 if anything
 * failed. */
static int exercise(const char *path, enum svt_db_format fmt)
{
	char err[600];
	int st, rc, errors = 0;
	struct svt_db *db = svt_db_open(path, false, &st, err, sizeof(err));

	if (db == NULL) {
		cr_assert(st == SVT_DB_EINPUT || st == SVT_DB_EIO);
		cr_assert(strncmp(err, path, strlen(path)) == 0, "%s", err);
		return 1;
	}
	for (int i = 0; svt_db_reports[i] != NULL; i++) {
		char *out = tdb_report(db, svt_db_reports[i], NULL, i == 2 ? 1 : 0, fmt, &rc);
		cr_assert(rc == 0 || strncmp(svt_db_error(db), path, strlen(path)) == 0);
		errors += rc != 0;
		free(out);
	}
	free(tdb_report(db, NULL, "SELECT * FROM timeline, counters LIMIT 500", 0, fmt, &rc));
	free(tdb_report(db, NULL, "PRAGMA integrity_check", 0, fmt, &rc));
	svt_db_close(db);
	return errors > 0;
}

/* A copy of bytes, damaged, through exercise() (and a writer, now and then). */
static int try_copy(const char *dir, const unsigned char *bytes, size_t len, unsigned i)
{
	char *p = tdb_path(dir, "bad.db"), *wal = tdb_path(dir, "bad.db-wal"),
	     *shm = tdb_path(dir, "bad.db-shm");
	int st, failed;

	unlink(wal);
	unlink(shm);
	tdb_write_file(p, bytes, len);
	failed = exercise(p, (enum svt_db_format)(i % 3));
	if (i % 4 == 0) {
		char err[600];
		struct svt_db *db = svt_db_open(p, true, &st, err, sizeof(err));
		if (db != NULL) {
			int64_t run = svt_db_run_begin(db,
						       &(struct svt_db_run){ .trace = "t",
									     .policy = "p" });
			struct svt_db_interval iv = { .events = 1 };
			for (int k = 0; run > 0 && k < 300; k++)
				svt_db_interval(db, run, &iv);
			svt_db_flush(db);
			svt_db_close(db);
		}
	}
	free(p);
	free(wal);
	free(shm);
	return failed;
}

Test(db_open, damaged_copies, .timeout = 300)
{
	char *dir = tdb_dir(), *path = tdb_path(dir, "good.db");
	struct svt_db *db = tdb_open(path, true);
	unsigned char *bytes, *copy;
	size_t len;
	unsigned failed = 0, tries = 0;
	uint64_t rng = 0x9e3779b97f4a7c15ull;

	for (int r = 0; r < 3; r++) {
		int64_t run = tdb_run(db, "a.svt", "crc32c:1", r ? "oos=0" : "oos=2");
		tdb_fill(db, run, 200, 60, 20, (unsigned)r);
		tdb_end(db, run, SVT_RUN_CLEAN, 200);
	}
	svt_db_close(db);
	for (int fmt = SVT_DB_TABLE; fmt <= SVT_DB_JSON; fmt++)
		cr_assert_eq(exercise(path, (enum svt_db_format)fmt), 0, "the good copy reads");
	bytes = tdb_read_file(path, &len);
	cr_assert_gt(len, 10 * 4096u, "several pages");
	copy = malloc(len);

	/* Cut short: at tiny lengths, at and around page boundaries, and through the file. */
	for (size_t cut = 0; cut < len; cut += cut < 200 ? 7 : cut < 9000 ? 511 : 1021) {
		failed += try_copy(dir, bytes, cut, tries++);
	}
	cr_assert_geq(failed, 10u, "most cuts must be noticed (%u of %u)", failed, tries);
	/* Bytes flipped: one to eight at random places, or in the first page. */
	for (int i = 0; i < 400; i++) {
		memcpy(copy, bytes, len);
		for (int k = 0, n = 1 + i % 8; k < n; k++) {
			rng = rng * 6364136223846793005ull + 1442695040888963407ull;
			size_t at = (size_t)(rng >> 33) % (i % 3 ? len : 4096);
			copy[at] ^= (unsigned char)(1u << ((rng >> 20) & 7)) |
				    (unsigned char)(rng >> 56);
		}
		try_copy(dir, copy, len, (unsigned)i);
	}
	free(bytes);
	free(copy);
	free(path);
	tdb_rmdir(dir);
}
