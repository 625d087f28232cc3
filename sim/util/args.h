/*
 * args.h — declared options: every subcommand states its options in a
 * table (name, short letter, kind of value, help) and its positional
 * arguments in another, and this one parser reads the command line
 * against them (tmux's cmd_entry + arguments.c is the model).  The command's
 * exec starts from the parsed arguments; the usage line, --help and every
 * message about a malformed command line are generated here, so they read
 * the same for every command:
 *
 *     unknown option --foo
 *     option --policy needs a value SPEC
 *     option --json takes no value
 *     option --from given more than once
 *     --jobs: '0' is not a number in 1..256
 *     --format: 'xml' is not table, csv or json
 *     --mem IMAGE is required
 *     no trace file given
 *     unexpected argument 'x'
 *
 * Numbers are decimal ("010" is ten); an option of kind SVT_ARG_HEX (an
 * address, a register) also takes hexadecimal with 0x.
 */
#ifndef SVT_ARGS_H
#define SVT_ARGS_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

struct svt_cmd;

enum svt_arg_kind {
	SVT_ARG_NONE,           /* a flag: --json */
	SVT_ARG_STRING,         /* any text, empty too: --title TEXT */
	SVT_ARG_PATH,           /* a file name, not empty: --db RESULTS */
	SVT_ARG_NUM,            /* a decimal number in min..max: --jobs N */
	SVT_ARG_HEX,            /* the same, or 0x hexadecimal: --cr3 X */
	SVT_ARG_WORD,           /* one of words[]: --format table|csv|json */
};

/* svt_opt.flags */
#define SVT_OPT_REQUIRED 1u     /* must be given */
#define SVT_OPT_MANY     2u     /* may be given more than once */

struct svt_opt {
	const char *name;               /* long name, without "--"; NULL ends a table */
	char letter;                    /* short name, or 0 */
	enum svt_arg_kind kind;
	const char *meta;               /* the value in usage and messages ("SPEC") */
	uint64_t min, max;              /* SVT_ARG_NUM, SVT_ARG_HEX: inclusive */
	const char *const *words;       /* SVT_ARG_WORD: NULL-terminated */
	unsigned flags;
	const char *help;
};

/* A table row begins with one of these, then .help (and .flags):
 *     { SVT_OPT_NUM("jobs", 'j', "N", 1, 256), .help = "N at a time" },  */
#define SVT_OPT_FLAG(n, l)              .name = (n), .letter = (l), .kind = SVT_ARG_NONE
#define SVT_OPT_STRING(n, l, m)         .name = (n), .letter = (l), .kind = SVT_ARG_STRING, \
					.meta = (m)
#define SVT_OPT_PATH(n, l, m)           .name = (n), .letter = (l), .kind = SVT_ARG_PATH, \
					.meta = (m)
#define SVT_OPT_NUM(n, l, m, lo, hi)    .name = (n), .letter = (l), .kind = SVT_ARG_NUM, \
					.meta = (m), .min = (lo), .max = (hi)
#define SVT_OPT_HEX(n, l, m, lo, hi)    .name = (n), .letter = (l), .kind = SVT_ARG_HEX, \
					.meta = (m), .min = (lo), .max = (hi)
#define SVT_OPT_WORD(n, l, w)           .name = (n), .letter = (l), .kind = SVT_ARG_WORD, \
					.words = (w)

/* svt_posarg.flags */
#define SVT_POS_OPTIONAL 1u     /* may be left out */
#define SVT_POS_MANY     2u     /* the last one only: any number more */

struct svt_posarg {
	const char *name;       /* in usage: "TRACE"; NULL ends a table */
	const char *what;       /* in messages: "no trace file given" */
	unsigned flags;
};

/* One option as given on the command line. */
struct svt_argval {
	const struct svt_opt *opt;
	bool by_letter;         /* given as "-j", not "--jobs" */
	const char *str;        /* the value as given; NULL for a flag */
	uint64_t num;           /* SVT_ARG_NUM, SVT_ARG_HEX */
	int word;               /* SVT_ARG_WORD: the index in words[] */
};

struct svt_args {
	const struct svt_cmd *cmd;
	struct svt_argval *vals;        /* in the order given */
	unsigned nvals;
	int argc;                       /* the positional arguments, */
	char **argv;                    /* NULL-terminated */
	char err[320];                  /* why parsing failed */
};

/* svt_args_parse's results */
#define SVT_ARGS_OK    0
#define SVT_ARGS_HELP  1        /* --help was given */
#define SVT_ARGS_BAD  -1        /* a->err says why */

/* Parse argv[0..argc) (what follows the command's name) against cmd's
 * tables.  Whatever it returns, svt_args_free(a) afterwards. */
int svt_args_parse(const struct svt_cmd *cmd, int argc, char **argv, struct svt_args *a);
void svt_args_free(struct svt_args *a);

/* The option with this long name, as given (its last value when given
 * more than once).  Asking for an option the command does not declare is
 * a bug: the program stops. */
bool svt_args_has(const struct svt_args *a, const char *name);
const char *svt_args_str(const struct svt_args *a, const char *name, const char *dflt);
uint64_t svt_args_num(const struct svt_args *a, const char *name, uint64_t dflt);
int svt_args_word(const struct svt_args *a, const char *name, int dflt);
/* An SVT_OPT_MANY option: how often it was given, and the i-th time. */
unsigned svt_args_count(const struct svt_args *a, const char *name);
const struct svt_argval *svt_args_nth(const struct svt_args *a, const char *name, unsigned i);

/* The generated texts: "usage: shadowvt NAME ..." (wrapped), and for
 * --help that, the summary and one line per option. */
void svt_args_usage(const struct svt_cmd *cmd, FILE *f);
void svt_args_help(const struct svt_cmd *cmd, FILE *f);

/* A usage error found by the command itself: "shadowvt NAME: why" and the
 * usage on standard error; returns SVT_EXIT_USAGE. */
int svt_usage(const struct svt_cmd *cmd, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

#endif
