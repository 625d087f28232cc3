# tests/slurmlib.sh — sourced by tests/slurm.sh and bench/cluster.sh: a
# Slurm cluster on this machine, in the scratch directory $work, without
# systemd (../shared/notes/slurm-on-one-machine.md has the facts).
#   start_munge              munged on a socket of its own, $work/munge/sock
#   cluster NAME NODE...     slurmctld and one slurmd per node on 127.0.0.1
#                            ($CPUS CPUs each, 2 unless set); exports SLURM_CONF
#   wait_jobs SECONDS        until the queue is empty (fail after SECONDS)
#   stop_daemons             the cluster's daemons, by their pid files
# Every daemon started is stopped by its pid on every way out (the EXIT
# trap start_munge sets).  Needs root, pass and fail (tests/testlib.sh).
pidfiles=""
stop_daemons() {
	for pf in $pidfiles; do
		[ -s "$pf" ] && kill "$(cat "$pf" 2>/dev/null)" 2>/dev/null
	done
	for pf in $pidfiles; do
		[ -s "$pf" ] || continue
		p=$(cat "$pf" 2>/dev/null); n=0
		while kill -0 "$p" 2>/dev/null && [ $n -lt 100 ]; do sleep 0.1; n=$((n + 1)); done
		kill -0 "$p" 2>/dev/null && kill -KILL "$p" 2>/dev/null
	done
	pidfiles=""
}
munge_pid="$work/munge/pid"
start_munge() {
	trap 'stop_daemons; pidfiles=$munge_pid; stop_daemons; rm -rf "$work"' EXIT
	trap 'exit 1' INT TERM HUP
	chmod 0755 "$work"
	install -d -o munge -g munge -m 0755 "$work/munge"
	runuser -u munge -- munged --socket="$work/munge/sock" --pid-file="$munge_pid" \
		--log-file="$work/munge/log" --seed-file="$work/munge/seed" \
		--key-file=/etc/munge/munge.key ||
		{ echo "FAIL - munged did not start"; cat "$work/munge/log"; exit 1; }
}

base=$((20000 + ($$ % 4000) * 8))
# cluster NAME NODES...: slurmctld and one slurmd per node, in $work/NAME
cluster() {
	c=$1; shift
	d="$work/$c"; mkdir -p "$d/state" "$d/log"
	base=$((base + 4))
	{
		cat <<EOF
ClusterName=$c
SlurmctldHost=localhost(127.0.0.1)
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket=$work/munge/sock
StateSaveLocation=$d/state
SlurmdSpoolDir=$d/spool-%n
SlurmctldPidFile=$d/slurmctld.pid
SlurmdPidFile=$d/slurmd-%n.pid
SlurmctldLogFile=$d/log/slurmctld.log
SlurmdLogFile=$d/log/slurmd-%n.log
SlurmctldPort=$base
SlurmdParameters=config_overrides
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/filetxt
JobCompLoc=$d/log/jobcomp.txt
SchedulerType=sched/backfill
SchedulerParameters=sched_interval=1,bf_interval=1,batch_sched_delay=0,sched_min_interval=0
DependencyParameters=kill_invalid_depend
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU
MpiDefault=none
MailProg=/bin/true
ReturnToService=2
MinJobAge=3600
EOF
		i=1
		for n; do
			echo "NodeName=$n NodeAddr=127.0.0.1 Port=$((base + i)) CPUs=${CPUS:-2} State=UNKNOWN"
			i=$((i + 1))
		done
		echo "PartitionName=$c Nodes=ALL Default=YES MaxTime=INFINITE State=UP"
	} > "$d/slurm.conf"
	SLURM_CONF="$d/slurm.conf"; export SLURM_CONF
	slurmctld -f "$SLURM_CONF" || { fail "slurmctld did not start"; cat "$d"/log/*; exit 1; }
	pidfiles="$pidfiles $d/slurmctld.pid"
	for n; do
		slurmd -f "$SLURM_CONF" -N "$n" || { fail "slurmd $n did not start"; cat "$d"/log/*; exit 1; }
		pidfiles="$pidfiles $d/slurmd-$n.pid"
	done
	t=0
	while [ "$(sinfo -h -N -o %T 2>/dev/null | grep -c '^idle')" -ne $# ]; do
		t=$((t + 1))
		[ $t -gt 100 ] && { fail "cluster $c: nodes not idle: $(sinfo -h -N -o '%N %T' | tr '\n' ' ')"; cat "$d"/log/*.log; exit 1; }
		sleep 0.2
	done
	pass "cluster $c: $# node(s) idle"
}

# wait_jobs SECONDS: until the queue is empty
wait_jobs() {
	t=0
	while [ -n "$(squeue -h -o %i 2>/dev/null)" ]; do
		t=$((t + 1))
		if [ $t -gt $(($1 * 5)) ]; then
			fail "jobs still queued after $1 s: $(squeue -h -o '%i %T %j' | tr '\n' ';')"
			return 1
		fi
		sleep 0.2
	done
}
