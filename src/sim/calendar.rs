//! The event calendar: a binary heap ordered by `(time, seq)`, so events due at the same
//! instant leave in the order they were scheduled (FIFO), which makes every run
//! reproducible whatever the platform's heap implementation does with ties.

use std::cmp::Ordering;
use std::collections::BinaryHeap;

#[derive(Debug, Clone, Copy)]
struct Entry<E> {
    time: f64,
    seq: u64,
    event: E,
}

impl<E> PartialEq for Entry<E> {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}
impl<E> Eq for Entry<E> {}
impl<E> PartialOrd for Entry<E> {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl<E> Ord for Entry<E> {
    fn cmp(&self, other: &Self) -> Ordering {
        // Reversed: BinaryHeap is a max-heap and we want the earliest event first.
        other.time.total_cmp(&self.time).then_with(|| other.seq.cmp(&self.seq))
    }
}

/// A future-event list. Push and pop are O(log n).
#[derive(Debug, Clone)]
pub struct Calendar<E> {
    heap: BinaryHeap<Entry<E>>,
    seq: u64,
}

impl<E> Default for Calendar<E> {
    fn default() -> Self {
        Calendar { heap: BinaryHeap::new(), seq: 0 }
    }
}

impl<E> Calendar<E> {
    /// An empty calendar with room for `n` events.
    pub fn with_capacity(n: usize) -> Self {
        Calendar { heap: BinaryHeap::with_capacity(n), seq: 0 }
    }

    /// Schedules `event` at `time`.
    #[inline]
    pub fn schedule(&mut self, time: f64, event: E) {
        self.seq += 1;
        self.heap.push(Entry { time, seq: self.seq, event });
    }

    /// Removes and returns the earliest event (FIFO among equal times).
    #[inline]
    pub fn pop(&mut self) -> Option<(f64, E)> {
        self.heap.pop().map(|e| (e.time, e.event))
    }

    /// Time of the earliest event.
    pub fn peek_time(&self) -> Option<f64> {
        self.heap.peek().map(|e| e.time)
    }

    /// Pending events.
    pub fn len(&self) -> usize {
        self.heap.len()
    }

    /// No pending events.
    pub fn is_empty(&self) -> bool {
        self.heap.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn equal_times_leave_in_fifo_order() {
        let mut c = Calendar::default();
        for i in 0..100 {
            c.schedule(1.0, i);
        }
        c.schedule(0.5, -1);
        assert_eq!(c.pop(), Some((0.5, -1)));
        for i in 0..100 {
            assert_eq!(c.pop(), Some((1.0, i)));
        }
        assert!(c.is_empty());
    }

    #[test]
    fn times_come_out_sorted() {
        let mut c = Calendar::default();
        for (i, t) in [3.0, 1.0, 2.0, 0.0, 2.0].into_iter().enumerate() {
            c.schedule(t, i);
        }
        let order: Vec<usize> = std::iter::from_fn(|| c.pop().map(|(_, e)| e)).collect();
        assert_eq!(order, vec![3, 1, 2, 4, 0]);
    }
}
