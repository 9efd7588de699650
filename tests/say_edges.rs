//! Issue 11, items 3–7: diagnosis from the file first, `--json` on every failure, outputs that read
//! back under their names, output paths, and `info`/`list` without TensorRT. Runs the real binary on
//! the bundled TensorRT-RTX fixture (CPU, through its map) and on simulator plans through the
//! stand-in TensorRT library (skipped loudly where it cannot be built).

#[path = "support/sim.rs"]
mod sim;
#[path = "support/standin.rs"]
mod standin;
#[macro_use]
mod cli_support;

use std::path::{Path, PathBuf};
use std::process::Output;

use cli_support::*;

fn fixture() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/tiny_mlp")
}

/// The fixture engine and its map copied into `dir` (so outputs and sidecars stay there).
fn fixture_copy(dir: &Path, with_map: bool) -> PathBuf {
    let e = dir.join("model.engine");
    std::fs::copy(fixture().join("model.engine"), &e).unwrap();
    if with_map {
        std::fs::copy(fixture().join("model.engine.trtmap"), dir.join("model.engine.trtmap")).unwrap();
    }
    e
}

/// The binary with no TensorRT anywhere: no env var, no loader path, no python3.
fn no_trt(args: &[&std::ffi::OsStr]) -> Output {
    let empty = tempfile::tempdir().unwrap();
    assert_cmd::cargo::cargo_bin_cmd!("trt-dump")
        .args(args)
        .env_remove("TRT_DUMP_TRT_LIB")
        .env("LD_LIBRARY_PATH", empty.path())
        .env("PATH", empty.path())
        .output()
        .unwrap()
}

fn os(s: &str) -> &std::ffi::OsStr {
    std::ffi::OsStr::new(s)
}

fn json(o: &Output) -> serde_json::Value {
    serde_json::from_slice(&o.stdout)
        .unwrap_or_else(|e| panic!("stdout is not one JSON value ({e}):\n{}\n--- stderr\n{}", stdout(o), stderr(o)))
}

// ---- item 3: diagnose from the file first ----

#[test]
fn rtx_length_field_equals_the_file_length_in_every_real_fixture() {
    let shared = Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/fixtures/trt-rtx-1.7.1-h100");
    let mut engines = vec![fixture().join("model.engine")];
    if let Ok(rd) = std::fs::read_dir(&shared) {
        engines.extend(rd.filter_map(|e| e.ok()).map(|e| e.path().join("model.engine")).filter(|p| p.is_file()));
    }
    for e in engines {
        let b = std::fs::read(&e).unwrap();
        assert_eq!(&b[..4], b"vtrt");
        assert_eq!(u64::from_le_bytes(b[16..24].try_into().unwrap()), b.len() as u64, "{}", e.display());
    }
}

#[test]
fn cut_or_padded_rtx_engine_is_exit_4_with_no_library_or_gpu() {
    let d = tempfile::tempdir().unwrap();
    let whole = std::fs::read(fixture().join("model.engine")).unwrap();
    let cut = d.path().join("cut.engine");
    std::fs::write(&cut, &whole[..100_000]).unwrap();
    let mut longer = whole.clone();
    longer.extend_from_slice(b"trailing junk");
    let padded = d.path().join("padded.engine");
    std::fs::write(&padded, &longer).unwrap();
    let out = d.path().join("w.safetensors");
    for (f, word) in [(&cut, "truncated TensorRT-RTX engine"), (&padded, "13 extra bytes")] {
        for cmd in [
            vec![os("info"), f.as_os_str()],
            vec![os("list"), f.as_os_str()],
            vec![os("dump"), f.as_os_str(), os("-o"), out.as_os_str()],
            vec![os("verify"), f.as_os_str(), os("--against"), fixture().join("weights.safetensors").into_os_string().leak()],
        ] {
            let o = no_trt(&cmd);
            assert_exit(&o, 4);
            assert!(stderr(&o).contains(word), "{cmd:?}: {}", stderr(&o));
            assert!(!stderr(&o).contains("no usable TensorRT"), "{}", stderr(&o));
            assert!(!stderr(&o).contains("CUDA"), "{}", stderr(&o));
        }
    }
    assert!(!out.exists());
}

/// A simulator plan (TensorRT 11.4 `ftrt`) through the stand-in library, on a machine with no CUDA
/// driver: TensorRT's refusal decides, never "no GPU".
#[test]
fn tensorrt_refusals_decide_the_code_not_the_missing_gpu() {
    let (lib, tool) = standin_or_skip!();
    let d = tempfile::tempdir().unwrap();
    let (engine, _) = sim_plan(&tool, d.path(), "tiny_mlp", "model.engine", &[]);
    let bytes = std::fs::read(&engine).unwrap();
    // Cut short: the `ftrt` header holds no length, so TensorRT finds out; its words say corrupt.
    let cut = d.path().join("cut.engine");
    std::fs::write(&cut, &bytes[..bytes.len() / 2]).unwrap();
    let o = trt_dump().arg("--trt-lib").arg(&lib).arg("list").arg(&cut).output().unwrap();
    assert_exit(&o, 4);
    assert!(!stderr(&o).contains("hint: install the NVIDIA driver"), "{}", stderr(&o));
    // Built by another TensorRT: exit 5 naming both versions.
    let mut other = bytes.clone();
    other[24..28].copy_from_slice(&[10, 16, 1, 11]);
    let old = d.path().join("old.engine");
    std::fs::write(&old, &other).unwrap();
    let o = trt_dump().arg("--trt-lib").arg(&lib).arg("list").arg(&old).output().unwrap();
    assert_exit(&o, 5);
    let err = stderr(&o);
    assert!(err.contains("built by TensorRT 10.16.1.11") && err.contains("TensorRT 11.4.0.106"), "{err}");
    assert!(err.contains("use TensorRT 10.16"), "{err}");
}

#[test]
fn rtx_engine_without_tensorrt_is_told_to_install_tensorrt_rtx() {
    let d = tempfile::tempdir().unwrap();
    let e = fixture_copy(d.path(), false);
    let o = no_trt(&[os("list"), e.as_os_str()]);
    assert_exit(&o, 7);
    let err = stderr(&o);
    assert!(err.contains("hint: this is a TensorRT-RTX engine: install TensorRT-RTX"), "{err}");
    assert!(!err.contains("pip install tensorrt-cu12"), "{err}");
}

#[test]
fn help_lists_every_folder_searched() {
    let o = no_trt(&[os("--help")]);
    assert_exit(&o, 0);
    for f in ["tensorrt_libs/", "tensorrt_lean_libs/", "tensorrt_rtx_libs/"] {
        assert!(stdout(&o).contains(f), "{f}: {}", stdout(&o));
    }
}

// ---- item 6: output paths ----

#[test]
fn output_path_without_extension_is_a_npy_folder() {
    let d = tempfile::tempdir().unwrap();
    let e = fixture_copy(d.path(), true);
    let out = d.path().join("weights_dir");
    let o = no_trt(&[os("dump"), e.as_os_str(), os("-o"), out.as_os_str()]);
    assert_exit(&o, 0);
    assert!(out.join("index.json").is_file());
    assert!(out.join("net.0.weight.npy").is_file(), "{:?}", listing(&out));
}

#[test]
fn unknown_extensions_and_contradicting_format_are_usage_errors() {
    let d = tempfile::tempdir().unwrap();
    let e = fixture_copy(d.path(), true);
    for (name, extra) in [
        ("w.pt", &[][..]),
        ("w.bin", &[][..]),
        ("w.safetensor", &[][..]),
        ("y.safetensors", &["--format", "npz"][..]),
        ("y.npz", &["--format", "safetensors"][..]),
        ("dir/", &["--format", "npz"][..]),
    ] {
        let out = d.path().join(name);
        let mut args = vec![os("dump"), e.as_os_str(), os("-o"), out.as_os_str()];
        args.extend(extra.iter().map(|a| os(a)));
        let o = no_trt(&args);
        assert_exit(&o, 2);
        assert!(stderr(&o).contains("hint: name a file `*.safetensors` or `*.npz`"), "{name}: {}", stderr(&o));
        assert!(!d.path().join(name.trim_end_matches('/')).exists(), "{name} was written");
    }
}

// ---- item 7: info and list without TensorRT ----

#[test]
fn info_without_tensorrt_says_what_the_file_tells() {
    let d = tempfile::tempdir().unwrap();
    let e = fixture_copy(d.path(), true);
    let o = no_trt(&[os("info"), e.as_os_str()]);
    assert_exit(&o, 0);
    let text = stdout(&o);
    assert!(text.contains("built by       TensorRT-RTX 1.7.1.116"), "{text}");
    assert!(text.contains("210108 bytes"), "{text}");
    assert!(text.contains("6 weights, 7312 elements"), "{text}");
    assert!(text.contains("fits this engine"), "{text}");
    assert!(text.contains("needs TensorRT"), "{text}");

    let o = no_trt(&[os("info"), e.as_os_str(), os("--json")]);
    assert_exit(&o, 0);
    let v = json(&o);
    assert_eq!(v["format"], "trt-dump.info/1");
    assert_eq!(v["engine"]["plan_flavour"], "tensor-rt-rtx");
    assert_eq!(v["engine"]["built_by"], "1.7.1.116");
    assert_eq!(v["engine"]["size_bytes"], 210108);
    assert_eq!(v["engine"]["declared_bytes"], 210108);
    assert_eq!(v["sidecar_map"]["fits"], true);
    assert_eq!(v["sidecar_map"]["weights"], 6);
    for k in v["needs_tensorrt"].as_array().unwrap() {
        let mut at = &v;
        for part in k.as_str().unwrap().split('.') {
            at = &at[part];
        }
        assert!(at.is_null(), "{k} should be null without TensorRT");
    }
    assert!(v["needs_tensorrt"].as_array().unwrap().len() >= 5);
    assert!(v["tensorrt_problem"].as_str().unwrap().contains("no usable TensorRT library"));

    // Without a map beside it, still exit 0; the map key is null.
    let d2 = tempfile::tempdir().unwrap();
    let e2 = fixture_copy(d2.path(), false);
    let o = no_trt(&[os("info"), e2.as_os_str(), os("--json")]);
    assert_exit(&o, 0);
    assert!(json(&o)["sidecar_map"].is_null());
}

#[test]
fn list_uses_the_map_beside_the_engine() {
    let d = tempfile::tempdir().unwrap();
    let e = fixture_copy(d.path(), true);
    let o = no_trt(&[os("list"), e.as_os_str(), os("--json")]);
    assert_exit(&o, 0);
    let v = json(&o);
    let names: Vec<&str> = v["weights"].as_array().unwrap().iter().map(|w| w["name"].as_str().unwrap()).collect();
    assert_eq!(names.len(), 6, "{names:?}");
    assert!(names.contains(&"net.0.weight"));
}
