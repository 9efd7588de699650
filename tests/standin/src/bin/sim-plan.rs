//! Writes a simulator engine file (and optionally its ground truth) for the stand-in library.
//!
//! sim-plan MODEL OUT.engine [--storage fp32|fp16|fp32-as-fp16] [--truth TRUTH.json] [--values]
//!          [--strip] [--length-change] [--not-refittable] [--fail-refit N] [--reject-weight K] [--slow MS]
//!
//! MODEL: tiny_mlp, bert_tiny, bert_base, decoder_1b, or random:SEED:N[:everything|recoverable|plain].
//! The truth JSON lists every weight (name, dtype, count, recovery, copies, and with --values its
//! expected values as hex in the refit dtype).
use std::process::ExitCode;

use anyhow::{bail, Context, Result};
use trt_dump_standin::sim::gen::{random_spec, GenConfig};
use trt_dump_standin::sim::models::{self, Storage};
use trt_dump_standin::sim::{Fill, Recovery, Segment, SimSpec};

fn spec_for(model: &str, storage: Storage) -> Result<SimSpec> {
    Ok(match model {
        "tiny_mlp" => models::tiny_mlp(storage),
        "bert_tiny" => models::bert_tiny(storage),
        "bert_base" => models::bert_base(storage),
        "decoder_1b" => models::decoder_1b(storage),
        m if m.starts_with("random:") => {
            let parts: Vec<&str> = m.split(':').collect();
            let seed: u64 = parts.get(1).context("random:SEED:N")?.parse()?;
            let n: usize = parts.get(2).context("random:SEED:N")?.parse()?;
            let cfg = match parts.get(3).copied().unwrap_or("everything") {
                "everything" => GenConfig::everything(),
                "recoverable" => GenConfig::recoverable(),
                "plain" => GenConfig::plain(),
                other => bail!("unknown generator config {other:?}"),
            };
            random_spec(seed, n, &cfg)
        }
        other => bail!("unknown model {other:?}"),
    })
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

fn run() -> Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.len() < 2 {
        bail!("usage: sim-plan MODEL OUT.engine [--storage fp32|fp16|fp32-as-fp16] [--truth T.json] [--values] [--strip] [--length-change] [--not-refittable] [--fail-refit N] [--reject-weight K] [--slow MS]");
    }
    let mut storage = Storage::Fp32;
    let mut truth_path = None;
    let mut values = false;
    let mut tweaks: Vec<String> = Vec::new();
    let mut it = args[2..].iter();
    while let Some(a) = it.next() {
        match a.as_str() {
            "--storage" => {
                storage = match it.next().map(String::as_str) {
                    Some("fp32") => Storage::Fp32,
                    Some("fp16") => Storage::Fp16,
                    Some("fp32-as-fp16") => Storage::Fp32AsFp16,
                    other => bail!("--storage {other:?}"),
                }
            }
            "--truth" => truth_path = Some(it.next().context("--truth PATH")?.clone()),
            "--values" => values = true,
            "--fail-refit" | "--reject-weight" | "--slow" => tweaks.push(format!("{a}={}", it.next().context("a number")?)),
            "--strip" | "--length-change" | "--not-refittable" => tweaks.push(a.clone()),
            other => bail!("unknown option {other:?}"),
        }
    }
    let mut spec = spec_for(&args[0], storage)?;
    for t in &tweaks {
        match t.split_once('=') {
            Some(("--fail-refit", n)) => spec.layout.faults.fail_refit = Some(n.parse()?),
            Some(("--reject-weight", k)) => spec.layout.faults.reject_weight = Some(k.parse()?),
            Some(("--slow", ms)) => spec.layout.faults.delay_ms = Some(ms.parse()?),
            _ if t == "--strip" => spec.layout.strip = true,
            _ if t == "--not-refittable" => spec.layout.not_refittable = true,
            _ if t == "--length-change" => {
                let at = spec.layout.segments.len() / 2;
                trt_dump_standin::sim::gen::insert_segment(
                    &mut spec,
                    at,
                    Segment::Volatile { fresh: 48, refitted: 112, fill: Fill::Adversarial(9) },
                );
            }
            _ => unreachable!(),
        }
    }
    let plan = spec.build()?;
    std::fs::write(&args[1], &plan.file).with_context(|| format!("writing {}", args[1]))?;
    if let Some(p) = truth_path {
        let t = &plan.truth;
        let weights: Vec<serde_json::Value> = t
            .weights
            .iter()
            .map(|w| {
                let recovery = match w.recovery {
                    Recovery::Exact => "exact".to_string(),
                    Recovery::Unrecoverable(why) => format!("{why:?}").to_lowercase(),
                };
                let copies: Vec<serde_json::Value> = w
                    .copies
                    .iter()
                    .map(|c| serde_json::json!({"stored": c.stored.name(), "fresh_offset": c.fresh_offset, "refitted_offset": c.refitted_offset, "order": format!("{:?}", c.order)}))
                    .collect();
                let mut o = serde_json::json!({
                    "name": w.spec.name, "dtype": w.spec.dtype.name(), "count": w.spec.count, "recovery": recovery,
                    "exact_original": w.exact_original, "copies_disagree": w.copies_disagree, "copies": copies,
                });
                if values {
                    o["values_hex"] = w.values.as_deref().map(hex).into();
                }
                o
            })
            .collect();
        let doc = serde_json::json!({
            "file_len": t.file_len, "fresh_len": t.fresh_len, "refitted_len": t.refitted_len, "weights": weights,
        });
        std::fs::write(&p, serde_json::to_vec_pretty(&doc)?).with_context(|| format!("writing {p}"))?;
    }
    eprintln!("sim-plan: wrote {} ({} bytes, {} weights)", args[1], plan.file.len(), plan.truth.weights.len());
    Ok(())
}

fn main() -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("sim-plan: error: {e:#}");
            ExitCode::from(2)
        }
    }
}
