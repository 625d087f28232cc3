#!/bin/sh
# Deliberately broken cores (tests/shadowvt-broken: the core built with
# SVT_BROKEN; $SVT_BROKEN picks the bug, src/mmu_int.h) replaying traces
# the real core recorded.  Replay must report the first divergence and the
# invariant violations, each with its event number; the real core replays
# the same traces clean.
#   bug 1: L1 page tables are not write-protected (INV-WP, INV-PERM, INV-REPLAY)
#   bug 2: injected #PFs lose the U/S bit of their error code (INV-FAULT, INV-REPLAY)
#   bug 47: prefetch in a splintered large page maps every neighbour to the
#           faulting page's frame (INV-FRAME from the check of the neighbours
#           a fixed fault prefetched, under any policy)
# and three buggy cores' own traces (below).
set -u
. "$top_srcdir/tests/testlib.sh"
bin="$top_builddir/shadowvt"
broken="$top_builddir/tests/shadowvt-broken"

for m in 2level 4level; do
	t="$work/fork-$m.svt"
	"$bin" synth -q --workload fork --mode "$m" --events 20000 --seed 5 -o "$t" ||
		{ fail "synth $m"; continue; }
	"$bin" replay --audit periodic "$t" > "$work/good" 2>&1 &&
		pass "$m: the real core replays clean" || { fail "$m: real core not clean"; cat "$work/good"; }

	SVT_BROKEN=1 "$broken" replay --audit periodic --show 100000 "$t" > "$work/bad" 2>&1; rc=$?
	[ "$rc" -eq 1 ] && pass "$m, bug 1: replay exits 1" || fail "$m, bug 1: replay exit $rc"
	grep -Eq 'first divergence \(INV-REPLAY\) at event [0-9]+' "$work/bad" &&
		pass "$m, bug 1: first divergence reported with its event number" ||
		{ fail "$m, bug 1: no divergence reported"; tail -n 3 "$work/bad"; }
	grep -Eq ': event [0-9]+: INV-WP .*a shadowed page table is writable' "$work/bad" &&
		pass "$m, bug 1: INV-WP reported with its event number" || fail "$m, bug 1: no INV-WP"
	grep -Eq ': event [0-9]+: INV-PERM .*writable where the guest' "$work/bad" &&
		pass "$m, bug 1: INV-PERM reported" || fail "$m, bug 1: no INV-PERM"
	grep -m 1 -E 'INV-WP' "$work/bad" | sed 's/^/# /'

	SVT_BROKEN=2 "$broken" replay --audit faults --show 100000 "$t" > "$work/bad" 2>&1; rc=$?
	[ "$rc" -eq 1 ] && pass "$m, bug 2: replay exits 1" || fail "$m, bug 2: replay exit $rc"
	grep -Eq ': event [0-9]+: INV-FAULT .*#PF injected with error code 0x[0-9a-f]*, CR2 .*; bare metal: ' "$work/bad" &&
		pass "$m, bug 2: INV-FAULT reported with its event number" ||
		{ fail "$m, bug 2: no INV-FAULT"; head -n 3 "$work/bad"; }
	grep -m 1 -E 'INV-FAULT' "$work/bad" | sed 's/^/# /'
	# under another policy there is no decision to compare: INV-FAULT alone
	SVT_BROKEN=2 "$broken" replay --audit faults --policy oos=0 "$t" > "$work/bad" 2>&1; rc=$?
	[ "$rc" -eq 1 ] && grep -q 'INV-FAULT' "$work/bad" && ! grep -q 'INV-REPLAY' "$work/bad" &&
		pass "$m, bug 2, another policy: INV-FAULT without INV-REPLAY" ||
		{ fail "$m, bug 2, another policy"; head -n 3 "$work/bad"; }

	# the neighbours a fixed fault prefetched are checked, not only its own access
	SVT_BROKEN=47 "$broken" replay --audit faults --policy oos=0 --show 1 "$t" > "$work/bad" 2>&1; rc=$?
	[ "$rc" -eq 1 ] && ! grep -q 'INV-REPLAY' "$work/bad" &&
		grep -Eq ': event [0-9]+: INV-FRAME .*: a neighbour the fault at 0x[0-9a-f]+ mapped: the shadows map frame 0x[0-9a-f]+, the guest.s tables 0x' "$work/bad" &&
		pass "$m, bug 47: a wrong prefetched neighbour is INV-FRAME, with its event number" ||
		{ fail "$m, bug 47: no INV-FRAME for the prefetched neighbours"; head -n 3 "$work/bad"; }
	grep -m 1 -E 'INV-FRAME' "$work/bad" | sed 's/^/# /'
done

# a damaged trace: the violations found before the damage are counted in
# the summary (text and JSON), not hidden behind bad-input
t="$work/small-frames.svt"
"$bin" synth -q --workload fork --events 20000 --seed 5 --frame-size 4096 -o "$t" || fail "synth"
head -c $(($(wc -c < "$t") * 2 / 3)) "$t" > "$work/cut.svt"
SVT_BROKEN=2 "$broken" replay -q "$work/cut.svt" > "$work/bad" 2> "$work/err"; rc=$?
[ "$rc" -eq 3 ] && grep -Eq 'cut.svt: bad input after [0-9]+ events .*: [1-9][0-9]* invariant violations, [1-9][0-9]* divergent decisions before the damage' "$work/bad" &&
	pass "bad input after violations: the summary counts them" ||
	{ fail "bad input after violations (exit $rc)"; cat "$work/bad" "$work/err"; }
SVT_BROKEN=2 "$broken" replay -q --json "$work/cut.svt" > "$work/bad" 2> "$work/err"
[ -s "$work/bad" ] && jq -e '.status == "bad-input" and .violations > 0 and .divergences > 0 and .first_divergence >= 0' \
	"$work/bad" > /dev/null && pass "  ...and so does --json" || { fail "--json bad input"; cat "$work/bad"; }

# violations the database refuses (a trigger): the run is stored, marked as
# not holding all its results, and the exit status is 3
need sqlite3
"$bin" replay -q --db "$work/trig.db" "$t" > /dev/null || fail "replay into trig.db"
sqlite3 "$work/trig.db" "CREATE TRIGGER nov BEFORE INSERT ON violations
	BEGIN SELECT RAISE(ABORT, 'violations refused'); END;" || fail "trigger"
SVT_BROKEN=2 "$broken" replay -q --db "$work/trig.db" "$t" > "$work/bad" 2> "$work/err"; rc=$?
[ "$rc" -eq 3 ] && grep -q 'results not stored in .*trig.db: .*violations refused' "$work/err" &&
	grep -q 'VIOLATIONS: .*results NOT stored' "$work/bad" &&
	pass "violations the database refuses: exit 3, said on stderr and in the summary" ||
	{ fail "refused violations (exit $rc)"; cat "$work/bad" "$work/err"; }
[ "$(sqlite3 "$work/trig.db" 'SELECT status FROM runs WHERE id = 2')" = violations ] &&
	sqlite3 "$work/trig.db" 'SELECT message FROM runs WHERE id = 2' | grep -q '^not all results stored: ' &&
	pass "  ...and the run is marked as not holding all its results" ||
	{ fail "run not marked"; sqlite3 "$work/trig.db" 'SELECT * FROM runs'; }

# A buggy core's own traces (the product as a user runs it: the broken
# build records with synth and replays), caught by the checks that do not
# ask the core: the whole address space at a flush, and A/D bits.
#   bug 39: a CR3 load that flushes resyncs nothing (INV-SYNC after it)
#   bug 41: with CR4.PCIDE every CR3 load is taken as no-flush (the same)
#   bug 8:  walker: reads set D in the leaf as writes do (INV-FAULT)
for spec in "39 mix 2level after a CR3 load that flushes" \
	    "41 spaces-pcid 4level after a CR3 load that flushes" \
	    "8 mix 2level the guest.s level-1 entry, 0x[0-9a-f]+ before, is 0x[0-9a-f]+: it has D, which bare metal does not set"; do
	set -- $spec
	b=$1 w=$2 m=$3
	shift 3
	t="$work/own-$b.svt"
	"$bin" synth -q --workload "$w" --mode "$m" --events 20000 --seed 1 -o "$work/real-$b.svt" &&
		"$bin" replay --audit periodic "$work/real-$b.svt" > "$work/good" 2>&1 &&
		pass "bug $b's configuration: the real core's own trace replays clean" ||
		{ fail "bug $b's configuration: real core not clean"; head -n 3 "$work/good"; }
	SVT_BROKEN=$b "$broken" synth -q --workload "$w" --mode "$m" --events 20000 --seed 1 -o "$t" ||
		{ fail "bug $b: synth with the broken core"; continue; }
	SVT_BROKEN=$b "$broken" replay --audit periodic --show 5 "$t" > "$work/bad" 2>&1; rc=$?
	[ "$rc" -eq 1 ] && grep -Eq ": event [0-9]+: INV-[A-Z]+ .*$*" "$work/bad" &&
		pass "bug $b: its own trace is reported ($*)" ||
		{ fail "bug $b: its own trace not reported as expected (exit $rc)"; head -n 3 "$work/bad"; }
	grep -m 1 -E 'INV-' "$work/bad" | sed 's/^/# /'
	# at audit level faults the whole-address-space check does not run
	if [ "$b" != 8 ]; then
		SVT_BROKEN=$b "$broken" replay --audit faults --show 5 "$t" > "$work/bad" 2>&1
		! grep -q "$*" "$work/bad" &&
			pass "bug $b: no whole-address-space check at audit level faults" ||
			fail "bug $b: a whole-address-space check ran at audit level faults"
	fi
done
finish broken-core
