#!/bin/sh
# shadowvt report from the outside: a results database with one trace
# replayed under three policies (and once more under a file name full of
# markup), a broken core's violations, runs that did not finish, an empty
# database, a timeline long enough to be downsampled, and hostile text.
# Every page must be well-formed XML (xmllint), hold the expected charts,
# escape what it prints, load nothing from outside and run no script; bad
# arguments exit 2, bad databases and unwritable output exit 3 and leave
# no file behind.
set -u
. "$top_srcdir/tests/testlib.sh"
bin="$top_builddir/shadowvt"
broken="$top_builddir/tests/shadowvt-broken"
schema="$top_srcdir/schema/results.sql"
need sqlite3 xmllint
SOURCE_DATE_EPOCH=1764000000; export SOURCE_DATE_EPOCH

# report DB OUT [ARGS...]: exit 0 and well-formed XML.
report_ok() {
	rdb=$1; rout=$2; shift 2
	expect_status 0 "report $(basename "$rdb") $*" "$bin" report "$rdb" -o "$rout" "$@"
	xmllint --noout "$rout" 2> "$work/xml" && pass "  ...well-formed XML" ||
		{ fail "  ...xmllint"; head -n 5 "$work/xml"; }
}
has() { # file description fixed-string
	grep -qF -- "$3" "$1" && pass "$2" || fail "$2: no '$3'"
}
names_file() {
	grep -qF "$1: " "$work/err" && pass "  ...and the message names the file" ||
		{ fail "message does not name $1"; cat "$work/err"; }
}

# ---- one trace, three policies, and a file name that needs escaping ---------
t="$work/fork.svt"
# no guest actions: what-ifs of such a trace are approximate, which the report must say
"$bin" synth -q --no-actions --workload fork --mode 4level --events 200000 --seed 7 -o "$t" ||
	{ fail synth; exit 1; }
db="$work/r.db"
for p in recorded oos=0,prefetch=0,emulate=0,early=0 prefetch=0; do
	"$bin" replay -q --db "$db" --policy "$p" "$t" > /dev/null || fail "replay --policy $p"
done
weird="$work/we<ird&\"name'.svt"
cp "$t" "$weird" && "$bin" replay -q --db "$db" "$weird" > /dev/null || fail "replay of the weird name"

report_ok "$db" "$work/r.html"
r="$work/r.html"
for id in 1 2 3 4; do
	has "$r" "run $id: fault and exit mix chart" "<svg xmlns=\"http://www.w3.org/2000/svg\" class=\"chart\" id=\"mix-run-$id\""
	has "$r" "run $id: timeline chart" "class=\"chart\" id=\"timeline-run-$id\""
done
for m in exits emulations resyncs memory; do
	has "$r" "policy comparison: $m" "class=\"chart\" id=\"compare-1-$m\""
done
[ "$(grep -c '<svg ' "$r")" -eq 12 ] && pass "12 charts" || fail "$(grep -c '<svg ' "$r") charts, expected 12"
grep -c 'role="img" aria-label="' "$r" | grep -qx 12 && pass "every chart has a role and a label" ||
	fail "role/aria-label"
has "$r" "the policies appear" "oos=0,prefetch=0,emulate=0,early=0,pool=512"
has "$r" "...each one" "oos=2,prefetch=0,emulate=1,early=1,pool=512"
has "$r" "tooltips on bars, with the what-if label" \
	"<title>#2 oos=0,prefetch=0,emulate=0,early=0,pool=512 [approximate]: exits "
has "$r" "approximate what-ifs called so" " of these rows are one-trace what-ifs, not measurements."
has "$r" "the header names the database" "Results database <code>$db</code>, 4 runs"
has "$r" "...the tool version and the time" "generated 2025-11-24T16:00:00Z by shadowvt "
has "$r" "the weird name, escaped" "we&lt;ird&amp;&quot;name&#39;.svt"
grep -qF 'we<ird' "$r" && fail "the weird name appears unescaped" || pass "...never unescaped"
grep -q '<script' "$r" && fail "a script" || pass "no script"
urls=$(grep -o 'https*://[^"<> ]*' "$r" | sort -u | tr '\n' ' ')
[ "$urls" = "http://www.w3.org/1999/xhtml http://www.w3.org/2000/svg " ] &&
	pass "no URL but the two namespaces" || fail "URLs: $urls"
grep -Eq '(src|href)="[^#]' "$r" && fail "a link to outside the page" || pass "links only within the page"
! ls -d "$r".tmp* >/dev/null 2>&1 && pass "no temporary file left" || fail "$r.tmp left behind"

# SOURCE_DATE_EPOCH is decimal: a leading zero does not make it octal
SOURCE_DATE_EPOCH=0100 "$bin" report "$db" -o - 2>/dev/null | grep -q 'generated 1970-01-01T00:01:40Z by' &&
	pass "SOURCE_DATE_EPOCH=0100 is 100 seconds, not octal" || fail "SOURCE_DATE_EPOCH read as octal"
# The same page on standard output; with SOURCE_DATE_EPOCH, byte for byte.
"$bin" report "$db" -o - > "$work/stdout.html" 2> "$work/err" && cmp -s "$r" "$work/stdout.html" &&
	pass "-o - writes the same page to standard output" || fail "-o -"

# --run and --title
report_ok "$db" "$work/one.html" --run 2 --title 'Runs <b>& "friends"'
has "$work/one.html" "--title escaped" "<h1>Runs &lt;b&gt;&amp; &quot;friends&quot;</h1>"
has "$work/one.html" "--run 2: its charts" 'id="timeline-run-2"'
grep -q 'id="run-1"' "$work/one.html" && fail "--run 2 shows run 1" || pass "--run 2: no other run"
has "$work/one.html" "--run 2: one run, nothing to compare" "there is nothing to compare"
report_ok "$db" "$work/two.html" --run 1 --run 3
grep -c 'id="compare-1-[a-z]*"' "$work/two.html" | grep -qx 4 && ! grep -q 'id="run-2"' "$work/two.html" &&
	pass "--run 1 --run 3: those two compared" || fail "--run 1 --run 3"
expect_status 3 "--run of a run that does not exist" "$bin" report "$db" -o "$work/x.html" --run 99
grep -q 'there is no run 99' "$work/err" && [ ! -e "$work/x.html" ] && ! ls -d "$work/x.html".tmp* >/dev/null 2>&1 &&
	pass "...says so and writes nothing" || { fail "no such run"; cat "$work/err"; }

# ---- a broken core's violations, and runs that did not finish -----------------
bdb="$work/broken.db"
SVT_BROKEN=1 "$broken" replay -q --audit periodic --db "$bdb" "$t" > /dev/null 2>&1
[ $? -eq 1 ] && pass "the broken core's replay finds violations" || fail "broken replay"
size=$(wc -c < "$t")
head -c $((size / 2)) "$t" > "$work/trunc.svt"
"$bin" replay -q --db "$bdb" "$work/trunc.svt" > /dev/null 2>&1
sh -c 'exit 0' & dead=$!; wait $dead
sqlite3 "$bdb" "INSERT INTO runs (trace, policy, started, status, pid, host) VALUES
	('killed.svt', 'oos=0', '2025-01-01T00:00:00.000Z', 'running', $dead, '$(uname -n)'),
	(CAST(X'7472c3a1ce6365ff01083c2e737674' AS TEXT), CAST(X'6f6f733d30efbfbe0a' AS TEXT),
	 '2025-01-01T00:00:00.000Z', 'incomplete', NULL, NULL)" || fail "inserting runs"
report_ok "$bdb" "$work/b.html"
b="$work/b.html"
stored=$(sqlite3 "$bdb" "SELECT count(*) FROM violations WHERE run = 1")
rows=$(grep -c '^<tr><td class="n">[0-9,]*</td><td>INV-[A-Z]*</td>' "$b")
[ "$stored" -gt 0 ] && [ "$rows" -gt 0 ] && pass "violation rows with their invariant ($rows of $stored)" ||
	fail "violation rows: $rows of $stored"
has "$b" "INV-REPLAY listed" "<td>INV-REPLAY</td>"
has "$b" "INV-PERM listed" "<td>INV-PERM</td>"
has "$b" "with the entries and the range that reproduces it" '<td>0x0000'
grep -Eq '<td>[0-9]+\.\.[0-9]+</td></tr>' "$b" && pass "...and the reproduce range" || fail "reproduce range"
if [ "$stored" -gt 200 ]; then
	[ "$rows" -eq 200 ] && has "$b" "capped at 200, the rest counted" "$((stored - 200)) more: " ||
		fail "violations not capped: $rows rows"
else
	[ "$rows" -eq "$stored" ] && pass "every violation listed" || fail "$rows of $stored listed"
fi
has "$b" "status violations" '<span class="st st-violations">violations</span>'
has "$b" "status bad-input with its message" '<span class="st st-bad-input">bad-input</span>'
grep -A 3 'id="run-2"' "$b" | grep -q '<p class="msg">.*trunc.svt' && pass "...the message names the trace" ||
	fail "bad-input message"
has "$b" "a killed run shows as incomplete?" '<span class="st st-incomplete">incomplete?</span>'
has "$b" "...with no timeline" "No timeline was recorded for this run."
# U+FFFD for the invalid bytes and the control characters, a space for the newline
has "$b" "invalid UTF-8, control characters and U+FFFE replaced" \
	"$(printf 'tr\303\241\357\277\275ce\357\277\275\357\277\275\357\277\275&lt;.svt')"
has "$b" "...in the policy too" "$(printf 'oos=0\357\277\275 ')"

# ---- an empty database; a long timeline -------------------------------------------
sqlite3 "$work/empty.db" < "$schema"
report_ok "$work/empty.db" "$work/e.html"
has "$work/e.html" "an empty database says so" "This results database holds no runs."
has "$work/e.html" "...and counts none" ", 0 runs;"

cp "$db" "$work/long.db"
sqlite3 "$work/long.db" "WITH RECURSIVE i(n) AS (SELECT 0 UNION ALL SELECT n + 1 FROM i WHERE n < 4999)
	INSERT INTO timeline (run, first_seq, last_seq, events, faults, fixed, ad_faults, injected,
	emulated, mmio, retries, oos, resyncs, unshadows, evictions, cr_writes, invlpgs, flushes,
	pool_used) SELECT 1, 1000000 + n * 65536, 1000000 + n * 65536 + 65535, 65536, n % 97, 0,
	0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, n % 1000 FROM i" || fail "inserting a long timeline"
report_ok "$work/long.db" "$work/l.html" --run 1
hv=$(sed -n '/id="timeline-run-1"/,/<\/svg>/p' "$work/l.html" | grep -c '^<rect ')
[ "$hv" -le 400 ] && [ "$hv" -ge 300 ] && pass "5,004 intervals drawn as $hv points" || fail "$hv points"
has "$work/l.html" "...and the caption says so" "5,004 timeline intervals, drawn as"
[ "$(wc -c < "$work/l.html")" -lt 200000 ] && pass "...in $(wc -c < "$work/l.html") bytes" ||
	fail "long timeline: $(wc -c < "$work/l.html") bytes"

# ---- usage ---------------------------------------------------------------------
expect_status 0 "--help" "$bin" report --help
expect_status 2 "no arguments" "$bin" report
expect_status 2 "no -o" "$bin" report "$db"
expect_status 2 "no database" "$bin" report -o "$work/x.html"
expect_status 2 "two databases" "$bin" report "$db" "$db" -o "$work/x.html"
expect_status 2 "--run 0" "$bin" report "$db" -o "$work/x.html" --run 0
expect_status 2 "--run not a number" "$bin" report "$db" -o "$work/x.html" --run x
expect_status 2 "unknown option" "$bin" report "$db" -o "$work/x.html" --bogus
expect_status 2 "-o without a file" "$bin" report "$db" -o
cp "$db" "$work/same.db"
expect_status 2 "-o the database itself" "$bin" report "$work/same.db" -o "$work/same.db"
cmp -s "$db" "$work/same.db" && pass "...which is left alone" || fail "the database was overwritten"

# ---- bad databases, unwritable output ----------------------------------------------
expect_status 3 "missing file" "$bin" report "$work/nope.db" -o "$work/x.html"
names_file "$work/nope.db"
printf 'id,trace\n1,a.svt\n' > "$work/text"
expect_status 3 "a text file" "$bin" report "$work/text" -o "$work/x.html"
names_file "$work/text"
cp "$db" "$work/newer.db" &&
	sqlite3 "$work/newer.db" "PRAGMA user_version = $(($(sqlite3 "$db" 'PRAGMA user_version') + 1))"
expect_status 3 "a newer schema" "$bin" report "$work/newer.db" -o "$work/x.html"
names_file "$work/newer.db"
cp "$db" "$work/c.db"
for cut in 100 4096 $(( $(wc -c < "$work/c.db") / 2 )); do
	head -c $cut "$work/c.db" > "$work/cut.db"
	expect_status 3 "a database cut to $cut bytes" "$bin" report "$work/cut.db" -o "$work/x.html"
	names_file "$work/cut.db"
done
[ ! -e "$work/x.html" ] && ! ls -d "$work/x.html".tmp* >/dev/null 2>&1 && pass "no output from bad input" ||
	fail "output left behind after bad input"
expect_status 3 "an output directory that does not exist" "$bin" report "$db" -o "$work/no/such/r.html"
grep -qF "$work/no/such/r.html" "$work/err" && pass "...is named" || { fail "unwritable message"; cat "$work/err"; }
if [ -w /dev/full ]; then
	expect_status 3 "-o - onto a full device" sh -c "'$bin' report '$db' -o - > /dev/full"
fi

# Bytes flipped through the database: a well-formed page or exit 3, never
# anything else.
size=$(wc -c < "$work/c.db")
bad=0; noticed=0
for i in $(seq 1 30); do
	cp "$work/c.db" "$work/flip.db"
	off=$(( (i * 2654435761) % size ))
	printf '\377\000\125' | dd of="$work/flip.db" bs=1 seek=$off conv=notrunc 2>/dev/null
	"$bin" report "$work/flip.db" -o "$work/f.html" > /dev/null 2> "$work/err"; rc=$?
	case $rc in
	0) xmllint --noout "$work/f.html" 2>/dev/null || { bad=$((bad + 1)); echo "flip at $off: bad XML"; } ;;
	3) noticed=$((noticed + 1)); grep -qF "$work/flip.db: " "$work/err" ||
		{ bad=$((bad + 1)); echo "flip at $off: message without the file"; cat "$work/err"; } ;;
	*) bad=$((bad + 1)); echo "flip at $off: exit $rc"; cat "$work/err" ;;
	esac
done
[ "$bad" -eq 0 ] && pass "flipped bytes: a good page or exit 3 ($noticed noticed), never a crash" ||
	fail "flipped bytes: $bad bad outcome(s)"

finish report-cmd
