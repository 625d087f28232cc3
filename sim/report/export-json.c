/*
 * export-json.c — JSON strings from untrusted bytes, for the exporters
 * (export.h).  Trace headers and MARK texts come from outside: they may
 * hold quotes, control characters and bytes that are not UTF-8, and the
 * output must still be valid JSON that a viewer shows readably.
 */
#include <stdint.h>
#include <stdio.h>

#include "export.h"

/*
 * Bytes in the valid UTF-8 sequence that starts at s[0] (at most n bytes
 * available), or 0 if none starts there.  RFC 3629, table 3-7 of Unicode:
 * the second byte's range depends on the first, which rules out overlong
 * forms, surrogates (ED A0..BF) and code points above U+10FFFF.
 */
static size_t utf8_len(const unsigned char *s, size_t n)
{
	unsigned char c = s[0], lo = 0x80, hi = 0xbf;
	size_t len;

	if (c < 0x80)
		return 1;
	if (c >= 0xc2 && c <= 0xdf)
		len = 2;
	else if (c >= 0xe0 && c <= 0xef)
		len = 3;
	else if (c >= 0xf0 && c <= 0xf4)
		len = 4;
	else
		return 0;               /* a continuation byte, C0, C1, F5..FF */
	if (c == 0xe0)
		lo = 0xa0;
	else if (c == 0xed)
		hi = 0x9f;
	else if (c == 0xf0)
		lo = 0x90;
	else if (c == 0xf4)
		hi = 0x8f;
	if (len > n || s[1] < lo || s[1] > hi)
		return 0;
	for (size_t i = 2; i < len; i++)
		if (s[i] < 0x80 || s[i] > 0xbf)
			return 0;
	return len;
}

void svt_json_str(FILE *f, const char *str, size_t n)
{
	const unsigned char *s = (const unsigned char *)str;
	size_t i = 0;

	putc('"', f);
	while (i < n) {
		unsigned char c = s[i];
		size_t len;

		if (c == '"' || c == '\\') {
			putc('\\', f);
			putc(c, f);
			i++;
		} else if (c < 0x20 || c == 0x7f) {
			fprintf(f, "\\u%04x", c);
			i++;
		} else if (c < 0x80) {
			putc(c, f);
			i++;
		} else if ((len = utf8_len(s + i, n - i)) == 0) {
			fputs("\\ufffd", f);
			i++;
		} else if (len == 3 && c == 0xe2 && s[i + 1] == 0x80 &&
			   (s[i + 2] == 0xa8 || s[i + 2] == 0xa9)) {
			fprintf(f, "\\u%04x", 0x2000u | (s[i + 2] - 0x80u));
			i += 3;
		} else {
			fwrite(s + i, 1, len, f);
			i += len;
		}
	}
	putc('"', f);
}
