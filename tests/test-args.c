/*
 * test-args.c — the declared-options parser (sim/util/args.c): every kind of
 * option value (flag, string, path, decimal number, hexadecimal number,
 * word), positional arguments (required, optional, many), the syntax
 * (--name value, --name=value, -xVALUE, bundled flags, --, -), each
 * message it writes, the generated usage and help, and svt_usage.
 */
#define _POSIX_C_SOURCE 200809L
#include <criterion/criterion.h>
#include <criterion/redirect.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sim.h"

static const char *const colours[] = { "red", "green", "blue", NULL };
static const char *const perfetto[] = { "perfetto", NULL };
static const char *const kinds[] = { "read", "write", "fetch", NULL };

static const struct svt_opt test_opts[] = {
	{ SVT_OPT_FLAG("json", 0), .help = "print JSON" },
	{ SVT_OPT_FLAG("quiet", 'q'), .help = "say less" },
	{ SVT_OPT_STRING("title", 0, "TEXT"), .help = "a title" },
	{ SVT_OPT_PATH("output", 'o', "FILE"), .help = "where to write" },
	{ SVT_OPT_NUM("jobs", 'j', "N", 1, 64), .help = "threads" },
	{ SVT_OPT_NUM("from", 0, "N", 0, UINT64_MAX), .help = "the first event" },
	{ SVT_OPT_NUM("events", 0, "N", 1, UINT64_MAX), .help = "how many" },
	{ SVT_OPT_HEX("va", 0, "ADDR", 0, UINT64_MAX), .help = "an address" },
	{ SVT_OPT_HEX("pkru", 0, "X", 0, UINT32_MAX), .help = "a register" },
	{ SVT_OPT_WORD("colour", 'c', colours), .help = "a colour" },
	{ SVT_OPT_NUM("run", 0, "ID", 1, 1000), .flags = SVT_OPT_MANY, .help = "a run" },
	{ .name = NULL },
};

static const struct svt_posarg test_args[] = {
	{ "TRACE", "trace file", 0 },
	{ "MORE", "more traces", SVT_POS_OPTIONAL | SVT_POS_MANY },
	{ .name = NULL },
};

static const struct svt_cmd test_cmd = {
	.name = "test", .summary = "a command to test the parser",
	.opts = test_opts, .args = test_args,
};

/* Required options, no positional arguments. */
static const struct svt_opt req_opts[] = {
	{ SVT_OPT_PATH("mem", 0, "IMAGE"), .flags = SVT_OPT_REQUIRED, .help = "an image" },
	{ SVT_OPT_WORD("access", 0, kinds), .flags = SVT_OPT_REQUIRED, .help = "an access" },
	{ SVT_OPT_FLAG("force", 0), .flags = SVT_OPT_REQUIRED, .help = "must be said" },
	{ SVT_OPT_WORD("format", 0, perfetto), .help = "one format" },
	{ .name = NULL },
};

static const struct svt_cmd req_cmd = { .name = "req", .summary = "required options",
					.opts = req_opts };

/* One required and one optional positional argument, no options. */
static const struct svt_posarg two_args[] = {
	{ "RESULTS", "results database", 0 },
	{ "REPORT", "report", SVT_POS_OPTIONAL },
	{ .name = NULL },
};

static const struct svt_cmd two_cmd = { .name = "two", .summary = "two arguments",
					.args = two_args };

static struct svt_args a;

static int parse_argv(const struct svt_cmd *cmd, char **argv)
{
	int argc = 0;

	while (argv[argc])
		argc++;
	svt_args_free(&a);
	return svt_args_parse(cmd, argc, argv, &a);
}

#define PARSE(cmd, ...) parse_argv(cmd, (char *[]){ __VA_ARGS__, NULL })

static void ok(int rc)
{
	cr_assert_eq(rc, SVT_ARGS_OK, "parse failed: %s", a.err);
}

static void fails(int rc, const char *msg)
{
	cr_assert_eq(rc, SVT_ARGS_BAD, "parsed, expected \"%s\"", msg);
	cr_assert_str_eq(a.err, msg);
}

static void fini(void)
{
	svt_args_free(&a);
}

TestSuite(args, .fini = fini);

/* ---- each kind of value -------------------------------------------------------- */

Test(args, flags)
{
	ok(PARSE(&test_cmd, "--json", "t.svt", "-q"));
	cr_assert(svt_args_has(&a, "json"));
	cr_assert(svt_args_has(&a, "quiet"));
	cr_assert(!svt_args_has(&a, "output"));
	cr_assert_null(svt_args_str(&a, "json", NULL));
	ok(PARSE(&test_cmd, "t.svt"));
	cr_assert(!svt_args_has(&a, "json"));
	fails(PARSE(&test_cmd, "t.svt", "--json=1"), "option --json takes no value");
}

Test(args, strings)
{
	ok(PARSE(&test_cmd, "--title", "", "t.svt"));
	cr_assert_str_eq(svt_args_str(&a, "title", "x"), "");
	ok(PARSE(&test_cmd, "--title=a=b", "t.svt"));
	cr_assert_str_eq(svt_args_str(&a, "title", NULL), "a=b");
	ok(PARSE(&test_cmd, "--title", "-q", "t.svt"));     /* the next argument, whatever it is */
	cr_assert_str_eq(svt_args_str(&a, "title", NULL), "-q");
	cr_assert(!svt_args_has(&a, "quiet"));
	ok(PARSE(&test_cmd, "t.svt"));
	cr_assert_str_eq(svt_args_str(&a, "title", "default"), "default");
}

Test(args, paths)
{
	ok(PARSE(&test_cmd, "-o", "out", "t.svt"));
	cr_assert_str_eq(svt_args_str(&a, "output", NULL), "out");
	ok(PARSE(&test_cmd, "-oout", "t.svt"));
	cr_assert_str_eq(svt_args_str(&a, "output", NULL), "out");
	ok(PARSE(&test_cmd, "--output=out", "t.svt"));
	cr_assert_str_eq(svt_args_str(&a, "output", NULL), "out");
	ok(PARSE(&test_cmd, "-o", "-", "t.svt"));
	cr_assert_str_eq(svt_args_str(&a, "output", NULL), "-");
	fails(PARSE(&test_cmd, "-o", "", "t.svt"), "-o: the file name is empty");
	fails(PARSE(&test_cmd, "--output=", "t.svt"), "--output: the file name is empty");
}

Test(args, numbers)
{
	ok(PARSE(&test_cmd, "--jobs", "8", "t.svt"));
	cr_assert_eq(svt_args_num(&a, "jobs", 1), 8);
	ok(PARSE(&test_cmd, "-j8", "t.svt"));
	cr_assert_eq(svt_args_num(&a, "jobs", 1), 8);
	ok(PARSE(&test_cmd, "-qj", "64", "t.svt"));
	cr_assert_eq(svt_args_num(&a, "jobs", 1), 64);
	cr_assert(svt_args_has(&a, "quiet"));
	ok(PARSE(&test_cmd, "t.svt"));
	cr_assert_eq(svt_args_num(&a, "jobs", 7), 7);
	/* decimal means decimal: a leading zero is not octal */
	ok(PARSE(&test_cmd, "--from", "010", "t.svt"));
	cr_assert_eq(svt_args_num(&a, "from", 0), 10);
	ok(PARSE(&test_cmd, "--from", "18446744073709551615", "t.svt"));
	cr_assert_eq(svt_args_num(&a, "from", 0), UINT64_MAX);
	fails(PARSE(&test_cmd, "--jobs", "0", "t.svt"), "--jobs: '0' is not a number in 1..64");
	fails(PARSE(&test_cmd, "-j", "65", "t.svt"), "-j: '65' is not a number in 1..64");
	fails(PARSE(&test_cmd, "--jobs", "0x10", "t.svt"),
	      "--jobs: '0x10' is not a number in 1..64");
	fails(PARSE(&test_cmd, "--jobs", "-1", "t.svt"), "--jobs: '-1' is not a number in 1..64");
	fails(PARSE(&test_cmd, "--jobs", "+2", "t.svt"), "--jobs: '+2' is not a number in 1..64");
	fails(PARSE(&test_cmd, "--jobs", " 2", "t.svt"), "--jobs: ' 2' is not a number in 1..64");
	fails(PARSE(&test_cmd, "--jobs", "2x", "t.svt"), "--jobs: '2x' is not a number in 1..64");
	fails(PARSE(&test_cmd, "--jobs=", "t.svt"), "--jobs: '' is not a number in 1..64");
	fails(PARSE(&test_cmd, "--from", "x", "t.svt"), "--from: 'x' is not a number");
	fails(PARSE(&test_cmd, "--from", "18446744073709551616", "t.svt"),
	      "--from: '18446744073709551616' is not a number");
	fails(PARSE(&test_cmd, "--from", "0x10", "t.svt"), "--from: '0x10' is not a number");
	fails(PARSE(&test_cmd, "--events", "0", "t.svt"),
	      "--events: '0' is not a number of at least 1");
	ok(PARSE(&test_cmd, "--events", "18446744073709551615", "t.svt"));
}

Test(args, hex_numbers)
{
	ok(PARSE(&test_cmd, "--va", "0x400123", "t.svt"));
	cr_assert_eq(svt_args_num(&a, "va", 0), 0x400123);
	ok(PARSE(&test_cmd, "--va", "0XfF", "t.svt"));
	cr_assert_eq(svt_args_num(&a, "va", 0), 0xff);
	ok(PARSE(&test_cmd, "--va", "4096", "t.svt"));
	cr_assert_eq(svt_args_num(&a, "va", 0), 4096);
	ok(PARSE(&test_cmd, "--va", "010", "t.svt"));
	cr_assert_eq(svt_args_num(&a, "va", 0), 10);
	ok(PARSE(&test_cmd, "--va", "0xffffffffffffffff", "t.svt"));
	cr_assert_eq(svt_args_num(&a, "va", 0), UINT64_MAX);
	ok(PARSE(&test_cmd, "--pkru", "0xffffffff", "t.svt"));
	cr_assert_eq(svt_args_num(&a, "pkru", 0), 0xffffffffu);
	fails(PARSE(&test_cmd, "--va", "0x", "t.svt"), "--va: '0x' is not a number");
	fails(PARSE(&test_cmd, "--va", "0x12zz", "t.svt"), "--va: '0x12zz' is not a number");
	fails(PARSE(&test_cmd, "--va", "ff", "t.svt"), "--va: 'ff' is not a number");
	fails(PARSE(&test_cmd, "--va", "0x10000000000000000", "t.svt"),
	      "--va: '0x10000000000000000' is not a number");
	fails(PARSE(&test_cmd, "--pkru", "0x100000000", "t.svt"),
	      "--pkru: '0x100000000' is not a number in 0x0..0xffffffff");
}

Test(args, words)
{
	ok(PARSE(&test_cmd, "--colour", "green", "t.svt"));
	cr_assert_eq(svt_args_word(&a, "colour", -1), 1);
	cr_assert_str_eq(svt_args_str(&a, "colour", NULL), "green");
	ok(PARSE(&test_cmd, "-cblue", "t.svt"));
	cr_assert_eq(svt_args_word(&a, "colour", -1), 2);
	ok(PARSE(&test_cmd, "t.svt"));
	cr_assert_eq(svt_args_word(&a, "colour", -1), -1);
	fails(PARSE(&test_cmd, "--colour", "Red", "t.svt"),
	      "--colour: 'Red' is not red, green or blue");
	fails(PARSE(&test_cmd, "-c", "", "t.svt"), "-c: '' is not red, green or blue");
	fails(PARSE(&req_cmd, "--format", "chrome"), "--format: 'chrome' is not perfetto");
}

Test(args, repeated)
{
	ok(PARSE(&test_cmd, "--run", "1", "t.svt", "--run", "5", "--run=7"));
	cr_assert_eq(svt_args_count(&a, "run"), 3);
	cr_assert_eq(svt_args_nth(&a, "run", 0)->num, 1);
	cr_assert_eq(svt_args_nth(&a, "run", 1)->num, 5);
	cr_assert_eq(svt_args_nth(&a, "run", 2)->num, 7);
	cr_assert_null(svt_args_nth(&a, "run", 3));
	cr_assert_eq(svt_args_num(&a, "run", 0), 7);           /* the last */
	cr_assert_eq(svt_args_count(&a, "jobs"), 0);
	fails(PARSE(&test_cmd, "--run", "0", "t.svt"), "--run: '0' is not a number in 1..1000");
	fails(PARSE(&test_cmd, "--from", "1", "t.svt", "--from", "1"),
	      "option --from given more than once");
	fails(PARSE(&test_cmd, "-o", "a", "--output", "b", "t.svt"),
	      "option --output given more than once");
	fails(PARSE(&test_cmd, "-qq", "t.svt"), "option -q given more than once");
}

/* ---- the syntax and its messages ----------------------------------------------- */

Test(args, unknown_options)
{
	fails(PARSE(&test_cmd, "t.svt", "--bogus"), "unknown option --bogus");
	fails(PARSE(&test_cmd, "--bogus=1", "t.svt"), "unknown option --bogus");
	fails(PARSE(&test_cmd, "-x", "t.svt"), "unknown option -x");
	fails(PARSE(&test_cmd, "-qx", "t.svt"), "unknown option -x");
	fails(PARSE(&test_cmd, "--jso", "t.svt"), "unknown option --jso");   /* no abbreviations */
	fails(PARSE(&test_cmd, "---json", "t.svt"), "unknown option ---json");
}

Test(args, missing_values)
{
	fails(PARSE(&test_cmd, "t.svt", "--title"), "option --title needs a value TEXT");
	fails(PARSE(&test_cmd, "t.svt", "-o"), "option -o needs a value FILE");
	fails(PARSE(&test_cmd, "t.svt", "-qo"), "option -o needs a value FILE");
	fails(PARSE(&test_cmd, "t.svt", "--jobs"), "option --jobs needs a value N");
	fails(PARSE(&test_cmd, "t.svt", "--colour"),
	      "option --colour needs a value red|green|blue");
}

Test(args, positional)
{
	ok(PARSE(&test_cmd, "a.svt", "--json", "b.svt", "c.svt"));
	cr_assert_eq(a.argc, 3);
	cr_assert_str_eq(a.argv[0], "a.svt");
	cr_assert_str_eq(a.argv[1], "b.svt");
	cr_assert_str_eq(a.argv[2], "c.svt");
	cr_assert_null(a.argv[3]);
	ok(PARSE(&test_cmd, "-", "--", "--json", "-q"));       /* "-" and what follows "--" */
	cr_assert_eq(a.argc, 3);
	cr_assert_str_eq(a.argv[0], "-");
	cr_assert_str_eq(a.argv[1], "--json");
	cr_assert(!svt_args_has(&a, "json"));
	fails(PARSE(&test_cmd, "--json"), "no trace file given");
	ok(PARSE(&two_cmd, "r.db"));
	cr_assert_eq(a.argc, 1);
	ok(PARSE(&two_cmd, "r.db", "faults"));
	cr_assert_eq(a.argc, 2);
	fails(PARSE(&two_cmd, "r.db", "faults", "memory"), "unexpected argument 'memory'");
	fails(PARSE(&two_cmd, "--json"), "unknown option --json");        /* a table of none */
	fails(PARSE(&req_cmd, "--mem", "m", "--access", "read", "--force", "x"),
	      "unexpected argument 'x'");
}

Test(args, required)
{
	fails(PARSE(&req_cmd, "--access", "read"), "--mem IMAGE is required");
	fails(PARSE(&req_cmd, "--mem", "m"), "--access read|write|fetch is required");
	fails(PARSE(&req_cmd, "--mem", "m", "--access", "fetch"), "--force is required");
	ok(PARSE(&req_cmd, "--force", "--mem", "m", "--access", "fetch"));
	cr_assert_eq(svt_args_word(&a, "access", 0), 2);
}

Test(args, help)
{
	cr_assert_eq(PARSE(&test_cmd, "--bogus", "--help"), SVT_ARGS_HELP);
	cr_assert_eq(PARSE(&req_cmd, "--help"), SVT_ARGS_HELP);
	ok(PARSE(&test_cmd, "--", "--help"));          /* a file called --help */
	cr_assert_str_eq(a.argv[0], "--help");
}

/* ---- generated texts ---------------------------------------------------------- */

static char *text(void (*fn)(const struct svt_cmd *, FILE *), const struct svt_cmd *cmd)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	cr_assert_not_null(f);
	fn(cmd, f);
	fclose(f);
	return buf;
}

Test(args, usage_text)
{
	char *u = text(svt_args_usage, &test_cmd);

	cr_assert_str_eq(u,
			 "usage: shadowvt test [--json] [-q] [--title TEXT] [-o FILE] [-j N] "
			 "[--from N]\n"
			 "       [--events N] [--va ADDR] [--pkru X] [-c red|green|blue] "
			 "[--run ID]...\n"
			 "       TRACE [MORE...]\n");
	free(u);
	u = text(svt_args_usage, &req_cmd);
	cr_assert_str_eq(u, "usage: shadowvt req --mem IMAGE --access read|write|fetch --force\n"
			 "       [--format perfetto]\n");
	free(u);
	u = text(svt_args_usage, &two_cmd);
	cr_assert_str_eq(u, "usage: shadowvt two RESULTS [REPORT]\n");
	free(u);
}

Test(args, help_text)
{
	char *h = text(svt_args_help, &test_cmd);

	cr_assert(strstr(h, "usage: shadowvt test [--json]") == h, "%s", h);
	cr_assert_not_null(strstr(h, "\n\nA command to test the parser.\n\noptions:\n"), "%s", h);
	cr_assert_not_null(strstr(h, "\n  -j, --jobs N                threads; N in 1..64\n"),
			   "%s", h);
	cr_assert_not_null(strstr(h, "\n      --json                  print JSON\n"), "%s", h);
	cr_assert_not_null(strstr(h,
				  "\n      --pkru X                a register; X in "
				  "0x0..0xffffffff\n"), "%s", h);
	cr_assert_not_null(strstr(h, "\n      --from N                the first event\n"), "%s", h);
	cr_assert_not_null(strstr(h, "\n      --events N              how many; N of at least 1\n"),
			   "%s", h);
	cr_assert_not_null(strstr(h,
				  "\n      --run ID                a run; ID in 1..1000 (may be "
				  "repeated)\n"), "%s", h);
	free(h);
	h = text(svt_args_help, &req_cmd);
	cr_assert_not_null(strstr(h, "\n      --mem IMAGE             an image (required)\n"),
			   "%s", h);
	cr_assert_not_null(strstr(h, "\n      --access read|write|fetch\n"
				  "                              an access (required)\n"), "%s", h);
	free(h);
}

Test(args, svt_usage_message, .init = cr_redirect_stderr)
{
	cr_assert_eq(svt_usage(&two_cmd, "no %s given", "results database"), SVT_EXIT_USAGE);
	fflush(stderr);
	cr_assert_stderr_eq_str("shadowvt two: no results database given\n"
				"usage: shadowvt two RESULTS [REPORT]\n");
}

Test(args, undeclared_option_is_a_bug, .signal = SIGABRT, .init = cr_redirect_stderr)
{
	ok(PARSE(&test_cmd, "t.svt"));
	svt_args_has(&a, "no-such-option");
}
