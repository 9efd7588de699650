//! Extraction: marker passes over an [`Engine`], decoding where each element is stored, reading
//! the values, and the round-trip proof. Pure: no files, environment, clocks or TensorRT here.

pub mod align;
pub mod assemble;
pub mod code;
pub mod decode;
pub mod engine;
pub mod extract;
pub mod ids;
pub mod layout;
pub mod packed;
pub mod par;
pub mod proof;

pub use engine::{Engine, Instance, PlanBytes, WeightSpec};
pub use layout::Run;
