//! Element access and dtype conversions of the simulator, plus its deterministic PRNG.
//!
//! Conversion rules (what the simulated builder/refitter does when the stored dtype differs from
//! the refit dtype), chosen to match what TensorRT is known to do and documented in
//! `docs/simulator.md`:
//! - fp32 → fp16 / bf16: round to nearest, ties to even. A finite value whose rounding overflows
//!   saturates to ±max (TensorRT warns "Values out of range. Clamping."); ±inf stays ±inf; every NaN
//!   becomes the canonical NaN `0x7FFF` (payload and sign lost, as CUDA's `__float2half` does).
//!   fp16 subnormals are kept.
//! - fp16 / bf16 → fp32: exact; NaN becomes the canonical `0x7FFF_FFFF`.
//! - int64 → int32: clamped to `[i32::MIN, i32::MAX]` (as the ONNX parser's cast-down does);
//!   int32 → int64: sign extension.
//! - bool: stored as one byte, `0` or `1` (`v != 0`).
//! - everything else: stored as itself, bit for bit (NaN payloads of fp8/e8m0 included).

use trt_dump::dtype::DataType;

/// splitmix64: tiny, fast, deterministic.
#[derive(Clone, Debug)]
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed ^ 0x243F_6A88_85A3_08D3)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in `0..n` (`n > 0`).
    pub fn below(&mut self, n: u64) -> u64 {
        ((u128::from(self.next_u64()) * u128::from(n)) >> 64) as u64
    }

    /// Uniform in `lo..=hi`.
    pub fn range(&mut self, lo: u64, hi: u64) -> u64 {
        lo + self.below(hi - lo + 1)
    }

    /// True with probability `p_percent` %.
    pub fn chance(&mut self, p_percent: u64) -> bool {
        self.below(100) < p_percent
    }

    /// Uniform in `[0, 1)`.
    pub fn unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }

    pub fn pick<'a, T>(&mut self, xs: &'a [T]) -> &'a T {
        &xs[self.below(xs.len() as u64) as usize]
    }

    /// An independent generator derived from this one and a salt.
    pub fn fork(&mut self, salt: u64) -> Rng {
        Rng::new(self.next_u64() ^ salt.wrapping_mul(0xD6E8_FEB8_6659_FD93))
    }
}

/// Mixes a seed and a salt into a new seed.
pub fn mix(seed: u64, salt: u64) -> u64 {
    Rng::new(seed ^ salt.rotate_left(17).wrapping_mul(0x9E37_79B9_7F4A_7C15)).next_u64()
}

/// Raw bits of element `i` of a buffer in dtype `dt` (packed types: low nibble = even element).
#[inline]
pub fn get(bytes: &[u8], i: u64, dt: DataType) -> u64 {
    let i = i as usize;
    match dt.bits() {
        4 => u64::from((bytes[i / 2] >> ((i & 1) * 4)) & 0xF),
        8 => u64::from(bytes[i]),
        16 => u64::from(u16::from_le_bytes([bytes[2 * i], bytes[2 * i + 1]])),
        32 => u64::from(u32::from_le_bytes(
            bytes[4 * i..4 * i + 4].try_into().unwrap(),
        )),
        _ => u64::from_le_bytes(bytes[8 * i..8 * i + 8].try_into().unwrap()),
    }
}

/// Stores the low bits of `bits` as element `i` (packed types: only that nibble changes).
#[inline]
pub fn put(bytes: &mut [u8], i: u64, dt: DataType, bits: u64) {
    let i = i as usize;
    match dt.bits() {
        4 => {
            let shift = (i & 1) * 4;
            let b = &mut bytes[i / 2];
            *b = (*b & !(0xF << shift)) | (((bits as u8) & 0xF) << shift);
        }
        8 => bytes[i] = bits as u8,
        16 => bytes[2 * i..2 * i + 2].copy_from_slice(&(bits as u16).to_le_bytes()),
        32 => bytes[4 * i..4 * i + 4].copy_from_slice(&(bits as u32).to_le_bytes()),
        _ => bytes[8 * i..8 * i + 8].copy_from_slice(&bits.to_le_bytes()),
    }
}

pub const F16_NAN: u16 = 0x7FFF;
pub const BF16_NAN: u16 = 0x7FFF;
pub const F32_NAN: u32 = 0x7FFF_FFFF;

/// fp32 → fp16, round to nearest even, finite overflow saturates, NaN canonical.
pub fn f32_to_f16(x: f32) -> u16 {
    if x.is_nan() {
        return F16_NAN;
    }
    let h = half::f16::from_f32(x);
    if h.is_infinite() && x.is_finite() {
        return if x < 0.0 { 0xFBFF } else { 0x7BFF };
    }
    h.to_bits()
}

/// fp32 → bf16, round to nearest even, finite overflow saturates, NaN canonical.
pub fn f32_to_bf16(x: f32) -> u16 {
    if x.is_nan() {
        return BF16_NAN;
    }
    let h = half::bf16::from_f32(x);
    if h.is_infinite() && x.is_finite() {
        return if x < 0.0 { 0xFF7F } else { 0x7F7F };
    }
    h.to_bits()
}

pub fn f16_to_f32(bits: u16) -> f32 {
    let h = half::f16::from_bits(bits);
    if h.is_nan() {
        f32::from_bits(F32_NAN)
    } else {
        h.to_f32()
    }
}

pub fn bf16_to_f32(bits: u16) -> f32 {
    let h = half::bf16::from_bits(bits);
    if h.is_nan() {
        f32::from_bits(F32_NAN)
    } else {
        h.to_f32()
    }
}

/// Whether the simulated builder can store a weight of refit dtype `refit` as `stored`.
pub fn storable(refit: DataType, stored: DataType) -> bool {
    use DataType::*;
    refit == stored
        || matches!(
            (refit, stored),
            (Float, Half) | (Float, Bf16) | (Half, Float) | (Bf16, Float) | (Int64, Int32)
        )
}

/// The float refit dtypes that fused/folded buffers may combine.
pub fn is_float16_32(dt: DataType) -> bool {
    matches!(dt, DataType::Float | DataType::Half | DataType::Bf16)
}

/// Converts one element's bits between dtypes by the rules above. Only pairs for which
/// [`storable`] holds in one direction or the other are supported.
pub fn convert(bits: u64, from: DataType, to: DataType) -> u64 {
    use DataType::*;
    match (from, to) {
        (Bool, Bool) => u64::from(bits & 0xFF != 0),
        (a, b) if a == b => bits,
        (Float, Half) => u64::from(f32_to_f16(f32::from_bits(bits as u32))),
        (Float, Bf16) => u64::from(f32_to_bf16(f32::from_bits(bits as u32))),
        (Half, Float) => u64::from(f16_to_f32(bits as u16).to_bits()),
        (Bf16, Float) => u64::from(bf16_to_f32(bits as u16).to_bits()),
        (Int64, Int32) => {
            let v = (bits as i64).clamp(i64::from(i32::MIN), i64::from(i32::MAX));
            u64::from(v as i32 as u32)
        }
        (Int32, Int64) => (bits as u32 as i32 as i64) as u64,
        _ => panic!("simulator: no conversion {from} -> {to}"),
    }
}

/// An element of a 16/32-bit float dtype as f32 (exact).
pub fn to_f32(bits: u64, dt: DataType) -> f32 {
    match dt {
        DataType::Float => f32::from_bits(bits as u32),
        DataType::Half => f16_to_f32(bits as u16),
        DataType::Bf16 => bf16_to_f32(bits as u16),
        _ => panic!("simulator: {dt} is not fp32/fp16/bf16"),
    }
}

/// An f32 in a 16/32-bit float dtype (RNE, saturating, canonical NaN).
pub fn from_f32(x: f32, dt: DataType) -> u64 {
    match dt {
        DataType::Float => u64::from(x.to_bits()),
        DataType::Half => u64::from(f32_to_f16(x)),
        DataType::Bf16 => u64::from(f32_to_bf16(x)),
        _ => panic!("simulator: {dt} is not fp32/fp16/bf16"),
    }
}

/// Precision rank used to pick the copy whose value a correct tool must output: the most mantissa
/// bits wins (fp32 > fp16 > bf16; int64 > int32).
pub fn precision_rank(dt: DataType) -> u32 {
    match dt {
        DataType::Int64 => 64,
        DataType::Int32 => 32,
        DataType::Float => 24,
        DataType::Half => 11,
        DataType::Bf16 => 8,
        other => other.bits(),
    }
}

/// |value| of a stored element as f32 (for the max-abs statistic); NaN for NaNs.
pub fn magnitude(bits: u64, dt: DataType) -> f32 {
    use DataType::*;
    match dt {
        Float | Half | Bf16 => to_f32(bits, dt).abs(),
        Int8 => (bits as u8 as i8).unsigned_abs() as f32,
        Int32 => (bits as u32 as i32).unsigned_abs() as f32,
        Int64 => (bits as i64).unsigned_abs() as f32,
        Int4 => {
            let v = ((bits as u8) << 4) as i8 >> 4;
            v.unsigned_abs() as f32
        }
        _ => bits as f32,
    }
}

/// FNV-1a, 32 bits.
pub fn fnv1a(bytes: &[u8]) -> u32 {
    let mut h: u32 = 0x811C_9DC5;
    for &b in bytes {
        h ^= u32::from(b);
        h = h.wrapping_mul(0x0100_0193);
    }
    h
}
