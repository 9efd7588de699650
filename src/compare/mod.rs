//! Comparing weight values: an engine's against a reference file (`verify`), or two engines'
//! (`diff`). Pure functions over bytes: [`matching`] pairs the names (one pass for both), [`numeric`]
//! compares the values of each pair, and this module turns that into a [`Status`] per name, a
//! [`Summary`] and a verdict; the commands in `cli::verify` and `cli::diff` read the
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

use std::fmt;

use serde::Serialize;

use crate::dtype::DataType;

pub mod matching;
pub mod numeric;

pub use matching::{pair, Named, Paired};
pub use numeric::{compare_values, equals_rounded_through, ElementStats, Tolerance, Values};

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

impl Named for EngineWeight<'_> {
    fn name(&self) -> &str {
        self.name
    }
}

impl Named for RefWeight<'_> {
    fn name(&self) -> &str {
        self.name
    }
}

/// One side of a comparison: `engine` and `reference` for verify, `A` and `B` for diff. Its
/// `Display` and JSON form are those words; [`Party::tag`] is the upper-case label of text lines.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub enum Party {
    #[serde(rename = "engine")]
    Engine,
    #[serde(rename = "reference")]
    Reference,
    A,
    B,
}

impl Party {
    pub fn as_str(self) -> &'static str {
        match self {
            Party::Engine => "engine",
            Party::Reference => "reference",
            Party::A => "A",
            Party::B => "B",
        }
    }

    /// The label in `ONLY-…` lines.
    pub fn tag(self) -> &'static str {
        match self {
            Party::Engine => "ENGINE",
            Party::Reference => "REF",
            Party::A => "A",
            Party::B => "B",
        }
    }
}

impl fmt::Display for Party {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
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
    NotRecovered { side: Party, why: String },
}

impl Status {
    /// Counts as a match (nothing to report for the verdict).
    pub fn matches(&self) -> bool {
        matches!(
            self,
            Status::Exact | Status::ExactAfterRounding { .. } | Status::WithinTolerance
        )
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
    let parts: Vec<String> = counts
        .iter()
        .filter(|(_, n)| *n > 0)
        .map(|(l, n)| format!("{l}: {n}"))
        .collect();
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

/// The verdict of `verify` (`match`, `differs`, `incomplete` in JSON).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum VerifyVerdict {
    Match,
    Differs,
    /// No difference found, but weights not recovered (also when `--allow-missing` accepted that:
    /// a weight that went uncompared is never a match).
    Incomplete,
}

/// The verdict of `diff`, in the same words as `verify`'s (`match`, `differs`, `incomplete` in JSON
/// and, upper case, in the verdict line).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum DiffVerdict {
    #[serde(rename = "match")]
    Identical,
    #[serde(rename = "differs")]
    Different,
    /// No difference found, but weights not recovered (also when `--allow-missing` accepted that:
    /// a weight that went uncompared is never identical).
    Incomplete,
}

impl Summary {
    /// `verify`'s verdict from its summary.
    pub fn verify_verdict(&self) -> VerifyVerdict {
        if self.pass && self.not_recovered == 0 {
            VerifyVerdict::Match
        } else if self.pass {
            // --allow-missing passed it (exit 0), but what was not compared is not a match.
            VerifyVerdict::Incomplete
        } else if self.differ + self.count_mismatch + self.unreadable + self.only_in_first > 0
            || self.not_recovered == 0
        {
            VerifyVerdict::Differs
        } else {
            VerifyVerdict::Incomplete
        }
    }

    /// `diff`'s verdict from its summary.
    pub fn diff_verdict(&self) -> DiffVerdict {
        let differs = self.differ
            + self.count_mismatch
            + self.unreadable
            + self.only_in_first
            + self.only_in_second
            + self.dtype_mismatch;
        if self.pass && self.not_recovered == 0 {
            DiffVerdict::Identical
        } else if self.pass {
            // --allow-missing passed it (exit 0), but weights not compared are not identical.
            DiffVerdict::Incomplete
        } else if differs > 0 || self.not_recovered == 0 {
            DiffVerdict::Different
        } else {
            DiffVerdict::Incomplete
        }
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
        c.status = Status::CountMismatch {
            first: a_count,
            second: b_count,
        };
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
        Status::ExactAfterRounding {
            from: b.dtype.name().to_string(),
            to: a.dtype.name().to_string(),
        }
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
pub fn verify(
    engine: &[EngineWeight<'_>],
    reference: &[RefWeight<'_>],
    tol: &Tolerance,
    allow_missing: bool,
) -> VerifyResult {
    let weights: Vec<Compared> = pair(engine, reference)
        .into_iter()
        .map(|p| match p {
            Paired::OnlyLeft(e) => Compared {
                name: e.name.to_string(),
                status: Status::OnlyInFirst,
                dtype: Some(e.dtype.name().to_string()),
                other_dtype: None,
                count: Some(e.count),
                shape: None,
                stats: None,
            },
            Paired::Both(e, r) => {
                let mut c = match e.values {
                    None => Compared {
                        name: e.name.to_string(),
                        status: Status::NotRecovered {
                            side: Party::Engine,
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
                        Values {
                            dtype: e.dtype,
                            data: v,
                        },
                        e.count,
                        Values {
                            dtype: r.dtype,
                            data: r.data,
                        },
                        r.count(),
                        tol,
                        &e.stored,
                    ),
                };
                c.shape = Some(r.shape.to_vec());
                c
            }
            Paired::OnlyRight(r) => Compared {
                name: r.name.to_string(),
                status: Status::OnlyInSecond,
                dtype: None,
                other_dtype: Some(r.dtype.name().to_string()),
                count: Some(r.count()),
                shape: Some(r.shape.to_vec()),
                stats: None,
            },
        })
        .collect();
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
pub fn diff(
    a: &[EngineWeight<'_>],
    b: &[EngineWeight<'_>],
    tol: &Tolerance,
    allow_missing: bool,
) -> DiffResult {
    let tol = Tolerance {
        symmetric: true,
        ..*tol
    };
    let weights: Vec<Compared> = pair(a, b)
        .into_iter()
        .map(|p| {
            let (wa, wb) = match p {
                Paired::Both(wa, wb) => (wa, wb),
                Paired::OnlyLeft(wa) => return only(wa, Status::OnlyInFirst),
                Paired::OnlyRight(wb) => return only(wb, Status::OnlyInSecond),
            };
            match (wa.values, wb.values) {
                (Some(va), Some(vb)) => compare_one(
                    wa.name,
                    Values {
                        dtype: wa.dtype,
                        data: va,
                    },
                    wa.count,
                    Values {
                        dtype: wb.dtype,
                        data: vb,
                    },
                    wb.count,
                    &tol,
                    &[],
                ),
                (None, _) => only(
                    wa,
                    Status::NotRecovered {
                        side: Party::A,
                        why: wa.missing.clone().unwrap_or_else(|| "not recovered".into()),
                    },
                ),
                (_, None) => only(
                    wa,
                    Status::NotRecovered {
                        side: Party::B,
                        why: wb.missing.clone().unwrap_or_else(|| "not recovered".into()),
                    },
                ),
            }
        })
        .collect();
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

/// A `diff` line with no values compared: A's dtype (B's for a name only in B), the count.
fn only(w: &EngineWeight<'_>, status: Status) -> Compared {
    let dtype = Some(w.dtype.name().to_string());
    let b_only = status == Status::OnlyInSecond;
    Compared {
        name: w.name.to_string(),
        status,
        dtype: if b_only { None } else { dtype.clone() },
        other_dtype: if b_only { dtype } else { None },
        count: Some(w.count),
        shape: None,
        stats: None,
    }
}

/// A number for people: integers as they are, others in 4 significant digits.
pub fn human(v: f64) -> String {
    if v == 0.0 {
        "0".into()
    } else if v.fract() == 0.0 && v.abs() < 1e15 {
        format!("{v:.0}")
    } else if (1e-3..1e5).contains(&v.abs()) {
        format!("{v:.4}")
            .trim_end_matches('0')
            .trim_end_matches('.')
            .to_string()
    } else {
        format!("{v:.3e}")
    }
}

#[cfg(test)]
mod tests {
    use half::f16;

    use super::*;

    fn f32s(v: &[f32]) -> Vec<u8> {
        v.iter().flat_map(|x| x.to_le_bytes()).collect()
    }
    fn vals(dtype: DataType, data: &[u8]) -> Values<'_> {
        Values { dtype, data }
    }
    fn ew<'a>(
        name: &'a str,
        dtype: DataType,
        count: u64,
        values: Option<&'a [u8]>,
    ) -> EngineWeight<'a> {
        EngineWeight {
            name,
            dtype,
            count,
            values,
            stored: vec![],
            missing: values.is_none().then(|| "gone".into()),
        }
    }
    fn rw<'a>(name: &'a str, dtype: DataType, shape: &'a [u64], data: &'a [u8]) -> RefWeight<'a> {
        RefWeight {
            name,
            dtype,
            shape,
            data,
        }
    }

    #[test]
    fn engine_storing_fp16_is_recognised() {
        let reference = [0.1f32, 1.0, -3.3];
        let r = f32s(&reference);
        let widened: Vec<f32> = reference
            .iter()
            .map(|x| f16::from_f32(*x).to_f32())
            .collect();
        let e = f32s(&widened);
        assert!(equals_rounded_through(
            vals(DataType::Float, &e),
            vals(DataType::Float, &r),
            3,
            DataType::Half
        ));
        assert!(!equals_rounded_through(
            vals(DataType::Float, &r),
            vals(DataType::Float, &e),
            3,
            DataType::Bf16
        ));
        let engine = [EngineWeight {
            stored: vec![DataType::Half],
            ..ew("w", DataType::Float, 3, Some(&e))
        }];
        let v = verify(
            &engine,
            &[rw("w", DataType::Float, &[3], &r)],
            &Tolerance::exact(),
            false,
        );
        assert_eq!(
            v.weights[0].status,
            Status::Differs {
                as_stored: Some("float16".into())
            }
        );
        assert!(!v.summary.pass);
        let v = verify(
            &engine,
            &[rw("w", DataType::Float, &[3], &r)],
            &Tolerance {
                atol: 1e-3,
                ..Tolerance::default()
            },
            false,
        );
        assert_eq!(v.weights[0].status, Status::WithinTolerance);
        assert!(v.summary.pass);
    }

    #[test]
    fn verify_verdict_rules() {
        let a = f32s(&[1.0, 2.0]);
        let b = f32s(&[1.0, 2.5]);
        let shape = [2u64];
        let refs = [
            rw("x", DataType::Float, &shape, &a),
            rw("y", DataType::Float, &shape, &a),
            rw("extra", DataType::Float, &shape, &a),
        ];
        // Everything matches; a reference-only tensor is listed but does not fail.
        let v = verify(
            &[
                ew("x", DataType::Float, 2, Some(&a)),
                ew("y", DataType::Float, 2, Some(&a)),
            ],
            &refs,
            &Tolerance::exact(),
            false,
        );
        assert!(v.summary.pass);
        assert_eq!((v.summary.exact, v.summary.only_in_second), (2, 1));
        assert_eq!(v.weights[2].status, Status::OnlyInSecond);
        // A difference fails.
        let v = verify(
            &[ew("x", DataType::Float, 2, Some(&b))],
            &refs,
            &Tolerance::exact(),
            false,
        );
        assert!(!v.summary.pass);
        assert!(matches!(
            v.weights[0].status,
            Status::Differs { as_stored: None }
        ));
        // An engine weight the reference lacks fails.
        let v = verify(
            &[
                ew("x", DataType::Float, 2, Some(&a)),
                ew("z", DataType::Float, 2, Some(&a)),
            ],
            &refs,
            &Tolerance::exact(),
            false,
        );
        assert!(!v.summary.pass);
        assert_eq!(v.summary.only_in_first, 1);
        // A count mismatch fails, and compares nothing.
        let v = verify(
            &[ew("x", DataType::Float, 1, Some(&a[..4]))],
            &refs,
            &Tolerance::exact(),
            false,
        );
        assert_eq!(
            v.weights[0].status,
            Status::CountMismatch {
                first: 1,
                second: 2
            }
        );
        assert!(!v.summary.pass);
        // Unrecovered weights fail unless allowed; allowed, the rest must still be compared.
        let ws = [
            ew("x", DataType::Float, 2, Some(&a)),
            ew("y", DataType::Float, 2, None),
        ];
        assert!(!verify(&ws, &refs, &Tolerance::exact(), false).summary.pass);
        assert!(verify(&ws, &refs, &Tolerance::exact(), true).summary.pass);
        // ...but a weight that went uncompared is never a match, allowed or not.
        assert_eq!(
            verify(&ws, &refs, &Tolerance::exact(), true)
                .summary
                .verify_verdict(),
            VerifyVerdict::Incomplete
        );
        assert_eq!(
            verify(&ws, &refs, &Tolerance::exact(), false)
                .summary
                .verify_verdict(),
            VerifyVerdict::Incomplete
        );
        assert_eq!(
            verify(&ws[..1], &refs, &Tolerance::exact(), false)
                .summary
                .verify_verdict(),
            VerifyVerdict::Match
        );
        let none = [ew("y", DataType::Float, 2, None)];
        assert!(
            !verify(&none, &refs, &Tolerance::exact(), true).summary.pass,
            "nothing compared is no pass"
        );
    }

    #[test]
    fn verify_json_names_each_status() {
        let a = f32s(&[1.0, 2.0]);
        let shape = [2u64];
        let v = verify(
            &[ew("x", DataType::Float, 2, Some(&a))],
            &[rw("x", DataType::Float, &shape, &a)],
            &Tolerance::exact(),
            false,
        );
        let j = serde_json::to_value(&v).unwrap();
        assert_eq!(j["weights"][0]["status"], "exact");
        assert_eq!(j["weights"][0]["shape"], serde_json::json!([2]));
        assert_eq!(j["summary"]["pass"], true);
    }

    #[test]
    fn diff_lists_changes_and_one_sided_names() {
        let a = f32s(&[1.0, 2.0, 3.0]);
        let b = f32s(&[1.0, 2.0, 3.5]);
        let wa = [
            ew("same", DataType::Float, 3, Some(&a)),
            ew("changed", DataType::Float, 3, Some(&a)),
            ew("only_a", DataType::Float, 3, Some(&a)),
        ];
        let wb = [
            ew("same", DataType::Float, 3, Some(&a)),
            ew("changed", DataType::Float, 3, Some(&b)),
            ew("only_b", DataType::Float, 3, Some(&a)),
        ];
        let d = diff(&wa, &wb, &Tolerance::exact(), false);
        assert!(!d.summary.pass);
        assert_eq!(d.weights[0].status, Status::Exact);
        let st = d.weights[1].stats.as_ref().unwrap();
        assert_eq!((st.differing, st.max_abs), (1, 0.5));
        assert_eq!(d.weights[2].status, Status::OnlyInFirst);
        assert_eq!(d.weights[3].status, Status::OnlyInSecond);
        assert_eq!(
            (
                d.summary.differ,
                d.summary.only_in_first,
                d.summary.only_in_second
            ),
            (1, 1, 1)
        );
        // Identical engines pass; a tolerance can absorb the change.
        assert!(diff(&wa, &wa, &Tolerance::exact(), false).summary.pass);
        let d = diff(
            &wa[..2],
            &wb[..2],
            &Tolerance {
                atol: 0.5,
                ..Tolerance::default()
            },
            false,
        );
        assert!(d.summary.pass, "{:?}", d.summary);
        // An unrecovered weight fails unless allowed.
        let wn = [ew("same", DataType::Float, 3, None)];
        assert!(!diff(&wn, &wa[..1], &Tolerance::exact(), false).summary.pass);
        assert!(diff(&wn, &wa[..1], &Tolerance::exact(), true).summary.pass);
        assert_eq!(
            diff(&wn, &wa[..1], &Tolerance::exact(), true)
                .summary
                .diff_verdict(),
            DiffVerdict::Incomplete
        );
    }

    #[test]
    fn diff_tolerance_is_symmetric() {
        let a = f32s(&[100.0]);
        let b = f32s(&[99.0]);
        let tol = Tolerance {
            rtol: 0.0100001,
            ..Tolerance::default()
        };
        let ab = diff(
            &[ew("w", DataType::Float, 1, Some(&a))],
            &[ew("w", DataType::Float, 1, Some(&b))],
            &tol,
            false,
        );
        let ba = diff(
            &[ew("w", DataType::Float, 1, Some(&b))],
            &[ew("w", DataType::Float, 1, Some(&a))],
            &tol,
            false,
        );
        assert!(ab.summary.pass && ba.summary.pass);
    }

    #[test]
    fn human_numbers() {
        assert_eq!(human(0.0), "0");
        assert_eq!(human(3.0), "3");
        assert_eq!(human(0.25), "0.25");
        assert_eq!(human(1.5e-5), "1.500e-5");
    }

    #[test]
    fn json_and_text_words_of_the_enums_are_unchanged() {
        let j = |v: &dyn erased::Ser| v.json();
        assert_eq!(j(&VerifyVerdict::Match), "\"match\"");
        assert_eq!(j(&VerifyVerdict::Differs), "\"differs\"");
        assert_eq!(j(&VerifyVerdict::Incomplete), "\"incomplete\"");
        // diff speaks verify's words (issue 11 item 4).
        assert_eq!(j(&DiffVerdict::Identical), "\"match\"");
        assert_eq!(j(&DiffVerdict::Different), "\"differs\"");
        assert_eq!(j(&DiffVerdict::Incomplete), "\"incomplete\"");
        for (p, word) in [
            (Party::Engine, "engine"),
            (Party::Reference, "reference"),
            (Party::A, "A"),
            (Party::B, "B"),
        ] {
            assert_eq!(j(&p), format!("\"{word}\""));
            assert_eq!(p.to_string(), word);
        }
        let s = Status::NotRecovered {
            side: Party::Engine,
            why: "gone".into(),
        };
        assert_eq!(
            serde_json::to_string(&s).unwrap(),
            r#"{"status":"not_recovered","side":"engine","why":"gone"}"#
        );
    }

    mod erased {
        pub trait Ser {
            fn json(&self) -> String;
        }
        impl<T: serde::Serialize> Ser for T {
            fn json(&self) -> String {
                serde_json::to_string(self).unwrap()
            }
        }
    }
}
