/*
 * cmd-record.c — `shadowvt record`: run a guest kernel under the
 * hypervisor (vmx/) in Bochs, and turn the hypervisor's live stream
 * (traces/FORMAT.md, "The live stream") into a trace file.
 *
 * The stream is a sequence of packets on the hypervisor's second serial
 * port: "SVTL", type, packet number, first event number, payload length,
 * payload, CRC-32C.  HELLO carries what the trace header needs, RECORDS
 * carry trace records (the trace format's own encoding, delta state reset
 * per packet), END the event total and the verdict.  Damaged bytes are
 * skipped up to the next packet; events they held become a LOST record,
 * so the trace says what it is missing.
 */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "config.h"
#include "policy.h"
#include "sim.h"
#include "trace_int.h"

enum { PK_HELLO = 1, PK_RECORDS = 2, PK_END = 3 };
#define PK_HDR 24
#define PK_MAX (1u << 20)

struct conv {
	const char *name;
	struct svt_trace_writer *w;
	uint64_t seq;                   /* next event number expected */
	uint64_t lost, damaged_bytes, packets;
	bool hello, end;
	char verdict[256];
	uint64_t end_events;
	char guest[256];
	struct svt_trace_error err;
	char msg[700];
};

static uint32_t get32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static uint64_t get64(const uint8_t *p)
{
	return get32(p) | (uint64_t)get32(p + 4) << 32;
}

static int hello(struct conv *c, const uint8_t *p, uint32_t len, const char *producer)
{
	if (len < 32 || 32 + (uint32_t)p[31] > len) {
		snprintf(c->msg, sizeof(c->msg), "%s: the HELLO packet is too short", c->name);
		return -1;
	}
	size_t gl = p[31];
	memcpy(c->guest, p + 32, gl);
	c->guest[gl] = 0;
	struct svt_trace_range ram = { .gfn = 0, .count = get64(p + 5) };
	struct svt_trace_header h = {
		.producer = producer, .cpu_model = "Bochs 2.7 (VT-x, EPT off)", .guest = c->guest,
		.maxphyaddr = p[0], .features = get32(p + 1), .guest_frames = get64(p + 5),
		.ram = &ram, .nram = 1, .pool_frames = get32(p + 13), .links = get32(p + 17),
		.policy = { .oos = get32(p + 21), .prefetch = get32(p + 25), .emulate = p[29] != 0,
			    .early_unshadow = p[30] != 0 },
	};
	c->w = svt_trace_writer_open(c->name, &h, 3, &c->err);
	if (!c->w) {
		snprintf(c->msg, sizeof(c->msg), "%s", c->err.msg);
		return -1;
	}
	c->hello = true;
	return 0;
}

static int records(struct conv *c, uint64_t first, const uint8_t *p, uint32_t len)
{
	struct tr_state st;
	uint8_t membuf[SVT_TRACE_MAX_MEM];
	const uint8_t *end = p + len;

	if (first > c->seq) {           /* packets went missing */
		struct svt_trace_event ev = { .type = SVT_TRACE_LOST };
		ev.u.lost.count = first - c->seq;
		ev.u.lost.reason = SVT_TRACE_LOST_TRANSPORT;
		if (svt_trace_write(c->w, &ev) != SVT_TRACE_OK)
			return -1;
		c->lost += first - c->seq;
		c->seq = first;
	} else if (first < c->seq) {
		return 0;               /* a packet seen twice */
	}
	tr_state_reset(&st);
	while (p < end) {
		struct svt_trace_event ev;
		const char *why;
		if (!tr_decode(&st, &p, end, &ev, membuf, &why)) {
			snprintf(c->msg, sizeof(c->msg), "%s: stream packet with event %" PRIu64 ": %s",
				 c->name, c->seq, why);
			return -2;      /* checksummed but undecodable: the hypervisor is wrong */
		}
		if (svt_trace_write(c->w, &ev) != SVT_TRACE_OK)
			return -1;
		c->seq += svt_trace_event_span(&ev);
	}
	return 0;
}

/* Convert the stream in buf; 0, or -1 (bad stream or I/O) with c->msg. */
static int convert(struct conv *c, const uint8_t *buf, size_t n, const char *producer)
{
	size_t off = 0;
	while (off + PK_HDR + 4 <= n) {
		const uint8_t *h = buf + off;
		uint32_t len = get32(h + 20);
		if (memcmp(h, "SVTL", 4) != 0 || len > PK_MAX || off + PK_HDR + len + 4 > n ||
		    svt_crc32c(0, h, PK_HDR + len) != get32(h + PK_HDR + len)) {
			off++;          /* damaged: look for the next packet */
			c->damaged_bytes++;
			continue;
		}
		uint32_t type = get32(h + 4);
		const uint8_t *p = h + PK_HDR;
		c->packets++;
		if (type == PK_HELLO && !c->hello) {
			if (hello(c, p, len, producer) != 0)
				return -1;
		} else if (type == PK_RECORDS && c->hello) {
			int rc = records(c, get64(h + 12), p, len);
			if (rc == -1) {
				snprintf(c->msg, sizeof(c->msg), "%s", svt_trace_writer_error(c->w)->msg);
				return -1;
			}
			if (rc < 0)
				return -1;
		} else if (type == PK_END && c->hello && len >= 9 && 9 + (uint32_t)p[8] <= len) {
			c->end = true;
			c->end_events = get64(p);
			memcpy(c->verdict, p + 9, p[8]);
			c->verdict[p[8]] = 0;
		}
		off += PK_HDR + len + 4;
	}
	c->damaged_bytes += n - off;
	if (!c->hello) {
		snprintf(c->msg, sizeof(c->msg), "%s: the stream holds no HELLO packet: the hypervisor "
			 "did not start recording", c->name);
		return -1;
	}
	if (c->end && c->end_events > c->seq) {
		struct svt_trace_event ev = { .type = SVT_TRACE_LOST };
		ev.u.lost.count = c->end_events - c->seq;
		ev.u.lost.reason = SVT_TRACE_LOST_TRANSPORT;
		svt_trace_write(c->w, &ev);
		c->lost += c->end_events - c->seq;
	}
	if (svt_trace_writer_close(c->w, &c->err) != SVT_TRACE_OK) {
		c->w = NULL;
		snprintf(c->msg, sizeof(c->msg), "%s", c->err.msg);
		return -1;
	}
	c->w = NULL;
	return 0;
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

/* Where hv.elf and bochs-run.sh are: $SHADOWVT_VMX (both), else the
 * build tree (an uninstalled shadowvt), else the installed copies. */
static void vmx_paths(char *hv, char *script, size_t len)
{
	const char *e = getenv("SHADOWVT_VMX");
	if (e && *e) {
		snprintf(hv, len, "%s/hv.elf", e);
		snprintf(script, len, "%s/bochs-run.sh", e);
		return;
	}
	snprintf(hv, len, "%s/vmx/hv.elf", SVT_BUILDDIR);
	snprintf(script, len, "%s/vmx/bochs-run.sh", SVT_SRCDIR);
	if (access(hv, R_OK) == 0 && access(script, R_OK) == 0)
		return;
	snprintf(hv, len, "%s/hv.elf", SVT_PKGLIBEXECDIR);
	snprintf(script, len, "%s/bochs-run.sh", SVT_PKGLIBEXECDIR);
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
		{ NULL, 0, NULL, 0 },
	};
	const char *guest = NULL, *out = NULL, *stream = NULL, *keep = NULL, *gargs = "";
	char policy[160] = "";
	uint64_t timeout = 300;
	int c;

	optind = 1;
	opterr = 0;
	while ((c = getopt_long(argc, argv, "o:", opts, NULL)) != -1) {
		switch (c) {
		case 'g': guest = optarg; break;
		case 'a': gargs = optarg; break;
		case 'e':
			if (strcmp(optarg, "bochs") != 0)
				return svt_usage(&svt_cmd_record, "engine '%s': only bochs runs here (see "
						 "shadowvt(1) for QEMU/KVM and bare metal)", optarg);
			break;
		case 'p': {
			struct svt_policy p;
			unsigned pool;
			svt_default_policy(&p, &pool);
			if (svt_policy_parse(optarg, &p, &pool) != 0)
				return svt_usage(&svt_cmd_record, "bad policy '%s'", optarg);
			svt_policy_format(&p, pool, policy, sizeof(policy));
			break;
		}
		case 't':
			if (!svt_parse_u64(optarg, &timeout) || timeout == 0 || timeout > 86400)
				return svt_usage(&svt_cmd_record, "bad timeout '%s'", optarg);
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
	if (!guest == !stream)
		return svt_usage(&svt_cmd_record, "give --guest KERNEL, or --stream FILE to convert");

	char dir[4096], cmd[16384], path[4300];
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
		}
		char hvp[4096], script[4096];
		vmx_paths(hvp, script, sizeof(hvp));
		snprintf(cmd, sizeof(cmd), "BOCHS_TIMEOUT=%" PRIu64 " GUEST_ARGS='%s' sh '%s' '%s' '%s' "
			 "'%s' '%s%s'", timeout, gargs, script, dir, guest, hvp,
			 policy[0] ? "policy=" : "", policy);
		int st = system(cmd);
		bochs_rc = WIFEXITED(st) ? WEXITSTATUS(st) : 125;
		if (bochs_rc == 125 || bochs_rc == 127) {
			svt_err("record: could not run Bochs through %s (is bochs installed? see %s/bochs.out)",
				script, dir);
			return SVT_EXIT_INPUT;
		}
		snprintf(path, sizeof(path), "%s/stream.bin", dir);
		stream = path;
	}
	size_t n;
	uint8_t *buf = slurp(stream, &n);
	if (!buf) {
		svt_err("record: %s: %s", stream, strerror(errno));
		return SVT_EXIT_INPUT;
	}
	struct conv cv = { .name = out };
	int rc = convert(&cv, buf, n, "shadowvt " PACKAGE_VERSION " hypervisor (vmx)");
	free(buf);
	if (cv.w)
		svt_trace_writer_close(cv.w, NULL);
	if (rc != 0) {
		svt_err("record: %s", cv.msg);
		return SVT_EXIT_INPUT;
	}
	if (guest) {
		char con[9000];
		snprintf(con, sizeof(con), "cp '%s/console.txt' '%s.console' && cp '%s/hv.txt' '%s.hv.log'",
			 dir, out, dir, out);
		if (system(con) != 0)
			svt_err("record: could not copy the console beside %s", out);
		if (!keep) {
			snprintf(con, sizeof(con), "rm -rf '%s'", dir);
			if (system(con) != 0)
				svt_err("record: could not remove %s", dir);
		}
	}
	const char *verdict = cv.end ? cv.verdict : bochs_rc == 124 ? "timed out" :
		"the stream ends without END: the hypervisor stopped early";
	printf("%s: %" PRIu64 " events from %" PRIu64 " packets, %" PRIu64 " lost, %" PRIu64
	       " damaged bytes; guest '%s': %s\n", out, cv.seq, cv.packets, cv.lost, cv.damaged_bytes,
	       cv.guest, verdict);
	bool ok = cv.end && cv.lost == 0 && cv.damaged_bytes == 0 &&
		  (strstr(verdict, "powered off") || strstr(verdict, "halted"));
	return ok ? SVT_EXIT_OK : SVT_EXIT_NEGATIVE;
}

const struct svt_cmd svt_cmd_record = {
	"record",
	"--guest KERNEL [--guest-args ARGS] [--engine bochs] [--policy SPEC] [--timeout S]\n"
	"       [--keep DIR] -o TRACE | --stream FILE -o TRACE",
	"run a guest under the hypervisor in Bochs and record its trace",
	record_exec,
};
