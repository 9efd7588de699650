//! The fuzz corpus as a regression suite on stable Rust: every input kept under
//! `fuzz/corpus/<target>/` (seeds, and every input a fuzzing run found a bug with) is run through
//! its target (`fuzz/src/targets.rs`, the same code the libFuzzer binaries call). A target checks
//! properties and panics when one breaks, so a fixed bug that comes back fails here, in the
//! ordinary `cargo test`, without cargo-fuzz.
//!
//! `write_seed_corpus` (ignored) writes the hand-made seeds `seed-*`: valid inputs of each format,
//! from which the fuzzer's mutations start. Run it after changing a format:
//! `cargo test --test io reliability_fuzz_corpus::write_seed_corpus -- --ignored`.

#[path = "../../fuzz/src/targets.rs"]
mod targets;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use trt_dump::dtype::DataType;
use trt_dump::map::{self, Header, MapFile, MissingWeight};
use trt_dump::pipeline::extract::Missing;
use trt_dump::pipeline::{Run, WeightSpec};

fn corpus_dir(target: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fuzz/corpus")
        .join(target)
}

fn files(dir: &Path) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_file())
        .collect();
    v.sort();
    v
}

#[test]
fn every_corpus_input_passes_its_target() {
    let mut failures = Vec::new();
    for (name, target) in targets::TARGETS {
        let inputs = files(&corpus_dir(name));
        assert!(!inputs.is_empty(), "fuzz/corpus/{name} is empty");
        for p in inputs {
            let data = std::fs::read(&p).unwrap();
            if std::panic::catch_unwind(|| target(&data)).is_err() {
                failures.push(format!("{name}: {}", p.display()));
            }
        }
    }
    assert!(
        failures.is_empty(),
        "inputs that fail their target:\n{}",
        failures.join("\n")
    );
}

#[test]
fn every_target_has_a_libfuzzer_binary_and_a_corpus() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let manifest = std::fs::read_to_string(root.join("fuzz/Cargo.toml")).unwrap();
    for (name, _) in targets::TARGETS {
        assert!(
            root.join(format!("fuzz/fuzz_targets/{name}.rs")).is_file(),
            "fuzz_targets/{name}.rs"
        );
        assert!(
            manifest.contains(&format!("name = \"{name}\"")),
            "[[bin]] {name} in fuzz/Cargo.toml"
        );
        assert!(corpus_dir(name).is_dir(), "fuzz/corpus/{name}");
    }
    let script = std::fs::read_to_string(root.join("fuzz/run-ci.sh")).unwrap();
    assert!(
        script.contains("fuzz/corpus"),
        "run-ci.sh runs over the corpus"
    );
}

// ---- seeds ----------------------------------------------------------------------------------------

fn put(target: &str, name: &str, bytes: &[u8]) {
    // A seed must be a valid input of its format, or the fuzzer starts from noise.
    let ext = target.strip_prefix("reference_");
    if let Some(ext) = ext {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join(format!("model.{ext}"));
        std::fs::write(&p, bytes).unwrap();
        let loaded = trt_dump::reference::load_all(&p)
            .unwrap_or_else(|e| panic!("seed {target}/{name}: {e:#}"));
        assert!(
            !loaded.tensors.is_empty(),
            "seed {target}/{name} holds no tensor"
        );
    }
    if target == "map_file" {
        let m = if bytes[0] == 0 {
            MapFile::from_bytes(&bytes[1..])
        } else {
            let mut v = bytes[1..].to_vec();
            v.extend_from_slice(&xxhash_rust::xxh3::xxh3_64(&v).to_le_bytes());
            MapFile::from_bytes(&v)
        };
        m.unwrap_or_else(|e| panic!("seed {target}/{name}: {e:#}"));
    }
    let dir = corpus_dir(target);
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join(format!("seed-{name}")), bytes).unwrap();
}

fn w(name: &str, dtype: DataType, count: u64) -> WeightSpec {
    WeightSpec {
        name: name.into(),
        dtype,
        count,
    }
}

fn map_seed(
    weights: Vec<WeightSpec>,
    runs: &[Run],
    engine_len: u64,
    missing: Vec<MissingWeight>,
) -> Vec<u8> {
    let engine: Vec<u8> = (0..engine_len).map(|i| (i * 13) as u8).collect();
    let header = Header {
        engine_len,
        fingerprint: map::fingerprint(&engine, runs, &[(2, 6)]),
        weights,
        missing,
        volatile: vec![(2, 6)],
        meta: BTreeMap::from([("tool".to_string(), "seed".to_string())]),
    };
    MapFile {
        header,
        runs: map::compress(runs),
    }
    .to_bytes()
    .unwrap()
}

fn map_seeds() {
    let run =
        |weight: u32, stored: DataType, offset: u64, len: u64, index: u64, index_stride: i64| Run {
            weight,
            stored,
            offset,
            nibble: 0,
            len,
            index,
            index_stride,
        };
    // A transposed 4x3 fp32 weight (one two-level record), an fp16 copy of an fp32 bias, an int4
    // weight starting on a high nibble, a missing weight.
    let mut runs: Vec<Run> = (0..3)
        .map(|c| run(0, DataType::Float, 100 + 16 * c, 4, c, 3))
        .collect();
    runs.push(run(1, DataType::Half, 200, 5, 0, 1));
    runs.push(Run {
        nibble: 1,
        ..run(2, DataType::Int4, 220, 7, 0, 1)
    });
    let weights = vec![
        w("a/weight", DataType::Float, 12),
        w("b\nbias", DataType::Float, 5),
        w("q", DataType::Int4, 7),
        w("gone", DataType::Int8, 9),
    ];
    let missing = vec![MissingWeight {
        name: "gone".into(),
        reason: Missing::NotInPlan,
    }];
    let full = map_seed(weights.clone(), &runs, 300, missing);
    let mut raw = vec![0u8];
    raw.extend_from_slice(&full);
    put("map_file", "transposed-raw", &raw);
    let mut body = vec![1u8];
    body.extend_from_slice(&full[..full.len() - 8]);
    put("map_file", "transposed-body", &body);
    // Int32 copy of an int64 weight, bool, bf16: every stored dtype class.
    let runs = vec![
        run(0, DataType::Int32, 8, 3, 0, 1),
        run(0, DataType::Int64, 24, 3, 0, 1),
        run(1, DataType::Bool, 60, 6, 0, 1),
        run(2, DataType::Bf16, 70, 4, 3, -1),
    ];
    let weights = vec![
        w("ids", DataType::Int64, 3),
        w("mask", DataType::Bool, 6),
        w("g", DataType::Bf16, 4),
    ];
    let full = map_seed(weights, &runs, 96, vec![]);
    let mut body = vec![1u8];
    body.extend_from_slice(&full[..full.len() - 8]);
    put("map_file", "wide-body", &body);
}

/// Encodes a decode-target input: mode, weights, image length, filler, offsets, damage.
fn decode_seed(
    mode: u8,
    weights: &[(usize, u8)],
    len: u16,
    at: &[u16],
    damage: &[(u8, u16, u8)],
) -> Vec<u8> {
    let mut v = vec![mode, (weights.len() - 1) as u8];
    for (d, n) in weights {
        v.push(*d as u8);
        v.push(*n);
    }
    v.extend_from_slice(&(len - 16).to_le_bytes());
    let mut s = 0x2545_F491_4F6C_DD1Du64;
    for _ in 0..len {
        s ^= s << 13;
        s ^= s >> 7;
        s ^= s << 17;
        v.push((s >> 32) as u8);
    }
    for a in at {
        v.extend_from_slice(&a.to_le_bytes());
    }
    for (i, p, b) in damage {
        v.push(*i);
        v.extend_from_slice(&p.to_le_bytes());
        v.push(*b);
    }
    v
}

fn dtype_index(d: DataType) -> usize {
    DataType::ALL.iter().position(|x| *x == d).unwrap()
}

fn decode_seeds() {
    let f = |d| dtype_index(d);
    put(
        "decode",
        "three-dtypes",
        &decode_seed(
            0,
            &[
                (f(DataType::Float), 20),
                (f(DataType::Half), 9),
                (f(DataType::Int8), 30),
            ],
            400,
            &[16, 200, 300],
            &[],
        ),
    );
    put(
        "decode",
        "adjacent-packed",
        &decode_seed(
            0,
            &[
                (f(DataType::Int4), 13),
                (f(DataType::Bool), 5),
                (f(DataType::Int64), 3),
            ],
            200,
            &[40, 47, 52],
            &[],
        ),
    );
    put(
        "decode",
        "damaged",
        &decode_seed(
            0,
            &[
                (f(DataType::Float), 12),
                (f(DataType::Bf16), 8),
                (f(DataType::Int32), 4),
            ],
            300,
            &[20, 100, 150],
            &[(1, 30, 0x41), (0, 120, 7), (2, 160, 0xFF)],
        ),
    );
    let mut raw = vec![
        1u8,
        1,
        f(DataType::Float) as u8,
        8,
        f(DataType::Uint8) as u8,
        8,
        48,
        0,
    ];
    raw.extend((0..64 * 3).map(|i| (i * 7) as u8));
    put("decode", "raw", &raw);
}

fn align_seed(mode: u8, lx: u16, ly: u16, mask: &[(u16, u16)], bytes: usize) -> Vec<u8> {
    let mut v = vec![mode];
    v.extend_from_slice(&lx.to_le_bytes());
    v.extend_from_slice(&ly.to_le_bytes());
    v.push(mask.len() as u8);
    for (gap, len) in mask {
        v.extend_from_slice(&gap.to_le_bytes());
        v.extend_from_slice(&(len - 1).to_le_bytes());
    }
    let mut s = 0x9E37_79B9_7F4A_7C15u64;
    for _ in 0..bytes {
        s ^= s << 13;
        s ^= s >> 7;
        s ^= s << 17;
        v.push((s >> 24) as u8);
    }
    v
}

fn align_seeds() {
    put("align", "identical", &align_seed(1, 6000, 0, &[], 6000));
    put(
        "align",
        "identical-masked",
        &align_seed(1, 6000, 0, &[(1000, 500), (200, 900)], 6000),
    );
    put(
        "align",
        "inserted",
        &align_seed(2 | 4, 7000, 3100, &[(3000, 800)], 7000),
    );
    put(
        "align",
        "removed",
        &align_seed(2, 7000, 2222, &[(100, 1000), (2000, 64)], 7000),
    );
    put(
        "align",
        "unrelated",
        &align_seed(0, 3000, 3500, &[(10, 10)], 512),
    );
}

fn safetensors_seeds() {
    use safetensors::tensor::{serialize, Dtype, TensorView};
    let f32s: Vec<u8> = [1.5f32, -2.0, 0.25, 3.0, 7.0, 8.0]
        .iter()
        .flat_map(|x| x.to_le_bytes())
        .collect();
    let f16s: Vec<u8> = [0x3C00u16, 0xC000, 0x7BFF]
        .iter()
        .flat_map(|x| x.to_le_bytes())
        .collect();
    let i64s: Vec<u8> = [1i64, -1, 1 << 40]
        .iter()
        .flat_map(|x| x.to_le_bytes())
        .collect();
    let f64s: Vec<u8> = 2.5f64.to_le_bytes().to_vec();
    let bools = vec![0u8, 1, 1, 0];
    let tensors = vec![
        (
            "layer.0/weight",
            TensorView::new(Dtype::F32, vec![2, 3], &f32s).unwrap(),
        ),
        ("h", TensorView::new(Dtype::F16, vec![3], &f16s).unwrap()),
        ("b", TensorView::new(Dtype::BF16, vec![3], &f16s).unwrap()),
        ("ids", TensorView::new(Dtype::I64, vec![3], &i64s).unwrap()),
        ("step", TensorView::new(Dtype::F64, vec![], &f64s).unwrap()),
        (
            "mask",
            TensorView::new(Dtype::BOOL, vec![2, 2], &bools).unwrap(),
        ),
        (
            "empty",
            TensorView::new(Dtype::F32, vec![0, 4], &[]).unwrap(),
        ),
    ];
    let meta = Some(std::collections::HashMap::from([(
        "format".to_string(),
        "pt".to_string(),
    )]));
    put(
        "reference_safetensors",
        "mixed",
        &serialize(tensors, meta).unwrap(),
    );
    let one = vec![(
        "w",
        TensorView::new(Dtype::I8, vec![4], &[1u8, 2, 3, 4]).unwrap(),
    )];
    put(
        "reference_safetensors",
        "int8",
        &serialize(one, None).unwrap(),
    );
}

fn npz_seeds() {
    use trt_dump::writer::{self, PlannedTensor, ShapeSource, TensorView, WriterOptions};
    let dir = tempfile::tempdir().unwrap();
    let tensors: Vec<(&str, DataType, Vec<u64>, Vec<u8>)> = vec![
        (
            "w/0",
            DataType::Float,
            vec![2, 2],
            [1.0f32, 2.0, 3.0, 4.0]
                .iter()
                .flat_map(|x| x.to_le_bytes())
                .collect(),
        ),
        ("h", DataType::Half, vec![2], vec![0x00, 0x3C, 0x00, 0xC0]),
        ("q", DataType::Int4, vec![3], vec![0x21, 0x0F]),
        (
            "ids",
            DataType::Int64,
            vec![1],
            (-3i64).to_le_bytes().to_vec(),
        ),
        ("flags", DataType::Bool, vec![2], vec![1, 0]),
    ];
    for compress in [false, true] {
        let path = dir.path().join(format!("x{compress}.npz"));
        let planned: Vec<PlannedTensor> = tensors
            .iter()
            .map(|(n, d, s, _)| PlannedTensor {
                name: n.to_string(),
                dtype: *d,
                shape: s.clone(),
                shape_source: ShapeSource::Flat,
            })
            .collect();
        let opts = WriterOptions {
            format: None,
            compress,
            force: false,
            metadata: BTreeMap::new(),
        };
        let mut sink = writer::open(&path, &opts, &planned).unwrap();
        for (n, d, s, data) in &tensors {
            sink.add(&TensorView {
                name: n,
                dtype: *d,
                shape: s,
                data,
            })
            .unwrap();
        }
        sink.finish().unwrap();
        let name = if compress { "deflated" } else { "stored" };
        put("reference_npz", name, &std::fs::read(&path).unwrap());
    }
}

fn varint(mut v: u64, out: &mut Vec<u8>) {
    loop {
        let b = (v & 0x7F) as u8;
        v >>= 7;
        if v == 0 {
            out.push(b);
            return;
        }
        out.push(b | 0x80);
    }
}

fn field_bytes(field: u32, data: &[u8], out: &mut Vec<u8>) {
    varint(u64::from(field) << 3 | 2, out);
    varint(data.len() as u64, out);
    out.extend_from_slice(data);
}

fn field_varint(field: u32, v: u64, out: &mut Vec<u8>) {
    varint(u64::from(field) << 3, out);
    varint(v, out);
}

/// An ONNX TensorProto: dims, data_type, name, then the data fields given.
fn onnx_tensor(
    name: &str,
    dims: &[u64],
    data_type: u64,
    data: impl FnOnce(&mut Vec<u8>),
) -> Vec<u8> {
    let mut t = Vec::new();
    for d in dims {
        field_varint(1, *d, &mut t);
    }
    field_varint(2, data_type, &mut t);
    field_bytes(8, name.as_bytes(), &mut t);
    data(&mut t);
    t
}

fn onnx_seeds() {
    let raw_f32: Vec<u8> = [0.5f32, 1.5, -2.0, 4.0]
        .iter()
        .flat_map(|x| x.to_le_bytes())
        .collect();
    let inits = vec![
        // FLOAT (1) in raw_data (9).
        onnx_tensor("fc.weight", &[2, 2], 1, |t| field_bytes(9, &raw_f32, t)),
        // FLOAT in packed float_data (4).
        onnx_tensor("fc.bias", &[2], 1, |t| {
            field_bytes(4, &[0, 0, 128, 63, 0, 0, 0, 64], t)
        }),
        // INT64 (7) in packed int64_data (7).
        onnx_tensor("shape", &[3], 7, |t| {
            let mut p = Vec::new();
            for v in [1u64, 2, 3] {
                varint(v, &mut p);
            }
            field_bytes(7, &p, t)
        }),
        // FLOAT16 (10) in int32_data (5), one value per entry.
        onnx_tensor("half", &[2], 10, |t| {
            field_bytes(5, &[0x80, 0x78, 0x80, 0xF8, 0x03], t)
        }),
        // External data (13) with data_location EXTERNAL (14 = 1).
        onnx_tensor("ext", &[1], 1, |t| {
            let mut e = Vec::new();
            field_bytes(1, b"location", &mut e);
            field_bytes(2, b"model.onnx", &mut e);
            field_bytes(13, &e, t);
            for (k, v) in [("offset", "8"), ("length", "4")] {
                let mut e = Vec::new();
                field_bytes(1, k.as_bytes(), &mut e);
                field_bytes(2, v.as_bytes(), &mut e);
                field_bytes(13, &e, t);
            }
            field_varint(14, 1, t);
        }),
    ];
    let mut graph = Vec::new();
    field_bytes(2, b"graph", &mut graph);
    for t in &inits {
        field_bytes(5, t, &mut graph);
    }
    let mut model = Vec::new();
    field_varint(1, 8, &mut model);
    field_bytes(2, b"pytorch", &mut model);
    field_bytes(7, &graph, &mut model);
    put("reference_onnx", "initializers", &model);
    let mut small = Vec::new();
    field_varint(1, 9, &mut small);
    let mut g = Vec::new();
    field_bytes(5, &inits[0], &mut g);
    field_bytes(7, &g, &mut small);
    put("reference_onnx", "one", &small);
}

fn names_seeds() {
    let lists: [&[&str]; 3] = [
        &[
            "model.layers.0.weight",
            "a/b",
            "a_b",
            "../../etc/passwd",
            ".hidden",
            "CON",
            "con.weight",
        ],
        &[
            "Weight",
            "weight",
            "WEIGHT",
            "__trt_dump_index__",
            "index.json",
            "名前",
            "a\nb",
            "a\0b",
            "",
        ],
        &["w~1234abcd", "w", "onnx::Conv_12", "x y", "."],
    ];
    for (i, l) in lists.iter().enumerate() {
        let mut v = Vec::new();
        for (k, n) in l.iter().enumerate() {
            if k > 0 {
                v.push(0xFF);
            }
            v.extend_from_slice(n.as_bytes());
        }
        put("npy_names", &format!("list{i}"), &v);
    }
    let mut long = "w".repeat(300).into_bytes();
    long.push(0xFF);
    long.extend("é".repeat(150).as_bytes());
    put("npy_names", "long", &long);
}

#[test]
#[ignore = "writes fuzz/corpus/*/seed-*; run by hand after changing a format"]
fn write_seed_corpus() {
    map_seeds();
    decode_seeds();
    align_seeds();
    safetensors_seeds();
    npz_seeds();
    onnx_seeds();
    names_seeds();
}
