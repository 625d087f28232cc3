/*
 * sim.h — the shadowvt command's table and its few true utilities.
 *
 * Each subcommand lives in its own cmd-*.c file and exports one
 * struct svt_cmd entry (tmux-style): its declared options and positional
 * arguments (args.h) and its exec, which starts from the parsed
 * arguments.  shadowvt.c holds the table.  Every subcommand returns one of
 * the SVT_EXIT_* statuses documented in shadowvt(1).  Command files are
 * leaves: what other code needs lives in library files with their own
 * headers (tests/cmd-leaves.sh checks it).
 */
#ifndef SVT_SIM_H
#define SVT_SIM_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "args.h"
#include "svt.h"

/* Exit statuses (shadowvt(1), EXIT STATUS). */
#define SVT_EXIT_OK       0   /* success; for walk: the access translated */
#define SVT_EXIT_NEGATIVE 1   /* the answer is "no": the access faults */
#define SVT_EXIT_USAGE    2   /* bad arguments */
#define SVT_EXIT_INPUT    3   /* unreadable, unwritable or invalid input */
#define SVT_EXIT_INTERRUPTED 4  /* replay, run: stopped by SIGINT or SIGTERM */

struct svt_cmd {
	const char *name;
	const char *summary;
	const struct svt_opt *opts;     /* ends with { .name = NULL }; NULL: none */
	const struct svt_posarg *args;  /* ends with { .name = NULL }; NULL: none */
	int (*exec)(const struct svt_args *a);
};

extern const struct svt_cmd svt_cmd_walk;
extern const struct svt_cmd svt_cmd_demo;
extern const struct svt_cmd svt_cmd_info;
extern const struct svt_cmd svt_cmd_dump;
extern const struct svt_cmd svt_cmd_export;
extern const struct svt_cmd svt_cmd_query;
extern const struct svt_cmd svt_cmd_report;
extern const struct svt_cmd svt_cmd_synth;
extern const struct svt_cmd svt_cmd_replay;
extern const struct svt_cmd svt_cmd_record;
extern const struct svt_cmd svt_cmd_run;
extern const struct svt_cmd svt_cmd_verify;
extern const struct svt_cmd svt_cmd_cut;
extern const struct svt_cmd svt_cmd_reduce;

/* util.c */
extern const char *svt_progname;
void svt_err(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* A failure of the trace library (trace.h) said: its message on stderr,
 * and the exit status it calls for (usage for SVT_TRACE_EARG, else input). */
struct svt_trace_error;
int svt_err_trace(const struct svt_trace_error *e);
/* Decimal or 0x hexadecimal, never octal: true and *out, or false. */
bool svt_parse_u64(const char *s, uint64_t *out);
/* How bad an exit status is, for the worst of several runs: OK < NEGATIVE
 * < INTERRUPTED < anything else. */
int svt_exit_rank(int status);
/* Length of the valid UTF-8 sequence at s (1 for ASCII), or 0. */
size_t svt_utf8_len(const unsigned char *s);

/* buildid.c: this executable's build identity (its GNU build-id in hex),
 * and the tool version the results database records: PACKAGE_VERSION and
 * the identity's first 16 digits ("0.9 build 1a2b...").  shadowvt run's
 * cache key includes it, so a differently built core is never served
 * another build's results. */
const char *svt_build_id(void);
const char *svt_tool_version(void);

#endif
