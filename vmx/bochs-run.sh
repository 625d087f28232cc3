#!/bin/sh
# vmx/bochs-run.sh OUTDIR GUEST [HV [HV-ARGS]] — boot GUEST in Bochs from a
# GRUB ISO: natively (no HV), or as the first Multiboot module of the
# hypervisor HV, with HV-ARGS on its command line and $GUEST_ARGS on the
# guest's.
# Writes OUTDIR/console.txt (COM1, the guest's console), OUTDIR/stream.bin
# and OUTDIR/stream-lpt.bin (COM2 and LPT1: the hypervisor's live trace
# stream goes to one, as its command line says), OUTDIR/hv.txt (COM3: the
# hypervisor's log) and OUTDIR/bochs.log; exits with Bochs's
# status (124 if it ran past $BOCHS_TIMEOUT seconds, default 120).  $BOCHS_CPU
# picks the CPU model (default corei7_haswell_4770; broadwell_ult has SMAP),
# $BOCHS_MEGS the memory (default 128 MiB; above 2048, Bochs's "memory:").
set -u
out=$1 guest=$2 hv=${3:-} hvargs=${4:-}
sh "$(dirname "$0")/mkiso.sh" "$out" "$guest" "$hv" "$hvargs" || exit 125
# Bochs 2.7 takes "megs" up to 2048 only (its host allocation); above
# that, the guest's memory is given with "memory:" and Bochs pages it
# through 2048 MiB of host memory.
megs=${BOCHS_MEGS:-128}
if [ "$megs" -gt 2048 ]; then mem="memory: guest=$megs, host=2048"; else mem="megs: $megs"; fi
cat > "$out/bochsrc" <<EOB
$mem
pci: enabled=1, chipset=i440fx
cpu: model=${BOCHS_CPU:-corei7_haswell_4770}, count=1, ips=50000000, reset_on_triple_fault=0
romimage: file=/usr/share/bochs/BIOS-bochs-latest
vgaromimage: file=/usr/share/vgabios/vgabios.bin
display_library: rfb, options="timeout=0"
ata0-master: type=cdrom, path=$out/boot.iso, status=inserted
boot: cdrom
com1: enabled=1, mode=file, dev=$out/console.txt
com2: enabled=1, mode=file, dev=$out/stream.bin
parport1: enabled=1, file=$out/stream-lpt.bin
com3: enabled=1, mode=file, dev=$out/hv.txt
speaker: enabled=0
sound: waveoutdrv=dummy, waveindrv=dummy, midioutdrv=dummy
log: $out/bochs.log
panic: action=fatal
error: action=report
info: action=report
debug: action=ignore
clock: sync=none, time0=local
port_e9_hack: enabled=1
EOB
printf 'c\nquit\n' > "$out/dbg.rc"
: > "$out/console.txt"; : > "$out/hv.txt"; : > "$out/stream.bin"; : > "$out/stream-lpt.bin"
# Bochs's display (rfb: Debian builds no nogui) takes the first free port
# from 5900 as it starts; two Bochs starting in the same second can both
# pick one.  So starts are serialised: a lock held for a second from each
# start, where flock(1) exists.
lock="${TMPDIR:-/tmp}/shadowvt-bochs-start.lock"
havelock=false
if command -v flock >/dev/null 2>&1 && exec 9>>"$lock"; then
	flock 9 && havelock=true
fi
TERM=${TERM:-dumb} timeout "${BOCHS_TIMEOUT:-120}" bochs -q -f "$out/bochsrc" -rc "$out/dbg.rc" \
	</dev/null >"$out/bochs.out" 2>&1 9>&- &
pid=$!
if $havelock; then
	sleep 1
	flock -u 9
	exec 9>&-
fi
wait "$pid"
