//! The `locate` command end to end: exit codes, what it prints, and that it never writes the
//! engine or an existing output.

use std::path::{Path, PathBuf};

use assert_cmd::cargo::cargo_bin_cmd;
use predicates::prelude::*;

/// The real fixtures: CI checks the repository out with `shared/` beside it.
const DIR: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../shared/fixtures/trt-rtx-1.7.1-h100"
);

fn path(case: &str, file: &str) -> PathBuf {
    Path::new(DIR).join(case).join(file)
}

#[test]
fn prints_where_each_tensor_is_and_writes_a_map_that_fits_the_engine() {
    use trt_dump::map::MapFile;
    let d = tempfile::tempdir().unwrap();
    let map = d.path().join("m.trtmap");
    let engine_path = path("tiny_mlp", "model.engine");
    cargo_bin_cmd!("trt-dump")
        .arg("locate")
        .arg(&engine_path)
        .arg("--reference")
        .arg(path("tiny_mlp", "weights.safetensors"))
        .arg("-o")
        .arg(&map)
        .assert()
        .success()
        .stdout(predicate::str::contains(
            "net.0.weight  float32 [64, 32]  transposed at 181108, 32 runs",
        ))
        .stdout(predicate::str::contains(
            "net.4.bias    float32 [16]  verbatim at 210036",
        ))
        .stdout(predicate::str::contains("6 of 6 tensors found"))
        .stderr(predicate::str::contains("map written"));
    let m = MapFile::from_bytes(&std::fs::read(&map).unwrap()).unwrap();
    let names: Vec<_> = m.header.weights.iter().map(|w| w.name.as_str()).collect();
    assert_eq!(
        names,
        [
            "net.0.bias",
            "net.0.weight",
            "net.2.bias",
            "net.2.weight",
            "net.4.bias",
            "net.4.weight"
        ]
    );
    // Transposed weights fold into one two-level record each.
    assert_eq!(m.runs.len(), 6);
    let runs = m.runs().unwrap();
    let mut engine = std::fs::read(&engine_path).unwrap();
    m.check_engine(&engine, &runs).unwrap();
    // Each run reads back the reference values.
    let refs = trt_dump::reference::load(&path("tiny_mlp", "weights.safetensors")).unwrap();
    for r in &runs {
        let t = refs
            .iter()
            .find(|t| t.name == m.header.weights[r.weight as usize].name)
            .unwrap();
        for k in 0..r.len {
            let (i, o) = (r.index_at(k) as usize * 4, (r.offset + k * 4) as usize);
            assert_eq!(engine[o..o + 4], t.data[i..i + 4]);
        }
    }
    // Weight bytes may change (a refitted engine), other bytes may not.
    engine[runs[0].offset as usize] ^= 0xff;
    m.check_engine(&engine, &runs).unwrap();
    engine[100] ^= 0xff;
    let e = m.check_engine(&engine, &runs).unwrap_err();
    assert_eq!(
        trt_dump::error::find(&e).map(|e| e.kind),
        Some(trt_dump::error::ErrorKind::BadMap)
    );
    assert!(
        format!("{e:#}").contains("non-weight bytes differ"),
        "{e:#}"
    );
}

#[test]
fn json_report_lists_found_and_missing() {
    let d = tempfile::tempdir().unwrap();
    let out = cargo_bin_cmd!("trt-dump")
        .arg("locate")
        .arg(path("small_cnn", "model.engine"))
        .arg("--reference")
        .arg(path("small_cnn", "model.onnx"))
        .arg("-o")
        .arg(d.path().join("m.trtmap"))
        .arg("--json")
        .output()
        .unwrap();
    // Two tensors not placed: exit 11 and no map (the report is printed all the same).
    assert_eq!(out.status.code(), Some(11));
    assert!(!d.path().join("m.trtmap").exists());
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let found: Vec<_> = v["found"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["name"].as_str().unwrap())
        .collect();
    assert_eq!(found, ["fc.weight", "fc.bias", "onnx::Conv_20"]);
    assert_eq!(v["found"][0]["placements"][0]["offset"], 672652);
    assert_eq!(v["found"][0]["dtype"], "float32");
    assert_eq!(v["missing"][0]["name"], "conv2.weight");
    assert_eq!(v["missing"][0]["reason"], "not-found");
}

#[test]
fn not_an_engine_is_exit_4_and_unreadable_inputs_exit_3() {
    let d = tempfile::tempdir().unwrap();
    let map = d.path().join("m.trtmap");
    cargo_bin_cmd!("trt-dump")
        .args(["locate"])
        .arg(path("small_cnn", "model.onnx"))
        .arg("--reference")
        .arg(path("small_cnn", "model.onnx"))
        .arg("-o")
        .arg(&map)
        .assert()
        .code(4)
        .stderr(predicate::str::contains("not a TensorRT engine"));
    cargo_bin_cmd!("trt-dump")
        .arg("locate")
        .arg(d.path().join("nope.engine"))
        .arg("--reference")
        .arg(path("small_cnn", "model.onnx"))
        .arg("-o")
        .arg(&map)
        .assert()
        .code(3)
        .stderr(predicate::str::contains("nope.engine"));
    let bad = d.path().join("bad.safetensors");
    std::fs::write(&bad, [1, 0, 0]).unwrap();
    cargo_bin_cmd!("trt-dump")
        .arg("locate")
        .arg(path("small_cnn", "model.engine"))
        .arg("--reference")
        .arg(&bad)
        .arg("-o")
        .arg(&map)
        .assert()
        .code(3)
        .stderr(predicate::str::contains("bad.safetensors"));
    assert!(!map.exists());
}

#[test]
fn existing_output_is_replaced_only_with_force_and_the_engine_never() {
    let d = tempfile::tempdir().unwrap();
    let engine = d.path().join("model.engine");
    std::fs::copy(path("tiny_mlp", "model.engine"), &engine).unwrap();
    let before = std::fs::read(&engine).unwrap();
    let map = d.path().join("m.trtmap");
    std::fs::write(&map, b"keep me").unwrap();
    cargo_bin_cmd!("trt-dump")
        .arg("locate")
        .arg(&engine)
        .arg("--reference")
        .arg(path("tiny_mlp", "model.onnx"))
        .arg("-o")
        .arg(&map)
        .assert()
        .code(13)
        .stderr(predicate::str::contains("--force"));
    assert_eq!(std::fs::read(&map).unwrap(), b"keep me");
    cargo_bin_cmd!("trt-dump")
        .arg("locate")
        .arg(&engine)
        .arg("--reference")
        .arg(path("tiny_mlp", "model.onnx"))
        .arg("-o")
        .arg(&map)
        .arg("--force")
        .assert()
        .success();
    assert!(trt_dump::map::MapFile::from_bytes(&std::fs::read(&map).unwrap()).is_ok());
    cargo_bin_cmd!("trt-dump")
        .arg("locate")
        .arg(&engine)
        .arg("--reference")
        .arg(path("tiny_mlp", "model.onnx"))
        .arg("-o")
        .arg(&engine)
        .arg("--force")
        .assert()
        .code(13)
        .stderr(predicate::str::contains("is an input"));
    assert_eq!(std::fs::read(&engine).unwrap(), before);
}

#[test]
fn run_locate_returns_weights_and_runs_numbered_for_the_map() {
    use trt_dump::cli::locate::run_locate;
    use trt_dump::locate::LocateOptions;
    let o = run_locate(
        &path("tiny_mlp", "model.engine"),
        &path("tiny_mlp", "model.onnx"),
        &LocateOptions::default(),
    )
    .unwrap();
    let names: Vec<_> = o.weights.iter().map(|w| w.name.as_str()).collect();
    assert_eq!(
        names,
        [
            "net.0.weight",
            "net.0.bias",
            "net.2.weight",
            "net.2.bias",
            "net.4.weight",
            "net.4.bias"
        ]
    );
    assert_eq!(o.shapes[0], vec![64, 32]);
    // 32 + 1 + 64 + 1 + 64 + 1 runs; each weight's runs cover its count.
    assert_eq!(o.runs.len(), 163);
    for (i, w) in o.weights.iter().enumerate() {
        let n: u64 = o
            .runs
            .iter()
            .filter(|r| r.weight as usize == i)
            .map(|r| r.len)
            .sum();
        assert_eq!(n, w.count, "{}", w.name);
    }
    assert_eq!(o.engine_len, 210108);
    let m = o.to_map();
    assert_eq!(m.header.weights, o.weights);
    assert_eq!(m.runs().unwrap(), o.runs);
}

#[test]
fn nothing_found_writes_no_map() {
    let d = tempfile::tempdir().unwrap();
    let map = d.path().join("m.trtmap");
    cargo_bin_cmd!("trt-dump")
        .arg("locate")
        .arg(path("tiny_mlp_stripped", "model.engine"))
        .arg("--reference")
        .arg(path("tiny_mlp_stripped", "model.onnx"))
        .arg("-o")
        .arg(&map)
        .assert()
        .code(11)
        .stdout(predicate::str::contains("0 of 6 tensors found"))
        .stderr(
            predicate::str::contains("no map was written")
                .and(predicate::str::contains("STRIP_PLAN")),
        );
    assert!(!map.exists());
}
