//! Integration tests built on the TensorRT simulator, in one test binary so the simulator and its
//! helpers compile once: the simulator itself and extraction over it (property tests), the
//! stand-in TensorRT library, the real binary end to end on simulated engines and on the bundled
//! fixtures, and the reliability guarantees (faults, Ctrl-C, hostile inputs).
//!
//! Run one file's tests with a module filter: `cargo test --test sim cli_verify::`.
//!
//! Nothing here changes process-wide state in this process: the Ctrl-C, verbosity and fault tests
//! run the real binary (or `sim-plan`) as a child process.

// The simulator stays in tests/support/: tests/standin (the stand-in library) and benches/passes.rs
// include the same files by path.
#[path = "../support/sim.rs"]
mod sim;
#[path = "../support/sim_prop.rs"]
mod sim_prop;
#[path = "../support/standin.rs"]
mod standin;

// Helpers, declared before the tests so their macros are in scope.
#[macro_use]
mod cli_support;
mod reliability_common;

mod cli_dump;
mod cli_engine_dir;
mod cli_fixture;
mod cli_verify;
mod extract_sim;
mod extract_stress;
mod refit;
mod reliability_faults;
mod reliability_guarantees;
mod reliability_inputs;
mod say_edges;
mod say_maps;
mod selftest_strip;
mod sim_behaviour;
mod sim_standin;
mod sim_truth;
mod view;

// The seed's method lives in the benchmark (benches/passes/reference.rs), not in the library; its
// own checks run here too, so `cargo test` still covers it.
#[path = "../../benches/passes/reference.rs"]
#[allow(dead_code)]
mod bench_reference;

#[test]
fn the_seeds_method_in_the_benchmark_passes_its_checks() {
    bench_reference::self_check();
}
