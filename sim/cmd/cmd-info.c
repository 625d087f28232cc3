/*
 * cmd-info.c — `shadowvt info`: each trace's header and totals (the
 * trace library's svt_trace_dump_info).
 */
#include <stdio.h>

#include "sim.h"
#include "trace.h"

static const struct svt_opt info_opts[] = {
	{ SVT_OPT_FLAG("json", 0), .help = "print each trace as a JSON object" },
	{ .name = NULL },
};

static const struct svt_posarg info_args[] = {
	{ "TRACE", "trace file", SVT_POS_MANY },
	{ .name = NULL },
};

static int cmd_info_exec(const struct svt_args *a)
{
	bool json = svt_args_has(a, "json");
	int rc = SVT_EXIT_OK;

	for (int i = 0; i < a->argc; i++) {
		struct svt_trace_error err;
		struct svt_trace_info info;
		struct svt_trace_reader *r = svt_trace_open(a->argv[i], 0, &err);

		if (r == NULL) {
			rc = svt_err_trace(&err);
			continue;
		}
		if (svt_trace_info(r, &info) != SVT_TRACE_OK) {
			rc = svt_err_trace(svt_trace_reader_error(r));
		} else {
			if (!json && a->argc > 1)
				printf("%s:\n", a->argv[i]);
			svt_trace_dump_info(stdout, svt_trace_reader_header(r), &info, json);
			if (svt_trace_reader_warning(r)) {
				svt_err("%s", svt_trace_reader_warning(r));
				rc = SVT_EXIT_INPUT;
			}
		}
		svt_trace_close(r);
	}
	return rc;
}

const struct svt_cmd svt_cmd_info = {
	.name = "info",
	.summary = "show a trace's header, totals, size and bytes per event",
	.opts = info_opts,
	.args = info_args,
	.exec = cmd_info_exec,
};
