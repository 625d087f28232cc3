#!/bin/sh
# bench/whatif.sh — the ground truth of replay under another policy
# (docs/replay.md, What-ifs; `make bench-whatif`; tests/whatif.sh runs it
# small).
#
# For every synth workload x mode, a base trace is recorded under each base
# policy B; for every policy P of the matrix below the same guest is
# recorded under P (`synth --like BASE --policy P`: the same workload and
# seed, exactly as many guest actions as the base: what recording under P
# measures), and the base trace is replayed under P (what the one-trace
# what-if predicts).  Each base's runs go into a results database of its
# own; the script prints, per base and counter, how far the predictions
# are from the recordings, the same split by the replay's what-if label,
# and the share labelled exact.
# It exits 1 if any pair labelled exact or recorded differs from its
# recording in any counter (pool_free and peak_rss_kb aside: the pool's
# size less its use, and the process), 2 on a failure to run.
#
#   sh bench/whatif.sh [SHADOWVT]
#   WHATIF_EVENTS    events per trace (default 50000)
#   WHATIF_SEED      the seed (default 5)
#   WHATIF_WORKLOADS workloads (default: all of synth --list)
#   WHATIF_MODES     modes (default "2level pae 4level")
#   WHATIF_DIR       scratch directory (default: a new one, removed after)
#   WHATIF_JOBS      replays at once (default 2)
set -u

sv=${1:-${top_builddir:-.}/shadowvt}
events=${WHATIF_EVENTS:-50000}
seed=${WHATIF_SEED:-5}
modes=${WHATIF_MODES:-2level pae 4level}
jobs=${WHATIF_JOBS:-2}
fail() { echo "whatif: $*" >&2; exit 2; }
command -v sqlite3 >/dev/null || fail "sqlite3 is needed (scripts/deps)"
[ -x "$sv" ] || fail "no shadowvt at $sv"
workloads=${WHATIF_WORKLOADS:-$("$sv" synth --list | awk 'NR > 1 && /^[a-z]/ { print $1 }')}
[ -n "$workloads" ] || fail "synth --list gave no workloads"
if [ -n "${WHATIF_DIR:-}" ]; then
	dir=$WHATIF_DIR
	mkdir -p "$dir" || fail "cannot make $dir"
else
	dir=$(mktemp -d "${TMPDIR:-/tmp}/whatif.XXXXXX") || fail "no scratch directory"
	trap 'rm -rf "$dir"' EXIT
	trap 'exit 4' INT TERM
fi
db=$dir/whatif.db
rm -f "$db" "$dir"/*.svt

# The matrix: each knob alone at a second value, pools that evict (16,
# 32, 64), one that may not (256), and combinations.  Full specs, so that the replay's policy
# is P whatever the base trace's.
D=oos=2,prefetch=8,emulate=1,early=1
policies="$D,pool=512
oos=0,prefetch=8,emulate=1,early=1,pool=512
oos=8,prefetch=8,emulate=1,early=1,pool=512
oos=2,prefetch=0,emulate=1,early=1,pool=512
oos=2,prefetch=2,emulate=1,early=1,pool=512
oos=2,prefetch=8,emulate=0,early=1,pool=512
oos=2,prefetch=8,emulate=1,early=0,pool=512
$D,pool=16
$D,pool=64
$D,pool=256
oos=0,prefetch=0,emulate=1,early=0,pool=512
oos=0,prefetch=0,emulate=0,early=0,pool=512
oos=8,prefetch=0,emulate=1,early=0,pool=512
oos=8,prefetch=8,emulate=1,early=1,pool=64
$D,pool=32"
# The base traces the what-ifs replay: the default, and everything off.
bases="1 11"

t0=$(date +%s)
ncase=0
for w in $workloads; do
	for m in $modes; do
		# spaces-pcid (PCIDs) and pkeys (protection keys): 4level and 5level only
		case "$w:$m" in spaces-pcid:2level|spaces-pcid:pae|pkeys:2level|pkeys:pae) continue ;; esac
		# implicit logs no actions (its reads are no GUEST record's): no
		# synth --like, no regeneration to measure
		[ "$w" = implicit ] && continue
		ncase=$((ncase + 1))
		for b in $bases; do
			pb=$(echo "$policies" | sed -n "${b}p")
			base=$dir/$w-$m-base$b.svt
			"$sv" synth -q --workload "$w" --mode "$m" --seed "$seed" \
				--events "$events" --policy "$pb" -o "$base" || fail "synth $w $m $pb failed"
			# the truth: exactly this guest recorded under each policy
			i=0
			echo "$policies" | while read -r p; do
				i=$((i + 1))
				"$sv" synth -q --like "$base" --policy "$p" -o "$dir/$w-$m-b$b-p$i.svt" ||
					exit 2
			done || fail "synth --like $base failed"
		done
	done
done
t1=$(date +%s)
: >"$dir/pairs.txt"
for b in $bases; do
	db=$dir/whatif-$b.db
	rm -f "$db"
	# the recordings, replayed under their own policy: what recording measures
	"$sv" replay -q -j "$jobs" --audit none --db "$db" "$dir"/*-b"$b"-p*.svt "$dir"/*-base"$b".svt \
		>/dev/null || fail "replaying the recordings failed"
	# the what-ifs: the base traces under every policy
	echo "$policies" | while read -r p; do
		"$sv" replay -q -j "$jobs" --audit none --policy "$p" --db "$db" "$dir"/*-base"$b".svt \
			>/dev/null || exit 2
	done || fail "replaying the base traces $b failed"
	# pairs: a what-if run (base trace under P) and the recording under P of
	# the same guest; one row per pair and counter
	sqlite3 "$db" >>"$dir/pairs.txt" <<'SQL' || fail "sqlite3 failed"
.mode list
.separator ' '
CREATE TEMP VIEW pair AS
SELECT * FROM (SELECT p.id AS pid, p.policy AS policy, p.whatif AS label,
	(SELECT b.policy FROM runs b WHERE b.trace = p.trace AND b.recorded_policy = 1
	 ORDER BY b.id LIMIT 1) AS base,
	(SELECT t.id FROM runs t WHERE t.recorded_policy = 1 AND t.guest = p.guest AND
	 t.policy = p.policy AND t.id <> p.id AND t.trace NOT GLOB '*-base[0-9]*.svt'
	 ORDER BY t.id LIMIT 1) AS tid,
	replace(substr(p.guest, 7, instr(p.guest, ' seed=') - 7), ' ', ':') AS gcase
	FROM runs p WHERE p.status IN ('clean', 'violations') AND p.trace GLOB '*-base[0-9]*.svt')
WHERE tid IS NOT NULL AND base IS NOT NULL;
SELECT x.base, x.policy, x.label, x.gcase, cp.name, ct.value, cp.value
FROM pair x JOIN counters cp ON cp.run = x.pid JOIN counters ct ON ct.run = x.tid AND ct.name = cp.name
WHERE cp.name NOT IN ('pool_free', 'peak_rss_kb')
ORDER BY x.base, x.policy, x.gcase, cp.name;
SQL
done
t2=$(date +%s)
npairs=$(awk '{ print $1, $2, $4 }' "$dir/pairs.txt" | sort -u | wc -l)
[ "$npairs" -gt 0 ] || fail "no pairs (see $db)"
echo "# what-if ground truth: $ncase workload x mode cases, $(echo "$policies" | wc -l) policies," \
	"$events events, seed $seed; $npairs pairs; synth $((t1 - t0)) s, replays $((t2 - t1)) s"
awk -v shown="inputs faults emulated resyncs shadows_made evictions injected" '
function rel(t, p) { return t == p ? 0 : (t == 0 ? 1 : (p - t) / t) }
function abs(x) { return x < 0 ? -x : x }
{
	base = $1; pol = $2; lab = $3; c = $5; t = $6; p = $7
	key = base SUBSEP pol SUBSEP $4
	if (!(key in seen)) { seen[key] = 1; pairs[base]++; labs[base, lab]++; lab_all[lab]++; np++ }
	if (t != p && (lab == "exact" || lab == "recorded")) {
		bad++
		if (bad <= 20)
			printf("EXACT PAIR WRONG: base %s under %s (%s) %s: recorded %s, predicted %s\n", base, pol, $4, c, t, p)
	}
	if (lab == "recorded")
		next            # the diagonal: not a prediction
	e = rel(t, p)
	k = base SUBSEP c
	n[k]++; sum[k] += abs(e)
	if (abs(e) > max[k]) max[k] = abs(e)
	if (e < 0) low[k]++
	if (e > 0) high[k]++
	if (abs(e) <= 0.01) ok[k]++
	if (lab == "exact") { ne[k]++; if (abs(e) > maxe[k]) maxe[k] = abs(e) }
}
END {
	nc = split(shown, cs, " ")
	for (b in pairs) {
		printf("\n## base trace %s: %d pairs (%d recorded, %d exact, %d approximate)\n", b, pairs[b],
		       labs[b, "recorded"], labs[b, "exact"], labs[b, "approximate"])
		printf("%-15s %6s %9s %9s %7s %7s %7s %10s\n", "counter", "pairs", "mean|err|", "max|err|",
		       "<=1%", "low", "high", "exact:max")
		for (i = 1; i <= nc; i++) {
			k = b SUBSEP cs[i]
			if (!n[k]) continue
			printf("%-15s %6d %8.1f%% %8.1f%% %6.0f%% %7d %7d %9s\n", cs[i], n[k], 100 * sum[k] / n[k],
			       100 * max[k], 100 * ok[k] / n[k], low[k], high[k],
			       ne[k] ? sprintf("%.1f%%", 100 * maxe[k]) : "-")
		}
	}
	printf("\n# labels over all %d pairs: %d recorded, %d exact, %d approximate; exact share of the" \
	       " what-ifs (recorded aside): %.1f%%\n", np, lab_all["recorded"], lab_all["exact"],
	       lab_all["approximate"], 100 * lab_all["exact"] / (np - lab_all["recorded"]))
	if (bad) {
		printf("# %d counters of pairs labelled exact or recorded differ from the recording\n", bad)
		exit 1
	}
	print "# every pair labelled exact or recorded equals its recording in every counter"
}' "$dir/pairs.txt"
