//! Where trt-dump stands, on the TensorRT simulator (`tests/support/sim*.rs`): passes, host-side
//! throughput and peak memory of our extraction, the reference method's (the seed tool's
//! one-refit-per-weight / per-2048-element-fp16-chunk scheme, `trt_dump::pipeline::reference`) in
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

#[path = "../tests/support/sim.rs"]
mod sim;

use std::cell::Cell;
use std::io::Write;
use std::process::{Command, Stdio};
use std::time::Instant;

use anyhow::{bail, Context, Result};
use serde::{Deserialize, Serialize};
use sim::models::{self, Storage};
use sim::{SimEngine, SimSpec};
use trt_dump::pipeline::engine::{Engine, Instance, PlanBytes, WeightSpec};
use trt_dump::pipeline::extract::{self, InMemory, Observer, Options, Stage};
use trt_dump::pipeline::{assemble, ids::IdSpace, reference};

const MODELS: [&str; 4] = ["tiny_mlp", "bert_tiny", "bert_base", "decoder_1b"];
const QUICK_MODELS: [&str; 2] = ["tiny_mlp", "bert_tiny"];

// ---------------------------------------------------------------------------------------------
// Options
// ---------------------------------------------------------------------------------------------

#[derive(Clone, Debug, Serialize, Deserialize)]
struct Args {
    json: bool,
    models: Vec<String>,
    storages: Vec<String>,
    /// Run the reference method in full when it needs at most this many refit+serialize passes;
    /// otherwise time a sample and extrapolate.
    ref_full_max: u64,
    /// Reference passes timed when sampling.
    ref_sample: u64,
    /// Seconds a case may spend repeating our extraction and map reading for steadier figures.
    repeat_budget_s: f64,
    /// Run even when the case looks too large for the free memory.
    force: bool,
    /// Run cases in this process (no clean per-case peak memory).
    in_process: bool,
    /// Skip the second extraction with spilled serializations (its memory figure).
    no_spill: bool,
}

const HELP: &str = "\
cargo bench --bench passes -- [OPTIONS]

  --json                 print the results as JSON on stdout (the table goes to stderr)
  --quick                tiny_mlp and bert_tiny only (seconds)
  --models A,B,...       of tiny_mlp, bert_tiny, bert_base, decoder_1b (default: all)
  --storage S,...        of fp32, fp16, fp32-as-fp16 (default: fp32,fp16)
  --ref-full-max N       run the reference method in full up to N passes (default 3000),
                         otherwise time a sample of its passes and extrapolate
  --ref-sample N         reference passes timed when sampling (default 4)
  --repeat-budget S      seconds per case for repeating small measurements (default 2)
  --force                run cases that look too large for the available memory
  --in-process           no child processes (peak memory then covers every case so far)
  --no-spill             skip the extraction with serializations spilled to files (halves the
                         time of a case; its memory columns then read 0)
";

fn parse_args() -> Result<(Args, Option<(String, String)>)> {
    let mut a = Args {
        json: false,
        models: MODELS.iter().map(|s| s.to_string()).collect(),
        storages: vec!["fp32".into(), "fp16".into()],
        ref_full_max: 3000,
        ref_sample: 4,
        repeat_budget_s: 2.0,
        force: false,
        in_process: false,
        no_spill: false,
    };
    let mut child = None;
    let mut it = std::env::args().skip(1);
    let list = |v: Option<String>| -> Result<Vec<String>> {
        Ok(v.context("missing value")?.split(',').filter(|s| !s.is_empty()).map(str::to_string).collect())
    };
    while let Some(arg) = it.next() {
        match arg.as_str() {
            // cargo bench passes --bench to harness = false targets.
            "--bench" => {}
            "--json" => a.json = true,
            "--quick" => a.models = QUICK_MODELS.iter().map(|s| s.to_string()).collect(),
            "--models" => a.models = list(it.next())?,
            "--storage" => a.storages = list(it.next())?,
            "--ref-full-max" => a.ref_full_max = it.next().context("--ref-full-max N")?.parse()?,
            "--ref-sample" => a.ref_sample = it.next().context("--ref-sample N")?.parse::<u64>()?.max(2),
            "--repeat-budget" => a.repeat_budget_s = it.next().context("--repeat-budget S")?.parse()?,
            "--force" => a.force = true,
            "--in-process" => a.in_process = true,
            "--no-spill" => a.no_spill = true,
            "--child" => {
                let m = it.next().context("--child MODEL STORAGE")?;
                let s = it.next().context("--child MODEL STORAGE")?;
                child = Some((m, s));
            }
            "-h" | "--help" => {
                print!("{HELP}");
                std::process::exit(0);
            }
            other => bail!("unknown argument `{other}`\n{HELP}"),
        }
    }
    for m in &a.models {
        if !MODELS.contains(&m.as_str()) {
            bail!("unknown model `{m}` (one of {})", MODELS.join(", "));
        }
    }
    for s in &a.storages {
        storage(s)?;
    }
    Ok((a, child))
}

fn storage(s: &str) -> Result<Storage> {
    Ok(match s {
        "fp32" => Storage::Fp32,
        "fp16" => Storage::Fp16,
        "fp32-as-fp16" => Storage::Fp32AsFp16,
        _ => bail!("unknown storage `{s}` (fp32, fp16 or fp32-as-fp16)"),
    })
}

fn spec_of(model: &str, st: Storage) -> SimSpec {
    match model {
        "tiny_mlp" => models::tiny_mlp(st),
        "bert_tiny" => models::bert_tiny(st),
        "bert_base" => models::bert_base(st),
        "decoder_1b" => models::decoder_1b(st),
        _ => unreachable!("checked in parse_args"),
    }
}

// ---------------------------------------------------------------------------------------------
// Measuring: a timing wrapper around the engine, an observer that stamps stages, /proc
// ---------------------------------------------------------------------------------------------

/// Time spent inside the engine (the simulated TensorRT) and calls made.
#[derive(Default)]
struct EngineStats {
    seconds: Cell<f64>,
    instances: Cell<u64>,
    refits: Cell<u64>,
    serializes: Cell<u64>,
}

impl EngineStats {
    fn add(&self, t: Instant, count: &Cell<u64>) {
        self.seconds.set(self.seconds.get() + t.elapsed().as_secs_f64());
        count.set(count.get() + 1);
    }
}

/// The engine, with every call timed: what is not in here is host-side work.
struct Timed<'a> {
    inner: &'a SimEngine,
    stats: &'a EngineStats,
}

struct TimedInstance<'a> {
    inner: Box<dyn Instance + 'a>,
    stats: &'a EngineStats,
}

impl Engine for Timed<'_> {
    fn weights(&self) -> &[WeightSpec] {
        self.inner.weights()
    }
    fn instance(&self) -> Result<Box<dyn Instance + '_>> {
        let t = Instant::now();
        let inner = self.inner.instance()?;
        self.stats.add(t, &self.stats.instances);
        Ok(Box::new(TimedInstance { inner, stats: self.stats }))
    }
    fn instance_of(&self, plan: &[u8]) -> Result<Box<dyn Instance + '_>> {
        let t = Instant::now();
        let inner = self.inner.instance_of(plan)?;
        self.stats.add(t, &self.stats.instances);
        Ok(Box::new(TimedInstance { inner, stats: self.stats }))
    }
}

impl Instance for TimedInstance<'_> {
    fn serialize(&mut self) -> Result<Box<dyn PlanBytes>> {
        let t = Instant::now();
        let out = self.inner.serialize()?;
        self.stats.add(t, &self.stats.serializes);
        Ok(out)
    }
    fn refit(&mut self, values: &[&[u8]]) -> Result<()> {
        let t = Instant::now();
        self.inner.refit(values)?;
        self.stats.add(t, &self.stats.refits);
        Ok(())
    }
}

/// Stamps every stage with wall time and engine time so far.
struct Clock<'a> {
    t0: Instant,
    stats: &'a EngineStats,
    stamps: Vec<(Stage, f64, f64)>,
    decode_end: Option<f64>,
}

impl<'a> Clock<'a> {
    fn new(stats: &'a EngineStats) -> Clock<'a> {
        Clock { t0: Instant::now(), stats, stamps: Vec::new(), decode_end: None }
    }
    fn at(&self, want: impl Fn(Stage) -> bool) -> Option<f64> {
        self.stamps.iter().find(|(s, ..)| want(*s)).map(|(_, t, _)| *t)
    }
}

impl Observer for Clock<'_> {
    fn stage(&mut self, stage: Stage) {
        self.stamps.push((stage, self.t0.elapsed().as_secs_f64(), self.stats.seconds.get()));
    }
    fn bytes(&mut self, done: u64, total: u64) {
        // decode() reports the full length once, when its scan is over.
        if done == total {
            self.decode_end = Some(self.t0.elapsed().as_secs_f64());
        }
    }
}

fn proc_status_kb(key: &str) -> Option<u64> {
    let s = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = s.lines().find(|l| l.starts_with(key))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

/// Resets VmHWM to the current RSS (Linux ≥ 4.0: `echo 5 > /proc/self/clear_refs`), so a peak
/// read afterwards covers only what follows.
fn reset_peak() -> bool {
    std::fs::write("/proc/self/clear_refs", "5").is_ok()
}

/// Samples RssAnon (anonymous resident memory, not file-backed pages) every 2 ms on a thread,
/// keeping the maximum.
struct AnonPeak {
    stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
    handle: std::thread::JoinHandle<u64>,
}

impl AnonPeak {
    fn start() -> AnonPeak {
        let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let flag = stop.clone();
        let handle = std::thread::spawn(move || {
            let mut max = 0;
            loop {
                max = max.max(proc_status_kb("RssAnon:").unwrap_or(0) * 1024);
                if flag.load(std::sync::atomic::Ordering::Relaxed) {
                    return max;
                }
                std::thread::sleep(std::time::Duration::from_millis(2));
            }
        });
        AnonPeak { stop, handle }
    }

    fn stop(self) -> u64 {
        self.stop.store(true, std::sync::atomic::Ordering::Relaxed);
        self.handle.join().unwrap_or(0)
    }
}

fn rss_bytes() -> u64 {
    proc_status_kb("VmRSS:").unwrap_or(0) * 1024
}

fn peak_bytes() -> u64 {
    proc_status_kb("VmHWM:").unwrap_or(0) * 1024
}

fn mem_available() -> u64 {
    std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|s| {
            let l = s.lines().find(|l| l.starts_with("MemAvailable:"))?.to_string();
            l.split_whitespace().nth(1)?.parse::<u64>().ok()
        })
        .unwrap_or(0)
        * 1024
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    if v.is_empty() {
        return f64::NAN;
    }
    let n = v.len();
    if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    }
}

fn gbps(bytes: u64, seconds: f64) -> f64 {
    bytes as f64 / seconds / 1e9
}

// ---------------------------------------------------------------------------------------------
// Results
// ---------------------------------------------------------------------------------------------

#[derive(Clone, Debug, Default, Serialize, Deserialize)]
struct Ours {
    /// refit+serialize passes (baseline, markers, proof), as extraction counts them.
    refit_serialize: u64,
    serialize_only: u64,
    marker_passes: u64,
    /// The same counted at the engine (cross-check).
    engine_refits: u64,
    engine_serializes: u64,
    /// Median over `repeats` extractions.
    seconds: f64,
    engine_seconds: f64,
    host_seconds: f64,
    /// decode(): diffing every pass against the baseline and decoding, one thread.
    decode_seconds: f64,
    /// Engine bytes decoded per second (each byte of the engine is read in all P passes and the
    /// baseline: P + 1 images).
    decode_gbps: f64,
    /// The same work per marker pass: engine bytes × marker passes / decode seconds (each pass's
    /// image is diffed against the baseline and decoded; this is the rate at which one pass's
    /// worth of engine bytes goes through).
    decode_pass_gbps: f64,
    /// Aligning, reading values through the runs, the file alignment.
    read_seconds: f64,
    /// The proof (engine refit+serialize excluded).
    proof_host_seconds: f64,
    /// Marker buffers built for the refit calls (host) in normalise..markers.
    marker_host_seconds: f64,
    repeats: u64,
    proof: String,
    extracted: u64,
    /// Extracted weights whose values equal the simulator's ground truth.
    match_truth: u64,
    /// Resident memory when extraction started (the simulator's engine, which also plays the
    /// engine file) and the peak during the first extraction (VmHWM, whole process).
    rss_before: u64,
    peak_rss: u64,
    peak_over_engine: f64,
    /// One more extraction with the serializations spilled to files (`scratch::DiskScratch`, what
    /// `dump` does for engines too large to keep several times over in memory, or with
    /// --work-dir): the peak of anonymous resident memory (RssAnon, sampled every 2 ms) over the
    /// engine size. File-backed pages of the spilled images are page cache the kernel can drop.
    spill_peak_anon: u64,
    spill_peak_over_engine: f64,
    spill_seconds: f64,
    /// Bytes of extracted values (the output) in that run.
    spill_output_bytes: u64,
    /// (peak RssAnon − RssAnon before the run − output) / engine: what the tool itself holds at
    /// its peak beyond the engine (the simulator's, standing for TensorRT's) and the output.
    spill_tool_over_engine: f64,
}

#[derive(Clone, Debug, Default, Serialize, Deserialize)]
struct Reference {
    /// reference::pass_count: refit+serialize passes (baseline included) and plain serializations.
    refit_serialize: u64,
    serialize_only: u64,
    /// Passes actually run (all of them when `full`).
    measured_passes: u64,
    full: bool,
    /// Measured when `full`, else extrapolated: setup + per-pass time × passes.
    seconds: f64,
    engine_seconds: f64,
    host_seconds: f64,
    /// One pass's host-side work (diffing the whole image against the baseline) in engine bytes
    /// per second.
    host_gbps_per_pass: f64,
    /// Only when `full`: weights extracted, of which equal to ours, and fp16 marker collisions.
    extracted: Option<u64>,
    agree_with_ours: Option<u64>,
    collisions: Option<u64>,
}

#[derive(Clone, Debug, Default, Serialize, Deserialize)]
struct MapRead {
    /// Parsing the map, expanding runs, fingerprinting the engine, reading every value, from the
    /// engine file mapped read-only and already in the page cache. Median over `repeats`.
    seconds: f64,
    /// Of which: parsing the map and expanding its runs; checking the engine (length and the
    /// fingerprint of every byte that is not a weight); reading the values (`assemble`).
    parse_seconds: f64,
    check_seconds: f64,
    read_seconds: f64,
    gbps: f64,
    repeats: u64,
    records: u64,
    map_bytes: u64,
    extracted: u64,
    peak_rss: u64,
    peak_over_engine: f64,
}

#[derive(Clone, Debug, Default, Serialize, Deserialize)]
struct Row {
    model: String,
    storage: String,
    weights: u64,
    parameters: u64,
    engine_bytes: u64,
    ours: Option<Ours>,
    reference: Option<Reference>,
    map: Option<MapRead>,
    /// reference / ours.
    pass_ratio: Option<f64>,
    time_ratio: Option<f64>,
    host_time_ratio: Option<f64>,
    build_seconds: f64,
    peak_reset_supported: bool,
    skipped: Option<String>,
    error: Option<String>,
}

#[derive(Serialize)]
struct Report {
    tool: String,
    unix_time: u64,
    machine: Machine,
    args: Args,
    rows: Vec<Row>,
    notes: Vec<String>,
}

#[derive(Serialize)]
struct Machine {
    cpu: String,
    cores: usize,
    mem_total_bytes: u64,
    kernel: String,
}

fn machine() -> Machine {
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|s| s.lines().find(|l| l.starts_with("model name")).map(|l| l.split(':').nth(1).unwrap_or("").trim().to_string()))
        .unwrap_or_default();
    let mem_total_bytes = std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|s| s.lines().find(|l| l.starts_with("MemTotal:"))?.split_whitespace().nth(1)?.parse::<u64>().ok())
        .unwrap_or(0)
        * 1024;
    let kernel = std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap_or_default().trim().to_string();
    Machine { cpu, cores: std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1), mem_total_bytes, kernel }
}

// ---------------------------------------------------------------------------------------------
// One case
// ---------------------------------------------------------------------------------------------

/// Bytes a case is expected to need at its peak: the simulator's build (its values, the image
/// and the ground truth, about 3 engines) or the extraction (the engine, the baseline, P marker
/// images and the refit buffers of the last pass: P + 3 engines), whichever is more.
fn expected_peak(engine_len: u64, passes: u32) -> u64 {
    engine_len * (u64::from(passes) + 3).max(4)
}

fn run_case(a: &Args, model: &str, st_name: &str) -> Result<Row> {
    let st = storage(st_name)?;
    let mut row = Row { model: model.into(), storage: st_name.into(), ..Row::default() };
    let t = Instant::now();
    let spec = spec_of(model, st);
    let weights: Vec<WeightSpec> = spec.layout.weights.clone();
    row.weights = weights.len() as u64;
    row.parameters = models::parameters(&spec);
    // A rough size before building: every parameter stored once, plus ~3 MB of kernels.
    let elem_bytes = if st == Storage::Fp32 { 4 } else { 2 };
    let guess = row.parameters * elem_bytes + (3 << 20);
    let ids = IdSpace::new(&weights);
    let need = expected_peak(guess, ids.passes);
    let avail = mem_available();
    if !a.force && need > avail {
        row.skipped = Some(format!(
            "needs about {:.1} GB, {:.1} GB available (--force to run anyway)",
            need as f64 / 1e9,
            avail as f64 / 1e9
        ));
        return Ok(row);
    }
    let plan = spec.build()?;
    drop(spec);
    let sim::SimPlan { file, truth } = plan;
    // Hashes of the ground truth, so it need not stay in memory.
    let truth_hash: Vec<Option<u64>> =
        truth.weights.iter().map(|w| w.values.as_deref().map(xxhash_rust::xxh3::xxh3_64)).collect();
    drop(truth);
    let engine = SimEngine::new(file)?;
    row.build_seconds = t.elapsed().as_secs_f64();
    // The engine's own serialization shares its bytes: the engine file, at no extra memory.
    let file = engine.instance()?.serialize()?;
    let file_bytes = file.bytes();
    row.engine_bytes = file_bytes.len() as u64;

    // --- ours ---
    row.peak_reset_supported = reset_peak();
    let rss_before = rss_bytes();
    let mut ours = Ours { rss_before, ..Ours::default() };
    let (mut tot, mut eng, mut dec, mut rd, mut pf, mut mk) = (vec![], vec![], vec![], vec![], vec![], vec![]);
    let mut first: Option<extract::Extraction> = None;
    let started = Instant::now();
    loop {
        let stats = EngineStats::default();
        let timed = Timed { inner: &engine, stats: &stats };
        let mut clock = Clock::new(&stats);
        let x = extract::extract(&timed, file_bytes, &Options::default(), &mut InMemory, &mut clock)?;
        let total = clock.t0.elapsed().as_secs_f64();
        if first.is_none() {
            ours.peak_rss = peak_bytes();
        }
        let stamp = |want: &dyn Fn(Stage) -> bool| clock.at(want).unwrap_or(f64::NAN);
        let t_decode = stamp(&|s| s == Stage::Decode);
        let t_read = stamp(&|s| s == Stage::Read);
        let t_proof = clock.at(|s| s == Stage::Proof).unwrap_or(total);
        let engine_at = |want: &dyn Fn(Stage) -> bool| clock.stamps.iter().find(|(s, ..)| want(*s)).map_or(0.0, |x| x.2);
        tot.push(total);
        eng.push(stats.seconds.get());
        dec.push(clock.decode_end.unwrap_or(t_read) - t_decode);
        rd.push(t_proof - t_read);
        let proof_engine = stats.seconds.get() - engine_at(&|s| s == Stage::Proof);
        pf.push(total - t_proof - proof_engine);
        mk.push(t_decode - engine_at(&|s| s == Stage::Decode));
        ours.engine_refits = stats.refits.get();
        ours.engine_serializes = stats.serializes.get();
        if first.is_none() {
            first = Some(x);
        }
        if started.elapsed().as_secs_f64() >= a.repeat_budget_s || tot.len() >= 25 {
            break;
        }
    }
    let x = first.expect("ran once");
    ours.repeats = tot.len() as u64;
    ours.refit_serialize = u64::from(x.passes.refit_serialize);
    ours.serialize_only = u64::from(x.passes.serialize_only);
    ours.marker_passes = u64::from(x.passes.marker);
    ours.seconds = median(tot);
    ours.engine_seconds = median(eng);
    ours.host_seconds = ours.seconds - ours.engine_seconds;
    ours.decode_seconds = median(dec);
    ours.decode_gbps = gbps(row.engine_bytes, ours.decode_seconds);
    ours.decode_pass_gbps = gbps(row.engine_bytes * u64::from(x.passes.marker), ours.decode_seconds);
    ours.read_seconds = median(rd);
    ours.proof_host_seconds = median(pf);
    ours.marker_host_seconds = median(mk);
    ours.proof = format!("{:?}", x.proof).split([' ', '{']).next().unwrap_or("").to_string();
    ours.extracted = x.results.iter().filter(|r| r.values.values.is_some()).count() as u64;
    ours.match_truth = x
        .results
        .iter()
        .zip(&truth_hash)
        .filter(|(r, h)| r.values.values.is_some() && r.values.values.as_deref().map(xxhash_rust::xxh3::xxh3_64) == **h)
        .count() as u64;
    ours.peak_over_engine = ours.peak_rss as f64 / row.engine_bytes as f64;
    let our_values: Vec<Option<u64>> =
        x.results.iter().map(|r| r.values.values.as_deref().map(xxhash_rust::xxh3::xxh3_64)).collect();
    let map_file = {
        let mut meta = std::collections::BTreeMap::new();
        meta.insert("made_by".to_string(), "benches/passes.rs".to_string());
        let header = trt_dump::map::Header {
            engine_len: row.engine_bytes,
            fingerprint: trt_dump::map::fingerprint(file_bytes, &x.file_runs, &x.file_volatile),
            weights: x.weights.clone(),
            missing: x
                .missing()
                .map(|(w, m)| trt_dump::map::MissingWeight { name: w.name.clone(), reason: m.clone() })
                .collect(),
            volatile: x.file_volatile.clone(),
            meta,
        };
        trt_dump::map::MapFile { header, runs: trt_dump::map::compress(&x.file_runs) }
    };
    drop(x);
    if !a.no_spill {
        let anon_before = proc_status_kb("RssAnon:").unwrap_or(0) * 1024;
        let sampler = AnonPeak::start();
        let t = Instant::now();
        let mut scratch = trt_dump::scratch::DiskScratch::new(None)?;
        let stats = EngineStats::default();
        let timed = Timed { inner: &engine, stats: &stats };
        let xs = extract::extract(&timed, file_bytes, &Options::default(), &mut scratch, &mut Clock::new(&stats))?;
        let output: u64 = xs.results.iter().filter_map(|r| r.values.values.as_ref()).map(|v| v.len() as u64).sum();
        drop(xs);
        drop(scratch);
        ours.spill_seconds = t.elapsed().as_secs_f64();
        ours.spill_peak_anon = sampler.stop();
        ours.spill_peak_over_engine = ours.spill_peak_anon as f64 / row.engine_bytes as f64;
        ours.spill_output_bytes = output;
        ours.spill_tool_over_engine =
            ours.spill_peak_anon.saturating_sub(anon_before + output) as f64 / row.engine_bytes as f64;
    }
    row.ours = Some(ours.clone());

    // --- the reference method ---
    let (ref_passes, ref_plain) = reference::pass_count(&weights);
    let mut r = Reference { refit_serialize: ref_passes, serialize_only: ref_plain, ..Reference::default() };
    let full = ref_passes <= a.ref_full_max;
    let stats = EngineStats::default();
    let timed = Timed { inner: &engine, stats: &stats };
    let mut clock = Clock::new(&stats);
    let max = if full { None } else { Some(1 + a.ref_sample) };
    let res = reference::extract(&timed, max, &mut clock)?;
    let total = clock.t0.elapsed().as_secs_f64();
    r.full = full;
    r.measured_passes = res.refit_serialize;
    if full {
        r.seconds = total;
        r.engine_seconds = stats.seconds.get();
        r.host_seconds = total - r.engine_seconds;
        r.extracted = Some(res.values.iter().filter(|v| v.values.is_some()).count() as u64);
        r.agree_with_ours = Some(
            res.values
                .iter()
                .zip(&our_values)
                .filter(|(v, o)| v.values.is_some() && v.values.as_deref().map(xxhash_rust::xxh3::xxh3_64) == **o)
                .count() as u64,
        );
        r.collisions = Some(res.collisions);
        // Host work of one marker pass: everything between two pass stamps but the engine calls.
        let marks: Vec<&(Stage, f64, f64)> = clock.stamps.iter().filter(|(s, ..)| matches!(s, Stage::Markers(..))).collect();
        if marks.len() >= 2 {
            let (a0, b0) = (marks[0].1, marks[0].2);
            let (a1, b1) = (marks[marks.len() - 1].1, marks[marks.len() - 1].2);
            let n = (marks.len() - 1) as f64;
            r.host_gbps_per_pass = gbps(row.engine_bytes, ((a1 - a0) - (b1 - b0)) / n);
        }
    } else {
        // Setup (normalise, baseline) as measured, then the marker passes at the mean rate of the
        // sampled ones (the first chunks in refitter order, i.e. of the first weights).
        let marks: Vec<&(Stage, f64, f64)> = clock.stamps.iter().filter(|(s, ..)| matches!(s, Stage::Markers(..))).collect();
        anyhow::ensure!(marks.len() >= 2, "reference sample too small");
        let (t_first, e_first) = (marks[0].1, marks[0].2);
        let (t_last, e_last) = (marks[marks.len() - 1].1, marks[marks.len() - 1].2);
        let n = (marks.len() - 1) as f64;
        let per_pass = (t_last - t_first) / n;
        let per_pass_engine = (e_last - e_first) / n;
        let remaining = (ref_passes - 1) as f64; // marker passes (the baseline is in the setup)
        r.seconds = t_first + per_pass * remaining;
        r.engine_seconds = e_first + per_pass_engine * remaining;
        r.host_seconds = r.seconds - r.engine_seconds;
        r.host_gbps_per_pass = gbps(row.engine_bytes, per_pass - per_pass_engine);
    }
    drop(res);
    row.pass_ratio = Some(ref_passes as f64 / ours.refit_serialize as f64);
    row.time_ratio = Some(r.seconds / ours.seconds);
    row.host_time_ratio = Some(r.host_seconds / ours.host_seconds);
    row.reference = Some(r);

    // --- map-based extraction, from the engine file in the page cache ---
    let dir = tempfile::tempdir()?;
    let path = dir.path().join("engine.plan");
    std::fs::write(&path, file_bytes)?;
    let map_bytes = map_file.to_bytes()?;
    drop(map_file);
    drop(file);
    drop(engine);
    let f = trt_dump::engine_file::EngineFile::open(&path)?;
    let mapped = f.bytes();
    let mut m = MapRead { map_bytes: map_bytes.len() as u64, ..MapRead::default() };
    // Warm the page cache (it was just written, so it is most likely warm already).
    let mut sum = 0u64;
    for c in mapped.chunks(4096) {
        sum = sum.wrapping_add(u64::from(c[0]));
    }
    std::hint::black_box(sum);
    drop(f);
    reset_peak();
    let mut times = vec![];
    let mut split: Vec<[f64; 3]> = vec![];
    let started = Instant::now();
    loop {
        let t = Instant::now();
        let file = trt_dump::engine_file::EngineFile::open(&path)?;
        let mapped = file.bytes();
        let mf = trt_dump::map::MapFile::from_bytes(&map_bytes)?;
        let runs = mf.runs()?;
        let t_parse = t.elapsed().as_secs_f64();
        mf.check_engine(mapped, &runs)?;
        let t_check = t.elapsed().as_secs_f64();
        let values = assemble::assemble(&mf.header.weights, &runs, mapped).map_err(|e| anyhow::anyhow!("{e}"))?;
        times.push(t.elapsed().as_secs_f64());
        split.push([t_parse, t_check - t_parse, t.elapsed().as_secs_f64() - t_check]);
        if m.repeats == 0 {
            m.peak_rss = peak_bytes();
            m.records = mf.runs.len() as u64;
            m.extracted = values.iter().filter(|v| v.values.is_some()).count() as u64;
        }
        m.repeats += 1;
        drop(values);
        if started.elapsed().as_secs_f64() >= a.repeat_budget_s || m.repeats >= 25 {
            break;
        }
    }
    m.seconds = median(times);
    m.parse_seconds = median(split.iter().map(|x| x[0]).collect());
    m.check_seconds = median(split.iter().map(|x| x[1]).collect());
    m.read_seconds = median(split.iter().map(|x| x[2]).collect());
    m.gbps = gbps(row.engine_bytes, m.seconds);
    m.peak_over_engine = m.peak_rss as f64 / row.engine_bytes as f64;
    row.map = Some(m);
    Ok(row)
}

// ---------------------------------------------------------------------------------------------
// Output
// ---------------------------------------------------------------------------------------------

fn fmt_bytes(b: u64) -> String {
    let b = b as f64;
    if b >= 1e9 {
        format!("{:.2} GB", b / 1e9)
    } else if b >= 1e6 {
        format!("{:.1} MB", b / 1e6)
    } else {
        format!("{:.0} KB", b / 1e3)
    }
}

fn fmt_params(p: u64) -> String {
    let p = p as f64;
    if p >= 1e9 {
        format!("{:.2}B", p / 1e9)
    } else if p >= 1e6 {
        format!("{:.1}M", p / 1e6)
    } else {
        format!("{:.0}", p)
    }
}

fn fmt_s(s: f64) -> String {
    if s >= 100.0 {
        format!("{s:.0}")
    } else if s >= 1.0 {
        format!("{s:.2}")
    } else {
        format!("{s:.4}")
    }
}

fn table(rows: &[Row], m: &Machine) -> String {
    let mut out = String::new();
    let head = [
        "model", "store", "params", "engine", "passes ours", "passes ref", "ratio", "time ours s", "time ref s", "ratio",
        "host ours s", "host ref s", "ratio", "decode GB/s", "per pass", "map GB/s", "peak/engine", "tool/engine", "proof",
    ];
    let mut cells: Vec<Vec<String>> = vec![head.iter().map(|s| s.to_string()).collect()];
    for r in rows {
        let mut c = vec![r.model.clone(), r.storage.clone(), fmt_params(r.parameters), fmt_bytes(r.engine_bytes)];
        if let Some(why) = r.skipped.as_ref().or(r.error.as_ref()) {
            c.push(format!("{} {}", if r.skipped.is_some() { "skipped:" } else { "error:" }, why));
            cells.push(c);
            continue;
        }
        let (Some(o), Some(f), Some(mp)) = (&r.ours, &r.reference, &r.map) else { continue };
        let ext = if f.full { "" } else { "~" };
        c.push(format!("{} (+{})", o.refit_serialize, o.serialize_only));
        c.push(format!("{} (+{})", f.refit_serialize, f.serialize_only));
        c.push(format!("{:.0}x", r.pass_ratio.unwrap_or(f64::NAN)));
        c.push(fmt_s(o.seconds));
        c.push(format!("{ext}{}", fmt_s(f.seconds)));
        c.push(format!("{ext}{:.1}x", r.time_ratio.unwrap_or(f64::NAN)));
        c.push(fmt_s(o.host_seconds));
        c.push(format!("{ext}{}", fmt_s(f.host_seconds)));
        c.push(format!("{ext}{:.1}x", r.host_time_ratio.unwrap_or(f64::NAN)));
        c.push(format!("{:.2}", o.decode_gbps));
        c.push(format!("{:.2}", o.decode_pass_gbps));
        c.push(format!("{:.2}", mp.gbps));
        c.push(format!("{:.2} / {:.2} / {:.2}", o.peak_over_engine, o.spill_peak_over_engine, mp.peak_over_engine));
        c.push(format!("{:.2}", o.spill_tool_over_engine));
        c.push(format!(
            "{} {}/{}{}",
            o.proof,
            o.match_truth,
            r.weights,
            match (f.extracted, f.agree_with_ours) {
                (Some(e), Some(g)) => format!(" (ref {g}/{e} agree)"),
                _ => String::new(),
            }
        ));
        cells.push(c);
    }
    let ncol = head.len();
    let widths: Vec<usize> =
        (0..ncol).map(|i| cells.iter().filter(|c| c.len() == ncol).map(|c| c[i].chars().count()).max().unwrap_or(0)).collect();
    for c in &cells {
        let line: Vec<String> = c
            .iter()
            .enumerate()
            .map(|(i, s)| if c.len() == ncol && i > 1 { format!("{s:>w$}", w = widths[i]) } else { format!("{s:<w$}", w = widths[i.min(ncol - 1)]) })
            .collect();
        out.push_str(line.join("  ").trim_end());
        out.push('\n');
    }
    out.push_str(&format!(
        "\n{} ({} cores, {:.0} GB). Simulated engine; one thread per case. passes = refit+serialize (+ plain serializations).\n\
         time = wall time of a whole extraction (median of repeats); host = time outside the engine's refit/serialize/deserialize calls.\n\
         ~ = extrapolated from a sample of the reference method's passes. decode GB/s = engine bytes / decode() time (one core, all\n\
         passes); per pass = engine bytes x marker passes / decode() time. map GB/s = engine bytes / (map parse + fingerprint +\n\
         reading every value) from the page cache. peak/engine = VmHWM / engine bytes for our extraction with serializations in\n\
         memory / peak RssAnon / engine bytes with serializations spilled to files (as dump does for large engines) / VmHWM for\n\
         map reading. Whole process; it holds the simulated engine (TensorRT's copy), 1x, while extracting. tool/engine = spilled\n\
         run's peak RssAnon less what was resident before it (the simulated engine) and less the output, over engine bytes.\n\
         proof: our round-trip proof verdict, then weights equal to the simulator's ground truth; (ref a/b agree) = of b weights the\n\
         reference method extracted, a equal ours.\n",
        m.cpu,
        m.cores,
        m.mem_total_bytes as f64 / 1e9
    ));
    out
}

// ---------------------------------------------------------------------------------------------
// main
// ---------------------------------------------------------------------------------------------

fn main() -> Result<()> {
    let (a, child) = parse_args()?;
    if let Some((model, st)) = child {
        let row = match run_case(&a, &model, &st) {
            Ok(r) => r,
            Err(e) => Row { model, storage: st, error: Some(format!("{e:#}")), ..Row::default() },
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
                cmd.args(["--ref-full-max", &a.ref_full_max.to_string(), "--ref-sample", &a.ref_sample.to_string()]);
                cmd.args(["--repeat-budget", &a.repeat_budget_s.to_string()]);
                if a.force {
                    cmd.arg("--force");
                }
                if a.no_spill {
                    cmd.arg("--no-spill");
                }
                let out = cmd.stdout(Stdio::piped()).stderr(Stdio::inherit()).output()?;
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
            eprintln!("[bench] {model} {st} done in {:.1} s", t.elapsed().as_secs_f64());
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
