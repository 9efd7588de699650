//! The engines TensorRT-RTX 1.7.1 built from selftest's models on an H100 (fixtures/
//! selftest-rtx-1.7.1-h100, docs/device/selftest-rtx-1.7.1-h100.log), located on the CPU against
//! the models' weights (`selftest --export-models`): what the device run found is kept as it was.
//! fp32 MLP: Gemm weights transposed, biases verbatim; fp16 MLP: the same in float16; LayerNorm:
//! both weights verbatim; shared weight: once verbatim; Conv+BN: nothing (folded); STRIP_PLAN:
//! nothing. Where a map is written, dumping through it gives exactly the exported weights.

use std::path::{Path, PathBuf};

use assert_cmd::cargo::cargo_bin_cmd;

fn fixture(model: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fixtures/selftest-rtx-1.7.1-h100")
        .join(model)
        .join("model.engine")
}

/// `locate --json` of one model's engine against its exported weights: (exit, report, map path).
fn locate(models: &Path, model: &str) -> (i32, serde_json::Value, PathBuf) {
    let map = models.join(format!("{model}.trtmap"));
    let out = cargo_bin_cmd!("trt-dump")
        .arg("locate")
        .arg(fixture(model))
        .arg("--reference")
        .arg(models.join(model).join("weights.safetensors"))
        .arg("--allow-missing")
        .arg("-o")
        .arg(&map)
        .arg("--json")
        .output()
        .unwrap();
    let v: serde_json::Value = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("{model}: {e}: {}", String::from_utf8_lossy(&out.stderr)));
    (out.status.code().unwrap_or(-1), v, map)
}

/// `(name, dtype, forms)` of every found tensor, sorted by name.
fn found(v: &serde_json::Value) -> Vec<(String, String, Vec<String>)> {
    let mut f: Vec<(String, String, Vec<String>)> = v["found"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| {
            let forms = t["placements"]
                .as_array()
                .unwrap()
                .iter()
                .map(|p| p["form"].as_str().unwrap().to_string())
                .collect();
            (
                t["name"].as_str().unwrap().to_string(),
                t["dtype"].as_str().unwrap().to_string(),
                forms,
            )
        })
        .collect();
    f.sort();
    f
}

fn missing(v: &serde_json::Value) -> Vec<String> {
    let mut m: Vec<String> = v["missing"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["name"].as_str().unwrap().to_string())
        .collect();
    m.sort();
    m
}

fn row(name: &str, dtype: &str, form: &str) -> (String, String, Vec<String>) {
    (name.to_string(), dtype.to_string(), vec![form.to_string()])
}

/// Dumps `model`'s engine through `map` on the CPU and compares with the exported weights.
fn dump_through_map_equals_export(models: &Path, model: &str, map: &Path) {
    let out_file = models.join(format!("{model}.dumped.safetensors"));
    let out = cargo_bin_cmd!("trt-dump")
        .arg("dump")
        .arg(fixture(model))
        .arg("--map")
        .arg(map)
        .arg("-o")
        .arg(&out_file)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{model}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let mut got = trt_dump::reference::load(&out_file).unwrap();
    let mut want =
        trt_dump::reference::load(&models.join(model).join("weights.safetensors")).unwrap();
    got.sort_by(|a, b| a.name.cmp(&b.name));
    want.sort_by(|a, b| a.name.cmp(&b.name));
    assert_eq!(got.len(), want.len(), "{model}");
    for (g, w) in got.iter().zip(&want) {
        assert_eq!(
            (&g.name, g.dtype, &g.data),
            (&w.name, w.dtype, &w.data),
            "{model}: {}",
            w.name
        );
    }
}

#[test]
fn selftest_engines_from_rtx_1_7_1_locate_as_on_the_device() {
    let d = tempfile::tempdir().unwrap();
    let models = d.path();
    let out = cargo_bin_cmd!("trt-dump")
        .arg("selftest")
        .arg("--export-models")
        .arg(models)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    for (model, dtype) in [("mlp_fp32", "float32"), ("mlp_fp16", "float16")] {
        let (code, v, map) = locate(models, model);
        assert_eq!(code, 0, "{model}: {v}");
        assert_eq!(v["built_by"], "1.7.1.116");
        assert_eq!(
            found(&v),
            vec![
                row("fc1.bias", dtype, "verbatim"),
                row("fc1.weight", dtype, "transposed"),
                row("fc2.bias", dtype, "verbatim"),
                row("fc2.weight", dtype, "transposed"),
            ],
            "{model}"
        );
        assert!(missing(&v).is_empty(), "{model}");
        dump_through_map_equals_export(models, model, &map);
    }

    let (code, v, map) = locate(models, "layernorm");
    assert_eq!(code, 0);
    assert_eq!(
        found(&v),
        vec![
            row("ln.bias", "float32", "verbatim"),
            row("ln.weight", "float32", "verbatim")
        ]
    );
    dump_through_map_equals_export(models, "layernorm", &map);

    let (code, v, map) = locate(models, "shared_weight");
    assert_eq!(code, 0);
    assert_eq!(
        found(&v),
        vec![row("shared.weight", "float32", "verbatim")],
        "stored once"
    );
    dump_through_map_equals_export(models, "shared_weight", &map);

    // Conv+BN: the BatchNorm is folded into the Conv, so no tensor is stored as given.
    let (code, v, map) = locate(models, "conv_bn_relu");
    assert_ne!(
        code, 0,
        "nothing found is an error, even with --allow-missing"
    );
    assert!(found(&v).is_empty(), "{v}");
    let m = missing(&v);
    assert!(m.contains(&"conv.weight".to_string()), "{m:?}");
    assert_eq!(m.len(), 6);
    assert!(!map.exists(), "no map written");

    // STRIP_PLAN: the plan holds no weights.
    let (code, v, map) = locate(models, "mlp_fp32_strip_plan");
    assert_ne!(code, 0);
    assert!(found(&v).is_empty(), "{v}");
    assert_eq!(
        missing(&v),
        vec!["fc1.bias", "fc1.weight", "fc2.bias", "fc2.weight"]
    );
    assert!(!map.exists());
}
