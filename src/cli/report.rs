//! What extraction found, for people (stderr) and scripts (`--json` on stdout).

use serde::Serialize;

use crate::pipeline::assemble::WeightValues;
use crate::pipeline::extract::{Missing, PassCounts, Proof, WeightResult};
use crate::pipeline::WeightSpec;

/// Where the values came from.
#[derive(Clone, Debug, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Source {
    /// Marker passes through TensorRT.
    Tensorrt {
        library: String,
        version: String,
        gpu: Option<String>,
    },
    /// A map file, on the CPU.
    Map { path: String },
}

#[derive(Clone, Debug, Serialize)]
pub struct WeightReport {
    pub name: String,
    pub dtype: String,
    pub count: u64,
    /// Stored dtypes found in the plan (several when the weight is stored more than once).
    pub stored: Vec<String>,
    pub copies: u64,
    pub extracted: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub missing: Option<Missing>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// Elements whose copies disagree.
    pub disagreements: u64,
    /// Elements whose stored value has no exact representation in the refit dtype.
    pub inexact: u64,
}

#[derive(Clone, Debug, Default, Serialize)]
pub struct Totals {
    pub weights: usize,
    pub extracted: usize,
    pub missing: usize,
    pub elements: u64,
    pub elements_extracted: u64,
}

#[derive(Clone, Debug, Serialize)]
pub struct Report {
    /// `trt-dump.dump/1` or `trt-dump.map/1`.
    pub format: &'static str,
    pub engine: String,
    pub engine_bytes: u64,
    pub source: Source,
    pub weights: Vec<WeightReport>,
    pub totals: Totals,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub passes: Option<PassCounts>,
    pub proof: Proof,
    /// False when the proof could only compare through an alignment of two layouts (see
    /// [`proof_alignment_warning`]).
    pub proof_independent: bool,
    pub seconds: f64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub output: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub map: Option<String>,
    /// `--names-from`: which weights were paired with the reference, and how.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub names_from: Option<crate::pairing::Summary>,
}

pub fn weight_report(spec: &WeightSpec, r: &WeightResult) -> WeightReport {
    let v: &WeightValues = &r.values;
    WeightReport {
        name: spec.name.clone(),
        dtype: spec.dtype.name().to_string(),
        count: spec.count,
        stored: v.stored.iter().map(|d| d.name().to_string()).collect(),
        copies: v.copies(spec.count),
        extracted: v.values.is_some(),
        missing: r.missing.clone(),
        reason: r.missing.as_ref().map(|m| m.to_string()),
        disagreements: v.disagreements,
        inexact: v.inexact,
    }
}

pub fn totals(weights: &[WeightReport]) -> Totals {
    let mut t = Totals {
        weights: weights.len(),
        ..Totals::default()
    };
    for w in weights {
        t.elements += w.count;
        if w.extracted {
            t.extracted += 1;
            t.elements_extracted += w.count;
        } else {
            t.missing += 1;
        }
    }
    t
}

/// `-v`: one line per weight, as the reference tool prints them.
pub fn print_weight_lines(weights: &[WeightReport]) {
    let n = weights.len();
    for (i, w) in weights.iter().enumerate() {
        let stored = if w.stored.is_empty() {
            "-".to_string()
        } else {
            w.stored.join("+")
        };
        let status = match &w.reason {
            None => String::new(),
            Some(r) => format!("  MISSING: {r}"),
        };
        crate::detail!(
            "  [{}/{}] {}: {} elements, refit {}, stored {}, {} cop{}{}",
            i + 1,
            n,
            w.name,
            w.count,
            w.dtype,
            stored,
            w.copies,
            if w.copies == 1 { "y" } else { "ies" },
            status
        );
    }
}

pub fn proof_line(p: &Proof) -> String {
    match p {
        Proof::Skipped => "round-trip proof skipped".into(),
        Proof::Identical { bytes } => format!("round-trip proof: refitting the extracted values reproduces all {bytes} engine bytes exactly"),
        Proof::Equivalent { bytes, layout_bytes, unverified_bytes } => format!(
            "round-trip proof: every comparable byte of the {bytes}-byte engine reproduced; {layout_bytes} bytes differ only by the refitted layout (as in the zero baseline){}",
            unverified(*unverified_bytes)
        ),
        Proof::ExceptMissing { bytes, missing_bytes, unverified_bytes, .. } => format!(
            "round-trip proof: all {bytes} engine bytes reproduced except {missing_bytes} bytes of the weights that could not be extracted{}",
            unverified(*unverified_bytes)
        ),
        // Nothing was compared (a weight-stripped plan): the missing weights say why.
        Proof::Failed { differing: 0, reason, .. } => format!("round-trip proof not made: {reason}"),
        Proof::Failed { differing, first_offsets, reason } if first_offsets.is_empty() => {
            format!("round-trip proof FAILED: {differing} bytes differ ({reason})")
        }
        Proof::Failed { differing, first_offsets, reason } => format!(
            "round-trip proof FAILED: {differing} bytes differ ({reason}); first at offset{} {}",
            if first_offsets.len() == 1 { "" } else { "s" },
            first_offsets.iter().map(|o| format!("{o:#x}")).collect::<Vec<_>>().join(", ")
        ),
    }
}

/// Said after a passed proof that compared through an alignment (`Extraction::proof_independent`
/// false): the values were read, and the proof compared, through the same alignment.
pub fn proof_alignment_warning() -> &'static str {
    "the round-trip proof compared the engine with its refitted serialization through an alignment \
     of their layouts (TensorRT laid the refitted engine out differently), and the values were read \
     through that same alignment, so the proof could not be independent: a weight the alignment \
     misplaced would pass it unnoticed"
}

fn unverified(n: u64) -> String {
    if n == 0 {
        String::new()
    } else {
        format!("; {n} weight bytes sit where the original's layout differs and were not compared (their values came from another copy)")
    }
}

/// The closing summary on stderr.
pub fn print_summary(r: &Report) {
    let t = &r.totals;
    for w in r.weights.iter().filter(|w| !w.extracted) {
        crate::warn!(
            "`{}` ({} {} elements) not extracted: {}",
            w.name,
            w.count,
            w.dtype,
            w.reason.as_deref().unwrap_or("?")
        );
    }
    for w in r.weights.iter().filter(|w| w.disagreements > 0) {
        crate::warn!(
            "`{}`: its stored copies disagree at {} elements (the most precise copy was kept)",
            w.name,
            w.disagreements
        );
    }
    for w in r.weights.iter().filter(|w| w.inexact > 0) {
        crate::warn!(
            "`{}`: {} stored values are not exactly representable as {}",
            w.name,
            w.inexact,
            w.dtype
        );
    }
    let passes = match &r.passes {
        Some(p) => format!(
            ", {} refit+serialize passes ({} with markers) + {} serialization",
            p.refit_serialize, p.marker, p.serialize_only
        ),
        None => String::new(),
    };
    crate::note!(
        "{} of {} weights extracted ({} of {} elements), {} missing{}, {:.2}s",
        t.extracted,
        t.weights,
        t.elements_extracted,
        t.elements,
        t.missing,
        passes,
        r.seconds
    );
    match (&r.source, &r.proof) {
        (Source::Map { path }, Proof::Skipped) => {
            crate::note!("values read through the map `{path}` on the CPU (no round-trip proof: that needs TensorRT)")
        }
        (_, p) => crate::note!("{}", proof_line(p)),
    }
    if r.proof.passed() && !r.proof_independent {
        crate::warn!("{}", proof_alignment_warning());
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pipeline::proof::Failure;

    #[test]
    fn failed_proof_lines_read_well() {
        let stripped = Proof::Failed {
            differing: 0,
            first_offsets: vec![],
            reason: Failure::NothingToProve,
        };
        assert_eq!(
            proof_line(&stripped),
            "round-trip proof not made: nothing to prove: the plan holds no weights"
        );
        let length = Proof::Failed {
            differing: 12,
            first_offsets: vec![],
            reason: Failure::Length {
                refitted: 112,
                baseline: 100,
            },
        };
        assert_eq!(
            proof_line(&length),
            "round-trip proof FAILED: 12 bytes differ (the refitted engine serialized as 112 bytes, the zero baseline as 100)"
        );
        let bad = Proof::Failed {
            differing: 3,
            first_offsets: vec![16, 255],
            reason: Failure::WeightBytes,
        };
        assert_eq!(
            proof_line(&bad),
            "round-trip proof FAILED: 3 bytes differ (an extracted weight's bytes differ from the original); first at offsets 0x10, 0xff"
        );
        for p in [&stripped, &length, &bad] {
            assert!(!proof_line(p).ends_with("at "), "{}", proof_line(p));
        }
    }
}
