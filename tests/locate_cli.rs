//! The `locate` command end to end: exit codes, what it prints, and that it never writes the
//! engine or an existing output.

use std::path::{Path, PathBuf};

use assert_cmd::cargo::cargo_bin_cmd;
use predicates::prelude::*;

const DIR: &str = "/work/shared/fixtures/trt-rtx-1.7.1-h100";

fn path(case: &str, file: &str) -> PathBuf {
    Path::new(DIR).join(case).join(file)
}

#[test]
fn prints_where_each_tensor_is_and_says_the_map_is_not_written() {
    let d = tempfile::tempdir().unwrap();
    let map = d.path().join("m.trtmap");
    cargo_bin_cmd!("trt-dump")
        .arg("locate")
        .arg(path("tiny_mlp", "model.engine"))
        .arg("--reference")
        .arg(path("tiny_mlp", "weights.safetensors"))
        .arg("-o")
        .arg(&map)
        .assert()
        // Exit 13 until the map writer is connected (see write_locate_map).
        .code(13)
        .stdout(predicate::str::contains("net.0.weight  float32 [64, 32]  transposed at 181108, 32 runs"))
        .stdout(predicate::str::contains("net.4.bias    float32 [16]  verbatim at 210036"))
        .stdout(predicate::str::contains("6 of 6 tensors found"))
        .stderr(predicate::str::contains("not written"));
    assert!(!map.exists());
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
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let found: Vec<_> = v["found"].as_array().unwrap().iter().map(|f| f["name"].as_str().unwrap()).collect();
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
fn existing_output_and_the_engine_itself_are_never_overwritten() {
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
        .stderr(predicate::str::contains("already exists").and(predicate::str::contains("--force")));
    assert_eq!(std::fs::read(&map).unwrap(), b"keep me");
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
    let o = run_locate(&path("tiny_mlp", "model.engine"), &path("tiny_mlp", "model.onnx"), &LocateOptions::default())
        .unwrap();
    let names: Vec<_> = o.weights.iter().map(|w| w.name.as_str()).collect();
    assert_eq!(names, ["net.0.weight", "net.0.bias", "net.2.weight", "net.2.bias", "net.4.weight", "net.4.bias"]);
    assert_eq!(o.shapes[0], vec![64, 32]);
    // 32 + 1 + 64 + 1 + 64 + 1 runs; each weight's runs cover its count.
    assert_eq!(o.runs.len(), 163);
    for (i, w) in o.weights.iter().enumerate() {
        let n: u64 = o.runs.iter().filter(|r| r.weight as usize == i).map(|r| r.len).sum();
        assert_eq!(n, w.count, "{}", w.name);
    }
    assert_eq!(o.engine_len, 210108);
}
