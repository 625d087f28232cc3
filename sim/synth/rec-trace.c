/*
 * rec-trace.c — the recorder writing into a trace file (rec-trace.h).
 */
#include <stdlib.h>

#include "rec-trace.h"

static void to_writer(void *ctx, const struct svt_trace_event *ev)
{
	struct svt_rec_trace *rt = ctx;
	if (!rt->failed && svt_trace_write(rt->w, ev) != SVT_TRACE_OK)
		rt->failed = true;
}

#define REC_HASH 2048

int svt_rec_trace_init(struct svt_rec_trace *rt, struct svt_machine *m, struct svt_trace_writer *w)
{
	rt->w = w;
	rt->failed = false;
	rt->slots = calloc(SVT_REC_SLOTS_DEFAULT, sizeof(*rt->slots));
	rt->hash = calloc(REC_HASH, sizeof(*rt->hash));
	struct svt_recorder_config c = {
		.raw = &m->env, .slots = rt->slots, .nslots = SVT_REC_SLOTS_DEFAULT,
		.hash = rt->hash, .nhash = REC_HASH, .note_limit = m->mem.frames << 12,
		.emit = to_writer, .emit_ctx = rt,
		.evidence = SVT_EVIDENCE_WALK | SVT_EVIDENCE_STORES | SVT_EVIDENCE_ACTIONS |
			    SVT_EVIDENCE_MODE,
	};
	if (!rt->slots || !rt->hash || !svt_recorder_init(&rt->r, &c)) {
		svt_rec_trace_free(rt);
		return -1;
	}
	return 0;
}

void svt_rec_trace_free(struct svt_rec_trace *rt)
{
	free(rt->slots);
	free(rt->hash);
	rt->slots = NULL;
	rt->hash = NULL;
}
