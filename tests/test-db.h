/*
 * test-db.h — helpers shared by the results-database tests (test-db.c,
 * test-db-query.c): scratch directories, runs filled with made-up rows,
 * and independent checks through SQLite itself.
 */
#ifndef SVT_TEST_DB_H
#define SVT_TEST_DB_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <unistd.h>

#include "db.h"
#include "query-print.h"

/*
 * Set in a forked child: there a failed check prints and _exits(3), since
 * Criterion's assertions belong to the test's own process.  The helpers
 * below that children use check with tdb_check.
 */
extern bool tdb_child;
#define tdb_check(cond, ...) do {                                               \
		if (!(cond)) {                                                  \
			if (tdb_child) {                                        \
				fprintf(stderr, __VA_ARGS__);                   \
				fputc('\n', stderr);                            \
				_exit(3);                                       \
			}                                                       \
			cr_assert_fail(__VA_ARGS__);                            \
		}                                                               \
	} while (0)

/* A new empty directory under $TMPDIR (or /tmp); tdb_rmdir removes it,
 * its files and frees the name. */
char *tdb_dir(void);
void tdb_rmdir(char *dir);
/* dir/name, malloc'd. */
char *tdb_path(const char *dir, const char *name);

/* svt_db_open that must succeed. */
struct svt_db *tdb_open(const char *path, bool create);
/* Begin a run (must succeed). */
int64_t tdb_run(struct svt_db *db, const char *trace, const char *checksum, const char *policy);
/* Write made-up intervals, violations and counters for run (all must
 * succeed); the values follow from i and seed (tdb_fill's comment). */
void tdb_fill(struct svt_db *db, int64_t run, unsigned intervals, unsigned violations,
	      unsigned counters, unsigned seed);
/* End run (must succeed). */
void tdb_end(struct svt_db *db, int64_t run, enum svt_db_run_status st, uint64_t violations);

/* The one integer sql returns, through a separate read-only SQLite
 * connection (not through db.c). */
int64_t tdb_int(const char *path, const char *sql);
/* Run sql on path through a separate read-write connection (fixtures). */
void tdb_exec(const char *path, const char *sql);

/* svt_db_report's output as a string (malloc'd); *rc its result. */
char *tdb_report(struct svt_db *db, const char *name, const char *sql, int64_t run,
		 enum svt_db_format fmt, int *rc);

/* Write len bytes to path. */
void tdb_write_file(const char *path, const void *p, size_t len);
/* The contents of path (malloc'd, and a '\0' after them), its length in *len. */
void *tdb_read_file(const char *path, size_t *len);

#endif
