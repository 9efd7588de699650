//! `IRefitter`.

use std::ffi::{c_char, c_void, CStr, CString};
use std::rc::Rc;

use super::engine::CudaEngine;
use crate::trt::abi::{self, FnNames, SlotIndex, Weights};
use crate::trt::result::{trt, Ctx, Obj, TrtFailure};

/// `IRefitter`, holding its engine.
pub struct Refitter {
    obj: Obj,
    engine: Rc<CudaEngine>,
}

impl Refitter {
    pub(super) fn from_parts(obj: Obj, engine: Rc<CudaEngine>) -> Refitter {
        Refitter { obj, engine }
    }

    fn ctx(&self) -> &Ctx {
        self.engine.ctx()
    }

    fn slots(&self) -> &'static abi::RefitterSlots {
        &self.ctx().layout().refitter
    }

    pub fn engine(&self) -> &Rc<CudaEngine> {
        &self.engine
    }

    /// Calls `getAllWeights` / `getMissingWeights` (count first, then the names).
    fn names(&self, slot: SlotIndex<FnNames>) -> Vec<CString> {
        // SAFETY: `int32_t f(int32_t size, char const** names)`: size 0 with null asks for the count.
        let n = unsafe { trt!(self.obj, slot, 0, std::ptr::null_mut()) };
        let mut ptrs: Vec<*const c_char> = vec![std::ptr::null(); n.max(0) as usize];
        // SAFETY: `ptrs` has room for `n` pointers; TensorRT writes at most that many, pointing at
        // strings the refitter owns, copied below before any other call.
        let got = unsafe { trt!(self.obj, slot, n.max(0), ptrs.as_mut_ptr()) };
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
        self.ctx().check(slot, "IRefitter::getWeightsPrototype")?;
        let mark = self.ctx().sink.mark();
        // SAFETY: `Weights getWeightsPrototype(char const*) const`, present in this minor (checked
        // above), returned through a hidden pointer as the #[repr(C)] Weights is (check.cpp:
        // `Weights.size 24`).
        let w: Weights = unsafe { trt!(self.obj, slot, name.as_ptr()) };
        if w.count < 0 {
            return Err(self
                .ctx()
                .failure(
                    &format!("getWeightsPrototype(`{}`)", name.to_string_lossy()),
                    mark,
                )
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
        let call = || format!("setNamedWeights(`{}`)", name.to_string_lossy());
        // SAFETY: `bool setNamedWeights(char const*, Weights)`; Weights is passed by value on the
        // stack as the #[repr(C)] struct is; the caller vouches for the buffer.
        unsafe {
            trt!(ok self.ctx(), call(), self.obj, self.slots().set_named_weights,
                name.as_ptr(), Weights { dtype, values, count })
        }
    }

    /// `getNamedWeights(name)`: echoes what was set since the last refit (values null if nothing).
    pub fn named_weights(&self, name: &CStr) -> Weights {
        // SAFETY: `Weights getNamedWeights(char const*) const`, returned through a hidden pointer.
        unsafe { trt!(self.obj, self.slots().get_named_weights, name.as_ptr()) }
    }

    /// `unsetNamedWeights(name)`.
    pub fn unset_named_weights(&self, name: &CStr) -> bool {
        // SAFETY: `bool unsetNamedWeights(char const*)`.
        unsafe { trt!(self.obj, self.slots().unset_named_weights, name.as_ptr()) != 0 }
    }

    /// `refitCudaEngine()`.
    pub fn refit_cuda_engine(&self) -> Result<(), TrtFailure> {
        // SAFETY: `bool refitCudaEngine()`; the buffers set are the caller's responsibility
        // (see `set_named_weights`).
        unsafe { trt!(ok self.ctx(), "refitCudaEngine", self.obj, self.slots().refit_cuda_engine) }
    }

    /// `setWeightsValidation(on)`, where the library has it.
    pub fn set_weights_validation(&self, on: bool) -> bool {
        let slot = self.slots().set_weights_validation;
        if !self.ctx().has(slot) {
            return false;
        }
        // SAFETY: `void setWeightsValidation(bool)`, present in this minor.
        unsafe { trt!(self.obj, slot, on) };
        true
    }

    /// `setMaxThreads(n)`, where the library has it.
    pub fn set_max_threads(&self, n: i32) -> bool {
        let slot = self.slots().set_max_threads;
        if !self.ctx().has(slot) {
            return false;
        }
        // SAFETY: `bool setMaxThreads(int32_t)`, present in this minor.
        unsafe { trt!(self.obj, slot, n) != 0 }
    }
}
