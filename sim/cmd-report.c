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
#include <getopt.h>
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

static int report_exec(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "output", required_argument, NULL, 'o' },
		{ "run", required_argument, NULL, 'r' },
		{ "title", required_argument, NULL, 't' },
		{ NULL, 0, NULL, 0 },
	};
	struct report rp = { 0 };
	struct stat in_st, out_st;
	const char *out = NULL;
	char err[600];
	uint64_t id;
	int c, status, rc = SVT_EXIT_USAGE;

	/* no more --run options than arguments */
	if ((rp.want = calloc((size_t)argc, sizeof(*rp.want))) == NULL) {
		svt_err("out of memory");
		return SVT_EXIT_INPUT;
	}
	optind = 1;
	opterr = 0;
	while ((c = getopt_long(argc, argv, "o:", opts, NULL)) != -1) {
		if (c == 'o') {
			out = optarg;
		} else if (c == 't') {
			rp.title = optarg;
		} else if (c == 'r') {
			if (!svt_parse_u64(optarg, &id) || id == 0 || id > INT64_MAX) {
				svt_usage(&svt_cmd_report, "--run: '%s' is not a run id", optarg);
				goto out;
			}
			rp.want[rp.nwant++] = (int64_t)id;
		} else {
			svt_usage(&svt_cmd_report, "unknown option or missing value '%s'", argv[optind - 1]);
			goto out;
		}
	}
	if (optind >= argc || argc - optind > 1 || out == NULL || out[0] == '\0') {
		svt_usage(&svt_cmd_report, optind >= argc ? "no results database given"
			  : argc - optind > 1 ? "too many arguments" : "no output file given (-o FILE)");
		goto out;
	}
	rp.path = argv[optind];
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
	.usage = "RESULTS -o FILE [--run ID]... [--title TEXT]",
	.summary = "write a results database as an HTML page with charts",
	.exec = report_exec,
};
