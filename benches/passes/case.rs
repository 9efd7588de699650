//! One model/storage case: our extraction, the reference method beside it, map-based reading.

use std::time::Instant;

use anyhow::Result;
use trt_dump::pipeline::engine::{Engine, WeightSpec};
use trt_dump::pipeline::extract::{self, InMemory, Options, Stage};
use trt_dump::pipeline::{assemble, ids::IdSpace};

use crate::args::{spec_of, storage, Args};
use crate::measure::{
    gbps, median, mem_available, peak_bytes, proc_status_kb, reset_peak, rss_bytes, AnonPeak,
    Clock, EngineStats, Timed,
};
use crate::reference;
use crate::results::{MapRead, Ours, Reference, Row};
use crate::sim::{
    self,
    models::{self, Storage},
    SimEngine,
};

/// Bytes a case is expected to need at its peak: the simulator's build (its values, the image
/// and the ground truth, about 3 engines) or the extraction (the engine, the baseline, P marker
/// images and the refit buffers of the last pass: P + 3 engines), whichever is more.
pub(crate) fn expected_peak(engine_len: u64, passes: u32) -> u64 {
    engine_len * (u64::from(passes) + 3).max(4)
}

pub(crate) fn run_case(a: &Args, model: &str, st_name: &str) -> Result<Row> {
    let st = storage(st_name)?;
    let mut row = Row {
        model: model.into(),
        storage: st_name.into(),
        ..Row::default()
    };
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
    let truth_hash: Vec<Option<u64>> = truth
        .weights
        .iter()
        .map(|w| w.values.as_deref().map(xxhash_rust::xxh3::xxh3_64))
        .collect();
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
    let mut ours = Ours {
        rss_before,
        ..Ours::default()
    };
    let (mut tot, mut eng, mut dec, mut rd, mut pf, mut mk) =
        (vec![], vec![], vec![], vec![], vec![], vec![]);
    let mut first: Option<extract::Extraction> = None;
    let started = Instant::now();
    // The first run is the default mode, as `dump` chooses it; its anonymous memory is sampled.
    let default_spills =
        trt_dump::scratch::should_spill(row.engine_bytes, trt_dump::scratch::IMAGES_HELD, false);
    let anon_before = proc_status_kb("RssAnon:").unwrap_or(0) * 1024;
    let mut sampler = Some(AnonPeak::start());
    loop {
        let stats = EngineStats::default();
        let timed = Timed {
            inner: &engine,
            stats: &stats,
        };
        let mut clock = Clock::new(&stats);
        let x = if first.is_none() && default_spills {
            let mut scratch = trt_dump::scratch::DiskScratch::new(None)?;
            let x = extract::extract(
                &timed,
                file_bytes,
                &Options::default(),
                &mut scratch,
                &mut clock,
            )?;
            ours.spill_files = scratch.files_written();
            x
        } else {
            extract::extract(
                &timed,
                file_bytes,
                &Options::default(),
                &mut InMemory,
                &mut clock,
            )?
        };
        let total = clock.t0.elapsed().as_secs_f64();
        if first.is_none() {
            ours.peak_rss = peak_bytes();
            let peak = sampler.take().map_or(0, AnonPeak::stop);
            let output: u64 = x
                .results
                .iter()
                .filter_map(|r| r.values.values.as_ref())
                .map(|v| v.len() as u64)
                .sum();
            ours.tool_over_engine =
                peak.saturating_sub(anon_before + output) as f64 / row.engine_bytes as f64;
            ours.packed_bytes = clock.packed;
        }
        let stamp = |want: &dyn Fn(Stage) -> bool| clock.at(want).unwrap_or(f64::NAN);
        let t_decode = stamp(&|s| s == Stage::Decode);
        let t_read = stamp(&|s| s == Stage::Read);
        let t_proof = clock.at(|s| s == Stage::Proof).unwrap_or(total);
        let engine_at = |want: &dyn Fn(Stage) -> bool| {
            clock
                .stamps
                .iter()
                .find(|(s, ..)| want(*s))
                .map_or(0.0, |x| x.2)
        };
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
    ours.decode_pass_gbps = gbps(
        row.engine_bytes * u64::from(x.passes.marker),
        ours.decode_seconds,
    );
    ours.read_seconds = median(rd);
    ours.proof_host_seconds = median(pf);
    ours.marker_host_seconds = median(mk);
    ours.proof = format!("{:?}", x.proof)
        .split([' ', '{'])
        .next()
        .unwrap_or("")
        .to_string();
    ours.extracted = x
        .results
        .iter()
        .filter(|r| r.values.values.is_some())
        .count() as u64;
    ours.match_truth = x
        .results
        .iter()
        .zip(&truth_hash)
        .filter(|(r, h)| {
            r.values.values.is_some()
                && r.values.values.as_deref().map(xxhash_rust::xxh3::xxh3_64) == **h
        })
        .count() as u64;
    ours.peak_over_engine = ours.peak_rss as f64 / row.engine_bytes as f64;
    let our_values: Vec<Option<u64>> = x
        .results
        .iter()
        .map(|r| r.values.values.as_deref().map(xxhash_rust::xxh3::xxh3_64))
        .collect();
    let map_file = {
        let mut meta = std::collections::BTreeMap::new();
        meta.insert("made_by".to_string(), "benches/passes.rs".to_string());
        let header = trt_dump::map::Header {
            engine_len: row.engine_bytes,
            fingerprint: trt_dump::map::fingerprint(file_bytes, &x.file_runs, &x.file_volatile),
            weights: x.weights.clone(),
            missing: x
                .missing()
                .map(|(w, m)| trt_dump::map::MissingWeight {
                    name: w.name.clone(),
                    reason: m.clone(),
                })
                .collect(),
            volatile: x.file_volatile.clone(),
            meta,
        };
        trt_dump::map::MapFile {
            header,
            runs: trt_dump::map::compress(&x.file_runs),
        }
    };
    drop(x);
    if !a.no_spill {
        let anon_before = proc_status_kb("RssAnon:").unwrap_or(0) * 1024;
        let sampler = AnonPeak::start();
        let t = Instant::now();
        let mut scratch = trt_dump::scratch::DiskScratch::new(None)?;
        let stats = EngineStats::default();
        let timed = Timed {
            inner: &engine,
            stats: &stats,
        };
        let xs = extract::extract(
            &timed,
            file_bytes,
            &Options::default(),
            &mut scratch,
            &mut Clock::new(&stats),
        )?;
        let output: u64 = xs
            .results
            .iter()
            .filter_map(|r| r.values.values.as_ref())
            .map(|v| v.len() as u64)
            .sum();
        drop(xs);
        drop(scratch);
        ours.spill_seconds = t.elapsed().as_secs_f64();
        ours.spill_peak_anon = sampler.stop();
        ours.spill_peak_over_engine = ours.spill_peak_anon as f64 / row.engine_bytes as f64;
        ours.spill_output_bytes = output;
        ours.spill_tool_over_engine = ours.spill_peak_anon.saturating_sub(anon_before + output)
            as f64
            / row.engine_bytes as f64;
    }
    row.ours = Some(ours.clone());

    // --- the reference method ---
    let (ref_passes, ref_plain) = reference::pass_count(&weights);
    let mut r = Reference {
        refit_serialize: ref_passes,
        serialize_only: ref_plain,
        ..Reference::default()
    };
    let full = ref_passes <= a.ref_full_max;
    let stats = EngineStats::default();
    let timed = Timed {
        inner: &engine,
        stats: &stats,
    };
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
                .filter(|(v, o)| {
                    v.values.is_some() && v.values.as_deref().map(xxhash_rust::xxh3::xxh3_64) == **o
                })
                .count() as u64,
        );
        r.collisions = Some(res.collisions);
        // Host work of one marker pass: everything between two pass stamps but the engine calls.
        let marks: Vec<&(Stage, f64, f64)> = clock
            .stamps
            .iter()
            .filter(|(s, ..)| matches!(s, Stage::Markers(..)))
            .collect();
        if marks.len() >= 2 {
            let (a0, b0) = (marks[0].1, marks[0].2);
            let (a1, b1) = (marks[marks.len() - 1].1, marks[marks.len() - 1].2);
            let n = (marks.len() - 1) as f64;
            r.host_gbps_per_pass = gbps(row.engine_bytes, ((a1 - a0) - (b1 - b0)) / n);
        }
    } else {
        // Setup (normalise, baseline) as measured, then the marker passes at the mean rate of the
        // sampled ones (the first chunks in refitter order, i.e. of the first weights).
        let marks: Vec<&(Stage, f64, f64)> = clock
            .stamps
            .iter()
            .filter(|(s, ..)| matches!(s, Stage::Markers(..)))
            .collect();
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
    let mut m = MapRead {
        map_bytes: map_bytes.len() as u64,
        ..MapRead::default()
    };
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
        let values = assemble::assemble(&mf.header.weights, &runs, mapped)
            .map_err(|e| anyhow::anyhow!("{e}"))?;
        times.push(t.elapsed().as_secs_f64());
        split.push([
            t_parse,
            t_check - t_parse,
            t.elapsed().as_secs_f64() - t_check,
        ]);
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
