/*
 * cmd-reduce.c — `shadowvt reduce`: shrink a trace that replays with a
 * violation to a small trace that shows the same one (reduce.h).
 */
#define _POSIX_C_SOURCE 200809L
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "outfile.h"
#include "progress.h"
#include "reduce.h"
#include "sim.h"

static volatile sig_atomic_t stop_flag;

static void on_signal(int sig)
{
	(void)sig;
	stop_flag = 1;
}

static const struct svt_opt reduce_opts[] = {
	{ SVT_OPT_PATH("output", 'o', "FILE"), .help = "the reduced trace to write",
	  .flags = SVT_OPT_REQUIRED },
	{ SVT_OPT_NUM("from", 0, "N", 0, UINT64_MAX - 1),
	  .help = "reduce the first violation at or after event N (default: the first)" },
	{ SVT_OPT_WORD("audit", 0, svt_audit_names),
	  .help = "the audit level of every replay (default faults)" },
	{ SVT_OPT_NUM("budget", 0, "SECONDS", 1, 86400),
	  .help = "stop searching after this long, keeping the best so far (default 300)" },
	{ SVT_OPT_NUM("level", 0, "L", 0, 19), .help = "the zstd level (default 19)" },
	{ SVT_OPT_FLAG("quiet", 'q'), .help = "print only the result line" },
	{ .name = NULL },
};

static const struct svt_posarg reduce_args[] = {
	{ "TRACE", "trace file", 0 },
	{ .name = NULL },
};

static int reduce_exec(const struct svt_args *a)
{
	bool quiet = svt_args_has(a, "quiet");
	struct svt_progress prog;
	svt_progress_start(&prog, quiet);
	struct svt_reduce_config cfg = {
		.path = a->argv[0],
		.from = svt_args_num(a, "from", 0),
		.audit = (enum svt_audit_level)svt_args_word(a, "audit", SVT_AUDIT_FAULTS),
		.budget = (double)svt_args_num(a, "budget", 300),
		.progress = &prog,
		.log = quiet ? NULL : stdout,
		.stop = &stop_flag,
		.level = (int)svt_args_num(a, "level", 19),
	};
	const char *path = svt_args_str(a, "output", NULL);
	struct svt_reduce_result res;
	struct svt_rd_bytes out = { 0 };
	struct svt_outfile o;
	char why[4400];

	struct sigaction sa = { .sa_handler = on_signal };
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	int st = svt_reduce(&cfg, &out, &res);
	if (st == SVT_EXIT_USAGE)
		return svt_usage(&svt_cmd_reduce, "%s", res.message);
	if (st != SVT_EXIT_OK) {
		if (st == SVT_EXIT_NEGATIVE)
			printf("%s\n", res.message);
		else
			svt_err("%s", res.message);
		return stop_flag ? SVT_EXIT_INTERRUPTED : st;
	}
	if (svt_outfile_open(&o, path, 0, why, sizeof(why)) != 0) {
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
	double pe = res.in_events ? 100.0 * (double)res.out_events / (double)res.in_events : 0;
	double pb = res.in_bytes ? 100.0 * (double)res.out_bytes / (double)res.in_bytes : 0;
	printf("%s: %s va %#" PRIx64 " gfn %#" PRIx64 " (event %" PRIu64 " of %s) in %" PRIu64
	       " events, %" PRIu64 " bytes (%.2f%% and %.2f%% of %" PRIu64 " events, %" PRIu64
	       " bytes); %" PRIu64 " of %" PRIu64 " inputs kept; %u candidates in %.1f s%s\n",
	       path, svt_invariant_name(res.inv), res.va, res.gfn, res.seq, cfg.path,
	       res.out_events, res.out_bytes, pe, pb, res.in_events, res.in_bytes, res.kept_inputs,
	       res.window_inputs, res.tests, res.seconds,
	       res.stopped ? "; interrupted: the best so far" :
	       res.budget_hit ? "; the budget ran out: the best so far" : "");
	return res.stopped ? SVT_EXIT_INTERRUPTED : SVT_EXIT_OK;
}

const struct svt_cmd svt_cmd_reduce = {
	.name = "reduce",
	.summary = "shrink a violating trace to a small one with the same violation",
	.opts = reduce_opts,
	.args = reduce_args,
	.exec = reduce_exec,
};
