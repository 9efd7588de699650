//! The bundled example (fixtures/tiny_mlp: a real TensorRT-RTX 1.7.1 engine, its weights, and a
//! sidecar map made by `locate`) and the real fixtures in ../shared: `dump`, `verify`, `diff`,
//! `list --map` and `locate` on a machine with no GPU and no TensorRT.
//!
//! The real fixtures live in `$CARGO_MANIFEST_DIR/../shared/fixtures/trt-rtx-1.7.1-h100` (CI checks
//! the repository out with `shared/` beside it). Tests that need them, or Python with numpy and
//! safetensors (`TRT_DUMP_PYTHON`, else `python3`), skip loudly without them, and fail instead
//! when `CI` is set.

use crate::cli_support;

use std::path::{Path, PathBuf};
use std::process::Command;

use cli_support::*;

fn bundled(file: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fixtures/tiny_mlp")
        .join(file)
}

fn shared(case: &str, file: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../shared/fixtures/trt-rtx-1.7.1-h100")
        .join(case)
        .join(file)
}

fn in_ci() -> bool {
    std::env::var_os("CI").is_some()
}

/// The shared fixtures, or None (skip, loudly; a failure under CI).
fn shared_or_skip() -> Option<()> {
    let dir = shared("tiny_mlp", "");
    if dir.is_dir() {
        return Some(());
    }
    assert!(
        !in_ci(),
        "CI is set but the real fixtures are missing: {}",
        dir.display()
    );
    eprintln!("SKIPPED: real fixtures not found at {}", dir.display());
    None
}

#[test]
fn the_bundled_engine_dumps_on_the_cpu_through_its_sidecar_to_the_original_weights() {
    let d = tempfile::tempdir().unwrap();
    let out = d.path().join("w.safetensors");
    // No --trt-lib and TRT_DUMP_TRT_LIB pointing at nothing: TensorRT must not be needed.
    let o = trt_dump()
        .arg("dump")
        .arg(bundled("model.engine"))
        .arg("-o")
        .arg(&out)
        .output()
        .unwrap();
    assert_exit(&o, 0);
    assert!(
        stderr(&o).contains("using the map") && stderr(&o).contains("model.engine.trtmap"),
        "{}",
        stderr(&o)
    );
    let got = read_safetensors(&out);
    let want = read_safetensors(&bundled("weights.safetensors"));
    assert_eq!(
        got.keys().collect::<Vec<_>>(),
        want.keys().collect::<Vec<_>>()
    );
    for (name, w) in &want {
        let g = &got[name];
        assert_eq!(g.dtype, w.dtype, "{name}");
        assert_eq!(
            g.shape,
            vec![w.shape.iter().product::<usize>()],
            "{name}: flat without --shapes-from"
        );
        // Gemm weights are stored transposed in the engine: the map reads them back in order.
        assert!(
            g.data == w.data,
            "`{name}` differs from weights.safetensors"
        );
    }
    // With --shapes-from the shapes come back too.
    let shaped = d.path().join("shaped.safetensors");
    let o = trt_dump()
        .arg("dump")
        .arg(bundled("model.engine"))
        .arg("-o")
        .arg(&shaped)
        .arg("--shapes-from")
        .arg(bundled("weights.safetensors"))
        .output()
        .unwrap();
    assert_exit(&o, 0);
    assert!(
        read_safetensors(&shaped) == want,
        "reshaped output equals weights.safetensors tensor for tensor"
    );
}

#[test]
fn the_bundled_engine_verifies_against_its_weights_and_onnx_model() {
    let o = trt_dump()
        .arg("verify")
        .arg(bundled("model.engine"))
        .arg("--against")
        .arg(bundled("weights.safetensors"))
        .output()
        .unwrap();
    assert_exit(&o, 0);
    assert!(
        stdout(&o).contains("verdict: MATCH: 6 of 6 engine weights equal the reference"),
        "{}",
        stdout(&o)
    );
    assert!(
        stderr(&o).contains("made by `locate`"),
        "the circularity of a locate map is said: {}",
        stderr(&o)
    );
    if shared_or_skip().is_none() {
        return;
    }
    let o = trt_dump()
        .arg("verify")
        .arg(bundled("model.engine"))
        .arg("--against")
        .arg(shared("tiny_mlp", "model.onnx"))
        .output()
        .unwrap();
    assert_exit(&o, 0);
    assert!(
        stdout(&o).contains("verdict: MATCH: 6 of 6"),
        "{}",
        stdout(&o)
    );
    // Another model's weights do not match.
    let o = trt_dump()
        .arg("verify")
        .arg(bundled("model.engine"))
        .arg("--against")
        .arg(shared("tiny_mlp_fp16", "weights.safetensors"))
        .output()
        .unwrap();
    assert_exit(&o, 1);
    assert!(
        stdout(&o).contains("verdict: DIFFERS: 0 of 6"),
        "{}",
        stdout(&o)
    );
}

#[test]
fn list_reads_the_bundled_map() {
    let o = trt_dump()
        .arg("list")
        .arg(bundled("model.engine"))
        .arg("--map")
        .arg(bundled("model.engine.trtmap"))
        .output()
        .unwrap();
    assert_exit(&o, 0);
    let s = stdout(&o);
    assert!(s.contains("net.0.weight  float32     2048"), "{s}");
    assert!(
        s.ends_with("6 weights, 7312 elements, 29248 bytes (28.6 KiB)\n"),
        "{s}"
    );
}

/// The Python interpreter to read outputs back with, when it has numpy and safetensors.
fn python() -> Option<String> {
    let py = std::env::var("TRT_DUMP_PYTHON").unwrap_or_else(|_| "python3".into());
    let ok = Command::new(&py)
        .args(["-c", "import numpy, safetensors"])
        .output()
        .is_ok_and(|o| o.status.success());
    if ok {
        return Some(py);
    }
    assert!(
        !in_ci(),
        "CI is set but `{py}` cannot import numpy and safetensors (pip install numpy safetensors)"
    );
    eprintln!("SKIPPED: `{py}` cannot import numpy and safetensors (set TRT_DUMP_PYTHON or pip install them)");
    None
}

#[test]
fn python_reads_the_bundled_dump_back_equal_to_the_weights() {
    let Some(py) = python() else { return };
    let d = tempfile::tempdir().unwrap();
    let out = d.path().join("w.safetensors");
    let o = trt_dump()
        .arg("dump")
        .arg(bundled("model.engine"))
        .arg("-o")
        .arg(&out)
        .arg("--shapes-from")
        .arg(bundled("weights.safetensors"))
        .output()
        .unwrap();
    assert_exit(&o, 0);
    let script = r#"
import sys
import numpy as np
from safetensors.numpy import load_file
got, want = load_file(sys.argv[1]), load_file(sys.argv[2])
assert sorted(got) == sorted(want), (sorted(got), sorted(want))
for k in want:
    assert got[k].dtype == want[k].dtype and got[k].shape == want[k].shape, (k, got[k].dtype, got[k].shape)
    assert np.array_equal(got[k].view(np.uint32), want[k].view(np.uint32)), k
print("readback ok", len(want))
"#;
    let o = Command::new(&py)
        .arg("-c")
        .arg(script)
        .arg(&out)
        .arg(bundled("weights.safetensors"))
        .output()
        .unwrap();
    assert!(
        o.status.success(),
        "python readback failed:\n{}{}",
        stdout(&o),
        stderr(&o)
    );
    assert!(stdout(&o).contains("readback ok 6"), "{}", stdout(&o));
}

/// `locate ENGINE --reference REF -o MAP` for a real fixture.
fn locate(case: &str, reference: &str, map: &Path) -> std::process::Output {
    trt_dump()
        .arg("locate")
        .arg(shared(case, "model.engine"))
        .arg("--reference")
        .arg(shared(case, reference))
        .arg("-o")
        .arg(map)
        .output()
        .unwrap()
}

#[test]
fn locate_finds_nothing_in_the_weight_stripped_engine() {
    if shared_or_skip().is_none() {
        return;
    }
    let d = tempfile::tempdir().unwrap();
    let map = d.path().join("m.trtmap");
    let o = locate("tiny_mlp_stripped", "weights.safetensors", &map);
    assert_exit(&o, i32::from(ErrorKind::Incomplete.exit_code()));
    assert!(
        stdout(&o).contains("0 of 6 tensors found"),
        "{}",
        stdout(&o)
    );
    assert!(stderr(&o).contains("weight-stripped"), "{}", stderr(&o));
    assert!(!map.exists());
    // The bundled map does not fit the stripped engine (its weight bytes are gone): exit 14.
    let o = trt_dump()
        .arg("verify")
        .arg(shared("tiny_mlp_stripped", "model.engine"))
        .arg("--map")
        .arg(bundled("model.engine.trtmap"))
        .arg("--against")
        .arg(shared("tiny_mlp_stripped", "weights.safetensors"))
        .output()
        .unwrap();
    assert_exit(&o, i32::from(ErrorKind::BadMap.exit_code()));
}

#[test]
fn verify_and_diff_through_locate_maps_of_the_real_fixtures() {
    if shared_or_skip().is_none() {
        return;
    }
    let d = tempfile::tempdir().unwrap();
    // tiny_mlp_fp16: refit dtype float16, Gemm weights transposed.
    let fp16_map = d.path().join("fp16.trtmap");
    assert_exit(
        &locate("tiny_mlp_fp16", "weights.safetensors", &fp16_map),
        0,
    );
    for reference in ["weights.safetensors", "model.onnx"] {
        let o = trt_dump()
            .arg("verify")
            .arg(shared("tiny_mlp_fp16", "model.engine"))
            .arg("--map")
            .arg(&fp16_map)
            .arg("--against")
            .arg(shared("tiny_mlp_fp16", reference))
            .output()
            .unwrap();
        assert_exit(&o, 0);
        assert!(
            stdout(&o).contains("verdict: MATCH: 6 of 6"),
            "{reference}: {}",
            stdout(&o)
        );
    }
    // bert_mini: locate places 9 of its 18 tensors (fused Q/K/V and the rest stay unplaced): no
    // map without --allow-missing; with it, the map records the other 9 as not in it, and verify
    // through it is incomplete (exit 11), never a match.
    let bert_map = d.path().join("bert.trtmap");
    assert_exit(
        &locate("bert_mini", "model.onnx", &bert_map),
        i32::from(ErrorKind::Incomplete.exit_code()),
    );
    assert!(!bert_map.exists());
    let o = trt_dump()
        .arg("locate")
        .arg(shared("bert_mini", "model.engine"))
        .arg("--reference")
        .arg(shared("bert_mini", "model.onnx"))
        .arg("-o")
        .arg(&bert_map)
        .arg("--allow-missing")
        .output()
        .unwrap();
    assert_exit(&o, 0);
    let o = trt_dump()
        .arg("verify")
        .arg(shared("bert_mini", "model.engine"))
        .arg("--map")
        .arg(&bert_map)
        .arg("--against")
        .arg(shared("bert_mini", "model.onnx"))
        .output()
        .unwrap();
    assert_exit(&o, i32::from(ErrorKind::Incomplete.exit_code()));
    assert!(
        stdout(&o).contains(
            "verdict: INCOMPLETE: the 9 weights compared match; 9 not recovered from the engine"
        ),
        "{}",
        stdout(&o)
    );
    assert!(
        !stdout(&o).contains("MATCH") && !stdout(&o).contains("does not name"),
        "{}",
        stdout(&o)
    );

    // diff: tiny_mlp (bundled, float32) against tiny_mlp_fp16: same names, other dtype and values.
    let o = trt_dump()
        .args(["diff", "--json"])
        .arg(bundled("model.engine"))
        .arg(shared("tiny_mlp_fp16", "model.engine"))
        .arg("--map-b")
        .arg(&fp16_map)
        .output()
        .unwrap();
    assert_exit(&o, 1);
    let r: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(r["summary"]["dtype_mismatch"], 6);
    assert_eq!(r["weights"][0]["other_dtype"], "float16");
    assert!(r["weights"][0]["stats"]["max_abs"].as_f64().unwrap() > 0.0);
    // The bundled engine against a copy of itself (its sidecar found for both): identical.
    let copy = d.path().join("copy.engine");
    std::fs::copy(bundled("model.engine"), &copy).unwrap();
    let o = trt_dump()
        .arg("diff")
        .arg(bundled("model.engine"))
        .arg(&copy)
        .arg("--map-b")
        .arg(bundled("model.engine.trtmap"))
        .output()
        .unwrap();
    assert_exit(&o, 0);
    assert!(
        stdout(&o).contains("verdict: MATCH: all 6 weights are bit for bit equal"),
        "{}",
        stdout(&o)
    );
}
