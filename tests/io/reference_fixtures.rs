//! The real fixtures: each folder's model.onnx and weights.safetensors hold the same initializers
//! (make_rtx_fixtures.py wrote the safetensors from the ONNX), so both readers must agree exactly.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use trt_dump::dtype::DataType;
use trt_dump::reference::{self, Format, RefTensor};

const CASES: [&str; 5] = [
    "tiny_mlp",
    "tiny_mlp_fp16",
    "tiny_mlp_stripped",
    "small_cnn",
    "bert_mini",
];

fn fixture(case: &str, file: &str) -> PathBuf {
    // CI checks the repository out with `shared/` beside it.
    Path::new(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../shared/fixtures/trt-rtx-1.7.1-h100"
    ))
    .join(case)
    .join(file)
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
        assert_eq!(
            a.keys().collect::<Vec<_>>(),
            b.keys().collect::<Vec<_>>(),
            "{case}"
        );
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
    assert_eq!(
        t["bert.embeddings.word_embeddings.weight"].shape,
        vec![1000, 128]
    );
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

#[test]
fn shapes_from_fixture_files_recover_every_shape() {
    use trt_dump::pipeline::WeightSpec;
    use trt_dump::shapes::{self, Mismatch};
    // The weights as the refitter would list them: names, refit dtype, element count.
    let st = reference::load(&fixture("small_cnn", "weights.safetensors")).unwrap();
    let mut weights: Vec<WeightSpec> = st
        .iter()
        .map(|t| WeightSpec {
            name: t.name.clone(),
            dtype: t.dtype,
            count: t.count(),
        })
        .collect();
    weights.push(WeightSpec {
        name: "not.in.model".into(),
        dtype: DataType::Float,
        count: 7,
    });
    weights[0].count += 1;
    for file in ["model.onnx", "weights.safetensors"] {
        let r = shapes::from_file(&weights, &fixture("small_cnn", file)).unwrap();
        for (i, t) in st.iter().enumerate().skip(1) {
            assert_eq!(r.shapes[i], t.shape, "{file}: {}", t.name);
        }
        assert_eq!(r.shapes[0], vec![weights[0].count]);
        assert_eq!(r.shapes[st.len()], vec![7]);
        assert_eq!(r.unmatched.len(), 2);
        assert!(matches!(r.unmatched[0].why, Mismatch::CountDiffers { .. }));
        assert_eq!(r.unmatched[1].why, Mismatch::NoSuchName);
    }
}
