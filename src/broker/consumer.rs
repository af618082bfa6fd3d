//! The consuming side: a [`Consumer`] receives [`Delivery`]s from one queue and settles
//! them with [`Delivery::ack`] or [`Delivery::nack`].

use super::queue::{Death, Letter, QueueCore};
use super::{Ack, Inner};
use std::fmt;
use std::sync::{Arc, Condvar};
use std::time::{Duration, Instant};

/// Why [`Consumer::recv`] returned no message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum RecvError {
    /// Nothing was delivered within the timeout (or, for `try_recv`, right now).
    #[error("no delivery within the timeout")]
    Timeout,
    /// The broker was closed: no more deliveries will come.
    #[error("the broker is closed")]
    Closed,
}

/// Why a delivery could not be settled.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum SettleError {
    /// The consumer was dropped first; the message had already been returned to its queue
    /// for redelivery (at-least-once), so this settlement is void.
    #[error("the consumer is gone; the message was requeued for redelivery")]
    ConsumerGone,
    /// A nack of an auto-ack delivery: it was settled when it was delivered.
    #[error("auto-ack deliveries are settled on delivery and cannot be nacked")]
    AutoAck,
}

/// A subscription to one queue (one member of a group of competing consumers).
///
/// The queue pushes messages to it, round-robin among the consumers with prefetch room, as
/// RabbitMQ does; [`recv`](Consumer::recv) takes them in delivery order. Dropping the
/// consumer, or unwinding through it when its thread panics, returns every message it holds
/// unacknowledged to the head of the queue, flagged `redelivered`, for the rest of the group.
pub struct Consumer<T> {
    pub(super) broker: Arc<Inner<T>>,
    pub(crate) core: Arc<QueueCore<T>>,
    pub(crate) idx: usize,
    pub(crate) id: u64,
    pub(crate) cv: Arc<Condvar>,
    pub(crate) ack: Ack,
}

impl<T> fmt::Debug for Consumer<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Consumer")
            .field("queue", &self.core.name)
            .field("id", &self.id)
            .field("ack", &self.ack)
            .finish()
    }
}

impl<T> Consumer<T> {
    /// The queue consumed.
    pub fn queue(&self) -> &str {
        &self.core.name
    }

    /// Blocks until a message is delivered or the broker is closed.
    pub fn recv(&self) -> Result<Delivery<T>, RecvError> {
        self.recv_until(None)
    }

    /// Blocks at most `timeout`.
    pub fn recv_timeout(&self, timeout: Duration) -> Result<Delivery<T>, RecvError> {
        // A timeout too large to represent waits without limit.
        self.recv_until(Instant::now().checked_add(timeout))
    }

    /// Takes a delivered message if one is waiting, without blocking.
    pub fn try_recv(&self) -> Result<Delivery<T>, RecvError> {
        self.recv_until(Some(Instant::now()))
    }

    fn recv_until(&self, deadline: Option<Instant>) -> Result<Delivery<T>, RecvError> {
        let mut st = self.core.lock();
        loop {
            if st.closed {
                return Err(RecvError::Closed);
            }
            let slot = st
                .side
                .links
                .get_mut(self.idx)
                .and_then(Option::as_mut)
                .filter(|s| s.id == self.id)
                .ok_or(RecvError::Closed)?;
            if let Some(h) = slot.buffer.pop_front() {
                return Ok(Delivery {
                    broker: Arc::clone(&self.broker),
                    core: Arc::clone(&self.core),
                    idx: self.idx,
                    consumer_id: self.id,
                    tag: h.tag,
                    letter: h.letter,
                    redelivered: h.redelivered,
                    priority: h.priority,
                    delivered_at: h.delivered_at,
                    ack: self.ack,
                    settled: false,
                });
            }
            let wait = match deadline {
                None => Duration::from_secs(3600),
                Some(d) => {
                    let now = Instant::now();
                    if now >= d {
                        return Err(RecvError::Timeout);
                    }
                    d - now
                }
            };
            slot.waiting = true;
            st = self.cv.wait_timeout(st, wait).unwrap_or_else(|p| p.into_inner()).0;
            if let Some(s) = st.side.links.get_mut(self.idx).and_then(Option::as_mut) {
                s.waiting = false;
            }
        }
    }
}

impl<T> Drop for Consumer<T> {
    fn drop(&mut self) {
        let after = self.core.remove_consumer(self.idx, self.id);
        self.broker.finish(None, self.core.id, after);
    }
}

/// One delivered message.
///
/// With manual ack it stays unacknowledged (holding one unit of its consumer's prefetch)
/// until [`ack`](Delivery::ack) or [`nack`](Delivery::nack). Dropping it unsettled requeues
/// it, flagged `redelivered`; dropped while its thread unwinds from a panic, it stays
/// unacknowledged until its [`Consumer`] is dropped (as the unwinding thread usually does),
/// which returns it with the consumer's other messages. With auto ack RabbitMQ settled it
/// on delivery; it counts as acked when [`ack`](Delivery::ack)ed or dropped (the
/// application is done with it), so until then it is in flight.
pub struct Delivery<T> {
    broker: Arc<Inner<T>>,
    core: Arc<QueueCore<T>>,
    idx: usize,
    consumer_id: u64,
    tag: u64,
    letter: Letter<T>,
    redelivered: bool,
    priority: u8,
    delivered_at: Option<Instant>,
    ack: Ack,
    settled: bool,
}

impl<T: fmt::Debug> fmt::Debug for Delivery<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Delivery")
            .field("queue", &self.core.name)
            .field("tag", &self.tag)
            .field("redelivered", &self.redelivered)
            .field("priority", &self.priority)
            .field("payload", &self.letter.payload)
            .finish()
    }
}

impl<T> Delivery<T> {
    /// The message.
    pub fn payload(&self) -> &T {
        &self.letter.payload
    }

    /// The message, shared with any other queue the same publish was routed to.
    pub fn payload_arc(&self) -> &Arc<T> {
        &self.letter.payload
    }

    /// Its priority in this queue (as published, capped at the queue's `max_priority`; 0 in
    /// a FIFO queue).
    pub fn priority(&self) -> u8 {
        self.priority
    }

    /// For a dead letter, where, why and when it was last dead-lettered (it entered this
    /// queue then); `None` for a message published to it.
    pub fn last_death(&self) -> Option<&Death> {
        self.letter.trail.as_ref().and_then(|t| t.death.as_ref())
    }

    /// When the queue delivered it to this consumer (pushed it into the consumer's buffer,
    /// which may be well before `recv` took it); `None` only on a test's hand-set clock.
    pub fn delivered_at(&self) -> Option<Instant> {
        self.delivered_at
    }

    /// Was this message delivered before (to a consumer that died or nacked it)?
    pub fn redelivered(&self) -> bool {
        self.redelivered
    }

    /// Unique within its queue; grows with delivery order.
    pub fn delivery_tag(&self) -> u64 {
        self.tag
    }

    /// The queue it came from.
    pub fn queue(&self) -> &str {
        &self.core.name
    }

    /// Acknowledges: the message is done and leaves the broker (auto ack: the application
    /// is done with it).
    pub fn ack(mut self) -> Result<(), SettleError> {
        self.settled = true;
        self.settle(None)
    }

    /// Rejects: with `requeue` the message goes back among the ready ones at its original
    /// position, for redelivery; without, or at the queue's delivery limit, it leaves the
    /// queue counted as rejected, to the queue's dead-letter exchange if it has one
    /// (republished before this returns). An
    /// auto-ack delivery cannot be rejected (RabbitMQ settled it on delivery): it is acked
    /// and the error says so.
    pub fn nack(mut self, requeue: bool) -> Result<(), SettleError> {
        if self.ack == Ack::Auto {
            return Err(SettleError::AutoAck);
        }
        self.settled = true;
        self.settle(Some(requeue))
    }

    fn settle(&self, nack: Option<bool>) -> Result<(), SettleError> {
        let (done, after) = self.core.settle(self.idx, self.consumer_id, self.tag, nack);
        self.broker.finish(None, self.core.id, after);
        if done { Ok(()) } else { Err(SettleError::ConsumerGone) }
    }
}

impl<T> Drop for Delivery<T> {
    fn drop(&mut self) {
        // While its thread unwinds, the consumer is most likely going down too: leave the
        // message with it, so it returns with the consumer's others, in delivery order,
        // instead of being redelivered to the dying consumer first.
        if !self.settled && !std::thread::panicking() {
            // Already requeued (or, auto ack, settled) if the consumer went first; either
            // way it is not lost.
            let _ = self.settle(if self.ack == Ack::Auto { None } else { Some(true) });
        }
    }
}
