//! trt-dump: extract every refittable weight from a REFIT-enabled TensorRT engine.
//!
//! Data flows one way: engine bytes → [`trt`] (TensorRT, loaded at run time) → [`pipeline`]
//! (marker passes, decoding, the round-trip proof) → [`map`] (where each weight lives) → values →
//! [`writer`] (safetensors, npz, npy). `pipeline` and `map` are pure functions over bytes and never
//! import `trt`; `cli` wires the pieces together.
#![deny(unsafe_code)]

pub mod cleanup;
pub mod cli;
pub mod compare;
pub mod dtype;
pub mod engine_dir;
pub mod engine_file;
pub mod error;
pub mod locate;
pub mod map;
pub mod messages;
pub mod mmap;
pub mod pairing;
pub mod pipeline;
pub mod plan;
pub mod reference;
pub mod refit;
pub mod scratch;
pub mod selftest;
pub mod shapes;
pub mod stats;
#[allow(unsafe_code)]
pub mod trt;
pub mod view;
pub mod writer;

pub use error::{Error, ErrorKind};
