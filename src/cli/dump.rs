//! `trt-dump dump ENGINE -o OUT`: the heart of the tool.

use std::collections::BTreeMap;
use std::path::Path;

use anyhow::Context;
use sha2::{Digest, Sha256};

use super::args::{DumpArgs, GlobalArgs, MapArgs};
use super::report::{self, Report};
use super::source::{self, Extracted, Via};
use super::Outcome;
use crate::error::{Error, ErrorKind};
use crate::writer::{self, PlannedTensor, ShapeSource, TensorView, WriterOptions};

/// The `format` of `dump --json` (and of `map --json`: [`MAP_FORMAT`]).
pub const DUMP_FORMAT: &str = "trt-dump.dump/1";
pub const MAP_FORMAT: &str = "trt-dump.map/1";

pub fn run(g: &GlobalArgs, a: &DumpArgs) -> anyhow::Result<Outcome> {
    if crate::engine_dir::is_dir_input(&a.engine) {
        return super::engine_dir::dump(g, a);
    }
    super::engine_dir::refuse_devices(g)?;
    super::progress::install_interrupt_handler();
    // Refuse a bad output before hours of work.
    let format = writer::resolve_format(&a.out.output, a.out.format)?;
    writer::check_target(&a.out.output, format, a.out.force)?;
    if let Some(p) = &a.save_map {
        writer::check_target(p, writer::Format::Safetensors, a.out.force)
            .with_context(|| format!("--save-map `{}`", p.display()))?;
    }
    // The reference first: a bad one fails before any GPU work.
    let names_ref = a
        .names_from
        .as_deref()
        .map(super::names::load)
        .transpose()?;
    let via = match (&a.map, a.no_sidecar) {
        (Some(m), _) => Via::Map(m),
        (None, false) => Via::SidecarOrGpu,
        (None, true) => Via::Gpu,
    };
    let ex = source::obtain_hashed(g, &a.engine, via, &a.extract)?;
    super::progress::check_interrupted()?;

    let mut rep = build_report(a.engine.as_path(), &ex)?;
    if proof_refutes(&ex.proof) {
        finish_report(&rep, a.json)?;
        return Err(anyhow::Error::new(
            Error::new(
                ErrorKind::ProofFailed,
                format!("{}; nothing was written", report::proof_line(&ex.proof)),
            )
            .with_hint("the extracted values do not reproduce the engine; --no-verify writes them unproven (for forensics only)"),
        ));
    }
    note_map_knowledge(&ex);
    if !a.extract.allow_missing && ex.any_missing() {
        // All or nothing: a run that exits 11 writes no output (nor map), so a file on disk always
        // means success.
        finish_report(&rep, a.json)?;
        return incomplete(&ex, false, false);
    }

    let shapes = match &a.out.shapes_from {
        Some(p) => {
            let r = crate::shapes::from_file(&ex.weights, p)?;
            for u in &r.unmatched {
                crate::detail!("--shapes-from: `{}` stays flat: {}", u.name, u.why);
            }
            if !r.unmatched.is_empty() {
                crate::note!(
                    "--shapes-from: {} of {} weights keep their flat shape (-v lists them)",
                    r.unmatched.len(),
                    ex.weights.len()
                );
            }
            Some((r, p.display().to_string()))
        }
        None => None,
    };
    let pairings = match (&a.names_from, &names_ref) {
        (Some(p), Some(r)) => {
            let pairings =
                super::names::pair(&ex, r, true, &format!("--names-from `{}`", p.display()));
            rep.names_from = Some(super::names::summary(p, &pairings));
            Some((pairings, r, p.display().to_string()))
        }
        _ => None,
    };
    let sha = match &ex.engine_sha256 {
        Some(s) => s.clone(),
        None => sha256_file(&a.engine)?,
    };

    let mut planned = Vec::new();
    for (i, (w, r)) in ex.weights.iter().zip(&ex.results).enumerate() {
        if r.values.values.is_none() {
            continue;
        }
        // --names-from: the reference's name, and its shape where it has the weight.
        let named = pairings
            .as_ref()
            .map(|(p, r, from)| (&p.entries[i], p.shape(i, w.count, r), from));
        let name = named
            .as_ref()
            .map_or(w.name.as_str(), |(e, _, _)| e.name())
            .to_string();
        let (shape, shape_source) = match (&shapes, named) {
            (_, Some((_, Some(shape), from))) => {
                (shape, ShapeSource::Recovered { from: from.clone() })
            }
            (Some((res, from)), _) if !res.unmatched.iter().any(|u| u.index == i) => (
                res.shapes[i].clone(),
                ShapeSource::Recovered { from: from.clone() },
            ),
            _ => (vec![w.count], ShapeSource::Flat),
        };
        planned.push((
            i,
            PlannedTensor {
                name,
                dtype: w.dtype,
                shape,
                shape_source,
            },
        ));
    }
    let mut metadata = extraction_metadata(&a.engine, sha, &ex)?;
    if let (Some((p, _, _)), Some(from)) = (&pairings, &a.names_from) {
        super::names::metadata(p, from, &mut metadata)?;
    }
    let opts = WriterOptions {
        format: Some(format),
        compress: a.out.compress,
        force: a.out.force,
        metadata,
    };
    let plan: Vec<PlannedTensor> = planned.iter().map(|(_, p)| p.clone()).collect();
    let existed = std::fs::symlink_metadata(&a.out.output).is_ok();
    let mut sink = writer::open(&a.out.output, &opts, &plan)?;
    for (i, p) in &planned {
        super::progress::check_interrupted()?;
        let data = ex.results[*i]
            .values
            .values
            .as_deref()
            .expect("planned tensors have values");
        // A weight paired transposed is written as the checkpoint holds it.
        let how = pairings
            .as_ref()
            .and_then(|(pp, _, _)| pp.entries[*i].by_value());
        let data = crate::pairing::to_reference(data, p.dtype, how, &p.shape);
        sink.add(&TensorView {
            name: &p.name,
            dtype: p.dtype,
            shape: &p.shape,
            data: &data,
        })?;
    }
    let written = sink.finish()?;
    crate::note!(
        "wrote {} tensors to `{}` ({}, {} bytes)",
        written.tensors.len(),
        written.path.display(),
        writer::format_name(written.format),
        written.bytes
    );
    rep.output = Some(written.path.display().to_string());
    let missing = missing_metadata(&ex).len();
    if missing > 0 {
        crate::warn!(
            "{} of {} weights are not in `{}` (--allow-missing); its metadata lists them under `missing_weights`",
            missing,
            ex.weights.len(),
            written.path.display()
        );
    }

    if let Some(p) = &a.save_map {
        match &ex.map {
            Some(m) => {
                if let Err(e) = source::save_map(m, p, a.out.force) {
                    // All or nothing: a run that fails leaves no new output behind.
                    if !existed {
                        let _ = if written.path.is_dir() {
                            std::fs::remove_dir_all(&written.path)
                        } else {
                            std::fs::remove_file(&written.path)
                        };
                    }
                    let kept = if existed {
                        "was already replaced"
                    } else {
                        "was removed"
                    };
                    return Err(e.context(format!(
                        "--save-map `{}` failed, so the run failed; `{}` {kept}",
                        p.display(),
                        written.path.display()
                    )));
                }
                crate::note!("saved the map to `{}`", p.display());
                rep.map = Some(p.display().to_string());
            }
            None => crate::warn!("--save-map: values were read through a map; no new map to save"),
        }
    }
    finish_report(&rep, a.json)?;
    incomplete(&ex, a.extract.allow_missing, true)
}

/// Whether the round-trip proof refutes the values: bytes differ that should not. A proof that had
/// nothing to compare (a weight-stripped plan) refutes nothing; its weights are reported missing.
pub fn proof_refutes(p: &crate::pipeline::extract::Proof) -> bool {
    matches!(p, crate::pipeline::extract::Proof::Failed { differing, .. } if *differing > 0)
}

/// `trt-dump map ENGINE -o MAP`.
pub fn run_map(g: &GlobalArgs, a: &MapArgs) -> anyhow::Result<Outcome> {
    super::progress::install_interrupt_handler();
    writer::check_target(&a.output, writer::Format::Safetensors, a.force)?;
    let ex = source::obtain(g, &a.engine, Via::Gpu, &a.extract)?;
    let mut rep = build_report(a.engine.as_path(), &ex)?;
    rep.format = MAP_FORMAT;
    if proof_refutes(&ex.proof) {
        finish_report(&rep, a.json)?;
        return Err(anyhow::Error::new(Error::new(
            ErrorKind::ProofFailed,
            format!("{}; no map was written", report::proof_line(&ex.proof)),
        )));
    }
    if !a.extract.allow_missing && ex.any_missing() {
        // All or nothing, as for `dump`: a map that lacks weights is written only when asked.
        finish_report(&rep, a.json)?;
        return incomplete(&ex, false, false);
    }
    let m = ex.map.as_ref().expect("the GPU path always learns a map");
    source::save_map(m, &a.output, a.force)?;
    crate::note!(
        "saved the map to `{}` ({} run records)",
        a.output.display(),
        m.runs.len()
    );
    rep.map = Some(a.output.display().to_string());
    finish_report(&rep, a.json)?;
    incomplete(&ex, a.extract.allow_missing, true)
}

pub fn build_report(engine: &Path, ex: &Extracted) -> anyhow::Result<Report> {
    let weights: Vec<_> = ex
        .weights
        .iter()
        .zip(&ex.results)
        .map(|(w, r)| report::weight_report(w, r))
        .collect();
    let totals = report::totals(&weights);
    let engine_bytes = std::fs::metadata(engine).map(|m| m.len()).unwrap_or(0);
    Ok(Report {
        format: DUMP_FORMAT,
        engine: engine.display().to_string(),
        engine_bytes,
        source: ex.source.clone(),
        weights,
        totals,
        passes: ex.passes.clone(),
        proof: ex.proof.clone(),
        proof_independent: ex.proof_independent,
        seconds: ex.seconds,
        output: None,
        map: None,
        names_from: None,
    })
}

pub fn finish_report(rep: &Report, json: bool) -> anyhow::Result<()> {
    report::print_weight_lines(&rep.weights);
    report::print_summary(rep);
    if json {
        super::emit_json(rep)?;
    }
    Ok(())
}

/// What every output of an extraction records about where its values came from: the engine (path,
/// sha256, what built it, from its own header), the tool, TensorRT or the map read through, the
/// proof, each weight's stored dtypes, and (with `--allow-missing`) the weights it lacks.
pub fn extraction_metadata(
    engine: &Path,
    sha: String,
    ex: &Extracted,
) -> anyhow::Result<BTreeMap<String, String>> {
    let mut metadata = BTreeMap::new();
    metadata.insert("source_engine_sha256".to_string(), sha);
    metadata.insert("source_engine".to_string(), engine.display().to_string());
    metadata.insert(
        "tool".to_string(),
        format!("trt-dump {}", env!("CARGO_PKG_VERSION")),
    );
    // What built the engine, from its own header: on the map path as on the GPU path.
    metadata.insert(
        "engine_built_by".to_string(),
        crate::engine_file::EngineFile::open(engine)?.built_by(),
    );
    match &ex.source {
        report::Source::Tensorrt { version, .. } => {
            metadata.insert("tensorrt".to_string(), version.clone())
        }
        report::Source::Map { path } => {
            metadata.insert("read_through_map".to_string(), path.clone())
        }
    };
    metadata.insert("proof".to_string(), report::proof_line(&ex.proof));
    let stored: BTreeMap<&str, String> = ex
        .weights
        .iter()
        .zip(&ex.results)
        .map(|(w, r)| {
            (
                w.name.as_str(),
                r.values
                    .stored
                    .iter()
                    .map(|d| d.name())
                    .collect::<Vec<_>>()
                    .join("+"),
            )
        })
        .collect();
    metadata.insert("stored_dtypes".to_string(), serde_json::to_string(&stored)?);
    let missing = missing_metadata(ex);
    if !missing.is_empty() {
        // Only with --allow-missing (otherwise nothing is written): the output says what it lacks.
        metadata.insert(
            "missing_weights".to_string(),
            serde_json::to_string(&missing)?,
        );
    }
    Ok(metadata)
}

/// The weights not written, for the output's metadata (`missing_weights`): name, refit dtype,
/// element count and why, in the engine's (or map's) order.
#[derive(serde::Serialize)]
pub struct MissingEntry<'a> {
    pub name: &'a str,
    pub dtype: &'static str,
    pub count: u64,
    pub reason: String,
}

pub fn missing_metadata(ex: &Extracted) -> Vec<MissingEntry<'_>> {
    ex.weights
        .iter()
        .zip(&ex.results)
        .filter(|(_, r)| r.values.values.is_none())
        .map(|(w, r)| MissingEntry {
            name: &w.name,
            dtype: w.dtype.name(),
            count: w.count,
            reason: r
                .missing
                .as_ref()
                .map(|m| m.to_string())
                .unwrap_or_else(|| "not recovered".into()),
        })
        .collect()
}

/// Through a map made by `locate`: says that it knows only the reference's names, so even a
/// complete one says nothing of weights the reference does not hold.
pub fn note_map_knowledge(ex: &Extracted) {
    if ex.map_knows == Some(crate::map::Knows::ReferenceNamesOnly) {
        crate::note!(
            "the map was made by `locate`: it knows only the reference's tensor names, so the engine may hold weights it does not list"
        );
    }
}

/// Exit status 11 when weights are missing, unless the user allowed it. `written`: whether the
/// recovered weights were written (false when there were none to write).
pub fn incomplete(ex: &Extracted, allow_missing: bool, written: bool) -> anyhow::Result<Outcome> {
    use crate::pipeline::extract::Missing;
    let missing: Vec<(&str, Option<&Missing>)> = ex
        .weights
        .iter()
        .zip(&ex.results)
        .filter(|(_, r)| r.values.values.is_none())
        .map(|(w, r)| (w.name.as_str(), r.missing.as_ref()))
        .collect();
    if missing.is_empty() || allow_missing {
        return Ok(Outcome::Success);
    }
    let after = if written {
        "everything else was written"
    } else {
        "nothing was written"
    };
    let through_map = matches!(ex.source, report::Source::Map { .. });
    if missing.len() == ex.weights.len()
        && missing.iter().all(|(_, m)| *m == Some(&Missing::Stripped))
    {
        return Err(anyhow::Error::new(
            Error::new(
                ErrorKind::Incomplete,
                format!(
                    "this plan holds no weights; refit it first: it is a weight-stripped engine (built with STRIP_PLAN), so none of its {} weights is stored in it; {after}",
                    missing.len()
                ),
            )
            .with_hint("refit the engine with the weights it was built from (TensorRT's IRefitter), serialize it, and dump that file; --allow-missing accepts an empty result"),
        ));
    }
    let list: Vec<&str> = missing.iter().take(5).map(|(n, _)| *n).collect();
    Err(anyhow::Error::new(
        Error::new(
            ErrorKind::Incomplete,
            format!(
                "{} of {} weights could not be {} ({}{}); {after}",
                missing.len(),
                ex.weights.len(),
                if through_map {
                    "read through the map"
                } else {
                    "recovered"
                },
                list.join(", "),
                if missing.len() > 5 { ", ..." } else { "" }
            ),
        )
        .with_hint(
            "the report above says why for each; pass --allow-missing to accept this and exit 0",
        ),
    ))
}

/// sha256 of a file, streamed (engines can be larger than memory).
pub fn sha256_file(path: &std::path::Path) -> anyhow::Result<String> {
    use std::io::Read;
    let mut f = std::fs::File::open(path)
        .with_context(|| format!("reading `{}` for its checksum", path.display()))?;
    let mut h = Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let n = f
            .read(&mut buf)
            .with_context(|| format!("reading `{}` for its checksum", path.display()))?;
        if n == 0 {
            break;
        }
        h.update(&buf[..n]);
    }
    Ok(hex(&h.finalize()))
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}
