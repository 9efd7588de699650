//! The stand-in TensorRT library (tests/standin) driven through NVIDIA's 11.4 headers by a C++
//! client (tests/standin/smoke.cpp): every call a weight extractor makes, through the real vtables,
//! gives what the simulator gives in-process. Skipped loudly where no C++ compiler or headers exist.

use crate::sim;
use crate::standin;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

use sim::gen::{random_refit_values, random_spec, GenConfig};
use sim::models::{self, Storage};
use sim::{Engine, Fill, Segment, SimEngine, SimSpec};

/// The smoke client, compiled once; `Err(reason)` to skip.
fn smoke() -> Result<(PathBuf, PathBuf), String> {
    static SMOKE: OnceLock<Result<(PathBuf, PathBuf), String>> = OnceLock::new();
    SMOKE
        .get_or_init(|| {
            let lib = standin::library()?;
            let headers = standin::headers()?;
            let cxx = standin::cxx()?;
            let exe = standin::target_dir().join("smoke");
            let root = standin::repo_root();
            let out = Command::new(cxx)
                .args([
                    "-std=c++17",
                    "-O0",
                    "-Wall",
                    "-Wno-deprecated-declarations",
                    "-I",
                ])
                .arg(headers.join("TRT-Enterprise-11.4"))
                .arg("-I")
                .arg(root.join("tests/standin/stub"))
                .arg(root.join("tests/standin/smoke.cpp"))
                .args(["-ldl", "-o"])
                .arg(&exe)
                .output()
                .map_err(|e| e.to_string())?;
            if !out.status.success() {
                return Err(format!(
                    "compiling smoke.cpp failed:\n{}",
                    String::from_utf8_lossy(&out.stderr)
                ));
            }
            Ok((lib, exe))
        })
        .clone()
}

macro_rules! smoke_or_skip {
    () => {
        match smoke() {
            Ok(x) => x,
            Err(why) => {
                eprintln!("SKIPPED: stand-in TensorRT library unavailable: {why}");
                return;
            }
        }
    };
}

struct Run {
    code: i32,
    stdout: String,
    refitted: Option<Vec<u8>>,
}

fn run_smoke(lib: &Path, exe: &Path, spec: &SimSpec, values: &[Vec<u8>]) -> Run {
    let dir = tempfile::tempdir().unwrap();
    let (plan_path, _) = standin::write_engine(spec, dir.path(), "model.engine");
    let vals = dir.path().join("values.bin");
    std::fs::write(&vals, values.concat()).unwrap();
    let out_path = dir.path().join("refitted.engine");
    let out = Command::new(exe)
        .arg(lib)
        .arg(&plan_path)
        .arg(&vals)
        .arg(&out_path)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    eprintln!("{stdout}{}", String::from_utf8_lossy(&out.stderr));
    Run {
        code: out.status.code().unwrap_or(-1),
        stdout,
        refitted: std::fs::read(&out_path).ok(),
    }
}

/// What the simulator serializes in-process after one refit with `values`.
fn expected_refit(spec: &SimSpec, values: &[Vec<u8>]) -> Vec<u8> {
    let engine = SimEngine::new(spec.build().unwrap().file).unwrap();
    let mut inst = engine.instance().unwrap();
    let refs: Vec<&[u8]> = values.iter().map(|v| v.as_slice()).collect();
    inst.refit(&refs).unwrap();
    inst.serialize().unwrap().bytes().to_vec()
}

fn check_refit_matches_simulator(spec: &SimSpec, values: &[Vec<u8>]) {
    let (lib, exe) = smoke_or_skip!();
    let r = run_smoke(&lib, &exe, spec, values);
    assert_eq!(r.code, 0, "smoke failed:\n{}", r.stdout);
    assert!(r.stdout.contains("failures 0") && r.stdout.contains("refit 1"));
    // A fresh engine serializes the file, less a builder trailer.
    let plan = spec.build().unwrap();
    let fresh = format!(
        "fresh-length {} equal-to-file {}",
        plan.truth.fresh_len,
        u8::from(spec.trailer == 0)
    );
    assert!(r.stdout.contains(&fresh), "want {fresh:?}");
    for w in &spec.layout.weights {
        let line = format!("weight {} {} {}\n", w.name, w.dtype.to_trt(), w.count);
        assert!(r.stdout.contains(&line), "missing {line:?}");
    }
    assert!(
        r.refitted.unwrap() == expected_refit(spec, values),
        "refitted serialization = the simulator's"
    );
}

#[test]
fn tiny_mlp_through_the_real_vtables() {
    let spec = models::tiny_mlp(Storage::Fp32);
    check_refit_matches_simulator(&spec, &random_refit_values(&spec.layout.weights, 1));
}

#[test]
fn random_engines_through_the_real_vtables() {
    // Every dtype, packed types, conversions, length changes, stripped plans, counters.
    for seed in [3u64, 8, 21] {
        let mut spec = random_spec(
            seed,
            8,
            &GenConfig {
                corrupt: false,
                ..GenConfig::everything()
            },
        );
        spec.layout.segments.push(Segment::Volatile {
            fresh: 5,
            refitted: 77,
            fill: Fill::Random(1),
        });
        check_refit_matches_simulator(&spec, &random_refit_values(&spec.layout.weights, seed));
    }
}

#[test]
fn refusals_are_logged_like_tensorrt() {
    let (lib, exe) = smoke_or_skip!();
    let mut spec = models::tiny_mlp(Storage::Fp16);
    spec.layout.not_refittable = true;
    let r = run_smoke(&lib, &exe, &spec, &spec.values);
    assert_eq!(r.code, 3);
    assert!(
        r.stdout.contains("no-refitter") && r.stdout.contains("kREFIT"),
        "{}",
        r.stdout
    );

    let mut spec = models::tiny_mlp(Storage::Fp16);
    spec.layout.faults.fail_refit = Some(1);
    let r = run_smoke(&lib, &exe, &spec, &spec.values);
    assert!(
        r.stdout.contains("refit 0: IRefitter::refitCudaEngine") && r.stdout.contains("injected"),
        "{}",
        r.stdout
    );

    let mut spec = models::tiny_mlp(Storage::Fp32);
    spec.layout.faults.reject_weight = Some(2);
    let r = run_smoke(&lib, &exe, &spec, &spec.values);
    assert!(
        r.stdout
            .contains("setNamedWeights-failed net.2.weight: IRefitter::setNamedWeights"),
        "{}",
        r.stdout
    );
}

#[test]
fn sim_plan_tool_writes_the_models() {
    let tool = match standin::sim_plan_tool() {
        Ok(t) => t,
        Err(why) => {
            eprintln!("SKIPPED: stand-in unavailable: {why}");
            return;
        }
    };
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("m.engine");
    let truth = dir.path().join("t.json");
    let st = Command::new(&tool)
        .arg("tiny_mlp")
        .arg(&out)
        .arg("--storage")
        .arg("fp16")
        .arg("--truth")
        .arg(&truth)
        .arg("--values")
        .status()
        .unwrap();
    assert!(st.success());
    assert!(std::fs::read(&out).unwrap() == models::tiny_mlp(Storage::Fp16).build().unwrap().file);
    let t: serde_json::Value = serde_json::from_slice(&std::fs::read(&truth).unwrap()).unwrap();
    assert_eq!(t["weights"].as_array().unwrap().len(), 6);
    assert_eq!(t["weights"][0]["recovery"], "exact");
    assert_eq!(
        t["weights"][0]["values_hex"].as_str().unwrap().len(),
        2048 * 2 * 2
    );
    let bad = Command::new(&tool)
        .arg("no_such_model")
        .arg(&out)
        .output()
        .unwrap();
    assert_eq!(bad.status.code(), Some(2));
}
