//! Everything the tool says on stderr goes through here, so `-q` and `-v` are honoured in one place
//! and stdout carries only data (`--json`, `list` output).

use std::sync::atomic::{AtomicU8, AtomicUsize, Ordering};

static VERBOSITY: AtomicU8 = AtomicU8::new(1);
static WARNINGS: AtomicUsize = AtomicUsize::new(0);

/// 0 = quiet (errors only), 1 = normal, 2 = `-v`, 3 = `-vv`.
pub fn set_verbosity(level: u8) {
    VERBOSITY.store(level, Ordering::Relaxed);
}

pub fn verbosity() -> u8 {
    VERBOSITY.load(Ordering::Relaxed)
}

pub fn warnings() -> usize {
    WARNINGS.load(Ordering::Relaxed)
}

pub fn count_warning() {
    WARNINGS.fetch_add(1, Ordering::Relaxed);
}

/// Normal progress notes (hidden by `-q`).
#[macro_export]
macro_rules! note {
    ($($arg:tt)+) => {
        if $crate::messages::verbosity() >= 1 {
            eprintln!("trt-dump: {}", format!($($arg)+));
        }
    };
}

/// Detail shown with `-v`.
#[macro_export]
macro_rules! detail {
    ($($arg:tt)+) => {
        if $crate::messages::verbosity() >= 2 {
            eprintln!("trt-dump: {}", format!($($arg)+));
        }
    };
}

/// A non-fatal problem: always shown unless `-q`, and counted.
#[macro_export]
macro_rules! warn {
    ($($arg:tt)+) => {{
        $crate::messages::count_warning();
        if $crate::messages::verbosity() >= 1 {
            eprintln!("trt-dump: warning: {}", format!($($arg)+));
        }
    }};
}
