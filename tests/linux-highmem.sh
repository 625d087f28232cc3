#!/bin/sh
# Linux with RAM above 4 GiB (`make check-linux-highmem`; not in `make
# check` nor in CI: minutes).  A 5 GiB Bochs machine (BOCHS_MEGS=5120) has
# 3 GiB of RAM below 4 GiB and 1 GiB from 4 GiB ($SVT_HIGHMEM_MEGS, 5120
# or more, gives the machine's memory: RAM from 4 GiB up to it).  Debian's kernel with the
# workload initramfs (scripts/linux-workload, small sizes) and one phase
# more, written here: what the kernel was given (MemTotal, its BIOS-e820
# lines from dmesg) and that it allocates from RAM above 4 GiB (zone
# Normal: managed pages, and the pages a 64 MiB tmpfs file takes from it).
# Natively through GRUB (the BIOS's E820 map) and under the hypervisor
# (`shadowvt record --kernel`: the zero page's E820 map, vmx/linux.c) the
# kernel must list [4 GiB, the top) as usable, count it in MemTotal (more
# than all RAM below 4 GiB) and take the tmpfs file's pages from it; the
# recording must be complete, hold the two RAM ranges, and replay clean.
# Packages are fetched with apt-get into $SHADOWVT_CACHE, as check-linux.
set -u
. "$top_srcdir/tests/testlib.sh"
need bochs grub-mkrescue xorriso apt-get dpkg-deb cpio
bin="$top_builddir/shadowvt"
mkdir -p "$work/add"
cat > "$work/add/highmem.sh" <<'EOF'
# RAM above 4 GiB (tests/linux-highmem.sh): what the kernel was given,
# and that it allocates from it (zone Normal is the RAM above 4 GiB).
echo "highmem: $(grep MemTotal /proc/meminfo)"
dmesg | sed -n 's/^\[[ 0-9.]*\] \(BIOS-e820: .*\)/highmem: \1/p'
zone() { awk -v k="$1" '$1 == "Node" { z = $4 } z == "Normal" && $0 ~ "^ *" k " " { print $NF; exit }' /proc/zoneinfo; }
echo "highmem: zone Normal managed pages $(zone managed)"
before=$(zone "pages free")
dd if=/dev/zero of=/tmp/h bs=1048576 count=64 2>/dev/null
after=$(zone "pages free")
echo "highmem: 64 MiB written to tmpfs took $(( (before - after) / 256 )) MiB from zone Normal"
rm -f /tmp/h
EOF
SHADOWVT_BUILDDIR=$top_builddir sh "$top_srcdir/scripts/linux-workload" "$work/lw" --add "$work/add" \
	> "$work/lw.out" 2>&1 && pass "the workload: $(tail -n 1 "$work/lw.out")" ||
	{ fail "scripts/linux-workload"; cat "$work/lw.out"; finish linux-highmem; exit 1; }
append="console=ttyS0,115200 panic=-1 nokaslr quiet cryptomgr.notests svt.forks=10 svt.mmaps=50 svt.file_kb=1024 svt.lines=500"
want="boot fork mmap tmpfs pipeline user-highmem done"
megs=${SVT_HIGHMEM_MEGS:-5120}
[ "$megs" -ge 5120 ] 2>/dev/null || { fail "SVT_HIGHMEM_MEGS=$megs: 5120 or more"; finish linux-highmem; exit 1; }
last=$(printf '%x' $((megs * 1048576 - 1)))      # the last byte of RAM above 4 GiB
marks() { sed -n 's/^shadowvt-mark \([^ ]*\) tsc=.*/\1/p' "$1" | tr -d '\r' | tr '\n' ' ' | sed 's/ $//'; }
# What the kernel said about RAM above 4 GiB, from console FILE, as WHO:
# the E820 entry, MemTotal above the 3 GiB below 4 GiB (3145728 kB),
# zone Normal managed (no more than the RAM above 4 GiB), and at least 60
# of the 64 MiB taken from it.
sees_highmem() { # FILE WHO
	tr -d '\r' < "$1" > "$work/c"
	total=$(sed -n 's/^highmem: MemTotal: *\([0-9]*\) kB$/\1/p' "$work/c")
	managed=$(sed -n 's/^highmem: zone Normal managed pages \([0-9]*\)$/\1/p' "$work/c")
	took=$(sed -n 's/^highmem: 64 MiB written to tmpfs took \(-*[0-9]*\) MiB from zone Normal$/\1/p' "$work/c")
	grep -q "^highmem: BIOS-e820: \\[mem 0x0000000100000000-0x$(printf '%016x' 0x$last)\\] usable\$" "$work/c" &&
		[ "${total:-0}" -gt 3145728 ] && [ "${managed:-0}" -gt 0 ] &&
		[ "${managed:-0}" -le $(((megs - 4096) * 256)) ] &&
		[ "${took:-0}" -ge 60 ] &&
		pass "$2: the kernel lists [4 GiB, 0x$last] usable, MemTotal $total kB, zone Normal $managed pages, a 64 MiB file took $took MiB there" ||
		{ fail "$2: RAM above 4 GiB (MemTotal '$total', managed '$managed', took '$took')"; grep '^highmem:' "$work/c"; }
}

# natively, through GRUB's linux and initrd
export BOCHS_CPU=broadwell_ult BOCHS_MEGS=$megs
t0=$(date +%s)
GUEST_LINUX=1 GUEST_INITRD="$work/lw/initrd.img" GUEST_ARGS="$append" BOCHS_TIMEOUT=${SVT_NATIVE_TIMEOUT:-900} \
	sh "$top_srcdir/vmx/bochs-run.sh" "$work/native" "$work/lw/vmlinuz" > /dev/null 2>&1; rc=$?
echo "# natively: $(($(date +%s) - t0)) s"
[ "$(marks "$work/native/console.txt")" = "$want" ] && pass "natively in Bochs: every phase marker ($want)" ||
	{ fail "natively (Bochs exit $rc): markers '$(marks "$work/native/console.txt")'"; tail -n 20 "$work/native/console.txt"; }
sees_highmem "$work/native/console.txt" natively

# under the hypervisor
t0=$(date +%s)
"$bin" record --kernel "$work/lw/vmlinuz" --initrd "$work/lw/initrd.img" --append "$append" \
	--timeout "${SVT_HV_TIMEOUT:-3000}" --keep "$work/hv" -o "$work/linux.svt" > "$work/rec" 2>&1; rc=$?
echo "# under the hypervisor: $(($(date +%s) - t0)) s"
sed 's/^/# /' "$work/rec"
[ "$rc" -eq 0 ] && grep -q 'the guest powered off' "$work/rec" &&
	grep -q "^hv: guest RAM above 4 GiB: 0x100000000\\.\\.0x$last" "$work/hv/hv.txt" &&
	pass "under the hypervisor: RAM above 4 GiB given, recorded completely" ||
	{ fail "record --kernel (exit $rc)"; tail -n 30 "$work/hv/console.txt" "$work/hv/hv.txt"; }
[ "$(marks "$work/linux.svt.console")" = "$want" ] && pass "under the hypervisor: the same phase markers" ||
	fail "under the hypervisor: markers '$(marks "$work/linux.svt.console")'"
sees_highmem "$work/linux.svt.console" "under the hypervisor"

# the trace: two RAM ranges, a clean replay
"$bin" info "$work/linux.svt" > "$work/info"
sed -n 's/^\(guest frames\|device frames\):/# &/p' "$work/info"
t0=$(date +%s)
"$bin" replay --audit "${SVT_AUDIT:-full}" "$work/linux.svt" > "$work/rep" 2>&1; rc=$?
echo "# replay: $(($(date +%s) - t0)) s"
sed 's/^/# /' "$work/rep"
grep -q "^guest frames: *$((megs * 256)) (.* RAM in 2 range(s))" "$work/info" && [ "$rc" -eq 0 ] &&
	grep -q ': clean: ' "$work/rep" &&
	pass "its trace (2 RAM ranges) replays clean (audit ${SVT_AUDIT:-full})" || fail "replay (exit $rc)"
finish linux-highmem
