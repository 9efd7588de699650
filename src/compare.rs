//! Comparing weight values: an engine's against a reference file (`verify`), or two engines'
//! (`diff`). Pure functions over bytes; the commands in `cli::verify` and `cli::diff` read the
//! inputs and print the results.
//!
//! **Exactness.** Two elements are *equal* when their bits are equal after the second one is
//! converted to the first one's dtype: floats round to nearest, ties to even (as TensorRT converts
//! fp32 weights to fp16), integers must be integral and in range, and the 4- and 8-bit float codes
//! (fp8, fp4, e8m0) must be hit exactly. So an fp32 reference equals an fp16 engine when rounding it
//! to fp16 gives the engine's bits, and the rounding is counted (`rounded`) and its size reported:
//! the errors (`max_abs`, `max_rel`) are always measured against the values as given, in f64,
//! never against the rounded ones. `-0.0` and `+0.0` are different bits and so not equal; two NaNs
//! are equal only when their bits are.
//!
//! **Tolerance.** With `atol`/`rtol`, an element that is not equal still passes when
//! `|a - b| <= atol + rtol * |b|` (`verify`: `b` is the reference, as `numpy.isclose(a, b)`) or
//! `<= atol + rtol * max(|a|, |b|)` (`diff`: symmetric), with NaN matching NaN. Zero tolerances
//! (the default) mean exact.

use std::collections::{BTreeMap, BTreeSet};

use half::{bf16, f16};
use serde::Serialize;

use crate::dtype::DataType;
use crate::writer::convert::{e8m0_to_f32, fp4_to_f32, fp8_e4m3_to_f32, int4_to_i8};

/// How far apart two values may be and still pass. Both zero: exact.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize)]
pub struct Tolerance {
    pub rtol: f64,
    pub atol: f64,
    /// Relative to `max(|a|, |b|)` (diff) instead of `|b|` (verify, `b` the reference).
    #[serde(skip)]
    pub symmetric: bool,
}

impl Tolerance {
    pub fn exact() -> Tolerance {
        Tolerance::default()
    }

    pub fn is_exact(&self) -> bool {
        self.rtol == 0.0 && self.atol == 0.0
    }

    /// Checks the values (negative or NaN tolerances make no sense).
    pub fn validate(&self) -> Result<(), String> {
        for (name, v) in [("--rtol", self.rtol), ("--atol", self.atol)] {
            if v.is_nan() || v < 0.0 || v.is_infinite() {
                return Err(format!("{name} {v}: must be a finite number >= 0"));
            }
        }
        Ok(())
    }

    fn accepts(&self, a: f64, b: f64) -> bool {
        if a.is_nan() || b.is_nan() {
            return a.is_nan() && b.is_nan();
        }
        if a == b {
            return true; // equal infinities, or -0 vs +0
        }
        let scale = if self.symmetric { a.abs().max(b.abs()) } else { b.abs() };
        (a - b).abs() <= self.atol + self.rtol * scale
    }
}

/// One side's values: `count` elements of `dtype`, packed as refit buffers are (little-endian,
/// 4-bit types two per byte, low nibble first).
#[derive(Clone, Copy, Debug)]
pub struct Values<'a> {
    pub dtype: DataType,
    pub data: &'a [u8],
}

/// Element-wise statistics of `a` against `b`.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct ElementStats {
    pub count: u64,
    /// Elements whose bits differ after converting `b` to `a`'s dtype.
    pub differing: u64,
    /// Of those, the elements outside the tolerance (all of them when the tolerance is exact).
    pub beyond_tolerance: u64,
    /// Elements of `b` that have no exact value in `a`'s dtype (rounded, or not representable).
    pub rounded: u64,
    /// Elements where exactly one side is NaN.
    pub nan_mismatches: u64,
    /// Largest `|a - b|`, with `b` as given (before any rounding); NaNs left out.
    pub max_abs: f64,
    /// Largest `|a - b| / |b|` over elements with `b != 0` (NaNs and infinities left out).
    pub max_rel: f64,
    /// Index of the first element that is not equal.
    pub first_differing: Option<u64>,
    /// Index of the element with the largest `|a - b|`, when that is not zero.
    pub max_abs_at: Option<u64>,
}

impl ElementStats {
    pub fn equal(&self) -> bool {
        self.differing == 0
    }
}

/// A value as read from a buffer: floats and integers kept apart so int64 stays exact.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Num {
    F(f64),
    I(i64),
}

impl Num {
    fn f64(self) -> f64 {
        match self {
            Num::F(v) => v,
            Num::I(v) => v as f64,
        }
    }
}

fn nibble(data: &[u8], i: usize) -> u8 {
    let b = data[i / 2];
    if i.is_multiple_of(2) {
        b & 0x0f
    } else {
        b >> 4
    }
}

/// The bits of element `i` (its storage, zero-extended).
fn bits(dtype: DataType, data: &[u8], i: usize) -> u64 {
    match dtype.bits() {
        4 => u64::from(nibble(data, i)),
        8 => u64::from(data[i]),
        16 => u64::from(u16::from_le_bytes([data[2 * i], data[2 * i + 1]])),
        32 => u64::from(u32::from_le_bytes(data[4 * i..4 * i + 4].try_into().expect("4 bytes"))),
        _ => u64::from_le_bytes(data[8 * i..8 * i + 8].try_into().expect("8 bytes")),
    }
}

fn value(dtype: DataType, data: &[u8], i: usize) -> Num {
    let b = bits(dtype, data, i);
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

/// `v` in `dtype`'s bits and whether that is exact; `None` when `dtype` has no value for it at all
/// (a fraction or an out-of-range integer for an integer dtype, or no fp8/fp4/e8m0 code for it).
fn convert(dtype: DataType, v: Num) -> Option<(u64, bool)> {
    let exact_int = |lo: i64, hi: i64| -> Option<(u64, bool)> {
        let i = match v {
            Num::I(i) => i,
            Num::F(f) if f.fract() == 0.0 && (-9.3e18..=9.3e18).contains(&f) => f as i64,
            Num::F(_) => return None,
        };
        (lo..=hi).contains(&i).then_some((i as u64, true))
    };
    let code = |decode: fn(u8) -> f32, codes: u16| -> Option<(u64, bool)> {
        let f = v.f64();
        (0..codes)
            .map(|c| c as u8)
            .find(|&c| {
                let d = f64::from(decode(c));
                (d == f && d.is_sign_negative() == f.is_sign_negative()) || (d.is_nan() && f.is_nan())
            })
            .map(|c| (u64::from(c), true))
    };
    match dtype {
        DataType::Float => {
            let f = v.f64();
            let r = f as f32;
            Some((u64::from(r.to_bits()), f64::from(r) == f || (f.is_nan() && r.is_nan())))
        }
        DataType::Half => {
            let f = v.f64();
            let r = f16::from_f64(f);
            Some((u64::from(r.to_bits()), r.to_f64() == f || (f.is_nan() && r.is_nan())))
        }
        DataType::Bf16 => {
            let f = v.f64();
            let r = bf16::from_f64(f);
            Some((u64::from(r.to_bits()), r.to_f64() == f || (f.is_nan() && r.is_nan())))
        }
        DataType::Int8 => exact_int(-128, 127).map(|(b, e)| (b & 0xff, e)),
        DataType::Uint8 => exact_int(0, 255),
        DataType::Bool => exact_int(0, 1),
        DataType::Int32 => exact_int(i64::from(i32::MIN), i64::from(i32::MAX)).map(|(b, e)| (b & 0xffff_ffff, e)),
        DataType::Int64 => exact_int(i64::MIN, i64::MAX),
        DataType::Int4 => exact_int(-8, 7).map(|(b, e)| (b & 0xf, e)),
        DataType::Fp8 => code(fp8_e4m3_to_f32, 256),
        DataType::Fp4 => code(fp4_to_f32, 16),
        DataType::E8m0 => code(e8m0_to_f32, 256),
    }
}

/// Checks that `v` holds `count` elements of its dtype.
fn check_len(side: &str, v: &Values<'_>, count: u64) -> Result<(), String> {
    let want = v.dtype.bytes_for(count).ok_or_else(|| format!("{count} elements of {} overflow", v.dtype))?;
    if v.data.len() as u64 != want {
        return Err(format!(
            "{side}: {} bytes for {count} elements of {} (want {want})",
            v.data.len(),
            v.dtype
        ));
    }
    Ok(())
}

/// Compares `count` elements of `a` with those of `b` (see the module docs for what counts as
/// equal). Errors only when a buffer does not hold `count` elements.
pub fn compare_values(a: Values<'_>, b: Values<'_>, count: u64, tol: &Tolerance) -> Result<ElementStats, String> {
    check_len("first", &a, count)?;
    check_len("second", &b, count)?;
    let mut s = ElementStats { count, ..ElementStats::default() };
    if a.dtype == b.dtype && a.data == b.data {
        return Ok(s); // the common case, at memcmp speed
    }
    let n = usize::try_from(count).map_err(|_| "too many elements for this machine".to_string())?;
    for i in 0..n {
        let (va, vb) = (value(a.dtype, a.data, i), value(b.dtype, b.data, i));
        let equal = if a.dtype == b.dtype {
            bits(a.dtype, a.data, i) == bits(b.dtype, b.data, i)
        } else {
            match convert(a.dtype, vb) {
                Some((bb, exact)) => {
                    s.rounded += u64::from(!exact);
                    bits(a.dtype, a.data, i) == bb
                }
                None => {
                    s.rounded += 1;
                    false
                }
            }
        };
        let (fa, fb) = (va.f64(), vb.f64());
        if fa.is_nan() != fb.is_nan() {
            s.nan_mismatches += 1;
        } else if !fa.is_nan() {
            let abs = match (va, vb) {
                (Num::I(x), Num::I(y)) => (i128::from(x) - i128::from(y)).unsigned_abs() as f64,
                _ if fa == fb => 0.0, // equal infinities
                _ => (fa - fb).abs(),
            };
            if abs > s.max_abs {
                s.max_abs = abs;
                s.max_abs_at = Some(i as u64);
            }
            if fb != 0.0 && fb.is_finite() && abs.is_finite() {
                s.max_rel = s.max_rel.max(abs / fb.abs());
            }
        }
        if !equal {
            s.differing += 1;
            s.first_differing.get_or_insert(i as u64);
            if tol.is_exact() || !tol.accepts(fa, fb) {
                s.beyond_tolerance += 1;
            }
        }
    }
    Ok(s)
}

/// Whether every element of `a` equals `b` rounded to `via` and widened back to `a`'s dtype: an
/// engine whose refit dtype is fp32 but which stores the weight as fp16 holds exactly that.
pub fn equals_rounded_through(a: Values<'_>, b: Values<'_>, count: u64, via: DataType) -> bool {
    if check_len("a", &a, count).is_err() || check_len("b", &b, count).is_err() {
        return false;
    }
    (0..count as usize).all(|i| {
        let Some((vb, _)) = convert(via, value(b.dtype, b.data, i)) else { return false };
        let narrowed = {
            let mut buf = [0u8; 8];
            buf.copy_from_slice(&vb.to_le_bytes());
            value(via, &buf, 0)
        };
        match convert(a.dtype, narrowed) {
            Some((x, true)) => x == bits(a.dtype, a.data, i),
            _ => false,
        }
    })
}

// ---------------------------------------------------------------------------------------------
// verify: an engine against a reference
// ---------------------------------------------------------------------------------------------

/// One engine weight as extraction left it.
#[derive(Clone, Debug)]
pub struct EngineWeight<'a> {
    pub name: &'a str,
    pub dtype: DataType,
    pub count: u64,
    /// `None` when extraction could not recover it.
    pub values: Option<&'a [u8]>,
    /// Dtypes the engine stores it in (several copies possible; empty when not known).
    pub stored: Vec<DataType>,
    /// Why it could not be recovered.
    pub missing: Option<String>,
}

/// One reference tensor.
#[derive(Clone, Debug)]
pub struct RefWeight<'a> {
    pub name: &'a str,
    pub dtype: DataType,
    pub shape: &'a [u64],
    pub data: &'a [u8],
}

impl RefWeight<'_> {
    fn count(&self) -> u64 {
        crate::reference::element_count(self.shape).unwrap_or(u64::MAX)
    }
}

/// What became of one name.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum Status {
    /// Bit for bit equal, in the same dtype.
    Exact,
    /// Bit for bit equal after rounding the reference to the engine's dtype (`rounded` values
    /// changed by it; `max_abs`/`max_rel` say by how much).
    ExactAfterRounding { from: String, to: String },
    /// Not bit-equal, but every element within the tolerance.
    WithinTolerance,
    /// Elements differ beyond the tolerance. `as_stored` names a narrower dtype the engine keeps
    /// the weight in, when its values are exactly the reference rounded to that dtype.
    Differs {
        #[serde(skip_serializing_if = "Option::is_none")]
        as_stored: Option<String>,
    },
    /// The two sides do not have the same number of elements: nothing compared.
    CountMismatch { first: u64, second: u64 },
    /// The buffers could not be compared (a corrupt input).
    Unreadable { why: String },
    /// Only in the first input (the engine, for verify; A, for diff).
    OnlyInFirst,
    /// Only in the second input (the reference, for verify; B, for diff).
    OnlyInSecond,
    /// A side could not recover the weight: nothing compared.
    NotRecovered { side: String, why: String },
}

impl Status {
    /// Counts as a match (nothing to report for the verdict).
    pub fn matches(&self) -> bool {
        matches!(self, Status::Exact | Status::ExactAfterRounding { .. } | Status::WithinTolerance)
    }
}

#[derive(Clone, Debug, Serialize)]
pub struct Compared {
    pub name: String,
    #[serde(flatten)]
    pub status: Status,
    /// The first side's dtype (the engine's refit dtype, for verify).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dtype: Option<String>,
    /// The second side's dtype (the reference's, for verify), when it differs from the first.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub other_dtype: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub count: Option<u64>,
    /// The reference's shape (verify only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub shape: Option<Vec<u64>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stats: Option<ElementStats>,
}

/// Counts of each outcome, and the verdict.
#[derive(Clone, Debug, Default, Serialize)]
pub struct Summary {
    /// Names compared element by element.
    pub compared: usize,
    pub exact: usize,
    pub exact_after_rounding: usize,
    pub within_tolerance: usize,
    pub differ: usize,
    pub count_mismatch: usize,
    pub unreadable: usize,
    pub only_in_first: usize,
    pub only_in_second: usize,
    pub not_recovered: usize,
    /// Compared names whose two sides have different dtypes (fails `diff`, normal for `verify`).
    pub dtype_mismatch: usize,
    /// True when everything required matched (see [`verify`] and [`diff`] for the rules).
    pub pass: bool,
}

/// "label: count" for every non-zero count, comma-separated; `none could be compared` when all
/// are zero. `verify` and `diff` name the same counts in their own words.
pub fn tally(counts: &[(&str, usize)]) -> String {
    let parts: Vec<String> = counts.iter().filter(|(_, n)| *n > 0).map(|(l, n)| format!("{l}: {n}")).collect();
    if parts.is_empty() {
        "none could be compared".into()
    } else {
        parts.join(", ")
    }
}

impl Summary {
    fn count(items: &[Compared]) -> Summary {
        let mut s = Summary::default();
        for c in items {
            match &c.status {
                Status::Exact => s.exact += 1,
                Status::ExactAfterRounding { .. } => s.exact_after_rounding += 1,
                Status::WithinTolerance => s.within_tolerance += 1,
                Status::Differs { .. } => s.differ += 1,
                Status::CountMismatch { .. } => s.count_mismatch += 1,
                Status::Unreadable { .. } => s.unreadable += 1,
                Status::OnlyInFirst => s.only_in_first += 1,
                Status::OnlyInSecond => s.only_in_second += 1,
                Status::NotRecovered { .. } => s.not_recovered += 1,
            }
            if c.stats.is_some() && c.other_dtype.is_some() {
                s.dtype_mismatch += 1;
            }
        }
        s.compared = s.exact + s.exact_after_rounding + s.within_tolerance + s.differ;
        s
    }

    /// Matched names (exact, after rounding, or within tolerance).
    pub fn matched(&self) -> usize {
        self.exact + self.exact_after_rounding + self.within_tolerance
    }
}

/// Compares two recovered buffers of one name.
fn compare_one(
    name: &str,
    a: Values<'_>,
    a_count: u64,
    b: Values<'_>,
    b_count: u64,
    tol: &Tolerance,
    stored: &[DataType],
) -> Compared {
    let mut c = Compared {
        name: name.to_string(),
        status: Status::Exact,
        dtype: Some(a.dtype.name().to_string()),
        other_dtype: (b.dtype != a.dtype).then(|| b.dtype.name().to_string()),
        count: Some(a_count),
        shape: None,
        stats: None,
    };
    if a_count != b_count {
        c.status = Status::CountMismatch { first: a_count, second: b_count };
        return c;
    }
    let stats = match compare_values(a, b, a_count, tol) {
        Ok(s) => s,
        Err(why) => {
            c.status = Status::Unreadable { why };
            return c;
        }
    };
    c.status = if stats.differing == 0 && (a.dtype == b.dtype || stats.rounded == 0) {
        Status::Exact
    } else if stats.differing == 0 {
        Status::ExactAfterRounding { from: b.dtype.name().to_string(), to: a.dtype.name().to_string() }
    } else if stats.beyond_tolerance == 0 {
        Status::WithinTolerance
    } else {
        // Stored narrower than the refit dtype? Then say whether that explains the difference.
        let as_stored = stored
            .iter()
            .copied()
            .filter(|&d| d != a.dtype && d.bits() < a.dtype.bits())
            .find(|&d| equals_rounded_through(a, b, a_count, d))
            .map(|d| d.name().to_string());
        Status::Differs { as_stored }
    };
    c.stats = Some(stats);
    c
}

/// The outcome of `verify`.
#[derive(Clone, Debug, Serialize)]
pub struct VerifyResult {
    /// Every engine weight, then every reference tensor the engine does not name.
    pub weights: Vec<Compared>,
    pub summary: Summary,
}

/// Compares an engine's weights with a reference, by name.
///
/// The verdict passes when at least one weight was compared, every engine weight was found in the
/// reference with the same element count and matched (exactly, after rounding the reference to the
/// engine's dtype, or within the tolerance), and every engine weight was recovered, unless
/// `allow_missing`. Reference tensors the engine does not name are listed but do not fail the
/// verdict: checkpoints and ONNX files hold tensors that no engine makes refittable (buffers,
/// shape constants, weights TensorRT folded into others).
pub fn verify(engine: &[EngineWeight<'_>], reference: &[RefWeight<'_>], tol: &Tolerance, allow_missing: bool) -> VerifyResult {
    let mut by_name: BTreeMap<&str, &RefWeight<'_>> = BTreeMap::new();
    for r in reference {
        by_name.entry(r.name).or_insert(r);
    }
    let mut weights = Vec::with_capacity(engine.len());
    let mut seen: BTreeSet<&str> = BTreeSet::new();
    for e in engine {
        seen.insert(e.name);
        let Some(r) = by_name.get(e.name) else {
            weights.push(Compared {
                name: e.name.to_string(),
                status: Status::OnlyInFirst,
                dtype: Some(e.dtype.name().to_string()),
                other_dtype: None,
                count: Some(e.count),
                shape: None,
                stats: None,
            });
            continue;
        };
        let mut c = match e.values {
            None => Compared {
                name: e.name.to_string(),
                status: Status::NotRecovered {
                    side: "engine".into(),
                    why: e.missing.clone().unwrap_or_else(|| "not recovered".into()),
                },
                dtype: Some(e.dtype.name().to_string()),
                other_dtype: (r.dtype != e.dtype).then(|| r.dtype.name().to_string()),
                count: Some(e.count),
                shape: None,
                stats: None,
            },
            Some(v) => compare_one(
                e.name,
                Values { dtype: e.dtype, data: v },
                e.count,
                Values { dtype: r.dtype, data: r.data },
                r.count(),
                tol,
                &e.stored,
            ),
        };
        c.shape = Some(r.shape.to_vec());
        weights.push(c);
    }
    for r in reference {
        if seen.insert(r.name) {
            weights.push(Compared {
                name: r.name.to_string(),
                status: Status::OnlyInSecond,
                dtype: None,
                other_dtype: Some(r.dtype.name().to_string()),
                count: Some(r.count()),
                shape: Some(r.shape.to_vec()),
                stats: None,
            });
        }
    }
    let mut summary = Summary::count(&weights);
    summary.pass = summary.compared > 0
        && summary.differ == 0
        && summary.count_mismatch == 0
        && summary.unreadable == 0
        && summary.only_in_first == 0
        && (summary.not_recovered == 0 || allow_missing);
    VerifyResult { weights, summary }
}

// ---------------------------------------------------------------------------------------------
// diff: two engines
// ---------------------------------------------------------------------------------------------

/// The outcome of `diff`.
#[derive(Clone, Debug, Serialize)]
pub struct DiffResult {
    /// Every weight of A (in A's order), then those only in B.
    pub weights: Vec<Compared>,
    pub summary: Summary,
}

/// Compares two engines' weights by name (B converted to A's dtype where they differ).
///
/// Identical (the verdict passes) when both name the same weights, each with the same dtype and
/// count, and every one is equal, or within the tolerance. A weight either side could not recover is listed and makes the verdict
/// fail unless `allow_missing`; with it, such weights are left out of the comparison.
pub fn diff(a: &[EngineWeight<'_>], b: &[EngineWeight<'_>], tol: &Tolerance, allow_missing: bool) -> DiffResult {
    let tol = Tolerance { symmetric: true, ..*tol };
    let mut by_name: BTreeMap<&str, &EngineWeight<'_>> = BTreeMap::new();
    for w in b {
        by_name.entry(w.name).or_insert(w);
    }
    let mut seen: BTreeSet<&str> = BTreeSet::new();
    let mut weights = Vec::with_capacity(a.len());
    for wa in a {
        seen.insert(wa.name);
        let base = |status: Status| Compared {
            name: wa.name.to_string(),
            status,
            dtype: Some(wa.dtype.name().to_string()),
            other_dtype: None,
            count: Some(wa.count),
            shape: None,
            stats: None,
        };
        let Some(wb) = by_name.get(wa.name) else {
            weights.push(base(Status::OnlyInFirst));
            continue;
        };
        let c = match (wa.values, wb.values) {
            (Some(va), Some(vb)) => compare_one(
                wa.name,
                Values { dtype: wa.dtype, data: va },
                wa.count,
                Values { dtype: wb.dtype, data: vb },
                wb.count,
                &tol,
                &[],
            ),
            (None, _) => base(Status::NotRecovered {
                side: "A".into(),
                why: wa.missing.clone().unwrap_or_else(|| "not recovered".into()),
            }),
            (_, None) => base(Status::NotRecovered {
                side: "B".into(),
                why: wb.missing.clone().unwrap_or_else(|| "not recovered".into()),
            }),
        };
        weights.push(c);
    }
    for wb in b {
        if seen.insert(wb.name) {
            weights.push(Compared {
                name: wb.name.to_string(),
                status: Status::OnlyInSecond,
                dtype: None,
                other_dtype: Some(wb.dtype.name().to_string()),
                count: Some(wb.count),
                shape: None,
                stats: None,
            });
        }
    }
    let mut summary = Summary::count(&weights);
    summary.pass = summary.differ == 0
        && summary.count_mismatch == 0
        && summary.unreadable == 0
        && summary.only_in_first == 0
        && summary.only_in_second == 0
        && summary.dtype_mismatch == 0
        && (summary.not_recovered == 0 || allow_missing);
    DiffResult { weights, summary }
}

/// A number for people: integers as they are, others in 4 significant digits.
pub fn human(v: f64) -> String {
    if v == 0.0 {
        "0".into()
    } else if v.fract() == 0.0 && v.abs() < 1e15 {
        format!("{v:.0}")
    } else if (1e-3..1e5).contains(&v.abs()) {
        format!("{v:.4}").trim_end_matches('0').trim_end_matches('.').to_string()
    } else {
        format!("{v:.3e}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn f32s(v: &[f32]) -> Vec<u8> {
        v.iter().flat_map(|x| x.to_le_bytes()).collect()
    }
    fn f16s(v: &[f32]) -> Vec<u8> {
        v.iter().flat_map(|x| f16::from_f32(*x).to_bits().to_le_bytes()).collect()
    }
    fn vals(dtype: DataType, data: &[u8]) -> Values<'_> {
        Values { dtype, data }
    }
    fn ew<'a>(name: &'a str, dtype: DataType, count: u64, values: Option<&'a [u8]>) -> EngineWeight<'a> {
        EngineWeight { name, dtype, count, values, stored: vec![], missing: values.is_none().then(|| "gone".into()) }
    }
    fn rw<'a>(name: &'a str, dtype: DataType, shape: &'a [u64], data: &'a [u8]) -> RefWeight<'a> {
        RefWeight { name, dtype, shape, data }
    }

    #[test]
    fn identical_buffers_are_equal_with_zero_error() {
        let a = f32s(&[1.0, -2.5, 3.25]);
        let s = compare_values(vals(DataType::Float, &a), vals(DataType::Float, &a), 3, &Tolerance::exact()).unwrap();
        assert_eq!((s.differing, s.rounded, s.max_abs, s.first_differing), (0, 0, 0.0, None));
    }

    #[test]
    fn differences_are_counted_with_their_size_and_place() {
        let a = f32s(&[1.0, 2.0, 3.0, 4.0]);
        let b = f32s(&[1.0, 2.5, 3.0, 3.0]);
        let s = compare_values(vals(DataType::Float, &a), vals(DataType::Float, &b), 4, &Tolerance::exact()).unwrap();
        assert_eq!(s.differing, 2);
        assert_eq!(s.beyond_tolerance, 2);
        assert_eq!(s.first_differing, Some(1));
        assert_eq!(s.max_abs, 1.0);
        assert_eq!(s.max_abs_at, Some(3));
        assert!((s.max_rel - 1.0 / 3.0).abs() < 1e-12, "{}", s.max_rel);
    }

    #[test]
    fn tolerance_accepts_small_differences_only() {
        let a = f32s(&[1.0, 100.0]);
        let b = f32s(&[1.001, 100.5]);
        let tol = Tolerance { atol: 0.01, ..Tolerance::default() };
        let s = compare_values(vals(DataType::Float, &a), vals(DataType::Float, &b), 2, &tol).unwrap();
        assert_eq!((s.differing, s.beyond_tolerance), (2, 1));
        let tol = Tolerance { rtol: 0.01, ..Tolerance::default() };
        let s = compare_values(vals(DataType::Float, &a), vals(DataType::Float, &b), 2, &tol).unwrap();
        assert_eq!(s.beyond_tolerance, 0);
    }

    #[test]
    fn fp32_reference_rounds_to_an_fp16_engine_and_the_error_is_reported() {
        let reference = [0.1f32, 1.0, -3.3];
        let engine = f16s(&reference);
        let r = f32s(&reference);
        let s = compare_values(vals(DataType::Half, &engine), vals(DataType::Float, &r), 3, &Tolerance::exact()).unwrap();
        assert_eq!(s.differing, 0, "rounding the reference to fp16 gives the engine's bits");
        assert_eq!(s.rounded, 2, "0.1 and -3.3 are not fp16 values; 1.0 is");
        assert!(s.max_abs > 0.0 && s.max_abs < 1e-3, "{}", s.max_abs);
        // One fp16 step off is not equal.
        let mut off = engine.clone();
        off[0] ^= 1;
        let s = compare_values(vals(DataType::Half, &off), vals(DataType::Float, &r), 3, &Tolerance::exact()).unwrap();
        assert_eq!((s.differing, s.first_differing), (1, Some(0)));
    }

    #[test]
    fn signed_zero_and_nan_payloads_are_bits() {
        let a = f32s(&[0.0, f32::NAN]);
        let b = f32s(&[-0.0, f32::from_bits(0x7fc0_0001)]);
        let s = compare_values(vals(DataType::Float, &a), vals(DataType::Float, &b), 2, &Tolerance::exact()).unwrap();
        assert_eq!(s.differing, 2);
        assert_eq!((s.max_abs, s.nan_mismatches), (0.0, 0));
        let tol = Tolerance { atol: 1e-9, ..Tolerance::default() };
        let s = compare_values(vals(DataType::Float, &a), vals(DataType::Float, &b), 2, &tol).unwrap();
        assert_eq!(s.beyond_tolerance, 0, "under a tolerance -0 == +0 and NaN == NaN");
        let c = f32s(&[0.0, 1.0]);
        let s = compare_values(vals(DataType::Float, &a), vals(DataType::Float, &c), 2, &tol).unwrap();
        assert_eq!((s.beyond_tolerance, s.nan_mismatches), (1, 1));
    }

    #[test]
    fn integers_compare_exactly_across_widths() {
        let big = (1i64 << 60) + 1;
        let a: Vec<u8> = [big, -5].iter().flat_map(|x| x.to_le_bytes()).collect();
        let b: Vec<u8> = [big - 1, -5].iter().flat_map(|x| x.to_le_bytes()).collect();
        let s = compare_values(vals(DataType::Int64, &a), vals(DataType::Int64, &b), 2, &Tolerance::exact()).unwrap();
        assert_eq!((s.differing, s.max_abs), (1, 1.0), "a difference of 1 at 2^60 is not lost to f64");
        let i32s: Vec<u8> = [7i32, -5].iter().flat_map(|x| x.to_le_bytes()).collect();
        let i64s: Vec<u8> = [7i64, -5].iter().flat_map(|x| x.to_le_bytes()).collect();
        let s = compare_values(vals(DataType::Int32, &i32s), vals(DataType::Int64, &i64s), 2, &Tolerance::exact()).unwrap();
        assert_eq!((s.differing, s.rounded), (0, 0));
        // A fraction has no int32 value.
        let fl = f32s(&[7.5, -5.0]);
        let s = compare_values(vals(DataType::Int32, &i32s), vals(DataType::Float, &fl), 2, &Tolerance::exact()).unwrap();
        assert_eq!((s.differing, s.rounded), (1, 1));
    }

    #[test]
    fn packed_and_small_float_codes_compare_by_value() {
        // int4 [-8, 7, 1] packed low nibble first, against int8.
        let packed = [0x78u8, 0x01];
        let i8s = [(-8i8) as u8, 7, 1];
        let s = compare_values(vals(DataType::Int4, &packed), vals(DataType::Int8, &i8s), 3, &Tolerance::exact()).unwrap();
        assert_eq!(s.differing, 0);
        // fp8 e4m3 code 0x38 is 1.0; 1.0 and 1.05 in fp32: the second has no fp8 code.
        let fp8 = [0x38u8, 0x38];
        let r = f32s(&[1.0, 1.05]);
        let s = compare_values(vals(DataType::Fp8, &fp8), vals(DataType::Float, &r), 2, &Tolerance::exact()).unwrap();
        assert_eq!((s.differing, s.rounded, s.first_differing), (1, 1, Some(1)));
    }

    #[test]
    fn short_buffers_are_an_error_not_a_panic() {
        let a = f32s(&[1.0]);
        assert!(compare_values(vals(DataType::Float, &a), vals(DataType::Float, &a), 2, &Tolerance::exact()).is_err());
        assert!(!equals_rounded_through(vals(DataType::Float, &a), vals(DataType::Float, &a), 2, DataType::Half));
    }

    #[test]
    fn engine_storing_fp16_is_recognised() {
        let reference = [0.1f32, 1.0, -3.3];
        let r = f32s(&reference);
        let widened: Vec<f32> = reference.iter().map(|x| f16::from_f32(*x).to_f32()).collect();
        let e = f32s(&widened);
        assert!(equals_rounded_through(vals(DataType::Float, &e), vals(DataType::Float, &r), 3, DataType::Half));
        assert!(!equals_rounded_through(vals(DataType::Float, &r), vals(DataType::Float, &e), 3, DataType::Bf16));
        let engine = [EngineWeight { stored: vec![DataType::Half], ..ew("w", DataType::Float, 3, Some(&e)) }];
        let v = verify(&engine, &[rw("w", DataType::Float, &[3], &r)], &Tolerance::exact(), false);
        assert_eq!(v.weights[0].status, Status::Differs { as_stored: Some("float16".into()) });
        assert!(!v.summary.pass);
        let v = verify(&engine, &[rw("w", DataType::Float, &[3], &r)], &Tolerance { atol: 1e-3, ..Tolerance::default() }, false);
        assert_eq!(v.weights[0].status, Status::WithinTolerance);
        assert!(v.summary.pass);
    }

    #[test]
    fn verify_verdict_rules() {
        let a = f32s(&[1.0, 2.0]);
        let b = f32s(&[1.0, 2.5]);
        let shape = [2u64];
        let refs = [rw("x", DataType::Float, &shape, &a), rw("y", DataType::Float, &shape, &a), rw("extra", DataType::Float, &shape, &a)];
        // Everything matches; a reference-only tensor is listed but does not fail.
        let v = verify(&[ew("x", DataType::Float, 2, Some(&a)), ew("y", DataType::Float, 2, Some(&a))], &refs, &Tolerance::exact(), false);
        assert!(v.summary.pass);
        assert_eq!((v.summary.exact, v.summary.only_in_second), (2, 1));
        assert_eq!(v.weights[2].status, Status::OnlyInSecond);
        // A difference fails.
        let v = verify(&[ew("x", DataType::Float, 2, Some(&b))], &refs, &Tolerance::exact(), false);
        assert!(!v.summary.pass);
        assert!(matches!(v.weights[0].status, Status::Differs { as_stored: None }));
        // An engine weight the reference lacks fails.
        let v = verify(&[ew("x", DataType::Float, 2, Some(&a)), ew("z", DataType::Float, 2, Some(&a))], &refs, &Tolerance::exact(), false);
        assert!(!v.summary.pass);
        assert_eq!(v.summary.only_in_first, 1);
        // A count mismatch fails, and compares nothing.
        let v = verify(&[ew("x", DataType::Float, 1, Some(&a[..4]))], &refs, &Tolerance::exact(), false);
        assert_eq!(v.weights[0].status, Status::CountMismatch { first: 1, second: 2 });
        assert!(!v.summary.pass);
        // Unrecovered weights fail unless allowed; allowed, the rest must still be compared.
        let ws = [ew("x", DataType::Float, 2, Some(&a)), ew("y", DataType::Float, 2, None)];
        assert!(!verify(&ws, &refs, &Tolerance::exact(), false).summary.pass);
        assert!(verify(&ws, &refs, &Tolerance::exact(), true).summary.pass);
        let none = [ew("y", DataType::Float, 2, None)];
        assert!(!verify(&none, &refs, &Tolerance::exact(), true).summary.pass, "nothing compared is no pass");
    }

    #[test]
    fn verify_json_names_each_status() {
        let a = f32s(&[1.0, 2.0]);
        let shape = [2u64];
        let v = verify(&[ew("x", DataType::Float, 2, Some(&a))], &[rw("x", DataType::Float, &shape, &a)], &Tolerance::exact(), false);
        let j = serde_json::to_value(&v).unwrap();
        assert_eq!(j["weights"][0]["status"], "exact");
        assert_eq!(j["weights"][0]["shape"], serde_json::json!([2]));
        assert_eq!(j["summary"]["pass"], true);
    }

    #[test]
    fn diff_lists_changes_and_one_sided_names() {
        let a = f32s(&[1.0, 2.0, 3.0]);
        let b = f32s(&[1.0, 2.0, 3.5]);
        let wa = [ew("same", DataType::Float, 3, Some(&a)), ew("changed", DataType::Float, 3, Some(&a)), ew("only_a", DataType::Float, 3, Some(&a))];
        let wb = [ew("same", DataType::Float, 3, Some(&a)), ew("changed", DataType::Float, 3, Some(&b)), ew("only_b", DataType::Float, 3, Some(&a))];
        let d = diff(&wa, &wb, &Tolerance::exact(), false);
        assert!(!d.summary.pass);
        assert_eq!(d.weights[0].status, Status::Exact);
        let st = d.weights[1].stats.as_ref().unwrap();
        assert_eq!((st.differing, st.max_abs), (1, 0.5));
        assert_eq!(d.weights[2].status, Status::OnlyInFirst);
        assert_eq!(d.weights[3].status, Status::OnlyInSecond);
        assert_eq!((d.summary.differ, d.summary.only_in_first, d.summary.only_in_second), (1, 1, 1));
        // Identical engines pass; a tolerance can absorb the change.
        assert!(diff(&wa, &wa, &Tolerance::exact(), false).summary.pass);
        let d = diff(&wa[..2], &wb[..2], &Tolerance { atol: 0.5, ..Tolerance::default() }, false);
        assert!(d.summary.pass, "{:?}", d.summary);
        // An unrecovered weight fails unless allowed.
        let wn = [ew("same", DataType::Float, 3, None)];
        assert!(!diff(&wn, &wa[..1], &Tolerance::exact(), false).summary.pass);
        assert!(diff(&wn, &wa[..1], &Tolerance::exact(), true).summary.pass);
    }

    #[test]
    fn diff_tolerance_is_symmetric() {
        let a = f32s(&[100.0]);
        let b = f32s(&[99.0]);
        let tol = Tolerance { rtol: 0.0100001, ..Tolerance::default() };
        let ab = diff(&[ew("w", DataType::Float, 1, Some(&a))], &[ew("w", DataType::Float, 1, Some(&b))], &tol, false);
        let ba = diff(&[ew("w", DataType::Float, 1, Some(&b))], &[ew("w", DataType::Float, 1, Some(&a))], &tol, false);
        assert!(ab.summary.pass && ba.summary.pass);
    }

    #[test]
    fn bad_tolerances_are_refused() {
        assert!(Tolerance { rtol: -1.0, ..Tolerance::default() }.validate().is_err());
        assert!(Tolerance { atol: f64::NAN, ..Tolerance::default() }.validate().is_err());
        assert!(Tolerance { atol: 1e-3, rtol: 0.0, symmetric: false }.validate().is_ok());
    }

    #[test]
    fn human_numbers() {
        assert_eq!(human(0.0), "0");
        assert_eq!(human(3.0), "3");
        assert_eq!(human(0.25), "0.25");
        assert_eq!(human(1.5e-5), "1.500e-5");
    }
}
