/*
 * query-print.h — printing what a results database holds as `shadowvt
 * query` shows it (query-print.c): a canned report or the rows of the
 * user's SQL, as an aligned table, CSV or JSON.
 */
#ifndef SVT_QUERY_PRINT_H
#define SVT_QUERY_PRINT_H

#include <stdint.h>
#include <stdio.h>

#include "db.h"

enum svt_db_format { SVT_DB_TABLE, SVT_DB_CSV, SVT_DB_JSON };

/* Print report `name` (svt_db_reports; NULL: the first) or, if sql is not
 * NULL, the rows of the user's statement (svt_db_select) to f.  run > 0
 * restricts per-run reports to that run, or is bound to :run.  Returns 0,
 * or -1 with the message in svt_db_error. */
int svt_db_report(struct svt_db *db, const char *name, const char *sql, int64_t run,
		  enum svt_db_format fmt, FILE *f);

#endif /* SVT_QUERY_PRINT_H */
