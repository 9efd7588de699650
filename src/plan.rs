//! What a plan file's first bytes say, read without TensorRT.
//!
//! TensorRT plans start with the tag `ftrt`, then a u32 serialization version; for version 0 bytes
//! 24..28 hold the TensorRT version that built it (major, minor, patch, build), as NVIDIA's
//! `printPlanVersion` (samples/common/sampleEngines.cpp) reads it. TensorRT-RTX plans start with
//! `vtrt` and carry the same four version bytes at 24..28 (seen in real TensorRT-RTX 1.7.1 plans).
//! This lets the tool say "not an engine" or "needs TensorRT 10.x" before loading any library.
//!
//! TensorRT-RTX plans also say how long they are: bytes 16..24 hold the plan's length (u64, little
//! endian), equal to the file's length in every real RTX plan we have (five TensorRT-RTX 1.7.1
//! engines, 180 KB to 4.7 MB, including a weight-stripped one). A file shorter or longer than that
//! is cut or has bytes appended: [`PlanHeader::check_length`] says so before any library is loaded.
//! For `ftrt` plans we have no real plan to check the same bytes against (the simulator's plans
//! are our own invention), so no length is read from them: a cut `ftrt` plan is found out by
//! TensorRT itself, whose refusal then decides the exit status.

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
        write!(
            f,
            "{}.{}.{}.{}",
            self.major, self.minor, self.patch, self.build
        )
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct PlanHeader {
    pub flavour: Flavour,
    /// The u32 after the tag (0 for every TensorRT plan seen so far).
    pub serialization_version: u32,
    /// The TensorRT version that built the plan, when the serialization version is one we know.
    pub built_by: Option<PlanVersion>,
    /// The plan's own length, where the header is known to hold it (TensorRT-RTX plans, bytes
    /// 16..24); `None` for `ftrt` plans (see the module notes).
    pub declared_len: Option<u64>,
}

impl PlanHeader {
    /// Reads the header, or says in plain words why the bytes are not a TensorRT plan.
    pub fn sniff(bytes: &[u8]) -> Result<PlanHeader, Error> {
        let tag = bytes.get(0..4).ok_or_else(|| {
            Error::new(
                ErrorKind::NotAnEngine,
                format!(
                    "file is {} bytes long: too short to be a TensorRT engine",
                    bytes.len()
                ),
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
        let declared_len = (known_layout && flavour == Flavour::TensorRtRtx)
            .then(|| u64::from_le_bytes(bytes[16..24].try_into().expect("8 bytes")));
        Ok(PlanHeader {
            flavour,
            serialization_version,
            built_by,
            declared_len,
        })
    }

    /// `NotAnEngine` when the header says how long the plan is and the file is not that long:
    /// cut short (a copy that stopped, `head -c`) or with bytes appended.
    pub fn check_length(&self, file_len: u64) -> Result<(), Error> {
        let Some(want) = self.declared_len else {
            return Ok(());
        };
        if want == file_len {
            return Ok(());
        }
        let what = if file_len < want {
            format!("truncated {} engine: the file is {file_len} bytes but its header says the plan is {want} bytes ({} missing)", self.flavour, want - file_len)
        } else {
            format!("corrupt {} engine: the file is {file_len} bytes but its header says the plan is {want} bytes ({} extra bytes at the end)", self.flavour, file_len - want)
        };
        Err(Error::new(ErrorKind::NotAnEngine, what).with_hint(
            "copy the engine file again, whole; no TensorRT or GPU is needed to see this",
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plan(tag: &[u8; 4], version: [u8; 4]) -> Vec<u8> {
        let mut v = vec![0u8; 64];
        v[..4].copy_from_slice(tag);
        v[16..24].copy_from_slice(&64u64.to_le_bytes());
        v[24..28].copy_from_slice(&version);
        v
    }

    #[test]
    fn rtx_length_field_is_checked_and_ftrt_is_not() {
        let rtx = PlanHeader::sniff(&plan(TAG_RTX, [1, 7, 1, 116])).unwrap();
        assert_eq!(rtx.declared_len, Some(64));
        assert!(rtx.check_length(64).is_ok());
        let short = rtx.check_length(40).unwrap_err();
        assert_eq!(short.kind, ErrorKind::NotAnEngine);
        assert!(
            short.message.contains("truncated TensorRT-RTX engine"),
            "{}",
            short.message
        );
        assert!(rtx
            .check_length(65)
            .unwrap_err()
            .message
            .contains("1 extra bytes"));
        let trt = PlanHeader::sniff(&plan(TAG_TRT, [10, 16, 1, 11])).unwrap();
        assert_eq!(trt.declared_len, None);
        assert!(trt.check_length(12345).is_ok());
    }

    #[test]
    fn real_rtx_fixture_declares_its_own_length() {
        let p = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/fixtures/tiny_mlp/model.engine"
        );
        let bytes = std::fs::read(p).unwrap();
        let h = PlanHeader::sniff(&bytes).unwrap();
        assert_eq!(h.declared_len, Some(bytes.len() as u64));
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
        assert_eq!(
            PlanHeader::sniff(b"").unwrap_err().kind,
            ErrorKind::NotAnEngine
        );
        assert_eq!(
            PlanHeader::sniff(b"PK\x03\x04rest").unwrap_err().kind,
            ErrorKind::NotAnEngine
        );
        assert!(PlanHeader::sniff(b"ftrt\0\0\0\0")
            .unwrap_err()
            .message
            .contains("truncated"));
    }

    #[test]
    fn unknown_serialization_version_has_no_version() {
        let mut p = plan(TAG_TRT, [10, 0, 0, 0]);
        p[4] = 7;
        assert_eq!(PlanHeader::sniff(&p).unwrap().built_by, None);
    }
}
