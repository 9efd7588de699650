//! `trt-dump selftest`: builds, with the user's TensorRT, the small REFIT networks this binary
//! carries ([`models`]), runs `dump` on each and compares with what each must give. One line per
//! model and a verdict; exit 0 only when every model comes out as expected, 1 otherwise (like
//! `verify`), 5 when TensorRT built the engines but refused to run them on this GPU, 7 when the
//! library cannot build (a lean runtime, no ONNX parser).

pub mod models;
pub mod onnx;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::Context;
use half::f16;

use crate::cli::args::{ExtractArgs, GlobalArgs, SelftestArgs};
use crate::cli::report::proof_line;
use crate::cli::source::{self, Extracted, Via};
use crate::cli::Outcome;
use crate::dtype::DataType;
use crate::error::{self, Error, ErrorKind};
use crate::pipeline::extract::{Missing, Proof, WeightResult};
use crate::pipeline::{Engine, PlanBytes, WeightSpec};
use crate::reference::RefTensor;
use crate::refit::{self, OwnValues, WeightsSource};
use crate::trt::{gpu, loader};
use crate::writer::{self, PlannedTensor, ShapeSource, TensorView, WriterOptions};
use models::{Expect, Model};
use onnx::ElemType;

/// The outcome of one weight.
#[derive(Clone, Debug, serde::Serialize)]
pub struct WeightLine {
    pub name: String,
    pub expected: String,
    /// `exact`, `differs`, `missing`, `not-refittable`.
    pub got: String,
    pub detail: String,
    pub stored: Vec<String>,
    pub ok: bool,
}

/// The outcome of one model.
#[derive(Clone, Debug, serde::Serialize)]
pub struct ModelLine {
    pub name: String,
    pub what: String,
    /// `passed`, `failed`, `not-run` (built, but TensorRT refused to run it here), `not-built`.
    pub status: String,
    pub engine_bytes: Option<u64>,
    pub engine: Option<String>,
    pub weights: Vec<WeightLine>,
    pub proof: Option<String>,
    pub note: String,
}

pub const FORMAT: &str = "trt-dump.selftest/1";

/// `selftest --json` (docs/json.md; its keys are held to it in the tests below).
#[derive(serde::Serialize)]
struct JsonReport<'a> {
    format: &'static str,
    library: Option<String>,
    library_path: Option<String>,
    onnx_parser: Option<String>,
    gpu: Option<String>,
    models: &'a [ModelLine],
    verdict: String,
    exit: u8,
}

pub fn run(g: &GlobalArgs, a: &SelftestArgs) -> anyhow::Result<Outcome> {
    let all = models::all();
    if let Some(dir) = &a.export_models {
        return export(&all, dir);
    }

    let req = loader::Request::new(g.trt_lib.as_deref(), None);
    let (lib, _report) = loader::load(&req)?;
    let gpu_status = gpu::select(g.device);
    let gpu_text = match &gpu_status {
        Ok(x) => x.describe(),
        Err(e) => e.to_string(),
    };
    let keep_ctx: Option<Box<dyn std::any::Any>> = gpu_status
        .as_ref()
        .ok()
        .map(|x| Box::new(x.context()) as Box<dyn std::any::Any>);
    let builder = crate::trt::Builder::new(lib.clone(), keep_ctx)?;
    let parser = builder.parser_path.display().to_string();
    crate::note!(
        "selftest: {} at {}; ONNX parser {}; GPU {}",
        lib.describe(),
        lib.path.display(),
        parser,
        gpu_text
    );

    let tmp;
    let root: PathBuf = match &a.keep {
        Some(d) => {
            std::fs::create_dir_all(d).with_context(|| format!("--keep `{}`", d.display()))?;
            d.clone()
        }
        None => {
            tmp = tempfile::tempdir()?;
            tmp.path().to_path_buf()
        }
    };

    // Build everything first (one builder), then extract each engine.
    let mut built: Vec<Option<(PathBuf, u64)>> = Vec::new();
    let mut lines: Vec<ModelLine> = Vec::new();
    for m in &all {
        let onnx_bytes = onnx::model_bytes(&m.graph);
        let dir = root.join(m.name);
        std::fs::create_dir_all(&dir)?;
        if a.keep.is_some() {
            write_model(m, &dir, &onnx_bytes)?;
        }
        let flags = crate::trt::BuildFlags {
            strip_plan: m.strip_plan,
        };
        crate::detail!("selftest: building {}", m.name);
        match builder.build_onnx(&onnx_bytes, flags) {
            Ok(plan) => {
                let path = dir.join("model.engine");
                std::fs::write(&path, plan.bytes())
                    .with_context(|| format!("writing `{}`", path.display()))?;
                built.push(Some((path, plan.bytes().len() as u64)));
                lines.push(line(m, "failed", ""));
            }
            Err(f) => {
                built.push(None);
                lines.push(line(
                    m,
                    "not-built",
                    &format!("TensorRT could not build it: {}", f.reason()),
                ));
            }
        }
    }
    drop(builder);

    let x = ExtractArgs {
        allow_missing: true,
        no_verify: false,
        work_dir: None,
    };
    let mut g2 = g.clone();
    g2.trt_lib = Some(lib.path.clone());
    let mut refused_here: Option<String> = None;
    for ((m, b), l) in all.iter().zip(&built).zip(lines.iter_mut()) {
        let Some((path, len)) = b else { continue };
        l.engine_bytes = Some(*len);
        l.engine = Some(path.display().to_string());
        match source::obtain(&g2, path, Via::Gpu, &x) {
            Ok(ex) => judge(m, &Dumped::of(&ex), l),
            Err(e) => {
                let text = format!("{e:#}");
                let (status, note) = classify_failure(
                    m.strip_plan,
                    error::find(&e).map(|k| k.kind),
                    &text,
                    &lib.describe(),
                );
                if status == "not-run" {
                    refused_here.get_or_insert_with(|| text.clone());
                }
                l.status = status.into();
                l.note = note;
            }
        }
        if m.strip_plan && l.status == "passed" {
            // Refused by dump as stripped: restore it with refit's library path (the model's own
            // weights), then dump the refitted engine and judge it like any other model.
            let refitted = path.with_file_name("model.refitted.engine");
            let restored =
                crate::trt::TrtEngine::open(&source::trt_options(&g2), path).and_then(|engine| {
                    let mut dump = |plan: &[u8]| -> anyhow::Result<Dumped> {
                        std::fs::write(&refitted, plan)
                            .with_context(|| format!("writing `{}`", refitted.display()))?;
                        source::obtain(&g2, &refitted, Via::Gpu, &x).map(|ex| Dumped::of(&ex))
                    };
                    restore_strip_plan(m, &engine, &mut dump)
                });
            match restored {
                Ok(r) => {
                    *l = ModelLine {
                        engine_bytes: l.engine_bytes,
                        engine: l.engine.clone(),
                        ..r
                    };
                }
                Err(e) => {
                    let text = format!("{e:#}");
                    let kind = error::find(&e).map(|k| k.kind);
                    if kind == Some(ErrorKind::EngineIncompatible) {
                        refused_here.get_or_insert_with(|| text.clone());
                        l.status = "not-run".into();
                    } else {
                        l.status = "failed".into();
                    }
                    l.note = format!(
                        "refused by dump (stripped); restoring it with refit failed: {}",
                        first_line(&text)
                    );
                }
            }
        }
    }

    let passed = lines.iter().filter(|l| l.status == "passed").count();
    let not_run = lines.iter().filter(|l| l.status == "not-run").count();
    let failed = lines.len() - passed - not_run;
    let (verdict, exit) = if failed > 0 {
        (
            format!(
                "FAIL: {failed} of {} models did not come out as expected",
                lines.len()
            ),
            1,
        )
    } else if not_run > 0 {
        (
            format!(
                "NOT RUN: {} built all {} engines through trt-dump's binding, but refused to run {not_run} of them on this GPU ({gpu_text}); dump could not be checked here",
                lib.describe(),
                lines.len()
            ),
            ErrorKind::EngineIncompatible.exit_code(),
        )
    } else {
        (
            format!("PASS: all {} models came out as expected", lines.len()),
            0,
        )
    };

    if a.json {
        let r = JsonReport {
            format: FORMAT,
            library: Some(lib.describe()),
            library_path: Some(lib.path.display().to_string()),
            onnx_parser: Some(parser),
            gpu: Some(gpu_text),
            models: &lines,
            verdict: verdict.clone(),
            exit,
        };
        // Through main, so that `NOT RUN` (exit 5) prints one object: the report with its `error`.
        crate::cli::emit_json(&r)?;
    } else {
        for l in &lines {
            print_line(l);
        }
        println!("{verdict}");
    }
    if let Some(k) = &a.keep {
        crate::note!(
            "kept every engine with its model and weights under `{}`",
            k.display()
        );
    }
    match exit {
        0 => Ok(Outcome::Success),
        1 => Ok(Outcome::Differs),
        _ => Err(anyhow::Error::new(
            Error::new(ErrorKind::EngineIncompatible, verdict).with_hint(format!(
                "TensorRT's words: {}",
                first_line(refused_here.as_deref().unwrap_or("none"))
            )),
        )),
    }
}

/// A model whose `dump` failed: `not-run` (TensorRT refused to run the engine on this GPU),
/// `passed` (a STRIP_PLAN engine that dump itself refused as stripped) or `failed`, and the note.
/// The GPU refusal is tested first: its message can mention stripping too (the first device run
/// counted a refused STRIP_PLAN engine as passed).
pub fn classify_failure(
    strip_plan: bool,
    kind: Option<ErrorKind>,
    text: &str,
    lib: &str,
) -> (&'static str, String) {
    if kind == Some(ErrorKind::EngineIncompatible) {
        return (
            "not-run",
            format!(
                "built, but {lib} refused to run it on this GPU: {}",
                first_line(text)
            ),
        );
    }
    if strip_plan
        && matches!(kind, Some(ErrorKind::Incomplete | ErrorKind::NotRefittable))
        && text.contains("strip")
    {
        return (
            "passed",
            format!("refused by dump as expected: {}", first_line(text)),
        );
    }
    ("failed", format!("dump failed: {text}"))
}

/// What dumping one engine gave (from `dump`'s GPU path, or any [`Engine`] in tests).
pub struct Dumped {
    pub weights: Vec<WeightSpec>,
    pub results: Vec<WeightResult>,
    pub proof: Proof,
}

impl Dumped {
    pub fn of(ex: &Extracted) -> Dumped {
        Dumped {
            weights: ex.weights.clone(),
            results: ex.results.clone(),
            proof: ex.proof.clone(),
        }
    }
}

/// The model's weights as a refit weights source (their ONNX names, dtypes and shapes).
pub fn weights_source(m: &Model) -> WeightsSource {
    WeightsSource {
        path: PathBuf::from(format!("{}/weights.safetensors", m.name)),
        format: "selftest model".into(),
        tensors: m
            .weights
            .iter()
            .map(|w| RefTensor {
                name: w.init.name.clone(),
                dtype: dtype_of(w.init.elem),
                shape: w.init.dims.iter().map(|&d| d as u64).collect(),
                data: w.init.raw.clone(),
            })
            .collect(),
        ..Default::default()
    }
}

/// A STRIP_PLAN model's engine, refused by `dump` as stripped: refits it with the model's known
/// weights through `refit`'s library path ([`refit::match_weights`], [`refit::refit_engine`]: no
/// cast, every weight from the model, none from the engine), dumps the refitted plan with `dump`
/// and judges it like any other model. The line says `refused by dump (stripped); restored by
/// refit: N/N weights exact`. An error: the refit itself failed.
pub fn restore_strip_plan(
    m: &Model,
    engine: &dyn Engine,
    dump: &mut dyn FnMut(&[u8]) -> anyhow::Result<Dumped>,
) -> anyhow::Result<ModelLine> {
    anyhow::ensure!(
        refit::is_stripped(engine)?,
        "the STRIP_PLAN engine is not weight-stripped (its plain serialization holds its weights)"
    );
    let src = weights_source(m);
    let matched = refit::match_weights(engine.weights(), &src, &refit::Options::default());
    if !matched.problems.is_empty() {
        return Err(refit::mismatch_error(
            &matched.problems,
            &format!(" (model `{}`)", m.name),
        ));
    }
    let mut own = |_: &[usize]| -> anyhow::Result<OwnValues> {
        anyhow::bail!("a weight-stripped engine has no values of its own")
    };
    let out = refit::refit_engine(engine, &matched.values, &mut own).context("refit")?;
    let dumped = dump(out.plan.bytes()).context("dumping the refitted engine")?;
    let mut l = line(m, "failed", "");
    judge_values(m, &dumped, &mut l);
    let exact = l.weights.iter().filter(|w| w.got == "exact").count();
    let restored = format!(
        "refused by dump (stripped); restored by refit: {exact}/{} weights exact ({} from the model's weights)",
        l.weights.len(),
        out.from.iter().filter(|f| **f == refit::ValueFrom::File).count()
    );
    l.note = if l.note.is_empty() {
        restored
    } else {
        format!("{restored}; {}", l.note)
    };
    Ok(l)
}

fn first_line(s: &str) -> &str {
    s.lines().next().unwrap_or("")
}

fn line(m: &Model, status: &str, note: &str) -> ModelLine {
    ModelLine {
        name: m.name.into(),
        what: m.what.into(),
        status: status.into(),
        engine_bytes: None,
        engine: None,
        weights: Vec::new(),
        proof: None,
        note: note.into(),
    }
}

fn print_line(l: &ModelLine) {
    let exact = l.weights.iter().filter(|w| w.got == "exact").count();
    let missing = l.weights.iter().filter(|w| w.got != "exact").count();
    let mut s = format!("{:<8} {:<20}", l.status.to_uppercase(), l.name);
    if !l.weights.is_empty() {
        s.push_str(&format!(" weights exact {exact}/{}", l.weights.len()));
    }
    if missing > 0 {
        s.push_str(&format!(", missing {missing}"));
    }
    if let Some(p) = &l.proof {
        s.push_str(&format!("; proof: {p}"));
    }
    if !l.note.is_empty() {
        s.push_str(&format!("; {}", l.note));
    }
    println!("{s}");
    for w in &l.weights {
        let stored = if w.stored.is_empty() {
            String::new()
        } else {
            format!(" [stored {}]", w.stored.join("+"))
        };
        println!(
            "    {} {:<18} {}{}{}",
            if w.ok { "ok " } else { "BAD" },
            w.name,
            w.got,
            stored,
            if w.detail.is_empty() {
                String::new()
            } else {
                format!(": {}", w.detail)
            }
        );
    }
}

/// The model's values as f32 (all are exact in float16).
fn values_f32(w: &onnx::Initializer) -> Vec<f32> {
    match w.elem {
        ElemType::Float => w
            .raw
            .chunks_exact(4)
            .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
            .collect(),
        ElemType::Float16 => w
            .raw
            .chunks_exact(2)
            .map(|c| f16::from_le_bytes([c[0], c[1]]).to_f32())
            .collect(),
    }
}

/// The bytes `dump` must give in refit dtype `d`, or None where the selftest cannot say.
fn expected_bytes(w: &onnx::Initializer, d: DataType) -> Option<Vec<u8>> {
    let v = values_f32(w);
    match d {
        DataType::Float => Some(v.iter().flat_map(|x| x.to_le_bytes()).collect()),
        DataType::Half => Some(
            v.iter()
                .flat_map(|x| f16::from_f32(*x).to_le_bytes())
                .collect(),
        ),
        DataType::Bf16 => Some(
            v.iter()
                .flat_map(|x| half::bf16::from_f32(*x).to_le_bytes())
                .collect(),
        ),
        _ => None,
    }
}

fn judge(m: &Model, ex: &Dumped, l: &mut ModelLine) {
    if m.strip_plan {
        l.proof = Some(proof_line(&ex.proof));
        let all_stripped = !ex.results.is_empty()
            && ex
                .results
                .iter()
                .all(|r| r.missing == Some(Missing::Stripped));
        l.status = if all_stripped { "passed" } else { "failed" }.into();
        l.note = if all_stripped {
            "dump reports every weight stripped, as expected".into()
        } else {
            "expected every weight reported stripped".into()
        };
        return;
    }
    judge_values(m, ex, l);
}

/// Every weight of `m` against what dump gave: exact in the refit dtype (or after the stored
/// dtype's rounding, said in the line), or missing where the model allows it.
pub fn judge_values(m: &Model, ex: &Dumped, l: &mut ModelLine) {
    l.proof = Some(proof_line(&ex.proof));
    let proof_bad = matches!(ex.proof, Proof::Failed { .. });
    let mut ok_all = !proof_bad;
    for w in &m.weights {
        let name = &w.init.name;
        let expected = match &w.expect {
            Expect::Exact { how: "" } => "exact".to_string(),
            Expect::Exact { how } => format!("exact ({how})"),
            Expect::MissingOrExact { why } => format!("missing or exact ({why})"),
            Expect::Missing { why } => format!("missing ({why})"),
        };
        let Some(i) = ex.weights.iter().position(|s| &s.name == name) else {
            let ok = !matches!(w.expect, Expect::Exact { .. });
            ok_all &= ok;
            l.weights.push(WeightLine {
                name: name.clone(),
                expected,
                got: "not-refittable".into(),
                detail: "not among the engine's refittable weights (folded at build time)".into(),
                stored: vec![],
                ok,
            });
            continue;
        };
        let spec = &ex.weights[i];
        let r = &ex.results[i];
        let stored: Vec<String> = r
            .values
            .stored
            .iter()
            .map(|d| d.name().to_string())
            .collect();
        let want = expected_bytes(&w.init, spec.dtype);
        let (got, mut detail) = match (&r.values.values, &r.missing, &want) {
            (Some(v), _, Some(e)) if v == e => ("exact".to_string(), String::new()),
            (Some(v), _, Some(e)) => {
                let n = (spec.dtype.bits().max(8) / 8) as usize;
                let diff = v.chunks(n).zip(e.chunks(n)).filter(|(a, b)| a != b).count();
                (
                    "differs".to_string(),
                    format!("{diff} of {} elements differ", spec.count),
                )
            }
            (Some(_), _, None) => (
                "differs".to_string(),
                format!("refit dtype {} not comparable", spec.dtype.name()),
            ),
            (None, Some(miss), _) => ("missing".to_string(), miss.to_string()),
            (None, None, _) => ("missing".to_string(), "no values and no reason".to_string()),
        };
        if got == "exact" {
            let narrower: Vec<&String> = stored
                .iter()
                .filter(|s| s.as_str() != spec.dtype.name())
                .collect();
            if !narrower.is_empty() {
                detail = format!(
                    "exact after {} rounding (TensorRT stores it as {})",
                    narrower
                        .iter()
                        .map(|s| s.as_str())
                        .collect::<Vec<_>>()
                        .join("+"),
                    stored.join("+")
                );
            }
        }
        let ok = match (&w.expect, got.as_str()) {
            (Expect::Exact { .. }, "exact") => true,
            (Expect::Exact { .. }, _) => false,
            (Expect::MissingOrExact { .. } | Expect::Missing { .. }, "exact" | "missing") => true,
            _ => false,
        };
        ok_all &= ok;
        l.weights.push(WeightLine {
            name: name.clone(),
            expected,
            got,
            detail,
            stored,
            ok,
        });
    }
    let extra: Vec<&str> = ex
        .weights
        .iter()
        .map(|s| s.name.as_str())
        .filter(|n| !m.weights.iter().any(|w| &w.init.name == n))
        .collect();
    if !extra.is_empty() {
        l.note = format!("the engine also names {}", extra.join(", "));
    }
    if proof_bad {
        l.note = format!("round-trip proof failed; {}", l.note);
    }
    l.status = if ok_all { "passed" } else { "failed" }.into();
}

/// `model.onnx` and `weights.safetensors` of one model in `dir`.
fn write_model(m: &Model, dir: &Path, onnx_bytes: &[u8]) -> anyhow::Result<()> {
    std::fs::write(dir.join("model.onnx"), onnx_bytes)?;
    let plan: Vec<PlannedTensor> = m
        .weights
        .iter()
        .map(|w| PlannedTensor {
            name: w.init.name.clone(),
            dtype: dtype_of(w.init.elem),
            shape: w.init.dims.iter().map(|&d| d as u64).collect(),
            shape_source: ShapeSource::Recovered {
                from: "model.onnx".into(),
            },
        })
        .collect();
    let mut metadata = BTreeMap::new();
    metadata.insert(
        "tool".to_string(),
        format!("trt-dump {} selftest", env!("CARGO_PKG_VERSION")),
    );
    metadata.insert("model".to_string(), m.name.to_string());
    let opts = WriterOptions {
        format: Some(writer::Format::Safetensors),
        compress: false,
        force: true,
        metadata,
    };
    let mut sink = writer::open(&dir.join("weights.safetensors"), &opts, &plan)?;
    for (w, p) in m.weights.iter().zip(&plan) {
        sink.add(&TensorView {
            name: &p.name,
            dtype: p.dtype,
            shape: &p.shape,
            data: &w.init.raw,
        })?;
    }
    sink.finish()?;
    Ok(())
}

fn dtype_of(e: ElemType) -> DataType {
    match e {
        ElemType::Float => DataType::Float,
        ElemType::Float16 => DataType::Half,
    }
}

/// `--export-models DIR`: every model as ONNX plus its weights, nothing built.
fn export(all: &[Model], dir: &Path) -> anyhow::Result<Outcome> {
    use std::io::Write;
    let mut stdout = std::io::stdout().lock();
    for m in all {
        let d = dir.join(m.name);
        std::fs::create_dir_all(&d)
            .with_context(|| format!("--export-models `{}`", d.display()))?;
        write_model(m, &d, &onnx::model_bytes(&m.graph))?;
        let flags = if m.strip_plan {
            "--refit --stripAllWeights"
        } else {
            "--refit"
        };
        writeln!(
            stdout,
            "{:<20} {}  (trtexec --onnx={}/model.onnx {flags} --saveEngine=model.engine{})",
            m.name,
            m.what,
            d.display(),
            if m.name == "mlp_fp16" {
                " --stronglyTyped"
            } else {
                ""
            }
        )?;
    }
    Ok(Outcome::Success)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_gpu_refusal_is_not_run_even_for_a_strip_plan_engine() {
        let refused =
            "could not deserialize: the engine cannot run on this GPU\nweight-stripped hint";
        let (s, note) = classify_failure(
            true,
            Some(ErrorKind::EngineIncompatible),
            refused,
            "TensorRT-RTX 1.7.1",
        );
        assert_eq!(s, "not-run");
        assert!(note.contains("refused to run it on this GPU"), "{note}");
        let stripped = "this plan holds no weights; refit it first: it is a weight-stripped engine";
        assert_eq!(
            classify_failure(true, Some(ErrorKind::Incomplete), stripped, "x").0,
            "passed"
        );
        assert_eq!(
            classify_failure(false, Some(ErrorKind::Incomplete), stripped, "x").0,
            "failed"
        );
        assert_eq!(
            classify_failure(true, Some(ErrorKind::TrtRefused), "strip", "x").0,
            "failed"
        );
    }

    /// docs/json.md's `## \`selftest --json\`` table: (key, optional), as the sim tests'
    /// `assert_documented` reads every command's.
    fn documented_selftest_keys() -> Vec<(String, bool)> {
        let doc = std::fs::read_to_string(
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/json.md"),
        )
        .unwrap();
        let mut inside = false;
        let mut keys = Vec::new();
        for l in doc.lines() {
            if let Some(h) = l.strip_prefix("## ") {
                inside = h == "`selftest --json`";
                continue;
            }
            let Some(rest) = l.strip_prefix("| `") else {
                continue;
            };
            let key = rest.split('`').next().unwrap();
            if inside && !key.contains('.') {
                keys.push((key.to_string(), l.contains("*optional*")));
            }
        }
        assert!(
            !keys.is_empty(),
            "docs/json.md has no `selftest --json` section"
        );
        keys
    }

    #[test]
    fn the_json_report_has_the_documented_keys() {
        let w = WeightLine {
            name: "w".into(),
            expected: "exact".into(),
            got: "exact".into(),
            detail: String::new(),
            stored: vec!["float32".into()],
            ok: true,
        };
        let m = ModelLine {
            name: "m".into(),
            what: "x".into(),
            status: "passed".into(),
            engine_bytes: Some(1),
            engine: None,
            weights: vec![w],
            proof: None,
            note: String::new(),
        };
        let models = [m];
        let r = JsonReport {
            format: FORMAT,
            library: None,
            library_path: None,
            onnx_parser: None,
            gpu: None,
            models: &models,
            verdict: "PASS".into(),
            exit: 0,
        };
        let v = serde_json::to_value(&r).unwrap();
        assert_eq!(v["format"], "trt-dump.selftest/1");
        let docs = documented_selftest_keys();
        let got: Vec<&String> = v.as_object().unwrap().keys().collect();
        for k in &got {
            assert!(
                docs.iter().any(|(d, _)| d == *k),
                "`selftest --json` has `{k}`, not in docs/json.md"
            );
        }
        for (k, optional) in &docs {
            assert!(
                *optional || got.contains(&k),
                "`selftest --json` lacks `{k}`, which docs/json.md lists"
            );
        }
        // The members of `models` and of their `weights`, as the doc spells them.
        let line = doc_line("models");
        let model_keys: Vec<&String> = v["models"][0].as_object().unwrap().keys().collect();
        assert!(
            line.contains(&format!(
                "`{{{}}}`",
                model_keys
                    .iter()
                    .map(|k| k.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            )),
            "{line}"
        );
        let weight_keys: Vec<&String> = v["models"][0]["weights"][0]
            .as_object()
            .unwrap()
            .keys()
            .collect();
        assert!(
            line.contains(&format!(
                "`{{{}}}`",
                weight_keys
                    .iter()
                    .map(|k| k.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            )),
            "{line}"
        );
    }

    fn doc_line(key: &str) -> String {
        let doc = std::fs::read_to_string(
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/json.md"),
        )
        .unwrap();
        let mut inside = false;
        for l in doc.lines() {
            if let Some(h) = l.strip_prefix("## ") {
                inside = h == "`selftest --json`";
            } else if inside && l.starts_with(&format!("| `{key}`")) {
                return l.to_string();
            }
        }
        panic!("docs/json.md's `selftest --json` has no `{key}`")
    }
}
