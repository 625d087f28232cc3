/*
 * run-inputs.c — the traces an experiment replays (run.h): synth inputs
 * are synthesised in this process (syn_write), in threads; guest inputs
 * are recorded one at a time by `shadowvt record`, run as a child of this
 * very program; trace inputs are used as they are.
 *
 * A trace made here gets a sidecar, TRACE.params: one line of everything
 * that decides its contents (for synth, every parameter; for a guest, the
 * kernel's checksum, its arguments, the policy, the engine, and the
 * hypervisor's path and checksum), then the trace's own checksum.  A trace
 * whose sidecar matches and whose checksum is still the one recorded is
 * reused; anything else is made again.
 */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "live.h"
#include "policy.h"
#include "progress.h"
#include "replay.h"
#include "run.h"
#include "sim.h"
#include "synth.h"
#include "trace.h"

#define PARAMS_MAX      16384   /* a sidecar's first line */

int run_mkdirs(const char *path)
{
	char buf[4096];
	size_t n = strlen(path);

	if (n == 0 || n >= sizeof(buf)) {
		errno = ENAMETOOLONG;
		return -1;
	}
	memcpy(buf, path, n + 1);
	for (char *p = buf + 1; ; p++) {
		if (*p != '/' && *p != '\0')
			continue;
		char c = *p;
		*p = '\0';
		if (mkdir(buf, 0777) != 0 && errno != EEXIST)
			return -1;
		if (c == '\0')
			break;
		*p = c;
	}
	return 0;
}

static void identify(struct run_trace *t);

/* ---- sidecars -------------------------------------------------------------- */

static void sidecar_path(const struct run_trace *t, char *buf, size_t len)
{
	snprintf(buf, len, "%s.params", t->path);
}

/* The trace exists, its sidecar says params, and its checksum is the one
 * the sidecar recorded. */
static bool unchanged(struct run_trace *t, const char *params)
{
	char side[4200], line[PARAMS_MAX + 2], sum[64];
	FILE *f;
	bool same = false;

	sidecar_path(t, side, sizeof(side));
	if (!(f = fopen(side, "r")))
		return false;
	if (fgets(line, sizeof(line), f) && strcspn(line, "\n") == strlen(params) &&
	    strncmp(line, params, strlen(params)) == 0 && fgets(sum, sizeof(sum), f)) {
		sum[strcspn(sum, "\n")] = '\0';
		same = svt_replay_checksum(t->path, t->checksum, sizeof(t->checksum)) &&
		       strcmp(sum, t->checksum) == 0;
	}
	fclose(f);
	return same;
}

static void write_sidecar(struct run_trace *t, const char *params)
{
	char side[4200], tmp[4300];
	FILE *f;

	sidecar_path(t, side, sizeof(side));
	snprintf(tmp, sizeof(tmp), "%s.tmp", side);
	if (!svt_replay_checksum(t->path, t->checksum, sizeof(t->checksum)))
		return;
	if (!(f = fopen(tmp, "w")))
		return;
	fprintf(f, "%s\n%s\n", params, t->checksum);
	if (fclose(f) != 0 || rename(tmp, side) != 0)
		remove(tmp);
}

/* ---- synth ------------------------------------------------------------------ */

static void synth_params(const struct svt_exp_input *in, char *buf, size_t len)
{
	char pol[128];

	svt_policy_format(&in->policy, in->pool, pol, sizeof(pol));
	snprintf(buf, len, "synth workload=%s mode=%s events=%" PRIu64 " seed=%" PRIu64 " frames=%"
		 PRIu64 " level=%d frame-size=%" PRIu64 " policy=%s", in->workload,
		 svt_mode_name(in->mode), in->events, in->seed, in->frames, in->level,
		 in->frame_size, pol);
}

static void make_synth(struct run_trace *t, bool force, struct svt_progress *prog)
{
	const struct svt_exp_input *in = t->in;
	char params[600], tmp[4200];
	struct syn_config cfg = {
		.work = syn_find_workload(in->workload), .mode = in->mode, .events = in->events,
		.seed = in->seed, .policy = in->policy, .pool = in->pool,
		.guest_frames = in->frames, .level = in->level, .progress = prog,
	};
	uint64_t events;

	synth_params(in, params, sizeof(params));
	if (!force && unchanged(t, params)) {
		t->ok = true;
		t->how = "reused";
		return;
	}
	char side[4200];
	sidecar_path(t, side, sizeof(side));
	remove(side);
	snprintf(tmp, sizeof(tmp), "%s.tmp", t->path);
	t->status = syn_write(&cfg, tmp, in->frame_size, &events, t->message, sizeof(t->message));
	if (t->status != SVT_EXIT_OK) {
		remove(tmp);
		if (t->status == SVT_EXIT_USAGE)
			t->status = SVT_EXIT_INPUT;
		return;
	}
	if (rename(tmp, t->path) != 0) {
		snprintf(t->message, sizeof(t->message), "%s: %s", t->path, strerror(errno));
		remove(tmp);
		t->status = SVT_EXIT_INPUT;
		return;
	}
	write_sidecar(t, params);
	t->ok = true;
	t->how = "synthesised";
}

struct synth_pool {
	struct run_trace *t;
	size_t n, next;
	bool force, quiet;
	volatile sig_atomic_t *stop;
	pthread_mutex_t lock;
	struct svt_progress *prog;      /* the status line, or NULL */
	bool alone;                     /* one thread: syn_write draws the line itself */
	size_t made, nsynth;
	const char *name;               /* the experiment's */
};

static void *synth_worker(void *arg)
{
	struct synth_pool *sp = arg;

	for (;;) {
		pthread_mutex_lock(&sp->lock);
		while (sp->next < sp->n && sp->t[sp->next].in->kind != SVT_EXP_SYNTH)
			sp->next++;
		size_t i = sp->next < sp->n && !*sp->stop ? sp->next++ : SIZE_MAX;
		pthread_mutex_unlock(&sp->lock);
		if (i == SIZE_MAX)
			return NULL;
		struct run_trace *t = &sp->t[i];
		make_synth(t, sp->force, sp->alone ? sp->prog : NULL);
		pthread_mutex_lock(&sp->lock);
		if (sp->prog)
			svt_progress_end(sp->prog);
		if (!t->ok)
			fprintf(stderr, "shadowvt run: %s: %s\n", t->in->name, t->message);
		else if (!sp->quiet)
			printf("%s: %s %s\n", t->in->name, t->how, t->path);
		fflush(stdout);
		sp->made++;
		if (sp->prog && !sp->alone)
			svt_progress_draw(sp->prog, "run %s: %zu/%zu traces made",
					  sp->name, sp->made, sp->nsynth);
		pthread_mutex_unlock(&sp->lock);
	}
}

/* ---- guests ------------------------------------------------------------------ */

static bool guest_params(const struct svt_experiment *e, const struct svt_exp_input *in, char *buf,
			 size_t len)
{
	char ksum[32], hv[4096], script[4096], hsum[32], pol[128] = "hypervisor-default";

	if (!svt_replay_checksum(in->kernel, ksum, sizeof(ksum)))
		return false;
	svt_vmx_paths(hv, script, sizeof(hv),
		      strcmp(e->engine, "qemu-kvm") == 0 ? "qemu" : "bochs");
	svt_replay_checksum(hv, hsum, sizeof(hsum));
	if (in->policy_given)
		svt_policy_format(&in->policy, in->pool, pol, sizeof(pol));
	snprintf(buf, len,
		 "guest kernel=%s kernel-sum=%s args=%s policy=%s engine=%s hv=%s hv-sum=%s",
		 in->kernel, ksum, in->args, pol, e->engine, hv, hsum);
	return true;
}

/* shadowvt record, as a child: its exit status, 127 if it did not start. */
static int record(const struct svt_experiment *e, const struct svt_exp_input *in, const char *out)
{
	char timeout[32], pol[128];
	const char *argv[16];
	int argc = 0;

	snprintf(timeout, sizeof(timeout), "%" PRIu64, e->timeout);
	argv[argc++] = "shadowvt";
	argv[argc++] = "record";
	argv[argc++] = "--guest";
	argv[argc++] = in->kernel;
	if (in->args[0]) {
		argv[argc++] = "--guest-args";
		argv[argc++] = in->args;
	}
	if (in->policy_given) {
		svt_policy_format(&in->policy, in->pool, pol, sizeof(pol));
		argv[argc++] = "--policy";
		argv[argc++] = pol;
	}
	argv[argc++] = "--engine";
	argv[argc++] = e->engine;
	argv[argc++] = "--timeout";
	argv[argc++] = timeout;
	argv[argc++] = "-o";
	argv[argc++] = out;
	argv[argc] = NULL;
	fflush(NULL);
	pid_t pid = fork();
	if (pid < 0)
		return 127;
	if (pid == 0) {
		execv("/proc/self/exe", (char *const *)argv);
		_exit(127);
	}
	int st;
	while (waitpid(pid, &st, 0) < 0)
		if (errno != EINTR)
			return 127;
	return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + (WIFSIGNALED(st) ? WTERMSIG(st) : 0);
}

static void make_guest(const struct svt_experiment *e, struct run_trace *t, bool force,
		       bool *recorded)
{
	char params[PARAMS_MAX], side[4200];

	if (!guest_params(e, t->in, params, sizeof(params))) {
		snprintf(t->message, sizeof(t->message), "%s: %s", t->in->kernel, strerror(errno));
		t->status = SVT_EXIT_INPUT;
		return;
	}
	if (!force && unchanged(t, params)) {
		t->ok = true;
		t->how = "reused";
		return;
	}
	sidecar_path(t, side, sizeof(side));
	remove(side);
	if (*recorded)
		sleep(1);       /* two Bochs started in the same second race for a port */
	*recorded = true;
	int rc = record(e, t->in, t->path);
	if (rc == SVT_EXIT_OK) {
		write_sidecar(t, params);
	} else if (rc == SVT_EXIT_NEGATIVE && access(t->path, R_OK) == 0) {
		snprintf(t->message, sizeof(t->message), "the recording is incomplete or the guest "
			 "failed (see %s.console and %s.hv.log); replaying what was recorded",
			 t->path, t->path);
		t->status = SVT_EXIT_NEGATIVE;
	} else {
		snprintf(t->message, sizeof(t->message),
			 "shadowvt record failed (exit status %d)", rc);
		t->status = SVT_EXIT_INPUT;
		return;
	}
	t->ok = true;
	t->how = "recorded";
}

/* ---- all of them --------------------------------------------------------------- */

/* The trace's checksum and the policy in its header. */
static void identify(struct run_trace *t)
{
	struct svt_trace_error err;
	struct svt_trace_reader *r;

	svt_replay_checksum(t->path, t->checksum, sizeof(t->checksum));
	if ((r = svt_trace_open(t->path, 0, &err))) {
		const struct svt_trace_header *h = svt_trace_reader_header(r);
		svt_policy_format(&h->policy, h->pool_frames, t->recorded, sizeof(t->recorded));
		svt_trace_close(r);
	}
}

/* Every input's trace path; nothing made, nothing read. */
static struct run_trace *trace_paths(const struct svt_experiment *e)
{
	struct run_trace *t = calloc(e->ninputs ? e->ninputs : 1, sizeof(*t));

	if (!t)
		return NULL;
	for (size_t i = 0; i < e->ninputs; i++) {
		const struct svt_exp_input *in = &e->inputs[i];
		size_t len = strlen(e->traces) + strlen(in->name) + 8;
		t[i].in = in;
		t[i].status = SVT_EXIT_OK;
		if (in->kind == SVT_EXP_TRACE) {
			t[i].path = strdup(in->path);
		} else if ((t[i].path = malloc(len))) {
			snprintf(t[i].path, len, "%s/%s.svt", e->traces, in->name);
		}
		if (!t[i].path) {
			run_traces_free(t, e->ninputs);
			return NULL;
		}
	}
	return t;
}

struct run_trace *run_find_traces(const struct svt_experiment *e, size_t only)
{
	struct run_trace *t = trace_paths(e);

	for (size_t i = 0; t && i < e->ninputs; i++) {
		if (only != SIZE_MAX && i != only)
			continue;
		if (access(t[i].path, R_OK) == 0) {
			t[i].ok = true;
			t[i].how = "given";
			identify(&t[i]);
		} else {
			t[i].status = SVT_EXIT_INPUT;
			snprintf(t[i].message, sizeof(t[i].message), "%s: %s", t[i].path,
				 strerror(errno));
		}
	}
	return t;
}

bool run_trace_current(const struct svt_experiment *e, struct run_trace *t)
{
	char params[PARAMS_MAX];

	switch (t->in->kind) {
	case SVT_EXP_SYNTH:
		synth_params(t->in, params, sizeof(params));
		return unchanged(t, params);
	case SVT_EXP_GUEST:
		return guest_params(e, t->in, params, sizeof(params)) && unchanged(t, params);
	case SVT_EXP_TRACE:
		break;
	}
	return access(t->path, R_OK) == 0;
}

void run_make_one(const struct svt_experiment *e, struct run_trace *t, bool force)
{
	bool recorded = false;

	t->ok = false;
	t->status = SVT_EXIT_OK;
	t->message[0] = '\0';
	if (t->in->kind == SVT_EXP_SYNTH)
		make_synth(t, force, NULL);
	else if (t->in->kind == SVT_EXP_GUEST)
		make_guest(e, t, force, &recorded);
	else if (access(t->path, R_OK) == 0)
		t->ok = true;
	else {
		t->status = SVT_EXIT_INPUT;
		snprintf(t->message, sizeof(t->message), "%s: %s", t->path, strerror(errno));
	}
	if (t->ok)
		identify(t);
}

struct run_trace *run_make_traces(const struct svt_experiment *e, unsigned n,
				  bool force, bool quiet, volatile sig_atomic_t *stop,
				  struct svt_progress *prog)
{
	struct run_trace *t = trace_paths(e);
	bool recorded = false;

	if (!t)
		return NULL;
	struct synth_pool sp = { .t = t, .n = e->ninputs, .force = force, .quiet = quiet,
				 .stop = stop, .prog = prog && prog->on ? prog : NULL,
				 .alone = n <= 1, .name = e->name };
	for (size_t i = 0; i < e->ninputs; i++)
		sp.nsynth += t[i].in->kind == SVT_EXP_SYNTH;
	pthread_t tid[256];
	unsigned started = 0;
	pthread_mutex_init(&sp.lock, NULL);
	for (unsigned i = 1; i < n && i < 256; i++)
		if (pthread_create(&tid[started], NULL, synth_worker, &sp) == 0)
			started++;
	synth_worker(&sp);
	for (unsigned i = 0; i < started; i++)
		pthread_join(tid[i], NULL);
	pthread_mutex_destroy(&sp.lock);
	for (size_t i = 0; i < e->ninputs && !*stop; i++) {
		if (t[i].in->kind == SVT_EXP_GUEST) {
			make_guest(e, &t[i], force, &recorded);
			if (t[i].status != SVT_EXIT_OK)
				fprintf(stderr, "shadowvt run: %s: %s\n", t[i].in->name,
					t[i].message);
			else if (!quiet)
				printf("%s: %s %s\n", t[i].in->name, t[i].how, t[i].path);
		} else if (t[i].in->kind == SVT_EXP_TRACE) {
			t[i].ok = true;
			t[i].how = "given";
		}
	}
	for (size_t i = 0; i < e->ninputs; i++) {
		if (t[i].ok)
			identify(&t[i]);
		else if (t[i].status == SVT_EXIT_OK) {
			t[i].status = SVT_EXIT_INTERRUPTED;
			snprintf(t[i].message, sizeof(t[i].message), "not made: interrupted");
		}
	}
	return t;
}

void run_traces_free(struct run_trace *t, size_t n)
{
	if (!t)
		return;
	for (size_t i = 0; i < n; i++)
		free(t[i].path);
	free(t);
}
