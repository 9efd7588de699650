//! The guarantees of docs/reliability.md ("Guarantees"), each checked end to end with the real
//! binary and the stand-in TensorRT library (skipped loudly without it; a failure in CI):
//! the engine file is never written; an output is complete or absent (and an existing one is
//! replaced whole or kept); every value written was read from the engine; the exit codes are the
//! documented ones.

use crate::reliability_common as common;
use crate::sim;
use crate::standin;

use std::collections::BTreeMap;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::Command;

use common::{code, sim_plan, stderr, trt_dump, Dirs};
use sim::{Content, Fill, Order, SimSpec};
use trt_dump::dtype::DataType;
use trt_dump::error::ErrorKind;

/// Content, modification time and mode of a file.
fn snapshot(p: &Path) -> (Vec<u8>, std::time::SystemTime, u32) {
    let m = std::fs::metadata(p).unwrap();
    (
        std::fs::read(p).unwrap(),
        m.modified().unwrap(),
        m.permissions().mode(),
    )
}

/// Removes the immutable attribute on drop.
struct Immutable<'a>(&'a Path);

impl Drop for Immutable<'_> {
    fn drop(&mut self) {
        let _ = Command::new("chattr").arg("-i").arg(self.0).status();
    }
}

/// The engine is opened read-only and never written, whatever the command and however it ends.
/// It is made read-only (mode 444) and, where this process ignores permissions (root), immutable
/// (`chattr +i`, which refuses even root an open for writing), so that any attempt to open it for
/// writing would fail the run; its content, modification time and mode are compared after each.
#[test]
fn the_engine_file_is_never_written() {
    let Some((lib, tool)) = common::standin() else {
        return;
    };
    let d = Dirs::new();
    let engine = d.engines().join("tiny.engine");
    let failing = d.engines().join("failing.engine");
    sim_plan(&tool, "tiny_mlp", &engine, &[]);
    sim_plan(&tool, "tiny_mlp", &failing, &["--fail-refit", "3"]);
    let mut guards = Vec::new();
    for e in [&engine, &failing] {
        std::fs::set_permissions(e, std::fs::Permissions::from_mode(0o444)).unwrap();
        if common::permissions_ignored().is_some() {
            if Command::new("chattr")
                .arg("+i")
                .arg(e)
                .status()
                .is_ok_and(|s| s.success())
            {
                guards.push(Immutable(e));
            } else {
                eprintln!(
                    "NOTE: running as root without `chattr +i`: only content and mtime are checked"
                );
            }
        }
    }
    let before = [snapshot(&engine), snapshot(&failing)];
    let map = d.out().join("m.trtmap");
    let runs: Vec<(Vec<String>, i32)> = vec![
        (vec!["info".into(), engine.display().to_string()], 0),
        (vec!["list".into(), engine.display().to_string()], 0),
        (
            vec![
                "map".into(),
                engine.display().to_string(),
                "-o".into(),
                map.display().to_string(),
            ],
            0,
        ),
        (
            vec![
                "dump".into(),
                engine.display().to_string(),
                "-o".into(),
                d.out().join("a.safetensors").display().to_string(),
            ],
            0,
        ),
        (
            vec![
                "dump".into(),
                engine.display().to_string(),
                "--map".into(),
                map.display().to_string(),
                "-o".into(),
                d.out().join("b.npz").display().to_string(),
            ],
            0,
        ),
        (
            vec![
                "dump".into(),
                failing.display().to_string(),
                "-o".into(),
                d.out().join("c.safetensors").display().to_string(),
            ],
            10,
        ),
    ];
    for (args, want) in runs {
        let o = trt_dump(&lib, &d.tmp()).args(&args).output().unwrap();
        assert_eq!(o.status.code(), Some(want), "{args:?}: {}", stderr(&o));
        assert!(
            before[0] == snapshot(&engine) && before[1] == snapshot(&failing),
            "{args:?} changed an engine file"
        );
    }
    // The sidecar map beside a read-only engine is read, the engine still untouched.
    drop(guards);
    std::fs::copy(&map, d.engines().join("tiny.engine.trtmap")).unwrap();
    let o = trt_dump(&lib, &d.tmp())
        .arg("dump")
        .arg(&engine)
        .arg("-o")
        .arg(d.out().join("d.safetensors"))
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(stderr(&o).contains("using the map"), "{}", stderr(&o));
    assert!(before[0] == snapshot(&engine));
}

/// A failed run with --force leaves an existing output exactly as it was (replaced whole or not at
/// all), in each format; a successful one replaces it whole.
#[test]
fn an_existing_output_is_replaced_whole_or_kept() {
    let Some((lib, tool)) = common::standin() else {
        return;
    };
    let d = Dirs::new();
    let good = d.engines().join("good.engine");
    let bad = d.engines().join("bad.engine");
    sim_plan(&tool, "tiny_mlp", &good, &[]);
    sim_plan(&tool, "tiny_mlp", &bad, &["--fail-refit", "3"]);
    for out in ["w.safetensors", "w.npz", "w_npy/"] {
        let p = d.out().join(out);
        let run = |engine: &Path| {
            trt_dump(&lib, &d.tmp())
                .arg("dump")
                .arg(engine)
                .arg("-o")
                .arg(&p)
                .arg("--force")
                .output()
                .unwrap()
        };
        let o = run(&good);
        assert_eq!(o.status.code(), Some(0), "{out}: {}", stderr(&o));
        let before = common::listing(&d.out());
        let contents: Vec<Vec<u8>> = before
            .iter()
            .map(|f| d.out().join(f))
            .filter(|f| f.is_file())
            .map(|f| std::fs::read(f).unwrap())
            .collect();
        let o = run(&bad);
        assert_eq!(
            o.status.code(),
            code(ErrorKind::TrtRefused),
            "{out}: {}",
            stderr(&o)
        );
        assert_eq!(common::listing(&d.out()), before, "{out}");
        let after: Vec<Vec<u8>> = before
            .iter()
            .map(|f| d.out().join(f))
            .filter(|f| f.is_file())
            .map(|f| std::fs::read(f).unwrap())
            .collect();
        assert!(contents == after, "{out}: the previous output changed");
        assert!(common::temporaries(d.root.path()).is_empty());
    }
}

/// Only values read from the engine are written. Weights whose values the plan does not hold as
/// such (folded into a reciprocal, fused into a sum, stored in part, or absent) are reported with
/// the reason and never written, not even as zeros or approximations: exit 11 and no output at
/// all, or with --allow-missing exit 0 and an output holding exactly the recoverable weights, bit
/// for bit.
#[test]
fn only_values_read_from_the_engine_are_written() {
    let Some((lib, _)) = common::standin() else {
        return;
    };
    let f = |seed: u64, n: u64| -> Vec<u8> {
        (0..n)
            .flat_map(|i| (0.5 + seed as f32 + i as f32 * 0.25).to_le_bytes())
            .collect()
    };
    let mut s = SimSpec::new();
    s.filler(4096, Fill::Random(5));
    let kept = s.weight("kept", DataType::Float, 16, f(1, 16));
    let folded = s.weight("folded", DataType::Float, 16, f(2, 16));
    let fused_a = s.weight("fused.a", DataType::Float, 16, f(3, 16));
    let fused_b = s.weight("fused.b", DataType::Float, 16, f(4, 16));
    let partial = s.weight("partial", DataType::Float, 16, f(5, 16));
    let _absent = s.weight("absent", DataType::Float, 16, f(6, 16));
    let half = s.weight(
        "kept.fp16",
        DataType::Half,
        8,
        (0..8u16)
            .flat_map(|i| (0x3C00 + i * 0x40).to_le_bytes())
            .collect(),
    );
    for (c, dt) in [
        (Content::Copy(kept), DataType::Float),
        (Content::Reciprocal(folded), DataType::Float),
        (Content::Sum(vec![fused_a, fused_b]), DataType::Float),
        (
            Content::Slice {
                weight: partial,
                start: 0,
                len: 8,
            },
            DataType::Float,
        ),
        (Content::Copy(half), DataType::Half),
    ] {
        s.filler(32, Fill::Random(7));
        s.buffer(c, dt, Order::Verbatim);
    }
    s.filler(64, Fill::Random(8));
    let d = Dirs::new();
    let (engine, plan) = standin::write_engine(&s, &d.engines(), "mixed.engine");
    let expect: BTreeMap<String, Vec<u8>> = plan
        .truth
        .weights
        .iter()
        .filter_map(|w| w.values.clone().map(|v| (w.spec.name.clone(), v)))
        .collect();
    assert_eq!(expect.keys().collect::<Vec<_>>(), ["kept", "kept.fp16"]);
    let out = d.out().join("w.safetensors");
    let o = trt_dump(&lib, &d.tmp())
        .arg("dump")
        .arg(&engine)
        .arg("-o")
        .arg(&out)
        .output()
        .unwrap();
    assert_eq!(
        o.status.code(),
        code(ErrorKind::Incomplete),
        "{}",
        stderr(&o)
    );
    assert!(
        stderr(&o).contains("5 of 7 weights could not be recovered"),
        "{}",
        stderr(&o)
    );
    for (i, allow) in [false, true].into_iter().enumerate() {
        let out = d.out().join(format!("w{i}.safetensors"));
        let mut c = trt_dump(&lib, &d.tmp());
        c.arg("dump").arg(&engine).arg("-o").arg(&out);
        if allow {
            c.arg("--allow-missing");
        }
        let o = c.output().unwrap();
        assert_eq!(
            o.status.code(),
            if allow {
                Some(0)
            } else {
                code(ErrorKind::Incomplete)
            },
            "{}",
            stderr(&o)
        );
        if !allow {
            assert!(!out.exists(), "exit 11 writes nothing");
            continue;
        }
        let bytes = std::fs::read(&out).unwrap();
        let st = safetensors::SafeTensors::deserialize(&bytes).unwrap();
        let got: BTreeMap<String, Vec<u8>> = st
            .tensors()
            .into_iter()
            .map(|(k, v)| (k, v.data().to_vec()))
            .collect();
        assert_eq!(got, expect, "allow_missing={allow}");
    }
}

/// The exit codes are the documented ones: distinct, the table in docs/reliability.md lists each
/// with its meaning, and `--help` prints the same table.
#[test]
fn exit_codes_are_the_documented_ones() {
    let doc =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/reliability.md"))
            .unwrap();
    let help = Command::new(common::exe()).arg("--help").output().unwrap();
    let help = String::from_utf8_lossy(&help.stdout).into_owned();
    for k in ErrorKind::ALL {
        let row = format!("| {} | {} |", k.exit_code(), k.describe());
        assert!(
            doc.contains(&row),
            "docs/reliability.md lacks the row `{row}`"
        );
        assert!(
            help.contains(&format!("{:>5}    {}", k.exit_code(), k.describe())),
            "--help lacks exit {}",
            k.exit_code()
        );
    }
    assert!(doc.contains(&format!("| {} |", trt_dump::error::EXIT_OTHER)));
}
