#!/bin/sh
# Every shipped guest (guests/) boots in Bochs twice: natively, and under
# the hypervisor (vmx/hv.elf) with the shadow MMU core doing all its
# translation, recorded by `shadowvt record`.  The guest's console (COM1)
# must be the same both times and end with "guest: done"; the recording
# must be complete (the guest powered off, nothing lost) and replay with
# full audits, zero divergences and zero violations.
set -u
. "$top_srcdir/tests/testlib.sh"
need bochs grub-mkrescue xorriso qemu-system-x86_64
run="$top_srcdir/vmx/bochs-run.sh"
hv="$top_builddir/vmx/hv.elf"
# long64 runs on a CPU model with SMAP and PKU, and is recorded with
# out-of-sync page tables off so that its page-table writes are emulated
# one by one.
for g in hello paging-2level paging-pae paging-4level perm long64; do
	elf="$top_builddir/guests/$g.elf"
	pol=
	if [ "$g" = long64 ]; then
		export BOCHS_CPU=tigerlake; pol=oos=0
	else
		unset BOCHS_CPU
	fi
	BOCHS_TIMEOUT=120 sh "$run" "$work/$g-native" "$elf"; rc=$?
	[ "$rc" -ne 124 ] && grep -q '^guest: done' "$work/$g-native/console.txt" &&
		pass "$g runs natively in Bochs" ||
		{ fail "$g natively (Bochs exit $rc)"; tail -n 5 "$work/$g-native/console.txt" "$work/$g-native/bochs.out"; }
	# The same guest natively in QEMU (TCG): nothing in it is Bochs-only.
	QEMU_ACCEL=tcg QEMU_TIMEOUT=60 sh "$top_srcdir/vmx/qemu-run.sh" "$work/$g-qemu" "$elf" >/dev/null 2>&1
	if [ "$g" = long64 ]; then      # its CPUID features line differs between models
		grep -q '^guest: done' "$work/$g-qemu/console.txt"
	else
		cmp -s "$work/$g-native/console.txt" "$work/$g-qemu/console.txt"
	fi && pass "$g: the same natively in QEMU" ||
		{ fail "$g natively in QEMU"; diff "$work/$g-native/console.txt" "$work/$g-qemu/console.txt" | head; }
	SHADOWVT_VMX= "$top_builddir/shadowvt" record --guest "$elf" --timeout 120 ${pol:+--policy $pol} \
		--keep "$work/$g-hv" -o "$work/$g.svt" > "$work/rec" 2>&1; rc=$?
	[ "$rc" -eq 0 ] && grep -q 'the guest powered off' "$work/rec" &&
		pass "$g runs under the hypervisor, recorded completely" ||
		{ fail "$g under the hypervisor (record exit $rc)"; cat "$work/rec"; tail -n 20 "$work/$g-hv/hv.txt"; }
	cmp -s "$work/$g-native/console.txt" "$work/$g.svt.console" &&
		pass "$g: the same console output natively and under the hypervisor" ||
		{ fail "$g: console differs"; diff "$work/$g-native/console.txt" "$work/$g.svt.console"; }
	# IA32_PAT: each paging guest writes its own (entry 1 write-combining,
	# guests/paging.c) and reads it back (the console above); the VM-exit
	# and VM-entry controls must keep it the guest's and the hypervisor's
	# its own (hv.txt, at the end of the run)
	case $g in
	paging-*)
		read -r gpat hpat hpat0 <<EOP
$(pat_worlds "$work/$g-hv/hv.txt")
EOP
		[ "$gpat" = 0x0007040600070106 ] && [ -n "$hpat" ] && [ "$hpat" = "$hpat0" ] &&
			[ "$hpat" != "$gpat" ] &&
			pass "$g: IA32_PAT is the guest's own ($gpat), the hypervisor's kept ($hpat)" ||
			{ fail "$g: IA32_PAT under the hypervisor"; grep 'IA32_PAT' "$work/$g-hv/hv.txt"; }
		;;
	esac
	# what `make bench-live` counts: the guest's own TSC from its entry
	# to its power-off (glib.h), on port 0xe9; under the hypervisor it
	# runs on through the exits, so it must be the larger
	nt=$(sed -n 's/^guest ticks: \(0x[0-9a-f]\{16\}\)$/\1/p' "$work/$g-native/bochs.out")
	ht=$(sed -n 's/^guest ticks: \(0x[0-9a-f]\{16\}\)$/\1/p' "$work/$g-hv/bochs.out")
	[ -n "$nt" ] && [ -n "$ht" ] && [ $((nt)) -gt 0 ] && [ $((ht)) -gt $((nt)) ] &&
		pass "$g: counts its run, $((nt)) ticks natively, $((ht)) under the hypervisor" ||
		fail "$g: its count of its run: natively '$nt', under the hypervisor '$ht'"
	"$top_builddir/shadowvt" replay --audit full "$work/$g.svt" > "$work/rep" 2>&1 &&
		grep -q ': clean: ' "$work/rep" && pass "$g: its trace replays clean with full audits" ||
		{ fail "$g: replay"; head -n 20 "$work/rep"; }
	sed 's/^/# /' "$work/rec"
	grep '^hv: exit' "$work/$g-hv/hv.txt" | sed 's/^/# /'
done
unset BOCHS_CPU

# Memory types: each paging guest maps a write-through large page (PAT bit
# 12 and PWT: PAT index 5) and an uncached 4 KiB page (PCD PWT).  Its clean
# replay above compared every shadow leaf's PAT index with the reference
# walk's (INV-FRAME); a core that drops the PAT bit when it splinters
# (seeded bug 74) must be caught on the same trace.
for g in paging-2level paging-pae paging-4level; do
	rc=none
	grep -q '^guest: uncached page reads 0x55555555' "$work/$g.svt.console" &&
		{ SVT_BROKEN=74 "$top_builddir/tests/shadowvt-broken" replay --audit full --show 1 \
			"$work/$g.svt" > "$work/rep" 2>&1; rc=$?; }
	[ "$rc" = 1 ] && grep -Eq \
		': event [0-9]+: INV-FRAME .*PAT index 1 \(PAT:PCD:PWT\), the guest.s leaf with 5' "$work/rep" &&
		pass "$g: a splinter without the large page's PAT bit is INV-FRAME" ||
		{ fail "$g: memory types"; head -n 3 "$work/rep"; }
done

# What long64 must have exercised, not skipped: the permission matrix at
# CPL 3 and with SMEP, SMAP and RFLAGS.AC; 1 GiB pages; every page-table
# write form, emulated by the core; INVPCID, intercepted; the CPU's own
# state (CR0.ET, RF pushed by a #PF and a #GP, CPUID.OSXSAVE and OSPKE
# following CR4, a protection-key fault whose PKRU the hypervisor read).
c="$work/long64.svt.console"
grep -q '^guest: features: 1g 0x1 nx 0x1 smep 0x1 smap 0x1 pcid 0x1 invpcid 0x1' "$c" &&
	[ "$(grep -c '^guest: perm .* cpl3: ' "$c")" -eq 8 ] &&
	[ "$(grep -c '^guest: perm .* cpl0 wp smep smap ac: ' "$c")" -eq 8 ] &&
	grep -q '^guest: pages: read through a 1 GiB page ok' "$c" &&
	grep -q '^guest: perm ro user cpl0 smap: read pf 0x1 ' "$c" &&
	grep -q '^guest: devices: local APIC id 0x0 version 0x[0-9a-f]*, I/O APIC version 0x[0-9a-f]*' "$c" &&
	"$top_builddir/shadowvt" info "$work/long64.svt" | grep -q '^device frames: .*(passed through)' &&
	grep -q '^guest: cpu: CR0.ET written 0 reads 0x1, #PF pf 0x0 cr2 0xc0000000 RF 0x1' "$c" &&
	grep -q '^guest: cpu: OSXSAVE 0x0, with CR4.OSXSAVE 0x1, without 0x0' "$c" &&
	grep -q '^guest: cpu: CR4 bit 15 #GP RF 0x1' "$c" &&
	grep -q '^guest: cpu: OSPKE 0x0, with CR4.PKE 0x1, key 1 read ok, with PKRU.AD1 pf 0x25 cr2 0x801f4000, without ok' "$c" &&
	"$top_builddir/shadowvt" dump "$work/long64.svt" | grep -q 'FAULT va=0x801f4000 ec=0x25 cpl=3 .* pkru=0x4' &&
	pass "long64: the matrix at CPL 0 and 3 with SMEP/SMAP/AC, 1 GiB pages, APICs passed through; CR0.ET, RF on injected faults, CPUID.OSXSAVE/OSPKE as CR4, PKRU read at the exit" ||
	{ fail "long64: parts missing"; cat "$c"; }
forms=$(sed -n 's/^guest: ptwrite \([a-z0-9+-]*\).*/\1/p' "$c" | LC_ALL=C sort -u | tr '\n' ' ')
want=$(printf '%s\n' mov mov32 xchg cmpxchg cmpxchg-fail cmpxchg16b cmpxchg16b+8 xadd or and add sub xor \
	inc dec bts btr btc rep-stos rep-movs | LC_ALL=C sort | tr '\n' ' ')
[ "$forms" = "$want" ] &&
	pass "long64: every page-table write form ran" || fail "long64: write forms: $forms"
"$top_builddir/shadowvt" replay -q --db "$work/long64.db" "$work/long64.svt" > /dev/null 2>&1
emul=$("$top_builddir/shadowvt" query "$work/long64.db" --format csv \
	--sql "select value from counters where name = 'emulated'" | tail -n 1)
inv=$(grep '^hv: exits:' "$work/long64-hv/hv.txt" | tr ' ' '\n' | sed -n 's/^58=//p')
[ "${emul:-0}" -ge 40 ] && [ "${inv:-0}" -eq 4 ] &&
	pass "long64: $emul page-table writes emulated, 4 INVPCID exits" ||
	fail "long64: emulated '${emul}', INVPCID exits '${inv}'"

# K13 (docs/core.md): long64 with "k13" delivers an INT onto read-only
# user stack pages under CR0.WP=0 and SMAP, RFLAGS.AC=1, its frame across
# the boundary of two: bare metal pushes (no instruction the core could
# emulate), and the core lets the pushes through for one step, which the
# monitor trap flag's exit ends; the delivery faults on the upper page,
# then, in the step, on the lower one, which joins the step (were the
# step ended there, the two would fault in turn for ever); then a
# supervisor read there with AC=0 faults.  Bochs 2.7 offers the control (tigerlake)
# but never exits for it: the hypervisor then stops the guest with its
# verdict at the next exit.  A CPU that exits must print what the guest
# prints natively.  Either way the trace, with its STEP_DONE, replays clean.
export BOCHS_CPU=tigerlake
k13='^guest: k13: INT onto a read-only user stack under CR0.WP=0, SMAP, AC=1: rip ok, cs 0x18, ss 0x10'
GUEST_ARGS=k13 BOCHS_TIMEOUT=120 sh "$run" "$work/k13-native" "$top_builddir/guests/long64.elf"
grep -q "$k13; a read there with AC=0 pf 0x1 cr2 0x801f5ff8" "$work/k13-native/console.txt" &&
	grep -q '^guest: done' "$work/k13-native/console.txt" &&
	pass "long64 k13 natively: the INT's pushes go through, then SMAP faults" ||
	{ fail "long64 k13 natively"; tail -n 5 "$work/k13-native/console.txt"; }
SHADOWVT_VMX= "$top_builddir/shadowvt" record --guest "$top_builddir/guests/long64.elf" \
	--guest-args k13 --timeout 120 --policy oos=0 --keep "$work/k13-hv" -o "$work/k13.svt" \
	> "$work/rec" 2>&1; rc=$?
if [ "$rc" -eq 0 ] && grep -q 'the guest powered off' "$work/rec"; then
	cmp -s "$work/k13-native/console.txt" "$work/k13.svt.console" &&
		pass "long64 k13 under the hypervisor: one step, ended by the MTF exit, as natively" ||
		{ fail "long64 k13: console differs"; diff "$work/k13-native/console.txt" "$work/k13.svt.console"; }
else
	[ "$rc" -eq 1 ] && grep -q "$k13" "$work/k13.svt.console" &&
		grep -q 'the guest stopped: the CPU did not end a step with the monitor trap flag.s exit' "$work/rec" &&
		grep -q '^hv: a step granted at rip 0x[0-9a-f]* ended at exit [0-9]* at rip' "$work/k13-hv/hv.txt" &&
		pass "long64 k13 under the hypervisor: no MTF exit from this CPU (Bochs 2.7): stopped, with its verdict" ||
		{ fail "long64 k13 under the hypervisor (record exit $rc)"; cat "$work/rec"; tail -n 5 "$work/k13-hv/hv.txt"; }
fi
# (the inputs from the first push's fault on, one a line)
"$top_builddir/shadowvt" dump "$work/k13.svt" | grep -E '^[0-9]+ (FAULT|STEP_DONE|CR_WRITE|INVLPG|INVPCID|FLUSH_ALL)' |
	sed -n '/FAULT va=0x801f6008 ec=0x3 cpl=0 .* delivery/,$p' | head -n 3 | cut -d' ' -f2-4 \
	> "$work/k13.inputs"
printf '%s\n' 'FAULT va=0x801f6008 ec=0x3' 'FAULT va=0x801f5ff8 ec=0x3' 'STEP_DONE' |
	cmp -s - "$work/k13.inputs" &&
	"$top_builddir/shadowvt" replay --audit full "$work/k13.svt" > "$work/rep" 2>&1 &&
	grep -q ': clean: ' "$work/rep" &&
	pass "long64 k13: the pushes' FAULTs on two pages, then one STEP_DONE; the trace replays clean with full audits" ||
	{ fail "long64 k13: trace"; cat "$work/k13.inputs"; head -n 20 "$work/rep"; }
# Through a core that ends the step at the second page's fault (seeded bug
# 87): INV-PROGRESS there, and `reduce` keeps the two faults.
SVT_BROKEN=87 "$top_builddir/tests/shadowvt-broken" reduce --audit faults "$work/k13.svt" \
	-o "$work/k13-min.svt" > "$work/red" 2>&1 &&
	grep -q 'INV-PROGRESS va 0x801f6008' "$work/red" &&
	[ "$("$top_builddir/shadowvt" dump "$work/k13-min.svt" | grep -c ' FAULT va=0x801f')" = 2 ] &&
	"$top_builddir/shadowvt" replay --audit full "$work/k13-min.svt" | grep -q ': clean: ' &&
	pass "long64 k13 through seeded bug 87: INV-PROGRESS, reduced to the step's two faults" ||
	{ fail "long64 k13 through seeded bug 87"; cat "$work/red"; }
unset BOCHS_CPU

# The hostile guest: the same output natively and under the hypervisor,
# to the end: after its page-table abuse it reads and writes memory with
# nothing behind it (the hole above its memory map's RAM, the hypervisor's
# own image under it; 4 GiB), which bare metal and the hypervisor alike
# read as all ones, writes dropped.  The core decided each such access
# (MMIO decisions in the trace), the hypervisor performed it, and the trace
# replays clean (periodic audits: it keeps 2100 page tables in a pool of
# 2048; INV-FRAME: no shadow maps the hypervisor).  With --strict-memory
# the run stops at the first such access instead.
g=hostile
elf="$top_builddir/guests/$g.elf"
BOCHS_TIMEOUT=120 sh "$run" "$work/$g-native" "$elf"
grep -q '^guest: done' "$work/$g-native/console.txt" &&
	grep -q '^guest: memory map has a hole above 1 MiB, 4 MiB aligned 0x00000001' \
		"$work/$g-native/console.txt" &&
	[ "$(grep -c '^guest: .* 0x\(ffffffff\|000000ff\|112233ff\|1122ffff\)' \
		"$work/$g-native/console.txt")" -eq 10 ] && pass "hostile runs natively, all ones where nothing is" ||
	{ fail "hostile natively"; tail -n 15 "$work/$g-native/console.txt"; }
"$top_builddir/shadowvt" record --guest "$elf" --timeout 120 --keep "$work/$g-hv" -o "$work/$g.svt" \
	> "$work/rec" 2>&1; rc=$?
[ "$rc" -eq 0 ] && grep -q 'the guest powered off' "$work/rec" &&
	grep -q '^hv: memory with nothing behind it: [1-9][0-9]* reads gave all ones, [1-9][0-9]* writes dropped' \
		"$work/$g-hv/hv.txt" &&
	pass "hostile runs under the hypervisor to the end, its accesses to nothing performed" ||
	{ fail "hostile under the hypervisor (record exit $rc)"; cat "$work/rec"; tail -n 5 "$work/$g-hv/hv.txt"; }
cmp -s "$work/$g-native/console.txt" "$work/$g.svt.console" &&
	pass "hostile: the same console output natively and under the hypervisor" ||
	{ fail "hostile: console differs"; diff "$work/$g-native/console.txt" "$work/$g.svt.console"; }
n=$("$top_builddir/shadowvt" dump "$work/$g.svt" 2>/dev/null | grep -c 'DECISION mmio gpa=')
"$top_builddir/shadowvt" replay --audit periodic "$work/$g.svt" > "$work/rep" 2>&1 &&
	grep -q ': clean: ' "$work/rep" && [ "$n" -ge 10 ] &&
	pass "hostile: its trace ($n MMIO decisions) replays clean" ||
	{ fail "hostile: replay ($n MMIO decisions)"; head -n 20 "$work/rep"; }
# The hypervisor's #PF exits by the core's answer (`make bench-live`
# prints ticks per each) against the trace's own record of each fault's
# decision; the cells add up to the #PF exits and their ticks.
hv="$work/$g-hv/hv.txt"
mine=$(sed -n 's/^hv: #PF exits by answer (exits, ticks)://p' "$hv" | tr ';' '\n' |
	awk 'NF == 3 { split($1, a, "."); n[a[1]] += $2; e += $2; t += $3 }
	     END { for (k in n) print k, n[k]; print "=exits", e; print "=ticks", t }' | LC_ALL=C sort)
want=$({ "$top_builddir/shadowvt" dump "$work/$g.svt" 2>/dev/null |
	awk '$2 == "FAULT" { getline; if ($2 == "DECISION") n[$3]++ } END { for (k in n) print k, n[k] }'
	sed -n 's/^hv: exits:.* 0=\([0-9]*\).*/=exits \1/p; s/^hv: exit ticks:.* 0=\([0-9]*\).*/=ticks \1/p' "$hv"
	} | LC_ALL=C sort)
[ -n "$mine" ] && [ "$mine" = "$want" ] && echo "$mine" | grep -q '^mmio [1-9]' &&
	pass "hostile: the #PF exits by answer agree with the trace's decisions and the exit ticks" ||
	{ fail "hostile: #PF exits by answer"; echo "hv: $mine"; echo "trace: $want"; }
sed 's/^/# /' "$work/rec"
"$top_builddir/shadowvt" record --guest "$elf" --strict-memory --timeout 120 --keep "$work/$g-strict" \
	-o "$work/$g-strict.svt" > "$work/rec" 2>&1; rc=$?
sed '/^guest: memory map has a hole/q' "$work/$g-native/console.txt" > "$work/native-part"
[ "$rc" -eq 1 ] && grep -q 'the guest touched memory outside its RAM: stopped' "$work/rec" &&
	grep -q '^hv: access to gpa 0x[0-9a-f]*00000 at rip ' "$work/$g-strict/hv.txt" &&
	cmp -s "$work/native-part" "$work/$g-strict.svt.console" &&
	pass "hostile --strict-memory: stopped at its first access to nothing, with a verdict" ||
	{ fail "hostile --strict-memory (record exit $rc)"; cat "$work/rec"; tail -n 5 "$work/$g-strict/hv.txt"; }
# The hypervisor moves itself and the core's storage (sized for the guest
# RAM given) to the top of RAM and gives the guest all below; where RAM is
# too small for that it stays where GRUB loaded it.
for megs in 256 48; do
	BOCHS_MEGS=$megs "$top_builddir/shadowvt" record --guest "$top_builddir/guests/paging-pae.elf" \
		--timeout 120 --keep "$work/m$megs" -o "$work/m$megs.svt" > "$work/rec" 2>&1; rc=$?
	case $megs in
	256) where='^hv: moved to 0xe000000\.\.0xf200000, the core.s storage 0xf200000\.\.0xfe00000; guest RAM below'
		frames=57344 ;;
	48) where='^hv: staying at 0x1000000' frames=4096 ;;
	esac
	[ "$rc" -eq 0 ] && grep -q "$where" "$work/m$megs/hv.txt" &&
		cmp -s "$work/paging-pae-native/console.txt" "$work/m$megs.svt.console" &&
		"$top_builddir/shadowvt" info "$work/m$megs.svt" | grep -q "^guest frames: *$frames " &&
		"$top_builddir/shadowvt" replay --audit full "$work/m$megs.svt" > /dev/null 2>&1 &&
		pass "with $megs MiB: the hypervisor's place, the guest's RAM ($frames frames), a clean replay" ||
		{ fail "with $megs MiB (record exit $rc)"; cat "$work/rec"; head -n 3 "$work/m$megs/hv.txt"; }
done

# RAM above 4 GiB: a 5 GiB Bochs machine (Bochs's "memory:", as
# vmx/bochs-run.sh gives it) has 1 GiB of RAM from 4 GiB.  The highmem
# guest (PAE) finds it in its memory map (highmem: the Multiboot one;
# highmem-mb2: the Multiboot2 tag, whose third entry the hypervisor writes
# for it), writes and reads it back through large pages and through a page
# table and a page directory that lie there, then reads across the end of
# that RAM (2 bytes of RAM, 2 of nothing) and copies its last word with
# MOVS to above it (dropped): the hypervisor completes both (vmx/mmio.c,
# which must read RAM above 4 GiB as RAM).  Natively and under the
# hypervisor it must print the same, the hypervisor must give it that RAM
# 1:1 (and RAM up to just below its own place, far more than the 771 MiB a
# fixed 12 MiB of core storage allowed), and the trace (2 RAM ranges)
# must replay clean with full audits.
for g in highmem highmem-mb2; do
	elf="$top_builddir/guests/$g.elf"
	case $g in
	highmem) magic=0x2badb002 how=Multiboot ;;
	highmem-mb2) magic=0x36d76289 how=Multiboot2 ;;
	esac
	BOCHS_MEGS=5120 BOCHS_TIMEOUT=180 sh "$run" "$work/$g-native" "$elf"
	c="$work/$g-native/console.txt"
	grep -q '^guest: done' "$c" && grep -q "^guest: boot magic $magic" "$c" &&
		grep -q '^guest: RAM above 4 GiB, MiB 0x00000400' "$c" &&
		grep -q '^guest: 512 pages written through a table above 4 GiB, wrong .* 0x00000000' "$c" &&
		grep -q "^guest: a read of RAM's last 2 bytes and 2 above them 0xffff1234" "$c" &&
		grep -q '^guest: \.\.\. and that word above RAM reads 0xffffffff' "$c" &&
		pass "$g with 5 GiB runs natively, RAM above 4 GiB read back ($how map), all ones above it" ||
		{ fail "$g natively"; tail -n 12 "$c"; }
	BOCHS_MEGS=5120 "$top_builddir/shadowvt" record --guest "$elf" --timeout 180 --keep "$work/$g-hv" \
		-o "$work/$g.svt" > "$work/rec" 2>&1; rc=$?
	[ "$rc" -eq 0 ] && grep -q 'the guest powered off' "$work/rec" &&
		grep -q '^hv: guest RAM above 4 GiB: 0x100000000\.\.0x13fffffff' "$work/$g-hv/hv.txt" &&
		grep -q "^hv: guest loaded by $how " "$work/$g-hv/hv.txt" &&
		grep -q '^hv: moved to 0xb[0-9a-f]*\.\.0x[0-9a-f]*, the core.s storage ' "$work/$g-hv/hv.txt" &&
		grep -q '^hv: memory with nothing behind it: [1-9][0-9]* reads gave all ones, [1-9][0-9]* writes dropped' \
			"$work/$g-hv/hv.txt" &&
		pass "$g with 5 GiB runs under the hypervisor, RAM above 4 GiB given, accesses across its end completed" ||
		{ fail "$g under the hypervisor (record exit $rc)"; cat "$work/rec"; head -n 5 "$work/$g-hv/hv.txt"; }
	cmp -s "$c" "$work/$g.svt.console" &&
		pass "$g: the same console output natively and under the hypervisor" ||
		{ fail "$g: console differs"; diff "$c" "$work/$g.svt.console"; }
	"$top_builddir/shadowvt" info "$work/$g.svt" > "$work/info"
	grep -q '^guest frames: *1310720 (.* RAM in 2 range(s))' "$work/info" &&
		"$top_builddir/shadowvt" replay --audit full "$work/$g.svt" > "$work/rep" 2>&1 &&
		grep -q ': clean: ' "$work/rep" &&
		pass "$g: its trace (2 RAM ranges) replays clean with full audits" ||
		{ fail "$g: replay"; head -n 8 "$work/info"; head -n 20 "$work/rep"; }
	sed 's/^/# /' "$work/rec"
done

# The QEMU engine: GRUB boots the hypervisor and it loads the guest there
# too; QEMU's TCG has no VT-x, so the hypervisor must stop at once and
# `record` must say why (on an Intel host with nested VMX, KVM runs it).
QEMU_ACCEL=tcg "$top_builddir/shadowvt" record --engine qemu-kvm --guest "$top_builddir/guests/hello.elf" \
	--timeout 60 -o "$work/qemu.svt" > "$work/rec" 2>&1; rc=$?
[ "$rc" -eq 1 ] && grep -q "last words: hv: PANIC: this CPU has no VMX" "$work/rec" &&
	pass "record --engine qemu-kvm without VT-x: the hypervisor's verdict" ||
	{ fail "record --engine qemu-kvm (exit $rc)"; cat "$work/rec"; }
finish live-guests
