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
#include <unistd.h>

#include "db.h"
#include "policy.h"
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
};

static volatile sig_atomic_t stop_flag;

static void on_signal(int sig)
{
	(void)sig;
	stop_flag = 1;
}


static void report(struct job *j, const struct svt_replay_config *cfg,
		   const struct svt_replay_result *res, int status)
{
	FILE *f = stdout;
	double rate = res->seconds > 0 ? (double)res->events / res->seconds / 1e6 : 0;

	if (status == SVT_EXIT_INPUT) {
		fprintf(stderr, "shadowvt replay: %s\n", res->message);
		if (res->events)
			fprintf(f, "%s: bad input after %" PRIu64 " events (results up to there)\n",
				cfg->path, res->events);
		return;
	}
	fprintf(f, "%s: %s: %" PRIu64 " events (%" PRIu64 " inputs", cfg->path,
		status == SVT_EXIT_OK ? "clean" : status == SVT_EXIT_INTERRUPTED ? "incomplete" :
		"VIOLATIONS", res->events, res->inputs);
	if (res->skipped)
		fprintf(f, ", %" PRIu64 " recorded faults not taken", res->skipped);
	fprintf(f, ") in %.2f s, %.2f M events/s; policy %s%s; audit %s\n", res->seconds, rate,
		res->policy, cfg->policy_given ? "" : " (recorded)", svt_audit_name(cfg->audit));
	if (res->violations || res->divergences) {
		fprintf(f, "%s: %" PRIu64 " invariant violations, %" PRIu64 " divergent decisions",
			cfg->path, res->violations, res->divergences);
		if (res->first_divergence >= 0)
			fprintf(f, "; first divergence (INV-REPLAY) at event %" PRId64, res->first_divergence);
		fputc('\n', f);
	}
	(void)j;
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
			fprintf(stderr, "shadowvt replay: %s\n", msg);
			j->worst = SVT_EXIT_INPUT;
			j->next = j->nfiles;
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
		report(j, &cfg, res, st);
		fflush(stdout);
		if (svt_exit_rank(st) > svt_exit_rank(j->worst))
			j->worst = st;
		pthread_mutex_unlock(&j->lock);
		free(res);
	}
	if (db) {
		if (svt_db_flush(db) != 0) {
			pthread_mutex_lock(&j->lock);
			fprintf(stderr, "shadowvt replay: %s\n", svt_db_error(db));
			j->worst = SVT_EXIT_INPUT;
			pthread_mutex_unlock(&j->lock);
		}
		svt_db_close(db);
	}
	return NULL;
}

static const struct svt_opt replay_opts[] = {
	{ SVT_OPT_STRING("policy", 0, "SPEC|recorded"),
	  .help = "the core's policy (default: the trace's own)" },
	{ SVT_OPT_WORD("audit", 0, svt_audit_names),
	  .help = "which invariants to audit (default faults)" },
	{ SVT_OPT_PATH("db", 0, "RESULTS"), .help = "store each run in this results database" },
	{ SVT_OPT_NUM("jobs", 'j', "N", 1, 256), .help = "replay N traces at once (threads)" },
	{ SVT_OPT_NUM("show", 0, "N", 0, 1000000), .help = "print up to N violations (default 10)" },
	{ SVT_OPT_FLAG("quiet", 'q'), .help = "print only the summary lines" },
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
	j.db_path = svt_args_str(a, "db", NULL);
	svt_default_policy(&j.base.policy, &j.base.pool);
	j.base.policy_given = strcmp(spec, "recorded") != 0;
	char pwhy[160];
	if (j.base.policy_given && svt_policy_parse_n(spec, strlen(spec), &j.base.policy, &j.base.pool,
						      NULL, SVT_POLICY_MAX_POOL, pwhy, sizeof(pwhy)) != 0)
		return svt_usage(&svt_cmd_replay, "bad policy '%s': %s", spec, pwhy);
	j.files = a->argv;
	j.nfiles = a->argc;
	if (jobs > (uint64_t)j.nfiles)
		jobs = (uint64_t)j.nfiles;
	j.base.out = quiet ? NULL : stdout;
	j.base.progress = !quiet && jobs == 1 && isatty(STDERR_FILENO);
	j.base.stop = &stop_flag;
	pthread_mutex_init(&j.lock, NULL);

	struct sigaction sa = { .sa_handler = on_signal };
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);

	pthread_t tid[256];
	unsigned started = 0;
	for (unsigned i = 1; i < jobs; i++)
		if (pthread_create(&tid[started], NULL, worker, &j) == 0)
			started++;
	worker(&j);
	for (unsigned i = 0; i < started; i++)
		pthread_join(tid[i], NULL);
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
