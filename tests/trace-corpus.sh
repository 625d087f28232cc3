#!/bin/sh
# The trace reader's fuzz target over its seed corpus (valid, truncated and
# damaged traces): every file must be handled without a crash.
set -eu
n=$(ls "$top_srcdir"/tests/trace-corpus | wc -l)
[ "$n" -ge 5 ] || { echo "trace corpus has only $n files"; exit 1; }
"$top_builddir"/tests/fuzz-trace "$top_srcdir"/tests/trace-corpus/*
