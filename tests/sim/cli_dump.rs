//! `dump` end to end through dynamic loading: the real `trt-dump` binary loads the stand-in
//! TensorRT library (tests/standin, built once per test binary) with `--trt-lib`, extracts
//! simulator engines written by `sim-plan`, and its outputs are read back and compared with the
//! simulator's ground truth. Exit statuses, messages and "nothing written" are checked for each
//! failure. Skipped loudly where the stand-in cannot be built (no C++ compiler or headers).

use crate::cli_support;
use crate::sim;
use crate::standin;

use std::path::Path;

use cli_support::*;

/// `dump ENGINE -o OUT --trt-lib LIB ARGS...`
fn dump(lib: &Path, engine: &Path, out: &Path, args: &[&str]) -> std::process::Output {
    trt_dump()
        .arg("--trt-lib")
        .arg(lib)
        .arg("dump")
        .arg(engine)
        .arg("-o")
        .arg(out)
        .args(args)
        .output()
        .unwrap()
}

const PROOF_EXACT: &str = "round-trip proof: refitting the extracted values reproduces all";

#[test]
fn tiny_mlp_fp32_fp16_and_bert_tiny_equal_the_simulators_truth() {
    let (lib, tool) = standin_or_skip!();
    for (model, storage) in [
        ("tiny_mlp", "fp32"),
        ("tiny_mlp", "fp16"),
        ("bert_tiny", "fp32"),
    ] {
        let d = tempfile::tempdir().unwrap();
        let (engine, truth) = sim_plan(
            &tool,
            d.path(),
            model,
            "model.engine",
            &["--storage", storage],
        );
        assert!(
            truth.iter().all(|w| w.recovery == "exact"),
            "{model}: every weight is recoverable"
        );
        let out = d.path().join("w.safetensors");
        let o = dump(&lib, &engine, &out, &[]);
        assert_exit(&o, 0);
        assert!(
            stderr(&o).contains(PROOF_EXACT),
            "{model} {storage}: {}",
            stderr(&o)
        );
        assert!(!stderr(&o).contains("warning"), "{}", stderr(&o));
        assert_equals_truth(&read_safetensors(&out), &truth);
    }
}

#[test]
fn json_report_has_the_documented_keys() {
    let (lib, tool) = standin_or_skip!();
    let d = tempfile::tempdir().unwrap();
    let (engine, truth) = sim_plan(&tool, d.path(), "tiny_mlp", "model.engine", &[]);
    let out = d.path().join("w.safetensors");
    let o = dump(&lib, &engine, &out, &["--json"]);
    assert_exit(&o, 0);
    let r: serde_json::Value =
        serde_json::from_slice(&o.stdout).expect("stdout is one JSON document");
    for key in [
        "engine",
        "engine_bytes",
        "source",
        "weights",
        "totals",
        "passes",
        "proof",
        "proof_independent",
        "seconds",
        "output",
    ] {
        assert!(r.get(key).is_some(), "missing key `{key}` in {r:#}");
    }
    assert_eq!(r["source"]["kind"], "tensorrt");
    assert_eq!(r["proof"]["verdict"], "identical");
    assert_eq!(r["proof_independent"], true);
    assert_eq!(r["totals"]["weights"], truth.len());
    assert_eq!(r["totals"]["missing"], 0);
    assert_eq!(r["output"], out.display().to_string());
    let w0 = &r["weights"][0];
    for key in [
        "name",
        "dtype",
        "count",
        "stored",
        "copies",
        "extracted",
        "disagreements",
        "inexact",
    ] {
        assert!(
            w0.get(key).is_some(),
            "missing weight key `{key}` in {w0:#}"
        );
    }
    assert_eq!(w0["name"], truth[0].name.as_str());
    assert_eq!(w0["extracted"], true);
    assert!(r["passes"]["refit_serialize"].as_u64().unwrap() >= 3);
}

#[test]
fn npz_and_npy_folder_hold_the_truth_too() {
    let (lib, tool) = standin_or_skip!();
    let d = tempfile::tempdir().unwrap();
    let (engine, truth) = sim_plan(
        &tool,
        d.path(),
        "tiny_mlp",
        "model.engine",
        &["--storage", "fp16"],
    );
    let npz = d.path().join("w.npz");
    assert_exit(&dump(&lib, &engine, &npz, &["--compress"]), 0);
    let folder = d.path().join("w_npy");
    assert_exit(&dump(&lib, &engine, &folder, &["--format", "npy"]), 0);
    let from_npz = read_npz(&npz);
    assert_eq!(from_npz.len(), truth.len());
    for w in &truth {
        let want = w.values.as_ref().unwrap();
        let z = &from_npz[&w.name];
        assert_eq!(
            (z.dtype.as_str(), z.shape.as_slice()),
            ("<f2", &[w.count as usize][..]),
            "{}",
            w.name
        );
        assert!(z.data == *want, "npz `{}` differs from the truth", w.name);
        let f = read_npy(&std::fs::read(folder.join(format!("{}.npy", w.name))).unwrap());
        assert!(f == *z, "npy file `{}` differs from the npz member", w.name);
    }
}

#[test]
fn a_saved_map_reads_the_same_tensors_on_the_cpu_without_tensorrt() {
    let (lib, tool) = standin_or_skip!();
    let d = tempfile::tempdir().unwrap();
    let (engine, truth) = sim_plan(&tool, d.path(), "bert_tiny", "model.engine", &[]);
    let gpu = d.path().join("gpu.safetensors");
    let map = d.path().join("saved.trtmap");
    let o = dump(&lib, &engine, &gpu, &["--save-map", map.to_str().unwrap()]);
    assert_exit(&o, 0);
    assert!(stderr(&o).contains("saved the map"), "{}", stderr(&o));
    // No --trt-lib, and TRT_DUMP_TRT_LIB points at nothing: loading TensorRT would fail (exit 7).
    let cpu = d.path().join("cpu.safetensors");
    let o = trt_dump()
        .arg("dump")
        .arg(&engine)
        .arg("--map")
        .arg(&map)
        .arg("-o")
        .arg(&cpu)
        .output()
        .unwrap();
    assert_exit(&o, 0);
    assert!(
        stderr(&o).contains("read through the map"),
        "{}",
        stderr(&o)
    );
    let (a, b) = (read_safetensors(&gpu), read_safetensors(&cpu));
    assert!(
        a == b,
        "tensors read through the map differ from the GPU extraction's"
    );
    assert_equals_truth(&b, &truth);
}

#[test]
fn a_sidecar_map_is_used_without_tensorrt() {
    let (lib, tool) = standin_or_skip!();
    let d = tempfile::tempdir().unwrap();
    let (engine, truth) = sim_plan(&tool, d.path(), "tiny_mlp", "model.engine", &[]);
    let side = d.path().join("model.engine.trtmap");
    let o = trt_dump()
        .arg("--trt-lib")
        .arg(&lib)
        .arg("map")
        .arg(&engine)
        .arg("-o")
        .arg(&side)
        .output()
        .unwrap();
    assert_exit(&o, 0);
    let out = d.path().join("w.safetensors");
    let o = trt_dump()
        .arg("dump")
        .arg(&engine)
        .arg("-o")
        .arg(&out)
        .output()
        .unwrap();
    assert_exit(&o, 0);
    assert!(
        stderr(&o).contains("using the map") && stderr(&o).contains("no GPU needed"),
        "{}",
        stderr(&o)
    );
    assert_equals_truth(&read_safetensors(&out), &truth);
    // --no-sidecar goes to TensorRT, which is not reachable here.
    let out2 = d.path().join("w2.safetensors");
    let o = trt_dump()
        .arg("dump")
        .arg(&engine)
        .arg("-o")
        .arg(&out2)
        .arg("--no-sidecar")
        .output()
        .unwrap();
    assert_exit(&o, i32::from(ErrorKind::TrtNotFound.exit_code()));
    assert!(!out2.exists());
}

#[test]
fn a_sidecar_made_for_another_engine_is_ignored_with_a_warning() {
    let (lib, tool) = standin_or_skip!();
    let d = tempfile::tempdir().unwrap();
    let (other, _) = sim_plan(
        &tool,
        d.path(),
        "tiny_mlp",
        "other.engine",
        &["--storage", "fp16"],
    );
    let other_map = d.path().join("other.trtmap");
    assert_exit(
        &trt_dump()
            .arg("--trt-lib")
            .arg(&lib)
            .arg("map")
            .arg(&other)
            .arg("-o")
            .arg(&other_map)
            .output()
            .unwrap(),
        0,
    );
    let (engine, truth) = sim_plan(&tool, d.path(), "tiny_mlp", "model.engine", &[]);
    std::fs::copy(&other_map, d.path().join("model.engine.trtmap")).unwrap();
    let out = d.path().join("w.safetensors");
    let o = dump(&lib, &engine, &out, &[]);
    assert_exit(&o, 0);
    let err = stderr(&o);
    assert!(
        err.contains("warning: ignoring") && err.contains("model.engine.trtmap"),
        "{err}"
    );
    assert!(
        err.contains("mapping with TensorRT instead") && err.contains(PROOF_EXACT),
        "{err}"
    );
    assert_equals_truth(&read_safetensors(&out), &truth);
}

#[test]
fn a_map_given_for_another_engine_exits_14_and_writes_nothing() {
    let (lib, tool) = standin_or_skip!();
    let d = tempfile::tempdir().unwrap();
    let (other, _) = sim_plan(&tool, d.path(), "bert_tiny", "other.engine", &[]);
    let map = d.path().join("other.trtmap");
    assert_exit(
        &trt_dump()
            .arg("--trt-lib")
            .arg(&lib)
            .arg("map")
            .arg(&other)
            .arg("-o")
            .arg(&map)
            .output()
            .unwrap(),
        0,
    );
    let (engine, _) = sim_plan(&tool, d.path(), "tiny_mlp", "model.engine", &[]);
    let before = listing(d.path());
    let out = d.path().join("w.safetensors");
    let o = trt_dump()
        .arg("dump")
        .arg(&engine)
        .arg("--map")
        .arg(&map)
        .arg("-o")
        .arg(&out)
        .output()
        .unwrap();
    assert_exit(&o, i32::from(ErrorKind::BadMap.exit_code()));
    assert!(
        stderr(&o).contains("map does not match the engine"),
        "{}",
        stderr(&o)
    );
    assert_eq!(listing(d.path()), before, "nothing written");
}

#[test]
fn a_stripped_plan_exits_11_saying_refit_it_first() {
    let (lib, tool) = standin_or_skip!();
    let d = tempfile::tempdir().unwrap();
    let (engine, truth) = sim_plan(&tool, d.path(), "tiny_mlp", "model.engine", &["--strip"]);
    assert!(truth.iter().all(|w| w.recovery == "stripped"));
    let before = listing(d.path());
    let out = d.path().join("w.safetensors");
    let o = dump(&lib, &engine, &out, &[]);
    assert_exit(&o, i32::from(ErrorKind::Incomplete.exit_code()));
    let err = stderr(&o);
    assert!(
        err.contains("error: this plan holds no weights; refit it first"),
        "{err}"
    );
    assert!(err.contains("nothing was written"), "{err}");
    // The proof line reads as a sentence, with no dangling "first at".
    assert!(
        err.contains("round-trip proof not made: nothing to prove: the plan holds no weights"),
        "{err}"
    );
    assert!(!err.contains("first at"), "{err}");
    assert_eq!(listing(d.path()), before, "nothing written");
    // Accepting missing weights: exit 0, an output with no tensors.
    let o = dump(&lib, &engine, &out, &["--allow-missing"]);
    assert_exit(&o, 0);
    assert!(
        stderr(&o).contains("weight-stripped engine"),
        "{}",
        stderr(&o)
    );
    assert!(read_safetensors(&out).is_empty());
}

#[test]
fn an_injected_refit_failure_exits_10_with_tensorrts_message_and_writes_nothing() {
    let (lib, tool) = standin_or_skip!();
    let d = tempfile::tempdir().unwrap();
    let (engine, _) = sim_plan(
        &tool,
        d.path(),
        "tiny_mlp",
        "model.engine",
        &["--fail-refit", "2"],
    );
    let before = listing(d.path());
    let out = d.path().join("w.safetensors");
    let o = dump(
        &lib,
        &engine,
        &out,
        &["--save-map", d.path().join("m.trtmap").to_str().unwrap()],
    );
    assert_exit(&o, i32::from(ErrorKind::TrtRefused.exit_code()));
    let err = stderr(&o);
    assert!(
        err.contains("refitCudaEngine") && err.contains("injected failure on refit #2"),
        "{err}"
    );
    assert_eq!(listing(d.path()), before, "nothing written");
}

#[test]
fn an_engine_built_without_refit_exits_6() {
    let (lib, tool) = standin_or_skip!();
    let d = tempfile::tempdir().unwrap();
    let (engine, _) = sim_plan(
        &tool,
        d.path(),
        "tiny_mlp",
        "model.engine",
        &["--not-refittable"],
    );
    let out = d.path().join("w.safetensors");
    let o = dump(&lib, &engine, &out, &[]);
    assert_exit(&o, i32::from(ErrorKind::NotRefittable.exit_code()));
    assert!(
        stderr(&o).contains("not built refittable") && stderr(&o).contains("REFIT"),
        "{}",
        stderr(&o)
    );
    assert!(!out.exists());
}

#[test]
fn an_existing_output_exits_13_before_tensorrt_is_loaded() {
    let (_lib, tool) = standin_or_skip!();
    let d = tempfile::tempdir().unwrap();
    let (engine, _) = sim_plan(&tool, d.path(), "bert_tiny", "model.engine", &[]);
    let out = d.path().join("w.safetensors");
    std::fs::write(&out, b"keep me").unwrap();
    // A --trt-lib that does not exist: had any pass been attempted, loading it would fail with 7.
    let started = std::time::Instant::now();
    let o = trt_dump()
        .args(["--trt-lib", "/nonexistent/libnvinfer.so.11", "dump"])
        .arg(&engine)
        .arg("-o")
        .arg(&out)
        .output()
        .unwrap();
    assert_exit(&o, i32::from(ErrorKind::OutputNotWritten.exit_code()));
    assert!(
        stderr(&o).contains("already exists") && stderr(&o).contains("--force"),
        "{}",
        stderr(&o)
    );
    assert!(
        started.elapsed().as_secs() < 20,
        "the refusal should come at once"
    );
    assert_eq!(std::fs::read(&out).unwrap(), b"keep me");
    // The same for --save-map.
    let map = d.path().join("m.trtmap");
    std::fs::write(&map, b"old map").unwrap();
    let out2 = d.path().join("w2.safetensors");
    let o = trt_dump()
        .args(["--trt-lib", "/nonexistent/libnvinfer.so.11", "dump"])
        .arg(&engine)
        .arg("-o")
        .arg(&out2)
        .arg("--save-map")
        .arg(&map)
        .output()
        .unwrap();
    assert_exit(&o, i32::from(ErrorKind::OutputNotWritten.exit_code()));
    assert!(!out2.exists());
    assert_eq!(std::fs::read(&map).unwrap(), b"old map");
}

#[test]
fn engines_whose_length_changes_after_a_refit_extract_fully() {
    let (lib, tool) = standin_or_skip!();
    for model in ["tiny_mlp", "bert_tiny"] {
        let d = tempfile::tempdir().unwrap();
        let (engine, truth) =
            sim_plan(&tool, d.path(), model, "model.engine", &["--length-change"]);
        let out = d.path().join("w.safetensors");
        let o = dump(&lib, &engine, &out, &["--json"]);
        assert_exit(&o, 0);
        let r: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
        assert_eq!(r["totals"]["missing"], 0, "{model}");
        assert!(
            r["proof"]["verdict"] == "identical" || r["proof"]["verdict"] == "equivalent",
            "{model}: {}",
            r["proof"]
        );
        // A proof through an alignment must say it was not independent.
        if r["proof_independent"] == false {
            assert!(
                stderr(&o).contains("could not be independent"),
                "{}",
                stderr(&o)
            );
        }
        assert_equals_truth(&read_safetensors(&out), &truth);
    }
}

#[test]
fn a_proof_made_through_an_alignment_is_said_not_to_be_independent() {
    let (lib, _tool) = standin_or_skip!();
    // The refitted layout differs in length and survives a round trip: positions must be aligned.
    let mut spec = sim::models::tiny_mlp(sim::models::Storage::Fp32);
    sim::gen::insert_segment(
        &mut spec,
        1,
        sim::Segment::Volatile {
            fresh: 40,
            refitted: 1000,
            fill: sim::Fill::Random(9),
        },
    );
    spec.layout.persist_refit_form = true;
    let d = tempfile::tempdir().unwrap();
    let (engine, plan) = standin::write_engine(&spec, d.path(), "model.engine");
    let out = d.path().join("w.safetensors");
    let o = dump(&lib, &engine, &out, &["--json"]);
    assert_exit(&o, 0);
    let r: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(r["proof"]["verdict"], "equivalent", "{}", r["proof"]);
    assert_eq!(r["proof_independent"], false);
    let err = stderr(&o);
    assert!(err.contains("warning: the round-trip proof compared the engine with its refitted serialization through an alignment"), "{err}");
    assert!(err.contains("could not be independent"), "{err}");
    let got = read_safetensors(&out);
    for w in plan.truth.recoverable().map(|(_, w)| w) {
        assert!(
            got[&w.spec.name].data == *w.values.as_ref().unwrap(),
            "`{}`",
            w.spec.name
        );
    }
}
