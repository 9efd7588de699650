//! Marker passes kept as they arrive: each one is folded into compressed differences from the zero
//! baseline and a bitmap of the 16-byte chunks any pass changed, and the image itself is dropped.
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

use std::borrow::Cow;

use crate::pipeline::par;

/// Bytes per compressed block: as large as LZ4's window (64 KiB), so it finds the markers'
/// periods; small enough that unpacking a window decompresses little beyond it, and that a
/// window per image per thread (at least a block) stays a small share of small plans on many
/// threads.
pub const BLOCK: usize = 64 << 10;

/// Bytes per bit of the changed-chunk bitmap.
pub const CHUNK: usize = 16;

/// One pass: its compressed blocks (the XOR of the pass and the baseline).
struct PackedPass {
    blocks: Vec<Vec<u8>>,
}

/// Every marker pass of one extraction, packed.
pub struct Packed {
    len: usize,
    passes: Vec<PackedPass>,
    /// Bit `k` set: some byte of chunk `k` (bytes `[16k, 16k + 16)`) differs from the baseline in
    /// some pass. Chunks, not bytes: what it is for is finding places to cut the plan at (two
    /// unchanged chunks in a row), and a bit per byte would cost an eighth of the engine.
    changed: Vec<u64>,
}

impl Packed {
    /// An empty set of passes for images of `len` bytes.
    pub fn new(len: usize) -> Packed {
        Packed {
            len,
            passes: Vec::new(),
            changed: vec![0; len.div_ceil(CHUNK).div_ceil(64)],
        }
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
    pub fn add(&mut self, base: &Baseline<'_>, img: &[u8]) {
        assert_eq!(base.len(), self.len, "the baseline of these passes");
        assert_eq!(img.len(), self.len, "a pass of the baseline's length");
        let nblocks = self.len.div_ceil(BLOCK);
        let parts = par::map(nblocks, |k| {
            let (a, b) = (k * BLOCK, ((k + 1) * BLOCK).min(self.len));
            ADD.with_borrow_mut(|(base_buf, delta)| {
                let base = base.window_in(a, b, base_buf);
                delta.clear();
                delta.extend_from_slice(&img[a..b]);
                xor_into(delta, base);
                let mask = chunk_mask(delta);
                (pack_block(delta, &mask), mask)
            })
        });
        let mut blocks = Vec::with_capacity(nblocks);
        for (k, (block, mask)) in parts.into_iter().enumerate() {
            // BLOCK is a multiple of 64 chunks: block k's bits start at word k * BLOCK / CHUNK / 64.
            let w0 = k * (BLOCK / CHUNK / 64);
            for (dst, m) in self.changed[w0..w0 + mask.len()].iter_mut().zip(mask) {
                *dst |= m;
            }
            blocks.push(block);
        }
        self.passes.push(PackedPass { blocks });
    }

    /// Whether chunk `k` (bytes `[16k, 16k + 16)`) is the baseline's in every pass.
    #[inline]
    pub fn chunk_unchanged(&self, k: usize) -> bool {
        self.changed[k / 64] >> (k % 64) & 1 == 0
    }

    /// Pass `p`'s bytes `[from, to)` into `out` (replaced), rebuilt from its blocks and the
    /// baseline's same bytes.
    pub fn unpack_into(&self, p: usize, base: &[u8], from: usize, to: usize, out: &mut Vec<u8>) {
        assert_eq!(base.len(), to - from, "the baseline's bytes [from, to)");
        unpack_blocks(&self.passes[p].blocks, self.len, from, to, Some(base), out);
    }

    /// [`Self::unpack_into`] a new vector.
    #[cfg(test)]
    pub fn unpack(&self, p: usize, base: &[u8], from: usize, to: usize) -> Vec<u8> {
        let mut out = Vec::new();
        self.unpack_into(p, base, from, to, &mut out);
        out
    }

    /// Bytes of compressed blocks.
    pub fn compressed_bytes(&self) -> u64 {
        self.passes
            .iter()
            .flat_map(|p| p.blocks.iter().map(|b| b.len() as u64))
            .sum()
    }

    /// Bytes held: the compressed blocks and the bitmap (1/128 of the image).
    pub fn held_bytes(&self) -> u64 {
        self.compressed_bytes() + self.changed.len() as u64 * 8
    }
}

/// Bytes per line of a block: lines of zeros are only a bit in the block's line mask.
const LINE: usize = 64;

/// Whether every byte is zero, eight at a time (no early exit: the loop vectorises).
pub(crate) fn is_zero(bytes: &[u8]) -> bool {
    let mut words = bytes.chunks_exact(8);
    let acc = words.by_ref().fold(0u64, |a, w| {
        a | u64::from_le_bytes(w.try_into().expect("8 bytes"))
    });
    acc == 0 && words.remainder().iter().all(|&b| b == 0)
}

/// Bit `k` (of little-endian u64 words) set: [`CHUNK`] `k` of `data` is not all zeros.
fn chunk_mask(data: &[u8]) -> Vec<u64> {
    data.chunks(64 * CHUNK)
        .map(|c| {
            c.chunks(CHUNK)
                .enumerate()
                .fold(0u64, |m, (i, c)| m | (u64::from(!is_zero(c)) << i))
        })
        .collect()
}

/// One block: the mask of its non-zero [`LINE`]s (little-endian u64 words), then those lines,
/// LZ4-compressed. Zero lines are common (the baseline's weights, a pass's bytes outside them)
/// and LZ4 would decode them as one-byte back-references, a byte at a time. `chunks` is
/// [`chunk_mask`] of `data`: a line is non-zero when one of its chunks is (no second scan).
fn pack_block(data: &[u8], chunks: &[u64]) -> Vec<u8> {
    const PER_LINE: usize = LINE / CHUNK;
    const _: () = assert!(64 % PER_LINE == 0, "a line's chunk bits sit in one word");
    let lines = data.len().div_ceil(LINE);
    let mut mask = vec![0u64; lines.div_ceil(64)];
    let mut dense = Vec::with_capacity(data.len());
    for (i, l) in data.chunks(LINE).enumerate() {
        let bit = i * PER_LINE;
        if (chunks[bit / 64] >> (bit % 64)) & ((1 << PER_LINE) - 1) != 0 {
            mask[i / 64] |= 1 << (i % 64);
            dense.extend_from_slice(l);
        }
    }
    let mut out: Vec<u8> = mask.iter().flat_map(|w| w.to_le_bytes()).collect();
    // LZ4's own library (the `lz4` crate builds it): its decoder copies the markers' short
    // back-references several times faster than the pure-Rust one.
    out.extend(
        lz4::block::compress(&dense, Some(lz4::block::CompressionMode::FAST(8)), false)
            .expect("a block of at most 64 KiB compresses"),
    );
    out
}

thread_local! {
    /// The baseline's block and the difference being packed, reused across blocks.
    static ADD: std::cell::RefCell<(Vec<u8>, Vec<u8>)> = const { std::cell::RefCell::new((Vec::new(), Vec::new())) };
}

thread_local! {
    /// The non-zero lines of the block being unpacked, reused (no page faults per block).
    static DENSE: std::cell::RefCell<Vec<u8>> = const { std::cell::RefCell::new(Vec::new()) };
}

/// Unpacks a [`pack_block`] block into `out` (the block's length), XORed with `xor` (the same
/// length) when given. A block whose lines are all non-zero (a weight's markers) decompresses
/// straight into `out`; otherwise runs of non-zero lines are copied from the decompressed lines
/// and runs of zero lines filled (or copied from `xor`), each at once.
fn unpack_block(packed: &[u8], xor: Option<&[u8]>, out: &mut [u8]) {
    let len = out.len();
    if len == 0 {
        return;
    }
    debug_assert!(xor.is_none_or(|x| x.len() == len));
    let lines = len.div_ceil(LINE);
    let words = lines.div_ceil(64);
    let mask: Vec<u64> = packed[..8 * words]
        .chunks_exact(8)
        .map(|c| u64::from_le_bytes(c.try_into().expect("8 bytes")))
        .collect();
    let full: usize = mask.iter().map(|w| w.count_ones() as usize).sum();
    let decompress = |into: &mut [u8]| {
        let size = i32::try_from(into.len()).expect("a block is at most 64 KiB");
        let got = lz4::block::decompress_to_buffer(&packed[8 * words..], Some(size), into)
            .expect("a block this process compressed decompresses");
        debug_assert_eq!(got, into.len());
    };
    if full == lines {
        decompress(out);
        if let Some(x) = xor {
            xor_into(out, x);
        }
        return;
    }
    if full == 0 {
        match xor {
            None => out.fill(0),
            Some(x) => out.copy_from_slice(x),
        }
        return;
    }
    let set = |i: usize| mask[i / 64] >> (i % 64) & 1 == 1;
    DENSE.with_borrow_mut(|dense| {
        // Every set line is whole but the last line of the block, which may be short.
        let n = full * LINE
            - if set(lines - 1) {
                lines * LINE - len
            } else {
                0
            };
        // Only grown, never cleared: LZ4 writes all `n` bytes.
        dense.resize(n, 0);
        decompress(&mut dense[..n]);
        let (mut i, mut at) = (0usize, 0usize);
        while i < lines {
            let on = set(i);
            let j = run_end(&mask, i, lines, on);
            let (a, b) = (i * LINE, (j * LINE).min(len));
            match (on, xor) {
                (true, None) => out[a..b].copy_from_slice(&dense[at..at + (b - a)]),
                (true, Some(x)) => {
                    out[a..b].copy_from_slice(&dense[at..at + (b - a)]);
                    xor_into(&mut out[a..b], &x[a..b]);
                }
                (false, None) => out[a..b].fill(0),
                (false, Some(x)) => out[a..b].copy_from_slice(&x[a..b]),
            }
            if on {
                at += b - a;
            }
            i = j;
        }
    });
}

/// One past the last line of the run of lines from `i` whose mask bit is `on`, a word at a time.
fn run_end(mask: &[u64], mut i: usize, lines: usize, on: bool) -> usize {
    while i < lines {
        let w = mask[i / 64] >> (i % 64);
        let same = if on {
            w.trailing_ones()
        } else {
            w.trailing_zeros()
        } as usize;
        let left = 64 - i % 64;
        if same < left {
            return (i + same).min(lines);
        }
        i += left;
    }
    lines
}

/// `out ^= x`, byte for byte (two plain slices: the loop vectorises).
fn xor_into(out: &mut [u8], x: &[u8]) {
    for (o, x) in out.iter_mut().zip(x) {
        *o ^= *x;
    }
}

thread_local! {
    /// A whole block, for blocks only partly inside what is unpacked.
    static PART: std::cell::RefCell<Vec<u8>> = const { std::cell::RefCell::new(Vec::new()) };
}

/// Bytes `[from, to)` of an image of `len` bytes packed in [`BLOCK`]s, XORed with `xor` (that
/// many bytes) when given, into `out` (replaced; every byte is written, so it is only grown,
/// never cleared).
fn unpack_blocks(
    blocks: &[Vec<u8>],
    len: usize,
    from: usize,
    to: usize,
    xor: Option<&[u8]>,
    out: &mut Vec<u8>,
) {
    out.resize(to - from, 0);
    let mut k = from / BLOCK;
    while k * BLOCK < to {
        let (a, b) = (k * BLOCK, ((k + 1) * BLOCK).min(len));
        let (lo, hi) = (from.max(a), to.min(b));
        if (lo, hi) == (a, b) {
            unpack_block(
                &blocks[k],
                xor.map(|x| &x[lo - from..hi - from]),
                &mut out[lo - from..hi - from],
            );
        } else {
            PART.with_borrow_mut(|part| {
                part.resize(b - a, 0);
                unpack_block(&blocks[k], None, part);
                out[lo - from..hi - from].copy_from_slice(&part[lo - a..hi - a]);
                if let Some(x) = xor {
                    xor_into(&mut out[lo - from..hi - from], &x[lo - from..hi - from]);
                }
            });
        }
        k += 1;
    }
}

thread_local! {
    /// A block of the baseline being compared ([`Baseline::equal_outside`]).
    static COMPARED: std::cell::RefCell<Vec<u8>> = const { std::cell::RefCell::new(Vec::new()) };
}

/// An image compressed in blocks: the zero baseline, whose weights are zeros.
pub struct PackedImage {
    len: usize,
    blocks: Vec<Vec<u8>>,
}

impl PackedImage {
    pub fn new(img: &[u8]) -> PackedImage {
        let len = img.len();
        let blocks = par::map(len.div_ceil(BLOCK), |k| {
            let block = &img[k * BLOCK..((k + 1) * BLOCK).min(len)];
            pack_block(block, &chunk_mask(block))
        });
        PackedImage { len, blocks }
    }

    pub fn compressed_bytes(&self) -> u64 {
        self.blocks.iter().map(|b| b.len() as u64).sum()
    }
}

/// The zero baseline: packed when extraction keeps its images in memory, otherwise as the
/// scratch keeps it (a file mapping).
pub enum Baseline<'a> {
    Whole(&'a [u8]),
    Packed(PackedImage),
}

impl Baseline<'_> {
    pub fn len(&self) -> usize {
        match self {
            Baseline::Whole(b) => b.len(),
            Baseline::Packed(p) => p.len,
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Bytes `[from, to)`, borrowed, or unpacked into `buf`.
    pub fn window_in<'s>(&'s self, from: usize, to: usize, buf: &'s mut Vec<u8>) -> &'s [u8] {
        match self {
            Baseline::Whole(b) => &b[from..to],
            Baseline::Packed(p) => {
                unpack_blocks(&p.blocks, p.len, from, to, None, buf);
                buf
            }
        }
    }

    /// Every byte (unpacked a block per thread).
    pub fn whole(&self) -> Cow<'_, [u8]> {
        match self {
            Baseline::Whole(b) => Cow::Borrowed(b),
            Baseline::Packed(p) => {
                let mut out = vec![0u8; p.len];
                let mut parts: Vec<&mut [u8]> = out.chunks_mut(BLOCK).collect();
                par::for_each_mut(&mut parts, |k, part| unpack_block(&p.blocks[k], None, part));
                Cow::Owned(out)
            }
        }
    }

    /// Whether `other` (as long) holds the same bytes everywhere outside `mask` (sorted,
    /// disjoint ranges), compared a block per thread without unpacking the whole.
    pub fn equal_outside(&self, other: &[u8], mask: &[(u64, u64)]) -> bool {
        if other.len() != self.len() {
            return false;
        }
        let len = self.len();
        let differs = par::map(len.div_ceil(BLOCK), |k| {
            let (a, b) = (k * BLOCK, ((k + 1) * BLOCK).min(len));
            COMPARED.with_borrow_mut(|buf| {
                let mine = self.window_in(a, b, buf);
                let mut at = a;
                let mut i = mask.partition_point(|r| r.1 as usize <= a);
                while at < b {
                    let stop = mask.get(i).map_or(b, |r| (r.0 as usize).clamp(at, b));
                    if mine[at - a..stop - a] != other[at..stop] {
                        return true;
                    }
                    at = mask.get(i).map_or(b, |r| (r.1 as usize).clamp(stop, b));
                    i += 1;
                }
                false
            })
        });
        !differs.into_iter().any(|d| d)
    }

    /// Byte `x`, unpacking (and keeping) the block that holds it: for reading a few scattered
    /// bytes, as the proof does where the refitted image differs from the original.
    pub fn byte_reader(&self) -> impl Fn(u64) -> u8 + '_ {
        let last: std::cell::RefCell<(usize, Vec<u8>)> =
            std::cell::RefCell::new((usize::MAX, Vec::new()));
        move |x: u64| {
            let x = x as usize;
            match self {
                Baseline::Whole(b) => b[x],
                Baseline::Packed(p) => {
                    let mut last = last.borrow_mut();
                    let k = x / BLOCK;
                    if last.0 != k {
                        let (a, b) = (k * BLOCK, ((k + 1) * BLOCK).min(p.len));
                        unpack_blocks(&p.blocks, p.len, a, b, None, &mut last.1);
                        last.0 = k;
                    }
                    last.1[x - k * BLOCK]
                }
            }
        }
    }

    /// Bytes held in memory for it (0 for a file mapping).
    pub fn held_bytes(&self) -> u64 {
        match self {
            Baseline::Whole(_) => 0,
            Baseline::Packed(p) => p.compressed_bytes(),
        }
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

    /// The packed baseline read whole, byte by byte, and compared outside a mask, as the
    /// extraction reads it: over several blocks, with zero runs (weights) and a short last block.
    #[test]
    fn a_packed_baseline_reads_and_compares_as_its_bytes() {
        let len = 3 * BLOCK + 1234;
        let mut img = image(len, 5);
        let mask: Vec<(u64, u64)> = vec![
            (0, 100),
            (1000, 5000),
            (BLOCK as u64 - 10, BLOCK as u64 + 10),
            (2 * BLOCK as u64, 3 * BLOCK as u64 + 7),
        ];
        for &(a, b) in &mask {
            img[a as usize..b as usize].fill(0);
        }
        let base = Baseline::Packed(PackedImage::new(&img));
        assert_eq!(&*base.whole(), &img[..]);
        let read = base.byte_reader();
        for x in [
            0,
            1,
            999,
            5000,
            BLOCK - 1,
            BLOCK,
            2 * BLOCK + 3,
            len - 1,
            17,
            BLOCK + 5,
        ] {
            assert_eq!(read(x as u64), img[x], "byte {x}");
        }
        // Weights' values differ from the baseline's zeros: still equal outside them.
        let mut other = img.clone();
        for &(a, b) in &mask {
            other[a as usize..b as usize].fill(0x77);
        }
        assert!(base.equal_outside(&other, &mask));
        assert!(Baseline::Whole(&img).equal_outside(&other, &mask));
        // One byte outside them differs, wherever it is: not equal.
        for x in [
            100,
            999,
            5000,
            BLOCK - 11,
            BLOCK + 10,
            3 * BLOCK + 7,
            len - 1,
        ] {
            let mut o = other.clone();
            o[x] ^= 1;
            assert!(!base.equal_outside(&o, &mask), "byte {x}");
        }
        assert!(!base.equal_outside(&other[1..], &mask), "another length");
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
        for baseline in [
            Baseline::Whole(&base),
            Baseline::Packed(PackedImage::new(&base)),
        ] {
            let mut p = Packed::new(len);
            p.add(&baseline, &a);
            p.add(&baseline, &b);
            assert_eq!(p.passes(), 2);
            assert_eq!(baseline.whole(), &base[..]);
            for (from, to) in [
                (0, len),
                (BLOCK - 3, BLOCK + 3),
                (len - 1, len),
                (5, 5),
                (0, 1),
            ] {
                let mut buf = Vec::new();
                let bw = baseline.window_in(from, to, &mut buf).to_vec();
                assert_eq!(&bw[..], &base[from..to]);
                assert_eq!(p.unpack(0, &bw, from, to), &a[from..to], "{from}..{to}");
                assert_eq!(p.unpack(1, &bw, from, to), &b[from..to], "{from}..{to}");
            }
        }
        let mut p = Packed::new(len);
        p.add(&Baseline::Whole(&base), &a);
        p.add(&Baseline::Whole(&base), &b);
        for k in 0..len.div_ceil(CHUNK) {
            let same =
                (k * CHUNK..((k + 1) * CHUNK).min(len)).all(|i| a[i] == base[i] && b[i] == base[i]);
            assert_eq!(p.chunk_unchanged(k), same, "chunk {k}");
        }
    }

    #[test]
    fn blocks_of_zeros_and_of_anything_round_trip() {
        let mut sparse = vec![0u8; 5000];
        sparse[4999] = 1;
        sparse[64] = 9;
        for data in [
            vec![],
            vec![0u8; 1],
            vec![0u8; BLOCK],
            image(BLOCK, 7),
            image(100, 11),
            sparse,
        ] {
            let packed = pack_block(&data, &chunk_mask(&data));
            let mut out = vec![0xAAu8; data.len()];
            unpack_block(&packed, None, &mut out);
            assert_eq!(out, data, "{} bytes", data.len());
        }
    }

    #[test]
    fn regular_marker_images_pack_small() {
        // An fp32 weight's pass-0 markers (a digit cycling through 128 values) over a zero
        // baseline: a few percent of its size.
        let n = 4 << 20;
        let base = vec![0u8; n];
        let img: Vec<u8> = (0..n / 4)
            .flat_map(|i| [0x6D, 0x0B, (i % 128) as u8, 0x43])
            .collect();
        let packed_base = PackedImage::new(&base);
        assert!(
            packed_base.compressed_bytes() < n as u64 / 200,
            "{}",
            packed_base.compressed_bytes()
        );
        let mut p = Packed::new(n);
        p.add(&Baseline::Packed(packed_base), &img);
        assert!(
            p.compressed_bytes() < n as u64 / 50,
            "{} of {n}",
            p.compressed_bytes()
        );
        // Every marker pass of an fp16, a byte and a transposed fp32 weight of 1 M elements,
        // built by the code books themselves.
        use crate::dtype::DataType;
        for (dtype, transposed) in [
            (DataType::Half, false),
            (DataType::Int8, false),
            (DataType::Fp8, false),
            (DataType::Float, true),
        ] {
            let count = 1u64 << 20;
            let size = (dtype.bits() / 8) as usize;
            let passes = crate::pipeline::code::Class::of(dtype)
                .passes_needed(count)
                .max(2);
            let len = count as usize * size;
            let zero = vec![0u8; len];
            let mut p = Packed::new(len);
            for pass in 0..passes {
                let mut img = vec![0u8; len];
                crate::pipeline::code::fill_markers(dtype, 0, count, pass, &mut img);
                if transposed {
                    // A 1024 x 1024 matrix stored column by column.
                    let src = img.clone();
                    for (k, dst) in img.chunks_mut(size).enumerate() {
                        let i = (k % 1024) * 1024 + k / 1024;
                        dst.copy_from_slice(&src[i * size..(i + 1) * size]);
                    }
                }
                p.add(&Baseline::Whole(&zero), &img);
            }
            let per_pass = p.compressed_bytes() as f64 / passes as f64 / len as f64;
            assert!(
                per_pass < 0.05,
                "{dtype:?} transposed {transposed}: {per_pass:.3} of the image per pass"
            );
        }
        assert_eq!(p.held_bytes(), p.compressed_bytes() + n as u64 / 128);
    }
}
