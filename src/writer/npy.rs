//! A folder of `.npy` files, one per weight, plus `index.json` mapping file names back to exact
//! weight names (see docs/writers.md). File names come from [`names`](super::names): one safe path
//! component each, distinct even on case-insensitive file systems. The whole folder is built under
//! a temporary name beside the target and renamed into place by `finish`.

use std::fs::{self, File};
use std::path::Path;

use ndarray_npy::WriteNpyExt;

use super::atomic::{self, io_failure, StagedDir, Wrap};
use super::{convert, index_json, lib_failure, names, usize_shape};
use super::{Format, Plan, TensorSink, TensorView, WriterOptions, Written, WrittenTensor};

pub(crate) const INDEX_FILE: &str = "index.json";
const FORMAT_TAG: &str = "trt-dump-npy";

struct Sink {
    plan: Plan,
    files: Vec<String>,
    metadata: std::collections::BTreeMap<String, String>,
    staged: StagedDir,
    wrap: Wrap,
    bytes: u64,
    failed: bool,
}

/// Whether `dir` is a folder trt-dump wrote, the only kind `--force` replaces: an `index.json`
/// of ours, and nothing but it and `.npy` files with names we could have made. Anything else
/// (a user's other files, subfolders, links) makes it not ours.
pub(crate) fn is_ours(dir: &Path) -> bool {
    let tagged = fs::read(dir.join(INDEX_FILE))
        .ok()
        .and_then(|b| serde_json::from_slice::<serde_json::Value>(&b).ok())
        .is_some_and(|v| v.get("format").and_then(|f| f.as_str()) == Some(FORMAT_TAG));
    let Ok(entries) = fs::read_dir(dir) else { return false };
    tagged
        && entries.into_iter().all(|e| {
            e.ok().is_some_and(|e| {
                let name = e.file_name();
                let name = name.to_str().unwrap_or("");
                e.file_type().is_ok_and(|t| t.is_file())
                    && (name == INDEX_FILE || (name.ends_with(".npy") && names::is_safe_component(name)))
            })
        })
}

pub(super) fn open(path: &Path, opts: &WriterOptions, plan: Plan, wrap: Wrap) -> anyhow::Result<Box<dyn TensorSink>> {
    let target = atomic::dir_target(path, opts.force, is_ours)?;
    let refs: Vec<&str> = plan.tensors.iter().map(|t| t.name.as_str()).collect();
    // `index.json` cannot clash with a `*.npy` name; reserved all the same.
    let files = names::assign(&refs, ".npy", &[INDEX_FILE]);
    let staged = StagedDir::create(target)?;
    Ok(Box::new(Sink { plan, files, metadata: opts.metadata.clone(), staged, wrap, bytes: 0, failed: false }))
}

impl Sink {
    /// Creates `name` in the temporary folder, lets `fill` write it, makes it durable.
    fn write_file(
        &mut self,
        name: &str,
        doing: &str,
        fill: impl FnOnce(&mut dyn atomic::Output) -> anyhow::Result<()>,
    ) -> anyhow::Result<()> {
        let path = self.staged.target.path.clone();
        let file_path = self.staged.path().join(name);
        let r = File::create_new(&file_path)
            .map_err(|e| io_failure(&path, &format!("creating `{name}` in it"), &e))
            .and_then(|f| {
                let mut out = (self.wrap)(f);
                fill(&mut *out)?;
                out.sync().map_err(|e| io_failure(&path, doing, &e))
            })
            .and_then(|()| fs::metadata(&file_path).map_err(|e| io_failure(&path, doing, &e)));
        match r {
            Ok(m) => {
                self.bytes += m.len();
                Ok(())
            }
            Err(e) => {
                self.failed = true;
                Err(e)
            }
        }
    }
}

impl TensorSink for Sink {
    fn add(&mut self, t: &TensorView<'_>) -> anyhow::Result<()> {
        let path = self.staged.target.path.clone();
        anyhow::ensure!(!self.failed, "an earlier write to `{}` failed", path.display());
        let i = self.plan.check(t)?;
        let shape = usize_shape(t.shape)?;
        let values = convert::to_numpy(t.dtype, t.data, self.plan.counts[i]);
        let doing = format!("writing weight {:?}", t.name);
        let name = self.files[i].clone();
        self.write_file(&name, &doing, |out| {
            with_np_array!(values, &shape, |a| a.write_npy(out).map_err(|e| lib_failure(&path, &doing, &e)))
        })?;
        self.plan.mark_added(i);
        Ok(())
    }

    fn finish(mut self: Box<Self>) -> anyhow::Result<Written> {
        let path = self.staged.target.path.clone();
        anyhow::ensure!(!self.failed, "an earlier write to `{}` failed", path.display());
        self.plan.check_complete(&path)?;
        let index = index_json(FORMAT_TAG, &self.metadata, &self.plan, &self.files);
        self.write_file(INDEX_FILE, "writing index.json", |out| {
            out.write_all(&index).map_err(|e| io_failure(&path, "writing index.json", &e))
        })?;
        let Sink { plan, files, staged, bytes, .. } = *self;
        staged.commit(is_ours)?;
        let tensors = plan
            .tensors
            .iter()
            .zip(files)
            .map(|(t, f)| WrittenTensor { name: t.name.clone(), stored_as: f, stored_dtype: convert::numpy_dtype(t.dtype) })
            .collect();
        Ok(Written { path, format: Format::Npy, bytes, tensors })
    }
}
