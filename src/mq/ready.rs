//! The ready messages of one queue: one FIFO per priority (a single one for a plain queue),
//! the highest non-empty priority found from a bitmap, requeue by arrival order within a
//! priority, and the heads' expiry times.

use super::queue::Entry;
use std::collections::VecDeque;

#[derive(Debug, Clone)]
pub(super) struct Ready<M> {
    /// Index = priority; one bucket for a FIFO queue.
    buckets: Vec<VecDeque<Entry<M>>>,
    /// Bit `p` set when bucket `p` is not empty (priority queues only).
    nonempty: [u64; 4],
    len: usize,
}

impl<M> Ready<M> {
    /// `levels` priorities, `1..=256`.
    pub(super) fn new(levels: usize) -> Self {
        let levels = levels.clamp(1, 256);
        Ready { buckets: (0..levels).map(|_| VecDeque::new()).collect(), nonempty: [0; 4], len: 0 }
    }

    #[inline(always)]
    pub(super) fn len(&self) -> usize {
        self.len
    }

    #[inline(always)]
    pub(super) fn is_empty(&self) -> bool {
        self.len == 0
    }

    #[inline(always)]
    fn plain(&self) -> bool {
        self.buckets.len() == 1
    }

    /// The highest non-empty priority.
    #[inline(always)]
    fn top(&self) -> Option<usize> {
        if self.plain() {
            return (self.len > 0).then_some(0);
        }
        (0..4)
            .rev()
            .find(|&w| self.nonempty[w] != 0)
            .map(|w| w * 64 + 63 - self.nonempty[w].leading_zeros() as usize)
    }

    #[inline(always)]
    fn mark(&mut self, p: usize) {
        if !self.plain() {
            if self.buckets[p].is_empty() {
                self.nonempty[p / 64] &= !(1 << (p % 64));
            } else {
                self.nonempty[p / 64] |= 1 << (p % 64);
            }
        }
    }

    /// Appends at the back of its priority.
    #[inline(always)]
    pub(super) fn push_back(&mut self, entry: Entry<M>) {
        let p = usize::from(entry.priority);
        self.buckets[p].push_back(entry);
        self.len += 1;
        self.mark(p);
    }

    /// The next message to deliver: the oldest of the highest priority.
    #[inline(always)]
    pub(super) fn pop_front(&mut self) -> Option<Entry<M>> {
        let p = self.top()?;
        let e = self.buckets[p].pop_front();
        self.len -= 1;
        self.mark(p);
        e
    }

    /// Puts a requeued message back among its priority by arrival order.
    pub(super) fn insert_by_seq(&mut self, entry: Entry<M>) {
        let p = usize::from(entry.priority);
        let b = &mut self.buckets[p];
        let at = b.partition_point(|e| e.seq < entry.seq);
        b.insert(at, entry);
        self.len += 1;
        self.mark(p);
    }

    /// The earliest expiry among the heads (only heads expire, as in RabbitMQ).
    pub(super) fn next_expiry(&self) -> f64 {
        if self.plain() {
            return self.buckets[0].front().map_or(f64::INFINITY, |e| e.expires);
        }
        self.buckets
            .iter()
            .filter_map(VecDeque::front)
            .map(|e| e.expires)
            .fold(f64::INFINITY, f64::min)
    }

    /// Removes one head whose expiry is at or before `now`.
    pub(super) fn pop_expired(&mut self, now: f64) -> Option<Entry<M>> {
        let p = self.buckets.iter().position(|b| b.front().is_some_and(|e| e.expires <= now))?;
        let e = self.buckets[p].pop_front();
        self.len -= 1;
        self.mark(p);
        e
    }

    /// Every ready message, highest priority first, FIFO within a priority.
    pub(super) fn iter(&self) -> impl Iterator<Item = &Entry<M>> {
        self.buckets.iter().rev().flatten()
    }
}
