/*
 * progress.c — the status line of long commands (progress.h).  "\r" and
 * "erase to the end of the line" (ESC [ K) redraw it in place; it is cut
 * to the terminal's width because a line that wraps can no longer be
 * erased with "\r".
 */
#define _POSIX_C_SOURCE 200809L
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <time.h>
#include <unistd.h>

#include "progress.h"

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* SHADOWVT_PROGRESS_DELAY if it is a number of seconds from 0 to 60, else
 * the default. */
static double delay(void)
{
	const char *s = getenv("SHADOWVT_PROGRESS_DELAY");
	char *end;
	double d = s && *s ? strtod(s, &end) : -1;

	return d >= 0 && d <= 60 && *end == '\0' ? d : SVT_PROGRESS_DELAY;
}

void svt_progress_start(struct svt_progress *p, bool quiet)
{
	p->on = !quiet && isatty(STDERR_FILENO);
	p->drawn = false;
	p->t0 = now();
	p->next = p->t0 + delay();
}

bool svt_progress_due(const struct svt_progress *p)
{
	return p->on && now() >= p->next;
}

double svt_progress_elapsed(const struct svt_progress *p)
{
	return now() - p->t0;
}

static size_t columns(void)
{
	struct winsize ws;

	if (ioctl(STDERR_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 1)
		return ws.ws_col;
	return 80;
}

void svt_progress_draw(struct svt_progress *p, const char *fmt, ...)
{
	char line[512];
	va_list ap;

	if (!svt_progress_due(p))
		return;
	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	/* one column short of the width: some terminals wrap on the last one */
	size_t w = columns() - 1;
	if (w < sizeof(line) && strlen(line) > w)
		line[w] = '\0';
	fprintf(stderr, "\r\033[K%s", line);
	fflush(stderr);
	p->drawn = true;
	p->next = now() + SVT_PROGRESS_EVERY;
}

void svt_progress_log(struct svt_progress *p, const char *fmt, ...)
{
	va_list ap;

	svt_progress_end(p);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	fflush(stderr);
}

void svt_progress_end(struct svt_progress *p)
{
	if (!p->drawn)
		return;
	fputs("\r\033[K", stderr);
	fflush(stderr);
	p->drawn = false;
}

void svt_progress_eta(char *buf, size_t len, uint64_t done, uint64_t total, double elapsed)
{
	if (done == 0 || elapsed <= 0) {
		snprintf(buf, len, "?");
		return;
	}
	double left = done >= total ? 0 : elapsed * (double)(total - done) / (double)done;
	unsigned long s = (unsigned long)(left + 0.5);
	if (s < 60)
		snprintf(buf, len, "%lu s", s);
	else if (s < 3600)
		snprintf(buf, len, "%lu min %02lu s", s / 60, s % 60);
	else
		snprintf(buf, len, "%lu h %02lu min", s / 3600, s / 60 % 60);
}

static void count(char *buf, size_t len, double v)
{
	if (v < 1e3)
		snprintf(buf, len, "%.0f", v);
	else if (v < 1e6)
		snprintf(buf, len, "%.1f k", v / 1e3);
	else
		snprintf(buf, len, "%.2f M", v / 1e6);
}

void svt_progress_count(char *buf, size_t len, uint64_t n)
{
	count(buf, len, (double)n);
}

void svt_progress_rate(char *buf, size_t len, uint64_t n, double elapsed)
{
	count(buf, len, elapsed > 0 ? (double)n / elapsed : 0);
}

void svt_progress_bytes(char *buf, size_t len, uint64_t bytes)
{
	double b = (double)bytes;

	if (bytes < 1000)
		snprintf(buf, len, "%u B", (unsigned)bytes);
	else if (b < 1e6)
		snprintf(buf, len, "%.1f KB", b / 1e3);
	else if (b < 1e9)
		snprintf(buf, len, "%.1f MB", b / 1e6);
	else
		snprintf(buf, len, "%.2f GB", b / 1e9);
}
