/*
 * synth-write.c — a synthetic guest's run written as a trace file with
 * the header `shadowvt synth` gives it (used by synth and by experiments).
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "config.h"
#include "outfile.h"
#include "progress.h"
#include "sim.h"
#include "synth.h"

/* With a status line, the writer's bytes pass through here on their way to
 * the file: each finished frame is a moment to say how far the run is
 * (syn_run itself knows nothing of terminals). */
struct sink {
	FILE *f;
	const struct svt_trace_writer *w;       /* set once the writer is open */
	const struct syn_config *cfg;
	uint64_t bytes;
};

static int progress_sink(void *ctx, const void *buf, size_t len)
{
	struct sink *s = ctx;

	if (fwrite(buf, 1, len, s->f) != len) {
		if (errno == 0)
			errno = EIO;
		return -1;
	}
	s->bytes += len;
	if (s->w && svt_progress_due(s->cfg->progress)) {
		uint64_t done = svt_trace_writer_seq(s->w), total = s->cfg->events;
		double t = svt_progress_elapsed(s->cfg->progress);
		char eta[32], size[32];
		svt_progress_eta(eta, sizeof(eta), done, total, t);
		svt_progress_bytes(size, sizeof(size), s->bytes);
		svt_progress_draw(s->cfg->progress,
				  "synth %s: %" PRIu64 "/%" PRIu64 " events (%.0f%%), %.2f M/s, "
				  "%s, ETA %s", s->cfg->work->name, done, total,
				  total ? 100.0 * (double)(done < total ? done : total) /
					  (double)total : 0.0,
				  t > 0 ? (double)done / t / 1e6 : 0.0, size, eta);
	}
	return 0;
}

int syn_write(const struct syn_config *cfg, const char *out, uint64_t frame_size, uint64_t *events,
	      char *err, size_t errlen)
{
	char guest[200];
	snprintf(guest, sizeof(guest), "synth workload=%s mode=%s seed=%" PRIu64 " events=%" PRIu64
		 " frames=%" PRIu64, cfg->work->name, svt_mode_name(cfg->mode), cfg->seed,
		 cfg->events, cfg->guest_frames);
	struct svt_trace_range ram = { .gfn = 0, .count = cfg->guest_frames };
	struct svt_trace_header h = {
		.producer = "shadowvt " PACKAGE_VERSION " synth", .cpu_model = "synthetic",
		.guest = cfg->guest ? cfg->guest : guest, .maxphyaddr = 46,
		.features = SYN_FEATURES, .guest_frames = cfg->guest_frames, .ram = &ram, .nram = 1,
		.policy = cfg->policy, .pool_frames = cfg->pool,
		.evidence = SVT_EVIDENCE_WALK | SVT_EVIDENCE_STORES | SVT_EVIDENCE_MODE |
			    (cfg->no_actions || cfg->work->no_actions ? 0 : SVT_EVIDENCE_ACTIONS),
	};
	struct svt_trace_error terr;
	struct svt_outfile o;
	*events = 0;
	if (svt_outfile_open(&o, out, cfg->signals ? SVT_OUTFILE_SIGNALS : 0, err, errlen) != 0)
		return SVT_EXIT_INPUT;
	const char *name = strcmp(out, "-") == 0 ? "<stdout>" : out;
	struct sink sink = { .f = o.f, .cfg = cfg };
	struct svt_trace_writer *w = cfg->progress ?
		svt_trace_writer_open_sink(progress_sink, &sink, name, &h, cfg->level, &terr) :
		svt_trace_writer_open_file(o.f, name, &h, cfg->level, &terr);
	if (!w) {
		svt_outfile_abort(&o);
		snprintf(err, errlen, "%s", terr.msg);
		return terr.status == SVT_TRACE_EARG ? SVT_EXIT_USAGE : SVT_EXIT_INPUT;
	}
	sink.w = w;
	if (frame_size)
		svt_trace_writer_set_frame_size(w, (size_t)frame_size);
	char why[512] = "";
	int rc = syn_run(cfg, w, why, sizeof(why));
	*events = svt_trace_writer_seq(w);
	int closed = svt_trace_writer_close(w, &terr);  /* (the commit flushes o.f) */
	if (cfg->progress)
		svt_progress_end(cfg->progress);
	if (closed != SVT_TRACE_OK) {
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
