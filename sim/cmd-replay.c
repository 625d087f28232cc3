/*
 * cmd-replay.c — `shadowvt replay`: replay traces through the core, check
 * the invariants, store the results (replay.h, db.h).
 */
#define _POSIX_C_SOURCE 200809L
#include <getopt.h>
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

static int replay_exec(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "policy", required_argument, NULL, 'p' },
		{ "audit", required_argument, NULL, 'a' },
		{ "db", required_argument, NULL, 'd' },
		{ "jobs", required_argument, NULL, 'j' },
		{ "show", required_argument, NULL, 's' },
		{ "quiet", no_argument, NULL, 'q' },
		{ NULL, 0, NULL, 0 },
	};
	struct job j = { .worst = SVT_EXIT_OK };
	uint64_t v, jobs = 1;
	bool quiet = false;
	int c;

	j.base.audit = SVT_AUDIT_FAULTS;
	j.base.show = 10;
	j.base.store = 1000;
	svt_default_policy(&j.base.policy, &j.base.pool);
	optind = 1;
	opterr = 0;
	while ((c = getopt_long(argc, argv, "j:q", opts, NULL)) != -1) {
		switch (c) {
		case 'p':
			if (strcmp(optarg, "recorded") == 0) {
				j.base.policy_given = false;
				break;
			}
			if (svt_policy_parse(optarg, &j.base.policy, &j.base.pool) != 0)
				return svt_usage(&svt_cmd_replay, "bad policy '%s'", optarg);
			j.base.policy_given = true;
			break;
		case 'a': {
			int a = svt_audit_parse(optarg);
			if (a < 0)
				return svt_usage(&svt_cmd_replay, "unknown audit level '%s'", optarg);
			j.base.audit = (enum svt_audit_level)a;
			break;
		}
		case 'd':
			j.db_path = optarg;
			break;
		case 'j':
			if (!svt_parse_u64(optarg, &jobs) || jobs < 1 || jobs > 256)
				return svt_usage(&svt_cmd_replay, "-j wants 1..256");
			break;
		case 's':
			if (!svt_parse_u64(optarg, &v) || v > 1000000)
				return svt_usage(&svt_cmd_replay, "bad --show count '%s'", optarg);
			j.base.show = (unsigned)v;
			break;
		case 'q':
			quiet = true;
			break;
		default:
			return svt_usage(&svt_cmd_replay, "unknown option '%s'", argv[optind - 1]);
		}
	}
	if (optind >= argc)
		return svt_usage(&svt_cmd_replay, "no trace file given");
	j.files = argv + optind;
	j.nfiles = argc - optind;
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
	"replay",
	"[--policy SPEC|recorded] [--audit none|faults|periodic|full] [--db RESULTS]\n"
	"       [-j N] [--show N] [-q] FILE...",
	"replay traces through the core and check the invariants",
	replay_exec,
};
