//! Named model shapes for tests and benchmarks, modelled on what real TensorRT-RTX 1.7.1 engines
//! did (../shared/fixtures/trt-rtx-1.7.1-h100/report.json): ~180 KB of kernels first, then the
//! weight buffers back to back; Gemm (`Linear`) weights transposed, biases and MatMul weights
//! verbatim, Q/K/V of a layer fused into one buffer with their rows interleaved, the embedding
//! LayerNorm bias stored only as fp16, one bias stored twice (fp32 and fp16), and the constant
//! 8-byte footer `00000000 998b8d8b`.
//!
//! Building is O(parameters) with no per-element allocation; values are deterministic.

use trt_dump::dtype::DataType;

use super::num::{self, Rng};
use super::order::Order;
use super::{Content, Fill, Part, Segment, SimSpec};

/// How a model's weights are typed and stored.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Storage {
    /// fp32 model, fp32 storage.
    Fp32,
    /// fp16 model (refit dtype fp16), fp16 storage.
    Fp16,
    /// fp32 model built with fp16 enabled: refit dtype fp32, stored as fp16 (lossy).
    Fp32AsFp16,
}

impl Storage {
    fn refit(self) -> DataType {
        match self {
            Storage::Fp32 | Storage::Fp32AsFp16 => DataType::Float,
            Storage::Fp16 => DataType::Half,
        }
    }

    fn stored(self) -> DataType {
        match self {
            Storage::Fp32 => DataType::Float,
            Storage::Fp16 | Storage::Fp32AsFp16 => DataType::Half,
        }
    }

    /// The other dtype of a weight stored twice.
    fn twin(self) -> DataType {
        match self {
            Storage::Fp32 => DataType::Half,
            Storage::Fp16 | Storage::Fp32AsFp16 => DataType::Float,
        }
    }
}

pub const FOOTER: [u8; 8] = [0, 0, 0, 0, 0x99, 0x8B, 0x8D, 0x8B];

/// Kinds of initial values.
#[derive(Clone, Copy)]
enum Init {
    /// Small symmetric values (weights).
    Weight(f32),
    /// Near zero (biases).
    Bias,
    /// Near one (norm gains).
    Gain,
}

/// Deterministic values in the refit dtype, generated straight into the output buffer.
fn values(seed: u64, dt: DataType, count: u64, init: Init) -> Vec<u8> {
    let mut out = vec![0u8; dt.bytes_for(count).unwrap() as usize];
    let mut rng = Rng::new(seed);
    let size = dt.bits() as usize / 8;
    for chunk in out.chunks_exact_mut(size) {
        let r = rng.next_u64();
        // Sum of two 24-bit uniforms in [-1, 1): a cheap triangular distribution.
        let u = ((r & 0xFF_FFFF) as f32 + ((r >> 24) & 0xFF_FFFF) as f32) / 16_777_216.0 - 1.0;
        let x = match init {
            Init::Weight(s) => u * s,
            Init::Bias => u * 0.02,
            Init::Gain => 1.0 + u * 0.05,
        };
        match dt {
            DataType::Float => chunk.copy_from_slice(&x.to_le_bytes()),
            _ => chunk.copy_from_slice(&(num::from_f32(x, dt) as u16).to_le_bytes()),
        }
    }
    out
}

struct Builder {
    spec: SimSpec,
    st: Storage,
    seed: u64,
}

impl Builder {
    fn new(st: Storage, seed: u64) -> Builder {
        Builder {
            spec: SimSpec::new(),
            st,
            seed,
        }
    }

    fn weight(&mut self, name: impl Into<String>, count: u64, init: Init) -> usize {
        let i = self.spec.layout.weights.len() as u64;
        let dt = self.st.refit();
        let v = values(num::mix(self.seed, i), dt, count, init);
        self.spec.weight(name, dt, count, v)
    }

    fn store(&mut self, content: Content, order: Order) -> usize {
        let st = self.st.stored();
        self.spec.buffer(content, st, order)
    }

    fn verbatim(&mut self, w: usize) -> usize {
        self.store(Content::Copy(w), Order::Verbatim)
    }

    /// A Gemm weight `[out, in]`, stored transposed.
    fn gemm(&mut self, w: usize, out: u64, inp: u64) -> usize {
        self.store(
            Content::Copy(w),
            Order::Transpose {
                rows: out,
                cols: inp,
            },
        )
    }

    fn kernels(&mut self, len: u64) {
        let salt = self.spec.layout.segments.len() as u64;
        self.spec
            .filler(len, Fill::Adversarial(num::mix(self.seed, 0xC0DE + salt)));
    }

    fn finish(mut self) -> SimSpec {
        self.spec.filler(8, Fill::Pattern(FOOTER.to_vec()));
        self.spec
    }
}

/// Linear 32→64→64→16 (6 weights, 7,312 parameters), in the real engine's plan order: Gemm
/// weights transposed, biases verbatim, all buffers adjacent after ~180 KB of kernels.
pub fn tiny_mlp(st: Storage) -> SimSpec {
    let mut b = Builder::new(st, 0x7111_u64);
    let dims = [(64u64, 32u64), (64, 64), (16, 64)];
    let mut ids = Vec::new();
    for (i, (o, inp)) in dims.iter().enumerate() {
        let w = b.weight(format!("net.{}.weight", 2 * i), o * inp, Init::Weight(0.17));
        let bias = b.weight(format!("net.{}.bias", 2 * i), *o, Init::Bias);
        ids.push((w, bias, *o, *inp));
    }
    b.kernels(180_796);
    // Real fp32 plan order: net.2.bias, net.0.weight^T, net.0.bias, net.4.weight^T, net.2.weight^T, net.4.bias.
    let (w0, b0, o0, i0) = ids[0];
    let (w2, b2, o2, i2) = ids[1];
    let (w4, b4, o4, i4) = ids[2];
    b.verbatim(b2);
    b.gemm(w0, o0, i0);
    b.verbatim(b0);
    b.gemm(w4, o4, i4);
    b.gemm(w2, o2, i2);
    b.verbatim(b4);
    b.finish()
}

/// BERT encoder weights in ONNX initializer order: embeddings, per-layer biases/norms, pooler,
/// then the per-layer MatMul weights (named `onnx::MatMul_N`, shapes `[in, out]`).
fn bert(
    st: Storage,
    seed: u64,
    vocab: u64,
    hidden: u64,
    layers: u64,
    inter: u64,
    max_pos: u64,
) -> SimSpec {
    let mut b = Builder::new(st, seed);
    let h = hidden;
    let word = b.weight(
        "bert.embeddings.word_embeddings.weight",
        vocab * h,
        Init::Weight(0.05),
    );
    let pos = b.weight(
        "bert.embeddings.position_embeddings.weight",
        max_pos * h,
        Init::Weight(0.05),
    );
    let tok = b.weight(
        "bert.embeddings.token_type_embeddings.weight",
        2 * h,
        Init::Weight(0.05),
    );
    let ln_w = b.weight("bert.embeddings.LayerNorm.weight", h, Init::Gain);
    let ln_b = b.weight("bert.embeddings.LayerNorm.bias", h, Init::Bias);
    struct L {
        qb: usize,
        kb: usize,
        vb: usize,
        ob: usize,
        ln1w: usize,
        ln1b: usize,
        ib: usize,
        db: usize,
        ln2w: usize,
        ln2b: usize,
        q: usize,
        k: usize,
        v: usize,
        o: usize,
        i: usize,
        d: usize,
    }
    let mut ls = Vec::new();
    for l in 0..layers {
        let p = format!("bert.encoder.layer.{l}");
        let qb = b.weight(format!("{p}.attention.self.query.bias"), h, Init::Bias);
        let kb = b.weight(format!("{p}.attention.self.key.bias"), h, Init::Bias);
        let vb = b.weight(format!("{p}.attention.self.value.bias"), h, Init::Bias);
        let ob = b.weight(format!("{p}.attention.output.dense.bias"), h, Init::Bias);
        let ln1w = b.weight(
            format!("{p}.attention.output.LayerNorm.weight"),
            h,
            Init::Gain,
        );
        let ln1b = b.weight(
            format!("{p}.attention.output.LayerNorm.bias"),
            h,
            Init::Bias,
        );
        let ib = b.weight(format!("{p}.intermediate.dense.bias"), inter, Init::Bias);
        let db = b.weight(format!("{p}.output.dense.bias"), h, Init::Bias);
        let ln2w = b.weight(format!("{p}.output.LayerNorm.weight"), h, Init::Gain);
        let ln2b = b.weight(format!("{p}.output.LayerNorm.bias"), h, Init::Bias);
        ls.push(L {
            qb,
            kb,
            vb,
            ob,
            ln1w,
            ln1b,
            ib,
            db,
            ln2w,
            ln2b,
            q: 0,
            k: 0,
            v: 0,
            o: 0,
            i: 0,
            d: 0,
        });
    }
    let pool_w = b.weight("bert.pooler.dense.weight", h * h, Init::Weight(0.05));
    let pool_b = b.weight("bert.pooler.dense.bias", h, Init::Bias);
    let mut n = 299;
    for l in ls.iter_mut() {
        let sd = 0.05;
        l.q = b.weight(format!("onnx::MatMul_{n}"), h * h, Init::Weight(sd));
        l.k = b.weight(format!("onnx::MatMul_{}", n + 16), h * h, Init::Weight(sd));
        l.v = b.weight(format!("onnx::MatMul_{}", n + 17), h * h, Init::Weight(sd));
        l.o = b.weight(format!("onnx::MatMul_{}", n + 26), h * h, Init::Weight(sd));
        l.i = b.weight(
            format!("onnx::MatMul_{}", n + 27),
            h * inter,
            Init::Weight(sd),
        );
        l.d = b.weight(
            format!("onnx::MatMul_{}", n + 28),
            inter * h,
            Init::Weight(sd),
        );
        n += 29;
    }

    // Plan: kernels, then per layer a block of kernels and its buffers, embeddings at the end.
    b.kernels(180_000);
    b.verbatim(ln_w);
    // The embedding LayerNorm bias is stored only as fp16 (real fp32 BERT engine).
    b.spec
        .buffer(Content::Copy(ln_b), DataType::Half, Order::Verbatim);
    for (li, l) in ls.iter().enumerate() {
        b.kernels(24_576 + 4096 * li as u64 % 3);
        // Q/K/V fused into one buffer, rows interleaved (V, K, Q order as in the real engine).
        let parts = [l.v, l.k, l.q]
            .iter()
            .map(|&w| Part {
                weight: w,
                scale: None,
            })
            .collect();
        b.store(Content::Join { parts, chunk: h }, Order::Verbatim);
        for w in [l.qb, l.kb, l.vb, l.ob, l.ln1w, l.ln1b] {
            b.verbatim(w);
        }
        b.verbatim(l.ib);
        if li == 0 {
            // One bias stored twice: once in the storage dtype, once in the other.
            let twin = st.twin();
            b.spec.buffer(Content::Copy(l.ib), twin, Order::Verbatim);
        }
        for w in [l.db, l.ln2w, l.ln2b, l.o, l.i, l.d] {
            b.verbatim(w);
        }
    }
    b.kernels(8192);
    b.gemm(pool_w, h, h);
    b.verbatim(pool_b);
    b.verbatim(word);
    b.verbatim(pos);
    b.verbatim(tok);
    b.finish()
}

/// prajjwal1/bert-tiny shapes: hidden 128, 2 layers, intermediate 512, vocab 30522: 39 weights,
/// 4,385,920 parameters.
pub fn bert_tiny(st: Storage) -> SimSpec {
    bert(st, 0xB7, 30522, 128, 2, 512, 512)
}

/// bert-base-uncased shapes: hidden 768, 12 layers, intermediate 3072: 199 weights, ~109.5M
/// parameters.
pub fn bert_base(st: Storage) -> SimSpec {
    bert(st, 0xBB, 30522, 768, 12, 3072, 512)
}

/// A Llama-style decoder: vocab 32000, hidden 2048, 16 layers, MLP 5632, untied LM head:
/// 147 weights, ~953M parameters. Q/K/V concatenated and transposed in one buffer, gate/up
/// likewise, other projections transposed, norms verbatim.
pub fn decoder_1b(st: Storage) -> SimSpec {
    decoder(st, 0xDEC, 32000, 2048, 16, 5632)
}

/// The same structure at any size (tests use a small one).
pub fn decoder(st: Storage, seed: u64, vocab: u64, h: u64, layers: u64, mlp: u64) -> SimSpec {
    let mut b = Builder::new(st, seed);
    let embed = b.weight("model.embed_tokens.weight", vocab * h, Init::Weight(0.02));
    let mut per = Vec::new();
    for l in 0..layers {
        let p = format!("model.layers.{l}");
        let n1 = b.weight(format!("{p}.input_layernorm.weight"), h, Init::Gain);
        let q = b.weight(
            format!("{p}.self_attn.q_proj.weight"),
            h * h,
            Init::Weight(0.02),
        );
        let k = b.weight(
            format!("{p}.self_attn.k_proj.weight"),
            h * h,
            Init::Weight(0.02),
        );
        let v = b.weight(
            format!("{p}.self_attn.v_proj.weight"),
            h * h,
            Init::Weight(0.02),
        );
        let o = b.weight(
            format!("{p}.self_attn.o_proj.weight"),
            h * h,
            Init::Weight(0.02),
        );
        let n2 = b.weight(
            format!("{p}.post_attention_layernorm.weight"),
            h,
            Init::Gain,
        );
        let g = b.weight(
            format!("{p}.mlp.gate_proj.weight"),
            mlp * h,
            Init::Weight(0.02),
        );
        let u = b.weight(
            format!("{p}.mlp.up_proj.weight"),
            mlp * h,
            Init::Weight(0.02),
        );
        let d = b.weight(
            format!("{p}.mlp.down_proj.weight"),
            h * mlp,
            Init::Weight(0.02),
        );
        per.push([n1, q, k, v, o, n2, g, u, d]);
    }
    let norm = b.weight("model.norm.weight", h, Init::Gain);
    let head = b.weight("lm_head.weight", vocab * h, Init::Weight(0.02));
    b.kernels(180_000);
    b.verbatim(embed);
    for (li, [n1, q, k, v, o, n2, g, u, d]) in per.into_iter().enumerate() {
        b.kernels(16_384 + 512 * (li as u64 % 5));
        b.spec.push(Segment::Align {
            to: 256,
            fill: Fill::Zero,
        });
        b.verbatim(n1);
        let qkv = [q, k, v]
            .iter()
            .map(|&w| Part {
                weight: w,
                scale: None,
            })
            .collect();
        b.store(
            Content::Join {
                parts: qkv,
                chunk: 0,
            },
            Order::Transpose {
                rows: 3 * h,
                cols: h,
            },
        );
        b.gemm(o, h, h);
        b.verbatim(n2);
        let gu = [g, u]
            .iter()
            .map(|&w| Part {
                weight: w,
                scale: None,
            })
            .collect();
        b.store(
            Content::Join {
                parts: gu,
                chunk: 0,
            },
            Order::Transpose {
                rows: 2 * mlp,
                cols: h,
            },
        );
        b.gemm(d, h, mlp);
    }
    b.kernels(4096);
    b.verbatim(norm);
    b.gemm(head, vocab, h);
    b.finish()
}

/// Total parameters of a spec.
pub fn parameters(spec: &SimSpec) -> u64 {
    spec.layout.weights.iter().map(|w| w.count).sum()
}
