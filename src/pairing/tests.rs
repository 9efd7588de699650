use super::*;

/// A small deterministic generator (splitmix64).
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
    fn f32s(&mut self, n: usize) -> Vec<f32> {
        (0..n)
            .map(|_| (self.next() >> 40) as f32 / (1u64 << 24) as f32 - 0.5)
            .collect()
    }
}

fn bytes_f32(v: &[f32]) -> Vec<u8> {
    v.iter().flat_map(|x| x.to_le_bytes()).collect()
}
fn bytes_f16(v: &[f32]) -> Vec<u8> {
    v.iter()
        .flat_map(|x| f16::from_f32(*x).to_le_bytes())
        .collect()
}
/// fp32 values that went through fp16 (an fp32 weight the engine stores as fp16).
fn bytes_via_f16(v: &[f32]) -> Vec<u8> {
    v.iter()
        .flat_map(|x| f16::from_f32(*x).to_f32().to_le_bytes())
        .collect()
}
fn rt(name: &str, shape: &[u64], data: Vec<u8>) -> RefTensor {
    RefTensor {
        name: name.into(),
        dtype: DataType::Float,
        shape: shape.to_vec(),
        data,
    }
}
fn w<'a>(name: &'a str, dtype: DataType, count: u64, values: &'a [u8]) -> Weight<'a> {
    Weight {
        name,
        dtype,
        count,
        values: Some(values),
        stored: &[],
    }
}
/// `[r, c]` f32 values transposed to `[c, r]`.
fn t32(v: &[f32], r: usize, c: usize) -> Vec<f32> {
    let mut out = vec![0.0; v.len()];
    for i in 0..r {
        for j in 0..c {
            out[j * r + i] = v[i * c + j];
        }
    }
    out
}

#[test]
fn by_name_then_exact_transposed_and_rounded_by_value() {
    let mut g = Rng(1);
    let (a, b, c, d, e) = (g.f32s(24), g.f32s(12), g.f32s(16), g.f32s(20), g.f32s(30));
    let reference = vec![
        rt("fc.bias", &[24], bytes_f32(&a)),
        rt("fc.weight", &[3, 4], bytes_f32(&b)),
        rt("head.weight", &[16], bytes_f32(&c)),
        rt("proj.weight", &[4, 5], bytes_f32(&d)),
        rt("out.weight", &[5, 6], bytes_f32(&e)),
    ];
    let (ea, eb, ec, ed, ee) = (
        bytes_f32(&a),
        bytes_f32(&t32(&b, 3, 4)),
        bytes_f16(&c),
        bytes_via_f16(&d),
        bytes_f16(&t32(&e, 5, 6)),
    );
    let stored_half = [DataType::Half];
    let engine = vec![
        w("fc.bias", DataType::Float, 24, &ea),
        w("onnx::MatMul_1", DataType::Float, 12, &eb),
        w("onnx::Mul_2", DataType::Half, 16, &ec),
        Weight {
            stored: &stored_half,
            ..w("tmp_weight_3", DataType::Float, 20, &ed)
        },
        w("onnx::MatMul_4", DataType::Half, 30, &ee),
    ];
    let p = pair(&engine, &reference, &Options::default());
    assert_eq!(p.entries[0].outcome, Outcome::ByName { reference: 0 });
    let hows: Vec<Option<How>> = p.entries.iter().map(Entry::by_value).collect();
    assert_eq!(
        hows,
        vec![
            None,
            Some(How::Transposed),
            Some(How::Rounded { to: DataType::Half }),
            Some(How::Rounded { to: DataType::Half }),
            Some(How::TransposedRounded { to: DataType::Half }),
        ]
    );
    let names: Vec<&str> = p.entries.iter().map(Entry::name).collect();
    assert_eq!(
        names,
        [
            "fc.bias",
            "fc.weight",
            "head.weight",
            "proj.weight",
            "out.weight"
        ]
    );
    assert_eq!(p.shape(1, 12, &reference), Some(vec![3, 4]));
    assert_eq!(p.shape(0, 24, &reference), Some(vec![24]));
    // Written as the checkpoint holds it.
    assert_eq!(
        to_reference(&eb, DataType::Float, hows[1], &[3, 4]).as_ref(),
        bytes_f32(&b).as_slice()
    );
    assert_eq!(
        to_reference(&ea, DataType::Float, None, &[24]).as_ref(),
        ea.as_slice()
    );
    // An fp32 weight stored as fp16 pairs only when the engine says it is stored so.
    let unstored = [w("tmp_weight_3", DataType::Float, 20, &ed)];
    assert_eq!(
        pair(&unstored, &reference, &Options::default()).entries[0].outcome,
        Outcome::Unpaired
    );
    // Records, as reports and metadata list them.
    let r = p.records();
    assert_eq!(r.len(), 4);
    assert_eq!(
        r[0],
        Record {
            engine: "onnx::MatMul_1".into(),
            name: "fc.weight".into(),
            how: How::Transposed
        }
    );
    let json = serde_json::to_string(&r).unwrap();
    assert!(
        json.contains(r#""how":"transposed, rounded to float16""#),
        "{json}"
    );
    assert_eq!(serde_json::from_str::<Vec<Record>>(&json).unwrap(), r);
}

#[test]
fn exact_values_in_another_dtype_pair_exactly() {
    // fp16 checkpoint, fp32 engine: every fp16 value is an fp32 value.
    let v: Vec<f32> = (0..10).map(|i| i as f32 * 0.25 - 1.0).collect();
    let reference = [RefTensor {
        name: "x".into(),
        dtype: DataType::Half,
        shape: vec![10],
        data: bytes_f16(&v),
    }];
    let ev = bytes_f32(&v);
    let p = pair(
        &[w("y", DataType::Float, 10, &ev)],
        &reference,
        &Options::default(),
    );
    assert_eq!(p.entries[0].by_value(), Some(How::Exact));
}

#[test]
fn never_a_guess() {
    let mut g = Rng(2);
    let (a, b, c) = (g.f32s(16), g.f32s(16), g.f32s(9));
    let zeros = vec![0f32; 16];
    let reference = vec![
        rt("a1", &[16], bytes_f32(&a)),
        rt("a2", &[4, 4], bytes_f32(&a)), // the same values twice
        rt("b", &[16], bytes_f32(&b)),
        rt("zeros", &[16], bytes_f32(&zeros)),
        rt("small", &[4], bytes_f32(&c[..4])),
        rt("c", &[9], bytes_f32(&c)),
        rt(
            "named",
            &[16],
            bytes_f32(&b[..].iter().map(|x| x * 2.0).collect::<Vec<_>>()),
        ),
    ];
    let (ea, eb, ez, es, ec) = (
        bytes_f32(&a),
        bytes_f32(&b),
        bytes_f32(&zeros),
        bytes_f32(&c[..4]),
        bytes_f32(&c),
    );
    let differs = bytes_f32(&c.iter().map(|x| x + 1.0).collect::<Vec<_>>());
    // `named` is in the reference by name with other values; `tied` holds c's values too.
    let named_vals = bytes_f32(&c.iter().chain(&c[..7]).copied().collect::<Vec<_>>());
    let engine = vec![
        w("onnx::A", DataType::Float, 16, &ea),
        w("onnx::B1", DataType::Float, 16, &eb),
        w("onnx::B2", DataType::Float, 16, &eb),
        w("onnx::Z", DataType::Float, 16, &ez),
        w("onnx::S", DataType::Float, 4, &es),
        w("onnx::D", DataType::Float, 9, &differs),
        w("named", DataType::Float, 16, &named_vals),
        w("onnx::C", DataType::Float, 9, &ec),
        Weight {
            values: None,
            ..w("onnx::N", DataType::Float, 16, &ea)
        },
    ];
    let p = pair(&engine, &reference, &Options::default());
    let o: Vec<&Outcome> = p.entries.iter().map(|e| &e.outcome).collect();
    assert_eq!(
        *o[0],
        Outcome::Ambiguous {
            why: Ambiguity::Several,
            candidates: vec!["a1".into(), "a2".into()]
        }
    );
    assert_eq!(
        *o[1],
        Outcome::Ambiguous {
            why: Ambiguity::Shared {
                others: vec!["onnx::B2".into()]
            },
            candidates: vec!["b".into()]
        }
    );
    assert!(matches!(
        o[2],
        Outcome::Ambiguous {
            why: Ambiguity::Shared { .. },
            ..
        }
    ));
    assert_eq!(
        *o[3],
        Outcome::Ambiguous {
            why: Ambiguity::Constant,
            candidates: vec!["zeros".into()]
        }
    );
    assert_eq!(
        *o[4],
        Outcome::Ambiguous {
            why: Ambiguity::TooSmall,
            candidates: vec!["small".into()]
        }
    );
    assert_eq!(
        *o[5],
        Outcome::Unpaired,
        "a tensor that differs does not pair"
    );
    assert_eq!(*o[6], Outcome::ByName { reference: 6 });
    assert!(matches!(o[7], Outcome::ByValue { name, how: How::Exact, .. } if name == "c"));
    assert_eq!(*o[8], Outcome::NoValues);
    assert_eq!(p.records().len(), 1);
    assert_eq!(p.ambiguous().len(), 5);
    assert!(p.ambiguous()[3].why.contains("constant"));
    // A name the reference gives by name is never given again by value.
    let taken = [rt("x", &[16], bytes_f32(&a))];
    let e2 = [
        w("x", DataType::Float, 16, &eb),
        w("onnx::X", DataType::Float, 16, &ea),
    ];
    let p2 = pair(&e2, &taken, &Options::default());
    assert_eq!(p2.entries[0].outcome, Outcome::ByName { reference: 0 });
    assert_eq!(p2.entries[1].outcome, Outcome::Unpaired);
    // By name only.
    let p3 = pair(&engine, &reference, &Options { by_value: false });
    assert_eq!(p3.entries[7].outcome, Outcome::NotTried);
    assert_eq!(p3.entries[6].outcome, Outcome::ByName { reference: 6 });
}

#[test]
fn an_engine_without_values_has_nothing_to_pair() {
    let reference = [rt("a", &[8], bytes_f32(&[1.0; 8]))];
    let engine = [Weight {
        name: "w",
        dtype: DataType::Float,
        count: 8,
        values: None,
        stored: &[],
    }];
    let p = pair(&engine, &reference, &Options::default());
    assert!(p.no_values());
    assert!(!pair(&[], &reference, &Options::default()).no_values());
}

#[test]
fn a_new_checkpoint_goes_back_to_engine_names_orientation_and_dtype() {
    let mut g = Rng(3);
    let (a, b, c) = (g.f32s(12), g.f32s(10), g.f32s(9));
    let original = vec![
        rt("fc.weight", &[3, 4], bytes_f32(&a)),
        rt("fc.bias", &[10], bytes_f32(&b)),
        rt("kept", &[9], bytes_f32(&c)),
    ];
    let (ea, eb, ec) = (bytes_f32(&t32(&a, 3, 4)), bytes_f16(&b), bytes_f32(&c));
    let engine = vec![
        w("onnx::MatMul_7", DataType::Float, 12, &ea),
        w("onnx::Add_8", DataType::Half, 10, &eb),
        w("kept", DataType::Float, 9, &ec),
        w("onnx::Lost", DataType::Float, 9, &ec[..36]),
    ];
    let p = pair(&engine, &original, &Options::default());
    assert_eq!(p.entries[0].by_value(), Some(How::Transposed));
    assert_eq!(
        p.entries[1].by_value(),
        Some(How::Rounded { to: DataType::Half })
    );
    // onnx::Lost holds c's values, as does `kept` (taken by name): it stays unpaired.
    assert_eq!(p.entries[3].outcome, Outcome::Unpaired);

    // The edited checkpoint: everything doubled.
    let dbl = |v: &[f32]| v.iter().map(|x| x * 2.0).collect::<Vec<_>>();
    let new = vec![
        rt("fc.weight", &[3, 4], bytes_f32(&dbl(&a))),
        rt("fc.bias", &[10], bytes_f32(&dbl(&b))),
        rt("kept", &[9], bytes_f32(&dbl(&c))),
    ];
    // Refit takes no values from the engine.
    let specs: Vec<Weight<'_>> = engine
        .iter()
        .map(|w| Weight { values: None, ..*w })
        .collect();
    let f = to_engine(&specs, &p, &new);
    assert_eq!(f.tensors.len(), 3);
    assert_eq!(f.tensors[0].engine, "onnx::MatMul_7");
    assert_eq!(f.tensors[0].from, "fc.weight");
    assert!(f.tensors[0].transposed);
    assert_eq!(
        f.tensors[0].data,
        bytes_f32(&t32(&dbl(&a), 3, 4)),
        "back in the engine's [c, r] order"
    );
    assert_eq!(f.tensors[1].dtype, DataType::Half);
    assert_eq!(
        f.tensors[1].data,
        bytes_f16(&dbl(&b)),
        "rounded to the refit dtype"
    );
    assert!(f.tensors[1].rounded > 0);
    assert_eq!(f.tensors[2].data, bytes_f32(&dbl(&c)));
    assert_eq!(f.not_filled.len(), 1);
    assert_eq!(f.not_filled[0].engine, "onnx::Lost");
    assert_eq!(f.not_filled[0].looked_for, "onnx::Lost");

    // A reshaped tensor cannot be transposed back with confidence; a missing one is named.
    let bad = vec![
        rt("fc.weight", &[4, 3], bytes_f32(&a)),
        rt("fc.bias", &[2, 5], bytes_f32(&b)),
    ];
    let f = to_engine(&specs, &p, &bad);
    assert_eq!(f.tensors.len(), 1, "{f:?}");
    assert_eq!(
        f.tensors[0].engine, "onnx::Add_8",
        "not transposed: any shape of the right count"
    );
    assert!(
        f.not_filled[0].why.contains("[3, 4]"),
        "{:?}",
        f.not_filled[0]
    );
    assert!(
        f.not_filled[1].why.contains("no tensor"),
        "{:?}",
        f.not_filled[1]
    );
}

#[test]
fn how_reads_back_what_it_writes() {
    for h in [
        How::Exact,
        How::Transposed,
        How::Rounded { to: DataType::Bf16 },
        How::TransposedRounded { to: DataType::Half },
    ] {
        assert_eq!(h.to_string().parse::<How>(), Ok(h));
    }
    assert!("sideways".parse::<How>().is_err());
}

#[test]
fn thousands_of_tensors_pair_through_hashes() {
    // 4000 weights of a few shapes, named after ONNX nodes and transposed, against a checkpoint of
    // 4000 tensors in another order: every one pairs, by content hash, with no quadratic search.
    let mut g = Rng(4);
    let shapes: [(u64, u64); 4] = [(8, 16), (16, 8), (4, 32), (12, 12)];
    let mut reference = Vec::new();
    let mut engine_vals = Vec::new();
    for i in 0..4000 {
        let (r, c) = shapes[i % shapes.len()];
        let v = g.f32s((r * c) as usize);
        reference.push(rt(&format!("layer.{i}.weight"), &[r, c], bytes_f32(&v)));
        engine_vals.push((
            format!("onnx::MatMul_{}", 10_000 - i),
            bytes_f32(&t32(&v, r as usize, c as usize)),
            r * c,
        ));
    }
    reference.reverse();
    let engine: Vec<Weight<'_>> = engine_vals
        .iter()
        .map(|(n, v, c)| w(n, DataType::Float, *c, v))
        .collect();
    let p = pair(&engine, &reference, &Options::default());
    for (i, e) in p.entries.iter().enumerate() {
        assert_eq!(e.by_value(), Some(How::Transposed), "{}", e.engine);
        assert_eq!(e.name(), format!("layer.{i}.weight"));
    }
}
