//! Owned TensorRT objects. Each wraps its pointer on the line that receives it and releases it
//! exactly once, in `Drop`, through its deleting destructor (slot 1 of the public object's own
//! vtable: `delete p`). Each holds a reference-counted pointer to what it depends on, so whatever
//! order callers drop things in, TensorRT sees refitter → engine → runtime, then the logger and the
//! library go: `Refitter` → `CudaEngine` → `Runtime` → (`TrtLogger`, GPU context, `TrtLib`).
//!
//! The handles are `Rc`, not `Arc`, and not `Send`: TensorRT works in the CUDA context current on
//! the thread that selected the GPU, so its objects stay on that thread. (`TrtLib`, `LogSink` and
//! a serialized `HostMemory` have no such tie and are shared with `Arc`.)
//!
//! This is the only place that calls through a vtable. A call reads the public object's `mImpl`
//! (its second word), then the function in the implementation's vtable at the slot the library's
//! [`Layout`] gives; slots a library's minor version lacks are refused (or skipped when optional)
//! before any call.

use std::any::Any;
use std::ffi::{c_char, c_void, CStr, CString};
use std::mem::size_of;
use std::ptr::NonNull;
use std::rc::Rc;
use std::sync::Arc;

use super::abi::{self, Dims, FnDtor, Layout, Slot, Weights, DELETING_DTOR_SLOT, IMPL_WORD};
use super::loader::TrtLib;
use super::logger::{LogSink, Mark, TrtLogger};
use crate::error::{Error, ErrorKind};

/// A failed TensorRT call and what TensorRT logged while it ran.
#[derive(Debug, Clone)]
pub struct TrtFailure {
    pub call: String,
    pub messages: Vec<String>,
}

impl TrtFailure {
    /// TensorRT's own words, or a note that it gave none.
    pub fn reason(&self) -> String {
        if self.messages.is_empty() {
            "TensorRT logged no reason (run with -vv to see all of its messages)".to_string()
        } else {
            self.messages.join("; ")
        }
    }

    /// As a `TrtRefused` error.
    pub fn refused(self) -> anyhow::Error {
        anyhow::Error::new(Error::new(
            ErrorKind::TrtRefused,
            format!("TensorRT refused {}: {}", self.call, self.reason()),
        ))
    }
}

impl std::fmt::Display for TrtFailure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} failed: {}", self.call, self.reason())
    }
}

impl std::error::Error for TrtFailure {}

fn trace(what: &str, sign: char, ptr: *mut c_void) {
    if crate::messages::verbosity() >= 3 {
        eprintln!("trt-dump: {sign} {what} {ptr:p}");
    }
}

/// A public TensorRT object (`{ vptr, mImpl }`), checked non-null with a non-null `mImpl`.
struct Raw {
    obj: NonNull<c_void>,
    what: &'static str,
}

impl Raw {
    /// # Safety
    /// `p` must be null or a live public TensorRT object of type `what` that the caller owns.
    unsafe fn new(p: *mut c_void, what: &'static str) -> Option<Raw> {
        let obj = NonNull::new(p)?;
        // SAFETY: a public object is at least two words; word IMPL_WORD is mImpl (check.cpp:
        // `IRuntime.mImpl 8` etc.).
        let imp = unsafe { *(obj.as_ptr() as *const *mut c_void).add(IMPL_WORD) };
        if imp.is_null() {
            // Not an object TensorRT could have made: leave it alone and report the call failed.
            return None;
        }
        trace(what, '+', p);
        Some(Raw { obj, what })
    }

    fn ptr(&self) -> *mut c_void {
        self.obj.as_ptr()
    }

    /// The `mImpl` object and the function at `slot` of its vtable, as `F`.
    ///
    /// # Safety
    /// `slot` must hold a method of signature `F` in this object's implementation vtable (the
    /// layout says so and the library's minor has it: see [`Lib::check`]).
    unsafe fn method<F: Copy>(&self, slot: Slot) -> (*mut c_void, F) {
        const { assert!(size_of::<F>() == size_of::<usize>()) };
        // SAFETY: checked non-null at construction; mImpl's first word is its vtable pointer, and
        // the caller vouches that `slot` is inside it.
        unsafe {
            let imp = *(self.ptr() as *const *mut c_void).add(IMPL_WORD);
            let vtable = *(imp as *const *const usize);
            let f = *vtable.add(slot.index);
            (imp, std::mem::transmute_copy::<usize, F>(&f))
        }
    }
}

impl Drop for Raw {
    fn drop(&mut self) {
        trace(self.what, '-', self.ptr());
        // SAFETY: the object is owned (Raw is never cloned) and released only here; slot 1 of its
        // own vtable is its deleting destructor (check.cpp: `IRuntime::~IRuntime(deleting) 1`).
        unsafe { delete(self.ptr()) };
    }
}

/// `delete p` for a public TensorRT object.
///
/// # Safety
/// `p` must be a live public TensorRT object owned by the caller, not used afterwards.
unsafe fn delete(p: *mut c_void) {
    // SAFETY: the first word of a polymorphic object is its vtable pointer; slot 1 holds the
    // deleting destructor, which takes only `this`.
    unsafe {
        let vtable = *(p as *const *const usize);
        let f: FnDtor = std::mem::transmute::<usize, FnDtor>(*vtable.add(DELETING_DTOR_SLOT));
        f(p);
    }
}

/// What every handle needs to call TensorRT: the library and the log.
struct Lib {
    lib: Arc<TrtLib>,
    sink: Arc<LogSink>,
}

impl Lib {
    fn layout(&self) -> &'static Layout {
        self.lib.layout
    }

    fn minor(&self) -> u32 {
        self.lib.version.minor
    }

    /// Refuses a required method the loaded minor version lacks.
    fn check(&self, slot: Slot, what: &str) -> anyhow::Result<()> {
        if self.layout().has(slot, self.minor()) {
            return Ok(());
        }
        Err(anyhow::Error::new(Error::new(
            ErrorKind::TrtNotFound,
            format!(
                "{} lacks {what}, added in {}.{}; use a newer TensorRT",
                self.lib.describe(),
                self.layout().major,
                slot.since
            ),
        )))
    }

    fn failure(&self, call: &str, mark: Mark) -> TrtFailure {
        TrtFailure {
            call: call.to_string(),
            messages: self.sink.since(mark),
        }
    }
}

/// # Safety
/// `p` must be null or a NUL-terminated string that stays valid for the call.
unsafe fn read_str(p: *const c_char) -> Option<String> {
    // SAFETY: forwarded to the caller.
    (!p.is_null()).then(|| unsafe { CStr::from_ptr(p) }.to_string_lossy().into_owned())
}

/// `IRuntime`, with the logger it was created with and whatever must outlive it (the GPU context).
/// Fields drop in declaration order: the IRuntime, then the logger, the context, the library.
pub struct Runtime {
    raw: Raw,
    logger: Box<TrtLogger>,
    _keep: Option<Box<dyn Any>>,
    lib: Lib,
}

impl Runtime {
    /// `createInferRuntime`. `keep` is dropped after the runtime (the CUDA context it runs in).
    pub fn new(lib: Arc<TrtLib>, sink: Arc<LogSink>, keep: Option<Box<dyn Any>>) -> Result<Rc<Runtime>, TrtFailure> {
        let logger = TrtLogger::new(lib.layout.logger, sink.clone());
        let lib = Lib { lib, sink };
        let mark = lib.sink.mark();
        // SAFETY: the logger has the library's ILogger layout and is moved into the Runtime, which
        // deletes the IRuntime before dropping it.
        let p = unsafe { lib.lib.create_runtime(logger.as_ptr()) };
        // SAFETY: the pointer is the IRuntime just created, owned here.
        let raw = unsafe { Raw::new(p, "IRuntime") }.ok_or_else(|| lib.failure("createInferRuntime", mark))?;
        Ok(Rc::new(Runtime {
            raw,
            logger,
            _keep: keep,
            lib,
        }))
    }

    pub fn lib(&self) -> &Arc<TrtLib> {
        &self.lib.lib
    }

    pub fn sink(&self) -> &Arc<LogSink> {
        &self.lib.sink
    }

    /// The `ILogger*` the runtime was created with.
    pub fn logger_ptr(&self) -> *mut c_void {
        self.logger.as_ptr()
    }

    /// `IRuntime::setMaxThreads`.
    pub fn set_max_threads(&self, n: i32) -> bool {
        let slot = self.lib.layout().runtime.set_max_threads;
        if !self.lib.layout().has(slot, self.lib.minor()) {
            return false;
        }
        // SAFETY: the slot holds `bool setMaxThreads(int32_t)` (abi tables, checked by check.cpp).
        unsafe {
            let (this, f) = self.raw.method::<abi::FnSetI32>(slot);
            f(this, n) != 0
        }
    }

    /// `IRuntime::deserializeCudaEngine(blob, size)`.
    pub fn deserialize(self: &Rc<Self>, blob: &[u8]) -> Result<Rc<CudaEngine>, TrtFailure> {
        let slot = self.lib.layout().runtime.deserialize_cuda_engine;
        let mark = self.lib.sink.mark();
        // SAFETY: the slot holds `ICudaEngine* deserializeCudaEngine(void const*, size_t)`; TensorRT
        // copies what it needs from `blob` during the call.
        let p = unsafe {
            let (this, f) = self.raw.method::<abi::FnDeserialize>(slot);
            f(this, blob.as_ptr() as *const c_void, blob.len())
        };
        // SAFETY: the returned ICudaEngine is owned by the caller.
        let raw =
            unsafe { Raw::new(p, "ICudaEngine") }.ok_or_else(|| self.lib.failure("deserializeCudaEngine", mark))?;
        Ok(Rc::new(CudaEngine {
            raw,
            runtime: self.clone(),
        }))
    }
}

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
    raw: Raw,
    runtime: Rc<Runtime>,
}

impl CudaEngine {
    fn lib(&self) -> &Lib {
        &self.runtime.lib
    }

    pub fn runtime(&self) -> &Rc<Runtime> {
        &self.runtime
    }

    fn slots(&self) -> &'static abi::EngineSlots {
        &self.lib().layout().engine
    }

    pub fn nb_layers(&self) -> i32 {
        // SAFETY: `int32_t getNbLayers() const`, present since the layout's first minor.
        unsafe {
            let (this, f) = self.raw.method::<abi::FnGetI32>(self.slots().get_nb_layers);
            f(this)
        }
    }

    pub fn name(&self) -> String {
        // SAFETY: `char const* getName() const`; the string lives as long as the engine and is
        // copied at once.
        unsafe {
            let (this, f) = self.raw.method::<abi::FnGetStr>(self.slots().get_name);
            read_str(f(this)).unwrap_or_default()
        }
    }

    pub fn nb_optimization_profiles(&self) -> i32 {
        // SAFETY: `int32_t getNbOptimizationProfiles() const`.
        unsafe {
            let (this, f) = self
                .raw
                .method::<abi::FnGetI32>(self.slots().get_nb_optimization_profiles);
            f(this)
        }
    }

    pub fn is_refittable(&self) -> bool {
        // SAFETY: `bool isRefittable() const`.
        unsafe {
            let (this, f) = self.raw.method::<abi::FnGetBool>(self.slots().is_refittable);
            f(this) != 0
        }
    }

    /// `getDeviceMemorySizeV2`, or 10.0's `getDeviceMemorySize`.
    pub fn device_memory_size(&self) -> Option<i64> {
        let s = self.slots();
        if self.lib().layout().has(s.get_device_memory_size_v2, self.lib().minor()) {
            // SAFETY: `int64_t getDeviceMemorySizeV2() const`, present in this minor.
            return Some(unsafe {
                let (this, f) = self.raw.method::<abi::FnGetI64>(s.get_device_memory_size_v2);
                f(this)
            });
        }
        let slot = s.get_device_memory_size?;
        // SAFETY: `size_t getDeviceMemorySize() const` (10.x).
        let n = unsafe {
            let (this, f) = self.raw.method::<abi::FnGetUsize>(slot);
            f(this)
        };
        i64::try_from(n).ok()
    }

    /// `getEngineStat`, where the library has it (TensorRT 10.14+, 11.x, TensorRT-RTX).
    pub fn engine_stat(&self, stat: i32) -> Option<i64> {
        let slot = self.slots().get_engine_stat;
        if !self.lib().layout().has(slot, self.lib().minor()) {
            return None;
        }
        // SAFETY: `int64_t getEngineStat(EngineStat) const`, present in this minor.
        Some(unsafe {
            let (this, f) = self.raw.method::<abi::FnEngineStat>(slot);
            f(this, stat)
        })
    }

    pub fn io_tensors(&self) -> Vec<IoTensor> {
        let s = self.slots();
        // SAFETY: `int32_t getNbIOTensors() const`.
        let n = unsafe {
            let (this, f) = self.raw.method::<abi::FnGetI32>(s.get_nb_io_tensors);
            f(this)
        };
        let mut out = Vec::new();
        for i in 0..n.max(0) {
            // SAFETY: `char const* getIOTensorName(int32_t) const` with 0 <= i < count; the name
            // lives as long as the engine and is copied before the next call.
            let name_ptr = unsafe {
                let (this, f) = self.raw.method::<abi::FnStrAt>(s.get_io_tensor_name);
                f(this, i)
            };
            if name_ptr.is_null() {
                continue;
            }
            // SAFETY: non-null, NUL-terminated, owned by the engine.
            let cname = unsafe { CStr::from_ptr(name_ptr) }.to_owned();
            // SAFETY: the three getters take a tensor name and return by value (`Dims` through a
            // hidden pointer, as the #[repr(C)] return does; check.cpp: `Dims.size 72`).
            let (dims, dtype, mode) = unsafe {
                let (this, shape) = self.raw.method::<abi::FnTensorDims>(s.get_tensor_shape);
                let dims: Dims = shape(this, cname.as_ptr());
                let (this, dt) = self.raw.method::<abi::FnTensorEnum>(s.get_tensor_data_type);
                let dtype = dt(this, cname.as_ptr());
                let (this, m) = self.raw.method::<abi::FnTensorEnum>(s.get_tensor_io_mode);
                (dims, dtype, m(this, cname.as_ptr()))
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
        let mark = self.lib().sink.mark();
        // SAFETY: `IHostMemory* serialize() const`; the result is owned by the caller.
        let p = unsafe {
            let (this, f) = self.raw.method::<abi::FnGetPtr>(self.slots().serialize);
            f(this)
        };
        // SAFETY: p is an owned IHostMemory or null.
        HostMemory::new(p, self.lib()).ok_or_else(|| self.lib().failure("ICudaEngine::serialize", mark).refused())
    }

    /// `ICudaEngine::createSerializationConfig`.
    pub fn create_serialization_config(self: &Rc<Self>) -> anyhow::Result<SerializationConfig> {
        let slot = self.slots().create_serialization_config;
        self.lib().check(slot, "ICudaEngine::createSerializationConfig")?;
        let mark = self.lib().sink.mark();
        // SAFETY: `ISerializationConfig* createSerializationConfig()`; owned by the caller.
        let p = unsafe {
            let (this, f) = self.raw.method::<abi::FnGetPtr>(slot);
            f(this)
        };
        // SAFETY: as above.
        let raw = unsafe { Raw::new(p, "ISerializationConfig") }.ok_or_else(|| {
            self.lib()
                .failure("ICudaEngine::createSerializationConfig", mark)
                .refused()
        })?;
        Ok(SerializationConfig {
            raw,
            engine: self.clone(),
        })
    }

    /// `ICudaEngine::serializeWithConfig`.
    pub fn serialize_with_config(&self, config: &SerializationConfig) -> anyhow::Result<HostMemory> {
        let slot = self.slots().serialize_with_config;
        self.lib().check(slot, "ICudaEngine::serializeWithConfig")?;
        let mark = self.lib().sink.mark();
        // SAFETY: `IHostMemory* serializeWithConfig(ISerializationConfig&) const`: a reference is
        // passed as the public object's pointer, which `config` keeps alive for the call.
        let p = unsafe {
            let (this, f) = self.raw.method::<abi::FnSerializeWithConfig>(slot);
            f(this, config.raw.ptr())
        };
        HostMemory::new(p, self.lib())
            .ok_or_else(|| self.lib().failure("ICudaEngine::serializeWithConfig", mark).refused())
    }

    /// `createInferRefitter(engine, logger)`, with weight validation off and `threads` workers
    /// where the library allows (faster refits; see trt-abi.md).
    pub fn create_refitter(self: &Rc<Self>, threads: i32) -> anyhow::Result<Refitter> {
        let lib = self.lib();
        let mark = lib.sink.mark();
        // SAFETY: the engine is live (held by the Refitter), and the logger belongs to the runtime,
        // which the Refitter keeps alive through the engine.
        let p = unsafe { lib.lib.create_refitter(self.raw.ptr(), self.runtime.logger_ptr()) };
        // SAFETY: the IRefitter returned is owned by the caller.
        let raw =
            unsafe { Raw::new(p, "IRefitter") }.ok_or_else(|| lib.failure("createInferRefitter", mark).refused())?;
        let r = Refitter {
            raw,
            engine: self.clone(),
        };
        r.set_weights_validation(false);
        r.set_max_threads(threads);
        Ok(r)
    }
}

/// `IRefitter`, holding its engine.
pub struct Refitter {
    raw: Raw,
    engine: Rc<CudaEngine>,
}

impl Refitter {
    fn lib(&self) -> &Lib {
        self.engine.lib()
    }

    fn slots(&self) -> &'static abi::RefitterSlots {
        &self.lib().layout().refitter
    }

    pub fn engine(&self) -> &Rc<CudaEngine> {
        &self.engine
    }

    /// Calls `getAllWeights` / `getMissingWeights` (count first, then the names).
    fn names(&self, slot: Slot) -> Vec<CString> {
        // SAFETY: `int32_t f(int32_t size, char const** names)`: size 0 with null asks for the count.
        let n = unsafe {
            let (this, f) = self.raw.method::<abi::FnNames>(slot);
            f(this, 0, std::ptr::null_mut())
        };
        let mut ptrs: Vec<*const c_char> = vec![std::ptr::null(); n.max(0) as usize];
        // SAFETY: `ptrs` has room for `n` pointers; TensorRT writes at most that many, pointing at
        // strings the refitter owns, copied below before any other call.
        let got = unsafe {
            let (this, f) = self.raw.method::<abi::FnNames>(slot);
            f(this, n.max(0), ptrs.as_mut_ptr())
        };
        ptrs.truncate(got.clamp(0, n.max(0)) as usize);
        ptrs.into_iter()
            .filter(|p| !p.is_null())
            // SAFETY: non-null NUL-terminated names owned by the refitter.
            .map(|p| unsafe { CStr::from_ptr(p) }.to_owned())
            .collect()
    }

    /// `getAllWeights`: every refittable weight's name.
    pub fn all_weights(&self) -> Vec<CString> {
        self.names(self.slots().get_all_weights)
    }

    /// `getMissingWeights`: names still to be set before `refitCudaEngine`.
    pub fn missing_weights(&self) -> Vec<CString> {
        self.names(self.slots().get_missing_weights)
    }

    /// `getWeightsPrototype(name)`: the refit dtype (TensorRT's i32) and element count.
    pub fn weights_prototype(&self, name: &CStr) -> anyhow::Result<(i32, i64)> {
        let slot = self.slots().get_weights_prototype;
        self.lib().check(slot, "IRefitter::getWeightsPrototype")?;
        let mark = self.lib().sink.mark();
        // SAFETY: `Weights getWeightsPrototype(char const*) const`, returned through a hidden
        // pointer as the #[repr(C)] Weights is (check.cpp: `Weights.size 24`).
        let w: Weights = unsafe {
            let (this, f) = self.raw.method::<abi::FnNamedWeights>(slot);
            f(this, name.as_ptr())
        };
        if w.count < 0 {
            return Err(self
                .lib()
                .failure(&format!("getWeightsPrototype(`{}`)", name.to_string_lossy()), mark)
                .refused());
        }
        Ok((w.dtype, w.count))
    }

    /// `setNamedWeights(name, {dtype, values, count})`.
    ///
    /// # Safety
    /// `values` must hold `count` elements of `dtype` and stay valid and unchanged until the next
    /// `refitCudaEngine` (or `unsetNamedWeights` of this name): TensorRT keeps the pointer.
    pub unsafe fn set_named_weights(
        &self,
        name: &CStr,
        dtype: i32,
        values: *const c_void,
        count: i64,
    ) -> Result<(), TrtFailure> {
        let mark = self.lib().sink.mark();
        // SAFETY: `bool setNamedWeights(char const*, Weights)`; Weights is passed by value on the
        // stack as the #[repr(C)] struct is; the caller vouches for the buffer.
        let ok = unsafe {
            let (this, f) = self
                .raw
                .method::<abi::FnSetNamedWeights>(self.slots().set_named_weights);
            f(this, name.as_ptr(), Weights { dtype, values, count })
        };
        if ok != 0 {
            Ok(())
        } else {
            Err(self
                .lib()
                .failure(&format!("setNamedWeights(`{}`)", name.to_string_lossy()), mark))
        }
    }

    /// `getNamedWeights(name)`: echoes what was set since the last refit (values null if nothing).
    pub fn named_weights(&self, name: &CStr) -> Weights {
        // SAFETY: `Weights getNamedWeights(char const*) const`, returned through a hidden pointer.
        unsafe {
            let (this, f) = self.raw.method::<abi::FnNamedWeights>(self.slots().get_named_weights);
            f(this, name.as_ptr())
        }
    }

    /// `unsetNamedWeights(name)`.
    pub fn unset_named_weights(&self, name: &CStr) -> bool {
        // SAFETY: `bool unsetNamedWeights(char const*)`.
        unsafe {
            let (this, f) = self.raw.method::<abi::FnByName>(self.slots().unset_named_weights);
            f(this, name.as_ptr()) != 0
        }
    }

    /// `refitCudaEngine()`.
    pub fn refit_cuda_engine(&self) -> Result<(), TrtFailure> {
        let mark = self.lib().sink.mark();
        // SAFETY: `bool refitCudaEngine()`; the buffers set are the caller's responsibility
        // (see `set_named_weights`).
        let ok = unsafe {
            let (this, f) = self.raw.method::<abi::FnAction>(self.slots().refit_cuda_engine);
            f(this)
        };
        if ok != 0 {
            Ok(())
        } else {
            Err(self.lib().failure("refitCudaEngine", mark))
        }
    }

    /// `setWeightsValidation(on)`, where the library has it.
    pub fn set_weights_validation(&self, on: bool) -> bool {
        let slot = self.slots().set_weights_validation;
        if !self.lib().layout().has(slot, self.lib().minor()) {
            return false;
        }
        // SAFETY: `void setWeightsValidation(bool)`, present in this minor.
        unsafe {
            let (this, f) = self.raw.method::<abi::FnSetBool>(slot);
            f(this, on);
        }
        true
    }

    /// `setMaxThreads(n)`, where the library has it.
    pub fn set_max_threads(&self, n: i32) -> bool {
        let slot = self.slots().set_max_threads;
        if !self.lib().layout().has(slot, self.lib().minor()) {
            return false;
        }
        // SAFETY: `bool setMaxThreads(int32_t)`, present in this minor.
        unsafe {
            let (this, f) = self.raw.method::<abi::FnSetI32>(slot);
            f(this, n) != 0
        }
    }
}

/// `ISerializationConfig`, holding its engine.
pub struct SerializationConfig {
    raw: Raw,
    engine: Rc<CudaEngine>,
}

impl SerializationConfig {
    fn slots(&self) -> &'static abi::SerializationConfigSlots {
        &self.engine.lib().layout().serialization_config
    }

    /// `setFlags(bits)`.
    pub fn set_flags(&self, flags: u32) -> bool {
        // SAFETY: `bool setFlags(SerializationFlags)` (a uint32_t).
        unsafe {
            let (this, f) = self.raw.method::<abi::FnSetFlags>(self.slots().set_flags);
            f(this, flags) != 0
        }
    }

    /// `getFlags()`.
    pub fn flags(&self) -> u32 {
        // SAFETY: `SerializationFlags getFlags() const`.
        unsafe {
            let (this, f) = self.raw.method::<abi::FnGetFlags>(self.slots().get_flags);
            f(this)
        }
    }

    /// `setFlag(flag)` / `clearFlag(flag)`.
    pub fn set_flag(&self, flag: i32, on: bool) -> bool {
        let slot = if on {
            self.slots().set_flag
        } else {
            self.slots().clear_flag
        };
        // SAFETY: `bool setFlag(SerializationFlag)` / `bool clearFlag(SerializationFlag)`.
        unsafe {
            let (this, f) = self.raw.method::<abi::FnFlag>(slot);
            f(this, flag) != 0
        }
    }

    /// `getFlag(flag)`.
    pub fn flag(&self, flag: i32) -> bool {
        // SAFETY: `bool getFlag(SerializationFlag) const`.
        unsafe {
            let (this, f) = self.raw.method::<abi::FnFlag>(self.slots().get_flag);
            f(this, flag) != 0
        }
    }
}

/// `IHostMemory`: a serialized plan, read in place (no copy) and released once.
pub struct HostMemory {
    raw: Raw,
    data: *const u8,
    len: usize,
    /// The destructor lives in the library.
    _lib: Arc<TrtLib>,
}

// SAFETY: IHostMemory is a plain host buffer with no thread affinity; it is only read (through
// `bytes`) and released once, from whichever thread owns it.
unsafe impl Send for HostMemory {}

impl HostMemory {
    fn new(p: *mut c_void, lib: &Lib) -> Option<HostMemory> {
        // SAFETY: `p` is null or an IHostMemory the caller just received and owns.
        let raw = unsafe { Raw::new(p, "IHostMemory") }?;
        let h = &abi::HOST_MEMORY;
        // SAFETY: `void* data() const` and `size_t size() const` of VHostMemory (same in every
        // layout; check.cpp: `VHostMemory::data 2`, `VHostMemory::size 3`).
        let (data, len) = unsafe {
            let (this, data) = raw.method::<abi::FnGetPtr>(h.data);
            let (_, size) = raw.method::<abi::FnGetUsize>(h.size);
            (data(this) as *const u8, size(this))
        };
        if data.is_null() && len > 0 {
            return None;
        }
        Some(HostMemory {
            raw,
            data,
            len,
            _lib: lib.lib.clone(),
        })
    }

    /// `IHostMemory::type()` (kUINT8 for a plan).
    pub fn data_type(&self) -> i32 {
        // SAFETY: `DataType type() const`.
        unsafe {
            let (this, f) = self.raw.method::<abi::FnGetI32>(abi::HOST_MEMORY.data_type);
            f(this)
        }
    }
}

impl crate::pipeline::PlanBytes for HostMemory {
    fn bytes(&self) -> &[u8] {
        if self.len == 0 {
            return &[];
        }
        // SAFETY: data/len describe the buffer IHostMemory owns, which lives until `self` drops
        // and is never written through this handle.
        unsafe { std::slice::from_raw_parts(self.data, self.len) }
    }
}
