#!/bin/sh
# The guest loader's parity with GRUB (docs/hypervisor.md, "The guest
# loader"): the Multiboot-format guests (guests/mbinfo.c) as an ELF64
# Multiboot kernel and as ELF32 and ELF64 Multiboot2 kernels, each with a
# command line and two modules, boot in Bochs natively through GRUB
# (`multiboot`/`multiboot2`, `module`/`module2`) and under the hypervisor
# (`shadowvt record --guest --guest-args --module`), and must print the
# same console: the boot magic, the command line, each module's command
# line, size, alignment and bytes, the memory information and map, and
# (Multiboot2) the ACPI RSDP tag.  Then a guest whose segment lies above
# guest RAM: record's check passes it (RAM is the machine's), and the
# hypervisor refuses it with a message before anything runs.
set -u
. "$top_srcdir/tests/testlib.sh"
need bochs grub-mkrescue xorriso grub-file
run="$top_srcdir/vmx/bochs-run.sh"
printf 'module zero: hello from a module\n' > "$work/m0.txt"
printf 'second\001module' > "$work/m1.bin"
args='alpha beta=2'
for g in mb1-elf64 mb2-elf32 mb2-elf64; do
	elf="$top_builddir/guests/$g.elf"
	case $g in
	mb1-*) magic=0x2badb002 how='Multiboot (ELF64)' ;;
	mb2-elf32) magic=0x36d76289 how='Multiboot2 (ELF32)' ;;
	mb2-elf64) magic=0x36d76289 how='Multiboot2 (ELF64)' ;;
	esac
	GUEST_ARGS=$args GUEST_MODULES="$work/m0.txt
$work/m1.bin" BOCHS_TIMEOUT=120 sh "$run" "$work/$g-native" "$elf"; rc=$?
	c="$work/$g-native/console.txt"
	[ "$rc" -ne 124 ] && grep -q '^guest: done' "$c" && grep -q "^guest: hello, magic $magic" "$c" &&
		grep -q "^guest: command line '$args'" "$c" &&
		grep -q "^guest: module 0 'm0.txt' 33 bytes, page-aligned yes: 'module zero: hello from a module.'" "$c" &&
		grep -q "^guest: module 1 'm1.bin' 13 bytes, page-aligned yes: 'second.module'" "$c" &&
		grep -q '^guest: memory map given, RAM at 1 MiB' "$c" &&
		pass "$g natively through GRUB: magic, command line, both modules, memory map" ||
		{ fail "$g natively (Bochs exit $rc)"; cat "$c"; tail -n 5 "$work/$g-native/bochs.out"; }
	case $g in mb2-*)
		grep -q "^guest: ACPI RSDP tag 1[45]: 'RSD PTR ' checksum ok" "$c" &&
			pass "$g natively: GRUB gave the ACPI RSDP" || fail "$g natively: no ACPI RSDP tag" ;;
	esac
	SHADOWVT_VMX= "$top_builddir/shadowvt" record --guest "$elf" --guest-args "$args" \
		--module "$work/m0.txt" --module "$work/m1.bin" --timeout 120 --keep "$work/$g-hv" \
		-o "$work/$g.svt" > "$work/rec" 2>&1; rc=$?
	[ "$rc" -eq 0 ] && grep -q 'the guest powered off' "$work/rec" &&
		grep -q "^hv: guest loaded by $how, 1 segment, 2 modules" "$work/$g-hv/hv.txt" &&
		pass "$g under the hypervisor: loaded by $how with 2 modules, recorded completely" ||
		{ fail "$g under the hypervisor (record exit $rc)"; cat "$work/rec"; tail -n 5 "$work/$g-hv/hv.txt"; }
	cmp -s "$c" "$work/$g.svt.console" &&
		pass "$g: the same console output natively and under the hypervisor" ||
		{ fail "$g: console differs"; diff "$c" "$work/$g.svt.console"; }
	"$top_builddir/shadowvt" replay --audit full "$work/$g.svt" > "$work/rep" 2>&1 &&
		grep -q ': clean: ' "$work/rep" && pass "$g: its trace replays clean with full audits" ||
		{ fail "$g: replay"; head -n 20 "$work/rep"; }
done

# mb2-elf32 with its one segment's p_paddr (ELF32: program header at 52,
# p_paddr at 64) moved to 0xf0000000: well-formed, but not guest RAM
elf="$top_builddir/guests/mb2-elf32.elf"
{ head -c 64 "$elf"; printf '\000\000\000\360'; tail -c +69 "$elf"; } > "$work/high.elf"
SHADOWVT_VMX= "$top_builddir/shadowvt" record --guest "$work/high.elf" --timeout 120 \
	--keep "$work/high-hv" -o "$work/high.svt" > "$work/rec" 2>&1; rc=$?
grep -q '^hv: the guest loads 0xf0000000\.\.0xf000[0-9a-f]*, not guest RAM' "$work/high-hv/hv.txt" &&
	[ "$rc" -eq 3 ] && [ ! -e "$work/high.svt" ] &&
	grep -q "the hypervisor's last words: hv: the guest loads 0xf0000000" "$work/rec" &&
	pass "a guest loading above its RAM: the hypervisor refuses it, record says why (exit 3), no trace" ||
	{ fail "a guest loading above its RAM (record exit $rc)"; cat "$work/rec"; cat "$work/high-hv/hv.txt"; }
finish loader-guests
