/*
 * run-junit.c — shadowvt run --junit: the results as a JUnit XML report,
 * so CI systems show them as tests.  One <testsuite> per trace; in it one
 * <testcase classname="TRACE" name="POLICY: INV-XXX"> per policy and
 * invariant: INV-REPLAY for runs under the policy the trace was recorded
 * with, and INV-PROGRESS, INV-CR, INV-CPU, INV-FAULT, INV-PERM, INV-FRAME, INV-WP,
 * INV-SYNC, INV-STRUCT for every run.  An invariant the audit level does
 * not check is <skipped>; a violated one has a <failure> listing its first violations
 * (svt_db_first_violations); a run on a bad trace, an interrupted one or
 * one that never ran has an <error>.  Each run's seconds are shared out
 * evenly among its test cases.  Written to a temporary file beside the
 * report and renamed over it.
 */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "run.h"

static const char *const invariants[] = {
	"INV-REPLAY", "INV-PROGRESS", "INV-CR", "INV-CPU", "INV-FAULT", "INV-PERM", "INV-FRAME",
	"INV-WP", "INV-SYNC", "INV-STRUCT",
};
#define NINV (sizeof(invariants) / sizeof(invariants[0]))

bool run_checks(enum svt_audit_level a, const char *inv, bool recorded_policy)
{
	if (strcmp(inv, "INV-REPLAY") == 0)
		return recorded_policy;
	if (strcmp(inv, "INV-PROGRESS") == 0)
		return true;
	if (strcmp(inv, "INV-CR") == 0 || strcmp(inv, "INV-CPU") == 0 ||
	    strcmp(inv, "INV-FAULT") == 0 ||
	    strcmp(inv, "INV-PERM") == 0 || strcmp(inv, "INV-FRAME") == 0)
		return a >= SVT_AUDIT_FAULTS;
	return a >= SVT_AUDIT_PERIODIC;
}

/* Length of the valid UTF-8 sequence at s, 0 if it is not one. */
static size_t utf8_len(const unsigned char *s)
{
	size_t n = s[0] < 0x80 ? 1 : (s[0] & 0xe0) == 0xc0 ? 2 : (s[0] & 0xf0) == 0xe0 ? 3 :
		   (s[0] & 0xf8) == 0xf0 ? 4 : 0;

	if (n == 2 && s[0] < 0xc2)
		return 0;
	for (size_t i = 1; i < n; i++)
		if ((s[i] & 0xc0) != 0x80)
			return 0;
	return n;
}

/* s as XML character data (attr: as an attribute value too); what XML
 * cannot hold (control characters, invalid UTF-8) becomes '?'. */
static void esc(FILE *f, const char *s, bool attr)
{
	const unsigned char *p = (const unsigned char *)(s ? s : "");

	while (*p) {
		size_t n = utf8_len(p);
		if (n == 0 || (*p < 0x20 && *p != '\n' && *p != '\t')) {
			fputc('?', f);
			p += n ? n : 1;
			continue;
		}
		if (n > 1) {
			fwrite(p, 1, n, f);
			p += n;
			continue;
		}
		switch (*p) {
		case '&': fputs("&amp;", f); break;
		case '<': fputs("&lt;", f); break;
		case '>': fputs("&gt;", f); break;
		case '"': fputs(attr ? "&quot;" : "\"", f); break;
		case '\n': fputs(attr ? "&#10;" : "\n", f); break;
		case '\t': fputs(attr ? "&#9;" : "\t", f); break;
		default: fputc(*p, f);
		}
		p++;
	}
}

/* Violations listed per invariant in a failure (svt_db_first_violations). */
#define FIRST_VIOLATIONS 5

static const char *cell(const struct svt_db_rows *r, size_t row, unsigned col)
{
	const char *t = r->cells[row * r->ncols + col].text;
	return t ? t : "";
}

static unsigned testcases(const struct run_job *j)
{
	return NINV - (j->row.recorded_policy ? 0 : 1);
}

struct counts {
	unsigned tests, failures, errors, skipped;
	double time;
};

static void job_cases(FILE *f, const struct run_job *j, enum svt_audit_level audit,
		      const struct svt_db_rows *v, struct counts *c)
{
	const struct run_row *r = &j->row;
	unsigned n = testcases(j);
	double t = r->seconds > 0 ? r->seconds / n : 0;
	bool error = r->status != SVT_RUN_CLEAN && r->status != SVT_RUN_VIOLATIONS;
	const char *status = svt_db_run_status_name(r->status);
	uint64_t stored = 0;

	/* violations stored for the run: the n of each invariant's first row */
	for (size_t k = 0; v && k < v->nrows; k++)
		if (k == 0 || strcmp(cell(v, k, SVT_DB_FIRST_INVARIANT),
				     cell(v, k - 1, SVT_DB_FIRST_INVARIANT)) != 0)
			stored += strtoull(cell(v, k, SVT_DB_FIRST_STORED), NULL, 10);

	for (size_t i = 0; i < NINV; i++) {
		const char *inv = invariants[i];
		if (i == 0 && !r->recorded_policy)
			continue;
		c->tests++;
		c->time += t;
		fputs("    <testcase classname=\"", f);
		esc(f, j->t->in->name, true);
		fputs("\" name=\"", f);
		esc(f, j->p->name, true);
		fprintf(f, ": %s\" time=\"%.6f\"", inv, t);
		if (error) {
			c->errors++;
			fprintf(f, ">\n      <error type=\"%s\" message=\"", status);
			esc(f, status, true);
			fputs(": ", f);
			esc(f, r->message[0] ? r->message : "no message", true);
			fputs("\"/>\n    </testcase>\n", f);
			continue;
		}
		if (!run_checks(audit, inv, r->recorded_policy)) {
			c->skipped++;
			fprintf(f, ">\n      <skipped message=\"not checked at audit level %s\"/>\n"
				"    </testcase>\n", svt_audit_name(audit));
			continue;
		}
		size_t first = SIZE_MAX, count = 0;
		for (size_t k = 0; v && k < v->nrows; k++)
			if (strcmp(cell(v, k, SVT_DB_FIRST_INVARIANT), inv) == 0) {
				if (first == SIZE_MAX)
					first = k;
				count++;
			}
		if (first == SIZE_MAX && stored >= r->violations) {
			fputs("/>\n", f);
			continue;
		}
		if (first == SIZE_MAX) {
			c->errors++;
			fprintf(f,
				">\n      <error type=\"unknown\" message=\"the database "
				"holds %" PRIu64 " of this run's %" PRIu64 " violations, none of "
				"%s; whether the rest include any is not known\"/>\n    "
				"</testcase>\n", stored, r->violations, inv);
			continue;
		}
		c->failures++;
		fprintf(f,
			">\n      <failure type=\"%s\" message=\"%s violation(s) of %s "
			"stored; first at event %s\">", inv,
			cell(v, first, SVT_DB_FIRST_STORED), inv, cell(v, first, SVT_DB_FIRST_SEQ));
		for (size_t k = first; k < first + count; k++) {
			fprintf(f, "\nevent %s: va %s: ", cell(v, k, SVT_DB_FIRST_SEQ),
				cell(v, k, SVT_DB_FIRST_VA));
			esc(f, cell(v, k, SVT_DB_FIRST_WHAT), false);
			fprintf(f, " (reproduce with events %s)",
				cell(v, k, SVT_DB_FIRST_REPRODUCE));
		}
		fputs("\n      </failure>\n    </testcase>\n", f);
	}
}

int run_junit(const char *path, const struct svt_experiment *e, struct run_job *jobs, size_t njobs,
	      struct svt_db *db, char *err, size_t errlen)
{
	char tmp[4200];
	struct counts all = { 0 };
	FILE *f;

	snprintf(tmp, sizeof(tmp), "%s.tmp%ld", path, (long)getpid());
	if (!(f = fopen(tmp, "w"))) {
		snprintf(err, errlen, "%s: %s", tmp, strerror(errno));
		return -1;
	}
	/* The totals go on <testsuites>, so the suites are written to memory first. */
	char *body = NULL;
	size_t blen = 0;
	FILE *m = open_memstream(&body, &blen);
	if (!m) {
		fclose(f);
		remove(tmp);
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	for (size_t i = 0; i < e->ninputs; i++) {
		struct counts c = { 0 };
		char *sbody = NULL;
		size_t slen = 0;
		FILE *s = open_memstream(&sbody, &slen);
		const struct run_trace *t = NULL;
		if (!s)
			break;
		for (size_t k = 0; k < njobs; k++) {
			struct run_job *j = &jobs[k];
			struct svt_db_rows v = { 0 };
			bool have = false;
			if (j->t->in != &e->inputs[i])
				continue;
			t = j->t;
			if (db && j->row.id > 0 && j->row.status == SVT_RUN_VIOLATIONS)
				have = svt_db_first_violations(db, j->row.id,
							       FIRST_VIOLATIONS, &v) == 0;
			job_cases(s, j, e->audit, have ? &v : NULL, &c);
			svt_db_rows_free(&v);
		}
		fclose(s);
		fputs("  <testsuite name=\"", m);
		esc(m, e->inputs[i].name, true);
		fprintf(m,
			"\" tests=\"%u\" failures=\"%u\" errors=\"%u\" skipped=\"%u\" "
			"time=\"%.6f\">\n", c.tests, c.failures, c.errors, c.skipped, c.time);
		if (t) {
			fputs("    <properties>\n      <property name=\"trace\" value=\"", m);
			esc(m, t->path, true);
			fputs("\"/>\n      <property name=\"checksum\" value=\"", m);
			esc(m, t->checksum, true);
			fputs("\"/>\n", m);
			/* each policy's what-if label (docs/replay.md, What-ifs) */
			for (size_t k = 0; k < njobs; k++) {
				const struct run_row *r = &jobs[k].row;
				if (jobs[k].t != t || r->status == SVT_RUN_NOT_RUN)
					continue;
				fputs("      <property name=\"what-if ", m);
				esc(m, jobs[k].p->name, true);
				fputs("\" value=\"", m);
				esc(m, r->recorded_policy ? "recorded: the trace's own policy" :
				    strcmp(r->whatif, "exact") == 0 ?
				    "exact: recording under this policy gives these counters" :
				    "APPROXIMATE, NOT A MEASUREMENT: a replay cannot make the "
				    "exits this policy would add", true);
				fputs("\"/>\n", m);
			}
			fputs("    </properties>\n", m);
		}
		fwrite(sbody, 1, slen, m);
		fputs("  </testsuite>\n", m);
		free(sbody);
		all.tests += c.tests;
		all.failures += c.failures;
		all.errors += c.errors;
		all.skipped += c.skipped;
		all.time += c.time;
	}
	fclose(m);
	fputs("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<testsuites name=\"", f);
	esc(f, e->name, true);
	fprintf(f, "\" tests=\"%u\" failures=\"%u\" errors=\"%u\" skipped=\"%u\" time=\"%.6f\">\n",
		all.tests, all.failures, all.errors, all.skipped, all.time);
	fwrite(body, 1, blen, f);
	fputs("</testsuites>\n", f);
	free(body);
	if (ferror(f) | (fclose(f) != 0) || rename(tmp, path) != 0) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		remove(tmp);
		return -1;
	}
	return 0;
}
