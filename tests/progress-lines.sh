#!/bin/sh
# Lines printed while a status line is drawn (issue 20): replay (-j 1 and
# -j N) and reduce draw their status lines with the shared drawer
# (sim/util/progress.c), in its format, and every line they print while it
# is drawn (violation lines, summaries, reduce's steps) ends up intact on a
# line of its own on the terminal, never glued to the status line; record
# shows the core's inputs by kind as the live stream brings them, and the
# guest's last console line though it lacks its '\n'.  None of it without
# a terminal or with -q.
set -u
. "$top_srcdir/tests/testlib.sh"
need script python3
bin="$top_builddir/shadowvt"
broken="$top_builddir/tests/shadowvt-broken"

# on_tty FILE COMMAND: run COMMAND with a terminal as its standard output
# and error (what a user sees), its first status line drawn at once; the
# bytes it wrote, as they are, in FILE
on_tty() {
	f=$1; shift
	SHADOWVT_PROGRESS_DELAY=0 script -qec "$*" /dev/null < /dev/null > "$f"
}
# screen FILE: the lines a terminal shows for FILE's bytes ("\r" back to
# the line's start, ESC [ K erases to its end, "\n" ends it), and on a
# line of its own the number of status lines drawn (ESC [ K then text)
screen() {
	python3 - "$1" <<'EOF'
import re, sys
data = open(sys.argv[1], 'rb').read().decode('utf-8', 'replace')
lines, cur, col, drawn = [], [], 0, 0
i = 0
while i < len(data):
    c = data[i]
    if data.startswith('\033[K', i):
        del cur[col:]
        i += 3
        drawn += i < len(data) and data[i] not in '\r\n\033'
        continue
    if c == '\r':
        col = 0
    elif c == '\n':
        lines.append(''.join(cur))
        cur, col = [], 0
    else:
        if col < len(cur):
            cur[col] = c
        else:
            cur.append(c)
        col += 1
    i += 1
if cur:
    lines.append(''.join(cur))
print('\n'.join(lines))
print('drawn %d' % drawn)
EOF
}
# intact WHAT FILE PATTERN PREFIX: every screen line of FILE that matches
# PATTERN starts with PREFIX (so nothing was drawn before it on its line),
# at least one does, and status lines were drawn while they were printed
intact() {
	screen "$2" > "$work/screen"
	n=$(grep -c -- "$3" "$work/screen")
	bad=$(grep -- "$3" "$work/screen" | grep -cv "^$4")
	drawn=$(sed -n 's/^drawn //p' "$work/screen")
	if [ "$n" -gt 0 ] && [ "$bad" -eq 0 ] && [ "$drawn" -gt 0 ]; then
		pass "$1: $n lines, each on a line of its own ($drawn status lines drawn)"
	else
		fail "$1: $bad of $n lines not on a line of their own ($drawn status lines drawn)"
		grep -- "$3" "$work/screen" | grep -v "^$4" | head -n 3
	fi
}
# no_line WHAT FILE: FILE holds no status line (no carriage return, no erase)
no_line() {
	if grep -q "$(printf '\r')" "$2" || grep -q "$(printf '\033')\[K" "$2"; then
		fail "$1: a status line without a terminal"; od -c "$2" | head -n 5
	else
		pass "$1: no status line without a terminal"
	fi
}

# ---- replay: violation lines while the line is drawn ---------------------------------
# bug 1 (tests/shadowvt-broken) makes violations all along a trace
for s in 1 2 3; do
	SVT_BROKEN=1 "$broken" synth -q --workload mix --mode 4level --events 300000 --seed $s \
		-o "$work/b$s.svt" || fail "synth (bug 1, seed $s)"
done
all="'$work/b1.svt' '$work/b2.svt' '$work/b3.svt'"
on_tty "$work/t" "SVT_BROKEN=1 '$broken' replay -j 2 --audit periodic --show 100000 $all"
grep -Eq 'replay: [0-3]/3 traces done, [0-9.]+( [kM])? events, [0-9.]+( [kM])? events/s, [0-9]+ violations' \
	"$work/t" && pass "replay -j 2: the aggregate line" || fail "replay -j 2: no aggregate line"
intact "replay -j 2: violation lines" "$work/t" ": event [0-9]*: INV-" "$work/b[123].svt: event "
intact "replay -j 2: summaries" "$work/t" ": VIOLATIONS: " "$work/b[123].svt: VIOLATIONS: "

on_tty "$work/t" "SVT_BROKEN=1 '$broken' replay --audit periodic --show 100000 $all"
grep -Eq 'replay b1.svt: [0-9]+/[0-9]+ events \([0-9]+%\), [0-9.]+ M/s, [0-9]+ violations, ETA ' "$work/t" &&
	pass "replay -j 1: the shared drawer's line (name, events, rate, violations, ETA)" ||
	{ fail "replay -j 1: not the shared line"; tr '\r' '\n' < "$work/t" | grep -v ': event ' | grep . |
		head -n 3; }
intact "replay -j 1: violation lines" "$work/t" ": event [0-9]*: INV-" "$work/b[123].svt: event "
SVT_BROKEN=1 "$broken" replay --audit periodic $all > /dev/null 2> "$work/e"
no_line "replay -j 1" "$work/e"
on_tty "$work/t" "SVT_BROKEN=1 '$broken' replay -q --audit periodic $all"
grep -q "$(printf '\033')\[K" "$work/t" && fail "replay -q: drew a status line" ||
	pass "replay -q: no status line"

# ---- reduce: the shared line, its steps on lines of their own ------------------------
on_tty "$work/t" "SVT_BROKEN=1 '$broken' reduce --budget 60 -o '$work/r.svt' '$work/b1.svt'"
grep -Eq 'reduce b1.svt: (window|ddmin|memory), [0-9]+ inputs, [0-9]+ candidates replayed, [0-9]+ s' \
	"$work/t" && pass "reduce: the shared drawer's line" ||
	{ fail "reduce: not the shared line"; tr '\r' '\n' < "$work/t" | grep . | head -n 5; }
intact "reduce: its steps" "$work/t" ": \(target\|window\|ddmin\)" "$work/b1.svt: \(target\|window\|ddmin\)"
SVT_BROKEN=1 "$broken" reduce --budget 60 -o "$work/r.svt" "$work/b1.svt" > /dev/null 2> "$work/e"
no_line reduce "$work/e"
on_tty "$work/t" "SVT_BROKEN=1 '$broken' reduce -q --budget 60 -o '$work/r.svt' '$work/b1.svt'"
grep -q "$(printf '\033')\[K" "$work/t" && fail "reduce -q: drew a status line" ||
	pass "reduce -q: no status line"

# ---- record: the inputs by kind, the last console line -------------------------------
vmx="$work/vmx"
mkdir -p "$vmx"
: > "$vmx/hv.elf"
# HELLO (empty: the conversion refuses it later) and one RECORDS packet:
# 3 FAULT, 2 CR_WRITE, 1 INVLPG, 1 INVPCID, 4 FLUSH_ALL, 2 MEM, 1 CPU
# (a CPUID): 14 events (traces/FORMAT.md, "Records", "The live stream")
python3 - "$work/stream" <<'EOF'
import struct, sys
def crc32c(b):
    c = 0xffffffff
    for x in b:
        c ^= x
        for _ in range(8):
            c = (c >> 1) ^ (0x82f63b78 if c & 1 else 0)
    return c ^ 0xffffffff
def varint(v):
    out = b''
    while True:
        if v < 0x80:
            return out + bytes([v])
        out += bytes([v & 0x7f | 0x80])
        v >>= 7
def rec(t, payload):
    return varint(t) + varint(len(payload)) + payload
def packet(t, no, first, payload):
    h = b'SVTL' + struct.pack('<IIQI', t, no, first, len(payload)) + payload
    return h + struct.pack('<I', crc32c(h))
r = b''
for _ in range(3):                          # FAULT: no presence bits, va 0x1000 on
    r += rec(1, varint(0) + varint(0x2000))
r += rec(2, bytes([1]) + varint(0x5000))    # CR_WRITE: CR3
r += rec(2, bytes([0]) + varint(0x80000001))        # CR0
r += rec(3, varint(0x2000))                 # INVLPG
r += rec(4, varint(0) + varint(1) + varint(0))      # INVPCID
for _ in range(4):
    r += rec(5, b'')                        # FLUSH_ALL
for _ in range(2):
    r += rec(6, varint(0x2000) + varint(7 << 2 | 2))   # MEM: 8 zero bytes
r += rec(11, varint(0) + b''.join(varint(x) for x in (1, 0, 2, 3, 4, 5)))  # CPU: CPUID
open(sys.argv[1], 'wb').write(packet(1, 0, 0, b'') + packet(2, 1, 0, r))
EOF
cat > "$vmx/bochs-run.sh" <<EOF
for i in 1 2; do echo "console line \$i" >> "\$1/console.txt"; sleep 0.3; done
cp "$work/stream" "\$1/stream-lpt.bin"; sleep 0.5
printf 'the last line, no newline' >> "\$1/console.txt"
exit 0
EOF
printf '\002\260\255\033\000\000\001\000\376\117\121\344' > "$work/mb.elf"
head -c 20 /dev/zero >> "$work/mb.elf"
on_tty "$work/t" "stty cols 200; SHADOWVT_VMX='$vmx' '$bin' record --guest '$work/mb.elf' -o '$work/rec.svt'"
screen "$work/t" > "$work/screen"
grep -Eq 'record [0-9]+/300 s: 3 #PF, 2 CR, 1 INVLPG, 1 INVPCID, 4 flush, 1 CPUID; 14 events, [0-9]+ B' \
	"$work/t" && pass "record: the core's inputs by kind, the CPUIDs, the events" ||
	{ fail "record: no counts by kind"; tr '\r' '\n' < "$work/t" | grep 'record ' | tail -n 2; }
[ "$(grep -c '^guest: console line [12]$' "$work/screen")" -eq 2 ] &&
	pass "record: the console lines as they come" || { fail "record: console lines"; cat "$work/screen"; }
grep -q '^guest: the last line, no newline$' "$work/screen" &&
	pass "record: the console's last line, though it has no newline" ||
	{ fail "record: the last console line is missing"; cat "$work/screen"; }
intact "record: console lines" "$work/t" "^guest: \|console line" "guest: "
SHADOWVT_VMX="$vmx" "$bin" record --guest "$work/mb.elf" -o "$work/rec.svt" > /dev/null 2> "$work/e"
no_line record "$work/e"
grep -q 'guest: ' "$work/e" && fail "record: console lines without a terminal" ||
	pass "record: no console lines without a terminal"
on_tty "$work/t" "SHADOWVT_VMX='$vmx' '$bin' record -q --guest '$work/mb.elf' -o '$work/rec.svt'"
grep -q 'guest: \|record [0-9]*/' "$work/t" && fail "record -q: drew" || pass "record -q: no console, no line"

finish progress-lines
