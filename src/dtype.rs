//! TensorRT's `DataType`, as the refitter reports it and as weights are stored.
//!
//! The numeric values are TensorRT's own (`nvinfer1::DataType`); the binding converts the `i32` it
//! receives with [`DataType::from_trt`], so an unknown value from a newer TensorRT is an error, never
//! a silent misread.
//!
//! The element codecs live here too, one implementation for everything that reads refit buffers
//! (`compare`, `writer`): the bits of element `i` ([`element_bits`]), its value ([`element_value`]),
//! a value back into a dtype's bits ([`encode`]), and the 4- and 8-bit float codes.

use std::fmt;

use half::{bf16, f16};
use serde::{Deserialize, Serialize};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DataType {
    Float,
    Half,
    Int8,
    Int32,
    Bool,
    Uint8,
    Fp8,
    Bf16,
    Int64,
    Int4,
    Fp4,
    E8m0,
}

impl DataType {
    pub const ALL: [DataType; 12] = [
        DataType::Float,
        DataType::Half,
        DataType::Int8,
        DataType::Int32,
        DataType::Bool,
        DataType::Uint8,
        DataType::Fp8,
        DataType::Bf16,
        DataType::Int64,
        DataType::Int4,
        DataType::Fp4,
        DataType::E8m0,
    ];

    /// TensorRT's enum value (`kFLOAT` = 0 … `kE8M0` = 11).
    pub fn to_trt(self) -> i32 {
        match self {
            DataType::Float => 0,
            DataType::Half => 1,
            DataType::Int8 => 2,
            DataType::Int32 => 3,
            DataType::Bool => 4,
            DataType::Uint8 => 5,
            DataType::Fp8 => 6,
            DataType::Bf16 => 7,
            DataType::Int64 => 8,
            DataType::Int4 => 9,
            DataType::Fp4 => 10,
            DataType::E8m0 => 11,
        }
    }

    pub fn from_trt(v: i32) -> Option<DataType> {
        DataType::ALL.iter().copied().find(|d| d.to_trt() == v)
    }

    /// Size in bits of one element (4 for the packed types).
    pub fn bits(self) -> u32 {
        match self {
            DataType::Float | DataType::Int32 => 32,
            DataType::Half | DataType::Bf16 => 16,
            DataType::Int8 | DataType::Uint8 | DataType::Bool | DataType::Fp8 | DataType::E8m0 => 8,
            DataType::Int64 => 64,
            DataType::Int4 | DataType::Fp4 => 4,
        }
    }

    /// Bytes needed for `count` elements, packed types rounded up to whole bytes as TensorRT's
    /// `Weights` buffers are.
    pub fn bytes_for(self, count: u64) -> Option<u64> {
        count
            .checked_mul(u64::from(self.bits()))
            .map(|b| b.div_ceil(8))
    }

    /// The lowercase name used in reports, JSON and map files.
    pub fn name(self) -> &'static str {
        match self {
            DataType::Float => "float32",
            DataType::Half => "float16",
            DataType::Int8 => "int8",
            DataType::Int32 => "int32",
            DataType::Bool => "bool",
            DataType::Uint8 => "uint8",
            DataType::Fp8 => "fp8_e4m3",
            DataType::Bf16 => "bfloat16",
            DataType::Int64 => "int64",
            DataType::Int4 => "int4",
            DataType::Fp4 => "fp4_e2m1",
            DataType::E8m0 => "e8m0",
        }
    }

    pub fn from_name(s: &str) -> Option<DataType> {
        DataType::ALL.iter().copied().find(|d| d.name() == s)
    }

    pub fn is_packed(self) -> bool {
        self.bits() == 4
    }
}

impl fmt::Display for DataType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

// ---- element codecs ---------------------------------------------------------------------------

/// The 4-bit code of element `i` of a packed buffer: the low nibble holds the even element
/// (TensorRT's packing).
pub fn nibble(data: &[u8], i: usize) -> u8 {
    let b = data[i / 2];
    if i.is_multiple_of(2) {
        b & 0x0f
    } else {
        b >> 4
    }
}

/// Int4 code (two's complement in 4 bits), sign-extended.
pub fn int4_to_i8(code: u8) -> i8 {
    ((code << 4) as i8) >> 4
}

/// FP4 E2M1: ±{0, 0.5, 1, 1.5, 2, 3, 4, 6}.
pub fn fp4_to_f32(code: u8) -> f32 {
    const MAGNITUDE: [f32; 8] = [0.0, 0.5, 1.0, 1.5, 2.0, 3.0, 4.0, 6.0];
    let m = MAGNITUDE[usize::from(code & 7)];
    if code & 8 != 0 {
        -m
    } else {
        m
    }
}

/// fp8 E4M3 "FN" (TensorRT's kFP8, torch's float8_e4m3fn): bias 7, no infinities, S.1111.111 is
/// NaN, largest finite ±448.
pub fn fp8_e4m3_to_f32(b: u8) -> f32 {
    let negative = b & 0x80 != 0;
    let e = i32::from((b >> 3) & 0x0f);
    let m = f32::from(b & 0x07);
    let v = if e == 0x0f && m == 7.0 {
        f32::NAN
    } else if e == 0 {
        m / 8.0 * 2f32.powi(-6)
    } else {
        (1.0 + m / 8.0) * 2f32.powi(e - 7)
    };
    if negative {
        -v
    } else {
        v
    }
}

/// E8M0 (OCP MX scale): 2^(code−127), code 255 is NaN. f32 bits: the code is the exponent field
/// for 1..=254, and 2^-127 (code 0) is the subnormal with only the top mantissa bit set.
pub fn e8m0_to_f32(code: u8) -> f32 {
    match code {
        0 => f32::from_bits(1 << 22),
        255 => f32::NAN,
        c => f32::from_bits(u32::from(c) << 23),
    }
}

/// bfloat16 (little-endian bytes) widened to f32: the top half of its bits, NaN payloads kept.
pub fn bf16_to_f32(lo: u8, hi: u8) -> f32 {
    f32::from_bits(u32::from(u16::from_le_bytes([lo, hi])) << 16)
}

/// The bits of element `i` of a refit buffer of `dtype` (its storage, zero-extended).
pub fn element_bits(dtype: DataType, data: &[u8], i: usize) -> u64 {
    match dtype.bits() {
        4 => u64::from(nibble(data, i)),
        8 => u64::from(data[i]),
        16 => u64::from(u16::from_le_bytes([data[2 * i], data[2 * i + 1]])),
        32 => u64::from(u32::from_le_bytes(
            data[4 * i..4 * i + 4].try_into().expect("4 bytes"),
        )),
        _ => u64::from_le_bytes(data[8 * i..8 * i + 8].try_into().expect("8 bytes")),
    }
}

/// A value as read from a buffer: floats and integers kept apart so int64 stays exact.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Num {
    F(f64),
    I(i64),
}

impl Num {
    pub fn f64(self) -> f64 {
        match self {
            Num::F(v) => v,
            Num::I(v) => v as f64,
        }
    }
}

/// The value of element `i` of a refit buffer of `dtype`.
pub fn element_value(dtype: DataType, data: &[u8], i: usize) -> Num {
    let b = element_bits(dtype, data, i);
    match dtype {
        DataType::Float => Num::F(f64::from(f32::from_bits(b as u32))),
        DataType::Half => Num::F(f16::from_bits(b as u16).to_f64()),
        DataType::Bf16 => Num::F(bf16::from_bits(b as u16).to_f64()),
        DataType::Fp8 => Num::F(f64::from(fp8_e4m3_to_f32(b as u8))),
        DataType::Fp4 => Num::F(f64::from(fp4_to_f32(b as u8))),
        DataType::E8m0 => Num::F(f64::from(e8m0_to_f32(b as u8))),
        DataType::Int8 => Num::I(i64::from(b as u8 as i8)),
        DataType::Uint8 => Num::I(b as i64),
        DataType::Bool => Num::I(i64::from(b != 0)),
        DataType::Int32 => Num::I(i64::from(b as u32 as i32)),
        DataType::Int64 => Num::I(b as i64),
        DataType::Int4 => Num::I(i64::from(int4_to_i8(b as u8))),
    }
}

/// `v` in `dtype`'s bits and whether that is exact (floats round to nearest, ties to even);
/// `None` when `dtype` has no value for it at all (a fraction or an out-of-range integer for an
/// integer dtype, or no fp8/fp4/e8m0 code for it).
pub fn encode(dtype: DataType, v: Num) -> Option<(u64, bool)> {
    let exact_int = |lo: i64, hi: i64| -> Option<(u64, bool)> {
        let i = match v {
            Num::I(i) => i,
            Num::F(f) if f.fract() == 0.0 && (-9.3e18..=9.3e18).contains(&f) => f as i64,
            Num::F(_) => return None,
        };
        (lo..=hi).contains(&i).then_some((i as u64, true))
    };
    // The first code whose value is `v` (same sign for zeros; any NaN for a NaN), by table: every
    // fp8/fp4/e8m0 value is an exact f32, so a `v` that is not one has no code.
    let code = |table: &CodeTable| -> Option<(u64, bool)> {
        let f = v.f64();
        if f.is_nan() {
            return table.nan.map(|c| (u64::from(c), true));
        }
        let r = f as f32;
        if f64::from(r) != f {
            return None;
        }
        table
            .by_bits
            .get(&r.to_bits())
            .map(|&c| (u64::from(c), true))
    };
    match dtype {
        DataType::Float => {
            let f = v.f64();
            let r = f as f32;
            Some((
                u64::from(r.to_bits()),
                f64::from(r) == f || (f.is_nan() && r.is_nan()),
            ))
        }
        DataType::Half => {
            let f = v.f64();
            let r = f16::from_f64(f);
            Some((
                u64::from(r.to_bits()),
                r.to_f64() == f || (f.is_nan() && r.is_nan()),
            ))
        }
        DataType::Bf16 => {
            let f = v.f64();
            let r = bf16::from_f64(f);
            Some((
                u64::from(r.to_bits()),
                r.to_f64() == f || (f.is_nan() && r.is_nan()),
            ))
        }
        DataType::Int8 => exact_int(-128, 127).map(|(b, e)| (b & 0xff, e)),
        DataType::Uint8 => exact_int(0, 255),
        DataType::Bool => exact_int(0, 1),
        DataType::Int32 => {
            exact_int(i64::from(i32::MIN), i64::from(i32::MAX)).map(|(b, e)| (b & 0xffff_ffff, e))
        }
        DataType::Int64 => exact_int(i64::MIN, i64::MAX),
        DataType::Int4 => exact_int(-8, 7).map(|(b, e)| (b & 0xf, e)),
        DataType::Fp8 => code(code_table(&FP8_CODES, fp8_e4m3_to_f32, 256)),
        DataType::Fp4 => code(code_table(&FP4_CODES, fp4_to_f32, 16)),
        DataType::E8m0 => code(code_table(&E8M0_CODES, e8m0_to_f32, 256)),
    }
}

/// A code-valued dtype's codes by the f32 bits of their values (the first code of each value).
struct CodeTable {
    by_bits: std::collections::HashMap<u32, u8>,
    nan: Option<u8>,
}

static FP8_CODES: std::sync::OnceLock<CodeTable> = std::sync::OnceLock::new();
static FP4_CODES: std::sync::OnceLock<CodeTable> = std::sync::OnceLock::new();
static E8M0_CODES: std::sync::OnceLock<CodeTable> = std::sync::OnceLock::new();

fn code_table(
    cell: &'static std::sync::OnceLock<CodeTable>,
    decode: fn(u8) -> f32,
    codes: u16,
) -> &'static CodeTable {
    cell.get_or_init(|| {
        let mut t = CodeTable {
            by_bits: std::collections::HashMap::new(),
            nan: None,
        };
        for c in (0..codes).map(|c| c as u8) {
            let d = decode(c);
            if d.is_nan() {
                t.nan.get_or_insert(c);
            } else {
                t.by_bits.entry(d.to_bits()).or_insert(c);
            }
        }
        t
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trt_values_round_trip_and_unknown_is_rejected() {
        for d in DataType::ALL {
            assert_eq!(DataType::from_trt(d.to_trt()), Some(d));
            assert_eq!(DataType::from_name(d.name()), Some(d));
        }
        assert_eq!(DataType::from_trt(12), None);
        assert_eq!(DataType::from_trt(-1), None);
    }

    #[test]
    fn packed_sizes_round_up() {
        assert_eq!(DataType::Int4.bytes_for(3), Some(2));
        assert_eq!(DataType::Fp4.bytes_for(4), Some(2));
        assert_eq!(DataType::Float.bytes_for(3), Some(12));
        assert_eq!(DataType::Int64.bytes_for(u64::MAX), None);
    }

    #[test]
    fn fp8_e4m3_known_values() {
        assert_eq!(fp8_e4m3_to_f32(0x7e), 448.0); // largest finite
        assert_eq!(fp8_e4m3_to_f32(0x38), 1.0);
        assert_eq!(fp8_e4m3_to_f32(0x01), 2f32.powi(-9)); // smallest subnormal
        assert_eq!(fp8_e4m3_to_f32(0x08), 2f32.powi(-6)); // smallest normal
        assert!(fp8_e4m3_to_f32(0x7f).is_nan() && fp8_e4m3_to_f32(0xff).is_nan());
        assert_eq!(fp8_e4m3_to_f32(0x80).to_bits(), (-0.0f32).to_bits());
    }

    #[test]
    fn e8m0_covers_the_f32_subnormal_and_nan() {
        assert_eq!(e8m0_to_f32(127), 1.0);
        assert_eq!(e8m0_to_f32(0), 2f32.powi(-127));
        assert!(e8m0_to_f32(0).is_subnormal());
        assert_eq!(e8m0_to_f32(254), 2f32.powi(127));
        assert!(e8m0_to_f32(255).is_nan());
        for c in 1..=254u8 {
            assert_eq!(e8m0_to_f32(c), 2f32.powi(i32::from(c) - 127));
        }
    }

    #[test]
    fn bf16_widening_keeps_bits() {
        for bits in [0x3f80u16, 0x8000, 0x7fc1, 0xff81, 0x0001, 0x7f80] {
            let [lo, hi] = bits.to_le_bytes();
            assert_eq!(bf16_to_f32(lo, hi).to_bits(), u32::from(bits) << 16);
        }
    }

    #[test]
    fn packed_elements_take_the_low_nibble_first() {
        // 0x8F: element 0 = 0xF (−1 / −6.0), element 1 = 0x8 (−8 / −0.0)
        let data = [0x8fu8, 0x07];
        let codes: Vec<u8> = (0..3).map(|i| nibble(&data, i)).collect();
        assert_eq!(codes, [0xf, 0x8, 0x7]);
        assert_eq!(element_value(DataType::Int4, &data, 1), Num::I(-8));
        assert_eq!(element_value(DataType::Fp4, &data, 0), Num::F(-6.0));
        assert_eq!(element_bits(DataType::Half, &[0x00, 0x3c], 0), 0x3c00);
    }

    #[test]
    fn encode_rounds_floats_and_wants_integers_exact() {
        assert_eq!(encode(DataType::Half, Num::F(1.0)), Some((0x3c00, true)));
        assert_eq!(
            encode(DataType::Half, Num::F(0.1)).map(|(_, exact)| exact),
            Some(false)
        );
        assert_eq!(encode(DataType::Int8, Num::I(-1)), Some((0xff, true)));
        assert_eq!(encode(DataType::Int8, Num::I(128)), None);
        assert_eq!(encode(DataType::Int32, Num::F(7.5)), None);
        assert_eq!(encode(DataType::Fp8, Num::F(1.0)), Some((0x38, true)));
        assert_eq!(encode(DataType::Fp8, Num::F(1.05)), None);
    }

    #[test]
    fn code_tables_find_what_a_search_over_every_code_finds() {
        let search = |decode: fn(u8) -> f32, codes: u16, f: f64| {
            (0..codes).map(|c| c as u8).find(|&c| {
                let d = f64::from(decode(c));
                (d == f && d.is_sign_negative() == f.is_sign_negative())
                    || (d.is_nan() && f.is_nan())
            })
        };
        type Case = (DataType, fn(u8) -> f32, u16);
        let cases: [Case; 3] = [
            (DataType::Fp8, fp8_e4m3_to_f32, 256),
            (DataType::Fp4, fp4_to_f32, 16),
            (DataType::E8m0, e8m0_to_f32, 256),
        ];
        for (d, decode, codes) in cases {
            let mut probes: Vec<f64> = (0..=255u8).map(|c| f64::from(decode(c))).collect();
            probes.extend([
                0.0,
                -0.0,
                1.05,
                1e-300,
                f64::NAN,
                f64::INFINITY,
                3.0000001,
                2f64.powi(-140),
            ]);
            for f in probes {
                let want = search(decode, codes, f).map(|c| (u64::from(c), true));
                assert_eq!(encode(d, Num::F(f)), want, "{d:?} {f}");
            }
        }
    }
}
