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
	/* SVT_EXIT_* of making it (NEGATIVE: made, with problems) */
	int status;
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
	char whatif[16];                /* recorded, exact, approximate (whatif.h); "": unknown */
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
 * memory.  stop: set by a signal.  prog (NULL: none): the status line,
 * the synth's own with one thread, else the traces made. */
struct svt_progress;
struct run_trace *run_make_traces(const struct svt_experiment *e, unsigned n,
				  bool force, bool quiet, volatile sig_atomic_t *stop,
				  struct svt_progress *prog);
void run_traces_free(struct run_trace *t, size_t n);
/* The traces without making any: each input's path, and for those whose
 * file exists (only that input's, unless only is SIZE_MAX), ok with its
 * checksum and recorded policy.  NULL when out of
 * memory. */
struct run_trace *run_find_traces(const struct svt_experiment *e, size_t only);
/* Make one input's trace (t from run_find_traces), reusing it when
 * unchanged unless force; then identify it.  t->ok says whether it is. */
void run_make_one(const struct svt_experiment *e, struct run_trace *t, bool force);
/* Is input t's trace made and unchanged (its sidecar matches)?  Given
 * traces: whether the file exists. */
bool run_trace_current(const struct svt_experiment *e, struct run_trace *t);

/* Fill jobs (e->ninputs x e->npolicies, trace-major) for the traces:
 * canonical policies, jobs the same as an earlier one (same trace checksum
 * and policy), and, when db is not NULL and not force, jobs whose run db
 * already holds (cached; same key as run's cache: trace checksum, policy,
 * audit level, tool version with the build identity).  0, or -1 with the
 * message in svt_db_error. */
int run_plan(const struct svt_experiment *e, struct run_trace *traces, struct run_job *jobs,
	     struct svt_db *db, bool force);

/* run-slurm.c: shadowvt run --slurm (docs/cluster.md). */
struct run_slurm_opts {
	const char *partition, *time, *mem;     /* NULL: the <execution> element's, else Slurm's */
	unsigned array_max;                     /* 0: likewise */
	const char *results;                    /* --results as given (passed on to the jobs) */
	bool quiet;
};
/* Submit what is missing: trace tasks, replay tasks, the merge. */
int run_slurm_submit(const struct svt_experiment *e, const struct run_slurm_opts *o);
/* One array task (--slurm-task LIST): the list line SLURM_ARRAY_TASK_ID names. */
int run_slurm_task(const struct svt_experiment *e, const char *list, volatile sig_atomic_t *stop);
/* The merge (--slurm-merge): fold every shard into the database; name the
 * missing.  SVT_EXIT_OK when every run is in the database. */
int run_slurm_merge(const struct svt_experiment *e, bool quiet);
/* run --status: every run done, waiting for the merge, pending, running,
 * failed or not submitted. */
int run_slurm_status(const struct svt_experiment *e);
/* The directory the cluster jobs keep their state in: the database's path
 * with ".slurm" in place of its extension. */
void run_slurm_dir(const struct svt_experiment *e, char *buf, size_t len);
/* Directories up to and including path (mkdir -p); 0 or -1 (errno). */
int run_mkdirs(const char *path);

/* run-junit.c: the JUnit XML report of the jobs, written to path
 * atomically (a temporary file, renamed).  0, or -1 with the message in err. */
int run_junit(const char *path, const struct svt_experiment *e, struct run_job *jobs, size_t njobs,
	      struct svt_db *db, char *err, size_t errlen);
/* Is this invariant checked at this audit level for this run? */
bool run_checks(enum svt_audit_level a, const char *inv, bool recorded_policy);

#endif
