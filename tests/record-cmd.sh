#!/bin/sh
# shadowvt record without an emulator: usage errors, and kernels that
# --kernel must refuse with exit status 3 and a message saying why
# (not a bzImage, an old boot protocol, a payload outside the file, a
# compression it does not read, a payload that is not an x86-64 ELF).
set -u
. "$top_srcdir/tests/testlib.sh"
bin="$top_builddir/shadowvt"
out="$work/t.svt"

expect_status 2 "--initrd without --kernel" "$bin" record --initrd /dev/null -o "$out"
expect_status 2 "--guest and --kernel together" "$bin" record --guest a --kernel b -o "$out"
expect_status 2 "an unknown channel" "$bin" record --guest a --channel usb -o "$out"
expect_status 2 "an unknown engine" "$bin" record --guest a --engine xen -o "$out"
expect_status 2 "no output" "$bin" record --kernel /dev/null

# bzimage FILE PROTOCOL PAYLOAD-FILE [OFFSET]: a bzImage header (setup_sects
# 1: the protected-mode part at 1024) with the payload after it
bzimage() {
	head -c 1024 /dev/zero > "$1"
	printf 'HdrS' | dd of="$1" bs=1 seek=514 conv=notrunc 2>/dev/null
	printf "\\$(printf %o "$2")\\002" | dd of="$1" bs=1 seek=518 conv=notrunc 2>/dev/null
	printf '\001' | dd of="$1" bs=1 seek=497 conv=notrunc 2>/dev/null
	n=$(wc -c < "$3")
	le32() { printf "\\$(printf %o $(($1 & 255)))\\$(printf %o $((($1 >> 8) & 255)))\\$(printf %o $((($1 >> 16) & 255)))\\$(printf %o $((($1 >> 24) & 255)))"; }
	le32 "${4:-0}" | dd of="$1" bs=1 seek=584 conv=notrunc 2>/dev/null
	le32 "$n" | dd of="$1" bs=1 seek=588 conv=notrunc 2>/dev/null
	cat "$3" >> "$1"
}
refused() { # what file message
	"$bin" record --kernel "$2" -o "$out" > "$work/o" 2> "$work/e"; rc=$?
	[ "$rc" -eq 3 ] && grep -q "$3" "$work/e" && [ ! -e "$out" ] && pass "$1: exit 3, '$3'" ||
		{ fail "$1: exit $rc"; cat "$work/e"; }
}
refused "a text file" /etc/hostname 'neither a bzImage'
printf 'not compressed at all, and long enough to look at' > "$work/p"
bzimage "$work/old" 5 "$work/p"
refused "boot protocol 2.05" "$work/old" 'before 2.08'
bzimage "$work/far" 15 "$work/p" 100000
refused "a payload beyond the file" "$work/far" 'outside the file'
bzimage "$work/raw" 15 "$work/p"
refused "an unknown compression" "$work/raw" 'not recognised'
printf 'BZh91AY&SY' > "$work/bz"; head -c 64 /dev/zero >> "$work/bz"
bzimage "$work/bz2" 15 "$work/bz"
refused "a bzip2 kernel" "$work/bz2" 'bzip2 kernel'
head -c 4096 /dev/zero | gzip -c > "$work/gz"
bzimage "$work/notelf" 15 "$work/gz"
refused "a gzip payload that is not an ELF kernel" "$work/notelf" 'not decompress to an x86-64 ELF'
head -c 100000 /dev/urandom | gzip -c | head -c 2000 > "$work/cut"
bzimage "$work/cutgz" 15 "$work/cut"
refused "a gzip payload cut short" "$work/cutgz" 'damaged or cut short'
finish record-cmd
