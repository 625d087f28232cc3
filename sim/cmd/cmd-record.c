/*
 * cmd-record.c — `shadowvt record`: run a guest kernel under the
 * hypervisor (vmx/) in Bochs, and turn the hypervisor's live stream
 * (stream.h; traces/FORMAT.md, "The live stream") into a trace file.
 * The run itself is the live library's (svt_live_record, live.h).
 */
#define _POSIX_C_SOURCE 200809L
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bytes.h"
#include "live.h"
#include "progress.h"
#include "rec_codec.h"
#include "sim.h"
#include "stream_fmt.h"

#define MODULES_MAX 16    /* the guest modules the hypervisor passes (vmx/mboot.c) */

static const char *const engine_words[] = { "bochs", "qemu-kvm", NULL };
static const char *const channel_words[] = { "lpt", "com2", NULL };

static const struct svt_opt record_opts[] = {
	{ SVT_OPT_PATH("guest", 0, "KERNEL"), .help = "the Multiboot guest kernel to run" },
	{ SVT_OPT_STRING("guest-args", 0, "ARGS"), .help = "the guest's command line" },
	{ SVT_OPT_PATH("module", 0, "FILE"), .flags = SVT_OPT_MANY,
	  .help = "a Multiboot module for the guest (up to 16)" },
	{ SVT_OPT_PATH("kernel", 0, "VMLINUZ"), .help = "a Linux kernel to boot instead" },
	{ SVT_OPT_PATH("initrd", 0, "FILE"), .help = "its initrd (with --kernel)" },
	{ SVT_OPT_STRING("append", 0, "CMDLINE"), .help = "its command line (with --kernel)" },
	{ SVT_OPT_PATH("stream", 0, "FILE"), .help = "convert a saved live stream instead" },
	{ SVT_OPT_WORD("engine", 0, engine_words), .help = "the emulator (default bochs)" },
	{ SVT_OPT_STRING("policy", 0, "SPEC"), .help = "the hypervisor core's policy" },
	{ SVT_OPT_NUM("timeout", 0, "S", 1, 86400),
	  .help = "stop the run after S seconds (300; 3600 with --kernel)" },
	{ SVT_OPT_WORD("channel", 0, channel_words),
	  .help = "where the stream goes (default lpt)" },
	{ SVT_OPT_FLAG("strict-memory", 0),
	  .help = "stop the guest where it touches memory with nothing behind it" },
	{ SVT_OPT_PATH("keep", 0, "DIR"), .help = "keep the run's files in DIR" },
	{ SVT_OPT_PATH("output", 'o', "TRACE"), .flags = SVT_OPT_REQUIRED,
	  .help = "the trace to write" },
	{ SVT_OPT_FLAG("quiet", 'q'), .help = "no status line, no console lines as it runs" },
	{ .name = NULL },
};

/* ---- while the engine runs: the guest's console and the stream so far ---- */

struct watch {
	struct svt_progress p;
	uint64_t timeout;
	long console_at;        /* bytes of console.txt shown */
	char line[200];         /* a console line not yet ended */
	size_t len;
	long stream_at;         /* bytes of the stream looked at */
	uint64_t packets, events, stream_bytes;
	uint64_t n[SVT_TRACE_NTYPES];   /* the records so far, by type */
	uint64_t cpuid;         /* of the CPU records, CPUIDs answered */
	uint8_t *buf;           /* one packet */
	uint8_t mem[SVT_TRACE_MAX_MEM]; /* a MEM record's bytes (not looked at) */
};

/* A RECORDS packet's records, counted by type (traces/FORMAT.md, "The live
 * stream": the delta state starts afresh in each packet); a packet seen
 * twice counts once.  What does not decode is left to the conversion to
 * report. */
static void count(struct watch *w, const struct svt_stream_packet *pk, const uint8_t *p)
{
	const uint8_t *end = p + pk->len;
	uint64_t seq = pk->first;
	struct tr_state st;

	if (seq < w->events)
		return;
	tr_state_reset(&st);
	while (p < end) {
		struct svt_trace_event ev;
		const char *why;
		if (!tr_decode(&st, &p, end, &ev, w->mem, &why))
			break;
		w->n[ev.type < SVT_TRACE_NTYPES ? ev.type : 0]++;
		w->cpuid += ev.type == SVT_TRACE_CPU && ev.u.cpu.kind == SVT_CPU_CPUID;
		seq += svt_trace_event_span(&ev);
	}
	w->events = seq;
}

/* New console lines, each shown above the status line. */
static void console(struct watch *w, const char *dir)
{
	char path[PATH_MAX], buf[4096];
	snprintf(path, sizeof(path), "%s/console.txt", dir);
	FILE *f = fopen(path, "rb");
	if (!f)
		return;
	size_t n;
	if (fseek(f, w->console_at, SEEK_SET) == 0)
		while ((n = fread(buf, 1, sizeof(buf), f)) > 0) {
			w->console_at += (long)n;
			for (size_t i = 0; i < n; i++) {
				unsigned char c = (unsigned char)buf[i];
				if (c == '\n' || w->len + 1 == sizeof(w->line)) {
					w->line[w->len] = '\0';
					svt_progress_log(&w->p, "guest: %s", w->line);
					w->len = 0;
				}
				if (c != '\n' && c != '\r')   /* control characters shown as '.' */
					w->line[w->len++] = c < 0x20 || c == 0x7f ? '.' : (char)c;
			}
		}
	fclose(f);
}

/* The good packets the hypervisor has sent so far (traces/FORMAT.md, "The
 * live stream"), counted; the first event number of the last RECORDS kept.
 * A packet not all there yet is looked at again next time; damage is
 * stepped over a byte at a time, as the conversion does. */
static void stream(struct watch *w, const char *dir)
{
	char path[PATH_MAX];
	FILE *f = NULL;
	for (unsigned i = 0; i < 2 && !f; i++) {
		snprintf(path, sizeof(path), "%s/%s", dir, i ? "stream.bin" : "stream-lpt.bin");
		f = fopen(path, "rb");
	}
	if (!f)
		return;
	if (fseek(f, 0, SEEK_END) == 0 && ftell(f) > 0)
		w->stream_bytes = (uint64_t)ftell(f);
	size_t most = SVT_STREAM_HDR + SVT_STREAM_MAX_PAYLOAD + SVT_STREAM_CRC;
	if (!w->buf && !(w->buf = malloc(most))) {
		fclose(f);
		return;
	}
	for (;;) {
		struct svt_stream_packet pk;
		uint8_t *b = w->buf;
		if (fseek(f, w->stream_at, SEEK_SET) != 0 ||
		    fread(b, 1, SVT_STREAM_HDR, f) != SVT_STREAM_HDR)
			break;
		uint32_t len = svt_get32(b + 20);
		if (memcmp(b, "SVTL", 4) == 0 && len <= SVT_STREAM_MAX_PAYLOAD) {
			size_t rest = len + SVT_STREAM_CRC;
			if (fread(b + SVT_STREAM_HDR, 1, rest, f) != rest)
				break;          /* not all there yet */
			if (svt_stream_packet_get(b, SVT_STREAM_HDR + rest, &pk)) {
				w->stream_at += (long)(SVT_STREAM_HDR + rest);
				w->packets++;
				if (pk.type == SVT_STREAM_RECORDS)
					count(w, &pk, b + SVT_STREAM_HDR);
				continue;
			}
		}
		w->stream_at++;
	}
	fclose(f);
}

/* The status line: the core's inputs so far by kind (the exits it was
 * handed), CPUIDs answered where the stream has CPU records, then all
 * the events and the stream's size. */
static void watch(void *ctx, const char *dir)
{
	struct watch *w = ctx;
	char n[6][32], cpuid[48] = "", events[32], size[32];
	static const enum svt_trace_type input[5] = {
		SVT_TRACE_FAULT, SVT_TRACE_CR_WRITE, SVT_TRACE_INVLPG, SVT_TRACE_INVPCID,
		SVT_TRACE_FLUSH_ALL,
	};

	console(w, dir);
	stream(w, dir);
	double t = svt_progress_elapsed(&w->p);
	for (unsigned i = 0; i < 5; i++)
		svt_progress_count(n[i], sizeof(n[i]), w->n[input[i]]);
	if (w->n[SVT_TRACE_CPU]) {
		svt_progress_count(n[5], sizeof(n[5]), w->cpuid);
		snprintf(cpuid, sizeof(cpuid), ", %s CPUID", n[5]);
	}
	svt_progress_count(events, sizeof(events), w->events);
	svt_progress_bytes(size, sizeof(size), w->stream_bytes);
	svt_progress_draw(&w->p, "record %.0f/%" PRIu64 " s: %s #PF, %s CR, %s INVLPG, "
			  "%s INVPCID, %s flush%s; %s events, %s", t, w->timeout, n[0], n[1], n[2],
			  n[3], n[4], cpuid, events, size);
}

/* Say which of the run's files are beside the trace (live.h). */
static void saved_files(const char *out)
{
	static const char *const ext[] = { "console", "hv.log", "engine.log", "stream" };
	char list[4 * (PATH_MAX + 16)] = "", path[PATH_MAX + 16];
	size_t n = 0;

	for (unsigned i = 0; i < sizeof(ext) / sizeof(ext[0]); i++) {
		snprintf(path, sizeof(path), "%s.%s", out, ext[i]);
		if (access(path, F_OK) == 0 && n < sizeof(list))
			n += (size_t)snprintf(list + n, sizeof(list) - n, "%s%s",
					      n ? ", " : "", path);
	}
	if (n)
		svt_err("record: the run's console, logs and output: %s", list);
}

static int record_exec(const struct svt_args *a)
{
	const char *guest = svt_args_str(a, "guest", NULL), *out = svt_args_str(a, "output", NULL);
	const char *kernel = svt_args_str(a, "kernel", NULL);
	const char *spec = svt_args_str(a, "policy", NULL);
	struct svt_live_run run = {
		.guest = kernel ? kernel : guest,
		.linux_kernel = kernel != NULL,
		.initrd = svt_args_str(a, "initrd", NULL),
		.args = kernel ? svt_args_str(a, "append", SVT_LIVE_LINUX_APPEND) :
			svt_args_str(a, "guest-args", ""),
		.stream = svt_args_str(a, "stream", NULL),
		.engine = svt_args_word(a, "engine", 0) == 0 ? "bochs" : "qemu",
		.policy = "",
		.timeout = svt_args_num(a, "timeout", kernel ? 3600 : 300),
		.lpt = svt_args_word(a, "channel", 0) == 0,
		.strict_memory = svt_args_has(a, "strict-memory"),
		.keep = svt_args_str(a, "keep", NULL),
		.out = out,
	};
	char policy[160], pwhy[160], why[10000];
	const char *modules[MODULES_MAX];
	unsigned nmod = svt_args_count(a, "module");

	if (spec) {
		if (svt_live_policy(spec, policy, sizeof(policy), pwhy, sizeof(pwhy)) != 0)
			return svt_usage(&svt_cmd_record, "bad policy '%s': %s", spec, pwhy);
		run.policy = policy;
	}
	if ((guest != NULL) + (kernel != NULL) + (run.stream != NULL) != 1)
		return svt_usage(&svt_cmd_record,
				 "give --guest KERNEL, --kernel VMLINUZ, or --stream FILE "
				 "to convert");
	if (run.initrd && !kernel)
		return svt_usage(&svt_cmd_record, "--initrd goes with --kernel");
	if (nmod && !guest)
		return svt_usage(&svt_cmd_record, "--module goes with --guest");
	if (nmod > MODULES_MAX)
		return svt_usage(&svt_cmd_record,
				 "%u modules: the hypervisor passes at most %u", nmod, MODULES_MAX);
	for (unsigned i = 0; i < nmod; i++)
		modules[i] = svt_args_nth(a, "module", i)->str;
	run.modules = modules;
	run.nmodules = nmod;

	/* the console and the stream as they come, on a terminal */
	struct watch w = { .timeout = run.timeout };
	svt_progress_start(&w.p, svt_args_has(a, "quiet"));
	if (w.p.on && !run.stream) {
		run.watch = watch;
		run.watch_ctx = &w;
	}
	struct svt_live_result res;
	int rc = svt_live_record(&run, &res, why, sizeof(why));
	if (run.watch && w.len) {       /* the console's last line, though it has no '\n' */
		w.line[w.len] = '\0';
		svt_progress_log(&w.p, "guest: %s", w.line);
	}
	svt_progress_end(&w.p);
	free(w.buf);
	if (rc != 0) {
		svt_err("record: %s", why);
		if (res.last_words[0])
			svt_err("record: the hypervisor's last words: %s", res.last_words);
	}
	if (res.not_copied)
		svt_err("record: could not copy the console and the log beside %s", out);
	else if (res.saved && (rc != 0 || !res.clean))
		saved_files(out);
	if (res.kept[0])
		svt_err("record: the run's files are kept in %s", res.kept);
	if (res.not_removed[0])
		svt_err("record: could not remove %s", res.not_removed);
	if (rc != 0)
		return SVT_EXIT_INPUT;

	const struct svt_stream_result *cv = &res.conv;
	if (res.no_trace) {
		printf("%s: %s\n", out, res.verdict);
		if (res.last_words[0])
			printf("%s: the hypervisor's last words: %s\n", out, res.last_words);
		return SVT_EXIT_NEGATIVE;
	}
	printf("%s: %" PRIu64 " events from %" PRIu64 " packets, %" PRIu64 " lost, %" PRIu64
	       " damaged bytes; guest '%s': %s\n", out, cv->events, cv->packets, cv->lost,
	       cv->damaged_bytes, cv->guest, res.verdict);
	if (!cv->end && res.last_words[0])
		printf("%s: the hypervisor's last words: %s\n", out, res.last_words);
	return res.clean ? SVT_EXIT_OK : SVT_EXIT_NEGATIVE;
}

const struct svt_cmd svt_cmd_record = {
	.name = "record",
	.summary = "run a guest under the hypervisor in Bochs and record its trace",
	.opts = record_opts,
	.exec = record_exec,
};
