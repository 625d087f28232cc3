#!/bin/sh
# The Linux guest end to end (`make check-linux`; CI runs it): Debian's
# kernel (linux-image-amd64) with the workload initramfs
# (scripts/linux-workload: busybox-static, guests/linux/init) boots
# natively in Bochs through GRUB and under the hypervisor through
# `shadowvt record --kernel`; both reach every phase marker in the same
# order; the recording is complete, replays clean and lands in a results
# database with its fault mix and timeline.  The hypervisor's per-phase
# exits and ticks are printed (# lines).  Packages are fetched with
# apt-get into $SHADOWVT_CACHE (default ~/.cache/shadowvt).
set -u
. "$top_srcdir/tests/testlib.sh"
need bochs grub-mkrescue xorriso apt-get dpkg-deb cpio
bin="$top_builddir/shadowvt"
SHADOWVT_BUILDDIR=$top_builddir sh "$top_srcdir/scripts/linux-workload" "$work/lw" > "$work/lw.out" 2>&1 &&
	pass "the workload: $(tail -n 1 "$work/lw.out")" || { fail "scripts/linux-workload"; cat "$work/lw.out"; finish linux-guest; exit 1; }
append="console=ttyS0,115200 panic=-1 nokaslr quiet cryptomgr.notests svt.forks=${SVT_FORKS:-50} svt.mmaps=${SVT_MMAPS:-300} svt.file_kb=${SVT_FILE_KB:-4096} svt.lines=${SVT_LINES:-5000}"
want="boot fork mmap tmpfs pipeline done"
marks() { sed -n 's/^shadowvt-mark \([^ ]*\) tsc=.*/\1/p' "$1" | tr -d '\r' | tr '\n' ' ' | sed 's/ $//'; }

# natively, through GRUB's linux and initrd
export BOCHS_CPU=broadwell_ult BOCHS_MEGS=512
GUEST_LINUX=1 GUEST_INITRD="$work/lw/initrd.img" GUEST_ARGS="$append" BOCHS_TIMEOUT=${SVT_NATIVE_TIMEOUT:-600} \
	sh "$top_srcdir/vmx/bochs-run.sh" "$work/native" "$work/lw/vmlinuz" > /dev/null 2>&1; rc=$?
[ "$(marks "$work/native/console.txt")" = "$want" ] && pass "natively in Bochs: every phase marker ($want)" ||
	{ fail "natively (Bochs exit $rc): markers '$(marks "$work/native/console.txt")'"; tail -n 20 "$work/native/console.txt"; }

# under the hypervisor
"$bin" record --kernel "$work/lw/vmlinuz" --initrd "$work/lw/initrd.img" --append "$append" \
	--timeout "${SVT_HV_TIMEOUT:-3000}" --keep "$work/hv" -o "$work/linux.svt" > "$work/rec" 2>&1; rc=$?
sed 's/^/# /' "$work/rec"
[ "$rc" -eq 0 ] && grep -q 'the guest powered off' "$work/rec" && pass "under the hypervisor: recorded completely" ||
	{ fail "record --kernel (exit $rc)"; tail -n 30 "$work/hv/console.txt" "$work/hv/hv.txt"; }
[ "$(marks "$work/linux.svt.console")" = "$want" ] && pass "under the hypervisor: the same phase markers" ||
	fail "under the hypervisor: markers '$(marks "$work/linux.svt.console")'"
grep '^hv: phase\|^hv: exits\|^hv: exit ticks' "$work/hv/hv.txt" | sed 's/^/# /'
# Per phase: ticks natively and under the hypervisor, the ratio, exits
# by class and per million guest instructions (bench/linux-phases.sh).
sh "$top_srcdir/bench/linux-phases.sh" "$work/native/console.txt" "$work/hv/hv.txt" | sed 's/^/# /'
"$bin" info "$work/linux.svt" | grep -q '^  MARK  *[1-9]' && pass "the phases are MARK records in the trace" ||
	fail "no MARK records in the trace"

# replay into a results database
"$bin" replay --audit "${SVT_AUDIT:-faults}" --db "$work/linux.db" "$work/linux.svt" > "$work/rep" 2>&1; rc=$?
sed 's/^/# /' "$work/rep"
[ "$rc" -eq 0 ] && grep -q ': clean: ' "$work/rep" && pass "its trace replays clean" || fail "replay (exit $rc)"
"$bin" query "$work/linux.db" faults > "$work/q" 2>&1 && [ "$(wc -l < "$work/q")" -ge 2 ] &&
	[ "$("$bin" query "$work/linux.db" --format csv --sql 'select count(*) from timeline' | tail -n 1)" -ge 1 ] &&
	pass "shadowvt query shows its fault mix and timeline" || { fail "query"; cat "$work/q"; }
sed 's/^/# /' "$work/q"
finish linux-guest
