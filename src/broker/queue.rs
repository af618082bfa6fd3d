//! One queue of the broker: the messaging core ([`crate::mq::Queue`]) behind one mutex, plus
//! what only a threaded broker needs — each consumer's hand-off buffer and condition
//! variable, the closed flag, the ready-length integral on the broker's clock, and the dead
//! letters a core operation let go, collected while the lock is held and handed back to the
//! broker, which republishes them once the lock is released. Every rule about messages
//! (admission, overflow, dispatch, prefetch, settlement, requeue, expiry, priorities,
//! delivery limits) is the core's; this file only carries its decisions to threads. Because
//! each change and its counters happen under the one lock, the balance law holds at every
//! lock release.

use super::{QueueDeclaration, QueueStats};
use crate::mq::{self, Ack, ConsumerId, Entry, Held, Observer, Props, Reason, Tag};
use crate::routing::QueueId;
use crate::stats::TimeAverage;
use std::collections::VecDeque;
use std::sync::atomic::AtomicU64;
#[cfg(test)]
use std::sync::atomic::Ordering;
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

/// The broker's clock: seconds since the broker was created. Every queue reads it under its
/// own lock, so the times one core is told never go backwards.
#[derive(Debug, Clone)]
pub(crate) enum Clock {
    /// The real clock, from this instant.
    Real(Instant),
    /// A clock the test moves by hand (`f64` seconds as bits); nothing expires on its own.
    #[cfg(test)]
    Manual(Arc<AtomicU64>),
}

impl Clock {
    pub(crate) fn now(&self) -> f64 {
        match self {
            Clock::Real(epoch) => epoch.elapsed().as_secs_f64(),
            #[cfg(test)]
            Clock::Manual(t) => f64::from_bits(t.load(Ordering::SeqCst)),
        }
    }

    /// The real instant of clock time `t`; `None` for a clock that does not follow real time.
    pub(crate) fn instant(&self, t: f64) -> Option<Instant> {
        match self {
            Clock::Real(epoch) => {
                Duration::try_from_secs_f64(t).ok().and_then(|d| epoch.checked_add(d))
            }
            #[cfg(test)]
            Clock::Manual(_) => None,
        }
    }

    /// Does it follow real time (so a thread can sleep until a clock time)?
    pub(crate) fn is_real(&self) -> bool {
        matches!(self, Clock::Real(_))
    }

    /// How long from now until clock time `t` (zero when it has passed); `None` for a clock
    /// that does not follow real time.
    pub(crate) fn until(&self, t: f64) -> Option<Duration> {
        match self {
            Clock::Real(_) => {
                let left = (t - self.now()).max(0.0);
                Some(Duration::try_from_secs_f64(left).unwrap_or(Duration::MAX))
            }
            #[cfg(test)]
            Clock::Manual(_) => None,
        }
    }
}

/// A message as the broker's queues hold it: the payload, shared by every queue one publish
/// reached and by its dead letters, and what dead-lettering needs to know about it.
pub(crate) struct Letter<T> {
    pub(crate) payload: Arc<T>,
    /// Present when the message was routed to a queue with a dead-letter exchange.
    pub(crate) trail: Option<Arc<Trail>>,
}

impl<T> Clone for Letter<T> {
    fn clone(&self) -> Self {
        Letter { payload: Arc::clone(&self.payload), trail: self.trail.clone() }
    }
}

/// A message's routing key and dead-letter history: what RabbitMQ keeps in its `x-death`
/// header, as much of it as the broker's rules read.
#[derive(Debug)]
pub(crate) struct Trail {
    /// The routing key it was last published (or dead-lettered) with.
    pub(crate) key: Box<str>,
    /// The queues it died in since its last rejection (RabbitMQ's cycle rule).
    pub(crate) history: Vec<QueueId>,
    /// Its last death, if it is a dead letter.
    pub(crate) death: Option<Death>,
}

/// Where, why and when a message was last dead-lettered (RabbitMQ's `x-death` header, newest
/// entry). A consumer of a dead-letter queue reads it from [`Delivery::last_death`](super::Delivery::last_death).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Death {
    /// The queue it died in.
    pub queue: QueueId,
    /// Why it died there.
    pub reason: Reason,
    /// When it was republished to the dead-letter exchange (real time; it entered its
    /// current queue then).
    pub at: Instant,
}

/// A message that died in a queue with a dead-letter exchange, waiting to be republished.
pub(crate) struct Dead<T> {
    pub(crate) letter: Letter<T>,
    /// Its priority in the queue it died in (capped there), kept when republished.
    pub(crate) priority: u8,
    /// Its delivery count, kept when republished (RabbitMQ's `x-delivery-count`).
    pub(crate) deliveries: u32,
    pub(crate) reason: Reason,
}

/// What a queue operation leaves for the broker to do once the queue's lock is released.
#[must_use = "dead letters must be republished and the expiry thread told"]
pub(crate) struct After<T> {
    /// Messages that died into the queue's dead-letter exchange, in the order they died.
    pub(crate) dead: Vec<Dead<T>>,
    /// The queue's next head expiry, if any.
    pub(crate) next_expiry: Option<f64>,
}

/// A delivery on its way to the consumer's thread.
pub(crate) struct Handoff<T> {
    pub(crate) tag: Tag,
    pub(crate) letter: Letter<T>,
    pub(crate) redelivered: bool,
    pub(crate) priority: u8,
    /// When the queue delivered it (`None` on a hand-set test clock).
    pub(crate) delivered_at: Option<Instant>,
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
    clock: Clock,
    ready: TimeAverage,
    ready_peak: u64,
    /// Does the queue have a dead-letter exchange?
    dead_lettering: bool,
    /// Dead letters of the current operation.
    dead: Vec<Dead<T>>,
}

impl<T> Observer<Letter<T>> for Side<T> {
    fn ready_changed(&mut self, now: f64, ready: usize) {
        self.ready.set(now, ready as f64);
        self.ready_peak = self.ready_peak.max(ready as u64);
    }

    fn delivered(&mut self, now: f64, consumer: ConsumerId, held: &Held<Letter<T>>) {
        let delivered_at = self.clock.instant(now);
        let link = self.links[consumer].as_mut().expect("the core delivers to live consumers");
        link.buffer.push_back(Handoff {
            tag: held.tag,
            letter: held.entry.msg.clone(),
            redelivered: held.entry.redelivered,
            priority: held.entry.priority(),
            delivered_at,
        });
        if link.waiting {
            link.cv.notify_one();
        }
    }

    fn died(&mut self, _now: f64, entry: Entry<Letter<T>>, reason: Reason) {
        if self.dead_lettering && reason.dead_letters() {
            self.dead.push(Dead {
                letter: entry.msg,
                priority: entry.life.priority,
                deliveries: entry.life.deliveries,
                reason,
            });
        }
    }
}

pub(crate) struct QueueState<T> {
    core: mq::Queue<Letter<T>>,
    pub(crate) side: Side<T>,
    next_consumer_id: u64,
    pub(crate) closed: bool,
    /// Offered per priority (capped), for a priority queue.
    offered_by_priority: Vec<u64>,
}

impl<T> QueueState<T> {
    /// The clock's time, after expiring every head whose time has come (each operation
    /// starts so, whether or not the expiry thread got there first).
    fn begin(&mut self) -> f64 {
        let now = self.side.clock.now();
        self.core.expire(now, &mut self.side);
        now
    }

    fn after(&mut self) -> After<T> {
        // A backlog just drained gives its buffer back (a broker runs for as long as it is
        // used; without this its queues keep their largest backlog's memory).
        self.core.release_idle_memory();
        After { dead: std::mem::take(&mut self.side.dead), next_expiry: self.core.next_expiry() }
    }
}

/// What a queue keeps per consumer, for leak checks: consumer slots in the core and links
/// on the thread side (subscribed or free for reuse), consumers in the dispatch line, live
/// links and deliveries waiting in their buffers.
#[cfg(test)]
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Footprint {
    pub(crate) name: String,
    pub(crate) slots: usize,
    pub(crate) line: usize,
    pub(crate) links: usize,
    pub(crate) live_links: usize,
    pub(crate) buffered: usize,
}

/// A queue: its declaration, its state behind one mutex, and its dead-letter counters.
pub(crate) struct QueueCore<T> {
    pub(crate) id: QueueId,
    pub(crate) name: String,
    pub(crate) declaration: QueueDeclaration,
    state: Mutex<QueueState<T>>,
    /// Dead letters republished to the dead-letter exchange (routed or unroutable there).
    pub(crate) dead_lettered: AtomicU64,
    /// Of those, the ones that matched no queue.
    pub(crate) dead_letter_unroutable: AtomicU64,
    /// Dead letters not republished because they would have gone round a cycle.
    pub(crate) dead_letter_cycles: AtomicU64,
}

impl<T> QueueCore<T> {
    pub(crate) fn new(
        id: QueueId,
        name: String,
        declaration: QueueDeclaration,
        clock: Clock,
    ) -> Self {
        let options = declaration.options;
        let levels = options.max_priority.map_or(0, |p| usize::from(p) + 1);
        QueueCore {
            id,
            name,
            state: Mutex::new(QueueState {
                core: mq::Queue::new(options),
                side: Side {
                    links: Vec::new(),
                    clock,
                    ready: TimeAverage::new(0.0),
                    ready_peak: 0,
                    dead_lettering: declaration.dead_letter.is_some(),
                    dead: Vec::new(),
                },
                next_consumer_id: 1,
                closed: false,
                offered_by_priority: vec![0; levels],
            }),
            declaration,
            dead_lettered: AtomicU64::new(0),
            dead_letter_unroutable: AtomicU64::new(0),
            dead_letter_cycles: AtomicU64::new(0),
        }
    }

    /// Locks the state. A panic elsewhere never happens while this lock is held (nothing
    /// under it calls user code), so a poisoned lock still holds consistent state.
    pub(crate) fn lock(&self) -> MutexGuard<'_, QueueState<T>> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Offers one published message.
    pub(crate) fn enqueue(&self, letter: Letter<T>, props: Props) -> (mq::Admission, After<T>) {
        let st = &mut *self.lock();
        let now = st.side.clock.now();
        if let Some(max) = self.declaration.options.max_priority {
            st.offered_by_priority[usize::from(props.priority.min(max))] += 1;
        }
        // The core's publish expires what is due first.
        let admission = st.core.publish_with(now, letter, props, &mut st.side);
        (admission, st.after())
    }

    /// Expires every head whose time has come.
    pub(crate) fn expire(&self) -> After<T> {
        let st = &mut *self.lock();
        st.begin();
        st.after()
    }

    /// Registers a consumer and hands it whatever is ready.
    #[allow(clippy::type_complexity)]
    pub(crate) fn add_consumer(
        &self,
        prefetch: u32,
        ack: Ack,
    ) -> Option<((usize, u64, Arc<Condvar>), After<T>)> {
        let st = &mut *self.lock();
        if st.closed {
            return None;
        }
        let now = st.begin();
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
        let got = st.core.add_consumer(now, prefetch, ack, &mut st.side);
        debug_assert_eq!(got, idx, "core and links reuse the same slots");
        Some(((idx, id, cv), st.after()))
    }

    fn live(st: &QueueState<T>, idx: usize, id: u64) -> bool {
        st.side.links.get(idx).and_then(Option::as_ref).is_some_and(|l| l.id == id)
    }

    /// Unregisters a consumer; the core requeues what it held (see [`mq::Queue::remove_consumer`]).
    pub(crate) fn remove_consumer(&self, idx: usize, id: u64) -> After<T> {
        let st = &mut *self.lock();
        if Self::live(st, idx, id) {
            st.side.links[idx] = None;
            let now = st.begin();
            st.core.remove_consumer(now, idx, &mut st.side);
        }
        st.after()
    }

    /// Settles one delivery: `None` acks, `Some(requeue)` nacks. The flag is `false` when
    /// the consumer is gone or the tag unknown (the message was already requeued with it).
    pub(crate) fn settle(
        &self,
        idx: usize,
        id: u64,
        tag: u64,
        nack: Option<bool>,
    ) -> (bool, After<T>) {
        let st = &mut *self.lock();
        if !Self::live(st, idx, id) {
            return (false, st.after());
        }
        let now = st.begin();
        let done = match nack {
            None => st.core.ack(now, idx, tag, &mut st.side).is_some(),
            Some(requeue) => st.core.nack(now, idx, tag, requeue, &mut st.side),
        };
        (done, st.after())
    }

    /// Stops dispatch and wakes every waiting consumer.
    pub(crate) fn close(&self) {
        let st = &mut *self.lock();
        st.closed = true;
        let now = st.side.clock.now();
        st.core.set_dispatching(now, false, &mut st.side);
        for l in st.side.links.iter().flatten() {
            l.cv.notify_all();
        }
    }

    pub(crate) fn stats(&self) -> QueueStats {
        use std::sync::atomic::Ordering::Relaxed;
        let st = &mut *self.lock();
        let now = st.side.clock.now();
        let c = st.core.counters();
        QueueStats {
            name: self.name.clone(),
            offered: c.offered,
            delivered: c.delivered,
            acked: c.acked,
            dropped: c.dropped,
            expired: c.expired,
            rejected: c.rejected,
            redelivered: c.redelivered,
            dead_lettered: self.dead_lettered.load(Relaxed),
            dead_letter_unroutable: self.dead_letter_unroutable.load(Relaxed),
            dead_letter_cycles: self.dead_letter_cycles.load(Relaxed),
            ready: st.core.ready_len() as u64,
            unacked: st.core.held_len(),
            consumers: st.core.consumer_count() as u32,
            ready_integral_s: st.side.ready.integral(now),
            ready_peak: st.side.ready_peak,
            offered_by_priority: st.offered_by_priority.clone(),
        }
    }

    /// The sizes of the queue's consumer registries (see [`Footprint`]).
    #[cfg(test)]
    pub(crate) fn footprint(&self) -> Footprint {
        let st = self.lock();
        let (slots, line) = st.core.registry_len();
        let live = st.side.links.iter().flatten();
        Footprint {
            name: self.name.clone(),
            slots,
            line,
            links: st.side.links.len(),
            live_links: live.clone().count(),
            buffered: live.map(|l| l.buffer.len()).sum(),
        }
    }

    pub(crate) fn reset_ready_peak(&self) {
        let mut st = self.lock();
        st.side.ready_peak = st.core.ready_len() as u64;
    }
}
