//! One queue of the broker: the messaging core ([`crate::mq::Queue`]) behind one mutex, plus
//! what only a threaded broker needs — each consumer's hand-off buffer and condition
//! variable, the closed flag, and the ready-length integral on the real clock. Every rule
//! about messages (admission, overflow, dispatch, prefetch, settlement, requeue) is the
//! core's; this file only carries its decisions to threads. Because each change and its
//! counters happen under the one lock, the balance law holds at every lock release.

use super::{QueueOptions, QueueStats};
use crate::mq::{self, Ack, ConsumerId, Held, Observer, Tag};
use crate::stats::TimeAverage;
use std::collections::VecDeque;
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::time::Instant;

/// A delivery on its way to the consumer's thread.
pub(crate) struct Handoff<T> {
    pub(crate) tag: Tag,
    pub(crate) msg: Arc<T>,
    pub(crate) redelivered: bool,
}

/// The thread side of one subscribed consumer (the core holds its messages and room).
pub(crate) struct Link<T> {
    /// Unique within the queue for its lifetime, so a stale handle never matches a reused slot.
    pub(crate) id: u64,
    /// Delivered but not yet taken by `recv`, in delivery order.
    pub(crate) buffer: VecDeque<Handoff<T>>,
    pub(crate) cv: Arc<Condvar>,
    pub(crate) waiting: bool,
}

/// Everything but the core: what the core's observer reaches while the core is borrowed.
pub(crate) struct Side<T> {
    /// By the core's consumer id.
    pub(crate) links: Vec<Option<Link<T>>>,
    epoch: Instant,
    ready: TimeAverage,
    ready_peak: u64,
}

impl<T> Side<T> {
    fn now(&self) -> f64 {
        self.epoch.elapsed().as_secs_f64()
    }
}

impl<T> Observer<Arc<T>> for Side<T> {
    fn ready_changed(&mut self, now: f64, ready: usize) {
        self.ready.set(now, ready as f64);
        self.ready_peak = self.ready_peak.max(ready as u64);
    }

    fn delivered(&mut self, _now: f64, consumer: ConsumerId, held: &Held<Arc<T>>) {
        let link = self.links[consumer].as_mut().expect("the core delivers to live consumers");
        link.buffer.push_back(Handoff {
            tag: held.tag,
            msg: Arc::clone(&held.entry.msg),
            redelivered: held.entry.redelivered,
        });
        if link.waiting {
            link.cv.notify_one();
        }
    }
}

pub(crate) struct QueueState<T> {
    core: mq::Queue<Arc<T>>,
    pub(crate) side: Side<T>,
    next_consumer_id: u64,
    pub(crate) closed: bool,
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
                core: mq::Queue::new(options),
                side: Side {
                    links: Vec::new(),
                    epoch: Instant::now(),
                    ready: TimeAverage::new(0.0),
                    ready_peak: 0,
                },
                next_consumer_id: 1,
                closed: false,
            }),
        }
    }

    /// Locks the state. A panic elsewhere never happens while this lock is held (nothing
    /// under it calls user code), so a poisoned lock still holds consistent state.
    pub(crate) fn lock(&self) -> MutexGuard<'_, QueueState<T>> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Offers one published message.
    pub(crate) fn enqueue(&self, msg: Arc<T>) -> mq::Admission {
        let st = &mut *self.lock();
        let now = st.side.now();
        st.core.publish(now, msg, &mut st.side)
    }

    /// Registers a consumer and hands it whatever is ready.
    pub(crate) fn add_consumer(
        &self,
        prefetch: u32,
        ack: Ack,
    ) -> Option<(usize, u64, Arc<Condvar>)> {
        let st = &mut *self.lock();
        if st.closed {
            return None;
        }
        let id = st.next_consumer_id;
        st.next_consumer_id += 1;
        let cv = Arc::new(Condvar::new());
        // The link must exist before the core delivers to the new consumer; the core reuses
        // the first free slot, so the link goes there too.
        let idx = st.side.links.iter().position(Option::is_none).unwrap_or(st.side.links.len());
        if idx == st.side.links.len() {
            st.side.links.push(None);
        }
        st.side.links[idx] =
            Some(Link { id, buffer: VecDeque::new(), cv: Arc::clone(&cv), waiting: false });
        let now = st.side.now();
        let got = st.core.add_consumer(now, prefetch, ack, &mut st.side);
        debug_assert_eq!(got, idx, "core and links reuse the same slots");
        Some((idx, id, cv))
    }

    fn live(st: &QueueState<T>, idx: usize, id: u64) -> bool {
        st.side.links.get(idx).and_then(Option::as_ref).is_some_and(|l| l.id == id)
    }

    /// Unregisters a consumer; the core requeues what it held (see [`mq::Queue::remove_consumer`]).
    pub(crate) fn remove_consumer(&self, idx: usize, id: u64) {
        let st = &mut *self.lock();
        if !Self::live(st, idx, id) {
            return;
        }
        st.side.links[idx] = None;
        let now = st.side.now();
        st.core.remove_consumer(now, idx, &mut st.side);
    }

    /// Settles one delivery: `None` acks, `Some(requeue)` nacks. Returns `false` when the
    /// consumer is gone or the tag unknown (the message was already requeued with it).
    pub(crate) fn settle(&self, idx: usize, id: u64, tag: u64, nack: Option<bool>) -> bool {
        let st = &mut *self.lock();
        if !Self::live(st, idx, id) {
            return false;
        }
        let now = st.side.now();
        match nack {
            None => st.core.ack(now, idx, tag, &mut st.side).is_some(),
            Some(requeue) => st.core.nack(now, idx, tag, requeue, &mut st.side),
        }
    }

    /// Stops dispatch and wakes every waiting consumer.
    pub(crate) fn close(&self) {
        let st = &mut *self.lock();
        st.closed = true;
        let now = st.side.now();
        st.core.set_dispatching(now, false, &mut st.side);
        for l in st.side.links.iter().flatten() {
            l.cv.notify_all();
        }
    }

    pub(crate) fn stats(&self) -> QueueStats {
        let st = &mut *self.lock();
        let now = st.side.now();
        let c = st.core.counters();
        QueueStats {
            name: self.name.clone(),
            offered: c.offered,
            delivered: c.delivered,
            acked: c.acked,
            dropped: c.dropped,
            rejected: c.rejected,
            redelivered: c.redelivered,
            ready: st.core.ready_len() as u64,
            unacked: st.core.held_len(),
            consumers: st.core.consumer_count() as u32,
            ready_integral_s: st.side.ready.integral(now),
            ready_peak: st.side.ready_peak,
        }
    }

    pub(crate) fn reset_ready_peak(&self) {
        let mut st = self.lock();
        st.side.ready_peak = st.core.ready_len() as u64;
    }
}
