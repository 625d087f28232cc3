/*
 * bench.c — `make bench`: replay throughput, trace size, replay memory and
 * -j scaling on every synthetic workload, each figure next to a baseline
 * measured on the same machine in the same run:
 *
 *   - zstd: the time libzstd alone takes to decompress the trace's frames
 *     (the floor for any replay); replay is reported as events/s and as
 *     a multiple of that time;
 *   - one trace replayed alone, for the -j 2 run of two traces.
 *
 * Usage: svt-bench [EVENTS [MODE [TARGET_EVENTS]]] (defaults 1000000,
 * 4level, 3000000).  Each timing is the best of three.  Then issue 20's
 * targets on one mix trace of TARGET_EVENTS events (targets()), and the
 * audits-off one as the issue words it, on a fork trace of as many
 * (fork_target()).  Peak RSS is measured in a child process
 * per replay (wait4's ru_maxrss), so replays do not inherit each other's.
 */
#define _GNU_SOURCE
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <zstd.h>

#include "policy.h"
#include "replay.h"
#include "sim.h"
#include "synth.h"
#include "trace_int.h"

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static double user_now(void);
static double g_zstd_user;      /* zstd_only's user CPU seconds */

/* Decompress every frame of the trace with libzstd alone; seconds (wall;
 * g_zstd_user: user CPU). */
static double zstd_only(const char *path)
{
	FILE *f = fopen(path, "rb");
	struct stat st;
	if (!f || fstat(fileno(f), &st) != 0)
		return -1;
	uint8_t *buf = malloc((size_t)st.st_size);
	if (!buf || fread(buf, 1, (size_t)st.st_size, f) != (size_t)st.st_size) {
		fclose(f);
		free(buf);
		return -1;
	}
	fclose(f);
	ZSTD_DCtx *dc = ZSTD_createDCtx();
	uint8_t *out = malloc(SVT_TRACE_MAX_CONTENT);
	uint32_t hsize = (uint32_t)buf[12] | (uint32_t)buf[13] << 8 | (uint32_t)buf[14] << 16 |
			 (uint32_t)buf[15] << 24;
	double t0 = now(), u0 = user_now();
	size_t off = hsize;
	while (off + TR_FRAME_HDR <= (size_t)st.st_size) {
		struct tr_frame fr;
		const char *why;
		if (!tr_frame_decode(buf + off, false, &fr, &why))
			break;  /* the index */
		off += TR_FRAME_HDR;
		if (fr.method == TR_METHOD_ZSTD)
			ZSTD_decompressDCtx(dc, out, SVT_TRACE_MAX_CONTENT, buf + off,
					    fr.stored_size);
		off += fr.stored_size;
	}
	double t = now() - t0;
	g_zstd_user = user_now() - u0;
	ZSTD_freeDCtx(dc);
	free(out);
	free(buf);
	return t;
}

/* User CPU seconds this process has used so far. */
static double user_now(void)
{
	struct rusage ru;
	getrusage(RUSAGE_SELF, &ru);
	return (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6;
}

/*
 * A replay in a child, as user CPU time: the child's whole life (opening
 * the trace, the core's setup, the replay), events from..to (to_set
 * false: to the end) checked at level audit; -1 if it failed.  The
 * machine is shared: user time, not wall time, is what a neighbour
 * disturbs least.
 */
static double replay_user(const char *path, enum svt_audit_level audit, uint64_t from, uint64_t to,
			  bool to_set)
{
	pid_t pid = fork();
	if (pid == 0) {
		struct svt_replay_config cfg = { .path = path, .audit = audit, .from = from,
						 .to = to, .to_set = to_set };
		struct svt_replay_result res;
		int st = svt_replay(&cfg, &res);
		_exit(st == 0 ? 0 : 1);
	}
	int status;
	struct rusage ru;
	if (pid < 0 || wait4(pid, &status, 0, &ru) != pid || !WIFEXITED(status) ||
	    WEXITSTATUS(status) != 0)
		return -1;
	return (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6;
}

/* The trace's events read and decoded by the trace library alone (frames,
 * checksums, zstd, records), no core: user CPU seconds. */
static double decode_only(const char *path)
{
	struct svt_trace_error err;
	struct svt_trace_event ev;
	double t0 = user_now();
	struct svt_trace_reader *r = svt_trace_open(path, 0, &err);
	if (!r)
		return -1;
	int st;
	while ((st = svt_trace_next(r, &ev)) == SVT_TRACE_OK)
		;
	svt_trace_close(r);
	return st == SVT_TRACE_END ? user_now() - t0 : -1;
}

/* Replay in a child; seconds of the replay, its peak RSS in KiB. */
static double replay_child(const char *path, enum svt_audit_level audit, long *rss_kb)
{
	int fd[2];
	if (pipe(fd) != 0)
		return -1;
	pid_t pid = fork();
	if (pid == 0) {
		close(fd[0]);
		struct svt_replay_config cfg = { .path = path, .audit = audit };
		struct svt_replay_result res;
		int st = svt_replay(&cfg, &res);
		double s = st == 0 ? res.seconds : -1;
		if (write(fd[1], &s, sizeof(s)) != sizeof(s))
			_exit(1);
		_exit(0);
	}
	close(fd[1]);
	double s = -1;
	if (read(fd[0], &s, sizeof(s)) != sizeof(s))
		s = -1;
	close(fd[0]);
	int status;
	struct rusage ru;
	wait4(pid, &status, 0, &ru);
	*rss_kb = ru.ru_maxrss;
	return s;
}

static double best3(double (*f)(const char *), const char *path)
{
	double b = 1e9;
	for (int i = 0; i < 3; i++) {
		double t = f(path);
		if (t >= 0 && t < b)
			b = t;
	}
	return b;
}

static double best_of(int n, double (*f)(const char *), const char *path)
{
	double b = -1;
	for (int i = 0; i < n; i++) {
		double t = f(path);
		if (t >= 0 && (b < 0 || t < b))
			b = t;
	}
	return b;
}

static const char *g_path;
static double u_none(const char *p) { return replay_user(p, SVT_AUDIT_NONE, 0, 0, false); }
static double u_periodic(const char *p) { return replay_user(p, SVT_AUDIT_PERIODIC, 0, 0, false); }

/* zstd_only in user CPU seconds */
static double zstd_user(const char *path)
{
	return zstd_only(path) < 0 ? -1 : g_zstd_user;
}
static double r_none(const char *p) { long k; return replay_child(p, SVT_AUDIT_NONE, &k); }
static double r_faults(const char *p) { long k; return replay_child(p, SVT_AUDIT_FAULTS, &k); }

/* Two replays at once in one process (threads), as -j 2 does. */
struct pair { const char *path; double secs; };

/* The machine's own baseline for -j: a CPU-bound loop in two threads
 * against one (shared or throttled CPUs show here first). */
static void *spin(void *arg)
{
	volatile uint64_t x = 0;
	(void)arg;
	for (uint64_t i = 0; i < 200000000ull; i++)
		x += i;
	return NULL;
}

static double spin_ratio(void)
{
	double one = 1e9, two = 1e9;
	for (int k = 0; k < 3; k++) {
		double t0 = now();
		spin(NULL);
		double t1 = now();
		pthread_t th;
		pthread_create(&th, NULL, spin, NULL);
		spin(NULL);
		pthread_join(th, NULL);
		double t2 = now();
		if (t1 - t0 < one)
			one = t1 - t0;
		if (t2 - t1 < two)
			two = t2 - t1;
	}
	return two / one;
}
static void *pair_run(void *arg)
{
	struct pair *p = arg;
	struct svt_replay_config cfg = { .path = p->path, .audit = SVT_AUDIT_NONE };
	struct svt_replay_result res;
	svt_replay(&cfg, &res);
	return NULL;
}

static int synth(const char *dir, const struct syn_workload *w, enum svt_mode mode, uint64_t events,
		 uint64_t seed, char *path, size_t len)
{
	/* no guest actions: every event one the replay must handle (GUEST
	 * records would inflate events/s; live traces have none) */
	struct syn_config cfg = { .work = w, .mode = mode, .events = events, .seed = seed,
				  .guest_frames = 32768, .level = 3, .no_actions = true };
	svt_default_policy(&cfg.policy, &cfg.pool);
	snprintf(path, len, "%s/%s-%" PRIu64 ".svt", dir, w->name, seed);
	struct svt_trace_range ram = { 0, cfg.guest_frames };
	struct svt_trace_header h = { .producer = "svt-bench", .cpu_model = "synthetic",
				      .guest = w->name, .maxphyaddr = 46, .features = SYN_FEATURES,
				      .guest_frames = cfg.guest_frames, .ram = &ram, .nram = 1,
				      .policy = cfg.policy, .pool_frames = cfg.pool };
	struct svt_trace_error err;
	struct svt_trace_writer *wr = svt_trace_writer_open(path, &h, cfg.level, &err);
	char msg[512];
	if (!wr || syn_run(&cfg, wr, msg, sizeof(msg)) != 0) {
		fprintf(stderr, "svt-bench: synth %s failed: %s\n", w->name, wr ? msg : err.msg);
		return -1;
	}
	return svt_trace_writer_close(wr, &err) == SVT_TRACE_OK ? 0 : -1;
}

/*
 * Issue 20's speed targets on one large synthetic trace (mix), all as
 * user CPU time in this run: libzstd alone, the trace library's decoding
 * alone, and replay with audits off, periodic and full, each as events/s
 * and as a multiple of libzstd's time for the same events.  The full
 * audit runs over BENCH_FULL_EVENTS events from a third of the way in
 * (a state with the shadows a long run has); the replay up to there,
 * with the checks off, is timed on its own over the same range at level
 * none and taken off.
 */
#define BENCH_FULL_EVENTS 30000

/* The trace of a target: synth's WORKLOAD (seed 1) in PATH, its header in *info. */
static int target_trace(const char *dir, const char *workload, enum svt_mode mode, uint64_t events,
			char *path, size_t len, struct svt_trace_info *info)
{
	struct svt_trace_error err;
	if (synth(dir, syn_find_workload(workload), mode, events, 1, path, len) != 0)
		return 1;
	struct svt_trace_reader *r = svt_trace_open(path, 0, &err);
	bool ok = r && svt_trace_info(r, info) == SVT_TRACE_OK;
	if (r)
		svt_trace_close(r);
	return ok ? 0 : 1;
}

/*
 * Issue 20's audits-off target as the issue words it: replay of a fork
 * trace of TARGET_EVENTS events (synth's fork, this mode) at >= 10 M
 * events/s, aiming at <= 8x libzstd's time for the same file; user CPU
 * time, best of 3, as for mix above.
 */
static int fork_target(const char *dir, enum svt_mode mode, uint64_t events)
{
	char path[512];
	struct svt_trace_info info;

	printf("issue 20 target as worded: workload fork, mode %s, %" PRIu64 " events, user CPU "
	       "time, best of 3\n", svt_mode_name(mode), events);
	double ev;
	if (target_trace(dir, "fork", mode, events, path, sizeof(path), &info) != 0)
		return 1;
	ev = (double)info.events;
	double tz = best_of(3, zstd_user, path), tn = best_of(3, u_none, path);
	if (tz <= 0 || tn < 0) {
		fprintf(stderr, "svt-bench: a timing of %s failed\n", path);
		return 1;
	}
	printf("  %-22s %8.3f s %10.2f M events/s\n", "libzstd alone", tz, ev / tz / 1e6);
	printf("  %-22s %8.3f s %10.2f M events/s %6.1fx zstd  target >= 10 M events/s: %s; "
	       "aim <= 8x zstd: %s\n", "replay, audit none", tn, ev / tn / 1e6, tn / tz,
	       ev / tn >= 10e6 ? "met" : "NOT met", tn / tz <= 8 ? "met" : "not met");
	return 0;
}

static int targets(const char *dir, enum svt_mode mode, uint64_t events)
{
	char path[512];
	struct svt_trace_info info;

	printf("\nissue 20 targets: workload mix, mode %s, %" PRIu64 " events, user CPU time, "
	       "best of 3\n", svt_mode_name(mode), events);
	double ev;
	if (target_trace(dir, "mix", mode, events, path, sizeof(path), &info) != 0)
		return 1;
	ev = (double)info.events;
	double tz = best_of(3, zstd_user, path), td = best_of(3, decode_only, path);
	double tn = best_of(3, u_none, path), tp = best_of(3, u_periodic, path);
	uint64_t from = info.events / 3, to = from + BENCH_FULL_EVENTS - 1;
	double tf = -1, tfn = -1;
	for (int i = 0; i < 2; i++) {
		double a = replay_user(path, SVT_AUDIT_FULL, from, to, true);
		double b = replay_user(path, SVT_AUDIT_NONE, from, to, true);
		if (a >= 0 && (tf < 0 || a < tf))
			tf = a;
		if (b >= 0 && (tfn < 0 || b < tfn))
			tfn = b;
	}
	if (tz <= 0 || td < 0 || tn < 0 || tp < 0 || tf < 0 || tfn < 0) {
		fprintf(stderr, "svt-bench: a timing of %s failed\n", path);
		return 1;
	}
	double full_rate = tf > tfn ? (double)BENCH_FULL_EVENTS / (tf - tfn) : 0;
	printf("  %-22s %8.3f s %10.2f M events/s\n", "libzstd alone", tz, ev / tz / 1e6);
	printf("  %-22s %8.3f s %10.2f M events/s %6.1fx zstd\n", "decode only", td,
	       ev / td / 1e6, td / tz);
	printf("  %-22s %8.3f s %10.2f M events/s %6.1fx zstd  target >= 10 M events/s: %s; "
	       "aim <= 8x zstd: %s\n", "replay, audit none", tn, ev / tn / 1e6, tn / tz,
	       ev / tn >= 10e6 ? "met" : "NOT met", tn / tz <= 8 ? "met" : "not met");
	printf("  %-22s %8.3f s %10.2f M events/s %6.1fx zstd  target >= 2 M events/s: %s\n",
	       "replay, audit periodic", tp, ev / tp / 1e6, tp / tz,
	       ev / tp >= 2e6 ? "met" : "NOT met");
	printf("  %-22s %8.3f s %10.0f events/s   %6.0fx zstd  target >= 100000 events/s: %s\n"
	       "  (full: events %" PRIu64 "..%" PRIu64 ", %.3f s less %.3f s for the same range at "
	       "level none; x zstd for the whole trace at that rate)\n",
	       "replay, audit full", tf - tfn, full_rate, full_rate > 0 ? ev / full_rate / tz : 0,
	       full_rate >= 1e5 ? "met" : "NOT met", from, to, tf, tfn);
	return fork_target(dir, mode, events);
}

int main(int argc, char **argv)
{
	uint64_t events = argc > 1 ? strtoull(argv[1], NULL, 10) : 1000000;
	int mode = argc > 2 ? svt_mode_parse(argv[2]) : SVT_MODE_4LEVEL;
	uint64_t tevents = argc > 3 ? strtoull(argv[3], NULL, 10) : 3000000;
	char dir[] = "/tmp/svt-bench-XXXXXX";
	char path[512];
	int rc = 0;

	if (events == 0 || mode < 0 || tevents < 3 * BENCH_FULL_EVENTS || !mkdtemp(dir)) {
		fprintf(stderr, "usage: svt-bench [EVENTS [2level|pae|4level|5level "
			"[TARGET_EVENTS]]]\n"
			"  (TARGET_EVENTS: the trace of the issue 20 targets, at least %d; "
			"3000000)\n",
			3 * BENCH_FULL_EVENTS);
		return 2;
	}
	(void)g_path;
	printf("shadowvt replay benchmark: %" PRIu64 " events per workload, mode %s, best of 3\n",
	       events, svt_mode_name((enum svt_mode)mode));
	printf("%-12s %7s %9s %9s %8s %9s %8s %9s\n", "workload", "B/event", "zstd ME/s",
	       "replay", "x zstd", "+audit", "x zstd", "RSS KiB/M");
	for (unsigned i = 0; i < syn_nworkloads; i++) {
		const struct syn_workload *w = &syn_workloads[i];
		if (w->need_ia32e && mode < SVT_MODE_4LEVEL)
			continue;
		if (synth(dir, w, (enum svt_mode)mode, events, 1, path, sizeof(path)) != 0) {
			rc = 1;
			continue;
		}
		struct svt_trace_error err;
		struct svt_trace_info info;
		struct svt_trace_reader *r = svt_trace_open(path, 0, &err);
		if (!r || svt_trace_info(r, &info) != SVT_TRACE_OK) {
			rc = 1;
			continue;
		}
		svt_trace_close(r);
		double tz = best3(zstd_only, path);
		double tn = best3(r_none, path);
		double tf = best3(r_faults, path);
		if (tz >= 1e9 || tn >= 1e9 || tf >= 1e9) {      /* best3: every run failed */
			fprintf(stderr, "svt-bench: replaying %s failed\n", path);
			rc = 1;
			continue;
		}
		long rss;
		replay_child(path, SVT_AUDIT_NONE, &rss);
		double ev = (double)info.events;
		printf("%-12s %7.2f %9.1f %7.2f M %7.1fx %7.2f M %7.1fx %9.0f\n", w->name,
		       info.bytes_per_event, ev / tz / 1e6, ev / tn / 1e6, tn / tz, ev / tf / 1e6,
		       tf / tz, (double)rss / (ev / 1e6));
		if (info.bytes_per_event >= 10)
			printf("  ^ over the 10 bytes/event target\n");
		if (strcmp(w->name, "fork") == 0 && ev / tn < 5e6)
			printf("  ^ under the 5 M events/s target (audits off, fork)\n");
	}
	/* -j 2: two traces in two threads against one alone */
	char p1[512], p2[512];
	if (synth(dir, syn_find_workload("fork"), (enum svt_mode)mode, events, 2, p1,
		  sizeof(p1)) == 0 &&
	    synth(dir, syn_find_workload("fork"), (enum svt_mode)mode, events, 3, p2,
		  sizeof(p2)) == 0) {
		double one = 1e9, two = 1e9;
		for (int k = 0; k < 3; k++) {
			struct pair a = { p1, 0 }, b = { p2, 0 };
			double t0 = now();
			pair_run(&a);
			double t1 = now();
			pthread_t th;
			pthread_create(&th, NULL, pair_run, &a);
			pair_run(&b);
			pthread_join(th, NULL);
			double t2 = now();
			if (t1 - t0 < one)
				one = t1 - t0;
			if (t2 - t1 < two)
				two = t2 - t1;
		}
		printf("-j 2: one trace alone %.3f s, two traces at once %.3f s: %.2fx the time "
		       "of one\n"
		       "      baseline: two CPU-bound threads take %.2fx the time of one here "
		       "(%ld CPUs)\n",
		       one, two, two / one, spin_ratio(), sysconf(_SC_NPROCESSORS_ONLN));
	}
	if (targets(dir, (enum svt_mode)mode, tevents) != 0)
		rc = 1;
	char cmd[600];
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	if (system(cmd) != 0)
		rc = 1;
	return rc;
}
