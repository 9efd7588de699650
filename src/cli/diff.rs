//! `trt-dump diff A B`: which weights differ between two engines of one architecture, and by how
//! much.
//!
//! Each engine's weights are read as `dump` reads them (`--map-a`/`--map-b`, a matching sidecar,
//! or marker passes through TensorRT) and `crate::compare::diff` compares them by name. Stdout
//! carries one line per weight that is not identical (`-v`: every weight) and the verdict line, or
//! with `--json` one JSON object. Exit status: 0 identical, 1 different, 11 when the only problem is
//! weights that could not be recovered.

use std::io::Write;

use serde::Serialize;

use super::args::{DiffArgs, GlobalArgs};
use super::report::Source;
use super::source::{self, Via};
use super::verify::{check_proof, engine_weights, print_extraction, tolerance, weight_line};
use super::Outcome;
use crate::compare::{self, Compared, DiffVerdict, Party, Status, Summary, Tolerance};
use crate::error::{Error, ErrorKind};

pub const FORMAT: &str = "trt-dump.diff/1";

#[derive(Debug, Serialize)]
pub struct Side {
    pub engine: String,
    pub source: Source,
}

#[derive(Debug, Serialize)]
pub struct DiffReport {
    pub format: &'static str,
    pub a: Side,
    pub b: Side,
    pub tolerance: Tolerance,
    pub allow_missing: bool,
    /// `match`, `differs`, or `incomplete` (the words of `verify`) (no difference found, but weights not recovered).
    pub verdict: DiffVerdict,
    pub summary: Summary,
    /// Every weight of A in A's order, then those only in B. `dtype` is A's, `other_dtype` B's
    /// where it differs; `stats.max_abs` is the largest |A - B|, `stats.differing` the elements
    /// whose bits differ (B converted to A's dtype).
    pub weights: Vec<Compared>,
    /// `--names-from`: each engine's pairing with the checkpoint (`weights` uses its names).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub names_from: Option<NamesFrom>,
}

#[derive(Debug, Serialize)]
pub struct NamesFrom {
    pub a: crate::pairing::Summary,
    pub b: crate::pairing::Summary,
}

pub fn run(g: &GlobalArgs, a: DiffArgs) -> anyhow::Result<Outcome> {
    let tol = tolerance(&a.tolerance)?;
    fn via(m: &Option<std::path::PathBuf>) -> Via<'_> {
        match m {
            Some(p) => Via::Map(p.as_path()),
            None => Via::SidecarOrGpu,
        }
    }
    // The reference first: a bad one fails before any GPU work.
    let names_ref = a
        .names_from
        .as_deref()
        .map(super::names::load)
        .transpose()?;
    let xa = source::obtain(g, &a.a, via(&a.map_a), &a.extract)?;
    super::progress::check_interrupted()?;
    print_extraction(&a.a, &xa)?;
    check_proof(&xa, &a.a)?;
    let xb = source::obtain(g, &a.b, via(&a.map_b), &a.extract)?;
    super::progress::check_interrupted()?;
    print_extraction(&a.b, &xb)?;
    check_proof(&xb, &a.b)?;

    // --names-from: both engines under the checkpoint's names (each side's pairing by value,
    // completed with the other side's for weights whose values changed).
    let named = match (&a.names_from, &names_ref) {
        (Some(path), Some(r)) => {
            let opts = crate::pairing::Options::default();
            let pa = crate::pairing::pair(&super::names::weights(&xa), r, &opts);
            let pb = crate::pairing::pair(&super::names::weights(&xb), r, &opts);
            let counts =
                |x: &source::Extracted| x.weights.iter().map(|w| w.count).collect::<Vec<_>>();
            let (pa, pb) = (
                super::names::adopt(&pa, &counts(&xa), &pb),
                super::names::adopt(&pb, &counts(&xb), &pa),
            );
            super::names::tell(&pa, &format!("--names-from `{}` (A)", path.display()));
            super::names::tell(&pb, &format!("--names-from `{}` (B)", path.display()));
            Some((pa, pb, path))
        }
        _ => None,
    };
    let result = match &named {
        Some((pa, pb, _)) => {
            let (ra, rb) = (
                super::names::Renamed::new(&xa, pa),
                super::names::Renamed::new(&xb, pb),
            );
            compare::diff(
                &ra.engine_weights(&xa),
                &rb.engine_weights(&xb),
                &tol,
                a.extract.allow_missing,
            )
        }
        None => compare::diff(
            &engine_weights(&xa),
            &engine_weights(&xb),
            &tol,
            a.extract.allow_missing,
        ),
    };
    let s = &result.summary;
    let verdict = s.diff_verdict();
    let rep = DiffReport {
        format: FORMAT,
        a: Side {
            engine: a.a.display().to_string(),
            source: xa.source.clone(),
        },
        b: Side {
            engine: a.b.display().to_string(),
            source: xb.source.clone(),
        },
        tolerance: tol,
        allow_missing: a.extract.allow_missing,
        verdict,
        summary: result.summary.clone(),
        weights: result.weights,
        names_from: named.as_ref().map(|(pa, pb, path)| NamesFrom {
            a: super::names::summary(path, pa),
            b: super::names::summary(path, pb),
        }),
    };
    let line = verdict_line(&rep);
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    if a.json {
        super::emit_json(&rep)?;
        crate::note!("{line}");
    } else {
        write_text(&mut out, &rep, crate::messages::verbosity() >= 2)?;
        writeln!(out, "{line}")?;
    }
    out.flush()?;
    match verdict {
        DiffVerdict::Identical => Ok(Outcome::Success),
        DiffVerdict::Different => Ok(Outcome::Differs),
        DiffVerdict::Incomplete if s.pass => Ok(Outcome::Success), // --allow-missing accepts it
        DiffVerdict::Incomplete => Err(anyhow::Error::new(
            Error::new(
                ErrorKind::Incomplete,
                format!(
                    "{} weights could not be recovered from one of the engines, so they were not compared; the {} compared are identical",
                    s.not_recovered, s.compared
                ),
            )
            .with_hint("pass --allow-missing to compare only the weights recovered from both"),
        )),
    }
}

/// A line per weight: identical ones only with `-v`.
pub fn write_text(out: &mut impl Write, r: &DiffReport, all: bool) -> std::io::Result<()> {
    let name_w = r.weights.iter().map(|c| c.name.len()).max().unwrap_or(0);
    for c in &r.weights {
        let line = match (&c.status, &c.stats) {
            (Status::Exact, _) if c.other_dtype.is_none() => {
                if !all {
                    continue;
                }
                format!("{:<10} {:<name_w$}  {} {}: identical", "same", c.name, c.dtype.as_deref().unwrap_or("?"), c.count.unwrap_or(0))
            }
            (Status::WithinTolerance, Some(st)) if c.other_dtype.is_none() => {
                if !all {
                    continue;
                }
                format!(
                    "{:<10} {:<name_w$}  {} {}: {} elements differ within the tolerance, max abs diff {}",
                    "same~",
                    c.name,
                    c.dtype.as_deref().unwrap_or("?"),
                    st.count,
                    st.differing,
                    compare::human(st.max_abs)
                )
            }
            (Status::Differs { .. }, Some(st)) if c.other_dtype.is_none() => format!(
                "{:<10} {:<name_w$}  {} {}: {} of {} elements differ{}, max abs diff {}{} (first at element {})",
                "CHANGED",
                c.name,
                c.dtype.as_deref().unwrap_or("?"),
                st.count,
                st.beyond_tolerance,
                st.count,
                if st.beyond_tolerance == st.differing { String::new() } else { " beyond the tolerance".into() },
                compare::human(st.max_abs),
                st.max_abs_at.map(|i| format!(" at element {i}")).unwrap_or_default(),
                st.first_differing.unwrap_or(0)
            ),
            (_, Some(st)) => format!(
                "{:<10} {:<name_w$}  {} in A, {} in B, {} elements: {} not equal after converting B to A's dtype, max abs diff {}",
                "DTYPE",
                c.name,
                c.dtype.as_deref().unwrap_or("?"),
                c.other_dtype.as_deref().unwrap_or("?"),
                st.count,
                st.differing,
                compare::human(st.max_abs)
            ),
            (Status::OnlyInFirst, _) => format!("{:<10} {:<name_w$}  {} {}: only in A", "ONLY-A", c.name, c.dtype.as_deref().unwrap_or("?"), c.count.unwrap_or(0)),
            (Status::OnlyInSecond, _) => format!("{:<10} {:<name_w$}  {} {}: only in B", "ONLY-B", c.name, c.other_dtype.as_deref().unwrap_or("?"), c.count.unwrap_or(0)),
            _ => weight_line(c, Party::A, Party::B, name_w),
        };
        writeln!(out, "{line}")?;
    }
    Ok(())
}

pub fn verdict_line(r: &DiffReport) -> String {
    let s = &r.summary;
    let names = s.compared
        + s.count_mismatch
        + s.unreadable
        + s.only_in_first
        + s.only_in_second
        + s.not_recovered;
    let tol = if r.tolerance.is_exact() {
        String::new()
    } else {
        format!(" (rtol {}, atol {})", r.tolerance.rtol, r.tolerance.atol)
    };
    let missing = if s.not_recovered > 0 {
        format!(
            "; {} not recovered from one side{}",
            s.not_recovered,
            if r.allow_missing {
                " (allowed, not compared)"
            } else {
                ""
            }
        )
    } else {
        String::new()
    };
    match r.verdict {
        DiffVerdict::Identical if s.within_tolerance > 0 => format!(
            "verdict: MATCH within the tolerance{tol}: all {} weights compared, {} bit for bit{missing}",
            s.compared, s.exact
        ),
        DiffVerdict::Identical => format!("verdict: MATCH: all {} weights are bit for bit equal{missing}", s.compared),
        DiffVerdict::Incomplete => format!("verdict: INCOMPLETE: the {} weights compared are identical{missing}", s.compared),
        DiffVerdict::Different => {
            let bad = crate::compare::tally(&[
                ("changed", s.differ),
                ("another dtype", s.dtype_mismatch),
                ("another element count", s.count_mismatch),
                ("only in A", s.only_in_first),
                ("only in B", s.only_in_second),
                ("not comparable", s.unreadable),
            ]);
            format!("verdict: DIFFERS: {} of {names} weights identical{tol}; {bad}{missing}", s.matched())
        }
    }
}
