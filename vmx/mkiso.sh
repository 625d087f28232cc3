#!/bin/sh
# vmx/mkiso.sh OUTDIR GUEST [HV [HV-ARGS]] — the GRUB boot ISO that
# vmx/bochs-run.sh and vmx/qemu-run.sh boot: GUEST as the Multiboot kernel
# (natively, no HV), or HV as the kernel with GUEST as its first module,
# HV-ARGS on the hypervisor's command line and $GUEST_ARGS on the guest's;
# $GUEST_INITRD, if set, is the hypervisor's second module (a Linux
# guest's initrd).  GUEST may be a Linux bzImage natively (GRUB's `linux`
# and `initrd`, when $GUEST_LINUX is set).
# Writes OUTDIR/boot.iso; exits 125 if grub-mkrescue fails.
set -u
out=$1 guest=$2 hv=${3:-} hvargs=${4:-}
mkdir -p "$out/iso/boot/grub"
cp "$guest" "$out/iso/boot/guest.elf"
initrd=
if [ -n "${GUEST_INITRD:-}" ]; then
	cp "$GUEST_INITRD" "$out/iso/boot/initrd.img"
	initrd=" module /boot/initrd.img initrd\n"
fi
if [ -n "$hv" ]; then
	cp "$hv" "$out/iso/boot/hv.elf"
	printf 'set timeout=0\nset default=0\nmenuentry hv {\n multiboot /boot/hv.elf %s\n module /boot/guest.elf %s\n'"$initrd"' boot\n}\n' \
		"$hvargs" "$(basename "$guest") ${GUEST_ARGS:-}" > "$out/iso/boot/grub/grub.cfg"
elif [ -n "${GUEST_LINUX:-}" ]; then
	printf 'set timeout=0\nset default=0\nmenuentry linux {\n linux /boot/guest.elf %s\n%s boot\n}\n' \
		"${GUEST_ARGS:-}" "${GUEST_INITRD:+ initrd /boot/initrd.img
}" > "$out/iso/boot/grub/grub.cfg"
else
	printf 'set timeout=0\nset default=0\nmenuentry native {\n multiboot /boot/guest.elf\n boot\n}\n' \
		> "$out/iso/boot/grub/grub.cfg"
fi
grub-mkrescue -o "$out/boot.iso" "$out/iso" >"$out/grub.log" 2>&1 || { cat "$out/grub.log"; exit 125; }
