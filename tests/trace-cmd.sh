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

# ---- verify: every checksum, the index and the totals, without the core -----------
for f in guest guest-frames all-types all-types-stored empty-trace; do
	expect_status 0 "verify $f.svt" "$bin" verify "$corp/$f.svt"
	grep -q "$f.svt: good: " "$work/out" && pass "  ...good" || { fail "verify $f"; cat "$work/out"; }
done
for f in no-trailer truncated-mid-frame; do
	expect_status 3 "verify $f.svt" "$bin" verify "$corp/$f.svt"
	grep -q "$f.svt: DAMAGED: " "$work/out" && grep -q "^shadowvt verify: .*$f.svt" "$work/err" &&
		pass "  ...damaged, named on stderr" || { fail "verify $f"; cat "$work/out" "$work/err"; }
done
t="$work/frames.svt"
"$bin" synth -q --workload fork --events 20000 --frame-size 4096 -o "$t" || fail "synth"
expect_status 0 "verify --json a good trace of many frames" "$bin" verify --json "$t"
"$bin" info --json "$t" > "$work/info.json"
[ -s "$work/out" ] && jq -e --slurpfile i "$work/info.json" '.status == "good" and .error == null and
	.frame == null and .frames == $i[0].frames and .events == $i[0].events and .frames > 10 and
	.bytes == $i[0].file_size' "$work/out" > /dev/null &&
	pass "  ...its frames, events and bytes as info counts them" || { fail "verify JSON"; cat "$work/out"; }
expect_status 0 "verify --records" "$bin" verify --records "$t"
# one byte flipped inside the frames: info sees nothing, verify names the frame
size=$(wc -c < "$t")
at=$((size / 2))
cp "$t" "$work/flip.svt"
printf '\125' | dd of="$work/flip.svt" bs=1 seek=$at conv=notrunc 2>/dev/null
cmp -s "$t" "$work/flip.svt" && { printf '\252' | dd of="$work/flip.svt" bs=1 seek=$at conv=notrunc 2>/dev/null; }
expect_status 0 "info on a trace with a flipped byte (it reads only the header and trailer)" \
	"$bin" info "$work/flip.svt"
expect_status 3 "verify a trace with a flipped byte" "$bin" verify "$work/flip.svt"
grep -Eq '^shadowvt verify: .*flip.svt: frame [0-9]+, offset [0-9]+, event [0-9]+: .*(checksum|zstd)' \
	"$work/err" && pass "  ...the frame, offset and event named" || { fail "flip message"; cat "$work/err"; }
expect_status 3 "verify --json a trace with a flipped byte" "$bin" verify --json "$work/flip.svt"
[ -s "$work/out" ] && jq -e --argjson at $at '.status == "damaged" and .frame > 0 and .offset <= $at and
	.offset + 4200 > $at and (.error | contains("flip.svt: frame"))' "$work/out" > /dev/null &&
	pass "  ...JSON: the damaged frame holds the flipped byte" || { fail "flip JSON"; cat "$work/out"; }
# the index: a byte flipped in the last frame's entry
cp "$t" "$work/index.svt"
printf '\377' | dd of="$work/index.svt" bs=1 seek=$((size - 200)) conv=notrunc 2>/dev/null
expect_status 3 "verify a trace with a damaged index or trailer" "$bin" verify "$work/index.svt"
grep -q 'trailer or index unusable' "$work/err" && pass "  ...says which" || { fail "index message"; cat "$work/err"; }
expect_status 3 "verify: a good trace and a damaged one" "$bin" verify -q "$t" "$work/flip.svt"
[ "$(wc -l < "$work/out")" -eq 1 ] && grep -q 'flip.svt: DAMAGED' "$work/out" &&
	pass "  ...-q prints only the damaged one" || { fail "verify -q"; cat "$work/out"; }
expect_status 3 "verify a missing file" "$bin" verify "$work/nope.svt"
expect_status 2 "verify without a file" "$bin" verify
finish trace-cmd
