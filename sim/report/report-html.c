/*
 * report-html.c — the page of `shadowvt report` (report.h): what it reads
 * from the results database and how it lays it out.  An XHTML5 polyglot
 * page (well-formed XML that browsers read as HTML): inline CSS, inline
 * SVG charts from report-svg.c, no script, no external resource.  It
 * holds the runs, the policy comparison of every trace replayed more than
 * once, and per run its fault and exit mix, its timeline of faults and
 * shadow pages, and its violations with their context.
 *
 * What it shows comes from the database layer's reads for it (db-read.c:
 * svt_db_runs, svt_db_totals, ...) on the read-only connection; text from
 * the database is untrusted, and all of it goes through svg_text.
 */
#define _POSIX_C_SOURCE 200809L
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "config.h"
#include "report.h"
#include "sim.h"

#define VIOLATIONS_SHOWN 200    /* per run; the rest are counted */
#define TIMELINE_POINTS  400    /* per series; longer timelines are bucketed */

static const char style[] =
	"body{font:14px/1.4 sans-serif;margin:16px "
	"24px;color:#222;background:#fff;max-width:1200px}h1{font-size:22px;margin:0 0 4px}"
	"h2{font-size:18px;border-bottom:1px solid #ccc;padding-bottom:2px;margin-top:32px}"
	"h3{font-size:15px;margin:20px 0 4px}"
	"table{border-collapse:collapse;font-size:12px;margin:8px 0}"
	"th,td{border:1px solid #ddd;padding:2px 6px;text-align:left;vertical-align:top}"
	"th{background:#f3f3f3}td.n{text-align:right;font-variant-numeric:tabular-nums}"
	"code{font-family:monospace}td.n,#runs td:last-child,table.viol td{white-space:nowrap}"
	"table.viol td:nth-child(8){white-space:normal}"
	".st{font-weight:bold;padding:0 4px;border-radius:3px}"
	".st-clean{color:#05692e;background:#e3f4e8}.st-violations{color:#fff;background:#c0392b}"
	".st-running{background:#fff3c4}.st-incomplete{background:#ffe0b3}"
	".st-bad-input{color:#fff;background:#8e44ad}"
	".meta,.cap,.none{color:#555}.cap{font-size:12px;margin:2px 0 14px}"
	".warn{color:#7a1d12;background:#fdecea;border-left:4px solid #c0392b;padding:6px 10px}"
	"svg.chart{display:block;max-width:100%;height:auto;margin:10px 0 2px}"
	"svg.chart text{font:12px sans-serif;fill:#333}svg.chart "
	"text.ct{font-size:14px;font-weight:bold}svg.chart .gl{stroke:#e4e4e4}svg.chart "
	".bx{stroke:#888}svg.chart text.s0{fill:#0072b2}svg.chart text.s1{fill:#e69f00}"
	"svg.chart .hv rect:hover{fill-opacity:0.07}";

/* ---- cells ------------------------------------------------------------------- */

static const char *text(const struct svt_db_rows *r, size_t i, unsigned c)
{
	return i < r->nrows && c < r->ncols ? r->cells[i * r->ncols + c].text : NULL;
}

/* A number, or NAN for NULL and junk. */
static double num(const struct svt_db_rows *r, size_t i, unsigned c)
{
	const char *s = text(r, i, c);
	char *end;
	double v;

	if (s == NULL || *s == '\0')
		return NAN;
	v = strtod(s, &end);
	return *end == '\0' && isfinite(v) ? v : NAN;
}

/* A number the database stored: as SQLite's signed integers read. */
static double n64(uint64_t v)
{
	return (double)(int64_t)v;
}

static int64_t *parse_ids(const struct svt_db_rows *r)
{
	int64_t *ids = calloc(r->nrows + 1, sizeof(*ids));

	for (size_t i = 0; ids != NULL && i < r->nrows; i++) {
		const char *s = text(r, i, 0);
		ids[i] = s != NULL ? strtoll(s, NULL, 10) : 0;
	}
	return ids;
}

/* The row of ids (sorted: the queries order by run) holding id, or -1. */
static long find(const int64_t *ids, size_t n, int64_t id)
{
	size_t lo = 0, hi = n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (ids[mid] == id)
			return (long)mid;
		if (ids[mid] < id)
			lo = mid + 1;
		else
			hi = mid;
	}
	return -1;
}

static bool shown(const struct report *rp, int64_t id)
{
	for (size_t i = 0; i < rp->nwant; i++)
		if (rp->want[i] == id)
			return true;
	return rp->nwant == 0;
}

static void put(FILE *f, const char *s)
{
	svg_text(f, s, 0);
}

/* A table cell: numbers right-aligned with separators, NULL as '-'. */
static void td(FILE *f, const struct svt_db_rows *r, size_t i, unsigned c)
{
	const struct svt_db_cell *cell = &r->cells[i * r->ncols + c];
	char b[32];

	if (cell->type == SVT_DB_INTEGER && cell->text[0] != '-') {
		fprintf(f, "<td class=\"n\">%s</td>",
			svg_count(b, sizeof(b), strtod(cell->text, NULL)));
	} else if (cell->type == SVT_DB_INTEGER || cell->type == SVT_DB_REAL) {
		fputs("<td class=\"n\">", f);
		put(f, cell->text);
		fputs("</td>", f);
	} else {
		fputs("<td>", f);
		put(f, cell->type == SVT_DB_NULL ? "-" : cell->text);
		fputs("</td>", f);
	}
}

/* The status as a badge; its class from the known names only. */
static void status_badge(FILE *f, const char *st)
{
	const char *cls = "other";

	/* "incomplete?" too: a run the database says is running, whose process is gone */
	for (int s = SVT_RUN_CLEAN; st != NULL && s <= SVT_RUN_RUNNING; s++) {
		const char *name = svt_db_run_status_name((enum svt_db_run_status)s);
		if (strncmp(st, name, strlen(name)) == 0)
			cls = name;
	}
	fprintf(f, "<span class=\"st st-%s\">", cls);
	put(f, st != NULL ? st : "?");
	fputs("</span>", f);
}

static bool finished(const char *st)
{
	int s = svt_db_run_status_parse(st);

	return s == SVT_RUN_CLEAN || s == SVT_RUN_VIOLATIONS;
}

/* ---- sections ------------------------------------------------------------------ */

static void runs_table(FILE *f, const struct report *rp)
{
	static const char *const head[] = { "run", "trace", "workload", "policy", "audit", "status",
		"events", "trace events", "violations", "divergence", "seconds", "events/s",
		"started" };
	static const unsigned cols[] = { SVT_DB_RUNS_WORKLOAD, SVT_DB_RUNS_POLICY,
					 SVT_DB_RUNS_AUDIT };
	static const unsigned nums[] = { SVT_DB_RUNS_EVENTS, SVT_DB_RUNS_TRACE_EVENTS,
		SVT_DB_RUNS_VIOLATIONS, SVT_DB_RUNS_DIVERGENCE, SVT_DB_RUNS_SECONDS,
		SVT_DB_RUNS_EPS, SVT_DB_RUNS_STARTED };

	fputs("<section id=\"runs\">\n<h2>Runs</h2>\n<table>\n<thead><tr>", f);
	for (size_t c = 0; c < sizeof(head) / sizeof(head[0]); c++)
		fprintf(f, "<th>%s</th>", head[c]);
	fputs("</tr></thead>\n<tbody>\n", f);
	for (size_t i = 0; i < rp->runs.nrows; i++) {
		if (!shown(rp, rp->run_id[i]))
			continue;
		fprintf(f, "<tr><td class=\"n\"><a href=\"#run-%lld\">%lld</a></td>",
			(long long)rp->run_id[i], (long long)rp->run_id[i]);
		td(f, &rp->runs, i, SVT_DB_RUNS_TRACE);
		for (size_t c = 0; c < sizeof(cols) / sizeof(cols[0]); c++)
			td(f, &rp->runs, i, cols[c]);
		fputs("<td>", f);
		status_badge(f, text(&rp->runs, i, SVT_DB_RUNS_STATUS));
		fputs("</td>", f);
		for (size_t c = 0; c < sizeof(nums) / sizeof(nums[0]); c++)
			td(f, &rp->runs, i, nums[c]);
		fputs("</tr>\n", f);
	}
	fputs("</tbody>\n</table>\n</section>\n", f);
}

/* Whether row i of the comparison is a run shown, and its id. */
static bool compare_run(const struct report *rp, size_t i, int64_t *id)
{
	const char *s = text(&rp->compare, i, SVT_DB_CMP_RUN);

	*id = s != NULL ? strtoll(s, NULL, 10) : 0;
	return s != NULL && shown(rp, *id);
}

/* One trace's runs (compare rows first..end) under their policies: a table
 * and four charts. */
static void compare_group(FILE *f, const struct report *rp, size_t first, size_t end, unsigned g)
{
	static const struct { const char *id, *title,
			      *unit; unsigned col[2]; const char *series[2]; }
	metric[] = {
		{ "exits", "VM exits", "exits", { SVT_DB_CMP_EXITS, SVT_DB_CMP_FAULTS },
		  { "exits", "of which page faults" } },
		{ "emulations", "emulated page-table writes", "writes", { SVT_DB_CMP_EMULATED },
		  { "emulated" } },
		{ "resyncs", "out-of-sync pages resynchronised", "resyncs", { SVT_DB_CMP_RESYNCS },
		  { "resyncs" } },
		{ "memory", "shadow memory: peak shadow pages (4 KiB each)", "pages",
		  { SVT_DB_CMP_PEAK }, { "peak shadow pages" } },
	};
	static const unsigned cols[] = { SVT_DB_CMP_POLICY, SVT_DB_CMP_BASIS, SVT_DB_CMP_EXITS,
		SVT_DB_CMP_FAULTS, SVT_DB_CMP_EMULATED, SVT_DB_CMP_RESYNCS, SVT_DB_CMP_PEAK,
		SVT_DB_CMP_EVICTIONS, SVT_DB_CMP_VIOLATIONS };
	const struct svt_db_rows *c = &rp->compare;
	struct bar { char label[256]; double v[2]; size_t row; } *bar = calloc(end - first,
									       sizeof(*bar));
	struct svg_group *gr = calloc(end - first, sizeof(*gr));
	unsigned n = 0;

	const char *grp = text(c, first, SVT_DB_CMP_GROUP);
	size_t approx = 0;
	for (size_t i = first; i < end; i++) {
		const char *b = text(c, i, SVT_DB_CMP_BASIS);
		approx += b != NULL && strcmp(b, "approximate") == 0;
	}
	fprintf(f, "<h3 id=\"compare-%u\">", g);
	if (grp != NULL && strncmp(grp, "guest ", 6) == 0) {
		fputs("Recordings of one guest under different policies: <code>", f);
		put(f, grp + 6);
		fputs("</code></h3>\n<p>Each row is the guest recorded under its policy: measured, "
		      "exact.</p>\n", f);
	} else {
		put(f, text(c, first, SVT_DB_CMP_TRACE));
		fputs(" <code>", f);
		put(f, text(c, first, SVT_DB_CMP_CHECKSUM));
		fputs("</code></h3>\n", f);
	}
	if (approx > 0)
		fprintf(f, "<p class=\"warn\"><strong>APPROXIMATE: %zu of these rows are one-trace "
			"what-ifs, not measurements.</strong> The trace holds only the exits its "
			"own policy took, so a replay under another policy cannot make the exits "
			"that policy would add (faults on accesses the recorded shadows allowed, "
			"writes to pages the recording left unprotected, refaults after "
			"evictions); no error bound is proven. Rows marked <em>recorded</em>, "
			"<em>exact</em> or <em>recording</em> are what recording under that policy "
			"measures (docs/replay.md, What-ifs).</p>\n", approx);
	fputs("<table>\n"
	      "<thead><tr><th>run</th><th>status</th><th>policy</th><th>basis</th><th>exits</th>"
	      "<th>faults</th><th>emulated</th><th>resyncs</th><th>peak shadow pages</th>"
	      "<th>evictions</th><th>violations</th></tr></thead>\n<tbody>\n", f);
	for (size_t i = first; i < end; i++) {
		int64_t id;
		if (!compare_run(rp, i, &id))
			continue;
		long r = find(rp->run_id, rp->runs.nrows, id);
		const char *st = r >= 0 ? text(&rp->runs, (size_t)r, SVT_DB_RUNS_STATUS) : NULL;
		const char *policy = text(c, i, SVT_DB_CMP_POLICY);
		const char *basis = text(c, i, SVT_DB_CMP_BASIS);

		fprintf(f, "<tr><td class=\"n\"><a href=\"#run-%lld\">%lld</a></td><td>",
			(long long)id, (long long)id);
		status_badge(f, st);
		fputs("</td>", f);
		for (size_t k = 0; k < sizeof(cols) / sizeof(cols[0]); k++)
			td(f, c, i, cols[k]);
		fputs("</tr>\n", f);
		if (bar == NULL || gr == NULL)
			continue;
		/* "#2 oos=0,prefetch=0 [approximate] (incomplete)" */
		snprintf(bar[n].label, sizeof(bar[n].label), "#%lld %s [%s]%s%s%s", (long long)id,
			 policy ? policy : "?", basis ? basis : "?", finished(st) ? "" : " (",
			 finished(st) ? "" : st ? st : "?", finished(st) ? "" : ")");
		bar[n].row = i;
		gr[n].label = bar[n].label;
		gr[n].v = bar[n].v;
		n++;
	}
	fputs("</tbody>\n</table>\n", f);
	for (size_t m = 0; n > 0 && m < sizeof(metric) / sizeof(metric[0]); m++) {
		unsigned ns = metric[m].series[1] != NULL ? 2 : 1;
		char id[64], title[160];

		for (unsigned k = 0; k < n; k++)
			for (unsigned s = 0; s < ns; s++)
				bar[k].v[s] = num(c, bar[k].row, metric[m].col[s]);
		snprintf(id, sizeof(id), "compare-%u-%s", g, metric[m].id);
		snprintf(title, sizeof(title), "Policies compared: %s", metric[m].title);
		svg_grouped_bars(f,
				 &(struct svg_chart){ .id = id, .title = title,
						      .unit = metric[m].unit },
				 metric[m].series, ns, gr, n);
	}
	free(bar);
	free(gr);
}

/* The end of the comparison group whose first row is first, and in *n
 * how many of its runs are shown (2 or more: the group is compared). */
static size_t group_end(const struct report *rp, size_t first, unsigned *n)
{
	const struct svt_db_rows *c = &rp->compare;
	const char *sum = text(c, first, SVT_DB_CMP_GROUP);
	size_t end;

	*n = 0;
	for (end = first; end < c->nrows; end++) {
		const char *s = text(c, end, SVT_DB_CMP_GROUP);
		int64_t id;
		if (s == NULL || sum == NULL || strcmp(s, sum) != 0)
			break;
		*n += compare_run(rp, end, &id);
	}
	return end > first ? end : first + 1;
}

static void compare_section(FILE *f, const struct report *rp)
{
	const struct svt_db_rows *c = &rp->compare;
	unsigned groups = 0, n;

	fputs("<section id=\"compare\">\n<h2>Policy comparison</h2>\n", f);
	for (size_t first = 0, end; first < c->nrows; first = end) {
		end = group_end(rp, first, &n);
		if (n >= 2)
			compare_group(f, rp, first, end, ++groups);
	}
	if (groups == 0)
		fputs("<p class=\"none\">No trace was replayed more than once and no guest "
		      "was recorded under more than one policy: there is nothing to "
		      "compare.</p>\n", f);
	else
		fputs("<p class=\"cap\">In the sections of the runs below, the runs compared here"
		      " (with the runs compared with them) draw their fault and exit mix and their"
		      " timeline on one set of scales, so that a longer bar or a higher line is a"
		      " larger number; the other runs have scales of their own.</p>\n", f);
	fputs("</section>\n", f);
}

/*
 * A run's fault and exit mix: two stacked bars.  Each bar's number is the
 * counter that query's fault_mix and summary show (exits, faults); the
 * segments are what they were.  Exits are exactly their segments (the
 * database sums them so); the faults' outcomes need not add up to the
 * faults: the core counts a fault fixed before it makes the shadow entry,
 * and counts it again as retried or emulated if that fails or the write
 * turns out to hit a page table (src/mmu_fault.c).
 */
struct mix {
	double ev[4], fv[7];
	struct svg_stack rows[2];
};

static void mix_of(const struct svt_db_totals *t, struct mix *m)
{
	static const char *const exits[] = { "page faults", "CR writes", "INVLPG", "TLB flushes" };
	static const char *const faults[] = { "fixed (propagated)", "fixed (A/D bits)",
		"injected #PF", "emulated writes", "emulated with CR0.WP=0", "MMIO", "retries" };
	const struct svt_counters *c = &t->ctr;
	const double ev[4] = { n64(c->faults), n64(c->cr_writes), n64(c->invlpgs),
			       n64(c->flushes) };
	const double fv[7] = { n64(c->fixed), n64(c->ad_faults), n64(c->injected), n64(c->emulated),
		n64(c->emulated_wp0), n64(c->mmio), n64(c->retries) };

	memcpy(m->ev, ev, sizeof(ev));
	memcpy(m->fv, fv, sizeof(fv));
	m->rows[0] = (struct svg_stack){ .label = "exits", .n = 4, .names = exits, .v = m->ev,
					 .total = n64(t->exits) };
	m->rows[1] = (struct svg_stack){ .label = "page faults", .n = 7,
					 .names = faults, .v = m->fv, .total = n64(c->faults) };
}

/* (No libm: fmax() without it.) */
static double dmax(double a, double b)
{
	return a > b ? a : b;
}

static double row_sum(const struct svg_stack *s)
{
	double t = 0;

	for (unsigned i = 0; i < s->n; i++)
		t += isfinite(s->v[i]) && s->v[i] > 0 ? s->v[i] : 0;
	return t;
}

/* The longest bar of m: its number or its segments, whichever is longer. */
static double mix_max(const struct mix *m)
{
	double max = 0;

	for (unsigned r = 0; r < 2; r++) {
		double t = m->rows[r].total, sum = row_sum(&m->rows[r]);
		max = dmax(max, dmax(isfinite(t) ? t : 0, sum));
	}
	return max;
}

/* Run id's fault and exit mix (its totals t), on a value axis to vmax at
 * least (0: its own). */
static void mix_chart(FILE *f, int64_t id, const struct svt_db_totals *t, double vmax)
{
	struct mix m;
	double events = n64(t->events), nexits = n64(t->exits);
	char id_s[48], title[200], b[3][32];

	mix_of(t, &m);
	snprintf(id_s, sizeof(id_s), "mix-run-%lld", (long long)id);
	snprintf(title, sizeof(title),
		 "Run %lld: fault and exit mix (%s exits in %s events, %.1f%%)", (long long)id,
		 svg_count(b[0], sizeof(b[0]), nexits), svg_count(b[1], sizeof(b[1]), events),
		 events > 0 && nexits >= 0 ? 100.0 * nexits / events : 0.0);
	svg_stacked_bars(f, &(struct svg_chart){ .id = id_s, .title = title,
		.unit = "number of exits (upper bar) and of page faults (lower bar)",
		.vmax = vmax }, m.rows, 2);
	for (unsigned r = 0; r < 2; r++) {
		double sum = row_sum(&m.rows[r]), total = m.rows[r].total;

		if (!isfinite(total) || sum == total)
			continue;
		fprintf(f,
			"<p class=\"cap\">The %s&#39; segments add up to %s, %s %s than the %s %s "
			"the bar&#39;s number counts", m.rows[r].label,
			svg_count(b[0], sizeof(b[0]), sum),
			svg_count(b[1], sizeof(b[1]), sum > total ? sum - total : total - sum),
			sum > total ? "more" : "fewer", svg_count(b[2], sizeof(b[2]), total),
			m.rows[r].label);
		fputs(sum > total && r == 1 ?
		      ": a fault fixed and then retried (its shadow entry could not be made) or "
		      "emulated (the write hit a page table) is counted under both.</p>\n"
		      : ": some ended in no outcome counted here.</p>\n", f);
	}
}

/*
 * Run id's timeline as points (bucketed): in *v (malloc'd, NULL if there
 * is none) x0, x1, the faults per 1,000 events and the shadow pages, t's
 * rows each, described by *l; *intervals: how many intervals they are.
 * 0, or -1 with the message in svt_db_error.
 */
static int timeline_read(struct report *rp, int64_t id, struct svt_db_rows *t, double **v,
			 struct svg_lines *l, double *intervals)
{
	*v = NULL;
	*intervals = 0;
	if (svt_db_timeline_points(rp->db, id, TIMELINE_POINTS, t) != 0)
		return -1;
	if (t->nrows == 0 || t->ncols != 5)
		return 0;
	if ((*v = calloc(4 * t->nrows, sizeof(**v))) == NULL)
		return svt_db_fail(rp->db, "out of memory");
	for (size_t i = 0; i < t->nrows; i++) {
		for (unsigned c = 0; c < 4; c++)
			(*v)[c * t->nrows + i] = num(t, i, c);
		*intervals += isfinite(num(t, i, 4)) ? num(t, i, 4) : 0;
	}
	*l = (struct svg_lines){
		.n = t->nrows, .x0 = *v, .x1 = *v + t->nrows,
		.y = { *v + 2 * t->nrows, *v + 3 * t->nrows }, .xname = "events",
		.yname = { "faults per 1,000 events", "shadow pages in use" },
	};
	return 0;
}

/* Run id's timeline: faults per interval and shadow pages, bucketed;
 * on the ranges shared, if not NULL. */
static int timeline_chart(FILE *f, struct report *rp, int64_t id, const struct svg_range *shared)
{
	struct svt_db_rows t;
	struct svg_lines l;
	double *v, intervals;
	char id_s[48], title[80], b[2][32];

	if (timeline_read(rp, id, &t, &v, &l, &intervals) != 0) {
		free(v);
		svt_db_rows_free(&t);
		return -1;
	}
	if (v == NULL) {
		fputs("<p class=\"none\">No timeline was recorded for this run.</p>\n", f);
		svt_db_rows_free(&t);
		return 0;
	}
	l.shared = shared;
	snprintf(id_s, sizeof(id_s), "timeline-run-%lld", (long long)id);
	snprintf(title, sizeof(title), "Run %lld: faults and shadow pages over time",
		 (long long)id);
	svg_line_chart(f, &(struct svg_chart){ .id = id_s, .title = title, .unit = "events" }, &l);
	fprintf(f, "<p class=\"cap\">%s timeline interval%s",
		svg_count(b[0], sizeof(b[0]), intervals), intervals == 1 ? "" : "s");
	if (intervals > (double)t.nrows)
		fprintf(f,
			", drawn as %s points: each point is the largest value of its share of the "
			"intervals (downsampled)", svg_count(b[1], sizeof(b[1]), (double)t.nrows));
	fputs(". Faults are per 1,000 events of each interval; shadow pages those in use at its"
	      " end.</p>\n", f);
	free(v);
	svt_db_rows_free(&t);
	return 0;
}

static int violations_table(FILE *f, struct report *rp, int64_t id, size_t r)
{
	static const char *const head[] = { "event", "invariant", "va", "gfn", "level",
					    "guest entry",
		"shadow entry", "what", "reproduce" };
	long k = find(rp->vc_id, rp->vcount.nrows, id);
	double stored = k >= 0 ? num(&rp->vcount, (size_t)k, 1) : 0;
	double found = num(&rp->runs, r, SVT_DB_RUNS_VIOLATIONS);
	struct svt_db_rows v;
	char b[2][32];

	if (!(stored > 0)) {
		fputs("<p class=\"none\">No violations stored.</p>\n", f);
		return 0;
	}
	if (svt_db_run_violations(rp->db, id, VIOLATIONS_SHOWN, &v) != 0) {
		svt_db_rows_free(&v);
		return -1;
	}
	fprintf(f, "<h3>Violations: %s stored", svg_count(b[0], sizeof(b[0]), stored));
	if (isfinite(found) && found > stored)
		fprintf(f, " of %s found", svg_count(b[1], sizeof(b[1]), found));
	fputs("</h3>\n<table class=\"viol\">\n<thead><tr>", f);
	for (size_t c = 0; c < sizeof(head) / sizeof(head[0]); c++)
		fprintf(f, "<th>%s</th>", head[c]);
	fputs("</tr></thead>\n<tbody>\n", f);
	for (size_t i = 0; i < v.nrows; i++) {
		fputs("<tr>", f);
		for (unsigned c = 0; c < v.ncols; c++)
			td(f, &v, i, c);
		fputs("</tr>\n", f);
	}
	fputs("</tbody>\n</table>\n", f);
	if (stored > (double)v.nrows) {
		fprintf(f, "<p class=\"cap\">%s more: <code>shadowvt query ",
			svg_count(b[0], sizeof(b[0]), stored - (double)v.nrows));
		put(f, rp->path);
		fprintf(f, " violations --run %lld</code> lists them all.</p>\n", (long long)id);
	}
	svt_db_rows_free(&v);
	return 0;
}

/* Which runs run r shares its scales with. */
static void scale_note(FILE *f, const struct report *rp, size_t r)
{
	unsigned n = 0, others = 0;

	for (size_t k = 0; k < rp->runs.nrows; k++)
		others += k != r && rp->scale[k].set == rp->scale[r].set &&
			shown(rp, rp->run_id[k]);
	fprintf(f, "<p class=\"cap\">On one set of scales with the run%s it is compared with (",
		others == 1 ? "" : "s");
	for (size_t k = 0; k < rp->runs.nrows; k++) {
		if (k == r || rp->scale[k].set != rp->scale[r].set || !shown(rp, rp->run_id[k]))
			continue;
		if (n == 20) {
			fputs(", \xe2\x80\xa6", f);   /* U+2026 */
			break;
		}
		fprintf(f, "%s<a href=\"#run-%lld\">run %lld</a>", n++ > 0 ? ", " : "",
			(long long)rp->run_id[k], (long long)rp->run_id[k]);
	}
	fputs("): the fault and exit mix on the same value axis, the timeline on the same"
	      " axes.</p>\n", f);
}

static int run_section(FILE *f, struct report *rp, size_t r)
{
	int64_t id = rp->run_id[r];
	long t = find(rp->tot_id, rp->ntotals, id);
	const char *st = text(&rp->runs, r, SVT_DB_RUNS_STATUS);
	const char *msg = text(&rp->runs, r, SVT_DB_RUNS_MESSAGE);
	const char *workload = text(&rp->runs, r, SVT_DB_RUNS_WORKLOAD);

	fprintf(f, "<section class=\"run\" id=\"run-%lld\">\n<h2>Run %lld: ", (long long)id,
		(long long)id);
	put(f, text(&rp->runs, r, SVT_DB_RUNS_TRACE));
	fputs("</h2>\n<p>", f);
	status_badge(f, st);
	fputs(" policy <code>", f);
	put(f, text(&rp->runs, r, SVT_DB_RUNS_POLICY));
	fprintf(f, "</code>%s, audit ",
		num(&rp->runs, r, SVT_DB_RUNS_RECORDED) == 1 ? " (recorded)" : "");
	put(f, text(&rp->runs, r, SVT_DB_RUNS_AUDIT));
	if (workload != NULL && workload[0] != '\0') {
		fputs(", workload ", f);
		put(f, workload);
	}
	fputs("</p>\n", f);
	if (msg != NULL && msg[0] != '\0') {
		fputs("<p class=\"msg\">", f);
		put(f, msg);
		fputs("</p>\n", f);
	}
	if (!finished(st))
		fputs("<p class=\"none\">The run did not finish: what follows is what it "
		      "stored.</p>\n", f);
	const struct report_scale *sc = &rp->scale[r];
	struct svg_range shared = { sc->xlo, sc->xhi, { sc->ymax[0], sc->ymax[1] } };
	if (sc->set != 0)
		scale_note(f, rp, r);
	if (t >= 0)
		mix_chart(f, id, &rp->totals[t], sc->set != 0 ? sc->mix : 0);
	if (timeline_chart(f, rp, id, sc->set != 0 && sc->has_line ? &shared : NULL) != 0 ||
	    violations_table(f, rp, id, r) != 0)
		return -1;
	fputs("</section>\n", f);
	return 0;
}

/* rp->scale: the runs compared (the comparison's groups, joined where a
 * run is in two) in sets, each set's ranges the widest of its runs'. */
static int scales_make(struct report *rp)
{
	size_t nr = rp->runs.nrows;
	struct report_scale *sc = calloc(nr + 1, sizeof(*sc)), *set;
	unsigned sets = 0, n;

	if ((rp->scale = sc) == NULL)
		return svt_db_fail(rp->db, "out of memory");
	for (size_t first = 0, end; first < rp->compare.nrows; first = end) {
		end = group_end(rp, first, &n);
		if (n < 2)
			continue;
		sets++;
		for (size_t i = first; i < end; i++) {
			int64_t id;
			long r = compare_run(rp, i, &id) ? find(rp->run_id, nr, id) : -1;
			unsigned old = r >= 0 ? sc[r].set : 0;

			for (size_t k = 0; old != 0 && k < nr; k++)   /* join the set it is in */
				if (sc[k].set == old)
					sc[k].set = sets;
			if (r >= 0)
				sc[r].set = sets;
		}
	}
	if (sets == 0)
		return 0;
	if ((set = calloc(sets + 1, sizeof(*set))) == NULL)
		return svt_db_fail(rp->db, "out of memory");
	for (size_t r = 0; r < nr; r++) {
		struct report_scale *s = &set[sc[r].set];
		long t = find(rp->tot_id, rp->ntotals, rp->run_id[r]);
		struct svt_db_rows rows;
		struct svg_lines l;
		struct svg_range range = { s->xlo, s->xhi, { s->ymax[0], s->ymax[1] } };
		double *v, intervals;
		struct mix m;

		if (sc[r].set == 0)
			continue;
		if (t >= 0) {
			mix_of(&rp->totals[t], &m);
			s->mix = dmax(s->mix, mix_max(&m));
		}
		if (timeline_read(rp, rp->run_id[r], &rows, &v, &l, &intervals) != 0) {
			free(v);
			svt_db_rows_free(&rows);
			free(set);
			return -1;
		}
		if (v != NULL) {
			svg_line_range(&l, &range, s->has_line);
			s->has_line = true;
			s->xlo = range.xlo;
			s->xhi = range.xhi;
			s->ymax[0] = range.ymax[0];
			s->ymax[1] = range.ymax[1];
		}
		free(v);
		svt_db_rows_free(&rows);
	}
	for (size_t r = 0; r < nr; r++) {
		if (sc[r].set != 0) {
			unsigned k = sc[r].set;
			sc[r] = set[k];
			sc[r].set = k;
		}
	}
	free(set);
	return 0;
}

int report_page(FILE *f, struct report *rp)
{
	char when[32], title[300];
	const char *epoch = getenv("SOURCE_DATE_EPOCH"), *base = strrchr(rp->path, '/');
	uint64_t e;
	time_t now = epoch != NULL && svt_parse_u64(epoch, &e) && e < (uint64_t)1 << 40 ? (time_t)e
		: time(NULL);
	struct tm tm;
	size_t nshown = 0;

	for (size_t i = 0; i < rp->runs.nrows; i++)
		nshown += shown(rp, rp->run_id[i]);
	if (gmtime_r(&now, &tm) == NULL ||
	    strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
		snprintf(when, sizeof(when), "?");
	snprintf(title, sizeof(title), "shadowvt report: %s", base != NULL ? base + 1 : rp->path);
	fputs("<!DOCTYPE html>\n<html xmlns=\"http://www.w3.org/1999/xhtml\" lang=\"en\">\n<head>\n"
	      "<meta charset=\"UTF-8\"/>\n<meta name=\"generator\" "
	      "content=\"shadowvt " PACKAGE_VERSION "\"/>\n<title>", f);
	put(f, rp->title != NULL ? rp->title : title);
	fprintf(f, "</title>\n<style>%s</style>\n</head>\n<body>\n<header>\n<h1>", style);
	put(f, rp->title != NULL ? rp->title : title);
	fputs("</h1>\n<p class=\"meta\">Results database <code>", f);
	put(f, rp->path);
	fprintf(f, "</code>, %zu run%s%s; generated %s by shadowvt %s.</p>\n", nshown,
		nshown == 1 ? "" : "s", rp->nwant > 0 ? " chosen with --run" : "", when,
		PACKAGE_VERSION);
	fputs("<p><a href=\"#runs\">Runs</a> | <a href=\"#compare\">Policy comparison</a>", f);
	for (size_t i = 0; i < rp->runs.nrows && nshown <= 100; i++)
		if (shown(rp, rp->run_id[i]))
			fprintf(f, " | <a href=\"#run-%lld\">run %lld</a>",
				(long long)rp->run_id[i], (long long)rp->run_id[i]);
	fputs("</p>\n</header>\n", f);
	if (scales_make(rp) != 0)
		return -1;
	if (nshown == 0) {
		fputs("<p class=\"none\" id=\"runs\">This results database holds no runs.</p>\n"
		      "<p id=\"compare\"></p>\n", f);
	} else {
		runs_table(f, rp);
		compare_section(f, rp);
		for (size_t i = 0; i < rp->runs.nrows; i++)
			if (shown(rp, rp->run_id[i]) && run_section(f, rp, i) != 0)
				return -1;
	}
	fputs("</body>\n</html>\n", f);
	return 0;
}

/* ---- loading ------------------------------------------------------------------- */

int report_load(struct report *rp)
{
	if (svt_db_runs(rp->db, &rp->runs) != 0 ||
	    svt_db_totals(rp->db, &rp->totals, &rp->ntotals) != 0 ||
	    svt_db_violation_counts(rp->db, &rp->vcount) != 0 ||
	    svt_db_compare(rp->db, &rp->compare) != 0)
		return -1;
	if ((rp->run_id = parse_ids(&rp->runs)) == NULL ||
	    (rp->tot_id = calloc(rp->ntotals + 1, sizeof(*rp->tot_id))) == NULL ||
	    (rp->vc_id = parse_ids(&rp->vcount)) == NULL)
		return svt_db_fail(rp->db, "out of memory");
	for (size_t i = 0; i < rp->ntotals; i++)
		rp->tot_id[i] = rp->totals[i].run;
	for (size_t i = 0; i < rp->nwant; i++)
		if (find(rp->run_id, rp->runs.nrows, rp->want[i]) < 0)
			return svt_db_fail(rp->db, "there is no run %lld", (long long)rp->want[i]);
	return 0;
}

void report_free(struct report *rp)
{
	svt_db_rows_free(&rp->runs);
	free(rp->totals);
	svt_db_rows_free(&rp->vcount);
	svt_db_rows_free(&rp->compare);
	free(rp->run_id);
	free(rp->tot_id);
	free(rp->vc_id);
	free(rp->scale);
}
