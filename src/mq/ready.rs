//! The ready messages of one queue: one FIFO per priority, the highest non-empty priority
//! found from a bitmap, requeue by arrival order within a priority, and the heads' expiry
//! times. Priority 0 (every message of a plain queue) lives in its own deque, so a plain
//! queue pays one comparison over a bare `VecDeque`.

use super::queue::{Entry, Lifecycle};
use std::collections::VecDeque;

#[derive(Debug, Clone)]
pub(super) struct Ready<M, X> {
    /// Priority 0.
    low: VecDeque<Entry<M, X>>,
    /// Priority `p >= 1` at index `p - 1` (empty for a plain queue).
    high: Vec<VecDeque<Entry<M, X>>>,
    /// Messages in `high`.
    high_len: usize,
    /// Bit `p` set when the deque of priority `p >= 1` is not empty.
    nonempty: [u64; 4],
    /// A deque in `high` held more than [`KEEP`] entries since the last release: only then
    /// does a release look at their capacities (up to 255 of them).
    high_grown: bool,
}

/// Entries a drained deque keeps room for ([`Ready::release_if_empty`]).
pub(super) const KEEP: usize = 4096;

impl<M, X: Lifecycle> Ready<M, X> {
    /// `levels` priorities, `1..=256`.
    pub(super) fn new(levels: usize) -> Self {
        let levels = levels.clamp(1, 256);
        Ready {
            low: VecDeque::new(),
            high: (1..levels).map(|_| VecDeque::new()).collect(),
            high_len: 0,
            nonempty: [0; 4],
            high_grown: false,
        }
    }

    #[inline(always)]
    pub(super) fn len(&self) -> usize {
        if X::ON { self.low.len() + self.high_len } else { self.low.len() }
    }

    #[inline(always)]
    pub(super) fn is_empty(&self) -> bool {
        self.low.is_empty() && (!X::ON || self.high_len == 0)
    }

    /// Entries the deques can hold without growing (for tests of the memory given back).
    #[cfg(test)]
    pub(super) fn capacity(&self) -> usize {
        self.low.capacity() + self.high.iter().map(VecDeque::capacity).sum::<usize>()
    }

    /// Once empty, gives back each deque's buffer that a backlog grew beyond [`KEEP`]
    /// entries (a deque keeps its largest capacity otherwise, for as long as the queue
    /// lives).
    pub(super) fn release_if_empty(&mut self) {
        if !self.is_empty() {
            return;
        }
        if self.low.capacity() > KEEP {
            self.low = VecDeque::new();
        }
        if self.high_grown {
            self.high_grown = false;
            for d in &mut self.high {
                if d.capacity() > KEEP {
                    *d = VecDeque::new();
                }
            }
        }
    }

    /// The highest non-empty priority above 0.
    #[inline]
    fn top_high(&self) -> Option<usize> {
        if self.high_len == 0 {
            return None;
        }
        (0..4)
            .rev()
            .find(|&w| self.nonempty[w] != 0)
            .map(|w| w * 64 + 63 - self.nonempty[w].leading_zeros() as usize)
    }

    #[inline]
    fn mark(&mut self, p: usize) {
        if self.high[p - 1].is_empty() {
            self.nonempty[p / 64] &= !(1 << (p % 64));
        } else {
            self.nonempty[p / 64] |= 1 << (p % 64);
        }
    }

    /// Appends at the back of its priority.
    #[inline(always)]
    pub(super) fn push_back(&mut self, entry: Entry<M, X>) {
        let p = usize::from(entry.priority());
        if !X::ON || p == 0 {
            self.low.push_back(entry);
        } else {
            self.high[p - 1].push_back(entry);
            self.high_grown |= self.high[p - 1].len() > KEEP;
            self.high_len += 1;
            self.mark(p);
        }
    }

    /// The next message to deliver: the oldest of the highest priority.
    #[inline(always)]
    pub(super) fn pop_front(&mut self) -> Option<Entry<M, X>> {
        if !X::ON {
            return self.low.pop_front();
        }
        match self.top_high() {
            None => self.low.pop_front(),
            Some(p) => {
                let e = self.high[p - 1].pop_front();
                self.high_len -= 1;
                self.mark(p);
                e
            }
        }
    }

    fn bucket(&mut self, p: usize) -> &mut VecDeque<Entry<M, X>> {
        if p == 0 { &mut self.low } else { &mut self.high[p - 1] }
    }

    /// Puts a requeued message back among its priority by arrival order.
    pub(super) fn insert_by_seq(&mut self, entry: Entry<M, X>) {
        let p = usize::from(entry.priority());
        let b = self.bucket(p);
        let at = b.partition_point(|e| e.seq < entry.seq);
        b.insert(at, entry);
        self.high_grown |= p > 0 && b.len() > KEEP;
        if p > 0 {
            self.high_len += 1;
            self.mark(p);
        }
    }

    /// The earliest expiry among the heads (only heads expire, as in RabbitMQ).
    pub(super) fn next_expiry(&self) -> f64 {
        let low = self.low.front().map_or(f64::INFINITY, |e| e.expires());
        if self.high_len == 0 {
            return low;
        }
        self.high.iter().filter_map(VecDeque::front).map(|e| e.expires()).fold(low, f64::min)
    }

    /// Removes one head whose expiry is at or before `now` (the highest priority first).
    pub(super) fn pop_expired(&mut self, now: f64) -> Option<Entry<M, X>> {
        let p = (1..=self.high.len())
            .rev()
            .find(|&p| self.high[p - 1].front().is_some_and(|e| e.expires() <= now))
            .or_else(|| self.low.front().is_some_and(|e| e.expires() <= now).then_some(0))?;
        let e = self.bucket(p).pop_front();
        if p > 0 {
            self.high_len -= 1;
            self.mark(p);
        }
        e
    }

    /// Every ready message, highest priority first, FIFO within a priority.
    pub(super) fn iter(&self) -> impl Iterator<Item = &Entry<M, X>> {
        self.high.iter().rev().flatten().chain(self.low.iter())
    }
}
