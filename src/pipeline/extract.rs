//! The extraction itself: normalise, baseline, marker passes, decode, read, prove (`proof.rs`).
//!
//! Every serialization is made by a fresh instance of the engine, so the refitted ones (baseline,
//! markers, proof) have each seen exactly one refit and share a layout, and the normalised original
//! (a fresh instance serialized without a refit) is the image values are read from. When its layout
//! differs from the refitted one, positions are carried across by `align`.
//!
//! Passes: 1 plain serialization + (1 baseline + P marker passes + 1 proof) refit+serializes, where
//! P is the number of digits the largest code-book class needs (`ids.rs`): for example 4 + 2 for
//! any engine of up to 2^32 float elements.

use std::fmt;

use anyhow::Context;

use super::align::{self, Alignment};
use super::assemble::{self, WeightValues};
use super::code::fill_markers;
use super::decode::{self, Decoded};
use super::engine::{Engine, PlanBytes, WeightSpec};
use super::ids::IdSpace;
use super::layout::Run;
use super::packed::{Baseline, Packed, PackedImage};
pub use super::proof::Proof;
use super::proof::{self, Failure};
use crate::error::{Error, ErrorKind};

/// Where extraction is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Stage {
    /// Serializing a fresh instance of the untouched engine.
    Normalise,
    /// Refitting zeros and serializing.
    Baseline,
    /// Marker pass `0` of `1`.
    Markers(u32, u32),
    /// Reading the passes (progress through `Observer::bytes`).
    Decode,
    /// Reading the values.
    Read,
    /// Refitting the extracted values and comparing.
    Proof,
}

impl fmt::Display for Stage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Stage::Normalise => f.write_str("normalising (serializing the untouched engine)"),
            Stage::Baseline => f.write_str("zero baseline"),
            Stage::Markers(i, n) => write!(f, "marker pass {}/{}", i + 1, n),
            Stage::Decode => f.write_str("decoding markers"),
            Stage::Read => f.write_str("reading values"),
            Stage::Proof => f.write_str("round-trip proof"),
        }
    }
}

/// What extraction tells the front end while it runs. Everything has a default.
pub trait Observer {
    fn stage(&mut self, _stage: Stage) {}
    /// A refit+serialize or serialize finished, producing `bytes`.
    fn serialized(&mut self, _stage: Stage, _bytes: u64) {}
    fn bytes(&mut self, _done: u64, _total: u64) {}
    /// The marker passes are packed, in `bytes` (compressed differences and a bitmap).
    fn packed(&mut self, _bytes: u64) {}
    /// Asked between steps; true stops extraction with [`ErrorKind::Interrupted`].
    fn cancelled(&self) -> bool {
        false
    }
}

/// An observer that ignores everything.
pub struct Quiet;
impl Observer for Quiet {}

/// Where serialized images are kept while extraction needs them: in memory, or spilled to disk by
/// the front end for engines too large to hold several times.
pub trait Scratch {
    fn keep(
        &mut self,
        label: &str,
        bytes: Box<dyn PlanBytes>,
    ) -> anyhow::Result<Box<dyn PlanBytes>>;
    /// Whether kept images stay in memory (then the baseline is kept packed instead).
    fn in_memory(&self) -> bool {
        true
    }
}

/// Keeps images as they come.
pub struct InMemory;
impl Scratch for InMemory {
    fn keep(
        &mut self,
        _label: &str,
        bytes: Box<dyn PlanBytes>,
    ) -> anyhow::Result<Box<dyn PlanBytes>> {
        Ok(bytes)
    }
}

#[derive(Clone, Debug)]
pub struct Options {
    /// Run the round-trip proof.
    pub verify: bool,
}

impl Default for Options {
    fn default() -> Options {
        Options { verify: true }
    }
}

/// Why a weight was not extracted.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(tag = "reason", rename_all = "snake_case")]
pub enum Missing {
    /// The plan holds no weights at all (built with kSTRIP_PLAN).
    Stripped,
    /// No marker of this weight was found verbatim while bytes of the plan changed with the markers
    /// without decoding: it is most likely fused with other weights or folded into another value.
    Transformed { unexplained_bytes: u64 },
    /// No byte of the plan changed with this weight's markers: folded into kernels or constant
    /// folded away.
    NotInPlan,
    /// Only some elements are stored.
    Partial { found: u64, count: u64 },
    /// Found in the refitted serializations, but where their layout differs from the original's.
    LayoutChanged { elements: u64 },
    /// Its markers were only seen as lone elements that contradict each other (read out of other
    /// bytes, such as another weight stored transformed): nothing trustworthy.
    Ambiguous { sightings: u64 },
    /// Read through a map that records this weight but holds no bytes for it: the map cannot give
    /// it (`why` says what the map knows, e.g. a reference tensor `locate` could not place). Says
    /// nothing of the engine: it may well hold the weight.
    NotInMap { why: String },
}

impl fmt::Display for Missing {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Missing::Stripped => f.write_str("this plan holds no weights (a weight-stripped engine); refit it first"),
            Missing::Transformed { unexplained_bytes } => write!(
                f,
                "not stored verbatim: fused with other weights or folded ({unexplained_bytes} bytes of the plan change with the markers but decode to no weight)"
            ),
            Missing::NotInPlan => f.write_str("not stored in the plan: folded into kernels or constant-folded"),
            Missing::Partial { found, count } => write!(f, "only {found} of {count} elements are stored"),
            Missing::Ambiguous { sightings } => write!(
                f,
                "its markers appear only as {sightings} scattered, contradicting elements (read out of other bytes), never as a stored buffer"
            ),
            Missing::LayoutChanged { elements } => write!(
                f,
                "{elements} elements are stored where the original serialization's layout differs from the refitted one"
            ),
            Missing::NotInMap { why } => write!(f, "not in the map: {why}"),
        }
    }
}

#[derive(Clone, Debug)]
pub struct WeightResult {
    pub values: WeightValues,
    pub missing: Option<Missing>,
}

/// How positions found in refitted serializations relate to the original's.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum LayoutMode {
    /// Refitted serializations have the original's length: positions carry over (checked by
    /// alignment, which is then the identity in all but changed bytes).
    Direct,
    /// Refitted serializations differ in length, but a fresh instance of one serializes in the
    /// original's layout: every refitted image is taken through that round trip first.
    Renormalised,
    /// Neither: positions are carried over by aligning the images (see `align.rs`).
    Aligned,
}

#[derive(Clone, Debug, Default, serde::Serialize)]
pub struct PassCounts {
    /// Refit + serialize passes (baseline, markers, proof).
    pub refit_serialize: u32,
    /// Serializations without a refit (the normalised original).
    pub serialize_only: u32,
    /// Of the refit passes, how many carried markers.
    pub marker: u32,
}

/// The result of an extraction.
pub struct Extraction {
    pub weights: Vec<WeightSpec>,
    pub results: Vec<WeightResult>,
    pub passes: PassCounts,
    /// Where every extracted element lives in the engine *file* (for map files).
    pub file_runs: Vec<Run>,
    /// Where every element was found in the normalised original.
    pub original_runs: Vec<Run>,
    /// Byte ranges of the engine file that change with the weights but hold none of them.
    pub file_volatile: Vec<(u64, u64)>,
    pub proof: Proof,
    /// Bytes that changed with the markers but decoded to no weight.
    pub unexplained_bytes: u64,
    /// How the refitted layout relates to the original's (identity in the usual case).
    pub refit_vs_original: Alignment,
    /// How the original serialization relates to the engine file.
    pub original_vs_file: Alignment,
    pub original_len: u64,
    pub layout_mode: LayoutMode,
}

impl Extraction {
    /// Whether the proof compared bytes at the positions the markers were found in. When the
    /// original's layout had to be aligned to the refitted one, values were read, and the proof
    /// compared, through the same alignment: a misplaced weight would pass unnoticed.
    pub fn proof_independent(&self) -> bool {
        self.refit_vs_original.is_unshifted()
    }

    pub fn missing(&self) -> impl Iterator<Item = (&WeightSpec, &Missing)> {
        self.weights
            .iter()
            .zip(&self.results)
            .filter_map(|(w, r)| r.missing.as_ref().map(|m| (w, m)))
    }
}

fn interrupted() -> anyhow::Error {
    anyhow::Error::new(Error::new(ErrorKind::Interrupted, "interrupted"))
}

fn check(obs: &dyn Observer) -> anyhow::Result<()> {
    if obs.cancelled() {
        Err(interrupted())
    } else {
        Ok(())
    }
}

/// A marker pass: `make(i, buf)` fills weight `i`'s buffer (weights in parallel), then a fresh
/// instance is refitted with the buffers and serialized. The buffers are kept in `bufs` for the
/// next pass (otherwise an engine's worth of fresh pages each pass): allocated on the first pass,
/// after which `make` must write every byte of each.
fn refit_pass(
    engine: &dyn Engine,
    weights: &[WeightSpec],
    bufs: &mut Vec<Vec<u8>>,
    make: &(dyn Fn(usize, &mut [u8]) + Sync),
) -> anyhow::Result<Box<dyn PlanBytes>> {
    if bufs.is_empty() {
        *bufs = super::par::map(weights.len(), |i| {
            let n = usize::try_from(weights[i].refit_bytes())
                .context("weight too large for this machine")?;
            Ok::<_, anyhow::Error>(vec![0u8; n])
        })
        .into_iter()
        .collect::<anyhow::Result<_>>()?;
    }
    super::par::for_each_mut(bufs, |i, b| make(i, b));
    let views: Vec<&[u8]> = bufs.iter().map(|b| b.as_slice()).collect();
    refit_views(engine, &views)
}

/// Zeros as long as the longest refit buffer of the weights `which` picks: one buffer that every
/// weight refitted to zero takes its slice of (TensorRT only reads them).
fn zeros_for(weights: &[WeightSpec], which: impl Fn(usize) -> bool) -> anyhow::Result<Vec<u8>> {
    let longest = (0..weights.len())
        .filter(|&i| which(i))
        .map(|i| weights[i].refit_bytes())
        .max()
        .unwrap_or(0);
    let n = usize::try_from(longest).context("weight too large for this machine")?;
    Ok(vec![0u8; n])
}

/// A fresh instance refitted with `views` (one per weight, each its refit bytes), serialized.
fn refit_views(engine: &dyn Engine, views: &[&[u8]]) -> anyhow::Result<Box<dyn PlanBytes>> {
    let mut inst = engine.instance()?;
    inst.refit(views)?;
    inst.serialize()
}

/// Merges sorted ranges.
fn merged(mut v: Vec<(u64, u64)>) -> Vec<(u64, u64)> {
    v.sort_unstable();
    let mut out: Vec<(u64, u64)> = Vec::with_capacity(v.len());
    for (a, b) in v {
        match out.last_mut() {
            Some(last) if a <= last.1 => last.1 = last.1.max(b),
            _ => out.push((a, b)),
        }
    }
    out
}

fn run_ranges(runs: &[Run]) -> Vec<(u64, u64)> {
    runs.iter().filter_map(|r| r.byte_range()).collect()
}

/// Moves runs through an alignment; returns the moved runs and, per weight, elements that could
/// not be moved.
fn translate(runs: &[Run], al: &Alignment, n_weights: usize) -> (Vec<Run>, Vec<u64>) {
    let mut out = Vec::with_capacity(runs.len());
    let mut lost = vec![0u64; n_weights];
    for r in runs {
        let moved = r.byte_range().and_then(|(a, b)| al.map_range(a, b));
        match moved {
            Some(off) => out.push(Run { offset: off, ..*r }),
            None => lost[r.weight as usize] += r.len,
        }
    }
    (out, lost)
}

/// Extracts every refittable weight of `engine`, whose file bytes are `file`.
pub fn extract(
    engine: &dyn Engine,
    file: &[u8],
    opts: &Options,
    scratch: &mut dyn Scratch,
    obs: &mut dyn Observer,
) -> anyhow::Result<Extraction> {
    let weights: Vec<WeightSpec> = engine.weights().to_vec();
    let ids = IdSpace::new(&weights);
    let mut passes = PassCounts::default();

    check(obs)?;
    obs.stage(Stage::Normalise);
    let original = engine
        .instance()?
        .serialize()
        .context("serializing the untouched engine")?;
    passes.serialize_only += 1;
    obs.serialized(Stage::Normalise, original.bytes().len() as u64);
    // Usually the file itself: then its read-only mapping serves, and the serialization goes.
    let original_kept = if original.bytes() == file {
        None
    } else {
        Some(scratch.keep("original", original)?)
    };
    let original: &[u8] = match &original_kept {
        Some(o) => o.bytes(),
        None => file,
    };

    check(obs)?;
    obs.stage(Stage::Baseline);
    let zeros = zeros_for(&weights, |_| true)?;
    let views: Vec<&[u8]> = weights
        .iter()
        .map(|w| &zeros[..w.refit_bytes() as usize])
        .collect();
    let base = refit_views(engine, &views).context("zero baseline: refit all weights to 0")?;
    drop(views);
    drop(zeros);
    passes.refit_serialize += 1;
    obs.serialized(Stage::Baseline, base.bytes().len() as u64);
    // When the refitted layout differs from the original's, try bringing refitted images back to
    // the never-refitted layout by a round trip through a fresh instance (0 refits, like the
    // original); only if that does not give the original's length are positions aligned instead.
    let mut layout_mode = LayoutMode::Direct;
    let base = if base.bytes().len() == original.len() {
        base
    } else {
        // A runtime that cannot deserialize its own refitted plan leaves alignment as the way.
        match engine
            .instance_of(base.bytes())
            .and_then(|mut i| i.serialize())
        {
            Ok(again) if again.bytes().len() == original.len() => {
                passes.serialize_only += 1;
                layout_mode = LayoutMode::Renormalised;
                again
            }
            Ok(_) => {
                passes.serialize_only += 1;
                layout_mode = LayoutMode::Aligned;
                base
            }
            Err(_) => {
                layout_mode = LayoutMode::Aligned;
                base
            }
        }
    };
    // Kept packed (its weights are zeros, so it packs small) unless the scratch spills to files.
    let (packed_base, base_kept) = if scratch.in_memory() {
        let p = PackedImage::new(base.bytes());
        drop(base);
        (Some(p), None)
    } else {
        (None, Some(scratch.keep("baseline", base)?))
    };
    let base: Baseline<'_> = match (packed_base, &base_kept) {
        (Some(p), _) => Baseline::Packed(p),
        (None, kept) => Baseline::Whole(kept.as_deref().map_or(&[][..], |b| b.bytes())),
    };
    let renormalise =
        |img: Box<dyn PlanBytes>, passes: &mut PassCounts| -> anyhow::Result<Box<dyn PlanBytes>> {
            if layout_mode != LayoutMode::Renormalised {
                return Ok(img);
            }
            let again = engine.instance_of(img.bytes())?.serialize()?;
            passes.serialize_only += 1;
            Ok(again)
        };

    // Each pass is folded into the packed differences as it arrives and dropped (`packed.rs`).
    let mut packed = Packed::new(base.len());
    // Every marker pass writes every byte of every buffer: one set serves them all.
    let mut marker_bufs: Vec<Vec<u8>> = Vec::new();
    for p in 0..ids.passes {
        check(obs)?;
        obs.stage(Stage::Markers(p, ids.passes));
        let img = refit_pass(engine, &weights, &mut marker_bufs, &|i, buf| {
            fill_markers(weights[i].dtype, ids.first[i].1, weights[i].count, p, buf)
        })
        .with_context(|| format!("marker pass {} of {}", p + 1, ids.passes))?;
        passes.refit_serialize += 1;
        passes.marker += 1;
        let img = renormalise(img, &mut passes)
            .with_context(|| format!("marker pass {}: serializing it again", p + 1))?;
        obs.serialized(Stage::Markers(p, ids.passes), img.bytes().len() as u64);
        let (lb, li) = (base.len(), img.bytes().len());
        if li != lb {
            return Err(anyhow::Error::new(Error::new(
                ErrorKind::TrtRefused,
                format!(
                    "TensorRT serialized marker pass {} as {li} bytes but the zero baseline as {lb}: fresh instances refitted once should share one layout, so the markers cannot be located",
                    p + 1
                ),
            )));
        }
        packed.add(&base, img.bytes());
    }
    drop(marker_bufs);
    obs.packed(packed.held_bytes() + base.held_bytes());

    check(obs)?;
    obs.stage(Stage::Decode);
    let total = base.len() as u64;
    let decoded: Decoded = {
        let mut progress = |done: u64| {
            obs.bytes(done, total);
            !obs.cancelled()
        };
        decode::decode_packed(&base, &packed, &weights, &ids, &mut progress)
            .ok_or_else(interrupted)?
    };
    drop(packed);

    check(obs)?;
    obs.stage(Stage::Read);
    let mut mask = run_ranges(&decoded.runs);
    mask.extend(decoded.unexplained.iter().copied());
    let mask = merged(mask);
    // Usually the refitted layout is the original's: then the baseline equals the original
    // outside the weights and the alignment is the identity, found without unpacking the
    // baseline whole (which the general alignment reads).
    let refit_vs_original = if base.equal_outside(original, &mask) {
        Alignment::identity(original.len() as u64)
    } else {
        align::align(&base.whole(), original, &mask)
    };
    let (original_runs, lost_to_layout) =
        translate(&decoded.runs, &refit_vs_original, weights.len());
    let values = assemble::assemble(&weights, &original_runs, original)
        .map_err(|e| anyhow::anyhow!("internal error: decoded run unreadable: {e}"))?;

    // The engine file's coordinates, for maps.
    let original_vs_file = if original == file {
        Alignment::identity(file.len() as u64)
    } else {
        align::align(original, file, &merged(run_ranges(&original_runs)))
    };
    let (file_runs, _) = translate(&original_runs, &original_vs_file, weights.len());
    let file_volatile: Vec<(u64, u64)> = decoded
        .unexplained
        .iter()
        .filter_map(|(a, b)| {
            let o = refit_vs_original.map_range(*a, *b)?;
            let f = original_vs_file.map_range(o, o + (b - a))?;
            Some((f, f + (b - a)))
        })
        .collect();

    let unexplained = decoded.unexplained_bytes();
    let any_weight_bytes = !decoded.runs.is_empty() || unexplained > 0;
    // Weight-stripped: nothing changes with the markers, or the refitted serializations hold
    // weights that the original, shorter by about as many bytes, does not.
    let run_bytes: u64 = decoded
        .runs
        .iter()
        .filter_map(|r| r.byte_range())
        .map(|(a, b)| b - a)
        .sum();
    let shrink = (base.len() as u64).saturating_sub(original.len() as u64);
    let translated: u64 = original_runs
        .iter()
        .filter_map(|r| r.byte_range())
        .map(|(a, b)| b - a)
        .sum();
    let stripped = weights.iter().any(|w| w.count > 0)
        && (!any_weight_bytes
            || (run_bytes > 0 && shrink >= run_bytes / 2 && translated < run_bytes / 2));
    let results: Vec<WeightResult> = weights
        .iter()
        .zip(values)
        .enumerate()
        .map(|(i, (w, v))| {
            let missing = if v.values.is_some() {
                None
            } else if v.ambiguous && !stripped {
                Some(Missing::Ambiguous {
                    sightings: v.sightings,
                })
            } else if stripped {
                Some(Missing::Stripped)
            } else if lost_to_layout[i] > 0 && v.found < w.count {
                Some(Missing::LayoutChanged {
                    elements: lost_to_layout[i],
                })
            } else if v.found > 0 {
                Some(Missing::Partial {
                    found: v.found,
                    count: w.count,
                })
            } else if unexplained > 0 {
                Some(Missing::Transformed {
                    unexplained_bytes: unexplained,
                })
            } else {
                Some(Missing::NotInPlan)
            };
            WeightResult { values: v, missing }
        })
        .collect();

    let proof = if opts.verify && !stripped {
        check(obs)?;
        obs.stage(Stage::Proof);
        // The extracted values themselves are the refit buffers (no copy of the engine's
        // worth of values); zeros for weights that were not extracted.
        let zeros = zeros_for(&weights, |i| results[i].values.values.is_none())?;
        let views: Vec<&[u8]> = results
            .iter()
            .zip(&weights)
            .map(|(r, w)| {
                r.values
                    .values
                    .as_deref()
                    .unwrap_or_else(|| &zeros[..w.refit_bytes() as usize])
            })
            .collect();
        let refitted = refit_views(engine, &views)
            .context("round-trip proof: refitting the extracted values")?;
        drop(views);
        drop(zeros);
        passes.refit_serialize += 1;
        let refitted =
            renormalise(refitted, &mut passes).context("round-trip proof: serializing it again")?;
        obs.serialized(Stage::Proof, refitted.bytes().len() as u64);
        proof::compare(
            refitted.bytes(),
            base.len(),
            &base.byte_reader(),
            original,
            &refit_vs_original,
            &decoded,
            &results,
        )
    } else if stripped && opts.verify {
        Proof::Failed {
            differing: 0,
            first_offsets: vec![],
            reason: Failure::NothingToProve,
        }
    } else {
        Proof::Skipped
    };

    Ok(Extraction {
        weights,
        results,
        passes,
        file_runs,
        original_runs,
        file_volatile,
        proof,
        unexplained_bytes: unexplained,
        refit_vs_original,
        original_vs_file,
        original_len: original.len() as u64,
        layout_mode,
    })
}

#[cfg(test)]
mod tests {
    //! A deliberately small stand-in engine, enough to drive `extract` end to end. The adversarial
    //! simulator under tests/support/ is the real test bed.
    use super::*;
    use crate::dtype::DataType;
    use crate::pipeline::engine::Instance;
    use half::f16;

    struct Slot {
        weight: usize,
        stored: DataType,
        offset: usize,
        order: Vec<usize>,
    }

    struct Toy {
        specs: Vec<WeightSpec>,
        values: Vec<Vec<u8>>,
        slots: Vec<Slot>,
        len: usize,
        /// Bytes inserted at this offset once an instance has been refitted.
        grow_after_refit: Option<(usize, usize)>,
    }

    struct ToyInstance<'a> {
        toy: &'a Toy,
        values: Vec<Vec<u8>>,
        refitted: bool,
    }

    fn put(stored: DataType, refit: DataType, src: &[u8], i: usize, dst: &mut [u8]) {
        match (refit, stored) {
            (DataType::Float, DataType::Half) => {
                let v = f32::from_le_bytes(src[4 * i..4 * i + 4].try_into().unwrap());
                dst[..2].copy_from_slice(&f16::from_f32(v).to_bits().to_le_bytes());
            }
            _ => {
                let n = (refit.bits() / 8) as usize;
                dst[..n].copy_from_slice(&src[n * i..n * i + n]);
            }
        }
    }

    impl Instance for ToyInstance<'_> {
        fn serialize(&mut self) -> anyhow::Result<Box<dyn PlanBytes>> {
            let mut out: Vec<u8> = (0..self.toy.len)
                .map(|i| (i as u8).wrapping_mul(31).wrapping_add(7))
                .collect();
            for s in &self.toy.slots {
                let spec = &self.toy.specs[s.weight];
                let size = (s.stored.bits() / 8) as usize;
                for (k, idx) in s.order.iter().enumerate() {
                    let at = s.offset + k * size;
                    put(
                        s.stored,
                        spec.dtype,
                        &self.values[s.weight],
                        *idx,
                        &mut out[at..at + size],
                    );
                }
            }
            if let (true, Some((at, n))) = (self.refitted, self.toy.grow_after_refit) {
                let block: Vec<u8> = (0..n).map(|i| (i as u8) ^ 0xA5).collect();
                out.splice(at..at, block);
                let len = out.len() as u64;
                out[16..24].copy_from_slice(&len.to_le_bytes());
            }
            Ok(Box::new(out))
        }

        fn refit(&mut self, values: &[&[u8]]) -> anyhow::Result<()> {
            anyhow::ensure!(
                values.len() == self.toy.specs.len(),
                "all weights must be set"
            );
            for (spec, v) in self.toy.specs.iter().zip(values) {
                anyhow::ensure!(
                    v.len() as u64 == spec.refit_bytes(),
                    "wrong count for {}",
                    spec.name
                );
            }
            self.values = values.iter().map(|v| v.to_vec()).collect();
            self.refitted = true;
            Ok(())
        }
    }

    impl Engine for Toy {
        fn weights(&self) -> &[WeightSpec] {
            &self.specs
        }
        fn instance(&self) -> anyhow::Result<Box<dyn Instance + '_>> {
            Ok(Box::new(ToyInstance {
                toy: self,
                values: self.values.clone(),
                refitted: false,
            }))
        }
        fn instance_of(&self, _plan: &[u8]) -> anyhow::Result<Box<dyn Instance + '_>> {
            anyhow::bail!("the toy engine cannot deserialize other plans")
        }
    }

    fn f32s(v: &[f32]) -> Vec<u8> {
        v.iter().flat_map(|x| x.to_le_bytes()).collect()
    }

    /// A 3x4 fp32 weight stored transposed, a 4-element bias stored as fp16, and an fp32 weight
    /// that is not stored at all.
    fn toy(grow: Option<(usize, usize)>) -> Toy {
        let w: Vec<f32> = (0..12).map(|i| i as f32 * 0.37 - 1.5).collect();
        let b: Vec<f32> = vec![0.5, -0.25, 3.0, 1.0 / 1024.0];
        let specs = vec![
            WeightSpec {
                name: "fc.weight".into(),
                dtype: DataType::Float,
                count: 12,
            },
            WeightSpec {
                name: "fc.bias".into(),
                dtype: DataType::Float,
                count: 4,
            },
            WeightSpec {
                name: "folded".into(),
                dtype: DataType::Float,
                count: 3,
            },
        ];
        let transposed: Vec<usize> = (0..4)
            .flat_map(|c| (0..3).map(move |r| r * 4 + c))
            .collect();
        Toy {
            specs,
            values: vec![f32s(&w), f32s(&b), f32s(&[1.0, 2.0, 3.0])],
            slots: vec![
                Slot {
                    weight: 0,
                    stored: DataType::Float,
                    offset: 4096,
                    order: transposed,
                },
                Slot {
                    weight: 1,
                    stored: DataType::Half,
                    offset: 9000,
                    order: vec![0, 1, 2, 3],
                },
            ],
            len: 20_000,
            grow_after_refit: grow,
        }
    }

    fn run(t: &Toy) -> Extraction {
        let file = t.instance().unwrap().serialize().unwrap().bytes().to_vec();
        extract(t, &file, &Options::default(), &mut InMemory, &mut Quiet).unwrap()
    }

    #[test]
    fn extracts_transposed_and_converted_weights_and_names_the_missing_one() {
        let t = toy(None);
        let x = run(&t);
        assert_eq!(
            x.results[0].values.values.as_deref(),
            Some(&t.values[0][..])
        );
        let bias: Vec<f32> = x.results[1]
            .values
            .values
            .as_ref()
            .unwrap()
            .chunks(4)
            .map(|c| f32::from_le_bytes(c.try_into().unwrap()))
            .collect();
        assert_eq!(
            bias,
            vec![0.5, -0.25, 3.0, f16::from_f32(1.0 / 1024.0).to_f32()]
        );
        assert_eq!(x.results[1].values.stored, vec![DataType::Half]);
        assert_eq!(x.results[2].missing, Some(Missing::NotInPlan));
        // Marker passes: 19 float elements need one digit, but every engine gets at least two;
        // + baseline + proof.
        assert_eq!(
            (
                x.passes.marker,
                x.passes.refit_serialize,
                x.passes.serialize_only
            ),
            (2, 4, 1)
        );
        // The folded weight is refitted with zeros in the proof but touches no byte: identical.
        assert_eq!(x.proof, Proof::Identical { bytes: 20_000 });
        assert!(x.original_vs_file.is_identity());
    }

    #[test]
    fn a_layout_change_after_refit_is_aligned_and_proven() {
        let t = toy(Some((6000, 777)));
        let x = run(&t);
        assert_eq!(
            x.results[0].values.values.as_deref(),
            Some(&t.values[0][..])
        );
        assert!(x.results[1].values.values.is_some());
        assert!(!x.refit_vs_original.is_identity());
        match x.proof {
            Proof::Equivalent { layout_bytes, .. } => {
                assert!(layout_bytes >= 777, "{layout_bytes}")
            }
            other => panic!("{other:?}"),
        }
        // Runs are reported in the coordinates of the file (no shift for the bias at 9000).
        assert!(x
            .file_runs
            .iter()
            .any(|r| r.weight == 1 && r.offset == 9000));
    }
}
