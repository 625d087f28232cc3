#!/bin/sh
# Every manual page passes mandoc -Tlint without warnings.
set -eu
status=0
n=0
for page in "$top_srcdir"/man/*.[1-9]; do
	n=$((n + 1))
	if ! out=$("$MANDOC" -Tlint -Wwarning "$page" 2>&1) || [ -n "$out" ]; then
		echo "$out"
		status=1
	fi
done
[ "$n" -gt 0 ] || { echo "no manual pages found"; exit 1; }
# every section of shadowvt(1) a message or a --help line sends the user to exists
grep -rhoE '"[^"]*shadowvt\(1\), [A-Z][A-Z ]*[A-Z]' "$top_srcdir/sim" | sed 's/.*shadowvt(1), //' |
	sort -u > "${TMPDIR:-/tmp}/man-lint.$$"
while read -r sec; do
	grep -qE "^\.S[hs] $sec\$" "$top_srcdir/man/shadowvt.1" ||
		{ echo "a message points to shadowvt(1), $sec: no such section"; status=1; }
done < "${TMPDIR:-/tmp}/man-lint.$$"
rm -f "${TMPDIR:-/tmp}/man-lint.$$"
echo "$n manual page(s) checked"
exit $status
