#!/bin/sh
# The hypervisor's profile build (vmx/hv-prof.elf: -DSVT_HV_PROF,
# HACKING.md) keeps building, runs a guest to its end, and its profile
# accounts for the exits the hypervisor counts apart: per kind of exit
# ("hv: kind pf", "kind cr3", "kind other") against "hv: exits" and the
# CR3 loads, and the #PF exits by answer and access ("hv: kind pf
# fixed.read" and so on) against "hv: #PF exits by answer".  The guest is
# paging-pae (faults fixed and injected, CR3 loads, INVLPG).
set -u
. "$top_srcdir/tests/testlib.sh"
need bochs grub-mkrescue xorriso
bin=$top_builddir/shadowvt
mkdir -p "$work/vmx"
cp "$top_builddir/vmx/hv-prof.elf" "$work/vmx/hv.elf"
for s in bochs-run.sh mkiso.sh; do ln -sf "$top_srcdir/vmx/$s" "$work/vmx/$s"; done
SHADOWVT_VMX="$work/vmx" "$bin" record --guest "$top_builddir/guests/paging-pae.elf" --timeout 120 \
	--keep "$work/run" -o "$work/t.svt" > "$work/rec" 2>&1
rc=$?
[ "$rc" -eq 0 ] && grep -q 'the guest powered off' "$work/rec" &&
	pass "paging-pae runs to its end under the profile build" ||
	{ fail "record exit $rc"; tail -n 5 "$work/rec"; finish hv-prof; exit 1; }
tr -d '\r' < "$work/run/hv.txt" > "$work/hv.txt"
"$bin" replay --audit full "$work/t.svt" > "$work/rep" 2>&1 && grep -q ': clean: ' "$work/rep" &&
	pass "its trace replays clean with full audits" || { fail "replay"; head -n 5 "$work/rep"; }

# kind NAME: the exits the profile counts for kind NAME ("pf", "cr3", "pf fixed.read" ...)
kind() { sed -n "s/^hv: kind $1: \([0-9]*\) exits, .*/\1/p" "$work/hv.txt"; }
total=$(sed -n 's/^hv: exits://p' "$work/hv.txt" | tr ' ' '\n' | sed -n 's/^[0-9]*=//p' |
	awk '{ s += $1 } END { print s + 0 }')
npf=$(sed -n 's/^hv: exits:.* 0=\([0-9]*\).*/\1/p' "$work/hv.txt")
ncr3=$(sed -n 's/^hv: page-table writes emulated: .*; CR3 loads: \([0-9]*\) exits.*/\1/p' "$work/hv.txt")
kpf=$(kind pf) kcr3=$(kind cr3) kother=$(kind other)
[ -n "$npf" ] && [ "$npf" -gt 0 ] && [ "$kpf" = "$npf" ] && [ -n "$ncr3" ] && [ "$ncr3" -gt 0 ] &&
	[ "$kcr3" = "$ncr3" ] &&
	pass "the profile's #PF and CR3-load exits ($kpf, $kcr3) are the hypervisor's counts" ||
	fail "#PF exits: profile '$kpf', counted '$npf'; CR3 loads: profile '$kcr3', counted '$ncr3'"
# every exit is in one kind, but the last: the power-off's ends the run first
[ -n "$kother" ] && [ $((kpf + kcr3 + kother + 1)) -eq "$total" ] &&
	pass "the three kinds hold every exit but the power-off's ($kpf + $kcr3 + $kother + 1 = $total)" ||
	fail "kinds $kpf + $kcr3 + ${kother:-?} + 1 against $total exits"
# the #PF exits by answer and access: the profile's and the hypervisor's own line
sed -n 's/^hv: #PF exits by answer (exits, ticks)://p' "$work/hv.txt" | tr ';' '\n' |
	awk 'NF == 3 { print $1, $2 }' > "$work/answers"
ok=true n=0 sum=0
while read -r cell count; do
	n=$((n + 1)) sum=$((sum + count))
	[ "$(kind "pf $cell")" = "$count" ] || { ok=false; echo "# $cell: counted $count, profile '$(kind "pf $cell")'"; }
done < "$work/answers"
cells=$(grep -c '^hv: kind pf [a-z]*\.[a-z]*: ' "$work/hv.txt")
$ok && [ "$n" -ge 2 ] && [ "$cells" -eq "$n" ] && [ "$sum" -eq "$npf" ] &&
	pass "the profile's #PF exits by answer and access are the hypervisor's ($n kinds, $sum exits)" ||
	fail "by answer: $n counted kinds adding to $sum of $npf, $cells in the profile"
finish hv-prof
