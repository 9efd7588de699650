//! Reading values through runs: the last step of extraction, shared by the GPU path (runs just
//! decoded) and the CPU path (runs from a map file or from `locate`).
//!
//! Every element is read from the image at the place a run says, converted exactly into the refit
//! dtype (fp16/bf16 widen to fp32 exactly; an int32 copy of an int64 weight sign-extends), and put
//! at its index. A weight is complete only when every index was seen; a weight with holes is
//! reported with what was found and never written, so no value is ever made up. When an element is
//! stored more than once, the copy with the most mantissa bits wins (fp32 > fp16 > bf16), and every
//! other copy must equal the winner rounded to its own dtype; elements where that fails are counted
//! as disagreements.

use half::{bf16, f16};

use super::code::{precision_rank, Class};
use super::engine::WeightSpec;
use super::layout::Run;
use crate::dtype::DataType;

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct WeightValues {
    /// The values in the refit dtype (packed types two per byte), when every element was found.
    pub values: Option<Vec<u8>>,
    /// Distinct elements found.
    pub found: u64,
    /// Element sightings (found × copies, for a weight stored in full several times).
    pub sightings: u64,
    /// Stored dtypes seen, in order of first sight.
    pub stored: Vec<DataType>,
    /// Elements whose copies do not agree.
    pub disagreements: u64,
    /// Index of the first such element.
    pub first_disagreement: Option<u64>,
    /// Elements whose stored value has no exact representation in the refit dtype.
    pub inexact: u64,
    /// Lone sightings that disagreed with a sighting inside a stored buffer and were ignored
    /// (non-weight values that happened to read as markers).
    pub strays: u64,
    /// Every sighting was a lone element and they contradicted each other: nothing trustworthy.
    pub ambiguous: bool,
}

impl WeightValues {
    /// How many full copies of the weight the plan holds (sightings / count, rounded down).
    pub fn copies(&self, count: u64) -> u64 {
        self.sightings.checked_div(count).unwrap_or(0)
    }
}

/// A run that cannot be read: it points outside the image or the weight, or stores a dtype the
/// weight cannot have. Only maps read from disk can hold such runs.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("run {run} ({detail})")]
pub struct BadRun {
    pub run: usize,
    pub detail: String,
}

/// One stored element, read.
#[derive(Clone, Copy)]
enum Stored {
    /// A float of the given stored dtype, widened exactly, with its raw bits.
    Float(DataType, f32, u32),
    /// An integer (or byte pattern) of the stored dtype.
    Int(DataType, i64),
}

fn read_elem(image: &[u8], run: &Run, k: u64) -> Stored {
    let bits = u64::from(run.stored.bits());
    let bit_pos = run.offset * 8 + u64::from(run.nibble) * 4 + k * bits;
    let at = (bit_pos / 8) as usize;
    match run.stored {
        DataType::Float => {
            let b = u32::from_le_bytes(image[at..at + 4].try_into().unwrap_or([0; 4]));
            Stored::Float(DataType::Float, f32::from_bits(b), b)
        }
        DataType::Half => {
            let b = u16::from_le_bytes([image[at], image[at + 1]]);
            Stored::Float(DataType::Half, f16::from_bits(b).to_f32(), u32::from(b))
        }
        DataType::Bf16 => {
            let b = u16::from_le_bytes([image[at], image[at + 1]]);
            Stored::Float(DataType::Bf16, bf16::from_bits(b).to_f32(), u32::from(b))
        }
        DataType::Int32 => Stored::Int(
            run.stored,
            i64::from(i32::from_le_bytes(
                image[at..at + 4].try_into().unwrap_or([0; 4]),
            )),
        ),
        DataType::Int64 => Stored::Int(
            run.stored,
            i64::from_le_bytes(image[at..at + 8].try_into().unwrap_or([0; 8])),
        ),
        DataType::Int4 | DataType::Fp4 => Stored::Int(
            run.stored,
            i64::from((image[at] >> ((bit_pos % 8) as u32)) & 0xF),
        ),
        _ => Stored::Int(run.stored, i64::from(image[at])),
    }
}

/// Rounds an exact f32 to `dtype`'s bits (round to nearest even), and whether that was exact.
fn float_to(dtype: DataType, v: f32) -> (u32, bool) {
    match dtype {
        DataType::Float => (v.to_bits(), true),
        DataType::Half => {
            let h = f16::from_f32(v);
            (
                u32::from(h.to_bits()),
                h.to_f32().to_bits() == v.to_bits() || (v.is_nan() && h.is_nan()),
            )
        }
        DataType::Bf16 => {
            let h = bf16::from_f32(v);
            (
                u32::from(h.to_bits()),
                h.to_f32().to_bits() == v.to_bits() || (v.is_nan() && h.is_nan()),
            )
        }
        _ => unreachable!(),
    }
}

/// Writes element `index` of a refit-dtype buffer. Returns whether the value was exact.
fn write_value(refit: DataType, out: &mut [u8], index: u64, v: Stored) -> bool {
    let i = index as usize;
    match (refit, v) {
        (DataType::Float | DataType::Half | DataType::Bf16, Stored::Float(stored, f, raw)) => {
            let (bits, exact) = if stored == refit {
                (raw, true)
            } else {
                float_to(refit, f)
            };
            match refit {
                DataType::Float => out[4 * i..4 * i + 4].copy_from_slice(&bits.to_le_bytes()),
                _ => out[2 * i..2 * i + 2].copy_from_slice(&(bits as u16).to_le_bytes()),
            }
            exact
        }
        (DataType::Int32, Stored::Int(_, x)) => {
            out[4 * i..4 * i + 4].copy_from_slice(&(x as i32).to_le_bytes());
            i32::try_from(x).is_ok()
        }
        (DataType::Int64, Stored::Int(_, x)) => {
            out[8 * i..8 * i + 8].copy_from_slice(&x.to_le_bytes());
            true
        }
        (DataType::Int4 | DataType::Fp4, Stored::Int(_, x)) => {
            let shift = (i % 2) * 4;
            out[i / 2] = (out[i / 2] & !(0xF << shift)) | (((x as u8) & 0xF) << shift);
            true
        }
        (_, Stored::Int(_, x)) => {
            out[i] = x as u8;
            true
        }
        (_, Stored::Float(..)) => false,
    }
}

/// Whether two copies of one element agree: the lower-precision one must be the higher-precision
/// one rounded to its dtype.
fn agree(refit: DataType, a: Stored, b: Stored) -> bool {
    match (a, b) {
        (Stored::Float(da, fa, ra), Stored::Float(db, fb, rb)) => {
            if da == db {
                return ra == rb;
            }
            let ((hi_dtype, hi), lo_dtype, lo_raw) = if copy_rank(refit, da) >= copy_rank(refit, db)
            {
                ((da, fa), db, rb)
            } else {
                ((db, fb), da, ra)
            };
            // Only a copy in the refit dtype or in fp32 predicts the others: an fp16 and a bf16
            // rounding of an fp32 value say nothing about each other.
            if hi_dtype != refit && hi_dtype != DataType::Float {
                return true;
            }
            let (bits, _) = float_to(lo_dtype, hi);
            // A value beyond the narrow format's range may be stored as infinity or saturated to
            // its largest finite value; either is a faithful copy.
            let saturated = match lo_dtype {
                DataType::Half => {
                    (f16::MAX.to_bits() | if hi.is_sign_negative() { 0x8000 } else { 0 }) as u32
                }
                DataType::Bf16 => {
                    (bf16::MAX.to_bits() | if hi.is_sign_negative() { 0x8000 } else { 0 }) as u32
                }
                _ => bits,
            };
            let overflows = hi.is_finite()
                && float_to(lo_dtype, hi).0 & 0x7FFF == 0x7C00
                && lo_dtype == DataType::Half
                || hi.is_finite()
                    && lo_dtype == DataType::Bf16
                    && float_to(lo_dtype, hi).0 & 0x7FFF == 0x7F80;
            bits == lo_raw || (overflows && lo_raw == saturated)
        }
        (Stored::Int(da, x), Stored::Int(db, y)) if da == db => x == y,
        // An int32 copy of an int64 weight holds the value saturated to int32.
        (Stored::Int(_, x), Stored::Int(_, y)) => {
            let (wide, narrow) = if precision_rank(da_of(a)) >= precision_rank(da_of(b)) {
                (x, y)
            } else {
                (y, x)
            };
            narrow == wide.clamp(i64::from(i32::MIN), i64::from(i32::MAX))
        }
        _ => false,
    }
}

/// Which copy of an element is kept: one stored in the refit dtype itself first (a wider copy of
/// an fp16 weight holds nothing more), then the one with the most precision.
fn copy_rank(refit: DataType, stored: DataType) -> u8 {
    if stored == refit {
        8
    } else {
        precision_rank(stored)
    }
}

fn da_of(v: Stored) -> DataType {
    match v {
        Stored::Float(d, ..) | Stored::Int(d, _) => d,
    }
}

/// Reads run `r` (of a weight whose elements are each stored once) into `out`, element `i` at
/// `slot(i)`; returns how many values were not exact in the refit dtype. The common layouts get
/// loops of their own (a plain copy for a verbatim buffer, a widening loop for fp16/bf16 storage
/// of an fp32 weight); the rest go through `read_elem`/`write_value` like multi-copy weights.
fn read_single_copy(
    refit: DataType,
    r: &Run,
    image: &[u8],
    out: &mut [u8],
    identity: bool,
    slot: &impl Fn(u64) -> usize,
) -> u64 {
    let len = r.len as usize;
    let byte_aligned = !r.stored.is_packed() && r.nibble == 0;
    if identity && byte_aligned && r.stored == refit && r.index_stride == 1 {
        let size = (refit.bits() / 8) as usize;
        let (src, dst) = (r.offset as usize, r.index as usize * size);
        out[dst..dst + len * size].copy_from_slice(&image[src..src + len * size]);
        return 0;
    }
    if byte_aligned && r.stored == refit {
        // Any order: each element's bytes go to their place unchanged.
        let size = (refit.bits() / 8) as usize;
        let src = &image[r.offset as usize..r.offset as usize + size * len];
        let mut idx = r.index;
        for x in src.chunks_exact(size) {
            let at = size * slot(idx);
            out[at..at + size].copy_from_slice(x);
            idx = idx.wrapping_add_signed(r.index_stride);
        }
        return 0;
    }
    if identity && refit == DataType::Float && r.stored == DataType::Half && r.index_stride == 1 {
        widen_f16_run(
            &image[r.offset as usize..r.offset as usize + 2 * len],
            &mut out[4 * r.index as usize..][..4 * len],
        );
        return 0;
    }
    if refit == DataType::Float && matches!(r.stored, DataType::Half | DataType::Bf16) {
        let src = &image[r.offset as usize..r.offset as usize + 2 * len];
        let widen: fn(u16) -> f32 = if r.stored == DataType::Half {
            |b| f16::from_bits(b).to_f32()
        } else {
            |b| bf16::from_bits(b).to_f32()
        };
        let mut idx = r.index;
        for x in src.chunks_exact(2) {
            let at = 4 * slot(idx);
            out[at..at + 4].copy_from_slice(&widen(u16::from_le_bytes([x[0], x[1]])).to_le_bytes());
            idx = idx.wrapping_add_signed(r.index_stride);
        }
        return 0;
    }
    let mut inexact = 0;
    let mut idx = r.index;
    for k in 0..r.len {
        inexact += u64::from(!write_value(
            refit,
            out,
            slot(idx) as u64,
            read_elem(image, r, k),
        ));
        idx = idx.wrapping_add_signed(r.index_stride);
    }
    inexact
}

/// How many runs from `runs[i]` on form a transposed grid: the same stored dtype, length (2 or
/// more) and stride `s` (2 or more), first indices `index, index + 1, …`, and at most `s` runs, so
/// that no index repeats. Run `t` of the grid holds elements `index + t + k * s`: stored row `t`
/// of a matrix stored transposed is column `t` of the weight. A weight stored transposed on its own
/// gives one grid of all its runs; so does each weight of a fused transposed buffer (Q/K/V or
/// gate/up joined, then transposed): its runs lie a whole stored row apart, the other weights'
/// parts of each stored row between them, and reading a weight's grid is reading its block of the
/// buffer.
fn grid_len(runs: &[(&Run, bool)], i: usize) -> usize {
    let r = runs[i].0;
    if r.len < 2 || r.index_stride < 2 {
        return 1;
    }
    let most = usize::try_from(r.index_stride)
        .unwrap_or(usize::MAX)
        .min(runs.len() - i);
    let mut g = 1;
    while g < most {
        let o = runs[i + g].0;
        if o.stored != r.stored
            || o.len != r.len
            || o.index_stride != r.index_stride
            || o.index != r.index + g as u64
        {
            break;
        }
        g += 1;
    }
    g
}

/// Whether no element can be seen twice, told from index ranges alone: the elements of a run
/// (stride not 0) are distinct, and so are those of a grid ([`grid_len`]); each lies within its
/// range of indices (first to last), and no two ranges overlap. A weight stored transposed is one
/// grid, whose range is the whole weight; its runs alone would each span nearly all of it.
fn disjoint_ranges(runs: &[(&Run, bool)]) -> bool {
    let mut ranges = Vec::with_capacity(runs.len());
    let mut i = 0;
    while i < runs.len() {
        let r = runs[i].0;
        let g = grid_len(runs, i);
        if g > 1 {
            // The last run's last index, `validate`d in range.
            let last = runs[i + g - 1].0;
            ranges.push((
                r.index,
                last.index + (last.len - 1) * last.index_stride as u64 + 1,
            ));
            i += g;
            continue;
        }
        if r.len > 1 && r.index_stride == 0 {
            return false;
        }
        match r.index_bounds() {
            Some(b) => ranges.push(b),
            None => return false,
        }
        i += 1;
    }
    ranges.sort_unstable();
    ranges.windows(2).all(|w| w[0].1 <= w[1].0)
}

/// Reads a grid ([`grid_len`]) of single-copy elements into `out`, tile by tile (see
/// [`transpose_grid`]), rather than run by run: a run read alone is a strided scatter whose
/// consecutive writes land a whole output row apart (a new cache line with every element, and for
/// wide matrices a new page). Handles what the common layouts need (the refit dtype itself,
/// fp16/bf16 storage of fp32, each converted as [`read_single_copy`] does); returns false, reading
/// nothing, for the rest.
fn read_grid(refit: DataType, grid: &[(&Run, bool)], image: &[u8], out: &mut [u8]) -> bool {
    let stored = grid[0].0.stored;
    if stored.is_packed() {
        return false;
    }
    match (stored, refit) {
        (DataType::Half, DataType::Float) => transpose_grid::<2, 4>(grid, image, out, |b| {
            f16::from_bits(u16::from_le_bytes(b)).to_f32().to_le_bytes()
        }),
        (DataType::Bf16, DataType::Float) => transpose_grid::<2, 4>(grid, image, out, |b| {
            bf16::from_bits(u16::from_le_bytes(b))
                .to_f32()
                .to_le_bytes()
        }),
        (a, b) if a == b => match a.bits() {
            8 => transpose_grid::<1, 1>(grid, image, out, |b| b),
            16 => transpose_grid::<2, 2>(grid, image, out, |b| b),
            32 => transpose_grid::<4, 4>(grid, image, out, |b| b),
            64 => transpose_grid::<8, 8>(grid, image, out, |b| b),
            _ => return false,
        },
        _ => return false,
    }
    true
}

/// Runs of a grid read together: each output row gets `GROUP` elements side by side (128 bytes of
/// fp32), one from each run.
const GROUP: usize = 32;
/// Elements of each run per tile: a tile is `GROUP` runs by `SPAN` stored elements, `GROUP * SPAN *
/// IN` bytes read (8 KB of fp32) and `SPAN` output row pieces written.
const SPAN: usize = 64;

/// The cache-blocked transpose: the grid is cut into tiles of [`GROUP`] runs by [`SPAN`]
/// elements; inside a tile each output row piece is written in one go from the `GROUP` runs, so
/// reads stay within the tile's few cache lines per run and writes fill whole lines. Tiles go
/// across the grid first (every group of runs for the same `SPAN` output rows, which are then
/// written from start to end), then down to the next `SPAN` rows, so the output rows in work and
/// their pages stay in cache and TLB. Partial tiles (odd sizes) are the same loops, shorter.
fn transpose_grid<const IN: usize, const OUT: usize>(
    grid: &[(&Run, bool)],
    image: &[u8],
    out: &mut [u8],
    convert: impl Fn([u8; IN]) -> [u8; OUT],
) {
    let first = grid[0].0;
    let (len, stride) = (first.len as usize, first.index_stride as usize);
    let srcs: Vec<&[u8]> = grid
        .iter()
        .map(|(r, _)| &image[r.offset as usize..r.offset as usize + IN * len])
        .collect();
    for k0 in (0..len).step_by(SPAN) {
        let k_end = len.min(k0 + SPAN);
        for (n, group) in srcs.chunks(GROUP).enumerate() {
            let t0 = first.index as usize + n * GROUP;
            for k in k0..k_end {
                let at = t0 + k * stride;
                let row = &mut out[OUT * at..OUT * (at + group.len())];
                for (d, src) in row.chunks_exact_mut(OUT).zip(group) {
                    let x: [u8; IN] = src[IN * k..IN * k + IN].try_into().expect("IN bytes");
                    d.copy_from_slice(&convert(x));
                }
            }
        }
    }
}

/// fp16 bytes to fp32 bytes (little-endian both), through half's slice conversion, which uses
/// the CPU's conversion instructions several lanes at a time (bit-identical to `f16::to_f32`,
/// tested over all 65,536 values).
fn widen_f16_run(src: &[u8], dst: &mut [u8]) {
    use half::slice::HalfFloatSliceExt;
    const N: usize = 1024;
    let mut h = [f16::ZERO; N];
    let mut f = [0f32; N];
    for (s, d) in src.chunks(2 * N).zip(dst.chunks_mut(4 * N)) {
        let n = s.len() / 2;
        for (x, b) in h[..n].iter_mut().zip(s.chunks_exact(2)) {
            *x = f16::from_bits(u16::from_le_bytes([b[0], b[1]]));
        }
        h[..n].convert_to_f32_slice(&mut f[..n]);
        for (x, v) in d.chunks_exact_mut(4).zip(&f[..n]) {
            x.copy_from_slice(&v.to_le_bytes());
        }
    }
}

fn validate(run: &Run, i: usize, weights: &[WeightSpec], image_len: u64) -> Result<(), BadRun> {
    let bad = |detail: String| BadRun { run: i, detail };
    let spec = weights
        .get(run.weight as usize)
        .ok_or_else(|| bad(format!("weight number {} does not exist", run.weight)))?;
    let compatible = match Class::of(spec.dtype) {
        Class::Float => matches!(
            run.stored,
            DataType::Float | DataType::Half | DataType::Bf16
        ),
        Class::Wide => matches!(run.stored, DataType::Int32 | DataType::Int64),
        _ => run.stored == spec.dtype,
    };
    if !compatible {
        return Err(bad(format!(
            "`{}` is {} and cannot be stored as {}",
            spec.name, spec.dtype, run.stored
        )));
    }
    if run.nibble > 1 || (run.nibble == 1 && !run.stored.is_packed()) {
        return Err(bad(format!(
            "nibble {} is not valid for {}",
            run.nibble, run.stored
        )));
    }
    let (_, end) = run
        .byte_range()
        .ok_or_else(|| bad("its extent overflows".into()))?;
    if end > image_len {
        return Err(bad(format!(
            "it ends at byte {end}, past the end of the {image_len}-byte engine"
        )));
    }
    let (_, hi) = run
        .index_bounds()
        .ok_or_else(|| bad("its element indices overflow or go negative".into()))?;
    if run.len > 0 && hi > spec.count {
        return Err(bad(format!(
            "it reaches element {} of `{}`, which has {}",
            hi - 1,
            spec.name,
            spec.count
        )));
    }
    Ok(())
}

/// Reads every weight through `runs` from `image`.
pub fn assemble(
    weights: &[WeightSpec],
    runs: &[Run],
    image: &[u8],
) -> Result<Vec<WeightValues>, BadRun> {
    assemble_with(weights, runs, image, true)
}

/// [`assemble`] with its shortcuts (`fast`) or element by element: every element read, counted and
/// compared one at a time, the reference the shortcuts are tested against.
fn assemble_with(
    weights: &[WeightSpec],
    runs: &[Run],
    image: &[u8],
    fast: bool,
) -> Result<Vec<WeightValues>, BadRun> {
    for (i, r) in runs.iter().enumerate() {
        validate(r, i, weights, image.len() as u64)?;
    }
    let strong = strength(runs);
    let mut by_weight: Vec<Vec<(&Run, bool)>> = vec![Vec::new(); weights.len()];
    for (r, s) in runs.iter().zip(strong) {
        by_weight[r.weight as usize].push((r, s));
    }
    // Weights in parallel (each is read into its own buffer); largest first, so that one big
    // weight does not start last.
    let mut order: Vec<usize> = (0..weights.len()).collect();
    order.sort_by_key(|&i| std::cmp::Reverse(by_weight[i].iter().map(|(r, _)| r.len).sum::<u64>()));
    let done = super::par::map(order.len(), |k| {
        assemble_one(&weights[order[k]], &by_weight[order[k]], image, fast)
    });
    let mut out: Vec<Option<WeightValues>> = (0..weights.len()).map(|_| None).collect();
    for (k, v) in done.into_iter().enumerate() {
        out[order[k]] = Some(v);
    }
    Ok(out
        .into_iter()
        .map(|v| v.expect("every weight read"))
        .collect())
}

/// Whether each run looks like part of a stored buffer: two or more elements, or touching another
/// run of the same stored dtype (of any weight: buffers may interleave weights). A lone element
/// with no such neighbour may be a non-weight value computed from the weights (a buffer's max |x|)
/// that happens to read as markers in every pass.
fn strength(runs: &[Run]) -> Vec<bool> {
    let span = |r: &Run| {
        let start = r.offset * 2 + u64::from(r.nibble);
        (start, start + r.len * u64::from(r.stored.bits() / 4))
    };
    let mut order: Vec<usize> = (0..runs.len()).collect();
    order.sort_by_key(|i| span(&runs[*i]).0);
    let mut strong = vec![false; runs.len()];
    for (k, &i) in order.iter().enumerate() {
        let r = &runs[i];
        let touches = |j: usize| {
            let o = &runs[j];
            o.stored == r.stored && (span(o).1 == span(r).0 || span(r).1 == span(o).0)
        };
        strong[i] = r.len > 1
            || (k > 0 && touches(order[k - 1]))
            || order.get(k + 1).is_some_and(|j| touches(*j));
    }
    strong
}

fn assemble_one(
    spec: &WeightSpec,
    runs: &[(&Run, bool)],
    image: &[u8],
    fast: bool,
) -> WeightValues {
    if runs.is_empty() {
        return WeightValues {
            values: (spec.count == 0).then(Vec::new),
            ..WeightValues::default()
        };
    }
    let sightings = runs.iter().fold(0u64, |a, (r, _)| a.saturating_add(r.len));
    if sightings >= spec.count {
        return assemble_slots(spec, runs, image, spec.count as usize, true, fast, |i| {
            i as usize
        });
    }
    // Fewer sightings than elements: the weight cannot be complete. Work over the indices seen, so
    // that memory follows the runs (bounded by the image) and never the count a map file claims.
    let mut seen: Vec<u64> = Vec::with_capacity(sightings as usize);
    for (r, _) in runs {
        seen.extend((0..r.len).map(|k| r.index_at(k) as u64));
    }
    seen.sort_unstable();
    seen.dedup();
    let slot = |i: u64| seen.binary_search(&i).unwrap_or_default();
    assemble_slots(spec, runs, image, seen.len(), false, fast, slot)
}

/// [`assemble_one`] with per-element state kept in `slots` places, element `i` at `slot(i)`
/// (`identity`: `slot(i) == i`); `fast`: see [`assemble_with`].
fn assemble_slots(
    spec: &WeightSpec,
    runs: &[(&Run, bool)],
    image: &[u8],
    slots: usize,
    identity: bool,
    fast: bool,
    slot: impl Fn(u64) -> usize,
) -> WeightValues {
    let mut wv = WeightValues::default();
    let mut out = vec![0u8; spec.dtype.bytes_for(slots as u64).unwrap_or(0) as usize];
    // Runs over disjoint index ranges (verbatim buffers, rows, whole transposed grids): no element
    // can be seen twice, which their ranges alone tell, so the per-element sweep below (a byte per
    // element, several passes over it, and for a transposed weight a strided scatter itself) is
    // skipped.
    let disjoint = fast && identity && disjoint_ranges(runs);
    // Per element: 0 = not seen, else the rank of the copy kept (`copy_rank`).
    let mut seen = if disjoint {
        Vec::new()
    } else {
        vec![0u8; slots]
    };
    // The raw bits of the kept copy of each element, to compare later copies with; only needed
    // when some element is stored more than once, which a first counting sweep finds out.
    // Indices step by the run's stride in u64: `validate` has checked they stay in range.
    let mut i = 0;
    while i < runs.len() && !disjoint {
        let r = runs[i].0;
        if fast && identity && r.index_stride == 1 {
            let a = r.index as usize;
            seen[a..a + r.len as usize]
                .iter_mut()
                .for_each(|s| *s = s.saturating_add(1));
            i += 1;
            continue;
        }
        let g = if fast && identity {
            grid_len(runs, i)
        } else {
            1
        };
        if g > 1 {
            let mut at = r.index as usize;
            for _ in 0..r.len {
                seen[at..at + g]
                    .iter_mut()
                    .for_each(|s| *s = s.saturating_add(1));
                at = at.wrapping_add_signed(r.index_stride as isize);
            }
            i += g;
            continue;
        }
        i += 1;
        let mut idx = r.index;
        for _ in 0..r.len {
            let s = &mut seen[slot(idx)];
            *s = s.saturating_add(1);
            idx = idx.wrapping_add_signed(r.index_stride);
        }
    }
    // Per element, whether the kept sighting is part of a buffer (see `strength`).
    let mut kept_strong: Vec<bool> = Vec::new();
    // Element by element (`!fast`), every sighting goes through the comparing loop below, which
    // for elements seen once does what the single-copy paths do.
    let multi_copy = !fast || seen.iter().any(|c| *c > 1);
    seen.fill(0);
    let mut kept: Vec<u64> = if multi_copy {
        vec![0; slots]
    } else {
        Vec::new()
    };
    if multi_copy {
        kept_strong = vec![false; slots];
    }
    let is_float = Class::of(spec.dtype) == Class::Float;
    let unpack = |rank: u8, raw: u64| -> Stored {
        let dtype = match rank {
            8 => spec.dtype,
            4 => DataType::Int64,
            3 if is_float => DataType::Float,
            2 => DataType::Half,
            1 => DataType::Bf16,
            _ if spec.dtype == DataType::Int64 || spec.dtype == DataType::Int32 => DataType::Int32,
            _ => spec.dtype,
        };
        if is_float {
            let f = match dtype {
                DataType::Float => f32::from_bits(raw as u32),
                DataType::Half => f16::from_bits(raw as u16).to_f32(),
                _ => bf16::from_bits(raw as u16).to_f32(),
            };
            Stored::Float(dtype, f, raw as u32)
        } else {
            Stored::Int(dtype, raw as i64)
        }
    };
    let pack = |v: Stored| -> u64 {
        match v {
            Stored::Float(_, _, raw) => u64::from(raw),
            Stored::Int(_, x) => x as u64,
        }
    };
    let (mut next, mut one_by_one) = (0, 0);
    for (i, (r, strong)) in runs.iter().enumerate() {
        let (r, strong) = (*r, *strong);
        if !wv.stored.contains(&r.stored) {
            wv.stored.push(r.stored);
        }
        let rank = copy_rank(spec.dtype, r.stored);
        if !multi_copy && i < next {
            continue; // read with its grid
        }
        if !multi_copy && identity && i >= one_by_one {
            let g = grid_len(runs, i);
            if g > 1 && read_grid(spec.dtype, &runs[i..i + g], image, &mut out) {
                let n = r.len * g as u64;
                wv.sightings += n;
                wv.found += n;
                next = i + g;
                continue;
            }
            // A grid of a conversion `read_grid` does not do: its runs are read one by one below,
            // without looking for a grid again at each.
            one_by_one = i + g;
        }
        if !multi_copy {
            // Every element is seen once: nothing to compare, so no per-element bookkeeping.
            wv.sightings += r.len;
            wv.found += r.len;
            wv.inexact += read_single_copy(spec.dtype, r, image, &mut out, identity, &slot);
            continue;
        }
        for k in 0..r.len {
            let idx = r.index_at(k) as u64;
            let at = slot(idx);
            let v = read_elem(image, r, k);
            wv.sightings += 1;
            let slot = &mut seen[at];
            if *slot == 0 {
                *slot = rank;
                wv.found += 1;
                if !write_value(spec.dtype, &mut out, at as u64, v) {
                    wv.inexact += 1;
                }
                if multi_copy {
                    kept[at] = pack(v);
                    kept_strong[at] = strong;
                }
                continue;
            }
            let prev = unpack(*slot, kept[at]);
            let prev_strong = kept_strong[at];
            let replace = if agree(spec.dtype, prev, v) {
                rank > *slot
            } else if prev_strong != strong {
                // A lone element against one inside a buffer: the lone one is a stray.
                wv.strays += 1;
                strong
            } else {
                wv.disagreements += 1;
                wv.first_disagreement = Some(wv.first_disagreement.map_or(idx, |f| f.min(idx)));
                rank > *slot
            };
            if replace {
                *slot = rank;
                write_value(spec.dtype, &mut out, at as u64, v);
                kept[at] = pack(v);
                kept_strong[at] = strong;
            }
        }
    }
    // Only lone sightings, and they contradict each other: markers read out of someone else's
    // bytes (a folded weight's scaled markers can look like a small code book's), not a copy.
    let any_strong = runs.iter().any(|(_, s)| *s);
    if !any_strong && wv.disagreements > 0 {
        wv.ambiguous = true;
        return wv;
    }
    if wv.found == spec.count {
        wv.values = Some(out);
    }
    wv
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(dtype: DataType, count: u64) -> WeightSpec {
        WeightSpec {
            name: "w".into(),
            dtype,
            count,
        }
    }

    fn run(stored: DataType, offset: u64, len: u64, index: u64, stride: i64) -> Run {
        Run {
            weight: 0,
            stored,
            offset,
            nibble: 0,
            len,
            index,
            index_stride: stride,
        }
    }

    #[test]
    fn bulk_fp16_widening_equals_the_scalar_conversion_for_every_value() {
        let src: Vec<u8> = (0..=u16::MAX).flat_map(|b| b.to_le_bytes()).collect();
        let mut dst = vec![0u8; src.len() * 2];
        widen_f16_run(&src, &mut dst);
        for (b, x) in (0..=u16::MAX).zip(dst.chunks_exact(4)) {
            let want = f16::from_bits(b).to_f32().to_bits();
            assert_eq!(
                u32::from_le_bytes(x.try_into().unwrap()),
                want,
                "fp16 bits {b:#06x}"
            );
        }
    }

    #[test]
    fn single_copy_fast_paths_read_what_the_general_path_reads() {
        // Verbatim fp32 (copied), fp16 and bf16 of an fp32 weight (widened), stride 1 and
        // transposed, and an fp32 copy of an fp16 weight (general path, exactness counted).
        let vals: Vec<f32> = (0..12).map(|i| (i as f32 - 5.5) * 0.25).collect();
        let mut image: Vec<u8> = vals.iter().flat_map(|v| v.to_le_bytes()).collect();
        let h_at = image.len() as u64;
        image.extend(
            vals.iter()
                .flat_map(|v| f16::from_f32(*v).to_bits().to_le_bytes()),
        );
        let b_at = image.len() as u64;
        // Stored transposed (3 x 4 as 4 x 3).
        for c in 0..4 {
            for r in 0..3 {
                image.extend(bf16::from_f32(vals[r * 4 + c]).to_bits().to_le_bytes());
            }
        }
        let want: Vec<u8> = vals.iter().flat_map(|v| v.to_le_bytes()).collect();
        let cases: Vec<(DataType, Vec<Run>)> = vec![
            (DataType::Float, vec![run(DataType::Float, 0, 12, 0, 1)]),
            (DataType::Half, vec![run(DataType::Half, h_at, 12, 0, 1)]),
            (
                DataType::Bf16,
                (0..4)
                    .map(|c| run(DataType::Bf16, b_at + 6 * c, 3, c, 4))
                    .collect(),
            ),
            (
                DataType::Half,
                vec![
                    run(DataType::Half, h_at, 5, 0, 1),
                    run(DataType::Half, h_at + 10, 7, 5, 1),
                ],
            ),
        ];
        for (stored, runs) in cases {
            let got = assemble(&[spec(DataType::Float, 12)], &runs, &image).unwrap();
            assert_eq!(got[0].values.as_deref(), Some(&want[..]), "{stored:?}");
            assert_eq!(
                (got[0].found, got[0].inexact, got[0].stored.clone()),
                (12, 0, vec![stored])
            );
        }
        // fp16 weight, fp32 storage holding a value fp16 cannot hold: read, counted inexact.
        let img: Vec<u8> = [1.0f32, 1.0 + 1e-6]
            .iter()
            .flat_map(|v| v.to_le_bytes())
            .collect();
        let got = assemble(
            &[spec(DataType::Half, 2)],
            &[run(DataType::Float, 0, 2, 0, 1)],
            &img,
        )
        .unwrap();
        assert_eq!((got[0].found, got[0].inexact), (2, 1));
    }

    #[test]
    fn transposed_blocks_read_like_element_by_element() {
        // A 37 x 70 matrix stored transposed (70 runs of 37, stride 70), in the refit dtype and
        // as fp16/bf16 of fp32; then with one run missing (blocks split around it, weight partial)
        // and with one element stored twice (the multi-copy path): all equal to per-element reads.
        let (rows, cols) = (37u64, 70u64);
        let vals: Vec<f32> = (0..rows * cols).map(|i| (i as f32 * 0.37).sin()).collect();
        for stored in [DataType::Float, DataType::Half, DataType::Bf16] {
            let size = u64::from(stored.bits() / 8);
            let mut image = vec![0u8; 16];
            for c in 0..cols {
                for r in 0..rows {
                    let v = vals[(r * cols + c) as usize];
                    match stored {
                        DataType::Float => image.extend(v.to_le_bytes()),
                        DataType::Half => image.extend(f16::from_f32(v).to_bits().to_le_bytes()),
                        _ => image.extend(bf16::from_f32(v).to_bits().to_le_bytes()),
                    }
                }
            }
            let runs: Vec<Run> = (0..cols)
                .map(|c| run(stored, 16 + c * rows * size, rows, c, cols as i64))
                .collect();
            for refit in [DataType::Float, stored] {
                let sp = spec(refit, rows * cols);
                let want: Vec<u8> = (0..rows * cols)
                    .flat_map(|i| {
                        let (c, r) = (i % cols, i / cols);
                        let v = read_elem(&image, &runs[c as usize], r);
                        let mut b = vec![0u8; (refit.bits() / 8) as usize];
                        assert!(write_value(refit, &mut b, 0, v));
                        b
                    })
                    .collect();
                let got = assemble(std::slice::from_ref(&sp), &runs, &image).unwrap();
                assert_eq!(
                    got[0].values.as_deref(),
                    Some(&want[..]),
                    "{stored:?} as {refit:?}"
                );
                assert_eq!((got[0].found, got[0].sightings), (rows * cols, rows * cols));
                // Runs out of order: blocks end early and a run is read alone.
                let mut shuffled = runs.clone();
                shuffled.swap(10, 50);
                shuffled.swap(0, 69);
                let got = assemble(std::slice::from_ref(&sp), &shuffled, &image).unwrap();
                assert_eq!(
                    got[0].values.as_deref(),
                    Some(&want[..]),
                    "{stored:?} as {refit:?}, shuffled"
                );
                let mut holed = runs.clone();
                holed.remove(33);
                let got = assemble(std::slice::from_ref(&sp), &holed, &image).unwrap();
                assert_eq!(
                    (got[0].values.is_none(), got[0].found),
                    (true, rows * (cols - 1)),
                    "{stored:?} with a hole"
                );
                let mut twice = runs.clone();
                twice.push(run(stored, 16, 1, 0, 1));
                let got = assemble(&[sp], &twice, &image).unwrap();
                assert_eq!(
                    got[0].values.as_deref(),
                    Some(&want[..]),
                    "{stored:?} with a second copy"
                );
                assert_eq!(got[0].disagreements, 0);
            }
        }
    }

    /// Weights of `rows[p] x cols` elements joined (rows after rows) into one matrix and stored
    /// transposed at byte 8 of an image, as `stored`, the way TensorRT stores a fused Q/K/V or
    /// gate/up weight: stored row `c` holds column `c` of every part in turn. Element bytes are
    /// pseudo-random (any bit pattern, NaNs and infinities included). Returns the image and the
    /// runs in stored order, the parts' runs interleaved as a map holds them.
    fn fused_transposed(
        rows: &[u64],
        cols: u64,
        stored: DataType,
        seed: u64,
    ) -> (Vec<u8>, Vec<Run>) {
        let size = u64::from(stored.bits() / 8);
        let total: u64 = rows.iter().sum();
        let mut x = seed | 1;
        let mut image: Vec<u8> = (0..8 + total * cols * size + 8)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                (x >> 24) as u8
            })
            .collect();
        image[..8].fill(0);
        let mut runs = Vec::new();
        for c in 0..cols {
            let mut row0 = 0;
            for (p, &n) in rows.iter().enumerate() {
                let offset = 8 + (c * total + row0) * size;
                runs.push(Run {
                    weight: p as u32,
                    ..run(stored, offset, n, c, cols as i64)
                });
                row0 += n;
            }
        }
        (image, runs)
    }

    /// `assemble` against the element-by-element reading, everything compared (values, counts,
    /// dtypes seen, disagreements, strays).
    fn same_as_element_by_element(ws: &[WeightSpec], runs: &[Run], image: &[u8], what: &str) {
        let fast = assemble(ws, runs, image);
        let slow = assemble_with(ws, runs, image, false);
        assert_eq!(fast, slow, "{what}");
    }

    #[test]
    fn fused_transposed_buffers_read_like_element_by_element() {
        // Q/K/V-like (3 parts), gate/up-like (2 parts), parts of unequal height, odd sizes; stored
        // in the refit dtype and as fp16/bf16 of fp32 (widened), fp32 of fp16 (rounded, not a
        // grid conversion: read run by run), 1-, 4- and 8-byte integers.
        let shapes: [(&[u64], u64); 5] = [
            (&[37, 37, 37], 29),
            (&[45, 45], 70),
            (&[13, 50], 33),
            (&[1, 2, 3], 5),
            (&[64], 65),
        ];
        let dtypes = [
            (DataType::Float, DataType::Float),
            (DataType::Half, DataType::Half),
            (DataType::Half, DataType::Float),
            (DataType::Bf16, DataType::Float),
            (DataType::Bf16, DataType::Bf16),
            (DataType::Float, DataType::Half),
            (DataType::Int8, DataType::Int8),
            (DataType::Int32, DataType::Int32),
            (DataType::Int64, DataType::Int64),
            (DataType::Int32, DataType::Int64),
        ];
        for (rows, cols) in shapes {
            for (stored, refit) in dtypes {
                let (image, runs) =
                    fused_transposed(rows, cols, stored, rows.len() as u64 * 1000 + cols);
                let ws: Vec<WeightSpec> = rows.iter().map(|n| spec(refit, n * cols)).collect();
                let what = format!("{rows:?} x {cols}, {stored:?} as {refit:?}");
                same_as_element_by_element(&ws, &runs, &image, &what);
                let got = assemble(&ws, &runs, &image).unwrap();
                assert!(got.iter().all(|w| w.values.is_some()), "{what}");
                // The values themselves, against a direct reading of the stored matrix.
                let total: u64 = rows.iter().sum();
                let mut row0 = 0;
                for (p, &n) in rows.iter().enumerate() {
                    let mut want = vec![0u8; refit.bytes_for(n * cols).unwrap() as usize];
                    for i in 0..n * cols {
                        let (r, c) = (i / cols, i % cols);
                        let at = run(
                            stored,
                            8 + (c * total + row0 + r) * u64::from(stored.bits() / 8),
                            1,
                            0,
                            1,
                        );
                        write_value(refit, &mut want, i, read_elem(&image, &at, 0));
                    }
                    assert_eq!(
                        got[p].values.as_deref(),
                        Some(&want[..]),
                        "{what}, part {p}"
                    );
                    row0 += n;
                }
                // Interrupted: a run split in two, a run missing (a hole), two runs swapped, a
                // run stored twice (agreeing), a run whose second copy is other bytes (disagreeing),
                // and a lone element contradicting a buffer (a stray).
                let k = runs.len() / 2;
                let r = runs[k];
                let mut split = runs.clone();
                if r.len > 1 {
                    let size = u64::from(stored.bits() / 8);
                    split[k].len = 1;
                    split.insert(
                        k + 1,
                        Run {
                            offset: r.offset + size,
                            len: r.len - 1,
                            index: r.index + cols,
                            ..r
                        },
                    );
                }
                let mut holed = runs.clone();
                holed.remove(k);
                let mut swapped = runs.clone();
                swapped.swap(0, runs.len() - 1);
                let mut twice = runs.clone();
                twice.push(r);
                let mut other = runs.clone();
                other.push(Run {
                    offset: runs[(k + 1) % runs.len()].offset.min(r.offset),
                    ..r
                });
                let mut stray = runs.clone();
                stray.push(Run {
                    offset: image.len() as u64 - 8,
                    len: 1,
                    index_stride: 1,
                    ..r
                });
                let damaged = [
                    ("split", split),
                    ("holed", holed),
                    ("swapped", swapped),
                    ("twice", twice),
                    ("other", other),
                    ("stray", stray),
                ];
                for (name, rs) in damaged {
                    same_as_element_by_element(&ws, &rs, &image, &format!("{what}, {name}"));
                }
            }
        }
    }

    #[test]
    fn grids_tell_disjoint_indices_from_their_ranges() {
        let (_, runs) = fused_transposed(&[6, 6, 6], 4, DataType::Float, 1);
        let of = |w: u32, rs: &[Run]| -> Vec<Run> {
            rs.iter().filter(|r| r.weight == w).copied().collect()
        };
        let pairs = |rs: &[Run]| -> bool {
            let v: Vec<(&Run, bool)> = rs.iter().map(|r| (r, true)).collect();
            disjoint_ranges(&v)
        };
        let q = of(0, &runs);
        assert_eq!(q.len(), 4);
        let v: Vec<(&Run, bool)> = q.iter().map(|r| (r, true)).collect();
        assert_eq!(grid_len(&v, 0), 4);
        assert!(pairs(&q));
        // The runs alone span (nearly) the same indices: not disjoint by their ranges.
        assert!(!pairs(&[q[0], q[2]]));
        // A partial grid: a missing run, or split in two where a run is (grids that overlap).
        assert!(pairs(&q[..3]));
        let mut split = q.clone();
        split[1].len = 2;
        split.insert(
            2,
            Run {
                offset: q[1].offset + 8,
                len: 4,
                index: q[1].index + 8,
                ..q[1]
            },
        );
        assert!(!pairs(&split));
        // A grid never takes more runs than its stride (a fifth run would repeat indices).
        let mut more = q.clone();
        more.push(Run { index: 4, ..q[0] });
        let v: Vec<(&Run, bool)> = more.iter().map(|r| (r, true)).collect();
        assert_eq!(grid_len(&v, 0), 4);
        assert!(!pairs(&more));
        // Stride 0 repeats one index.
        assert!(!pairs(&[run(DataType::Float, 0, 2, 30, 0)]));
        assert!(pairs(&[run(DataType::Float, 0, 2, 30, -1)]));
        // A verbatim run beside the grid: disjoint when the ranges do not overlap.
        let mut beside = q.clone();
        beside.push(run(DataType::Float, 0, 5, 24, 1));
        assert!(pairs(&beside));
        beside.push(run(DataType::Float, 0, 2, 23, 1));
        assert!(!pairs(&beside));
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(256))]

        /// Any fused transposed buffer, any damage to its runs: the shortcuts read what the
        /// element-by-element path reads.
        #[test]
        fn prop_grids_read_like_element_by_element(
            rows in proptest::collection::vec(1u64..12, 1..4),
            cols in 1u64..40,
            dtypes in proptest::sample::select(vec![
                (DataType::Float, DataType::Float),
                (DataType::Half, DataType::Half),
                (DataType::Half, DataType::Float),
                (DataType::Bf16, DataType::Float),
                (DataType::Float, DataType::Bf16),
                (DataType::Int8, DataType::Int8),
                (DataType::Int64, DataType::Int64),
            ]),
            damage in proptest::collection::vec((0u8..6, 0usize..1000, 0usize..1000), 0..4),
            seed in 0u64..1000,
        ) {
            let (stored, refit) = dtypes;
            let (image, mut runs) = fused_transposed(&rows, cols, stored, seed);
            let size = u64::from(stored.bits() / 8);
            for (kind, a, b) in damage {
                let (a, b) = (a % runs.len(), b % runs.len());
                let r = runs[a];
                match kind {
                    0 if r.len > 1 => {
                        let cut = 1 + b as u64 % (r.len - 1);
                        runs[a].len = cut;
                        let index = r.index + cut * r.index_stride as u64;
                        runs.insert(a + 1, Run { offset: r.offset + cut * size, len: r.len - cut, index, ..r });
                    }
                    1 if runs.len() > 1 => { runs.remove(a); }
                    2 => runs.swap(a, b),
                    3 => runs.push(r),
                    4 => runs.push(Run { offset: runs[b].offset, len: r.len.min(runs[b].len), ..r }),
                    _ => runs.push(Run { offset: image.len() as u64 - 8, len: 1, index_stride: 1, ..r }),
                }
            }
            let ws: Vec<WeightSpec> = rows.iter().map(|n| spec(refit, n * cols)).collect();
            proptest::prop_assert_eq!(assemble(&ws, &runs, &image), assemble_with(&ws, &runs, &image, false));
        }
    }

    #[test]
    fn transposed_fp32_weight_is_put_back_in_order() {
        // 2x3 weight [[1,2,3],[4,5,6]] stored transposed: 1 4 2 5 3 6.
        let stored: Vec<f32> = vec![1., 4., 2., 5., 3., 6.];
        let image: Vec<u8> = stored.iter().flat_map(|v| v.to_le_bytes()).collect();
        let runs: Vec<Run> = (0..3)
            .map(|c| run(DataType::Float, 8 * c, 2, c, 3))
            .collect();
        let got = assemble(&[spec(DataType::Float, 6)], &runs, &image).unwrap();
        let vals: Vec<f32> = got[0]
            .values
            .as_ref()
            .unwrap()
            .chunks(4)
            .map(|c| f32::from_le_bytes(c.try_into().unwrap()))
            .collect();
        assert_eq!(vals, vec![1., 2., 3., 4., 5., 6.]);
    }

    #[test]
    fn fp32_and_fp16_copies_keep_fp32_and_agree() {
        let v = [1.000_976_6_f32, -3.5];
        let mut image: Vec<u8> = v.iter().flat_map(|x| x.to_le_bytes()).collect();
        image.extend(
            v.iter()
                .flat_map(|x| f16::from_f32(*x).to_bits().to_le_bytes()),
        );
        let runs = [
            run(DataType::Half, 8, 2, 0, 1),
            run(DataType::Float, 0, 2, 0, 1),
        ];
        let got = &assemble(&[spec(DataType::Float, 2)], &runs, &image).unwrap()[0];
        assert_eq!(got.values.as_deref(), Some(&image[..8]));
        assert_eq!(
            (got.disagreements, got.copies(2), got.stored.len()),
            (0, 2, 2)
        );
    }

    #[test]
    fn disagreeing_copies_are_counted() {
        let mut image: Vec<u8> = [1.0f32, 2.0].iter().flat_map(|x| x.to_le_bytes()).collect();
        image.extend([1.0f32, 7.0].iter().flat_map(|x| x.to_le_bytes()));
        let runs = [
            run(DataType::Float, 0, 2, 0, 1),
            run(DataType::Float, 8, 2, 0, 1),
        ];
        let got = &assemble(&[spec(DataType::Float, 2)], &runs, &image).unwrap()[0];
        assert_eq!((got.disagreements, got.first_disagreement), (1, Some(1)));
    }

    #[test]
    fn partial_weights_have_no_values() {
        let image = vec![1u8; 16];
        let got = &assemble(
            &[spec(DataType::Int8, 10)],
            &[run(DataType::Int8, 0, 6, 0, 1)],
            &image,
        )
        .unwrap()[0];
        assert_eq!((got.found, got.values.is_none()), (6, true));
    }

    #[test]
    fn int32_copy_of_int64_sign_extends_and_int4_packs() {
        let image: Vec<u8> = (-5i32).to_le_bytes().into_iter().chain([0x9Fu8]).collect();
        let ws = [
            spec(DataType::Int64, 1),
            WeightSpec {
                name: "q".into(),
                dtype: DataType::Int4,
                count: 2,
            },
        ];
        let runs = [
            run(DataType::Int32, 0, 1, 0, 1),
            Run {
                weight: 1,
                stored: DataType::Int4,
                offset: 4,
                nibble: 1,
                len: 1,
                index: 0,
                index_stride: 1,
            },
            Run {
                weight: 1,
                stored: DataType::Int4,
                offset: 4,
                nibble: 0,
                len: 1,
                index: 1,
                index_stride: 1,
            },
        ];
        let got = assemble(&ws, &runs, &image).unwrap();
        assert_eq!(got[0].values.as_deref(), Some(&(-5i64).to_le_bytes()[..]));
        assert_eq!(got[1].values.as_deref(), Some(&[0xF9u8][..]));
    }

    #[test]
    fn bad_runs_are_rejected_with_the_reason() {
        let ws = [spec(DataType::Float, 4)];
        let image = vec![0u8; 16];
        let e = assemble(&ws, &[run(DataType::Float, 8, 4, 0, 1)], &image).unwrap_err();
        assert!(e.detail.contains("past the end"), "{e}");
        let e = assemble(&ws, &[run(DataType::Float, 0, 2, 3, 1)], &image).unwrap_err();
        assert!(e.detail.contains("element 4"), "{e}");
        let e = assemble(&ws, &[run(DataType::Int8, 0, 2, 0, 1)], &image).unwrap_err();
        assert!(e.detail.contains("cannot be stored"), "{e}");
        let e = assemble(
            &ws,
            &[Run {
                weight: 3,
                ..run(DataType::Float, 0, 1, 0, 1)
            }],
            &image,
        )
        .unwrap_err();
        assert!(e.detail.contains("does not exist"), "{e}");
    }
}
