//! Marker code books: which values are refitted in each pass, and how stored bytes are read back.
//!
//! Every element of every weight gets an identity `g` (its position in its class's id space, see
//! `ids.rs`). Pass `p` refits the element to a marker value that encodes digit `p` of `g`, chosen so
//! that the value survives every storage conversion TensorRT may apply and can be read back from
//! the stored bytes exactly. Classes of refit dtypes share a code book:
//!
//! | class  | refit dtypes                  | stored as            | digits per pass            |
//! |--------|-------------------------------|----------------------|----------------------------|
//! | float  | FLOAT, HALF, BF16             | fp32, fp16, bf16     | 256: ±(128 + 0..127)       |
//! | byte   | INT8, UINT8, FP8, E8M0        | the same byte        | 227 byte values            |
//! | wide   | INT32, INT64                  | int32, int64         | the whole id (g + 2)       |
//! | nibble | INT4, FP4 (packed)            | the same nibble      | 13 nibble values           |
//! | bit    | BOOL                          | one byte, 0 or 1     | 2 (bits of g + 1)          |
//!
//! Why these values:
//! - ±128…±255 are integers with at most 8 significant bits, so fp32, fp16 and bf16 hold them
//!   exactly. In fp16 their high byte is one of 0x58..0x5B / 0xD8..0xDB, in bf16 0x43 / 0xC3: the
//!   two sets are disjoint, so an fp16 element can never be read as a valid bf16 marker or the
//!   reverse, and an fp32 marker's upper half is its bf16 marker.
//! - The byte code book leaves out those ten "float high bytes", so no pair of byte markers can be
//!   read as a float marker; it also leaves out 0x00 (the baseline), 0x7F and 0xFF (NaN in fp8 and
//!   e8m0), 0x80 (negative zero in fp8, which a conversion may fold into +0), and 0x01..0x0F, so a
//!   byte marker never looks like a bool's 1 or a lone int4 nibble beside a zero nibble.
//! - Nibble markers are 2..7 and 9..15: not 0 (baseline), 1 (a bool's 1) or 8 (fp4's -0).
//! - Int32/int64 markers are ±(g + 2), negative in pass 0 and positive after: small magnitudes,
//!   so their high bytes are 0x00 or 0xFF, which no float or byte marker has; never ±1, which a
//!   lone bool beside zero bytes would read as; both widths hold them, so int64 weights stored as
//!   int32 decode; and the sign tells an int64 element from an int32 one followed by zero bytes.
//! - In the first pass an fp32 refit value also carries [`EPSILON`] in its low 12 mantissa bits.
//!   fp16/bf16 rounding (to nearest or towards zero) removes it, fp32 storage keeps it: that is how
//!   an fp32-stored element is told apart from a bf16 one that happens to follow two zero bytes.

use half::{bf16, f16};

use crate::dtype::DataType;

/// Low 16 bits OR-ed into fp32 markers in pass 0. Below 0x1000, so rounding to fp16 (which drops
/// 13 bits) and to bf16 (16 bits) rounds it away under round-to-nearest and towards zero; neither
/// byte is 0, 1 or a float high byte, so it cannot pass for another marker.
pub const EPSILON: u32 = 0x0B6D;

/// Number of distinct markers per pass for the float class.
pub const FLOAT_BASE: u64 = 256;
/// Markers of the float class in pass 0: the positive ones only. A weight TensorRT stores negated
/// (a folded `Neg`) would otherwise read as other elements' markers, every sign flipped.
pub const FLOAT_FIRST_BASE: u64 = 128;

/// Digit `pass` of float identity `g`: base 128 in pass 0, base 256 after.
#[inline]
pub fn float_digit(g: u64, pass: u32) -> u64 {
    if pass == 0 {
        g % FLOAT_FIRST_BASE
    } else {
        nth_digit(g / FLOAT_FIRST_BASE, FLOAT_BASE, pass - 1)
    }
}
/// Number of distinct markers per pass for the byte class.
pub const BYTE_BASE: u64 = 227;
/// Number of distinct markers per pass for the nibble class.
pub const NIBBLE_BASE: u64 = 13;

/// A code book shared by refit dtypes whose markers are read back the same way.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Class {
    Float,
    Byte,
    Wide,
    Nibble,
    Bit,
}

impl Class {
    pub const ALL: [Class; 5] = [
        Class::Float,
        Class::Byte,
        Class::Wide,
        Class::Nibble,
        Class::Bit,
    ];

    pub fn of(dtype: DataType) -> Class {
        match dtype {
            DataType::Float | DataType::Half | DataType::Bf16 => Class::Float,
            DataType::Int8 | DataType::Uint8 | DataType::Fp8 | DataType::E8m0 => Class::Byte,
            DataType::Int32 | DataType::Int64 => Class::Wide,
            DataType::Int4 | DataType::Fp4 => Class::Nibble,
            DataType::Bool => Class::Bit,
        }
    }

    /// Smallest number of passes that gives `count` elements distinct identities.
    pub fn passes_needed(self, count: u64) -> u32 {
        if count == 0 {
            return 0;
        }
        match self {
            // Pass 0 carries only positive markers (128 of them), later passes 256.
            Class::Float => {
                if count <= FLOAT_FIRST_BASE {
                    1
                } else {
                    1 + digits(count.div_ceil(FLOAT_FIRST_BASE), FLOAT_BASE)
                }
            }
            Class::Byte => digits(count, BYTE_BASE),
            Class::Nibble => digits(count, NIBBLE_BASE),
            Class::Wide => 1,
            // Identities are the bits of g + 1, so 2^p - 1 elements fit in p passes.
            Class::Bit => 64 - count.leading_zeros(),
        }
    }

    /// Whether `count` elements fit in `passes` passes.
    pub fn fits(self, count: u64, passes: u32) -> bool {
        self.passes_needed(count) <= passes
    }
}

/// Smallest p with base^p >= count (count >= 1).
fn digits(count: u64, base: u64) -> u32 {
    let mut p = 1;
    let mut cap = base as u128;
    while cap < count as u128 {
        cap *= base as u128;
        p += 1;
    }
    p
}

/// How stored bytes are interpreted when looking for markers.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Store {
    F32,
    F16,
    Bf16,
    /// One byte per element: int8, uint8, fp8 or e8m0, stored as refitted.
    Byte,
    I32,
    I64,
    /// Two elements per byte, low nibble first: int4 or fp4, stored as refitted.
    Nibble,
    /// One byte per element, 0 or 1.
    Bool,
}

impl Store {
    pub const ALL: [Store; 8] = [
        Store::F32,
        Store::F16,
        Store::Bf16,
        Store::Byte,
        Store::I32,
        Store::I64,
        Store::Nibble,
        Store::Bool,
    ];

    /// Element size in nibbles (half-bytes), the decoder's unit of position.
    pub fn nibbles(self) -> u64 {
        match self {
            Store::F32 | Store::I32 => 8,
            Store::F16 | Store::Bf16 => 4,
            Store::Byte | Store::Bool => 2,
            Store::I64 => 16,
            Store::Nibble => 1,
        }
    }

    pub fn class(self) -> Class {
        match self {
            Store::F32 | Store::F16 | Store::Bf16 => Class::Float,
            Store::Byte => Class::Byte,
            Store::I32 | Store::I64 => Class::Wide,
            Store::Nibble => Class::Nibble,
            Store::Bool => Class::Bit,
        }
    }

    /// Whether TensorRT may store a weight of refit dtype `refit` this way (and we decode it).
    pub fn holds(self, refit: DataType) -> bool {
        match self {
            Store::F32 | Store::F16 | Store::Bf16 => Class::of(refit) == Class::Float,
            Store::Byte => Class::of(refit) == Class::Byte,
            Store::I32 | Store::I64 => Class::of(refit) == Class::Wide,
            Store::Nibble => Class::of(refit) == Class::Nibble,
            Store::Bool => refit == DataType::Bool,
        }
    }

    /// The stored dtype to report for a weight of refit dtype `refit` found stored this way.
    pub fn stored_dtype(self, refit: DataType) -> DataType {
        match self {
            Store::F32 => DataType::Float,
            Store::F16 => DataType::Half,
            Store::Bf16 => DataType::Bf16,
            Store::I32 => DataType::Int32,
            Store::I64 => DataType::Int64,
            Store::Bool => DataType::Bool,
            Store::Byte | Store::Nibble => refit,
        }
    }

    /// The decoder for a stored dtype, as recorded in runs and maps.
    pub fn for_stored(stored: DataType) -> Store {
        match stored {
            DataType::Float => Store::F32,
            DataType::Half => Store::F16,
            DataType::Bf16 => Store::Bf16,
            DataType::Int32 => Store::I32,
            DataType::Int64 => Store::I64,
            DataType::Bool => Store::Bool,
            DataType::Int8 | DataType::Uint8 | DataType::Fp8 | DataType::E8m0 => Store::Byte,
            DataType::Int4 | DataType::Fp4 => Store::Nibble,
        }
    }
}

// ---- float class ------------------------------------------------------------------------------

/// fp32 bits of float marker `d` (0..256); `eps` adds [`EPSILON`].
pub fn float_marker_f32(d: u64, eps: bool) -> u32 {
    let sign = ((d >> 7) & 1) as u32;
    (sign << 31) | 0x4300_0000 | (((d & 0x7F) as u32) << 16) | if eps { EPSILON } else { 0 }
}

pub fn float_marker_f16(d: u64) -> u16 {
    let sign = ((d >> 7) & 1) as u16;
    (sign << 15) | 0x5800 | (((d & 0x7F) as u16) << 3)
}

pub fn float_marker_bf16(d: u64) -> u16 {
    let sign = ((d >> 7) & 1) as u16;
    (sign << 15) | 0x4300 | ((d & 0x7F) as u16)
}

#[inline]
pub fn decode_f16(bits: u16) -> Option<u64> {
    (bits & 0x7C07 == 0x5800).then(|| u64::from(((bits >> 3) & 0x7F) | ((bits >> 8) & 0x80)))
}

#[inline]
pub fn decode_bf16(bits: u16) -> Option<u64> {
    (bits & 0x7F80 == 0x4300).then(|| u64::from((bits & 0x7F) | ((bits >> 8) & 0x80)))
}

/// Decodes an fp32 marker: the digit, and whether [`EPSILON`] was present.
#[inline]
pub fn decode_f32(bits: u32) -> Option<(u64, bool)> {
    let low = bits & 0xFFFF;
    let eps = match low {
        0 => false,
        EPSILON => true,
        _ => return None,
    };
    decode_bf16((bits >> 16) as u16).map(|d| (d, eps))
}

// ---- byte class -------------------------------------------------------------------------------

/// Byte values a float marker can have as its high byte (fp16 or bf16, either sign).
pub fn is_float_high_byte(b: u8) -> bool {
    matches!(b & 0x7F, 0x43 | 0x58..=0x5B)
}

const fn byte_excluded(b: u8) -> bool {
    let m = b & 0x7F;
    b <= 0x0F || b == 0x7F || b == 0x80 || b == 0xFF || m == 0x43 || (m >= 0x58 && m <= 0x5B)
}

const BYTE_TABLES: ([u8; 256], [u8; 256]) = {
    // CODE[d] = byte value of digit d; DIGIT[b] = digit + 1 of byte b, 0 when b is not a marker.
    let mut code = [0u8; 256];
    let mut digit = [0u8; 256];
    let mut d = 0usize;
    let mut b = 0usize;
    while b < 256 {
        if !byte_excluded(b as u8) {
            code[d] = b as u8;
            digit[b] = (d + 1) as u8;
            d += 1;
        }
        b += 1;
    }
    assert!(d == BYTE_BASE as usize);
    (code, digit)
};

pub fn byte_marker(d: u64) -> u8 {
    BYTE_TABLES.0[d as usize]
}

#[inline]
pub fn decode_byte(b: u8) -> Option<u64> {
    let d = BYTE_TABLES.1[b as usize];
    (d != 0).then(|| u64::from(d - 1))
}

// ---- nibble class -----------------------------------------------------------------------------

/// Nibble value of digit `d` (0..13): 2..7 and 9..15.
pub fn nibble_marker(d: u64) -> u8 {
    let d = d as u8;
    if d < 6 {
        d + 2
    } else {
        d + 3
    }
}

#[inline]
pub fn decode_nibble(n: u8) -> Option<u64> {
    match n {
        2..=7 => Some(u64::from(n - 2)),
        9..=15 => Some(u64::from(n - 3)),
        _ => None,
    }
}

/// Int32/int64 markers are `g + WIDE_OFFSET`, negated in pass 0.
pub const WIDE_OFFSET: u64 = 2;

/// The int32/int64 marker of magnitude `m` in pass `pass`. Negative in pass 0: a true int64
/// element then has its upper half all ones, while an int32 element followed by zero bytes reads
/// as a positive int64, so the two widths cannot be confused even for a one-element weight.
pub fn wide_marker(m: u64, pass: u32) -> i64 {
    if pass == 0 {
        -(m as i64)
    } else {
        m as i64
    }
}

// ---- what gets refitted -----------------------------------------------------------------------

/// Writes the refit buffer of one weight for one pass: element `i` carries `digit(g0 + i)`.
/// `pass` is the pass number (0-based) and `total_passes` how many there are.
pub fn fill_markers(dtype: DataType, first_id: u64, count: u64, pass: u32, out: &mut [u8]) {
    let class = Class::of(dtype);
    let digit = |g: u64| -> u64 {
        match class {
            Class::Float => float_digit(g, pass),
            Class::Byte => nth_digit(g, BYTE_BASE, pass),
            Class::Nibble => nth_digit(g, NIBBLE_BASE, pass),
            Class::Bit => ((g + 1) >> pass) & 1,
            Class::Wide => g + WIDE_OFFSET,
        }
    };
    let n = count as usize;
    match dtype {
        DataType::Float | DataType::Half | DataType::Bf16 => {
            fill_float_markers(dtype, first_id, n, pass, out)
        }
        DataType::Int8 | DataType::Uint8 | DataType::Fp8 | DataType::E8m0 => {
            for (i, b) in out.iter_mut().take(n).enumerate() {
                *b = byte_marker(digit(first_id + i as u64));
            }
        }
        DataType::Bool => {
            for (i, b) in out.iter_mut().take(n).enumerate() {
                *b = digit(first_id + i as u64) as u8;
            }
        }
        DataType::Int32 => {
            for (i, c) in out.chunks_exact_mut(4).take(n).enumerate() {
                c.copy_from_slice(
                    &(wide_marker(digit(first_id + i as u64), pass) as i32).to_le_bytes(),
                );
            }
        }
        DataType::Int64 => {
            for (i, c) in out.chunks_exact_mut(8).take(n).enumerate() {
                c.copy_from_slice(&wide_marker(digit(first_id + i as u64), pass).to_le_bytes());
            }
        }
        DataType::Int4 | DataType::Fp4 => {
            out.fill(0);
            for i in 0..n {
                let v = nibble_marker(digit(first_id + i as u64));
                out[i / 2] |= v << ((i % 2) * 4);
            }
        }
    }
}

/// The store of a float refit dtype as refitted (fp32, fp16 or bf16).
fn float_store(dtype: DataType) -> Store {
    match dtype {
        DataType::Float => Store::F32,
        DataType::Half => Store::F16,
        _ => Store::Bf16,
    }
}

/// Identities a [`pass0_float_markers`] table covers from any starting digit.
pub const PASS0_TABLE_RUN: usize = 256;

/// The stored bytes of pass-0 markers of float store `s` (fp32 ones with [`EPSILON`] when
/// `eps`) for identities `0, 1, …, 127 + PASS0_TABLE_RUN`: pass 0's digit is `g % 128`, so the
/// markers of any [`PASS0_TABLE_RUN`] consecutive identities are one slice of it.
pub fn pass0_float_markers(s: Store, eps: bool) -> &'static [u8] {
    use std::sync::OnceLock;
    static TABLES: [OnceLock<Vec<u8>>; 4] = [const { OnceLock::new() }; 4];
    let k = match (s, eps) {
        (Store::F32, false) => 0,
        (Store::F32, true) => 1,
        (Store::F16, _) => 2,
        _ => 3,
    };
    TABLES[k].get_or_init(|| {
        (0..FLOAT_FIRST_BASE + PASS0_TABLE_RUN as u64)
            .flat_map(|g| {
                let d = float_digit(g, 0);
                match s {
                    Store::F32 => float_marker_f32(d, eps).to_le_bytes().to_vec(),
                    Store::F16 => float_marker_f16(d).to_le_bytes().to_vec(),
                    _ => float_marker_bf16(d).to_le_bytes().to_vec(),
                }
            })
            .collect()
    })
}

/// [`fill_markers`] for the float class, at memory speed: pass 0's markers are slices of a
/// table (they repeat every 128 identities), later passes' are constant for 128 identities at a
/// time (digit `p >= 1` is a digit of `g / 128`).
fn fill_float_markers(dtype: DataType, first_id: u64, n: usize, pass: u32, out: &mut [u8]) {
    let s = float_store(dtype);
    let esize = (s.nibbles() / 2) as usize;
    let out = &mut out[..n * esize];
    let mut k = 0;
    if pass == 0 {
        let table = pass0_float_markers(s, dtype == DataType::Float);
        while k < n {
            let m = (n - k).min(PASS0_TABLE_RUN);
            let r = ((first_id + k as u64) % FLOAT_FIRST_BASE) as usize * esize;
            out[k * esize..(k + m) * esize].copy_from_slice(&table[r..r + m * esize]);
            k += m;
        }
        return;
    }
    while k < n {
        let g = first_id + k as u64;
        let m = ((FLOAT_FIRST_BASE - g % FLOAT_FIRST_BASE) as usize).min(n - k);
        let d = float_digit(g, pass);
        let seg = &mut out[k * esize..(k + m) * esize];
        match s {
            Store::F32 => {
                let v = float_marker_f32(d, false).to_le_bytes();
                seg.chunks_exact_mut(4).for_each(|c| c.copy_from_slice(&v));
            }
            Store::F16 => {
                let v = float_marker_f16(d).to_le_bytes();
                seg.chunks_exact_mut(2).for_each(|c| c.copy_from_slice(&v));
            }
            _ => {
                let v = float_marker_bf16(d).to_le_bytes();
                seg.chunks_exact_mut(2).for_each(|c| c.copy_from_slice(&v));
            }
        }
        k += m;
    }
}

/// Digit `pass` of `g` in base `base`.
#[inline]
pub fn nth_digit(g: u64, base: u64, pass: u32) -> u64 {
    let mut g = g;
    for _ in 0..pass {
        g /= base;
    }
    g % base
}

// ---- value conversions used when reading stored values back ----------------------------------

/// How much a stored format keeps: the copy with the most wins when copies differ (fp32 over
/// fp16 over bf16 by mantissa bits; int64 over int32).
pub fn precision_rank(stored: DataType) -> u8 {
    match stored {
        DataType::Float => 3,
        DataType::Half => 2,
        DataType::Bf16 => 1,
        DataType::Int64 => 4,
        _ => 3,
    }
}

/// A stored float value as f32 (exact: fp16 and bf16 widen exactly).
pub fn stored_float_to_f32(stored: DataType, bytes: &[u8]) -> f32 {
    match stored {
        DataType::Float => f32::from_le_bytes([bytes[0], bytes[1], bytes[2], bytes[3]]),
        DataType::Half => f16::from_bits(u16::from_le_bytes([bytes[0], bytes[1]])).to_f32(),
        DataType::Bf16 => bf16::from_bits(u16::from_le_bytes([bytes[0], bytes[1]])).to_f32(),
        other => unreachable!("{other} is not a float storage dtype"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn float_markers_are_exact_in_every_float_format() {
        for d in 0..FLOAT_BASE {
            let v32 = f32::from_bits(float_marker_f32(d, false));
            let mag = 128 + (d & 127);
            assert_eq!(v32.abs(), mag as f32);
            assert_eq!(v32.is_sign_negative(), d >= 128);
            assert_eq!(f16::from_f32(v32).to_bits(), float_marker_f16(d));
            assert_eq!(bf16::from_f32(v32).to_bits(), float_marker_bf16(d));
            // The epsilon rounds away in both half formats.
            let e = f32::from_bits(float_marker_f32(d, true));
            assert_eq!(f16::from_f32(e).to_bits(), float_marker_f16(d));
            assert_eq!(bf16::from_f32(e).to_bits(), float_marker_bf16(d));
            assert_eq!(decode_f16(float_marker_f16(d)), Some(d));
            assert_eq!(decode_bf16(float_marker_bf16(d)), Some(d));
            assert_eq!(decode_f32(float_marker_f32(d, true)), Some((d, true)));
            assert_eq!(decode_f32(float_marker_f32(d, false)), Some((d, false)));
        }
    }

    #[test]
    fn fp16_and_bf16_markers_never_alias() {
        for bits in 0..=u16::MAX {
            assert!(
                !(decode_f16(bits).is_some() && decode_bf16(bits).is_some()),
                "{bits:#06x} reads as both"
            );
        }
        let f16_count = (0..=u16::MAX).filter(|b| decode_f16(*b).is_some()).count();
        let bf16_count = (0..=u16::MAX).filter(|b| decode_bf16(*b).is_some()).count();
        assert_eq!((f16_count, bf16_count), (256, 256));
    }

    #[test]
    fn byte_markers_avoid_float_high_bytes_and_specials() {
        let mut seen = std::collections::HashSet::new();
        for d in 0..BYTE_BASE {
            let b = byte_marker(d);
            assert!(!is_float_high_byte(b), "{b:#04x}");
            assert!(![0x00, 0x7F, 0x80, 0xFF].contains(&b));
            assert!(b > 0x0F, "{b:#04x} looks like a bool 1 or a lone nibble");
            assert_eq!(decode_byte(b), Some(d));
            assert!(seen.insert(b));
        }
        for d in 0..FLOAT_BASE {
            assert!(is_float_high_byte((float_marker_f16(d) >> 8) as u8));
            assert!(is_float_high_byte((float_marker_bf16(d) >> 8) as u8));
            assert_eq!(decode_byte((float_marker_f16(d) >> 8) as u8), None);
        }
    }

    #[test]
    fn nibble_markers_skip_zero_and_negative_zero() {
        let vals: Vec<u8> = (0..NIBBLE_BASE).map(nibble_marker).collect();
        assert!(!vals.contains(&0) && !vals.contains(&1) && !vals.contains(&8));
        assert!(vals.iter().all(|v| *v < 16));
        for (d, v) in vals.iter().enumerate() {
            assert_eq!(decode_nibble(*v), Some(d as u64));
        }
    }

    #[test]
    fn pass_counts() {
        assert_eq!(Class::Float.passes_needed(7312), 2);
        assert_eq!(Class::Float.passes_needed(128), 1);
        assert_eq!(Class::Float.passes_needed(129), 2);
        assert_eq!(Class::Float.passes_needed(128 * 256), 2);
        assert_eq!(Class::Float.passes_needed(128 * 256 + 1), 3);
        assert_eq!(Class::Float.passes_needed(1 << 31), 4);
        assert_eq!(Class::Float.passes_needed((1 << 31) + 1), 5);
        // BERT-base's 110M elements and a 1B decoder fit in four.
        assert_eq!(Class::Float.passes_needed(110_000_000), 4);
        assert_eq!(Class::Float.passes_needed(1_000_000_000), 4);
        assert_eq!(Class::Byte.passes_needed(1 << 31), 4);
        assert_eq!(Class::Wide.passes_needed(1 << 40), 1);
        assert_eq!(Class::Bit.passes_needed(1), 1);
        assert_eq!(Class::Bit.passes_needed(3), 2);
        assert_eq!(Class::Bit.passes_needed(4), 3);
        assert_eq!(Class::Nibble.passes_needed(13), 1);
        assert_eq!(Class::Nibble.passes_needed(14), 2);
        assert_eq!(Class::Nibble.passes_needed(1 << 31), 9);
        assert_eq!(Class::Float.passes_needed(0), 0);
    }

    #[test]
    fn float_identities_round_trip_through_their_digits() {
        for g in [0u64, 1, 127, 128, 129, 40_000, (1 << 31) - 1] {
            let back = float_digit(g, 0)
                + FLOAT_FIRST_BASE
                    * (0..4)
                        .map(|p| float_digit(g, p + 1) << (8 * p))
                        .sum::<u64>();
            assert_eq!(back, g);
            assert!(
                float_digit(g, 0) < FLOAT_FIRST_BASE,
                "pass-0 markers are positive"
            );
        }
    }

    #[test]
    fn float_markers_fill_as_each_element_is_defined() {
        // From every start mod 128, across digit changes of every pass, in every float dtype.
        for dtype in [DataType::Float, DataType::Half, DataType::Bf16] {
            for first in [
                0u64,
                1,
                127,
                128,
                200,
                32_767,
                32_768,
                4_194_000,
                (1 << 31) - 5,
            ] {
                for n in [0usize, 1, 3, 255, 256, 257, 1000] {
                    for pass in 0..5 {
                        let esize = dtype.bits() as usize / 8;
                        let mut got = vec![0xEEu8; n * esize + 3];
                        fill_markers(dtype, first, n as u64, pass, &mut got);
                        let mut want = vec![0xEEu8; n * esize + 3];
                        for (i, c) in want.chunks_exact_mut(esize).take(n).enumerate() {
                            let d = float_digit(first + i as u64, pass);
                            match dtype {
                                DataType::Float => {
                                    c.copy_from_slice(&float_marker_f32(d, pass == 0).to_le_bytes())
                                }
                                DataType::Half => {
                                    c.copy_from_slice(&float_marker_f16(d).to_le_bytes())
                                }
                                _ => c.copy_from_slice(&float_marker_bf16(d).to_le_bytes()),
                            }
                        }
                        assert_eq!(
                            got, want,
                            "{dtype:?} from {first}, {n} elements, pass {pass}"
                        );
                    }
                }
            }
        }
    }

    #[test]
    fn markers_fill_packed_and_wide_buffers() {
        let mut buf = vec![0u8; 2];
        fill_markers(DataType::Int4, 0, 3, 0, &mut buf);
        assert_eq!(
            buf,
            vec![nibble_marker(0) | nibble_marker(1) << 4, nibble_marker(2)]
        );
        let mut buf = vec![0u8; 16];
        fill_markers(DataType::Int64, 41, 2, 3, &mut buf);
        assert_eq!(
            i64::from_le_bytes(buf[8..].try_into().unwrap()),
            42 + WIDE_OFFSET as i64
        );
        fill_markers(DataType::Int64, 41, 2, 0, &mut buf);
        assert_eq!(
            i64::from_le_bytes(buf[8..].try_into().unwrap()),
            -(42 + WIDE_OFFSET as i64)
        );
        let mut buf = vec![0u8; 4];
        fill_markers(DataType::Bool, 4, 4, 1, &mut buf);
        // g+1 = 5,6,7,8 -> bit 1 = 0,1,1,0
        assert_eq!(buf, vec![0, 1, 1, 0]);
    }
}
