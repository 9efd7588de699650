//! Proof that the binding's ABI tables match TensorRT: tests/abi/check.cpp, compiled against
//! NVIDIA's own headers, prints every vtable slot, struct size/offset and enum value the binding
//! relies on; each test compares that with `Layout::facts()` of the layout the binding would pick
//! for a library of that version.
//!
//! Needs the headers (tests/abi/fetch-headers.sh) and a C++20 compiler (`$CXX`, else c++ or g++).
//! With `CI` set, a missing one fails the test; otherwise it is skipped with the reason printed.
//! `v10_tags_match_table` runs only when TRT_DUMP_TRT_MIRROR names a clone of NVIDIA/TensorRT.

use crate::harness;

use std::path::{Path, PathBuf};
use std::process::Command;

use harness::{compiler, headers, root};
use trt_dump::trt::abi::{layout_for, rtx1, v10, v11, Layout};

/// Compiles check.cpp against `include` and returns its output.
fn run_check(cxx: &Path, include: &Path, tag: &str) -> String {
    let out_dir = harness::scratch("abi-check");
    let exe = out_dir.join(format!("check-{tag}"));
    let compile = Command::new(cxx)
        .args(["-std=c++20", "-O0", "-w"])
        .arg("-I")
        .arg(include)
        .arg("-I")
        .arg(root().join("tests/abi/stub"))
        .arg(root().join("tests/abi/check.cpp"))
        .arg("-o")
        .arg(&exe)
        .output()
        .unwrap();
    assert!(
        compile.status.success(),
        "check.cpp did not compile against {}:\n{}",
        include.display(),
        String::from_utf8_lossy(&compile.stderr)
    );
    let run = Command::new(&exe).output().unwrap();
    assert!(
        run.status.success(),
        "check-{tag} failed: {}",
        String::from_utf8_lossy(&run.stderr)
    );
    String::from_utf8(run.stdout).unwrap()
}

fn value(output: &str, name: &str) -> i64 {
    output
        .lines()
        .find_map(|l| l.strip_prefix(name).and_then(|v| v.strip_prefix(' ')))
        .unwrap_or_else(|| panic!("check.cpp printed no {name}"))
        .parse()
        .unwrap()
}

/// Compares the headers in `folder` with `expected`, and checks that the binding would choose
/// `expected` for a library of the headers' version. `pinned`: these are the headers whose
/// NV_TENSORRT_VERSION the layout passes to TensorRT.
fn check_folder(folder: &str, expected: &Layout, pinned: bool) {
    let (Some(h), Some(cxx)) = (headers(), compiler()) else {
        return;
    };
    let out = run_check(&cxx, &h.join(folder), folder);
    let major = value(&out, "NV_TENSORRT_MAJOR") as u32;
    let minor = value(&out, "NV_TENSORRT_MINOR") as u32;
    let chosen = layout_for(major, minor).unwrap();
    assert_eq!(
        chosen.abi, expected.abi,
        "{folder}: a {major}.{minor} library would get {:?}",
        chosen.abi
    );
    if pinned {
        assert_eq!(
            i64::from(expected.header_version),
            value(&out, "NV_TENSORRT_VERSION"),
            "{folder}"
        );
        assert_eq!(expected.checked_minor, minor, "{folder}");
    }
    let problems = expected.compare(&out, minor);
    assert!(
        problems.is_empty(),
        "{folder} vs {:?}:\n  {}",
        expected.abi,
        problems.join("\n  ")
    );
}

#[test]
fn abi_matches_tensorrt_11_4_headers() {
    check_folder("TRT-Enterprise-11.4", &v11::LAYOUT, true);
}

#[test]
fn abi_matches_tensorrt_rtx_1_7_headers() {
    check_folder("TRT-RTX-1.7", &rtx1::LAYOUT_1_5, true);
}

#[test]
fn abi_matches_tensorrt_rtx_1_5_and_1_6_headers() {
    check_folder("TRT-RTX-1.5", &rtx1::LAYOUT_1_5, false);
    check_folder("TRT-RTX-1.6", &rtx1::LAYOUT_1_5, false);
}

#[test]
fn abi_matches_tensorrt_rtx_1_3_and_1_4_headers() {
    check_folder("TRT-RTX-1.3", &rtx1::LAYOUT_1_3, false);
    check_folder("TRT-RTX-1.4", &rtx1::LAYOUT_1_3, true);
}

/// The wrong table must be caught: 11.4's headers against the 10.x table differ (the layouts
/// really are different, and the comparison notices).
#[test]
fn a_wrong_table_is_detected() {
    let (Some(h), Some(cxx)) = (headers(), compiler()) else {
        return;
    };
    let out = run_check(&cxx, &h.join("TRT-Enterprise-11.4"), "wrong-table");
    let problems = v10::LAYOUT.compare(&out, 4);
    assert!(
        problems
            .iter()
            .any(|p| p.starts_with("VRefitter::getAllWeights")),
        "{problems:#?}"
    );
    assert!(
        problems.iter().any(|p| p.starts_with("ILogger::log")),
        "{problems:#?}"
    );
}

/// TensorRT 10.x: every tag v10.0.0 … v10.16 of NVIDIA/TensorRT against the 10.x table, each slot
/// absent before the minor that added it and at its slot from then on. Needs a clone of the
/// repository (TRT_DUMP_TRT_MIRROR=path); not run in CI.
#[test]
fn v10_tags_match_table() {
    let Some(mirror) = std::env::var_os("TRT_DUMP_TRT_MIRROR") else {
        eprintln!(
            "SKIPPED: v10_tags_match_table needs TRT_DUMP_TRT_MIRROR=<git dir of NVIDIA/TensorRT>"
        );
        return;
    };
    let out_dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("abi-v10");
    let _ = std::fs::remove_dir_all(&out_dir);
    let status = Command::new("bash")
        .arg(root().join("tests/abi/check-v10.sh"))
        .arg(&mirror)
        .arg(&out_dir)
        .stdout(std::process::Stdio::null())
        .status()
        .unwrap();
    assert!(status.success(), "check-v10.sh failed");
    let mut checked = 0;
    let mut problems = Vec::new();
    for entry in std::fs::read_dir(&out_dir).unwrap() {
        let p = entry.unwrap().path();
        let tag = p.file_stem().unwrap().to_string_lossy().into_owned();
        if !tag.starts_with("v10") {
            continue;
        }
        let out = std::fs::read_to_string(&p).unwrap();
        let minor = value(&out, "NV_TENSORRT_MINOR") as u32;
        assert_eq!(layout_for(10, minor).unwrap().abi, v10::LAYOUT.abi);
        problems.extend(
            v10::LAYOUT
                .compare(&out, minor)
                .into_iter()
                .map(|x| format!("{tag}: {x}")),
        );
        if minor == v10::LAYOUT.checked_minor {
            assert_eq!(
                i64::from(v10::LAYOUT.header_version),
                value(&out, "NV_TENSORRT_VERSION"),
                "{tag}"
            );
        }
        checked += 1;
    }
    assert!(checked >= 20, "only {checked} v10 tags checked");
    assert!(problems.is_empty(), "{}", problems.join("\n"));
    eprintln!("v10 table matches all {checked} tags");
}
