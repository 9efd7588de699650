//! The command-line side of [`crate::pairing`]: `--names-from REF` on `dump`, `list` and `diff`,
//! and `verify`'s pairing by value. Reads the reference, pairs an extraction's weights with it,
//! says what was paired (stderr, JSON, output metadata), and hands the commands the weights under
//! their new names and in the checkpoint's orientation.

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::path::Path;

use super::source::Extracted;
use crate::compare::EngineWeight;
use crate::pairing::{self, Outcome, Pairings, Summary};
use crate::reference::RefTensor;

/// An extraction's weights in [`pairing`]'s terms.
pub fn weights(ex: &Extracted) -> Vec<pairing::Weight<'_>> {
    ex.weights
        .iter()
        .zip(&ex.results)
        .map(|(w, r)| pairing::Weight {
            name: &w.name,
            dtype: w.dtype,
            count: w.count,
            values: r.values.values.as_deref(),
            stored: &r.values.stored,
        })
        .collect()
}

/// Reads `path` (safetensors, npz, npy folder or ONNX) for `--names-from`, warning about tensors
/// left out for their dtype.
pub fn load(path: &Path) -> anyhow::Result<Vec<RefTensor>> {
    let loaded = crate::reference::load_all(path)?;
    for s in &loaded.skipped {
        crate::detail!(
            "--names-from `{}`: tensor `{}` left out: {}",
            path.display(),
            s.name,
            s.reason
        );
    }
    Ok(loaded.tensors)
}

/// Pairs `ex`'s weights with `reference` and says so on stderr (see [`tell`]).
pub fn pair(ex: &Extracted, reference: &[RefTensor], by_value: bool, what: &str) -> Pairings {
    let p = pairing::pair(&weights(ex), reference, &pairing::Options { by_value });
    tell(&p, what);
    p
}

/// Every pairing by value (`ENGINE → NAME (how)`) and every ambiguous weight on stderr, then a
/// one-line summary. `what` names the flag or command (`--names-from x.safetensors`).
pub fn tell(p: &Pairings, what: &str) {
    for r in p.records() {
        crate::note!("{what}: `{}` → `{}` ({})", r.engine, r.name, r.how);
    }
    for a in p.ambiguous() {
        crate::warn!(
            "{what}: `{}` keeps its engine name: {} (its values match {})",
            a.engine,
            a.why,
            a.candidates
                .iter()
                .map(|c| format!("`{c}`"))
                .collect::<Vec<_>>()
                .join(", ")
        );
    }
    if p.no_values() {
        crate::warn!("{what}: the engine holds no values to pair (a weight-stripped engine, or nothing recovered): names are matched by name only");
    }
    let s = Summary::new("", p);
    crate::note!(
        "{what}: {} weights by name, {} paired by value, {} ambiguous, {} neither in the reference by name nor by value",
        s.by_name,
        s.by_value.len(),
        s.ambiguous.len(),
        s.unpaired.len()
    );
}

/// Metadata entries recording the pairing in an output (safetensors `__metadata__`, the
/// `.npz`/`.npy` index): `names_from` (the reference), `paired_by_value` and `pairing_ambiguous`
/// (JSON lists, as in `--json`).
pub fn metadata(
    p: &Pairings,
    reference: &Path,
    m: &mut BTreeMap<String, String>,
) -> anyhow::Result<()> {
    m.insert("names_from".into(), reference.display().to_string());
    m.insert(
        "paired_by_value".into(),
        serde_json::to_string(&p.records())?,
    );
    m.insert(
        "pairing_ambiguous".into(),
        serde_json::to_string(&p.ambiguous())?,
    );
    Ok(())
}

/// An extraction's weights under the names `p` gives them, each paired by value in the
/// reference's orientation (for `verify` and `diff`, which then compare by name).
pub struct Renamed<'a> {
    names: Vec<Cow<'a, str>>,
    values: Vec<Option<Cow<'a, [u8]>>>,
}

impl<'a> Renamed<'a> {
    pub fn new(ex: &'a Extracted, p: &Pairings) -> Renamed<'a> {
        let mut names = Vec::with_capacity(ex.weights.len());
        let mut values = Vec::with_capacity(ex.weights.len());
        for ((w, r), e) in ex.weights.iter().zip(&ex.results).zip(&p.entries) {
            match &e.outcome {
                Outcome::ByValue {
                    name, shape, how, ..
                } => {
                    names.push(Cow::Owned(name.clone()));
                    values.push(
                        r.values
                            .values
                            .as_deref()
                            .map(|v| pairing::to_reference(v, w.dtype, Some(*how), shape)),
                    );
                }
                _ => {
                    names.push(Cow::Borrowed(w.name.as_str()));
                    values.push(r.values.values.as_deref().map(Cow::Borrowed));
                }
            }
        }
        Renamed { names, values }
    }

    /// The weights in `compare`'s terms.
    pub fn engine_weights<'b>(&'b self, ex: &'b Extracted) -> Vec<EngineWeight<'b>> {
        ex.weights
            .iter()
            .zip(&ex.results)
            .enumerate()
            .map(|(i, (w, r))| EngineWeight {
                name: &self.names[i],
                dtype: w.dtype,
                count: w.count,
                values: self.values[i].as_deref(),
                stored: r.values.stored.clone(),
                missing: r.missing.as_ref().map(|m| m.to_string()),
            })
            .collect()
    }
}

/// The JSON account of a pairing (`names_from` in dump/list/diff reports, `pairing` in verify's).
pub fn summary(reference: &Path, p: &Pairings) -> Summary {
    Summary::new(&reference.display().to_string(), p)
}

/// `diff --names-from`: the pairings of one engine's weights (`mine`, of counts `counts`),
/// completed with the other engine's pairings by value for weights of the same engine name that
/// `mine` could not pair (unpaired, or no values), so that a weight whose values changed between
/// the engines still goes by the checkpoint's name on both sides. A name already given on this
/// side is not given twice.
pub fn adopt(mine: &Pairings, counts: &[u64], other: &Pairings) -> Pairings {
    let theirs: BTreeMap<&str, &Outcome> = other
        .entries
        .iter()
        .filter(|e| matches!(e.outcome, Outcome::ByValue { .. }))
        .map(|e| (e.engine.as_str(), &e.outcome))
        .collect();
    let mut used: std::collections::HashSet<String> =
        mine.entries.iter().map(|e| e.name().to_string()).collect();
    let mut out = mine.clone();
    for (e, &count) in out.entries.iter_mut().zip(counts) {
        if !matches!(e.outcome, Outcome::Unpaired | Outcome::NoValues) {
            continue;
        }
        if let Some(Outcome::ByValue { name, shape, .. }) = theirs.get(e.engine.as_str()) {
            let fits = crate::reference::element_count(shape) == Some(count);
            if fits && used.insert(name.clone()) {
                e.outcome = (*theirs[e.engine.as_str()]).clone();
            }
        }
    }
    out
}
