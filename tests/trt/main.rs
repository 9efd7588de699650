//! Integration tests of the TensorRT binding: the ABI tables checked against NVIDIA's headers, the
//! binding end to end against a mock TensorRT built from them, and the CLI's library loading.
//!
//! Run one file's tests with a module filter: `cargo test --test trt trt_mock::`.
//!
//! A binary of its own: `trt_mock` loads the mock TensorRT libraries into this process (dlopen,
//! never unloaded) and reads their process-wide event log, serialised by its own lock. Kept apart,
//! no other test shares the process with foreign C++ code loaded into it.

// Shared with nothing else, but kept beside the C++ sources it builds (check.cpp, mock/).
#[path = "../abi/harness.rs"]
mod harness;

mod trt_abi;
mod trt_cli;
mod trt_mock;
mod trt_selftest;
mod trt_venv;
