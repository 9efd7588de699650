//! Helpers for the reliability tests (tests/sim/reliability_*.rs): the stand-in TensorRT library, the
//! real trt-dump binary run against it, and checks that nothing was left behind.
//!
//! Declared once in `tests/sim/main.rs` (beside `sim` and `standin`); the test modules
//! `use crate::reliability_common as common;`.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use trt_dump::error::ErrorKind;

use crate::standin;

/// The stand-in library and the sim-plan tool, or `None` (skipped locally, a failure in CI).
pub fn standin() -> Option<(PathBuf, PathBuf)> {
    match standin::library().and_then(|lib| standin::sim_plan_tool().map(|t| (lib, t))) {
        Ok(x) => Some(x),
        Err(why) if std::env::var_os("CI").is_some() => {
            panic!("the stand-in TensorRT library is needed in CI: {why}")
        }
        Err(why) => {
            eprintln!("SKIPPED: stand-in TensorRT library unavailable: {why} (set CI=1 to make this a failure)");
            None
        }
    }
}

pub fn exe() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_trt-dump"))
}

/// trt-dump with the stand-in as TensorRT, TMPDIR pointed at `tmp` (so scratch folders can be
/// looked for) and no TensorRT search elsewhere.
pub fn trt_dump(lib: &Path, tmp: &Path) -> Command {
    let mut c = Command::new(exe());
    c.arg("--trt-lib")
        .arg(lib)
        .env("TMPDIR", tmp)
        .env_remove("TRT_DUMP_TRT_LIB");
    c
}

/// Writes a sim-plan engine: `sim-plan MODEL OUT [ARGS]`.
pub fn sim_plan(tool: &Path, model: &str, out: &Path, args: &[&str]) {
    let o = Command::new(tool)
        .arg(model)
        .arg(out)
        .args(args)
        .output()
        .unwrap();
    assert!(
        o.status.success(),
        "sim-plan {model}: {}",
        String::from_utf8_lossy(&o.stderr)
    );
}

pub fn code(k: ErrorKind) -> Option<i32> {
    Some(i32::from(k.exit_code()))
}

pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// Everything in `dir` (recursively), as paths relative to it, sorted.
pub fn listing(dir: &Path) -> Vec<String> {
    fn walk(base: &Path, d: &Path, out: &mut Vec<String>) {
        let Ok(rd) = std::fs::read_dir(d) else { return };
        for e in rd.flatten() {
            let p = e.path();
            out.push(p.strip_prefix(base).unwrap().display().to_string());
            if e.file_type().is_ok_and(|t| t.is_dir()) {
                walk(base, &p, out);
            }
        }
    }
    let mut v = Vec::new();
    walk(dir, dir, &mut v);
    v.sort();
    v
}

/// Temporaries trt-dump may create: `.trt-dump-*` beside outputs, `trt-dump-*` scratch folders.
pub fn temporaries(dir: &Path) -> Vec<String> {
    listing(dir)
        .into_iter()
        .filter(|p| {
            let name = Path::new(p)
                .file_name()
                .unwrap()
                .to_string_lossy()
                .into_owned();
            name.starts_with(".trt-dump-") || name.starts_with("trt-dump-")
        })
        .collect()
}

/// A folder for one test: `engines/` (inputs), `out/` (outputs), `tmp/` (TMPDIR).
pub struct Dirs {
    pub root: tempfile::TempDir,
}

impl Dirs {
    pub fn new() -> Dirs {
        let root = tempfile::Builder::new()
            .prefix("reliability-")
            .tempdir()
            .unwrap();
        for d in ["engines", "out", "tmp"] {
            std::fs::create_dir(root.path().join(d)).unwrap();
        }
        Dirs { root }
    }

    pub fn engines(&self) -> PathBuf {
        self.root.path().join("engines")
    }

    pub fn out(&self) -> PathBuf {
        self.root.path().join("out")
    }

    pub fn tmp(&self) -> PathBuf {
        self.root.path().join("tmp")
    }

    /// Asserts that `out/` and `tmp/` hold nothing but `allowed` (names in `out/`).
    pub fn assert_nothing_left(&self, allowed: &[&str], context: &str) {
        let out: Vec<String> = listing(&self.out())
            .into_iter()
            .filter(|p| !allowed.contains(&p.as_str()))
            .collect();
        assert!(
            out.is_empty(),
            "{context}: left in the output folder: {out:?}"
        );
        let tmp = listing(&self.tmp());
        assert!(tmp.is_empty(), "{context}: left in TMPDIR: {tmp:?}");
    }
}

/// Whether this process can write into a folder without write permission (root, or
/// CAP_DAC_OVERRIDE): permission tests are then meaningless and skipped with this reason.
pub fn permissions_ignored() -> Option<String> {
    use std::os::unix::fs::PermissionsExt;
    let d = tempfile::tempdir().unwrap();
    let ro = d.path().join("ro");
    std::fs::create_dir(&ro).unwrap();
    std::fs::set_permissions(&ro, std::fs::Permissions::from_mode(0o555)).unwrap();
    let wrote = std::fs::write(ro.join("probe"), b"x").is_ok();
    std::fs::set_permissions(&ro, std::fs::Permissions::from_mode(0o755)).unwrap();
    wrote.then(|| "this process writes into a mode-555 folder (root or CAP_DAC_OVERRIDE ignore permissions)".to_string())
}
