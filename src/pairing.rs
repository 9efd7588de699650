//! Names by value (`--names-from`, and `verify`'s pairing): give an engine's weights the names a
//! checkpoint uses, by finding the checkpoint tensor that holds the same values.
//!
//! Engines built from `torch.onnx` exports name many weights after ONNX nodes (`onnx::MatMul_42`,
//! `tmp_weight_3`), not after the model. The engine holds the values, and so does the user's
//! checkpoint, so the names can be recovered: [`pair`] takes the engine's weights and a reference
//! (the checkpoint's tensors) and says, for every weight, which reference name it goes by.
//!
//! 1. **By name.** A weight whose name is in the reference keeps it (whatever its values: a
//!    difference is for `verify` to report). That reference name is then taken: it is never given
//!    to another weight by value.
//! 2. **By value**, for the others. A weight is paired with the one untaken reference tensor of the
//!    same element count that holds the same values, in one of these ways ([`How`]):
//!    exactly (bits equal after converting the reference to the weight's refit dtype, with no
//!    rounding), transposed (a 2-D reference whose transpose, in C order, is the weight),
//!    rounded (the reference rounded to a narrower float dtype the engine keeps the weight in, its
//!    refit dtype or a stored dtype, gives the weight's values), or transposed and rounded.
//! 3. **Never a guess.** A weight stays under its engine name, reported [`Outcome::Ambiguous`],
//!    when its values match several reference tensors, when another weight's values match the same
//!    reference tensor, when it is constant (all elements equal), or when it has fewer than
//!    [`MIN_ELEMENTS`] elements and matches anything. A weight matching nothing is
//!    [`Outcome::Unpaired`]; one without values (not recovered, weight-stripped) is
//!    [`Outcome::NoValues`].
//!
//! **Speed.** Every candidate is found through a content hash (xxh3 over the values converted to a
//! canonical f64/i64 form, in the weight's order): one hash per engine weight, and per reference
//! tensor one per form that some unpaired weight of the same element count could need (as is,
//! transposed, rounded to float16/bfloat16, both). Reference tensors whose element count no
//! unpaired weight has are never hashed. A hash only proposes: every candidate is then compared
//! element by element ([`crate::compare::compare_values`]), so a collision can cost time, never a
//! wrong name.
//!
//! **Orientation.** A weight paired `transposed` is the checkpoint's `[r, c]` tensor stored as
//! `[c, r]`. [`to_reference`] turns the engine's values into the checkpoint's orientation (what
//! `dump --names-from` writes); [`to_engine`] turns a (new) checkpoint's tensors back into the
//! engine's names, orientation and refit dtypes (what a refit from an edited checkpoint needs).

use std::collections::{BTreeMap, HashMap, HashSet};
use std::fmt;
use std::str::FromStr;

use half::{bf16, f16};
use serde::{Deserialize, Serialize};
use xxhash_rust::xxh3::Xxh3;

use crate::compare::{self, Tolerance, Values};
use crate::dtype::{element_value as element, encode, DataType, Num};
use crate::reference::RefTensor;

/// Weights with fewer elements than this are not paired by value (too few values to tell apart).
pub const MIN_ELEMENTS: u64 = 8;

/// Narrow float dtypes a reference may be rounded to when looking for a pairing.
const ROUNDINGS: [DataType; 2] = [DataType::Half, DataType::Bf16];

/// One engine weight as extraction left it.
#[derive(Clone, Copy, Debug)]
pub struct Weight<'a> {
    pub name: &'a str,
    /// The refit dtype.
    pub dtype: DataType,
    pub count: u64,
    /// In the refit dtype; `None` when not recovered.
    pub values: Option<&'a [u8]>,
    /// The dtypes the engine stores it in (may be narrower than `dtype`); empty when not known.
    pub stored: &'a [DataType],
}

/// How a weight's values relate to the reference tensor it was paired with.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum How {
    /// Equal values, same order.
    Exact,
    /// Equal after rounding the reference to `to` (the weight's refit dtype or a narrower dtype
    /// the engine stores it in).
    Rounded { to: DataType },
    /// The reference is 2-D `[r, c]`; the weight holds its transpose (`[c, r]`, C order).
    Transposed,
    /// Both.
    TransposedRounded { to: DataType },
}

impl How {
    pub fn transposed(self) -> bool {
        matches!(self, How::Transposed | How::TransposedRounded { .. })
    }

    pub fn rounded_to(self) -> Option<DataType> {
        match self {
            How::Rounded { to } | How::TransposedRounded { to } => Some(to),
            _ => None,
        }
    }

    fn with_rounding(transposed: bool, to: Option<DataType>) -> How {
        match (transposed, to) {
            (false, None) => How::Exact,
            (false, Some(to)) => How::Rounded { to },
            (true, None) => How::Transposed,
            (true, Some(to)) => How::TransposedRounded { to },
        }
    }
}

/// `exact`, `transposed`, `rounded to float16`, `transposed, rounded to float16`.
impl fmt::Display for How {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            How::Exact => f.write_str("exact"),
            How::Rounded { to } => write!(f, "rounded to {to}"),
            How::Transposed => f.write_str("transposed"),
            How::TransposedRounded { to } => write!(f, "transposed, rounded to {to}"),
        }
    }
}

impl FromStr for How {
    type Err = String;
    fn from_str(s: &str) -> Result<How, String> {
        let (transposed, rest) = match s.strip_prefix("transposed") {
            Some(r) => (true, r.strip_prefix(", ").unwrap_or(r)),
            None => (false, s),
        };
        let to = match rest {
            "" | "exact" => None,
            r => {
                let name = r
                    .strip_prefix("rounded to ")
                    .ok_or_else(|| format!("not a pairing: `{s}`"))?;
                Some(
                    DataType::from_name(name)
                        .ok_or_else(|| format!("unknown dtype `{name}` in `{s}`"))?,
                )
            }
        };
        Ok(How::with_rounding(transposed, to))
    }
}

impl Serialize for How {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for How {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<How, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

/// Why a weight whose values match was not paired.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Ambiguity {
    /// Its values match several reference tensors.
    Several,
    /// Another engine weight matches the same reference tensor (listed in `others`).
    Shared { others: Vec<String> },
    /// All its elements are equal: its values identify nothing.
    Constant,
    /// Fewer than [`MIN_ELEMENTS`] elements.
    TooSmall,
}

impl fmt::Display for Ambiguity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Ambiguity::Several => f.write_str("its values match several reference tensors"),
            Ambiguity::Shared { others } => {
                write!(
                    f,
                    "engine weight(s) {} hold the same values",
                    others
                        .iter()
                        .map(|o| format!("`{o}`"))
                        .collect::<Vec<_>>()
                        .join(", ")
                )
            }
            Ambiguity::Constant => {
                f.write_str("it is constant (all elements equal), so its values identify nothing")
            }
            Ambiguity::TooSmall => write!(
                f,
                "it has fewer than {MIN_ELEMENTS} elements, too few to identify it"
            ),
        }
    }
}

/// What became of one engine weight.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// The reference has a tensor of this name (`reference`: its index).
    ByName { reference: usize },
    /// Paired by value with reference tensor `reference`, named `name`, of shape `shape`.
    ByValue {
        reference: usize,
        name: String,
        shape: Vec<u64>,
        how: How,
    },
    /// Its values match (`candidates`: the reference names) but it was not paired, for `why`.
    Ambiguous {
        why: Ambiguity,
        candidates: Vec<String>,
    },
    /// No reference tensor of its name, none holding its values.
    Unpaired,
    /// Not recovered from the engine: nothing to pair.
    NoValues,
    /// Pairing by value was turned off (`verify --no-pairing`) and the name is not in the reference.
    NotTried,
}

/// One engine weight's pairing.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Entry {
    /// The engine's name.
    pub engine: String,
    pub outcome: Outcome,
}

impl Entry {
    /// The name the weight goes by: the reference's when paired by value, else its own.
    pub fn name(&self) -> &str {
        match &self.outcome {
            Outcome::ByValue { name, .. } => name,
            _ => &self.engine,
        }
    }

    /// How it was paired by value, if it was.
    pub fn by_value(&self) -> Option<How> {
        match &self.outcome {
            Outcome::ByValue { how, .. } => Some(*how),
            _ => None,
        }
    }
}

/// A pairing by value, as reports, JSON and output metadata list it (and as a later run can read
/// it back from them).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Record {
    /// The engine's name.
    pub engine: String,
    /// The reference's name, which the weight now goes by.
    pub name: String,
    pub how: How,
}

/// A weight left under its engine name although its values match.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AmbiguousRecord {
    pub engine: String,
    pub why: String,
    /// The reference tensors its values match.
    pub candidates: Vec<String>,
}

/// Options of [`pair`].
#[derive(Clone, Copy, Debug)]
pub struct Options {
    /// Pair by value (false: by name only).
    pub by_value: bool,
}

impl Default for Options {
    fn default() -> Options {
        Options { by_value: true }
    }
}

/// Every engine weight's pairing, in the engine's order.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Pairings {
    pub entries: Vec<Entry>,
}

impl Pairings {
    /// The pairings by value.
    pub fn records(&self) -> Vec<Record> {
        self.entries
            .iter()
            .filter_map(|e| match &e.outcome {
                Outcome::ByValue { name, how, .. } => Some(Record {
                    engine: e.engine.clone(),
                    name: name.clone(),
                    how: *how,
                }),
                _ => None,
            })
            .collect()
    }

    /// The weights left under their engine names although their values match.
    pub fn ambiguous(&self) -> Vec<AmbiguousRecord> {
        self.entries
            .iter()
            .filter_map(|e| match &e.outcome {
                Outcome::Ambiguous { why, candidates } => Some(AmbiguousRecord {
                    engine: e.engine.clone(),
                    why: why.to_string(),
                    candidates: candidates.clone(),
                }),
                _ => None,
            })
            .collect()
    }

    pub fn count(&self, f: impl Fn(&Outcome) -> bool) -> usize {
        self.entries.iter().filter(|e| f(&e.outcome)).count()
    }

    /// True when no weight had values to pair (a weight-stripped engine, or nothing recovered).
    pub fn no_values(&self) -> bool {
        !self.entries.is_empty() && self.entries.iter().all(|e| e.outcome == Outcome::NoValues)
    }

    /// The shape a weight takes from the reference: the reference tensor's, for a weight paired
    /// by value, or by name when the element counts agree; `None` otherwise.
    pub fn shape(&self, i: usize, count: u64, reference: &[RefTensor]) -> Option<Vec<u64>> {
        match &self.entries.get(i)?.outcome {
            Outcome::ByValue { shape, .. } => Some(shape.clone()),
            Outcome::ByName { reference: r } => {
                let t = reference.get(*r)?;
                (t.count() == count).then(|| t.shape.clone())
            }
            _ => None,
        }
    }
}

/// The summary that reports print in JSON (`names_from` / `pairing`).
#[derive(Clone, Debug, Serialize)]
pub struct Summary {
    /// The reference file.
    pub reference: String,
    /// Weights that kept their name (the reference has it).
    pub by_name: usize,
    /// Pairings by value: engine name → reference name, and how.
    pub by_value: Vec<Record>,
    /// Weights left under their engine names although their values match.
    pub ambiguous: Vec<AmbiguousRecord>,
    /// Weights whose name is not in the reference and whose values match no reference tensor.
    pub unpaired: Vec<String>,
    /// Weights with no values to pair (not recovered).
    pub no_values: usize,
}

impl Summary {
    pub fn new(reference: &str, p: &Pairings) -> Summary {
        Summary {
            reference: reference.to_string(),
            by_name: p.count(|o| matches!(o, Outcome::ByName { .. })),
            by_value: p.records(),
            ambiguous: p.ambiguous(),
            unpaired: p
                .entries
                .iter()
                .filter(|e| matches!(e.outcome, Outcome::Unpaired | Outcome::NotTried))
                .map(|e| e.engine.clone())
                .collect(),
            no_values: p.count(|o| *o == Outcome::NoValues),
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Canonical values and their hashes
// ---------------------------------------------------------------------------------------------

fn is_float(d: DataType) -> bool {
    matches!(
        d,
        DataType::Float
            | DataType::Half
            | DataType::Bf16
            | DataType::Fp8
            | DataType::Fp4
            | DataType::E8m0
    )
}

const CANONICAL_NAN: u64 = 0x7ff8_0000_0000_0000;

/// An element's canonical key: equal values (after any conversion `compare` calls exact) give
/// equal keys. Different values may share a key (large integers); candidates are always checked.
fn key(n: Num, round: Option<DataType>) -> u64 {
    match n {
        Num::F(f) => {
            let f = match round {
                Some(DataType::Half) => f16::from_f64(f).to_f64(),
                Some(DataType::Bf16) => bf16::from_f64(f).to_f64(),
                _ => f,
            };
            if f.is_nan() {
                CANONICAL_NAN
            } else {
                f.to_bits()
            }
        }
        Num::I(i) if i.unsigned_abs() <= 1 << 53 => (i as f64).to_bits(),
        Num::I(i) => (i as u64).rotate_left(17) ^ 0x9e37_79b9_7f4a_7c15,
    }
}

/// xxh3 of the canonical keys of `count` elements, in C order or (for `[rows, cols]`) in the
/// transpose's C order, each rounded to `round` first when given.
fn digest(
    dtype: DataType,
    data: &[u8],
    count: usize,
    transpose: Option<(usize, usize)>,
    round: Option<DataType>,
) -> u64 {
    let mut h = Xxh3::new();
    let mut buf = [0u8; 8 * 1024];
    let mut k = 0;
    let mut push = |v: u64, h: &mut Xxh3| {
        buf[k..k + 8].copy_from_slice(&v.to_le_bytes());
        k += 8;
        if k == buf.len() {
            h.update(&buf);
            k = 0;
        }
    };
    match transpose {
        None => (0..count).for_each(|i| push(key(element(dtype, data, i), round), &mut h)),
        Some((rows, cols)) => {
            for j in 0..cols {
                for i in 0..rows {
                    push(key(element(dtype, data, i * cols + j), round), &mut h);
                }
            }
        }
    }
    h.update(&buf[..k]);
    h.digest()
}

fn is_constant(dtype: DataType, data: &[u8], count: usize) -> bool {
    if count == 0 {
        return true;
    }
    let first = key(element(dtype, data, 0), None);
    (1..count).all(|i| key(element(dtype, data, i), None) == first)
}

/// `data` viewed as `[rows, cols]` of `elem`-byte elements, transposed to `[cols, rows]`.
pub fn transpose(data: &[u8], elem: usize, rows: usize, cols: usize) -> Vec<u8> {
    let mut out = vec![0u8; data.len()];
    for i in 0..rows {
        for j in 0..cols {
            let s = (i * cols + j) * elem;
            let d = (j * rows + i) * elem;
            out[d..d + elem].copy_from_slice(&data[s..s + elem]);
        }
    }
    out
}

/// `[rows, cols]` of a 2-D shape whose transpose is a different order (both dimensions above 1).
fn transposable(shape: &[u64]) -> Option<(usize, usize)> {
    match shape {
        [r, c] if *r > 1 && *c > 1 => Some((usize::try_from(*r).ok()?, usize::try_from(*c).ok()?)),
        _ => None,
    }
}

// ---------------------------------------------------------------------------------------------
// Pairing
// ---------------------------------------------------------------------------------------------

/// Checks a proposed pairing element by element.
fn confirm(w: &Weight<'_>, values: &[u8], r: &RefTensor, how: How) -> bool {
    let data: std::borrow::Cow<'_, [u8]> = match (how.transposed(), transposable(&r.shape)) {
        (false, _) => r.data.as_slice().into(),
        (true, Some((rows, cols))) if r.dtype.bits() >= 8 => {
            transpose(&r.data, (r.dtype.bits() / 8) as usize, rows, cols).into()
        }
        (true, _) => return false,
    };
    let a = Values {
        dtype: w.dtype,
        data: values,
    };
    let b = Values {
        dtype: r.dtype,
        data: &data,
    };
    match how.rounded_to() {
        None => {
            matches!(compare::compare_values(a, b, w.count, &Tolerance::exact()), Ok(s) if s.differing == 0 && s.rounded == 0)
        }
        Some(d) if d == w.dtype => {
            matches!(compare::compare_values(a, b, w.count, &Tolerance::exact()), Ok(s) if s.differing == 0)
        }
        Some(d) => compare::equals_rounded_through(a, b, w.count, d),
    }
}

/// Pairs every engine weight with a reference tensor: by name, then (with `opts.by_value`) by
/// value among the rest (see the module documentation for the rules).
pub fn pair(engine: &[Weight<'_>], reference: &[RefTensor], opts: &Options) -> Pairings {
    let mut by_name: HashMap<&str, usize> = HashMap::with_capacity(reference.len());
    for (i, r) in reference.iter().enumerate() {
        by_name.entry(r.name.as_str()).or_insert(i);
    }
    let mut entries: Vec<Entry> = Vec::with_capacity(engine.len());
    let mut taken: HashSet<usize> = HashSet::new();
    // Weights to pair by value: (index, values).
    let mut todo: Vec<(usize, &[u8])> = Vec::new();
    for (i, w) in engine.iter().enumerate() {
        let outcome = if let Some(&r) = by_name.get(w.name) {
            taken.insert(r);
            Outcome::ByName { reference: r }
        } else if !opts.by_value {
            Outcome::NotTried
        } else {
            match w.values {
                Some(v) if w.dtype.bytes_for(w.count) == Some(v.len() as u64) => {
                    todo.push((i, v));
                    Outcome::Unpaired
                }
                _ => Outcome::NoValues,
            }
        };
        entries.push(Entry {
            engine: w.name.to_string(),
            outcome,
        });
    }
    if todo.is_empty() {
        return Pairings { entries };
    }

    // What the weights to pair could match: their element counts, and per count the roundings.
    let mut wanted: HashMap<u64, HashSet<DataType>> = HashMap::new();
    for &(i, _) in &todo {
        let w = &engine[i];
        let rounds = wanted.entry(w.count).or_default();
        for d in std::iter::once(w.dtype).chain(w.stored.iter().copied()) {
            if ROUNDINGS.contains(&d) {
                rounds.insert(d);
            }
        }
    }
    // Buckets of reference forms: (count, hash) → (reference index, how).
    let mut buckets: HashMap<(u64, u64), Vec<(usize, How)>> = HashMap::new();
    for (ri, r) in reference.iter().enumerate() {
        if taken.contains(&ri) || by_name.get(r.name.as_str()) != Some(&ri) {
            continue; // taken by name, or a later duplicate of a name
        }
        let count = r.count();
        let Some(rounds) = wanted.get(&count) else {
            continue;
        };
        if r.dtype.bytes_for(count) != Some(r.data.len() as u64) {
            continue;
        }
        let n = count as usize;
        let t = transposable(&r.shape).filter(|_| r.dtype.bits() >= 8);
        let mut add =
            |hash: u64, how: How| buckets.entry((count, hash)).or_default().push((ri, how));
        add(digest(r.dtype, &r.data, n, None, None), How::Exact);
        if let Some(rc) = t {
            add(digest(r.dtype, &r.data, n, Some(rc), None), How::Transposed);
        }
        if is_float(r.dtype) {
            for &d in rounds {
                if d == r.dtype {
                    continue;
                }
                add(
                    digest(r.dtype, &r.data, n, None, Some(d)),
                    How::Rounded { to: d },
                );
                if let Some(rc) = t {
                    add(
                        digest(r.dtype, &r.data, n, Some(rc), Some(d)),
                        How::TransposedRounded { to: d },
                    );
                }
            }
        }
    }

    // Candidates of each weight, confirmed element by element.
    // (weight, confirmed candidates (reference, how), why it cannot pair even so)
    type Found = (usize, Vec<(usize, How)>, Option<Ambiguity>);
    let mut found: Vec<Found> = Vec::with_capacity(todo.len());
    for &(i, values) in &todo {
        let w = &engine[i];
        let n = w.count as usize;
        let h = digest(w.dtype, values, n, None, None);
        let mut cands: BTreeMap<usize, How> = BTreeMap::new();
        for &(ri, how) in buckets.get(&(w.count, h)).map(Vec::as_slice).unwrap_or(&[]) {
            let allowed = match how.rounded_to() {
                None => true,
                Some(d) => d == w.dtype || w.stored.contains(&d),
            };
            if !allowed || cands.get(&ri).is_some_and(|&h| h <= how) {
                continue;
            }
            // A reference exactly representable in the weight's dtype also hashes equal when
            // rounded; keep the simplest description that holds.
            if confirm(w, values, &reference[ri], how) {
                cands.insert(ri, how);
            }
        }
        let too_few = if w.count < MIN_ELEMENTS {
            Some(Ambiguity::TooSmall)
        } else if is_constant(w.dtype, values, n) {
            Some(Ambiguity::Constant)
        } else if cands.len() > 1 {
            Some(Ambiguity::Several)
        } else {
            None
        };
        found.push((i, cands.into_iter().collect(), too_few));
    }

    // A reference tensor claimed by several weights goes to none of them.
    let mut claims: HashMap<usize, Vec<usize>> = HashMap::new();
    for (i, cands, why) in &found {
        if why.is_none() {
            if let [(ri, _)] = cands.as_slice() {
                claims.entry(*ri).or_default().push(*i);
            }
        }
    }
    for (i, cands, why) in found {
        let names = || {
            cands
                .iter()
                .map(|(ri, _)| reference[*ri].name.clone())
                .collect::<Vec<_>>()
        };
        entries[i].outcome = match (why, cands.as_slice()) {
            (_, []) => Outcome::Unpaired,
            (Some(why), _) => Outcome::Ambiguous {
                why,
                candidates: names(),
            },
            (None, [(ri, how)]) => {
                let claimants = &claims[ri];
                if claimants.len() > 1 {
                    let others = claimants
                        .iter()
                        .filter(|&&j| j != i)
                        .map(|&j| engine[j].name.to_string())
                        .collect();
                    Outcome::Ambiguous {
                        why: Ambiguity::Shared { others },
                        candidates: names(),
                    }
                } else {
                    let r = &reference[*ri];
                    Outcome::ByValue {
                        reference: *ri,
                        name: r.name.clone(),
                        shape: r.shape.clone(),
                        how: *how,
                    }
                }
            }
            (None, _) => unreachable!("several candidates are Ambiguity::Several"),
        };
    }
    Pairings { entries }
}

/// A weight's values in the orientation of the reference tensor it was paired with (transposed
/// back when `how` is transposed; `shape` the reference's `[r, c]`), else as they are.
pub fn to_reference<'a>(
    values: &'a [u8],
    dtype: DataType,
    how: Option<How>,
    shape: &[u64],
) -> std::borrow::Cow<'a, [u8]> {
    match (how.is_some_and(How::transposed), transposable(shape)) {
        (true, Some((r, c))) if dtype.bits() >= 8 => {
            transpose(values, (dtype.bits() / 8) as usize, c, r).into()
        }
        _ => values.into(),
    }
}

// ---------------------------------------------------------------------------------------------
// Back to the engine (refit from an edited or new checkpoint)
// ---------------------------------------------------------------------------------------------

/// One tensor ready for the refitter: the engine's name, refit dtype and orientation.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EngineTensor {
    /// Index in the engine's weight list.
    pub index: usize,
    /// The engine's name (what `IRefitter::setNamedWeights` takes).
    pub engine: String,
    /// The checkpoint name it was taken from.
    pub from: String,
    /// The engine's refit dtype.
    pub dtype: DataType,
    /// `count` elements of `dtype`, in the engine's order.
    pub data: Vec<u8>,
    /// Transposed from the checkpoint's orientation.
    pub transposed: bool,
    /// Elements that changed value converting the checkpoint's dtype to `dtype` (rounding).
    pub rounded: u64,
}

/// An engine weight that [`to_engine`] could not fill, and why.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NotFilled {
    pub index: usize,
    pub engine: String,
    /// The checkpoint name looked for.
    pub looked_for: String,
    pub why: String,
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ForEngine {
    pub tensors: Vec<EngineTensor>,
    pub not_filled: Vec<NotFilled>,
}

/// Converts `n` elements of `from` into `to` (equal dtypes: a copy; otherwise as `compare` and
/// TensorRT convert: floats round to nearest even, integers must fit, fp8/fp4/e8m0 codes must be
/// hit exactly). Returns the data and how many elements changed value (rounded).
fn convert(from: DataType, data: &[u8], to: DataType, n: usize) -> Result<(Vec<u8>, u64), String> {
    if from == to {
        return Ok((data.to_vec(), 0));
    }
    let bytes = to
        .bytes_for(n as u64)
        .and_then(|b| usize::try_from(b).ok())
        .ok_or("too many elements")?;
    let mut out = vec![0u8; bytes];
    let mut rounded = 0u64;
    for i in 0..n {
        let v = element(from, data, i);
        let Some((bits, exact)) = encode(to, v) else {
            return Err(format!("element {i} ({}) has no {to} value", v.f64()));
        };
        rounded += u64::from(!exact);
        match to.bits() {
            4 => out[i / 2] |= ((bits & 0xf) as u8) << (4 * (i % 2)),
            b => {
                let w = (b / 8) as usize;
                out[i * w..(i + 1) * w].copy_from_slice(&bits.to_le_bytes()[..w]);
            }
        }
    }
    Ok((out, rounded))
}

/// The tensors of a (new) checkpoint `new`, under the engine's names, in its orientation and refit
/// dtypes: for each engine weight, the checkpoint tensor named as `pairings` says (its pairing by
/// value, else its own name), transposed back when the pairing was transposed, and converted to
/// the refit dtype. `engine` and `pairings` are those given to / returned by [`pair`] (for the
/// original checkpoint); `engine[i].values` is not used. Weights the checkpoint does not hold, or
/// holds with another element count or shape, are listed in [`ForEngine::not_filled`].
pub fn to_engine(engine: &[Weight<'_>], pairings: &Pairings, new: &[RefTensor]) -> ForEngine {
    let mut by_name: HashMap<&str, &RefTensor> = HashMap::with_capacity(new.len());
    for t in new {
        by_name.entry(t.name.as_str()).or_insert(t);
    }
    let mut out = ForEngine::default();
    for (index, (w, e)) in engine.iter().zip(&pairings.entries).enumerate() {
        let looked_for = e.name().to_string();
        let fail = |why: String| NotFilled {
            index,
            engine: w.name.to_string(),
            looked_for: looked_for.clone(),
            why,
        };
        let Some(t) = by_name.get(looked_for.as_str()) else {
            out.not_filled
                .push(fail("the checkpoint has no tensor of this name".into()));
            continue;
        };
        if t.count() != w.count {
            out.not_filled.push(fail(format!(
                "the checkpoint's tensor has {} elements, the engine's weight {}",
                t.count(),
                w.count
            )));
            continue;
        }
        if t.dtype.bytes_for(t.count()) != Some(t.data.len() as u64) {
            out.not_filled.push(fail(
                "the checkpoint's tensor holds the wrong number of bytes".into(),
            ));
            continue;
        }
        let how = e.by_value();
        let transposed = how.is_some_and(How::transposed);
        let data: std::borrow::Cow<'_, [u8]> = if transposed {
            let Outcome::ByValue { shape, .. } = &e.outcome else {
                unreachable!("by_value")
            };
            match (transposable(&t.shape), t.dtype.bits() >= 8) {
                (Some((r, c)), true) if t.shape == *shape => {
                    transpose(&t.data, (t.dtype.bits() / 8) as usize, r, c).into()
                }
                _ => {
                    out.not_filled.push(fail(format!(
                        "paired transposed with a {shape:?} tensor, but the checkpoint's is {:?} of {}",
                        t.shape, t.dtype
                    )));
                    continue;
                }
            }
        } else {
            t.data.as_slice().into()
        };
        match convert(t.dtype, &data, w.dtype, w.count as usize) {
            Ok((data, rounded)) => out.tensors.push(EngineTensor {
                index,
                engine: w.name.to_string(),
                from: looked_for.clone(),
                dtype: w.dtype,
                data,
                transposed,
                rounded,
            }),
            Err(why) => out.not_filled.push(fail(why)),
        }
    }
    out
}

#[cfg(test)]
mod tests;
