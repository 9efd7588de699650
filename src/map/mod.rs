//! Map files (`.trtmap`): what the marker passes learned about an engine, kept so that the values
//! can be read again later on a machine with no GPU and no TensorRT.
//!
//! Layout (all integers little-endian), version 1:
//!
//! ```text
//! 0   8  magic  "TRTDMAP\0"
//! 8   4  format version (1)
//! 12  8  H: length of the JSON header
//! 20  H  JSON header (see `Header`): engine length, fingerprint, weights, missing, volatile ranges
//! ..  8  R: number of run records
//! ..  64*R run records (see `MapRun`)
//! ..  8  xxh3-64 of every byte before it
//! ```
//!
//! A run record is a two-level run: `outer` repetitions of a [`Run`], the i-th one shifted by
//! `i * outer_offset_stride` bytes and `i * outer_index_stride` elements, so a transposed matrix is
//! one record instead of one per column. The fingerprint is xxh3-64 of the engine's bytes outside
//! every run and volatile range, so a map also fits an engine of the same build refitted with other
//! weights, and never fits an engine whose non-weight bytes differ.

use std::path::Path;

use anyhow::Context;
use serde::{Deserialize, Serialize};
use xxhash_rust::xxh3::{xxh3_64, Xxh3};

use crate::dtype::DataType;
use crate::error::{Error, ErrorKind};
use crate::pipeline::layout::Run;
use crate::pipeline::WeightSpec;

pub const MAGIC: &[u8; 8] = b"TRTDMAP\0";
pub const VERSION: u32 = 1;
const RECORD: usize = 64;
/// Caps on what a map file may declare, so a hostile file cannot make us allocate without bound.
const MAX_HEADER: u64 = 1 << 30;
/// How many times over the runs of a map may cover the engine's bytes, on average. A map made by
/// marker passes covers each byte at most once, one made by `locate` more only where several
/// reference tensors hold identical values; more than this is corrupt. It bounds the expanded run
/// table (and what `assemble` allocates) by a small multiple of the engine's length, whatever
/// counts the map claims.
const MAX_COVER: u128 = 4;

/// What a map knows of the engine's weight list (`meta.knows`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Knows {
    /// Made with TensorRT (`map`, `dump --save-map`): `weights` is every refittable weight, each
    /// either placed by runs or recorded in `missing` with the reason.
    AllRefittable,
    /// Made by `locate`: `weights` is every reference tensor it searched for, each either placed or
    /// recorded in `missing`; the engine may have other weights that no one named.
    ReferenceNamesOnly,
}

impl Knows {
    /// The value of `meta.knows`.
    pub fn as_str(self) -> &'static str {
        match self {
            Knows::AllRefittable => "all-refittable",
            Knows::ReferenceNamesOnly => "reference-names-only",
        }
    }

    fn parse(s: &str) -> Option<Knows> {
        [Knows::AllRefittable, Knows::ReferenceNamesOnly]
            .into_iter()
            .find(|k| k.as_str() == s)
    }
}

/// `meta` key saying what the map knows (see [`Knows`]); absent from maps made before it existed.
pub const META_KNOWS: &str = "knows";

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct MissingWeight {
    pub name: String,
    pub reason: crate::pipeline::extract::Missing,
}

/// The JSON part of a map file.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Header {
    /// Length of the engine file the map was made for.
    pub engine_len: u64,
    /// xxh3-64 (hex) of the engine's bytes outside runs and volatile ranges.
    pub fingerprint: String,
    /// Every refittable weight, in the refitter's order (runs refer to them by position).
    pub weights: Vec<WeightSpec>,
    /// Weights that could not be located, with why.
    #[serde(default)]
    pub missing: Vec<MissingWeight>,
    /// Byte ranges that change with the weights but hold none (checksums, fused buffers).
    #[serde(default)]
    pub volatile: Vec<(u64, u64)>,
    /// Free-form facts: tool version, TensorRT version, engine sha256, how the map was made.
    #[serde(default)]
    pub meta: std::collections::BTreeMap<String, String>,
}

impl Header {
    /// What the map knows of the engine's weights: `meta.knows`, or for a map made before that key
    /// existed, by who made it (`meta.made_by` starting with `locate`: the reference's names, as far
    /// as they were found; anything else: TensorRT's list). Such an old `locate` map recorded only
    /// what it found, so it misses nothing it knows of and reads as before.
    pub fn knows(&self) -> Knows {
        if let Some(k) = self.meta.get(META_KNOWS).and_then(|k| Knows::parse(k)) {
            return k;
        }
        if self
            .meta
            .get("made_by")
            .is_some_and(|b| b.starts_with("locate"))
        {
            Knows::ReferenceNamesOnly
        } else {
            Knows::AllRefittable
        }
    }

    /// Whether the map misses nothing it knows of: no weight recorded as missing. (A weight the
    /// map lists but places only in part, or not at all, is found missing when it is read.)
    pub fn is_complete(&self) -> bool {
        self.missing.is_empty()
    }
}

/// A two-level run as stored in the file.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MapRun {
    pub run: Run,
    pub outer: u64,
    pub outer_offset_stride: i64,
    pub outer_index_stride: i64,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MapFile {
    pub header: Header,
    pub runs: Vec<MapRun>,
}

fn bad(msg: impl Into<String>) -> anyhow::Error {
    anyhow::Error::new(Error::new(ErrorKind::BadMap, msg.into()))
}

/// Folds consecutive runs that repeat with constant steps into two-level runs.
pub fn compress(runs: &[Run]) -> Vec<MapRun> {
    let mut out: Vec<MapRun> = Vec::new();
    for r in runs {
        if let Some(last) = out.last_mut() {
            let base = last.run;
            let same_shape = base.weight == r.weight
                && base.stored == r.stored
                && base.nibble == 0
                && r.nibble == 0
                && base.len == r.len
                && base.index_stride == r.index_stride;
            if same_shape {
                let d_off = r.offset as i128 - base.offset as i128;
                let d_idx = r.index as i128 - base.index as i128;
                if last.outer == 1 {
                    if let (Ok(o), Ok(i)) = (i64::try_from(d_off), i64::try_from(d_idx)) {
                        last.outer = 2;
                        last.outer_offset_stride = o;
                        last.outer_index_stride = i;
                        continue;
                    }
                } else {
                    let n = last.outer as i128;
                    if d_off == n * last.outer_offset_stride as i128
                        && d_idx == n * last.outer_index_stride as i128
                    {
                        last.outer += 1;
                        continue;
                    }
                }
            }
        }
        out.push(MapRun {
            run: *r,
            outer: 1,
            outer_offset_stride: 0,
            outer_index_stride: 0,
        });
    }
    out
}

/// Expands two-level runs back into runs, checking that every step stays in range.
pub fn expand(runs: &[MapRun]) -> anyhow::Result<Vec<Run>> {
    let mut out = Vec::new();
    for (i, m) in runs.iter().enumerate() {
        if m.outer == 0 {
            return Err(bad(format!("run record {i} repeats 0 times")));
        }
        for k in 0..m.outer {
            let off = i128::from(m.run.offset) + i128::from(k) * i128::from(m.outer_offset_stride);
            let idx = i128::from(m.run.index) + i128::from(k) * i128::from(m.outer_index_stride);
            let (Ok(off), Ok(idx)) = (u64::try_from(off), u64::try_from(idx)) else {
                return Err(bad(format!(
                    "run record {i} steps outside the engine or the weight"
                )));
            };
            out.push(Run {
                offset: off,
                index: idx,
                ..m.run
            });
        }
    }
    Ok(out)
}

/// Fingerprint of `engine` outside `skip` (sorted or not; overlapping allowed).
pub fn fingerprint(engine: &[u8], runs: &[Run], volatile: &[(u64, u64)]) -> String {
    let mut skip: Vec<(u64, u64)> = runs.iter().filter_map(|r| r.byte_range()).collect();
    skip.extend_from_slice(volatile);
    skip.sort_unstable();
    let mut h = Xxh3::new();
    h.update(&(engine.len() as u64).to_le_bytes());
    let mut pos = 0u64;
    for (a, b) in skip {
        let a = a.min(engine.len() as u64);
        if a > pos {
            h.update(&engine[pos as usize..a as usize]);
        }
        pos = pos.max(b.min(engine.len() as u64));
    }
    if (pos as usize) < engine.len() {
        h.update(&engine[pos as usize..]);
    }
    format!("{:016x}", h.digest())
}

fn dtype_code(d: DataType) -> u8 {
    d.to_trt() as u8
}

impl MapFile {
    /// Serializes the map.
    pub fn to_bytes(&self) -> anyhow::Result<Vec<u8>> {
        let header = serde_json::to_vec(&self.header).context("encoding the map header")?;
        let mut out = Vec::with_capacity(20 + header.len() + 16 + self.runs.len() * RECORD);
        out.extend_from_slice(MAGIC);
        out.extend_from_slice(&VERSION.to_le_bytes());
        out.extend_from_slice(&(header.len() as u64).to_le_bytes());
        out.extend_from_slice(&header);
        out.extend_from_slice(&(self.runs.len() as u64).to_le_bytes());
        for m in &self.runs {
            let r = &m.run;
            out.extend_from_slice(&r.weight.to_le_bytes());
            out.push(dtype_code(r.stored));
            out.push(r.nibble);
            out.extend_from_slice(&[0, 0]);
            for v in [r.offset, r.len, r.index] {
                out.extend_from_slice(&v.to_le_bytes());
            }
            out.extend_from_slice(&r.index_stride.to_le_bytes());
            out.extend_from_slice(&m.outer.to_le_bytes());
            out.extend_from_slice(&m.outer_offset_stride.to_le_bytes());
            out.extend_from_slice(&m.outer_index_stride.to_le_bytes());
        }
        let sum = xxh3_64(&out);
        out.extend_from_slice(&sum.to_le_bytes());
        Ok(out)
    }

    /// Parses and validates a map. Every failure is [`ErrorKind::BadMap`] with what is wrong.
    pub fn from_bytes(b: &[u8]) -> anyhow::Result<MapFile> {
        let get = |a: usize, n: usize, what: &str| -> anyhow::Result<&[u8]> {
            a.checked_add(n)
                .and_then(|e| b.get(a..e))
                .ok_or_else(|| bad(format!("truncated map file: {what} missing")))
        };
        let u64_at = |a: usize, what: &str| -> anyhow::Result<u64> {
            Ok(u64::from_le_bytes(
                get(a, 8, what)?.try_into().expect("8 bytes"),
            ))
        };
        if get(0, 8, "magic")? != MAGIC {
            return Err(bad("not a trt-dump map file (wrong magic)"));
        }
        let version = u32::from_le_bytes(get(8, 4, "version")?.try_into().expect("4 bytes"));
        if version != VERSION {
            return Err(bad(format!(
                "map format version {version} is not supported by this trt-dump (it reads version {VERSION}); re-create the map with `trt-dump map`"
            )));
        }
        if b.len() < 8 {
            return Err(bad("truncated map file"));
        }
        let body = &b[..b.len() - 8];
        let sum = u64::from_le_bytes(b[b.len() - 8..].try_into().expect("8 bytes"));
        if xxh3_64(body) != sum {
            return Err(bad("map file is corrupt (checksum mismatch)"));
        }
        let hlen = u64_at(12, "header length")?;
        if hlen > MAX_HEADER {
            return Err(bad(format!("map header claims {hlen} bytes")));
        }
        let hlen = hlen as usize;
        let header: Header = serde_json::from_slice(get(20, hlen, "header")?)
            .map_err(|e| bad(format!("map header is not valid: {e}")))?;
        let at = 20 + hlen;
        let n = u64_at(at, "run count")?;
        // The run count is read from `b`, so it may overlap the checksum: the records' bytes are
        // what is left of `body` after it, and there may be none (issue 16, item 5).
        let records = body.len().checked_sub(at + 8).ok_or_else(|| {
            bad(format!(
                "truncated map file: {} bytes after the header, too few for the run count and checksum (16)",
                b.len() - at
            ))
        })?;
        let avail = (records / RECORD) as u64;
        if n != avail || !records.is_multiple_of(RECORD) {
            return Err(bad(format!(
                "map declares {n} run records but holds {avail}"
            )));
        }
        let mut runs = Vec::with_capacity(n as usize);
        for i in 0..n as usize {
            let r = &body[at + 8 + i * RECORD..at + 8 + (i + 1) * RECORD];
            let u = |o: usize| u64::from_le_bytes(r[o..o + 8].try_into().expect("8 bytes"));
            let stored = DataType::from_trt(i32::from(r[4]))
                .ok_or_else(|| bad(format!("run record {i} has unknown dtype {}", r[4])))?;
            runs.push(MapRun {
                run: Run {
                    weight: u32::from_le_bytes(r[0..4].try_into().expect("4 bytes")),
                    stored,
                    nibble: r[5],
                    offset: u(8),
                    len: u(16),
                    index: u(24),
                    index_stride: u(32) as i64,
                },
                outer: u(40),
                outer_offset_stride: u(48) as i64,
                outer_index_stride: u(56) as i64,
            });
        }
        let map = MapFile { header, runs };
        map.validate()?;
        Ok(map)
    }

    /// Checks what can be checked without the engine: weights referenced exist, runs stay inside
    /// the engine length and their weights, element counts are sane.
    pub fn validate(&self) -> anyhow::Result<()> {
        let h = &self.header;
        if let Some(k) = h.meta.get(META_KNOWS) {
            if Knows::parse(k).is_none() {
                return Err(bad(format!(
                    "map says it knows `{k}` (expected all-refittable or reference-names-only)"
                )));
            }
        }
        let names: std::collections::BTreeSet<&str> =
            h.weights.iter().map(|w| w.name.as_str()).collect();
        if let Some(m) = h.missing.iter().find(|m| !names.contains(m.name.as_str())) {
            return Err(bad(format!(
                "map records `{}` as missing but lists no such weight",
                m.name
            )));
        }
        for w in &h.weights {
            if w.dtype.bytes_for(w.count).is_none() {
                return Err(bad(format!(
                    "weight `{}` claims {} elements",
                    w.name, w.count
                )));
            }
        }
        // Bytes the records cover (repetitions of one record never overlap, checked below): the
        // expanded run table has at most that many entries, so it is checked before anything is
        // expanded.
        let mut footprint: u128 = 0;
        for (i, m) in self.runs.iter().enumerate() {
            if m.run.len == 0 {
                return Err(bad(format!("run record {i} holds no elements")));
            }
            let bits = u128::from(m.run.nibble) * 4
                + u128::from(m.run.len) * u128::from(m.run.stored.bits());
            let bytes = bits.div_ceil(8);
            if m.outer > 1 && u128::from(m.outer_offset_stride.unsigned_abs()) < bytes {
                return Err(bad(format!(
                    "run record {i} repeats every {} bytes but each repetition spans {bytes}",
                    m.outer_offset_stride
                )));
            }
            footprint = footprint.saturating_add(u128::from(m.outer).saturating_mul(bytes));
        }
        if footprint > MAX_COVER * u128::from(h.engine_len) {
            return Err(bad(format!(
                "map runs cover {footprint} bytes of a {}-byte engine (more than {MAX_COVER} times over)",
                h.engine_len
            )));
        }
        let total: u128 = self
            .runs
            .iter()
            .map(|m| u128::from(m.outer) * u128::from(m.run.len))
            .sum();
        let elements: u128 = h.weights.iter().map(|w| u128::from(w.count)).sum();
        // Copies make runs hold more elements than the weights; more than 16 copies is corrupt.
        if total > elements.saturating_mul(16) {
            return Err(bad(format!(
                "map runs hold {total} elements for {elements} weight elements"
            )));
        }
        for (i, m) in self.runs.iter().enumerate() {
            let w = h.weights.get(m.run.weight as usize).ok_or_else(|| {
                bad(format!(
                    "run record {i} refers to weight {} of {}",
                    m.run.weight,
                    h.weights.len()
                ))
            })?;
            if m.outer == 0 || m.outer > 1 << 40 {
                return Err(bad(format!("run record {i} repeats {} times", m.outer)));
            }
            for k in [0, m.outer - 1] {
                let off =
                    i128::from(m.run.offset) + i128::from(k) * i128::from(m.outer_offset_stride);
                let idx =
                    i128::from(m.run.index) + i128::from(k) * i128::from(m.outer_index_stride);
                let (Ok(off), Ok(idx)) = (u64::try_from(off), u64::try_from(idx)) else {
                    return Err(bad(format!(
                        "run record {i} steps outside the engine or the weight"
                    )));
                };
                let r = Run {
                    offset: off,
                    index: idx,
                    ..m.run
                };
                let (_, end) = r
                    .byte_range()
                    .ok_or_else(|| bad(format!("run record {i} overflows")))?;
                if end > h.engine_len {
                    return Err(bad(format!(
                        "run record {i} ends at byte {end}, past the end of the {}-byte engine",
                        h.engine_len
                    )));
                }
                let (_, hi) = r
                    .index_bounds()
                    .ok_or_else(|| bad(format!("run record {i}: bad element indices")))?;
                if r.len > 0 && hi > w.count {
                    return Err(bad(format!(
                        "run record {i} reaches element {} of `{}`, which has {}",
                        hi - 1,
                        w.name,
                        w.count
                    )));
                }
            }
        }
        Ok(())
    }

    /// The runs, expanded (at most `4 × engine_len` of them, as validated).
    pub fn runs(&self) -> anyhow::Result<Vec<Run>> {
        expand(&self.runs)
    }

    /// The runs, expanded, once `engine` is known to have the length the map was made for: the
    /// run table's size is bounded by the real engine, never by what the map claims.
    pub fn runs_for(&self, engine: &[u8]) -> anyhow::Result<Vec<Run>> {
        self.check_len(engine)?;
        expand(&self.runs)
    }

    fn check_len(&self, engine: &[u8]) -> anyhow::Result<()> {
        let h = &self.header;
        if engine.len() as u64 != h.engine_len {
            return Err(bad(format!(
                "this map is for a {}-byte engine, but the engine has {} bytes",
                h.engine_len,
                engine.len()
            ))
            .context("map does not match the engine"));
        }
        Ok(())
    }

    /// Checks that this map was made for `engine` (same length, same non-weight bytes).
    pub fn check_engine(&self, engine: &[u8], runs: &[Run]) -> anyhow::Result<()> {
        let h = &self.header;
        self.check_len(engine)?;
        let fp = fingerprint(engine, runs, &h.volatile);
        if fp != h.fingerprint {
            return Err(bad(format!(
                "the engine's non-weight bytes differ from those the map was made for (fingerprint {fp}, map says {})",
                h.fingerprint
            ))
            .context("map does not match the engine"));
        }
        Ok(())
    }
}

/// The conventional sidecar path: `ENGINE.trtmap` beside the engine.
pub fn sidecar_path(engine: &Path) -> std::path::PathBuf {
    let mut s = engine.as_os_str().to_owned();
    s.push(".trtmap");
    std::path::PathBuf::from(s)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn w(name: &str, dtype: DataType, count: u64) -> WeightSpec {
        WeightSpec {
            name: name.into(),
            dtype,
            count,
        }
    }

    fn sample() -> (MapFile, Vec<Run>) {
        // A 4x3 fp32 weight stored transposed (3 runs of 4) + a verbatim fp16 bias.
        let mut runs: Vec<Run> = (0..3)
            .map(|c| Run {
                weight: 0,
                stored: DataType::Float,
                offset: 100 + 16 * c,
                nibble: 0,
                len: 4,
                index: c,
                index_stride: 3,
            })
            .collect();
        runs.push(Run {
            weight: 1,
            stored: DataType::Half,
            offset: 200,
            nibble: 0,
            len: 5,
            index: 0,
            index_stride: 1,
        });
        let engine: Vec<u8> = (0..300u32).map(|i| (i * 13) as u8).collect();
        let header = Header {
            engine_len: 300,
            fingerprint: fingerprint(&engine, &runs, &[]),
            weights: vec![
                w("a/weight", DataType::Float, 12),
                w("b\nbias", DataType::Float, 5),
            ],
            missing: vec![],
            volatile: vec![],
            meta: Default::default(),
        };
        (
            MapFile {
                header,
                runs: compress(&runs),
            },
            runs,
        )
    }

    #[test]
    fn transposes_compress_to_one_record_and_round_trip() {
        let (m, runs) = sample();
        assert_eq!(m.runs.len(), 2);
        assert_eq!(m.runs[0].outer, 3);
        let back = MapFile::from_bytes(&m.to_bytes().unwrap()).unwrap();
        assert_eq!(back, m);
        assert_eq!(back.runs().unwrap(), runs);
    }

    #[test]
    fn fingerprint_ignores_weights_but_not_other_bytes() {
        let (m, runs) = sample();
        let mut engine: Vec<u8> = (0..300u32).map(|i| (i * 13) as u8).collect();
        m.check_engine(&engine, &runs).unwrap();
        engine[120] ^= 0xFF; // inside the transposed weight
        m.check_engine(&engine, &runs).unwrap();
        engine[20] ^= 0xFF; // a kernel byte
        let e = m.check_engine(&engine, &runs).unwrap_err();
        assert_eq!(
            crate::error::exit_code_of(&e),
            ErrorKind::BadMap.exit_code()
        );
        let e = m.check_engine(&engine[..299], &runs).unwrap_err();
        assert!(format!("{e:#}").contains("300-byte engine"));
    }

    #[test]
    fn what_a_map_knows_is_read_from_meta_or_from_who_made_an_old_one() {
        let (m, _) = sample();
        assert_eq!(
            m.header.knows(),
            Knows::AllRefittable,
            "an old map of marker passes"
        );
        assert!(m.header.is_complete());
        let mut old_locate = m.clone();
        old_locate.header.meta.insert(
            "made_by".into(),
            "locate (reference search, no TensorRT)".into(),
        );
        assert_eq!(old_locate.header.knows(), Knows::ReferenceNamesOnly);
        for k in [Knows::AllRefittable, Knows::ReferenceNamesOnly] {
            let mut n = old_locate.clone();
            n.header.meta.insert(META_KNOWS.into(), k.as_str().into());
            let back = MapFile::from_bytes(&n.to_bytes().unwrap()).unwrap();
            assert_eq!(back.header.knows(), k);
        }
        // A weight recorded as missing: not complete, and it round-trips.
        let mut partial = m.clone();
        partial.header.missing.push(MissingWeight {
            name: "b\nbias".into(),
            reason: crate::pipeline::extract::Missing::NotInMap {
                why: "`locate` did not place it".into(),
            },
        });
        assert!(!partial.header.is_complete());
        let back = MapFile::from_bytes(&partial.to_bytes().unwrap()).unwrap();
        assert_eq!(
            back.header.missing[0].reason.to_string(),
            "not in the map: `locate` did not place it"
        );
    }

    #[test]
    fn a_missing_entry_must_name_a_listed_weight_and_knows_a_known_value() {
        let (m, _) = sample();
        let mut evil = m.clone();
        evil.header.missing.push(MissingWeight {
            name: "ghost".into(),
            reason: crate::pipeline::extract::Missing::NotInPlan,
        });
        let e = MapFile::from_bytes(&evil.to_bytes().unwrap()).unwrap_err();
        assert!(
            format!("{e:#}").contains("records `ghost` as missing but lists no such weight"),
            "{e:#}"
        );
        assert_eq!(
            crate::error::exit_code_of(&e),
            ErrorKind::BadMap.exit_code()
        );
        let mut evil = m.clone();
        evil.header
            .meta
            .insert(META_KNOWS.into(), "everything".into());
        let e = MapFile::from_bytes(&evil.to_bytes().unwrap()).unwrap_err();
        assert!(format!("{e:#}").contains("knows `everything`"), "{e:#}");
    }

    #[test]
    fn corrupt_and_hostile_maps_are_rejected() {
        let (m, _) = sample();
        let good = m.to_bytes().unwrap();
        let kind =
            |b: &[u8]| crate::error::find(&MapFile::from_bytes(b).unwrap_err()).map(|e| e.kind);
        assert_eq!(kind(&good[..good.len() - 1]), Some(ErrorKind::BadMap));
        assert_eq!(kind(b"TRTDMAP"), Some(ErrorKind::BadMap));
        assert_eq!(
            kind(b"PK\x03\x04whatever-else-here"),
            Some(ErrorKind::BadMap)
        );
        let mut flipped = good.clone();
        flipped[30] ^= 1;
        assert_eq!(kind(&flipped), Some(ErrorKind::BadMap));
        let mut v2 = good.clone();
        v2[8] = 2;
        assert!(format!("{:#}", MapFile::from_bytes(&v2).unwrap_err()).contains("version 2"));
        // A run past the end of the engine, re-checksummed so only validation can catch it.
        let mut evil = m.clone();
        evil.runs[1].run.offset = 299;
        let e = MapFile::from_bytes(&evil.to_bytes().unwrap()).unwrap_err();
        assert!(format!("{e:#}").contains("past the end"), "{e:#}");
        let mut evil = m.clone();
        evil.runs[0].outer = u64::MAX;
        assert!(MapFile::from_bytes(&evil.to_bytes().unwrap()).is_err());
        let mut evil = m.clone();
        evil.runs[0].run.weight = 7;
        assert!(format!(
            "{:#}",
            MapFile::from_bytes(&evil.to_bytes().unwrap()).unwrap_err()
        )
        .contains("weight 7"));
    }

    /// A map whose bytes end 15 after the JSON header: the run count's last byte is the checksum's
    /// low byte, and the checksum is made to end in 0 so the count reads 0 and matches "no
    /// records". The record length was `body.len() - at - 8`, one below zero (issue 16, item 5).
    fn header_then_15_bytes() -> Vec<u8> {
        let (m, _) = sample();
        let json = serde_json::to_vec(&m.header).unwrap();
        for pad in 0..10_000 {
            let mut header = json.clone();
            header.extend(std::iter::repeat_n(b' ', pad)); // JSON allows trailing whitespace
            let mut body = MAGIC.to_vec();
            body.extend_from_slice(&VERSION.to_le_bytes());
            body.extend_from_slice(&(header.len() as u64).to_le_bytes());
            body.extend_from_slice(&header);
            body.extend_from_slice(&[0; 7]);
            let sum = xxh3_64(&body);
            if sum & 0xff == 0 {
                body.extend_from_slice(&sum.to_le_bytes());
                return body;
            }
        }
        unreachable!("one checksum in 256 ends in a zero byte")
    }

    #[test]
    fn a_file_ending_15_bytes_after_its_header_is_truncated_not_a_panic() {
        let b = header_then_15_bytes();
        let hlen = u64::from_le_bytes(b[12..20].try_into().unwrap()) as usize;
        assert_eq!(b.len(), 20 + hlen + 15);
        assert_eq!(b[b.len() - 8], 0, "checksum low byte");
        let e = MapFile::from_bytes(&b).unwrap_err();
        assert_eq!(
            crate::error::find(&e).map(|e| e.kind),
            Some(ErrorKind::BadMap)
        );
        assert!(
            format!("{e:#}").contains("truncated map file: 15 bytes after the header"),
            "{e:#}"
        );
    }

    /// The same input is in the fuzz corpus (mode byte 0: the bytes as they are), so the
    /// `map_file` target replays it in `tests/reliability_fuzz_corpus.rs`. To rewrite it:
    /// `TRT_DUMP_WRITE_CORPUS=1 cargo test --lib map::tests::the_fuzz_corpus`.
    #[test]
    fn the_fuzz_corpus_holds_the_15_byte_input() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("fuzz/corpus/map_file/regress-header-then-15-bytes");
        let mut want = vec![0u8];
        want.extend(header_then_15_bytes());
        if std::env::var_os("TRT_DUMP_WRITE_CORPUS").is_some() {
            std::fs::write(&path, &want).unwrap();
        }
        assert_eq!(std::fs::read(&path).unwrap(), want, "{}", path.display());
    }
}
