//! Temporary files and folders to remove when the process exits at once (a second Ctrl-C).
//!
//! Temporaries are normally removed by their owners' `Drop` (a failed or interrupted run unwinds
//! through them), but `std::process::exit` runs no destructors. Every owner of a temporary
//! therefore registers it here for as long as it exists, and the exit-now path removes whatever is
//! registered before exiting, so even the second Ctrl-C leaves no `.trt-dump-*` file or scratch
//! folder behind.

use std::path::{Path, PathBuf};
use std::sync::Mutex;

static LIVE: Mutex<Vec<PathBuf>> = Mutex::new(Vec::new());

fn live() -> std::sync::MutexGuard<'static, Vec<PathBuf>> {
    LIVE.lock().unwrap_or_else(|p| p.into_inner())
}

/// Keeps `path` registered until dropped (dropping does not remove the path: its owner does).
#[derive(Debug)]
pub struct Registered(PathBuf);

/// Registers a temporary file or folder.
pub fn register(path: &Path) -> Registered {
    live().push(path.to_path_buf());
    Registered(path.to_path_buf())
}

impl Drop for Registered {
    fn drop(&mut self) {
        let mut l = live();
        if let Some(i) = l.iter().rposition(|p| *p == self.0) {
            l.swap_remove(i);
        }
    }
}

/// The paths registered now.
pub fn registered() -> Vec<PathBuf> {
    live().clone()
}

/// Removes every registered temporary (files, and folders with their content); best effort.
pub fn remove_all() {
    let paths = std::mem::take(&mut *live());
    for p in paths {
        match std::fs::symlink_metadata(&p) {
            Ok(m) if m.is_dir() => {
                let _ = std::fs::remove_dir_all(&p);
            }
            Ok(_) => {
                let _ = std::fs::remove_file(&p);
            }
            Err(_) => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn registered_temporaries_are_removed_and_dropped_ones_forgotten() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join(".trt-dump-x.partial");
        let d = dir.path().join("trt-dump-scratch");
        std::fs::write(&f, b"half").unwrap();
        std::fs::create_dir(&d).unwrap();
        std::fs::write(d.join("pass0.plan"), b"plan").unwrap();
        let kept = dir.path().join("kept");
        std::fs::write(&kept, b"mine").unwrap();
        let (_a, _b) = (register(&f), register(&d));
        drop(register(&kept));
        assert!(!registered().contains(&kept));
        remove_all();
        assert!(!f.exists() && !d.exists() && kept.exists());
    }
}
