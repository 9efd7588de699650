//! Numeric comparison: element by element, with a [`Tolerance`], into [`ElementStats`]. What
//! counts as equal is in the `compare` module docs; the element codecs are `crate::dtype`'s.

use serde::Serialize;

use crate::dtype::{element_bits, element_value, encode, DataType, Num};

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
        let scale = if self.symmetric {
            a.abs().max(b.abs())
        } else {
            b.abs()
        };
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

/// Checks that `v` holds `count` elements of its dtype.
fn check_len(side: &str, v: &Values<'_>, count: u64) -> Result<(), String> {
    let want = v
        .dtype
        .bytes_for(count)
        .ok_or_else(|| format!("{count} elements of {} overflow", v.dtype))?;
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
pub fn compare_values(
    a: Values<'_>,
    b: Values<'_>,
    count: u64,
    tol: &Tolerance,
) -> Result<ElementStats, String> {
    check_len("first", &a, count)?;
    check_len("second", &b, count)?;
    let mut s = ElementStats {
        count,
        ..ElementStats::default()
    };
    if a.dtype == b.dtype && a.data == b.data {
        return Ok(s); // the common case, at memcmp speed
    }
    let n = usize::try_from(count).map_err(|_| "too many elements for this machine".to_string())?;
    for i in 0..n {
        let (va, vb) = (
            element_value(a.dtype, a.data, i),
            element_value(b.dtype, b.data, i),
        );
        let equal = if a.dtype == b.dtype {
            element_bits(a.dtype, a.data, i) == element_bits(b.dtype, b.data, i)
        } else {
            match encode(a.dtype, vb) {
                Some((bb, exact)) => {
                    s.rounded += u64::from(!exact);
                    element_bits(a.dtype, a.data, i) == bb
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
        let Some((vb, _)) = encode(via, element_value(b.dtype, b.data, i)) else {
            return false;
        };
        let narrowed = {
            let mut buf = [0u8; 8];
            buf.copy_from_slice(&vb.to_le_bytes());
            element_value(via, &buf, 0)
        };
        match encode(a.dtype, narrowed) {
            Some((x, true)) => x == element_bits(a.dtype, a.data, i),
            _ => false,
        }
    })
}

#[cfg(test)]
mod tests {
    use half::f16;

    use super::*;

    fn f32s(v: &[f32]) -> Vec<u8> {
        v.iter().flat_map(|x| x.to_le_bytes()).collect()
    }
    fn f16s(v: &[f32]) -> Vec<u8> {
        v.iter()
            .flat_map(|x| f16::from_f32(*x).to_bits().to_le_bytes())
            .collect()
    }
    fn vals(dtype: DataType, data: &[u8]) -> Values<'_> {
        Values { dtype, data }
    }

    #[test]
    fn identical_buffers_are_equal_with_zero_error() {
        let a = f32s(&[1.0, -2.5, 3.25]);
        let s = compare_values(
            vals(DataType::Float, &a),
            vals(DataType::Float, &a),
            3,
            &Tolerance::exact(),
        )
        .unwrap();
        assert_eq!(
            (s.differing, s.rounded, s.max_abs, s.first_differing),
            (0, 0, 0.0, None)
        );
    }

    #[test]
    fn differences_are_counted_with_their_size_and_place() {
        let a = f32s(&[1.0, 2.0, 3.0, 4.0]);
        let b = f32s(&[1.0, 2.5, 3.0, 3.0]);
        let s = compare_values(
            vals(DataType::Float, &a),
            vals(DataType::Float, &b),
            4,
            &Tolerance::exact(),
        )
        .unwrap();
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
        let tol = Tolerance {
            atol: 0.01,
            ..Tolerance::default()
        };
        let s = compare_values(
            vals(DataType::Float, &a),
            vals(DataType::Float, &b),
            2,
            &tol,
        )
        .unwrap();
        assert_eq!((s.differing, s.beyond_tolerance), (2, 1));
        let tol = Tolerance {
            rtol: 0.01,
            ..Tolerance::default()
        };
        let s = compare_values(
            vals(DataType::Float, &a),
            vals(DataType::Float, &b),
            2,
            &tol,
        )
        .unwrap();
        assert_eq!(s.beyond_tolerance, 0);
    }

    #[test]
    fn fp32_reference_rounds_to_an_fp16_engine_and_the_error_is_reported() {
        let reference = [0.1f32, 1.0, -3.3];
        let engine = f16s(&reference);
        let r = f32s(&reference);
        let s = compare_values(
            vals(DataType::Half, &engine),
            vals(DataType::Float, &r),
            3,
            &Tolerance::exact(),
        )
        .unwrap();
        assert_eq!(
            s.differing, 0,
            "rounding the reference to fp16 gives the engine's bits"
        );
        assert_eq!(s.rounded, 2, "0.1 and -3.3 are not fp16 values; 1.0 is");
        assert!(s.max_abs > 0.0 && s.max_abs < 1e-3, "{}", s.max_abs);
        // One fp16 step off is not equal.
        let mut off = engine.clone();
        off[0] ^= 1;
        let s = compare_values(
            vals(DataType::Half, &off),
            vals(DataType::Float, &r),
            3,
            &Tolerance::exact(),
        )
        .unwrap();
        assert_eq!((s.differing, s.first_differing), (1, Some(0)));
    }

    #[test]
    fn signed_zero_and_nan_payloads_are_bits() {
        let a = f32s(&[0.0, f32::NAN]);
        let b = f32s(&[-0.0, f32::from_bits(0x7fc0_0001)]);
        let s = compare_values(
            vals(DataType::Float, &a),
            vals(DataType::Float, &b),
            2,
            &Tolerance::exact(),
        )
        .unwrap();
        assert_eq!(s.differing, 2);
        assert_eq!((s.max_abs, s.nan_mismatches), (0.0, 0));
        let tol = Tolerance {
            atol: 1e-9,
            ..Tolerance::default()
        };
        let s = compare_values(
            vals(DataType::Float, &a),
            vals(DataType::Float, &b),
            2,
            &tol,
        )
        .unwrap();
        assert_eq!(
            s.beyond_tolerance, 0,
            "under a tolerance -0 == +0 and NaN == NaN"
        );
        let c = f32s(&[0.0, 1.0]);
        let s = compare_values(
            vals(DataType::Float, &a),
            vals(DataType::Float, &c),
            2,
            &tol,
        )
        .unwrap();
        assert_eq!((s.beyond_tolerance, s.nan_mismatches), (1, 1));
    }

    #[test]
    fn integers_compare_exactly_across_widths() {
        let big = (1i64 << 60) + 1;
        let a: Vec<u8> = [big, -5].iter().flat_map(|x| x.to_le_bytes()).collect();
        let b: Vec<u8> = [big - 1, -5].iter().flat_map(|x| x.to_le_bytes()).collect();
        let s = compare_values(
            vals(DataType::Int64, &a),
            vals(DataType::Int64, &b),
            2,
            &Tolerance::exact(),
        )
        .unwrap();
        assert_eq!(
            (s.differing, s.max_abs),
            (1, 1.0),
            "a difference of 1 at 2^60 is not lost to f64"
        );
        let i32s: Vec<u8> = [7i32, -5].iter().flat_map(|x| x.to_le_bytes()).collect();
        let i64s: Vec<u8> = [7i64, -5].iter().flat_map(|x| x.to_le_bytes()).collect();
        let s = compare_values(
            vals(DataType::Int32, &i32s),
            vals(DataType::Int64, &i64s),
            2,
            &Tolerance::exact(),
        )
        .unwrap();
        assert_eq!((s.differing, s.rounded), (0, 0));
        // A fraction has no int32 value.
        let fl = f32s(&[7.5, -5.0]);
        let s = compare_values(
            vals(DataType::Int32, &i32s),
            vals(DataType::Float, &fl),
            2,
            &Tolerance::exact(),
        )
        .unwrap();
        assert_eq!((s.differing, s.rounded), (1, 1));
    }

    #[test]
    fn packed_and_small_float_codes_compare_by_value() {
        // int4 [-8, 7, 1] packed low nibble first, against int8.
        let packed = [0x78u8, 0x01];
        let i8s = [(-8i8) as u8, 7, 1];
        let s = compare_values(
            vals(DataType::Int4, &packed),
            vals(DataType::Int8, &i8s),
            3,
            &Tolerance::exact(),
        )
        .unwrap();
        assert_eq!(s.differing, 0);
        // fp8 e4m3 code 0x38 is 1.0; 1.0 and 1.05 in fp32: the second has no fp8 code.
        let fp8 = [0x38u8, 0x38];
        let r = f32s(&[1.0, 1.05]);
        let s = compare_values(
            vals(DataType::Fp8, &fp8),
            vals(DataType::Float, &r),
            2,
            &Tolerance::exact(),
        )
        .unwrap();
        assert_eq!((s.differing, s.rounded, s.first_differing), (1, 1, Some(1)));
    }

    #[test]
    fn short_buffers_are_an_error_not_a_panic() {
        let a = f32s(&[1.0]);
        assert!(compare_values(
            vals(DataType::Float, &a),
            vals(DataType::Float, &a),
            2,
            &Tolerance::exact()
        )
        .is_err());
        assert!(!equals_rounded_through(
            vals(DataType::Float, &a),
            vals(DataType::Float, &a),
            2,
            DataType::Half
        ));
    }

    #[test]
    fn bad_tolerances_are_refused() {
        assert!(Tolerance {
            rtol: -1.0,
            ..Tolerance::default()
        }
        .validate()
        .is_err());
        assert!(Tolerance {
            atol: f64::NAN,
            ..Tolerance::default()
        }
        .validate()
        .is_err());
        assert!(Tolerance {
            atol: 1e-3,
            rtol: 0.0,
            symmetric: false
        }
        .validate()
        .is_ok());
    }
}
