//! A session: the library, the GPU and the runtime for one engine file, and the `--plugin`
//! libraries registered with it.

use std::path::PathBuf;
use std::rc::Rc;
use std::sync::Arc;

use anyhow::Context;

use super::diagnosis::{failure_error, gpu_facts, LibFacts};
use super::loader::{self, LoadReport, TrtLib};
use super::logger::{self, LogSink};
use super::safe::{CudaEngine, Runtime};
use super::{abi, gpu};
use crate::engine_file::EngineFile;

/// Where to find TensorRT and which GPU to use (the global command-line options).
#[derive(Clone, Debug, Default)]
pub struct Options {
    pub trt_lib: Option<PathBuf>,
    pub plugins: Vec<PathBuf>,
    pub device: usize,
}

/// The library, GPU and runtime for one engine file.
pub struct Session {
    pub lib: Arc<TrtLib>,
    pub report: LoadReport,
    pub gpu: gpu::GpuStatus,
    runtime: Rc<Runtime>,
    /// The `--plugin` libraries registered (for the diagnosis of a missing plugin).
    plugins: Vec<PathBuf>,
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
            crate::detail!(
                "{} is older than the only 11.x headers checked (11.4)",
                lib.describe()
            );
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

        let sink = logger::process_sink().clone();
        let keep: Option<Box<dyn std::any::Any>> = gpu
            .as_ref()
            .ok()
            .map(|g| Box::new(g.context()) as Box<dyn std::any::Any>);
        let runtime = Runtime::new(lib.clone(), keep).map_err(|f| {
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
            plugins: opts.plugins.clone(),
        })
    }

    /// Deserializes the engine, turning a refusal into the right error: TensorRT's own words, what
    /// built the plan and what was loaded, and what to do.
    pub fn deserialize(&self, file: &EngineFile) -> anyhow::Result<Rc<CudaEngine>> {
        self.runtime.deserialize(file.bytes()).map_err(|f| {
            let e = failure_error(
                f,
                &format!("deserialize `{}`", file.path.display()),
                &LibFacts::of(&self.lib),
                gpu_facts(&self.gpu),
                Some((&file.header, file.built_by())),
            );
            missing_plugin(e, &self.plugins)
        })
    }

    pub fn runtime(&self) -> &Rc<Runtime> {
        &self.runtime
    }

    /// Deserializes plan bytes other than the file's (a serialization TensorRT made earlier).
    pub fn deserialize_bytes(&self, plan: &[u8], what: &str) -> anyhow::Result<Rc<CudaEngine>> {
        self.runtime.deserialize(plan).map_err(|f| {
            failure_error(
                f,
                &format!("deserialize {what}"),
                &LibFacts::of(&self.lib),
                gpu_facts(&self.gpu),
                None,
            )
        })
    }
}

/// A deserialization that failed because a plugin is not registered says so plainly, with what
/// to load: TensorRT-LLM engines need `libnvinfer_plugin_tensorrt_llm.so`.
fn missing_plugin(e: anyhow::Error, loaded: &[PathBuf]) -> anyhow::Error {
    let text = format!("{e:#}");
    if !crate::engine_dir::says_plugin_missing(&text) {
        return e;
    }
    let kind = crate::error::find(&e)
        .map(|x| x.kind)
        .unwrap_or(crate::error::ErrorKind::EngineIncompatible);
    let which = if loaded.is_empty() {
        "no plugin library was loaded".to_string()
    } else {
        format!(
            "the plugin libraries loaded ({}) do not provide it",
            loaded
                .iter()
                .map(|p| format!("`{}`", p.display()))
                .collect::<Vec<_>>()
                .join(", ")
        )
    };
    // A new error, not a context: the first `Error` of a chain gives the hint.
    anyhow::Error::new(
        crate::error::Error::new(kind, format!("the engine uses a TensorRT plugin that is not registered ({which}): {text}"))
            .with_hint(format!(
                "TensorRT-LLM engines need its plugin library: install TensorRT-LLM (`pip install tensorrt_llm`, the \
                 version that built the engine) in the python3 on PATH, where it is found for engine directories, or \
                 pass --plugin PATH/{}; other engines: --plugin libnvinfer_plugin.so.10",
                loader::TRTLLM_PLUGIN
            )),
    )
}

/// Registers each `--plugin` library with TensorRT before deserialization.
fn load_plugins(paths: &[PathBuf], lib: &TrtLib, sink: &Arc<LogSink>) -> anyhow::Result<()> {
    if paths.is_empty() {
        return Ok(());
    }
    // Plugin libraries may keep the logger for the rest of the process: the process's is never
    // freed.
    let logger = logger::process_logger(lib.layout.logger);
    // Registered once per process: ranks of an engine directory each open a session, and a
    // second `initTrtLlmPlugins` would register every creator again.
    static DONE: std::sync::Mutex<Vec<PathBuf>> = std::sync::Mutex::new(Vec::new());
    let mut done = DONE.lock().unwrap_or_else(|p| p.into_inner());
    for path in paths {
        if done.contains(path) {
            continue;
        }
        let plugin = loader::open_plugin(path)?;
        let mut registered = false;
        for (symbol, namespace) in [
            ("initLibNvInferPlugins", c""),
            ("initTrtLlmPlugins", c"tensorrt_llm"),
        ] {
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
            crate::detail!(
                "plugins: loaded {} (it registers its plugins itself)",
                path.display()
            );
        }
        done.push(path.clone());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::{find, Error, ErrorKind};

    #[test]
    fn a_missing_plugin_is_said_plainly_with_what_to_load() {
        let refused = anyhow::Error::new(Error::new(
            ErrorKind::EngineIncompatible,
            "TensorRT refused: Cannot deserialize plugin since corresponding IPluginCreator not found in Plugin Registry",
        ))
        .context("deserialize `rank0.engine`");
        let e = missing_plugin(refused, &[]);
        let found = find(&e).unwrap();
        assert_eq!(found.kind, ErrorKind::EngineIncompatible);
        assert!(
            found.message.contains("no plugin library was loaded"),
            "{}",
            found.message
        );
        let hint = found.hint.as_deref().unwrap();
        assert!(
            hint.contains("pip install tensorrt_llm") && hint.contains("--plugin"),
            "{hint}"
        );
        let other = anyhow::Error::new(Error::new(
            ErrorKind::EngineIncompatible,
            "plan version mismatch",
        ));
        assert!(find(&missing_plugin(other, &[])).unwrap().hint.is_none());
    }
}
