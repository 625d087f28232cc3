/*
 * progress.c — the status line of long commands (progress.h).  "\r" and
 * "erase to the end of the line" (ESC [ K) redraw it in place; it is cut
 * to the terminal's width because a line that wraps can no longer be
 * erased with "\r".  One lock for the screen: the status line and the
 * lines printed above it, from any thread.
 */
#define _POSIX_C_SOURCE 200809L
#include <pthread.h>
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

static pthread_mutex_t screen = PTHREAD_MUTEX_INITIALIZER;

void svt_progress_start(struct svt_progress *p, bool quiet)
{
	p->on = !quiet && isatty(STDERR_FILENO);
	p->drawn = false;
	p->line[0] = '\0';
	p->t0 = now();
	p->first = p->t0 + delay();
	p->next = p->first;
}

static bool due(const struct svt_progress *p)
{
	return p->on && now() >= p->next;
}

bool svt_progress_due(const struct svt_progress *p)
{
	if (!p->on)
		return false;
	pthread_mutex_lock(&screen);
	bool d = due(p);
	pthread_mutex_unlock(&screen);
	return d;
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

/* p->line, in place of whatever is on the status line (under the lock) */
static void show(struct svt_progress *p)
{
	fprintf(stderr, "\r\033[K%s", p->line);
	fflush(stderr);
	p->drawn = true;
}

/* the status line off the screen, p->line kept (under the lock) */
static void erase(struct svt_progress *p)
{
	if (!p->drawn)
		return;
	fputs("\r\033[K", stderr);
	fflush(stderr);
	p->drawn = false;
}

void svt_progress_draw(struct svt_progress *p, const char *fmt, ...)
{
	va_list ap;

	if (!p->on)
		return;
	pthread_mutex_lock(&screen);
	if (due(p)) {
		va_start(ap, fmt);
		vsnprintf(p->line, sizeof(p->line), fmt, ap);
		va_end(ap);
		/* one column short of the width: some terminals wrap on the last one */
		size_t w = columns() - 1;
		if (w < sizeof(p->line) && strlen(p->line) > w)
			p->line[w] = '\0';
		show(p);
		p->next = now() + SVT_PROGRESS_EVERY;
	}
	pthread_mutex_unlock(&screen);
}

void svt_progress_hold(struct svt_progress *p)
{
	pthread_mutex_lock(&screen);
	if (p)
		erase(p);
}

void svt_progress_release(struct svt_progress *p)
{
	if (p && p->on) {       /* what was printed before the line comes back */
		fflush(stdout);
		fflush(stderr);
		if (p->line[0])
			show(p);
	}
	pthread_mutex_unlock(&screen);
}

void svt_progress_vprint(struct svt_progress *p, FILE *f, const char *fmt, va_list ap)
{
	svt_progress_hold(p);
	vfprintf(f, fmt, ap);
	svt_progress_release(p);
}

void svt_progress_print(struct svt_progress *p, FILE *f, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	svt_progress_vprint(p, f, fmt, ap);
	va_end(ap);
}

void svt_progress_log(struct svt_progress *p, const char *fmt, ...)
{
	va_list ap;

	svt_progress_hold(p);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	svt_progress_release(p);
}

void svt_progress_end(struct svt_progress *p)
{
	pthread_mutex_lock(&screen);
	erase(p);
	p->line[0] = '\0';     /* not drawn again by a line printed later */
	double t = now();
	p->next = t > p->first ? t : p->first;
	pthread_mutex_unlock(&screen);
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
