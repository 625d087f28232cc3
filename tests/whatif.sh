#!/bin/sh
# What-ifs (docs/replay.md): replay --policy changes only the knobs it
# names of the trace's recorded policy; every replay says how it relates
# to recording under its policy (recorded, exact, approximate) in its
# summary, its JSON and the database; and the ground truth
# (bench/whatif.sh, small): every synth workload x 2level/PAE/4level x 15
# policies recorded under each policy (synth --like) and predicted from
# two base traces, where every pair labelled exact or recorded must equal
# its recording in every counter, and at least 90% of the what-ifs must be
# labelled exact.  The label rules for traces without the guest's actions
# run on synth --no-actions traces; regeneration on traces with them.
set -u
. "$top_srcdir/tests/testlib.sh"
need sqlite3 jq
bin="$top_builddir/shadowvt"

# --policy k=v on the recorded policy, not on the tool's defaults
t=$work/a.svt
expect_status 0 "synth --no-actions under prefetch=4,pool=2048" "$bin" synth -q --no-actions \
	--workload mix --events 5000 --seed 5 --policy prefetch=4,pool=2048 -o "$t"
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
expect_status 0 "synth the same guest under oos=0" "$bin" synth -q --no-actions --workload mix \
	--events 5000 --seed 5 --policy oos=0,prefetch=4,pool=2048 -o "$work/b.svt"
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

# regeneration: a trace with the guest's actions, replayed under another
# policy, gives exactly what recording that guest under it gives
c=$work/c.svt
expect_status 0 "synth (actions logged)" "$bin" synth -q --workload mix --mode 4level --events 8000 \
	--seed 7 --policy prefetch=4,pool=2048 -o "$c"
expect_status 0 "info" "$bin" info "$c"
grep -q "^evidence: .*actions" "$work/out" && pass "  ...its header says so" ||
	{ fail "no actions in the evidence line"; cat "$work/out"; }
P=oos=0,prefetch=0,emulate=0,early=0,pool=16
rm -f "$work/c.db"
expect_status 0 "replay --policy $P" "$bin" replay --json --db "$work/c.db" --policy "$P" "$c"
jq -e '.whatif == "exact" and (.whatif_why | startswith("regenerated"))' "$work/out" \
	>/dev/null && pass "  ...labelled exact: regenerated" || { fail "not regenerated"; cat "$work/out"; }
expect_status 0 "synth --like under $P" "$bin" synth -q --like "$c" --policy "$P" -o "$work/truth.svt"
expect_status 0 "replay the recording" "$bin" replay --db "$work/c.db" "$work/truth.svt"
# every counter but the process's own, the what-if (run 1) against the recording (run 2)
q="SELECT name || '=' || value FROM counters WHERE run = %d AND name <> 'peak_rss_kb' ORDER BY name"
w1=$(sqlite3 "$work/c.db" "$(printf "$q" 1)" | tr '\n' ' ')
w2=$(sqlite3 "$work/c.db" "$(printf "$q" 2)" | tr '\n' ' ')
if [ -n "$w1" ] && [ "$w1" = "$w2" ] && echo "$w2" | grep -q "evictions=[1-9]" &&
   echo "$w2" | grep -q "unshadows=[1-9]"; then
	pass "  ...every counter is the recording's (evictions and unshadows included)"
else
	fail "what-if: $w1"; echo "recording: $w2"
fi
expect_status 0 "replay --from 100 --policy $P" "$bin" replay --json --from 100 --policy "$P" "$c"
jq -e '.whatif != "exact" or (.whatif_why | test("not regenerated: a range"))' "$work/out" \
	>/dev/null && jq -e '.whatif_why | test("^regenerated") | not' "$work/out" >/dev/null &&
	pass "  ...a range is not regenerated, and says why" || { fail "range regenerated"; cat "$work/out"; }
expect_status 2 "synth --like with --seed" "$bin" synth -q --like "$c" --seed 3 -o "$work/x.svt"
grep -q "no --seed with it" "$work/err" && pass "  ...refused, naming the option" ||
	{ fail "--like --seed message"; cat "$work/err"; }
expect_status 3 "synth --like a trace without actions" "$bin" synth -q --like "$t" -o "$work/x.svt"
grep -q "does not log the guest's actions" "$work/err" && pass "  ...refused with the reason" ||
	{ fail "--like without actions"; cat "$work/err"; }
expect_status 0 "cut of the trace" "$bin" cut "$c" --from 50 --to 4000 -o "$work/cut.svt"
expect_status 0 "info of the cut" "$bin" info "$work/cut.svt"
grep "^evidence:" "$work/out" | grep -vq actions && pass "  ...a cut does not claim the guest's actions" ||
	{ fail "cut kept the actions flag"; cat "$work/out"; }

# regeneration with protection keys: PKRU, logged as a guest action (WRPKRU
# is no exit), is what each access ran under, in 4level and 5level
for m in 4level 5level; do
	k=$work/pk-$m.svt
	rm -f "$work/pk.db"
	expect_status 0 "synth pkeys $m" "$bin" synth -q --workload pkeys --mode "$m" --events 8000 \
		--seed 3 -o "$k"
	"$bin" dump "$k" | grep -q ' GUEST pkru val=0x' && pass "  ...logs its PKRU values" ||
		fail "no PKRU action in the pkeys $m trace"
	expect_status 0 "replay pkeys $m --policy $P" "$bin" replay --json --db "$work/pk.db" \
		--policy "$P" "$k"
	jq -e '.whatif == "exact" and (.whatif_why | startswith("regenerated"))' "$work/out" \
		>/dev/null && pass "  ...labelled exact: regenerated" ||
		{ fail "pkeys $m not regenerated"; cat "$work/out"; }
	expect_status 0 "synth --like pkeys $m under $P" "$bin" synth -q --like "$k" --policy "$P" \
		-o "$work/pk-truth.svt"
	expect_status 0 "replay that recording" "$bin" replay --db "$work/pk.db" "$work/pk-truth.svt"
	w1=$(sqlite3 "$work/pk.db" "$(printf "$q" 1)" | tr '\n' ' ')
	w2=$(sqlite3 "$work/pk.db" "$(printf "$q" 2)" | tr '\n' ' ')
	[ -n "$w1" ] && [ "$w1" = "$w2" ] && pass "  ...every counter is the recording's" ||
		{ fail "pkeys $m what-if: $w1"; echo "recording: $w2"; }
done

# the ground truth, small
WHATIF_EVENTS=${SVT_WHATIF_EVENTS:-2000} WHATIF_DIR=$work/gt sh "$top_srcdir/bench/whatif.sh" "$bin" \
	> "$work/gt.txt" 2>&1
rc=$?
cat "$work/gt.txt"
[ "$rc" -eq 0 ] && pass "every pair labelled exact or recorded equals its recording" ||
	fail "bench/whatif.sh: exit $rc"
n=$(sed -n 's/^# labels over all \([0-9]*\) pairs: \([0-9]*\) recorded, \([0-9]*\) exact.*/\1 \2 \3/p' "$work/gt.txt")
set -- $n
if [ $# -eq 3 ] && [ "$1" -ge 600 ] && [ "$2" -ge 50 ] && [ $(($3 * 10)) -ge $((($1 - $2) * 9)) ]; then
	pass "the matrix: $1 pairs, $2 recorded, $3 labelled exact (at least 90% of the what-ifs)"
else
	fail "the matrix is smaller than it should be, or under 90% is labelled exact: '$n'"
fi
finish whatif
