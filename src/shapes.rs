//! `--shapes-from FILE`: give extracted weights their real shapes.
//!
//! The refitter names a weight and its element count but not its shape, so outputs are flat 1-D
//! unless the user points at the model's safetensors, npz or ONNX file. A weight takes the shape of
//! the source tensor with the same name when the element counts agree; otherwise it stays flat
//! `[count]` and is listed as unmatched with the reason, so the caller can warn. Only names,
//! dtypes and shapes are read ([`crate::reference::load_shapes`]), never the values.

use std::collections::HashMap;
use std::fmt;
use std::path::Path;

use crate::pipeline::WeightSpec;
use crate::reference::{self, TensorShape};

/// Why a weight kept its flat shape.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Mismatch {
    /// The source has no tensor of this name.
    NoSuchName,
    /// The source's tensor has another element count (`shape` is the source's).
    CountDiffers {
        weight: u64,
        source: u64,
        shape: Vec<u64>,
    },
}

impl fmt::Display for Mismatch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Mismatch::NoSuchName => f.write_str("no tensor of that name in the shapes file"),
            Mismatch::CountDiffers { weight, source, shape } => write!(
                f,
                "element count differs: the engine has {weight}, the shapes file {source} (shape {shape:?})"
            ),
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Unmatched {
    /// Position in the weight list.
    pub index: usize,
    pub name: String,
    pub why: Mismatch,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Resolved {
    /// One shape per weight, in the weight list's order; its product is always the weight's count.
    pub shapes: Vec<Vec<u64>>,
    pub unmatched: Vec<Unmatched>,
}

/// Chooses a shape for each weight from `source` (first tensor of each name wins, as a file with
/// duplicate names is ambiguous and the first is what readers see first).
pub fn resolve(weights: &[WeightSpec], source: &[TensorShape]) -> Resolved {
    let mut by_name: HashMap<&str, &TensorShape> = HashMap::with_capacity(source.len());
    for t in source {
        by_name.entry(t.name.as_str()).or_insert(t);
    }
    let mut shapes = Vec::with_capacity(weights.len());
    let mut unmatched = Vec::new();
    for (index, w) in weights.iter().enumerate() {
        let why = match by_name.get(w.name.as_str()) {
            None => Some(Mismatch::NoSuchName),
            Some(t) => match t.count() {
                Some(c) if c == w.count => None,
                c => Some(Mismatch::CountDiffers {
                    weight: w.count,
                    source: c.unwrap_or(u64::MAX),
                    shape: t.shape.clone(),
                }),
            },
        };
        match why {
            None => shapes.push(by_name[w.name.as_str()].shape.clone()),
            Some(why) => {
                shapes.push(vec![w.count]);
                unmatched.push(Unmatched {
                    index,
                    name: w.name.clone(),
                    why,
                });
            }
        }
    }
    Resolved { shapes, unmatched }
}

/// [`resolve`] against a file (safetensors, npz or ONNX), reading only its names and shapes.
pub fn from_file(weights: &[WeightSpec], path: &Path) -> anyhow::Result<Resolved> {
    let source = reference::load_shapes(path)?;
    Ok(resolve(weights, &source))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dtype::DataType;

    fn w(name: &str, count: u64) -> WeightSpec {
        WeightSpec {
            name: name.into(),
            dtype: DataType::Float,
            count,
        }
    }
    fn s(name: &str, shape: &[u64]) -> TensorShape {
        TensorShape {
            name: name.into(),
            dtype: None,
            source_dtype: "F64".into(),
            shape: shape.to_vec(),
        }
    }

    #[test]
    fn matches_by_name_and_count_and_explains_the_rest() {
        let weights = [
            w("a", 6),
            w("b", 4),
            w("c", 3),
            w("scalar", 1),
            w("empty", 0),
        ];
        let source = [
            s("a", &[2, 3]),
            s("b", &[5]),
            s("scalar", &[]),
            s("empty", &[0, 7]),
            s("a", &[6]),
        ];
        let r = resolve(&weights, &source);
        assert_eq!(
            r.shapes,
            vec![vec![2, 3], vec![4], vec![3], vec![], vec![0, 7]]
        );
        assert_eq!(
            r.unmatched,
            vec![
                Unmatched {
                    index: 1,
                    name: "b".into(),
                    why: Mismatch::CountDiffers {
                        weight: 4,
                        source: 5,
                        shape: vec![5]
                    }
                },
                Unmatched {
                    index: 2,
                    name: "c".into(),
                    why: Mismatch::NoSuchName
                },
            ]
        );
        assert_eq!(
            r.unmatched[0].why.to_string(),
            "element count differs: the engine has 4, the shapes file 5 (shape [5])"
        );
    }

    #[test]
    fn overflowing_source_shape_is_a_mismatch_not_a_panic() {
        let r = resolve(&[w("a", 4)], &[s("a", &[u64::MAX, 2])]);
        assert_eq!(r.shapes, vec![vec![4]]);
        assert!(matches!(
            r.unmatched[0].why,
            Mismatch::CountDiffers {
                source: u64::MAX,
                ..
            }
        ));
    }
}
