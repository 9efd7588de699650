//! Every dtype and hostile names through every writer, read back in Rust and, when available (and
//! always in CI), by the reference Python readers (tests/py/readback.py).

use crate::writer_common;

use trt_dump::dtype::DataType;
use trt_dump::writer::{Format, WriterOptions};
use writer_common::*;

fn round_trip(format: Format, opts: &WriterOptions, samples: &[Sample], python: bool) {
    let dir = tempfile::tempdir().unwrap();
    let path = output_path(dir.path(), format);
    let written = write(&path, opts, samples).unwrap_or_else(|e| panic!("{format:?}: {e:#}"));
    assert_eq!(written.path, path);
    assert_eq!(written.format, format);
    assert_eq!(written.tensors.len(), samples.len());
    for (w, s) in written.tensors.iter().zip(samples) {
        assert_eq!(w.name, s.plan.name);
        assert_eq!(
            w.stored_dtype,
            expected_stored(format, s.plan.dtype, &s.plan.shape)
        );
    }
    // Only the output itself is left in the folder: no temporaries.
    assert_eq!(
        entries(dir.path()),
        [path.file_name().unwrap().to_string_lossy()]
    );
    check_rust(&path, format, samples, &opts.metadata);
    if python {
        check_python(&path, format, samples, &opts.metadata);
    }
}

#[test]
fn every_dtype_round_trips_through_every_writer() {
    let py = python_available();
    for format in FORMATS {
        round_trip(format, &opts(format), &every_dtype(), py);
    }
}

#[test]
fn compressed_npz_round_trips_and_is_smaller() {
    let py = python_available();
    let mut samples = every_dtype();
    samples.push(sample(
        "zeros",
        DataType::Float,
        &[64, 64],
        false,
        vec![0; 64 * 64 * 4],
    ));
    let mut o = opts(Format::Npz);
    o.compress = true;
    round_trip(Format::Npz, &o, &samples, py);

    let dir = tempfile::tempdir().unwrap();
    let stored = write(&dir.path().join("s.npz"), &opts(Format::Npz), &samples)
        .unwrap()
        .bytes;
    let deflated = write(&dir.path().join("d.npz"), &o, &samples)
        .unwrap()
        .bytes;
    assert!(
        deflated < stored / 2,
        "deflated {deflated} vs stored {stored}"
    );
}

/// Names a hostile or careless engine could carry.
fn hostile_names() -> Vec<String> {
    let mut v: Vec<String> = [
        "",
        "/",
        "..",
        ".",
        "../escape",
        "../../etc/passwd",
        "/abs/path",
        "a/b/c",
        "a\\b",
        "C:\\x",
        "a\0b",
        "line\nbreak",
        "tab\tname",
        "ünïcødé/名前",
        "🙂",
        "\u{202e}gnp.exe",
        "CON",
        "con.weight",
        "nul",
        "COM1.bias",
        "Weight",
        "weight",
        "WEIGHT",
        "__metadata__",
        "__metadata__~1",
        "__trt_dump_index__",
        "__TRT_DUMP_INDEX__",
        "index",
        "index.json",
        ".hidden",
        "~",
        "a~b",
        "a:b*c?d\"e<f>g|h",
        "trailing.",
        "trailing ",
        " leading",
        "onnx::MatMul_1234",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    v.push("x".repeat(300));
    v.push(format!("{}/{}", "y".repeat(250), "z".repeat(250)));
    v.push("é".repeat(150));
    v
}

fn hostile_samples() -> Vec<Sample> {
    hostile_names()
        .into_iter()
        .enumerate()
        .map(|(i, n)| {
            let dtypes = [
                DataType::Float,
                DataType::Int4,
                DataType::Bf16,
                DataType::Fp4,
                DataType::Uint8,
            ];
            let dtype = dtypes[i % dtypes.len()];
            let count = (i % 4) as u64; // includes zero-element tensors
            let bytes = dtype.bytes_for(count).unwrap() as usize;
            sample(
                &n,
                dtype,
                &[count],
                false,
                (0..bytes).map(|b| (b * 31 + i) as u8).collect(),
            )
        })
        .collect()
}

#[test]
fn hostile_names_never_escape_or_collide_and_map_back_exactly() {
    let py = python_available();
    let samples = hostile_samples();
    for format in FORMATS {
        round_trip(format, &opts(format), &samples, py);
    }
    // The npy folder holds only plain files directly inside it.
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("w");
    write(&path, &opts(Format::Npy), &samples).unwrap();
    for e in std::fs::read_dir(&path).unwrap() {
        let e = e.unwrap();
        assert!(e.file_type().unwrap().is_file(), "{:?}", e.path());
    }
    assert_eq!(entries(&path).len(), samples.len() + 1);
    assert_eq!(entries(dir.path()), ["w"]);
}

#[test]
fn safetensors_keeps_names_verbatim_except_the_metadata_key() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("w.safetensors");
    let samples = hostile_samples();
    let written = write(&path, &opts(Format::Safetensors), &samples).unwrap();
    for w in &written.tensors {
        match w.name.as_str() {
            "__metadata__" => assert_eq!(
                w.stored_as, "__metadata__~2",
                "~1 is taken by another weight"
            ),
            n => assert_eq!(w.stored_as, n),
        }
    }
}

#[test]
fn ten_thousand_tensors() {
    let py = python_available();
    let samples: Vec<Sample> = (0..10_000)
        .map(|i| {
            // Case-colliding and path-like names among them.
            let name = match i % 4 {
                0 => format!("layers.{i}.weight"),
                1 => format!("Layers.{}.weight", i - 1),
                2 => format!("/model/layers.{i}/MatMul"),
                _ => format!("layer_{i}"),
            };
            let dtype = if i % 3 == 0 {
                DataType::Half
            } else {
                DataType::Int8
            };
            let count = (i % 5) as u64;
            let bytes = dtype.bytes_for(count).unwrap() as usize;
            sample(
                &name,
                dtype,
                &[count],
                false,
                (0..bytes).map(|b| (b + i) as u8).collect(),
            )
        })
        .collect();
    for format in FORMATS {
        round_trip(format, &opts(format), &samples, py);
    }
}

#[test]
fn an_empty_plan_gives_a_valid_empty_output() {
    let py = python_available();
    for format in FORMATS {
        round_trip(format, &opts(format), &[], py);
    }
}

#[test]
fn outputs_are_deterministic_whatever_the_add_order() {
    let samples = every_dtype();
    let dir = tempfile::tempdir().unwrap();
    for format in FORMATS {
        let a = output_path(&dir.path().join("a"), format);
        let b = output_path(&dir.path().join("b"), format);
        std::fs::create_dir_all(a.parent().unwrap()).unwrap();
        std::fs::create_dir_all(b.parent().unwrap()).unwrap();
        write(&a, &opts(format), &samples).unwrap();
        // Added in plan order this time (`write` adds in reverse).
        let plan: Vec<_> = samples.iter().map(|s| s.plan.clone()).collect();
        let mut sink = trt_dump::writer::open(&b, &opts(format), &plan).unwrap();
        for s in &samples {
            sink.add(&view(s)).unwrap();
        }
        sink.finish().unwrap();
        match format {
            // Zip members follow the add order, so only the single-file safetensors and each
            // .npy file are byte-identical; npz is checked member by member.
            Format::Safetensors => {
                assert_eq!(std::fs::read(&a).unwrap(), std::fs::read(&b).unwrap())
            }
            Format::Npy => {
                assert_eq!(entries(&a), entries(&b));
                for f in entries(&a) {
                    assert_eq!(
                        std::fs::read(a.join(&f)).unwrap(),
                        std::fs::read(b.join(&f)).unwrap(),
                        "{f}"
                    );
                }
            }
            Format::Npz => {
                let mut za = zip::ZipArchive::new(std::fs::File::open(&a).unwrap()).unwrap();
                let mut zb = zip::ZipArchive::new(std::fs::File::open(&b).unwrap()).unwrap();
                let mut names: Vec<String> = za.file_names().map(String::from).collect();
                names.sort();
                let mut names_b: Vec<String> = zb.file_names().map(String::from).collect();
                names_b.sort();
                assert_eq!(names, names_b);
                for n in names {
                    use std::io::Read;
                    let (mut x, mut y) = (Vec::new(), Vec::new());
                    za.by_name(&n).unwrap().read_to_end(&mut x).unwrap();
                    zb.by_name(&n).unwrap().read_to_end(&mut y).unwrap();
                    assert_eq!(x, y, "{n}");
                }
            }
        }
    }
    // And writing the same thing twice in the same order gives the same npz bytes (fixed member
    // timestamps).
    let c = dir.path().join("c.npz");
    let d = dir.path().join("d.npz");
    write(&c, &opts(Format::Npz), &samples).unwrap();
    write(&d, &opts(Format::Npz), &samples).unwrap();
    assert_eq!(std::fs::read(&c).unwrap(), std::fs::read(&d).unwrap());
}

#[test]
fn safetensors_layout_is_the_crates_and_aligned() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("w.safetensors");
    let samples = every_dtype();
    write(&path, &opts(Format::Safetensors), &samples).unwrap();
    let bytes = std::fs::read(&path).unwrap();
    let (n, header) = safetensors::SafeTensors::read_metadata(&bytes).unwrap();
    assert_eq!(n % 8, 0, "header padded to 8 bytes");
    assert_eq!(
        bytes.len(),
        8 + n + header.data_len(),
        "no bytes beyond the last tensor"
    );
    let tensors = header.tensors();
    let mut by_offset: Vec<(&String, &&safetensors::tensor::TensorInfo)> = tensors.iter().collect();
    by_offset.sort_by_key(|(_, i)| i.data_offsets);
    // The crate's own order: widest dtype first, then name.
    for w in by_offset.windows(2) {
        let ((na, a), (nb, b)) = (w[0], w[1]);
        assert!(
            a.dtype > b.dtype || (a.dtype == b.dtype && na < nb),
            "{na} before {nb}"
        );
    }
    for (name, info) in &by_offset {
        let start = 8 + n + info.data_offsets.0;
        let align = info.dtype.bitsize().div_ceil(8);
        assert_eq!(start % align, 0, "{name} misaligned");
    }
    // The header's first key is __metadata__, and the file-level metadata is sorted (stable bytes).
    let header_text = std::str::from_utf8(&bytes[8..8 + n]).unwrap();
    assert!(
        header_text.starts_with("{\"__metadata__\":{\"format\":\"pt\","),
        "{}",
        &header_text[..80]
    );
}

type Mutation = Box<dyn Fn(&mut Vec<Sample>)>;

/// The Python checker must fail on a wrong value, dtype, name or shape, or its passes mean nothing.
#[test]
fn python_readback_detects_mismatches() {
    if !python_available() {
        return;
    }
    for format in FORMATS {
        let dir = tempfile::tempdir().unwrap();
        let path = output_path(dir.path(), format);
        let samples = every_dtype();
        write(&path, &opts(format), &samples).unwrap();
        let i = samples.iter().position(|s| s.plan.name == "fp8").unwrap();
        let mutations: Vec<(&str, Mutation)> = vec![
            (
                "values differ",
                Box::new(move |v: &mut Vec<Sample>| v[i].data[77] ^= 1),
            ),
            (
                "values differ",
                Box::new(|v: &mut Vec<Sample>| {
                    // -0.0 for 0.0: only the sign of zero differs.
                    let f = v.iter_mut().find(|s| s.plan.name == "float").unwrap();
                    f.data[4..8].copy_from_slice(&0.0f32.to_le_bytes());
                }),
            ),
            (
                "shape",
                Box::new(move |v: &mut Vec<Sample>| v[i].plan.shape = vec![256]),
            ),
            (
                "",
                Box::new(move |v: &mut Vec<Sample>| v[i].plan.name = "fp8 renamed".into()),
            ),
            (
                "",
                Box::new(move |v: &mut Vec<Sample>| v[i].plan.dtype = DataType::Uint8),
            ),
        ];
        for (want, mutate) in mutations {
            let mut wrong = samples.clone();
            mutate(&mut wrong);
            let (ok, stdout, stderr) = run_python(&path, format, &wrong, &metadata());
            assert!(
                !ok,
                "{format:?}: readback.py accepted a wrong expectation ({want}): {stdout}"
            );
            assert!(stderr.contains(want), "{format:?}: {stderr}");
        }
        let mut meta = metadata();
        meta.insert("source.sha256".into(), "other".into());
        assert!(
            !run_python(&path, format, &samples, &meta).0,
            "{format:?}: wrong metadata accepted"
        );
    }
}
