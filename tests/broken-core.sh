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
finish broken-core
