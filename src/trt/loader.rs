//! Finding and opening TensorRT at run time. The binary never links TensorRT: it `dlopen`s one
//! library, resolves the C entry points, reads the version and picks the ABI layout. Every place
//! tried is recorded in a [`LoadReport`], which `-v` prints and the `TrtNotFound` error carries.
//!
//! Search order:
//! 1. `--trt-lib PATH` (a library file, or a folder holding one of [`NAMES`]); when given, nothing
//!    else is tried, so an explicit choice is never silently replaced by another library.
//! 2. `TRT_DUMP_TRT_LIB` (same forms, same rule).
//! 3. the dynamic loader's own search (LD_LIBRARY_PATH, ldconfig cache, RUNPATH) for [`NAMES`].
//! 4. `tensorrt_libs/`, `tensorrt_lean_libs/` and `tensorrt_rtx_libs/` (pip's `tensorrt-cu12` and
//!    friends) in the site-packages of the Python environment trt-dump is installed in (the running
//!    executable sits in `<env>/bin/`: `pip install trt-dump` into a venv, conda, `--user`), then of
//!    `$VIRTUAL_ENV` and `$CONDA_PREFIX` when set ([`python_envs`]); no Python is run for this, so
//!    `venv/bin/trt-dump` finds the venv's TensorRT without the venv being activated.
//! 5. the same folders in the site-packages of the `python3` on PATH.
//!
//! When the engine's header says which TensorRT built it, names of that flavour and major are tried
//! first within each step, so a machine with both 10.x and 11.x finds the one the engine needs.
//!
//! Libraries are never unloaded: libnvinfer carries a statically linked CUDA runtime that registers
//! process-exit handlers, and plugin libraries register into its plugin registry; closing either
//! while the process runs on is a known source of crashes at exit.

use std::ffi::{c_char, c_void, CStr, OsString};
use std::fmt;
use std::mem::ManuallyDrop;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use libloading::os::unix::{Library, RTLD_GLOBAL, RTLD_LOCAL, RTLD_NOW};

use super::abi::{layout_for, Layout};
use crate::error::{Error, ErrorKind};
use crate::plan::{Flavour, PlanHeader};

/// Library names, in the documented order.
pub const NAMES: [&str; 5] = [
    "libnvinfer.so.11",
    "libnvinfer.so.10",
    "libnvinfer_lean.so.11",
    "libnvinfer_lean.so.10",
    "libtensorrt_rtx.so.1",
];

/// Folders of pip's TensorRT wheels inside site-packages.
pub const PIP_FOLDERS: [&str; 3] = ["tensorrt_libs", "tensorrt_lean_libs", "tensorrt_rtx_libs"];

pub const ENV_VAR: &str = "TRT_DUMP_TRT_LIB";

const PYTHON_TIMEOUT: Duration = Duration::from_secs(5);

type CreateRuntimeFn = unsafe extern "C" fn(logger: *mut c_void, version: i32) -> *mut c_void;
type CreateRefitterFn =
    unsafe extern "C" fn(engine: *mut c_void, logger: *mut c_void, version: i32) -> *mut c_void;
type VersionFn = unsafe extern "C" fn() -> i32;
/// `createInferBuilder_INTERNAL(logger, version)` (NvInfer.h; the full library only).
pub(crate) type CreateBuilderFn =
    unsafe extern "C" fn(logger: *mut c_void, version: i32) -> *mut c_void;
/// `createNvOnnxParser_INTERNAL(network, logger, version)` (NvOnnxParser.h).
pub(crate) type CreateParserFn =
    unsafe extern "C" fn(network: *mut c_void, logger: *mut c_void, version: i32) -> *mut c_void;

/// The version a TensorRT library reports.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
pub struct LibVersion {
    pub major: u32,
    pub minor: u32,
    pub patch: u32,
    /// `getInferLibBuildVersion`, when exported.
    pub build: Option<u32>,
}

impl LibVersion {
    /// From `getInferLibVersion`: MAJOR*10000 + MINOR*100 + PATCH.
    pub fn from_packed(v: i32, build: Option<i32>) -> Option<LibVersion> {
        let v = u32::try_from(v).ok()?;
        Some(LibVersion {
            major: v / 10000,
            minor: (v / 100) % 100,
            patch: v % 100,
            build: build.and_then(|b| u32::try_from(b).ok()),
        })
    }
}

impl fmt::Display for LibVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}.{}", self.major, self.minor, self.patch)?;
        if let Some(b) = self.build {
            write!(f, ".{b}")?;
        }
        Ok(())
    }
}

/// One opened TensorRT library and the entry points copied out of it (cudarc's `Lib` pattern:
/// the pointers never outlive the library, which is never unloaded).
pub struct TrtLib {
    pub path: PathBuf,
    pub flavour: Flavour,
    pub version: LibVersion,
    pub layout: &'static Layout,
    /// `getInferLibVersion()`, as reported.
    pub packed_version: i32,
    create_runtime: CreateRuntimeFn,
    create_refitter: CreateRefitterFn,
    /// `createInferBuilder_INTERNAL`: absent from lean runtimes.
    pub(crate) create_builder: Option<CreateBuilderFn>,
    _lib: ManuallyDrop<Library>,
}

impl fmt::Debug for TrtLib {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TrtLib")
            .field("path", &self.path)
            .field("flavour", &self.flavour)
            .field("version", &self.version)
            .field("abi", &self.layout.abi)
            .finish()
    }
}

impl TrtLib {
    /// "TensorRT 10.16.1.11" / "TensorRT-RTX 1.7.1.116".
    pub fn describe(&self) -> String {
        format!("{} {}", self.flavour, self.version)
    }

    /// `createInferRuntime_INTERNAL(logger, version)`.
    ///
    /// # Safety
    /// `logger` must point at an `ILogger` of this library's [`Layout::logger`] ABI that outlives
    /// the runtime returned.
    pub(crate) unsafe fn create_runtime(&self, logger: *mut c_void) -> *mut c_void {
        // SAFETY: the pointer was resolved from this library (kept loaded), with the signature of
        // NvInferRuntime.h; the caller vouches for the logger.
        unsafe { (self.create_runtime)(logger, self.layout.header_version) }
    }

    /// `createInferRefitter_INTERNAL(engine, logger, version)`.
    ///
    /// # Safety
    /// `engine` must be a live `ICudaEngine*` from this library; `logger` as for `create_runtime`,
    /// outliving the refitter.
    pub(crate) unsafe fn create_refitter(
        &self,
        engine: *mut c_void,
        logger: *mut c_void,
    ) -> *mut c_void {
        // SAFETY: as above; the caller vouches for both pointers.
        unsafe { (self.create_refitter)(engine, logger, self.layout.header_version) }
    }
}

/// The ONNX parser library that goes with `lib` (`libnvonnxparser.so.10/.11`,
/// `libtensorrt_onnxparser_rtx.so.1`): first next to the TensorRT library, then by soname. Opened
/// for the process (never closed); returns its `createNvOnnxParser_INTERNAL` and where it was
/// found, or every place tried.
pub(crate) fn open_onnx_parser(lib: &TrtLib) -> Result<(CreateParserFn, PathBuf), Vec<String>> {
    let mut tried = Vec::new();
    let names = lib.layout.builder.parser_names;
    let dir = lib.path.parent().map(Path::to_path_buf);
    let mut targets: Vec<(PathBuf, bool)> = Vec::new();
    for n in names {
        if let Some(d) = &dir {
            targets.push((d.join(n), true));
        }
    }
    for n in names {
        targets.push((PathBuf::from(n), false));
    }
    for (t, is_path) in targets {
        if is_path && !t.is_file() {
            tried.push(format!("{}: not found", t.display()));
            continue;
        }
        // SAFETY: loading runs the parser library's initialisers; it bears TensorRT's parser name
        // and sits beside the TensorRT library (or is the loader's choice for that soname).
        let opened = unsafe { Library::open(Some(&t), RTLD_NOW | RTLD_LOCAL) };
        match opened {
            Err(e) => tried.push(format!("{}: {}", t.display(), dl_text(&e))),
            Ok(l) => {
                let l: &'static Library = Box::leak(Box::new(l));
                // SAFETY: NvOnnxParser.h declares `void* createNvOnnxParser_INTERNAL(void* network,
                // void* logger, int version)`; the library is never closed.
                match unsafe { symbol::<CreateParserFn>(l, "createNvOnnxParser_INTERNAL") } {
                    Ok(f) => {
                        // SAFETY: f is a function of the library just opened.
                        let path = unsafe { path_of(f as *const c_void) }.unwrap_or(t);
                        return Ok((f, path));
                    }
                    Err(o) => tried.push(format!("{}: {o}", t.display())),
                }
            }
        }
    }
    Err(tried)
}

/// What happened at one place the loader looked.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(tag = "outcome", content = "detail", rename_all = "kebab-case")]
pub enum Outcome {
    /// Opened and usable: the library chosen.
    Loaded,
    /// Nothing there.
    NotFound(String),
    /// `dlopen` refused it (dlerror's text).
    OpenFailed(String),
    /// Opened, but an entry point is missing (not a TensorRT runtime library).
    MissingSymbol(String),
    /// A TensorRT whose version this build does not support.
    Unsupported(String),
}

impl fmt::Display for Outcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Outcome::Loaded => f.write_str("loaded"),
            Outcome::NotFound(s) => write!(f, "not found ({s})"),
            Outcome::OpenFailed(s) => write!(f, "could not be opened: {s}"),
            Outcome::MissingSymbol(s) => write!(f, "not a TensorRT runtime library: {s}"),
            Outcome::Unsupported(s) => write!(f, "unsupported: {s}"),
        }
    }
}

/// Every place tried, in order, and what was chosen.
#[derive(Clone, Debug, Default, serde::Serialize)]
pub struct LoadReport {
    pub tried: Vec<(String, Outcome)>,
    pub chosen: Option<PathBuf>,
    pub version: Option<LibVersion>,
}

impl LoadReport {
    /// One line per place, for `-v` and for the error.
    pub fn lines(&self) -> Vec<String> {
        self.tried
            .iter()
            .map(|(place, outcome)| format!("{place}: {outcome}"))
            .collect()
    }
}

/// Where to look, from the command line and environment.
#[derive(Clone, Debug, Default)]
pub struct Request {
    /// `--trt-lib`.
    pub explicit: Option<PathBuf>,
    /// `TRT_DUMP_TRT_LIB`, if set and not empty.
    pub env: Option<OsString>,
    /// The flavour and major of TensorRT that built the engine, when its header says.
    pub prefer: Option<(Flavour, u8)>,
    /// Skip steps 3 to 5 (tests, where a real TensorRT on the machine must not interfere).
    pub no_search: bool,
}

impl Request {
    /// The request for the given `--trt-lib`, reading `TRT_DUMP_TRT_LIB` and the engine header.
    pub fn new(explicit: Option<&Path>, header: Option<&PlanHeader>) -> Request {
        Request {
            explicit: explicit.map(Path::to_path_buf),
            env: std::env::var_os(ENV_VAR).filter(|v| !v.is_empty()),
            prefer: header.and_then(|h| h.built_by.map(|b| (h.flavour, b.major))),
            no_search: false,
        }
    }
}

/// Whether a library file name is of the given flavour and major (`libnvinfer_lean.so.10` is
/// TensorRT 10; `libtensorrt_rtx.so.1` is TensorRT-RTX 1).
fn name_matches(name: &str, (flavour, major): (Flavour, u8)) -> bool {
    let rtx = name.starts_with("libtensorrt_rtx");
    let want_rtx = flavour == Flavour::TensorRtRtx;
    rtx == want_rtx && name.ends_with(&format!(".so.{major}"))
}

/// [`NAMES`], those matching `prefer` first, otherwise in the documented order.
pub fn ordered_names(prefer: Option<(Flavour, u8)>) -> Vec<&'static str> {
    let mut names = NAMES.to_vec();
    if let Some(p) = prefer {
        names.sort_by_key(|n| !name_matches(n, p));
    }
    names
}

/// Finds and opens TensorRT, or fails with `TrtNotFound` listing every place tried.
pub fn load(req: &Request) -> anyhow::Result<(Arc<TrtLib>, LoadReport)> {
    let mut report = LoadReport::default();
    let names = ordered_names(req.prefer);
    let explicit = if let Some(p) = &req.explicit {
        Some(("--trt-lib", p.clone()))
    } else {
        req.env.as_ref().map(|v| (ENV_VAR, PathBuf::from(v)))
    };
    if let Some((how, path)) = explicit {
        if let Some(lib) = try_path(&mut report, how, &path, &names) {
            return Ok(finish(lib, report));
        }
        return Err(not_found(&report, Some(how), req.prefer));
    }
    if !req.no_search {
        for name in &names {
            let place = format!("dynamic loader: {name}");
            if let Some(lib) = try_open(&mut report, place, OpenTarget::Soname(name)) {
                return Ok(finish(lib, report));
            }
        }
        // Step 4: the environment trt-dump is installed in, then $VIRTUAL_ENV and $CONDA_PREFIX.
        let exe = std::env::current_exe();
        let virtual_env = std::env::var_os("VIRTUAL_ENV")
            .filter(|v| !v.is_empty())
            .map(PathBuf::from);
        let conda_prefix = std::env::var_os("CONDA_PREFIX")
            .filter(|v| !v.is_empty())
            .map(PathBuf::from);
        let envs = python_envs(
            exe.as_deref().ok(),
            virtual_env.as_deref(),
            conda_prefix.as_deref(),
        );
        if let Err(e) = &exe {
            report.tried.push((
                OWN_ENV.into(),
                Outcome::NotFound(format!("the running executable's path is unknown ({e})")),
            ));
        }
        // Folders searched already (canonical), so step 5 does not open the same files again.
        let mut searched: Vec<PathBuf> = Vec::new();
        for env in &envs {
            if env.site_dirs.is_empty() {
                let why = if let (OWN_ENV, Ok(exe)) = (env.source, &exe) {
                    format!(
                        "{} is not in the bin/ folder of a Python environment",
                        exe.display()
                    )
                } else {
                    format!("{}: no lib/python3*/site-packages", env.prefix.display())
                };
                report
                    .tried
                    .push((env.source.to_string(), Outcome::NotFound(why)));
                continue;
            }
            for dir in &env.site_dirs {
                searched.push(canonical(dir));
                let label = format!("{} site-packages", env.source);
                if let Some(lib) = try_site_dir(&mut report, &label, dir, &names) {
                    return Ok(finish(lib, report));
                }
            }
        }
        // Step 5: the `python3` on PATH.
        match python_site_dirs() {
            Err(why) => report
                .tried
                .push(("python3 site-packages".into(), Outcome::NotFound(why))),
            Ok(dirs) => {
                for dir in dirs {
                    if searched.contains(&canonical(&dir)) {
                        report.tried.push((
                            format!("python3 site-packages: {}", dir.display()),
                            Outcome::NotFound("searched above".into()),
                        ));
                        continue;
                    }
                    if let Some(lib) =
                        try_site_dir(&mut report, "python3 site-packages", &dir, &names)
                    {
                        return Ok(finish(lib, report));
                    }
                }
            }
        }
    }
    Err(not_found(&report, None, req.prefer))
}

fn finish(lib: TrtLib, mut report: LoadReport) -> (Arc<TrtLib>, LoadReport) {
    report.chosen = Some(lib.path.clone());
    report.version = Some(lib.version);
    (Arc::new(lib), report)
}

/// (folder, file) pairs to look for in a site-packages folder: each name in the folder pip puts it.
fn pip_candidates(names: &[&'static str]) -> Vec<(&'static str, &'static str)> {
    names
        .iter()
        .map(|n| {
            let folder = if n.starts_with("libtensorrt_rtx") {
                "tensorrt_rtx_libs"
            } else if n.starts_with("libnvinfer_lean") {
                "tensorrt_lean_libs"
            } else {
                "tensorrt_libs"
            };
            (folder, *n)
        })
        .collect()
}

/// One site-packages folder: each of [`pip_candidates`] present is tried; a folder holding none is one
/// "not found" line. Report lines start with `label`.
fn try_site_dir(
    report: &mut LoadReport,
    label: &str,
    dir: &Path,
    names: &[&'static str],
) -> Option<TrtLib> {
    let mut any = false;
    for (folder, name) in pip_candidates(names) {
        let file = dir.join(folder).join(name);
        if file.exists() {
            any = true;
            let place = format!("{label}: {}", file.display());
            if let Some(lib) = try_open(report, place, OpenTarget::Path(&file)) {
                return Some(lib);
            }
        }
    }
    if !any {
        report.tried.push((
            format!("{label}: {}", dir.display()),
            Outcome::NotFound(format!(
                "no {} holding a TensorRT library",
                PIP_FOLDERS.join("/, ") + "/"
            )),
        ));
    }
    None
}

/// How step 4 names the environment the running executable is installed in.
pub const OWN_ENV: &str = "trt-dump's environment";

/// A Python environment searched in step 4.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PyEnv {
    /// [`OWN_ENV`], `"VIRTUAL_ENV"` or `"CONDA_PREFIX"`.
    pub source: &'static str,
    /// The environment's root (`sys.prefix`).
    pub prefix: PathBuf,
    /// Its `lib{,64}/python3*/{site,dist}-packages` folders that exist, newest Python first; empty
    /// when it has none (then it is not a Python environment, or an empty one).
    pub site_dirs: Vec<PathBuf>,
}

/// Step 4's environments, from the running executable's path and `$VIRTUAL_ENV` / `$CONDA_PREFIX`,
/// in that order; one prefix appears once. Reads folders only (runs nothing), so it is quick and
/// works when the environment is not activated.
///
/// The executable's environment is the folder above its `bin/` (pip puts `trt-dump` in
/// `<prefix>/bin/` for a venv, a conda env, `--user` (`~/.local`) or a system install); it is
/// always listed, with no site folders when the executable is not in a `bin/` or the folder above
/// has none (a `cargo install`). `exe` is `std::env::current_exe()`, which on Linux has its
/// symbolic links resolved.
pub fn python_envs(
    exe: Option<&Path>,
    virtual_env: Option<&Path>,
    conda_prefix: Option<&Path>,
) -> Vec<PyEnv> {
    let mut envs: Vec<PyEnv> = Vec::new();
    if let Some(exe) = exe {
        let prefix = exe
            .parent()
            .filter(|bin| bin.file_name().is_some_and(|n| n == "bin"))
            .and_then(Path::parent);
        envs.push(PyEnv {
            source: OWN_ENV,
            prefix: prefix.map(Path::to_path_buf).unwrap_or_default(),
            site_dirs: prefix.map(site_dirs).unwrap_or_default(),
        });
    }
    for (source, prefix) in [("VIRTUAL_ENV", virtual_env), ("CONDA_PREFIX", conda_prefix)] {
        let Some(prefix) = prefix else { continue };
        let prefix = absolute(prefix);
        let seen = envs.iter().any(|e| {
            !e.prefix.as_os_str().is_empty() && canonical(&e.prefix) == canonical(&prefix)
        });
        if !seen {
            envs.push(PyEnv {
                source,
                site_dirs: site_dirs(&prefix),
                prefix,
            });
        }
    }
    envs
}

/// `<prefix>/lib{,64}/python3*/{site,dist}-packages` that exist, newest Python first, each folder
/// once (a venv's `lib64` is often a link to `lib`).
fn site_dirs(prefix: &Path) -> Vec<PathBuf> {
    let mut found: Vec<(u32, PathBuf)> = Vec::new();
    for lib in ["lib", "lib64"] {
        let Ok(entries) = std::fs::read_dir(prefix.join(lib)) else {
            continue;
        };
        for entry in entries.flatten() {
            let name = entry.file_name();
            let Some(rest) = name.to_str().and_then(|n| n.strip_prefix("python3")) else {
                continue;
            };
            // "python3.12" -> 12; Debian's "python3" sorts after every versioned folder.
            let minor = match rest.strip_prefix('.') {
                Some(m) => match m.parse::<u32>() {
                    Ok(m) => m,
                    Err(_) => continue,
                },
                None if rest.is_empty() => 0,
                None => continue,
            };
            for pkgs in ["site-packages", "dist-packages"] {
                let dir = entry.path().join(pkgs);
                if dir.is_dir() {
                    found.push((minor, dir));
                }
            }
        }
    }
    found.sort_by(|(a, pa), (b, pb)| b.cmp(a).then_with(|| pa.cmp(pb)));
    let mut dirs: Vec<PathBuf> = Vec::new();
    let mut seen: Vec<PathBuf> = Vec::new();
    for (_, dir) in found {
        let c = canonical(&dir);
        if !seen.contains(&c) {
            seen.push(c);
            dirs.push(dir);
        }
    }
    dirs
}

/// The path with links resolved, or as given when that fails (for comparing folders only).
fn canonical(p: &Path) -> PathBuf {
    p.canonicalize().unwrap_or_else(|_| p.to_path_buf())
}

/// `--trt-lib` / `TRT_DUMP_TRT_LIB`: a file, or a folder holding one of the names.
fn try_path(
    report: &mut LoadReport,
    how: &str,
    path: &Path,
    names: &[&'static str],
) -> Option<TrtLib> {
    let path = absolute(path);
    if path.is_dir() {
        let mut any = false;
        for name in names {
            let file = path.join(name);
            if file.exists() {
                any = true;
                if let Some(lib) = try_open(
                    report,
                    format!("{how} {}", file.display()),
                    OpenTarget::Path(&file),
                ) {
                    return Some(lib);
                }
            }
        }
        if !any {
            report.tried.push((
                format!("{how} {}", path.display()),
                Outcome::NotFound(format!("a folder holding none of {}", names.join(", "))),
            ));
        }
        None
    } else if path.exists() {
        try_open(
            report,
            format!("{how} {}", path.display()),
            OpenTarget::Path(&path),
        )
    } else {
        report.tried.push((
            format!("{how} {}", path.display()),
            Outcome::NotFound("no such file or folder".into()),
        ));
        None
    }
}

/// Relative paths resolve against the working directory (so a message shows where it looked).
fn absolute(p: &Path) -> PathBuf {
    std::path::absolute(p).unwrap_or_else(|_| p.to_path_buf())
}

enum OpenTarget<'a> {
    Path(&'a Path),
    Soname(&'a str),
}

fn try_open(report: &mut LoadReport, place: String, target: OpenTarget<'_>) -> Option<TrtLib> {
    let outcome = match open(&target) {
        Ok(lib) => {
            report.tried.push((place, Outcome::Loaded));
            return Some(lib);
        }
        Err(o) => o,
    };
    // A soname the loader cannot find is the common case: say so plainly, not with dlerror's text.
    let outcome = match (&target, outcome) {
        (OpenTarget::Soname(_), Outcome::OpenFailed(msg)) if msg.contains("No such file") => {
            Outcome::NotFound("not in LD_LIBRARY_PATH or the ldconfig cache".into())
        }
        (_, o) => o,
    };
    report.tried.push((place, outcome));
    None
}

fn open(target: &OpenTarget<'_>) -> Result<TrtLib, Outcome> {
    let lib = match target {
        // SAFETY: loading runs the library's initialisers. Only files the user pointed at or that
        // bear TensorRT's names are opened; that is this tool's purpose.
        OpenTarget::Path(p) => unsafe { Library::open(Some(*p), RTLD_NOW | RTLD_LOCAL) },
        // SAFETY: as above.
        OpenTarget::Soname(n) => unsafe { Library::open(Some(*n), RTLD_NOW | RTLD_LOCAL) },
    }
    .map_err(|e| Outcome::OpenFailed(dl_text(&e)))?;
    // Never dlclose (see the module comment), even a library found unusable.
    let lib = ManuallyDrop::new(lib);

    // SAFETY: each symbol is looked up with the C signature NvInferRuntime.h / NvInferRuntimeBase.h
    // declare for it; the copied pointers live in TrtLib beside the library, which stays loaded.
    let (create_runtime, create_refitter, get_version) = unsafe {
        (
            symbol::<CreateRuntimeFn>(&lib, "createInferRuntime_INTERNAL")?,
            symbol::<CreateRefitterFn>(&lib, "createInferRefitter_INTERNAL")?,
            symbol::<VersionFn>(&lib, "getInferLibVersion")?,
        )
    };
    // SAFETY: same; this one is optional (a build number for display).
    let get_build = unsafe { symbol::<VersionFn>(&lib, "getInferLibBuildVersion").ok() };
    // SAFETY: same; optional (a lean runtime has no builder).
    let create_builder =
        unsafe { symbol::<CreateBuilderFn>(&lib, "createInferBuilder_INTERNAL").ok() };
    // SAFETY: getInferLibVersion and getInferLibBuildVersion take nothing and return an int32_t.
    let packed = unsafe { get_version() };
    // SAFETY: as above.
    let build = get_build.map(|f| unsafe { f() });
    let version = LibVersion::from_packed(packed, build)
        .ok_or_else(|| Outcome::Unsupported(format!("getInferLibVersion() returned {packed}")))?;
    let layout = layout_for(version.major, version.minor).map_err(Outcome::Unsupported)?;
    let flavour = if layout.major == 1 {
        Flavour::TensorRtRtx
    } else {
        Flavour::TensorRt
    };
    let path = match target {
        OpenTarget::Path(p) => p.to_path_buf(),
        OpenTarget::Soname(n) => {
            // SAFETY: get_version is a function of the library just opened.
            unsafe { path_of(get_version as *const c_void) }.unwrap_or_else(|| PathBuf::from(n))
        }
    };
    Ok(TrtLib {
        path,
        flavour,
        version,
        layout,
        packed_version: packed,
        create_runtime,
        create_refitter,
        create_builder,
        _lib: lib,
    })
}

/// # Safety
/// `T` must be the function pointer type matching the symbol's C declaration.
unsafe fn symbol<T: Copy>(lib: &Library, name: &str) -> Result<T, Outcome> {
    // SAFETY: forwarded to the caller.
    unsafe { lib.get::<T>(name) }
        .map(|s| *s)
        .map_err(|e| Outcome::MissingSymbol(format!("no `{name}` ({})", dl_text(&e))))
}

/// libloading's error with its source (dlerror's text) on one line.
fn dl_text(e: &libloading::Error) -> String {
    let mut s = e.to_string();
    let mut src = std::error::Error::source(e);
    while let Some(inner) = src {
        s.push_str(": ");
        s.push_str(&inner.to_string());
        src = inner.source();
    }
    s
}

/// The file a loaded address belongs to (dladdr), for libraries found by soname.
///
/// # Safety
/// `addr` must be an address inside a loaded object.
unsafe fn path_of(addr: *const c_void) -> Option<PathBuf> {
    let mut info = std::mem::MaybeUninit::<libc::Dl_info>::zeroed();
    // SAFETY: dladdr only reads `addr` and fills `info`.
    let ok = unsafe { libc::dladdr(addr, info.as_mut_ptr()) };
    if ok == 0 {
        return None;
    }
    // SAFETY: dladdr succeeded, so `info` is initialised.
    let info = unsafe { info.assume_init() };
    if info.dli_fname.is_null() {
        return None;
    }
    // SAFETY: dli_fname is a NUL-terminated path owned by the dynamic loader.
    let name = unsafe { CStr::from_ptr(info.dli_fname as *const c_char) };
    let p = PathBuf::from(name.to_string_lossy().into_owned());
    Some(p.canonicalize().unwrap_or(p))
}

/// site-packages folders (and sys.path entries) of the `python3` on PATH. Never blocks longer than
/// [`PYTHON_TIMEOUT`]; never fails the run (an absent python is just one line in the report).
fn python_site_dirs() -> Result<Vec<PathBuf>, String> {
    const SCRIPT: &str = "import site, sys\n\
        dirs = []\n\
        try:\n    dirs += site.getsitepackages()\nexcept Exception:\n    pass\n\
        try:\n    dirs.append(site.getusersitepackages())\nexcept Exception:\n    pass\n\
        dirs += [p for p in sys.path if p]\n\
        print('\\n'.join(dirs))\n";
    let mut child = Command::new("python3")
        .args(["-c", SCRIPT])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|e| format!("no python3 on PATH ({e})"))?;
    let start = Instant::now();
    loop {
        match child.try_wait() {
            Ok(Some(_)) => break,
            Ok(None) if start.elapsed() > PYTHON_TIMEOUT => {
                let _ = child.kill();
                let _ = child.wait();
                return Err(format!(
                    "python3 did not answer within {}s",
                    PYTHON_TIMEOUT.as_secs()
                ));
            }
            Ok(None) => std::thread::sleep(Duration::from_millis(10)),
            Err(e) => return Err(format!("waiting for python3: {e}")),
        }
    }
    let out = child
        .wait_with_output()
        .map_err(|e| format!("reading python3's answer: {e}"))?;
    if !out.status.success() {
        return Err(format!("python3 failed ({})", out.status));
    }
    let mut dirs: Vec<PathBuf> = Vec::new();
    for line in String::from_utf8_lossy(&out.stdout).lines() {
        let p = PathBuf::from(line.trim());
        if p.is_dir() && !dirs.contains(&p) {
            dirs.push(p);
        }
    }
    // sys.path holds the standard library and zip files too; keep folders that look like
    // package folders, plus any folder that actually holds a TensorRT wheel.
    dirs.retain(|d| {
        let s = d.to_string_lossy();
        s.ends_with("site-packages")
            || s.ends_with("dist-packages")
            || PIP_FOLDERS.iter().any(|f| d.join(f).is_dir())
    });
    Ok(dirs)
}

/// The `TrtNotFound` error: every place tried, and how to fix it. The hint fits the engine: a
/// TensorRT-RTX engine is told to install TensorRT-RTX, a TensorRT one the TensorRT of its major.
fn not_found(
    report: &LoadReport,
    explicit: Option<&str>,
    engine: Option<(Flavour, u8)>,
) -> anyhow::Error {
    let mut msg = String::from("no usable TensorRT library found; tried:");
    for line in report.lines() {
        msg.push_str("\n    ");
        msg.push_str(&line);
    }
    if let Some(how) = explicit {
        msg.push_str(&format!(
            "\n({how} was given, so no other place was searched)"
        ));
    }
    let hint = match engine {
        Some((Flavour::TensorRtRtx, major)) => format!(
            "this is a TensorRT-RTX engine: install TensorRT-RTX (libtensorrt_rtx.so.{major}, from NVIDIA's \
             TensorRT-RTX download, or its Python wheel, which puts it in tensorrt_rtx_libs/) and pass --trt-lib \
             PATH (the library or its folder) or set {ENV_VAR}, or add its lib folder to LD_LIBRARY_PATH; \
             TensorRT's own packages (tensorrt-cu12) cannot load it"
        ),
        Some((Flavour::TensorRt, major)) => format!(
            "pass --trt-lib PATH (libnvinfer.so.{major} or libnvinfer_lean.so.{major}, or the folder holding it) \
             or set {ENV_VAR}; or install TensorRT {major}.x with `pip install tensorrt-cu12=={major}.*` (found in \
             site-packages) or add its lib folder to LD_LIBRARY_PATH"
        ),
        None => format!(
            "pass --trt-lib PATH (libnvinfer.so.10/.11, libnvinfer_lean.so.10/.11 or libtensorrt_rtx.so.1, or the \
             folder holding it) or set {ENV_VAR}; or install TensorRT with `pip install tensorrt-cu12` (found in \
             site-packages) or add its lib folder to LD_LIBRARY_PATH"
        ),
    };
    anyhow::Error::new(Error::new(ErrorKind::TrtNotFound, msg).with_hint(hint))
}

/// Opens a plugin library for the whole process (RTLD_NOW | RTLD_GLOBAL, so the plugins it
/// registers can resolve each other) and returns it, never to be closed.
pub(crate) fn open_plugin(path: &Path) -> anyhow::Result<&'static Library> {
    let path = absolute(path);
    if !path.is_file() {
        return Err(anyhow::Error::new(Error::new(
            ErrorKind::InputUnreadable,
            format!("plugin library `{}` does not exist", path.display()),
        )));
    }
    // SAFETY: loading runs the plugin library's initialisers; the user asked for this library.
    let lib = unsafe { Library::open(Some(&path), RTLD_NOW | RTLD_GLOBAL) }.map_err(|e| {
        anyhow::Error::new(Error::new(
            ErrorKind::InputUnreadable,
            format!(
                "plugin library `{}` could not be loaded: {}",
                path.display(),
                dl_text(&e)
            ),
        ))
    })?;
    Ok(Box::leak(Box::new(lib)))
}

/// Where the `tensorrt_llm` wheel keeps its plugin library, relative to site-packages.
pub const TRTLLM_PLUGIN: &str = "tensorrt_llm/libs/libnvinfer_plugin_tensorrt_llm.so";

/// TensorRT-LLM's plugin library in the `tensorrt_llm` package of the `python3` on PATH, or why
/// there is none (a line for the `-v` report; never a failure by itself).
pub fn find_trtllm_plugin() -> Result<PathBuf, String> {
    let dirs = python_site_dirs()?;
    dirs.iter()
        .map(|d| d.join(TRTLLM_PLUGIN))
        .find(|p| p.is_file())
        .ok_or_else(|| {
            format!(
                "no {TRTLLM_PLUGIN} in the site-packages of the python3 on PATH ({})",
                if dirs.is_empty() {
                    "none found".to_string()
                } else {
                    dirs.iter()
                        .map(|d| d.display().to_string())
                        .collect::<Vec<_>>()
                        .join(", ")
                }
            )
        })
}

/// A plugin library's registration function, if it exports it:
/// `bool name(void* logger, char const* libNamespace)`.
pub(crate) type PluginInitFn =
    unsafe extern "C" fn(logger: *mut c_void, namespace: *const c_char) -> bool;

pub(crate) fn plugin_init(lib: &Library, name: &str) -> Option<PluginInitFn> {
    // SAFETY: initLibNvInferPlugins (NvInferPlugin.h) and initTrtLlmPlugins (TensorRT-LLM's
    // api/tllmPlugin.h) both have this C signature.
    unsafe { lib.get::<PluginInitFn>(name) }.ok().map(|s| *s)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn preferred_names_come_first_in_documented_order_otherwise() {
        assert_eq!(ordered_names(None), NAMES.to_vec());
        assert_eq!(
            ordered_names(Some((Flavour::TensorRt, 10))),
            vec![
                "libnvinfer.so.10",
                "libnvinfer_lean.so.10",
                "libnvinfer.so.11",
                "libnvinfer_lean.so.11",
                "libtensorrt_rtx.so.1"
            ]
        );
        assert_eq!(
            ordered_names(Some((Flavour::TensorRtRtx, 1)))[0],
            "libtensorrt_rtx.so.1"
        );
        // A plan of a version no name matches keeps the documented order.
        assert_eq!(ordered_names(Some((Flavour::TensorRt, 8))), NAMES.to_vec());
    }

    #[test]
    fn packed_versions_decode() {
        let v = LibVersion::from_packed(101601, Some(11)).unwrap();
        assert_eq!((v.major, v.minor, v.patch), (10, 16, 1));
        assert_eq!(v.to_string(), "10.16.1.11");
        assert_eq!(
            LibVersion::from_packed(10701, None).unwrap().to_string(),
            "1.7.1"
        );
        assert_eq!(LibVersion::from_packed(-1, None), None);
    }

    #[test]
    fn pip_folders_follow_the_wheel_layout() {
        let c = pip_candidates(&NAMES);
        assert!(c.contains(&("tensorrt_libs", "libnvinfer.so.10")));
        assert!(c.contains(&("tensorrt_lean_libs", "libnvinfer_lean.so.11")));
        assert!(c.contains(&("tensorrt_rtx_libs", "libtensorrt_rtx.so.1")));
    }

    #[test]
    fn explicit_missing_path_fails_with_trt_not_found_and_searches_nothing_else() {
        let req = Request {
            explicit: Some(PathBuf::from("/nonexistent/libnvinfer.so.10")),
            env: None,
            prefer: None,
            no_search: false,
        };
        let err = load(&req).unwrap_err();
        let e = crate::error::find(&err).unwrap();
        assert_eq!(e.kind, ErrorKind::TrtNotFound);
        assert!(
            e.message
                .contains("/nonexistent/libnvinfer.so.10: not found (no such file or folder)"),
            "{}",
            e.message
        );
        assert!(e.message.contains("no other place was searched"));
        assert_eq!(e.message.matches("\n    ").count(), 1, "{}", e.message);
        assert!(e
            .hint
            .as_deref()
            .unwrap()
            .contains("pip install tensorrt-cu12"));
    }

    #[test]
    fn env_var_is_used_when_no_flag() {
        let dir = tempfile::tempdir().unwrap();
        let req = Request {
            explicit: None,
            env: Some(dir.path().into()),
            prefer: None,
            no_search: true,
        };
        let e = load(&req).unwrap_err();
        let msg = &crate::error::find(&e).unwrap().message;
        assert!(
            msg.contains(&format!("{ENV_VAR} {}", dir.path().display())),
            "{msg}"
        );
        assert!(msg.contains("a folder holding none of"), "{msg}");
    }

    #[test]
    fn a_file_that_is_not_a_library_reports_dlerror() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("libnvinfer.so.10");
        std::fs::write(&f, b"not an ELF file").unwrap();
        let req = Request {
            explicit: Some(f.clone()),
            env: None,
            prefer: None,
            no_search: true,
        };
        let e = load(&req).unwrap_err();
        let msg = &crate::error::find(&e).unwrap().message;
        assert!(msg.contains("could not be opened"), "{msg}");
        assert!(msg.contains("libnvinfer.so.10"), "{msg}");
    }

    #[test]
    fn soname_search_reports_each_name() {
        // No TensorRT on this machine, presumably; if there is one, this test says nothing.
        let req = Request {
            explicit: None,
            env: None,
            prefer: None,
            no_search: false,
        };
        if let Err(e) = load(&req) {
            let msg = &crate::error::find(&e).unwrap().message;
            for n in NAMES {
                assert!(
                    msg.contains(&format!("dynamic loader: {n}: not found")),
                    "{msg}"
                );
            }
            assert!(msg.contains("python3"), "{msg}");
        }
    }
    /// A fake environment: `<root>/bin/trt-dump` and `lib/python3.X/site-packages/tensorrt_libs/`
    /// holding a `libnvinfer.so.10` that is not a library.
    fn fake_env(root: &Path, python: &str) -> (PathBuf, PathBuf) {
        let bin = root.join("bin");
        std::fs::create_dir_all(&bin).unwrap();
        std::fs::write(root.join("pyvenv.cfg"), "home = /usr/bin\n").unwrap();
        let exe = bin.join("trt-dump");
        std::fs::write(&exe, b"").unwrap();
        let site = root.join("lib").join(python).join("site-packages");
        std::fs::create_dir_all(site.join("tensorrt_libs")).unwrap();
        std::fs::write(
            site.join("tensorrt_libs").join("libnvinfer.so.10"),
            b"not an ELF file",
        )
        .unwrap();
        (exe, site)
    }

    #[test]
    fn the_executables_own_environment_is_found_from_its_path() {
        let d = tempfile::tempdir().unwrap();
        let venv = d.path().join("venv");
        let (exe, site) = fake_env(&venv, "python3.11");
        let envs = python_envs(Some(&exe), None, None);
        assert_eq!(
            envs,
            vec![PyEnv {
                source: OWN_ENV,
                prefix: venv.clone(),
                site_dirs: vec![site.clone()]
            }]
        );
        // Newest Python first, dist-packages too, a lib64 link to lib counted once.
        let older = venv.join("lib/python3.9/site-packages");
        std::fs::create_dir_all(&older).unwrap();
        let debian = venv.join("lib/python3/dist-packages");
        std::fs::create_dir_all(&debian).unwrap();
        std::os::unix::fs::symlink("lib", venv.join("lib64")).unwrap();
        std::fs::create_dir_all(venv.join("lib/python3.11/not-packages")).unwrap();
        std::fs::create_dir_all(venv.join("lib/pythonx/site-packages")).unwrap();
        let envs = python_envs(Some(&exe), None, None);
        assert_eq!(envs[0].site_dirs, vec![site.clone(), older, debian]);
    }

    #[test]
    fn an_executable_outside_an_environment_has_no_site_folders() {
        let d = tempfile::tempdir().unwrap();
        // Not in a bin/ folder.
        let loose = d.path().join("trt-dump");
        let envs = python_envs(Some(&loose), None, None);
        assert_eq!(envs.len(), 1);
        assert!(
            envs[0].site_dirs.is_empty() && envs[0].prefix.as_os_str().is_empty(),
            "{envs:?}"
        );
        // In a bin/ folder with no lib/python3*/ beside it (`cargo install`'s ~/.cargo/bin).
        std::fs::create_dir_all(d.path().join("cargo/bin")).unwrap();
        let envs = python_envs(Some(&d.path().join("cargo/bin/trt-dump")), None, None);
        assert_eq!(envs[0].prefix, d.path().join("cargo"));
        assert!(envs[0].site_dirs.is_empty(), "{envs:?}");
        assert!(python_envs(None, None, None).is_empty());
    }

    #[test]
    fn virtual_env_and_conda_prefix_follow_and_a_prefix_is_listed_once() {
        let d = tempfile::tempdir().unwrap();
        let (exe, site) = fake_env(&d.path().join("venv"), "python3.12");
        let (_, conda_site) = fake_env(&d.path().join("conda"), "python3.10");
        let empty = d.path().join("empty");
        std::fs::create_dir_all(&empty).unwrap();
        let envs = python_envs(Some(&exe), Some(&empty), Some(&d.path().join("conda")));
        let got: Vec<_> = envs
            .iter()
            .map(|e| (e.source, e.site_dirs.clone()))
            .collect();
        assert_eq!(
            got,
            vec![
                (OWN_ENV, vec![site.clone()]),
                ("VIRTUAL_ENV", vec![]),
                ("CONDA_PREFIX", vec![conda_site])
            ]
        );
        // The activated venv is the one the executable is in: searched once, as its own.
        let envs = python_envs(Some(&exe), Some(&d.path().join("venv/bin/..")), None);
        assert_eq!(envs.len(), 1, "{envs:?}");
    }

    #[test]
    fn a_library_in_a_site_folder_is_tried_and_reported() {
        let d = tempfile::tempdir().unwrap();
        let (_, site) = fake_env(&d.path().join("venv"), "python3.11");
        let mut report = LoadReport::default();
        assert!(try_site_dir(
            &mut report,
            "trt-dump's environment site-packages",
            &site,
            &NAMES
        )
        .is_none());
        let file = site.join("tensorrt_libs/libnvinfer.so.10");
        assert_eq!(report.tried.len(), 1, "{report:?}");
        assert_eq!(
            report.tried[0].0,
            format!("trt-dump's environment site-packages: {}", file.display())
        );
        assert!(
            matches!(report.tried[0].1, Outcome::OpenFailed(_)),
            "{report:?}"
        );
        // A site folder without TensorRT is one line.
        let mut report = LoadReport::default();
        let bare = d.path().join("bare");
        std::fs::create_dir_all(&bare).unwrap();
        assert!(try_site_dir(&mut report, "x", &bare, &NAMES).is_none());
        assert_eq!(report.lines(), vec![format!("x: {}: not found (no tensorrt_libs/, tensorrt_lean_libs/, tensorrt_rtx_libs/ holding a TensorRT library)", bare.display())]);
    }
}
