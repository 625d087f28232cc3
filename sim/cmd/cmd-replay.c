/*
 * cmd-replay.c — `shadowvt replay`: replay traces through the core, check
 * the invariants, store the results (replay.h, db.h).
 */
#define _POSIX_C_SOURCE 200809L
#include <inttypes.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "db.h"
#include "export.h"
#include "policy.h"
#include "progress.h"
#include "replay.h"
#include "sim.h"


struct job {
	char **files;
	int nfiles;
	int next;
	const char *db_path;
	struct svt_replay_config base;
	pthread_mutex_t lock;
	int worst;              /* exit status so far */
	bool json;              /* summaries as JSON objects */
	/* on a terminal: -j 1, each replay draws its own line; -j N, one line
	 * for all, drawn by the main thread; every line printed goes through it */
	struct svt_progress prog;
	uint64_t events;        /* read by every replay so far (replay.h events_seen) */
	uint64_t violations;    /* in the traces done */
	int done;               /* traces done */
	unsigned active;        /* worker threads still working */
};

static volatile sig_atomic_t stop_flag;

static void on_signal(int sig)
{
	(void)sig;
	stop_flag = 1;
}


/* One trace's summary as one JSON object on one line (shadowvt(1), JSON
 * output of replay and verify). */
static void report_json(FILE *f, const struct job *j, const struct svt_replay_config *cfg,
			const struct svt_replay_result *res)
{
	double rate = res->seconds > 0 ? (double)res->events / res->seconds : 0;

	fputs("{\"trace\": ", f);
	svt_json_str(f, cfg->path, strlen(cfg->path));
	fprintf(f, ", \"status\": \"%s\", \"events\": %" PRIu64 ", \"inputs\": %" PRIu64
		", \"skipped_faults\": %" PRIu64 ", \"lost_events\": %" PRIu64 ", \"violations\": %"
		PRIu64 ", \"divergences\": %" PRIu64 ", \"first_divergence\": ",
		svt_db_run_status_name(res->status), res->events, res->inputs,
		res->skipped, res->lost, res->violations, res->divergences);
	if (res->first_divergence >= 0)
		fprintf(f, "%" PRId64, res->first_divergence);
	else
		fputs("null", f);
	fprintf(f, ", \"seconds\": %.3f, \"events_per_s\": %.0f, \"policy\": ", res->seconds, rate);
	svt_json_str(f, res->policy, strlen(res->policy));
	fprintf(f, ", \"recorded_policy\": %s, \"recorded\": ",
		res->whatif == SVT_WHATIF_RECORDED ? "true" : "false");
	svt_json_str(f, res->recorded, strlen(res->recorded));
	fprintf(f, ", \"whatif\": \"%s\", \"whatif_why\": ", svt_whatif_name(res->whatif));
	svt_json_str(f, res->whatif_why, strlen(res->whatif_why));
	fprintf(f, ", \"audit\": \"%s\", \"error\": ", svt_audit_name(cfg->audit));
	if (res->status == SVT_RUN_BAD_INPUT || res->status == SVT_RUN_INCOMPLETE)
		svt_json_str(f, res->message, strlen(res->message));
	else
		fputs("null", f);
	fputs(", \"db\": ", f);
	if (j->db_path)
		svt_json_str(f, j->db_path, strlen(j->db_path));
	else
		fputs("null", f);
	fputs(", \"run\": ", f);
	if (res->run > 0 && !res->store_error[0])
		fprintf(f, "%" PRId64, res->run);
	else
		fputs("null", f);
	fprintf(f, ", \"stored\": %s, \"store_error\": ", !j->db_path ? "null" :
		res->store_error[0] ? "false" : "true");
	if (res->store_error[0])
		svt_json_str(f, res->store_error, strlen(res->store_error));
	else
		fputs("null", f);
	fputs("}\n", f);
}

/* One trace's summary; the status it ends with (3 where a result could
 * not be stored). */
static int report(struct job *j, const struct svt_replay_config *cfg,
		  const struct svt_replay_result *res, int status)
{
	FILE *f = stdout;
	double rate = res->seconds > 0 ? (double)res->events / res->seconds / 1e6 : 0;

	if (status == SVT_EXIT_INPUT)
		fprintf(stderr, "shadowvt replay: %s\n", res->message);
	if (status == SVT_EXIT_USAGE) {         /* a range outside the trace */
		fprintf(stderr, "shadowvt replay: %s\n", res->message);
		return status;
	}
	if (res->store_error[0]) {
		fprintf(stderr, "shadowvt replay: %s: results not stored in %s: %s\n", cfg->path,
			j->db_path, res->store_error);
		status = SVT_EXIT_INPUT;
	}
	if (j->json) {
		report_json(f, j, cfg, res);
		return status;
	}
	if (res->status == SVT_RUN_BAD_INPUT) {
		if (res->events)
			fprintf(f, "%s: bad input after %" PRIu64 " events (results up to there): %"
				PRIu64 " invariant violations, %" PRIu64 " divergent "
				"decisions before the damage%s\n", cfg->path, res->events,
				res->violations, res->divergences,
				res->store_error[0] ? "; results NOT stored" : "");
		return status;
	}
	fprintf(f, "%s: %s: %" PRIu64 " events (%" PRIu64 " inputs", cfg->path,
		res->status == SVT_RUN_CLEAN ? "clean" : res->status == SVT_RUN_INCOMPLETE ?
		"incomplete" : "VIOLATIONS", res->events, res->inputs);
	if (res->skipped)
		fprintf(f, ", %" PRIu64 " recorded faults not taken", res->skipped);
	fprintf(f, ") in %.2f s, %.2f M events/s; policy %s%s; audit %s%s\n", res->seconds, rate,
		res->policy, res->whatif == SVT_WHATIF_RECORDED ? " (recorded)" : "",
		svt_audit_name(cfg->audit), res->store_error[0] ? "; results NOT stored" : "");
	if (res->whatif != SVT_WHATIF_RECORDED)
		fprintf(f, "%s: what-if %s: recorded under %s; %s\n", cfg->path,
			res->whatif == SVT_WHATIF_EXACT ? "EXACT" :
			"APPROXIMATE, NOT A MEASUREMENT", res->recorded, res->whatif_why);
	if (res->violations || res->divergences) {
		fprintf(f, "%s: %" PRIu64 " invariant violations, %" PRIu64 " divergent decisions",
			cfg->path, res->violations, res->divergences);
		if (res->first_divergence >= 0)
			fprintf(f, "; first divergence (INV-REPLAY) at event %" PRId64,
				res->first_divergence);
		fputc('\n', f);
	}
	return status;
}

static void *worker(void *arg)
{
	struct job *j = arg;
	struct svt_db *db = NULL;

	if (j->db_path) {
		int st;
		char msg[600];
		db = svt_db_open(j->db_path, true, &st, msg, sizeof(msg));
		if (!db) {
			pthread_mutex_lock(&j->lock);
			svt_progress_print(&j->prog, stderr, "shadowvt replay: %s\n", msg);
			j->worst = SVT_EXIT_INPUT;
			j->next = j->nfiles;
			j->active--;    /* (the drawing thread waits for none) */
			pthread_mutex_unlock(&j->lock);
			return NULL;
		}
	}
	for (;;) {
		pthread_mutex_lock(&j->lock);
		int i = j->next < j->nfiles ? j->next++ : -1;
		pthread_mutex_unlock(&j->lock);
		if (i < 0 || stop_flag)
			break;
		struct svt_replay_config cfg = j->base;
		struct svt_replay_result *res = malloc(sizeof(*res));
		if (!res) {
			pthread_mutex_lock(&j->lock);
			j->worst = SVT_EXIT_INPUT;
			pthread_mutex_unlock(&j->lock);
			break;
		}
		cfg.path = j->files[i];
		cfg.db = db;
		int st = svt_replay(&cfg, res);
		if (st == SVT_EXIT_NEGATIVE && res->status == SVT_RUN_INCOMPLETE)
			st = SVT_EXIT_INTERRUPTED;
		pthread_mutex_lock(&j->lock);
		j->done++;
		j->violations += res->violations + res->divergences;
		svt_progress_hold(&j->prog);
		st = report(j, &cfg, res, st);
		svt_progress_release(&j->prog);
		fflush(stdout);
		if (svt_exit_rank(st) > svt_exit_rank(j->worst))
			j->worst = st;
		pthread_mutex_unlock(&j->lock);
		free(res);
	}
	if (db) {
		if (svt_db_flush(db) != 0) {
			pthread_mutex_lock(&j->lock);
			svt_progress_print(&j->prog, stderr, "shadowvt replay: %s\n",
					   svt_db_error(db));
			j->worst = SVT_EXIT_INPUT;
			pthread_mutex_unlock(&j->lock);
		}
		svt_db_close(db);
	}
	pthread_mutex_lock(&j->lock);
	j->active--;
	pthread_mutex_unlock(&j->lock);
	return NULL;
}

/* The -j N line: traces done, the rate over all of them (under j->lock). */
static void draw(struct job *j)
{
	uint64_t ev = __atomic_load_n(&j->events, __ATOMIC_RELAXED);
	char n[32], rate[32];

	svt_progress_count(n, sizeof(n), ev);
	svt_progress_rate(rate, sizeof(rate), ev, svt_progress_elapsed(&j->prog));
	svt_progress_draw(&j->prog, "replay: %d/%d traces done, %s events, %s events/s, %" PRIu64
			  " violations", j->done, j->nfiles, n, rate, j->violations);
}

static const struct svt_opt replay_opts[] = {
	{ SVT_OPT_STRING("policy", 0, "SPEC|recorded"),
	  .help = "the core's policy (default: the trace's own)" },
	{ SVT_OPT_WORD("audit", 0, svt_audit_names),
	  .help = "which invariants to audit (default faults)" },
	{ SVT_OPT_PATH("db", 0, "RESULTS"), .help = "store each run in this results database" },
	{ SVT_OPT_NUM("jobs", 'j', "N", 1, 256), .help = "replay N traces at once (threads)" },
	{ SVT_OPT_NUM("show", 0, "N", 0, 1000000),
	  .help = "print up to N violations (default 10)" },
	{ SVT_OPT_FLAG("quiet", 'q'), .help = "print only the summary lines" },
	{ SVT_OPT_FLAG("json", 0),
	  .help = "each summary as a JSON object; violation lines on stderr" },
	{ SVT_OPT_NUM("from", 0, "N", 0, UINT64_MAX - 1),
	  .help = "check from event N on (the core's state at N rebuilt first)" },
	{ SVT_OPT_NUM("to", 0, "M", 0, UINT64_MAX - 1), .help = "check up to event M (inclusive)" },
	{ SVT_OPT_FLAG("stop-at-first", 0), .help = "end at the first violation (exit 1)" },
	{ .name = NULL },
};

static const struct svt_posarg replay_args[] = {
	{ "TRACE", "trace file", SVT_POS_MANY },
	{ .name = NULL },
};

static int replay_exec(const struct svt_args *a)
{
	struct job j = { .worst = SVT_EXIT_OK };
	const char *spec = svt_args_str(a, "policy", "recorded");
	uint64_t jobs = svt_args_num(a, "jobs", 1);
	bool quiet = svt_args_has(a, "quiet");

	j.base.audit = (enum svt_audit_level)svt_args_word(a, "audit", SVT_AUDIT_FAULTS);
	j.base.show = (unsigned)svt_args_num(a, "show", 10);
	j.base.store = 1000;
	j.base.from = svt_args_num(a, "from", 0);
	j.base.to_set = svt_args_has(a, "to");
	j.base.to = svt_args_num(a, "to", 0);
	j.base.stop_at_first = svt_args_has(a, "stop-at-first");
	if (j.base.to_set && j.base.to < j.base.from)
		return svt_usage(&svt_cmd_replay, "--from %" PRIu64 " is after --to %" PRIu64,
				 j.base.from, j.base.to);
	j.db_path = svt_args_str(a, "db", NULL);
	svt_default_policy(&j.base.policy, &j.base.pool);
	j.base.policy_given = strcmp(spec, "recorded") != 0;
	char pwhy[160];
	if (j.base.policy_given &&
	    svt_policy_parse_n(spec, strlen(spec), &j.base.policy, &j.base.pool, NULL,
			       SVT_POLICY_MAX_POOL, pwhy, sizeof(pwhy)) != 0)
		return svt_usage(&svt_cmd_replay, "bad policy '%s': %s", spec, pwhy);
	j.base.policy_spec = j.base.policy_given ? spec : NULL;    /* on the recorded policy */
	j.files = a->argv;
	j.nfiles = a->argc;
	if (jobs > (uint64_t)j.nfiles)
		jobs = (uint64_t)j.nfiles;
	j.json = svt_args_has(a, "json");
	j.base.out = quiet ? NULL : j.json ? stderr : stdout;
	svt_progress_start(&j.prog, quiet);
	j.base.progress = &j.prog;
	j.base.draw = jobs == 1;
	bool aggregate = j.prog.on && jobs > 1;         /* -j N's line, drawn here */
	if (aggregate)
		j.base.events_seen = &j.events;
	j.base.stop = &stop_flag;
	pthread_mutex_init(&j.lock, NULL);

	struct sigaction sa = { .sa_handler = on_signal };
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);

	/* -j N with a line to draw: N threads replay, this one draws */
	pthread_t tid[256];
	unsigned started = 0, want = aggregate ? (unsigned)jobs : (unsigned)jobs - 1;
	j.active = want + !aggregate;
	for (unsigned i = 0; i < want; i++)
		if (pthread_create(&tid[started], NULL, worker, &j) == 0)
			started++;
	pthread_mutex_lock(&j.lock);
	j.active -= want - started;
	j.active += aggregate && started == 0;
	pthread_mutex_unlock(&j.lock);
	if (!aggregate || started == 0) {
		worker(&j);
	} else {
		const struct timespec tick = { .tv_nsec = 50 * 1000 * 1000 };
		for (;;) {
			pthread_mutex_lock(&j.lock);
			unsigned active = j.active;
			if (active)
				draw(&j);
			pthread_mutex_unlock(&j.lock);
			if (!active)
				break;
			nanosleep(&tick, NULL);
		}
	}
	for (unsigned i = 0; i < started; i++)
		pthread_join(tid[i], NULL);
	svt_progress_end(&j.prog);
	pthread_mutex_destroy(&j.lock);
	if (stop_flag && j.worst == SVT_EXIT_OK)
		j.worst = SVT_EXIT_INTERRUPTED;
	return j.worst;
}

const struct svt_cmd svt_cmd_replay = {
	.name = "replay",
	.summary = "replay traces through the core and check the invariants",
	.opts = replay_opts,
	.args = replay_args,
	.exec = replay_exec,
};
