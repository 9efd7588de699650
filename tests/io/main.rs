//! Integration tests of the formats, none of which needs the simulator: the writers (read back by
//! the reference Python readers), the reference readers on the fixtures and on hostile input,
//! `locate` and its map, names by value (`--names-from`, verify's pairing) on the real fixtures, the fuzz corpus replay and the fixed-bug regressions.
//!
//! Run one file's tests with a module filter: `cargo test --test io writer_safety::`.

mod writer_common;

mod locate_cli;
mod locate_fixtures;
mod locate_speed;
mod names_by_value;
mod reference_fixtures;
mod reference_hostile;
mod reference_mutations;
mod reliability_fuzz_corpus;
mod reliability_regressions;
mod selftest_export;
mod writer_roundtrip;
mod writer_safety;
