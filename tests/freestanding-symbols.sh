#!/bin/sh
# The freestanding builds must not reference any symbol they do not define
# themselves: the core (src/) nothing at all, no libc, no compiler
# runtime, no sanitizer hooks; the shared layer (common/) nothing but the
# core's public functions and the four memory primitives GCC requires of a
# freestanding environment (common/common_deps.h).
set -eu
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
defined() { "$NM" -g --defined-only "$1" | awk 'NF >= 3 {print $3}' | sort -u; }
undefined() { "$NM" -u "$1" | awk 'NF >= 2 && $1 == "U" {print $2}' | sort -u; }

core="$top_builddir/src/libsvtcore-fs.a"
common="$top_builddir/common/libsvtcommon-fs.a"
for lib in "$core" "$common"; do
	[ -f "$lib" ] || { echo "missing $lib"; exit 1; }
done

defined "$core" > "$tmp/core.def"
undefined "$core" > "$tmp/core.undef"
[ -s "$tmp/core.def" ] || { echo "no symbols defined in $core?"; exit 1; }
grep -qx svt_walk "$tmp/core.def" || { echo "svt_walk is not in $core"; exit 1; }
comm -23 "$tmp/core.undef" "$tmp/core.def" > "$tmp/missing"
if [ -s "$tmp/missing" ]; then
	echo "the freestanding core references symbols it does not define:"
	cat "$tmp/missing"
	exit 1
fi
echo "freestanding core: $(wc -l < "$tmp/core.def") symbols defined, none undefined"

defined "$common" > "$tmp/common.def"
undefined "$common" > "$tmp/common.undef"
grep -qx svt_recorder_fault "$tmp/common.def" || { echo "svt_recorder_fault is not in $common"; exit 1; }
printf '%s\n' memcmp memcpy memmove memset > "$tmp/allowed"
# the core's public functions: those svt.h declares and the core defines
grep -o 'svt_[a-z0-9_]*(' "$top_srcdir/src/svt.h" "$top_srcdir/src/emul.h" | sed 's/.*:\(.*\)(/\1/' |
	sort -u | comm -12 - "$tmp/core.def" >> "$tmp/allowed"
sort -u -o "$tmp/allowed" "$tmp/allowed"
comm -23 "$tmp/common.undef" "$tmp/common.def" | comm -23 - "$tmp/allowed" > "$tmp/missing"
if [ -s "$tmp/missing" ]; then
	echo "the freestanding shared layer references symbols outside the core's interface and"
	echo "the four memory primitives:"
	cat "$tmp/missing"
	exit 1
fi
echo "freestanding shared layer: $(wc -l < "$tmp/common.def") symbols defined; it uses only" \
	"$(comm -23 "$tmp/common.undef" "$tmp/common.def" | tr '\n' ' ')"
