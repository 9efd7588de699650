//! Getting an engine's weights, by whichever way is available: a map file on the CPU (`--map`, or
//! a matching sidecar `ENGINE.trtmap`), or marker passes through TensorRT on the GPU.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::Context;

use super::args::{ExtractArgs, GlobalArgs};
use super::progress::Bars;
use super::report::Source;
use crate::engine_file::EngineFile;
use crate::error::{Error, ErrorKind};
use crate::map::{self, Header, MapFile, MissingWeight};
use crate::pipeline::assemble;
use crate::pipeline::extract::{self, Extraction, Missing, PassCounts, Proof, WeightResult};
use crate::pipeline::{Run, WeightSpec};
use crate::trt;

/// Weights and values, however they were obtained.
pub struct Extracted {
    pub weights: Vec<WeightSpec>,
    pub results: Vec<WeightResult>,
    pub proof: Proof,
    /// False when the proof compared through an alignment of the original's layout with the
    /// refitted one (see `Extraction::proof_independent`); true where there was no such alignment.
    pub proof_independent: bool,
    pub passes: Option<PassCounts>,
    pub source: Source,
    /// The `meta` notes of the map read (how it was made, from what), on the map path.
    pub map_meta: Option<BTreeMap<String, String>>,
    /// What the map read knows of the engine's weights, on the map path.
    pub map_knows: Option<map::Knows>,
    /// What was learned, as a map (GPU path only).
    pub map: Option<MapFile>,
    pub seconds: f64,
    /// The engine file's sha256 (hex), from the mapping the values were read from, when asked
    /// for ([`obtain_hashed`]).
    pub engine_sha256: Option<String>,
}

impl Extracted {
    pub fn any_missing(&self) -> bool {
        self.results.iter().any(|r| r.missing.is_some())
    }
}

pub fn trt_options(g: &GlobalArgs) -> trt::Options {
    trt::Options {
        trt_lib: g.trt_lib.clone(),
        plugins: g.plugins.clone(),
        device: g.device,
    }
}

/// How to get the values.
pub enum Via<'a> {
    /// A map file given on the command line: it must match.
    Map(&'a Path),
    /// The sidecar if it exists and matches, else TensorRT.
    SidecarOrGpu,
    /// TensorRT only.
    Gpu,
}

/// Reads the weights of `engine_path`.
pub fn obtain(
    g: &GlobalArgs,
    engine_path: &Path,
    via: Via<'_>,
    x: &ExtractArgs,
) -> anyhow::Result<Extracted> {
    obtain_inner(g, engine_path, via, x, false)
}

/// [`obtain`], and the engine's sha256 (`Extracted::engine_sha256`) from the same mapping, on a
/// thread of its own while the values are read: the engine is read once.
pub fn obtain_hashed(
    g: &GlobalArgs,
    engine_path: &Path,
    via: Via<'_>,
    x: &ExtractArgs,
) -> anyhow::Result<Extracted> {
    obtain_inner(g, engine_path, via, x, true)
}

/// Runs `work` while, if `hash`, another thread hashes `bytes`; the digest goes into the result.
fn with_hash(
    bytes: &[u8],
    hash: bool,
    work: impl FnOnce() -> anyhow::Result<Extracted>,
) -> anyhow::Result<Extracted> {
    if !hash {
        return work();
    }
    use std::sync::atomic::{AtomicBool, Ordering};
    let stop = AtomicBool::new(false);
    std::thread::scope(|s| {
        let h = s.spawn(|| {
            use sha2::{Digest, Sha256};
            let mut h = Sha256::new();
            for c in bytes.chunks(8 << 20) {
                if stop.load(Ordering::Relaxed) {
                    return None;
                }
                h.update(c);
            }
            Some(
                h.finalize()
                    .iter()
                    .map(|x| format!("{x:02x}"))
                    .collect::<String>(),
            )
        });
        let ex = work();
        if ex.is_err() {
            // Failed or interrupted: don't wait for the rest of the hash.
            stop.store(true, Ordering::Relaxed);
        }
        let digest = h.join().expect("hashing thread panicked");
        let mut ex = ex?;
        ex.engine_sha256 = digest;
        Ok(ex)
    })
}

fn obtain_inner(
    g: &GlobalArgs,
    engine_path: &Path,
    via: Via<'_>,
    x: &ExtractArgs,
    hash: bool,
) -> anyhow::Result<Extracted> {
    match via {
        Via::Map(p) => {
            let file = EngineFile::open(engine_path)?;
            with_hash(file.bytes(), hash, || from_map(&file, p))
        }
        Via::SidecarOrGpu => {
            let side = map::sidecar_path(engine_path);
            if side.is_file() {
                let file = EngineFile::open(engine_path)?;
                match with_hash(file.bytes(), hash, || from_map(&file, &side)) {
                    Ok(x) => {
                        crate::note!(
                            "using the map `{}` beside the engine (no GPU needed)",
                            side.display()
                        );
                        return Ok(x);
                    }
                    Err(e)
                        if crate::error::find(&e).is_some_and(|e| e.kind == ErrorKind::BadMap) =>
                    {
                        crate::warn!(
                            "ignoring `{}`: {e:#}; mapping with TensorRT instead",
                            side.display()
                        );
                    }
                    Err(e) => return Err(e),
                }
            }
            gpu(g, engine_path, x, hash)
        }
        Via::Gpu => gpu(g, engine_path, x, hash),
    }
}

/// Reads and parses a map file (`map` itself only parses bytes). Unreadable is exit 3, a bad map
/// exit 14, each naming the file.
pub fn read_map(path: &Path) -> anyhow::Result<MapFile> {
    let bytes = std::fs::read(path).map_err(|e| {
        anyhow::Error::new(Error::new(
            ErrorKind::InputUnreadable,
            format!("cannot read map `{}`: {e}", path.display()),
        ))
    })?;
    MapFile::from_bytes(&bytes).with_context(|| format!("reading map `{}`", path.display()))
}

/// CPU only: values through a map, after checking that the map fits the engine.
pub fn from_map(file: &EngineFile, map_path: &Path) -> anyhow::Result<Extracted> {
    let started = std::time::Instant::now();
    let m = read_map(map_path)?;
    let runs = m
        .runs_for(file.bytes())
        .with_context(|| format!("reading map `{}`", map_path.display()))?;
    m.check_engine(file.bytes(), &runs).with_context(|| {
        format!(
            "map `{}` vs engine `{}`",
            map_path.display(),
            file.path.display()
        )
    })?;
    let weights = m.header.weights.clone();
    let values = assemble::assemble(&weights, &runs, file.bytes()).map_err(|e| {
        anyhow::Error::new(Error::new(
            ErrorKind::BadMap,
            format!("map `{}`: {e}", map_path.display()),
        ))
    })?;
    let recorded: BTreeMap<&str, &Missing> = m
        .header
        .missing
        .iter()
        .map(|w| (w.name.as_str(), &w.reason))
        .collect();
    let results = weights
        .iter()
        .zip(values)
        .map(|(w, v)| {
            let missing = if v.values.is_some() {
                None
            } else if let Some(r) = recorded.get(w.name.as_str()) {
                Some((*r).clone())
            } else if v.found > 0 {
                Some(Missing::NotInMap {
                    why: format!(
                        "the map places only {} of its {} elements",
                        v.found, w.count
                    ),
                })
            } else {
                // The map lists the weight but records neither bytes nor a reason: that says
                // nothing of the engine, only of the map.
                Some(Missing::NotInMap {
                    why: "the map lists it but records no bytes of it".into(),
                })
            };
            WeightResult { values: v, missing }
        })
        .collect();
    Ok(Extracted {
        weights,
        results,
        proof: Proof::Skipped,
        proof_independent: true,
        passes: None,
        source: Source::Map {
            path: map_path.display().to_string(),
        },
        map_meta: Some(m.header.meta.clone()),
        map_knows: Some(m.header.knows()),
        map: None,
        seconds: started.elapsed().as_secs_f64(),
        engine_sha256: None,
    })
}

/// Marker passes through TensorRT.
pub fn from_gpu(g: &GlobalArgs, engine_path: &Path, x: &ExtractArgs) -> anyhow::Result<Extracted> {
    gpu(g, engine_path, x, false)
}

fn gpu(
    g: &GlobalArgs,
    engine_path: &Path,
    x: &ExtractArgs,
    hash: bool,
) -> anyhow::Result<Extracted> {
    super::progress::install_interrupt_handler();
    let engine = trt::TrtEngine::open(&trt_options(g), engine_path)?;
    with_hash(engine.file.bytes(), hash, || {
        gpu_passes(g, &engine, engine_path, x)
    })
}

fn gpu_passes(
    _g: &GlobalArgs,
    engine: &trt::TrtEngine,
    engine_path: &Path,
    x: &ExtractArgs,
) -> anyhow::Result<Extracted> {
    let weights = crate::pipeline::Engine::weights(engine).to_vec();
    let ids = crate::pipeline::ids::IdSpace::new(&weights);
    let images = crate::scratch::IMAGES_HELD;
    let steps = u64::from(ids.passes) + 2 + u64::from(!x.no_verify);
    let mut bars = Bars::new(steps);
    let file_len = engine.file.len();
    let opts = extract::Options {
        verify: !x.no_verify,
    };
    let ex = if crate::scratch::should_spill(file_len, images, x.work_dir.is_some()) {
        let mut scratch = crate::scratch::DiskScratch::new(x.work_dir.as_deref())?;
        crate::detail!("keeping serializations in `{}`", scratch.path().display());
        extract::extract(engine, engine.file.bytes(), &opts, &mut scratch, &mut bars)
    } else {
        extract::extract(
            engine,
            engine.file.bytes(),
            &opts,
            &mut extract::InMemory,
            &mut bars,
        )
    };
    bars.finish();
    let ex = ex.with_context(|| format!("extracting weights from `{}`", engine_path.display()))?;
    let source = Source::Tensorrt {
        library: engine.session.lib.path.display().to_string(),
        version: engine.session.lib.describe(),
        gpu: engine.session.gpu.as_ref().ok().map(|g| g.describe()),
    };
    let map = learned_map(&ex, engine.file.bytes(), &source, &engine.file);
    let proof_independent = ex.proof_independent();
    // Moved, not cloned: the values are the size of the engine.
    let Extraction {
        weights,
        results,
        proof,
        passes,
        ..
    } = ex;
    Ok(Extracted {
        weights,
        results,
        proof,
        proof_independent,
        passes: Some(passes),
        source,
        map_meta: None,
        map_knows: None,
        map: Some(map),
        seconds: bars.elapsed(),
        engine_sha256: None,
    })
}

/// The map of what an extraction learned, in engine-file coordinates.
pub fn learned_map(ex: &Extraction, file: &[u8], source: &Source, ef: &EngineFile) -> MapFile {
    let volatile: Vec<(u64, u64)> = ex.file_volatile.clone();
    let mut meta = BTreeMap::new();
    meta.insert(
        "tool".to_string(),
        format!("trt-dump {}", env!("CARGO_PKG_VERSION")),
    );
    meta.insert("made_by".to_string(), "marker passes".to_string());
    meta.insert(
        map::META_KNOWS.to_string(),
        map::Knows::AllRefittable.as_str().to_string(),
    );
    meta.insert("engine_built_by".to_string(), ef.built_by());
    if let Source::Tensorrt { version, .. } = source {
        meta.insert("tensorrt".to_string(), version.clone());
    }
    meta.insert("proof".to_string(), super::report::proof_line(&ex.proof));
    let runs: &[Run] = &ex.file_runs;
    let header = Header {
        engine_len: file.len() as u64,
        fingerprint: map::fingerprint(file, runs, &volatile),
        weights: ex.weights.clone(),
        missing: ex
            .missing()
            .map(|(w, m)| MissingWeight {
                name: w.name.clone(),
                reason: m.clone(),
            })
            .collect(),
        volatile,
        meta,
    };
    MapFile {
        header,
        runs: map::compress(runs),
    }
}

/// Writes a map atomically.
pub fn save_map(m: &MapFile, path: &Path, force: bool) -> anyhow::Result<PathBuf> {
    let bytes = m.to_bytes()?;
    crate::writer::write_file(path, force, &bytes)?;
    Ok(path.to_path_buf())
}
