#!/bin/sh
# vmx/mkiso.sh OUTDIR GUEST [HV [HV-ARGS]] — the GRUB boot ISO that
# vmx/bochs-run.sh and vmx/qemu-run.sh boot: GUEST as the Multiboot kernel
# (natively, no HV), or HV as the kernel with GUEST as its first module,
# HV-ARGS on the hypervisor's command line and $GUEST_ARGS on the guest's;
# $GUEST_INITRD, if set, is the hypervisor's second module (a Linux
# guest's initrd).  GUEST may be a Linux bzImage natively (GRUB's `linux`
# and `initrd`, when $GUEST_LINUX is set).
# $GUEST_MODULES, if set, is a list of files, one a line: the guest's own
# Multiboot modules, each with its file's base name as its command line
# (`module /boot/modN NAME`), after GUEST (under HV) or after the kernel
# (natively).  Natively a GUEST with a Multiboot2 header (grub-file says
# which) is booted with `multiboot2` and `module2`, as the hypervisor's
# loader does (docs/hypervisor.md, "The guest loader").
# Writes OUTDIR/boot.iso; exits 125 if grub-mkrescue fails.
set -u
out=$1 guest=$2 hv=${3:-} hvargs=${4:-}
mkdir -p "$out/iso/boot/grub"
cp "$guest" "$out/iso/boot/guest.elf"
cfg="$out/iso/boot/grub/grub.cfg"
mb=multiboot mod=module
if [ -z "$hv" ] && [ -z "${GUEST_LINUX:-}" ] && grub-file --is-x86-multiboot2 "$guest" 2>/dev/null; then
	mb=multiboot2 mod=module2
fi
# the guest's modules, as grub.cfg lines in $mods
mods= i=0 nl='
'
if [ -n "${GUEST_MODULES:-}" ]; then
	set -f
	oldifs=$IFS IFS=$nl
	for m in $GUEST_MODULES; do
		cp "$m" "$out/iso/boot/mod$i" || exit 125
		mods="$mods $mod /boot/mod$i ${m##*/}$nl"
		i=$((i + 1))
	done
	IFS=$oldifs
	set +f
fi
{
	printf 'set timeout=0\nset default=0\n'
	if [ -n "$hv" ]; then
		cp "$hv" "$out/iso/boot/hv.elf"
		printf 'menuentry hv {\n multiboot /boot/hv.elf %s\n module /boot/guest.elf %s\n' \
			"$hvargs" "$(basename "$guest") ${GUEST_ARGS:-}"
		if [ -n "${GUEST_INITRD:-}" ]; then
			cp "$GUEST_INITRD" "$out/iso/boot/initrd.img"
			printf ' module /boot/initrd.img initrd\n'
		fi
		printf '%s' "$mods"
	elif [ -n "${GUEST_LINUX:-}" ]; then
		printf 'menuentry linux {\n linux /boot/guest.elf %s\n' "${GUEST_ARGS:-}"
		if [ -n "${GUEST_INITRD:-}" ]; then
			cp "$GUEST_INITRD" "$out/iso/boot/initrd.img"
			printf ' initrd /boot/initrd.img\n'
		fi
	else
		printf 'menuentry native {\n %s /boot/guest.elf %s\n' "$mb" "${GUEST_ARGS:-}"
		printf '%s' "$mods"
	fi
	printf ' boot\n}\n'
} > "$cfg"
grub-mkrescue -o "$out/boot.iso" "$out/iso" >"$out/grub.log" 2>&1 || { cat "$out/grub.log"; exit 125; }
