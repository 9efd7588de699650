//! `.npz`: a zip of `.npy` members, stored or deflated.
//!
//! Each member is the weight's exact name plus `.npy`, so `np.load(f).files` lists exactly the
//! weight names, whenever that member extracts safely ([`names::assign_members`]); only names that
//! could escape or break an extraction are changed. The index (see docs/writers.md) that maps
//! members back to exact weight names and records each refit dtype is kept out of the members, in
//! the zip's comment, so the output is one file holding nothing but the weights:
//! `json.loads(zipfile.ZipFile(f).comment)` (compact JSON; an index too large for a comment,
//! 65,535 bytes, is stored deflated behind [`COMPRESSED_TAG`]).

use std::io::{self, Seek, SeekFrom, Write};
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use zip::write::SimpleFileOptions;
use zip::{CompressionMethod, DateTime};

use super::atomic::{self, Output, StagedFile, Wrap};
use super::{convert, index_json_compact, lib_failure, names, usize_shape};
use super::{Format, Plan, TensorSink, TensorView, WriterOptions, Written, WrittenTensor};

/// The zip comment of an index too large to be a comment as it is: this tag, then the index JSON
/// deflated (raw deflate, RFC 1951).
pub const COMPRESSED_TAG: &[u8] = b"trt-dump-index+deflate:";

/// The largest zip comment (its length is a u16).
const MAX_COMMENT: usize = u16::MAX as usize;

/// Members this large get zip64 headers; the zip crate refuses to write past 4 GiB otherwise.
/// Set well below 4 GiB since deflate can (slightly) expand data.
const LARGE_MEMBER: usize = 1 << 31;

/// The zip's output, which goes dead after the first I/O error or when the sink is dropped
/// unfinished: the real file is closed and every later call succeeds without writing anything.
///
/// Why: `ZipWriter`'s `Drop` finalizes the archive, and after a failed write that trips a
/// `debug_assert` in zip 6 (a panic in a debug build) or prints "ZipWriter drop failed" on stderr;
/// `ZipWriter::finish` runs the same `Drop` when it fails. A dead output lets that finalization
/// run to its end quietly, into nothing, while the temporary file is deleted. Once dead, the
/// position jumps to the furthest point reached and never moves back (seeks are ignored), so the
/// zip's bookkeeping (`file_end >= start`, footer at the end) holds whatever state the error
/// left it in. No error is lost: the first one is returned to the caller, and `dead` makes
/// `finish` refuse to publish.
struct ZipOut {
    inner: Option<Box<dyn Output>>,
    dead: Arc<AtomicBool>,
    pos: u64,
    len: u64,
}

impl ZipOut {
    fn live(&mut self) -> Option<&mut Box<dyn Output>> {
        if self.dead.load(Ordering::SeqCst) && self.inner.take().is_some() {
            self.pos = self.len;
        }
        self.inner.as_mut()
    }

    fn died<T>(&mut self, e: io::Error) -> io::Result<T> {
        self.dead.store(true, Ordering::SeqCst);
        self.inner = None;
        self.pos = self.len;
        Err(e)
    }
}

impl Write for ZipOut {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = match self.live().map(|w| w.write(buf)) {
            None => buf.len(),
            Some(Ok(n)) => n,
            Some(Err(e)) => return self.died(e),
        };
        self.pos += n as u64;
        self.len = self.len.max(self.pos);
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        match self.live().map(|w| w.flush()) {
            Some(Err(e)) => self.died(e),
            _ => Ok(()),
        }
    }
}

impl Seek for ZipOut {
    fn seek(&mut self, pos: SeekFrom) -> io::Result<u64> {
        let want = match pos {
            SeekFrom::Start(p) => Some(p),
            SeekFrom::Current(d) => self.pos.checked_add_signed(d),
            SeekFrom::End(d) => self.len.checked_add_signed(d),
        };
        let Some(want) = want else {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "seek before the start",
            ));
        };
        match self.live().map(|w| w.seek(SeekFrom::Start(want))) {
            None => Ok(self.pos),
            Some(Err(e)) => self.died(e),
            Some(Ok(_)) => {
                self.pos = want;
                Ok(want)
            }
        }
    }
}

struct Sink {
    plan: Plan,
    /// Member name of each planned tensor, `.npy` included.
    members: Vec<String>,
    staged: Option<StagedFile>,
    zip: Option<zip::ZipWriter<ZipOut>>,
    metadata: std::collections::BTreeMap<String, String>,
    options: SimpleFileOptions,
    dead: Arc<AtomicBool>,
    path: std::path::PathBuf,
}

impl Drop for Sink {
    fn drop(&mut self) {
        // Unfinished: let the zip finalize into nothing (see `ZipOut`).
        self.dead.store(true, Ordering::SeqCst);
    }
}

pub(super) fn open(
    path: &Path,
    opts: &WriterOptions,
    plan: Plan,
    wrap: Wrap,
) -> anyhow::Result<Box<dyn TensorSink>> {
    let target = atomic::file_target(path, opts.force)?;
    let refs: Vec<&str> = plan.tensors.iter().map(|t| t.name.as_str()).collect();
    let members = names::assign_members(&refs, ".npy");

    let method = if opts.compress {
        CompressionMethod::Deflated
    } else {
        CompressionMethod::Stored
    };
    // A fixed time (the zip epoch) so the same weights give the same bytes.
    let options = SimpleFileOptions::default()
        .compression_method(method)
        .last_modified_time(DateTime::default());

    let (staged, out) = StagedFile::create(target, &wrap)?;
    let dead = Arc::new(AtomicBool::new(false));
    let out = ZipOut {
        inner: Some(out),
        dead: dead.clone(),
        pos: 0,
        len: 0,
    };
    let zip = zip::ZipWriter::new(out);
    Ok(Box::new(Sink {
        plan,
        members,
        staged: Some(staged),
        zip: Some(zip),
        metadata: opts.metadata.clone(),
        options,
        dead,
        path: path.to_path_buf(),
    }))
}

/// The zip comment holding `index` (compact JSON): as it is when it fits, else deflated.
pub(crate) fn index_comment(index: Vec<u8>) -> io::Result<Vec<u8>> {
    if index.len() <= MAX_COMMENT {
        return Ok(index);
    }
    let mut enc =
        flate2::write::DeflateEncoder::new(COMPRESSED_TAG.to_vec(), flate2::Compression::best());
    enc.write_all(&index)?;
    let c = enc.finish()?;
    if c.len() > MAX_COMMENT {
        return Err(io::Error::other(format!(
            "the name index is {} bytes, {} deflated: more than a zip comment holds ({MAX_COMMENT})",
            index.len(),
            c.len()
        )));
    }
    Ok(c)
}

/// The index less the entries that say nothing a reader could not tell from the member itself
/// (member = name + `.npy`, refit dtype = stored dtype, flat shape), marked `"complete": false`:
/// for outputs with so many tensors that the whole index does not fit a zip comment even deflated.
fn sparse_index(full: &[u8]) -> Vec<u8> {
    let mut v: serde_json::Value =
        serde_json::from_slice(full).expect("written by index_json_compact");
    if let Some(ws) = v.get_mut("weights").and_then(|w| w.as_array_mut()) {
        ws.retain(|w| {
            let name = w["name"].as_str().unwrap_or("");
            w["file"].as_str() != Some(&format!("{name}.npy"))
                || w["refit_dtype"] != w["stored_dtype"]
                || w["shape_source"] != "flat"
        });
    }
    v["complete"] = false.into();
    serde_json::to_vec(&v).expect("plain data")
}

/// Reads an index written by [`index_comment`] (either form) back to its JSON bytes.
pub fn read_index_comment(comment: &[u8], max: u64) -> io::Result<Vec<u8>> {
    use std::io::Read;
    match comment.strip_prefix(COMPRESSED_TAG) {
        Some(deflated) => {
            let mut out = Vec::new();
            flate2::read::DeflateDecoder::new(deflated)
                .take(max)
                .read_to_end(&mut out)?;
            Ok(out)
        }
        None => Ok(comment.to_vec()),
    }
}

impl TensorSink for Sink {
    fn add(&mut self, t: &TensorView<'_>) -> anyhow::Result<()> {
        let path = self.path.clone();
        anyhow::ensure!(
            !self.dead.load(Ordering::SeqCst),
            "an earlier write to `{}` failed",
            path.display()
        );
        let i = self.plan.check(t)?;
        let zip = self.zip.as_mut().expect("present until finish");
        let shape = usize_shape(t.shape)?;
        let values = convert::to_numpy(t.dtype, t.data, self.plan.counts[i]);
        let member = self.members[i].clone();
        let stored_bytes = self.plan.counts[i].saturating_mul(element_bytes(t.dtype));
        let options = self.options.large_file(stored_bytes >= LARGE_MEMBER);
        let r = zip
            .start_file(member, options)
            .map_err(anyhow::Error::from)
            .and_then(|()| {
                use ndarray_npy::WriteNpyExt;
                // Buffered, as ndarray-npy's own NpzWriter does.
                let mut w = io::BufWriter::new(&mut *zip);
                with_np_array!(values, &shape, |a| a.write_npy(&mut w))?;
                w.flush()?;
                Ok(())
            });
        if let Err(e) = r {
            self.dead.store(true, Ordering::SeqCst);
            return Err(lib_failure(
                &path,
                &format!("writing weight {:?}", t.name),
                e.as_ref(),
            ));
        }
        self.plan.mark_added(i);
        Ok(())
    }

    fn finish(mut self: Box<Self>) -> anyhow::Result<Written> {
        let path = self.path.clone();
        let earlier = || anyhow::anyhow!("an earlier write to `{}` failed", path.display());
        if self.dead.load(Ordering::SeqCst) {
            return Err(earlier());
        }
        self.plan.check_complete(&path)?;
        let mut zip = self.zip.take().expect("present until finish");
        let index = index_json_compact("trt-dump-npz", &self.metadata, &self.plan, &self.members);
        let comment = index_comment(index.clone())
            .or_else(|_| index_comment(sparse_index(&index)))
            .map_err(|e| lib_failure(&path, "writing the index", &e))?;
        zip.set_raw_comment(comment.into_boxed_slice());
        let out = zip
            .finish()
            .map_err(|e| lib_failure(&path, "writing the zip directory", &e))?;
        // `dead` may have been set by an error the zip crate did not pass on.
        let Some(out) = out.inner.filter(|_| !self.dead.load(Ordering::SeqCst)) else {
            return Err(earlier());
        };
        let staged = self.staged.take().expect("present until finish");
        let bytes = staged.commit(out)?;
        let members = std::mem::take(&mut self.members);
        let tensors = self
            .plan
            .tensors
            .iter()
            .zip(members)
            .map(|(t, m)| WrittenTensor {
                name: t.name.clone(),
                stored_as: m,
                stored_dtype: convert::numpy_dtype(t.dtype),
            })
            .collect();
        Ok(Written {
            path,
            format: Format::Npz,
            bytes,
            tensors,
        })
    }
}

fn element_bytes(dtype: crate::dtype::DataType) -> usize {
    match convert::numpy_dtype(dtype) {
        "float32" | "int32" => 4,
        "float16" => 2,
        "int64" => 8,
        _ => 1,
    }
}
