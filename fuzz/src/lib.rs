//! The fuzz targets, shared with `tests/io/reliability_fuzz_corpus.rs` (which includes `targets.rs`).
#[path = "targets.rs"]
mod targets;
pub use targets::*;
