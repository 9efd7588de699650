//! TensorRT-LLM engine directories, as `trtllm-build` writes them: `config.json` (keys `version`,
//! `pretrained_config`, `build_config`) and `rank{N}.engine` per rank, optionally
//! `rank{N}_managed_weights.safetensors` (weights fed as inputs, not stored in the engine); and
//! TensorRT-LLM checkpoint directories: `config.json` (the `pretrained_config`) and
//! `rank{N}.safetensors`. Reading and checking them needs no TensorRT; the CLI runs the ranks
//! (`cli::engine_dir`).

use std::path::{Path, PathBuf};

use serde_json::Value;

use crate::error::{Error, ErrorKind};

/// The engine directory's configuration file, and the checkpoint's.
pub const CONFIG: &str = "config.json";

/// One rank of an engine directory.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Rank {
    pub rank: usize,
    /// `rank{N}.engine`.
    pub engine: PathBuf,
    /// `rank{N}_managed_weights.safetensors`, when present.
    pub managed: Option<PathBuf>,
}

/// A checked engine directory: every rank `0..world_size` has its engine file, and no other.
#[derive(Clone, Debug)]
pub struct EngineDir {
    pub path: PathBuf,
    /// The whole `config.json`, as read (`refit` copies the file itself).
    pub config: Value,
    pub world_size: usize,
    pub ranks: Vec<Rank>,
}

fn input_error(message: String, hint: &str) -> anyhow::Error {
    anyhow::Error::new(Error::new(ErrorKind::InputUnreadable, message).with_hint(hint))
}

/// `N` when `name` is exactly `rank{N}{suffix}` (no sign, no leading zero unless `N` is 0).
pub fn rank_of(name: &str, suffix: &str) -> Option<usize> {
    let digits = name.strip_prefix("rank")?.strip_suffix(suffix)?;
    if digits.is_empty()
        || !digits.bytes().all(|b| b.is_ascii_digit())
        || (digits.len() > 1 && digits.starts_with('0'))
    {
        return None;
    }
    digits.parse().ok()
}

/// The ranks of the files in `dir` named `rank{N}{suffix}`, sorted, with their paths.
pub fn rank_files(dir: &Path, suffix: &str) -> anyhow::Result<Vec<(usize, PathBuf)>> {
    let entries = std::fs::read_dir(dir).map_err(|e| {
        input_error(
            format!("cannot list folder `{}`: {e}", dir.display()),
            "check the path and its permissions",
        )
    })?;
    let mut found = Vec::new();
    for e in entries.flatten() {
        let name = e.file_name();
        if let Some(n) = name.to_str().and_then(|s| rank_of(s, suffix)) {
            found.push((n, e.path()));
        }
    }
    found.sort();
    Ok(found)
}

/// Whether `path` is a folder to treat as an engine directory (it is a folder: `dump` and
/// `refit` take no other kind of folder as their input, so a folder that is not a valid engine
/// directory gets [`EngineDir::open`]'s explanation).
pub fn is_dir_input(path: &Path) -> bool {
    path.is_dir()
}

fn read_config(dir: &Path, what: &str) -> anyhow::Result<Value> {
    let p = dir.join(CONFIG);
    let bytes = match std::fs::read(&p) {
        Ok(b) => b,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err(input_error(
                format!("`{}` is a folder but not a {what}: it has no {CONFIG}", dir.display()),
                "give an engine file, or a folder written by trtllm-build (config.json + rank{N}.engine)",
            ))
        }
        Err(e) => {
            return Err(input_error(
                format!("cannot read `{}`: {e}", p.display()),
                "check its permissions",
            ))
        }
    };
    let v: Value = serde_json::from_slice(&bytes).map_err(|e| {
        input_error(
            format!("`{}` is not valid JSON: {e}", p.display()),
            "it should be the config.json trtllm-build wrote",
        )
    })?;
    if !v.is_object() {
        return Err(input_error(
            format!("`{}` is not a JSON object", p.display()),
            "it should be the config.json trtllm-build wrote",
        ));
    }
    Ok(v)
}

/// `mapping.world_size` of a pretrained (checkpoint) config, else `tp_size * pp_size * cp_size`,
/// else 1 (TensorRT-LLM's defaults).
pub fn world_size(pretrained: &Value, config_path: &Path) -> anyhow::Result<usize> {
    let mapping = &pretrained["mapping"];
    let bad = |key: &str| {
        input_error(
            format!(
                "`{}`: `mapping.{key}` is not a positive integer",
                config_path.display()
            ),
            "fix the config, or rebuild the engines with trtllm-build",
        )
    };
    let get = |key: &str| -> anyhow::Result<Option<usize>> {
        match &mapping[key] {
            Value::Null => Ok(None),
            v => match v.as_u64() {
                Some(n) if (1..=1 << 20).contains(&n) => Ok(Some(n as usize)),
                _ => Err(bad(key)),
            },
        }
    };
    if let Some(w) = get("world_size")? {
        return Ok(w);
    }
    let mut w = 1usize;
    for key in ["tp_size", "pp_size", "cp_size"] {
        w = w.saturating_mul(get(key)?.unwrap_or(1));
    }
    Ok(w)
}

/// Checks that exactly the ranks `0..world_size` have a file `rank{N}{suffix}`.
fn check_ranks(
    dir: &Path,
    found: &[(usize, PathBuf)],
    world_size: usize,
    suffix: &str,
    what: &str,
) -> anyhow::Result<()> {
    let config = dir.join(CONFIG);
    if found.is_empty() {
        return Err(input_error(
            format!(
                "`{}` has a {CONFIG} but no rank{{N}}{suffix} files, so it is not a {what}",
                dir.display()
            ),
            "give the folder trtllm-build wrote (config.json + rank0.engine, rank1.engine, ...)",
        ));
    }
    if let Some(n) = (0..world_size).find(|n| !found.iter().any(|(r, _)| r == n)) {
        return Err(input_error(
            format!(
                "`{}` says world_size {world_size}, but rank{n}{suffix} is missing from `{}` (found {})",
                config.display(),
                dir.display(),
                found
                    .iter()
                    .map(|(r, _)| format!("rank{r}{suffix}"))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
            "every rank's file must be present; copy the whole folder",
        ));
    }
    if let Some((r, _)) = found.iter().find(|(r, _)| *r >= world_size) {
        return Err(input_error(
            format!(
                "`{}` has rank{r}{suffix}, but `{}` says world_size {world_size}",
                dir.display(),
                config.display()
            ),
            "the config and the rank files disagree: remove the stray file or use the config that came with it",
        ));
    }
    Ok(())
}

impl EngineDir {
    /// Reads and checks an engine directory. Every problem is an input error (exit 3) naming
    /// the file.
    pub fn open(dir: &Path) -> anyhow::Result<EngineDir> {
        let what = "TensorRT-LLM engine directory";
        let config = read_config(dir, what)?;
        let config_path = dir.join(CONFIG);
        let pretrained = &config["pretrained_config"];
        if !pretrained.is_object() {
            let hint = if dir.join("rank0.safetensors").is_file() {
                "this looks like a TensorRT-LLM checkpoint (rank{N}.safetensors); dump takes the engine directory trtllm-build wrote from it"
            } else {
                "it should be the config.json trtllm-build wrote (keys version, pretrained_config, build_config)"
            };
            return Err(input_error(
                format!(
                    "`{}` has no `pretrained_config` object",
                    config_path.display()
                ),
                hint,
            ));
        }
        let world_size = world_size(pretrained, &config_path)?;
        let found = rank_files(dir, ".engine")?;
        check_ranks(dir, &found, world_size, ".engine", what)?;
        let ranks = found
            .into_iter()
            .map(|(rank, engine)| {
                let m = dir.join(format!("rank{rank}_managed_weights.safetensors"));
                Rank {
                    rank,
                    engine,
                    managed: m.is_file().then_some(m),
                }
            })
            .collect();
        Ok(EngineDir {
            path: dir.to_path_buf(),
            config,
            world_size,
            ranks,
        })
    }

    /// The checkpoint `config.json` for this directory: its `pretrained_config`.
    pub fn checkpoint_config(&self) -> &Value {
        &self.config["pretrained_config"]
    }

    /// What the build configuration says of refittability: `Some(false)` when it records that
    /// the engines were built without `use_refit` and without `use_strip_plan`; `None` when it
    /// does not say (older configs), and TensorRT is asked.
    pub fn refittable_per_config(&self) -> Option<bool> {
        let b = &self.config["build_config"];
        let refit = b["use_refit"].as_bool();
        let strip = b["use_strip_plan"].as_bool();
        match (refit, strip) {
            (Some(true), _) | (_, Some(true)) => Some(true),
            (Some(false), _) => Some(false),
            _ => None,
        }
    }

    /// The TensorRT-LLM plugins `build_config.plugin_config` says the engines use: its
    /// `*_plugin` keys set to a data type (`"float16"`, `"auto"`, ...) rather than null or
    /// `"disable"`.
    pub fn plugins_used(&self) -> Vec<String> {
        let Some(pc) = self.config["build_config"]["plugin_config"].as_object() else {
            return Vec::new();
        };
        pc.iter()
            .filter(|(k, v)| {
                k.ends_with("_plugin")
                    && v.as_str().is_some_and(|s| !s.is_empty() && s != "disable")
            })
            .map(|(k, _)| k.clone())
            .collect()
    }

    /// The error (exit 6) for engines built without `use_refit` or `--strip_plan`.
    pub fn not_refittable(&self, detail: &str) -> Error {
        Error::new(
            ErrorKind::NotRefittable,
            format!(
                "the engines in `{}` were not built refittable ({detail}), so their weights cannot be {}",
                self.path.display(),
                "extracted or replaced"
            ),
        )
        .with_hint(NOT_REFITTABLE_HINT)
    }
}

pub const NOT_REFITTABLE_HINT: &str = "rebuild them with `trtllm-build --use_refit` (REFIT: the weights stay in \
    the engines) or `trtllm-build --strip_plan` (REFIT_INDIVIDUAL + STRIP_PLAN: refit them before use); \
    an engine's refittability cannot be changed after it is built";

/// A TensorRT-LLM checkpoint directory to refit from: `config.json` and `rank{N}.safetensors` for
/// every rank `0..world_size`.
#[derive(Clone, Debug)]
pub struct CheckpointDir {
    pub path: PathBuf,
    pub config: Value,
    pub world_size: usize,
    /// `rank{N}.safetensors`, in rank order.
    pub ranks: Vec<PathBuf>,
}

impl CheckpointDir {
    pub fn open(dir: &Path) -> anyhow::Result<CheckpointDir> {
        let what = "TensorRT-LLM checkpoint directory";
        let config = read_config(dir, what)?;
        let config_path = dir.join(CONFIG);
        // A checkpoint config is the pretrained config itself; an engine config holds it.
        let pretrained = if config["pretrained_config"].is_object() {
            &config["pretrained_config"]
        } else {
            &config
        };
        let world_size = world_size(pretrained, &config_path)?;
        let found = rank_files(dir, ".safetensors")?;
        check_ranks(dir, &found, world_size, ".safetensors", what)?;
        Ok(CheckpointDir {
            path: dir.to_path_buf(),
            config,
            world_size,
            ranks: found.into_iter().map(|(_, p)| p).collect(),
        })
    }
}

/// Whether an existing folder is one `--force` may replace: a TensorRT-LLM checkpoint or engine
/// directory (only `config.json` and `rank{N}.engine`, `rank{N}.safetensors`,
/// `rank{N}_managed_weights.safetensors` files, among them `config.json`). Any other folder is
/// refused, even with `--force`, so a wrong `-o` never deletes unrelated files.
pub fn is_replaceable_output(dir: &Path) -> bool {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return false;
    };
    let mut has_config = false;
    for e in entries {
        let Ok(e) = e else { return false };
        let Ok(ft) = e.file_type() else { return false };
        let name = e.file_name();
        let Some(name) = name.to_str() else {
            return false;
        };
        if !ft.is_file() {
            return false;
        }
        if name == CONFIG {
            has_config = true;
        } else if rank_of(name, ".engine").is_none()
            && rank_of(name, ".safetensors").is_none()
            && rank_of(name, "_managed_weights.safetensors").is_none()
        {
            return false;
        }
    }
    has_config
}

/// Whether TensorRT's words on a failed deserialization say that a plugin it needs is not
/// registered ("Cannot deserialize plugin since corresponding IPluginCreator not found in Plugin
/// Registry", "getPluginCreator could not find plugin ...", "Cannot find plugin: ...").
pub fn says_plugin_missing(text: &str) -> bool {
    let t = text.to_ascii_lowercase();
    t.contains("plugin")
        && [
            "not found",
            "could not find",
            "cannot find",
            "can't find",
            "no creator",
            "not registered",
        ]
        .iter()
        .any(|s| t.contains(s))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn write_dir(config: &Value, files: &[&str]) -> tempfile::TempDir {
        let d = tempfile::tempdir().unwrap();
        std::fs::write(d.path().join(CONFIG), serde_json::to_vec(config).unwrap()).unwrap();
        for f in files {
            std::fs::write(d.path().join(f), b"x").unwrap();
        }
        d
    }

    fn cfg(world: u64) -> Value {
        json!({"version": "0.12.0", "pretrained_config": {"architecture": "LlamaForCausalLM", "mapping": {"world_size": world, "tp_size": world, "pp_size": 1}}, "build_config": {"use_refit": true}})
    }

    fn kind(e: &anyhow::Error) -> ErrorKind {
        crate::error::find(e).unwrap().kind
    }

    #[test]
    fn rank_names_parse_exactly() {
        assert_eq!(rank_of("rank0.engine", ".engine"), Some(0));
        assert_eq!(rank_of("rank12.engine", ".engine"), Some(12));
        assert_eq!(rank_of("rank01.engine", ".engine"), None);
        assert_eq!(rank_of("rank.engine", ".engine"), None);
        assert_eq!(rank_of("rank-1.engine", ".engine"), None);
        assert_eq!(
            rank_of("rank0_managed_weights.safetensors", ".safetensors"),
            None
        );
        assert_eq!(
            rank_of(
                "rank0_managed_weights.safetensors",
                "_managed_weights.safetensors"
            ),
            Some(0)
        );
    }

    #[test]
    fn a_two_rank_directory_opens_with_its_managed_weights() {
        let d = write_dir(
            &cfg(2),
            &[
                "rank0.engine",
                "rank1.engine",
                "rank1_managed_weights.safetensors",
                "notes.txt",
            ],
        );
        let e = EngineDir::open(d.path()).unwrap();
        assert_eq!(e.world_size, 2);
        assert_eq!(e.ranks.len(), 2);
        assert!(e.ranks[0].managed.is_none());
        assert!(e.ranks[1].managed.is_some());
        assert_eq!(e.checkpoint_config()["architecture"], "LlamaForCausalLM");
        assert_eq!(e.refittable_per_config(), Some(true));
    }

    #[test]
    fn missing_and_stray_ranks_are_input_errors() {
        let d = write_dir(&cfg(2), &["rank0.engine"]);
        let e = EngineDir::open(d.path()).unwrap_err();
        assert_eq!(kind(&e), ErrorKind::InputUnreadable);
        assert!(
            format!("{e:#}").contains("rank1.engine is missing"),
            "{e:#}"
        );
        let d = write_dir(&cfg(1), &["rank0.engine", "rank1.engine"]);
        let e = EngineDir::open(d.path()).unwrap_err();
        assert!(format!("{e:#}").contains("world_size 1"), "{e:#}");
        let d = write_dir(&cfg(1), &[]);
        assert!(
            format!("{:#}", EngineDir::open(d.path()).unwrap_err()).contains("no rank{N}.engine")
        );
    }

    #[test]
    fn bad_configs_are_input_errors() {
        let d = tempfile::tempdir().unwrap();
        assert!(
            format!("{:#}", EngineDir::open(d.path()).unwrap_err()).contains("has no config.json")
        );
        std::fs::write(d.path().join(CONFIG), b"{not json").unwrap();
        assert_eq!(
            kind(&EngineDir::open(d.path()).unwrap_err()),
            ErrorKind::InputUnreadable
        );
        let d = write_dir(&json!({"architecture": "x"}), &["rank0.engine"]);
        assert!(
            format!("{:#}", EngineDir::open(d.path()).unwrap_err()).contains("pretrained_config")
        );
        let d = write_dir(
            &json!({"pretrained_config": {"mapping": {"world_size": "two"}}}),
            &["rank0.engine"],
        );
        assert!(
            format!("{:#}", EngineDir::open(d.path()).unwrap_err()).contains("mapping.world_size")
        );
    }

    #[test]
    fn world_size_falls_back_to_tp_times_pp() {
        let p = Path::new("c.json");
        assert_eq!(
            world_size(&json!({"mapping": {"tp_size": 2, "pp_size": 2}}), p).unwrap(),
            4
        );
        assert_eq!(world_size(&json!({}), p).unwrap(), 1);
    }

    #[test]
    fn refittability_from_the_build_config() {
        let d = write_dir(
            &json!({"pretrained_config": {}, "build_config": {"use_refit": false, "use_strip_plan": false}}),
            &["rank0.engine"],
        );
        assert_eq!(
            EngineDir::open(d.path()).unwrap().refittable_per_config(),
            Some(false)
        );
        let d = write_dir(
            &json!({"pretrained_config": {}, "build_config": {"use_refit": false, "use_strip_plan": true}}),
            &["rank0.engine"],
        );
        assert_eq!(
            EngineDir::open(d.path()).unwrap().refittable_per_config(),
            Some(true)
        );
        let d = write_dir(&json!({"pretrained_config": {}}), &["rank0.engine"]);
        assert_eq!(
            EngineDir::open(d.path()).unwrap().refittable_per_config(),
            None
        );
    }

    #[test]
    fn plugins_in_use_come_from_the_plugin_config() {
        let pc = json!({"gpt_attention_plugin": "auto", "gemm_plugin": null, "lora_plugin": "disable", "nccl_plugin": "float16", "context_fmha": true});
        let d = write_dir(
            &json!({"pretrained_config": {}, "build_config": {"plugin_config": pc}}),
            &["rank0.engine"],
        );
        assert_eq!(
            EngineDir::open(d.path()).unwrap().plugins_used(),
            ["gpt_attention_plugin", "nccl_plugin"]
        );
        let d = write_dir(&cfg(1), &["rank0.engine"]);
        assert!(EngineDir::open(d.path()).unwrap().plugins_used().is_empty());
    }

    #[test]
    fn checkpoints_open_from_either_config_form() {
        let d = write_dir(
            &json!({"mapping": {"world_size": 2}}),
            &["rank0.safetensors", "rank1.safetensors"],
        );
        assert_eq!(CheckpointDir::open(d.path()).unwrap().ranks.len(), 2);
        let d = write_dir(
            &json!({"mapping": {"world_size": 2}}),
            &["rank0.safetensors"],
        );
        assert!(format!("{:#}", CheckpointDir::open(d.path()).unwrap_err())
            .contains("rank1.safetensors is missing"));
    }

    #[test]
    fn only_trtllm_folders_may_be_replaced() {
        let d = write_dir(
            &cfg(1),
            &["rank0.safetensors", "rank0_managed_weights.safetensors"],
        );
        assert!(is_replaceable_output(d.path()));
        let d = write_dir(&cfg(1), &["rank0.engine", "thesis.tex"]);
        assert!(!is_replaceable_output(d.path()));
        let d = tempfile::tempdir().unwrap();
        std::fs::write(d.path().join("rank0.engine"), b"x").unwrap();
        assert!(!is_replaceable_output(d.path()), "no config.json");
    }

    #[test]
    fn plugin_failures_are_recognised() {
        assert!(says_plugin_missing("Serialization assertion creator failed.Cannot deserialize plugin since corresponding IPluginCreator not found in Plugin Registry"));
        assert!(says_plugin_missing("IPluginRegistry::getCreator: Error Code 4: Cannot find plugin: GPTAttention, version: 1, namespace:tensorrt_llm."));
        assert!(!says_plugin_missing(
            "The engine plan file is not compatible with this version of TensorRT"
        ));
    }
}
