#![allow(clippy::needless_range_loop)]
//! The simulator's ground truth and conversions, checked against independent implementations:
//! a reference RNE converter built from tables of every fp16/bf16 value, closed-form inverses of
//! the element orders, and a brute-force reader of plan bytes.

use crate::sim;
use crate::sim_prop;

use proptest::prelude::*;
use sim::gen::{random_spec, GenConfig, SPECIAL_F32};
use sim::{Content, DataType, Engine, Order, Recovery, Segment, SimSpec};

// ---------------------------------------------------------------------------------------------
// Reference conversions (independent of `half` and of the simulator).
// ---------------------------------------------------------------------------------------------

/// Every finite non-negative value of a 16-bit float format, by bit pattern (monotonic).
fn table(max_bits: u16, decode: impl Fn(u16) -> f64) -> Vec<f64> {
    (0..=max_bits).map(decode).collect()
}

fn decode_f16(b: u16) -> f64 {
    let e = i32::from((b >> 10) & 0x1F);
    let m = f64::from(b & 0x3FF);
    if e == 0 {
        m * 2f64.powi(-24)
    } else {
        (1.0 + m / 1024.0) * 2f64.powi(e - 15)
    }
}

fn decode_bf16(b: u16) -> f64 {
    f64::from(f32::from_bits(u32::from(b) << 16))
}

/// Round to nearest, ties to even; finite overflow saturates; inf stays; NaN canonical.
fn reference_round(x: f32, tab: &[f64], inf: u16) -> u16 {
    if x.is_nan() {
        return 0x7FFF;
    }
    let sign: u16 = if x.is_sign_negative() { 0x8000 } else { 0 };
    if x.is_infinite() {
        return sign | inf;
    }
    let a = f64::from(x.abs());
    let hi = tab.partition_point(|&v| v < a);
    let bits = if hi == tab.len() {
        (tab.len() - 1) as u16 // saturate
    } else if tab[hi] == a || hi == 0 {
        hi as u16
    } else {
        let (lo_v, hi_v) = (tab[hi - 1], tab[hi]);
        let (dl, dh) = (a - lo_v, hi_v - a);
        if dl < dh || (dl == dh && (hi - 1) % 2 == 0) {
            (hi - 1) as u16
        } else {
            hi as u16
        }
    };
    sign | bits
}

struct Reference {
    f16: Vec<f64>,
    bf16: Vec<f64>,
}

impl Reference {
    fn new() -> Reference {
        Reference {
            f16: table(0x7BFF, decode_f16),
            bf16: table(0x7F7F, decode_bf16),
        }
    }

    fn to_f16(&self, x: f32) -> u16 {
        reference_round(x, &self.f16, 0x7C00)
    }

    fn to_bf16(&self, x: f32) -> u16 {
        reference_round(x, &self.bf16, 0x7F80)
    }

    fn widen16(&self, b: u16, bf: bool) -> u32 {
        let exp_all = if bf {
            (b & 0x7F80) == 0x7F80 && (b & 0x7F) != 0
        } else {
            (b & 0x7C00) == 0x7C00 && (b & 0x3FF) != 0
        };
        if exp_all {
            return 0x7FFF_FFFF;
        }
        let v = if bf {
            decode_bf16(b & 0x7FFF)
        } else if b & 0x7C00 == 0x7C00 {
            f64::INFINITY
        } else {
            decode_f16(b & 0x7FFF)
        };
        let v = if b & 0x8000 != 0 { -v } else { v };
        (v as f32).to_bits()
    }

    /// The simulator's documented conversion, independently: refit dtype → stored dtype.
    fn narrow(&self, bits: u64, from: DataType, to: DataType) -> u64 {
        use DataType::*;
        match (from, to) {
            (Bool, Bool) => u64::from(bits != 0),
            (a, b) if a == b => bits,
            (Float, Half) => u64::from(self.to_f16(f32::from_bits(bits as u32))),
            (Float, Bf16) => u64::from(self.to_bf16(f32::from_bits(bits as u32))),
            (Half, Float) => u64::from(self.widen16(bits as u16, false)),
            (Bf16, Float) => u64::from(self.widen16(bits as u16, true)),
            (Int64, Int32) => {
                u64::from((bits as i64).clamp(i32::MIN.into(), i32::MAX.into()) as i32 as u32)
            }
            _ => panic!("no conversion {from} -> {to}"),
        }
    }

    /// Stored dtype → refit dtype (exact).
    fn widen(&self, bits: u64, from: DataType, to: DataType) -> u64 {
        use DataType::*;
        match (from, to) {
            (a, b) if a == b => bits,
            (Half, Float) => u64::from(self.widen16(bits as u16, false)),
            (Bf16, Float) => u64::from(self.widen16(bits as u16, true)),
            (Float, Half) => u64::from(self.to_f16(f32::from_bits(bits as u32))),
            (Float, Bf16) => u64::from(self.to_bf16(f32::from_bits(bits as u32))),
            (Int32, Int64) => (bits as u32 as i32 as i64) as u64,
            _ => panic!("no widening {from} -> {to}"),
        }
    }
}

fn elem(bytes: &[u8], i: u64, dt: DataType) -> u64 {
    let bits = dt.bits() as u64;
    let bit = i * bits;
    let mut v: u64 = 0;
    for k in 0..bits {
        let b = bit + k;
        v |= u64::from((bytes[(b / 8) as usize] >> (b % 8)) & 1) << k;
    }
    v
}

#[test]
fn conversions_round_to_nearest_even_and_saturate() {
    let r = Reference::new();
    let mut xs: Vec<f32> = SPECIAL_F32.to_vec();
    // Exact midpoints between neighbouring fp16 and bf16 values, and their neighbours.
    for b in (0u16..0x7BFF).step_by(37) {
        let mid = ((decode_f16(b) + decode_f16(b + 1)) / 2.0) as f32;
        xs.extend([
            mid,
            -mid,
            f32::from_bits(mid.to_bits() + 1),
            f32::from_bits(mid.to_bits() - 1),
        ]);
    }
    for b in (0u16..0x7F7F).step_by(41) {
        let mid = ((decode_bf16(b) + decode_bf16(b + 1)) / 2.0) as f32;
        xs.extend([mid, f32::from_bits(mid.to_bits() + 1)]);
    }
    let mut rng = sim::num::Rng::new(1);
    for _ in 0..100_000 {
        xs.push(f32::from_bits(rng.next_u64() as u32));
        xs.push((rng.unit() as f32 - 0.5) * 70_000.0);
    }
    for x in xs {
        assert_eq!(
            sim::num::f32_to_f16(x),
            r.to_f16(x),
            "fp16 of {x:e} ({:#x})",
            x.to_bits()
        );
        assert_eq!(
            sim::num::f32_to_bf16(x),
            r.to_bf16(x),
            "bf16 of {x:e} ({:#x})",
            x.to_bits()
        );
    }
    // Documented decisions, spelled out.
    assert_eq!(sim::num::f32_to_f16(65520.0), 0x7BFF, "overflow saturates");
    assert_eq!(sim::num::f32_to_f16(-1e9), 0xFBFF);
    assert_eq!(sim::num::f32_to_f16(f32::INFINITY), 0x7C00);
    assert_eq!(
        sim::num::f32_to_f16(f32::from_bits(0xFFC0_1234)),
        0x7FFF,
        "NaN canonical"
    );
    assert_eq!(sim::num::f32_to_bf16(f32::MAX), 0x7F7F);
    assert_eq!(sim::num::f32_to_f16(1.000_488_3), 0x3C00, "tie to even");
    assert_eq!(sim::num::f32_to_f16(1.001_464_8), 0x3C02, "tie to even");
    for b in 0..=u16::MAX {
        assert_eq!(
            sim::num::f16_to_f32(b).to_bits(),
            r.widen16(b, false),
            "{b:#x}"
        );
        assert_eq!(
            sim::num::bf16_to_f32(b).to_bits(),
            r.widen16(b, true),
            "{b:#x}"
        );
    }
    let clamp =
        |v: i64| sim::num::convert(v as u64, DataType::Int64, DataType::Int32) as u32 as i32;
    assert_eq!(clamp(i64::MAX), i32::MAX);
    assert_eq!(clamp(-(1 << 40)), i32::MIN);
    assert_eq!(clamp(-5), -5);
    assert_eq!(sim::num::convert(7, DataType::Bool, DataType::Bool), 1);
}

// ---------------------------------------------------------------------------------------------
// Closed-form order inverses.
// ---------------------------------------------------------------------------------------------

fn source_of(order: &Order, n: u64, s: u64) -> Option<u64> {
    match *order {
        Order::Verbatim => Some(s),
        Order::Transpose { rows, .. } => {
            let (j, i) = (s / rows, s % rows);
            Some(i * (n / rows) + j)
        }
        Order::Tiles { rows, cols, th, tw } => {
            let tc = cols.div_ceil(tw);
            let (tile, within) = (s / (th * tw), s % (th * tw));
            let (i, j) = (
                (tile / tc) * th + within / tw,
                (tile % tc) * tw + within % tw,
            );
            (i < rows && j < cols).then_some(i * cols + j)
        }
        Order::BlockedKcrs { k, c, r, s: ss, b } => {
            let kk = s % b;
            let mut rest = s / b;
            let si = rest % ss;
            rest /= ss;
            let ri = rest % r;
            rest /= r;
            let ci = rest % c;
            let ki = (rest / c) * b + kk;
            (ki < k).then_some(((ki * c + ci) * r + ri) * ss + si)
        }
        Order::PaddedRows { cols, to, .. } => {
            let stride = cols.div_ceil(to) * to;
            let (i, j) = (s / stride, s % stride);
            (j < cols).then_some(i * cols + j)
        }
        Order::InterleaveRows { rows, cols, ways } => {
            let mut p = s / cols;
            for phase in 0..ways.min(rows) {
                let in_phase = (rows - phase).div_ceil(ways);
                if p < in_phase {
                    return Some((phase + p * ways) * cols + s % cols);
                }
                p -= in_phase;
            }
            unreachable!()
        }
        Order::Shuffle { seed } => Some(sim::order::shuffle(n, seed)[s as usize]),
    }
}

/// (weight, element) held by source element `j` of a content, when it is a pure copy.
fn content_source(c: &Content, counts: &[u64], j: u64) -> Option<(usize, u64)> {
    match c {
        Content::Copy(w) => Some((*w, j)),
        Content::Join { parts, chunk } => {
            let (p, idx) = if *chunk == 0 {
                let mut j = j;
                let mut p = 0;
                while j >= counts[parts[p].weight] {
                    j -= counts[parts[p].weight];
                    p += 1;
                }
                (p, j)
            } else {
                let np = parts.len() as u64;
                let (block, off) = (j / chunk, j % chunk);
                ((block % np) as usize, (block / np) * chunk + off)
            };
            parts[p].scale.is_none().then_some((parts[p].weight, idx))
        }
        _ => None,
    }
}

#[test]
fn orders_match_their_closed_forms_and_are_permutations() {
    let orders = [
        (Order::Verbatim, 7),
        (Order::Transpose { rows: 3, cols: 5 }, 15),
        (
            Order::Tiles {
                rows: 5,
                cols: 7,
                th: 2,
                tw: 4,
            },
            35,
        ),
        (
            Order::BlockedKcrs {
                k: 11,
                c: 3,
                r: 2,
                s: 2,
                b: 8,
            },
            132,
        ),
        (
            Order::PaddedRows {
                rows: 3,
                cols: 5,
                to: 8,
            },
            15,
        ),
        (
            Order::InterleaveRows {
                rows: 7,
                cols: 3,
                ways: 3,
            },
            21,
        ),
        (
            Order::InterleaveRows {
                rows: 2,
                cols: 3,
                ways: 4,
            },
            6,
        ),
        (Order::Shuffle { seed: 9 }, 50),
    ];
    for (o, n) in orders {
        o.validate(n).unwrap();
        let mut seen = vec![0u32; n as usize];
        let mut slots = 0;
        o.for_each(n, |s, src| {
            assert_eq!(s, slots, "{o:?}: slots in order");
            assert_eq!(src, source_of(&o, n, s), "{o:?} slot {s}");
            if let Some(i) = src {
                seen[i as usize] += 1;
            }
            slots += 1;
        });
        assert_eq!(slots, o.slots(n), "{o:?}");
        assert!(
            seen.iter().all(|&c| c == 1),
            "{o:?}: every element exactly once"
        );
    }
    // Transpose as TensorRT stores a Gemm weight: column-major.
    let mut v = Vec::new();
    Order::Transpose { rows: 2, cols: 3 }.for_each(6, |_, s| v.push(s.unwrap()));
    assert_eq!(v, [0, 3, 1, 4, 2, 5]);
}

// ---------------------------------------------------------------------------------------------
// Brute-force reading of plans.
// ---------------------------------------------------------------------------------------------

/// Reads every pure copy of weight `w` from `plan` (positions `pos`), widened to the refit dtype.
fn read_copies(
    spec: &SimSpec,
    plan: &[u8],
    pos: &[(u64, u64)],
    w: usize,
) -> Vec<(DataType, Vec<u64>)> {
    let ws = &spec.layout.weights;
    let counts: Vec<u64> = ws.iter().map(|w| w.count).collect();
    let r = Reference::new();
    let mut out = Vec::new();
    for (si, s) in spec.layout.segments.iter().enumerate() {
        let Segment::Buffer(b) = s else { continue };
        if !b.content.pure_copy_of(w) {
            continue;
        }
        let n = b.content.len(ws);
        let (start, len) = pos[si];
        let buf = &plan[start as usize..(start + len) as usize];
        let mut vals = vec![None; ws[w].count as usize];
        for slot in 0..b.order.slots(n) {
            let Some(j) = source_of(&b.order, n, slot) else {
                continue;
            };
            let Some((ww, idx)) = content_source(&b.content, &counts, j) else {
                continue;
            };
            if ww == w {
                assert!(
                    vals[idx as usize].is_none(),
                    "element stored twice in one buffer"
                );
                vals[idx as usize] =
                    Some(r.widen(elem(buf, slot, b.stored), b.stored, ws[w].dtype));
            }
        }
        out.push((
            b.stored,
            vals.into_iter()
                .map(|v| v.expect("element missing from copy"))
                .collect(),
        ));
    }
    out
}

fn rank(dt: DataType) -> u32 {
    match dt {
        DataType::Int64 => 3,
        DataType::Float => 2,
        DataType::Half => 1,
        _ => 0,
    }
}

fn check_truth(spec: &SimSpec) {
    let plan = spec.build().unwrap();
    let r = Reference::new();
    let ws = &spec.layout.weights;
    assert_eq!(plan.truth.weights.len(), ws.len());
    for (w, t) in plan.truth.weights.iter().enumerate() {
        let dt = ws[w].dtype;
        if t.recovery != Recovery::Exact {
            assert!(t.values.is_none());
            continue;
        }
        let values = t.values.as_ref().unwrap();
        let got: Vec<u64> = (0..ws[w].count).map(|e| elem(values, e, dt)).collect();
        if ws[w].count == 0 {
            continue;
        }
        assert!(!spec.layout.strip);
        let copies = read_copies(spec, &plan.file, &plan.truth.fresh, w);
        assert_eq!(copies.len(), t.copies.len(), "{}", ws[w].name);
        // The preferred copy: most mantissa bits, first on ties.
        let best = copies
            .iter()
            .enumerate()
            .max_by_key(|(i, (st, _))| (rank(*st), usize::MAX - i))
            .unwrap()
            .0;
        assert_eq!(
            got, copies[best].1,
            "{}: truth = brute-force read of the preferred copy",
            ws[w].name
        );
        // And, without damage, what the builder's conversions of the originals say.
        if spec.corrupt.is_empty() {
            let st = copies[best].0;
            let chain: Vec<u64> = (0..ws[w].count)
                .map(|e| r.widen(r.narrow(elem(&spec.values[w], e, dt), dt, st), st, dt))
                .collect();
            assert_eq!(got, chain, "{}: originals through {st}", ws[w].name);
            assert!(!t.copies_disagree);
            for (st, v) in &copies {
                for e in 0..v.len() {
                    let want = r.widen(
                        r.narrow(elem(&spec.values[w], e as u64, dt), dt, *st),
                        *st,
                        dt,
                    );
                    assert_eq!(
                        v[e], want,
                        "{}: every copy holds the originals through {st}",
                        ws[w].name
                    );
                }
            }
        }
        // Offsets of element 0 in the fresh plan hold it (byte-sized dtypes).
        if spec.corrupt.is_empty() {
            for c in t.copies.iter().filter(|c| !c.stored.is_packed()) {
                let off = c.fresh_offset.unwrap() as usize;
                let stored = elem(
                    &plan.file[off..off + c.stored.bits() as usize / 8],
                    0,
                    c.stored,
                );
                let want = r.narrow(elem(&spec.values[w], 0, dt), dt, c.stored);
                assert_eq!(stored, want, "{}: element 0 at {off}", ws[w].name);
            }
        }
    }
}

#[test]
fn truth_matches_brute_force_on_fixed_seeds() {
    for seed in 0..150u64 {
        let n = (seed % 9) as usize;
        check_truth(&random_spec(seed, n, &GenConfig::everything()));
    }
}

#[test]
fn named_models_truth_matches_brute_force() {
    use sim::models::*;
    for st in [Storage::Fp32, Storage::Fp16, Storage::Fp32AsFp16] {
        check_truth(&tiny_mlp(st));
        check_truth(&decoder(st, 3, 50, 8, 2, 12));
    }
}

#[test]
fn generators_are_deterministic_per_seed() {
    for cfg in [
        GenConfig::everything(),
        GenConfig::recoverable(),
        GenConfig::plain(),
    ] {
        for seed in [0u64, 1, 77, u64::MAX] {
            let a = random_spec(seed, 6, &cfg).build().unwrap().file;
            let b = random_spec(seed, 6, &cfg).build().unwrap().file;
            assert_eq!(a, b);
        }
    }
    let files: std::collections::HashSet<Vec<u8>> = (0..20u64)
        .map(|s| {
            random_spec(s, 5, &GenConfig::everything())
                .build()
                .unwrap()
                .file
        })
        .collect();
    assert_eq!(files.len(), 20, "different seeds give different engines");
    let m1 = sim::models::bert_tiny(sim::models::Storage::Fp16)
        .build()
        .unwrap()
        .file;
    let m2 = sim::models::bert_tiny(sim::models::Storage::Fp16)
        .build()
        .unwrap()
        .file;
    assert!(m1 == m2);
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 96, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn prop_truth_matches_brute_force(spec in sim_prop::arb_spec(GenConfig::everything())) {
        check_truth(&spec);
    }

    /// A refit with any values stores exactly their documented conversions in every copy.
    #[test]
    fn prop_refit_stores_converted_values((spec, values) in sim_prop::arb_spec_and_values(GenConfig::everything())) {
        let plan = spec.build().unwrap();
        let engine = sim::SimEngine::new(plan.file.clone()).unwrap();
        let mut inst = engine.instance().unwrap();
        let refs: Vec<&[u8]> = values.iter().map(|v| v.as_slice()).collect();
        inst.refit(&refs).unwrap();
        let out = inst.serialize_including_weights().unwrap();
        let out = out.bytes();
        prop_assert_eq!(out.len() as u64, plan.truth.refitted_len);
        let r = Reference::new();
        let mut with_new = spec.clone();
        with_new.values = values.clone();
        for w in 0..spec.layout.weights.len() {
            let dt = spec.layout.weights[w].dtype;
            for (st, got) in read_copies(&with_new, out, &plan.truth.refitted, w) {
                for (e, g) in got.iter().enumerate() {
                    let want = r.widen(r.narrow(elem(&values[w], e as u64, dt), dt, st), st, dt);
                    prop_assert_eq!(*g, want, "weight {} element {} stored as {}", w, e, st);
                }
            }
        }
        // Baked buffers do not follow the refit.
        for (si, s) in spec.layout.segments.iter().enumerate() {
            if let Segment::Buffer(b) = s {
                if matches!(b.content, Content::Baked(_)) {
                    let (a, l) = plan.truth.refitted[si];
                    let (f, fl) = plan.truth.fresh[si];
                    prop_assert_eq!(l, fl);
                    prop_assert_eq!(&out[a as usize..(a + l) as usize], &plan.file[f as usize..(f + fl) as usize]);
                }
            }
        }
    }
}

/// The random generator reaches every modelled behaviour within a few hundred seeds.
#[test]
fn generator_covers_every_switch() {
    use sim::{StatKind, Why};
    let mut seen: std::collections::BTreeMap<String, u32> = Default::default();
    let mut hit = |k: &str| *seen.entry(k.to_string()).or_default() += 1;
    for seed in 0..400u64 {
        let spec = random_spec(seed, 8, &GenConfig::everything());
        let plan = spec.build().unwrap();
        if spec.layout.strip {
            hit("strip");
        }
        if spec.trailer > 0 {
            hit("trailer");
        }
        if spec.layout.refit_counter {
            hit("counter");
        }
        if !spec.corrupt.is_empty() {
            hit("corrupt");
        }
        if plan.truth.fresh_len != plan.truth.refitted_len {
            hit("length change");
        }
        for s in &spec.layout.segments {
            match s {
                Segment::Buffer(b) => {
                    let order = format!("{:?}", b.order);
                    hit(&format!(
                        "order {}",
                        &order[..order.find([' ', '{']).unwrap_or(order.len())]
                    ));
                    let c = format!("{:?}", b.content);
                    hit(&format!(
                        "content {}",
                        &c[..c.find(['(', ' ', '{']).unwrap_or(c.len())]
                    ));
                    for w in b.content.weights() {
                        let dt = spec.layout.weights[w].dtype;
                        if dt != b.stored {
                            hit(&format!("{dt} as {}", b.stored));
                        }
                    }
                    hit(&format!("stored {}", b.stored));
                    if b.pad != 0 {
                        hit("nonzero pad");
                    }
                }
                Segment::Stat {
                    kind: StatKind::Checksum,
                    ..
                } => hit("checksum"),
                Segment::Stat {
                    kind: StatKind::MaxAbs,
                    ..
                } => hit("maxabs"),
                Segment::Align { to, .. } if to % 2 == 1 && *to > 1 => hit("odd align"),
                Segment::Volatile { .. } => hit("volatile"),
                _ => {}
            }
        }
        for t in &plan.truth.weights {
            match t.recovery {
                Recovery::Exact => {
                    hit("exact");
                    if t.copies.len() > 1 {
                        hit("several copies");
                    }
                    if !t.exact_original {
                        hit("lossy");
                    }
                    if t.copies_disagree {
                        hit("disagree");
                    }
                    if t.spec.count == 0 {
                        hit("empty weight");
                    }
                    if t.spec.count == 1 {
                        hit("one-element weight");
                    }
                }
                Recovery::Unrecoverable(w) => hit(&format!("{w:?}")),
            }
        }
    }
    let must = [
        "strip",
        "trailer",
        "counter",
        "corrupt",
        "length change",
        "checksum",
        "maxabs",
        "odd align",
        "volatile",
        "exact",
        "several copies",
        "lossy",
        "disagree",
        "empty weight",
        "one-element weight",
        "nonzero pad",
        "order Verbatim",
        "order Transpose",
        "order Tiles",
        "order BlockedKcrs",
        "order PaddedRows",
        "order InterleaveRows",
        "order Shuffle",
        "content Copy",
        "content Slice",
        "content Join",
        "content ChannelScale",
        "content Reciprocal",
        "content Sum",
        "content Baked",
        "float32 as float16",
        "float32 as bfloat16",
        "float16 as float32",
        "int64 as int32",
        "stored int4",
        "stored fp4_e2m1",
        "stored bool",
        "stored e8m0",
        "stored fp8_e4m3",
        "stored uint8",
        "stored int8",
        "stored bfloat16",
        "stored int32",
        "stored int64",
    ];
    let whys = [
        Why::Stripped,
        Why::NotStored,
        Why::Baked,
        Why::Fused,
        Why::Folded,
        Why::Partial,
    ];
    for k in must
        .iter()
        .map(|s| s.to_string())
        .chain(whys.iter().map(|w| format!("{w:?}")))
    {
        assert!(
            seen.contains_key(&k),
            "never generated: {k}\nseen: {seen:?}"
        );
    }
}
