//! `locate`: find reference tensors in an engine's bytes, with no GPU and no TensorRT.
//!
//! Each reference tensor is searched for in a few *forms*: its bytes verbatim; for float32 tensors
//! their float16 and bfloat16 conversions (round to nearest, ties to even, as TensorRT converts);
//! and for 2-D tensors the transpose (`[r, c]` stored as `[c, r]`), alone or converted. What is
//! found becomes [`Run`]s in engine-file coordinates, the same runs a map file stores.
//!
//! **Speed.** A multi-GB engine is scanned once, whatever the number of tensors: every form of
//! every tensor contributes one 8-byte *anchor* (a window of its bytes chosen to be distinctive, so
//! not a stretch of zeros), and the scan looks up the 8 bytes at every engine offset (aligned or
//! not) in a bitset, then a hash map of anchors. Each hit is verified against the whole form,
//! converting on the fly, so no converted or transposed copy of a tensor is ever built. The scan is
//! split across threads.
//!
//! **What counts as found.** A match must cover the whole tensor. Tensors that would match almost
//! anywhere are not placed at all: fewer than [`LocateOptions::min_elements`] elements, or all
//! elements equal (zeros, ones: a LayerNorm bias matches any run of zeros). A tensor that occurs more
//! than once keeps *every* occurrence as a copy (TensorRT does store some weights twice), up to
//! [`LocateOptions::max_copies`]; more copies than that, or copies that overlap each other
//! (periodic data), mean the placement is not determined and the tensor is reported ambiguous.

use std::collections::HashMap;
use std::fmt;

use half::{bf16, f16};
use serde::Serialize;

use crate::dtype::DataType;
use crate::pipeline::Run;
use crate::reference::RefTensor;

/// How a tensor's bytes appear in the engine.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Form {
    Verbatim,
    Fp16,
    Bf16,
    Transposed,
    TransposedFp16,
    TransposedBf16,
}

impl Form {
    pub const ALL: [Form; 6] = [
        Form::Verbatim,
        Form::Fp16,
        Form::Bf16,
        Form::Transposed,
        Form::TransposedFp16,
        Form::TransposedBf16,
    ];

    pub fn is_transposed(self) -> bool {
        matches!(
            self,
            Form::Transposed | Form::TransposedFp16 | Form::TransposedBf16
        )
    }

    /// The dtype the engine stores in this form, for a reference of dtype `src`.
    pub fn stored(self, src: DataType) -> DataType {
        match self {
            Form::Verbatim | Form::Transposed => src,
            Form::Fp16 | Form::TransposedFp16 => DataType::Half,
            Form::Bf16 | Form::TransposedBf16 => DataType::Bf16,
        }
    }

    fn converts(self) -> bool {
        !matches!(self, Form::Verbatim | Form::Transposed)
    }

    pub fn name(self) -> &'static str {
        match self {
            Form::Verbatim => "verbatim",
            Form::Fp16 => "fp16",
            Form::Bf16 => "bf16",
            Form::Transposed => "transposed",
            Form::TransposedFp16 => "transposed-fp16",
            Form::TransposedBf16 => "transposed-bf16",
        }
    }
}

impl fmt::Display for Form {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

#[derive(Clone, Debug)]
pub struct LocateOptions {
    /// Tensors with fewer elements are not placed (they would match by chance).
    pub min_elements: u64,
    /// A tensor found more often than this is reported ambiguous instead of placed (16 by
    /// default: map files refuse more copies than that).
    pub max_copies: usize,
    /// Forms to search for.
    pub forms: Vec<Form>,
    /// Scan threads; 0 means one per available core.
    pub threads: usize,
}

impl Default for LocateOptions {
    fn default() -> Self {
        LocateOptions {
            min_elements: 8,
            max_copies: 16,
            forms: Form::ALL.to_vec(),
            threads: 0,
        }
    }
}

/// One occurrence of a tensor in the engine.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Placement {
    pub form: Form,
    /// Byte offset of the occurrence's first stored element in the engine file.
    pub offset: u64,
    /// Bytes the occurrence spans.
    pub bytes: u64,
    /// Runs whose `weight` is the tensor's index in the `refs` given to [`locate`].
    pub runs: Vec<Run>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Found {
    /// Index into the `refs` given to [`locate`].
    pub index: usize,
    pub name: String,
    /// Every occurrence (copies), ordered by offset.
    pub placements: Vec<Placement>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "reason", rename_all = "kebab-case")]
pub enum MissReason {
    /// Searched for in every applicable form and not found.
    NotFound { forms: Vec<Form> },
    /// Too few elements to place uniquely.
    TooSmall { count: u64, min: u64 },
    /// Every element has the same value: it would match any run of that value.
    AllEqual,
    /// Found too many times, or at overlapping places.
    Ambiguous { copies: usize, overlapping: bool },
    /// Could not be searched for (dtype left out by the reader, inconsistent tensor, ...).
    Unsupported { why: String },
}

impl fmt::Display for MissReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            MissReason::NotFound { forms } => {
                let names: Vec<_> = forms.iter().map(|x| x.name()).collect();
                write!(f, "not found in any form searched ({})", names.join(", "))
            }
            MissReason::TooSmall { count, min } => {
                write!(
                    f,
                    "too small to place uniquely: {count} elements (fewer than {min})"
                )
            }
            MissReason::AllEqual => {
                f.write_str("all elements are equal: it would match any run of that value")
            }
            MissReason::Ambiguous {
                copies,
                overlapping: true,
            } => {
                write!(f, "ambiguous: {copies} occurrences that overlap each other")
            }
            MissReason::Ambiguous {
                copies,
                overlapping: false,
            } => {
                write!(f, "ambiguous: found at {copies} or more places")
            }
            MissReason::Unsupported { why } => f.write_str(why),
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Missing {
    pub name: String,
    #[serde(flatten)]
    pub reason: MissReason,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct LocateReport {
    pub found: Vec<Found>,
    pub missing: Vec<Missing>,
}

/// One form of one tensor, as searched for.
struct Needle<'a> {
    tensor: usize,
    t: &'a RefTensor,
    form: Form,
    /// Bytes per element as stored (packed 4-bit types: searched byte-wise, as 1).
    size: usize,
    /// Bytes of the whole form.
    len: u64,
    /// For transposed forms: the reference's rows and columns.
    rows: u64,
    cols: u64,
    /// Byte offset of the anchor window inside the form.
    anchor_at: u64,
}

impl Needle<'_> {
    /// Writes stored element `s` of this form into `out` (`size` bytes).
    fn element(&self, s: u64, out: &mut [u8]) {
        let src = if self.form.is_transposed() {
            // Storage is [cols, rows]: stored element j*rows + i is reference element i*cols + j.
            let (j, i) = (s / self.rows, s % self.rows);
            i * self.cols + j
        } else {
            s
        };
        if self.form.converts() {
            let at = (src * 4) as usize;
            let x = f32::from_le_bytes(self.t.data[at..at + 4].try_into().unwrap_or([0; 4]));
            let bits = if self.form.stored(DataType::Float) == DataType::Half {
                f16::from_f32(x).to_bits()
            } else {
                bf16::from_f32(x).to_bits()
            };
            out.copy_from_slice(&bits.to_le_bytes());
        } else {
            let at = src as usize * self.size;
            out.copy_from_slice(&self.t.data[at..at + self.size]);
        }
    }

    /// The form's bytes in `[from, from + out.len())`.
    fn bytes_at(&self, from: u64, out: &mut [u8]) {
        if !self.form.converts() && !self.form.is_transposed() {
            out.copy_from_slice(&self.t.data[from as usize..from as usize + out.len()]);
            return;
        }
        let size = self.size as u64;
        let mut e = [0u8; 8];
        for (k, b) in out.iter_mut().enumerate() {
            let pos = from + k as u64;
            self.element(pos / size, &mut e[..self.size]);
            *b = e[(pos % size) as usize];
        }
    }

    /// Whether `hay` (exactly `len` bytes) holds this form.
    fn matches(&self, hay: &[u8]) -> bool {
        if !self.form.converts() && !self.form.is_transposed() {
            return hay == self.t.data.as_slice();
        }
        let mut e = [0u8; 8];
        let n = self.len / self.size as u64;
        (0..n).all(|s| {
            self.element(s, &mut e[..self.size]);
            let at = (s as usize) * self.size;
            hay[at..at + self.size] == e[..self.size]
        })
    }

    /// The runs of an occurrence at `offset`, for weight number `weight`.
    fn runs(&self, weight: u32, offset: u64) -> Vec<Run> {
        let stored = self.form.stored(self.t.dtype);
        let count = self.t.count();
        if !self.form.is_transposed() {
            return vec![Run {
                weight,
                stored,
                offset,
                nibble: 0,
                len: count,
                index: 0,
                index_stride: 1,
            }];
        }
        let stride = i64::try_from(self.cols).unwrap_or(i64::MAX);
        (0..self.cols)
            .map(|j| Run {
                weight,
                stored,
                offset: offset + j * self.rows * self.size as u64,
                nibble: 0,
                len: self.rows,
                index: j,
                index_stride: stride,
            })
            .collect()
    }
}

/// Why a tensor cannot be searched at all, before any form is considered.
fn precheck(t: &RefTensor, opts: &LocateOptions) -> Option<MissReason> {
    let count = super::reference::element_count(&t.shape);
    let expected = count.and_then(|c| t.dtype.bytes_for(c));
    if expected != Some(t.data.len() as u64) {
        return Some(MissReason::Unsupported {
            why: format!(
                "holds {} bytes, which does not match shape {:?} of {}",
                t.data.len(),
                t.shape,
                t.dtype
            ),
        });
    }
    let count = count.unwrap_or(0);
    if count < opts.min_elements.max(1) {
        return Some(MissReason::TooSmall {
            count,
            min: opts.min_elements.max(1),
        });
    }
    let size = (t.dtype.bits() / 8).max(1) as usize;
    let first = &t.data[..size];
    if t.data.chunks_exact(size).all(|c| c == first) {
        return Some(MissReason::AllEqual);
    }
    None
}

/// The needle for `form` of tensor `index`, or `None` when the form does not apply or could not be
/// told apart from a constant run (a float32 tensor whose fp16 form is all zeros, say).
fn needle<'a>(index: usize, t: &'a RefTensor, form: Form) -> Option<Needle<'a>> {
    let count = t.count();
    if form.converts() && t.dtype != DataType::Float {
        return None;
    }
    let (rows, cols) = if form.is_transposed() {
        // A transpose of a vector, or of a packed type (nibble order), is not a new layout.
        match t.shape.as_slice() {
            &[r, c] if r > 1 && c > 1 && !t.dtype.is_packed() => (r, c),
            _ => return None,
        }
    } else {
        (0, 0)
    };
    let stored = form.stored(t.dtype);
    let size = (stored.bits() / 8).max(1) as usize;
    let len = stored.bytes_for(count)?;
    let mut n = Needle {
        tensor: index,
        t,
        form,
        size,
        len,
        rows,
        cols,
        anchor_at: 0,
    };
    if len < 8 {
        return None;
    }
    if form.converts() {
        let mut first = [0u8; 2];
        let mut e = [0u8; 2];
        n.element(0, &mut first);
        let constant = (1..count).all(|s| {
            n.element(s, &mut e);
            e == first
        });
        if constant {
            return None;
        }
    }
    n.anchor_at = choose_anchor(&n);
    Some(n)
}

/// Picks the 8-byte window (element-aligned) with the most distinct byte values among the first
/// elements and some spread over the whole form, so runs of zeros or padding rows (an embedding's
/// row 0) do not become the anchor and make every zero in the engine a candidate.
fn choose_anchor(n: &Needle) -> u64 {
    let size = n.size as u64;
    let last = (n.len - 8) / size; // last element index whose window fits
    let spread = (0..64).map(|k| k * last / 63);
    let mut best = (0usize, 0u64);
    let mut w = [0u8; 8];
    for e in (0..64.min(last + 1)).chain(spread) {
        let at = e * size;
        n.bytes_at(at, &mut w);
        let mut seen = [false; 256];
        let distinct = w
            .iter()
            .filter(|&&b| !std::mem::replace(&mut seen[b as usize], true))
            .count();
        if distinct > best.0 || (distinct == best.0 && at < best.1) {
            best = (distinct, at);
        }
    }
    best.1
}

const HASH_K: u64 = 0x9E37_79B9_7F4A_7C15;

/// Anchors are 8 bytes of weight data, already close to random, and the map is only consulted
/// after the bitset said yes; a multiply is all the hashing they need (SipHash costs more than
/// the rest of the hit path).
#[derive(Default, Clone, Copy)]
struct MulHasher(u64);

impl std::hash::Hasher for MulHasher {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = (self.0.rotate_left(8) ^ u64::from(b)).wrapping_mul(HASH_K);
        }
    }
    fn write_u64(&mut self, v: u64) {
        self.0 = (self.0 ^ v).wrapping_mul(HASH_K);
    }
}

type AnchorMap = HashMap<u64, Vec<u32>, std::hash::BuildHasherDefault<MulHasher>>;

/// Anchors of every needle: a bitset to reject most engine offsets with one load, then a map.
struct Index {
    bits: u32,
    bitset: Vec<u64>,
    map: AnchorMap,
}

impl Index {
    fn new(needles: &[Needle]) -> Index {
        // About 256 bits per anchor keeps chance hits under 0.5%; capped at 2^24 bits (2 MiB) so
        // the bitset stays in cache.
        let want = (needles.len() as u64 * 256).next_power_of_two();
        let bits = want.trailing_zeros().clamp(16, 24);
        let mut bitset = vec![0u64; 1usize << (bits - 6)];
        let mut map = AnchorMap::with_capacity_and_hasher(needles.len(), Default::default());
        let mut w = [0u8; 8];
        for (i, n) in needles.iter().enumerate() {
            n.bytes_at(n.anchor_at, &mut w);
            let key = u64::from_le_bytes(w);
            let h = (key.wrapping_mul(HASH_K) >> (64 - bits)) as usize;
            bitset[h >> 6] |= 1 << (h & 63);
            map.entry(key).or_default().push(i as u32);
        }
        Index { bits, bitset, map }
    }

    /// Verified (needle, start offset) pairs for anchors at engine offsets `[from, to)`.
    fn scan(&self, engine: &[u8], needles: &[Needle], from: usize, to: usize) -> Vec<(u32, u64)> {
        let mut out = Vec::new();
        let shift = 64 - self.bits;
        let end = to.min(engine.len().saturating_sub(7));
        for i in from..end {
            let key = u64::from_le_bytes(engine[i..i + 8].try_into().unwrap_or([0; 8]));
            let h = (key.wrapping_mul(HASH_K) >> shift) as usize;
            if self.bitset[h >> 6] & (1 << (h & 63)) == 0 {
                continue;
            }
            let Some(ids) = self.map.get(&key) else {
                continue;
            };
            for &id in ids {
                let n = &needles[id as usize];
                let Some(start) = (i as u64).checked_sub(n.anchor_at) else {
                    continue;
                };
                let Some(stop) = start
                    .checked_add(n.len)
                    .filter(|&s| s <= engine.len() as u64)
                else {
                    continue;
                };
                if n.matches(&engine[start as usize..stop as usize]) {
                    out.push((id, start));
                }
            }
        }
        out
    }
}

/// Searches `engine` for every tensor of `refs`. Runs name the tensor's index in `refs` as their
/// `weight`. Pure: no files, no threads left behind, deterministic output.
pub fn locate(engine: &[u8], refs: &[RefTensor], opts: &LocateOptions) -> LocateReport {
    let mut report = LocateReport::default();
    let mut needles = Vec::new();
    let mut searched: Vec<Vec<Form>> = vec![Vec::new(); refs.len()];
    let mut excluded: Vec<Option<MissReason>> = vec![None; refs.len()];
    for (i, t) in refs.iter().enumerate() {
        if let Some(why) = precheck(t, opts) {
            excluded[i] = Some(why);
            continue;
        }
        for &form in &opts.forms {
            if let Some(n) = needle(i, t, form) {
                searched[i].push(form);
                needles.push(n);
            }
        }
        if searched[i].is_empty() {
            // Every form shorter than an anchor: only possible for tiny packed tensors.
            excluded[i] = Some(MissReason::TooSmall {
                count: t.count(),
                min: opts.min_elements,
            });
        }
    }

    let mut hits: Vec<(u32, u64)> = Vec::new();
    if !needles.is_empty() && engine.len() >= 8 {
        let index = Index::new(&needles);
        let threads = match opts.threads {
            // Small engines are not worth a thread each: 16 MiB per thread at least.
            0 => std::thread::available_parallelism()
                .map(|n| n.get())
                .unwrap_or(1)
                .min(engine.len().div_ceil(16 << 20)),
            n => n.min(engine.len()),
        }
        .max(1);
        let chunk = engine.len().div_ceil(threads);
        std::thread::scope(|s| {
            let handles: Vec<_> = (0..threads)
                .map(|k| {
                    let (index, needles) = (&index, &needles);
                    s.spawn(move || index.scan(engine, needles, k * chunk, (k + 1) * chunk))
                })
                .collect();
            for h in handles {
                // A scan thread only indexes checked ranges; if one panicked anyway, that is a bug
                // and re-raising it keeps the panic (exit 101) rather than a silent partial result.
                match h.join() {
                    Ok(v) => hits.extend(v),
                    Err(p) => std::panic::resume_unwind(p),
                }
            }
        });
    }
    hits.sort_unstable_by_key(|&(id, start)| {
        (
            needles[id as usize].tensor,
            start,
            needles[id as usize].form,
        )
    });

    let mut per_tensor: Vec<Vec<(Form, u64, u64, u32)>> = vec![Vec::new(); refs.len()];
    for (id, start) in hits {
        let n = &needles[id as usize];
        let stored = n.form.stored(n.t.dtype);
        let list = &mut per_tensor[n.tensor];
        // A symmetric matrix matches verbatim and transposed at the same place: one copy, the
        // simpler form (sorted first).
        if list
            .iter()
            .any(|&(f, s, _, _)| s == start && f.stored(n.t.dtype) == stored)
        {
            continue;
        }
        list.push((n.form, start, n.len, id));
    }

    for (i, t) in refs.iter().enumerate() {
        if let Some(why) = excluded[i].take() {
            report.missing.push(Missing {
                name: t.name.clone(),
                reason: why,
            });
            continue;
        }
        let occ = &per_tensor[i];
        if occ.is_empty() {
            report.missing.push(Missing {
                name: t.name.clone(),
                reason: MissReason::NotFound {
                    forms: std::mem::take(&mut searched[i]),
                },
            });
            continue;
        }
        let overlapping = occ.windows(2).any(|w| w[0].1 + w[0].2 > w[1].1);
        if overlapping || occ.len() > opts.max_copies {
            report.missing.push(Missing {
                name: t.name.clone(),
                reason: MissReason::Ambiguous {
                    copies: occ.len(),
                    overlapping,
                },
            });
            continue;
        }
        let weight = u32::try_from(i).unwrap_or(u32::MAX);
        let placements = occ
            .iter()
            .map(|&(form, offset, bytes, id)| Placement {
                form,
                offset,
                bytes,
                runs: needles[id as usize].runs(weight, offset),
            })
            .collect();
        report.found.push(Found {
            index: i,
            name: t.name.clone(),
            placements,
        });
    }
    report
}

#[cfg(test)]
mod tests {
    use super::*;

    fn f32_tensor(name: &str, shape: &[u64], vals: &[f32]) -> RefTensor {
        RefTensor {
            name: name.into(),
            dtype: DataType::Float,
            shape: shape.to_vec(),
            data: vals.iter().flat_map(|x| x.to_le_bytes()).collect(),
        }
    }

    fn vals(n: usize, seed: f32) -> Vec<f32> {
        (0..n)
            .map(|i| seed + (i as f32) * 0.37 - (i * i % 7) as f32 * 0.011)
            .collect()
    }

    /// An engine-like buffer: a header, filler, then `parts` at the given offsets.
    fn engine(len: usize, parts: &[(usize, Vec<u8>)]) -> Vec<u8> {
        let mut e: Vec<u8> = (0..len).map(|i| (i * 131 % 251) as u8).collect();
        e[..4].copy_from_slice(b"vtrt");
        for (at, b) in parts {
            e[*at..*at + b.len()].copy_from_slice(b);
        }
        e
    }

    fn opts() -> LocateOptions {
        LocateOptions {
            threads: 2,
            ..LocateOptions::default()
        }
    }

    #[test]
    fn bf16_conversion_rounds_to_nearest_even() {
        // 0x3F808000 lies halfway between bf16 0x3F80 and 0x3F81: ties go to the even 0x3F80.
        assert_eq!(
            bf16::from_f32(f32::from_bits(0x3F80_8000)).to_bits(),
            0x3F80
        );
        assert_eq!(
            bf16::from_f32(f32::from_bits(0x3F81_8000)).to_bits(),
            0x3F82
        );
        assert_eq!(
            bf16::from_f32(f32::from_bits(0x3F80_8001)).to_bits(),
            0x3F81
        );
        // fp16: 1 + 2^-11 is halfway between 1.0 and 1 + 2^-10.
        assert_eq!(f16::from_f32(1.0 + f32::powi(2.0, -11)).to_bits(), 0x3C00);
    }

    #[test]
    fn finds_verbatim_unaligned_and_converted_forms() {
        let a = f32_tensor("a", &[16], &vals(16, 0.5));
        let b = f32_tensor("b", &[12], &vals(12, -3.0));
        let c = f32_tensor("c", &[10], &vals(10, 7.25));
        let b16: Vec<u8> = vals(12, -3.0)
            .iter()
            .flat_map(|x| f16::from_f32(*x).to_le_bytes())
            .collect();
        let c16: Vec<u8> = vals(10, 7.25)
            .iter()
            .flat_map(|x| bf16::from_f32(*x).to_le_bytes())
            .collect();
        let e = engine(4096, &[(101, a.data.clone()), (1000, b16), (3001, c16)]);
        let r = locate(&e, &[a, b, c], &opts());
        assert!(r.missing.is_empty(), "{:?}", r.missing);
        let at: Vec<_> = r
            .found
            .iter()
            .map(|f| {
                (
                    f.name.as_str(),
                    f.placements[0].form,
                    f.placements[0].offset,
                )
            })
            .collect();
        assert_eq!(
            at,
            [
                ("a", Form::Verbatim, 101),
                ("b", Form::Fp16, 1000),
                ("c", Form::Bf16, 3001)
            ]
        );
        let run = r.found[1].placements[0].runs[0];
        assert_eq!(
            run,
            Run {
                weight: 1,
                stored: DataType::Half,
                offset: 1000,
                nibble: 0,
                len: 12,
                index: 0,
                index_stride: 1
            }
        );
    }

    #[test]
    fn transposed_runs_follow_the_layout_rules() {
        // [r=3, c=4] stored as [4, 3]: storage element j*3 + i is element i*4 + j.
        let v = vals(12, 1.0);
        let t = f32_tensor("w", &[3, 4], &v);
        let mut stored = Vec::new();
        for j in 0..4 {
            for i in 0..3 {
                stored.extend_from_slice(&v[i * 4 + j].to_le_bytes());
            }
        }
        let mut stored16 = Vec::new();
        for j in 0..4 {
            for i in 0..3 {
                stored16.extend_from_slice(&f16::from_f32(v[i * 4 + j]).to_le_bytes());
            }
        }
        let e = engine(2048, &[(200, stored.clone()), (1203, stored16)]);
        let r = locate(&e, &[t], &opts());
        let p = &r.found[0].placements;
        assert_eq!(p.len(), 2, "both copies kept: {p:?}");
        assert_eq!((p[0].form, p[0].offset), (Form::Transposed, 200));
        assert_eq!((p[1].form, p[1].offset), (Form::TransposedFp16, 1203));
        assert_eq!(p[0].runs.len(), 4);
        for (j, run) in p[0].runs.iter().enumerate() {
            assert_eq!(
                *run,
                Run {
                    weight: 0,
                    stored: DataType::Float,
                    offset: 200 + j as u64 * 12,
                    nibble: 0,
                    len: 3,
                    index: j as u64,
                    index_stride: 4,
                }
            );
            // Reading through the run gives back the reference element it names.
            for k in 0..run.len {
                let idx = run.index_at(k) as usize;
                let off = (run.offset + k * 4) as usize;
                assert_eq!(&e[off..off + 4], &v[idx].to_le_bytes());
            }
        }
        assert_eq!(p[1].runs[3].offset, 1203 + 3 * 3 * 2);
    }

    #[test]
    fn small_constant_and_absent_tensors_are_not_placed() {
        let tiny = f32_tensor("tiny", &[4], &[1.0, 2.0, 3.0, 4.0]);
        let zeros = f32_tensor("zeros", &[64], &[0.0; 64]);
        let empty = f32_tensor("empty", &[0, 3], &[]);
        let absent = f32_tensor("absent", &[32], &vals(32, 9.0));
        let bad = RefTensor {
            data: vec![0; 5],
            ..f32_tensor("bad", &[2], &[1.0, 2.0])
        };
        let mut e = engine(1024, &[(100, tiny.data.clone())]);
        e[500..800].fill(0);
        let r = locate(&e, &[tiny, zeros, empty, absent, bad], &opts());
        assert!(r.found.is_empty());
        let reasons: Vec<_> = r
            .missing
            .iter()
            .map(|m| (m.name.as_str(), &m.reason))
            .collect();
        assert_eq!(
            reasons[0],
            ("tiny", &MissReason::TooSmall { count: 4, min: 8 })
        );
        assert_eq!(reasons[1], ("zeros", &MissReason::AllEqual));
        assert_eq!(
            reasons[2],
            ("empty", &MissReason::TooSmall { count: 0, min: 8 })
        );
        assert!(
            matches!(reasons[3].1, MissReason::NotFound { forms } if forms == &[Form::Verbatim, Form::Fp16, Form::Bf16])
        );
        assert!(matches!(reasons[4].1, MissReason::Unsupported { .. }));
    }

    #[test]
    fn copies_are_kept_and_too_many_or_overlapping_are_ambiguous() {
        let a = f32_tensor("a", &[8], &vals(8, 2.0));
        let e = engine(1024, &[(64, a.data.clone()), (512, a.data.clone())]);
        let r = locate(&e, std::slice::from_ref(&a), &opts());
        let offs: Vec<_> = r.found[0].placements.iter().map(|p| p.offset).collect();
        assert_eq!(offs, [64, 512]);
        let r = locate(
            &e,
            std::slice::from_ref(&a),
            &LocateOptions {
                max_copies: 1,
                ..opts()
            },
        );
        assert_eq!(
            r.missing[0].reason,
            MissReason::Ambiguous {
                copies: 2,
                overlapping: false
            }
        );
        // Periodic data: [x y x y x y x y] found at two overlapping offsets.
        let p = f32_tensor("p", &[8], &[1.5, 2.5, 1.5, 2.5, 1.5, 2.5, 1.5, 2.5]);
        let mut data = p.data.clone();
        data.extend_from_slice(&p.data[..8]);
        let e = engine(1024, &[(128, data)]);
        let r = locate(&e, &[p], &opts());
        assert_eq!(
            r.missing[0].reason,
            MissReason::Ambiguous {
                copies: 2,
                overlapping: true
            }
        );
    }

    #[test]
    fn anchor_avoids_leading_zeros() {
        let mut v = vec![0.0f32; 200];
        v[150..].copy_from_slice(&vals(50, 4.0));
        let t = f32_tensor("emb", &[200], &v);
        let n = needle(0, &t, Form::Verbatim).unwrap();
        assert!(n.anchor_at >= 4 * 149, "anchor at {}", n.anchor_at);
        // And the tensor is still found whole, not at some other run of zeros.
        let mut e = engine(8192, &[(4000, t.data.clone())]);
        e[100..2000].fill(0);
        let r = locate(&e, &[t], &opts());
        assert_eq!(r.found[0].placements.len(), 1);
        assert_eq!(r.found[0].placements[0].offset, 4000);
    }

    #[test]
    fn every_offset_is_scanned_across_thread_boundaries() {
        let a = f32_tensor("a", &[64], &vals(64, 0.1));
        for at in [0usize, 1, 4093, 4095, 8192 - 256] {
            let e = engine(8192, &[(at, a.data.clone())]);
            for threads in [1, 2, 3, 7] {
                // Force several threads on a small buffer through the chunking path.
                let r = locate(
                    &e,
                    std::slice::from_ref(&a),
                    &LocateOptions { threads, ..opts() },
                );
                assert_eq!(r.found.len(), 1, "at {at}, {threads} threads");
                assert_eq!(r.found[0].placements[0].offset, at as u64);
            }
        }
    }
}
