//! Test helpers for the stand-in TensorRT library (tests/standin): build it once per test process,
//! find NVIDIA's headers, write simulator engine files. Declared beside `sim` in `tests/sim/main.rs`:
//! `#[path = "../support/sim.rs"] mod sim; #[path = "../support/standin.rs"] mod standin;`
//!
//! Everything returns `Err(reason)` instead of failing when the machine cannot build the stand-in (no
//! C++ compiler, no headers): callers print `SKIPPED: {reason}` so a skipped test is loud.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

use crate::sim::{SimPlan, SimSpec};

pub fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The stand-in's own target folder (never the caller's: a nested cargo must not wait on the lock of
/// the build that runs these tests).
pub fn target_dir() -> PathBuf {
    repo_root().join("tests/standin/target")
}

/// `libtrt_dump_standin.so`, built on first use (debug profile).
pub fn library() -> Result<PathBuf, String> {
    static LIB: OnceLock<Result<PathBuf, String>> = OnceLock::new();
    LIB.get_or_init(build).clone()
}

/// The `sim-plan` tool built with the library.
pub fn sim_plan_tool() -> Result<PathBuf, String> {
    library().map(|_| target_dir().join("debug/sim-plan"))
}

fn build() -> Result<PathBuf, String> {
    let cargo = std::env::var("CARGO")
        .unwrap_or_else(|_| option_env!("CARGO").unwrap_or("cargo").to_string());
    let out = Command::new(cargo)
        .args(["build", "--quiet", "--manifest-path"])
        .arg(repo_root().join("tests/standin/Cargo.toml"))
        .env("CARGO_TARGET_DIR", target_dir())
        .output()
        .map_err(|e| format!("cannot run cargo to build the stand-in: {e}"))?;
    if !out.status.success() {
        return Err(format!(
            "building tests/standin failed:\n{}",
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    let lib = target_dir().join("debug/libtrt_dump_standin.so");
    if lib.is_file() {
        Ok(lib)
    } else {
        Err(format!("{} missing after the build", lib.display()))
    }
}

/// The folder holding `TRT-Enterprise-11.4/` (same search as tests/standin/build.rs, without fetching).
pub fn headers() -> Result<PathBuf, String> {
    let usable = |d: &Path| d.join("TRT-Enterprise-11.4/NvInferImpl.h").is_file();
    if let Some(d) = std::env::var_os("TRT_DUMP_TRT_HEADERS").map(PathBuf::from) {
        return if usable(&d) {
            Ok(d)
        } else {
            Err(format!(
                "TRT_DUMP_TRT_HEADERS={} lacks TRT-Enterprise-11.4/",
                d.display()
            ))
        };
    }
    let script = repo_root().join("tests/abi/fetch-headers.sh");
    if script.is_file() {
        if let Ok(o) = Command::new("bash").arg(&script).output() {
            let d = PathBuf::from(String::from_utf8_lossy(&o.stdout).trim());
            if o.status.success() && usable(&d) {
                return Ok(d);
            }
        }
    }
    let home = std::env::var_os("CARGO_HOME")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(std::env::var_os("HOME").unwrap_or_default()).join(".cargo")
        });
    if let Ok(indexes) = std::fs::read_dir(home.join("registry/src")) {
        for i in indexes.flatten() {
            let d = i.path().join("trtx-sys-0.9.1+rtx1.7/TensorRT-Headers");
            if usable(&d) {
                return Ok(d);
            }
        }
    }
    // The stand-in's build may have unpacked them.
    if let Ok(builds) = std::fs::read_dir(target_dir().join("debug/build")) {
        for b in builds.flatten() {
            let d = b.path().join("out/trtx-sys-0.9.1+rtx1.7/TensorRT-Headers");
            if usable(&d) {
                return Ok(d);
            }
        }
    }
    Err("TensorRT 11.4 headers not found (set TRT_DUMP_TRT_HEADERS)".into())
}

/// A C++17 compiler: `$CXX`, else c++, g++, clang++.
pub fn cxx() -> Result<String, String> {
    let candidates: Vec<String> = match std::env::var("CXX") {
        Ok(c) => vec![c],
        Err(_) => vec!["c++".into(), "g++".into(), "clang++".into()],
    };
    candidates
        .into_iter()
        .find(|c| {
            Command::new(c)
                .arg("--version")
                .output()
                .is_ok_and(|o| o.status.success())
        })
        .ok_or_else(|| "no C++ compiler (set CXX)".into())
}

/// Builds `spec` and writes its engine file as `dir/name`.
pub fn write_engine(spec: &SimSpec, dir: &Path, name: &str) -> (PathBuf, SimPlan) {
    let plan = spec.build().expect("simulator spec builds");
    let path = dir.join(name);
    std::fs::write(&path, &plan.file).expect("writing the engine file");
    (path, plan)
}
