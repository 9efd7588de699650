//! Reference readers against hand-made files: every supported encoding, and broken or hostile ones
//! (truncated, lying lengths, huge declared sizes, external data escaping the model's folder). A bad
//! file must be an `InputUnreadable` error naming the file and the problem, never a panic or a huge
//! allocation.

use std::io::Write;
use std::path::{Path, PathBuf};

use trt_dump::dtype::DataType;
use trt_dump::error::{self, ErrorKind};
use trt_dump::reference::{self, RefTensor};

fn write(dir: &Path, name: &str, bytes: &[u8]) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, bytes).unwrap();
    p
}

/// Asserts an InputUnreadable error whose message names the file and contains `what`.
fn assert_unreadable(r: anyhow::Result<impl std::fmt::Debug>, path: &Path, what: &str) {
    let e = r.expect_err("a bad file must be an error");
    let msg = format!("{e:#}");
    assert_eq!(
        error::find(&e).map(|x| x.kind),
        Some(ErrorKind::InputUnreadable),
        "{msg}"
    );
    assert!(
        msg.contains(&path.display().to_string()),
        "file not named: {msg}"
    );
    assert!(msg.contains(what), "expected `{what}` in: {msg}");
}

// ---------------------------------------------------------------- safetensors

fn safetensors_bytes(header: &str, data: &[u8]) -> Vec<u8> {
    let mut v = (header.len() as u64).to_le_bytes().to_vec();
    v.extend_from_slice(header.as_bytes());
    v.extend_from_slice(data);
    v
}

#[test]
fn safetensors_all_mapped_dtypes_and_skips() {
    let d = tempfile::tempdir().unwrap();
    let header = r#"{"__metadata__":{"k":"v"},
        "a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},
        "b":{"dtype":"F16","shape":[1,2],"data_offsets":[8,12]},
        "c":{"dtype":"BF16","shape":[2],"data_offsets":[12,16]},
        "d":{"dtype":"I64","shape":[1],"data_offsets":[16,24]},
        "e":{"dtype":"F64","shape":[1],"data_offsets":[24,32]},
        "f":{"dtype":"U16","shape":[1],"data_offsets":[32,34]},
        "g":{"dtype":"I8","shape":[2],"data_offsets":[34,36]},
        "h":{"dtype":"BOOL","shape":[],"data_offsets":[36,37]},
        "z":{"dtype":"F32","shape":[0,4],"data_offsets":[37,37]}}"#;
    let data: Vec<u8> = (0u8..37).collect();
    let p = write(d.path(), "w.safetensors", &safetensors_bytes(header, &data));
    let l = reference::load_all(&p).unwrap();
    let names: Vec<_> = l
        .tensors
        .iter()
        .map(|t| (t.name.as_str(), t.dtype))
        .collect();
    assert_eq!(
        names,
        [
            ("a", DataType::Float),
            ("b", DataType::Half),
            ("c", DataType::Bf16),
            ("d", DataType::Int64),
            ("g", DataType::Int8),
            ("h", DataType::Bool),
            ("z", DataType::Float)
        ]
    );
    assert_eq!(l.tensors[1].data, vec![8, 9, 10, 11]);
    assert_eq!(l.tensors[5].shape, Vec::<u64>::new());
    assert_eq!(
        l.tensors[6].data,
        Vec::<u8>::new(),
        "zero-element tensor has no bytes"
    );
    let skipped: Vec<_> = l.skipped.iter().map(|s| s.name.as_str()).collect();
    assert_eq!(skipped, ["e", "f"]);
    assert!(l.skipped[0].reason.contains("F64"));
    // Shapes of skipped dtypes are still listed for --shapes-from.
    let s = reference::load_shapes(&p).unwrap();
    assert_eq!(s.len(), 9);
    assert_eq!(s.iter().find(|t| t.name == "e").unwrap().dtype, None);
}

#[test]
fn safetensors_truncated_header() {
    let d = tempfile::tempdir().unwrap();
    let p = write(d.path(), "t.safetensors", &[5, 0, 0]);
    assert_unreadable(reference::load(&p), &p, "too short");
    let full = safetensors_bytes(
        r#"{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}"#,
        &[0; 4],
    );
    let p = write(d.path(), "t2.safetensors", &full[..20]);
    assert_unreadable(reference::load(&p), &p, "truncated");
    assert_unreadable(reference::load_shapes(&p), &p, "truncated");
}

#[test]
fn safetensors_huge_header_length() {
    let d = tempfile::tempdir().unwrap();
    let mut b = u64::MAX.to_le_bytes().to_vec();
    b.extend_from_slice(b"{}");
    let p = write(d.path(), "h.safetensors", &b);
    assert_unreadable(reference::load(&p), &p, "more than");
}

#[test]
fn safetensors_lying_offsets_and_sizes() {
    let d = tempfile::tempdir().unwrap();
    // Offsets past the data.
    let p = write(
        d.path(),
        "o.safetensors",
        &safetensors_bytes(
            r#"{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4000]}}"#,
            &[0; 4],
        ),
    );
    assert_unreadable(reference::load(&p), &p, "invalid safetensors header");
    // Offsets consistent with the shape, but the file is shorter than they say.
    let p = write(
        d.path(),
        "s.safetensors",
        &safetensors_bytes(
            r#"{"a":{"dtype":"F32","shape":[1000],"data_offsets":[0,4000]}}"#,
            &[0; 4],
        ),
    );
    assert_unreadable(reference::load(&p), &p, "truncated or padded");
    // A shape whose byte size overflows.
    let p = write(
        d.path(),
        "v.safetensors",
        &safetensors_bytes(
            r#"{"a":{"dtype":"F32","shape":[4294967296,4294967296],"data_offsets":[0,4]}}"#,
            &[0; 4],
        ),
    );
    assert_unreadable(reference::load(&p), &p, "invalid safetensors header");
    // Not JSON.
    let p = write(
        d.path(),
        "j.safetensors",
        &safetensors_bytes("{not json", &[]),
    );
    assert_unreadable(reference::load(&p), &p, "invalid safetensors header");
}

// ---------------------------------------------------------------- npz

fn npy(descr: &str, fortran: bool, shape: &[u64], data: &[u8]) -> Vec<u8> {
    let shape_s = match shape.len() {
        1 => format!("({},)", shape[0]),
        _ => format!(
            "({})",
            shape
                .iter()
                .map(|d| d.to_string())
                .collect::<Vec<_>>()
                .join(", ")
        ),
    };
    let mut dict = format!(
        "{{'descr': '{descr}', 'fortran_order': {}, 'shape': {shape_s}, }}",
        if fortran { "True" } else { "False" }
    );
    while (dict.len() + 11) % 64 != 0 {
        dict.push(' ');
    }
    dict.push('\n');
    let mut v = b"\x93NUMPY\x01\x00".to_vec();
    v.extend_from_slice(&(dict.len() as u16).to_le_bytes());
    v.extend_from_slice(dict.as_bytes());
    v.extend_from_slice(data);
    v
}

fn npz(members: &[(&str, Vec<u8>)], compressed: bool) -> Vec<u8> {
    let mut buf = std::io::Cursor::new(Vec::new());
    {
        let mut z = zip::ZipWriter::new(&mut buf);
        let method = if compressed {
            zip::CompressionMethod::Deflated
        } else {
            zip::CompressionMethod::Stored
        };
        let opts = zip::write::SimpleFileOptions::default().compression_method(method);
        for (name, bytes) in members {
            z.start_file(format!("{name}.npy"), opts).unwrap();
            z.write_all(bytes).unwrap();
        }
        z.finish().unwrap();
    }
    buf.into_inner()
}

#[test]
fn npz_dtypes_orders_and_compression() {
    let d = tempfile::tempdir().unwrap();
    let f32s: Vec<u8> = [1.0f32, 2.0, 3.0, 4.0, 5.0, 6.0]
        .iter()
        .flat_map(|x| x.to_le_bytes())
        .collect();
    let f16s: Vec<u8> = [1.5f32, -2.0]
        .iter()
        .flat_map(|x| half::f16::from_f32(*x).to_le_bytes())
        .collect();
    // [[1,2,3],[4,5,6]] in Fortran order: 1 4 2 5 3 6.
    let fort: Vec<u8> = [1.0f32, 4.0, 2.0, 5.0, 3.0, 6.0]
        .iter()
        .flat_map(|x| x.to_le_bytes())
        .collect();
    let be: Vec<u8> = [7i32, -8].iter().flat_map(|x| x.to_be_bytes()).collect();
    for compressed in [false, true] {
        let bytes = npz(
            &[
                ("w", npy("<f4", false, &[2, 3], &f32s)),
                ("h", npy("<f2", false, &[2], &f16s)),
                ("f", npy("<f4", true, &[2, 3], &fort)),
                ("b", npy(">i4", false, &[2], &be)),
                ("q", npy("|b1", false, &[3], &[1, 0, 1])),
                ("d", npy("<f8", false, &[1], &[0; 8])),
                ("e", npy("<f4", false, &[0], &[])),
            ],
            compressed,
        );
        let p = write(d.path(), "a.npz", &bytes);
        let l = reference::load_all(&p).unwrap();
        let get = |n: &str| l.tensors.iter().find(|t| t.name == n).unwrap().clone();
        assert_eq!(
            get("w"),
            RefTensor {
                name: "w".into(),
                dtype: DataType::Float,
                shape: vec![2, 3],
                data: f32s.clone()
            }
        );
        assert_eq!(get("h").dtype, DataType::Half);
        assert_eq!(get("h").data, f16s);
        assert_eq!(get("f").data, f32s, "Fortran order comes back in C order");
        assert_eq!(
            get("b").data,
            [7i32, -8]
                .iter()
                .flat_map(|x| x.to_le_bytes())
                .collect::<Vec<_>>()
        );
        assert_eq!(get("q").dtype, DataType::Bool);
        assert_eq!(get("e").data.len(), 0);
        assert_eq!(l.skipped.len(), 1);
        assert!(l.skipped[0].reason.contains("<f8"));
        let s = reference::load_shapes(&p).unwrap();
        assert_eq!(s.len(), 7);
        assert_eq!(s.iter().find(|t| t.name == "f").unwrap().shape, vec![2, 3]);
    }
}

#[test]
fn npz_truncated_and_lying_members() {
    let d = tempfile::tempdir().unwrap();
    // Data shorter than the shape says.
    let p = write(
        d.path(),
        "t.npz",
        &npz(&[("w", npy("<f4", false, &[100], &[0; 8]))], false),
    );
    assert_unreadable(reference::load(&p), &p, "array `w`");
    // A huge declared shape: refused before reading, by the member's own size.
    let p = write(
        d.path(),
        "h.npz",
        &npz(
            &[("w", npy("<f4", false, &[1 << 30, 1 << 20], &[0; 8]))],
            true,
        ),
    );
    assert_unreadable(reference::load(&p), &p, "needs");
    // Overflowing shape.
    let p = write(
        d.path(),
        "o.npz",
        &npz(&[("w", npy("<f4", false, &[1 << 62, 1 << 62], &[]))], false),
    );
    assert_unreadable(reference::load(&p), &p, "overflows");
    // Not a zip at all, though named .npz.
    let p = write(d.path(), "n.npz", b"hello, not a zip");
    assert_unreadable(reference::load(&p), &p, "zip");
    // A zip cut in half.
    let good = npz(&[("w", npy("<f4", false, &[2], &[0; 8]))], false);
    let p = write(d.path(), "c.npz", &good[..good.len() / 2]);
    assert_unreadable(reference::load(&p), &p, "zip");
    // A member that is not .npy.
    let p = write(
        d.path(),
        "m.npz",
        &npz(&[("w", b"garbage bytes here".to_vec())], false),
    );
    assert_unreadable(reference::load(&p), &p, "magic");
}

// ---------------------------------------------------------------- ONNX

fn varint(mut v: u64, out: &mut Vec<u8>) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}
fn fv(field: u32, v: u64) -> Vec<u8> {
    let mut o = Vec::new();
    varint(u64::from(field) << 3, &mut o);
    varint(v, &mut o);
    o
}
fn fl(field: u32, b: &[u8]) -> Vec<u8> {
    let mut o = Vec::new();
    varint(u64::from(field) << 3 | 2, &mut o);
    varint(b.len() as u64, &mut o);
    o.extend_from_slice(b);
    o
}

/// A TensorProto from pieces: name, dims, data_type, then any extra encoded fields.
fn tensor(name: &str, dims: &[u64], dt: u64, extra: &[Vec<u8>]) -> Vec<u8> {
    let mut t = Vec::new();
    for &d in dims {
        t.extend(fv(1, d));
    }
    t.extend(fv(2, dt));
    t.extend(fl(8, name.as_bytes()));
    for e in extra {
        t.extend_from_slice(e);
    }
    t
}

fn model(tensors: &[Vec<u8>]) -> Vec<u8> {
    let mut g = fl(1, &fl(4, b"Identity")); // a node, to be skipped
    for t in tensors {
        g.extend(fl(5, t));
    }
    let mut m = fv(1, 8); // ir_version
    m.extend(fl(8, &[])); // opset_import, skipped
    m.extend(fl(7, &g));
    m
}

fn ext(location: &str, offset: Option<u64>, length: Option<u64>) -> Vec<Vec<u8>> {
    let entry = |k: &str, v: &str| fl(13, &[fl(1, k.as_bytes()), fl(2, v.as_bytes())].concat());
    let mut v = vec![entry("location", location)];
    if let Some(o) = offset {
        v.push(entry("offset", &o.to_string()));
    }
    if let Some(l) = length {
        v.push(entry("length", &l.to_string()));
    }
    v.push(fv(14, 1));
    v
}

#[test]
fn onnx_inline_typed_and_external_data() {
    let d = tempfile::tempdir().unwrap();
    let f: Vec<u8> = [1.0f32, -2.0, 3.5]
        .iter()
        .flat_map(|x| x.to_le_bytes())
        .collect();
    let mut i32s = Vec::new();
    for v in [-1i32, 7] {
        varint(v as i64 as u64, &mut i32s); // int32 on the wire: sign-extended varint
    }
    let mut halves = Vec::new();
    for v in [1.0f32, -0.5] {
        varint(u64::from(half::f16::from_f32(v).to_bits()), &mut halves);
    }
    let mut i64s = Vec::new();
    varint(-3i64 as u64, &mut i64s);
    let mut int4 = Vec::new();
    varint(0x21, &mut int4); // elements 1, 2
    varint(0x03, &mut int4); // element 3
    let ext_bytes: Vec<u8> = [9.0f32, 8.0].iter().flat_map(|x| x.to_le_bytes()).collect();
    let mut blob = vec![0xAAu8; 16];
    blob.extend_from_slice(&ext_bytes);
    write(d.path(), "weights.bin", &blob);
    let m = model(&[
        tensor("raw", &[3], 1, &[fl(9, &f)]),
        tensor("floats", &[1, 3], 1, &[fl(4, &f)]),
        // unpacked float_data: one fixed32 field per element
        tensor(
            "floats_unpacked",
            &[3],
            1,
            &f.chunks(4)
                .map(|c| [vec![0x25], c.to_vec()].concat())
                .collect::<Vec<_>>(),
        ),
        tensor("ints", &[2], 6, &[fl(5, &i32s)]),
        tensor("halves", &[2], 10, &[fl(5, &halves)]),
        tensor("longs", &[1], 7, &[fl(7, &i64s)]),
        tensor("int4", &[3], 22, &[fl(5, &int4)]),
        tensor("external", &[2], 1, &ext("weights.bin", Some(16), Some(8))),
        tensor(
            "external_to_end",
            &[2],
            1,
            &ext("./weights.bin", Some(16), None),
        ),
        tensor("empty", &[0, 5], 1, &[]),
        tensor("doubles", &[1], 11, &[fl(10, &[0; 8])]),
    ]);
    let p = write(d.path(), "m.onnx", &m);
    let l = reference::load_all(&p).unwrap();
    let get = |n: &str| {
        l.tensors
            .iter()
            .find(|t| t.name == n)
            .unwrap_or_else(|| panic!("{n}"))
            .clone()
    };
    assert_eq!(get("raw").data, f);
    assert_eq!(get("floats").data, f);
    assert_eq!(get("floats").shape, vec![1, 3]);
    assert_eq!(get("floats_unpacked").data, f);
    assert_eq!(
        get("ints").data,
        [-1i32, 7]
            .iter()
            .flat_map(|x| x.to_le_bytes())
            .collect::<Vec<_>>()
    );
    assert_eq!(get("halves").dtype, DataType::Half);
    assert_eq!(get("halves").data, [0x00, 0x3c, 0x00, 0xb8]);
    assert_eq!(get("longs").data, (-3i64).to_le_bytes());
    assert_eq!(get("int4").data, [0x21, 0x03]);
    assert_eq!(get("external").data, ext_bytes);
    assert_eq!(get("external_to_end").data, ext_bytes);
    assert_eq!(get("empty").data.len(), 0);
    assert_eq!(l.skipped.len(), 1);
    assert!(l.skipped[0].reason.contains("DOUBLE"));
    // Shapes without data (external files are not even opened).
    std::fs::remove_file(d.path().join("weights.bin")).unwrap();
    let s = reference::load_shapes(&p).unwrap();
    assert_eq!(s.len(), 11);
    assert_eq!(s[7].name, "external");
    assert_eq!(s[7].shape, vec![2]);
}

#[test]
fn onnx_external_data_escaping_the_folder_is_refused() {
    let root = tempfile::tempdir().unwrap();
    let d = root.path().join("model");
    std::fs::create_dir(&d).unwrap();
    write(root.path(), "secret.bin", &[0u8; 8]);
    for loc in ["../secret.bin", "sub/../../secret.bin"] {
        let p = write(
            &d,
            "m.onnx",
            &model(&[tensor("w", &[2], 1, &ext(loc, None, None))]),
        );
        assert_unreadable(reference::load(&p), &p, "leaves the model's folder");
    }
    let abs = root.path().join("secret.bin");
    let p = write(
        &d,
        "m.onnx",
        &model(&[tensor(
            "w",
            &[2],
            1,
            &ext(abs.to_str().unwrap(), None, None),
        )]),
    );
    assert_unreadable(reference::load(&p), &p, "leaves the model's folder");
    // A symlink inside the folder that points out of it.
    std::os::unix::fs::symlink(&abs, d.join("link.bin")).unwrap();
    let p = write(
        &d,
        "m.onnx",
        &model(&[tensor("w", &[2], 1, &ext("link.bin", None, None))]),
    );
    assert_unreadable(reference::load(&p), &p, "outside the model's folder");
    // Lying offset/length.
    write(&d, "w.bin", &[0u8; 8]);
    let p = write(
        &d,
        "m.onnx",
        &model(&[tensor("w", &[2], 1, &ext("w.bin", Some(4), Some(8)))]),
    );
    assert_unreadable(reference::load(&p), &p, "runs past the end");
    let p = write(
        &d,
        "m.onnx",
        &model(&[tensor("w", &[2], 1, &ext("w.bin", Some(u64::MAX), Some(8)))]),
    );
    assert_unreadable(reference::load(&p), &p, "runs past the end");
    let p = write(
        &d,
        "m.onnx",
        &model(&[tensor("w", &[3], 1, &ext("w.bin", None, None))]),
    );
    assert_unreadable(reference::load(&p), &p, "needs 12");
    let p = write(
        &d,
        "m.onnx",
        &model(&[tensor("w", &[2], 1, &ext("missing.bin", None, None))]),
    );
    assert_unreadable(reference::load(&p), &p, "missing.bin");
}

#[test]
fn onnx_corrupt_models() {
    let d = tempfile::tempdir().unwrap();
    let good = model(&[tensor("w", &[2], 1, &[fl(9, &[0; 8])])]);
    assert_eq!(
        reference::load(&write(d.path(), "g.onnx", &good))
            .unwrap()
            .len(),
        1
    );
    // Truncated anywhere inside the graph: a length runs past the end of the file.
    for cut in [good.len() - 1, good.len() - 9, 5] {
        let p = write(d.path(), "t.onnx", &good[..cut]);
        assert_unreadable(reference::load(&p), &p, "not a valid ONNX model");
        assert_unreadable(reference::load_shapes(&p), &p, "not a valid ONNX model");
    }
    // raw_data of the wrong size.
    let p = write(
        d.path(),
        "r.onnx",
        &model(&[tensor("w", &[3], 1, &[fl(9, &[0; 8])])]),
    );
    assert_unreadable(reference::load(&p), &p, "raw_data holds 8 bytes");
    // A huge declared shape with little data.
    let p = write(
        d.path(),
        "h.onnx",
        &model(&[tensor("w", &[1 << 30, 1 << 20], 1, &[fl(9, &[0; 8])])]),
    );
    assert_unreadable(reference::load(&p), &p, "raw_data holds 8 bytes");
    let p = write(
        d.path(),
        "o.onnx",
        &model(&[tensor("w", &[1 << 62, 1 << 62], 1, &[fl(9, &[0; 8])])]),
    );
    assert_unreadable(reference::load(&p), &p, "overflows");
    // A negative dimension.
    let p = write(
        d.path(),
        "n.onnx",
        &model(&[tensor("w", &[u64::MAX], 1, &[])]),
    );
    assert_unreadable(reference::load(&p), &p, "negative dimension");
    // A length prefix claiming far more than the file.
    let mut m = fv(1, 8);
    m.extend([0x3a, 0xff, 0xff, 0xff, 0xff, 0x0f]); // field 7, LEN, 4 GiB
    let p = write(d.path(), "l.onnx", &m);
    assert_unreadable(reference::load(&p), &p, "past the end");
    // No graph at all; an UNDEFINED data type; data missing.
    let p = write(d.path(), "e.onnx", &fv(1, 8));
    assert_unreadable(reference::load(&p), &p, "no graph");
    let p = write(d.path(), "u.onnx", &model(&[tensor("w", &[2], 0, &[])]));
    assert_unreadable(reference::load(&p), &p, "UNDEFINED");
    let p = write(d.path(), "m.onnx", &model(&[tensor("w", &[2], 1, &[])]));
    assert_unreadable(reference::load(&p), &p, "needs 8");
    // Something that is none of the formats.
    let p = write(d.path(), "x.bin", b"\x00\x01garbage");
    assert_unreadable(
        reference::load(&p),
        &p,
        "not a safetensors, .npz or ONNX file",
    );
    let p = d.path().join("does-not-exist.onnx");
    assert_unreadable(reference::load(&p), &p, "cannot open");
}
