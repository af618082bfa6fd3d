//! A real in-process message broker with RabbitMQ semantics: exchanges, bindings, queues,
//! competing consumers with prefetch and acknowledgements, message TTLs, priorities,
//! delivery limits and dead-letter exchanges, real threads and the real clock.
//!
//! This module owns the broker and nothing else: it knows nothing of scenarios or
//! statistics, and a Rust program can use it on its own (see `examples/broker.rs`). The
//! load test (`crate::loadtest`) drives it from a scenario.
//!
//! ```
//! use mqsim::broker::{Broker, ConsumerOptions, ExchangeKind, QueueOptions};
//! use std::time::Duration;
//!
//! let broker: Broker<String> = Broker::new();
//! broker.declare_exchange("events", ExchangeKind::Topic).unwrap();
//! broker.declare_queue("orders", QueueOptions::default()).unwrap();
//! broker.bind("orders", "events", "order.#").unwrap();
//! let consumer = broker.consume("orders", ConsumerOptions::default()).unwrap();
//! let out = broker.publish("events", "order.created", "o-1".to_string()).unwrap();
//! assert_eq!(out.routed, 1);
//! let d = consumer.recv_timeout(Duration::from_secs(1)).unwrap();
//! assert_eq!(d.payload(), "o-1");
//! d.ack().unwrap();
//! assert_eq!(broker.queue_stats("orders").unwrap().acked, 1);
//! ```
//!
//! A retry loop through a delay queue: a failed message is rejected into the `retry`
//! exchange, waits out the delay queue's TTL, and comes back to `work` with its delivery
//! count, until its delivery limit parks it.
//!
//! ```
//! use mqsim::broker::{Broker, ConsumerOptions, DeadLetterOptions, ExchangeKind};
//! use mqsim::broker::{QueueDeclaration, QueueOptions, Reason};
//! use std::time::Duration;
//!
//! let broker: Broker<&'static str> = Broker::new();
//! broker.declare_exchange("retry", ExchangeKind::Direct).unwrap();
//! let work = QueueDeclaration {
//!     options: QueueOptions { delivery_limit: Some(2), ..QueueOptions::default() },
//!     dead_letter: Some(DeadLetterOptions {
//!         exchange: "retry".into(),
//!         limit_routing_key: Some("parked".into()),
//!         ..DeadLetterOptions::default()
//!     }),
//! };
//! // Expired after 20 ms, back through the default exchange with its own key, "work".
//! let delay = QueueDeclaration {
//!     options: QueueOptions { message_ttl: Some(0.02), ..QueueOptions::default() },
//!     dead_letter: Some(DeadLetterOptions::default()),
//! };
//! broker.declare_queue("work", work).unwrap();
//! broker.declare_queue("delay", delay).unwrap();
//! broker.declare_queue("parked", QueueOptions::default()).unwrap();
//! broker.bind("delay", "retry", "work").unwrap();
//! broker.bind("parked", "retry", "parked").unwrap();
//! let c = broker.consume("work", ConsumerOptions::default()).unwrap();
//! broker.publish("", "work", "job").unwrap();
//! let first = c.recv_timeout(Duration::from_secs(1)).unwrap();
//! first.nack(false).unwrap(); // failed: into the delay queue
//! let again = c.recv_timeout(Duration::from_secs(1)).unwrap(); // 20 ms later
//! assert_eq!(again.last_death().unwrap().reason, Reason::Expired);
//! again.nack(false).unwrap(); // failed again, at its limit: parked
//! assert_eq!(broker.queue_stats("parked").unwrap().ready, 1);
//! ```
//!
//! # Semantics
//! Every queue rule is the messaging core's ([`crate::mq::Queue`], shared with the
//! simulator); this module adds threads, locks and the clock around it.
//! - **Routing** goes through [`crate::routing::Router`], the crate's one routing
//!   implementation: a publish reaches every matching queue once; none is *unroutable*.
//! - **Queues** keep their ready messages in arrival order, or by priority then arrival
//!   order with `max_priority` ([`Props::priority`]). `max_length` counts ready messages
//!   only (not the unacknowledged ones); when full, `drop-head` drops the oldest ready
//!   message and `reject-publish[-dlx]` refuses the new one (checked before anything else,
//!   so with `max_length = 0` every publish is refused). All count as `dropped`.
//! - **Dispatch** is push, as RabbitMQ's: the consumers with prefetch room stand in a line;
//!   a message goes to the first, which moves to the back (or leaves the line when full, and
//!   rejoins at the back when it has room again), into that consumer's own buffer, where it
//!   waits for [`Consumer::recv`] — so with `prefetch > 1` a message can wait behind a busy
//!   consumer while another is idle. `prefetch = 0` is unlimited; prefetch does not limit an
//!   auto-ack consumer.
//! - **At least once**: a nack with requeue, or a consumer that is dropped (or whose thread
//!   panics), puts its unacknowledged messages back among the ready ones at their original
//!   positions, flagged [`redelivered`](Delivery::redelivered), for the rest of its group; a
//!   `drop-head` queue pushed over its limit by them drops from the head. An auto-ack
//!   consumer's deliveries were settled when delivered: they count as acked when the
//!   application is done with them, or when the consumer goes away. A message whose
//!   delivery count has reached the queue's `delivery_limit` is rejected instead of
//!   requeued.
//! - **TTL**: a ready message expires at the head of its priority once the smaller of the
//!   queue's `message_ttl` and its own [`Props::ttl`] has passed (seconds on the broker's
//!   clock); a message past its expiry is never delivered. A broker thread expires heads on
//!   time even when nothing else happens (a delay queue with no consumers): it is started by
//!   the first queue with a TTL or message with one, sleeps until the earliest head expiry
//!   of all queues, is woken when an operation makes an earlier one, and is stopped and
//!   joined by [`close`](Broker::close) or when the broker is dropped. Every queue operation
//!   also expires what is due before anything else.
//! - **Dead letters**: a queue declared with [`DeadLetterOptions`] republishes the messages
//!   that die in it — dropped by `drop-head` or refused by `reject-publish-dlx`, expired,
//!   nacked without requeue, or rejected at their delivery limit, not those refused by
//!   `reject-publish` — to its dead-letter exchange, with its dead-letter routing key (or
//!   their own; [`DeadLetterOptions::limit_routing_key`] for those at their limit), their
//!   priority and delivery count, and no TTL of their own. The queue's lock is released
//!   first, so no thread ever holds two queue locks. RabbitMQ's cycle rule: a dead letter
//!   that would reach a queue it already died in, with no rejection since, is dropped
//!   (counted in `dead_letter_cycles`); one that matches no queue, or whose exchange does
//!   not exist, is counted in `dead_letter_unroutable`.
//! - **Counts**: per queue, `offered = acked + dropped + expired + rejected + ready +
//!   unacked` holds exactly at every moment [`stats`](Broker::stats) can observe, because
//!   each change and its counters are updated under the queue's one lock.
//! - **Shutdown**: [`close`](Broker::close) refuses further publishes and consumers, stops
//!   dispatch and the expiry thread, and wakes every blocked `recv`, which returns
//!   [`RecvError::Closed`]. Nothing blocks without a bound after it. Settlements still work
//!   (and still dead-letter).
//!
//! # Cost
//! A publish takes a read lock on the topology, routes once, allocates one `Arc` for the
//! payload (and one for its routing key if a queue it reaches has a dead-letter exchange)
//! and then locks each destination queue once. Everything for one queue is under one mutex,
//! with one condition variable per consumer so a delivery wakes exactly the consumer it
//! went to.

mod consumer;
mod queue;
#[cfg(test)]
pub(crate) mod tests;
pub mod topic;

pub use crate::mq::{Ack, Overflow, Props, Reason};
pub use crate::routing::{ExchangeId, ExchangeKind, QueueId};
pub use consumer::{Consumer, Delivery, RecvError, SettleError};
pub use queue::Death;

use crate::mq::{Admission, dead_letter};
use crate::routing::{Router, RoutingError};
use queue::{After, Clock, Dead, Letter, QueueCore, Trail};
use std::cell::RefCell;
use std::collections::{HashMap, VecDeque};
use std::fmt;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, PoisonError, RwLock, Weak};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

/// How a queue is declared: the options its messaging core enforces.
pub use crate::mq::QueueConfig as QueueOptions;

/// Where a queue's dead letters go (RabbitMQ's `x-dead-letter-*` arguments).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DeadLetterOptions {
    /// The exchange they are republished to (`""`: the default exchange, which routes by
    /// queue name). It need not exist when the queue is declared; while it does not, dead
    /// letters are unroutable.
    pub exchange: String,
    /// The routing key they are republished with; `None`: the key they were published with.
    pub routing_key: Option<String>,
    /// The routing key of messages rejected at their delivery limit (an mqsim extension, to
    /// park them apart); `None`: as the others.
    pub limit_routing_key: Option<String>,
}

/// A queue's declaration: the options its core enforces and, optionally, its dead-letter
/// exchange. [`QueueOptions`] converts into one without a dead-letter exchange, so
/// `declare_queue(name, options)` reads as before.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct QueueDeclaration {
    /// Length limit, overflow, TTL, priorities, delivery limit.
    pub options: QueueOptions,
    /// Where its dead letters go; `None`: they are discarded.
    pub dead_letter: Option<DeadLetterOptions>,
}

impl From<QueueOptions> for QueueDeclaration {
    fn from(options: QueueOptions) -> Self {
        QueueDeclaration { options, dead_letter: None }
    }
}

/// How a consumer subscribes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConsumerOptions {
    /// Most unacknowledged messages held at once; 0 = unlimited (ignored with auto ack).
    pub prefetch: u32,
    /// Acknowledgement mode.
    pub ack: Ack,
}

impl Default for ConsumerOptions {
    /// Unlimited prefetch, manual ack (RabbitMQ without `basic.qos`).
    fn default() -> Self {
        ConsumerOptions { prefetch: 0, ack: Ack::Manual }
    }
}

/// What became of one publish.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PublishOutcome {
    /// Queues the message was routed to (0 = unroutable).
    pub routed: usize,
    /// Queues that accepted it (including those that dropped an older message for it).
    pub accepted: usize,
    /// Queues that were full with `drop-head` and dropped their oldest ready message.
    pub dropped_head: usize,
    /// Queues that were full with `reject-publish[-dlx]` and refused it.
    pub rejected: usize,
}

impl PublishOutcome {
    /// Did the message match no queue?
    pub fn unroutable(&self) -> bool {
        self.routed == 0
    }
}

/// A snapshot of one queue's counters. For every snapshot,
/// `offered = acked + dropped + expired + rejected + ready + unacked`
/// ([`balanced`](QueueStats::balanced)).
#[derive(Debug, Clone, PartialEq)]
pub struct QueueStats {
    /// Queue name.
    pub name: String,
    /// Messages routed to the queue (accepted or not), dead letters included.
    pub offered: u64,
    /// Deliveries to consumers, redeliveries included.
    pub delivered: u64,
    /// Messages acknowledged. An auto-ack delivery counts when the application is done with
    /// it ([`Delivery::ack`] or dropping the [`Delivery`]) or its consumer goes away.
    pub acked: u64,
    /// Messages dropped or refused by the overflow policy.
    pub dropped: u64,
    /// Messages whose TTL passed while they were ready.
    pub expired: u64,
    /// Messages nacked without requeue, or rejected at their delivery limit.
    pub rejected: u64,
    /// Deliveries of messages that had been delivered before.
    pub redelivered: u64,
    /// Of the dropped, expired and rejected messages, those republished to the queue's
    /// dead-letter exchange (routed or unroutable there).
    pub dead_lettered: u64,
    /// Dead letters that matched no queue (or whose exchange does not exist).
    pub dead_letter_unroutable: u64,
    /// Dead letters dropped by the cycle rule instead of being republished.
    pub dead_letter_cycles: u64,
    /// Messages waiting in the queue for a consumer with room.
    pub ready: u64,
    /// Messages delivered and not yet settled (in a consumer's buffer or being worked on;
    /// auto-ack deliveries included until the application is done with them).
    pub unacked: u64,
    /// Consumers subscribed now.
    pub consumers: u32,
    /// The integral of the ready length over time since the queue was declared, in
    /// message-seconds: the difference of two snapshots divided by the time between them
    /// is the time-averaged ready length.
    pub ready_integral_s: f64,
    /// Largest ready length since the queue was declared or
    /// [`reset_ready_peaks`](Broker::reset_ready_peaks) was called.
    pub ready_peak: u64,
    /// For a priority queue, messages offered at each priority (index: the priority, capped
    /// at `max_priority`); empty otherwise.
    pub offered_by_priority: Vec<u64>,
}

impl QueueStats {
    /// Does `offered = acked + dropped + expired + rejected + ready + unacked` hold?
    pub fn balanced(&self) -> bool {
        self.offered
            == self.acked + self.dropped + self.expired + self.rejected + self.ready + self.unacked
    }
}

/// A declaration, binding, publish or subscription the broker refused.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum BrokerError {
    /// No exchange has that name.
    #[error("no exchange named \"{0}\"")]
    NoSuchExchange(String),
    /// No exchange has that id.
    #[error("no exchange with id {0}")]
    NoSuchExchangeId(ExchangeId),
    /// No queue has that name.
    #[error("no queue named \"{0}\"")]
    NoSuchQueue(String),
    /// No queue has that id.
    #[error("no queue with id {0}")]
    NoSuchQueueId(QueueId),
    /// The exchange exists with another type (RabbitMQ's PRECONDITION_FAILED).
    #[error("exchange \"{name}\" already exists as {existing:?}, not {requested:?}")]
    ExchangeKindMismatch {
        /// The exchange.
        name: String,
        /// Its declared type.
        existing: ExchangeKind,
        /// The type asked for.
        requested: ExchangeKind,
    },
    /// The queue exists with another declaration.
    #[error("queue \"{name}\" already exists with other options ({existing:?})")]
    QueueOptionsMismatch {
        /// The queue.
        name: String,
        /// Its declaration.
        existing: Box<QueueDeclaration>,
    },
    /// Two queues with one name in [`Broker::from_router`].
    #[error("queue \"{0}\" is listed twice")]
    DuplicateQueue(String),
    /// The default exchange `""` cannot be declared or bound to.
    #[error("the default exchange \"\" cannot be declared or bound to; it routes by queue name")]
    DefaultExchange,
    /// The broker was closed.
    #[error("the broker is closed")]
    Closed,
}

struct Topology<T> {
    router: Router,
    kinds: HashMap<String, ExchangeKind>,
    queues: Vec<Arc<QueueCore<T>>>,
    queue_ids: HashMap<String, QueueId>,
}

/// `f64::INFINITY` as bits: the expiry thread has nothing to wait for.
const NEVER: u64 = 0x7FF0_0000_0000_0000;

/// The expiry thread's controls, shared with it apart from the broker (which it must not
/// keep alive).
struct Expiry {
    /// The clock time it will look next (`f64` bits; times are never negative, so the bits
    /// order as the times do).
    wake_at: AtomicU64,
    /// Started (set once).
    started: AtomicBool,
    ctl: Mutex<ExpiryCtl>,
    cv: Condvar,
}

struct ExpiryCtl {
    stop: bool,
    thread: Option<JoinHandle<()>>,
}

impl Expiry {
    fn ctl(&self) -> std::sync::MutexGuard<'_, ExpiryCtl> {
        self.ctl.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

struct Inner<T> {
    topology: RwLock<Topology<T>>,
    closed: AtomicBool,
    clock: Clock,
    expiry: Arc<Expiry>,
}

impl<T> Inner<T> {
    fn topology(&self) -> std::sync::RwLockReadGuard<'_, Topology<T>> {
        // Nothing under this lock calls user code, so a poisoned lock is still consistent.
        self.topology.read().unwrap_or_else(PoisonError::into_inner)
    }

    /// Carries out what an operation on queue `from` left to do once its lock was
    /// released: tells the expiry thread of an earlier head expiry and republishes the dead
    /// letters. `t` is the topology if the caller holds it already (a read lock must not be
    /// taken twice by one thread).
    fn finish(&self, t: Option<&Topology<T>>, from: QueueId, after: After<T>) {
        if let Some(at) = after.next_expiry {
            self.note_expiry(at);
        }
        if after.dead.is_empty() {
            return;
        }
        let mut work: VecDeque<(QueueId, Dead<T>)> =
            after.dead.into_iter().map(|d| (from, d)).collect();
        match t {
            Some(t) => self.republish(t, &mut work),
            None => self.republish(&self.topology(), &mut work),
        }
    }

    /// A queue's head now expires at clock time `at`: wakes the expiry thread if that is
    /// before the time it sleeps until.
    fn note_expiry(&self, at: f64) {
        let bits = at.max(0.0).to_bits();
        let e = &self.expiry;
        if bits < e.wake_at.load(Ordering::SeqCst)
            && bits < e.wake_at.fetch_min(bits, Ordering::SeqCst)
        {
            // Under its mutex: the thread reads `wake_at` and waits without releasing it, so
            // the notification cannot fall between the two.
            let _ctl = e.ctl();
            e.cv.notify_one();
        }
    }

    /// Republishes dead letters in the order they died, as the simulator does: a republish
    /// that kills more (a full `drop-head` target with its own dead-letter exchange) queues
    /// them behind, and every pending one is republished before the next target of the
    /// current one. Takes one queue lock at a time.
    fn republish(&self, t: &Topology<T>, work: &mut VecDeque<(QueueId, Dead<T>)>) {
        let mut routes = Vec::new();
        while let Some((from, dead)) = work.pop_front() {
            let source = &t.queues[from];
            let Some(dl) = &source.declaration.dead_letter else { continue };
            let Dead { letter, priority, deliveries, reason } = dead;
            let old = letter.trail.as_deref();
            let own = old.map_or("", |o| &o.key);
            let key = dead_letter::dead_letter_key(
                reason,
                own,
                dl.routing_key.as_deref(),
                dl.limit_routing_key.as_deref(),
            );
            match t.router.exchange_id(&dl.exchange) {
                Some(ex) => t.router.route_into(ex, key, &mut routes),
                None => routes.clear(),
            }
            let mut history = old.map(|o| o.history.clone()).unwrap_or_default();
            if !dead_letter::pass_on(&mut history, from, reason, routes.iter().map(|&q| Some(q))) {
                source.dead_letter_cycles.fetch_add(1, Ordering::Relaxed);
                continue;
            }
            source.dead_lettered.fetch_add(1, Ordering::Relaxed);
            if routes.is_empty() {
                source.dead_letter_unroutable.fetch_add(1, Ordering::Relaxed);
                continue;
            }
            let death = Death { queue: from, reason, at: Instant::now() };
            let trail = Trail { key: key.into(), history, death: Some(death) };
            let letter = Letter { payload: letter.payload, trail: Some(Arc::new(trail)) };
            // The expiration property is removed on dead-lettering (RabbitMQ), so it does not
            // expire again wherever it goes; priority and delivery count go with it.
            let props = Props { ttl: None, priority, deliveries };
            for &q in &routes {
                let (_, after) = t.queues[q].enqueue(letter.clone(), props);
                if let Some(at) = after.next_expiry {
                    self.note_expiry(at);
                }
                work.extend(after.dead.into_iter().map(|d| (q, d)));
                if !work.is_empty() {
                    self.republish(t, work);
                }
            }
        }
    }

    /// Expires every queue's due heads and republishes them; returns the earliest head
    /// expiry left (infinity: none).
    fn expire_due(&self) -> f64 {
        let t = self.topology();
        let mut earliest = f64::INFINITY;
        for q in &t.queues {
            let mut after = q.expire();
            if let Some(at) = after.next_expiry.take() {
                earliest = earliest.min(at);
            }
            self.finish(Some(&t), q.id, after);
        }
        earliest
    }

    /// Stops the expiry thread and joins it (unless this is that thread).
    fn stop_expiry(&self) {
        let thread = {
            let mut ctl = self.expiry.ctl();
            ctl.stop = true;
            self.expiry.cv.notify_all();
            ctl.thread.take()
        };
        if let Some(h) = thread
            && h.thread().id() != thread::current().id()
        {
            let _ = h.join();
        }
    }
}

impl<T> Drop for Inner<T> {
    fn drop(&mut self) {
        self.stop_expiry();
    }
}

/// The expiry thread: expires due heads in every queue, then sleeps until the earliest
/// head expiry left or until an operation makes an earlier one. Holds the broker only while
/// it works, so dropping the broker's last handle stops it.
fn expiry_thread<T>(inner: Weak<Inner<T>>, expiry: Arc<Expiry>) {
    loop {
        // Anything made earlier from now on lowers this again, through `note_expiry`.
        expiry.wake_at.store(NEVER, Ordering::SeqCst);
        let Some(strong) = inner.upgrade() else { return };
        let clock = strong.clock.clone();
        let earliest = strong.expire_due();
        drop(strong);
        expiry.wake_at.fetch_min(earliest.max(0.0).to_bits(), Ordering::SeqCst);
        let ctl = expiry.ctl();
        if ctl.stop {
            return;
        }
        let at = f64::from_bits(expiry.wake_at.load(Ordering::SeqCst));
        let wait = if at.is_finite() {
            match clock.until(at) {
                Some(d) if d.is_zero() => continue,
                // Woken by any earlier expiry anyway; the bound keeps huge TTLs finite.
                Some(d) => d.min(Duration::from_secs(3600)),
                None => return, // a hand-moved clock: the test expires explicitly
            }
        } else {
            Duration::from_secs(3600)
        };
        let _ = expiry.cv.wait_timeout(ctl, wait);
    }
}

/// The broker: cheap to clone (clones share one broker) and usable from any thread.
///
/// `T` is the message payload; one publish routed to several queues shares one `Arc<T>`
/// between them (and with its dead letters), so payloads are never copied.
pub struct Broker<T> {
    inner: Arc<Inner<T>>,
}

impl<T> Clone for Broker<T> {
    fn clone(&self) -> Self {
        Broker { inner: Arc::clone(&self.inner) }
    }
}

impl<T: Send + Sync + 'static> fmt::Debug for Broker<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let t = self.topology();
        f.debug_struct("Broker")
            .field("exchanges", &t.router.exchange_count())
            .field("queues", &t.queues.len())
            .field("closed", &self.is_closed())
            .finish()
    }
}

impl<T: Send + Sync + 'static> Default for Broker<T> {
    fn default() -> Self {
        Self::new()
    }
}

thread_local! {
    /// Reused routing buffer, so a publish allocates nothing but the payload's `Arc`.
    static ROUTES: RefCell<Vec<QueueId>> = const { RefCell::new(Vec::new()) };
}

impl<T: Send + Sync + 'static> Broker<T> {
    /// A broker with only the default exchange `""` and no queues.
    pub fn new() -> Self {
        Self::from_router(Router::new::<&str>(&[]), Vec::<(String, QueueOptions)>::new())
            .expect("an empty topology is consistent")
    }

    /// A broker over an already built routing table (for instance a scenario's), whose
    /// queue ids are the positions in `queues`. Exchanges known only through `router` accept
    /// any type in a later [`declare_exchange`](Broker::declare_exchange).
    pub fn from_router<D: Into<QueueDeclaration>>(
        router: Router,
        queues: Vec<(String, D)>,
    ) -> Result<Self, BrokerError> {
        Self::with_clock(router, queues, Clock::Real(Instant::now()))
    }

    fn with_clock<D: Into<QueueDeclaration>>(
        router: Router,
        queues: Vec<(String, D)>,
        clock: Clock,
    ) -> Result<Self, BrokerError> {
        let mut router = router;
        let mut queue_ids = HashMap::new();
        let mut cores = Vec::new();
        let mut ttl = false;
        for (i, (name, declaration)) in queues.into_iter().enumerate() {
            if queue_ids.insert(name.clone(), i).is_some() {
                return Err(BrokerError::DuplicateQueue(name));
            }
            let declaration = declaration.into();
            ttl |= declaration.options.message_ttl.is_some();
            router.add_queue(&name, i);
            cores.push(Arc::new(QueueCore::new(i, name, declaration, clock.clone())));
        }
        let broker = Broker {
            inner: Arc::new(Inner {
                topology: RwLock::new(Topology {
                    router,
                    kinds: HashMap::new(),
                    queues: cores,
                    queue_ids,
                }),
                closed: AtomicBool::new(false),
                clock,
                expiry: Arc::new(Expiry {
                    wake_at: AtomicU64::new(NEVER),
                    started: AtomicBool::new(false),
                    ctl: Mutex::new(ExpiryCtl { stop: false, thread: None }),
                    cv: Condvar::new(),
                }),
            }),
        };
        if ttl {
            broker.start_expiry();
        }
        Ok(broker)
    }

    /// A broker on a clock the test sets by hand ([`ManualTime`]); nothing expires until
    /// [`expire_due`](Broker::expire_due) or a queue operation.
    #[cfg(test)]
    pub(crate) fn with_manual_clock() -> (Self, ManualTime) {
        Self::from_router_on_manual_clock(
            Router::new::<&str>(&[]),
            Vec::<(String, QueueOptions)>::new(),
        )
        .expect("an empty topology is consistent")
    }

    /// [`from_router`](Broker::from_router) on a clock the test sets by hand.
    #[cfg(test)]
    pub(crate) fn from_router_on_manual_clock<D: Into<QueueDeclaration>>(
        router: Router,
        queues: Vec<(String, D)>,
    ) -> Result<(Self, ManualTime), BrokerError> {
        let time = ManualTime(Arc::new(AtomicU64::new(0f64.to_bits())));
        let b = Self::with_clock(router, queues, Clock::Manual(Arc::clone(&time.0)))?;
        Ok((b, time))
    }

    /// Expires every queue's due heads now, as the expiry thread does when it wakes.
    #[cfg(test)]
    pub(crate) fn expire_due(&self) {
        self.inner.expire_due();
    }

    /// Starts the expiry thread unless it runs already (or the clock is a test's).
    fn start_expiry(&self) {
        let e = &self.inner.expiry;
        if e.started.load(Ordering::Relaxed) || !self.inner.clock.is_real() {
            return;
        }
        let mut ctl = e.ctl();
        if ctl.stop || ctl.thread.is_some() {
            return;
        }
        let (inner, expiry) = (Arc::downgrade(&self.inner), Arc::clone(e));
        // Without the thread (the system refused one), heads still expire at the next
        // operation on their queue; the next TTL publish tries again.
        if let Ok(h) = thread::Builder::new()
            .name("broker-expiry".into())
            .spawn(move || expiry_thread(inner, expiry))
        {
            ctl.thread = Some(h);
            e.started.store(true, Ordering::Relaxed);
        }
    }

    fn topology(&self) -> std::sync::RwLockReadGuard<'_, Topology<T>> {
        self.inner.topology()
    }

    fn topology_mut(&self) -> std::sync::RwLockWriteGuard<'_, Topology<T>> {
        self.inner.topology.write().unwrap_or_else(PoisonError::into_inner)
    }

    fn check_open(&self) -> Result<(), BrokerError> {
        if self.is_closed() { Err(BrokerError::Closed) } else { Ok(()) }
    }

    /// Declares an exchange (idempotent for the same type) and returns its id.
    pub fn declare_exchange(
        &self,
        name: &str,
        kind: ExchangeKind,
    ) -> Result<ExchangeId, BrokerError> {
        self.check_open()?;
        if name.is_empty() {
            return Err(BrokerError::DefaultExchange);
        }
        let mut t = self.topology_mut();
        if let Some(&existing) = t.kinds.get(name)
            && existing != kind
        {
            return Err(BrokerError::ExchangeKindMismatch {
                name: name.to_string(),
                existing,
                requested: kind,
            });
        }
        if let Some(id) = t.router.exchange_id(name) {
            return Ok(id);
        }
        t.kinds.insert(name.to_string(), kind);
        Ok(t.router.declare(name, kind))
    }

    /// Declares a queue (idempotent for the same declaration) and returns its id. The
    /// default exchange reaches it by its name at once. `declaration` is its
    /// [`QueueOptions`], or a [`QueueDeclaration`] with a dead-letter exchange.
    pub fn declare_queue(
        &self,
        name: &str,
        declaration: impl Into<QueueDeclaration>,
    ) -> Result<QueueId, BrokerError> {
        self.check_open()?;
        let declaration = declaration.into();
        let ttl = declaration.options.message_ttl.is_some();
        let id = {
            let mut t = self.topology_mut();
            if let Some(&id) = t.queue_ids.get(name) {
                let existing = &t.queues[id].declaration;
                return if *existing == declaration {
                    Ok(id)
                } else {
                    Err(BrokerError::QueueOptionsMismatch {
                        name: name.to_string(),
                        existing: Box::new(existing.clone()),
                    })
                };
            }
            let id = t.queues.len();
            let core = QueueCore::new(id, name.to_string(), declaration, self.inner.clock.clone());
            t.queues.push(Arc::new(core));
            t.queue_ids.insert(name.to_string(), id);
            t.router.add_queue(name, id);
            id
        };
        if ttl {
            self.start_expiry();
        }
        Ok(id)
    }

    /// Binds `queue` to `exchange` with binding key `key` (idempotent).
    pub fn bind(&self, queue: &str, exchange: &str, key: &str) -> Result<(), BrokerError> {
        self.check_open()?;
        let mut t = self.topology_mut();
        let q = *t.queue_ids.get(queue).ok_or_else(|| BrokerError::NoSuchQueue(queue.into()))?;
        let ex = t
            .router
            .exchange_id(exchange)
            .ok_or_else(|| BrokerError::NoSuchExchange(exchange.into()))?;
        t.router.bind(ex, key, q).map_err(|e| match e {
            RoutingError::BindDefault => BrokerError::DefaultExchange,
            RoutingError::NoSuchExchange(id) => BrokerError::NoSuchExchangeId(id),
        })
    }

    /// The id of an exchange, for [`publish_to`](Broker::publish_to) on a hot path.
    pub fn exchange_id(&self, name: &str) -> Option<ExchangeId> {
        self.topology().router.exchange_id(name)
    }

    /// The id of a queue.
    pub fn queue_id(&self, name: &str) -> Option<QueueId> {
        self.topology().queue_ids.get(name).copied()
    }

    /// Publishes to the exchange named `exchange` (`""`: the default exchange).
    pub fn publish(
        &self,
        exchange: &str,
        routing_key: &str,
        payload: T,
    ) -> Result<PublishOutcome, BrokerError> {
        self.publish_with(exchange, routing_key, payload, Props::default())
    }

    /// Publishes with properties: a TTL (seconds; the smaller of it and a queue's
    /// `message_ttl` applies), a priority (capped at each queue's `max_priority`, ignored by
    /// a FIFO queue), and deliveries already made elsewhere (normally 0).
    pub fn publish_with(
        &self,
        exchange: &str,
        routing_key: &str,
        payload: T,
        props: Props,
    ) -> Result<PublishOutcome, BrokerError> {
        let ex = self
            .topology()
            .router
            .exchange_id(exchange)
            .ok_or_else(|| BrokerError::NoSuchExchange(exchange.into()))?;
        self.publish_to_with(ex, routing_key, payload, props)
    }

    /// Publishes to an exchange by id. The message goes to every queue the router matches,
    /// once each; the outcome says what each did with it.
    pub fn publish_to(
        &self,
        exchange: ExchangeId,
        routing_key: &str,
        payload: T,
    ) -> Result<PublishOutcome, BrokerError> {
        self.publish_to_with(exchange, routing_key, payload, Props::default())
    }

    /// [`publish_with`](Broker::publish_with) to an exchange by id. What dies in a queue
    /// because of this publish (a dropped head, a refused message with `reject-publish-dlx`)
    /// is republished to its dead-letter exchange before this returns.
    pub fn publish_to_with(
        &self,
        exchange: ExchangeId,
        routing_key: &str,
        payload: T,
        props: Props,
    ) -> Result<PublishOutcome, BrokerError> {
        self.check_open()?;
        if props.ttl.is_some() {
            self.start_expiry();
        }
        let t = self.topology();
        if exchange >= t.router.exchange_count() {
            return Err(BrokerError::NoSuchExchangeId(exchange));
        }
        ROUTES.with_borrow_mut(|routes| {
            t.router.route_into(exchange, routing_key, routes);
            let mut out = PublishOutcome { routed: routes.len(), ..Default::default() };
            if routes.is_empty() {
                return Ok(out);
            }
            // Only a queue with a dead-letter exchange needs the key and the history.
            let trail =
                routes.iter().any(|&q| t.queues[q].declaration.dead_letter.is_some()).then(|| {
                    Arc::new(Trail { key: routing_key.into(), history: Vec::new(), death: None })
                });
            let letter = Letter { payload: Arc::new(payload), trail };
            for &q in routes.iter() {
                let (admission, after) = t.queues[q].enqueue(letter.clone(), props);
                match admission {
                    Admission::Delivered(_) | Admission::Queued => out.accepted += 1,
                    Admission::DroppedHead => {
                        out.accepted += 1;
                        out.dropped_head += 1;
                    }
                    Admission::Refused => out.rejected += 1,
                }
                self.inner.finish(Some(&t), q, after);
            }
            Ok(out)
        })
    }

    /// Subscribes a new consumer to the queue named `queue`.
    pub fn consume(
        &self,
        queue: &str,
        options: ConsumerOptions,
    ) -> Result<Consumer<T>, BrokerError> {
        let id = self.queue_id(queue).ok_or_else(|| BrokerError::NoSuchQueue(queue.into()))?;
        self.consume_id(id, options)
    }

    /// Subscribes a new consumer to a queue by id. It receives ready messages at once.
    pub fn consume_id(
        &self,
        queue: QueueId,
        options: ConsumerOptions,
    ) -> Result<Consumer<T>, BrokerError> {
        self.check_open()?;
        let core =
            self.topology().queues.get(queue).cloned().ok_or(BrokerError::NoSuchQueueId(queue))?;
        let ((idx, id, cv), after) =
            core.add_consumer(options.prefetch, options.ack).ok_or(BrokerError::Closed)?;
        self.inner.finish(None, queue, after);
        Ok(Consumer { broker: Arc::clone(&self.inner), core, idx, id, cv, ack: options.ack })
    }

    /// A snapshot of one queue's counters.
    pub fn queue_stats(&self, queue: &str) -> Option<QueueStats> {
        let t = self.topology();
        t.queue_ids.get(queue).map(|&q| t.queues[q].stats())
    }

    /// Snapshots of every queue's counters, in declaration order (each queue's snapshot is
    /// consistent in itself; queues are read one after the other).
    pub fn stats(&self) -> Vec<QueueStats> {
        self.topology().queues.iter().map(|q| q.stats()).collect()
    }

    /// Every queue's consumer registries, in declaration order (leak checks).
    #[cfg(test)]
    pub(crate) fn footprint(&self) -> Vec<queue::Footprint> {
        self.topology().queues.iter().map(|q| q.footprint()).collect()
    }

    /// Restarts every queue's [`ready_peak`](QueueStats::ready_peak) from its current length
    /// (to measure the peak after a warm-up).
    pub fn reset_ready_peaks(&self) {
        for q in &self.topology().queues {
            q.reset_ready_peak();
        }
    }

    /// Shuts down: publishes, declarations and new consumers are refused, dispatch and the
    /// expiry thread stop, and every blocked [`Consumer::recv`] returns
    /// [`RecvError::Closed`]. Acks and nacks still work, and dropping a consumer still
    /// returns its unacknowledged messages to the ready list, so the counts stay balanced.
    /// Idempotent.
    pub fn close(&self) {
        self.inner.closed.store(true, Ordering::SeqCst);
        for q in &self.topology().queues {
            q.close();
        }
        // Not under the topology lock: the thread may be waiting for it.
        self.inner.stop_expiry();
    }

    /// Has [`close`](Broker::close) been called?
    pub fn is_closed(&self) -> bool {
        self.inner.closed.load(Ordering::SeqCst)
    }
}

/// The time of a broker made by [`Broker::with_manual_clock`], set by the test.
#[cfg(test)]
#[derive(Debug, Clone)]
pub(crate) struct ManualTime(Arc<AtomicU64>);

#[cfg(test)]
impl ManualTime {
    /// Moves the clock to `t` seconds (never backwards).
    pub(crate) fn set(&self, t: f64) {
        assert!(t >= f64::from_bits(self.0.load(Ordering::SeqCst)), "time goes forward");
        self.0.store(t.to_bits(), Ordering::SeqCst);
    }
}
