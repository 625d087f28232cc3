/*
 * replay-mem.h — what the replay tests share: replaying a trace they made
 * in memory (tests/trace-gen.h) and keeping the printed report, to look
 * for lines in.  Linked into the tests that link the replay library
 * (trace-gen.c is also linked into tests that do not, so this is apart).
 */
#ifndef SVT_REPLAY_MEM_H
#define SVT_REPLAY_MEM_H

#include "replay.h"
#include "trace-gen.h"

/* Replay the trace in b (named "mem") at audit level `audit`, printing up
 * to 100 violations: the result in res, and the printed report, NUL
 * terminated, returned (to free). */
char *replay_mem(const struct tg_buf *b, enum svt_audit_level audit,
		 struct svt_replay_result *res);

#endif /* SVT_REPLAY_MEM_H */
