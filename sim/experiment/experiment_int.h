/*
 * experiment_int.h — shared by experiment.c (reading the file with
 * libxml2, the schema, error reporting) and experiment-check.c (the
 * element table, the checks the schema cannot make, the plain struct).
 * Nothing here is for users of experiment.h.
 */
#ifndef SVT_EXPERIMENT_INT_H
#define SVT_EXPERIMENT_INT_H

#include <libxml/tree.h>

#include "experiment.h"

struct exp_msg {
	long line;                      /* 0: the file as a whole */
	unsigned order;                 /* the order it was found in, for equal lines */
	char text[1024];
};

/* messages kept, to print SVT_EXP_MAX_ERRORS in line order */
#define EXP_KEEP        64

struct exp_ctx {
	const char *file;               /* the name in messages */
	const char *dir;                /* the base of relative input paths */
	const char *results_dir;        /* the base of <results> paths, or NULL: dir */
	FILE *err;                      /* NULL: silent */
	unsigned nerrors;
	struct exp_msg *msgs;           /* what exp_error kept (NULL: none yet, or no memory) */
	unsigned nmsgs;
};

/* Count a problem and keep its message for exp_flush; every check goes on
 * after one, so that one pass finds them all. */
void exp_error(struct exp_ctx *c, long line, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
/* Print the kept messages as "FILE:LINE: message" by line (the same
 * message on the same line once), at most SVT_EXP_MAX_ERRORS; forget them. */
void exp_flush(struct exp_ctx *c);
long exp_line(const xmlNode *n);

/* experiment-check.c: values.  exp_trim strips XML whitespace in place;
 * exp_parse_int reads a decimal integer in [min, max]; exp_parse_policy
 * reads a policy string over *p and *pool, or says why it is not one. */
char *exp_trim(char *s);
bool exp_parse_int(const char *s, uint64_t min, uint64_t max, uint64_t *out);
bool exp_parse_policy(const char *spec, struct svt_policy *p, unsigned *pool, char *why,
		      size_t len);

/* experiment-check.c: the element and attribute table, checked over the
 * whole tree (every problem reported); returns the number of problems.
 * exp_is_root: root is <experiment> in the experiment namespace (else the
 * table checks nothing below it, and there is nothing to build). */
unsigned exp_check_structure(struct exp_ctx *c, xmlNode *root);
bool exp_is_root(const xmlNode *root);
/* experiment-build.c: the tree into an experiment, with the checks of
 * names, workloads, guests, policies and files; NULL on any problem it
 * finds (reported).  It also runs on a tree the table found problems in,
 * so that one pass reports everything: what the table reports (a missing
 * attribute, a bad value, an element out of place) it leaves out or takes
 * the default for, without a second message. */
struct svt_experiment *exp_build(struct exp_ctx *c, xmlNode *root);

#endif
