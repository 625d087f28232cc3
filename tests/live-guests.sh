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
for g in hello paging-2level paging-pae paging-4level perm; do
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

# The hostile guest: the same output natively and under the hypervisor up
# to "contained part next"; then it reads memory above its RAM, and the
# hypervisor must stop it there with a verdict; its trace replays clean
# (periodic audits: it keeps 2100 page tables in a pool of 2048).
g=hostile
elf="$top_builddir/guests/$g.elf"
BOCHS_TIMEOUT=120 sh "$run" "$work/$g-native" "$elf"
grep -q '^guest: done' "$work/$g-native/console.txt" && pass "hostile runs natively" ||
	{ fail "hostile natively"; tail -n 5 "$work/$g-native/console.txt"; }
sleep 1
"$top_builddir/shadowvt" record --guest "$elf" --timeout 120 --keep "$work/$g-hv" -o "$work/$g.svt" \
	> "$work/rec" 2>&1; rc=$?
[ "$rc" -eq 1 ] && grep -q 'the guest touched memory outside its RAM: stopped' "$work/rec" &&
	grep -q '^hv: access to gpa 0x6400000' "$work/$g-hv/hv.txt" &&
	pass "hostile: stopped at its access above its RAM, with a verdict" ||
	{ fail "hostile under the hypervisor (record exit $rc)"; cat "$work/rec"; tail -n 5 "$work/$g-hv/hv.txt"; }
sed '/^guest: contained part next/q' "$work/$g-native/console.txt" > "$work/native-part"
cmp -s "$work/native-part" "$work/$g.svt.console" &&
	pass "hostile: the same console output up to the contained part" ||
	{ fail "hostile: console differs"; diff "$work/native-part" "$work/$g.svt.console"; }
"$top_builddir/shadowvt" replay --audit periodic "$work/$g.svt" > "$work/rep" 2>&1 &&
	pass "hostile: its trace replays clean" || { fail "hostile: replay"; head -n 20 "$work/rep"; }
sed 's/^/# /' "$work/rec"
finish live-guests
