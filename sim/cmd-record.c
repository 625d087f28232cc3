/*
 * cmd-record.c — `shadowvt record`: run a guest kernel under the
 * hypervisor (vmx/) in Bochs, and turn the hypervisor's live stream
 * (stream.h; traces/FORMAT.md, "The live stream") into a trace file.
 */
#define _XOPEN_SOURCE 700
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <ftw.h>
#include <sys/wait.h>
#include <unistd.h>

#include "config.h"
#include "policy.h"
#include "sim.h"
#include "linux-image.h"
#include "stream.h"

#ifndef SVT_BUILDDIR            /* a build outside the Makefile (make fuzz): no build tree */
#define SVT_BUILDDIR "/nonexistent"
#define SVT_SRCDIR "/nonexistent"
#define SVT_PKGLIBEXECDIR "/nonexistent"
#endif

/* Run the Bochs script with arguments as they are (no shell parsing of
 * user paths); its exit status, or 127 if it could not start. */
static int run_script(const char *script, const char *dir, const char *guest, const char *hv,
		      const char *hvargs, uint64_t timeout, const char *gargs)
{
	fflush(NULL);
	pid_t pid = fork();
	if (pid < 0)
		return 127;
	if (pid == 0) {
		char t[32];
		snprintf(t, sizeof(t), "%" PRIu64, timeout);
		setenv("BOCHS_TIMEOUT", t, 1);
		setenv("QEMU_TIMEOUT", t, 1);
		setenv("GUEST_ARGS", gargs, 1);
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

static int rm_one(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
	(void)sb;
	(void)flag;
	(void)ftw;
	return remove(path);
}

/* The temporary directory record made for a run ("" once removed, or when
 * --keep named one): removed on every way out except where a message
 * sends the user into it. */
static char tmp_dir[4096];

static void drop_tmp(void)
{
	if (tmp_dir[0] && nftw(tmp_dir, rm_one, 16, FTW_DEPTH | FTW_PHYS) != 0)
		svt_err("record: could not remove %s", tmp_dir);
	tmp_dir[0] = 0;
}

/* Keep it: a message names something in it. */
static void keep_tmp(void)
{
	if (tmp_dir[0])
		svt_err("record: the run's files are kept in %s", tmp_dir);
	tmp_dir[0] = 0;
}

static struct svt_trace_writer *open_out(void *ctx, const struct svt_trace_header *h,
					  struct svt_trace_error *err)
{
	return svt_trace_writer_open(ctx, h, 3, err);
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

/* The kernel's command line when --append is not given: the serial
 * console, no KASLR (the boot protocol path does not randomise anyway),
 * no crypto self-tests (6.7 s under Bochs), reboot at once on a panic. */
#define LINUX_APPEND "console=ttyS0,115200 panic=-1 nokaslr quiet cryptomgr.notests"

/* --kernel: the vmlinux out of the bzImage at kernel, into vml. */
static int linux_prepare(const char *kernel, const char *vml)
{
	size_t n, vn;
	uint8_t *img = slurp(kernel, &n), *v;
	char err[200];
	if (!img) {
		svt_err("record: %s: %s", kernel, strerror(errno));
		return -1;
	}
	int rc = svt_linux_vmlinux(img, n, &v, &vn, err, sizeof(err));
	free(img);
	if (rc != 0) {
		svt_err("record: %s: %s", kernel, err);
		return -1;
	}
	FILE *f = fopen(vml, "wb");
	bool ok = f && fwrite(v, 1, vn, f) == vn;
	if (f && fclose(f) != 0)
		ok = false;
	free(v);
	if (!ok) {
		svt_err("record: %s: %s", vml, strerror(errno));
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

static int record_exec(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "guest", required_argument, NULL, 'g' },
		{ "guest-args", required_argument, NULL, 'a' },
		{ "engine", required_argument, NULL, 'e' },
		{ "policy", required_argument, NULL, 'p' },
		{ "timeout", required_argument, NULL, 't' },
		{ "stream", required_argument, NULL, 's' },
		{ "keep", required_argument, NULL, 'k' },
		{ "channel", required_argument, NULL, 'c' },
		{ "kernel", required_argument, NULL, 'K' },
		{ "initrd", required_argument, NULL, 'I' },
		{ "append", required_argument, NULL, 'A' },
		{ NULL, 0, NULL, 0 },
	};
	const char *guest = NULL, *out = NULL, *stream = NULL, *keep = NULL, *gargs = "";
	const char *kernel = NULL, *initrd = NULL, *append = LINUX_APPEND;
	bool timeout_given = false;
	char why[600] = "";
	char policy[160] = "";
	uint64_t timeout = 300;
	bool lpt = true;
	const char *engine = "bochs";
	int c;

	optind = 1;
	opterr = 0;
	while ((c = getopt_long(argc, argv, "o:", opts, NULL)) != -1) {
		switch (c) {
		case 'g': guest = optarg; break;
		case 'K': kernel = optarg; break;
		case 'I': initrd = optarg; break;
		case 'A': append = optarg; break;
		case 'a': gargs = optarg; break;
		case 'c':
			if (strcmp(optarg, "lpt") != 0 && strcmp(optarg, "com2") != 0)
				return svt_usage(&svt_cmd_record, "channel '%s': lpt or com2", optarg);
			lpt = strcmp(optarg, "lpt") == 0;
			break;
		case 'e':
			if (strcmp(optarg, "bochs") == 0)
				engine = "bochs";
			else if (strcmp(optarg, "qemu-kvm") == 0)
				engine = "qemu";
			else
				return svt_usage(&svt_cmd_record, "engine '%s': bochs or qemu-kvm", optarg);
			break;
		case 'p': {
			struct svt_policy p;
			unsigned pool;
			svt_default_policy(&p, &pool);
			/* the hypervisor's defaults (vmx/hv.c, vmx/hv.h), not the replayer's */
			p.oos = 8;
			p.prefetch = 4;
			pool = 2048;
			if (svt_policy_parse(optarg, &p, &pool) != 0 || pool > 2048)
				return svt_usage(&svt_cmd_record, "bad policy '%s'", optarg);
			svt_policy_format(&p, pool, policy, sizeof(policy));
			break;
		}
		case 't':
			if (!svt_parse_u64(optarg, &timeout) || timeout == 0 || timeout > 86400)
				return svt_usage(&svt_cmd_record, "bad timeout '%s'", optarg);
			timeout_given = true;
			break;
		case 's': stream = optarg; break;
		case 'k': keep = optarg; break;
		case 'o': out = optarg; break;
		default:
			return svt_usage(&svt_cmd_record, "unknown option '%s'", argv[optind - 1]);
		}
	}
	if (optind < argc)
		return svt_usage(&svt_cmd_record, "unexpected argument '%s'", argv[optind]);
	if (!out)
		return svt_usage(&svt_cmd_record, "no output trace given (-o TRACE)");
	if ((guest != NULL) + (kernel != NULL) + (stream != NULL) != 1)
		return svt_usage(&svt_cmd_record, "give --guest KERNEL, --kernel VMLINUZ, or --stream FILE "
				 "to convert");
	if (initrd && !kernel)
		return svt_usage(&svt_cmd_record, "--initrd goes with --kernel");
	if (kernel) {
		guest = kernel;
		gargs = append;
		if (!timeout_given)
			timeout = 3600;
	}

	char dir[4096], path[4300];
	int bochs_rc = 0;
	if (guest) {
		if (access(guest, R_OK) != 0) {
			svt_err("record: %s: %s", guest, strerror(errno));
			return SVT_EXIT_INPUT;
		}
		if (keep) {
			snprintf(dir, sizeof(dir), "%s", keep);
			mkdir(dir, 0777);
		} else {
			snprintf(dir, sizeof(dir), "/tmp/shadowvt-record-XXXXXX");
			if (!mkdtemp(dir)) {
				svt_err("record: cannot make a temporary directory: %s", strerror(errno));
				return SVT_EXIT_INPUT;
			}
			snprintf(tmp_dir, sizeof(tmp_dir), "%s", dir);
		}
		char vml[4300];
		if (kernel) {
			if (initrd && access(initrd, R_OK) != 0) {
				svt_err("record: %s: %s", initrd, strerror(errno));
				drop_tmp();
				return SVT_EXIT_INPUT;
			}
			snprintf(vml, sizeof(vml), "%s/vmlinux", dir);
			if (linux_prepare(kernel, vml) != 0) {
				drop_tmp();
				return SVT_EXIT_INPUT;
			}
			guest = vml;
			if (initrd)
				setenv("GUEST_INITRD", initrd, 1);
			else
				unsetenv("GUEST_INITRD");
			setenv("BOCHS_MEGS", "512", 0);
			setenv("BOCHS_CPU", "broadwell_ult", 0);
		}
		char hvp[4096], script[4096], hvargs[200];
		svt_vmx_paths(hvp, script, sizeof(hvp), engine);
		snprintf(hvargs, sizeof(hvargs), "%s%s%s%s", kernel ? "linux " : "", lpt ? "stream=lpt " : "",
			 policy[0] ? "policy=" : "", policy);
		bochs_rc = run_script(script, dir, guest, hvp, hvargs, timeout, gargs);
		if (bochs_rc == 126) {
			svt_err("record: %s: /dev/kvm cannot be opened: QEMU/KVM needs it (and nested VMX "
				"on an Intel host; see shadowvt(1), ENGINES)", script);
			drop_tmp();
			return SVT_EXIT_INPUT;
		}
		if (bochs_rc == 125 || bochs_rc == 127 || (engine[0] == 'q' && bochs_rc > 128)) {
			svt_err("record: could not run %s through %s (is it installed? see %s/%s.out)",
				engine[0] == 'q' ? "QEMU" : "Bochs", script, dir, engine);
			keep_tmp();
			return SVT_EXIT_INPUT;
		}
		snprintf(path, sizeof(path), "%s/%s", dir, lpt ? "stream-lpt.bin" : "stream.bin");
		stream = path;
		char logp[4200];
		snprintf(logp, sizeof(logp), "%s/hv.txt", dir);
		last_log_line(logp, why, sizeof(why));
	}
	size_t n;
	uint8_t *buf = slurp(stream, &n);
	if (!buf) {
		svt_err("record: %s: %s", stream, strerror(errno));
		keep_tmp();
		return SVT_EXIT_INPUT;
	}
	if (guest && lpt) {
		/* where LPT1 stayed busy the hypervisor went on on COM2 */
		char com[4300];
		size_t m;
		snprintf(com, sizeof(com), "%s/stream.bin", dir);
		uint8_t *more = slurp(com, &m);
		uint8_t *both = more && m ? realloc(buf, n + m) : NULL;
		if (both) {
			memcpy(both + n, more, m);
			buf = both;
			n += m;
		}
		free(more);
	}
	struct svt_stream_result cv;
	int rc = svt_stream_convert(buf, n, "shadowvt " PACKAGE_VERSION " hypervisor (vmx)", open_out,
				    (void *)out, &cv);
	free(buf);
	if (rc != 0) {
		svt_err("record: %s: %s", stream, cv.msg);
		if (why[0])
			svt_err("record: the hypervisor's last words: %s", why);
		keep_tmp();
		return SVT_EXIT_INPUT;
	}
	if (guest) {
		char from[4200], to[4200];
		snprintf(from, sizeof(from), "%s/console.txt", dir);
		snprintf(to, sizeof(to), "%s.console", out);
		int cp = copy_file(from, to);
		snprintf(from, sizeof(from), "%s/hv.txt", dir);
		snprintf(to, sizeof(to), "%s.hv.log", out);
		if (cp != 0 || copy_file(from, to) != 0)
			svt_err("record: could not copy the console and the log beside %s", out);
		drop_tmp();
	}
	const char *verdict = cv.end ? cv.verdict : bochs_rc == 124 ? "timed out" :
		"the stream ends without END: the hypervisor stopped early";

	printf("%s: %" PRIu64 " events from %" PRIu64 " packets, %" PRIu64 " lost, %" PRIu64
	       " damaged bytes; guest '%s': %s\n", out, cv.events, cv.packets, cv.lost, cv.damaged_bytes,
	       cv.guest, verdict);
	if (!cv.end && why[0])
		printf("%s: the hypervisor's last words: %s\n", out, why);
	bool ok = cv.end && cv.lost == 0 && cv.damaged_bytes == 0 &&
		  (strstr(verdict, "powered off") || strstr(verdict, "halted"));
	return ok ? SVT_EXIT_OK : SVT_EXIT_NEGATIVE;
}

const struct svt_cmd svt_cmd_record = {
	"record",
	"--guest KERNEL [--guest-args ARGS] [--engine bochs|qemu-kvm] [--policy SPEC] [--timeout S]\n"
	"       [--channel lpt|com2] [--keep DIR] -o TRACE\n"
	"       --kernel VMLINUZ [--initrd FILE] [--append CMDLINE] [options as above] -o TRACE\n"
	"       --stream FILE -o TRACE",
	"run a guest under the hypervisor in Bochs and record its trace",
	record_exec,
};
