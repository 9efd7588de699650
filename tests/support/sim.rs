//! A simulator of TensorRT's engine behaviour, for testing extraction without a GPU.
//!
//! [`SimSpec`] describes an engine: its refittable weights (name, refit dtype, count, original
//! values) and how a "builder" stored them (a [`Layout`]: segments of filler, weight buffers in
//! any dtype/order/padding, statistics, length-changing blocks). [`SimSpec::build`] writes the
//! engine file and the [`Truth`] a correct extraction must reproduce. [`SimEngine`] implements
//! `trt_dump::pipeline::{Engine, Instance}` from the file bytes alone: the layout is serialized
//! into the plan (a JSON section of non-weight bytes right after the 64-byte header), as TensorRT
//! keeps its own layout inside the plan.
//!
//! Plan header (64 bytes): `ftrt`, u32 0, u16 2, u16 layout form at 10 (see [`FORM_AT`]), u32
//! refit counter (0 unless [`Layout::refit_counter`]), u64 total length at 16 (so a length change
//! changes header bytes, as in real TensorRT-RTX plans), version bytes at 24..28, `ftrt` again at
//! 28, u64 description offset (64) at 32, u64 description length at 40, `simplan\0` at 48, zeros
//! to 64.
//!
//! Two *forms* of serialization exist: `Fresh` (an instance never refitted) and `Refitted` (at
//! least one successful refit). They differ only where the layout says so: [`Segment::Volatile`]
//! blocks have one length per form, [`Segment::Align`] gaps follow, a weight-stripped plan
//! ([`Layout::strip`]) holds weight bytes only in the refitted form, and the refit counter; the
//! header's length field and layout form ([`FORM_AT`]) follow the form.
//! See `docs/simulator.md` for the full list of modelled behaviours and decisions.
#![allow(dead_code, clippy::needless_range_loop, clippy::manual_checked_ops)]

#[path = "sim_gen.rs"]
pub mod gen;
#[path = "sim_models.rs"]
pub mod models;
#[path = "sim_num.rs"]
pub mod num;
#[path = "sim_order.rs"]
pub mod order;

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use anyhow::{anyhow, bail, ensure, Context, Result};
use serde::{Deserialize, Serialize};

pub use order::Order;
pub use trt_dump::dtype::DataType;
pub use trt_dump::pipeline::{Engine, Instance, PlanBytes, WeightSpec};

use num::{convert, from_f32, get, is_float16_32, put, storable, to_f32};

pub const HEADER_LEN: u64 = 64;
pub const TAG: &[u8; 4] = b"ftrt";
pub const MAGIC: &[u8; 8] = b"simplan\0";
/// TensorRT 11.4.0.106, the version of the headers the stand-in library is built against.
pub const DEFAULT_VERSION: [u8; 4] = [11, 4, 0, 106];
/// Header offset of the u16 that says which layout a plan's bytes are in: 1 for the refitted
/// layout where it differs from the fresh one, else 0 (so a builder's file, always in the fresh
/// layout, has 0 there; bytes 8..12 read as the u32 2 they were before this field existed).
///
/// The runtime cannot tell the layout from the length: a builder trailer as long as the refit's
/// growth makes a fresh-layout file exactly as long as the refitted layout, a refitted layout can
/// be shorter than the fresh one (then it looked truncated), and two layouts can have the same
/// length with their segments at different offsets. TensorRT reads its plan's structure from the
/// plan; the simulator reads this field.
pub const FORM_AT: usize = 10;

// ---------------------------------------------------------------------------------------------
// Description types
// ---------------------------------------------------------------------------------------------

/// How non-weight bytes are made. All deterministic from the variant's data and a salt (the
/// segment's index), so the runtime can regenerate a block whose length changes.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Fill {
    Zero,
    Byte(u8),
    /// Uniform random bytes ("kernels").
    Random(u64),
    /// Chunks of zeros, random bytes, 0xFF, and runs that look like small integers in
    /// fp32/fp16/bf16/int8/int32 (ascending from 0, 1 or 42) or like 1.0/0.5/-1.0 constants.
    Adversarial(u64),
    /// These bytes, repeated.
    Pattern(Vec<u8>),
}

/// A non-weight value computed from a buffer's stored bytes, refreshed at every refit.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum StatKind {
    /// u32 FNV-1a of the buffer's bytes.
    Checksum,
    /// f32 max |element| of the buffer (NaN ignored): looks exactly like a stored weight element.
    MaxAbs,
}

/// One weight inside a [`Content::Join`]; `scale` (f32 bits) set = folded (element × scale).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Part {
    pub weight: usize,
    pub scale: Option<u32>,
}

/// What a stored buffer holds, as a vector of source elements (before [`Order`]).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Content {
    /// A copy of the weight (converted to the stored dtype): recoverable.
    Copy(usize),
    /// Only elements `start..start+len` of the weight: partly present, not recoverable.
    Slice { weight: usize, start: u64, len: u64 },
    /// Several weights in one buffer: concatenated (`chunk == 0`) or round-robin in chunks of
    /// `chunk` elements (all parts then have equal counts, divisible by `chunk`). Unscaled parts
    /// are recoverable copies; scaled parts are folded.
    Join { parts: Vec<Part>, chunk: u64 },
    /// Element `i` × `scales[i / (count / scales.len())]` (a folded per-channel BN scale).
    ChannelScale { weight: usize, scales: Vec<u32> },
    /// 1 / element (folded).
    Reciprocal(usize),
    /// Elementwise f32 sum of weights of equal count (fused).
    Sum(Vec<usize>),
    /// The builder's values of the weight, never updated by a refit (a constant folded under
    /// kREFIT_IDENTICAL): the original values are in the plan, but nothing a refit does moves
    /// them. Present even in weight-stripped plans. Not recoverable by refitting.
    Baked(usize),
}

/// A stored weight buffer.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Buffer {
    pub content: Content,
    pub stored: DataType,
    pub order: Order,
    /// Raw bits (in `stored`) of padding slots.
    pub pad: u64,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Segment {
    Filler {
        len: u64,
        fill: Fill,
    },
    /// Filler up to the next multiple of `to` (plan offset), recomputed per form.
    Align {
        to: u64,
        fill: Fill,
    },
    Buffer(Buffer),
    /// 4 bytes computed from segment `buffer` (a `Buffer`), present when that buffer is.
    Stat {
        buffer: usize,
        kind: StatKind,
    },
    /// A block of `fresh` bytes in a fresh serialization and `refitted` bytes after a refit.
    Volatile {
        fresh: u64,
        refitted: u64,
        fill: Fill,
    },
}

/// Runtime fault injection (1-based call numbers, counted per [`SimEngine`] over all instances).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Faults {
    /// `Engine::instance` (deserializeCudaEngine) fails on this call.
    pub fail_instance: Option<u64>,
    /// `Instance::refit` fails on this call (after argument checks), as refitCudaEngine returning
    /// false; the instance is then unusable (serialize fails), as TensorRT leaves an engine whose
    /// refit failed in an undefined state.
    pub fail_refit: Option<u64>,
    /// `Instance::serialize` fails on this call.
    pub fail_serialize: Option<u64>,
    /// setNamedWeights rejects this weight on every refit.
    pub reject_weight: Option<usize>,
    /// Every serialization takes this many milliseconds more (a big engine), so that a test can
    /// interrupt a run in the middle.
    #[serde(default)]
    pub delay_ms: Option<u64>,
}

/// The layout description stored inside the plan: everything but the weight values.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Layout {
    pub version: [u8; 4],
    /// The refitter's weights, in `getAllWeights` order.
    pub weights: Vec<WeightSpec>,
    pub segments: Vec<Segment>,
    /// kSTRIP_PLAN: the file holds no refittable weight bytes; a refitted instance serializes them
    /// (TensorRT 10.14+ with kINCLUDE_REFIT, no kEXCLUDE_WEIGHTS).
    pub strip: bool,
    /// Bytes 12..16 of a serialization count the refits the instance has had.
    pub refit_counter: bool,
    /// A refitted serialization, deserialized and serialized again without a refit, keeps the
    /// refitted layout (the length change is part of the plan). When false it goes back to the
    /// fresh layout (the change belongs to the refitted instance only).
    #[serde(default)]
    pub persist_refit_form: bool,
    pub faults: Faults,
    /// Built without kREFIT: every refit fails (the stand-in refuses to create a refitter).
    #[serde(default)]
    pub not_refittable: bool,
}

/// Flips bits of one stored slot in the engine file only (a damaged copy).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Corrupt {
    pub segment: usize,
    pub slot: u64,
    pub xor: u64,
}

/// A simulated engine: layout plus the builder's weight values.
#[derive(Clone, Debug)]
pub struct SimSpec {
    pub layout: Layout,
    /// Original values of each weight, in its refit dtype (packed types two per byte).
    pub values: Vec<Vec<u8>>,
    /// Bytes the builder appends to the file that the runtime drops (file ≠ fresh serialization).
    pub trailer: u64,
    pub corrupt: Vec<Corrupt>,
}

// ---------------------------------------------------------------------------------------------
// Ground truth
// ---------------------------------------------------------------------------------------------

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Why {
    /// Weight-stripped plan: no weight bytes in the file.
    Stripped,
    /// Not stored at all (constant-folded away).
    NotStored,
    /// Stored only as a baked constant no refit changes.
    Baked,
    /// Stored only combined with other weights (sum).
    Fused,
    /// Stored only transformed (scaled, reciprocal).
    Folded,
    /// Only a slice is stored.
    Partial,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Recovery {
    Exact,
    Unrecoverable(Why),
}

/// Where a recoverable copy of a weight lives.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CopyAt {
    pub segment: usize,
    pub stored: DataType,
    pub order: Order,
    /// Byte offset (in a fresh serialization) of the slot holding element 0 (the buffer's start
    /// for an empty weight); `None` where the fresh form has no weight bytes (stripped).
    pub fresh_offset: Option<u64>,
    /// The same in a refitted serialization.
    pub refitted_offset: u64,
    /// Byte range of the whole buffer in the fresh serialization.
    pub fresh_buffer: Option<(u64, u64)>,
}

#[derive(Clone, Debug)]
pub struct WeightTruth {
    pub spec: WeightSpec,
    pub recovery: Recovery,
    /// What a correct tool outputs (refit dtype bytes, unused high nibble zero), when `Exact`:
    /// the value of the copy with the most mantissa bits, as it is in the engine file, converted
    /// exactly to the refit dtype.
    pub values: Option<Vec<u8>>,
    pub copies: Vec<CopyAt>,
    /// `values` equal the builder's original values (false when only a narrower copy exists).
    pub exact_original: bool,
    /// Two copies in the file disagree (a corrupted copy): a correct tool reports it.
    pub copies_disagree: bool,
}

#[derive(Clone, Debug)]
pub struct Truth {
    pub weights: Vec<WeightTruth>,
    pub file_len: u64,
    pub fresh_len: u64,
    pub refitted_len: u64,
    /// (start, len) of every segment in each form.
    pub fresh: Vec<(u64, u64)>,
    pub refitted: Vec<(u64, u64)>,
    /// Byte range of the description section (non-weight bytes).
    pub description: (u64, u64),
}

impl Truth {
    pub fn recoverable(&self) -> impl Iterator<Item = (usize, &WeightTruth)> {
        self.weights
            .iter()
            .enumerate()
            .filter(|(_, w)| w.recovery == Recovery::Exact)
    }
}

/// The engine file and its ground truth.
#[derive(Clone, Debug)]
pub struct SimPlan {
    pub file: Vec<u8>,
    pub truth: Truth,
}

// ---------------------------------------------------------------------------------------------
// Content helpers
// ---------------------------------------------------------------------------------------------

impl Content {
    /// Weights this content reads.
    pub fn weights(&self) -> Vec<usize> {
        match self {
            Content::Copy(w) | Content::Reciprocal(w) | Content::Baked(w) => vec![*w],
            Content::Slice { weight, .. } | Content::ChannelScale { weight, .. } => vec![*weight],
            Content::Join { parts, .. } => parts.iter().map(|p| p.weight).collect(),
            Content::Sum(ws) => ws.clone(),
        }
    }

    /// Source elements.
    pub fn len(&self, ws: &[WeightSpec]) -> u64 {
        match self {
            Content::Copy(w) | Content::Reciprocal(w) | Content::Baked(w) => ws[*w].count,
            Content::Slice { len, .. } => *len,
            Content::ChannelScale { weight, .. } => ws[*weight].count,
            Content::Join { parts, .. } => parts.iter().map(|p| ws[p.weight].count).sum(),
            Content::Sum(v) => v.first().map_or(0, |w| ws[*w].count),
        }
    }

    /// Whether this content holds a refit-following, untransformed copy of weight `w`.
    pub fn pure_copy_of(&self, w: usize) -> bool {
        match self {
            Content::Copy(x) => *x == w,
            Content::Join { parts, .. } => parts.iter().any(|p| p.weight == w && p.scale.is_none()),
            _ => false,
        }
    }

    pub fn follows_refit(&self) -> bool {
        !matches!(self, Content::Baked(_))
    }
}

/// Maps element `j` of a Join to (part index, element index in that weight).
struct JoinMap {
    starts: Vec<u64>,
    counts: Vec<u64>,
    chunk: u64,
}

impl JoinMap {
    fn new(parts: &[Part], ws: &[WeightSpec], chunk: u64) -> JoinMap {
        let counts: Vec<u64> = parts.iter().map(|p| ws[p.weight].count).collect();
        let mut starts = Vec::with_capacity(counts.len());
        let mut acc = 0;
        for c in &counts {
            starts.push(acc);
            acc += c;
        }
        JoinMap {
            starts,
            counts,
            chunk,
        }
    }

    #[inline]
    fn locate(&self, j: u64) -> (usize, u64) {
        if self.chunk == 0 {
            // Last part whose start <= j and that is non-empty.
            let mut p = self.starts.partition_point(|&s| s <= j) - 1;
            while self.counts[p] == 0 {
                p -= 1;
            }
            (p, j - self.starts[p])
        } else {
            let nparts = self.counts.len() as u64;
            let block = j / self.chunk;
            let p = (block % nparts) as usize;
            (p, (block / nparts) * self.chunk + j % self.chunk)
        }
    }
}

/// A function giving the stored bits of source element `j` of a buffer's content.
fn element_fn<'a>(
    content: &'a Content,
    ws: &'a [WeightSpec],
    vals: &'a [&'a [u8]],
    stored: DataType,
) -> Box<dyn Fn(u64) -> u64 + 'a> {
    fn copy_fn<'a>(
        src: &'a [u8],
        dt: DataType,
        stored: DataType,
        base: u64,
    ) -> Box<dyn Fn(u64) -> u64 + 'a> {
        match (dt, stored) {
            (DataType::Float, DataType::Float) => {
                Box::new(move |j| get(src, base + j, DataType::Float))
            }
            (DataType::Float, DataType::Half) => Box::new(move |j| {
                u64::from(num::f32_to_f16(f32::from_bits(
                    get(src, base + j, DataType::Float) as u32,
                )))
            }),
            (DataType::Half, DataType::Half) => {
                Box::new(move |j| get(src, base + j, DataType::Half))
            }
            _ => Box::new(move |j| convert(get(src, base + j, dt), dt, stored)),
        }
    }
    match content {
        Content::Copy(w) | Content::Baked(w) => copy_fn(vals[*w], ws[*w].dtype, stored, 0),
        Content::Slice { weight, start, .. } => {
            copy_fn(vals[*weight], ws[*weight].dtype, stored, *start)
        }
        Content::Join { parts, chunk } => {
            let map = JoinMap::new(parts, ws, *chunk);
            Box::new(move |j| {
                let (p, idx) = map.locate(j);
                let part = &parts[p];
                let dt = ws[part.weight].dtype;
                let v = get(vals[part.weight], idx, dt);
                match part.scale {
                    None => convert(v, dt, stored),
                    Some(s) => from_f32(to_f32(v, dt) * f32::from_bits(s), stored),
                }
            })
        }
        Content::ChannelScale { weight, scales } => {
            let dt = ws[*weight].dtype;
            let group = (ws[*weight].count / scales.len() as u64).max(1);
            let src = vals[*weight];
            Box::new(move |j| {
                let s = f32::from_bits(scales[(j / group) as usize]);
                from_f32(to_f32(get(src, j, dt), dt) * s, stored)
            })
        }
        Content::Reciprocal(w) => {
            let dt = ws[*w].dtype;
            let src = vals[*w];
            Box::new(move |j| from_f32(1.0 / to_f32(get(src, j, dt), dt), stored))
        }
        Content::Sum(list) => Box::new(move |j| {
            let mut acc = 0.0f32;
            for (k, w) in list.iter().enumerate() {
                let dt = ws[*w].dtype;
                let v = to_f32(get(vals[*w], j, dt), dt);
                acc = if k == 0 { v } else { acc + v };
            }
            from_f32(acc, stored)
        }),
    }
}

/// Writes a buffer's stored bytes (exactly `stored_len` bytes) from refit-dtype values.
fn write_buffer(b: &Buffer, ws: &[WeightSpec], vals: &[&[u8]], dst: &mut [u8]) {
    let n = b.content.len(ws);
    if let Content::Copy(w) | Content::Baked(w) = b.content {
        let dt = ws[w].dtype;
        if dt == b.stored && b.order == Order::Verbatim && !dt.is_packed() && dt != DataType::Bool {
            dst.copy_from_slice(&vals[w][..dst.len()]);
            return;
        }
    }
    if b.stored.is_packed() {
        dst.fill(0);
    }
    let elem = element_fn(&b.content, ws, vals, b.stored);
    let (stored, pad) = (b.stored, b.pad);
    b.order.for_each(n, |slot, src| {
        put(dst, slot, stored, src.map_or(pad, &elem))
    });
}

fn stat_bytes(kind: StatKind, buf: &[u8], stored: DataType, slots: u64) -> [u8; 4] {
    match kind {
        StatKind::Checksum => num::fnv1a(buf).to_le_bytes(),
        StatKind::MaxAbs => {
            let mut m = 0.0f32;
            for i in 0..slots {
                let v = num::magnitude(get(buf, i, stored), stored);
                if v > m {
                    m = v;
                }
            }
            m.to_le_bytes()
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Fill
// ---------------------------------------------------------------------------------------------

impl Fill {
    pub fn write(&self, dst: &mut [u8], salt: u64) {
        match self {
            Fill::Zero => dst.fill(0),
            Fill::Byte(b) => dst.fill(*b),
            Fill::Pattern(p) => {
                if p.is_empty() {
                    dst.fill(0);
                } else {
                    for (i, d) in dst.iter_mut().enumerate() {
                        *d = p[i % p.len()];
                    }
                }
            }
            Fill::Random(seed) => {
                let mut rng = num::Rng::new(num::mix(*seed, salt));
                for chunk in dst.chunks_mut(8) {
                    let v = rng.next_u64().to_le_bytes();
                    chunk.copy_from_slice(&v[..chunk.len()]);
                }
            }
            Fill::Adversarial(seed) => adversarial(dst, num::mix(*seed, salt)),
        }
    }
}

fn adversarial(dst: &mut [u8], seed: u64) {
    let mut rng = num::Rng::new(seed);
    let mut at = 0;
    while at < dst.len() {
        let len = (rng.range(8, 512) as usize).min(dst.len() - at);
        let chunk = &mut dst[at..at + len];
        let start = *rng.pick(&[0u64, 1, 42, 2, 100]);
        match rng.below(11) {
            0 | 1 => chunk.fill(0),
            2 => {
                for c in chunk.chunks_mut(8) {
                    let v = rng.next_u64().to_le_bytes();
                    c.copy_from_slice(&v[..c.len()]);
                }
            }
            3 => chunk.fill(0xFF),
            4 => ints(chunk, 4, |k| ((start + k) as f32).to_bits().into()),
            5 => ints(chunk, 2, |k| num::f32_to_f16((start + k) as f32).into()),
            6 => ints(chunk, 2, |k| num::f32_to_bf16((start + k) as f32).into()),
            7 => ints(chunk, 1, |k| (start + k) & 0x7F),
            8 => ints(chunk, 4, |k| (start + k) & 0xFFFF_FFFF),
            9 => {
                let c = *rng.pick(&[1.0f32, 0.5, -1.0, 0.125]);
                ints(chunk, 4, |_| c.to_bits().into())
            }
            _ => ints(chunk, 2, |k| num::f32_to_f16(-((start + k) as f32)).into()),
        }
        at += len;
    }
}

fn ints(chunk: &mut [u8], size: usize, f: impl Fn(u64) -> u64) {
    for (k, c) in chunk.chunks_mut(size).enumerate() {
        let v = f(k as u64).to_le_bytes();
        c.copy_from_slice(&v[..c.len()]);
    }
}

// ---------------------------------------------------------------------------------------------
// Positions
// ---------------------------------------------------------------------------------------------

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Form {
    Fresh,
    Refitted,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Positions {
    pub seg: Vec<(u64, u64)>,
    pub total: u64,
}

impl Layout {
    /// Stored bytes of buffer `b` when present.
    pub fn buffer_len(&self, b: &Buffer) -> u64 {
        let n = b.content.len(&self.weights);
        b.stored.bytes_for(b.order.slots(n)).expect("buffer size")
    }

    fn buffer_present(&self, b: &Buffer, form: Form) -> bool {
        form == Form::Refitted || !self.strip || !b.content.follows_refit()
    }

    pub fn positions(&self, desc_len: u64, form: Form) -> Positions {
        let mut pos = HEADER_LEN + desc_len;
        let mut seg = Vec::with_capacity(self.segments.len());
        for s in &self.segments {
            let len = match s {
                Segment::Filler { len, .. } => *len,
                Segment::Align { to, .. } => (to - pos % to) % to,
                Segment::Buffer(b) => {
                    if self.buffer_present(b, form) {
                        self.buffer_len(b)
                    } else {
                        0
                    }
                }
                Segment::Stat { buffer, .. } => match &self.segments[*buffer] {
                    Segment::Buffer(b) if self.buffer_present(b, form) => 4,
                    _ => 0,
                },
                Segment::Volatile {
                    fresh, refitted, ..
                } => match form {
                    Form::Fresh => *fresh,
                    Form::Refitted => *refitted,
                },
            };
            seg.push((pos, len));
            pos += len;
        }
        Positions { seg, total: pos }
    }

    /// Checks internal consistency (also run on a parsed plan: a plan is untrusted input).
    pub fn validate(&self) -> Result<()> {
        let ws = &self.weights;
        let mut names = std::collections::HashSet::new();
        for w in ws {
            ensure!(names.insert(&w.name), "duplicate weight name {:?}", w.name);
            ensure!(
                w.dtype.bytes_for(w.count).is_some(),
                "weight {:?}: count overflows",
                w.name
            );
        }
        let weight = |w: usize| -> Result<&WeightSpec> {
            ws.get(w).ok_or_else(|| anyhow!("no weight #{w}"))
        };
        for (i, s) in self.segments.iter().enumerate() {
            let ctx = || format!("segment {i}: {s:?}");
            match s {
                Segment::Filler { .. } | Segment::Volatile { .. } => {}
                Segment::Align { to, .. } => ensure!(*to >= 1, "{}: align to 0", ctx()),
                Segment::Stat { buffer, .. } => ensure!(
                    matches!(self.segments.get(*buffer), Some(Segment::Buffer(_))),
                    "{}: not a buffer",
                    ctx()
                ),
                Segment::Buffer(b) => {
                    let st = b.stored;
                    ensure!(
                        st.bits() == 64 || b.pad >> st.bits() == 0,
                        "{}: pad too wide",
                        ctx()
                    );
                    let fused = |w: usize| -> Result<()> {
                        let dt = weight(w)?.dtype;
                        ensure!(
                            is_float16_32(dt) && is_float16_32(st),
                            "{}: fused/folded needs fp32/fp16/bf16",
                            ctx()
                        );
                        Ok(())
                    };
                    match &b.content {
                        Content::Copy(w) | Content::Baked(w) => {
                            ensure!(
                                storable(weight(*w)?.dtype, st),
                                "{}: cannot store {} as {st}",
                                ctx(),
                                weight(*w)?.dtype
                            )
                        }
                        Content::Slice {
                            weight: w,
                            start,
                            len,
                        } => {
                            let sp = weight(*w)?;
                            ensure!(storable(sp.dtype, st), "{}: cannot store", ctx());
                            ensure!(
                                start.checked_add(*len).is_some_and(|e| e <= sp.count),
                                "{}: slice out of range",
                                ctx()
                            );
                        }
                        Content::Join { parts, chunk } => {
                            ensure!(!parts.is_empty(), "{}: empty join", ctx());
                            let dt = weight(parts[0].weight)?.dtype;
                            let count = weight(parts[0].weight)?.count;
                            for p in parts {
                                let sp = weight(p.weight)?;
                                ensure!(sp.dtype == dt, "{}: join of mixed dtypes", ctx());
                                ensure!(storable(dt, st), "{}: cannot store", ctx());
                                if p.scale.is_some() {
                                    fused(p.weight)?;
                                }
                                if *chunk > 0 {
                                    ensure!(
                                        sp.count == count && count % chunk == 0,
                                        "{}: bad interleave",
                                        ctx()
                                    );
                                }
                            }
                        }
                        Content::ChannelScale { weight: w, scales } => {
                            fused(*w)?;
                            let c = weight(*w)?.count;
                            ensure!(
                                !scales.is_empty() && c % scales.len() as u64 == 0,
                                "{}: bad scales",
                                ctx()
                            );
                        }
                        Content::Reciprocal(w) => fused(*w)?,
                        Content::Sum(list) => {
                            ensure!(!list.is_empty(), "{}: empty sum", ctx());
                            let c = weight(list[0])?.count;
                            for w in list {
                                fused(*w)?;
                                ensure!(weight(*w)?.count == c, "{}: sum of unequal counts", ctx());
                            }
                        }
                    }
                    let n = b.content.len(ws);
                    b.order.validate(n).map_err(|e| anyhow!("{}: {e}", ctx()))?;
                    ensure!(
                        st.bytes_for(b.order.slots(n)).is_some(),
                        "{}: too large",
                        ctx()
                    );
                }
            }
        }
        if let Some(k) = self.faults.reject_weight {
            ensure!(k < ws.len(), "reject_weight {k} out of range");
        }
        Ok(())
    }

    fn buffers(&self) -> impl Iterator<Item = (usize, &Buffer)> {
        self.segments
            .iter()
            .enumerate()
            .filter_map(|(i, s)| match s {
                Segment::Buffer(b) => Some((i, b)),
                _ => None,
            })
    }
}

fn write_header(img: &mut [u8], version: [u8; 4], desc_len: u64) {
    img[..HEADER_LEN as usize].fill(0);
    img[0..4].copy_from_slice(TAG);
    img[8..10].copy_from_slice(&2u16.to_le_bytes());
    set_form(img, Form::Fresh);
    img[24..28].copy_from_slice(&version);
    img[28..32].copy_from_slice(TAG);
    img[32..40].copy_from_slice(&HEADER_LEN.to_le_bytes());
    img[40..48].copy_from_slice(&desc_len.to_le_bytes());
    img[48..56].copy_from_slice(MAGIC);
}

fn set_len(img: &mut [u8], len: u64) {
    img[16..24].copy_from_slice(&len.to_le_bytes());
}

fn set_form(img: &mut [u8], form: Form) {
    let v: u16 = match form {
        Form::Fresh => 0,
        Form::Refitted => 1,
    };
    img[FORM_AT..FORM_AT + 2].copy_from_slice(&v.to_le_bytes());
}

/// The layout form a plan's header names (see [`FORM_AT`]).
fn form_of(plan: &[u8]) -> Result<Form> {
    match u16::from_le_bytes([plan[FORM_AT], plan[FORM_AT + 1]]) {
        0 => Ok(Form::Fresh),
        1 => Ok(Form::Refitted),
        v => bail!("unknown layout form {v} in the plan header"),
    }
}

/// Copies an image from one form's positions to another's (`to` those of `form`; the two differ);
/// regenerates gaps and volatile blocks; weight bytes absent in the source come out zero. The
/// header's length and layout form follow.
fn relayout(layout: &Layout, src: &[u8], from: &Positions, to: &Positions, form: Form) -> Vec<u8> {
    let mut out = vec![0u8; to.total as usize];
    let head = (to.seg.first().map_or(to.total, |s| s.0)) as usize;
    out[..head].copy_from_slice(&src[..head]);
    set_len(&mut out, to.total);
    set_form(&mut out, form);
    for (i, s) in layout.segments.iter().enumerate() {
        let (ds, dl) = to.seg[i];
        let (ss, sl) = from.seg[i];
        let dst = &mut out[ds as usize..(ds + dl) as usize];
        match s {
            Segment::Align { fill, .. } | Segment::Volatile { fill, .. } => {
                fill.write(dst, i as u64)
            }
            _ if sl == dl => dst.copy_from_slice(&src[ss as usize..(ss + sl) as usize]),
            _ => {}
        }
    }
    out
}

// ---------------------------------------------------------------------------------------------
// Building
// ---------------------------------------------------------------------------------------------

impl SimSpec {
    pub fn new() -> SimSpec {
        SimSpec {
            layout: Layout {
                version: DEFAULT_VERSION,
                weights: Vec::new(),
                segments: Vec::new(),
                strip: false,
                refit_counter: false,
                persist_refit_form: false,
                faults: Faults::default(),
                not_refittable: false,
            },
            values: Vec::new(),
            trailer: 0,
            corrupt: Vec::new(),
        }
    }

    /// Adds a weight with its original values (refit-dtype bytes); returns its index.
    pub fn weight(
        &mut self,
        name: impl Into<String>,
        dtype: DataType,
        count: u64,
        values: Vec<u8>,
    ) -> usize {
        self.layout.weights.push(WeightSpec {
            name: name.into(),
            dtype,
            count,
        });
        self.values.push(values);
        self.layout.weights.len() - 1
    }

    /// Appends a segment; returns its index.
    pub fn push(&mut self, s: Segment) -> usize {
        self.layout.segments.push(s);
        self.layout.segments.len() - 1
    }

    pub fn buffer(&mut self, content: Content, stored: DataType, order: Order) -> usize {
        self.push(Segment::Buffer(Buffer {
            content,
            stored,
            order,
            pad: 0,
        }))
    }

    /// A verbatim copy of weight `w` in its refit dtype.
    pub fn copy(&mut self, w: usize) -> usize {
        let dt = self.layout.weights[w].dtype;
        self.buffer(Content::Copy(w), dt, Order::Verbatim)
    }

    pub fn filler(&mut self, len: u64, fill: Fill) -> usize {
        self.push(Segment::Filler { len, fill })
    }

    pub fn validate(&self) -> Result<()> {
        self.layout.validate()?;
        ensure!(
            self.values.len() == self.layout.weights.len(),
            "values for {} weights, {} weights",
            self.values.len(),
            self.layout.weights.len()
        );
        for (w, v) in self.layout.weights.iter().zip(&self.values) {
            ensure!(
                v.len() as u64 == w.refit_bytes(),
                "weight {:?}: {} value bytes, want {}",
                w.name,
                v.len(),
                w.refit_bytes()
            );
        }
        for c in &self.corrupt {
            match self.layout.segments.get(c.segment) {
                Some(Segment::Buffer(b)) => {
                    let n = b.order.slots(b.content.len(&self.layout.weights));
                    ensure!(c.slot < n, "corrupt slot out of range");
                    ensure!(
                        c.xor != 0 && (b.stored.bits() == 64 || c.xor >> b.stored.bits() == 0),
                        "bad corrupt mask"
                    );
                }
                _ => bail!("corrupt: segment {} is not a buffer", c.segment),
            }
        }
        Ok(())
    }

    /// Writes the engine file and computes the ground truth.
    pub fn build(&self) -> Result<SimPlan> {
        self.validate()?;
        let layout = &self.layout;
        let desc = serde_json::to_vec(layout)?;
        let desc_len = desc.len() as u64;
        let rpos = layout.positions(desc_len, Form::Refitted);
        let fpos = layout.positions(desc_len, Form::Fresh);
        let vals: Vec<&[u8]> = self.values.iter().map(|v| v.as_slice()).collect();

        // The refitted-form image holds every byte; the fresh form is derived from it.
        let mut img = vec![0u8; rpos.total as usize];
        write_header(&mut img, layout.version, desc_len);
        img[HEADER_LEN as usize..(HEADER_LEN + desc_len) as usize].copy_from_slice(&desc);
        for (i, s) in layout.segments.iter().enumerate() {
            let (st, len) = rpos.seg[i];
            let dst = &mut img[st as usize..(st + len) as usize];
            match s {
                Segment::Filler { fill, .. }
                | Segment::Align { fill, .. }
                | Segment::Volatile { fill, .. } => fill.write(dst, i as u64),
                Segment::Buffer(b) => write_buffer(b, &layout.weights, &vals, dst),
                Segment::Stat { .. } => {}
            }
        }
        write_stats(layout, &mut img, &rpos);
        for c in &self.corrupt {
            if let Segment::Buffer(b) = &layout.segments[c.segment] {
                let (st, len) = rpos.seg[c.segment];
                let buf = &mut img[st as usize..(st + len) as usize];
                let v = get(buf, c.slot, b.stored);
                put(buf, c.slot, b.stored, v ^ c.xor);
            }
        }
        let truth = self.truth(&img, &rpos, &fpos, desc_len)?;
        let mut file = if fpos == rpos {
            img
        } else {
            relayout(layout, &img, &rpos, &fpos, Form::Fresh)
        };
        if self.trailer > 0 {
            let at = file.len();
            file.resize(at + self.trailer as usize, 0);
            Fill::Adversarial(0x7EA1).write(&mut file[at..], 0);
        }
        let n = file.len() as u64;
        set_len(&mut file, n);
        Ok(SimPlan {
            file,
            truth: Truth {
                file_len: n,
                ..truth
            },
        })
    }

    fn truth(
        &self,
        img: &[u8],
        rpos: &Positions,
        fpos: &Positions,
        desc_len: u64,
    ) -> Result<Truth> {
        let layout = &self.layout;
        let ws = &layout.weights;
        let mut out = Vec::with_capacity(ws.len());
        for (w, spec) in ws.iter().enumerate() {
            let mut copies = Vec::new();
            let mut why = Why::NotStored;
            let rank = |y: Why| match y {
                Why::NotStored => 0,
                Why::Baked => 1,
                Why::Fused => 2,
                Why::Folded => 3,
                Why::Partial => 4,
                Why::Stripped => 5,
            };
            for (si, b) in layout.buffers() {
                if !b.content.weights().contains(&w) {
                    continue;
                }
                if b.content.pure_copy_of(w) {
                    let slot0 = slot_of(b, ws, w, 0);
                    let off = |p: &Positions| -> u64 {
                        p.seg[si].0 + slot0.map_or(0, |s| s * u64::from(b.stored.bits()) / 8)
                    };
                    let present = fpos.seg[si].1 == rpos.seg[si].1;
                    copies.push(CopyAt {
                        segment: si,
                        stored: b.stored,
                        order: b.order.clone(),
                        fresh_offset: present.then(|| off(fpos)),
                        refitted_offset: off(rpos),
                        fresh_buffer: present
                            .then(|| (fpos.seg[si].0, fpos.seg[si].0 + fpos.seg[si].1)),
                    });
                    continue;
                }
                let y = match &b.content {
                    Content::Slice { .. } => Why::Partial,
                    Content::Sum(_) => Why::Fused,
                    Content::Baked(_) => Why::Baked,
                    _ => Why::Folded,
                };
                if rank(y) > rank(why) {
                    why = y;
                }
            }
            // In a stripped plan nothing that follows a refit is in the file; baked constants are.
            if layout.strip
                && (!copies.is_empty() || matches!(why, Why::Partial | Why::Fused | Why::Folded))
            {
                why = Why::Stripped;
            }
            let recovery = if spec.count == 0 {
                Recovery::Exact
            } else if layout.strip || copies.is_empty() {
                Recovery::Unrecoverable(why)
            } else {
                Recovery::Exact
            };
            let (mut values, mut exact_original, mut disagree) = (None, false, false);
            if recovery == Recovery::Exact {
                // Preferred copy: most mantissa bits, first in plan order on ties.
                let best = copies
                    .iter()
                    .enumerate()
                    .max_by_key(|(i, c)| (num::precision_rank(c.stored), usize::MAX - i))
                    .map(|(i, _)| i);
                let mut v = vec![0u8; spec.refit_bytes() as usize];
                if let Some(bi) = best {
                    let c = &copies[bi];
                    read_copy(layout, img, rpos, c.segment, w, &mut v);
                    // Every other copy must equal the preferred one narrowed to its dtype, where
                    // that is decidable: the preferred copy holds the refit values exactly, or the
                    // other has its dtype (an fp16 and a bf16 copy of an fp32 weight are each
                    // rounded from values neither holds, so neither predicts the other).
                    let best_exact = holds_exactly(c.stored, spec.dtype);
                    for (oi, o) in copies.iter().enumerate() {
                        if oi == bi || !(best_exact || o.stored == c.stored) {
                            continue;
                        }
                        let mut other =
                            vec![0u8; spec.dtype.bytes_for(spec.count).unwrap() as usize];
                        read_copy(layout, img, rpos, o.segment, w, &mut other);
                        for e in 0..spec.count {
                            let a = convert(get(&v, e, spec.dtype), spec.dtype, o.stored);
                            let b = convert(get(&other, e, spec.dtype), spec.dtype, o.stored);
                            if a != b {
                                disagree = true;
                                break;
                            }
                        }
                    }
                }
                let orig = &self.values[w];
                exact_original = if spec.dtype.is_packed() || spec.dtype == DataType::Bool {
                    (0..spec.count).all(|e| {
                        get(&v, e, spec.dtype)
                            == convert(get(orig, e, spec.dtype), spec.dtype, spec.dtype)
                    })
                } else {
                    v == *orig
                };
                values = Some(v);
            }
            out.push(WeightTruth {
                spec: spec.clone(),
                recovery,
                values,
                copies,
                exact_original,
                copies_disagree: disagree,
            });
        }
        Ok(Truth {
            weights: out,
            file_len: 0,
            fresh_len: fpos.total,
            refitted_len: rpos.total,
            fresh: fpos.seg.clone(),
            refitted: rpos.seg.clone(),
            description: (HEADER_LEN, HEADER_LEN + desc_len),
        })
    }

    /// Convenience: build, then open the file as an engine.
    pub fn engine(&self) -> Result<(SimEngine, SimPlan)> {
        let plan = self.build()?;
        let engine = SimEngine::new(plan.file.clone())?;
        Ok((engine, plan))
    }
}

impl Default for SimSpec {
    fn default() -> Self {
        SimSpec::new()
    }
}

/// Whether every value of `inner` is exactly a value of `outer`.
pub fn holds_exactly(outer: DataType, inner: DataType) -> bool {
    use DataType::*;
    outer == inner
        || matches!(
            (outer, inner),
            (Float, Half) | (Float, Bf16) | (Int64, Int32)
        )
}

/// The slot of buffer `b` that holds element `e` of weight `w` (a pure copy).
fn slot_of(b: &Buffer, ws: &[WeightSpec], w: usize, e: u64) -> Option<u64> {
    if ws[w].count == 0 {
        return None;
    }
    let n = b.content.len(ws);
    let target = match &b.content {
        Content::Copy(_) => e,
        Content::Join { parts, chunk } => {
            let map = JoinMap::new(parts, ws, *chunk);
            // Find source index j with map.locate(j) == (part of w, e).
            let p = parts
                .iter()
                .position(|p| p.weight == w && p.scale.is_none())?;
            if *chunk == 0 {
                map.starts[p] + e
            } else {
                let np = parts.len() as u64;
                ((e / chunk) * np + p as u64) * chunk + e % chunk
            }
        }
        _ => return None,
    };
    if b.order == Order::Verbatim {
        return Some(target);
    }
    let mut found = None;
    b.order.for_each(n, |slot, src| {
        if found.is_none() && src == Some(target) {
            found = Some(slot);
        }
    });
    found
}

/// Reads weight `w`'s elements from its pure copy in segment `si` of a refitted-form image into
/// `out` (refit dtype), converting each stored element exactly to the refit dtype.
fn read_copy(layout: &Layout, img: &[u8], pos: &Positions, si: usize, w: usize, out: &mut [u8]) {
    let ws = &layout.weights;
    let Segment::Buffer(b) = &layout.segments[si] else {
        unreachable!()
    };
    let (st, len) = pos.seg[si];
    let buf = &img[st as usize..(st + len) as usize];
    let dt = ws[w].dtype;
    if matches!(b.content, Content::Copy(_))
        && b.stored == dt
        && b.order == Order::Verbatim
        && !dt.is_packed()
    {
        out.copy_from_slice(&buf[..out.len()]);
        return;
    }
    out.fill(0);
    let n = b.content.len(ws);
    let join = match &b.content {
        Content::Join { parts, chunk } => Some((JoinMap::new(parts, ws, *chunk), parts)),
        _ => None,
    };
    b.order.for_each(n, |slot, src| {
        let Some(j) = src else { return };
        let idx = match &join {
            None => j,
            Some((map, parts)) => {
                let (p, idx) = map.locate(j);
                if parts[p].weight != w || parts[p].scale.is_some() {
                    return;
                }
                idx
            }
        };
        put(
            out,
            idx,
            dt,
            convert(get(buf, slot, b.stored), b.stored, dt),
        );
    });
}

fn write_stats(layout: &Layout, img: &mut [u8], pos: &Positions) {
    for (i, s) in layout.segments.iter().enumerate() {
        if let Segment::Stat { buffer, kind } = s {
            let (st, len) = pos.seg[i];
            if len == 0 {
                continue;
            }
            let Segment::Buffer(b) = &layout.segments[*buffer] else {
                unreachable!()
            };
            let (bs, bl) = pos.seg[*buffer];
            let slots = b.order.slots(b.content.len(&layout.weights));
            let v = stat_bytes(
                *kind,
                &img[bs as usize..(bs + bl) as usize],
                b.stored,
                slots,
            );
            img[st as usize..st as usize + 4].copy_from_slice(&v);
            debug_assert_eq!(len, 4);
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Runtime: engine and instances
// ---------------------------------------------------------------------------------------------

/// Call counters for fault injection; shared by every engine given the same `Arc`.
#[derive(Debug, Default)]
pub struct Counters {
    pub instance: AtomicU64,
    pub refit: AtomicU64,
    pub serialize: AtomicU64,
}

struct Shared {
    layout: Layout,
    fresh_pos: Positions,
    refit_pos: Positions,
    /// A new instance's serialization (the file without its trailer, length patched).
    fresh: Arc<Vec<u8>>,
    /// Its form: `Refitted` only for a refitted plan whose layout persists.
    form: Form,
    faults: Faults,
    counters: Arc<Counters>,
}

/// An engine file, deserializable any number of times.
pub struct SimEngine {
    sh: Arc<Shared>,
}

/// Serialized bytes shared with the instance that made them.
pub struct SimBytes {
    buf: Arc<Vec<u8>>,
}

impl PlanBytes for SimBytes {
    fn bytes(&self) -> &[u8] {
        &self.buf
    }
}

fn u64_at(b: &[u8], at: usize) -> u64 {
    u64::from_le_bytes(b[at..at + 8].try_into().unwrap())
}

impl SimEngine {
    /// Parses a simulator plan, as deserializeCudaEngine would: from its bytes alone.
    pub fn new(file: Vec<u8>) -> Result<SimEngine> {
        let mut layout = parse_layout(&file)?;
        let desc_len = u64_at(&file, 40);
        let marked = form_of(&file)?;
        let mut fresh_pos = layout.positions(desc_len, Form::Fresh);
        let mut refit_pos = layout.positions(desc_len, Form::Refitted);
        // A weight-stripped engine serialized with its weights included (serializeWithConfig
        // without kEXCLUDE_WEIGHTS, kINCLUDE_REFIT set) is an ordinary refittable plan: it holds
        // its weights and serializes them.
        if layout.strip && fresh_pos != refit_pos && marked == Form::Refitted {
            layout.strip = false;
            fresh_pos = layout.positions(desc_len, Form::Fresh);
            refit_pos = layout.positions(desc_len, Form::Refitted);
        }
        let n = file.len() as u64;
        // The header says which layout the bytes are in (`FORM_AT`), not the length: a builder
        // trailer can make a fresh-layout file exactly as long as the refitted layout (taking it
        // for a refitted plan served the trailer as plan bytes), and a refitted layout can be
        // shorter than the fresh one or as long with its segments elsewhere.
        // A plan some instance serialized after a refit (what `Engine::instance_of` is given; the
        // stand-in gets it through deserializeCudaEngine) is read as `instance_of` reads it: kept
        // in the refitted layout when that layout persists, else brought back to the fresh one.
        // A fresh-layout plan longer than its layout is a builder file with a trailer.
        let (fresh, form) = if marked == Form::Refitted && fresh_pos != refit_pos {
            ensure!(
                refit_pos.total == n,
                "plan of {n} bytes: its refitted layout needs {}",
                refit_pos.total
            );
            if layout.persist_refit_form {
                (Arc::new(file), Form::Refitted)
            } else {
                (
                    Arc::new(relayout(
                        &layout,
                        &file,
                        &refit_pos,
                        &fresh_pos,
                        Form::Fresh,
                    )),
                    Form::Fresh,
                )
            }
        } else {
            ensure!(
                fresh_pos.total <= n,
                "plan truncated: layout needs {} bytes, file has {n}",
                fresh_pos.total
            );
            if fresh_pos.total == n {
                (Arc::new(file), Form::Fresh)
            } else {
                let mut f = file[..fresh_pos.total as usize].to_vec();
                set_len(&mut f, fresh_pos.total);
                (Arc::new(f), Form::Fresh)
            }
        };
        let faults = layout.faults.clone();
        Ok(SimEngine {
            sh: Arc::new(Shared {
                layout,
                fresh_pos,
                refit_pos,
                fresh,
                form,
                faults,
                counters: Arc::default(),
            }),
        })
    }

    fn rebuild(&self, faults: Faults, counters: Arc<Counters>) -> SimEngine {
        let sh = &self.sh;
        SimEngine {
            sh: Arc::new(Shared {
                layout: sh.layout.clone(),
                fresh_pos: sh.fresh_pos.clone(),
                refit_pos: sh.refit_pos.clone(),
                fresh: sh.fresh.clone(),
                form: sh.form,
                faults,
                counters,
            }),
        }
    }

    /// Replaces the fault plan (counters restart).
    pub fn with_faults(self, faults: Faults) -> SimEngine {
        self.rebuild(faults, Arc::default())
    }

    /// Counts calls in `counters` (e.g. one set for a whole process, as the stand-in does).
    pub fn with_counters(self, counters: Arc<Counters>) -> SimEngine {
        let faults = self.sh.faults.clone();
        self.rebuild(faults, counters)
    }

    /// Byte sizes of refittable weights: (all buffers of a refitted serialization, those absent
    /// from the file because the plan is weight-stripped).
    pub fn weight_sizes(&self) -> (u64, u64) {
        let sh = &self.sh;
        let mut total = 0;
        let mut stripped = 0;
        for (i, _) in sh.layout.buffers() {
            total += sh.refit_pos.seg[i].1;
            stripped += sh.refit_pos.seg[i].1 - sh.fresh_pos.seg[i].1;
        }
        (total, stripped)
    }

    pub fn layout(&self) -> &Layout {
        &self.sh.layout
    }

    /// Calls made so far: (instance, refit, serialize).
    pub fn calls(&self) -> (u64, u64, u64) {
        (
            self.sh.counters.instance.load(Ordering::SeqCst),
            self.sh.counters.refit.load(Ordering::SeqCst),
            self.sh.counters.serialize.load(Ordering::SeqCst),
        )
    }

    /// A fresh instance with a `'static` lifetime (for FFI wrappers).
    pub fn instance_owned(&self) -> Result<SimInstance> {
        let call = self.sh.counters.instance.fetch_add(1, Ordering::SeqCst) + 1;
        if self.sh.faults.fail_instance == Some(call) {
            bail!("IRuntime::deserializeCudaEngine: Error Code 1: Serialization (injected failure on deserialization #{call})");
        }
        Ok(SimInstance {
            sh: self.sh.clone(),
            image: self.sh.fresh.clone(),
            form: self.sh.form,
            refits: 0,
            broken: None,
        })
    }
}

/// Reads and validates the layout description of a simulator plan.
pub fn parse_layout(file: &[u8]) -> Result<Layout> {
    ensure!(
        file.len() as u64 >= HEADER_LEN,
        "not a plan: {} bytes",
        file.len()
    );
    ensure!(&file[0..4] == TAG, "not a plan: no `ftrt` tag");
    ensure!(file[4..8] == [0; 4], "unknown serialization version");
    ensure!(&file[48..56] == MAGIC, "not a simulator plan");
    ensure!(
        u64_at(file, 16) == file.len() as u64,
        "plan length field {} != file length {}",
        u64_at(file, 16),
        file.len()
    );
    let (at, len) = (u64_at(file, 32), u64_at(file, 40));
    let end = at
        .checked_add(len)
        .filter(|&e| e <= file.len() as u64)
        .ok_or_else(|| anyhow!("description out of range"))?;
    let layout: Layout =
        serde_json::from_slice(&file[at as usize..end as usize]).context("plan description")?;
    layout.validate().context("plan description")?;
    Ok(layout)
}

impl Engine for SimEngine {
    fn weights(&self) -> &[WeightSpec] {
        &self.sh.layout.weights
    }

    fn instance(&self) -> Result<Box<dyn Instance + '_>> {
        Ok(Box::new(self.instance_owned()?))
    }

    fn instance_of(&self, plan: &[u8]) -> Result<Box<dyn Instance + '_>> {
        let sh = &self.sh;
        let call = sh.counters.instance.fetch_add(1, Ordering::SeqCst) + 1;
        if sh.faults.fail_instance == Some(call) {
            bail!("IRuntime::deserializeCudaEngine: Error Code 1: Serialization (injected failure on deserialization #{call})");
        }
        let layout = parse_layout(plan)?;
        ensure!(
            layout.weights == sh.layout.weights,
            "IRuntime::deserializeCudaEngine: a plan of another engine"
        );
        let n = plan.len() as u64;
        // The layout from the header, as `SimEngine::new` reads it; a serialization has no trailer.
        let (image, form) = if form_of(plan)? == Form::Refitted && sh.fresh_pos != sh.refit_pos {
            ensure!(n == sh.refit_pos.total, "IRuntime::deserializeCudaEngine: plan of {n} bytes does not fit its refitted layout");
            if sh.layout.persist_refit_form {
                (plan.to_vec(), Form::Refitted)
            } else {
                (
                    relayout(&sh.layout, plan, &sh.refit_pos, &sh.fresh_pos, Form::Fresh),
                    Form::Fresh,
                )
            }
        } else {
            ensure!(
                n == sh.fresh_pos.total,
                "IRuntime::deserializeCudaEngine: plan of {n} bytes does not fit its fresh layout"
            );
            (plan.to_vec(), Form::Fresh)
        };
        Ok(Box::new(SimInstance {
            sh: sh.clone(),
            image: Arc::new(image),
            form,
            refits: 0,
            broken: None,
        }))
    }
}

/// A deserialized engine.
pub struct SimInstance {
    sh: Arc<Shared>,
    image: Arc<Vec<u8>>,
    form: Form,
    refits: u64,
    broken: Option<String>,
}

impl SimInstance {
    pub fn refits(&self) -> u64 {
        self.refits
    }

    pub fn weights(&self) -> &[WeightSpec] {
        &self.sh.layout.weights
    }

    /// setNamedWeights' checks for one weight: `Err` with TensorRT-like text.
    pub fn check_weight(&self, i: usize, bytes: u64) -> Result<()> {
        let w = &self.sh.layout.weights[i];
        if self.sh.faults.reject_weight == Some(i) {
            bail!(
                "IRefitter::setNamedWeights: Error Code 3: API Usage Error (refit rejected weights \"{}\": injected rejection)",
                w.name
            );
        }
        if bytes != w.refit_bytes() {
            bail!(
                "IRefitter::setNamedWeights: Error Code 3: API Usage Error (Parameter check failed, condition: weights.count == expected. Weights \"{}\" of type {} need {} elements ({} bytes), got {} bytes)",
                w.name,
                w.dtype,
                w.count,
                w.refit_bytes(),
                bytes
            );
        }
        Ok(())
    }
}

/// TensorRT's refit weights validation (on by default; the tool turns it off): NaN or inf in a
/// floating-point weight fails the refit.
pub fn validate_values(weights: &[WeightSpec], values: &[&[u8]]) -> Result<()> {
    for (w, v) in weights.iter().zip(values) {
        if !is_float16_32(w.dtype) || v.len() as u64 != w.refit_bytes() {
            continue;
        }
        if let Some(e) = (0..w.count).find(|&e| !to_f32(get(v, e, w.dtype), w.dtype).is_finite()) {
            bail!(
                "IRefitter::refitCudaEngine: Error Code 3: API Usage Error (weights \"{}\" hold a NaN or infinite value at element {e}; refit weights validation is on)",
                w.name
            );
        }
    }
    Ok(())
}

impl Instance for SimInstance {
    fn serialize(&mut self) -> Result<Box<dyn PlanBytes>> {
        let call = self.sh.counters.serialize.fetch_add(1, Ordering::SeqCst) + 1;
        if let Some(why) = &self.broken {
            bail!("ICudaEngine::serialize: Error Code 2: Internal Error (engine unusable: {why})");
        }
        if self.sh.faults.fail_serialize == Some(call) {
            bail!("ICudaEngine::serialize: Error Code 2: Internal Error (injected failure on serialization #{call})");
        }
        if let Some(ms) = self.sh.faults.delay_ms {
            std::thread::sleep(std::time::Duration::from_millis(ms));
        }
        // kSTRIP_PLAN: a plain serialization keeps excluding the refittable weights, even after
        // a refit (pytorch/TensorRT #3217): the plan comes out in the stripped (fresh) layout.
        if self.sh.layout.strip
            && self.form == Form::Refitted
            && self.sh.fresh_pos != self.sh.refit_pos
        {
            return Ok(Box::new(SimBytes {
                buf: Arc::new(relayout(
                    &self.sh.layout,
                    &self.image,
                    &self.sh.refit_pos,
                    &self.sh.fresh_pos,
                    Form::Fresh,
                )),
            }));
        }
        Ok(Box::new(SimBytes {
            buf: self.image.clone(),
        }))
    }

    /// serializeWithConfig without kEXCLUDE_WEIGHTS: the weights are in, stripped engine or not.
    /// A stripped instance never refitted has no weights to include: they come out as zeros (its
    /// statistics computed from them), in the refitted layout.
    fn serialize_including_weights(&mut self) -> Result<Box<dyn PlanBytes>> {
        let sh = self.sh.clone();
        if sh.layout.strip && self.form == Form::Fresh && sh.fresh_pos != sh.refit_pos {
            if let Some(why) = &self.broken {
                bail!("ICudaEngine::serializeWithConfig: Error Code 2: Internal Error (engine unusable: {why})");
            }
            sh.counters.serialize.fetch_add(1, Ordering::SeqCst);
            let mut img = relayout(
                &sh.layout,
                &self.image,
                &sh.fresh_pos,
                &sh.refit_pos,
                Form::Refitted,
            );
            write_stats(&sh.layout, &mut img, &sh.refit_pos);
            return Ok(Box::new(SimBytes { buf: Arc::new(img) }));
        }
        if sh.layout.strip && self.form == Form::Refitted {
            sh.counters.serialize.fetch_add(1, Ordering::SeqCst);
            if let Some(why) = &self.broken {
                bail!("ICudaEngine::serializeWithConfig: Error Code 2: Internal Error (engine unusable: {why})");
            }
            return Ok(Box::new(SimBytes {
                buf: self.image.clone(),
            }));
        }
        self.serialize()
    }

    fn refit(&mut self, values: &[&[u8]]) -> Result<()> {
        let call = self.sh.counters.refit.fetch_add(1, Ordering::SeqCst) + 1;
        let sh = self.sh.clone();
        let ws = &sh.layout.weights;
        if sh.layout.not_refittable {
            bail!("IRefitter::refitCudaEngine: Error Code 3: API Usage Error (engine was not built with kREFIT: it is not refittable)");
        }
        if let Some(why) = &self.broken {
            bail!(
                "IRefitter::refitCudaEngine: Error Code 2: Internal Error (engine unusable: {why})"
            );
        }
        if values.len() < ws.len() {
            let missing: Vec<&str> = ws[values.len()..].iter().map(|w| w.name.as_str()).collect();
            bail!(
                "IRefitter::refitCudaEngine: Error Code 3: API Usage Error (missing {} weights: {})",
                missing.len(),
                missing.join(", ")
            );
        }
        ensure!(
            values.len() == ws.len(),
            "IRefitter::setNamedWeights: {} buffers for {} weights",
            values.len(),
            ws.len()
        );
        let some: Vec<Option<&[u8]>> = values.iter().map(|v| Some(*v)).collect();
        self.apply(call, &some)
    }

    fn refit_some(&mut self, values: &[Option<&[u8]>]) -> Result<Vec<usize>> {
        let ws = &self.sh.layout.weights;
        ensure!(
            values.len() == ws.len(),
            "IRefitter::setNamedWeights: {} buffers for {} weights",
            values.len(),
            ws.len()
        );
        for (i, v) in values.iter().enumerate() {
            if let Some(v) = v {
                self.check_weight(i, v.len() as u64)?;
            }
        }
        let set: Vec<bool> = values.iter().map(Option::is_some).collect();
        let missing = self.missing_weights(&set);
        if !missing.is_empty() {
            return Ok(missing);
        }
        let call = self.sh.counters.refit.fetch_add(1, Ordering::SeqCst) + 1;
        if self.sh.layout.not_refittable {
            bail!("IRefitter::refitCudaEngine: Error Code 3: API Usage Error (engine was not built with kREFIT: it is not refittable)");
        }
        if let Some(why) = &self.broken {
            bail!(
                "IRefitter::refitCudaEngine: Error Code 2: Internal Error (engine unusable: {why})"
            );
        }
        self.apply(call, values).map(|()| Vec::new())
    }
}

impl SimInstance {
    /// `getMissingWeights` after setting the weights marked in `set`: a weight-stripped engine
    /// never refitted needs every weight; otherwise a refit needs every weight stored in a buffer
    /// together with one that is set (the weights of one fused layer are refitted together).
    pub fn missing_weights(&self, set: &[bool]) -> Vec<usize> {
        let sh = &self.sh;
        let n = sh.layout.weights.len();
        if sh.layout.strip && self.form == Form::Fresh && sh.fresh_pos != sh.refit_pos {
            return (0..n).filter(|&i| !set[i]).collect();
        }
        let mut need = vec![false; n];
        for (_, b) in sh.layout.buffers() {
            if !b.content.follows_refit() {
                continue;
            }
            let ws = b.content.weights();
            if ws.iter().any(|&w| set[w]) {
                for w in ws {
                    need[w] |= !set[w];
                }
            }
        }
        (0..n).filter(|&i| need[i]).collect()
    }

    /// Applies a refit whose weights TensorRT has all it needs: buffers whose weights are all set
    /// are rewritten, the others keep their bytes.
    fn apply(&mut self, call: u64, values: &[Option<&[u8]>]) -> Result<()> {
        let sh = self.sh.clone();
        let ws = &sh.layout.weights;
        for (i, v) in values.iter().enumerate() {
            if let Some(v) = v {
                self.check_weight(i, v.len() as u64)?;
            }
        }
        if sh.faults.fail_refit == Some(call) {
            let why = format!("injected failure on refit #{call}");
            self.broken = Some(why.clone());
            bail!("IRefitter::refitCudaEngine: Error Code 2: Internal Error ({why})");
        }
        if self.form == Form::Fresh {
            if sh.fresh_pos != sh.refit_pos {
                self.image = Arc::new(relayout(
                    &sh.layout,
                    &self.image,
                    &sh.fresh_pos,
                    &sh.refit_pos,
                    Form::Refitted,
                ));
            }
            self.form = Form::Refitted;
        }
        let img = Arc::make_mut(&mut self.image);
        let full: Vec<&[u8]> = values.iter().map(|v| v.unwrap_or(&[])).collect();
        for (i, b) in sh.layout.buffers() {
            if !b.content.follows_refit()
                || b.content.weights().iter().any(|&w| values[w].is_none())
            {
                continue;
            }
            let (st, len) = sh.refit_pos.seg[i];
            write_buffer(b, ws, &full, &mut img[st as usize..(st + len) as usize]);
        }
        write_stats(&sh.layout, img, &sh.refit_pos);
        self.refits += 1;
        if sh.layout.refit_counter {
            img[12..16]
                .copy_from_slice(&(self.refits.min(u64::from(u32::MAX)) as u32).to_le_bytes());
        }
        Ok(())
    }
}
