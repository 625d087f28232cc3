/*
 * rec-trace.h — the recorder (common/recorder.h) writing into a trace
 * file: what `shadowvt synth` records with.  The mirror is allocated here
 * (SVT_REC_SLOTS_DEFAULT pages, the hypervisor's size, so synthetic traces
 * are made exactly as live ones), and every event goes to the writer.
 */
#ifndef SVT_REC_TRACE_H
#define SVT_REC_TRACE_H

#include <stdbool.h>

#include "machine.h"
#include "recorder.h"
#include "trace.h"

struct svt_rec_trace {
	struct svt_recorder r;          /* call svt_recorder_* on this */
	struct svt_rec_slot *slots;
	int32_t *hash;
	struct svt_trace_writer *w;
	bool failed;                    /* the writer failed */
};

/* Record a machine's guest memory into w.  0, or -1 when out of memory. */
int svt_rec_trace_init(struct svt_rec_trace *rt, struct svt_machine *m, struct svt_trace_writer *w);
void svt_rec_trace_free(struct svt_rec_trace *rt);

#endif
