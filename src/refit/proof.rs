//! The proof of a refit: the written plan holds exactly what TensorRT stores for the requested
//! values, read back from its bytes through a layout (runs) and compared bit for bit.
//!
//! TensorRT stores a weight in its refit dtype or narrower; what it stores for a value is the
//! value itself, or its rounding to the stored dtype: fp32 → fp16/bf16 round to nearest even and
//! saturate a finite value that overflows (TensorRT clamps, with a warning), NaN may lose its
//! payload (any NaN is accepted for a NaN); fp16/bf16 → fp32 widen exactly; int64 → int32 clamps;
//! bool is stored as `v != 0`.

use crate::dtype::{self, DataType, Num};
use crate::pipeline::{Run, WeightSpec};

/// What the stored element must be.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Expect {
    Bits(u64),
    AnyNan,
    /// No stored value can be predicted (no such conversion is known): not compared.
    Unknown,
}

fn is_nan_bits(dt: DataType, bits: u64) -> bool {
    match dt {
        DataType::Float => f32::from_bits(bits as u32).is_nan(),
        DataType::Half => (bits & 0x7c00) == 0x7c00 && (bits & 0x03ff) != 0,
        DataType::Bf16 => (bits & 0x7f80) == 0x7f80 && (bits & 0x007f) != 0,
        DataType::Fp8 => (bits & 0x7f) == 0x7f,
        _ => false,
    }
}

/// The stored bits TensorRT writes for element `i` of `value` (refit dtype `refit`) in `stored`.
fn expect(refit: DataType, value: &[u8], i: usize, stored: DataType) -> Expect {
    let bits = dtype::element_bits(refit, value, i);
    if stored == refit {
        if is_nan_bits(refit, bits) {
            return Expect::AnyNan;
        }
        return Expect::Bits(bits);
    }
    let v = dtype::element_value(refit, value, i);
    if let Num::F(f) = v {
        if f.is_nan() {
            return Expect::AnyNan;
        }
    }
    match (stored, v) {
        (DataType::Bool, Num::I(x)) => return Expect::Bits(u64::from(x != 0)),
        (DataType::Bool, Num::F(x)) => return Expect::Bits(u64::from(x != 0.0)),
        (DataType::Int32, Num::I(x)) => {
            return Expect::Bits(u64::from(
                x.clamp(i64::from(i32::MIN), i64::from(i32::MAX)) as i32 as u32,
            ))
        }
        _ => {}
    }
    match dtype::encode(stored, v) {
        Some((b, _)) => {
            let f = v.f64();
            // Saturate a finite value that rounds to infinity.
            match stored {
                DataType::Half if f.is_finite() && (b & 0x7fff) == 0x7c00 => {
                    Expect::Bits((b & 0x8000) | 0x7bff)
                }
                DataType::Bf16 if f.is_finite() && (b & 0x7fff) == 0x7f80 => {
                    Expect::Bits((b & 0x8000) | 0x7f7f)
                }
                DataType::Float if f.is_finite() && f32::from_bits(b as u32).is_infinite() => {
                    Expect::Bits(u64::from(
                        if f < 0.0 { f32::MIN } else { f32::MAX }.to_bits(),
                    ))
                }
                _ => Expect::Bits(b),
            }
        }
        None => Expect::Unknown,
    }
}

/// Element `k` of a run, as stored bits.
fn stored_bits(image: &[u8], r: &Run, k: u64) -> Option<u64> {
    let bits = u64::from(r.stored.bits());
    if bits == 4 {
        let nib = r
            .offset
            .checked_mul(2)?
            .checked_add(u64::from(r.nibble))?
            .checked_add(k)?;
        if nib / 2 >= image.len() as u64 {
            return None;
        }
        return Some(u64::from(dtype::nibble(image, nib as usize)));
    }
    let size = bits / 8;
    let at = r.offset.checked_add(k.checked_mul(size)?)?;
    let end = at.checked_add(size)?;
    if end > image.len() as u64 {
        return None;
    }
    let b = &image[at as usize..end as usize];
    let mut v = [0u8; 8];
    v[..b.len()].copy_from_slice(b);
    Some(u64::from_le_bytes(v))
}

/// One element that does not hold what it should.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct Mismatch {
    pub weight: String,
    pub element: u64,
    pub stored: DataType,
    pub offset: u64,
    pub expected: Option<u64>,
    pub found: u64,
}

/// The result of reading a written plan back.
#[derive(Clone, Debug, Default, serde::Serialize)]
pub struct ReadBack {
    /// Weights compared (at least one stored element read).
    pub weights_compared: usize,
    /// Stored elements compared (copies count each).
    pub elements_compared: u64,
    /// Weights with a requested value that the layout does not locate (fused, folded…): their
    /// bytes cannot be read back as such.
    pub not_located: Vec<String>,
    /// Weights located only in part: elements of the weight never read.
    pub partly_located: Vec<(String, u64)>,
    pub mismatches: Vec<Mismatch>,
    pub mismatch_count: u64,
}

impl ReadBack {
    pub fn passed(&self) -> bool {
        self.mismatch_count == 0
    }
}

/// Reads `image` through `runs` and compares every stored element of every weight that has a
/// requested value (`expected[i]`, in the refit dtype) with what TensorRT stores for it.
pub fn read_back(
    weights: &[WeightSpec],
    expected: &[Option<&[u8]>],
    runs: &[Run],
    image: &[u8],
) -> ReadBack {
    let mut rb = ReadBack::default();
    let mut covered: Vec<Vec<bool>> = weights.iter().map(|_| Vec::new()).collect();
    let mut touched = vec![false; weights.len()];
    for r in runs {
        let w = r.weight as usize;
        let (Some(spec), Some(Some(value))) = (weights.get(w), expected.get(w)) else {
            continue;
        };
        if covered[w].is_empty() {
            covered[w] = vec![false; spec.count as usize];
        }
        for k in 0..r.len {
            let idx = r.index_at(k);
            if idx < 0 || idx >= i128::from(spec.count) {
                continue;
            }
            let idx = idx as u64;
            let found = stored_bits(image, r, k);
            let want = expect(spec.dtype, value, idx as usize, r.stored);
            let ok = match (want, found) {
                (_, None) => false,
                (Expect::Bits(b), Some(f)) => b == f,
                (Expect::AnyNan, Some(f)) => is_nan_bits(r.stored, f),
                (Expect::Unknown, Some(_)) => continue,
            };
            touched[w] = true;
            covered[w][idx as usize] = true;
            rb.elements_compared += 1;
            if !ok {
                rb.mismatch_count += 1;
                if rb.mismatches.len() < 10 {
                    let size = u64::from(r.stored.bits().max(8) / 8);
                    rb.mismatches.push(Mismatch {
                        weight: spec.name.clone(),
                        element: idx,
                        stored: r.stored,
                        offset: r.offset
                            + if r.stored.bits() == 4 {
                                (u64::from(r.nibble) + k) / 2
                            } else {
                                k * size
                            },
                        expected: match want {
                            Expect::Bits(b) => Some(b),
                            _ => None,
                        },
                        found: found.unwrap_or(0),
                    });
                }
            }
        }
    }
    for (i, (spec, e)) in weights.iter().zip(expected).enumerate() {
        if e.is_none() || spec.count == 0 {
            continue;
        }
        if !touched[i] {
            rb.not_located.push(spec.name.clone());
        } else {
            rb.weights_compared += 1;
            let unread = covered[i].iter().filter(|c| !**c).count() as u64;
            if unread > 0 {
                rb.partly_located.push((spec.name.clone(), unread));
            }
        }
    }
    rb
}

#[cfg(test)]
mod tests {
    use super::*;

    fn f32s(v: &[f32]) -> Vec<u8> {
        v.iter().flat_map(|x| x.to_le_bytes()).collect()
    }

    #[test]
    fn fp16_copy_of_an_fp32_weight_is_compared_after_rounding() {
        let w = vec![WeightSpec {
            name: "b".into(),
            dtype: DataType::Float,
            count: 3,
        }];
        let value = f32s(&[1.0, 0.1, 1e6]);
        // fp16: 1.0, round(0.1) = 0x2e66, 1e6 saturates to 65504 (0x7bff).
        let image: Vec<u8> = [0x3c00u16, 0x2e66, 0x7bff]
            .iter()
            .flat_map(|x| x.to_le_bytes())
            .collect();
        let runs = [Run {
            weight: 0,
            stored: DataType::Half,
            offset: 0,
            nibble: 0,
            len: 3,
            index: 0,
            index_stride: 1,
        }];
        let rb = read_back(&w, &[Some(&value)], &runs, &image);
        assert!(rb.passed(), "{rb:?}");
        assert_eq!(rb.elements_compared, 3);
        let mut bad = image.clone();
        bad[2] ^= 1;
        let rb = read_back(&w, &[Some(&value)], &runs, &bad);
        assert_eq!(rb.mismatch_count, 1);
        assert_eq!(rb.mismatches[0].element, 1);
    }

    #[test]
    fn transposed_runs_and_unlocated_weights() {
        let w = vec![
            WeightSpec {
                name: "k".into(),
                dtype: DataType::Float,
                count: 4,
            },
            WeightSpec {
                name: "fused".into(),
                dtype: DataType::Float,
                count: 2,
            },
        ];
        let k = f32s(&[1.0, 2.0, 3.0, 4.0]);
        let image = f32s(&[1.0, 3.0, 2.0, 4.0]);
        let runs = [
            Run {
                weight: 0,
                stored: DataType::Float,
                offset: 0,
                nibble: 0,
                len: 2,
                index: 0,
                index_stride: 2,
            },
            Run {
                weight: 0,
                stored: DataType::Float,
                offset: 8,
                nibble: 0,
                len: 2,
                index: 1,
                index_stride: 2,
            },
        ];
        let fused = f32s(&[5.0, 6.0]);
        let rb = read_back(&w, &[Some(&k), Some(&fused)], &runs, &image);
        assert!(rb.passed(), "{rb:?}");
        assert_eq!(rb.weights_compared, 1);
        assert_eq!(rb.not_located, vec!["fused".to_string()]);
    }
}
