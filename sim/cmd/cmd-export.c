/*
 * cmd-export.c — `shadowvt export`: a trace as another tool's format, today
 * a Chrome/Perfetto trace-event JSON timeline (export.h).  The output is
 * written to a temporary renamed to OUT when done, so OUT is never half
 * written (outfile.h: devices and FIFOs are written through, SIGINT and
 * SIGTERM leave the old file and exit 4); a damaged trace still gives a
 * complete JSON document of what decoded (its metadata says "complete":
 * false) and exit status 3.
 */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "export.h"
#include "outfile.h"
#include "progress.h"
#include "sim.h"
#include "trace.h"

#define OUT_BUFFER (1u << 20)
/* The output's size is estimated before writing by exporting SAMPLE_WINDOWS
 * windows of SAMPLE_EVENTS events spread over the range (the start of a
 * trace is mostly memory records; its middle and end are not). */
#define SAMPLE_WINDOWS 8
#define SAMPLE_EVENTS 2500
#define LARGE_OUTPUT (100u * 1000 * 1000)       /* bytes: a warning above this */

static const char *const formats[] = { "perfetto", NULL };

/* Static: stdout keeps using it after the command returns. */
static char out_buffer[OUT_BUFFER];

static const struct svt_opt export_opts[] = {
	{ SVT_OPT_WORD("format", 0, formats), .flags = SVT_OPT_REQUIRED,
	  .help = "the output format" },
	{ SVT_OPT_PATH("output", 'o', "OUT"), .flags = SVT_OPT_REQUIRED,
	  .help = "the file to write (-: standard output)" },
	{ SVT_OPT_NUM("from", 0, "N", 0, UINT64_MAX), .help = "the first event (default 0)" },
	{ SVT_OPT_NUM("to", 0, "M", 0, UINT64_MAX), .help = "the last event (default the last)" },
	{ SVT_OPT_FLAG("no-mem", 0), .help = "leave out the memory records" },
	{ SVT_OPT_FLAG("quiet", 'q'), .help = "no progress line and no size warning" },
	{ .name = NULL },
};

static const struct svt_posarg export_args[] = {
	{ "TRACE", "trace file", 0 },
	{ .name = NULL },
};

/* The events from..last exported in windows into memory: their bytes per
 * event times the range's events.  0 where the sample cannot be made (the
 * export itself then says why). */
static uint64_t estimate(const char *path, const struct svt_trace_info *info,
			 const struct svt_export_opts *eo, uint64_t last)
{
	uint64_t n = last - eo->from + 1, bytes = 0, events = 0;
	uint64_t windows = n <= SAMPLE_WINDOWS * SAMPLE_EVENTS ? 1 : SAMPLE_WINDOWS;
	uint64_t len = windows == 1 ? n : SAMPLE_EVENTS;

	for (uint64_t i = 0; i < windows; i++) {
		struct svt_export_opts w = *eo;
		struct svt_export_stats st;
		struct svt_trace_error err;
		char *buf = NULL;
		size_t size = 0;

		w.from = eo->from + (windows == 1 ? 0 : i * ((n - len) / (windows - 1)));
		w.to = w.from + len - 1;
		w.progress = NULL;
		struct svt_trace_reader *r = svt_trace_open(path, 0, &err);
		FILE *f = r ? open_memstream(&buf, &size) : NULL;
		int rc = f ? svt_export_perfetto(r, info, &w, f, &st) : SVT_TRACE_EIO;
		if (f)
			fclose(f);
		free(buf);
		if (r)
			svt_trace_close(r);
		if (rc != SVT_TRACE_OK)
			return 0;
		bytes += size;
		events += len;
	}
	return events ? (uint64_t)((double)bytes / (double)events * (double)n) : 0;
}

struct export_progress {
	struct svt_progress p;
	FILE *out;
	bool regular;           /* out is a regular file (ftell says how much is written) */
	uint64_t from, last, estimate;
};

static void draw(void *ctx, uint64_t seq)
{
	struct export_progress *x = ctx;

	if (!svt_progress_due(&x->p))
		return;
	uint64_t done = seq - x->from + 1, total = x->last - x->from + 1;
	double t = svt_progress_elapsed(&x->p);
	long pos = x->regular ? ftell(x->out) : -1;    /* a device or a pipe: no size */
	char eta[32], written[32] = "", about[32];
	svt_progress_eta(eta, sizeof(eta), done, total, t);
	svt_progress_bytes(about, sizeof(about), x->estimate);
	if (pos >= 0)
		svt_progress_bytes(written, sizeof(written), (uint64_t)pos);
	svt_progress_draw(&x->p, "export: %" PRIu64 "/%" PRIu64 " events (%.0f%%), "
			  "%s%sof about %s, ETA %s", done, total,
			  100.0 * (double)done / (double)total, written, pos >= 0 ? " " : "",
			  about, eta);
}

static int cmd_export_exec(const struct svt_args *a)
{
	struct svt_export_opts eo = {
		.from = svt_args_num(a, "from", 0), .to = svt_args_num(a, "to", UINT64_MAX),
		.no_mem = svt_args_has(a, "no-mem"),
	};
	const char *outpath = svt_args_str(a, "output", NULL);

	if (eo.to < eo.from)
		return svt_usage(&svt_cmd_export,
				 "--to %" PRIu64 " is before --from %" PRIu64, eo.to, eo.from);
	eo.name = a->argv[0];
	struct stat in_st, out_st;
	if (strcmp(outpath, "-") != 0 && stat(eo.name, &in_st) == 0 &&
	    stat(outpath, &out_st) == 0 && in_st.st_dev == out_st.st_dev &&
	    in_st.st_ino == out_st.st_ino)
		return svt_usage(&svt_cmd_export, "the output %s is the trace itself", outpath);

	struct svt_trace_error err;
	struct svt_trace_info info;
	struct svt_trace_reader *r = svt_trace_open(eo.name, 0, &err);
	if (r == NULL)
		return svt_err_trace(&err);
	if (svt_trace_info(r, &info) != SVT_TRACE_OK) {
		int rc = svt_err_trace(svt_trace_reader_error(r));
		svt_trace_close(r);
		return rc;
	}
	if (eo.from > info.events) {
		svt_trace_close(r);
		return svt_usage(&svt_cmd_export, "--from %" PRIu64 ": beyond the end of the trace "
				 "(%" PRIu64 " events)", eo.from, info.events);
	}
	if (svt_trace_reader_warning(r))
		svt_err("warning: %s", svt_trace_reader_warning(r));

	struct svt_outfile out;
	struct svt_export_stats st;
	char why[PATH_MAX + 200];
	if (svt_outfile_open(&out, outpath, SVT_OUTFILE_SIGNALS, why, sizeof(why)) != 0) {
		svt_err("%s", why);
		svt_trace_close(r);
		return SVT_EXIT_INPUT;
	}
	setvbuf(out.f, out_buffer, _IOFBF, sizeof(out_buffer));

	/* the size it will be, said before the time is spent */
	struct export_progress x = { .out = out.f, .from = eo.from };
	struct stat fst;
	x.regular = fstat(fileno(out.f), &fst) == 0 && S_ISREG(fst.st_mode);
	bool quiet = svt_args_has(a, "quiet");
	svt_progress_start(&x.p, quiet);
	x.last = info.events == 0 ? eo.from : eo.to < info.events - 1 ? eo.to : info.events - 1;
	if (info.events > 0 && eo.from < info.events && (!quiet || x.p.on))
		x.estimate = estimate(eo.name, &info, &eo, x.last);
	if (!quiet && x.estimate > LARGE_OUTPUT) {
		char about[32];
		svt_progress_bytes(about, sizeof(about), x.estimate);
		svt_err("export: warning: the output will be about %s%s", about, eo.no_mem ? "" :
			" (--no-mem, --from and --to make it smaller)");
	}
	if (x.p.on && x.estimate) {
		eo.progress = draw;
		eo.progress_ctx = &x;
	}
	int rc = SVT_EXIT_OK;
	if (svt_export_perfetto(r, &info, &eo, out.f, &st) != SVT_TRACE_OK)
		rc = svt_err_trace(svt_trace_reader_error(r));
	svt_progress_end(&x.p);
	svt_trace_close(r);
	if (svt_outfile_commit(&out, why, sizeof(why)) != 0) {
		svt_err("%s", why);
		return SVT_EXIT_INPUT;
	}
	if (rc != SVT_EXIT_OK)
		svt_err("%s: %" PRIu64 " records before the error written; the timeline is marked "
			"incomplete", strcmp(outpath, "-") == 0 ? "standard output" : outpath,
			st.records);
	return rc;
}

const struct svt_cmd svt_cmd_export = {
	.name = "export",
	.summary = "write a trace as a Perfetto/Chrome trace-event JSON timeline",
	.opts = export_opts,
	.args = export_args,
	.exec = cmd_export_exec,
};
