/*
 * synth-write.c — a synthetic guest's run written as a trace file with
 * the header `shadowvt synth` gives it (used by synth and by experiments).
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "config.h"
#include "outfile.h"
#include "sim.h"
#include "synth.h"

int syn_write(const struct syn_config *cfg, const char *out, uint64_t frame_size, uint64_t *events,
	      char *err, size_t errlen)
{
	char guest[200];
	snprintf(guest, sizeof(guest), "synth workload=%s mode=%s seed=%" PRIu64 " events=%" PRIu64
		 " frames=%" PRIu64, cfg->work->name, svt_mode_name(cfg->mode), cfg->seed, cfg->events,
		 cfg->guest_frames);
	struct svt_trace_range ram = { .gfn = 0, .count = cfg->guest_frames };
	struct svt_trace_header h = {
		.producer = "shadowvt " PACKAGE_VERSION " synth", .cpu_model = "synthetic",
		.guest = guest, .maxphyaddr = 46, .features = SVT_FEAT_1GPAGE,
		.guest_frames = cfg->guest_frames, .ram = &ram, .nram = 1,
		.policy = cfg->policy, .pool_frames = cfg->pool,
		.evidence = SVT_EVIDENCE_WALK | SVT_EVIDENCE_STORES,
	};
	struct svt_trace_error terr;
	struct svt_outfile o;
	*events = 0;
	if (svt_outfile_open(&o, out, cfg->signals ? SVT_OUTFILE_SIGNALS : 0, err, errlen) != 0)
		return SVT_EXIT_INPUT;
	struct svt_trace_writer *w = svt_trace_writer_open_file(o.f, strcmp(out, "-") == 0 ?
								"<stdout>" : out, &h, cfg->level, &terr);
	if (!w) {
		svt_outfile_abort(&o);
		snprintf(err, errlen, "%s", terr.msg);
		return terr.status == SVT_TRACE_EARG ? SVT_EXIT_USAGE : SVT_EXIT_INPUT;
	}
	if (frame_size)
		svt_trace_writer_set_frame_size(w, (size_t)frame_size);
	char why[512] = "";
	int rc = syn_run(cfg, w, why, sizeof(why));
	*events = svt_trace_writer_seq(w);
	if (svt_trace_writer_close(w, &terr) != SVT_TRACE_OK) {
		svt_outfile_abort(&o);
		snprintf(err, errlen, "%s", terr.msg);
		return SVT_EXIT_INPUT;
	}
	/* a guest that misbehaved still leaves its trace, closed: exit 1 */
	if (svt_outfile_commit(&o, err, errlen) != 0)
		return SVT_EXIT_INPUT;
	if (rc != 0) {
		snprintf(err, errlen, "synth %s (%s, seed %" PRIu64 "): %s", cfg->work->name,
			 svt_mode_name(cfg->mode), cfg->seed, why);
		return SVT_EXIT_NEGATIVE;
	}
	return SVT_EXIT_OK;
}
