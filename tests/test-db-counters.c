/*
 * test-db-counters.c — one list of counters: SVT_COUNTERS (src/svt.h)
 * against everything that must agree with it.  The timeline table of a new
 * database (schema/results.sql; a migrated one is checked against a new
 * one in test-db-open.c) has exactly one column per counter; what the
 * writer stores for an interval and what the reader sums come back per
 * counter, each in its own column; svt_db_counters stores each by name;
 * and shadowvt(1) lists them under Counters with their kinds and
 * descriptions.  A counter added to the list without its column (a schema
 * migration) or its line in the manual fails here, and so does a column
 * or a manual entry without a counter.
 */
#define _POSIX_C_SOURCE 200809L
#include <criterion/criterion.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "test-db.h"

static const struct {
	const char *name;
	enum svt_counter_kind kind;
	const char *what;
} counter[] = {
#define COUNTER(name, kind, what) { #name, SVT_CTR_##kind, what },
	SVT_COUNTERS(COUNTER)
#undef COUNTER
};
#define NCOUNTERS (sizeof(counter) / sizeof(counter[0]))

/* The columns of the timeline table besides the counters. */
static const char *const fixed_columns[] = { "run", "first_seq", "last_seq", "events" };

Test(counters, the_list)
{
	cr_assert_eq(NCOUNTERS, SVT_NCOUNTERS);
	cr_assert_eq(sizeof(struct svt_counters), SVT_NCOUNTERS * sizeof(uint64_t));
	for (size_t i = 0; i < NCOUNTERS; i++) {
		cr_assert(counter[i].what[0] != '\0', "%s has no description", counter[i].name);
		for (size_t j = 0; j < i; j++)
			cr_assert(strcmp(counter[i].name, counter[j].name) != 0, "%s twice",
				  counter[i].name);
		for (size_t j = 0; j < sizeof(fixed_columns) / sizeof(fixed_columns[0]); j++)
			cr_assert(strcmp(counter[i].name, fixed_columns[j]) != 0,
				  "a counter called %s", counter[i].name);
	}
}

Test(counters, one_timeline_column_each)
{
	char *dir = tdb_dir(), *path = tdb_path(dir, "new.db");
	size_t seen[SVT_NCOUNTERS] = { 0 }, nfixed = 0;
	char extra[1024] = "";
	sqlite3 *h;
	sqlite3_stmt *st;

	svt_db_close(tdb_open(path, true));
	cr_assert_eq(sqlite3_open_v2(path, &h, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
	cr_assert_eq(sqlite3_prepare_v2(h,
					"SELECT name FROM pragma_table_info('timeline')", -1, &st,
					NULL), SQLITE_OK, "%s", sqlite3_errmsg(h));
	while (sqlite3_step(st) == SQLITE_ROW) {
		const char *col = (const char *)sqlite3_column_text(st, 0);
		bool known = false;

		for (size_t i = 0; i < NCOUNTERS; i++)
			if (strcmp(counter[i].name, col) == 0) {
				seen[i]++;
				known = true;
			}
		for (size_t j = 0; j < sizeof(fixed_columns) / sizeof(fixed_columns[0]); j++)
			if (strcmp(fixed_columns[j], col) == 0) {
				nfixed++;
				known = true;
			}
		if (!known && strlen(extra) + strlen(col) + 2 < sizeof(extra)) {
			strcat(extra, " ");
			strcat(extra, col);
		}
	}
	sqlite3_finalize(st);
	sqlite3_close(h);
	cr_assert_str_empty(extra, "schema/results.sql: timeline columns that are no counter of"
			    " SVT_COUNTERS (src/svt.h):%s", extra);
	cr_assert_eq(nfixed, sizeof(fixed_columns) / sizeof(fixed_columns[0]));
	for (size_t i = 0; i < NCOUNTERS; i++)
		cr_assert_eq(seen[i], 1,
			     "schema/results.sql: counter %s has %zu timeline columns, not"
			     " one: add it to the timeline table and a migration step in "
			     "sim/results/db.c", counter[i].name, seen[i]);
	tdb_rmdir(dir);
	free(path);
}

/* Counter i in interval k (0 or 1): a value of its own. */
static uint64_t value(size_t i, unsigned k)
{
	return 1000 * (i + 1) + 1 + k;
}

Test(counters, stored_and_summed_each_in_its_column)
{
	char *dir = tdb_dir(), *path = tdb_path(dir, "r.db");
	struct svt_db *db = tdb_open(path, true);
	int64_t run = tdb_run(db, "t.svt", "crc32c:1", "oos=0");
	struct svt_db_interval iv[2] = {
		{ .first_seq = 0, .last_seq = 9, .events = 10 },
		{ .first_seq = 10, .last_seq = 29, .events = 20 },
	};
	struct svt_counters final;

	for (unsigned k = 0; k < 2; k++) {
		size_t i = 0;
#define SET(name, kind, what) iv[k].ctr.name = value(i++, k);
		SVT_COUNTERS(SET)
#undef SET
		cr_assert_eq(svt_db_interval(db, run, &iv[k]), 0, "%s", svt_db_error(db));
	}
	size_t nset = 0;
#define SET(name, kind, what) final.name = 7 * ++nset;
	SVT_COUNTERS(SET)
#undef SET
	cr_assert_eq(svt_db_counters(db, run, &final), 0, "%s", svt_db_error(db));
	tdb_end(db, run, SVT_RUN_CLEAN, 0);

	/* Through SQLite itself: each value in the column of its name. */
	for (size_t i = 0; i < NCOUNTERS; i++) {
		char sql[200];
		for (unsigned k = 0; k < 2; k++) {
			snprintf(sql, sizeof(sql), "SELECT %s FROM timeline WHERE first_seq = %u",
				 counter[i].name, k ? 10 : 0);
			cr_assert_eq(tdb_int(path, sql), (int64_t)value(i, k), "timeline.%s",
				     counter[i].name);
		}
		snprintf(sql, sizeof(sql), "SELECT value FROM counters WHERE name = '%s'",
			 counter[i].name);
		cr_assert_eq(tdb_int(path, sql), (int64_t)(7 * (i + 1)), "counters %s",
			     counter[i].name);
	}
	cr_assert_eq(tdb_int(path, "SELECT count(*) FROM counters"), (int64_t)NCOUNTERS);

	/* Read back: counts summed, levels at their peak. */
	struct svt_db_totals *t;
	size_t n;
	cr_assert_eq(svt_db_totals(db, &t, &n), 0, "%s", svt_db_error(db));
	cr_assert_eq(n, 1);
	cr_assert_eq(t[0].run, run);
	cr_assert_eq(t[0].intervals, 2);
	cr_assert_eq(t[0].events, 30);
	uint64_t sums[] = {
#define GET(name, kind, what) t[0].ctr.name,
		SVT_COUNTERS(GET)
#undef GET
	};
	for (size_t i = 0; i < NCOUNTERS; i++) {
		uint64_t got = sums[i];
		uint64_t want = counter[i].kind == SVT_CTR_LEVEL ? value(i, 1) :
			value(i, 0) + value(i, 1);
		cr_assert_eq(got, want, "totals: %s is %llu, not %llu", counter[i].name,
			     (unsigned long long)got, (unsigned long long)want);
	}
	cr_assert_eq(t[0].exits, t[0].ctr.faults + t[0].ctr.cr_writes + t[0].ctr.invlpgs +
		     t[0].ctr.flushes);

	struct svt_db_run_info *info = malloc(sizeof(*info));
	cr_assert_eq(svt_db_run_info(db, run, info), 0, "%s", svt_db_error(db));
	cr_assert_eq(info->status, SVT_RUN_CLEAN);
	cr_assert(info->has_totals);
	cr_assert_eq(memcmp(&info->totals, &t[0], sizeof(t[0])), 0);
	free(info);
	free(t);
	svt_db_close(db);
	tdb_rmdir(dir);
	free(path);
}

/* The next line of *p (its end made '\0'), or NULL at the end. */
static char *next_line(char **p)
{
	char *line = *p, *nl;

	if (line == NULL || *line == '\0')
		return NULL;
	nl = strchr(line, '\n');
	if (nl != NULL) {
		*nl = '\0';
		*p = nl + 1;
	} else {
		*p = line + strlen(line);
	}
	return line;
}

Test(counters, listed_in_the_manual)
{
	const char *top = getenv("top_srcdir");
	char path[4096], *text, *p, *line;
	size_t len, i = 0;

	snprintf(path, sizeof(path), "%s/man/shadowvt.1", top != NULL ? top : SVT_SRCDIR);
	text = tdb_read_file(path, &len);
	p = text;
	while ((line = next_line(&p)) != NULL && strcmp(line, ".Ss Counters") != 0)
		;
	cr_assert_not_null(line, "%s: no Counters subsection", path);
	while ((line = next_line(&p)) != NULL && strncmp(line, ".Bl ", 4) != 0)
		;
	cr_assert_not_null(line, "%s: Counters has no list", path);
	while ((line = next_line(&p)) != NULL && strcmp(line, ".El") != 0) {
		char want[128];
		const char *what;

		cr_assert_lt(i, NCOUNTERS, "%s: Counters lists '%s' after the last counter of"
			     " SVT_COUNTERS", path, line);
		snprintf(want, sizeof(want), ".It Va %s%s", counter[i].name,
			 counter[i].kind == SVT_CTR_LEVEL ? " Pq level" : "");
		cr_assert_str_eq(line, want, "%s: Counters: '%s' where SVT_COUNTERS (src/svt.h) has"
				 " '%s'", path, line, want);
		what = next_line(&p);
		cr_assert_not_null(what);
		cr_assert_str_eq(what, counter[i].what, "%s: the description of %s differs from"
				 " SVT_COUNTERS's", path, counter[i].name);
		i++;
	}
	cr_assert_not_null(line, "%s: Counters: the list does not end", path);
	cr_assert_eq(i, NCOUNTERS, "%s: Counters lists %zu counters; SVT_COUNTERS has %zu, the next"
		     " is %s", path, i, NCOUNTERS, i < NCOUNTERS ? counter[i].name : "-");
	free(text);
}
