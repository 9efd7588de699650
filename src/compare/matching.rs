//! Name matching: pairing the weights of one side with those of the other by name, once, for both
//! `verify` (engine against reference) and `diff` (engine A against engine B).
//!
//! Names by value hook in before this pass: `verify` (by default) and `diff --names-from` first
//! give each engine weight whose name the reference lacks the name of the reference tensor holding
//! its values ([`crate::pairing::pair`], applied by `cli::names::Renamed`, which also turns a
//! transposed weight into the reference's orientation), so this pass pairs them by name like any
//! other.

use std::collections::{BTreeMap, BTreeSet};

/// Something with a name to be matched on.
pub trait Named {
    fn name(&self) -> &str;
}

/// Where a name was found.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Paired<'x, L, R> {
    /// In both; the right side's first item of that name.
    Both(&'x L, &'x R),
    OnlyLeft(&'x L),
    OnlyRight(&'x R),
}

/// Pairs `left` with `right` by name: every left item in order (paired with the first right item
/// of its name, if any), then every right item whose name is neither on the left nor already
/// listed, in order. Left items are never merged (a repeated left name is listed each time); a
/// repeated right name is listed once.
pub fn pair<'x, L: Named, R: Named>(left: &'x [L], right: &'x [R]) -> Vec<Paired<'x, L, R>> {
    let mut by_name: BTreeMap<&str, &R> = BTreeMap::new();
    for r in right {
        by_name.entry(r.name()).or_insert(r);
    }
    let mut seen: BTreeSet<&str> = BTreeSet::new();
    let mut out = Vec::with_capacity(left.len());
    for l in left {
        seen.insert(l.name());
        out.push(match by_name.get(l.name()) {
            Some(r) => Paired::Both(l, *r),
            None => Paired::OnlyLeft(l),
        });
    }
    for r in right {
        if seen.insert(r.name()) {
            out.push(Paired::OnlyRight(r));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, PartialEq)]
    struct N(&'static str, u32);

    impl Named for N {
        fn name(&self) -> &str {
            self.0
        }
    }

    #[test]
    fn left_order_then_right_only_names_first_right_item_wins() {
        let left = [N("b", 0), N("a", 1), N("x", 2), N("a", 3)];
        let right = [
            N("c", 10),
            N("a", 11),
            N("b", 12),
            N("a", 13),
            N("c", 14),
            N("d", 15),
        ];
        let got: Vec<String> = pair(&left, &right)
            .into_iter()
            .map(|p| match p {
                Paired::Both(l, r) => format!("both {}{} {}", l.0, l.1, r.1),
                Paired::OnlyLeft(l) => format!("left {}{}", l.0, l.1),
                Paired::OnlyRight(r) => format!("right {}{}", r.0, r.1),
            })
            .collect();
        assert_eq!(
            got,
            [
                "both b0 12",
                "both a1 11",
                "left x2",
                "both a3 11",
                "right c10",
                "right d15"
            ]
        );
    }

    #[test]
    fn empty_sides() {
        let none: [N; 0] = [];
        assert!(pair(&none, &none).is_empty());
        assert_eq!(pair(&[N("a", 0)], &none), [Paired::OnlyLeft(&N("a", 0))]);
        assert_eq!(pair(&none, &[N("a", 0)]), [Paired::OnlyRight(&N("a", 0))]);
    }
}
