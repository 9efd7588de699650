//! All-or-nothing outputs: everything is written into a temporary file (or folder) beside the
//! target and renamed into place only when complete. Dropping before that removes the temporary,
//! so an interrupted or failed run leaves nothing behind, and an existing output is replaced in
//! one step or not at all.
//!
//! Why beside the target: `rename` is atomic only within one file system, and the target's own
//! folder is the one place certain to be on the same one (cargo's
//! `create_dir_all_excluded_from_backups_atomic` and safetensors' `serialize_to_file` do the same).

use std::fs::{self, File};
use std::io::{self, BufWriter, Seek, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::Context;
use tempfile::{TempDir, TempPath};

use crate::error::{Error, ErrorKind};

/// Temporary names start with this, so a user who finds one after a `kill -9` knows its origin.
const TEMP_PREFIX: &str = ".trt-dump-";

/// What the writers write into: a buffered temporary file in production, a failing writer in
/// tests (there is no portable way to fill a disk in a test).
pub(crate) trait Output: Write + Seek + Send {
    /// Flushes buffers and makes the data durable before the rename publishes it.
    fn sync(&mut self) -> io::Result<()>;
}

impl Output for BufWriter<File> {
    fn sync(&mut self) -> io::Result<()> {
        self.flush()?;
        self.get_ref().sync_all()
    }
}

/// Makes the [`Output`] for each temporary file created.
pub(crate) type Wrap = Arc<dyn Fn(File) -> Box<dyn Output> + Send + Sync>;

pub(crate) fn buffered() -> Wrap {
    Arc::new(|f| Box::new(BufWriter::with_capacity(1 << 16, f)))
}

/// An [`Error`] of kind `OutputNotWritten` naming the output.
pub(crate) fn not_written(
    path: &Path,
    what: impl std::fmt::Display,
    hint: impl Into<String>,
) -> anyhow::Error {
    anyhow::Error::new(
        Error::new(
            ErrorKind::OutputNotWritten,
            format!("output `{}` not written: {what}", path.display()),
        )
        .with_hint(hint),
    )
}

/// `not_written` for an I/O failure, with a hint fitting its cause.
pub(crate) fn io_failure(path: &Path, doing: &str, err: &io::Error) -> anyhow::Error {
    let folder = parent_of(path);
    let hint = match err.kind() {
        io::ErrorKind::StorageFull | io::ErrorKind::QuotaExceeded | io::ErrorKind::FileTooLarge => {
            format!(
                "free space on the disk holding `{}`, or write elsewhere; nothing was left behind",
                folder.display()
            )
        }
        io::ErrorKind::PermissionDenied | io::ErrorKind::ReadOnlyFilesystem => {
            format!(
                "choose a folder you can write to (`{}` is not writable)",
                folder.display()
            )
        }
        _ => "check the output path and the disk; nothing was left behind".to_string(),
    };
    not_written(path, format!("{doing}: {err}"), hint)
}

fn parent_of(path: &Path) -> PathBuf {
    match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    }
}

/// What is at the output path now (links not followed).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Existing {
    Nothing,
    File,
    Symlink,
    EmptyDir,
    Dir,
    /// A fifo, socket or device: never replaced.
    Special,
}

pub(crate) fn inspect(path: &Path) -> anyhow::Result<Existing> {
    let meta = match fs::symlink_metadata(path) {
        Ok(m) => m,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Existing::Nothing),
        Err(e) => return Err(io_failure(path, "cannot inspect it", &e)),
    };
    let ft = meta.file_type();
    Ok(if ft.is_symlink() {
        Existing::Symlink
    } else if ft.is_file() {
        Existing::File
    } else if ft.is_dir() {
        let mut entries = fs::read_dir(path).map_err(|e| io_failure(path, "cannot list it", &e))?;
        if entries.next().is_none() {
            Existing::EmptyDir
        } else {
            Existing::Dir
        }
    } else {
        Existing::Special
    })
}

/// An output location whose parent folder exists and whose current content may be replaced.
#[derive(Clone, Debug)]
pub(crate) struct Target {
    pub path: PathBuf,
    pub parent: PathBuf,
    pub force: bool,
}

fn check_parent(path: &Path) -> anyhow::Result<PathBuf> {
    if path.file_name().is_none() {
        return Err(not_written(
            path,
            "it names no file or folder",
            "give a path such as `out/weights.safetensors`",
        ));
    }
    let parent = parent_of(path);
    match fs::metadata(&parent) {
        Ok(m) if m.is_dir() => Ok(parent),
        Ok(_) => Err(not_written(
            path,
            format!("`{}` is not a folder", parent.display()),
            "choose an output path inside a folder",
        )),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Err(not_written(
            path,
            format!("folder `{}` does not exist", parent.display()),
            format!(
                "create it first (mkdir -p {}), or choose another path",
                parent.display()
            ),
        )),
        Err(e) => Err(io_failure(
            path,
            &format!("cannot reach folder `{}`", parent.display()),
            &e,
        )),
    }
}

fn refuse_existing(path: &Path, what: &str) -> anyhow::Error {
    not_written(
        path,
        format!("{what} already exists (use --force to replace it)"),
        "pass --force to replace it, or choose another output path",
    )
}

/// Checks a path for a single-file output (safetensors, npz).
pub(crate) fn file_target(path: &Path, force: bool) -> anyhow::Result<Target> {
    if super::ends_with_separator(path) {
        return Err(not_written(
            path,
            "a path ending in `/` names a folder, but this format writes a single file",
            "drop the trailing `/`, or use --format npy for a folder of .npy files",
        ));
    }
    let parent = check_parent(path)?;
    match inspect(path)? {
        Existing::Nothing => {}
        Existing::File if force => {}
        Existing::File => return Err(refuse_existing(path, "a file")),
        // Replacing the link itself, never writing through it to wherever it points.
        Existing::Symlink if force => {}
        Existing::Symlink => {
            return Err(not_written(
                path,
                "it is a symbolic link, and trt-dump does not write through links (use --force to replace the link itself)",
                "pass --force to replace the link with the output file (its target is left alone), or write elsewhere",
            ))
        }
        Existing::EmptyDir | Existing::Dir => {
            return Err(not_written(
                path,
                "it is a folder, but this format writes a single file",
                "name a file inside it (e.g. `DIR/weights.safetensors`), or use --format npy for a folder of .npy files",
            ))
        }
        Existing::Special => {
            return Err(not_written(path, "it is not a regular file (a device, fifo or socket)", "choose another output path"))
        }
    }
    Ok(Target {
        path: path.to_path_buf(),
        parent,
        force,
    })
}

/// Checks a path for a folder output (npy). `is_ours` says whether an existing non-empty folder
/// was written by trt-dump, the only kind `--force` may delete.
pub(crate) fn dir_target(
    path: &Path,
    force: bool,
    is_ours: impl Fn(&Path) -> bool,
) -> anyhow::Result<Target> {
    let parent = check_parent(path)?;
    match inspect(path)? {
        // An empty folder holds nothing to lose: replaced without --force.
        Existing::Nothing | Existing::EmptyDir => {}
        Existing::Dir if !force => return Err(refuse_existing(path, "a folder")),
        Existing::Dir if is_ours(path) => {}
        Existing::Dir => {
            return Err(not_written(
                path,
                "the folder exists and is not a trt-dump .npy output (it holds files other than index.json and .npy files written by trt-dump); refusing to delete it, even with --force",
                "choose a new folder, or empty or remove this one yourself",
            ))
        }
        Existing::Symlink if force => {}
        Existing::Symlink => {
            return Err(not_written(
                path,
                "it is a symbolic link, and trt-dump does not write through links (use --force to replace the link itself)",
                "pass --force to replace the link with the output folder (its target is left alone), or write elsewhere",
            ))
        }
        Existing::File | Existing::Special => {
            return Err(not_written(path, "it exists and is not a folder", "choose another output path for the .npy folder"))
        }
    }
    Ok(Target {
        path: path.to_path_buf(),
        parent,
        force,
    })
}

fn temp_builder() -> tempfile::Builder<'static, 'static> {
    let mut b = tempfile::Builder::new();
    b.prefix(TEMP_PREFIX).suffix(".partial");
    // Created 0666/0777 less the umask, like any new file: tempfile's default 0600 would make the
    // published output private to its owner.
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        b.permissions(fs::Permissions::from_mode(0o777));
    }
    b
}

/// Creates and removes a temporary file where the output's temporary will go: a folder that
/// cannot be written (permissions, a read-only file system, an immutable folder) is found before
/// the work that would fill it, not after.
pub(crate) fn probe_writable(target: &Target) -> anyhow::Result<()> {
    temp_builder()
        .tempfile_in(&target.parent)
        .map(drop)
        .map_err(|e| {
            io_failure(
                &target.path,
                &format!("cannot create a file in `{}`", target.parent.display()),
                &e,
            )
        })
}

/// A temporary file beside the target; deleted on drop unless committed.
pub(crate) struct StagedFile {
    temp: TempPath,
    pub target: Target,
    _registered: crate::cleanup::Registered,
}

impl StagedFile {
    pub fn create(target: Target, wrap: &Wrap) -> anyhow::Result<(StagedFile, Box<dyn Output>)> {
        let mut b = temp_builder();
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            b.permissions(fs::Permissions::from_mode(0o666));
        }
        let temp = b.tempfile_in(&target.parent).map_err(|e| {
            io_failure(
                &target.path,
                &format!("cannot create a file in `{}`", target.parent.display()),
                &e,
            )
        })?;
        let (file, temp) = temp.into_parts();
        let _registered = crate::cleanup::register(&temp);
        Ok((
            StagedFile {
                temp,
                target,
                _registered,
            },
            wrap(file),
        ))
    }

    /// The temporary file (to read what was written back before `commit`).
    pub fn temp_path(&self) -> &Path {
        &self.temp
    }

    /// Syncs `out` and renames the temporary file to the target. Without --force this never
    /// replaces anything, even something created at the target while we were writing.
    pub fn commit(self, mut out: Box<dyn Output>) -> anyhow::Result<u64> {
        let path = &self.target.path;
        out.sync().map_err(|e| io_failure(path, "writing it", &e))?;
        let bytes = out
            .stream_position()
            .map_err(|e| io_failure(path, "writing it", &e))?;
        drop(out);
        let len = fs::metadata(&self.temp)
            .map_err(|e| io_failure(path, "writing it", &e))?
            .len();
        debug_assert!(len >= bytes);
        let persisted = if self.target.force {
            self.temp.persist(path)
        } else {
            self.temp.persist_noclobber(path)
        };
        persisted.map_err(|e| {
            if e.error.kind() == io::ErrorKind::AlreadyExists {
                refuse_existing(path, "something")
            } else {
                io_failure(path, "moving the finished file into place", &e.error)
            }
        })?;
        sync_dir(&self.target.parent);
        Ok(len)
    }
}

/// Makes a rename durable. Best effort: the output is already in place, so a failure here must
/// not report it as not written.
fn sync_dir(dir: &Path) {
    if let Ok(d) = File::open(dir) {
        let _ = d.sync_all();
    }
}

/// A temporary folder beside the target; removed with its content on drop unless committed.
pub(crate) struct StagedDir {
    temp: TempDir,
    pub target: Target,
    _registered: crate::cleanup::Registered,
}

impl StagedDir {
    pub fn create(target: Target) -> anyhow::Result<StagedDir> {
        let temp = temp_builder().tempdir_in(&target.parent).map_err(|e| {
            io_failure(
                &target.path,
                &format!("cannot create a folder in `{}`", target.parent.display()),
                &e,
            )
        })?;
        let _registered = crate::cleanup::register(temp.path());
        Ok(StagedDir {
            temp,
            target,
            _registered,
        })
    }

    pub fn path(&self) -> &Path {
        self.temp.path()
    }

    /// Moves the finished folder to the target. Nothing there, or an empty folder: one rename
    /// (rename(2) replaces an empty folder atomically). A previous output or a link (checked and
    /// allowed by [`dir_target`]): renamed aside into a temporary folder first, the new one
    /// renamed in, then the old one deleted; should the second rename fail, the old one is put
    /// back.
    pub fn commit(self, is_ours: impl Fn(&Path) -> bool) -> anyhow::Result<()> {
        let path = self.target.path.clone();
        let moved = |e: &io::Error| io_failure(&path, "moving the finished folder into place", e);
        // Checked again: the target may have changed during a long extraction.
        let existing = match inspect(&path)? {
            Existing::Nothing | Existing::EmptyDir => None,
            e @ Existing::Symlink if self.target.force => Some(e),
            e @ Existing::Dir if self.target.force && is_ours(&path) => Some(e),
            _ => {
                dir_target(&path, self.target.force, &is_ours)?;
                return Err(refuse_existing(&path, "something"));
            }
        };
        match existing {
            None => {
                // Renaming onto a non-empty folder or a file fails (ENOTEMPTY, ENOTDIR), so what
                // appeared since the check is never clobbered.
                fs::rename(self.temp.path(), &path).map_err(|e| {
                    if matches!(
                        e.kind(),
                        io::ErrorKind::DirectoryNotEmpty | io::ErrorKind::NotADirectory
                    ) {
                        refuse_existing(&path, "something")
                    } else {
                        moved(&e)
                    }
                })?;
            }
            Some(_) => {
                let trash = temp_builder()
                    .tempdir_in(&self.target.parent)
                    .map_err(|e| io_failure(&path, "making room to replace the old output", &e))?;
                let old = trash.path().join("old");
                fs::rename(&path, &old)
                    .map_err(|e| io_failure(&path, "moving the old output aside", &e))?;
                if let Err(e) = fs::rename(self.temp.path(), &path) {
                    let restored = fs::rename(&old, &path);
                    return Err(moved(&e)).with_context(|| match restored {
                        Ok(()) => "the previous output was left as it was".to_string(),
                        Err(r) => format!(
                            "the previous output could not be put back ({r}); it is in `{}`",
                            trash.keep().join("old").display()
                        ),
                    });
                }
                // Deleting `trash` removes the old output (or just the old link: remove_dir_all
                // never follows links).
                drop(trash);
            }
        }
        // Already moved: keep the TempDir from deleting whatever is at its old path now.
        let _ = self.temp.keep();
        sync_dir(&self.target.parent);
        Ok(())
    }
}
