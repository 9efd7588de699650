//! What a plan file's first bytes say, read without TensorRT.
//!
//! TensorRT plans start with the tag `ftrt`, then a u32 serialization version; for version 0 bytes
//! 24..28 hold the TensorRT version that built it (major, minor, patch, build), as NVIDIA's
//! `printPlanVersion` (samples/common/sampleEngines.cpp) reads it. TensorRT-RTX plans start with
//! `vtrt` and carry the same four version bytes at 24..28 (seen in real TensorRT-RTX 1.7.1 plans).
//! This lets the tool say "not an engine" or "needs TensorRT 10.x" before loading any library.

use std::fmt;

use serde::Serialize;

use crate::error::{Error, ErrorKind};

pub const TAG_TRT: &[u8; 4] = b"ftrt";
pub const TAG_RTX: &[u8; 4] = b"vtrt";
const HEADER_LEN: usize = 28;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Flavour {
    TensorRt,
    TensorRtRtx,
}

impl fmt::Display for Flavour {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Flavour::TensorRt => "TensorRT",
            Flavour::TensorRtRtx => "TensorRT-RTX",
        })
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct PlanVersion {
    pub major: u8,
    pub minor: u8,
    pub patch: u8,
    pub build: u8,
}

impl fmt::Display for PlanVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}.{}.{}", self.major, self.minor, self.patch, self.build)
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct PlanHeader {
    pub flavour: Flavour,
    /// The u32 after the tag (0 for every TensorRT plan seen so far).
    pub serialization_version: u32,
    /// The TensorRT version that built the plan, when the serialization version is one we know.
    pub built_by: Option<PlanVersion>,
}

impl PlanHeader {
    /// Reads the header, or says in plain words why the bytes are not a TensorRT plan.
    pub fn sniff(bytes: &[u8]) -> Result<PlanHeader, Error> {
        let tag = bytes.get(0..4).ok_or_else(|| {
            Error::new(
                ErrorKind::NotAnEngine,
                format!("file is {} bytes long: too short to be a TensorRT engine", bytes.len()),
            )
        })?;
        let flavour = if tag == TAG_TRT {
            Flavour::TensorRt
        } else if tag == TAG_RTX {
            Flavour::TensorRtRtx
        } else {
            return Err(Error::new(
                ErrorKind::NotAnEngine,
                format!(
                    "not a TensorRT engine: it starts with {:02x?}, not the plan tag `ftrt` (TensorRT) or `vtrt` (TensorRT-RTX)",
                    tag
                ),
            )
            .with_hint("pass the .engine/.plan file that trtexec --saveEngine or build_serialized_network wrote"));
        };
        if bytes.len() < HEADER_LEN {
            return Err(Error::new(
                ErrorKind::NotAnEngine,
                format!("truncated TensorRT engine: only {} bytes", bytes.len()),
            ));
        }
        let serialization_version = u32::from_le_bytes([bytes[4], bytes[5], bytes[6], bytes[7]]);
        let known_layout = match flavour {
            Flavour::TensorRt => serialization_version == 0,
            // RTX plans seen so far carry 0 here as well; the version bytes sit at the same place.
            Flavour::TensorRtRtx => serialization_version == 0,
        };
        let built_by = known_layout.then(|| PlanVersion {
            major: bytes[24],
            minor: bytes[25],
            patch: bytes[26],
            build: bytes[27],
        });
        Ok(PlanHeader { flavour, serialization_version, built_by })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plan(tag: &[u8; 4], version: [u8; 4]) -> Vec<u8> {
        let mut v = vec![0u8; 64];
        v[..4].copy_from_slice(tag);
        v[24..28].copy_from_slice(&version);
        v
    }

    #[test]
    fn reads_trt_and_rtx_versions() {
        let h = PlanHeader::sniff(&plan(TAG_TRT, [10, 16, 1, 11])).unwrap();
        assert_eq!(h.flavour, Flavour::TensorRt);
        assert_eq!(h.built_by.unwrap().to_string(), "10.16.1.11");
        let h = PlanHeader::sniff(&plan(TAG_RTX, [1, 7, 1, 116])).unwrap();
        assert_eq!(h.flavour, Flavour::TensorRtRtx);
        assert_eq!(h.built_by.unwrap().minor, 7);
    }

    #[test]
    fn rejects_other_files_and_truncation() {
        assert_eq!(PlanHeader::sniff(b"").unwrap_err().kind, ErrorKind::NotAnEngine);
        assert_eq!(PlanHeader::sniff(b"PK\x03\x04rest").unwrap_err().kind, ErrorKind::NotAnEngine);
        assert!(PlanHeader::sniff(b"ftrt\0\0\0\0").unwrap_err().message.contains("truncated"));
    }

    #[test]
    fn unknown_serialization_version_has_no_version() {
        let mut p = plan(TAG_TRT, [10, 0, 0, 0]);
        p[4] = 7;
        assert_eq!(PlanHeader::sniff(&p).unwrap().built_by, None);
    }
}
