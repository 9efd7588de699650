#!/usr/bin/env bash
# Builds the stand-in TensorRT library (test code) and prints its path, for `trt-dump --trt-lib PATH`.
#   tests/standin/build.sh [--release]
# The sim-plan tool (writes simulator engine files) lands beside it: target/<profile>/sim-plan.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
profile=debug
flags=()
if [ "${1:-}" = "--release" ]; then profile=release; flags+=(--release); fi
export CARGO_TARGET_DIR="$here/target"
cargo build --quiet --manifest-path "$here/Cargo.toml" "${flags[@]}" >&2
echo "$here/target/$profile/libtrt_dump_standin.so"
