#!/bin/sh
# The freestanding build of the core must not reference any symbol it does
# not define itself: no libc, no compiler runtime, no sanitizer hooks.
set -eu
lib="$top_builddir/src/libsvtcore-fs.a"
[ -f "$lib" ] || { echo "missing $lib"; exit 1; }
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
"$NM" -g --defined-only "$lib" | awk 'NF >= 3 {print $3}' | sort -u > "$tmp/defined"
"$NM" -u "$lib" | awk 'NF >= 2 && $1 == "U" {print $2}' | sort -u > "$tmp/undefined"
[ -s "$tmp/defined" ] || { echo "no symbols defined in $lib?"; exit 1; }
grep -qx svt_walk "$tmp/defined" || { echo "svt_walk is not in $lib"; exit 1; }
comm -23 "$tmp/undefined" "$tmp/defined" > "$tmp/missing"
if [ -s "$tmp/missing" ]; then
	echo "the freestanding core references symbols it does not define:"
	cat "$tmp/missing"
	exit 1
fi
echo "freestanding core: $(wc -l < "$tmp/defined") symbols defined, none undefined"
