#!/bin/sh
# shadowvt query from the outside: every report in every format on a
# database made by the sqlite3 shell from schema/results.sql alone (so the
# schema file is enough to make a database shadowvt reads), --sql and its
# refusal to write, and the exit statuses of shadowvt(1): usage errors, and
# files that are not results databases, newer, damaged, cut short or with
# bytes flipped (exit 3 with a message naming the file, never a crash).
set -u
. "$top_srcdir/tests/testlib.sh"
bin="$top_builddir/shadowvt"
schema="$top_srcdir/schema/results.sql"
need sqlite3 jq
# The last command's message names file $1.
names_file() {
	grep -qF "$1: " "$work/err" && pass "  ...and the message names the file" ||
		{ fail "message does not name $1"; cat "$work/err"; }
}

# ---- a database made from the schema file --------------------------------
db="$work/r.db"
sqlite3 "$db" < "$schema" || { echo "FAIL - schema/results.sql does not load"; exit 1; }
sh -c 'exit 0' & dead=$!; wait $dead
host=$(uname -n)
sqlite3 "$db" <<EOF || exit 1
INSERT INTO runs (trace, trace_checksum, workload, policy, audit, started, finished, seconds,
	status, events, violations, divergence_seq, pid, host) VALUES
 ('a.svt', 'crc32c:aa', 'mix', 'oos=2,prefetch=8', 'faults', '2024-11-25T10:00:00.000Z',
	'2024-11-25T10:00:02.000Z', 2.0, 'violations', 1000, 2, 900, 1, 'elsewhere'),
 ('a.svt', 'crc32c:aa', 'mix', 'oos=0', 'faults', '2024-11-25T10:00:00.000Z',
	'2024-11-25T10:00:04.000Z', 4.0, 'clean', 1000, 0, NULL, 1, 'elsewhere'),
 ('odd "name", really.svt', 'crc32c:bb', '', 'oos=0', 'none', '2024-11-25T10:00:00.000Z',
	NULL, NULL, 'running', NULL, NULL, NULL, $dead, '$host');
INSERT INTO timeline (run, first_seq, last_seq, events, faults, fixed, ad_faults, injected,
	emulated, mmio, retries, oos, resyncs, unshadows, evictions, prefetched, cr_writes, invlpgs,
	flushes, pool_used) VALUES
 (1, 0, 499, 500, 100, 40, 20, 20, 10, 5, 5, 3, 3, 1, 0, 8, 10, 5, 1, 30),
 (1, 500, 999, 500, 60, 20, 20, 10, 5, 5, 0, 1, 2, 0, 4, 2, 6, 2, 0, 50),
 (2, 0, 999, 1000, 200, 80, 40, 30, 40, 5, 5, 0, 0, 2, 9, 0, 16, 7, 1, 45);
INSERT INTO violations VALUES
 (1, 900, 'INV-PERM', -140737488351232, 4660, 1, -9223372036854775801, 5,
	'the shadow entry allows a write', 890, 900),
 (1, 950, 'INV-SYNC', 4096, 1, 2, 7, 7, 'second', 940, 950);
INSERT INTO counters VALUES (1, 'faults', 160), (1, 'resyncs', 5);
EOF

expect_status 0 "summary (the default report)" "$bin" query "$db"
head -n 1 "$work/out" | grep -q '^id  trace  ' && [ "$(wc -l < "$work/out")" -eq 4 ] &&
	pass "summary table: a header and three runs" || { fail "summary table"; cat "$work/out"; }
grep -q '^ *3  odd "name", really.svt  .* incomplete?  ' "$work/out" &&
	pass "a run whose process is gone shows as incomplete?" || { fail "incomplete?"; cat "$work/out"; }
[ "$(sqlite3 "$db" "SELECT status FROM run_summary WHERE run = 3")" = running ] &&
	pass "...while SQL still says running" || fail "status in SQL"
expect_status 0 "summary --format json" "$bin" query "$db" summary --format json
jq -e 'length == 3 and .[0].events == 1000 and .[0].divergence == 900 and .[0].seconds == 2.0
	and .[0].events_per_s == 500 and .[1].divergence == null and .[2].status == "incomplete?"
	and .[2].trace == "odd \"name\", really.svt" and .[2].events == null' "$work/out" >/dev/null &&
	pass "summary JSON: numbers as numbers, null, escaped strings" || { fail "summary JSON"; cat "$work/out"; }
expect_status 0 "summary --format csv" "$bin" query "$db" --format csv
tr -d '\r' < "$work/out" | grep -qx '3,"odd ""name"", really.svt",,oos=0,none,incomplete?,,,,,' &&
	pass "CSV quoting (RFC 4180)" || { fail "CSV quoting"; cat "$work/out"; }
[ "$(grep -c "$(printf '\r$')" "$work/out")" -eq 4 ] && pass "CSV lines end in CRLF" || fail "CSV CRLF"

expect_status 0 "violations --run 1 --format csv" "$bin" query "$db" violations --run 1 --format csv
tr -d '\r' < "$work/out" | grep -qx '1,900,INV-PERM,0xffff800000001000,0x1234,1,0x8000000000000007,0x0000000000000005,the shadow entry allows a write,890..900' &&
	pass "violations: addresses above 2^63 and entries in hex, the range to reproduce" ||
	{ fail "violations CSV"; cat "$work/out"; }
expect_status 0 "faults --format json" "$bin" query "$db" faults --format json
jq -e 'length == 2 and .[0].faults == 160 and .[0].exits == 184 and .[0].exits_pct == 18.4
	and .[0].emulated_pct == 9.4 and .[1].exits == 224' "$work/out" >/dev/null &&
	pass "fault mix: exits are faults, CR writes, INVLPGs and flushes" || { fail "faults"; cat "$work/out"; }
expect_status 0 "memory" "$bin" query "$db" memory
grep -q '^run 1 shadow pages: .* (peak 50)$' "$work/out" && grep -q '^run 2 shadow pages: ' "$work/out" &&
	pass "memory: a sparkline per run" || { fail "memory sparkline"; cat "$work/out"; }
expect_status 0 "memory --format csv --run 1" "$bin" query "$db" memory --format csv --run 1
tr -d '\r' < "$work/out" | grep -qx '1,500,999,500,50,200,50,4,0' && pass "memory: peak so far" ||
	{ fail "memory CSV"; cat "$work/out"; }
expect_status 0 "compare --format json" "$bin" query "$db" compare --format json
jq -e 'length == 2 and ([.[].run] == [1, 2]) and .[0].peak_shadow_pages == 50 and .[1].evictions == 9' \
	"$work/out" >/dev/null && pass "compare: the two runs of one trace" || { fail "compare"; cat "$work/out"; }

expect_status 0 "--sql" "$bin" query "$db" --sql 'SELECT name, value FROM counters WHERE run = :run ORDER BY name' --run 1 --format json
jq -e '. == [{"name": "faults", "value": 160}, {"name": "resyncs", "value": 5}]' "$work/out" >/dev/null &&
	pass "--sql with :run" || { fail "--sql output"; cat "$work/out"; }
expect_status 3 "--sql that writes" "$bin" query "$db" --sql 'DELETE FROM runs'
names_file "$db"
grep -q 'read-only' "$work/err" && [ "$(sqlite3 "$db" 'SELECT count(*) FROM runs')" -eq 3 ] &&
	pass "...refused, and nothing was deleted" || fail "DELETE was not refused"
expect_status 3 "--sql with a syntax error" "$bin" query "$db" --sql 'SELEC 1'
names_file "$db"
expect_status 3 "--run of a run that does not exist" "$bin" query "$db" faults --run 99
grep -q 'there is no run 99' "$work/err" && pass "...says so" || fail "no such run message"

# ---- usage errors -----------------------------------------------------------
expect_status 0 "--help" "$bin" query --help
expect_status 2 "no database" "$bin" query
expect_status 2 "unknown report" "$bin" query "$db" bogus
expect_status 2 "unknown format" "$bin" query "$db" --format xml
expect_status 2 "a report and --sql" "$bin" query "$db" summary --sql 'SELECT 1'
expect_status 2 "--run 0" "$bin" query "$db" --run 0
expect_status 2 "--run not a number" "$bin" query "$db" --run x
expect_status 2 "unknown option" "$bin" query "$db" --bogus
expect_status 2 "too many arguments" "$bin" query "$db" summary faults

# ---- files that are not (good) results databases ------------------------------
expect_status 3 "missing file" "$bin" query "$work/nope.db"
names_file "$work/nope.db"
printf 'id,trace\n1,a.svt\n' > "$work/text"
expect_status 3 "a text file" "$bin" query "$work/text"
names_file "$work/text"
: > "$work/empty"
expect_status 3 "an empty file" "$bin" query "$work/empty"
names_file "$work/empty"
expect_status 3 "a directory" "$bin" query "$work"
names_file "$work"
sqlite3 "$work/foreign.db" 'CREATE TABLE t (x); INSERT INTO t VALUES (1);'
expect_status 3 "another program's SQLite database" "$bin" query "$work/foreign.db"
grep -q 'not a shadowvt results database' "$work/err" && pass "...is not ours" || fail "foreign message"
cur=$(sqlite3 "$db" 'PRAGMA user_version')
cp "$db" "$work/newer.db" && sqlite3 "$work/newer.db" "PRAGMA user_version = $((cur + 1))"
expect_status 3 "a newer schema" "$bin" query "$work/newer.db"
grep -qF "$work/newer.db: schema version $((cur + 1)) is newer than this shadowvt ($cur)" "$work/err" &&
	pass "...says which version" || { fail "newer message"; cat "$work/err"; }
for cut in 50 100 1000 4096; do
	head -c $cut "$db" > "$work/cut.db"
	expect_status 3 "cut to $cut bytes" "$bin" query "$work/cut.db"
	names_file "$work/cut.db"
done

# Bytes flipped all through the file: exit 0 (the damage missed what the
# report reads) or 3 with a message, never anything else.
size=$(wc -c < "$db")
bad=0; noticed=0
for i in $(seq 1 60); do
	cp "$db" "$work/flip.db"
	off=$(( (i * 2654435761) % size ))
	printf '\377\000\125' | dd of="$work/flip.db" bs=1 seek=$off conv=notrunc 2>/dev/null
	for report in summary violations faults memory compare; do
		"$bin" query "$work/flip.db" $report --format json > "$work/out" 2> "$work/err"; rc=$?
		case $rc in
		0) jq -e . "$work/out" > /dev/null || { bad=$((bad + 1)); echo "flip at $off: $report: bad JSON"; } ;;
		3) noticed=$((noticed + 1)); grep -qF "$work/flip.db: " "$work/err" ||
			{ bad=$((bad + 1)); echo "flip at $off: message without the file"; } ;;
		*) bad=$((bad + 1)); echo "flip at $off: $report: exit $rc"; cat "$work/err" ;;
		esac
	done
done
[ "$bad" -eq 0 ] && [ "$noticed" -gt 0 ] &&
	pass "flipped bytes: valid output or exit 3 ($noticed noticed), never a crash" ||
	fail "flipped bytes: $bad bad outcome(s), $noticed noticed"

finish db-cmd
