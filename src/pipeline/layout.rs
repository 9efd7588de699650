//! Where weights live in a serialized plan: runs of consecutively stored elements.
//!
//! The decoder emits runs, the map file stores them (in engine-file coordinates), `locate` finds
//! them by searching for reference tensors, and `assemble` reads values through them. A run is the
//! unit because TensorRT stores weights as contiguous buffers whose element order may be permuted:
//! within a buffer, consecutive stored elements usually step through the weight's indices with a
//! constant stride (1 verbatim, the row length when transposed), so a run is compact where the
//! layout is regular and degrades to one entry per element only where it is not.

use serde::{Deserialize, Serialize};

use crate::dtype::DataType;

/// `len` stored elements of one weight. Element `k` (`k < len`) of the run is stored at byte
/// `offset + k * size` of the image (packed 4-bit types: at nibble `2 * offset + nibble + k`, the
/// low nibble of a byte first), in dtype `stored`, and is element `index + k * index_stride` of
/// weight number `weight` (its position in the refitter's list).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Run {
    pub weight: u32,
    pub stored: DataType,
    pub offset: u64,
    /// 0, or 1 when a packed run starts at the high nibble of `offset`.
    pub nibble: u8,
    pub len: u64,
    pub index: u64,
    pub index_stride: i64,
}

impl Run {
    /// Element index (within the weight) of the run's `k`-th stored element.
    pub fn index_at(&self, k: u64) -> i128 {
        i128::from(self.index) + i128::from(k) * i128::from(self.index_stride)
    }

    /// Last element index + 1 and first element index, as a checked range of indices touched.
    /// `None` when an index would be negative or overflow (a corrupt map, for instance).
    pub fn index_bounds(&self) -> Option<(u64, u64)> {
        if self.len == 0 {
            return Some((self.index, self.index));
        }
        let first = self.index_at(0);
        let last = self.index_at(self.len - 1);
        let lo = first.min(last);
        let hi = first.max(last);
        if lo < 0 || hi >= i128::from(u64::MAX) {
            return None;
        }
        Some((lo as u64, hi as u64 + 1))
    }

    /// The byte range `[start, end)` of the image this run occupies.
    pub fn byte_range(&self) -> Option<(u64, u64)> {
        let bits = u64::from(self.stored.bits());
        let start_bit = self
            .offset
            .checked_mul(8)?
            .checked_add(u64::from(self.nibble) * 4)?;
        let end_bit = start_bit.checked_add(self.len.checked_mul(bits)?)?;
        Some((self.offset, end_bit.div_ceil(8)))
    }
}

/// Collects stored elements, in position order, into [`Run`]s; the last element can be taken back.
#[derive(Default)]
pub struct RunBuilder {
    pub runs: Vec<Run>,
}

impl RunBuilder {
    /// Adds element `index` of weight `weight`, stored as `stored` at nibble position `nib`.
    pub fn push(&mut self, weight: u32, stored: DataType, nib: u64, index: u64) {
        let size = u64::from(stored.bits() / 4);
        if let Some(last) = self.runs.last_mut() {
            let next_nib = last.offset * 2 + u64::from(last.nibble) + last.len * size;
            if last.stored == stored && last.weight == weight && next_nib == nib {
                if last.len == 1 {
                    last.index_stride = index as i64 - last.index as i64;
                    last.len = 2;
                    return;
                }
                if last.index_at(last.len) == i128::from(index) {
                    last.len += 1;
                    return;
                }
            }
        }
        self.runs.push(Run {
            weight,
            stored,
            offset: nib / 2,
            nibble: (nib % 2) as u8,
            len: 1,
            index,
            index_stride: 1,
        });
    }

    /// Nibble position of the last element pushed.
    pub fn last_start(&self) -> Option<u64> {
        let r = self.runs.last()?;
        let size = u64::from(r.stored.bits() / 4);
        Some(r.offset * 2 + u64::from(r.nibble) + (r.len - 1) * size)
    }

    /// Removes the last element pushed.
    pub fn pop(&mut self) {
        if let Some(last) = self.runs.last_mut() {
            last.len -= 1;
            if last.len == 0 {
                self.runs.pop();
            } else if last.len == 1 {
                last.index_stride = 1;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_of_a_transposed_column() {
        let r = Run {
            weight: 0,
            stored: DataType::Half,
            offset: 100,
            nibble: 0,
            len: 4,
            index: 3,
            index_stride: 8,
        };
        assert_eq!(r.index_bounds(), Some((3, 28)));
        assert_eq!(r.byte_range(), Some((100, 108)));
        let packed = Run {
            stored: DataType::Int4,
            nibble: 1,
            len: 3,
            ..r
        };
        assert_eq!(packed.byte_range(), Some((100, 102)));
    }

    #[test]
    fn builder_merges_constant_strides_and_splits_elsewhere() {
        let mut b = RunBuilder::default();
        for (k, idx) in [0u64, 3, 6, 9, 1, 4].iter().enumerate() {
            b.push(0, DataType::Half, 2 * 100 + 4 * k as u64, *idx);
        }
        let got: Vec<(u64, u64, u64, i64)> = b
            .runs
            .iter()
            .map(|r| (r.offset, r.len, r.index, r.index_stride))
            .collect();
        assert_eq!(got, vec![(100, 4, 0, 3), (108, 2, 1, 3)]);
        b.pop();
        b.pop();
        b.pop();
        assert_eq!(b.runs.len(), 1);
        assert_eq!(b.runs[0].len, 3);
    }

    #[test]
    fn negative_indices_are_rejected() {
        let r = Run {
            weight: 0,
            stored: DataType::Float,
            offset: 0,
            nibble: 0,
            len: 3,
            index: 1,
            index_stride: -1,
        };
        assert_eq!(r.index_bounds(), None);
        assert_eq!(Run { index: 2, ..r }.index_bounds(), Some((0, 3)));
    }
}
