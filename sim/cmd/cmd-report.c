/*
 * cmd-report.c — `shadowvt report`: a results database as one
 * self-contained HTML page with charts (report.h; the page is
 * report-html.c, the charts report-svg.c).  This file reads the arguments,
 * opens the database and writes the page.
 *
 * The database is opened read-only through db.c, so foreign, newer and
 * damaged files fail as they do for `shadowvt query` (exit 3, the file
 * named).  The page is written to FILE.tmp and renamed into place, or for
 * `-o -` built in memory and written at once: a failure never leaves half
 * a report.
 */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "report.h"
#include "sim.h"

/* Write the page to out ("-": standard output), all or nothing. */
static int write_report(struct report *rp, const char *out)
{
	bool to_stdout = strcmp(out, "-") == 0;
	char *tmp = NULL, *buf = NULL;
	const char *name = to_stdout ? "standard output" : out;
	size_t len = 0;
	FILE *f = NULL;
	int rc = SVT_EXIT_OK;

	errno = ENOMEM;
	if (to_stdout)
		f = open_memstream(&buf, &len);
	else if ((tmp = malloc(strlen(out) + 5)) != NULL && sprintf(tmp, "%s.tmp", out) > 0)
		f = fopen(name = tmp, "w");
	if (f == NULL) {
		svt_err("%s: cannot write: %s", name, strerror(errno));
		free(tmp);
		return SVT_EXIT_INPUT;
	}
	if (report_page(f, rp) != 0) {
		svt_err("%s", svt_db_error(rp->db));
		rc = SVT_EXIT_INPUT;
	}
	bool bad = fflush(f) != 0 || ferror(f);
	int err = errno;
	if (fclose(f) != 0 && !bad) {
		bad = true;
		err = errno;
	}
	if (bad && rc == SVT_EXIT_OK) {
		svt_err("%s: cannot write: %s", name, strerror(err));
		rc = SVT_EXIT_INPUT;
	}
	if (to_stdout) {
		if (rc == SVT_EXIT_OK && (fwrite(buf, 1, len, stdout) != len || fflush(stdout) != 0)) {
			svt_err("standard output: cannot write: %s", strerror(errno));
			rc = SVT_EXIT_INPUT;
		}
		free(buf);
		return rc;
	}
	if (rc == SVT_EXIT_OK && rename(tmp, out) != 0) {
		svt_err("%s: cannot write: %s", out, strerror(errno));
		rc = SVT_EXIT_INPUT;
	}
	if (rc != SVT_EXIT_OK)
		remove(tmp);
	free(tmp);
	return rc;
}

static const struct svt_opt report_opts[] = {
	{ SVT_OPT_PATH("output", 'o', "FILE"), .flags = SVT_OPT_REQUIRED,
	  .help = "the page to write (-: standard output)" },
	{ SVT_OPT_NUM("run", 0, "ID", 1, INT64_MAX), .flags = SVT_OPT_MANY, .help = "only this run" },
	{ SVT_OPT_STRING("title", 0, "TEXT"), .help = "the page's title and heading" },
	{ .name = NULL },
};

static const struct svt_posarg report_args[] = {
	{ "RESULTS", "results database", 0 },
	{ .name = NULL },
};

static int report_exec(const struct svt_args *a)
{
	struct report rp = { .title = svt_args_str(a, "title", NULL) };
	struct stat in_st, out_st;
	const char *out = svt_args_str(a, "output", NULL);
	char err[600];
	int status, rc = SVT_EXIT_USAGE;

	if ((rp.want = calloc(svt_args_count(a, "run") + 1, sizeof(*rp.want))) == NULL) {
		svt_err("out of memory");
		return SVT_EXIT_INPUT;
	}
	for (const struct svt_argval *v; (v = svt_args_nth(a, "run", (unsigned)rp.nwant)) != NULL;)
		rp.want[rp.nwant++] = (int64_t)v->num;
	rp.path = a->argv[0];
	if (stat(rp.path, &in_st) == 0 && stat(out, &out_st) == 0 && in_st.st_dev == out_st.st_dev &&
	    in_st.st_ino == out_st.st_ino) {
		svt_usage(&svt_cmd_report, "-o %s would overwrite the results database", out);
		goto out;
	}
	rc = SVT_EXIT_INPUT;
	if ((rp.db = svt_db_open(rp.path, false, &status, err, sizeof(err))) == NULL)
		svt_err("%s", err);
	else if (report_load(&rp) != 0)
		svt_err("%s", svt_db_error(rp.db));
	else
		rc = write_report(&rp, out);
out:
	report_free(&rp);
	svt_db_close(rp.db);
	free(rp.want);
	return rc;
}

const struct svt_cmd svt_cmd_report = {
	.name = "report",
	.summary = "write a results database as an HTML page with charts",
	.opts = report_opts,
	.args = report_args,
	.exec = report_exec,
};
