//! `trt-dump info ENGINE`: what the engine is and what it runs on.
//!
//! `--json` prints one object (keys documented in docs/binding.md, "info --json"); keys are only
//! ever added. Without TensorRT (none found by the search) it prints what the file itself tells
//! (flavour, the version that built it, its length, the map beside it) and exits 0, naming the facts
//! that need TensorRT (`null` in `--json`, listed in `needs_tensorrt`). A `--trt-lib` that cannot
//! be loaded is still exit 7: the library asked for is what stopped the run.

use std::io::Write;

use serde::Serialize;

use super::args::{GlobalArgs, InfoArgs};
use super::Outcome;
use crate::dtype::DataType;
use crate::engine_file::EngineFile;
use crate::trt::{self, abi, gpu, Session};

pub const FORMAT: &str = "trt-dump.info/1";

#[derive(Debug, Serialize)]
pub struct InfoReport {
    pub format: &'static str,
    pub engine: EngineSection,
    /// Null when no TensorRT library could be loaded (`tensorrt_problem` says why).
    pub library: Option<LibrarySection>,
    /// The GPU used; null when none could be selected (then `gpu_problem` says why).
    pub gpu: Option<GpuSection>,
    pub gpu_problem: Option<String>,
    /// Null without TensorRT.
    pub io_tensors: Option<Vec<IoSection>>,
    /// Null when the engine is not refittable, or without TensorRT.
    pub refittable_weights: Option<WeightsSection>,
    /// Why TensorRT could not be loaded; null when it was.
    pub tensorrt_problem: Option<String>,
    /// The keys (dotted paths) that are null because TensorRT could not be loaded; empty when it was.
    pub needs_tensorrt: Vec<&'static str>,
    /// The map beside the engine (`ENGINE.trtmap`), if there is one.
    pub sidecar_map: Option<MapSection>,
}

#[derive(Debug, Serialize)]
pub struct MapSection {
    pub path: String,
    /// Whether it was made for this engine (same length, same non-weight bytes): `dump` and `list`
    /// then use it without TensorRT.
    pub fits: bool,
    /// Why it does not fit or cannot be read; null when it fits.
    pub problem: Option<String>,
    /// What it records (null when it cannot be read).
    pub weights: Option<usize>,
    pub elements: Option<u64>,
    pub bytes: Option<u64>,
    /// Weights it records as not recoverable.
    pub missing: Option<usize>,
    /// How it was made ("marker passes", "locate ..."), from its notes.
    pub made_by: Option<String>,
}

/// The keys that are null when TensorRT cannot be loaded.
pub const NEEDS_TENSORRT: [&str; 9] = [
    "library",
    "engine.name",
    "engine.refittable",
    "engine.layers",
    "engine.optimization_profiles",
    "engine.device_memory_bytes",
    "engine.weights_total_bytes",
    "io_tensors",
    "refittable_weights",
];

#[derive(Debug, Serialize)]
pub struct EngineSection {
    pub path: String,
    pub size_bytes: u64,
    /// "tensor-rt" or "tensor-rt-rtx", from the plan's tag.
    pub plan_flavour: crate::plan::Flavour,
    /// "10.16.1.11": the version bytes of the plan header; null when the header layout is unknown.
    pub built_by: Option<String>,
    /// The plan length its header declares (TensorRT-RTX plans); null where the header holds none.
    pub declared_bytes: Option<u64>,
    /// This and the rest: null without TensorRT.
    pub name: Option<String>,
    pub refittable: Option<bool>,
    pub layers: Option<i32>,
    pub optimization_profiles: Option<i32>,
    pub device_memory_bytes: Option<i64>,
    /// EngineStat kTOTAL_WEIGHTS_SIZE / kSTRIPPED_WEIGHTS_SIZE (TensorRT 10.14+, 11, RTX).
    pub weights_total_bytes: Option<i64>,
    pub weights_stripped_bytes: Option<i64>,
}

#[derive(Debug, Serialize)]
pub struct LibrarySection {
    /// "TensorRT" or "TensorRT-RTX".
    pub flavour: String,
    pub version: String,
    pub path: String,
    /// Binding layout used: "trt10", "trt11", "rtx13", "rtx15".
    pub abi: abi::Abi,
}

#[derive(Debug, Serialize)]
pub struct GpuSection {
    pub ordinal: usize,
    pub name: String,
    /// "9.0".
    pub compute_capability: String,
    pub free_bytes: u64,
    pub total_bytes: u64,
}

#[derive(Debug, Serialize)]
pub struct IoSection {
    pub name: String,
    /// "input", "output", "none" (or "unknown(N)").
    pub mode: String,
    /// A dtype name as in `list` ("float32", ...), or "unknown(N)".
    pub dtype: String,
    /// -1 marks a dynamic dimension; null when TensorRT reports no shape.
    pub shape: Option<Vec<i64>>,
}

#[derive(Debug, Serialize)]
pub struct WeightsSection {
    pub count: usize,
    pub elements: u64,
    /// Bytes of all weights in their refit dtypes.
    pub bytes: u64,
}

pub fn run(g: &GlobalArgs, a: InfoArgs) -> anyhow::Result<Outcome> {
    let opts = super::source::trt_options(g);
    let file = EngineFile::open(&a.engine)?;
    let sidecar_map = sidecar(&file);
    let report = match Session::open(&opts, &file) {
        Ok(session) => with_tensorrt(&file, &session, sidecar_map)?,
        // No TensorRT found by the search: what the file tells is still worth saying. A --trt-lib
        // that does not load is the user's own request failing: exit 7.
        Err(e)
            if g.trt_lib.is_none()
                && crate::error::find(&e)
                    .is_some_and(|k| k.kind == crate::error::ErrorKind::TrtNotFound) =>
        {
            let why = crate::error::find(&e)
                .map(|k| k.message.clone())
                .unwrap_or_default();
            crate::note!("no TensorRT library found: showing what the file itself tells (-v lists the places tried)");
            crate::detail!("{why}");
            file_only(&file, sidecar_map, first_line(&why))
        }
        Err(e) => return Err(e),
    };
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    if a.json {
        super::emit_json(&report)?;
    } else {
        write_text(&mut out, &report)?;
    }
    out.flush()?;
    Ok(Outcome::Success)
}

fn first_line(s: &str) -> String {
    s.lines()
        .next()
        .unwrap_or("")
        .trim_end_matches(':')
        .trim_end_matches("; tried")
        .to_string()
}

fn engine_section(file: &EngineFile) -> EngineSection {
    EngineSection {
        path: file.path.display().to_string(),
        size_bytes: file.len(),
        plan_flavour: file.header.flavour,
        built_by: file.header.built_by.map(|v| v.to_string()),
        declared_bytes: file.header.declared_len,
        name: None,
        refittable: None,
        layers: None,
        optimization_profiles: None,
        device_memory_bytes: None,
        weights_total_bytes: None,
        weights_stripped_bytes: None,
    }
}

/// What the file alone tells: no library, no GPU.
pub fn file_only(
    file: &EngineFile,
    sidecar_map: Option<MapSection>,
    problem: String,
) -> InfoReport {
    InfoReport {
        format: FORMAT,
        engine: engine_section(file),
        library: None,
        gpu: None,
        gpu_problem: None,
        io_tensors: None,
        refittable_weights: None,
        tensorrt_problem: Some(problem),
        needs_tensorrt: NEEDS_TENSORRT.to_vec(),
        sidecar_map,
    }
}

/// The map beside the engine, and whether it fits it.
fn sidecar(file: &EngineFile) -> Option<MapSection> {
    let path = crate::map::sidecar_path(&file.path);
    if !path.is_file() {
        return None;
    }
    let mut s = MapSection {
        path: path.display().to_string(),
        fits: false,
        problem: None,
        weights: None,
        elements: None,
        bytes: None,
        missing: None,
        made_by: None,
    };
    let m = match super::source::read_map(&path) {
        Ok(m) => m,
        Err(e) => {
            s.problem = Some(format!("{e:#}"));
            return Some(s);
        }
    };
    s.weights = Some(m.header.weights.len());
    s.elements = Some(m.header.weights.iter().map(|w| w.count).sum());
    s.bytes = Some(m.header.weights.iter().map(|w| w.refit_bytes()).sum());
    s.missing = Some(m.header.missing.len());
    s.made_by = m.header.meta.get("made_by").cloned();
    match m
        .runs()
        .and_then(|runs| m.check_engine(file.bytes(), &runs))
    {
        Ok(()) => s.fits = true,
        Err(e) => s.problem = Some(format!("{e:#}")),
    }
    Some(s)
}

fn with_tensorrt(
    file: &EngineFile,
    session: &Session,
    sidecar_map: Option<MapSection>,
) -> anyhow::Result<InfoReport> {
    let engine = session.deserialize(file)?;
    let refittable = engine.is_refittable();
    let refittable_weights = if refittable {
        let refitter = engine.create_refitter(1)?;
        let (specs, _) = trt::list_weights(&refitter)?;
        Some(WeightsSection {
            count: specs.len(),
            elements: specs.iter().map(|s| s.count).sum(),
            bytes: specs.iter().map(|s| s.refit_bytes()).sum(),
        })
    } else {
        None
    };
    let lib = &session.lib;
    Ok(InfoReport {
        format: FORMAT,
        engine: EngineSection {
            name: Some(engine.name()),
            refittable: Some(refittable),
            layers: Some(engine.nb_layers()),
            optimization_profiles: Some(engine.nb_optimization_profiles()),
            device_memory_bytes: engine.device_memory_size(),
            weights_total_bytes: engine.engine_stat(abi::engine_stat::TOTAL_WEIGHTS_SIZE),
            weights_stripped_bytes: engine.engine_stat(abi::engine_stat::STRIPPED_WEIGHTS_SIZE),
            ..engine_section(file)
        },
        library: Some(LibrarySection {
            flavour: lib.flavour.to_string(),
            version: lib.version.to_string(),
            path: lib.path.display().to_string(),
            abi: lib.layout.abi,
        }),
        gpu: session.gpu.as_ref().ok().map(|g| GpuSection {
            ordinal: g.ordinal,
            name: g.name.clone(),
            compute_capability: format!("{}.{}", g.compute_capability.0, g.compute_capability.1),
            free_bytes: g.free_bytes,
            total_bytes: g.total_bytes,
        }),
        gpu_problem: session.gpu.as_ref().err().map(|e| e.to_string()),
        io_tensors: Some(
            engine
                .io_tensors()
                .into_iter()
                .map(|t| IoSection {
                    name: t.name,
                    mode: io_mode_name(t.mode),
                    dtype: dtype_name(t.dtype),
                    shape: t.shape,
                })
                .collect(),
        ),
        refittable_weights,
        tensorrt_problem: None,
        needs_tensorrt: Vec::new(),
        sidecar_map,
    })
}

pub(crate) fn dtype_name(v: i32) -> String {
    DataType::from_trt(v)
        .map(|d| d.name().to_string())
        .unwrap_or_else(|| format!("unknown({v})"))
}

fn io_mode_name(v: i32) -> String {
    match v {
        abi::io_mode::INPUT => "input".into(),
        abi::io_mode::OUTPUT => "output".into(),
        abi::io_mode::NONE => "none".into(),
        _ => format!("unknown({v})"),
    }
}

fn shape_text(s: &Option<Vec<i64>>) -> String {
    match s {
        None => "?".into(),
        Some(d) => format!(
            "[{}]",
            d.iter()
                .map(|x| x.to_string())
                .collect::<Vec<_>>()
                .join(", ")
        ),
    }
}

pub fn write_text(out: &mut impl Write, r: &InfoReport) -> std::io::Result<()> {
    let e = &r.engine;
    let row = |out: &mut dyn Write, k: &str, v: String| writeln!(out, "{k:<15}{v}");
    row(
        out,
        "engine",
        format!(
            "{} ({}, {} bytes)",
            e.path,
            gpu::human_bytes(e.size_bytes),
            e.size_bytes
        ),
    )?;
    row(
        out,
        "built by",
        match &e.built_by {
            Some(v) => format!("{} {v}", e.plan_flavour),
            None => format!("{} (version not in header)", e.plan_flavour),
        },
    )?;
    if let Some(d) = e.declared_bytes {
        row(out, "plan length", format!("{d} bytes, as its header says"))?;
    }
    match &r.sidecar_map {
        None => row(out, "map", "none beside the engine".into())?,
        Some(m) => {
            let holds = match (m.weights, m.elements) {
                (Some(w), Some(n)) => format!(
                    "{w} weights, {n} elements{}{}",
                    m.missing
                        .filter(|&k| k > 0)
                        .map(|k| format!(", {k} recorded as not recoverable"))
                        .unwrap_or_default(),
                    m.made_by
                        .as_ref()
                        .map(|b| format!(", made by {b}"))
                        .unwrap_or_default()
                ),
                _ => "unreadable".into(),
            };
            let fits = if m.fits {
                "fits this engine: dump and list need no TensorRT".to_string()
            } else {
                format!("does not fit: {}", m.problem.as_deref().unwrap_or("?"))
            };
            row(out, "map", format!("{} ({holds}); {fits}", m.path))?;
        }
    }
    let Some(library) = &r.library else {
        row(
            out,
            "TensorRT",
            format!(
                "not loaded: {}",
                r.tensorrt_problem.as_deref().unwrap_or("no library found")
            ),
        )?;
        row(
            out,
            "needs TensorRT",
            "engine name, refittability, layers, profiles, device memory, weight sizes, I/O tensors, refittable weights".into(),
        )?;
        return Ok(());
    };
    row(
        out,
        "library",
        format!("{} {} ({})", library.flavour, library.version, library.path),
    )?;
    match (&r.gpu, &r.gpu_problem) {
        (Some(g), _) => row(
            out,
            "GPU",
            format!(
                "{} (GPU {}, compute capability {}, {} free of {})",
                g.name,
                g.ordinal,
                g.compute_capability,
                gpu::human_bytes(g.free_bytes),
                gpu::human_bytes(g.total_bytes)
            ),
        )?,
        (None, Some(p)) => row(out, "GPU", format!("none: {p}"))?,
        (None, None) => row(out, "GPU", "none".into())?,
    }
    if let Some(name) = e.name.as_ref().filter(|n| !n.is_empty()) {
        row(out, "name", name.clone())?;
    }
    row(
        out,
        "refittable",
        if e.refittable == Some(true) {
            "yes".into()
        } else {
            "no (built without REFIT)".into()
        },
    )?;
    row(out, "layers", e.layers.unwrap_or(0).to_string())?;
    row(
        out,
        "profiles",
        e.optimization_profiles.unwrap_or(0).to_string(),
    )?;
    if let Some(m) = e.device_memory_bytes {
        row(out, "device memory", gpu::human_bytes(m.max(0) as u64))?;
    }
    if let Some(t) = e.weights_total_bytes {
        let stripped = match e.weights_stripped_bytes {
            Some(s) if s > 0 => format!(
                " ({} stripped: weight-stripped plan)",
                gpu::human_bytes(s as u64)
            ),
            _ => String::new(),
        };
        row(
            out,
            "weights size",
            format!("{}{stripped}", gpu::human_bytes(t.max(0) as u64)),
        )?;
    }
    match &r.refittable_weights {
        Some(w) => row(
            out,
            "refit weights",
            format!(
                "{} weights, {} elements, {}",
                w.count,
                w.elements,
                gpu::human_bytes(w.bytes)
            ),
        )?,
        None => row(out, "refit weights", "none".into())?,
    }
    let io = r.io_tensors.as_deref().unwrap_or(&[]);
    row(out, "I/O tensors", io.len().to_string())?;
    let name_w = io.iter().map(|t| t.name.len()).max().unwrap_or(0);
    for t in io {
        writeln!(
            out,
            "  {:<7}{:<name_w$}  {:<9}{}",
            t.mode,
            t.name,
            t.dtype,
            shape_text(&t.shape)
        )?;
    }
    Ok(())
}
