//! Output writers: safetensors, `.npz`, or a folder of `.npy` files.
//!
//! The caller lists every tensor up front ([`PlannedTensor`]: name, refit dtype, shape, where the
//! shape came from), then hands each tensor's bytes to [`TensorSink::add`] **by name, in any
//! order, each exactly once**, then calls [`TensorSink::finish`]. Knowing everything up front lets
//! the safetensors writer put its header first and stream each tensor's bytes straight to its
//! place in the file, so the output size is never bounded by memory; `.npz`/`.npy` hold one
//! tensor's converted copy at a time.
//!
//! Every output is atomic ([`atomic`]): written beside the target under a temporary name and
//! renamed into place by `finish`; dropping a sink without `finish` leaves nothing behind. An
//! existing output is replaced only with `force`. Dtype conversions are in [`convert`], safe file
//! names in [`names`]; the formats are described in docs/writers.md.

/// Runs `$body` with `$a` bound to an `ndarray::ArrayD` of the values' element type (the
/// NumPy writers are generic over it).
macro_rules! with_np_array {
    ($vals:expr, $shape:expr, |$a:ident| $body:expr) => {{
        use $crate::writer::convert::NpValues;
        let shape = ndarray::IxDyn($shape);
        match $vals {
            NpValues::Bool(v) => {
                let $a = ndarray::ArrayD::from_shape_vec(shape, v)?;
                $body
            }
            NpValues::U8(v) => {
                let $a = ndarray::ArrayD::from_shape_vec(shape, v)?;
                $body
            }
            NpValues::I8(v) => {
                let $a = ndarray::ArrayD::from_shape_vec(shape, v)?;
                $body
            }
            NpValues::I32(v) => {
                let $a = ndarray::ArrayD::from_shape_vec(shape, v)?;
                $body
            }
            NpValues::I64(v) => {
                let $a = ndarray::ArrayD::from_shape_vec(shape, v)?;
                $body
            }
            NpValues::F16(v) => {
                let $a = ndarray::ArrayD::from_shape_vec(shape, v)?;
                $body
            }
            NpValues::F32(v) => {
                let $a = ndarray::ArrayD::from_shape_vec(shape, v)?;
                $body
            }
        }
    }};
}

pub(crate) mod atomic;
pub mod convert;
pub mod names;
mod npy;
mod npz;
pub use npz::{read_index_comment, COMPRESSED_TAG};
mod safetensors;

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::dtype::DataType;
use crate::error::{Error, ErrorKind};

/// An output format; `--format` takes these names (clap's `ValueEnum`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    Safetensors,
    Npz,
    Npy,
}

/// Where a tensor's shape came from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ShapeSource {
    /// The refitter gives element counts only: the tensor is written 1-D.
    Flat,
    /// Taken from a matching tensor in a reference file (`--shapes-from`).
    Recovered { from: String },
}

/// One tensor the sink will receive.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PlannedTensor {
    pub name: String,
    /// The refit dtype.
    pub dtype: DataType,
    /// Its product is the element count; empty means a scalar (one element).
    pub shape: Vec<u64>,
    pub shape_source: ShapeSource,
}

/// One tensor's values, as the refitter hands them over.
#[derive(Clone, Copy, Debug)]
pub struct TensorView<'a> {
    pub name: &'a str,
    /// The refit dtype; must match the plan.
    pub dtype: DataType,
    /// Must match the plan (a check that caller and plan agree).
    pub shape: &'a [u64],
    /// Little-endian; Int4/Fp4 packed two per byte, low nibble = even element; exactly
    /// `dtype.bytes_for(element count)` bytes.
    pub data: &'a [u8],
}

#[derive(Clone, Debug, Default)]
pub struct WriterOptions {
    /// `None`: from the output path ([`resolve_format`]).
    pub format: Option<Format>,
    /// Deflate `.npz` members; an error with another format.
    pub compress: bool,
    /// Replace an existing output.
    pub force: bool,
    /// File-level metadata (source engine sha256, TensorRT version, tool version, ...). Keys
    /// starting with `trt_dump.` are the writer's own; `format` defaults to `pt` in safetensors.
    pub metadata: BTreeMap<String, String>,
}

/// What `finish` wrote.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Written {
    pub path: PathBuf,
    pub format: Format,
    /// Bytes on disk (for `.npy`: all files, index included).
    pub bytes: u64,
    /// In the plan's order.
    pub tensors: Vec<WrittenTensor>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WrittenTensor {
    pub name: String,
    /// The safetensors key (the name itself unless it is `__metadata__`), or the `.npz` member /
    /// `.npy` file name (`NAME.npy` when the name is safe as a file name; see [`names`]).
    pub stored_as: String,
    /// safetensors dtype (`F32`, `I8`, ...) or NumPy dtype (`float32`, ...).
    pub stored_dtype: &'static str,
}

/// Receives a planned set of tensors and publishes them atomically.
pub trait TensorSink: Send {
    /// Writes one planned tensor (by name, any order, each once). After an I/O error the sink is
    /// spent: drop it (which removes everything written so far).
    fn add(&mut self, t: &TensorView<'_>) -> anyhow::Result<()>;
    /// Checks that every planned tensor was added, makes the data durable and renames the output
    /// into place. On error nothing is left behind.
    fn finish(self: Box<Self>) -> anyhow::Result<Written>;
}

/// Format names for messages.
pub fn format_name(f: Format) -> &'static str {
    match f {
        Format::Safetensors => "safetensors",
        Format::Npz => "npz",
        Format::Npy => "npy",
    }
}

pub(crate) fn ends_with_separator(path: &Path) -> bool {
    let s = path.as_os_str().to_string_lossy();
    s.ends_with('/') || (cfg!(windows) && s.ends_with('\\'))
}

/// The output format, from the path: a path ending in `/` is a folder of `.npy` files;
/// `.safetensors` and `.npz` (any case) name their format; otherwise an existing folder, or a path
/// with no extension at all (`-o weights_dir`; then `--format` may choose another), is a folder of
/// `.npy` files. Any other extension (`.pt`, `.bin`, `.safetensor`...) is a usage error
/// listing the choices unless `format` says which to write. A `format` that contradicts what the
/// path says (`-o w.safetensors --format npz`) is a usage error too: never a zip named
/// `.safetensors`.
pub fn resolve_format(path: &Path, format: Option<Format>) -> anyhow::Result<Format> {
    let ext = path
        .extension()
        .map(|e| e.to_string_lossy().to_ascii_lowercase());
    // A trailing `/` first, then the extension (an existing folder named `w.safetensors` is
    // refused by the writer as a folder), then an existing folder, then no extension at all.
    let said = if ends_with_separator(path) {
        Some((Format::Npy, "a folder"))
    } else {
        match ext.as_deref() {
            Some("safetensors") => Some((Format::Safetensors, "a .safetensors file")),
            Some("npz") => Some((Format::Npz, "an .npz file")),
            _ if path.is_dir() => Some((Format::Npy, "a folder")),
            _ => None,
        }
    };
    // No extension at all: a folder of .npy files, unless --format says otherwise (there is no
    // extension for it to contradict).
    let said = match (said, ext.as_deref(), format) {
        (None, None, None) => Some((Format::Npy, "a folder (it has no extension)")),
        (s, ..) => s,
    };
    match (said, format) {
        (Some((f, _)), None) => Ok(f),
        (Some((f, _)), Some(g)) if f == g => Ok(f),
        (Some((f, what)), Some(g)) => Err(anyhow::Error::new(
            Error::new(
                ErrorKind::Usage,
                format!(
                    "--format {} contradicts the output `{}`, which names {what} ({})",
                    format_name(g),
                    path.display(),
                    format_name(f)
                ),
            )
            .with_hint(format_hint()),
        )),
        (None, Some(g)) => Ok(g),
        (None, None) => {
            let why = if ext.as_deref() == Some("npy") {
                "a single .npy file cannot hold many weights".to_string()
            } else {
                format!(
                    "`.{}` is not an extension trt-dump writes",
                    ext.as_deref().unwrap_or("")
                )
            };
            Err(anyhow::Error::new(
                Error::new(
                    ErrorKind::Usage,
                    format!(
                        "cannot choose an output format for `{}`: {why}",
                        path.display()
                    ),
                )
                .with_hint(format_hint()),
            ))
        }
    }
}

fn format_hint() -> &'static str {
    "name a file `*.safetensors` or `*.npz`, or a folder (ending in `/`, existing, or with no \
     extension) for .npy files; --format safetensors|npz|npy must agree with the name"
}

/// Writes `bytes` to `path` all at once or not at all (maps, reports). An existing file is replaced
/// only with `force`; links and folders are refused as for the tensor outputs.
pub fn write_file(path: &Path, force: bool, bytes: &[u8]) -> anyhow::Result<u64> {
    use std::io::Write;
    let target = atomic::file_target(path, force)?;
    let (staged, mut out) = atomic::StagedFile::create(target, &atomic::buffered())?;
    out.write_all(bytes)
        .map_err(|e| atomic::io_failure(path, "writing it", &e))?;
    staged.commit(out)
}

/// [`write_file`], with `check` given the bytes read back from the temporary file before it is
/// renamed into place: an error from it leaves nothing behind.
pub fn write_file_checked(
    path: &Path,
    force: bool,
    bytes: &[u8],
    check: impl FnOnce(&[u8]) -> anyhow::Result<()>,
) -> anyhow::Result<u64> {
    use std::io::Write;
    let target = atomic::file_target(path, force)?;
    let (staged, mut out) = atomic::StagedFile::create(target, &atomic::buffered())?;
    out.write_all(bytes)
        .map_err(|e| atomic::io_failure(path, "writing it", &e))?;
    out.sync()
        .map_err(|e| atomic::io_failure(path, "writing it", &e))?;
    let back = std::fs::read(staged.temp_path())
        .map_err(|e| atomic::io_failure(path, "reading it back", &e))?;
    check(&back)?;
    drop(back);
    staged.commit(out)
}

/// Checks, before any long work, that `path` can receive `format` (`force` allowing replacement).
/// Includes creating (and removing) a file in the output's folder, so that a folder that cannot be
/// written is refused now and not after the extraction.
pub fn check_target(path: &Path, format: Format, force: bool) -> anyhow::Result<()> {
    let target = match format {
        Format::Npy => atomic::dir_target(path, force, npy::is_ours)?,
        _ => atomic::file_target(path, force)?,
    };
    atomic::probe_writable(&target)
}

/// The dtype a refit tensor is stored as in `format` (a safetensors or NumPy dtype name).
pub fn stored_dtype(format: Format, dtype: DataType, shape: &[u64]) -> &'static str {
    match format {
        Format::Safetensors => safetensors::dtype_name(convert::safetensors_dtype(dtype, shape).0),
        Format::Npz | Format::Npy => convert::numpy_dtype(dtype),
    }
}

/// Opens a sink writing `planned` to `path`. Checks everything that can be checked before any
/// tensor is computed: the format, the plan, the target (exists? link? folder? parent missing?),
/// and creates the temporary output, so a bad path fails before a long extraction.
pub fn open(
    path: &Path,
    opts: &WriterOptions,
    planned: &[PlannedTensor],
) -> anyhow::Result<Box<dyn TensorSink>> {
    open_with(path, opts, planned, atomic::buffered())
}

pub(crate) fn open_with(
    path: &Path,
    opts: &WriterOptions,
    planned: &[PlannedTensor],
    wrap: atomic::Wrap,
) -> anyhow::Result<Box<dyn TensorSink>> {
    let format = resolve_format(path, opts.format)?;
    if opts.compress && format != Format::Npz {
        return Err(anyhow::Error::new(
            Error::new(
                ErrorKind::Usage,
                format!(
                    "--compress applies to .npz only, not {}",
                    format_name(format)
                ),
            )
            .with_hint("drop --compress, or write an .npz file"),
        ));
    }
    if let Some(k) = opts.metadata.keys().find(|k| k.starts_with("trt_dump.")) {
        anyhow::bail!("metadata key `{k}` is reserved for the writer");
    }
    let plan = Plan::new(planned)?;
    match format {
        Format::Safetensors => safetensors::open(path, opts, plan, wrap),
        Format::Npz => npz::open(path, opts, plan, wrap),
        Format::Npy => npy::open(path, opts, plan, wrap),
    }
}

/// The validated plan and which tensors have arrived.
pub(crate) struct Plan {
    pub tensors: Vec<PlannedTensor>,
    /// Element count of each tensor.
    pub counts: Vec<usize>,
    /// Refit bytes of each tensor.
    pub sizes: Vec<usize>,
    index: HashMap<String, usize>,
    added: Vec<bool>,
}

impl Plan {
    fn new(planned: &[PlannedTensor]) -> anyhow::Result<Plan> {
        let mut index = HashMap::with_capacity(planned.len());
        let mut counts = Vec::with_capacity(planned.len());
        let mut sizes = Vec::with_capacity(planned.len());
        for (i, t) in planned.iter().enumerate() {
            if index.insert(t.name.clone(), i).is_some() {
                anyhow::bail!("weight {:?} is planned twice", t.name);
            }
            let count = t.shape.iter().try_fold(1u64, |a, &d| a.checked_mul(d));
            let size = count.and_then(|c| t.dtype.bytes_for(c));
            let (Some(count), Some(size)) = (count, size) else {
                anyhow::bail!(
                    "weight {:?}: shape {:?} of {} is too large",
                    t.name,
                    t.shape,
                    t.dtype
                );
            };
            counts.push(usize::try_from(count)?);
            sizes.push(usize::try_from(size)?);
        }
        Ok(Plan {
            tensors: planned.to_vec(),
            counts,
            sizes,
            index,
            added: vec![false; planned.len()],
        })
    }

    /// Checks `t` against the plan and returns its index. Marks it added only via
    /// [`Plan::mark_added`], after it was written.
    fn check(&self, t: &TensorView<'_>) -> anyhow::Result<usize> {
        let Some(&i) = self.index.get(t.name) else {
            anyhow::bail!("weight {:?} was not planned", t.name);
        };
        let p = &self.tensors[i];
        anyhow::ensure!(!self.added[i], "weight {:?} was added twice", t.name);
        anyhow::ensure!(
            t.dtype == p.dtype,
            "weight {:?} is {}, planned as {}",
            t.name,
            t.dtype,
            p.dtype
        );
        anyhow::ensure!(
            t.shape == p.shape.as_slice(),
            "weight {:?} has shape {:?}, planned {:?}",
            t.name,
            t.shape,
            p.shape
        );
        anyhow::ensure!(
            t.data.len() == self.sizes[i],
            "weight {:?}: {} bytes given, {} elements of {} need {}",
            t.name,
            t.data.len(),
            self.counts[i],
            t.dtype,
            self.sizes[i]
        );
        if t.dtype == DataType::Bool {
            // Any other byte would not survive as a NumPy bool, nor mean anything as one.
            if let Some(at) = t.data.iter().position(|&b| b > 1) {
                anyhow::bail!(
                    "weight {:?}: bool element {at} holds byte {}, not 0 or 1",
                    t.name,
                    t.data[at]
                );
            }
        }
        Ok(i)
    }

    fn mark_added(&mut self, i: usize) {
        self.added[i] = true;
    }

    /// An error naming the tensors never added, if any.
    fn check_complete(&self, path: &Path) -> anyhow::Result<()> {
        let missing: Vec<&str> = self
            .tensors
            .iter()
            .zip(&self.added)
            .filter(|(_, a)| !**a)
            .map(|(t, _)| t.name.as_str())
            .collect();
        if missing.is_empty() {
            return Ok(());
        }
        let shown: Vec<String> = missing.iter().take(5).map(|n| format!("{n:?}")).collect();
        anyhow::bail!(
            "not writing `{}`: {} planned weight(s) never added: {}{}",
            path.display(),
            missing.len(),
            shown.join(", "),
            if missing.len() > 5 { ", ..." } else { "" }
        )
    }
}

/// Index entry for `.npz` and `.npy` outputs (see docs/writers.md).
#[derive(Serialize)]
pub(crate) struct IndexEntry<'a> {
    pub name: &'a str,
    /// `.npz` member name or `.npy` file name, `.npy` included (NumPy's `NpzFile[...]` takes it).
    pub file: &'a str,
    pub refit_dtype: &'static str,
    pub stored_dtype: &'static str,
    pub shape: &'a [u64],
    pub shape_source: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub shape_from: Option<&'a str>,
}

#[derive(Serialize)]
pub(crate) struct Index<'a> {
    pub format: &'static str,
    pub version: u32,
    pub metadata: &'a BTreeMap<String, String>,
    pub weights: Vec<IndexEntry<'a>>,
}

pub(crate) fn shape_source_fields(s: &ShapeSource) -> (&'static str, Option<&str>) {
    match s {
        ShapeSource::Flat => ("flat", None),
        ShapeSource::Recovered { from } => ("recovered", Some(from.as_str())),
    }
}

/// Builds the index of `.npz`/`.npy` outputs; `files[i]` is where `plan.tensors[i]` is stored.
pub(crate) fn index_json(
    format: &'static str,
    metadata: &BTreeMap<String, String>,
    plan: &Plan,
    files: &[String],
) -> Vec<u8> {
    let mut weights: Vec<IndexEntry<'_>> = plan
        .tensors
        .iter()
        .zip(files)
        .map(|(t, f)| {
            let (shape_source, shape_from) = shape_source_fields(&t.shape_source);
            IndexEntry {
                name: &t.name,
                file: f,
                refit_dtype: t.dtype.name(),
                stored_dtype: convert::numpy_dtype(t.dtype),
                shape: &t.shape,
                shape_source,
                shape_from,
            }
        })
        .collect();
    weights.sort_by(|a, b| a.name.cmp(b.name));
    let index = Index {
        format,
        version: 1,
        metadata,
        weights,
    };
    serde_json::to_vec_pretty(&index).expect("the index is plain data")
}

/// The index as compact JSON (the `.npz` comment; see docs/writers.md): the same keys as
/// [`index_json`], version 2.
pub(crate) fn index_json_compact(
    format: &'static str,
    metadata: &BTreeMap<String, String>,
    plan: &Plan,
    files: &[String],
) -> Vec<u8> {
    let pretty = index_json(format, metadata, plan, files);
    let mut v: serde_json::Value = serde_json::from_slice(&pretty).expect("just written");
    v["version"] = 2.into();
    serde_json::to_vec(&v).expect("the index is plain data")
}

/// Shape as ndarray wants it.
pub(crate) fn usize_shape(shape: &[u64]) -> anyhow::Result<Vec<usize>> {
    shape
        .iter()
        .map(|&d| usize::try_from(d).map_err(anyhow::Error::from))
        .collect()
}

/// The I/O error behind a library error, if there is one (for a hint that fits, like a full disk).
pub(crate) fn io_cause<'a>(e: &'a (dyn std::error::Error + 'static)) -> Option<&'a std::io::Error> {
    let mut cur = Some(e);
    while let Some(c) = cur {
        if let Some(io) = c.downcast_ref::<std::io::Error>() {
            return Some(io);
        }
        cur = c.source();
    }
    None
}

/// A writer library's error as an `OutputNotWritten` error.
pub(crate) fn lib_failure(
    path: &Path,
    doing: &str,
    e: &(dyn std::error::Error + 'static),
) -> anyhow::Error {
    match io_cause(e) {
        Some(io) => atomic::io_failure(path, doing, io),
        None => atomic::not_written(
            path,
            format!("{doing}: {e}"),
            "this is likely a bug in trt-dump; please report it",
        ),
    }
}

#[cfg(test)]
mod tests;
