//! Lining up two serializations whose layouts may differ.
//!
//! TensorRT may serialize a refitted engine with a different length than a fresh one (and the file
//! on disk may differ from what the runtime serializes). Positions learned on one image (the zero
//! baseline) must then be translated into another (the normalised original, or the engine file).
//! Their weight bytes differ by design (zeros vs real values), so those are masked out; everything
//! else is the same plan and lines up piecewise with a constant shift, broken only where bytes were
//! inserted or removed (and, in place, where a header field such as the plan length changed).
//!
//! Method: anchors are 32-byte windows of unmasked, non-uniform bytes of X, every few KiB. Each is
//! looked for in Y at the current shift, then at the other shifts seen, then by a bounded search
//! near where it should be, keeping Y positions increasing. Between two anchors with the same shift
//! everything maps with that shift; between anchors whose shifts differ, matching is extended
//! forward from the first and backward from the second, and what neither reaches is the edit.
//! Masked bytes that the two extensions both claim cannot be placed and stay unmapped, so a weight
//! stored right where the layout changed is reported, never read from the wrong place.

/// Anchor window length.
const K: usize = 32;
/// Distance between anchors inside a long unmasked stretch.
const STEP: usize = 4096;
/// How far from its expected place an anchor is looked for, beyond the length difference.
const SLACK: usize = 1 << 16;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Segment {
    pub x0: u64,
    pub x1: u64,
    pub shift: i64,
}

/// A monotone, piecewise-constant mapping from positions of X to positions of Y.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Alignment {
    pub segments: Vec<Segment>,
    /// Unmasked bytes inside mapped segments that differ between X and Y (a changed header field,
    /// bytes of a fused buffer that happened not to change with the markers, ...).
    pub in_place_mismatches: u64,
    pub len_x: u64,
    pub len_y: u64,
}

impl Alignment {
    pub fn identity(len: u64) -> Alignment {
        Alignment {
            segments: if len > 0 {
                vec![Segment {
                    x0: 0,
                    x1: len,
                    shift: 0,
                }]
            } else {
                vec![]
            },
            in_place_mismatches: 0,
            len_x: len,
            len_y: len,
        }
    }

    pub fn is_identity(&self) -> bool {
        self.len_x == self.len_y
            && (self.len_x == 0
                || (self.segments.len() == 1
                    && self.segments[0]
                        == Segment {
                            x0: 0,
                            x1: self.len_x,
                            shift: 0,
                        }))
    }

    /// Whether every position maps to itself (lengths equal; bytes may still differ in place).
    pub fn is_unshifted(&self) -> bool {
        self.len_x == self.len_y
            && (self.len_x == 0
                || (self.segments.len() == 1
                    && self.segments[0].shift == 0
                    && self.segments[0].x0 == 0
                    && self.segments[0].x1 == self.len_x))
    }

    /// Where `[a, b)` of X lies in Y, if all of it lies in one mapped segment.
    pub fn map_range(&self, a: u64, b: u64) -> Option<u64> {
        let i = self.segments.partition_point(|s| s.x1 <= a);
        let s = self.segments.get(i)?;
        (s.x0 <= a && b <= s.x1).then(|| (a as i64 + s.shift) as u64)
    }

    /// Where byte `a` of X lies in Y.
    pub fn map(&self, a: u64) -> Option<u64> {
        self.map_range(a, a + 1)
    }

    /// Bytes of X that map nowhere.
    pub fn unmapped_x(&self) -> u64 {
        self.len_x - self.segments.iter().map(|s| s.x1 - s.x0).sum::<u64>()
    }

    /// Bytes of Y that nothing maps to.
    pub fn unmapped_y(&self) -> u64 {
        self.len_y - self.segments.iter().map(|s| s.x1 - s.x0).sum::<u64>()
    }
}

/// Sorted, disjoint byte ranges of X that are expected to differ (weights).
struct Mask<'m> {
    ranges: &'m [(u64, u64)],
}

impl Mask<'_> {
    /// Index of the first range ending after `x`.
    fn first_after(&self, x: u64) -> usize {
        self.ranges.partition_point(|r| r.1 <= x)
    }

    fn any_in(&self, a: u64, b: u64) -> bool {
        self.ranges
            .get(self.first_after(a))
            .is_some_and(|r| r.0 < b)
    }
}

/// Whether matched bytes so far say anything about the shift: at least 16 of them, with at least
/// 4 distinct values (the test anchors pass).
struct Evidence {
    seen: [bool; 256],
    distinct: u32,
    bytes: u64,
    verified: bool,
}

impl Evidence {
    fn new(verified: bool) -> Evidence {
        Evidence {
            seen: [false; 256],
            distinct: 0,
            bytes: 0,
            verified,
        }
    }

    fn saw(&mut self, bytes: &[u8]) {
        if self.verified {
            return;
        }
        for b in bytes {
            if !self.seen[*b as usize] {
                self.seen[*b as usize] = true;
                self.distinct += 1;
            }
        }
        self.bytes += bytes.len() as u64;
        self.verified = self.distinct >= 4 && self.bytes >= 16;
    }

    fn enough(&self) -> bool {
        self.verified
    }
}

fn distinct_enough(w: &[u8]) -> bool {
    let mut seen = [false; 256];
    let mut n = 0;
    for b in w {
        if !seen[*b as usize] {
            seen[*b as usize] = true;
            n += 1;
            if n >= 4 {
                return true;
            }
        }
    }
    false
}

/// Anchor candidates: positions of X whose K bytes are unmasked and varied.
fn anchors(x: &[u8], mask: &Mask<'_>) -> Vec<usize> {
    let mut out = Vec::new();
    let mut gap_start = 0usize;
    let push_gap = |a: usize, b: usize, out: &mut Vec<usize>| {
        let mut p = a;
        while p + K <= b {
            if distinct_enough(&x[p..p + K]) {
                out.push(p);
            }
            p += K;
        }
    };
    for r in mask.ranges {
        let (a, b) = (r.0 as usize, (r.1 as usize).min(x.len()));
        if a > gap_start {
            push_gap(gap_start, a.min(x.len()), &mut out);
        }
        gap_start = gap_start.max(b);
    }
    if gap_start < x.len() {
        push_gap(gap_start, x.len(), &mut out);
    }
    out
}

fn find_near(y: &[u8], w: &[u8], lo: usize, hi: usize, expected: usize) -> Option<usize> {
    let hi = hi.min(y.len());
    if lo + w.len() > hi {
        return None;
    }
    let mut best: Option<usize> = None;
    let first = w[0];
    let mut i = lo;
    while i + w.len() <= hi {
        if y[i] == first && &y[i..i + w.len()] == w {
            let better = best.is_none_or(|b| i.abs_diff(expected) < b.abs_diff(expected));
            if better {
                best = Some(i);
            }
            if i > expected {
                break;
            }
        }
        i += 1;
    }
    best
}

/// Tolerated differences: matching extended from a placed anchor tolerates short in-place
/// differences (a length field in a header) but stops where a long mismatch starts (an insertion
/// or deletion). Masked bytes count as matching and are stepped over a range at a time.
const TOLERANCE: usize = 16;
/// Matching unmasked bytes that show matching resumes (see [`Aligner::resumes_fwd`]).
const RESUME: u32 = 8;
/// How much room a cluster of masked bytes may have around it in Y to be placed.
const MAX_SLACK: u64 = 1 << 16;

/// Aligns X to Y, ignoring bytes of X inside `mask` (sorted, disjoint `[start, end)` ranges).
pub fn align(x: &[u8], y: &[u8], mask: &[(u64, u64)]) -> Alignment {
    let al = Aligner::new(x, y, mask);
    let placed = al.place_anchors();
    let mut segs = al.segments_between_anchors(&placed);
    al.place_unclaimed_clusters(&mut segs);
    al.finish(segs)
}

/// What every phase of [`align`] reads: the two images, the mask of X, their lengths.
struct Aligner<'a> {
    x: &'a [u8],
    y: &'a [u8],
    mask: Mask<'a>,
    lx: usize,
    ly: usize,
    /// `ly - lx`: the shift at the end of the images.
    delta: i64,
}

impl<'a> Aligner<'a> {
    fn new(x: &'a [u8], y: &'a [u8], mask: &'a [(u64, u64)]) -> Aligner<'a> {
        let (lx, ly) = (x.len(), y.len());
        Aligner {
            x,
            y,
            mask: Mask { ranges: mask },
            lx,
            ly,
            delta: ly as i64 - lx as i64,
        }
    }

    /// Phase 1: Anchors with their shifts, Y positions strictly increasing.
    fn place_anchors(&self) -> Vec<(usize, i64)> {
        let mut placed: Vec<(usize, i64)> = Vec::new();
        let mut shifts_seen: Vec<i64> = vec![0, self.delta];
        let mut last_y_end: usize = 0;
        let mut cur: i64 = 0;
        let mut next_anchor = 0usize;
        for a in anchors(self.x, &self.mask) {
            // Candidates come every K bytes; once one is placed, the next is tried STEP bytes on.
            if a < next_anchor {
                continue;
            }
            let w = &self.x[a..a + K];
            let try_shift = |s: i64| -> Option<usize> {
                let q = a as i64 + s;
                (q >= last_y_end as i64
                    && (q as usize) + K <= self.ly
                    && &self.y[q as usize..q as usize + K] == w)
                    .then_some(q as usize)
            };
            let mut found = try_shift(cur);
            if found.is_none() {
                found = shifts_seen.iter().find_map(|s| try_shift(*s));
            }
            if found.is_none() {
                let expected = (a as i64 + cur).max(0) as usize;
                let reach = self.delta.unsigned_abs() as usize + SLACK;
                let lo = expected.saturating_sub(reach).max(last_y_end);
                found = find_near(self.y, w, lo, expected + reach + K, expected);
            }
            if let Some(q) = found {
                let s = q as i64 - a as i64;
                if !shifts_seen.contains(&s) {
                    shifts_seen.push(s);
                }
                cur = s;
                placed.push((a, s));
                last_y_end = q + K;
                next_anchor = a + STEP;
            }
        }
        placed
    }

    /// Whether position `p` of X falls inside Y under `shift`.
    fn in_y(&self, p: usize, shift: i64) -> bool {
        let q = p as i64 + shift;
        q >= 0 && (q as usize) < self.ly
    }

    /// Whether matching resumes from `at` onwards (before `at`, going back), looking past further
    /// masked bytes: 8 matching unmasked bytes, with at most TOLERANCE differing ones among them (a
    /// checksum beside a weight differs in place), or every byte up to the limit matching.
    fn resumes_fwd(&self, at: usize, limit: usize, shift: i64) -> bool {
        let (mut p, mut m, mut n) = (at, 0u32, 0usize);
        let mut mi = self.mask.first_after(at as u64);
        while p < limit && m < RESUME && n <= TOLERANCE {
            if let Some(r) = self.mask.ranges.get(mi).filter(|r| r.0 as usize <= p) {
                p = (r.1 as usize).max(p + 1);
                mi += 1;
                continue;
            }
            let q = p as i64 + shift;
            if q < 0 || q as usize >= self.ly {
                break;
            }
            if self.x[p] == self.y[q as usize] {
                m += 1;
            } else {
                n += 1;
            }
            p += 1;
        }
        // Reaching the end of both images counts as matching: the ends line up.
        let both_end = p >= self.lx && (p as i64 + shift) as usize == self.ly;
        m >= RESUME || (m > 0 && n == 0 && p >= limit) || (both_end && n <= TOLERANCE)
    }

    /// [`Self::resumes_fwd`], going back from `at`.
    fn resumes_back(&self, at: usize, limit: usize, shift: i64) -> bool {
        let (mut p, mut m, mut n) = (at, 0u32, 0usize);
        while p > limit && m < RESUME && n <= TOLERANCE {
            let i = self.mask.first_after((p - 1) as u64);
            if let Some(r) = self.mask.ranges.get(i).filter(|r| (r.0 as usize) < p) {
                p = (r.0 as usize).min(p - 1).max(limit);
                continue;
            }
            let q = p as i64 - 1 + shift;
            if q < 0 || q as usize >= self.ly {
                break;
            }
            if self.x[p - 1] == self.y[q as usize] {
                m += 1;
            } else {
                n += 1;
            }
            p -= 1;
        }
        let both_start = p == 0 && shift == 0;
        m >= RESUME || (m > 0 && n == 0 && p <= limit) || (both_start && n <= TOLERANCE)
    }

    /// Matching extended forward from `from` (up to `limit`) under `shift`; returns where it stops.
    /// Extension from an unverified origin (the start or end of the images) may not step over
    /// masked bytes until it has matched informative bytes itself: uniform padding matches under
    /// any shift and proves nothing about where the weights after it sit.
    fn extend_fwd(&self, from: usize, limit: usize, shift: i64, verified: bool) -> usize {
        let (mut p, mut good) = (from, from);
        let mut ev = Evidence::new(verified);
        let mut mi = self.mask.first_after(p as u64);
        while p < limit && self.in_y(p, shift) {
            if let Some(r) = self.mask.ranges.get(mi).filter(|r| r.0 as usize <= p) {
                if p != good || !ev.enough() {
                    // Masked bytes vouch for nothing after a mismatch: stop where matching stopped.
                    break;
                }
                let end = (r.1 as usize).min(limit);
                let y_room = (self.ly as i64 - shift).max(0) as usize;
                let next = end.min(y_room);
                // A masked range is claimed only when matching resumes right after it, or both
                // images end there: an edit may sit at either edge of unknown bytes.
                let resumes = self.resumes_fwd(next, limit, shift);
                let both_end = next == self.lx && (next as i64 + shift) as usize == self.ly;
                if !(resumes || both_end) {
                    break;
                }
                p = next;
                good = p;
                mi += 1;
                continue;
            }
            let stop = self
                .mask
                .ranges
                .get(mi)
                .map_or(limit, |r| (r.0 as usize).min(limit));
            let q = (p as i64 + shift) as usize;
            if p + 64 <= stop && q + 64 <= self.ly && self.x[p..p + 64] == self.y[q..q + 64] {
                ev.saw(&self.x[p..p + 64]);
                p += 64;
                good = p;
            } else if self.x[p] == self.y[q] {
                ev.saw(&self.x[p..p + 1]);
                p += 1;
                good = p;
            } else if p - good < TOLERANCE {
                p += 1;
            } else {
                break;
            }
        }
        good
    }

    /// [`Self::extend_fwd`], going back from `from` down to `limit`.
    fn extend_back(&self, from: usize, limit: usize, shift: i64, verified: bool) -> usize {
        let (mut p, mut good) = (from, from);
        let mut ev = Evidence::new(verified);
        while p > limit && self.in_y(p - 1, shift) {
            let i = self.mask.first_after((p - 1) as u64);
            if let Some(r) = self.mask.ranges.get(i).filter(|r| (r.0 as usize) < p) {
                if p != good || !ev.enough() {
                    break;
                }
                let start = (r.0 as usize).max(limit);
                let y_floor = (-shift).max(0) as usize;
                let next = start.max(y_floor);
                let resumes = self.resumes_back(next, limit, shift);
                let both_end = next == 0 && shift == 0;
                if !(resumes || both_end) {
                    break;
                }
                p = next;
                good = p;
                continue;
            }
            let q = (p as i64 - 1 + shift) as usize;
            if self.x[p - 1] == self.y[q] {
                ev.saw(&self.x[p - 1..p]);
                p -= 1;
                good = p;
            } else if good - p < TOLERANCE {
                p -= 1;
            } else {
                break;
            }
        }
        good
    }

    /// Unmasked bytes of [a, b) that differ under `shift`.
    fn mismatches(&self, a: usize, b: usize, shift: i64) -> u64 {
        let mut n = 0u64;
        let mut p = a;
        let mut mi = self.mask.first_after(a as u64);
        while p < b {
            if let Some(r) = self.mask.ranges.get(mi).filter(|r| r.0 as usize <= p) {
                p = (r.1 as usize).max(p);
                mi += 1;
                continue;
            }
            let stop = self
                .mask
                .ranges
                .get(mi)
                .map_or(b, |r| (r.0 as usize).min(b));
            let (q0, q1) = (p as i64 + shift, stop as i64 + shift);
            if q0 < 0 || q1 > self.ly as i64 {
                n += (stop - p) as u64;
            } else if self.x[p..stop] != self.y[q0 as usize..q1 as usize] {
                n += self.x[p..stop]
                    .iter()
                    .zip(&self.y[q0 as usize..q1 as usize])
                    .filter(|(u, v)| u != v)
                    .count() as u64;
            }
            p = stop;
        }
        n
    }

    /// Phase 2: Segments between anchors.
    fn segments_between_anchors(&self, placed: &[(usize, i64)]) -> Vec<Segment> {
        let mut segs: Vec<Segment> = Vec::new();
        // The start of both images and the end of both images act as anchors too (shift 0 and the
        // length difference), unverified: what they claim is only what extension confirms. They let a
        // plan whose weights are separated by nothing but zero padding still line up after an edit.
        let mut all: Vec<(usize, i64, usize)> = Vec::with_capacity(placed.len() + 2);
        if placed.first().is_none_or(|p| p.0 > 0) {
            all.push((0, 0, 0));
        }
        all.extend(placed.iter().map(|(a, s)| (*a, *s, K)));
        // Always, also after an anchor that ends right at the end of X: an anchor's own K bytes are
        // mapped by the window that starts at it, so the last anchor needs one after it.
        all.push((self.lx, self.delta, 0));
        for win in all.windows(2) {
            let ((a, sa, ka), (c, sc, kc)) = (win[0], win[1]);
            if sa == sc && ka > 0 && kc > 0 {
                // Two verified anchors agree: everything between maps with their shift.
                push_segment(a, c, sa, &mut segs);
                continue;
            }
            let f = self.extend_fwd(a + ka, c, sa, ka > 0);
            let g = self.extend_back(c, a + ka, sc, kc > 0);
            let (f, g) = if sa == sc && f >= g { (c, c) } else { (f, g) };
            if f <= g {
                // [f, g) is the edit: bytes of X with no counterpart.
                if f > a + ka || ka > 0 {
                    push_segment(a, f, sa, &mut segs);
                }
                push_segment(g, c, sc, &mut segs);
            } else if !self.mask.any_in(g as u64, f as u64) {
                // Both shifts fit the overlap: any split point is right.
                let mid = g + (f - g) / 2;
                push_segment(a, mid, sa, &mut segs);
                push_segment(mid, c, sc, &mut segs);
            } else {
                // Weight bytes that could sit on either side of the edit: leave them unmapped.
                push_segment(a, g, sa, &mut segs);
                push_segment(f, c, sc, &mut segs);
            }
        }
        segs
    }

    /// Phase 3: Weights no extension could claim (an edit sits right next to them). By monotonicity,
    /// the cluster of masked bytes between two claimed segments lies, in Y, between where those
    /// segments end and start. Every shift that fits it there is tried: a shift is consistent when
    /// all unmasked bytes inside the cluster (row padding, small gaps) match. The cluster is placed
    /// only when exactly one shift is consistent; without unmasked bytes inside, that means it fits
    /// the space exactly.
    fn place_unclaimed_clusters(&self, segs: &mut Vec<Segment>) {
        segs.sort_unstable_by_key(|s| s.x0);
        let mut extra: Vec<Segment> = Vec::new();
        let mut i = 0usize;
        loop {
            let x_lo = if i == 0 { 0 } else { segs[i - 1].x1 };
            let x_hi = segs.get(i).map_or(self.lx as u64, |s| s.x0);
            if x_lo < x_hi {
                let first = self.mask.first_after(x_lo);
                let inside: Vec<(u64, u64)> = self.mask.ranges[first..]
                    .iter()
                    .take_while(|r| r.0 < x_hi)
                    .map(|r| (r.0.max(x_lo), r.1.min(x_hi)))
                    .collect();
                if let (Some(c0), Some(c1)) =
                    (inside.first().map(|r| r.0), inside.last().map(|r| r.1))
                {
                    let y_lo = if i == 0 {
                        0
                    } else {
                        (segs[i - 1].x1 as i64 + segs[i - 1].shift) as u64
                    };
                    let y_hi = segs
                        .get(i)
                        .map_or(self.ly as u64, |s| (s.x0 as i64 + s.shift) as u64);
                    let clen = c1 - c0;
                    if y_hi >= y_lo + clen && y_hi - y_lo - clen <= MAX_SLACK {
                        // Unmasked bytes between the masked ranges of the cluster that differ.
                        let misfit = |shift: i64| -> usize {
                            inside
                                .windows(2)
                                .map(|w| {
                                    let (a, b) = (w[0].1 as usize, w[1].0 as usize);
                                    let q = (a as i64 + shift) as usize;
                                    self.x[a..b]
                                        .iter()
                                        .zip(&self.y[q..q + (b - a)])
                                        .filter(|(u, v)| u != v)
                                        .count()
                                })
                                .sum()
                        };
                        // The best shift must fit with at most a few in-place differences (a checksum
                        // between buffers), and strictly better than every other.
                        let mut best: Option<(usize, i64)> = None;
                        let mut tie = false;
                        for yy in y_lo..=y_hi - clen {
                            let shift = yy as i64 - c0 as i64;
                            let m = misfit(shift);
                            match best {
                                Some((bm, _)) if m > bm => {}
                                Some((bm, _)) if m == bm => tie = true,
                                _ => {
                                    best = Some((m, shift));
                                    tie = false;
                                }
                            }
                        }
                        if let (Some((m, shift)), false) = (best, tie) {
                            if m <= TOLERANCE {
                                extra.push(Segment {
                                    x0: c0,
                                    x1: c1,
                                    shift,
                                });
                            }
                        }
                    }
                }
            }
            if i >= segs.len() {
                break;
            }
            i += 1;
        }
        segs.extend(extra);
        segs.sort_unstable_by_key(|s| s.x0);
    }

    /// Phase 4: The segments, their Y ranges made disjoint, and the in-place differences they hold.
    fn finish(&self, segs: Vec<Segment>) -> Alignment {
        // Y ranges must not overlap (an over-eager extension across an edit could make them).
        let mut fixed: Vec<Segment> = Vec::with_capacity(segs.len());
        for s in segs {
            let mut s = s;
            if let Some(prev) = fixed.last() {
                let prev_y_end = prev.x1 as i64 + prev.shift;
                let y0 = s.x0 as i64 + s.shift;
                if y0 < prev_y_end {
                    s.x0 = (prev_y_end - s.shift) as u64;
                }
            }
            if s.x0 < s.x1 {
                fixed.push(s);
            }
        }
        let in_place: u64 = fixed
            .iter()
            .map(|s| self.mismatches(s.x0 as usize, s.x1 as usize, s.shift))
            .sum();
        Alignment {
            segments: fixed,
            in_place_mismatches: in_place,
            len_x: self.lx as u64,
            len_y: self.ly as u64,
        }
    }
}

/// Appends a segment, merged into the last one when it continues it.
fn push_segment(x0: usize, x1: usize, shift: i64, segs: &mut Vec<Segment>) {
    if x1 <= x0 {
        return;
    }
    if let Some(last) = segs.last_mut() {
        if last.shift == shift && last.x1 == x0 as u64 {
            last.x1 = x1 as u64;
            return;
        }
    }
    segs.push(Segment {
        x0: x0 as u64,
        x1: x1 as u64,
        shift,
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Extraction skips the alignment when the baseline equals the original outside the
    /// weights (`Baseline::equal_outside`) and takes the identity: the alignment finds that
    /// mapping there (in one segment or several touching ones), whatever the weights hold, wherever they sit (ends included), in noisy or
    /// repetitive plans.
    #[test]
    fn images_equal_outside_the_mask_align_as_the_identity() {
        for seed in 0..60u64 {
            let len = 2_000 + (seed as usize * 7_919) % 50_000;
            let mut x = if seed % 3 == 0 {
                vec![0x11u8; len]
            } else {
                noise(len, seed)
            };
            if seed % 5 == 0 {
                for (i, b) in x.iter_mut().enumerate() {
                    *b = (i % 64) as u8;
                }
            }
            let mut y = x.clone();
            let mut mask = Vec::new();
            let mut at = if seed % 2 == 0 {
                0
            } else {
                5 + seed as usize % 300
            };
            let mut k = 0u64;
            while at < len {
                let n = (37 + (seed as usize * 131 + at) % 4_000).min(len - at);
                x[at..at + n].fill(0);
                let vals = noise(n, seed * 1_000 + k);
                y[at..at + n].copy_from_slice(&vals);
                mask.push((at as u64, (at + n) as u64));
                at += n + 1 + (seed as usize * 17 + at) % 700;
                k += 1;
            }
            // The same mapping: touching segments of one shift read as one.
            let a = align(&x, &y, &mask);
            let mut spans: Vec<(u64, u64, i64)> = Vec::new();
            for g in &a.segments {
                match spans.last_mut() {
                    Some(l) if l.1 == g.x0 && l.2 == g.shift => l.1 = g.x1,
                    _ => spans.push((g.x0, g.x1, g.shift)),
                }
            }
            assert_eq!(spans, vec![(0, len as u64, 0)], "seed {seed}");
            assert_eq!(
                (a.in_place_mismatches, a.len_x, a.len_y),
                (0, len as u64, len as u64),
                "seed {seed}"
            );
        }
    }

    /// Deterministic "kernel" bytes.
    fn noise(n: usize, seed: u64) -> Vec<u8> {
        let mut s = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
        (0..n)
            .map(|_| {
                s ^= s << 13;
                s ^= s >> 7;
                s ^= s << 17;
                (s >> 24) as u8
            })
            .collect()
    }

    #[test]
    fn identical_images_align_as_identity() {
        let x = noise(100_000, 1);
        let a = align(&x, &x, &[]);
        assert!(a.is_identity(), "{a:?}");
        assert_eq!(a.in_place_mismatches, 0);
    }

    #[test]
    fn masked_weights_are_ignored_and_mapped() {
        let mut x = noise(50_000, 2);
        let y = x.clone();
        x[10_000..12_000].fill(0); // baseline zeros where Y holds real values
        let a = align(&x, &y, &[(10_000, 12_000)]);
        assert!(a.is_identity());
        assert_eq!(a.map_range(10_000, 12_000), Some(10_000));
    }

    #[test]
    fn an_inserted_block_and_a_changed_length_field_are_handled() {
        // Y (original) = header | A | W1 | B | W2 | C ; X (refitted) has 3000 extra bytes after
        // B and a different length field in the header.
        let header = noise(64, 3);
        let (a, w1, b, w2, c) = (
            noise(9000, 4),
            noise(4000, 5),
            noise(7000, 6),
            noise(5000, 7),
            noise(8000, 8),
        );
        let mut y = Vec::new();
        for part in [&header, &a, &w1, &b, &w2, &c] {
            y.extend_from_slice(part);
        }
        let mut x = Vec::new();
        let mut hx = header.clone();
        hx[16..24].copy_from_slice(&(12345u64).to_le_bytes());
        x.extend_from_slice(&hx);
        x.extend_from_slice(&a);
        let w1_at = x.len();
        x.extend(std::iter::repeat_n(0u8, w1.len()));
        x.extend_from_slice(&b);
        x.extend_from_slice(&noise(3000, 9));
        let w2_at = x.len();
        x.extend(std::iter::repeat_n(0u8, w2.len()));
        x.extend_from_slice(&c);
        let mask = [
            (w1_at as u64, (w1_at + w1.len()) as u64),
            (w2_at as u64, (w2_at + w2.len()) as u64),
        ];
        let al = align(&x, &y, &mask);
        assert_eq!(al.map_range(mask[0].0, mask[0].1), Some(w1_at as u64));
        assert_eq!(
            al.map_range(mask[1].0, mask[1].1),
            Some(w2_at as u64 - 3000)
        );
        assert_eq!(al.unmapped_x(), 3000);
        assert!(al.in_place_mismatches <= 8, "{}", al.in_place_mismatches);
    }

    #[test]
    fn weights_next_to_the_edit_are_placed_by_their_neighbours() {
        // X: K0 | W | INS | K1 ; Y: K0 | W | K1  -- W masked, right before the insertion.
        let (k0, k1) = (noise(10_000, 10), noise(10_000, 11));
        let w = noise(3000, 12);
        let mut y = k0.clone();
        y.extend_from_slice(&w);
        y.extend_from_slice(&k1);
        let mut x = k0.clone();
        x.extend(std::iter::repeat_n(0u8, 3000));
        x.extend_from_slice(&noise(500, 13));
        x.extend_from_slice(&k1);
        let mask = [(10_000u64, 13_000u64)];
        let al = align(&x, &y, &mask);
        assert_eq!(al.map_range(10_000, 13_000), Some(10_000));
    }

    #[test]
    fn weights_absent_from_y_map_nowhere() {
        // Stripped original: Y lacks the weight bytes entirely.
        let (k0, k1) = (noise(10_000, 14), noise(10_000, 15));
        let mut y = k0.clone();
        y.extend_from_slice(&k1);
        let mut x = k0.clone();
        x.extend(std::iter::repeat_n(0u8, 4000));
        x.extend_from_slice(&k1);
        let al = align(&x, &y, &[(10_000, 14_000)]);
        assert_eq!(al.map_range(10_000, 14_000), None);
        assert_eq!(al.map(500), Some(500));
        assert_eq!(al.map(15_000), Some(11_000));
    }

    #[test]
    fn unrelated_images_map_nothing() {
        let al = align(&noise(20_000, 16), &noise(20_000, 17), &[]);
        assert!(
            al.segments.iter().map(|s| s.x1 - s.x0).sum::<u64>() < 100,
            "{al:?}"
        );
    }
}
