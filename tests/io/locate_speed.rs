//! How long `locate` takes on a large engine. Ignored by default (it allocates ~1 GiB); run with
//! `cargo test --release --test io locate_speed:: -- --ignored --nocapture`.

use std::time::Instant;

use trt_dump::dtype::DataType;
use trt_dump::locate::{locate, LocateOptions};
use trt_dump::reference::RefTensor;

fn xorshift(state: &mut u64) -> u64 {
    *state ^= *state << 13;
    *state ^= *state >> 7;
    *state ^= *state << 17;
    *state
}

#[test]
#[ignore]
fn one_gib_engine_with_two_thousand_tensors() {
    let len = 1usize << 30;
    let mut s = 0x1234_5678_9abc_def1u64;
    let mut engine = vec![0u8; len];
    for c in engine.chunks_exact_mut(8) {
        c.copy_from_slice(&xorshift(&mut s).to_le_bytes());
    }
    // Zero stretches, as real engines have.
    for k in 0..64 {
        let at = k * (len / 64);
        engine[at..at + 65536].fill(0);
    }
    let mut refs = Vec::new();
    for i in 0..2000u64 {
        let (r, c) = (64 + i % 64, 128);
        let data: Vec<u8> = (0..r * c)
            .flat_map(|_| ((xorshift(&mut s) % 2000) as f32 / 1000.0 - 1.0).to_le_bytes())
            .collect();
        // One slot per tensor (no overlaps), at an odd offset inside it: alignment is not required.
        let slot = len / 2000;
        let at = i as usize * slot
            + 65536
            + 1
            + (xorshift(&mut s) as usize) % (slot - 65536 - data.len() - 1);
        if i % 2 == 0 {
            engine[at..at + data.len()].copy_from_slice(&data);
        }
        refs.push(RefTensor {
            name: format!("w{i}"),
            dtype: DataType::Float,
            shape: vec![r, c],
            data,
        });
    }
    let t = Instant::now();
    let one = locate(&engine, &refs[..1], &LocateOptions::default());
    eprintln!("1 GiB, one tensor: {:.2?}", t.elapsed());
    assert_eq!(one.found.len(), 1);
    let t = Instant::now();
    let r = locate(&engine, &refs, &LocateOptions::default());
    let dt = t.elapsed();
    eprintln!(
        "1 GiB, {} tensors x 6 forms: {:.2?} ({:.2} GiB/s), {} found, {} missing, {} threads available",
        refs.len(),
        dt,
        1.0 / dt.as_secs_f64(),
        r.found.len(),
        r.missing.len(),
        std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1)
    );
    assert_eq!(r.found.len(), 1000);
    assert!(r
        .found
        .iter()
        .all(|f| f.index % 2 == 0 && f.placements.len() == 1));
}
