#!/bin/sh
# What-ifs against live recordings (docs/replay.md, What-ifs): a shipped
# deterministic guest (paging-4level) is recorded in Bochs under the
# hypervisor under four policies; the trace recorded under the default
# policy is replayed under each of the others and compared, counter by
# counter, with the recording under that policy.  A live trace holds no
# guest actions (the hypervisor sees only exits), so these what-ifs are
# not regenerated: each must be labelled approximate (or exact only where
# it equals its recording in every counter), and the error per counter is
# printed for the record.  Every recording itself must replay as
# recorded.
set -u
. "$top_srcdir/tests/testlib.sh"
need bochs grub-mkrescue xorriso sqlite3 jq
bin="$top_builddir/shadowvt"
elf="$top_builddir/guests/paging-4level.elf"
D=oos=2,prefetch=8,emulate=1,early=1,pool=512
policies="$D
oos=0,prefetch=0,emulate=1,early=0,pool=512
oos=2,prefetch=0,emulate=0,early=1,pool=512
oos=8,prefetch=8,emulate=1,early=1,pool=64"

i=0
for p in $policies; do
	i=$((i + 1))
	SHADOWVT_VMX= "$bin" record -q --guest "$elf" --timeout 120 --policy "$p" \
		-o "$work/p$i.svt" > "$work/rec" 2>&1; rc=$?
	[ "$rc" -eq 0 ] && pass "recorded under $p" ||
		{ fail "record under $p: exit $rc"; cat "$work/rec"; }
done
db=$work/w.db
expect_status 0 "the recordings, each under its own policy" "$bin" replay -q --audit none \
	--db "$db" "$work"/p[1-4].svt
i=0
for p in $policies; do
	i=$((i + 1))
	[ "$i" -eq 1 ] && continue
	expect_status 0 "the default recording under $p" "$bin" replay --json --audit none \
		--policy "$p" --db "$db" "$work/p1.svt"
	jq -e '.whatif == "approximate" or .whatif == "exact"' "$work/out" >/dev/null &&
		jq -e '.whatif_why | test("regenerated") | not' "$work/out" >/dev/null &&
		pass "  ...labelled $(jq -r .whatif "$work/out"), not regenerated (no guest actions live)" ||
		{ fail "label"; cat "$work/out"; }
done
# pairs: the what-if (recorded_policy 0) against the recording of that policy
sqlite3 "$db" > "$work/pairs" <<'SQL' || fail "sqlite3"
.separator ' '
SELECT p.policy, p.whatif, cp.name, ct.value, cp.value
FROM runs p JOIN runs t ON t.recorded_policy = 1 AND t.policy = p.policy AND t.id <> p.id
JOIN counters cp ON cp.run = p.id JOIN counters ct ON ct.run = t.id AND ct.name = cp.name
WHERE p.recorded_policy = 0 AND cp.name IN ('inputs', 'faults', 'emulated', 'resyncs',
	'shadows_made', 'evictions', 'injected', 'unshadows')
ORDER BY p.policy, cp.name;
SQL
[ "$(awk '{ print $1 }' "$work/pairs" | sort -u | wc -l)" -eq 3 ] &&
	pass "three what-ifs paired with their recordings" || { fail "pairs"; cat "$work/pairs"; }
awk '
	{ err = $4 == $5 ? 0 : ($4 == 0 ? 100 : 100 * ($5 - $4) / $4)
	  printf("# %s (%s) %s: recorded %s, predicted %s (%+.1f%%)\n", $1, $2, $3, $4, $5, err)
	  if ($2 == "exact" && $4 != $5) bad++ }
	END { exit bad > 0 }' "$work/pairs" &&
	pass "every pair labelled exact equals its recording" ||
	fail "a pair labelled exact differs from its recording"
finish live-whatif
