//! The weights file of `refit`: safetensors, `.npz`, a folder of `.npy` files (trt-dump's own
//! outputs included: their index gives back the exact weight names) or an ONNX model, with
//! `--rename FROM=TO` prefix rewrites applied.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use crate::error::{Error, ErrorKind};
use crate::reference::{self, RefTensor, Skipped};

/// A `--rename FROM=TO`: a tensor whose name starts with `FROM` is matched as `TO` + the rest.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Rename {
    pub from: String,
    pub to: String,
}

impl std::str::FromStr for Rename {
    type Err = String;
    fn from_str(s: &str) -> Result<Rename, String> {
        match s.split_once('=') {
            Some((from, to)) if !from.is_empty() => Ok(Rename {
                from: from.to_string(),
                to: to.to_string(),
            }),
            _ => Err(format!(
                "`{s}` is not FROM=TO (FROM a non-empty name prefix)"
            )),
        }
    }
}

/// The tensors of a weights file, under the names they are matched by.
#[derive(Clone, Debug, Default)]
pub struct WeightsSource {
    pub path: PathBuf,
    /// `safetensors`, `npz`, `ONNX` or `npy folder`.
    pub format: String,
    pub tensors: Vec<RefTensor>,
    /// Tensors left out for their dtype, and why.
    pub skipped: Vec<Skipped>,
    /// `(name in the file, name matched)` for each tensor a `--rename` rewrote.
    pub renamed: Vec<(String, String)>,
}

/// trt-dump's own index entry (`__trt_dump_index__.npy` in an `.npz`, `index.json` in a folder).
#[derive(serde::Deserialize)]
struct IndexEntry {
    name: String,
    file: String,
}

#[derive(serde::Deserialize)]
struct Index {
    weights: Vec<IndexEntry>,
}

const NPZ_INDEX: &str = "__trt_dump_index__";

fn bad(path: &Path, what: impl std::fmt::Display) -> anyhow::Error {
    anyhow::Error::new(
        Error::new(
            ErrorKind::InputUnreadable,
            format!("weights `{}`: {what}", path.display()),
        )
        .with_hint("pass a .safetensors, .npz, ONNX model or folder of .npy files"),
    )
}

impl WeightsSource {
    /// Reads every tensor of `path` (a file, or a folder of `.npy` files).
    pub fn load(path: &Path) -> anyhow::Result<WeightsSource> {
        if path.is_dir() {
            return load_dir(path);
        }
        let loaded = reference::load_all(path)?;
        let format = loaded.format.map(|f| f.to_string()).unwrap_or_default();
        let mut src = WeightsSource {
            path: path.to_path_buf(),
            format,
            tensors: loaded.tensors,
            skipped: loaded.skipped,
            renamed: vec![],
        };
        // trt-dump's own .npz: member names are safe file names; the index has the exact ones.
        if let Some(at) = src.tensors.iter().position(|t| t.name == NPZ_INDEX) {
            let idx = src.tensors.remove(at);
            let index: Index = serde_json::from_slice(&idx.data)
                .map_err(|e| bad(path, format!("{NPZ_INDEX}: {e}")))?;
            let by_member: BTreeMap<&str, &str> = index
                .weights
                .iter()
                .map(|e| {
                    (
                        e.file.strip_suffix(".npy").unwrap_or(&e.file),
                        e.name.as_str(),
                    )
                })
                .collect();
            for t in &mut src.tensors {
                if let Some(name) = by_member.get(t.name.as_str()) {
                    t.name = name.to_string();
                }
            }
        }
        Ok(src)
    }

    /// Applies `--rename` rules (the longest matching prefix wins); two tensors may not end up
    /// with one name.
    pub fn rename(&mut self, rules: &[Rename]) -> anyhow::Result<()> {
        if rules.is_empty() {
            return Ok(());
        }
        for t in &mut self.tensors {
            if let Some(r) = rules
                .iter()
                .filter(|r| t.name.starts_with(&r.from))
                .max_by_key(|r| r.from.len())
            {
                let new = format!("{}{}", r.to, &t.name[r.from.len()..]);
                self.renamed.push((t.name.clone(), new.clone()));
                t.name = new;
            }
        }
        let mut seen = std::collections::BTreeSet::new();
        for t in &self.tensors {
            if !seen.insert(t.name.as_str()) {
                return Err(anyhow::Error::new(Error::new(
                    ErrorKind::Usage,
                    format!(
                        "--rename: two tensors of `{}` are both named `{}` after renaming",
                        self.path.display(),
                        t.name
                    ),
                )));
            }
        }
        Ok(())
    }
}

/// A folder of `.npy` files: named by `index.json` where trt-dump wrote one, by file stem otherwise.
fn load_dir(dir: &Path) -> anyhow::Result<WeightsSource> {
    let mut files: Vec<(PathBuf, String)> = Vec::new();
    let index_path = dir.join("index.json");
    if index_path.is_file() {
        let bytes = std::fs::read(&index_path)
            .map_err(|e| bad(&index_path, format!("cannot read: {e}")))?;
        let index: Index = serde_json::from_slice(&bytes).map_err(|e| bad(&index_path, e))?;
        for e in index.weights {
            // The index names files inside the folder; never follow one out of it.
            let p = Path::new(&e.file);
            if p.components().count() != 1
                || !matches!(p.components().next(), Some(std::path::Component::Normal(_)))
            {
                return Err(bad(
                    &index_path,
                    format!("file `{}` is not a name inside the folder", e.file),
                ));
            }
            files.push((dir.join(p), e.name));
        }
    } else {
        let rd = std::fs::read_dir(dir).map_err(|e| bad(dir, format!("cannot list: {e}")))?;
        for entry in rd {
            let entry = entry.map_err(|e| bad(dir, format!("cannot list: {e}")))?;
            let p = entry.path();
            if p.extension().and_then(|e| e.to_str()) == Some("npy") && p.is_file() {
                let stem = p.file_stem().and_then(|s| s.to_str()).map(str::to_string);
                if let Some(stem) = stem {
                    files.push((p, stem));
                }
            }
        }
        files.sort();
    }
    if files.is_empty() {
        return Err(bad(dir, "no .npy files in the folder"));
    }
    let mut src = WeightsSource {
        path: dir.to_path_buf(),
        format: "npy folder".into(),
        ..Default::default()
    };
    for (p, name) in files {
        let l = reference::load_npy_file(&p, &name)?;
        src.tensors.extend(l.tensors);
        src.skipped.extend(l.skipped);
    }
    Ok(src)
}
