#!/bin/sh
# shadowvt export --format perfetto: the timeline matches the trace (one
# exit per input, one decision per DECISION, MEM, MARK and LOST records,
# totals), ranges, hostile strings, a truncated trace (exit 3, still valid
# JSON marked incomplete) and the usage errors of shadowvt(1).
set -u
. "$top_srcdir/tests/testlib.sh"
need jq iconv
bin="$top_builddir/shadowvt"
corp="$top_srcdir/tests/trace-corpus"

# jq -e over a file: pass or fail with the description.
check() { # description file filter
	if jq -e "$3" "$2" >/dev/null 2>&1; then pass "$1"; else fail "$1"; fi
}

"$bin" synth --workload fork --events 5000 -q -o "$work/fork.svt" || fail "synth"
"$bin" info --json "$work/fork.svt" > "$work/info.json" || fail "info"
expect_status 0 "export a synthetic trace" "$bin" export "$work/fork.svt" --format perfetto \
	-o "$work/fork.json"
[ -s "$work/fork.json" ] && ! ls -d "$work/fork.json".tmp* >/dev/null 2>&1 && pass "output renamed into place" ||
	fail "output renamed into place"
[ -s "$work/out" ] && fail "export printed on stdout" || pass "nothing on stdout with -o FILE"
check "valid JSON with events" "$work/fork.json" '.traceEvents | length > 0'
check "every event has ph, ts, pid and tid" "$work/fork.json" \
	'all(.traceEvents[]; has("ph") and has("ts") and has("pid") and has("tid"))'
check "ts is a number, never negative" "$work/fork.json" \
	'all(.traceEvents[]; (.ts | type) == "number" and .ts >= 0)'
for tid in 1 2; do
	check "X events on track $tid: ts non-decreasing, no overlap" "$work/fork.json" \
		"[.traceEvents[] | select(.ph == \"X\" and .tid == $tid)] as \$x |
		 (\$x | map(.ts)) == (\$x | map(.ts) | sort) and
		 all(range(1; \$x | length); \$x[. - 1].ts + \$x[. - 1].dur <= \$x[.].ts)"
done
check "metadata: complete, sequence clock, header" "$work/fork.json" \
	'.metadata.complete == true and .metadata.error == null and .metadata.clock == "sequence" and
	 (.metadata.guest | startswith("synth workload=fork")) and .metadata.policy.pool_frames == 512 and
	 .metadata.paging_modes == ["none", "4level"] and .displayTimeUnit == "ns"'
check "track names" "$work/fork.json" \
	'[.traceEvents[] | select(.name == "thread_name") | .args.name] ==
	 ["exits", "core decisions", "memory records", "markers"]'

# The timeline against the trace's own totals (shadowvt info --json).
jq -s '.[0].counts as $c | .[1] as $t |
	([$t.traceEvents[] | select(.ph == "X" and .tid == 1)] | length) ==
	  $c.FAULT + $c.CR_WRITE + $c.INVLPG + $c.INVPCID + $c.FLUSH_ALL and
	([$t.traceEvents[] | select(.ph == "X" and .tid == 1 and (.name | startswith("#PF")))] | length) ==
	  $c.FAULT and
	([$t.traceEvents[] | select(.ph == "X" and .tid == 2)] | length) == $c.DECISION and
	([$t.traceEvents[] | select(.cat == "mem")] | length) == $c.MEM and
	([$t.traceEvents[] | select(.cat == "mark")] | length) == $c.MARK and
	$t.metadata.events == .[0].events and $t.metadata.records_exported == .[0].records' \
	"$work/info.json" "$work/fork.json" | grep -qx true &&
	pass "one exit per input, one decision per DECISION, every MEM and MARK" ||
	fail "event counts differ from shadowvt info"
check "every fault's exit carries its decision" "$work/fork.json" \
	'all(.traceEvents[] | select(.ph == "X" and .tid == 1 and (.name | startswith("#PF")));
	     .args.outcome != null and (.args.va | test("^0x[0-9a-f]+$")) and .dur == 2)'
check "injected faults carry the injected error code and CR2" "$work/fork.json" \
	'[.traceEvents[] | select(.ph == "X" and .args.outcome == "inject")] |
	 length > 0 and all(.args.cr2 != null and .args.inject_error_code != null)'
faults=$(jq '.counts.FAULT' "$work/info.json")
check "counters: several samples, the last one the totals" "$work/fork.json" \
	"[.traceEvents[] | select(.ph == \"C\")] | length >= 5 and .[-1].args.faults == $faults"

# -o - and --no-mem
"$bin" export "$work/fork.svt" --format perfetto --no-mem -o - > "$work/nomem.json" 2> "$work/err" &&
	pass "-o - writes to standard output" || { fail "-o -"; cat "$work/err"; }
check "--no-mem: no MEM events, the same exits" "$work/nomem.json" \
	"([.traceEvents[] | select(.cat == \"mem\")] | length) == 0 and
	 .metadata.mem_records == false and .metadata.totals.faults == $faults"
[ "$(wc -c < "$work/nomem.json")" -lt "$(wc -c < "$work/fork.json")" ] && pass "--no-mem is smaller" ||
	fail "--no-mem is not smaller"

# --from/--to: the same events as dump prints for the range.
expect_status 0 "export a range" "$bin" export --from 1000 --to 1999 --format perfetto \
	-o "$work/range.json" "$work/fork.svt"
n=$("$bin" dump --from 1000 --to 1999 "$work/fork.svt" |
	grep -cE '^[0-9]+ (FAULT|CR_WRITE|INVLPG|INVPCID|FLUSH_ALL) ')
check "--from/--to: every event in range, exits as dump lists" "$work/range.json" \
	"all(.traceEvents[] | select(.ph != \"M\"); .ts >= 1000 and .ts <= 1999) and
	 ([.traceEvents[] | select(.ph == \"X\" and .tid == 1)] | length) == $n and
	 .metadata.from == 1000 and .metadata.to == 1999 and .metadata.records_exported == 1000 and
	 .metadata.complete == true and .metadata.paging_modes == null"

# Hostile strings and LOST/MARK records: the trace library's all-types trace
# (random MARK texts with control characters and bytes that are not UTF-8).
expect_status 0 "export a trace with MARK, LOST and unknown records" "$bin" export \
	--format perfetto -o "$work/all.json" "$corp/all-types.svt"
"$bin" info --json "$corp/all-types.svt" > "$work/all-info.json"
jq -s '.[0].counts as $c | .[1].traceEvents as $e |
	([$e[] | select(.cat == "mark" and .ph == "i" and .s == "g")] | length) == $c.MARK and
	([$e[] | select(.cat == "lost" and .ph == "i" and .s == "g")] | length) == $c.LOST and
	([$e[] | select(.cat == "unknown")] | length) == $c.UNKNOWN and
	$c.CPU > 0 and ([$e[] | select(.cat == "cpu")] | length) == $c.CPU and
	([$e[] | select(.cat == "lost") | .args.count] | add) == .[0].lost' \
	"$work/all-info.json" "$work/all.json" | grep -qx true &&
	pass "MARK, LOST and CPU records as instant events, with counts" || fail "MARK/LOST/CPU events"
iconv -f UTF-8 -t UTF-8 "$work/all.json" > /dev/null 2>&1 && pass "output is valid UTF-8" ||
	fail "output is not UTF-8"
tr -d '\n' < "$work/all.json" | LC_ALL=C grep -q '[[:cntrl:]]' && fail "raw control characters" ||
	pass "no raw control characters"
grep -q '\\u000a' "$work/all.json" && grep -q '\\ufffd' "$work/all.json" &&
	pass "control characters and bad bytes escaped" || fail "escapes"

# A truncated trace: exit 3, the reader's message, and still valid JSON.
size=$(wc -c < "$work/fork.svt")
head -c $((size * 2 / 3)) "$work/fork.svt" > "$work/cut.svt"
"$bin" synth --workload mix --events 20000 --frame-size 4096 -q -o "$work/mix.svt"
size=$(wc -c < "$work/mix.svt")
head -c $((size / 2)) "$work/mix.svt" > "$work/mixcut.svt"
for t in cut mixcut; do
	expect_status 3 "export a truncated trace ($t)" "$bin" export "$work/$t.svt" \
		--format perfetto -o "$work/$t.json"
	grep -q "$t.svt: .*offset [0-9]*" "$work/err" && pass "the message names file and offset" ||
		{ fail "message"; cat "$work/err"; }
	check "still valid JSON, marked incomplete with the error" "$work/$t.json" \
		".metadata.complete == false and (.metadata.error | contains(\"$t.svt\")) and
		 all(.traceEvents[]; has(\"ph\") and has(\"ts\") and has(\"pid\") and has(\"tid\"))"
	! ls -d "$work/$t.json".tmp* >/dev/null 2>&1 && pass "no temporary file left" || fail "OUT.tmp left"
done
check "the frames before the damage are exported" "$work/mixcut.json" \
	'.metadata.records_exported > 1000 and ([.traceEvents[] | select(.tid == 1)] | length) > 100'
"$bin" export "$work/mixcut.svt" --format perfetto -o - 2>/dev/null | jq -e '.metadata.complete == false' \
	>/dev/null && pass "-o -: a truncated trace still ends the document" || fail "-o - truncated"

# Usage and input errors.
expect_status 2 "unknown format" "$bin" export "$work/fork.svt" --format chrome -o "$work/x.json"
grep -q "^shadowvt export: --format: 'chrome' is not perfetto$" "$work/err" &&
	pass "the message lists the formats" || { fail "formats not listed"; cat "$work/err"; }
expect_status 2 "no format" "$bin" export "$work/fork.svt" -o "$work/x.json"
expect_status 2 "no output" "$bin" export "$work/fork.svt" --format perfetto
expect_status 2 "no trace" "$bin" export --format perfetto -o "$work/x.json"
expect_status 2 "two traces" "$bin" export --format perfetto -o "$work/x.json" "$work/fork.svt" \
	"$work/fork.svt"
expect_status 2 "--to before --from" "$bin" export --from 9 --to 5 --format perfetto \
	-o "$work/x.json" "$work/fork.svt"
expect_status 2 "--from past the end" "$bin" export --from 99999999 --format perfetto \
	-o "$work/x.json" "$work/fork.svt"
expect_status 2 "bad number" "$bin" export --from x --format perfetto -o "$work/x.json" "$work/fork.svt"
expect_status 2 "unknown option" "$bin" export --bogus --format perfetto -o "$work/x.json" "$work/fork.svt"
cp "$work/fork.svt" "$work/same.svt"
expect_status 2 "output is the trace" "$bin" export "$work/same.svt" --format perfetto -o "$work/same.svt"
cmp -s "$work/fork.svt" "$work/same.svt" && pass "the trace is left alone" || fail "the trace was overwritten"
[ ! -e "$work/x.json" ] && pass "no output after usage errors" || fail "output after a usage error"
printf 'not a trace at all\n' > "$work/junk"
expect_status 3 "not a trace" "$bin" export "$work/junk" --format perfetto -o "$work/x.json"
expect_status 3 "missing trace" "$bin" export "$work/nope.svt" --format perfetto -o "$work/x.json"
[ ! -e "$work/x.json" ] && ! ls -d "$work/x.json".tmp* >/dev/null 2>&1 && pass "no output for a file that is not a trace" ||
	fail "output for a bad file"
expect_status 3 "output directory missing" "$bin" export "$work/fork.svt" --format perfetto \
	-o "$work/no/such/dir/x.json"
if [ -w /dev/full ]; then
	expect_status 3 "standard output full" sh -c "'$bin' export '$work/fork.svt' --format perfetto -o - > /dev/full"
fi
finish export-cmd
