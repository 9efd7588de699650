//! Why TensorRT refused: the user-facing error for a failed runtime creation or deserialization,
//! from TensorRT's words, the plan header, the library loaded and the GPU.

use std::path::Path;

use super::gpu;
use super::loader::{self, TrtLib};
use super::result::TrtFailure;
use crate::error::{Error, ErrorKind};
use crate::plan::{Flavour, PlanHeader};

/// What a failure message needs to know about the library loaded.
pub(crate) struct LibFacts<'a> {
    flavour: Flavour,
    version: loader::LibVersion,
    path: &'a Path,
}

impl<'a> LibFacts<'a> {
    pub(crate) fn of(lib: &'a TrtLib) -> LibFacts<'a> {
        LibFacts {
            flavour: lib.flavour,
            version: lib.version,
            path: &lib.path,
        }
    }

    fn describe(&self) -> String {
        format!("{} {}", self.flavour, self.version)
    }
}

/// The GPU as a failure message sees it: name and compute capability, or why there is none.
pub(crate) type GpuFacts<'a> = Result<(&'a str, (i32, i32)), &'a gpu::NoGpu>;

pub(crate) fn gpu_facts(g: &gpu::GpuStatus) -> GpuFacts<'_> {
    g.as_ref().map(|g| (g.name.as_str(), g.compute_capability))
}

/// True when TensorRT's words or the GPU show TensorRT-RTX refusing this GPU generation.
fn rtx_refuses_gpu(lib: &LibFacts<'_>, gpu: GpuFacts<'_>, messages: &[String]) -> bool {
    if lib.flavour != Flavour::TensorRtRtx {
        return false;
    }
    let said = messages.iter().any(|m| {
        let m = m.to_ascii_lowercase();
        m.contains("compute capability")
            || m.contains("sm_90")
            || m.contains("sm90")
            || m.contains("unsupported gpu")
    });
    said || gpu.is_ok_and(|(_, cc)| !gpu::rtx_supports(cc))
}

/// The user-facing error for a failed runtime creation or deserialization: TensorRT's words, what
/// built the plan and what was loaded, the GPU diagnosis, and a hint, with the exit status of the
/// most likely cause.
pub(crate) fn failure_error(
    f: TrtFailure,
    what: &str,
    lib: &LibFacts<'_>,
    gpu: GpuFacts<'_>,
    plan: Option<(&PlanHeader, String)>,
) -> anyhow::Error {
    let mut msg = format!("{} could not {what}: {}", lib.describe(), f.reason());
    let said = plan
        .as_ref()
        .map(|(h, _)| classify_refusal(h, lib, &f.messages));
    let mut hint: Option<String> = None;
    let mut kind = if plan.is_some() {
        ErrorKind::EngineIncompatible
    } else {
        ErrorKind::TrtRefused
    };
    if let Some((header, built_by)) = plan {
        msg.push_str(&format!(
            "\nthe engine was built by {built_by}; the library loaded is {} ({})",
            lib.describe(),
            lib.path.display()
        ));
        if header.flavour != lib.flavour {
            hint = Some(match header.flavour {
                Flavour::TensorRtRtx => {
                    "this is a TensorRT-RTX engine: it needs libtensorrt_rtx.so.1 (pass --trt-lib)".into()
                }
                Flavour::TensorRt => "this is a TensorRT engine, not a TensorRT-RTX one: it needs libnvinfer.so.N or \
                                      libnvinfer_lean.so.N of the TensorRT version that built it (pass --trt-lib)"
                    .into(),
            });
        } else if let Some(b) = header.built_by {
            if (u32::from(b.major), u32::from(b.minor)) != (lib.version.major, lib.version.minor) {
                hint = Some(format!(
                    "engines load only in the TensorRT version that built them (unless built version-compatible): \
                     use {} {}.{} (pass --trt-lib), or rebuild the engine with {}",
                    header.flavour,
                    b.major,
                    b.minor,
                    lib.describe()
                ));
            } else {
                hint = Some(
                    "engines are specific to the GPU model they were built on (unless built hardware-compatible): \
                     rebuild the engine on this GPU"
                        .into(),
                );
            }
        }
    }
    if rtx_refuses_gpu(lib, gpu, &f.messages) {
        kind = ErrorKind::EngineIncompatible;
        let this_gpu = gpu
            .ok()
            .map(|(name, cc)| format!(" (this GPU: {name}, compute capability {}.{})", cc.0, cc.1))
            .unwrap_or_default();
        msg.push_str(&format!(
            "\nTensorRT-RTX does not run on this GPU generation{this_gpu}"
        ));
        hint = Some(format!(
            "TensorRT-RTX supports GPUs of {}; use such a GPU (--device N)",
            gpu::RTX_SUPPORTED_TEXT
        ));
    }
    // What TensorRT's own words say decides first: a corrupt plan or one of another version is
    // that, whether or not there is a GPU.
    match said {
        Some(Refusal::Corrupt) => {
            kind = ErrorKind::NotAnEngine;
            hint = Some(
                "the engine file is damaged or cut short: copy it again, or rebuild it".into(),
            );
        }
        Some(Refusal::OtherVersion) => kind = ErrorKind::EngineIncompatible,
        Some(Refusal::Cuda) | Some(Refusal::Unsaid) | None => {}
    }
    let decided = matches!(said, Some(Refusal::Corrupt | Refusal::OtherVersion));
    if let (Err(why), false) = (gpu, decided) {
        // TensorRT's failure most likely comes from here: say so, with that exit status.
        msg.push_str(&format!("\nGPU: {why}"));
        kind = ErrorKind::NoGpu;
        hint = Some(match why {
            gpu::NoGpu::NoDriver => {
                "install the NVIDIA driver (libcuda.so.1) or run on a machine with a GPU".into()
            }
            gpu::NoGpu::NoSuchDevice { .. } => {
                "choose an existing GPU with --device N (see nvidia-smi)".into()
            }
            gpu::NoGpu::DriverError(_) => {
                "check the NVIDIA driver and CUDA_VISIBLE_DEVICES (nvidia-smi)".into()
            }
        });
    }
    let mut e = Error::new(kind, msg);
    if let Some(h) = hint {
        e = e.with_hint(h);
    }
    anyhow::Error::new(e)
}

/// What TensorRT's refusal to deserialize a plan says about the plan.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Refusal {
    /// CUDA itself failed (no driver, no device): the GPU stopped the run.
    Cuda,
    /// Built by another TensorRT (or TensorRT-RTX) than the library loaded.
    OtherVersion,
    /// Cut short, damaged, a bad checksum: not a usable plan whatever library reads it.
    Corrupt,
    /// TensorRT gave no reason we recognise.
    Unsaid,
}

/// Reads TensorRT's log lines for a refused deserialization; the header and library break ties:
/// a plan of the other flavour, or whose header names another major.minor than the library when
/// TensorRT's words name no other cause, is `OtherVersion`.
fn classify_refusal(header: &PlanHeader, lib: &LibFacts<'_>, messages: &[String]) -> Refusal {
    let text = messages.join("\n").to_ascii_lowercase();
    let any = |words: &[&str]| words.iter().any(|w| text.contains(w));
    if any(&[
        "cuda initialization failure",
        "cuda driver",
        "no cuda-capable",
        "cudaerror",
        "cuda error",
    ]) {
        return Refusal::Cuda;
    }
    if header.flavour != lib.flavour {
        return Refusal::OtherVersion;
    }
    if any(&[
        "not compatible with this version",
        "version tag does not match",
        "expecting library version",
        "serialized engine version",
        "incompatible serialization version",
    ]) {
        return Refusal::OtherVersion;
    }
    if any(&[
        "truncat",
        "corrupt",
        "checksum",
        "magic tag",
        "serialization assertion",
        "unexpected end",
        "length field",
        "file length",
        "size mismatch",
        // TensorRT's serialization errors (version and flavour words were matched above).
        "code 1: serialization",
    ]) {
        return Refusal::Corrupt;
    }
    match header.built_by {
        Some(b)
            if (u32::from(b.major), u32::from(b.minor))
                != (lib.version.major, lib.version.minor) =>
        {
            Refusal::OtherVersion
        }
        _ => Refusal::Unsaid,
    }
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    use super::*;

    fn plan(flavour: Flavour, v: [u8; 4]) -> PlanHeader {
        let mut b = vec![0u8; 32];
        b[..4].copy_from_slice(if flavour == Flavour::TensorRt {
            b"ftrt"
        } else {
            b"vtrt"
        });
        b[24..28].copy_from_slice(&v);
        PlanHeader::sniff(&b).unwrap()
    }

    fn lib(flavour: Flavour, major: u32, minor: u32) -> (Flavour, loader::LibVersion) {
        (
            flavour,
            loader::LibVersion {
                major,
                minor,
                patch: 1,
                build: Some(7),
            },
        )
    }

    /// Runs failure_error and returns (exit code, message, hint).
    fn fail(
        libv: (Flavour, loader::LibVersion),
        gpu: GpuFacts<'_>,
        plan: Option<PlanHeader>,
        said: &[&str],
    ) -> (u8, String, String) {
        let path = PathBuf::from("/opt/trt/lib/libx.so");
        let facts = LibFacts {
            flavour: libv.0,
            version: libv.1,
            path: &path,
        };
        let f = TrtFailure {
            call: "deserializeCudaEngine".into(),
            messages: said.iter().map(|s| s.to_string()).collect(),
        };
        let e = failure_error(
            f,
            "deserialize `m.engine`",
            &facts,
            gpu,
            plan.as_ref().map(|h| (h, "X".to_string())),
        );
        let err = crate::error::find(&e).unwrap();
        (
            err.kind.exit_code(),
            err.message.clone(),
            err.hint.clone().unwrap_or_default(),
        )
    }

    const H100: GpuFacts<'static> = Ok(("NVIDIA H100", (9, 0)));

    #[test]
    fn rtx_plan_given_to_tensorrt_names_the_library_needed() {
        let (code, msg, hint) = fail(
            lib(Flavour::TensorRt, 10, 16),
            H100,
            Some(plan(Flavour::TensorRtRtx, [1, 7, 1, 116])),
            &["error: magic tag does not match"],
        );
        assert_eq!(code, ErrorKind::EngineIncompatible.exit_code());
        assert!(msg.contains("error: magic tag does not match"), "{msg}");
        assert!(hint.contains("libtensorrt_rtx.so.1"), "{hint}");
        let (_, _, hint) = fail(
            lib(Flavour::TensorRtRtx, 1, 7),
            Ok(("RTX 4090", (8, 9))),
            Some(plan(Flavour::TensorRt, [10, 16, 1, 11])),
            &[],
        );
        assert!(hint.contains("not a TensorRT-RTX one"), "{hint}");
    }

    #[test]
    fn version_mismatch_and_gpu_mismatch_hints() {
        let (code, msg, hint) = fail(
            lib(Flavour::TensorRt, 11, 4),
            H100,
            Some(plan(Flavour::TensorRt, [10, 16, 1, 11])),
            &[],
        );
        assert_eq!(code, ErrorKind::EngineIncompatible.exit_code());
        assert!(msg.contains("TensorRT logged no reason"), "{msg}");
        assert!(hint.contains("use TensorRT 10.16"), "{hint}");
        let (_, _, hint) = fail(
            lib(Flavour::TensorRt, 10, 16),
            H100,
            Some(plan(Flavour::TensorRt, [10, 16, 1, 11])),
            &[],
        );
        assert!(hint.contains("GPU model"), "{hint}");
    }

    #[test]
    fn rtx_on_compute_capability_9_says_so() {
        let (code, msg, hint) = fail(
            lib(Flavour::TensorRtRtx, 1, 7),
            H100,
            Some(plan(Flavour::TensorRtRtx, [1, 7, 1, 116])),
            &["error: some failure"],
        );
        assert_eq!(code, ErrorKind::EngineIncompatible.exit_code());
        assert!(
            msg.contains(
                "TensorRT-RTX does not run on this GPU generation (this GPU: NVIDIA H100, compute capability 9.0)"
            ),
            "{msg}"
        );
        assert!(hint.contains("8.0, 8.6, 8.9 or 12.x"), "{hint}");
        // Detected from TensorRT's words too, e.g. when the GPU could not be queried.
        let no = gpu::NoGpu::DriverError("x".into());
        let (_, msg, _) = fail(
            lib(Flavour::TensorRtRtx, 1, 7),
            Err(&no),
            None,
            &["error: Unsupported compute capability 9.0"],
        );
        assert!(msg.contains("does not run on this GPU generation"), "{msg}");
        // A supported GPU and no such words: no RTX hint.
        let (_, msg, _) = fail(
            lib(Flavour::TensorRtRtx, 1, 7),
            Ok(("RTX 4090", (8, 9))),
            Some(plan(Flavour::TensorRtRtx, [1, 7, 1, 116])),
            &[],
        );
        assert!(!msg.contains("GPU generation"), "{msg}");
    }

    #[test]
    fn without_a_gpu_tensorrt_failure_carries_the_diagnosis_and_no_gpu_status() {
        let no = gpu::NoGpu::NoSuchDevice {
            ordinal: 2,
            count: 1,
        };
        let (code, msg, hint) = fail(
            lib(Flavour::TensorRt, 10, 16),
            Err(&no),
            Some(plan(Flavour::TensorRt, [10, 16, 1, 11])),
            &["error: CUDA initialization failure with error: 101"],
        );
        assert_eq!(code, ErrorKind::NoGpu.exit_code());
        assert!(
            msg.contains("CUDA initialization failure with error: 101"),
            "{msg}"
        );
        assert!(
            msg.contains("GPU: no GPU 2: 1 CUDA device(s) found"),
            "{msg}"
        );
        assert!(hint.contains("--device"), "{hint}");
    }

    #[test]
    fn without_a_gpu_tensorrt_words_still_decide_corrupt_and_other_version() {
        let no = gpu::NoGpu::NoDriver;
        let (code, _, hint) = fail(
            lib(Flavour::TensorRt, 11, 4),
            Err(&no),
            Some(plan(Flavour::TensorRt, [11, 4, 0, 106])),
            &["error: Serialization (Serialization assertion checksum == expected failed.)"],
        );
        assert_eq!(code, ErrorKind::NotAnEngine.exit_code());
        assert!(hint.contains("damaged or cut short"), "{hint}");
        let (code, msg, _) = fail(
            lib(Flavour::TensorRt, 11, 4),
            Err(&no),
            Some(plan(Flavour::TensorRt, [10, 16, 1, 11])),
            &["error: The engine plan file is not compatible with this version of TensorRT, expecting library version 11.4.0.106 got 10.16.1.11"],
        );
        assert_eq!(code, ErrorKind::EngineIncompatible.exit_code());
        assert!(!msg.contains("GPU:"), "{msg}");
        // Another version and no words at all: still the version, not the GPU.
        let (code, _, _) = fail(
            lib(Flavour::TensorRt, 11, 4),
            Err(&no),
            Some(plan(Flavour::TensorRt, [10, 16, 1, 11])),
            &[],
        );
        assert_eq!(code, ErrorKind::EngineIncompatible.exit_code());
        // Same version, no words, no GPU: the GPU stopped it.
        let (code, _, _) = fail(
            lib(Flavour::TensorRt, 11, 4),
            Err(&no),
            Some(plan(Flavour::TensorRt, [11, 4, 0, 106])),
            &[],
        );
        assert_eq!(code, ErrorKind::NoGpu.exit_code());
    }
}
