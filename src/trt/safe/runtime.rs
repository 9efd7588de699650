//! `IRuntime`.

use std::any::Any;
use std::ffi::c_void;
use std::rc::Rc;
use std::sync::Arc;

use super::engine::CudaEngine;
use crate::trt::loader::TrtLib;
use crate::trt::logger::{self, LogSink, TrtLogger};
use crate::trt::result::{trt, Ctx, Obj, TrtFailure};

/// `IRuntime`, with whatever must outlive it (the GPU context). Fields drop in declaration order:
/// the IRuntime, then the context, then the library.
pub struct Runtime {
    obj: Obj,
    _keep: Option<Box<dyn Any>>,
    pub(crate) ctx: Ctx,
    logger: &'static TrtLogger,
}

impl Runtime {
    /// `createInferRuntime`, with the process's logger for this library's layout. `keep` is
    /// dropped after the runtime (the CUDA context it runs in).
    pub fn new(lib: Arc<TrtLib>, keep: Option<Box<dyn Any>>) -> Result<Rc<Runtime>, TrtFailure> {
        let logger = logger::process_logger(lib.layout.logger);
        let ctx = Ctx {
            lib,
            sink: logger.sink().clone(),
        };
        let mark = ctx.sink.mark();
        // SAFETY: the logger has the library's ILogger layout and is never freed.
        let p = unsafe { ctx.lib.create_runtime(logger.as_ptr()) };
        // SAFETY: the pointer is the IRuntime just created, owned here.
        let obj = unsafe { Obj::new(p, "IRuntime") }
            .ok_or_else(|| ctx.failure("createInferRuntime", mark))?;
        Ok(Rc::new(Runtime {
            obj,
            _keep: keep,
            ctx,
            logger,
        }))
    }

    pub fn lib(&self) -> &Arc<TrtLib> {
        &self.ctx.lib
    }

    pub fn sink(&self) -> &Arc<LogSink> {
        &self.ctx.sink
    }

    /// The `ILogger*` the runtime was created with.
    pub(crate) fn logger_ptr(&self) -> *mut c_void {
        self.logger.as_ptr()
    }

    /// `IRuntime::deserializeCudaEngine(blob, size)`.
    pub fn deserialize(self: &Rc<Self>, blob: &[u8]) -> Result<Rc<CudaEngine>, TrtFailure> {
        let slot = self.ctx.layout().runtime.deserialize_cuda_engine;
        // SAFETY: `ICudaEngine* deserializeCudaEngine(void const*, size_t)`; TensorRT copies what
        // it needs from `blob` during the call; the engine returned is owned by the caller.
        let obj = unsafe {
            trt!(new "ICudaEngine", &self.ctx, "deserializeCudaEngine", self.obj, slot,
                blob.as_ptr() as *const c_void, blob.len())
        }?;
        Ok(Rc::new(CudaEngine::from_parts(obj, self.clone())))
    }
}
