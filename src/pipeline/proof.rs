//! The round-trip proof: the serialization of a fresh instance refitted with the extracted values,
//! compared byte by byte with the normalised original, and the verdict.

use std::fmt;

use super::align::Alignment;
use super::decode::Decoded;
use super::extract::WeightResult;

/// The verdict of the round-trip proof.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(tag = "verdict", rename_all = "snake_case")]
pub enum Proof {
    Skipped,
    /// Refitting the extracted values reproduced the original serialization byte for byte.
    Identical {
        bytes: u64,
    },
    /// Every weight byte and every other byte that could be compared matched; `layout_bytes`
    /// differ only because the original serialization's layout differs from a refitted one's
    /// (they differ in the zero baseline too); `unverified_bytes` change with the weights but sit
    /// where the two layouts could not be lined up (their values were taken from another copy).
    Equivalent {
        bytes: u64,
        layout_bytes: u64,
        unverified_bytes: u64,
    },
    /// Everything matched except bytes belonging to weights that could not be extracted.
    ExceptMissing {
        bytes: u64,
        missing_bytes: u64,
        layout_bytes: u64,
        unverified_bytes: u64,
    },
    /// Bytes differ that should not: the extracted values are not trustworthy.
    Failed {
        differing: u64,
        first_offsets: Vec<u64>,
        reason: Failure,
    },
}

impl Proof {
    pub fn passed(&self) -> bool {
        matches!(
            self,
            Proof::Identical { .. } | Proof::Equivalent { .. } | Proof::ExceptMissing { .. }
        )
    }
}

/// Why a proof failed or was not made; its text is [`Proof::Failed`]'s `reason`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Failure {
    /// The plan holds no weights (`stripped`): there is nothing to refit.
    NothingToProve,
    /// The refitted engine serialized to another length than the zero baseline.
    Length { refitted: u64, baseline: u64 },
    /// Bytes of an extracted weight differ.
    WeightBytes,
    /// Bytes right next to a weight differ, in a way that would otherwise count as layout.
    NextToWeight,
    /// Bytes that belong to no weight differ.
    OutsideWeights,
}

/// In JSON a reason reads as its sentence, as it did when it was a string.
impl serde::Serialize for Failure {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Failure::NothingToProve => f.write_str("nothing to prove: the plan holds no weights"),
            Failure::Length { refitted, baseline } => {
                write!(f, "the refitted engine serialized as {refitted} bytes, the zero baseline as {baseline}")
            }
            Failure::WeightBytes => {
                f.write_str("an extracted weight's bytes differ from the original")
            }
            Failure::NextToWeight => f.write_str("bytes next to a weight differ from the original"),
            Failure::OutsideWeights => {
                f.write_str("bytes outside every weight differ from the original")
            }
        }
    }
}

/// Compares the serialization of the refitted extraction with the original, byte by byte, through
/// the refitted-to-original alignment, and says which differences are acceptable.
pub(super) fn compare(
    refitted: &[u8],
    base_len: usize,
    base: &dyn Fn(u64) -> u8,
    original: &[u8],
    al: &Alignment,
    decoded: &Decoded,
    results: &[WeightResult],
) -> Proof {
    if refitted.len() != base_len {
        return Proof::Failed {
            differing: refitted.len().abs_diff(base_len) as u64,
            first_offsets: vec![],
            reason: Failure::Length {
                refitted: refitted.len() as u64,
                baseline: base_len as u64,
            },
        };
    }
    if refitted == original {
        return Proof::Identical {
            bytes: original.len() as u64,
        };
    }
    // Which bytes belong to which weight (extracted or not), for classifying differences.
    let mut owned: Vec<(u64, u64, bool)> = decoded
        .runs
        .iter()
        .filter_map(|r| {
            r.byte_range()
                .map(|(a, b)| (a, b, results[r.weight as usize].values.values.is_some()))
        })
        .collect();
    owned.sort_unstable();
    let missing_any = results.iter().any(|r| r.missing.is_some());
    let owner = |x: u64| -> Option<bool> {
        let i = owned.partition_point(|r| r.1 <= x);
        owned.get(i).filter(|r| r.0 <= x).map(|r| r.2)
    };
    let in_unexplained = |x: u64| -> bool {
        let i = decoded.unexplained.partition_point(|r| r.1 <= x);
        decoded.unexplained.get(i).is_some_and(|r| r.0 <= x)
    };
    // A byte right next to a weight that differs only "by layout" may be part of that weight
    // read too narrowly (the low half of an fp32 element taken for bf16): never excused.
    const NEAR: u64 = 8;
    let near_weight = |x: u64| -> bool {
        let lo = x.saturating_sub(NEAR);
        let hi = x + NEAR + 1;
        let i = owned.partition_point(|r| r.1 <= lo);
        let j = decoded.unexplained.partition_point(|r| r.1 <= lo);
        owned.get(i).is_some_and(|r| r.0 < hi)
            || decoded.unexplained.get(j).is_some_and(|r| r.0 < hi)
    };
    let mut t = Tally::default();
    let classify = |t: &mut Tally, x: u64, layout_only: bool| match owner(x) {
        Some(true) => t.bad(x, Failure::WeightBytes),
        Some(false) => t.missing_bytes += 1,
        None if in_unexplained(x) && missing_any => t.missing_bytes += 1,
        None if layout_only && !near_weight(x) => t.layout += 1,
        None if layout_only => t.bad(x, Failure::NextToWeight),
        None => t.bad(x, Failure::OutsideWeights),
    };
    let mut mapped_y = 0u64;
    let mut cursor = 0u64;
    // Bytes of the refitted image with no counterpart in the original: layout when the baseline
    // has them too, otherwise weight-dependent bytes that cannot be compared.
    let unmapped = |t: &mut Tally, a: u64, b: u64| {
        for x in a..b {
            if refitted[x as usize] == base(x) && !near_weight(x) {
                t.layout += 1;
            } else {
                t.unverified += 1;
            }
        }
    };
    for s in &al.segments {
        unmapped(&mut t, cursor, s.x0);
        let (x0, x1) = (s.x0 as usize, s.x1 as usize);
        let (y0, y1) = (
            (s.x0 as i64 + s.shift) as usize,
            (s.x1 as i64 + s.shift) as usize,
        );
        mapped_y += s.x1 - s.x0;
        const CHUNK: usize = 1 << 16;
        let mut p = 0usize;
        while x0 + p < x1 {
            let n = CHUNK.min(x1 - x0 - p);
            let (a, b) = (&refitted[x0 + p..x0 + p + n], &original[y0 + p..y0 + p + n]);
            if a != b {
                for (k, (u, v)) in a.iter().zip(b).enumerate() {
                    if u != v {
                        let x = (x0 + p + k) as u64;
                        classify(&mut t, x, refitted[x as usize] == base(x));
                    }
                }
            }
            p += n;
        }
        debug_assert!(y1 <= original.len());
        cursor = s.x1;
    }
    unmapped(&mut t, cursor, refitted.len() as u64);
    t.layout += original.len() as u64 - mapped_y;
    let bytes = original.len() as u64;
    let (layout_bytes, unverified_bytes) = (t.layout, t.unverified);
    if t.bad > 0 {
        Proof::Failed {
            differing: t.bad,
            first_offsets: t.first_bad, // `bad` is only ever counted together with its reason.
            reason: t.reason.unwrap_or(Failure::OutsideWeights),
        }
    } else if t.missing_bytes > 0 {
        Proof::ExceptMissing {
            bytes,
            missing_bytes: t.missing_bytes,
            layout_bytes,
            unverified_bytes,
        }
    } else if layout_bytes > 0 || unverified_bytes > 0 || refitted.len() != original.len() {
        Proof::Equivalent {
            bytes,
            layout_bytes,
            unverified_bytes,
        }
    } else {
        Proof::Identical { bytes }
    }
}

/// How the bytes that differ between the refitted extraction and the original are accounted for.
#[derive(Default)]
struct Tally {
    layout: u64,
    missing_bytes: u64,
    unverified: u64,
    bad: u64,
    first_bad: Vec<u64>,
    reason: Option<Failure>,
}

impl Tally {
    fn bad(&mut self, x: u64, why: Failure) {
        self.bad += 1;
        if self.first_bad.len() < 8 {
            self.first_bad.push(x);
        }
        if self.reason.is_none() {
            self.reason = Some(why);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The reasons read exactly as they did when they were strings.
    #[test]
    fn failure_texts_are_unchanged() {
        assert_eq!(
            Failure::NothingToProve.to_string(),
            "nothing to prove: the plan holds no weights"
        );
        assert_eq!(
            Failure::Length {
                refitted: 10,
                baseline: 12
            }
            .to_string(),
            "the refitted engine serialized as 10 bytes, the zero baseline as 12"
        );
        assert_eq!(
            Failure::WeightBytes.to_string(),
            "an extracted weight's bytes differ from the original"
        );
        assert_eq!(
            Failure::NextToWeight.to_string(),
            "bytes next to a weight differ from the original"
        );
        assert_eq!(
            Failure::OutsideWeights.to_string(),
            "bytes outside every weight differ from the original"
        );
    }
}
