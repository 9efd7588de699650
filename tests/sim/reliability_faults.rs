//! Faults, end to end: the real trt-dump binary against the stand-in TensorRT library
//! (tests/standin, backed by the simulator) on engines written by `sim-plan`. Each failure must
//! end the run with its own exit status and a reason, and leave nothing behind: no output, no
//! `.trt-dump-*` temporary beside it, no scratch folder in TMPDIR.
//!
//! Skipped (loudly) where the stand-in cannot be built; a failure in CI.

use crate::reliability_common as common;
use crate::sim;

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;

use common::{code, sim_plan, stderr, temporaries, trt_dump, Dirs};
use trt_dump::error::ErrorKind;

// ---- truncated and corrupted engines --------------------------------------------------------------

/// Files too short for a plan header, or with another tag, are refused by trt-dump itself: exit 4,
/// before any TensorRT library is looked at (the --trt-lib given does not even exist, which would
/// be exit 7 had it been loaded).
#[test]
fn truncated_or_foreign_engines_exit_4_before_tensorrt_is_loaded() {
    let Some((_, tool)) = common::standin() else {
        return;
    };
    let d = Dirs::new();
    let good = d.engines().join("tiny.engine");
    sim_plan(&tool, "tiny_mlp", &good, &[]);
    let bytes = std::fs::read(&good).unwrap();
    let mut cases: Vec<(String, Vec<u8>)> = [0usize, 1, 3, 4, 8, 16, 27]
        .iter()
        .map(|&n| (format!("first {n} bytes"), bytes[..n].to_vec()))
        .collect();
    let mut foreign = bytes.clone();
    foreign[..4].copy_from_slice(b"PK\x03\x04");
    cases.push(("a zip tag".into(), foreign));
    let mut onnx = bytes.clone();
    onnx[0] = 0x08;
    cases.push(("an ONNX-like first byte".into(), onnx));
    for (what, b) in cases {
        let p = d.engines().join("bad.engine");
        std::fs::write(&p, &b).unwrap();
        for cmd in [&["dump", "-o"][..], &["map", "-o"][..]] {
            let out = d.out().join("w.safetensors");
            let o = Command::new(common::exe())
                .args(["--trt-lib", "/nonexistent/libnvinfer.so.11"])
                .arg(cmd[0])
                .arg(&p)
                .arg(cmd[1])
                .arg(&out)
                .env("TMPDIR", d.tmp())
                .output()
                .unwrap();
            assert_eq!(
                o.status.code(),
                code(ErrorKind::NotAnEngine),
                "{what} ({}): {}",
                cmd[0],
                stderr(&o)
            );
            assert!(
                !stderr(&o).contains("TensorRT library"),
                "{what}: {}",
                stderr(&o)
            );
            d.assert_nothing_left(&[], &what);
        }
    }
}

/// A plan whose header is intact but whose body is truncated or damaged reaches TensorRT, which
/// refuses it: TensorRT's own words (a serialization failure, not a version) make it exit 4, with
/// or without a GPU (the stand-in runs without one; issue 11 item 3), and the reason is shown.
#[test]
fn damaged_engines_are_refused_by_tensorrt_with_its_reason() {
    let Some((lib, tool)) = common::standin() else {
        return;
    };
    let d = Dirs::new();
    let good = d.engines().join("tiny.engine");
    sim_plan(&tool, "tiny_mlp", &good, &[]);
    let bytes = std::fs::read(&good).unwrap();
    let mut body = bytes.clone();
    body[70..73].copy_from_slice(&[0xFF, 0xFF, 0xFF]);
    let cases = [
        ("truncated to 40 bytes", bytes[..40].to_vec(), "not a plan"),
        (
            "truncated by half",
            bytes[..bytes.len() / 2].to_vec(),
            "plan length field",
        ),
        ("damaged description", body, "plan description"),
    ];
    for (what, b, reason) in cases {
        let p = d.engines().join("bad.engine");
        std::fs::write(&p, &b).unwrap();
        let o = trt_dump(&lib, &d.tmp())
            .arg("dump")
            .arg(&p)
            .arg("-o")
            .arg(d.out().join("w.safetensors"))
            .output()
            .unwrap();
        let e = stderr(&o);
        let c = o.status.code();
        assert_eq!(c, code(ErrorKind::NotAnEngine), "{what}: {e}");
        assert!(!e.contains("GPU: "), "{what}: {e}");
        assert!(
            e.contains("could not deserialize") && e.contains(reason),
            "{what}: {e}"
        );
        d.assert_nothing_left(&[], what);
    }
}

// ---- TensorRT refusing midway ---------------------------------------------------------------------

/// setNamedWeights rejecting a weight, refitCudaEngine failing on a later refit, and serialize or
/// deserialize failing midway: exit 10 (TensorRT refused), the call and TensorRT's reason in the
/// message, nothing written (not even the --save-map map).
#[test]
fn tensorrt_refusing_midway_stops_cleanly_with_exit_10_and_nothing_written() {
    let Some((lib, tool)) = common::standin() else {
        return;
    };
    let d = Dirs::new();
    let cases: [(&str, &[&str], &str); 3] = [
        (
            "setNamedWeights rejects a weight",
            &["--reject-weight", "3"],
            "setNamedWeights(`net.2.bias`)",
        ),
        (
            "the 2nd refit fails",
            &["--fail-refit", "2"],
            "injected failure on refit #2",
        ),
        (
            "the 4th refit (the proof) fails",
            &["--fail-refit", "4"],
            "round-trip proof",
        ),
    ];
    for (what, args, reason) in cases {
        let p = d.engines().join("f.engine");
        sim_plan(&tool, "tiny_mlp", &p, args);
        for fmt in ["w.safetensors", "w.npz", "w_npy/"] {
            let o = trt_dump(&lib, &d.tmp())
                .arg("dump")
                .arg(&p)
                .arg("-o")
                .arg(d.out().join(fmt))
                .arg("--save-map")
                .arg(d.out().join("w.trtmap"))
                .output()
                .unwrap();
            let e = stderr(&o);
            assert_eq!(
                o.status.code(),
                code(ErrorKind::TrtRefused),
                "{what} -> {fmt}: {e}"
            );
            assert!(
                e.contains("TensorRT refused") && e.contains(reason),
                "{what}: {e}"
            );
            d.assert_nothing_left(&[], what);
        }
        let o = trt_dump(&lib, &d.tmp())
            .arg("map")
            .arg(&p)
            .arg("-o")
            .arg(d.out().join("m.trtmap"))
            .output()
            .unwrap();
        assert_eq!(
            o.status.code(),
            code(ErrorKind::TrtRefused),
            "{what} (map): {}",
            stderr(&o)
        );
        d.assert_nothing_left(&[], what);
    }
}

/// The same through the simulator in-process, for the faults sim-plan has no option for:
/// deserialization and serialization failing midway.
#[test]
fn deserialize_or_serialize_failing_midway_is_a_refusal_with_the_stage() {
    use sim::{Engine as _, Faults, SimEngine};
    use trt_dump::pipeline::extract::{self, InMemory, Options};
    let spec = sim::models::tiny_mlp(sim::models::Storage::Fp32);
    let plan = spec.build().unwrap();
    for (faults, stage) in [
        (
            Faults {
                fail_instance: Some(3),
                ..Faults::default()
            },
            "marker pass 1",
        ),
        (
            Faults {
                fail_serialize: Some(2),
                ..Faults::default()
            },
            "zero baseline",
        ),
        (
            Faults {
                fail_serialize: Some(5),
                ..Faults::default()
            },
            "round-trip proof",
        ),
    ] {
        let engine = SimEngine::new(plan.file.clone())
            .unwrap()
            .with_faults(faults.clone());
        let _ = engine.weights();
        struct Quiet;
        impl extract::Observer for Quiet {}
        let e = extract::extract(
            &engine,
            &plan.file,
            &Options::default(),
            &mut InMemory,
            &mut Quiet,
        )
        .err()
        .unwrap_or_else(|| panic!("{faults:?} must fail the extraction"));
        assert!(format!("{e:#}").contains(stage), "{faults:?}: {e:#}");
    }
}

// ---- GPU out of memory ----------------------------------------------------------------------------

/// The decision the binding makes before TensorRT is asked (`Session::open`): an engine larger than
/// the GPU's free memory is refused with exit 9. What cannot be tested here: the GPU's free memory
/// itself (no GPU on CI machines), and TensorRT running out of memory later for its workspace.
#[test]
fn an_engine_larger_than_free_gpu_memory_is_refused_with_exit_9() {
    use trt_dump::trt::gpu::{engine_fits, out_of_memory};
    assert!(engine_fits(0, 0));
    assert!(engine_fits(10 << 30, 10 << 30));
    assert!(!engine_fits((10 << 30) + 1, 10 << 30));
    assert!(!engine_fits(u64::MAX, u64::MAX - 1));
    assert!(!engine_fits(1, 0));
    let e = out_of_memory(
        Path::new("big.engine"),
        5 << 30,
        1,
        "NVIDIA H100",
        4 << 30,
        80 << 30,
    );
    assert_eq!(e.kind.exit_code(), 9);
    assert_eq!(
        e.message,
        "engine `big.engine` is 5.0 GiB but GPU 1 (NVIDIA H100) has only 4.0 GiB free of 80.0 GiB"
    );
    assert!(e.hint.unwrap().contains("--device N"));
}

// ---- Ctrl-C ---------------------------------------------------------------------------------------

/// Spawns `trt-dump -v dump` and returns it with a channel of its stderr lines.
fn spawn_verbose(
    lib: &Path,
    d: &Dirs,
    engine: &Path,
    out: &Path,
    extra: &[&str],
) -> (Child, mpsc::Receiver<String>) {
    let mut child = trt_dump(lib, &d.tmp())
        .arg("-v")
        .arg("dump")
        .arg(engine)
        .arg("-o")
        .arg(out)
        .args(extra)
        .stderr(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    let (tx, rx) = mpsc::channel();
    let err = child.stderr.take().unwrap();
    std::thread::spawn(move || {
        for line in BufReader::new(err).lines() {
            let Ok(line) = line else { break };
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    (child, rx)
}

/// Collects lines until one contains `what` (or the stream ends); returns all lines read.
fn until(rx: &mpsc::Receiver<String>, what: &str, seen: &mut Vec<String>) -> bool {
    while let Ok(l) = rx.recv() {
        let hit = l.contains(what);
        seen.push(l);
        if hit {
            return true;
        }
    }
    false
}

fn sigint(child: &Child) {
    let st = Command::new("kill")
        .arg("-INT")
        .arg(child.id().to_string())
        .status()
        .unwrap();
    assert!(st.success(), "kill -INT");
}

/// Ctrl-C during extraction (each serialization of this engine takes a while): the run stops at the
/// next safe point with exit 130, and no output, temporary or scratch folder is left, also with
/// serializations spilled to disk (--work-dir).
#[test]
fn ctrl_c_mid_run_exits_130_and_leaves_nothing() {
    let Some((lib, tool)) = common::standin() else {
        return;
    };
    let d = Dirs::new();
    let engine = d.engines().join("slow.engine");
    sim_plan(&tool, "tiny_mlp", &engine, &["--slow", "400"]);
    let work = d.root.path().join("work");
    std::fs::create_dir(&work).unwrap();
    for (fmt, extra) in [
        ("w.safetensors", vec![]),
        ("w_npy/", vec!["--work-dir", work.to_str().unwrap()]),
    ] {
        let (mut child, rx) = spawn_verbose(&lib, &d, &engine, &d.out().join(fmt), &extra);
        let mut seen = Vec::new();
        assert!(
            until(&rx, "marker pass 1/", &mut seen),
            "never reached the marker passes: {seen:#?}"
        );
        sigint(&child);
        let st = child.wait().unwrap();
        seen.extend(rx.iter());
        assert_eq!(st.code(), Some(130), "{seen:#?}");
        assert!(
            seen.iter()
                .any(|l| l.contains("interrupted: stopping at the next safe point")),
            "{seen:#?}"
        );
        assert!(
            !seen.iter().any(|l| l.contains("round-trip proof")),
            "the run went on: {seen:#?}"
        );
        assert!(
            common::listing(&work).is_empty(),
            "scratch left: {:?}",
            common::listing(&work)
        );
        let left: Vec<String> = common::listing(&d.out());
        assert!(left.is_empty(), "{fmt}: left {left:?}");
        assert!(
            temporaries(&d.tmp()).is_empty(),
            "{:?}",
            temporaries(&d.tmp())
        );
    }
}

/// A second Ctrl-C exits at once (exit 130, without waiting for the serialization under way) and
/// still removes the temporaries: the scratch folder of --work-dir here (exit runs no destructors,
/// so this is the cleanup registry's job).
#[test]
fn a_second_ctrl_c_exits_at_once_and_still_removes_temporaries() {
    let Some((lib, tool)) = common::standin() else {
        return;
    };
    let d = Dirs::new();
    let engine = d.engines().join("slower.engine");
    // Each serialization sleeps 30 s: a run that waited for it would print the error line below.
    sim_plan(&tool, "tiny_mlp", &engine, &["--slow", "30000"]);
    let work = d.root.path().join("work");
    std::fs::create_dir(&work).unwrap();
    let (mut child, rx) = spawn_verbose(
        &lib,
        &d,
        &engine,
        &d.out().join("w.safetensors"),
        &["--work-dir", work.to_str().unwrap()],
    );
    let mut seen = Vec::new();
    // The scratch folder exists from here on.
    assert!(
        until(&rx, "keeping serializations in", &mut seen),
        "{seen:#?}"
    );
    // The stage line comes after the last safe point before the first serialization (30 s): a
    // Ctrl-C sent before it could stop the run at once (seen on a loaded CI machine), and the
    // second one would race the exit.
    assert!(
        until(&rx, "serializing the untouched engine", &mut seen),
        "{seen:#?}"
    );
    assert_eq!(
        common::listing(&work).len(),
        1,
        "the scratch folder: {:?}",
        common::listing(&work)
    );
    sigint(&child);
    assert!(
        until(
            &rx,
            "interrupted: stopping at the next safe point",
            &mut seen
        ),
        "{seen:#?}"
    );
    sigint(&child);
    let st = child.wait().unwrap();
    seen.extend(rx.iter());
    assert_eq!(st.code(), Some(130), "{seen:#?}");
    assert!(
        seen.iter()
            .any(|l| l.contains("interrupted again: exiting now")),
        "{seen:#?}"
    );
    // The first Ctrl-C alone ends with this line, after the serialization: it never came.
    assert!(
        !seen.iter().any(|l| l.starts_with("trt-dump: error:")),
        "it waited for the serialization: {seen:#?}"
    );
    assert!(
        common::listing(&work).is_empty(),
        "scratch left after exit: {:?}",
        common::listing(&work)
    );
    d.assert_nothing_left(&[], "second Ctrl-C");
}

// ---- full disks, read-only folders, odd output paths ---------------------------------------------

/// A full disk, simulated with a file-size limit on the child (`ulimit -f`): writes past it fail
/// with EFBIG, as they fail with ENOSPC on a full disk. SIGXFSZ is ignored in the child (a shell
/// `trap ""` is inherited through exec) so the write fails instead of the signal killing it; a
/// real full disk sends no signal. Exit 13, nothing left, for each format.
#[test]
fn a_full_disk_exits_13_and_leaves_nothing() {
    let Some((lib, tool)) = common::standin() else {
        return;
    };
    let d = Dirs::new();
    let engine = d.engines().join("tiny.engine");
    sim_plan(&tool, "tiny_mlp", &engine, &[]);
    for fmt in ["w.safetensors", "w.npz", "w_npy/", "m.trtmap"] {
        let out = d.out().join(fmt);
        let sub = if fmt.ends_with(".trtmap") {
            "map"
        } else {
            "dump"
        };
        // One block (512 bytes or 1 KiB, by shell): less than any of the outputs.
        let o = Command::new("sh")
            .arg("-c")
            .arg(r#"trap "" XFSZ; ulimit -f 1; exec "$@""#)
            .arg("sh")
            .arg(common::exe())
            .arg("--trt-lib")
            .arg(&lib)
            .arg(sub)
            .arg(&engine)
            .arg("-o")
            .arg(&out)
            .env("TMPDIR", d.tmp())
            .output()
            .unwrap();
        let e = stderr(&o);
        assert_eq!(
            o.status.code(),
            code(ErrorKind::OutputNotWritten),
            "{fmt}: {e}"
        );
        assert!(
            e.contains("File too large") && e.contains("nothing was left behind"),
            "{fmt}: {e}"
        );
        d.assert_nothing_left(&[], fmt);
    }
}

/// The scratch disk filling up (serializations spilled to --work-dir): the run stops with the
/// reason and removes the scratch folder. No exit status names this case (it is neither the
/// output nor an input), so it is the "any other failure" status, 15.
#[test]
fn a_full_scratch_disk_stops_the_run_and_removes_the_scratch_folder() {
    let Some((lib, tool)) = common::standin() else {
        return;
    };
    let d = Dirs::new();
    let engine = d.engines().join("tiny.engine");
    sim_plan(&tool, "tiny_mlp", &engine, &[]);
    let work = d.root.path().join("work");
    std::fs::create_dir(&work).unwrap();
    let o = Command::new("sh")
        .arg("-c")
        .arg(r#"trap "" XFSZ; ulimit -f 100; exec "$@""#)
        .arg("sh")
        .arg(common::exe())
        .arg("--trt-lib")
        .arg(&lib)
        .arg("dump")
        .arg(&engine)
        .arg("-o")
        .arg(d.out().join("w.safetensors"))
        .arg("--work-dir")
        .arg(&work)
        .env("TMPDIR", d.tmp())
        .output()
        .unwrap();
    let e = stderr(&o);
    assert_eq!(
        o.status.code(),
        Some(i32::from(trt_dump::error::EXIT_OTHER)),
        "{e}"
    );
    assert!(
        e.contains("writing a temporary serialization") && e.contains("is the disk full?"),
        "{e}"
    );
    assert!(
        common::listing(&work).is_empty(),
        "{:?}",
        common::listing(&work)
    );
    d.assert_nothing_left(&[], "full scratch disk");
}

/// Removes the immutable attribute on drop, so a failed test cannot leave a folder nobody can
/// delete.
struct Immutable<'a>(&'a Path);

impl Drop for Immutable<'_> {
    fn drop(&mut self) {
        let _ = Command::new("chattr").arg("-i").arg(self.0).status();
    }
}

/// A read-only output folder: exit 13 with a hint, nothing left, and the engine work is not even
/// started (the target is checked first). Root ignores permission bits, so as root the folder is
/// made immutable (`chattr +i`, which binds root too) where the file system allows; otherwise the
/// test says why it cannot run.
#[test]
fn a_read_only_output_folder_exits_13_before_any_work() {
    use std::os::unix::fs::PermissionsExt;
    let Some((lib, tool)) = common::standin() else {
        return;
    };
    let d = Dirs::new();
    let engine = d.engines().join("tiny.engine");
    sim_plan(&tool, "tiny_mlp", &engine, &[]);
    let ro = d.out().join("ro");
    std::fs::create_dir(&ro).unwrap();
    let _guard;
    if let Some(why) = common::permissions_ignored() {
        let ok = Command::new("chattr")
            .arg("+i")
            .arg(&ro)
            .status()
            .is_ok_and(|s| s.success());
        if !ok {
            eprintln!("SKIPPED: {why}, and `chattr +i` is not available here");
            return;
        }
        _guard = Immutable(&ro);
    } else {
        std::fs::set_permissions(&ro, std::fs::Permissions::from_mode(0o555)).unwrap();
    }
    for fmt in ["w.safetensors", "w.npz", "w_npy/"] {
        let o = trt_dump(&lib, &d.tmp())
            .arg("-v")
            .arg("dump")
            .arg(&engine)
            .arg("-o")
            .arg(ro.join(fmt))
            .output()
            .unwrap();
        let e = stderr(&o);
        assert_eq!(
            o.status.code(),
            code(ErrorKind::OutputNotWritten),
            "{fmt}: {e}"
        );
        assert!(e.contains("not written"), "{fmt}: {e}");
        assert!(
            !e.contains("zero baseline"),
            "extraction ran before the output was known to fail: {e}"
        );
        assert!(common::listing(&ro).is_empty());
    }
    let _ = std::fs::set_permissions(&ro, std::fs::Permissions::from_mode(0o755));
}

/// An output path that is a folder, or a symbolic link: refused (exit 13) without --force, before
/// any work; with --force the link itself is replaced and whatever it pointed to is left as it was.
#[test]
fn an_output_path_that_is_a_folder_or_a_link_is_refused_or_the_link_replaced() {
    let Some((lib, tool)) = common::standin() else {
        return;
    };
    let d = Dirs::new();
    let engine = d.engines().join("tiny.engine");
    sim_plan(&tool, "tiny_mlp", &engine, &[]);
    let folder = d.out().join("w.safetensors");
    std::fs::create_dir(&folder).unwrap();
    std::fs::write(folder.join("keep"), b"mine").unwrap();
    for force in [false, true] {
        let mut c = trt_dump(&lib, &d.tmp());
        c.arg("dump").arg(&engine).arg("-o").arg(&folder);
        if force {
            c.arg("--force");
        }
        let o = c.output().unwrap();
        assert_eq!(
            o.status.code(),
            code(ErrorKind::OutputNotWritten),
            "force={force}: {}",
            stderr(&o)
        );
        assert!(stderr(&o).contains("it is a folder"), "{}", stderr(&o));
        assert_eq!(std::fs::read(folder.join("keep")).unwrap(), b"mine");
    }
    // A link to a file elsewhere (say, the engine itself).
    let victim = d.engines().join("victim.bin");
    std::fs::write(&victim, b"precious").unwrap();
    for (fmt, format) in [
        ("l.safetensors", "safetensors"),
        ("l.npz", "npz"),
        ("l_npy", "npy"),
    ] {
        let link = d.out().join(fmt);
        std::os::unix::fs::symlink(&victim, &link).unwrap();
        let run = |force: bool| {
            let mut c = trt_dump(&lib, &d.tmp());
            c.arg("dump")
                .arg(&engine)
                .arg("-o")
                .arg(&link)
                .args(["--format", format]);
            if force {
                c.arg("--force");
            }
            c.output().unwrap()
        };
        let o = run(false);
        assert_eq!(
            o.status.code(),
            code(ErrorKind::OutputNotWritten),
            "{fmt}: {}",
            stderr(&o)
        );
        assert!(stderr(&o).contains("symbolic link"), "{}", stderr(&o));
        let o = run(true);
        assert_eq!(o.status.code(), Some(0), "{fmt} --force: {}", stderr(&o));
        assert!(
            !std::fs::symlink_metadata(&link)
                .unwrap()
                .file_type()
                .is_symlink(),
            "{fmt}: still a link"
        );
        assert_eq!(
            std::fs::read(&victim).unwrap(),
            b"precious",
            "{fmt}: written through the link"
        );
    }
    // A link to a folder, for the folder format: the folder it points to is left alone.
    let elsewhere = d.engines().join("elsewhere");
    std::fs::create_dir(&elsewhere).unwrap();
    std::fs::write(elsewhere.join("keep"), b"mine").unwrap();
    let link = d.out().join("dir_npy");
    std::os::unix::fs::symlink(&elsewhere, &link).unwrap();
    let o = trt_dump(&lib, &d.tmp())
        .arg("dump")
        .arg(&engine)
        .arg("-o")
        .arg(&link)
        .args(["--format", "npy", "--force"])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(!std::fs::symlink_metadata(&link)
        .unwrap()
        .file_type()
        .is_symlink());
    assert_eq!(common::listing(&elsewhere), vec!["keep".to_string()]);
    assert!(
        temporaries(&d.out()).is_empty(),
        "{:?}",
        temporaries(&d.out())
    );
}
