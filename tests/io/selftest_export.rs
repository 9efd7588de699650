//! `selftest --export-models DIR`: every carried model as ONNX plus safetensors, no TensorRT; the
//! ONNX written by hand must read back (through trt-dump's own ONNX reader) to the same tensors as
//! the safetensors beside it.

use assert_cmd::cargo::cargo_bin_cmd;

#[test]
fn exported_models_read_back_identically() {
    let d = tempfile::tempdir().unwrap();
    let out = cargo_bin_cmd!("trt-dump")
        .arg("selftest")
        .arg("--export-models")
        .arg(d.path())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).unwrap();
    let names = [
        "mlp_fp32",
        "mlp_fp16",
        "conv_bn_relu",
        "layernorm",
        "shared_weight",
        "mlp_fp32_strip_plan",
        "big_matmul",
    ];
    for n in names {
        assert!(text.contains(n), "{text}");
        let mut onnx = trt_dump::reference::load(&d.path().join(n).join("model.onnx")).unwrap();
        let mut st =
            trt_dump::reference::load(&d.path().join(n).join("weights.safetensors")).unwrap();
        onnx.sort_by(|a, b| a.name.cmp(&b.name));
        st.sort_by(|a, b| a.name.cmp(&b.name));
        assert_eq!(onnx, st, "{n}");
        assert!(!onnx.is_empty());
    }
    let big = trt_dump::reference::load(&d.path().join("big_matmul/weights.safetensors")).unwrap();
    assert_eq!(big[0].shape, [4096, 2064]);
    assert!(big[0].count() > 1 << 23);
    let fp16 = trt_dump::reference::load(&d.path().join("mlp_fp16/model.onnx")).unwrap();
    assert!(fp16
        .iter()
        .all(|t| t.dtype == trt_dump::dtype::DataType::Half));
}
