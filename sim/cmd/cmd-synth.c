/*
 * cmd-synth.c — `shadowvt synth`: run a synthetic guest over the core and
 * record its trace (synth.h).
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "policy.h"
#include "progress.h"
#include "sim.h"
#include "synth.h"

#define SYN_DEFAULT_EVENTS 200000
#define SYN_DEFAULT_FRAMES 32768        /* 128 MiB */
#define SYN_DEFAULT_POOL   512

/* The counters that say which of the core's paths a run took; those every
 * run moves (faults, CR writes, the pool's levels) are left out. */
static const char *const reach_skip[] = { "faults", "cr_writes", "pool_used", "pool_free", NULL };

static bool skipped(const char *name)
{
	for (unsigned i = 0; reach_skip[i]; i++)
		if (strcmp(reach_skip[i], name) == 0)
			return true;
	return false;
}

/* One short run of cfg into /dev/null, its counters in *c. */
static int reach_run(const struct syn_config *cfg, struct svt_counters *c)
{
	struct svt_trace_range ram = { .gfn = 0, .count = cfg->guest_frames };
	struct svt_trace_header h = {
		.producer = "shadowvt synth --list", .cpu_model = "synthetic", .guest = "synth",
		.maxphyaddr = 46, .features = SYN_FEATURES, .guest_frames = cfg->guest_frames,
		.ram = &ram, .nram = 1, .policy = cfg->policy, .pool_frames = cfg->pool,
	};
	struct svt_trace_error terr;
	char err[700];
	FILE *f = fopen("/dev/null", "wb");
	if (!f) {
		svt_err("/dev/null: cannot open");
		return SVT_EXIT_INPUT;
	}
	struct svt_trace_writer *w = svt_trace_writer_open_file(f, "/dev/null", &h, 1, &terr);
	if (!w) {
		fclose(f);
		svt_err("%s", terr.msg);
		return SVT_EXIT_INPUT;
	}
	struct syn_config run = *cfg;
	run.counters = c;
	int rc = syn_run(&run, w, err, sizeof(err));
	svt_trace_writer_close(w, &terr);
	fclose(f);
	if (rc != 0) {
		svt_err("synth --list: %s (%s): %s", cfg->work->name,
			svt_mode_name(cfg->mode), err);
		return SVT_EXIT_NEGATIVE;
	}
	return SVT_EXIT_OK;
}

/* Each workload run briefly (LIST_EVENTS events, seed 1, the default
 * policy) in 2level, pae and 4level (4level only where it needs PCIDs):
 * the core's counters (svt.h, SVT_COUNTERS) that moved in any of them. */
#define LIST_EVENTS 4000
static int list(const struct syn_config *base)
{
	static const enum svt_mode modes[] = { SVT_MODE_2LEVEL, SVT_MODE_PAE, SVT_MODE_4LEVEL };
	static const char *const names[] = {
#define NAME(name, kind, what) #name,
		SVT_COUNTERS(NAME)
#undef NAME
	};
	printf("%-12s %s\n", "WORKLOAD", "WHAT IT DOES");
	for (unsigned i = 0; i < syn_nworkloads; i++) {
		const struct syn_workload *w = &syn_workloads[i];
		bool moved[SVT_NCOUNTERS] = { false };
		printf("%-12s %s\n", w->name, w->summary);
		for (unsigned k = 0; k < sizeof(modes) / sizeof(modes[0]); k++) {
			if (w->need_ia32e && modes[k] < SVT_MODE_4LEVEL)
				continue;
			struct svt_counters c;
			struct syn_config cfg = *base;
			cfg.work = w;
			cfg.mode = modes[k];
			cfg.events = LIST_EVENTS;
			cfg.seed = 1;
			int rc = reach_run(&cfg, &c);
			if (rc != SVT_EXIT_OK)
				return rc;
			const uint64_t *v = (const uint64_t *)&c;
			for (unsigned n = 0; n < SVT_NCOUNTERS; n++)
				moved[n] |= v[n] != 0;
		}
		printf("%-12s reaches:", "");
		for (unsigned n = 0; n < SVT_NCOUNTERS; n++)
			if (moved[n] && !skipped(names[n]))
				printf(" %s", names[n]);
		printf("\n");
	}
	return SVT_EXIT_OK;
}

static const struct svt_opt synth_opts[] = {
	{ SVT_OPT_STRING("workload", 0, "NAME"), .help = "the workload (--list shows them)" },
	{ SVT_OPT_WORD("mode", 0, svt_mode_words), .help = "the paging mode (default 4level)" },
	{ SVT_OPT_NUM("events", 0, "N", 1, UINT64_MAX),
	  .help = "stop after about N events (200000)" },
	{ SVT_OPT_NUM("seed", 0, "S", 0, UINT64_MAX), .help = "the random seed (default 1)" },
	{ SVT_OPT_STRING("policy", 0, "SPEC"),
	  .help = "the core's policy (shadowvt(1), POLICIES)" },
	{ SVT_OPT_NUM("frames", 0, "N", 4096, 262144),
	  .help = "guest RAM in 4 KiB frames (32768)" },
	{ SVT_OPT_NUM("level", 0, "L", 0, 19), .help = "the zstd level (default 3)" },
	{ SVT_OPT_NUM("frame-size", 0, "BYTES", SVT_TRACE_FRAME_MIN, SVT_TRACE_FRAME_MAX),
	  .help = "events per trace frame, before compression" },
	{ SVT_OPT_FLAG("quiet", 'q'), .help = "no progress line, nothing printed when done" },
	{ SVT_OPT_PATH("output", 'o', "FILE"), .help = "the trace to write (-: standard output)" },
	{ SVT_OPT_FLAG("list", 0), .help = "describe the workloads, and do nothing else" },
	{ SVT_OPT_FLAG("no-actions", 0),
	  .help = "log not the guest's actions (smaller; what-ifs then approximate)" },
	{ SVT_OPT_PATH("like", 0, "TRACE"),
	  .help = "run exactly the guest of TRACE (a synth trace) under --policy" },
	{ .name = NULL },
};

static int synth_exec(const struct svt_args *a)
{
	struct syn_config cfg = {
		.mode = SVT_MODE_4LEVEL, .events = svt_args_num(a, "events", SYN_DEFAULT_EVENTS),
		.seed = svt_args_num(a, "seed", 1),
		.guest_frames = svt_args_num(a, "frames", SYN_DEFAULT_FRAMES),
		.level = (int)svt_args_num(a, "level", 3), .signals = true,
	};
	const char *out = svt_args_str(a, "output", NULL);
	const char *work = svt_args_str(a, "workload", NULL),
		*spec = svt_args_str(a, "policy", NULL);
	bool quiet = svt_args_has(a, "quiet");
	cfg.no_actions = svt_args_has(a, "no-actions");
	uint64_t frame_size = svt_args_num(a, "frame-size", 0);

	svt_default_policy(&cfg.policy, &cfg.pool);
	if (svt_args_has(a, "list"))
		return list(&cfg);
	if (svt_args_has(a, "mode"))
		cfg.mode = (enum svt_mode)svt_mode_parse(svt_args_str(a, "mode", NULL));
	const char *like = svt_args_str(a, "like", NULL);
	char guest[256];
	if (like) {
		static const char *const own[] = { "workload", "mode", "seed", "events", "frames",
						   NULL };
		for (unsigned i = 0; own[i]; i++)
			if (svt_args_has(a, own[i]))
				return svt_usage(&svt_cmd_synth,
						 "--like takes the guest from the trace: no --%s "
						 "with it", own[i]);
		char lerr[600];
		if (syn_like(like, &cfg, guest, sizeof(guest), lerr, sizeof(lerr)) != 0) {
			svt_err("%s", lerr);
			return SVT_EXIT_INPUT;
		}
	}
	if (work && !(cfg.work = syn_find_workload(work)))
		return svt_usage(&svt_cmd_synth, "unknown workload '%s' (--list shows them)", work);
	char pwhy[160];
	if (spec && svt_policy_parse_n(spec, strlen(spec), &cfg.policy, &cfg.pool, NULL,
				       SVT_POLICY_MAX_POOL, pwhy, sizeof(pwhy)) != 0)
		return svt_usage(&svt_cmd_synth, "bad policy '%s': %s", spec, pwhy);
	if (!cfg.work)
		return svt_usage(&svt_cmd_synth, "no --workload given (--list shows them)");
	if (!out)
		return svt_usage(&svt_cmd_synth, "no output file given (-o FILE)");
	if (cfg.work->need_ia32e && cfg.mode < SVT_MODE_4LEVEL)
		return svt_usage(&svt_cmd_synth,
				 "workload %s needs --mode 4level or 5level (PCIDs)",
				 cfg.work->name);
	if (cfg.mode == SVT_MODE_2LEVEL && cfg.guest_frames + cfg.pool > 0xf0000)
		return svt_usage(&svt_cmd_synth, "2level guests must fit below 4 GiB");

	char policy[128], err[700];
	uint64_t events = 0;
	svt_policy_format(&cfg.policy, cfg.pool, policy, sizeof(policy));
	struct svt_progress prog;
	svt_progress_start(&prog, quiet);
	cfg.progress = &prog;
	int rc = syn_write(&cfg, out, frame_size, &events, err, sizeof(err));
	if (rc != SVT_EXIT_OK) {
		svt_err("%s", err);
		return rc;
	}
	if (!quiet && strcmp(out, "-") != 0)
		fprintf(stderr, "%s: %" PRIu64 " events, workload %s, mode %s, policy %s\n", out,
			events, cfg.work->name, svt_mode_name(cfg.mode), policy);
	return SVT_EXIT_OK;
}

const struct svt_cmd svt_cmd_synth = {
	.name = "synth",
	.summary = "run a synthetic guest and record its trace",
	.opts = synth_opts,
	.exec = synth_exec,
};
