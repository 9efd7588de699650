//! An engine file on disk: mapped read-only, its plan header sniffed ([`crate::plan`]). Needs no
//! TensorRT, so the CPU paths (`--map`, `locate`) use it without touching [`crate::trt`].

use std::path::{Path, PathBuf};

use anyhow::Context;

use crate::error::{Error, ErrorKind};
use crate::plan::PlanHeader;

/// An engine file, mapped read-only, whose header has been read.
pub struct EngineFile {
    pub path: PathBuf,
    pub header: PlanHeader,
    map: memmap2::Mmap,
}

impl EngineFile {
    /// Opens and maps `path`; fails with `InputUnreadable`, or `NotAnEngine` when the bytes do not
    /// start like a TensorRT plan (before any library is loaded).
    pub fn open(path: &Path) -> anyhow::Result<EngineFile> {
        let unreadable = |e: std::io::Error| {
            anyhow::Error::new(Error::new(
                ErrorKind::InputUnreadable,
                format!("cannot read engine `{}`: {e}", path.display()),
            ))
        };
        let file = std::fs::File::open(path).map_err(unreadable)?;
        let meta = file.metadata().map_err(unreadable)?;
        if meta.is_dir() {
            return Err(anyhow::Error::new(Error::new(
                ErrorKind::InputUnreadable,
                format!("engine `{}` is a folder, not a file", path.display()),
            )));
        }
        let map = crate::mmap::map_readonly(&file).map_err(unreadable)?;
        let header = PlanHeader::sniff(&map)
            .and_then(|h| h.check_length(map.len() as u64).map(|()| h))
            .map_err(anyhow::Error::new)
            .with_context(|| format!("reading `{}`", path.display()))?;
        Ok(EngineFile {
            path: path.to_path_buf(),
            header,
            map,
        })
    }

    pub fn bytes(&self) -> &[u8] {
        &self.map
    }

    pub fn len(&self) -> u64 {
        self.map.len() as u64
    }

    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }

    /// "engine `x.engine` (210108 bytes, built by TensorRT-RTX 1.7.1.116)": what the file alone
    /// says, as context for failures that happen before TensorRT has read it.
    pub fn describe(&self) -> String {
        format!(
            "engine `{}` ({} bytes, built by {})",
            self.path.display(),
            self.len(),
            self.built_by()
        )
    }

    /// "TensorRT 10.16.1.11" / "TensorRT-RTX 1.7.1.116" / "TensorRT (version unknown)".
    pub fn built_by(&self) -> String {
        match self.header.built_by {
            Some(v) => format!("{} {v}", self.header.flavour),
            None => format!("{} (version unknown)", self.header.flavour),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn engine_file_errors_have_their_kinds() {
        let dir = tempfile::tempdir().unwrap();
        let missing = EngineFile::open(&dir.path().join("nope.engine"))
            .err()
            .unwrap();
        assert_eq!(
            crate::error::exit_code_of(&missing),
            ErrorKind::InputUnreadable.exit_code()
        );
        let folder = EngineFile::open(dir.path()).err().unwrap();
        assert_eq!(
            crate::error::exit_code_of(&folder),
            ErrorKind::InputUnreadable.exit_code()
        );
        let junk = dir.path().join("junk.engine");
        std::fs::write(&junk, b"PK\x03\x04 a zip file, not a plan").unwrap();
        let e = EngineFile::open(&junk).err().unwrap();
        assert_eq!(
            crate::error::exit_code_of(&e),
            ErrorKind::NotAnEngine.exit_code()
        );
        assert!(format!("{e:#}").contains("junk.engine"));
    }

    #[test]
    fn engine_file_reads_a_real_rtx_header() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("x.engine");
        let mut bytes = vec![0u8; 64];
        bytes[..4].copy_from_slice(b"vtrt");
        bytes[16..24].copy_from_slice(&64u64.to_le_bytes());
        bytes[24..28].copy_from_slice(&[1, 7, 1, 116]);
        std::fs::write(&p, &bytes).unwrap();
        let f = EngineFile::open(&p).unwrap();
        assert_eq!(f.len(), 64);
        assert_eq!(f.built_by(), "TensorRT-RTX 1.7.1.116");
    }
}
