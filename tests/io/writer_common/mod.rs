//! Shared by the writer tests: sample tensors of every dtype, writing them, and reading outputs
//! back in Rust (safetensors, zip + ndarray-npy) and with the reference Python readers.
//!
//! The decoders here are the tests' own, written from the format definitions and independent of
//! `trt_dump::writer::convert`, so a wrong conversion there cannot hide behind the same mistake.

use std::collections::BTreeMap;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::Command;

use ndarray::ArrayD;
use ndarray_npy::{ReadDataError, ReadNpyExt, ReadableElement};
use trt_dump::dtype::DataType;
use trt_dump::writer::{
    self, Format, PlannedTensor, ShapeSource, TensorView, WriterOptions, Written,
};

/// A planned tensor and its refit bytes.
#[derive(Clone, Debug)]
pub struct Sample {
    pub plan: PlannedTensor,
    pub data: Vec<u8>,
}

pub fn sample(
    name: &str,
    dtype: DataType,
    shape: &[u64],
    recovered: bool,
    data: Vec<u8>,
) -> Sample {
    let count: u64 = shape.iter().product();
    assert_eq!(
        dtype.bytes_for(count).unwrap() as usize,
        data.len(),
        "{name}"
    );
    let shape_source = if recovered {
        ShapeSource::Recovered {
            from: "model.onnx".into(),
        }
    } else {
        ShapeSource::Flat
    };
    Sample {
        plan: PlannedTensor {
            name: name.into(),
            dtype,
            shape: shape.to_vec(),
            shape_source,
        },
        data,
    }
}

fn le<T: Copy, const N: usize>(v: &[T], f: impl Fn(T) -> [u8; N]) -> Vec<u8> {
    v.iter().flat_map(|&x| f(x)).collect()
}

/// Every dtype, with its edge values: signed zeros, NaNs (with payload), infinities, subnormals,
/// extremes, every code of the 8- and 4-bit types, odd counts of packed types, recovered shapes,
/// zero-element tensors and scalars.
pub fn every_dtype() -> Vec<Sample> {
    use DataType::*;
    let all_bytes: Vec<u8> = (0..=255).collect();
    let f32s = [
        1.0f32,
        -0.0,
        f32::NAN,
        f32::INFINITY,
        f32::NEG_INFINITY,
        1e-45,
        f32::MAX,
        3.25,
    ];
    let nan_payload = f32::from_bits(0xffc0_1234);
    vec![
        sample("float", Float, &[2, 4], true, le(&f32s, f32::to_le_bytes)),
        sample(
            "float.nan_payload",
            Float,
            &[1],
            false,
            le(&[nan_payload], f32::to_le_bytes),
        ),
        sample(
            "half",
            Half,
            &[8],
            false,
            le(
                &[
                    0x0000u16, 0x8000, 0x7c00, 0xfc00, 0x7e00, 0x0001, 0x3c00, 0x7bff,
                ],
                u16::to_le_bytes,
            ),
        ),
        sample(
            "bf16",
            Bf16,
            &[2, 3],
            true,
            le(
                &[0x3f80u16, 0x8000, 0x7fc1, 0xff80, 0x0001, 0xc2f7],
                u16::to_le_bytes,
            ),
        ),
        sample("int8", Int8, &[16, 16], true, all_bytes.clone()),
        sample("uint8", Uint8, &[256], false, all_bytes.clone()),
        sample("bool", Bool, &[5], false, vec![0, 1, 1, 0, 1]),
        sample(
            "int32",
            Int32,
            &[5],
            false,
            le(&[i32::MIN, -1, 0, 1, i32::MAX], i32::to_le_bytes),
        ),
        sample(
            "int64",
            Int64,
            &[6],
            false,
            le(
                &[i64::MIN, -1, 0, 1, i64::MAX, (1 << 53) + 1],
                i64::to_le_bytes,
            ),
        ),
        sample("fp8", Fp8, &[16, 16], true, all_bytes.clone()),
        sample("e8m0", E8m0, &[256], false, all_bytes.clone()),
        // 17 elements: all 16 codes, then code 9, in 9 bytes whose last high nibble is padding.
        sample(
            "int4.odd",
            Int4,
            &[17],
            false,
            vec![0x10, 0x32, 0x54, 0x76, 0x98, 0xba, 0xdc, 0xfe, 0x09],
        ),
        sample(
            "int4.square",
            Int4,
            &[3, 3],
            true,
            vec![0x8f, 0x70, 0x12, 0xef, 0x05],
        ),
        sample(
            "fp4.odd",
            Fp4,
            &[17],
            false,
            vec![0x10, 0x32, 0x54, 0x76, 0x98, 0xba, 0xdc, 0xfe, 0x09],
        ),
        sample(
            "fp4.packed",
            Fp4,
            &[4, 4],
            true,
            vec![0x10, 0x32, 0x54, 0x76, 0x98, 0xba, 0xdc, 0xfe],
        ),
        sample(
            "fp4.odd_last_dim",
            Fp4,
            &[2, 3],
            true,
            vec![0x21, 0x43, 0xf5],
        ),
        sample("empty.float", Float, &[0], false, vec![]),
        sample("empty.int4", Int4, &[0], false, vec![]),
        sample("empty.fp4", Fp4, &[0], false, vec![]),
        sample("empty.bf16", Bf16, &[2, 0], true, vec![]),
        sample(
            "scalar.float",
            Float,
            &[],
            true,
            le(&[-2.5f32], f32::to_le_bytes),
        ),
        sample("scalar.int4", Int4, &[], true, vec![0x0e]),
    ]
}

/// The stored dtype each format must use: the spec in docs/writers.md, stated again here.
pub fn expected_stored(format: Format, dtype: DataType, shape: &[u64]) -> &'static str {
    use DataType::*;
    match format {
        Format::Safetensors => match dtype {
            Float => "F32",
            Half => "F16",
            Bf16 => "BF16",
            Int8 | Int4 => "I8",
            Uint8 => "U8",
            Bool => "BOOL",
            Int32 => "I32",
            Int64 => "I64",
            Fp8 => "F8_E4M3",
            E8m0 => "F8_E8M0",
            Fp4 if shape.last().is_some_and(|d| d % 2 == 0) => "F4",
            Fp4 => "F16",
        },
        Format::Npz | Format::Npy => match dtype {
            Float | Bf16 | E8m0 => "float32",
            Half | Fp8 | Fp4 => "float16",
            Int8 | Int4 => "int8",
            Uint8 => "uint8",
            Bool => "bool",
            Int32 => "int32",
            Int64 => "int64",
        },
    }
}

pub fn metadata() -> BTreeMap<String, String> {
    BTreeMap::from([
        ("source.sha256".to_string(), "ab".repeat(32)),
        ("tensorrt.version".to_string(), "10.13.0".to_string()),
    ])
}

pub fn opts(format: Format) -> WriterOptions {
    WriterOptions {
        format: Some(format),
        compress: false,
        force: false,
        metadata: metadata(),
    }
}

pub fn output_path(dir: &Path, format: Format) -> PathBuf {
    match format {
        Format::Safetensors => dir.join("w.safetensors"),
        Format::Npz => dir.join("w.npz"),
        Format::Npy => dir.join("w"),
    }
}

pub const FORMATS: [Format; 3] = [Format::Safetensors, Format::Npz, Format::Npy];

/// Writes `samples` (added in reverse plan order, to show order does not matter).
pub fn write(path: &Path, opts: &WriterOptions, samples: &[Sample]) -> anyhow::Result<Written> {
    let plan: Vec<PlannedTensor> = samples.iter().map(|s| s.plan.clone()).collect();
    let mut sink = writer::open(path, opts, &plan)?;
    for s in samples.iter().rev() {
        sink.add(&view(s))?;
    }
    sink.finish()
}

pub fn view(s: &Sample) -> TensorView<'_> {
    TensorView {
        name: &s.plan.name,
        dtype: s.plan.dtype,
        shape: &s.plan.shape,
        data: &s.data,
    }
}

/// A value for exact comparison: floats by bits after widening to f64, every NaN alike except
/// for its sign (NumPy conversions do not promise payloads).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum V {
    F(u64),
    I(i64),
    B(bool),
}

impl V {
    pub fn f(x: f64) -> V {
        if x.is_nan() {
            V::F(if x.is_sign_negative() {
                0xfff8_0000_0000_0000
            } else {
                0x7ff8_0000_0000_0000
            })
        } else {
            V::F(x.to_bits())
        }
    }
}

fn nibble_codes(data: &[u8], count: usize) -> Vec<u8> {
    (0..count)
        .map(|i| {
            if i % 2 == 0 {
                data[i / 2] & 15
            } else {
                data[i / 2] >> 4
            }
        })
        .collect()
}

fn fp8_e4m3(b: u8) -> f64 {
    let (s, e, m) = (b >> 7, i32::from((b >> 3) & 15), f64::from(b & 7));
    let mag = if e == 15 && m == 7.0 {
        f64::NAN
    } else if e == 0 {
        m / 8.0 * 2f64.powi(-6)
    } else {
        (1.0 + m / 8.0) * 2f64.powi(e - 7)
    };
    if s == 1 {
        -mag
    } else {
        mag
    }
}

fn fp4_e2m1(c: u8) -> f64 {
    let (s, e, m) = (c >> 3, i32::from((c >> 1) & 3), f64::from(c & 1));
    let mag = if e == 0 {
        m * 0.5
    } else {
        (1.0 + m / 2.0) * 2f64.powi(e - 1)
    };
    if s == 1 {
        -mag
    } else {
        mag
    }
}

/// Values of refit data, by the refit dtype's definition.
pub fn decode_refit(dtype: DataType, data: &[u8], count: usize) -> Vec<V> {
    use DataType::*;
    let c2 = |d: &[u8]| -> Vec<[u8; 2]> { d.chunks_exact(2).map(|c| [c[0], c[1]]).collect() };
    match dtype {
        Float => data
            .chunks_exact(4)
            .map(|c| V::f(f32::from_le_bytes(c.try_into().unwrap()).into()))
            .collect(),
        Half => c2(data)
            .into_iter()
            .map(|b| V::f(half::f16::from_le_bytes(b).to_f64()))
            .collect(),
        Bf16 => c2(data)
            .into_iter()
            .map(|b| V::f(half::bf16::from_le_bytes(b).to_f64()))
            .collect(),
        Int8 => data.iter().map(|&b| V::I(i64::from(b as i8))).collect(),
        Uint8 => data.iter().map(|&b| V::I(i64::from(b))).collect(),
        Bool => data.iter().map(|&b| V::B(b != 0)).collect(),
        Int32 => data
            .chunks_exact(4)
            .map(|c| V::I(i32::from_le_bytes(c.try_into().unwrap()).into()))
            .collect(),
        Int64 => data
            .chunks_exact(8)
            .map(|c| V::I(i64::from_le_bytes(c.try_into().unwrap())))
            .collect(),
        Fp8 => data.iter().map(|&b| V::f(fp8_e4m3(b))).collect(),
        E8m0 => data
            .iter()
            .map(|&b| {
                V::f(if b == 255 {
                    f64::NAN
                } else {
                    2f64.powi(i32::from(b) - 127)
                })
            })
            .collect(),
        Int4 => nibble_codes(data, count)
            .into_iter()
            .map(|n| V::I(if n >= 8 { i64::from(n) - 16 } else { n.into() }))
            .collect(),
        Fp4 => nibble_codes(data, count)
            .into_iter()
            .map(|n| V::f(fp4_e2m1(n)))
            .collect(),
    }
}

/// Values of a safetensors tensor, by its safetensors dtype.
pub fn decode_safetensors(dtype: safetensors::Dtype, data: &[u8], count: usize) -> Vec<V> {
    use safetensors::Dtype as D;
    let as_refit = match dtype {
        D::F32 => DataType::Float,
        D::F16 => DataType::Half,
        D::BF16 => DataType::Bf16,
        D::I8 => DataType::Int8,
        D::U8 => DataType::Uint8,
        D::BOOL => DataType::Bool,
        D::I32 => DataType::Int32,
        D::I64 => DataType::Int64,
        D::F8_E4M3 => DataType::Fp8,
        D::F8_E8M0 => DataType::E8m0,
        D::F4 => DataType::Fp4,
        other => panic!("unexpected safetensors dtype {other:?}"),
    };
    decode_refit(as_refit, data, count)
}

/// NumPy's `<f2`, which ndarray-npy cannot read on its own.
#[derive(Clone, Copy, Debug)]
pub struct H(pub u16);

impl ReadableElement for H {
    fn read_to_end_exact_vec<R: Read>(
        mut reader: R,
        desc: &py_literal::Value,
        len: usize,
    ) -> Result<Vec<H>, ReadDataError> {
        match desc {
            py_literal::Value::String(s) if s == "<f2" => {}
            other => return Err(ReadDataError::WrongDescriptor(other.clone())),
        }
        let mut buf = Vec::new();
        reader.read_to_end(&mut buf)?;
        if buf.len() < 2 * len {
            return Err(ReadDataError::MissingData);
        }
        if buf.len() > 2 * len {
            return Err(ReadDataError::ExtraBytes(buf.len() - 2 * len));
        }
        Ok(buf
            .chunks_exact(2)
            .map(|c| H(u16::from_le_bytes([c[0], c[1]])))
            .collect())
    }
}

/// Shape and values of a `.npy` file's bytes, read as `stored` (a NumPy dtype name); fails if the
/// file's own dtype differs.
pub fn decode_npy(stored: &str, bytes: &[u8]) -> (Vec<usize>, Vec<V>) {
    macro_rules! rd {
        ($t:ty, $f:expr) => {{
            let a = ArrayD::<$t>::read_npy(bytes)
                .unwrap_or_else(|e| panic!("reading as {stored}: {e}"));
            (a.shape().to_vec(), a.iter().map($f).collect())
        }};
    }
    match stored {
        "float32" => rd!(f32, |&x| V::f(x.into())),
        "float16" => rd!(H, |h| V::f(half::f16::from_bits(h.0).to_f64())),
        "int8" => rd!(i8, |&x| V::I(x.into())),
        "uint8" => rd!(u8, |&x| V::I(x.into())),
        "int32" => rd!(i32, |&x| V::I(x.into())),
        "int64" => rd!(i64, |&x| V::I(x)),
        "bool" => rd!(bool, |&x| V::B(x)),
        other => panic!("unexpected numpy dtype {other}"),
    }
}

pub fn count(s: &Sample) -> usize {
    s.plan.shape.iter().product::<u64>() as usize
}

/// Reads a safetensors output with the `safetensors` crate and checks every sample: key, dtype,
/// shape, values, and its `trt_dump.weights` entry; and the file-level metadata.
pub fn check_safetensors_rust(path: &Path, samples: &[Sample], meta: &BTreeMap<String, String>) {
    let bytes = std::fs::read(path).unwrap();
    let st = safetensors::SafeTensors::deserialize(&bytes)
        .expect("the safetensors crate accepts the file");
    let (_, header) = safetensors::SafeTensors::read_metadata(&bytes).unwrap();
    let file_meta = header.metadata().clone().expect("__metadata__ present");
    for (k, v) in meta {
        assert_eq!(file_meta.get(k), Some(v), "metadata {k}");
    }
    let weights: serde_json::Value = serde_json::from_str(&file_meta["trt_dump.weights"]).unwrap();
    assert_eq!(st.len(), samples.len());
    for s in samples {
        let name = &s.plan.name;
        let w = &weights[name.as_str()];
        let key = w.get("key").and_then(|k| k.as_str()).unwrap_or(name);
        let t = st.tensor(key).unwrap_or_else(|e| panic!("{name:?}: {e}"));
        let stored = expected_stored(Format::Safetensors, s.plan.dtype, &s.plan.shape);
        assert_eq!(serde_json::to_value(t.dtype()).unwrap(), stored, "{name:?}");
        assert_eq!(w["stored_dtype"], stored);
        assert_eq!(w["refit_dtype"], s.plan.dtype.name());
        let (src, from) = match &s.plan.shape_source {
            ShapeSource::Flat => ("flat", None),
            ShapeSource::Recovered { from } => ("recovered", Some(from.as_str())),
        };
        assert_eq!(w["shape"], src);
        assert_eq!(w.get("shape_from").and_then(|v| v.as_str()), from);
        let shape: Vec<u64> = t.shape().iter().map(|&d| d as u64).collect();
        assert_eq!(shape, s.plan.shape, "{name:?}");
        assert_values(
            &decode_safetensors(t.dtype(), t.data(), count(s)),
            &decode_refit(s.plan.dtype, &s.data, count(s)),
            &format!("{name:?}"),
        );
    }
}

/// Reads an npz or npy-folder output (zip crate + ndarray-npy) and checks every sample through
/// the index: exact name, file, dtypes, shape, values; and the file-level metadata.
pub fn check_numpy_rust(
    path: &Path,
    format: Format,
    samples: &[Sample],
    meta: &BTreeMap<String, String>,
) {
    let mut zip = (format == Format::Npz)
        .then(|| zip::ZipArchive::new(std::fs::File::open(path).unwrap()).unwrap());
    let npz_comment = zip
        .as_ref()
        .map(|z| z.comment().to_vec())
        .unwrap_or_default();
    let mut member = |name: &str| -> Vec<u8> {
        match zip.as_mut() {
            Some(z) => {
                let mut buf = Vec::new();
                z.by_name(name)
                    .unwrap_or_else(|e| panic!("member {name:?}: {e}"))
                    .read_to_end(&mut buf)
                    .unwrap();
                buf
            }
            None => std::fs::read(path.join(name)).unwrap_or_else(|e| panic!("file {name:?}: {e}")),
        }
    };
    let index_bytes = match format {
        Format::Npz => {
            // The index is the zip's comment, not a member.
            trt_dump::writer::read_index_comment(&npz_comment, 1 << 30).unwrap()
        }
        _ => member("index.json"),
    };
    let index: serde_json::Value = serde_json::from_slice(&index_bytes).unwrap();
    let tag = if format == Format::Npz {
        "trt-dump-npz"
    } else {
        "trt-dump-npy"
    };
    assert_eq!(index["format"], tag);
    assert_eq!(index["metadata"], serde_json::to_value(meta).unwrap());
    let entries = index["weights"].as_array().unwrap();
    if index["complete"] != false {
        assert_eq!(entries.len(), samples.len());
    }
    let by_name: std::collections::HashMap<&str, &serde_json::Value> = entries
        .iter()
        .map(|e| (e["name"].as_str().unwrap(), e))
        .collect();
    assert_eq!(
        by_name.len(),
        entries.len(),
        "names are unique in the index"
    );
    let mut files = std::collections::HashSet::new();
    for s in samples {
        let name = &s.plan.name;
        let stored = expected_stored(format, s.plan.dtype, &s.plan.shape);
        // An .npz index too large for the zip comment lists only the entries that say something
        // the member does not (`"complete": false`).
        let default_entry = serde_json::json!({
            "name": name, "file": format!("{name}.npy"), "refit_dtype": stored, "stored_dtype": stored,
            "shape": s.plan.shape, "shape_source": "flat",
        });
        let e = match by_name.get(name.as_str()) {
            Some(e) => *e,
            None if index["complete"] == false => &default_entry,
            None => panic!("{name:?} not in index"),
        };
        let file = e["file"].as_str().unwrap();
        if format == Format::Npz {
            // Members keep the exact name when it is safe to extract; `Weight`/`weight` both stay.
            assert!(files.insert(file.to_string()), "{file} used twice");
            let stem = file.strip_suffix(".npy").unwrap();
            assert!(
                trt_dump::writer::names::is_safe_member(stem, ".npy"),
                "{file:?}"
            );
            if trt_dump::writer::names::is_safe_member(name, ".npy") {
                assert_eq!(stem, name, "a safe name is kept verbatim");
            }
        } else {
            assert!(files.insert(file.to_ascii_lowercase()), "{file} used twice");
            assert!(trt_dump::writer::names::is_safe_component(file), "{file:?}");
        }
        assert_eq!(e["stored_dtype"], stored);
        assert_eq!(e["refit_dtype"], s.plan.dtype.name());
        assert_eq!(e["shape"], serde_json::to_value(&s.plan.shape).unwrap());
        let (shape, values) = decode_npy(stored, &member(file));
        let shape: Vec<u64> = shape.iter().map(|&d| d as u64).collect();
        assert_eq!(shape, s.plan.shape, "{name:?}");
        assert_values(
            &values,
            &decode_refit(s.plan.dtype, &s.data, count(s)),
            &format!("{name:?}"),
        );
    }
}

pub fn check_rust(
    path: &Path,
    format: Format,
    samples: &[Sample],
    meta: &BTreeMap<String, String>,
) {
    match format {
        Format::Safetensors => check_safetensors_rust(path, samples, meta),
        _ => check_numpy_rust(path, format, samples, meta),
    }
}

/// The Python interpreter for the reference readers: `TRT_DUMP_PYTHON`, default `python3`.
pub fn python() -> String {
    std::env::var("TRT_DUMP_PYTHON")
        .ok()
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| "python3".into())
}

pub fn readback_script() -> PathBuf {
    std::env::var_os("TRT_DUMP_READBACK_PY")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/py/readback.py"))
}

/// Whether the reference readers can run. Without them a test is skipped, loudly; in CI (`CI`
/// set and not empty) it fails instead, so a broken CI image cannot pass by skipping.
pub fn python_available() -> bool {
    let py = python();
    let probe = Command::new(&py)
        .args(["-c", "import numpy, safetensors"])
        .output();
    let why = match probe {
        Ok(o) if o.status.success() => return true,
        Ok(o) => {
            let err = String::from_utf8_lossy(&o.stderr);
            format!(
                "`{py}` cannot import numpy and safetensors ({})",
                err.lines().last().unwrap_or("").trim()
            )
        }
        Err(e) => format!("cannot run `{py}`: {e}"),
    };
    if std::env::var("CI").is_ok_and(|v| !v.is_empty()) {
        panic!("CI is set, so the Python readback must run, but {why} (set TRT_DUMP_PYTHON to a python with numpy and safetensors)");
    }
    eprintln!("SKIPPED Python readback: {why}. Install them (python3 -m pip install numpy safetensors) or set TRT_DUMP_PYTHON.");
    false
}

/// Runs tests/py/readback.py on an output, which reads it with numpy/safetensors and checks
/// names, dtypes, shapes, values and metadata against `samples`.
pub fn check_python(
    path: &Path,
    format: Format,
    samples: &[Sample],
    meta: &BTreeMap<String, String>,
) {
    let (ok, stdout, stderr) = run_python(path, format, samples, meta);
    assert!(
        ok,
        "readback.py failed on {}:\n{stdout}\n{stderr}",
        path.display()
    );
    assert!(stdout.starts_with("OK "), "{stdout}");
    eprintln!("{}", stdout.trim());
}

/// Runs readback.py: (success, stdout, stderr).
pub fn run_python(
    path: &Path,
    format: Format,
    samples: &[Sample],
    meta: &BTreeMap<String, String>,
) -> (bool, String, String) {
    let tensors: Vec<serde_json::Value> = samples
        .iter()
        .map(|s| {
            let (src, from) = match &s.plan.shape_source {
                ShapeSource::Flat => ("flat", None),
                ShapeSource::Recovered { from } => ("recovered", Some(from.clone())),
            };
            let mut v = serde_json::json!({
                "name": s.plan.name,
                "refit_dtype": s.plan.dtype.name(),
                "shape": s.plan.shape,
                "shape_source": src,
                "stored_dtype": expected_stored(format, s.plan.dtype, &s.plan.shape),
                "data_hex": s.data.iter().map(|b| format!("{b:02x}")).collect::<String>(),
            });
            if let Some(f) = from {
                v["shape_from"] = f.into();
            }
            v
        })
        .collect();
    let expect = serde_json::json!({
        "format": writer::format_name(format),
        "path": path,
        "metadata": meta,
        "tensors": tensors,
    });
    let dir = tempfile::tempdir().unwrap();
    let expect_path = dir.path().join("expect.json");
    std::fs::write(&expect_path, serde_json::to_vec(&expect).unwrap()).unwrap();
    let out = Command::new(python())
        .arg(readback_script())
        .arg(&expect_path)
        .output()
        .expect("running readback.py");
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    (out.status.success(), stdout, stderr)
}

/// `assert_eq!` for value lists that names the first difference instead of printing thousands.
pub fn assert_values(got: &[V], want: &[V], what: &str) {
    assert_eq!(got.len(), want.len(), "{what}: element count");
    if let Some(i) = (0..got.len()).find(|&i| got[i] != want[i]) {
        let show = |v: V| match v {
            V::F(b) => format!("{:e} ({b:#018x})", f64::from_bits(b)),
            other => format!("{other:?}"),
        };
        panic!(
            "{what}: element {i} is {}, want {}",
            show(got[i]),
            show(want[i])
        );
    }
}

/// Names of everything in `dir`.
pub fn entries(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    v.sort();
    v
}
