//! `ISerializationConfig` (`refit` clears `kEXCLUDE_WEIGHTS` and sets `kINCLUDE_REFIT`: see
//! `TrtInstance::serialize_including_weights`).

use std::rc::Rc;

use super::engine::CudaEngine;
use crate::trt::abi;
use crate::trt::result::{trt, Obj};

/// `ISerializationConfig`, holding its engine.
pub struct SerializationConfig {
    obj: Obj,
    engine: Rc<CudaEngine>,
}

impl SerializationConfig {
    pub(super) fn from_parts(obj: Obj, engine: Rc<CudaEngine>) -> SerializationConfig {
        SerializationConfig { obj, engine }
    }

    pub(super) fn obj(&self) -> &Obj {
        &self.obj
    }

    fn slots(&self) -> &'static abi::SerializationConfigSlots {
        &self.engine.ctx().layout().serialization_config
    }

    /// `setFlags(bits)`.
    pub fn set_flags(&self, flags: u32) -> bool {
        // SAFETY: `bool setFlags(SerializationFlags)` (a uint32_t).
        unsafe { trt!(self.obj, self.slots().set_flags, flags) != 0 }
    }

    /// `getFlags()`.
    pub fn flags(&self) -> u32 {
        // SAFETY: `SerializationFlags getFlags() const`.
        unsafe { trt!(self.obj, self.slots().get_flags) }
    }

    /// `setFlag(flag)` / `clearFlag(flag)`.
    pub fn set_flag(&self, flag: i32, on: bool) -> bool {
        let slot = if on {
            self.slots().set_flag
        } else {
            self.slots().clear_flag
        };
        // SAFETY: `bool setFlag(SerializationFlag)` / `bool clearFlag(SerializationFlag)`.
        unsafe { trt!(self.obj, slot, flag) != 0 }
    }

    /// `getFlag(flag)`.
    pub fn flag(&self, flag: i32) -> bool {
        // SAFETY: `bool getFlag(SerializationFlag) const`.
        unsafe { trt!(self.obj, self.slots().get_flag, flag) != 0 }
    }
}
