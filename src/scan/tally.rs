//! Counting findings by kind: what stats and spans report about a scan.
//!
//! This module owns the count of findings per [`Kind`], in the order each kind was first
//! found. It does not name kinds (that is `Detectors::kind_name`, read once per kind when
//! the count is reported) and it never holds a value. A dense prompt carries thousands of
//! findings; a count per kind costs nothing per finding where a label per finding cost an
//! allocation each.

use super::{Guard, Kind};

/// How many findings of each kind, in the order the kinds were first found.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Tally(Vec<(Kind, u32)>);

impl Tally {
    /// Counts one finding of `kind`.
    pub fn add(&mut self, kind: Kind) {
        self.add_n(kind, 1);
    }

    /// Adds every count of `other` and leaves it empty (findings drained, counted once).
    pub fn absorb(&mut self, other: &mut Tally) {
        for (kind, n) in other.0.drain(..) {
            self.add_n(kind, n);
        }
    }

    fn add_n(&mut self, kind: Kind, n: u32) {
        // a handful of kinds at most: a scan beats a map
        match self.0.iter_mut().find(|(k, _)| *k == kind) {
            Some((_, m)) => *m = m.saturating_add(n),
            None => self.0.push((kind, n)),
        }
    }

    /// The number of findings.
    pub fn total(&self) -> usize {
        self.0.iter().map(|(_, n)| *n as usize).sum()
    }

    /// Whether nothing was found.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The kind found first.
    pub fn first(&self) -> Option<Kind> {
        self.0.first().map(|(k, _)| *k)
    }

    /// Each kind found and how many times, in the order first found.
    pub fn iter(&self) -> impl Iterator<Item = (Kind, u32)> + '_ {
        self.0.iter().copied()
    }

    /// One name per finding, kinds in the order first found: for tests and the bench.
    pub fn names(&self, guard: &Guard) -> Vec<String> {
        self.0.iter().flat_map(|(k, n)| std::iter::repeat_n(guard.detectors.kind_name(*k).into_owned(), *n as usize)).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_per_kind_in_first_found_order_and_drains_what_it_absorbs() {
        let mut a = Tally::default();
        a.add(Kind::Phone);
        a.add(Kind::Email);
        a.add(Kind::Phone);
        let mut b = Tally::default();
        b.add(Kind::Secret(3));
        b.add(Kind::Email);
        a.absorb(&mut b);
        assert!(b.is_empty());
        assert_eq!(a.iter().collect::<Vec<_>>(), vec![(Kind::Phone, 2), (Kind::Email, 2), (Kind::Secret(3), 1)]);
        assert_eq!(a.total(), 5);
        assert_eq!(a.first(), Some(Kind::Phone));
    }
}
