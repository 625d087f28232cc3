/*
 * cmd-verify.c — `shadowvt verify`: check traces whole without running the
 * core, through the trace library's reader (trace.h): the header (at
 * open), every frame (header checksum, stored-bytes checksum,
 * decompression, content checksum), the index against the frames and the
 * trailer's totals (svt_trace_verify_frames); with --records, every record
 * decoded too, read from the first event to the end as replay reads it.
 */
#define _POSIX_C_SOURCE 200809L
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "export.h"
#include "sim.h"
#include "trace.h"

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

struct verdict {
	const char *path;
	bool good;
	uint64_t bytes, frames, events;
	double seconds;
	const char *msg;                /* why it is damaged */
	const struct svt_trace_error *err;      /* where, when the reader said */
};

static void num_or_null(FILE *f, const char *key, uint64_t v)
{
	if (v == SVT_TRACE_NONE)
		fprintf(f, ", \"%s\": null", key);
	else
		fprintf(f, ", \"%s\": %" PRIu64, key, v);
}

static void print_json(const struct verdict *v)
{
	double mbs = v->seconds > 0 ? (double)v->bytes / v->seconds / 1e6 : 0;

	fputs("{\"trace\": ", stdout);
	svt_json_str(stdout, v->path, strlen(v->path));
	printf(", \"status\": \"%s\", \"bytes\": %" PRIu64 ", \"frames\": %" PRIu64 ", "
	       "\"events\": %" PRIu64 ", \"seconds\": %.3f, \"mb_per_s\": %.1f, \"error\": ",
	       v->good ? "good" : "damaged", v->bytes, v->frames, v->events, v->seconds, mbs);
	if (v->msg)
		svt_json_str(stdout, v->msg, strlen(v->msg));
	else
		fputs("null", stdout);
	num_or_null(stdout, "frame", v->err ? v->err->frame : SVT_TRACE_NONE);
	num_or_null(stdout, "offset", v->err ? v->err->offset : SVT_TRACE_NONE);
	num_or_null(stdout, "event", v->err ? v->err->seq : SVT_TRACE_NONE);
	fputs("}\n", stdout);
}

/* Verify one trace; its exit status. */
static int verify(const char *path, bool json, bool quiet, bool records)
{
	struct verdict v = { .path = path };
	struct svt_trace_error err;
	struct svt_trace_info info;
	struct svt_trace_event ev;
	double t0 = now();
	int st = SVT_TRACE_OK;

	struct svt_trace_reader *r = svt_trace_open(path, 0, &err);
	if (!r) {
		v.msg = err.msg;
		v.err = &err;
	} else if (svt_trace_reader_warning(r)) {
		/* the trailer or the index does not hold: the file is damaged
		 * whatever its frames say */
		v.msg = svt_trace_reader_warning(r);
	} else {
		uint64_t frames;
		st = svt_trace_verify_frames(r, &frames);
		if (st == SVT_TRACE_OK && records)
			while ((st = svt_trace_next(r, &ev)) == SVT_TRACE_OK)
				;
		else if (st == SVT_TRACE_OK)
			st = SVT_TRACE_END;
		if (st != SVT_TRACE_END) {
			v.err = svt_trace_reader_error(r);
			v.msg = v.err->msg;
		}
	}
	if (r && svt_trace_info(r, &info) == SVT_TRACE_OK) {
		v.bytes = info.file_size;
		v.frames = info.frames;
		v.events = info.events;
	}
	v.seconds = now() - t0;
	v.good = v.msg == NULL;
	if (!v.good)
		fprintf(stderr, "%s verify: %s\n", svt_progname, v.msg);
	if (json)
		print_json(&v);
	else if (!quiet || !v.good)
		printf("%s: %s: %" PRIu64 " bytes, %" PRIu64 " frames, %" PRIu64 " events; %.2f s, "
		       "%.0f MB/s\n", path, v.good ? "good" : "DAMAGED", v.bytes,
		       v.frames, v.events, v.seconds,
		       v.seconds > 0 ? (double)v.bytes / v.seconds / 1e6 : 0.0);
	svt_trace_close(r);
	return v.good ? SVT_EXIT_OK : SVT_EXIT_INPUT;
}

static const struct svt_opt verify_opts[] = {
	{ SVT_OPT_FLAG("json", 0), .help = "print each trace's verdict as a JSON object" },
	{ SVT_OPT_FLAG("quiet", 'q'), .help = "print only damaged traces" },
	{ SVT_OPT_FLAG("records", 0), .help = "decode every record too (slower)" },
	{ .name = NULL },
};

static const struct svt_posarg verify_args[] = {
	{ "TRACE", "trace file", SVT_POS_MANY },
	{ .name = NULL },
};

static int verify_exec(const struct svt_args *a)
{
	bool json = svt_args_has(a, "json"), quiet = svt_args_has(a, "quiet");
	bool records = svt_args_has(a, "records");
	int worst = SVT_EXIT_OK;

	for (int i = 0; i < a->argc; i++) {
		int rc = verify(a->argv[i], json, quiet, records);
		fflush(stdout);
		if (svt_exit_rank(rc) > svt_exit_rank(worst))
			worst = rc;
	}
	return worst;
}

const struct svt_cmd svt_cmd_verify = {
	.name = "verify",
	.summary = "check every checksum, the index and the totals of traces",
	.opts = verify_opts,
	.args = verify_args,
	.exec = verify_exec,
};
