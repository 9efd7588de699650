//! What a run reports: one row per model/storage case, and the machine it ran on.

use serde::{Deserialize, Serialize};

use crate::args::Args;

#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub(crate) struct Ours {
    /// refit+serialize passes (baseline, markers, proof), as extraction counts them.
    pub(crate) refit_serialize: u64,
    pub(crate) serialize_only: u64,
    pub(crate) marker_passes: u64,
    /// The same counted at the engine (cross-check).
    pub(crate) engine_refits: u64,
    pub(crate) engine_serializes: u64,
    /// Median over `repeats` extractions.
    pub(crate) seconds: f64,
    pub(crate) engine_seconds: f64,
    pub(crate) host_seconds: f64,
    /// decode(): diffing every pass against the baseline and decoding, one thread.
    pub(crate) decode_seconds: f64,
    /// Engine bytes decoded per second (each byte of the engine is read in all P passes and the
    /// baseline: P + 1 images).
    pub(crate) decode_gbps: f64,
    /// The same work per marker pass: engine bytes × marker passes / decode seconds (each pass's
    /// image is diffed against the baseline and decoded; this is the rate at which one pass's
    /// worth of engine bytes goes through).
    pub(crate) decode_pass_gbps: f64,
    /// Aligning, reading values through the runs, the file alignment.
    pub(crate) read_seconds: f64,
    /// The proof (engine refit+serialize excluded).
    pub(crate) proof_host_seconds: f64,
    /// Marker buffers built for the refit calls (host) in normalise..markers.
    pub(crate) marker_host_seconds: f64,
    pub(crate) repeats: u64,
    pub(crate) proof: String,
    pub(crate) extracted: u64,
    /// Extracted weights whose values equal the simulator's ground truth.
    pub(crate) match_truth: u64,
    /// Resident memory when extraction started (the simulator's engine, which also plays the
    /// engine file) and the peak during the first extraction (VmHWM, whole process).
    pub(crate) rss_before: u64,
    pub(crate) peak_rss: u64,
    pub(crate) peak_over_engine: f64,
    /// One more extraction with the serializations spilled to files (`scratch::DiskScratch`, what
    /// `dump` does for engines too large to keep several times over in memory, or with
    /// --work-dir): the peak of anonymous resident memory (RssAnon, sampled every 2 ms) over the
    /// engine size. File-backed pages of the spilled images are page cache the kernel can drop.
    pub(crate) spill_peak_anon: u64,
    pub(crate) spill_peak_over_engine: f64,
    pub(crate) spill_seconds: f64,
    /// Bytes of extracted values (the output) in that run.
    pub(crate) spill_output_bytes: u64,
    /// (peak RssAnon − RssAnon before the run − output) / engine: what the tool itself holds at
    /// its peak beyond the engine (the simulator's, standing for TensorRT's) and the output.
    pub(crate) spill_tool_over_engine: f64,
    /// The default mode (what `dump` does without --work-dir: in memory unless the engine is too
    /// large for it, see `scratch::should_spill`), first extraction: (peak RssAnon − RssAnon
    /// before − output) / engine, the tool's own peak beyond the engine and the output.
    pub(crate) tool_over_engine: f64,
    /// Temporary files the default mode wrote (0 when it kept everything in memory).
    pub(crate) spill_files: u64,
    /// Bytes the packed marker passes took (compressed differences and the changed-byte bitmap).
    pub(crate) packed_bytes: u64,
}

#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub(crate) struct Reference {
    /// reference::pass_count: refit+serialize passes (baseline included) and plain serializations.
    pub(crate) refit_serialize: u64,
    pub(crate) serialize_only: u64,
    /// Passes actually run (all of them when `full`).
    pub(crate) measured_passes: u64,
    pub(crate) full: bool,
    /// Measured when `full`, else extrapolated: setup + per-pass time × passes.
    pub(crate) seconds: f64,
    pub(crate) engine_seconds: f64,
    pub(crate) host_seconds: f64,
    /// One pass's host-side work (diffing the whole image against the baseline) in engine bytes
    /// per second.
    pub(crate) host_gbps_per_pass: f64,
    /// Only when `full`: weights extracted, of which equal to ours, and fp16 marker collisions.
    pub(crate) extracted: Option<u64>,
    pub(crate) agree_with_ours: Option<u64>,
    pub(crate) collisions: Option<u64>,
}

#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub(crate) struct MapRead {
    /// Parsing the map, expanding runs, fingerprinting the engine, reading every value, from the
    /// engine file mapped read-only and already in the page cache. Median over `repeats`.
    pub(crate) seconds: f64,
    /// Of which: parsing the map and expanding its runs; checking the engine (length and the
    /// fingerprint of every byte that is not a weight); reading the values (`assemble`).
    pub(crate) parse_seconds: f64,
    pub(crate) check_seconds: f64,
    pub(crate) read_seconds: f64,
    pub(crate) gbps: f64,
    pub(crate) repeats: u64,
    pub(crate) records: u64,
    pub(crate) map_bytes: u64,
    pub(crate) extracted: u64,
    pub(crate) peak_rss: u64,
    pub(crate) peak_over_engine: f64,
}

#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub(crate) struct Row {
    pub(crate) model: String,
    pub(crate) storage: String,
    pub(crate) weights: u64,
    pub(crate) parameters: u64,
    pub(crate) engine_bytes: u64,
    pub(crate) ours: Option<Ours>,
    pub(crate) reference: Option<Reference>,
    pub(crate) map: Option<MapRead>,
    /// reference / ours.
    pub(crate) pass_ratio: Option<f64>,
    pub(crate) time_ratio: Option<f64>,
    pub(crate) host_time_ratio: Option<f64>,
    pub(crate) build_seconds: f64,
    pub(crate) peak_reset_supported: bool,
    pub(crate) skipped: Option<String>,
    pub(crate) error: Option<String>,
}

#[derive(Serialize)]
pub(crate) struct Report {
    pub(crate) tool: String,
    pub(crate) unix_time: u64,
    pub(crate) machine: Machine,
    pub(crate) args: Args,
    pub(crate) rows: Vec<Row>,
    pub(crate) notes: Vec<String>,
}

#[derive(Serialize)]
pub(crate) struct Machine {
    pub(crate) cpu: String,
    pub(crate) cores: usize,
    /// Threads extraction spreads its host work over (decode, reading values, the engine's hash).
    pub(crate) threads: usize,
    pub(crate) mem_total_bytes: u64,
    pub(crate) kernel: String,
}

pub(crate) fn machine() -> Machine {
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("model name"))
                .map(|l| l.split(':').nth(1).unwrap_or("").trim().to_string())
        })
        .unwrap_or_default();
    let mem_total_bytes = std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("MemTotal:"))?
                .split_whitespace()
                .nth(1)?
                .parse::<u64>()
                .ok()
        })
        .unwrap_or(0)
        * 1024;
    let kernel = std::fs::read_to_string("/proc/sys/kernel/osrelease")
        .unwrap_or_default()
        .trim()
        .to_string();
    Machine {
        cpu,
        cores: std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(1),
        threads: trt_dump::pipeline::par::threads(),
        mem_total_bytes,
        kernel,
    }
}
