//! `trt-dump verify ENGINE --against REF`: are the engine's weights the reference's?
//!
//! The engine's weights are read as `dump` reads them (a map given with `--map`, a matching sidecar
//! `ENGINE.trtmap`, or marker passes through TensorRT), the reference with `crate::reference`
//! (safetensors, `.npz`, ONNX), and `crate::compare::verify` compares them by name. Stdout carries
//! the result (one line per weight that is not an exact match, `-v`: every weight; then the verdict
//! line) or, with `--json`, one JSON object. Exit status: 0 when everything matches, 1 when a
//! difference was found, 11 when the only problem is weights the engine could not recover.

use std::io::Write;
use std::path::Path;

use serde::Serialize;

use super::args::{GlobalArgs, Tolerance as TolArgs, VerifyArgs};
use super::report::{self, Source};
use super::source::{self, Extracted, Via};
use super::Outcome;
use crate::compare::{
    self, Compared, EngineWeight, Party, RefWeight, Status, Summary, Tolerance, VerifyVerdict,
};
use crate::error::{Error, ErrorKind};
use crate::pipeline::extract::Proof;

pub const FORMAT: &str = "trt-dump.verify/1";

#[derive(Debug, Serialize)]
pub struct VerifyReport {
    pub format: &'static str,
    pub engine: String,
    pub reference: String,
    pub reference_format: String,
    /// Reference tensors left out for their dtype (no TensorRT equivalent).
    pub reference_skipped: Vec<Skipped>,
    /// How the engine's values were obtained.
    pub source: Source,
    /// The map's own account of how it was made, when read through a map.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub map_made_by: Option<String>,
    /// What the map read knows of the engine's weights (`all-refittable`, or
    /// `reference-names-only` for a map made by `locate`), map path only.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub map_knows: Option<&'static str>,
    pub proof: Proof,
    pub tolerance: Tolerance,
    pub allow_missing: bool,
    /// `match`, `differs`, or `incomplete` (no difference found, but weights not recovered).
    pub verdict: VerifyVerdict,
    pub summary: Summary,
    pub weights: Vec<Compared>,
    /// Engine weights whose names the reference lacks, paired with it by value (and those left
    /// unpaired as ambiguous); absent with `--no-pairing`. `weights` lists paired weights under the
    /// reference's names.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pairing: Option<crate::pairing::Summary>,
}

#[derive(Debug, Serialize)]
pub struct Skipped {
    pub name: String,
    pub reason: String,
}

/// `--rtol/--atol` as a checked [`Tolerance`] (a bad value is a usage error, exit 2).
pub fn tolerance(t: &TolArgs) -> anyhow::Result<Tolerance> {
    let tol = Tolerance {
        rtol: t.rtol,
        atol: t.atol,
        symmetric: false,
    };
    tol.validate()
        .map_err(|e| anyhow::Error::new(Error::new(ErrorKind::Usage, e)))?;
    Ok(tol)
}

/// The extracted weights in `compare`'s terms.
pub fn engine_weights(ex: &Extracted) -> Vec<EngineWeight<'_>> {
    ex.weights
        .iter()
        .zip(&ex.results)
        .map(|(w, r)| EngineWeight {
            name: &w.name,
            dtype: w.dtype,
            count: w.count,
            values: r.values.values.as_deref(),
            stored: r.values.stored.clone(),
            missing: r.missing.as_ref().map(|m| m.to_string()),
        })
        .collect()
}

/// Refuses values that the round-trip proof refuted (exit 12), as `dump` does.
pub fn check_proof(ex: &Extracted, engine: &Path) -> anyhow::Result<()> {
    if super::dump::proof_refutes(&ex.proof) {
        return Err(anyhow::Error::new(
            Error::new(
                ErrorKind::ProofFailed,
                format!("`{}`: {}; its values were not compared", engine.display(), report::proof_line(&ex.proof)),
            )
            .with_hint("the values extracted from the engine do not reproduce it, so comparing them would prove nothing"),
        ));
    }
    Ok(())
}

/// The extraction summary on stderr when TensorRT was used (missing weights, proof, alignment).
pub fn print_extraction(engine: &Path, ex: &Extracted) -> anyhow::Result<()> {
    if matches!(ex.source, Source::Tensorrt { .. }) {
        let rep = super::dump::build_report(engine, ex)?;
        report::print_summary(&rep);
    }
    Ok(())
}

pub fn run(g: &GlobalArgs, a: VerifyArgs) -> anyhow::Result<Outcome> {
    let tol = tolerance(&a.tolerance)?;
    // The reference first: a bad one fails before any GPU work.
    let loaded = crate::reference::load_all(&a.against)?;
    for s in &loaded.skipped {
        crate::detail!(
            "reference `{}`: tensor `{}` left out: {}",
            a.against.display(),
            s.name,
            s.reason
        );
    }
    let via = match &a.map {
        Some(m) => Via::Map(m),
        None => Via::SidecarOrGpu,
    };
    let ex = source::obtain(g, &a.engine, via, &a.extract)?;
    super::progress::check_interrupted()?;
    print_extraction(&a.engine, &ex)?;
    check_proof(&ex, &a.engine)?;

    let refs: Vec<RefWeight<'_>> = loaded
        .tensors
        .iter()
        .map(|t| RefWeight {
            name: &t.name,
            dtype: t.dtype,
            shape: &t.shape,
            data: &t.data,
        })
        .collect();
    // Names first, then values among the rest (unless --no-pairing): an engine weight named after
    // an ONNX node is compared with the reference tensor holding its values.
    let pairings = crate::pairing::pair(
        &super::names::weights(&ex),
        &loaded.tensors,
        &crate::pairing::Options {
            by_value: !a.no_pairing,
        },
    );
    let renamed = super::names::Renamed::new(&ex, &pairings);
    let result = compare::verify(
        &renamed.engine_weights(&ex),
        &refs,
        &tol,
        a.extract.allow_missing,
    );
    let s = &result.summary;
    let verdict = s.verify_verdict();
    let rep = VerifyReport {
        format: FORMAT,
        engine: a.engine.display().to_string(),
        reference: a.against.display().to_string(),
        reference_format: loaded.format.map(|f| f.to_string()).unwrap_or_default(),
        reference_skipped: loaded
            .skipped
            .iter()
            .map(|s| Skipped {
                name: s.name.clone(),
                reason: s.reason.clone(),
            })
            .collect(),
        map_made_by: ex.map_meta.as_ref().and_then(|m| m.get("made_by").cloned()),
        map_knows: ex.map_knows.map(|k| k.as_str()),
        source: ex.source.clone(),
        proof: ex.proof.clone(),
        tolerance: tol,
        allow_missing: a.extract.allow_missing,
        verdict,
        summary: result.summary.clone(),
        weights: result.weights,
        pairing: (!a.no_pairing).then(|| super::names::summary(&a.against, &pairings)),
    };
    if let Some(meta) = ex
        .map_meta
        .as_ref()
        .filter(|m| m.get("made_by").is_some_and(|b| b.starts_with("locate")))
    {
        let from = meta
            .get("reference")
            .map(|r| format!(" from `{r}`"))
            .unwrap_or_default();
        crate::note!(
            "the map was made by `locate`{from}: it knows only that reference's tensor names, so weights of the engine the reference does not name are not checked, and a match against the reference it was made from shows that the map reads back what was found, nothing more"
        );
    }
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
        VerifyVerdict::Match => Ok(Outcome::Success),
        VerifyVerdict::Differs => Ok(Outcome::Differs),
        _ if s.pass => Ok(Outcome::Success), // incomplete, and --allow-missing accepts it
        _ if s.compared == 0 => Err(anyhow::Error::new(
            Error::new(
                ErrorKind::Incomplete,
                format!("none of the engine's {} weights could be recovered, so nothing was compared", s.not_recovered),
            )
            .with_hint("the warnings above say why; a weight-stripped engine must be refitted first"),
        )),
        _ => Err(anyhow::Error::new(
            Error::new(
                ErrorKind::Incomplete,
                if rep.map_knows.is_some() {
                    format!(
                        "{} of the weights the map lists could not be read through it, so they were not compared; the {} compared match",
                        s.not_recovered, s.compared
                    )
                } else {
                    format!(
                        "{} of the engine's weights could not be recovered, so they were not compared; the {} compared match",
                        s.not_recovered, s.compared
                    )
                },
            )
            .with_hint("pass --allow-missing to verify only the recovered weights"),
        )),
    }
}

/// One line for a weight, its name padded to `name_w`.
pub fn weight_line(c: &Compared, first: Party, second: Party, name_w: usize) -> String {
    let dtype = c
        .dtype
        .as_deref()
        .or(c.other_dtype.as_deref())
        .unwrap_or("?");
    let count = c.count.map(|n| n.to_string()).unwrap_or_else(|| "?".into());
    let shape = c
        .shape
        .as_ref()
        .map(|s| format!(" {s:?}"))
        .unwrap_or_default();
    let head = |tag: &str| format!("{tag:<10} {:<name_w$}  {dtype} {count}{shape}", c.name);
    let errors = |st: &compare::ElementStats| {
        let mut s = format!("max abs err {}", compare::human(st.max_abs));
        if let Some(at) = st.max_abs_at {
            s.push_str(&format!(" (element {at})"));
        }
        if st.max_rel > 0.0 {
            s.push_str(&format!(", max rel err {}", compare::human(st.max_rel)));
        }
        if st.nan_mismatches > 0 {
            s.push_str(&format!(", {} NaN on one side only", st.nan_mismatches));
        }
        s
    };
    match (&c.status, &c.stats) {
        (Status::Exact, _) => format!("{}: exact", head("ok")),
        (Status::ExactAfterRounding { from, to }, Some(st)) => format!(
            "{}: exact after rounding the {second}'s {from} to {to} ({} values rounded; {})",
            head("ok"),
            st.rounded,
            errors(st)
        ),
        (Status::WithinTolerance, Some(st)) => format!(
            "{}: within tolerance ({} of {} elements not bit-equal; {})",
            head("ok~"),
            st.differing,
            st.count,
            errors(st)
        ),
        (Status::Differs { as_stored }, Some(st)) => {
            let mut s = format!(
                "{}: {} of {} elements differ{} (first at element {}); {}",
                head("DIFFERS"),
                st.beyond_tolerance,
                st.count,
                if st.beyond_tolerance == st.differing {
                    String::new()
                } else {
                    format!(" beyond the tolerance ({} not bit-equal)", st.differing)
                },
                st.first_differing.unwrap_or(0),
                errors(st)
            );
            if let Some(d) = as_stored {
                s.push_str(&format!(
                    "; the {first} stores it as {d} and holds exactly the {second}'s values rounded to {d} (--atol/--rtol accept that rounding)"
                ));
            }
            s
        }
        (
            Status::CountMismatch {
                first: n1,
                second: n2,
            },
            _,
        ) => {
            format!(
                "{}: the {first} has {n1} elements, the {second} {n2}: not compared",
                head("COUNT")
            )
        }
        (Status::Unreadable { why }, _) => format!("{}: not compared: {why}", head("UNREADABLE")),
        (Status::OnlyInFirst, _) => format!(
            "{}: only in the {first} (the {second} has no tensor of this name)",
            head(&format!("ONLY-{}", first.tag()))
        ),
        (Status::OnlyInSecond, _) => format!(
            "{}: only in the {second}",
            head(&format!("ONLY-{}", second.tag()))
        ),
        (Status::NotRecovered { side, why }, _) => {
            format!(
                "{}: not compared: not recovered from the {side}: {why}",
                head("MISSING")
            )
        }
        (_, None) => format!("{}: {:?}", head("?"), c.status),
    }
}

/// Lines to show without `-v`: everything that is not a plain match, reference-only tensors
/// only when there are few of them.
fn shown(c: &Compared, all: bool, few_only_second: bool) -> bool {
    all || match c.status {
        Status::Exact | Status::ExactAfterRounding { .. } | Status::WithinTolerance => false,
        Status::OnlyInSecond => few_only_second,
        _ => true,
    }
}

pub fn write_text(out: &mut impl Write, r: &VerifyReport, all: bool) -> std::io::Result<()> {
    let few = r.summary.only_in_second <= 10;
    let lines: Vec<&Compared> = r.weights.iter().filter(|c| shown(c, all, few)).collect();
    let name_w = lines.iter().map(|c| c.name.len()).max().unwrap_or(0);
    if let Some(p) = &r.pairing {
        let w = p
            .by_value
            .iter()
            .map(|x| x.engine.len())
            .chain(p.ambiguous.iter().map(|x| x.engine.len()))
            .max()
            .unwrap_or(0);
        for x in &p.by_value {
            writeln!(
                out,
                "{:<10} {:<w$}  → {} ({})",
                "paired", x.engine, x.name, x.how
            )?;
        }
        for x in &p.ambiguous {
            let c: Vec<String> = x.candidates.iter().map(|c| format!("`{c}`")).collect();
            writeln!(
                out,
                "{:<10} {:<w$}  not paired: {} (its values match {}); compared by its engine name",
                "AMBIGUOUS",
                x.engine,
                x.why,
                c.join(", ")
            )?;
        }
    }
    for c in lines {
        writeln!(
            out,
            "{}",
            weight_line(c, Party::Engine, Party::Reference, name_w)
        )?;
    }
    if !all && !few {
        let among = if r.map_knows == Some(crate::map::Knows::ReferenceNamesOnly.as_str()) {
            "in the map"
        } else {
            "among the engine's weights"
        };
        writeln!(
            out,
            "({} reference tensors are not {among}; -v lists them)",
            r.summary.only_in_second
        )?;
    }
    Ok(())
}

pub fn verdict_line(r: &VerifyReport) -> String {
    let s = &r.summary;
    let engine_weights =
        s.compared + s.count_mismatch + s.unreadable + s.only_in_first + s.not_recovered;
    let tol = if r.tolerance.is_exact() {
        String::new()
    } else {
        format!(" (rtol {}, atol {})", r.tolerance.rtol, r.tolerance.atol)
    };
    let mut parts = Vec::new();
    if s.exact_after_rounding > 0 {
        parts.push(format!(
            "{} after rounding the reference to the engine's dtype",
            s.exact_after_rounding
        ));
    }
    if s.within_tolerance > 0 {
        parts.push(format!("{} within the tolerance", s.within_tolerance));
    }
    let how = if parts.is_empty() {
        String::new()
    } else {
        format!(" ({})", parts.join(", "))
    };
    let mut tail = Vec::new();
    if s.not_recovered > 0 {
        tail.push(format!(
            "{} not recovered from the engine{}",
            s.not_recovered,
            if r.allow_missing { " (allowed)" } else { "" }
        ));
    }
    if s.only_in_second > 0 {
        // A map made by `locate` knows only its reference's names: a tensor it lacks says nothing
        // of the engine.
        if r.map_knows == Some(crate::map::Knows::ReferenceNamesOnly.as_str()) {
            tail.push(format!(
                "{} reference tensors not in the map (not compared)",
                s.only_in_second
            ));
        } else {
            tail.push(format!(
                "{} reference tensors the engine does not name (not compared)",
                s.only_in_second
            ));
        }
    }
    if let Some(p) = r
        .pairing
        .as_ref()
        .filter(|p| !p.by_value.is_empty() || !p.ambiguous.is_empty())
    {
        let mut x = format!("{} paired by value", p.by_value.len());
        if !p.ambiguous.is_empty() {
            x.push_str(&format!(", {} ambiguous (not paired)", p.ambiguous.len()));
        }
        tail.push(x);
    }
    let tail = if tail.is_empty() {
        String::new()
    } else {
        format!("; {}", tail.join("; "))
    };
    match r.verdict {
        VerifyVerdict::Match => format!(
            "verdict: MATCH: {} of {} engine weights equal the reference{how}{tol}{tail}",
            s.matched(),
            engine_weights
        ),
        VerifyVerdict::Incomplete if s.compared == 0 => {
            format!("verdict: INCOMPLETE: nothing compared{tail}")
        }
        VerifyVerdict::Incomplete => format!(
            "verdict: INCOMPLETE: the {} weights compared match{how}{tol}{tail}",
            s.compared
        ),
        VerifyVerdict::Differs => {
            let bad = crate::compare::tally(&[
                ("differing", s.differ),
                ("another element count", s.count_mismatch),
                ("not in the reference", s.only_in_first),
                ("not comparable", s.unreadable),
            ]);
            format!(
                "verdict: DIFFERS: {} of {} engine weights match the reference{how}{tol}; {}{tail}",
                s.matched(),
                engine_weights,
                bad
            )
        }
    }
}
