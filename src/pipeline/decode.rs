//! Finding the markers: which bytes of the serialized plan hold which element, in what dtype.
//!
//! Input: the zero baseline and one serialization per marker pass, all of one length (each made by
//! a fresh instance after one refit, so they share a layout). Output: runs of stored elements and
//! the byte ranges that changed with the markers but hold no decodable element (fused or folded
//! weights, checksums, ...).
//!
//! An element is *valid* at a position in a given storage interpretation when its bytes are zero in
//! the baseline, every pass holds a marker of that storage's code book there, the digits form an
//! identity in use, and that identity's weight may be stored that way. The code books make wrong
//! interpretations rare (see `code.rs`); what remains is settled by tiling: at each changed byte not
//! yet explained, every interpretation whose element covers that byte is tried, and the one whose
//! run of consecutive valid elements covers the most bytes (up to [`LOOKAHEAD_BYTES`]) wins, the
//! wider dtype on a tie. A real stored buffer yields a run as long as the buffer; a misreading of
//! someone else's bytes breaks within an element or two. The winning run is then followed to its
//! end. This is linear in the plan size and needs no per-byte state.

use super::code::{self, Class, Store};
use super::engine::WeightSpec;
use super::ids::IdSpace;
use super::layout::{Run, RunBuilder};

/// How far (in bytes) a candidate interpretation is followed when comparing candidates.
pub const LOOKAHEAD_BYTES: u64 = 256;

/// Elements [`Decoder::follow`] decodes at once: enough to amortise the scan, small enough
/// for its arrays to stay in L1.
const FOLLOW_CHUNK: usize = 256;

/// Scratch arrays of [`Decoder::follow_float`] (4 KB, on the stack); see `float_chunk`.
struct FloatChunk {
    glo: [u32; FOLLOW_CHUNK],
    ghi: [u32; FOLLOW_CHUNK],
    bad: [u32; FOLLOW_CHUNK],
    eps: [u32; FOLLOW_CHUNK],
}

impl FloatChunk {
    fn new() -> FloatChunk {
        let z = [0; FOLLOW_CHUNK];
        FloatChunk { glo: z, ghi: z, bad: z, eps: z }
    }

    /// Identity of element `i`: pass 4 onwards start at bit 31.
    #[inline]
    fn g(&self, i: usize) -> u64 {
        u64::from(self.glo[i]) | (u64::from(self.ghi[i]) << 31)
    }
}

/// What decoding found, in the coordinates of the images it was given.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Decoded {
    /// Runs in position order.
    pub runs: Vec<Run>,
    /// Byte ranges `[start, end)` that changed between the baseline and some pass but belong to no
    /// decoded element, in order.
    pub unexplained: Vec<(u64, u64)>,
}

impl Decoded {
    pub fn unexplained_bytes(&self) -> u64 {
        self.unexplained.iter().map(|(a, b)| b - a).sum()
    }
}

/// The baseline and the marker passes.
pub struct Images<'a> {
    pub base: &'a [u8],
    pub passes: Vec<&'a [u8]>,
}

struct Decoder<'a> {
    img: &'a Images<'a>,
    weights: &'a [WeightSpec],
    ids: &'a IdSpace,
    len_nibbles: u64,
}

/// One decoded element.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Elem {
    weight: u32,
    index: u64,
}

impl<'a> Decoder<'a> {
    /// The element stored at nibble position `n` when read as `s`, if valid.
    #[inline]
    fn element(&self, s: Store, n: u64) -> Option<Elem> {
        let size = s.nibbles();
        if n.checked_add(size)? > self.len_nibbles {
            return None;
        }
        if s == Store::Nibble {
            return self.nibble_element(n);
        }
        if !n.is_multiple_of(2) {
            return None;
        }
        let off = (n / 2) as usize;
        let nb = (size / 2) as usize;
        let base = &self.img.base[off..off + nb];
        if base.iter().any(|b| *b != 0) {
            return None;
        }
        let class = s.class();
        let mut g: u64 = 0;
        let mut eps_pass0 = false;
        match s {
            Store::F32 | Store::F16 | Store::Bf16 => {
                let mut scale: u64 = 1;
                for (p, img) in self.img.passes.iter().enumerate() {
                    let b = &img[off..off + nb];
                    let d = match s {
                        Store::F32 => {
                            let (d, eps) = code::decode_f32(u32::from_le_bytes([b[0], b[1], b[2], b[3]]))?;
                            if eps {
                                if p != 0 {
                                    return None;
                                }
                                eps_pass0 = true;
                            }
                            d
                        }
                        Store::F16 => code::decode_f16(u16::from_le_bytes([b[0], b[1]]))?,
                        _ => code::decode_bf16(u16::from_le_bytes([b[0], b[1]]))?,
                    };
                    if p == 0 && d >= code::FLOAT_FIRST_BASE {
                        return None;
                    }
                    g = g.checked_add(d.checked_mul(scale)?)?;
                    scale = scale.saturating_mul(if p == 0 { code::FLOAT_FIRST_BASE } else { code::FLOAT_BASE });
                }
            }
            Store::Byte => {
                let mut scale: u64 = 1;
                for img in &self.img.passes {
                    let d = code::decode_byte(img[off])?;
                    g = g.checked_add(d.checked_mul(scale)?)?;
                    scale = scale.saturating_mul(code::BYTE_BASE);
                }
            }
            Store::I32 | Store::I64 => {
                let mut m0 = None;
                for (p, img) in self.img.passes.iter().enumerate() {
                    let b = &img[off..off + nb];
                    let v = if nb == 4 {
                        i64::from(i32::from_le_bytes([b[0], b[1], b[2], b[3]]))
                    } else {
                        i64::from_le_bytes(b.try_into().ok()?)
                    };
                    let m = if p == 0 { v.checked_neg()? } else { v };
                    if m < code::WIDE_OFFSET as i64 || m0.is_some_and(|m0| m0 != m) {
                        return None;
                    }
                    m0 = Some(m);
                }
                g = m0? as u64 - code::WIDE_OFFSET;
            }
            Store::Bool => {
                let mut bits: u64 = 0;
                for (p, img) in self.img.passes.iter().enumerate() {
                    match img[off] {
                        0 => {}
                        1 => bits |= 1u64.checked_shl(p as u32)?,
                        _ => return None,
                    }
                }
                g = bits.checked_sub(1)?;
            }
            Store::Nibble => unreachable!("handled above"),
        }
        let (weight, index) = self.ids.lookup(class, g, self.weights)?;
        let refit = self.weights[weight as usize].dtype;
        if !s.holds(refit) {
            return None;
        }
        if s == Store::F32 {
            // fp32 refit values carry the epsilon in pass 0, so fp32 storage of them must show it;
            // fp16/bf16 refit values cannot carry it, so their fp32 copies must not.
            let want = refit == crate::dtype::DataType::Float;
            if eps_pass0 != want {
                return None;
            }
        }
        Some(Elem { weight, index })
    }

    fn nibble_element(&self, n: u64) -> Option<Elem> {
        let off = (n / 2) as usize;
        let shift = (n % 2) * 4;
        let nib = |b: u8| (b >> shift) & 0xF;
        if nib(self.img.base[off]) != 0 {
            return None;
        }
        let mut g: u64 = 0;
        let mut scale: u64 = 1;
        for img in &self.img.passes {
            let d = code::decode_nibble(nib(img[off]))?;
            g = g.checked_add(d.checked_mul(scale)?)?;
            scale = scale.saturating_mul(code::NIBBLE_BASE);
        }
        let (weight, index) = self.ids.lookup(Class::Nibble, g, self.weights)?;
        Store::Nibble.holds(self.weights[weight as usize].dtype).then_some(Elem { weight, index })
    }

    /// Nibbles covered by consecutive valid elements of `s` from `n`, following at most `cap`
    /// nibbles.
    fn coverage(&self, s: Store, n: u64, cap: u64) -> u64 {
        let size = s.nibbles();
        let mut at = n;
        while at - n < cap && self.element(s, at).is_some() {
            at += size;
        }
        at - n
    }

    /// Pushes every valid element of `s` from nibble `n` on (the first one is valid) until the
    /// first invalid one, whose position is returned. Exactly `while let Some(e) =
    /// self.element(s, n) { out.push(..); n += size }`, which is what [`Self::follow_scalar`] does;
    /// float stores (nearly all of a real plan's bytes) take [`Self::follow_float`], which gets
    /// the same pushes an order of magnitude faster.
    fn follow(&self, s: Store, n: u64, out: &mut RunBuilder) -> u64 {
        match s {
            // The bulk decoder ORs digits into place (the float bases are powers of two); with
            // more than 7 passes an identity could overflow u64, which `element` rejects by
            // checked arithmetic: leave those to it.
            Store::F32 | Store::F16 | Store::Bf16 if self.img.passes.len() <= 7 => self.follow_float(s, n, out),
            _ => self.follow_scalar(s, n, out),
        }
    }

    fn follow_scalar(&self, s: Store, mut n: u64, out: &mut RunBuilder) -> u64 {
        while let Some(e) = self.element(s, n) {
            out.push(e.weight, s.stored_dtype(self.weights[e.weight as usize].dtype), n, e.index);
            n += s.nibbles();
        }
        n
    }

    /// [`Self::follow`] for fp32/fp16/bf16 elements, in chunks of [`FOLLOW_CHUNK`]:
    ///
    /// 1. `float_chunk` decodes the chunk's identities and validity with straight-line loops over
    ///    fixed-size arrays, pass by pass, with no early exit, so the compiler vectorises them
    ///    (the per-element `element` pays for bounds checks, a branch per pass and a binary
    ///    search per element);
    /// 2. a scan then walks the chunk. Elements that continue the last run (same weight, the
    ///    run's index stride, so the identity is predicted) are counted in a tight loop and added
    ///    to the run's length at once; elsewhere the weight is found by comparing the identity
    ///    with the current weight's id range (a binary search only when the weight changes) and
    ///    `RunBuilder::push` is called, which starts or continues runs exactly as it always does.
    fn follow_float(&self, s: Store, n: u64, out: &mut RunBuilder) -> u64 {
        debug_assert!(n.is_multiple_of(2), "float elements start on a byte");
        let esize = (s.nibbles() / 2) as usize;
        let stored = s.stored_dtype(crate::dtype::DataType::Float);
        let len = self.img.base.len();
        let mut off = (n / 2) as usize;
        let mut chunk = FloatChunk::new();
        // The current weight: its id range [lo, hi), number, and whether its fp32 copies must
        // carry the epsilon (pass-0 epsilon flag wanted: 1 for an fp32 refit dtype).
        let mut cur: Option<(u64, u64, u32, u32)> = None;
        // When the last run in `out` is of the current weight and has a stride (two elements or
        // more): the identity the next element must have to extend it, and the identity stride.
        // `pending` elements have been taken into that run but not yet added to its length.
        let mut expect: Option<(u64, i64)> = None;
        let mut pending: u64 = 0;
        'chunks: loop {
            let m = ((len - off) / esize).min(FOLLOW_CHUNK);
            if m == 0 {
                break;
            }
            self.float_chunk(s, off, m, &mut chunk);
            let (bad, eps) = (&chunk.bad[..m], &chunk.eps[..m]);
            let mut i = 0;
            while i < m {
                // Fast path: the run goes on.
                if let (Some((mut e, stride)), Some((lo, hi, _, want))) = (expect, cur) {
                    let check_eps = s == Store::F32;
                    let start = i;
                    while i < m && bad[i] == 0 && chunk.g(i) == e && e >= lo && e < hi && (!check_eps || eps[i] == want) {
                        e = e.wrapping_add_signed(stride);
                        i += 1;
                    }
                    if i > start {
                        pending += (i - start) as u64;
                        expect = Some((e, stride));
                        if i == m {
                            break;
                        }
                    }
                }
                if bad[i] != 0 {
                    off += i * esize;
                    break 'chunks;
                }
                let gi = chunk.g(i);
                let (lo, _, w, want_eps) = match cur {
                    Some(c) if gi >= c.0 && gi < c.1 => c,
                    _ => {
                        let Some((w, idx)) = self.ids.lookup(Class::Float, gi, self.weights) else {
                            off += i * esize;
                            break 'chunks;
                        };
                        let lo = gi - idx;
                        let spec = &self.weights[w as usize];
                        let c = (lo, lo + spec.count, w, u32::from(spec.dtype == crate::dtype::DataType::Float));
                        cur = Some(c);
                        c
                    }
                };
                // fp32 storage must show the epsilon exactly when the refit dtype is fp32.
                if s == Store::F32 && eps[i] != want_eps {
                    off += i * esize;
                    break 'chunks;
                }
                if pending > 0 {
                    out.runs.last_mut().expect("a run to extend").len += pending;
                    pending = 0;
                }
                out.push(w, stored, ((off + i * esize) * 2) as u64, gi - lo);
                let last = out.runs.last().expect("just pushed");
                expect = if last.len >= 2 {
                    u64::try_from(last.index_at(last.len)).ok().and_then(|x| x.checked_add(lo)).map(|e| (e, last.index_stride))
                } else {
                    None
                };
                i += 1;
            }
            off += m * esize;
        }
        if pending > 0 {
            out.runs.last_mut().expect("a run to extend").len += pending;
        }
        (off * 2) as u64
    }

    /// Decodes `m` (at most [`FOLLOW_CHUNK`]) consecutive `s` elements from byte `off` into
    /// `c` (see [`decode_float_chunk`]). Whole chunks are decoded in place; the last elements of
    /// the image are copied to zero-padded chunks first (padding decodes as invalid, and the
    /// scan stops at `m` anyway), so one fixed-size loop serves both.
    fn float_chunk(&self, s: Store, off: usize, m: usize, c: &mut FloatChunk) {
        let esize = (s.nibbles() / 2) as usize;
        let n = esize * FOLLOW_CHUNK;
        let FloatChunk { glo, ghi, bad, eps } = c;
        if m == FOLLOW_CHUNK {
            let passes = self.img.passes.iter().map(|p| &p[off..off + n]);
            decode_float_chunk(s, &self.img.base[off..off + n], passes, glo, ghi, bad, eps);
        } else {
            let pad = |img: &[u8]| {
                let mut v = vec![0u8; n];
                v[..esize * m].copy_from_slice(&img[off..off + esize * m]);
                v
            };
            let passes: Vec<Vec<u8>> = self.img.passes.iter().map(|p| pad(p)).collect();
            decode_float_chunk(s, &pad(self.img.base), passes.iter().map(|p| p.as_slice()), glo, ghi, bad, eps);
        }
    }

    /// First byte at or after `from` where some pass differs from the baseline.
    fn next_changed(&self, from: usize) -> Option<usize> {
        const CHUNK: usize = 4096;
        let base = self.img.base;
        let mut i = from;
        while i < base.len() {
            let end = (i + CHUNK).min(base.len());
            let mut first: Option<usize> = None;
            for img in &self.img.passes {
                if img[i..end] != base[i..end] {
                    let j = i + img[i..end].iter().zip(&base[i..end]).position(|(a, b)| a != b).unwrap_or(0);
                    first = Some(first.map_or(j, |f| f.min(j)));
                }
            }
            if first.is_some() {
                return first;
            }
            i = end;
        }
        None
    }
}

/// Decodes [`FOLLOW_CHUNK`] consecutive elements of float store `s` from `base` and the pass
/// images (each sliced to the chunk): `glo`/`ghi` the identity they spell, `bad[i]` 1 where they
/// are not valid markers at all (a non-zero baseline, a byte pattern outside the code book, a
/// negative pass-0 marker, the epsilon in a later pass), `eps[i]` 1 where an fp32 element carries
/// the epsilon in pass 0. The same checks as [`Decoder::element`] before its id lookup.
///
/// Written for the vectoriser: fixed trip counts over fixed-size arrays (no bounds checks), no
/// branch on the data, `u32` lanes throughout, outputs as separate `&mut` arguments (so the
/// compiler knows they alias nothing). The float bases are 128 then 256, so digit `p` of an
/// identity sits at bit `7 + 8 (p - 1)` and is ORed in rather than multiplied; identities are
/// kept as two `u32` halves, passes 0..4 in `glo` (bits 0..31) and passes 4.. in `ghi` (bits
/// 31..), joined by [`FloatChunk::g`].
#[inline(never)]
fn decode_float_chunk<'p>(
    s: Store,
    base: &[u8],
    passes: impl Iterator<Item = &'p [u8]>,
    glo: &mut [u32; FOLLOW_CHUNK],
    ghi: &mut [u32; FOLLOW_CHUNK],
    bad: &mut [u32; FOLLOW_CHUNK],
    eps: &mut [u32; FOLLOW_CHUNK],
) {
    const N: usize = FOLLOW_CHUNK;
    *glo = [0; N];
    *ghi = [0; N];
    *eps = [0; N];
    // Little-endian words of a chunk, copied to an aligned array first (a plain memcpy): loading
    // them in the loops below byte by byte is what the compiler does otherwise.
    fn words32(src: &[u8]) -> [u32; N] {
        let mut v = [0u32; N];
        for (d, x) in v.iter_mut().zip(src.chunks_exact(4)) {
            *d = u32::from_le_bytes([x[0], x[1], x[2], x[3]]);
        }
        v
    }
    fn words16(src: &[u8]) -> [u16; N] {
        let mut v = [0u16; N];
        for (d, x) in v.iter_mut().zip(src.chunks_exact(2)) {
            *d = u16::from_le_bytes([x[0], x[1]]);
        }
        v
    }
    if s == Store::F32 {
        let v = words32(base);
        for i in 0..N {
            bad[i] = u32::from(v[i] != 0);
        }
    } else {
        let v = words16(base);
        for i in 0..N {
            bad[i] = u32::from(v[i] != 0);
        }
    }
    for (p, src) in passes.enumerate() {
        let first = u32::from(p == 0);
        let (g, shift) = match p {
            0 => (&mut *glo, 0),
            1..=3 => (&mut *glo, 7 + 8 * (p as u32 - 1)),
            _ => (&mut *ghi, 8 * (p as u32 - 4)),
        };
        match s {
            Store::F32 => {
                let v = words32(src);
                for i in 0..N {
                    let low = v[i] & 0xFFFF;
                    let hi = v[i] >> 16;
                    let low_eps = u32::from(low == code::EPSILON);
                    // Low half: 0, or the epsilon in pass 0 only. High half: a bf16 marker,
                    // positive in pass 0.
                    let ok = (u32::from(low == 0) | (first & low_eps))
                        & u32::from(hi & 0x7F80 == 0x4300)
                        & !(first & (hi >> 15));
                    bad[i] |= ok ^ 1;
                    eps[i] |= first & low_eps;
                    g[i] |= ((hi & 0x7F) | ((hi >> 8) & 0x80)) << shift;
                }
            }
            Store::F16 => {
                let w = words16(src);
                for i in 0..N {
                    let v = u32::from(w[i]);
                    let ok = u32::from(v & 0x7C07 == 0x5800) & !(first & (v >> 15));
                    bad[i] |= ok ^ 1;
                    g[i] |= (((v >> 3) & 0x7F) | ((v >> 8) & 0x80)) << shift;
                }
            }
            Store::Bf16 => {
                let w = words16(src);
                for i in 0..N {
                    let v = u32::from(w[i]);
                    let ok = u32::from(v & 0x7F80 == 0x4300) & !(first & (v >> 15));
                    bad[i] |= ok ^ 1;
                    g[i] |= ((v & 0x7F) | ((v >> 8) & 0x80)) << shift;
                }
            }
            _ => unreachable!("float stores only"),
        }
    }
}

/// Decodes the marker passes. `progress` is called now and then with the bytes done; when it
/// returns false, decoding stops and `None` is returned.
pub fn decode(
    images: &Images<'_>,
    weights: &[WeightSpec],
    ids: &IdSpace,
    progress: &mut dyn FnMut(u64) -> bool,
) -> Option<Decoded> {
    let len = images.base.len();
    debug_assert!(images.passes.iter().all(|p| p.len() == len));
    let dec = Decoder { img: images, weights, ids, len_nibbles: len as u64 * 2 };
    let mut out = RunBuilder::default();
    let mut unexplained: Vec<(u64, u64)> = Vec::new();
    // Nibble position up to which everything is explained.
    let mut covered: u64 = 0;
    // The previous run: (store, nibble position of its last element), for taking one element back.
    let mut prev_last: Option<(Store, u64)> = None;
    let mut next_report = 0u64;
    let lookahead = LOOKAHEAD_BYTES * 2;

    while let Some(x) = dec.next_changed((covered / 2) as usize) {
        let x = x as u64;
        if x >= next_report {
            if !progress(x) {
                return None;
            }
            next_report = x + (64 << 20);
        }
        // The changed nibbles of byte x that are not yet explained.
        let lo = (2 * x).max(covered);
        if lo > 2 * x {
            // A packed run ended on this byte's low nibble: only the high nibble is left.
            let xi = x as usize;
            let high_changed = images.passes.iter().any(|p| (p[xi] ^ images.base[xi]) & 0xF0 != 0);
            if !high_changed {
                covered = 2 * x + 2;
                continue;
            }
        }
        // Best candidate so far: ((coverage, size, earlier start first), start, store).
        let mut best: Option<((u64, u64, std::cmp::Reverse<u64>), u64, Store)> = None;
        for s in Store::ALL {
            let size = s.nibbles();
            let step = if s == Store::Nibble { 1 } else { 2 };
            // Starts whose element covers a nibble of byte x at or after `lo`; one element of the
            // previous run may be taken back when a run starting inside it is better.
            let earliest = (lo + 1).saturating_sub(size);
            // A run may end a couple of elements too late (small code books read a neighbour's
            // bytes): a better candidate may start inside its last two elements.
            let floor = prev_last.map_or(covered, |(ps, last_n)| last_n.saturating_sub(ps.nibbles()).min(covered));
            let mut start = earliest.max(floor);
            if step == 2 && start % 2 == 1 {
                start += 1;
            }
            while start <= 2 * x + 1 {
                if start + size > lo && dec.element(s, start).is_some() {
                    let cov = dec.coverage(s, start, lookahead);
                    let overlaps_prev = start < covered;
                    // Taking the previous run's last element back needs a clearly better run: twice
                    // that element's size, and two elements of its own or much wider ones.
                    let popped = prev_last.map_or(0, |(ps, _)| ps.nibbles());
                    let overlap = covered.saturating_sub(start);
                    // ...or wider elements that take in the overlapped ones and explain more bytes
                    // after them (an int64 whose low half read as int32).
                    let clearly_better = (cov >= 2 * overlap && (cov >= 2 * size || size >= 4 * popped))
                        || (size >= popped && popped > 0 && cov >= overlap + popped && start + size >= covered);
                    if !overlaps_prev || clearly_better {
                        let key = (cov, size, std::cmp::Reverse(start));
                        if best.as_ref().is_none_or(|b| key > b.0) {
                            best = Some((key, start, s));
                        }
                    }
                }
                start += step;
            }
        }
        match best {
            None => {
                match unexplained.last_mut() {
                    Some(last) if last.1 == x => last.1 = x + 1,
                    _ => unexplained.push((x, x + 1)),
                }
                covered = covered.max(2 * x + 2);
            }
            Some((_, start, s)) => {
                let size = s.nibbles();
                while out.last_start().is_some_and(|n| n >= start) {
                    out.pop();
                }
                let n = dec.follow(s, start, &mut out);
                prev_last = Some((s, n - size));
                covered = n;
            }
        }
    }
    let _ = progress(len as u64);
    let (runs, dropped) = trim_boundary_duplicates(out.runs, weights);
    if !dropped.is_empty() {
        unexplained.extend(dropped);
        unexplained.sort_unstable();
        let mut merged: Vec<(u64, u64)> = Vec::with_capacity(unexplained.len());
        for (a, b) in unexplained {
            match merged.last_mut() {
                Some(last) if a <= last.1 => last.1 = last.1.max(b),
                _ => merged.push((a, b)),
            }
        }
        unexplained = merged;
    }
    Some(Decoded { runs, unexplained })
}

/// Nibble position of a run's first element and one past its last.
fn nib_span(r: &Run) -> (u64, u64) {
    let start = r.offset * 2 + u64::from(r.nibble);
    (start, start + r.len * u64::from(r.stored.bits() / 4))
}

/// A stored buffer's first or last element may be a neighbour's byte that happens to decode as an
/// element of the same weight (a checksum nibble before a packed buffer, say): the run extends one
/// element too far. Small code books (bytes, nibbles, bools) make this likely, large ones (floats,
/// int32/int64) do not. So for those small classes, when an element is seen twice and one sighting
/// sits at the very start or end of a block of touching runs while another sits inside a block,
/// the edge one is trimmed off. Nothing is lost: every copy of such a weight has one stored dtype.
fn trim_boundary_duplicates(mut runs: Vec<Run>, weights: &[WeightSpec]) -> (Vec<Run>, Vec<(u64, u64)>) {
    let mut sightings = vec![0u64; weights.len()];
    for r in &runs {
        sightings[r.weight as usize] += r.len;
    }
    let small_alphabet = |d: crate::dtype::DataType| matches!(Class::of(d), Class::Byte | Class::Nibble | Class::Bit);
    let dup: Vec<bool> =
        weights.iter().zip(&sightings).map(|(w, s)| *s > w.count && small_alphabet(w.dtype)).collect();
    if !dup.iter().any(|d| *d) {
        return (runs, Vec::new());
    }
    let n = runs.len();
    let touches = |a: &Run, b: &Run| a.weight == b.weight && a.stored == b.stored && nib_span(a).1 == nib_span(b).0;
    let block_start: Vec<bool> = (0..n).map(|i| i == 0 || !touches(&runs[i - 1], &runs[i])).collect();
    let block_end: Vec<bool> = (0..n).map(|i| i + 1 == n || !touches(&runs[i], &runs[i + 1])).collect();
    // Per duplicated weight and element: sightings at an edge, sightings inside.
    let mut edge: std::collections::HashMap<(u32, u64), u32> = std::collections::HashMap::new();
    let mut inner: std::collections::HashSet<(u32, u64)> = std::collections::HashSet::new();
    for (i, r) in runs.iter().enumerate() {
        if !dup[r.weight as usize] {
            continue;
        }
        for k in 0..r.len {
            let idx = r.index_at(k) as u64;
            let at_edge = (block_start[i] && k == 0) || (block_end[i] && k + 1 == r.len);
            if at_edge {
                *edge.entry((r.weight, idx)).or_default() += 1;
            } else {
                inner.insert((r.weight, idx));
            }
        }
    }
    let mut dropped = Vec::new();
    for i in 0..n {
        let r = runs[i];
        if !dup[r.weight as usize] || r.len == 0 {
            continue;
        }
        let size = u64::from(r.stored.bits() / 4);
        let (start, _) = nib_span(&r);
        let trim_first = block_start[i] && inner.contains(&(r.weight, r.index));
        let last_idx = r.index_at(r.len - 1) as u64;
        let trim_last = block_end[i] && r.len > u64::from(trim_first) && inner.contains(&(r.weight, last_idx));
        let mut t = r;
        if trim_first {
            dropped.push((start / 2, (start + size).div_ceil(2)));
            let ns = start + size;
            t = Run { offset: ns / 2, nibble: (ns % 2) as u8, len: r.len - 1, index: r.index_at(1).max(0) as u64, ..r };
        }
        if trim_last && t.len > 0 {
            let (_, end) = nib_span(&t);
            dropped.push(((end - size) / 2, end.div_ceil(2)));
            t.len -= 1;
        }
        if t.len == 1 {
            t.index_stride = 1;
        }
        runs[i] = t;
    }
    runs.retain(|r| r.len > 0);
    (runs, dropped)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dtype::DataType;
    use crate::pipeline::code::fill_markers;

    fn w(name: &str, dtype: DataType, count: u64) -> WeightSpec {
        WeightSpec { name: name.into(), dtype, count }
    }

    /// Builds baseline + pass images for weights stored verbatim (in their refit dtype) at the
    /// given byte offsets of a plan of `len` filler bytes.
    fn images(weights: &[WeightSpec], at: &[usize], len: usize) -> (Vec<u8>, Vec<Vec<u8>>, IdSpace) {
        let ids = IdSpace::new(weights);
        let filler: Vec<u8> = (0..len).map(|i| (i * 7 + 3) as u8).collect();
        let mut base = filler.clone();
        for (spec, off) in weights.iter().zip(at) {
            let n = spec.refit_bytes() as usize;
            base[*off..off + n].fill(0);
        }
        let mut passes = Vec::new();
        for p in 0..ids.passes {
            let mut img = base.clone();
            for (i, (spec, off)) in weights.iter().zip(at).enumerate() {
                let n = spec.refit_bytes() as usize;
                fill_markers(spec.dtype, ids.first[i].1, spec.count, p, &mut img[*off..off + n]);
            }
            passes.push(img);
        }
        (base, passes, ids)
    }

    fn run_decode(weights: &[WeightSpec], at: &[usize], len: usize) -> Decoded {
        let (base, passes, ids) = images(weights, at, len);
        let img = Images { base: &base, passes: passes.iter().map(|p| p.as_slice()).collect() };
        decode(&img, weights, &ids, &mut |_| true).unwrap()
    }

    #[test]
    fn verbatim_weights_of_every_dtype_decode_to_single_runs() {
        let mut ws = Vec::new();
        let mut at = Vec::new();
        let mut off = 16;
        for (i, d) in DataType::ALL.iter().enumerate() {
            let spec = w(&format!("w{i}"), *d, 300 + i as u64);
            at.push(off);
            off += spec.refit_bytes() as usize + 24;
            ws.push(spec);
        }
        let dec = run_decode(&ws, &at, off + 16);
        assert!(dec.unexplained.is_empty(), "{:?} {:?} {:#?}", dec.unexplained, at, dec.runs);
        assert_eq!(dec.runs.len(), ws.len(), "{:#?}", dec.runs);
        for (i, r) in dec.runs.iter().enumerate() {
            assert_eq!(r.weight as usize, i);
            assert_eq!((r.offset as usize, r.index, r.index_stride, r.len), (at[i], 0, 1, ws[i].count));
            assert_eq!(r.stored, ws[i].dtype);
        }
    }

    #[test]
    fn adjacent_buffers_of_different_dtypes_split_exactly() {
        // int8 right before fp16 right before fp32 right before int4: no gaps to help.
        let ws = vec![
            w("a", DataType::Int8, 33),
            w("b", DataType::Half, 17),
            w("c", DataType::Float, 9),
            w("d", DataType::Int4, 11),
            w("e", DataType::Bool, 5),
            w("f", DataType::Int8, 7),
        ];
        let mut at = Vec::new();
        let mut off = 8;
        for s in &ws {
            at.push(off);
            off += s.refit_bytes() as usize;
        }
        let dec = run_decode(&ws, &at, off + 8);
        let got: Vec<(u32, u64, u64)> = dec.runs.iter().map(|r| (r.weight, r.offset, r.len)).collect();
        let want: Vec<(u32, u64, u64)> =
            ws.iter().enumerate().map(|(i, s)| (i as u32, at[i] as u64, s.count)).collect();
        assert_eq!(got, want);
        assert!(dec.unexplained.is_empty());
    }

    #[test]
    fn changed_bytes_that_decode_to_nothing_are_reported() {
        let ws = vec![w("a", DataType::Float, 4)];
        let (base, mut passes, ids) = images(&ws, &[16], 64);
        // A "checksum" that changes with the markers.
        for (p, img) in passes.iter_mut().enumerate() {
            img[40] = 0x10 + p as u8;
            img[41] = 0x99;
        }
        let img = Images { base: &base, passes: passes.iter().map(|p| p.as_slice()).collect() };
        let dec = decode(&img, &ws, &ids, &mut |_| true).unwrap();
        assert_eq!(dec.runs.len(), 1);
        assert_eq!(dec.unexplained, vec![(40, 42)]);
    }

    #[test]
    fn a_stray_copy_of_a_found_element_is_not_a_copy() {
        // A 4-byte "max |x|" stat next to a buffer: equals one of the markers in every pass, and
        // in the original holds the max of the real values, not element 7.
        let ws = vec![w("a", DataType::Float, 40)];
        let (base, mut passes, ids) = images(&ws, &[16], 400);
        for img in passes.iter_mut() {
            let v: [u8; 4] = img[16 + 4 * 7..16 + 4 * 8].try_into().unwrap();
            img[300..304].copy_from_slice(&v);
        }
        let mut base = base;
        base[300..304].fill(0);
        let img = Images { base: &base, passes: passes.iter().map(|p| p.as_slice()).collect() };
        let dec = decode(&img, &ws, &ids, &mut |_| true).unwrap();
        assert_eq!(dec.runs.len(), 2, "{:?}", dec.runs);
        let mut original = base.clone();
        for i in 0..40u32 {
            original[16 + 4 * i as usize..20 + 4 * i as usize].copy_from_slice(&(i as f32).to_le_bytes());
        }
        original[300..304].copy_from_slice(&39f32.to_le_bytes());
        let got = &crate::pipeline::assemble::assemble(&ws, &dec.runs, &original).unwrap()[0];
        assert_eq!(got.values.as_deref(), Some(&original[16..176]));
        assert_eq!((got.strays, got.disagreements), (1, 0));
    }

    #[test]
    fn an_fp16_weight_stored_as_fp32_is_read_as_fp32() {
        let ws = vec![w("h", DataType::Half, 1)];
        let ids = IdSpace::new(&ws);
        let filler: Vec<u8> = (0..64u32).map(|i| (i * 37 + 11) as u8).collect();
        let mut base = filler.clone();
        base[20..24].fill(0);
        let mut passes = Vec::new();
        for p in 0..ids.passes {
            let mut img = base.clone();
            let mut m = [0u8; 2];
            fill_markers(DataType::Half, 0, 1, p, &mut m);
            let v = half::f16::from_bits(u16::from_le_bytes(m)).to_f32();
            img[20..24].copy_from_slice(&v.to_le_bytes());
            passes.push(img);
        }
        let img = Images { base: &base, passes: passes.iter().map(|p| p.as_slice()).collect() };
        let dec = decode(&img, &ws, &ids, &mut |_| true).unwrap();
        assert_eq!(dec.runs.len(), 1, "{:?}", dec.runs);
        assert_eq!((dec.runs[0].stored, dec.runs[0].offset), (DataType::Float, 20));
    }

    /// The bulk float decoder must push exactly what the element-by-element loop pushes, from
    /// every start, over images built to break it: buffers in every float store and order,
    /// weights switching mid-buffer, stray epsilons, corrupted digits and baselines, negative
    /// pass-0 markers, the image end inside an element.
    #[test]
    fn bulk_float_following_matches_element_by_element() {
        let mut seed = 0x9E37_79B9_7F4A_7C15u64;
        let mut rnd = move || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed
        };
        let mut three_passes = 0;
        for case in 0..40 {
            let n_weights = 1 + (rnd() % 5) as usize;
            let dts = [DataType::Float, DataType::Half, DataType::Bf16];
            let ws: Vec<WeightSpec> = (0..n_weights)
                .map(|i| w(&format!("w{i}"), dts[(rnd() % 3) as usize], 1 + rnd() % if case % 4 == 0 { 24_000 } else { 700 }))
                .collect();
            let ids = IdSpace::new(&ws);
            let passes = ids.passes as usize;
            three_passes += usize::from(passes >= 3);
            let len = 64 + ws.iter().map(|s| s.count as usize * 4 + 8).sum::<usize>() * 2;
            let mut base: Vec<u8> = (0..len).map(|_| rnd() as u8).collect();
            let mut imgs: Vec<Vec<u8>> = vec![base.clone(); passes];
            let mut at = 16 + (rnd() % 7) as usize;
            for (wi, spec) in ws.iter().enumerate() {
                let store = [Store::F32, Store::F16, Store::Bf16][(rnd() % 3) as usize];
                let esize = (store.nibbles() / 2) as usize;
                let n = spec.count as usize;
                // Verbatim, reversed, transposed-like (stride), or a weight split in two halves.
                let order: Vec<usize> = match rnd() % 4 {
                    0 => (0..n).collect(),
                    1 => (0..n).rev().collect(),
                    2 => {
                        let cols = 1 + (rnd() % 9) as usize;
                        (0..cols).flat_map(|c| (c..n).step_by(cols)).collect()
                    }
                    _ => (n / 2..n).chain(0..n / 2).collect(),
                };
                if at + esize * n > len {
                    break;
                }
                base[at..at + esize * n].fill(0);
                for (p, img) in imgs.iter_mut().enumerate() {
                    let mut m = vec![0u8; spec.refit_bytes() as usize];
                    fill_markers(spec.dtype, ids.first[wi].1, spec.count, p as u32, &mut m);
                    for (k, &idx) in order.iter().enumerate() {
                        let v = match spec.dtype {
                            DataType::Float => f32::from_le_bytes(m[4 * idx..4 * idx + 4].try_into().unwrap()),
                            DataType::Half => half::f16::from_bits(u16::from_le_bytes([m[2 * idx], m[2 * idx + 1]])).to_f32(),
                            _ => half::bf16::from_bits(u16::from_le_bytes([m[2 * idx], m[2 * idx + 1]])).to_f32(),
                        };
                        let dst = &mut img[at + esize * k..at + esize * (k + 1)];
                        match store {
                            Store::F32 => dst.copy_from_slice(&v.to_le_bytes()),
                            Store::F16 => dst.copy_from_slice(&half::f16::from_f32(v).to_bits().to_le_bytes()),
                            _ => dst.copy_from_slice(&half::bf16::from_f32(v).to_bits().to_le_bytes()),
                        }
                    }
                }
                at += esize * n + (rnd() % 3) as usize * 2;
            }
            // Damage: flipped bits in passes and baseline, epsilons moved, signs flipped.
            for _ in 0..(rnd() % 40) {
                let x = (rnd() as usize) % len;
                match rnd() % 5 {
                    0 => base[x] ^= 1 << (rnd() % 8),
                    1 => imgs[(rnd() as usize) % passes][x] ^= 0x80,
                    2 if x + 2 <= len => imgs[(rnd() as usize) % passes][x..x + 2].copy_from_slice(&(code::EPSILON as u16).to_le_bytes()),
                    3 => imgs[(rnd() as usize) % passes][x] = 0,
                    _ => imgs[(rnd() as usize) % passes][x] ^= 1 << (rnd() % 8),
                }
            }
            let cut = len - (rnd() % 3) as usize;
            let base = &base[..cut];
            let img = Images { base, passes: imgs.iter().map(|p| &p[..cut]).collect() };
            let dec = Decoder { img: &img, weights: &ws, ids: &ids, len_nibbles: cut as u64 * 2 };
            let mut compared = 0;
            for s in [Store::F32, Store::F16, Store::Bf16] {
                let valid_at: Vec<bool> = (0..cut as u64).map(|x| dec.element(s, 2 * x).is_some()).collect();
                let esize = (s.nibbles() / 2) as usize;
                for (x, &valid) in valid_at.iter().enumerate() {
                    let n = 2 * x as u64;
                    let run_start = valid && (x < esize || !valid_at[x - esize]);
                    // Following is linear in what it follows: from every run's first element
                    // and from a sample of others, or this test would be quadratic.
                    if !valid || !(run_start || rnd() % 97 == 0) {
                        continue;
                    }
                    // Something already in the builder that the first push may extend.
                    let mut a = RunBuilder::default();
                    if n >= 8 {
                        if let Some(e) = dec.element(s, n - s.nibbles()) {
                            a.push(e.weight, s.stored_dtype(ws[e.weight as usize].dtype), n - s.nibbles(), e.index);
                        }
                    }
                    let mut b = RunBuilder { runs: a.runs.clone() };
                    let end_a = dec.follow_scalar(s, n, &mut a);
                    let end_b = dec.follow_float(s, n, &mut b);
                    assert_eq!((end_b, &b.runs), (end_a, &a.runs), "case {case}, {s:?} from nibble {n}");
                    compared += 1;
                }
            }
            assert!(compared > 0, "case {case}: nothing to compare");
        }
        assert!(three_passes > 0, "no case needed a third pass");
    }
}
