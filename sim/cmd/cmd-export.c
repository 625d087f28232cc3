/*
 * cmd-export.c — `shadowvt export`: a trace as another tool's format, today
 * a Chrome/Perfetto trace-event JSON timeline (export.h).  The output is
 * written to a temporary renamed to OUT when done, so OUT is never half
 * written (outfile.h: devices and FIFOs are written through, SIGINT and
 * SIGTERM leave the old file and exit 4); a damaged trace still gives a
 * complete JSON document of what decoded (its metadata says "complete":
 * false) and exit status 3.
 */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "export.h"
#include "outfile.h"
#include "sim.h"
#include "trace.h"

#define OUT_BUFFER (1u << 20)

static const char *const formats[] = { "perfetto", NULL };

/* Static: stdout keeps using it after the command returns. */
static char out_buffer[OUT_BUFFER];

static const struct svt_opt export_opts[] = {
	{ SVT_OPT_WORD("format", 0, formats), .flags = SVT_OPT_REQUIRED, .help = "the output format" },
	{ SVT_OPT_PATH("output", 'o', "OUT"), .flags = SVT_OPT_REQUIRED,
	  .help = "the file to write (-: standard output)" },
	{ SVT_OPT_NUM("from", 0, "N", 0, UINT64_MAX), .help = "the first event (default 0)" },
	{ SVT_OPT_NUM("to", 0, "M", 0, UINT64_MAX), .help = "the last event (default the last)" },
	{ SVT_OPT_FLAG("no-mem", 0), .help = "leave out the memory records" },
	{ .name = NULL },
};

static const struct svt_posarg export_args[] = {
	{ "TRACE", "trace file", 0 },
	{ .name = NULL },
};

static int cmd_export_exec(const struct svt_args *a)
{
	struct svt_export_opts eo = {
		.from = svt_args_num(a, "from", 0), .to = svt_args_num(a, "to", UINT64_MAX),
		.no_mem = svt_args_has(a, "no-mem"),
	};
	const char *outpath = svt_args_str(a, "output", NULL);

	if (eo.to < eo.from)
		return svt_usage(&svt_cmd_export, "--to %" PRIu64 " is before --from %" PRIu64, eo.to,
				 eo.from);
	eo.name = a->argv[0];
	struct stat in_st, out_st;
	if (strcmp(outpath, "-") != 0 && stat(eo.name, &in_st) == 0 && stat(outpath, &out_st) == 0 &&
	    in_st.st_dev == out_st.st_dev && in_st.st_ino == out_st.st_ino)
		return svt_usage(&svt_cmd_export, "the output %s is the trace itself", outpath);

	struct svt_trace_error err;
	struct svt_trace_info info;
	struct svt_trace_reader *r = svt_trace_open(eo.name, 0, &err);
	if (r == NULL)
		return svt_err_trace(&err);
	if (svt_trace_info(r, &info) != SVT_TRACE_OK) {
		int rc = svt_err_trace(svt_trace_reader_error(r));
		svt_trace_close(r);
		return rc;
	}
	if (eo.from > info.events) {
		svt_trace_close(r);
		return svt_usage(&svt_cmd_export, "--from %" PRIu64 ": beyond the end of the trace "
				 "(%" PRIu64 " events)", eo.from, info.events);
	}
	if (svt_trace_reader_warning(r))
		svt_err("warning: %s", svt_trace_reader_warning(r));

	struct svt_outfile out;
	struct svt_export_stats st;
	char why[PATH_MAX + 200];
	if (svt_outfile_open(&out, outpath, SVT_OUTFILE_SIGNALS, why, sizeof(why)) != 0) {
		svt_err("%s", why);
		svt_trace_close(r);
		return SVT_EXIT_INPUT;
	}
	setvbuf(out.f, out_buffer, _IOFBF, sizeof(out_buffer));
	int rc = SVT_EXIT_OK;
	if (svt_export_perfetto(r, &info, &eo, out.f, &st) != SVT_TRACE_OK)
		rc = svt_err_trace(svt_trace_reader_error(r));
	svt_trace_close(r);
	if (svt_outfile_commit(&out, why, sizeof(why)) != 0) {
		svt_err("%s", why);
		return SVT_EXIT_INPUT;
	}
	if (rc != SVT_EXIT_OK)
		svt_err("%s: %" PRIu64 " records before the error written; the timeline is marked "
			"incomplete", strcmp(outpath, "-") == 0 ? "standard output" : outpath,
			st.records);
	return rc;
}

const struct svt_cmd svt_cmd_export = {
	.name = "export",
	.summary = "write a trace as a Perfetto/Chrome trace-event JSON timeline",
	.opts = export_opts,
	.args = export_args,
	.exec = cmd_export_exec,
};
