//! ONNX models: the initializers of `ModelProto.graph` (onnx/onnx.proto), with their data inline
//! (`raw_data` or the typed `*_data` fields) or in external files beside the model.
//!
//! Only the fields named below are read; everything else (nodes, opsets, metadata) is skipped
//! without being read. Constants held in `Constant` nodes and initializers of subgraphs are not
//! collected: TensorRT's ONNX parser names refittable weights after graph initializers.

use std::collections::HashMap;
use std::fs::File;
use std::io::{Seek, SeekFrom};
use std::path::{Component, Path, PathBuf};

use super::protobuf::{
    decode_varints, encode_varint, for_each_varint, Reader, FIXED32, LEN, VARINT,
};
use super::{limits, read_exact_vec, unreadable, Loaded, RefTensor, Skipped, TensorShape};
use crate::dtype::DataType;

// ModelProto, GraphProto, SparseTensorProto and TensorProto field numbers (onnx.proto).
const MODEL_GRAPH: u32 = 7;
const GRAPH_INITIALIZER: u32 = 5;
const GRAPH_SPARSE_INITIALIZER: u32 = 15;
const SPARSE_VALUES: u32 = 1;
const T_DIMS: u32 = 1;
const T_DATA_TYPE: u32 = 2;
const T_SEGMENT: u32 = 3;
const T_FLOAT_DATA: u32 = 4;
const T_INT32_DATA: u32 = 5;
const T_STRING_DATA: u32 = 6;
const T_INT64_DATA: u32 = 7;
const T_NAME: u32 = 8;
const T_RAW_DATA: u32 = 9;
const T_DOUBLE_DATA: u32 = 10;
const T_UINT64_DATA: u32 = 11;
const T_EXTERNAL_DATA: u32 = 13;
const T_DATA_LOCATION: u32 = 14;
const LOCATION_EXTERNAL: u64 = 1;

/// Caps on external-data entries (real models carry 3 or 4 short ones).
const MAX_EXTERNAL_ENTRIES: usize = 64;
const MAX_EXTERNAL_STRING: usize = 4096;

/// ONNX `TensorProto.DataType` to TensorRT's dtype, and the name for messages.
fn map_data_type(t: u64) -> (Option<DataType>, &'static str) {
    match t {
        1 => (Some(DataType::Float), "FLOAT"),
        2 => (Some(DataType::Uint8), "UINT8"),
        3 => (Some(DataType::Int8), "INT8"),
        4 => (None, "UINT16"),
        5 => (None, "INT16"),
        6 => (Some(DataType::Int32), "INT32"),
        7 => (Some(DataType::Int64), "INT64"),
        8 => (None, "STRING"),
        9 => (Some(DataType::Bool), "BOOL"),
        10 => (Some(DataType::Half), "FLOAT16"),
        11 => (None, "DOUBLE"),
        12 => (None, "UINT32"),
        13 => (None, "UINT64"),
        14 => (None, "COMPLEX64"),
        15 => (None, "COMPLEX128"),
        16 => (Some(DataType::Bf16), "BFLOAT16"),
        17 => (Some(DataType::Fp8), "FLOAT8E4M3FN"),
        18 => (None, "FLOAT8E4M3FNUZ"),
        19 => (None, "FLOAT8E5M2"),
        20 => (None, "FLOAT8E5M2FNUZ"),
        21 => (None, "UINT4"),
        22 => (Some(DataType::Int4), "INT4"),
        23 => (Some(DataType::Fp4), "FLOAT4E2M1"),
        24 => (Some(DataType::E8m0), "FLOAT8E8M0"),
        _ => (None, "unknown"),
    }
}

/// One `TensorProto` as read: metadata always, data fields only when loading values. Repeated
/// numeric fields are kept in their packed wire form and decoded once `data_type` is known
/// (protobuf does not promise that `data_type` comes first).
#[derive(Default)]
struct RawTensor {
    name: String,
    dims: Vec<u64>,
    data_type: u64,
    raw: Option<Vec<u8>>,
    float_data: Vec<u8>,
    int32_data: Vec<u8>,
    int64_data: Vec<u8>,
    /// Typed fields we never convert (string, double, uint64) were present.
    other_typed: bool,
    segmented: bool,
    external: Vec<(String, String)>,
    data_location: u64,
}

impl RawTensor {
    fn has_typed(&self) -> bool {
        !self.float_data.is_empty()
            || !self.int32_data.is_empty()
            || !self.int64_data.is_empty()
            || self.other_typed
    }
}

enum Item {
    Dense(RawTensor),
    Sparse(String),
}

type Rd = Reader<File>;

fn expect_wire(field: u32, got: u8, want: u8, at: u64) -> Result<(), String> {
    if got != want {
        return Err(format!(
            "field {field} at byte {at} has wire type {got}, expected {want}"
        ));
    }
    Ok(())
}

/// Appends a repeated numeric field's value(s) in packed form, or skips it when not loading.
fn repeated(
    r: &mut Rd,
    wire: u8,
    scalar_wire: u8,
    end: u64,
    keep: bool,
    out: &mut Vec<u8>,
) -> Result<(), String> {
    if wire == LEN {
        let e = r.len_end(end)?;
        if keep {
            let b = r.bytes(e - r.pos())?;
            out.extend_from_slice(&b);
            Ok(())
        } else {
            r.skip_to(e)
        }
    } else if wire == scalar_wire {
        match wire {
            VARINT => {
                let v = r.varint(end)?;
                if keep {
                    encode_varint(v, out);
                }
                Ok(())
            }
            FIXED32 if keep => {
                let e = r.pos() + 4;
                if e > end {
                    return Err(format!(
                        "a fixed32 value at byte {} runs past its message",
                        r.pos()
                    ));
                }
                out.extend_from_slice(&r.bytes(4)?);
                Ok(())
            }
            _ => r.skip_value(wire, end),
        }
    } else {
        Err(format!(
            "a repeated field at byte {} has wire type {wire}",
            r.pos()
        ))
    }
}

fn read_tensor(r: &mut Rd, end: u64, with_data: bool) -> Result<RawTensor, String> {
    let mut t = RawTensor::default();
    while let Some((field, wire)) = r.tag(end)? {
        let at = r.pos();
        match field {
            T_DIMS => {
                let packed = match wire {
                    // Packed: at most MAX_RANK varints of at most 10 bytes; a longer field is
                    // refused before it is read.
                    LEN => {
                        let e = r.len_end(end)?;
                        let len = e - r.pos();
                        if len > (limits::MAX_RANK * 10) as u64 {
                            return Err(format!(
                                "a tensor's dims field at byte {at} is {len} bytes long"
                            ));
                        }
                        r.bytes(len)?
                    }
                    VARINT => {
                        let mut b = Vec::new();
                        encode_varint(r.varint(end)?, &mut b);
                        b
                    }
                    _ => return Err(format!("field {field} at byte {at} has wire type {wire}")),
                };
                for d in decode_varints(&packed)? {
                    // int64 on the wire: a negative dimension arrives as a huge u64.
                    if d > i64::MAX as u64 {
                        return Err(format!("tensor `{}` has a negative dimension", t.name));
                    }
                    t.dims.push(d);
                }
                if t.dims.len() > limits::MAX_RANK {
                    return Err(format!(
                        "a tensor has more than {} dimensions",
                        limits::MAX_RANK
                    ));
                }
            }
            T_DATA_TYPE => {
                expect_wire(field, wire, VARINT, at)?;
                t.data_type = r.varint(end)?;
            }
            T_SEGMENT => {
                t.segmented = true;
                r.skip_value(wire, end)?;
            }
            T_FLOAT_DATA => repeated(r, wire, FIXED32, end, with_data, &mut t.float_data)?,
            T_INT32_DATA => repeated(r, wire, VARINT, end, with_data, &mut t.int32_data)?,
            T_INT64_DATA => repeated(r, wire, VARINT, end, with_data, &mut t.int64_data)?,
            T_STRING_DATA | T_DOUBLE_DATA | T_UINT64_DATA => {
                t.other_typed = true;
                r.skip_value(wire, end)?;
            }
            T_NAME => {
                expect_wire(field, wire, LEN, at)?;
                t.name = r.string(end, limits::MAX_NAME_LEN)?;
            }
            T_RAW_DATA => {
                expect_wire(field, wire, LEN, at)?;
                let e = r.len_end(end)?;
                if with_data {
                    t.raw = Some(r.bytes(e - r.pos())?);
                } else {
                    t.raw = Some(Vec::new());
                    r.skip_to(e)?;
                }
            }
            T_EXTERNAL_DATA => {
                expect_wire(field, wire, LEN, at)?;
                let e = r.len_end(end)?;
                let (mut key, mut value) = (String::new(), String::new());
                while let Some((f, w)) = r.tag(e)? {
                    match f {
                        1 | 2 => {
                            expect_wire(f, w, LEN, r.pos())?;
                            let s = r.string(e, MAX_EXTERNAL_STRING)?;
                            if f == 1 {
                                key = s
                            } else {
                                value = s
                            }
                        }
                        _ => r.skip_value(w, e)?,
                    }
                }
                if t.external.len() >= MAX_EXTERNAL_ENTRIES {
                    return Err(format!(
                        "more than {MAX_EXTERNAL_ENTRIES} external_data entries"
                    ));
                }
                t.external.push((key, value));
            }
            T_DATA_LOCATION => {
                expect_wire(field, wire, VARINT, at)?;
                t.data_location = r.varint(end)?;
            }
            _ => r.skip_value(wire, end)?,
        }
    }
    Ok(t)
}

/// Walks ModelProto → graph → initializers, calling `each` for every one in file order.
fn walk(
    path: &Path,
    with_data: bool,
    mut each: impl FnMut(Item) -> anyhow::Result<()>,
) -> anyhow::Result<()> {
    let f = super::open(path)?;
    let file_len = f
        .metadata()
        .map_err(|e| unreadable(path, format!("cannot stat: {e}")))?
        .len();
    let mut r = Reader::new(f);
    let bad = |m: String| unreadable(path, format!("not a valid ONNX model: {m}"));
    let mut count = 0usize;
    let mut saw_graph = false;
    while let Some((field, wire)) = r.tag(file_len).map_err(bad)? {
        if field != MODEL_GRAPH || wire != LEN {
            r.skip_value(wire, file_len).map_err(bad)?;
            continue;
        }
        saw_graph = true;
        let graph_end = r.len_end(file_len).map_err(bad)?;
        while let Some((gf, gw)) = r.tag(graph_end).map_err(bad)? {
            let sparse = gf == GRAPH_SPARSE_INITIALIZER;
            if !(gf == GRAPH_INITIALIZER || sparse) || gw != LEN {
                r.skip_value(gw, graph_end).map_err(bad)?;
                continue;
            }
            count += 1;
            if count > limits::MAX_TENSORS {
                return Err(bad(format!(
                    "more than {} initializers",
                    limits::MAX_TENSORS
                )));
            }
            let t_end = r.len_end(graph_end).map_err(bad)?;
            if sparse {
                // Only the name (values.name) is wanted, to say what was left out.
                let mut name = String::new();
                while let Some((sf, sw)) = r.tag(t_end).map_err(bad)? {
                    if sf == SPARSE_VALUES && sw == LEN {
                        let v_end = r.len_end(t_end).map_err(bad)?;
                        name = read_tensor(&mut r, v_end, false).map_err(bad)?.name;
                    } else {
                        r.skip_value(sw, t_end).map_err(bad)?;
                    }
                }
                each(Item::Sparse(name))?;
            } else {
                let t = read_tensor(&mut r, t_end, with_data).map_err(bad)?;
                each(Item::Dense(t))?;
            }
        }
    }
    if !saw_graph {
        return Err(bad("the file holds no graph (ModelProto field 7)".into()));
    }
    Ok(())
}

pub(super) fn load_shapes(path: &Path) -> anyhow::Result<Vec<TensorShape>> {
    let mut out = Vec::new();
    walk(path, false, |item| {
        if let Item::Dense(t) = item {
            let (dtype, tname) = map_data_type(t.data_type);
            out.push(TensorShape {
                name: t.name,
                dtype,
                source_dtype: tname.to_string(),
                shape: t.dims,
            });
        }
        Ok(())
    })?;
    Ok(out)
}

pub(super) fn load(path: &Path) -> anyhow::Result<Loaded> {
    let mut loaded = Loaded::default();
    let mut files: HashMap<PathBuf, File> = HashMap::new();
    walk(path, true, |item| {
        let t = match item {
            Item::Dense(t) => t,
            Item::Sparse(name) => {
                loaded.skipped.push(Skipped {
                    name,
                    reason: "sparse initializers are not supported".into(),
                });
                return Ok(());
            }
        };
        let (dtype, tname) = map_data_type(t.data_type);
        let bad = |m: String| unreadable(path, format!("initializer `{}`: {m}", t.name));
        if t.data_type == 0 {
            return Err(bad("data_type is UNDEFINED".into()));
        }
        let Some(dtype) = dtype else {
            loaded.skipped.push(Skipped {
                name: t.name,
                reason: format!(
                    "ONNX data type {} ({tname}) has no TensorRT equivalent",
                    t.data_type
                ),
            });
            return Ok(());
        };
        if t.segmented {
            return Err(bad("segmented tensors are not supported".into()));
        }
        let count = super::element_count(&t.dims)
            .ok_or_else(|| bad(format!("shape {:?} overflows 64 bits", t.dims)))?;
        let bytes = super::data_bytes(dtype, count).map_err(&bad)?;
        let data = if t.data_location == LOCATION_EXTERNAL {
            if t.raw.is_some() || t.has_typed() {
                return Err(bad(
                    "data_location is EXTERNAL but the data is inline as well".into(),
                ));
            }
            read_external(path, &t, bytes, &mut files).map_err(bad)?
        } else {
            if t.raw.is_some() && t.has_typed() {
                return Err(bad("holds both raw_data and typed data fields".into()));
            }
            match &t.raw {
                Some(raw) => {
                    if raw.len() as u64 != bytes {
                        return Err(bad(format!(
                            "raw_data holds {} bytes, but shape {:?} of {tname} needs {bytes}",
                            raw.len(),
                            t.dims
                        )));
                    }
                    raw.clone()
                }
                None => typed_data(&t, dtype, tname, bytes).map_err(bad)?,
            }
        };
        loaded.tensors.push(RefTensor {
            name: t.name,
            dtype,
            shape: t.dims,
            data,
        });
        Ok(())
    })?;
    Ok(loaded)
}

/// Converts the typed repeated fields into refit bytes. ONNX puts float in `float_data`, int64 in
/// `int64_data`, and every narrower type in `int32_data`, one element per entry, except that 4-bit
/// types pack two elements into each entry's low byte (low nibble first), and 16-bit floats keep
/// their bit pattern in the low 16 bits.
fn typed_data(t: &RawTensor, dtype: DataType, tname: &str, bytes: u64) -> Result<Vec<u8>, String> {
    let too_many = |field: &str| {
        format!(
            "{field} holds more data than shape {:?} of {tname} needs ({bytes} bytes)",
            t.dims
        )
    };
    let (field, data): (&str, Vec<u8>) = match dtype {
        DataType::Float => ("float_data", t.float_data.clone()),
        _ => {
            let (field, packed, unit) = match dtype {
                DataType::Int64 => ("int64_data", &t.int64_data, 8),
                DataType::Int32 => ("int32_data", &t.int32_data, 4),
                DataType::Half | DataType::Bf16 => ("int32_data", &t.int32_data, 2),
                _ => ("int32_data", &t.int32_data, 1),
            };
            // Each varint is at least one byte, so the output is at most `unit` times the input;
            // stopping once it passes `bytes` keeps a lying field from costing more.
            let mut out = Vec::with_capacity(packed.len().min(bytes as usize));
            for_each_varint(packed, |x| {
                out.extend_from_slice(&x.to_le_bytes()[..unit]);
                if out.len() as u64 > bytes {
                    return Err(too_many(field));
                }
                Ok(())
            })?;
            (field, out)
        }
    };
    if t.other_typed || data.len() as u64 != bytes {
        return Err(format!(
            "{field} holds {} bytes of {tname} data, but shape {:?} needs {bytes}{}",
            data.len(),
            t.dims,
            if t.other_typed {
                " (and it carries typed fields of another type)"
            } else {
                ""
            }
        ));
    }
    Ok(data)
}

/// Resolves an external-data `location` inside the model's folder. Absolute paths and `..` are
/// refused outright; symlinks are resolved and the result must still lie inside the folder, so a
/// model cannot make us read arbitrary files.
fn resolve_location(model: &Path, location: &str) -> Result<PathBuf, String> {
    if location.is_empty() {
        return Err("external data has an empty location".into());
    }
    let rel = Path::new(location);
    for c in rel.components() {
        match c {
            Component::Normal(_) | Component::CurDir => {}
            _ => {
                return Err(format!(
                    "external data location `{location}` leaves the model's folder (absolute paths and `..` are refused)"
                ))
            }
        }
    }
    let dir = match model.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    let dir = dir
        .canonicalize()
        .map_err(|e| format!("cannot resolve the model's folder: {e}"))?;
    let full = dir.join(rel);
    let real = full
        .canonicalize()
        .map_err(|e| format!("external data file `{}`: {e}", full.display()))?;
    if !real.starts_with(&dir) {
        return Err(format!(
            "external data location `{location}` resolves to `{}`, outside the model's folder",
            real.display()
        ));
    }
    Ok(real)
}

fn read_external(
    model: &Path,
    t: &RawTensor,
    bytes: u64,
    files: &mut HashMap<PathBuf, File>,
) -> Result<Vec<u8>, String> {
    let (mut location, mut offset, mut length) = (None, 0u64, None);
    for (k, v) in &t.external {
        let num = || {
            v.trim()
                .parse::<u64>()
                .map_err(|_| format!("external data {k} `{v}` is not a number"))
        };
        match k.as_str() {
            "location" => location = Some(v.as_str()),
            "offset" => offset = num()?,
            "length" => length = Some(num()?),
            _ => {} // "checksum" and future keys: not needed to read the bytes
        }
    }
    let location = location.ok_or("data_location is EXTERNAL but no location is given")?;
    let real = resolve_location(model, location)?;
    if !files.contains_key(&real) {
        let f = File::open(&real)
            .map_err(|e| format!("cannot open external data `{}`: {e}", real.display()))?;
        files.insert(real.clone(), f);
    }
    let f = files
        .get_mut(&real)
        .ok_or("internal: external file cache")?;
    let file_len = f
        .metadata()
        .map_err(|e| format!("cannot stat `{}`: {e}", real.display()))?
        .len();
    if !f.metadata().map(|m| m.is_file()).unwrap_or(false) {
        return Err(format!(
            "external data `{}` is not a regular file",
            real.display()
        ));
    }
    let length = match length {
        Some(l) => l,
        None => file_len.checked_sub(offset).ok_or_else(|| {
            format!(
                "external data offset {offset} is past the end of `{location}` ({file_len} bytes)"
            )
        })?,
    };
    if offset.checked_add(length).is_none_or(|e| e > file_len) {
        return Err(format!(
            "external data [{offset}, +{length}) runs past the end of `{location}` ({file_len} bytes)"
        ));
    }
    if length != bytes {
        return Err(format!(
            "external data holds {length} bytes, but shape {:?} needs {bytes}",
            t.dims
        ));
    }
    f.seek(SeekFrom::Start(offset))
        .map_err(|e| format!("cannot seek in `{location}`: {e}"))?;
    read_exact_vec(f, length).map_err(|e| format!("cannot read `{location}`: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn data_type_table_matches_trt() {
        assert_eq!(map_data_type(1).0, Some(DataType::Float));
        assert_eq!(map_data_type(10).0, Some(DataType::Half));
        assert_eq!(map_data_type(16).0, Some(DataType::Bf16));
        assert_eq!(map_data_type(22).0, Some(DataType::Int4));
        assert_eq!(map_data_type(11), (None, "DOUBLE"));
        assert_eq!(map_data_type(99), (None, "unknown"));
    }

    #[test]
    fn locations_that_leave_the_folder_are_refused() {
        let model = Path::new("/tmp/x/model.onnx");
        for bad in ["../w.bin", "/etc/passwd", "a/../../w.bin", ""] {
            assert!(resolve_location(model, bad).is_err(), "{bad}");
        }
    }
}
