//! The event calendar: a binary min-heap ordered by `(time, seq)`, so events due at the same
//! instant leave in the order they were scheduled (FIFO). Every key is distinct (`seq` never
//! repeats), so the order events leave in is fully determined by the keys, whatever the
//! heap's internal layout: every run is reproducible.
//!
//! Speed: the engine pops an event, and its handler schedules zero, one or a few more.
//! Rather than a pop's sift plus one sift per new event, [`Calendar::pop`] leaves the event
//! it returns in place at the root (stale) and [`Calendar::schedule`] only appends; the next
//! `pop` settles both at once: the earliest new event takes the stale root's place (it is
//! usually due soon, so it sinks only a level or two) and the others rise from the bottom
//! (usually late, so they barely rise). Only when nothing was scheduled does the root go the
//! usual way. The set of pending events after each `pop`, and so every result, is the same.

#[derive(Debug, Clone, Copy)]
struct Entry<E> {
    /// The time as [`time_key`]: unsigned order = `f64::total_cmp` order.
    key: u64,
    seq: u64,
    event: E,
}

/// Maps an `f64` to a `u64` whose unsigned order is `f64::total_cmp`'s (negative numbers
/// have their bits flipped, non-negative ones their sign bit set). A bijection.
#[inline]
fn time_key(t: f64) -> u64 {
    let bits = t.to_bits();
    if bits >> 63 == 1 { !bits } else { bits | 1 << 63 }
}

/// The inverse of [`time_key`].
#[inline]
fn key_time(key: u64) -> f64 {
    f64::from_bits(if key >> 63 == 1 { key & !(1 << 63) } else { !key })
}

impl<E> Entry<E> {
    /// Strictly earlier in the calendar order: time (IEEE total order), then `seq`; one
    /// 128-bit comparison.
    #[inline]
    fn before(&self, other: &Self) -> bool {
        let k = |e: &Self| (u128::from(e.key) << 64) | u128::from(e.seq);
        k(self) < k(other)
    }

    fn time(&self) -> f64 {
        key_time(self.key)
    }
}

/// A future-event list. Push and pop are O(log n).
#[derive(Debug, Clone)]
pub struct Calendar<E> {
    /// `entries[..heap_len]` is a binary min-heap (`entries[i]` is not after its children
    /// `2i + 1`, `2i + 2`); `entries[heap_len..]` were scheduled since the last `pop`.
    entries: Vec<Entry<E>>,
    heap_len: usize,
    seq: u64,
    /// The root was handed out by the last `pop` and is no longer pending.
    stale_root: bool,
}

impl<E> Default for Calendar<E> {
    fn default() -> Self {
        Calendar { entries: Vec::new(), heap_len: 0, seq: 0, stale_root: false }
    }
}

impl<E: Copy> Calendar<E> {
    /// An empty calendar with room for `n` events.
    pub fn with_capacity(n: usize) -> Self {
        Calendar { entries: Vec::with_capacity(n), heap_len: 0, seq: 0, stale_root: false }
    }

    /// Schedules `event` at `time`.
    #[inline]
    pub fn schedule(&mut self, time: f64, event: E) {
        self.seq += 1;
        self.entries.push(Entry { key: time_key(time), seq: self.seq, event });
    }

    /// Removes and returns the earliest event (FIFO among equal times).
    #[inline]
    pub fn pop(&mut self) -> Option<(f64, E)> {
        self.settle();
        let root = self.entries.first()?;
        self.stale_root = true;
        Some((root.time(), root.event))
    }

    /// Time of the earliest event.
    pub fn peek_time(&self) -> Option<f64> {
        // With a stale root, the earliest heap event is the earlier of its two children.
        let stale = usize::from(self.stale_root);
        let heap_next = self.entries[..self.heap_len].iter().skip(stale).take(stale + 1);
        let next = heap_next.chain(&self.entries[self.heap_len..]);
        next.reduce(|a, b| if b.before(a) { b } else { a }).map(Entry::time)
    }

    /// Pending events.
    pub fn len(&self) -> usize {
        self.entries.len() - usize::from(self.stale_root)
    }

    /// No pending events.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Drops the stale root and moves the newly scheduled entries into the heap.
    #[inline]
    fn settle(&mut self) {
        if self.stale_root {
            self.stale_root = false;
            let new = &self.entries[self.heap_len..];
            if new.is_empty() {
                // The last leaf takes the root's place and sinks.
                let last = self.entries.pop().expect("a stale root is in the heap");
                self.heap_len -= 1;
                if self.heap_len > 0 {
                    self.sift_down_from_leaf(last);
                }
            } else {
                let earliest =
                    (1..new.len()).fold(0, |m, i| if new[i].before(&new[m]) { i } else { m });
                let entry = self.entries.swap_remove(self.heap_len + earliest);
                self.sift_down(entry);
            }
        }
        while self.heap_len < self.entries.len() {
            let entry = self.entries[self.heap_len];
            self.heap_len += 1;
            self.sift_up(self.heap_len - 1, entry);
        }
    }

    /// Puts `entry` at the hole `pos` of the heap and moves it up past every later parent.
    #[inline]
    fn sift_up(&mut self, mut pos: usize, entry: Entry<E>) {
        let heap = &mut self.entries[..self.heap_len];
        while pos > 0 {
            let parent = (pos - 1) / 2;
            if !entry.before(&heap[parent]) {
                break;
            }
            heap[pos] = heap[parent];
            pos = parent;
        }
        heap[pos] = entry;
    }

    /// Puts `entry` at the root (a hole) and moves it down past every earlier child, top
    /// down: cheap for an entry due soon.
    #[inline]
    fn sift_down(&mut self, entry: Entry<E>) {
        let heap = &mut self.entries[..self.heap_len];
        let n = heap.len();
        let mut hole = 0;
        loop {
            let mut child = 2 * hole + 1;
            if child >= n {
                break;
            }
            if child + 1 < n && heap[child + 1].before(&heap[child]) {
                child += 1;
            }
            if !heap[child].before(&entry) {
                break;
            }
            heap[hole] = heap[child];
            hole = child;
        }
        heap[hole] = entry;
    }

    /// Puts `entry`, a former leaf, at the root (a hole) and moves it down past every
    /// earlier child, bottom-up (Floyd): the hole first sinks along the earlier children to
    /// a leaf (one comparison per level), then `entry` rises from there — a leaf usually
    /// belongs near the bottom.
    #[inline]
    fn sift_down_from_leaf(&mut self, entry: Entry<E>) {
        let heap = &mut self.entries[..self.heap_len];
        let n = heap.len();
        let mut hole = 0;
        let mut child = 1;
        while child + 1 < n {
            child += usize::from(heap[child + 1].before(&heap[child]));
            heap[hole] = heap[child];
            hole = child;
            child = 2 * hole + 1;
        }
        if child + 1 == n {
            heap[hole] = heap[child];
            hole = child;
        }
        self.sift_up(hole, entry);
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
        assert_eq!(c.pop(), None);
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

    #[test]
    fn time_keys_follow_total_order() {
        let xs = [
            f64::NEG_INFINITY,
            -1e300,
            -1.0,
            -f64::MIN_POSITIVE,
            -0.0,
            0.0,
            5e-324,
            0.1,
            1.0,
            1e300,
            f64::INFINITY,
        ];
        for (i, a) in xs.iter().enumerate() {
            assert_eq!(key_time(time_key(*a)).to_bits(), a.to_bits());
            for b in &xs[i + 1..] {
                assert!(time_key(*a) < time_key(*b), "{a} {b}");
            }
        }
    }

    /// Random interleavings of schedule and pop (as the engine does them: an event's
    /// handler schedules 0, 1 or more events) against a plain sorted reference.
    #[test]
    fn matches_a_sorted_reference() {
        let mut state = 0x2545_F491_4F6C_DD1Du64;
        let mut next = move || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        let mut c = Calendar::default();
        let mut reference: Vec<(f64, u64)> = Vec::new(); // (time, seq), kept sorted descending
        let (mut now, mut seq) = (0.0f64, 0u64);
        for _ in 0..200_000 {
            for _ in 0..next() % 3 + u64::from(reference.is_empty()) {
                // Coarse times so that ties (FIFO order) are frequent.
                let t = now + (next() % 8) as f64 * 0.25;
                seq += 1;
                c.schedule(t, seq);
                reference.push((t, seq));
                reference.sort_by(|a, b| b.0.total_cmp(&a.0).then(b.1.cmp(&a.1)));
            }
            assert_eq!(c.len(), reference.len());
            assert_eq!(c.peek_time(), reference.last().map(|e| e.0));
            let got = c.pop();
            assert_eq!(got, reference.pop());
            if let Some((t, _)) = got {
                now = t;
            }
            assert_eq!(c.len(), reference.len());
            assert_eq!(c.peek_time(), reference.last().map(|e| e.0));
        }
    }
}
