//! Shared by the `tests/sim/cli_*.rs` end-to-end tests: the stand-in TensorRT library and its `sim-plan`
//! tool, running the real binary, and reading outputs back.
//!
//! Declared once, with `#[macro_use]`, in `tests/sim/main.rs` (beside `sim` and `standin`); the
//! test modules `use crate::cli_support;`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use assert_cmd::cargo::cargo_bin_cmd;

pub use trt_dump::error::ErrorKind;

/// The stand-in library and the sim-plan tool, or why they cannot be had (printed as SKIPPED).
pub fn standin() -> Result<(PathBuf, PathBuf), String> {
    let lib = crate::standin::library()?;
    let tool = crate::standin::sim_plan_tool()?;
    Ok((lib, tool))
}

/// `let (lib, tool) = standin_or_skip!();` (declare the module with `#[macro_use]`)
macro_rules! standin_or_skip {
    () => {
        match $crate::cli_support::standin() {
            Ok(x) => x,
            Err(why) => {
                eprintln!("SKIPPED: stand-in TensorRT library unavailable: {why}");
                return;
            }
        }
    };
}

/// The real binary with no TensorRT reachable unless `--trt-lib` is passed: `TRT_DUMP_TRT_LIB`
/// points at nothing, so any attempt to load TensorRT without `--trt-lib` fails (exit 7) instead of
/// finding one on the machine.
pub fn trt_dump() -> assert_cmd::Command {
    let mut c = cargo_bin_cmd!("trt-dump");
    c.env(
        "TRT_DUMP_TRT_LIB",
        "/nonexistent/trt-dump-tests/no-tensorrt-here",
    );
    c
}

pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

pub fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// Asserts the exit status, printing the streams when it is not the one expected.
#[track_caller]
pub fn assert_exit(o: &Output, want: i32) {
    assert_eq!(
        o.status.code(),
        Some(want),
        "exit status\n--- stdout\n{}\n--- stderr\n{}",
        stdout(o),
        stderr(o)
    );
}

/// One weight of a `sim-plan --truth T --values` file.
#[derive(Clone, Debug)]
pub struct TruthWeight {
    pub name: String,
    pub dtype: String,
    pub count: u64,
    /// `exact`, or why not (`stripped`, `fused`, ...).
    pub recovery: String,
    /// What a correct extraction gives, in the refit dtype.
    pub values: Option<Vec<u8>>,
}

fn unhex(s: &str) -> Vec<u8> {
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect()
}

/// Runs `sim-plan MODEL dir/NAME --truth dir/NAME.json --values ARGS...`; returns the engine path
/// and its truth.
pub fn sim_plan(
    tool: &Path,
    dir: &Path,
    model: &str,
    name: &str,
    args: &[&str],
) -> (PathBuf, Vec<TruthWeight>) {
    let engine = dir.join(name);
    let truth = dir.join(format!("{name}.truth.json"));
    let out = Command::new(tool)
        .arg(model)
        .arg(&engine)
        .arg("--truth")
        .arg(&truth)
        .arg("--values")
        .args(args)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "sim-plan failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    (engine, read_truth(&truth))
}

pub fn read_truth(path: &Path) -> Vec<TruthWeight> {
    let t: serde_json::Value = serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap();
    t["weights"]
        .as_array()
        .unwrap()
        .iter()
        .map(|w| TruthWeight {
            name: w["name"].as_str().unwrap().to_string(),
            dtype: w["dtype"].as_str().unwrap().to_string(),
            count: w["count"].as_u64().unwrap(),
            recovery: w["recovery"].as_str().unwrap().to_string(),
            values: w["values_hex"].as_str().map(unhex),
        })
        .collect()
}

/// A tensor read back from an output: dtype as the file names it, shape, raw little-endian bytes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Tensor {
    pub dtype: String,
    pub shape: Vec<usize>,
    pub data: Vec<u8>,
}

/// Every tensor of a safetensors file, read with the `safetensors` crate.
pub fn read_safetensors(path: &Path) -> BTreeMap<String, Tensor> {
    let bytes = std::fs::read(path).unwrap();
    let st = safetensors::SafeTensors::deserialize(&bytes).unwrap();
    st.tensors()
        .into_iter()
        .map(|(name, v)| {
            (
                name,
                Tensor {
                    dtype: format!("{:?}", v.dtype()),
                    shape: v.shape().to_vec(),
                    data: v.data().to_vec(),
                },
            )
        })
        .collect()
}

/// The safetensors dtype name of a refit dtype that is stored as it is.
pub fn st_dtype(refit: &str) -> &'static str {
    match refit {
        "float32" => "F32",
        "float16" => "F16",
        "bfloat16" => "BF16",
        "int8" => "I8",
        "int32" => "I32",
        "int64" => "I64",
        "uint8" => "U8",
        "bool" => "BOOL",
        other => panic!("no plain safetensors dtype for {other} in these tests"),
    }
}

/// Checks that `got` holds exactly the truth's recoverable weights, bit for bit, flat.
#[track_caller]
pub fn assert_equals_truth(got: &BTreeMap<String, Tensor>, truth: &[TruthWeight]) {
    let mut expected = 0;
    for w in truth.iter().filter(|w| w.recovery == "exact") {
        expected += 1;
        let t = got
            .get(&w.name)
            .unwrap_or_else(|| panic!("`{}` missing from the output", w.name));
        assert_eq!(t.dtype, st_dtype(&w.dtype), "`{}` dtype", w.name);
        assert_eq!(t.shape, vec![w.count as usize], "`{}` shape", w.name);
        assert!(
            t.data == *w.values.as_ref().unwrap(),
            "`{}`: values differ from the simulator's truth",
            w.name
        );
    }
    assert_eq!(
        got.len(),
        expected,
        "the output holds exactly the recoverable weights"
    );
}

/// Minimal `.npy` reader (version 1/2/3 headers): descr, shape, data.
pub fn read_npy(bytes: &[u8]) -> Tensor {
    assert_eq!(&bytes[..6], b"\x93NUMPY", "npy magic");
    let (header_len, start) = match bytes[6] {
        1 => (u16::from_le_bytes([bytes[8], bytes[9]]) as usize, 10),
        _ => (
            u32::from_le_bytes(bytes[8..12].try_into().unwrap()) as usize,
            12,
        ),
    };
    let header = std::str::from_utf8(&bytes[start..start + header_len]).unwrap();
    let descr = header
        .split("'descr': '")
        .nth(1)
        .unwrap()
        .split('\'')
        .next()
        .unwrap()
        .to_string();
    assert!(header.contains("'fortran_order': False"), "{header}");
    let shape_src = header
        .split("'shape': (")
        .nth(1)
        .unwrap()
        .split(')')
        .next()
        .unwrap();
    let shape = shape_src
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|s| s.parse().unwrap())
        .collect();
    Tensor {
        dtype: descr,
        shape,
        data: bytes[start + header_len..].to_vec(),
    }
}

/// Every weight member of an `.npz`, read with the `zip` crate and [`read_npy`].
pub fn read_npz(path: &Path) -> BTreeMap<String, Tensor> {
    use std::io::Read;
    let f = std::fs::File::open(path).unwrap();
    let mut z = zip::ZipArchive::new(f).unwrap();
    let mut out = BTreeMap::new();
    for i in 0..z.len() {
        let mut m = z.by_index(i).unwrap();
        if m.name().starts_with("__trt_dump_index__") {
            continue; // the writer's name index, not a weight
        }
        let name = m.name().strip_suffix(".npy").unwrap().to_string();
        let mut b = Vec::new();
        m.read_to_end(&mut b).unwrap();
        out.insert(name, read_npy(&b));
    }
    out
}

/// Files in a folder (names only), sorted.
pub fn listing(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    v.sort();
    v
}
