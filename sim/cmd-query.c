/*
 * cmd-query.c — `shadowvt query`: the canned reports on a results database
 * (svt_db_report) and arbitrary read-only SQL, printed as an aligned table,
 * CSV (RFC 4180) or JSON.  db.c reads the rows; this file says which and
 * prints them.
 *
 * Text from the database is untrusted: the table escapes control
 * characters and bytes that are not UTF-8 (a results file must not be able
 * to drive the terminal), JSON escapes what JSON requires and replaces
 * invalid UTF-8 with U+FFFD, and CSV passes it through, quoted.
 */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "db.h"
#include "sim.h"

const char *const svt_db_reports[] = { "summary", "violations", "faults", "memory", "compare", NULL };

/*
 * The reports, on the views of schema/results.sql.  ?1 is the --run
 * argument, 0 for every run.  A run still 'running' whose process is gone
 * from this host is shown as 'incomplete?' (svt_pid_gone, db.c); in the
 * database it stays 'running'.
 */
static const char *const report_sql[] = {
	"SELECT run AS id, trace, workload, policy, audit,"
	" CASE WHEN status = 'running' AND svt_pid_gone(pid, host) THEN 'incomplete?'"
	" ELSE status END AS status, events, violations, divergence, seconds, events_per_s"
	" FROM run_summary WHERE ?1 <= 0 OR run = ?1 ORDER BY run",

	"SELECT run, seq, invariant, va, gfn, level, guest_entry AS guest, shadow_entry AS shadow,"
	" what, reproduce FROM violation_context WHERE ?1 <= 0 OR run = ?1 ORDER BY run, seq",

	"SELECT run, policy, events, exits, exits_pct, faults, fixed, ad_faults AS ad, injected,"
	" emulated, mmio, retries, cr_writes, invlpgs, flushes, faults_pct, fixed_pct, ad_pct,"
	" injected_pct, emulated_pct, mmio_pct, retries_pct"
	" FROM fault_mix WHERE ?1 <= 0 OR run = ?1 ORDER BY run",

	"SELECT run, first_seq, last_seq, events, shadow_pages, shadow_kib, peak_so_far, evictions,"
	" unshadows FROM shadow_memory WHERE ?1 <= 0 OR run = ?1 ORDER BY run, first_seq",

	"SELECT checksum, trace, run, policy, status, exits, emulated, peak_shadow_pages,"
	" evictions, resyncs, violations FROM policy_compare"
	" WHERE ?1 <= 0 OR checksum = (SELECT trace_checksum FROM runs WHERE id = ?1)"
	" ORDER BY checksum, exits, run",
};


/* Print s for the table (f != NULL) or count the columns it takes. */
static size_t tab_put(FILE *f, const char *s)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t w = 0, n;

	while (*p != '\0') {
		if (*p < 0x20 || *p == 0x7f || (n = svt_utf8_len(p)) == 0) {
			const char *esc = *p == '\n' ? "\\n" : *p == '\t' ? "\\t" : *p == '\r' ? "\\r" : NULL;
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
			const char *s = i == 0 ? r->names[c] : cell_text(&r->cells[(i - 1) * r->ncols + c]);
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
			const struct svt_db_cell *cell = i > 0 ? &r->cells[(i - 1) * r->ncols + c] : NULL;
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
			const char *esc = *p == '\n' ? "\\n" : *p == '\t' ? "\\t" : *p == '\r' ? "\\r"
				: *p == '\b' ? "\\b" : *p == '\f' ? "\\f" : NULL;
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

int svt_db_report(struct svt_db *db, const char *name, const char *sql, int64_t run,
		  enum svt_db_format fmt, FILE *f)
{
	struct svt_db_rows rows;
	char what[64];
	size_t i = 0;

	if (sql == NULL) {
		if (name == NULL)
			name = svt_db_reports[0];
		while (svt_db_reports[i] != NULL && strcmp(svt_db_reports[i], name) != 0)
			i++;
		if (svt_db_reports[i] == NULL)
			return svt_db_fail(db, "there is no report '%s'", name);
		snprintf(what, sizeof(what), "report %s", name);
		if (run > 0) {
			if (svt_db_select(db, what, "SELECT count(*) FROM runs WHERE id = ?1", false, run,
					  &rows) != 0) {
				svt_db_rows_free(&rows);
				return -1;
			}
			bool none = rows.nrows != 1 || rows.ncols != 1 || rows.cells[0].text == NULL ||
				strcmp(rows.cells[0].text, "0") == 0;
			svt_db_rows_free(&rows);
			if (none)
				return svt_db_fail(db, "there is no run %lld", (long long)run);
		}
	}
	if (svt_db_select(db, sql ? "--sql" : what, sql ? sql : report_sql[i], sql != NULL, run,
			  &rows) != 0) {
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
	svt_db_rows_free(&rows);
	return rc;
}

static int query_exec(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "sql", required_argument, NULL, 's' },
		{ "format", required_argument, NULL, 'f' },
		{ "run", required_argument, NULL, 'r' },
		{ NULL, 0, NULL, 0 },
	};
	static const char *const formats[] = { [SVT_DB_TABLE] = "table", [SVT_DB_CSV] = "csv",
					       [SVT_DB_JSON] = "json" };
	const char *sql = NULL, *report = NULL;
	enum svt_db_format fmt = SVT_DB_TABLE;
	uint64_t run = 0;
	int c, status, rc = SVT_EXIT_OK;

	optind = 1;
	opterr = 0;
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 's':
			sql = optarg;
			break;
		case 'f':
			for (fmt = 0; fmt <= SVT_DB_JSON && strcmp(optarg, formats[fmt]) != 0; fmt++)
				;
			if (fmt > SVT_DB_JSON)
				return svt_usage(&svt_cmd_query, "--format: '%s' is not table, csv or json",
						 optarg);
			break;
		case 'r':
			if (!svt_parse_u64(optarg, &run) || run == 0 || run > INT64_MAX)
				return svt_usage(&svt_cmd_query, "--run: '%s' is not a run id", optarg);
			break;
		default:
			return svt_usage(&svt_cmd_query, "unknown option or missing value '%s'",
					 argv[optind - 1]);
		}
	}
	if (optind >= argc)
		return svt_usage(&svt_cmd_query, "no results database given");
	if (argc - optind > 2)
		return svt_usage(&svt_cmd_query, "too many arguments");
	if (argc - optind == 2) {
		report = argv[optind + 1];
		if (sql != NULL)
			return svt_usage(&svt_cmd_query, "give a report or --sql, not both");
		size_t i = 0;
		while (svt_db_reports[i] != NULL && strcmp(svt_db_reports[i], report) != 0)
			i++;
		if (svt_db_reports[i] == NULL)
			return svt_usage(&svt_cmd_query, "unknown report '%s' (summary, violations,"
					 " faults, memory or compare)", report);
	}

	char err[600];
	struct svt_db *db = svt_db_open(argv[optind], false, &status, err, sizeof(err));
	if (db == NULL) {
		svt_err("%s", err);
		return SVT_EXIT_INPUT;
	}
	if (svt_db_report(db, report, sql, (int64_t)run, fmt, stdout) != 0) {
		svt_err("%s", svt_db_error(db));
		rc = SVT_EXIT_INPUT;
	}
	svt_db_close(db);
	if (fflush(stdout) != 0 || ferror(stdout)) {
		svt_err("standard output: %s", strerror(errno));
		rc = SVT_EXIT_INPUT;
	}
	return rc;
}

const struct svt_cmd svt_cmd_query = {
	.name = "query",
	.usage = "RESULTS [REPORT | --sql SQL] [--format table|csv|json] [--run ID]",
	.summary = "report on a results database, or query it with SQL",
	.exec = query_exec,
};
