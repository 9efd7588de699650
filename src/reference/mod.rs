//! Reference weights read from the files a model came from: safetensors, `.npz` and ONNX.
//!
//! `verify`, `locate` and `--shapes-from` compare an engine with such a file. Every reference file
//! is untrusted input: each length and offset read from it is checked against the file's real size
//! before anything is allocated or read, every count is capped, and a bad file is an
//! [`ErrorKind::InputUnreadable`] error naming the file and what is wrong, never a panic.
//!
//! Tensors come back in TensorRT's terms: a [`DataType`], a C-order shape and little-endian bytes
//! packed as refit buffers are (4-bit types two per byte, low nibble first). Tensors whose dtype has
//! no TensorRT equivalent (float64, uint16, strings, ...) are not an error: they are listed in
//! [`Loaded::skipped`] with the reason, because real checkpoints carry such tensors (step counters,
//! float64 buffers) next to the weights, and refusing the whole file for them would help nobody.

mod npy_dir;
mod npz;
mod onnx;
mod protobuf;
mod safetensors;

use std::fmt;
use std::fs::File;
use std::io::Read;
use std::path::Path;

use crate::dtype::DataType;
use crate::error::{Error, ErrorKind};

/// One reference tensor with its values.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RefTensor {
    pub name: String,
    pub dtype: DataType,
    /// C order (row-major); empty for a scalar.
    pub shape: Vec<u64>,
    /// Little-endian, refit-style packing (4-bit types two per byte, low nibble first).
    pub data: Vec<u8>,
}

impl RefTensor {
    /// Element count (the product of the shape; 1 for a scalar).
    pub fn count(&self) -> u64 {
        element_count(&self.shape).unwrap_or(u64::MAX)
    }
}

/// A tensor's name, dtype and shape, without its values (what `--shapes-from` needs).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TensorShape {
    pub name: String,
    /// `None` when the file's dtype has no TensorRT equivalent; the shape is still usable.
    pub dtype: Option<DataType>,
    /// The dtype as the file names it (`F32`, `<f4`, `FLOAT`), for messages.
    pub source_dtype: String,
    pub shape: Vec<u64>,
}

impl TensorShape {
    pub fn count(&self) -> Option<u64> {
        element_count(&self.shape)
    }
}

/// A tensor that was read but left out, and why.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Skipped {
    pub name: String,
    pub reason: String,
}

/// Everything read from one reference file.
#[derive(Clone, Debug, Default)]
pub struct Loaded {
    pub format: Option<Format>,
    pub tensors: Vec<RefTensor>,
    pub skipped: Vec<Skipped>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    Safetensors,
    Npz,
    Onnx,
    /// A folder of `.npy` files (`dump --format npy` writes one).
    NpyDir,
}

impl fmt::Display for Format {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Format::Safetensors => "safetensors",
            Format::Npz => "npz",
            Format::Onnx => "ONNX",
            Format::NpyDir => "npy folder",
        })
    }
}

/// Caps on what a reference file may declare. Generous for real models, small enough that a lying
/// file cannot make us allocate or loop without bound.
pub mod limits {
    /// Tensors in one file (the largest real checkpoints hold tens of thousands).
    pub const MAX_TENSORS: usize = 1_000_000;
    /// Bytes in one tensor name.
    pub const MAX_NAME_LEN: usize = 64 * 1024;
    /// Dimensions of one tensor (numpy's own limit is 64).
    pub const MAX_RANK: usize = 64;
    /// safetensors header bytes (the safetensors crate's own cap).
    pub const MAX_SAFETENSORS_HEADER: u64 = 100_000_000;
    /// `.npy` header bytes inside an `.npz` (numpy itself refuses more than 10,000 by default).
    pub const MAX_NPY_HEADER: usize = 64 * 1024;
    /// Bytes of trt-dump's own name index (`.npz` comment or `index.json` of a `.npy` folder).
    pub const MAX_INDEX_BYTES: u64 = 256 << 20;
}

/// Reads every tensor of a reference file, warning (through `messages`) about each tensor left
/// out for its dtype. See [`load_all`] for the list instead of warnings.
pub fn load(path: &Path) -> anyhow::Result<Vec<RefTensor>> {
    let loaded = load_all(path)?;
    for s in &loaded.skipped {
        crate::warn!(
            "`{}`: tensor `{}` left out: {}",
            path.display(),
            s.name,
            s.reason
        );
    }
    Ok(loaded.tensors)
}

/// Reads every tensor of a reference file; tensors of dtypes TensorRT has no name for are listed in
/// [`Loaded::skipped`]. Tensors come in file order (safetensors: by data offset).
pub fn load_all(path: &Path) -> anyhow::Result<Loaded> {
    let format = detect(path)?;
    let mut loaded = match format {
        Format::Safetensors => safetensors::load(path)?,
        Format::Npz => npz::load(path)?,
        Format::Onnx => onnx::load(path)?,
        Format::NpyDir => npy_dir::load(path)?,
    };
    loaded.format = Some(format);
    Ok(loaded)
}

/// One `.npy` file, read as the array `name` (dtypes without a TensorRT equivalent are listed in
/// [`Loaded::skipped`]).
pub fn load_npy_file(path: &Path, name: &str) -> anyhow::Result<Loaded> {
    check_name(name).map_err(|m| unreadable(path, m))?;
    npz::load_npy(path, name.to_string())
}

/// Names, dtypes and shapes only, reading as little as the format allows: the safetensors header,
/// the `.npy` headers of an `.npz`, and the ONNX protobuf with every data field skipped (external
/// data is not opened).
pub fn load_shapes(path: &Path) -> anyhow::Result<Vec<TensorShape>> {
    match detect(path)? {
        Format::Safetensors => safetensors::load_shapes(path),
        Format::Npz => npz::load_shapes(path),
        Format::Onnx => onnx::load_shapes(path),
        Format::NpyDir => npy_dir::load_shapes(path),
    }
}

/// Chooses the reader: by content where the format has a signature (safetensors' header length and
/// `{`, a zip's `PK`), by extension otherwise (ONNX has no magic number), so that a truncated
/// `x.safetensors` still gets the safetensors reader's precise complaint.
pub fn detect(path: &Path) -> anyhow::Result<Format> {
    if path.is_dir() {
        return Ok(Format::NpyDir);
    }
    let mut f = open(path)?;
    let file_len = f
        .metadata()
        .map(|m| m.len())
        .map_err(|e| unreadable(path, format!("cannot stat: {e}")))?;
    let mut head = [0u8; 9];
    let n =
        read_up_to(&mut f, &mut head).map_err(|e| unreadable(path, format!("cannot read: {e}")))?;
    let head = &head[..n];
    if head.starts_with(b"PK\x03\x04") || head.starts_with(b"PK\x05\x06") {
        return Ok(Format::Npz);
    }
    if let (Some(len), Some(b'{')) = (head.get(..8), head.get(8)) {
        let declared = u64::from_le_bytes(len.try_into().unwrap_or([0xff; 8]));
        if declared > 0 && declared <= file_len.saturating_sub(8) {
            return Ok(Format::Safetensors);
        }
    }
    let ext = path
        .extension()
        .and_then(|e| e.to_str())
        .map(str::to_ascii_lowercase);
    match ext.as_deref() {
        Some("safetensors") => Ok(Format::Safetensors),
        Some("npz") => Ok(Format::Npz),
        Some("onnx") => Ok(Format::Onnx),
        // A serialized ModelProto starts with a field tag; `ir_version` (field 1, varint: 0x08) is
        // what every exporter writes first.
        _ if head.first() == Some(&0x08) => Ok(Format::Onnx),
        _ => Err(unreadable(
            path,
            "not a safetensors, .npz or ONNX file (no safetensors header, no zip signature, and \
             not named .onnx)"
                .to_string(),
        )),
    }
}

/// An [`ErrorKind::InputUnreadable`] error naming the reference file.
pub(crate) fn unreadable(path: &Path, what: impl fmt::Display) -> anyhow::Error {
    anyhow::Error::new(
        Error::new(ErrorKind::InputUnreadable, format!("reference `{}`: {what}", path.display()))
            .with_hint("pass a .safetensors, .npz or .onnx file of the model the engine was built from, or a folder of .npy files"),
    )
}

pub(crate) fn open(path: &Path) -> anyhow::Result<File> {
    File::open(path).map_err(|e| unreadable(path, format!("cannot open: {e}")))
}

/// Product of the dimensions, `None` on overflow.
pub fn element_count(shape: &[u64]) -> Option<u64> {
    shape.iter().try_fold(1u64, |acc, &d| acc.checked_mul(d))
}

/// Reads until `buf` is full or the reader ends; returns how many bytes were read.
fn read_up_to(r: &mut impl Read, buf: &mut [u8]) -> std::io::Result<usize> {
    let mut n = 0;
    while n < buf.len() {
        match r.read(&mut buf[n..]) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(n)
}

/// Reads exactly `len` bytes, growing the buffer only as data arrives, so a length that lies about
/// a short stream costs no more memory than the stream holds.
fn read_exact_vec<R: Read + ?Sized>(r: &mut R, len: u64) -> std::io::Result<Vec<u8>> {
    const FIRST_CHUNK: u64 = 64 << 20;
    let mut v = Vec::with_capacity(usize::try_from(len.min(FIRST_CHUNK)).unwrap_or(0));
    let got = Read::take(r, len).read_to_end(&mut v)?;
    if (got as u64) < len {
        return Err(std::io::Error::new(
            std::io::ErrorKind::UnexpectedEof,
            format!("{got} of {len} bytes present"),
        ));
    }
    Ok(v)
}

/// Bytes that `count` elements of `dtype` occupy, or a message saying why that is impossible.
fn data_bytes(dtype: DataType, count: u64) -> Result<u64, String> {
    dtype
        .bytes_for(count)
        .ok_or_else(|| format!("{count} elements of {dtype} overflow 64 bits"))
}

fn check_name(name: &str) -> Result<(), String> {
    if name.len() > limits::MAX_NAME_LEN {
        return Err(format!(
            "a tensor name is {} bytes long (more than {})",
            name.len(),
            limits::MAX_NAME_LEN
        ));
    }
    Ok(())
}

fn check_rank(name: &str, rank: usize) -> Result<(), String> {
    if rank > limits::MAX_RANK {
        return Err(format!(
            "tensor `{name}` has {rank} dimensions (more than {})",
            limits::MAX_RANK
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn element_count_overflow_is_none() {
        assert_eq!(element_count(&[]), Some(1));
        assert_eq!(element_count(&[3, 0, 5]), Some(0));
        assert_eq!(element_count(&[u64::MAX, 2]), None);
    }

    #[test]
    fn read_exact_vec_reports_short_streams() {
        let mut r: &[u8] = b"abc";
        assert_eq!(read_exact_vec(&mut r, 2).unwrap(), b"ab");
        let mut r: &[u8] = b"abc";
        let e = read_exact_vec(&mut r, u64::MAX).unwrap_err();
        assert_eq!(e.kind(), std::io::ErrorKind::UnexpectedEof);
    }
}
