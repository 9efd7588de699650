//! The simulator behaves like TensorRT where the extraction pipeline can observe it: refit
//! argument checks and faults, fresh vs refitted serializations, length changes, weight-stripped
//! plans, statistics, damaged copies, and the named model shapes.

use crate::sim;
use crate::sim_prop;

use proptest::prelude::*;
use sim::gen::GenConfig;
use sim::models::{self, Storage};
use sim::{
    Content, DataType, Engine, Faults, Fill, Order, Recovery, Segment, SimEngine, SimSpec, Why,
};
use trt_dump::plan::PlanHeader;

fn f32s(v: &[f32]) -> Vec<u8> {
    v.iter().flat_map(|x| x.to_le_bytes()).collect()
}

/// Two fp32 weights (a 2x3 Gemm weight stored transposed, a bias stored verbatim and as fp16).
fn small() -> SimSpec {
    let mut s = SimSpec::new();
    let w = s.weight(
        "fc.weight",
        DataType::Float,
        6,
        f32s(&[1.0, 2.0, 3.0, 4.0, 5.0, 6.0]),
    );
    let b = s.weight("fc.bias", DataType::Float, 2, f32s(&[0.5, -0.25]));
    s.filler(100, Fill::Adversarial(1));
    s.buffer(
        Content::Copy(w),
        DataType::Float,
        Order::Transpose { rows: 2, cols: 3 },
    );
    s.copy(b);
    s.buffer(Content::Copy(b), DataType::Half, Order::Verbatim);
    s
}

fn refit_all(inst: &mut dyn sim::Instance, values: &[Vec<u8>]) -> anyhow::Result<()> {
    let refs: Vec<&[u8]> = values.iter().map(|v| v.as_slice()).collect();
    inst.refit(&refs)
}

fn serialize(inst: &mut dyn sim::Instance) -> Vec<u8> {
    inst.serialize().unwrap().bytes().to_vec()
}

#[test]
fn header_is_a_plan_header_with_length_and_version() {
    let plan = small().build().unwrap();
    let h = PlanHeader::sniff(&plan.file).unwrap();
    assert_eq!(h.built_by.unwrap().to_string(), "11.4.0.106");
    assert_eq!(&plan.file[..4], b"ftrt");
    assert_eq!(
        u64::from_le_bytes(plan.file[16..24].try_into().unwrap()),
        plan.file.len() as u64
    );
}

#[test]
fn stores_as_described() {
    let plan = small().build().unwrap();
    let t = &plan.truth;
    let (start, len) = t.fresh[1];
    assert_eq!(len, 24);
    assert_eq!(
        &plan.file[start as usize..(start + len) as usize],
        f32s(&[1.0, 4.0, 2.0, 5.0, 3.0, 6.0])
    );
    // Adjacent: the bias follows the weight with no gap, then its fp16 copy.
    assert_eq!(t.fresh[2], (start + 24, 8));
    let h = &plan.file[(start + 32) as usize..(start + 36) as usize];
    assert_eq!(h, [0x00, 0x38, 0x00, 0xB4], "0.5, -0.25 in fp16");
    let bias = &t.weights[1];
    assert_eq!(bias.copies.len(), 2);
    assert_eq!(bias.copies[1].stored, DataType::Half);
    assert_eq!(bias.copies[1].fresh_offset, Some(start + 32));
    assert_eq!(bias.values.as_deref(), Some(&f32s(&[0.5, -0.25])[..]));
}

#[test]
fn refit_rejects_missing_and_wrong_length_weights() {
    let (engine, _) = small().engine().unwrap();
    let mut inst = engine.instance().unwrap();
    let good = [f32s(&[0.0; 6]), f32s(&[0.0; 2])];
    let e = inst.refit(&[&good[0]]).unwrap_err().to_string();
    assert!(e.contains("missing 1 weights: fc.bias"), "{e}");
    let e = inst
        .refit(&[&good[0], &good[1][..4]])
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("\"fc.bias\"") && e.contains("setNamedWeights"),
        "{e}"
    );
    let e = inst
        .refit(&[&good[0], &good[1], &good[1]])
        .unwrap_err()
        .to_string();
    assert!(e.contains("3 buffers for 2 weights"), "{e}");
    // Failed argument checks leave the instance as it was.
    assert_eq!(
        serialize(&mut *inst),
        engine.instance().unwrap().serialize().unwrap().bytes()
    );
    refit_all(&mut *inst, &good).unwrap();
}

#[test]
fn fresh_instance_serializes_the_file_and_trailer_is_dropped() {
    let spec = small();
    let (engine, plan) = spec.engine().unwrap();
    assert_eq!(serialize(&mut *engine.instance().unwrap()), plan.file);

    let mut t = small();
    t.trailer = 13;
    let (engine, plan) = t.engine().unwrap();
    let fresh = serialize(&mut *engine.instance().unwrap());
    assert_eq!(plan.file.len(), fresh.len() + 13);
    assert_eq!(fresh.len() as u64, plan.truth.fresh_len);
    // Only the length field differs in the common part.
    let mut patched = plan.file[..fresh.len()].to_vec();
    patched[16..24].copy_from_slice(&(fresh.len() as u64).to_le_bytes());
    assert_eq!(fresh, patched);
}

#[test]
fn refit_with_originals_reproduces_the_plan() {
    let spec = small();
    let (engine, plan) = spec.engine().unwrap();
    let mut inst = engine.instance().unwrap();
    refit_all(&mut *inst, &spec.values).unwrap();
    assert_eq!(serialize(&mut *inst), plan.file);
    // Refitting changes exactly the weight bytes.
    let mut inst = engine.instance().unwrap();
    refit_all(&mut *inst, &[f32s(&[9.0; 6]), f32s(&[7.0, 7.0])]).unwrap();
    let out = serialize(&mut *inst);
    let changed: Vec<usize> = (0..out.len()).filter(|&i| out[i] != plan.file[i]).collect();
    let (s, _) = plan.truth.fresh[1];
    assert!(
        changed
            .iter()
            .all(|&i| (s as usize..s as usize + 36).contains(&i)),
        "{changed:?}"
    );
}

#[test]
fn serialization_length_changes_after_a_refit_when_asked() {
    for at in [0usize, 2, 4] {
        let mut spec = small();
        sim::gen::insert_segment(
            &mut spec,
            at,
            Segment::Volatile {
                fresh: 40,
                refitted: 7,
                fill: Fill::Random(3),
            },
        );
        let (engine, plan) = spec.engine().unwrap();
        assert_eq!(plan.truth.refitted_len + 33, plan.truth.fresh_len);
        let mut a = engine.instance().unwrap();
        let fresh = serialize(&mut *a);
        assert_eq!(fresh.len() as u64, plan.truth.fresh_len);
        refit_all(&mut *a, &spec.values).unwrap();
        let once = serialize(&mut *a);
        assert_eq!(once.len() as u64, plan.truth.refitted_len);
        assert_ne!(once[16..24], fresh[16..24], "header length field changes");
        refit_all(&mut *a, &spec.values).unwrap();
        assert_eq!(
            serialize(&mut *a),
            once,
            "a second refit keeps the refitted form"
        );
        let mut b = engine.instance().unwrap();
        refit_all(&mut *b, &spec.values).unwrap();
        assert_eq!(serialize(&mut *b), once, "same refit count, same bytes");
    }
}

#[test]
fn refit_counter_marks_each_refit() {
    let mut spec = small();
    spec.layout.refit_counter = true;
    let (engine, plan) = spec.engine().unwrap();
    let mut a = engine.instance().unwrap();
    assert_eq!(serialize(&mut *a), plan.file);
    refit_all(&mut *a, &spec.values).unwrap();
    let one = serialize(&mut *a);
    assert_eq!(one[12..16], 1u32.to_le_bytes());
    refit_all(&mut *a, &spec.values).unwrap();
    assert_eq!(serialize(&mut *a)[12..16], 2u32.to_le_bytes());
}

#[test]
fn faults_fail_the_nth_call_and_reject_a_weight() {
    let spec = small();
    let (engine, _) = spec.engine().unwrap();
    let engine = engine.with_faults(Faults {
        fail_refit: Some(2),
        ..Faults::default()
    });
    let mut a = engine.instance().unwrap();
    let mut b = engine.instance().unwrap();
    refit_all(&mut *a, &spec.values).unwrap();
    let e = refit_all(&mut *b, &spec.values).unwrap_err().to_string();
    assert!(e.contains("refitCudaEngine") && e.contains("#2"), "{e}");
    let e = b
        .serialize()
        .err()
        .expect("an engine whose refit failed is unusable")
        .to_string();
    assert!(
        e.contains("ICudaEngine::serialize")
            && e.contains("engine unusable: injected failure on refit #2"),
        "{e}"
    );
    let e = refit_all(&mut *b, &spec.values).unwrap_err().to_string();
    assert!(
        e.contains("refitCudaEngine")
            && e.contains("engine unusable: injected failure on refit #2"),
        "{e}"
    );
    refit_all(&mut *a, &spec.values).unwrap();
    let mut c = engine.instance().unwrap();
    refit_all(&mut *c, &spec.values).unwrap();
    c.serialize().unwrap();
    assert_eq!(
        engine.calls(),
        (3, 5, 2),
        "every call counts, failed ones too"
    );

    let (engine, _) = spec.engine().unwrap();
    let engine = engine.with_faults(Faults {
        reject_weight: Some(1),
        ..Faults::default()
    });
    let mut a = engine.instance().unwrap();
    for _ in 0..3 {
        let e = refit_all(&mut *a, &spec.values).unwrap_err().to_string();
        assert!(e.contains("\"fc.bias\""), "{e}");
    }
    a.serialize().unwrap();

    let (engine, _) = spec.engine().unwrap();
    let engine = engine.with_faults(Faults {
        fail_instance: Some(2),
        fail_serialize: Some(1),
        ..Faults::default()
    });
    let mut a = engine.instance().unwrap();
    let e = engine.instance().err().unwrap().to_string();
    assert!(
        e.contains("deserializeCudaEngine") && e.contains("injected failure on deserialization #2"),
        "{e}"
    );
    let e = a.serialize().err().unwrap().to_string();
    assert!(
        e.contains("ICudaEngine::serialize") && e.contains("injected failure on serialization #1"),
        "{e}"
    );
    a.serialize().unwrap();
}

#[test]
fn faults_travel_inside_the_plan() {
    let mut spec = small();
    spec.layout.faults.fail_refit = Some(1);
    let (engine, _) = spec.engine().unwrap();
    let e = refit_all(&mut *engine.instance().unwrap(), &spec.values)
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("refitCudaEngine") && e.contains("injected failure on refit #1"),
        "{e}"
    );
}

#[test]
fn stripped_plan_holds_no_weights_until_refitted() {
    let mut spec = models::tiny_mlp(Storage::Fp32);
    spec.layout.strip = true;
    // A constant baked under kREFIT_IDENTICAL stays in a stripped plan.
    let w = spec.weight("baked", DataType::Float, 3, f32s(&[1.25, 2.5, 5.0]));
    spec.buffer(Content::Baked(w), DataType::Float, Order::Verbatim);
    let (engine, plan) = spec.engine().unwrap();
    let full = models::tiny_mlp(Storage::Fp32).build().unwrap();
    assert!(
        plan.file.len() + 7312 * 4 - 12 <= full.file.len() + 800,
        "no weight bytes in the file"
    );
    for t in &plan.truth.weights[..6] {
        assert_eq!(t.recovery, Recovery::Unrecoverable(Why::Stripped));
        assert!(t.copies.iter().all(|c| c.fresh_offset.is_none()));
    }
    assert_eq!(
        plan.truth.weights[6].recovery,
        Recovery::Unrecoverable(Why::Baked)
    );
    assert!(plan.file.windows(12).any(|x| x == f32s(&[1.25, 2.5, 5.0])));
    let mut inst = engine.instance().unwrap();
    assert_eq!(serialize(&mut *inst), plan.file);
    refit_all(&mut *inst, &spec.values).unwrap();
    // kSTRIP_PLAN: a plain serialization keeps excluding the weights after a refit (#3217)...
    let plain = serialize(&mut *inst);
    assert_eq!(
        plain.len(),
        plan.file.len(),
        "a refitted stripped engine still serializes without its weights"
    );
    let bias = &spec.values[5];
    assert!(!plain.windows(bias.len()).any(|x| x == bias.as_slice()));
    // ...and serializeWithConfig without kEXCLUDE_WEIGHTS has them.
    let out = inst.serialize_including_weights().unwrap().bytes().to_vec();
    assert_eq!(out.len() as u64, plan.truth.refitted_len);
    assert_eq!(
        out.len() - plan.file.len(),
        7312 * 4,
        "serialized with its weights included"
    );
    assert!(out.windows(bias.len()).any(|x| x == bias.as_slice()));
    // That plan is an ordinary refittable engine holding its weights.
    let again = SimEngine::new(out.clone()).unwrap();
    assert_eq!(serialize(&mut *again.instance().unwrap()), out);
}

#[test]
fn statistics_follow_the_refit_but_are_not_weights() {
    let mut spec = small();
    spec.push(Segment::Stat {
        buffer: 1,
        kind: sim::StatKind::Checksum,
    });
    spec.push(Segment::Stat {
        buffer: 1,
        kind: sim::StatKind::MaxAbs,
    });
    let (engine, plan) = spec.engine().unwrap();
    let at = |p: &[u8], seg: usize| {
        let s = plan.truth.fresh[seg].0 as usize;
        p[s..s + 4].to_vec()
    };
    assert_eq!(
        at(&plan.file, 5),
        6.0f32.to_le_bytes(),
        "max |w| looks like an element"
    );
    let mut inst = engine.instance().unwrap();
    refit_all(
        &mut *inst,
        &[f32s(&[1.0, 2.0, 3.0, 4.0, 5.0, -8.0]), f32s(&[0.0, 0.0])],
    )
    .unwrap();
    let out = serialize(&mut *inst);
    assert_ne!(
        at(&out, 4),
        at(&plan.file, 4),
        "checksum follows the weight"
    );
    assert_eq!(at(&out, 5), 8.0f32.to_le_bytes());
}

#[test]
fn damaged_copy_is_in_the_file_and_reported_by_truth() {
    let mut spec = small();
    spec.corrupt.push(sim::Corrupt {
        segment: 3,
        slot: 1,
        xor: 0x4000,
    });
    let (engine, plan) = spec.engine().unwrap();
    let t = &plan.truth.weights[1];
    assert!(t.copies_disagree);
    assert_eq!(
        t.values.as_deref(),
        Some(&f32s(&[0.5, -0.25])[..]),
        "the fp32 copy wins"
    );
    let mut inst = engine.instance().unwrap();
    assert_eq!(serialize(&mut *inst), plan.file);
    refit_all(&mut *inst, &spec.values).unwrap();
    assert_eq!(
        serialize(&mut *inst),
        small().build().unwrap().file,
        "a refit rewrites the copy"
    );
}

#[test]
fn conversions_in_storage() {
    let mut s = SimSpec::new();
    let i64w = s.weight(
        "ids",
        DataType::Int64,
        3,
        [5i64, i64::MAX, -(1 << 40)]
            .iter()
            .flat_map(|v| v.to_le_bytes())
            .collect(),
    );
    let bw = s.weight("mask", DataType::Bool, 3, vec![0, 1, 1]);
    let i4 = s.weight("q4", DataType::Int4, 3, vec![0x21, 0x03]);
    let big = s.weight("big", DataType::Float, 2, f32s(&[1e6, -70000.0]));
    s.buffer(Content::Copy(i64w), DataType::Int32, Order::Verbatim);
    s.copy(bw);
    s.buffer(
        Content::Copy(i4),
        DataType::Int4,
        Order::Shuffle { seed: 5 },
    );
    s.buffer(Content::Copy(big), DataType::Half, Order::Verbatim);
    let plan = s.build().unwrap();
    let t = &plan.truth;
    let seg = |i: usize| {
        let (a, l) = t.fresh[i];
        plan.file[a as usize..(a + l) as usize].to_vec()
    };
    let i32s: Vec<u8> = [5i32, i32::MAX, i32::MIN]
        .iter()
        .flat_map(|v| v.to_le_bytes())
        .collect();
    assert_eq!(seg(0), i32s, "int64 stored as clamped int32");
    assert_eq!(
        t.weights[0].values.as_deref(),
        Some(
            &[5i64, i32::MAX as i64, i32::MIN as i64]
                .iter()
                .flat_map(|v| v.to_le_bytes())
                .collect::<Vec<u8>>()[..]
        )
    );
    assert!(!t.weights[0].exact_original);
    assert_eq!(seg(1), [0, 1, 1]);
    assert_eq!(seg(3), [0xFF, 0x7B, 0xFF, 0xFB], "fp16 saturates to ±65504");
    assert_eq!(
        t.weights[2].values.as_deref(),
        Some(&[0x21u8, 0x03][..]),
        "packed: low nibble first"
    );
    // A refit with an unused high nibble set stores the same.
    let (engine, _) = s.engine().unwrap();
    let mut inst = engine.instance().unwrap();
    let mut vals = s.values.clone();
    vals[2] = vec![0x21, 0xF3];
    vals[1] = vec![0, 7, 1];
    refit_all(&mut *inst, &vals).unwrap();
    assert_eq!(
        serialize(&mut *inst),
        plan.file,
        "bool stores v != 0, unused nibble ignored"
    );
}

#[test]
fn named_models_have_the_documented_shapes() {
    for st in [Storage::Fp32, Storage::Fp16, Storage::Fp32AsFp16] {
        let m = models::tiny_mlp(st);
        assert_eq!(m.layout.weights.len(), 6);
        assert_eq!(models::parameters(&m), 7312);
        let plan = m.build().unwrap();
        assert!(plan
            .truth
            .weights
            .iter()
            .all(|w| w.recovery == Recovery::Exact));
        assert_eq!(
            plan.truth.weights[0].copies[0].order,
            Order::Transpose { rows: 64, cols: 32 }
        );
        assert_eq!(plan.truth.weights[1].copies[0].order, Order::Verbatim);
        assert_eq!(plan.file[plan.file.len() - 8..], models::FOOTER);
        let n = plan.file.len() as f64;
        assert!(
            (190_000.0..220_000.0).contains(&n),
            "{n}: real tiny_mlp engines are 195-210 KB"
        );
        assert_eq!(
            plan.truth.weights.iter().all(|w| w.exact_original),
            st != Storage::Fp32AsFp16
        );

        let b = models::bert_tiny(st);
        assert_eq!(b.layout.weights.len(), 39);
        assert_eq!(models::parameters(&b), 4_385_920);
        let plan = b.build().unwrap();
        assert!(plan
            .truth
            .weights
            .iter()
            .all(|w| w.recovery == Recovery::Exact));
        let ln_bias = &plan.truth.weights[4];
        assert_eq!(ln_bias.spec.name, "bert.embeddings.LayerNorm.bias");
        assert_eq!(
            ln_bias.copies.iter().map(|c| c.stored).collect::<Vec<_>>(),
            [DataType::Half]
        );
        let twice = plan
            .truth
            .weights
            .iter()
            .find(|w| w.spec.name == "bert.encoder.layer.0.intermediate.dense.bias")
            .unwrap();
        assert_eq!(twice.copies.len(), 2);
        assert_ne!(twice.copies[0].stored, twice.copies[1].stored);
    }
    let d = models::decoder(Storage::Fp16, 1, 100, 16, 3, 40);
    assert_eq!(d.layout.weights.len(), 1 + 3 * 9 + 2);
    assert!(d
        .build()
        .unwrap()
        .truth
        .weights
        .iter()
        .all(|w| w.recovery == Recovery::Exact));
}

/// Builds and serializes BERT-base (110M parameters). Slow in a debug build: run with
/// `cargo test --release --test sim sim_behaviour:: -- --ignored`.
#[test]
#[ignore]
fn bert_base_builds_and_serializes_in_seconds() {
    for st in [Storage::Fp32, Storage::Fp16] {
        let t0 = std::time::Instant::now();
        let spec = models::bert_base(st);
        assert_eq!(spec.layout.weights.len(), 199);
        assert!((109_000_000..111_000_000).contains(&models::parameters(&spec)));
        let (engine, plan) = spec.engine().unwrap();
        let built = t0.elapsed();
        let mut inst = engine.instance().unwrap();
        let n = inst.serialize().unwrap().bytes().len();
        assert_eq!(n as u64, plan.truth.fresh_len);
        refit_all(&mut *inst, &spec.values).unwrap();
        assert_eq!(inst.serialize().unwrap().bytes(), &plan.file[..]);
        eprintln!(
            "bert_base {st:?}: {} bytes, built in {built:?}, refit+serialize total {:?}",
            n,
            t0.elapsed()
        );
        assert!(t0.elapsed().as_secs() < 30);
    }
}

/// What `prop_fresh_and_refitted_serializations` checks, on one spec: a fresh instance serializes
/// the file (minus a trailer); a refit with the original values reproduces every segment whose
/// length does not change, and only the declared differences.
fn check_fresh_and_refitted(spec: &SimSpec) {
    let (engine, plan) = spec.engine().unwrap();
    let t = &plan.truth;
    assert!(PlanHeader::sniff(&plan.file).unwrap().built_by.is_some());
    let mut inst = engine.instance().unwrap();
    let fresh = serialize(&mut *inst);
    assert_eq!(
        fresh.len() as u64,
        t.fresh_len,
        "a fresh instance serializes the file less its trailer"
    );
    assert_eq!(&fresh[24..], &plan.file[24..t.fresh_len as usize]);
    assert_eq!(
        u64::from_le_bytes(fresh[16..24].try_into().unwrap()),
        t.fresh_len
    );
    refit_all(&mut *inst, &spec.values).unwrap();
    // The refitted form with its weights in (a stripped plan's plain serialization has none).
    let re = inst.serialize_including_weights().unwrap().bytes().to_vec();
    if !spec.layout.strip {
        assert!(re == serialize(&mut *inst));
    }
    assert_eq!(re.len() as u64, t.refitted_len);
    assert_eq!(
        u64::from_le_bytes(re[16..24].try_into().unwrap()),
        t.refitted_len
    );
    assert_eq!(
        &re[24..t.description.1 as usize],
        &fresh[24..t.description.1 as usize]
    );
    for (i, s) in spec.layout.segments.iter().enumerate() {
        let ((a, l), (f, fl)) = (t.refitted[i], t.fresh[i]);
        if l == fl && !matches!(s, Segment::Volatile { .. }) {
            assert_eq!(
                &re[a as usize..(a + l) as usize],
                &fresh[f as usize..(f + fl) as usize],
                "segment {i} {s:?}"
            );
        }
    }
    if t.fresh == t.refitted && !spec.layout.refit_counter {
        assert!(re == fresh, "no declared difference, so the same bytes");
    }
    // A second refit with other values, then the originals again: same bytes as one refit,
    // except the counter.
    let other = sim::gen::random_refit_values(&spec.layout.weights, 5);
    refit_all(&mut *inst, &other).unwrap();
    refit_all(&mut *inst, &spec.values).unwrap();
    let again = inst.serialize_including_weights().unwrap().bytes().to_vec();
    assert_eq!(&again[16..], &re[16..]);
}

/// The case `prop_fresh_and_refitted_serializations` once failed on (fresh serialization 1475
/// bytes, truth 1451): a builder trailer (24 bytes) exactly as long as the refit's growth of a
/// volatile block (181 -> 205) makes the file as long as a refitted serialization, and with
/// `persist_refit_form` the runtime took the builder's file for a refitted plan.
#[test]
fn trailer_as_long_as_the_refit_growth_is_still_a_trailer() {
    use sim::{Buffer, Layout, StatKind, WeightSpec};
    let fp4: Vec<u8> = vec![
        112, 52, 183, 238, 253, 193, 128, 71, 235, 113, 141, 182, 172, 55, 4, 212, 218, 254, 168,
        64, 241, 33, 50, 241, 82, 138, 211, 130, 23, 182, 99, 223, 177, 69, 198, 203, 15, 197, 248,
        136, 204, 249, 163, 232, 215, 174, 110, 67, 26, 16, 252, 185, 135, 77, 126, 242, 217, 21,
        71, 18, 217, 139, 98, 1, 59, 1, 97, 209, 237, 58, 233, 199, 204, 112, 152, 155, 234, 2,
    ];
    let spec = SimSpec {
        layout: Layout {
            version: [11, 4, 0, 106],
            weights: vec![
                WeightSpec {
                    name: "net.0.weight".into(),
                    dtype: DataType::Fp4,
                    count: 155,
                },
                WeightSpec {
                    name: "bias 1 (ü)".into(),
                    dtype: DataType::Int8,
                    count: 4,
                },
            ],
            segments: vec![
                Segment::Filler {
                    len: 290,
                    fill: Fill::Adversarial(2243676619521259822),
                },
                Segment::Align {
                    to: 4,
                    fill: Fill::Random(13540264467754626613),
                },
                Segment::Buffer(Buffer {
                    content: Content::Copy(1),
                    stored: DataType::Int8,
                    order: Order::BlockedKcrs {
                        k: 2,
                        c: 2,
                        r: 1,
                        s: 1,
                        b: 4,
                    },
                    pad: 71,
                }),
                Segment::Stat {
                    buffer: 2,
                    kind: StatKind::Checksum,
                },
                Segment::Buffer(Buffer {
                    content: Content::Copy(0),
                    stored: DataType::Fp4,
                    order: Order::Verbatim,
                    pad: 0,
                }),
                Segment::Volatile {
                    fresh: 181,
                    refitted: 205,
                    fill: Fill::Zero,
                },
                Segment::Filler {
                    len: 8,
                    fill: Fill::Pattern(vec![0, 0, 0, 0, 153, 139, 141, 139]),
                },
            ],
            strip: false,
            refit_counter: false,
            persist_refit_form: true,
            faults: Faults::default(),
            not_refittable: false,
        },
        values: vec![fp4, vec![154, 127, 247, 231]],
        trailer: 24,
        corrupt: vec![],
    };
    check_fresh_and_refitted(&spec);
}

/// A plan an instance serialized after a refit opens in the refitted layout whatever its length:
/// shorter than the fresh layout (a block that shrinks), or exactly as long as the fresh layout
/// with its segments elsewhere (one block grows as much as another shrinks). Through `SimEngine::new`
/// (the stand-in's deserializeCudaEngine) and `instance_of` alike.
#[test]
fn refitted_plans_open_in_the_refitted_layout_whatever_their_length() {
    let cases: [&[(usize, u64, u64)]; 2] = [&[(2, 40, 7)], &[(0, 10, 30), (3, 30, 10)]];
    for vols in cases {
        for persist in [false, true] {
            let mut spec = small();
            for &(at, fresh, refitted) in vols {
                sim::gen::insert_segment(
                    &mut spec,
                    at,
                    Segment::Volatile {
                        fresh,
                        refitted,
                        fill: Fill::Random(at as u64),
                    },
                );
            }
            spec.layout.persist_refit_form = persist;
            let (engine, plan) = spec.engine().unwrap();
            assert_ne!(plan.truth.fresh, plan.truth.refitted);
            let mut a = engine.instance().unwrap();
            refit_all(&mut *a, &spec.values).unwrap();
            let re = serialize(&mut *a);
            assert_eq!(re.len() as u64, plan.truth.refitted_len);
            assert_eq!(
                (plan.file[sim::FORM_AT], re[sim::FORM_AT]),
                (0, 1),
                "the header names the layout"
            );
            let other = [f32s(&[9.0, 8.0, 7.0, 6.0, 5.0, 4.0]), f32s(&[3.0, 2.0])];
            let mut b = engine.instance().unwrap();
            refit_all(&mut *b, &other).unwrap();
            let want_other = serialize(&mut *b);
            let reopened = SimEngine::new(re.clone()).unwrap();
            for mut inst in [
                reopened.instance().unwrap(),
                engine.instance_of(&re).unwrap(),
            ] {
                let again = serialize(&mut *inst);
                if persist {
                    assert!(again == re, "{vols:?}: the refitted layout persists");
                } else {
                    assert!(again == plan.file, "{vols:?}: back to the fresh layout");
                }
                refit_all(&mut *inst, &other).unwrap();
                assert!(
                    serialize(&mut *inst) == want_other,
                    "{vols:?} persist {persist}: weights found where they are"
                );
            }
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 96, failure_persistence: None, ..ProptestConfig::default() })]

    /// A fresh instance serializes the file (minus a trailer); a refit with the original values
    /// reproduces every segment whose length does not change, and only the declared differences.
    #[test]
    fn prop_fresh_and_refitted_serializations(spec in sim_prop::arb_spec(GenConfig { corrupt: false, ..GenConfig::everything() })) {
        check_fresh_and_refitted(&spec);
    }

    /// A plan is untrusted input: truncation or a changed length field is an error, not a panic.
    #[test]
    fn prop_damaged_headers_are_rejected(spec in sim_prop::arb_spec(GenConfig::plain()), cut in 1usize..64) {
        let plan = spec.build().unwrap();
        let n = plan.file.len();
        let e = SimEngine::new(plan.file[..n - cut.min(n)].to_vec()).err().unwrap().to_string();
        prop_assert!(e.contains("plan length field"), "{}", e);
        let mut f = plan.file.clone();
        f[16] ^= 1;
        let e = SimEngine::new(f).err().unwrap().to_string();
        prop_assert!(e.contains("plan length field"), "{}", e);
    }
}

#[test]
fn weights_validation_rejects_non_finite_floats() {
    let spec = small();
    let ws = &spec.layout.weights;
    let good: Vec<&[u8]> = spec.values.iter().map(|v| v.as_slice()).collect();
    sim::validate_values(ws, &good).unwrap();
    let nan = f32s(&[1.0, f32::NAN, 0.0, 0.0, 0.0, 0.0]);
    let e = sim::validate_values(ws, &[&nan, good[1]])
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("\"fc.weight\"") && e.contains("element 1"),
        "{e}"
    );
    let inf = f32s(&[f32::NEG_INFINITY, 0.0]);
    let e = sim::validate_values(ws, &[good[0], &inf])
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("\"fc.bias\"") && e.contains("element 0") && e.contains("NaN or infinite"),
        "{e}"
    );
    // Without validation (the tool's setting) the same values refit fine.
    let (engine, _) = spec.engine().unwrap();
    engine.instance().unwrap().refit(&[&nan, &inf]).unwrap();
}
