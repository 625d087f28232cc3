/*
 * args.c — the one command-line parser (args.h): reads a subcommand's
 * arguments against its declared options and positional arguments, checks
 * every value by its kind, and writes the usage line, --help and the
 * messages about bad command lines, the same for every command.
 *
 * The syntax is getopt_long's, without abbreviations: options and
 * positional arguments may be mixed; "--name value" or "--name=value";
 * "-x value", "-xvalue", and flags bundled ("-qj 2"); a value is the next
 * argument whatever it looks like ("--guest-args -v"); "--" ends the
 * options; "-" alone is a positional argument.
 */
#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "args.h"
#include "sim.h"

#define USAGE_WIDTH 79
#define USAGE_INDENT "       "        /* under "usage: " */

static int bad(struct svt_args *a, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static int bad(struct svt_args *a, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(a->err, sizeof(a->err), fmt, ap);
	va_end(ap);
	return SVT_ARGS_BAD;
}

static const struct svt_opt *find_long(const struct svt_cmd *cmd, const char *name, size_t n)
{
	for (const struct svt_opt *o = cmd->opts; o && o->name; o++)
		if (strlen(o->name) == n && memcmp(o->name, name, n) == 0)
			return o;
	return NULL;
}

static const struct svt_opt *find_letter(const struct svt_cmd *cmd, char c)
{
	for (const struct svt_opt *o = cmd->opts; o && o->name; o++)
		if (o->letter == c)
			return o;
	return NULL;
}

/* An option as the user wrote it ("-j" or "--jobs"), and as usage and
 * messages name it (its letter if it has one, as the manual does). */
static const char *typed(const struct svt_opt *o, bool by_letter, char buf[80])
{
	if (by_letter)
		snprintf(buf, 80, "-%c", o->letter);
	else
		snprintf(buf, 80, "--%s", o->name);
	return buf;
}

static const char *canon(const struct svt_opt *o, char buf[80])
{
	return typed(o, o->letter != 0, buf);
}

/* The value's name: meta, or the words as a|b|c. */
static const char *meta(const struct svt_opt *o, char *buf, size_t len)
{
	size_t n = 0;

	if (o->meta || o->kind != SVT_ARG_WORD)
		return o->meta ? o->meta : "VALUE";
	buf[0] = '\0';
	for (unsigned i = 0; o->words[i] && n < len; i++)
		n += (size_t)snprintf(buf + n, len - n, "%s%s", i ? "|" : "", o->words[i]);
	return buf;
}

/* The words as "a, b or c". */
static const char *word_list(const struct svt_opt *o, char *buf, size_t len)
{
	size_t n = 0, count = 0;

	while (o->words[count])
		count++;
	buf[0] = '\0';
	for (size_t i = 0; i < count && n < len; i++)
		n += (size_t)snprintf(buf + n, len - n, "%s%s",
				      i == 0 ? "" : i + 1 == count ? " or " : ", ", o->words[i]);
	return buf;
}

/* A number option's range: "in LO..HI", "of at least LO", or "" for any number. */
static const char *range(const struct svt_opt *o, char *buf, size_t len)
{
	const char *fmt = o->kind == SVT_ARG_HEX ? "in 0x%llx..0x%llx" : "in %llu..%llu";

	if (o->min == 0 && o->max == UINT64_MAX)
		buf[0] = '\0';
	else if (o->max == UINT64_MAX)
		snprintf(buf, len,
			 o->kind == SVT_ARG_HEX ? "of at least 0x%llx" : "of at least %llu",
			 (unsigned long long)o->min);
	else
		snprintf(buf, len, fmt, (unsigned long long)o->min, (unsigned long long)o->max);
	return buf;
}

/* Decimal, or with hex 0x hexadecimal too: all of s, no sign, no overflow. */
static bool parse_num(const char *s, bool hex, uint64_t *out)
{
	unsigned base = 10;
	uint64_t v = 0;

	if (hex && s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) {
		base = 16;
		s += 2;
	}
	if (*s == '\0')
		return false;
	for (; *s; s++) {
		unsigned d;

		if (*s >= '0' && *s <= '9')
			d = (unsigned)(*s - '0');
		else if (base == 16 && *s >= 'a' && *s <= 'f')
			d = (unsigned)(*s - 'a' + 10);
		else if (base == 16 && *s >= 'A' && *s <= 'F')
			d = (unsigned)(*s - 'A' + 10);
		else
			return false;
		if (v > (UINT64_MAX - d) / base)
			return false;
		v = v * base + d;
	}
	*out = v;
	return true;
}

/* Record option o, given as `by_letter`, with value s (NULL for a flag). */
static int take(struct svt_args *a, const struct svt_opt *o, bool by_letter, const char *s)
{
	struct svt_argval *v = &a->vals[a->nvals];
	char name[80], buf[256], rb[96];

	typed(o, by_letter, name);
	if (!(o->flags & SVT_OPT_MANY))
		for (unsigned i = 0; i < a->nvals; i++)
			if (a->vals[i].opt == o)
				return bad(a, "option %s given more than once", name);
	*v = (struct svt_argval){ .opt = o, .by_letter = by_letter, .str = s };
	switch (o->kind) {
	case SVT_ARG_NONE:
	case SVT_ARG_STRING:
		break;
	case SVT_ARG_PATH:
		if (*s == '\0')
			return bad(a, "%s: the file name is empty", name);
		break;
	case SVT_ARG_NUM:
	case SVT_ARG_HEX:
		if (!parse_num(s, o->kind == SVT_ARG_HEX, &v->num) || v->num < o->min ||
		    v->num > o->max)
			return bad(a, "%s: '%s' is not a number%s%s", name, s,
				   *range(o, rb, sizeof(rb)) ? " " : "", rb);
		break;
	case SVT_ARG_WORD:
		while (o->words[v->word] && strcmp(o->words[v->word], s) != 0)
			v->word++;
		if (!o->words[v->word])
			return bad(a, "%s: '%s' is not %s", name, s,
				   word_list(o, buf, sizeof(buf)));
		break;
	}
	a->nvals++;
	return SVT_ARGS_OK;
}

int svt_args_parse(const struct svt_cmd *cmd, int argc, char **argv, struct svt_args *a)
{
	bool options = true;
	char name[80], mb[256];
	int i, rc;

	*a = (struct svt_args){ .cmd = cmd };
	for (i = 0; i < argc && strcmp(argv[i], "--") != 0; i++)
		if (strcmp(argv[i], "--help") == 0)
			return SVT_ARGS_HELP;
	a->vals = calloc((size_t)argc + 1, sizeof(*a->vals));
	a->argv = calloc((size_t)argc + 1, sizeof(*a->argv));
	if (!a->vals || !a->argv)
		return bad(a, "out of memory");

	for (i = 0; i < argc; i++) {
		char *s = argv[i];
		const struct svt_opt *o;

		if (!options || s[0] != '-' || s[1] == '\0') {
			a->argv[a->argc++] = s;
			continue;
		}
		if (strcmp(s, "--") == 0) {
			options = false;
			continue;
		}
		if (s[1] == '-') {
			const char *eq = strchr(s + 2, '=');
			size_t n = eq ? (size_t)(eq - (s + 2)) : strlen(s + 2);

			if (!(o = find_long(cmd, s + 2, n)))
				return bad(a, "unknown option %.*s", (int)n + 2, s);
			if (o->kind == SVT_ARG_NONE && eq)
				return bad(a, "option --%s takes no value", o->name);
			const char *val = o->kind == SVT_ARG_NONE ? NULL : eq ? eq + 1 :
				i + 1 < argc ? argv[++i] : NULL;
			if (o->kind != SVT_ARG_NONE && !val)
				return bad(a, "option --%s needs a value %s", o->name,
					   meta(o, mb, sizeof(mb)));
			if ((rc = take(a, o, false, val)) != SVT_ARGS_OK)
				return rc;
			continue;
		}
		for (const char *p = s + 1; *p; p++) {
			if (!(o = find_letter(cmd, *p)))
				return bad(a, "unknown option -%c", *p);
			if (o->kind == SVT_ARG_NONE) {
				if ((rc = take(a, o, true, NULL)) != SVT_ARGS_OK)
					return rc;
				continue;
			}
			const char *val = p[1] ? p + 1 : i + 1 < argc ? argv[++i] : NULL;
			if (!val)
				return bad(a, "option -%c needs a value %s", *p,
					   meta(o, mb, sizeof(mb)));
			if ((rc = take(a, o, true, val)) != SVT_ARGS_OK)
				return rc;
			break;
		}
	}

	/* the positional arguments: enough, and not too many */
	int need = 0, most = 0;
	bool many = false;
	for (const struct svt_posarg *p = cmd->args; p && p->name; p++) {
		need += !(p->flags & SVT_POS_OPTIONAL);
		most++;
		many |= (p->flags & SVT_POS_MANY) != 0;
	}
	if (a->argc < need)
		return bad(a, "no %s given", cmd->args[a->argc].what);
	if (!many && a->argc > most)
		return bad(a, "unexpected argument '%s'", a->argv[most]);

	for (const struct svt_opt *o = cmd->opts; o && o->name; o++) {
		if (!(o->flags & SVT_OPT_REQUIRED) || svt_args_has(a, o->name))
			continue;
		if (o->kind == SVT_ARG_NONE)
			return bad(a, "%s is required", canon(o, name));
		return bad(a, "%s %s is required", canon(o, name), meta(o, mb, sizeof(mb)));
	}
	return SVT_ARGS_OK;
}

void svt_args_free(struct svt_args *a)
{
	free(a->vals);
	free(a->argv);
	a->vals = NULL;
	a->argv = NULL;
	a->nvals = 0;
	a->argc = 0;
}

/* ---- reading the parsed arguments ------------------------------------------- */

static const struct svt_opt *declared(const struct svt_args *a, const char *name)
{
	const struct svt_opt *o = find_long(a->cmd, name, strlen(name));

	if (!o) {
		fprintf(stderr, "%s %s: internal error: option --%s is not declared\n",
			svt_progname, a->cmd->name, name);
		abort();
	}
	return o;
}

const struct svt_argval *svt_args_nth(const struct svt_args *a, const char *name, unsigned i)
{
	const struct svt_opt *o = declared(a, name);

	for (unsigned k = 0; k < a->nvals; k++)
		if (a->vals[k].opt == o && i-- == 0)
			return &a->vals[k];
	return NULL;
}

unsigned svt_args_count(const struct svt_args *a, const char *name)
{
	const struct svt_opt *o = declared(a, name);
	unsigned n = 0;

	for (unsigned k = 0; k < a->nvals; k++)
		n += a->vals[k].opt == o;
	return n;
}

static const struct svt_argval *last(const struct svt_args *a, const char *name)
{
	const struct svt_opt *o = declared(a, name);

	for (unsigned k = a->nvals; k-- > 0;)
		if (a->vals[k].opt == o)
			return &a->vals[k];
	return NULL;
}

bool svt_args_has(const struct svt_args *a, const char *name)
{
	return last(a, name) != NULL;
}

const char *svt_args_str(const struct svt_args *a, const char *name, const char *dflt)
{
	const struct svt_argval *v = last(a, name);

	return v ? v->str : dflt;
}

uint64_t svt_args_num(const struct svt_args *a, const char *name, uint64_t dflt)
{
	const struct svt_argval *v = last(a, name);

	return v ? v->num : dflt;
}

int svt_args_word(const struct svt_args *a, const char *name, int dflt)
{
	const struct svt_argval *v = last(a, name);

	return v ? v->word : dflt;
}

/* ---- usage and help -------------------------------------------------------------- */

/* Add one word to a usage line, wrapping it at USAGE_WIDTH. */
static void put_word(FILE *f, size_t *col, const char *w)
{
	size_t n = strlen(w);

	if (*col + 1 + n > USAGE_WIDTH) {
		fprintf(f, "\n%s%s", USAGE_INDENT, w);
		*col = strlen(USAGE_INDENT) + n;
	} else {
		fprintf(f, " %s", w);
		*col += 1 + n;
	}
}

void svt_args_usage(const struct svt_cmd *cmd, FILE *f)
{
	char w[400], name[80], mb[256];
	size_t col;

	col = (size_t)fprintf(f, "usage: %s %s", svt_progname, cmd->name);
	for (const struct svt_opt *o = cmd->opts; o && o->name; o++) {
		bool req = o->flags & SVT_OPT_REQUIRED;

		canon(o, name);
		if (o->kind == SVT_ARG_NONE)
			snprintf(w, sizeof(w), "%s%s%s", req ? "" : "[", name, req ? "" : "]");
		else
			snprintf(w, sizeof(w), "%s%s %s%s%s", req ? "" : "[", name,
				 meta(o, mb, sizeof(mb)), req ? "" : "]",
				 o->flags & SVT_OPT_MANY ? "..." : "");
		put_word(f, &col, w);
	}
	for (const struct svt_posarg *p = cmd->args; p && p->name; p++) {
		bool opt = p->flags & SVT_POS_OPTIONAL;

		snprintf(w, sizeof(w), "%s%s%s%s", opt ? "[" : "", p->name,
			 p->flags & SVT_POS_MANY ? "..." : "", opt ? "]" : "");
		put_word(f, &col, w);
	}
	fputc('\n', f);
}

void svt_args_help(const struct svt_cmd *cmd, FILE *f)
{
	char left[400], mb[256], rb[96];

	svt_args_usage(cmd, f);
	fprintf(f, "\n%c%s.\n", toupper((unsigned char)cmd->summary[0]), cmd->summary + 1);
	if (cmd->opts && cmd->opts->name)
		fputs("\noptions:\n", f);
	for (const struct svt_opt *o = cmd->opts; o && o->name; o++) {
		int n = o->letter ? snprintf(left, sizeof(left), "  -%c, --%s", o->letter, o->name)
			: snprintf(left, sizeof(left), "      --%s", o->name);
		if (o->kind != SVT_ARG_NONE)
			snprintf(left + n, sizeof(left) - (size_t)n, " %s",
				 meta(o, mb, sizeof(mb)));
		if (strlen(left) > 28)
			fprintf(f, "%s\n%30s", left, "");
		else
			fprintf(f, "%-30s", left);
		fprintf(f, "%s", o->help ? o->help : "");
		if ((o->kind == SVT_ARG_NUM || o->kind == SVT_ARG_HEX) && *range(o, rb, sizeof(rb)))
			fprintf(f, "; %s %s", meta(o, mb, sizeof(mb)), rb);
		fputs(o->flags & SVT_OPT_REQUIRED ? " (required)\n" :
		      o->flags & SVT_OPT_MANY ? " (may be repeated)\n" : "\n", f);
	}
	fprintf(f, "\n'%s %s --help' shows this; %s(1) has the rest.\n", svt_progname, cmd->name,
		svt_progname);
}

int svt_usage(const struct svt_cmd *cmd, const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "%s %s: ", svt_progname, cmd->name);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	svt_args_usage(cmd, stderr);
	return SVT_EXIT_USAGE;
}
