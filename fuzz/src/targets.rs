//! The fuzz targets of trt-dump as plain functions of one byte slice each.
//!
//! Two drivers call them: the libFuzzer binaries in `fuzz/fuzz_targets/` (through cargo-fuzz, see
//! `fuzz/run-ci.sh`), and `tests/io/reliability_fuzz_corpus.rs`, which replays every file of
//! `fuzz/corpus/<target>/` on stable Rust in the ordinary `cargo test` (so every finding added to
//! the corpus stays a regression test). This file is included by `#[path]` from both, so it may only
//! use crates that trt-dump's own tests have: `trt_dump`, `anyhow`, `tempfile`, `xxhash_rust`.
//!
//! Each target checks properties, not just "no panic": what the code promises its callers (runs
//! inside the image and the weight, disjoint segments, round trips, safe names) is asserted, so a
//! broken promise is a crash the fuzzer reports.
#![allow(dead_code)]

use std::collections::HashSet;
use std::path::Path;

use trt_dump::dtype::DataType;
use trt_dump::map::MapFile;
use trt_dump::pipeline::align::align;
use trt_dump::pipeline::assemble::assemble;
use trt_dump::pipeline::code::{fill_markers, Class};
use trt_dump::pipeline::decode::{decode, decode_packed, Images};
use trt_dump::pipeline::ids::IdSpace;
use trt_dump::pipeline::packed::{Baseline, Packed, PackedImage};
use trt_dump::pipeline::WeightSpec;

/// A fuzz target: one input, panics when a property breaks.
pub type Target = fn(&[u8]);

/// Every target, by the name of its corpus folder and libFuzzer binary.
pub const TARGETS: [(&str, Target); 7] = [
    ("map_file", map_file),
    ("decode", decode_images),
    ("align", align_images),
    ("reference_onnx", reference_onnx),
    ("reference_safetensors", reference_safetensors),
    ("reference_npz", reference_npz),
    ("npy_names", npy_names),
];

/// Reads little pieces off the front of the input; past the end everything reads as zero.
struct Cursor<'a> {
    b: &'a [u8],
}

impl<'a> Cursor<'a> {
    fn u8(&mut self) -> u8 {
        match self.b.split_first() {
            Some((x, rest)) => {
                self.b = rest;
                *x
            }
            None => 0,
        }
    }

    fn u16(&mut self) -> u16 {
        u16::from_le_bytes([self.u8(), self.u8()])
    }

    fn take(&mut self, n: usize) -> &'a [u8] {
        let n = n.min(self.b.len());
        let (a, rest) = self.b.split_at(n);
        self.b = rest;
        a
    }

    fn rest(&mut self) -> &'a [u8] {
        self.take(self.b.len())
    }
}

// ---- map files ----------------------------------------------------------------------------------

/// `MapFile::from_bytes`. First byte 0: the rest is the file as is. Otherwise the rest is a map
/// without its trailing checksum, which is appended (so mutations get past the xxh3 check and
/// reach the header and run validation). A map that parses must: serialize back to itself, expand
/// its runs within the bounds validation promised, and (for engines of up to 1 MiB) be readable
/// by `assemble` over an engine of its length without a panic.
pub fn map_file(data: &[u8]) {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    let owned;
    let bytes: &[u8] = if mode == 0 {
        rest
    } else {
        let mut v = rest.to_vec();
        let sum = xxhash_rust::xxh3::xxh3_64(&v);
        v.extend_from_slice(&sum.to_le_bytes());
        owned = v;
        &owned
    };
    let Ok(m) = MapFile::from_bytes(bytes) else {
        return;
    };
    let again = MapFile::from_bytes(&m.to_bytes().expect("a parsed map serializes"))
        .expect("a serialized map parses");
    assert_eq!(again, m, "map round trip");
    let engine_len = m.header.engine_len;
    if engine_len > 1 << 20 {
        return;
    }
    let engine: Vec<u8> = (0..engine_len)
        .map(|i| (i.wrapping_mul(0x9E37_79B9) >> 7) as u8)
        .collect();
    let runs = match m.runs_for(&engine) {
        Ok(r) => r,
        Err(_) => return,
    };
    for r in &runs {
        let (_, end) = r.byte_range().expect("validated runs have a byte range");
        assert!(
            end <= engine_len,
            "run {r:?} past the {engine_len}-byte engine"
        );
        let w = &m.header.weights[r.weight as usize];
        let (_, hi) = r.index_bounds().expect("validated runs have index bounds");
        assert!(
            r.len == 0 || hi <= w.count,
            "run {r:?} past weight of {}",
            w.count
        );
    }
    let _ = m.check_engine(&engine, &runs);
    if let Ok(values) = assemble(&m.header.weights, &runs, &engine) {
        for (w, v) in m.header.weights.iter().zip(&values) {
            if let Some(b) = &v.values {
                assert_eq!(b.len() as u64, w.refit_bytes(), "`{}` values", w.name);
            }
            assert!(v.found <= w.count);
        }
    }
}

// ---- marker decoding ----------------------------------------------------------------------------

const DTYPES: [DataType; 12] = DataType::ALL;

/// A small weight list read off the input: 1 to 6 weights of any dtype, up to 64 elements each.
fn weights_from(c: &mut Cursor<'_>) -> Vec<WeightSpec> {
    let n = 1 + (c.u8() % 6) as usize;
    (0..n)
        .map(|i| WeightSpec {
            name: format!("w{i}"),
            dtype: DTYPES[(c.u8() as usize) % DTYPES.len()],
            count: u64::from(c.u8() % 65),
        })
        .collect()
}

/// `pipeline::decode::decode` over a baseline and one image per marker pass. Mode byte even: the
/// images are built as TensorRT would store the weights (verbatim at input-chosen offsets over
/// input-chosen filler, later weights overwriting earlier ones), then input-chosen bytes of input-
/// chosen images are overwritten (checksums, folded copies, damage). Mode byte odd: every image is
/// raw input bytes. Whatever the images, decoding must only return runs that lie inside the image,
/// refer to existing elements, are stored in a dtype their weight may have, sit in position order
/// without overlapping, and that `assemble` accepts; unexplained ranges are sorted, disjoint and
/// inside the image.
pub fn decode_images(data: &[u8]) {
    let mut c = Cursor { b: data };
    let mode = c.u8();
    let weights = weights_from(&mut c);
    let ids = IdSpace::new(&weights);
    let len = 16 + (c.u16() % 2048) as usize;
    let n_passes = ids.passes as usize;
    let (base, passes) = if mode.is_multiple_of(2) {
        let filler = c.take(len);
        let mut base: Vec<u8> = (0..len)
            .map(|i| {
                filler
                    .get(i % filler.len().max(1))
                    .copied()
                    .unwrap_or(i as u8)
            })
            .collect();
        let at: Vec<usize> = weights.iter().map(|_| c.u16() as usize % len).collect();
        for (w, &off) in weights.iter().zip(&at) {
            let n = (w.refit_bytes() as usize).min(len - off);
            base[off..off + n].fill(0);
        }
        let mut passes: Vec<Vec<u8>> = (0..n_passes)
            .map(|p| {
                let mut img = base.clone();
                for (i, (w, &off)) in weights.iter().zip(&at).enumerate() {
                    let nb = w.refit_bytes() as usize;
                    let mut buf = vec![0u8; nb];
                    fill_markers(w.dtype, ids.first[i].1, w.count, p as u32, &mut buf);
                    let n = nb.min(len - off);
                    img[off..off + n].copy_from_slice(&buf[..n]);
                }
                img
            })
            .collect();
        // Damage: (image, position, byte) triples; image 0 is the baseline.
        while c.b.len() >= 4 {
            let which = c.u8() as usize % (n_passes + 1);
            let pos = c.u16() as usize % len;
            let v = c.u8();
            if which == 0 {
                base[pos] = v;
            } else {
                passes[which - 1][pos] = v;
            }
        }
        (base, passes)
    } else {
        let raw = c.rest();
        let img = |k: usize| -> Vec<u8> {
            (0..len)
                .map(|i| raw.get(k * len + i).copied().unwrap_or(0))
                .collect()
        };
        (img(0), (1..=n_passes).map(img).collect::<Vec<_>>())
    };
    let images = Images {
        base: &base,
        passes: passes.iter().map(|p| p.as_slice()).collect(),
    };
    let mut calls = 0u32;
    let dec = decode(&images, &weights, &ids, &mut |_| {
        calls += 1;
        true
    })
    .expect("decoding is only stopped by its progress callback");
    // What extraction runs: the passes packed against a packed baseline, unpacked as decoded.
    let baseline = Baseline::Packed(PackedImage::new(&base));
    let mut packed = Packed::new(len);
    for p in &passes {
        packed.add(&baseline, p);
    }
    let from_packed =
        decode_packed(&baseline, &packed, &weights, &ids, &mut |_| true).expect("not stopped");
    assert_eq!(from_packed, dec, "packed passes decode as the images do");
    let mut prev_end = 0u64;
    for r in &dec.runs {
        assert!(r.len > 0, "empty run {r:?}");
        let w = weights
            .get(r.weight as usize)
            .expect("run of an existing weight");
        let (_, end) = r.byte_range().expect("run byte range");
        assert!(end <= len as u64, "run {r:?} past the {len}-byte image");
        let (_, hi) = r.index_bounds().expect("run indices");
        assert!(
            hi <= w.count,
            "run {r:?} past the weight's {} elements",
            w.count
        );
        let start = r.offset * 2 + u64::from(r.nibble);
        assert!(
            start >= prev_end,
            "run {r:?} overlaps the previous run or goes back (ends at nibble {prev_end})"
        );
        prev_end = start + r.len * u64::from(r.stored.bits() / 4);
        let holds = match Class::of(w.dtype) {
            Class::Float => matches!(r.stored, DataType::Float | DataType::Half | DataType::Bf16),
            Class::Wide => matches!(r.stored, DataType::Int32 | DataType::Int64),
            _ => r.stored == w.dtype,
        };
        assert!(
            holds,
            "run {r:?} stores a {} weight as {}",
            w.dtype, r.stored
        );
    }
    let mut prev = 0u64;
    for &(a, b) in &dec.unexplained {
        assert!(
            a >= prev && a < b && b <= len as u64,
            "unexplained {:?}",
            dec.unexplained
        );
        prev = b;
    }
    let got = assemble(&weights, &dec.runs, &base).expect("decoded runs are readable");
    for (w, v) in weights.iter().zip(&got) {
        assert!(v.found <= w.count);
        if let Some(b) = &v.values {
            assert_eq!(b.len() as u64, w.refit_bytes());
        }
    }
}

// ---- alignment ----------------------------------------------------------------------------------

/// `pipeline::align::align(x, y, mask)`. Input: lengths of X and Y (up to 8 KiB each), a mask of
/// sorted disjoint ranges inside X, then the bytes (X then Y; mode bit 1 makes Y a copy of X with
/// one block inserted or removed, the case alignment exists for). The result must be a monotone,
/// piecewise mapping: segments sorted, non-empty, disjoint, inside X, their images inside Y and in
/// increasing order; identical images with nothing masked map as the identity.
pub fn align_images(data: &[u8]) {
    let mut c = Cursor { b: data };
    let mode = c.u8();
    let lx = (c.u16() % 8192) as usize;
    let ly_raw = (c.u16() % 8192) as usize;
    let n_mask = (c.u8() % 8) as usize;
    let mut mask: Vec<(u64, u64)> = Vec::new();
    let mut at = 0u64;
    for _ in 0..n_mask {
        let gap = u64::from(c.u16() % 2048);
        let len = 1 + u64::from(c.u16() % 2048);
        let a = at + gap;
        let b = (a + len).min(lx as u64);
        if a >= b {
            break;
        }
        mask.push((a, b));
        at = b;
    }
    let raw = c.rest();
    let byte = |i: usize| {
        raw.get(i % raw.len().max(1))
            .copied()
            .unwrap_or(0)
            .wrapping_add((i / raw.len().max(1)) as u8)
    };
    let x: Vec<u8> = (0..lx).map(byte).collect();
    let y: Vec<u8> = if mode & 2 != 0 {
        // Y = X with a block inserted (mode bit 4) or removed at an input-chosen place.
        let cut = if lx == 0 { 0 } else { ly_raw % (lx + 1) };
        let n = ly_raw % 300;
        let mut y = x[..cut].to_vec();
        if mode & 4 != 0 {
            y.extend((0..n).map(|i| byte(lx + i)));
            y.extend_from_slice(&x[cut..]);
        } else {
            y.extend_from_slice(&x[(cut + n).min(lx)..]);
        }
        y
    } else if mode & 1 != 0 {
        x.clone()
    } else {
        (0..ly_raw).map(|i| byte(lx + i)).collect()
    };
    let ly = y.len();
    let al = align(&x, &y, &mask);
    assert_eq!((al.len_x, al.len_y), (lx as u64, ly as u64));
    let mut prev_x = 0u64;
    let mut prev_y = 0i64;
    for s in &al.segments {
        assert!(
            s.x0 < s.x1 && s.x0 >= prev_x && s.x1 <= lx as u64,
            "segments {:?}",
            al.segments
        );
        let y0 = s.x0 as i64 + s.shift;
        let y1 = s.x1 as i64 + s.shift;
        assert!(
            y0 >= prev_y && y1 <= ly as i64,
            "segment images {:?} in {ly} bytes",
            al.segments
        );
        prev_x = s.x1;
        prev_y = y1;
    }
    assert!(al.in_place_mismatches <= lx as u64);
    let _ = (al.unmapped_x(), al.unmapped_y());
    for &(a, b) in &mask {
        if let Some(q) = al.map_range(a, b) {
            assert!(q + (b - a) <= ly as u64);
        }
    }
    if x == y && mask.is_empty() {
        assert!(al.is_unshifted(), "identical images: {al:?}");
    }
}

// ---- reference readers --------------------------------------------------------------------------

fn scratch_dir() -> &'static Path {
    static DIR: std::sync::OnceLock<tempfile::TempDir> = std::sync::OnceLock::new();
    DIR.get_or_init(|| {
        tempfile::Builder::new()
            .prefix("trt-dump-fuzz-")
            .tempdir()
            .expect("a temporary folder")
    })
    .path()
}

/// Writes `data` as `model.<ext>` in a private folder and reads it with every reader entry point.
/// Whatever the bytes, reading returns tensors whose data holds exactly their element count, or an
/// error of kind InputUnreadable; never a panic, never an allocation the file does not back.
fn reference(ext: &str, data: &[u8]) {
    let path = scratch_dir().join(format!("model.{ext}"));
    std::fs::write(&path, data).expect("writing the fuzz input");
    match trt_dump::reference::load_all(&path) {
        Ok(loaded) => {
            for t in &loaded.tensors {
                let count = trt_dump::reference::element_count(&t.shape)
                    .expect("a loaded tensor's count fits");
                assert_eq!(
                    Some(t.data.len() as u64),
                    t.dtype.bytes_for(count),
                    "tensor `{}` {:?}",
                    t.name,
                    t.shape
                );
            }
        }
        Err(e) => assert_unreadable(&e),
    }
    if let Err(e) = trt_dump::reference::load_shapes(&path) {
        assert_unreadable(&e);
    }
}

fn assert_unreadable(e: &anyhow::Error) {
    let kind = trt_dump::error::find(e).map(|k| k.kind);
    assert_eq!(kind, Some(trt_dump::ErrorKind::InputUnreadable), "{e:#}");
}

pub fn reference_onnx(data: &[u8]) {
    reference("onnx", data)
}

pub fn reference_safetensors(data: &[u8]) {
    reference("safetensors", data)
}

pub fn reference_npz(data: &[u8]) {
    reference("npz", data)
}

// ---- npy names ----------------------------------------------------------------------------------

/// `writer::names::assign`: the input, split at 0xFF bytes (never part of UTF-8), is a list of
/// weight names (lossy UTF-8, duplicates dropped). Every name must get a safe, single, distinct
/// (ignoring ASCII case) path component ending in `.npy` that is the name itself or visibly
/// changed, avoiding the reserved names, and the same set in reverse order gets the same names.
pub fn npy_names(data: &[u8]) {
    use trt_dump::writer::names::{assign, is_safe_component, MAX_COMPONENT_BYTES};
    let mut seen = HashSet::new();
    let names: Vec<String> = data
        .split(|b| *b == 0xFF)
        .map(|c| String::from_utf8_lossy(c).into_owned())
        .filter(|n| seen.insert(n.clone()))
        .take(512)
        .collect();
    let refs: Vec<&str> = names.iter().map(String::as_str).collect();
    let reserved = ["index.json", "__trt_dump_index__.npy"];
    let got = assign(&refs, ".npy", &reserved);
    assert_eq!(got.len(), refs.len());
    let mut taken: HashSet<String> = reserved.iter().map(|r| r.to_ascii_lowercase()).collect();
    for (n, c) in refs.iter().zip(&got) {
        assert!(is_safe_component(c), "{n:?} -> {c:?}");
        assert!(
            c.len() <= MAX_COMPONENT_BYTES && c.ends_with(".npy"),
            "{n:?} -> {c:?}"
        );
        assert!(
            taken.insert(c.to_ascii_lowercase()),
            "{n:?} -> {c:?} collides"
        );
        assert!(
            *c == format!("{n}.npy") || c.contains('~'),
            "{n:?} -> {c:?}"
        );
        let p = Path::new(c.as_str());
        let comps: Vec<_> = p.components().collect();
        assert!(
            matches!(comps.as_slice(), [std::path::Component::Normal(_)]),
            "{n:?} -> {c:?}"
        );
    }
    let mut rev = refs.clone();
    rev.reverse();
    let mut back = assign(&rev, ".npy", &reserved);
    back.reverse();
    assert_eq!(back, got, "names depend on the order they were given in");
}
