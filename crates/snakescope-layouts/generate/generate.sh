#!/usr/bin/env bash
# Regenerates src/v3_XX.rs from an interpreter's own headers.
# usage: generate.sh PYTHON_PREFIX   (e.g. ~/.pyenv/versions/3.12.1)
# Only for 3.12 and older: 3.13+ publish _Py_DebugOffsets and need no file.
set -euo pipefail
prefix=$1
here=$(cd "$(dirname "$0")" && pwd)
inc=$(echo "$prefix"/include/python3.*)
minor=$(basename "$inc" | sed 's/python3\.//')
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
gcc -I"$inc" "$here/offsets.c" -o "$tmp/offsets"
"$tmp/offsets" > "$here/../src/v3_${minor}.rs"
echo "wrote src/v3_${minor}.rs from $inc"
