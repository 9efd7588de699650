//! `info` and `list` on machines without TensorRT: each user error gets its own exit status and
//! a message naming what was tried and how to fix it. No headers needed; the loader tests that
//! build small shared libraries need a C compiler (`cc`; skipped without one unless CI is set).

use crate::harness;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use assert_cmd::cargo::cargo_bin_cmd;
use trt_dump::error::ErrorKind;

fn code(k: ErrorKind) -> Option<i32> {
    Some(i32::from(k.exit_code()))
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// A plan header claiming TensorRT 10.16.1.11.
fn plan(dir: &Path) -> PathBuf {
    let mut b = vec![0u8; 64];
    b[..4].copy_from_slice(b"ftrt");
    b[24..28].copy_from_slice(&[10, 16, 1, 11]);
    let p = dir.join("model.engine");
    std::fs::write(&p, b).unwrap();
    p
}

/// Runs trt-dump with no TensorRT reachable by the automatic search.
fn run(args: &[&std::ffi::OsStr]) -> Output {
    let empty = tempfile::tempdir().unwrap();
    cargo_bin_cmd!("trt-dump")
        .args(args)
        .env_remove("TRT_DUMP_TRT_LIB")
        .env("LD_LIBRARY_PATH", empty.path())
        .env("PATH", empty.path())
        .output()
        .unwrap()
}

fn os(s: &str) -> &std::ffi::OsStr {
    std::ffi::OsStr::new(s)
}

/// Builds a shared library from C source with `cc`, or None (skip) when there is no compiler.
fn c_library(dir: &Path, name: &str, source: &str) -> Option<PathBuf> {
    if !Command::new("cc")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success())
    {
        return harness::unavailable("no C compiler `cc` to build a test shared library");
    }
    let src = dir.join(format!("{name}.c"));
    std::fs::write(&src, source).unwrap();
    let lib = dir.join(name);
    let out = Command::new("cc")
        .arg("-shared")
        .arg("-fPIC")
        .arg(&src)
        .arg("-o")
        .arg(&lib)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "cc: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    Some(lib)
}

#[test]
fn missing_engine_exits_3() {
    for cmd in ["info", "list"] {
        let o = run(&[os(cmd), os("/nonexistent/model.engine")]);
        assert_eq!(o.status.code(), code(ErrorKind::InputUnreadable), "{cmd}");
        assert!(
            stderr(&o).contains("cannot read engine `/nonexistent/model.engine`"),
            "{}",
            stderr(&o)
        );
    }
}

#[test]
fn not_an_engine_exits_4_before_tensorrt_is_looked_for() {
    let d = tempfile::tempdir().unwrap();
    let zip = d.path().join("weights.engine");
    std::fs::write(&zip, b"PK\x03\x04 this is a zip file").unwrap();
    let short = d.path().join("short.engine");
    std::fs::write(&short, b"ftrt\0\0\0\0").unwrap();
    for cmd in ["info", "list"] {
        for f in [&zip, &short] {
            // A --trt-lib that cannot load proves TensorRT was never looked for.
            let o = run(&[
                os(cmd),
                f.as_os_str(),
                os("--trt-lib"),
                os("/nonexistent/libnvinfer.so.10"),
            ]);
            assert_eq!(
                o.status.code(),
                code(ErrorKind::NotAnEngine),
                "{cmd} {}: {}",
                f.display(),
                stderr(&o)
            );
            assert!(!stderr(&o).contains("TensorRT library"), "{}", stderr(&o));
        }
    }
    let o = run(&[os("info"), zip.as_os_str()]);
    assert!(
        stderr(&o).contains("not the plan tag `ftrt` (TensorRT) or `vtrt` (TensorRT-RTX)"),
        "{}",
        stderr(&o)
    );
    let o = run(&[os("list"), short.as_os_str()]);
    assert!(
        stderr(&o).contains("truncated TensorRT engine"),
        "{}",
        stderr(&o)
    );
}

#[test]
fn nonexistent_trt_lib_exits_7_and_says_what_the_header_says() {
    let d = tempfile::tempdir().unwrap();
    let e = plan(d.path());
    let o = run(&[
        os("info"),
        e.as_os_str(),
        os("--trt-lib"),
        os("/nonexistent/libnvinfer.so.10"),
    ]);
    assert_eq!(o.status.code(), code(ErrorKind::TrtNotFound));
    let err = stderr(&o);
    assert!(
        err.contains("(64 bytes, built by TensorRT 10.16.1.11)"),
        "{err}"
    );
    assert!(
        err.contains("--trt-lib /nonexistent/libnvinfer.so.10: not found (no such file or folder)"),
        "{err}"
    );
    assert!(
        err.contains("(--trt-lib was given, so no other place was searched)"),
        "{err}"
    );
    assert!(
        err.contains("hint: pass --trt-lib PATH")
            && err.contains("TRT_DUMP_TRT_LIB")
            && err.contains("pip install tensorrt-cu12")
            && err.contains("LD_LIBRARY_PATH"),
        "{err}"
    );
}

#[test]
fn folder_without_a_library_and_env_var() {
    let d = tempfile::tempdir().unwrap();
    let e = plan(d.path());
    let lib_dir = tempfile::tempdir().unwrap();
    let o = run(&[
        os("list"),
        e.as_os_str(),
        os("--trt-lib"),
        lib_dir.path().as_os_str(),
    ]);
    assert_eq!(o.status.code(), code(ErrorKind::TrtNotFound));
    assert!(
        stderr(&o).contains("a folder holding none of libnvinfer.so.10"),
        "{}",
        stderr(&o)
    );
    let o = cargo_bin_cmd!("trt-dump")
        .arg("list")
        .arg(&e)
        .env("TRT_DUMP_TRT_LIB", lib_dir.path())
        .output()
        .unwrap();
    assert_eq!(o.status.code(), code(ErrorKind::TrtNotFound));
    assert!(
        stderr(&o).contains(&format!(
            "TRT_DUMP_TRT_LIB {}: not found",
            lib_dir.path().display()
        )),
        "{}",
        stderr(&o)
    );
    assert!(
        stderr(&o).contains("(TRT_DUMP_TRT_LIB was given"),
        "{}",
        stderr(&o)
    );
}

#[test]
fn a_file_that_is_not_a_shared_library() {
    let d = tempfile::tempdir().unwrap();
    let e = plan(d.path());
    let fake = d.path().join("libnvinfer.so.10");
    std::fs::write(&fake, b"#!/bin/sh\necho not a library\n").unwrap();
    let o = run(&[os("info"), e.as_os_str(), os("--trt-lib"), fake.as_os_str()]);
    assert_eq!(o.status.code(), code(ErrorKind::TrtNotFound));
    let err = stderr(&o);
    assert!(
        err.contains(&format!(
            "--trt-lib {}: could not be opened:",
            fake.display()
        )),
        "{err}"
    );
    // dlerror's own words travel with it.
    assert!(
        err.contains("invalid ELF header") || err.contains("file too short"),
        "{err}"
    );
}

#[test]
fn a_shared_library_lacking_the_entry_points() {
    let d = tempfile::tempdir().unwrap();
    let e = plan(d.path());
    let Some(lib) = c_library(
        d.path(),
        "libnvinfer.so.10",
        "int not_tensorrt(void) { return 0; }\n",
    ) else {
        return;
    };
    let o = run(&[os("info"), e.as_os_str(), os("--trt-lib"), lib.as_os_str()]);
    assert_eq!(o.status.code(), code(ErrorKind::TrtNotFound));
    let err = stderr(&o);
    assert!(
        err.contains("not a TensorRT runtime library: no `createInferRuntime_INTERNAL`"),
        "{err}"
    );
}

#[test]
fn a_tensorrt_of_an_unsupported_version() {
    let d = tempfile::tempdir().unwrap();
    let e = plan(d.path());
    let src = "void* createInferRuntime_INTERNAL(void* l, int v) { return 0; }\n\
               void* createInferRefitter_INTERNAL(void* e, void* l, int v) { return 0; }\n\
               int getInferLibVersion(void) { return 80601; }\n";
    let Some(lib) = c_library(d.path(), "libnvinfer.so.8", src) else {
        return;
    };
    let o = run(&[os("list"), e.as_os_str(), os("--trt-lib"), lib.as_os_str()]);
    assert_eq!(o.status.code(), code(ErrorKind::TrtNotFound));
    let err = stderr(&o);
    assert!(
        err.contains("unsupported: TensorRT 8.6 is not supported (TensorRT 10.x, TensorRT 11.x, TensorRT-RTX 1.3"),
        "{err}"
    );
}

#[test]
fn automatic_search_lists_every_place() {
    let d = tempfile::tempdir().unwrap();
    let e = plan(d.path());
    // `list` (`info` without TensorRT prints what the file tells and exits 0: tests/say_edges.rs).
    let o = run(&[os("list"), e.as_os_str()]);
    let err = stderr(&o);
    if o.status.success() || err.contains(": loaded") {
        eprintln!("SKIPPED: a TensorRT library is installed on this machine");
        return;
    }
    assert_eq!(o.status.code(), code(ErrorKind::TrtNotFound), "{err}");
    // The plan says 10.x, so the 10.x names come first.
    let order: Vec<usize> = [
        "libnvinfer.so.10",
        "libnvinfer_lean.so.10",
        "libnvinfer.so.11",
        "libnvinfer_lean.so.11",
        "libtensorrt_rtx.so.1",
    ]
    .iter()
    .map(|n| {
        err.find(&format!("dynamic loader: {n}: not found"))
            .unwrap_or_else(|| panic!("{n} missing: {err}"))
    })
    .collect();
    assert!(order.windows(2).all(|w| w[0] < w[1]), "{err}");
    assert!(
        err.contains("python3 site-packages: not found (no python3 on PATH"),
        "{err}"
    );
}

#[test]
fn list_map_reads_the_map_not_tensorrt() {
    // (tests/sim/cli_verify.rs lists through a real map; here: a missing map is an unreadable input,
    // not a TensorRT search.)
    let d = tempfile::tempdir().unwrap();
    let e = plan(d.path());
    let missing = d.path().join("x.trtmap");
    let o = run(&[os("list"), e.as_os_str(), os("--map"), missing.as_os_str()]);
    assert_eq!(
        o.status.code(),
        code(ErrorKind::InputUnreadable),
        "{}",
        stderr(&o)
    );
    assert!(stderr(&o).contains("cannot read map"), "{}", stderr(&o));
    assert!(!stderr(&o).contains("TensorRT"), "{}", stderr(&o));
}

#[test]
fn help_needs_no_tensorrt() {
    for args in [&["--help"][..], &["info", "--help"], &["list", "--help"]] {
        let o = run(&args.iter().map(|a| os(a)).collect::<Vec<_>>());
        assert!(o.status.success(), "{args:?}");
        assert!(
            String::from_utf8_lossy(&o.stdout).contains("Usage"),
            "{args:?}"
        );
    }
}
