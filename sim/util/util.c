/*
 * util.c — small helpers every subcommand uses: error messages that name
 * the program (and the trace library's failures with their exit status),
 * strict number parsing, exit statuses, UTF-8.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

#include "sim.h"
#include "trace.h"

const char *svt_progname = "shadowvt";

void svt_err(const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "%s: ", svt_progname);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

int svt_err_trace(const struct svt_trace_error *e)
{
	svt_err("%s", e->msg);
	return e->status == SVT_TRACE_EARG ? SVT_EXIT_USAGE : SVT_EXIT_INPUT;
}

/* Decimal or 0x hexadecimal, never octal ("010" is ten); the whole
 * string, no sign, no space, no overflow. */
bool svt_parse_u64(const char *s, uint64_t *out)
{
	char *end;
	unsigned long long v;
	int base = 10;

	if (s == NULL || *s == '\0' || *s == '-' || *s == '+' || *s == ' ')
		return false;
	if (s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) {
		base = 16;
		if (s[2] == '\0' || s[2] == '-' || s[2] == '+' || s[2] == ' ')
			return false;
	}
	errno = 0;
	v = strtoull(s, &end, base);
	if (errno != 0 || *end != '\0')
		return false;
	*out = v;
	return true;
}

int svt_exit_rank(int status)
{
	switch (status) {
	case SVT_EXIT_OK: return 0;
	case SVT_EXIT_NEGATIVE: return 1;
	case SVT_EXIT_INTERRUPTED: return 2;
	default: return 3;
	}
}

size_t svt_utf8_len(const unsigned char *s)
{
	size_t n = s[0] < 0x80 ? 1 : s[0] >= 0xc2 && s[0] <= 0xdf ? 2
		: s[0] >= 0xe0 && s[0] <= 0xef ? 3 : s[0] >= 0xf0 && s[0] <= 0xf4 ? 4 : 0;

	for (size_t i = 1; i < n; i++)
		if ((s[i] & 0xc0) != 0x80)
			return 0;
	/* overlong forms, surrogates, beyond U+10FFFF */
	if ((s[0] == 0xe0 && s[1] < 0xa0) || (s[0] == 0xed && s[1] >= 0xa0) ||
	    (s[0] == 0xf0 && s[1] < 0x90) || (s[0] == 0xf4 && s[1] >= 0x90))
		return 0;
	return n;
}
