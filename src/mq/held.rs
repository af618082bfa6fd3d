//! A consumer's delivered, unsettled messages, oldest first: a deque that keeps its oldest
//! message inline and only the others in a heap buffer.
//!
//! Why not a bare `VecDeque`: with prefetch 1 (the commonest setting, and the one whose
//! queues are most numerous in a large model) a consumer holds at most one message, and a
//! `VecDeque` keeps it in a buffer of its own. Every service end then reads the consumer's
//! slot and, through its pointer, that buffer: two dependent cache misses when a model has
//! thousands of consumers. Inline, the message sits in the slot itself.

use std::collections::VecDeque;

/// A FIFO whose front lives inline. Invariant: `rest` is empty whenever `first` is.
#[derive(Debug, Clone)]
pub(super) struct HeldList<T> {
    first: Option<T>,
    rest: VecDeque<T>,
}

impl<T> Default for HeldList<T> {
    fn default() -> Self {
        HeldList { first: None, rest: VecDeque::new() }
    }
}

impl<T> HeldList<T> {
    #[inline(always)]
    pub(super) fn len(&self) -> usize {
        usize::from(self.first.is_some()) + self.rest.len()
    }

    #[inline(always)]
    pub(super) fn is_empty(&self) -> bool {
        self.first.is_none()
    }

    #[inline(always)]
    pub(super) fn front(&self) -> Option<&T> {
        self.first.as_ref()
    }

    #[inline(always)]
    pub(super) fn push_back(&mut self, x: T) {
        if self.first.is_none() {
            self.first = Some(x);
        } else {
            self.rest.push_back(x);
        }
    }

    #[inline(always)]
    pub(super) fn pop_front(&mut self) -> Option<T> {
        let x = self.first.take()?;
        // Testing first keeps a prefetch-1 consumer off the deque's code entirely.
        if !self.rest.is_empty() {
            self.first = self.rest.pop_front();
        }
        Some(x)
    }

    /// Removes and returns the `i`-th oldest.
    pub(super) fn remove(&mut self, i: usize) -> Option<T> {
        if i == 0 { self.pop_front() } else { self.rest.remove(i - 1) }
    }

    pub(super) fn iter(&self) -> Iter<'_, T> {
        Iter { first: self.first.as_ref(), rest: self.rest.iter() }
    }
}

impl<T> IntoIterator for HeldList<T> {
    type Item = T;
    type IntoIter =
        std::iter::Chain<std::option::IntoIter<T>, std::collections::vec_deque::IntoIter<T>>;
    fn into_iter(self) -> Self::IntoIter {
        self.first.into_iter().chain(self.rest)
    }
}

/// The held messages, oldest first.
#[derive(Debug, Clone)]
pub struct Iter<'a, T> {
    first: Option<&'a T>,
    rest: std::collections::vec_deque::Iter<'a, T>,
}

impl<T> Default for Iter<'_, T> {
    fn default() -> Self {
        Iter { first: None, rest: Default::default() }
    }
}

impl<'a, T> Iterator for Iter<'a, T> {
    type Item = &'a T;

    #[inline]
    fn next(&mut self) -> Option<&'a T> {
        self.first.take().or_else(|| self.rest.next())
    }

    #[inline]
    fn size_hint(&self) -> (usize, Option<usize>) {
        let n = usize::from(self.first.is_some()) + self.rest.len();
        (n, Some(n))
    }

    #[inline]
    fn nth(&mut self, n: usize) -> Option<&'a T> {
        match self.first.take() {
            Some(f) if n == 0 => Some(f),
            Some(_) => self.rest.nth(n - 1),
            None => self.rest.nth(n),
        }
    }
}

impl<T> ExactSizeIterator for Iter<'_, T> {}

#[cfg(test)]
mod tests {
    use super::HeldList;
    use std::collections::VecDeque;

    /// Every operation, in a long random mix, does what a `VecDeque`'s does.
    #[test]
    fn behaves_as_a_deque() {
        let mut ours = HeldList::default();
        let mut theirs = VecDeque::new();
        let mut x: u64 = 0x2545_F491_4F6C_DD1D;
        for step in 0..20_000u32 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            match x % 7 {
                0..=2 => {
                    ours.push_back(step);
                    theirs.push_back(step);
                }
                3 | 4 => assert_eq!(ours.pop_front(), theirs.pop_front()),
                5 => {
                    let i = (x >> 8) as usize % (theirs.len() + 1);
                    assert_eq!(ours.remove(i), theirs.remove(i));
                }
                _ => {
                    let i = (x >> 8) as usize % (theirs.len() + 1);
                    assert_eq!(ours.iter().nth(i), theirs.get(i));
                }
            }
            assert_eq!(ours.len(), theirs.len());
            assert_eq!(ours.iter().len(), theirs.len());
            assert_eq!(ours.front(), theirs.front());
            assert!(ours.iter().eq(theirs.iter()));
        }
        assert!(ours.into_iter().eq(theirs));
    }
}
