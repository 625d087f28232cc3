#!/bin/sh
# Every shipped guest (guests/) boots in Bochs twice: natively, and under
# the hypervisor (vmx/hv.elf) with the shadow MMU core doing all its
# translation, recorded by `shadowvt record`.  The guest's console (COM1)
# must be the same both times and end with "guest: done"; the recording
# must be complete (the guest powered off, nothing lost) and replay with
# full audits, zero divergences and zero violations.
set -u
. "$top_srcdir/tests/testlib.sh"
need bochs grub-mkrescue xorriso
run="$top_srcdir/vmx/bochs-run.sh"
hv="$top_builddir/vmx/hv.elf"
for g in hello paging-2level paging-pae paging-4level; do
	elf="$top_builddir/guests/$g.elf"
	BOCHS_TIMEOUT=120 sh "$run" "$work/$g-native" "$elf"; rc=$?
	[ "$rc" -ne 124 ] && grep -q '^guest: done' "$work/$g-native/console.txt" &&
		pass "$g runs natively in Bochs" ||
		{ fail "$g natively (Bochs exit $rc)"; tail -n 5 "$work/$g-native/console.txt" "$work/$g-native/bochs.out"; }
	sleep 1         # two Bochs started in the same second race for the RFB port
	SHADOWVT_VMX= "$top_builddir/shadowvt" record --guest "$elf" --timeout 120 \
		--keep "$work/$g-hv" -o "$work/$g.svt" > "$work/rec" 2>&1; rc=$?
	[ "$rc" -eq 0 ] && grep -q 'the guest powered off' "$work/rec" &&
		pass "$g runs under the hypervisor, recorded completely" ||
		{ fail "$g under the hypervisor (record exit $rc)"; cat "$work/rec"; tail -n 20 "$work/$g-hv/hv.txt"; }
	cmp -s "$work/$g-native/console.txt" "$work/$g.svt.console" &&
		pass "$g: the same console output natively and under the hypervisor" ||
		{ fail "$g: console differs"; diff "$work/$g-native/console.txt" "$work/$g.svt.console"; }
	"$top_builddir/shadowvt" replay --audit full "$work/$g.svt" > "$work/rep" 2>&1 &&
		grep -q ': clean: ' "$work/rep" && pass "$g: its trace replays clean with full audits" ||
		{ fail "$g: replay"; head -n 20 "$work/rep"; }
	sed 's/^/# /' "$work/rec"
	grep '^hv: exits:' "$work/$g-hv/hv.txt" | sed 's/^/# /'
	sleep 1
done
finish live-guests
