//! Lossless conversions from TensorRT's refit dtypes to what each output format can hold.
//!
//! safetensors holds every refit dtype as it is except Int4 (no safetensors dtype: unpacked to I8)
//! and Fp4 whose last dimension is odd (safetensors' F4 packs two per byte along the last
//! dimension, as torch's `float4_e2m1fn_x2` does; such a tensor is decoded to F16 instead).
//! NumPy has no bfloat16, fp8, e8m0, int4 or fp4, so for `.npz`/`.npy` those are widened to the
//! smallest standard dtype holding every value exactly:
//!
//! | refit      | numpy   | why exact |
//! |------------|---------|-----------|
//! | bfloat16   | float32 | bf16 is the top half of an f32 |
//! | fp8_e4m3   | float16 | 3 mantissa bits ≤ 10; exponents 2^-9..2^8 lie inside f16's 2^-24..2^15 |
//! | e8m0       | float32 | 2^-127..2^127; 2^-127 is an f32 subnormal; code 255 is NaN |
//! | int4       | int8    | sign-extended, −8..7 |
//! | fp4_e2m1   | float16 | values ±{0, 0.5, 1, 1.5, 2, 3, 4, 6} |
//!
//! Signs of zero and NaNs are kept (NaN payloads too, for bf16).

use std::io::{self, Write};

use half::f16;
use ndarray_npy::{WritableElement, WriteDataError};
use py_literal::Value as PyValue;

use crate::dtype::{
    bf16_to_f32, e8m0_to_f32, fp4_to_f32, fp8_e4m3_to_f32, int4_to_i8, nibble, DataType,
};

/// An f32 known to be exactly representable in f16, as f16; keeps the sign of NaN.
fn exact_f16(v: f32) -> F16 {
    if v.is_nan() {
        F16(f16::from_bits(if v.is_sign_negative() {
            0xfe00
        } else {
            0x7e00
        }))
    } else {
        let h = f16::from_f32(v);
        debug_assert_eq!(h.to_f32().to_bits(), v.to_bits(), "{v} is not exact in f16");
        F16(h)
    }
}

/// IEEE half as NumPy's `<f2`: ndarray-npy has no f16 element of its own.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct F16(pub f16);

impl WritableElement for F16 {
    fn type_descriptor() -> PyValue {
        PyValue::String("<f2".into())
    }

    fn write<W: Write>(&self, mut writer: W) -> Result<(), WriteDataError> {
        writer.write_all(&self.0.to_bits().to_le_bytes())?;
        Ok(())
    }

    fn write_slice<W: Write>(slice: &[Self], mut writer: W) -> Result<(), WriteDataError> {
        // Converted in chunks: one write per element would make an unbuffered writer crawl.
        let mut buf = Vec::with_capacity(8192);
        for chunk in slice.chunks(4096) {
            buf.clear();
            buf.extend(chunk.iter().flat_map(|h| h.0.to_bits().to_le_bytes()));
            writer.write_all(&buf)?;
        }
        Ok(())
    }
}

/// A tensor's values as a NumPy-writable vector.
#[derive(Debug, PartialEq)]
pub enum NpValues {
    Bool(Vec<bool>),
    U8(Vec<u8>),
    I8(Vec<i8>),
    I32(Vec<i32>),
    I64(Vec<i64>),
    F16(Vec<F16>),
    F32(Vec<f32>),
}

/// The NumPy dtype name a refit dtype is stored as in `.npz`/`.npy`.
pub fn numpy_dtype(dtype: DataType) -> &'static str {
    match dtype {
        DataType::Float | DataType::Bf16 | DataType::E8m0 => "float32",
        DataType::Half | DataType::Fp8 | DataType::Fp4 => "float16",
        DataType::Int8 | DataType::Int4 => "int8",
        DataType::Uint8 => "uint8",
        DataType::Bool => "bool",
        DataType::Int32 => "int32",
        DataType::Int64 => "int64",
    }
}

/// Decodes `count` elements of `dtype` from `data` (already checked to be exactly
/// `dtype.bytes_for(count)` bytes) into NumPy's representation.
pub fn to_numpy(dtype: DataType, data: &[u8], count: usize) -> NpValues {
    fn le<const N: usize, T>(data: &[u8], f: impl Fn([u8; N]) -> T) -> Vec<T> {
        data.chunks_exact(N)
            .map(|c| f(c.try_into().expect("chunks_exact gives N bytes")))
            .collect()
    }
    match dtype {
        DataType::Float => NpValues::F32(le(data, f32::from_le_bytes)),
        DataType::Half => NpValues::F16(le(data, |b| F16(f16::from_le_bytes(b)))),
        DataType::Bf16 => NpValues::F32(le(data, |[lo, hi]: [u8; 2]| bf16_to_f32(lo, hi))),
        DataType::Int8 => NpValues::I8(data.iter().map(|&b| b as i8).collect()),
        DataType::Uint8 => NpValues::U8(data.to_vec()),
        DataType::Bool => NpValues::Bool(data.iter().map(|&b| b != 0).collect()),
        DataType::Int32 => NpValues::I32(le(data, i32::from_le_bytes)),
        DataType::Int64 => NpValues::I64(le(data, i64::from_le_bytes)),
        DataType::Fp8 => NpValues::F16(
            data.iter()
                .map(|&b| exact_f16(fp8_e4m3_to_f32(b)))
                .collect(),
        ),
        DataType::E8m0 => NpValues::F32(data.iter().map(|&b| e8m0_to_f32(b)).collect()),
        DataType::Int4 => NpValues::I8((0..count).map(|i| int4_to_i8(nibble(data, i))).collect()),
        DataType::Fp4 => NpValues::F16(
            (0..count)
                .map(|i| exact_f16(fp4_to_f32(nibble(data, i))))
                .collect(),
        ),
    }
}

/// How a refit dtype is laid out in a safetensors file.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StLayout {
    /// The refit bytes as they are.
    Raw,
    /// Int4 unpacked to one sign-extended byte per element.
    Int4AsI8,
    /// Fp4 decoded to little-endian f16.
    Fp4AsF16,
}

/// The safetensors dtype and layout of a refit tensor of this shape. Fp4 stays packed (`F4`) only
/// when its last dimension is even: safetensors and torch pack F4 two per byte along it.
pub fn safetensors_dtype(dtype: DataType, shape: &[u64]) -> (safetensors::Dtype, StLayout) {
    use safetensors::Dtype as D;
    match dtype {
        DataType::Float => (D::F32, StLayout::Raw),
        DataType::Half => (D::F16, StLayout::Raw),
        DataType::Bf16 => (D::BF16, StLayout::Raw),
        DataType::Int8 => (D::I8, StLayout::Raw),
        DataType::Uint8 => (D::U8, StLayout::Raw),
        DataType::Bool => (D::BOOL, StLayout::Raw),
        DataType::Int32 => (D::I32, StLayout::Raw),
        DataType::Int64 => (D::I64, StLayout::Raw),
        DataType::Fp8 => (D::F8_E4M3, StLayout::Raw),
        DataType::E8m0 => (D::F8_E8M0, StLayout::Raw),
        DataType::Int4 => (D::I8, StLayout::Int4AsI8),
        DataType::Fp4 => match shape.last() {
            Some(last) if last % 2 == 0 => (D::F4, StLayout::Raw),
            _ => (D::F16, StLayout::Fp4AsF16),
        },
    }
}

/// Writes `count` elements of refit data in a safetensors layout, converting in bounded chunks so
/// a large tensor never needs a second full-size buffer.
pub fn write_safetensors_data(
    layout: StLayout,
    data: &[u8],
    count: usize,
    out: &mut dyn Write,
) -> io::Result<()> {
    const CHUNK: usize = 1 << 16;
    match layout {
        StLayout::Raw => out.write_all(data),
        StLayout::Int4AsI8 | StLayout::Fp4AsF16 => {
            let mut buf = Vec::with_capacity(2 * CHUNK);
            let mut start = 0;
            while start < count {
                let end = count.min(start + CHUNK);
                buf.clear();
                for i in start..end {
                    let code = nibble(data, i);
                    if layout == StLayout::Int4AsI8 {
                        buf.push(int4_to_i8(code) as u8);
                    } else {
                        buf.extend(exact_f16(fp4_to_f32(code)).0.to_bits().to_le_bytes());
                    }
                }
                out.write_all(&buf)?;
                start = end;
            }
            Ok(())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_fp8_code_is_exact_in_f16() {
        for b in 0..=255u8 {
            let v = fp8_e4m3_to_f32(b);
            let h = exact_f16(v).0.to_f32();
            if v.is_nan() {
                assert!(h.is_nan() && h.is_sign_negative() == v.is_sign_negative());
            } else {
                assert_eq!(h.to_bits(), v.to_bits(), "code {b:#04x}");
            }
        }
    }

    #[test]
    fn packed_types_take_the_low_nibble_first() {
        // 0x8F: element 0 = 0xF (−1 / −6.0), element 1 = 0x8 (−8 / −0.0)
        assert_eq!(
            to_numpy(DataType::Int4, &[0x8f, 0x07], 3),
            NpValues::I8(vec![-1, -8, 7])
        );
        let NpValues::F16(v) = to_numpy(DataType::Fp4, &[0x8f, 0x01], 3) else {
            panic!()
        };
        let v: Vec<u32> = v.iter().map(|h| h.0.to_f32().to_bits()).collect();
        assert_eq!(
            v,
            [(-6.0f32).to_bits(), (-0.0f32).to_bits(), 0.5f32.to_bits()]
        );
        for c in 0..16u8 {
            assert_eq!(exact_f16(fp4_to_f32(c)).0.to_f32(), fp4_to_f32(c));
        }
    }

    #[test]
    fn safetensors_chunked_conversion_matches_numpy_conversion() {
        let count: usize = (1 << 16) * 2 + 3; // crosses chunk boundaries, odd
        let data: Vec<u8> = (0..count.div_ceil(2))
            .map(|i| (i * 37 % 256) as u8)
            .collect();
        let mut out = Vec::new();
        write_safetensors_data(StLayout::Int4AsI8, &data, count, &mut out).unwrap();
        let NpValues::I8(want) = to_numpy(DataType::Int4, &data, count) else {
            panic!()
        };
        assert_eq!(out, want.iter().map(|&v| v as u8).collect::<Vec<_>>());
        out.clear();
        write_safetensors_data(StLayout::Fp4AsF16, &data, count, &mut out).unwrap();
        let NpValues::F16(want) = to_numpy(DataType::Fp4, &data, count) else {
            panic!()
        };
        let want: Vec<u8> = want
            .iter()
            .flat_map(|h| h.0.to_bits().to_le_bytes())
            .collect();
        assert_eq!(out, want);
    }

    #[test]
    fn fp4_stays_packed_only_with_an_even_last_dimension() {
        assert_eq!(
            safetensors_dtype(DataType::Fp4, &[4, 6]).0,
            safetensors::Dtype::F4
        );
        assert_eq!(
            safetensors_dtype(DataType::Fp4, &[2, 3]).1,
            StLayout::Fp4AsF16
        );
        assert_eq!(safetensors_dtype(DataType::Fp4, &[]).1, StLayout::Fp4AsF16);
        assert_eq!(
            safetensors_dtype(DataType::Fp4, &[0]).0,
            safetensors::Dtype::F4
        );
    }
}
