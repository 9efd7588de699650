//! Issue 11, items 1 and 2: trt-dump never says more than it read.
//!
//! 1. A partial map never passes for a whole one: `locate` records the reference tensors it could
//!    not place (and writes no map without `--allow-missing`), and `dump`, `verify`, `diff` and
//!    `list` through such a map name every weight it cannot give, in the map's words, never the
//!    engine's ("not in the map", not "the engine does not name it").
//! 2. All or nothing: a run that exits non-zero writes no output; with `--allow-missing` the output
//!    names what it lacks (safetensors metadata, the `.npz` / `.npy` index).
//!
//! The real fixtures (`../shared/fixtures/trt-rtx-1.7.1-h100/small_cnn`: `locate` places 3 of its
//! 5 tensors, the two conv weights are stored reordered) need no GPU; the folded weight is built
//! with the simulator and extracted through the stand-in TensorRT library. Each skips loudly
//! without what it needs (a failure under CI). Run them alone with `cargo test --test sim say_maps::`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use crate::cli_support::*;
use crate::sim::{Content, Fill, Order, SimSpec};
use crate::standin;
use trt_dump::dtype::DataType;
use trt_dump::map::{Knows, MapFile};

const INCOMPLETE: i32 = 11;

fn shared(case: &str, file: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../shared/fixtures/trt-rtx-1.7.1-h100")
        .join(case)
        .join(file)
}

fn bundled(file: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fixtures/tiny_mlp")
        .join(file)
}

/// The real fixtures, or None (skip, loudly; a failure under CI).
fn fixtures() -> Option<()> {
    let dir = shared("small_cnn", "");
    if dir.is_dir() {
        return Some(());
    }
    assert!(
        std::env::var_os("CI").is_none(),
        "CI is set but the real fixtures are missing: {}",
        dir.display()
    );
    eprintln!("SKIPPED: real fixtures not found at {}", dir.display());
    None
}

fn locate(engine: &Path, reference: &Path, map: &Path, extra: &[&str]) -> std::process::Output {
    trt_dump()
        .arg("locate")
        .arg(engine)
        .arg("--reference")
        .arg(reference)
        .arg("-o")
        .arg(map)
        .args(extra)
        .output()
        .unwrap()
}

/// A folder holding a copy of small_cnn's engine and the partial map `locate --allow-missing`
/// makes of it (so nothing else can be found beside the engine).
struct Partial {
    dir: tempfile::TempDir,
    engine: PathBuf,
    map: PathBuf,
}

fn partial_small_cnn() -> Option<Partial> {
    fixtures()?;
    let dir = tempfile::tempdir().unwrap();
    let engine = dir.path().join("model.engine");
    std::fs::copy(shared("small_cnn", "model.engine"), &engine).unwrap();
    let map = dir.path().join("partial.trtmap");
    let o = locate(
        &engine,
        &shared("small_cnn", "model.onnx"),
        &map,
        &["--allow-missing"],
    );
    assert_exit(&o, 0);
    Some(Partial { dir, engine, map })
}

const NOT_PLACED: &str = "not in the map: `locate` did not place this reference tensor in the engine's bytes: not found in any form searched";

#[test]
fn locate_with_reference_tensors_not_placed_exits_11_and_writes_no_map() {
    if fixtures().is_none() {
        return;
    }
    let d = tempfile::tempdir().unwrap();
    let map = d.path().join("m.trtmap");
    let o = locate(
        &shared("small_cnn", "model.engine"),
        &shared("small_cnn", "model.onnx"),
        &map,
        &[],
    );
    assert_exit(&o, INCOMPLETE);
    assert!(
        stdout(&o).contains("3 of 5 tensors found"),
        "{}",
        stdout(&o)
    );
    let err = stderr(&o);
    assert!(
        err.contains("2 of the 5 reference tensors were not placed (conv2.weight, onnx::Conv_19), so no map was written"),
        "{err}"
    );
    assert!(err.contains("--allow-missing"), "{err}");
    assert!(!map.exists(), "no map on exit 11");
    assert!(
        listing(d.path()).is_empty(),
        "nothing left behind: {:?}",
        listing(d.path())
    );
}

#[test]
fn locate_allow_missing_writes_a_map_recording_what_it_lacks() {
    let Some(p) = partial_small_cnn() else { return };
    let m = MapFile::from_bytes(&std::fs::read(&p.map).unwrap()).unwrap();
    assert_eq!(m.header.knows(), Knows::ReferenceNamesOnly);
    assert_eq!(m.header.meta["knows"], "reference-names-only");
    assert!(!m.header.is_complete());
    let names: Vec<&str> = m.header.weights.iter().map(|w| w.name.as_str()).collect();
    assert_eq!(
        names,
        [
            "fc.weight",
            "fc.bias",
            "onnx::Conv_20",
            "conv2.weight",
            "onnx::Conv_19"
        ]
    );
    // The unplaced ones keep the reference's dtype and count, and why.
    assert_eq!(
        (m.header.weights[3].dtype, m.header.weights[3].count),
        (DataType::Float, 4608)
    );
    assert_eq!(
        (m.header.weights[4].dtype, m.header.weights[4].count),
        (DataType::Float, 432)
    );
    let missing: Vec<(&str, String)> = m
        .header
        .missing
        .iter()
        .map(|w| (w.name.as_str(), w.reason.to_string()))
        .collect();
    assert_eq!(missing.len(), 2, "{missing:?}");
    for (name, (got, why)) in ["conv2.weight", "onnx::Conv_19"].iter().zip(&missing) {
        assert_eq!(got, name);
        assert!(why.starts_with(NOT_PLACED), "{why}");
    }
    // No run names an unplaced tensor.
    assert!(m.runs().unwrap().iter().all(|r| r.weight < 3));
}

#[test]
fn locate_placing_nothing_exits_11_not_13_and_writes_no_map() {
    if fixtures().is_none() {
        return;
    }
    let d = tempfile::tempdir().unwrap();
    let map = d.path().join("m.trtmap");
    for extra in [&[][..], &["--allow-missing"][..]] {
        let o = locate(
            &shared("tiny_mlp_stripped", "model.engine"),
            &shared("tiny_mlp_stripped", "model.onnx"),
            &map,
            extra,
        );
        assert_exit(&o, INCOMPLETE);
        assert!(
            stderr(&o).contains("none of the 6 tensors of"),
            "{}",
            stderr(&o)
        );
        assert!(stderr(&o).contains("no map was written"), "{}", stderr(&o));
        assert!(!map.exists());
    }
}

#[test]
fn dump_through_a_partial_map_exits_11_names_what_it_lacks_and_writes_nothing() {
    let Some(p) = partial_small_cnn() else { return };
    let before = listing(p.dir.path());
    for (out, extra) in [
        ("w.safetensors", &[][..]),
        ("w.npz", &[][..]),
        ("w_dir", &["--format", "npy"][..]),
    ] {
        let o = trt_dump()
            .arg("dump")
            .arg(&p.engine)
            .arg("--map")
            .arg(&p.map)
            .arg("-o")
            .arg(p.dir.path().join(out))
            .args(extra)
            .output()
            .unwrap();
        assert_exit(&o, INCOMPLETE);
        let err = stderr(&o);
        assert!(err.contains("3 of 5 weights extracted"), "{err}");
        assert!(!err.contains("3 of 3"), "{err}");
        assert!(
            err.contains(&format!(
                "`conv2.weight` (4608 float32 elements) not extracted: {NOT_PLACED}"
            )),
            "{err}"
        );
        assert!(
            err.contains(&format!(
                "`onnx::Conv_19` (432 float32 elements) not extracted: {NOT_PLACED}"
            )),
            "{err}"
        );
        assert!(
            err.contains("2 of 5 weights could not be read through the map (conv2.weight, onnx::Conv_19); nothing was written"),
            "{err}"
        );
        assert!(
            !err.contains("not stored in the plan"),
            "the map says nothing of the plan: {err}"
        );
        assert_eq!(
            listing(p.dir.path()),
            before,
            "{out}: nothing written on exit 11"
        );
    }
    // --json: the report still says which weights, and why; still nothing written.
    let o = trt_dump()
        .arg("dump")
        .arg(&p.engine)
        .arg("--map")
        .arg(&p.map)
        .arg("-o")
        .arg(p.dir.path().join("w.safetensors"))
        .arg("--json")
        .output()
        .unwrap();
    assert_exit(&o, INCOMPLETE);
    let r: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(r["totals"]["weights"], 5);
    assert_eq!(r["totals"]["missing"], 2);
    assert_eq!(r["weights"][3]["missing"]["reason"], "not_in_map");
    assert!(r.get("output").is_none(), "{r:#}");
    assert_eq!(listing(p.dir.path()), before);
}

/// `missing_weights` from an output's metadata, as name → reason.
fn missing_weights(meta: &serde_json::Value) -> BTreeMap<String, String> {
    let list: serde_json::Value =
        serde_json::from_str(meta["missing_weights"].as_str().expect("missing_weights")).unwrap();
    list.as_array()
        .unwrap()
        .iter()
        .map(|w| {
            (
                w["name"].as_str().unwrap().to_string(),
                w["reason"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

fn check_missing_weights(meta: &serde_json::Value, what: &str) {
    let got = missing_weights(meta);
    assert_eq!(
        got.keys().collect::<Vec<_>>(),
        ["conv2.weight", "onnx::Conv_19"],
        "{what}"
    );
    assert!(
        got.values().all(|why| why.starts_with(NOT_PLACED)),
        "{what}: {got:?}"
    );
    let list: serde_json::Value =
        serde_json::from_str(meta["missing_weights"].as_str().unwrap()).unwrap();
    assert_eq!(list[0]["dtype"], "float32", "{what}");
    assert_eq!(list[0]["count"], 4608, "{what}");
}

#[test]
fn dump_allow_missing_through_a_partial_map_writes_the_rest_and_says_what_it_lacks() {
    let Some(p) = partial_small_cnn() else { return };
    let dump = |out: &Path, extra: &[&str]| {
        let o = trt_dump()
            .arg("dump")
            .arg(&p.engine)
            .arg("--map")
            .arg(&p.map)
            .arg("-o")
            .arg(out)
            .arg("--allow-missing")
            .args(extra)
            .output()
            .unwrap();
        assert_exit(&o, 0);
        let err = stderr(&o);
        assert!(
            err.contains("`conv2.weight` (4608 float32 elements) not extracted"),
            "{err}"
        );
        assert!(err.contains("2 of 5 weights are not in"), "{err}");
        assert!(err.contains("missing_weights"), "{err}");
    };
    // safetensors: __metadata__.missing_weights
    let st = p.dir.path().join("w.safetensors");
    dump(&st, &[]);
    let t = read_safetensors(&st);
    assert_eq!(
        t.keys().collect::<Vec<_>>(),
        ["fc.bias", "fc.weight", "onnx::Conv_20"]
    );
    let bytes = std::fs::read(&st).unwrap();
    let n = u64::from_le_bytes(bytes[..8].try_into().unwrap()) as usize;
    let header: serde_json::Value = serde_json::from_slice(&bytes[8..8 + n]).unwrap();
    check_missing_weights(&header["__metadata__"], "safetensors");

    // npz: the index's metadata (the index is the zip's comment)
    let npz = p.dir.path().join("w.npz");
    dump(&npz, &[]);
    assert_eq!(read_npz(&npz).len(), 3);
    let index = {
        let z = zip::ZipArchive::new(std::fs::File::open(&npz).unwrap()).unwrap();
        trt_dump::writer::read_index_comment(z.comment(), 1 << 30).unwrap()
    };
    let index: serde_json::Value = serde_json::from_slice(&index).unwrap();
    check_missing_weights(&index["metadata"], "npz");

    // folder of .npy: index.json's metadata
    let dir = p.dir.path().join("w_dir");
    dump(&dir, &["--format", "npy"]);
    let index: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.join("index.json")).unwrap()).unwrap();
    assert_eq!(index["weights"].as_array().unwrap().len(), 3);
    check_missing_weights(&index["metadata"], "npy");
}

/// small_cnn's reference weights with `conv2.weight` changed (a checkpoint that differs only in a
/// tensor the partial map lacks), plus a tensor no map knows.
fn altered_reference(dir: &Path) -> PathBuf {
    let bytes = std::fs::read(shared("small_cnn", "weights.safetensors")).unwrap();
    let st = safetensors::SafeTensors::deserialize(&bytes).unwrap();
    let mut owned: Vec<(String, safetensors::Dtype, Vec<usize>, Vec<u8>)> = st
        .tensors()
        .into_iter()
        .map(|(k, v)| {
            let mut data = v.data().to_vec();
            if k == "conv2.weight" {
                data[0] ^= 0x40;
            }
            (k, v.dtype(), v.shape().to_vec(), data)
        })
        .collect();
    assert!(owned.iter().any(|t| t.0 == "conv2.weight"));
    owned.push((
        "extra.weight".into(),
        safetensors::Dtype::F32,
        vec![16],
        (0..16u32).flat_map(|i| (i as f32).to_le_bytes()).collect(),
    ));
    let views: Vec<(String, safetensors::tensor::TensorView<'_>)> = owned
        .iter()
        .map(|(k, d, s, b)| {
            (
                k.clone(),
                safetensors::tensor::TensorView::new(*d, s.clone(), b).unwrap(),
            )
        })
        .collect();
    let out = dir.join("altered.safetensors");
    safetensors::serialize_to_file(views, None, &out).unwrap();
    out
}

#[test]
fn verify_through_a_partial_map_never_says_match() {
    let Some(p) = partial_small_cnn() else { return };
    let reference = altered_reference(p.dir.path());
    let verify = |extra: &[&str]| {
        trt_dump()
            .arg("verify")
            .arg(&p.engine)
            .arg("--map")
            .arg(&p.map)
            .arg("--against")
            .arg(&reference)
            .args(extra)
            .output()
            .unwrap()
    };
    let o = verify(&[]);
    assert_exit(&o, INCOMPLETE);
    let out = stdout(&o);
    assert!(!out.contains("MATCH"), "{out}");
    assert!(out.contains(&format!("MISSING    conv2.weight   float32 4608 [32, 16, 3, 3]: not compared: not recovered from the engine: {NOT_PLACED}")), "{out}");
    assert!(out.contains("verdict: INCOMPLETE: the 3 weights compared match; 2 not recovered from the engine; 1 reference tensors not in the map (not compared)"), "{out}");
    assert!(
        !out.contains("the engine does not name"),
        "the map does not name it, not the engine: {out}"
    );
    assert!(
        stderr(&o).contains("2 of the weights the map lists could not be read through it"),
        "{}",
        stderr(&o)
    );

    // --allow-missing: exit 0, still no MATCH.
    let o = verify(&["--allow-missing"]);
    assert_exit(&o, 0);
    let out = stdout(&o);
    assert!(!out.contains("MATCH"), "{out}");
    assert!(out.contains("verdict: INCOMPLETE: the 3 weights compared match; 2 not recovered from the engine (allowed)"), "{out}");

    let o = verify(&["--allow-missing", "--json"]);
    assert_exit(&o, 0);
    let r: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(r["verdict"], "incomplete");
    assert_eq!(r["map_knows"], "reference-names-only");
    assert_eq!(r["summary"]["not_recovered"], 2);
    assert_eq!(r["summary"]["only_in_second"], 1);
}

#[test]
fn diff_through_a_partial_map_is_never_identical() {
    let Some(p) = partial_small_cnn() else { return };
    let diff = |extra: &[&str]| {
        trt_dump()
            .arg("diff")
            .arg(&p.engine)
            .arg(&p.engine)
            .arg("--map-a")
            .arg(&p.map)
            .arg("--map-b")
            .arg(&p.map)
            .args(extra)
            .output()
            .unwrap()
    };
    let o = diff(&[]);
    assert_exit(&o, INCOMPLETE);
    let out = stdout(&o);
    assert!(!out.contains("verdict: MATCH"), "{out}");
    assert!(out.contains(&format!("MISSING    conv2.weight   float32 4608: not compared: not recovered from the A: {NOT_PLACED}")), "{out}");
    assert!(out.contains("verdict: INCOMPLETE: the 3 weights compared are identical; 2 not recovered from one side"), "{out}");
    let o = diff(&["--allow-missing"]);
    assert_exit(&o, 0);
    assert!(!stdout(&o).contains("verdict: MATCH"), "{}", stdout(&o));
    assert!(stdout(&o).contains("verdict: INCOMPLETE: the 3 weights compared are identical; 2 not recovered from one side (allowed, not compared)"), "{}", stdout(&o));
    let o = diff(&["--allow-missing", "--json"]);
    let r: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(r["verdict"], "incomplete");
}

#[test]
fn list_through_a_partial_map_marks_what_it_lacks_and_exits_0() {
    let Some(p) = partial_small_cnn() else { return };
    let o = trt_dump()
        .arg("list")
        .arg(&p.engine)
        .arg("--map")
        .arg(&p.map)
        .output()
        .unwrap();
    assert_exit(&o, 0);
    let out = stdout(&o);
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), 7, "{out}");
    assert!(
        lines[1].starts_with("fc.weight") && !lines[1].contains("MISSING"),
        "{out}"
    );
    assert!(
        lines[4].starts_with(
            "conv2.weight   float32     4608  MISSING: not in the map: `locate` did not place"
        ),
        "{out}"
    );
    assert!(
        lines[5].starts_with("onnx::Conv_19  float32      432  MISSING: not in the map"),
        "{out}"
    );
    assert!(
        lines[6].ends_with("; 2 of them not readable through the map"),
        "{out}"
    );
    assert!(
        stderr(&o).contains("the map is incomplete: it cannot give 2 of the 5 weights it lists"),
        "{}",
        stderr(&o)
    );
    let o = trt_dump()
        .arg("list")
        .arg(&p.engine)
        .arg("--map")
        .arg(&p.map)
        .arg("--json")
        .output()
        .unwrap();
    assert_exit(&o, 0);
    let r: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(r["totals"]["missing"], 2);
    assert!(r["weights"][0].get("missing").is_none());
    assert!(r["weights"][3]["missing"]
        .as_str()
        .unwrap()
        .starts_with(NOT_PLACED));
}

#[test]
fn the_bundled_map_stays_complete_and_dumps_as_before() {
    let m = MapFile::from_bytes(&std::fs::read(bundled("model.engine.trtmap")).unwrap()).unwrap();
    // Made before `meta.knows`: a locate map, read as knowing the reference's names, complete.
    assert!(!m.header.meta.contains_key("knows"));
    assert_eq!(m.header.knows(), Knows::ReferenceNamesOnly);
    assert!(m.header.is_complete());
    let d = tempfile::tempdir().unwrap();
    let out = d.path().join("w.safetensors");
    let o = trt_dump()
        .arg("dump")
        .arg(bundled("model.engine"))
        .arg("-o")
        .arg(&out)
        .output()
        .unwrap();
    assert_exit(&o, 0);
    assert!(
        stderr(&o).contains("6 of 6 weights extracted"),
        "{}",
        stderr(&o)
    );
    let got = read_safetensors(&out);
    let want = read_safetensors(&bundled("weights.safetensors"));
    assert_eq!(got.len(), 6);
    for (k, t) in &want {
        assert_eq!(got[k].data, t.data, "{k}");
    }
    let bytes = std::fs::read(&out).unwrap();
    assert!(!String::from_utf8_lossy(&bytes[..2048.min(bytes.len())]).contains("missing_weights"));
}

/// A simulated engine with one weight folded into a reciprocal (not stored as such) beside one
/// stored verbatim.
fn folded_engine(dir: &Path) -> PathBuf {
    let f = |seed: u64, n: u64| -> Vec<u8> {
        (0..n)
            .flat_map(|i| (0.5 + seed as f32 + i as f32 * 0.25).to_le_bytes())
            .collect()
    };
    let mut s = SimSpec::new();
    s.filler(4096, Fill::Random(5));
    let kept = s.weight("kept", DataType::Float, 16, f(1, 16));
    let folded = s.weight("folded", DataType::Float, 16, f(2, 16));
    for c in [Content::Copy(kept), Content::Reciprocal(folded)] {
        s.filler(32, Fill::Random(7));
        s.buffer(c, DataType::Float, Order::Verbatim);
    }
    s.filler(64, Fill::Random(8));
    let (engine, _) = standin::write_engine(&s, dir, "folded.engine");
    engine
}

#[test]
fn dump_of_an_engine_with_a_folded_weight_exits_11_and_writes_nothing() {
    let (lib, _) = standin_or_skip!();
    let d = tempfile::tempdir().unwrap();
    let engine = folded_engine(d.path());
    let before = listing(d.path());
    let out = d.path().join("w.safetensors");
    let map = d.path().join("m.trtmap");
    let run = |args: &[&str]| {
        trt_dump()
            .arg("--trt-lib")
            .arg(&lib)
            .args(args)
            .output()
            .unwrap()
    };
    let (e, o_, m_) = (
        engine.to_str().unwrap(),
        out.to_str().unwrap(),
        map.to_str().unwrap(),
    );
    for args in [
        vec!["dump", e, "-o", o_],
        vec!["dump", e, "-o", o_, "--save-map", m_],
        vec!["map", e, "-o", m_],
    ] {
        let o = run(&args);
        assert_exit(&o, INCOMPLETE);
        let err = stderr(&o);
        assert!(
            err.contains("`folded` (16 float32 elements) not extracted"),
            "{args:?}: {err}"
        );
        assert!(
            err.contains("1 of 2 weights could not be recovered (folded); nothing was written"),
            "{args:?}: {err}"
        );
        assert_eq!(
            listing(d.path()),
            before,
            "{args:?}: nothing written on exit 11"
        );
    }

    // --allow-missing: exit 0, the recovered weight written, the folded one named in the file.
    let o = run(&["dump", e, "-o", o_, "--save-map", m_, "--allow-missing"]);
    assert_exit(&o, 0);
    let t = read_safetensors(&out);
    assert_eq!(t.keys().collect::<Vec<_>>(), ["kept"]);
    let bytes = std::fs::read(&out).unwrap();
    let n = u64::from_le_bytes(bytes[..8].try_into().unwrap()) as usize;
    let header: serde_json::Value = serde_json::from_slice(&bytes[8..8 + n]).unwrap();
    let missing = missing_weights(&header["__metadata__"]);
    assert_eq!(missing.keys().collect::<Vec<_>>(), ["folded"]);
    // The map from TensorRT knows every refittable weight, the folded one with why.
    let m = MapFile::from_bytes(&std::fs::read(&map).unwrap()).unwrap();
    assert_eq!(m.header.knows(), Knows::AllRefittable);
    assert_eq!(m.header.weights.len(), 2);
    assert_eq!(m.header.missing.len(), 1);
    assert_eq!(m.header.missing[0].name, "folded");
    assert!(!m.header.is_complete());
    assert_eq!(missing["folded"], m.header.missing[0].reason.to_string());
    // Through that map on the CPU: the same verdict, in the map's words.
    let o = trt_dump()
        .arg("dump")
        .arg(&engine)
        .arg("--map")
        .arg(&map)
        .arg("-o")
        .arg(d.path().join("again.safetensors"))
        .output()
        .unwrap();
    assert_exit(&o, INCOMPLETE);
    assert!(!d.path().join("again.safetensors").exists());
    assert!(
        stderr(&o).contains(
            "1 of 2 weights could not be read through the map (folded); nothing was written"
        ),
        "{}",
        stderr(&o)
    );
}
