/*
 * report.h — `shadowvt report` in three parts: the command (cmd-report.c:
 * arguments, the database, the output file), the page (report-html.c: what
 * it reads and how it lays it out), and a small SVG chart writer
 * (report-svg.c: XML escaping of untrusted text, number formats,
 * horizontal stacked bars, horizontal grouped bars, and a line chart with
 * two series on two y axes, each with axes on round numbers, a legend, a
 * title and <title> tooltips).  Everything is written to a FILE as
 * well-formed XML (inline SVG in an XHTML5 polyglot page); write errors
 * are left in the FILE for the caller to check with ferror().
 */
#ifndef SVT_REPORT_H
#define SVT_REPORT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "db.h"

/* ---- the page (report-html.c) ------------------------------------------ */

struct report {
	struct svt_db *db;              /* open read-only */
	const char *path;               /* the database as named */
	const char *title;              /* --title, or NULL */
	int64_t *want;                  /* --run ids; none (nwant 0): every run */
	size_t nwant;
	/* report_load: */
	struct svt_db_rows runs, vcount, compare;
	struct svt_db_totals *totals;   /* the runs' timelines summed */
	size_t ntotals;
	int64_t *run_id, *tot_id, *vc_id;       /* the run ids of runs, totals, vcount */
	/* report_page: per row of runs, the scales its charts are drawn on */
	struct report_scale *scale;
};

/*
 * Runs meant to be compared side by side (the runs of one trace, or the
 * recordings of one guest: the policy comparison's groups, joined where
 * they share a run) are drawn on one set of scales, so that a longer bar
 * or a higher line is a larger number: the mix chart's value axis, and
 * the timeline's event axis and both its y axes.  Runs in no group get
 * scales of their own.
 */
struct report_scale {
	unsigned set;                   /* 0: none; else the set's number */
	double mix;                     /* the mix chart's longest bar */
	bool has_line;                  /* a timeline, with these ranges: */
	double xlo, xhi, ymax[2];
};

/* Read what the page needs but the per-run queries (the runs, their
 * totals, violation counts, the policy comparison); check that every
 * wanted run exists.  0, or -1 with the message in svt_db_error. */
int report_load(struct report *rp);
/* Write the page to f; the per-run queries run as it goes.  0, or -1 with
 * the message in svt_db_error (write errors are left in f). */
int report_page(FILE *f, struct report *rp);
/* Free what report_load read (not db, want). */
void report_free(struct report *rp);

/* ---- the SVG chart writer (report-svg.c) --------------------------------- */

/*
 * Write s as XML character data, fit for text and for attribute values in
 * double quotes: & < > " ' as references; control characters, invalid
 * UTF-8 and the non-characters U+FFFE/U+FFFF (none of which XML 1.0
 * allows) as U+FFFD.  max > 0: at most max characters, and an ellipsis if
 * s was longer.  NULL writes nothing.
 */
void svg_text(FILE *f, const char *s, size_t max);

/* Characters (code points, invalid bytes one each) in s. */
size_t svg_chars(const char *s);

/* v as an integer with thousands separators ("1,234,567"); non-finite or
 * negative as "-".  Returns buf. */
char *svg_count(char *buf, size_t len, double v);

/* v short for an axis: "950", "1.5k", "12M", "2.25G". */
char *svg_short(char *buf, size_t len, double v);

/* What every chart has.  id is the <svg> element's id, from
 * [A-Za-z0-9_-] only (the caller's); title and note may be user data. */
struct svg_chart {
	const char *id;
	const char *title;      /* the visible heading and the accessible name */
	const char *unit;       /* the value axis's name ("exits", "pages") */
	double vmax;            /* > 0: the value axis covers 0..vmax at least (one scale
				 * for charts drawn side by side); else the data's */
};

/* One bar of a stacked bar chart: n segments, left to right, and the
 * bar's value, printed at its end: what the segments are shares of (their
 * tooltips' percentages).  The segments may add up to more or less than
 * total (categories that overlap or miss some); a non-finite or negative
 * total is their sum. */
struct svg_stack {
	const char *label;
	unsigned n;
	const char *const *names;
	const double *v;
	double total;
};

/* Stacked horizontal bars, one per row, on one value axis.  Segments get
 * palette colours in order across all rows; the legend lists them. */
void svg_stacked_bars(FILE *f, const struct svg_chart *c, const struct svg_stack *rows,
		      unsigned nrows);

/* One group of a grouped bar chart: a label and one value per series
 * (NAN: no data). */
struct svg_group {
	const char *label;
	const double *v;
};

/* Horizontal grouped bars: per group, one bar per series. */
void svg_grouped_bars(FILE *f, const struct svg_chart *c, const char *const *series,
		      unsigned nseries, const struct svg_group *groups, unsigned ngroups);

/* A line chart: n points; point i covers x0[i]..x1[i] and is drawn at
 * x1[i]; series 0 on the left y axis, series 1 on the right.  shared, if
 * not NULL: the axes cover these ranges at least (one set of scales for
 * charts drawn side by side); else the data's. */
struct svg_range {
	double xlo, xhi, ymax[2];
};
struct svg_lines {
	size_t n;
	const double *x0, *x1;
	const double *y[2];
	const char *xname;
	const char *yname[2];
	const struct svg_range *shared;
};
void svg_line_chart(FILE *f, const struct svg_chart *c, const struct svg_lines *l);
/* The ranges of l's points as svg_line_chart reads them: widening *r if
 * add, else replacing it. */
void svg_line_range(const struct svg_lines *l, struct svg_range *r, bool add);

#endif /* SVT_REPORT_H */
