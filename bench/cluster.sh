#!/bin/sh
# bench/cluster.sh [SRCDIR [BUILDDIR]] — `make bench-cluster` (as root): shadowvt
# run --slurm on a one-node Slurm started here (tests/slurmlib.sh; $CPUS
# CPUs declared, 8 unless set, whatever the machine has), with an experiment
# of 4 small synth traces (2,000 events) x 256 policies = 1,024 replay tasks
# (two job arrays), periodic audits.  It prints:
#   tasks/s        replay tasks through the scheduler: the replay arrays'
#                  tasks over the time from the first replay task's start to
#                  the last one's end (scheduler, process start, replay, shard)
#   merge          the merge of every shard, run by hand (the merge job held),
#                  in seconds and seconds per 1,000 shards
#   database       the merged database's size, bytes per run, and the
#                  timeline's share (one row per 65,536 events of a trace,
#                  RP_INTERVAL in sim/replay/replay_int.h)
#   shard          the average shard's size
# and a projection for 10,000 traces x 20 policies (200,000 runs) at these
# rates: the time through the scheduler on a cluster with this one node's
# throughput, the merge time, and the database size for traces this short
# and for traces of 10 M events.
set -u
src=${1:-.} top=${2:-.}
top_srcdir=$(cd "$src" && pwd); top_builddir=$(cd "$top" && pwd)
. "$top_srcdir/tests/testlib.sh"
pass() { :; }
fail() { echo "bench-cluster: $1" >&2; exit 1; }
need slurmctld slurmd sbatch squeue scontrol sinfo munged sqlite3 runuser
[ "$(id -u)" -eq 0 ] || { echo "bench-cluster: run it as root (it starts munged and slurmd)" >&2; exit 1; }
. "$top_srcdir/tests/slurmlib.sh"
bin="$top_builddir/shadowvt"
CPUS=${CPUS:-8}
start_munge
cluster bench b0

cat > "$work/bench.xml" <<'EOF'
<?xml version="1.0"?>
<experiment xmlns="urn:shadowvt:experiment:1" name="bench">
  <results db="out/bench.db" traces="out/traces"/>
  <audit level="periodic"/>
  <synth name="fork" workload="fork" mode="4level" events="2000" seed="1"/>
  <synth name="mmap" workload="mmap" mode="4level" events="2000" seed="2"/>
  <synth name="mix" workload="mix" mode="4level" events="2000" seed="3"/>
  <synth name="mixp" workload="mix" mode="pae" events="2000" seed="4"/>
  <policies>
    <sweep oos="0 1 2 3 4 5 6 7" prefetch="0 2 4 8" emulate="0 1" early="0 1" pool="64 512"/>
  </policies>
</experiment>
EOF
runs=$("$bin" run --check "$work/bench.xml" | sed -n 's/^runs: .* = //p')
"$bin" run --slurm --results "$work/r" "$work/bench.xml" > "$work/out" 2>&1 || { cat "$work/out"; fail "submission"; }
sd="$work/r/out/bench.slurm"
mjob=$(awk '$2 == "merge" { print $3 }' "$sd/submitted")
scontrol hold "$mjob"
t=0
while [ "$(squeue -h -o %i | wc -l)" -gt 1 ]; do
	t=$((t + 1)); [ $t -gt 6000 ] && fail "replays not done after 20 minutes"; sleep 0.2
done
# the replay arrays' first start and last end, from the controller
first=; last=
for j in $(awk '$2 == "replay" { print $3 }' "$sd/submitted"); do
	scontrol -o show job "$j" | tr ' ' '\n' | sed -n 's/^StartTime=//p;s/^EndTime=/E/p' > "$work/times"
	f=$(grep -v '^E' "$work/times" | sort | head -n 1); l=$(sed -n 's/^E//p' "$work/times" | sort | tail -n 1)
	{ [ -z "$first" ] || [ "$f" \< "$first" ]; } && first=$f
	{ [ -z "$last" ] || [ "$l" \> "$last" ]; } && last=$l
done
span=$(( $(date -d "$last" +%s) - $(date -d "$first" +%s) ))
[ "$span" -gt 0 ] || span=1
shards=$(ls "$sd/shards" | grep -c '\.db$')
shard_bytes=$(du -cb "$sd"/shards/*.db | tail -n 1 | cut -f1)
scancel "$mjob"
t0=$(date +%s.%N)
"$bin" run -q --slurm-merge --results "$work/r" "$work/bench.xml" > "$work/merge.out" 2>&1 ||
	{ tail -n 3 "$work/merge.out"; fail "the merge"; }
t1=$(date +%s.%N)
db="$work/r/out/bench.db"
stored=$(sqlite3 "$db" "SELECT count(*) FROM runs")
size=$(stat -c %s "$db")
tl=$(sqlite3 "$db" "SELECT count(*) FROM timeline")
tlb=$(sqlite3 "$db" "SELECT sum(pgsize) FROM dbstat WHERE name = 'timeline'" 2>/dev/null || echo 0)
awk -v runs="$runs" -v stored="$stored" -v span="$span" -v shards="$shards" -v sb="$shard_bytes" \
    -v t0="$t0" -v t1="$t1" -v size="$size" -v tl="$tl" -v tlb="$tlb" -v cpus="$CPUS" -v ncpu="$(nproc)" 'BEGIN {
	tps = runs / span; merge = t1 - t0; per_k = merge / shards * 1000
	bpr = size / stored; tl_row = tl ? tlb / tl : 0
	fixed = tl ? (size - tlb) / stored : bpr
	printf "bench-cluster (one node, %d CPUs declared, on a machine of %d cores)\n", cpus, ncpu
	printf "  tasks through the scheduler  %d replay tasks in %d s: %.1f tasks/s\n", runs, span, tps
	printf "  merge                        %d shards in %.2f s: %.2f s per 1,000 shards\n", shards, merge, per_k
	printf "  database                     %d runs, %d bytes: %.0f bytes per run (%d timeline rows, %.0f bytes each)\n", stored, size, bpr, tl, tl_row
	printf "  shard                        %.0f bytes on average\n", sb / shards
	n = 200000
	printf "projection, 10,000 traces x 20 policies = 200,000 runs:\n"
	printf "  through the scheduler        %.1f h at %.1f tasks/s (one node like this; the replays themselves not counted beyond these 2,000-event ones)\n", n / tps / 3600, tps
	printf "  merge                        %.0f s (%.1f min), one process\n", n / 1000 * per_k, n / 1000 * per_k / 60
	rows = int(10000000 / 65536) + 1
	printf "  database                     %.2f GB for traces of 2,000 events; %.1f GB for traces of 10 M events (%d timeline rows per run)\n", n * bpr / 1e9, n * (fixed + rows * tl_row) / 1e9, rows
}'
