//! Following a run: pushing every valid element from a start until the first invalid one, with
//! the bulk path for float stores (whole chunks decoded by vectorisable loops).

use super::super::code::{self, Class, Store};
use super::super::layout::RunBuilder;
use super::Decoder;

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
        FloatChunk {
            glo: z,
            ghi: z,
            bad: z,
            eps: z,
        }
    }

    /// Identity of element `i`: pass 4 onwards start at bit 31.
    #[inline]
    fn g(&self, i: usize) -> u64 {
        u64::from(self.glo[i]) | (u64::from(self.ghi[i]) << 31)
    }
}

impl<'a> Decoder<'a> {
    /// Pushes every valid element of `s` from nibble `n` on (the first one is valid) until the
    /// first invalid one, whose position is returned. Exactly `while let Some(e) =
    /// self.element(s, n) { out.push(..); n += size }`, which is what [`Self::follow_scalar`] does;
    /// float stores (nearly all of a real plan's bytes) take [`Self::follow_float`], which gets
    /// the same pushes an order of magnitude faster.
    pub(super) fn follow(&self, s: Store, n: u64, out: &mut RunBuilder) -> u64 {
        match s {
            // The bulk decoder ORs digits into place (the float bases are powers of two); with
            // more than 7 passes an identity could overflow u64, which `element` rejects by
            // checked arithmetic: leave those to it.
            Store::F32 | Store::F16 | Store::Bf16 if self.img.passes.len() <= 7 => {
                self.follow_float(s, n, out)
            }
            _ => self.follow_scalar(s, n, out),
        }
    }

    fn follow_scalar(&self, s: Store, mut n: u64, out: &mut RunBuilder) -> u64 {
        while let Some(e) = self.element(s, n) {
            out.push(
                e.weight,
                s.stored_dtype(self.weights[e.weight as usize].dtype),
                n,
                e.index,
            );
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
        // Byte positions are the plan's; the window ends at `len`.
        let len = self.origin + self.img.base.len();
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
            // A run of consecutive identities (a buffer stored verbatim) goes on through the
            // whole chunk when its bytes are the markers its identities were refitted to.
            if let (Some((e, 1)), Some((_, hi, _, want))) = (expect, cur) {
                if e + m as u64 <= hi && self.continues_verbatim(s, off, e, m, want == 1) {
                    pending += m as u64;
                    expect = Some((e + m as u64, 1));
                    off += m * esize;
                    continue;
                }
            }
            self.float_chunk(s, off, m, &mut chunk);
            let (bad, eps) = (&chunk.bad[..m], &chunk.eps[..m]);
            let mut i = 0;
            while i < m {
                // Fast path: the run goes on.
                if let (Some((mut e, stride)), Some((lo, hi, _, want))) = (expect, cur) {
                    let check_eps = s == Store::F32;
                    let start = i;
                    while i < m
                        && bad[i] == 0
                        && chunk.g(i) == e
                        && e >= lo
                        && e < hi
                        && (!check_eps || eps[i] == want)
                    {
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
                        let c = (
                            lo,
                            lo + spec.count,
                            w,
                            u32::from(spec.dtype == crate::dtype::DataType::Float),
                        );
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
                    u64::try_from(last.index_at(last.len))
                        .ok()
                        .and_then(|x| x.checked_add(lo))
                        .map(|e| (e, last.index_stride))
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

    /// Whether the `m` elements of float store `s` from byte `off` are valid and spell
    /// identities `e, e + 1, …` (fp32 ones with the pass-0 epsilon when `eps`): exactly when the
    /// baseline's bytes there are zero and every pass's are the markers of those identities,
    /// because a valid element's bytes are determined by its digits (every bit of an fp32, fp16
    /// or bf16 marker is either fixed by the code book or a digit bit, and the epsilon is wanted
    /// or not). Slice comparisons instead of decoding: pass 0's markers repeat every 128
    /// identities (a table), later passes' are constant for 128 identities at a time.
    fn continues_verbatim(&self, s: Store, off: usize, e: u64, m: usize, eps: bool) -> bool {
        let esize = (s.nibbles() / 2) as usize;
        let (o, n) = (off - self.origin, m * esize);
        const _: () = assert!(code::PASS0_TABLE_RUN >= FOLLOW_CHUNK);
        if !crate::pipeline::packed::is_zero(&self.img.base[o..o + n]) {
            return false;
        }
        let first = code::FLOAT_FIRST_BASE;
        for (p, img) in self.img.passes.iter().enumerate() {
            let got = &img[o..o + n];
            if p == 0 {
                let r = (e % first) as usize * esize;
                if got != &code::pass0_float_markers(s, eps)[r..r + n] {
                    return false;
                }
                continue;
            }
            let mut k = 0;
            while k < m {
                let g = e + k as u64;
                let seg = ((first - g % first) as usize).min(m - k);
                let d = code::float_digit(g, p as u32);
                let part = &got[k * esize..(k + seg) * esize];
                let differs = match s {
                    Store::F32 => {
                        let want = code::float_marker_f32(d, false);
                        part.chunks_exact(4).fold(0, |a, c| {
                            a | (u32::from_le_bytes([c[0], c[1], c[2], c[3]]) ^ want)
                        }) != 0
                    }
                    _ => {
                        let want = if s == Store::F16 {
                            code::float_marker_f16(d)
                        } else {
                            code::float_marker_bf16(d)
                        };
                        part.chunks_exact(2)
                            .fold(0, |a, c| a | (u16::from_le_bytes([c[0], c[1]]) ^ want))
                            != 0
                    }
                };
                if differs {
                    return false;
                }
                k += seg;
            }
        }
        true
    }

    /// Decodes `m` (at most [`FOLLOW_CHUNK`]) consecutive `s` elements from byte `off` into
    /// `c` (see [`decode_float_chunk`]). Whole chunks are decoded in place; the last elements of
    /// the image are copied to zero-padded chunks first (padding decodes as invalid, and the
    /// scan stops at `m` anyway), so one fixed-size loop serves both.
    fn float_chunk(&self, s: Store, off: usize, m: usize, c: &mut FloatChunk) {
        let off = off - self.origin;
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
            decode_float_chunk(
                s,
                &pad(self.img.base),
                passes.iter().map(|p| p.as_slice()),
                glo,
                ghi,
                bad,
                eps,
            );
        }
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

#[cfg(test)]
mod tests {
    use super::super::{Decoder, Images};
    use super::*;
    use crate::dtype::DataType;
    use crate::pipeline::code::fill_markers;
    use crate::pipeline::engine::WeightSpec;
    use crate::pipeline::ids::IdSpace;

    fn w(name: &str, dtype: DataType, count: u64) -> WeightSpec {
        WeightSpec {
            name: name.into(),
            dtype,
            count,
        }
    }

    /// Element `k` of refit buffer `m` (of float dtype `dtype`) as TensorRT would store it in
    /// `store`, into `dst`.
    fn store_marker(dtype: DataType, m: &[u8], k: usize, store: Store, dst: &mut [u8]) {
        let v = match dtype {
            DataType::Float => f32::from_le_bytes(m[4 * k..4 * k + 4].try_into().unwrap()),
            DataType::Half => {
                half::f16::from_bits(u16::from_le_bytes([m[2 * k], m[2 * k + 1]])).to_f32()
            }
            _ => half::bf16::from_bits(u16::from_le_bytes([m[2 * k], m[2 * k + 1]])).to_f32(),
        };
        match store {
            Store::F32 => dst.copy_from_slice(&v.to_le_bytes()),
            Store::F16 => dst.copy_from_slice(&half::f16::from_f32(v).to_bits().to_le_bytes()),
            _ => dst.copy_from_slice(&half::bf16::from_f32(v).to_bits().to_le_bytes()),
        }
    }

    /// The verbatim shortcut (whole chunks compared with the markers their identities were
    /// refitted to) must stop exactly where the element-by-element loop stops: long buffers in
    /// each float store, fp32 ones of fp32 and fp16 refit dtypes (epsilon or not), one byte
    /// changed at every distance from a chunk boundary, in the baseline or a pass.
    #[test]
    fn verbatim_chunks_stop_where_element_by_element_stops() {
        for (dtype, store) in [
            (DataType::Float, Store::F32),
            (DataType::Half, Store::F32),
            (DataType::Half, Store::F16),
            (DataType::Bf16, Store::Bf16),
        ] {
            let ws = vec![w("pad", dtype, 1000), w("a", dtype, 5000)];
            let ids = IdSpace::new(&ws);
            let esize = (store.nibbles() / 2) as usize;
            let at = 64;
            let len = at + esize * 5000 + 64;
            let mut base = vec![0x5Au8; len];
            base[at..at + esize * 5000].fill(0);
            let mut imgs = vec![base.clone(); ids.passes as usize];
            for (p, img) in imgs.iter_mut().enumerate() {
                let mut m = vec![0u8; ws[1].refit_bytes() as usize];
                fill_markers(dtype, ids.first[1].1, 5000, p as u32, &mut m);
                for k in 0..5000 {
                    store_marker(
                        dtype,
                        &m,
                        k,
                        store,
                        &mut img[at + esize * k..at + esize * (k + 1)],
                    );
                }
            }
            for bad_elem in [
                None,
                Some(300),
                Some(511),
                Some(512),
                Some(777),
                Some(2048),
                Some(4999),
            ] {
                for image in 0..=imgs.len() {
                    let (mut b, mut ps) = (base.clone(), imgs.clone());
                    if let Some(k) = bad_elem {
                        let x = at + esize * k + esize - 1;
                        // An exponent bit of the top byte: no longer a marker.
                        if image == 0 {
                            b[x] ^= 0x40
                        } else {
                            ps[image - 1][x] ^= 0x40
                        }
                    }
                    let img = Images {
                        base: &b,
                        passes: ps.iter().map(|p| p.as_slice()).collect(),
                    };
                    let dec = Decoder {
                        img: &img,
                        weights: &ws,
                        ids: &ids,
                        origin: 0,
                        len_nibbles: len as u64 * 2,
                    };
                    let (mut a, mut c) = (RunBuilder::default(), RunBuilder::default());
                    let n = 2 * at as u64;
                    let end_a = dec.follow_scalar(store, n, &mut a);
                    let end_c = dec.follow_float(store, n, &mut c);
                    assert_eq!(
                        (end_c, &c.runs),
                        (end_a, &a.runs),
                        "{dtype:?} as {store:?}, element {bad_elem:?} of image {image}"
                    );
                    let want = 2 * (at + esize * bad_elem.unwrap_or(5000)) as u64;
                    assert_eq!(
                        end_a, want,
                        "{dtype:?} as {store:?}: stops at the changed element"
                    );
                }
            }
        }
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
                .map(|i| {
                    w(
                        &format!("w{i}"),
                        dts[(rnd() % 3) as usize],
                        1 + rnd() % if case % 4 == 0 { 24_000 } else { 700 },
                    )
                })
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
                        store_marker(
                            spec.dtype,
                            &m,
                            idx,
                            store,
                            &mut img[at + esize * k..at + esize * (k + 1)],
                        );
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
                    2 if x + 2 <= len => imgs[(rnd() as usize) % passes][x..x + 2]
                        .copy_from_slice(&(code::EPSILON as u16).to_le_bytes()),
                    3 => imgs[(rnd() as usize) % passes][x] = 0,
                    _ => imgs[(rnd() as usize) % passes][x] ^= 1 << (rnd() % 8),
                }
            }
            let cut = len - (rnd() % 3) as usize;
            let base = &base[..cut];
            let img = Images {
                base,
                passes: imgs.iter().map(|p| &p[..cut]).collect(),
            };
            let dec = Decoder {
                img: &img,
                weights: &ws,
                ids: &ids,
                origin: 0,
                len_nibbles: cut as u64 * 2,
            };
            let mut compared = 0;
            for s in [Store::F32, Store::F16, Store::Bf16] {
                let valid_at: Vec<bool> = (0..cut as u64)
                    .map(|x| dec.element(s, 2 * x).is_some())
                    .collect();
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
                            a.push(
                                e.weight,
                                s.stored_dtype(ws[e.weight as usize].dtype),
                                n - s.nibbles(),
                                e.index,
                            );
                        }
                    }
                    let mut b = RunBuilder {
                        runs: a.runs.clone(),
                    };
                    let end_a = dec.follow_scalar(s, n, &mut a);
                    let end_b = dec.follow_float(s, n, &mut b);
                    assert_eq!(
                        (end_b, &b.runs),
                        (end_a, &a.runs),
                        "case {case}, {s:?} from nibble {n}"
                    );
                    compared += 1;
                }
            }
            assert!(compared > 0, "case {case}: nothing to compare");
        }
        assert!(three_passes > 0, "no case needed a third pass");
    }
}
