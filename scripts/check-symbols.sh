#!/bin/sh
# check-symbols.sh - the shared library exports exactly the functions that the
# public header declares: `nm -D --defined-only LIB` against every
# `ffr_name(` declared in HEADER (function pointer typedefs excluded).
# Usage: sh scripts/check-symbols.sh build/libffrelax.so include/ffrelax.h
# Exit 0 when both lists agree; else lists the differences and exits 1.
set -eu
lib=${1:?usage: check-symbols.sh LIB HEADER}
hdr=${2:?usage: check-symbols.sh LIB HEADER}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
# Declared: identifiers ffr_xxx directly followed by '(' in the preprocessed
# header (the compiler strips the comments), not the (*ffr_xxx_fn) typedefs.
${CC:-cc} -E -P -x c "$hdr" | grep -o '[ *]ffr_[A-Za-z0-9_]*[ ]*(' | sed -e 's/^[ *]//' -e 's/[ (]*$//' |
  sort -u > "$tmp/declared"
[ -s "$tmp/declared" ] || { echo "check-symbols: no ffr_ function found in $hdr"; exit 1; }
nm -D --defined-only "$lib" | awk '{ print $NF }' | grep -v -x -e _init -e _fini | sort -u > "$tmp/exported"
rc=0
extra=$(comm -13 "$tmp/declared" "$tmp/exported")
missing=$(comm -23 "$tmp/declared" "$tmp/exported")
if [ -n "$extra" ]; then
    echo "check-symbols: exported by $lib but not declared in $hdr:"; echo "$extra" | sed 's/^/  /'; rc=1
fi
if [ -n "$missing" ]; then
    echo "check-symbols: declared in $hdr but not exported by $lib:"; echo "$missing" | sed 's/^/  /'; rc=1
fi
[ $rc -eq 0 ] && echo "check-symbols: $(wc -l < "$tmp/exported") symbols, all declared ffr_ functions of $hdr"
exit $rc
