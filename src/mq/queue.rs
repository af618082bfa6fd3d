//! One queue: ready messages in publish order, the consumer line, prefetch room, admission
//! and overflow, settlement, requeue, and the counters whose balance law holds after every
//! operation.

use super::held::HeldList;
use super::ready::Ready;
use std::collections::VecDeque;

/// What a full queue does with one more message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Overflow {
    /// Drop the oldest ready message (RabbitMQ's default).
    DropHead,
    /// Refuse the new message.
    RejectPublish,
    /// Refuse the new message and dead-letter it (reason `maxlen`).
    RejectPublishDlx,
}

/// When a consumer acknowledges.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Ack {
    /// After its handling (the simulator: at the end of service); unacknowledged messages
    /// count against prefetch.
    Manual,
    /// RabbitMQ settles the message on delivery; prefetch does not limit the consumer.
    Auto,
}

/// A consumer's index within its queue (slots of removed consumers are reused).
pub type ConsumerId = usize;

/// A delivery tag: unique within the queue for its lifetime, growing with delivery order.
pub type Tag = u64;

/// How a queue is declared: the part of its options the core enforces.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct QueueConfig {
    /// Most ready messages held (delivered ones not counted, as RabbitMQ); `None` = unbounded.
    pub max_length: Option<u64>,
    /// What a full queue does with one more message.
    pub overflow: Overflow,
    /// `x-message-ttl`, in the back end's time unit: a ready message older than this
    /// expires. `None` = no queue TTL.
    pub message_ttl: Option<f64>,
    /// `x-max-priority`: a priority queue with priorities `0..=max`; `None` = FIFO.
    pub max_priority: Option<u8>,
    /// A message whose delivery count reached this limit is rejected (reason
    /// [`Reason::DeliveryLimit`]) instead of being requeued. `None` = no limit.
    pub delivery_limit: Option<u32>,
}

impl Default for QueueConfig {
    /// Unbounded, `drop-head`, no TTL, FIFO, no delivery limit (RabbitMQ's defaults).
    fn default() -> Self {
        QueueConfig {
            max_length: None,
            overflow: Overflow::DropHead,
            message_ttl: None,
            max_priority: None,
            delivery_limit: None,
        }
    }
}

/// A published message's properties that the core reads.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Props {
    /// Per-message TTL (the `expiration` property), in the back end's time unit. The
    /// smaller of this and the queue's `message_ttl` applies.
    pub ttl: Option<f64>,
    /// Priority (0 = none); above the queue's `max_priority` it counts as `max_priority`.
    pub priority: u8,
    /// Deliveries before this queue (a dead-lettered message keeps its count, as
    /// `x-death` does, so a retry loop through a delay queue meets its delivery limit).
    pub deliveries: u32,
}

/// Why a message left a queue without being acknowledged.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reason {
    /// Dropped by `drop-head`, or refused by `reject-publish-dlx` (dead-lettered as `maxlen`).
    Maxlen,
    /// Refused by `reject-publish`: never dead-lettered.
    Refused,
    /// Its TTL passed while it was ready.
    Expired,
    /// Nacked or rejected without requeue.
    Rejected,
    /// Settled without ack once its delivery count reached `delivery_limit` (RabbitMQ's
    /// reason is `rejected`; kept apart so a back end may route it elsewhere).
    DeliveryLimit,
}

impl Reason {
    /// Does a message that died so go to the queue's dead-letter exchange (if it has one)?
    pub fn dead_letters(self) -> bool {
        self != Reason::Refused
    }
}

/// The per-message fields of the message lifecycle (TTL expiry, priority, delivery count)
/// that a queue keeps beside each message. [`Life`] keeps them; `()` keeps none and compiles
/// the lifecycle's rules out of the queue, for a back end that knows no message will ever
/// have a TTL, a priority or a delivery limit (the simulator's first-edition scenarios):
/// every check of the rules below is then a constant, and an entry is 16 bytes smaller.
pub trait Lifecycle: Copy + std::fmt::Debug {
    /// Does this kind of queue apply TTLs, priorities and delivery limits at all?
    const ON: bool;
    /// The fields of a newly admitted message.
    fn new(priority: u8, deliveries: u32, expires: f64) -> Self;
    /// Its priority, capped at the queue's `max_priority` (0 in a FIFO queue).
    fn priority(&self) -> u8;
    /// Deliveries so far, those before this queue included ([`Props::deliveries`]).
    fn deliveries(&self) -> u32;
    /// When it expires if still ready (`f64::INFINITY`: never).
    fn expires(&self) -> f64;
    /// One more delivery.
    fn count_delivery(&mut self);
}

/// The lifecycle fields of a message ([`Lifecycle`]).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Life {
    /// Its priority, already capped at the queue's `max_priority` (0 in a FIFO queue).
    pub priority: u8,
    /// Deliveries so far, those before this queue included ([`Props::deliveries`]).
    pub deliveries: u32,
    /// When it expires if still ready (`f64::INFINITY`: never).
    pub expires: f64,
}

impl Lifecycle for Life {
    const ON: bool = true;
    #[inline(always)]
    fn new(priority: u8, deliveries: u32, expires: f64) -> Self {
        Life { priority, deliveries, expires }
    }
    #[inline(always)]
    fn priority(&self) -> u8 {
        self.priority
    }
    #[inline(always)]
    fn deliveries(&self) -> u32 {
        self.deliveries
    }
    #[inline(always)]
    fn expires(&self) -> f64 {
        self.expires
    }
    #[inline(always)]
    fn count_delivery(&mut self) {
        self.deliveries = self.deliveries.saturating_add(1);
    }
}

/// No lifecycle: no TTL, priority 0, no delivery count.
impl Lifecycle for () {
    const ON: bool = false;
    #[inline(always)]
    fn new(_: u8, _: u32, _: f64) -> Self {}
    #[inline(always)]
    fn priority(&self) -> u8 {
        0
    }
    #[inline(always)]
    fn deliveries(&self) -> u32 {
        0
    }
    #[inline(always)]
    fn expires(&self) -> f64 {
        f64::INFINITY
    }
    #[inline(always)]
    fn count_delivery(&mut self) {}
}

/// A message as the queue holds it.
#[derive(Debug, Clone)]
pub struct Entry<M, X = Life> {
    /// The back end's message (the simulator's timestamps, the broker's shared payload).
    pub msg: M,
    /// Order of arrival in this queue: a requeued message goes back among the ready ones by
    /// it, which is RabbitMQ's "original position, if possible".
    pub seq: u64,
    /// Delivered before (requeued by a nack or by its consumer's removal).
    pub redelivered: bool,
    /// Its lifecycle fields (none with `X = ()`).
    pub life: X,
}

impl<M, X: Lifecycle> Entry<M, X> {
    /// Its priority, already capped at the queue's `max_priority` (0 in a FIFO queue).
    #[inline(always)]
    pub fn priority(&self) -> u8 {
        self.life.priority()
    }
    /// Deliveries so far, those before this queue included ([`Props::deliveries`]).
    #[inline(always)]
    pub fn deliveries(&self) -> u32 {
        self.life.deliveries()
    }
    /// When it expires if still ready (`f64::INFINITY`: never).
    #[inline(always)]
    pub fn expires(&self) -> f64 {
        self.life.expires()
    }
}

/// A delivered message not yet settled, held by its consumer.
#[derive(Debug, Clone)]
pub struct Held<M, X = Life> {
    /// Its delivery tag.
    pub tag: Tag,
    /// The message.
    pub entry: Entry<M, X>,
}

/// What the queue did with the messages offered to it. After every operation
/// `offered = acked + dropped + expired + rejected + ready + held` ([`Queue::balanced`]).
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Counters {
    /// Messages offered by publishers (accepted or not).
    pub offered: u64,
    /// Deliveries to consumers, redeliveries included.
    pub delivered: u64,
    /// Messages settled as done: a manual-ack consumer's ack; for an auto-ack consumer, the
    /// end of its handling (its `ack`), or its removal, since RabbitMQ settled the message
    /// when it delivered it.
    pub acked: u64,
    /// Messages refused or removed by `max_length` (drop-head, reject-publish[-dlx]).
    pub dropped: u64,
    /// Messages whose TTL passed while they were ready.
    pub expired: u64,
    /// Messages nacked without requeue, or settled without ack at their delivery limit.
    pub rejected: u64,
    /// Deliveries of messages that had been delivered before.
    pub redelivered: u64,
}

/// What became of one published message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Admission {
    /// Handed at once to this consumer (the ready list was empty and it had room).
    Delivered(ConsumerId),
    /// Accepted into the ready list.
    Queued,
    /// Accepted, and the queue was full with `drop-head`: its oldest ready message was
    /// dropped to make room (with `max_length = 0`, the message itself).
    DroppedHead,
    /// Refused by `reject-publish` or `reject-publish-dlx` (the queue was full).
    Refused,
}

/// What a back end watches or acts on. Every method defaults to nothing, so an observer
/// implements only what it needs; the core calls them synchronously, in the order things
/// happen, and never calls back into itself from them.
pub trait Observer<M, X = Life> {
    /// The ready length is now `ready` (called after each change that a time average must
    /// see; also after a drop-head replacement, which leaves the length as it was).
    fn ready_changed(&mut self, _now: f64, _ready: usize) {}
    /// `held` is being delivered to `consumer`: it becomes the newest of the consumer's
    /// held messages right after this call.
    fn delivered(&mut self, _now: f64, _consumer: ConsumerId, _held: &Held<M, X>) {}
    /// `entry` left the queue unacknowledged, for `reason` (counted already); a back end
    /// with a dead-letter exchange republishes it when [`Reason::dead_letters`].
    fn died(&mut self, _now: f64, _entry: Entry<M, X>, _reason: Reason) {}
}

/// Watches nothing.
#[derive(Debug, Default, Clone, Copy)]
pub struct NoObserver;
impl<M, X> Observer<M, X> for NoObserver {}

#[derive(Debug, Clone)]
struct Slot<M, X> {
    /// Most held messages; `u32::MAX` when unlimited (prefetch 0, or auto ack).
    limit: u32,
    auto: bool,
    /// Delivered, not settled, in delivery order.
    held: HeldList<Held<M, X>>,
    /// In the dispatch line (exactly when it has room).
    in_line: bool,
}

impl<M, X> Slot<M, X> {
    #[inline]
    fn has_room(&self) -> bool {
        self.limit == u32::MAX || (self.held.len() as u32) < self.limit
    }
}

/// One queue and its consumers.
///
/// Dispatch is RabbitMQ's: the consumers with prefetch room stand in a line; a message goes
/// to the first of them, which moves to the back of the line, or leaves it when it has no
/// room left and rejoins at the back when a settlement gives it room again. So deliveries
/// go round-robin among the consumers with room, and with prefetch 1 the longest-idle
/// consumer is served first. Invariant (while dispatching): the ready list is empty or the
/// line is.
///
/// Among ready messages the highest priority goes first, FIFO within a priority. Only ready
/// messages expire, and only at the head of their priority: a back end that wants expiries
/// on time calls [`Queue::expire`] at [`Queue::next_expiry`]; whatever it does, a message
/// past its expiry is never delivered (dispatch expires it instead).
///
/// Cost: O(1) per publish, delivery and in-order settlement; an out-of-order settlement is
/// O(held by that consumer); a requeue is O(log ready) plus the insertion.
#[derive(Debug, Clone)]
pub struct Queue<M, X = Life> {
    config: QueueConfig,
    ready: Ready<M, X>,
    line: VecDeque<ConsumerId>,
    slots: Vec<Option<Slot<M, X>>>,
    dispatching: bool,
    /// `reject-publish[-dlx]` with `max_length = 0`: every publish is refused.
    refuse_all: bool,
    /// A message with a finite expiry was admitted: expiry must be checked.
    may_expire: bool,
    /// No queue TTL and no priorities: a message without a TTL needs no properties read.
    plain: bool,
    counts: Counters,
}

impl<M, X: Lifecycle> Queue<M, X> {
    /// An empty queue with no consumers.
    pub fn new(config: QueueConfig) -> Self {
        let levels = config.max_priority.map_or(1, |p| usize::from(p) + 1);
        Queue {
            config,
            ready: Ready::new(levels),
            line: VecDeque::new(),
            slots: Vec::new(),
            dispatching: true,
            refuse_all: config.overflow != Overflow::DropHead && config.max_length == Some(0),
            may_expire: false,
            plain: config.message_ttl.is_none() && config.max_priority.is_none(),
            counts: Counters::default(),
        }
    }

    /// The counters so far.
    pub fn counters(&self) -> Counters {
        self.counts
    }

    /// Ready messages (waiting for a consumer with room).
    #[inline]
    pub fn ready_len(&self) -> usize {
        self.ready.len()
    }

    /// When no message is ready, gives back the memory a past backlog grew the ready line
    /// to (beyond 4096 entries), so a long-lived queue's footprint follows its backlog now,
    /// not the largest it ever had. For back ends that live long (the in-crate broker); a
    /// simulation's queues end with their replication.
    pub fn release_idle_memory(&mut self) {
        self.ready.release_if_empty();
    }

    #[cfg(test)]
    pub(crate) fn ready_capacity(&self) -> usize {
        self.ready.capacity()
    }

    /// The ready messages in delivery order (highest priority first, FIFO within one).
    pub fn ready(&self) -> impl Iterator<Item = &Entry<M, X>> {
        self.ready.iter()
    }

    /// Messages delivered and not settled, over all consumers. O(consumers): derived rather
    /// than kept, so the per-message path does not pay for it.
    pub fn held_len(&self) -> u64 {
        self.slots.iter().flatten().map(|s| s.held.len() as u64).sum()
    }

    /// Ready + held: every message the queue is still responsible for.
    pub fn in_flight(&self) -> u64 {
        self.ready.len() as u64 + self.held_len()
    }

    /// Does `offered = acked + dropped + expired + rejected + ready + held` hold? (It always
    /// should.)
    pub fn balanced(&self) -> bool {
        let c = &self.counts;
        c.offered == c.acked + c.dropped + c.expired + c.rejected + self.in_flight()
    }

    /// Consumers subscribed now.
    pub fn consumer_count(&self) -> usize {
        self.slots.iter().flatten().count()
    }

    /// Consumer slots allocated (subscribed or free for reuse) and consumers in the dispatch
    /// line: registries that churning consumers must not make grow (the broker's soak test
    /// watches them).
    #[cfg(test)]
    pub(crate) fn registry_len(&self) -> (usize, usize) {
        (self.slots.len(), self.line.len())
    }

    /// Is `consumer` subscribed?
    pub fn has_consumer(&self, consumer: ConsumerId) -> bool {
        matches!(self.slots.get(consumer), Some(Some(_)))
    }

    /// The consumer's held messages, oldest delivery first (empty for an unknown consumer).
    pub fn held(&self, consumer: ConsumerId) -> impl ExactSizeIterator<Item = &Held<M, X>> {
        self.slot(consumer).map(|s| s.held.iter()).unwrap_or_default()
    }

    /// The consumer's oldest held message.
    #[inline]
    pub fn front_held(&self, consumer: ConsumerId) -> Option<&Held<M, X>> {
        self.slot(consumer).and_then(|s| s.held.front())
    }

    /// Starts loading what settling `consumer`'s oldest message reads (its slot, with the
    /// message inline), ahead of the event that will ([`crate::hint`]).
    #[inline(always)]
    pub fn prefetch_consumer(&self, consumer: ConsumerId) {
        if let Some(slot) = self.slots.get(consumer) {
            crate::hint::prefetch(slot);
        }
    }

    fn slot(&self, consumer: ConsumerId) -> Option<&Slot<M, X>> {
        self.slots.get(consumer).and_then(Option::as_ref)
    }

    /// When the next ready message expires (the earliest head expiry), if any does.
    pub fn next_expiry(&self) -> Option<f64> {
        if !X::ON || !self.may_expire {
            return None;
        }
        Some(self.ready.next_expiry()).filter(|t| t.is_finite())
    }

    /// Expires every head whose time has come (at or before `now`). Returns how many.
    pub fn expire(&mut self, now: f64, obs: &mut impl Observer<M, X>) -> u64 {
        if !X::ON || !self.may_expire {
            return 0;
        }
        let mut n = 0;
        while let Some(e) = self.ready.pop_expired(now) {
            n += 1;
            self.counts.expired += 1;
            obs.died(now, e, Reason::Expired);
        }
        if n > 0 {
            obs.ready_changed(now, self.ready.len());
        }
        n
    }

    /// Stops (`false`) or resumes (`true`) deliveries. Resuming delivers what is ready.
    pub fn set_dispatching(&mut self, now: f64, on: bool, obs: &mut impl Observer<M, X>) {
        self.dispatching = on;
        self.dispatch(now, obs);
    }

    /// The id the next [`Queue::add_consumer`] will return (the first free slot).
    pub fn free_slot(&self) -> ConsumerId {
        self.slots.iter().position(Option::is_none).unwrap_or(self.slots.len())
    }

    /// Subscribes a consumer at the back of the line and delivers what is ready to the line.
    /// `prefetch = 0` is unlimited; with `Ack::Auto` prefetch does not limit it.
    pub fn add_consumer(
        &mut self,
        now: f64,
        prefetch: u32,
        ack: Ack,
        obs: &mut impl Observer<M, X>,
    ) -> ConsumerId {
        let auto = ack == Ack::Auto;
        let limit = if auto || prefetch == 0 { u32::MAX } else { prefetch };
        let slot = Slot { limit, auto, held: HeldList::default(), in_line: true };
        let id = match self.slots.iter().position(Option::is_none) {
            Some(i) => {
                self.slots[i] = Some(slot);
                i
            }
            None => {
                self.slots.push(Some(slot));
                self.slots.len() - 1
            }
        };
        self.line.push_back(id);
        self.dispatch(now, obs);
        id
    }

    /// Unsubscribes a consumer (it stopped, crashed or disconnected). A manual-ack
    /// consumer's held messages go back among the ready ones at their original positions,
    /// flagged redelivered (or are rejected at their delivery limit); an auto-ack
    /// consumer's count as acked, because RabbitMQ settled them on delivery (they are lost
    /// to the application, as in RabbitMQ). Returns `false` for an unknown consumer.
    pub fn remove_consumer(
        &mut self,
        now: f64,
        consumer: ConsumerId,
        obs: &mut impl Observer<M, X>,
    ) -> bool {
        let Some(slot) = self.slots.get_mut(consumer).and_then(Option::take) else {
            return false;
        };
        if slot.in_line {
            self.line.retain(|&c| c != consumer);
        }
        if slot.auto {
            self.counts.acked += slot.held.len() as u64;
        } else if !slot.held.is_empty() {
            for h in slot.held {
                self.requeue(now, h.entry, obs);
            }
            self.after_requeue(now, obs);
        }
        self.dispatch(now, obs);
        true
    }

    /// Offers one published message with no properties ([`Queue::publish_with`]).
    #[inline(always)]
    pub fn publish(&mut self, now: f64, msg: M, obs: &mut impl Observer<M, X>) -> Admission {
        self.publish_with(now, msg, Props::default(), obs)
    }

    /// Offers one published message: admission (`max_length`, `overflow`), then delivery to
    /// the first consumer in the line, or the ready list.
    ///
    /// As RabbitMQ: `reject-publish` checks the limit before anything else, so with
    /// `max_length = 0` every publish is refused even when a consumer is idle; `drop-head`
    /// hands the message to a consumer with room first and enqueues it otherwise, dropping
    /// the oldest ready message when that overfills the queue. A message whose TTL is 0
    /// is delivered if a consumer can take it at once, and expires otherwise.
    #[inline(always)]
    pub fn publish_with(
        &mut self,
        now: f64,
        msg: M,
        props: Props,
        obs: &mut impl Observer<M, X>,
    ) -> Admission {
        if X::ON && self.may_expire {
            self.expire(now, obs);
        }
        let (expires, priority) = if !X::ON || (self.plain && props.ttl.is_none()) {
            (f64::INFINITY, 0)
        } else {
            let ttl = match (props.ttl, self.config.message_ttl) {
                (Some(a), Some(b)) => Some(a.min(b)),
                (a, b) => a.or(b),
            };
            let priority = match self.config.max_priority {
                Some(max) => props.priority.min(max),
                None => 0,
            };
            (ttl.map_or(f64::INFINITY, |t| now + t.max(0.0)), priority)
        };
        // Arrival order is the offer count: every offered message gets the next number.
        let entry = Entry {
            msg,
            seq: self.counts.offered,
            redelivered: false,
            life: X::new(priority, props.deliveries, expires),
        };
        self.counts.offered += 1;
        // Even a message delivered at once may come back (a requeue) and expire then.
        if X::ON {
            self.may_expire |= expires.is_finite();
        }
        // The ready list is empty, so the queue is full only when max_length is 0.
        if self.ready.is_empty() && !self.line.is_empty() && self.dispatching && !self.refuse_all {
            return Admission::Delivered(self.deliver(now, entry, obs));
        }
        if X::ON && expires <= now {
            // TTL 0 and no consumer to take it at once.
            self.counts.expired += 1;
            obs.died(now, entry, Reason::Expired);
            return Admission::Queued;
        }
        let full = self.config.max_length.is_some_and(|m| self.ready.len() as u64 >= m);
        if full {
            self.counts.dropped += 1;
            match self.config.overflow {
                Overflow::RejectPublish => {
                    obs.died(now, entry, Reason::Refused);
                    return Admission::Refused;
                }
                Overflow::RejectPublishDlx => {
                    obs.died(now, entry, Reason::Maxlen);
                    return Admission::Refused;
                }
                Overflow::DropHead => {}
            }
            // drop-head: the next message to deliver makes room (with max_length 0, the
            // new one is itself that message).
            let Some(oldest) = self.ready.pop_front() else {
                obs.died(now, entry, Reason::Maxlen);
                return Admission::DroppedHead;
            };
            obs.died(now, oldest, Reason::Maxlen);
            self.ready.push_back(entry);
            obs.ready_changed(now, self.ready.len());
            return Admission::DroppedHead;
        }
        self.ready.push_back(entry);
        obs.ready_changed(now, self.ready.len());
        Admission::Queued
    }

    /// Acknowledges the held message `tag` of `consumer` and returns it; `None` when the
    /// consumer or the tag is unknown (settled already, or requeued with its consumer).
    #[inline(always)]
    pub fn ack(
        &mut self,
        now: f64,
        consumer: ConsumerId,
        tag: Tag,
        obs: &mut impl Observer<M, X>,
    ) -> Option<Entry<M, X>> {
        let entry = self.take_held(consumer, tag)?;
        self.counts.acked += 1;
        self.regain_room(now, consumer, obs);
        Some(entry)
    }

    /// Acknowledges the consumer's oldest held message and returns it (a consumer that
    /// handles its deliveries in order, as the simulator's do); `None` when it holds none.
    #[inline(always)]
    pub fn ack_oldest(
        &mut self,
        now: f64,
        consumer: ConsumerId,
        obs: &mut impl Observer<M, X>,
    ) -> Option<Entry<M, X>> {
        let slot = self.slots.get_mut(consumer)?.as_mut()?;
        let held = slot.held.pop_front()?;
        self.counts.acked += 1;
        if !slot.in_line && slot.has_room() {
            slot.in_line = true;
            self.line.push_back(consumer);
            self.dispatch(now, obs);
        }
        Some(held.entry)
    }

    /// Negatively acknowledges the held message `tag` of `consumer`: with `requeue` it goes
    /// back among the ready ones at its original position, flagged redelivered (RabbitMQ's
    /// `basic.nack(requeue=true)`); without, it leaves the queue as rejected. At its delivery
    /// limit it leaves as rejected either way ([`Reason::DeliveryLimit`]). Returns `false`
    /// when the consumer or the tag is unknown.
    pub fn nack(
        &mut self,
        now: f64,
        consumer: ConsumerId,
        tag: Tag,
        requeue: bool,
        obs: &mut impl Observer<M, X>,
    ) -> bool {
        let Some(entry) = self.take_held(consumer, tag) else {
            return false;
        };
        self.settle_unacked(now, consumer, entry, requeue, obs);
        true
    }

    /// [`Queue::nack`] of the consumer's oldest held message; `false` when it holds none.
    pub fn nack_oldest(
        &mut self,
        now: f64,
        consumer: ConsumerId,
        requeue: bool,
        obs: &mut impl Observer<M, X>,
    ) -> bool {
        let Some(held) =
            self.slots.get_mut(consumer).and_then(Option::as_mut).and_then(|s| s.held.pop_front())
        else {
            return false;
        };
        self.settle_unacked(now, consumer, held.entry, requeue, obs);
        true
    }

    fn settle_unacked(
        &mut self,
        now: f64,
        consumer: ConsumerId,
        entry: Entry<M, X>,
        requeue: bool,
        obs: &mut impl Observer<M, X>,
    ) {
        if requeue {
            self.requeue(now, entry, obs);
            self.after_requeue(now, obs);
        } else {
            let reason =
                if self.at_limit(&entry) { Reason::DeliveryLimit } else { Reason::Rejected };
            self.counts.rejected += 1;
            obs.died(now, entry, reason);
        }
        self.regain_room(now, consumer, obs);
        // A consumer that never left the line (unlimited prefetch) did not trigger dispatch
        // above, but the requeued message is ready for it.
        self.dispatch(now, obs);
    }

    #[inline(always)]
    fn at_limit(&self, entry: &Entry<M, X>) -> bool {
        X::ON && self.config.delivery_limit.is_some_and(|l| entry.deliveries() >= l)
    }

    #[inline(always)]
    fn take_held(&mut self, consumer: ConsumerId, tag: Tag) -> Option<Entry<M, X>> {
        let slot = self.slots.get_mut(consumer)?.as_mut()?;
        // Settlements come in delivery order almost always: the front is the fast path.
        let held = if slot.held.front().is_some_and(|h| h.tag == tag) {
            slot.held.pop_front()
        } else {
            let i = slot.held.iter().position(|h| h.tag == tag)?;
            slot.held.remove(i)
        }?;
        Some(held.entry)
    }

    /// A consumer that left the line when it filled up rejoins it at the back once it has
    /// room again, and gets what is ready.
    #[inline(always)]
    fn regain_room(&mut self, now: f64, consumer: ConsumerId, obs: &mut impl Observer<M, X>) {
        let Some(slot) = self.slots[consumer].as_mut() else { return };
        if !slot.in_line && slot.has_room() {
            slot.in_line = true;
            self.line.push_back(consumer);
            self.dispatch(now, obs);
        }
    }

    /// Puts a delivered message back among the ready ones by its arrival order (it keeps
    /// its expiry, as in RabbitMQ), or rejects it at its delivery limit.
    fn requeue(&mut self, now: f64, mut entry: Entry<M, X>, obs: &mut impl Observer<M, X>) {
        if self.at_limit(&entry) {
            self.counts.rejected += 1;
            obs.died(now, entry, Reason::DeliveryLimit);
            return;
        }
        entry.redelivered = true;
        self.ready.insert_by_seq(entry);
    }

    /// After requeues: a `drop-head` queue pushed over its limit drops from the head, as
    /// RabbitMQ does; a `reject-publish` queue keeps them (they were accepted already).
    fn after_requeue(&mut self, now: f64, obs: &mut impl Observer<M, X>) {
        if self.config.overflow == Overflow::DropHead
            && let Some(m) = self.config.max_length
        {
            while self.ready.len() as u64 > m {
                let oldest = self.ready.pop_front().expect("longer than the limit");
                self.counts.dropped += 1;
                obs.died(now, oldest, Reason::Maxlen);
            }
        }
        obs.ready_changed(now, self.ready.len());
    }

    /// Moves ready messages to the line until one side runs out; a message past its expiry
    /// expires instead of being delivered.
    #[inline(always)]
    fn dispatch(&mut self, now: f64, obs: &mut impl Observer<M, X>) {
        if !self.dispatching {
            return;
        }
        let mut moved = false;
        while !self.line.is_empty() {
            let Some(entry) = self.ready.pop_front() else { break };
            moved = true;
            if X::ON && self.may_expire && entry.expires() <= now {
                self.counts.expired += 1;
                obs.died(now, entry, Reason::Expired);
                continue;
            }
            self.deliver(now, entry, obs);
        }
        if moved {
            obs.ready_changed(now, self.ready.len());
        }
    }

    /// Hands `entry` to the first consumer in the line.
    #[inline(always)]
    fn deliver(
        &mut self,
        now: f64,
        mut entry: Entry<M, X>,
        obs: &mut impl Observer<M, X>,
    ) -> ConsumerId {
        let c = self.line.pop_front().expect("callers check the line");
        // Tags count deliveries: unique, growing with delivery order, and free.
        self.counts.delivered += 1;
        let tag = self.counts.delivered;
        self.counts.redelivered += u64::from(entry.redelivered);
        entry.life.count_delivery();
        let held = Held { tag, entry };
        obs.delivered(now, c, &held);
        let slot = self.slots[c].as_mut().expect("the line holds live consumers");
        slot.held.push_back(held);
        if slot.has_room() {
            self.line.push_back(c);
        } else {
            slot.in_line = false;
        }
        c
    }
}

#[cfg(test)]
#[path = "tests.rs"]
mod tests;
