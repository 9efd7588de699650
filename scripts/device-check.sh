#!/usr/bin/env bash
# Checks trt-dump against real NVIDIA libraries on a GPU machine, where
# /work/shared/device/stage.sh + unpack.sh provide TensorRT 10.16 and 11.4 lean runtimes
# (libnvinfer_lean.so.10/.11) and TensorRT-RTX 1.7.1 (libtensorrt_rtx.so.1).
#
# Usage: scripts/device-check.sh LIBDIR FIXTURES [TRT_DUMP]
#   LIBDIR    folder holding any of libnvinfer_lean.so.10, libnvinfer_lean.so.11, libtensorrt_rtx.so.1
#             (unpack.sh's DEST/lib); checks of a library that is absent are skipped
#   FIXTURES  folder of TensorRT-RTX engines: */model.engine (shared/fixtures/trt-rtx-1.7.1-h100)
#   TRT_DUMP  the binary (default: $TRT_DUMP, else target/release/trt-dump)
#
# Each check prints its command, the whole output, the exit status and what was expected.
# Expectations follow the GPU found (nvidia-smi): TensorRT-RTX refuses compute capability 9.x, so on
# an H100/H200 its engines must fail with a plain "does not run on this GPU generation" message, and
# succeed on a GPU it supports. Exits 1 when any outcome was unexpected, 2 on bad usage, else 0.
set -u

if [ $# -lt 2 ]; then
    sed -n '2,/^set -u/p' "$0" | sed '$d' >&2
    exit 2
fi
libdir=$1
fixtures=$2
bin=${3:-${TRT_DUMP:-target/release/trt-dump}}
if [ ! -x "$bin" ]; then
    echo "device-check.sh: no trt-dump binary at $bin (cargo build --release, or pass its path)" >&2
    exit 2
fi

unexpected=0
checks=0
expect=()

section() { printf '\n========== %s ==========\n' "$*"; }

# run_check TITLE "CODES" CMD...: runs CMD; the exit status must be one of CODES and the combined
# output must match every extended regex in the array `expect`.
run_check() {
    local title=$1 codes=$2
    shift 2
    checks=$((checks + 1))
    section "$title"
    printf '$'
    printf ' %q' "$@"
    printf '\n'
    local out rc
    out=$("$@" 2>&1)
    rc=$?
    printf '%s\n' "$out"
    printf -- '--> exit %s (expected %s)\n' "$rc" "$codes"
    local bad=0
    if [[ " $codes " != *" $rc "* ]]; then
        echo "UNEXPECTED: exit status $rc"
        bad=1
    fi
    local p
    for p in "${expect[@]}"; do
        if ! grep -Eq -- "$p" <<<"$out"; then
            echo "UNEXPECTED: output does not match /$p/"
            bad=1
        fi
    done
    if [ $bad -eq 0 ]; then echo "OK"; else unexpected=$((unexpected + 1)); fi
    expect=()
}

skip() {
    section "$1"
    echo "SKIPPED: $2"
}

section "environment"
uname -a
"$bin" --version
if command -v nvidia-smi >/dev/null; then
    nvidia-smi -L
    nvidia-smi --query-gpu=index,name,compute_cap,memory.free,memory.total,driver_version --format=csv
else
    echo "nvidia-smi: not found"
fi
ls -la "$libdir" 2>&1
ls -la "$fixtures" 2>&1

# The GPU trt-dump will use (--device 0): its compute capability decides what TensorRT-RTX does.
cc=$(nvidia-smi --query-gpu=compute_cap --format=csv,noheader -i 0 2>/dev/null | head -1 | tr -d ' ')
cc_major=${cc%%.*}
if [ -z "$cc" ]; then
    gpu=none
    echo "GPU 0: none found: engine checks expect exit 8 (no GPU) with TensorRT's own message"
elif [ "$cc_major" = 9 ]; then
    gpu=rtx-unsupported
    echo "GPU 0: compute capability $cc: TensorRT-RTX is expected to refuse it"
else
    gpu=rtx-supported
    echo "GPU 0: compute capability $cc: TensorRT-RTX engines are expected to load"
fi

engines=()
for f in "$fixtures"/*/model.engine; do [ -f "$f" ] && engines+=("$f"); done
first=${engines[0]:-}
[ -n "$first" ] || echo "no */model.engine under $fixtures: engine checks will be skipped"

# 1. Files that are not engines never reach TensorRT.
expect=("not a TensorRT engine")
run_check "not an engine (this script), with a library that does not exist" "4" \
    "$bin" info "$0" --trt-lib "$libdir/does-not-exist.so"
expect=("no usable TensorRT library found" "not found \(no such file or folder\)" "hint: .*pip install tensorrt-cu12")
[ -n "$first" ] && run_check "no TensorRT at the path given" "7" "$bin" info "$first" --trt-lib "$libdir/does-not-exist.so"

# 2. Each lean runtime loads, prints its version, and passes TensorRT's own refusal of a TensorRT-RTX
#    engine through the logger into the error message.
case $gpu in none) lean_code=8 ;; *) lean_code=5 ;; esac
for lib in libnvinfer_lean.so.10 libnvinfer_lean.so.11; do
    major=${lib##*.}
    if [ ! -f "$libdir/$lib" ]; then skip "$lib" "not in $libdir"; continue; fi
    if [ -z "$first" ]; then skip "$lib" "no fixture engine"; continue; fi
    expect=(
        "TensorRT: TensorRT $major\.[0-9]+\.[0-9]+"
        "TensorRT $major\.[0-9.]+ could not deserialize"
        "could not deserialize \`[^\`]*\`: (internal error|error|warning): "
        "the engine was built by TensorRT-RTX 1\.7\.1"
    )
    [ $gpu != none ] && expect+=("hint: this is a TensorRT-RTX engine: it needs libtensorrt_rtx\.so\.1")
    run_check "$lib: load, version, TensorRT's own error for a TensorRT-RTX engine" "$lean_code" \
        "$bin" info "$first" --trt-lib "$libdir/$lib" -v
    expect=("TensorRT (error|internal error|warning|info|verbose): ")
    run_check "$lib: -vv shows TensorRT's own log lines" "$lean_code" \
        "$bin" list "$first" --trt-lib "$libdir/$lib" -vv
done

# 3. TensorRT-RTX on each fixture.
rtx=$libdir/libtensorrt_rtx.so.1
if [ ! -f "$rtx" ]; then
    skip "libtensorrt_rtx.so.1" "not in $libdir"
elif [ -z "$first" ]; then
    skip "libtensorrt_rtx.so.1" "no fixture engine"
else
    for f in "${engines[@]}"; do
        case $gpu in
        rtx-unsupported)
            code=5
            expect=("TensorRT-RTX does not run on this GPU generation" "compute capability 9\." "8\.0, 8\.6, 8\.9 or 12\.x") ;;
        rtx-supported)
            code=0
            expect=("library +TensorRT-RTX 1\.7\.1" "refit weights") ;;
        none)
            code=8
            expect=("GPU: ") ;;
        esac
        run_check "libtensorrt_rtx.so.1: info $(basename "$(dirname "$f")")" "$code" "$bin" info "$f" --trt-lib "$rtx"
    done
    case $gpu in rtx-supported) expect=('"totals"') ;; *) expect=() ;; esac
    run_check "libtensorrt_rtx.so.1: list --json" "$code" "$bin" list "$first" --trt-lib "$rtx" --json
    expect=("TensorRT (error|internal error|warning|info|verbose): " "\+ IRuntime")
    run_check "libtensorrt_rtx.so.1: -vv (TensorRT's lines, object lifetimes)" "$code" "$bin" info "$first" --trt-lib "$rtx" -vv

    # The engine's header says TensorRT-RTX: the search tries libtensorrt_rtx.so.1 first, both
    # from TRT_DUMP_TRT_LIB (a folder) and from the dynamic loader's path (found by soname).
    expect=("TensorRT: TensorRT-RTX 1\.7\.1")
    run_check "TRT_DUMP_TRT_LIB=LIBDIR picks libtensorrt_rtx.so.1 for a TensorRT-RTX engine" "$code" \
        env TRT_DUMP_TRT_LIB="$libdir" "$bin" info "$first" -v
    expect=("TensorRT: TensorRT-RTX 1\.7\.1[0-9.]* from /" "dynamic loader: libtensorrt_rtx\.so\.1: loaded")
    run_check "LD_LIBRARY_PATH=LIBDIR: found by soname, real path reported" "$code" \
        env -u TRT_DUMP_TRT_LIB LD_LIBRARY_PATH="$libdir" "$bin" info "$first" -v

    # A GPU that does not exist: TensorRT is still asked; its failure comes with the diagnosis.
    if [ $gpu != none ]; then
        expect=("no GPU 99: [0-9]+ CUDA device")
        run_check "--device 99" "0 5 8" "$bin" info "$first" --trt-lib "$rtx" --device 99
    fi
fi

# 4. A plugin that does not exist.
anylib=
for lib in libnvinfer_lean.so.10 libnvinfer_lean.so.11 libtensorrt_rtx.so.1; do
    [ -f "$libdir/$lib" ] && { anylib=$libdir/$lib; break; }
done
if [ -n "$anylib" ] && [ -n "$first" ]; then
    expect=("plugin library .* does not exist")
    run_check "--plugin that does not exist" "3" "$bin" info "$first" --trt-lib "$anylib" --plugin /nonexistent/libplugin.so
else
    skip "--plugin that does not exist" "no library in $libdir"
fi

section "summary"
echo "$checks checks, $unexpected unexpected"
[ $unexpected -eq 0 ]
