#!/usr/bin/env python3
"""Reads a trt-dump output back with the reference Python readers and checks it.

Usage: readback.py EXPECT.json

EXPECT.json (written by tests/io/writer_roundtrip.rs) names the output, its format, the file-level
metadata, and per weight: its exact name, refit dtype, shape, where the shape came from, the dtype
it should be stored as, and its refit bytes in hex. This script decodes the refit bytes itself
(its own numpy implementation of bfloat16, fp8 e4m3, e8m0, int4 and fp4 e2m1, independent of the
Rust code), reads the output with safetensors / numpy, and checks names, dtypes, shapes, values
(bit-exact: NaN matches NaN, -0.0 only -0.0) and metadata. Exit 0 when all match, 1 with a list of
mismatches otherwise, 2 on bad usage.
"""

import json
import os
import sys
import zipfile

import numpy as np
import safetensors
from safetensors import safe_open


def nibbles(raw, count):
    b = np.frombuffer(raw, dtype=np.uint8)
    out = np.empty(b.size * 2, dtype=np.uint8)
    out[0::2] = b & 0x0F  # low nibble = even element
    out[1::2] = b >> 4
    return out[:count]


def fp8_e4m3(codes):
    codes = codes.astype(np.int64)
    s, e, m = codes >> 7, (codes >> 3) & 0xF, codes & 0x7
    mag = np.where(e == 0, m / 8.0 * 2.0**-6, (1.0 + m / 8.0) * np.exp2(e - 7.0))
    mag = np.where((e == 0xF) & (m == 7), np.nan, mag)
    return np.where(s == 1, -mag, mag)


def fp4_e2m1(codes):
    codes = codes.astype(np.int64)
    s, e, m = codes >> 3, (codes >> 1) & 0x3, codes & 0x1
    mag = np.where(e == 0, m * 0.5, (1.0 + m / 2.0) * np.exp2(e - 1.0))
    return np.where(s == 1, -mag, mag)


def e8m0(codes):
    codes = codes.astype(np.int64)
    return np.where(codes == 255, np.nan, np.exp2(codes - 127.0))


def bf16(raw):
    u = np.frombuffer(raw, dtype="<u2").astype(np.uint32) << 16
    return u.view(np.float32).astype(np.float64)


def decode(dtype, raw, count):
    """Values of `count` elements of `dtype` (a refit or safetensors dtype name) as float64, int64
    or bool."""
    u8 = lambda: np.frombuffer(raw, dtype=np.uint8)
    if dtype in ("float32", "F32"):
        return np.frombuffer(raw, "<f4").astype(np.float64)
    if dtype in ("float16", "F16"):
        return np.frombuffer(raw, "<f2").astype(np.float64)
    if dtype in ("bfloat16", "BF16"):
        return bf16(raw)
    if dtype in ("int8", "I8"):
        return np.frombuffer(raw, "i1").astype(np.int64)
    if dtype in ("uint8", "U8"):
        return u8().astype(np.int64)
    if dtype in ("int32", "I32"):
        return np.frombuffer(raw, "<i4").astype(np.int64)
    if dtype in ("int64", "I64"):
        return np.frombuffer(raw, "<i8").astype(np.int64)
    if dtype in ("bool", "BOOL"):
        return u8().astype(bool)
    if dtype in ("fp8_e4m3", "F8_E4M3"):
        return fp8_e4m3(u8())
    if dtype in ("e8m0", "F8_E8M0"):
        return e8m0(u8())
    if dtype in ("fp4_e2m1", "F4"):
        return fp4_e2m1(nibbles(raw, count))
    if dtype == "int4":
        n = nibbles(raw, count).astype(np.int64)
        return np.where(n >= 8, n - 16, n)
    raise ValueError(f"unknown dtype {dtype}")


def same_values(got, want):
    got, want = np.asarray(got).ravel(), np.asarray(want).ravel()
    if got.shape != want.shape:
        return f"{got.size} elements, want {want.size}"
    if want.dtype == bool or got.dtype == bool:
        ok = got.dtype == want.dtype and np.array_equal(got, want)
    elif want.dtype.kind == "f" or got.dtype.kind == "f":
        g, w = got.astype(np.float64), want.astype(np.float64)
        ok = np.array_equal(g, w, equal_nan=True) and np.array_equal(np.signbit(g), np.signbit(w))
    else:
        ok = np.array_equal(got.astype(np.int64), want.astype(np.int64))
    if ok:
        return None
    bad = [i for i in range(min(got.size, 20)) if repr(got[i]) != repr(want[i])][:5]
    return f"values differ, e.g. at {bad}: got {got[:8]!r}, want {want[:8]!r}"


# NumPy dtype names for the safetensors dtypes numpy can load itself.
NUMPY_NATIVE = {"F32": "float32", "F16": "float16", "I8": "int8", "U8": "uint8",
                "I32": "int32", "I64": "int64", "BOOL": "bool"}


def check_safetensors(exp, errors):
    path = exp["path"]
    # The reference library's full parse: names, dtypes, shapes, raw bytes of every tensor.
    with open(path, "rb") as f:
        parsed = dict(safetensors.deserialize(f.read()))
    with safe_open(path, framework="numpy") as f:
        keys = set(f.keys())
        meta = f.metadata() or {}
        native = {k: f.get_tensor(k) for k in keys if parsed[k]["dtype"] in NUMPY_NATIVE}
    for k, v in exp["metadata"].items():
        if meta.get(k) != v:
            errors.append(f"metadata {k!r}: got {meta.get(k)!r}, want {v!r}")
    if meta.get("format") != exp["metadata"].get("format", "pt"):
        errors.append(f"metadata format: {meta.get('format')!r}")
    weights = json.loads(meta.get("trt_dump.weights", "{}"))
    want_keys = set()
    for t in exp["tensors"]:
        name = t["name"]
        w = weights.get(name)
        if w is None:
            errors.append(f"{name!r}: missing from trt_dump.weights")
            continue
        key = w.get("key", name)
        want_keys.add(key)
        if (w["refit_dtype"], w["stored_dtype"], w["shape"]) != (t["refit_dtype"], t["stored_dtype"], t["shape_source"]):
            errors.append(f"{name!r}: trt_dump.weights entry {w}")
        if w.get("shape_from") != t.get("shape_from"):
            errors.append(f"{name!r}: shape_from {w.get('shape_from')!r}")
        if key not in parsed:
            errors.append(f"{name!r}: no tensor {key!r} in the file")
            continue
        p = parsed[key]
        if p["dtype"] != t["stored_dtype"]:
            errors.append(f"{name!r}: stored as {p['dtype']}, want {t['stored_dtype']}")
        if list(p["shape"]) != t["shape"]:
            errors.append(f"{name!r}: shape {p['shape']}, want {t['shape']}")
        count = int(np.prod(t["shape"], dtype=np.int64))
        want = decode(t["refit_dtype"], bytes.fromhex(t["data_hex"]), count)
        got = decode(p["dtype"], bytes(p["data"]), count)
        err = same_values(got, want)
        if err:
            errors.append(f"{name!r}: {err}")
        if key in native:
            arr = native[key]
            if str(arr.dtype) != NUMPY_NATIVE[p["dtype"]] or list(arr.shape) != t["shape"]:
                errors.append(f"{name!r}: numpy loaded {arr.dtype} {arr.shape}")
            err = same_values(arr, want)
            if err:
                errors.append(f"{name!r} via safe_open: {err}")
    if keys != want_keys:
        errors.append(f"keys: extra {sorted(keys - want_keys)[:5]}, missing {sorted(want_keys - keys)[:5]}")


def check_np_entries(exp, index, load, errors):
    if index.get("format") != {"npz": "trt-dump-npz", "npy": "trt-dump-npy"}[exp["format"]]:
        errors.append(f"index format {index.get('format')!r}")
    if index.get("metadata") != exp["metadata"]:
        errors.append(f"index metadata {index.get('metadata')!r}")
    by_name = {e["name"]: e for e in index["weights"]}
    if index.get("complete", True) is False:
        # An .npz index too large for the zip comment lists only entries the member cannot tell.
        for t in exp["tensors"]:
            if t["name"] not in by_name:
                by_name[t["name"]] = {"name": t["name"], "file": t["name"] + ".npy", "refit_dtype": t["stored_dtype"],
                                      "stored_dtype": t["stored_dtype"], "shape": t["shape"], "shape_source": "flat"}
        index = dict(index, weights=list(by_name.values()))
    if len(by_name) != len(index["weights"]) or set(by_name) != {t["name"] for t in exp["tensors"]}:
        errors.append("index names differ from the weight names")
    files = [e["file"] for e in index["weights"]]
    npz = exp["format"] == "npz"
    if not npz and len({f.lower() for f in files}) != len(files):
        errors.append("file names collide (ignoring case)")
    for t in exp["tensors"]:
        e = by_name.get(t["name"])
        if e is None:
            continue
        f = e["file"]
        if npz:
            if unsafe_member(f) or not f.endswith(".npy"):
                errors.append(f"{t['name']!r}: unsafe member name {f!r}")
        elif "/" in f or "\\" in f or f.startswith(".") or "\0" in f or not f.endswith(".npy") or len(f.encode()) > 200:
            errors.append(f"{t['name']!r}: unsafe file name {f!r}")
        for k in ("refit_dtype", "stored_dtype", "shape", "shape_source"):
            if e[k] != t[k]:
                errors.append(f"{t['name']!r}: index {k} {e[k]!r}, want {t[k]!r}")
        if e.get("shape_from") != t.get("shape_from"):
            errors.append(f"{t['name']!r}: shape_from {e.get('shape_from')!r}")
        arr = load(f)
        if str(arr.dtype) != t["stored_dtype"]:
            errors.append(f"{t['name']!r}: numpy dtype {arr.dtype}, want {t['stored_dtype']}")
        if list(arr.shape) != t["shape"]:
            errors.append(f"{t['name']!r}: shape {arr.shape}, want {t['shape']}")
        count = int(np.prod(t["shape"], dtype=np.int64))
        err = same_values(arr, decode(t["refit_dtype"], bytes.fromhex(t["data_hex"]), count))
        if err:
            errors.append(f"{t['name']!r}: {err}")
    return files


def unsafe_member(m):
    """A zip member that could escape or break an extraction."""
    parts = m.split("/")
    return (
        m.startswith("/")
        or "\\" in m
        or (len(m) >= 2 and m[1] == ":" and m[0].isalpha())
        or any(p in ("", ".", "..") or len(p.encode()) > 200 for p in parts)
        or any(ord(c) < 32 or 127 <= ord(c) < 160 for c in m)
    )


def npz_index(comment):
    """trt-dump's name index: the zip comment, JSON, or deflated behind a tag when large."""
    tag = b"trt-dump-index+deflate:"
    if comment.startswith(tag):
        import zlib

        comment = zlib.decompress(comment[len(tag):], -15)
    return json.loads(comment)


def check_npz(exp, errors):
    path = exp["path"]
    with zipfile.ZipFile(path) as z:
        members = z.namelist()
        for m in members:
            if unsafe_member(m):
                errors.append(f"unsafe member name {m!r}")
        if z.testzip() is not None:
            errors.append("zip CRC check failed")
        index = npz_index(z.comment)
    with np.load(path, allow_pickle=False) as npz:
        files = check_np_entries(exp, index, lambda f: npz[f], errors)
        # Every weight whose name is safe to extract is a member under that exact name.
        names = {t["name"] for t in exp["tensors"]}
        kept = {n for n in names if not unsafe_member(n + ".npy") and n != ""}
        if not kept <= set(npz.files):
            errors.append(f"np.load(...).files lacks {sorted(kept - set(npz.files))[:5]}")
        if len(npz.files) != len(names):
            errors.append(f"np.load(...).files has {len(npz.files)} entries for {len(names)} weights")
    if sorted(members) != sorted(files):
        errors.append("npz members differ from the index")


def check_npy(exp, errors):
    folder = exp["path"]
    with open(os.path.join(folder, "index.json"), encoding="utf-8") as f:
        index = json.load(f)
    files = check_np_entries(exp, index, lambda f: np.load(os.path.join(folder, f), allow_pickle=False), errors)
    if sorted(os.listdir(folder)) != sorted(files + ["index.json"]):
        errors.append("folder content differs from the index")


def main():
    if len(sys.argv) != 2:
        print(__doc__, file=sys.stderr)
        return 2
    with open(sys.argv[1], encoding="utf-8") as f:
        exp = json.load(f)
    errors = []
    {"safetensors": check_safetensors, "npz": check_npz, "npy": check_npy}[exp["format"]](exp, errors)
    if errors:
        print(f"{exp['path']}: {len(errors)} mismatch(es):", file=sys.stderr)
        for e in errors[:50]:
            print("  " + e, file=sys.stderr)
        return 1
    print(f"OK {exp['format']} {len(exp['tensors'])} tensors (numpy {np.__version__}, safetensors {safetensors.__version__})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
