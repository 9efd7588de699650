//! safetensors, streamed: the header (every offset is known from the plan) goes first, then each
//! tensor's bytes are written at their offset as they arrive, so no tensor is held twice and the
//! file is never assembled in memory.
//!
//! The layout is the one `safetensors::serialize` produces: tensors ordered by dtype, widest
//! first, then by name (so every tensor is aligned to its element size: the header is padded to
//! 8 bytes), `__metadata__` first in the header. The header is written here rather than by the
//! crate because the crate keeps `__metadata__` in a `HashMap`, whose order changes from run to
//! run; ours is sorted, so the same input gives the same bytes.

use std::collections::BTreeMap;
use std::io::{Seek, SeekFrom, Write};
use std::path::Path;

use safetensors::tensor::TensorInfo;
use safetensors::Dtype;
use serde::Serialize;

use super::atomic::{self, io_failure, not_written, Output, StagedFile, Wrap};
use super::convert::{self, StLayout};
use super::{shape_source_fields, usize_shape, Format, Plan, TensorSink, TensorView, WriterOptions, Written, WrittenTensor};

/// safetensors readers refuse larger headers (`MAX_HEADER_SIZE` in the crate).
const MAX_HEADER_BYTES: usize = 100_000_000;

/// Key holding the tensor name that `__metadata__` itself would clash with.
const METADATA_KEY: &str = "__metadata__";

pub(super) fn dtype_name(d: Dtype) -> &'static str {
    match d {
        Dtype::BOOL => "BOOL",
        Dtype::U8 => "U8",
        Dtype::I8 => "I8",
        Dtype::F8_E4M3 => "F8_E4M3",
        Dtype::F8_E8M0 => "F8_E8M0",
        Dtype::F4 => "F4",
        Dtype::F16 => "F16",
        Dtype::BF16 => "BF16",
        Dtype::I32 => "I32",
        Dtype::F32 => "F32",
        Dtype::I64 => "I64",
        // Never produced by this writer.
        _ => "other",
    }
}

/// Per weight, in `__metadata__["trt_dump.weights"]`.
#[derive(Serialize)]
struct WeightMeta<'a> {
    refit_dtype: &'static str,
    stored_dtype: &'static str,
    shape: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    shape_from: Option<&'a str>,
    /// Only when the key differs from the name (a weight named `__metadata__`).
    #[serde(skip_serializing_if = "Option::is_none")]
    key: Option<&'a str>,
}

struct Entry {
    key: String,
    dtype: Dtype,
    layout: StLayout,
    /// Offsets within the data section.
    begin: u64,
    end: u64,
}

struct Sink {
    plan: Plan,
    entries: Vec<Entry>,
    data_start: u64,
    staged: StagedFile,
    out: Box<dyn Output>,
    failed: bool,
}

pub(super) fn open(path: &Path, opts: &WriterOptions, plan: Plan, wrap: Wrap) -> anyhow::Result<Box<dyn TensorSink>> {
    let target = atomic::file_target(path, opts.force)?;

    let mut entries = Vec::with_capacity(plan.tensors.len());
    for (i, t) in plan.tensors.iter().enumerate() {
        let (dtype, layout) = convert::safetensors_dtype(t.dtype, &t.shape);
        let key = if t.name == METADATA_KEY {
            (1u32..)
                .map(|k| format!("{METADATA_KEY}~{k}"))
                .find(|k| !plan.tensors.iter().any(|o| &o.name == k))
                .expect("some suffix is free")
        } else {
            t.name.clone()
        };
        let count = plan.counts[i] as u64;
        let bytes = (count * dtype.bitsize() as u64).div_ceil(8);
        entries.push(Entry { key, dtype, layout, begin: 0, end: bytes });
    }

    // The crate's order: widest dtype first, then by key.
    let mut order: Vec<usize> = (0..entries.len()).collect();
    order.sort_by(|&a, &b| entries[b].dtype.cmp(&entries[a].dtype).then_with(|| entries[a].key.cmp(&entries[b].key)));
    let mut offset = 0u64;
    for &i in &order {
        let len = entries[i].end;
        entries[i].begin = offset;
        offset = offset.checked_add(len).ok_or_else(|| anyhow::anyhow!("tensors too large"))?;
        entries[i].end = offset;
    }

    let mut metadata = opts.metadata.clone();
    // transformers refuses safetensors whose metadata lacks a known `format`; the dtypes here are
    // torch's.
    metadata.entry("format".into()).or_insert_with(|| "pt".into());
    metadata.insert("trt_dump.format_version".into(), "1".into());
    let weights: BTreeMap<&str, WeightMeta<'_>> = plan
        .tensors
        .iter()
        .zip(&entries)
        .map(|(t, e)| {
            let (shape, shape_from) = shape_source_fields(&t.shape_source);
            let key = (e.key != t.name).then_some(e.key.as_str());
            (t.name.as_str(), WeightMeta { refit_dtype: t.dtype.name(), stored_dtype: dtype_name(e.dtype), shape, shape_from, key })
        })
        .collect();
    metadata.insert("trt_dump.weights".into(), serde_json::to_string(&weights)?);

    let mut header = Vec::new();
    header.extend_from_slice(b"{\"__metadata__\":");
    serde_json::to_writer(&mut header, &metadata)?;
    for &i in &order {
        let e = &entries[i];
        header.push(b',');
        serde_json::to_writer(&mut header, &e.key)?;
        header.push(b':');
        let info = TensorInfo {
            dtype: e.dtype,
            shape: usize_shape(&plan.tensors[i].shape)?,
            data_offsets: (usize::try_from(e.begin)?, usize::try_from(e.end)?),
        };
        serde_json::to_writer(&mut header, &info)?;
    }
    header.push(b'}');
    // Padded with spaces to 8 bytes, as the crate does, so tensor data starts aligned.
    header.resize(header.len().next_multiple_of(8), b' ');
    if header.len() > MAX_HEADER_BYTES {
        return Err(not_written(
            path,
            format!("the safetensors header would be {} bytes, over the {MAX_HEADER_BYTES} that readers accept", header.len()),
            "write .npz or .npy instead",
        ));
    }

    let (staged, mut out) = StagedFile::create(target, &wrap)?;
    let written = out.write_all(&(header.len() as u64).to_le_bytes()).and_then(|()| out.write_all(&header));
    if let Err(e) = written {
        return Err(io_failure(path, "writing the header", &e));
    }
    Ok(Box::new(Sink { plan, entries, data_start: 8 + header.len() as u64, staged, out, failed: false }))
}

impl TensorSink for Sink {
    fn add(&mut self, t: &TensorView<'_>) -> anyhow::Result<()> {
        let path = self.staged.target.path.clone();
        anyhow::ensure!(!self.failed, "an earlier write to `{}` failed", path.display());
        let i = self.plan.check(t)?;
        let e = &self.entries[i];
        let count = self.plan.counts[i];
        let out: &mut dyn Output = &mut *self.out;
        let r = out
            .seek(SeekFrom::Start(self.data_start + e.begin))
            .and_then(|_| convert::write_safetensors_data(e.layout, t.data, count, out));
        if let Err(err) = r {
            self.failed = true;
            return Err(io_failure(&path, &format!("writing weight {:?}", t.name), &err));
        }
        self.plan.mark_added(i);
        Ok(())
    }

    fn finish(self: Box<Self>) -> anyhow::Result<Written> {
        let Sink { plan, entries, data_start, staged, mut out, failed } = *self;
        let path = staged.target.path.clone();
        anyhow::ensure!(!failed, "an earlier write to `{}` failed", path.display());
        plan.check_complete(&path)?;
        let end = data_start + entries.iter().map(|e| e.end).max().unwrap_or(0);
        // Leave the position at the end, where `commit` reads the size from.
        out.seek(SeekFrom::Start(end)).map_err(|e| io_failure(&path, "writing it", &e))?;
        let bytes = staged.commit(out)?;
        debug_assert_eq!(bytes, end);
        let tensors = plan
            .tensors
            .iter()
            .zip(entries)
            .map(|(t, e)| WrittenTensor { name: t.name.clone(), stored_as: e.key, stored_dtype: dtype_name(e.dtype) })
            .collect();
        Ok(Written { path, format: Format::Safetensors, bytes, tensors })
    }
}
