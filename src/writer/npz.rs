//! `.npz`: a zip of `.npy` members (ndarray-npy's `NpzWriter`), stored or deflated.
//!
//! Member names are the weight names made safe by [`names`](super::names) (plus `.npy`), so
//! unzipping the file can never write outside the folder unzipped into. The first member,
//! `__trt_dump_index__.npy`, is a 1-D uint8 array holding UTF-8 JSON (see docs/writers.md) that
//! maps members back to exact weight names and records each refit dtype:
//! `json.loads(np.load(f)["__trt_dump_index__"].tobytes())`.

use std::path::Path;

use zip::write::SimpleFileOptions;
use zip::{CompressionMethod, DateTime};

use super::atomic::{self, Output, StagedFile, Wrap};
use super::{convert, index_json, lib_failure, names, usize_shape};
use super::{Format, Plan, TensorSink, TensorView, WriterOptions, Written, WrittenTensor};

pub(crate) const INDEX_MEMBER: &str = "__trt_dump_index__";

/// Members this large get zip64 headers; the zip crate refuses to write past 4 GiB otherwise.
/// Set well below 4 GiB since deflate can (slightly) expand data.
const LARGE_MEMBER: usize = 1 << 31;

struct Sink {
    plan: Plan,
    /// Member name of each planned tensor, `.npy` included.
    members: Vec<String>,
    staged: StagedFile,
    zip: Option<ndarray_npy::NpzWriter<Box<dyn Output>>>,
    options: SimpleFileOptions,
    failed: bool,
}

pub(super) fn open(path: &Path, opts: &WriterOptions, plan: Plan, wrap: Wrap) -> anyhow::Result<Box<dyn TensorSink>> {
    let target = atomic::file_target(path, opts.force)?;
    let refs: Vec<&str> = plan.tensors.iter().map(|t| t.name.as_str()).collect();
    let index_member = format!("{INDEX_MEMBER}.npy");
    let members = names::assign(&refs, ".npy", &[&index_member]);

    let method = if opts.compress { CompressionMethod::Deflated } else { CompressionMethod::Stored };
    // A fixed time (the zip epoch) so the same weights give the same bytes.
    let options = SimpleFileOptions::default().compression_method(method).last_modified_time(DateTime::default());

    let (staged, out) = StagedFile::create(target, &wrap)?;
    let mut zip = ndarray_npy::NpzWriter::new_with_options(out, options);
    let index = ndarray::Array1::from(index_json("trt-dump-npz", &opts.metadata, &plan, &members));
    zip.add_array(INDEX_MEMBER, &index).map_err(|e| lib_failure(path, "writing the index", &e))?;
    Ok(Box::new(Sink { plan, members, staged, zip: Some(zip), options, failed: false }))
}

impl TensorSink for Sink {
    fn add(&mut self, t: &TensorView<'_>) -> anyhow::Result<()> {
        let path = self.staged.target.path.clone();
        anyhow::ensure!(!self.failed, "an earlier write to `{}` failed", path.display());
        let i = self.plan.check(t)?;
        let zip = self.zip.as_mut().expect("present until finish");
        let shape = usize_shape(t.shape)?;
        let values = convert::to_numpy(t.dtype, t.data, self.plan.counts[i]);
        let stem = self.members[i].strip_suffix(".npy").expect("names end in .npy");
        let stored_bytes = self.plan.counts[i].saturating_mul(element_bytes(t.dtype));
        let options = self.options.large_file(stored_bytes >= LARGE_MEMBER);
        let r = with_np_array!(values, &shape, |a| zip.add_array_with_options(stem, &a, options));
        if let Err(e) = r {
            self.failed = true;
            return Err(lib_failure(&path, &format!("writing weight {:?}", t.name), &e));
        }
        self.plan.mark_added(i);
        Ok(())
    }

    fn finish(mut self: Box<Self>) -> anyhow::Result<Written> {
        let path = self.staged.target.path.clone();
        anyhow::ensure!(!self.failed, "an earlier write to `{}` failed", path.display());
        self.plan.check_complete(&path)?;
        let zip = self.zip.take().expect("present until finish");
        let out = zip.finish().map_err(|e| lib_failure(&path, "writing the zip directory", &e))?;
        let Sink { plan, members, staged, .. } = *self;
        let bytes = staged.commit(out)?;
        let tensors = plan
            .tensors
            .iter()
            .zip(members)
            .map(|(t, m)| WrittenTensor { name: t.name.clone(), stored_as: m, stored_dtype: convert::numpy_dtype(t.dtype) })
            .collect();
        Ok(Written { path, format: Format::Npz, bytes, tensors })
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
