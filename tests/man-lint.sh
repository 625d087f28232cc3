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
echo "$n manual page(s) checked"
exit $status
