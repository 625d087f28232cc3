/*
 * progress.h — one status line on stderr for work that takes a while
 * (synth, export, record, replay, reduce, run): redrawn at most every
 * SVT_PROGRESS_EVERY seconds, the first time only once the work has run
 * SVT_PROGRESS_DELAY seconds (short work draws nothing; the environment's
 * SHADOWVT_PROGRESS_DELAY, 0 to 60 seconds, overrides it), erased at the
 * end so that what follows starts on a clean line.  Off when stderr is not
 * a terminal or the command was given -q: logs and pipes never see it.
 *
 * Every line a command prints while the status line may be drawn goes
 * through the drawer (svt_progress_log, svt_progress_print, or between
 * svt_progress_hold and svt_progress_release): on a terminal stdout and
 * stderr share the screen, and a line printed past the drawn status line
 * would land on it.  The drawer erases the status line, prints, and draws
 * it again.
 *
 * Thread-safe: one lock (there is one terminal) serialises the drawing and
 * the lines of every thread; a caller's own lock may be held around any of
 * these calls.
 */
#ifndef SVT_PROGRESS_H
#define SVT_PROGRESS_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#define SVT_PROGRESS_DELAY 0.5  /* seconds before the first line (default) */
#define SVT_PROGRESS_EVERY 0.2  /* seconds between redraws */

struct svt_progress {
	bool on;                /* stderr is a terminal and not quiet */
	bool drawn;             /* a line is on the screen now */
	double t0;              /* when the work started */
	double first;           /* the earliest time of the first line */
	double next;            /* the earliest time of the next redraw */
	char line[512];         /* the text drawn last: drawn again after a line */
};

/* Start the clock; on when !quiet and stderr is a terminal. */
void svt_progress_start(struct svt_progress *p, bool quiet);

/* Is a redraw due (on, and the time has come)?  Cheap: call it often. */
bool svt_progress_due(const struct svt_progress *p);

/* Redraw the line with this text if one is due (cut to the terminal's
 * width, so that it never wraps and can always be erased). */
void svt_progress_draw(struct svt_progress *p, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* A line that stays (a guest's console line, say), on stderr with a '\n'
 * added: the status line is erased first and drawn again after it.
 * Printed whether or not the status line is on. */
void svt_progress_log(struct svt_progress *p, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* The same on f (stdout, say), the text as it is (the caller ends it with
 * '\n'); f is flushed before the status line is drawn again.  p may be
 * NULL (no status line): plain fprintf, under the lock. */
void svt_progress_print(struct svt_progress *p, FILE *f, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
void svt_progress_vprint(struct svt_progress *p, FILE *f, const char *fmt, va_list ap)
	__attribute__((format(printf, 3, 0)));

/* For several lines printed with plain stdio calls: hold takes the lock
 * and erases the status line; release (with the status line on) flushes
 * stdout and stderr and draws the status line again, then lets go.  No
 * other svt_progress call between; p may be NULL (only the lock). */
void svt_progress_hold(struct svt_progress *p);
void svt_progress_release(struct svt_progress *p);

/* Erase the line if one is drawn; the helper stays usable, and the next
 * line (of the next step of the work) is drawn at once, but never before
 * the delay. */
void svt_progress_end(struct svt_progress *p);

/* Seconds since svt_progress_start. */
double svt_progress_elapsed(const struct svt_progress *p);

/* "12 s", "3 min 20 s", "1 h 05 min": the time left to do total at the
 * rate done took so far, or "?" before there is a rate. */
void svt_progress_eta(char *buf, size_t len, uint64_t done, uint64_t total, double elapsed);

/* A count, and a count per second over elapsed seconds, as "812", "12.3 k",
 * "1.20 M" (rate: "0" before there is a rate). */
void svt_progress_count(char *buf, size_t len, uint64_t n);
void svt_progress_rate(char *buf, size_t len, uint64_t n, double elapsed);

/* A byte count as "812 B", "12.3 KB", "793.0 MB", "1.20 GB" (powers of 1000). */
void svt_progress_bytes(char *buf, size_t len, uint64_t bytes);

#endif
