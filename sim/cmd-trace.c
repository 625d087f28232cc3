/*
 * cmd-trace.c — `shadowvt info` (a trace's header and totals) and
 * `shadowvt dump` (its events, one per line, from any event on: the reader
 * seeks through the index and decodes only the frames it needs).
 */
#define _POSIX_C_SOURCE 200809L
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sim.h"
#include "trace.h"

static int reader_fail(const struct svt_trace_error *e)
{
	svt_err("%s", e->msg);
	return e->status == SVT_TRACE_EARG ? SVT_EXIT_USAGE : SVT_EXIT_INPUT;
}

static int cmd_info_exec(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "json", no_argument, NULL, 'j' },
		{ NULL, 0, NULL, 0 },
	};
	bool json = false;
	int c, rc = SVT_EXIT_OK;

	optind = 1;
	opterr = 0;
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		if (c != 'j')
			return svt_usage(&svt_cmd_info, "unknown option '%s'", argv[optind - 1]);
		json = true;
	}
	if (optind >= argc)
		return svt_usage(&svt_cmd_info, "no trace file given");
	for (int i = optind; i < argc; i++) {
		struct svt_trace_error err;
		struct svt_trace_info info;
		struct svt_trace_reader *r = svt_trace_open(argv[i], 0, &err);

		if (r == NULL) {
			rc = reader_fail(&err);
			continue;
		}
		if (svt_trace_info(r, &info) != SVT_TRACE_OK) {
			rc = reader_fail(svt_trace_reader_error(r));
		} else {
			if (!json && argc - optind > 1)
				printf("%s:\n", argv[i]);
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

static int cmd_dump_exec(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "json", no_argument, NULL, 'j' },
		{ "from", required_argument, NULL, 'f' },
		{ "to", required_argument, NULL, 't' },
		{ NULL, 0, NULL, 0 },
	};
	bool json = false;
	uint64_t from = 0, to = UINT64_MAX;
	int c;

	optind = 1;
	opterr = 0;
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 'j':
			json = true;
			break;
		case 'f':
			if (!svt_parse_u64(optarg, &from))
				return svt_usage(&svt_cmd_dump, "--from: '%s' is not a number", optarg);
			break;
		case 't':
			if (!svt_parse_u64(optarg, &to))
				return svt_usage(&svt_cmd_dump, "--to: '%s' is not a number", optarg);
			break;
		default:
			return svt_usage(&svt_cmd_dump, "unknown option or missing value '%s'",
					 argv[optind - 1]);
		}
	}
	if (optind + 1 != argc)
		return svt_usage(&svt_cmd_dump, "give exactly one trace file");
	if (to < from)
		return svt_usage(&svt_cmd_dump, "--to %" PRIu64 " is before --from %" PRIu64, to, from);

	struct svt_trace_error err;
	struct svt_trace_reader *r = svt_trace_open(argv[optind], 0, &err);
	if (r == NULL)
		return reader_fail(&err);
	int rc = SVT_EXIT_OK;
	if (svt_trace_reader_warning(r))
		svt_err("warning: %s", svt_trace_reader_warning(r));
	int st = svt_trace_seek(r, from);
	if (st != SVT_TRACE_OK) {
		rc = reader_fail(svt_trace_reader_error(r));
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
		rc = reader_fail(svt_trace_reader_error(r));
	svt_trace_close(r);
	if (fflush(stdout) != 0)
		rc = SVT_EXIT_INPUT;
	return rc;
}

const struct svt_cmd svt_cmd_info = {
	.name = "info",
	.usage = "[--json] TRACE...",
	.summary = "show a trace's header, totals, size and bytes per event",
	.exec = cmd_info_exec,
};

const struct svt_cmd svt_cmd_dump = {
	.name = "dump",
	.usage = "[--from N] [--to M] [--json] TRACE",
	.summary = "print a trace's events, one per line",
	.exec = cmd_dump_exec,
};
