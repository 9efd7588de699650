//! Where trt-dump stands, on the TensorRT simulator (`tests/support/sim*.rs`): passes, host-side
//! throughput and peak memory of our extraction, the reference method's (the seed tool's
//! one-refit-per-weight / per-2048-element-fp16-chunk scheme, `reference.rs` here) in
//! the same run, and map-based extraction (`dump --map`). See docs/bench.md.
//!
//!     cargo bench --bench passes                       # table on stdout
//!     cargo bench --bench passes -- --json > out.json  # JSON on stdout, table on stderr
//!     cargo bench --bench passes -- --quick            # tiny_mlp and bert_tiny only
//!     cargo bench --bench passes -- --models bert_base --storage fp16
//!
//! Every model/storage case runs in a child process (this binary re-executed with `--child`), so
//! that its peak resident memory is its own. Nothing here is hard-coded: every figure printed is
//! measured in this run, except where a column says "extrapolated" (the reference method on
//! models where its tens of thousands of passes cannot be run in full).
//!
//! Timing model: the simulator stands in for TensorRT. Its refit+serialize is a memcpy plus a
//! re-layout of every stored buffer on the CPU; real TensorRT refits on the GPU and its
//! serialization costs differ. So "engine" seconds are the simulator's, and the pass counts are
//! what carries over to real engines; "host" seconds (everything that is not a refit, serialize
//! or deserialize call: marker buffers, diffing, decoding, reading, the proof's comparison) are
//! the tool's own work and carry over as they are.
#![allow(clippy::too_many_arguments)]

#[path = "../../tests/support/sim.rs"]
mod sim;

mod args;
mod case;
mod measure;
mod reference;
mod results;
mod table;

use std::io::Write;
use std::process::{Command, Stdio};
use std::time::Instant;

use anyhow::Result;

use args::parse_args;
use case::run_case;
use results::{machine, Report, Row};
use table::table;

fn main() -> Result<()> {
    let (a, child) = parse_args()?;
    reference::self_check();
    if let Some((model, st)) = child {
        let row = match run_case(&a, &model, &st) {
            Ok(r) => r,
            Err(e) => Row {
                model,
                storage: st,
                error: Some(format!("{e:#}")),
                ..Row::default()
            },
        };
        println!("{}", serde_json::to_string(&row)?);
        return Ok(());
    }
    let exe = std::env::current_exe()?;
    let mut rows = Vec::new();
    for model in &a.models {
        for st in &a.storages {
            eprintln!("[bench] {model} {st} ...");
            let t = Instant::now();
            let row = if a.in_process {
                run_case(&a, model, st).unwrap_or_else(|e| Row {
                    model: model.clone(),
                    storage: st.clone(),
                    error: Some(format!("{e:#}")),
                    ..Row::default()
                })
            } else {
                let mut cmd = Command::new(&exe);
                cmd.args(["--child", model, st]);
                cmd.args([
                    "--ref-full-max",
                    &a.ref_full_max.to_string(),
                    "--ref-sample",
                    &a.ref_sample.to_string(),
                ]);
                cmd.args(["--repeat-budget", &a.repeat_budget_s.to_string()]);
                if a.force {
                    cmd.arg("--force");
                }
                if a.no_spill {
                    cmd.arg("--no-spill");
                }
                let out = cmd
                    .stdout(Stdio::piped())
                    .stderr(Stdio::inherit())
                    .output()?;
                let text = String::from_utf8_lossy(&out.stdout);
                match text.lines().last().map(serde_json::from_str::<Row>) {
                    Some(Ok(r)) if out.status.success() => r,
                    other => Row {
                        model: model.clone(),
                        storage: st.clone(),
                        error: Some(format!(
                            "child failed ({}){}",
                            out.status,
                            match other {
                                Some(Err(e)) => format!(": {e}"),
                                _ => String::new(),
                            }
                        )),
                        ..Row::default()
                    },
                }
            };
            eprintln!(
                "[bench] {model} {st} done in {:.1} s",
                t.elapsed().as_secs_f64()
            );
            rows.push(row);
        }
    }
    let m = machine();
    let t = table(&rows, &m);
    if a.json {
        eprint!("{t}");
        let report = Report {
            tool: format!("trt-dump {}", env!("CARGO_PKG_VERSION")),
            unix_time: std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0),
            machine: m,
            args: a,
            rows,
            notes: vec![
                "Simulated TensorRT: engine seconds are the simulator's; pass counts and host seconds carry over.".into(),
                "Reference figures with full=false are extrapolated from measured_passes sampled passes.".into(),
            ],
        };
        let mut so = std::io::stdout().lock();
        serde_json::to_writer_pretty(&mut so, &report)?;
        writeln!(so)?;
    } else {
        print!("{t}");
    }
    Ok(())
}
