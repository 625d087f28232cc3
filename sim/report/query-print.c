/*
 * query-print.c — the result sets of a results database printed as
 * `shadowvt query` shows them (query-print.h): an aligned table (with a
 * sparkline per run under the memory report), CSV (RFC 4180) or JSON.  The
 * database layer reads the rows (db-read.c holds the canned reports).
 *
 * Text from the database is untrusted: the table escapes control
 * characters and bytes that are not UTF-8 (a results file must not be able
 * to drive the terminal), JSON escapes what JSON requires and replaces
 * invalid UTF-8 with U+FFFD, and CSV passes it through, quoted.
 */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "query-print.h"
#include "sim.h"

/* Print s for the table (f != NULL) or count the columns it takes. */
static size_t tab_put(FILE *f, const char *s)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t w = 0, n;

	while (*p != '\0') {
		if (*p < 0x20 || *p == 0x7f || (n = svt_utf8_len(p)) == 0) {
			const char *esc = *p == '\n' ? "\\n" : *p == '\t' ? "\\t" : *p == '\r' ?
				"\\r" : NULL;
			if (f != NULL) {
				if (esc != NULL)
					fputs(esc, f);
				else
					fprintf(f, "\\x%02x", *p);
			}
			w += esc != NULL ? 2 : 4;
			p++;
			continue;
		}
		if (f != NULL)
			fwrite(p, 1, n, f);
		w++;
		p += n;
	}
	return w;
}

static const char *cell_text(const struct svt_db_cell *c)
{
	return c->type == SVT_DB_NULL ? "-" : c->text;
}

static void pad(FILE *f, size_t n)
{
	while (n-- > 0)
		fputc(' ', f);
}

static int print_table(const struct svt_db_rows *r, FILE *f)
{
	size_t *width = calloc(r->ncols + 1, sizeof(*width));
	bool *num = calloc(r->ncols + 1, sizeof(*num));

	if (width == NULL || num == NULL) {
		free(width);
		free(num);
		return -1;
	}
	/* A column is numeric (right-aligned, header too) if every value in it is. */
	for (unsigned c = 0; c < r->ncols; c++) {
		width[c] = tab_put(NULL, r->names[c]);
		num[c] = r->nrows > 0;
		for (size_t i = 0; i < r->nrows; i++) {
			const struct svt_db_cell *cell = &r->cells[i * r->ncols + c];
			size_t w = tab_put(NULL, cell_text(cell));
			if (w > width[c])
				width[c] = w;
			if (cell->type == SVT_DB_TEXT)
				num[c] = false;
		}
	}
	for (size_t i = 0; i <= r->nrows; i++) {
		for (unsigned c = 0; c < r->ncols; c++) {
			const char *s = i == 0 ? r->names[c] :
				cell_text(&r->cells[(i - 1) * r->ncols + c]);
			size_t w = tab_put(NULL, s);

			if (c > 0)
				fputs("  ", f);
			if (num[c])
				pad(f, width[c] - w);
			tab_put(f, s);
			if (!num[c] && c + 1 < r->ncols)
				pad(f, width[c] - w);
		}
		fputc('\n', f);
	}
	free(width);
	free(num);
	return 0;
}

static void csv_put(FILE *f, const char *s)
{
	if (strpbrk(s, ",\"\r\n") == NULL) {
		fputs(s, f);
		return;
	}
	fputc('"', f);
	for (; *s != '\0'; s++) {
		if (*s == '"')
			fputc('"', f);
		fputc(*s, f);
	}
	fputc('"', f);
}

/* RFC 4180: CRLF line ends, a header line, NULL as an empty field. */
static void print_csv(const struct svt_db_rows *r, FILE *f)
{
	for (size_t i = 0; i <= r->nrows; i++) {
		for (unsigned c = 0; c < r->ncols; c++) {
			const struct svt_db_cell *cell = i > 0 ?
				&r->cells[(i - 1) * r->ncols + c] : NULL;
			if (c > 0)
				fputc(',', f);
			csv_put(f, cell == NULL ? r->names[c] : cell->text ? cell->text : "");
		}
		fputs("\r\n", f);
	}
}

static void json_str(FILE *f, const char *s)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t n;

	fputc('"', f);
	while (*p != '\0') {
		if (*p == '"' || *p == '\\') {
			fputc('\\', f);
			fputc(*p++, f);
		} else if (*p < 0x20) {
			const char *esc = *p == '\n' ? "\\n" : *p == '\t' ? "\\t" :
				*p == '\r' ? "\\r" : *p == '\b' ? "\\b" : *p == '\f' ? "\\f" : NULL;
			if (esc != NULL)
				fputs(esc, f);
			else
				fprintf(f, "\\u%04x", *p);
			p++;
		} else if ((n = svt_utf8_len(p)) == 0) {
			fputs("\\ufffd", f);
			p++;
		} else {
			fwrite(p, 1, n, f);
			p += n;
		}
	}
	fputc('"', f);
}

/* An array of objects, one per line; numbers as numbers (a real that is
 * not finite as null), NULL as null. */
static void print_json(const struct svt_db_rows *r, FILE *f)
{
	fputc('[', f);
	for (size_t i = 0; i < r->nrows; i++) {
		fputs(i == 0 ? "\n{" : ",\n{", f);
		for (unsigned c = 0; c < r->ncols; c++) {
			const struct svt_db_cell *cell = &r->cells[i * r->ncols + c];
			if (c > 0)
				fputs(", ", f);
			json_str(f, r->names[c]);
			fputs(": ", f);
			if (cell->type == SVT_DB_NULL ||
			    (cell->type == SVT_DB_REAL && strpbrk(cell->text, "IiNn") != NULL))
				fputs("null", f);
			else if (cell->type == SVT_DB_TEXT)
				json_str(f, cell->text);
			else
				fputs(cell->text, f);
		}
		fputc('}', f);
	}
	fputs(r->nrows > 0 ? "\n]\n" : "]\n", f);
}

/* Shadow pages (column 4 of the memory report) in row i; a hostile file's
 * junk reads as 0. */
static long long pages(const struct svt_db_rows *r, size_t i)
{
	long long v = atoll(cell_text(&r->cells[i * r->ncols + 4]));

	return v > 0 ? v : 0;
}

/* Below the memory table: each run's shadow pages as a sparkline, each
 * character the largest value of its share of the intervals. */
static void print_trend(const struct svt_db_rows *r, FILE *f)
{
	static const char *const bar[] = { "▁", "▂", "▃", "▄", "▅", "▆", "▇", "█" };
	const size_t width = 60;
	size_t first = 0;

	while (r->ncols >= 5 && first < r->nrows) {
		const char *run = cell_text(&r->cells[first * r->ncols]);
		size_t end = first, n, cols;
		long long peak = 0;

		while (end < r->nrows && strcmp(cell_text(&r->cells[end * r->ncols]), run) == 0) {
			if (pages(r, end) > peak)
				peak = pages(r, end);
			end++;
		}
		fprintf(f, "%srun %s shadow pages: ", first == 0 ? "\n" : "", run);
		n = end - first;
		cols = n < width ? n : width;
		for (size_t c = 0; c < cols; c++) {
			long long m = 0;
			for (size_t i = first + c * n / cols; i < first + (c + 1) * n / cols; i++)
				m = pages(r, i) > m ? pages(r, i) : m;
			fputs(bar[peak > 0 ? (int)((double)m * 7 / (double)peak) : 0], f);
		}
		fprintf(f, " (peak %lld)\n", peak);
		first = end;
	}
}

/* Below the compare table: what its basis column means, and a warning
 * where a row is a what-if that is not exact (docs/replay.md, What-ifs).
 * The basis is column 11 of the compare report. */
static void print_basis(const struct svt_db_rows *r, FILE *f)
{
	size_t approx = 0, exact = 0, recordings = 0;

	for (size_t i = 0; r->ncols > 11 && i < r->nrows; i++) {
		const char *b = cell_text(&r->cells[i * r->ncols + 11]);
		approx += strcmp(b, "approximate") == 0;
		exact += strcmp(b, "exact") == 0;
		recordings += strcmp(b, "recording") == 0;
	}
	if (recordings)
		fprintf(f, "\n%zu %s recordings of one guest under different policies: measured.\n",
			recordings, recordings == 1 ? "row is one of the" : "rows are");
	if (exact)
		fprintf(f, "%s%zu %s: recording under that policy gives the same counters.\n",
			recordings ? "" : "\n", exact, exact == 1 ? "row is an exact what-if" :
			"rows are exact what-ifs");
	if (approx)
		fprintf(f,
			"%sWARNING: %zu %s, NOT %s: a trace holds only the exits its own "
			"policy took, so a replay under another policy cannot make the exits that "
			"policy would add; no error bound is proven (shadowvt(1), replay).\n",
			recordings || exact ? "" : "\n", approx,
			approx == 1 ? "row is an APPROXIMATE what-if" :
			"rows are APPROXIMATE what-ifs",
			approx == 1 ? "A MEASUREMENT" : "MEASUREMENTS");
}

int svt_db_report(struct svt_db *db, const char *name, const char *sql, int64_t run,
		  enum svt_db_format fmt, FILE *f)
{
	struct svt_db_rows rows;

	if (sql == NULL && name == NULL)
		name = svt_db_reports[0];
	if ((sql != NULL ? svt_db_select(db, "--sql", sql, run, &rows)
	     : svt_db_report_rows(db, name, run, &rows)) != 0) {
		svt_db_rows_free(&rows);
		return -1;
	}
	int rc = 0;
	if (fmt == SVT_DB_CSV)
		print_csv(&rows, f);
	else if (fmt == SVT_DB_JSON)
		print_json(&rows, f);
	else if ((rc = print_table(&rows, f)) != 0)
		svt_db_fail(db, "out of memory");
	else if (sql == NULL && strcmp(name, "memory") == 0)
		print_trend(&rows, f);
	else if (sql == NULL && strcmp(name, "compare") == 0)
		print_basis(&rows, f);
	svt_db_rows_free(&rows);
	return rc;
}
