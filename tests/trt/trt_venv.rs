//! `pip install trt-dump` puts the binary in `<venv>/bin/`; run from there, unactivated (no
//! VIRTUAL_ENV, no python3 on PATH), it must look for TensorRT in that venv's site-packages
//! (README.md, "Where TensorRT is looked for", step 4). A `libnvinfer.so.10` that is not a library
//! stands in for pip's `tensorrt-cu12`: it cannot load, but the report shows it was tried.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use trt_dump::error::ErrorKind;

/// A plan header claiming TensorRT 10.16.1.11.
fn plan(dir: &Path) -> PathBuf {
    let mut b = vec![0u8; 64];
    b[..4].copy_from_slice(b"ftrt");
    b[24..28].copy_from_slice(&[10, 16, 1, 11]);
    let p = dir.join("model.engine");
    std::fs::write(&p, b).unwrap();
    p
}

/// A venv's layout under `root`, with a fake TensorRT in `lib/python3.11/site-packages/tensorrt_libs/`.
/// Returns that library's path.
fn fake_venv(root: &Path) -> PathBuf {
    std::fs::create_dir_all(root.join("bin")).unwrap();
    std::fs::write(
        root.join("pyvenv.cfg"),
        "home = /usr/bin\nversion = 3.11.7\n",
    )
    .unwrap();
    let libs = root.join("lib/python3.11/site-packages/tensorrt_libs");
    std::fs::create_dir_all(&libs).unwrap();
    let lib = libs.join("libnvinfer.so.10");
    std::fs::write(&lib, b"not an ELF file").unwrap();
    lib
}

/// Runs `exe` with nothing else pointing at a TensorRT or a Python: PATH and LD_LIBRARY_PATH empty.
fn run(exe: &Path, args: &[&std::ffi::OsStr], virtual_env: Option<&Path>) -> Output {
    let empty = tempfile::tempdir().unwrap();
    let mut cmd = Command::new(exe);
    cmd.args(args)
        .env_remove("TRT_DUMP_TRT_LIB")
        .env_remove("VIRTUAL_ENV")
        .env_remove("CONDA_PREFIX")
        .env("LD_LIBRARY_PATH", empty.path())
        .env("PATH", empty.path());
    if let Some(v) = virtual_env {
        cmd.env("VIRTUAL_ENV", v);
    }
    cmd.output().unwrap()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn position(haystack: &str, needle: &str) -> usize {
    haystack
        .find(needle)
        .unwrap_or_else(|| panic!("`{needle}` missing from:\n{haystack}"))
}

#[test]
fn venv_bin_trt_dump_searches_its_own_site_packages_unactivated() {
    // Beside target/debug, so the binary can be hard-linked rather than copied.
    let d = tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR")).unwrap();
    let root = d.path().canonicalize().unwrap();
    let venv = root.join("venv");
    let lib = fake_venv(&venv);
    // A copy, not a symbolic link: the running executable's path has its links resolved.
    let exe = venv.join("bin/trt-dump");
    let built = Path::new(env!("CARGO_BIN_EXE_trt-dump"));
    if std::fs::hard_link(built, &exe).is_err() {
        std::fs::copy(built, &exe).unwrap();
    }
    let engine = plan(&root);
    let o = run(
        &exe,
        &["-v".as_ref(), "info".as_ref(), engine.as_os_str()],
        None,
    );
    let err = stderr(&o);
    if o.status.success() || err.contains(": loaded") {
        eprintln!("SKIPPED: a TensorRT library is installed on this machine");
        return;
    }
    assert_eq!(
        o.status.code(),
        Some(i32::from(ErrorKind::TrtNotFound.exit_code())),
        "{err}"
    );
    // Tried after the dynamic loader and before the python3 on PATH, and reported as tried.
    let loader = position(&err, "dynamic loader: libtensorrt_rtx.so.1: not found");
    let own = position(
        &err,
        &format!(
            "trt-dump's environment site-packages: {}: could not be opened",
            lib.display()
        ),
    );
    let python = position(&err, "python3 site-packages: not found (no python3 on PATH");
    assert!(loader < own && own < python, "{err}");
}

#[test]
fn virtual_env_is_searched_when_the_binary_is_not_in_an_environment() {
    let d = tempfile::tempdir().unwrap();
    let venv = d.path().canonicalize().unwrap().join("venv");
    let lib = fake_venv(&venv);
    let engine = plan(d.path());
    let exe = Path::new(env!("CARGO_BIN_EXE_trt-dump"));
    let o = run(exe, &["info".as_ref(), engine.as_os_str()], Some(&venv));
    let err = stderr(&o);
    if o.status.success() || err.contains(": loaded") {
        eprintln!("SKIPPED: a TensorRT library is installed on this machine");
        return;
    }
    assert_eq!(
        o.status.code(),
        Some(i32::from(ErrorKind::TrtNotFound.exit_code())),
        "{err}"
    );
    // target/debug/trt-dump is in no bin/ folder: one line says so.
    let own = position(&err, "trt-dump's environment: not found (");
    let venv_line = position(
        &err,
        &format!(
            "VIRTUAL_ENV site-packages: {}: could not be opened",
            lib.display()
        ),
    );
    assert!(own < venv_line, "{err}");
    assert!(
        err.contains("is not in the bin/ folder of a Python environment"),
        "{err}"
    );
}
