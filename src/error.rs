//! The failures a user can act on, each with its own exit status.
//!
//! Code deep inside the tool returns `anyhow::Result` and adds context as it goes; where the
//! category of a failure is known it puts an [`Error`] into the chain. `cli::main` walks the chain
//! for the first [`Error`] to choose the exit status and the `hint:` line, and prints the whole
//! chain as the message, so a user sees what failed, where, and how to fix it.

use std::fmt;

/// Exit statuses. Documented in `--help`, README.md and SPEC.md; tests assert them.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ErrorKind {
    /// verify/diff: a difference was found (not an error of the tool).
    Differs,
    /// Command line not understood (clap uses 2 as well).
    Usage,
    /// An input file is missing or unreadable.
    InputUnreadable,
    /// The file is not a TensorRT plan (or is truncated or corrupt).
    NotAnEngine,
    /// TensorRT refused to deserialize: built by another TensorRT version, for another GPU, ...
    EngineIncompatible,
    /// The engine was built without REFIT.
    NotRefittable,
    /// No usable TensorRT library was found, or its version is unsupported.
    TrtNotFound,
    /// No CUDA driver, or no GPU with the requested ordinal.
    NoGpu,
    /// The engine does not fit in the GPU's free memory.
    GpuOutOfMemory,
    /// TensorRT refused a call during extraction (refit, serialize, ...).
    TrtRefused,
    /// Some named weights could not be recovered (and `--allow-missing` was not given).
    Incomplete,
    /// The round-trip proof failed: refitting the extracted values did not reproduce the engine.
    ProofFailed,
    /// The output could not be written (and nothing was left behind).
    OutputNotWritten,
    /// A map file is corrupt, of an unknown version, or does not match the engine.
    BadMap,
    /// Interrupted by SIGINT / Ctrl-C; nothing half-written was left behind.
    Interrupted,
    /// `refit`: the weights file does not fit the engine (weights TensorRT needs that nobody can
    /// give, an element count that differs, a conversion that needs `--cast`, no tensor matching).
    WeightsMismatch,
}

impl ErrorKind {
    pub const ALL: [ErrorKind; 16] = [
        ErrorKind::Differs,
        ErrorKind::Usage,
        ErrorKind::InputUnreadable,
        ErrorKind::NotAnEngine,
        ErrorKind::EngineIncompatible,
        ErrorKind::NotRefittable,
        ErrorKind::TrtNotFound,
        ErrorKind::NoGpu,
        ErrorKind::GpuOutOfMemory,
        ErrorKind::TrtRefused,
        ErrorKind::Incomplete,
        ErrorKind::ProofFailed,
        ErrorKind::OutputNotWritten,
        ErrorKind::BadMap,
        ErrorKind::Interrupted,
        ErrorKind::WeightsMismatch,
    ];

    pub fn exit_code(self) -> u8 {
        match self {
            ErrorKind::Differs => 1,
            ErrorKind::Usage => 2,
            ErrorKind::InputUnreadable => 3,
            ErrorKind::NotAnEngine => 4,
            ErrorKind::EngineIncompatible => 5,
            ErrorKind::NotRefittable => 6,
            ErrorKind::TrtNotFound => 7,
            ErrorKind::NoGpu => 8,
            ErrorKind::GpuOutOfMemory => 9,
            ErrorKind::TrtRefused => 10,
            ErrorKind::Incomplete => 11,
            ErrorKind::ProofFailed => 12,
            ErrorKind::OutputNotWritten => 13,
            ErrorKind::BadMap => 14,
            ErrorKind::Interrupted => 130,
            ErrorKind::WeightsMismatch => 16,
        }
    }

    /// The `kind` of `--json` error objects (docs/json.md): one snake_case word per exit status.
    pub fn json_name(self) -> &'static str {
        match self {
            ErrorKind::Differs => "differs",
            ErrorKind::Usage => "usage",
            ErrorKind::InputUnreadable => "input_unreadable",
            ErrorKind::NotAnEngine => "not_an_engine",
            ErrorKind::EngineIncompatible => "engine_incompatible",
            ErrorKind::NotRefittable => "not_refittable",
            ErrorKind::TrtNotFound => "tensorrt_not_found",
            ErrorKind::NoGpu => "no_gpu",
            ErrorKind::GpuOutOfMemory => "gpu_out_of_memory",
            ErrorKind::TrtRefused => "tensorrt_refused",
            ErrorKind::Incomplete => "incomplete",
            ErrorKind::ProofFailed => "proof_failed",
            ErrorKind::OutputNotWritten => "output_not_written",
            ErrorKind::BadMap => "bad_map",
            ErrorKind::Interrupted => "interrupted",
            ErrorKind::WeightsMismatch => "weights_mismatch",
        }
    }

    /// One line for the EXIT STATUS tables in `--help` and README.md.
    pub fn describe(self) -> &'static str {
        match self {
            ErrorKind::Differs => "verify/diff found a difference",
            ErrorKind::Usage => "command line not understood",
            ErrorKind::InputUnreadable => "an input file is missing or unreadable",
            ErrorKind::NotAnEngine => "not a TensorRT engine (or truncated/corrupt)",
            ErrorKind::EngineIncompatible => {
                "engine built by another TensorRT version or for another GPU"
            }
            ErrorKind::NotRefittable => "engine not built with REFIT",
            ErrorKind::TrtNotFound => "no usable TensorRT library found",
            ErrorKind::NoGpu => "no CUDA driver, or no such GPU",
            ErrorKind::GpuOutOfMemory => "not enough free GPU memory for the engine",
            ErrorKind::TrtRefused => "TensorRT refused a refit or serialize call",
            ErrorKind::Incomplete => "some weights not recovered (or not in the map); nothing written (see --allow-missing)",
            ErrorKind::ProofFailed => "round-trip proof failed: output not trusted",
            ErrorKind::OutputNotWritten => "output not written (nothing left behind)",
            ErrorKind::BadMap => "map file corrupt or not for this engine",
            ErrorKind::Interrupted => "interrupted (Ctrl-C); nothing left behind",
            ErrorKind::WeightsMismatch => "refit: the weights file does not fit the engine; nothing written",
        }
    }
}

/// A failure whose category is known. Rides in an `anyhow` chain.
#[derive(Debug)]
pub struct Error {
    pub kind: ErrorKind,
    pub message: String,
    pub hint: Option<String>,
}

impl Error {
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Error {
        Error {
            kind,
            message: message.into(),
            hint: None,
        }
    }

    pub fn with_hint(mut self, hint: impl Into<String>) -> Error {
        self.hint = Some(hint.into());
        self
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Error {}

/// Shorthand: `bail_kind!(ErrorKind::NotAnEngine, "…{}…", x)` returns an `anyhow::Error` holding an
/// [`Error`] of that kind.
#[macro_export]
macro_rules! bail_kind {
    ($kind:expr, $($arg:tt)+) => {
        return Err(anyhow::Error::new($crate::error::Error::new($kind, format!($($arg)+))))
    };
}

/// The first [`Error`] in an `anyhow` chain, if any.
pub fn find(err: &anyhow::Error) -> Option<&Error> {
    err.chain().find_map(|e| e.downcast_ref::<Error>())
}

/// The exit status for a failed run.
pub fn exit_code_of(err: &anyhow::Error) -> u8 {
    find(err).map(|e| e.kind.exit_code()).unwrap_or(EXIT_OTHER)
}

/// Exit status for failures of no known category (I/O errors in places we did not foresee).
pub const EXIT_OTHER: u8 = 15;

#[cfg(test)]
mod tests {
    use super::*;
    use anyhow::Context;

    #[test]
    fn exit_codes_are_distinct_and_not_zero() {
        let mut seen = std::collections::HashSet::new();
        for k in ErrorKind::ALL {
            assert_ne!(k.exit_code(), 0);
            assert_ne!(k.exit_code(), EXIT_OTHER);
            assert!(seen.insert(k.exit_code()), "{k:?} reuses an exit code");
        }
    }

    #[test]
    fn json_names_are_distinct_snake_case() {
        let mut seen = std::collections::HashSet::new();
        for k in ErrorKind::ALL {
            let n = k.json_name();
            assert!(n.chars().all(|c| c.is_ascii_lowercase() || c == '_'), "{n}");
            assert!(seen.insert(n), "{n} reused");
        }
    }

    #[test]
    fn kind_is_found_under_context() {
        let r: anyhow::Result<()> =
            Err(anyhow::Error::new(Error::new(ErrorKind::NotAnEngine, "x")));
        let e = r.context("reading `a.engine`").unwrap_err();
        assert_eq!(exit_code_of(&e), 4);
        assert_eq!(exit_code_of(&anyhow::anyhow!("plain")), EXIT_OTHER);
    }
}
