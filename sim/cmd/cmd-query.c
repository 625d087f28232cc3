/*
 * cmd-query.c — `shadowvt query`: the canned reports on a results database
 * and arbitrary read-only SQL, printed as an aligned table, CSV (RFC 4180)
 * or JSON.  The database layer reads the rows (db-read.c holds the
 * reports); query-print.c prints them.
 */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "db.h"
#include "query-print.h"
#include "sim.h"

static const char *const formats[] = { [SVT_DB_TABLE] = "table", [SVT_DB_CSV] = "csv",
				       [SVT_DB_JSON] = "json", NULL };

static const struct svt_opt query_opts[] = {
	{ SVT_OPT_STRING("sql", 0, "SQL"), .help = "run one read-only SQL statement instead" },
	{ SVT_OPT_WORD("format", 0, formats), .help = "how to print the rows (default table)" },
	{ SVT_OPT_NUM("run", 0, "ID", 1, INT64_MAX), .help = "only this run" },
	{ .name = NULL },
};

static const struct svt_posarg query_args[] = {
	{ "RESULTS", "results database", 0 },
	{ "REPORT", "report", SVT_POS_OPTIONAL },
	{ .name = NULL },
};

static int query_exec(const struct svt_args *a)
{
	const char *sql = svt_args_str(a, "sql", NULL), *report = NULL;
	enum svt_db_format fmt = (enum svt_db_format)svt_args_word(a, "format", SVT_DB_TABLE);
	uint64_t run = svt_args_num(a, "run", 0);
	int status, rc = SVT_EXIT_OK;

	if (a->argc == 2) {
		report = a->argv[1];
		if (sql != NULL)
			return svt_usage(&svt_cmd_query, "give a report or --sql, not both");
		size_t i = 0;
		while (svt_db_reports[i] != NULL && strcmp(svt_db_reports[i], report) != 0)
			i++;
		if (svt_db_reports[i] == NULL)
			return svt_usage(&svt_cmd_query, "unknown report '%s' (summary, violations,"
					 " faults, memory or compare)", report);
	}

	char err[600];
	struct svt_db *db = svt_db_open(a->argv[0], false, &status, err, sizeof(err));
	if (db == NULL) {
		svt_err("%s", err);
		return SVT_EXIT_INPUT;
	}
	if (svt_db_report(db, report, sql, (int64_t)run, fmt, stdout) != 0) {
		svt_err("%s", svt_db_error(db));
		rc = SVT_EXIT_INPUT;
	}
	svt_db_close(db);
	if (fflush(stdout) != 0 || ferror(stdout)) {
		svt_err("standard output: %s", strerror(errno));
		rc = SVT_EXIT_INPUT;
	}
	return rc;
}

const struct svt_cmd svt_cmd_query = {
	.name = "query",
	.summary = "report on a results database, or query it with SQL",
	.opts = query_opts,
	.args = query_args,
	.exec = query_exec,
};
