#!/bin/sh
# shadowvt report in a real browser: headless Chromium loads the page from
# the file alone (no network), takes a screenshot, and its rendered DOM
# still holds every chart; then the same for the report of the shipped
# example experiment (examples/policies.xml: synth traces, 8 policies).
# Chromium must be installed (scripts/deps installs it): missing is a
# failure.  Its complaints about D-Bus and the like on standard error are
# not failures.
set -u
. "$top_srcdir/tests/testlib.sh"
bin="$top_builddir/shadowvt"
browser=
for b in chromium chromium-browser; do
	command -v "$b" > /dev/null 2>&1 && { browser=$b; break; }
done
[ -n "$browser" ] || { echo "FAIL - chromium is not installed"; exit 1; }

t="$work/mix.svt"
db="$work/r.db"
"$bin" synth -q --workload mix --mode pae --events 200000 --seed 3 -o "$t" || { fail synth; exit 1; }
for p in recorded oos=0,prefetch=0,emulate=0,early=0; do
	"$bin" replay -q --db "$db" --policy "$p" "$t" > /dev/null || fail "replay --policy $p"
done
expect_status 0 "report" "$bin" report "$db" -o "$work/report.html"
charts=$(grep -o '<svg [^>]*class="chart" id="[^"]*"' "$work/report.html" | sed 's/.* id="//; s/"$//' | sort)
[ "$(echo "$charts" | wc -l)" -eq 8 ] && pass "8 charts in the page" || fail "charts in the page: $charts"

# Chromium wants a writable home and profile; each run gets its own.
profile=$(mktemp -d "$work/profile.XXXXXX")
HOME=$work; export HOME
run_browser() {
	timeout 120 "$browser" --headless=new --no-sandbox --disable-gpu --disable-dev-shm-usage \
		--no-first-run --user-data-dir="$profile" "$@" "file://$work/report.html"
}
run_browser --screenshot="$work/shot.png" --window-size=1280,4000 > "$work/chromium.out" 2>&1
rc=$?
[ "$rc" -eq 0 ] && pass "chromium takes a screenshot (exit 0)" ||
	{ fail "chromium exit $rc"; tail -n 20 "$work/chromium.out"; }
sig=$(head -c 8 "$work/shot.png" 2> /dev/null | od -An -tx1 | tr -d ' \n')
[ "$sig" = 89504e470d0a1a0a ] && pass "...a PNG" || fail "screenshot is not a PNG ($sig)"
size=$(wc -c < "$work/shot.png" 2> /dev/null || echo 0)
[ "$size" -gt 20000 ] && pass "...of $size bytes" || fail "screenshot of $size bytes"

run_browser --dump-dom > "$work/dom.html" 2> "$work/chromium.err"
rc=$?
[ "$rc" -eq 0 ] && pass "chromium dumps the DOM" || { fail "--dump-dom exit $rc"; tail -n 20 "$work/chromium.err"; }
dom=$(grep -o '<svg [^>]*class="chart" id="[^"]*"' "$work/dom.html" | sed 's/.* id="//; s/"$//' | sort)
[ -n "$dom" ] && [ "$dom" = "$charts" ] && pass "the rendered DOM holds every chart" ||
	{ fail "charts in the DOM: $dom"; }
for id in mix-run-1 timeline-run-2 compare-1-exits compare-1-memory; do
	echo "$dom" | grep -qx "$id" && pass "  $id" || fail "  $id not rendered"
done
grep -q '<polyline' "$work/dom.html" && grep -q '<rect ' "$work/dom.html" &&
	pass "lines and bars in the DOM" || fail "no lines or bars in the DOM"

# The shipped example experiment, end to end, and its report in the browser.
expect_status 0 "shadowvt run examples/policies.xml" "$bin" run -q -j 2 --results "$work/ex" \
	"$top_srcdir/examples/policies.xml"
db=$(find "$work/ex" -name '*.db' | head -n 1)
runs=$("$bin" query "$db" --format csv --sql "select count(*) from runs where status = 'clean'" | tail -n 1)
pols=$("$bin" query "$db" --format csv --sql "select count(distinct policy) from runs" | tail -n 1)
[ "${runs:-0}" -ge 6 ] && [ "${pols:-0}" -ge 3 ] && pass "the example: $runs clean runs under $pols policies" ||
	fail "the example's database: $runs clean runs, $pols policies"
expect_status 0 "report of the example" "$bin" report "$db" -o "$work/report.html"
charts=$(grep -o '<svg [^>]*class="chart" id="[^"]*"' "$work/report.html" | sed 's/.* id="//; s/"$//' | sort)
run_browser --screenshot="$work/shot2.png" --window-size=1280,4000 > "$work/chromium.out" 2>&1 &&
	[ "$(wc -c < "$work/shot2.png")" -gt 20000 ] && pass "chromium renders the example's report" ||
	{ fail "the example's report in chromium"; tail -n 20 "$work/chromium.out"; }
run_browser --dump-dom > "$work/dom.html" 2> "$work/chromium.err"
dom=$(grep -o '<svg [^>]*class="chart" id="[^"]*"' "$work/dom.html" | sed 's/.* id="//; s/"$//' | sort)
[ -n "$dom" ] && [ "$dom" = "$charts" ] && echo "$dom" | grep -q '^compare-' &&
	pass "its rendered DOM holds every chart ($(echo "$dom" | wc -l)), the policy comparison among them" ||
	fail "the example's charts in the DOM"

finish report-render
