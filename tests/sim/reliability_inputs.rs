//! Hostile and odd input: weight names that are paths, control characters or unicode; 10,000
//! weights; zero-element weights; element counts beyond i32; an engine of more than 4 GiB read
//! through a map; maps pointing outside the file or claiming billions of elements.
//!
//! Engines come from the simulator (tests/support/sim.rs), written to files and read by the real
//! binary through the stand-in TensorRT library (skipped loudly without it; a failure in CI), or by
//! the pipeline directly where the point is a count no test can allocate.

use crate::reliability_common as common;
use crate::sim;
use crate::standin;

use std::collections::{BTreeMap, HashMap};
use std::path::Path;
use std::process::Command;

use common::{code, stderr, trt_dump, Dirs};
use sim::{Content, Fill, Order, SimSpec};
use trt_dump::dtype::DataType;
use trt_dump::error::ErrorKind;
use trt_dump::map::{self, Header, MapFile};
use trt_dump::pipeline::{Run, WeightSpec};

/// Distinct, deterministic fp32 values (no NaN/inf: the stand-in validates refits).
fn f32_values(seed: u64, count: u64) -> Vec<u8> {
    (0..count)
        .flat_map(|i| ((seed * 1000 + i) as f32 * 0.03125 - 7.0).to_le_bytes())
        .collect()
}

/// An engine: 4 KiB of kernels, then each weight stored verbatim after 16 bytes of filler.
fn spec_of(weights: &[(String, DataType, u64)]) -> SimSpec {
    let mut s = SimSpec::new();
    s.filler(4096, Fill::Random(1));
    for (i, (name, dt, count)) in weights.iter().enumerate() {
        let values = match dt {
            DataType::Float => f32_values(i as u64, *count),
            _ => (0..dt.bytes_for(*count).unwrap())
                .map(|k| (k as u8).wrapping_mul(37).wrapping_add(i as u8) & 0x77)
                .collect(),
        };
        let w = s.weight(name.clone(), *dt, *count, values);
        if *count > 0 {
            s.filler(16, Fill::Random(2 + i as u64));
            s.buffer(Content::Copy(w), *dt, Order::Verbatim);
        }
    }
    s.filler(64, Fill::Random(99));
    s
}

/// name -> (dtype, shape, data bytes)
type Tensors = HashMap<String, (String, Vec<u64>, Vec<u8>)>;

fn safetensors_of(path: &Path) -> (Tensors, BTreeMap<String, String>) {
    let bytes = std::fs::read(path).unwrap();
    let (_, meta) = safetensors::SafeTensors::read_metadata(&bytes).unwrap();
    let st = safetensors::SafeTensors::deserialize(&bytes).unwrap();
    let tensors = st
        .tensors()
        .into_iter()
        .map(|(k, v)| {
            (
                k,
                (
                    format!("{:?}", v.dtype()),
                    v.shape().iter().map(|d| *d as u64).collect(),
                    v.data().to_vec(),
                ),
            )
        })
        .collect();
    let meta: BTreeMap<String, String> = meta
        .metadata()
        .clone()
        .unwrap_or_default()
        .into_iter()
        .collect();
    (tensors, meta)
}

/// The exact weight names of an .npz (from its index member) with each one's member data bytes.
fn npz_of(path: &Path) -> BTreeMap<String, Vec<u8>> {
    // The index is the zip's comment (members are only weights).
    let comment = zip::ZipArchive::new(std::fs::File::open(path).unwrap())
        .unwrap()
        .comment()
        .to_vec();
    let idx = trt_dump::writer::read_index_comment(&comment, 1 << 30).unwrap();
    let idx: serde_json::Value = serde_json::from_slice(&idx).unwrap();
    let mut z = ndarray_npy::NpzReader::new(std::fs::File::open(path).unwrap()).unwrap();
    let mut out = BTreeMap::new();
    for w in idx["weights"].as_array().unwrap() {
        let file = w["file"].as_str().unwrap();
        // Kept verbatim when safe to extract (`a/b` is a folder inside the extraction), else changed.
        assert!(
            trt_dump::writer::names::is_safe_member(file.strip_suffix(".npy").unwrap(), ".npy"),
            "member {file:?}"
        );
        let a: ndarray::ArrayD<f32> = z.by_name(file).unwrap();
        out.insert(
            w["name"].as_str().unwrap().to_string(),
            a.iter().flat_map(|x| x.to_le_bytes()).collect(),
        );
    }
    out
}

/// Same for a folder of .npy files (index.json).
fn npy_dir_of(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    let idx: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.join("index.json")).unwrap()).unwrap();
    let mut out = BTreeMap::new();
    for w in idx["weights"].as_array().unwrap() {
        let file = w["file"].as_str().unwrap();
        let p = dir.join(file);
        assert_eq!(
            p.parent(),
            Some(dir),
            "file {file:?} is not directly in the folder"
        );
        assert!(trt_dump::writer::names::is_safe_component(file), "{file:?}");
        let a: ndarray::ArrayD<f32> = ndarray_npy::read_npy(&p).unwrap();
        out.insert(
            w["name"].as_str().unwrap().to_string(),
            a.iter().flat_map(|x| x.to_le_bytes()).collect(),
        );
    }
    out
}

/// Names that are paths, reserved words, control characters, unicode, very long, or differ only
/// in case: every one is written under its exact name (safetensors keys, the npz and npy
/// indexes), nothing is written outside the output, and every value is the engine's. NUL cannot
/// cross the C ABI (names are C strings): the stand-in, like any C caller, cannot pass `a\0b`;
/// it passes `a b`, which is what comes out.
#[test]
fn hostile_weight_names_come_out_exact_and_contained() {
    let Some((lib, _)) = common::standin() else {
        return;
    };
    let names: Vec<String> = [
        "a/b",
        "../../escape",
        "..",
        ".",
        "/abs/path",
        "line\nbreak",
        "tab\tcr\r",
        "名前.weight",
        "emoji 🎉",
        "CON",
        "nul.weight",
        "__metadata__",
        "__trt_dump_index__",
        "index.json",
        "Weight",
        "weight",
        "",
        "a\0b",
    ]
    .iter()
    .map(|s| s.to_string())
    .chain(["x".repeat(1000)])
    .collect();
    let weights: Vec<(String, DataType, u64)> = names
        .iter()
        .map(|n| (n.clone(), DataType::Float, 8))
        .collect();
    let spec = spec_of(&weights);
    let d = Dirs::new();
    let (engine, plan) = standin::write_engine(&spec, &d.engines(), "hostile.engine");
    let expect: BTreeMap<String, Vec<u8>> = names
        .iter()
        .zip(&plan.truth.weights)
        .map(|(n, t)| (n.replace('\0', " "), t.values.clone().unwrap()))
        .collect();
    assert_eq!(expect.len(), names.len());
    for out in ["w.safetensors", "w.npz", "w_npy/"] {
        let o = trt_dump(&lib, &d.tmp())
            .arg("dump")
            .arg(&engine)
            .arg("-o")
            .arg(d.out().join(out))
            .output()
            .unwrap();
        assert_eq!(o.status.code(), Some(0), "{out}: {}", stderr(&o));
        let got = match out {
            "w.safetensors" => {
                let (t, meta) = safetensors_of(&d.out().join(out));
                let index: serde_json::Value =
                    serde_json::from_str(&meta["trt_dump.weights"]).unwrap();
                index
                    .as_object()
                    .unwrap()
                    .iter()
                    .map(|(name, e)| {
                        let key = e.get("key").and_then(|k| k.as_str()).unwrap_or(name);
                        (name.clone(), t[key].2.clone())
                    })
                    .collect()
            }
            "w.npz" => npz_of(&d.out().join(out)),
            _ => npy_dir_of(&d.out().join("w_npy")),
        };
        assert_eq!(
            got.keys().collect::<Vec<_>>(),
            expect.keys().collect::<Vec<_>>(),
            "{out}"
        );
        assert!(got == expect, "{out}: values differ from the engine's");
    }
    // Nothing anywhere but the three outputs.
    let top: Vec<String> = std::fs::read_dir(d.out())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    let mut top = top;
    top.sort();
    assert_eq!(top, ["w.npz", "w.safetensors", "w_npy"]);
    let npy_files = common::listing(&d.out().join("w_npy"));
    assert_eq!(npy_files.len(), names.len() + 1, "{npy_files:?}");
    assert!(std::fs::read_dir(d.root.path()).unwrap().count() == 3);
}

/// 10,000 weights (of mixed dtypes, a few elements each): all extracted, proven and written, by
/// name, with the engine's values; the folder format holds 10,001 files.
#[test]
fn ten_thousand_weights() {
    let Some((lib, _)) = common::standin() else {
        return;
    };
    let dts = [
        DataType::Float,
        DataType::Half,
        DataType::Int8,
        DataType::Int32,
    ];
    let weights: Vec<(String, DataType, u64)> = (0..10_000)
        .map(|i| {
            (
                format!("layer{}.w{}", i / 10, i % 10),
                dts[i % dts.len()],
                1 + (i % 5) as u64,
            )
        })
        .collect();
    let spec = spec_of(&weights);
    let d = Dirs::new();
    let (engine, plan) = standin::write_engine(&spec, &d.engines(), "many.engine");
    let o = trt_dump(&lib, &d.tmp())
        .arg("dump")
        .arg(&engine)
        .arg("-o")
        .arg(d.out().join("w.safetensors"))
        .arg("--json")
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let rep: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(rep["weights"].as_array().unwrap().len(), 10_000);
    assert!(
        stderr(&o).contains("10000 of 10000 weights extracted"),
        "{}",
        stderr(&o)
    );
    let (t, _) = safetensors_of(&d.out().join("w.safetensors"));
    assert_eq!(t.len(), 10_000);
    for (w, truth) in weights.iter().zip(&plan.truth.weights) {
        assert_eq!(&t[&w.0].2, truth.values.as_ref().unwrap(), "{}", w.0);
    }
    let o = trt_dump(&lib, &d.tmp())
        .arg("dump")
        .arg(&engine)
        .arg("-o")
        .arg(d.out().join("w_npy/"))
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert_eq!(
        std::fs::read_dir(d.out().join("w_npy")).unwrap().count(),
        10_001
    );
}

/// Weights of zero elements (possible in a refitter's list: an empty bias): extracted as empty
/// tensors of shape [0] in every format, the proof passes, exit 0.
#[test]
fn zero_element_weights_are_written_as_empty_tensors() {
    let Some((lib, _)) = common::standin() else {
        return;
    };
    let weights = vec![
        ("w".to_string(), DataType::Float, 6),
        ("empty.f32".to_string(), DataType::Float, 0),
        ("empty.i8".to_string(), DataType::Int8, 0),
        ("empty.i4".to_string(), DataType::Int4, 0),
        ("b".to_string(), DataType::Half, 3),
    ];
    let spec = spec_of(&weights);
    let d = Dirs::new();
    let (engine, _) = standin::write_engine(&spec, &d.engines(), "empty.engine");
    for out in ["w.safetensors", "w.npz", "w_npy/"] {
        let o = trt_dump(&lib, &d.tmp())
            .arg("dump")
            .arg(&engine)
            .arg("-o")
            .arg(d.out().join(out))
            .output()
            .unwrap();
        assert_eq!(o.status.code(), Some(0), "{out}: {}", stderr(&o));
        assert!(
            stderr(&o).contains("5 of 5 weights extracted"),
            "{out}: {}",
            stderr(&o)
        );
        assert!(
            stderr(&o).contains("round-trip proof: refitting the extracted values reproduces"),
            "{}",
            stderr(&o)
        );
    }
    let (t, _) = safetensors_of(&d.out().join("w.safetensors"));
    for n in ["empty.f32", "empty.i8", "empty.i4"] {
        assert_eq!(t[n].1, vec![0u64], "{n}");
        assert!(t[n].2.is_empty(), "{n}");
    }
    let idx: serde_json::Value =
        serde_json::from_slice(&std::fs::read(d.out().join("w_npy/index.json")).unwrap()).unwrap();
    let shapes: BTreeMap<&str, &serde_json::Value> = idx["weights"]
        .as_array()
        .unwrap()
        .iter()
        .map(|w| (w["name"].as_str().unwrap(), &w["shape"]))
        .collect();
    assert_eq!(shapes["empty.i8"], &serde_json::json!([0]));
}

// ---- counts beyond i32 ----------------------------------------------------------------------------

/// Element counts beyond i32 and u32 (TensorRT's Weights::count is int64) go through identity
/// numbering, the marker code books, decoding and reading without truncation. No 2^31-element
/// buffer is allocated: each weight is huge, but the image holds three of its elements, at
/// indices past 2^32, and the pipeline is driven directly.
#[test]
fn element_counts_beyond_i32_are_numbered_decoded_and_read_without_truncation() {
    use trt_dump::pipeline::assemble::assemble;
    use trt_dump::pipeline::code::{fill_markers, Class};
    use trt_dump::pipeline::decode::{decode, Images};
    use trt_dump::pipeline::ids::IdSpace;
    let big = 3_000_000_000u64 * 2; // 6e9: more than u32::MAX elements.
    for dt in [
        DataType::Float,
        DataType::Half,
        DataType::Int8,
        DataType::Int4,
        DataType::Int64,
        DataType::Bool,
    ] {
        let weights = vec![
            WeightSpec {
                name: "small".into(),
                dtype: dt,
                count: 5,
            },
            WeightSpec {
                name: "huge".into(),
                dtype: dt,
                count: big,
            },
        ];
        let ids = IdSpace::new(&weights);
        assert_eq!(ids.count(Class::of(dt)), big + 5);
        assert_eq!(ids.first[1].1, 5);
        let want = Class::of(dt).passes_needed(big + 5);
        assert_eq!(ids.passes, want.max(2), "{dt}");
        let at = (1u64 << 32) + 77; // element index of the first stored element of `huge`.
        let len = 64usize;
        let off = 16usize;
        let n = 3u64;
        let nbytes = dt.bytes_for(n).unwrap() as usize;
        let base = {
            let mut b: Vec<u8> = (0..len).map(|i| (i * 29 + 7) as u8 | 0x80).collect();
            b[off..off + nbytes].fill(0);
            b
        };
        let passes: Vec<Vec<u8>> = (0..ids.passes)
            .map(|p| {
                let mut img = base.clone();
                fill_markers(dt, ids.first[1].1 + at, n, p, &mut img[off..off + nbytes]);
                img
            })
            .collect();
        let images = Images {
            base: &base,
            passes: passes.iter().map(|p| p.as_slice()).collect(),
        };
        let dec = decode(&images, &weights, &ids, &mut |_| true).unwrap();
        let runs: Vec<&Run> = dec.runs.iter().filter(|r| r.weight == 1).collect();
        assert_eq!(runs.len(), 1, "{dt}: {:?}", dec.runs);
        assert_eq!(
            (runs[0].offset, runs[0].index, runs[0].len),
            (off as u64, at, n),
            "{dt}"
        );
        // Values: read from an "original" image holding real values there.
        let mut original = base.clone();
        for (k, b) in original[off..off + nbytes].iter_mut().enumerate() {
            *b = (k as u8).wrapping_mul(13) & 0x3F;
        }
        let got = assemble(&weights, &dec.runs, &original).unwrap();
        assert_eq!((got[1].found, got[1].values.is_none()), (n, true), "{dt}");
    }
}

// ---- maps ---------------------------------------------------------------------------------------

/// A map for `engine`, its runs and weights, fingerprinted like the tool does.
fn map_for(engine: &[u8], weights: Vec<WeightSpec>, runs: &[Run]) -> Vec<u8> {
    let header = Header {
        engine_len: engine.len() as u64,
        fingerprint: map::fingerprint(engine, runs, &[]),
        weights,
        missing: vec![],
        volatile: vec![],
        meta: BTreeMap::new(),
    };
    MapFile {
        header,
        runs: map::compress(runs),
    }
    .to_bytes()
    .unwrap()
}

/// A plan-looking file (TensorRT 10.16 header) of `len` bytes, with `parts` written at offsets.
fn plan_file(path: &Path, len: u64, parts: &[(u64, Vec<u8>)]) {
    use std::io::{Seek, SeekFrom, Write};
    let mut f = std::fs::File::create(path).unwrap();
    f.set_len(len).unwrap();
    let mut h = vec![0u8; 64];
    h[..4].copy_from_slice(b"ftrt");
    h[24..28].copy_from_slice(&[10, 16, 1, 11]);
    f.write_all(&h).unwrap();
    for (at, b) in parts {
        f.seek(SeekFrom::Start(*at)).unwrap();
        f.write_all(b).unwrap();
    }
}

fn dump_map(engine: &Path, map: &Path, out: &Path, tmp: &Path) -> std::process::Output {
    Command::new(common::exe())
        .args(["--trt-lib", "/nonexistent/libnvinfer.so.11"])
        .arg("dump")
        .arg(engine)
        .arg("--map")
        .arg(map)
        .arg("-o")
        .arg(out)
        .arg("--json")
        .env("TMPDIR", tmp)
        .output()
        .unwrap()
}

/// A map claiming a weight of 6e9 elements, of which the engine holds 4 at indices past 2^32:
/// reported as placed only in part, with the exact counts (no truncation, no allocation of the
/// claimed size), exit 11 and nothing written; with --allow-missing the complete weight beside it
/// is written.
#[test]
fn a_map_weight_with_a_count_beyond_u32_is_reported_exactly() {
    let d = Dirs::new();
    let vals: Vec<u8> = f32_values(1, 4);
    let engine_path = d.engines().join("e.engine");
    plan_file(
        &engine_path,
        4096,
        &[(1000, vals.clone()), (2000, vals.clone())],
    );
    let engine = std::fs::read(&engine_path).unwrap();
    let weights = vec![
        WeightSpec {
            name: "huge".into(),
            dtype: DataType::Float,
            count: 6_000_000_000,
        },
        WeightSpec {
            name: "w".into(),
            dtype: DataType::Float,
            count: 4,
        },
    ];
    let runs = [
        Run {
            weight: 0,
            stored: DataType::Float,
            offset: 1000,
            nibble: 0,
            len: 4,
            index: (1 << 32) + 5,
            index_stride: 1,
        },
        Run {
            weight: 1,
            stored: DataType::Float,
            offset: 2000,
            nibble: 0,
            len: 4,
            index: 0,
            index_stride: 1,
        },
    ];
    let map_path = d.engines().join("e.trtmap");
    std::fs::write(&map_path, map_for(&engine, weights, &runs)).unwrap();
    let o = dump_map(
        &engine_path,
        &map_path,
        &d.out().join("w.safetensors"),
        &d.tmp(),
    );
    assert_eq!(
        o.status.code(),
        code(ErrorKind::Incomplete),
        "{}",
        stderr(&o)
    );
    let rep: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let huge = &rep["weights"][0];
    assert_eq!(huge["count"], 6_000_000_000u64, "{huge}");
    assert_eq!(huge["extracted"], false, "{huge}");
    let missing = huge["reason"].to_string();
    assert!(
        missing.contains("the map places only 4 of its 6000000000 elements"),
        "{huge}"
    );
    assert!(
        !d.out().join("w.safetensors").exists(),
        "nothing written on exit 11"
    );
    let o = Command::new(common::exe())
        .arg("dump")
        .arg(&engine_path)
        .arg("--map")
        .arg(&map_path)
        .arg("-o")
        .arg(d.out().join("w.safetensors"))
        .arg("--allow-missing")
        .env("TMPDIR", d.tmp())
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let (t, _) = safetensors_of(&d.out().join("w.safetensors"));
    assert_eq!(t.len(), 1);
    assert_eq!(t["w"].2, vals);
}

/// `dump --map` over a sparse engine file of more than 4 GiB whose weights sit past 4 GiB: every
/// offset is 64-bit through the map file, the mapping and the read. The whole file is read twice
/// (fingerprint and sha256), which takes a while in a debug build.
#[test]
fn a_sparse_engine_over_4_gib_is_read_through_a_map() {
    let d = Dirs::new();
    let len = (1u64 << 32) + (1 << 20);
    let a: Vec<u8> = f32_values(3, 16);
    let b: Vec<u8> = f32_values(4, 8)
        .chunks(4)
        .flat_map(|c| half::f16::from_f32(f32::from_le_bytes(c.try_into().unwrap())).to_le_bytes())
        .collect();
    let (oa, ob) = ((1u64 << 32) + 4096, (1u64 << 32) + 9000);
    let engine_path = d.engines().join("big.engine");
    plan_file(&engine_path, len, &[(oa, a.clone()), (ob, b.clone())]);
    let file = trt_dump::engine_file::EngineFile::open(&engine_path).unwrap();
    let engine = file.bytes();
    let weights = vec![
        WeightSpec {
            name: "past4g.f32".into(),
            dtype: DataType::Float,
            count: 16,
        },
        WeightSpec {
            name: "past4g.f16".into(),
            dtype: DataType::Half,
            count: 8,
        },
    ];
    let runs = [
        Run {
            weight: 0,
            stored: DataType::Float,
            offset: oa,
            nibble: 0,
            len: 16,
            index: 0,
            index_stride: 1,
        },
        Run {
            weight: 1,
            stored: DataType::Half,
            offset: ob,
            nibble: 0,
            len: 8,
            index: 0,
            index_stride: 1,
        },
    ];
    let map_path = d.engines().join("big.trtmap");
    std::fs::write(&map_path, map_for(engine, weights, &runs)).unwrap();
    drop(file);
    let o = dump_map(
        &engine_path,
        &map_path,
        &d.out().join("w.safetensors"),
        &d.tmp(),
    );
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let (t, _) = safetensors_of(&d.out().join("w.safetensors"));
    assert_eq!(t["past4g.f32"].2, a);
    assert_eq!(t["past4g.f16"].2, b);
}

/// Maps that point outside the engine file, or do not fit it: exit 14 with what is wrong, nothing
/// written.
#[test]
fn maps_pointing_outside_the_file_exit_14() {
    let d = Dirs::new();
    let engine_path = d.engines().join("e.engine");
    plan_file(&engine_path, 4096, &[(100, f32_values(0, 4))]);
    let engine = std::fs::read(&engine_path).unwrap();
    let w = |count| {
        vec![WeightSpec {
            name: "w".into(),
            dtype: DataType::Float,
            count,
        }]
    };
    let run = |offset, len, index| Run {
        weight: 0,
        stored: DataType::Float,
        offset,
        nibble: 0,
        len,
        index,
        index_stride: 1,
    };
    let mut shorter = engine.clone();
    shorter.truncate(2048);
    let cases: Vec<(&str, Vec<u8>, &str)> = vec![
        (
            "a run past the end",
            map_for(&engine, w(4), &[run(4090, 4, 0)]),
            "past the end",
        ),
        (
            "a run at 2^40",
            map_for(&engine, w(4), &[run(1 << 40, 4, 0)]),
            "past the end",
        ),
        (
            "an offset that overflows",
            map_for(&engine, w(4), &[run(u64::MAX - 2, 4, 0)]),
            "overflow",
        ),
        (
            "a map for a shorter engine",
            map_for(&shorter, w(4), &[run(100, 4, 0)]),
            "2048-byte engine",
        ),
        (
            "indices past the weight",
            map_for(&engine, w(4), &[run(100, 4, 2)]),
            "which has 4",
        ),
    ];
    for (what, bytes, why) in cases {
        let map_path = d.engines().join("m.trtmap");
        std::fs::write(&map_path, &bytes).unwrap();
        let o = dump_map(
            &engine_path,
            &map_path,
            &d.out().join("w.safetensors"),
            &d.tmp(),
        );
        assert_eq!(
            o.status.code(),
            code(ErrorKind::BadMap),
            "{what}: {}",
            stderr(&o)
        );
        assert!(stderr(&o).contains(why), "{what}: {}", stderr(&o));
        d.assert_nothing_left(&[], what);
    }
}

/// A 200-byte map whose runs would expand to 2^40 elements: refused (exit 14) at once, under a
/// 1 GiB address-space limit that any attempt to materialise them would break.
#[test]
fn a_map_expanding_to_billions_is_refused_within_bounded_memory() {
    let d = Dirs::new();
    let engine_path = d.engines().join("e.engine");
    plan_file(&engine_path, 4096, &[]);
    let engine = std::fs::read(&engine_path).unwrap();
    let header = Header {
        engine_len: engine.len() as u64,
        fingerprint: map::fingerprint(&engine, &[], &[]),
        weights: vec![WeightSpec {
            name: "huge".into(),
            dtype: DataType::Int8,
            count: 1 << 40,
        }],
        missing: vec![],
        volatile: vec![],
        meta: BTreeMap::new(),
    };
    let run = Run {
        weight: 0,
        stored: DataType::Int8,
        offset: 100,
        nibble: 0,
        len: 1,
        index: 0,
        index_stride: 1,
    };
    // 2^40 repetitions stepping over the same byte: inside the engine and the weight, and within
    // the old caps (at most 16 elements per weight element), so only the new bound refuses it.
    {
        let m = MapFile {
            header: header.clone(),
            runs: vec![map::MapRun {
                run,
                outer: 1 << 40,
                outer_offset_stride: 0,
                outer_index_stride: 1,
            }],
        };
        let map_path = d.engines().join("m.trtmap");
        std::fs::write(&map_path, m.to_bytes().unwrap()).unwrap();
        let o = Command::new("sh")
            .arg("-c")
            .arg(r#"ulimit -v 1048576; exec "$@""#)
            .arg("sh")
            .arg(common::exe())
            .arg("dump")
            .arg(&engine_path)
            .arg("--map")
            .arg(&map_path)
            .arg("-o")
            .arg(d.out().join("w.safetensors"))
            .env("TMPDIR", d.tmp())
            .output()
            .unwrap();
        assert_eq!(o.status.code(), code(ErrorKind::BadMap), "{}", stderr(&o));
        d.assert_nothing_left(&[], "billions");
    }
}
