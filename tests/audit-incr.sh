#!/bin/sh
# The incremental full audit (docs/replay.md, AUDIT LEVELS): at --audit full
# replay audits after each input only what the input changed, and the whole
# core now and then.  Its oracle is the whole audit after every input
# (SVT_AUDIT_WHOLE=1): for seeded core bugs that the audits catch, traces
# made by the broken core must show every invariant first at the same event
# both ways.
set -u
. "$top_srcdir/tests/testlib.sh"
broken="$top_builddir/tests/shadowvt-broken"
# invariants the first events are taken of, per replay
firsts() { awk '/: event / { n = $3; sub(":", "", n); if (!($4 in f)) f[$4] = n }
	END { for (k in f) print k, f[k] }' | sort; }
for c in "1 mix 4level" "3 mix 4level" "21 mix 4level" "30 mix 4level" "33 mix 4level" \
	 "35 mix 4level" "38 mix 4level" "47 mix 4level" "56 mix 4level" "9 atomic pae" \
	 "23 protect 2level" "39 fork 4level"; do
	set -- $c
	SVT_BROKEN=$1 "$broken" synth -q --workload "$2" --mode "$3" --events 4000 --seed 3 \
		-o "$work/t.svt" 2>/dev/null
	SVT_BROKEN=$1 "$broken" replay --show 100000 --audit full "$work/t.svt" 2>&1 | firsts > "$work/inc"
	SVT_AUDIT_WHOLE=1 SVT_BROKEN=$1 "$broken" replay --show 100000 --audit full "$work/t.svt" 2>&1 |
		firsts > "$work/whole"
	if [ ! -s "$work/whole" ]; then
		fail "bug $1 ($2, $3): the whole audit reports nothing: not a case for this test"
	elif cmp -s "$work/inc" "$work/whole"; then
		pass "bug $1 ($2, $3): the same first events: $(tr '\n' ' ' < "$work/whole")"
	else
		fail "bug $1 ($2, $3): incremental $(tr '\n' ' ' < "$work/inc"), whole $(tr '\n' ' ' < "$work/whole")"
	fi
done
finish audit-incr
