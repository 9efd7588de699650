//! Choosing the format, refusing to clobber, --force, links, bad targets, and leaving nothing
//! behind on failure. (A full disk at every point of every writer is simulated in
//! src/writer/tests.rs, which can reach the writers' I/O.)

use crate::writer_common;

use std::path::Path;

use trt_dump::dtype::DataType;
use trt_dump::error::{self, ErrorKind};
use trt_dump::writer::{
    self, resolve_format, Format, PlannedTensor, ShapeSource, TensorView, WriterOptions,
};
use writer_common::*;

fn kind(e: &anyhow::Error) -> Option<ErrorKind> {
    error::find(e).map(|e| e.kind)
}

fn small() -> Vec<Sample> {
    vec![
        sample(
            "a",
            DataType::Float,
            &[3],
            false,
            vec![0, 0, 128, 63, 0, 0, 0, 64, 0, 0, 64, 64],
        ),
        sample("b/c", DataType::Int4, &[3], false, vec![0x21, 0x03]),
    ]
}

fn other() -> Vec<Sample> {
    vec![sample("z", DataType::Uint8, &[2], false, vec![7, 9])]
}

fn forced(format: Format) -> WriterOptions {
    WriterOptions {
        force: true,
        ..opts(format)
    }
}

/// A snapshot of a file or folder tree, to show something was left untouched.
fn snapshot(p: &Path) -> Vec<(String, Vec<u8>)> {
    if p.is_dir() {
        let mut v: Vec<_> = std::fs::read_dir(p)
            .unwrap()
            .map(|e| {
                let e = e.unwrap();
                (
                    e.file_name().to_string_lossy().into_owned(),
                    std::fs::read(e.path()).unwrap_or_default(),
                )
            })
            .collect();
        v.sort();
        v
    } else {
        vec![(String::new(), std::fs::read(p).unwrap())]
    }
}

#[test]
fn format_is_chosen_by_flag_then_trailing_slash_then_extension_then_existing_folder() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    assert_eq!(
        resolve_format(&d.join("w.safetensors"), None).unwrap(),
        Format::Safetensors
    );
    assert_eq!(
        resolve_format(&d.join("W.SafeTensors"), None).unwrap(),
        Format::Safetensors
    );
    assert_eq!(resolve_format(&d.join("w.npz"), None).unwrap(), Format::Npz);
    assert_eq!(
        resolve_format(Path::new("out/"), None).unwrap(),
        Format::Npy
    );
    assert_eq!(
        resolve_format(Path::new("x.npz/"), None).unwrap(),
        Format::Npy
    );
    assert_eq!(
        resolve_format(d, None).unwrap(),
        Format::Npy,
        "an existing folder"
    );
    // A --format contradicting the name is refused (never a zip named .safetensors): tests/say_edges.rs.
    assert_eq!(
        resolve_format(&d.join("anything"), Some(Format::Npy)).unwrap(),
        Format::Npy
    );
    assert_eq!(
        resolve_format(&d.join("weights"), None).unwrap(),
        Format::Npy,
        "no extension: a folder"
    );
    for bad in ["w.bin", "w.pt", "w.npy", "w.safetensor"] {
        let e = resolve_format(&d.join(bad), None).unwrap_err();
        assert_eq!(kind(&e), Some(ErrorKind::Usage), "{bad}");
        let hint = error::find(&e).unwrap().hint.clone().unwrap();
        for choice in [".safetensors", ".npz", "/", "--format safetensors|npz|npy"] {
            assert!(hint.contains(choice), "{hint}");
        }
        assert!(format!("{e:#}").contains(bad));
    }
    let e = resolve_format(&d.join("w.npy"), None).unwrap_err();
    assert!(format!("{e:#}").contains("a single .npy file cannot hold many weights"));
}

#[test]
fn compress_is_for_npz_only() {
    let dir = tempfile::tempdir().unwrap();
    for format in [Format::Safetensors, Format::Npy] {
        let o = WriterOptions {
            compress: true,
            ..opts(format)
        };
        let e = write(&output_path(dir.path(), format), &o, &small()).unwrap_err();
        assert_eq!(kind(&e), Some(ErrorKind::Usage));
    }
    assert!(entries(dir.path()).is_empty());
}

#[test]
fn an_existing_output_is_refused_without_force_and_left_untouched() {
    for format in FORMATS {
        let dir = tempfile::tempdir().unwrap();
        let path = output_path(dir.path(), format);
        write(&path, &opts(format), &small()).unwrap();
        let before = snapshot(&path);
        let e = write(&path, &opts(format), &other()).expect_err("refused");
        assert_eq!(kind(&e), Some(ErrorKind::OutputNotWritten), "{format:?}");
        assert_eq!(
            error::exit_code_of(&e),
            ErrorKind::OutputNotWritten.exit_code()
        );
        let msg = format!("{e:#}");
        assert!(
            msg.contains("use --force") && msg.contains(&path.display().to_string()),
            "{msg}"
        );
        assert_eq!(
            snapshot(&path),
            before,
            "{format:?}: existing output changed"
        );
        assert_eq!(entries(dir.path()).len(), 1, "{format:?}: temporaries left");
    }
}

#[test]
fn force_replaces_an_existing_output_completely() {
    for format in FORMATS {
        let dir = tempfile::tempdir().unwrap();
        let path = output_path(dir.path(), format);
        write(&path, &opts(format), &small()).unwrap();
        write(&path, &forced(format), &other()).unwrap();
        check_rust(&path, format, &other(), &metadata());
        assert_eq!(
            entries(dir.path()).len(),
            1,
            "{format:?}: old output or temporaries left"
        );
    }
}

#[test]
fn a_failed_forced_write_keeps_the_old_output() {
    for format in FORMATS {
        let dir = tempfile::tempdir().unwrap();
        let path = output_path(dir.path(), format);
        write(&path, &opts(format), &small()).unwrap();
        let before = snapshot(&path);
        // Planned two tensors, added one: finish must refuse.
        let plan: Vec<PlannedTensor> = small().iter().map(|s| s.plan.clone()).collect();
        let mut sink = writer::open(&path, &forced(format), &plan).unwrap();
        sink.add(&view(&small()[1])).unwrap();
        let e = sink.finish().unwrap_err();
        assert!(
            format!("{e:#}").contains("1 planned weight(s) never added: \"a\""),
            "{e:#}"
        );
        assert_eq!(snapshot(&path), before);
        assert_eq!(entries(dir.path()).len(), 1);
    }
}

#[test]
fn dropping_a_sink_without_finish_leaves_nothing() {
    for format in FORMATS {
        for added in 0..=2 {
            let dir = tempfile::tempdir().unwrap();
            let path = output_path(dir.path(), format);
            let samples = small();
            let plan: Vec<PlannedTensor> = samples.iter().map(|s| s.plan.clone()).collect();
            let mut sink = writer::open(&path, &opts(format), &plan).unwrap();
            for s in &samples[..added] {
                sink.add(&view(s)).unwrap();
            }
            drop(sink);
            assert!(
                entries(dir.path()).is_empty(),
                "{format:?} after {added}: {:?}",
                entries(dir.path())
            );
        }
    }
}

#[test]
fn bad_tensors_are_rejected_and_nothing_is_left() {
    let samples = small();
    let plan: Vec<PlannedTensor> = samples.iter().map(|s| s.plan.clone()).collect();
    for format in FORMATS {
        let dir = tempfile::tempdir().unwrap();
        let path = output_path(dir.path(), format);
        let mut sink = writer::open(&path, &opts(format), &plan).unwrap();
        let good = view(&samples[0]);
        let cases: Vec<(TensorView<'_>, &str)> = vec![
            (
                TensorView {
                    name: "nope",
                    ..good
                },
                "was not planned",
            ),
            (
                TensorView {
                    dtype: DataType::Int32,
                    ..good
                },
                "planned as float32",
            ),
            (
                TensorView {
                    shape: &[1, 3],
                    ..good
                },
                "has shape [1, 3], planned [3]",
            ),
            (
                TensorView {
                    data: &good.data[..8],
                    ..good
                },
                "8 bytes given, 3 elements of float32 need 12",
            ),
        ];
        for (bad, want) in cases {
            let e = sink.add(&bad).unwrap_err();
            assert!(format!("{e:#}").contains(want), "{format:?}: {e:#}");
        }
        sink.add(&good).unwrap();
        let e = sink.add(&good).unwrap_err();
        assert!(format!("{e:#}").contains("added twice"));
        drop(sink);
        assert!(entries(dir.path()).is_empty());
    }
}

#[test]
fn bad_plans_and_bool_bytes_are_rejected() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("w.safetensors");
    let p = |name: &str| PlannedTensor {
        name: name.into(),
        dtype: DataType::Bool,
        shape: vec![2],
        shape_source: ShapeSource::Flat,
    };
    let e = writer::open(&path, &opts(Format::Safetensors), &[p("x"), p("x")])
        .err()
        .unwrap();
    assert!(format!("{e:#}").contains("planned twice"));
    let huge = PlannedTensor {
        shape: vec![u64::MAX, 4],
        ..p("h")
    };
    let e = writer::open(&path, &opts(Format::Safetensors), &[huge])
        .err()
        .unwrap();
    assert!(
        format!("{e:#}").contains("weight \"h\": shape")
            && format!("{e:#}").contains("is too large"),
        "{e:#}"
    );
    let mut o = opts(Format::Safetensors);
    o.metadata.insert("trt_dump.weights".into(), "mine".into());
    assert!(
        format!("{:#}", writer::open(&path, &o, &[p("x")]).err().unwrap()).contains("reserved")
    );
    for format in FORMATS {
        let path = output_path(dir.path(), format);
        let mut sink = writer::open(&path, &opts(format), &[p("x")]).unwrap();
        let e = sink
            .add(&TensorView {
                name: "x",
                dtype: DataType::Bool,
                shape: &[2],
                data: &[1, 2],
            })
            .unwrap_err();
        assert!(
            format!("{e:#}").contains("bool element 1 holds byte 2"),
            "{e:#}"
        );
    }
    assert!(entries(dir.path()).is_empty());
}

#[test]
fn a_folder_is_never_replaced_by_a_file() {
    for format in [Format::Safetensors, Format::Npz] {
        let dir = tempfile::tempdir().unwrap();
        let path = dir
            .path()
            .join(format!("w.{}", writer::format_name(format)));
        std::fs::create_dir(&path).unwrap();
        for o in [opts(format), forced(format)] {
            let e = write(&path, &o, &small()).unwrap_err();
            assert_eq!(kind(&e), Some(ErrorKind::OutputNotWritten));
            assert!(format!("{e:#}").contains("it is a folder"), "{e:#}");
        }
        assert!(path.is_dir() && entries(&path).is_empty());
    }
    // Nor a file by a folder.
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("w");
    std::fs::write(&path, b"keep").unwrap();
    let e = write(&path, &forced(Format::Npy), &small()).unwrap_err();
    assert!(format!("{e:#}").contains("not a folder"), "{e:#}");
    assert_eq!(std::fs::read(&path).unwrap(), b"keep");
}

#[test]
fn npy_writes_into_an_empty_folder_but_force_deletes_only_its_own_output() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("w");
    std::fs::create_dir(&path).unwrap();
    write(&path, &opts(Format::Npy), &small()).unwrap();
    check_rust(&path, Format::Npy, &small(), &metadata());

    // A user's file inside makes it not ours: refused even with --force, nothing touched.
    std::fs::write(path.join("notes.txt"), b"mine").unwrap();
    let before = snapshot(&path);
    let e = write(&path, &forced(Format::Npy), &other()).unwrap_err();
    assert!(
        format!("{e:#}").contains("not a trt-dump .npy output"),
        "{e:#}"
    );
    assert_eq!(snapshot(&path), before);

    // An unrelated folder with an index.json of someone else's: refused too.
    let foreign = dir.path().join("foreign");
    std::fs::create_dir(&foreign).unwrap();
    std::fs::write(foreign.join("index.json"), b"{\"format\": \"other\"}").unwrap();
    std::fs::write(foreign.join("a.npy"), b"x").unwrap();
    let e = write(&foreign, &forced(Format::Npy), &other()).unwrap_err();
    assert_eq!(kind(&e), Some(ErrorKind::OutputNotWritten));
    assert!(
        format!("{e:#}").contains("not a trt-dump .npy output"),
        "{e:#}"
    );
    assert_eq!(entries(&foreign), ["a.npy", "index.json"]);
    assert_eq!(entries(dir.path()), ["foreign", "w"]);
}

#[test]
fn a_missing_parent_folder_is_reported_and_not_created() {
    let dir = tempfile::tempdir().unwrap();
    for format in FORMATS {
        let path = output_path(&dir.path().join("no/such"), format);
        let e = write(&path, &opts(format), &small()).unwrap_err();
        assert_eq!(kind(&e), Some(ErrorKind::OutputNotWritten));
        let msg = format!("{e:#}");
        assert!(
            msg.contains("does not exist") && msg.contains("no/such"),
            "{msg}"
        );
        assert!(error::find(&e)
            .unwrap()
            .hint
            .as_deref()
            .unwrap()
            .contains("mkdir -p"));
    }
    assert!(entries(dir.path()).is_empty());
}

#[test]
fn special_files_are_never_replaced() {
    if !Path::new("/dev/null").exists() {
        eprintln!("SKIPPED: no /dev/null here");
        return;
    }
    for o in [opts(Format::Safetensors), forced(Format::Safetensors)] {
        let e = write(Path::new("/dev/null"), &o, &small()).unwrap_err();
        assert!(format!("{e:#}").contains("not a regular file"), "{e:#}");
    }
}

#[cfg(unix)]
#[test]
fn a_read_only_folder_is_reported() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let ro = dir.path().join("ro");
    std::fs::create_dir(&ro).unwrap();
    std::fs::set_permissions(&ro, std::fs::Permissions::from_mode(0o555)).unwrap();
    // Root (and CAP_DAC_OVERRIDE) writes regardless of permissions: nothing to test then.
    if std::fs::write(ro.join("probe"), b"").is_ok() {
        eprintln!("SKIPPED a_read_only_folder_is_reported: running with privileges that ignore folder permissions (root?)");
        std::fs::set_permissions(&ro, std::fs::Permissions::from_mode(0o755)).unwrap();
        return;
    }
    for format in FORMATS {
        let e = write(&output_path(&ro, format), &opts(format), &small()).unwrap_err();
        assert_eq!(kind(&e), Some(ErrorKind::OutputNotWritten));
        let hint = error::find(&e).unwrap().hint.clone().unwrap();
        assert!(hint.contains("choose a folder you can write to"), "{hint}");
    }
    std::fs::set_permissions(&ro, std::fs::Permissions::from_mode(0o755)).unwrap();
    assert!(entries(&ro).is_empty());
}

#[cfg(unix)]
#[test]
fn links_are_not_written_through_and_force_replaces_the_link_itself() {
    use std::os::unix::fs::symlink;
    for format in FORMATS {
        let dir = tempfile::tempdir().unwrap();
        let elsewhere = dir.path().join("elsewhere");
        std::fs::create_dir(&elsewhere).unwrap();
        // The link points at an existing output of the same kind.
        let real = output_path(&elsewhere, format);
        write(&real, &opts(format), &small()).unwrap();
        let before = snapshot(&real);
        let link = output_path(dir.path(), format);
        symlink(&real, &link).unwrap();

        let e = write(&link, &opts(format), &other()).unwrap_err();
        assert_eq!(kind(&e), Some(ErrorKind::OutputNotWritten));
        assert!(
            format!("{e:#}").contains("symbolic link") && format!("{e:#}").contains("--force"),
            "{e:#}"
        );
        assert!(std::fs::symlink_metadata(&link)
            .unwrap()
            .file_type()
            .is_symlink());

        write(&link, &forced(format), &other()).unwrap();
        assert!(
            !std::fs::symlink_metadata(&link)
                .unwrap()
                .file_type()
                .is_symlink(),
            "{format:?}: link not replaced"
        );
        check_rust(&link, format, &other(), &metadata());
        assert_eq!(
            snapshot(&real),
            before,
            "{format:?}: wrote through the link"
        );
        assert_eq!(
            entries(dir.path()).len(),
            2,
            "{format:?}: {:?}",
            entries(dir.path())
        );
    }
    // A dangling link counts as existing too.
    let dir = tempfile::tempdir().unwrap();
    let link = dir.path().join("w.safetensors");
    symlink(dir.path().join("missing"), &link).unwrap();
    let e = write(&link, &opts(Format::Safetensors), &small()).unwrap_err();
    assert_eq!(kind(&e), Some(ErrorKind::OutputNotWritten));
    assert!(format!("{e:#}").contains("symbolic link"), "{e:#}");
    assert!(!dir.path().join("missing").exists());
}

#[cfg(unix)]
#[test]
fn outputs_get_ordinary_permissions() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    // What any newly created file and folder gets here (0666/0777 less the umask).
    let plain_file = dir.path().join("plain");
    std::fs::write(&plain_file, b"").unwrap();
    let plain_dir = dir.path().join("plain_dir");
    std::fs::create_dir(&plain_dir).unwrap();
    let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    for format in FORMATS {
        let path = output_path(dir.path(), format);
        write(&path, &opts(format), &small()).unwrap();
        let want = if format == Format::Npy {
            mode(&plain_dir)
        } else {
            mode(&plain_file)
        };
        assert_eq!(mode(&path), want, "{format:?}: {:o}", mode(&path));
    }
}

#[test]
fn a_trailing_slash_means_a_folder() {
    let dir = tempfile::tempdir().unwrap();
    let slash = format!("{}/w/", dir.path().display());
    let w = write(
        Path::new(&slash),
        &WriterOptions {
            format: None,
            ..opts(Format::Npy)
        },
        &small(),
    )
    .unwrap();
    assert_eq!(w.format, Format::Npy);
    check_rust(&dir.path().join("w"), Format::Npy, &small(), &metadata());
    let e = write(
        Path::new(&format!("{}/x/", dir.path().display())),
        &opts(Format::Safetensors),
        &small(),
    )
    .unwrap_err();
    assert!(format!("{e:#}").contains("names a folder"), "{e:#}");
    assert_eq!(entries(dir.path()), ["w"]);
}
