#!/bin/sh
# tests/kut.sh [GROUP] — kvm-unit-tests' x86_64 tests (make check-kut;
# GROUP "access" for make check-kut-access), each natively in Bochs and
# under the hypervisor (`shadowvt record`): both runs must finish and
# print the same PASS/FAIL/SKIP/XFAIL/XPASS/KFAIL and SUMMARY lines, the
# FAIL lines natively must be exactly Bochs's own deviations listed in
# tests/kut-expect.txt (the one list: which tests run, on which CPU model,
# and why the others do not), and the trace must replay clean.
#
# $KUT is kvm-unit-tests' source: a clone (directory) or a release tarball;
# by default ../shared/third-party/kvm-unit-tests-*.tar.xz next to the
# source tree, or, in a git clone of a checkout that has it there (its
# origin a local directory, as `git clone . /tmp/c` makes), next to that
# checkout.  Missing source is a failure.  It is built out of the
# project's tree, in $top_builddir/kut/ (their ./configure && make), with
# one addition of ours: guests/kut-shim.c, linked in by a wrapper around
# ld (see that file).  The other adaptations to Bochs are boot arguments:
# the environment module (NR_CPUS, MEMSIZE, TEST_DEVICE: Bochs has no
# fw_cfg and no QEMU test device) and the test's name as the first word
# of its command line (argv[0], which GRUB and the hypervisor drop with
# the path).  $KUT_JOBS (default 2) Bochs machines run at once.
set -u
. "$top_srcdir/tests/testlib.sh"
need bochs grub-mkrescue xorriso make gcc ld objcopy
group=${1:-ci}
expect="$top_srcdir/tests/kut-expect.txt"
run="$top_srcdir/vmx/bochs-run.sh"
start=$(date +%s)

src=${KUT:-}
if [ -z "$src" ]; then
	origin=$(git -C "$top_srcdir" config --get remote.origin.url 2>/dev/null || true)
	for d in "$top_srcdir" ${origin:+"$origin"}; do
		[ -d "$d" ] || continue
		for f in "$d"/../shared/third-party/kvm-unit-tests-*.tar.xz; do
			[ -e "$f" ] && src=$f
		done
		[ -n "$src" ] && break
	done
fi
if [ -z "$src" ] || [ ! -e "$src" ]; then
	echo "FAIL - kvm-unit-tests' source not found (${src:-../shared/third-party/kvm-unit-tests-*.tar.xz});" \
		"set KUT to a clone or a tarball of it"
	exit 1
fi
src=$(cd "$(dirname "$src")" && pwd)/$(basename "$src")

# Build: unpack a tarball once per tarball; configure once per source.
kb="$top_builddir/kut"
mkdir -p "$kb"
if [ -f "$src" ]; then
	if [ "$(cat "$kb/src.stamp" 2>/dev/null)" != "$src" ]; then
		rm -rf "$kb/src" "$kb/build" "$kb/src.stamp"
		mkdir -p "$kb/src"
		tar -xf "$src" -C "$kb/src" --strip-components=1 ||
			{ echo "FAIL - cannot unpack $src"; exit 1; }
		echo "$src" > "$kb/src.stamp"
	fi
	ksrc="$kb/src"
else
	ksrc=$src
fi
[ -x "$ksrc/configure" ] && [ -f "$ksrc/x86/unittests.cfg" ] ||
	{ echo "FAIL - $src is not kvm-unit-tests' source (no configure, no x86/unittests.cfg)"; exit 1; }
b="$kb/build"
mkdir -p "$b"
printf '#!/bin/sh\n# the tests (flat.lds) get guests/kut-shim.c\ncase " $* " in\n' > "$b/ld-shim.new"
printf '*flat.lds*) exec ld "$@" --wrap=reset_apic %s/kut-shim.o ;;\nesac\nexec ld "$@"\n' "$b" \
	>> "$b/ld-shim.new"
chmod +x "$b/ld-shim.new"
cmp -s "$b/ld-shim.new" "$b/ld-shim" || mv "$b/ld-shim.new" "$b/ld-shim"
if [ "$(cat "$b/configured" 2>/dev/null)" != "$ksrc" ]; then
	(cd "$b" && "$ksrc/configure" --arch=x86_64 --ld="$b/ld-shim") > "$b/configure.log" 2>&1 ||
		{ echo "FAIL - kvm-unit-tests' configure"; cat "$b/configure.log"; exit 1; }
	echo "$ksrc" > "$b/configured"
fi
gcc -m64 -O1 -g -ffreestanding -fno-pic -fno-stack-protector -mno-red-zone -mno-sse -mno-sse2 \
	-Wall -Werror -I "$ksrc/lib" -I "$ksrc/lib/x86" -I "$b/lib" \
	-c "$top_srcdir/guests/kut-shim.c" -o "$b/kut-shim.o.new" ||
	{ echo "FAIL - guests/kut-shim.c does not build"; exit 1; }
if ! cmp -s "$b/kut-shim.o.new" "$b/kut-shim.o"; then
	mv "$b/kut-shim.o.new" "$b/kut-shim.o"
	rm -f "$b"/x86/*.elf "$b"/x86/*.flat
fi
t0=$(date +%s)
make -C "$b" -j2 > "$b/make.log" 2>&1 ||
	{ echo "FAIL - kvm-unit-tests' make"; tail -n 30 "$b/make.log"; exit 1; }
pass "kvm-unit-tests built in $b ($(($(date +%s) - t0)) s)"

# The environment module: one CPU, 64 MiB for the tests that ask fw_cfg
# (less than the guest's RAM both natively and under the hypervisor), no
# QEMU test device.
printf 'NR_CPUS=1\nMEMSIZE=64\nTEST_DEVICE=0\n' > "$work/env"
# The machine: 256 MiB both ways.  Under the hypervisor the guest gets the
# RAM below it (96 MiB of Bochs's default 128), too little for sieve's
# 100 MB malloc(), which natively fits.
BOCHS_MEGS=${BOCHS_MEGS:-256}; export BOCHS_MEGS
# What is compared: the report lines, the bare PASS/FAIL of the tests that
# print only that (rmap_chain), sieve's counts and access's number of
# combinations.  The console's CRs go before the match: kvm-unit-tests
# ends each line with CR LF, and `$` does not match before a CR.  Natively
# a test's last line has no CR LF at all: exit() does not wait for the
# UART, and Bochs drops the bytes it still holds (at most two: the library
# waits for THRE before each byte) at its shutdown port; the hypervisor
# waits for them before it powers off.
results='^((PASS|FAIL|SKIP|XFAIL|XPASS|KFAIL|SUMMARY)(: |$)|[a-z]+:[0-9]+ out of [0-9]+$'
results="$results|[0-9]+ tests, [0-9]+ failures$)"

# one NAME FILE CPU TIMEOUT [ARGS...]: a test natively and under the
# hypervisor, at the same time.
one() {
	name=$1 file=$2 cpu=$3 tmo=$4; shift 4
	args="$file${*:+ $*}"
	d="$work/$name"
	mkdir -p "$d"
	cp "$b/x86/$file" "$d/$file" || { fail "$name: no x86/$file in the build"; return; }
	t0=$(date +%s)
	BOCHS_CPU=$cpu GUEST_ARGS=$args GUEST_MODULES="$work/env" BOCHS_TIMEOUT=$tmo \
		sh "$run" "$d/native" "$d/$file" > /dev/null 2>&1 &
	npid=$!
	BOCHS_CPU=$cpu SHADOWVT_VMX= "$top_builddir/shadowvt" record --guest "$d/$file" \
		--guest-args "$args" --module "$work/env" --timeout "$tmo" --keep "$d/hv" \
		-o "$d/t.svt" > "$d/rec" 2>&1
	hrc=$?
	wait "$npid"; nrc=$?
	secs=$(($(date +%s) - t0))
	# xsave prints XCR0 in a format whose upper half is stale register
	# contents, different from run to run: that number is not compared.
	norm='s/XGETBV(0x[0-9a-f]*)/XGETBV(...)/'
	tr -d '\r' < "$d/native/console.txt" | grep -Ea "$results" | sed "$norm" > "$d/n.txt"
	tr -d '\r' 2>/dev/null < "$d/t.svt.console" | grep -Ea "$results" | sed "$norm" > "$d/h.txt"
	# Finished: the test called exit(), which ends Bochs at its shutdown
	# port (the exit code goes to QEMU's port 0xf4, absent in Bochs).
	sum=$(grep -a '^SUMMARY: ' "$d/n.txt")
	# No result line natively would make the comparison below vacuous.
	if [ "$nrc" -ne 124 ] && grep -q 'Shutdown port: shutdown requested' "$d/native/bochs.out" &&
	   [ -s "$d/n.txt" ]; then
		pass "$name natively ($cpu): exit() after $(wc -l < "$d/n.txt") result lines${sum:+, $sum}"
	else
		fail "$name natively ($cpu): did not exit (Bochs exit $nrc), or no result line"
		tail -n 5 "$d/native/console.txt"; echo
	fi
	# Bochs's own deviations: exactly the listed FAIL lines, or any (a
	# LINE of "*") for a test whose failures are all Bochs's
	awk -F ' [|] ' -v n="$name" '$1 == "bochs " n { print $2 }' "$expect" | sort > "$d/want"
	grep -a '^FAIL' "$d/n.txt" | sort > "$d/got"
	if [ "$(cat "$d/want")" = '*' ]; then
		pass "$name natively: $(wc -l < "$d/got") FAIL line(s), all Bochs's (kut-expect.txt)"
	elif cmp -s "$d/want" "$d/got"; then
		pass "$name natively: $(wc -l < "$d/got") FAIL line(s), each one listed in kut-expect.txt"
	else
		fail "$name natively: FAIL lines differ from kut-expect.txt (< listed, > seen)"
		diff "$d/want" "$d/got" | head -n 20
	fi
	[ "$hrc" -eq 0 ] && grep -q 'the guest powered off' "$d/rec" &&
		pass "$name under the hypervisor, recorded completely" ||
		{ fail "$name under the hypervisor (record exit $hrc)"; cat "$d/rec";
		  tail -n 5 "$d/hv/hv.txt" "$d/t.svt.console" 2>/dev/null; echo; }
	# What natively is lost at power-off, the hypervisor keeps: it waits
	# for COM1 to send its last byte before it powers off.
	[ -s "$d/t.svt.console" ] && [ -z "$(tail -c 1 "$d/t.svt.console")" ] &&
		pass "$name under the hypervisor: the console's last line is complete" ||
		fail "$name under the hypervisor: the console ends in the middle of a line"
	cmp -s "$d/n.txt" "$d/h.txt" &&
		pass "$name: the same $(wc -l < "$d/n.txt") result lines natively and under the hypervisor" ||
		{ fail "$name: results differ (< natively, > under the hypervisor)"
		  diff "$d/n.txt" "$d/h.txt" | head -n 40; }
	if [ -s "$d/t.svt" ]; then
		"$top_builddir/shadowvt" replay "$d/t.svt" > "$d/rep" 2>&1 && grep -q ': clean: ' "$d/rep" &&
			pass "$name: its trace replays clean" || { fail "$name: replay"; head -n 20 "$d/rep"; }
	fi
	sed 's/^/# /' "$d/rec"
	grep -a '^hv: exits:' "$d/hv/hv.txt" 2>/dev/null | sed 's/^/# /'
	echo "# $name: $secs s"
}

n=0
while read -r kind grp name file cpu tmo rest <&3; do
	[ "$kind" = test ] && [ "$grp" = "$group" ] || continue
	# shellcheck disable=SC2086
	one "$name" "$file" "$cpu" "$tmo" $rest < /dev/null
	n=$((n + 1))
done 3< "$expect"
[ "$n" -gt 0 ] || fail "no test of group '$group' in kut-expect.txt"
echo "# kut $group: $n tests in $(($(date +%s) - start)) s"
finish "kut-$group"
