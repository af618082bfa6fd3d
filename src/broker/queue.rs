//! One queue's state: the FIFO ready list, the registered consumers with their delivered
//! and unacknowledged messages, dispatch, and the counters. Everything here runs under the
//! queue's one mutex, so every counter update is atomic with the change it counts and the
//! balance `offered = acked + dropped + ready + unacked` holds at every lock release.

use super::{Ack, Overflow, QueueOptions, QueueStats};
use std::collections::{BTreeMap, VecDeque};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::time::Instant;

/// A message as a queue holds it: the payload is shared between the queues a publish
/// fanned out to, so routing to `n` queues costs `n` reference-count increments.
pub(crate) struct Entry<T> {
    pub(crate) msg: Arc<T>,
    pub(crate) redelivered: bool,
}

impl<T> Clone for Entry<T> {
    fn clone(&self) -> Self {
        Entry { msg: Arc::clone(&self.msg), redelivered: self.redelivered }
    }
}

/// One registered consumer.
pub(crate) struct Slot<T> {
    /// Unique within the queue for its lifetime, so a stale handle never matches a reused slot.
    pub(crate) id: u64,
    prefetch: u32,
    pub(crate) ack: Ack,
    /// Delivered but not yet taken by `recv`, in delivery order.
    pub(crate) buffer: VecDeque<(u64, Entry<T>)>,
    /// Manual ack only: every delivered, unsettled message by tag (tags grow with delivery
    /// order, so a dead consumer's messages go back in the order they were delivered).
    unacked: BTreeMap<u64, Entry<T>>,
    pub(crate) cv: Arc<Condvar>,
    pub(crate) waiting: bool,
}

impl<T> Slot<T> {
    fn has_room(&self) -> bool {
        match self.ack {
            Ack::Auto => true,
            Ack::Manual => self.prefetch == 0 || self.unacked.len() < self.prefetch as usize,
        }
    }
}

/// What happened to one message offered to one queue.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Enqueued {
    /// Accepted (ready, or straight to a consumer).
    Accepted,
    /// Accepted, and the oldest ready message was dropped to make room (or, with
    /// `max_length = 0` and no consumer with room, the message itself).
    DroppedHead,
    /// Refused by `reject-publish`.
    Rejected,
}

#[derive(Debug, Default, Clone, Copy)]
struct Counters {
    offered: u64,
    delivered: u64,
    acked: u64,
    dropped: u64,
    redelivered: u64,
    unacked: u64,
}

pub(crate) struct QueueState<T> {
    ready: VecDeque<Entry<T>>,
    pub(crate) slots: Vec<Option<Slot<T>>>,
    rr: usize,
    next_tag: u64,
    next_consumer_id: u64,
    pub(crate) closed: bool,
    c: Counters,
    ready_area: f64,
    last_change: Instant,
    ready_peak: u64,
}

/// A queue: its options and its state behind one mutex.
pub(crate) struct QueueCore<T> {
    pub(crate) name: String,
    pub(crate) options: QueueOptions,
    state: Mutex<QueueState<T>>,
}

impl<T> QueueCore<T> {
    pub(crate) fn new(name: String, options: QueueOptions) -> Self {
        QueueCore {
            name,
            options,
            state: Mutex::new(QueueState {
                ready: VecDeque::new(),
                slots: Vec::new(),
                rr: 0,
                next_tag: 1,
                next_consumer_id: 1,
                closed: false,
                c: Counters::default(),
                ready_area: 0.0,
                last_change: Instant::now(),
                ready_peak: 0,
            }),
        }
    }

    /// Locks the state. A panic elsewhere never happens while this lock is held (nothing
    /// under it calls user code), so a poisoned lock still holds consistent state.
    pub(crate) fn lock(&self) -> MutexGuard<'_, QueueState<T>> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Offers one published message.
    pub(crate) fn enqueue(&self, msg: Arc<T>) -> Enqueued {
        let mut st = self.lock();
        st.c.offered += 1;
        let entry = Entry { msg, redelivered: false };
        // Invariant after every operation: ready is empty or no consumer has room. So a
        // message can bypass the ready list only when it is empty.
        if st.ready.is_empty()
            && !st.closed
            && let Some(i) = st.next_with_room()
        {
            st.deliver_to(i, entry);
            return Enqueued::Accepted;
        }
        let full = self.options.max_length.is_some_and(|m| st.ready.len() as u64 >= m);
        if !full {
            st.account_ready();
            st.ready.push_back(entry);
            st.note_peak();
            return Enqueued::Accepted;
        }
        st.c.dropped += 1;
        match self.options.overflow {
            Overflow::RejectPublish => Enqueued::Rejected,
            Overflow::DropHead => {
                if st.ready.pop_front().is_some() {
                    st.ready.push_back(entry);
                }
                Enqueued::DroppedHead
            }
        }
    }

    /// Registers a consumer and hands it whatever is ready.
    pub(crate) fn add_consumer(
        &self,
        prefetch: u32,
        ack: Ack,
    ) -> Option<(usize, u64, Arc<Condvar>)> {
        let mut st = self.lock();
        if st.closed {
            return None;
        }
        let id = st.next_consumer_id;
        st.next_consumer_id += 1;
        let cv = Arc::new(Condvar::new());
        let slot = Slot {
            id,
            prefetch,
            ack,
            buffer: VecDeque::new(),
            unacked: BTreeMap::new(),
            cv: Arc::clone(&cv),
            waiting: false,
        };
        let idx = match st.slots.iter().position(Option::is_none) {
            Some(i) => {
                st.slots[i] = Some(slot);
                i
            }
            None => {
                st.slots.push(Some(slot));
                st.slots.len() - 1
            }
        };
        st.dispatch();
        Some((idx, id, cv))
    }

    /// Unregisters a consumer: its unacknowledged messages (taken or still buffered) go back
    /// to the head of the ready list, in delivery order, flagged as redelivered. Auto-ack
    /// messages were settled on delivery and are gone, as in RabbitMQ.
    pub(crate) fn remove_consumer(&self, idx: usize, id: u64) {
        let mut st = self.lock();
        let Some(slot) = st.slots.get_mut(idx).and_then(|s| s.take_if(|s| s.id == id)) else {
            return;
        };
        if !slot.unacked.is_empty() {
            st.account_ready();
            st.c.unacked -= slot.unacked.len() as u64;
            for (_, mut e) in slot.unacked.into_iter().rev() {
                e.redelivered = true;
                st.ready.push_front(e);
            }
            st.note_peak();
            st.dispatch();
        }
    }

    /// Settles one delivery. `Some(requeue)` is a nack. Returns `false` when the consumer
    /// is gone or the tag unknown (the message was already requeued with the consumer).
    pub(crate) fn settle(&self, idx: usize, id: u64, tag: u64, nack: Option<bool>) -> bool {
        let mut st = self.lock();
        let Some(slot) = st.slots.get_mut(idx).and_then(Option::as_mut).filter(|s| s.id == id)
        else {
            return false;
        };
        let Some(mut e) = slot.unacked.remove(&tag) else {
            return false;
        };
        st.c.unacked -= 1;
        match nack {
            None => st.c.acked += 1,
            Some(false) => st.c.dropped += 1,
            Some(true) => {
                st.account_ready();
                e.redelivered = true;
                st.ready.push_front(e);
                st.note_peak();
            }
        }
        st.dispatch();
        true
    }

    /// Stops dispatch and wakes every waiting consumer.
    pub(crate) fn close(&self) {
        let mut st = self.lock();
        st.closed = true;
        for s in st.slots.iter().flatten() {
            s.cv.notify_all();
        }
    }

    pub(crate) fn stats(&self) -> QueueStats {
        let mut st = self.lock();
        st.account_ready();
        QueueStats {
            name: self.name.clone(),
            offered: st.c.offered,
            delivered: st.c.delivered,
            acked: st.c.acked,
            dropped: st.c.dropped,
            redelivered: st.c.redelivered,
            ready: st.ready.len() as u64,
            unacked: st.c.unacked,
            consumers: st.slots.iter().flatten().count() as u32,
            ready_integral_s: st.ready_area,
            ready_peak: st.ready_peak,
        }
    }

    pub(crate) fn reset_ready_peak(&self) {
        let mut st = self.lock();
        st.ready_peak = st.ready.len() as u64;
    }
}

impl<T> QueueState<T> {
    /// Integrates the ready length up to now; call before changing it.
    fn account_ready(&mut self) {
        let now = Instant::now();
        self.ready_area +=
            self.ready.len() as f64 * now.saturating_duration_since(self.last_change).as_secs_f64();
        self.last_change = now;
    }

    fn note_peak(&mut self) {
        self.ready_peak = self.ready_peak.max(self.ready.len() as u64);
    }

    /// Round-robin: the first consumer with room at or after the cursor.
    fn next_with_room(&mut self) -> Option<usize> {
        let n = self.slots.len();
        for k in 0..n {
            let i = (self.rr + k) % n;
            if self.slots[i].as_ref().is_some_and(Slot::has_room) {
                self.rr = i + 1;
                return Some(i);
            }
        }
        None
    }

    fn deliver_to(&mut self, i: usize, entry: Entry<T>) {
        let tag = self.next_tag;
        self.next_tag += 1;
        self.c.delivered += 1;
        if entry.redelivered {
            self.c.redelivered += 1;
        }
        let slot = self.slots[i].as_mut().expect("dispatch picks a live slot");
        match slot.ack {
            Ack::Auto => self.c.acked += 1,
            Ack::Manual => {
                self.c.unacked += 1;
                slot.unacked.insert(tag, entry.clone());
            }
        }
        slot.buffer.push_back((tag, entry));
        if slot.waiting {
            slot.cv.notify_one();
        }
    }

    /// Moves ready messages to consumers with room until one side runs out.
    /// Cost: O(consumers) per message moved.
    fn dispatch(&mut self) {
        if self.closed || self.ready.is_empty() {
            return;
        }
        self.account_ready();
        while !self.ready.is_empty() {
            let Some(i) = self.next_with_room() else { break };
            let e = self.ready.pop_front().expect("checked non-empty");
            self.deliver_to(i, e);
        }
    }
}
