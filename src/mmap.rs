//! The one place outside the TensorRT binding that needs `unsafe`: mapping a file read-only.

use std::fs::File;

use memmap2::Mmap;

/// Maps `file` read-only.
///
/// Engines are tens of GB; reading them into memory would double the tool's footprint, and the
/// temporary serializations of large engines are read the same way.
#[allow(unsafe_code)]
pub(crate) fn map_readonly(file: &File) -> std::io::Result<Mmap> {
    // SAFETY: the mapping is read-only and only ever read through `&[u8]`. The remaining hazard is
    // another process truncating or rewriting the file while it is mapped (SIGBUS or changed bytes),
    // which a command-line tool reading its own inputs accepts, as ripgrep does: the engine is
    // opened read-only and never written by us, and temporary files live in a private directory.
    unsafe { Mmap::map(file) }
}
