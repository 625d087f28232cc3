#!/bin/sh
# shadowvt synth and replay end to end: every workload in every mode
# replays clean with the recorded policy and under other policies, traces
# are small and reproducible, -j works, and bad traces get exit 3 with a
# message that names the file.
set -u
. "$top_srcdir/tests/testlib.sh"
bin="$top_builddir/shadowvt"
EVENTS=${SVT_TEST_EVENTS:-20000}

# --list names every workload
expect_status 0 "synth --list" "$bin" synth --list
for w in fork mmap spaces spaces-pcid directmap teardown mix atomic protect pkeys implicit; do
	grep -q "^$w " "$work/out" || fail "--list lacks $w"
done
# ... and the core counters each one moved in its short runs (measured)
reaches() {     # workload counter: the counter is (yes) or is not (no) on its line
	if grep -A1 "^$1 " "$work/out" | grep -q "^  *reaches:.* $2\( \|$\)"; then
		[ "$3" = yes ] && pass "--list: $1 reaches $2" || fail "--list: $1 reaches $2"
	else
		[ "$3" = no ] && pass "--list: $1 does not reach $2" || fail "--list: $1 lacks $2"
	fi
}
reaches protect emulated_wp0 yes
reaches atomic invpcids yes
reaches atomic cr3_noflush yes
reaches spaces-pcid cr3_noflush yes
reaches pkeys emulated_wp0 yes
reaches fork emulated_wp0 no
reaches mix invpcids no
reaches implicit retries yes
reaches fork retries no

# every workload in every mode: synth, then replay with periodic audits
for w in fork mmap spaces spaces-pcid directmap teardown mix atomic protect pkeys implicit; do
	for m in 2level pae 4level 5level; do
		if { [ "$w" = spaces-pcid ] || [ "$w" = pkeys ]; } && { [ "$m" = 2level ] || [ "$m" = pae ]; }; then
			expect_status 2 "$w refuses $m" "$bin" synth --workload "$w" --mode "$m" -o "$work/x.svt"
			continue
		fi
		t="$work/$w-$m.svt"
		expect_status 0 "synth $w $m" "$bin" synth -q --workload "$w" --mode "$m" --events "$EVENTS" --seed 7 -o "$t"
		expect_status 0 "replay $w $m" "$bin" replay --audit periodic "$t"
		grep -q ': clean: ' "$work/out" || fail "replay $w $m is not reported clean"
		"$bin" info --json "$t" > "$work/info"
		bpe=$(jq '.bytes_per_event' "$work/info")
		ev=$(jq '.events' "$work/info")
		if awk "BEGIN { exit !($bpe < 10 && $ev >= $EVENTS) }"; then
			pass "$w $m: $ev events, $bpe bytes per event"
		else
			fail "$w $m: $ev events, $bpe bytes per event (want >= $EVENTS, < 10)"
		fi
	done
done

# full audit after every input on a shorter trace
expect_status 0 "synth mix, short" "$bin" synth -q --workload mix --mode pae --events 3000 -o "$work/short.svt"
expect_status 0 "replay --audit full" "$bin" replay --audit full "$work/short.svt"

# a trace made under one policy replays clean under every other
for t in fork-2level mix-4level directmap-pae spaces-pcid-5level atomic-2level atomic-pae protect-4level protect-pae \
	pkeys-4level pkeys-5level implicit-2level implicit-4level; do
	bad=0
	for i in $(seq 0 15); do
		p="oos=$(( (i & 1) * 2 )),prefetch=$(( (i >> 1 & 1) * 8 )),emulate=$((i >> 2 & 1)),early=$((i >> 3 & 1))"
		"$bin" replay --audit faults --policy "$p" "$work/$t.svt" > "$work/out" 2>&1 ||
			{ bad=$((bad + 1)); echo "# $t under $p:"; head -n 5 "$work/out"; }
	done
	"$bin" replay --audit periodic --policy pool=16 "$work/$t.svt" > "$work/out" 2>&1 ||
		{ bad=$((bad + 1)); echo "# $t with pool=16:"; head -n 5 "$work/out"; }
	[ "$bad" -eq 0 ] && pass "$t under 17 other policies" || fail "$t: $bad policies not clean"
done

# reproducible from its arguments
"$bin" synth -q --workload mix --mode 4level --events 5000 --seed 3 -o "$work/a.svt"
"$bin" synth -q --workload mix --mode 4level --events 5000 --seed 3 -o "$work/b.svt"
"$bin" synth -q --workload mix --mode 4level --events 5000 --seed 4 -o "$work/c.svt"
cmp -s "$work/a.svt" "$work/b.svt" && pass "same seed, same trace" || fail "same seed, different traces"
cmp -s "$work/a.svt" "$work/c.svt" && fail "another seed, the same trace" || pass "another seed, another trace"

# -j 2
expect_status 0 "replay -j 2" "$bin" replay -j 2 "$work/fork-4level.svt" "$work/mmap-4level.svt"
[ "$(grep -c ': clean: ' "$work/out")" -eq 2 ] && pass "-j 2 reports both" || fail "-j 2 output"

# usage
expect_status 2 "synth without a workload" "$bin" synth -o "$work/x.svt"
expect_status 2 "synth without -o" "$bin" synth --workload fork
expect_status 2 "synth unknown workload" "$bin" synth --workload nope -o "$work/x.svt"
expect_status 2 "synth unknown mode" "$bin" synth --workload fork --mode 3level -o "$work/x.svt"
expect_status 2 "synth bad policy" "$bin" synth --workload fork --policy oos=x -o "$work/x.svt"
expect_status 2 "replay without a file" "$bin" replay
expect_status 2 "replay bad audit level" "$bin" replay --audit most "$work/a.svt"
expect_status 2 "replay bad policy" "$bin" replay --policy pool=3 "$work/a.svt"
grep -q "bad policy 'pool=3': pool=3: out of range 16..65536" "$work/err" &&
	pass "a bad policy names the key and its range" || fail "bad policy message: $(cat "$work/err")"
expect_status 2 "replay --policy with a value that is no number" "$bin" replay --policy oos=x "$work/a.svt"
grep -q "bad policy 'oos=x': oos=x: not a decimal number in 0..16" "$work/err" && pass "  ...with the range" ||
	{ fail "not-a-number policy message"; cat "$work/err"; }
expect_status 2 "replay --policy without a value" "$bin" replay "$work/a.svt" --policy
grep -qx "shadowvt replay: option --policy needs a value SPEC|recorded" "$work/err" &&
	pass "  ...says which value" || { fail "missing value message"; cat "$work/err"; }
expect_status 2 "replay --jobs 0" "$bin" replay --jobs 0 "$work/a.svt"
grep -qx "shadowvt replay: --jobs: '0' is not a number in 1..256" "$work/err" &&
	pass "  ...gives the range" || { fail "--jobs 0 message"; cat "$work/err"; }

# bad input: exit 3, the file named, never a crash
good="$work/fork-4level.svt"
"$bin" synth -q --workload fork --mode 4level --events 20000 --frame-size 16384 -o "$good"
size=$(wc -c < "$good")
head -c $((size / 2)) "$good" > "$work/trunc.svt"
expect_status 3 "replay of a truncated trace" "$bin" replay "$work/trunc.svt"
grep -q 'trunc.svt' "$work/err" && pass "truncation: the file is named" || fail "truncation message"
cp "$good" "$work/flip.svt"
printf '\377' | dd of="$work/flip.svt" bs=1 seek=$((size / 3)) conv=notrunc 2>/dev/null
expect_status 3 "replay of a trace with a flipped byte" "$bin" replay "$work/flip.svt"
grep -q 'flip.svt: frame [0-9]' "$work/err" && pass "flipped byte: frame named" || { fail "flip message"; cat "$work/err"; }
: > "$work/empty.svt"
expect_status 3 "replay of an empty file" "$bin" replay "$work/empty.svt"
printf 'hello\n' > "$work/junk.svt"
expect_status 3 "replay of a text file" "$bin" replay "$work/junk.svt"
expect_status 3 "replay of a missing file" "$bin" replay "$work/missing.svt"
expect_status 3 "one bad trace among good ones" "$bin" replay "$good" "$work/junk.svt"
grep -q ': clean: ' "$work/out" && pass "the good one is still replayed" || fail "good trace not replayed"
expect_status 3 "a truncated trace into a database" "$bin" replay --db "$work/bad.db" "$work/trunc.svt"
"$bin" query "$work/bad.db" summary --format json > "$work/q"
jq -e '.[0].status == "bad-input" and .[0].events > 0' "$work/q" >/dev/null &&
	pass "the run is stored as bad-input, with the events checked before the damage" ||
	{ fail "bad-input run"; cat "$work/q"; }
"$bin" query "$work/bad.db" --sql 'SELECT message FROM runs' --format csv | grep -q 'trunc.svt' &&
	pass "the stored message names the file" || fail "stored message"

printf 'not a database\n' > "$work/notdb"
expect_status 3 "replay --db into a file that is not a results database" "$bin" replay --db "$work/notdb" "$good"
grep -q 'notdb' "$work/err" && pass "the database is named" || { fail "database not named"; cat "$work/err"; }

# a database damaged past its schema: it opens, but storing the run fails:
# exit 3, the message on stderr, the summary says nothing was stored
"$bin" replay -q --db "$work/dmg.db" "$good" > /dev/null || fail "replay into dmg.db"
head -c 20000 /dev/zero | tr '\0' '\377' | dd of="$work/dmg.db" bs=1 seek=8192 conv=notrunc 2>/dev/null
expect_status 3 "replay --db into a damaged database" "$bin" replay --db "$work/dmg.db" "$good"
grep -q 'results not stored in .*dmg.db' "$work/err" && ! grep -q 'malformed\|dmg.db' "$work/out" &&
	pass "the failure to store is on stderr, not stdout" || { fail "store failure message"; cat "$work/out" "$work/err"; }
grep -q ': clean: ' "$work/out" && grep -q 'results NOT stored' "$work/out" &&
	pass "the summary says the results were not stored" || { fail "summary"; cat "$work/out"; }
expect_status 3 "replay --json --db into a damaged database" "$bin" replay --json --db "$work/dmg.db" "$good"
[ -s "$work/out" ] && jq -e '.stored == false and .run == null and (.store_error | length > 0) and .status == "clean"' \
	"$work/out" > /dev/null && pass "JSON: stored false, with the error" || { fail "JSON store"; cat "$work/out"; }

# --json: one object per trace on stdout, violation lines on stderr
expect_status 3 "replay --json of a good and a truncated trace" "$bin" replay --json --db "$work/j.db" \
	"$good" "$work/trunc.svt"
[ "$(wc -l < "$work/out")" -eq 2 ] && jq -s -e 'length == 2' "$work/out" > /dev/null &&
	pass "JSON: one object per line per trace" || { fail "JSON lines"; cat "$work/out"; }
[ -s "$work/out" ] && jq -s -e '.[0].status == "clean" and .[0].events > 20000 and .[0].violations == 0 and .[0].stored
	and .[0].run == 1 and .[0].recorded_policy and .[0].audit == "faults" and .[0].error == null
	and .[0].first_divergence == null and .[1].status == "bad-input" and .[1].run == 2
	and (.[1].error | contains("trunc.svt")) and .[1].events > 0' "$work/out" > /dev/null &&
	pass "JSON: the fields (status, events, run, error)" || { fail "JSON fields"; cat "$work/out"; }
expect_status 0 "replay --json (no database)" "$bin" replay --json --policy oos=0 "$good"
[ -s "$work/out" ] && jq -e '.db == null and .stored == null and .recorded_policy == false and
	(.policy | startswith("oos=0,"))' "$work/out" > /dev/null && pass "JSON: without a database" ||
	{ fail "JSON without a database"; cat "$work/out"; }

# interrupted replays: SIGINT ends the run as incomplete (exit 4); SIGKILL
# leaves it 'running', shown as 'incomplete?', and the database intact (a
# trace long enough that full audits take well over the 2 s waited)
"$bin" synth -q --workload mix --mode 4level --events 1500000 -o "$work/long.svt"
"$bin" replay --audit full --db "$work/r.db" "$work/long.svt" > "$work/out" 2>&1 &
pid=$!; sleep 2; kill -INT "$pid"; wait "$pid"; rc=$?
[ "$rc" -eq 4 ] && pass "SIGINT: exit 4" || fail "SIGINT: exit $rc"
"$bin" query "$work/r.db" summary --format json > "$work/q" 2>&1
jq -e '.[0].status == "incomplete" and .[0].events > 0 and .[0].events < 1500000' "$work/q" >/dev/null &&
	pass "SIGINT: the run is stored as incomplete" || { fail "SIGINT: run status"; cat "$work/q"; }
"$bin" replay --audit full --db "$work/r.db" "$work/long.svt" > "$work/out" 2>&1 &
pid=$!; sleep 2; kill -KILL "$pid"; wait "$pid" 2>/dev/null
"$bin" query "$work/r.db" summary --format json > "$work/q" 2>&1
jq -e '.[1].status == "incomplete?"' "$work/q" >/dev/null &&
	pass "SIGKILL: the run shows as incomplete?" || { fail "SIGKILL: run status"; cat "$work/q"; }
[ "$(sqlite3 "$work/r.db" 'PRAGMA integrity_check')" = ok ] &&
	pass "SIGKILL: the database is intact" || fail "SIGKILL: integrity_check"
expect_status 0 "replay into the same database afterwards" "$bin" replay --db "$work/r.db" "$work/short.svt"
[ "$("$bin" query "$work/r.db" summary --format json | jq length)" -eq 3 ] &&
	pass "three runs stored" || fail "runs stored"

finish replay-cmd
