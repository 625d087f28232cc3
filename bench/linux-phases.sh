#!/bin/sh
# bench/linux-phases.sh NATIVE-CONSOLE HV-LOG — the Linux workload's figures
# per phase, from a native run's console (its "shadowvt-mark NAME tsc=T"
# lines) and the hypervisor's log of a run under it ("hv: phase NAME: T
# ticks; exits: R=N ...; exit ticks: R=T ..."), both counted in Bochs
# ticks (instructions; clock sync=none).  For each phase:
#   native M   ticks natively, from its mark to the next
#   hv M       ticks under the hypervisor (the hypervisor's own phase line,
#              which leaves out the printing of these lines)
#   ratio      hv / native: the overhead of shadow paging and recording
#   exits      VM exits, by class (0 #PF, 10 CPUID, 14 INVLPG, 28 CR
#              access, 30 I/O, 58 INVPCID), and per million guest
#              instructions (ticks under the hypervisor less the
#              hypervisor's own ticks per exit)
#   ticks/exit the hypervisor's ticks from an exit to the next entry
# Used by tests/linux-guest.sh (make check-linux) and bench/linux.sh.
set -u
native=$1 hv=$2
{ sed -n 's/^shadowvt-mark \([^ ]*\) tsc=\([0-9]*\).*/N \1 \2/p' "$native" | tr -d '\r'
  sed -n 's/^hv: phase \([^:]*\): \([0-9]*\) ticks; exits: \([^;]*\); exit ticks: \([^;]*\).*/H \1 \2 \3 X \4/p' "$hv"; } |
awk '$1 == "N" { if (prev != "") nat[prev] = $3 - pt; prev = $2; pt = $3; next }
     $1 == "H" { name = $2; t = $3; ex = ""; n = 0; xt = 0; inx = 0
		 for (i = 4; i <= NF; i++) { if ($i == "X") { inx = 1; continue }
		   split($i, a, "="); if (inx) xt += a[2]; else { n += a[2]; ex = ex " " $i } }
		 if (!(name in nat)) next
		 if (!hdr++) printf "%-10s %9s %9s %7s %8s %9s %10s  %s\n", "phase", "native M", "hv M",
			"ratio", "exits", "exits/M", "ticks/exit", "exits by class"
		 printf "%-10s %9.1f %9.1f %6.2fx %8d %9.0f %10.0f  %s\n", name, nat[name] / 1e6, t / 1e6,
			t / nat[name], n, n / ((t - xt) / 1e6), n ? xt / n : 0, substr(ex, 2) }'
