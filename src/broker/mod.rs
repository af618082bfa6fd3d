//! A real in-process message broker with RabbitMQ semantics: exchanges, bindings, queues,
//! competing consumers with prefetch and acknowledgements, real threads and the real clock.
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
//! # Semantics
//! Every queue rule is the messaging core's ([`crate::mq::Queue`], shared with the
//! simulator); this module adds threads, locks and the real clock around it.
//! - **Routing** goes through [`crate::routing::Router`], the crate's one routing
//!   implementation: a publish reaches every matching queue once; none is *unroutable*.
//! - **Queues** keep their ready messages in arrival order. `max_length` counts ready
//!   messages only (not the unacknowledged ones); when full, `drop-head` drops the oldest
//!   ready message and `reject-publish` refuses the new one (checked before anything else,
//!   so with `max_length = 0` every publish is refused). Both count as `dropped`.
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
//!   application is done with them, or when the consumer goes away.
//! - **Counts**: per queue, `offered = acked + dropped + rejected + ready + unacked` holds
//!   exactly at every moment [`stats`](Broker::stats) can observe, because each change and
//!   its counters are updated under the queue's one lock.
//! - **Shutdown**: [`close`](Broker::close) refuses further publishes and consumers, stops
//!   dispatch and wakes every blocked `recv`, which returns [`RecvError::Closed`]. Nothing
//!   blocks without a bound after it.
//!
//! # Cost
//! A publish takes a read lock on the topology, routes once, allocates one `Arc` for the
//! payload and then locks each destination queue once. Everything for one queue is under
//! one mutex, with one condition variable per consumer so a delivery wakes exactly the
//! consumer it went to.

mod consumer;
mod queue;
#[cfg(test)]
pub(crate) mod tests;

pub use crate::mq::{Ack, Overflow};
pub use crate::routing::{ExchangeId, ExchangeKind, QueueId};
pub use consumer::{Consumer, Delivery, RecvError, SettleError};

use crate::mq::Admission;
use crate::routing::{Router, RoutingError};
use queue::QueueCore;
use std::cell::RefCell;
use std::collections::HashMap;
use std::fmt;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, PoisonError, RwLock};

/// How a queue is declared: the options its messaging core enforces.
pub use crate::mq::QueueConfig as QueueOptions;

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
    /// Queues that were full with `reject-publish` and refused it.
    pub rejected: usize,
}

impl PublishOutcome {
    /// Did the message match no queue?
    pub fn unroutable(&self) -> bool {
        self.routed == 0
    }
}

/// A snapshot of one queue's counters. For every snapshot,
/// `offered = acked + dropped + rejected + ready + unacked`
/// ([`balanced`](QueueStats::balanced)).
#[derive(Debug, Clone, PartialEq)]
pub struct QueueStats {
    /// Queue name.
    pub name: String,
    /// Messages routed to the queue (accepted or not).
    pub offered: u64,
    /// Deliveries to consumers, redeliveries included.
    pub delivered: u64,
    /// Messages acknowledged. An auto-ack delivery counts when the application is done with
    /// it ([`Delivery::ack`] or dropping the [`Delivery`]) or its consumer goes away.
    pub acked: u64,
    /// Messages dropped by the overflow policy.
    pub dropped: u64,
    /// Messages nacked without requeue.
    pub rejected: u64,
    /// Deliveries of messages that had been delivered before.
    pub redelivered: u64,
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
}

impl QueueStats {
    /// Does `offered = acked + dropped + rejected + ready + unacked` hold?
    pub fn balanced(&self) -> bool {
        self.offered == self.acked + self.dropped + self.rejected + self.ready + self.unacked
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
    /// The queue exists with other options.
    #[error("queue \"{name}\" already exists with other options ({existing:?})")]
    QueueOptionsMismatch {
        /// The queue.
        name: String,
        /// Its options.
        existing: QueueOptions,
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

struct Inner<T> {
    topology: RwLock<Topology<T>>,
    closed: AtomicBool,
}

/// The broker: cheap to clone (clones share one broker) and usable from any thread.
///
/// `T` is the message payload; one publish routed to several queues shares one `Arc<T>`
/// between them, so payloads are never copied.
pub struct Broker<T> {
    inner: Arc<Inner<T>>,
}

impl<T> Clone for Broker<T> {
    fn clone(&self) -> Self {
        Broker { inner: Arc::clone(&self.inner) }
    }
}

impl<T: Send + Sync> fmt::Debug for Broker<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let t = self.topology();
        f.debug_struct("Broker")
            .field("exchanges", &t.router.exchange_count())
            .field("queues", &t.queues.len())
            .field("closed", &self.is_closed())
            .finish()
    }
}

impl<T: Send + Sync> Default for Broker<T> {
    fn default() -> Self {
        Self::new()
    }
}

thread_local! {
    /// Reused routing buffer, so a publish allocates nothing but the payload's `Arc`.
    static ROUTES: RefCell<Vec<QueueId>> = const { RefCell::new(Vec::new()) };
}

impl<T: Send + Sync> Broker<T> {
    /// A broker with only the default exchange `""` and no queues.
    pub fn new() -> Self {
        Self::from_router(Router::new::<&str>(&[]), Vec::new())
            .expect("an empty topology is consistent")
    }

    /// A broker over an already built routing table (for instance a scenario's), whose
    /// queue ids are the positions in `queues`. Exchanges known only through `router` accept
    /// any type in a later [`declare_exchange`](Broker::declare_exchange).
    pub fn from_router(
        router: Router,
        queues: Vec<(String, QueueOptions)>,
    ) -> Result<Self, BrokerError> {
        let mut router = router;
        let mut queue_ids = HashMap::new();
        let mut cores = Vec::new();
        for (i, (name, options)) in queues.into_iter().enumerate() {
            if queue_ids.insert(name.clone(), i).is_some() {
                return Err(BrokerError::DuplicateQueue(name));
            }
            router.add_queue(&name, i);
            cores.push(Arc::new(QueueCore::new(name, options)));
        }
        Ok(Broker {
            inner: Arc::new(Inner {
                topology: RwLock::new(Topology {
                    router,
                    kinds: HashMap::new(),
                    queues: cores,
                    queue_ids,
                }),
                closed: AtomicBool::new(false),
            }),
        })
    }

    fn topology(&self) -> std::sync::RwLockReadGuard<'_, Topology<T>> {
        // Nothing under this lock calls user code, so a poisoned lock is still consistent.
        self.inner.topology.read().unwrap_or_else(PoisonError::into_inner)
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

    /// Declares a queue (idempotent for the same options) and returns its id. The default
    /// exchange reaches it by its name at once.
    pub fn declare_queue(&self, name: &str, options: QueueOptions) -> Result<QueueId, BrokerError> {
        self.check_open()?;
        let mut t = self.topology_mut();
        if let Some(&id) = t.queue_ids.get(name) {
            let existing = t.queues[id].options;
            return if existing == options {
                Ok(id)
            } else {
                Err(BrokerError::QueueOptionsMismatch { name: name.to_string(), existing })
            };
        }
        let id = t.queues.len();
        t.queues.push(Arc::new(QueueCore::new(name.to_string(), options)));
        t.queue_ids.insert(name.to_string(), id);
        t.router.add_queue(name, id);
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
        let ex = self
            .topology()
            .router
            .exchange_id(exchange)
            .ok_or_else(|| BrokerError::NoSuchExchange(exchange.into()))?;
        self.publish_to(ex, routing_key, payload)
    }

    /// Publishes to an exchange by id. The message goes to every queue the router matches,
    /// once each; the outcome says what each did with it.
    pub fn publish_to(
        &self,
        exchange: ExchangeId,
        routing_key: &str,
        payload: T,
    ) -> Result<PublishOutcome, BrokerError> {
        self.check_open()?;
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
            let msg = Arc::new(payload);
            for &q in routes.iter() {
                match t.queues[q].enqueue(Arc::clone(&msg)) {
                    Admission::Delivered(_) | Admission::Queued => out.accepted += 1,
                    Admission::DroppedHead => {
                        out.accepted += 1;
                        out.dropped_head += 1;
                    }
                    Admission::Refused => out.rejected += 1,
                }
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
        let (idx, id, cv) =
            core.add_consumer(options.prefetch, options.ack).ok_or(BrokerError::Closed)?;
        Ok(Consumer { core, idx, id, cv, ack: options.ack })
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

    /// Restarts every queue's [`ready_peak`](QueueStats::ready_peak) from its current length
    /// (to measure the peak after a warm-up).
    pub fn reset_ready_peaks(&self) {
        for q in &self.topology().queues {
            q.reset_ready_peak();
        }
    }

    /// Shuts down: publishes, declarations and new consumers are refused, dispatch stops,
    /// and every blocked [`Consumer::recv`] returns [`RecvError::Closed`]. Acks still work,
    /// and dropping a consumer still returns its unacknowledged messages to the ready list,
    /// so the counts stay balanced. Idempotent.
    pub fn close(&self) {
        self.inner.closed.store(true, Ordering::SeqCst);
        for q in &self.topology().queues {
            q.close();
        }
    }

    /// Has [`close`](Broker::close) been called?
    pub fn is_closed(&self) -> bool {
        self.inner.closed.load(Ordering::SeqCst)
    }
}
