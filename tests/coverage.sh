#!/bin/sh
# coverage.sh — line and branch coverage of the core (src/), `make
# coverage` (not part of make check).  A build of its own in
# $top_builddir/coverage.d/build, configured with CFLAGS='-g -O0' and made
# with --coverage (AM_CFLAGS and LDFLAGS on make's command line: the hosted
# objects only; the freestanding core and the hypervisor are not built),
# then two runs, the counts cleared before each, and gcov's figures for
# every file of src/ after each:
#   1. the core's own tests (COVERAGE_TESTS: the unit tests, the model
#      harness, the walker's exhaustive and reserved-bit tests, the
#      emulator, the recorder, the CR model, the fuzz targets' fixed runs);
#   2. synth and replay: every workload (synth --list) in 2level, pae,
#      4level and 5level under three policies (the default; oos=0;
#      emulate=0,prefetch=0,pool=16), each trace replayed with periodic
#      audits and once more under oos=0,prefetch=0,early=0.
# Header files count once per object that includes them (walk_tmpl.h once
# per paging mode).  Environment: top_srcdir, top_builddir (make sets
# them), COVERAGE_JOBS (make -j, default 2), COVERAGE_TESTS, COVERAGE_EVENTS
# (events per synth trace, default 5000).  The figures go to standard output
# and to coverage.d/summary.txt; gcov's per-file lines to coverage.d/*.gcov.txt.
# Exit status: 0, or 1 when the build or a run fails.
set -u

: "${top_srcdir:?}" "${top_builddir:?}"
src=$(cd "$top_srcdir" && pwd)
cov=$(cd "$top_builddir" && pwd)/coverage.d
jobs=${COVERAGE_JOBS:-2}
events=${COVERAGE_EVENTS:-5000}
tests=${COVERAGE_TESTS:-"tests/test-walk-unit tests/test-walk-rsvd tests/test-walk-exhaustive \
tests/test-mmu-unit tests/test-mmu-model tests/test-emul tests/test-recorder tests/test-crmodel \
tests/test-progress tests/fuzz-walk tests/fuzz-emul tests/fuzz-mmu"}

mkdir -p "$cov/build" || exit 1
cd "$cov/build" || exit 1
mk() {
	make -j"$jobs" AM_CFLAGS='-std=c11 --coverage' LDFLAGS='--coverage' "$@" \
		>> "$cov/make.log" 2>&1 ||
		{ echo "coverage: make $* failed (coverage.d/make.log)" >&2; exit 1; }
}
if [ ! -f Makefile ]; then
	echo "coverage: configuring coverage.d/build" >&2
	"$src/configure" CFLAGS='-g -O0' > "$cov/configure.log" 2>&1 ||
		{ echo "coverage: configure failed (coverage.d/configure.log)" >&2; exit 1; }
fi
: > "$cov/make.log"
echo "coverage: building (coverage.d/make.log)" >&2
mk src/libsvtcore.a shadowvt $tests

clear_counts() {
	find "$cov/build" -name '*.gcda' -exec rm -f {} +
}

# gcov's summary of every file of src/ that the hosted core's objects
# hold: lines and branches (taken at least once), summed; one line.
report() {     # title
	mkdir -p "$cov/gcov" && cd "$cov/gcov" || exit 1
	gcov -b -n -o "$cov/build/src" "$src"/src/*.c > "$cov/gcov.out" 2> /dev/null
	cd "$cov/build" || exit 1
	awk -v src="$src/src/" -v title="$1" -v detail="$cov/$2.gcov.txt" '
		/^File / { f = $2; gsub("\047", "", f); ours = index(f, src) == 1; next }
		!ours { next }
		/^Calls executed:|^No calls/ { ours = 0; next }  # the end of a file (then the totals)
		/^Lines executed:/ { split($0, a, /[:% ]+/); n = a[5]; l += n; lx += a[3] * n / 100;
			printf "%-28s lines %6.2f%% of %5d", substr(f, length(src) + 1), a[3], n > detail }
		/^No branches/ { printf "\n" > detail }
		/^Taken at least once:/ { split($0, a, /[:% ]+/); n = a[7]; b += n; bx += a[5] * n / 100;
			printf "  branches %6.2f%% of %5d\n", a[5], n > detail }
		END {
			if (l == 0) { print "coverage: gcov found nothing for src/" > "/dev/stderr"; exit 1 }
			printf "%-34s lines %6.2f%% (%d of %d), branches %6.2f%% (%d of %d)\n", title,
			       100 * lx / l, lx + 0.5, l, b ? 100 * bx / b : 0, bx + 0.5, b
		}' "$cov/gcov.out" | tee -a "$cov/summary.txt"
}

: > "$cov/summary.txt"
echo "coverage: run 1, the core's tests" >&2
clear_counts
failed=0
for t in $tests; do
	"./$t" > "$cov/run1.log" 2>&1 || { echo "coverage: $t failed (coverage.d/run1.log)" >&2; failed=1; }
done
report "src/ under the core's tests:" tests || exit 1

echo "coverage: run 2, synth and replay" >&2
works=$(./shadowvt synth --list | awk 'NR > 1 && /^[a-z]/ { print $1 }')
clear_counts
t=$cov/t.svt
n=0
for w in $works; do
	for m in 2level pae 4level 5level; do
		for pol in - oos=0 emulate=0,prefetch=0,pool=16; do
			set -- --workload "$w" --mode "$m" --events "$events" --seed 1
			[ "$pol" != - ] && set -- "$@" --policy "$pol"
			./shadowvt synth -q "$@" -o "$t" > "$cov/run2.log" 2>&1 || {
				grep -q 'needs --mode' "$cov/run2.log" && continue
				echo "coverage: synth $* failed (coverage.d/run2.log)" >&2; failed=1; continue; }
			./shadowvt replay -q --audit periodic "$t" >> "$cov/run2.log" 2>&1 &&
			./shadowvt replay -q --audit faults --policy oos=0,prefetch=0,early=0 "$t" \
				>> "$cov/run2.log" 2>&1 ||
				{ echo "coverage: replay of synth $* not clean" >&2; failed=1; }
			n=$((n + 1))
		done
	done
done
report "src/ under synth and replay ($n traces):" synth || exit 1
rm -f "$t"
exit $failed
