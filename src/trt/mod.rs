//! TensorRT, loaded at run time: the only module with `unsafe` code.
//!
//! Three layers, like cudarc's sys / result / safe:
//! - **raw**: [`loader`] finds the library and resolves its C entry points (`TrtLib`); [`abi`]
//!   transcribes the vtables of TensorRT 10.x, 11.x and TensorRT-RTX 1.x, each slot typed by its
//!   signature (`abi::Slot<F>`, `abi::SlotIndex<F>`); [`logger`] is the `ILogger` handed to
//!   TensorRT (one per process, never freed).
//! - **result** ([`result`], crate-private): an owned object pointer, the typed method lookup and
//!   the one call macro that turns null / `false` into a [`TrtFailure`] with TensorRT's messages.
//! - **safe** ([`safe`]): owning handles, one file per interface ([`Runtime`], [`CudaEngine`],
//!   [`Refitter`], [`HostMemory`], [`SerializationConfig`]).
//!
//! On top: [`Session`] (library + GPU + runtime + plugins), [`diagnosis`] (why TensorRT refused)
//! and [`TrtEngine`], which implements the pipeline's [`crate::pipeline::Engine`]. [`gpu`] selects
//! the GPU through cudarc. The engine file itself ([`crate::engine_file::EngineFile`]) needs no
//! TensorRT and lives outside this module.

pub mod abi;
mod diagnosis;
mod engine;
pub mod gpu;
pub mod loader;
pub mod logger;
pub(crate) mod result;
pub mod safe;
mod session;

pub use engine::{list_weights, not_refittable, TrtEngine};
pub use result::TrtFailure;
pub use safe::{
    BuildFlags, Builder, CudaEngine, HostMemory, IoTensor, Refitter, Runtime, SerializationConfig,
};
pub use session::{Options, Session};
