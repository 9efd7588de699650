//! `refit`: put new weight values into a refittable engine and serialize it with its weights in.
//!
//! The pure parts, free of the command line: matching a weights file to the refitter's weights
//! ([`match_weights`]: exact names, equal element counts, per-value exact conversion to the refit
//! dtype unless `cast`), the refit itself through the pipeline's [`Engine`] ([`refit_engine`]:
//! set the file's tensors, ask TensorRT which weights it still needs, give those the engine's own
//! values, refit, serialize including weights) and the read-back proof ([`proof::read_back`]).
//! `cli::refit` drives them; engine directories (TensorRT-LLM) build on the same calls.

pub mod proof;
pub mod source;

use crate::dtype::{self, DataType};
use crate::error::{Error, ErrorKind};
use crate::pipeline::{Engine, PlanBytes, WeightSpec};
use crate::reference::RefTensor;
pub use source::{Rename, WeightsSource};

/// Options of the pure refit.
#[derive(Clone, Debug, Default)]
pub struct Options {
    /// Accept conversions to the refit dtype that change values (rounding, saturation).
    pub cast: bool,
}

/// A value converted with `--cast` that changed.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct CastNote {
    pub weight: String,
    pub from: DataType,
    pub to: DataType,
    /// Elements whose value changed.
    pub changed: u64,
    pub first: u64,
}

/// Why the file does not fit the engine (exit 16).
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(tag = "problem", rename_all = "snake_case")]
pub enum Problem {
    /// The tensor's element count is not the refitter's.
    CountDiffers {
        weight: String,
        file: u64,
        engine: u64,
    },
    /// Converting to the refit dtype changes values: needs `--cast`.
    NeedsCast {
        weight: String,
        from: DataType,
        to: DataType,
        changed: u64,
        first: u64,
    },
    /// Some value has no representation in the refit dtype at all (an integer out of range, a
    /// fraction for an integer weight, no fp8 code…), `--cast` or not.
    NotConvertible {
        weight: String,
        from: DataType,
        to: DataType,
        element: u64,
    },
    /// TensorRT needs this weight and neither the file nor the engine can give it.
    Unavailable { weight: String, why: String },
    /// Not one tensor of the file names an engine weight.
    NothingMatches { tensors: usize },
    /// `--names-from`: the tensor the pairing names does not fit the engine's weight.
    FromCheckpoint {
        weight: String,
        tensor: String,
        why: String,
    },
}

impl std::fmt::Display for Problem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Problem::CountDiffers { weight, file, engine } => {
                write!(f, "`{weight}`: the file has {file} elements, the engine's refitter {engine}")
            }
            Problem::NeedsCast { weight, from, to, changed, first } => write!(
                f,
                "`{weight}`: {changed} value(s) change when converted from {from} to the refit dtype {to} (first: element {first}); --cast accepts that"
            ),
            Problem::NotConvertible { weight, from, to, element } => {
                write!(f, "`{weight}`: element {element} ({from}) has no value in the refit dtype {to}")
            }
            Problem::Unavailable { weight, why } => write!(f, "`{weight}`: TensorRT needs it, and {why}"),
            Problem::NothingMatches { tensors } => {
                write!(f, "none of the file's {tensors} tensor(s) names a refittable weight of the engine")
            }
            Problem::FromCheckpoint { weight, tensor, why } => write!(f, "`{weight}` (paired with `{tensor}`): {why}"),
        }
    }
}

/// The file's tensors matched to the engine's weights.
#[derive(Clone, Debug, Default)]
pub struct Matched {
    /// Per weight (refitter order): the file's value in the refit dtype, if the file has it.
    pub values: Vec<Option<Vec<u8>>>,
    /// Per weight: the file's tensor name before `--rename` (where it had one).
    pub file_names: Vec<Option<String>>,
    /// Tensors of the file that name no engine weight.
    pub unmatched: Vec<String>,
    pub casts: Vec<CastNote>,
    pub problems: Vec<Problem>,
}

impl Matched {
    pub fn from_file(&self) -> usize {
        self.values.iter().filter(|v| v.is_some()).count()
    }
}

/// Converts `t` to `to`, value by value: `Ok((bytes, changed, first_changed))`, or the first
/// element with no value in `to` at all.
pub fn convert(t: &RefTensor, to: DataType) -> Result<(Vec<u8>, u64, u64), u64> {
    let count = t.count();
    if t.dtype == to {
        return Ok((t.data.clone(), 0, 0));
    }
    let mut out = vec![0u8; to.bytes_for(count).unwrap_or(0) as usize];
    let (mut changed, mut first) = (0u64, 0u64);
    let size = (to.bits() / 8) as usize;
    for i in 0..count as usize {
        let v = dtype::element_value(t.dtype, &t.data, i);
        let (bits, exact) = dtype::encode(to, v).ok_or(i as u64)?;
        if !exact {
            if changed == 0 {
                first = i as u64;
            }
            changed += 1;
        }
        if to.bits() == 4 {
            out[i / 2] |= ((bits & 0xf) as u8) << (4 * (i % 2));
        } else {
            out[i * size..(i + 1) * size].copy_from_slice(&bits.to_le_bytes()[..size]);
        }
    }
    Ok((out, changed, first))
}

/// Matches the file's tensors to `weights` by exact name (after `--rename`), checks counts and
/// converts each value to the refit dtype. Problems are collected, not raised: the caller lists
/// them all and exits 16.
pub fn match_weights(weights: &[WeightSpec], src: &WeightsSource, opts: &Options) -> Matched {
    let by_name: std::collections::HashMap<&str, usize> = weights
        .iter()
        .enumerate()
        .map(|(i, w)| (w.name.as_str(), i))
        .collect();
    let original: std::collections::HashMap<&str, &str> = src
        .renamed
        .iter()
        .map(|(from, to)| (to.as_str(), from.as_str()))
        .collect();
    let mut m = Matched {
        values: vec![None; weights.len()],
        file_names: vec![None; weights.len()],
        ..Matched::default()
    };
    for t in &src.tensors {
        let Some(&i) = by_name.get(t.name.as_str()) else {
            m.unmatched.push(t.name.clone());
            continue;
        };
        let w = &weights[i];
        if t.count() != w.count {
            m.problems.push(Problem::CountDiffers {
                weight: w.name.clone(),
                file: t.count(),
                engine: w.count,
            });
            continue;
        }
        match convert(t, w.dtype) {
            Err(element) => m.problems.push(Problem::NotConvertible {
                weight: w.name.clone(),
                from: t.dtype,
                to: w.dtype,
                element,
            }),
            Ok((_, changed, first)) if changed > 0 && !opts.cast => {
                m.problems.push(Problem::NeedsCast {
                    weight: w.name.clone(),
                    from: t.dtype,
                    to: w.dtype,
                    changed,
                    first,
                })
            }
            Ok((bytes, changed, first)) => {
                if changed > 0 {
                    m.casts.push(CastNote {
                        weight: w.name.clone(),
                        from: t.dtype,
                        to: w.dtype,
                        changed,
                        first,
                    });
                }
                m.values[i] = Some(bytes);
                m.file_names[i] = Some(
                    original
                        .get(t.name.as_str())
                        .copied()
                        .unwrap_or(&t.name)
                        .to_string(),
                );
            }
        }
    }
    if m.from_file() == 0 && m.problems.is_empty() {
        m.problems.push(Problem::NothingMatches {
            tensors: src.tensors.len(),
        });
    }
    m
}

/// The engine's own values, for the weights the file does not hold.
#[derive(Clone, Debug, Default)]
pub struct OwnValues {
    /// Per weight: its current value in the refit dtype, when the engine holds it as such.
    pub values: Vec<Option<Vec<u8>>>,
    /// Per weight without a value: why (folded, fused, stripped, not in the map…).
    pub why: Vec<Option<String>>,
}

/// Where a weight's value in the output came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ValueFrom {
    /// The weights file.
    File,
    /// The engine's own value, read by trt-dump and set because TensorRT needed it.
    Engine,
    /// Not set: TensorRT kept the engine's value.
    Kept,
}

/// The result of [`refit_engine`].
pub struct RefitOutcome {
    /// The refitted engine, serialized with its weights included.
    pub plan: Box<dyn PlanBytes>,
    /// Per weight: where its value came from.
    pub from: Vec<ValueFrom>,
    /// Whether the engine's own values were asked for.
    pub read_engine: bool,
    /// Whether the input engine is weight-stripped (its plain serialization excludes weights).
    pub stripped: bool,
}

/// A weight-stripped engine serializes fewer bytes plainly than with its weights included.
pub fn is_stripped(engine: &dyn Engine) -> anyhow::Result<bool> {
    let mut inst = engine.instance()?;
    let plain = inst.serialize()?.bytes().len();
    let full = inst.serialize_including_weights()?.bytes().len();
    Ok(full > plain)
}

/// The `WeightsMismatch` error listing `problems`.
pub fn mismatch_error(problems: &[Problem], what: &str) -> anyhow::Error {
    let mut msg = format!("the weights file does not fit the engine{what}; nothing was written:");
    for p in problems.iter().take(20) {
        msg.push_str(&format!("\n  - {p}"));
    }
    if problems.len() > 20 {
        msg.push_str(&format!("\n  - ... and {} more", problems.len() - 20));
    }
    anyhow::Error::new(Error::new(ErrorKind::WeightsMismatch, msg).with_hint(
        "names must match the engine's exactly (`trt-dump list ENGINE`; --rename FROM=TO rewrites a prefix), element counts must equal the refitter's, and --cast accepts conversions that change values",
    ))
}

/// Refits a fresh instance of `engine` with the file's values (`file[i]`, in the refit dtype) and
/// serializes it with its weights included. Weights TensorRT still needs after the file's are set
/// (`getMissingWeights`) get the engine's own values from `own` (called at most once, only then;
/// a weight-stripped engine has none: every weight must come from the file). A needed weight
/// nobody can give is a [`ErrorKind::WeightsMismatch`] error naming it. The input is not modified.
pub fn refit_engine(
    engine: &dyn Engine,
    file: &[Option<Vec<u8>>],
    own: &mut dyn FnMut(&[usize]) -> anyhow::Result<OwnValues>,
) -> anyhow::Result<RefitOutcome> {
    let weights = engine.weights();
    anyhow::ensure!(
        file.len() == weights.len(),
        "{} values for {} weights",
        file.len(),
        weights.len()
    );
    let stripped = is_stripped(engine)?;
    let mut from: Vec<ValueFrom> = file
        .iter()
        .map(|v| {
            if v.is_some() {
                ValueFrom::File
            } else {
                ValueFrom::Kept
            }
        })
        .collect();
    let views: Vec<Option<&[u8]>> = file.iter().map(|v| v.as_deref()).collect();
    let mut inst = engine.instance()?;
    let needed = inst.refit_some(&views)?;
    if needed.is_empty() {
        let plan = inst.serialize_including_weights()?;
        return Ok(RefitOutcome {
            plan,
            from,
            read_engine: false,
            stripped,
        });
    }
    drop(inst);
    let mine = if stripped {
        OwnValues {
            values: vec![None; weights.len()],
            why: vec![
                Some(
                    "the engine is weight-stripped (every weight must come from the file)".into()
                );
                weights.len()
            ],
        }
    } else {
        own(&needed)?
    };
    let mut problems = Vec::new();
    let mut views = views;
    for &i in &needed {
        match mine.values.get(i).and_then(|v| v.as_deref()) {
            Some(v) if v.len() as u64 == weights[i].refit_bytes() => {
                views[i] = Some(v);
                from[i] = ValueFrom::Engine;
            }
            _ => problems.push(Problem::Unavailable {
                weight: weights[i].name.clone(),
                why: format!(
                    "the file does not hold it and the engine cannot give it: {}",
                    mine.why
                        .get(i)
                        .cloned()
                        .flatten()
                        .unwrap_or_else(|| "its value was not recovered".into())
                ),
            }),
        }
    }
    if !problems.is_empty() {
        return Err(mismatch_error(&problems, ""));
    }
    let mut inst = engine.instance()?;
    let still = inst.refit_some(&views)?;
    if !still.is_empty() {
        let problems: Vec<Problem> = still
            .iter()
            .map(|&i| Problem::Unavailable {
                weight: weights[i].name.clone(),
                why: "TensorRT still misses it after every weight it asked for was set".into(),
            })
            .collect();
        return Err(mismatch_error(&problems, ""));
    }
    let plan = inst.serialize_including_weights()?;
    Ok(RefitOutcome {
        plan,
        from,
        read_engine: true,
        stripped,
    })
}

/// `engine` seen through serializations that include the weights: marker passes through it learn
/// the layout of a plan with its weights in (what `refit` writes), even for a weight-stripped
/// engine, whose plain serializations hold none.
pub struct IncludingWeights<'a>(pub &'a dyn Engine);

struct WithWeights<'a>(Box<dyn crate::pipeline::Instance + 'a>);

impl crate::pipeline::Instance for WithWeights<'_> {
    fn serialize(&mut self) -> anyhow::Result<Box<dyn PlanBytes>> {
        self.0.serialize_including_weights()
    }
    fn serialize_including_weights(&mut self) -> anyhow::Result<Box<dyn PlanBytes>> {
        self.0.serialize_including_weights()
    }
    fn refit(&mut self, values: &[&[u8]]) -> anyhow::Result<()> {
        self.0.refit(values)
    }
    fn refit_some(&mut self, values: &[Option<&[u8]>]) -> anyhow::Result<Vec<usize>> {
        self.0.refit_some(values)
    }
}

impl Engine for IncludingWeights<'_> {
    fn weights(&self) -> &[WeightSpec] {
        self.0.weights()
    }
    fn instance(&self) -> anyhow::Result<Box<dyn crate::pipeline::Instance + '_>> {
        Ok(Box::new(WithWeights(self.0.instance()?)))
    }
    fn instance_of(&self, plan: &[u8]) -> anyhow::Result<Box<dyn crate::pipeline::Instance + '_>> {
        Ok(Box::new(WithWeights(self.0.instance_of(plan)?)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(name: &str, dtype: DataType, data: Vec<u8>) -> RefTensor {
        let n = data.len() as u64 * 8 / u64::from(dtype.bits());
        RefTensor {
            name: name.into(),
            dtype,
            shape: vec![n],
            data,
        }
    }

    fn f32s(v: &[f32]) -> Vec<u8> {
        v.iter().flat_map(|x| x.to_le_bytes()).collect()
    }

    #[test]
    fn conversion_is_checked_per_value() {
        // bf16 kept as float32 (trt-dump's npz): every value converts exactly.
        let exact = t("w", DataType::Float, f32s(&[1.0, -2.5, 0.0078125]));
        let (b, changed, _) = convert(&exact, DataType::Bf16).unwrap();
        assert_eq!(changed, 0);
        assert_eq!(b, vec![0x80, 0x3f, 0x20, 0xc0, 0x00, 0x3c]);
        let lossy = t("w", DataType::Float, f32s(&[1.0, 0.1]));
        assert_eq!(
            convert(&lossy, DataType::Half).map(|(_, c, f)| (c, f)),
            Ok((1, 1))
        );
        assert_eq!(
            convert(
                &t("i", DataType::Int64, 300i64.to_le_bytes().to_vec()),
                DataType::Int8
            ),
            Err(0)
        );
    }

    #[test]
    fn matching_reports_counts_casts_and_strangers() {
        let weights = vec![
            WeightSpec {
                name: "a".into(),
                dtype: DataType::Half,
                count: 2,
            },
            WeightSpec {
                name: "b".into(),
                dtype: DataType::Float,
                count: 3,
            },
        ];
        let mut src = WeightsSource {
            tensors: vec![
                t("model.a", DataType::Float, f32s(&[1.0, 0.1])),
                t("b", DataType::Float, f32s(&[1.0])),
                t("extra", DataType::Float, f32s(&[1.0])),
            ],
            ..Default::default()
        };
        src.rename(&["model.=".parse().unwrap()]).unwrap();
        let m = match_weights(&weights, &src, &Options::default());
        assert_eq!(m.unmatched, vec!["extra".to_string()]);
        assert!(
            matches!(&m.problems[0], Problem::NeedsCast { weight, changed: 1, .. } if weight == "a")
        );
        assert!(matches!(
            &m.problems[1],
            Problem::CountDiffers {
                file: 1,
                engine: 3,
                ..
            }
        ));
        let m = match_weights(&weights, &src, &Options { cast: true });
        assert_eq!(m.casts.len(), 1);
        assert_eq!(m.file_names[0].as_deref(), Some("model.a"));
        assert!(m.values[0].is_some() && m.values[1].is_none());
    }
}
