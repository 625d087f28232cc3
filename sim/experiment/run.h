/*
 * run.h — shared by the files of `shadowvt run` (shadowvt(1),
 * shadowvt-experiment(5)): cmd-run.c (options, the plan, replaying, the
 * summary), run-inputs.c (synthesising and recording traces, reusing them
 * when their inputs are unchanged) and run-junit.c (the JUnit report).
 */
#ifndef SVT_RUN_H
#define SVT_RUN_H

#include <signal.h>
#include <stdbool.h>
#include <stdint.h>

#include "db.h"
#include "experiment.h"


/* One input's trace. */
struct run_trace {
	const struct svt_exp_input *in;
	char *path;                     /* the trace file */
	bool ok;                        /* there is a trace to replay */
	int status;                     /* SVT_EXIT_* of making it (NEGATIVE: made, with problems) */
	const char *how;                /* "synthesised", "recorded", "reused", "given" */
	char checksum[32];              /* "crc32c:XXXXXXXX" */
	char recorded[128];             /* the policy in its header, canonical; "" if unreadable */
	char message[700];              /* why it could not be made, or its problems */
};

/* A run as the database holds it (or as the replay said, when it stored none). */
struct run_row {
	int64_t id;                     /* 0: not in the database */
	enum svt_db_run_status status;  /* not-run: never replayed */
	bool recorded_policy;
	uint64_t events, violations, exits, faults;
	bool has_totals;                /* exits and faults known */
	int64_t divergence;             /* -1 if none */
	double seconds;
	char message[700];
};

/* One trace under one policy. */
struct run_job {
	struct run_trace *t;
	const struct svt_exp_policy *p;
	char canon[128];                /* the policy it replays under */
	bool cached;                    /* found in the database, not replayed */
	int same_as;                    /* >= 0: the job with the same trace and policy */
	int exit;                       /* SVT_EXIT_* of the replay */
	struct run_row row;
};

/* run-inputs.c: make every input's trace (synth in n threads, guests one
 * at a time), reusing what is unchanged unless force.  Returns the traces
 * (e->ninputs of them; free with run_traces_free), NULL when out of
 * memory.  stop: set by a signal. */
struct run_trace *run_make_traces(const struct svt_experiment *e, unsigned n, bool force, bool quiet,
				  volatile sig_atomic_t *stop);
void run_traces_free(struct run_trace *t, size_t n);
/* Directories up to and including path (mkdir -p); 0 or -1 (errno). */
int run_mkdirs(const char *path);

/* run-junit.c: the JUnit XML report of the jobs, written to path
 * atomically (a temporary file, renamed).  0, or -1 with the message in err. */
int run_junit(const char *path, const struct svt_experiment *e, struct run_job *jobs, size_t njobs,
	      struct svt_db *db, char *err, size_t errlen);
/* Is this invariant checked at this audit level for this run? */
bool run_checks(enum svt_audit_level a, const char *inv, bool recorded_policy);

#endif
