/*
 * live-engine.c — running guests under the hypervisor: where hv.elf and
 * the engines' run scripts are, for `shadowvt record` and the guest inputs
 * of experiments, and one recording (live.h): the guest run through the
 * engine's script in a directory of its own (a Linux kernel's vmlinux
 * taken out of its bzImage first), and the live stream it sent, or a
 * saved one, turned into a trace (stream.c).
 */
#define _XOPEN_SOURCE 700
#include <errno.h>
#include <ftw.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "config.h"
#include "linux-image.h"
#include "live.h"
#include "policy.h"
#include "stream.h"

#ifndef SVT_BUILDDIR            /* a build outside the Makefile (make fuzz): no build tree */
#define SVT_BUILDDIR "/nonexistent"
#define SVT_SRCDIR "/nonexistent"
#define SVT_PKGLIBEXECDIR "/nonexistent"
#endif

/* Where hv.elf and the engine's run script (bochs-run.sh, qemu-run.sh)
 * are: $SHADOWVT_VMX (both), else the build tree (an uninstalled
 * shadowvt), else the installed copies. */
void svt_vmx_paths(char *hv, char *script, size_t len, const char *engine)
{
	const char *e = getenv("SHADOWVT_VMX");
	if (e && *e) {
		snprintf(hv, len, "%s/hv.elf", e);
		snprintf(script, len, "%s/%s-run.sh", e, engine);
		return;
	}
	snprintf(hv, len, "%s/vmx/hv.elf", SVT_BUILDDIR);
	snprintf(script, len, "%s/vmx/%s-run.sh", SVT_SRCDIR, engine);
	if (access(hv, R_OK) == 0 && access(script, R_OK) == 0)
		return;
	snprintf(hv, len, "%s/hv.elf", SVT_PKGLIBEXECDIR);
	snprintf(script, len, "%s/%s-run.sh", SVT_PKGLIBEXECDIR, engine);
}

int svt_live_policy(const char *spec, char *policy, size_t len, char *why, size_t whylen)
{
	struct svt_policy p;
	unsigned pool, roots, roots0;

	svt_policy_default_hv(&p, &pool, &roots);
	roots0 = roots;
	if (svt_policy_parse_n(spec, strlen(spec), &p, &pool, &roots, SVT_POLICY_HV_POOL, why,
			       whylen) != 0)
		return -1;
	size_t n = svt_policy_format(&p, pool, policy, len);
	if (roots != roots0 && n < len)
		snprintf(policy + n, len - n, ",roots=%u", roots);
	return 0;
}

/* ---- one recording ------------------------------------------------------------ */

/* What the engine's run script gets besides its arguments. */
struct script_env {
	uint64_t timeout;
	const char *args;       /* GUEST_ARGS */
	bool linux_kernel;      /* set GUEST_INITRD (or unset it), and Linux's memory and CPU */
	const char *initrd;
};

/* Run the engine's script with arguments as they are (no shell parsing of
 * user paths); its exit status, or 127 if it could not start. */
static int run_script(const char *script, const char *dir, const char *guest, const char *hv,
		      const char *hvargs, const struct script_env *se)
{
	fflush(NULL);
	pid_t pid = fork();
	if (pid < 0)
		return 127;
	if (pid == 0) {
		char t[32];
		snprintf(t, sizeof(t), "%" PRIu64, se->timeout);
		setenv("BOCHS_TIMEOUT", t, 1);
		setenv("QEMU_TIMEOUT", t, 1);
		setenv("GUEST_ARGS", se->args, 1);
		if (se->linux_kernel) {
			if (se->initrd)
				setenv("GUEST_INITRD", se->initrd, 1);
			else
				unsetenv("GUEST_INITRD");
			setenv("BOCHS_MEGS", "512", 0);
			setenv("BOCHS_CPU", "broadwell_ult", 0);
		}
		execlp("sh", "sh", script, dir, guest, hv, hvargs, (char *)NULL);
		_exit(127);
	}
	int st;
	if (waitpid(pid, &st, 0) < 0)
		return 127;
	return WIFEXITED(st) ? WEXITSTATUS(st) : 125;
}

static int copy_file(const char *from, const char *to)
{
	FILE *in = fopen(from, "rb"), *out = in ? fopen(to, "wb") : NULL;
	char buf[65536];
	size_t n;
	int rc = in && out ? 0 : -1;
	while (rc == 0 && (n = fread(buf, 1, sizeof(buf), in)) > 0)
		if (fwrite(buf, 1, n, out) != n)
			rc = -1;
	if (in && ferror(in))
		rc = -1;
	if (in)
		fclose(in);
	if (out && fclose(out) != 0)
		rc = -1;
	return rc;
}

static uint8_t *slurp(const char *path, size_t *n)
{
	FILE *f = fopen(path, "rb");
	if (!f)
		return NULL;
	size_t cap = 1 << 16, len = 0;
	uint8_t *b = malloc(cap);
	while (b) {
		size_t r = fread(b + len, 1, cap - len, f);
		len += r;
		if (len < cap)
			break;
		uint8_t *nb = realloc(b, cap *= 2);
		if (!nb)
			free(b);
		b = nb;
	}
	if (ferror(f)) {
		free(b);
		b = NULL;
	}
	fclose(f);
	*n = len;
	return b;
}

/* The vmlinux out of the bzImage at kernel, into vml. */
static int linux_prepare(const char *kernel, const char *vml, char *why, size_t whylen)
{
	size_t n, vn;
	uint8_t *img = slurp(kernel, &n), *v;
	char err[200];
	if (!img) {
		snprintf(why, whylen, "%s: %s", kernel, strerror(errno));
		return -1;
	}
	int rc = svt_linux_vmlinux(img, n, &v, &vn, err, sizeof(err));
	free(img);
	if (rc != 0) {
		snprintf(why, whylen, "%s: %s", kernel, err);
		return -1;
	}
	FILE *f = fopen(vml, "wb");
	bool ok = f && fwrite(v, 1, vn, f) == vn;
	if (f && fclose(f) != 0)
		ok = false;
	free(v);
	if (!ok) {
		snprintf(why, whylen, "%s: %s", vml, strerror(errno));
		return -1;
	}
	return 0;
}

/* The last line of the hypervisor's log, for a verdict that needs it. */
static void last_log_line(const char *path, char *line, size_t len)
{
	FILE *f = fopen(path, "r");
	char buf[512];
	line[0] = 0;
	while (f && fgets(buf, sizeof(buf), f))
		if (buf[0] != '\n' && buf[0] != '\r')
			snprintf(line, len, "%s", buf);
	if (f)
		fclose(f);
	line[strcspn(line, "\r\n")] = 0;
}

static int rm_one(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
	(void)sb;
	(void)flag;
	(void)ftw;
	return remove(path);
}

/* The temporary directory of a run (tmp[0] == 0 where --keep named the
 * directory): removed on every way out except where a message sends the
 * user into it (kept). */
static void drop_tmp(const char *tmp, struct svt_live_result *res)
{
	if (tmp[0] && nftw(tmp, rm_one, 16, FTW_DEPTH | FTW_PHYS) != 0)
		snprintf(res->not_removed, sizeof(res->not_removed), "%s", tmp);
}

static int keep_tmp(const char *tmp, struct svt_live_result *res)
{
	snprintf(res->kept, sizeof(res->kept), "%s", tmp);
	return -1;
}

/* Run the guest in dir; the stream it sent is then at stream. */
static int run_guest(const struct svt_live_run *run, const char *dir, const char *tmp,
		     struct svt_live_result *res, int *engine_rc, char *why, size_t whylen)
{
	const char *guest = run->guest;
	char vml[4300];
	if (run->linux_kernel) {
		if (run->initrd && access(run->initrd, R_OK) != 0) {
			snprintf(why, whylen, "%s: %s", run->initrd, strerror(errno));
			return -1;
		}
		snprintf(vml, sizeof(vml), "%s/vmlinux", dir);
		if (linux_prepare(run->guest, vml, why, whylen) != 0)
			return -1;
		guest = vml;
	}
	char hvp[4096], script[4096], hvargs[200];
	svt_vmx_paths(hvp, script, sizeof(hvp), run->engine);
	snprintf(hvargs, sizeof(hvargs), "%s%s%s%s", run->linux_kernel ? "linux " : "",
		 run->lpt ? "stream=lpt " : "", run->policy[0] ? "policy=" : "", run->policy);
	const struct script_env se = {
		.timeout = run->timeout, .args = run->args,
		.linux_kernel = run->linux_kernel, .initrd = run->initrd,
	};
	bool qemu = run->engine[0] == 'q';
	*engine_rc = run_script(script, dir, guest, hvp, hvargs, &se);
	if (*engine_rc == 126) {
		snprintf(why, whylen, "%s: /dev/kvm cannot be opened: QEMU/KVM needs it (and "
			 "nested VMX on an Intel host; see shadowvt(1), ENGINES)", script);
		return -1;
	}
	if (*engine_rc == 125 || *engine_rc == 127 || (qemu && *engine_rc > 128)) {
		snprintf(why, whylen, "could not run %s through %s (is it installed? "
			 "see %s/%s.out)", qemu ? "QEMU" : "Bochs", script, dir, run->engine);
		return keep_tmp(tmp, res);
	}
	return 0;
}

/* The stream the run sent: on LPT1, with what went on on COM2 where LPT1
 * stayed busy, or on COM2. */
static uint8_t *read_stream(const struct svt_live_run *run, const char *dir, const char *path,
			    size_t *n)
{
	uint8_t *buf = slurp(path, n);
	if (buf && run->guest && run->lpt) {
		char com[4300];
		size_t m;
		snprintf(com, sizeof(com), "%s/stream.bin", dir);
		uint8_t *more = slurp(com, &m);
		uint8_t *both = more && m ? realloc(buf, *n + m) : NULL;
		if (both) {
			memcpy(both + *n, more, m);
			buf = both;
			*n += m;
		}
		free(more);
	}
	return buf;
}

static struct svt_trace_writer *open_out(void *ctx, const struct svt_trace_header *h,
					  struct svt_trace_error *err)
{
	return svt_trace_writer_open(ctx, h, 3, err);
}

int svt_live_record(const struct svt_live_run *run, struct svt_live_result *res, char *why,
		    size_t whylen)
{
	char dir[4096] = "", tmp[4096] = "", path[4300];
	const char *stream = run->stream;
	int engine_rc = 0;

	memset(res, 0, sizeof(*res));
	why[0] = 0;
	if (run->guest) {
		if (access(run->guest, R_OK) != 0) {
			snprintf(why, whylen, "%s: %s", run->guest, strerror(errno));
			return -1;
		}
		if (run->keep) {
			snprintf(dir, sizeof(dir), "%s", run->keep);
			mkdir(dir, 0777);
		} else {
			snprintf(dir, sizeof(dir), "/tmp/shadowvt-record-XXXXXX");
			if (!mkdtemp(dir)) {
				snprintf(why, whylen, "cannot make a temporary directory: %s",
					 strerror(errno));
				return -1;
			}
			snprintf(tmp, sizeof(tmp), "%s", dir);
		}
		if (run_guest(run, dir, tmp, res, &engine_rc, why, whylen) != 0) {
			if (!res->kept[0])
				drop_tmp(tmp, res);
			return -1;
		}
		snprintf(path, sizeof(path), "%s/%s", dir,
			 run->lpt ? "stream-lpt.bin" : "stream.bin");
		stream = path;
	}

	size_t n;
	uint8_t *buf = read_stream(run, dir, stream, &n);
	if (!buf) {
		snprintf(why, whylen, "%s: %s", stream, strerror(errno));
		return keep_tmp(tmp, res);
	}
	if (run->guest) {
		char logp[4200];
		snprintf(logp, sizeof(logp), "%s/hv.txt", dir);
		last_log_line(logp, res->last_words, sizeof(res->last_words));
	}
	struct svt_stream_result *cv = &res->conv;
	int rc = svt_stream_convert(buf, n, "shadowvt " PACKAGE_VERSION " hypervisor (vmx)",
				    open_out, (void *)run->out, cv);
	free(buf);
	if (rc != 0) {
		snprintf(why, whylen, "%s: %s", stream, cv->msg);
		return keep_tmp(tmp, res);
	}
	if (run->guest) {
		char from[4200], to[4200];
		snprintf(from, sizeof(from), "%s/console.txt", dir);
		snprintf(to, sizeof(to), "%s.console", run->out);
		int cp = copy_file(from, to);
		snprintf(from, sizeof(from), "%s/hv.txt", dir);
		snprintf(to, sizeof(to), "%s.hv.log", run->out);
		res->not_copied = cp != 0 || copy_file(from, to) != 0;
		drop_tmp(tmp, res);
	}
	snprintf(res->verdict, sizeof(res->verdict), "%s", cv->end ? cv->verdict :
		 engine_rc == 124 ? "timed out" :
		 "the stream ends without END: the hypervisor stopped early");
	res->clean = cv->end && cv->lost == 0 && cv->damaged_bytes == 0 &&
		     (strstr(res->verdict, "powered off") || strstr(res->verdict, "halted"));
	return 0;
}
