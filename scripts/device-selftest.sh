#!/usr/bin/env bash
# On the device: run `trt-dump selftest` with a real TensorRT and bring back the log, the JSON report
# and the kept engines (model.onnx / weights.safetensors are left out: `selftest --export-models`
# regenerates them byte for byte on any machine).
# Usage: scripts/device-selftest.sh BIN LIB OUT
set -u
bin=${1:?binary}; lib=${2:?TensorRT library}; out=${3:?output folder}
mkdir -p "$out"
{
    echo "# $(date -u +%FT%TZ) $(uname -m)"
    nvidia-smi --query-gpu=name,compute_cap,driver_version,memory.total --format=csv,noheader 2>&1
    echo "# $bin --version"; "$bin" --version
    echo "# $bin selftest --trt-lib $lib --keep /tmp/keep -v"
    "$bin" selftest --trt-lib "$lib" --keep /tmp/keep -v 2>&1
    echo "# exit $?"
} > "$out/selftest.log" 2>&1
"$bin" selftest --trt-lib "$lib" --keep /tmp/keep-json --json > "$out/selftest.json" 2> "$out/selftest-json.stderr"
echo "# --json exit $?" >> "$out/selftest-json.stderr"
(cd /tmp/keep && ls -la */ > "$out/kept.txt" && tar -cf - */model.engine | xz -T0 -6 > "$out/engines.tar.xz")
split -b 15M -d "$out/engines.tar.xz" "$out/engines.tar.xz.part-" && rm "$out/engines.tar.xz"
ls -la "$out"
