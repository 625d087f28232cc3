# tests/testlib.sh — sourced by the script tests: a scratch directory
# ($work, removed on exit), "ok"/"FAIL" lines with a failure count, and
# expect_status.  A script ends with `finish NAME`.
work=$(mktemp -d); trap 'rm -rf "$work"' EXIT
fails=0
pass() { echo "ok - $1"; }
fail() { echo "FAIL - $1"; fails=$((fails + 1)); }
expect_status() { # status description command...
	want=$1; what=$2; shift 2
	"$@" > "$work/out" 2> "$work/err"; rc=$?
	if [ "$rc" -eq "$want" ]; then pass "$what (exit $rc)"; else
		fail "$what: exit $rc, expected $want"; head -n 20 "$work/out" "$work/err"; fi
}
# Tools a test needs: missing is a failure, never a skip.
need() {
	for tool; do
		command -v "$tool" >/dev/null 2>&1 || { echo "FAIL - $tool is not installed"; exit 1; }
	done
}
finish() {
	echo "$1: $fails failure(s)"
	[ "$fails" -eq 0 ]
}
# IA32_PAT at the end of a hypervisor's run (vmx/vmx.c, hv.txt's "hv:
# IA32_PAT switched per world" line; COM3's lines end in CR LF): the
# guest's, the hypervisor's, and the hypervisor's when it started the
# guest; nothing if the line is not there.
pat_worlds() {
	sed -n "s/^hv: IA32_PAT switched per world: the guest's \(0x[0-9a-f]*\), the hypervisor's \(0x[0-9a-f]*\) (\(0x[0-9a-f]*\) when it started the guest)\r*\$/\1 \2 \3/p" "$1"
}
