//! `trt-dump list ENGINE`: every refittable weight with its refit dtype and element count.
//!
//! Text: one line per weight (name, dtype, count), then totals. `--json`: one object, keys
//! documented in docs/json.md. With `--map FILE`, or a map beside the engine (`ENGINE.trtmap`)
//! that fits it, the weights the map records, on the CPU alone, once the map is known to fit the
//! engine. With `--stats`, per weight the
//! statistics of its recovered values (`crate::stats`), read as `dump` reads them: through `--map`
//! or a matching sidecar on the CPU, else by a full extraction with TensorRT.

use std::io::Write;
use std::path::Path;

use anyhow::Context;
use serde::Serialize;

use super::args::{GlobalArgs, ListArgs};
use super::Outcome;
use crate::engine_file::EngineFile;
use crate::pipeline::{Engine, WeightSpec};
use crate::stats::{self, Stats};
use crate::trt::TrtEngine;

pub const FORMAT: &str = "trt-dump.list/1";

#[derive(Debug, Serialize)]
pub struct ListReport<'a> {
    pub format: &'static str,
    pub engine: String,
    pub weights: Vec<ListedWeight<'a>>,
    pub totals: Totals,
    /// `--names-from`: which weights were paired with the reference by value, and how.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub names_from: Option<crate::pairing::Summary>,
}

#[derive(Debug, Serialize)]
pub struct ListedWeight<'a> {
    pub name: &'a str,
    pub dtype: &'static str,
    pub count: u64,
    /// Bytes in the refit dtype (packed types: two elements per byte, rounded up).
    pub bytes: u64,
    /// `list --map` only: why the map cannot give this weight (it records it as missing, or holds
    /// no bytes of it). Listing reads no values, so a weight placed only in part is not caught here.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub missing: Option<String>,
    /// `--names-from`: the engine's own name, when the weight was paired by value.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub engine_name: Option<&'a str>,
    /// `--names-from`: how it was paired by value (`exact`, `transposed`, `rounded to float16`...).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub paired: Option<String>,
    /// `--names-from`: the reference's shape, where it has the weight.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub shape: Option<Vec<u64>>,
    /// With `--stats` only: the statistics of the recovered values, `null` when the weight was
    /// not recovered.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stats: Option<Option<Stats>>,
}

#[derive(Debug, Serialize)]
pub struct Totals {
    pub weights: usize,
    /// Weights the map cannot give (`list --map`); left out when 0, so `list` through TensorRT
    /// prints what it always did.
    #[serde(skip_serializing_if = "is_zero")]
    pub missing: usize,
    pub elements: u64,
    pub bytes: u64,
}

fn is_zero(n: &usize) -> bool {
    *n == 0
}

pub fn run(g: &GlobalArgs, a: ListArgs) -> anyhow::Result<Outcome> {
    if let Some(from) = &a.names_from {
        return run_named(g, &a, from);
    }
    if a.stats {
        return run_stats(g, &a);
    }
    // `--map FILE`, or a map beside the engine that fits it (as `dump` uses one): on the CPU.
    let side = crate::map::sidecar_path(&a.engine);
    let map_path = match &a.map {
        Some(m) => Some(m.clone()),
        None if side.is_file() => Some(side.clone()),
        None => None,
    };
    if let Some(mp) = map_path {
        match from_map(&a.engine, &mp) {
            Ok((specs, missing)) => {
                if a.map.is_none() {
                    crate::note!(
                        "using the map `{}` beside the engine (no GPU needed)",
                        side.display()
                    );
                }
                let mut r = report(&a.engine.display().to_string(), &specs);
                for (w, why) in r.weights.iter_mut().zip(missing) {
                    w.missing = why;
                }
                r.totals.missing = r.weights.iter().filter(|w| w.missing.is_some()).count();
                if r.totals.missing > 0 {
                    crate::warn!(
                        "the map is incomplete: it cannot give {} of the {} weights it lists (marked MISSING); `dump`, `verify` and `diff` through it exit 11 unless --allow-missing",
                        r.totals.missing,
                        r.totals.weights
                    );
                }
                return print(&r, a.json);
            }
            Err(e)
                if a.map.is_none()
                    && crate::error::find(&e)
                        .is_some_and(|e| e.kind == crate::error::ErrorKind::BadMap) =>
            {
                crate::warn!(
                    "ignoring `{}`: {e:#}; asking TensorRT instead",
                    side.display()
                );
            }
            Err(e) => return Err(e),
        }
    }
    let opts = super::source::trt_options(g);
    let engine = TrtEngine::open(&opts, &a.engine)?;
    print(
        &report(&a.engine.display().to_string(), engine.weights()),
        a.json,
    )
}

/// The weights a map records, after checking that it was made for this engine (exit 14 if not),
/// each with why the map cannot give it, if it cannot (recorded as missing, or no bytes placed).
/// No TensorRT, no GPU.
pub fn from_map(
    engine: &Path,
    map_path: &Path,
) -> anyhow::Result<(Vec<WeightSpec>, Vec<Option<String>>)> {
    let file = EngineFile::open(engine)?;
    let m = super::source::read_map(map_path)?;
    let runs = m
        .runs()
        .with_context(|| format!("reading map `{}`", map_path.display()))?;
    m.check_engine(file.bytes(), &runs).with_context(|| {
        format!(
            "map `{}` vs engine `{}`",
            map_path.display(),
            engine.display()
        )
    })?;
    if m.header.knows() == crate::map::Knows::ReferenceNamesOnly {
        let by = m
            .header
            .meta
            .get("made_by")
            .map(String::as_str)
            .unwrap_or("locate");
        crate::note!(
            "the map was made by `{by}`: it lists the reference tensors it searched for, with the reference's names and dtypes, not necessarily every weight the engine has"
        );
    }
    let recorded: std::collections::BTreeMap<&str, String> = m
        .header
        .missing
        .iter()
        .map(|w| (w.name.as_str(), w.reason.to_string()))
        .collect();
    let mut placed = vec![false; m.header.weights.len()];
    for r in &m.runs {
        if let Some(p) = placed.get_mut(r.run.weight as usize) {
            *p = true;
        }
    }
    let missing = m
        .header
        .weights
        .iter()
        .zip(&placed)
        .map(|(w, &placed)| match recorded.get(w.name.as_str()) {
            Some(why) => Some(why.clone()),
            None if !placed => {
                Some("not in the map: the map lists it but records no bytes of it".to_string())
            }
            None => None,
        })
        .collect();
    Ok((m.header.weights, missing))
}

/// `list --stats`: the values are read (map or extraction), then summarised per weight.
fn run_stats(g: &GlobalArgs, a: &ListArgs) -> anyhow::Result<Outcome> {
    use super::source::{self, Via};
    let via = match &a.map {
        Some(m) => Via::Map(m),
        None => Via::SidecarOrGpu,
    };
    let x = super::args::ExtractArgs {
        allow_missing: true,
        no_verify: false,
        work_dir: None,
    };
    let ex = source::obtain(g, &a.engine, via, &x)?;
    if super::dump::proof_refutes(&ex.proof) {
        crate::warn!(
            "{}: the statistics are of unproven values",
            super::report::proof_line(&ex.proof)
        );
    }
    if let Some(by) = ex
        .map_meta
        .as_ref()
        .and_then(|m| m.get("made_by"))
        .filter(|b| b.starts_with("locate"))
    {
        crate::note!("the map was made by `{by}`: it lists the reference tensors it searched for, not necessarily every weight the engine has");
    }
    for (w, r) in ex.weights.iter().zip(&ex.results) {
        if let Some(m) = &r.missing {
            crate::note!(
                "`{}` was not recovered, so it has no statistics: {m}",
                w.name
            );
        }
    }
    let st: Vec<Option<Stats>> = ex
        .weights
        .iter()
        .zip(&ex.results)
        .map(|(w, r)| {
            r.values
                .values
                .as_deref()
                .map(|v| stats::of_values(w.dtype, v, w.count))
        })
        .collect();
    let mut rep = report(&a.engine.display().to_string(), &ex.weights);
    for (lw, s) in rep.weights.iter_mut().zip(st) {
        lw.stats = Some(s);
    }
    print(&rep, a.json)
}

fn print(report: &ListReport<'_>, json: bool) -> anyhow::Result<Outcome> {
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    if json {
        super::emit_json(report)?;
    } else {
        write_text(&mut out, report)?;
    }
    out.flush()?;
    Ok(Outcome::Success)
}

pub fn report<'a>(engine: &str, specs: &'a [WeightSpec]) -> ListReport<'a> {
    let weights: Vec<ListedWeight<'a>> = specs
        .iter()
        .map(|s| ListedWeight {
            name: &s.name,
            dtype: s.dtype.name(),
            count: s.count,
            bytes: s.refit_bytes(),
            missing: None,
            engine_name: None,
            paired: None,
            shape: None,
            stats: None,
        })
        .collect();
    let totals = Totals {
        weights: weights.len(),
        missing: 0,
        elements: weights.iter().map(|w| w.count).sum(),
        bytes: weights.iter().map(|w| w.bytes).sum(),
    };
    ListReport {
        format: FORMAT,
        engine: engine.to_string(),
        weights,
        totals,
        names_from: None,
    }
}

/// `list --names-from REF` (and `--stats`): the weights under the reference's names. Pairing by value needs the
/// values, read as `dump` reads them (`--map`, a matching sidecar map, or TensorRT).
fn run_named(g: &GlobalArgs, a: &ListArgs, from: &Path) -> anyhow::Result<Outcome> {
    let reference = super::names::load(from)?;
    let via = match &a.map {
        Some(m) => super::source::Via::Map(m),
        None => super::source::Via::SidecarOrGpu,
    };
    let x = super::args::ExtractArgs {
        allow_missing: true,
        no_verify: false,
        work_dir: None,
    };
    let ex = super::source::obtain(g, &a.engine, via, &x)?;
    super::verify::check_proof(&ex, &a.engine)?;
    let p = super::names::pair(
        &ex,
        &reference,
        true,
        &format!("--names-from `{}`", from.display()),
    );
    let mut r = report(&a.engine.display().to_string(), &ex.weights);
    for (i, (w, e)) in r.weights.iter_mut().zip(&p.entries).enumerate() {
        w.name = e.name();
        if let Some(how) = e.by_value() {
            w.engine_name = Some(&e.engine);
            w.paired = Some(how.to_string());
        }
        w.shape = p.shape(i, w.count, &reference);
    }
    if a.stats {
        for (lw, (w, x)) in r.weights.iter_mut().zip(ex.weights.iter().zip(&ex.results)) {
            lw.stats = Some(
                x.values
                    .values
                    .as_deref()
                    .map(|v| stats::of_values(w.dtype, v, w.count)),
            );
        }
    }
    r.names_from = Some(super::names::summary(from, &p));
    print(&r, a.json)
}

pub fn write_text(out: &mut impl Write, r: &ListReport<'_>) -> std::io::Result<()> {
    let name_w = r
        .weights
        .iter()
        .map(|w| w.name.len())
        .max()
        .unwrap_or(0)
        .max("NAME".len());
    let count_w = r
        .weights
        .iter()
        .map(|w| w.count.to_string().len())
        .max()
        .unwrap_or(0)
        .max("COUNT".len());
    let with_stats = r.weights.iter().any(|w| w.stats.is_some());
    if with_stats {
        writeln!(
            out,
            "{:<name_w$}  {:<9}  {:>count_w$}  {:>11}  {:>11}  {:>11}  {:>11}  {:>7}  {:>5}  {:>5}",
            "NAME", "DTYPE", "COUNT", "MIN", "MAX", "MEAN", "STD", "ZEROS", "NAN", "INF"
        )?;
    } else {
        writeln!(
            out,
            "{:<name_w$}  {:<9}  {:>count_w$}",
            "NAME", "DTYPE", "COUNT"
        )?;
    }
    for w in &r.weights {
        let paired = match (w.engine_name, &w.paired) {
            (Some(e), Some(how)) => format!("  (engine: {e}, {how})"),
            _ => String::new(),
        };
        let shape = w
            .shape
            .as_ref()
            .map(|s| format!("  {s:?}"))
            .unwrap_or_default();
        match &w.stats {
            Some(Some(s)) => writeln!(
                out,
                "{:<name_w$}  {:<9}  {:>count_w$}  {:>11}  {:>11}  {:>11}  {:>11}  {:>7}  {:>5}  {:>5}{shape}{paired}",
                w.name,
                w.dtype,
                w.count,
                num(s.min),
                num(s.max),
                num(s.mean),
                num(s.std),
                s.zeros,
                s.nan,
                s.inf
            )?,
            Some(None) => writeln!(out, "{:<name_w$}  {:<9}  {:>count_w$}  (not recovered: no statistics){shape}{paired}", w.name, w.dtype, w.count)?,
            None => match &w.missing {
                None => writeln!(out, "{:<name_w$}  {:<9}  {:>count_w$}{shape}{paired}", w.name, w.dtype, w.count)?,
                Some(why) => writeln!(out, "{:<name_w$}  {:<9}  {:>count_w$}{shape}{paired}  MISSING: {why}", w.name, w.dtype, w.count)?,
            },
        }
    }
    let missing = if r.totals.missing > 0 {
        format!(
            "; {} of them not readable through the map",
            r.totals.missing
        )
    } else {
        String::new()
    };
    writeln!(
        out,
        "{} weights, {} elements, {} bytes ({}){missing}",
        r.totals.weights,
        r.totals.elements,
        r.totals.bytes,
        crate::trt::gpu::human_bytes(r.totals.bytes)
    )
}

/// A statistic for the text table: integers as such, others to 5 significant digits, `-` for none.
fn num(v: Option<f64>) -> String {
    match v {
        None => "-".to_string(),
        Some(v) if v == v.trunc() && v.abs() < 1e15 => format!("{v:.0}"),
        Some(v) if v != 0.0 && (v.abs() < 1e-3 || v.abs() >= 1e6) => format!("{v:.4e}"),
        Some(v) => format!("{}", (v * 1e5).round() / 1e5),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dtype::DataType;

    fn specs() -> Vec<WeightSpec> {
        vec![
            WeightSpec {
                name: "fc1.weight".into(),
                dtype: DataType::Float,
                count: 2048,
            },
            WeightSpec {
                name: "fc1.bias".into(),
                dtype: DataType::Half,
                count: 64,
            },
            WeightSpec {
                name: "q".into(),
                dtype: DataType::Int4,
                count: 3,
            },
        ]
    }

    #[test]
    fn totals_add_refit_bytes() {
        let s = specs();
        let r = report("m.engine", &s);
        assert_eq!(r.totals.weights, 3);
        assert_eq!(r.totals.elements, 2048 + 64 + 3);
        assert_eq!(r.totals.bytes, 8192 + 128 + 2);
    }

    #[test]
    fn text_has_one_line_per_weight_and_totals() {
        let s = specs();
        let mut buf = Vec::new();
        write_text(&mut buf, &report("m.engine", &s)).unwrap();
        let text = String::from_utf8(buf).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 5);
        assert!(
            lines[1].starts_with("fc1.weight  float32") && lines[1].ends_with("2048"),
            "{text}"
        );
        assert!(
            lines[4].starts_with("3 weights, 2115 elements, 8322 bytes"),
            "{text}"
        );
    }

    #[test]
    fn json_keys_are_stable() {
        let s = specs();
        let v = serde_json::to_value(report("m.engine", &s)).unwrap();
        assert_eq!(v["format"], FORMAT);
        assert_eq!(v["weights"][1]["name"], "fc1.bias");
        assert_eq!(v["weights"][1]["dtype"], "float16");
        assert_eq!(v["weights"][2]["bytes"], 2);
        assert_eq!(v["totals"]["weights"], 3);
        assert!(
            v["weights"][0].get("stats").is_none(),
            "no stats key without --stats"
        );
    }

    #[test]
    fn stats_appear_beside_the_name_and_null_when_not_recovered() {
        let s = specs();
        let mut r = report("m.engine", &s);
        r.weights[0].stats = Some(Some(stats::of_values(
            crate::dtype::DataType::Float,
            &[0, 0, 0, 0],
            1,
        )));
        r.weights[1].stats = Some(None);
        let v = serde_json::to_value(&r).unwrap();
        let st = &v["weights"][0]["stats"];
        for k in ["min", "max", "mean", "std", "zeros", "nan", "inf"] {
            assert!(st.get(k).is_some(), "missing {k}: {st}");
        }
        assert_eq!(st["zeros"], 1);
        assert!(v["weights"][1]["stats"].is_null() && v["weights"][1].get("stats").is_some());
        let mut buf = Vec::new();
        write_text(&mut buf, &r).unwrap();
        let text = String::from_utf8(buf).unwrap();
        assert!(text.lines().next().unwrap().contains("MEAN"), "{text}");
        assert!(text.contains("not recovered"), "{text}");
        assert_eq!(num(Some(0.000012345)), "1.2345e-5");
        assert_eq!(num(Some(-3.0)), "-3");
        assert_eq!(num(Some(0.123456789)), "0.12346");
    }
}
