/*
 * cmd-record.c — `shadowvt record`: run a guest kernel under the
 * hypervisor (vmx/) in Bochs, and turn the hypervisor's live stream
 * (stream.h; traces/FORMAT.md, "The live stream") into a trace file.
 */
#define _XOPEN_SOURCE 700
#include <errno.h>
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
#include "live.h"
#include "stream.h"

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

static const char *const engine_words[] = { "bochs", "qemu-kvm", NULL };
static const char *const channel_words[] = { "lpt", "com2", NULL };

static const struct svt_opt record_opts[] = {
	{ SVT_OPT_PATH("guest", 0, "KERNEL"), .help = "the Multiboot guest kernel to run" },
	{ SVT_OPT_STRING("guest-args", 0, "ARGS"), .help = "the guest's command line" },
	{ SVT_OPT_PATH("kernel", 0, "VMLINUZ"), .help = "a Linux kernel to boot instead" },
	{ SVT_OPT_PATH("initrd", 0, "FILE"), .help = "its initrd (with --kernel)" },
	{ SVT_OPT_STRING("append", 0, "CMDLINE"), .help = "its command line (with --kernel)" },
	{ SVT_OPT_PATH("stream", 0, "FILE"), .help = "convert a saved live stream instead" },
	{ SVT_OPT_WORD("engine", 0, engine_words), .help = "the emulator (default bochs)" },
	{ SVT_OPT_STRING("policy", 0, "SPEC"), .help = "the hypervisor core's policy" },
	{ SVT_OPT_NUM("timeout", 0, "S", 1, 86400),
	  .help = "stop the run after S seconds (300; 3600 with --kernel)" },
	{ SVT_OPT_WORD("channel", 0, channel_words), .help = "where the stream goes (default lpt)" },
	{ SVT_OPT_PATH("keep", 0, "DIR"), .help = "keep the run's files in DIR" },
	{ SVT_OPT_PATH("output", 'o', "TRACE"), .flags = SVT_OPT_REQUIRED, .help = "the trace to write" },
	{ .name = NULL },
};

static int record_exec(const struct svt_args *a)
{
	const char *guest = svt_args_str(a, "guest", NULL), *out = svt_args_str(a, "output", NULL);
	const char *stream = svt_args_str(a, "stream", NULL), *keep = svt_args_str(a, "keep", NULL);
	const char *gargs = svt_args_str(a, "guest-args", ""), *kernel = svt_args_str(a, "kernel", NULL);
	const char *initrd = svt_args_str(a, "initrd", NULL), *spec = svt_args_str(a, "policy", NULL);
	const char *append = svt_args_str(a, "append", LINUX_APPEND);
	bool timeout_given = svt_args_has(a, "timeout");
	char why[600] = "";
	char policy[160] = "";
	uint64_t timeout = svt_args_num(a, "timeout", 300);
	bool lpt = svt_args_word(a, "channel", 0) == 0;
	const char *engine = svt_args_word(a, "engine", 0) == 0 ? "bochs" : "qemu";

	if (spec) {
		/* over the hypervisor's defaults, not the replayer's */
		struct svt_policy p;
		unsigned pool, roots, roots0;
		char pwhy[160];
		svt_policy_default_hv(&p, &pool, &roots);
		roots0 = roots;
		if (svt_policy_parse_n(spec, strlen(spec), &p, &pool, &roots, SVT_POLICY_HV_POOL, pwhy,
				       sizeof(pwhy)) != 0)
			return svt_usage(&svt_cmd_record, "bad policy '%s': %s", spec, pwhy);
		size_t n = svt_policy_format(&p, pool, policy, sizeof(policy));
		if (roots != roots0 && n < sizeof(policy))
			snprintf(policy + n, sizeof(policy) - n, ",roots=%u", roots);
	}
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
	.name = "record",
	.summary = "run a guest under the hypervisor in Bochs and record its trace",
	.opts = record_opts,
	.exec = record_exec,
};
