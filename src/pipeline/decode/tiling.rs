//! Tiling: the sweep over changed bytes that picks, at each byte not yet explained, the
//! interpretation whose run covers the most, follows it, and records what nothing explains; then
//! the trimming of duplicated sightings at the edges of small-code-book blocks.

use std::cmp::Reverse;

use super::super::code::{Class, Store};
use super::super::engine::WeightSpec;
use super::super::ids::IdSpace;
use super::super::layout::{Run, RunBuilder};
use super::super::packed::{Baseline, Packed, CHUNK};
use super::{Decoded, Decoder, Images, LOOKAHEAD_BYTES};

/// What one piece decodes to: its runs and its unexplained byte ranges, before trimming.
type PieceResult = (Vec<Run>, Vec<(u64, u64)>);

/// A candidate interpretation: its ranking key (coverage, element size, earlier start first),
/// its start (nibble position) and its store.
type Candidate = ((u64, u64, Reverse<u64>), u64, Store);

/// Bytes unchanged in every pass on both sides of a split point (see [`split_points`]).
const SPLIT_GAP: usize = 16;

/// Bytes past a piece's end that its decoding may read: its last element reaches at most 8 bytes
/// past it, and the first invalid element after that is inside the unchanged gap (whose float
/// reading, in chunks, is cut off at the first invalid element anyway).
const WINDOW_MARGIN: usize = 4096;

/// Plans up to this size that are one piece are decoded on the calling thread.
const SMALL_PLAN: usize = 4 << 20;

/// Largest nominal piece: enough pieces for every core to stay busy to the end on large plans
/// (pieces are handed out one at a time; memory is bounded by the windows, not the pieces).
const MAX_PIECE: usize = 16 << 20;

thread_local! {
    /// A window's unpacked images, reused from window to window and piece to piece (no page
    /// faults per window); released when decoding ends.
    static BUFFERS: std::cell::RefCell<Vec<Vec<u8>>> = const { std::cell::RefCell::new(Vec::new()) };
}

/// Where decoding reads the passes: whole images, or packed passes unpacked a piece at a time.
trait PassSource: Sync {
    fn len(&self) -> usize;
    /// Whether bytes `[16k, 16k + 16)` ([`CHUNK`]) are the baseline's in every pass.
    fn chunk_unchanged(&self, k: usize) -> bool;
    /// The baseline's bytes `[from, to)` and every pass's: borrowed, or unpacked into `bufs`.
    fn window<'s>(
        &'s self,
        from: usize,
        to: usize,
        bufs: &'s mut Vec<Vec<u8>>,
    ) -> (&'s [u8], Vec<&'s [u8]>);
}

impl PassSource for Images<'_> {
    fn len(&self) -> usize {
        self.base.len()
    }

    fn chunk_unchanged(&self, k: usize) -> bool {
        let r = k * CHUNK..((k + 1) * CHUNK).min(self.base.len());
        self.passes
            .iter()
            .all(|p| p[r.clone()] == self.base[r.clone()])
    }

    fn window<'s>(
        &'s self,
        from: usize,
        to: usize,
        _bufs: &'s mut Vec<Vec<u8>>,
    ) -> (&'s [u8], Vec<&'s [u8]>) {
        (
            &self.base[from..to],
            self.passes.iter().map(|p| &p[from..to]).collect(),
        )
    }
}

/// Packed passes ([`Packed`]) over the baseline they were packed against.
struct PackedSource<'a> {
    base: &'a Baseline<'a>,
    packed: &'a Packed,
}

impl PassSource for PackedSource<'_> {
    fn len(&self) -> usize {
        self.base.len()
    }

    fn chunk_unchanged(&self, k: usize) -> bool {
        self.packed.chunk_unchanged(k)
    }

    fn window<'s>(
        &'s self,
        from: usize,
        to: usize,
        bufs: &'s mut Vec<Vec<u8>>,
    ) -> (&'s [u8], Vec<&'s [u8]>) {
        bufs.resize_with(self.packed.passes() + 1, Vec::new);
        let (first, rest) = bufs.split_at_mut(1);
        let base = self.base.window_in(from, to, &mut first[0]);
        for (p, out) in rest.iter_mut().enumerate() {
            self.packed.unpack_into(p, base, from, to, out);
        }
        let rest: &'s [Vec<u8>] = rest;
        (base, rest.iter().map(|v| v.as_slice()).collect())
    }
}

/// Decodes the marker passes. `progress` is called now and then with the bytes done; when it
/// returns false, decoding stops and `None` is returned.
///
/// The image is cut at points with [`SPLIT_GAP`] unchanged bytes on either side, and the pieces
/// are decoded in parallel; the result is exactly the sequential one (see [`split_points`]).
pub fn decode(
    images: &Images<'_>,
    weights: &[WeightSpec],
    ids: &IdSpace,
    progress: &mut dyn FnMut(u64) -> bool,
) -> Option<Decoded> {
    debug_assert!(images.passes.iter().all(|p| p.len() == images.base.len()));
    decode_from(images, weights, ids, progress)
}

/// [`decode`] from packed passes: each piece is unpacked a window at a time as it is swept, so
/// no more than one window per thread of every pass is ever unpacked.
pub fn decode_packed(
    base: &Baseline<'_>,
    packed: &Packed,
    weights: &[WeightSpec],
    ids: &IdSpace,
    progress: &mut dyn FnMut(u64) -> bool,
) -> Option<Decoded> {
    assert_eq!(
        base.len(),
        packed.len(),
        "passes packed against this baseline"
    );
    decode_from(&PackedSource { base, packed }, weights, ids, progress)
}

fn decode_from(
    src: &dyn PassSource,
    weights: &[WeightSpec],
    ids: &IdSpace,
    progress: &mut dyn FnMut(u64) -> bool,
) -> Option<Decoded> {
    let threads = super::super::par::threads();
    let len = src.len();
    let cuts = split_points(src, (threads * 8).max(len / MAX_PIECE), 1 << 20);
    let window = window_for(len, threads, ids.passes as usize + 1);
    decode_pieces(src, weights, ids, cuts, window, progress)
}

/// [`decode`] with the image cut at `cuts` (split points, increasing).
fn decode_pieces(
    src: &dyn PassSource,
    weights: &[WeightSpec],
    ids: &IdSpace,
    cuts: Vec<usize>,
    window: usize,
    progress: &mut dyn FnMut(u64) -> bool,
) -> Option<Decoded> {
    use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
    let len = src.len();
    let mut bounds = vec![0usize];
    bounds.extend(cuts);
    bounds.push(len);
    let pieces = bounds.len() - 1;
    let done = AtomicU64::new(0);
    let stop = AtomicBool::new(false);
    // One piece: its window of every image, decoded as an image of its own; positions moved back.
    let piece = |k: usize| {
        decode_piece(
            src,
            weights,
            ids,
            (bounds[k], bounds[k + 1]),
            window,
            &done,
            &stop,
        )
    };
    let parts: Option<Vec<PieceResult>> = if pieces == 1 && len <= SMALL_PLAN {
        // A small plan is one piece, decoded here in well under a progress tick: no threads.
        let one = piece(0).map(|p| vec![p]);
        drop(BUFFERS.take());
        one
    } else {
        let (tx, rx) = std::sync::mpsc::channel::<()>();
        let parts = std::thread::scope(|s| {
            let piece = &piece;
            let work = s.spawn(move || {
                let parts = super::super::par::map(pieces, piece);
                drop(tx);
                parts.into_iter().collect::<Option<Vec<_>>>()
            });
            // Progress and cancellation from this thread until the work is done (the channel closes).
            while let Err(std::sync::mpsc::RecvTimeoutError::Timeout) =
                rx.recv_timeout(std::time::Duration::from_millis(20))
            {
                if !progress(done.load(Ordering::Relaxed)) {
                    stop.store(true, Ordering::Relaxed);
                }
            }
            work.join().unwrap_or_else(|e| std::panic::resume_unwind(e))
        });
        // The pool's threads outlive decoding: their windows go now, not at exit.
        super::super::par::on_every_thread(|| drop(BUFFERS.take()));
        parts
    };
    let parts = parts?;
    if stop.load(Ordering::Relaxed) || !progress(len as u64) {
        return None;
    }
    let mut all_runs: Vec<Run> = Vec::new();
    let mut unexplained: Vec<(u64, u64)> = Vec::new();
    for (r, u) in parts {
        all_runs.extend(r);
        unexplained.extend(u);
    }
    let (runs, dropped) = trim_boundary_duplicates(all_runs, weights);
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

/// Byte positions `s` (increasing, inside the image) around which `[s - SPLIT_GAP, s + SPLIT_GAP)`
/// is unchanged in every pass, about `len / pieces` apart: the boundaries between two unchanged
/// [`CHUNK`]s in a row. Decoding `[0, s)` and `[s, len)` apart gives what decoding the whole does:
/// every valid element has a byte that changes (markers are never zero), elements are at most 8
/// bytes, so no run or lookahead crosses the gap; and the first changed byte after it is at least
/// `SPLIT_GAP` past `s`, so its candidates start after `s` and nothing before can be taken back or
/// extended.
fn split_points(src: &dyn PassSource, pieces: usize, min_step: usize) -> Vec<usize> {
    const _: () = assert!(CHUNK == SPLIT_GAP);
    let len = src.len();
    let step = (len / pieces.max(1)).max(min_step).max(1);
    // Chunk k and k + 1 whole inside the image and unchanged: a cut at 16(k + 1).
    let full_chunks = len / CHUNK;
    let mut cuts = Vec::new();
    let mut nominal = step;
    while nominal + SPLIT_GAP < len {
        // The first such pair from `nominal` on, looked for up to the next nominal point.
        let limit = (nominal + step).min(len);
        let mut k = nominal.div_ceil(CHUNK);
        let mut found = None;
        while k + 1 < full_chunks && (k + 2) * CHUNK <= limit {
            if !src.chunk_unchanged(k + 1) {
                k += 2;
            } else if !src.chunk_unchanged(k) {
                k += 1;
            } else {
                found = Some((k + 1) * CHUNK);
                break;
            }
        }
        if let Some(c) = found {
            cuts.push(c);
        }
        nominal = limit.max(found.unwrap_or(0) + 1);
        nominal = nominal.max(cuts.last().copied().unwrap_or(0) + step);
    }
    cuts
}

/// Where a sweep over one piece stands between windows (see [`sweep`]).
struct Sweep {
    out: RunBuilder,
    unexplained: Vec<(u64, u64)>,
    /// Nibble position up to which everything is explained.
    covered: u64,
    /// Byte position before which every changed byte has been looked at.
    scanned: usize,
    /// The previous run: (store, nibble position of its last element), for taking one element back.
    prev_last: Option<(Store, u64)>,
    /// A run followed to the window's end, to go on with in the next window.
    following: Option<Store>,
    next_report: u64,
    reported: u64,
}

impl Sweep {
    fn new(from: usize) -> Sweep {
        Sweep {
            out: RunBuilder::default(),
            unexplained: Vec::new(),
            covered: 2 * from as u64,
            scanned: from,
            prev_last: None,
            following: None,
            next_report: from as u64,
            reported: from as u64,
        }
    }

    /// After following a run of `s` to `covered`: whether it stopped only because its next element
    /// runs past the window (not the plan's end). Then it is to be followed on in the next window.
    fn cut_short(&mut self, dec: &Decoder<'_>, s: Store, image_end: usize) -> bool {
        let short =
            self.covered + s.nibbles() > dec.len_nibbles && dec.len_nibbles < 2 * image_end as u64;
        self.following = short.then_some(s);
        short
    }
}

/// Sweeps the changed bytes before `stop_at` that the window `dec` holds, from where `st` stands
/// (elements may reach past `stop_at`; candidates are looked at up to [`LOOKAHEAD_BYTES`] past it,
/// which the window must hold). A run followed to the window's end is left in `st.following`.
/// `None` when stopped from outside.
///
/// Sliding a window through a piece gives exactly what one window over the piece gives: every
/// image read is of a position the window holds (candidates start at most 16 nibbles before the
/// changed byte or the previous run's end, and look 256 bytes past it), and a run cut off by the
/// window's end is followed on from the same element, so the same elements are pushed.
fn sweep(
    dec: &Decoder<'_>,
    st: &mut Sweep,
    stop_at: usize,
    image_end: usize,
    done: &std::sync::atomic::AtomicU64,
    stop: &std::sync::atomic::AtomicBool,
) -> Option<()> {
    use std::sync::atomic::Ordering;
    let images = dec.img;
    let lookahead = LOOKAHEAD_BYTES * 2;
    if let Some(s) = st.following.take() {
        if dec.element(s, st.covered).is_some() {
            let n = dec.follow(s, st.covered, &mut st.out);
            st.prev_last = Some((s, n - s.nibbles()));
            st.covered = n;
            if st.cut_short(dec, s, image_end) {
                return Some(());
            }
        }
    }
    while let Some(x) = dec.next_changed(((st.covered / 2) as usize).max(st.scanned), stop_at) {
        let x = x as u64;
        if x >= st.next_report {
            if stop.load(Ordering::Relaxed) {
                return None;
            }
            done.fetch_add(x - st.reported, Ordering::Relaxed);
            st.reported = x;
            st.next_report = x + (4 << 20);
        }
        // The changed nibbles of byte x that are not yet explained.
        let lo = (2 * x).max(st.covered);
        if lo > 2 * x {
            // A packed run ended on this byte's low nibble: only the high nibble is left.
            let xi = x as usize - dec.origin;
            let high_changed = images
                .passes
                .iter()
                .any(|p| (p[xi] ^ images.base[xi]) & 0xF0 != 0);
            if !high_changed {
                st.covered = 2 * x + 2;
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
            let floor = st.prev_last.map_or(st.covered, |(ps, last_n)| {
                last_n.saturating_sub(ps.nibbles()).min(st.covered)
            });
            let mut start = earliest.max(floor);
            if step == 2 && start % 2 == 1 {
                start += 1;
            }
            while start <= 2 * x + 1 {
                if start + size > lo && dec.element(s, start).is_some() {
                    let cov = dec.coverage(s, start, lookahead);
                    let overlaps_prev = start < st.covered;
                    // Taking the previous run's last element back needs a clearly better run: twice
                    // that element's size, and two elements of its own or much wider ones.
                    let popped = st.prev_last.map_or(0, |(ps, _)| ps.nibbles());
                    let overlap = st.covered.saturating_sub(start);
                    // ...or wider elements that take in the overlapped ones and explain more bytes
                    // after them (an int64 whose low half read as int32).
                    let clearly_better = (cov >= 2 * overlap
                        && (cov >= 2 * size || size >= 4 * popped))
                        || (size >= popped
                            && popped > 0
                            && cov >= overlap + popped
                            && start + size >= st.covered);
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
                match st.unexplained.last_mut() {
                    Some(last) if last.1 == x => last.1 = x + 1,
                    _ => st.unexplained.push((x, x + 1)),
                }
                st.covered = st.covered.max(2 * x + 2);
            }
            Some((_, start, s)) => {
                let size = s.nibbles();
                while st.out.last_start().is_some_and(|n| n >= start) {
                    st.out.pop();
                }
                let n = dec.follow(s, start, &mut st.out);
                st.prev_last = Some((s, n - size));
                st.covered = n;
                if st.cut_short(dec, s, image_end) {
                    return Some(());
                }
            }
        }
    }
    st.scanned = st.scanned.max(stop_at);
    done.fetch_add(
        (stop_at as u64).saturating_sub(st.reported),
        Ordering::Relaxed,
    );
    st.reported = st.reported.max(stop_at as u64);
    Some(())
}

/// Most bytes of a piece unpacked at once (plus [`WINDOW_MARGIN`]): decoding's memory is
/// threads x (passes + 1) x the window, whatever the size of the buffers.
const WINDOW: usize = 8 << 20;

/// The window for a plan of `len` bytes: a quarter of the plan over all threads' windows of every
/// image, between one block and [`WINDOW`], in whole blocks.
fn window_for(len: usize, threads: usize, images: usize) -> usize {
    let block = super::super::packed::BLOCK;
    (len / (4 * threads * images).max(1)).clamp(block, WINDOW) / block * block
}

/// Decodes piece `[from, to)` (split points or the image's ends) window by window. Returns the
/// runs and the unexplained ranges, before trimming.
fn decode_piece(
    src: &dyn PassSource,
    weights: &[WeightSpec],
    ids: &IdSpace,
    (from, to): (usize, usize),
    window: usize,
    done: &std::sync::atomic::AtomicU64,
    stop: &std::sync::atomic::AtomicBool,
) -> Option<PieceResult> {
    let len = src.len();
    let mut st = Sweep::new(from);
    let mut origin = from;
    loop {
        // The piece's own end, with the gap after it, or a window's worth (ending on a block
        // boundary, so blocks are not unpacked twice), whichever comes first.
        let tail = (to + WINDOW_MARGIN).min(len);
        let mut e = origin + window;
        if window >= super::super::packed::BLOCK {
            e = e.next_multiple_of(super::super::packed::BLOCK);
        }
        let (end, stop_at) = if e >= to {
            (tail, to)
        } else {
            ((e + WINDOW_MARGIN).min(len), e)
        };
        BUFFERS.with_borrow_mut(|bufs| {
            let (base, passes) = src.window(origin, end, bufs);
            let local = Images { base, passes };
            let dec = Decoder {
                img: &local,
                weights,
                ids,
                origin,
                len_nibbles: end as u64 * 2,
            };
            sweep(&dec, &mut st, stop_at, len, done, stop)
        })?;
        if st.following.is_none() && stop_at == to {
            break;
        }
        // Candidates at the next changed byte start at most 8 bytes before it; a run goes on
        // from `covered`.
        origin = ((st.covered / 2) as usize)
            .max(st.scanned)
            .saturating_sub(64)
            .max(from);
    }
    Some((st.out.runs, st.unexplained))
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
fn trim_boundary_duplicates(
    mut runs: Vec<Run>,
    weights: &[WeightSpec],
) -> (Vec<Run>, Vec<(u64, u64)>) {
    let mut sightings = vec![0u64; weights.len()];
    for r in &runs {
        sightings[r.weight as usize] += r.len;
    }
    let small_alphabet = |d: crate::dtype::DataType| {
        matches!(Class::of(d), Class::Byte | Class::Nibble | Class::Bit)
    };
    let dup: Vec<bool> = weights
        .iter()
        .zip(&sightings)
        .map(|(w, s)| *s > w.count && small_alphabet(w.dtype))
        .collect();
    if !dup.iter().any(|d| *d) {
        return (runs, Vec::new());
    }
    let n = runs.len();
    let touches = |a: &Run, b: &Run| {
        a.weight == b.weight && a.stored == b.stored && nib_span(a).1 == nib_span(b).0
    };
    let block_start: Vec<bool> = (0..n)
        .map(|i| i == 0 || !touches(&runs[i - 1], &runs[i]))
        .collect();
    let block_end: Vec<bool> = (0..n)
        .map(|i| i + 1 == n || !touches(&runs[i], &runs[i + 1]))
        .collect();
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
        let trim_last =
            block_end[i] && r.len > u64::from(trim_first) && inner.contains(&(r.weight, last_idx));
        let mut t = r;
        if trim_first {
            dropped.push((start / 2, (start + size).div_ceil(2)));
            let ns = start + size;
            t = Run {
                offset: ns / 2,
                nibble: (ns % 2) as u8,
                len: r.len - 1,
                index: r.index_at(1).max(0) as u64,
                ..r
            };
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

    /// Decoding in pieces cut at split points gives exactly what decoding in one piece gives, on
    /// buffers of every dtype packed with gaps of every width (0 to 80 bytes) and damaged bytes.
    #[test]
    fn pieces_decode_like_the_whole() {
        let mut seed = 0x2545_F491_4F6C_DD1Du64;
        let mut rnd = move || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed
        };
        let mut split_somewhere = 0;
        for case in 0..12 {
            let ws: Vec<WeightSpec> = (0..24)
                .map(|i| WeightSpec {
                    name: format!("w{i}"),
                    dtype: DataType::ALL[(rnd() % DataType::ALL.len() as u64) as usize],
                    // Now and then a buffer many windows long.
                    count: 1 + rnd() % if i % 7 == 3 { 9000 } else { 300 },
                })
                .collect();
            // Some whole-byte weights stored transposed, as an r x c matrix column by column.
            let transposed: Vec<Option<u64>> = ws
                .iter()
                .map(|w| {
                    let r = 2 + rnd() % 40;
                    (w.dtype.bits() >= 8 && w.count % r == 0 && rnd() % 2 == 0).then_some(r)
                })
                .collect();
            let ids = IdSpace::new(&ws);
            let mut at = Vec::new();
            let mut off = (rnd() % 40) as usize;
            for w in &ws {
                at.push(off);
                off += w.refit_bytes() as usize + (rnd() % 81) as usize;
            }
            let len = off + 40;
            let mut base: Vec<u8> = (0..len)
                .map(|_| if rnd() % 3 == 0 { 0 } else { rnd() as u8 })
                .collect();
            for (w, o) in ws.iter().zip(&at) {
                base[*o..*o + w.refit_bytes() as usize].fill(0);
            }
            let mut passes: Vec<Vec<u8>> = Vec::new();
            for p in 0..ids.passes {
                let mut img = base.clone();
                for (i, (w, o)) in ws.iter().zip(&at).enumerate() {
                    let buf = &mut img[*o..*o + w.refit_bytes() as usize];
                    fill_markers(w.dtype, ids.first[i].1, w.count, p, buf);
                    if let Some(r) = transposed[i] {
                        let (size, c) = ((w.dtype.bits() / 8) as usize, (w.count / r) as usize);
                        let natural = buf.to_vec();
                        for (k, dst) in buf.chunks_mut(size).enumerate() {
                            let e = (k % r as usize) * c + k / r as usize;
                            dst.copy_from_slice(&natural[e * size..(e + 1) * size]);
                        }
                    }
                }
                for _ in 0..(rnd() % 6) {
                    let x = (rnd() as usize) % len;
                    img[x] ^= 1 << (rnd() % 8);
                }
                passes.push(img);
            }
            let images = Images {
                base: &base,
                passes: passes.iter().map(|p| p.as_slice()).collect(),
            };
            let whole = decode_pieces(&images, &ws, &ids, Vec::new(), usize::MAX / 4, &mut |_| {
                true
            })
            .unwrap();
            // Packed passes over a packed baseline decode the same (64 KiB blocks: one or a few here).
            let baseline = Baseline::Packed(crate::pipeline::packed::PackedImage::new(&base));
            let mut packed = Packed::new(len);
            for p in &passes {
                packed.add(&baseline, p);
            }
            let src = PackedSource {
                base: &baseline,
                packed: &packed,
            };
            for pieces in [2, 5, 50, 1000] {
                let cuts = split_points(&images, pieces, 1);
                split_somewhere += usize::from(!cuts.is_empty());
                assert_eq!(
                    split_points(&src, pieces, 1),
                    cuts,
                    "the bitmap finds the same split points"
                );
                for &c in &cuts {
                    let quiet = |i: usize| passes.iter().all(|p| p[i] == base[i]);
                    assert!(
                        (c - SPLIT_GAP..c + SPLIT_GAP).all(quiet),
                        "cut {c} has {SPLIT_GAP} unchanged bytes each side"
                    );
                }
                let split = decode_pieces(
                    &images,
                    &ws,
                    &ids,
                    cuts.clone(),
                    usize::MAX / 4,
                    &mut |_| true,
                )
                .unwrap();
                assert_eq!(split, whole, "case {case}, {pieces} pieces");
                let unpacked =
                    decode_pieces(&src, &ws, &ids, cuts.clone(), WINDOW, &mut |_| true).unwrap();
                assert_eq!(
                    unpacked, whole,
                    "case {case}, {pieces} pieces from packed passes"
                );
                // Windows far smaller than the buffers: runs cut off at a window's end go on.
                for window in [128, 1000, 4097, 20_000] {
                    let slid = decode_pieces(&src, &ws, &ids, cuts.clone(), window, &mut |_| true)
                        .unwrap();
                    assert_eq!(
                        slid, whole,
                        "case {case}, {pieces} pieces, windows of {window} bytes"
                    );
                }
            }
        }
        assert!(split_somewhere > 10, "{split_somewhere}");
    }

    /// What extraction decodes does not depend on the number of threads: a plan of several
    /// pieces (over 4 MiB, so the pool is used), packed, decoded in pools of 1, 3 and 8 threads,
    /// equals the one-thread sweep over the whole images.
    #[test]
    fn decoding_is_the_same_whatever_the_thread_count() {
        let dts = [
            DataType::Float,
            DataType::Half,
            DataType::Bf16,
            DataType::Int8,
            DataType::Int32,
        ];
        let ws: Vec<WeightSpec> = (0..30)
            .map(|i| WeightSpec {
                name: format!("w{i}"),
                dtype: dts[i % dts.len()],
                count: 20_000 + (i as u64 * 7_919) % 90_000,
            })
            .collect();
        let ids = IdSpace::new(&ws);
        let mut at = Vec::new();
        let mut off = 64;
        for (i, w) in ws.iter().enumerate() {
            at.push(off);
            off += w.refit_bytes() as usize + 16 + (i * 13) % 100;
        }
        let len = off + 64;
        assert!(len > SMALL_PLAN, "{len} bytes: several pieces");
        let mut base: Vec<u8> = (0..len).map(|i| (i * 31 % 251) as u8 | 1).collect();
        for (w, o) in ws.iter().zip(&at) {
            base[*o..*o + w.refit_bytes() as usize].fill(0);
        }
        let passes: Vec<Vec<u8>> = (0..ids.passes)
            .map(|p| {
                let mut img = base.clone();
                for (i, (w, o)) in ws.iter().zip(&at).enumerate() {
                    fill_markers(
                        w.dtype,
                        ids.first[i].1,
                        w.count,
                        p,
                        &mut img[*o..*o + w.refit_bytes() as usize],
                    );
                }
                // A damaged byte inside a buffer.
                img[at[7] + 1001] ^= 0x40;
                img
            })
            .collect();
        let pool = |n: usize| {
            rayon::ThreadPoolBuilder::new()
                .num_threads(n)
                .build()
                .expect("a pool")
        };
        let images = Images {
            base: &base,
            passes: passes.iter().map(|p| p.as_slice()).collect(),
        };
        let want = pool(1)
            .install(|| decode(&images, &ws, &ids, &mut |_| true))
            .expect("decoded");
        assert!(want.runs.len() >= ws.len(), "{} runs", want.runs.len());
        let baseline = Baseline::Packed(crate::pipeline::packed::PackedImage::new(&base));
        let mut packed = Packed::new(len);
        for p in &passes {
            packed.add(&baseline, p);
        }
        for n in [1, 3, 8] {
            let got = pool(n)
                .install(|| decode_packed(&baseline, &packed, &ws, &ids, &mut |_| true))
                .expect("decoded");
            assert_eq!(got, want, "{n} threads");
        }
    }
}
