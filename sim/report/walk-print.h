/*
 * walk-print.h — printing a guest page-table walk, as `shadowvt walk`
 * and `shadowvt demo` show it (walk-print.c).
 */
#ifndef SVT_WALK_PRINT_H
#define SVT_WALK_PRINT_H

#include <stdio.h>

#include "svt.h"

/* The walk w of access acc under registers r, as text. */
void svt_walk_print_text(FILE *f, const struct svt_regs *r, const struct svt_access *acc,
			 const struct svt_walk *w);
/* The same as one JSON object and a newline (shadowvt(1), "JSON output of walk"). */
void svt_walk_print_json(FILE *f, const struct svt_walk *w);

#endif
