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
}
