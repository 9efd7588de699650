//! `trt-dump refit ENGINE --weights FILE -o OUT.engine`: new weight values into a refittable
//! engine, serialized with its weights in, proven by reading them back from the written bytes.

use std::path::Path;

use anyhow::Context;

use super::args::{GlobalArgs, RefitArgs};
use super::source::{self, trt_options};
use super::Outcome;
use crate::error::{Error, ErrorKind};
use crate::map;
use crate::pipeline::extract::{self, LayoutMode};
use crate::pipeline::{Engine, Run, WeightSpec};
use crate::refit::{self, proof, IncludingWeights, OwnValues, ValueFrom, WeightsSource};
use crate::trt::TrtEngine;

pub const FORMAT: &str = "trt-dump.refit/1";

/// What was learned about the input: its own values and a layout of a plan with weights in.
struct Learned {
    values: Vec<Option<Vec<u8>>>,
    /// Per weight: the dtypes it is stored as (for pairing by value).
    stored: Vec<Vec<crate::dtype::DataType>>,
    why: Vec<Option<String>>,
    /// Where each element is stored, in a plan of `runs_len` bytes (0: no usable layout).
    runs: Vec<Run>,
    runs_len: u64,
    /// How it was learned (for the report).
    via: String,
    /// From a map (its runs are checked against the output before use).
    map: Option<map::MapFile>,
}

#[derive(serde::Serialize)]
struct Report<'a> {
    /// `trt-dump.refit/1`.
    format: &'static str,
    engine: String,
    weights_file: String,
    output: Option<String>,
    stripped_input: bool,
    from_file: Vec<&'a str>,
    from_engine: Vec<&'a str>,
    kept: Vec<&'a str>,
    unmatched_tensors: &'a [String],
    casts: &'a [refit::CastNote],
    proof: Option<proof::ReadBack>,
    layout_from: Option<String>,
    /// `--names-from`: how the engine's weights were paired with the original checkpoint.
    #[serde(skip_serializing_if = "Option::is_none")]
    names_from: Option<crate::pairing::Summary>,
}

/// What an engine directory's refit of one rank changes in [`run_with`].
#[derive(Default)]
pub struct Extra<'a> {
    /// Tensors of the weights file that are not engine weights (TensorRT-LLM's managed weights,
    /// inputs of the engine): no warning that they match no weight.
    pub not_weights: &'a [String],
    /// The path messages name instead of `-o` (a rank written into a staging folder).
    pub shown_output: Option<&'a Path>,
}

pub fn run(g: &GlobalArgs, a: &RefitArgs) -> anyhow::Result<Outcome> {
    run_with(g, a, &Extra::default())
}

pub fn run_with(g: &GlobalArgs, a: &RefitArgs, extra: &Extra<'_>) -> anyhow::Result<Outcome> {
    super::progress::install_interrupt_handler();
    if same_file(&a.engine, &a.output) {
        return Err(anyhow::Error::new(Error::new(
            ErrorKind::Usage,
            format!(
                "-o `{}` is the input engine; the input is never modified: write elsewhere",
                a.output.display()
            ),
        )));
    }
    crate::writer::check_target(&a.output, crate::writer::Format::Safetensors, a.force)?;
    let mut src = WeightsSource::load(&a.weights)?;
    src.rename(&a.rename)?;
    for s in &src.skipped {
        crate::warn!(
            "`{}`: tensor `{}` left out: {}",
            a.weights.display(),
            s.name,
            s.reason
        );
    }
    let engine = TrtEngine::open(&trt_options(g), &a.engine).map_err(|e| {
        if crate::error::find(&e).is_some_and(|e| e.kind == ErrorKind::NotRefittable) {
            // TensorRT's `condition: e.isRefittable()` (NVIDIA/TensorRT #1468, #2783).
            e.context("refit: only an engine built with REFIT can be refitted; that is fixed when it is built")
        } else {
            e
        }
    })?;
    let weights: Vec<WeightSpec> = engine.weights_list().to_vec();
    // --names-from reads the engine's own values first (to pair them); the refit and the proof
    // reuse that reading.
    let mut learned: Option<Learned> = None;
    let mut names_from = None;
    let m = match &a.names_from {
        Some(original) => {
            let (m, l, summary) = match_by_pairing(g, a, &engine, &weights, &src, original)?;
            learned = Some(l);
            names_from = Some(summary);
            m
        }
        None => refit::match_weights(&weights, &src, &refit::Options { cast: a.cast }),
    };
    let stray: Vec<&String> = m
        .unmatched
        .iter()
        .filter(|n| !extra.not_weights.contains(n))
        .collect();
    if !stray.is_empty() {
        let shown: Vec<&str> = stray.iter().take(10).map(|s| s.as_str()).collect();
        crate::warn!(
            "{} tensor(s) of `{}` match no engine weight: {}{}",
            stray.len(),
            a.weights.display(),
            shown.join(", "),
            if stray.len() > 10 {
                ", ... (-v lists all)"
            } else {
                ""
            }
        );
        for n in stray.iter().skip(10) {
            crate::detail!("unmatched tensor: {n}");
        }
    }
    if !m.problems.is_empty() {
        return Err(refit::mismatch_error(
            &m.problems,
            &format!(" (`{}` vs `{}`)", a.weights.display(), a.engine.display()),
        ));
    }
    for c in &m.casts {
        crate::warn!(
            "--cast: `{}`: {} value(s) changed converting {} to {} (first: element {})",
            c.weight,
            c.changed,
            c.from,
            c.to,
            c.first
        );
    }
    super::progress::check_interrupted()?;

    let outcome = {
        let mut own = |_needed: &[usize]| -> anyhow::Result<OwnValues> {
            if let Some(l) = &learned {
                return Ok(OwnValues {
                    values: l.values.clone(),
                    why: l.why.clone(),
                });
            }
            let l = learn(g, a, &engine, false)?;
            let o = OwnValues {
                values: l.values.clone(),
                why: l.why.clone(),
            };
            learned = Some(l);
            Ok(o)
        };
        refit::refit_engine(&engine, &m.values, &mut own)
            .with_context(|| format!("refitting `{}`", a.engine.display()))?
    };
    super::progress::check_interrupted()?;
    let plan = outcome.plan.bytes();

    let mut rep = Report {
        format: FORMAT,
        engine: a.engine.display().to_string(),
        weights_file: a.weights.display().to_string(),
        output: None,
        stripped_input: outcome.stripped,
        from_file: names(&weights, &outcome.from, ValueFrom::File),
        from_engine: names(&weights, &outcome.from, ValueFrom::Engine),
        kept: names(&weights, &outcome.from, ValueFrom::Kept),
        unmatched_tensors: &m.unmatched,
        casts: &m.casts,
        proof: None,
        layout_from: None,
        names_from,
    };

    let mut proof_result: Option<(proof::ReadBack, String)> = None;
    let check = |bytes: &[u8]| -> anyhow::Result<()> {
        if a.no_verify {
            return Ok(());
        }
        // A stripped input's map (if any) has no weights in it: its layout comes from markers.
        let l = match learned.take() {
            Some(l) => l,
            None => learn(g, a, &engine, outcome.stripped)?,
        };
        let expect_from = |l: &Learned| -> Vec<Option<Vec<u8>>> {
            outcome
                .from
                .iter()
                .enumerate()
                .map(|(i, f)| match f {
                    ValueFrom::File => m.values[i].clone(),
                    _ if outcome.stripped => None,
                    _ => l.values.get(i).cloned().flatten(),
                })
                .collect()
        };
        let attempt = |l: &Learned| -> anyhow::Result<(proof::ReadBack, &'static str)> {
            let owned = expect_from(l);
            let expected: Vec<Option<&[u8]>> = owned.iter().map(|v| v.as_deref()).collect();
            read_through(
                &engine,
                &weights,
                &expected,
                &l.runs,
                l.runs_len,
                l.map.as_ref(),
                bytes,
            )
            .with_context(|| {
                format!(
                    "proof: reading the refitted plan back through the layout from {}",
                    l.via
                )
            })
        };
        let (l, (rb, how)) = match attempt(&l) {
            Ok(r) => (l, r),
            Err(e) if l.map.is_some() => {
                crate::note!("{e:#}; learning the layout with marker passes instead");
                let mut l2 = learn(g, a, &engine, true)?;
                // Values stay those read through the map (the same engine's).
                l2.values = l.values;
                let r = attempt(&l2)?;
                (l2, r)
            }
            Err(e) => return Err(e),
        };
        let via = format!("{} ({how})", l.via);
        if !rb.passed() {
            let first: Vec<String> = rb
                .mismatches
                .iter()
                .take(5)
                .map(|x| {
                    format!(
                        "`{}`[{}] at byte {}: {:#x} where {:?} was expected",
                        x.weight, x.element, x.offset, x.found, x.expected
                    )
                })
                .collect();
            return Err(anyhow::Error::new(
                Error::new(
                    ErrorKind::ProofFailed,
                    format!(
                        "proof failed: {} stored element(s) of the refitted plan do not hold the requested values ({}); nothing was written",
                        rb.mismatch_count,
                        first.join("; ")
                    ),
                )
                .with_hint("--no-verify writes it unproven (for forensics only)"),
            ));
        }
        proof_result = Some((rb, via));
        Ok(())
    };
    let written = crate::writer::write_file_checked(&a.output, a.force, plan, check)?;
    if let Some((rb, via)) = proof_result {
        crate::note!(
            "proof: read back {} weight(s), {} stored element(s), from the written plan through the layout from {via}: all bit-exact",
            rb.weights_compared,
            rb.elements_compared
        );
        if !rb.not_located.is_empty() {
            crate::note!(
                "proof: {} weight(s) are not stored as such (fused or folded) and could not be read back: {}",
                rb.not_located.len(),
                rb.not_located.iter().take(5).cloned().collect::<Vec<_>>().join(", ")
            );
        }
        rep.layout_from = Some(via);
        rep.proof = Some(rb);
    } else if a.no_verify {
        crate::note!("proof skipped (--no-verify)");
    }
    crate::note!(
        "refitted {} weight(s) from `{}`{}{}; wrote `{}` ({} bytes, weights included)",
        rep.from_file.len(),
        a.weights.display(),
        if rep.from_engine.is_empty() {
            String::new()
        } else {
            format!(", {} from the engine's own values", rep.from_engine.len())
        },
        if rep.kept.is_empty() {
            String::new()
        } else {
            format!(", {} kept by TensorRT", rep.kept.len())
        },
        extra.shown_output.unwrap_or(&a.output).display(),
        written
    );
    rep.output = Some(a.output.display().to_string());
    if a.json {
        super::emit_json(&rep)?;
    }
    Ok(Outcome::Success)
}

/// The exit-2 error of `--names-from` on an engine that holds no values to pair.
fn nothing_to_pair(a: &RefitArgs, original: &Path, why: &str) -> anyhow::Error {
    anyhow::Error::new(
        Error::new(
            ErrorKind::Usage,
            format!(
                "--names-from `{}`: `{}` {why}: it holds no values to pair with the original checkpoint by value",
                original.display(),
                a.engine.display()
            ),
        )
        .with_hint("refit it from a weights file under the engine's own names (`trt-dump list ENGINE`; --rename FROM=TO rewrites a prefix), or pair names on the engine it was stripped from (`trt-dump dump ENGINE --names-from ORIGINAL`)"),
    )
}

/// `--names-from ORIGINAL`: learns the engine's own values, pairs them with the original
/// checkpoint by value (said on stderr like `dump --names-from`), and takes the new checkpoint's
/// tensors by the paired names, in the engine's orientation and refit dtypes.
fn match_by_pairing(
    g: &GlobalArgs,
    a: &RefitArgs,
    engine: &TrtEngine,
    weights: &[WeightSpec],
    src: &WeightsSource,
    original: &Path,
) -> anyhow::Result<(refit::Matched, Learned, crate::pairing::Summary)> {
    use crate::pairing;
    if refit::is_stripped(engine)? {
        return Err(nothing_to_pair(a, original, "is weight-stripped"));
    }
    let reference = super::names::load(original)?;
    let l = learn(g, a, engine, false)?;
    let w: Vec<pairing::Weight<'_>> = weights
        .iter()
        .enumerate()
        .map(|(i, s)| pairing::Weight {
            name: &s.name,
            dtype: s.dtype,
            count: s.count,
            values: l.values.get(i).and_then(|v| v.as_deref()),
            stored: l.stored.get(i).map(Vec::as_slice).unwrap_or(&[]),
        })
        .collect();
    let p = pairing::pair(&w, &reference, &pairing::Options::default());
    if p.no_values() {
        return Err(nothing_to_pair(a, original, "gave no weight's values"));
    }
    super::names::tell(&p, &format!("--names-from `{}`", original.display()));
    let f = pairing::to_engine(&w, &p, &src.tensors);
    let n = weights.len();
    let mut m = refit::Matched {
        values: vec![None; n],
        file_names: vec![None; n],
        ..Default::default()
    };
    let by_name: std::collections::HashMap<&str, &crate::reference::RefTensor> =
        src.tensors.iter().map(|t| (t.name.as_str(), t)).collect();
    let original_name: std::collections::HashMap<&str, &str> = src
        .renamed
        .iter()
        .map(|(from, to)| (to.as_str(), from.as_str()))
        .collect();
    let mut used = std::collections::HashSet::new();
    for t in f.tensors {
        used.insert(t.from.clone());
        if t.rounded > 0 {
            let from = by_name
                .get(t.from.as_str())
                .map(|x| x.dtype)
                .unwrap_or(t.dtype);
            let first = first_rounded(by_name.get(t.from.as_str()).copied(), t.transposed, t.dtype)
                .unwrap_or(0);
            if !a.cast {
                m.problems.push(refit::Problem::NeedsCast {
                    weight: t.engine,
                    from,
                    to: t.dtype,
                    changed: t.rounded,
                    first,
                });
                continue;
            }
            m.casts.push(refit::CastNote {
                weight: t.engine.clone(),
                from,
                to: t.dtype,
                changed: t.rounded,
                first,
            });
        }
        m.file_names[t.index] = Some(
            original_name
                .get(t.from.as_str())
                .copied()
                .unwrap_or(&t.from)
                .to_string(),
        );
        m.values[t.index] = Some(t.data);
    }
    for nf in f.not_filled {
        if by_name.contains_key(nf.looked_for.as_str()) {
            used.insert(nf.looked_for.clone());
            m.problems.push(refit::Problem::FromCheckpoint {
                weight: nf.engine,
                tensor: nf.looked_for,
                why: nf.why,
            });
        } else {
            crate::detail!(
                "--names-from: `{}` (`{}`) is not in `{}`: the engine's value is kept",
                nf.engine,
                nf.looked_for,
                a.weights.display()
            );
        }
    }
    m.unmatched = src
        .tensors
        .iter()
        .filter(|t| !used.contains(&t.name))
        .map(|t| t.name.clone())
        .collect();
    if m.from_file() == 0 && m.problems.is_empty() {
        m.problems.push(refit::Problem::NothingMatches {
            tensors: src.tensors.len(),
        });
    }
    Ok((m, l, super::names::summary(original, &p)))
}

/// The first element of `t` (turned to the engine's orientation when `transposed`) whose value
/// changes in `to`.
fn first_rounded(
    t: Option<&crate::reference::RefTensor>,
    transposed: bool,
    to: crate::dtype::DataType,
) -> Option<u64> {
    let t = t?;
    let mut flat = t.clone();
    if transposed && t.shape.len() == 2 && t.dtype.bits() >= 8 {
        flat.data = crate::pairing::transpose(
            &t.data,
            (t.dtype.bits() / 8) as usize,
            t.shape[0] as usize,
            t.shape[1] as usize,
        );
    }
    refit::convert(&flat, to).ok().map(|(_, _, first)| first)
}

fn names<'a>(weights: &'a [WeightSpec], from: &[ValueFrom], which: ValueFrom) -> Vec<&'a str> {
    weights
        .iter()
        .zip(from)
        .filter(|(_, f)| **f == which)
        .map(|(w, _)| w.name.as_str())
        .collect()
}

fn same_file(a: &Path, b: &Path) -> bool {
    match (std::fs::canonicalize(a), std::fs::canonicalize(b)) {
        (Ok(x), Ok(y)) => x == y,
        _ => false,
    }
}

/// The input's own values and a layout: through a map (`--map`, or a sidecar that fits) unless
/// `markers`, else by marker passes through serializations with the weights included.
fn learn(
    g: &GlobalArgs,
    a: &RefitArgs,
    engine: &TrtEngine,
    markers: bool,
) -> anyhow::Result<Learned> {
    let map_path = match (&a.map, a.no_sidecar) {
        _ if markers => None,
        (Some(p), _) => Some(p.clone()),
        (None, false) if map::sidecar_path(&a.engine).is_file() => {
            Some(map::sidecar_path(&a.engine))
        }
        _ => None,
    };
    if let Some(p) = map_path {
        match from_map(engine, &p) {
            Ok(l) => return Ok(l),
            Err(e)
                if a.map.is_none()
                    && crate::error::find(&e).is_some_and(|e| e.kind == ErrorKind::BadMap) =>
            {
                crate::warn!(
                    "ignoring `{}`: {e:#}; reading the engine with TensorRT instead",
                    p.display()
                );
            }
            Err(e) => return Err(e),
        }
    }
    let _ = g;
    crate::note!(
        "reading the engine's layout with marker passes (serializations with the weights included)"
    );
    let wrapped = IncludingWeights(engine);
    let opts = extract::Options {
        verify: !a.no_verify,
    };
    let ids = crate::pipeline::ids::IdSpace::new(engine.weights_list());
    let mut bars = super::progress::Bars::new(u64::from(ids.passes) + 2 + u64::from(!a.no_verify));
    let ex = if let Some(dir) = &a.work_dir {
        let mut scratch = crate::scratch::DiskScratch::new(Some(dir))?;
        extract::extract(
            &wrapped,
            engine.file.bytes(),
            &opts,
            &mut scratch,
            &mut bars,
        )
    } else {
        extract::extract(
            &wrapped,
            engine.file.bytes(),
            &opts,
            &mut extract::InMemory,
            &mut bars,
        )
    };
    bars.finish();
    let ex = ex.with_context(|| format!("reading `{}` with marker passes", a.engine.display()))?;
    if super::dump::proof_refutes(&ex.proof) {
        return Err(anyhow::Error::new(Error::new(
            ErrorKind::ProofFailed,
            format!(
                "the engine's own values could not be proven ({}); nothing was written",
                super::report::proof_line(&ex.proof)
            ),
        )));
    }
    let runs_len = if ex.layout_mode == LayoutMode::Aligned {
        0
    } else {
        ex.original_len
    };
    Ok(Learned {
        values: ex.results.iter().map(|r| r.values.values.clone()).collect(),
        stored: ex.results.iter().map(|r| r.values.stored.clone()).collect(),
        why: ex
            .results
            .iter()
            .map(|r| r.missing.as_ref().map(|m| m.to_string()))
            .collect(),
        runs: ex.original_runs.clone(),
        runs_len,
        via: "marker passes".into(),
        map: None,
    })
}

fn from_map(engine: &TrtEngine, p: &Path) -> anyhow::Result<Learned> {
    let ex = source::from_map(&engine.file, p)?;
    anyhow::ensure!(
        ex.weights == engine.weights_list(),
        "map `{}` lists other weights than the engine's refitter",
        p.display()
    );
    let m = source::read_map(p)?;
    let runs = m.runs_for(engine.file.bytes())?;
    crate::note!(
        "reading the engine's own values through the map `{}` (no marker passes)",
        p.display()
    );
    Ok(Learned {
        values: ex.results.iter().map(|r| r.values.values.clone()).collect(),
        stored: ex.results.iter().map(|r| r.values.stored.clone()).collect(),
        why: ex
            .results
            .iter()
            .map(|r| r.missing.as_ref().map(|m| m.to_string()))
            .collect(),
        runs,
        runs_len: m.header.engine_len,
        via: format!("the map `{}`", p.display()),
        map: Some(m),
    })
}

/// Reads `plan` back through `runs` (made for a plan of `runs_len` bytes). A plan of another
/// length is brought to that layout by a TensorRT round trip (deserialize, serialize with weights)
/// where that gives it; a map's runs are used only where the plan's non-weight bytes are the ones
/// the map was made for.
fn read_through(
    engine: &TrtEngine,
    weights: &[WeightSpec],
    expected: &[Option<&[u8]>],
    runs: &[Run],
    runs_len: u64,
    map: Option<&map::MapFile>,
    plan: &[u8],
) -> anyhow::Result<(proof::ReadBack, &'static str)> {
    if let Some(m) = map {
        if plan.len() as u64 != runs_len || m.check_engine(plan, runs).is_err() {
            anyhow::bail!("the refitted plan does not fit the map (another length or other non-weight bytes); learn the layout with marker passes (pass --no-sidecar)");
        }
        return Ok((
            proof::read_back(weights, expected, runs, plan),
            "the written bytes",
        ));
    }
    if runs_len == plan.len() as u64 && runs_len > 0 {
        return Ok((
            proof::read_back(weights, expected, runs, plan),
            "the written bytes",
        ));
    }
    let mut inst = engine.instance_of(plan)?;
    let again = inst.serialize_including_weights()?;
    if again.bytes().len() as u64 == runs_len && runs_len > 0 {
        return Ok((
            proof::read_back(weights, expected, runs, again.bytes()),
            "the written bytes, deserialized and serialized again",
        ));
    }
    Err(anyhow::Error::new(
        Error::new(
            ErrorKind::ProofFailed,
            format!(
                "proof failed: the refitted plan ({} bytes) and the layout learned ({} bytes) could not be lined up; nothing was written",
                plan.len(),
                runs_len
            ),
        )
        .with_hint("--no-verify writes it unproven"),
    ))
}
