//! `locate` against the five real TensorRT-RTX engines: every weight report.json says is stored
//! (verbatim, as fp16, or transposed) is found exactly there; weights it marks -1 in every form
//! (conv weights reordered, BERT's fused Q/K/V) stay missing; the weight-stripped engine yields
//! nothing; and constant tensors, which report.json "finds" in any run of zeros or ones, are kept
//! out by the all-equal rule.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use trt_dump::locate::{self, Form, LocateOptions, MissReason};
use trt_dump::reference;

/// The real fixtures: CI checks the repository out with `shared/` beside it.
const DIR: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../shared/fixtures/trt-rtx-1.7.1-h100"
);

fn path(case: &str, file: &str) -> PathBuf {
    Path::new(DIR).join(case).join(file)
}

fn report() -> serde_json::Value {
    serde_json::from_slice(&std::fs::read(Path::new(DIR).join("report.json")).unwrap()).unwrap()
}

/// (form, offset) pairs report.json gives for one weight.
fn expected(w: &serde_json::Value) -> BTreeSet<(Form, u64)> {
    let mut s = BTreeSet::new();
    for (key, form) in [
        ("verbatim_at", Form::Verbatim),
        ("as_fp16", Form::Fp16),
        ("transposed", Form::Transposed),
    ] {
        if let Some(off) = w.get(key).and_then(|v| v.as_i64()).filter(|&v| v >= 0) {
            s.insert((form, off as u64));
        }
    }
    s
}

fn check_case(case: &str, reference_file: &str) {
    let engine = std::fs::read(path(case, "model.engine")).unwrap();
    let refs = reference::load(&path(case, reference_file)).unwrap();
    let r = locate::locate(&engine, &refs, &LocateOptions::default());
    let rep = report();
    let weights = rep[case]["weights"].as_object().unwrap();
    assert_eq!(r.found.len() + r.missing.len(), refs.len());
    for (name, w) in weights {
        let t = refs.iter().find(|t| &t.name == name).unwrap();
        let want = expected(w);
        let found = r.found.iter().find(|f| &f.name == name);
        let missing = r.missing.iter().find(|m| &m.name == name);
        let constant = {
            let first = &t.data[..4];
            t.data.chunks_exact(4).all(|c| c == first)
        };
        if constant {
            // report.json places these in whatever run of zeros/ones comes first; not a placement.
            assert_eq!(
                missing.map(|m| &m.reason),
                Some(&MissReason::AllEqual),
                "{case}: {name}"
            );
            continue;
        }
        if want.is_empty() {
            assert!(
                matches!(
                    missing.map(|m| &m.reason),
                    Some(MissReason::NotFound { .. })
                ),
                "{case}: {name} should stay missing, got {found:?}"
            );
            continue;
        }
        let found = found.unwrap_or_else(|| panic!("{case}: {name} not found: {missing:?}"));
        let got: BTreeSet<(Form, u64)> = found
            .placements
            .iter()
            .map(|p| (p.form, p.offset))
            .collect();
        assert_eq!(got, want, "{case}: {name}");
        // The runs tile the tensor exactly once per placement, inside the engine file.
        for p in &found.placements {
            let mut seen = vec![false; t.count() as usize];
            for run in &p.runs {
                let (_, end) = run.byte_range().unwrap();
                assert!(end <= engine.len() as u64);
                for k in 0..run.len {
                    let idx = run.index_at(k) as usize;
                    assert!(
                        !std::mem::replace(&mut seen[idx], true),
                        "{name}: element {idx} twice"
                    );
                }
            }
            assert!(
                seen.iter().all(|&s| s),
                "{case}: {name}: runs do not cover the tensor"
            );
        }
    }
}

#[test]
fn tiny_mlp_weights_found_where_report_json_says() {
    check_case("tiny_mlp", "weights.safetensors");
}

#[test]
fn tiny_mlp_fp16_weights_found_where_report_json_says() {
    check_case("tiny_mlp_fp16", "model.onnx");
}

#[test]
fn small_cnn_linear_found_conv_reordered_stays_missing() {
    check_case("small_cnn", "model.onnx");
}

#[test]
fn bert_mini_found_fused_qkv_and_constants_stay_missing() {
    check_case("bert_mini", "weights.safetensors");
}

#[test]
fn stripped_engine_yields_nothing() {
    check_case("tiny_mlp_stripped", "model.onnx");
    let engine = std::fs::read(path("tiny_mlp_stripped", "model.engine")).unwrap();
    let refs = reference::load(&path("tiny_mlp_stripped", "weights.safetensors")).unwrap();
    let r = locate::locate(&engine, &refs, &LocateOptions::default());
    assert!(r.found.is_empty(), "{:?}", r.found);
    assert_eq!(r.missing.len(), 6);
}
