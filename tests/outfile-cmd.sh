#!/bin/sh
# The files commands write (-o; sim/util/outfile.c): synth, export, report
# and demo replace a regular file only when the new one is complete
# (renamed over it, its permissions kept); write straight through to a
# FIFO or a device and never replace it; follow a symbolic link to its
# target and leave the link a link; refuse a directory.  SIGINT and
# SIGTERM leave the old file as it was and no temporary, and exit 4.
set -u
. "$top_srcdir/tests/testlib.sh"
need sqlite3
bin="$top_builddir/shadowvt"

# no temporary left in the scratch directory
no_tmp() { # description
	left=$(find "$work" -name '*.tmp*' | head -n 3)
	[ -z "$left" ] && pass "$1: no temporary left" || fail "$1: left $left"
}
# wait until a temporary appears beside $1 (the command has armed its
# handlers by then); 0 if it did within 20 s
wait_tmp() {
	i=0
	while [ $i -lt 2000 ]; do
		for f in "$1".tmp*; do [ -e "$f" ] && return 0; done
		kill -0 "$2" 2>/dev/null || return 1
		sleep 0.01; i=$((i + 1))
	done
	return 1
}

"$bin" synth -q --workload fork --events 20000 -o "$work/keep.svt" || fail "synth"
cp "$work/keep.svt" "$work/keep.orig"
chmod 640 "$work/keep.svt"

# ---- interrupted: the old file stays, no temporary, exit 4 ----------------------
for sig in INT TERM; do
	"$bin" synth -q --workload mix --events 100000000 -o "$work/keep.svt" 2> "$work/err" & pid=$!
	if wait_tmp "$work/keep.svt" $pid; then
		kill -$sig $pid; wait $pid; rc=$?
		[ $rc -eq 4 ] && pass "synth, SIG$sig: exit 4" || fail "synth, SIG$sig: exit $rc"
	else
		kill -KILL $pid 2>/dev/null; wait $pid; fail "synth, SIG$sig: no temporary seen"
	fi
	cmp -s "$work/keep.svt" "$work/keep.orig" && pass "synth, SIG$sig: the old trace is intact" ||
		fail "synth, SIG$sig: the old trace was replaced"
	grep -q 'interrupted; .*keep.svt left as it was' "$work/err" && pass "  ...and says so" ||
		{ fail "synth, SIG$sig message"; cat "$work/err"; }
	no_tmp "synth, SIG$sig"
done
"$bin" info "$work/keep.svt" > /dev/null && pass "the kept trace still reads" || fail "kept trace"

# big enough that the export (seconds) is still running when the signal comes
"$bin" synth -q --workload mix --events 3000000 -o "$work/big.svt" || fail "synth big"
printf '{"old": true}\n' > "$work/old.json"
cp "$work/old.json" "$work/old.orig"
"$bin" export "$work/big.svt" --format perfetto -o "$work/old.json" 2> "$work/err" & pid=$!
if wait_tmp "$work/old.json" $pid; then
	kill -INT $pid; wait $pid; rc=$?
	[ $rc -eq 4 ] && pass "export, SIGINT: exit 4" || fail "export, SIGINT: exit $rc"
else
	wait $pid; fail "export, SIGINT: no temporary seen"
fi
cmp -s "$work/old.json" "$work/old.orig" && pass "export, SIGINT: the old file is intact" ||
	fail "export, SIGINT: the old file was replaced"
no_tmp "export, SIGINT"

# ---- regular files: replaced whole, permissions kept ------------------------------
expect_status 0 "synth over an existing trace" "$bin" synth -q --workload fork --events 5000 \
	-o "$work/keep.svt"
[ "$(stat -c %a "$work/keep.svt")" = 640 ] && pass "the replaced file keeps its mode (640)" ||
	fail "mode $(stat -c %a "$work/keep.svt")"
cmp -s "$work/keep.svt" "$work/keep.orig" && fail "the trace was not replaced" ||
	pass "the trace was replaced"
no_tmp "synth"

# ---- FIFOs and devices: written through, never replaced -----------------------------
"$bin" synth -q --workload fork --events 5000 -o "$work/t.svt"
"$bin" replay -q --db "$work/r.db" "$work/t.svt" > /dev/null || fail "replay into r.db"
mkfifo "$work/fifo"
for cmd in "report $work/r.db" "export $work/t.svt --format perfetto" "synth -q --workload fork --events 5000" "demo"; do
	name=${cmd%% *}
	timeout 30 cat "$work/fifo" > "$work/fifo.out" & reader=$!
	# shellcheck disable=SC2086
	"$bin" $cmd -o "$work/fifo" > /dev/null 2> "$work/err"; rc=$?
	wait $reader
	[ $rc -eq 0 ] && [ -p "$work/fifo" ] && [ -s "$work/fifo.out" ] &&
		pass "$name -o FIFO: written through, the FIFO is still one" ||
		{ fail "$name -o FIFO: exit $rc"; ls -l "$work/fifo"; cat "$work/err"; }
done
"$bin" synth -q --workload fork --events 5000 -o "$work/fifo" & pid=$!
sleep 0.5
kill -INT $pid; wait $pid; rc=$?
[ $rc -eq 4 ] && [ -p "$work/fifo" ] && pass "interrupted while the FIFO has no reader: exit 4" ||
	fail "FIFO without a reader, SIGINT: exit $rc"
# Devices.  A command that wrongly replaced its output would, run as root,
# replace /dev/null itself; so where this test can make device nodes (root)
# it writes to its own (null and full, as in /dev), else to /dev/null and
# /dev/full, which a user cannot replace.
null=/dev/null full=/dev/full
if mknod "$work/null" c 1 3 2>/dev/null && mknod "$work/full" c 1 7 2>/dev/null &&
   echo x > "$work/null" 2>/dev/null; then
	null="$work/null" full="$work/full"
elif [ "$(id -u)" -eq 0 ]; then
	fail "root, but no device nodes can be made: not risking /dev/null"
	null="$work/fifo-not-a-device" full="$work/fifo-not-a-device"
fi
expect_status 0 "report -o $null" "$bin" report "$work/r.db" -o "$null"
[ -c "$null" ] && pass "$null is still a device" || fail "$null replaced"
expect_status 0 "export -o $null" "$bin" export "$work/t.svt" --format perfetto -o "$null"
expect_status 0 "demo -o $null" "$bin" demo -o "$null"
[ -c "$null" ] && pass "$null is still a device" || fail "$null replaced"
if [ -w "$full" ] && ! echo x > "$full" 2>/dev/null; then
	expect_status 3 "report -o $full: no space" "$bin" report "$work/r.db" -o "$full"
	grep -qF "$full: cannot write: No space left" "$work/err" && pass "  ...said" ||
		{ fail "$full message"; cat "$work/err"; }
	[ -c "$full" ] && pass "$full is still a device" || fail "$full replaced"
else
	fail "$full is not a full device"
fi

# ---- symbolic links: the target is written, the link stays ---------------------------
ln -s target.html "$work/link.html"
expect_status 0 "report -o a dangling link" "$bin" report "$work/r.db" -o "$work/link.html"
[ -L "$work/link.html" ] && [ -f "$work/target.html" ] && grep -q '</html>' "$work/target.html" &&
	pass "the link's target was created; the link stays a link" || fail "report through a link"
: > "$work/target.html"
expect_status 0 "report -o a link to a regular file" "$bin" report "$work/r.db" -o "$work/link.html"
[ -L "$work/link.html" ] && grep -q '</html>' "$work/target.html" &&
	pass "the target was replaced; the link stays a link" || fail "report over a link's target"
ln -s fifo "$work/fifolink"
timeout 30 cat "$work/fifo" > "$work/fifo.out" & reader=$!
"$bin" demo -o "$work/fifolink" > /dev/null; rc=$?
wait $reader
[ $rc -eq 0 ] && [ -p "$work/fifo" ] && [ -L "$work/fifolink" ] && [ -s "$work/fifo.out" ] &&
	pass "demo -o a link to a FIFO: written through" || fail "demo through a link to a FIFO"
no_tmp "links"

# ---- refused ----------------------------------------------------------------------------
mkdir "$work/dir"
expect_status 3 "report -o a directory" "$bin" report "$work/r.db" -o "$work/dir"
grep -q 'dir: cannot write: Is a directory' "$work/err" && pass "  ...said" || fail "directory message"
expect_status 3 "synth -o in a missing directory" "$bin" synth -q --workload fork --events 5000 \
	-o "$work/no/such.svt"
grep -qF "$work/no/such.svt: cannot write" "$work/err" && pass "  ...named" || { fail "message"; cat "$work/err"; }
no_tmp "refusals"
finish outfile-cmd
