/*
 * db-write.c — writing runs into the results database (db.h): the run row,
 * then violations, timeline intervals and counters in batches, then the
 * run's end.
 *
 * Rows are queued in memory and each batch is written in one short BEGIN
 * IMMEDIATE transaction: every BATCH_ROWS rows, when the oldest queued row
 * is BATCH_NS old (checked as rows arrive), and at run end, flush and
 * close.  Holding a transaction open between rows instead would hold
 * SQLite's single write lock through the replay work in between, and
 * parallel replays into one file would take turns rather than run.  A
 * queue loses what an uncommitted transaction would when the process is
 * killed, and nothing more: committed batches stay, the rest is gone, and
 * the database is consistent (WAL).
 *
 * The writer's statements and queue are made on the first write (db_int.h
 * says why).
 */
#define _POSIX_C_SOURCE 200809L
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "db_int.h"

#define BATCH_ROWS      256             /* queued rows written together... */
#define BATCH_NS        1000000000LL    /* ...or once the oldest is this old */

enum row_kind { ROW_VIOLATION, ROW_INTERVAL, ROW_COUNTER };

struct pending {
	enum row_kind kind;
	int64_t run;
	char *s1, *s2;                  /* owned: invariant and what, or counter name */
	union {
		struct svt_db_violation v;
		struct svt_db_interval iv;
		uint64_t value;
	} u;
};

enum { ST_RUN, ST_END, ST_VIOL, ST_IV, ST_CTR, ST_N };

/* Column names for the counters, and their parameters ?5, ?6, ... */
#define IV_COLUMN(name, kind, what) ", " #name
#define IV_PARAM(name, kind, what) ", ?"

/* Columns are named: a migrated database has added columns at the end. */
static const char *const write_sql[ST_N] = {
	[ST_RUN] = "INSERT INTO runs (trace, trace_checksum, guest, workload, policy,"
		" recorded_policy, audit, tool_version, trace_events, pid, host, started, status)"
		" VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11,"
		" coalesce(?12, strftime('%Y-%m-%dT%H:%M:%fZ', 'now')), 'running')",
	[ST_END] = "UPDATE runs SET finished = coalesce(?8, strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),"
		" status = ?2, events = ?3, violations = ?4, divergence_seq = ?5, seconds = ?6,"
		" message = ?7, whatif = coalesce(?9, whatif) WHERE id = ?1",
	[ST_VIOL] = "INSERT INTO violations (run, seq, invariant, va, gfn, level, guest_entry,"
		" shadow_entry, what, from_seq, to_seq)"
		" VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)",
	[ST_IV] = "INSERT INTO timeline (run, first_seq, last_seq, events"
		SVT_COUNTERS(IV_COLUMN) ") VALUES (?1, ?2, ?3, ?4" SVT_COUNTERS(IV_PARAM) ")",
	[ST_CTR] = "INSERT INTO counters (run, name, value) VALUES (?1, ?2, ?3)"
		" ON CONFLICT (run, name) DO UPDATE SET value = excluded.value",
};

struct db_writer {
	sqlite3_stmt *st[ST_N];
	bool in_txn;                    /* svt_db_begin: batches join its transaction */
	unsigned nq;
	struct timespec q_since;        /* when the oldest queued row came */
	struct pending q[BATCH_ROWS];
};

static struct db_writer *writer(struct svt_db *db);

static int64_t s64(uint64_t v)
{
	return (int64_t)v;      /* two's complement: >= 2^63 reads back negative */
}

static int bind_text(sqlite3_stmt *st, int i, const char *s)
{
	return s ? sqlite3_bind_text(st, i, s, -1, SQLITE_STATIC) : sqlite3_bind_null(st, i);
}

/* Step a bound insert or update once and make it reusable.  bound: the
 * binds' results or'ed together (SQLITE_OK is 0). */
static int run_stmt(struct svt_db *db, sqlite3_stmt *st, int bound, const char *what)
{
	int rc = bound == SQLITE_OK ? sqlite3_step(st) : bound;

	if (rc != SQLITE_DONE)
		db_fail(db, -1, "%s: %s", what, bound == SQLITE_OK ? sqlite3_errmsg(db->h)
			: "cannot bind values");
	sqlite3_reset(st);
	sqlite3_clear_bindings(st);
	return rc == SQLITE_DONE ? 0 : -1;
}

static int write_row(struct svt_db *db, const struct pending *p)
{
	sqlite3_stmt *st;
	int b = 0;

	switch (p->kind) {
	case ROW_VIOLATION: {
		const struct svt_db_violation *v = &p->u.v;
		st = db->w->st[ST_VIOL];
		b |= sqlite3_bind_int64(st, 1, p->run);
		b |= sqlite3_bind_int64(st, 2, s64(v->seq));
		b |= bind_text(st, 3, v->invariant);
		b |= sqlite3_bind_int64(st, 4, s64(v->va));
		b |= sqlite3_bind_int64(st, 5, s64(v->gfn));
		b |= sqlite3_bind_int64(st, 6, v->level);
		b |= sqlite3_bind_int64(st, 7, s64(v->guest_entry));
		b |= sqlite3_bind_int64(st, 8, s64(v->shadow_entry));
		b |= bind_text(st, 9, v->what);
		b |= sqlite3_bind_int64(st, 10, s64(v->from_seq));
		b |= sqlite3_bind_int64(st, 11, s64(v->to_seq));
		return run_stmt(db, st, b, "writing a violation");
	}
	case ROW_INTERVAL: {
		const struct svt_db_interval *iv = &p->u.iv;
#define IV_VALUE(name, kind, what) iv->ctr.name,
		const uint64_t f[] = { iv->first_seq, iv->last_seq, iv->events,
				       SVT_COUNTERS(IV_VALUE) };
#undef IV_VALUE
		st = db->w->st[ST_IV];
		b |= sqlite3_bind_int64(st, 1, p->run);
		for (int i = 0; i < (int)(sizeof(f) / sizeof(f[0])); i++)
			b |= sqlite3_bind_int64(st, i + 2, s64(f[i]));
		return run_stmt(db, st, b, "writing a timeline interval");
	}
	case ROW_COUNTER:
		st = db->w->st[ST_CTR];
		b |= sqlite3_bind_int64(st, 1, p->run);
		b |= bind_text(st, 2, p->s1);
		b |= sqlite3_bind_int64(st, 3, s64(p->u.value));
		return run_stmt(db, st, b, "writing a counter");
	}
	return db_fail(db, -1, "internal error: bad queued row");
}

static void drop_queue(struct db_writer *w)
{
	for (unsigned i = 0; i < w->nq; i++) {
		free(w->q[i].s1);
		free(w->q[i].s2);
	}
	w->nq = 0;
}

/*
 * Write the queued rows, and the end of run `run` if e is not NULL, in one
 * transaction.  The queue is emptied either way: a batch that failed once
 * (rows of a missing run, a full disk, a minute's wait for the lock) would
 * fail again.
 */
static int write_batch(struct svt_db *db, int64_t run, const struct svt_db_run_end *e)
{
	struct db_writer *w = db->w;
	int rc = 0, b = 0;

	if (w->nq == 0 && e == NULL)
		return 0;
	if (!w->in_txn && db_exec(db, db->h, "BEGIN IMMEDIATE", "writing results") != 0) {
		drop_queue(w);
		return -1;
	}
	for (unsigned i = 0; i < w->nq && rc == 0; i++)
		rc = write_row(db, &w->q[i]);
	if (rc == 0 && e != NULL) {
		sqlite3_stmt *st = w->st[ST_END];
		b |= sqlite3_bind_int64(st, 1, run);
		b |= bind_text(st, 2, svt_db_run_status_name(e->status));
		b |= sqlite3_bind_int64(st, 3, s64(e->events));
		b |= sqlite3_bind_int64(st, 4, s64(e->violations));
		b |= e->divergence_seq < 0 ? sqlite3_bind_null(st, 5)
					   : sqlite3_bind_int64(st, 5, e->divergence_seq);
		b |= sqlite3_bind_double(st, 6, e->seconds);
		b |= bind_text(st, 7, e->message);
		b |= bind_text(st, 8, e->finished);
		b |= bind_text(st, 9, e->whatif);
		rc = run_stmt(db, st, b, "ending the run");
		if (rc == 0 && sqlite3_changes(db->h) != 1)
			rc = db_fail(db, -1, "ending run %lld: there is no such run",
				     (long long)run);
	}
	if (w->in_txn) {        /* svt_db_commit commits, or the failure rolls back */
		drop_queue(w);
		return rc;
	}
	if (rc == 0 && db_exec(db, db->h, "COMMIT", "committing results") != 0)
		rc = -1;
	if (rc != 0 && !sqlite3_get_autocommit(db->h))
		sqlite3_exec(db->h, "ROLLBACK", NULL, NULL, NULL);
	drop_queue(w);
	return rc;
}

int svt_db_begin(struct svt_db *db)
{
	struct db_writer *w = writer(db);

	if (w == NULL)
		return -1;
	if (w->in_txn)
		return db_fail(db, -1, "internal error: a transaction is already open");
	if (write_batch(db, 0, NULL) != 0 ||
	    db_exec(db, db->h, "BEGIN IMMEDIATE", "writing results") != 0)
		return -1;
	w->in_txn = true;
	return 0;
}

int svt_db_commit(struct svt_db *db)
{
	struct db_writer *w = db->w;

	if (w == NULL || !w->in_txn)
		return db_fail(db, -1, "internal error: no transaction to commit");
	if (write_batch(db, 0, NULL) != 0) {
		svt_db_rollback(db);
		return -1;
	}
	w->in_txn = false;
	if (db_exec(db, db->h, "COMMIT", "committing results") != 0) {
		if (!sqlite3_get_autocommit(db->h))
			sqlite3_exec(db->h, "ROLLBACK", NULL, NULL, NULL);
		return -1;
	}
	return 0;
}

void svt_db_rollback(struct svt_db *db)
{
	struct db_writer *w = db->w;

	if (w == NULL)
		return;
	drop_queue(w);
	w->in_txn = false;
	if (!sqlite3_get_autocommit(db->h))
		sqlite3_exec(db->h, "ROLLBACK", NULL, NULL, NULL);
}

static int flush_hook(struct svt_db *db)
{
	return write_batch(db, 0, NULL);
}

static void close_hook(struct svt_db *db)
{
	struct db_writer *w = db->w;

	if (w == NULL)          /* closed already (a writer that could not be made) */
		return;
	write_batch(db, 0, NULL);       /* svt_db_flush first to see errors */
	drop_queue(w);
	for (int i = 0; i < ST_N; i++)
		sqlite3_finalize(w->st[i]);
	free(w);
	db->w = NULL;
}

/* The connection's writer, made on first use. */
static struct db_writer *writer(struct svt_db *db)
{
	struct db_writer *w;

	if (db->w != NULL)
		return db->w;
	if (!db->writable) {
		db_fail(db, -1, "opened read-only");
		return NULL;
	}
	if ((w = calloc(1, sizeof(*w))) == NULL) {
		db_fail(db, -1, "out of memory");
		return NULL;
	}
	db->w = w;
	db->flush = flush_hook;
	db->close_writer = close_hook;
	for (int i = 0; i < ST_N; i++) {
		if (sqlite3_prepare_v3(db->h, write_sql[i], -1, SQLITE_PREPARE_PERSISTENT,
				       &w->st[i], NULL) != SQLITE_OK) {
			db_sqlfail(db, db->h, "preparing to write");
			close_hook(db);
			return NULL;
		}
	}
	return w;
}

int svt_db_flush(struct svt_db *db)
{
	return db->w != NULL ? write_batch(db, 0, NULL) : 0;
}

static struct pending *enqueue(struct svt_db *db, int64_t run, enum row_kind kind)
{
	struct db_writer *w = writer(db);
	struct pending *p;

	if (w == NULL)
		return NULL;
	if (run <= 0) {
		db_fail(db, -1, "there is no run %lld", (long long)run);
		return NULL;
	}
	if (w->nq == 0)
		clock_gettime(CLOCK_MONOTONIC, &w->q_since);
	p = &w->q[w->nq];
	memset(p, 0, sizeof(*p));
	p->kind = kind;
	p->run = run;
	return p;
}

/* The row at the queue's end is complete: write the batch if it is full
 * or its oldest row old enough. */
static int queued(struct svt_db *db)
{
	struct db_writer *w = db->w;
	struct timespec now;

	w->nq++;
	clock_gettime(CLOCK_MONOTONIC, &now);
	if (w->nq < BATCH_ROWS && (now.tv_sec - w->q_since.tv_sec) * 1000000000LL +
	    (now.tv_nsec - w->q_since.tv_nsec) < BATCH_NS)
		return 0;
	return write_batch(db, 0, NULL);
}

int svt_db_violation(struct svt_db *db, int64_t run, const struct svt_db_violation *v)
{
	struct pending *p;

	if (v->invariant == NULL)
		return db_fail(db, -1, "violation at event %llu: no invariant",
			       (unsigned long long)v->seq);
	if ((p = enqueue(db, run, ROW_VIOLATION)) == NULL)
		return -1;
	p->u.v = *v;
	p->u.v.invariant = p->s1 = strdup(v->invariant);
	p->u.v.what = p->s2 = v->what ? strdup(v->what) : NULL;
	if (p->s1 == NULL || (v->what != NULL && p->s2 == NULL)) {
		free(p->s1);
		free(p->s2);
		return db_fail(db, -1, "out of memory");
	}
	return queued(db);
}

int svt_db_interval(struct svt_db *db, int64_t run, const struct svt_db_interval *iv)
{
	struct pending *p = enqueue(db, run, ROW_INTERVAL);

	if (p == NULL)
		return -1;
	p->u.iv = *iv;
	return queued(db);
}

int svt_db_counters(struct svt_db *db, int64_t run, const struct svt_counters *c)
{
	int rc = 0;

#define ONE_COUNTER(name, kind, what) \
	if (rc == 0) \
		rc = svt_db_counter(db, run, #name, c->name);
	SVT_COUNTERS(ONE_COUNTER)
#undef ONE_COUNTER
	return rc;
}

int svt_db_counter(struct svt_db *db, int64_t run, const char *name, uint64_t value)
{
	struct pending *p;

	if (name == NULL)
		return db_fail(db, -1, "counter without a name");
	if ((p = enqueue(db, run, ROW_COUNTER)) == NULL)
		return -1;
	p->u.value = value;
	if ((p->s1 = strdup(name)) == NULL)
		return db_fail(db, -1, "out of memory");
	return queued(db);
}

int64_t svt_db_run_begin(struct svt_db *db, const struct svt_db_run *r)
{
	struct db_writer *w = writer(db);
	sqlite3_stmt *st;
	char host[256];
	int b = 0;

	if (w == NULL)
		return -1;
	if (r->trace == NULL || r->policy == NULL)
		return db_fail(db, -1, "a run needs a trace and a policy");
	if (write_batch(db, 0, NULL) != 0)
		return -1;
	if (gethostname(host, sizeof(host)) != 0)
		host[0] = '\0';
	host[sizeof(host) - 1] = '\0';
	st = w->st[ST_RUN];
	b |= sqlite3_bind_text(st, 1, r->trace, -1, SQLITE_STATIC);
	b |= bind_text(st, 2, r->trace_checksum);
	b |= bind_text(st, 3, r->guest);
	b |= bind_text(st, 4, r->workload);
	b |= sqlite3_bind_text(st, 5, r->policy, -1, SQLITE_STATIC);
	b |= sqlite3_bind_int(st, 6, r->recorded_policy);
	b |= bind_text(st, 7, r->audit);
	b |= bind_text(st, 8, r->tool_version);
	b |= sqlite3_bind_int64(st, 9, s64(r->trace_events));
	b |= sqlite3_bind_int64(st, 10, r->pid ? r->pid : (int64_t)getpid());
	b |= sqlite3_bind_text(st, 11, r->host ? r->host : host, -1, SQLITE_STATIC);
	b |= bind_text(st, 12, r->started);
	/* Outside a transaction (unless svt_db_begin opened one): committed at
	 * once, so the run is visible. */
	if (run_stmt(db, st, b, "recording the run") != 0)
		return -1;
	return sqlite3_last_insert_rowid(db->h);
}

int svt_db_run_end(struct svt_db *db, int64_t run, const struct svt_db_run_end *e)
{
	if (writer(db) == NULL)
		return -1;
	if (e->status != SVT_RUN_CLEAN && e->status != SVT_RUN_VIOLATIONS &&
	    e->status != SVT_RUN_BAD_INPUT && e->status != SVT_RUN_INCOMPLETE)
		return db_fail(db, -1, "ending run %lld: bad status %d", (long long)run,
			       (int)e->status);
	return write_batch(db, run, e);
}
