#!/bin/sh
# Every shipped guest (guests/) boots in Bochs twice: natively, and under
# the hypervisor (vmx/hv.elf) with the shadow MMU core doing all its
# translation.  The guest's console (COM1) must be the same both times,
# end with "guest: done", and the hypervisor must report a clean power-off.
set -u
. "$top_srcdir/tests/testlib.sh"
need bochs grub-mkrescue xorriso
run="$top_srcdir/vmx/bochs-run.sh"
hv="$top_builddir/vmx/hv.elf"
for g in hello; do
	elf="$top_builddir/guests/$g.elf"
	BOCHS_TIMEOUT=120 sh "$run" "$work/$g-native" "$elf"; rc=$?
	[ "$rc" -ne 124 ] && grep -q '^guest: done' "$work/$g-native/console.txt" &&
		pass "$g runs natively in Bochs" ||
		{ fail "$g natively (Bochs exit $rc)"; tail -n 5 "$work/$g-native/console.txt" "$work/$g-native/bochs.out"; }
	sleep 1         # two Bochs started in the same second race for the RFB port
	BOCHS_TIMEOUT=120 sh "$run" "$work/$g-hv" "$elf" "$hv"; rc=$?
	[ "$rc" -ne 124 ] && grep -q '^hv: the guest powered off' "$work/$g-hv/hv.txt" &&
		pass "$g runs under the hypervisor and powers off" ||
		{ fail "$g under the hypervisor (Bochs exit $rc)"; tail -n 20 "$work/$g-hv/hv.txt"; }
	cmp -s "$work/$g-native/console.txt" "$work/$g-hv/console.txt" &&
		pass "$g: the same console output natively and under the hypervisor" ||
		{ fail "$g: console differs"; diff "$work/$g-native/console.txt" "$work/$g-hv/console.txt"; }
	grep '^hv: exits:' "$work/$g-hv/hv.txt" | sed 's/^/# /'
done
finish live-guests
