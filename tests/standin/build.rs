//! Compiles src/shim.cpp against NVIDIA's TensorRT 11.4 headers.
//!
//! The headers (never committed) are found, in order: `$TRT_DUMP_TRT_HEADERS` (the folder holding
//! `TRT-Enterprise-11.4/`); `tests/abi/fetch-headers.sh` when the project has it; the crates.io package
//! trtx-sys 0.9.1 (Apache-2.0) unpacked or cached under `$CARGO_HOME/registry`; else `cargo fetch` of a
//! throwaway manifest that names it (downloads the package; nothing of it is built).
use std::env;
use std::path::{Path, PathBuf};
use std::process::Command;

const CRATE: &str = "trtx-sys-0.9.1+rtx1.7";
const FLAVOUR: &str = "TRT-Enterprise-11.4";

fn usable(dir: &Path) -> bool {
    dir.join(FLAVOUR).join("NvInferImpl.h").is_file()
}

fn cargo_home() -> PathBuf {
    env::var_os("CARGO_HOME")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env::var_os("HOME").unwrap_or_default()).join(".cargo"))
}

fn in_registry() -> Option<PathBuf> {
    let src = cargo_home().join("registry").join("src");
    for index in std::fs::read_dir(src).ok()?.flatten() {
        let d = index.path().join(CRATE).join("TensorRT-Headers");
        if usable(&d) {
            return Some(d);
        }
    }
    None
}

fn untar_cached(out: &Path) -> Option<PathBuf> {
    let cache = cargo_home().join("registry").join("cache");
    for index in std::fs::read_dir(cache).ok()?.flatten() {
        let c = index.path().join(format!("{CRATE}.crate"));
        if c.is_file() {
            let ok = Command::new("tar")
                .arg("-xzf")
                .arg(&c)
                .arg("-C")
                .arg(out)
                .arg(format!("{CRATE}/TensorRT-Headers"))
                .status()
                .is_ok_and(|s| s.success());
            let d = out.join(CRATE).join("TensorRT-Headers");
            if ok && usable(&d) {
                return Some(d);
            }
        }
    }
    None
}

fn headers() -> PathBuf {
    println!("cargo:rerun-if-env-changed=TRT_DUMP_TRT_HEADERS");
    if let Some(d) = env::var_os("TRT_DUMP_TRT_HEADERS") {
        let d = PathBuf::from(d);
        assert!(usable(&d), "TRT_DUMP_TRT_HEADERS={} has no {FLAVOUR}/NvInferImpl.h", d.display());
        return d;
    }
    let script = Path::new("../abi/fetch-headers.sh");
    if script.is_file() {
        if let Ok(o) = Command::new("bash").arg(script).output() {
            let d = PathBuf::from(String::from_utf8_lossy(&o.stdout).trim());
            if o.status.success() && usable(&d) {
                return d;
            }
        }
    }
    if let Some(d) = in_registry() {
        return d;
    }
    let out = PathBuf::from(env::var_os("OUT_DIR").unwrap());
    if let Some(d) = untar_cached(&out) {
        return d;
    }
    let fetch = out.join("fetch");
    std::fs::create_dir_all(fetch.join("src")).unwrap();
    std::fs::write(
        fetch.join("Cargo.toml"),
        "[package]\nname = \"standin-headers\"\nversion = \"0.0.0\"\nedition = \"2021\"\n\n[dependencies]\ntrtx-sys = \"=0.9.1\"\n\n[workspace]\n",
    )
    .unwrap();
    std::fs::write(fetch.join("src/lib.rs"), "").unwrap();
    let cargo = env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let _ = Command::new(cargo).args(["fetch", "--quiet", "--manifest-path"]).arg(fetch.join("Cargo.toml")).status();
    in_registry().or_else(|| untar_cached(&out)).unwrap_or_else(|| {
        panic!("TensorRT 11.4 headers not found: set TRT_DUMP_TRT_HEADERS to a folder holding {FLAVOUR}/, or let `cargo fetch` reach crates.io for trtx-sys 0.9.1")
    })
}

fn main() {
    let h = headers();
    println!("cargo:rerun-if-changed=src/shim.cpp");
    println!("cargo:rerun-if-changed=stub/cuda_runtime_api.h");
    cc::Build::new()
        .cpp(true)
        .std("c++17")
        .file("src/shim.cpp")
        .include(h.join(FLAVOUR))
        .include("stub")
        .flag_if_supported("-Wno-deprecated-declarations")
        .warnings(true)
        .compile("trt_dump_standin_shim");
}
