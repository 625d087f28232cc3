/*
 * report-svg.c — the SVG chart writer of `shadowvt report` (report.h):
 * escaping, number formats, and three charts (stacked bars, grouped bars,
 * a two-series line chart with two y axes).  The charts are laid out here
 * with estimated text widths, so no script is needed to draw them; text
 * is styled by the page's stylesheet (cmd-report.c) through the classes
 * ct (title), ax (axis labels), lb (labels), gl (grid lines), bl (bar
 * values), s0/s1 (the line chart's series).
 *
 * Every string that reaches the output goes through svg_text: trace
 * paths, policies and labels are user data.  No libm: the axis arithmetic
 * needs nothing but loops.
 */
#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "report.h"
#include "sim.h"

#define CHART_W         800.0
#define CHAR_W          6.6     /* average width of a 12 px sans-serif character */
#define TICKS           5       /* about this many intervals on an axis */

static const char *const palette[] = {
	"#0072b2", "#e69f00", "#009e73", "#d55e00", "#cc79a7",
	"#56b4e9", "#7f7f7f", "#b8a200", "#332288", "#882255",
	"#a6761d",      /* eleven: the mix chart's segments, each its own */
};
#define NPALETTE (sizeof(palette) / sizeof(palette[0]))

/* ---- text ------------------------------------------------------------- */


size_t svg_chars(const char *s)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t n = 0, len;

	while (p != NULL && *p != '\0') {
		len = svt_utf8_len(p);
		p += len > 0 ? len : 1;
		n++;
	}
	return n;
}

void svg_text(FILE *f, const char *s, size_t max)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t n, chars = 0;

	while (p != NULL && *p != '\0') {
		if (max > 0 && chars == max) {
			fputs("\xe2\x80\xa6", f);       /* U+2026 */
			return;
		}
		chars++;
		n = svt_utf8_len(p);
		if (*p == '\t' || *p == '\n' || *p == '\r') {
			fputc(' ', f);
		} else if (n == 0 || *p < 0x20 || *p == 0x7f ||
			   (n == 3 && p[0] == 0xef && p[1] == 0xbf && p[2] >= 0xbe)) {
			fputs("\xef\xbf\xbd", f);       /* U+FFFD */
		} else if (n > 1) {
			fwrite(p, 1, n, f);
		} else {
			switch (*p) {
			case '&': fputs("&amp;", f); break;
			case '<': fputs("&lt;", f); break;
			case '>': fputs("&gt;", f); break;
			case '"': fputs("&quot;", f); break;
			case '\'': fputs("&#39;", f); break;
			default: fputc(*p, f); break;
			}
		}
		p += n > 0 ? n : 1;
	}
}

char *svg_count(char *buf, size_t len, double v)
{
	char digits[32];
	size_t n, o = 0;

	if (!isfinite(v) || v < 0) {
		snprintf(buf, len, "-");
		return buf;
	}
	if (v >= 1e19) {                /* beyond 64 bits: junk in the database */
		snprintf(buf, len, "%.3e", v);
		return buf;
	}
	snprintf(digits, sizeof(digits), "%.0f", v);
	n = strlen(digits);
	for (size_t i = 0; i < n && o + 2 < len; i++) {
		if (i > 0 && (n - i) % 3 == 0)
			buf[o++] = ',';
		buf[o++] = digits[i];
	}
	buf[o] = '\0';
	return buf;
}

char *svg_short(char *buf, size_t len, double v)
{
	static const char suffix[] = "kMGTPE";
	int s = -1;
	size_t n;

	if (!isfinite(v) || v >= 1e21 || v <= -1e21) {
		snprintf(buf, len, isfinite(v) ? "%.2g" : "-", v);
		return buf;
	}
	while ((v >= 1000 || v <= -1000) && s + 1 < (int)sizeof(suffix) - 1) {
		v /= 1000;
		s++;
	}
	snprintf(buf, len, "%.2f", v);
	n = strlen(buf);
	if (strchr(buf, '.') != NULL) {         /* 1.50 -> 1.5, 2.00 -> 2 */
		while (n > 0 && buf[n - 1] == '0')
			buf[--n] = '\0';
		if (n > 0 && buf[n - 1] == '.')
			buf[--n] = '\0';
	}
	if (s >= 0 && n + 2 <= len) {
		buf[n] = suffix[s];
		buf[n + 1] = '\0';
	}
	return buf;
}

/* ---- axes ------------------------------------------------------------- */

/* An axis from lo to lo + k * step, step a round number. */
struct axis {
	double lo, step;
	unsigned k;
};

/* The smallest of 1, 2, 2.5, 5 x 10^e that is >= x; never below 1 nor
 * 2.5 (the charts count things). */
static double nice_up(double x)
{
	static const double m[] = { 1, 2, 2.5, 5 };
	double p = 1;

	if (!(x > 1))
		return 1;
	while (p * 10 <= x)             /* ends: x is finite, p * 10 overflows to inf */
		p *= 10;
	for (size_t i = 0; i < sizeof(m) / sizeof(m[0]); i++)
		if (m[i] * p >= x && (m[i] != 2.5 || p >= 10))  /* no 2.5 steps */
			return m[i] * p;
	return 10 * p;
}

/* Intervals of step that it takes to cover x (x >= 0), at least 1. */
static unsigned intervals(double x, double step)
{
	unsigned k = 1;

	while (k < 1000 && k * step < x)
		k++;
	return k;
}

/* An axis covering lo..hi (lo >= 0) in about TICKS intervals. */
static struct axis axis_for(double lo, double hi)
{
	struct axis a;

	if (!isfinite(hi) || hi < 0)
		hi = 0;
	if (!isfinite(lo) || lo < 0 || lo > hi)
		lo = 0;
	a.step = nice_up((hi - lo) / TICKS);
	/* lo rounded down to a multiple of step, without floor() */
	a.lo = lo >= 9e15 ? lo : (double)(uint64_t)(lo / a.step) * a.step;
	a.k = intervals(hi - a.lo, a.step);
	return a;
}

/* An axis for 0..hi in exactly k intervals (the second y axis of a line
 * chart, whose grid lines are the first's). */
static struct axis axis_k(double hi, unsigned k)
{
	struct axis a = { .lo = 0, .k = k };

	a.step = nice_up((isfinite(hi) && hi > 0 ? hi : 0) / k);
	return a;
}

static double axis_hi(const struct axis *a)
{
	return a->lo + a->k * a->step;
}

/* Position of v on axis a drawn from p0 (a->lo) to p1 (its end). */
static double axis_pos(const struct axis *a, double p0, double p1, double v)
{
	double t = (v - a->lo) / (axis_hi(a) - a->lo);

	if (!isfinite(t) || t < 0)
		t = 0;
	return p0 + (t > 1 ? 1 : t) * (p1 - p0);
}

/* A horizontal value axis below a plot from x0 to x1, with vertical grid
 * lines from y0 to y1 and the unit under it. */
static void haxis(FILE *f, const struct axis *a, double x0, double x1, double y0, double y1,
		  const char *unit)
{
	char b[32];

	fputs("<g class=\"ax\">", f);
	for (unsigned i = 0; i <= a->k; i++) {
		double x = x0 + (x1 - x0) * i / a->k;
		fprintf(f, "<line class=\"gl\" x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\"/>"
			"<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\">%s</text>\n",
			x, y0, x, y1 + 4, x, y1 + 16, svg_short(b, sizeof(b), a->lo + i * a->step));
	}
	fprintf(f, "<line class=\"bx\" x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\"/>", x0,
		y1, x1, y1);
	fprintf(f, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\">", (x0 + x1) / 2, y1 + 32);
	svg_text(f, unit, 0);
	fputs("</text></g>\n", f);
}

/* ---- chart frame, legend, labels ------------------------------------------- */

static void chart_open(FILE *f, const struct svg_chart *c, double h)
{
	fputs("<svg xmlns=\"http://www.w3.org/2000/svg\" class=\"chart\" id=\"", f);
	svg_text(f, c->id, 0);
	fputs("\" role=\"img\" aria-label=\"", f);
	svg_text(f, c->title, 0);
	fprintf(f, "\" width=\"%.0f\" height=\"%.0f\" viewBox=\"0 0 %.0f %.0f\">\n<title>",
		CHART_W, h, CHART_W, h);
	svg_text(f, c->title, 0);
	fputs("</title>\n<text class=\"ct\" x=\"8\" y=\"18\">", f);
	svg_text(f, c->title, 120);
	fputs("</text>\n", f);
}

/*
 * The legend: swatches (lines if line) and names from x0 at y, wrapping
 * before CHART_W.  Colour i is palette[color0 + i].  f NULL only measures.
 * Returns the y below it.
 */
static double legend(FILE *f, double y, const char *const *names, unsigned n, unsigned color0,
		     bool line)
{
	double x = 8;

	for (unsigned i = 0; i < n; i++) {
		size_t chars = svg_chars(names[i]);
		double w = 18 + (double)(chars > 60 ? 60 : chars) * CHAR_W + 14;
		const char *col = palette[(color0 + i) % NPALETTE];

		if (x > 8 && x + w > CHART_W - 8) {
			x = 8;
			y += 18;
		}
		if (f != NULL) {
			if (line)
				fprintf(f,
					"<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" "
					"stroke=\"%s\" stroke-width=\"3\"/>", x, y - 4, x + 12,
					y - 4, col);
			else
				fprintf(f,
					"<rect x=\"%.1f\" y=\"%.1f\" width=\"12\" height=\"12\" "
					"fill=\"%s\"/>", x, y - 10, col);
			fprintf(f, "<text class=\"lb\" x=\"%.1f\" y=\"%.1f\">", x + 18, y);
			svg_text(f, names[i], 60);
			fputs("</text>\n", f);
		}
		x += w;
	}
	return y + 14;
}

/* Room for a label of s, within [lo, hi] pixels. */
static double label_width(double w, const char *s, double hi)
{
	double need = (double)svg_chars(s) * CHAR_W + 12;

	w = need > w ? need : w;
	return w > hi ? hi : w;
}

/* A label ending at x (right-aligned), centred on y, cut to fit width w;
 * the whole text as a tooltip when cut. */
static void row_label(FILE *f, const char *s, double x, double y, double w)
{
	size_t fit = (size_t)((w - 12) / CHAR_W + 0.5);

	fprintf(f, "<text class=\"lb\" x=\"%.1f\" y=\"%.1f\" text-anchor=\"end\">", x, y + 4);
	if (svg_chars(s) > fit) {
		fputs("<title>", f);
		svg_text(f, s, 0);
		fputs("</title>", f);
		svg_text(f, s, fit > 1 ? fit - 1 : 1);  /* and an ellipsis */
	} else {
		svg_text(f, s, 0);
	}
	fputs("</text>\n", f);
}

/* ---- stacked bars ------------------------------------------------------- */

/* A segment's value, junk as 0. */
static double seg(const struct svg_stack *s, unsigned i)
{
	return isfinite(s->v[i]) && s->v[i] > 0 ? s->v[i] : 0;
}

static double seg_sum(const struct svg_stack *s)
{
	double t = 0;

	for (unsigned i = 0; i < s->n; i++)
		t += seg(s, i);
	return t;
}

/* The bar's value: its total, or the segments' sum. */
static double bar_total(const struct svg_stack *s)
{
	return isfinite(s->total) && s->total >= 0 ? s->total : seg_sum(s);
}

/* Where the bar ends: the longer of its segments and its value. */
static double bar_end(const struct svg_stack *s)
{
	double t = bar_total(s), sum = seg_sum(s);

	return sum > t ? sum : t;
}

void svg_stacked_bars(FILE *f, const struct svg_chart *c, const struct svg_stack *rows,
		      unsigned nrows)
{
	const double row_h = 28, bar_h = 18;
	double max = isfinite(c->vmax) && c->vmax > 0 ? c->vmax : 0, lw, x0, x1, y0 = 0,
		y = 0, h = 0;
	unsigned color = 0;
	char b[32], b2[32];

	for (unsigned r = 0; r < nrows; r++)
		if (bar_end(&rows[r]) > max)
			max = bar_end(&rows[r]);
	struct axis a = axis_for(0, max);
	lw = 60;
	for (unsigned r = 0; r < nrows; r++)
		lw = label_width(lw, rows[r].label, 240);
	x0 = 8 + lw;
	x1 = CHART_W - 80;
	/* a legend line per row, measured, then drawn */
	for (int pass = 0; pass < 2; pass++) {
		y = 40;
		color = 0;
		for (unsigned r = 0; r < nrows; r++) {
			y = legend(pass ? f : NULL, y, rows[r].names, rows[r].n, color, false) + 4;
			color += rows[r].n;
		}
		if (pass == 0) {
			y0 = y + 4;
			h = y0 + nrows * row_h + 48;
			chart_open(f, c, h);
		}
	}
	haxis(f, &a, x0, x1, y0, y0 + nrows * row_h, c->unit);
	color = 0;
	for (unsigned r = 0; r < nrows; r++) {
		const struct svg_stack *s = &rows[r];
		double total = bar_total(s), at = 0, yb = y0 + r * row_h + (row_h - bar_h) / 2;

		row_label(f, s->label, x0 - 6, yb + bar_h / 2, lw);
		for (unsigned i = 0; i < s->n; i++, color++) {
			double v = seg(s, i);
			double px = axis_pos(&a, x0, x1, at),
				pw = axis_pos(&a, x0, x1, at + v) - px;

			at += v;
			if (v <= 0)
				continue;
			fprintf(f,
				"<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.0f\" "
				"fill=\"%s\"><title>", px, yb, pw > 0.5 ? pw : 0.5, bar_h,
				palette[color % NPALETTE]);
			svg_text(f, s->label, 0);
			fputs(": ", f);
			svg_text(f, s->names[i], 0);
			fprintf(f, " %s (%.1f%% of %s)</title></rect>\n",
				svg_count(b, sizeof(b), v), total > 0 ? 100.0 * v / total : 0.0,
				svg_count(b2, sizeof(b2), total));
		}
		/* the bar's value, which may differ from its segments' sum */
		fprintf(f, "<text class=\"bl\" x=\"%.1f\" y=\"%.1f\">%s</text>\n",
			axis_pos(&a, x0, x1, bar_end(s)) + 4, yb + bar_h / 2 + 4,
			total > 0 ? svg_count(b2, sizeof(b2), total) : "0");
	}
	fputs("</svg>\n", f);
}

/* ---- grouped bars ------------------------------------------------------- */

void svg_grouped_bars(FILE *f, const struct svg_chart *c, const char *const *series,
		      unsigned nseries, const struct svg_group *groups, unsigned ngroups)
{
	const double bar_h = 14, gap = 3, pad = 12;
	const double group_h = nseries * (bar_h + gap) - gap + pad;
	double max = isfinite(c->vmax) && c->vmax > 0 ? c->vmax : 0, lw, x0, x1, y0, h;
	char b[32];

	for (unsigned g = 0; g < ngroups; g++)
		for (unsigned i = 0; i < nseries; i++)
			if (isfinite(groups[g].v[i]) && groups[g].v[i] > max)
				max = groups[g].v[i];
	struct axis a = axis_for(0, max);
	lw = 60;
	for (unsigned g = 0; g < ngroups; g++)
		lw = label_width(lw, groups[g].label, 330);
	x0 = 8 + lw;
	x1 = CHART_W - 80;
	y0 = nseries > 1 ? legend(NULL, 40, series, nseries, 0, false) + 8 : 32;
	h = y0 + ngroups * group_h + 48;
	chart_open(f, c, h);
	if (nseries > 1)
		legend(f, 40, series, nseries, 0, false);
	haxis(f, &a, x0, x1, y0, y0 + ngroups * group_h, c->unit);
	for (unsigned g = 0; g < ngroups; g++) {
		double yg = y0 + g * group_h + pad / 2;

		row_label(f, groups[g].label, x0 - 6, yg + (group_h - pad) / 2, lw);
		for (unsigned i = 0; i < nseries; i++) {
			double v = groups[g].v[i], yb = yg + i * (bar_h + gap);

			if (!isfinite(v) || v < 0) {
				fprintf(f,
					"<text class=\"bl\" x=\"%.1f\" y=\"%.1f\">no data</text>\n",
					x0 + 4, yb + bar_h - 3);
				continue;
			}
			double pw = axis_pos(&a, x0, x1, v) - x0;
			fprintf(f,
				"<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.0f\" "
				"fill=\"%s\"><title>", x0, yb, pw > 0.5 || v == 0 ? pw : 0.5, bar_h,
				palette[i % NPALETTE]);
			svg_text(f, groups[g].label, 0);
			fputs(": ", f);
			svg_text(f, series[i], 0);
			fprintf(f, " %s</title></rect>"
				"<text class=\"bl\" x=\"%.1f\" y=\"%.1f\">%s</text>\n",
				svg_count(b, sizeof(b), v), x0 + pw + 4, yb + bar_h - 3, b);
		}
	}
	fputs("</svg>\n", f);
}

/* ---- line chart --------------------------------------------------------- */

/* The value of series s at point i, junk as 0. */
static double yval(const struct svg_lines *l, unsigned s, size_t i)
{
	double v = l->y[s][i];

	return isfinite(v) && v > 0 ? v : 0;
}

void svg_line_range(const struct svg_lines *l, struct svg_range *r, bool add)
{
	for (size_t i = 0; i < l->n; i++) {
		if ((!add && i == 0) || l->x0[i] < r->xlo)
			r->xlo = l->x0[i];
		if (l->x1[i] > r->xhi)
			r->xhi = l->x1[i];
		for (unsigned s = 0; s < 2; s++)
			if (yval(l, s, i) > r->ymax[s])
				r->ymax[s] = yval(l, s, i);
	}
}

void svg_line_chart(FILE *f, const struct svg_chart *c, const struct svg_lines *l)
{
	const double h = 320, x0 = 72, x1 = CHART_W - 72, y0 = 56, y1 = h - 52;
	struct svg_range r = { 0 };
	char b[3][32];
	const char *names[2];
	char leg[2][200];

	/* the shared ranges, widened to the points should a caller's be short */
	if (l->shared != NULL)
		r = *l->shared;
	svg_line_range(l, &r, l->shared != NULL);
	double xlo = r.xlo, xhi = r.xhi, *max = r.ymax;
	struct axis ax = axis_for(xlo, xhi > xlo ? xhi : xlo + 1);
	struct axis ay = axis_for(0, max[0]);
	struct axis ay2 = axis_k(max[1], ay.k);

	chart_open(f, c, h);
	for (unsigned s = 0; s < 2; s++) {
		snprintf(leg[s], sizeof(leg[s]), "%s (%s axis)", l->yname[s],
			 s == 0 ? "left" : "right");
		names[s] = leg[s];
	}
	legend(f, 40, names, 2, 0, true);
	/* grid and both y axes */
	fputs("<g class=\"ax\">", f);
	for (unsigned i = 0; i <= ay.k; i++) {
		double y = y1 - (y1 - y0) * i / ay.k;
		fprintf(f, "<line class=\"gl\" x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\"/>"
			"<text class=\"s0\" x=\"%.1f\" y=\"%.1f\" text-anchor=\"end\">%s</text>"
			"<text class=\"s1\" x=\"%.1f\" y=\"%.1f\">%s</text>\n",
			x0 - 4, y, x1 + 4, y, x0 - 6, y + 4,
			svg_short(b[0], sizeof(b[0]), i * ay.step), x1 + 6, y + 4,
			svg_short(b[1], sizeof(b[1]), i * ay2.step));
	}
	for (unsigned i = 0; i <= ax.k; i++) {
		double x = x0 + (x1 - x0) * i / ax.k;
		fprintf(f, "<line class=\"gl\" x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\"/>"
			"<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\">%s</text>\n",
			x, y1, x, y1 + 4, x, y1 + 16,
			svg_short(b[0], sizeof(b[0]), ax.lo + i * ax.step));
	}
	fprintf(f, "<line class=\"bx\" x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\"/>"
		"<line class=\"bx\" x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\"/>"
		"<line class=\"bx\" x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\"/>",
		x0, y1, x1, y1, x0, y0, x0, y1, x1, y0, x1, y1);
	fprintf(f, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\">", (x0 + x1) / 2, y1 + 32);
	svg_text(f, l->xname, 0);
	fputs("</text></g>\n", f);

	/* the two series: a line each, and dots while there are few points */
	for (unsigned s = 0; s < 2; s++) {
		const struct axis *a = s == 0 ? &ay : &ay2;

		fprintf(f, "<polyline fill=\"none\" stroke=\"%s\" stroke-width=\"1.5\" points=\"",
			palette[s]);
		for (size_t i = 0; i < l->n; i++)
			fprintf(f, "%s%.1f,%.1f", i > 0 ? " " : "", axis_pos(&ax, x0, x1, l->x1[i]),
				y1 - axis_pos(a, 0, y1 - y0, yval(l, s, i)));
		fputs("\"/>\n", f);
		for (size_t i = 0; l->n <= 60 && i < l->n; i++)
			fprintf(f, "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"2.5\" fill=\"%s\"/>",
				axis_pos(&ax, x0, x1, l->x1[i]),
				y1 - axis_pos(a, 0, y1 - y0, yval(l, s, i)), palette[s]);
	}
	/* one invisible column per point, its tooltip both values */
	fputs("\n<g class=\"hv\" fill=\"#000\" fill-opacity=\"0\">\n", f);
	for (size_t i = 0; i < l->n; i++) {
		double px = axis_pos(&ax, x0, x1, l->x1[i]);
		double left = i == 0 ? x0 : (axis_pos(&ax, x0, x1, l->x1[i - 1]) + px) / 2;
		double right = i + 1 == l->n ? x1 : (axis_pos(&ax, x0, x1, l->x1[i + 1]) + px) / 2;

		fprintf(f, "<rect x=\"%.1f\" y=\"%.0f\" width=\"%.1f\" height=\"%.0f\"><title>",
			left, y0, right - left > 0.1 ? right - left : 0.1, y1 - y0);
		svg_text(f, l->xname, 0);
		fprintf(f, " %s..%s: ", svg_count(b[0], sizeof(b[0]), l->x0[i]),
			svg_count(b[1], sizeof(b[1]), l->x1[i]));
		svg_text(f, l->yname[0], 0);
		fprintf(f, " %s, ", svg_count(b[2], sizeof(b[2]), yval(l, 0, i)));
		svg_text(f, l->yname[1], 0);
		fprintf(f, " %s</title></rect>\n", svg_count(b[2], sizeof(b[2]), yval(l, 1, i)));
	}
	fputs("</g>\n</svg>\n", f);
}
