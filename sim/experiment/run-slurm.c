/*
 * run-slurm.c — `shadowvt run --slurm` (docs/cluster.md): an experiment
 * as Slurm jobs on shared storage, and the plan it shares with the local
 * run (run_plan).
 *
 * The submitting run works out what is missing and submits up to three
 * kinds of job, each a body that calls this very program:
 *   - a trace array (`run --slurm-task LIST`): one task per trace to make;
 *   - replay arrays, after it (afterok): one task per trace x policy, each
 *     writing its run into its own SQLite shard;
 *   - the merge, after them (`run --slurm-merge`): every shard folded into
 *     the experiment's database, one transaction per shard.
 * The state lives next to the database, in DB.slurm/: lists/ (what each
 * array's task ids mean), shards/ (INPUT@POLICY.db, published by rename
 * once whole), logs/ (the jobs' output), submitted (one line per job).
 *
 * Idempotence: a run is identified as by run's cache (trace checksum,
 * canonical policy, audit level, tool version with the build identity);
 * a task whose run is in the database or whose shard is already there does
 * nothing, the merge copies a run only if the database lacks it, and a
 * re-submission submits only the runs that are in neither.
 */
#define _XOPEN_SOURCE 700
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "db.h"
#include "policy.h"
#include "replay.h"
#include "run.h"
#include "sim.h"

#define ARRAY_CHUNK     1000    /* tasks per job array (Slurm's MaxArraySize is 1001 by default) */
#define LINE_MAX_LEN    8192

/* ---- the plan, shared with the local run ------------------------------------ */

int run_plan(const struct svt_experiment *e, struct run_trace *traces, struct run_job *jobs,
	     struct svt_db *db, bool force)
{
	size_t njobs = e->ninputs * e->npolicies;

	for (size_t k = 0; k < njobs; k++) {
		struct run_job *j = &jobs[k];
		j->t = &traces[k / e->npolicies];
		j->p = &e->policies[k % e->npolicies];
		j->same_as = -1;
		j->row.divergence = -1;
		j->row.status = SVT_RUN_NOT_RUN;        /* until it is replayed or read back */
		snprintf(j->canon, sizeof(j->canon), "%s",
			 j->p->recorded ? j->t->recorded : j->p->canon);
		if (!j->t->ok) {
			snprintf(j->row.message, sizeof(j->row.message), "%s", j->t->message);
			j->row.recorded_policy = j->p->recorded;
			j->exit = j->t->status;
			continue;
		}
		for (size_t q = 0; q < k && j->canon[0]; q++)
			if (jobs[q].t->ok && strcmp(jobs[q].canon, j->canon) == 0 &&
			    strcmp(jobs[q].t->checksum, j->t->checksum) == 0) {
				j->same_as = jobs[q].same_as >= 0 ? jobs[q].same_as : (int)q;
				break;
			}
		if (j->same_as >= 0 || force || !j->canon[0] || !db)
			continue;
		int64_t id = svt_db_find_run(db, j->t->checksum, j->canon, svt_audit_name(e->audit),
					     svt_tool_version());
		if (id < 0)
			return -1;
		if (id > 0) {
			j->cached = true;
			j->row.id = id;
		}
	}
	return 0;
}

/* ---- paths ------------------------------------------------------------------ */

void run_slurm_dir(const struct svt_experiment *e, char *buf, size_t len)
{
	const char *slash = strrchr(e->db, '/'), *dot = strrchr(e->db, '.');
	size_t n = dot && (!slash || dot > slash + 1) ? (size_t)(dot - e->db) : strlen(e->db);

	snprintf(buf, len, "%.*s.slurm", (int)n, e->db);
}

static void shard_path(const char *dir, const struct run_job *j, char *buf, size_t len)
{
	snprintf(buf, len, "%s/shards/%s@%s.db", dir, j->t->in->name, j->p->name);
}

/* The shard at path holds job j's run, whole, by this build. */
static bool shard_good(const char *path, const struct svt_experiment *e, const struct run_job *j)
{
	struct svt_db_shard s;
	char err[600];

	if (access(path, F_OK) != 0 || svt_db_shard_read(path, &s, err, sizeof(err)) != 0)
		return false;
	return s.version == SVT_DB_VERSION && s.runs == 1 &&
	       (s.status == SVT_RUN_CLEAN || s.status == SVT_RUN_VIOLATIONS ||
		s.status == SVT_RUN_BAD_INPUT) && strcmp(s.checksum, j->t->checksum) == 0 &&
	       strcmp(s.policy, j->canon) == 0 && strcmp(s.audit, svt_audit_name(e->audit)) == 0 &&
	       strcmp(s.tool_version, svt_tool_version()) == 0;
}

/* The experiment's database, read-only, if it exists; NULL otherwise. */
static struct svt_db *open_existing(const struct svt_experiment *e)
{
	char msg[600];
	int st;

	if (access(e->db, F_OK) != 0)
		return NULL;
	struct svt_db *db = svt_db_open(e->db, false, &st, msg, sizeof(msg));
	if (!db)
		svt_err("run: %s", msg);
	return db;
}

/* ---- running Slurm's commands ----------------------------------------------- */

/* argv[0] found on PATH, its standard output into out (NUL-terminated,
 * cut at len - 1).  Its exit status; 127 if it could not be started. */
static int capture(const char *const argv[], char *out, size_t len)
{
	int fd[2];
	size_t n = 0;

	out[0] = '\0';
	if (pipe(fd) != 0)
		return 127;
	fflush(NULL);
	pid_t pid = fork();
	if (pid < 0) {
		close(fd[0]);
		close(fd[1]);
		return 127;
	}
	if (pid == 0) {
		dup2(fd[1], 1);
		close(fd[0]);
		close(fd[1]);
		execvp(argv[0], (char *const *)argv);
		fprintf(stderr, "shadowvt run: cannot run %s: %s\n", argv[0], strerror(errno));
		_exit(127);
	}
	close(fd[1]);
	for (;;) {
		char buf[4096];
		ssize_t r = read(fd[0], buf, sizeof(buf));
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			break;
		for (ssize_t i = 0; i < r && n + 1 < len; i++)
			out[n++] = buf[i];
	}
	out[n] = '\0';
	close(fd[0]);
	int st;
	while (waitpid(pid, &st, 0) < 0)
		if (errno != EINTR)
			return 127;
	return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + (WIFSIGNALED(st) ? WTERMSIG(st) : 0);
}

/* s in single quotes for sh, appended to buf. */
static bool append_quoted(char *buf, size_t len, const char *s)
{
	size_t n = strlen(buf);

	if (n + 4 >= len)
		return false;
	buf[n++] = ' ';
	buf[n++] = '\'';
	for (; *s; s++) {
		if (*s == '\'') {
			if (n + 5 >= len)
				return false;
			memcpy(buf + n, "'\\''", 4);
			n += 4;
		} else {
			if (n + 2 >= len)
				return false;
			buf[n++] = *s;
		}
	}
	buf[n++] = '\'';
	buf[n] = '\0';
	return n + 1 < len;
}

struct submit {
	const struct svt_experiment *e;
	const struct run_slurm_opts *o;
	char dir[4096], exe[PATH_MAX], file[PATH_MAX], results[PATH_MAX], cwd[PATH_MAX];
	char id[64];                    /* this submission */
	FILE *log;                      /* dir/submitted */
};

/* sbatch one job: an array of n tasks (n > 0) or a single job (n == 0);
 * its body runs this program with `what` (and list).  The job id in
 * jobid, or false with the reason printed. */
static bool sbatch(struct submit *s, const char *kind, size_t n, const char *list, const char *dep,
		   char *jobid, size_t idlen)
{
	const struct svt_experiment *e = s->e;
	const char *partition = s->o->partition ? s->o->partition : e->partition;
	const char *tlimit = s->o->time ? s->o->time : e->time;
	const char *mem = s->o->mem ? s->o->mem : e->mem;
	unsigned amax = s->o->array_max ? s->o->array_max : e->array_max;
	static char wrap[20000];
	char name[200], out[4300], arr[64], part[200], tim[64], mm[64], dp[2048],
		chdir[PATH_MAX + 16];
	char reply[512];
	const char *argv[20];
	int argc = 0;

	snprintf(wrap, sizeof(wrap), "exec");
	bool ok = append_quoted(wrap, sizeof(wrap), s->exe) &&
		  append_quoted(wrap, sizeof(wrap), "run") &&
		  append_quoted(wrap, sizeof(wrap), s->file);
	if (ok && s->results[0])
		ok = append_quoted(wrap, sizeof(wrap), "--results") &&
		     append_quoted(wrap, sizeof(wrap), s->results);
	if (ok && list)
		ok = append_quoted(wrap, sizeof(wrap), "--slurm-task") &&
		     append_quoted(wrap, sizeof(wrap), list);
	else if (ok)
		ok = append_quoted(wrap, sizeof(wrap), "--slurm-merge");
	if (!ok) {
		svt_err("run: --slurm: the job's command line is too long");
		return false;
	}
	snprintf(name, sizeof(name), "--job-name=%s-%s", e->name, kind);
	snprintf(out, sizeof(out), "--output=%s/logs/%%x-%s.out", s->dir, n ? "%A_%a" : "%j");
	snprintf(chdir, sizeof(chdir), "--chdir=%s", s->cwd);
	argv[argc++] = "sbatch";
	argv[argc++] = "--parsable";
	argv[argc++] = name;
	argv[argc++] = out;
	argv[argc++] = "--open-mode=append";
	argv[argc++] = chdir;
	argv[argc++] = "--requeue";
	argv[argc++] = "--kill-on-invalid-dep=yes";
	argv[argc++] = "--ntasks=1";
	if (n) {
		if (amax)
			snprintf(arr, sizeof(arr), "--array=0-%zu%%%u", n - 1, amax);
		else
			snprintf(arr, sizeof(arr), "--array=0-%zu", n - 1);
		argv[argc++] = arr;
	}
	if (partition) {
		snprintf(part, sizeof(part), "--partition=%s", partition);
		argv[argc++] = part;
	}
	if (tlimit) {
		snprintf(tim, sizeof(tim), "--time=%s", tlimit);
		argv[argc++] = tim;
	}
	if (mem) {
		snprintf(mm, sizeof(mm), "--mem=%s", mem);
		argv[argc++] = mm;
	}
	if (dep && dep[0]) {
		snprintf(dp, sizeof(dp), "--dependency=afterok%s", dep);
		argv[argc++] = dp;
	}
	argv[argc++] = "--wrap";
	argv[argc++] = wrap;
	argv[argc] = NULL;
	int rc = capture(argv, reply, sizeof(reply));
	reply[strcspn(reply, ";\n")] = '\0';
	if (rc != 0 || !reply[0] || strspn(reply, "0123456789") != strlen(reply)) {
		svt_err("run: --slurm: sbatch failed (exit status %d)%s%s", rc,
			reply[0] ? ": " : "", reply);
		return false;
	}
	snprintf(jobid, idlen, "%.40s", reply);
	fprintf(s->log, "%s %s %s %s\n", s->id, kind, jobid, list ? list : "-");
	fflush(s->log);
	return true;
}

static int mkdirs3(const char *dir)
{
	char p[4200];

	if (run_mkdirs(dir) != 0)
		return -1;
	snprintf(p, sizeof(p), "%s/shards", dir);
	if (run_mkdirs(p) != 0)
		return -1;
	snprintf(p, sizeof(p), "%s/logs", dir);
	if (run_mkdirs(p) != 0)
		return -1;
	snprintf(p, sizeof(p), "%s/lists", dir);
	return run_mkdirs(p);
}

static bool abspath(const char *path, char *out)
{
	return realpath(path, out) != NULL;
}

/* ---- submitting -------------------------------------------------------------- */

int run_slurm_submit(const struct svt_experiment *e, const struct run_slurm_opts *o)
{
	size_t np = e->npolicies, njobs = e->ninputs * np;
	struct submit s = { .e = e, .o = o };
	struct run_trace *traces = run_find_traces(e, SIZE_MAX);
	struct run_job *jobs = calloc(njobs ? njobs : 1, sizeof(*jobs));
	bool *make = calloc(e->ninputs ? e->ninputs : 1, sizeof(*make));
	size_t *replay = calloc(njobs ? njobs : 1, sizeof(*replay));
	struct svt_db *db = NULL;
	int rc = SVT_EXIT_INPUT;
	size_t nmake = 0, nreplay = 0, done = 0, waiting = 0;

	if (!traces || !jobs || !make || !replay) {
		svt_err("run: out of memory");
		goto out;
	}
	if (!getenv("SLURM_CONF"))
		fprintf(stderr,
			"shadowvt run: --slurm: SLURM_CONF is not set: Slurm's commands use their "
			"built-in configuration file\n");
	if (o->results && run_mkdirs(o->results) != 0) {
		svt_err("run: cannot make %s: %s", o->results, strerror(errno));
		goto out;
	}
	ssize_t xl = readlink("/proc/self/exe", s.exe, sizeof(s.exe) - 1);
	if (xl <= 0 || !abspath(e->file, s.file) || !getcwd(s.cwd, sizeof(s.cwd)) ||
	    (o->results && !abspath(o->results, s.results))) {
		svt_err("run: --slurm: cannot resolve the program, the experiment file or "
			"--results: %s", strerror(errno));
		goto out;
	}
	s.exe[xl] = '\0';
	run_slurm_dir(e, s.dir, sizeof(s.dir));
	if (mkdirs3(s.dir) != 0 || run_mkdirs(e->traces) != 0) {
		svt_err("run: cannot make %s: %s", s.dir, strerror(errno));
		goto out;
	}
	/* What must be made first, then what is done, waiting or to replay. */
	for (size_t i = 0; i < e->ninputs; i++) {
		struct run_trace *t = &traces[i];
		if (t->in->kind == SVT_EXP_TRACE) {
			if (!t->ok) {
				svt_err("run: %s: %s", t->in->name, t->message);
				goto out;
			}
			continue;
		}
		if (!run_trace_current(e, t)) {
			make[i] = true;
			t->ok = false;
			nmake++;
		}
	}
	if ((db = open_existing(e)) == NULL && access(e->db, F_OK) == 0)
		goto out;
	if (run_plan(e, traces, jobs, db, false) != 0) {
		svt_err("run: %s", svt_db_error(db));
		goto out;
	}
	for (size_t k = 0; k < njobs; k++) {
		struct run_job *j = &jobs[k];
		char sp[4400];
		if (make[k / np]) {
			replay[nreplay++] = k;
			continue;
		}
		if (j->same_as >= 0 || j->cached) {
			done++;
			continue;
		}
		shard_path(s.dir, j, sp, sizeof(sp));
		if (shard_good(sp, e, j))
			waiting++;
		else
			replay[nreplay++] = k;
	}
	if (nmake + nreplay + waiting == 0) {
		printf("%s: nothing to submit: all %zu runs are in %s\n", e->name, njobs, e->db);
		rc = SVT_EXIT_OK;
		goto out;
	}
	char logp[4200];
	snprintf(logp, sizeof(logp), "%s/submitted", s.dir);
	if (!(s.log = fopen(logp, "a"))) {
		svt_err("run: %s: %s", logp, strerror(errno));
		goto out;
	}
	struct timespec now;
	clock_gettime(CLOCK_REALTIME, &now);
	snprintf(s.id, sizeof(s.id), "%lld.%06ld.%ld", (long long)now.tv_sec, now.tv_nsec / 1000,
		 (long)getpid());
	/* The lists: line i is what array task i does. */
	char tjob[64] = "", dep[2048] = "", list[4400];
	if (nmake) {
		snprintf(list, sizeof(list), "%s/lists/%s-trace.list", s.dir, s.id);
		FILE *f = fopen(list, "w");
		for (size_t i = 0; f && i < e->ninputs; i++)
			if (make[i])
				fprintf(f, "trace %zu %s\n", i, e->inputs[i].name);
		if (!f || fclose(f) != 0) {
			svt_err("run: %s: %s", list, strerror(errno));
			goto out;
		}
		if (!sbatch(&s, "trace", nmake, list, NULL, tjob, sizeof(tjob)))
			goto out;
	}
	size_t arrays = 0;
	for (size_t c = 0; c < nreplay; c += ARRAY_CHUNK, arrays++) {
		size_t m = nreplay - c < ARRAY_CHUNK ? nreplay - c : ARRAY_CHUNK;
		char rjob[64], tdep[80] = "";
		snprintf(list, sizeof(list), "%s/lists/%s-replay-%zu.list", s.dir, s.id, arrays);
		FILE *f = fopen(list, "w");
		for (size_t i = 0; f && i < m; i++) {
			const struct run_job *j = &jobs[replay[c + i]];
			fprintf(f, "replay %zu %s@%s\n", replay[c + i], j->t->in->name, j->p->name);
		}
		if (!f || fclose(f) != 0) {
			svt_err("run: %s: %s", list, strerror(errno));
			goto out;
		}
		if (tjob[0])
			snprintf(tdep, sizeof(tdep), ":%s", tjob);
		if (!sbatch(&s, "replay", m, list, tdep, rjob, sizeof(rjob)))
			goto out;
		size_t dl = strlen(dep);
		snprintf(dep + dl, sizeof(dep) - dl, ":%s", rjob);
	}
	char mjob[64];
	if (!sbatch(&s, "merge", 0, NULL, dep, mjob, sizeof(mjob)))
		goto out;
	if (!o->quiet) {
		printf("%s: %zu runs: %zu in %s, %zu replayed and waiting for the merge, %zu "
		       "to replay\n", e->name, njobs, done, e->db, waiting, nreplay);
		if (nmake)
			printf("submitted job %s: %zu trace(s) to make\n", tjob, nmake);
		if (nreplay)
			printf("submitted job(s)%s: %zu replay task(s)\n", dep, nreplay);
		printf("submitted job %s: the merge into %s\n", mjob, e->db);
		printf("follow them with: shadowvt run --status %s%s%s\n", e->file,
		       o->results ? " --results " : "", o->results ? o->results : "");
	}
	rc = SVT_EXIT_OK;
out:
	if (s.log)
		fclose(s.log);
	svt_db_close(db);
	free(replay);
	free(make);
	free(jobs);
	run_traces_free(traces, e->ninputs);
	return rc;
}

/* ---- one task ------------------------------------------------------------------ */

/* Line `index` of the list: what (trace or replay) and its number. */
static bool list_line(const char *list, unsigned long index, char *what, size_t wlen, size_t *num)
{
	FILE *f = fopen(list, "r");
	char line[LINE_MAX_LEN];
	unsigned long i = 0;
	bool found = false;

	if (!f)
		return false;
	while (fgets(line, sizeof(line), f))
		if (i++ == index) {
			char w[16];
			found = sscanf(line, "%15s %zu", w, num) == 2;
			snprintf(what, wlen, "%s", w);
			break;
		}
	fclose(f);
	return found;
}

/* Copy from to to (a new file), synced.  0 or -1 (errno). */
static int copy_file(const char *from, const char *to)
{
	int in = open(from, O_RDONLY),
		out = in < 0 ? -1 : open(to, O_WRONLY | O_CREAT | O_TRUNC, 0666);
	char buf[65536];
	ssize_t r = 0;

	while (out >= 0 && (r = read(in, buf, sizeof(buf))) > 0)
		if (write(out, buf, (size_t)r) != r) {
			r = -1;
			break;
		}
	int rc = in < 0 || out < 0 || r < 0 || fsync(out) != 0 ? -1 : 0;
	int saved = errno;
	if (out >= 0 && close(out) != 0)
		rc = -1;
	if (in >= 0)
		close(in);
	errno = saved;
	return rc;
}

static void remove_db_files(const char *path)
{
	char p[4400];

	remove(path);
	snprintf(p, sizeof(p), "%s-wal", path);
	remove(p);
	snprintf(p, sizeof(p), "%s-shm", path);
	remove(p);
	snprintf(p, sizeof(p), "%s-journal", path);
	remove(p);
}

static int task_replay(const struct svt_experiment *e, size_t k, volatile sig_atomic_t *stop)
{
	size_t np = e->npolicies, i = k / np;
	struct run_trace *traces = run_find_traces(e, i);
	struct run_job *jobs = calloc(np, sizeof(*jobs));
	char dir[4096], sp[4400], part[4500], tmpdir[4200], tmp[4300], msg[600];
	int rc = SVT_EXIT_INPUT, st;

	if (!traces || !jobs) {
		svt_err("run: out of memory");
		goto out;
	}
	struct run_trace *t = &traces[i];
	struct run_job *j = &jobs[k % np];
	/* the jobs of this trace only: the same policy twice is replayed once */
	for (size_t q = 0; q < np; q++) {
		jobs[q].t = t;
		jobs[q].p = &e->policies[q];
		snprintf(jobs[q].canon, sizeof(jobs[q].canon), "%s",
			 jobs[q].p->recorded ? t->recorded : jobs[q].p->canon);
	}
	if (!t->ok || !j->canon[0]) {
		svt_err("run: %s: %s", t->in->name,
			t->ok ? "cannot read the trace's policy" : t->message);
		goto out;
	}
	for (size_t q = 0; q < k % np; q++)
		if (strcmp(jobs[q].canon, j->canon) == 0) {
			printf("%s under %s: the same run as under %s\n", t->in->name, j->p->name,
			       jobs[q].p->name);
			rc = SVT_EXIT_OK;
			goto out;
		}
	struct svt_db *db = open_existing(e);
	int64_t have = db ? svt_db_find_run(db, t->checksum, j->canon, svt_audit_name(e->audit),
					    svt_tool_version()) : 0;
	svt_db_close(db);
	if (have > 0) {
		printf("%s under %s: already in %s (run %" PRId64 ")\n", t->in->name,
		       j->p->name, e->db, have);
		rc = SVT_EXIT_OK;
		goto out;
	}
	run_slurm_dir(e, dir, sizeof(dir));
	shard_path(dir, j, sp, sizeof(sp));
	if (shard_good(sp, e, j)) {
		printf("%s under %s: already replayed (%s)\n", t->in->name, j->p->name, sp);
		rc = SVT_EXIT_OK;
		goto out;
	}
	/* Replay into a node-local file; publish it whole by rename. */
	const char *td = getenv("TMPDIR");
	snprintf(tmpdir, sizeof(tmpdir), "%s/svt-shard-XXXXXX", td && td[0] ? td : "/tmp");
	if (!mkdtemp(tmpdir)) {
		svt_err("run: %s: %s", tmpdir, strerror(errno));
		goto out;
	}
	snprintf(tmp, sizeof(tmp), "%s/shard.db", tmpdir);
	if (!(db = svt_db_open(tmp, true, &st, msg, sizeof(msg)))) {
		svt_err("run: %s", msg);
		rmdir(tmpdir);
		goto out;
	}
	struct svt_replay_config cfg = {
		.path = t->path, .policy_given = !j->p->recorded, .policy = j->p->policy,
		.pool = j->p->pool, .audit = e->audit, .db = db, .show = 0, .store = 1000,
		.stop = stop,
	};
	struct svt_replay_result *res = calloc(1, sizeof(*res));
	if (!res) {
		svt_db_close(db);
		remove_db_files(tmp);
		rmdir(tmpdir);
		goto out;
	}
	svt_replay(&cfg, res);
	bool flushed = svt_db_flush(db) == 0 && svt_db_shard_seal(db) == 0;
	if (!flushed)
		svt_err("run: %s", svt_db_error(db));
	svt_db_close(db);
	bool finished = res->run > 0 && flushed && (res->status == SVT_RUN_CLEAN ||
		res->status == SVT_RUN_VIOLATIONS || res->status == SVT_RUN_BAD_INPUT);
	snprintf(part, sizeof(part), "%s/shards", dir);
	if (finished && run_mkdirs(part) != 0) {
		svt_err("run: cannot make %s: %s", part, strerror(errno));
		finished = false;
	}
	snprintf(part, sizeof(part), "%s.part", sp);
	if (finished && (copy_file(tmp, part) != 0 || rename(part, sp) != 0)) {
		svt_err("run: %s: %s", sp, strerror(errno));
		remove(part);
		finished = false;
	}
	printf("%s under %s: %s, %" PRIu64 " events, %" PRIu64 " violations, %.2f s%s%s\n",
	       t->in->name, j->p->name, svt_db_run_status_name(res->status), res->events,
	       res->violations + res->divergences, res->seconds, finished ? " -> " : ", not stored",
	       finished ? sp : "");
	if (res->message[0])
		printf("  %s\n", res->message);
	rc = finished ? SVT_EXIT_OK : res->status == SVT_RUN_INCOMPLETE ? SVT_EXIT_INTERRUPTED :
	     SVT_EXIT_INPUT;
	free(res);
	remove_db_files(tmp);
	rmdir(tmpdir);
out:
	free(jobs);
	run_traces_free(traces, e->ninputs);
	return rc;
}

int run_slurm_task(const struct svt_experiment *e, const char *list, volatile sig_atomic_t *stop)
{
	const char *id = getenv("SLURM_ARRAY_TASK_ID");
	uint64_t index;
	char what[16];
	size_t num;

	if (!id || !svt_parse_u64(id, &index)) {
		svt_err("run: --slurm-task: SLURM_ARRAY_TASK_ID is %s: this option is for the jobs "
			"that run --slurm submits", id ? "not a number" : "not set");
		return SVT_EXIT_USAGE;
	}
	if (!list_line(list, (unsigned long)index, what, sizeof(what), &num)) {
		svt_err("run: --slurm-task: %s has no task %" PRIu64 " (%s)", list, index,
			errno ? strerror(errno) : "too few lines");
		return SVT_EXIT_INPUT;
	}
	if (strcmp(what, "trace") == 0 && num < e->ninputs) {
		struct run_trace *t = run_find_traces(e, num);
		if (!t)
			return SVT_EXIT_INPUT;
		run_make_one(e, &t[num], false);
		int rc = t[num].ok ? SVT_EXIT_OK : t[num].status ? t[num].status : SVT_EXIT_INPUT;
		if (t[num].ok)
			printf("%s: %s %s\n", t[num].in->name, t[num].how ? t[num].how : "made",
			       t[num].path);
		else
			svt_err("run: %s: %s", t[num].in->name, t[num].message);
		run_traces_free(t, e->ninputs);
		return rc;
	}
	if (strcmp(what, "replay") == 0 && num < e->ninputs * e->npolicies)
		return task_replay(e, num, stop);
	svt_err("run: --slurm-task: %s: task %" PRIu64 " is \"%s %zu\": not a task of this "
		"experiment (was the file changed since it was submitted?)", list,
		index, what, num);
	return SVT_EXIT_INPUT;
}

/* ---- the merge ------------------------------------------------------------------ */

int run_slurm_merge(const struct svt_experiment *e, bool quiet)
{
	size_t njobs = e->ninputs * e->npolicies;
	struct run_trace *traces = run_find_traces(e, SIZE_MAX);
	struct run_job *jobs = calloc(njobs ? njobs : 1, sizeof(*jobs));
	char dir[4096], sp[4400], msg[700], dbdir[4200];
	size_t merged = 0, dups = 0, refused = 0, missing = 0;
	struct svt_db *db = NULL;
	int rc = SVT_EXIT_INPUT, st;

	if (!traces || !jobs) {
		svt_err("run: out of memory");
		goto out;
	}
	snprintf(dbdir, sizeof(dbdir), "%s", e->db);
	if (strrchr(dbdir, '/'))
		*strrchr(dbdir, '/') = '\0';
	if ((strchr(e->db, '/') && run_mkdirs(dbdir) != 0) ||
	    !(db = svt_db_open(e->db, true, &st, msg, sizeof(msg)))) {
		svt_err("run: --slurm-merge: %s",
			db ? msg : strchr(e->db, '/') ? strerror(errno) : msg);
		goto out;
	}
	if (run_plan(e, traces, jobs, db, false) != 0) {
		svt_err("run: %s", svt_db_error(db));
		goto out;
	}
	run_slurm_dir(e, dir, sizeof(dir));
	for (size_t k = 0; k < njobs; k++) {
		struct run_job *j = &jobs[k];
		if (!j->t->ok) {
			missing++;
			fprintf(stderr, "shadowvt run: missing: %s under %s: no trace (%s)\n",
				j->t->in->name, j->p->name, j->t->message);
			continue;
		}
		shard_path(dir, j, sp, sizeof(sp));
		bool there = access(sp, F_OK) == 0;
		if (j->same_as >= 0 || j->cached) {
			if (there) {            /* a second copy: never counted twice */
				remove_db_files(sp);
				dups++;
			}
			continue;
		}
		if (!there) {
			missing++;
			fprintf(stderr, "shadowvt run: missing: %s under %s: no shard %s\n",
				j->t->in->name, j->p->name, sp);
			continue;
		}
		if (svt_db_begin(db) != 0) {
			svt_err("run: %s", svt_db_error(db));
			goto out;
		}
		int64_t id = svt_db_merge_shard(db, sp, j->t->checksum, j->canon,
						svt_audit_name(e->audit), svt_tool_version(), msg,
						sizeof(msg));
		if (id > 0 && svt_db_commit(db) != 0)
			id = -2;
		if (id <= 0)
			svt_db_rollback(db);
		if (id == -2) {
			svt_err("run: %s", svt_db_error(db));
			goto out;
		}
		if (id > 0) {
			merged++;
			j->cached = true;
			j->row.id = id;
			remove_db_files(sp);
		} else if (id == 0) {
			dups++;
			remove_db_files(sp);
		} else {
			char bad[4500];
			refused++;
			snprintf(bad, sizeof(bad), "%s.refused", sp);
			rename(sp, bad);
			fprintf(stderr, "shadowvt run: refused: %s (moved to %s)\n", msg, bad);
		}
	}
	if (!quiet)
		printf("merge into %s: %zu shard(s) merged, %zu duplicate(s) dropped, %zu refused, "
		       "%zu run(s) missing\n", e->db, merged, dups, refused, missing + refused);
	if (missing + refused)
		fprintf(stderr, "shadowvt run: %zu run(s) are not in %s: `shadowvt run --slurm %s` "
			"submits them again\n", missing + refused, e->db, e->file);
	rc = missing + refused ? SVT_EXIT_INTERRUPTED : SVT_EXIT_OK;
out:
	svt_db_close(db);
	free(jobs);
	run_traces_free(traces, e->ninputs);
	return rc;
}

/* ---- --status ------------------------------------------------------------------ */

struct subjob {
	char kind[16], id[64], list[4400];
};

/* The jobs of the latest submission (dir/submitted); how many. */
static size_t latest_jobs(const char *dir, struct subjob *out, size_t max)
{
	char path[4200], line[LINE_MAX_LEN], last[64] = "";
	size_t n = 0;
	FILE *f;

	snprintf(path, sizeof(path), "%s/submitted", dir);
	if (!(f = fopen(path, "r")))
		return 0;
	while (fgets(line, sizeof(line), f)) {
		char sub[64];
		struct subjob j;
		if (sscanf(line, "%63s %15s %63s %4399s", sub, j.kind, j.id, j.list) != 4)
			continue;
		if (strcmp(sub, last) != 0) {
			snprintf(last, sizeof(last), "%s", sub);
			n = 0;
		}
		if (n < max)
			out[n++] = j;
	}
	fclose(f);
	return n;
}

/* The state squeue gives task `index` of array job `id` (or the job
 * itself, index < 0), or NULL if squeue does not list it. */
static const char *queued_state(const char *q, const char *id, long index)
{
	static char state[32];
	char want[96];
	size_t wl;

	if (index >= 0)
		snprintf(want, sizeof(want), "%s_%ld ", id, index);
	else
		snprintf(want, sizeof(want), "%s ", id);
	wl = strlen(want);
	for (const char *p = q; p && *p; p = strchr(p, '\n') ? strchr(p, '\n') + 1 : NULL)
		if (strncmp(p, want, wl) == 0 && sscanf(p + wl, "%31s", state) == 1)
			return state;
	return NULL;
}

/* The controller's JobState of a job it still remembers, or NULL. */
static const char *job_state(const char *id)
{
	static char out[16384], state[64];
	const char *argv[] = { "scontrol", "-o", "show", "job", id, NULL };

	if (capture(argv, out, sizeof(out)) != 0)
		return NULL;
	const char *p = strstr(out, "JobState=");
	if (!p || sscanf(p + 9, "%63s", state) != 1)
		return NULL;
	return state;
}

int run_slurm_status(const struct svt_experiment *e)
{
	size_t np = e->npolicies, njobs = e->ninputs * np;
	struct run_trace *traces = run_find_traces(e, SIZE_MAX);
	struct run_job *jobs = calloc(njobs ? njobs : 1, sizeof(*jobs));
	long *task = malloc((njobs ? njobs : 1) * sizeof(*task));
	size_t *arr = calloc(njobs ? njobs : 1, sizeof(*arr));
	static struct subjob sj[256];
	static char queue[1 << 20];
	char dir[4096], sp[4400], ids[4096] = "";
	struct svt_db *db = NULL;
	int rc = SVT_EXIT_INPUT;
	unsigned counts[7] = { 0 };
	static const char *const names[7] = { "done", "waiting for the merge", "running", "pending",
					      "failed", "not submitted", "no trace" };

	if (!traces || !jobs || !task || !arr) {
		svt_err("run: out of memory");
		goto out;
	}
	run_slurm_dir(e, dir, sizeof(dir));
	if ((db = open_existing(e)) == NULL && access(e->db, F_OK) == 0)
		goto out;
	if (run_plan(e, traces, jobs, db, false) != 0) {
		svt_err("run: %s", svt_db_error(db));
		goto out;
	}
	/* which array task of the latest submission replays which run */
	size_t nsj = latest_jobs(dir, sj, sizeof(sj) / sizeof(sj[0]));
	for (size_t k = 0; k < njobs; k++)
		task[k] = -1;
	for (size_t s = 0; s < nsj; s++) {
		size_t il = strlen(ids);
		snprintf(ids + il, sizeof(ids) - il, "%s%s", il ? "," : "", sj[s].id);
		if (strcmp(sj[s].kind, "replay") != 0)
			continue;
		FILE *f = fopen(sj[s].list, "r");
		char line[LINE_MAX_LEN];
		long i = 0;
		while (f && fgets(line, sizeof(line), f)) {
			size_t k;
			if (sscanf(line, "replay %zu", &k) == 1 && k < njobs) {
				task[k] = i;
				arr[k] = s;
			}
			i++;
		}
		if (f)
			fclose(f);
	}
	bool asked = false;
	if (ids[0]) {
		const char *argv[] = { "squeue", "-h", "-r", "-o", "%i %T", "-j", ids, NULL };
		asked = capture(argv, queue, sizeof(queue)) == 0;
		if (!asked)
			fprintf(stderr,
				"shadowvt run: --status: squeue failed: states from files only\n");
	}
	int wt = 5, wp = 6;
	for (size_t k = 0; k < njobs; k++) {
		int a = (int)strlen(jobs[k].t->in->name), b = (int)strlen(jobs[k].p->name);
		wt = a > wt ? a : wt;
		wp = b > wp ? b : wp;
	}
	printf("experiment %s: %zu runs, results %s, cluster state in %s\n", e->name, njobs,
	       e->db, dir);
	printf("%-*s  %-*s  %s\n", wt, "TRACE", wp, "POLICY", "STATE");
	for (size_t k = 0; k < njobs; k++) {
		struct run_job *j = &jobs[k];
		const char *q = task[k] >= 0 && asked ?
			queued_state(queue, sj[arr[k]].id, task[k]) : NULL;
		int c;
		if (j->cached || j->same_as >= 0)
			c = 0;
		else if (q && strcmp(q, "RUNNING") == 0)
			c = 2;
		else if (q)
			c = 3;
		else if (j->t->ok && (shard_path(dir, j, sp, sizeof(sp)), shard_good(sp, e, j)))
			c = 1;
		else if (task[k] >= 0)
			c = 4;
		else if (!j->t->ok)
			c = 6;
		else
			c = 5;
		counts[c]++;
		printf("%-*s  %-*s  %s", wt, j->t->in->name, wp, j->p->name, names[c]);
		if (c == 4)
			printf(" (log: %s/logs/%s-replay-%s_%ld.out)", dir, e->name,
			       sj[arr[k]].id, task[k]);
		if (c == 0 && j->same_as >= 0)
			printf(" (the same run as %s)", jobs[j->same_as].p->name);
		printf("\n");
	}
	for (size_t s = 0; s < nsj; s++) {
		const char *js = job_state(sj[s].id);
		printf("job %s (%s): %s\n", sj[s].id, sj[s].kind,
		       js ? js : "no longer known to the controller");
	}
	printf("%zu runs:", njobs);
	for (int c = 0; c < 7; c++)
		printf("%s %u %s", c ? "," : "", counts[c], names[c]);
	printf("\n");
	rc = SVT_EXIT_OK;
out:
	svt_db_close(db);
	free(arr);
	free(task);
	free(jobs);
	run_traces_free(traces, e->ninputs);
	return rc;
}
