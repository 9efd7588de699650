//! Failure injection: a disk that fills up after N bytes, at every point of every writer. A tiny
//! tmpfs is not available to tests, so the writers' output goes through [`FailAfter`], which
//! answers like a full disk (ENOSPC) once its budget is spent.

use std::fs::File;
use std::io::{self, BufWriter, Seek, SeekFrom, Write};
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use super::atomic::{Output, Wrap};
use super::*;

struct FailAfter {
    inner: BufWriter<File>,
    budget: Arc<AtomicU64>,
    fail_sync: bool,
}

fn enospc() -> io::Error {
    io::Error::from_raw_os_error(28)
}

impl Write for FailAfter {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let left = self.budget.load(Ordering::SeqCst);
        if left == 0 {
            return Err(enospc());
        }
        let n = buf.len().min(left as usize);
        let n = self.inner.write(&buf[..n])?;
        self.budget.fetch_sub(n as u64, Ordering::SeqCst);
        Ok(n)
    }
    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

impl Seek for FailAfter {
    fn seek(&mut self, pos: SeekFrom) -> io::Result<u64> {
        self.inner.seek(pos)
    }
}

impl Output for FailAfter {
    fn sync(&mut self) -> io::Result<()> {
        if self.fail_sync {
            return Err(enospc());
        }
        self.inner.sync()
    }
}

fn failing(budget: u64, fail_sync: bool) -> Wrap {
    let budget = Arc::new(AtomicU64::new(budget));
    Arc::new(move |f| Box::new(FailAfter { inner: BufWriter::new(f), budget: budget.clone(), fail_sync }))
}

fn plan() -> (Vec<PlannedTensor>, Vec<Vec<u8>>) {
    let mk = |name: &str, dtype, shape: Vec<u64>| PlannedTensor {
        name: name.into(),
        dtype,
        shape,
        shape_source: ShapeSource::Flat,
    };
    let p = vec![
        mk("a.weight", DataType::Float, vec![300]),
        mk("b/odd name", DataType::Int4, vec![7]),
        mk("c", DataType::Bf16, vec![2, 50]),
    ];
    let data = p
        .iter()
        .map(|t| {
            let n = t.dtype.bytes_for(t.shape.iter().product()).unwrap() as usize;
            (0..n).map(|i| (i * 7 % 251) as u8).collect()
        })
        .collect();
    (p, data)
}

fn only_entries(dir: &Path) -> Vec<String> {
    std::fs::read_dir(dir).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect()
}

fn targets(dir: &Path) -> [(Format, std::path::PathBuf); 3] {
    [
        (Format::Safetensors, dir.join("w.safetensors")),
        (Format::Npz, dir.join("w.npz")),
        (Format::Npy, dir.join("w")),
    ]
}

/// Runs the whole write with `wrap`; Ok(()) only if it succeeded.
fn write_all(path: &Path, format: Format, compress: bool, wrap: Wrap) -> anyhow::Result<Written> {
    let (p, data) = plan();
    let opts = WriterOptions { format: Some(format), compress, ..Default::default() };
    let mut sink = open_with(path, &opts, &p, wrap)?;
    for (t, d) in p.iter().zip(&data).rev() {
        sink.add(&TensorView { name: &t.name, dtype: t.dtype, shape: &t.shape, data: d })?;
    }
    sink.finish()
}

#[test]
fn a_full_disk_at_any_point_fails_cleanly_and_leaves_nothing() {
    for compress in [false, true] {
        for (format, _) in targets(Path::new("")) {
            if compress && format != Format::Npz {
                continue;
            }
            // Size of the complete output, to place failures all through it.
            let dir = tempfile::tempdir().unwrap();
            let path = targets(dir.path()).into_iter().find(|t| t.0 == format).unwrap().1;
            let full = write_all(&path, format, compress, failing(u64::MAX, false)).unwrap().bytes;
            let mut budgets: Vec<u64> = (0..full).step_by((full as usize / 40).max(1)).collect();
            budgets.extend([1, 8, full.saturating_sub(1)]);
            for budget in budgets {
                for fail_sync in [false, true] {
                    let dir = tempfile::tempdir().unwrap();
                    let path = targets(dir.path()).into_iter().find(|t| t.0 == format).unwrap().1;
                    let err = write_all(&path, format, compress, failing(budget, fail_sync))
                        .expect_err(&format!("{format:?} budget {budget} sync-fails {fail_sync}: should fail"));
                    let kind = crate::error::find(&err).map(|e| e.kind);
                    assert_eq!(kind, Some(ErrorKind::OutputNotWritten), "{format:?} {budget}: {err:#}");
                    let msg = format!("{err:#}");
                    assert!(msg.contains(&path.display().to_string()), "{msg}");
                    assert!(msg.contains("No space left on device"), "{msg}");
                    let hint = crate::error::find(&err).unwrap().hint.clone().unwrap();
                    assert!(hint.contains("free space"), "{hint}");
                    assert!(only_entries(dir.path()).is_empty(), "{format:?} {budget}: left {:?}", only_entries(dir.path()));
                }
            }
        }
    }
}

#[test]
fn a_failed_sink_refuses_more_work() {
    let dir = tempfile::tempdir().unwrap();
    for (format, path) in targets(dir.path()) {
        let (p, data) = plan();
        let opts = WriterOptions { format: Some(format), ..Default::default() };
        // Enough for headers and the index, not for the 1200-byte f32 tensor.
        let mut sink = open_with(&path, &opts, &p, failing(1000, false)).unwrap();
        let t = &p[0];
        assert!(sink.add(&TensorView { name: &t.name, dtype: t.dtype, shape: &t.shape, data: &data[0] }).is_err());
        let t = &p[2];
        let again = sink.add(&TensorView { name: &t.name, dtype: t.dtype, shape: &t.shape, data: &data[2] });
        assert!(format!("{:#}", again.unwrap_err()).contains("an earlier write"));
        assert!(sink.finish().is_err());
        assert!(only_entries(dir.path()).is_empty(), "{format:?}");
    }
}

#[test]
fn without_failures_the_injected_writer_writes_normally() {
    let dir = tempfile::tempdir().unwrap();
    for (format, path) in targets(dir.path()) {
        let w = write_all(&path, format, false, failing(u64::MAX, false)).unwrap();
        assert_eq!(w.tensors.len(), 3);
        assert!(path.exists());
    }
    assert_eq!(only_entries(dir.path()).len(), 3);
}
