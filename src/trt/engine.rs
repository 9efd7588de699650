//! [`TrtEngine`]: a refittable engine file, ready for extraction — the pipeline's
//! [`Engine`] for real TensorRT.

use std::ffi::CString;
use std::path::Path;

use super::result::TrtFailure;
use super::safe::Refitter;
use super::session::{Options, Session};
use crate::dtype::DataType;
use crate::engine_file::EngineFile;
use crate::error::{Error, ErrorKind};
use crate::pipeline::{Engine, Instance, PlanBytes, WeightSpec};

/// The `NotRefittable` error.
pub fn not_refittable(file: &EngineFile) -> anyhow::Error {
    anyhow::Error::new(
        Error::new(
            ErrorKind::NotRefittable,
            format!(
                "engine `{}` was not built refittable, so its weights cannot be extracted",
                file.path.display()
            ),
        )
        .with_hint(
            "rebuild it with REFIT: `trtexec --refit` (or --stripWeights, which implies refit), or \
             config.set_flag(trt.BuilderFlag.REFIT) in Python (BuilderFlag::kREFIT in C++)",
        ),
    )
}

/// Number of threads to give the refitter.
fn refit_threads() -> i32 {
    std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1)
        .min(i32::MAX as usize) as i32
}

/// The refittable weights of an engine (`getAllWeights` + `getWeightsPrototype`), in the
/// refitter's order, with the exact names to pass back to TensorRT.
pub fn list_weights(refitter: &Refitter) -> anyhow::Result<(Vec<WeightSpec>, Vec<CString>)> {
    let names = refitter.all_weights();
    let mut specs = Vec::with_capacity(names.len());
    for name in &names {
        let (dt, count) = refitter.weights_prototype(name)?;
        let shown = name.to_string_lossy().into_owned();
        let dtype = DataType::from_trt(dt).ok_or_else(|| {
            anyhow::Error::new(Error::new(
                ErrorKind::TrtRefused,
                format!(
                    "weight `{shown}` has TensorRT data type {dt}, which this build of trt-dump does not know \
                     (known: 0..=11); a newer trt-dump is needed"
                ),
            ))
        })?;
        if shown.as_bytes() != name.as_bytes() {
            crate::warn!("weight name {:?} is not UTF-8; shown as `{shown}`", name);
        }
        specs.push(WeightSpec {
            name: shown,
            dtype,
            count: count as u64,
        });
    }
    Ok((specs, names))
}

/// Whether this TensorRT has `SerializationFlag::kINCLUDE_REFIT` (TensorRT 10.14+, 11.x,
/// TensorRT-RTX 1.3+).
pub fn has_include_refit(lib: &super::loader::TrtLib) -> bool {
    let v = &lib.version;
    match lib.flavour {
        crate::plan::Flavour::TensorRt => v.major > 10 || (v.major == 10 && v.minor >= 14),
        crate::plan::Flavour::TensorRtRtx => v.major > 1 || (v.major == 1 && v.minor >= 3),
    }
}

/// A refittable engine file, ready for extraction: the pipeline's [`Engine`].
pub struct TrtEngine {
    pub file: EngineFile,
    pub session: Session,
    weights: Vec<WeightSpec>,
    names: Vec<CString>,
}

impl TrtEngine {
    /// Opens the file, loads TensorRT, checks the engine is refittable and lists its weights.
    pub fn open(opts: &Options, path: &Path) -> anyhow::Result<TrtEngine> {
        TrtEngine::from_file(opts, EngineFile::open(path)?)
    }

    pub fn from_file(opts: &Options, file: EngineFile) -> anyhow::Result<TrtEngine> {
        let session = Session::open(opts, &file)?;
        let engine = session.deserialize(&file)?;
        if !engine.is_refittable() {
            return Err(not_refittable(&file));
        }
        let refitter = engine.create_refitter(refit_threads())?;
        let (weights, names) = list_weights(&refitter)?;
        Ok(TrtEngine {
            file,
            session,
            weights,
            names,
        })
    }

    pub fn names(&self) -> &[CString] {
        &self.names
    }

    /// The refittable weights (the same as [`Engine::weights`], without importing the trait).
    pub fn weights_list(&self) -> &[WeightSpec] {
        &self.weights
    }
}

impl Engine for TrtEngine {
    fn weights(&self) -> &[WeightSpec] {
        &self.weights
    }

    fn instance(&self) -> anyhow::Result<Box<dyn Instance + '_>> {
        let engine = self.session.deserialize(&self.file)?;
        let refitter = engine.create_refitter(refit_threads())?;
        Ok(Box::new(TrtInstance {
            refitter,
            engine: self,
        }))
    }

    fn instance_of(&self, plan: &[u8]) -> anyhow::Result<Box<dyn Instance + '_>> {
        let engine = self
            .session
            .deserialize_bytes(plan, "a refitted serialization")?;
        let refitter = engine.create_refitter(refit_threads())?;
        Ok(Box::new(TrtInstance {
            refitter,
            engine: self,
        }))
    }
}

/// One deserialized engine with its refitter.
struct TrtInstance<'a> {
    refitter: Refitter,
    engine: &'a TrtEngine,
}

impl Instance for TrtInstance<'_> {
    fn serialize(&mut self) -> anyhow::Result<Box<dyn PlanBytes>> {
        Ok(Box::new(self.refitter.engine().serialize()?))
    }

    fn serialize_including_weights(&mut self) -> anyhow::Result<Box<dyn PlanBytes>> {
        use super::abi::serialization_flag::{EXCLUDE_WEIGHTS, INCLUDE_REFIT};
        let engine = self.refitter.engine();
        let config = engine.create_serialization_config()?;
        config.set_flag(EXCLUDE_WEIGHTS, false);
        if has_include_refit(&self.engine.session.lib) {
            config.set_flag(INCLUDE_REFIT, true);
        }
        Ok(Box::new(engine.serialize_with_config(&config)?))
    }

    fn refit_some(&mut self, values: &[Option<&[u8]>]) -> anyhow::Result<Vec<usize>> {
        let specs = &self.engine.weights;
        anyhow::ensure!(
            values.len() == specs.len(),
            "refit given {} buffers for {} weights",
            values.len(),
            specs.len()
        );
        for ((spec, name), buf) in specs.iter().zip(&self.engine.names).zip(values) {
            let Some(buf) = buf else { continue };
            anyhow::ensure!(
                buf.len() as u64 == spec.refit_bytes(),
                "weight `{}`: {} bytes given, {} {} elements need {}",
                spec.name,
                buf.len(),
                spec.count,
                spec.dtype,
                spec.refit_bytes()
            );
            // SAFETY: as in `refit`: `buf` holds `count` elements of the refit dtype and outlives
            // this method, which ends with refitCudaEngine or returns without refitting (the
            // caller then drops this instance).
            unsafe {
                self.refitter.set_named_weights(
                    name,
                    spec.dtype.to_trt(),
                    buf.as_ptr() as *const std::ffi::c_void,
                    spec.count as i64,
                )
            }
            .map_err(TrtFailure::refused)?;
        }
        let missing = self.refitter.missing_weights();
        if !missing.is_empty() {
            let index: std::collections::HashMap<&[u8], usize> = self
                .engine
                .names
                .iter()
                .enumerate()
                .map(|(i, n)| (n.as_bytes(), i))
                .collect();
            let mut out: Vec<usize> = missing
                .iter()
                .filter_map(|n| index.get(n.as_bytes()).copied())
                .collect();
            out.sort_unstable();
            anyhow::ensure!(
                !out.is_empty(),
                "TensorRT misses weights it does not list in getAllWeights"
            );
            return Ok(out);
        }
        self.refitter
            .refit_cuda_engine()
            .map_err(TrtFailure::refused)?;
        Ok(Vec::new())
    }

    fn refit(&mut self, values: &[&[u8]]) -> anyhow::Result<()> {
        let specs = &self.engine.weights;
        anyhow::ensure!(
            values.len() == specs.len(),
            "refit given {} buffers for {} weights",
            values.len(),
            specs.len()
        );
        for ((spec, name), buf) in specs.iter().zip(&self.engine.names).zip(values) {
            let want = spec.refit_bytes();
            anyhow::ensure!(
                buf.len() as u64 == want,
                "weight `{}`: {} bytes given, {} {} elements need {want}",
                spec.name,
                buf.len(),
                spec.count,
                spec.dtype
            );
            // SAFETY: `buf` holds `count` elements of the weight's refit dtype and outlives this
            // method, which ends with refitCudaEngine (or an error, after which this instance is
            // refitted again only through another full call of `refit`, which sets every weight).
            unsafe {
                self.refitter.set_named_weights(
                    name,
                    spec.dtype.to_trt(),
                    buf.as_ptr() as *const std::ffi::c_void,
                    spec.count as i64,
                )
            }
            .map_err(TrtFailure::refused)?;
        }
        let missing = self.refitter.missing_weights();
        if !missing.is_empty() {
            let list: Vec<String> = missing
                .iter()
                .take(10)
                .map(|n| n.to_string_lossy().into_owned())
                .collect();
            return Err(anyhow::Error::new(Error::new(
                ErrorKind::TrtRefused,
                format!(
                    "TensorRT still misses {} weight(s) after every listed weight was set: {}{}",
                    missing.len(),
                    list.join(", "),
                    if missing.len() > 10 { ", ..." } else { "" }
                ),
            )));
        }
        self.refitter
            .refit_cuda_engine()
            .map_err(TrtFailure::refused)
    }
}
