//! The safe layer: TensorRT's objects as owning handles, one file per interface. Each wraps its
//! pointer on the line that receives it ([`trt!`](super::result::trt)) and releases it exactly
//! once, in `Drop`, through its deleting destructor. Each holds a reference-counted pointer to
//! what it depends on, so whatever order callers drop things in, TensorRT sees refitter → engine →
//! runtime, then the GPU context and the library go: `Refitter` → `CudaEngine` → `Runtime` →
//! (GPU context, `TrtLib`). The logger is the process's ([`super::logger::process_logger`]).
//!
//! The handles are `Rc`, not `Arc`, and not `Send`: TensorRT works in the CUDA context current on
//! the thread that selected the GPU, so its objects stay on that thread. (`TrtLib`, `LogSink` and
//! a serialized `HostMemory` have no such tie and are shared with `Arc`.)

mod builder;
mod engine;
mod host_memory;
mod refitter;
mod runtime;
mod serialization_config;

pub use builder::{BuildFlags, Builder};
pub use engine::{CudaEngine, IoTensor};
pub use host_memory::HostMemory;
pub use refitter::Refitter;
pub use runtime::Runtime;
pub use serialization_config::SerializationConfig;
