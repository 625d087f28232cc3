#!/bin/sh
# Feedback on long work, and messages: synth, export, record, replay -j N
# and run draw a status line on a terminal (script(1) gives them one) and
# none when standard error is not a terminal or with -q; export estimates
# its output's size before writing and warns when it is large; record shows
# the guest's console lines and the stream's events as they come (through
# a stand-in for the engine's run script); run --json prints one JSON
# object that agrees with the database and the exit status; an experiment
# file with several independent problems has them all reported in one
# pass; a missing option value and a leading zero are read as shadowvt(1)
# says.
set -u
. "$top_srcdir/tests/testlib.sh"
need script python3 sqlite3
bin="$top_builddir/shadowvt"

# on_tty FILE COMMAND: run COMMAND with a terminal as standard error, its
# first status line drawn at once (work here is short on a fast machine);
# what it drew, with each carriage return a new line, in FILE
on_tty() {
	f=$1; shift
	SHADOWVT_PROGRESS_DELAY=0 script -qec "$*" /dev/null < /dev/null | tr '\r' '\n' > "$f"
}
# no_line WHAT FILE: FILE holds no status line (no carriage return, no erase)
no_line() {
	if grep -q "$(printf '\r')" "$2" || grep -q "$(printf '\033')\[K" "$2"; then
		fail "$1: a status line without a terminal"; od -c "$2" | head -n 5
	else
		pass "$1: no status line without a terminal"
	fi
}

# ---- synth ---------------------------------------------------------------------
on_tty "$work/t" "'$bin' synth --workload fork --events 1000000 --frame-size 65536 -o '$work/big.svt'"
grep -Eq 'synth fork: [0-9]+/1000000 events \([0-9]+%\), [0-9.]+ M/s, [0-9.]+ [KM]B, ETA [0-9]' "$work/t" &&
	pass "synth: a status line on a terminal" || { fail "synth: no status line"; tail -n 3 "$work/t"; }
grep -q "big.svt: 100[0-9]* events, workload fork" "$work/t" && pass "synth: the summary after it" ||
	fail "synth: no summary line"
"$bin" synth --workload fork --events 1000000 --frame-size 65536 -o "$work/big2.svt" 2> "$work/e"
no_line synth "$work/e"
cmp -s "$work/big.svt" "$work/big2.svt" && pass "synth: the same trace with and without the line" ||
	fail "synth: the status line changed the trace"
on_tty "$work/t" "'$bin' synth -q --workload fork --events 1000000 --frame-size 65536 -o '$work/big2.svt'"
[ ! -s "$work/t" ] && pass "synth -q: nothing on a terminal" || { fail "synth -q drew"; head -c 300 "$work/t"; }

# ---- export: the size said before, a warning when large -----------------------------
on_tty "$work/t" "'$bin' export --format perfetto -o '$work/big.json' '$work/big.svt'"
rm -f "$work/big.json"
grep -Eq 'export: [0-9]+/[0-9]+ events \([0-9]+%\), [0-9.]+ [KMG]?B of about [0-9.]+ MB, ETA' "$work/t" &&
	pass "export: a status line with the expected size" || { fail "export: no status line"; tail -n 3 "$work/t"; }
"$bin" export --format perfetto -o - "$work/big.svt" 2> "$work/e" | wc -c > "$work/size"
no_line export "$work/e"
size=$(cat "$work/size")
about=$(sed -n 's/.*warning: the output will be about \([0-9.]*\) MB.*/\1/p' "$work/e")
[ -n "$about" ] && [ "$size" -gt 100000000 ] && python3 -c "import sys; sys.exit(abs($about * 1e6 - $size) > 0.1 * $size)" &&
	pass "export: warned of about $about MB, wrote $size bytes (within 10%)" ||
	{ fail "export: estimate '$about' MB, wrote $size bytes"; cat "$work/e"; }
"$bin" export -q --format perfetto -o /dev/null "$work/big.svt" 2> "$work/e"
[ ! -s "$work/e" ] && pass "export -q: no warning" || { fail "export -q said something"; cat "$work/e"; }
"$bin" synth -q --workload fork --events 2000 -o "$work/small.svt"
"$bin" export --format perfetto -o /dev/null "$work/small.svt" 2> "$work/e"
[ ! -s "$work/e" ] && pass "export: no warning for a small output" || { fail "export warned"; cat "$work/e"; }

# ---- replay -j N: one line for all ---------------------------------------------------
for s in 1 2 3; do "$bin" synth -q --workload mix --events 200000 --seed $s -o "$work/r$s.svt"; done
# (3.4 M events: a second or more, however fast the replay)
all="'$work/big.svt' '$work/big2.svt' '$work/r1.svt' '$work/r2.svt' '$work/r3.svt'"
on_tty "$work/t" "'$bin' replay -j 2 --audit periodic $all"
grep -Eq 'replay: [0-5]/5 traces done, [0-9.]+( [kM])? events, [0-9.]+( [kM])? events/s, 0 violations' "$work/t" &&
	pass "replay -j 2: an aggregate line on a terminal" || { fail "replay -j 2: no line"; tail -n 5 "$work/t"; }
[ "$(grep -c ': clean: ' "$work/t")" -eq 5 ] && pass "replay -j 2: the five summaries too" ||
	fail "replay -j 2: summaries"
eval "'$bin' replay -j 2 --audit periodic $all" > /dev/null 2> "$work/e"
no_line "replay -j 2" "$work/e"

# ---- run: progress, --json --------------------------------------------------------
mkdir -p "$work/exp"
cat > "$work/exp/e.xml" <<EOF
<experiment xmlns="urn:shadowvt:experiment:1" name="prog">
  <audit level="periodic"/>
  <trace name="r1" path="$work/r1.svt"/>
  <trace name="r2" path="$work/r2.svt"/>
  <trace name="r3" path="$work/r3.svt"/>
  <trace name="big" path="$work/big.svt"/>
  <policies><recorded/><policy name="off">oos=0,prefetch=0</policy></policies>
</experiment>
EOF
on_tty "$work/t" "'$bin' run -j 2 --results '$work/res' '$work/exp/e.xml'"
grep -Eq 'run prog: [0-8]/8 replayed, 0 cached, 0 failed, [0-9.]+( [kM])? events/s, ETA' "$work/t" &&
	pass "run: a status line on a terminal" || { fail "run: no status line"; tail -n 5 "$work/t"; }
"$bin" run -j 2 --force --results "$work/res" "$work/exp/e.xml" > /dev/null 2> "$work/e"
no_line run "$work/e"
"$bin" run --json --results "$work/res" "$work/exp/e.xml" > "$work/j" 2> "$work/e"; rc=$?
q() { python3 -c "import json,sys; d=json.load(open('$work/j')); print($1)"; }
if python3 -m json.tool "$work/j" > /dev/null 2>&1; then
	pass "run --json: standard output is one JSON document"
else
	fail "run --json: not JSON"; head -n 5 "$work/j"
fi
[ "$(q "d['runs'], d['clean'], d['violations'], d['cached'], d['replayed'], d['failed'], d['exit_status']")" = \
	"8 8 0 8 0 0 $rc" ] && [ "$rc" -eq 0 ] &&
	[ "$(q "d['db']")" = "$work/res/results.db" ] &&
	[ "$(q "len(d['results']), sum(r['cached'] for r in d['results'])")" = "8 8" ] &&
	[ "$(q "d['whatif_approximate'] + d['whatif_exact']")" = 4 ] &&
	pass "run --json: 8 runs, all cached, clean, exit 0, the database's path" ||
	{ fail "run --json (exit $rc)"; cat "$work/j" "$work/e"; }
sqlite3 -separator ' ' "$work/res/results.db" "SELECT id, status, events FROM runs" > "$work/db"
python3 - "$work/j" "$work/db" <<'EOF' && pass "run --json: each run's id, status and events are the database's" ||
import json, sys
d = json.load(open(sys.argv[1]))
db = {int(i): (s, int(e)) for i, s, e in (l.split() for l in open(sys.argv[2]))}
got = [(r['run'], r['status'], r['events']) for r in d['results']]
sys.exit(not (len(set(r[0] for r in got)) == 8 and all(db.get(i) == (s, e) for i, s, e in got)))
EOF
	fail "run --json: the runs are not the database's"
SVT_BROKEN=1 "$top_builddir/tests/shadowvt-broken" run --json --results "$work/resb" "$work/exp/e.xml" > "$work/j" 2> /dev/null; rc=$?
[ "$rc" -eq 1 ] && [ "$(q "d['exit_status'], d['violations'] > 0, d['replayed']")" = "1 True 8" ] &&
	pass "run --json: violations counted, exit_status 1 as the exit status" ||
	{ fail "run --json with violations (exit $rc)"; head -c 600 "$work/j"; }
expect_status 2 "run --json --check refused" "$bin" run --json --check "$work/exp/e.xml"
cat > "$work/exp/s.xml" <<EOF
<experiment xmlns="urn:shadowvt:experiment:1" name="mk">
  <audit level="none"/>
  <synth name="s" workload="fork" events="1000000" frame-size="65536"/>
</experiment>
EOF
on_tty "$work/t" "'$bin' run --results '$work/res-s' '$work/exp/s.xml'"
grep -Eq 'synth fork: [0-9]+/1000000 events' "$work/t" && grep -q 's: synthesised ' "$work/t" &&
	pass "run: the synth's status line while the trace is made" || { fail "run: no synth line"; cat "$work/t"; }

# ---- record: the console and the stream as they come ------------------------------------
vmx="$work/vmx"
mkdir -p "$vmx"
: > "$vmx/hv.elf"
# a stream of two good packets: HELLO (empty payload; the conversion refuses it
# later) and RECORDS whose first event is 1234 (traces/FORMAT.md, "The live stream")
python3 - "$work/stream" <<'EOF'
import struct, sys
def crc32c(b):
    c = 0xffffffff
    for x in b:
        c ^= x
        for _ in range(8):
            c = (c >> 1) ^ (0x82f63b78 if c & 1 else 0)
    return c ^ 0xffffffff
def packet(t, no, first, payload):
    h = b'SVTL' + struct.pack('<IIQI', t, no, first, len(payload)) + payload
    return h + struct.pack('<I', crc32c(h))
open(sys.argv[1], 'wb').write(packet(1, 0, 0, b'') + b'junk' + packet(2, 1, 1234, b'\x00' * 10))
EOF
cat > "$vmx/bochs-run.sh" <<EOF
for i in 1 2 3; do echo "console line \$i" >> "\$1/console.txt"; sleep 0.3; done
cp "$work/stream" "\$1/stream-lpt.bin"; sleep 0.5
exit 0
EOF
printf '\002\260\255\033\000\000\001\000\376\117\121\344' > "$work/mb.elf"
head -c 20 /dev/zero >> "$work/mb.elf"
on_tty "$work/t" "SHADOWVT_VMX='$vmx' '$bin' record --guest '$work/mb.elf' -o '$work/rec.svt'"
[ "$(grep -c 'guest: console line [123]$' "$work/t")" -eq 3 ] && pass "record: the console lines as they come" ||
	{ fail "record: console lines"; cat "$work/t"; }
grep -Eq 'record [0-9]+/300 s: 0 #PF, 0 CR, 0 INVLPG, 0 INVPCID, 0 flush; 1.2 k events, [0-9]+ B' "$work/t" &&
	pass "record: the stream's events counted (damage skipped)" || { fail "record: no stream line"; cat "$work/t"; }
SHADOWVT_VMX="$vmx" "$bin" record --guest "$work/mb.elf" -o "$work/rec.svt" > /dev/null 2> "$work/e"
no_line record "$work/e"
grep -q 'console line' "$work/e" && fail "record: console lines without a terminal" ||
	pass "record: no console lines without a terminal"
on_tty "$work/t" "SHADOWVT_VMX='$vmx' '$bin' record -q --guest '$work/mb.elf' -o '$work/rec.svt'"
grep -q 'console line\|record [0-9]*/' "$work/t" && fail "record -q: drew" || pass "record -q: no console, no line"

# ---- an experiment file's problems, all in one pass ---------------------------------------
bad="$top_srcdir/tests/experiments/many-errors.xml"
"$bin" run --check "$bad" > "$work/o" 2> "$work/e"; rc=$?
n=0
for want in '4: <audit level="loud">: expected none, faults, periodic or full' \
	'5: <synth events="1x0">: expected an integer from 1 to' \
	'6: <synth workload="frobnicate">: unknown workload' \
	"7: input name 'a' is already used at line 5" \
	'8: <trace>: trace ' \
	'10: <policy>: pool=8: out of range 16..65536'; do
	grep -qF "$bad:$want" "$work/e" && n=$((n + 1)) || echo "# missing: $bad:$want"
done
[ "$rc" -eq 3 ] && [ "$n" -eq 6 ] && [ "$(wc -l < "$work/e")" -eq 6 ] &&
	[ "$(cut -d: -f2 "$work/e" | tr '\n' ' ')" = "4 5 6 7 8 10 " ] &&
	pass "many-errors.xml: exit 3, its six problems in one pass, by line" ||
	{ fail "many-errors.xml: exit $rc, $n of 6"; cat "$work/e"; }

# ---- messages from the option parser ------------------------------------------------
expect_status 2 "replay --policy without its value" "$bin" replay "$work/small.svt" --policy
grep -q "option --policy needs a value" "$work/err" && pass "  ...says the value is missing" ||
	{ fail "--policy without a value"; cat "$work/err"; }
expect_status 2 "--from 010 is ten, not eight" "$bin" replay --from 010 --to 9 "$work/small.svt"
grep -q -- "--from 10 is after --to 9" "$work/err" && pass "  ...--from 010 read as 10" ||
	{ fail "--from 010"; cat "$work/err"; }

finish progress-cmd
