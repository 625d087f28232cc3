#!/bin/sh
# The hostile guest with RAM above 4 GiB (run by `make
# check-linux-highmem`; not in `make check` nor in CI: minutes).  A
# 5 GiB Bochs machine ($SVT_HIGHMEM_MEGS, 5120 up to 65535) has 3 GiB of
# RAM below 4 GiB and the rest from 4 GiB.  Natively Bochs backs the
# addresses below its memory size that no device claims with RAM, the
# gap from 3 GiB to 4 GiB too, so the guest accesses nothing only above
# the top of RAM: its ten accesses to nothing go there (through PSE-36
# pages), and its first hole above 1 MiB (3 GiB natively, the
# hypervisor's image under it) gets a write that must read back as
# written or as all ones.  Natively and under the hypervisor it must
# print the same; under the hypervisor the accesses above RAM and to its
# image are MMIO decisions in the trace, which is complete and replays
# clean with full audits; with --strict-memory the run stops at the
# first access above RAM.
set -u
. "$top_srcdir/tests/testlib.sh"
need bochs grub-mkrescue xorriso
bin="$top_builddir/shadowvt"
elf="$top_builddir/guests/hostile.elf"
megs=${SVT_HIGHMEM_MEGS:-5120}
{ [ "$megs" -ge 5120 ] && [ "$megs" -lt 65536 ]; } 2>/dev/null ||
	{ fail "SVT_HIGHMEM_MEGS=$megs: 5120 up to 65535"; finish hostile-highmem; exit 1; }
top=$(printf '%x' $((megs * 1048576)))          # the first byte above RAM
export BOCHS_MEGS=$megs
c="$work/native/console.txt"

t0=$(date +%s)
BOCHS_TIMEOUT=${SVT_NATIVE_TIMEOUT:-600} sh "$top_srcdir/vmx/bochs-run.sh" "$work/native" "$elf"; rc=$?
echo "# natively with $megs MiB: $(($(date +%s) - t0)) s"
grep -q '^guest: done' "$c" &&
	grep -q '^guest: nothing above RAM above 4 GiB, 4 MiB aligned 0x00000001' "$c" &&
	[ "$(grep -c '^guest: .* 0x\(ffffffff\|000000ff\|112233ff\|1122ffff\)' "$c")" -eq 9 ] &&
	grep -q '^guest: at 4 GiB (PSE-36): read after a write 0x5a5a5a5a' "$c" &&
	grep -q "^guest: RAM above 4 GiB, MiB 0x$(printf '%08x' $((megs - 4096)))" "$c" &&
	grep -q '^guest: first hole above 1 MiB: a write reads back as written or all ones 0x00000001' "$c" &&
	grep -q '^guest: above the RAM below 4 GiB, at 1 GiB granularity: read after a write 0x9a9a0001' "$c" &&
	grep -q "^guest: RAM's last word above 4 GiB: read after a write 0x0badf00d" "$c" &&
	grep -q '^guest: \.\.\. and 4 GiB lower it is unchanged 0x00000001' "$c" &&
	pass "natively with $megs MiB: all ones above RAM, RAM at 4 GiB, from 3 GiB and at its last word" ||
	{ fail "natively (Bochs exit $rc)"; tail -n 22 "$c"; }

t0=$(date +%s)
"$bin" record --guest "$elf" --timeout "${SVT_HV_TIMEOUT:-600}" --keep "$work/hv" -o "$work/h.svt" \
	> "$work/rec" 2>&1; rc=$?
echo "# under the hypervisor: $(($(date +%s) - t0)) s"
sed 's/^/# /' "$work/rec"
[ "$rc" -eq 0 ] && grep -q 'the guest powered off' "$work/rec" &&
	grep -q "^hv: guest RAM above 4 GiB: 0x100000000\\.\\.0x$(printf '%x' $((0x$top - 1)))" "$work/hv/hv.txt" &&
	grep -q '^hv: memory with nothing behind it: [1-9][0-9]* reads gave all ones, [1-9][0-9]* writes dropped' \
		"$work/hv/hv.txt" &&
	pass "under the hypervisor: RAM above 4 GiB given, to the end, its accesses to nothing performed" ||
	{ fail "under the hypervisor (record exit $rc)"; cat "$work/rec"; head -n 12 "$work/hv/hv.txt"; }
cmp -s "$c" "$work/h.svt.console" &&
	pass "the same console output natively and under the hypervisor" ||
	{ fail "console differs"; diff "$c" "$work/h.svt.console"; }

# The MMIO decisions: above the top of RAM, and in the hypervisor's image
# (where it moved: "hv: moved to A..B").
"$bin" dump "$work/h.svt" 2>/dev/null | sed -n 's/.*DECISION mmio gpa=0x\([0-9a-f]*\).*/\1/p' > "$work/gpas"
lo=$(sed -n 's/^hv: moved to 0x\([0-9a-f]*\)\.\..*/\1/p' "$work/hv/hv.txt")
hi=$(sed -n 's/^hv: moved to 0x[0-9a-f]*\.\.0x\([0-9a-f]*\),.*/\1/p' "$work/hv/hv.txt")
img="0x${lo:-?}..0x${hi:-?}"
n=$(grep -c . "$work/gpas")
above=0 inimg=0
while read -r g; do
	[ $((0x$g)) -ge $((0x$top)) ] && above=$((above + 1))
	[ -n "$lo" ] && [ -n "$hi" ] && [ $((0x$g)) -ge $((0x$lo)) ] && [ $((0x$g)) -lt $((0x$hi)) ] &&
		inimg=$((inimg + 1))
done < "$work/gpas"
[ "$above" -ge 12 ] && [ "$inimg" -ge 1 ] && [ $((above + inimg)) -eq "$n" ] &&
	pass "$n MMIO decisions: $above above RAM, $inimg in the hypervisor's image ($img)" ||
	{ fail "MMIO decisions: $n ($above above RAM, $inimg in the image $img)"; head -n 20 "$work/gpas"; }

"$bin" info "$work/h.svt" > "$work/info"
t0=$(date +%s)
"$bin" replay --audit full "$work/h.svt" > "$work/rep" 2>&1; rc=$?
echo "# replay: $(($(date +%s) - t0)) s"
grep -q "^guest frames: *$((megs * 256)) (.* RAM in 2 range(s))" "$work/info" && [ "$rc" -eq 0 ] &&
	grep -q ': clean: ' "$work/rep" &&
	pass "its trace (2 RAM ranges) replays clean with full audits" ||
	{ fail "replay (exit $rc)"; head -n 8 "$work/info"; head -n 20 "$work/rep"; }

t0=$(date +%s)
"$bin" record --guest "$elf" --strict-memory --timeout "${SVT_HV_TIMEOUT:-600}" --keep "$work/strict" \
	-o "$work/strict.svt" > "$work/rec" 2>&1; rc=$?
echo "# --strict-memory: $(($(date +%s) - t0)) s"
sed '/^guest: nothing above RAM above 4 GiB/q' "$c" > "$work/native-part"
[ "$rc" -eq 1 ] && grep -q 'the guest touched memory outside its RAM: stopped' "$work/rec" &&
	grep -q "^hv: access to gpa 0x$top at rip " "$work/strict/hv.txt" &&
	cmp -s "$work/native-part" "$work/strict.svt.console" &&
	pass "--strict-memory: stopped at its first access above RAM (0x$top), with a verdict" ||
	{ fail "--strict-memory (record exit $rc)"; cat "$work/rec"; tail -n 5 "$work/strict/hv.txt"; }
finish hostile-highmem
