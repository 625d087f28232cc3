/*
 * cmd-dump.c — `shadowvt dump`: a trace's events, one per line, from any
 * event on: the reader seeks through the index and decodes only the
 * frames it needs.
 */
#include <inttypes.h>
#include <stdio.h>

#include "sim.h"
#include "trace.h"

static const struct svt_opt dump_opts[] = {
	{ SVT_OPT_NUM("from", 0, "N", 0, UINT64_MAX), .help = "the first event (default 0)" },
	{ SVT_OPT_NUM("to", 0, "M", 0, UINT64_MAX), .help = "the last event (default the last)" },
	{ SVT_OPT_FLAG("json", 0), .help = "one JSON object per line" },
	{ .name = NULL },
};

static const struct svt_posarg dump_args[] = {
	{ "TRACE", "trace file", 0 },
	{ .name = NULL },
};

static int cmd_dump_exec(const struct svt_args *a)
{
	bool json = svt_args_has(a, "json");
	uint64_t from = svt_args_num(a, "from", 0), to = svt_args_num(a, "to", UINT64_MAX);

	if (to < from)
		return svt_usage(&svt_cmd_dump,
				 "--to %" PRIu64 " is before --from %" PRIu64, to, from);

	struct svt_trace_error err;
	struct svt_trace_reader *r = svt_trace_open(a->argv[0], 0, &err);
	if (r == NULL)
		return svt_err_trace(&err);
	int rc = SVT_EXIT_OK;
	if (svt_trace_reader_warning(r))
		svt_err("warning: %s", svt_trace_reader_warning(r));
	int st = svt_trace_seek(r, from);
	if (st != SVT_TRACE_OK) {
		rc = svt_err_trace(svt_trace_reader_error(r));
		svt_trace_close(r);
		return rc;
	}
	struct svt_trace_event ev;
	while ((st = svt_trace_next(r, &ev)) == SVT_TRACE_OK) {
		if (ev.seq > to)
			break;
		svt_trace_dump_event(stdout, &ev, json);
	}
	if (st < 0)
		rc = svt_err_trace(svt_trace_reader_error(r));
	svt_trace_close(r);
	if (fflush(stdout) != 0)
		rc = SVT_EXIT_INPUT;
	return rc;
}

const struct svt_cmd svt_cmd_dump = {
	.name = "dump",
	.summary = "print a trace's events, one per line",
	.opts = dump_opts,
	.args = dump_args,
	.exec = cmd_dump_exec,
};
