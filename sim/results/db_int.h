/*
 * db_int.h — internals of the results database shared by its files: the
 * connection (db.c opens, checks, migrates and reads it) and the hooks of
 * the write half (db-write.c queues and writes runs).  The write half
 * attaches itself to a connection on its first write, so a program that
 * only reads (shadowvt query) links without it.  Nothing here is for users
 * of sim/results/db.h.
 */
#ifndef SVT_DB_INT_H
#define SVT_DB_INT_H

#include <sqlite3.h>

#include "db.h"

#define DB_APP_ID       0x53565452      /* PRAGMA application_id: 'SVTR' */

struct db_writer;

struct svt_db {
	sqlite3 *h;
	char *path;                     /* as given: every message starts with it */
	bool writable;                  /* opened with create = true */
	struct db_writer *w;            /* db-write.c: statements and queue, or NULL */
	int (*flush)(struct svt_db *db);        /* write what w has queued */
	void (*close_writer)(struct svt_db *db); /* flush, finalize, free w */
	char err[512];
};

/* "PATH: " and the message into db->err; return status (SVT_DB_E*, or -1). */
int db_fail(struct svt_db *db, int status, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
/* The last error on h, with what was being done: damage and foreign files
 * are SVT_DB_EINPUT, anything else SVT_DB_EIO. */
int db_sqlfail(struct svt_db *db, sqlite3 *h, const char *what);
/* sqlite3_exec without rows; 0 or db_sqlfail's status. */
int db_exec(struct svt_db *db, sqlite3 *h, const char *sql, const char *what);
/* One of the program's own statements that read (db-read.c), pending rows
 * committed first, args[i] bound to ?(i + 1): prepared (db_prepare_read;
 * NULL on failure) or read whole into out (db_select; 0 or -1).  what
 * names it in messages. */
sqlite3_stmt *db_prepare_read(struct svt_db *db, const char *what, const char *sql,
			      const int64_t *args, unsigned nargs);
int db_select(struct svt_db *db, const char *what, const char *sql, const int64_t *args,
	      unsigned nargs, struct svt_db_rows *out);

#endif /* SVT_DB_INT_H */
