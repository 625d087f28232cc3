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

struct exp_ctx {
	const char *file;               /* the name in messages */
	const char *dir;                /* the base of relative input paths */
	const char *results_dir;        /* the base of <results> paths, or NULL: dir */
	FILE *err;                      /* NULL: silent */
	unsigned nerrors;
};

/* Print "FILE:LINE: message" (at most SVT_EXP_MAX_ERRORS of them) and count it. */
void exp_error(struct exp_ctx *c, long line, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
long exp_line(const xmlNode *n);

/* experiment-check.c: values.  exp_trim strips XML whitespace in place;
 * exp_parse_int reads a decimal integer in [min, max]; exp_parse_policy
 * reads a policy string over *p and *pool, or says why it is not one. */
char *exp_trim(char *s);
bool exp_parse_int(const char *s, uint64_t min, uint64_t max, uint64_t *out);
bool exp_parse_policy(const char *spec, struct svt_policy *p, unsigned *pool, char *why, size_t len);

/* experiment-check.c: the element and attribute table, checked over the
 * whole tree (every problem reported); returns the number of problems. */
unsigned exp_check_structure(struct exp_ctx *c, xmlNode *root);
/* experiment-build.c: the tree, already structurally right, into an experiment, with the
 * checks of names, workloads, guests, policies and files; NULL on any
 * problem (reported). */
struct svt_experiment *exp_build(struct exp_ctx *c, xmlNode *root);

#endif
