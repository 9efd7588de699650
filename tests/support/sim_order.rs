//! Element orders of stored buffers: which source element (or padding) each stored slot holds.
//!
//! A buffer's content is a vector of `n` source elements (a weight, a slice of one, or several
//! joined); its order lays them out in `slots(n) >= n` stored slots, the extra ones padding. Slots
//! are elements of the stored dtype, so packed 4-bit types are permuted at nibble granularity.

use serde::{Deserialize, Serialize};

use super::num::Rng;

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Order {
    /// Slot `i` holds element `i`.
    Verbatim,
    /// The source is a row-major `rows x cols` matrix, stored column-major (its transpose, as
    /// TensorRT stores every Gemm weight).
    Transpose { rows: u64, cols: u64 },
    /// A `rows x cols` matrix cut into `th x tw` tiles stored one after the other (tiles in
    /// row-major order, row-major inside a tile); edge tiles padded.
    Tiles {
        rows: u64,
        cols: u64,
        th: u64,
        tw: u64,
    },
    /// A conv weight KCRS stored as `[ceil(K/b)][C][R][S][b]` (K padded up to a multiple of `b`).
    BlockedKcrs {
        k: u64,
        c: u64,
        r: u64,
        s: u64,
        b: u64,
    },
    /// A `rows x cols` matrix with each row padded to a multiple of `to` elements.
    PaddedRows { rows: u64, cols: u64, to: u64 },
    /// Rows stored `0, ways, 2*ways, …, 1, ways+1, …` (row interleaving), no padding.
    InterleaveRows { rows: u64, cols: u64, ways: u64 },
    /// A pseudo-random permutation of all elements, from `seed`.
    Shuffle { seed: u64 },
}

impl Order {
    /// Checks that the order fits a source of `n` elements.
    pub fn validate(&self, n: u64) -> Result<(), String> {
        let matrix = |rows: u64, cols: u64| -> Result<(), String> {
            if rows.checked_mul(cols) != Some(n) {
                Err(format!("{self:?}: {rows} x {cols} != {n} elements"))
            } else {
                Ok(())
            }
        };
        match *self {
            Order::Verbatim | Order::Shuffle { .. } => Ok(()),
            Order::Transpose { rows, cols } => matrix(rows, cols),
            Order::Tiles { rows, cols, th, tw } => {
                if th == 0 || tw == 0 {
                    return Err(format!("{self:?}: empty tile"));
                }
                matrix(rows, cols)
            }
            Order::PaddedRows { rows, cols, to } => {
                if to == 0 {
                    return Err(format!("{self:?}: pad to 0"));
                }
                matrix(rows, cols)
            }
            Order::InterleaveRows { rows, cols, ways } => {
                if ways == 0 {
                    return Err(format!("{self:?}: 0 ways"));
                }
                matrix(rows, cols)
            }
            Order::BlockedKcrs { k, c, r, s, b } => {
                if b == 0 {
                    return Err(format!("{self:?}: block 0"));
                }
                let total = k
                    .checked_mul(c)
                    .and_then(|x| x.checked_mul(r))
                    .and_then(|x| x.checked_mul(s));
                if total != Some(n) {
                    return Err(format!("{self:?}: KCRS != {n} elements"));
                }
                Ok(())
            }
        }
    }

    /// Stored slots for a source of `n` elements.
    pub fn slots(&self, n: u64) -> u64 {
        match *self {
            Order::Verbatim
            | Order::Shuffle { .. }
            | Order::Transpose { .. }
            | Order::InterleaveRows { .. } => n,
            Order::Tiles { rows, cols, th, tw } => rows.div_ceil(th) * th * cols.div_ceil(tw) * tw,
            Order::BlockedKcrs { k, c, r, s, b } => k.div_ceil(b) * b * c * r * s,
            Order::PaddedRows { rows, cols, to } => rows * cols.div_ceil(to) * to,
        }
    }

    /// Whether slots hold padding (`slots(n) > n` possible).
    pub fn pads(&self) -> bool {
        matches!(
            self,
            Order::Tiles { .. } | Order::BlockedKcrs { .. } | Order::PaddedRows { .. }
        )
    }

    /// Calls `f(slot, Some(source index))` or `f(slot, None)` (padding) for every slot, in
    /// increasing slot order.
    pub fn for_each(&self, n: u64, mut f: impl FnMut(u64, Option<u64>)) {
        match *self {
            Order::Verbatim => {
                for i in 0..n {
                    f(i, Some(i));
                }
            }
            Order::Transpose { rows, cols } => {
                let mut slot = 0;
                for j in 0..cols {
                    for i in 0..rows {
                        f(slot, Some(i * cols + j));
                        slot += 1;
                    }
                }
            }
            Order::Tiles { rows, cols, th, tw } => {
                let (tr, tc) = (rows.div_ceil(th), cols.div_ceil(tw));
                let mut slot = 0;
                for ti in 0..tr {
                    for tj in 0..tc {
                        for a in 0..th {
                            for b in 0..tw {
                                let (i, j) = (ti * th + a, tj * tw + b);
                                f(slot, (i < rows && j < cols).then_some(i * cols + j));
                                slot += 1;
                            }
                        }
                    }
                }
            }
            Order::BlockedKcrs { k, c, r, s, b } => {
                let mut slot = 0;
                for kb in 0..k.div_ceil(b) {
                    for ci in 0..c {
                        for ri in 0..r {
                            for si in 0..s {
                                for kk in 0..b {
                                    let ki = kb * b + kk;
                                    f(slot, (ki < k).then_some(((ki * c + ci) * r + ri) * s + si));
                                    slot += 1;
                                }
                            }
                        }
                    }
                }
            }
            Order::PaddedRows { rows, cols, to } => {
                let stride = cols.div_ceil(to) * to;
                let mut slot = 0;
                for i in 0..rows {
                    for j in 0..stride {
                        f(slot, (j < cols).then_some(i * cols + j));
                        slot += 1;
                    }
                }
            }
            Order::InterleaveRows { rows, cols, ways } => {
                let mut slot = 0;
                for phase in 0..ways.min(rows) {
                    let mut i = phase;
                    while i < rows {
                        for j in 0..cols {
                            f(slot, Some(i * cols + j));
                            slot += 1;
                        }
                        i += ways;
                    }
                }
            }
            Order::Shuffle { seed } => {
                for (slot, src) in shuffle(n, seed).into_iter().enumerate() {
                    f(slot as u64, Some(src));
                }
            }
        }
    }
}

/// Fisher–Yates permutation of `0..n` from `seed` (`perm[slot] = source index`).
pub fn shuffle(n: u64, seed: u64) -> Vec<u64> {
    let mut perm: Vec<u64> = (0..n).collect();
    let mut rng = Rng::new(seed);
    for i in (1..perm.len()).rev() {
        let j = rng.below(i as u64 + 1) as usize;
        perm.swap(i, j);
    }
    perm
}
