//! Options, parsed with clap: `cargo bench --bench passes -- [OPTIONS]`.

use anyhow::{bail, Result};
use clap::Parser;
use serde::{Deserialize, Serialize};

use crate::sim::models::{self, Storage};
use crate::sim::SimSpec;

pub(crate) const MODELS: [&str; 4] = ["tiny_mlp", "bert_tiny", "bert_base", "decoder_1b"];
pub(crate) const QUICK_MODELS: [&str; 2] = ["tiny_mlp", "bert_tiny"];
/// Run only when named with `--models`: the decoder's row width (2048) at a size a development
/// machine holds (2 layers, vocab 4096: 120 M parameters), for map reading of fused transposed
/// buffers.
pub(crate) const EXTRA_MODELS: [&str; 1] = ["decoder_2l"];

/// The command line as given.
#[derive(Parser, Debug)]
#[command(
    name = "passes",
    override_usage = "cargo bench --bench passes -- [OPTIONS]",
    about = "Where trt-dump stands on the TensorRT simulator: passes, host time and peak memory, beside the reference method (docs/bench.md)"
)]
struct Cli {
    /// print the results as JSON on stdout (the table goes to stderr)
    #[arg(long)]
    json: bool,
    /// tiny_mlp and bert_tiny only (seconds)
    #[arg(long, conflicts_with = "models")]
    quick: bool,
    /// of tiny_mlp, bert_tiny, bert_base, decoder_1b (default: these four), decoder_2l
    #[arg(long, value_name = "A,B,...", value_delimiter = ',')]
    models: Option<Vec<String>>,
    /// of fp32, fp16, fp32-as-fp16 (default: fp32,fp16)
    #[arg(long = "storage", value_name = "S,...", value_delimiter = ',')]
    storages: Option<Vec<String>>,
    /// run the reference method in full up to N passes, otherwise time a sample of its passes and
    /// extrapolate
    #[arg(long, value_name = "N", default_value_t = 3000)]
    ref_full_max: u64,
    /// reference passes timed when sampling (at least 2)
    #[arg(long, value_name = "N", default_value_t = 4)]
    ref_sample: u64,
    /// seconds per case for repeating small measurements
    #[arg(long = "repeat-budget", value_name = "S", default_value_t = 2.0)]
    repeat_budget_s: f64,
    /// run cases that look too large for the available memory
    #[arg(long)]
    force: bool,
    /// no child processes (peak memory then covers every case so far)
    #[arg(long)]
    in_process: bool,
    /// skip the extraction with serializations spilled to files (halves the time of a case; its
    /// memory columns then read 0)
    #[arg(long)]
    no_spill: bool,
    /// Run one case and print its row as JSON (how the parent runs each case in a child).
    #[arg(long, num_args = 2, value_names = ["MODEL", "STORAGE"], hide = true)]
    child: Option<Vec<String>>,
    /// Passed by `cargo bench` to harness = false targets; ignored.
    #[arg(long, hide = true)]
    bench: bool,
}

/// The options a run uses (recorded in the JSON report as they are).
#[derive(Clone, Debug, Serialize, Deserialize)]
pub(crate) struct Args {
    pub(crate) json: bool,
    pub(crate) models: Vec<String>,
    pub(crate) storages: Vec<String>,
    /// Run the reference method in full when it needs at most this many refit+serialize passes;
    /// otherwise time a sample and extrapolate.
    pub(crate) ref_full_max: u64,
    /// Reference passes timed when sampling.
    pub(crate) ref_sample: u64,
    /// Seconds a case may spend repeating our extraction and map reading for steadier figures.
    pub(crate) repeat_budget_s: f64,
    /// Run even when the case looks too large for the free memory.
    pub(crate) force: bool,
    /// Run cases in this process (no clean per-case peak memory).
    pub(crate) in_process: bool,
    /// Skip the second extraction with spilled serializations (its memory figure).
    pub(crate) no_spill: bool,
}

/// Parses the command line: the options, and the case to run when this is a child.
pub(crate) fn parse_args() -> Result<(Args, Option<(String, String)>)> {
    let cli = Cli::parse();
    let strings = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
    let nonempty = |v: Vec<String>| v.into_iter().filter(|s| !s.is_empty()).collect::<Vec<_>>();
    let models = match (cli.quick, cli.models) {
        (true, _) => strings(&QUICK_MODELS),
        (false, Some(m)) => nonempty(m),
        (false, None) => strings(&MODELS),
    };
    let a = Args {
        json: cli.json,
        models,
        storages: cli
            .storages
            .map_or_else(|| strings(&["fp32", "fp16"]), nonempty),
        ref_full_max: cli.ref_full_max,
        ref_sample: cli.ref_sample.max(2),
        repeat_budget_s: cli.repeat_budget_s,
        force: cli.force,
        in_process: cli.in_process,
        no_spill: cli.no_spill,
    };
    let child = cli.child.map(|c| (c[0].clone(), c[1].clone()));
    for m in &a.models {
        if !MODELS.contains(&m.as_str()) && !EXTRA_MODELS.contains(&m.as_str()) {
            bail!(
                "unknown model `{m}` (one of {}, {})",
                MODELS.join(", "),
                EXTRA_MODELS.join(", ")
            );
        }
    }
    for s in &a.storages {
        storage(s)?;
    }
    Ok((a, child))
}

pub(crate) fn storage(s: &str) -> Result<Storage> {
    Ok(match s {
        "fp32" => Storage::Fp32,
        "fp16" => Storage::Fp16,
        "fp32-as-fp16" => Storage::Fp32AsFp16,
        _ => bail!("unknown storage `{s}` (fp32, fp16 or fp32-as-fp16)"),
    })
}

pub(crate) fn spec_of(model: &str, st: Storage) -> SimSpec {
    match model {
        "tiny_mlp" => models::tiny_mlp(st),
        "bert_tiny" => models::bert_tiny(st),
        "bert_base" => models::bert_base(st),
        "decoder_1b" => models::decoder_1b(st),
        "decoder_2l" => models::decoder(st, 0xDEC, 4096, 2048, 2, 5632),
        _ => unreachable!("checked in parse_args"),
    }
}
