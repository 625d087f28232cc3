#!/bin/sh
# mutants.sh — mutation testing of the core (`make mutants`, not part of
# make check).  Every seeded bug listed in src/mmu_int.h ("n: text" lines,
# SVT_BUG(n) in src/) is run through the product and the model harness:
#   (a) the buggy core makes the traces: tests/shadowvt-broken synth over
#       every workload in 2level, pae and 4level under two policies and the
#       mix under a third (configs() below), each trace replayed by the same
#       build with periodic audits (then, if nothing was reported, a short
#       trace per mode with every input audited); caught:
#       synth fails (a core error, a livelock, a #PF the guest cannot
#       explain, a crash or a hang) or replay reports a violation or a
#       divergence;
#   (b) clean traces through the buggy core: the same matrix recorded once
#       by the real shadowvt, replayed by the broken build (recorded policy,
#       periodic audits); caught: replay reports anything;
#   (c) the model harness (tests/mmu-soak-broken: the harness over the
#       broken core) in every mode under its 16 policies.
# Bug 0 (no bug) runs first as the control: it must pass all three.
# The table goes to standard output and to mutants.d/table.txt under the
# build tree.  Environment: top_srcdir, top_builddir (make sets them),
# MUTANTS_JOBS (bugs at once, default 2), MUTANTS_EVENTS (events per synth
# trace, default 20000), MUTANTS_STEPS (harness steps per run, default
# 1000), MUTANTS_BUGS (a list of bug numbers; default all).
# Exit status: 0, or 1 when the control is caught or something cannot run.
set -u

: "${top_srcdir:?}" "${top_builddir:?}"
bin=$top_builddir/shadowvt
broken=$top_builddir/tests/shadowvt-broken
soak=$top_builddir/tests/mmu-soak-broken
work=$top_builddir/mutants.d
events=${MUTANTS_EVENTS:-20000}
steps=${MUTANTS_STEPS:-1000}
jobs=${MUTANTS_JOBS:-2}
list=$top_srcdir/src/mmu_int.h
export top_srcdir top_builddir

# The configurations of (a) and (b), likeliest to catch first: policy name,
# policy (- for the default), mode, workload.  Every workload under the
# default policy and without out-of-sync pages; the mix of them all without
# emulation or prefetch and with the smallest pool (unshadowing, eviction).
configs() {
	for pol in default:- oos0:oos=0 small:emulate=0,prefetch=0,pool=16; do
		for mode in 2level pae 4level; do
			for w in mix fork mmap spaces spaces-pcid directmap teardown atomic protect pkeys \
				implicit; do
				case $w in spaces-pcid | pkeys) [ "$mode" != 4level ] && continue ;; esac
				[ "$w" != mix ] && [ "${pol%%:*}" = small ] && continue
				echo "${pol%%:*} ${pol#*:} $mode $w"
			done
		done
	done
}

# One line of evidence: the invariants a replay's report names.
invariants() {
	grep -o 'INV-[A-Z]*' "$1" | sort -u | paste -sd, -
}

# synth or replay failed: why, in a few words.
why_failed() {      # rc file
	case $1 in
	124) echo "hang (timeout)"; return ;;
	13[0-9]) echo "crash (signal $(($1 - 128)))"; return ;;
	esac
	sed -n '1{s/^.*event [0-9]*: //;p;}' "$2" | cut -c1-48
}

# (a) for bug $1: "yes<TAB>how", or "no<TAB>in how many traces the bug showed"
# (a trace the buggy core made that is byte for byte the real core's, from
# the same arguments, shows the bug changed nothing the trace records)
run_a() {
	n=$1
	d=$work/a$n
	mkdir -p "$d"
	t=$d/t.svt
	configs > "$d/configs"
	differ=0 all=0
	while read -r pname pol mode w; do
		set -- --workload "$w" --mode "$mode" --events "$events" --seed 3
		[ "$pol" != - ] && set -- "$@" --policy "$pol"
		SVT_BROKEN=$n timeout 60 "$broken" synth -q "$@" -o "$t" > "$d/out" 2>&1
		rc=$?
		if [ $rc -ne 0 ]; then
			printf 'yes\tsynth: %s (%s %s %s)\n' "$(why_failed $rc "$d/out")" "$mode" "$w" "$pname"
			return
		fi
		all=$((all + 1))
		cmp -s "$t" "$work/clean/$mode-$w-$pname.svt" || differ=$((differ + 1))
		SVT_BROKEN=$n timeout 60 "$broken" replay --audit periodic --show 20 "$t" > "$d/out" 2>&1
		rc=$?
		if [ $rc -ne 0 ]; then
			inv=$(invariants "$d/out")
			[ -n "$inv" ] || inv="replay: $(why_failed $rc "$d/out")"
			printf 'yes\t%s (%s %s %s)\n' "$inv" "$mode" "$w" "$pname"
			return
		fi
	done < "$d/configs"
	# nothing yet: short traces, every input audited
	for mode in 2level pae 4level; do
		SVT_BROKEN=$n timeout 60 "$broken" synth -q --workload mix --mode "$mode" \
			--events 1000 --seed 5 -o "$t" > "$d/out" 2>&1 || continue
		SVT_BROKEN=$n timeout 120 "$broken" replay --audit full --show 20 "$t" > "$d/out" 2>&1
		rc=$?
		if [ $rc -ne 0 ]; then
			inv=$(invariants "$d/out")
			[ -n "$inv" ] || inv="replay: $(why_failed $rc "$d/out")"
			printf 'yes\t%s (full audit, %s mix)\n' "$inv" "$mode"
			return
		fi
	done
	if [ $differ -eq 0 ]; then
		printf 'no\tno trace changed (all as the real core'"'"'s)\n'
	else
		printf 'no\tchanged %s/%s traces, not reported\n' $differ $all
	fi
}

# (b) for bug $1: the clean traces through the broken build
run_b() {
	n=$1
	d=$work/b$n
	mkdir -p "$d"
	for t in "$work"/clean/*.svt; do
		SVT_BROKEN=$n timeout 60 "$broken" replay --audit periodic --show 20 "$t" > "$d/out" 2>&1
		rc=$?
		if [ $rc -ne 0 ]; then
			inv=$(invariants "$d/out")
			[ -n "$inv" ] || inv="replay: $(why_failed $rc "$d/out")"
			printf 'yes\t%s (%s)\n' "$inv" "$(basename "$t" .svt)"
			return
		fi
	done
	printf 'no\t-\n'
}

# (c) for bug $1: the model harness over the broken core
run_c() {
	n=$1
	d=$work/c$n
	mkdir -p "$d"
	for mode in 2level pae 4level none 5level; do
		SVT_BROKEN=$n timeout 120 "$soak" --mode $mode --policy all --steps "$steps" --quiet \
			> "$d/out" 2>&1
		rc=$?
		if [ $rc -ne 0 ]; then
			what=$(sed -n 's/^what: //p' "$d/out" | head -n 1 | cut -c1-50)
			[ -n "$what" ] || what=$(why_failed $rc "$d/out")
			printf 'yes\t%s (%s)\n' "$what" "$mode"
			return
		fi
	done
	printf 'no\t-\n'
}

# One clean trace for (b): policy name, policy, mode, workload.
if [ "${1:-}" = --clean ]; then
	pname=$2 pol=$3 mode=$4 w=$5
	set -- --workload "$w" --mode "$mode" --events "$events" --seed 3
	[ "$pol" != - ] && set -- "$@" --policy "$pol"
	exec "$bin" synth -q "$@" -o "$work/clean/$mode-$w-$pname.svt"
fi

# One bug, all three columns, into $work/res/$1.
if [ "${1:-}" = --bug ]; then
	n=$2
	a=$(run_a "$n")
	b=$(run_b "$n")
	c=$(run_c "$n")
	rm -rf "$work/a$n" "$work/b$n" "$work/c$n"
	printf '%s\t%s\t%s\t%s\n' "$n" "$a" "$b" "$c" > "$work/res/$n.tmp"
	mv "$work/res/$n.tmp" "$work/res/$n"
	printf '.' >&2
	exit 0
fi

for f in "$bin" "$broken" "$soak"; do
	[ -x "$f" ] || { echo "mutants: $f is not built (make mutants builds it)" >&2; exit 1; }
done
rm -rf "$work"
mkdir -p "$work/clean" "$work/res"

# The bugs and their descriptions, from the list in src/mmu_int.h.
sed -n 's/^ \*  *\([0-9][0-9]*\): \(.*\)$/\1\t\2/p' "$list" > "$work/bugs"
[ -s "$work/bugs" ] || { echo "mutants: no bug list in $list" >&2; exit 1; }
bugs=${MUTANTS_BUGS:-$(cut -f1 "$work/bugs")}

# The clean traces for (b), made by the real core.
configs | xargs -P "$jobs" -L 1 sh "$0" --clean ||
	{ echo "mutants: the real core cannot make the clean traces" >&2; exit 1; }

t0=$(date +%s)
echo "mutants: control (no bug), then $(echo $bugs | wc -w) seeded bugs, $jobs at a time" >&2
sh "$0" --bug 0
ctl=$(cut -f2,4,6 "$work/res/0")
if [ "$ctl" != "$(printf 'no\tno\tno')" ]; then
	echo >&2
	echo "mutants: the control (no bug) is caught; nothing below would mean anything:" >&2
	cat "$work/res/0" >&2
	exit 1
fi
for n in $bugs; do echo "$n"; done | xargs -P "$jobs" -n 1 sh "$0" --bug
echo >&2

# The table.
{
	printf '%-3s  %-48s  %-40s  %-32s  %s\n' bug "(a) buggy core's own traces" \
		"(b) clean traces through it" "(c) model harness" description
	na=0 nb=0 nc=0 nany=0 total=0
	for n in $bugs; do
		desc=$(awk -F '\t' -v n="$n" '$1 == n { print $2 }' "$work/bugs")
		IFS='	' read -r _ a ah b bh c ch < "$work/res/$n"
		total=$((total + 1))
		[ "$a" = yes ] && na=$((na + 1))
		[ "$b" = yes ] && nb=$((nb + 1))
		[ "$c" = yes ] && nc=$((nc + 1))
		{ [ "$a" = yes ] || [ "$b" = yes ] || [ "$c" = yes ]; } && nany=$((nany + 1))
		[ "$b" = yes ] || bh=
		[ "$c" = yes ] || ch=
		printf '%3s  %-3s %-44.44s  %-3s %-36.36s  %-3s %-28.28s  %s\n' "$n" "$a" "$ah" \
			"$b" "$bh" "$c" "$ch" "$desc"
	done
	pct() { echo "$1 $2" | awk '{ printf "%.0f%%", $2 ? 100 * $1 / $2 : 0 }'; }
	echo
	echo "total: $total seeded bugs"
	echo "(a) caught when the buggy core makes the trace: $na / $total ($(pct $na $total))"
	echo "(b) caught replaying clean traces through it:   $nb / $total ($(pct $nb $total))"
	echo "(c) caught by the model harness:                $nc / $total ($(pct $nc $total))"
	echo "caught by any of them:                          $nany / $total ($(pct $nany $total))"
	echo "survivors of (a):$(for n in $bugs; do cut -f1,2 "$work/res/$n"; done |
		awk -F '\t' '$2 == "no" { printf " %s", $1 }')"
	echo "($(($(date +%s) - t0)) s; $events events per synth trace, $steps harness steps per run)"
} | tee "$work/table.txt"
for n in $bugs; do cat "$work/res/$n"; done > "$work/results.tsv"
exit 0
