//! `selftest` against the mock TensorRT: the mock, like a lean runtime, has no builder
//! (`createInferBuilder_INTERNAL`), so selftest must say so with exit 7 and name what to install.

use crate::harness;

use assert_cmd::cargo::cargo_bin_cmd;
use trt_dump::error::ErrorKind;

#[test]
fn a_library_without_builder_exits_7_naming_what_to_install() {
    let (Some(h), Some(cxx)) = (harness::headers(), harness::compiler()) else {
        return;
    };
    let dir = harness::build_mock(
        &cxx,
        &h.join("TRT-RTX-1.7"),
        "rtx1.7",
        "libtensorrt_rtx.so.1",
        10701,
    );
    let out = cargo_bin_cmd!("trt-dump")
        .arg("selftest")
        .arg("--trt-lib")
        .arg(dir.join("libtensorrt_rtx.so.1"))
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(i32::from(ErrorKind::TrtNotFound.exit_code()))
    );
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("has no builder") && err.contains("lean runtime"),
        "{err}"
    );
    assert!(
        err.contains("libtensorrt_onnxparser_rtx.so.1")
            && err.contains("pip install tensorrt-cu12"),
        "{err}"
    );
}
