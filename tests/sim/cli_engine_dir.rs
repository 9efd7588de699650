//! TensorRT-LLM engine directories end to end: the real binary on a two-rank directory of simulator
//! engines (written by `sim-plan`, with a trtllm-build style config.json), through the stand-in
//! TensorRT library. Ranks run on two "GPUs" (`--devices 0,1`): without a CUDA driver the stand-in
//! has no devices to tell apart, so what is checked is that each rank gets its own worker and
//! device, and that the outputs are right.

use crate::cli_support;

use std::path::{Path, PathBuf};

use cli_support::*;

/// A trtllm-build style config.json for `world_size` ranks.
pub fn engine_config(world_size: usize, use_refit: bool) -> serde_json::Value {
    serde_json::json!({
        "version": "0.12.0",
        "pretrained_config": {
            "architecture": "LlamaForCausalLM",
            "dtype": "float32",
            "num_hidden_layers": 2,
            "mapping": {"world_size": world_size, "tp_size": world_size, "pp_size": 1}
        },
        "build_config": {"max_batch_size": 1, "use_refit": use_refit, "use_strip_plan": false, "plugin_config": {}}
    })
}

/// `dir/` with config.json and rank{N}.engine for each model (odd ranks stored as fp16, so the
/// ranks' files differ); returns each rank's truth.
pub fn engine_dir(
    tool: &Path,
    dir: &Path,
    models: &[&str],
    use_refit: bool,
) -> Vec<Vec<TruthWeight>> {
    std::fs::create_dir_all(dir).unwrap();
    std::fs::write(
        dir.join("config.json"),
        serde_json::to_vec_pretty(&engine_config(models.len(), use_refit)).unwrap(),
    )
    .unwrap();
    let mut truths = Vec::new();
    for (n, m) in models.iter().enumerate() {
        let (_, truth) = sim_plan(tool, dir, m, &format!("rank{n}.engine"), storage(n));
        std::fs::remove_file(dir.join(format!("rank{n}.engine.truth.json"))).unwrap();
        truths.push(truth);
    }
    truths
}

pub const TWO_RANKS: [&str; 2] = ["tiny_mlp", "tiny_mlp"];

pub fn storage(rank: usize) -> &'static [&'static str] {
    if rank % 2 == 1 {
        &["--storage", "fp16"]
    } else {
        &[]
    }
}

fn dump_dir(lib: &Path, input: &Path, out: &Path, args: &[&str]) -> std::process::Output {
    trt_dump()
        .arg("--trt-lib")
        .arg(lib)
        .arg("dump")
        .arg(input)
        .arg("-o")
        .arg(out)
        .args(args)
        .output()
        .unwrap()
}

fn listing(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    v.sort();
    v
}

fn leftovers(parent: &Path) -> Vec<PathBuf> {
    std::fs::read_dir(parent)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| {
            p.file_name()
                .unwrap()
                .to_string_lossy()
                .starts_with(".trt-dump-")
        })
        .collect()
}

#[test]
fn two_ranks_dump_to_a_checkpoint_on_two_devices() {
    let (lib, tool) = standin_or_skip!();
    let d = tempfile::tempdir().unwrap();
    let input = d.path().join("engines");
    let truths = engine_dir(&tool, &input, &TWO_RANKS, true);
    let out = d.path().join("ckpt");
    let o = dump_dir(&lib, &input, &out, &["--devices", "0,1", "--json", "-v"]);
    assert_exit(&o, 0);
    assert_eq!(
        listing(&out),
        ["config.json", "rank0.safetensors", "rank1.safetensors"]
    );
    for (n, truth) in truths.iter().enumerate() {
        assert_equals_truth(
            &read_safetensors(&out.join(format!("rank{n}.safetensors"))),
            truth,
        );
    }
    // The checkpoint config is the engine config's pretrained_config.
    let cfg: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out.join("config.json")).unwrap()).unwrap();
    assert_eq!(cfg, engine_config(2, true)["pretrained_config"]);
    // One rank per device.
    let r: serde_json::Value = serde_json::from_slice(&o.stdout).expect("one JSON document");
    assert_eq!(r["world_size"], 2);
    let placed: Vec<(u64, u64)> = r["ranks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| (x["rank"].as_u64().unwrap(), x["device"].as_u64().unwrap()))
        .collect();
    assert_eq!(placed, [(0, 0), (1, 1)]);
    let err = stderr(&o);
    assert!(
        err.contains("rank 0: ") && err.contains("on GPU 0") && err.contains("on GPU 1"),
        "{err}"
    );
    assert!(leftovers(d.path()).is_empty());
}

#[test]
fn more_ranks_than_devices_queue_on_one_device() {
    let (lib, tool) = standin_or_skip!();
    let d = tempfile::tempdir().unwrap();
    let input = d.path().join("engines");
    let truths = engine_dir(&tool, &input, &["tiny_mlp", "tiny_mlp", "tiny_mlp"], true);
    let out = d.path().join("ckpt");
    let o = dump_dir(&lib, &input, &out, &["--devices", "0", "--json"]);
    assert_exit(&o, 0);
    for (n, truth) in truths.iter().enumerate() {
        assert_equals_truth(
            &read_safetensors(&out.join(format!("rank{n}.safetensors"))),
            truth,
        );
    }
    let r: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert!(r["ranks"]
        .as_array()
        .unwrap()
        .iter()
        .all(|x| x["device"] == 0));
}

/// Writes `dir/rank{rank}_managed_weights.safetensors` holding `lm_head.lora_a`, F32 [2, 2];
/// returns its bytes.
fn managed_file(dir: &Path, rank: usize) -> Vec<u8> {
    let values: Vec<u8> = [1.5f32, -2.0, 0.25, 8.0]
        .iter()
        .flat_map(|x| x.to_le_bytes())
        .collect();
    let view =
        safetensors::tensor::TensorView::new(safetensors::Dtype::F32, vec![2, 2], &values).unwrap();
    let bytes = safetensors::serialize([("lm_head.lora_a", view)], None).unwrap();
    std::fs::write(
        dir.join(format!("rank{rank}_managed_weights.safetensors")),
        bytes,
    )
    .unwrap();
    values
}

#[test]
fn managed_weights_are_merged_and_marked() {
    let (lib, tool) = standin_or_skip!();
    let d = tempfile::tempdir().unwrap();
    let input = d.path().join("engines");
    let truths = engine_dir(&tool, &input, &TWO_RANKS, true);
    let values = managed_file(&input, 1);
    let out = d.path().join("ckpt");
    let o = dump_dir(&lib, &input, &out, &["--devices", "0,1"]);
    assert_exit(&o, 0);
    let r1 = out.join("rank1.safetensors");
    let mut got = read_safetensors(&r1);
    let lora = got
        .remove("lm_head.lora_a")
        .expect("the managed weight is in rank 1's file");
    assert_eq!(
        (lora.dtype.as_str(), lora.shape.as_slice(), &lora.data),
        ("F32", &[2usize, 2][..], &values)
    );
    assert_equals_truth(&got, &truths[1]);
    let bytes = std::fs::read(&r1).unwrap();
    let (_, meta) = safetensors::SafeTensors::read_metadata(&bytes).unwrap();
    let meta = meta.metadata().clone().unwrap();
    assert_eq!(
        meta["tensorrt_llm.managed_weights"],
        r#"["lm_head.lora_a"]"#
    );
    assert_eq!(meta["tensorrt_llm.rank"], "1");
    // The same record of origin as a single engine's dump (one helper writes both).
    for key in [
        "source_engine_sha256",
        "engine_built_by",
        "proof",
        "stored_dtypes",
    ] {
        assert!(
            meta.contains_key(key),
            "rank1.safetensors lacks `{key}`: {meta:?}"
        );
    }
    let r0 = std::fs::read(out.join("rank0.safetensors")).unwrap();
    let (_, meta0) = safetensors::SafeTensors::read_metadata(&r0).unwrap();
    assert_eq!(
        meta0.metadata().clone().unwrap()["tensorrt_llm.managed_weights"],
        "[]"
    );
}

#[test]
fn one_failing_rank_fails_the_run_and_writes_nothing() {
    let (lib, tool) = standin_or_skip!();
    let d = tempfile::tempdir().unwrap();
    let input = d.path().join("engines");
    engine_dir(&tool, &input, &TWO_RANKS, true);
    // TensorRT refuses one of rank 1's weights.
    sim_plan(
        &tool,
        &input,
        TWO_RANKS[1],
        "rank1.engine",
        &["--storage", "fp16", "--reject-weight", "1"],
    );
    std::fs::remove_file(input.join("rank1.engine.truth.json")).unwrap();
    let out = d.path().join("ckpt");
    let o = dump_dir(&lib, &input, &out, &["--devices", "0,1"]);
    assert_exit(&o, ErrorKind::TrtRefused.exit_code() as i32);
    let err = stderr(&o);
    assert!(
        err.contains("rank 1 (") && err.contains("nothing was written"),
        "{err}"
    );
    assert!(!out.exists(), "no output");
    assert!(
        leftovers(d.path()).is_empty(),
        "no temporaries: {:?}",
        leftovers(d.path())
    );
}

#[test]
fn engines_built_without_use_refit_exit_6_with_the_trtllm_hint() {
    let (lib, tool) = standin_or_skip!();
    let d = tempfile::tempdir().unwrap();
    let input = d.path().join("engines");
    engine_dir(&tool, &input, &TWO_RANKS, false);
    let out = d.path().join("ckpt");
    let o = dump_dir(&lib, &input, &out, &[]);
    assert_exit(&o, 6);
    assert!(
        stderr(&o).contains("trtllm-build --use_refit") && stderr(&o).contains("--strip_plan"),
        "{}",
        stderr(&o)
    );
    assert!(!out.exists());
    // The config does not say, TensorRT does.
    let input2 = d.path().join("engines2");
    engine_dir(&tool, &input2, &TWO_RANKS, true);
    let mut cfg = engine_config(2, true);
    cfg["build_config"] = serde_json::json!({});
    std::fs::write(
        input2.join("config.json"),
        serde_json::to_vec(&cfg).unwrap(),
    )
    .unwrap();
    sim_plan(
        &tool,
        &input2,
        TWO_RANKS[0],
        "rank0.engine",
        &["--not-refittable"],
    );
    let o = dump_dir(&lib, &input2, &out, &["--devices", "0,1"]);
    assert_exit(&o, 6);
    assert!(
        stderr(&o).contains("rank 0 (") && stderr(&o).contains("trtllm-build --use_refit"),
        "{}",
        stderr(&o)
    );
    assert!(!out.exists());
}

#[test]
fn bad_directories_are_input_errors_before_any_tensorrt() {
    let d = tempfile::tempdir().unwrap();
    let input = d.path().join("engines");
    std::fs::create_dir(&input).unwrap();
    let out = d.path().join("ckpt");
    // No TensorRT reachable: these fail on the directory alone.
    let o = trt_dump()
        .arg("dump")
        .arg(&input)
        .arg("-o")
        .arg(&out)
        .output()
        .unwrap();
    assert_exit(&o, 3);
    assert!(stderr(&o).contains("no config.json"), "{}", stderr(&o));
    std::fs::write(
        input.join("config.json"),
        serde_json::to_vec(&engine_config(2, true)).unwrap(),
    )
    .unwrap();
    std::fs::write(input.join("rank0.engine"), b"x").unwrap();
    let o = trt_dump()
        .arg("dump")
        .arg(&input)
        .arg("-o")
        .arg(&out)
        .output()
        .unwrap();
    assert_exit(&o, 3);
    assert!(
        stderr(&o).contains("world_size 2") && stderr(&o).contains("rank1.engine is missing"),
        "{}",
        stderr(&o)
    );
    std::fs::write(input.join("rank1.engine"), b"x").unwrap();
    let o = trt_dump()
        .arg("dump")
        .arg(&input)
        .arg("-o")
        .arg(&out)
        .arg("--format")
        .arg("npz")
        .output()
        .unwrap();
    assert_exit(&o, 2);
    // The input itself is never an output, even with --force.
    let o = trt_dump()
        .arg("dump")
        .arg(&input)
        .arg("-o")
        .arg(&input)
        .arg("--force")
        .output()
        .unwrap();
    assert_exit(&o, 2);
    assert_eq!(
        listing(&input),
        ["config.json", "rank0.engine", "rank1.engine"]
    );
    // --devices is for directories only.
    let o = trt_dump()
        .arg("dump")
        .arg(input.join("rank0.engine"))
        .arg("-o")
        .arg(d.path().join("w.safetensors"))
        .args(["--devices", "0"])
        .output()
        .unwrap();
    assert_exit(&o, 2);
}

#[test]
fn force_replaces_a_checkpoint_whole_and_nothing_else() {
    let (lib, tool) = standin_or_skip!();
    let d = tempfile::tempdir().unwrap();
    let input = d.path().join("engines");
    engine_dir(&tool, &input, &TWO_RANKS, true);
    let out = d.path().join("ckpt");
    std::fs::create_dir(&out).unwrap();
    std::fs::write(out.join("config.json"), b"{}").unwrap();
    std::fs::write(out.join("rank5.safetensors"), b"old").unwrap();
    assert_exit(&dump_dir(&lib, &input, &out, &[]), 13);
    assert_exit(&dump_dir(&lib, &input, &out, &["--force"]), 0);
    assert_eq!(
        listing(&out),
        ["config.json", "rank0.safetensors", "rank1.safetensors"],
        "replaced whole"
    );
    // A folder that is not a checkpoint is never deleted.
    let other = d.path().join("thesis");
    std::fs::create_dir(&other).unwrap();
    std::fs::write(other.join("thesis.tex"), b"precious").unwrap();
    let o = dump_dir(&lib, &input, &other, &["--force"]);
    assert_exit(&o, 13);
    assert_eq!(
        std::fs::read(other.join("thesis.tex")).unwrap(),
        b"precious"
    );
}

/// Rewrites `path` with the first element of tensor `name` (F32 or F16; else its first tensor by
/// name) set to `value`, metadata kept; returns the tensor's name.
fn edit_value(path: &Path, name: Option<&str>, value: f32) -> String {
    let bytes = std::fs::read(path).unwrap();
    let (_, meta) = safetensors::SafeTensors::read_metadata(&bytes).unwrap();
    let st = safetensors::SafeTensors::deserialize(&bytes).unwrap();
    let mut tensors: Vec<(String, safetensors::Dtype, Vec<usize>, Vec<u8>)> = st
        .tensors()
        .into_iter()
        .map(|(n, v)| (n, v.dtype(), v.shape().to_vec(), v.data().to_vec()))
        .collect();
    tensors.sort_by(|a, b| a.0.cmp(&b.0));
    let t = tensors
        .iter_mut()
        .find(|t| name.is_none_or(|n| n == t.0))
        .unwrap();
    match t.1 {
        safetensors::Dtype::F32 => t.3[..4].copy_from_slice(&value.to_le_bytes()),
        safetensors::Dtype::F16 => {
            t.3[..2].copy_from_slice(&half::f16::from_f32(value).to_le_bytes())
        }
        other => panic!("edit_value: {other:?}"),
    }
    let name = t.0.clone();
    let views: Vec<(String, safetensors::tensor::TensorView<'_>)> = tensors
        .iter()
        .map(|(n, d, s, b)| {
            (
                n.clone(),
                safetensors::tensor::TensorView::new(*d, s.clone(), b).unwrap(),
            )
        })
        .collect();
    let out = safetensors::serialize(views, meta.metadata().clone()).unwrap();
    std::fs::write(path, out).unwrap();
    name
}

fn refit_dir(
    lib: &Path,
    input: &Path,
    weights: &Path,
    out: &Path,
    args: &[&str],
) -> std::process::Output {
    trt_dump()
        .arg("--trt-lib")
        .arg(lib)
        .arg("refit")
        .arg(input)
        .arg("--weights")
        .arg(weights)
        .arg("-o")
        .arg(out)
        .args(args)
        .output()
        .unwrap()
}

#[test]
fn two_ranks_round_trip_dump_edit_refit_dump_on_two_devices() {
    let (lib, tool) = standin_or_skip!();
    let d = tempfile::tempdir().unwrap();
    let input = d.path().join("engines");
    let truths = engine_dir(&tool, &input, &TWO_RANKS, true);
    let managed = managed_file(&input, 1);
    let ckpt = d.path().join("ckpt");
    assert_exit(&dump_dir(&lib, &input, &ckpt, &["--devices", "0,1"]), 0);
    // Edit both ranks (rank 1's weights are float16) and the managed weight.
    let edited: Vec<String> = (0..2)
        .map(|n| {
            let w = &truths[n][0];
            edit_value(
                &ckpt.join(format!("rank{n}.safetensors")),
                Some(&w.name),
                0.5,
            )
        })
        .collect();
    edit_value(&ckpt.join("rank1.safetensors"), Some("lm_head.lora_a"), 7.0);
    let before = read_safetensors(&ckpt.join("rank0.safetensors"));
    assert_eq!(&before[&edited[0]].data[..4], &0.5f32.to_le_bytes());

    let out = d.path().join("engines2");
    let o = refit_dir(&lib, &input, &ckpt, &out, &["--devices", "0,1", "--json"]);
    assert_exit(&o, 0);
    // The managed weight in rank 1's checkpoint is an input, not an engine weight: no warning.
    let err = stderr(&o);
    assert!(!err.contains("match no engine weight"), "{err}");
    // Each rank's message names its final path, not the staging folder's.
    for n in 0..2 {
        let final_path = out.join(format!("rank{n}.engine"));
        assert!(
            err.contains(&format!("wrote `{}`", final_path.display())),
            "{err}"
        );
    }
    assert_eq!(
        listing(&out),
        [
            "config.json",
            "rank0.engine",
            "rank1.engine",
            "rank1_managed_weights.safetensors"
        ]
    );
    assert_eq!(
        std::fs::read(out.join("config.json")).unwrap(),
        std::fs::read(input.join("config.json")).unwrap(),
        "the input's config.json"
    );
    let r: serde_json::Value = serde_json::from_slice(&o.stdout).expect("one JSON document");
    let placed: Vec<(u64, u64)> = r["ranks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| (x["rank"].as_u64().unwrap(), x["device"].as_u64().unwrap()))
        .collect();
    assert_eq!(placed, [(0, 0), (1, 1)]);
    // The managed weights file carries the checkpoint's values (edited or not) for its tensors.
    let m = read_safetensors(&out.join("rank1_managed_weights.safetensors"));
    assert_eq!(m.keys().collect::<Vec<_>>(), ["lm_head.lora_a"]);
    assert_eq!(
        m["lm_head.lora_a"],
        read_safetensors(&ckpt.join("rank1.safetensors"))["lm_head.lora_a"]
    );
    assert_eq!(m["lm_head.lora_a"].shape, [2, 2]);
    assert_eq!(
        m["lm_head.lora_a"].data[..4],
        7.0f32.to_le_bytes(),
        "the edit reached the managed weights"
    );
    assert_eq!(m["lm_head.lora_a"].data[4..], managed[4..]);

    // Dumping the refitted directory gives the edited checkpoint back, rank for rank.
    let ckpt2 = d.path().join("ckpt2");
    assert_exit(&dump_dir(&lib, &out, &ckpt2, &["--devices", "0,1"]), 0);
    for n in 0..2 {
        let want = read_safetensors(&ckpt.join(format!("rank{n}.safetensors")));
        let got = read_safetensors(&ckpt2.join(format!("rank{n}.safetensors")));
        assert_eq!(got, want, "rank {n}");
        let half = half::f16::from_f32(0.5).to_le_bytes();
        let want: &[u8] = if n == 0 { &0.5f32.to_le_bytes() } else { &half };
        assert_eq!(
            &got[&edited[n]].data[..want.len()],
            want,
            "rank {n}: the edit came back"
        );
    }
    // The input is untouched.
    assert_eq!(
        listing(&input),
        [
            "config.json",
            "rank0.engine",
            "rank1.engine",
            "rank1_managed_weights.safetensors"
        ]
    );
    assert!(leftovers(d.path()).is_empty());
}

/// Adds an F32 `[2]` tensor `name` to the safetensors file at `path`, keeping its metadata.
fn add_tensor(path: &Path, name: &str) {
    let bytes = std::fs::read(path).unwrap();
    let (_, meta) = safetensors::SafeTensors::read_metadata(&bytes).unwrap();
    let st = safetensors::SafeTensors::deserialize(&bytes).unwrap();
    let mut tensors: Vec<(String, safetensors::Dtype, Vec<usize>, Vec<u8>)> = st
        .tensors()
        .into_iter()
        .map(|(n, v)| (n, v.dtype(), v.shape().to_vec(), v.data().to_vec()))
        .collect();
    tensors.push((
        name.to_string(),
        safetensors::Dtype::F32,
        vec![2],
        [1.0f32, 2.0].iter().flat_map(|x| x.to_le_bytes()).collect(),
    ));
    let views: Vec<(String, safetensors::tensor::TensorView<'_>)> = tensors
        .iter()
        .map(|(n, d, s, b)| {
            (
                n.clone(),
                safetensors::tensor::TensorView::new(*d, s.clone(), b).unwrap(),
            )
        })
        .collect();
    std::fs::write(
        path,
        safetensors::serialize(views, meta.metadata().clone()).unwrap(),
    )
    .unwrap();
}

#[test]
fn refit_warns_of_stray_tensors_but_not_of_managed_weights() {
    let (lib, tool) = standin_or_skip!();
    let d = tempfile::tempdir().unwrap();
    let input = d.path().join("engines");
    engine_dir(&tool, &input, &TWO_RANKS, true);
    managed_file(&input, 1);
    let ckpt = d.path().join("ckpt");
    assert_exit(&dump_dir(&lib, &input, &ckpt, &["--devices", "0,1"]), 0);
    add_tensor(&ckpt.join("rank1.safetensors"), "stray.extra");
    let out = d.path().join("engines2");
    let o = refit_dir(&lib, &input, &ckpt, &out, &["--devices", "0,1"]);
    assert_exit(&o, 0);
    let err = stderr(&o);
    let warning: Vec<&str> = err
        .lines()
        .filter(|l| l.contains("match no engine weight"))
        .collect();
    assert_eq!(warning.len(), 1, "{err}");
    assert!(
        warning[0].contains("1 tensor(s)") && warning[0].contains("stray.extra"),
        "{err}"
    );
    assert!(!warning[0].contains("lm_head.lora_a"), "{err}");
}

#[test]
fn refit_fails_whole_when_one_rank_does_not_fit() {
    let (lib, tool) = standin_or_skip!();
    let d = tempfile::tempdir().unwrap();
    let input = d.path().join("engines");
    engine_dir(&tool, &input, &TWO_RANKS, true);
    let ckpt = d.path().join("ckpt");
    assert_exit(&dump_dir(&lib, &input, &ckpt, &[]), 0);
    // Rank 1's file holds one tensor with another element count.
    let p = ckpt.join("rank1.safetensors");
    let bytes = std::fs::read(&p).unwrap();
    let st = safetensors::SafeTensors::deserialize(&bytes).unwrap();
    let mut tensors: Vec<(String, safetensors::Dtype, Vec<usize>, Vec<u8>)> = st
        .tensors()
        .into_iter()
        .map(|(n, v)| (n, v.dtype(), v.shape().to_vec(), v.data().to_vec()))
        .collect();
    tensors.sort_by(|a, b| a.0.cmp(&b.0));
    let elem = tensors[0].3.len() / tensors[0].2.iter().product::<usize>();
    tensors[0].2 = vec![1];
    tensors[0].3.truncate(elem);
    let views: Vec<(String, safetensors::tensor::TensorView<'_>)> = tensors
        .iter()
        .map(|(n, dt, s, b)| {
            (
                n.clone(),
                safetensors::tensor::TensorView::new(*dt, s.clone(), b).unwrap(),
            )
        })
        .collect();
    std::fs::write(&p, safetensors::serialize(views, None).unwrap()).unwrap();
    let out = d.path().join("engines2");
    let o = refit_dir(&lib, &input, &ckpt, &out, &["--devices", "0,1"]);
    assert_exit(&o, ErrorKind::WeightsMismatch.exit_code() as i32);
    assert!(
        stderr(&o).contains("rank 1 (") && stderr(&o).contains("nothing was written"),
        "{}",
        stderr(&o)
    );
    assert!(!out.exists());
    assert!(leftovers(d.path()).is_empty());
    // A checkpoint of another world size is refused before any work.
    std::fs::remove_file(&p).unwrap();
    let mut cfg: serde_json::Value =
        serde_json::from_slice(&std::fs::read(ckpt.join("config.json")).unwrap()).unwrap();
    cfg["mapping"]["world_size"] = 1.into();
    cfg["mapping"]["tp_size"] = 1.into();
    std::fs::write(ckpt.join("config.json"), serde_json::to_vec(&cfg).unwrap()).unwrap();
    let o = refit_dir(&lib, &input, &ckpt, &out, &[]);
    assert_exit(&o, ErrorKind::WeightsMismatch.exit_code() as i32);
    assert!(stderr(&o).contains("1 rank(s)"), "{}", stderr(&o));
}

#[test]
fn plugins_the_config_names_are_looked_for_and_their_absence_said() {
    let (lib, tool) = standin_or_skip!();
    let d = tempfile::tempdir().unwrap();
    let input = d.path().join("engines");
    engine_dir(&tool, &input, &TWO_RANKS, true);
    let mut cfg = engine_config(2, true);
    cfg["build_config"]["plugin_config"] =
        serde_json::json!({"gpt_attention_plugin": "auto", "gemm_plugin": null});
    std::fs::write(input.join("config.json"), serde_json::to_vec(&cfg).unwrap()).unwrap();
    // No python3 to find tensorrt_llm in: the run goes on (the stand-in needs no plugin) and warns.
    let o = trt_dump()
        .env("PATH", "/nonexistent/trt-dump-tests")
        .arg("--trt-lib")
        .arg(&lib)
        .arg("dump")
        .arg(&input)
        .arg("-o")
        .arg(d.path().join("ckpt"))
        .output()
        .unwrap();
    assert_exit(&o, 0);
    let err = stderr(&o);
    assert!(
        err.contains("TensorRT-LLM plugins (gpt_attention_plugin)")
            && err.contains("pip install tensorrt_llm"),
        "{err}"
    );
    // --devices is refused for a single engine's refit too.
    let o = trt_dump()
        .arg("refit")
        .arg(input.join("rank0.engine"))
        .args([
            "--weights",
            "w.safetensors",
            "-o",
            "x.engine",
            "--devices",
            "0",
        ])
        .output()
        .unwrap();
    assert_exit(&o, 2);
}

/// Ctrl-C while both ranks are under way: exit 130, no output folder, no temporaries.
#[test]
fn ctrl_c_mid_run_leaves_nothing() {
    use std::io::{BufRead, BufReader};
    let (lib, tool) = standin_or_skip!();
    let d = tempfile::tempdir().unwrap();
    let input = d.path().join("engines");
    engine_dir(&tool, &input, &TWO_RANKS, true);
    for (n, rank) in TWO_RANKS.iter().enumerate() {
        let mut args = vec!["--slow", "300"];
        args.extend_from_slice(storage(n));
        sim_plan(&tool, &input, rank, &format!("rank{n}.engine"), &args);
        std::fs::remove_file(input.join(format!("rank{n}.engine.truth.json"))).unwrap();
    }
    let out = d.path().join("ckpt");
    let bin = assert_cmd::cargo::cargo_bin!("trt-dump");
    let mut child = std::process::Command::new(bin)
        .env(
            "TRT_DUMP_TRT_LIB",
            "/nonexistent/trt-dump-tests/no-tensorrt-here",
        )
        .arg("--trt-lib")
        .arg(&lib)
        .args(["-v", "dump"])
        .arg(&input)
        .arg("-o")
        .arg(&out)
        .args(["--devices", "0,1"])
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
    let mut seen = Vec::new();
    for l in lines.by_ref() {
        let l = l.unwrap();
        let hit = l.contains("marker pass 1/");
        seen.push(l);
        if hit {
            break;
        }
    }
    let st = std::process::Command::new("kill")
        .arg("-INT")
        .arg(child.id().to_string())
        .status()
        .unwrap();
    assert!(st.success());
    seen.extend(lines.map_while(Result::ok));
    let code = child.wait().unwrap().code();
    assert_eq!(code, Some(130), "{seen:#?}");
    assert!(!out.exists(), "no output");
    assert!(
        leftovers(d.path()).is_empty(),
        "no temporaries: {:?}",
        leftovers(d.path())
    );
}
