#!/usr/bin/env bash
# Runs tests/abi/check.cpp against the include/ folder of every TensorRT 10.x tag of a local clone
# (or bare mirror) of github.com/NVIDIA/TensorRT, and writes one `name value` file per tag.
#
# Usage: tests/abi/check-v10.sh MIRROR [OUTDIR]
#   MIRROR  a git directory of NVIDIA/TensorRT (bare or not) with the v10.* tags
#   OUTDIR  where to write TAG.txt (default: target/abi-v10)
# Then prints one table: each fact, and its value at every tag (-1: absent).
# tests/trt/trt_abi.rs (test `v10_tags_match_table`, run when TRT_DUMP_TRT_MIRROR names the mirror)
# compares those files with src/trt/abi/v10.rs. Nothing is fetched and nothing is kept but OUTDIR.
set -euo pipefail
mirror=${1:?usage: check-v10.sh MIRROR [OUTDIR]}
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
out=${2:-$root/target/abi-v10}
cxx=${CXX:-c++}
mkdir -p "$out"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

tags=$(git -C "$mirror" tag --list 'v10.*' | sort -V)
[ -n "$tags" ] || { echo "check-v10.sh: no v10.* tags in $mirror" >&2; exit 1; }
for tag in $tags; do
    inc="$tmp/$tag/include"
    mkdir -p "$inc"
    for f in $(git -C "$mirror" ls-tree --name-only "$tag" include/ | grep '\.h$'); do
        git -C "$mirror" show "$tag:$f" > "$tmp/$tag/$f"
    done
    "$cxx" -std=c++20 -O0 -w -I "$inc" -I "$here/stub" "$here/check.cpp" -o "$tmp/$tag/check"
    "$tmp/$tag/check" > "$out/$tag.txt"
    echo "checked $tag -> $out/$tag.txt" >&2
done

# One row per fact, one column per tag.
set -- $tags
{
    printf '%-48s' fact
    for t in "$@"; do printf ' %8s' "${t#v}"; done
    printf '\n'
    cut -d' ' -f1 "$out/$1.txt" | while read -r name; do
        printf '%-48s' "$name"
        for t in "$@"; do
            printf ' %8s' "$(awk -v n="$name" '$1 == n { print $2 }' "$out/$t.txt")"
        done
        printf '\n'
    done
} | tee "$out/summary.txt"
