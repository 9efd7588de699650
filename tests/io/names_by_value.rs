//! Issue 17, names by value (`cargo test --test io names_by_value::`), on the real TensorRT-RTX engines (no GPU: each engine is read through
//! a map that `locate` makes): `dump`/`list --names-from`, `verify`'s pairing (and `--no-pairing`),
//! `diff --names-from`, with a state dict made from bert_mini's ONNX model (its `onnx::MatMul_*`
//! weights renamed and transposed back, as `nn.Linear` holds them), fp16-rounded and transposed
//! pairs on tiny_mlp_fp16, and deliberately ambiguous references on the bundled tiny_mlp.
//!
//! The real fixtures live in `$CARGO_MANIFEST_DIR/../shared/fixtures/trt-rtx-1.7.1-h100`; tests
//! that need them skip loudly without them, and fail instead when `CI` is set.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::process::Output;

use assert_cmd::cargo::cargo_bin_cmd;
use half::f16;
use trt_dump::dtype::DataType;
use trt_dump::reference::{self, RefTensor};

fn shared(case: &str, file: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../shared/fixtures/trt-rtx-1.7.1-h100")
        .join(case)
        .join(file)
}

fn bundled(file: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fixtures/tiny_mlp")
        .join(file)
}

fn shared_or_skip() -> Option<()> {
    let dir = shared("bert_mini", "");
    if dir.is_dir() {
        return Some(());
    }
    assert!(
        std::env::var_os("CI").is_none(),
        "CI is set but the real fixtures are missing: {}",
        dir.display()
    );
    eprintln!("SKIPPED: real fixtures not found at {}", dir.display());
    None
}

/// The binary, with no TensorRT reachable: everything here runs through maps.
fn trt_dump() -> assert_cmd::Command {
    let mut c = cargo_bin_cmd!("trt-dump");
    c.env(
        "TRT_DUMP_TRT_LIB",
        "/nonexistent/trt-dump-tests/no-tensorrt-here",
    );
    c
}

fn out(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}
fn err(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

#[track_caller]
fn assert_exit(o: &Output, want: i32) {
    assert_eq!(
        o.status.code(),
        Some(want),
        "stdout:\n{}\nstderr:\n{}",
        out(o),
        err(o)
    );
}

/// A complete map of the reference tensors `locate` can place: where it cannot place some (bert_mini's
/// fused Q/K/V, constant LayerNorm parameters), the map is made again from a reference of only the
/// placed ones, so every command through it reads exactly what it claims to know.
fn locate(case: &str, reference: &str, map: &Path) {
    let o = trt_dump()
        .arg("locate")
        .arg(shared(case, "model.engine"))
        .arg("--reference")
        .arg(shared(case, reference))
        .arg("-o")
        .arg(map)
        .arg("--allow-missing")
        .output()
        .unwrap();
    assert_exit(&o, 0);
    let m = trt_dump::map::MapFile::from_bytes(&std::fs::read(map).unwrap()).unwrap();
    if m.header.is_complete() {
        return;
    }
    let unplaced: Vec<&str> = m.header.missing.iter().map(|w| w.name.as_str()).collect();
    let placed: Vec<RefTensor> = reference::load(&shared(case, reference))
        .unwrap()
        .into_iter()
        .filter(|t| !unplaced.contains(&t.name.as_str()))
        .collect();
    let placed_path = map.with_extension("placed.safetensors");
    write_safetensors(&placed_path, &placed);
    std::fs::remove_file(map).unwrap();
    let o = trt_dump()
        .arg("locate")
        .arg(shared(case, "model.engine"))
        .arg("--reference")
        .arg(&placed_path)
        .arg("-o")
        .arg(map)
        .output()
        .unwrap();
    assert_exit(&o, 0);
}

fn transpose(t: &RefTensor) -> RefTensor {
    let (r, c) = (t.shape[0] as usize, t.shape[1] as usize);
    let e = (t.dtype.bits() / 8) as usize;
    let mut data = vec![0u8; t.data.len()];
    for i in 0..r {
        for j in 0..c {
            data[(j * r + i) * e..][..e].copy_from_slice(&t.data[(i * c + j) * e..][..e]);
        }
    }
    RefTensor {
        name: t.name.clone(),
        dtype: t.dtype,
        shape: vec![t.shape[1], t.shape[0]],
        data,
    }
}

fn write_safetensors(path: &Path, tensors: &[RefTensor]) {
    let views: Vec<(String, safetensors::tensor::TensorView<'_>)> = tensors
        .iter()
        .map(|t| {
            let dtype = match t.dtype {
                DataType::Float => safetensors::Dtype::F32,
                DataType::Half => safetensors::Dtype::F16,
                d => panic!("{d} not used here"),
            };
            let shape = t.shape.iter().map(|&d| d as usize).collect();
            (
                t.name.clone(),
                safetensors::tensor::TensorView::new(dtype, shape, &t.data).unwrap(),
            )
        })
        .collect();
    std::fs::write(path, safetensors::tensor::serialize(views, None).unwrap()).unwrap();
}

struct St {
    tensors: BTreeMap<String, (Vec<usize>, Vec<u8>)>,
    metadata: HashMap<String, String>,
}

fn read_safetensors(path: &Path) -> St {
    let bytes = std::fs::read(path).unwrap();
    let (_, meta) = safetensors::SafeTensors::read_metadata(&bytes).unwrap();
    let st = safetensors::SafeTensors::deserialize(&bytes).unwrap();
    St {
        tensors: st
            .tensors()
            .into_iter()
            .map(|(n, v)| (n, (v.shape().to_vec(), v.data().to_vec())))
            .collect(),
        metadata: meta.metadata().clone().unwrap_or_default(),
    }
}

/// The "state dict" of bert_mini, made from its ONNX model: every `onnx::MatMul_N` (the exporter's
/// transposed copy of an `nn.Linear` weight) renamed `linear_N.weight` and transposed back to
/// `[out, in]`; everything else under its own name.
fn bert_state_dict(path: &Path) -> Vec<RefTensor> {
    let onnx = reference::load(&shared("bert_mini", "model.onnx")).unwrap();
    let sd: Vec<RefTensor> = onnx
        .iter()
        .map(|t| match t.name.strip_prefix("onnx::MatMul_") {
            Some(n) => RefTensor {
                name: format!("linear_{n}.weight"),
                ..transpose(t)
            },
            None => t.clone(),
        })
        .collect();
    write_safetensors(path, &sd);
    sd
}

/// The six `onnx::MatMul_*` weights that `locate` places in bert_mini (the others are fused Q/K/V).
const READABLE: [&str; 6] = ["325", "326", "327", "354", "355", "356"];

#[test]
fn bert_mini_dump_names_its_matmul_weights_after_the_state_dict() {
    if shared_or_skip().is_none() {
        return;
    }
    let d = tempfile::tempdir().unwrap();
    let map = d.path().join("bert.trtmap");
    locate("bert_mini", "model.onnx", &map);
    let sd_path = d.path().join("state_dict.safetensors");
    let sd = bert_state_dict(&sd_path);

    let o_path = d.path().join("w.safetensors");
    let o = trt_dump()
        .arg("dump")
        .arg(shared("bert_mini", "model.engine"))
        .arg("--map")
        .arg(&map)
        .arg("--names-from")
        .arg(&sd_path)
        .arg("-o")
        .arg(&o_path)
        .arg("--json")
        .output()
        .unwrap();
    assert_exit(&o, 0);
    for n in READABLE {
        assert!(
            err(&o).contains(&format!(
                "`onnx::MatMul_{n}` → `linear_{n}.weight` (transposed)"
            )),
            "{}",
            err(&o)
        );
    }
    let got = read_safetensors(&o_path);
    assert_eq!(got.tensors.len(), 9);
    for n in READABLE {
        let name = format!("linear_{n}.weight");
        let want = sd.iter().find(|t| t.name == name).unwrap();
        let (shape, data) = got
            .tensors
            .get(&name)
            .unwrap_or_else(|| panic!("{name} not in {:?}", got.tensors.keys()));
        assert_eq!(
            shape.iter().map(|&d| d as u64).collect::<Vec<_>>(),
            want.shape,
            "{name}: the state dict's shape"
        );
        assert!(
            *data == want.data,
            "{name}: written as the state dict holds it"
        );
        assert!(!got.tensors.contains_key(&format!("onnx::MatMul_{n}")));
    }
    // Weights the state dict names keep their names, and take its shapes.
    let (shape, _) = &got.tensors["bert.embeddings.word_embeddings.weight"];
    assert_eq!(shape, &vec![1000, 128]);
    // Listed in the metadata, so a user can see and undo it.
    assert!(got.metadata["names_from"].ends_with("state_dict.safetensors"));
    let paired: Vec<serde_json::Value> =
        serde_json::from_str(&got.metadata["paired_by_value"]).unwrap();
    assert_eq!(paired.len(), 6);
    assert!(paired.iter().any(|p| p["engine"] == "onnx::MatMul_326"
        && p["name"] == "linear_326.weight"
        && p["how"] == "transposed"));
    assert_eq!(got.metadata["pairing_ambiguous"], "[]");
    // And in --json.
    let rep: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(rep["names_from"]["by_value"].as_array().unwrap().len(), 6);
    assert_eq!(rep["names_from"]["by_name"], 3);

    // npz: the pairing is in the index.
    let npz = d.path().join("w.npz");
    let o = trt_dump()
        .arg("dump")
        .arg(shared("bert_mini", "model.engine"))
        .arg("--map")
        .arg(&map)
        .arg("--names-from")
        .arg(&sd_path)
        .arg("-o")
        .arg(&npz)
        .output()
        .unwrap();
    assert_exit(&o, 0);
    let names: Vec<String> = reference::load(&npz)
        .unwrap()
        .into_iter()
        .filter(|t| !t.name.starts_with("__"))
        .map(|t| t.name)
        .collect();
    assert!(
        names.contains(&"linear_355.weight".to_string()),
        "{names:?}"
    );
    let index = {
        // The index is the zip's comment (issue 11 item 5).
        let z = zip::ZipArchive::new(std::fs::File::open(&npz).unwrap()).unwrap();
        serde_json::from_slice::<serde_json::Value>(
            &trt_dump::writer::read_index_comment(z.comment(), 1 << 30).unwrap(),
        )
        .unwrap()
    };
    assert!(index["metadata"]["paired_by_value"]
        .as_str()
        .unwrap()
        .contains("onnx::MatMul_355"));
}

#[test]
fn bert_mini_verify_pairs_by_value_unless_told_not_to() {
    if shared_or_skip().is_none() {
        return;
    }
    let d = tempfile::tempdir().unwrap();
    let map = d.path().join("bert.trtmap");
    locate("bert_mini", "model.onnx", &map);
    let sd_path = d.path().join("state_dict.safetensors");
    bert_state_dict(&sd_path);
    let verify = |extra: &[&str]| {
        trt_dump()
            .arg("verify")
            .arg(shared("bert_mini", "model.engine"))
            .arg("--map")
            .arg(&map)
            .arg("--against")
            .arg(&sd_path)
            .args(extra)
            .output()
            .unwrap()
    };
    let o = verify(&[]);
    assert_exit(&o, 0);
    let s = out(&o);
    assert!(
        s.contains("verdict: MATCH: 9 of 9 engine weights equal the reference"),
        "{s}"
    );
    assert!(s.contains("6 paired by value"), "{s}");
    assert!(
        s.contains("onnx::MatMul_327  → linear_327.weight (transposed)"),
        "{s}"
    );

    let o = verify(&["--json"]);
    assert_exit(&o, 0);
    let r: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(r["pairing"]["by_value"].as_array().unwrap().len(), 6);
    let w = r["weights"]
        .as_array()
        .unwrap()
        .iter()
        .find(|w| w["name"] == "linear_354.weight")
        .unwrap();
    assert_eq!(w["status"], "exact");
    assert_eq!(w["shape"], serde_json::json!([128, 128]));

    // By name only: the six are ONLY-ENGINE, their state-dict tensors ONLY-REF.
    let o = verify(&["--no-pairing"]);
    assert_exit(&o, 1);
    let s = out(&o);
    assert!(s.contains("ONLY-ENGINE onnx::MatMul_325"), "{s}");
    assert!(s.contains("not in the reference: 6"), "{s}");

    // A tensor that differs does not pair: it still shows as a difference.
    let mut sd = reference::load(&sd_path).unwrap();
    let t = sd
        .iter_mut()
        .find(|t| t.name == "linear_326.weight")
        .unwrap();
    t.data[0] ^= 1;
    let changed = d.path().join("changed.safetensors");
    write_safetensors(&changed, &sd);
    let o = trt_dump()
        .arg("verify")
        .arg(shared("bert_mini", "model.engine"))
        .arg("--map")
        .arg(&map)
        .arg("--against")
        .arg(&changed)
        .output()
        .unwrap();
    assert_exit(&o, 1);
    let s = out(&o);
    assert!(s.contains("ONLY-ENGINE onnx::MatMul_326"), "{s}");
    assert!(s.contains("5 paired by value"), "{s}");
}

#[test]
fn bert_mini_list_and_a_npy_folder_reference() {
    if shared_or_skip().is_none() {
        return;
    }
    let d = tempfile::tempdir().unwrap();
    let map = d.path().join("bert.trtmap");
    locate("bert_mini", "model.onnx", &map);
    let sd_path = d.path().join("state_dict.safetensors");
    bert_state_dict(&sd_path);
    let o = trt_dump()
        .arg("list")
        .arg(shared("bert_mini", "model.engine"))
        .arg("--map")
        .arg(&map)
        .arg("--names-from")
        .arg(&sd_path)
        .arg("--json")
        .output()
        .unwrap();
    assert_exit(&o, 0);
    let r: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let w = r["weights"]
        .as_array()
        .unwrap()
        .iter()
        .find(|w| w["name"] == "linear_326.weight")
        .unwrap();
    assert_eq!(w["engine_name"], "onnx::MatMul_326");
    assert_eq!(w["paired"], "transposed");
    assert_eq!(w["shape"], serde_json::json!([512, 128]));
    let o = trt_dump()
        .arg("list")
        .arg(shared("bert_mini", "model.engine"))
        .arg("--map")
        .arg(&map)
        .arg("--names-from")
        .arg(&sd_path)
        .output()
        .unwrap();
    assert_exit(&o, 0);
    assert!(
        out(&o).contains("(engine: onnx::MatMul_326, transposed)"),
        "{}",
        out(&o)
    );

    // A folder of .npy files as the reference: the state dict written by `dump --format npy`
    // (names from its index.json) pairs the same way.
    let folder = d.path().join("sd_npy");
    let o = trt_dump()
        .arg("dump")
        .arg(shared("bert_mini", "model.engine"))
        .arg("--map")
        .arg(&map)
        .arg("--names-from")
        .arg(&sd_path)
        .arg("-o")
        .arg(&folder)
        .arg("--format")
        .arg("npy")
        .output()
        .unwrap();
    assert_exit(&o, 0);
    let loaded = reference::load_all(&folder).unwrap();
    assert_eq!(loaded.format, Some(reference::Format::NpyDir));
    assert!(loaded
        .tensors
        .iter()
        .any(|t| t.name == "linear_356.weight" && t.shape == [128, 512]));
    let o = trt_dump()
        .arg("verify")
        .arg(shared("bert_mini", "model.engine"))
        .arg("--map")
        .arg(&map)
        .arg("--against")
        .arg(&folder)
        .output()
        .unwrap();
    assert_exit(&o, 0);
    assert!(out(&o).contains("verdict: MATCH: 9 of 9"), "{}", out(&o));
    assert!(out(&o).contains("6 paired by value"), "{}", out(&o));
}

/// tiny_mlp_fp16's weights (float16 in the engine) against an fp32 checkpoint whose values round
/// to them: renamed, one transposed.
#[test]
fn fp16_engine_pairs_with_an_fp32_checkpoint_after_rounding_and_transposed() {
    if shared_or_skip().is_none() {
        return;
    }
    let d = tempfile::tempdir().unwrap();
    let map = d.path().join("fp16.trtmap");
    locate("tiny_mlp_fp16", "weights.safetensors", &map);
    let halves = reference::load(&shared("tiny_mlp_fp16", "weights.safetensors")).unwrap();
    // fp32 values a third of an fp16 ulp away from the fp16 ones: they round back to them.
    let widen = |t: &RefTensor| -> RefTensor {
        let data = t
            .data
            .chunks_exact(2)
            .flat_map(|c| {
                let h = f16::from_le_bytes([c[0], c[1]]);
                let up = f16::from_bits(h.to_bits() + 1).to_f32();
                let v = if h.is_finite() && up.is_finite() && h.to_f32() != 0.0 {
                    h.to_f32() + (up - h.to_f32()) / 3.0
                } else {
                    h.to_f32()
                };
                v.to_le_bytes()
            })
            .collect();
        RefTensor {
            name: format!("mlp.{}", t.name.replace("net.", "layer")),
            dtype: DataType::Float,
            shape: t.shape.clone(),
            data,
        }
    };
    let mut ckpt: Vec<RefTensor> = halves.iter().map(widen).collect();
    let i = ckpt
        .iter()
        .position(|t| t.name == "mlp.layer2.weight")
        .unwrap();
    ckpt[i] = transpose(&ckpt[i]);
    let ckpt_path = d.path().join("fp32.safetensors");
    write_safetensors(&ckpt_path, &ckpt);

    let o = trt_dump()
        .arg("verify")
        .arg(shared("tiny_mlp_fp16", "model.engine"))
        .arg("--map")
        .arg(&map)
        .arg("--against")
        .arg(&ckpt_path)
        .arg("--json")
        .output()
        .unwrap();
    assert_exit(&o, 0);
    let r: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let by_value = r["pairing"]["by_value"].as_array().unwrap();
    assert_eq!(by_value.len(), 6, "{by_value:?}");
    let how = |engine: &str| {
        by_value.iter().find(|p| p["engine"] == engine).unwrap()["how"]
            .as_str()
            .unwrap()
            .to_string()
    };
    assert_eq!(how("net.0.weight"), "rounded to float16");
    assert_eq!(how("net.2.weight"), "transposed, rounded to float16");
    assert_eq!(r["summary"]["exact_after_rounding"], 6);

    // dump writes the engine's fp16 values under the checkpoint's names, in its orientation.
    let o_path = d.path().join("w.safetensors");
    let o = trt_dump()
        .arg("dump")
        .arg(shared("tiny_mlp_fp16", "model.engine"))
        .arg("--map")
        .arg(&map)
        .arg("--names-from")
        .arg(&ckpt_path)
        .arg("-o")
        .arg(&o_path)
        .output()
        .unwrap();
    assert_exit(&o, 0);
    let got = read_safetensors(&o_path);
    let (shape, data) = &got.tensors["mlp.layer2.weight"];
    assert_eq!(shape, &vec![64, 64]);
    let want = transpose(halves.iter().find(|t| t.name == "net.2.weight").unwrap());
    assert!(*data == want.data);
}

/// Deliberately ambiguous references: the same values under two names, and a name the engine
/// already has given to another tensor's values.
#[test]
fn ambiguous_references_leave_engine_names_alone() {
    let d = tempfile::tempdir().unwrap();
    let weights = reference::load(&bundled("weights.safetensors")).unwrap();
    let get = |n: &str| weights.iter().find(|t| t.name == n).unwrap().clone();
    let ckpt = vec![
        RefTensor {
            name: "first.bias".into(),
            ..get("net.0.bias")
        },
        RefTensor {
            name: "again.bias".into(),
            ..get("net.0.bias")
        },
        // net.2.weight's name, holding net.4.weight's values: the name is taken, by name.
        RefTensor {
            name: "net.2.weight".into(),
            ..get("net.4.weight")
        },
        RefTensor {
            name: "head.weight".into(),
            ..get("net.4.weight")
        },
        RefTensor {
            name: "fc.weight".into(),
            ..get("net.0.weight")
        },
    ];
    let ckpt_path = d.path().join("ckpt.safetensors");
    write_safetensors(&ckpt_path, &ckpt);
    let o_path = d.path().join("w.safetensors");
    // The bundled engine has its sidecar map: no GPU needed.
    let o = trt_dump()
        .arg("dump")
        .arg(bundled("model.engine"))
        .arg("--names-from")
        .arg(&ckpt_path)
        .arg("-o")
        .arg(&o_path)
        .arg("--json")
        .output()
        .unwrap();
    assert_exit(&o, 0);
    assert!(
        err(&o).contains(
            "`net.0.bias` keeps its engine name: its values match several reference tensors"
        ),
        "{}",
        err(&o)
    );
    let got = read_safetensors(&o_path);
    let names: Vec<&String> = got.tensors.keys().collect();
    assert_eq!(
        names,
        [
            "fc.weight",
            "head.weight",
            "net.0.bias",
            "net.2.bias",
            "net.2.weight",
            "net.4.bias"
        ]
    );
    // net.2.weight kept its name (and its own values: no tensor took its place).
    assert!(got.tensors["net.2.weight"].1 == get("net.2.weight").data);
    let amb: Vec<serde_json::Value> =
        serde_json::from_str(&got.metadata["pairing_ambiguous"]).unwrap();
    assert_eq!(amb.len(), 1);
    assert_eq!(amb[0]["engine"], "net.0.bias");
    assert_eq!(
        amb[0]["candidates"],
        serde_json::json!(["again.bias", "first.bias"])
    );
    let rep: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(rep["names_from"]["ambiguous"][0]["engine"], "net.0.bias");

    // verify: net.0.bias stays unpaired, so it is a difference; net.2.weight differs by name.
    let o = trt_dump()
        .arg("verify")
        .arg(bundled("model.engine"))
        .arg("--against")
        .arg(&ckpt_path)
        .output()
        .unwrap();
    assert_exit(&o, 1);
    let s = out(&o);
    assert!(s.contains("AMBIGUOUS  net.0.bias"), "{s}");
    assert!(s.contains("ONLY-ENGINE net.0.bias"), "{s}");
    assert!(s.contains("COUNT      net.2.weight"), "{s}");
}

#[test]
fn diff_reports_both_engines_under_checkpoint_names() {
    let d = tempfile::tempdir().unwrap();
    let weights = reference::load(&bundled("weights.safetensors")).unwrap();
    let ckpt: Vec<RefTensor> = weights
        .iter()
        .map(|t| RefTensor {
            name: format!("model.{}", t.name),
            ..if t.shape.len() == 2 {
                transpose(t)
            } else {
                t.clone()
            }
        })
        .collect();
    let ckpt_path = d.path().join("ckpt.safetensors");
    write_safetensors(&ckpt_path, &ckpt);
    let copy = d.path().join("copy.engine");
    std::fs::copy(bundled("model.engine"), &copy).unwrap();
    let o = trt_dump()
        .arg("diff")
        .arg(bundled("model.engine"))
        .arg(&copy)
        .arg("--map-b")
        .arg(bundled("model.engine.trtmap"))
        .arg("--names-from")
        .arg(&ckpt_path)
        .args(["--json", "-v"])
        .output()
        .unwrap();
    assert_exit(&o, 0);
    let r: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(r["verdict"], "match");
    let names: Vec<&str> = r["weights"]
        .as_array()
        .unwrap()
        .iter()
        .map(|w| w["name"].as_str().unwrap())
        .collect();
    assert!(
        names.iter().all(|n| n.starts_with("model.net.")),
        "{names:?}"
    );
    assert_eq!(
        r["names_from"]["a"]["by_value"].as_array().unwrap().len(),
        6
    );
    let by_value = r["names_from"]["a"]["by_value"].as_array().unwrap();
    let how = |e: &str| by_value.iter().find(|p| p["engine"] == e).unwrap()["how"].clone();
    assert_eq!(how("net.0.weight"), "transposed");
    assert_eq!(how("net.0.bias"), "exact");
}

#[test]
fn bert_mini_view_shows_checkpoint_names_and_lists_the_pairings() {
    if shared_or_skip().is_none() {
        return;
    }
    let d = tempfile::tempdir().unwrap();
    let map = d.path().join("bert.trtmap");
    locate("bert_mini", "model.onnx", &map);
    let sd_path = d.path().join("state_dict.safetensors");
    bert_state_dict(&sd_path);
    let page = d.path().join("bert.html");
    let o = trt_dump()
        .arg("view")
        .arg(shared("bert_mini", "model.engine"))
        .arg("--map")
        .arg(&map)
        .arg("--names-from")
        .arg(&sd_path)
        .arg("-o")
        .arg(&page)
        .output()
        .unwrap();
    assert_exit(&o, 0);
    assert!(
        err(&o).contains("`onnx::MatMul_355` → `linear_355.weight` (transposed)"),
        "{}",
        err(&o)
    );
    let html = std::fs::read_to_string(&page).unwrap();
    assert!(
        html.contains("6 weight(s) paired by value, 0 ambiguous"),
        "summary row"
    );
    assert!(html
        .contains("<code>onnx::MatMul_355</code> → <code>linear_355.weight</code> (transposed)"));
    // The table's data names the weight after the checkpoint.
    assert!(html.contains("\"linear_355.weight\""));
}
