/*
 * db-find.c — looking up a finished run by what it was made from (db.h):
 * shadowvt run reuses a run whose trace, policy, audit level and tool
 * version are the ones it would replay with.
 */
#include <string.h>

#include "db_int.h"

int64_t svt_db_find_run(struct svt_db *db, const char *checksum, const char *policy,
			const char *audit, const char *tool_version)
{
	static const char sql[] =
		"SELECT id FROM runs WHERE trace_checksum = ?1 AND policy = ?2 AND audit = ?3"
		" AND tool_version = ?4 AND status IN ('clean', 'violations', 'bad-input')"
		" ORDER BY id DESC LIMIT 1";
	const char *const v[4] = { checksum, policy, audit, tool_version };
	sqlite3_stmt *st = NULL;
	int64_t id = 0;
	int rc;

	if (db->flush != NULL && db->flush(db) != 0)
		return -1;
	if (sqlite3_prepare_v2(db->h, sql, -1, &st, NULL) != SQLITE_OK) {
		db_sqlfail(db, db->h, "looking up a run");
		return -1;
	}
	for (int i = 0; i < 4; i++)
		if (sqlite3_bind_text(st, i + 1, v[i], -1, SQLITE_TRANSIENT) != SQLITE_OK) {
			db_sqlfail(db, db->h, "looking up a run");
			sqlite3_finalize(st);
			return -1;
		}
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW)
		id = sqlite3_column_int64(st, 0);
	else if (rc != SQLITE_DONE) {
		db_sqlfail(db, db->h, "looking up a run");
		id = -1;
	}
	sqlite3_finalize(st);
	return id;
}
