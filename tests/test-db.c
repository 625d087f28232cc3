/*
 * test-db.c — the results database (sim/results/db.h): writing a run and reading
 * it back with plain SQLite, batching (rows become visible to other
 * connections per batch, never per row), misuse of the API, a replay
 * killed with SIGKILL halfway (the run stays 'running', committed batches
 * stay, the rest is gone, the file is intact), and several processes and
 * threads writing one file at once.  test-db-open.c has migration and
 * files that are not ours, test-db-query.c the reports; the helpers of
 * test-db.h are here.
 */
#define _POSIX_C_SOURCE 200809L
#include <criterion/criterion.h>
#include <dirent.h>
#include <pthread.h>
#include <signal.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "test-db.h"

/* ---- helpers (test-db.h) ------------------------------------------------ */

bool tdb_child;

char *tdb_dir(void)
{
	const char *tmp = getenv("TMPDIR");
	char *d = malloc(4096);

	cr_assert_not_null(d);
	snprintf(d, 4096, "%s/svt-db-XXXXXX", tmp && *tmp ? tmp : "/tmp");
	cr_assert_not_null(mkdtemp(d), "mkdtemp %s", d);
	return d;
}

void tdb_rmdir(char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *e;

	while (d != NULL && (e = readdir(d)) != NULL) {
		char *p = tdb_path(dir, e->d_name);
		struct stat sb;
		if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0 &&
		    lstat(p, &sb) == 0)
			S_ISDIR(sb.st_mode) ? rmdir(p) : unlink(p);
		free(p);
	}
	if (d != NULL)
		closedir(d);
	rmdir(dir);
	free(dir);
}

char *tdb_path(const char *dir, const char *name)
{
	size_t n = strlen(dir) + strlen(name) + 2;
	char *p = malloc(n);

	cr_assert_not_null(p);
	snprintf(p, n, "%s/%s", dir, name);
	return p;
}

struct svt_db *tdb_open(const char *path, bool create)
{
	char err[600];
	int st = 99;
	struct svt_db *db = svt_db_open(path, create, &st, err, sizeof(err));

	tdb_check(db != NULL && st == SVT_DB_OK, "open %s: %s", path, err);
	return db;
}

int64_t tdb_run(struct svt_db *db, const char *trace, const char *checksum, const char *policy)
{
	const struct svt_db_run r = {
		.trace = trace, .trace_checksum = checksum, .guest = "test guest",
		.workload = "mix", .policy = policy, .audit = "faults",
		.tool_version = "test", .trace_events = 1000000,
	};
	int64_t id = svt_db_run_begin(db, &r);

	tdb_check(id > 0, "%s", svt_db_error(db));
	return id;
}

/*
 * Interval i: events 64 at seq 64 i; faults 10 + i % 7 of which fixed 3,
 * ad 2, injected 1, emulated 2 (+ seed), mmio 1, retries 1; cr_writes 2,
 * invlpgs 1, flushes i % 2; pool_used (shadow pages) 10 + (i * 7 + seed) % 50.
 * Violation j: seq 10 j + 5, INV-PERM, va 0xffff800000000000 + 4096 j
 * (above 2^63), gfn j, level 1 + j % 4, entries with bit 63 set.
 */
void tdb_fill(struct svt_db *db, int64_t run, unsigned intervals, unsigned violations,
	      unsigned counters, unsigned seed)
{
	for (unsigned i = 0; i < intervals; i++) {
		const struct svt_db_interval iv = {
			.first_seq = 64ull * i, .last_seq = 64ull * i + 63, .events = 64,
			.ctr = {
				.faults = 10 + i % 7 + seed, .fixed = 3, .ad_faults = 2,
				.injected = 1, .emulated = 2 + seed, .mmio = 1,
				.retries = 1 + i % 7, .oos = 1, .resyncs = 1, .cr_writes = 2,
				.invlpgs = 1, .flushes = i % 2,
				.pool_used = 10 + (i * 7 + seed) % 50,
			},
		};
		tdb_check(svt_db_interval(db, run, &iv) == 0, "%s", svt_db_error(db));
	}
	for (unsigned j = 0; j < violations; j++) {
		const struct svt_db_violation v = {
			.seq = 10ull * j + 5, .invariant = "INV-PERM",
			.va = 0xffff800000000000ull + 4096ull * j, .gfn = j, .level = 1 + j % 4,
			.guest_entry = 0x8000000000000007ull | (uint64_t)j << 12,
			.shadow_entry = 0x8000000000000005ull | (uint64_t)j << 12,
			.what = "the shadow entry allows a write the guest's does not",
			.from_seq = 10ull * j, .to_seq = 10ull * j + 5,
		};
		tdb_check(svt_db_violation(db, run, &v) == 0, "%s", svt_db_error(db));
	}
	for (unsigned c = 0; c < counters; c++) {
		char name[32];
		snprintf(name, sizeof(name), "counter%03u", c);
		tdb_check(svt_db_counter(db, run, name, 1000ull * c + seed) == 0, "%s",
			  svt_db_error(db));
	}
}

void tdb_end(struct svt_db *db, int64_t run, enum svt_db_run_status st, uint64_t violations)
{
	const struct svt_db_run_end e = {
		.status = st, .events = 123456, .violations = violations, .divergence_seq = -1,
		.seconds = 1.5, .message = "",
	};
	tdb_check(svt_db_run_end(db, run, &e) == 0, "%s", svt_db_error(db));
}

int64_t tdb_int(const char *path, const char *sql)
{
	sqlite3 *h;
	sqlite3_stmt *st;
	int64_t v;

	cr_assert_eq(sqlite3_open_v2(path, &h, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
	cr_assert_eq(sqlite3_prepare_v2(h, sql, -1, &st, NULL), SQLITE_OK, "%s: %s", sql,
		     sqlite3_errmsg(h));
	cr_assert_eq(sqlite3_step(st), SQLITE_ROW, "%s: %s", sql, sqlite3_errmsg(h));
	v = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	sqlite3_close(h);
	return v;
}

void tdb_exec(const char *path, const char *sql)
{
	sqlite3 *h;
	char *msg = NULL;

	cr_assert_eq(sqlite3_open(path, &h), SQLITE_OK);
	cr_assert_eq(sqlite3_exec(h, sql, NULL, NULL, &msg), SQLITE_OK, "%s", msg);
	sqlite3_close(h);
}

char *tdb_report(struct svt_db *db, const char *name, const char *sql, int64_t run,
		 enum svt_db_format fmt, int *rc)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	cr_assert_not_null(f);
	*rc = svt_db_report(db, name, sql, run, fmt, f);
	fclose(f);
	return buf;
}

void tdb_write_file(const char *path, const void *p, size_t len)
{
	FILE *f = fopen(path, "wb");

	cr_assert_not_null(f, "%s", path);
	cr_assert_eq(fwrite(p, 1, len, f), len);
	cr_assert_eq(fclose(f), 0);
}

void *tdb_read_file(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	char *p;
	long n;

	cr_assert_not_null(f, "%s", path);
	fseek(f, 0, SEEK_END);
	n = ftell(f);
	rewind(f);
	p = malloc((size_t)n + 1);
	cr_assert_not_null(p);
	cr_assert_eq(fread(p, 1, (size_t)n, f), (size_t)n);
	fclose(f);
	p[n] = '\0';
	*len = (size_t)n;
	return p;
}

/* ---- writing and reading back ------------------------------------------- */

Test(db, write_and_read_back)
{
	char *dir = tdb_dir(), *path = tdb_path(dir, "r.db");
	struct svt_db *db = tdb_open(path, true);
	int64_t run = tdb_run(db, "a.svt", "crc32c:00000001", "oos=0");

	tdb_fill(db, run, 1000, 300, 20, 0);
	tdb_end(db, run, SVT_RUN_VIOLATIONS, 300);
	svt_db_close(db);

	cr_assert_eq(tdb_int(path, "PRAGMA user_version"), SVT_DB_VERSION);
	cr_assert_eq(tdb_int(path, "PRAGMA application_id"), 0x53565452);
	cr_assert_eq(tdb_int(path,
			     "SELECT count(*) FROM pragma_journal_mode WHERE journal_mode = 'wal'"),
			     1);
	cr_assert_eq(tdb_int(path, "SELECT count(*) FROM timeline WHERE run = 1"), 1000);
	cr_assert_eq(tdb_int(path, "SELECT count(*) FROM violations WHERE run = 1"), 300);
	cr_assert_eq(tdb_int(path, "SELECT count(*) FROM counters WHERE run = 1"), 20);
	cr_assert_eq(tdb_int(path, "SELECT value FROM counters WHERE name = 'counter007'"), 7000);
	cr_assert_eq(tdb_int(path,
			     "SELECT status = 'violations' AND events = 123456 AND violations = 300"
			     " AND divergence_seq IS NULL AND seconds = 1.5 AND finished "
			     "IS NOT NULL"
			     " AND pid > 0 AND host IS NOT NULL AND workload = 'mix'"
			     " AND started GLOB '2[0-9][0-9][0-9]-[01][0-9]-[0-3][0-9]T*Z' "
			     "FROM runs"), 1);
	/* uint64 values above 2^63 come back as their two's complement... */
	cr_assert_eq(tdb_int(path, "SELECT va FROM violations WHERE seq = 5"),
		     (int64_t)0xffff800000000000ull);
	/* ...and the views print them right. */
	cr_assert_eq(tdb_int(path, "SELECT count(*) FROM violation_context WHERE seq = 15 AND"
			     " va = '0xffff800000001000' AND guest_entry = '0x8000000000001007'"
			     " AND reproduce = '10..15'"), 1);
	cr_assert_eq(tdb_int(path,
			     "SELECT group_concat(integrity_check) = 'ok' FROM "
			     "pragma_integrity_check"), 1);
	tdb_rmdir(dir);
	free(path);
}

Test(db, rows_are_batched)
{
	char *dir = tdb_dir(), *path = tdb_path(dir, "r.db");
	struct svt_db *db = tdb_open(path, true);
	int64_t run = tdb_run(db, "a.svt", NULL, "p");
	struct svt_db_interval iv = { .events = 1 };

	/* The run row is committed at once. */
	cr_assert_eq(tdb_int(path, "SELECT count(*) FROM runs WHERE status = 'running'"), 1);
	for (unsigned i = 0; i < 255; i++)
		cr_assert_eq(svt_db_interval(db, run, &iv), 0);
	cr_assert_eq(tdb_int(path, "SELECT count(*) FROM timeline"), 0, "a batch is 256 rows");
	cr_assert_eq(svt_db_interval(db, run, &iv), 0);
	cr_assert_eq(tdb_int(path, "SELECT count(*) FROM timeline"), 256);
	cr_assert_eq(svt_db_counter(db, run, "x", 1), 0);
	cr_assert_eq(tdb_int(path, "SELECT count(*) FROM counters"), 0);
	/* The oldest queued row is over a second old: the next one commits. */
	nanosleep(&(struct timespec){ .tv_sec = 1, .tv_nsec = 100000000 }, NULL);
	cr_assert_eq(svt_db_counter(db, run, "y", 2), 0);
	cr_assert_eq(tdb_int(path, "SELECT count(*) FROM counters"), 2);
	cr_assert_eq(svt_db_counter(db, run, "x", 3), 0);       /* a counter again: replaced */
	cr_assert_eq(svt_db_flush(db), 0, "%s", svt_db_error(db));
	cr_assert_eq(tdb_int(path, "SELECT value FROM counters WHERE name = 'x'"), 3);
	cr_assert_eq(svt_db_flush(db), 0);                      /* nothing queued */
	svt_db_close(db);
	tdb_rmdir(dir);
	free(path);
}

Test(db, misuse)
{
	char *dir = tdb_dir(), *path = tdb_path(dir, "r.db");
	struct svt_db *db = tdb_open(path, true), *ro;
	struct svt_db_interval iv = { 0 };
	struct svt_db_violation v = { .invariant = NULL };
	struct svt_db_run bad = { .trace = NULL, .policy = "p" };
	int64_t run = tdb_run(db, "a.svt", NULL, "p");
	struct svt_db_run_end e = { .status = SVT_RUN_CLEAN, .divergence_seq = -1 };

	cr_assert_eq(svt_db_run_begin(db, &bad), -1);
	cr_assert(strncmp(svt_db_error(db), path, strlen(path)) == 0, "%s", svt_db_error(db));
	cr_assert_eq(svt_db_violation(db, run, &v), -1);
	cr_assert_eq(svt_db_interval(db, 0, &iv), -1);
	/* Rows of a run that does not exist fail with their batch. */
	cr_assert_eq(svt_db_interval(db, 999, &iv), 0);
	cr_assert_eq(svt_db_flush(db), -1);
	cr_assert(strstr(svt_db_error(db), "FOREIGN KEY") != NULL, "%s", svt_db_error(db));
	cr_assert_eq(svt_db_run_end(db, 999, &e), -1);
	cr_assert(strstr(svt_db_error(db), "no such run") != NULL, "%s", svt_db_error(db));
	e.status = (enum svt_db_run_status)42;
	cr_assert_eq(svt_db_run_end(db, run, &e), -1);
	cr_assert_null(svt_db_run_status_name((enum svt_db_run_status)42));
	cr_assert_str_eq(svt_db_run_status_name(SVT_RUN_BAD_INPUT), "bad-input");
	svt_db_close(db);

	ro = tdb_open(path, false);
	cr_assert_eq(svt_db_run_begin(ro, &(struct svt_db_run){ .trace = "t", .policy = "p" }), -1);
	cr_assert(strstr(svt_db_error(ro), "read-only") != NULL, "%s", svt_db_error(ro));
	cr_assert_eq(svt_db_interval(ro, 1, &iv), -1);
	cr_assert_eq(svt_db_flush(ro), 0);
	svt_db_close(ro);
	svt_db_close(NULL);
	tdb_rmdir(dir);
	free(path);
}

/* ---- a replay killed halfway -------------------------------------------- */

Test(db, killed_halfway)
{
	char *dir = tdb_dir(), *path = tdb_path(dir, "r.db");
	int status, rc;
	pid_t pid = fork();

	cr_assert_geq(pid, 0);
	if (pid == 0) {
		tdb_child = true;
		struct svt_db *db = tdb_open(path, true);
		int64_t run = tdb_run(db, "a.svt", "crc32c:1", "p");
		tdb_fill(db, run, 300, 100, 0, 0);      /* 400 rows: one batch committed */
		raise(SIGKILL);
		_exit(0);
	}
	cr_assert_eq(waitpid(pid, &status, 0), pid);
	cr_assert(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
	cr_assert_eq(tdb_int(path, "SELECT count(*) FROM runs WHERE status = 'running'"), 1);
	cr_assert_eq(tdb_int(path, "SELECT count(*) FROM timeline"), 256);
	cr_assert_eq(tdb_int(path, "SELECT count(*) FROM violations"), 0);

	struct svt_db *db = tdb_open(path, false);
	char *out = tdb_report(db, "summary", NULL, 0, SVT_DB_CSV, &rc);
	cr_assert_eq(rc, 0, "%s", svt_db_error(db));
	cr_assert(strstr(out, ",incomplete?,") != NULL, "%s", out);
	free(out);
	out = tdb_report(db, NULL, "PRAGMA integrity_check", 0, SVT_DB_CSV, &rc);
	cr_assert_eq(rc, 0, "%s", svt_db_error(db));
	cr_assert_str_eq(out, "integrity_check\r\nok\r\n");
	free(out);
	svt_db_close(db);

	/* A writer can go on using the file. */
	db = tdb_open(path, true);
	tdb_end(db, tdb_run(db, "b.svt", NULL, "p"), SVT_RUN_CLEAN, 0);
	svt_db_close(db);
	cr_assert_eq(tdb_int(path, "SELECT count(*) FROM runs"), 2);
	tdb_rmdir(dir);
	free(path);
}

/* ---- several writers at once -------------------------------------------- */

#define WRITERS 4
#define W_INTERVALS 3000
#define W_VIOLATIONS 700

static void check_writers(const char *path)
{
	cr_assert_eq(tdb_int(path,
			     "SELECT count(*) FROM runs WHERE status IN ('clean', 'violations')"),
		     WRITERS);
	cr_assert_eq(tdb_int(path, "SELECT count(*) FROM timeline"), WRITERS * W_INTERVALS);
	cr_assert_eq(tdb_int(path, "SELECT count(*) FROM violations"), WRITERS * W_VIOLATIONS);
	cr_assert_eq(tdb_int(path, "SELECT count(*) FROM counters"), WRITERS * 10);
	/* Every run has exactly its own rows. */
	cr_assert_eq(tdb_int(path, "SELECT count(*) FROM (SELECT run FROM timeline GROUP BY run"
			     " HAVING count(*) = 3000 AND sum(emulated) = 3000 * (2 + "
			     "min(faults) - 10))"),
		     WRITERS);
	cr_assert_eq(tdb_int(path,
			     "SELECT group_concat(integrity_check) = 'ok' FROM "
			     "pragma_integrity_check"), 1);
	cr_assert_eq(tdb_int(path, "SELECT count(*) FROM pragma_foreign_key_check"), 0);
}

static void one_writer(const char *path, unsigned seed)
{
	struct svt_db *db = tdb_open(path, true);
	int64_t run = tdb_run(db, "a.svt", "crc32c:1", "p");

	tdb_fill(db, run, W_INTERVALS, W_VIOLATIONS, 10, seed);
	tdb_end(db, run, seed % 2 ? SVT_RUN_VIOLATIONS : SVT_RUN_CLEAN, W_VIOLATIONS);
	svt_db_close(db);
}

Test(db, concurrent_processes, .timeout = 120)
{
	char *dir = tdb_dir(), *path = tdb_path(dir, "r.db");
	pid_t pids[WRITERS];
	int status;

	/* The file does not exist yet: they race to create it too. */
	for (unsigned i = 0; i < WRITERS; i++) {
		cr_assert_geq(pids[i] = fork(), 0);
		if (pids[i] == 0) {
			tdb_child = true;
			one_writer(path, i);
			_exit(0);
		}
	}
	for (unsigned i = 0; i < WRITERS; i++) {
		cr_assert_eq(waitpid(pids[i], &status, 0), pids[i]);
		cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0,
			  "writer %u: status %#x", i, status);
	}
	check_writers(path);
	tdb_rmdir(dir);
	free(path);
}

struct writer_arg {
	const char *path;
	unsigned seed;
	bool ok;
	char err[600];
};

/* Threads cannot use cr_assert: report instead. */
static void *thread_writer(void *p)
{
	struct writer_arg *a = p;
	int st;
	struct svt_db *db = svt_db_open(a->path, true, &st, a->err, sizeof(a->err));
	const struct svt_db_run r = { .trace = "a.svt", .trace_checksum = "crc32c:1",
				      .policy = "p" };
	int64_t run = db ? svt_db_run_begin(db, &r) : -1;
	bool ok = run > 0;

	for (unsigned i = 0; ok && i < W_INTERVALS; i++) {
		const struct svt_db_interval iv = {
			.events = 64, .ctr = { .faults = 10 + a->seed, .emulated = 2 + a->seed },
		};
		ok = svt_db_interval(db, run, &iv) == 0;
	}
	for (unsigned j = 0; ok && j < W_VIOLATIONS; j++)
		ok = svt_db_violation(db, run,
				      &(struct svt_db_violation){ .invariant = "INV-SYNC" }) == 0;
	for (unsigned c = 0; ok && c < 10; c++)
		ok = svt_db_counter(db, run,
				    (const char *[]){ "a", "b", "c", "d", "e", "f", "g", "h", "i",
						      "j" }[c], c) == 0;
	const struct svt_db_run_end e = { .status = SVT_RUN_CLEAN, .divergence_seq = -1 };
	ok = ok && svt_db_run_end(db, run, &e) == 0;
	if (!ok && db != NULL)
		snprintf(a->err, sizeof(a->err), "%s", svt_db_error(db));
	a->ok = ok;
	svt_db_close(db);
	return NULL;
}

Test(db, concurrent_threads, .timeout = 120)
{
	char *dir = tdb_dir(), *path = tdb_path(dir, "r.db");
	pthread_t t[WRITERS];
	struct writer_arg a[WRITERS];

	for (unsigned i = 0; i < WRITERS; i++) {
		a[i] = (struct writer_arg){ .path = path, .seed = i };
		cr_assert_eq(pthread_create(&t[i], NULL, thread_writer, &a[i]), 0);
	}
	for (unsigned i = 0; i < WRITERS; i++) {
		cr_assert_eq(pthread_join(t[i], NULL), 0);
		cr_assert(a[i].ok, "thread %u: %s", i, a[i].err);
	}
	check_writers(path);
	tdb_rmdir(dir);
	free(path);
}

/* ---- shards and the merge (db-merge.c) ------------------------------------ */

static void make_shard(const char *path, const char *policy, bool finish)
{
	struct svt_db *db = tdb_open(path, true);
	int64_t run = tdb_run(db, "a.svt", "crc32c:00000001", policy);

	tdb_fill(db, run, 300, 5, 20, 1);
	if (finish)
		tdb_end(db, run, SVT_RUN_VIOLATIONS, 5);
	cr_assert_eq(svt_db_shard_seal(db), 0, "%s", svt_db_error(db));
	svt_db_close(db);
}

Test(db, merge_shard)
{
	char *dir = tdb_dir(), *s1 = tdb_path(dir, "s1.db"), *s2 = tdb_path(dir, "s2.db");
	char *s3 = tdb_path(dir, "s3.db"), *d = tdb_path(dir, "d.db"), err[700];
	struct svt_db_shard k;

	make_shard(s1, "oos=0", true);
	make_shard(s2, "oos=1", true);
	make_shard(s3, "oos=2", false);
	/* sealed: one file, not WAL */
	cr_assert_eq(tdb_int(s1,
			     "SELECT count(*) FROM pragma_journal_mode WHERE journal_mode = "
			     "'delete'"), 1);
	cr_assert_eq(svt_db_shard_read(s1, &k, err, sizeof(err)), 0, "%s", err);
	cr_assert(k.version == SVT_DB_VERSION && k.runs == 1 && k.status == SVT_RUN_VIOLATIONS);
	cr_assert_str_eq(k.policy, "oos=0");
	cr_assert_str_eq(k.tool_version, "test");

	struct svt_db *db = tdb_open(d, true);
	cr_assert_eq(svt_db_begin(db), 0);
	int64_t id = svt_db_merge_shard(db, s1, "crc32c:00000001", "oos=0", "faults", "test", err,
					sizeof(err));
	cr_assert_gt(id, 0, "%s", err);
	cr_assert_eq(svt_db_commit(db), 0, "%s", svt_db_error(db));
	/* the same key again: a duplicate, nothing written */
	cr_assert_eq(svt_db_begin(db), 0);
	cr_assert_eq(svt_db_merge_shard(db, s1, "crc32c:00000001", "oos=0", "faults", "test", err,
					sizeof(err)), 0);
	svt_db_rollback(db);
	/* another build, another trace, an unfinished run: refused */
	cr_assert_eq(svt_db_merge_shard(db, s2, "crc32c:00000001", "oos=1", "faults", "other", err,
					sizeof(err)), -1);
	cr_assert(strstr(err, "made by another build (test), this is other"), "%s", err);
	cr_assert_eq(svt_db_merge_shard(db, s2, "crc32c:00000002", "oos=1", "faults", "test", err,
					sizeof(err)), -1);
	cr_assert(strstr(err, "expected trace crc32c:00000002"), "%s", err);
	cr_assert_eq(svt_db_merge_shard(db, s3, "crc32c:00000001", "oos=2", "faults", "test", err,
					sizeof(err)), -1);
	cr_assert(strstr(err, "did not finish (running)"), "%s", err);
	/* merged, then rolled back: no row of it stays */
	cr_assert_eq(svt_db_begin(db), 0);
	cr_assert_gt(svt_db_merge_shard(db, s2, "crc32c:00000001", "oos=1", "faults", "test", err,
					sizeof(err)), 0, "%s", err);
	svt_db_rollback(db);
	svt_db_close(db);

	cr_assert_eq(tdb_int(d, "SELECT count(*) FROM runs"), 1);
	cr_assert_eq(tdb_int(d, "SELECT count(*) FROM timeline"), 300);
	cr_assert_eq(tdb_int(d, "SELECT count(*) FROM violations"), 5);
	cr_assert_eq(tdb_int(d, "SELECT count(*) FROM counters"), 20);
	cr_assert_eq(tdb_int(d, "SELECT sum(faults) FROM timeline"),
		     tdb_int(s1, "SELECT sum(faults) FROM timeline"));
	cr_assert_eq(tdb_int(d, "SELECT value FROM counters WHERE name = 'counter007'"), 7001);
	cr_assert_eq(tdb_int(d,
			     "SELECT status = 'violations' AND events = 123456 AND violations = 5"
			     " AND seconds = 1.5 AND policy = 'oos=0' AND tool_version = 'test'"
			     " AND started IS NOT NULL AND finished IS NOT NULL FROM runs"), 1);
	tdb_rmdir(dir);
	free(s1);
	free(s2);
	free(s3);
	free(d);
}
