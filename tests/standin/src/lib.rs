//! A stand-in for TensorRT 11.4's runtime library (`libtrt_dump_standin.so`), for end-to-end tests of
//! trt-dump without TensorRT or a GPU: C++ objects with TensorRT's real object layout (src/shim.cpp,
//! compiled against NVIDIA's 11.4 headers) and trt-dump's engine simulator (tests/support/sim.rs)
//! behind them. This file exports TensorRT's C entry points and the functions the C++ side calls.
//!
//! It reuses the product's `src/dtype.rs` and `src/pipeline/engine.rs` by path (the simulator is
//! written against them), so it never depends on the trt-dump crate itself.
#![allow(clippy::missing_safety_doc, non_snake_case)]

extern crate self as trt_dump;

#[path = "../../../src/dtype.rs"]
pub mod dtype;
#[path = "../../../src/pipeline/engine.rs"]
mod pipeline_engine;
pub mod pipeline {
    pub use crate::pipeline_engine::*;
}
#[path = "../../support/sim.rs"]
pub mod sim;

use std::collections::HashMap;
use std::ffi::{c_char, c_void, CStr, CString};
use std::sync::{Arc, OnceLock};

use pipeline::{Instance, PlanBytes};
use sim::{Counters, SimEngine, SimInstance};

/// TensorRT 11.4.0.106: the headers the shim is compiled against.
pub const VERSION: [u8; 4] = [11, 4, 0, 106];

extern "C" {
    fn standin_create_runtime(logger: *mut c_void, version: i32) -> *mut c_void;
    fn standin_create_refitter(engine: *mut c_void, logger: *mut c_void, version: i32) -> *mut c_void;
    fn standin_plugin_registry() -> *mut c_void;
    fn standin_default_logger() -> *mut c_void;
}

// ---- TensorRT's exported entry points ----

#[no_mangle]
pub extern "C" fn getInferLibVersion() -> i32 {
    i32::from(VERSION[0]) * 10000 + i32::from(VERSION[1]) * 100 + i32::from(VERSION[2])
}

#[no_mangle]
pub extern "C" fn getInferLibMajorVersion() -> i32 {
    i32::from(VERSION[0])
}

#[no_mangle]
pub extern "C" fn getInferLibMinorVersion() -> i32 {
    i32::from(VERSION[1])
}

#[no_mangle]
pub extern "C" fn getInferLibPatchVersion() -> i32 {
    i32::from(VERSION[2])
}

#[no_mangle]
pub extern "C" fn getInferLibBuildVersion() -> i32 {
    i32::from(VERSION[3])
}

#[no_mangle]
pub unsafe extern "C" fn createInferRuntime_INTERNAL(logger: *mut c_void, version: i32) -> *mut c_void {
    standin_create_runtime(logger, version)
}

#[no_mangle]
pub unsafe extern "C" fn createInferRefitter_INTERNAL(engine: *mut c_void, logger: *mut c_void, version: i32) -> *mut c_void {
    standin_create_refitter(engine, logger, version)
}

#[no_mangle]
pub unsafe extern "C" fn getPluginRegistry() -> *mut c_void {
    standin_plugin_registry()
}

#[no_mangle]
pub unsafe extern "C" fn getLogger() -> *mut c_void {
    standin_default_logger()
}

// ---- The simulator, for the C++ side ----

/// One deserialized engine: the parsed plan and its instance.
pub struct StandinSim {
    engine: SimEngine,
    inst: SimInstance,
    names: Vec<CString>,
    index: HashMap<Vec<u8>, i32>,
}

pub struct StandinBytes(Box<dyn PlanBytes>);

/// Fault counters for the whole process: "fail the Nth refit" counts over every engine.
fn counters() -> Arc<Counters> {
    static C: OnceLock<Arc<Counters>> = OnceLock::new();
    C.get_or_init(Arc::default).clone()
}

unsafe fn set_err(err: *mut *mut c_char, msg: impl std::fmt::Display) {
    if !err.is_null() {
        let s = CString::new(msg.to_string().replace('\0', " ")).unwrap();
        *err = s.into_raw();
    }
}

/// Checks the plan header as TensorRT does, then parses the simulator plan.
pub fn open(bytes: &[u8]) -> anyhow::Result<StandinSim> {
    const WHERE: &str = "IRuntime::deserializeCudaEngine: Error Code 1: Serialization";
    if bytes.len() < 28 || &bytes[0..4] != b"ftrt" {
        anyhow::bail!("{WHERE} (Serialization assertion magicTagRead == kMAGIC_TAG failed.Magic tag does not match)");
    }
    let v = &bytes[24..28];
    if v[..3] != VERSION[..3] {
        anyhow::bail!(
            "{WHERE} (Serialization assertion plan version check failed.The engine plan file is not compatible with this version of TensorRT, expecting library version {}.{}.{}.{} got {}.{}.{}.{}, please rebuild.)",
            VERSION[0], VERSION[1], VERSION[2], VERSION[3], v[0], v[1], v[2], v[3]
        );
    }
    let engine = SimEngine::new(bytes.to_vec())
        .map_err(|e| anyhow::anyhow!("{WHERE} (trt-dump stand-in: {e:#})"))?
        .with_counters(counters());
    let inst = engine.instance_owned()?;
    let names: Vec<CString> =
        engine.layout().weights.iter().map(|w| CString::new(w.name.replace('\0', " ")).unwrap()).collect();
    let index = names.iter().enumerate().map(|(i, n)| (n.as_bytes().to_vec(), i as i32)).collect();
    Ok(StandinSim { engine, inst, names, index })
}

#[no_mangle]
pub unsafe extern "C" fn standin_sim_open(data: *const u8, len: usize, err: *mut *mut c_char) -> *mut StandinSim {
    let bytes = if data.is_null() || len == 0 { &[][..] } else { std::slice::from_raw_parts(data, len) };
    match open(bytes) {
        Ok(s) => Box::into_raw(Box::new(s)),
        Err(e) => {
            set_err(err, format!("{e:#}"));
            std::ptr::null_mut()
        }
    }
}

#[no_mangle]
pub unsafe extern "C" fn standin_sim_free(sim: *mut StandinSim) {
    if !sim.is_null() {
        drop(Box::from_raw(sim));
    }
}

#[no_mangle]
pub unsafe extern "C" fn standin_sim_nb_weights(sim: *const StandinSim) -> i32 {
    (&*sim).names.len() as i32
}

#[no_mangle]
pub unsafe extern "C" fn standin_sim_weight_name(sim: *const StandinSim, i: i32) -> *const c_char {
    (&*sim).names.get(i as usize).map_or(std::ptr::null(), |n| n.as_ptr())
}

#[no_mangle]
pub unsafe extern "C" fn standin_sim_weight_type(sim: *const StandinSim, i: i32) -> i32 {
    (&*sim).engine.layout().weights.get(i as usize).map_or(-1, |w| w.dtype.to_trt())
}

#[no_mangle]
pub unsafe extern "C" fn standin_sim_weight_count(sim: *const StandinSim, i: i32) -> i64 {
    (&*sim).engine.layout().weights.get(i as usize).map_or(-1, |w| w.count as i64)
}

#[no_mangle]
pub unsafe extern "C" fn standin_sim_find_weight(sim: *const StandinSim, name: *const c_char) -> i32 {
    if name.is_null() {
        return -1;
    }
    *(&*sim).index.get(CStr::from_ptr(name).to_bytes()).unwrap_or(&-1)
}

#[no_mangle]
pub unsafe extern "C" fn standin_sim_refittable(sim: *const StandinSim) -> bool {
    !(&*sim).engine.layout().not_refittable
}

#[no_mangle]
pub unsafe extern "C" fn standin_sim_nb_layers(sim: *const StandinSim) -> i32 {
    (&*sim).engine.layout().segments.len() as i32
}

/// EngineStat: 0 kTOTAL_WEIGHTS_SIZE, 1 kSTRIPPED_WEIGHTS_SIZE.
#[no_mangle]
pub unsafe extern "C" fn standin_sim_stat(sim: *const StandinSim, which: i32) -> i64 {
    let (total, stripped) = (&*sim).engine.weight_sizes();
    match which {
        0 => total as i64,
        1 => stripped as i64,
        _ => -1,
    }
}

#[no_mangle]
pub unsafe extern "C" fn standin_sim_check_weight(
    sim: *const StandinSim,
    i: i32,
    ty: i32,
    count: i64,
    err: *mut *mut c_char,
) -> bool {
    let s = &*sim;
    let w = &s.engine.layout().weights[i as usize];
    if ty != w.dtype.to_trt() {
        let given = dtype::DataType::from_trt(ty).map_or_else(|| format!("DataType({ty})"), |d| d.to_string());
        set_err(err, format!(
            "IRefitter::setNamedWeights: Error Code 3: API Usage Error (Parameter check failed, condition: weights.type == expected type. Weights \"{}\" are {}, the engine expects {})",
            w.name, given, w.dtype
        ));
        return false;
    }
    if count != w.count as i64 {
        set_err(err, format!(
            "IRefitter::setNamedWeights: Error Code 3: API Usage Error (Parameter check failed, condition: weights.count == expected count. Weights \"{}\" have {} elements, the engine expects {})",
            w.name, count, w.count
        ));
        return false;
    }
    match s.inst.check_weight(i as usize, w.refit_bytes()) {
        Ok(()) => true,
        Err(e) => {
            set_err(err, format!("{e:#}"));
            false
        }
    }
}

#[no_mangle]
pub unsafe extern "C" fn standin_sim_refit(
    sim: *mut StandinSim,
    values: *const *const c_void,
    validate: bool,
    err: *mut *mut c_char,
) -> bool {
    let s = &mut *sim;
    let ws = s.engine.layout().weights.clone();
    let ptrs = std::slice::from_raw_parts(values, ws.len());
    let slices: Vec<&[u8]> = ws
        .iter()
        .zip(ptrs)
        .map(|(w, &p)| {
            let n = w.refit_bytes() as usize;
            if n == 0 || p.is_null() {
                &[][..]
            } else {
                std::slice::from_raw_parts(p.cast::<u8>(), n)
            }
        })
        .collect();
    let result = if validate { sim::validate_values(&ws, &slices) } else { Ok(()) };
    match result.and_then(|()| s.inst.refit(&slices)) {
        Ok(()) => true,
        Err(e) => {
            set_err(err, format!("{e:#}"));
            false
        }
    }
}

/// Whether the engine was built weight-stripped (kSTRIP_PLAN) and its plan holds no weights: its
/// default serialization config then has kEXCLUDE_WEIGHTS set.
#[no_mangle]
pub unsafe extern "C" fn standin_sim_stripped(sim: *const StandinSim) -> bool {
    (&*sim).engine.layout().strip
}

#[no_mangle]
pub unsafe extern "C" fn standin_sim_serialize(
    sim: *mut StandinSim,
    data: *mut *const u8,
    len: *mut usize,
    err: *mut *mut c_char,
) -> *mut StandinBytes {
    standin_sim_serialize_with(sim, false, data, len, err)
}

/// `serialize()` (`include_weights` false) or `serializeWithConfig` without kEXCLUDE_WEIGHTS.
#[no_mangle]
pub unsafe extern "C" fn standin_sim_serialize_with(
    sim: *mut StandinSim,
    include_weights: bool,
    data: *mut *const u8,
    len: *mut usize,
    err: *mut *mut c_char,
) -> *mut StandinBytes {
    let inst = &mut (&mut *sim).inst;
    let made = if include_weights { inst.serialize_including_weights() } else { inst.serialize() };
    match made {
        Ok(b) => {
            let b = Box::new(StandinBytes(b));
            *data = b.0.bytes().as_ptr();
            *len = b.0.bytes().len();
            Box::into_raw(b)
        }
        Err(e) => {
            set_err(err, format!("{e:#}"));
            std::ptr::null_mut()
        }
    }
}

#[no_mangle]
pub unsafe extern "C" fn standin_bytes_free(b: *mut StandinBytes) {
    if !b.is_null() {
        drop(Box::from_raw(b));
    }
}

#[no_mangle]
pub unsafe extern "C" fn standin_string_free(s: *mut c_char) {
    if !s.is_null() {
        drop(CString::from_raw(s));
    }
}
