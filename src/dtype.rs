//! TensorRT's `DataType`, as the refitter reports it and as weights are stored.
//!
//! The numeric values are TensorRT's own (`nvinfer1::DataType`); the binding converts the `i32` it
//! receives with [`DataType::from_trt`], so an unknown value from a newer TensorRT is an error, never
//! a silent misread.

use std::fmt;

use serde::{Deserialize, Serialize};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DataType {
    Float,
    Half,
    Int8,
    Int32,
    Bool,
    Uint8,
    Fp8,
    Bf16,
    Int64,
    Int4,
    Fp4,
    E8m0,
}

impl DataType {
    pub const ALL: [DataType; 12] = [
        DataType::Float,
        DataType::Half,
        DataType::Int8,
        DataType::Int32,
        DataType::Bool,
        DataType::Uint8,
        DataType::Fp8,
        DataType::Bf16,
        DataType::Int64,
        DataType::Int4,
        DataType::Fp4,
        DataType::E8m0,
    ];

    /// TensorRT's enum value (`kFLOAT` = 0 … `kE8M0` = 11).
    pub fn to_trt(self) -> i32 {
        match self {
            DataType::Float => 0,
            DataType::Half => 1,
            DataType::Int8 => 2,
            DataType::Int32 => 3,
            DataType::Bool => 4,
            DataType::Uint8 => 5,
            DataType::Fp8 => 6,
            DataType::Bf16 => 7,
            DataType::Int64 => 8,
            DataType::Int4 => 9,
            DataType::Fp4 => 10,
            DataType::E8m0 => 11,
        }
    }

    pub fn from_trt(v: i32) -> Option<DataType> {
        DataType::ALL.iter().copied().find(|d| d.to_trt() == v)
    }

    /// Size in bits of one element (4 for the packed types).
    pub fn bits(self) -> u32 {
        match self {
            DataType::Float | DataType::Int32 => 32,
            DataType::Half | DataType::Bf16 => 16,
            DataType::Int8 | DataType::Uint8 | DataType::Bool | DataType::Fp8 | DataType::E8m0 => 8,
            DataType::Int64 => 64,
            DataType::Int4 | DataType::Fp4 => 4,
        }
    }

    /// Bytes needed for `count` elements, packed types rounded up to whole bytes as TensorRT's
    /// `Weights` buffers are.
    pub fn bytes_for(self, count: u64) -> Option<u64> {
        count.checked_mul(u64::from(self.bits())).map(|b| b.div_ceil(8))
    }

    /// The lowercase name used in reports, JSON and map files.
    pub fn name(self) -> &'static str {
        match self {
            DataType::Float => "float32",
            DataType::Half => "float16",
            DataType::Int8 => "int8",
            DataType::Int32 => "int32",
            DataType::Bool => "bool",
            DataType::Uint8 => "uint8",
            DataType::Fp8 => "fp8_e4m3",
            DataType::Bf16 => "bfloat16",
            DataType::Int64 => "int64",
            DataType::Int4 => "int4",
            DataType::Fp4 => "fp4_e2m1",
            DataType::E8m0 => "e8m0",
        }
    }

    pub fn from_name(s: &str) -> Option<DataType> {
        DataType::ALL.iter().copied().find(|d| d.name() == s)
    }

    pub fn is_packed(self) -> bool {
        self.bits() == 4
    }
}

impl fmt::Display for DataType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trt_values_round_trip_and_unknown_is_rejected() {
        for d in DataType::ALL {
            assert_eq!(DataType::from_trt(d.to_trt()), Some(d));
            assert_eq!(DataType::from_name(d.name()), Some(d));
        }
        assert_eq!(DataType::from_trt(12), None);
        assert_eq!(DataType::from_trt(-1), None);
    }

    #[test]
    fn packed_sizes_round_up() {
        assert_eq!(DataType::Int4.bytes_for(3), Some(2));
        assert_eq!(DataType::Fp4.bytes_for(4), Some(2));
        assert_eq!(DataType::Float.bytes_for(3), Some(12));
        assert_eq!(DataType::Int64.bytes_for(u64::MAX), None);
    }
}
