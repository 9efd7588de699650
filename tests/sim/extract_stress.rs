//! Not a pass/fail test: runs extraction over thousands of random simulated engines and prints how
//! often each outcome happens, so progress on the hard cases (length changes the runtime keeps,
//! small code books next to each other, folded weights) can be measured.
//!
//!     cargo test --release --test sim extract_stress:: -- --ignored --nocapture
//!     STRESS_SEEDS=5000 cargo test --release --test sim extract_stress:: -- --ignored --nocapture

use crate::sim;

use sim::gen::{random_spec, GenConfig};
use sim::Recovery;
use trt_dump::pipeline::extract::{self, InMemory, Options, Proof, Quiet};

#[test]
#[ignore = "a report, not a check: run it by hand"]
fn outcome_rates_over_random_engines() {
    let n: u64 = std::env::var("STRESS_SEEDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(1500);
    let configs = [
        ("plain", GenConfig::plain()),
        (
            "recoverable, no length change",
            GenConfig {
                length_change: false,
                header_quirks: false,
                ..GenConfig::recoverable()
            },
        ),
        ("recoverable", GenConfig::recoverable()),
        ("everything", GenConfig::everything()),
    ];
    for (name, cfg) in configs {
        let (
            mut weights,
            mut exact,
            mut lost,
            mut caught,
            mut flagged,
            mut silent,
            mut invented,
            mut errors,
        ) = (0u64, 0u64, 0u64, 0u64, 0u64, 0u64, 0u64, 0u64);
        for seed in 0..n {
            let spec = random_spec(seed, (seed % 8) as usize + 1, &cfg);
            let (engine, plan) = spec.engine().expect("valid spec");
            let x = match extract::extract(
                &engine,
                &plan.file,
                &Options::default(),
                &mut InMemory,
                &mut Quiet,
            ) {
                Ok(x) => x,
                Err(_) => {
                    errors += 1;
                    continue;
                }
            };
            let failed = matches!(x.proof, Proof::Failed { .. });
            for (i, t) in plan.truth.weights.iter().enumerate() {
                weights += 1;
                match (&t.recovery, &x.results[i].values.values) {
                    (Recovery::Exact, Some(v))
                        if Some(v) == t.values.as_ref() || t.copies_disagree =>
                    {
                        exact += 1
                    }
                    (Recovery::Exact, Some(_)) if failed => caught += 1,
                    (Recovery::Exact, Some(_)) if !x.proof_independent() => flagged += 1,
                    (Recovery::Exact, Some(_)) => silent += 1,
                    (Recovery::Exact, None) => lost += 1,
                    (Recovery::Unrecoverable(_), Some(_)) if failed || !x.proof_independent() => {
                        caught += 1
                    }
                    (Recovery::Unrecoverable(_), Some(_)) => invented += 1,
                    _ => exact += 1,
                }
            }
        }
        println!(
            "{name:32} {n} engines, {weights} weights: right {exact}, reported missing {lost}, wrong but proof failed {caught}, \
             wrong with proof flagged not independent {flagged}, WRONG UNNOTICED {silent}, INVENTED UNNOTICED {invented}, errors {errors}"
        );
    }
}
