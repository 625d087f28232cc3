#!/bin/sh
# From a violation to a reproducer: `replay --from/--to` reports exactly
# the violations a full replay reports in the range (the core's state at
# --from rebuilt), `replay --stop-at-first`, `shadowvt cut` (a window as a
# trace of its own, the state at its start as its first records) and
# `shadowvt reduce`: for each deliberately broken core (tests/shadowvt-broken,
# $SVT_BROKEN) a 100,000-event trace shrunk to at most 1% of its events
# and bytes, whose replay shows the same invariant at the same address.
# Bug 1 makes its own trace (synth over the broken core runs to the end);
# bugs 2 and 47 stop the synthetic guest at once (its bare-metal checks see
# the wrong error code or frame), so theirs is the real core's trace,
# replayed through them.  Bad ranges and arguments: exit 2.
set -u
. "$top_srcdir/tests/testlib.sh"
bin="$top_builddir/shadowvt"
broken="$top_builddir/tests/shadowvt-broken"

good="$work/good.svt"
"$bin" synth -q --workload mix --mode 4level --events 100000 --seed 5 -o "$good" || fail "synth (real core)"
SVT_BROKEN=1 "$broken" synth -q --workload mix --mode 4level --events 100000 --seed 5 \
	-o "$work/b1.svt" || fail "synth (bug 1)"
events() { "$bin" info "$1" | awk '$1 == "events:" { print $2 }'; }
bytes() { wc -c < "$1" | tr -d ' '; }

# ---- replay --from/--to: the same violation records as a full replay -----------
# violation lines (event, invariant, address...) of events from..to
inrange() { grep ': event ' | awk -v lo="$1" -v hi="$2" '{ n = $3; sub(":", "", n); if (n + 0 >= lo && n + 0 <= hi) print }'; }
for case in "2 faults" "1 periodic" "47 faults"; do
	set -- $case; bug=$1; audit=$2
	t=$good; [ "$bug" = 1 ] && t="$work/b1.svt"
	SVT_BROKEN=$bug "$broken" replay --audit "$audit" --show 1000000 "$t" > "$work/full" 2>&1
	# a violation past the middle, and a window around it
	e=$(grep ': event ' "$work/full" | grep -v INV-REPLAY |
		awk '{ n = $3; sub(":", "", n); if (n + 0 >= 50000) { print n; exit } }')
	[ -n "$e" ] || { fail "bug $bug: no violation after event 50000"; continue; }
	lo=$((e - 3000)); hi=$((e + 3000))
	inrange $lo $hi < "$work/full" > "$work/want"
	SVT_BROKEN=$bug "$broken" replay --audit "$audit" --show 1000000 --from $lo --to $hi "$t" \
		> "$work/range" 2>&1; rc=$?
	inrange 0 999999999 < "$work/range" > "$work/got"
	[ "$rc" -eq 1 ] && [ -s "$work/want" ] && cmp -s "$work/want" "$work/got" &&
		pass "bug $bug: --from $lo --to $hi reports the full replay's $(wc -l < "$work/want") violation lines of the range" ||
		{ fail "bug $bug: the range's violations differ (exit $rc)"; diff "$work/want" "$work/got" | head -n 5; }
	# a range to the end: the end-of-trace audit's lines too
	n=$(events "$t"); lo=$((n - 2000))
	inrange $lo $n < "$work/full" > "$work/want"
	SVT_BROKEN=$bug "$broken" replay --audit "$audit" --show 1000000 --from $lo "$t" 2>&1 |
		inrange 0 999999999 > "$work/got"
	cmp -s "$work/want" "$work/got" &&
		pass "bug $bug: --from $lo to the end reports the full replay's $(wc -l < "$work/want") lines there" ||
		{ fail "bug $bug: the range to the end differs"; diff "$work/want" "$work/got" | head -n 5; }
	line=$(grep ": event $e: " "$work/full" | grep -v INV-REPLAY | head -n 1)
	SVT_BROKEN=$bug "$broken" replay --audit "$audit" --show 1000000 --from $e --to $e "$t" > "$work/range" 2>&1
	grep -qF "$line" "$work/range" &&
		pass "bug $bug: --from $e --to $e reports event $e's violation" ||
		fail "bug $bug: --from $e --to $e misses: $line"
	SVT_BROKEN=$bug "$broken" replay --audit "$audit" --show 1000000 --from $((e + 1)) --to $hi "$t" > "$work/range" 2>&1
	SVT_BROKEN=$bug "$broken" replay --audit "$audit" --show 1000000 --from $lo --to $((e - 1)) "$t" >> "$work/range" 2>&1
	grep -q ": event $e: " "$work/range" &&
		fail "bug $bug: a range without event $e reports it" ||
		pass "bug $bug: ranges that exclude event $e do not report it"
done

# ---- --stop-at-first ----------------------------------------------------------------
SVT_BROKEN=2 "$broken" replay --show 1000000 "$good" > "$work/full" 2>&1
SVT_BROKEN=2 "$broken" replay --show 1000000 --stop-at-first "$good" > "$work/first" 2>&1; rc=$?
[ "$rc" -eq 1 ] && [ "$(grep -c ': event ' "$work/first")" -eq 1 ] &&
	[ "$(grep ': event ' "$work/first")" = "$(grep -m 1 ': event ' "$work/full")" ] &&
	grep -q ': 1 invariant violations, 0 divergent' "$work/first" &&
	pass "--stop-at-first: the first violation alone, exit 1" ||
	{ fail "--stop-at-first (exit $rc)"; cat "$work/first"; }
"$bin" replay --stop-at-first "$good" > /dev/null 2>&1 && pass "--stop-at-first on a clean trace: exit 0" ||
	fail "--stop-at-first on a clean trace"

# ---- cut --------------------------------------------------------------------------
e=$(grep ': event ' "$work/full" | awk '{ n = $3; sub(":", "", n); if (n + 0 >= 60000) { print n; exit } }')
lo=$((e - 500)); hi=$((e + 500))
"$bin" cut "$good" --from $lo --to $hi -o "$work/cut.svt" > "$work/out" 2>&1; rc=$?
k=$(sed -n 's/.*its event \([0-9]*\) is event .*/\1/p' "$work/out")
[ "$rc" -eq 0 ] && [ -n "$k" ] && [ "$(events "$work/cut.svt")" -eq $((k + hi - lo + 1)) ] &&
	"$bin" dump "$work/cut.svt" | head -n 1 | grep -q "cut of good.svt: its events $lo..$hi" &&
	pass "cut $lo..$hi: $k state records, then the window's $((hi - lo + 1)) events" ||
	{ fail "cut (exit $rc)"; cat "$work/out"; }
# the broken core's violations in the window, renumbered, are the cut's
SVT_BROKEN=2 "$broken" replay --show 1000000 --from $lo --to $hi "$good" 2>&1 | grep INV-FAULT |
	awk -v d=$((k - lo)) '{ n = $3; sub(":", "", n); $1 = ""; $3 = n + d ":"; print }' > "$work/want"
SVT_BROKEN=2 "$broken" replay --show 1000000 "$work/cut.svt" 2>&1 | grep INV-FAULT |
	awk '{ $1 = ""; print }' > "$work/got"
# A cut starts a fresh core: where the broken core's decisions depend on
# the shadows it lacks the lines may differ; the rest are the same lines
# at the same addresses.
nw=$(wc -l < "$work/want"); nm=$(grep -cxFf "$work/got" "$work/want")
[ "$nw" -gt 0 ] && [ $((nm * 10)) -ge $((nw * 9)) ] &&
	pass "cut: $nm of bug 2's $nw INV-FAULT lines of the range, at the same addresses and renumbered events" ||
	{ fail "cut: $nm of bug 2's $nw violations of the range in the cut"; diff "$work/want" "$work/got" | head -n 5; }
# the state records are right: the real core accepts them and finds nothing
# wrong there (INV-CR judges each control-register write)
"$bin" replay --audit full --show 1000000 "$work/cut.svt" > "$work/out" 2>&1
bad=$(grep ': event ' "$work/out" | awk -v k="$k" '{ n = $3; sub(":", "", n); if (n + 0 < k || $4 == "INV-CR") print }')
[ -z "$bad" ] && grep -q 'cut.svt: \(clean\|VIOLATIONS\): ' "$work/out" &&
	pass "cut: the real core replays its state records with every audit, nothing reported" ||
	{ fail "cut: the state records are not accepted"; echo "$bad" | head -n 3; }
# from 0 to the end: the trace itself, after the note and the reset state
"$bin" cut "$good" --from 0 -o "$work/all.svt" > /dev/null 2>&1 &&
	"$bin" replay --audit periodic "$work/all.svt" > "$work/out" 2>&1 &&
	pass "cut --from 0 (to the end) replays clean" || { fail "cut --from 0"; tail -n 2 "$work/out"; }

# ---- reduce ---------------------------------------------------------------------------
n_good=$(events "$good"); b_good=$(bytes "$good")
for case in "1 b1.svt 0" "2 good.svt 0" "47 good.svt 0" "1 good.svt 60000" "2 good.svt 60000" "47 good.svt 60000"; do
	set -- $case; bug=$1; t="$work/$2"; from=$3
	SVT_BROKEN=$bug "$broken" reduce --from "$from" "$t" -o "$work/min.svt" > "$work/out" 2>&1; rc=$?
	target=$(sed -n 's/.*: target \(INV-[A-Z]* va [0-9a-fx]* gfn [0-9a-fx]*\) at event .*/\1/p' "$work/out")
	tail -n 1 "$work/out" | sed "s/^/# bug $bug, $2 from $from: /"
	n_in=$(events "$t"); b_in=$(bytes "$t")
	[ "$rc" -eq 0 ] && [ -n "$target" ] || { fail "bug $bug, $2 from $from: reduce (exit $rc)"; cat "$work/out"; continue; }
	n=$(events "$work/min.svt"); b=$(bytes "$work/min.svt")
	[ "$n_in" -ge 100000 ] && [ $((n * 100)) -le "$n_in" ] && [ $((b * 100)) -le "$b_in" ] &&
		pass "bug $bug, $2 from $from: $n of $n_in events, $b of $b_in bytes (<= 1%)" ||
		fail "bug $bug, $2 from $from: $n of $n_in events, $b of $b_in bytes: more than 1%"
	SVT_BROKEN=$bug "$broken" replay --show 1000000 "$work/min.svt" > "$work/rep" 2>&1; rc=$?
	[ "$rc" -eq 1 ] && grep -q ": $target level " "$work/rep" &&
		pass "bug $bug, $2 from $from: its replay reports $target" ||
		{ fail "bug $bug, $2 from $from: $target not reproduced (exit $rc)"; head -n 3 "$work/rep"; }
	# from the real core's trace, the reproducer is the bug's alone: the
	# real core replays it with every audit and breaks no invariant
	[ "$2" = good.svt ] || continue
	"$bin" replay --audit full "$work/min.svt" > "$work/rep" 2>&1
	grep -q ': clean: \|: 0 invariant violations' "$work/rep" &&
		pass "bug $bug, $2 from $from: the real core breaks no invariant on it" ||
		{ fail "bug $bug, $2 from $from: the real core sees violations in it"; head -n 3 "$work/rep"; }
done
# the budget bounds the search, a replay in progress included: with a
# second, bug 47's search ends when it runs out, with nothing written (exit
# 1) if no candidate showed the violation yet, else the best so far (exit 0).
# A longer trace than good.svt, so that the whole search (about 2 s here)
# outlasts the budget and a SIGINT at 0.3 s still finds it looking.
big="$work/big.svt"
"$bin" synth -q --workload mix --mode 4level --events 400000 --seed 5 -o "$big" || fail "synth (big)"
rm -f "$work/min.svt"
t0=$(date +%s)
SVT_BROKEN=47 "$broken" reduce --audit full --budget 1 --from 300000 "$big" -o "$work/min.svt" > "$work/out" 2>&1; rc=$?
t1=$(date +%s)
if [ $((t1 - t0)) -le 15 ] &&
   { { [ "$rc" -eq 1 ] && [ ! -e "$work/min.svt" ] &&
       grep -q 'the budget ran out before a candidate showed the violation at event 30[0-9][0-9][0-9][0-9]' "$work/out"; } ||
     { [ "$rc" -eq 0 ] && [ -e "$work/min.svt" ] && grep -q 'the budget ran out: the best so far' "$work/out"; }; }; then
	pass "reduce --budget 1: stopped after $((t1 - t0)) s, exit $rc"
else
	fail "reduce --budget 1 (exit $rc, $((t1 - t0)) s)"; cat "$work/out"
fi
# SIGINT before any candidate showed it (still replaying the whole trace
# for the target): nothing written, exit 4
rm -f "$work/min.svt"
SVT_BROKEN=47 "$broken" reduce --audit full --from 300000 "$big" -o "$work/min.svt" > "$work/out" 2>&1 &
pid=$!
# once its SIGINT handler is in (a loaded machine may take longer than the
# search's first second to get there), at least 0.3 s in
sleep 0.3
i=0
while [ $i -lt 100 ] && c=$(sed -n 's/^SigCgt:[[:space:]]*//p' /proc/$pid/status 2>/dev/null) &&
      [ -n "$c" ] && [ $((0x$c & 2)) -eq 0 ]; do
	sleep 0.1; i=$((i + 1))
done
kill -INT $pid
wait $pid; rc=$?
[ "$rc" -eq 4 ] && [ ! -e "$work/min.svt" ] && grep -q 'interrupted before a candidate showed' "$work/out" &&
	pass "reduce: SIGINT before a reproducer: nothing written, exit 4" ||
	{ fail "reduce: SIGINT (exit $rc)"; cat "$work/out"; }
# progress on a terminal (script(1) gives it one), none elsewhere
need script
SVT_BROKEN=47 SHADOWVT_PROGRESS_DELAY=0 script -qc "'$broken' reduce --from 60000 '$good' -o '$work/min.svt'" /dev/null |
	tr '\r' '\n' | grep -Eq 'reduce good.svt: (window|ddmin), [0-9]+ inputs, [0-9]+ candidates replayed, [0-9]+ s' &&
	pass "reduce draws a progress line on a terminal" || fail "reduce: no progress line on a terminal"
SVT_BROKEN=47 "$broken" reduce --from 60000 "$good" -o "$work/min.svt" 2> "$work/err" > /dev/null
[ ! -s "$work/err" ] && pass "reduce: no progress line when standard error is not a terminal" ||
	fail "reduce: progress without a terminal"
expect_status 1 "reduce: a clean trace has nothing to reduce" "$bin" reduce "$good" -o "$work/min.svt"
grep -q 'replays clean at audit level faults: nothing to reduce' "$work/out" ||
	fail "reduce of a clean trace: no message"

# ---- damaged input, unwritable output: exit 3 ------------------------------------
"$bin" synth -q --workload mix --events 20000 --seed 5 --frame-size 4096 -o "$work/mf.svt"
head -c $(($(bytes "$work/mf.svt") / 2)) "$work/mf.svt" > "$work/cut-short.svt"
"$bin" cut "$work/cut-short.svt" --from 15000 -o "$work/x.svt" > "$work/out" 2>&1; rc=$?
[ "$rc" -eq 3 ] && grep -q 'cut-short.svt: frame [0-9]*, offset [0-9]*, event [0-9]*: ' "$work/out" &&
	[ ! -e "$work/x.svt" ] && pass "cut past the end of a truncated trace: exit 3, where" ||
	{ fail "cut of a truncated trace (exit $rc)"; cat "$work/out"; }
SVT_BROKEN=2 "$broken" reduce "$work/cut-short.svt" -o "$work/x.svt" > "$work/out" 2>&1; rc=$?
[ "$rc" -eq 0 ] && SVT_BROKEN=2 "$broken" replay "$work/x.svt" 2>&1 | grep -q ': event [0-9]*: INV-FAULT' &&
	pass "reduce: a violation before a truncated trace's damage is reduced" ||
	{ fail "reduce of a truncated trace (exit $rc)"; cat "$work/out"; }
rm -f "$work/x.svt"
for c in "cut $good --from 10 --to 20" "reduce $work/b1.svt"; do
	SVT_BROKEN=1 "$broken" $c -o "$work/no/such/dir.svt" > "$work/out" 2>&1; rc=$?
	[ "$rc" -eq 3 ] && grep -q 'no/such/dir.svt: ' "$work/out" &&
		pass "${c%% *} to an unwritable path: exit 3" ||
		{ fail "${c%% *} to an unwritable path (exit $rc)"; cat "$work/out"; }
done

# ---- bad arguments: exit 2 with the reason --------------------------------------
n_last=$((n_good - 1))
for args in "replay --from 10 --to 5 $good|is after --to 5" \
	    "replay --from $n_good $good|--from $n_good is beyond the end: the trace has $n_good events (0..$n_last)" \
	    "replay --to $n_good $good|--to $n_good is beyond the end" \
	    "replay --from -1 $good|--from" \
	    "cut $good --from 10 --to 5 -o $work/x.svt|is after --to 5" \
	    "cut $good --from $n_good -o $work/x.svt|beyond the end" \
	    "cut $good --to 5 -o $work/x.svt|--from" \
	    "cut $good --from 5|-o FILE is required" \
	    "reduce $good --from $n_good -o $work/x.svt|beyond the end" \
	    "reduce $good|-o FILE is required"; do
	cmd=${args%%|*}; msg=${args#*|}
	"$bin" $cmd > "$work/out" 2> "$work/err"; rc=$?
	[ "$rc" -eq 2 ] && grep -qF -- "$msg" "$work/err" && [ ! -e "$work/x.svt" ] &&
		pass "shadowvt $cmd: exit 2, '$msg'" ||
		{ fail "shadowvt $cmd: exit $rc"; cat "$work/err"; }
done
finish reduce-cmd
