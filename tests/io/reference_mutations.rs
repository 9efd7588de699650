//! Mutated real files: truncations, flipped bytes and overwritten words at random places in the
//! fixtures' ONNX and safetensors files and in an .npz. Each reader must answer every one with
//! tensors or an `InputUnreadable` error: never a panic, a hang or another kind of error.

use std::path::Path;

use trt_dump::error::{self, ErrorKind};
use trt_dump::reference;

fn xorshift(s: &mut u64) -> u64 {
    *s ^= *s << 13;
    *s ^= *s >> 7;
    *s ^= *s << 17;
    *s
}

fn mutate(orig: &[u8], s: &mut u64) -> Vec<u8> {
    let mut b = orig.to_vec();
    match xorshift(s) % 4 {
        0 => b.truncate((xorshift(s) % orig.len() as u64) as usize),
        1 => {
            for _ in 0..1 + xorshift(s) % 4 {
                let i = (xorshift(s) % b.len() as u64) as usize;
                b[i] ^= 1 << (xorshift(s) % 8);
            }
        }
        2 => {
            // Early bytes hold the headers and lengths: hit them more often.
            let i = (xorshift(s) % (b.len().min(2048) as u64)) as usize;
            let w = xorshift(s).to_le_bytes();
            let n = w.len().min(b.len() - i);
            b[i..i + n].copy_from_slice(&w[..n]);
        }
        _ => {
            let i = (xorshift(s) % (b.len().min(2048) as u64)) as usize;
            b[i] = [0x00, 0x7f, 0x80, 0xff][(xorshift(s) % 4) as usize];
        }
    }
    b
}

fn hammer(orig: &[u8], ext: &str, rounds: usize, seed: u64) {
    let d = tempfile::tempdir().unwrap();
    let p = d.path().join(format!("m.{ext}"));
    let mut s = seed;
    let (mut ok, mut bad) = (0, 0);
    for round in 0..rounds {
        let m = mutate(orig, &mut s);
        std::fs::write(&p, &m).unwrap();
        for r in [
            reference::load_all(&p).map(|_| ()),
            reference::load_shapes(&p).map(|_| ()),
        ] {
            match r {
                Ok(()) => ok += 1,
                Err(e) => {
                    bad += 1;
                    assert_eq!(
                        error::find(&e).map(|x| x.kind),
                        Some(ErrorKind::InputUnreadable),
                        "round {round}: {e:#}"
                    );
                }
            }
        }
    }
    assert!(
        bad > 0 && ok > 0,
        "{ext}: {ok} read, {bad} refused: mutations too weak or too strong"
    );
}

/// The real fixtures: CI checks the repository out with `shared/` beside it.
const DIR: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../shared/fixtures/trt-rtx-1.7.1-h100/tiny_mlp"
);

#[test]
fn mutated_onnx() {
    hammer(
        &std::fs::read(Path::new(DIR).join("model.onnx")).unwrap(),
        "onnx",
        400,
        0x0123_4567_89ab_cdef,
    );
}

#[test]
fn mutated_safetensors() {
    hammer(
        &std::fs::read(Path::new(DIR).join("weights.safetensors")).unwrap(),
        "safetensors",
        400,
        0xfeed_beef_1234_5678,
    );
}

#[test]
fn mutated_npz() {
    use std::io::Write;
    // An .npz of the fixture's tensors, stored and deflated.
    let tensors = reference::load(&Path::new(DIR).join("weights.safetensors")).unwrap();
    for (compressed, seed) in [(false, 7u64), (true, 11)] {
        let mut buf = std::io::Cursor::new(Vec::new());
        {
            let mut z = zip::ZipWriter::new(&mut buf);
            let method = if compressed {
                zip::CompressionMethod::Deflated
            } else {
                zip::CompressionMethod::Stored
            };
            let opts = zip::write::SimpleFileOptions::default().compression_method(method);
            for t in &tensors {
                let shape: Vec<String> = t.shape.iter().map(|d| d.to_string()).collect();
                let dict = format!(
                    "{{'descr': '<f4', 'fortran_order': False, 'shape': ({},), }}\n",
                    shape.join(", ")
                );
                z.start_file(format!("{}.npy", t.name), opts).unwrap();
                z.write_all(b"\x93NUMPY\x01\x00").unwrap();
                z.write_all(&(dict.len() as u16).to_le_bytes()).unwrap();
                z.write_all(dict.as_bytes()).unwrap();
                z.write_all(&t.data).unwrap();
            }
            z.finish().unwrap();
        }
        let bytes = buf.into_inner();
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("w.npz");
        std::fs::write(&p, &bytes).unwrap();
        assert_eq!(reference::load(&p).unwrap(), tensors);
        hammer(&bytes, "npz", 300, seed);
    }
}
