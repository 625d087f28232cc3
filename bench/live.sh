#!/bin/sh
# bench/live.sh [SRCDIR [BUILDDIR]] — `make bench-live`: every shipped guest in Bochs, natively
# and under the hypervisor.  Bochs counts instructions deterministically
# (its tick counter, clock sync=none); the boot (BIOS, GRUB, and for the
# hypervisor its start) is measured with guests/null.elf and subtracted, so
# the figures are the guest's own run:
#   native M    guest instructions natively (millions of ticks)
#   hv M        the same guest under the hypervisor
#   ratio       hv / native: the overhead of shadow paging + recording
#   exits       VM exits (all classes), and per million guest instructions
#   ticks/exit  (hv - native) / exits: hypervisor instructions per exit
set -u
src=${1:-.} top=${2:-.}
run="$src/vmx/bochs-run.sh"
work=$(mktemp -d); trap 'rm -rf "$work"' EXIT
ticks() { tail -n 1 "$1/bochs.log" | sed 's/^0*\([0-9][0-9]*\)[a-z].*/\1/'; }
boot() { # guest hv-or-empty -> ticks
	sh "$run" "$work/b" "$1" $2 >/dev/null 2>&1
	ticks "$work/b"
	sleep 1
}
n0=$(boot "$top/guests/null.elf" "")
h0=$(boot "$top/guests/null.elf" "$top/vmx/hv.elf")
echo "boot: native $n0 ticks, under the hypervisor $h0 ticks (subtracted below)"
printf '%-14s %9s %9s %7s %7s %11s %11s\n' guest "native M" "hv M" ratio exits "exits/M" "ticks/exit"
for g in hello paging-2level paging-pae paging-4level perm hostile; do
	n=$(boot "$top/guests/$g.elf" "")
	sh "$run" "$work/h" "$top/guests/$g.elf" "$top/vmx/hv.elf" >/dev/null 2>&1
	h=$(ticks "$work/h")
	exits=$(sed -n 's/^hv: exits://p' "$work/h/hv.txt" | tr ' ' '\n' | sed -n 's/^[0-9]*=//p' | awk '{s += $1} END {print s + 0}')
	sleep 1
	awk -v g="$g" -v n="$n" -v h="$h" -v n0="$n0" -v h0="$h0" -v e="$exits" 'BEGIN {
		gn = n - n0; gh = h - h0; if (gn < 1) gn = 1;
		printf "%-14s %9.2f %9.2f %7.1f %7d %11.0f %11.0f\n", g, gn / 1e6, gh / 1e6, gh / gn, e,
		       e / (gn / 1e6), e ? (gh - gn) / e : 0 }'
done
echo "(hostile stops at its access above its RAM under the hypervisor: its hv figure covers less work)"
