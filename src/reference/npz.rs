//! `.npz`: a zip archive of `.npy` members, as `numpy.savez` / `savez_compressed` write it.
//!
//! ndarray-npy reads arrays only into element types it knows at compile time and has no float16,
//! so we read each member ourselves: the zip crate (which ndarray-npy uses too) for the archive,
//! ndarray-npy's `Header` parser for the `.npy` header dictionary, and our own checks around both.
//! We read the header's fixed prefix first and cap its declared length before handing the bytes to
//! the parser, because the parser itself would allocate whatever length the file claims (up to 4
//! GiB) and recurses on nested brackets.

use std::collections::HashMap;
use std::fs::File;
use std::io::{Cursor, Read};
use std::path::Path;

use ndarray_npy::npy::header::{Header, Layout};
use zip::ZipArchive;

use super::{limits, read_exact_vec, unreadable, Loaded, RefTensor, Skipped, TensorShape};
use crate::dtype::DataType;

const MAGIC: &[u8; 6] = b"\x93NUMPY";

/// What a `.npy` header says, checked.
pub(super) struct NpyHeader {
    pub(super) descr: String,
    /// TensorRT dtype and whether the stored bytes are big-endian; `Err` says why unsupported.
    pub(super) dtype: Result<(DataType, bool), String>,
    pub(super) fortran: bool,
    pub(super) shape: Vec<u64>,
    /// Bytes of the member taken by the header (magic, version, length, dictionary).
    pub(super) header_len: u64,
}

/// numpy's dtype string (`<f4`, `|b1`, `>i8`) to a TensorRT dtype plus "stored big-endian".
fn map_descr(descr: &str) -> Result<(DataType, bool), String> {
    let (order, code) = match descr.as_bytes().first() {
        Some(b'<' | b'=') => (false, &descr[1..]),
        Some(b'>') => (true, &descr[1..]),
        Some(b'|') => (false, &descr[1..]),
        _ => (false, descr),
    };
    let dt = match code {
        "b1" | "?" => DataType::Bool,
        "i1" => DataType::Int8,
        "u1" => DataType::Uint8,
        "i4" => DataType::Int32,
        "i8" => DataType::Int64,
        "f2" => DataType::Half,
        "f4" => DataType::Float,
        _ => {
            return Err(format!("numpy dtype `{descr}` has no TensorRT equivalent"));
        }
    };
    Ok((dt, order && dt.bits() > 8))
}

/// Deepest bracket nesting in a Python literal; the header parser recurses once per level.
fn nesting_depth(s: &[u8]) -> usize {
    let (mut depth, mut max) = (0usize, 0usize);
    for &b in s {
        match b {
            b'(' | b'[' | b'{' => {
                depth += 1;
                max = max.max(depth);
            }
            b')' | b']' | b'}' => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    max
}

pub(super) fn read_npy_header(r: &mut impl Read) -> Result<NpyHeader, String> {
    let mut prefix = [0u8; 8];
    r.read_exact(&mut prefix)
        .map_err(|e| format!("no .npy header: {e}"))?;
    if &prefix[..6] != MAGIC {
        return Err("not a .npy member (bad magic bytes)".into());
    }
    let mut full = prefix.to_vec();
    let dict_len = match prefix[6] {
        1 => {
            let mut b = [0u8; 2];
            r.read_exact(&mut b)
                .map_err(|e| format!("truncated .npy header: {e}"))?;
            full.extend_from_slice(&b);
            u64::from(u16::from_le_bytes(b))
        }
        2 | 3 => {
            let mut b = [0u8; 4];
            r.read_exact(&mut b)
                .map_err(|e| format!("truncated .npy header: {e}"))?;
            full.extend_from_slice(&b);
            u64::from(u32::from_le_bytes(b))
        }
        v => return Err(format!(".npy format version {v} is not known")),
    };
    if dict_len > limits::MAX_NPY_HEADER as u64 {
        return Err(format!(
            ".npy header claims {dict_len} bytes (more than {})",
            limits::MAX_NPY_HEADER
        ));
    }
    let dict = read_exact_vec(r, dict_len).map_err(|e| format!("truncated .npy header: {e}"))?;
    // Real headers nest two levels (`{'shape': (2, 3)}`); structured dtypes a few more.
    if nesting_depth(&dict) > 8 {
        return Err(".npy header nests brackets too deeply".into());
    }
    full.extend_from_slice(&dict);
    let header_len = full.len() as u64;
    let h = Header::from_reader(&mut Cursor::new(full))
        .map_err(|e| format!("invalid .npy header: {e}"))?;
    let descr = match h.type_descriptor.as_string() {
        Some(s) => s.clone(),
        None => format!("{}", h.type_descriptor),
    };
    let dtype = match h.type_descriptor.as_string() {
        Some(s) => map_descr(s),
        None => Err(format!(
            "structured numpy dtype {descr} is not a weight type"
        )),
    };
    if h.shape.len() > limits::MAX_RANK {
        return Err(format!(
            "{} dimensions (more than {})",
            h.shape.len(),
            limits::MAX_RANK
        ));
    }
    Ok(NpyHeader {
        descr,
        dtype,
        fortran: h.layout == Layout::Fortran,
        shape: h.shape.iter().map(|&d| d as u64).collect(),
        header_len,
    })
}

fn open_archive(path: &Path) -> anyhow::Result<ZipArchive<File>> {
    let f = super::open(path)?;
    let zip = ZipArchive::new(f)
        .map_err(|e| unreadable(path, format!("not a valid .npz (zip) archive: {e}")))?;
    if zip.len() > limits::MAX_TENSORS {
        return Err(unreadable(
            path,
            format!("{} members (more than {})", zip.len(), limits::MAX_TENSORS),
        ));
    }
    Ok(zip)
}

/// Array name as numpy gives it: the member name less one `.npy` suffix.
fn array_name(member: &str) -> String {
    member.strip_suffix(".npy").unwrap_or(member).to_string()
}

/// trt-dump's own name index, if the archive holds one: member name → exact weight name. Read
/// from the zip comment (what trt-dump writes), or from the `__trt_dump_index__.npy` member of
/// earlier versions (then that member is no weight). Anything else in the comment is ignored.
fn trt_dump_index(
    path: &Path,
    zip: &mut ZipArchive<File>,
) -> anyhow::Result<(HashMap<String, String>, bool)> {
    let from_comment =
        crate::writer::read_index_comment(zip.comment(), limits::MAX_INDEX_BYTES).ok();
    let (json, legacy) = match from_comment.filter(|c| c.starts_with(b"{")) {
        Some(c) => (c, false),
        None => match zip.by_name(LEGACY_INDEX) {
            Ok(mut m) => {
                let h = read_npy_header(&mut m)
                    .map_err(|e| unreadable(path, format!("`{LEGACY_INDEX}`: {e}")))?;
                let len = m
                    .size()
                    .saturating_sub(h.header_len)
                    .min(limits::MAX_INDEX_BYTES);
                (
                    read_exact_vec(&mut m, len)
                        .map_err(|e| unreadable(path, format!("`{LEGACY_INDEX}`: {e}")))?,
                    true,
                )
            }
            Err(_) => return Ok((HashMap::new(), false)),
        },
    };
    let Ok(v) = serde_json::from_slice::<serde_json::Value>(&json) else {
        return Ok((HashMap::new(), legacy));
    };
    if v.get("format").and_then(|f| f.as_str()) != Some("trt-dump-npz") {
        return Ok((HashMap::new(), false));
    }
    let mut map = HashMap::new();
    for w in v
        .get("weights")
        .and_then(|w| w.as_array())
        .into_iter()
        .flatten()
    {
        if let (Some(n), Some(f)) = (
            w.get("name").and_then(|x| x.as_str()),
            w.get("file").and_then(|x| x.as_str()),
        ) {
            map.insert(f.to_string(), n.to_string());
        }
    }
    Ok((map, legacy))
}

const LEGACY_INDEX: &str = "__trt_dump_index__.npy";

fn visit(
    path: &Path,
    mut each: impl FnMut(String, NpyHeader, &mut dyn Read, u64) -> anyhow::Result<()>,
) -> anyhow::Result<()> {
    let mut zip = open_archive(path)?;
    let (index, legacy) = trt_dump_index(path, &mut zip)?;
    for i in 0..zip.len() {
        let mut member = zip
            .by_index(i)
            .map_err(|e| unreadable(path, format!("cannot read archive member {i}: {e}")))?;
        if member.is_dir() || (legacy && member.name() == LEGACY_INDEX) {
            continue;
        }
        let name = index
            .get(member.name())
            .cloned()
            .unwrap_or_else(|| array_name(member.name()));
        super::check_name(&name).map_err(|m| unreadable(path, m))?;
        let declared_size = member.size();
        let header = read_npy_header(&mut member)
            .map_err(|m| unreadable(path, format!("array `{name}`: {m}")))?;
        each(name, header, &mut member, declared_size)?;
    }
    Ok(())
}

pub(super) fn load(path: &Path) -> anyhow::Result<Loaded> {
    let mut loaded = Loaded::default();
    visit(path, |name, h, member, declared_size| {
        read_array(path, &mut loaded, name, h, member, declared_size)
    })?;
    Ok(loaded)
}

/// One `.npy` file (a folder of them is what `dump --format npy` writes), as array `name`.
pub(super) fn load_npy(path: &Path, name: String) -> anyhow::Result<Loaded> {
    let mut f = super::open(path)?;
    let size = f
        .metadata()
        .map(|m| m.len())
        .map_err(|e| unreadable(path, format!("cannot stat: {e}")))?;
    let h = read_npy_header(&mut f).map_err(|m| unreadable(path, m))?;
    let mut loaded = Loaded::default();
    read_array(path, &mut loaded, name, h, &mut f, size)?;
    Ok(loaded)
}

fn read_array(
    path: &Path,
    loaded: &mut Loaded,
    name: String,
    h: NpyHeader,
    member: &mut dyn Read,
    declared_size: u64,
) -> anyhow::Result<()> {
    {
        let (dtype, big_endian) = match h.dtype {
            Ok(d) => d,
            Err(reason) => {
                loaded.skipped.push(Skipped { name, reason });
                return Ok(());
            }
        };
        let bad = |m: String| unreadable(path, format!("array `{name}`: {m}"));
        let count = super::element_count(&h.shape)
            .ok_or_else(|| bad(format!("shape {:?} overflows 64 bits", h.shape)))?;
        let bytes = super::data_bytes(dtype, count).map_err(bad)?;
        // The zip entry's own size must cover header + data; checking it first turns a lying
        // shape into a clear error instead of a long read.
        if h.header_len
            .checked_add(bytes)
            .is_none_or(|need| need > declared_size)
        {
            return Err(bad(format!(
                "shape {:?} of {} needs {bytes} bytes but the member holds {}",
                h.shape,
                h.descr,
                declared_size.saturating_sub(h.header_len)
            )));
        }
        let mut data =
            read_exact_vec(member, bytes).map_err(|e| bad(format!("truncated data: {e}")))?;
        if big_endian {
            let size = (dtype.bits() / 8) as usize;
            data.chunks_exact_mut(size).for_each(<[u8]>::reverse);
        }
        if h.fortran && h.shape.len() > 1 {
            data = fortran_to_c(&data, &h.shape, (dtype.bits() / 8) as usize);
        }
        loaded.tensors.push(RefTensor {
            name,
            dtype,
            shape: h.shape,
            data,
        });
        Ok(())
    }
}

pub(super) fn load_shapes(path: &Path) -> anyhow::Result<Vec<TensorShape>> {
    let mut out = Vec::new();
    visit(path, |name, h, _, _| {
        out.push(TensorShape {
            name,
            dtype: h.dtype.ok().map(|(d, _)| d),
            source_dtype: h.descr,
            shape: h.shape,
        });
        Ok(())
    })?;
    Ok(out)
}

/// Reorders a Fortran-order (column-major) array into C order. `data.len()` is the product of
/// `shape` times `elem` (checked by the caller), so every index below is in bounds.
pub(super) fn fortran_to_c(data: &[u8], shape: &[u64], elem: usize) -> Vec<u8> {
    let rank = shape.len();
    // Fortran strides, in elements: axis 0 varies fastest.
    let mut fstride = vec![1u64; rank];
    for k in 1..rank {
        fstride[k] = fstride[k - 1] * shape[k - 1];
    }
    let mut out = Vec::with_capacity(data.len());
    let mut idx = vec![0u64; rank];
    let count = data.len() / elem.max(1);
    for _ in 0..count {
        let src: u64 = idx.iter().zip(&fstride).map(|(i, s)| i * s).sum();
        let s = src as usize * elem;
        out.extend_from_slice(&data[s..s + elem]);
        // C order: the last axis varies fastest.
        for k in (0..rank).rev() {
            idx[k] += 1;
            if idx[k] < shape[k] {
                break;
            }
            idx[k] = 0;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn descr_mapping() {
        assert_eq!(map_descr("<f4"), Ok((DataType::Float, false)));
        assert_eq!(map_descr(">f2"), Ok((DataType::Half, true)));
        assert_eq!(map_descr("|b1"), Ok((DataType::Bool, false)));
        assert_eq!(map_descr(">i1"), Ok((DataType::Int8, false)));
        assert!(map_descr("<f8").unwrap_err().contains("<f8"));
        assert!(map_descr("<u2").is_err());
        assert!(map_descr("|V2").is_err());
    }

    #[test]
    fn fortran_order_is_transposed_into_c_order() {
        // [[1,2,3],[4,5,6]] stored column-major: 1 4 2 5 3 6.
        let f: Vec<u8> = vec![1, 4, 2, 5, 3, 6];
        assert_eq!(fortran_to_c(&f, &[2, 3], 1), vec![1, 2, 3, 4, 5, 6]);
        // 3-D: shape (2,2,2), value = 100*i + 10*j + k at Fortran offset i + 2j + 4k.
        let mut f = vec![0u8; 8];
        for i in 0..2 {
            for j in 0..2 {
                for k in 0..2 {
                    f[i + 2 * j + 4 * k] = (4 * i + 2 * j + k) as u8;
                }
            }
        }
        assert_eq!(fortran_to_c(&f, &[2, 2, 2], 1), (0..8).collect::<Vec<u8>>());
    }

    #[test]
    fn deep_nesting_is_refused_before_parsing() {
        assert_eq!(nesting_depth(b"{'shape': (2, 3)}"), 2);
        let mut h = b"\x93NUMPY\x01\x00".to_vec();
        let dict = format!("{}\n", "(".repeat(5000));
        h.extend_from_slice(&(dict.len() as u16).to_le_bytes());
        h.extend_from_slice(dict.as_bytes());
        let e = read_npy_header(&mut h.as_slice()).err().unwrap();
        assert!(e.contains("too deeply"), "{e}");
    }

    #[test]
    fn huge_header_length_is_refused_without_allocating() {
        let mut h = b"\x93NUMPY\x02\x00".to_vec();
        h.extend_from_slice(&u32::MAX.to_le_bytes());
        let e = read_npy_header(&mut h.as_slice()).err().unwrap();
        assert!(e.contains("more than"), "{e}");
    }
}
