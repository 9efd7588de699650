//! `trt-dump view`: a picture of what is inside an engine, built from its map and the weights'
//! statistics (never from every element), as one self-contained HTML page or a static SVG strip.
//!
//! [`ViewInput`] is what the page is made of: the engine's length, the map's run records, and per
//! weight its specification, what extraction found and its statistics. [`Model::new`] summarises it:
//! each weight's byte extents (its runs merged, at most [`MAX_EXTENTS`] per weight), its layout, its
//! colour group, and the engine-wide totals. [`page`] embeds that as compact JSON in an HTML page
//! whose script draws the byte strip and the table; [`svg`] draws the strip alone, binned in Rust.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use serde_json::{json, Value};

use crate::dtype::DataType;
use crate::map::MapRun;
use crate::stats::{Histogram, Stats};

/// Bytes of the plan header (tag, serialization version, building TensorRT's version).
pub const HEADER_BYTES: u64 = 28;
/// Extents kept per weight; more are coalesced across their smallest gaps.
pub const MAX_EXTENTS: usize = 24;
/// Bins of the static SVG strip.
pub const SVG_BINS: usize = 1000;

/// One weight, as the page shows it.
#[derive(Clone, Debug)]
pub struct WeightView {
    pub name: String,
    pub dtype: DataType,
    pub count: u64,
    /// Distinct elements located.
    pub found: u64,
    /// Whether its values were recovered in full.
    pub recovered: bool,
    /// Why not, when not.
    pub missing: Option<String>,
    pub stats: Option<Stats>,
    pub hist: Option<Histogram>,
}

/// What a page is made of.
#[derive(Clone, Debug)]
pub struct ViewInput {
    pub engine: String,
    pub engine_len: u64,
    pub built_by: String,
    /// Where the map came from ("map `x.trtmap`", "TensorRT 10.16 marker passes").
    pub source: String,
    /// The map's own notes (how it was made).
    pub meta: BTreeMap<String, String>,
    pub weights: Vec<WeightView>,
    pub runs: Vec<MapRun>,
    pub volatile: Vec<(u64, u64)>,
    /// Weights the map records as not locatable, with why, that are not in `weights`.
    pub unlisted_missing: Vec<(String, String)>,
}

/// A byte range of one weight, in one stored dtype.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Extent {
    pub start: u64,
    pub end: u64,
    pub stored: DataType,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Layout {
    /// Not located at all.
    Absent,
    /// Elements in order.
    Verbatim,
    /// Consecutive stored elements step through the weight with a constant stride > 1.
    Transposed,
    /// Elements in order within blocks, blocks out of order or interleaved.
    Tiled,
}

impl Layout {
    pub fn name(self) -> &'static str {
        match self {
            Layout::Absent => "absent",
            Layout::Verbatim => "verbatim",
            Layout::Transposed => "transposed",
            Layout::Tiled => "tiled",
        }
    }
}

/// Per weight, what the map says.
#[derive(Clone, Debug)]
pub struct Placed {
    pub extents: Vec<Extent>,
    pub stored: Vec<DataType>,
    pub layout: Layout,
    /// Stored element sightings / elements.
    pub copies: u64,
    /// Bytes its runs occupy.
    pub stored_bytes: u64,
    /// Of which bytes hold second and later copies.
    pub dup_bytes: u64,
    pub group: usize,
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Summary {
    pub engine_len: u64,
    pub header_bytes: u64,
    /// Bytes holding weights (each byte counted once).
    pub weight_bytes: u64,
    /// Bytes holding second and later copies of weight elements.
    pub dup_bytes: u64,
    pub volatile_bytes: u64,
    /// Everything else: kernels, metadata, padding.
    pub other_bytes: u64,
    pub weights: usize,
    pub recovered: usize,
    pub elements: u64,
    pub elements_recovered: u64,
}

pub struct Model<'a> {
    pub input: &'a ViewInput,
    pub placed: Vec<Placed>,
    pub groups: Vec<String>,
    pub summary: Summary,
}

/// The colour group of a weight: its name up to and including the first all-digit component
/// (`bert.encoder.layer.3`), else up to its last separator (`embeddings.word`), else the name.
pub fn group_of(name: &str) -> &str {
    let seps = |c: char| c == '.' || c == '/' || c == ':';
    let mut pos = 0;
    for part in name.split(seps) {
        let end = pos + part.len();
        if !part.is_empty() && part.bytes().all(|b| b.is_ascii_digit()) && end < name.len() {
            return &name[..end];
        }
        pos = end + 1;
    }
    match name.rfind(seps).map(|i| name[..i].trim_end_matches(seps)) {
        Some(g) if !g.is_empty() => g,
        _ => name,
    }
}

fn run_bytes(m: &MapRun) -> u64 {
    let r = &m.run;
    (u64::from(r.nibble) * 4 + r.len.saturating_mul(u64::from(r.stored.bits()))).div_ceil(8)
}

/// The byte span `[start, end)` of every repetition of a record.
fn span(m: &MapRun) -> (u64, u64) {
    let last = i128::from(m.outer.saturating_sub(1)) * i128::from(m.outer_offset_stride);
    let start = (i128::from(m.run.offset) + last.min(0)).max(0) as u64;
    let end = (i128::from(m.run.offset) + last.max(0)).max(0) as u64 + run_bytes(m);
    (start, end)
}

/// Byte ranges the records cover, one per repetition unless the repetitions abut.
fn ranges(runs: &[MapRun], out: &mut Vec<(u64, u64)>) {
    for m in runs {
        let b = run_bytes(m);
        if m.outer <= 1 || m.outer_offset_stride.unsigned_abs() == b {
            out.push(span(m));
        } else {
            for k in 0..m.outer {
                let off = (i128::from(m.run.offset)
                    + i128::from(k) * i128::from(m.outer_offset_stride))
                .max(0) as u64;
                out.push((off, off + b));
            }
        }
    }
}

/// Bytes covered by `r` (sorted or not, overlapping allowed), clipped to `[0, len)`.
fn union_len(r: &mut [(u64, u64)], len: u64) -> u64 {
    r.sort_unstable();
    let (mut total, mut pos) = (0u64, 0u64);
    for &(a, b) in r.iter() {
        let (a, b) = (a.max(pos), b.min(len));
        if b > a {
            total += b - a;
            pos = b;
        }
    }
    total
}

fn merge_extents(mut x: Vec<Extent>) -> Vec<Extent> {
    x.sort_by_key(|e| (e.start, e.end));
    let mut out: Vec<Extent> = Vec::with_capacity(x.len());
    for e in x {
        match out.last_mut() {
            Some(l) if l.stored == e.stored && e.start <= l.end => l.end = l.end.max(e.end),
            _ => out.push(e),
        }
    }
    if out.len() > MAX_EXTENTS {
        // Keep the MAX_EXTENTS - 1 largest gaps, merge across the others.
        let mut gaps: Vec<(u64, usize)> = out
            .windows(2)
            .enumerate()
            .map(|(i, w)| (w[1].start.saturating_sub(w[0].end), i))
            .collect();
        gaps.sort_unstable_by(|a, b| b.cmp(a));
        let mut cut = vec![false; out.len()];
        for &(_, i) in gaps.iter().take(MAX_EXTENTS - 1) {
            cut[i] = true;
        }
        let mut merged: Vec<Extent> = Vec::with_capacity(MAX_EXTENTS);
        for (i, e) in out.iter().enumerate() {
            if i > 0 && !cut[i - 1] {
                let l = merged.last_mut().expect("a first extent");
                l.end = l.end.max(e.end);
            } else {
                merged.push(*e);
            }
        }
        return merged;
    }
    out
}

fn layout_of(runs: &[&MapRun]) -> Layout {
    if runs.is_empty() {
        return Layout::Absent;
    }
    if runs
        .iter()
        .any(|m| m.run.len > 1 && m.run.index_stride != 1)
    {
        return Layout::Transposed;
    }
    // Stride-1 runs: verbatim when each one continues where the previous one (by offset) ended,
    // or starts a new copy at element 0.
    let mut sorted: Vec<&MapRun> = runs.to_vec();
    sorted.sort_by_key(|m| m.run.offset);
    let mut next = 0u64;
    for m in sorted {
        if m.outer > 1
            && (m.outer_index_stride != m.run.len as i64
                || m.outer_offset_stride != run_bytes(m) as i64)
        {
            return Layout::Tiled;
        }
        if m.run.index != next && m.run.index != 0 {
            return Layout::Tiled;
        }
        next = m.run.index + m.run.len * m.outer;
    }
    Layout::Verbatim
}

impl<'a> Model<'a> {
    pub fn new(input: &'a ViewInput) -> Model<'a> {
        let n = input.weights.len();
        let mut by_weight: Vec<Vec<&MapRun>> = vec![Vec::new(); n];
        for m in &input.runs {
            if let Some(v) = by_weight.get_mut(m.run.weight as usize) {
                v.push(m);
            }
        }
        let mut groups: Vec<String> = Vec::new();
        let mut group_index: BTreeMap<&str, usize> = BTreeMap::new();
        let mut placed = Vec::with_capacity(n);
        let mut dup_total = 0u64;
        for (w, runs) in input.weights.iter().zip(&by_weight) {
            let g = group_of(&w.name);
            let group = *group_index.entry(g).or_insert_with(|| {
                groups.push(g.to_string());
                groups.len() - 1
            });
            let extents = merge_extents(
                runs.iter()
                    .map(|m| {
                        let (start, end) = span(m);
                        Extent {
                            start,
                            end,
                            stored: m.run.stored,
                        }
                    })
                    .collect(),
            );
            let mut stored: Vec<DataType> = Vec::new();
            for m in runs {
                if !stored.contains(&m.run.stored) {
                    stored.push(m.run.stored);
                }
            }
            let sightings: u128 = runs
                .iter()
                .map(|m| u128::from(m.outer) * u128::from(m.run.len))
                .sum();
            let stored_bytes: u64 = runs
                .iter()
                .map(|m| m.outer.saturating_mul(run_bytes(m)))
                .fold(0, u64::saturating_add);
            let distinct = u128::from(w.found.max(sightings.min(u128::from(w.count)) as u64));
            let dup_bytes = if sightings > distinct && sightings > 0 {
                (u128::from(stored_bytes) * (sightings - distinct) / sightings) as u64
            } else {
                0
            };
            dup_total += dup_bytes;
            let copies = if w.count == 0 {
                0
            } else {
                (sightings / u128::from(w.count)) as u64
            };
            placed.push(Placed {
                extents,
                stored,
                layout: layout_of(runs),
                copies,
                stored_bytes,
                dup_bytes,
                group,
            });
        }
        let len = input.engine_len;
        let mut wr = Vec::new();
        ranges(&input.runs, &mut wr);
        let weight_bytes = union_len(&mut wr, len);
        let mut vr = input.volatile.clone();
        let volatile_bytes = union_len(&mut vr, len);
        let header_bytes = HEADER_BYTES.min(len);
        let mut all = wr;
        all.extend(vr);
        all.push((0, header_bytes));
        let other_bytes = len - union_len(&mut all, len);
        let summary = Summary {
            engine_len: len,
            header_bytes,
            weight_bytes,
            dup_bytes: dup_total.min(weight_bytes),
            volatile_bytes,
            other_bytes,
            weights: n,
            recovered: input.weights.iter().filter(|w| w.recovered).count(),
            elements: input.weights.iter().map(|w| w.count).sum(),
            elements_recovered: input
                .weights
                .iter()
                .filter(|w| w.recovered)
                .map(|w| w.count)
                .sum(),
        };
        Model {
            input,
            placed,
            groups,
            summary,
        }
    }

    /// The layout words of weight `i`: "transposed", "verbatim, float16 copy"...
    pub fn layout_words(&self, i: usize) -> String {
        let w = &self.input.weights[i];
        let p = &self.placed[i];
        let mut s = p.layout.name().to_string();
        for d in &p.stored {
            if *d != w.dtype {
                let _ = write!(s, ", {} copy", d.name());
            }
        }
        s
    }

    /// The compact JSON the page's script reads.
    pub fn data(&self) -> Value {
        let i = self.input;
        let mut dtypes: Vec<DataType> = Vec::new();
        let mut dt = |d: DataType| match dtypes.iter().position(|x| *x == d) {
            Some(p) => p,
            None => {
                dtypes.push(d);
                dtypes.len() - 1
            }
        };
        let weights: Vec<Value> = i
            .weights
            .iter()
            .zip(&self.placed)
            .enumerate()
            .map(|(k, (w, p))| {
                let mut o = serde_json::Map::new();
                o.insert("n".into(), json!(w.name));
                o.insert("g".into(), json!(p.group));
                o.insert("d".into(), json!(dt(w.dtype)));
                o.insert("c".into(), json!(w.count));
                o.insert(
                    "s".into(),
                    json!(p.stored.iter().map(|d| dt(*d)).collect::<Vec<_>>()),
                );
                o.insert("cp".into(), json!(p.copies));
                o.insert("l".into(), json!(self.layout_words(k)));
                o.insert("b".into(), json!(p.stored_bytes));
                o.insert(
                    "x".into(),
                    json!(p
                        .extents
                        .iter()
                        .map(|e| json!([e.start, e.end, dt(e.stored)]))
                        .collect::<Vec<_>>()),
                );
                if let Some(m) = &w.missing {
                    o.insert("m".into(), json!(m));
                }
                if let Some(s) = &w.stats {
                    o.insert(
                        "st".into(),
                        json!([
                            short(s.min),
                            short(s.max),
                            short(s.mean),
                            short(s.std),
                            s.zeros,
                            s.nan,
                            s.inf
                        ]),
                    );
                }
                if let Some(h) = &w.hist {
                    o.insert("h".into(), json!(h.counts));
                }
                Value::Object(o)
            })
            .collect();
        let s = &self.summary;
        json!({
            "engine": i.engine,
            "len": i.engine_len,
            "builtBy": i.built_by,
            "source": i.source,
            "header": s.header_bytes,
            "volatile": i.volatile.iter().map(|(a, b)| json!([a, b])).collect::<Vec<_>>(),
            "groups": self.groups,
            "dtypes": dtypes.iter().map(|d| d.name()).collect::<Vec<_>>(),
            "w": weights,
        })
    }
}

/// Five significant digits: the page shows no more, and the JSON stays small.
fn short(v: Option<f64>) -> Value {
    match v {
        Some(v) if v.is_finite() => format!("{v:.4e}")
            .parse::<f64>()
            .map(|x| json!(x))
            .unwrap_or(Value::Null),
        _ => Value::Null,
    }
}

pub fn escape_html(s: &str) -> String {
    let mut o = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => o.push_str("&amp;"),
            '<' => o.push_str("&lt;"),
            '>' => o.push_str("&gt;"),
            '"' => o.push_str("&quot;"),
            '\'' => o.push_str("&#39;"),
            c if c.is_control() && c != '\n' && c != '\t' => {
                let _ = write!(o, "&#xFFFD;");
            }
            c => o.push(c),
        }
    }
    o
}

/// JSON safe inside `<script>`: no `<`, `>`, `&` or line separators that could end or confuse it.
fn script_json(v: &Value) -> String {
    let s = v.to_string();
    let mut o = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '<' => o.push_str("\\u003c"),
            '>' => o.push_str("\\u003e"),
            '&' => o.push_str("\\u0026"),
            '\u{2028}' => o.push_str("\\u2028"),
            '\u{2029}' => o.push_str("\\u2029"),
            c => o.push(c),
        }
    }
    o
}

pub fn human_bytes(b: u64) -> String {
    crate::trt::gpu::human_bytes(b)
}

fn pct(a: u64, b: u64) -> String {
    if b == 0 {
        "0%".into()
    } else {
        let p = a as f64 * 100.0 / b as f64;
        if p > 0.0 && p < 0.1 {
            "<0.1%".into()
        } else {
            format!("{p:.1}%")
        }
    }
}

/// The summary, as HTML (drawn by Rust so it reads without the script).
fn summary_html(m: &Model<'_>) -> String {
    let s = &m.summary;
    let i = m.input;
    let mut h = String::new();
    let row = |h: &mut String, k: &str, v: String| {
        let _ = write!(h, "<tr><th>{}</th><td>{}</td></tr>", escape_html(k), v);
    };
    h.push_str("<table class=\"kv\">");
    row(
        &mut h,
        "engine",
        format!(
            "<code>{}</code>, {} bytes ({}), built by {}",
            escape_html(&i.engine),
            s.engine_len,
            human_bytes(s.engine_len),
            escape_html(&i.built_by)
        ),
    );
    row(&mut h, "map", escape_html(&i.source));
    if let Some(by) = i.meta.get("made_by") {
        row(&mut h, "made by", escape_html(by));
    }
    if let Some(p) = i.meta.get("proof") {
        row(&mut h, "proof", escape_html(p));
    }
    row(
        &mut h,
        "weights",
        format!(
            "<b>{}</b> of the engine: {} bytes ({}) hold weights",
            pct(s.weight_bytes, s.engine_len),
            s.weight_bytes,
            human_bytes(s.weight_bytes)
        ),
    );
    let dup = if s.dup_bytes == 0 {
        "none: every element is stored once".to_string()
    } else {
        format!(
            "{} bytes ({}, {} of weight bytes) hold second or later copies",
            s.dup_bytes,
            human_bytes(s.dup_bytes),
            pct(s.dup_bytes, s.weight_bytes)
        )
    };
    row(&mut h, "duplicated", dup);
    row(
        &mut h,
        "header",
        format!("{} bytes (plan tag and version)", s.header_bytes),
    );
    if s.volatile_bytes > 0 {
        row(
            &mut h,
            "volatile",
            format!(
                "{} bytes change with the weights but hold none (checksums, fused buffers)",
                s.volatile_bytes
            ),
        );
    }
    row(
        &mut h,
        "not weights",
        format!(
            "{} bytes ({}): kernels, metadata, padding",
            s.other_bytes,
            pct(s.other_bytes, s.engine_len)
        ),
    );
    row(
        &mut h,
        "recovered",
        format!(
            "{} of {} weights, {} of {} elements",
            s.recovered, s.weights, s.elements_recovered, s.elements
        ),
    );
    // `--names-from`: the pairings, as the outputs' metadata records them.
    let paired: Vec<crate::pairing::Record> = i
        .meta
        .get("paired_by_value")
        .and_then(|j| serde_json::from_str(j).ok())
        .unwrap_or_default();
    let ambiguous: Vec<crate::pairing::AmbiguousRecord> = i
        .meta
        .get("pairing_ambiguous")
        .and_then(|j| serde_json::from_str(j).ok())
        .unwrap_or_default();
    if let Some(from) = i.meta.get("names_from") {
        row(
            &mut h,
            "names from",
            format!(
                "<code>{}</code>: {} weight(s) paired by value, {} ambiguous (kept their engine names)",
                escape_html(from),
                paired.len(),
                ambiguous.len()
            ),
        );
    }
    h.push_str("</table>");
    if !paired.is_empty() || !ambiguous.is_empty() {
        let _ = write!(
            h,
            "<details class=\"paired\"><summary>{} weight(s) named by value</summary><ul>",
            paired.len()
        );
        for p in &paired {
            let _ = write!(
                h,
                "<li><code>{}</code> → <code>{}</code> ({})</li>",
                escape_html(&p.engine),
                escape_html(&p.name),
                escape_html(&p.how.to_string())
            );
        }
        for a in &ambiguous {
            let _ = write!(
                h,
                "<li><code>{}</code> keeps its engine name: {} (matches {})</li>",
                escape_html(&a.engine),
                escape_html(&a.why),
                escape_html(&a.candidates.join(", "))
            );
        }
        h.push_str("</ul></details>");
    }
    let missing: Vec<(&str, &str)> = i
        .weights
        .iter()
        .filter_map(|w| w.missing.as_deref().map(|m| (w.name.as_str(), m)))
        .chain(
            i.unlisted_missing
                .iter()
                .map(|(a, b)| (a.as_str(), b.as_str())),
        )
        .collect();
    // A map made by `locate` knows only its reference's names. One made before `meta.knows`
    // recorded only the tensors it found (how many it did not find is in its notes, their names
    // are not); a newer one lists those it did not place among the missing.
    let not_located = i.meta.get("not_located").filter(|n| !n.starts_with("0 "));
    if let Some(n) = not_located {
        let from = i
            .meta
            .get("reference")
            .map(|r| format!(" of `{}`", escape_html(r)))
            .unwrap_or_default();
        let records = if i.meta.contains_key(crate::map::META_KNOWS) {
            "knows only that reference's names (those it did not place are listed below)"
        } else {
            "records only those it found"
        };
        let _ = write!(
            h,
            "<p class=\"warn\">Not located: {}{from}. The map was made by searching the engine for a reference's tensors and {records}, so the engine may hold more weights than shown here.</p>",
            escape_html(n)
        );
    }
    if missing.is_empty() {
        let what = if i
            .meta
            .get("made_by")
            .is_some_and(|m| m.starts_with("locate"))
        {
            "Every weight the map records was located and recovered."
        } else {
            "Every weight was located and recovered."
        };
        let _ = write!(h, "<p class=\"ok\">{what}</p>");
    } else {
        let _ = write!(h, "<details class=\"missing\" open><summary>{} weight(s) could not be located or recovered</summary><ul>", missing.len());
        for (n, why) in missing.iter().take(500) {
            let _ = write!(
                h,
                "<li><code>{}</code>: {}</li>",
                escape_html(n),
                escape_html(why)
            );
        }
        if missing.len() > 500 {
            let _ = write!(
                h,
                "<li>… and {} more (see the table)</li>",
                missing.len() - 500
            );
        }
        h.push_str("</ul></details>");
    }
    h
}

const CSS: &str = include_str!("view.css");
const JS: &str = include_str!("view.js");

/// The self-contained HTML page: inline CSS, script and data; nothing fetched.
pub fn page(input: &ViewInput) -> String {
    let m = Model::new(input);
    let data = script_json(&m.data());
    let title = format!("trt-dump view: {}", input.engine);
    let mut h = String::with_capacity(data.len() + CSS.len() + JS.len() + 8192);
    let _ = write!(
        h,
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\n\
         <meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'; script-src 'unsafe-inline'; img-src data:\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n<title>{}</title>\n<style>{CSS}</style></head>\n<body>\n\
         <header><h1>{}</h1><span class=\"tool\">trt-dump {}</span></header>\n\
         <section id=\"summary\"><h2>Summary</h2>{}</section>\n\
         <section id=\"strip\"><h2>Bytes <span class=\"hint\">drag across a strip to zoom, wheel to zoom, hover to see what is there, click to select</span></h2>\n\
         <div id=\"legend\"></div>\n\
         <div class=\"lane-label\">whole engine</div><canvas id=\"overview\" height=\"96\"></canvas>\n\
         <div class=\"zoombar\"><span id=\"range\"></span> <button id=\"zout\">zoom out</button> <button id=\"zall\">whole engine</button> <button id=\"zsel\" disabled>zoom to selection</button></div>\n\
         <canvas id=\"detail\" height=\"96\"></canvas>\n<div id=\"tip\" hidden></div>\n</section>\n\
         <section id=\"weights\"><h2>Weights</h2>\n\
         <div class=\"tools\"><input id=\"search\" type=\"search\" placeholder=\"search names…\" aria-label=\"search weight names\"> <span id=\"count\"></span> <span id=\"pager\"></span></div>\n\
         <div class=\"scroll\"><table id=\"table\"><thead><tr>\
         <th data-k=\"n\">name</th><th data-k=\"d\">refit dtype</th><th data-k=\"s\">stored</th><th data-k=\"c\" class=\"num\">elements</th>\
         <th data-k=\"o\">offset(s)</th><th data-k=\"l\">layout</th><th data-k=\"cp\" class=\"num\">copies</th>\
         <th data-k=\"min\" class=\"num\">min</th><th data-k=\"max\" class=\"num\">max</th><th data-k=\"mean\" class=\"num\">mean</th><th data-k=\"std\" class=\"num\">std</th>\
         <th data-k=\"zeros\" class=\"num\">zeros</th><th data-k=\"nan\" class=\"num\">NaN</th><th data-k=\"inf\" class=\"num\">Inf</th><th>histogram</th>\
         </tr></thead><tbody></tbody></table></div>\n</section>\n\
         <noscript><p>The byte strip and the weight table need JavaScript.</p></noscript>\n\
         <script type=\"application/json\" id=\"data\">{data}</script>\n<script>{JS}</script>\n</body></html>\n",
        escape_html(&title),
        escape_html(&input.engine),
        env!("CARGO_PKG_VERSION"),
        summary_html(&m),
    );
    h
}

/// One bin of a strip.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Bin {
    /// Fraction of the bin's bytes that hold weights (0..=1).
    pub weight: f64,
    pub header: f64,
    pub volatile: f64,
    /// The weight with the most bytes in the bin, and its stored dtype.
    pub top: Option<(usize, DataType)>,
}

/// Bins `[a, b)` of the engine into `n` bins (what the page's script does on the fly).
pub fn bins(m: &Model<'_>, a: u64, b: u64, n: usize) -> Vec<Bin> {
    let mut out = vec![Bin::default(); n];
    let mut best = vec![0f64; n];
    let width = (b.saturating_sub(a)) as f64 / n as f64;
    if width <= 0.0 {
        return out;
    }
    let mut add = |s: u64, e: u64, f: &mut dyn FnMut(&mut Bin, &mut f64, f64)| {
        let (s, e) = (s.max(a), e.min(b));
        if e <= s {
            return;
        }
        let i0 = (((s - a) as f64) / width) as usize;
        let i1 = ((((e - a) as f64) / width).ceil() as usize).min(n);
        for i in i0.min(n - 1)..i1.max(i0 + 1).min(n) {
            let lo = a as f64 + i as f64 * width;
            let hi = lo + width;
            let ov = (hi.min(e as f64) - lo.max(s as f64)).max(0.0) / width;
            f(&mut out[i], &mut best[i], ov);
        }
    };
    add(0, m.summary.header_bytes, &mut |bin, _, ov| {
        bin.header += ov
    });
    for &(s, e) in &m.input.volatile {
        add(s, e, &mut |bin, _, ov| bin.volatile += ov);
    }
    for (wi, p) in m.placed.iter().enumerate() {
        for x in &p.extents {
            add(x.start, x.end, &mut |bin, best, ov| {
                bin.weight += ov;
                if ov > *best {
                    *best = ov;
                    bin.top = Some((wi, x.stored));
                }
            });
        }
    }
    for bin in &mut out {
        bin.weight = bin.weight.min(1.0);
        bin.header = bin.header.min(1.0);
        bin.volatile = bin.volatile.min(1.0);
    }
    out
}

/// Hue of colour group `g` (golden-angle spacing keeps neighbours apart).
pub fn group_hue(g: usize) -> f64 {
    (g as f64 * 137.508 + 200.0) % 360.0
}

/// A weight's colour: its group's hue, lightness varying within the group.
pub fn weight_colour(m: &Model<'_>, w: usize) -> String {
    let g = m.placed[w].group;
    format!("hsl({:.0},62%,{}%)", group_hue(g), 38 + (w % 3) * 9)
}

pub fn dtype_colour(d: DataType) -> &'static str {
    match d {
        DataType::Float => "#3b6fd8",
        DataType::Half => "#f08c00",
        DataType::Bf16 => "#9c36b5",
        DataType::Fp8 | DataType::Fp4 | DataType::E8m0 => "#e8590c",
        DataType::Int8 | DataType::Uint8 | DataType::Int4 | DataType::Bool => "#2b8a3e",
        DataType::Int32 | DataType::Int64 => "#0b7285",
    }
}

pub fn layout_colour(l: Layout) -> &'static str {
    match l {
        Layout::Absent => "#ced4da",
        Layout::Verbatim => "#74c0fc",
        Layout::Transposed => "#ff8787",
        Layout::Tiled => "#ffd43b",
    }
}

/// The byte strip alone, as a static SVG (for reports).
pub fn svg(input: &ViewInput) -> String {
    let m = Model::new(input);
    let n = SVG_BINS;
    let bins = bins(&m, 0, input.engine_len, n);
    let (x0, strip_h, lane_h) = (10.0, 60.0, 10.0);
    let y0 = 46.0;
    let total_w = n as f64 + 2.0 * x0;
    let s = &m.summary;
    let mut o = String::new();
    // Legend: the largest groups by bytes.
    let mut group_bytes: BTreeMap<usize, u64> = BTreeMap::new();
    for p in &m.placed {
        *group_bytes.entry(p.group).or_default() += p.stored_bytes;
    }
    let mut top: Vec<(usize, u64)> = group_bytes.into_iter().collect();
    top.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
    top.truncate(12);
    let legend_rows = top.len().div_ceil(4) as f64;
    let legend_y = y0 + strip_h + 2.0 * lane_h + 50.0;
    let height = legend_y + legend_rows * 18.0 + 34.0;
    let _ = write!(
        o,
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{total_w}\" height=\"{height}\" viewBox=\"0 0 {total_w} {height}\" font-family=\"sans-serif\" font-size=\"12\">\n\
         <rect width=\"100%\" height=\"100%\" fill=\"#fff\"/>\n\
         <text x=\"{x0}\" y=\"18\" font-size=\"15\" font-weight=\"bold\">{}</text>\n\
         <text x=\"{x0}\" y=\"36\" fill=\"#495057\">{} bytes ({}), built by {}; weights {} ({}), duplicated {}, not weights {}; {} of {} weights recovered</text>\n",
        escape_html(&input.engine),
        s.engine_len,
        human_bytes(s.engine_len),
        escape_html(&input.built_by),
        pct(s.weight_bytes, s.engine_len),
        human_bytes(s.weight_bytes),
        human_bytes(s.dup_bytes),
        human_bytes(s.other_bytes),
        s.recovered,
        s.weights,
    );
    let _ = writeln!(
        o,
        "<rect x=\"{x0}\" y=\"{y0}\" width=\"{n}\" height=\"{strip_h}\" fill=\"#e9ecef\"/>"
    );
    // Runs of equal bins become one rectangle each.
    let rects = |o: &mut String,
                 key: &dyn Fn(&Bin) -> Option<(String, f64)>,
                 y: f64,
                 h: f64,
                 from_bottom: bool| {
        let mut i = 0;
        while i < n {
            let Some((c, f)) = key(&bins[i]) else {
                i += 1;
                continue;
            };
            let mut j = i + 1;
            while j < n && key(&bins[j]).is_some_and(|(c2, f2)| c2 == c && (f2 - f).abs() < 0.05) {
                j += 1;
            }
            let hh = (h * f).max(1.0);
            let yy = if from_bottom { y + h - hh } else { y };
            let _ = writeln!(
                o,
                "<rect x=\"{}\" y=\"{yy:.1}\" width=\"{}\" height=\"{hh:.1}\" fill=\"{c}\"/>",
                x0 + i as f64,
                j - i
            );
            i = j;
        }
    };
    rects(
        &mut o,
        &|b| (b.header > 0.0).then(|| ("#343a40".to_string(), 1.0)),
        y0,
        strip_h,
        true,
    );
    rects(
        &mut o,
        &|b| (b.volatile > 0.0).then(|| ("#e03131".to_string(), b.volatile)),
        y0,
        strip_h,
        true,
    );
    rects(
        &mut o,
        &|b| {
            b.top
                .map(|(w, _)| (weight_colour(&m, w), (b.weight * 20.0).round() / 20.0))
        },
        y0,
        strip_h,
        true,
    );
    let ly = y0 + strip_h + 4.0;
    rects(
        &mut o,
        &|b| b.top.map(|(_, d)| (dtype_colour(d).to_string(), 1.0)),
        ly,
        lane_h,
        false,
    );
    rects(
        &mut o,
        &|b| {
            b.top
                .map(|(w, _)| (layout_colour(m.placed[w].layout).to_string(), 1.0))
        },
        ly + lane_h + 2.0,
        lane_h,
        false,
    );
    let ty = ly + 2.0 * lane_h + 16.0;
    let _ = writeln!(o, "<text x=\"{x0}\" y=\"{ty}\" fill=\"#495057\">0</text><text x=\"{}\" y=\"{ty}\" text-anchor=\"end\" fill=\"#495057\">{} bytes</text>", x0 + n as f64, s.engine_len);
    let _ = writeln!(o, "<text x=\"{}\" y=\"{ty}\" text-anchor=\"middle\" fill=\"#495057\">strip: weights (by group), plan header (dark), volatile (red), not weights (grey) · lanes: stored dtype, layout</text>", x0 + n as f64 / 2.0);
    for (k, (g, bytes)) in top.iter().enumerate() {
        let x = x0 + (k % 4) as f64 * 250.0;
        let y = legend_y + (k / 4) as f64 * 18.0;
        let _ = writeln!(
            o,
            "<rect x=\"{x}\" y=\"{}\" width=\"12\" height=\"12\" fill=\"hsl({:.0},62%,47%)\"/><text x=\"{}\" y=\"{y}\">{} ({})</text>",
            y - 10.0,
            group_hue(*g),
            x + 16.0,
            escape_html(&truncate(&m.groups[*g], 28)),
            human_bytes(*bytes)
        );
    }
    let ky = legend_y + legend_rows * 18.0 + 14.0;
    let mut x = x0;
    let mut seen: Vec<DataType> = m
        .placed
        .iter()
        .flat_map(|p| p.stored.iter().copied())
        .collect();
    seen.sort();
    seen.dedup();
    for d in seen {
        let _ = writeln!(o, "<rect x=\"{x}\" y=\"{}\" width=\"12\" height=\"12\" fill=\"{}\"/><text x=\"{}\" y=\"{ky}\">{}</text>", ky - 10.0, dtype_colour(d), x + 16.0, d.name());
        x += 100.0;
    }
    for l in [Layout::Verbatim, Layout::Transposed, Layout::Tiled] {
        let _ = writeln!(o, "<rect x=\"{x}\" y=\"{}\" width=\"12\" height=\"12\" fill=\"{}\"/><text x=\"{}\" y=\"{ky}\">{}</text>", ky - 10.0, layout_colour(l), x + 16.0, l.name());
        x += 100.0;
    }
    o.push_str("</svg>\n");
    o
}

fn truncate(s: &str, n: usize) -> String {
    if s.chars().count() <= n {
        s.to_string()
    } else {
        let t: String = s.chars().take(n - 1).collect();
        format!("{t}…")
    }
}

/// A synthetic input: `weights` weights spread over an engine of `engine_len` bytes, a third of
/// them transposed, a few stored twice (fp32 and an fp16 copy), every one with statistics and a
/// histogram. For size and speed tests of the page (no engine file needed).
pub fn synthetic(weights: usize, engine_len: u64) -> ViewInput {
    use crate::pipeline::layout::Run;
    let per = engine_len / (weights as u64 + 1);
    let mut ws = Vec::with_capacity(weights);
    let mut runs = Vec::new();
    for i in 0..weights {
        let count = (per * 3 / 4 / 4).max(1);
        let base = HEADER_BYTES + i as u64 * per;
        let name = format!(
            "model.encoder.layer.{}.block.{}.weight_{}",
            i / 16,
            (i / 4) % 4,
            i % 4
        );
        if i % 3 == 1 && count >= 64 {
            // Transposed: 64 columns of count / 64.
            let rows = count / 64;
            runs.push(MapRun {
                run: Run {
                    weight: i as u32,
                    stored: DataType::Float,
                    offset: base,
                    nibble: 0,
                    len: rows,
                    index: 0,
                    index_stride: 64,
                },
                outer: 64,
                outer_offset_stride: (rows * 4) as i64,
                outer_index_stride: 1,
            });
        } else {
            runs.push(MapRun {
                run: Run {
                    weight: i as u32,
                    stored: DataType::Float,
                    offset: base,
                    nibble: 0,
                    len: count,
                    index: 0,
                    index_stride: 1,
                },
                outer: 1,
                outer_offset_stride: 0,
                outer_index_stride: 0,
            });
        }
        if i % 50 == 0 && per / 4 >= count * 2 / 4 {
            runs.push(MapRun {
                run: Run {
                    weight: i as u32,
                    stored: DataType::Half,
                    offset: base + count * 4,
                    nibble: 0,
                    len: count.min((per - count * 4) / 2),
                    index: 0,
                    index_stride: 1,
                },
                outer: 1,
                outer_offset_stride: 0,
                outer_index_stride: 0,
            });
        }
        let f = i as f64;
        ws.push(WeightView {
            name,
            dtype: DataType::Float,
            count,
            found: count,
            recovered: i % 97 != 5,
            missing: (i % 97 == 5).then(|| {
                "not stored in the plan: folded into kernels or constant-folded".to_string()
            }),
            stats: Some(Stats {
                min: Some(-0.123_456_789 * f),
                max: Some(0.234_567_891 * f),
                mean: Some(0.000_123_456_7 * f),
                std: Some(0.045_678_912_3 + f),
                zeros: i as u64 % 7,
                nan: 0,
                inf: 0,
            }),
            hist: Some(Histogram {
                lo: 0.0,
                hi: 1.0,
                counts: (0..16)
                    .map(|k| (count / 16) * (k % 5 + 1) + i as u64)
                    .collect(),
            }),
        });
    }
    ViewInput {
        engine: "synthetic.engine".into(),
        engine_len,
        built_by: "TensorRT 10.16.1.11".into(),
        source: "synthetic map".into(),
        meta: BTreeMap::new(),
        weights: ws,
        runs,
        volatile: vec![(engine_len - 64, engine_len - 32)],
        unlisted_missing: vec![],
    }
}

#[cfg(test)]
mod tests;
