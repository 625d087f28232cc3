/*
 * cmd-cut.c — `shadowvt cut`: events N..M of a trace as a self-contained
 * trace, the replay's state at N written as its first records (reduce.h).
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "outfile.h"
#include "reduce.h"
#include "sim.h"

static const struct svt_opt cut_opts[] = {
	{ SVT_OPT_NUM("from", 0, "N", 0, UINT64_MAX - 1), .help = "the first event kept",
	  .flags = SVT_OPT_REQUIRED },
	{ SVT_OPT_NUM("to", 0, "M", 0, UINT64_MAX - 1),
	  .help = "the last event kept (default: the end)" },
	{ SVT_OPT_PATH("output", 'o', "FILE"), .help = "the trace to write (-: standard output)",
	  .flags = SVT_OPT_REQUIRED },
	{ SVT_OPT_NUM("level", 0, "L", 0, 19), .help = "the zstd level (default 3)" },
	{ SVT_OPT_FLAG("quiet", 'q'), .help = "print nothing when done" },
	{ .name = NULL },
};

static const struct svt_posarg cut_args[] = {
	{ "TRACE", "trace file", 0 },
	{ .name = NULL },
};

static int cut_exec(const struct svt_args *a)
{
	struct svt_cut_config cfg = {
		.path = a->argv[0], .from = svt_args_num(a, "from", 0),
		.to_set = svt_args_has(a, "to"), .to = svt_args_num(a, "to", 0),
		.level = (int)svt_args_num(a, "level", 3),
	};
	const char *path = svt_args_str(a, "output", "-");
	struct svt_cut_result res;
	struct svt_rd_bytes out = { 0 };
	struct svt_outfile o;
	char why[4400];

	if (cfg.to_set && cfg.to < cfg.from)
		return svt_usage(&svt_cmd_cut, "--from %" PRIu64 " is after --to %" PRIu64,
				 cfg.from, cfg.to);
	int st = svt_cut(&cfg, &out, &res);
	if (st == SVT_EXIT_USAGE)
		return svt_usage(&svt_cmd_cut, "%s", res.message);
	if (st != SVT_EXIT_OK) {
		svt_err("%s", res.message);
		return st;
	}
	if (svt_outfile_open(&o, path, SVT_OUTFILE_SIGNALS, why, sizeof(why)) != 0) {
		svt_rd_bytes_free(&out);
		svt_err("%s", why);
		return SVT_EXIT_INPUT;
	}
	fwrite(out.p, 1, out.len, o.f);         /* a failure is the stream's error */
	svt_rd_bytes_free(&out);
	if (svt_outfile_commit(&o, why, sizeof(why)) != 0) {
		svt_err("%s", why);
		return SVT_EXIT_INPUT;
	}
	if (!svt_args_has(a, "quiet") && strcmp(path, "-") != 0)
		printf("%s: %" PRIu64 " events; its event %" PRIu64 " is event %" PRIu64
		       " of %s\n", path, res.events, res.prologue, cfg.from, cfg.path);
	return SVT_EXIT_OK;
}

const struct svt_cmd svt_cmd_cut = {
	.name = "cut",
	.summary = "events N..M of a trace as a trace of their own",
	.opts = cut_opts,
	.args = cut_args,
	.exec = cut_exec,
};
