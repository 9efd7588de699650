//! `trt-dump view ENGINE -o engine.html|engine.svg`: what is inside an engine, as a self-contained
//! page (byte strip, weight table with statistics, summary) or the byte strip alone as an SVG.
//!
//! The weights come as for `dump` (`--map`, a matching sidecar, or TensorRT); weights that could not
//! be recovered are drawn as such and the command still exits 0.

use std::collections::BTreeSet;
use std::path::Path;

use super::args::{ExtractArgs, GlobalArgs, ViewArgs};
use super::report::Source;
use super::source::{self, Extracted, Via};
use super::Outcome;
use crate::engine_file::EngineFile;
use crate::error::{Error, ErrorKind};
use crate::map::MapFile;
use crate::stats;
use crate::view::{self, ViewInput, WeightView};

/// Histogram bins per weight in the page.
pub const HIST_BINS: usize = 16;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ViewKind {
    Html,
    Svg,
}

/// The output's kind, from its extension; anything else is a usage error.
pub fn kind_of(path: &Path) -> anyhow::Result<ViewKind> {
    let ext = path
        .extension()
        .map(|e| e.to_string_lossy().to_ascii_lowercase());
    match ext.as_deref() {
        Some("html") | Some("htm") => Ok(ViewKind::Html),
        Some("svg") => Ok(ViewKind::Svg),
        _ => Err(anyhow::Error::new(
            Error::new(ErrorKind::Usage, format!("cannot tell what to write to `{}`: view writes .html or .svg", path.display()))
                .with_hint("name the output `*.html` (the page: byte strip, weight table, summary) or `*.svg` (the byte strip alone)"),
        )),
    }
}

pub fn run(g: &GlobalArgs, a: &ViewArgs) -> anyhow::Result<Outcome> {
    let kind = kind_of(&a.output)?;
    crate::writer::check_target(&a.output, crate::writer::Format::Safetensors, a.force)?;
    let via = match (&a.map, a.no_sidecar) {
        (Some(m), _) => Via::Map(m),
        (None, false) => Via::SidecarOrGpu,
        (None, true) => Via::Gpu,
    };
    // The reference first: a bad one fails before any GPU work.
    let names_ref = a
        .names_from
        .as_deref()
        .map(super::names::load)
        .transpose()?;
    let x = ExtractArgs {
        allow_missing: true,
        no_verify: a.no_verify,
        work_dir: a.work_dir.clone(),
    };
    let ex = source::obtain(g, &a.engine, via, &x)?;
    super::progress::check_interrupted()?;
    // What was read, as dump says it (-v: a line per weight).
    let rep = super::dump::build_report(&a.engine, &ex)?;
    super::report::print_weight_lines(&rep.weights);
    super::report::print_summary(&rep);
    if super::dump::proof_refutes(&ex.proof) {
        crate::warn!("the round-trip proof failed: the values and statistics shown are not proven");
    }
    let map = match (&ex.map, &ex.source) {
        (Some(m), _) => m.clone(),
        (None, Source::Map { path }) => super::source::read_map(Path::new(path))?,
        (None, Source::Tensorrt { .. }) => unreachable!("the TensorRT path always learns a map"),
    };
    let built_by = EngineFile::open(&a.engine)?.built_by();
    let mut input = input(
        &a.engine.display().to_string(),
        &built_by,
        &ex,
        &map,
        kind == ViewKind::Html,
    );
    if let (Some(from), Some(r)) = (&a.names_from, &names_ref) {
        // Weights take the checkpoint's names (the map's runs follow weights by index, not name);
        // the page lists the pairings from the same entries the outputs' metadata has.
        let p = super::names::pair(&ex, r, true, &format!("--names-from `{}`", from.display()));
        for (w, e) in input.weights.iter_mut().zip(&p.entries) {
            w.name = e.name().to_string();
        }
        super::names::metadata(&p, from, &mut input.meta)?;
    }
    let text = match kind {
        ViewKind::Html => view::page(&input),
        ViewKind::Svg => view::svg(&input),
    };
    let bytes = crate::writer::write_file(&a.output, a.force, text.as_bytes())?;
    let missing = ex
        .results
        .iter()
        .filter(|r| r.values.values.is_none())
        .count();
    crate::note!(
        "wrote `{}` ({} bytes): {} weights{}",
        a.output.display(),
        bytes,
        ex.weights.len(),
        if missing > 0 {
            format!(", {missing} not recovered (shown as such)")
        } else {
            String::new()
        }
    );
    Ok(Outcome::Success)
}

/// What the page is drawn from: the map, and per weight what extraction found and (with
/// `with_stats`) its statistics and histogram.
pub fn input(
    engine: &str,
    built_by: &str,
    ex: &Extracted,
    map: &MapFile,
    with_stats: bool,
) -> ViewInput {
    let weights: Vec<WeightView> = ex
        .weights
        .iter()
        .zip(&ex.results)
        .map(|(w, r)| {
            let (st, hist) = match (&r.values.values, with_stats) {
                (Some(v), true) => {
                    let s = stats::of_values(w.dtype, v, w.count);
                    let h = stats::histogram(w.dtype, v, w.count, &s, HIST_BINS);
                    (Some(s), h)
                }
                _ => (None, None),
            };
            WeightView {
                name: w.name.clone(),
                dtype: w.dtype,
                count: w.count,
                found: r.values.found,
                recovered: r.values.values.is_some(),
                missing: r.missing.as_ref().map(|m| m.to_string()).or_else(|| {
                    r.values
                        .values
                        .is_none()
                        .then(|| "not recovered".to_string())
                }),
                stats: st,
                hist,
            }
        })
        .collect();
    let names: BTreeSet<&str> = ex.weights.iter().map(|w| w.name.as_str()).collect();
    let unlisted_missing = map
        .header
        .missing
        .iter()
        .filter(|m| !names.contains(m.name.as_str()))
        .map(|m| (m.name.clone(), m.reason.to_string()))
        .collect();
    let source = match &ex.source {
        Source::Map { path } => format!("{path} (read on the CPU)"),
        Source::Tensorrt { version, .. } => format!("learned by marker passes through {version}"),
    };
    ViewInput {
        engine: engine.to_string(),
        engine_len: map.header.engine_len,
        built_by: built_by.to_string(),
        source,
        meta: map.header.meta.clone(),
        weights,
        runs: map.runs.clone(),
        volatile: map.header.volatile.clone(),
        unlisted_missing,
    }
}
