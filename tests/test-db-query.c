/*
 * test-db-query.c — reading the results database (svt_db_report): the
 * three output formats byte for byte (alignment, RFC 4180 quoting, JSON
 * escaping, untrusted text: control characters, invalid UTF-8, blobs,
 * infinities), every report's numbers against what was written, --run,
 * the 'incomplete?' status of a run whose process is gone, and --sql:
 * read-only whatever it says, one statement, :run bound, and functions
 * only for direct use.
 */
#define _POSIX_C_SOURCE 200809L
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "test-db.h"

/* A database with runs 1 and 2 of one trace (by checksum) under two
 * policies, and run 3 of another; 100 intervals, 40 violations each. */
static char *three_runs(char **dirp)
{
	char *dir = tdb_dir(), *path = tdb_path(dir, "r.db");
	struct svt_db *db = tdb_open(path, true);
	static const char *const sums[] = { "crc32c:aa", "crc32c:aa", "crc32c:bb" };
	static const char *const pols[] = { "oos=2,prefetch=8", "oos=0,prefetch=0",
					    "oos=2,prefetch=8" };

	for (unsigned r = 0; r < 3; r++) {
		int64_t run = tdb_run(db, r == 2 ? "b.svt" : "a.svt", sums[r], pols[r]);
		tdb_fill(db, run, 100, 40, 3, r);
		tdb_end(db, run, r == 1 ? SVT_RUN_CLEAN : SVT_RUN_VIOLATIONS, r == 1 ? 0 : 40);
	}
	svt_db_close(db);
	*dirp = dir;
	return path;
}

static char *sql_out(struct svt_db *db, const char *sql, int64_t run, enum svt_db_format fmt)
{
	int rc;
	char *out = tdb_report(db, NULL, sql, run, fmt, &rc);

	cr_assert_eq(rc, 0, "%s: %s", sql, svt_db_error(db));
	return out;
}

static void sql_is(struct svt_db *db, const char *sql, enum svt_db_format fmt, const char *want)
{
	char *out = sql_out(db, sql, 0, fmt);

	cr_assert_str_eq(out, want, "%s:\n%s", sql, out);
	free(out);
}

Test(query, formats)
{
	char *dir, *path = three_runs(&dir);
	struct svt_db *db = tdb_open(path, false);
	const char *odd = "SELECT 1 AS n, -2.5 AS r, 'a,b' AS c, 'say \"hi\"' AS q, NULL AS z,"
		" x'00ff' AS b, 'l1' || char(10) || 'l2' AS nl, char(27) || '[31m' AS esc,"
		" CAST(x'ff41' AS TEXT) AS bad, 'é' AS u, 1e999 AS inf";

	sql_is(db, odd, SVT_DB_JSON,
	       "[\n{\"n\": 1, \"r\": -2.5, \"c\": \"a,b\", \"q\": \"say \\\"hi\\\"\", \"z\": null,"
	       " \"b\": \"X'00ff'\", \"nl\": \"l1\\nl2\", \"esc\": \"\\u001b[31m\", \"bad\": "
	       "\"\\ufffdA\", \"u\": \"é\", \"inf\": null}\n]\n");
	sql_is(db, odd, SVT_DB_CSV,
	       "n,r,c,q,z,b,nl,esc,bad,u,inf\r\n"
	       "1,-2.5,\"a,b\",\"say \"\"hi\"\"\",,X'00ff',\"l1\nl2\",\x1b[31m,\xff"
	       "A,é,Inf\r\n");
	sql_is(db, odd, SVT_DB_TABLE,
	       "n     r  c    q         z  b        nl      esc       bad    u  inf\n"
	       "1  -2.5  a,b  say \"hi\"  -  X'00ff'  l1\\nl2  \\x1b[31m  \\xffA  é  Inf\n");
	/* Numbers right-aligned, header too; text left; no trailing blanks;
	 * width counts characters, not bytes. */
	sql_is(db, "SELECT 1 AS n, 'é' AS s UNION ALL SELECT 100, 'bcd'", SVT_DB_TABLE,
	       "  n  s\n  1  é\n100  bcd\n");
	sql_is(db, "SELECT 'é' AS s, 1 AS n UNION ALL SELECT 'ab', NULL", SVT_DB_TABLE,
	       "s   n\né   1\nab  -\n");
	/* No rows. */
	sql_is(db, "SELECT 1 AS n WHERE 0", SVT_DB_TABLE, "n\n");
	sql_is(db, "SELECT 1 AS n WHERE 0", SVT_DB_CSV, "n\r\n");
	sql_is(db, "SELECT 1 AS n WHERE 0", SVT_DB_JSON, "[]\n");
	/* Values >= 2^63 read back negative in raw SQL, and print as hex. */
	sql_is(db, "SELECT va, printf('0x%x', va) AS hex FROM violations WHERE run = 1 AND seq = 5",
	       SVT_DB_CSV, "va,hex\r\n-140737488355328,0xffff800000000000\r\n");
	svt_db_close(db);
	free(path);
	tdb_rmdir(dir);
}

Test(query, reports)
{
	char *dir, *path = three_runs(&dir);
	struct svt_db *db = tdb_open(path, false);
	char want[512], *out;
	int rc;

	out = tdb_report(db, "summary", NULL, 0, SVT_DB_CSV, &rc);
	cr_assert_eq(rc, 0, "%s", svt_db_error(db));
	cr_assert_str_eq(out,
		"id,trace,workload,policy,audit,status,events,violations,divergence,seconds,"
		"events_per_s\r\n"
		"1,a.svt,mix,\"oos=2,prefetch=8\",faults,violations,123456,40,,1.5,82304\r\n"
		"2,a.svt,mix,\"oos=0,prefetch=0\",faults,clean,123456,0,,1.5,82304\r\n"
		"3,b.svt,mix,\"oos=2,prefetch=8\",faults,violations,123456,40,,1.5,82304\r\n");
	free(out);
	/* The default report is the summary, and --run picks one run. */
	out = tdb_report(db, NULL, NULL, 2, SVT_DB_JSON, &rc);
	cr_assert_eq(rc, 0);
	cr_assert_str_eq(out,
			 "[\n{\"id\": 2, \"trace\": \"a.svt\", \"workload\": \"mix\", \"policy\":"
			 " \"oos=0,prefetch=0\", \"audit\": \"faults\", \"status\": \"clean\", "
			 "\"events\":"
			 " 123456, \"violations\": 0, \"divergence\": null, \"seconds\": 1.5,"
			 " \"events_per_s\": 82304}\n]\n");
	free(out);

	static const char viol[] = "run,seq,invariant,va,gfn,level,guest,shadow,what,reproduce\r\n"
		"3,5,INV-PERM,0xffff800000000000,0x0,1,0x8000000000000007,0x8000000000000005,"
		"the shadow entry allows a write the guest's does not,0..5\r\n"
		"3,15,INV-PERM,0xffff800000001000,0x1,2,0x8000000000001007,";
	out = tdb_report(db, "violations", NULL, 3, SVT_DB_CSV, &rc);
	cr_assert_eq(rc, 0);
	cr_assert(strncmp(out, viol, strlen(viol)) == 0, "%s", out);
	cr_assert_eq(strstr(out, "\r\n1,") || strstr(out, "\r\n2,"), NULL, "only run 3");
	free(out);

	/*
	 * Run 2 (seed 1), 100 intervals: faults 10 + i % 7 + 1 sum to 1395;
	 * cr_writes 200, invlpgs 100, flushes 50: exits 1745 of 6400 events
	 * (27.3%); emulated 3 each: 300, 21.5% of faults; retries 1 + i % 7: 395.
	 */
	out = tdb_report(db, "faults", NULL, 2, SVT_DB_CSV, &rc);
	cr_assert_eq(rc, 0, "%s", svt_db_error(db));
	cr_assert_str_eq(out,
		"run,policy,events,exits,exits_pct,faults,fixed,ad,injected,emulated,mmio,retries,"
		"cr_writes,invlpgs,flushes,faults_pct,fixed_pct,ad_pct,injected_pct,emulated_pct,"
		"mmio_pct,retries_pct\r\n"
		"2,\"oos=0,prefetch=0\",6400,1745,27.3,1395,300,200,100,300,100,395,200,100,50,"
		"79.9,21.5,14.3,7.2,21.5,7.2,28.3\r\n");
	free(out);

	/* Memory: one row per interval, the peak so far, and a sparkline per run. */
	out = tdb_report(db, "memory", NULL, 0, SVT_DB_TABLE, &rc);
	cr_assert_eq(rc, 0);
	cr_assert(strstr(out,
			 "run  first_seq  last_seq  events  shadow_pages  shadow_kib  peak_so_far"
			 "  evictions  unshadows\n") == out, "%s", out);
	for (int r = 1; r <= 3; r++) {
		snprintf(want, sizeof(want), "\nrun %d shadow pages: ", r);
		cr_assert(strstr(out, want) != NULL, "%s", want);
	}
	cr_assert(strstr(out, " (peak 59)\n") != NULL);
	free(out);
	out = tdb_report(db, "memory", NULL, 1, SVT_DB_CSV, &rc);
	cr_assert(strstr(out, "\r\n1,64,127,64,17,68,17,0,0\r\n") != NULL, "%s", out);
	size_t lines = 0;
	for (char *p = out; (p = strchr(p, '\n')) != NULL; p++)
		lines++;
	cr_assert_eq(lines, 101u);
	free(out);

	/* Compare: runs 1 and 2 share a checksum; run 3 has nobody to compare with. */
	out = tdb_report(db, "compare", NULL, 0, SVT_DB_CSV, &rc);
	cr_assert_eq(rc, 0);
	cr_assert_str_eq(out,
		"checksum,trace,run,policy,status,exits,emulated,peak_shadow_pages,evictions,"
		"resyncs,violations,basis,group\r\n"
		"crc32c:aa,a.svt,1,\"oos=2,prefetch=8\",violations,1645,200,59,0,100,40,"
		"approximate,trace crc32c:aa\r\n"
		"crc32c:aa,a.svt,2,\"oos=0,prefetch=0\",clean,1745,300,59,0,100,0,approximate,"
		"trace crc32c:aa\r\n");
	free(out);
	out = tdb_report(db, "compare", NULL, 3, SVT_DB_JSON, &rc);
	cr_assert_eq(rc, 0);
	cr_assert_str_eq(out, "[]\n");
	free(out);

	out = tdb_report(db, "faults", NULL, 99, SVT_DB_CSV, &rc);
	cr_assert_eq(rc, -1);
	snprintf(want, sizeof(want), "%s: there is no run 99", path);
	cr_assert_str_eq(svt_db_error(db), want);
	free(out);
	out = tdb_report(db, "bogus", NULL, 0, SVT_DB_CSV, &rc);
	cr_assert_eq(rc, -1);
	cr_assert(strstr(svt_db_error(db), "there is no report 'bogus'") != NULL);
	free(out);
	svt_db_close(db);
	free(path);
	tdb_rmdir(dir);
}

/* A run left 'running' by a process that is gone shows as 'incomplete?';
 * one whose process lives, or on another host, as 'running'. */
Test(query, incomplete)
{
	char *dir, *path = three_runs(&dir), host[256], sql[1024];
	pid_t dead = fork();
	int status, rc;

	cr_assert_geq(dead, 0);
	if (dead == 0)
		_exit(0);
	cr_assert_eq(waitpid(dead, &status, 0), dead);
	cr_assert_eq(gethostname(host, sizeof(host)), 0);
	host[sizeof(host) - 1] = '\0';
	snprintf(sql, sizeof(sql),
		 "UPDATE runs SET status = 'running', pid = %d, host = '%s' WHERE id = 1;UPDATE "
		 "runs SET status = 'running', pid = %d, host = '%s' WHERE id = 2;UPDATE runs SET "
		 "status = 'running', pid = %d, host = 'elsewhere' WHERE id = 3;", (int)dead, host,
		 (int)getpid(), host, (int)dead);
	tdb_exec(path, sql);

	struct svt_db *db = tdb_open(path, false);
	char *out = sql_out(db, "SELECT status FROM run_summary", 0, SVT_DB_CSV);
	cr_assert_str_eq(out, "status\r\nrunning\r\nrunning\r\nrunning\r\n", "SQL sees 'running'");
	free(out);
	out = tdb_report(db, "summary", NULL, 0, SVT_DB_CSV, &rc);
	cr_assert_eq(rc, 0);
	cr_assert(strstr(out, "\r\n1,a.svt,mix,\"oos=2,prefetch=8\",faults,incomplete?,") != NULL,
		  "%s", out);
	cr_assert(strstr(out, "\r\n2,a.svt,mix,\"oos=0,prefetch=0\",faults,running,") != NULL,
		  "%s", out);
	cr_assert(strstr(out, "\r\n3,b.svt,mix,\"oos=2,prefetch=8\",faults,running,") != NULL,
		  "%s", out);
	free(out);
	/* pid 0 and negative pids are never asked about (they name process groups). */
	out = sql_out(db,
		      "SELECT svt_pid_gone(0, ?1), svt_pid_gone(-1, ?1), "
		      "svt_pid_gone(NULL, 'x')", 0, SVT_DB_CSV);
	free(out);
	svt_db_close(db);
	free(path);
	tdb_rmdir(dir);
}

static void refused(struct svt_db *db, const char *sql, const char *why)
{
	int rc;
	char *out = tdb_report(db, NULL, sql, 0, SVT_DB_TABLE, &rc);

	cr_assert_eq(rc, -1, "%s was run", sql);
	cr_assert_str_eq(out, "", "%s printed something", sql);
	cr_assert(strstr(svt_db_error(db), why) != NULL, "%s: %s", sql, svt_db_error(db));
	free(out);
}

Test(query, sql_is_read_only)
{
	char *dir, *path = three_runs(&dir), *other;
	char prefix[600];

	other = tdb_path(dir, "other.db");
	snprintf(prefix, sizeof(prefix), "%s: --sql: ", path);
	for (int create = 0; create < 2; create++) {
		struct svt_db *db = tdb_open(path, create);
		refused(db, "DELETE FROM runs", "would change the database");
		refused(db, "INSERT INTO counters VALUES (1, 'x', 1)", "would change the database");
		refused(db, "DROP VIEW run_summary", "would change the database");
		refused(db, "CREATE TABLE t (x)", "would change the database");
		refused(db, "CREATE TEMP TABLE t (x)", "would change the database");
		refused(db, "PRAGMA user_version = 9", "would change the database");
		refused(db, "UPDATE runs SET status = 'clean' RETURNING id",
			"would change the database");
		refused(db, "SELECT 1; DELETE FROM runs", "give one SQL statement");
		refused(db, "SELECT 1; SELECT 2", "give one SQL statement");
		refused(db, "SELECT 1; SELEC 2", "give one SQL statement");
		refused(db, "", "no SQL statement");
		refused(db, "-- nothing", "no SQL statement");
		refused(db, "SELEC 1", "syntax error");
		refused(db, "SELECT nope FROM runs", "no such column: nope");
		cr_assert(strncmp(svt_db_error(db), prefix, strlen(prefix)) == 0, "%s",
			  svt_db_error(db));
		snprintf(prefix + 300, 300, "ATTACH '%s' AS o", other);
		refused(db, prefix + 300, "too many attached databases");
		prefix[300] = '\0';
		sql_is(db, "SELECT count(*) AS n FROM runs; -- done", SVT_DB_CSV, "n\r\n3\r\n");
		sql_is(db, "PRAGMA integrity_check;", SVT_DB_CSV, "integrity_check\r\nok\r\n");
		char *out = sql_out(db, "SELECT :run AS r, :run + 1 AS s", 7, SVT_DB_CSV);
		cr_assert_str_eq(out, "r,s\r\n7,8\r\n");
		free(out);
		svt_db_close(db);
	}
	cr_assert_eq(access(other, F_OK), -1, "ATTACH created nothing");
	cr_assert_eq(tdb_int(path, "SELECT count(*) FROM counters"), 9);
	cr_assert_eq(tdb_int(path, "PRAGMA user_version"), SVT_DB_VERSION);

	/* A view in the file cannot call our functions. */
	tdb_exec(path, "CREATE VIEW sneaky AS SELECT svt_pid_gone(1, 'x') AS g");
	struct svt_db *db = tdb_open(path, false);
	refused(db, "SELECT * FROM sneaky", "unsafe use of svt_pid_gone");
	svt_db_close(db);
	free(other);
	free(path);
	tdb_rmdir(dir);
}
