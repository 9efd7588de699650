//! Tiling: the sweep over changed bytes that picks, at each byte not yet explained, the
//! interpretation whose run covers the most, follows it, and records what nothing explains; then
//! the trimming of duplicated sightings at the edges of small-code-book blocks.

use std::cmp::Reverse;

use super::super::code::{Class, Store};
use super::super::engine::WeightSpec;
use super::super::ids::IdSpace;
use super::super::layout::{Run, RunBuilder};
use super::{Decoded, Decoder, Images, LOOKAHEAD_BYTES};

/// A candidate interpretation: its ranking key (coverage, element size, earlier start first),
/// its start (nibble position) and its store.
type Candidate = ((u64, u64, Reverse<u64>), u64, Store);

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
        // Best candidate so far.
        let mut best: Option<Candidate> = None;
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
                        let key = (cov, size, Reverse(start));
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
