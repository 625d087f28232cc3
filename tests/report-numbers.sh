#!/bin/sh
# shadowvt report read back: every number the page draws or tabulates for
# a run (its bars' numbers, their segments, the chart titles, the runs
# table, the policy comparison's table and its bars) is read out of the
# rendered page with xmllint and compared with what `shadowvt query` prints
# for the same runs, and with the replay's final counters (the counters
# table).  The traces are chosen so that the faults' outcomes do not add
# up to the faults: protect writes with CR0.WP=0 (emulated_wp0), and
# directmap in PAE mode has faults counted under two outcomes; a bar that
# summed its segments would be caught.  Runs compared with each other must
# share their scales (identical axes); a run compared with none keeps its
# own.
set -u
. "$top_srcdir/tests/testlib.sh"
bin="$top_builddir/shadowvt"
need xmllint jq
L="local-name()"

db="$work/r.db"
page="$work/r.html"
"$bin" synth -q --workload protect --events 150000 --seed 3 -o "$work/protect.svt" &&
	"$bin" synth -q --workload directmap --mode pae --events 40000 --seed 11 -o "$work/dmap.svt" &&
	"$bin" synth -q --workload fork --events 30000 --seed 5 -o "$work/alone.svt" ||
	{ fail synth; exit 1; }
# (pool=16: a tenth of the shadow pages, so that scales of their own would differ)
for tp in protect:recorded protect:pool=16 dmap:recorded dmap:oos=0,prefetch=0,emulate=0,early=0; do
	"$bin" replay -q --db "$db" --policy "${tp#*:}" "$work/${tp%%:*}.svt" > /dev/null ||
		fail "replay $tp"
done
"$bin" replay -q --db "$db" "$work/alone.svt" > /dev/null || fail "replay alone.svt"
expect_status 0 "report" "$bin" report "$db" -o "$page"
xmllint --noout "$page" && pass "...well-formed XML" || { fail "xmllint"; exit 1; }

# xp XPATH: its value in the page (nodes one a line); nocomma: 1,234 -> 1234
xp() { xmllint --xpath "$1" "$page" 2> /dev/null; }
nocomma() { tr -d ,; }
# q RUN FIELD: a field of query's fault_mix report for RUN
q() { "$bin" query "$db" faults --run "$1" --format json | jq -r ".[0].$2"; }
# sql RUN SQL: one value of SQL with :run bound to RUN
sql() { "$bin" query "$db" --run "$1" --format json --sql "$2" | jq -r '.[0][]'; }
# same WHAT GOT WANT
same() {
	[ -n "$2" ] && [ "$2" = "$3" ] && pass "$1: $2" || fail "$1: the page says '$2', expected '$3'"
}

ids=$("$bin" query "$db" --format json --sql "SELECT id FROM runs ORDER BY id" | jq -r '.[].id')
[ "$(echo $ids)" = "1 2 3 4 5" ] && pass "five runs" || fail "runs: $ids"

# ---- each run's fault and exit mix, and the runs table ------------------------------
overlap=0
for id in $ids; do
	svg="//*[$L='svg'][@id='mix-run-$id']"
	bars=$(xp "$svg/*[$L='text'][@class='bl']/text()" | nocomma | tr '\n' ' ')
	exits=$(q "$id" exits) faults=$(q "$id" faults) events=$(q "$id" events)
	same "run $id: the exits bar's number" "${bars%% *}" "$exits"
	set -- $bars
	same "run $id: the page faults bar's number" "${2:-}" "$faults"
	same "run $id: ...the replay's final counter" "${2:-}" \
		"$(sql "$id" "SELECT value FROM counters WHERE run = :run AND name = 'faults'")"
	title=$(xp "string($svg/*[$L='title'])" | nocomma)
	same "run $id: the title's exits and events" \
		"$(echo "$title" | sed -n 's/.*(\([0-9]*\) exits in \([0-9]*\) events .*/\1 \2/p')" \
		"$exits $events"
	same "run $id: the runs table's events" \
		"$(xp "string(//*[@id='runs']//*[$L='tr'][*[1]/*[$L='a']='$id']/*[$L='td'][7])" | nocomma)" \
		"$events"
	same "run $id: the runs table's violations" \
		"$(xp "string(//*[@id='runs']//*[$L='tr'][*[1]/*[$L='a']='$id']/*[$L='td'][9])" | nocomma)" \
		"$(sql "$id" "SELECT violations FROM runs WHERE id = :run")"
	# every segment: its value and its share of the bar's number as query has them
	xp "$svg/*[$L='rect']/*[$L='title']/text()" | nocomma > "$work/seg"
	wp0=$(sql "$id" "SELECT sum(emulated_wp0) FROM timeline WHERE run = :run")
	sum=0
	for s in "page faults:faults:exits:faults_pct" "CR writes:cr_writes:exits:" \
		"INVLPG:invlpgs:exits:" "TLB flushes:flushes:exits:" \
		"fixed (propagated):fixed:page faults:fixed_pct" "fixed (A/D bits):ad:page faults:ad_pct" \
		"injected #PF:injected:page faults:injected_pct" \
		"emulated writes:emulated:page faults:emulated_pct" "emulated with CR0.WP=0::page faults:" \
		"MMIO:mmio:page faults:mmio_pct" "retries:retries:page faults:retries_pct"; do
		name=${s%%:*}; s=${s#*:}; col=${s%%:*}; s=${s#*:}; bar=${s%%:*}; pct=${s#*:}
		want=$wp0
		[ -n "$col" ] && want=$(q "$id" "$col")
		[ "$bar" = "page faults" ] && sum=$((sum + want))
		# "page faults: fixed (propagated) 3227 (6.5% of 49333)" -> "3227 6.5 49333"
		got=$(grep -F "$bar: $name " "$work/seg" |
			sed 's/.* \([0-9]*\) (\([0-9.]*\)% of \([0-9]*\))$/\1 \2 \3/')
		if [ "$want" -eq 0 ]; then
			[ -z "$got" ] && pass "run $id: no $name segment (0)" ||
				fail "run $id: a $name segment: $got"
			continue
		fi
		set -- $got
		same "run $id: segment '$name'" "${1:-}" "$want"
		of=$faults
		[ "$bar" = exits ] && of=$exits
		same "run $id: ...a share of" "${3:-}" "$of"
		[ -n "$pct" ] && [ -n "${2:-}" ] &&
			awk -v a="$2" -v b="$(q "$id" "$pct")" \
				'BEGIN { d = a - b; exit !(d < 0.051 && d > -0.051) }' &&
			pass "run $id: ...${2:-}%, as query's $pct" ||
			{ [ -z "$pct" ] || fail "run $id: $name: ${2:-?}%, query's $pct $(q "$id" "$pct")"; }
	done
	# outcomes that do not add up to the faults are said to
	caps=$(xp "//*[@id='run-$id']/*[$L='p'][@class='cap']/text()" | nocomma)
	if [ "$sum" -gt "$faults" ]; then
		overlap=$((overlap + 1))
		echo "$caps" |
			grep -qF "segments add up to $sum $((sum - faults)) more than the $faults page faults" &&
			pass "run $id: a caption says the outcomes add up to $sum, not $faults" ||
			fail "run $id: outcomes $sum, faults $faults, and no caption says so"
	else
		echo "$caps" | grep -q "segments add up" &&
			fail "run $id: a caption on outcomes that add up" ||
			pass "run $id: no caption on the outcomes"
	fi
	unit=$(xp "$svg/*[$L='g'][@class='ax']/*[$L='text'][last()]/text()")
	case $unit in
	*exits*"page faults"*) pass "run $id: the bars' axis names exits and page faults" ;;
	*) fail "run $id: the bars' axis says '$unit'" ;;
	esac
done
[ "$overlap" -gt 0 ] && pass "$overlap run(s) whose outcomes overlap" ||
	fail "no run whose faults' outcomes overlap: the directmap trace no longer tests that"
[ "$(sql 1 "SELECT sum(emulated_wp0) FROM timeline WHERE run = :run")" -gt 0 ] &&
	pass "run 1 emulates writes with CR0.WP=0" || fail "protect no longer writes with CR0.WP=0"

# ---- the policy comparison: table = query, bars = table -----------------------------
g=0
while :; do
	g=$((g + 1))
	xp "//*[$L='svg'][@id='compare-$g-exits']" > /dev/null || break
	tab="//*[$L='h3'][@id='compare-$g']/following-sibling::*[$L='table'][1]/*[$L='tbody']/*[$L='tr']"
	runs=$(xp "$tab/*[$L='td'][1]/*[$L='a']/text()" | tr '\n' ' ')
	[ "$(echo $runs | wc -w)" -eq 2 ] && pass "comparison $g: runs $runs" ||
		fail "comparison $g: runs '$runs'"
	: > "$work/cells"
	for id in $runs; do
		cell() { xp "string($tab[*[1]/*[$L='a']='$id']/*[$L='td'][$1])" | nocomma; }
		cmp=$("$bin" query "$db" compare --format json | jq -c "[.[] | select(.run == $id)][0]")
		same "comparison $g, run $id: exits" "$(cell 5)" "$(echo "$cmp" | jq -r .exits)"
		same "comparison $g, run $id: faults" "$(cell 6)" "$(q "$id" faults)"
		same "comparison $g, run $id: emulated" "$(cell 7)" "$(echo "$cmp" | jq -r .emulated)"
		same "comparison $g, run $id: resyncs" "$(cell 8)" "$(echo "$cmp" | jq -r .resyncs)"
		same "comparison $g, run $id: peak shadow pages" "$(cell 9)" \
			"$(echo "$cmp" | jq -r .peak_shadow_pages)"
		same "comparison $g, run $id: evictions" "$(cell 10)" "$(echo "$cmp" | jq -r .evictions)"
		# the bar charts' order: per run, exits and faults; then one series each
		echo "exits $(cell 5)" >> "$work/cells"
		echo "exits $(cell 6)" >> "$work/cells"
		for m in 7:emulations 8:resyncs 9:memory; do
			echo "${m#*:} $(cell "${m%%:*}")" >> "$work/cells"
		done
	done
	for m in exits emulations resyncs memory; do
		want=$(grep "^$m " "$work/cells" | cut -d' ' -f2 | tr '\n' ' ')
		got=$(xp "//*[$L='svg'][@id='compare-$g-$m']/*[$L='text'][@class='bl']/text()" | nocomma |
			tr '\n' ' ')
		same "comparison $g: the $m bars' numbers are the table's" "$got" "$want"
	done
	# the runs compared share their scales
	for c in mix timeline; do
		first=
		for id in $runs; do
			axes=$(xp "//*[$L='svg'][@id='$c-run-$id']/*[$L='g'][@class='ax']//*[$L='text']/text()" |
				tr '\n' ' ')
			[ -n "$axes" ] || fail "run $id: no axes on its $c chart"
			if [ -z "$first" ]; then
				first=$axes
			else
				same "comparison $g: run $id's $c chart on the same axes" "$axes" "$first"
			fi
		done
	done
	for id in $runs; do
		xp "string(//*[@id='run-$id']/*[$L='p'][starts-with(., 'On one set of scales')])" |
			grep -q "run $(echo $runs | tr ' ' '\n' | grep -vx "$id")" &&
			pass "run $id's section names the run it shares its scales with" ||
			fail "run $id: no note of its shared scales"
	done
done
[ "$g" -eq 3 ] && pass "two comparisons" || fail "$((g - 1)) comparisons, expected 2"
xp "string(//*[@id='run-5'])" | grep -q 'On one set of scales' &&
	fail "run 5, compared with none, says it shares its scales" || pass "run 5 keeps scales of its own"
grep -qF 'draw their fault and exit mix and their timeline on one set of scales' "$page" &&
	pass "the page states the choice of scales" || fail "the choice of scales is not stated"

finish report-numbers
