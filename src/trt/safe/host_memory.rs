//! `IHostMemory`.

use std::ffi::c_void;
use std::sync::Arc;

use crate::trt::abi;
use crate::trt::loader::TrtLib;
use crate::trt::result::{trt, Ctx, Obj};

/// `IHostMemory`: a serialized plan, read in place (no copy) and released once.
pub struct HostMemory {
    obj: Obj,
    data: *const u8,
    len: usize,
    /// The destructor lives in the library.
    _lib: Arc<TrtLib>,
}

// SAFETY: IHostMemory is a plain host buffer with no thread affinity; it is only read (through
// `bytes`) and released once, from whichever thread owns it.
unsafe impl Send for HostMemory {}

impl HostMemory {
    /// Takes ownership of `p`; `None` when it is null, has no `mImpl`, or reports bytes at a null
    /// address.
    ///
    /// # Safety
    /// `p` must be null or an `IHostMemory*` of the library of `ctx` that the caller just received
    /// from TensorRT and owns (it is released when the `HostMemory` drops, or at once on `None`
    /// for a null buffer).
    pub(crate) unsafe fn new(p: *mut c_void, ctx: &Ctx) -> Option<HostMemory> {
        // SAFETY: per this function's contract, `p` is null or an owned IHostMemory.
        let obj = unsafe { Obj::new(p, "IHostMemory") }?;
        let h = &abi::HOST_MEMORY;
        // SAFETY: `void* data() const` and `size_t size() const` of VHostMemory (same in every
        // layout; check.cpp: `VHostMemory::data 2`, `VHostMemory::size 3`).
        let (data, len) = unsafe { (trt!(obj, h.data) as *const u8, trt!(obj, h.size)) };
        if data.is_null() && len > 0 {
            return None;
        }
        Some(HostMemory {
            obj,
            data,
            len,
            _lib: ctx.lib.clone(),
        })
    }

    /// `IHostMemory::type()` (kUINT8 for a plan).
    pub fn data_type(&self) -> i32 {
        // SAFETY: `DataType type() const`, in every layout.
        unsafe { trt!(self.obj, abi::HOST_MEMORY.data_type) }
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
