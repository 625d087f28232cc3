/*
 * cmd-report.c — `shadowvt report`: a results database as one
 * self-contained HTML page with charts (report.h; the page is
 * report-html.c, the charts report-svg.c).  This file reads the arguments,
 * opens the database and writes the page.
 *
 * The database is opened read-only through db.c, so foreign, newer and
 * damaged files fail as they do for `shadowvt query` (exit 3, the file
 * named).  The page is written through outfile.h (a temporary renamed into
 * place; devices and FIFOs written through; SIGINT and SIGTERM leave the
 * old file and exit 4), or for `-o -` built in memory and written at once:
 * a failure never leaves half a report.
 */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "outfile.h"
#include "report.h"
#include "sim.h"

/* Write the page to out ("-": standard output), all or nothing. */
static int write_report(struct report *rp, const char *out)
{
	char *buf = NULL, why[PATH_MAX + 200];
	size_t len = 0;
	FILE *mem = NULL;
	struct svt_outfile o;

	if (svt_outfile_open(&o, out, SVT_OUTFILE_SIGNALS, why, sizeof(why)) != 0) {
		svt_err("%s", why);
		return SVT_EXIT_INPUT;
	}
	/* standard output: the page built in memory and written at once, so
	 * a failure writes nothing */
	bool to_stdout = o.f == stdout;
	if (to_stdout && !(mem = open_memstream(&buf, &len))) {
		svt_err("standard output: cannot write: %s", strerror(errno));
		svt_outfile_abort(&o);
		return SVT_EXIT_INPUT;
	}
	int bad = report_page(to_stdout ? mem : o.f, rp);
	if (bad)
		svt_err("%s", svt_db_error(rp->db));
	if (mem && fclose(mem) != 0 && !bad) {
		svt_err("standard output: cannot write: %s", strerror(errno));
		bad = 1;
	}
	if (bad) {
		svt_outfile_abort(&o);
		free(buf);
		return SVT_EXIT_INPUT;
	}
	if (to_stdout)
		fwrite(buf, 1, len, o.f);       /* a failure is the stream's error */
	free(buf);
	if (svt_outfile_commit(&o, why, sizeof(why)) != 0) {
		svt_err("%s", why);
		return SVT_EXIT_INPUT;
	}
	return SVT_EXIT_OK;
}

static const struct svt_opt report_opts[] = {
	{ SVT_OPT_PATH("output", 'o', "FILE"), .flags = SVT_OPT_REQUIRED,
	  .help = "the page to write (-: standard output)" },
	{ SVT_OPT_NUM("run", 0, "ID", 1, INT64_MAX), .flags = SVT_OPT_MANY,
	  .help = "only this run" },
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
	if (stat(rp.path, &in_st) == 0 && stat(out, &out_st) == 0 &&
	    in_st.st_dev == out_st.st_dev && in_st.st_ino == out_st.st_ino) {
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
