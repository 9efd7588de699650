//! Regression tests for bugs found by fuzzing and by the reliability work (issue #6), each named
//! after what it fixes. The inputs that found them are also kept in `fuzz/corpus/` (replayed by
//! `tests/io/reliability_fuzz_corpus.rs`).

use std::collections::BTreeMap;

use trt_dump::dtype::DataType;
use trt_dump::error::{self, ErrorKind};
use trt_dump::map::{Header, MapFile, MapRun};
use trt_dump::pipeline::align::align;
use trt_dump::pipeline::assemble::assemble;
use trt_dump::pipeline::{Run, WeightSpec};

fn w(name: &str, dtype: DataType, count: u64) -> WeightSpec {
    WeightSpec {
        name: name.into(),
        dtype,
        count,
    }
}

fn noise(n: usize, seed: u64) -> Vec<u8> {
    let mut s = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    (0..n)
        .map(|_| {
            s ^= s << 13;
            s ^= s >> 7;
            s ^= s << 17;
            (s >> 24) as u8
        })
        .collect()
}

/// Found by the `align` fuzz target: when the last anchor ended exactly at the end of X, its own
/// 32 bytes were never mapped (a 32-byte image mapped nothing at all), so a weight stored there
/// would have been lost to "layout changed".
#[test]
fn align_maps_the_last_anchor_when_it_ends_at_the_image_end() {
    let x: Vec<u8> = (0..32u8).collect();
    let al = align(&x, &x, &[]);
    assert!(al.is_identity(), "{al:?}");
    // Anchors every 4 KiB: one ends exactly at the end of a 4096 + 32 byte image.
    let x = noise(4096 + 32, 7);
    let al = align(&x, &x, &[]);
    assert!(al.is_identity(), "{al:?}");
    assert_eq!(al.map_range(4096, 4128), Some(4096));
    // The same with a weight masked in those last bytes, and Y one byte longer at its start.
    let mut y = vec![0xA5];
    y.extend_from_slice(&x);
    let al = align(&x, &y, &[(4100, 4128)]);
    assert_eq!(al.map_range(4100, 4128), Some(4101), "{al:?}");
}

fn map_with(weights: Vec<WeightSpec>, runs: Vec<MapRun>, engine_len: u64) -> MapFile {
    MapFile {
        header: Header {
            engine_len,
            fingerprint: "0".repeat(16),
            weights,
            missing: vec![],
            volatile: vec![],
            meta: BTreeMap::new(),
        },
        runs,
    }
}

fn kind(r: anyhow::Result<MapFile>) -> Option<ErrorKind> {
    error::find(&r.expect_err("the map must be refused")).map(|e| e.kind)
}

/// `map::expand` materialised every repetition of every run record: a 200-byte map claiming a
/// weight of 2^40 elements and one record repeated 2^40 times (within the old caps) would have made
/// `dump --map` allocate terabytes. Validation now bounds what the records cover by the engine
/// before anything is expanded.
#[test]
fn a_map_whose_runs_expand_to_billions_is_refused_before_expanding() {
    let run = Run {
        weight: 0,
        stored: DataType::Int8,
        offset: 0,
        nibble: 0,
        len: 1,
        index: 0,
        index_stride: 1,
    };
    // Repetitions stepping over the same byte: 2^40 runs over one byte of a 64-byte engine.
    let same_byte = map_with(
        vec![w("huge", DataType::Int8, 1 << 40)],
        vec![MapRun {
            run,
            outer: 1 << 40,
            outer_offset_stride: 0,
            outer_index_stride: 1,
        }],
        64,
    );
    assert_eq!(
        kind(MapFile::from_bytes(&same_byte.to_bytes().unwrap())),
        Some(ErrorKind::BadMap)
    );
    // Distinct bytes, but far more of them than the engine has (the end check only looks at the
    // last repetition, which an engine length claimed as huge would allow).
    let too_many = map_with(
        vec![w("huge", DataType::Int8, 1 << 40)],
        vec![MapRun {
            run,
            outer: 1 << 33,
            outer_offset_stride: 1,
            outer_index_stride: 1,
        }],
        1 << 34,
    );
    let bytes = too_many.to_bytes().unwrap();
    // Valid on its own (its engine would be 16 GiB) ...
    let m = MapFile::from_bytes(&bytes).unwrap();
    // ... but never expanded against an engine of another length.
    let engine = vec![0u8; 4096];
    let e = m.runs_for(&engine).unwrap_err();
    assert_eq!(error::find(&e).map(|e| e.kind), Some(ErrorKind::BadMap));
    assert!(
        format!("{e:#}").contains("17179869184-byte engine"),
        "{e:#}"
    );
    // Empty records would repeat without covering anything.
    let empty = map_with(
        vec![w("x", DataType::Int8, 4)],
        vec![MapRun {
            run: Run { len: 0, ..run },
            outer: 1 << 39,
            outer_offset_stride: 1,
            outer_index_stride: 0,
        }],
        64,
    );
    assert_eq!(
        kind(MapFile::from_bytes(&empty.to_bytes().unwrap())),
        Some(ErrorKind::BadMap)
    );
    // Many records each covering the whole engine: more than 4 times over is corrupt.
    let whole = Run { len: 64, ..run };
    let stacked = map_with(
        vec![w("x", DataType::Int8, 64)],
        (0..5)
            .map(|_| MapRun {
                run: whole,
                outer: 1,
                outer_offset_stride: 0,
                outer_index_stride: 0,
            })
            .collect(),
        64,
    );
    let e = MapFile::from_bytes(&stacked.to_bytes().unwrap()).unwrap_err();
    assert!(format!("{e:#}").contains("more than 4 times over"), "{e:#}");
    // Tied weights at one place (a locate map of two identical tensors) remain fine.
    let tied = map_with(
        vec![w("x", DataType::Int8, 64), w("y", DataType::Int8, 64)],
        vec![
            MapRun {
                run: whole,
                outer: 1,
                outer_offset_stride: 0,
                outer_index_stride: 0,
            },
            MapRun {
                run: Run { weight: 1, ..whole },
                outer: 1,
                outer_offset_stride: 0,
                outer_index_stride: 0,
            },
        ],
        64,
    );
    MapFile::from_bytes(&tied.to_bytes().unwrap()).unwrap();
}

/// `assemble` allocated a weight's full element count before reading it, even when its runs held a
/// handful of elements: a map claiming a 2^40-element weight with one short run (which passes the
/// map's checks: the run is inside the engine and the weight) made it allocate terabytes. A
/// weight with fewer sightings than elements cannot be complete, so it is now counted over the
/// indices actually seen.
#[test]
fn a_weight_claiming_more_elements_than_its_runs_hold_allocates_by_the_runs() {
    let image: Vec<u8> = (0..64u8).collect();
    let weights = [
        w("huge", DataType::Float, 1 << 40),
        w("small", DataType::Int8, 4),
    ];
    let runs = [
        Run {
            weight: 0,
            stored: DataType::Half,
            offset: 0,
            nibble: 0,
            len: 8,
            index: (1 << 40) - 16,
            index_stride: 2,
        },
        Run {
            weight: 1,
            stored: DataType::Int8,
            offset: 40,
            nibble: 0,
            len: 4,
            index: 0,
            index_stride: 1,
        },
        // A second, disagreeing copy of two elements of the huge weight.
        Run {
            weight: 0,
            stored: DataType::Half,
            offset: 20,
            nibble: 0,
            len: 2,
            index: (1 << 40) - 16,
            index_stride: 2,
        },
    ];
    let got = assemble(&weights, &runs, &image).unwrap();
    assert_eq!(
        (got[0].found, got[0].sightings, got[0].values.is_none()),
        (8, 10, true)
    );
    assert_eq!(got[0].disagreements, 2);
    assert_eq!(got[0].first_disagreement, Some((1 << 40) - 16));
    assert_eq!(got[1].values.as_deref(), Some(&image[40..44]));
}
