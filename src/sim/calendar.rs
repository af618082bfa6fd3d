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
//!
//! Cancellation (a crashed consumer's service end, a queue head's expiry timer) is lazy:
//! [`Calendar::schedule`] returns an [`EventId`], [`Calendar::cancel`] puts its `seq` in a
//! tombstone set, and `pop` drops tombstoned events when they reach the root. The heap is
//! never re-ordered for a cancel, and `pop` pays nothing for it but one `is_empty` test, so
//! the hot path of runs that never cancel stays as it was:
//! - `cancel` is O(n) in the pending events: it checks that the event is still pending by
//!   a scan, so a handle that already left (or was cancelled) is a harmless no-op. Cancels
//!   are rare (a crash, the head of a queue changing) and n is the number of pending events
//!   (about one per producer and consumer), so the scan is cheaper than keeping anything on
//!   the per-event path;
//! - a cancelled event costs one more O(log n) root removal when its time comes, and keeps
//!   its heap slot until then (memory: pending plus cancelled-but-not-yet-due events).

use std::collections::HashSet;

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
        self.order() < other.order()
    }

    /// The calendar order as one number: time key, then `seq`.
    #[inline]
    fn order(&self) -> u128 {
        (u128::from(self.key) << 64) | u128::from(self.seq)
    }

    fn time(&self) -> f64 {
        key_time(self.key)
    }
}

/// Pending events from which a new event replacing the root sinks bottom-up (Floyd).
const BOTTOM_UP_FROM: usize = 256;

/// A handle on a scheduled event, for [`Calendar::cancel`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct EventId {
    /// The time as [`time_key`].
    key: u64,
    /// The scheduling sequence number (from 1; unique within one calendar).
    seq: u64,
}

/// A future-event list. Push and pop are O(log n), cancel O(n) (see the module docs for why
/// and what a cancelled event costs later).
#[derive(Debug, Clone)]
pub struct Calendar<E> {
    /// `entries[..heap_len]` is a binary min-heap (`entries[i]` is not after its children
    /// `2i + 1`, `2i + 2`); `entries[heap_len..]` were scheduled since the last `pop`.
    entries: Vec<Entry<E>>,
    heap_len: usize,
    seq: u64,
    /// The root was handed out by the last `pop` and is no longer pending.
    stale_root: bool,
    /// `seq`s of pending events that were cancelled: still in the heap, skipped by `pop`.
    /// Only pending events are ever in it, so `len` can subtract its size.
    cancelled: HashSet<u64>,
}

impl<E> Default for Calendar<E> {
    fn default() -> Self {
        Calendar::with_capacity(0)
    }
}

impl<E> Calendar<E> {
    /// An empty calendar with room for `n` events.
    pub fn with_capacity(n: usize) -> Self {
        Calendar {
            entries: Vec::with_capacity(n),
            heap_len: 0,
            seq: 0,
            stale_root: false,
            cancelled: HashSet::new(),
        }
    }
}

impl<E: Copy> Calendar<E> {
    /// Schedules `event` at `time` and returns its handle for [`Calendar::cancel`] (which
    /// callers that never cancel simply drop).
    ///
    /// `time` must not be before the time of the last popped event (a simulation never
    /// schedules into its past); debug builds check it.
    #[inline]
    pub fn schedule(&mut self, time: f64, event: E) -> EventId {
        self.seq += 1;
        let key = time_key(time);
        debug_assert!(
            !self.stale_root || key >= self.entries[0].key,
            "scheduled at {time}, before the last popped event"
        );
        self.entries.push(Entry { key, seq: self.seq, event });
        EventId { key, seq: self.seq }
    }

    /// Cancels a pending event: it will never be popped. Returns whether it was pending;
    /// cancelling an event that has already been popped, was already cancelled, or was
    /// never scheduled here is a no-op that returns `false`.
    ///
    /// Time: O(n) in the pending events (a scan proves it is still pending). The event
    /// keeps its heap slot until its time comes, when `pop` drops it (O(log n)).
    pub fn cancel(&mut self, id: EventId) -> bool {
        // The stale root was handed out by the last `pop`: it is no longer pending.
        let skip = usize::from(self.stale_root);
        let pending = self.entries.iter().skip(skip).any(|e| e.seq == id.seq && e.key == id.key);
        pending && self.cancelled.insert(id.seq)
    }

    /// Removes and returns the earliest pending event (FIFO among equal times), dropping
    /// cancelled events on the way.
    #[inline(always)]
    pub fn pop(&mut self) -> Option<(f64, E)> {
        self.settle();
        let &root = self.entries.first()?;
        self.stale_root = true;
        // The emptiness test keeps the hash lookup off the path of runs that never cancel.
        if !self.cancelled.is_empty() && self.cancelled.remove(&root.seq) {
            return self.pop_past_cancelled();
        }
        Some((root.time(), root.event))
    }

    /// [`Calendar::pop`] once the root was a cancelled event: out of line, so that the
    /// event loop of a run that never cancels carries no loop for it.
    #[inline(never)]
    fn pop_past_cancelled(&mut self) -> Option<(f64, E)> {
        loop {
            self.settle();
            let &root = self.entries.first()?;
            self.stale_root = true;
            if !self.cancelled.remove(&root.seq) {
                return Some((root.time(), root.event));
            }
        }
    }

    /// Time of the earliest pending event.
    ///
    /// Time: O(1) while nothing cancelled is pending, else O(n) (a scan past tombstones).
    pub fn peek_time(&self) -> Option<f64> {
        fn earliest<'a, E: 'a>(entries: impl Iterator<Item = &'a Entry<E>>) -> Option<f64> {
            entries.reduce(|a, b| if b.before(a) { b } else { a }).map(Entry::time)
        }
        let stale = usize::from(self.stale_root);
        if self.cancelled.is_empty() {
            // With a stale root, the earliest heap event is the earlier of its two children.
            let heap_next = self.entries[..self.heap_len].iter().skip(stale).take(stale + 1);
            earliest(heap_next.chain(&self.entries[self.heap_len..]))
        } else {
            // A tombstoned event may sit anywhere above the earliest pending one.
            let pending = |e: &&Entry<E>| !self.cancelled.contains(&e.seq);
            earliest(self.entries.iter().skip(stale).filter(pending))
        }
    }

    /// Right after a [`Calendar::pop`]: the events at the top of the heap below the one it
    /// returned (its two children, then their four), which are most likely to come next;
    /// events scheduled since are not among them. Only a hint for what to prefetch: it may
    /// include cancelled events and says nothing of their order.
    #[inline(always)]
    pub fn upcoming(&self) -> impl Iterator<Item = &E> {
        let end = self.heap_len.min(7);
        self.entries[1.min(end)..end].iter().map(|e| &e.event)
    }

    /// Pending events (scheduled, not yet popped, not cancelled).
    pub fn len(&self) -> usize {
        self.entries.len() - usize::from(self.stale_root) - self.cancelled.len()
    }

    /// No pending events.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Drops the stale root and moves the newly scheduled entries into the heap. Always
    /// inlined: it runs once per event, and an engine with many event kinds is past the
    /// compiler's own inlining budget.
    #[inline(always)]
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
                // In a small heap the new event, usually due soon, sinks a level or two from
                // the top. In a large one (thousands of consumers) it lands at a random
                // rank, most likely in the bottom levels, where bottom-up costs one
                // comparison per level instead of two.
                if self.heap_len >= BOTTOM_UP_FROM {
                    self.sift_down_from_leaf(entry);
                } else {
                    self.sift_down(entry);
                }
            }
        }
        // Locals, not fields, in the loop: the event loop around it is short of registers.
        let len = self.entries.len();
        for pos in self.heap_len..len {
            let entry = self.entries[pos];
            self.sift_up(pos, entry);
        }
        self.heap_len = len;
    }

    /// Puts `entry` at the hole `pos` of the heap and moves it up past every later parent
    /// (only `entries[..=pos]` is read, so the heap may be growing past `heap_len`).
    #[inline(always)]
    fn sift_up(&mut self, mut pos: usize, entry: Entry<E>) {
        let heap = &mut self.entries[..=pos];
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
    #[inline(always)]
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

    /// Puts `entry` at the root (a hole) and moves it down past every earlier child,
    /// bottom-up (Floyd): the hole first sinks along the earlier children to a leaf (one
    /// comparison per level), then `entry` rises from there. For an entry that belongs near
    /// the bottom: a former leaf, or a late event in a large heap.
    #[inline(always)]
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

    /// A xorshift64 stream: the tests' fixed pseudo-random numbers.
    fn xorshift(mut state: u64) -> impl FnMut() -> u64 {
        move || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        }
    }

    /// Random interleavings of schedule and pop (as the engine does them: an event's
    /// handler schedules 0, 1 or more events) against a plain sorted reference.
    #[test]
    fn matches_a_sorted_reference() {
        let mut next = xorshift(0x2545_F491_4F6C_DD1Du64);
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

    /// A heap of thousands of pending events (a model with thousands of consumers), where a
    /// new event replacing the root sinks bottom-up, against a sorted reference.
    #[test]
    fn a_large_heap_matches_a_sorted_reference() {
        let mut next = xorshift(0x9E37_79B9_7F4A_7C15u64);
        let mut c = Calendar::default();
        let mut reference = std::collections::BTreeSet::new(); // (time key, seq)
        let (mut now, mut seq) = (0.0f64, 0u64);
        for step in 0..103_000u32 {
            // 3000 events first, then mostly one new event per pop, due anywhere in the next
            // 64 s (ties included).
            for _ in 0..if step < 3000 { 1 } else { next() % 3 } {
                let t = now + (next() % 4096) as f64 / 64.0;
                seq += 1;
                c.schedule(t, seq);
                reference.insert((time_key(t), seq));
            }
            if step < 3000 {
                continue;
            }
            let got = c.pop();
            let expected = reference.pop_first().map(|(k, s)| (key_time(k), s));
            assert_eq!(got, expected, "step {step}");
            now = got.map_or(now, |g| g.0);
            assert_eq!(c.len(), reference.len());
        }
        assert!(c.len() > BOTTOM_UP_FROM, "the heap stayed large: {}", c.len());
    }

    #[test]
    fn cancelled_events_never_pop() {
        let mut c = Calendar::default();
        let ids: Vec<EventId> = (0..10).map(|i| c.schedule(f64::from(i), i)).collect();
        assert!(c.cancel(ids[0]), "the root");
        assert!(c.cancel(ids[5]));
        assert!(c.cancel(ids[9]), "the last one");
        assert_eq!(c.len(), 7);
        assert_eq!(c.peek_time(), Some(1.0));
        let order: Vec<i32> = std::iter::from_fn(|| c.pop().map(|(_, e)| e)).collect();
        assert_eq!(order, vec![1, 2, 3, 4, 6, 7, 8]);
        assert!(c.is_empty());
        assert_eq!(c.peek_time(), None);
    }

    #[test]
    fn fifo_among_equal_times_survives_cancels() {
        let mut c = Calendar::default();
        let ids: Vec<EventId> = (0..20).map(|i| c.schedule(1.0, i)).collect();
        for id in ids.iter().step_by(3) {
            assert!(c.cancel(*id));
        }
        let order: Vec<i32> = std::iter::from_fn(|| c.pop().map(|(_, e)| e)).collect();
        let expected: Vec<i32> = (0..20).filter(|i| i % 3 != 0).collect();
        assert_eq!(order, expected);
    }

    #[test]
    fn cancelling_a_popped_cancelled_or_unknown_event_is_a_no_op() {
        let mut c = Calendar::default();
        let a = c.schedule(1.0, 'a');
        let b = c.schedule(2.0, 'b');
        assert_eq!(c.pop(), Some((1.0, 'a')));
        assert!(!c.cancel(a), "already popped (and still the stale root)");
        c.schedule(1.5, 'c');
        assert_eq!(c.pop(), Some((1.5, 'c')));
        assert!(!c.cancel(a), "already popped, gone from the heap");
        assert!(c.cancel(b));
        assert!(!c.cancel(b), "already cancelled");
        let mut other = Calendar::default();
        for i in 0..5 {
            other.schedule(0.0, i);
        }
        let unknown = other.schedule(9.0, 5);
        assert!(!c.cancel(unknown), "a seq this calendar never issued");
        assert_eq!(c.len(), 0);
        assert_eq!(c.pop(), None);
        assert!(!c.cancel(b), "cancelled, then dropped by pop");
    }

    /// One step of a random calendar workload.
    #[derive(Debug, Clone)]
    enum Op {
        /// Schedule at `now + quarters / 4` (coarse, so equal times are frequent).
        Schedule(u8),
        /// Cancel the handle with this index among all handles issued so far (modulo), or an
        /// unknown handle when none was issued.
        Cancel(usize),
        Pop,
    }

    fn op() -> impl proptest::strategy::Strategy<Value = Op> {
        use proptest::prelude::*;
        prop_oneof![
            3 => (0u8..8).prop_map(Op::Schedule),
            2 => any::<usize>().prop_map(Op::Cancel),
            3 => Just(Op::Pop),
        ]
    }

    proptest::proptest! {
        /// Random schedule / cancel / pop sequences against a plain reference: a Vec of the
        /// pending (time, seq) pairs, cancel = remove if present, pop = remove the least.
        #[test]
        fn cancel_matches_a_reference(ops in proptest::collection::vec(op(), 0..400)) {
            let mut c = Calendar::default();
            let mut reference: Vec<(f64, u64)> = Vec::new();
            let mut handles: Vec<(EventId, u64)> = Vec::new();
            let (mut now, mut seq) = (0.0f64, 0u64);
            for op in ops {
                match op {
                    Op::Schedule(quarters) => {
                        let t = now + f64::from(quarters) * 0.25;
                        seq += 1;
                        handles.push((c.schedule(t, seq), seq));
                        reference.push((t, seq));
                    }
                    Op::Cancel(i) => {
                        let (id, s) = if handles.is_empty() {
                            (EventId { key: time_key(0.0), seq: 1 }, 0)
                        } else {
                            handles[i % handles.len()]
                        };
                        let pos = reference.iter().position(|e| e.1 == s);
                        if let Some(pos) = pos {
                            reference.remove(pos);
                        }
                        proptest::prop_assert_eq!(c.cancel(id), pos.is_some());
                    }
                    Op::Pop => {
                        let least = (0..reference.len()).min_by(|&a, &b| {
                            let (x, y) = (reference[a], reference[b]);
                            x.0.total_cmp(&y.0).then(x.1.cmp(&y.1))
                        });
                        let expected = least.map(|i| reference.remove(i));
                        let got = c.pop();
                        proptest::prop_assert_eq!(got, expected);
                        if let Some((t, _)) = got {
                            now = t;
                        }
                    }
                }
                proptest::prop_assert_eq!(c.len(), reference.len());
                let earliest = reference.iter().map(|e| e.0).reduce(f64::min);
                proptest::prop_assert_eq!(c.peek_time(), earliest);
            }
        }
    }
}
