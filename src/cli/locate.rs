//! `trt-dump locate ENGINE --reference REF -o MAP`: find the reference's tensors in the engine's
//! bytes on the CPU alone, print where each one is (or why not), and write what was found as a
//! map file.
//!
//! The engine is opened read-only and mapped, never written. Its header is sniffed before anything
//! else, so a file that is not an engine fails fast (exit 4) without being mapped or read.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use serde::Serialize;

use super::args::{GlobalArgs, LocateArgs};
use super::Outcome;
use crate::error::{Error, ErrorKind};
use crate::locate::{self, LocateOptions, LocateReport, MissReason, Missing};
use crate::map::{self, MapFile};
use crate::pipeline::{Run, WeightSpec};
use crate::plan::PlanHeader;
use crate::reference::{self, Format};

/// What `locate` learned, ready for the map writer.
#[derive(Clone, Debug)]
pub struct LocateOutcome {
    pub engine: PathBuf,
    pub engine_len: u64,
    pub header: PlanHeader,
    pub reference: PathBuf,
    pub format: Option<Format>,
    /// The tensors that were found, in reference-file order: name, dtype of the reference (taken
    /// as the refit dtype; the refitter is not asked), element count.
    pub weights: Vec<WeightSpec>,
    /// Shapes of `weights`, from the reference.
    pub shapes: Vec<Vec<u64>>,
    /// Every run of every placement (copies included), `weight` indexing `weights`.
    pub runs: Vec<Run>,
    /// Per-tensor detail. `found[i]` describes `weights[i]` and its runs use the same numbering;
    /// tensors the reader left out (dtypes TensorRT lacks) are listed in `missing` as unsupported.
    pub report: LocateReport,
    /// [`map::fingerprint`] of the engine outside `runs`, for the map header.
    pub fingerprint: String,
    /// The reference tensors searched for but not placed, in reference order, with why: the map
    /// records them (they are weights it knows of and cannot give). Tensors the reader left out
    /// (dtypes TensorRT lacks) are not among them: they cannot be refittable weights as they are.
    pub not_placed: Vec<(WeightSpec, String)>,
}

impl LocateOutcome {
    /// The map of what was found. Its weights are the *found* reference tensors, in reference
    /// order, with the reference's dtype as refit dtype, then those searched for and not placed,
    /// recorded in `missing` with why (`not in the map: ...`). Without TensorRT the engine's own
    /// weight list is unknown, so the map says it knows only the reference's names
    /// (`meta.knows = reference-names-only`); the fingerprint covers the bytes of whatever was not
    /// placed, so a map never matches an engine where they differ.
    pub fn to_map(&self) -> MapFile {
        let mut meta = BTreeMap::new();
        meta.insert(
            "tool".to_string(),
            format!("trt-dump {}", env!("CARGO_PKG_VERSION")),
        );
        meta.insert(
            "made_by".to_string(),
            "locate (reference search, no TensorRT)".to_string(),
        );
        meta.insert(
            "reference".to_string(),
            self.reference.display().to_string(),
        );
        let built = self
            .header
            .built_by
            .map(|v| format!(" {v}"))
            .unwrap_or_default();
        meta.insert(
            "engine_built_by".to_string(),
            format!("{}{built}", self.header.flavour),
        );
        meta.insert(
            "not_located".to_string(),
            format!(
                "{} reference tensors (see `trt-dump locate --json`)",
                self.report.missing.len()
            ),
        );
        meta.insert(
            map::META_KNOWS.to_string(),
            map::Knows::ReferenceNamesOnly.as_str().to_string(),
        );
        let mut weights = self.weights.clone();
        let mut missing = Vec::new();
        for (w, why) in &self.not_placed {
            if w.dtype.bytes_for(w.count).is_none() {
                // Not for a loaded tensor (its data backs its count); kept out rather than make a
                // map that fails validation.
                continue;
            }
            weights.push(w.clone());
            missing.push(map::MissingWeight {
                name: w.name.clone(),
                reason: crate::pipeline::extract::Missing::NotInMap {
                    why: format!(
                        "`locate` did not place this reference tensor in the engine's bytes: {why}"
                    ),
                },
            });
        }
        let header = map::Header {
            engine_len: self.engine_len,
            fingerprint: self.fingerprint.clone(),
            weights,
            missing,
            volatile: Vec::new(),
            meta,
        };
        MapFile {
            header,
            runs: map::compress(&self.runs),
        }
    }
}

/// Reads the engine (after sniffing its header) and the reference, and locates every tensor.
pub fn run_locate(
    engine: &Path,
    reference_path: &Path,
    opts: &LocateOptions,
) -> anyhow::Result<LocateOutcome> {
    let (header, mapped) = open_engine(engine)?;
    let bytes: &[u8] = &mapped;
    let loaded = reference::load_all(reference_path)?;
    crate::detail!(
        "reference `{}`: {} tensors ({} left out)",
        reference_path.display(),
        loaded.tensors.len(),
        loaded.skipped.len()
    );
    let mut report = locate::locate(bytes, &loaded.tensors, opts);

    // Renumber: runs name a position in `weights` (found tensors only), not in the reference.
    let mut weights = Vec::with_capacity(report.found.len());
    let mut shapes = Vec::with_capacity(report.found.len());
    let mut runs = Vec::new();
    for (w, found) in report.found.iter_mut().enumerate() {
        let t = &loaded.tensors[found.index];
        weights.push(WeightSpec {
            name: t.name.clone(),
            dtype: t.dtype,
            count: t.count(),
        });
        shapes.push(t.shape.clone());
        let w = u32::try_from(w).unwrap_or(u32::MAX); // at most limits::MAX_TENSORS
        for p in &mut found.placements {
            for r in &mut p.runs {
                r.weight = w;
            }
            runs.extend_from_slice(&p.runs);
        }
    }
    // `locate` reports the tensors it did not place in reference order (before the reader's
    // left-outs, added below): pair them with the tensors no placement names.
    let placed: std::collections::BTreeSet<usize> = report.found.iter().map(|f| f.index).collect();
    let not_placed: Vec<(WeightSpec, String)> = loaded
        .tensors
        .iter()
        .enumerate()
        .filter(|(i, _)| !placed.contains(i))
        .zip(&report.missing)
        .map(|((_, t), m)| {
            (
                WeightSpec {
                    name: t.name.clone(),
                    dtype: t.dtype,
                    count: t.count(),
                },
                m.reason.to_string(),
            )
        })
        .collect();
    for s in loaded.skipped {
        report.missing.push(Missing {
            name: s.name,
            reason: MissReason::Unsupported { why: s.reason },
        });
    }
    let fingerprint = map::fingerprint(bytes, &runs, &[]);
    Ok(LocateOutcome {
        engine: engine.to_path_buf(),
        engine_len: bytes.len() as u64,
        header,
        reference: reference_path.to_path_buf(),
        format: loaded.format,
        weights,
        shapes,
        runs,
        report,
        fingerprint,
        not_placed,
    })
}

/// Opens the engine read-only, sniffs its header from the first bytes, then maps it (engines are
/// tens of GB; the mapping is read-only and only read, see `crate::mmap`).
fn open_engine(path: &Path) -> anyhow::Result<(PlanHeader, memmap2::Mmap)> {
    let unreadable = |what: String| {
        anyhow::Error::new(Error::new(
            ErrorKind::InputUnreadable,
            format!("engine `{}`: {what}", path.display()),
        ))
    };
    // Read-only: File::open never creates, truncates or writes.
    let mut f = File::open(path).map_err(|e| unreadable(format!("cannot open: {e}")))?;
    let mut head = Vec::with_capacity(64);
    (&mut f)
        .take(64)
        .read_to_end(&mut head)
        .map_err(|e| unreadable(format!("cannot read: {e}")))?;
    let header = PlanHeader::sniff(&head).map_err(|e| {
        let msg = format!("`{}`: {}", path.display(), e.message);
        let mut err = Error::new(e.kind, msg);
        err.hint = e.hint;
        anyhow::Error::new(err)
    })?;
    let mapped =
        crate::mmap::map_readonly(&f).map_err(|e| unreadable(format!("cannot map: {e}")))?;
    header.check_length(mapped.len() as u64).map_err(|e| {
        let mut err = Error::new(e.kind, format!("`{}`: {}", path.display(), e.message));
        err.hint = e.hint;
        anyhow::Error::new(err)
    })?;
    Ok((header, mapped))
}

/// Writes the map atomically (nothing is left behind on failure; an existing file is replaced
/// only with `force`).
fn write_locate_map(output: &Path, force: bool, outcome: &LocateOutcome) -> anyhow::Result<()> {
    let bytes = outcome.to_map().to_bytes()?;
    crate::writer::write_file(output, force, &bytes)?;
    crate::note!(
        "map written to `{}` ({} weights, {} runs)",
        output.display(),
        outcome.weights.len(),
        outcome.runs.len()
    );
    if !outcome.not_placed.is_empty() {
        crate::warn!(
            "the map is incomplete: it records {} reference tensors it does not hold; `dump`, `verify` and `diff` through it name them and exit 11 unless --allow-missing",
            outcome.not_placed.len()
        );
    }
    Ok(())
}

fn output_not_written(msg: String, hint: &str) -> anyhow::Error {
    anyhow::Error::new(Error::new(ErrorKind::OutputNotWritten, msg).with_hint(hint))
}

pub fn run(_g: &GlobalArgs, args: LocateArgs) -> anyhow::Result<Outcome> {
    // Refuse before doing any work: a map path that is one of the inputs (never overwrite the
    // engine, even with --force), then whatever the writer refuses (an existing file without
    // --force, a folder, a link, a missing parent). A map is one file, checked as one.
    if let Ok(out) = args.output.canonicalize() {
        for input in [&args.engine, &args.reference] {
            if input.canonicalize().is_ok_and(|i| i == out) {
                return Err(output_not_written(
                    format!(
                        "`{}` is an input of this command; refusing to write the map over it",
                        args.output.display()
                    ),
                    "choose another -o path, e.g. ENGINE.trtmap",
                ));
            }
        }
    }
    crate::writer::check_target(&args.output, crate::writer::Format::Safetensors, args.force)?;
    let outcome = run_locate(&args.engine, &args.reference, &LocateOptions::default())?;
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    if args.json {
        super::emit_json(&JsonReport::new(&outcome))?;
    } else {
        print_human(&mut out, &outcome)?;
    }
    out.flush()?;
    let (placed, searched) = (
        outcome.weights.len(),
        outcome.weights.len() + outcome.not_placed.len(),
    );
    if outcome.weights.is_empty() {
        // A map with no weights would only make a later `dump --map` write an empty file.
        return Err(anyhow::Error::new(
            Error::new(
                ErrorKind::Incomplete,
                format!(
                    "none of the {searched} tensors of `{}` was placed in `{}`, so no map was written to `{}`",
                    outcome.reference.display(),
                    outcome.engine.display(),
                    args.output.display()
                ),
            )
            .with_hint("is the engine weight-stripped (STRIP_PLAN), or built from another model?"),
        ));
    }
    if !outcome.not_placed.is_empty() && !args.allow_missing {
        let names: Vec<&str> = outcome
            .not_placed
            .iter()
            .take(5)
            .map(|(w, _)| w.name.as_str())
            .collect();
        return Err(anyhow::Error::new(
            Error::new(
                ErrorKind::Incomplete,
                format!(
                    "{} of the {searched} reference tensors were not placed ({}{}), so no map was written to `{}`: it would lack them",
                    outcome.not_placed.len(),
                    names.join(", "),
                    if outcome.not_placed.len() > 5 { ", ..." } else { "" },
                    args.output.display()
                ),
            )
            .with_hint(format!(
                "the lines above say why for each; --allow-missing writes the map of the {placed} placed, recording the others as not in it"
            )),
        ));
    }
    write_locate_map(&args.output, args.force, &outcome)?;
    Ok(Outcome::Success)
}

fn print_human(out: &mut impl Write, o: &LocateOutcome) -> std::io::Result<()> {
    let built = o
        .header
        .built_by
        .map(|v| format!(", built by {v}"))
        .unwrap_or_default();
    writeln!(
        out,
        "engine     {} ({}{built}, {} bytes)",
        o.engine.display(),
        o.header.flavour,
        o.engine_len
    )?;
    writeln!(
        out,
        "reference  {} ({})",
        o.reference.display(),
        o.format.map(|f| f.to_string()).unwrap_or_default()
    )?;
    let width = o
        .report
        .found
        .iter()
        .map(|f| f.name.len())
        .chain(o.report.missing.iter().map(|m| m.name.len()))
        .max()
        .unwrap_or(0);
    for (f, (w, shape)) in o.report.found.iter().zip(o.weights.iter().zip(&o.shapes)) {
        let places: Vec<String> = f
            .placements
            .iter()
            .map(|p| {
                let runs = if p.runs.len() > 1 {
                    format!(", {} runs", p.runs.len())
                } else {
                    String::new()
                };
                format!("{} at {}{runs}", p.form, p.offset)
            })
            .collect();
        writeln!(
            out,
            "found    {:width$}  {} {:?}  {}{}",
            f.name,
            w.dtype,
            shape,
            places.join("; "),
            if f.placements.len() > 1 {
                format!("  ({} copies)", f.placements.len())
            } else {
                String::new()
            },
        )?;
    }
    for m in &o.report.missing {
        writeln!(out, "missing  {:width$}  {}", m.name, m.reason)?;
    }
    let total = o.report.found.len() + o.report.missing.len();
    writeln!(out, "{} of {total} tensors found", o.report.found.len())
}

#[derive(Serialize)]
struct JsonFound<'a> {
    name: &'a str,
    dtype: &'static str,
    shape: &'a [u64],
    count: u64,
    placements: Vec<JsonPlacement>,
}

#[derive(Serialize)]
struct JsonPlacement {
    form: locate::Form,
    offset: u64,
    bytes: u64,
    runs: usize,
}

#[derive(Serialize)]
struct JsonReport<'a> {
    format: &'static str,
    engine: String,
    engine_bytes: u64,
    flavour: crate::plan::Flavour,
    built_by: Option<String>,
    reference: String,
    found: Vec<JsonFound<'a>>,
    missing: &'a [Missing],
}

impl<'a> JsonReport<'a> {
    fn new(o: &'a LocateOutcome) -> JsonReport<'a> {
        JsonReport {
            format: "trt-dump.locate/1",
            engine: o.engine.display().to_string(),
            engine_bytes: o.engine_len,
            flavour: o.header.flavour,
            built_by: o.header.built_by.map(|v| v.to_string()),
            reference: o.reference.display().to_string(),
            found: o
                .report
                .found
                .iter()
                .zip(o.weights.iter().zip(&o.shapes))
                .map(|(f, (w, shape))| JsonFound {
                    name: &f.name,
                    dtype: w.dtype.name(),
                    shape,
                    count: w.count,
                    placements: f
                        .placements
                        .iter()
                        .map(|p| JsonPlacement {
                            form: p.form,
                            offset: p.offset,
                            bytes: p.bytes,
                            runs: p.runs.len(),
                        })
                        .collect(),
                })
                .collect(),
            missing: &o.report.missing,
        }
    }
}
