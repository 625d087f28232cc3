#!/bin/sh
# Replay catches the hypervisor's own differences from bare metal on the
# traces they make.  long64 (its CPUID lines, its faults) is recorded in
# Bochs under the real hypervisor and under builds with a seeded
# hypervisor bug (vmx/hv.h, HV_BROKEN): the real one's trace holds CPU
# records (EVIDENCE `cpu`) and replays clean; each broken one's is
# reported as INV-CPU, naming the rule, though its core decisions are all
# right (no INV-REPLAY, no other invariant).
#   1: CPUID.OSXSAVE and OSPKE show the hypervisor's CR4, not the guest's
#   2: injected faults leave RFLAGS.RF clear
# And one the trace cannot show, caught by the end of the hypervisor's
# log as tests/live-guests.sh reads it (testlib.sh's pat_worlds):
#   3: a VM exit leaves the guest's IA32_PAT in place of the hypervisor's
set -u
. "$top_srcdir/tests/testlib.sh"
need bochs grub-mkrescue xorriso
bin=$top_builddir/shadowvt
elf=$top_builddir/guests/long64.elf

# record NAME HV_ELF: long64 under that hypervisor into $work/NAME.svt
record() {
	mkdir -p "$work/$1-vmx"
	cp "$2" "$work/$1-vmx/hv.elf"
	for s in bochs-run.sh mkiso.sh; do ln -sf "$top_srcdir/vmx/$s" "$work/$1-vmx/$s"; done
	BOCHS_CPU=tigerlake SHADOWVT_VMX="$work/$1-vmx" "$bin" record --guest "$elf" --timeout 120 \
		--policy oos=0 -o "$work/$1.svt" > "$work/$1.rec" 2>&1
	rc=$?
	[ "$rc" -eq 0 ] && grep -q 'the guest powered off' "$work/$1.rec" &&
		pass "$1: long64 recorded to its end" ||
		{ fail "$1: record exit $rc"; tail -n 5 "$work/$1.rec"; }
}

record real "$top_builddir/vmx/hv.elf"
"$bin" info --json "$work/real.svt" > "$work/info" 2>&1
jq -e '(.evidence | index("cpu")) and (.evidence | index("mode")) and .counts.CPU > 0' \
	"$work/info" > /dev/null &&
	pass "real: the trace claims and holds CPU records ($(jq .counts.CPU "$work/info"))" ||
	{ fail "real: no CPU records"; cat "$work/info"; }
"$bin" replay --audit full "$work/real.svt" > "$work/real.rep" 2>&1 &&
	grep -q ': clean: ' "$work/real.rep" && pass "real: replays clean with full audits" ||
	{ fail "real: replay"; head -n 5 "$work/real.rep"; }

# Clearing CR0.PG in 64-bit mode (long64 tries it): the core refuses it
# from the mode the hypervisor passes and logs (EVIDENCE `mode`), the guest
# gets the #GP; a core that accepts it (seeded core bug 75) replayed over
# that trace is INV-CR by the control-register model.
grep -q '^guest: cpu: CR0.PG cleared in 64-bit mode: #GP RF 0x1' "$work/real.svt.console" &&
	pass "real: clearing CR0.PG in 64-bit mode is #GP, RF set" ||
	{ fail "real: the CR0.PG probe"; grep 'CR0.PG' "$work/real.svt.console"; }
SVT_BROKEN=75 "$top_builddir/tests/shadowvt-broken" replay --show 5 "$work/real.svt" \
	> "$work/b75.rep" 2>&1
rc=$?
[ "$rc" -eq 1 ] && grep -q ': INV-CR .*the core accepted it; the SDM raises #GP: CR0.PG cleared in 64-bit mode' \
	"$work/b75.rep" && pass "core bug 75 over that trace: INV-CR" ||
	{ fail "core bug 75: replay exit $rc"; head -n 5 "$work/b75.rep"; }

# broken N PATTERN: the trace of hv-broken-N is INV-CPU matching PATTERN, nothing else
broken() {
	record "broken-$1" "$top_builddir/vmx/hv-broken-$1.elf"
	"$bin" replay --show 20 "$work/broken-$1.svt" > "$work/broken-$1.rep" 2>&1
	rc=$?
	other=$(grep -o ': INV-[A-Z]*' "$work/broken-$1.rep" | sort -u | grep -vx ': INV-CPU')
	[ "$rc" -eq 1 ] && grep -Eq ": INV-CPU .*$2" "$work/broken-$1.rep" && [ -z "$other" ] &&
		pass "broken-$1: INV-CPU, $3" ||
		{ fail "broken-$1: replay exit $rc, other: '$other'"; head -n 5 "$work/broken-$1.rep"; }
}
broken 1 'CPUID.0x1:ECX\[27\] is 1: OSXSAVE must be CR4.OSXSAVE, which is 0' \
	"CPUID.OSXSAVE not the guest's CR4"
broken 2 '#PF delivered with RFLAGS 0x[0-9a-f]*: RF clear' "a #PF delivered without RF"

# 3: paging-pae sets its own IA32_PAT; under hv-broken-3 it sees what it
# wrote (its console is bare metal's), but the hypervisor runs on with
# the guest's PAT: the end of hv.txt says so, and live-guests' check
# (the hypervisor's PAT as it started) fails on it
mkdir -p "$work/broken-3-vmx"
cp "$top_builddir/vmx/hv-broken-3.elf" "$work/broken-3-vmx/hv.elf"
for s in bochs-run.sh mkiso.sh; do ln -sf "$top_srcdir/vmx/$s" "$work/broken-3-vmx/$s"; done
SHADOWVT_VMX="$work/broken-3-vmx" "$bin" record --guest "$top_builddir/guests/paging-pae.elf" \
	--timeout 120 --keep "$work/broken-3-run" -o "$work/broken-3.svt" > "$work/broken-3.rec" 2>&1
rc=$?
read -r gpat hpat hpat0 <<EOP
$(pat_worlds "$work/broken-3-run/hv.txt")
EOP
[ "$rc" -eq 0 ] && grep -q '^guest: IA32_PAT, low half 0x00070106' "$work/broken-3.svt.console" &&
	[ "$gpat" = 0x0007040600070106 ] && [ "$hpat" = "$gpat" ] && [ -n "$hpat0" ] &&
	[ "$hpat0" != "$hpat" ] &&
	pass "broken-3: the hypervisor's IA32_PAT is the guest's ($hpat, from $hpat0): caught" ||
	{ fail "broken-3: record exit $rc, PAT '$gpat' '$hpat' '$hpat0'"
	  grep 'IA32_PAT' "$work/broken-3-run/hv.txt" "$work/broken-3.svt.console"; }

finish hv-broken
