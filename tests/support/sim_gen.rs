//! Random engines: deterministic per seed (no proptest here, so benches and the stand-in can use
//! it; `sim_prop.rs` wraps it in proptest strategies).

use trt_dump::dtype::DataType;

use super::num::{self, storable, Rng};
use super::order::Order;
use super::{Content, Corrupt, Fill, Part, Segment, SimSpec, StatKind};

/// What random specs may contain.
#[derive(Clone, Debug)]
pub struct GenConfig {
    pub max_weights: usize,
    /// Largest element count of one weight.
    pub max_count: u64,
    pub dtypes: Vec<DataType>,
    /// Fused, folded, not stored, partly stored, baked weights.
    pub unrecoverable: bool,
    /// Weight-stripped plans (only with `unrecoverable`).
    pub strip: bool,
    /// Volatile blocks: serialization length changes after a refit.
    pub length_change: bool,
    /// Checksums and max-abs statistics beside buffers.
    pub stats: bool,
    /// A damaged copy of a weight stored at least twice.
    pub corrupt: bool,
    /// ±0, ±inf, subnormals, values that overflow fp16/bf16, rounding ties; NaN only in weights
    /// whose every buffer stores them in their own dtype (conversion canonicalizes NaN payloads).
    pub special_values: bool,
    /// A builder trailer the runtime drops, a refit counter in the header.
    pub header_quirks: bool,
    /// Largest filler block between buffers.
    pub max_filler: u64,
    /// fp16/bf16 weights stored widened to fp32. Their markers then leave the low half zero, so
    /// such an element followed by a bf16 buffer reads equally well as two zero bytes and a bf16
    /// run: only the original's bytes tell, and the tool may take the narrower reading (the proof
    /// then fails or says it was not independent).
    pub widened_halves: bool,
}

impl GenConfig {
    /// Everything the simulator models, except runtime faults.
    pub fn everything() -> GenConfig {
        GenConfig {
            max_weights: 8,
            max_count: 300,
            dtypes: DataType::ALL.to_vec(),
            unrecoverable: true,
            strip: true,
            length_change: true,
            stats: true,
            corrupt: true,
            special_values: true,
            header_quirks: true,
            max_filler: 200,
            widened_halves: true,
        }
    }

    /// Only engines from which every weight is recoverable, without damaged copies.
    pub fn recoverable() -> GenConfig {
        GenConfig {
            unrecoverable: false,
            strip: false,
            corrupt: false,
            ..GenConfig::everything()
        }
    }

    /// The plainest engines: verbatim-ish layouts, no length change, no statistics.
    pub fn plain() -> GenConfig {
        GenConfig {
            length_change: false,
            stats: false,
            header_quirks: false,
            special_values: false,
            widened_halves: false,
            ..GenConfig::recoverable()
        }
    }
}

/// Stored dtypes a weight of dtype `dt` may have.
pub fn storage_choices(dt: DataType) -> Vec<DataType> {
    DataType::ALL
        .iter()
        .copied()
        .filter(|&s| storable(dt, s))
        .collect()
}

/// Storage dtypes for a weight under `cfg`.
pub fn storage_for(cfg: &GenConfig, dt: DataType) -> Vec<DataType> {
    let mut v = storage_choices(dt);
    if !cfg.widened_halves && matches!(dt, DataType::Half | DataType::Bf16) {
        v.retain(|s| *s != DataType::Float);
    }
    v
}

/// Random orders fitting a weight of `shape` (`count` elements).
fn random_order(rng: &mut Rng, shape: &[u64], count: u64) -> Order {
    let mut options = vec![
        Order::Verbatim,
        Order::Verbatim,
        Order::Shuffle {
            seed: rng.next_u64(),
        },
    ];
    if count > 0 {
        options.push(Order::PaddedRows {
            rows: 1,
            cols: count,
            to: *rng.pick(&[2, 4, 8, 16]),
        });
    }
    if let [r, c] = *shape {
        if r > 0 && c > 0 {
            options.push(Order::Transpose { rows: r, cols: c });
            options.push(Order::Transpose { rows: r, cols: c });
            options.push(Order::Tiles {
                rows: r,
                cols: c,
                th: rng.range(1, 8),
                tw: *rng.pick(&[1, 2, 3, 4, 8, 16]),
            });
            options.push(Order::PaddedRows {
                rows: r,
                cols: c,
                to: *rng.pick(&[2, 3, 4, 8, 16]),
            });
            options.push(Order::InterleaveRows {
                rows: r,
                cols: c,
                ways: rng.range(2, 4),
            });
        }
    }
    if let [k, c, r, s] = *shape {
        if count > 0 {
            options.push(Order::BlockedKcrs {
                k,
                c,
                r,
                s,
                b: *rng.pick(&[2, 4, 8]),
            });
            options.push(Order::BlockedKcrs { k, c, r, s, b: 8 });
        }
    }
    rng.pick(&options).clone()
}

fn random_shape(rng: &mut Rng, max: u64) -> Vec<u64> {
    let max = max.max(1);
    match rng.below(8) {
        0 => vec![0],
        1 => vec![1],
        2 | 3 => vec![rng.range(2, max)],
        4..=6 => {
            let r = rng.range(1, (max as f64).sqrt() as u64 + 1);
            let c = rng.range(1, (max / r).max(1));
            vec![r, c]
        }
        _ => {
            let k = rng.range(1, 12);
            let c = rng.range(1, 4);
            let rs = *rng.pick(&[1u64, 2, 3]);
            if k * c * rs * rs <= max {
                vec![k, c, rs, rs]
            } else {
                vec![k]
            }
        }
    }
}

fn weight_name(rng: &mut Rng, i: usize) -> String {
    match rng.below(7) {
        0 => format!("net.{i}.weight"),
        1 => format!("net.{i}.bias"),
        2 => format!("onnx::MatMul_{}", 100 + i),
        3 => format!("encoder/layer_{i}/kernel:0"),
        4 => format!("w{i}"),
        5 => format!("model.layers.{i}.self_attn.q_proj.weight"),
        _ => format!("bias {i} (ü)"),
    }
}

/// Special f32 values that exercise conversions.
pub const SPECIAL_F32: [f32; 20] = [
    0.0,
    -0.0,
    f32::INFINITY,
    f32::NEG_INFINITY,
    f32::MAX,
    f32::MIN,
    f32::MIN_POSITIVE,
    1e-45,
    65504.0,
    65519.0,
    65520.0,
    -70000.0,
    1.000_488_3, // 1 + 2^-11: fp16 tie, rounds to even (1.0)
    1.001_464_8, // 1 + 3*2^-11: fp16 tie, rounds to even (1 + 2^-9)
    2049.0,
    3.4e38,
    5.960_464_5e-8, // fp16 smallest subnormal
    2.980_232_2e-8, // half of it: tie, rounds to 0
    1.003_906_3,    // 1 + 2^-8: bf16 tie
    -1.5,
];

/// Random original values for a weight, as refit-dtype bytes. `nan_ok`: NaNs may appear.
pub fn random_values(
    rng: &mut Rng,
    dt: DataType,
    count: u64,
    special: bool,
    nan_ok: bool,
) -> Vec<u8> {
    let mut out = vec![0u8; dt.bytes_for(count).unwrap() as usize];
    let scale = *rng.pick(&[1e-3f32, 0.02, 1.0, 300.0]);
    for i in 0..count {
        let roll = rng.below(100);
        let bits: u64 = match dt {
            DataType::Float | DataType::Half | DataType::Bf16 => {
                let x: f32 = if special && roll < 10 {
                    *rng.pick(&SPECIAL_F32)
                } else if special && nan_ok && roll < 13 {
                    f32::from_bits(
                        0x7FC0_0000
                            | (rng.next_u64() as u32 & 0x003F_FFFF)
                            | ((rng.next_u64() as u32) & 0x8000_0000),
                    )
                } else if roll < 20 {
                    (rng.below(4096) as f32) - 2048.0
                } else {
                    let g = (rng.unit() + rng.unit() + rng.unit() - 1.5) as f32;
                    g * scale
                };
                num::from_f32(x, dt)
            }
            DataType::Int8 | DataType::Uint8 | DataType::Fp8 | DataType::E8m0 => {
                if roll < 30 {
                    rng.below(8)
                } else {
                    rng.below(256)
                }
            }
            DataType::Int4 | DataType::Fp4 => rng.below(16),
            DataType::Bool => rng.below(2),
            DataType::Int32 => {
                if roll < 50 {
                    (rng.below(2000) as i64 - 1000) as u64
                } else {
                    u64::from(rng.next_u64() as u32)
                }
            }
            DataType::Int64 => {
                if roll < 40 {
                    (rng.below(2000) as i64 - 1000) as u64
                } else if roll < 60 && special {
                    *rng.pick(&[
                        i64::MAX as u64,
                        i64::MIN as u64,
                        1u64 << 31,
                        (-(1i64 << 31) - 1) as u64,
                    ])
                } else {
                    rng.next_u64()
                }
            }
        };
        num::put(&mut out, i, dt, bits);
    }
    out
}

/// Random refit values for every weight of a layout (e.g. to refit an instance with).
pub fn random_refit_values(weights: &[trt_dump::pipeline::WeightSpec], seed: u64) -> Vec<Vec<u8>> {
    let mut rng = Rng::new(seed);
    weights
        .iter()
        .map(|w| random_values(&mut rng, w.dtype, w.count, false, false))
        .collect()
}

/// A random engine of `n` weights, deterministic in (`seed`, `n`, `cfg`).
pub fn random_spec(seed: u64, n: usize, cfg: &GenConfig) -> SimSpec {
    let mut rng = Rng::new(seed);
    let mut spec = SimSpec::new();
    let mut shapes = Vec::new();
    for i in 0..n {
        let dt = *rng.pick(&cfg.dtypes);
        let shape = random_shape(&mut rng, cfg.max_count);
        let count = shape.iter().product();
        spec.layout.weights.push(trt_dump::pipeline::WeightSpec {
            name: weight_name(&mut rng, i),
            dtype: dt,
            count,
        });
        shapes.push(shape);
    }
    let ws = spec.layout.weights.clone();
    let float = |w: usize| num::is_float16_32(ws[w].dtype);
    let mut buffers: Vec<super::Buffer> = Vec::new();
    let random_pad = |rng: &mut Rng, st: DataType| -> u64 {
        if rng.chance(50) {
            0
        } else if num::is_float16_32(st) && rng.chance(50) {
            num::from_f32(1.0, st)
        } else {
            rng.next_u64() & (u64::MAX >> (64 - st.bits()))
        }
    };
    let push = |rng: &mut Rng,
                buffers: &mut Vec<super::Buffer>,
                content: Content,
                st: DataType,
                order: Order| {
        let pad = if order.pads() { random_pad(rng, st) } else { 0 };
        buffers.push(super::Buffer {
            content,
            stored: st,
            order,
            pad,
        });
    };
    for w in 0..n {
        let dt = ws[w].dtype;
        let count = ws[w].count;
        let fate = if cfg.unrecoverable {
            rng.below(100)
        } else {
            99
        };
        match fate {
            0..=6 => {} // constant-folded away: not stored at all
            7..=10 => push(
                &mut rng,
                &mut buffers,
                Content::Baked(w),
                dt,
                Order::Verbatim,
            ),
            11..=15 if float(w) && count > 0 => {
                let st = *rng.pick(&storage_for(cfg, dt));
                let content = match rng.below(3) {
                    0 => Content::Reciprocal(w),
                    1 => {
                        let divs: Vec<u64> = (1..=count.min(8))
                            .filter(|d| count.is_multiple_of(*d))
                            .collect();
                        let k = *rng.pick(&divs);
                        // Scales away from 1: a weight folded with a factor near 1 keeps its
                        // markers valid (fp16/bf16 round them back) and reads like a stored copy
                        // of scaled values, a limitation the tool documents (SPEC.md, "What
                        // cannot be recovered"); the generator tests the rest.
                        Content::ChannelScale {
                            weight: w,
                            scales: (0..k)
                                .map(|_| {
                                    let u = rng.unit() as f32;
                                    if rng.chance(50) {
                                        0.2 + 0.25 * u
                                    } else {
                                        2.5 + u
                                    }
                                    .to_bits()
                                })
                                .collect(),
                        }
                    }
                    _ => Content::Join {
                        parts: vec![super::Part {
                            weight: w,
                            scale: Some(0.125f32.to_bits()),
                        }],
                        chunk: 0,
                    },
                };
                push(&mut rng, &mut buffers, content, st, Order::Verbatim);
            }
            16..=19 if count > 1 => {
                let start = rng.below(count);
                let len = rng.range(0, count - start - 1);
                let st = *rng.pick(&storage_for(cfg, dt));
                push(
                    &mut rng,
                    &mut buffers,
                    Content::Slice {
                        weight: w,
                        start,
                        len,
                    },
                    st,
                    Order::Verbatim,
                );
            }
            20..=23 if float(w) => {
                let partners: Vec<usize> = (0..n)
                    .filter(|&o| o != w && float(o) && ws[o].count == count)
                    .collect();
                if partners.is_empty() {
                    continue;
                }
                let o = *rng.pick(&partners);
                let st = *rng.pick(&[DataType::Float, DataType::Half, DataType::Bf16]);
                push(
                    &mut rng,
                    &mut buffers,
                    Content::Sum(vec![w, o]),
                    st,
                    Order::Verbatim,
                );
            }
            _ => {
                let copies = match rng.below(100) {
                    0..=74 => 1,
                    75..=94 => 2,
                    _ => 3,
                };
                for _ in 0..copies {
                    let st = *rng.pick(&storage_for(cfg, dt));
                    let order = random_order(&mut rng, &shapes[w], count);
                    push(&mut rng, &mut buffers, Content::Copy(w), st, order);
                }
                if cfg.unrecoverable && rng.chance(5) {
                    push(
                        &mut rng,
                        &mut buffers,
                        Content::Baked(w),
                        dt,
                        Order::Verbatim,
                    );
                }
            }
        }
    }
    // Joined buffers (Q/K/V-like), sometimes with a folded scale on one part.
    if n >= 2 && rng.chance(30) {
        let w0 = rng.below(n as u64) as usize;
        let dt = ws[w0].dtype;
        let mut members: Vec<usize> = (0..n).filter(|&o| ws[o].dtype == dt).collect();
        members.truncate(3);
        if members.len() >= 2 {
            let equal = members.iter().all(|&m| ws[m].count == ws[members[0]].count);
            let c = ws[members[0]].count;
            let chunk = if equal && c > 0 && rng.chance(50) {
                let divs: Vec<u64> = (1..=c).filter(|d| c.is_multiple_of(*d)).collect();
                *rng.pick(&divs)
            } else {
                0
            };
            let parts: Vec<Part> = members
                .iter()
                .map(|&m| Part {
                    weight: m,
                    scale: (cfg.unrecoverable && num::is_float16_32(dt) && rng.chance(25))
                        .then(|| 0.35f32.to_bits()),
                })
                .collect();
            let total: u64 = members.iter().map(|&m| ws[m].count).sum();
            let st = *rng.pick(&storage_for(cfg, dt));
            let st = if parts.iter().any(|p| p.scale.is_some()) && !num::is_float16_32(st) {
                dt
            } else {
                st
            };
            let order = if equal && c > 0 && rng.chance(40) {
                Order::Transpose {
                    rows: members.len() as u64,
                    cols: c,
                }
            } else {
                random_order(&mut rng, &[total], total)
            };
            push(
                &mut rng,
                &mut buffers,
                Content::Join { parts, chunk },
                st,
                order,
            );
        }
    }
    // Shuffle buffer order.
    for i in (1..buffers.len()).rev() {
        let j = rng.below(i as u64 + 1) as usize;
        buffers.swap(i, j);
    }

    let filler = |rng: &mut Rng| -> Fill {
        match rng.below(6) {
            0 => Fill::Zero,
            1 => Fill::Random(rng.next_u64()),
            2 => Fill::Byte(*rng.pick(&[0x00, 0x2A, 0x3C, 0xFF])),
            _ => Fill::Adversarial(rng.next_u64()),
        }
    };
    let kernels = rng.range(0, 4 * cfg.max_filler);
    let fill = filler(&mut rng);
    spec.filler(kernels, fill);
    for b in buffers {
        if rng.chance(40) {
            let len = rng.range(0, cfg.max_filler);
            let fill = filler(&mut rng);
            spec.filler(len, fill);
        }
        if rng.chance(40) {
            let to = *rng.pick(&[1u64, 2, 3, 4, 5, 7, 8, 16, 64, 256]);
            let fill = filler(&mut rng);
            spec.push(Segment::Align { to, fill });
        }
        let si = spec.push(Segment::Buffer(b));
        if cfg.stats && rng.chance(25) {
            let kind = if rng.chance(50) {
                StatKind::Checksum
            } else {
                StatKind::MaxAbs
            };
            spec.push(Segment::Stat { buffer: si, kind });
        }
    }
    if rng.chance(50) {
        spec.filler(8, Fill::Pattern(vec![0, 0, 0, 0, 0x99, 0x8B, 0x8D, 0x8B]));
    }
    if cfg.length_change && rng.chance(60) {
        for _ in 0..rng.range(1, 3) {
            let at = rng.below(spec.layout.segments.len() as u64 + 1) as usize;
            let fresh = if rng.chance(30) { 0 } else { rng.range(1, 300) };
            let refitted = if rng.chance(30) { 0 } else { rng.range(1, 300) };
            let fill = filler(&mut rng);
            insert_segment(
                &mut spec,
                at,
                Segment::Volatile {
                    fresh,
                    refitted,
                    fill,
                },
            );
        }
        spec.layout.persist_refit_form = rng.chance(30);
    }
    if cfg.strip && cfg.unrecoverable && rng.chance(8) {
        spec.layout.strip = true;
    }
    if cfg.header_quirks {
        spec.layout.refit_counter = rng.chance(30);
        if rng.chance(20) {
            spec.trailer = rng.range(1, 64);
        }
    }

    // Values, now that we know which weights only ever keep their own dtype.
    for w in 0..n {
        let own_dtype_only = spec.layout.segments.iter().all(|s| match s {
            Segment::Buffer(b) => !b.content.weights().contains(&w) || b.stored == ws[w].dtype,
            _ => true,
        });
        let v = random_values(
            &mut rng,
            ws[w].dtype,
            ws[w].count,
            cfg.special_values,
            own_dtype_only,
        );
        spec.values.push(v);
    }

    if cfg.corrupt && !spec.layout.strip && rng.chance(30) {
        corrupt_one(&mut spec, &mut rng);
    }
    spec
}

/// Inserts a segment, renumbering `Stat` references.
pub fn insert_segment(spec: &mut SimSpec, at: usize, seg: Segment) {
    for s in &mut spec.layout.segments {
        if let Segment::Stat { buffer, .. } = s {
            if *buffer >= at {
                *buffer += 1;
            }
        }
    }
    for c in &mut spec.corrupt {
        if c.segment >= at {
            c.segment += 1;
        }
    }
    spec.layout.segments.insert(at, seg);
}

/// Damages one copy of a weight stored at least twice (nonempty).
pub fn corrupt_one(spec: &mut SimSpec, rng: &mut Rng) -> bool {
    let ws = &spec.layout.weights;
    let mut candidates = Vec::new();
    for w in 0..ws.len() {
        if ws[w].count == 0 {
            continue;
        }
        let copies: Vec<usize> = spec
            .layout
            .segments
            .iter()
            .enumerate()
            .filter(|(_, s)| matches!(s, Segment::Buffer(b) if b.content.pure_copy_of(w)))
            .map(|(i, _)| i)
            .collect();
        if copies.len() >= 2 {
            candidates.push((w, copies));
        }
    }
    if candidates.is_empty() {
        return false;
    }
    let (w, copies) = rng.pick(&candidates).clone();
    let si = *rng.pick(&copies);
    let Segment::Buffer(b) = &spec.layout.segments[si] else {
        unreachable!()
    };
    let e = rng.below(ws[w].count);
    let Some(slot) = super::slot_of(b, ws, w, e) else {
        return false;
    };
    let xor = match b.stored.bits() {
        4 => 0x4,
        8 if b.stored == DataType::Bool => 1,
        8 => 0x40,
        16 => 0x4000,
        32 => 0x4000_0000,
        _ => 0x4000_0000_0000_0000,
    };
    spec.corrupt.push(Corrupt {
        segment: si,
        slot,
        xor,
    });
    true
}
