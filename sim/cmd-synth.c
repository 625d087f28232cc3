/*
 * cmd-synth.c — `shadowvt synth`: run a synthetic guest over the core and
 * record its trace (synth.h).
 */
#define _POSIX_C_SOURCE 200809L
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "config.h"
#include "policy.h"
#include "sim.h"
#include "synth.h"

#define SYN_DEFAULT_EVENTS 200000
#define SYN_DEFAULT_FRAMES 32768        /* 128 MiB */
#define SYN_DEFAULT_POOL   512

int svt_parse_mode(const char *s)
{
	static const struct { const char *name; enum svt_mode mode; } names[] = {
		{ "2level", SVT_MODE_2LEVEL }, { "pae", SVT_MODE_PAE },
		{ "4level", SVT_MODE_4LEVEL }, { "5level", SVT_MODE_5LEVEL },
	};
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (strcmp(s, names[i].name) == 0)
			return names[i].mode;
	return -1;
}

const char *svt_mode_arg(enum svt_mode m)
{
	switch (m) {
	case SVT_MODE_2LEVEL: return "2level";
	case SVT_MODE_PAE: return "pae";
	case SVT_MODE_4LEVEL: return "4level";
	case SVT_MODE_5LEVEL: return "5level";
	default: return "?";
	}
}

/* The default policy: every optimisation on. */
void svt_default_policy(struct svt_policy *p, unsigned *pool)
{
	*p = (struct svt_policy){ .oos = 2, .prefetch = 8, .emulate = true, .early_unshadow = true };
	*pool = SYN_DEFAULT_POOL;
}

int syn_write(const struct syn_config *cfg, const char *out, uint64_t frame_size, uint64_t *events,
	      char *err, size_t errlen)
{
	char guest[200];
	snprintf(guest, sizeof(guest), "synth workload=%s mode=%s seed=%" PRIu64 " events=%" PRIu64
		 " frames=%" PRIu64, cfg->work->name, svt_mode_arg(cfg->mode), cfg->seed, cfg->events,
		 cfg->guest_frames);
	struct svt_trace_range ram = { .gfn = 0, .count = cfg->guest_frames };
	struct svt_trace_header h = {
		.producer = "shadowvt " PACKAGE_VERSION " synth", .cpu_model = "synthetic",
		.guest = guest, .maxphyaddr = 46, .features = SVT_FEAT_1GPAGE,
		.guest_frames = cfg->guest_frames, .ram = &ram, .nram = 1,
		.policy = cfg->policy, .pool_frames = cfg->pool,
	};
	struct svt_trace_error terr;
	struct svt_trace_writer *w = strcmp(out, "-") == 0 ?
		svt_trace_writer_open_file(stdout, "<stdout>", &h, cfg->level, &terr) :
		svt_trace_writer_open(out, &h, cfg->level, &terr);
	*events = 0;
	if (!w) {
		snprintf(err, errlen, "%s", terr.msg);
		return terr.status == SVT_TRACE_EARG ? SVT_EXIT_USAGE : SVT_EXIT_INPUT;
	}
	if (frame_size)
		svt_trace_writer_set_frame_size(w, (size_t)frame_size);
	char why[512] = "";
	int rc = syn_run(cfg, w, why, sizeof(why));
	*events = svt_trace_writer_seq(w);
	if (svt_trace_writer_close(w, &terr) != SVT_TRACE_OK) {
		snprintf(err, errlen, "%s", terr.msg);
		return SVT_EXIT_INPUT;
	}
	if (rc != 0) {
		snprintf(err, errlen, "synth %s (%s, seed %" PRIu64 "): %s", cfg->work->name,
			 svt_mode_arg(cfg->mode), cfg->seed, why);
		return SVT_EXIT_NEGATIVE;
	}
	return SVT_EXIT_OK;
}

static void list(void)
{
	printf("%-12s %s\n", "WORKLOAD", "WHAT IT DOES");
	for (unsigned i = 0; i < syn_nworkloads; i++)
		printf("%-12s %s\n", syn_workloads[i].name, syn_workloads[i].summary);
}

static int synth_exec(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "workload", required_argument, NULL, 'w' },
		{ "mode", required_argument, NULL, 'm' },
		{ "events", required_argument, NULL, 'n' },
		{ "seed", required_argument, NULL, 's' },
		{ "policy", required_argument, NULL, 'p' },
		{ "frames", required_argument, NULL, 'f' },
		{ "level", required_argument, NULL, 'l' },
		{ "frame-size", required_argument, NULL, 'F' },
		{ "list", no_argument, NULL, 'L' },
		{ "quiet", no_argument, NULL, 'q' },
		{ NULL, 0, NULL, 0 },
	};
	struct syn_config cfg = { .mode = SVT_MODE_4LEVEL, .events = SYN_DEFAULT_EVENTS, .seed = 1,
				  .guest_frames = SYN_DEFAULT_FRAMES, .level = 3 };
	const char *out = NULL;
	bool quiet = false;
	uint64_t v, frame_size = 0;
	int c;

	svt_default_policy(&cfg.policy, &cfg.pool);
	optind = 1;
	opterr = 0;
	while ((c = getopt_long(argc, argv, "o:q", opts, NULL)) != -1) {
		switch (c) {
		case 'w':
			if (!(cfg.work = syn_find_workload(optarg)))
				return svt_usage(&svt_cmd_synth, "unknown workload '%s' (--list shows them)", optarg);
			break;
		case 'm': {
			int m = svt_parse_mode(optarg);
			if (m < 0)
				return svt_usage(&svt_cmd_synth, "unknown mode '%s'", optarg);
			cfg.mode = (enum svt_mode)m;
			break;
		}
		case 'n':
			if (!svt_parse_u64(optarg, &cfg.events) || cfg.events == 0)
				return svt_usage(&svt_cmd_synth, "bad event count '%s'", optarg);
			break;
		case 's':
			if (!svt_parse_u64(optarg, &cfg.seed))
				return svt_usage(&svt_cmd_synth, "bad seed '%s'", optarg);
			break;
		case 'p':
			if (svt_policy_parse(optarg, &cfg.policy, &cfg.pool) != 0)
				return svt_usage(&svt_cmd_synth, "bad policy '%s'", optarg);
			break;
		case 'f':
			if (!svt_parse_u64(optarg, &v) || v < 4096 || v > 262144)
				return svt_usage(&svt_cmd_synth, "guest frames must be 4096..262144");
			cfg.guest_frames = v;
			break;
		case 'l':
			if (!svt_parse_u64(optarg, &v) || v > 19)
				return svt_usage(&svt_cmd_synth, "zstd level must be 0..19");
			cfg.level = (int)v;
			break;
		case 'F':
			if (!svt_parse_u64(optarg, &frame_size) || frame_size < SVT_TRACE_FRAME_MIN ||
			    frame_size > SVT_TRACE_FRAME_MAX)
				return svt_usage(&svt_cmd_synth, "frame size must be %u..%u bytes",
						 SVT_TRACE_FRAME_MIN, SVT_TRACE_FRAME_MAX);
			break;
		case 'L':
			list();
			return SVT_EXIT_OK;
		case 'q':
			quiet = true;
			break;
		case 'o':
			out = optarg;
			break;
		default:
			return svt_usage(&svt_cmd_synth, "unknown option '%s'", argv[optind - 1]);
		}
	}
	if (optind < argc)
		return svt_usage(&svt_cmd_synth, "unexpected argument '%s'", argv[optind]);
	if (!cfg.work)
		return svt_usage(&svt_cmd_synth, "no --workload given (--list shows them)");
	if (!out)
		return svt_usage(&svt_cmd_synth, "no output file given (-o FILE)");
	if (cfg.work->need_ia32e && cfg.mode < SVT_MODE_4LEVEL)
		return svt_usage(&svt_cmd_synth, "workload %s needs --mode 4level or 5level (PCIDs)",
				 cfg.work->name);
	if (cfg.mode == SVT_MODE_2LEVEL && cfg.guest_frames + cfg.pool > 0xf0000)
		return svt_usage(&svt_cmd_synth, "2level guests must fit below 4 GiB");

	char policy[128], err[700];
	uint64_t events = 0;
	svt_policy_format(&cfg.policy, cfg.pool, policy, sizeof(policy));
	int rc = syn_write(&cfg, out, frame_size, &events, err, sizeof(err));
	if (rc != SVT_EXIT_OK) {
		svt_err("%s", err);
		return rc;
	}
	if (!quiet && strcmp(out, "-") != 0)
		fprintf(stderr, "%s: %" PRIu64 " events, workload %s, mode %s, policy %s\n", out,
			events, cfg.work->name, svt_mode_arg(cfg.mode), policy);
	return SVT_EXIT_OK;
}

const struct svt_cmd svt_cmd_synth = {
	"synth",
	"--workload NAME [--mode 2level|pae|4level|5level] [--events N] [--seed S]\n"
	"       [--policy SPEC] [--frames N] [--level L] [--frame-size BYTES] [-q] -o FILE | --list",
	"run a synthetic guest and record its trace",
	synth_exec,
};
