use super::*;
use crate::pipeline::layout::Run;

fn run(
    weight: u32,
    stored: DataType,
    offset: u64,
    len: u64,
    index: u64,
    index_stride: i64,
) -> MapRun {
    MapRun {
        run: Run {
            weight,
            stored,
            offset,
            nibble: 0,
            len,
            index,
            index_stride,
        },
        outer: 1,
        outer_offset_stride: 0,
        outer_index_stride: 0,
    }
}

fn wv(name: &str, count: u64, recovered: bool) -> WeightView {
    WeightView {
        name: name.into(),
        dtype: DataType::Float,
        count,
        found: if recovered { count } else { 0 },
        recovered,
        missing: (!recovered).then(|| "not stored in the plan".to_string()),
        stats: None,
        hist: None,
    }
}

fn sample() -> ViewInput {
    // w0: 4x3 transposed (3 columns of 4 floats) at 100; w1: 5 floats at 200 plus an fp16 copy at
    // 240; w2: not located.
    let mut runs = vec![MapRun {
        outer: 3,
        outer_offset_stride: 16,
        outer_index_stride: 1,
        ..run(0, DataType::Float, 100, 4, 0, 3)
    }];
    runs.push(run(1, DataType::Float, 200, 5, 0, 1));
    runs.push(run(1, DataType::Half, 240, 5, 0, 1));
    ViewInput {
        engine: "m.engine".into(),
        engine_len: 400,
        built_by: "TensorRT 10.16".into(),
        source: "map `m.engine.trtmap`".into(),
        meta: BTreeMap::new(),
        weights: vec![
            wv("layer.0.w", 12, true),
            wv("layer.0.b", 5, true),
            wv("head</script><b>", 3, false),
        ],
        runs,
        volatile: vec![(300, 310)],
        unlisted_missing: vec![],
    }
}

#[test]
fn groups_follow_the_layer_prefix() {
    assert_eq!(
        group_of("bert.encoder.layer.3.attention.self.query.weight"),
        "bert.encoder.layer.3"
    );
    assert_eq!(group_of("net.0.weight"), "net.0");
    assert_eq!(group_of("embeddings.word.weight"), "embeddings.word");
    assert_eq!(group_of("bias"), "bias");
    assert_eq!(group_of("a/b/c"), "a/b");
    assert_eq!(group_of("onnx::MatMul_1234"), "onnx");
}

#[test]
fn model_summarises_extents_layouts_copies_and_totals() {
    let input = sample();
    let m = Model::new(&input);
    assert_eq!(
        m.placed[0].extents,
        vec![Extent {
            start: 100,
            end: 148,
            stored: DataType::Float
        }]
    );
    assert_eq!(m.placed[0].layout, Layout::Transposed);
    assert_eq!(m.placed[1].layout, Layout::Verbatim);
    assert_eq!(m.placed[1].copies, 2);
    assert_eq!(m.placed[1].stored, vec![DataType::Float, DataType::Half]);
    assert_eq!(m.layout_words(1), "verbatim, float16 copy");
    assert_eq!(m.placed[2].layout, Layout::Absent);
    let s = &m.summary;
    assert_eq!(s.weight_bytes, 48 + 20 + 10);
    assert_eq!(s.dup_bytes, 15); // half of the 30 bytes of w1's two copies
    assert_eq!(s.header_bytes, 28);
    assert_eq!(s.volatile_bytes, 10);
    assert_eq!(s.other_bytes, 400 - 28 - 78 - 10);
    assert_eq!((s.weights, s.recovered), (3, 2));
}

#[test]
fn tiled_runs_are_told_apart_from_verbatim_ones() {
    let mut input = sample();
    input.runs = vec![
        run(0, DataType::Float, 100, 6, 6, 1),
        run(0, DataType::Float, 124, 6, 0, 1),
    ];
    let m = Model::new(&input);
    assert_eq!(m.placed[0].layout, Layout::Tiled);
    assert_eq!(m.placed[0].extents.len(), 1, "abutting runs merge");
}

#[test]
fn many_extents_are_coalesced() {
    let mut input = sample();
    input.runs = (0..100)
        .map(|k| run(0, DataType::Float, 28 + k * 8 + k * k / 50, 1, 0, 1))
        .collect();
    input.weights[0].count = 1;
    input.engine_len = 2000;
    let m = Model::new(&input);
    assert_eq!(m.placed[0].extents.len(), MAX_EXTENTS);
    assert_eq!(m.placed[0].extents[0].start, 28);
}

#[test]
fn page_is_self_contained_and_names_cannot_break_out() {
    let p = page(&sample());
    assert!(p.starts_with("<!DOCTYPE html>"));
    for needle in ["http://", "https://", "src=\"", "@import", "url("] {
        assert!(!p.contains(needle), "the page must fetch nothing: {needle}");
    }
    // The hostile name appears only escaped: once in the data (as \u003c), once in the summary.
    assert_eq!(
        p.matches("</script>").count(),
        2,
        "only the page's own two scripts end"
    );
    assert!(p.contains("head\\u003c/script\\u003e\\u003cb\\u003e"));
    assert!(p.contains("<code>head&lt;/script&gt;&lt;b&gt;</code>: not stored in the plan"));
}

#[test]
fn a_locate_map_says_what_it_did_not_find() {
    let mut input = sample();
    input.weights.truncate(2);
    input.meta.insert(
        "made_by".into(),
        "locate (reference search, no TensorRT)".into(),
    );
    input.meta.insert(
        "not_located".into(),
        "2 reference tensors (see `trt-dump locate --json`)".into(),
    );
    let p = page(&input);
    assert!(
        p.contains("Not located: 2 reference tensors"),
        "the summary says so"
    );
    assert!(p.contains("Every weight the map records was located"));
    input
        .meta
        .insert("not_located".into(), "0 reference tensors".into());
    assert!(!page(&input).contains("Not located:"));
}

#[test]
fn bins_mark_header_volatile_and_weights() {
    let input = sample();
    let m = Model::new(&input);
    let b = bins(&m, 0, 400, 40);
    assert_eq!(b[0].header, 1.0);
    assert_eq!(b[10].top.map(|t| t.0), Some(0));
    assert!(b[10].weight > 0.99);
    assert_eq!(b[24].top, Some((1, DataType::Half)));
    assert_eq!(b[30].volatile, 1.0);
    assert_eq!(b[35], Bin::default());
}

#[test]
fn svg_is_a_standalone_picture() {
    let s = svg(&sample());
    assert!(s.starts_with("<svg xmlns=\"http://www.w3.org/2000/svg\""));
    assert!(s.trim_end().ends_with("</svg>"));
    assert!(s.contains("m.engine"));
    assert!(!s.contains("<script"));
}

#[test]
fn page_for_ten_thousand_weights_over_four_gigabytes_stays_under_five_megabytes() {
    let input = synthetic(10_000, 4 << 30);
    let p = page(&input);
    assert!(p.len() < 5 << 20, "page is {} bytes", p.len());
    assert!(p.contains("model.encoder.layer.624.block.3.weight_3"));
    let s = svg(&input);
    assert!(s.len() < 1 << 20, "svg is {} bytes", s.len());
}
