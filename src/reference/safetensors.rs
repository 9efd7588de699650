//! safetensors: an 8-byte little-endian header length, a JSON header, then the tensors' bytes.
//!
//! The header is parsed and validated by the safetensors crate's own `Metadata` (offsets contiguous
//! from 0, each tensor's byte size equal to its shape times its dtype, with checked arithmetic);
//! on top of that we cap the header length, require the data to end exactly at the end of the file,
//! and then read each tensor straight from the file into its own buffer, so loading costs one copy
//! of the weights in memory and `load_shapes` reads nothing past the header.

use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::path::Path;

use safetensors::tensor::Metadata;
use safetensors::Dtype;

use super::{limits, read_exact_vec, unreadable, Loaded, RefTensor, Skipped, TensorShape};
use crate::dtype::DataType;

/// TensorRT's name for a safetensors dtype, if it has one. safetensors' F4 is MXFP4 E2M1 packed two
/// per byte with the first element in the low nibble, as TensorRT packs `kFP4`.
pub(crate) fn map_dtype(d: Dtype) -> Option<DataType> {
    Some(match d {
        Dtype::BOOL => DataType::Bool,
        Dtype::U8 => DataType::Uint8,
        Dtype::I8 => DataType::Int8,
        Dtype::F8_E4M3 => DataType::Fp8,
        Dtype::F8_E8M0 => DataType::E8m0,
        Dtype::F16 => DataType::Half,
        Dtype::BF16 => DataType::Bf16,
        Dtype::I32 => DataType::Int32,
        Dtype::F32 => DataType::Float,
        Dtype::I64 => DataType::Int64,
        Dtype::F4 => DataType::Fp4,
        // F64, U16, I16, U32, U64, C64, F6_*, F8_E5M2 and the FNUZ variants have no TensorRT
        // weight type; the enum is non-exhaustive, so anything newer lands here too.
        _ => return None,
    })
}

struct Header {
    /// Where the data section starts in the file (8 + header length).
    data_start: u64,
    /// (name, dtype, shape, start, end) in data order; offsets relative to `data_start`.
    entries: Vec<(String, Dtype, Vec<u64>, u64, u64)>,
}

fn read_header(path: &Path, f: &mut File) -> anyhow::Result<Header> {
    let file_len = f
        .metadata()
        .map_err(|e| unreadable(path, format!("cannot stat: {e}")))?
        .len();
    let mut len_bytes = [0u8; 8];
    f.read_exact(&mut len_bytes).map_err(|_| {
        unreadable(
            path,
            format!("file is {file_len} bytes: too short for a safetensors header"),
        )
    })?;
    let n = u64::from_le_bytes(len_bytes);
    if n > limits::MAX_SAFETENSORS_HEADER {
        return Err(unreadable(
            path,
            format!(
                "safetensors header claims {n} bytes (more than the {} allowed)",
                limits::MAX_SAFETENSORS_HEADER
            ),
        ));
    }
    let data_start = n + 8; // n is capped above, no overflow
    if data_start > file_len {
        return Err(unreadable(
            path,
            format!("truncated: the safetensors header claims {n} bytes but the file has {file_len} in all"),
        ));
    }
    let header = read_exact_vec(f, n)
        .map_err(|e| unreadable(path, format!("cannot read the header: {e}")))?;
    let metadata: Metadata = serde_json::from_slice(&header)
        .map_err(|e| unreadable(path, format!("invalid safetensors header: {e}")))?;
    let data_len = metadata.data_len() as u64;
    if data_start.checked_add(data_len) != Some(file_len) {
        return Err(unreadable(
            path,
            format!(
                "the header describes {data_len} bytes of tensor data but the file holds {} after \
                 the header (truncated or padded file)",
                file_len - data_start
            ),
        ));
    }
    let tensors = metadata.tensors();
    if tensors.len() > limits::MAX_TENSORS {
        return Err(unreadable(
            path,
            format!(
                "{} tensors (more than {})",
                tensors.len(),
                limits::MAX_TENSORS
            ),
        ));
    }
    let mut entries = Vec::with_capacity(tensors.len());
    for (name, info) in tensors {
        super::check_name(&name).map_err(|m| unreadable(path, m))?;
        super::check_rank(&name, info.shape.len()).map_err(|m| unreadable(path, m))?;
        let shape = info.shape.iter().map(|&d| d as u64).collect();
        let (s, e) = info.data_offsets;
        entries.push((name, info.dtype, shape, s as u64, e as u64));
    }
    // Metadata validated that offsets are contiguous; sorting by them reads the file front to back.
    entries.sort_by_key(|e| (e.3, e.4));
    Ok(Header {
        data_start,
        entries,
    })
}

pub(super) fn load(path: &Path) -> anyhow::Result<Loaded> {
    let mut f = super::open(path)?;
    let header = read_header(path, &mut f)?;
    let mut loaded = Loaded::default();
    for (name, dtype, shape, start, end) in header.entries {
        let Some(dt) = map_dtype(dtype) else {
            loaded.skipped.push(Skipped {
                name,
                reason: format!("dtype {dtype:?} has no TensorRT equivalent"),
            });
            continue;
        };
        // start/end were checked against the file length in read_header (data ends at file end).
        f.seek(SeekFrom::Start(header.data_start + start))
            .map_err(|e| unreadable(path, format!("cannot seek to tensor `{name}`: {e}")))?;
        let data = read_exact_vec(&mut f, end - start)
            .map_err(|e| unreadable(path, format!("cannot read tensor `{name}`: {e}")))?;
        loaded.tensors.push(RefTensor {
            name,
            dtype: dt,
            shape,
            data,
        });
    }
    Ok(loaded)
}

pub(super) fn load_shapes(path: &Path) -> anyhow::Result<Vec<TensorShape>> {
    let mut f = super::open(path)?;
    let header = read_header(path, &mut f)?;
    Ok(header
        .entries
        .into_iter()
        .map(|(name, dtype, shape, _, _)| TensorShape {
            name,
            dtype: map_dtype(dtype),
            source_dtype: format!("{dtype:?}"),
            shape,
        })
        .collect())
}
