//! Marker passes kept as they arrive: each one is folded into compressed differences from the zero
//! baseline and a bitmap of the bytes any pass changed, and the image itself is dropped.
//!
//! Why not a per-position identity accumulator: decoding (`decode/tiling.rs`) stays exact by
//! trying, at every changed byte, every way TensorRT may store an element there (fp32, fp16,
//! bf16, a byte, a nibble, ...), each reading other bytes of every pass. An accumulator would need
//! one partial identity per position *and* per interpretation, several times the engine. The
//! differences hold exactly the same information in far less room, because marker images are
//! regular where they differ from the baseline: a pass's digit repeats with a period of 128 or
//! 256 elements or stays constant over as many (transposed and blocked orders keep periods of
//! their own), and where they do not differ the XOR is zero. LZ4 turns both into back-references,
//! so a pass costs a few percent of the engine (measured by the bench as `ours.tool_over_engine`).
//! Decoding then unpacks one piece of the plan at a time (`decode::decode_packed`).

use crate::pipeline::par;

/// Bytes per compressed block: large enough for LZ4 to find the markers' periods, small enough
/// that unpacking a piece decompresses little beyond it.
pub const BLOCK: usize = 1 << 20;

/// One pass: its compressed blocks (the XOR of the pass and the baseline).
struct PackedPass {
    blocks: Vec<Vec<u8>>,
}

/// Every marker pass of one extraction, packed.
pub struct Packed {
    len: usize,
    passes: Vec<PackedPass>,
    /// Bit `i` set: byte `i` differs from the baseline in some pass.
    changed: Vec<u64>,
}

impl Packed {
    /// An empty set of passes for images of `len` bytes.
    pub fn new(len: usize) -> Packed {
        Packed { len, passes: Vec::new(), changed: vec![0; len.div_ceil(64)] }
    }

    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    pub fn passes(&self) -> usize {
        self.passes.len()
    }

    /// Folds one pass in (its blocks in parallel). `img` must have the baseline's length.
    pub fn add(&mut self, base: &[u8], img: &[u8]) {
        assert_eq!(base.len(), self.len, "the baseline of these passes");
        assert_eq!(img.len(), self.len, "a pass of the baseline's length");
        let nblocks = self.len.div_ceil(BLOCK);
        let parts = par::map(nblocks, |k| {
            let (a, b) = (k * BLOCK, ((k + 1) * BLOCK).min(self.len));
            let delta: Vec<u8> = img[a..b].iter().zip(&base[a..b]).map(|(x, y)| x ^ y).collect();
            let mask: Vec<u64> = delta
                .chunks(64)
                .map(|c| c.iter().enumerate().fold(0u64, |m, (i, &x)| m | (u64::from(x != 0) << i)))
                .collect();
            (lz4_flex::block::compress(&delta), mask)
        });
        let mut blocks = Vec::with_capacity(nblocks);
        for (k, (block, mask)) in parts.into_iter().enumerate() {
            // BLOCK is a multiple of 64: block k's bits start at word k * BLOCK / 64.
            let w0 = k * (BLOCK / 64);
            for (dst, m) in self.changed[w0..w0 + mask.len()].iter_mut().zip(mask) {
                *dst |= m;
            }
            blocks.push(block);
        }
        self.passes.push(PackedPass { blocks });
    }

    /// Whether byte `i` is the baseline's in every pass.
    #[inline]
    pub fn unchanged(&self, i: usize) -> bool {
        self.changed[i / 64] >> (i % 64) & 1 == 0
    }

    /// The first position `>= from` and `< limit` that starts `need` bytes unchanged in every
    /// pass (all inside `[from, limit)`), word by word.
    pub fn unchanged_run(&self, from: usize, limit: usize, need: usize) -> Option<usize> {
        let limit = limit.min(self.len);
        let mut i = from;
        let mut start = from;
        while i < limit {
            let w = self.changed[i / 64] >> (i % 64);
            let left = (64 - i % 64).min(limit - i);
            let zeros = (w.trailing_zeros() as usize).min(left);
            i += zeros;
            if i - start >= need {
                return Some(start);
            }
            if zeros == left {
                continue;
            }
            // A changed byte at i: skip it and the changed bytes right after it.
            let ones = ((w >> zeros).trailing_ones() as usize).min(left - zeros).max(1);
            i += ones;
            start = i;
        }
        None
    }

    /// Pass `p`'s bytes `[from, to)`, rebuilt from its blocks and the baseline.
    pub fn unpack(&self, p: usize, base: &[u8], from: usize, to: usize) -> Vec<u8> {
        let mut out = Vec::with_capacity(to - from);
        let mut block = vec![0u8; BLOCK];
        let mut k = from / BLOCK;
        while k * BLOCK < to {
            let (a, b) = (k * BLOCK, ((k + 1) * BLOCK).min(self.len));
            let n = lz4_flex::block::decompress_into(&self.passes[p].blocks[k], &mut block[..b - a])
                .expect("a block this process compressed decompresses");
            debug_assert_eq!(n, b - a);
            let (lo, hi) = (from.max(a), to.min(b));
            out.extend(block[lo - a..hi - a].iter().zip(&base[lo..hi]).map(|(d, x)| d ^ x));
            k += 1;
        }
        out
    }

    /// Bytes of compressed blocks.
    pub fn compressed_bytes(&self) -> u64 {
        self.passes.iter().flat_map(|p| p.blocks.iter().map(|b| b.len() as u64)).sum()
    }

    /// Bytes held: the compressed blocks and the bitmap (an eighth of the image).
    pub fn held_bytes(&self) -> u64 {
        self.compressed_bytes() + self.changed.len() as u64 * 8
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn image(len: usize, seed: u64) -> Vec<u8> {
        let mut x = seed | 1;
        (0..len)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                x as u8
            })
            .collect()
    }

    #[test]
    fn passes_unpack_to_what_went_in_across_blocks() {
        let len = 2 * BLOCK + 777;
        let base = image(len, 3);
        let mut a = base.clone();
        for i in (BLOCK - 100..BLOCK + 100).chain(len - 5..len).chain(10..20) {
            a[i] ^= 0x5A;
        }
        let b = image(len, 9);
        let mut p = Packed::new(len);
        p.add(&base, &a);
        p.add(&base, &b);
        assert_eq!(p.passes(), 2);
        for (from, to) in [(0, len), (BLOCK - 3, BLOCK + 3), (len - 1, len), (5, 5), (0, 1)] {
            assert_eq!(p.unpack(0, &base, from, to), &a[from..to], "{from}..{to}");
            assert_eq!(p.unpack(1, &base, from, to), &b[from..to], "{from}..{to}");
        }
        for i in 0..len {
            assert_eq!(p.unchanged(i), a[i] == base[i] && b[i] == base[i], "{i}");
        }
    }

    #[test]
    fn unchanged_runs_are_found_exactly() {
        let len = 5000;
        let base = vec![0u8; len];
        let mut img = vec![0u8; len];
        let changed: Vec<usize> = (0..len).filter(|i| i % 37 == 0 || (1000..1700).contains(i) || i % 200 < 3).collect();
        for &i in &changed {
            img[i] = 1;
        }
        let mut p = Packed::new(len);
        p.add(&base, &img);
        let slow = |from: usize, limit: usize, need: usize| -> Option<usize> {
            let mut streak = 0;
            for i in from..limit.min(len) {
                if img[i] == 0 {
                    streak += 1;
                    if streak == need {
                        return Some(i + 1 - need);
                    }
                } else {
                    streak = 0;
                }
            }
            None
        };
        for from in (0..len).step_by(13) {
            for need in [1, 5, 32, 36, 40] {
                for limit in [from + 50, from + 700, len] {
                    assert_eq!(p.unchanged_run(from, limit, need), slow(from, limit, need), "{from} {limit} {need}");
                }
            }
        }
    }

    #[test]
    fn regular_marker_images_pack_small() {
        // An fp32 weight's pass-0 markers (a digit cycling through 128 values) over a zero
        // baseline: a few percent of its size.
        let n = 4 << 20;
        let base = vec![0u8; n];
        let img: Vec<u8> = (0..n / 4).flat_map(|i| [0x6D, 0x0B, (i % 128) as u8, 0x43]).collect();
        let mut p = Packed::new(n);
        p.add(&base, &img);
        assert!(p.compressed_bytes() < n as u64 / 50, "{} of {n}", p.compressed_bytes());
        assert_eq!(p.held_bytes(), p.compressed_bytes() + n as u64 / 8);
    }
}
