//! proptest strategies over the simulator. Declared beside `sim` in `tests/sim/main.rs`:
//! `#[path = "../support/sim.rs"] mod sim; #[path = "../support/sim_prop.rs"] mod sim_prop;`

use proptest::prelude::*;

use crate::sim::gen::{random_refit_values, random_spec, GenConfig};
use crate::sim::SimSpec;

/// Random engines (shrinks towards fewer weights, then smaller seeds).
pub fn arb_spec(cfg: GenConfig) -> impl Strategy<Value = SimSpec> {
    (0..=cfg.max_weights, any::<u64>()).prop_map(move |(n, seed)| random_spec(seed, n, &cfg))
}

/// A random engine together with random refit values for its weights.
pub fn arb_spec_and_values(cfg: GenConfig) -> impl Strategy<Value = (SimSpec, Vec<Vec<u8>>)> {
    (arb_spec(cfg), any::<u64>()).prop_map(|(spec, seed)| {
        let v = random_refit_values(&spec.layout.weights, seed);
        (spec, v)
    })
}
