//! Where extraction keeps its serialized images: in memory for engines that fit a few times over,
//! otherwise in temporary files mapped read-only, so peak memory stays near the engine size plus the
//! output whatever the engine size. The temporary directory is removed on drop.

use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::Context;
use memmap2::Mmap;

use crate::pipeline::extract::Scratch;
use crate::pipeline::PlanBytes;

struct Mapped(Mmap);

impl PlanBytes for Mapped {
    fn bytes(&self) -> &[u8] {
        &self.0
    }
}

/// Spills every image to a file in a private temporary directory.
pub struct DiskScratch {
    dir: tempfile::TempDir,
    written: u64,
    files: u64,
    _registered: crate::cleanup::Registered,
}

impl DiskScratch {
    pub fn new(parent: Option<&Path>) -> anyhow::Result<DiskScratch> {
        let parent: PathBuf = parent
            .map(Path::to_path_buf)
            .unwrap_or_else(std::env::temp_dir);
        let dir = tempfile::Builder::new()
            .prefix("trt-dump-")
            .tempdir_in(&parent)
            .with_context(|| {
                format!(
                    "creating a temporary folder in `{}` (use --work-dir to choose another)",
                    parent.display()
                )
            })?;
        let _registered = crate::cleanup::register(dir.path());
        Ok(DiskScratch {
            dir,
            written: 0,
            files: 0,
            _registered,
        })
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    pub fn bytes_written(&self) -> u64 {
        self.written
    }

    /// Serializations written to files so far.
    pub fn files_written(&self) -> u64 {
        self.files
    }
}

impl Scratch for DiskScratch {
    fn in_memory(&self) -> bool {
        false
    }

    fn keep(
        &mut self,
        label: &str,
        bytes: Box<dyn PlanBytes>,
    ) -> anyhow::Result<Box<dyn PlanBytes>> {
        let path = self.dir.path().join(format!("{label}.plan"));
        let write = || -> std::io::Result<std::fs::File> {
            let mut f = std::fs::OpenOptions::new()
                .create_new(true)
                .read(true)
                .write(true)
                .open(&path)?;
            f.write_all(bytes.bytes())?;
            f.flush()?;
            Ok(f)
        };
        let file = write().with_context(|| {
            format!(
                "writing a temporary serialization ({} bytes) to `{}` (is the disk full? use --work-dir to choose another place)",
                bytes.bytes().len(),
                path.display()
            )
        })?;
        self.written += bytes.bytes().len() as u64;
        self.files += 1;
        drop(bytes);
        let map = crate::mmap::map_readonly(&file)
            .with_context(|| format!("mapping `{}`", path.display()))?;
        Ok(Box::new(Mapped(map)))
    }
}

/// Bytes of memory the system says are available, if it says.
pub fn mem_available() -> Option<u64> {
    let s = std::fs::read_to_string("/proc/meminfo").ok()?;
    let line = s.lines().find(|l| l.starts_with("MemAvailable:"))?;
    let kb: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb * 1024)
}

/// Engine-sized buffers extraction holds at once at its peak: a serialization being packed, the
/// marker passes' refit buffers and, when it differs from the file, the normalised original (the
/// baseline is kept packed and marker passes are packed as they arrive).
pub const IMAGES_HELD: u64 = 3;

/// Whether `images` serializations of `engine_len` bytes should go to disk rather than memory.
pub fn should_spill(engine_len: u64, images: u64, forced_dir: bool) -> bool {
    if forced_dir {
        return true;
    }
    let need = engine_len.saturating_mul(images);
    let avail = mem_available().unwrap_or(4 << 30);
    // Keep in memory only what leaves room for TensorRT's own copy, the refit buffers and the output.
    need > avail / 3
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spilled_images_read_back_and_vanish_with_the_scratch() {
        let mut s = DiskScratch::new(None).unwrap();
        let dir = s.path().to_path_buf();
        let kept = s.keep("x", Box::new(vec![1u8, 2, 3])).unwrap();
        assert_eq!(kept.bytes(), &[1, 2, 3]);
        assert_eq!((s.bytes_written(), s.files_written()), (3, 1));
        drop(kept);
        drop(s);
        assert!(!dir.exists());
    }

    #[test]
    fn spill_decision() {
        assert!(should_spill(10, 6, true));
        assert!(!should_spill(1 << 20, 6, false));
        assert!(should_spill(u64::MAX / 4, 6, false));
    }
}
