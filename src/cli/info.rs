//! `trt-dump info ENGINE`: what the engine is and what it runs on.
//!
//! `--json` prints one object (keys documented in docs/binding.md, "info --json"); keys are only
//! ever added. Without TensorRT the command fails with TensorRT's exit status, but the message
//! still says what the file's header told (size, which TensorRT built it).

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
    pub library: LibrarySection,
    /// The GPU used; null when none could be selected (then `gpu_problem` says why).
    pub gpu: Option<GpuSection>,
    pub gpu_problem: Option<String>,
    pub io_tensors: Vec<IoSection>,
    /// Null when the engine is not refittable.
    pub refittable_weights: Option<WeightsSection>,
}

#[derive(Debug, Serialize)]
pub struct EngineSection {
    pub path: String,
    pub size_bytes: u64,
    /// "tensor-rt" or "tensor-rt-rtx", from the plan's tag.
    pub plan_flavour: crate::plan::Flavour,
    /// "10.16.1.11": the version bytes of the plan header; null when the header layout is unknown.
    pub built_by: Option<String>,
    pub name: String,
    pub refittable: bool,
    pub layers: i32,
    pub optimization_profiles: i32,
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
    let session = Session::open(&opts, &file)?;
    let engine = session.deserialize(&file)?;

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
    let report = InfoReport {
        format: FORMAT,
        engine: EngineSection {
            path: file.path.display().to_string(),
            size_bytes: file.len(),
            plan_flavour: file.header.flavour,
            built_by: file.header.built_by.map(|v| v.to_string()),
            name: engine.name(),
            refittable,
            layers: engine.nb_layers(),
            optimization_profiles: engine.nb_optimization_profiles(),
            device_memory_bytes: engine.device_memory_size(),
            weights_total_bytes: engine.engine_stat(abi::engine_stat::TOTAL_WEIGHTS_SIZE),
            weights_stripped_bytes: engine.engine_stat(abi::engine_stat::STRIPPED_WEIGHTS_SIZE),
        },
        library: LibrarySection {
            flavour: lib.flavour.to_string(),
            version: lib.version.to_string(),
            path: lib.path.display().to_string(),
            abi: lib.layout.abi,
        },
        gpu: session.gpu.as_ref().ok().map(|g| GpuSection {
            ordinal: g.ordinal,
            name: g.name.clone(),
            compute_capability: format!("{}.{}", g.compute_capability.0, g.compute_capability.1),
            free_bytes: g.free_bytes,
            total_bytes: g.total_bytes,
        }),
        gpu_problem: session.gpu.as_ref().err().map(|e| e.to_string()),
        io_tensors: engine
            .io_tensors()
            .into_iter()
            .map(|t| IoSection {
                name: t.name,
                mode: io_mode_name(t.mode),
                dtype: dtype_name(t.dtype),
                shape: t.shape,
            })
            .collect(),
        refittable_weights,
    };
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    if a.json {
        serde_json::to_writer_pretty(&mut out, &report)?;
        writeln!(out)?;
    } else {
        write_text(&mut out, &report)?;
    }
    out.flush()?;
    Ok(Outcome::Success)
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
        Some(d) => format!("[{}]", d.iter().map(|x| x.to_string()).collect::<Vec<_>>().join(", ")),
    }
}

pub fn write_text(out: &mut impl Write, r: &InfoReport) -> std::io::Result<()> {
    let e = &r.engine;
    let row = |out: &mut dyn Write, k: &str, v: String| writeln!(out, "{k:<15}{v}");
    row(
        out,
        "engine",
        format!("{} ({})", e.path, gpu::human_bytes(e.size_bytes)),
    )?;
    row(
        out,
        "built by",
        match &e.built_by {
            Some(v) => format!("{} {v}", e.plan_flavour),
            None => format!("{} (version not in header)", e.plan_flavour),
        },
    )?;
    row(
        out,
        "library",
        format!("{} {} ({})", r.library.flavour, r.library.version, r.library.path),
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
    if !e.name.is_empty() {
        row(out, "name", e.name.clone())?;
    }
    row(
        out,
        "refittable",
        if e.refittable {
            "yes".into()
        } else {
            "no (built without REFIT)".into()
        },
    )?;
    row(out, "layers", e.layers.to_string())?;
    row(out, "profiles", e.optimization_profiles.to_string())?;
    if let Some(m) = e.device_memory_bytes {
        row(out, "device memory", gpu::human_bytes(m.max(0) as u64))?;
    }
    if let Some(t) = e.weights_total_bytes {
        let stripped = match e.weights_stripped_bytes {
            Some(s) if s > 0 => format!(" ({} stripped: weight-stripped plan)", gpu::human_bytes(s as u64)),
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
    row(out, "I/O tensors", r.io_tensors.len().to_string())?;
    let name_w = r.io_tensors.iter().map(|t| t.name.len()).max().unwrap_or(0);
    for t in &r.io_tensors {
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
