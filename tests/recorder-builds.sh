#!/bin/sh
# One recorder in both builds: the same input sequence through the
# recorder and the core, built hosted (as synth links them) and
# freestanding (as the hypervisor links them), gives byte-identical
# records (tests/rec-seq.c), and the sequence exercises what it should:
# MEM records, evictions from the mirror, emulated page-table writes,
# walk and table evidence.
set -eu
b=$top_builddir/tests
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
"$b/rec-seq-hosted" > "$tmp/hosted" 2> "$tmp/hosted.sum"
"$b/rec-seq-fs" > "$tmp/fs" 2> "$tmp/fs.sum"
cat "$tmp/hosted.sum"
cmp "$tmp/hosted" "$tmp/fs" || { echo "FAIL: the two builds of the recorder differ"; exit 1; }
cmp "$tmp/hosted.sum" "$tmp/fs.sum" || { echo "FAIL: the summaries differ"; cat "$tmp/fs.sum"; exit 1; }
read -r _ bytes _ events _ faults _ mem _ membytes _ evict _ evidence < "$tmp/hosted.sum"
[ "$bytes" -gt 10000 ] || { echo "FAIL: only $bytes bytes"; exit 1; }
[ "$faults" -gt 1000 ] || { echo "FAIL: only $faults faults"; exit 1; }
[ "$mem" -gt 100 ] || { echo "FAIL: only $mem MEM records"; exit 1; }
[ "$evict" -gt 100 ] || { echo "FAIL: only $evict evictions"; exit 1; }
[ "$evidence" -gt 1000 ] || { echo "FAIL: only $evidence evidence reads"; exit 1; }
echo "ok: $events events, $bytes bytes, identical in both builds"
