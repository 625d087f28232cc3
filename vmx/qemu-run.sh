#!/bin/sh
# vmx/qemu-run.sh OUTDIR GUEST [HV [HV-ARGS]] — boot GUEST from the same
# GRUB ISO as vmx/bochs-run.sh, in QEMU: with KVM and the host CPU (the
# hypervisor needs VT-x: on an Intel host with nested VMX, kvm_intel
# nested=1), or with $QEMU_ACCEL=tcg for native guests only (QEMU's TCG
# does not emulate VMX).  The same files as bochs-run.sh: OUTDIR/console.txt
# (COM1), OUTDIR/stream.bin (COM2), OUTDIR/stream-lpt.bin (LPT1),
# OUTDIR/hv.txt (COM3) and OUTDIR/qemu.out; exits with QEMU's status
# (0 after the guest powers off by ACPI; 124 if it ran past
# $QEMU_TIMEOUT, else $BOCHS_TIMEOUT, seconds, default 120; 126 if KVM
# is wanted and /dev/kvm cannot be opened).
set -u
out=$1 guest=$2 hv=${3:-} hvargs=${4:-}
accel=${QEMU_ACCEL:-kvm}
if [ "$accel" = kvm ]; then
	[ -r /dev/kvm ] && [ -w /dev/kvm ] || { echo "qemu-run: /dev/kvm cannot be opened" >&2; exit 126; }
	cpu="-cpu host"              # with nested VMX on, the host model has vmx
else
	cpu="-cpu max"
fi
sh "$(dirname "$0")/mkiso.sh" "$out" "$guest" "$hv" "$hvargs" || exit 125
: > "$out/console.txt"; : > "$out/hv.txt"; : > "$out/stream.bin"; : > "$out/stream-lpt.bin"
# shellcheck disable=SC2086
timeout "${QEMU_TIMEOUT:-${BOCHS_TIMEOUT:-120}}" qemu-system-x86_64 -machine pc -accel "$accel" $cpu \
	-m "${BOCHS_MEGS:-128}" -smp 1 -display none -no-reboot -monitor none -boot d -cdrom "$out/boot.iso" \
	-serial "file:$out/console.txt" -serial "file:$out/stream.bin" -serial "file:$out/hv.txt" \
	-parallel "file:$out/stream-lpt.bin" -device isa-debug-exit,iobase=0xf4,iosize=4 \
	</dev/null >"$out/qemu.out" 2>&1
