#!/bin/sh
# The page-table-heavy guest (guests/ptheavy.c: forks with copy-on-write,
# whole tables copied with `rep movsd` and zeroed with `rep stosd`, CR3
# reloads instead of INVLPG), for 2-level paging and PAE, boots in Bochs
# natively and under the hypervisor, recorded by `shadowvt record`.  Its
# console (fault counts and checksums) must be the same both ways, the
# recording complete, and the trace must replay with full audits, zero
# divergences and zero violations.
#
# What the core must have done on it (docs/core.md, "Guest page-table
# writes"): the guest zeroes each freed table with one `rep stosd`; once
# the early-unshadow heuristic fires on such a run, the core ends it there
# (RIP stays on the instruction, the guest zeroes the rest of the page
# itself).  So the trace has, for each of the 240 forks, an emulated
# decision that leaves RIP on the faulting REP STOS and unshadows its table.
set -u
. "$top_srcdir/tests/testlib.sh"
need bochs grub-mkrescue xorriso
run="$top_srcdir/vmx/bochs-run.sh"
for g in ptheavy-2level ptheavy-pae; do
	elf="$top_builddir/guests/$g.elf"
	BOCHS_TIMEOUT=120 sh "$run" "$work/$g-native" "$elf"; rc=$?
	[ "$rc" -ne 124 ] && grep -q '^guest: done' "$work/$g-native/console.txt" &&
		grep -q '^guest: forks 0x000000f0' "$work/$g-native/console.txt" &&
		grep -q '^guest: frames leaked 0x00000000' "$work/$g-native/console.txt" &&
		pass "$g runs natively in Bochs: 240 forks, no frame leaked" ||
		{ fail "$g natively (Bochs exit $rc)"; tail -n 12 "$work/$g-native/console.txt"; }
	SHADOWVT_VMX= "$top_builddir/shadowvt" record --guest "$elf" --timeout 300 \
		--keep "$work/$g-hv" -o "$work/$g.svt" > "$work/rec" 2>&1; rc=$?
	[ "$rc" -eq 0 ] && grep -q 'the guest powered off' "$work/rec" &&
		pass "$g runs under the hypervisor, recorded completely" ||
		{ fail "$g under the hypervisor (record exit $rc)"; cat "$work/rec";
		  tail -n 20 "$work/$g-hv/hv.txt"; }
	cmp -s "$work/$g-native/console.txt" "$work/$g.svt.console" &&
		pass "$g: the same console natively and under the hypervisor (counts, checksums)" ||
		{ fail "$g: console differs"
		  diff "$work/$g-native/console.txt" "$work/$g.svt.console"; }
	"$top_builddir/shadowvt" replay --audit full "$work/$g.svt" > "$work/rep" 2>&1 &&
		grep -q ': clean: ' "$work/rep" &&
		pass "$g: its trace replays clean with full audits" ||
		{ fail "$g: replay"; head -n 20 "$work/rep"; }
	# A REP STOS cut short: a FAULT with insn f3 ab whose emulated
	# decision leaves RIP where the instruction is.
	cut=$("$top_builddir/shadowvt" dump "$work/$g.svt" | awk '
		$2 == "FAULT" { rip = ""; rep = 0
			for (i = 3; i <= NF; i++) {
				if ($i ~ /^insn=f3ab/) rep = 1
				if ($i ~ /^rip=/) rip = substr($i, 5) } next }
		$2 == "DECISION" { if ($3 == "emulated" && rep && $4 == "rip=" rip) n++; rep = 0 }
		END { print n + 0 }')
	[ "$cut" -ge 240 ] &&
		pass "$g: $cut zeroing runs ended by the early unshadow (240 forks)" ||
		fail "$g: $cut REP STOS runs cut short, expected at least 240"
	grep '^hv: \(exit\|page-table\)' "$work/$g-hv/hv.txt" | sed 's/^/# /'
done
finish ptheavy
