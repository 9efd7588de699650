//! `ICudaEngine`.

use std::ffi::CStr;
use std::rc::Rc;

use super::host_memory::HostMemory;
use super::refitter::Refitter;
use super::runtime::Runtime;
use super::serialization_config::SerializationConfig;
use crate::trt::abi::{self, Dims};
use crate::trt::result::{read_str, trt, Ctx, Obj};

/// One I/O tensor of an engine.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct IoTensor {
    pub name: String,
    /// `TensorIOMode`.
    pub mode: i32,
    /// `DataType`.
    pub dtype: i32,
    /// `None` when TensorRT reports no shape (nbDims < 0); -1 marks a dynamic dimension.
    pub shape: Option<Vec<i64>>,
}

/// `ICudaEngine`, holding its runtime.
pub struct CudaEngine {
    obj: Obj,
    runtime: Rc<Runtime>,
}

impl CudaEngine {
    pub(super) fn from_parts(obj: Obj, runtime: Rc<Runtime>) -> CudaEngine {
        CudaEngine { obj, runtime }
    }

    pub(crate) fn ctx(&self) -> &Ctx {
        &self.runtime.ctx
    }

    pub fn runtime(&self) -> &Rc<Runtime> {
        &self.runtime
    }

    fn slots(&self) -> &'static abi::EngineSlots {
        &self.ctx().layout().engine
    }

    pub fn nb_layers(&self) -> i32 {
        // SAFETY: `int32_t getNbLayers() const`, present since the layout's first minor.
        unsafe { trt!(self.obj, self.slots().get_nb_layers) }
    }

    pub fn name(&self) -> String {
        // SAFETY: `char const* getName() const`; the string lives as long as the engine and is
        // copied at once.
        unsafe { read_str(trt!(self.obj, self.slots().get_name)) }.unwrap_or_default()
    }

    pub fn nb_optimization_profiles(&self) -> i32 {
        // SAFETY: `int32_t getNbOptimizationProfiles() const`.
        unsafe { trt!(self.obj, self.slots().get_nb_optimization_profiles) }
    }

    pub fn is_refittable(&self) -> bool {
        // SAFETY: `bool isRefittable() const`.
        unsafe { trt!(self.obj, self.slots().is_refittable) != 0 }
    }

    /// `getDeviceMemorySizeV2`, or 10.0's `getDeviceMemorySize`.
    pub fn device_memory_size(&self) -> Option<i64> {
        let s = self.slots();
        if self.ctx().has(s.get_device_memory_size_v2) {
            // SAFETY: `int64_t getDeviceMemorySizeV2() const`, present in this minor.
            return Some(unsafe { trt!(self.obj, s.get_device_memory_size_v2) });
        }
        let slot = s.get_device_memory_size?;
        // SAFETY: `size_t getDeviceMemorySize() const` (10.x).
        let n = unsafe { trt!(self.obj, slot) };
        i64::try_from(n).ok()
    }

    /// `getEngineStat`, where the library has it (TensorRT 10.14+, 11.x, TensorRT-RTX).
    pub fn engine_stat(&self, stat: i32) -> Option<i64> {
        let slot = self.slots().get_engine_stat;
        if !self.ctx().has(slot) {
            return None;
        }
        // SAFETY: `int64_t getEngineStat(EngineStat) const`, present in this minor.
        Some(unsafe { trt!(self.obj, slot, stat) })
    }

    pub fn io_tensors(&self) -> Vec<IoTensor> {
        let s = self.slots();
        // SAFETY: `int32_t getNbIOTensors() const`.
        let n = unsafe { trt!(self.obj, s.get_nb_io_tensors) };
        let mut out = Vec::new();
        for i in 0..n.max(0) {
            // SAFETY: `char const* getIOTensorName(int32_t) const` with 0 <= i < count; the name
            // lives as long as the engine and is copied before the next call.
            let name_ptr = unsafe { trt!(self.obj, s.get_io_tensor_name, i) };
            if name_ptr.is_null() {
                continue;
            }
            // SAFETY: non-null, NUL-terminated, owned by the engine.
            let cname = unsafe { CStr::from_ptr(name_ptr) }.to_owned();
            // SAFETY: the three getters take a tensor name and return by value (`Dims` through a
            // hidden pointer, as the #[repr(C)] return does; check.cpp: `Dims.size 72`).
            let (dims, dtype, mode): (Dims, i32, i32) = unsafe {
                (
                    trt!(self.obj, s.get_tensor_shape, cname.as_ptr()),
                    trt!(self.obj, s.get_tensor_data_type, cname.as_ptr()),
                    trt!(self.obj, s.get_tensor_io_mode, cname.as_ptr()),
                )
            };
            let shape = (0..=abi::DIMS_MAX as i32)
                .contains(&dims.nb_dims)
                .then(|| dims.d[..dims.nb_dims as usize].to_vec());
            out.push(IoTensor {
                name: cname.to_string_lossy().into_owned(),
                mode,
                dtype,
                shape,
            });
        }
        out
    }

    /// `ICudaEngine::serialize`.
    pub fn serialize(&self) -> anyhow::Result<HostMemory> {
        let ctx = self.ctx();
        let mark = ctx.sink.mark();
        // SAFETY: `IHostMemory* serialize() const`; the result, null or an IHostMemory, is owned by
        // the caller and handed to HostMemory at once.
        let host = unsafe { HostMemory::new(trt!(self.obj, self.slots().serialize), ctx) };
        host.ok_or_else(|| ctx.failure("ICudaEngine::serialize", mark).refused())
    }

    /// `ICudaEngine::createSerializationConfig`.
    pub fn create_serialization_config(self: &Rc<Self>) -> anyhow::Result<SerializationConfig> {
        let slot = self.slots().create_serialization_config;
        self.ctx()
            .check(slot, "ICudaEngine::createSerializationConfig")?;
        // SAFETY: `ISerializationConfig* createSerializationConfig()`, present in this minor
        // (checked above); owned by the caller.
        let obj = unsafe {
            trt!(new "ISerializationConfig", self.ctx(), "ICudaEngine::createSerializationConfig", self.obj, slot)
        }
        .map_err(|f| f.refused())?;
        Ok(SerializationConfig::from_parts(obj, self.clone()))
    }

    /// `ICudaEngine::serializeWithConfig`.
    pub fn serialize_with_config(
        &self,
        config: &SerializationConfig,
    ) -> anyhow::Result<HostMemory> {
        let slot = self.slots().serialize_with_config;
        self.ctx().check(slot, "ICudaEngine::serializeWithConfig")?;
        let ctx = self.ctx();
        let mark = ctx.sink.mark();
        // SAFETY: `IHostMemory* serializeWithConfig(ISerializationConfig&) const`, present in this
        // minor: a reference is passed as the public object's pointer, which `config` keeps alive
        // for the call; the result, null or an IHostMemory, is owned by the caller and handed to
        // HostMemory at once.
        let host = unsafe { HostMemory::new(trt!(self.obj, slot, config.obj().ptr()), ctx) };
        host.ok_or_else(|| {
            ctx.failure("ICudaEngine::serializeWithConfig", mark)
                .refused()
        })
    }

    /// `createInferRefitter(engine, logger)`, with weight validation off and `threads` workers
    /// where the library allows (faster refits; see trt-abi.md).
    pub fn create_refitter(self: &Rc<Self>, threads: i32) -> anyhow::Result<Refitter> {
        let ctx = self.ctx();
        let mark = ctx.sink.mark();
        // SAFETY: the engine is live (held by the Refitter), and the logger is the process's,
        // never freed.
        let p = unsafe {
            ctx.lib
                .create_refitter(self.obj.ptr(), self.runtime.logger_ptr())
        };
        // SAFETY: the IRefitter returned is owned by the caller.
        let obj = unsafe { Obj::new(p, "IRefitter") }
            .ok_or_else(|| ctx.failure("createInferRefitter", mark).refused())?;
        let r = Refitter::from_parts(obj, self.clone());
        r.set_weights_validation(false);
        r.set_max_threads(threads);
        Ok(r)
    }
}
