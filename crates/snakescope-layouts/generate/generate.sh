#!/usr/bin/env bash
# Regenerates src/v3_XX.rs from an interpreter's own headers.
# usage: generate.sh [--check] PYTHON_PREFIX   (e.g. ~/.pyenv/versions/3.12.1)
#   --check: compare with the committed file instead of writing it (exit 1 if different)
# Only for 3.12 and older (3.8-3.12): 3.13+ publish _Py_DebugOffsets and need no file.
set -euo pipefail
check=0
if [ "${1:-}" = --check ]; then check=1; shift; fi
prefix=$1
here=$(cd "$(dirname "$0")" && pwd)
inc=$(echo "$prefix"/include/python3.*)
minor=$(basename "$inc" | sed 's/python3\.//')
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
gcc -I"$inc" "$here/offsets.c" -o "$tmp/offsets"
"$tmp/offsets" | rustfmt --edition 2021 > "$tmp/out.rs"
target="$here/../src/v3_${minor}.rs"
if [ $check = 1 ]; then
    diff -u "$target" "$tmp/out.rs" && echo "src/v3_${minor}.rs matches $inc"
else
    cp "$tmp/out.rs" "$target"
    echo "wrote src/v3_${minor}.rs from $inc"
fi
