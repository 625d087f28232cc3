#!/bin/sh
# shadowvt info and dump on good and damaged traces: output, seeking, JSON,
# and the exit statuses of shadowvt(1).
set -u
. "$top_srcdir/tests/testlib.sh"
bin="$top_builddir/shadowvt"
corp="$top_srcdir/tests/trace-corpus"

expect_status 0 "info on a good trace" "$bin" info "$corp/guest.svt"
grep -q '^events: *120$' "$work/out" && grep -q '^index: *valid$' "$work/out" &&
	pass "info totals" || { fail "info totals"; cat "$work/out"; }
expect_status 0 "info --json" "$bin" info --json "$corp/guest.svt"
jq -e '.events == 120' "$work/out" >/dev/null && pass "info JSON" || { fail "info JSON"; cat "$work/out"; }

expect_status 0 "dump a range" "$bin" dump --from 5 --to 9 "$corp/guest.svt"
[ "$(wc -l < "$work/out")" -eq 5 ] && [ "$(head -c 2 "$work/out")" = "5 " ] &&
	pass "dump --from 5 --to 9 prints events 5..9" || { fail "dump range"; cat "$work/out"; }
expect_status 0 "dump --from 010 --to 012" "$bin" dump --from 010 --to 012 "$corp/guest.svt"
[ "$(wc -l < "$work/out")" -eq 3 ] && [ "$(head -c 3 "$work/out")" = "10 " ] &&
	pass "numbers are decimal: 010 is ten" || { fail "dump --from 010"; cat "$work/out"; }
"$bin" dump --json "$corp/guest.svt" > "$work/all.json"
n=$(jq -c . "$work/all.json" | wc -l)
[ "$n" -eq 120 ] && pass "dump --json: 120 valid objects" || fail "dump --json gave $n objects"
"$bin" dump "$corp/guest.svt" | tail -n 20 > "$work/tail"
"$bin" dump --from 100 "$corp/guest.svt" > "$work/seek"
cmp -s "$work/tail" "$work/seek" && pass "seeking equals reading from the start" || fail "seek"

expect_status 3 "info on a truncated trace" "$bin" info "$corp/truncated-mid-frame.svt"
grep -q 'truncated-mid-frame.svt' "$work/err" && pass "the message names the file" || fail "file not named"
expect_status 3 "dump of a truncated trace" "$bin" dump "$corp/truncated-mid-frame.svt"
grep -q 'frame 1, offset [0-9]*, event [0-9]*' "$work/err" && pass "the message names frame, offset and event" ||
	{ fail "location not named"; cat "$work/err"; }
printf 'not a trace at all\n' > "$work/junk"
expect_status 3 "not a trace" "$bin" info "$work/junk"
: > "$work/empty"
expect_status 3 "empty file" "$bin" dump "$work/empty"
expect_status 3 "missing file" "$bin" dump "$work/nope"
expect_status 2 "dump without a file" "$bin" dump
grep -qx "shadowvt dump: no trace file given" "$work/err" && pass "  ...says so" ||
	{ fail "no trace message"; cat "$work/err"; }
expect_status 2 "dump --from past the end" "$bin" dump --from 1000 "$corp/guest.svt"
expect_status 2 "dump --to before --from" "$bin" dump --from 9 --to 5 "$corp/guest.svt"
expect_status 2 "dump bad number" "$bin" dump --from x "$corp/guest.svt"
grep -qx "shadowvt dump: --from: 'x' is not a number" "$work/err" && pass "  ...says so" ||
	{ fail "bad number message"; cat "$work/err"; }
expect_status 2 "dump with a hexadecimal event number" "$bin" dump --from 0x10 "$corp/guest.svt"
expect_status 2 "dump with two traces" "$bin" dump "$corp/guest.svt" "$corp/guest.svt"
grep -qx "shadowvt dump: unexpected argument '$corp/guest.svt'" "$work/err" && pass "  ...names the extra one" ||
	{ fail "extra argument message"; cat "$work/err"; }
expect_status 2 "info unknown option" "$bin" info --bogus "$corp/guest.svt"
finish trace-cmd
