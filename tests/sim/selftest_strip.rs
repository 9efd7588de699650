//! `selftest`'s STRIP_PLAN model restored by `refit` (src/selftest: `restore_strip_plan`), over
//! the simulator: the stand-in TensorRT library has no builder, so the engine is a simulated
//! STRIP_PLAN build of the model's MLP (Gemm weights stored transposed, fc2.bias only as fp16),
//! refitted through the refit library with the model's weights and dumped again.

use crate::sim;

use sim::{Content, DataType, Fill, Order, SimEngine, SimSpec};
use trt_dump::pipeline::extract;
use trt_dump::refit;
use trt_dump::selftest::{self, models, Dumped};

fn strip_model() -> models::Model {
    models::all().into_iter().find(|m| m.strip_plan).unwrap()
}

/// The model's MLP as TensorRT lays it out, weight-stripped where `strip`. The builder's values
/// are zeros, so only the refit can put the model's values in.
fn sim_strip_engine(m: &models::Model, strip: bool) -> SimSpec {
    let mut s = SimSpec::new();
    s.filler(200, Fill::Random(1));
    for (k, w) in m.weights.iter().enumerate() {
        let count: u64 = w.init.dims.iter().map(|&d| d as u64).product();
        let id = s.weight(
            w.init.name.clone(),
            DataType::Float,
            count,
            vec![0u8; count as usize * 4],
        );
        let (stored, order) = match (w.init.dims.as_slice(), w.init.name.as_str()) {
            (&[rows, cols], _) => (
                DataType::Float,
                Order::Transpose {
                    rows: rows as u64,
                    cols: cols as u64,
                },
            ),
            (_, "fc2.bias") => (DataType::Half, Order::Verbatim),
            _ => (DataType::Float, Order::Verbatim),
        };
        s.buffer(Content::Copy(id), stored, order);
        s.filler(16 + 8 * k as u64, Fill::Random(2 + k as u64));
    }
    s.layout.strip = strip;
    s
}

fn dump_sim(plan: &[u8]) -> anyhow::Result<Dumped> {
    let e = SimEngine::new(plan.to_vec())?;
    let ex = extract::extract(
        &e,
        plan,
        &extract::Options::default(),
        &mut extract::InMemory,
        &mut extract::Quiet,
    )?;
    Ok(Dumped {
        weights: ex.weights.clone(),
        results: ex.results.clone(),
        proof: ex.proof.clone(),
    })
}

#[test]
fn selftest_strip_plan_is_restored_by_refit_and_dumps_exactly() {
    let m = strip_model();
    let spec = sim_strip_engine(&m, true);
    let plan = spec.build().unwrap();
    let engine = SimEngine::new(plan.file.clone()).unwrap();
    assert!(refit::is_stripped(&engine).unwrap());
    // dump first: every weight reported stripped.
    let before = dump_sim(&plan.file).unwrap();
    assert!(before
        .results
        .iter()
        .all(|r| r.missing == Some(extract::Missing::Stripped)));

    let mut dumps = 0;
    let mut dump = |p: &[u8]| {
        dumps += 1;
        dump_sim(p)
    };
    let l = selftest::restore_strip_plan(&m, &engine, &mut dump).unwrap();
    assert_eq!(dumps, 1);
    assert_eq!(l.status, "passed", "{l:?}");
    assert!(
        l.note
            .starts_with("refused by dump (stripped); restored by refit: 4/4 weights exact"),
        "{}",
        l.note
    );
    assert_eq!(l.weights.len(), 4);
    assert!(
        l.weights.iter().all(|w| w.ok && w.got == "exact"),
        "{:?}",
        l.weights
    );
    // The fp16-stored bias: exact after float16 rounding, said in the line.
    let b = l.weights.iter().find(|w| w.name == "fc2.bias").unwrap();
    assert!(
        b.detail.contains("exact after float16 rounding"),
        "{}",
        b.detail
    );
    assert!(l
        .weights
        .iter()
        .filter(|w| w.name != "fc2.bias")
        .all(|w| w.detail.is_empty()));
}

#[test]
fn selftest_strip_restore_fails_where_the_refitted_dump_differs_or_the_engine_is_not_stripped() {
    let m = strip_model();
    let plan = sim_strip_engine(&m, true).build().unwrap();
    let engine = SimEngine::new(plan.file.clone()).unwrap();
    // A dump that gives other values (one element changed): the model fails, naming the weight.
    let mut dump = |p: &[u8]| {
        let mut d = dump_sim(p)?;
        let i = d.weights.iter().position(|w| w.name == "fc1.bias").unwrap();
        d.results[i].values.values.as_mut().unwrap()[0] ^= 1;
        Ok(d)
    };
    let l = selftest::restore_strip_plan(&m, &engine, &mut dump).unwrap();
    assert_eq!(l.status, "failed");
    assert!(
        l.note.contains("restored by refit: 3/4 weights exact"),
        "{}",
        l.note
    );
    assert!(l
        .weights
        .iter()
        .any(|w| w.name == "fc1.bias" && !w.ok && w.got == "differs"));

    // An engine that is not stripped is an error (the selftest's STRIP_PLAN build was not).
    let full = sim_strip_engine(&m, false).build().unwrap();
    let e = SimEngine::new(full.file.clone()).unwrap();
    let err = selftest::restore_strip_plan(&m, &e, &mut dump_sim).unwrap_err();
    assert!(
        format!("{err:#}").contains("not weight-stripped"),
        "{err:#}"
    );
}
