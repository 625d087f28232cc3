#!/bin/sh
# The results layer (sim/results/: db.h is its interface) is the only code
# that speaks SQL.  In
# the sources (every C file of the tree but the tests'), nothing else
# includes <sqlite3.h>, names an sqlite3_ function or an SQLITE_ constant,
# or holds an SQL statement in a string literal (SELECT, INSERT INTO,
# UPDATE ... SET, DELETE FROM, CREATE, ALTER, DROP, PRAGMA, ... FROM
# table); and in the built libraries, only the db objects refer to SQLite.
# The user's own SQL (query --sql) goes through svt_db_select; the
# program's statements live in db-read.c and beside it.
set -u
. "$top_srcdir/tests/testlib.sh"

# Files of the results layer: sim/results/, where schema/results.sql is
# compiled in as results-sql.c too.
layer() {
	case $1 in
	./sim/results/*) return 0 ;;
	esac
	return 1
}

cd "$top_srcdir" || exit 1
find . -path ./tests -prune -o -path ./autom4te.cache -prune -o -path ./_build -prune -o \
	\( -name '*.c' -o -name '*.h' \) -type f -print | sort > "$work/files"
[ -s "$work/files" ] || { echo "FAIL - no C sources under $top_srcdir"; exit 1; }

# An SQL statement's start inside a string literal (upper-case keywords).
sql='"[^"]*\b(SELECT|INSERT INTO|DELETE FROM|UPDATE [a-z_]+ SET|CREATE (TABLE|VIEW|INDEX|TRIGGER)'
sql="$sql"'|ALTER TABLE|DROP (TABLE|VIEW|INDEX)|PRAGMA [a-z_]|FROM [a-z_]+)\b'
nlayer=0 nother=0
: > "$work/sqlite" ; : > "$work/sql"
while read -r f; do
	if layer "$f"; then
		nlayer=$((nlayer + 1))
		continue
	fi
	nother=$((nother + 1))
	grep -nE 'sqlite3(_[A-Za-z0-9_]+|\.h)|\bSQLITE_[A-Z]' "$f" | sed "s|^|$f:|" >> "$work/sqlite"
	grep -nE "$sql" "$f" | sed "s|^|$f:|" >> "$work/sql"
done < "$work/files"
[ "$nlayer" -ge 4 ] && pass "$nlayer files in the results layer, $nother others" ||
	fail "only $nlayer results-layer files found"
[ -s "$work/sqlite" ] && { fail "SQLite used outside the results layer:"; cat "$work/sqlite"; } ||
	pass "no SQLite outside the results layer (sources)"
[ -s "$work/sql" ] && { fail "SQL outside the results layer:"; cat "$work/sql"; } ||
	pass "no SQL statements outside the results layer (sources)"

# The built objects: which refer to sqlite3_ symbols.
if [ -n "${NM:-}" ] && [ -f "$top_builddir/sim/libsvtsim.a" ]; then
	: > "$work/objs"
	for lib in $(find "$top_builddir" -name '*.a' -type f); do
		"$NM" -A -u "$lib" 2>/dev/null | awk -v lib="$lib" '$NF ~ /^sqlite3_/ {
			split($1, p, ":"); print lib ": " p[2] }' | sort -u >> "$work/objs"
	done
	[ -s "$work/objs" ] && pass "$(wc -l < "$work/objs") objects call SQLite" ||
		fail "no object calls SQLite? (nm)"
	bad=$(sed 's/.*: //' "$work/objs" | grep -vE '(^|[-_])db([-_][A-Za-z0-9_-]*)?\.o$')
	[ -z "$bad" ] && pass "no object outside the results layer calls SQLite" ||
		{ fail "objects outside the results layer call SQLite:"; echo "$bad"; }
fi

finish sql-layer
