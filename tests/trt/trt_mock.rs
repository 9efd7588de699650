//! The binding end to end against a mock TensorRT built from NVIDIA's headers
//! (tests/abi/mock/mock_trt.cpp): every call trt-dump makes goes through a vtable laid out by the
//! C++ compiler from the real classes, and the logger is called back through the real `ILogger`.
//! No TensorRT, CUDA or GPU is needed; headers and a C++ compiler are (skipped locally without
//! them, a failure in CI).

use crate::harness;

use std::path::{Path, PathBuf};
use std::sync::Mutex;

use assert_cmd::cargo::cargo_bin_cmd;
use trt_dump::engine_file::EngineFile;
use trt_dump::error::ErrorKind;
use trt_dump::pipeline::Engine;
use trt_dump::trt::{self, abi, Session, TrtEngine};

/// Library-level tests share the mock's process-wide event log: one at a time.
static SERIAL: Mutex<()> = Mutex::new(());

fn serial() -> std::sync::MutexGuard<'static, ()> {
    SERIAL.lock().unwrap_or_else(|p| p.into_inner())
}

#[derive(Clone)]
struct Mock {
    dir: PathBuf,
    lib: PathBuf,
    plugin: PathBuf,
    /// Version bytes for a plan this mock accepts.
    plan_version: [u8; 4],
    tag: &'static [u8; 4],
}

fn mock(folder: &str, tag: &str, lib_name: &str, version: i32) -> Option<Mock> {
    let h = harness::headers()?;
    let cxx = harness::compiler()?;
    let dir = harness::build_mock(&cxx, &h.join(folder), tag, lib_name, version);
    let (maj, min, patch) = (version / 10000, (version / 100) % 100, version % 100);
    Some(Mock {
        lib: dir.join(lib_name),
        plugin: dir.join("libmock_plugin.so"),
        dir,
        plan_version: [maj as u8, min as u8, patch as u8, 42],
        tag: if maj == 1 { b"vtrt" } else { b"ftrt" },
    })
}

fn trt11() -> Option<Mock> {
    mock("TRT-Enterprise-11.4", "trt11.4", "libnvinfer.so.11", 110400)
}

fn rtx17() -> Option<Mock> {
    mock("TRT-RTX-1.7", "rtx1.7", "libtensorrt_rtx.so.1", 10701)
}

fn rtx14() -> Option<Mock> {
    mock("TRT-RTX-1.4", "rtx1.4", "libtensorrt_rtx.so.1", 10400)
}

/// TensorRT 10.x mocks need the headers of a tag of NVIDIA/TensorRT: only with
/// TRT_DUMP_TRT_MIRROR (a clone of it), never in CI.
fn trt10(tag: &str, version: i32) -> Option<Mock> {
    let Some(mirror) = std::env::var_os("TRT_DUMP_TRT_MIRROR") else {
        eprintln!(
            "SKIPPED: TensorRT {tag} mock needs TRT_DUMP_TRT_MIRROR=<git dir of NVIDIA/TensorRT>"
        );
        return None;
    };
    let cxx = harness::compiler()?;
    let include = harness::scratch(&format!("headers-{tag}")).join("include");
    if !include.join("NvInferImpl.h").exists() {
        std::fs::create_dir_all(&include).unwrap();
        let git = |args: &[&str]| {
            let out = std::process::Command::new("git")
                .arg("-C")
                .arg(&mirror)
                .args(args)
                .output()
                .unwrap();
            assert!(
                out.status.success(),
                "git {args:?}: {}",
                String::from_utf8_lossy(&out.stderr)
            );
            out.stdout
        };
        let list = String::from_utf8(git(&["ls-tree", "--name-only", tag, "include/"])).unwrap();
        for f in list.lines().filter(|f| f.ends_with(".h")) {
            std::fs::write(
                include.join(Path::new(f).file_name().unwrap()),
                git(&["show", &format!("{tag}:{f}")]),
            )
            .unwrap();
        }
    }
    let dir = harness::build_mock(&cxx, &include, tag, "libnvinfer.so.10", version);
    let (maj, min, patch) = (version / 10000, (version / 100) % 100, version % 100);
    Some(Mock {
        lib: dir.join("libnvinfer.so.10"),
        plugin: dir.join("libmock_plugin.so"),
        dir,
        plan_version: [maj as u8, min as u8, patch as u8, 42],
        tag: b"ftrt",
    })
}

/// A plan file the mock accepts: the tag, the version bytes at 24..28, then `extra`.
fn plan_file(dir: &Path, name: &str, tag: &[u8; 4], version: [u8; 4], extra: &str) -> PathBuf {
    let mut b = vec![0u8; 32];
    b[..4].copy_from_slice(tag);
    b[24..28].copy_from_slice(&version);
    b.extend_from_slice(extra.as_bytes());
    // TensorRT-RTX plans carry their own length at 16..24 (checked before any library loads).
    let len = b.len() as u64;
    b[16..24].copy_from_slice(&len.to_le_bytes());
    let p = dir.join(name);
    std::fs::write(&p, b).unwrap();
    p
}

fn engine_for(m: &Mock, extra: &str) -> (tempfile::TempDir, PathBuf) {
    let d = tempfile::tempdir().unwrap();
    let p = plan_file(d.path(), "model.engine", m.tag, m.plan_version, extra);
    (d, p)
}

/// The mock's event log so far (the library is already loaded: dlopen returns the same handle).
fn events(m: &Mock) -> String {
    // SAFETY: the mock library was built by this test; mock_events is `char const* ()`.
    unsafe {
        let lib = libloading::Library::new(&m.lib).unwrap();
        let f: libloading::Symbol<unsafe extern "C" fn() -> *const std::ffi::c_char> =
            lib.get("mock_events").unwrap();
        let s = std::ffi::CStr::from_ptr(f()).to_string_lossy().into_owned();
        std::mem::forget(lib);
        s
    }
}

fn opts(m: &Mock) -> trt::Options {
    trt::Options {
        trt_lib: Some(m.dir.clone()),
        plugins: vec![],
        device: 0,
    }
}

fn have_gpu() -> bool {
    trt::gpu::select(0).is_ok()
}

fn json(out: &[u8]) -> serde_json::Value {
    serde_json::from_slice(out)
        .unwrap_or_else(|e| panic!("not JSON ({e}): {}", String::from_utf8_lossy(out)))
}

#[test]
fn info_json_reports_engine_library_and_weights() {
    let Some(m) = trt11() else { return };
    let (_d, engine) = engine_for(&m, "MOCK");
    let out = cargo_bin_cmd!("trt-dump")
        .arg("info")
        .arg(&engine)
        .arg("--trt-lib")
        .arg(&m.dir)
        .arg("--json")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v = json(&out.stdout);
    assert_eq!(v["format"], "trt-dump.info/1");
    assert_eq!(v["library"]["flavour"], "TensorRT");
    assert_eq!(v["library"]["version"], "11.4.0.42");
    assert_eq!(v["library"]["abi"], "trt11");
    assert_eq!(v["library"]["path"], m.lib.display().to_string());
    assert_eq!(v["engine"]["built_by"], "11.4.0.42");
    assert_eq!(v["engine"]["plan_flavour"], "tensor-rt");
    assert_eq!(v["engine"]["name"], "mock-engine");
    assert_eq!(v["engine"]["refittable"], true);
    assert_eq!(v["engine"]["layers"], 3);
    assert_eq!(v["engine"]["optimization_profiles"], 1);
    assert_eq!(v["engine"]["device_memory_bytes"], 4096);
    assert_eq!(v["engine"]["weights_total_bytes"], 1234);
    assert_eq!(v["engine"]["weights_stripped_bytes"], 0);
    let io = &v["io_tensors"];
    assert_eq!(io[0]["name"], "input");
    assert_eq!(io[0]["mode"], "input");
    assert_eq!(io[0]["dtype"], "float32");
    assert_eq!(io[0]["shape"], serde_json::json!([1, 32]));
    assert_eq!(io[1]["mode"], "output");
    assert_eq!(io[1]["dtype"], "float16");
    assert_eq!(io[1]["shape"], serde_json::json!([-1, 7, 16]));
    // w.float 4 x 4 B, w.half 3 x 2 B, w.int4 5 nibbles = 3 B.
    assert_eq!(
        v["refittable_weights"],
        serde_json::json!({"count": 3, "elements": 12, "bytes": 25})
    );
    if !have_gpu() {
        assert!(v["gpu"].is_null());
        assert!(
            v["gpu_problem"].as_str().unwrap().contains("CUDA"),
            "{}",
            v["gpu_problem"]
        );
    }
}

#[test]
fn info_text_and_list_for_both_rtx_layouts() {
    for (m, abi) in [(rtx14(), "rtx13"), (rtx17(), "rtx15")] {
        let Some(m) = m else { return };
        let (_d, engine) = engine_for(&m, "MOCK");
        let out = cargo_bin_cmd!("trt-dump")
            .arg("info")
            .arg(&engine)
            .arg("--trt-lib")
            .arg(&m.lib)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{abi}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let text = String::from_utf8(out.stdout).unwrap();
        assert!(
            text.contains(&format!("TensorRT-RTX 1.{}.", m.plan_version[1])),
            "{text}"
        );
        assert!(
            text.contains("refit weights  3 weights, 12 elements"),
            "{text}"
        );
        assert!(
            text.contains("  output ") && text.contains("float16  [-1, 7, 16]"),
            "{text}"
        );
        let out = cargo_bin_cmd!("trt-dump")
            .args(["list", "--json"])
            .arg(&engine)
            .arg("--trt-lib")
            .arg(&m.lib)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{abi}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let v = json(&out.stdout);
        assert_eq!(
            v["weights"][2],
            serde_json::json!({"name": "w.int4", "dtype": "int4", "count": 5, "bytes": 3}),
            "{abi}"
        );
        assert_eq!(
            v["totals"],
            serde_json::json!({"weights": 3, "elements": 12, "bytes": 25}),
            "{abi}"
        );
    }
}

#[test]
fn list_text_has_each_weight_and_totals() {
    let Some(m) = trt11() else { return };
    let (_d, engine) = engine_for(&m, "MOCK");
    let out = cargo_bin_cmd!("trt-dump")
        .arg("list")
        .arg(&engine)
        .arg("--trt-lib")
        .arg(&m.dir)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 5, "{text}");
    assert!(
        lines[1].starts_with("w.float  float32") && lines[1].ends_with(" 4"),
        "{text}"
    );
    assert!(lines[2].starts_with("w.half   float16"), "{text}");
    assert_eq!(lines[4], "3 weights, 12 elements, 25 bytes (25 B)");
}

#[test]
fn not_refittable_list_exits_6_with_the_fix_and_info_says_no() {
    let Some(m) = trt11() else { return };
    let (_d, engine) = engine_for(&m, "MOCK-NOT-REFITTABLE");
    let out = cargo_bin_cmd!("trt-dump")
        .arg("list")
        .arg(&engine)
        .arg("--trt-lib")
        .arg(&m.dir)
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(i32::from(ErrorKind::NotRefittable.exit_code()))
    );
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("was not built refittable")
            && err.contains("trtexec --refit")
            && err.contains("--stripWeights"),
        "{err}"
    );
    let out = cargo_bin_cmd!("trt-dump")
        .arg("info")
        .arg(&engine)
        .arg("--trt-lib")
        .arg(&m.dir)
        .output()
        .unwrap();
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(
        text.contains("refittable     no (built without REFIT)")
            && text.contains("refit weights  none"),
        "{text}"
    );
}

#[test]
fn deserialize_failure_carries_tensorrt_words_and_both_versions() {
    let Some(m) = trt11() else { return };
    let (_d, engine) = engine_for(&m, "MOCK-INCOMPATIBLE");
    let out = cargo_bin_cmd!("trt-dump")
        .arg("info")
        .arg(&engine)
        .arg("--trt-lib")
        .arg(&m.dir)
        .output()
        .unwrap();
    // TensorRT's own words (another version) decide, with or without a GPU (issue 11 item 3).
    let want = ErrorKind::EngineIncompatible;
    assert_eq!(out.status.code(), Some(i32::from(want.exit_code())));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("internal error: mock: The engine plan file is not compatible with this version of TensorRT"),
        "{err}"
    );
    assert!(
        err.contains("error: mock: Engine deserialization failed."),
        "{err}"
    );
    assert!(
        err.contains(
            "the engine was built by TensorRT 11.4.0.42; the library loaded is TensorRT 11.4.0.42"
        ),
        "{err}"
    );
    assert!(!err.contains("hint: install the NVIDIA driver"), "{err}");
}

#[test]
fn rtx_engine_given_to_tensorrt_names_libtensorrt_rtx() {
    let Some(m) = trt11() else { return };
    let d = tempfile::tempdir().unwrap();
    let engine = plan_file(d.path(), "rtx.engine", b"vtrt", [1, 7, 1, 116], "MOCK");
    let out = cargo_bin_cmd!("trt-dump")
        .arg("list")
        .arg(&engine)
        .arg("--trt-lib")
        .arg(&m.dir)
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("magic tag does not match"), "{err}");
    assert!(err.contains("built by TensorRT-RTX 1.7.1.116"), "{err}");
    if have_gpu() {
        assert!(
            err.contains("hint: this is a TensorRT-RTX engine: it needs libtensorrt_rtx.so.1"),
            "{err}"
        );
    }
}

#[test]
fn runtime_creation_failure_shows_tensorrt_reason() {
    let Some(m) = trt11() else { return };
    let (_d, engine) = engine_for(&m, "MOCK");
    let out = cargo_bin_cmd!("trt-dump")
        .arg("info")
        .arg(&engine)
        .arg("--trt-lib")
        .arg(&m.dir)
        .env("MOCK_TRT_FAIL_RUNTIME", "1")
        .output()
        .unwrap();
    let want = if have_gpu() {
        ErrorKind::TrtRefused
    } else {
        ErrorKind::NoGpu
    };
    assert_eq!(out.status.code(), Some(i32::from(want.exit_code())));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("could not create the TensorRT runtime: warning: mock: runtime created; error: mock: CUDA initialization failure with error: 35"), "{err}");
    assert!(
        err.contains("bytes, built by TensorRT 11.4.0.42): "),
        "header context missing: {err}"
    );
}

#[test]
fn plugins_are_initialised_with_the_logger() {
    let Some(m) = trt11() else { return };
    let (_d, engine) = engine_for(&m, "MOCK");
    let out = cargo_bin_cmd!("trt-dump")
        .args(["info", "-v"])
        .arg(&engine)
        .arg("--trt-lib")
        .arg(&m.dir)
        .arg("--plugin")
        .arg(&m.plugin)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("TensorRT warning: mock plugin: initLibNvInferPlugins namespace=''"),
        "{err}"
    );
    assert!(
        err.contains("TensorRT warning: mock plugin: initTrtLlmPlugins namespace='tensorrt_llm'"),
        "{err}"
    );
    let out = cargo_bin_cmd!("trt-dump")
        .arg("info")
        .arg(&engine)
        .arg("--trt-lib")
        .arg(&m.dir)
        .arg("--plugin")
        .arg(m.dir.join("libmissing_plugin.so"))
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(i32::from(ErrorKind::InputUnreadable.exit_code()))
    );
    assert!(String::from_utf8_lossy(&out.stderr).contains("libmissing_plugin.so` does not exist"));
}

#[test]
fn vv_shows_tensorrt_lines_and_object_lifetimes_quiet_shows_none() {
    let Some(m) = trt11() else { return };
    let (_d, engine) = engine_for(&m, "MOCK");
    let out = cargo_bin_cmd!("trt-dump")
        .args(["info", "-vv"])
        .arg(&engine)
        .arg("--trt-lib")
        .arg(&m.dir)
        .output()
        .unwrap();
    assert!(out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("TensorRT verbose: mock: verbose chatter"),
        "{err}"
    );
    assert!(
        err.contains("+ IRuntime") && err.contains("- IRuntime") && err.contains("- IRefitter"),
        "{err}"
    );
    let out = cargo_bin_cmd!("trt-dump")
        .args(["info", "-q"])
        .arg(&engine)
        .arg("--trt-lib")
        .arg(&m.dir)
        .output()
        .unwrap();
    assert!(out.status.success());
    assert_eq!(String::from_utf8_lossy(&out.stderr), "");
}

#[test]
fn handles_are_released_once_in_order_whatever_the_drop_order() {
    let Some(m) = trt11() else { return };
    let _s = serial();
    let (_d, path) = engine_for(&m, "MOCK");
    let file = EngineFile::open(&path).unwrap();
    let session = Session::open(&opts(&m), &file).unwrap();
    let engine = session.deserialize(&file).unwrap();
    let refitter = engine.create_refitter(2).unwrap();
    let plan = engine.serialize().unwrap();
    let before = events(&m).len();
    // Drop in the "wrong" order: session (runtime), then engine, then the serialized plan.
    drop(session);
    drop(engine);
    drop(plan);
    let mid = events(&m)[before..].to_string();
    assert_eq!(
        mid, "delete IHostMemory\n",
        "runtime or engine released while the refitter needs them"
    );
    drop(refitter);
    let after = events(&m)[before..].to_string();
    assert_eq!(
        after,
        "delete IHostMemory\ndelete IRefitter\ndelete ICudaEngine\ndelete IRuntime\n"
    );
}

#[test]
fn refit_round_trip_through_the_pipeline_trait() {
    let Some(m) = trt11() else { return };
    let _s = serial();
    let (_d, path) = engine_for(&m, "MOCK");
    let before = events(&m).len();
    let e = TrtEngine::open(&opts(&m), &path).unwrap();
    let names: Vec<(&str, &str, u64)> = e
        .weights()
        .iter()
        .map(|w| (w.name.as_str(), w.dtype.name(), w.count))
        .collect();
    assert_eq!(
        names,
        vec![
            ("w.float", "float32", 4),
            ("w.half", "float16", 3),
            ("w.int4", "int4", 5)
        ]
    );
    let f: Vec<u8> = (1..=16).collect();
    let h = [0xa1u8, 0xa2, 0xa3, 0xa4, 0xa5, 0xa6];
    let q = [0x21u8, 0x43, 0x05];
    let mut inst = e.instance().unwrap();
    inst.refit(&[&f, &h, &q]).unwrap();
    let plan = inst.serialize().unwrap();
    let mut want = b"|refits=1|w.float=".to_vec();
    want.extend_from_slice(&f);
    want.extend_from_slice(b"|w.half=");
    want.extend_from_slice(&h);
    want.extend_from_slice(b"|w.int4=");
    want.extend_from_slice(&q);
    assert!(
        plan.bytes().ends_with(&want),
        "{:?}",
        String::from_utf8_lossy(plan.bytes())
    );
    let ev = events(&m)[before..].to_string();
    assert!(ev.contains("createInferRuntime version=110400\n"), "{ev}");
    assert!(
        ev.contains("logger interface ILogger 1.0 language=0\n"),
        "{ev}"
    );
    assert!(ev.contains("createInferRefitter version=110400\n"), "{ev}");
    assert!(
        ev.contains("setWeightsValidation 0\n") && ev.contains("refitter setMaxThreads positive\n"),
        "{ev}"
    );
    // Two deserializations: one to list the weights, one for the instance.
    assert_eq!(ev.matches("deserializeCudaEngine").count(), 2, "{ev}");
}

#[test]
fn refit_refusals_name_the_weight_and_tensorrt_reason() {
    let Some(m) = trt11() else { return };
    let _s = serial();
    let (_d, path) = engine_for(&m, "MOCK");
    let e = TrtEngine::open(&opts(&m), &path).unwrap();
    let f = [0u8; 16];
    let q = [0u8; 3];
    let mut inst = e.instance().unwrap();
    let err = inst.refit(&[&f, &[0xee, 0, 0, 0, 0, 0], &q]).unwrap_err();
    let k = trt_dump::error::find(&err).unwrap();
    assert_eq!(k.kind, ErrorKind::TrtRefused);
    assert!(
        k.message.contains("setNamedWeights(`w.half`)")
            && k.message.contains("mock: values of w.half rejected"),
        "{}",
        k.message
    );
    let err = inst.refit(&[&f, &[0u8; 5], &q]).unwrap_err();
    assert!(
        err.to_string()
            .contains("weight `w.half`: 5 bytes given, 3 float16 elements need 6"),
        "{err}"
    );
    let err = inst.refit(&[&f]).unwrap_err();
    assert!(err.to_string().contains("1 buffers for 3 weights"), "{err}");
}

#[test]
fn refitter_echo_unset_and_missing() {
    let Some(m) = trt11() else { return };
    let _s = serial();
    let (_d, path) = engine_for(&m, "MOCK");
    let file = EngineFile::open(&path).unwrap();
    let session = Session::open(&opts(&m), &file).unwrap();
    let engine = session.deserialize(&file).unwrap();
    let r = engine.create_refitter(1).unwrap();
    let vals = [7u8; 16];
    // SAFETY: `vals` outlives every use of the refitter in this test.
    unsafe { r.set_named_weights(c"w.float", 0, vals.as_ptr().cast(), 4) }.unwrap();
    let echo = r.named_weights(c"w.float");
    assert_eq!(
        (echo.dtype, echo.values, echo.count),
        (0, vals.as_ptr().cast(), 4)
    );
    let missing: Vec<_> = r
        .missing_weights()
        .into_iter()
        .map(|c| c.into_string().unwrap())
        .collect();
    assert_eq!(missing, vec!["w.half", "w.int4"]);
    assert!(r.unset_named_weights(c"w.float"));
    assert!(!r.unset_named_weights(c"w.float"));
    assert_eq!(r.missing_weights().len(), 3);
    let err = r.refit_cuda_engine().unwrap_err();
    assert!(
        err.reason().contains("mock: refit with 3 weights missing"),
        "{err}"
    );
    let e = r.weights_prototype(c"nope").unwrap_err();
    assert_eq!(
        trt_dump::error::find(&e).map(|e| e.kind),
        Some(ErrorKind::TrtRefused)
    );
    assert!(
        format!("{e:#}").contains("getWeightsPrototype(`nope`)")
            && format!("{e:#}").contains("mock: no weights of that name"),
        "{e:#}"
    );
}

#[test]
fn serialization_config_flags_reach_serialize_with_config() {
    let Some(m) = trt11() else { return };
    let _s = serial();
    let (_d, path) = engine_for(&m, "MOCK");
    let file = EngineFile::open(&path).unwrap();
    let session = Session::open(&opts(&m), &file).unwrap();
    let engine = session.deserialize(&file).unwrap();
    let cfg = engine.create_serialization_config().unwrap();
    assert!(cfg.set_flag(abi::serialization_flag::EXCLUDE_LEAN_RUNTIME, true));
    assert!(cfg.flag(abi::serialization_flag::EXCLUDE_LEAN_RUNTIME));
    assert!(!cfg.flag(abi::serialization_flag::EXCLUDE_WEIGHTS));
    assert_eq!(cfg.flags(), 2);
    assert!(cfg.set_flags(0b101));
    assert!(cfg.set_flag(abi::serialization_flag::INCLUDE_REFIT, false));
    assert_eq!(cfg.flags(), 1);
    let host = engine.serialize_with_config(&cfg).unwrap();
    assert_eq!(host.data_type(), 5, "kUINT8");
    use trt_dump::pipeline::PlanBytes;
    assert!(String::from_utf8_lossy(host.bytes()).ends_with("|flags=1"));
    assert!(host.bytes().starts_with(b"ftrt"));
}

#[test]
fn plain_logger_of_rtx_1_4_receives_messages() {
    let Some(m) = rtx14() else { return };
    let _s = serial();
    let (_d, path) = engine_for(&m, "MOCK");
    let file = EngineFile::open(&path).unwrap();
    let session = Session::open(&opts(&m), &file).unwrap();
    assert_eq!(session.lib.layout.abi, abi::Abi::Rtx13);
    let seen = session.runtime().sink().recent();
    assert!(
        seen.iter().any(|l| l == "warning: mock: runtime created"),
        "{seen:?}"
    );
    let ev = events(&m);
    assert!(ev.contains("createInferRuntime version=10400"), "{ev}");
    assert!(
        !ev.contains("logger interface"),
        "a plain ILogger has no getInterfaceInfo: {ev}"
    );
}

/// The 10.x table at run time: 10.16 has getDeviceMemorySizeV2 and getEngineStat; 10.0 has
/// neither, so the binding must call 10.0's getDeviceMemorySize and skip the stats.
#[test]
fn tensorrt_10_0_and_10_16_mocks_use_the_slots_their_minor_has() {
    for (tag, version, memory, stat) in [
        ("v10.16", 101600, 4096, serde_json::json!(1234)),
        ("v10.0.0", 100000, 2048, serde_json::Value::Null),
    ] {
        let Some(m) = trt10(tag, version) else { return };
        let (_d, engine) = engine_for(&m, "MOCK");
        let out = cargo_bin_cmd!("trt-dump")
            .arg("info")
            .arg(&engine)
            .arg("--trt-lib")
            .arg(&m.dir)
            .arg("--json")
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{tag}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let v = json(&out.stdout);
        assert_eq!(v["library"]["abi"], "trt10", "{tag}");
        assert_eq!(v["engine"]["device_memory_bytes"], memory, "{tag}");
        assert_eq!(v["engine"]["weights_total_bytes"], stat, "{tag}");
        assert_eq!(v["refittable_weights"]["bytes"], 25, "{tag}");
        let _s = serial();
        let before = events(&m).len();
        let e = TrtEngine::open(&opts(&m), &engine).unwrap();
        let mut inst = e.instance().unwrap();
        inst.refit(&[&[1u8; 16], &[2u8; 6], &[3u8; 3]]).unwrap();
        assert!(
            inst.serialize()
                .unwrap()
                .bytes()
                .ends_with(b"|w.int4=\x03\x03\x03"),
            "{tag}"
        );
        assert!(
            events(&m)[before..].contains("createInferRuntime version=101600"),
            "{tag}"
        );
    }
}

/// `dump` end to end through the binding: the mock's engine holds its weights verbatim, so marker
/// passes find them and the round-trip proof holds; the output has the original values.
#[test]
fn dump_extracts_the_original_weights_through_the_binding() {
    let Some(m) = trt11() else { return };
    let (d, engine) = engine_for(&m, "MOCK");
    let out_path = d.path().join("w.safetensors");
    let out = cargo_bin_cmd!("trt-dump")
        .arg("dump")
        .arg(&engine)
        .arg("-o")
        .arg(&out_path)
        .arg("--trt-lib")
        .arg(&m.dir)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let bytes = std::fs::read(&out_path).unwrap();
    let st = safetensors::SafeTensors::deserialize(&bytes).unwrap();
    let f = st.tensor("w.float").unwrap();
    let vals: Vec<f32> = f
        .data()
        .chunks(4)
        .map(|c| f32::from_le_bytes(c.try_into().unwrap()))
        .collect();
    assert_eq!(vals, vec![0.5, -1.25, 3.0, 42.0]);
    let h = st.tensor("w.half").unwrap();
    let vals: Vec<f32> = h
        .data()
        .chunks(2)
        .map(|c| half::f16::from_le_bytes(c.try_into().unwrap()).to_f32())
        .collect();
    assert_eq!(vals, vec![1.0, -2.0, 0.5]);
}
