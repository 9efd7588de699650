//! The networks `selftest` carries: small ONNX models with known weights, and what `dump` must give
//! for each of their weights.

use half::f16;

use super::onnx::{Attr, ElemType, Graph, Initializer, Io, Node};

/// What `dump` must report for one weight.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Expect {
    /// Recovered exactly, in the refit dtype (where TensorRT stores it narrower, exact after that
    /// dtype's rounding: the values are chosen exact in float16, so rounding loses nothing and the
    /// line says which dtype was stored). `how`: what is known of how the engine keeps it.
    Exact { how: &'static str },
    /// Folded into another weight by the builder: either reported missing with a reason, or (if a
    /// TensorRT keeps it after all) recovered exactly.
    MissingOrExact { why: &'static str },
    /// Must be reported missing (folded away): the reason is printed.
    Missing { why: &'static str },
}

/// One weight of a model: its ONNX initializer and what is expected of it.
#[derive(Clone, Debug)]
pub struct Weight {
    pub init: Initializer,
    pub expect: Expect,
}

#[derive(Clone, Debug)]
pub struct Model {
    pub name: &'static str,
    pub what: &'static str,
    pub graph: Graph,
    pub weights: Vec<Weight>,
    /// Built with `BuilderFlag::kSTRIP_PLAN`: `dump` must refuse it (no weights in the plan).
    pub strip_plan: bool,
}

/// Deterministic values, all exact in float16 (k/2048, |k| < 2048), so that any narrower storage
/// TensorRT picks rounds without loss. `seed` keeps weights of one model apart.
pub fn values(count: usize, seed: u64) -> Vec<f32> {
    (0..count as u64)
        .map(|i| {
            let k = (i
                .wrapping_mul(2_654_435_761)
                .wrapping_add(seed.wrapping_mul(40_503))
                % 4095) as i64
                - 2047;
            k as f32 / 2048.0
        })
        .collect()
}

fn raw(v: &[f32], elem: ElemType) -> Vec<u8> {
    match elem {
        ElemType::Float => v.iter().flat_map(|x| x.to_le_bytes()).collect(),
        ElemType::Float16 => v
            .iter()
            .flat_map(|x| f16::from_f32(*x).to_le_bytes())
            .collect(),
    }
}

fn weight(name: &str, elem: ElemType, dims: &[i64], seed: u64, expect: Expect) -> Weight {
    let n = dims.iter().product::<i64>() as usize;
    Weight {
        init: Initializer {
            name: name.into(),
            elem,
            dims: dims.to_vec(),
            raw: raw(&values(n, seed), elem),
        },
        expect,
    }
}

fn weight_from(name: &str, elem: ElemType, dims: &[i64], v: &[f32], expect: Expect) -> Weight {
    Weight {
        init: Initializer {
            name: name.into(),
            elem,
            dims: dims.to_vec(),
            raw: raw(v, elem),
        },
        expect,
    }
}

fn io(name: &str, elem: ElemType, dims: &[i64]) -> Io {
    Io {
        name: name.into(),
        elem,
        dims: dims.to_vec(),
    }
}

fn node(
    op: &'static str,
    name: &str,
    inputs: &[&str],
    outputs: &[&str],
    attrs: Vec<(&'static str, Attr)>,
) -> Node {
    Node {
        op,
        name: name.into(),
        inputs: inputs.iter().map(|s| s.to_string()).collect(),
        outputs: outputs.iter().map(|s| s.to_string()).collect(),
        attrs,
    }
}

fn model(
    name: &'static str,
    what: &'static str,
    nodes: Vec<Node>,
    weights: Vec<Weight>,
    inputs: Vec<Io>,
    outputs: Vec<Io>,
) -> Model {
    Model {
        name,
        what,
        graph: Graph {
            name: name.into(),
            nodes,
            initializers: weights.iter().map(|w| w.init.clone()).collect(),
            inputs,
            outputs,
        },
        weights,
        strip_plan: false,
    }
}

const GEMM: Expect = Expect::Exact {
    how: "Gemm weight (TensorRT stores it transposed)",
};
const VERBATIM: Expect = Expect::Exact { how: "" };

fn mlp(name: &'static str, what: &'static str, e: ElemType) -> Model {
    let gemm =
        |n: &str, i: &[&str], o: &[&str]| node("Gemm", n, i, o, vec![("transB", Attr::Int(1))]);
    model(
        name,
        what,
        vec![
            gemm("fc1", &["x", "fc1.weight", "fc1.bias"], &["h"]),
            node("Relu", "relu", &["h"], &["hr"], vec![]),
            gemm("fc2", &["hr", "fc2.weight", "fc2.bias"], &["y"]),
        ],
        vec![
            weight("fc1.weight", e, &[32, 16], 1, GEMM),
            weight("fc1.bias", e, &[32], 2, VERBATIM),
            weight("fc2.weight", e, &[8, 32], 3, GEMM),
            weight("fc2.bias", e, &[8], 4, VERBATIM),
        ],
        vec![io("x", e, &[2, 16])],
        vec![io("y", e, &[2, 8])],
    )
}

/// Elements of the big weight: more than 2^23 (8,388,608), so a float weight needs every marker
/// pass of the extraction.
pub const BIG_ROWS: i64 = 4096;
pub const BIG_COLS: i64 = 2064;

/// Every model, in the order they are built and reported.
pub fn all() -> Vec<Model> {
    let f = ElemType::Float;
    let h = ElemType::Float16;
    let mut out = vec![
        mlp("mlp_fp32", "fp32 MLP: two Gemm (transB=1) + ReLU", f),
        mlp(
            "mlp_fp16",
            "the same MLP with float16 weights and tensors (strongly typed)",
            h,
        ),
    ];

    let folded = Expect::MissingOrExact {
        why: "the BatchNorm is folded into the Conv, so the Conv keeps W*scale, not W",
    };
    let bn = Expect::Missing {
        why: "BatchNorm folded into the Conv",
    };
    let var: Vec<f32> = values(8, 14).iter().map(|v| 0.5 + v.abs() / 2.0).collect();
    out.push(model(
        "conv_bn_relu",
        "Conv + BatchNormalization + ReLU",
        vec![
            node(
                "Conv",
                "conv",
                &["x", "conv.weight", "conv.bias"],
                &["c"],
                vec![
                    ("kernel_shape", Attr::Ints(vec![3, 3])),
                    ("pads", Attr::Ints(vec![1, 1, 1, 1])),
                ],
            ),
            node(
                "BatchNormalization",
                "bn",
                &[
                    "c",
                    "bn.weight",
                    "bn.bias",
                    "bn.running_mean",
                    "bn.running_var",
                ],
                &["b"],
                vec![("epsilon", Attr::Float(1e-5))],
            ),
            node("Relu", "relu", &["b"], &["y"], vec![]),
        ],
        vec![
            weight("conv.weight", f, &[8, 3, 3, 3], 10, folded.clone()),
            weight("conv.bias", f, &[8], 11, folded),
            weight("bn.weight", f, &[8], 12, bn.clone()),
            weight("bn.bias", f, &[8], 13, bn.clone()),
            weight("bn.running_mean", f, &[8], 15, bn.clone()),
            weight_from("bn.running_var", f, &[8], &var, bn),
        ],
        vec![io("x", f, &[1, 3, 8, 8])],
        vec![io("y", f, &[1, 8, 8, 8])],
    ));

    out.push(model(
        "layernorm",
        "LayerNormalization over the last axis",
        vec![node(
            "LayerNormalization",
            "ln",
            &["x", "ln.weight", "ln.bias"],
            &["y"],
            vec![("axis", Attr::Int(-1)), ("epsilon", Attr::Float(1e-5))],
        )],
        vec![
            weight("ln.weight", f, &[64], 20, VERBATIM),
            weight("ln.bias", f, &[64], 21, VERBATIM),
        ],
        vec![io("x", f, &[1, 4, 64])],
        vec![io("y", f, &[1, 4, 64])],
    ));

    out.push(model(
        "shared_weight",
        "one weight used by two MatMul",
        vec![
            node("MatMul", "mm1", &["x", "shared.weight"], &["h"], vec![]),
            node("Relu", "relu", &["h"], &["hr"], vec![]),
            node("MatMul", "mm2", &["hr", "shared.weight"], &["y"], vec![]),
        ],
        vec![weight(
            "shared.weight",
            f,
            &[16, 16],
            30,
            Expect::Exact { how: "used twice" },
        )],
        vec![io("x", f, &[2, 16])],
        vec![io("y", f, &[2, 16])],
    ));

    let mut stripped = mlp(
        "mlp_fp32_strip_plan",
        "the fp32 MLP built with STRIP_PLAN (no weights in the plan)",
        f,
    );
    stripped.strip_plan = true;
    out.push(stripped);

    out.push(model(
        "big_matmul",
        "one MatMul weight of 4096 x 2064 = 8,454,144 elements (> 2^23: every marker pass)",
        vec![node("MatMul", "mm", &["x", "big.weight"], &["y"], vec![])],
        vec![weight("big.weight", f, &[BIG_ROWS, BIG_COLS], 40, VERBATIM)],
        vec![io("x", f, &[1, BIG_ROWS])],
        vec![io("y", f, &[1, BIG_COLS])],
    ));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_are_exact_in_float16_and_varied() {
        let v = values(10_000, 7);
        assert!(v.iter().all(|x| f16::from_f32(*x).to_f32() == *x));
        let mut d: Vec<u32> = v.iter().map(|x| x.to_bits()).collect();
        d.sort();
        d.dedup();
        assert!(d.len() > 4000);
    }

    #[test]
    fn big_weight_needs_every_pass() {
        const { assert!(BIG_ROWS * BIG_COLS > 1 << 23) };
    }

    #[test]
    fn models_parse_back_with_the_onnx_reader() {
        for m in all().into_iter().filter(|m| m.name != "big_matmul") {
            let bytes = super::super::onnx::model_bytes(&m.graph);
            let dir = tempfile::tempdir().unwrap();
            let p = dir.path().join("m.onnx");
            std::fs::write(&p, &bytes).unwrap();
            let t = crate::reference::load(&p).unwrap();
            assert_eq!(t.len(), m.weights.len(), "{}", m.name);
            for (r, w) in t.iter().zip(&m.weights) {
                assert_eq!(r.name, w.init.name);
                assert_eq!(r.data, w.init.raw);
            }
        }
    }
}
