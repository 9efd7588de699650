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
        if n % 2 != 0 {
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
                    g = g.checked_add(d.checked_mul(scale)?)?;
                    scale = scale.saturating_mul(code::FLOAT_BASE);
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
                let mut v0 = None;
                for img in &self.img.passes {
                    let b = &img[off..off + nb];
                    let v = if nb == 4 {
                        u64::from(u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
                    } else {
                        u64::from_le_bytes(b.try_into().ok()?)
                    };
                    if v == 0 || v0.is_some_and(|v0| v0 != v) {
                        return None;
                    }
                    v0 = Some(v);
                }
                g = v0? - 1;
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
            let floor = prev_last.map_or(covered, |(_, last_n)| last_n.min(covered));
            let mut start = earliest.max(floor);
            if step == 2 && start % 2 == 1 {
                start += 1;
            }
            while start <= 2 * x + 1 {
                if start + size > lo && dec.element(s, start).is_some() {
                    let cov = dec.coverage(s, start, lookahead);
                    let overlaps_prev = start < covered;
                    // Taking an element back needs a clearly better run: at least two elements.
                    if !overlaps_prev || cov >= 2 * size {
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
                if start < covered {
                    out.pop();
                }
                let mut n = start;
                while let Some(e) = dec.element(s, n) {
                    out.push(e.weight, s.stored_dtype(weights[e.weight as usize].dtype), n, e.index);
                    n += size;
                }
                prev_last = Some((s, n - size));
                covered = n;
            }
        }
    }
    let _ = progress(len as u64);
    let (runs, dropped) = drop_stray_singletons(out.runs, weights);
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

/// A lone element that decodes as an element already found inside a longer run is not a copy but
/// a coincidence: a non-weight value computed from the weights (a buffer's max |x|, a checksum)
/// that happens to read as a marker in every pass. Such strays are moved to the unexplained bytes
/// rather than reported as disagreeing copies. Lone elements of elements found nowhere else stay
/// (a scattered permutation is made of them).
fn drop_stray_singletons(runs: Vec<Run>, weights: &[WeightSpec]) -> (Vec<Run>, Vec<(u64, u64)>) {
    let mut has_single = vec![false; weights.len()];
    let mut has_long = vec![false; weights.len()];
    for r in &runs {
        if r.len == 1 {
            has_single[r.weight as usize] = true;
        } else {
            has_long[r.weight as usize] = true;
        }
    }
    let suspects: Vec<usize> = (0..weights.len()).filter(|w| has_single[*w] && has_long[*w]).collect();
    if suspects.is_empty() {
        return (runs, Vec::new());
    }
    // Indices covered by runs of two or more elements, for the suspect weights only.
    let mut covered: std::collections::HashMap<u32, Vec<bool>> =
        suspects.iter().map(|w| (*w as u32, vec![false; weights[*w].count as usize])).collect();
    for r in runs.iter().filter(|r| r.len > 1) {
        if let Some(bits) = covered.get_mut(&r.weight) {
            for k in 0..r.len {
                bits[r.index_at(k) as usize] = true;
            }
        }
    }
    let mut kept = Vec::with_capacity(runs.len());
    let mut dropped = Vec::new();
    for r in runs {
        let stray = r.len == 1 && covered.get(&r.weight).is_some_and(|bits| bits[r.index as usize]);
        if stray {
            if let Some(range) = r.byte_range() {
                dropped.push(range);
            }
        } else {
            kept.push(r);
        }
    }
    (kept, dropped)
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
        // A 4-byte "max |x|" stat next to a buffer: equals one of the markers in every pass.
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
        assert_eq!(dec.runs.len(), 1, "{:?}", dec.runs);
        assert_eq!(dec.unexplained, vec![(300, 304)]);
    }
}
