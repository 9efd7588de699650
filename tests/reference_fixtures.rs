//! The real fixtures: each folder's model.onnx and weights.safetensors hold the same initializers
//! (make_rtx_fixtures.py wrote the safetensors from the ONNX), so both readers must agree exactly.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use trt_dump::dtype::DataType;
use trt_dump::reference::{self, Format, RefTensor};

const CASES: [&str; 5] = ["tiny_mlp", "tiny_mlp_fp16", "tiny_mlp_stripped", "small_cnn", "bert_mini"];

fn fixture(case: &str, file: &str) -> PathBuf {
    Path::new("/work/shared/fixtures/trt-rtx-1.7.1-h100").join(case).join(file)
}

fn by_name(v: Vec<RefTensor>) -> BTreeMap<String, RefTensor> {
    v.into_iter().map(|t| (t.name.clone(), t)).collect()
}

#[test]
fn onnx_and_safetensors_fixtures_hold_the_same_tensors() {
    for case in CASES {
        let onnx = reference::load_all(&fixture(case, "model.onnx")).unwrap();
        let st = reference::load_all(&fixture(case, "weights.safetensors")).unwrap();
        assert_eq!(onnx.format, Some(Format::Onnx));
        assert_eq!(st.format, Some(Format::Safetensors));
        assert!(onnx.skipped.is_empty() && st.skipped.is_empty(), "{case}");
        assert!(!onnx.tensors.is_empty(), "{case}");
        let (a, b) = (by_name(onnx.tensors), by_name(st.tensors));
        assert_eq!(a.keys().collect::<Vec<_>>(), b.keys().collect::<Vec<_>>(), "{case}");
        for (name, t) in &a {
            assert_eq!(t, &b[name], "{case}: {name}");
            let bytes = t.dtype.bytes_for(t.count()).unwrap();
            assert_eq!(t.data.len() as u64, bytes, "{case}: {name}");
        }
    }
}

#[test]
fn fixture_dtypes_and_shapes_are_as_exported() {
    let t = by_name(reference::load(&fixture("tiny_mlp_fp16", "model.onnx")).unwrap());
    assert_eq!(t["net.0.weight"].dtype, DataType::Half);
    assert_eq!(t["net.0.weight"].shape, vec![64, 32]);
    let t = by_name(reference::load(&fixture("small_cnn", "model.onnx")).unwrap());
    assert_eq!(t["conv2.weight"].shape, vec![32, 16, 3, 3]);
    assert_eq!(t["conv2.weight"].dtype, DataType::Float);
    assert_eq!(t.len(), 5);
    let t = by_name(reference::load(&fixture("bert_mini", "model.onnx")).unwrap());
    assert_eq!(t.len(), 18);
    assert_eq!(t["bert.embeddings.word_embeddings.weight"].shape, vec![1000, 128]);
}

#[test]
fn load_shapes_agrees_with_load() {
    for case in CASES {
        for file in ["model.onnx", "weights.safetensors"] {
            let path = fixture(case, file);
            let full = by_name(reference::load(&path).unwrap());
            let shapes = reference::load_shapes(&path).unwrap();
            assert_eq!(shapes.len(), full.len(), "{case}/{file}");
            for s in shapes {
                let t = &full[&s.name];
                assert_eq!(s.shape, t.shape, "{case}/{file}: {}", s.name);
                assert_eq!(s.dtype, Some(t.dtype), "{case}/{file}: {}", s.name);
            }
        }
    }
}
