//! Issue 11, items 3–7: diagnosis from the file first, `--json` on every failure, outputs that read
//! back under their names, output paths, and `info`/`list` without TensorRT. Runs the real binary on
//! the bundled TensorRT-RTX fixture (CPU, through its map) and on simulator plans through the
//! stand-in TensorRT library (skipped loudly where it cannot be built).

use crate::cli_support;

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
        std::fs::copy(
            fixture().join("model.engine.trtmap"),
            dir.join("model.engine.trtmap"),
        )
        .unwrap();
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
    serde_json::from_slice(&o.stdout).unwrap_or_else(|e| {
        panic!(
            "stdout is not one JSON value ({e}):\n{}\n--- stderr\n{}",
            stdout(o),
            stderr(o)
        )
    })
}

// ---- item 3: diagnose from the file first ----

#[test]
fn rtx_length_field_equals_the_file_length_in_every_real_fixture() {
    let shared =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/fixtures/trt-rtx-1.7.1-h100");
    let mut engines = vec![fixture().join("model.engine")];
    if let Ok(rd) = std::fs::read_dir(&shared) {
        engines.extend(
            rd.filter_map(|e| e.ok())
                .map(|e| e.path().join("model.engine"))
                .filter(|p| p.is_file()),
        );
    }
    for e in engines {
        let b = std::fs::read(&e).unwrap();
        assert_eq!(&b[..4], b"vtrt");
        assert_eq!(
            u64::from_le_bytes(b[16..24].try_into().unwrap()),
            b.len() as u64,
            "{}",
            e.display()
        );
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
    for (f, word) in [
        (&cut, "truncated TensorRT-RTX engine"),
        (&padded, "13 extra bytes"),
    ] {
        for cmd in [
            vec![os("info"), f.as_os_str()],
            vec![os("list"), f.as_os_str()],
            vec![os("dump"), f.as_os_str(), os("-o"), out.as_os_str()],
            vec![
                os("verify"),
                f.as_os_str(),
                os("--against"),
                fixture()
                    .join("weights.safetensors")
                    .into_os_string()
                    .leak(),
            ],
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
    let o = trt_dump()
        .arg("--trt-lib")
        .arg(&lib)
        .arg("list")
        .arg(&cut)
        .output()
        .unwrap();
    assert_exit(&o, 4);
    assert!(
        !stderr(&o).contains("hint: install the NVIDIA driver"),
        "{}",
        stderr(&o)
    );
    // Built by another TensorRT: exit 5 naming both versions.
    let mut other = bytes.clone();
    other[24..28].copy_from_slice(&[10, 16, 1, 11]);
    let old = d.path().join("old.engine");
    std::fs::write(&old, &other).unwrap();
    let o = trt_dump()
        .arg("--trt-lib")
        .arg(&lib)
        .arg("list")
        .arg(&old)
        .output()
        .unwrap();
    assert_exit(&o, 5);
    let err = stderr(&o);
    assert!(
        err.contains("built by TensorRT 10.16.1.11") && err.contains("TensorRT 11.4.0.106"),
        "{err}"
    );
    assert!(err.contains("use TensorRT 10.16"), "{err}");
}

#[test]
fn rtx_engine_without_tensorrt_is_told_to_install_tensorrt_rtx() {
    let d = tempfile::tempdir().unwrap();
    let e = fixture_copy(d.path(), false);
    let o = no_trt(&[os("list"), e.as_os_str()]);
    assert_exit(&o, 7);
    let err = stderr(&o);
    assert!(
        err.contains("hint: this is a TensorRT-RTX engine: install TensorRT-RTX"),
        "{err}"
    );
    assert!(!err.contains("pip install tensorrt-cu12"), "{err}");
}

#[test]
fn help_lists_every_folder_searched() {
    let o = no_trt(&[os("--help")]);
    assert_exit(&o, 0);
    for f in [
        "tensorrt_libs/",
        "tensorrt_lean_libs/",
        "tensorrt_rtx_libs/",
    ] {
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
    assert!(
        out.join("net.0.weight.npy").is_file(),
        "{:?}",
        listing(&out)
    );
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
        assert!(
            stderr(&o).contains("hint: name a file `*.safetensors` or `*.npz`"),
            "{name}: {}",
            stderr(&o)
        );
        assert!(
            !d.path().join(name.trim_end_matches('/')).exists(),
            "{name} was written"
        );
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
    assert!(
        text.contains("built by       TensorRT-RTX 1.7.1.116"),
        "{text}"
    );
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
    assert!(v["tensorrt_problem"]
        .as_str()
        .unwrap()
        .contains("no usable TensorRT library"));

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
    let names: Vec<&str> = v["weights"]
        .as_array()
        .unwrap()
        .iter()
        .map(|w| w["name"].as_str().unwrap())
        .collect();
    assert_eq!(names.len(), 6, "{names:?}");
    assert!(names.contains(&"net.0.weight"));
}

// ---- item 5: outputs read back under their names ----

/// A Python with numpy (`TRT_DUMP_PYTHON`, else `python3`), or None (skipped loudly; with CI set,
/// a failure).
fn numpy_python() -> Option<String> {
    let py = std::env::var("TRT_DUMP_PYTHON")
        .ok()
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| "python3".into());
    let ok = std::process::Command::new(&py)
        .args(["-c", "import numpy"])
        .output()
        .is_ok_and(|o| o.status.success());
    if ok {
        return Some(py);
    }
    assert!(
        std::env::var_os("CI").is_none(),
        "CI is set but `{py}` cannot import numpy (set TRT_DUMP_PYTHON)"
    );
    eprintln!("SKIPPED numpy readback: `{py}` cannot import numpy (set TRT_DUMP_PYTHON)");
    None
}

/// `np.load(npz).files`, through Python.
fn numpy_files(py: &str, npz: &Path) -> Vec<String> {
    let o = std::process::Command::new(py)
        .args([
            "-c",
            "import json, sys, numpy as np; print(json.dumps(np.load(sys.argv[1]).files))",
        ])
        .arg(npz)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    serde_json::from_slice(&o.stdout).unwrap()
}

#[test]
fn npz_members_are_exactly_the_weight_names_and_the_index_is_the_comment() {
    use trt_dump::dtype::DataType;
    use trt_dump::writer::{self, PlannedTensor, ShapeSource, TensorView, WriterOptions};
    let d = tempfile::tempdir().unwrap();
    let out = d.path().join("w.npz");
    let names = [
        "onnx::MatMul_325",
        "model/layers.0/w",
        "名前",
        "Weight",
        "weight",
        "../../escape",
        "/abs",
        "a\nb",
    ];
    let plan: Vec<PlannedTensor> = names
        .iter()
        .map(|n| PlannedTensor {
            name: n.to_string(),
            dtype: DataType::Float,
            shape: vec![2],
            shape_source: ShapeSource::Flat,
        })
        .collect();
    let opts = WriterOptions {
        format: None,
        compress: true,
        force: false,
        metadata: Default::default(),
    };
    let mut sink = writer::open(&out, &opts, &plan).unwrap();
    for n in names {
        sink.add(&TensorView {
            name: n,
            dtype: DataType::Float,
            shape: &[2],
            data: &[0u8; 8],
        })
        .unwrap();
    }
    let written = sink.finish().unwrap();
    let z = zip::ZipArchive::new(std::fs::File::open(&out).unwrap()).unwrap();
    let members: Vec<String> = z.file_names().map(str::to_string).collect();
    assert_eq!(
        members.len(),
        names.len(),
        "only weights are members: {members:?}"
    );
    let index: serde_json::Value =
        serde_json::from_slice(&writer::read_index_comment(z.comment(), 1 << 20).unwrap()).unwrap();
    assert_eq!(index["format"], "trt-dump-npz");
    for (n, w) in names.iter().zip(&written.tensors) {
        let safe = !n.starts_with('/') && !n.contains("..") && !n.contains('\n');
        if safe {
            assert_eq!(w.stored_as, format!("{n}.npy"), "{n:?} kept verbatim");
        } else {
            assert!(
                w.stored_as.contains('~') && !w.stored_as.contains('/'),
                "{n:?} -> {}",
                w.stored_as
            );
        }
        let e = index["weights"]
            .as_array()
            .unwrap()
            .iter()
            .find(|e| e["name"] == *n)
            .unwrap();
        assert_eq!(
            e["file"],
            w.stored_as.as_str(),
            "the index records where {n:?} went"
        );
    }
    if let Some(py) = numpy_python() {
        let mut files = numpy_files(&py, &out);
        files.sort();
        let mut kept: Vec<String> = names
            .iter()
            .filter(|n| !n.starts_with('/') && !n.contains("..") && !n.contains('\n'))
            .map(|n| n.to_string())
            .collect();
        kept.sort();
        assert!(kept.iter().all(|k| files.contains(k)), "{files:?}");
        assert_eq!(files.len(), names.len(), "{files:?}");
    }
}

#[test]
fn verify_says_match_against_its_own_npz_and_npy_folder() {
    let d = tempfile::tempdir().unwrap();
    let e = fixture_copy(d.path(), true);
    let npz = d.path().join("w.npz");
    let dir = d.path().join("weights_dir");
    let st = d.path().join("w.safetensors");
    for out in [&npz, &dir, &st] {
        assert_exit(
            &no_trt(&[os("dump"), e.as_os_str(), os("-o"), out.as_os_str()]),
            0,
        );
    }
    if let Some(py) = numpy_python() {
        let mut files = numpy_files(&py, &npz);
        files.sort();
        let want = [
            "net.0.bias",
            "net.0.weight",
            "net.2.bias",
            "net.2.weight",
            "net.4.bias",
            "net.4.weight",
        ];
        assert_eq!(files, want);
    }
    let dir_slash = format!("{}/", dir.display());
    for against in [
        npz.as_os_str(),
        dir.as_os_str(),
        os(&dir_slash),
        st.as_os_str(),
    ] {
        let o = no_trt(&[os("verify"), e.as_os_str(), os("--against"), against]);
        assert_exit(&o, 0);
        assert!(
            stdout(&o).contains("verdict: MATCH: 6 of 6"),
            "{against:?}: {}{}",
            stdout(&o),
            stderr(&o)
        );
    }
    // The TensorRT version that built the engine, from its header, on the map path too.
    let bytes = std::fs::read(&st).unwrap();
    let (_, meta) = safetensors::SafeTensors::read_metadata(&bytes).unwrap();
    let meta = meta.metadata().clone().unwrap();
    assert_eq!(meta["engine_built_by"], "TensorRT-RTX 1.7.1.116");
    assert!(meta.contains_key("read_through_map"));
}

// ---- item 4: --json on every failure, one vocabulary, keys held to docs/json.md ----

/// docs/json.md's keys per command: (all keys, the optional ones).
fn documented_keys() -> std::collections::BTreeMap<String, (Vec<String>, Vec<String>)> {
    let doc = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/json.md"))
        .unwrap();
    let mut out = std::collections::BTreeMap::new();
    let mut current: Vec<String> = Vec::new();
    for line in doc.lines() {
        if let Some(h) = line.strip_prefix("## ") {
            current = h
                .split('`')
                .filter(|p| p.ends_with("--json"))
                .map(|p| p.trim_end_matches(" --json").to_string())
                .collect();
            continue;
        }
        let Some(rest) = line.strip_prefix("| `") else {
            continue;
        };
        let key = rest.split('`').next().unwrap();
        if key.contains('.') || current.is_empty() {
            continue;
        }
        for c in &current {
            let e: &mut (Vec<String>, Vec<String>) = out.entry(c.clone()).or_default();
            e.0.push(key.to_string());
            if line.contains("*optional*") {
                e.1.push(key.to_string());
            }
        }
    }
    out
}

#[track_caller]
fn assert_documented(cmd: &str, v: &serde_json::Value) {
    let docs = documented_keys();
    let (all, optional) = docs
        .get(cmd)
        .unwrap_or_else(|| panic!("docs/json.md has no `{cmd} --json` section"));
    let got: Vec<&String> = v.as_object().unwrap().keys().collect();
    for k in &got {
        assert!(
            all.contains(k),
            "`{cmd} --json` has `{k}`, not in docs/json.md"
        );
    }
    for k in all.iter().filter(|k| !optional.contains(k)) {
        assert!(
            got.contains(&k),
            "`{cmd} --json` lacks `{k}`, which docs/json.md lists"
        );
    }
    // An engine directory's layout is its own: `dump ENGINE_DIR` writes `trt-dump.dump-dir/1`.
    let layout = cmd.replace(" ENGINE_DIR", "-dir");
    assert_eq!(v["format"], format!("trt-dump.{layout}/1"), "{cmd}");
}

#[test]
fn every_commands_json_keys_are_the_documented_ones() {
    let d = tempfile::tempdir().unwrap();
    let e = fixture_copy(d.path(), true);
    let reference = fixture().join("weights.safetensors");
    let out = d.path().join("w.safetensors");
    let map = d.path().join("located.trtmap");
    let runs: Vec<(&str, Vec<&std::ffi::OsStr>)> = vec![
        ("info", vec![os("info"), e.as_os_str()]),
        ("list", vec![os("list"), e.as_os_str()]),
        (
            "dump",
            vec![os("dump"), e.as_os_str(), os("-o"), out.as_os_str()],
        ),
        (
            "verify",
            vec![
                os("verify"),
                e.as_os_str(),
                os("--against"),
                reference.as_os_str(),
            ],
        ),
        ("diff", vec![os("diff"), e.as_os_str(), e.as_os_str()]),
        (
            "locate",
            vec![
                os("locate"),
                e.as_os_str(),
                os("--reference"),
                reference.as_os_str(),
                os("-o"),
                map.as_os_str(),
            ],
        ),
    ];
    for (cmd, mut args) in runs {
        args.push(os("--json"));
        let o = no_trt(&args);
        assert_exit(&o, 0);
        assert_documented(cmd, &json(&o));
    }
    // verify and diff: the same verdict words.
    let o = no_trt(&[os("diff"), e.as_os_str(), e.as_os_str(), os("--json")]);
    assert_eq!(json(&o)["verdict"], "match");
    assert!(stderr(&o).contains("verdict: MATCH"), "{}", stderr(&o));
    // map: through the stand-in (it needs TensorRT).
    let Ok((lib, tool)) = standin() else {
        eprintln!("SKIPPED: `map --json` keys (no stand-in TensorRT library)");
        return;
    };
    let (engine, _) = sim_plan(&tool, d.path(), "tiny_mlp", "sim.engine", &[]);
    let m = d.path().join("sim.trtmap");
    let o = trt_dump()
        .arg("--trt-lib")
        .arg(&lib)
        .arg("map")
        .arg(&engine)
        .arg("-o")
        .arg(&m)
        .arg("--json")
        .output()
        .unwrap();
    assert_exit(&o, 0);
    assert_documented("map", &json(&o));

    // refit: one engine, refitted from its own dump; then with --names-from (its `names_from`
    // member), through the stand-in.
    let w = d.path().join("sim.safetensors");
    assert_exit(
        &trt_dump()
            .arg("--trt-lib")
            .arg(&lib)
            .arg("dump")
            .arg(&engine)
            .arg("-o")
            .arg(&w)
            .output()
            .unwrap(),
        0,
    );
    let refit = |out: &Path, extra: &[&Path]| {
        let mut c = trt_dump();
        c.arg("--trt-lib")
            .arg(&lib)
            .arg("refit")
            .arg(&engine)
            .arg("--weights")
            .arg(&w)
            .arg("-o")
            .arg(out)
            .arg("--json");
        for x in extra {
            c.arg(x);
        }
        c.output().unwrap()
    };
    let o = refit(&d.path().join("refit.engine"), &[]);
    assert_exit(&o, 0);
    let v = json(&o);
    assert_documented("refit", &v);
    assert!(v.get("names_from").is_none(), "{v}");
    let o = refit(
        &d.path().join("refit2.engine"),
        &[Path::new("--names-from"), &w],
    );
    assert_exit(&o, 0);
    let v = json(&o);
    assert_documented("refit", &v);
    let nf = v["names_from"]
        .as_object()
        .unwrap_or_else(|| panic!("no names_from: {v}"));
    let nf_keys: Vec<&str> = nf.keys().map(String::as_str).collect();
    assert_eq!(
        nf_keys,
        [
            "reference",
            "by_name",
            "by_value",
            "ambiguous",
            "unpaired",
            "no_values"
        ],
        "{v}"
    );
    let doc = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/json.md"))
        .unwrap();
    let documented = doc
        .lines()
        .find(|l| l.starts_with("| `names_from`") && l.contains("`{reference,"))
        .unwrap();
    for k in nf_keys {
        assert!(
            documented.contains(k),
            "names_from.{k} is not in docs/json.md's refit section"
        );
    }

    // Engine directories: dump ENGINE_DIR, then refit ENGINE_DIR from that checkpoint.
    let dir = d.path().join("engines");
    crate::cli_engine_dir::engine_dir(&tool, &dir, &crate::cli_engine_dir::TWO_RANKS, true);
    let ckpt = d.path().join("ckpt");
    let o = trt_dump()
        .arg("--trt-lib")
        .arg(&lib)
        .arg("dump")
        .arg(&dir)
        .arg("-o")
        .arg(&ckpt)
        .args(["--devices", "0", "--json"])
        .output()
        .unwrap();
    assert_exit(&o, 0);
    let v = json(&o);
    assert_documented("dump ENGINE_DIR", &v);
    for r in v["ranks"].as_array().unwrap() {
        let keys: Vec<&String> = r.as_object().unwrap().keys().collect();
        assert_eq!(keys, ["rank", "device", "managed_weights", "report"]);
        assert_documented("dump", &r["report"]);
    }
    let out = d.path().join("engines2");
    let o = trt_dump()
        .arg("--trt-lib")
        .arg(&lib)
        .arg("refit")
        .arg(&dir)
        .arg("--weights")
        .arg(&ckpt)
        .arg("-o")
        .arg(&out)
        .args(["--devices", "0", "--json"])
        .output()
        .unwrap();
    assert_exit(&o, 0);
    let v = json(&o);
    assert_documented("refit ENGINE_DIR", &v);
    for r in v["ranks"].as_array().unwrap() {
        let keys: Vec<&String> = r.as_object().unwrap().keys().collect();
        assert_eq!(keys, ["rank", "device", "weights", "managed_weights"]);
    }

    // selftest needs a TensorRT builder, which the stand-in is not: its failure is the error
    // object alone (its report's keys are held to the docs in src/selftest's unit tests).
    let o = trt_dump()
        .arg("--trt-lib")
        .arg(&lib)
        .arg("selftest")
        .arg("--json")
        .output()
        .unwrap();
    assert_exit(&o, 7);
    let v = json(&o);
    assert_eq!(
        v.as_object().unwrap().keys().collect::<Vec<_>>(),
        ["error"],
        "{v}"
    );
    assert_eq!(v["error"]["kind"], "tensorrt_not_found");
    assert!(
        documented_keys().contains_key("selftest"),
        "docs/json.md has no `selftest --json` section"
    );
}

#[test]
fn json_failures_print_one_error_object_usage_errors_included() {
    let d = tempfile::tempdir().unwrap();
    let e = fixture_copy(d.path(), true);
    let cut = d.path().join("cut.engine");
    std::fs::write(&cut, &std::fs::read(&e).unwrap()[..1000]).unwrap();
    let pt = d.path().join("w.pt");
    for (args, code, kind) in [
        (vec![os("dump"), os("--json")], 2, "usage"),
        (vec![os("list"), os("--bogus"), os("--json")], 2, "usage"),
        (
            vec![
                os("dump"),
                e.as_os_str(),
                os("-o"),
                pt.as_os_str(),
                os("--json"),
            ],
            2,
            "usage",
        ),
        (
            vec![os("list"), os("/nonexistent/m.engine"), os("--json")],
            3,
            "input_unreadable",
        ),
        (
            vec![os("info"), cut.as_os_str(), os("--json")],
            4,
            "not_an_engine",
        ),
        (
            vec![
                os("verify"),
                e.as_os_str(),
                os("--against"),
                os("/nonexistent.npz"),
                os("--json"),
            ],
            3,
            "input_unreadable",
        ),
        (
            vec![
                os("list"),
                e.as_os_str(),
                os("--map"),
                e.as_os_str(),
                os("--json"),
            ],
            14,
            "bad_map",
        ),
    ] {
        let o = no_trt(&args);
        assert_exit(&o, code);
        let v = json(&o);
        assert_eq!(
            v.as_object().unwrap().keys().collect::<Vec<_>>(),
            ["error"],
            "{args:?}"
        );
        let err = &v["error"];
        assert_eq!(
            err.as_object().unwrap().keys().collect::<Vec<_>>(),
            ["kind", "exit_code", "message", "hint"]
        );
        assert_eq!(err["kind"], kind, "{args:?}");
        assert_eq!(err["exit_code"], code);
        assert!(!err["message"].as_str().unwrap().is_empty());
    }
    // Without --json, stdout stays empty on failure.
    let o = no_trt(&[os("list"), os("/nonexistent/m.engine")]);
    assert!(o.stdout.is_empty());
}

/// A report made before the failure carries the same `error` member (here: a weight the engine
/// cannot give back: a weight-stripped plan, exit 11).
#[test]
fn a_report_made_before_the_failure_carries_the_error() {
    let (lib, tool) = standin_or_skip!();
    let d = tempfile::tempdir().unwrap();
    let (engine, truth) = sim_plan(&tool, d.path(), "tiny_mlp", "model.engine", &["--strip"]);
    assert!(
        truth.iter().any(|w| w.recovery != "exact"),
        "the plan should hold an unrecoverable weight"
    );
    let out = d.path().join("w.safetensors");
    let o = trt_dump()
        .arg("--trt-lib")
        .arg(&lib)
        .arg("dump")
        .arg(&engine)
        .arg("-o")
        .arg(&out)
        .arg("--json")
        .output()
        .unwrap();
    assert_exit(&o, 11);
    let v = json(&o);
    assert_eq!(v["format"], "trt-dump.dump/1");
    assert_eq!(v["error"]["kind"], "incomplete");
    assert_eq!(v["error"]["exit_code"], 11);
    assert!(v["totals"]["missing"].as_u64().unwrap() >= 1);
}
