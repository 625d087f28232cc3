#!/bin/sh
# shadowvt record without an emulator: usage errors, and kernels that
# --kernel must refuse with exit status 3 and a message saying why
# (not a bzImage, an old boot protocol, a payload outside the file, a
# compression it does not read, a payload that is not an x86-64 ELF);
# Multiboot guests that --guest must refuse before an engine starts, and
# ones it must accept (Multiboot 1 and 2, ELF32, ELF64, their own
# addresses), with their modules.
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

# ---- --guest, through stand-ins for the engines' run scripts ($SHADOWVT_VMX) -------
# A stand-in gets OUTDIR GUEST HV HV-ARGS as bochs-run.sh does, notes that it
# ran, and does what $STANDIN says: the files it leaves and its exit status.
vmx="$work/vmx"
mkdir -p "$vmx"
: > "$vmx/hv.elf"
for e in bochs qemu; do
	cat > "$vmx/$e-run.sh" <<'SH'
: > "$1/ran"; : > "${0%/*}/ran"
echo "the guest booted" > "$1/console.txt"; echo "hv: started" > "$1/hv.txt"
: > "$1/stream.bin"; : > "$1/stream-lpt.bin"
eval "$STANDIN"
SH
done
# a Multiboot kernel the hypervisor could load: the header (a.out kludge) alone
printf '\002\260\255\033\000\000\001\000\376\117\121\344' > "$work/mb.elf"
head -c 20 /dev/zero >> "$work/mb.elf"
standin() { # description status standin-commands [record options...]
	what=$1 want=$2 STANDIN=$3; shift 3
	rm -f "$vmx/ran" "$out" "$out".*
	export STANDIN
	PATH="${SPATH:-$PATH}" SHADOWVT_VMX="$vmx" "$bin" record -o "$out" "$@" > "$work/o" 2> "$work/e"; rc=$?
	[ "$rc" -eq "$want" ] && pass "$what: exit $rc" || { fail "$what: exit $rc, expected $want"; cat "$work/o" "$work/e"; }
}
saw() { # description file pattern
	grep -q "$3" "$2" && pass "  ...$1" || { fail "$1: no '$3'"; cat "$2"; }
}

# a guest that is not a Multiboot kernel: refused before any engine starts
printf 'just some text, not a kernel\n' > "$work/text"
standin "--guest a text file" 3 'exit 0' --guest "$work/text"
[ ! -e "$vmx/ran" ] && pass "  ...no engine started" || fail "an engine started for a text file"
saw "says why" "$work/e" 'text: not a Multiboot kernel: no Multiboot header (v2 in the first 32 KiB, v1 in the first 8 KiB)'
# Multiboot images built byte by byte: bytes HEX..., le16/le32 VALUE
bytes() { for h in "$@"; do printf "\\$(printf %o "0x$h")"; done; }
le16() { bytes "$(printf %02x $(($1 & 255)))" "$(printf %02x $((($1 >> 8) & 255)))"; }
le32() { le16 $(($1 & 65535)); le16 $((($1 >> 16) & 65535)); }
mb2hdr() { # ARCH LENGTH: a Multiboot2 header's first 16 bytes
	le32 $((0xE85250D6)); le32 "$1"; le32 "$2"; le32 $(((0x100000000 - ((0xE85250D6 + $1 + $2) & 0xffffffff)) & 0xffffffff))
}
# v2, its own addresses: address tag (load the file from its start at 1 MiB), entry tag, end
{ mb2hdr 0 64; le16 2; le16 0; le32 24; le32 $((0x100000)); le32 $((0x100000)); le32 0; le32 0
  le16 3; le16 0; le32 12; le32 $((0x100040)); le32 0; le16 0; le16 0; le32 8; head -c 64 /dev/zero; } > "$work/mb2.bin"
{ mb2hdr 4 64; tail -c +17 "$work/mb2.bin"; } > "$work/mb2-arch.bin"
{ mb2hdr 0 48; le16 5; le16 0; le32 20; le32 640; le32 480; le32 32; le32 0; le16 0; le16 0; le32 8; } > "$work/mb2-fb.bin"
{ mb2hdr 0 88; tail -c +17 "$work/mb2.bin" | head -c 40; le16 5; le16 1; le32 20; le32 640; le32 480; le32 32; le32 0
  le16 0; le16 0; le32 8; head -c 64 /dev/zero; } > "$work/mb2-fbopt.bin"
{ mb2hdr 0 40; le16 1; le16 0; le32 12; le32 9; le32 0; le16 0; le16 0; le32 8; } > "$work/mb2-req.bin"
{ le32 $((0x1BADB002)); le32 4; le32 $((0x100000000 - 0x1BADB006)); head -c 64 /dev/zero; } > "$work/mb1-video.bin"
{ le32 $((0x1BADB002)); le32 0; le32 $((0x100000000 - 0x1BADB002)); head -c 64 /dev/zero; } > "$work/mb1-noaddr.bin"
g64="$top_builddir/guests/mb1-elf64.elf"
{ head -c 72 "$g64"; le32 $((0x7fffff00)); tail -c +77 "$g64"; } > "$work/mb1-badph.elf"
refused_guest() { # what file message
	standin "--guest $1" 3 'exit 0' --guest "$2"
	[ ! -e "$vmx/ran" ] && saw "no engine started; says why" "$work/e" "$3" ||
		{ fail "an engine started for $1"; cat "$work/e"; }
}
refused_guest "Multiboot2 for another architecture" "$work/mb2-arch.bin" \
	'mb2-arch.bin: a Multiboot kernel the hypervisor cannot load: a Multiboot2 header for another architecture than i386 (file offset 0x4)'
refused_guest "Multiboot2 asking for a framebuffer" "$work/mb2-fb.bin" 'asks for a framebuffer, which the hypervisor does not set'
refused_guest "Multiboot2 requesting ELF sections (tag 9)" "$work/mb2-req.bin" \
	'requests an information tag the hypervisor does not give (not optional) (file offset 0x18)'
refused_guest "Multiboot asking for a video mode" "$work/mb1-video.bin" 'asks for a video mode (flag 2)'
refused_guest "Multiboot without addresses, not ELF" "$work/mb1-noaddr.bin" 'no a.out addresses in the Multiboot header, and not an ELF file'
refused_guest "ELF64 Multiboot with a segment outside the file" "$work/mb1-badph.elf" \
	"a segment's bytes lie outside the file (file offset 0x40)"
# accepted: the stand-in engine runs, and gets the modules one a line
for g in "$work/mb2.bin" "$work/mb2-fbopt.bin" "$g64" "$top_builddir/guests/mb2-elf32.elf" \
	"$top_builddir/guests/mb2-elf64.elf" "$top_builddir/guests/hello.elf" "$top_builddir/guests/long64.elf"; do
	standin "--guest ${g##*/} is loadable" 1 'exit 124' --guest "$g" --timeout 5
	[ -e "$vmx/ran" ] || fail "no engine started for ${g##*/}"
done
printf 'module text\n' > "$work/m0.txt"
standin "--guest with two modules" 1 'printf "%s" "$GUEST_MODULES" > "$1/mods"; exit 124' \
	--guest "$g64" --module "$work/m0.txt" --module "$work/mb2.bin" --timeout 5 --keep "$work/keep"
[ "$(cat "$work/keep/mods")" = "$work/m0.txt
$work/mb2.bin" ] && pass "  ...the run script gets them in GUEST_MODULES, one a line" ||
	{ fail "GUEST_MODULES"; cat "$work/keep/mods"; }
cp "$work/m0.txt" "$work/bad name.txt"
standin "--module with a blank in its name" 3 'exit 0' --guest "$g64" --module "$work/bad name.txt"
saw "says why" "$work/e" "a module's file name may hold only letters, digits"
standin "--module that does not exist" 3 'exit 0' --guest "$g64" --module "$work/nothere"
saw "says why" "$work/e" "nothere: No such file or directory"
head -c 4190000 /dev/zero > "$work/big.mod"
standin "--guest and modules over 4 MiB together" 3 'exit 0' --guest "$g64" --module "$work/big.mod"
saw "says the limit" "$work/e" 'bytes with its modules: the hypervisor loads a guest and its modules of at most 4 MiB together'
expect_status 2 "--module with --kernel" "$bin" record --kernel a --module "$work/m0.txt" -o "$out"
set --; for i in $(seq 17); do set -- "$@" --module "$work/m0.txt"; done
expect_status 2 "17 modules" "$bin" record --guest "$g64" "$@" -o "$out"
standin "--guest a bzImage" 3 'exit 0' --guest "$work/old"
[ ! -e "$vmx/ran" ] && pass "  ...no engine started" || fail "an engine started for a bzImage"
saw "points to --kernel" "$work/e" 'a Linux bzImage, not a Multiboot kernel: record it with --kernel'
{ cat "$work/mb.elf"; head -c 5000000 /dev/zero; } > "$work/big.elf"
standin "--guest larger than the hypervisor loads" 3 'exit 0' --guest "$work/big.elf"
[ ! -e "$vmx/ran" ] && pass "  ...no engine started" || fail "an engine started for a 5 MB guest"
saw "says the limit" "$work/e" 'big.elf: 5000032 bytes: the hypervisor loads a guest and its modules of at most 4 MiB together'

# --timeout expiring before the hypervisor began: a timeout verdict, exit 1
standin "a run that times out before recording began" 1 'exit 124' --guest "$work/mb.elf" --timeout 8
saw "reported as a timeout" "$work/o" 'timed out after 8 s, before the hypervisor started recording: no trace written'
grep -q 'HELLO' "$work/o" "$work/e" && fail "the timeout is reported as a missing HELLO" ||
	pass "  ...not as a missing HELLO packet"
[ ! -e "$out" ] && grep -q 'the guest booted' "$out.console" && grep -q 'hv: started' "$out.hv.log" &&
	pass "  ...no trace; the console and the log beside -o" || { fail "files beside -o"; ls -l "$work"; }

# the engine fails: what it said, not "is it installed?"
standin "Bochs fails" 3 'echo "bochs: could not open ROM image" > "$1/bochs.out"; exit 1' --guest "$work/mb.elf"
saw "Bochs's own reason" "$work/e" 'Bochs stopped with exit status 1 before the hypervisor started recording: bochs: could not open ROM image'
grep -q 'installed' "$work/e" && fail "asks whether Bochs is installed" || pass "  ...not 'is it installed?'"
grep -q 'could not open ROM' "$out.engine.log" && grep -q 'the guest booted' "$out.console" &&
	pass "  ...its output, the console and the log beside -o" || { fail "files beside -o"; ls -l "$work"; }
saw "and says where they are" "$work/e" "console, logs and output: $out.console, $out.hv.log, $out.engine.log$"
standin "QEMU fails" 3 'echo "qemu-system-x86_64: -accel kvm: failed to initialize kvm: Permission denied" > "$1/qemu.out"; exit 1' \
	--guest "$work/mb.elf" --engine qemu-kvm
saw "QEMU's own reason" "$work/e" 'QEMU stopped with exit status 1 .*failed to initialize kvm: Permission denied'
standin "QEMU without /dev/kvm" 3 'exit 126' --guest "$work/mb.elf" --engine qemu-kvm
saw "points to a section that exists" "$work/e" 'see shadowvt(1), record --engine'
mkdir -p "$work/bin" "$work/bin2"
ln -s "$(command -v sh)" "$work/bin/sh"
SPATH="$work/bin" standin "no Bochs on PATH" 3 'exit 127' --guest "$work/mb.elf"
saw "says Bochs is not installed" "$work/e" 'Bochs is not installed: no bochs on PATH'
printf '#!/bin/sh\nexit 0\n' > "$work/bin2/bochs"; chmod +x "$work/bin2/bochs"
SPATH="$work/bin:$work/bin2" standin "Bochs installed, but it cannot start" 3 \
	'echo "timeout: failed to run command: Permission denied" > "$1/bochs.out"; exit 127' --guest "$work/mb.elf"
grep -q 'not installed' "$work/e" && fail "says Bochs is not installed" ||
	saw "says what happened" "$work/e" 'Bochs did not run (.* exit status 127): timeout: failed to run command'
finish record-cmd
