//! TensorRT-LLM engine directories on the command line: `dump ENGINE_DIR -o CKPT_DIR/` and
//! `refit ENGINE_DIR --weights CKPT_DIR -o OUT_DIR/`. Ranks run in parallel, one worker thread per GPU, each
//! with its own TensorRT session on its device; more ranks than GPUs queue. The output folder is
//! built in a temporary folder beside the target and renamed into place only when every rank
//! succeeded: one rank failing fails the run and nothing is written.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Mutex;

use anyhow::Context;
use serde::Serialize;

use super::args::{DumpArgs, GlobalArgs, RefitArgs};
use super::report::{self, Report};
use super::source::{self, Via};
use super::Outcome;
use crate::engine_dir::{self, CheckpointDir, EngineDir, Rank};
use crate::error::{Error, ErrorKind};
use crate::writer::{self, atomic, PlannedTensor, ShapeSource, TensorView, WriterOptions};

fn usage(message: impl Into<String>, hint: &str) -> anyhow::Error {
    anyhow::Error::new(Error::new(ErrorKind::Usage, message).with_hint(hint))
}

/// `--devices` belongs to engine directories; a single engine uses `--device N`.
pub fn refuse_devices(g: &GlobalArgs) -> anyhow::Result<()> {
    if g.devices.is_some() {
        return Err(usage(
            "--devices is for TensorRT-LLM engine directories (one rank per GPU); this is a single engine",
            "use --device N to choose the GPU for a single engine",
        ));
    }
    Ok(())
}

/// The GPUs to run ranks on: `--devices`, else every GPU the driver shows, else (no driver to
/// ask) `--device`, and TensorRT decides.
pub fn devices(g: &GlobalArgs) -> anyhow::Result<Vec<usize>> {
    let count = crate::trt::gpu::device_count();
    match (&g.devices, count) {
        (Some(d), _) if d.is_empty() => Err(usage(
            "--devices lists no GPU",
            "give GPU ordinals, e.g. --devices 0,1",
        )),
        (Some(d), Ok(n)) => {
            if let Some(bad) = d.iter().find(|&&x| x >= n) {
                return Err(anyhow::Error::new(
                    Error::new(
                        ErrorKind::NoGpu,
                        format!("--devices: no GPU {bad}: {n} CUDA device(s) found"),
                    )
                    .with_hint(
                        "list GPUs 0..N-1 as nvidia-smi (and CUDA_VISIBLE_DEVICES) shows them",
                    ),
                ));
            }
            Ok(d.clone())
        }
        (Some(d), Err(why)) => {
            crate::detail!(
                "--devices {}: the driver cannot be asked ({why}); TensorRT decides",
                join(d)
            );
            Ok(d.clone())
        }
        (None, Ok(n)) if n > 0 => Ok((0..n).collect()),
        (None, other) => {
            let why = match other {
                Err(why) => why.to_string(),
                Ok(_) => "no CUDA device found".to_string(),
            };
            crate::detail!(
                "GPUs: {why}; running ranks one at a time on GPU {}",
                g.device
            );
            Ok(vec![g.device])
        }
    }
}

fn join(d: &[usize]) -> String {
    d.iter()
        .map(|x| x.to_string())
        .collect::<Vec<_>>()
        .join(",")
}

/// The plugin libraries for TensorRT-LLM engines: `--plugin`, else TensorRT-LLM's own library
/// from the `tensorrt_llm` package of the python3 on PATH, when installed. Looked for once, before
/// the ranks start; a missing plugin is diagnosed when TensorRT refuses to deserialize.
pub fn plugins(g: &GlobalArgs, dir: &EngineDir) -> Vec<PathBuf> {
    if !g.plugins.is_empty() {
        return g.plugins.clone();
    }
    match crate::trt::loader::find_trtllm_plugin() {
        Ok(p) => {
            crate::note!("loading TensorRT-LLM's plugins from `{}`", p.display());
            vec![p]
        }
        Err(why) => {
            let used = dir.plugins_used();
            if used.is_empty() {
                crate::detail!(
                    "TensorRT-LLM plugins: {why}; going on without (--plugin PATH gives one)"
                );
            } else {
                crate::warn!(
                    "config.json says the engines use TensorRT-LLM plugins ({}), but its plugin library was not found: \
                     {why}; install TensorRT-LLM (`pip install tensorrt_llm`) or pass --plugin PATH/{}",
                    used.join(", "),
                    crate::trt::loader::TRTLLM_PLUGIN
                );
            }
            Vec::new()
        }
    }
}

/// Runs `work(rank index, device)` for every rank, one worker thread per device, each taking the
/// next rank when done with one. After a failure (or Ctrl-C) no further rank starts; ranks under
/// way finish. Returns the results in rank order, or the lowest rank's error.
pub fn run_ranks<T: Send>(
    ranks: usize,
    devices: &[usize],
    work: impl Fn(usize, usize) -> anyhow::Result<T> + Sync,
) -> anyhow::Result<Vec<T>> {
    // Worker k starts with rank k (rank N on the Nth GPU listed), then takes the next undone one.
    let workers = devices.len().min(ranks);
    let next = AtomicUsize::new(workers);
    let failed = AtomicBool::new(false);
    let slots: Vec<Mutex<Option<anyhow::Result<T>>>> =
        (0..ranks).map(|_| Mutex::new(None)).collect();
    std::thread::scope(|s| {
        for (k, &device) in devices.iter().take(workers).enumerate() {
            let (next, failed, slots, work) = (&next, &failed, &slots, &work);
            s.spawn(move || {
                let mut first = Some(k);
                loop {
                    if failed.load(Ordering::SeqCst) || super::progress::interrupted() {
                        break;
                    }
                    let i = first
                        .take()
                        .unwrap_or_else(|| next.fetch_add(1, Ordering::SeqCst));
                    if i >= ranks {
                        break;
                    }
                    let r = work(i, device);
                    if r.is_err() {
                        failed.store(true, Ordering::SeqCst);
                    }
                    *slots[i].lock().unwrap_or_else(|p| p.into_inner()) = Some(r);
                }
            });
        }
    });
    let mut out = Vec::with_capacity(ranks);
    let mut not_run = false;
    for slot in slots {
        match slot.into_inner().unwrap_or_else(|p| p.into_inner()) {
            Some(Ok(t)) => out.push(t),
            Some(Err(e)) => return Err(e),
            None => not_run = true,
        }
    }
    if not_run {
        super::progress::check_interrupted()?;
        unreachable!("a rank is left undone only after a failure or an interrupt");
    }
    Ok(out)
}

/// A rank's error, named, with TensorRT-LLM's words where they help.
pub fn rank_error(dir: &EngineDir, rank: &Rank, device: usize, e: anyhow::Error) -> anyhow::Error {
    let e = match crate::error::find(&e).map(|x| x.kind) {
        // A new error, not a context: the first `Error` of a chain gives the hint.
        Some(ErrorKind::NotRefittable) => {
            let ours =
                dir.not_refittable(&format!("TensorRT says rank{}.engine is not", rank.rank));
            anyhow::Error::new(Error {
                message: format!("{}: {e:#}", ours.message),
                ..ours
            })
        }
        _ => e,
    };
    e.context(format!(
        "rank {} (`{}`, GPU {device})",
        rank.rank,
        rank.engine.display()
    ))
}

/// Checks the output folder before the work: not the input, a folder we may create or (with
/// `--force`) replace, writable.
pub(crate) fn check_output(
    input: &Path,
    out: &Path,
    force: bool,
) -> anyhow::Result<atomic::Target> {
    let same = |a: &Path, b: &Path| matches!((a.canonicalize(), b.canonicalize()), (Ok(x), Ok(y)) if x == y);
    if same(input, out)
        || out
            .parent()
            .is_some_and(|p| !p.as_os_str().is_empty() && same(input, p))
    {
        return Err(usage(
            format!(
                "output `{}` is the input directory or inside it",
                out.display()
            ),
            "write the output to another folder; the input is never modified",
        ));
    }
    if force
        && atomic::inspect(out)? == atomic::Existing::Dir
        && !engine_dir::is_replaceable_output(out)
    {
        return Err(atomic::not_written(
            out,
            "the folder exists and is not a TensorRT-LLM checkpoint or engine directory (config.json and rank{N} files only); refusing to delete it, even with --force",
            "choose a new folder, or empty or remove this one yourself",
        ));
    }
    let target = atomic::dir_target(out, force, engine_dir::is_replaceable_output)?;
    atomic::probe_writable(&target)?;
    Ok(target)
}

/// What one rank of `dump` produced.
#[derive(Serialize)]
struct RankDump {
    rank: usize,
    device: usize,
    managed_weights: usize,
    report: Report,
}

#[derive(Serialize)]
struct DirReport<'a> {
    /// `trt-dump.dump-dir/1`: not `dump`'s layout (one report per rank under `ranks`).
    format: &'static str,
    engine_dir: String,
    world_size: usize,
    output: Option<String>,
    ranks: &'a [RankDump],
}

/// `trt-dump dump ENGINE_DIR -o CKPT_DIR/`.
pub fn dump(g: &GlobalArgs, a: &DumpArgs) -> anyhow::Result<Outcome> {
    super::progress::install_interrupt_handler();
    let dir = EngineDir::open(&a.engine)?;
    let not_here = |flag: &str| {
        usage(
            format!("{flag} is not supported for engine directories"),
            "an engine directory is dumped to a checkpoint directory: rank{N}.safetensors + config.json",
        )
    };
    match a.out.format {
        None | Some(writer::Format::Safetensors) => {}
        Some(_) => return Err(not_here("--format npz/npy")),
    }
    for (given, flag) in [
        (a.out.compress, "--compress"),
        (a.out.shapes_from.is_some(), "--shapes-from"),
        (
            a.map.is_some(),
            "--map (each rank's own map beside it, rank{N}.engine.trtmap, is used)",
        ),
        (a.save_map.is_some(), "--save-map"),
    ] {
        if given {
            return Err(not_here(flag));
        }
    }
    if dir.refittable_per_config() == Some(false) {
        return Err(anyhow::Error::new(dir.not_refittable(
            "config.json: build_config.use_refit and use_strip_plan are false",
        )));
    }
    let target = check_output(&dir.path, &a.out.output, a.out.force)?;
    let devices = devices(g)?;
    let plugins = plugins(g, &dir);
    crate::note!(
        "engine directory `{}`: {} rank(s) on GPU {}",
        dir.path.display(),
        dir.ranks.len(),
        join(&devices[..devices.len().min(dir.ranks.len())])
    );
    let staged = atomic::StagedDir::create(target)?;
    let dumped = run_ranks(dir.ranks.len(), &devices, |i, device| {
        let rank = &dir.ranks[i];
        dump_rank(g, a, rank, device, &plugins, staged.path())
            .map_err(|e| rank_error(&dir, rank, device, e))
    });
    let dumped = match dumped {
        Ok(d) => d,
        Err(e) => {
            return Err(e.context(format!(
                "dumping `{}`: nothing was written",
                dir.path.display()
            )))
        }
    };
    super::progress::check_interrupted()?;
    let config = serde_json::to_vec_pretty(dir.checkpoint_config())?;
    writer::write_file(&staged.path().join(engine_dir::CONFIG), false, &config)?;
    let out = a.out.output.clone();
    staged.commit(engine_dir::is_replaceable_output)?;

    for r in &dumped {
        report::print_weight_lines(&r.report.weights);
        report::print_summary(&r.report);
    }
    let tensors: usize = dumped
        .iter()
        .map(|r| r.report.weights.iter().filter(|w| w.extracted).count() + r.managed_weights)
        .sum();
    crate::note!(
        "wrote a TensorRT-LLM checkpoint to `{}`: config.json and {} rank file(s), {tensors} tensors",
        out.display(),
        dumped.len()
    );
    if a.json {
        let rep = DirReport {
            format: "trt-dump.dump-dir/1",
            engine_dir: dir.path.display().to_string(),
            world_size: dir.world_size,
            output: Some(out.display().to_string()),
            ranks: &dumped,
        };
        super::emit_json(&rep)?;
    }
    Ok(Outcome::Success)
}

fn dump_rank(
    g: &GlobalArgs,
    a: &DumpArgs,
    rank: &Rank,
    device: usize,
    plugins: &[PathBuf],
    staged: &Path,
) -> anyhow::Result<RankDump> {
    let mut g = g.clone();
    g.device = device;
    g.plugins = plugins.to_vec();
    crate::detail!(
        "rank {}: `{}` on GPU {device}",
        rank.rank,
        rank.engine.display()
    );
    let via = if a.no_sidecar {
        Via::Gpu
    } else {
        Via::SidecarOrGpu
    };
    let ex = source::obtain(&g, &rank.engine, via, &a.extract)?;
    super::progress::check_interrupted()?;
    let rep = super::dump::build_report(&rank.engine, &ex)?;
    if super::dump::proof_refutes(&ex.proof) {
        return Err(anyhow::Error::new(Error::new(
            ErrorKind::ProofFailed,
            report::proof_line(&ex.proof),
        )));
    }
    if !a.extract.allow_missing && ex.any_missing() {
        super::dump::incomplete(&ex, false, false)?;
    }

    let managed = match &rank.managed {
        Some(p) => crate::reference::load(p)
            .with_context(|| format!("reading managed weights `{}`", p.display()))?,
        None => Vec::new(),
    };
    let mut planned: Vec<(PlannedTensor, &[u8])> = Vec::new();
    for (w, r) in ex.weights.iter().zip(&ex.results) {
        if let Some(v) = r.values.values.as_deref() {
            planned.push((
                PlannedTensor {
                    name: w.name.clone(),
                    dtype: w.dtype,
                    shape: vec![w.count],
                    shape_source: ShapeSource::Flat,
                },
                v,
            ));
        }
    }
    let mut managed_names = Vec::new();
    for t in &managed {
        if ex.weights.iter().any(|w| w.name == t.name) {
            crate::warn!(
                "rank {}: `{}` is both in the engine and in its managed weights; the engine's values are kept",
                rank.rank,
                t.name
            );
            continue;
        }
        managed_names.push(t.name.clone());
        let from = rank
            .managed
            .as_ref()
            .map(|p| p.display().to_string())
            .unwrap_or_default();
        planned.push((
            PlannedTensor {
                name: t.name.clone(),
                dtype: t.dtype,
                shape: t.shape.clone(),
                shape_source: ShapeSource::Recovered { from },
            },
            &t.data,
        ));
    }

    let sha = match &ex.engine_sha256 {
        Some(s) => s.clone(),
        None => super::dump::sha256_file(&rank.engine)?,
    };
    let mut metadata = super::dump::extraction_metadata(&rank.engine, sha, &ex)?;
    metadata.insert("tensorrt_llm.rank".to_string(), rank.rank.to_string());
    metadata.insert(
        "tensorrt_llm.managed_weights".to_string(),
        serde_json::to_string(&managed_names)?,
    );
    if let Some(p) = &rank.managed {
        metadata.insert(
            "tensorrt_llm.managed_weights_source".to_string(),
            p.display().to_string(),
        );
    }

    let path = staged.join(format!("rank{}.safetensors", rank.rank));
    let opts = WriterOptions {
        format: Some(writer::Format::Safetensors),
        compress: false,
        force: false,
        metadata,
    };
    let plan: Vec<PlannedTensor> = planned.iter().map(|(p, _)| p.clone()).collect();
    let mut sink = writer::open(&path, &opts, &plan)?;
    for (p, data) in &planned {
        super::progress::check_interrupted()?;
        sink.add(&TensorView {
            name: &p.name,
            dtype: p.dtype,
            shape: &p.shape,
            data,
        })?;
    }
    sink.finish()?;
    Ok(RankDump {
        rank: rank.rank,
        device,
        managed_weights: managed_names.len(),
        report: rep,
    })
}

/// What one rank of `refit` produced.
#[derive(Serialize)]
struct RankRefit {
    rank: usize,
    device: usize,
    weights: String,
    managed_weights: usize,
}

/// `trt-dump refit ENGINE_DIR --weights CKPT_DIR -o OUT_DIR/`: each rank refitted from its
/// `rank{N}.safetensors` by the single-engine `refit`, the engine directory written with the
/// input's `config.json`.
pub fn refit(g: &GlobalArgs, a: &RefitArgs) -> anyhow::Result<Outcome> {
    super::progress::install_interrupt_handler();
    let dir = EngineDir::open(&a.engine)?;
    if !a.weights.is_dir() {
        return Err(usage(
            format!(
                "--weights `{}` is not a folder: an engine directory is refitted from a TensorRT-LLM checkpoint directory (config.json + rank{{N}}.safetensors)",
                a.weights.display()
            ),
            "`trt-dump dump ENGINE_DIR -o CKPT_DIR/` writes one; edit it and pass --weights CKPT_DIR",
        ));
    }
    if a.map.is_some() {
        return Err(usage(
            "--map is not supported for engine directories (each rank's own map beside it, rank{N}.engine.trtmap, is used)",
            "drop --map",
        ));
    }
    let ckpt = CheckpointDir::open(&a.weights)?;
    if ckpt.world_size != dir.world_size {
        return Err(anyhow::Error::new(
            Error::new(
                ErrorKind::WeightsMismatch,
                format!(
                    "checkpoint `{}` has {} rank(s) but engine directory `{}` has {}",
                    ckpt.path.display(),
                    ckpt.world_size,
                    dir.path.display(),
                    dir.world_size
                ),
            )
            .with_hint(
                "refit from a checkpoint with the engines' mapping (the one they were built from, or dumped from them)",
            ),
        ));
    }
    if dir.refittable_per_config() == Some(false) {
        return Err(anyhow::Error::new(dir.not_refittable(
            "config.json: build_config.use_refit and use_strip_plan are false",
        )));
    }
    if a.names_from.is_some() {
        return Err(usage(
            "--names-from pairs one engine's weights; an engine directory is refitted from a checkpoint under the engines' names".to_string(),
            "refit one rank's engine (ENGINE_DIR/rankN.engine) with --names-from",
        ));
    }
    check_output(&ckpt.path, &a.output, a.force)?;
    let target = check_output(&dir.path, &a.output, a.force)?;
    let devices = devices(g)?;
    let plugins = plugins(g, &dir);
    crate::note!(
        "engine directory `{}`: refitting {} rank(s) from `{}` on GPU {}",
        dir.path.display(),
        dir.ranks.len(),
        ckpt.path.display(),
        join(&devices[..devices.len().min(dir.ranks.len())])
    );
    let staged = atomic::StagedDir::create(target)?;
    let done = run_ranks(dir.ranks.len(), &devices, |i, device| {
        let rank = &dir.ranks[i];
        refit_rank(g, a, rank, &ckpt.ranks[i], device, &plugins, staged.path())
            .map_err(|e| rank_error(&dir, rank, device, e))
    });
    let done = match done {
        Ok(d) => d,
        Err(e) => {
            return Err(e.context(format!(
                "refitting `{}`: nothing was written",
                dir.path.display()
            )))
        }
    };
    super::progress::check_interrupted()?;
    let config_path = dir.path.join(engine_dir::CONFIG);
    let config = std::fs::read(&config_path).map_err(|e| {
        anyhow::Error::new(Error::new(
            ErrorKind::InputUnreadable,
            format!("cannot read `{}`: {e}", config_path.display()),
        ))
    })?;
    writer::write_file(&staged.path().join(engine_dir::CONFIG), false, &config)?;
    let out = a.output.clone();
    staged.commit(engine_dir::is_replaceable_output)?;
    crate::note!(
        "wrote the engine directory `{}`: config.json and {} refitted rank engine(s)",
        out.display(),
        done.len()
    );
    if a.json {
        #[derive(Serialize)]
        struct DirRefit<'a> {
            /// `trt-dump.refit-dir/1`: not `refit`'s layout (one line per rank under `ranks`).
            format: &'static str,
            engine_dir: String,
            weights: String,
            world_size: usize,
            output: String,
            ranks: &'a [RankRefit],
        }
        let rep = DirRefit {
            format: "trt-dump.refit-dir/1",
            engine_dir: dir.path.display().to_string(),
            weights: ckpt.path.display().to_string(),
            world_size: dir.world_size,
            output: out.display().to_string(),
            ranks: &done,
        };
        super::emit_json(&rep)?;
    }
    Ok(Outcome::Success)
}

fn refit_rank(
    g: &GlobalArgs,
    a: &RefitArgs,
    rank: &Rank,
    weights: &Path,
    device: usize,
    plugins: &[PathBuf],
    staged: &Path,
) -> anyhow::Result<RankRefit> {
    let mut g = g.clone();
    g.device = device;
    g.plugins = plugins.to_vec();
    crate::detail!(
        "rank {}: `{}` from `{}` on GPU {device}",
        rank.rank,
        rank.engine.display(),
        weights.display()
    );
    let one = RefitArgs {
        engine: rank.engine.clone(),
        weights: weights.to_path_buf(),
        output: staged.join(format!("rank{}.engine", rank.rank)),
        rename: a.rename.clone(),
        names_from: None,
        cast: a.cast,
        force: false,
        no_verify: a.no_verify,
        map: None,
        no_sidecar: a.no_sidecar,
        work_dir: a.work_dir.clone(),
        json: false,
    };
    // The managed weights merged into the checkpoint's rank file are the engine's inputs, not
    // weights of its refitter: no warning that they match none.
    let managed_names: Vec<String> = match &rank.managed {
        Some(m) => crate::reference::load(m)
            .with_context(|| format!("reading managed weights `{}`", m.display()))?
            .into_iter()
            .map(|t| t.name)
            .collect(),
        None => Vec::new(),
    };
    let shown = a.output.join(format!("rank{}.engine", rank.rank));
    let extra = super::refit::Extra {
        not_weights: &managed_names,
        shown_output: Some(&shown),
    };
    super::refit::run_with(&g, &one, &extra)?;
    let managed_name = format!("rank{}_managed_weights.safetensors", rank.rank);
    let managed = match &rank.managed {
        Some(m) => write_managed(
            m,
            weights,
            &staged.join(&managed_name),
            &a.output.join(&managed_name),
        )?,
        None => 0,
    };
    Ok(RankRefit {
        rank: rank.rank,
        device,
        weights: weights.display().to_string(),
        managed_weights: managed,
    })
}

/// The output's `rank{N}_managed_weights.safetensors`: each tensor of the input's, with the
/// checkpoint's values where it holds that name (same dtype and shape), else the input's.
fn write_managed(
    input: &Path,
    checkpoint: &Path,
    out: &Path,
    shown: &Path,
) -> anyhow::Result<usize> {
    let base = crate::reference::load(input)
        .with_context(|| format!("reading managed weights `{}`", input.display()))?;
    let new = crate::reference::load(checkpoint)?;
    let mut planned: Vec<(PlannedTensor, &[u8])> = Vec::new();
    let mut replaced = 0;
    for t in &base {
        let v = match new.iter().find(|n| n.name == t.name) {
            Some(n) if n.dtype == t.dtype && n.shape == t.shape => {
                replaced += 1;
                n
            }
            Some(n) => {
                return Err(anyhow::Error::new(Error::new(
                    ErrorKind::WeightsMismatch,
                    format!(
                        "managed weight `{}`: `{}` holds it as {} {:?}, the engine directory's `{}` as {} {:?}",
                        t.name,
                        checkpoint.display(),
                        n.dtype.name(),
                        n.shape,
                        input.display(),
                        t.dtype.name(),
                        t.shape
                    ),
                )))
            }
            None => t,
        };
        planned.push((
            PlannedTensor {
                name: v.name.clone(),
                dtype: v.dtype,
                shape: v.shape.clone(),
                shape_source: ShapeSource::Recovered {
                    from: input.display().to_string(),
                },
            },
            &v.data,
        ));
    }
    let mut metadata = BTreeMap::new();
    metadata.insert(
        "tool".to_string(),
        format!("trt-dump {}", env!("CARGO_PKG_VERSION")),
    );
    let opts = WriterOptions {
        format: Some(writer::Format::Safetensors),
        compress: false,
        force: false,
        metadata,
    };
    let plan: Vec<PlannedTensor> = planned.iter().map(|(p, _)| p.clone()).collect();
    let mut sink = writer::open(out, &opts, &plan)?;
    for (p, data) in &planned {
        sink.add(&TensorView {
            name: &p.name,
            dtype: p.dtype,
            shape: &p.shape,
            data,
        })?;
    }
    sink.finish()?;
    crate::detail!(
        "{}: {replaced} of {} managed weight(s) from the checkpoint",
        shown.display(),
        base.len()
    );
    Ok(base.len())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn ranks_run_at_once_one_per_device_and_queue_beyond() {
        let inside = AtomicUsize::new(0);
        let most = AtomicUsize::new(0);
        let seen = Mutex::new(Vec::new());
        let out = run_ranks(5, &[3, 7], |i, device| {
            let now = inside.fetch_add(1, Ordering::SeqCst) + 1;
            most.fetch_max(now, Ordering::SeqCst);
            std::thread::sleep(Duration::from_millis(30));
            seen.lock().unwrap().push((i, device));
            inside.fetch_sub(1, Ordering::SeqCst);
            Ok(i * 10)
        })
        .unwrap();
        assert_eq!(out, [0, 10, 20, 30, 40], "results in rank order");
        assert_eq!(
            most.load(Ordering::SeqCst),
            2,
            "two devices, two ranks at once"
        );
        let seen = seen.into_inner().unwrap();
        assert!(
            seen.contains(&(0, 3)) && seen.contains(&(1, 7)),
            "rank N starts on the Nth device: {seen:?}"
        );
    }

    #[test]
    fn a_failure_stops_new_ranks_and_the_lowest_error_wins() {
        let started = AtomicUsize::new(0);
        let r = run_ranks(6, &[0], |i, _| {
            started.fetch_add(1, Ordering::SeqCst);
            if i == 1 {
                anyhow::bail!("rank {i} broke")
            }
            Ok(())
        });
        assert_eq!(format!("{:#}", r.unwrap_err()), "rank 1 broke");
        assert_eq!(
            started.load(Ordering::SeqCst),
            2,
            "no rank starts after a failure"
        );
    }
}
