#!/bin/sh
# shadowvt walk and demo from the outside: every example in the EXAMPLES
# section of shadowvt(1) is run and its output compared (so the manual
# cannot drift from the program), then the bad-input cases of the manual's
# EXIT STATUS section.
set -u
bin="$top_builddir/shadowvt"
man="$top_srcdir/man/shadowvt.1"
work=$(mktemp -d); trap 'rm -rf "$work"' EXIT
cd "$work" || exit 1
mkdir bin && ln -s "$bin" bin/shadowvt
PATH="$work/bin:$PATH"; export PATH
fails=0
pass() { echo "ok - $1"; }
fail() { echo "FAIL - $1"; fails=$((fails + 1)); }

# ---- the manual's examples --------------------------------------------
# Within EXAMPLES, literal blocks hold "$ command" lines each followed by the
# output it must print.
awk '/^\.Sh EXAMPLES/ {ex=1; next} /^\.Sh / {ex=0}
     ex && /^\.Bd -literal/ {lit=1; next} ex && /^\.Ed/ {lit=0; next}
     ex && lit {print}' "$man" > examples.txt
nex=0
run_example() {
	[ -n "$cmd" ] || return 0
	nex=$((nex + 1))
	got=$(sh -c "$cmd" 2>&1)
	if [ "$got" = "$(printf '%s' "$want")" ]; then
		pass "example: $cmd"
	else
		fail "example: $cmd"
		printf 'expected:\n%s\ngot:\n%s\n' "$want" "$got"
	fi
}
cmd=""; want=""
while IFS= read -r line; do
	case "$line" in
	'$ '*) run_example; cmd=${line#\$ }; want="" ;;
	*) want="${want:+$want
}$line" ;;
	esac
done < examples.txt
run_example
[ "$nex" -ge 8 ] || fail "expected at least 8 examples in shadowvt(1), found $nex"

# ---- every demo step is one valid JSON object -----------------------------
n=$(shadowvt demo --json | jq -c . | wc -l)
[ "$n" -eq 9 ] && pass "demo --json prints 9 objects" || fail "demo --json printed $n objects"
shadowvt demo > demo.txt && grep -q '#PF error code 0x9 (P RSVD)' demo.txt &&
	grep -q '(2 MiB page)' demo.txt && grep -q '(1 GiB page)' demo.txt &&
	pass "demo tour text" || fail "demo tour text"

# ---- text output names each level ---------------------------------------
shadowvt demo -o demo.img >/dev/null
shadowvt walk --mem demo.img --cr3 0x1000 --va 0x400123 --access read > t.txt
grep -q '^  PML4E @0x00001000' t.txt && grep -q '^  PTE ' t.txt && grep -q '=> gpa 0x5123 (4 KiB page)' t.txt &&
	pass "text output" || { fail "text output"; cat t.txt; }

# ---- JSON shape of a fault and of a success -------------------------------
shadowvt walk --mem demo.img --cr3 0x1000 --va 0x401000 --access read --cpl 3 --json > f.json
jq -e '.fault == true and .error_code == "0x4" and .cr2 == "0x401000" and .mode == "4level" and (.levels | length) == 4
       and .levels[3].name == "PTE" and .levels[3].entry == "0x0" and (has("gpa") | not)' f.json >/dev/null &&
	pass "fault JSON" || { fail "fault JSON"; cat f.json; }
shadowvt walk --mem demo.img --cr3 0x1000 --va 0x40001000 --access read --json > s.json
jq -e '.fault == false and .gpa == "0x40001000" and .page_size == 1073741824
       and (.levels | length) == 2 and .levels[1].leaf == true and .levels[1].table == "0x2000"
       and .levels[1].gpa == "0x2008" and .levels[0].rights.user == true and .levels[1].rights.user == false' s.json >/dev/null &&
	pass "success JSON" || { fail "success JSON"; cat s.json; }
shadowvt walk --mem demo.img --cr3 0x1000 --no-1g --va 0x40001000 --access read --json | jq -e '.error_code == "0x9"' >/dev/null &&
	pass "--no-1g makes PDPTE.PS reserved" || fail "--no-1g"

# ---- exit statuses -------------------------------------------------------
expect_status() { # status description command...
	want_rc=$1; what=$2; shift 2
	"$@" > out.txt 2> err.txt; rc=$?
	if [ "$rc" -eq "$want_rc" ]; then pass "$what (exit $rc)"; else
		fail "$what: exit $rc, expected $want_rc"; cat out.txt err.txt; fi
}
expect_status 0 "translation" shadowvt walk --mem demo.img --cr3 0x1000 --va 0x400123 --access read
expect_status 1 "page fault" shadowvt walk --mem demo.img --cr3 0x1000 --va 0x401000 --access read
expect_status 2 "no --mem" shadowvt walk --va 0x1000 --access read
# the parser's messages (sim/util/args.c), each with the generated usage
said() { # description line
	grep -qxF -- "$2" err.txt && pass "  ...$1" || { fail "$1: no '$2'"; cat err.txt; }
}
said "says what is required" "shadowvt walk: --mem IMAGE is required"
said "shows the usage" "usage: shadowvt walk --mem IMAGE --va ADDR --access read|write|fetch [--cr0 X]"
expect_status 2 "no --va" shadowvt walk --mem demo.img --cr3 0x1000 --access read
expect_status 2 "no --access" shadowvt walk --mem demo.img --cr3 0x1000 --va 0
expect_status 2 "bad access kind" shadowvt walk --mem demo.img --cr3 0x1000 --va 0 --access exec
expect_status 2 "unknown option" shadowvt walk --mem demo.img --cr3 0x1000 --va 0 --access read --bogus
said "names the option" "shadowvt walk: unknown option --bogus"
expect_status 2 "option without value" shadowvt walk --mem demo.img --cr3 0x1000 --access read --va
said "says which value is missing" "shadowvt walk: option --va needs a value ADDR"
expect_status 2 "option given twice" shadowvt walk --mem demo.img --va 0 --va 1 --access read
said "says it was given twice" "shadowvt walk: option --va given more than once"
expect_status 2 "unknown access kind" shadowvt walk --mem demo.img --va 0 --access exec
said "lists the kinds" "shadowvt walk: --access: 'exec' is not read, write or fetch"
expect_status 2 "malformed number" shadowvt walk --mem demo.img --cr3 0x1000 --va 0x12zz --access read
expect_status 2 "negative number" shadowvt walk --mem demo.img --cr3 0x1000 --va -1 --access read
expect_status 2 "number too large" shadowvt walk --mem demo.img --cr3 0x1000 --va 0x10000000000000000 --access read
expect_status 2 "cpl 4" shadowvt walk --mem demo.img --cr3 0x1000 --va 0 --access read --cpl 4
said "gives the range" "shadowvt walk: --cpl: '4' is not a number in 0..3"
expect_status 2 "cpl in hexadecimal" shadowvt walk --mem demo.img --cr3 0x1000 --va 0 --access read --cpl 0x3
said "decimal only" "shadowvt walk: --cpl: '0x3' is not a number in 0..3"
expect_status 0 "cpl 03 is decimal 3" shadowvt walk --mem demo.img --cr3 0x1000 --va 0x400123 --access read --cpl 03 --json
jq -e '.fault == false' out.txt > /dev/null && pass "  ...a user read that translates" || fail "--cpl 03"
expect_status 0 "--help" shadowvt walk --help
grep -q '^      --maxphyaddr N .*; N in 32\.\.52$' out.txt && grep -q '^usage: shadowvt walk ' out.txt &&
	pass "  ...lists the options with their ranges" || { fail "walk --help"; cat out.txt; }
expect_status 2 "maxphyaddr 53" shadowvt walk --mem demo.img --cr3 0x1000 --va 0 --access read --maxphyaddr 53
expect_status 2 "implicit fetch" shadowvt walk --mem demo.img --cr3 0x1000 --va 0 --access fetch --implicit
expect_status 2 "long mode without PAE" shadowvt walk --mem demo.img --cr3 0x1000 --va 0 --access read --cr4 0
expect_status 2 "PG without PE" shadowvt walk --mem demo.img --cr3 0x1000 --va 0 --access read --cr0 0x80000000
expect_status 2 "64-bit va in 32-bit paging" shadowvt walk --mem demo.img --cr3 0x1000 --va 0x100000000 --access read --cr4 0 --efer 0
expect_status 2 "stray argument" shadowvt walk --mem demo.img --cr3 0x1000 --va 0 --access read extra
expect_status 2 "unknown command" shadowvt frobnicate
expect_status 3 "missing image" shadowvt walk --mem no-such-file --va 0 --access read
grep -q 'no-such-file' err.txt && pass "error names the file" || fail "error names the file"
expect_status 3 "image is a directory" shadowvt walk --mem . --va 0x400000 --access read --cr3 0x1000
expect_status 3 "demo -o into a missing directory" shadowvt demo -o no/such/dir/img

# ---- paging off, 32-bit and PAE images built by hand ----------------------
# le32/le64 OFFSET VALUE FILE: store a little-endian value.
le() { # bytes offset value file
	v=$3; i=0; s=""
	while [ $i -lt "$1" ]; do s="$s$(printf '\\%03o' $((v & 255)))"; v=$((v >> 8)); i=$((i + 1)); done
	printf "$s" | dd of="$4" bs=1 seek="$2" conv=notrunc status=none
}
: > p.img
shadowvt walk --mem p.img --cr0 0x11 --cr4 0 --efer 0 --va 0x12345678 --access write --json | jq -e '.gpa == "0x12345678" and (.levels | length) == 0' >/dev/null &&
	pass "paging off is the identity" || fail "paging off"
# 32-bit: PD at 0x1000, PDE[1] -> 4 MiB page at 0x1_0040_0000 (PSE-36: PDE bits 20:13 = 0x01)
le 4 $((0x1000 + 4)) $((0x400000 | 0x2000 | 0x80 | 0x7)) p.img
shadowvt walk --mem p.img --cr0 0x80000001 --cr4 0x10 --efer 0 --cr3 0x1000 --maxphyaddr 40 --va 0x400abc --access read --json > pse.json
jq -e '.gpa == "0x100400abc" and .page_size == 4194304 and .ad_updates[0].new == "0x4020a7" and .mode == "2level"' pse.json >/dev/null &&
	pass "32-bit PSE-36 4 MiB page" || { fail "PSE-36"; cat pse.json; }
shadowvt walk --mem p.img --cr0 0x80000001 --cr4 0x10 --efer 0 --cr3 0x1000 --maxphyaddr 32 --va 0x400abc --access read --json | jq -e '.error_code == "0x9"' >/dev/null &&
	pass "PSE-36 bits above MAXPHYADDR are reserved" || fail "PSE-36 reserved"
# PAE: PDPT at 0x2000 with a reserved bit (bit 5) in PDPTE 0 -> #GP at load.
le 8 $((0x2000)) $((0x3000 | 0x21)) p.img
expect_status 1 "PAE PDPTE with reserved bits" shadowvt walk --mem p.img --cr4 0x20 --efer 0 --cr3 0x2000 --va 0 --access read --json
jq -e '.vector == "#GP"' out.txt >/dev/null && pass "PDPTE #GP JSON" || fail "PDPTE #GP JSON"

echo "walk-cmd: $nex manual examples, $fails failure(s)"
[ "$fails" -eq 0 ]
