/*
 * cmd-run.c — `shadowvt run`: carry out an experiment file
 * (shadowvt-experiment(5)): make its traces (run-inputs.c), replay every
 * trace under every policy into one results database, reusing finished
 * runs whose trace (by checksum), policy, audit level and tool version are
 * the same, print a summary, and optionally a JUnit report (run-junit.c).
 */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "config.h"
#include "db.h"
#include "experiment.h"
#include "export.h"
#include "policy.h"
#include "progress.h"
#include "replay.h"
#include "run.h"
#include "sim.h"
#include "synth.h"

static volatile sig_atomic_t stop_flag;

static void on_signal(int sig)
{
	(void)sig;
	stop_flag = 1;
}


static void worse(int *worst, int st)
{
	if (svt_exit_rank(st) > svt_exit_rank(*worst))
		*worst = st;
}

/* ---- the plan ---------------------------------------------------------------- */

static void print_plan(const struct svt_experiment *e)
{
	printf("experiment %s (%s): valid\n", e->name, e->file);
	if (e->description)
		printf("description: %s\n", e->description);
	printf("results: %s; traces made in %s; audit %s\n", e->db, e->traces,
	       svt_audit_name(e->audit));
	if (e->partition || e->time || e->mem || e->array_max)
		printf("--slurm defaults: partition %s, time %s, mem %s, array-max %u%s\n",
		       e->partition ? e->partition : "(Slurm's)", e->time ? e->time : "(Slurm's)",
		       e->mem ? e->mem : "(Slurm's)", e->array_max,
		       e->array_max ? "" : " (no limit)");
	printf("inputs (%zu):\n", e->ninputs);
	for (size_t i = 0; i < e->ninputs; i++) {
		const struct svt_exp_input *in = &e->inputs[i];
		char pol[128] = "the hypervisor's default";
		if (in->kind != SVT_EXP_GUEST || in->policy_given)
			svt_policy_format(&in->policy, in->pool, pol, sizeof(pol));
		printf("  %-16s ", in->name);
		switch (in->kind) {
		case SVT_EXP_SYNTH:
			printf("synth %s, mode %s, %" PRIu64 " events, seed %" PRIu64 ", %" PRIu64
			       " frames, policy %s -> %s/%s.svt\n", in->workload,
			       svt_mode_name(in->mode), in->events, in->seed, in->frames, pol,
			       e->traces, in->name);
			break;
		case SVT_EXP_GUEST:
			printf("guest %s%s%s%s, args \"%s\", policy %s: recorded under %s "
			       "(timeout %" PRIu64 " s) -> %s/%s.svt\n", in->kernel,
			       in->shipped ? " (shipped " : "", in->shipped ? in->shipped : "",
			       in->shipped ? ")" : "", in->args, pol, e->engine, e->timeout,
			       e->traces, in->name);
			break;
		case SVT_EXP_TRACE:
			printf("trace %s\n", in->path);
			break;
		}
	}
	printf("policies (%zu):\n", e->npolicies);
	for (size_t i = 0; i < e->npolicies; i++)
		printf("  %-16s %s\n", e->policies[i].name, e->policies[i].recorded ?
		       "the policy each trace was recorded with" : e->policies[i].canon);
	if (e->sweep_dropped)
		printf("  (%u sweep point(s) left out: the same as a policy listed before)\n",
		       e->sweep_dropped);
	printf("runs: %zu inputs x %zu policies = %zu\n", e->ninputs, e->npolicies,
	       e->ninputs * e->npolicies);
}

/* ---- replaying ------------------------------------------------------------- */

struct pool {
	const struct svt_experiment *e;
	struct run_job *jobs;
	size_t njobs, next, done, todo;
	size_t skipped;         /* cached or shared: not replayed */
	size_t failed;          /* replays that gave no verdict (bad input, not stored, ...) */
	unsigned active;        /* worker threads still working */
	bool quiet;
	pthread_mutex_t lock;
	int worst;
	struct svt_progress prog;       /* the status line (on: drawn by the main thread) */
	uint64_t events;        /* read by the replays so far (replay.h events_seen) */
};

/* The status line: replays done, cached, failed, the rate (under p->lock). */
static void draw(struct pool *p)
{
	uint64_t ev = __atomic_load_n(&p->events, __ATOMIC_RELAXED);
	double t = svt_progress_elapsed(&p->prog);
	char eta[32], rate[32];

	svt_progress_eta(eta, sizeof(eta), p->done, p->todo, t);
	svt_progress_rate(rate, sizeof(rate), ev, t);
	svt_progress_draw(&p->prog, "run %s: %zu/%zu replayed, %zu cached, %zu failed, "
			  "%s events/s, ETA %s", p->e->name, p->done, p->todo,
			  p->skipped, p->failed, rate, eta);
}

static void replay_one(struct pool *p, struct run_job *j, struct svt_db *db)
{
	struct svt_replay_config cfg = {
		.path = j->t->path, .policy_given = !j->p->recorded, .policy = j->p->policy,
		.pool = j->p->pool, .audit = p->e->audit, .db = db, .show = 0, .store = 1000,
		.stop = &stop_flag, .events_seen = p->prog.on ? &p->events : NULL,
	};
	struct svt_replay_result *res = malloc(sizeof(*res));

	if (!res) {
		j->exit = SVT_EXIT_INPUT;
		snprintf(j->row.message, sizeof(j->row.message), "out of memory");
		j->row.status = SVT_RUN_NOT_RUN;
		return;
	}
	j->exit = svt_replay(&cfg, res);
	if (j->exit == SVT_EXIT_NEGATIVE && res->status == SVT_RUN_INCOMPLETE)
		j->exit = SVT_EXIT_INTERRUPTED;
	/* What the database will say, for a run it does not hold. */
	j->row.id = res->run;
	j->row.status = res->status;
	j->row.recorded_policy = !cfg.policy_given || strcmp(res->policy, j->t->recorded) == 0;
	snprintf(j->row.whatif, sizeof(j->row.whatif), "%s", svt_whatif_name(res->whatif));
	j->row.events = res->events;
	j->row.violations = res->violations + res->divergences;
	j->row.divergence = res->first_divergence;
	j->row.seconds = res->seconds;
	snprintf(j->row.message, sizeof(j->row.message), "%s", res->message);
	if (res->store_error[0]) {      /* a result not stored is exit 3 (shadowvt(1)) */
		snprintf(j->row.message, sizeof(j->row.message), "not stored: %s",
			 res->store_error);
		j->exit = SVT_EXIT_INPUT;
	}
	free(res);
}

static void work(struct pool *p)
{
	struct svt_db *db;
	char msg[600];
	int st;

	if (!(db = svt_db_open(p->e->db, true, &st, msg, sizeof(msg)))) {
		pthread_mutex_lock(&p->lock);
		svt_progress_print(&p->prog, stderr, "shadowvt run: %s\n", msg);
		worse(&p->worst, SVT_EXIT_INPUT);
		pthread_mutex_unlock(&p->lock);
		return;
	}
	for (;;) {
		pthread_mutex_lock(&p->lock);
		while (p->next < p->njobs &&
		       (p->jobs[p->next].cached || p->jobs[p->next].same_as >= 0 ||
			!p->jobs[p->next].t->ok))
			p->next++;
		size_t i = p->next < p->njobs && !stop_flag ? p->next++ : SIZE_MAX;
		pthread_mutex_unlock(&p->lock);
		if (i == SIZE_MAX)
			break;
		struct run_job *j = &p->jobs[i];
		replay_one(p, j, db);
		pthread_mutex_lock(&p->lock);
		p->done++;
		p->failed += j->exit == SVT_EXIT_INPUT || j->row.status == SVT_RUN_BAD_INPUT ||
			     j->row.status == SVT_RUN_NOT_RUN;
		if (!p->quiet)  /* on a line of its own, the status line drawn again below it */
			svt_progress_print(&p->prog, stdout, "[%zu/%zu] %s under %s: %s (%.2f s)\n",
					   p->done, p->todo, j->t->in->name, j->p->name,
					   svt_db_run_status_name(j->row.status), j->row.seconds);
		fflush(stdout);
		pthread_mutex_unlock(&p->lock);
	}
	if (svt_db_flush(db) != 0) {
		pthread_mutex_lock(&p->lock);
		svt_progress_print(&p->prog, stderr, "shadowvt run: %s\n", svt_db_error(db));
		worse(&p->worst, SVT_EXIT_INPUT);
		pthread_mutex_unlock(&p->lock);
	}
	svt_db_close(db);
}

/* One replaying thread; the count of them is what the drawing thread waits on. */
static void *worker(void *arg)
{
	struct pool *p = arg;

	work(p);
	pthread_mutex_lock(&p->lock);
	p->active--;
	pthread_mutex_unlock(&p->lock);
	return NULL;
}

/* The replays in n threads; with the status line on, the calling thread
 * draws it while they work, else it is one of them. */
static void replay_all(struct pool *p, unsigned n)
{
	pthread_t tid[256];
	unsigned started = 0, want = p->prog.on ? n : n - 1;

	pthread_mutex_lock(&p->lock);
	p->active = want + !p->prog.on;
	pthread_mutex_unlock(&p->lock);
	for (unsigned i = 0; i < want && i < 256; i++)
		if (pthread_create(&tid[started], NULL, worker, p) == 0)
			started++;
	pthread_mutex_lock(&p->lock);
	p->active -= want - started;
	p->active += p->prog.on && started == 0;        /* then this thread works after all */
	pthread_mutex_unlock(&p->lock);
	if (!p->prog.on || started == 0) {
		worker(p);
	} else {
		const struct timespec tick = { .tv_nsec = 50 * 1000 * 1000 };
		for (;;) {
			pthread_mutex_lock(&p->lock);
			unsigned active = p->active;
			if (active)
				draw(p);
			pthread_mutex_unlock(&p->lock);
			if (!active)
				break;
			nanosleep(&tick, NULL);
		}
	}
	for (unsigned i = 0; i < started; i++)
		pthread_join(tid[i], NULL);
	svt_progress_end(&p->prog);
}

/* ---- the database's view of a run ------------------------------------------ */

static int read_row(struct svt_db *db, struct run_row *r)
{
	struct svt_db_run_info *in = malloc(sizeof(*in));

	if (in == NULL)
		return svt_db_fail(db, "out of memory");
	if (svt_db_run_info(db, r->id, in) != 0) {
		free(in);
		return -1;
	}
	r->status = in->status;
	r->recorded_policy = in->recorded_policy;
	snprintf(r->whatif, sizeof(r->whatif), "%s", in->whatif);
	r->events = in->events;
	r->violations = in->violations;
	r->divergence = in->divergence_seq;
	r->seconds = in->seconds;
	snprintf(r->message, sizeof(r->message), "%s", in->message);
	r->has_totals = in->has_totals;
	r->exits = in->totals.exits;
	r->faults = in->totals.ctr.faults;
	free(in);
	return 0;
}

static int status_exit(enum svt_db_run_status status)
{
	switch (status) {
	case SVT_RUN_CLEAN:
		return SVT_EXIT_OK;
	case SVT_RUN_VIOLATIONS:
		return SVT_EXIT_NEGATIVE;
	case SVT_RUN_INCOMPLETE:
	case SVT_RUN_NOT_RUN:
		return SVT_EXIT_INTERRUPTED;
	case SVT_RUN_BAD_INPUT:
	case SVT_RUN_RUNNING:
		break;
	}
	return SVT_EXIT_INPUT;
}

/* ---- the summary ------------------------------------------------------------ */

/* The runs counted by outcome (the summary's last line, run --json). */
struct tally {
	unsigned clean, viol, bad, other;       /* by status; other: incomplete or not run */
	unsigned replayed, cached, shared;
	unsigned exact, approx;                 /* what-ifs (docs/replay.md) */
	unsigned traces_failed;                 /* inputs whose trace could not be made */
};

static bool approximate(const struct run_row *r)
{
	return !r->recorded_policy && strcmp(r->whatif, "exact") != 0 &&
	       r->status != SVT_RUN_NOT_RUN;
}

static void tally(const struct svt_experiment *e, const struct run_job *jobs, size_t njobs,
		  struct tally *t)
{
	memset(t, 0, sizeof(*t));
	for (size_t i = 0; i < njobs; i++) {
		const struct run_job *j = &jobs[i];
		const struct run_row *r = &j->row;
		t->clean += r->status == SVT_RUN_CLEAN;
		t->viol += r->status == SVT_RUN_VIOLATIONS;
		t->bad += r->status == SVT_RUN_BAD_INPUT;
		t->other += r->status != SVT_RUN_CLEAN && r->status != SVT_RUN_VIOLATIONS &&
			    r->status != SVT_RUN_BAD_INPUT;
		t->shared += j->same_as >= 0;
		t->cached += j->cached && j->same_as < 0;
		t->replayed += !j->cached && j->same_as < 0 && j->t->ok &&
			       r->status != SVT_RUN_NOT_RUN;
		t->exact += !r->recorded_policy && strcmp(r->whatif, "exact") == 0;
		t->approx += approximate(r);
	}
	for (size_t i = 0; e->npolicies && i < njobs; i += e->npolicies)
		t->traces_failed += !jobs[i].t->ok;
}

static void summary(const struct svt_experiment *e, const struct run_job *jobs, size_t njobs)
{
	int wt = 5, wp = 6;
	struct tally t;

	for (size_t i = 0; i < njobs; i++) {
		int a = (int)strlen(jobs[i].t->in->name), b = (int)strlen(jobs[i].p->name);
		wt = a > wt ? a : wt;
		wp = b > wp ? b : wp;
	}
	printf("\nexperiment %s: %zu runs, audit %s, results in %s\n", e->name, njobs,
	       svt_audit_name(e->audit), e->db);
	printf("%-*s  %-*s  %-10s %10s %10s %10s %10s %8s\n", wt, "TRACE", wp, "POLICY", "STATUS",
	       "EVENTS", "VIOLATIONS", "EXITS", "FAULTS", "SECONDS");
	for (size_t i = 0; i < njobs; i++) {
		const struct run_job *j = &jobs[i];
		const struct run_row *r = &j->row;
		char exits[24] = "-", faults[24] = "-";
		if (r->has_totals) {
			snprintf(exits, sizeof(exits), "%" PRIu64, r->exits);
			snprintf(faults, sizeof(faults), "%" PRIu64, r->faults);
		}
		printf("%-*s  %-*s  %-10s %10" PRIu64 " %10" PRIu64 " %10s %10s %8.2f%s\n", wt,
		       j->t->in->name, wp, j->p->name, svt_db_run_status_name(r->status), r->events,
		       r->violations, exits, faults, r->seconds,
		       j->same_as >= 0 ? "  shared" : j->cached ? "  cached" : "");
		if (r->message[0] && r->status != SVT_RUN_CLEAN)
			printf("%-*s  %-*s  %s\n", wt, "", wp, "", r->message);
		if (r->divergence >= 0)
			printf("%-*s  %-*s  first divergence (INV-REPLAY) at event "
			       "%" PRId64 "\n", wt, "", wp, "", r->divergence);
		if (!r->recorded_policy && strcmp(r->whatif, "exact") == 0) {
			printf("%-*s  %-*s  what-if exact: recording under %s gives these "
			       "counters\n", wt, "", wp, "", j->p->name);
		} else if (approximate(r)) {
			printf("%-*s  %-*s  what-if APPROXIMATE: not what recording under %s "
			       "measures\n", wt, "", wp, "", j->p->name);
		}
	}
	tally(e, jobs, njobs, &t);
	if (t.approx)
		printf("WARNING: %u runs are APPROXIMATE what-ifs, NOT MEASUREMENTS: a trace "
		       "holds only the exits its own policy took, so a replay under another policy "
		       "cannot make the exits that policy would add; no error bound is proven "
		       "(shadowvt(1), replay)\n", t.approx);
	printf("%zu runs: %u clean, %u with violations, %u bad input, %u incomplete or not run; "
	       "%u replayed, %u cached, %u shared\n", njobs, t.clean, t.viol, t.bad, t.other,
	       t.replayed, t.cached, t.shared);
}

static void json_str(const char *s)
{
	if (s && *s)
		svt_json_str(stdout, s, strlen(s));
	else
		fputs("null", stdout);
}

/* run --json: the summary as one JSON object (shadowvt(1), run). */
static void summary_json(const struct svt_experiment *e, const struct run_job *jobs, size_t njobs,
			 int status)
{
	struct tally t;

	tally(e, jobs, njobs, &t);
	fputs("{\"experiment\": ", stdout);
	json_str(e->name);
	fputs(", \"file\": ", stdout);
	json_str(e->file);
	fputs(", \"db\": ", stdout);
	json_str(e->db);
	printf(", \"audit\": \"%s\", \"runs\": %zu, \"clean\": %u, \"violations\": %u, "
	       "\"bad_input\": %u, \"incomplete\": %u, \"failed\": %u, \"replayed\": %u, "
	       "\"cached\": %u, \"shared\": %u, \"traces_failed\": %u, \"whatif_exact\": %u, "
	       "\"whatif_approximate\": %u, \"exit_status\": %d, \"results\": [",
	       svt_audit_name(e->audit), njobs, t.clean, t.viol, t.bad, t.other, t.bad + t.other,
	       t.replayed, t.cached, t.shared, t.traces_failed, t.exact, t.approx, status);
	for (size_t i = 0; i < njobs; i++) {
		const struct run_job *j = &jobs[i];
		const struct run_row *r = &j->row;
		fputs(i ? ",\n  {\"trace\": " : "\n  {\"trace\": ", stdout);
		json_str(j->t->in->name);
		fputs(", \"policy\": ", stdout);
		json_str(j->p->name);
		fputs(", \"spec\": ", stdout);
		json_str(j->canon);
		printf(", \"status\": \"%s\", \"events\": %" PRIu64 ", \"violations\": %" PRIu64,
		       svt_db_run_status_name(r->status), r->events, r->violations);
		if (r->has_totals)
			printf(", \"exits\": %" PRIu64 ", \"faults\": %" PRIu64,
			       r->exits, r->faults);
		else
			fputs(", \"exits\": null, \"faults\": null", stdout);
		printf(", \"seconds\": %.3f, \"cached\": %s, \"shared\": %s, "
		       "\"recorded_policy\": %s, \"whatif\": ", r->seconds,
		       j->cached && j->same_as < 0 ? "true" : "false",
		       j->same_as >= 0 ? "true" : "false", r->recorded_policy ? "true" : "false");
		json_str(r->whatif);
		fputs(", \"first_divergence\": ", stdout);
		if (r->divergence >= 0)
			printf("%" PRId64, r->divergence);
		else
			fputs("null", stdout);
		fputs(", \"run\": ", stdout);
		if (r->id > 0)
			printf("%" PRId64, r->id);
		else
			fputs("null", stdout);
		fputs(", \"message\": ", stdout);
		json_str(r->status != SVT_RUN_CLEAN ? r->message : NULL);
		fputc('}', stdout);
	}
	fputs(njobs ? "\n]}\n" : "]}\n", stdout);
}

/* ---- the command ------------------------------------------------------------- */

static const struct svt_opt run_opts[] = {
	{ SVT_OPT_FLAG("check", 0), .help = "validate the file and print the plan, do nothing" },
	{ SVT_OPT_FLAG("force", 0), .help = "make every trace and replay every run again" },
	{ SVT_OPT_PATH("results", 0, "DIR"), .help = "resolve <results> paths against DIR" },
	{ SVT_OPT_PATH("junit", 0, "FILE"), .help = "also write a JUnit XML report" },
	{ SVT_OPT_NUM("jobs", 'j', "N", 1, 256), .help = "synthesise and replay N at a time" },
	{ SVT_OPT_FLAG("quiet", 'q'), .help = "print only the summary (no progress line)" },
	{ SVT_OPT_FLAG("json", 0),
	  .help = "the summary as a JSON object, and nothing else on stdout" },
	{ SVT_OPT_FLAG("slurm", 0),
	  .help = "submit the experiment to a Slurm cluster (SLURM_CONF)" },
	{ SVT_OPT_STRING("partition", 0, "P"), .help = "--slurm: the partition to submit to" },
	{ SVT_OPT_NUM("array-max", 0, "N", 1, 100000),
	  .help = "--slurm: at most N tasks of a job array running at once" },
	{ SVT_OPT_STRING("time", 0, "T"),
	  .help = "--slurm: each task's time limit (sbatch --time)" },
	{ SVT_OPT_STRING("mem", 0, "M"), .help = "--slurm: each task's memory (sbatch --mem)" },
	{ SVT_OPT_FLAG("status", 0), .help = "show what the cluster jobs have done, run, failed" },
	{ SVT_OPT_PATH("slurm-task", 0, "LIST"),
	  .help = "(the cluster jobs') do the task of LIST that SLURM_ARRAY_TASK_ID names" },
	{ SVT_OPT_FLAG("slurm-merge", 0),
	  .help = "(the cluster jobs') fold the shards into the results database" },
	{ .name = NULL },
};

static const struct svt_posarg run_args[] = {
	{ "EXPERIMENT.xml", "experiment file", 0 },
	{ .name = NULL },
};

static int run_exec(const struct svt_args *a)
{
	const char *results = svt_args_str(a, "results", NULL),
		*junit = svt_args_str(a, "junit", NULL);
	bool check = svt_args_has(a, "check"), force = svt_args_has(a, "force");
	bool quiet = svt_args_has(a, "quiet"), slurm = svt_args_has(a, "slurm");
	bool json = svt_args_has(a, "json");
	bool status = svt_args_has(a, "status"), merge = svt_args_has(a, "slurm-merge");
	const char *task = svt_args_str(a, "slurm-task", NULL);
	uint64_t n = svt_args_num(a, "jobs", 1);
	struct run_slurm_opts so = {
		.partition = svt_args_str(a, "partition", NULL),
		.time = svt_args_str(a, "time", NULL), .mem = svt_args_str(a, "mem", NULL),
		.array_max = (unsigned)svt_args_num(a, "array-max", 0), .results = results,
		.quiet = quiet,
	};

	if ((so.partition || so.time || so.mem || so.array_max) && !slurm) {
		svt_err("run: --partition, --array-max, --time and --mem go with --slurm");
		return SVT_EXIT_USAGE;
	}
	if (force && (slurm || status || merge || task)) {
		svt_err("run: --force goes without --slurm: to redo an experiment on a "
			"cluster, give it a new --results directory");
		return SVT_EXIT_USAGE;
	}
	if (slurm + status + merge + (task != NULL) + check > 1) {
		svt_err("run: --slurm, --status, --slurm-task, --slurm-merge and --check exclude "
			"each other");
		return SVT_EXIT_USAGE;
	}
	if (json && (slurm || status || task || check)) {
		svt_err("run: --json goes with a run here or --slurm-merge, not with "
			"--slurm, --status, --slurm-task or --check");
		return SVT_EXIT_USAGE;
	}
	struct svt_experiment *e = svt_exp_load(a->argv[0], results, stderr);
	if (!e)
		return SVT_EXIT_INPUT;
	if (check) {
		print_plan(e);
		svt_exp_free(e);
		return SVT_EXIT_OK;
	}
	if (status || task || slurm) {
		int rc;
		struct sigaction sa = { .sa_handler = on_signal };
		sigemptyset(&sa.sa_mask);
		sigaction(SIGINT, &sa, NULL);
		sigaction(SIGTERM, &sa, NULL);
		rc = status ? run_slurm_status(e) : task ? run_slurm_task(e, task, &stop_flag) :
		     run_slurm_submit(e, &so);
		svt_exp_free(e);
		return rc;
	}

	int worst = SVT_EXIT_OK;
	struct run_trace *traces = NULL;
	struct run_job *jobs = NULL;
	struct svt_db *db = NULL;
	size_t njobs = e->ninputs * e->npolicies;
	char dir[4200], msg[600];
	int st;

	snprintf(dir, sizeof(dir), "%s", e->db);
	if (strrchr(dir, '/'))
		*strrchr(dir, '/') = '\0';
	const char *mk = run_mkdirs(e->traces) != 0 ? e->traces :
			 strchr(e->db, '/') && run_mkdirs(dir) != 0 ? dir : NULL;
	if (mk) {
		svt_err("run: cannot make %s: %s", mk, strerror(errno));
		worst = SVT_EXIT_INPUT;
		goto out;
	}
	if (!(db = svt_db_open(e->db, true, &st, msg, sizeof(msg)))) {
		svt_err("run: %s", msg);
		worst = SVT_EXIT_INPUT;
		goto out;
	}
	struct sigaction sa = { .sa_handler = on_signal };
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);

	bool chat = !quiet && !json;   /* with --json, nothing but the object on stdout */
	int merged = merge ? run_slurm_merge(e, !chat) : SVT_EXIT_OK;
	worse(&worst, merged);
	struct svt_progress making;
	svt_progress_start(&making, quiet);
	if (!(traces = merge ? run_find_traces(e, SIZE_MAX) :
		       run_make_traces(e, (unsigned)n, force, !chat, &stop_flag, &making)) ||
	    !(jobs = calloc(njobs ? njobs : 1, sizeof(*jobs)))) {
		svt_progress_end(&making);
		svt_err("run: out of memory");
		worst = SVT_EXIT_INPUT;
		goto out;
	}
	svt_progress_end(&making);
	for (size_t i = 0; i < e->ninputs; i++)
		worse(&worst, traces[i].status);

	/* Every trace under every policy: cached, the same as another job, or to replay. */
	struct pool p = { .e = e, .jobs = jobs, .njobs = njobs, .quiet = !chat,
			  .worst = SVT_EXIT_OK };
	if (run_plan(e, traces, jobs, db, force) != 0) {
		svt_err("run: %s", svt_db_error(db));
		worst = SVT_EXIT_INPUT;
		goto out;
	}
	if (merge) {            /* the merge job: the summary of what is merged, nothing replayed */
		for (size_t k = 0; k < njobs; k++)
			if (!jobs[k].cached && jobs[k].same_as < 0 && jobs[k].t->ok)
				snprintf(jobs[k].row.message, sizeof(jobs[k].row.message),
					 "not in the database: no shard merged");
	}
	for (size_t k = 0; k < njobs && !merge; k++)
		p.todo += !jobs[k].cached && jobs[k].same_as < 0 && jobs[k].t->ok;
	p.skipped = njobs - p.todo;
	if (chat)
		printf("%s: %zu runs: %zu to replay, %zu cached or shared, %u thread(s)\n",
		       e->name, njobs, p.todo, njobs - p.todo, (unsigned)n);
	fflush(stdout);
	pthread_mutex_init(&p.lock, NULL);
	svt_progress_start(&p.prog, quiet);
	if (p.todo)
		replay_all(&p, (unsigned)(n < p.todo ? n : p.todo));
	pthread_mutex_destroy(&p.lock);
	worse(&worst, p.worst);

	/* Read every run back as the database has it. */
	for (size_t k = 0; k < njobs; k++) {
		struct run_job *j = &jobs[k];
		if (j->same_as >= 0) {
			j->row = jobs[j->same_as].row;
			j->exit = jobs[j->same_as].exit;
		}
		/* (a replay that could not start says why in message) */
		if (j->t->ok && !j->cached && j->same_as < 0 && j->row.status == SVT_RUN_NOT_RUN &&
		    !j->row.message[0])
			snprintf(j->row.message, sizeof(j->row.message),
				 "interrupted before it started");
		if (j->row.id > 0 && j->same_as < 0 && read_row(db, &j->row) != 0) {
			svt_err("run: run %" PRId64 ": %s", j->row.id, svt_db_error(db));
			worst = SVT_EXIT_INPUT;
		}
		if (!j->row.recorded_policy && j->p->recorded && j->row.id <= 0)
			j->row.recorded_policy = true;
		worse(&worst, j->t->ok ? status_exit(j->row.status) : j->exit);
	}
	if (!json)
		summary(e, jobs, njobs);
	if (junit && run_junit(junit, e, jobs, njobs, db, msg, sizeof(msg)) != 0) {
		svt_err("run: --junit: %s", msg);
		worse(&worst, SVT_EXIT_INPUT);
	}
	if (stop_flag)
		worse(&worst, SVT_EXIT_INTERRUPTED);
	/* The merge job succeeds when every run is in: violations are results. */
	if (merge && worst == SVT_EXIT_NEGATIVE)
		worst = SVT_EXIT_OK;
	if (json)
		summary_json(e, jobs, njobs, worst);
out:
	free(jobs);
	if (traces)
		run_traces_free(traces, e->ninputs);
	svt_db_close(db);
	svt_exp_free(e);
	return worst;
}

const struct svt_cmd svt_cmd_run = {
	.name = "run",
	.summary = "carry out an experiment file: make traces, replay them under policies",
	.opts = run_opts,
	.args = run_args,
	.exec = run_exec,
};
