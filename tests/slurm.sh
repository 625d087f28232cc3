#!/bin/sh
# tests/slurm.sh (make check-slurm, not in make check; CI runs it after make
# check, as root): shadowvt run --slurm on a real Slurm, started here.
#
# munged and a one-node cluster on 127.0.0.1 (slurmctld, slurmd), all in
# the scratch directory, no systemd; examples/policies.xml submitted with
# --slurm and its merged database compared row by row with a local -j 2 run;
# a re-submission submits nothing; then a task killed (scancel) halfway
# through its replay: the merge is cancelled, no partial row, --status
# names it failed, a re-submission replays only it, and the database equals
# the local run's.  Then a two-node cluster (two slurmd): a larger sweep,
# tasks on both nodes, the same comparison; the merge killed halfway: no
# partial run in the database, the re-submission submits only the merge,
# and the database equals the local run's.
#
# Compared (dump_db): runs by trace file name, trace_checksum, guest,
# workload, policy, recorded_policy, audit, tool_version, trace_events,
# status, events, violations, divergence_seq, message; every violations
# column and every timeline column but run; counters (name, value) but
# peak_rss_kb; rows joined to their run by (trace_checksum, policy, audit).
# Not compared: ids, runs.pid, host, started, finished, seconds (where and
# when), and the counter peak_rss_kb (the process's memory).
#
# Every daemon started here is stopped by its pid on every way out.
set -u
. "$top_srcdir/tests/testlib.sh"
need slurmctld slurmd sbatch squeue scontrol scancel sinfo munged sqlite3 runuser
bin="$top_builddir/shadowvt"
ex="$top_srcdir/examples"
if [ "$(id -u)" -ne 0 ]; then
	echo "FAIL - the test starts munged and slurmd: run it as root"
	exit 1
fi

. "$top_srcdir/tests/slurmlib.sh"
start_munge

# dump_db DB: the rows compared, one per line, sorted (see the header)
dump_db() {
	tcols=$(sqlite3 "$1" "SELECT group_concat('t.' || name, ', ') FROM pragma_table_info('timeline') WHERE name <> 'run'")
	sqlite3 "$1" <<EOF | LC_ALL=C sort
SELECT 'run', replace(trace, rtrim(trace, replace(trace, '/', '')), ''), trace_checksum, guest, workload,
	policy, recorded_policy, audit, tool_version, trace_events, status, events, violations, divergence_seq,
	message FROM runs;
SELECT 'violation', r.trace_checksum, r.policy, r.audit, v.seq, v.invariant, v.va, v.gfn, v.level,
	v.guest_entry, v.shadow_entry, v.what, v.from_seq, v.to_seq FROM violations v JOIN runs r ON r.id = v.run;
SELECT 'counter', r.trace_checksum, r.policy, r.audit, c.name, c.value FROM counters c
	JOIN runs r ON r.id = c.run WHERE c.name <> 'peak_rss_kb';
SELECT 'timeline', r.trace_checksum, r.policy, r.audit, $tcols FROM timeline t JOIN runs r ON r.id = t.run;
EOF
}
# same_db WHAT LOCAL MERGED
same_db() {
	dump_db "$2" > "$work/a.txt"; dump_db "$3" > "$work/b.txt"
	runs=$(grep -c '^run|' "$work/a.txt"); rows=$(wc -l < "$work/a.txt")
	if [ "$runs" -gt 0 ] && cmp -s "$work/a.txt" "$work/b.txt"; then
		pass "$1: the merged database equals the local run's ($runs runs, $rows rows compared)"
	else
		fail "$1: the merged database differs from the local run's ($runs runs)"
		diff "$work/a.txt" "$work/b.txt" | head -n 10
	fi
}
# the array task of LIST's line matching NAME (0-based)
task_of() { grep -n " $2\$" "$1" | head -n 1 | cut -d: -f1 | awk '{ print $1 - 1 }'; }

start=$(date +%s)
cluster one ci0

# ---- examples/policies.xml through Slurm -------------------------------------------
mkdir -p "$work/exp"
cp "$ex/policies.xml" "$work/exp/policies.xml"
"$bin" run -q -j 2 --results "$work/local" "$work/exp/policies.xml" > /dev/null 2>&1 ||
	fail "the local run of policies.xml"
expect_status 0 "run --slurm policies.xml" "$bin" run --slurm --results "$work/shared" "$work/exp/policies.xml"
grep -q '^submitted job [0-9]*: 6 trace(s) to make$' "$work/out" &&
	grep -q '^submitted job(s):[0-9]*: 48 replay task(s)$' "$work/out" &&
	grep -q '^submitted job [0-9]*: the merge' "$work/out" &&
	pass "submitted: 6 trace tasks, 48 replay tasks, the merge" || { fail "submission"; cat "$work/out" "$work/err"; }
wait_jobs 120
sdir="$work/shared/out/results.slurm"
merge=$(awk '$2 == "merge" { print $3 }' "$sdir/submitted" | tail -n 1)
[ -n "$merge" ] && scontrol show job "$merge" | grep -q 'JobState=COMPLETED' && pass "the merge job completed" ||
	{ fail "merge job: $(scontrol show job "$merge" | grep -o 'JobState=[A-Z]*')"; cat "$sdir"/logs/*merge*; }
same_db "policies.xml on one node" "$work/local/out/results.db" "$work/shared/out/results.db"
[ "$(sqlite3 "$work/shared/out/results.db" "SELECT count(*) FROM runs")" = 42 ] &&
	[ -z "$(ls "$sdir/shards")" ] && pass "42 runs, each once; every shard merged and removed" ||
	fail "runs: $(sqlite3 "$work/shared/out/results.db" "SELECT count(*) FROM runs"); shards left: $(ls "$sdir/shards")"
expect_status 0 "run --status" "$bin" run --status --results "$work/shared" "$work/exp/policies.xml"
grep -q '^48 runs: 48 done, 0 waiting for the merge, 0 running, 0 pending, 0 failed' "$work/out" &&
	pass "--status: 48 done" || { fail "--status"; tail -n 3 "$work/out"; }
expect_status 0 "run --slurm again" "$bin" run --slurm --results "$work/shared" "$work/exp/policies.xml"
grep -q 'nothing to submit: all 48 runs are in' "$work/out" && [ -z "$(squeue -h -o %i)" ] &&
	pass "a second --slurm submits nothing" || { fail "second --slurm"; cat "$work/out"; }
# the local run's cache finds the merged runs (the same key)
"$bin" run -j 2 --results "$work/shared" "$work/exp/policies.xml" > "$work/out" 2>&1
grep -q '; 0 replayed, 42 cached, 6 shared$' "$work/out" &&
	pass "a local run on the merged database: everything cached" || { fail "local run after merge"; tail -n 2 "$work/out"; }
# a core built differently is not served these results
"$top_builddir/tests/shadowvt-broken" run --slurm --results "$work/shared" "$work/exp/policies.xml" > "$work/out" 2>&1
grep -q ': 42 replay task(s)$' "$work/out" && pass "another build (shadowvt-broken) resubmits every run" ||
	{ fail "another build: $(cat "$work/out")"; }
for j in $(awk '{ print $3 }' "$sdir/submitted" | tail -n 3); do scancel "$j"; done
wait_jobs 30
echo "# one-node part: $(( $(date +%s) - start )) s"

# ---- a task killed halfway --------------------------------------------------------------
cat > "$work/exp/kill.xml" <<'EOF'
<?xml version="1.0"?>
<experiment xmlns="urn:shadowvt:experiment:1" name="kill">
  <results db="out/kill.db" traces="out/traces"/>
  <audit level="periodic"/>
  <execution time="10" array-max="4"/>
  <synth name="fork" workload="fork" mode="4level" events="20000" seed="1"/>
  <synth name="big" workload="mix" mode="4level" events="2000000" seed="9"/>
  <policies><recorded/><policy name="off">oos=0,prefetch=0,emulate=0,early=0</policy>
    <policy name="unshadow">emulate=0</policy></policies>
</experiment>
EOF
"$bin" run -q -j 2 --results "$work/local" "$work/exp/kill.xml" > /dev/null 2>&1 || fail "the local run of kill.xml"
expect_status 0 "run --slurm kill.xml" "$bin" run --slurm --results "$work/k" "$work/exp/kill.xml"
kdir="$work/k/out/kill.slurm"
list=$(ls "$kdir"/lists/*-replay-0.list)
rjob=$(awk '$2 == "replay" { print $3 }' "$kdir/submitted")
mjob=$(awk '$2 == "merge" { print $3 }' "$kdir/submitted")
idx=$(task_of "$list" "big@recorded")
t=0
while ! squeue -h -r -o '%i %T' | grep -q "^${rjob}_$idx RUNNING"; do
	t=$((t + 1)); [ $t -gt 600 ] && break; sleep 0.1
done
sleep 0.5
scancel "${rjob}_$idx"
wait_jobs 90
[ -n "$rjob" ] && [ -n "$idx" ] && scontrol show job "${rjob}_$idx" | grep -q 'JobState=CANCELLED' && [ ! -e "$kdir/shards/big@recorded.db" ] &&
	grep -q '^big under recorded: incomplete, [0-9]* events, .*, not stored$' "$kdir/logs/kill-replay-${rjob}_$idx.out" &&
	grep -q '^  interrupted at event [0-9]' "$kdir/logs/kill-replay-${rjob}_$idx.out" &&
	pass "big under recorded cancelled halfway through its replay: no shard" ||
	fail "the task was not cancelled mid-replay: $(scontrol show job "${rjob}_$idx" | grep -o 'JobState=[A-Z]*'); $(cat "$kdir"/logs/*"_$idx.out")"
[ -n "$mjob" ] && scontrol show job "$mjob" | grep -q 'JobState=CANCELLED' && pass "the merge was cancelled (its dependency failed)" ||
	fail "merge after a failed task: $(scontrol show job "$mjob" | grep -o 'JobState=[A-Z]*')"
[ -n "$rjob" ] && [ ! -e "$work/k/out/kill.db" ] || [ "$(sqlite3 "$work/k/out/kill.db" "SELECT count(*) FROM runs WHERE policy LIKE 'oos=2%' AND trace LIKE '%big.svt'")" = 0 ] &&
	pass "no row of the killed run" || fail "a row of the killed run: $(sqlite3 "$work/k/out/kill.db" "SELECT * FROM runs")"
expect_status 0 "run --status after the kill" "$bin" run --status --results "$work/k" "$work/exp/kill.xml"
grep -q '^big  *recorded  *failed (log: ' "$work/out" && grep -q ', 5 waiting for the merge, 0 running, 0 pending, 1 failed,' "$work/out" &&
	pass "--status: 5 waiting for the merge, big under recorded failed, with its log" || { fail "--status after kill"; cat "$work/out"; }
expect_status 0 "run --slurm after the kill" "$bin" run --slurm --results "$work/k" "$work/exp/kill.xml"
grep -q ': 1 replay task(s)$' "$work/out" && ! grep -q 'trace(s) to make' "$work/out" &&
	pass "the re-submission replays only the killed run" || { fail "re-submission"; cat "$work/out"; }
wait_jobs 120
same_db "kill.xml after a killed task" "$work/local/out/kill.db" "$work/k/out/kill.db"
stop_daemons
echo "# kill part: $(( $(date +%s) - start )) s"

# ---- two nodes: a larger sweep, and the merge killed halfway --------------------------
cluster two ci1 ci2
cat > "$work/exp/sweep.xml" <<'EOF'
<?xml version="1.0"?>
<experiment xmlns="urn:shadowvt:experiment:1" name="sweep">
  <results db="out/sweep.db" traces="out/traces"/>
  <audit level="periodic"/>
  <synth name="fork" workload="fork" mode="4level" events="20000" seed="4"/>
  <synth name="mmap" workload="mmap" mode="pae" events="20000" seed="5"/>
  <synth name="mix" workload="mix" mode="4level" events="20000" seed="6"/>
  <policies><recorded/><sweep oos="0 1 2 4" prefetch="0 4 8" emulate="0 1"/></policies>
</experiment>
EOF
"$bin" run -q -j 2 --results "$work/local" "$work/exp/sweep.xml" > /dev/null 2>&1 || fail "the local run of sweep.xml"
n=$("$bin" run --check "$work/exp/sweep.xml" | sed -n 's/^runs: .* = //p')
expect_status 0 "run --slurm sweep.xml (two nodes)" "$bin" run --slurm --results "$work/s" "$work/exp/sweep.xml"
wait_jobs 150
sw="$work/s/out/sweep.slurm"
rjob=$(awk '$2 == "replay" { print $3 }' "$sw/submitted")
nodes=$(scontrol -o show job "$rjob" | grep -o 'BatchHost=[a-z0-9]*' | sort -u | tr '\n' ' ')
case "$nodes" in *ci1*ci2*) pass "replay tasks ran on both nodes ($nodes)" ;; *) fail "tasks ran on: $nodes" ;; esac
same_db "sweep.xml ($n runs) on two nodes" "$work/local/out/sweep.db" "$work/s/out/sweep.db"

# the merge killed halfway: a second copy of the sweep, its merge held until
# the replays are done; one shard in the middle of the merge order (mix under
# recorded) swapped for a FIFO, so that the merge, released, folds in the
# shards before it, then waits opening that one: killed there, for certain
expect_status 0 "run --slurm sweep.xml again, elsewhere" "$bin" run --slurm --results "$work/m" "$work/exp/sweep.xml"
mdb="$work/m/out/sweep.db"
msh="$work/m/out/sweep.slurm/shards"
mjob=$(awk '$2 == "merge" { print $3 }' "$work/m/out/sweep.slurm/submitted")
scontrol hold "$mjob"
t=0
while [ "$(squeue -h -o %i | wc -l)" -gt 1 ] && [ $t -lt 750 ]; do t=$((t + 1)); sleep 0.2; done
mv "$msh/mix@recorded.db" "$work/mix@recorded.db" && mkfifo "$msh/mix@recorded.db"
scontrol release "$mjob"
want=$(sqlite3 "$work/local/out/sweep.db" "SELECT count(*) FROM runs")
before=$(sqlite3 "$work/local/out/sweep.db" "SELECT count(*) FROM runs WHERE trace NOT LIKE '%/mix.svt'")
t=0
while [ "$(sqlite3 "$mdb" "SELECT count(*) FROM runs" 2>/dev/null || echo 0)" != "$before" ] && [ $t -lt 300 ]; do
	t=$((t + 1)); sleep 0.1
done
sleep 0.5
scancel "$mjob"
wait_jobs 30
rm -f "$msh/mix@recorded.db"; mv "$work/mix@recorded.db" "$msh/mix@recorded.db"
got=$(sqlite3 "$mdb" "SELECT count(*) FROM runs")
[ -n "$mjob" ] && scontrol show job "$mjob" | grep -q 'JobState=CANCELLED' && [ "$got" -gt 0 ] && [ "$got" -lt "$want" ] &&
	pass "the merge killed halfway ($got of $want runs merged)" ||
	fail "the merge was not killed halfway: $(scontrol show job "$mjob" | grep -o 'JobState=[A-Z]*'), $got of $want runs"
dump_db "$mdb" > "$work/partial.txt"; dump_db "$work/local/out/sweep.db" > "$work/full.txt"
count_rows() {
	sqlite3 "$1" "SELECT trace_checksum, policy, status, (SELECT count(*) FROM timeline WHERE run = r.id),
		(SELECT count(*) FROM counters WHERE run = r.id), (SELECT count(*) FROM violations WHERE run = r.id)
		FROM runs r" | LC_ALL=C sort
}
[ -z "$(LC_ALL=C comm -23 "$work/partial.txt" "$work/full.txt")" ] &&
	[ -z "$(LC_ALL=C comm -23 "$(count_rows "$mdb" > "$work/pc"; echo "$work/pc")" "$(count_rows "$work/local/out/sweep.db" > "$work/fc"; echo "$work/fc")")" ] &&
	pass "no partial run: every merged run whole, every row as the local run has it" ||
	fail "a partial run after the killed merge: $(LC_ALL=C comm -23 "$work/pc" "$work/fc" | head -n 3)"
expect_status 0 "run --slurm after the killed merge" "$bin" run --slurm --results "$work/m" "$work/exp/sweep.xml"
! grep -q 'replay task' "$work/out" && grep -q 'submitted job [0-9]*: the merge' "$work/out" &&
	pass "the re-submission submits only the merge" || { fail "re-submission after the merge"; cat "$work/out"; }
wait_jobs 60
same_db "sweep.xml after a killed merge" "$work/local/out/sweep.db" "$mdb"
echo "# slurm test: $(( $(date +%s) - start )) s"
finish slurm
