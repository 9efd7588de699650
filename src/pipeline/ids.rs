//! Element identities: every element of every weight gets a number `g` within its code book's
//! class, in refitter order, and the number of marker passes follows from the largest class.

use super::code::Class;
use super::engine::WeightSpec;

/// Marker passes made for any engine with at least one element.
pub const MIN_PASSES: u32 = 2;

/// Where each weight's elements sit in its class's id space.
#[derive(Clone, Debug)]
pub struct IdSpace {
    /// Per weight: (class, first id).
    pub first: Vec<(Class, u64)>,
    /// Per class: ids in use.
    counts: [u64; 5],
    /// Per class: sorted (first id, weight index) of its non-empty weights, for reverse lookup.
    starts: [Vec<(u64, u32)>; 5],
    pub passes: u32,
}

fn slot(c: Class) -> usize {
    match c {
        Class::Float => 0,
        Class::Byte => 1,
        Class::Wide => 2,
        Class::Nibble => 3,
        Class::Bit => 4,
    }
}

impl IdSpace {
    pub fn new(weights: &[WeightSpec]) -> IdSpace {
        let mut counts = [0u64; 5];
        let mut starts: [Vec<(u64, u32)>; 5] = Default::default();
        let mut first = Vec::with_capacity(weights.len());
        for (w, spec) in weights.iter().enumerate() {
            let c = Class::of(spec.dtype);
            let s = slot(c);
            first.push((c, counts[s]));
            if spec.count > 0 {
                starts[s].push((counts[s], w as u32));
            }
            counts[s] += spec.count;
        }
        // At least two passes: with one, a digit is an identity with no redundancy at all, and a
        // few bytes of one small code book can read as elements of another. Only engines of under
        // 256 elements per class would otherwise get one.
        let needed = Class::ALL
            .iter()
            .map(|c| c.passes_needed(counts[slot(*c)]))
            .max()
            .unwrap_or(0);
        let passes = if needed == 0 {
            0
        } else {
            needed.max(MIN_PASSES)
        };
        IdSpace {
            first,
            counts,
            starts,
            passes,
        }
    }

    pub fn count(&self, c: Class) -> u64 {
        self.counts[slot(c)]
    }

    /// The weight and element index of id `g` of class `c`, if `g` is in use.
    #[inline]
    pub fn lookup(&self, c: Class, g: u64, weights: &[WeightSpec]) -> Option<(u32, u64)> {
        let starts = &self.starts[slot(c)];
        if g >= self.counts[slot(c)] {
            return None;
        }
        let i = starts.partition_point(|(s, _)| *s <= g).checked_sub(1)?;
        let (s, w) = starts[i];
        let idx = g - s;
        (idx < weights[w as usize].count).then_some((w, idx))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dtype::DataType;

    fn w(name: &str, dtype: DataType, count: u64) -> WeightSpec {
        WeightSpec {
            name: name.into(),
            dtype,
            count,
        }
    }

    #[test]
    fn classes_get_separate_id_spaces_and_lookup_inverts() {
        let ws = vec![
            w("a", DataType::Float, 10),
            w("b", DataType::Int8, 5),
            w("empty", DataType::Half, 0),
            w("c", DataType::Half, 300),
            w("d", DataType::Int64, 3),
        ];
        let ids = IdSpace::new(&ws);
        assert_eq!(ids.count(Class::Float), 310);
        assert_eq!(ids.first[3], (Class::Float, 10));
        assert_eq!(ids.first[1], (Class::Byte, 0));
        assert_eq!(ids.passes, 2);
        assert_eq!(ids.lookup(Class::Float, 9, &ws), Some((0, 9)));
        assert_eq!(ids.lookup(Class::Float, 10, &ws), Some((3, 0)));
        assert_eq!(ids.lookup(Class::Float, 309, &ws), Some((3, 299)));
        assert_eq!(ids.lookup(Class::Float, 310, &ws), None);
        assert_eq!(ids.lookup(Class::Byte, 4, &ws), Some((1, 4)));
        assert_eq!(ids.lookup(Class::Wide, 2, &ws), Some((4, 2)));
        assert_eq!(ids.lookup(Class::Nibble, 0, &ws), None);
    }

    #[test]
    fn no_weights_means_no_passes() {
        assert_eq!(IdSpace::new(&[]).passes, 0);
    }
}
