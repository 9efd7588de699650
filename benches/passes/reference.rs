//! The reference tool's method (refortif-ai/trt-weight-extractor), implemented over the same
//! [`Engine`] interface so the benchmark can set it beside ours in one run. Benchmark code only:
//! not part of the library.
//!
//! It normalises (serializes the untouched engine), refits every weight to zero (baseline), then
//! for each weight — for fp16 weights, for each chunk of 2048 elements — refits markers 42, 43, …
//! into that weight alone, serializes, and reads every element that differs from the baseline in
//! the weight's refit dtype as an index (value − 42). That is one refit+serialize per weight or
//! chunk. Kept faithful on purpose, including two known flaws: fp16 cannot hold the odd integers
//! above 2048, so markers 2049…2089 of a chunk collide; and a weight stored in another dtype than
//! its refit dtype is not found.

use half::f16;
use trt_dump::dtype::DataType;
use trt_dump::pipeline::assemble::{self, WeightValues};
use trt_dump::pipeline::engine::{Engine, PlanBytes, WeightSpec};
use trt_dump::pipeline::extract::{Observer, Stage};
use trt_dump::pipeline::layout::RunBuilder;

pub const CHUNK: u64 = 2048;
pub const FIRST_MARKER: u64 = 42;

/// The refit+serialize passes the reference method needs (baseline included), and its one plain
/// serialization.
pub fn pass_count(weights: &[WeightSpec]) -> (u64, u64) {
    let per_weight: u64 = weights.iter().map(|w| chunks(w).len() as u64).sum();
    (1 + per_weight, 1)
}

/// The element ranges marked in one pass each.
fn chunks(w: &WeightSpec) -> Vec<(u64, u64)> {
    if w.count == 0 {
        return vec![];
    }
    if w.dtype == DataType::Half {
        (0..w.count.div_ceil(CHUNK))
            .map(|c| (c * CHUNK, ((c + 1) * CHUNK).min(w.count)))
            .collect()
    } else {
        vec![(0, w.count)]
    }
}

/// Writes marker `42 + k` for element `start + k` of the chunk, zeros elsewhere.
fn fill(dtype: DataType, start: u64, end: u64, buf: &mut [u8]) -> bool {
    let size = match dtype {
        DataType::Float | DataType::Int32 => 4,
        DataType::Half => 2,
        DataType::Int64 => 8,
        DataType::Int8 | DataType::Uint8 => 1,
        _ => return false,
    };
    for i in start..end {
        let v = FIRST_MARKER + (i - start);
        let at = (i as usize) * size;
        let c = &mut buf[at..at + size];
        match dtype {
            DataType::Float => c.copy_from_slice(&(v as f32).to_le_bytes()),
            DataType::Half => c.copy_from_slice(&f16::from_f32(v as f32).to_bits().to_le_bytes()),
            DataType::Int32 => c.copy_from_slice(&(v as i32).to_le_bytes()),
            DataType::Int64 => c.copy_from_slice(&(v as i64).to_le_bytes()),
            _ => c[0] = v as u8,
        }
    }
    true
}

/// Reads the marker at byte `at` in `dtype`, as the reference does (element-aligned).
fn read(dtype: DataType, b: &[u8]) -> Option<u64> {
    let v = match dtype {
        DataType::Float => f64::from(f32::from_le_bytes(b[..4].try_into().ok()?)),
        DataType::Half => f64::from(f16::from_bits(u16::from_le_bytes([b[0], b[1]])).to_f32()),
        DataType::Int32 => f64::from(i32::from_le_bytes(b[..4].try_into().ok()?)),
        DataType::Int64 => i64::from_le_bytes(b[..8].try_into().ok()?) as f64,
        _ => f64::from(b[0]),
    };
    (v >= FIRST_MARKER as f64 && v.fract() == 0.0).then(|| v as u64 - FIRST_MARKER)
}

pub struct ReferenceResult {
    pub values: Vec<WeightValues>,
    /// Refit+serialize passes made (baseline included).
    pub refit_serialize: u64,
    /// Elements whose marker decoded to an index another element also claimed (fp16 collisions).
    pub collisions: u64,
}

fn serialize_refit(engine: &dyn Engine, bufs: &[Vec<u8>]) -> anyhow::Result<Box<dyn PlanBytes>> {
    let views: Vec<&[u8]> = bufs.iter().map(|b| b.as_slice()).collect();
    let mut inst = engine.instance()?;
    inst.refit(&views)?;
    inst.serialize()
}

/// Runs the reference method. `max_passes` stops early (for timing a sample of a huge model).
pub fn extract(
    engine: &dyn Engine,
    max_passes: Option<u64>,
    obs: &mut dyn Observer,
) -> anyhow::Result<ReferenceResult> {
    let weights = engine.weights().to_vec();
    obs.stage(Stage::Normalise);
    let original = engine.instance()?.serialize()?;
    let mut bufs: Vec<Vec<u8>> = weights
        .iter()
        .map(|w| vec![0u8; w.refit_bytes() as usize])
        .collect();
    obs.stage(Stage::Baseline);
    let base = serialize_refit(engine, &bufs)?;
    let mut passes = 1u64;
    let mut found: Vec<(u64, u32, DataType, u64)> = Vec::new(); // (byte, weight, dtype, index)
    let mut collisions = 0u64;
    let total_passes = pass_count(&weights).0 - 1;
    'weights: for (wi, w) in weights.iter().enumerate() {
        for (a, b) in chunks(w) {
            if max_passes.is_some_and(|m| passes >= m) || obs.cancelled() {
                break 'weights;
            }
            obs.stage(Stage::Markers((passes - 1) as u32, total_passes as u32));
            bufs[wi].fill(0);
            if !fill(w.dtype, a, b, &mut bufs[wi]) {
                passes += 1;
                continue;
            }
            let img = serialize_refit(engine, &bufs)?;
            passes += 1;
            let (img, base) = (img.bytes(), base.bytes());
            if img.len() != base.len() {
                continue;
            }
            let size = (w.dtype.bits() / 8) as usize;
            let mut seen = std::collections::HashSet::new();
            let mut x = 0usize;
            while x + size <= img.len() {
                if img[x..x + size] != base[x..x + size] {
                    if let Some(k) = read(w.dtype, &img[x..x + size]) {
                        let idx = a + k;
                        if idx < b {
                            if !seen.insert(idx) {
                                collisions += 1;
                            }
                            found.push((x as u64, wi as u32, w.dtype, idx));
                        }
                    }
                }
                x += size;
            }
            bufs[wi].fill(0);
        }
    }
    found.sort_unstable();
    let mut rb = RunBuilder::default();
    for (byte, w, dtype, idx) in found {
        rb.push(w, dtype, byte * 2, idx);
    }
    let values = assemble::assemble(&weights, &rb.runs, original.bytes())
        .map_err(|e| anyhow::anyhow!("reference method produced an unreadable run: {e}"))?;
    Ok(ReferenceResult {
        values,
        refit_serialize: passes,
        collisions,
    })
}

/// The method's own checks (its unit tests while it lived in the library; a `harness = false`
/// bench has no test harness, so the bench runs them before measuring anything).
pub fn self_check() {
    pass_count_matches_the_seed();
    fp16_markers_above_2048_collide();
}

fn pass_count_matches_the_seed() {
    let ws = vec![
        WeightSpec {
            name: "a".into(),
            dtype: DataType::Float,
            count: 4096,
        },
        WeightSpec {
            name: "b".into(),
            dtype: DataType::Half,
            count: 4097,
        },
    ];
    // baseline + 1 (fp32 weight) + 3 fp16 chunks
    assert_eq!(pass_count(&ws), (5, 1));
}

fn fp16_markers_above_2048_collide() {
    let mut buf = vec![0u8; 2 * 2048];
    assert!(fill(DataType::Half, 0, 2048, &mut buf));
    // Element 2006 carries 2048 (exact); element 2007 carries 2049, which rounds to 2048.
    let a = read(DataType::Half, &buf[2 * 2006..2 * 2007]);
    let b = read(DataType::Half, &buf[2 * 2007..2 * 2008]);
    assert_eq!(
        (a, b),
        (Some(2006), Some(2006)),
        "neighbouring markers above 2048 read back the same"
    );
}
