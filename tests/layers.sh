#!/bin/sh
# The tree's layers and the direction between them (docs/style.md,
# HACKING.md "Layout"): each layer includes only itself and the layers
# below it, so the dependency graph follows the data flow.
#   src/             the core: its own headers; <stdint.h> <stddef.h> <stdbool.h>
#   common/          the shared layer: src/svt.h, its own; those three and <string.h>
#   vmx/             the hypervisor: src/svt.h, common/, its own; and <stdarg.h>
#   traces/          the trace library: src/svt.h, common/, its own
#   sim/G/           a group of the host tool: src/svt.h, common/, traces/, and the
#                    groups up to its own in SIM_GROUPS (Makefile.am) order
# Of the core, only src/svt.h (with the emul.h it includes) is public.
# A quoted include is looked up in the including file's folder, then in
# the folders the layer may use; one found only in another folder of the
# tree is a violation; config.h (generated) is the one other allowed.
set -u
. "$top_srcdir/tests/testlib.sh"
cd "$top_srcdir" || exit 1

groups=$(sed -n 's/^SIM_GROUPS = //p' Makefile.am)
[ -n "$groups" ] || { fail "no SIM_GROUPS in Makefile.am"; finish layers; }
for g in $groups; do
	[ -d "sim/$g" ] || fail "SIM_GROUPS names sim/$g, which does not exist"
done
for d in sim/*/; do
	d=${d%/}
	case " $groups " in *" ${d#sim/} "*) ;; *) fail "$d is not in SIM_GROUPS" ;; esac
done
# no source directly under sim/: every file belongs to a group
for f in sim/*.c sim/*.h; do
	[ -e "$f" ] && fail "$f is in no group (sim/GROUP/)"
done

# The folders a file in $1 may include from, in search order (after its own).
allowed() {
	case $1 in
	src) echo "" ;;
	common) echo "src" ;;
	vmx) echo "common src" ;;
	traces) echo "common src" ;;
	sim/*)
		dirs="traces common src"
		for g in $groups; do
			dirs="sim/$g $dirs"
			[ "sim/$g" = "$1" ] && break
		done
		echo "$dirs" ;;
	esac
}
sysallowed() {
	case $1 in
	src) echo "stdint.h stddef.h stdbool.h" ;;
	common) echo "stdint.h stddef.h stdbool.h string.h" ;;
	vmx) echo "stdint.h stddef.h stdbool.h stdarg.h" ;;
	*) echo "*" ;;
	esac
}

nfiles=0 nincl=0
for dir in src common vmx traces $(for g in $groups; do echo "sim/$g"; done); do
	ok_dirs=$(allowed "$dir")
	ok_sys=$(sysallowed "$dir")
	for f in "$dir"/*.c "$dir"/*.h "$dir"/*.S; do
		[ -f "$f" ] || continue
		nfiles=$((nfiles + 1))
		# quoted includes
		for h in $(sed -n 's/^[ \t]*#[ \t]*include[ \t]*"\([^"]*\)".*/\1/p' "$f"); do
			nincl=$((nincl + 1))
			[ -f "$dir/$h" ] && continue
			found=
			for d in $ok_dirs; do
				if [ -f "$d/$h" ]; then
					found=$d
					break
				fi
			done
			if [ -n "$found" ]; then
				if [ "$found" = src ] && [ "$dir" != src ]; then
					case $h in svt.h | emul.h) ;; *) fail "$f includes $h, the core's internal header" ;; esac
				fi
				continue
			fi
			[ "$h" = config.h ] && continue
			where=$(cd "$top_srcdir" && ls src/"$h" common/"$h" vmx/"$h" traces/"$h" sim/*/"$h" 2>/dev/null | head -n 1)
			if [ -n "$where" ]; then
				fail "$f includes $where: $dir may include only from: ${ok_dirs:-its own folder}"
			else
				fail "$f includes \"$h\", which is nowhere in the tree"
			fi
		done
		# system includes
		[ "$ok_sys" = "*" ] && continue
		for h in $(sed -n 's/^[ \t]*#[ \t]*include[ \t]*<\([^>]*\)>.*/\1/p' "$f"); do
			case " $ok_sys " in *" $h "*) ;; *) fail "$f includes <$h>: $dir may include only $ok_sys" ;; esac
		done
	done
done
[ "$nfiles" -gt 100 ] && [ "$nincl" -gt 150 ] &&
	pass "checked $nfiles files and $nincl quoted includes" ||
	fail "only $nfiles files and $nincl includes checked"
finish layers
