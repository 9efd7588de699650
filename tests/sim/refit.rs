//! `refit` (issue 12): the library core over the simulator, and the real binary end to end
//! through the stand-in TensorRT library. A weight-stripped engine plus its weights gives an
//! engine whose dump equals them; new values in transposed, fp16-stored, duplicated and fused
//! weights land exactly; a one-tensor file keeps the rest; a missing, mis-sized or lossy weight is
//! refused with exit 16 and nothing written.

use crate::cli_support;
use crate::sim;
use crate::standin;

use std::path::Path;

use cli_support::*;
use sim::models::{self, Storage};
use sim::{Content, DataType, Engine, Fill, Order, SimEngine, SimSpec};
use trt_dump::pipeline::extract::{self, Extraction};
use trt_dump::refit::{self, proof, IncludingWeights, OwnValues};

fn extract_all(engine: &dyn Engine, file: &[u8]) -> Extraction {
    extract::extract(
        engine,
        file,
        &extract::Options::default(),
        &mut extract::InMemory,
        &mut extract::Quiet,
    )
    .unwrap()
}

fn values_of(ex: &Extraction) -> Vec<Option<Vec<u8>>> {
    ex.results.iter().map(|r| r.values.values.clone()).collect()
}

fn no_own(_: &[usize]) -> anyhow::Result<OwnValues> {
    panic!("the engine's own values were not needed")
}

/// What the simulator itself stores for `values`: a fresh instance refitted with all of them,
/// serialized with its weights included.
fn simulator_refit(engine: &SimEngine, values: &[Vec<u8>]) -> Vec<u8> {
    let mut inst = engine.instance().unwrap();
    let refs: Vec<&[u8]> = values.iter().map(|v| v.as_slice()).collect();
    inst.refit(&refs).unwrap();
    inst.serialize_including_weights().unwrap().bytes().to_vec()
}

fn f32s(v: impl IntoIterator<Item = f32>) -> Vec<u8> {
    v.into_iter().flat_map(|x| x.to_le_bytes()).collect()
}

/// A transposed Gemm weight, a bias stored only as fp16, a weight stored twice (fp32 and fp16)
/// and two weights fused into one buffer (their sum).
fn awkward_spec() -> SimSpec {
    let mut s = SimSpec::new();
    s.filler(300, Fill::Random(1));
    let w = s.weight(
        "gemm.weight",
        DataType::Float,
        12,
        f32s((0..12).map(|i| i as f32 * 0.25)),
    );
    s.buffer(
        Content::Copy(w),
        DataType::Float,
        Order::Transpose { rows: 3, cols: 4 },
    );
    s.filler(40, Fill::Random(2));
    let b = s.weight(
        "ln.bias",
        DataType::Float,
        5,
        f32s([0.5, -1.0, 2.0, 0.125, 3.0]),
    );
    s.buffer(Content::Copy(b), DataType::Half, Order::Verbatim);
    s.filler(24, Fill::Random(3));
    let d = s.weight(
        "fc.bias",
        DataType::Float,
        6,
        f32s([1.0, 2.0, 3.0, 4.0, 5.0, 6.0]),
    );
    s.buffer(Content::Copy(d), DataType::Float, Order::Verbatim);
    s.filler(8, Fill::Random(4));
    s.buffer(Content::Copy(d), DataType::Half, Order::Verbatim);
    let fa = s.weight("fused.a", DataType::Float, 4, f32s([1.0, 1.0, 1.0, 1.0]));
    let fb = s.weight("fused.b", DataType::Float, 4, f32s([2.0, 2.0, 2.0, 2.0]));
    s.filler(16, Fill::Random(5));
    s.buffer(Content::Sum(vec![fa, fb]), DataType::Float, Order::Verbatim);
    s.filler(12, Fill::Random(7));
    s.buffer(Content::Copy(fa), DataType::Float, Order::Verbatim);
    s.filler(100, Fill::Random(6));
    s
}

/// New values for the awkward spec: exact in fp16 except one that rounds (and one that
/// saturates) where only an fp16 copy exists.
fn awkward_new_values() -> Vec<Vec<u8>> {
    vec![
        f32s((0..12).map(|i| 100.0 - i as f32 * 1.5)),
        f32s([0.1, -7.0, 65504.0, 1e6, -0.0]),
        f32s([-1.5, 2.25, 1.0e-3, 4.0, 5.5, -6.0]),
        f32s([3.0, -3.0, 0.5, 8.0]),
        f32s([-1.0, 4.0, 0.25, 16.0]),
    ]
}

#[test]
fn library_new_values_land_exactly_in_transposed_fp16_duplicated_and_fused_weights() {
    let spec = awkward_spec();
    let plan = spec.build().unwrap();
    let engine = SimEngine::new(plan.file.clone()).unwrap();
    let new = awkward_new_values();
    let file: Vec<Option<Vec<u8>>> = new.iter().cloned().map(Some).collect();
    let out = refit::refit_engine(&engine, &file, &mut no_own).unwrap();
    assert!(!out.stripped && !out.read_engine);
    let bytes = out.plan.bytes().to_vec();
    assert!(
        bytes == simulator_refit(&engine, &new),
        "the plan holds what TensorRT stores for the values"
    );

    // The proof: the layout from marker passes, the values read back bit for bit.
    let ex = extract_all(&IncludingWeights(&engine), &plan.file);
    assert_eq!(ex.original_len, bytes.len() as u64);
    let expected: Vec<Option<&[u8]>> = new.iter().map(|v| Some(v.as_slice())).collect();
    let rb = proof::read_back(engine.weights(), &expected, &ex.original_runs, &bytes);
    assert!(rb.passed(), "{rb:?}");
    assert_eq!(
        rb.not_located,
        vec!["fused.b".to_string()],
        "fused.a has a plain copy, fused.b only the sum"
    );
    // The fp16 copy of `fc.bias` and the fp16-only `ln.bias` are compared after rounding.
    assert!(rb.elements_compared >= 12 + 5 + 6 + 6 + 4, "{rb:?}");
    // A changed stored byte is caught.
    let mut bad = bytes.clone();
    let r = ex.original_runs.iter().find(|r| r.weight == 1).unwrap();
    bad[r.offset as usize] ^= 0x01;
    assert!(!proof::read_back(engine.weights(), &expected, &ex.original_runs, &bad).passed());
}

#[test]
fn library_stripped_engine_and_its_weights_give_an_engine_that_holds_them() {
    let mut spec = models::tiny_mlp(Storage::Fp32);
    spec.layout.strip = true;
    let plan = spec.build().unwrap();
    let engine = SimEngine::new(plan.file.clone()).unwrap();
    assert!(refit::is_stripped(&engine).unwrap());
    // Not every weight: nothing can give the others.
    let mut partial: Vec<Option<Vec<u8>>> = spec.values.iter().cloned().map(Some).collect();
    partial[2] = None;
    let e = refit::refit_engine(&engine, &partial, &mut no_own)
        .err()
        .unwrap();
    assert_eq!(trt_dump::error::exit_code_of(&e), 16);
    assert!(
        format!("{e:#}").contains(&spec.layout.weights[2].name),
        "{e:#}"
    );

    let file: Vec<Option<Vec<u8>>> = spec.values.iter().cloned().map(Some).collect();
    let out = refit::refit_engine(&engine, &file, &mut no_own).unwrap();
    assert!(out.stripped);
    let bytes = out.plan.bytes().to_vec();
    assert!(bytes.len() > plan.file.len(), "the weights are in");
    // Its dump equals the weights, and its plain serialization keeps them.
    let e2 = SimEngine::new(bytes.clone()).unwrap();
    assert!(!refit::is_stripped(&e2).unwrap());
    let ex = extract_all(&e2, &bytes);
    assert!(ex.proof.passed(), "{:?}", ex.proof);
    let want: Vec<Option<Vec<u8>>> = spec.values.iter().cloned().map(Some).collect();
    assert_eq!(values_of(&ex), want);
    // The layout of the output, learned on the stripped input itself.
    let learned = extract_all(&IncludingWeights(&engine), &plan.file);
    let expected: Vec<Option<&[u8]>> = spec.values.iter().map(|v| Some(v.as_slice())).collect();
    let rb = proof::read_back(engine.weights(), &expected, &learned.original_runs, &bytes);
    assert!(
        rb.passed() && rb.weights_compared == 6 && rb.not_located.is_empty(),
        "{rb:?}"
    );
}

#[test]
fn library_a_one_tensor_file_keeps_the_rest() {
    let spec = models::tiny_mlp(Storage::Fp32AsFp16);
    let plan = spec.build().unwrap();
    let engine = SimEngine::new(plan.file.clone()).unwrap();
    let before = values_of(&extract_all(&engine, &plan.file));
    let mut file: Vec<Option<Vec<u8>>> = vec![None; spec.values.len()];
    let changed = f32s((0..spec.layout.weights[1].count).map(|i| (i % 7) as f32 - 3.0));
    file[1] = Some(changed.clone());
    // TensorRT needs nothing else here; had it needed some, the closure gives the engine's own.
    let mut own = |_: &[usize]| {
        Ok(OwnValues {
            values: before.clone(),
            why: vec![None; before.len()],
        })
    };
    let out = refit::refit_engine(&engine, &file, &mut own).unwrap();
    let bytes = out.plan.bytes().to_vec();
    let after = values_of(&extract_all(
        &SimEngine::new(bytes.clone()).unwrap(),
        &bytes,
    ));
    for (i, (a, b)) in after.iter().zip(&before).enumerate() {
        if i == 1 {
            assert_eq!(a.as_deref(), Some(changed.as_slice()));
        } else {
            assert_eq!(a, b, "weight {i} kept its value");
        }
    }
}

#[test]
fn library_weights_fused_with_a_file_tensor_come_from_the_engine() {
    let spec = awkward_spec();
    let plan = spec.build().unwrap();
    let engine = SimEngine::new(plan.file.clone()).unwrap();
    // Only fused.a: TensorRT needs fused.b too (one fused buffer), which the engine holds as no
    // plain copy: it cannot be given, and is named.
    let mut file: Vec<Option<Vec<u8>>> = vec![None; 5];
    file[3] = Some(f32s([0.0, 1.0, 2.0, 3.0]));
    let ex = extract_all(&engine, &plan.file);
    let own_values = values_of(&ex);
    let why: Vec<Option<String>> = ex
        .results
        .iter()
        .map(|r| r.missing.as_ref().map(|m| m.to_string()))
        .collect();
    let mut asked = Vec::new();
    let mut own = |needed: &[usize]| {
        asked = needed.to_vec();
        Ok(OwnValues {
            values: own_values.clone(),
            why: why.clone(),
        })
    };
    let e = refit::refit_engine(&engine, &file, &mut own).err().unwrap();
    assert_eq!(asked, vec![4]);
    assert_eq!(trt_dump::error::exit_code_of(&e), 16);
    assert!(format!("{e:#}").contains("`fused.b`"), "{e:#}");
    // Given both, it refits.
    file[4] = Some(f32s([1.0, 1.0, 1.0, 1.0]));
    refit::refit_engine(&engine, &file, &mut no_own).unwrap();
}

// ---- the real binary through the stand-in ----

fn refit_cmd(
    lib: &Path,
    engine: &Path,
    weights: &Path,
    out: &Path,
    args: &[&str],
) -> std::process::Output {
    trt_dump()
        .arg("--trt-lib")
        .arg(lib)
        .arg("refit")
        .arg(engine)
        .arg("--weights")
        .arg(weights)
        .arg("-o")
        .arg(out)
        .args(args)
        .output()
        .unwrap()
}

fn dump_cmd(lib: &Path, engine: &Path, out: &Path, args: &[&str]) -> std::process::Output {
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

fn st_dtype_of(d: DataType) -> safetensors::Dtype {
    match d {
        DataType::Float => safetensors::Dtype::F32,
        DataType::Half => safetensors::Dtype::F16,
        DataType::Bf16 => safetensors::Dtype::BF16,
        other => panic!("no test dtype for {other}"),
    }
}

/// Writes `(name, dtype, bytes)` tensors (flat) as safetensors.
fn write_st(path: &Path, tensors: &[(String, DataType, Vec<u8>)]) {
    let views: Vec<(String, safetensors::tensor::TensorView<'_>)> = tensors
        .iter()
        .map(|(n, d, b)| {
            let n_el = b.len() * 8 / d.bits() as usize;
            (
                n.clone(),
                safetensors::tensor::TensorView::new(st_dtype_of(*d), vec![n_el], b).unwrap(),
            )
        })
        .collect();
    std::fs::write(path, safetensors::tensor::serialize(views, None).unwrap()).unwrap();
}

fn truth_tensors(truth: &[TruthWeight]) -> Vec<(String, DataType, Vec<u8>)> {
    truth
        .iter()
        .map(|w| {
            (
                w.name.clone(),
                DataType::from_name(&w.dtype).unwrap(),
                w.values.clone().expect("exact"),
            )
        })
        .collect()
}

#[test]
fn cli_stripped_engine_plus_its_weights_and_refusals() {
    let (lib, tool) = standin_or_skip!();
    let d = tempfile::tempdir().unwrap();
    let (_, truth) = sim_plan(&tool, d.path(), "tiny_mlp", "full.engine", &[]);
    let (stripped, _) = sim_plan(&tool, d.path(), "tiny_mlp", "stripped.engine", &["--strip"]);
    let stripped_bytes = std::fs::read(&stripped).unwrap();
    let tensors = truth_tensors(&truth);
    let out = d.path().join("out.engine");

    // A weight missing: exit 16, named, nothing written.
    let w = d.path().join("missing.safetensors");
    write_st(&w, &tensors[1..]);
    let o = refit_cmd(&lib, &stripped, &w, &out, &[]);
    assert_exit(&o, 16);
    assert!(
        stderr(&o).contains(&format!("`{}`", tensors[0].0))
            && stderr(&o).contains("weight-stripped"),
        "{}",
        stderr(&o)
    );
    assert!(!out.exists());
    // A count that differs: 16.
    let mut short = tensors.clone();
    let n = short[2].2.len() - 4;
    short[2].2.truncate(n);
    write_st(&w, &short);
    let o = refit_cmd(&lib, &stripped, &w, &out, &[]);
    assert_exit(&o, 16);
    assert!(
        stderr(&o).contains("elements, the engine's refitter"),
        "{}",
        stderr(&o)
    );
    assert!(!out.exists());
    // Nothing matching: 16; --rename makes it match.
    let renamed: Vec<_> = tensors
        .iter()
        .map(|(n, dt, b)| (format!("model.{n}"), *dt, b.clone()))
        .collect();
    let w2 = d.path().join("renamed.safetensors");
    write_st(&w2, &renamed);
    let o = refit_cmd(&lib, &stripped, &w2, &out, &[]);
    assert_exit(&o, 16);
    assert!(stderr(&o).contains("none of the file's"), "{}", stderr(&o));
    assert!(!out.exists());

    // All of them: an engine whose dump equals them, proven before it was written.
    let o = refit_cmd(&lib, &stripped, &w2, &out, &["--rename", "model.="]);
    assert_exit(&o, 0);
    assert!(stderr(&o).contains("all bit-exact"), "{}", stderr(&o));
    assert_eq!(
        std::fs::read(&stripped).unwrap(),
        stripped_bytes,
        "the input is never modified"
    );
    let dumped = d.path().join("dumped.safetensors");
    let o = dump_cmd(&lib, &out, &dumped, &[]);
    assert_exit(&o, 0);
    assert_equals_truth(&read_safetensors(&dumped), &truth);
    // The output exists: --force to replace it.
    let o = refit_cmd(&lib, &stripped, &w2, &out, &["--rename", "model.="]);
    assert_exit(&o, 13);
    let o = refit_cmd(
        &lib,
        &stripped,
        &w2,
        &out,
        &["--rename", "model.=", "--force", "--json"],
    );
    assert_exit(&o, 0);
    let r: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(r["stripped_input"], true);
    assert_eq!(r["from_file"].as_array().unwrap().len(), truth.len());
    assert_eq!(r["proof"]["mismatch_count"], 0);
}

#[test]
fn cli_dump_edit_refit_keeps_the_rest_and_reads_its_own_outputs() {
    let (lib, tool) = standin_or_skip!();
    let d = tempfile::tempdir().unwrap();
    let (engine, truth) = sim_plan(
        &tool,
        d.path(),
        "tiny_mlp",
        "model.engine",
        &["--storage", "fp32-as-fp16"],
    );
    // trt-dump's own folder of .npy refits without flags.
    let npy = d.path().join("w_npy");
    assert_exit(&dump_cmd(&lib, &engine, &npy, &["--format", "npy"]), 0);
    let same = d.path().join("same.engine");
    let o = refit_cmd(&lib, &engine, &npy, &same, &[]);
    assert_exit(&o, 0);
    // And its .npz (names from its index member).
    let npz = d.path().join("w.npz");
    assert_exit(&dump_cmd(&lib, &engine, &npz, &[]), 0);
    let o = refit_cmd(&lib, &engine, &npz, &same, &["--force"]);
    assert_exit(&o, 0);
    assert!(
        !stderr(&o).contains("match no engine weight"),
        "{}",
        stderr(&o)
    );

    // One changed tensor (values exact in fp16): the rest keep the engine's values.
    let mut one = truth_tensors(&truth)[1].clone();
    one.2 = f32s((0..truth[1].count).map(|i| (i % 9) as f32 * 0.5 - 2.0));
    let w = d.path().join("one.safetensors");
    write_st(&w, std::slice::from_ref(&one));
    let out = d.path().join("out.engine");
    let o = refit_cmd(&lib, &engine, &w, &out, &[]);
    assert_exit(&o, 0);
    assert!(stderr(&o).contains("all bit-exact"), "{}", stderr(&o));
    let dumped = d.path().join("after.safetensors");
    assert_exit(&dump_cmd(&lib, &out, &dumped, &[]), 0);
    let got = read_safetensors(&dumped);
    for t in &truth {
        let want = if t.name == one.0 {
            one.2.clone()
        } else {
            t.values.clone().unwrap()
        };
        assert_eq!(got[&t.name].data, want, "{}", t.name);
    }

    // A value fp16 storage would change is stored rounded, and the proof expects the rounding.
    let mut lossy = one.clone();
    lossy.2 = f32s((0..truth[1].count).map(|i| 0.1 + i as f32));
    write_st(&w, std::slice::from_ref(&lossy));
    let o = refit_cmd(&lib, &engine, &w, &d.path().join("lossy.engine"), &[]);
    assert_exit(&o, 0);
    assert!(stderr(&o).contains("all bit-exact"), "{}", stderr(&o));
}

#[test]
fn cli_conversions_that_change_values_need_cast() {
    let (lib, tool) = standin_or_skip!();
    let d = tempfile::tempdir().unwrap();
    let (engine, truth) = sim_plan(
        &tool,
        d.path(),
        "tiny_mlp",
        "model.engine",
        &["--storage", "fp16"],
    );
    assert_eq!(truth[0].dtype, "float16");
    let w = d.path().join("w.safetensors");
    // fp32 values exactly representable in fp16 convert without a flag...
    let exact: Vec<_> = truth
        .iter()
        .map(|t| {
            (
                t.name.clone(),
                DataType::Float,
                f32s((0..t.count).map(|i| (i % 5) as f32)),
            )
        })
        .collect();
    write_st(&w, &exact);
    let out = d.path().join("out.engine");
    assert_exit(&refit_cmd(&lib, &engine, &w, &out, &[]), 0);
    // ...0.1 does not: 16 without --cast, reported with it.
    let mut lossy = exact.clone();
    lossy[0].2 = f32s((0..truth[0].count).map(|_| 0.1));
    write_st(&w, &lossy);
    let out2 = d.path().join("out2.engine");
    let o = refit_cmd(&lib, &engine, &w, &out2, &[]);
    assert_exit(&o, 16);
    assert!(stderr(&o).contains("--cast"), "{}", stderr(&o));
    assert!(!out2.exists());
    let o = refit_cmd(&lib, &engine, &w, &out2, &["--cast"]);
    assert_exit(&o, 0);
    assert!(stderr(&o).contains("--cast: `"), "{}", stderr(&o));
}

#[test]
fn cli_new_values_land_exactly_in_awkward_weights() {
    let (lib, _) = standin_or_skip!();
    let d = tempfile::tempdir().unwrap();
    let spec = awkward_spec();
    let (engine_path, plan) = standin::write_engine(&spec, d.path(), "awkward.engine");
    let new = awkward_new_values();
    let tensors: Vec<_> = spec
        .layout
        .weights
        .iter()
        .zip(&new)
        .map(|(w, v)| (w.name.clone(), w.dtype, v.clone()))
        .collect();
    let w = d.path().join("new.safetensors");
    write_st(&w, &tensors);
    let out = d.path().join("out.engine");
    let o = refit_cmd(&lib, &engine_path, &w, &out, &[]);
    assert_exit(&o, 0);
    assert!(
        stderr(&o).contains("all bit-exact") && stderr(&o).contains("fused.b"),
        "{}",
        stderr(&o)
    );
    let engine = SimEngine::new(plan.file).unwrap();
    assert!(std::fs::read(&out).unwrap() == simulator_refit(&engine, &new));
}

#[test]
fn cli_refits_a_stripped_engine_from_an_onnx_model() {
    let (lib, tool) = standin_or_skip!();
    let fixture = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../shared/fixtures/trt-rtx-1.7.1-h100/tiny_mlp");
    if !fixture.join("model.onnx").is_file() {
        eprintln!("SKIPPED: {} not present", fixture.display());
        return;
    }
    // The simulator's tiny_mlp has the real model's weight names and counts.
    let d = tempfile::tempdir().unwrap();
    let (stripped, _) = sim_plan(&tool, d.path(), "tiny_mlp", "stripped.engine", &["--strip"]);
    let out = d.path().join("out.engine");
    let o = refit_cmd(&lib, &stripped, &fixture.join("model.onnx"), &out, &[]);
    assert_exit(&o, 0);
    assert!(stderr(&o).contains("all bit-exact"), "{}", stderr(&o));
    let dumped = d.path().join("dumped.safetensors");
    assert_exit(&dump_cmd(&lib, &out, &dumped, &[]), 0);
    let got = read_safetensors(&dumped);
    let want = read_safetensors(&fixture.join("weights.safetensors"));
    assert_eq!(got.len(), 6);
    for (name, t) in &got {
        assert_eq!(t.data, want[name].data, "{name}");
    }
}

// ---- --names-from: engines whose weights go by ONNX node names ----

/// Writes `(name, shape, f32 values)` tensors as safetensors.
fn write_st_shaped(path: &Path, tensors: &[(&str, Vec<usize>, Vec<u8>)]) {
    let views: Vec<(String, safetensors::tensor::TensorView<'_>)> = tensors
        .iter()
        .map(|(n, shape, b)| {
            (
                n.to_string(),
                safetensors::tensor::TensorView::new(safetensors::Dtype::F32, shape.clone(), b)
                    .unwrap(),
            )
        })
        .collect();
    std::fs::write(path, safetensors::tensor::serialize(views, None).unwrap()).unwrap();
}

/// `[rows, cols]` f32 values transposed to `[cols, rows]`.
fn transpose_f32(data: &[u8], rows: usize, cols: usize) -> Vec<u8> {
    let mut out = vec![0u8; data.len()];
    for i in 0..rows {
        for j in 0..cols {
            out[(j * rows + i) * 4..][..4].copy_from_slice(&data[(i * cols + j) * 4..][..4]);
        }
    }
    out
}

/// An engine whose weights are named as an ONNX export names them (`onnx::MatMul_7`, stored
/// transposed, and `onnx::Add_3`), and the original checkpoint: the MatMul weight as `[4, 3]`
/// (the engine's `[3, 4]` transposed), the bias as it is (8 elements: enough to pair).
fn onnx_named_spec(strip: bool) -> (SimSpec, Vec<u8>, Vec<u8>) {
    let mut s = SimSpec::new();
    s.layout.strip = strip;
    s.filler(200, Fill::Random(11));
    let engine_w = f32s((0..12).map(|i| 0.5 + i as f32 * 0.25));
    let w = s.weight("onnx::MatMul_7", DataType::Float, 12, engine_w.clone());
    s.buffer(
        Content::Copy(w),
        DataType::Float,
        Order::Transpose { rows: 3, cols: 4 },
    );
    s.filler(32, Fill::Random(12));
    let bias = f32s([0.75, -1.5, 2.0, -0.125, 3.5, 6.25, -7.0, 0.0625]);
    let b = s.weight("onnx::Add_3", DataType::Float, 8, bias.clone());
    s.buffer(Content::Copy(b), DataType::Float, Order::Verbatim);
    s.filler(64, Fill::Random(13));
    (s, transpose_f32(&engine_w, 3, 4), bias)
}

#[test]
fn cli_names_from_dump_edit_refit_lands_in_engine_orientation() {
    let (lib, _) = standin_or_skip!();
    let d = tempfile::tempdir().unwrap();
    let (spec, ckpt_w, bias) = onnx_named_spec(false);
    let (engine, _) = standin::write_engine(&spec, d.path(), "onnx.engine");
    let original = d.path().join("original.safetensors");
    write_st_shaped(
        &original,
        &[
            ("encoder.fc.weight", vec![4, 3], ckpt_w.clone()),
            ("encoder.fc.bias", vec![8], bias.clone()),
        ],
    );

    // dump --names-from: the checkpoint's names, in its orientation.
    let dumped = d.path().join("dumped.safetensors");
    let o = dump_cmd(
        &lib,
        &engine,
        &dumped,
        &["--names-from", original.to_str().unwrap()],
    );
    assert_exit(&o, 0);
    let got = read_safetensors(&dumped);
    assert!(
        got.contains_key("encoder.fc.weight"),
        "{:?} {}",
        got.keys().collect::<Vec<_>>(),
        stderr(&o)
    );
    assert_eq!(got["encoder.fc.weight"].data, ckpt_w, "{}", stderr(&o));
    assert_eq!(got["encoder.fc.bias"].data, bias);

    // Edit one tensor in the checkpoint's orientation; the rest as dumped.
    let edited = f32s((0..12).map(|i| -4.0 + i as f32 * 0.5));
    let new = d.path().join("new.safetensors");
    write_st_shaped(
        &new,
        &[
            ("encoder.fc.weight", vec![4, 3], edited.clone()),
            (
                "encoder.fc.bias",
                vec![8],
                got["encoder.fc.bias"].data.clone(),
            ),
        ],
    );

    // Without --names-from nothing matches the engine's names.
    let out = d.path().join("out.engine");
    let o = refit_cmd(&lib, &engine, &new, &out, &[]);
    assert_exit(&o, 16);
    assert!(!out.exists());

    let o = refit_cmd(
        &lib,
        &engine,
        &new,
        &out,
        &["--names-from", original.to_str().unwrap(), "--json"],
    );
    assert_exit(&o, 0);
    let err = stderr(&o);
    assert!(
        err.contains("`onnx::MatMul_7` → `encoder.fc.weight`"),
        "{err}"
    );
    assert!(err.contains("`onnx::Add_3` → `encoder.fc.bias`"), "{err}");
    assert!(err.contains("all bit-exact"), "{err}");
    assert!(!err.contains("match no engine weight"), "{err}");
    assert_eq!(
        err.matches("marker passes (serializations").count(),
        1,
        "the engine is read once: {err}"
    );
    let r: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let by_value = r["names_from"]["by_value"].as_array().unwrap();
    assert_eq!(by_value.len(), 2, "{r}");
    assert!(
        by_value
            .iter()
            .any(|p| p["engine"] == "onnx::MatMul_7" && p["name"] == "encoder.fc.weight"),
        "{r}"
    );
    assert_eq!(r["from_file"].as_array().unwrap().len(), 2);

    // Dumped again under the engine's names: the edit, in the engine's orientation.
    let again = d.path().join("again.safetensors");
    assert_exit(&dump_cmd(&lib, &out, &again, &[]), 0);
    let got = read_safetensors(&again);
    assert_eq!(got["onnx::MatMul_7"].data, transpose_f32(&edited, 4, 3));
    assert_eq!(got["onnx::Add_3"].data, bias);
}

#[test]
fn cli_names_from_a_stripped_engine_says_it_holds_no_values() {
    let (lib, _) = standin_or_skip!();
    let d = tempfile::tempdir().unwrap();
    let (spec, ckpt_w, bias) = onnx_named_spec(true);
    let (engine, _) = standin::write_engine(&spec, d.path(), "stripped.engine");
    let original = d.path().join("original.safetensors");
    write_st_shaped(
        &original,
        &[
            ("encoder.fc.weight", vec![4, 3], ckpt_w),
            ("encoder.fc.bias", vec![8], bias),
        ],
    );
    let out = d.path().join("out.engine");
    let o = refit_cmd(
        &lib,
        &engine,
        &original,
        &out,
        &["--names-from", original.to_str().unwrap()],
    );
    assert_exit(&o, 2);
    let err = stderr(&o);
    assert!(
        err.contains("weight-stripped") && err.contains("no values to pair"),
        "{err}"
    );
    assert!(!out.exists());
}
