#!/bin/sh
# Commands are leaves: a sim/cmd/cmd-*.c file exports its struct svt_cmd entry
# (svt_cmd_NAME, listed in sim/cmd/shadowvt.c) and nothing else, and only
# shadowvt.c refers to the entries.  Code that other files need lives in
# a library file with its own header.  Checked with nm on the built
# objects: the global symbols each command object defines, and the
# undefined references of every other object (the rest of
# sim/libsvtsim.a, shadowvt, the tests and the benchmark).
set -eu
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
lib="$top_builddir/sim/libsvtsim.a"
[ -f "$lib" ] || { echo "FAIL - $lib is missing"; exit 1; }

# "member symbol" for an archive's global definitions or undefined references
members() { "$NM" -A "$@" "$lib" | awk -F: 'NF >= 3 { n = split($NF, f, " "); print $(NF - 1), f[n] }'; }
members -g --defined-only | sort -u > "$tmp/defs"
members -u | sort -u > "$tmp/lib-refs"
# "object symbol" for the undefined references of every other object
find "$top_builddir" -name '*.o' ! -name 'libsvtsim_a-*' | sort | while read -r o; do
	"$NM" -u "$o" | awk -v o="${o#"$top_builddir"/}" 'NF >= 2 { print o, $NF }'
done > "$tmp/obj-refs"
cat "$tmp/lib-refs" "$tmp/obj-refs" > "$tmp/refs"

fails=0
grep -- '-cmd-[a-z0-9-]*\.o ' "$tmp/defs" > "$tmp/cmd-defs" || true
ncmd=$(awk '{ print $1 }' "$tmp/cmd-defs" | sort -u | wc -l)
nentry=$(grep -c ' svt_cmd_[a-z0-9]*$' "$tmp/cmd-defs" || true)
if [ "$ncmd" -lt 10 ] || [ "$nentry" -lt "$ncmd" ]; then
	echo "FAIL - found $ncmd command objects and $nentry entries in $lib; expected one or more each"
	fails=$((fails + 1))
fi

# 1. a command object defines its entry and nothing else
while read -r member sym; do
	case $sym in svt_cmd_*|__*) continue ;; esac   # __*: the compiler's (__odr_asan.svt_cmd_x)
	src="sim/cmd/$(echo "$member" | sed 's/^libsvtsim_a-//; s/\.o$/.c/')"
	users=$(awk -v s="$sym" '$2 == s { print $1 }' "$tmp/refs" | sort -u | tr '\n' ' ')
	echo "FAIL - $src exports $sym${users:+; used by $users}(move it to a library file)"
	fails=$((fails + 1))
done < "$tmp/cmd-defs"

# 2. the entries are for shadowvt.c alone
awk '$2 ~ /^svt_cmd_/ && $1 !~ /(^|[-\/])shadowvt\.o$/ { print }' "$tmp/refs" | sort -u > "$tmp/entry-users"
while read -r obj sym; do
	echo "FAIL - $obj refers to $sym: only sim/cmd/shadowvt.c may use a command's entry"
	fails=$((fails + 1))
done < "$tmp/entry-users"

[ "$fails" -eq 0 ] && echo "ok - $ncmd command objects export only their $nentry entries, used only by shadowvt.c"
echo "cmd-leaves: $fails failure(s)"
[ "$fails" -eq 0 ]
