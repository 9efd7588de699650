//! `verify`, `diff` and `list --map` end to end: the real binary, through the stand-in TensorRT
//! library (`--trt-lib`) or through map files on the CPU alone, on simulator engines. Skipped
//! loudly where the stand-in cannot be built.

use crate::cli_support;
use crate::sim;
use crate::standin;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use cli_support::*;
use sim::models::{self, Storage};
use sim::{Engine, SimEngine};

/// The engine's own weights, dumped through the stand-in: a reference that must match.
fn dumped(lib: &Path, engine: &Path, out: &Path) {
    let o = trt_dump()
        .arg("--trt-lib")
        .arg(lib)
        .arg("dump")
        .arg(engine)
        .arg("-o")
        .arg(out)
        .arg("-q")
        .output()
        .unwrap();
    assert_exit(&o, 0);
}

/// Writes tensors (dtype, shape, bytes) as safetensors.
fn write_safetensors(path: &Path, tensors: &BTreeMap<String, Tensor>) {
    use safetensors::tensor::TensorView;
    use safetensors::Dtype;
    let views: Vec<(String, TensorView<'_>)> = tensors
        .iter()
        .map(|(n, t)| {
            let dt = match t.dtype.as_str() {
                "F32" => Dtype::F32,
                "F16" => Dtype::F16,
                other => panic!("{other}"),
            };
            (
                n.clone(),
                TensorView::new(dt, t.shape.clone(), &t.data).unwrap(),
            )
        })
        .collect();
    std::fs::write(path, safetensors::serialize(views, None).unwrap()).unwrap();
}

fn f32_at(t: &mut Tensor, i: usize) -> &mut [u8] {
    &mut t.data[4 * i..4 * i + 4]
}

fn verify(
    lib: Option<&Path>,
    engine: &Path,
    reference: &Path,
    args: &[&str],
) -> std::process::Output {
    let mut c = trt_dump();
    if let Some(l) = lib {
        c.arg("--trt-lib").arg(l);
    }
    c.arg("verify")
        .arg(engine)
        .arg("--against")
        .arg(reference)
        .args(args)
        .output()
        .unwrap()
}

#[test]
fn verify_matches_the_engines_weights_and_finds_a_changed_element() {
    let (lib, tool) = standin_or_skip!();
    let d = tempfile::tempdir().unwrap();
    let (engine, _) = sim_plan(&tool, d.path(), "tiny_mlp", "model.engine", &[]);
    let reference = d.path().join("ref.safetensors");
    dumped(&lib, &engine, &reference);
    let o = verify(Some(&lib), &engine, &reference, &[]);
    assert_exit(&o, 0);
    assert!(
        stdout(&o).contains("verdict: MATCH: 6 of 6 engine weights equal the reference"),
        "{}",
        stdout(&o)
    );

    // One element of net.2.weight moved by 0.5.
    let mut tensors = read_safetensors(&reference);
    let t = tensors.get_mut("net.2.weight").unwrap();
    let v = f32::from_le_bytes(f32_at(t, 7).try_into().unwrap());
    f32_at(t, 7).copy_from_slice(&(v + 0.5).to_le_bytes());
    let changed = d.path().join("changed.safetensors");
    write_safetensors(&changed, &tensors);
    let o = verify(Some(&lib), &engine, &changed, &[]);
    assert_exit(&o, 1);
    let out = stdout(&o);
    assert!(
        out.contains("DIFFERS") && out.contains("net.2.weight"),
        "{out}"
    );
    assert!(
        out.contains("1 of 4096 elements differ (first at element 7); max abs err 0.5 (element 7)"),
        "{out}"
    );
    assert!(
        out.contains("verdict: DIFFERS: 5 of 6 engine weights match the reference; differing: 1"),
        "{out}"
    );
    assert_eq!(
        out.lines().count(),
        2,
        "one line for the difference, one verdict: {out}"
    );
    // The same as JSON.
    let o = verify(Some(&lib), &engine, &changed, &["--json"]);
    assert_exit(&o, 1);
    let r: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    for key in [
        "format",
        "engine",
        "reference",
        "reference_format",
        "source",
        "proof",
        "tolerance",
        "verdict",
        "summary",
        "weights",
    ] {
        assert!(r.get(key).is_some(), "missing `{key}`");
    }
    assert_eq!(r["format"], "trt-dump.verify/1");
    assert_eq!(r["verdict"], "differs");
    assert_eq!(r["summary"]["differ"], 1);
    assert_eq!(r["summary"]["exact"], 5);
    let w = r["weights"]
        .as_array()
        .unwrap()
        .iter()
        .find(|w| w["name"] == "net.2.weight")
        .unwrap();
    assert_eq!(w["status"], "differs");
    assert_eq!(w["stats"]["differing"], 1);
    assert_eq!(w["stats"]["first_differing"], 7);
    assert!(
        (w["stats"]["max_abs"].as_f64().unwrap() - 0.5).abs() < 1e-6,
        "{w}"
    );
    // A tolerance that covers it passes.
    let o = verify(Some(&lib), &engine, &changed, &["--atol", "0.6"]);
    assert_exit(&o, 0);
    assert!(
        stdout(&o).contains("1 within the tolerance"),
        "{}",
        stdout(&o)
    );
    // A bad tolerance is a usage error.
    assert_exit(&verify(Some(&lib), &engine, &changed, &["--rtol", "-1"]), 2);
}

#[test]
fn an_engine_storing_fp16_differs_from_the_fp32_reference_until_a_tolerance_allows_it() {
    let (lib, tool) = standin_or_skip!();
    let d = tempfile::tempdir().unwrap();
    let (fp32, truth) = sim_plan(&tool, d.path(), "tiny_mlp", "fp32.engine", &[]);
    let (half, _) = sim_plan(
        &tool,
        d.path(),
        "tiny_mlp",
        "half.engine",
        &["--storage", "fp32-as-fp16"],
    );
    let reference = d.path().join("ref.safetensors");
    dumped(&lib, &fp32, &reference);
    assert_equals_truth(&read_safetensors(&reference), &truth);
    let o = verify(Some(&lib), &half, &reference, &[]);
    assert_exit(&o, 1);
    let out = stdout(&o);
    assert!(out.contains("the engine stores it as float16 and holds exactly the reference's values rounded to float16"), "{out}");
    assert!(out.contains("verdict: DIFFERS: 0 of 6"), "{out}");
    let o = verify(Some(&lib), &half, &reference, &["--atol", "1e-3"]);
    assert_exit(&o, 0);
    assert!(
        stdout(&o).contains("6 within the tolerance") && stdout(&o).contains("atol 0.001"),
        "{}",
        stdout(&o)
    );
}

#[test]
fn verify_through_a_map_on_the_cpu_against_npz_and_names_on_either_side() {
    let (lib, tool) = standin_or_skip!();
    let d = tempfile::tempdir().unwrap();
    let (engine, _) = sim_plan(
        &tool,
        d.path(),
        "tiny_mlp",
        "model.engine",
        &["--storage", "fp16"],
    );
    let map = d.path().join("m.trtmap");
    assert_exit(
        &trt_dump()
            .arg("--trt-lib")
            .arg(&lib)
            .arg("map")
            .arg(&engine)
            .arg("-o")
            .arg(&map)
            .output()
            .unwrap(),
        0,
    );
    let npz = d.path().join("ref.npz");
    dumped(&lib, &engine, &npz);
    // No TensorRT from here on.
    let o = verify(None, &engine, &npz, &["--map", map.to_str().unwrap()]);
    assert_exit(&o, 0);
    assert!(
        stdout(&o).contains("verdict: MATCH: 6 of 6"),
        "{}",
        stdout(&o)
    );

    let st = d.path().join("ref.safetensors");
    dumped(&lib, &engine, &st);
    let mut tensors = read_safetensors(&st);
    tensors.remove("net.4.bias");
    let extra = tensors["net.0.bias"].clone();
    tensors.insert("extra.buffer".into(), extra);
    let b = tensors.get_mut("net.0.bias").unwrap();
    b.data.truncate(b.data.len() - 2);
    b.shape = vec![63];
    let edited = d.path().join("edited.safetensors");
    write_safetensors(&edited, &tensors);
    let o = verify(None, &engine, &edited, &["--map", map.to_str().unwrap()]);
    assert_exit(&o, 1);
    let out = stdout(&o);
    assert!(
        out.contains("ONLY-ENGINE")
            && out.contains("net.4.bias")
            && out.contains("only in the engine"),
        "{out}"
    );
    assert!(
        out.contains("ONLY-REF") && out.contains("extra.buffer"),
        "{out}"
    );
    assert!(
        out.contains("COUNT") && out.contains("the engine has 64 elements, the reference 63"),
        "{out}"
    );
    assert!(
        out.contains("another element count: 1, not in the reference: 1"),
        "{out}"
    );
    assert!(
        out.contains("1 reference tensors the engine does not name"),
        "{out}"
    );
    // A map of another engine: exit 14.
    let (other, _) = sim_plan(&tool, d.path(), "tiny_mlp", "other.engine", &[]);
    let o = verify(None, &other, &npz, &["--map", map.to_str().unwrap()]);
    assert_exit(&o, i32::from(ErrorKind::BadMap.exit_code()));
}

#[test]
fn verify_of_a_stripped_engine_compares_nothing_and_exits_11() {
    let (lib, tool) = standin_or_skip!();
    let d = tempfile::tempdir().unwrap();
    let (full, _) = sim_plan(&tool, d.path(), "tiny_mlp", "full.engine", &[]);
    let (stripped, _) = sim_plan(&tool, d.path(), "tiny_mlp", "stripped.engine", &["--strip"]);
    let reference = d.path().join("ref.safetensors");
    dumped(&lib, &full, &reference);
    for extra in [&[][..], &["--allow-missing"][..]] {
        let o = verify(Some(&lib), &stripped, &reference, extra);
        assert_exit(&o, i32::from(ErrorKind::Incomplete.exit_code()));
        assert!(
            stderr(&o).contains("none of the engine's 6 weights could be recovered"),
            "{}",
            stderr(&o)
        );
        assert!(
            stdout(&o).contains("MISSING")
                && stdout(&o).contains("not recovered from the engine: this plan holds no weights"),
            "{}",
            stdout(&o)
        );
        assert!(
            stdout(&o)
                .contains("verdict: INCOMPLETE: nothing compared; 6 not recovered from the engine"),
            "{}",
            stdout(&o)
        );
    }
}

/// Two engine files of one layout whose weights differ: `spec` as built, and the same with three
/// elements of `net.2.weight` and every element of `net.4.bias` changed.
fn two_engines(dir: &Path) -> (PathBuf, PathBuf) {
    let spec = models::tiny_mlp(Storage::Fp32);
    let (a, _) = standin::write_engine(&spec, dir, "a.engine");
    let mut other = spec.clone();
    let i2 = spec
        .layout
        .weights
        .iter()
        .position(|w| w.name == "net.2.weight")
        .unwrap();
    for (k, delta) in [(0usize, 0.25f32), (100, -0.5), (4095, 1.0)] {
        let v = &mut other.values[i2][4 * k..4 * k + 4];
        let x = f32::from_le_bytes(v.try_into().unwrap()) + delta;
        v.copy_from_slice(&x.to_le_bytes());
    }
    let i4 = spec
        .layout
        .weights
        .iter()
        .position(|w| w.name == "net.4.bias")
        .unwrap();
    for v in other.values[i4].chunks_mut(4) {
        let x = f32::from_le_bytes(v.try_into().unwrap()) * 2.0 + 0.125;
        v.copy_from_slice(&x.to_le_bytes());
    }
    let (b, _) = standin::write_engine(&other, dir, "b.engine");
    (a, b)
}

#[test]
fn diff_names_the_changed_weights_and_by_how_much() {
    let (lib, _tool) = standin_or_skip!();
    let d = tempfile::tempdir().unwrap();
    let (a, b) = two_engines(d.path());
    let o = trt_dump()
        .arg("--trt-lib")
        .arg(&lib)
        .arg("diff")
        .arg(&a)
        .arg(&b)
        .output()
        .unwrap();
    assert_exit(&o, 1);
    let out = stdout(&o);
    assert!(
        out.contains("CHANGED")
            && out.contains("net.2.weight")
            && out.contains(
                "3 of 4096 elements differ, max abs diff 1 at element 4095 (first at element 0)"
            ),
        "{out}"
    );
    assert!(
        out.contains("net.4.bias") && out.contains("16 of 16 elements differ"),
        "{out}"
    );
    assert!(
        out.contains("verdict: DIFFERS: 4 of 6 weights identical; changed: 2"),
        "{out}"
    );
    assert_eq!(out.lines().count(), 3, "{out}");
    // JSON.
    let o = trt_dump()
        .arg("--trt-lib")
        .arg(&lib)
        .args(["diff", "--json"])
        .arg(&a)
        .arg(&b)
        .output()
        .unwrap();
    assert_exit(&o, 1);
    let r: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(r["format"], "trt-dump.diff/1");
    assert_eq!(r["verdict"], "differs");
    assert_eq!(r["a"]["source"]["kind"], "tensorrt");
    assert_eq!(
        (
            r["summary"]["differ"].as_u64(),
            r["summary"]["exact"].as_u64()
        ),
        (Some(2), Some(4))
    );
    let w = r["weights"]
        .as_array()
        .unwrap()
        .iter()
        .find(|w| w["name"] == "net.2.weight")
        .unwrap();
    assert_eq!(
        (w["status"].as_str(), w["stats"]["differing"].as_u64()),
        (Some("differs"), Some(3))
    );
    assert!(
        (w["stats"]["max_abs"].as_f64().unwrap() - 1.0).abs() < 1e-6,
        "{w}"
    );
    assert_eq!(w["stats"]["max_abs_at"], 4095);
    // An engine against itself.
    let o = trt_dump()
        .arg("--trt-lib")
        .arg(&lib)
        .arg("diff")
        .arg(&a)
        .arg(&a)
        .output()
        .unwrap();
    assert_exit(&o, 0);
    assert!(
        stdout(&o).contains("verdict: MATCH: all 6 weights are bit for bit equal"),
        "{}",
        stdout(&o)
    );
    // A tolerance as large as the changes makes them identical.
    let o = trt_dump()
        .arg("--trt-lib")
        .arg(&lib)
        .args(["diff", "--atol", "1.5"])
        .arg(&a)
        .arg(&b)
        .output()
        .unwrap();
    assert_exit(&o, 0);
    assert!(
        stdout(&o).contains("MATCH within the tolerance"),
        "{}",
        stdout(&o)
    );
}

#[test]
fn diff_through_maps_needs_no_tensorrt_and_agrees_with_the_gpu() {
    let (lib, _tool) = standin_or_skip!();
    let d = tempfile::tempdir().unwrap();
    let (a, b) = two_engines(d.path());
    let (ma, mb) = (d.path().join("a.trtmap"), d.path().join("b.trtmap"));
    for (e, m) in [(&a, &ma), (&b, &mb)] {
        assert_exit(
            &trt_dump()
                .arg("--trt-lib")
                .arg(&lib)
                .arg("map")
                .arg(e)
                .arg("-o")
                .arg(m)
                .output()
                .unwrap(),
            0,
        );
    }
    let gpu = trt_dump()
        .arg("--trt-lib")
        .arg(&lib)
        .args(["diff", "--json"])
        .arg(&a)
        .arg(&b)
        .output()
        .unwrap();
    let cpu = trt_dump()
        .args(["diff", "--json"])
        .arg(&a)
        .arg(&b)
        .arg("--map-a")
        .arg(&ma)
        .arg("--map-b")
        .arg(&mb)
        .output()
        .unwrap();
    assert_exit(&cpu, 1);
    let (g, c): (serde_json::Value, serde_json::Value) = (
        serde_json::from_slice(&gpu.stdout).unwrap(),
        serde_json::from_slice(&cpu.stdout).unwrap(),
    );
    assert_eq!(c["a"]["source"]["kind"], "map");
    assert_eq!(
        g["weights"], c["weights"],
        "the same differences either way"
    );
    // Sidecars are found too (B's map also fits A: the fingerprint leaves weight bytes out).
    std::fs::copy(&ma, d.path().join("a.engine.trtmap")).unwrap();
    std::fs::copy(&mb, d.path().join("b.engine.trtmap")).unwrap();
    let side = trt_dump()
        .args(["diff", "--json"])
        .arg(&a)
        .arg(&b)
        .output()
        .unwrap();
    assert_exit(&side, 1);
    let s: serde_json::Value = serde_json::from_slice(&side.stdout).unwrap();
    assert_eq!(s["weights"], c["weights"]);
}

#[test]
fn diff_sees_weights_refitted_into_an_engine() {
    let (lib, _tool) = standin_or_skip!();
    let d = tempfile::tempdir().unwrap();
    let spec = models::tiny_mlp(Storage::Fp16);
    let (a, plan) = standin::write_engine(&spec, d.path(), "a.engine");
    // Refit other values into the engine and serialize it: an engine of the same build, other weights.
    let engine = SimEngine::new(plan.file.clone()).unwrap();
    let mut values = spec.values.clone();
    values[1][..2].copy_from_slice(&half::f16::from_f32(0.75).to_bits().to_le_bytes());
    let mut inst = engine.instance().unwrap();
    inst.refit(&values.iter().map(|v| v.as_slice()).collect::<Vec<_>>())
        .unwrap();
    let refitted = d.path().join("refitted.engine");
    std::fs::write(&refitted, inst.serialize().unwrap().bytes()).unwrap();
    let o = trt_dump()
        .arg("--trt-lib")
        .arg(&lib)
        .arg("diff")
        .arg(&a)
        .arg(&refitted)
        .output()
        .unwrap();
    assert_exit(&o, 1);
    let out = stdout(&o);
    let name = &spec.layout.weights[1].name;
    assert!(
        out.contains(&format!("CHANGED    {name}")) && out.contains("1 of"),
        "{out}"
    );
    assert!(
        out.contains("verdict: DIFFERS: 5 of 6 weights identical; changed: 1"),
        "{out}"
    );
}

#[test]
fn list_reads_a_map_without_tensorrt() {
    let (lib, tool) = standin_or_skip!();
    let d = tempfile::tempdir().unwrap();
    let (engine, truth) = sim_plan(&tool, d.path(), "bert_tiny", "model.engine", &[]);
    let map = d.path().join("m.trtmap");
    assert_exit(
        &trt_dump()
            .arg("--trt-lib")
            .arg(&lib)
            .arg("map")
            .arg(&engine)
            .arg("-o")
            .arg(&map)
            .output()
            .unwrap(),
        0,
    );
    let with_trt = trt_dump()
        .arg("--trt-lib")
        .arg(&lib)
        .args(["list", "--json"])
        .arg(&engine)
        .output()
        .unwrap();
    let with_map = trt_dump()
        .args(["list", "--json"])
        .arg(&engine)
        .arg("--map")
        .arg(&map)
        .output()
        .unwrap();
    assert_exit(&with_map, 0);
    let (t, m): (serde_json::Value, serde_json::Value) = (
        serde_json::from_slice(&with_trt.stdout).unwrap(),
        serde_json::from_slice(&with_map.stdout).unwrap(),
    );
    assert_eq!(
        t["weights"], m["weights"],
        "the map lists what TensorRT lists"
    );
    assert_eq!(m["totals"]["weights"], truth.len());
    let text = trt_dump()
        .arg("list")
        .arg(&engine)
        .arg("--map")
        .arg(&map)
        .output()
        .unwrap();
    assert_exit(&text, 0);
    let s = stdout(&text);
    assert!(s.starts_with("NAME") && s.contains(&truth[0].name), "{s}");
    assert_eq!(s.lines().count(), truth.len() + 2);
    // A map of another engine is refused.
    let (other, _) = sim_plan(&tool, d.path(), "tiny_mlp", "other.engine", &[]);
    let o = trt_dump()
        .arg("list")
        .arg(&other)
        .arg("--map")
        .arg(&map)
        .output()
        .unwrap();
    assert_exit(&o, i32::from(ErrorKind::BadMap.exit_code()));
    assert!(stdout(&o).is_empty());
}
