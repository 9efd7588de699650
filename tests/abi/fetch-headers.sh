#!/usr/bin/env bash
# Makes NVIDIA's TensorRT 11.4 and TensorRT-RTX 1.3-1.7 headers available and prints their folder
# (the one holding TRT-Enterprise-11.4/, TRT-RTX-1.7/, ...). They ship inside the crates.io package
# trtx-sys 0.9.1+rtx1.7 (Apache-2.0); this never builds it, and nothing it fetches is committed.
#
# Order: $TRT_DUMP_TRT_HEADERS if set; the crate already unpacked under $CARGO_HOME/registry/src;
# its .crate in $CARGO_HOME/registry/cache (untarred into target/abi-headers); otherwise a throwaway
# manifest under target/abi-headers/fetch that depends on trtx-sys =0.9.1, then `cargo fetch`.
# Prints the folder on stdout; exits 1 with the reason on stderr.
set -euo pipefail
crate=trtx-sys-0.9.1+rtx1.7
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
target=${CARGO_TARGET_DIR:-$root/target}
cargo_home=${CARGO_HOME:-$HOME/.cargo}
work="$target/abi-headers"

usable() { [ -f "$1/TRT-Enterprise-11.4/NvInferImpl.h" ] && [ -f "$1/TRT-RTX-1.7/NvInferImpl.h" ]; }

if [ -n "${TRT_DUMP_TRT_HEADERS:-}" ]; then
    usable "$TRT_DUMP_TRT_HEADERS" || { echo "fetch-headers.sh: TRT_DUMP_TRT_HEADERS=$TRT_DUMP_TRT_HEADERS lacks TRT-Enterprise-11.4/ or TRT-RTX-1.7/" >&2; exit 1; }
    echo "$TRT_DUMP_TRT_HEADERS"; exit 0
fi

find_unpacked() {
    for d in "$cargo_home"/registry/src/*/"$crate"/TensorRT-Headers "$work/$crate/TensorRT-Headers"; do
        if usable "$d"; then echo "$d"; return 0; fi
    done
    return 1
}

untar_cached() {
    for c in "$cargo_home"/registry/cache/*/"$crate.crate"; do
        [ -f "$c" ] || continue
        mkdir -p "$work"
        tar -xzf "$c" -C "$work" "$crate/TensorRT-Headers"
        usable "$work/$crate/TensorRT-Headers" && { echo "$work/$crate/TensorRT-Headers"; return 0; }
    done
    return 1
}

find_unpacked && exit 0
untar_cached && exit 0

command -v cargo >/dev/null || { echo "fetch-headers.sh: no cargo on PATH to fetch $crate" >&2; exit 1; }
mkdir -p "$work/fetch/src"
cat > "$work/fetch/Cargo.toml" <<'TOML'
[package]
name = "trt-dump-abi-headers"
version = "0.0.0"
edition = "2021"
publish = false

[dependencies]
trtx-sys = "=0.9.1"

[workspace]
TOML
: > "$work/fetch/src/lib.rs"
echo "fetch-headers.sh: fetching $crate from crates.io (headers only; nothing is built)" >&2
cargo fetch --quiet --manifest-path "$work/fetch/Cargo.toml" >&2 \
    || { echo "fetch-headers.sh: cargo fetch failed" >&2; exit 1; }
find_unpacked && exit 0
untar_cached && exit 0
echo "fetch-headers.sh: $crate fetched but its TensorRT-Headers folder was not found under $cargo_home/registry" >&2
exit 1
