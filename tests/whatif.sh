#!/bin/sh
# What-ifs (docs/replay.md): replay --policy changes only the knobs it
# names of the trace's recorded policy; every replay says how it relates
# to recording under its policy (recorded, exact, approximate) in its
# summary, its JSON and the database; and the ground truth
# (bench/whatif.sh, small): every synth workload x 2level/PAE/4level x 15
# policies recorded under each policy and predicted from two base traces,
# where every pair labelled exact or recorded must equal its recording in
# every counter, and some pairs must be labelled exact.
set -u
. "$top_srcdir/tests/testlib.sh"
need sqlite3 jq
bin="$top_builddir/shadowvt"

# --policy k=v on the recorded policy, not on the tool's defaults
t=$work/a.svt
expect_status 0 "synth under prefetch=4,pool=2048" "$bin" synth -q --workload mix --events 5000 \
	--seed 5 --policy prefetch=4,pool=2048 -o "$t"
expect_status 0 "replay --policy oos=0" "$bin" replay --policy oos=0 "$t"
grep -q "policy oos=0,prefetch=4,emulate=1,early=1,pool=2048;" "$work/out" &&
	pass "--policy oos=0 keeps the recorded prefetch and pool" ||
	{ fail "--policy oos=0 replaced other knobs"; cat "$work/out"; }
grep -q "what-if APPROXIMATE, NOT A MEASUREMENT: recorded under oos=2,prefetch=4,emulate=1,early=1,pool=2048; .*oos differs" \
	"$work/out" && pass "  ...labelled approximate, naming the recorded policy and the knob" ||
	{ fail "no approximate label"; cat "$work/out"; }
expect_status 0 "replay --policy pool=2048 (the recorded values)" "$bin" replay --policy pool=2048 "$t"
grep -q "pool=2048 (recorded);" "$work/out" && ! grep -q "what-if" "$work/out" &&
	pass "  ...is the recorded policy" || { fail "the recorded policy not recognised"; cat "$work/out"; }
expect_status 0 "replay --json --policy oos=0" "$bin" replay --json --policy oos=0 "$t"
jq -e '.policy == "oos=0,prefetch=4,emulate=1,early=1,pool=2048" and .whatif == "approximate"
	and .recorded == "oos=2,prefetch=4,emulate=1,early=1,pool=2048" and .recorded_policy == false
	and (.whatif_why | test("cannot make the exits"))' "$work/out" >/dev/null &&
	pass "JSON: policy, recorded policy and label" || { fail "JSON label"; cat "$work/out"; }
# a smaller pool that evicts nothing: exact, in the database too
expect_status 0 "replay --policy pool=1024 --db" "$bin" replay --policy pool=1024 --db "$work/r.db" "$t"
grep -q "what-if EXACT: recorded under" "$work/out" && pass "  ...a smaller pool without evictions is exact" ||
	{ fail "pool=1024 not exact"; cat "$work/out"; }
expect_status 0 "replay --policy pool=16 --db" "$bin" replay --policy pool=16 --db "$work/r.db" "$t"
expect_status 0 "replay (recorded) --db" "$bin" replay --db "$work/r.db" "$t"
[ "$(sqlite3 "$work/r.db" "SELECT group_concat(whatif, ' ') FROM (SELECT whatif FROM runs ORDER BY id)")" = \
	"exact approximate recorded" ] && pass "runs.whatif: exact, approximate, recorded" ||
	fail "runs.whatif: $(sqlite3 "$work/r.db" 'SELECT id, policy, whatif FROM runs')"

# query compare and the report: the labels, and recordings of one guest side by side
expect_status 0 "query compare" "$bin" query "$work/r.db" compare
grep -q "^WARNING: 1 row is an APPROXIMATE what-if, NOT A MEASUREMENT" "$work/out" &&
	grep -q "^1 row is an exact what-if" "$work/out" && pass "compare: exact and approximate rows counted in words" ||
	{ fail "compare: no words about the labels"; cat "$work/out"; }
expect_status 0 "synth the same guest under oos=0" "$bin" synth -q --workload mix --events 5000 \
	--seed 5 --policy oos=0,prefetch=4,pool=2048 -o "$work/b.svt"
expect_status 0 "replay it (recorded)" "$bin" replay -q --db "$work/r.db" "$work/b.svt"
expect_status 0 "query compare --format json" "$bin" query "$work/r.db" compare --format json
jq -e '[.[] | select(.basis == "recording")] | length == 2 and (map(.group) | unique | length == 1)
	and (.[0].group | startswith("guest synth workload=mix"))
	and (map(.policy) | sort == ["oos=0,prefetch=4,emulate=1,early=1,pool=2048",
		"oos=2,prefetch=4,emulate=1,early=1,pool=2048"])' "$work/out" >/dev/null &&
	pass "compare: two recordings of one guest side by side" || { fail "compare: recordings"; cat "$work/out"; }
jq -e '[.[] | select(.group | startswith("trace "))] | map(.basis) | sort ==
	["approximate", "exact", "recorded"]' "$work/out" >/dev/null &&
	pass "compare: the trace's runs with their labels" || { fail "compare: labels"; cat "$work/out"; }
expect_status 0 "report" "$bin" report "$work/r.db" -o "$work/r.html"
grep -q "Recordings of one guest under different policies: <code>synth workload=mix" "$work/r.html" &&
	grep -q "APPROXIMATE: 1 of these rows are one-trace what-ifs, not measurements." "$work/r.html" &&
	pass "report: the recordings side by side, the approximate row called so" ||
	fail "report: recordings or labels missing"

# the ground truth, small
WHATIF_EVENTS=${SVT_WHATIF_EVENTS:-2000} WHATIF_DIR=$work/gt sh "$top_srcdir/bench/whatif.sh" "$bin" \
	> "$work/gt.txt" 2>&1
rc=$?
cat "$work/gt.txt"
[ "$rc" -eq 0 ] && pass "every pair labelled exact or recorded equals its recording" ||
	fail "bench/whatif.sh: exit $rc"
n=$(sed -n 's/^# labels over all \([0-9]*\) pairs: \([0-9]*\) recorded, \([0-9]*\) exact.*/\1 \2 \3/p' "$work/gt.txt")
set -- $n
if [ $# -eq 3 ] && [ "$1" -ge 600 ] && [ "$2" -ge 50 ] && [ "$3" -ge 1 ]; then
	pass "the matrix: $1 pairs, $2 recorded, $3 labelled exact"
else
	fail "the matrix is smaller than it should be, or nothing is labelled exact: '$n'"
fi
finish whatif
