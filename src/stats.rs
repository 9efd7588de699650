//! Per-weight statistics over recovered values (`list --stats`, `view`): min, max, mean, standard
//! deviation (population: divisor n), zeros, NaN and Inf counts, and a small histogram.
//!
//! Values are read in the weight's refit dtype (fp16/bf16/fp8/fp4/e8m0 widened exactly, integers as
//! numbers) and accumulated in f64 with Welford's method, which stays accurate where the naive
//! sum-of-squares formula cancels (a large mean with a small spread). NaN and ±Inf are counted and
//! left out of min/max/mean/std, which are therefore over the finite values; `zeros` counts +0.0 and
//! −0.0 alike. When no value is finite, min/max/mean/std are absent (`null` in JSON).

use half::{bf16, f16};
use serde::{Deserialize, Serialize};

use crate::dtype::DataType;
use crate::dtype::{e8m0_to_f32, fp4_to_f32, fp8_e4m3_to_f32, int4_to_i8};

#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct Stats {
    pub min: Option<f64>,
    pub max: Option<f64>,
    pub mean: Option<f64>,
    pub std: Option<f64>,
    pub zeros: u64,
    pub nan: u64,
    pub inf: u64,
}

/// Welford accumulator.
#[derive(Clone, Copy, Debug, Default)]
pub struct Accum {
    n: u64,
    mean: f64,
    m2: f64,
    min: f64,
    max: f64,
    zeros: u64,
    nan: u64,
    inf: u64,
}

impl Accum {
    pub fn push(&mut self, v: f64) {
        if v.is_nan() {
            self.nan += 1;
            return;
        }
        if v.is_infinite() {
            self.inf += 1;
            return;
        }
        if v == 0.0 {
            self.zeros += 1;
        }
        if self.n == 0 {
            self.min = v;
            self.max = v;
        } else {
            self.min = self.min.min(v);
            self.max = self.max.max(v);
        }
        self.n += 1;
        let d = v - self.mean;
        self.mean += d / self.n as f64;
        self.m2 += d * (v - self.mean);
    }

    pub fn finish(&self) -> Stats {
        let finite = self.n > 0;
        let f = |v: f64| finite.then_some(v);
        Stats {
            min: f(self.min),
            max: f(self.max),
            mean: f(self.mean),
            std: f((self.m2 / self.n.max(1) as f64).max(0.0).sqrt()),
            zeros: self.zeros,
            nan: self.nan,
            inf: self.inf,
        }
    }
}

fn nibble(data: &[u8], i: usize) -> u8 {
    let b = data[i / 2];
    if i.is_multiple_of(2) {
        b & 0x0f
    } else {
        b >> 4
    }
}

/// Element `i` of `data` (values in `dtype`, packed types two per byte, low nibble first) as f64.
/// Panics if `data` is too short; see [`elements`] for the checked form.
pub fn element(dtype: DataType, data: &[u8], i: usize) -> f64 {
    let u16_at = |i: usize| u16::from_le_bytes([data[2 * i], data[2 * i + 1]]);
    match dtype {
        DataType::Float => f64::from(f32::from_le_bytes(
            data[4 * i..4 * i + 4].try_into().expect("4 bytes"),
        )),
        DataType::Half => f16::from_bits(u16_at(i)).to_f64(),
        DataType::Bf16 => bf16::from_bits(u16_at(i)).to_f64(),
        DataType::Fp8 => f64::from(fp8_e4m3_to_f32(data[i])),
        DataType::E8m0 => f64::from(e8m0_to_f32(data[i])),
        DataType::Fp4 => f64::from(fp4_to_f32(nibble(data, i))),
        DataType::Int4 => f64::from(int4_to_i8(nibble(data, i))),
        DataType::Int8 => f64::from(data[i] as i8),
        DataType::Uint8 => f64::from(data[i]),
        DataType::Bool => f64::from(u8::from(data[i] != 0)),
        DataType::Int32 => f64::from(i32::from_le_bytes(
            data[4 * i..4 * i + 4].try_into().expect("4 bytes"),
        )),
        DataType::Int64 => {
            i64::from_le_bytes(data[8 * i..8 * i + 8].try_into().expect("8 bytes")) as f64
        }
    }
}

/// The number of whole elements `data` holds in `dtype`, at most `count`.
fn usable(dtype: DataType, data: &[u8], count: u64) -> usize {
    let fit = (data.len() as u64 * 8) / u64::from(dtype.bits());
    fit.min(count) as usize
}

/// Statistics of the first `count` elements of `data` in `dtype`.
pub fn of_values(dtype: DataType, data: &[u8], count: u64) -> Stats {
    let mut a = Accum::default();
    for i in 0..usable(dtype, data, count) {
        a.push(element(dtype, data, i));
    }
    a.finish()
}

/// A histogram of the finite values over `[lo, hi]` in `bins` equal bins (every value in the last
/// bin when `lo == hi`).
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Histogram {
    pub lo: f64,
    pub hi: f64,
    pub counts: Vec<u64>,
}

pub fn histogram(
    dtype: DataType,
    data: &[u8],
    count: u64,
    stats: &Stats,
    bins: usize,
) -> Option<Histogram> {
    let (lo, hi) = (stats.min?, stats.max?);
    let bins = bins.max(1);
    let mut counts = vec![0u64; bins];
    let width = hi - lo;
    for i in 0..usable(dtype, data, count) {
        let v = element(dtype, data, i);
        if !v.is_finite() {
            continue;
        }
        let b = if width > 0.0 {
            (((v - lo) / width) * bins as f64) as usize
        } else {
            bins - 1
        };
        counts[b.min(bins - 1)] += 1;
    }
    Some(Histogram { lo, hi, counts })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn f32s(v: &[f32]) -> Vec<u8> {
        v.iter().flat_map(|x| x.to_le_bytes()).collect()
    }

    #[test]
    fn population_std_and_mean() {
        let s = of_values(
            DataType::Float,
            &f32s(&[2.0, 4.0, 4.0, 4.0, 5.0, 5.0, 7.0, 9.0]),
            8,
        );
        assert_eq!(s.mean, Some(5.0));
        assert_eq!(s.std, Some(2.0)); // divisor n, not n - 1
        assert_eq!((s.min, s.max), (Some(2.0), Some(9.0)));
        assert_eq!((s.zeros, s.nan, s.inf), (0, 0, 0));
    }

    #[test]
    fn nan_inf_and_negative_zero_are_counted_and_left_out_of_the_moments() {
        let s = of_values(
            DataType::Float,
            &f32s(&[-0.0, 0.0, f32::NAN, f32::INFINITY, f32::NEG_INFINITY, 3.0]),
            6,
        );
        assert_eq!((s.zeros, s.nan, s.inf), (2, 1, 2));
        assert_eq!((s.min, s.max), (Some(0.0), Some(3.0)));
        assert_eq!(s.mean, Some(1.0));
        let all_nan = of_values(DataType::Float, &f32s(&[f32::NAN]), 1);
        assert_eq!(
            (all_nan.min, all_nan.mean, all_nan.std, all_nan.nan),
            (None, None, None, 1)
        );
        let json = serde_json::to_value(all_nan).unwrap();
        assert!(json["min"].is_null() && json["nan"] == 1);
    }

    #[test]
    fn integers_are_numbers() {
        let data: Vec<u8> = [-3i32, 0, 7].iter().flat_map(|x| x.to_le_bytes()).collect();
        let s = of_values(DataType::Int32, &data, 3);
        assert_eq!((s.min, s.max, s.zeros), (Some(-3.0), Some(7.0), 1));
        let i64s: Vec<u8> = [-(1i64 << 40), 1 << 40]
            .iter()
            .flat_map(|x| x.to_le_bytes())
            .collect();
        assert_eq!(of_values(DataType::Int64, &i64s, 2).mean, Some(0.0));
        // int4: 0x9 is -7, 0x7 is 7; low nibble first.
        let s = of_values(DataType::Int4, &[0x79, 0x00], 3);
        assert_eq!((s.min, s.max, s.zeros), (Some(-7.0), Some(7.0), 1));
        let s = of_values(DataType::Int8, &[0xff, 0x01], 2);
        assert_eq!((s.min, s.max, s.mean), (Some(-1.0), Some(1.0), Some(0.0)));
    }

    #[test]
    fn half_precision_widens_exactly() {
        let data: Vec<u8> = [f16::from_f32(-0.0), f16::from_f32(0.5), f16::INFINITY]
            .iter()
            .flat_map(|x| x.to_bits().to_le_bytes())
            .collect();
        let s = of_values(DataType::Half, &data, 3);
        assert_eq!((s.zeros, s.inf, s.max), (1, 1, Some(0.5)));
    }

    #[test]
    fn accumulation_is_numerically_sound() {
        // A large offset with a tiny spread: the naive E[x²]-E[x]² formula loses it entirely.
        let v: Vec<f32> = (0..10_000)
            .map(|i| 1.0e6 + if i % 2 == 0 { 0.5 } else { -0.5 })
            .collect();
        let s = of_values(DataType::Float, &f32s(&v), v.len() as u64);
        assert!((s.std.unwrap() - 0.5).abs() < 1e-9, "{s:?}");
        assert!((s.mean.unwrap() - 1.0e6).abs() < 1e-9);
    }

    #[test]
    fn histogram_bins_cover_the_range() {
        let data = f32s(&[0.0, 1.0, 2.0, 3.0, f32::NAN]);
        let s = of_values(DataType::Float, &data, 5);
        let h = histogram(DataType::Float, &data, 5, &s, 3).unwrap();
        assert_eq!(h.counts, vec![1, 1, 2]);
        let flat = of_values(DataType::Float, &f32s(&[1.0, 1.0]), 2);
        assert_eq!(
            histogram(DataType::Float, &f32s(&[1.0, 1.0]), 2, &flat, 4)
                .unwrap()
                .counts,
            vec![0, 0, 0, 2]
        );
        // Short buffers never panic.
        assert_eq!(of_values(DataType::Float, &[0, 0], 3).nan, 0);
    }
}
