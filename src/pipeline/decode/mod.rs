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
//!
//! `element.rs` reads one element, `bulk.rs` follows a run (the vectorised float path),
//! `tiling.rs` is the sweep that chooses among interpretations.

mod bulk;
mod element;
mod tiling;

pub use tiling::{decode, decode_packed};

use super::engine::WeightSpec;
use super::ids::IdSpace;
use super::layout::Run;

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
    /// A window of the images: their bytes from `origin` on.
    img: &'a Images<'a>,
    weights: &'a [WeightSpec],
    ids: &'a IdSpace,
    /// Byte position (in the whole plan) of the window's first byte: positions given to and
    /// returned by the decoder are the plan's; nothing before `origin` is read.
    origin: usize,
    /// Nibble position one past the window's last byte.
    len_nibbles: u64,
}

/// One decoded element.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Elem {
    weight: u32,
    index: u64,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dtype::DataType;
    use crate::pipeline::code::fill_markers;

    fn w(name: &str, dtype: DataType, count: u64) -> WeightSpec {
        WeightSpec {
            name: name.into(),
            dtype,
            count,
        }
    }

    /// Builds baseline + pass images for weights stored verbatim (in their refit dtype) at the
    /// given byte offsets of a plan of `len` filler bytes.
    fn images(
        weights: &[WeightSpec],
        at: &[usize],
        len: usize,
    ) -> (Vec<u8>, Vec<Vec<u8>>, IdSpace) {
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
                fill_markers(
                    spec.dtype,
                    ids.first[i].1,
                    spec.count,
                    p,
                    &mut img[*off..off + n],
                );
            }
            passes.push(img);
        }
        (base, passes, ids)
    }

    fn run_decode(weights: &[WeightSpec], at: &[usize], len: usize) -> Decoded {
        let (base, passes, ids) = images(weights, at, len);
        let img = Images {
            base: &base,
            passes: passes.iter().map(|p| p.as_slice()).collect(),
        };
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
        assert!(
            dec.unexplained.is_empty(),
            "{:?} {:?} {:#?}",
            dec.unexplained,
            at,
            dec.runs
        );
        assert_eq!(dec.runs.len(), ws.len(), "{:#?}", dec.runs);
        for (i, r) in dec.runs.iter().enumerate() {
            assert_eq!(r.weight as usize, i);
            assert_eq!(
                (r.offset as usize, r.index, r.index_stride, r.len),
                (at[i], 0, 1, ws[i].count)
            );
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
        let got: Vec<(u32, u64, u64)> = dec
            .runs
            .iter()
            .map(|r| (r.weight, r.offset, r.len))
            .collect();
        let want: Vec<(u32, u64, u64)> = ws
            .iter()
            .enumerate()
            .map(|(i, s)| (i as u32, at[i] as u64, s.count))
            .collect();
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
        let img = Images {
            base: &base,
            passes: passes.iter().map(|p| p.as_slice()).collect(),
        };
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
        let img = Images {
            base: &base,
            passes: passes.iter().map(|p| p.as_slice()).collect(),
        };
        let dec = decode(&img, &ws, &ids, &mut |_| true).unwrap();
        assert_eq!(dec.runs.len(), 2, "{:?}", dec.runs);
        let mut original = base.clone();
        for i in 0..40u32 {
            original[16 + 4 * i as usize..20 + 4 * i as usize]
                .copy_from_slice(&(i as f32).to_le_bytes());
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
        let img = Images {
            base: &base,
            passes: passes.iter().map(|p| p.as_slice()).collect(),
        };
        let dec = decode(&img, &ws, &ids, &mut |_| true).unwrap();
        assert_eq!(dec.runs.len(), 1, "{:?}", dec.runs);
        assert_eq!(
            (dec.runs[0].stored, dec.runs[0].offset),
            (DataType::Float, 20)
        );
    }
}
