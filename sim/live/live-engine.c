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
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "config.h"
#include "bytes.h"
#include "linux-image.h"
#include "live.h"
#include "mbimage.h"
#include "outfile.h"
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
	const char *const *modules;     /* GUEST_MODULES, one a line */
	unsigned nmodules;
	bool linux_kernel;      /* set GUEST_INITRD (or unset it), and Linux's memory and CPU */
	const char *initrd;
	void (*watch)(void *ctx, const char *dir);      /* live.h: while the engine runs */
	void *watch_ctx;
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
		unsetenv("GUEST_MODULES");
		if (se->nmodules) {
			size_t len = 0, at = 0;
			for (unsigned i = 0; i < se->nmodules; i++)
				len += strlen(se->modules[i]) + 1;
			char *m = malloc(len);  /* the child's, until it execs */
			if (!m)
				_exit(127);
			for (unsigned i = 0; i < se->nmodules; i++) {
				size_t l = strlen(se->modules[i]);
				memcpy(m + at, se->modules[i], l);
				at += l;
				m[at++] = i + 1 < se->nmodules ? '\n' : 0;
			}
			setenv("GUEST_MODULES", m, 1);
		}
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
	pid_t got = 0;
	/* with a watcher, look in every 200 ms while the engine runs */
	const struct timespec tick = { .tv_nsec = 200 * 1000 * 1000 };
	while (se->watch && (got = waitpid(pid, &st, WNOHANG)) == 0) {
		se->watch(se->watch_ctx, dir);
		nanosleep(&tick, NULL);
	}
	if (se->watch) {
		if (got < 0 && waitpid(pid, &st, 0) < 0)
			return 127;
		se->watch(se->watch_ctx, dir);  /* what came at the end */
	} else if (waitpid(pid, &st, 0) < 0) {
		return 127;
	}
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

/* ---- the guest kernel, checked before an emulator starts ------------------------ */

#define GUEST_MAX       (4u << 20)      /* the kernel and its modules (vmx/mboot.c) */

/* A regular file's bytes (at most max + 1 of them are read), or NULL with
 * the reason in why. */
static uint8_t *read_small(const char *path, size_t max, size_t *n, off_t *size, char *why,
			   size_t whylen)
{
	struct stat st;
	FILE *f = fopen(path, "rb");
	if (!f || fstat(fileno(f), &st) != 0) {
		snprintf(why, whylen, "%s: %s", path, strerror(errno));
		if (f)
			fclose(f);
		return NULL;
	}
	if (!S_ISREG(st.st_mode)) {
		snprintf(why, whylen, "%s: not a regular file", path);
		fclose(f);
		return NULL;
	}
	*size = st.st_size;
	uint8_t *b = malloc(max + 1);
	*n = b ? fread(b, 1, max + 1, f) : 0;
	if (!b || ferror(f)) {
		snprintf(why, whylen, "%s: %s", path, b ? strerror(errno) : "out of memory");
		free(b);
		b = NULL;
	}
	fclose(f);
	return b;
}

/*
 * Is path a Multiboot kernel the hypervisor can load (common/mbimage.c,
 * the parser vmx/mboot.c loads it with: a Multiboot2 or Multiboot header,
 * its addresses or ELF32/ELF64 program headers, every field inside the
 * file), and are it and its modules at most 4 MiB together?  0, or -1
 * with the reason in why.  Guest RAM is the hypervisor's to check: how
 * much there is depends on the machine.
 */
static int check_guest(const struct svt_live_run *run, char *why, size_t whylen)
{
	const char *path = run->guest;
	off_t size, msize;
	size_t n, mn;
	uint64_t total = 0;

	for (unsigned i = 0; i < run->nmodules; i++) {
		const char *m = run->modules[i], *base = strrchr(m, '/');
		base = base ? base + 1 : m;
		if (!*base || strspn(base, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
				      "0123456789._,+-") != strlen(base) || strchr(m, '\n')) {
			snprintf(why, whylen,
				 "%s: a module's file name may hold only letters, digits and . _ , "
				 "+ - (it is the module's command line)", m);
			return -1;
		}
		uint8_t *b = read_small(m, 0, &mn, &msize, why, whylen);
		if (!b)
			return -1;
		free(b);
		total += (uint64_t)msize;
	}
	uint8_t *img = read_small(path, GUEST_MAX, &n, &size, why, whylen);
	if (!img)
		return -1;
	total += (uint64_t)size;
	if (total > GUEST_MAX) {
		snprintf(why, whylen,
			 "%s: %" PRIu64 " bytes%s: the hypervisor loads a guest and its modules of "
			 "at most 4 MiB together", path, total,
			 run->nmodules ? " with its modules" : "");
		free(img);
		return -1;
	}
	struct svt_mb_image im;
	int rc = svt_mb_parse(img, n, &im);
	if (rc != 0 && im.err_off == SVT_MB_NO_OFFSET) {
		if (n >= 520 && memcmp(img + 514, "HdrS", 4) == 0)
			snprintf(why, whylen,
				 "%s: a Linux bzImage, not a Multiboot kernel: record it with "
				 "--kernel", path);
		else if (n >= 20 && svt_get32(img) == 0x464c457fu && img[4] == 2)
			snprintf(why, whylen, "%s: a 64-bit ELF without a Multiboot header: not a "
				 "Multiboot kernel (a Linux vmlinux goes with --kernel)", path);
		else
			snprintf(why, whylen, "%s: not a Multiboot kernel: %s", path, im.err);
	} else if (rc != 0) {
		snprintf(why, whylen, "%s: a Multiboot kernel the hypervisor cannot load: %s (file "
			 "offset %#" PRIx32 ")", path, im.err, im.err_off);
	}
	free(img);
	return rc;
}

/* ---- the engine ------------------------------------------------------------------- */

/* Is the program on $PATH? */
static bool on_path(const char *prog)
{
	const char *path = getenv("PATH");
	char buf[4200];

	for (const char *p = path ? path : "/usr/bin:/bin"; *p;) {
		size_t n = strcspn(p, ":");
		snprintf(buf, sizeof(buf), "%.*s/%s", (int)n, n ? p : ".", prog);
		if (access(buf, X_OK) == 0)
			return true;
		p += n + (p[n] == ':');
	}
	return false;
}

/* The last non-empty line of a file, or "". */
static void last_line(const char *path, char *line, size_t len)
{
	FILE *f = fopen(path, "r");
	char buf[512];

	line[0] = 0;
	while (f && fgets(buf, sizeof(buf), f))
		if (buf[strspn(buf, " \t\r\n")] != 0)
			snprintf(line, len, "%s", buf);
	if (f)
		fclose(f);
	line[strcspn(line, "\r\n")] = 0;
}

/* What the emulator said when it stopped: its output's last line, or for
 * Bochs its log's first PANIC or ERROR line when there is one. */
static void engine_words(const char *dir, bool qemu, char *line, size_t len)
{
	char path[4300], buf[512];

	line[0] = 0;
	if (!qemu) {
		snprintf(path, sizeof(path), "%s/bochs.log", dir);
		FILE *f = fopen(path, "r");
		while (f && fgets(buf, sizeof(buf), f))
			if (strstr(buf, "PANIC") || strstr(buf, "ERROR")) {
				snprintf(line, len, "%s", buf);
				line[strcspn(line, "\r\n")] = 0;
				break;
			}
		if (f)
			fclose(f);
	}
	if (!line[0]) {
		snprintf(path, sizeof(path), "%s/%s.out", dir, qemu ? "qemu" : "bochs");
		last_line(path, line, len);
	}
}

/* Run the guest in dir; the stream it sent is then at stream.  -1 with
 * the reason in why when the engine did not run it. */
static int run_guest(const struct svt_live_run *run, const char *dir, int *engine_rc, char *why,
		     size_t whylen)
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
	char hvp[4096], script[4096], hvargs[240], said[512], iso[4300];
	svt_vmx_paths(hvp, script, sizeof(hvp), run->engine);
	snprintf(hvargs, sizeof(hvargs), "%s%s%s%s%s", run->linux_kernel ? "linux " : "",
		 run->lpt ? "stream=lpt " : "", run->strict_memory ? "strict-memory " : "",
		 run->policy[0] ? "policy=" : "", run->policy);
	const struct script_env se = {
		.timeout = run->timeout, .args = run->args,
		.modules = run->modules, .nmodules = run->nmodules,
		.linux_kernel = run->linux_kernel, .initrd = run->initrd,
		.watch = run->watch, .watch_ctx = run->watch_ctx,
	};
	bool qemu = run->engine[0] == 'q';
	const char *name = qemu ? "QEMU" : "Bochs", *prog = qemu ? "qemu-system-x86_64" : "bochs";
	if (access(script, R_OK) != 0) {
		snprintf(why, whylen,
			 "%s: %s (the run script; see SHADOWVT_VMX in shadowvt(1))", script,
			 strerror(errno));
		return -1;
	}
	*engine_rc = run_script(script, dir, guest, hvp, hvargs, &se);
	engine_words(dir, qemu, said, sizeof(said));
	snprintf(iso, sizeof(iso), "%s/boot.iso", dir);
	if (*engine_rc == 126 && qemu) {
		snprintf(why, whylen,
			 "%s: /dev/kvm cannot be opened: QEMU/KVM needs it (and nested VMX on an "
			 "Intel host; see shadowvt(1), record --engine)", script);
		return -1;
	}
	if (*engine_rc == 127 && !on_path(prog)) {
		snprintf(why, whylen,
			 "%s is not installed: no %s on PATH (%s needs it)", name, prog, script);
		return -1;
	}
	if (*engine_rc == 125 && access(iso, R_OK) != 0) {
		char grub[4300];
		snprintf(grub, sizeof(grub), "%s/grub.log", dir);
		last_line(grub, said, sizeof(said));
		snprintf(why, whylen,
			 "could not build the boot ISO (grub-mkrescue, in %s)%s%s", script,
			 said[0] ? ": " : "", said);
		return -1;
	}
	if (*engine_rc == 125 || *engine_rc == 126 || *engine_rc == 127 ||
	    (qemu && *engine_rc > 128)) {
		snprintf(why, whylen, "%s did not run (%s exit status %d)%s%s", name,
			 script, *engine_rc, said[0] ? ": " : "", said);
		return -1;
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

/* The trace: written through outfile.h (no half-written trace at the path). */
struct out_ctx {
	const char *path;
	struct svt_outfile of;
	bool open;
	char err[4400];
};

static struct svt_trace_writer *open_out(void *ctx, const struct svt_trace_header *h,
					  struct svt_trace_error *err)
{
	struct out_ctx *o = ctx;
	struct svt_trace_writer *w;

	if (svt_outfile_open(&o->of, o->path, SVT_OUTFILE_SIGNALS, o->err, sizeof(o->err)) != 0) {
		snprintf(err->msg, sizeof(err->msg), "%.600s", o->err);
		err->status = SVT_TRACE_EIO;
		return NULL;
	}
	if (!(w = svt_trace_writer_open_file(o->of.f, o->path, h, 3, err))) {
		svt_outfile_abort(&o->of);
		return NULL;
	}
	o->open = true;
	return w;
}

/* The run's files beside the trace: the guest's console and the
 * hypervisor's log; when the run failed, the emulator's output too (and
 * the stream, when it did not convert).  false if one could not be copied. */
static bool save_beside(const struct svt_live_run *run, const char *dir, bool failed, bool stream)
{
	const char *from[] = { "console.txt", "hv.txt",
			       run->engine[0] == 'q' ? "qemu.out" : "bochs.out",
			       run->lpt ? "stream-lpt.bin" : "stream.bin" };
	const char *to[] = { "console", "hv.log", "engine.log", "stream" };
	bool ok = true;

	for (unsigned i = 0; i < (stream ? 4u : failed ? 3u : 2u); i++) {
		char f[4300], t[4300];
		snprintf(f, sizeof(f), "%s/%s", dir, from[i]);
		snprintf(t, sizeof(t), "%s.%s", run->out, to[i]);
		struct stat st;
		if (stat(f, &st) != 0 || (i == 3 && st.st_size == 0))
			continue;       /* not made, or an empty stream */
		if (copy_file(f, t) != 0)
			ok = false;
	}
	return ok;
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
		if (!run->linux_kernel && check_guest(run, why, whylen) != 0)
			return -1;
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
		if (run_guest(run, dir, &engine_rc, why, whylen) != 0) {
			res->not_copied = !save_beside(run, dir, true, false);
			if (res->not_copied)
				return keep_tmp(tmp, res);
			res->saved = true;
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
		if (!run->guest)
			return -1;
		res->not_copied = !save_beside(run, dir, true, false);
		if (res->not_copied)
			return keep_tmp(tmp, res);
		res->saved = true;
		drop_tmp(tmp, res);
		return -1;
	}
	if (run->guest) {
		char logp[4200];
		snprintf(logp, sizeof(logp), "%s/hv.txt", dir);
		last_log_line(logp, res->last_words, sizeof(res->last_words));
	}
	struct svt_stream_result *cv = &res->conv;
	struct out_ctx oc = { .path = run->out };
	int rc = svt_stream_convert(buf, n, "shadowvt " PACKAGE_VERSION " hypervisor (vmx)",
				    open_out, &oc, cv);
	free(buf);
	if (oc.open && rc != 0)
		svt_outfile_abort(&oc.of);
	else if (oc.open && svt_outfile_commit(&oc.of, oc.err, sizeof(oc.err)) != 0) {
		snprintf(cv->msg, sizeof(cv->msg), "%.600s", oc.err);
		rc = -1;
	}
	bool timed_out = run->guest && engine_rc == 124;
	if (rc != 0 && !cv->hello && timed_out) {
		/* the engine was stopped before the hypervisor began: a timeout */
		res->no_trace = true;
		snprintf(res->verdict, sizeof(res->verdict),
			 "timed out after %" PRIu64 " s, before the hypervisor started recording: "
			 "no trace written", run->timeout);
		rc = 0;
	} else if (rc != 0 && !cv->hello && run->guest && engine_rc != 0) {
		char said[512];
		engine_words(dir, run->engine[0] == 'q', said, sizeof(said));
		snprintf(why, whylen,
			 "%s stopped with exit status %d before the hypervisor started "
			 "recording%s%s", run->engine[0] == 'q' ? "QEMU" : "Bochs", engine_rc,
			 said[0] ? ": " : "", said);
	} else if (rc != 0) {
		snprintf(why, whylen, "%s: %s", stream, cv->msg);
	}
	if (rc == 0 && !res->no_trace)
		snprintf(res->verdict, sizeof(res->verdict), "%s", cv->end ? cv->verdict :
			 timed_out ? "timed out" :
			 "the stream ends without END: the hypervisor stopped early");
	res->clean = rc == 0 && !res->no_trace && cv->end && cv->lost == 0 &&
		     cv->damaged_bytes == 0 &&
		     (strstr(res->verdict, "powered off") || strstr(res->verdict, "halted"));
	if (run->guest) {
		res->not_copied = !save_beside(run, dir, !res->clean, rc != 0);
		if (res->not_copied && rc != 0)
			return keep_tmp(tmp, res);
		res->saved = !res->not_copied;
		drop_tmp(tmp, res);
	}
	return rc != 0 ? -1 : 0;
}
