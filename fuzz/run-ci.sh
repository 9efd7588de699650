#!/usr/bin/env bash
# Bounded fuzzing of trt-dump's parsers and decoders, for CI and by hand.
#
#   fuzz/run-ci.sh                         every target, FUZZ_SECONDS (default 10) seconds each
#   FUZZ_SECONDS=600 fuzz/run-ci.sh decode one target for ten minutes
#
# Needs only stable Rust, crates.io and a C++ compiler (libfuzzer-sys builds libFuzzer from its own
# sources). The targets are built with plain `cargo build` and the same coverage flags cargo-fuzz
# uses with `--sanitizer none`; every one of them is a stable `-C` flag, so neither nightly,
# RUSTC_BOOTSTRAP nor a `cargo install` is needed (docs/reliability.md says why no sanitizer).
# Builds are cached in target/fuzz-ci/ (first build: a few minutes; then seconds).
#
# Each target starts from the committed corpus fuzz/corpus/<target>/ (read only) plus a work corpus
# in target/fuzz-ci/corpus/<target>/ that keeps what earlier runs on this machine found. Exit 0 when
# no target failed; else 1, with the failing input saved under target/fuzz-ci/artifacts/<target>/
# and the command that replays it. Found a bug? Fix it, add a regression test, and copy the input
# to fuzz/corpus/<target>/ (tests/io/reliability_fuzz_corpus.rs then replays it in every cargo test).
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
secs=${FUZZ_SECONDS:-10}
all=(map_file decode align reference_onnx reference_safetensors reference_npz npy_names)
if [ $# -gt 0 ]; then targets=("$@"); else targets=("${all[@]}"); fi

triple=$(rustc -vV | sed -n 's/^host: //p')
out="$root/target/fuzz-ci"
flags="-Cpasses=sancov-module -Cllvm-args=-sanitizer-coverage-level=4"
flags+=" -Cllvm-args=-sanitizer-coverage-inline-8bit-counters -Cllvm-args=-sanitizer-coverage-pc-table"
flags+=" -Cllvm-args=-sanitizer-coverage-trace-compares -Cllvm-args=-sanitizer-coverage-stack-depth"
flags+=" -Cllvm-args=-simplifycfg-branch-fold-threshold=0 --cfg fuzzing -Cdebug-assertions -Coverflow-checks"
echo "fuzz: building targets (stable $(rustc --version | cut -d' ' -f2), libFuzzer, debug assertions and overflow checks on)" >&2
CARGO_TARGET_DIR="$out/build" RUSTFLAGS="$flags" \
    cargo build --quiet --release --manifest-path "$root/fuzz/Cargo.toml" --target "$triple" --bins
bin="$out/build/$triple/release"

passed=0
failed=0
for t in "${targets[@]}"; do
    if [ ! -x "$bin/$t" ]; then
        echo "fuzz: unknown target \`$t\` (known: ${all[*]})" >&2
        failed=$((failed + 1))
        continue
    fi
    work="$out/corpus/$t"
    art="$out/artifacts/$t"
    mkdir -p "$work" "$art"
    log="$out/$t.log"
    set +e
    "$bin/$t" "$work" "$root/fuzz/corpus/$t" -max_total_time="$secs" -max_len=16384 -rss_limit_mb=2048 \
        -timeout=30 -artifact_prefix="$art/" -print_final_stats=1 >"$log" 2>&1
    rc=$?
    set -e
    runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
    if [ "$rc" -eq 0 ]; then
        echo "fuzz: $t ok (${runs:-?} inputs in ${secs}s)"
        passed=$((passed + 1))
    else
        echo "fuzz: $t FAILED (libFuzzer exit $rc); log: $log"
        grep -E "panicked|ERROR|Test unit written|SUMMARY" "$log" | head -20 || true
        for a in "$art"/*; do
            [ -e "$a" ] && echo "fuzz:   replay: $bin/$t $a"
        done
        failed=$((failed + 1))
    fi
done
echo "fuzz: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
