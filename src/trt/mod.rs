//! TensorRT, loaded at run time: the only module with `unsafe` code.
//!
//! Layers, from the bottom: [`loader`] finds the library and its C entry points; [`abi`] holds the
//! vtable layouts of TensorRT 10.x, 11.x and TensorRT-RTX 1.x; [`logger`] is the `ILogger` handed
//! to TensorRT; [`handle`] owns TensorRT's objects and makes every call; [`gpu`] selects the GPU
//! through cudarc. This file is the safe surface the commands use: [`EngineFile`] (the plan on
//! disk), [`Session`] (library + GPU + runtime + plugins) and [`TrtEngine`], which implements the
//! pipeline's [`crate::pipeline::Engine`].

pub mod abi;
pub mod gpu;
pub mod handle;
pub mod loader;
pub mod logger;

use std::ffi::CString;
use std::path::{Path, PathBuf};
use std::rc::Rc;
use std::sync::Arc;

use anyhow::Context;

use crate::dtype::DataType;
use crate::error::{Error, ErrorKind};
use crate::pipeline::{Engine, Instance, PlanBytes, WeightSpec};
use crate::plan::{Flavour, PlanHeader};
use handle::{CudaEngine, Refitter, Runtime, TrtFailure};
use loader::{LoadReport, TrtLib};
use logger::LogSink;

/// Where to find TensorRT and which GPU to use (the global command-line options).
#[derive(Clone, Debug, Default)]
pub struct Options {
    pub trt_lib: Option<PathBuf>,
    pub plugins: Vec<PathBuf>,
    pub device: usize,
}

impl Options {
    pub fn from_global(g: &crate::cli::args::GlobalArgs) -> Options {
        Options {
            trt_lib: g.trt_lib.clone(),
            plugins: g.plugins.clone(),
            device: g.device,
        }
    }
}

/// An engine file, mapped read-only, whose header has been read.
pub struct EngineFile {
    pub path: PathBuf,
    pub header: PlanHeader,
    map: memmap2::Mmap,
}

impl EngineFile {
    /// Opens and maps `path`; fails with `InputUnreadable`, or `NotAnEngine` when the bytes do not
    /// start like a TensorRT plan (before any library is loaded).
    pub fn open(path: &Path) -> anyhow::Result<EngineFile> {
        let unreadable = |e: std::io::Error| {
            anyhow::Error::new(Error::new(
                ErrorKind::InputUnreadable,
                format!("cannot read engine `{}`: {e}", path.display()),
            ))
        };
        let file = std::fs::File::open(path).map_err(unreadable)?;
        let meta = file.metadata().map_err(unreadable)?;
        if meta.is_dir() {
            return Err(anyhow::Error::new(Error::new(
                ErrorKind::InputUnreadable,
                format!("engine `{}` is a folder, not a file", path.display()),
            )));
        }
        let map = crate::mmap::map_readonly(&file).map_err(unreadable)?;
        let header = PlanHeader::sniff(&map)
            .and_then(|h| h.check_length(map.len() as u64).map(|()| h))
            .map_err(anyhow::Error::new)
            .with_context(|| format!("reading `{}`", path.display()))?;
        Ok(EngineFile {
            path: path.to_path_buf(),
            header,
            map,
        })
    }

    pub fn bytes(&self) -> &[u8] {
        &self.map
    }

    pub fn len(&self) -> u64 {
        self.map.len() as u64
    }

    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }

    /// "engine `x.engine` (210108 bytes, built by TensorRT-RTX 1.7.1.116)": what the file alone
    /// says, as context for failures that happen before TensorRT has read it.
    pub fn describe(&self) -> String {
        format!(
            "engine `{}` ({} bytes, built by {})",
            self.path.display(),
            self.len(),
            self.built_by()
        )
    }

    /// "TensorRT 10.16.1.11" / "TensorRT-RTX 1.7.1.116" / "TensorRT (version unknown)".
    pub fn built_by(&self) -> String {
        match self.header.built_by {
            Some(v) => format!("{} {v}", self.header.flavour),
            None => format!("{} (version unknown)", self.header.flavour),
        }
    }
}

/// The library, GPU and runtime for one engine file.
pub struct Session {
    pub lib: Arc<TrtLib>,
    pub report: LoadReport,
    pub gpu: gpu::GpuStatus,
    runtime: Rc<Runtime>,
}

impl Session {
    /// Loads TensorRT, selects the GPU, loads plugins and creates the runtime. A failure carries
    /// what the engine's header says.
    pub fn open(opts: &Options, file: &EngineFile) -> anyhow::Result<Session> {
        Session::open_inner(opts, file).with_context(|| file.describe())
    }

    fn open_inner(opts: &Options, file: &EngineFile) -> anyhow::Result<Session> {
        let req = loader::Request::new(opts.trt_lib.as_deref(), Some(&file.header));
        let (lib, report) = loader::load(&req)?;
        crate::detail!("TensorRT: {} from {}", lib.describe(), lib.path.display());
        for line in report.lines() {
            crate::detail!("  looked at {line}");
        }
        let l = lib.layout;
        if lib.version.minor > l.checked_minor {
            crate::detail!(
                "{} is newer than the headers the binding was checked against ({}.{}); its layout is append-only",
                lib.describe(),
                l.major,
                l.checked_minor
            );
        } else if lib.version.minor < l.checked_minor && l.abi == abi::Abi::Trt11 {
            crate::detail!("{} is older than the only 11.x headers checked (11.4)", lib.describe());
        }

        let gpu = gpu::select(opts.device);
        match &gpu {
            Ok(g) => crate::detail!("GPU: {}", g.describe()),
            // Other GPUs exist: TensorRT would quietly run on its default one, so say so.
            Err(why @ gpu::NoGpu::NoSuchDevice { count: 1.., .. }) => {
                crate::warn!("{why}; TensorRT will use its default GPU if it goes on")
            }
            Err(why) => crate::detail!("GPU: {why} (asking TensorRT anyway)"),
        }
        if let Ok(g) = &gpu {
            if !gpu::engine_fits(file.len(), g.free_bytes) {
                return Err(anyhow::Error::new(gpu::out_of_memory(
                    &file.path,
                    file.len(),
                    g.ordinal,
                    &g.name,
                    g.free_bytes,
                    g.total_bytes,
                )));
            }
        }

        let sink = LogSink::new();
        let keep: Option<Box<dyn std::any::Any>> = gpu.as_ref().ok().map(|g| Box::new(g.context()) as Box<dyn std::any::Any>);
        let runtime = Runtime::new(lib.clone(), sink.clone(), keep).map_err(|f| {
            failure_error(
                f,
                "create the TensorRT runtime",
                &LibFacts::of(&lib),
                gpu_facts(&gpu),
                None,
            )
        })?;
        load_plugins(&opts.plugins, &lib, &sink)?;
        Ok(Session {
            lib,
            report,
            gpu,
            runtime,
        })
    }

    /// Deserializes the engine, turning a refusal into the right error: TensorRT's own words, what
    /// built the plan and what was loaded, and what to do.
    pub fn deserialize(&self, file: &EngineFile) -> anyhow::Result<Rc<CudaEngine>> {
        self.runtime.deserialize(file.bytes()).map_err(|f| {
            failure_error(
                f,
                &format!("deserialize `{}`", file.path.display()),
                &LibFacts::of(&self.lib),
                gpu_facts(&self.gpu),
                Some((&file.header, file.built_by())),
            )
        })
    }

    pub fn runtime(&self) -> &Rc<Runtime> {
        &self.runtime
    }

    /// Deserializes plan bytes other than the file's (a serialization TensorRT made earlier).
    pub fn deserialize_bytes(&self, plan: &[u8], what: &str) -> anyhow::Result<Rc<CudaEngine>> {
        self.runtime.deserialize(plan).map_err(|f| {
            failure_error(f, &format!("deserialize {what}"), &LibFacts::of(&self.lib), gpu_facts(&self.gpu), None)
        })
    }
}

/// Registers each `--plugin` library with TensorRT before deserialization.
fn load_plugins(paths: &[PathBuf], lib: &TrtLib, sink: &Arc<LogSink>) -> anyhow::Result<()> {
    if paths.is_empty() {
        return Ok(());
    }
    // Plugin libraries may keep the logger for the rest of the process: give them one that is
    // never freed, sharing the session's log.
    let logger: &'static logger::TrtLogger = Box::leak(logger::TrtLogger::new(lib.layout.logger, sink.clone()));
    for path in paths {
        let plugin = loader::open_plugin(path)?;
        let mut registered = false;
        for (symbol, namespace) in [("initLibNvInferPlugins", c""), ("initTrtLlmPlugins", c"tensorrt_llm")] {
            if let Some(init) = loader::plugin_init(plugin, symbol) {
                let mark = sink.mark();
                // SAFETY: both functions take (ILogger*, char const* namespace); the logger has the
                // library's ILogger layout and lives for the process, the namespace is static.
                let ok = unsafe { init(logger.as_ptr(), namespace.as_ptr()) };
                if !ok {
                    crate::warn!(
                        "{symbol} in `{}` returned false: {}",
                        path.display(),
                        sink.since(mark).join("; ")
                    );
                }
                registered = true;
                crate::detail!(
                    "plugins: {symbol}(logger, \"{}\") from {}",
                    namespace.to_string_lossy(),
                    path.display()
                );
            }
        }
        if !registered {
            crate::detail!("plugins: loaded {} (it registers its plugins itself)", path.display());
        }
    }
    Ok(())
}

/// What a failure message needs to know about the library loaded.
struct LibFacts<'a> {
    flavour: Flavour,
    version: loader::LibVersion,
    path: &'a Path,
}

impl<'a> LibFacts<'a> {
    fn of(lib: &'a TrtLib) -> LibFacts<'a> {
        LibFacts {
            flavour: lib.flavour,
            version: lib.version,
            path: &lib.path,
        }
    }

    fn describe(&self) -> String {
        format!("{} {}", self.flavour, self.version)
    }
}

/// The GPU as a failure message sees it: name and compute capability, or why there is none.
type GpuFacts<'a> = Result<(&'a str, (i32, i32)), &'a gpu::NoGpu>;

fn gpu_facts(g: &gpu::GpuStatus) -> GpuFacts<'_> {
    g.as_ref().map(|g| (g.name.as_str(), g.compute_capability))
}

/// True when TensorRT's words or the GPU show TensorRT-RTX refusing this GPU generation.
fn rtx_refuses_gpu(lib: &LibFacts<'_>, gpu: GpuFacts<'_>, messages: &[String]) -> bool {
    if lib.flavour != Flavour::TensorRtRtx {
        return false;
    }
    let said = messages.iter().any(|m| {
        let m = m.to_ascii_lowercase();
        m.contains("compute capability") || m.contains("sm_90") || m.contains("sm90") || m.contains("unsupported gpu")
    });
    said || gpu.is_ok_and(|(_, cc)| !gpu::rtx_supports(cc))
}

/// The user-facing error for a failed runtime creation or deserialization: TensorRT's words, what
/// built the plan and what was loaded, the GPU diagnosis, and a hint, with the exit status of the
/// most likely cause.
fn failure_error(
    f: TrtFailure,
    what: &str,
    lib: &LibFacts<'_>,
    gpu: GpuFacts<'_>,
    plan: Option<(&PlanHeader, String)>,
) -> anyhow::Error {
    let mut msg = format!("{} could not {what}: {}", lib.describe(), f.reason());
    let said = plan.as_ref().map(|(h, _)| classify_refusal(h, lib, &f.messages));
    let mut hint: Option<String> = None;
    let mut kind = if plan.is_some() {
        ErrorKind::EngineIncompatible
    } else {
        ErrorKind::TrtRefused
    };
    if let Some((header, built_by)) = plan {
        msg.push_str(&format!(
            "\nthe engine was built by {built_by}; the library loaded is {} ({})",
            lib.describe(),
            lib.path.display()
        ));
        if header.flavour != lib.flavour {
            hint = Some(match header.flavour {
                Flavour::TensorRtRtx => {
                    "this is a TensorRT-RTX engine: it needs libtensorrt_rtx.so.1 (pass --trt-lib)".into()
                }
                Flavour::TensorRt => "this is a TensorRT engine, not a TensorRT-RTX one: it needs libnvinfer.so.N or \
                                      libnvinfer_lean.so.N of the TensorRT version that built it (pass --trt-lib)"
                    .into(),
            });
        } else if let Some(b) = header.built_by {
            if (u32::from(b.major), u32::from(b.minor)) != (lib.version.major, lib.version.minor) {
                hint = Some(format!(
                    "engines load only in the TensorRT version that built them (unless built version-compatible): \
                     use {} {}.{} (pass --trt-lib), or rebuild the engine with {}",
                    header.flavour,
                    b.major,
                    b.minor,
                    lib.describe()
                ));
            } else {
                hint = Some(
                    "engines are specific to the GPU model they were built on (unless built hardware-compatible): \
                     rebuild the engine on this GPU"
                        .into(),
                );
            }
        }
    }
    if rtx_refuses_gpu(lib, gpu, &f.messages) {
        kind = ErrorKind::EngineIncompatible;
        let this_gpu = gpu
            .ok()
            .map(|(name, cc)| format!(" (this GPU: {name}, compute capability {}.{})", cc.0, cc.1))
            .unwrap_or_default();
        msg.push_str(&format!("\nTensorRT-RTX does not run on this GPU generation{this_gpu}"));
        hint = Some(format!(
            "TensorRT-RTX supports GPUs of {}; use such a GPU (--device N)",
            gpu::RTX_SUPPORTED_TEXT
        ));
    }
    // What TensorRT's own words say decides first: a corrupt plan or one of another version is
    // that, whether or not there is a GPU.
    match said {
        Some(Refusal::Corrupt) => {
            kind = ErrorKind::NotAnEngine;
            hint = Some("the engine file is damaged or cut short: copy it again, or rebuild it".into());
        }
        Some(Refusal::OtherVersion) => kind = ErrorKind::EngineIncompatible,
        Some(Refusal::Cuda) | Some(Refusal::Unsaid) | None => {}
    }
    let decided = matches!(said, Some(Refusal::Corrupt | Refusal::OtherVersion));
    if let (Err(why), false) = (gpu, decided) {
        // TensorRT's failure most likely comes from here: say so, with that exit status.
        msg.push_str(&format!("\nGPU: {why}"));
        kind = ErrorKind::NoGpu;
        hint = Some(match why {
            gpu::NoGpu::NoDriver => "install the NVIDIA driver (libcuda.so.1) or run on a machine with a GPU".into(),
            gpu::NoGpu::NoSuchDevice { .. } => "choose an existing GPU with --device N (see nvidia-smi)".into(),
            gpu::NoGpu::DriverError(_) => "check the NVIDIA driver and CUDA_VISIBLE_DEVICES (nvidia-smi)".into(),
        });
    }
    let mut e = Error::new(kind, msg);
    if let Some(h) = hint {
        e = e.with_hint(h);
    }
    anyhow::Error::new(e)
}

/// What TensorRT's refusal to deserialize a plan says about the plan.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Refusal {
    /// CUDA itself failed (no driver, no device): the GPU stopped the run.
    Cuda,
    /// Built by another TensorRT (or TensorRT-RTX) than the library loaded.
    OtherVersion,
    /// Cut short, damaged, a bad checksum: not a usable plan whatever library reads it.
    Corrupt,
    /// TensorRT gave no reason we recognise.
    Unsaid,
}

/// Reads TensorRT's log lines for a refused deserialization; the header and library break ties:
/// a plan of the other flavour, or whose header names another major.minor than the library when
/// TensorRT's words name no other cause, is `OtherVersion`.
fn classify_refusal(header: &PlanHeader, lib: &LibFacts<'_>, messages: &[String]) -> Refusal {
    let text = messages.join("\n").to_ascii_lowercase();
    let any = |words: &[&str]| words.iter().any(|w| text.contains(w));
    if any(&["cuda initialization failure", "cuda driver", "no cuda-capable", "cudaerror", "cuda error"]) {
        return Refusal::Cuda;
    }
    if header.flavour != lib.flavour {
        return Refusal::OtherVersion;
    }
    if any(&[
        "not compatible with this version",
        "version tag does not match",
        "expecting library version",
        "serialized engine version",
        "incompatible serialization version",
    ]) {
        return Refusal::OtherVersion;
    }
    if any(&[
        "truncat",
        "corrupt",
        "checksum",
        "magic tag",
        "serialization assertion",
        "unexpected end",
        "length field",
        "file length",
        "size mismatch",
    ]) {
        return Refusal::Corrupt;
    }
    match header.built_by {
        Some(b) if (u32::from(b.major), u32::from(b.minor)) != (lib.version.major, lib.version.minor) => {
            Refusal::OtherVersion
        }
        _ => Refusal::Unsaid,
    }
}

/// The `NotRefittable` error.
pub fn not_refittable(file: &EngineFile) -> anyhow::Error {
    anyhow::Error::new(
        Error::new(
            ErrorKind::NotRefittable,
            format!(
                "engine `{}` was not built refittable, so its weights cannot be extracted",
                file.path.display()
            ),
        )
        .with_hint(
            "rebuild it with REFIT: `trtexec --refit` (or --stripWeights, which implies refit), or \
             config.set_flag(trt.BuilderFlag.REFIT) in Python (BuilderFlag::kREFIT in C++)",
        ),
    )
}

/// Number of threads to give the refitter.
fn refit_threads() -> i32 {
    std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1)
        .min(i32::MAX as usize) as i32
}

/// The refittable weights of an engine (`getAllWeights` + `getWeightsPrototype`), in the
/// refitter's order, with the exact names to pass back to TensorRT.
pub fn list_weights(refitter: &Refitter) -> anyhow::Result<(Vec<WeightSpec>, Vec<CString>)> {
    let names = refitter.all_weights();
    let mut specs = Vec::with_capacity(names.len());
    for name in &names {
        let (dt, count) = refitter.weights_prototype(name)?;
        let shown = name.to_string_lossy().into_owned();
        let dtype = DataType::from_trt(dt).ok_or_else(|| {
            anyhow::Error::new(Error::new(
                ErrorKind::TrtRefused,
                format!(
                    "weight `{shown}` has TensorRT data type {dt}, which this build of trt-dump does not know \
                     (known: 0..=11); a newer trt-dump is needed"
                ),
            ))
        })?;
        if shown.as_bytes() != name.as_bytes() {
            crate::warn!("weight name {:?} is not UTF-8; shown as `{shown}`", name);
        }
        specs.push(WeightSpec {
            name: shown,
            dtype,
            count: count as u64,
        });
    }
    Ok((specs, names))
}

/// A refittable engine file, ready for extraction: the pipeline's [`Engine`].
pub struct TrtEngine {
    pub file: EngineFile,
    pub session: Session,
    weights: Vec<WeightSpec>,
    names: Vec<CString>,
}

impl TrtEngine {
    /// Opens the file, loads TensorRT, checks the engine is refittable and lists its weights.
    pub fn open(opts: &Options, path: &Path) -> anyhow::Result<TrtEngine> {
        TrtEngine::from_file(opts, EngineFile::open(path)?)
    }

    pub fn from_file(opts: &Options, file: EngineFile) -> anyhow::Result<TrtEngine> {
        let session = Session::open(opts, &file)?;
        let engine = session.deserialize(&file)?;
        if !engine.is_refittable() {
            return Err(not_refittable(&file));
        }
        let refitter = engine.create_refitter(refit_threads())?;
        let (weights, names) = list_weights(&refitter)?;
        Ok(TrtEngine {
            file,
            session,
            weights,
            names,
        })
    }

    pub fn names(&self) -> &[CString] {
        &self.names
    }

    /// The refittable weights (the same as [`Engine::weights`], without importing the trait).
    pub fn weights_list(&self) -> &[WeightSpec] {
        &self.weights
    }
}

impl Engine for TrtEngine {
    fn weights(&self) -> &[WeightSpec] {
        &self.weights
    }

    fn instance(&self) -> anyhow::Result<Box<dyn Instance + '_>> {
        let engine = self.session.deserialize(&self.file)?;
        let refitter = engine.create_refitter(refit_threads())?;
        Ok(Box::new(TrtInstance { refitter, engine: self }))
    }

    fn instance_of(&self, plan: &[u8]) -> anyhow::Result<Box<dyn Instance + '_>> {
        let engine = self.session.deserialize_bytes(plan, "a refitted serialization")?;
        let refitter = engine.create_refitter(refit_threads())?;
        Ok(Box::new(TrtInstance { refitter, engine: self }))
    }
}

/// One deserialized engine with its refitter.
struct TrtInstance<'a> {
    refitter: Refitter,
    engine: &'a TrtEngine,
}

impl Instance for TrtInstance<'_> {
    fn serialize(&mut self) -> anyhow::Result<Box<dyn PlanBytes>> {
        Ok(Box::new(self.refitter.engine().serialize()?))
    }

    fn refit(&mut self, values: &[&[u8]]) -> anyhow::Result<()> {
        let specs = &self.engine.weights;
        anyhow::ensure!(
            values.len() == specs.len(),
            "refit given {} buffers for {} weights",
            values.len(),
            specs.len()
        );
        for ((spec, name), buf) in specs.iter().zip(&self.engine.names).zip(values) {
            let want = spec.refit_bytes();
            anyhow::ensure!(
                buf.len() as u64 == want,
                "weight `{}`: {} bytes given, {} {} elements need {want}",
                spec.name,
                buf.len(),
                spec.count,
                spec.dtype
            );
            // SAFETY: `buf` holds `count` elements of the weight's refit dtype and outlives this
            // method, which ends with refitCudaEngine (or an error, after which this instance is
            // refitted again only through another full call of `refit`, which sets every weight).
            unsafe {
                self.refitter.set_named_weights(
                    name,
                    spec.dtype.to_trt(),
                    buf.as_ptr() as *const std::ffi::c_void,
                    spec.count as i64,
                )
            }
            .map_err(TrtFailure::refused)?;
        }
        let missing = self.refitter.missing_weights();
        if !missing.is_empty() {
            let list: Vec<String> = missing
                .iter()
                .take(10)
                .map(|n| n.to_string_lossy().into_owned())
                .collect();
            return Err(anyhow::Error::new(Error::new(
                ErrorKind::TrtRefused,
                format!(
                    "TensorRT still misses {} weight(s) after every listed weight was set: {}{}",
                    missing.len(),
                    list.join(", "),
                    if missing.len() > 10 { ", ..." } else { "" }
                ),
            )));
        }
        self.refitter.refit_cuda_engine().map_err(TrtFailure::refused)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn engine_file_errors_have_their_kinds() {
        let dir = tempfile::tempdir().unwrap();
        let missing = EngineFile::open(&dir.path().join("nope.engine")).err().unwrap();
        assert_eq!(
            crate::error::exit_code_of(&missing),
            ErrorKind::InputUnreadable.exit_code()
        );
        let folder = EngineFile::open(dir.path()).err().unwrap();
        assert_eq!(
            crate::error::exit_code_of(&folder),
            ErrorKind::InputUnreadable.exit_code()
        );
        let junk = dir.path().join("junk.engine");
        std::fs::write(&junk, b"PK\x03\x04 a zip file, not a plan").unwrap();
        let e = EngineFile::open(&junk).err().unwrap();
        assert_eq!(crate::error::exit_code_of(&e), ErrorKind::NotAnEngine.exit_code());
        assert!(format!("{e:#}").contains("junk.engine"));
    }

    fn plan(flavour: Flavour, v: [u8; 4]) -> PlanHeader {
        let mut b = vec![0u8; 32];
        b[..4].copy_from_slice(if flavour == Flavour::TensorRt { b"ftrt" } else { b"vtrt" });
        b[24..28].copy_from_slice(&v);
        PlanHeader::sniff(&b).unwrap()
    }

    fn lib(flavour: Flavour, major: u32, minor: u32) -> (Flavour, loader::LibVersion) {
        (
            flavour,
            loader::LibVersion {
                major,
                minor,
                patch: 1,
                build: Some(7),
            },
        )
    }

    /// Runs failure_error and returns (exit code, message, hint).
    fn fail(
        libv: (Flavour, loader::LibVersion),
        gpu: GpuFacts<'_>,
        plan: Option<PlanHeader>,
        said: &[&str],
    ) -> (u8, String, String) {
        let path = PathBuf::from("/opt/trt/lib/libx.so");
        let facts = LibFacts {
            flavour: libv.0,
            version: libv.1,
            path: &path,
        };
        let f = TrtFailure {
            call: "deserializeCudaEngine".into(),
            messages: said.iter().map(|s| s.to_string()).collect(),
        };
        let e = failure_error(
            f,
            "deserialize `m.engine`",
            &facts,
            gpu,
            plan.as_ref().map(|h| (h, "X".to_string())),
        );
        let err = crate::error::find(&e).unwrap();
        (
            err.kind.exit_code(),
            err.message.clone(),
            err.hint.clone().unwrap_or_default(),
        )
    }

    const H100: GpuFacts<'static> = Ok(("NVIDIA H100", (9, 0)));

    #[test]
    fn rtx_plan_given_to_tensorrt_names_the_library_needed() {
        let (code, msg, hint) = fail(
            lib(Flavour::TensorRt, 10, 16),
            H100,
            Some(plan(Flavour::TensorRtRtx, [1, 7, 1, 116])),
            &["error: magic tag does not match"],
        );
        assert_eq!(code, ErrorKind::EngineIncompatible.exit_code());
        assert!(msg.contains("error: magic tag does not match"), "{msg}");
        assert!(hint.contains("libtensorrt_rtx.so.1"), "{hint}");
        let (_, _, hint) = fail(
            lib(Flavour::TensorRtRtx, 1, 7),
            Ok(("RTX 4090", (8, 9))),
            Some(plan(Flavour::TensorRt, [10, 16, 1, 11])),
            &[],
        );
        assert!(hint.contains("not a TensorRT-RTX one"), "{hint}");
    }

    #[test]
    fn version_mismatch_and_gpu_mismatch_hints() {
        let (code, msg, hint) = fail(
            lib(Flavour::TensorRt, 11, 4),
            H100,
            Some(plan(Flavour::TensorRt, [10, 16, 1, 11])),
            &[],
        );
        assert_eq!(code, ErrorKind::EngineIncompatible.exit_code());
        assert!(msg.contains("TensorRT logged no reason"), "{msg}");
        assert!(hint.contains("use TensorRT 10.16"), "{hint}");
        let (_, _, hint) = fail(
            lib(Flavour::TensorRt, 10, 16),
            H100,
            Some(plan(Flavour::TensorRt, [10, 16, 1, 11])),
            &[],
        );
        assert!(hint.contains("GPU model"), "{hint}");
    }

    #[test]
    fn rtx_on_compute_capability_9_says_so() {
        let (code, msg, hint) = fail(
            lib(Flavour::TensorRtRtx, 1, 7),
            H100,
            Some(plan(Flavour::TensorRtRtx, [1, 7, 1, 116])),
            &["error: some failure"],
        );
        assert_eq!(code, ErrorKind::EngineIncompatible.exit_code());
        assert!(
            msg.contains(
                "TensorRT-RTX does not run on this GPU generation (this GPU: NVIDIA H100, compute capability 9.0)"
            ),
            "{msg}"
        );
        assert!(hint.contains("8.0, 8.6, 8.9 or 12.x"), "{hint}");
        // Detected from TensorRT's words too, e.g. when the GPU could not be queried.
        let no = gpu::NoGpu::DriverError("x".into());
        let (_, msg, _) = fail(
            lib(Flavour::TensorRtRtx, 1, 7),
            Err(&no),
            None,
            &["error: Unsupported compute capability 9.0"],
        );
        assert!(msg.contains("does not run on this GPU generation"), "{msg}");
        // A supported GPU and no such words: no RTX hint.
        let (_, msg, _) = fail(
            lib(Flavour::TensorRtRtx, 1, 7),
            Ok(("RTX 4090", (8, 9))),
            Some(plan(Flavour::TensorRtRtx, [1, 7, 1, 116])),
            &[],
        );
        assert!(!msg.contains("GPU generation"), "{msg}");
    }

    #[test]
    fn without_a_gpu_tensorrt_failure_carries_the_diagnosis_and_no_gpu_status() {
        let no = gpu::NoGpu::NoSuchDevice { ordinal: 2, count: 1 };
        let (code, msg, hint) = fail(
            lib(Flavour::TensorRt, 10, 16),
            Err(&no),
            Some(plan(Flavour::TensorRt, [10, 16, 1, 11])),
            &["error: CUDA initialization failure with error: 101"],
        );
        assert_eq!(code, ErrorKind::NoGpu.exit_code());
        assert!(msg.contains("CUDA initialization failure with error: 101"), "{msg}");
        assert!(msg.contains("GPU: no GPU 2: 1 CUDA device(s) found"), "{msg}");
        assert!(hint.contains("--device"), "{hint}");
    }

    #[test]
    fn without_a_gpu_tensorrt_words_still_decide_corrupt_and_other_version() {
        let no = gpu::NoGpu::NoDriver;
        let (code, _, hint) = fail(
            lib(Flavour::TensorRt, 11, 4),
            Err(&no),
            Some(plan(Flavour::TensorRt, [11, 4, 0, 106])),
            &["error: Serialization (Serialization assertion checksum == expected failed.)"],
        );
        assert_eq!(code, ErrorKind::NotAnEngine.exit_code());
        assert!(hint.contains("damaged or cut short"), "{hint}");
        let (code, msg, _) = fail(
            lib(Flavour::TensorRt, 11, 4),
            Err(&no),
            Some(plan(Flavour::TensorRt, [10, 16, 1, 11])),
            &["error: The engine plan file is not compatible with this version of TensorRT, expecting library version 11.4.0.106 got 10.16.1.11"],
        );
        assert_eq!(code, ErrorKind::EngineIncompatible.exit_code());
        assert!(!msg.contains("GPU:"), "{msg}");
        // Another version and no words at all: still the version, not the GPU.
        let (code, _, _) = fail(lib(Flavour::TensorRt, 11, 4), Err(&no), Some(plan(Flavour::TensorRt, [10, 16, 1, 11])), &[]);
        assert_eq!(code, ErrorKind::EngineIncompatible.exit_code());
        // Same version, no words, no GPU: the GPU stopped it.
        let (code, _, _) = fail(lib(Flavour::TensorRt, 11, 4), Err(&no), Some(plan(Flavour::TensorRt, [11, 4, 0, 106])), &[]);
        assert_eq!(code, ErrorKind::NoGpu.exit_code());
    }

    #[test]
    fn engine_file_reads_a_real_rtx_header() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("x.engine");
        let mut bytes = vec![0u8; 64];
        bytes[..4].copy_from_slice(b"vtrt");
        bytes[16..24].copy_from_slice(&64u64.to_le_bytes());
        bytes[24..28].copy_from_slice(&[1, 7, 1, 116]);
        std::fs::write(&p, &bytes).unwrap();
        let f = EngineFile::open(&p).unwrap();
        assert_eq!(f.len(), 64);
        assert_eq!(f.built_by(), "TensorRT-RTX 1.7.1.116");
    }
}
