//! One replication in scenario time: producers publish renewal arrivals, the pre-resolved
//! routes copy each message into its queues, and each queue — a [`crate::mq::Queue`], the
//! messaging core the broker uses too — admits, dispatches and settles them. This file adds
//! only what belongs to simulated time: the event calendar, service times drawn from each
//! group's stream, consumers serving their delivered messages one at a time in delivery
//! order (so with prefetch > 1 a message waits in a busy consumer's buffer while another
//! consumer is idle: the cost of prefetch), the onward publish (`then`), and statistics,
//! which it gathers as the core's [`Observer`].
//!
//! Both ack modes settle a message when its service ends: a manual-ack consumer acks it, an
//! auto-ack consumer is done with it (RabbitMQ forgot it on delivery, but it still sits in
//! the consumer's buffer, in flight, until served).
//!
//! The message lifecycle of the second edition lives in the core too (expiry, delivery
//! limits, priorities, requeue); this file adds what time and randomness decide: when a
//! head expires (an `Expire` event at the core's next expiry), whether a service fails (a
//! draw from the group's failure stream), when a consumer crashes and comes back, and the
//! republishing of dead letters through the dead-letter exchange's routes, with RabbitMQ's
//! cycle rule (a message's dead-letter history is a bit set of queues, cleared by a
//! rejection).
//!
//! Memory is bounded by the number of messages in the system, never by the horizon.

use super::calendar::{Calendar, EventId};
use super::parts::{Part, Parts};
use crate::arrival::{Arrival, ArrivalState};
use crate::cancel::Cancel;
use crate::dist::Dist;
use crate::mq::{self, ConsumerId, Held, NoObserver, Observer, Props, Reason, dead_letter};
use crate::results::Counts;
use crate::scenario::{Crash, Failure, KeyId, Model, Priority, WeightedKey, batch_size};
use crate::stats::{LatencyHistogram, LatencyRecorder, TimeAverage};
use rand::SeedableRng;
use rand::rngs::Xoshiro256PlusPlus;

/// A message copy inside one queue.
#[derive(Debug, Clone, Copy)]
struct Msg<T> {
    /// Time of the first publish (end-to-end latency starts here).
    origin_t: f64,
    /// Time the copy entered its current queue.
    enq_t: f64,
    /// Producer of the first publish.
    producer: u32,
    /// What dead-lettering needs ([`Trail`]; nothing in a [`Plain`] run).
    trail: T,
}

/// What a message carries for dead-lettering: its routing key and its dead-letter history.
trait Trail: Copy + std::fmt::Debug {
    fn new(key: KeyId) -> Self;
    fn key(&self) -> KeyId;
    /// Dead-letter history since the last rejection: the cycle bits of the queues it died
    /// in (RabbitMQ drops a dead letter that would return to one of them).
    fn mask(&mut self) -> &mut u32;
    fn set_key(&mut self, key: KeyId);
}

/// [`Trail`] of a run with the message lifecycle.
#[derive(Debug, Clone, Copy)]
struct DeadLetterTrail {
    /// Its routing key (a dead letter is republished with it unless the queue sets one).
    key: KeyId,
    dl_mask: u32,
}

impl Trail for DeadLetterTrail {
    #[inline(always)]
    fn new(key: KeyId) -> Self {
        DeadLetterTrail { key, dl_mask: 0 }
    }
    #[inline(always)]
    fn key(&self) -> KeyId {
        self.key
    }
    #[inline(always)]
    fn mask(&mut self) -> &mut u32 {
        &mut self.dl_mask
    }
    #[inline(always)]
    fn set_key(&mut self, key: KeyId) {
        self.key = key;
    }
}

/// No dead-lettering: nothing to carry (the key is never read).
impl Trail for () {
    #[inline(always)]
    fn new(_: KeyId) -> Self {}
    #[inline(always)]
    fn key(&self) -> KeyId {
        0
    }
    fn mask(&mut self) -> &mut u32 {
        unreachable!("a plain run never dead-letters")
    }
    #[inline(always)]
    fn set_key(&mut self, _: KeyId) {}
}

/// What a replication's engine is compiled for, chosen once per scenario: [`Plain`] when
/// the scenario uses none of the message lifecycle (TTLs, dead-lettering, priorities,
/// failures, crashes, `network_delay`) nor what [`Mode::X`] lists, whose paths are then
/// compiled out and whose queue entries are as small as before those features existed
/// (40 bytes, against 56); [`Varied`] for what `X` lists without the lifecycle; [`Full`]
/// otherwise.
trait Mode: 'static {
    /// The message lifecycle is on.
    const L: bool;
    /// What only some scenarios use is on: a timeline `window`, arrival processes other
    /// than a renewal distribution, `batch`, weighted `routing_keys`, `initial_messages`.
    /// Off, their per-message checks are compiled out.
    const X: bool;
    /// The lifecycle fields the queues keep per message.
    type Life: mq::Lifecycle;
    /// What a message carries for dead-lettering.
    type Trail: Trail;
}

/// A scenario without the message lifecycle.
struct Plain;
impl Mode for Plain {
    const L: bool = false;
    const X: bool = false;
    type Life = ();
    type Trail = ();
}

/// A scenario with the message lifecycle.
struct Full;
impl Mode for Full {
    const L: bool = true;
    const X: bool = true;
    type Life = mq::Life;
    type Trail = DeadLetterTrail;
}

/// A scenario without the message lifecycle that uses what [`Mode::X`] lists.
struct Varied;
impl Mode for Varied {
    const L: bool = false;
    const X: bool = true;
    type Life = ();
    type Trail = ();
}

type MsgOf<K> = Msg<<K as Mode>::Trail>;
type CoreOf<K> = mq::Queue<MsgOf<K>, <K as Mode>::Life>;

/// Consumers from which the event loop prefetches the next events' state: about where
/// their state and their queues' outgrow the second-level cache.
const PREFETCH_FROM: usize = 512;

/// The `producer` of a message of an `initial_messages` backlog: published by no producer.
const NO_PRODUCER: u32 = u32::MAX;

#[derive(Debug, Clone, Copy)]
enum Event {
    Arrival(u32),
    ServiceEnd(u32),
    /// Queue `q`'s next head may expire now.
    Expire(u32),
    Crash(u32),
    Restart(u32),
    /// A delivery reaches consumer `c` (`network_delay` after the core delivered it).
    Reach(u32),
    /// Consumer `c`'s oldest settlement reaches the broker: an ack, or a nack (requeue or
    /// not), `network_delay` after its service ended.
    Settle(u32, Settlement),
}

impl Event {
    /// The index every kind carries (a producer, consumer or queue).
    #[inline(always)]
    fn index(self) -> u32 {
        match self {
            Event::Arrival(i)
            | Event::ServiceEnd(i)
            | Event::Expire(i)
            | Event::Crash(i)
            | Event::Restart(i)
            | Event::Reach(i)
            | Event::Settle(i, _) => i,
        }
    }
}

/// What a consumer sent the broker at the end of a service (with `network_delay` it is
/// on the wire until it arrives).
#[derive(Debug, Clone, Copy)]
enum Settlement {
    Ack,
    Nack { requeue: bool },
}

/// A consumer as the simulator sees it: where it reads from, and whether it is serving.
struct Consumer {
    queue: u32,
    /// Its id in its queue's core.
    local: u32,
    group: u32,
    /// Serving its oldest held message.
    busy: bool,
    /// When its current service started.
    started: f64,
    /// Its pending service end, to cancel when it crashes.
    service_event: Option<EventId>,
    /// Subscribed (not crashed).
    up: bool,
    /// One-way `network_delay` of its group (0: none, and the three fields below stay 0).
    delay: f64,
    /// Deliveries that reached it and wait in its buffer, not yet started.
    arrived: u32,
    /// Services ended whose settlement is still on its way to the broker: the oldest
    /// `settling` messages the core says it holds.
    settling: u32,
}

/// Per-queue figures of one replication.
#[derive(Debug, Clone)]
pub struct QueueStats {
    /// Wait (enter queue → start of service) of messages that entered after the warm-up.
    pub wait: LatencyHistogram,
    /// Sojourn (enter queue → end of service) of messages that entered after the warm-up.
    pub sojourn: LatencyHistogram,
    /// Ready messages over time.
    pub ready: TimeAverage,
    /// Busy consumers over time.
    pub busy: TimeAverage,
    /// Messages offered after the warm-up.
    pub offered_post: u64,
    /// Messages dropped after the warm-up.
    pub dropped_post: u64,
    /// Services ended after the warm-up.
    pub completed_post: u64,
    /// Messages expired after the warm-up.
    pub expired_post: u64,
    /// With `initial_messages`: the first instant, from time 0, at which no message waited
    /// in the queue (every one it held was in service): the backlog and what queued behind
    /// it are gone. `None` if that did not happen by the horizon.
    pub drain_time: Option<f64>,
    /// Per priority (index), for a priority queue: offered after the warm-up, wait, sojourn.
    pub by_priority: Vec<Option<PriorityStats>>,
    /// Totals, warm-up included.
    pub counts: Counts,
}

/// One priority's figures in one replication.
#[derive(Debug, Clone)]
pub struct PriorityStats {
    /// Offered after the warm-up.
    pub offered_post: u64,
    /// Wait of its messages that entered after the warm-up.
    pub wait: LatencyHistogram,
    /// Sojourn of its messages that entered after the warm-up.
    pub sojourn: LatencyHistogram,
}

/// Per-producer figures of one replication.
#[derive(Debug, Clone, Default)]
pub struct ProducerStats {
    /// Publishes.
    pub published: u64,
    /// Publishes that matched no queue.
    pub unroutable: u64,
    /// First publish → end of the last stage, for messages published after the warm-up.
    pub end_to_end: LatencyHistogram,
}

/// Per-group figures of one replication.
#[derive(Debug, Clone, Default)]
pub struct GroupStats {
    /// Services ended.
    pub served: u64,
    /// Onward publishes (`then`) that matched no queue.
    pub unroutable_onward: u64,
}

/// The system state over time on a regular grid: each point is the time average over the
/// `step` before it (from 16 evenly spaced samples), so a chart shows the backlog's level
/// rather than the noise of single instants.
#[derive(Debug, Clone, Default)]
pub struct Series {
    /// Window length, seconds.
    pub step: f64,
    /// End time of each window.
    pub times: Vec<f64>,
    /// Per queue: mean ready messages in each window.
    pub ready: Vec<Vec<f64>>,
    /// Per queue: mean messages delivered to consumers and not yet settled (in their buffers
    /// or in service; auto-ack ones included) in each window.
    pub unacked: Vec<Vec<f64>>,
    /// Per queue: mean busy consumers in each window.
    pub busy: Vec<Vec<f64>>,
    /// Per queue: services ended so far (cumulative) at the end of each window.
    pub completed: Vec<Vec<u64>>,
    /// Per queue: messages offered so far (cumulative) at the end of each window.
    pub offered: Vec<Vec<u64>>,
    /// Per queue: messages dropped by `max_length` so far (cumulative).
    pub dropped: Vec<Vec<u64>>,
    /// Per queue: messages expired by TTL so far (cumulative).
    pub expired: Vec<Vec<u64>>,
}

impl Series {
    /// No figures yet for `queues` queues on the grid of `times`.
    fn empty(step: f64, times: Vec<f64>, queues: usize) -> Self {
        Series {
            step,
            times,
            ready: vec![Vec::new(); queues],
            unacked: vec![Vec::new(); queues],
            busy: vec![Vec::new(); queues],
            completed: vec![Vec::new(); queues],
            offered: vec![Vec::new(); queues],
            dropped: vec![Vec::new(); queues],
            expired: vec![Vec::new(); queues],
        }
    }

    /// Puts a part's series in place: its queue `i` is queue `queues[i]` here.
    fn place(&mut self, queues: &[usize], part: Series) {
        debug_assert_eq!(self.times, part.times);
        let Series { ready, unacked, busy, completed, offered, dropped, expired, .. } = part;
        for (i, (((((r, u), b), c), o), (d, e))) in ready
            .into_iter()
            .zip(unacked)
            .zip(busy)
            .zip(completed)
            .zip(offered)
            .zip(dropped.into_iter().zip(expired))
            .enumerate()
        {
            let q = queues[i];
            (self.ready[q], self.unacked[q], self.busy[q]) = (r, u, b);
            (self.completed[q], self.offered[q], self.dropped[q], self.expired[q]) = (c, o, d, e);
        }
    }
}

/// Samples per window.
const SUBSAMPLES: u32 = 16;

struct Recorder {
    series: Series,
    next: f64,
    n: u32,
    sums: Vec<[f64; 3]>,
}

impl Recorder {
    fn new(step: f64, queues: usize) -> Self {
        Recorder {
            series: Series::empty(step, Vec::new(), queues),
            next: 0.0,
            n: 0,
            sums: vec![[0.0; 3]; queues],
        }
    }

    /// Takes every sample due before `t` (the state is constant between events).
    fn advance<K: Mode>(&mut self, e: &Engine<K>, t: f64) {
        let sub = self.series.step / f64::from(SUBSAMPLES);
        while self.next < t {
            for ((core, st), s) in e.cores.iter().zip(&e.side.queues).zip(&mut self.sums) {
                s[0] += core.ready_len() as f64;
                s[1] += core.held_len() as f64;
                s[2] += f64::from(st.busy);
            }
            self.n += 1;
            self.next += sub;
            if self.n == SUBSAMPLES {
                let k = f64::from(SUBSAMPLES);
                let end = self.series.times.len() as f64 * self.series.step + self.series.step;
                self.series.times.push(end);
                for (q, s) in self.sums.iter_mut().enumerate() {
                    self.series.ready[q].push(s[0] / k);
                    self.series.unacked[q].push(s[1] / k);
                    self.series.busy[q].push(s[2] / k);
                    self.series.completed[q].push(e.side.queues[q].completed);
                    let n = e.cores[q].counters();
                    self.series.offered[q].push(n.offered);
                    self.series.dropped[q].push(n.dropped);
                    self.series.expired[q].push(n.expired);
                    *s = [0.0; 3];
                }
                self.n = 0;
            }
        }
    }
}

/// Everything one replication measured.
#[derive(Debug, Clone)]
pub struct ReplicationResult {
    /// Per queue, model order.
    pub queues: Vec<QueueStats>,
    /// Per producer, model order.
    pub producers: Vec<ProducerStats>,
    /// Per consumer group, model order.
    pub groups: Vec<GroupStats>,
    /// Per Kafka-style topic, model order (empty without topics): `sim::topic` runs them.
    pub topics: Vec<super::topic::TopicStats>,
    /// Events processed.
    pub events: u64,
    /// State snapshots, when asked for.
    pub series: Option<Series>,
    /// Per-window figures, with a `window`.
    pub timeline: Option<super::timeline::Recorder>,
}

/// SplitMix64's finaliser: a bijective mixer with good avalanche (Steele et al. 2014).
fn mix(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// Seed of one random stream: (master seed, replication, kind of source, source index).
/// Each producer and each consumer group has its own stream, so changing a group's size
/// leaves every arrival time unchanged (common random numbers for what-if comparisons).
pub fn stream_seed(seed: u64, replication: u32, kind: u64, index: usize) -> u64 {
    mix(mix(mix(seed) ^ u64::from(replication)) ^ (kind << 32) ^ index as u64)
}

/// A priority's recorders, made when the priority is first seen.
struct PriorityRecorders {
    offered_post: u64,
    wait: LatencyRecorder,
    sojourn: LatencyRecorder,
}

/// Per-queue figures, kept together: the hot path touches one of these per step.
struct QueueState {
    /// Global index of each consumer, by its id in the core (a restarted consumer may come
    /// back under another id).
    global: Vec<u32>,
    /// Global index of the queue's first consumer (before any restart, ids are consecutive).
    first: u32,
    /// Consumers in service.
    busy: u32,
    /// Time the waits at the end of a successful service rather than at its start: a
    /// service may fail or be cut by a crash, and only the final one counts.
    wait_at_success: bool,
    /// Time of the pending `Expire` event (infinity: none).
    expiry_at: f64,
    expired_post: u64,
    dead_lettered: u64,
    dead_letter_unroutable: u64,
    dead_letter_cycles: u64,
    /// Per priority, for a priority queue (empty otherwise).
    by_priority: Vec<Option<Box<PriorityRecorders>>>,
    max_priority: Option<u8>,
    wait: LatencyRecorder,
    sojourn: LatencyRecorder,
    ready_avg: TimeAverage,
    busy_avg: TimeAverage,
    offered_post: u64,
    dropped_post: u64,
    completed_post: u64,
    /// Services ended.
    completed: u64,
    /// With `initial_messages`, until its backlog has drained.
    draining: bool,
    drain_time: Option<f64>,
}

/// A producer: its arrival process, routes and figures.
struct ProducerState<'m> {
    arrival: &'m Arrival,
    /// Where it stands in its arrival process.
    state: ArrivalState,
    batch: Option<&'m Dist>,
    /// Batch sizes (a stream of its own).
    batch_rng: Xoshiro256PlusPlus,
    /// Weighted routing keys (empty: one key, `routes`).
    keys: &'m [WeightedKey],
    /// Draws of weighted keys (a stream of its own).
    key_rng: Xoshiro256PlusPlus,
    routes: &'m [usize],
    key: KeyId,
    ttl: Option<f64>,
    priority: &'m Priority,
    rng: Xoshiro256PlusPlus,
    /// Draws of weighted priorities (a stream of its own, so arrivals stay as they were).
    priority_rng: Xoshiro256PlusPlus,
    published: u64,
    unroutable: u64,
    end_to_end: LatencyRecorder,
}

/// A consumer group: its service time, onward publish and figures.
struct GroupState<'m> {
    service: &'m Dist,
    /// The queues an onward publish (`then`) routes to; `None` without `then`.
    then: Option<&'m [usize]>,
    then_key: KeyId,
    rng: Xoshiro256PlusPlus,
    failure: Option<Failure>,
    failure_rng: Xoshiro256PlusPlus,
    crash: Option<&'m Crash>,
    crash_rng: Xoshiro256PlusPlus,
    served: u64,
    unroutable_onward: u64,
}

/// Everything but the queues' cores, so that the core of one queue can be borrowed while
/// its observer (which starts services and records figures) borrows the rest.
struct Side<'m, K: Mode> {
    warmup: f64,
    calendar: Calendar<Event>,
    consumers: Vec<Consumer>,
    queues: Vec<QueueState>,
    groups: Vec<GroupState<'m>>,
    /// Dead letters waiting to be republished once the core that let them go is released:
    /// (message, priority, deliveries, queue it died in, reason).
    dead: std::collections::VecDeque<(MsgOf<K>, u8, u32, u32, Reason)>,
    /// Does any queue have a dead-letter exchange?
    dead_lettering: bool,
    /// Per-window figures, with a `window`.
    timeline: Option<Box<super::timeline::Recorder>>,
    /// Can anything expire or be dead-lettered? Without, nothing needs doing after an
    /// operation on a queue.
    lifecycle: bool,
}

impl<K: Mode> Side<'_, K> {
    /// Consumer `c` starts serving a message that entered its queue at `enq_t`.
    #[inline]
    fn start_service(&mut self, now: f64, c: usize, enq_t: f64) {
        let cons = &mut self.consumers[c];
        cons.busy = true;
        if K::L {
            cons.started = now;
        }
        let (q, g) = (cons.queue as usize, cons.group as usize);
        let st = &mut self.queues[q];
        if !(K::L && st.wait_at_success) {
            if enq_t >= self.warmup {
                st.wait.record(now - enq_t);
            }
            if K::X
                && let Some(t) = self.timeline.as_mut()
            {
                t.wait(enq_t, q, now - enq_t);
            }
        }
        st.busy += 1;
        st.busy_avg.set(now, f64::from(st.busy));
        let group = &mut self.groups[g];
        let s = group.service.sample(&mut group.rng);
        let id = self.calendar.schedule(now + s, Event::ServiceEnd(c as u32));
        if K::L && group.crash.is_some() {
            self.consumers[c].service_event = Some(id);
        }
    }
}

/// The simulator's view of one queue's core: statistics, and a delivery to an idle
/// consumer starts its service.
struct SimObserver<'a, 'm, K: Mode> {
    q: usize,
    side: &'a mut Side<'m, K>,
}

impl<K: Mode> Observer<MsgOf<K>, K::Life> for SimObserver<'_, '_, K> {
    #[inline]
    fn ready_changed(&mut self, now: f64, ready: usize) {
        self.side.queues[self.q].ready_avg.set(now, ready as f64);
        if K::X
            && let Some(t) = self.side.timeline.as_mut()
        {
            t.ready(now, self.q, ready as f64);
        }
    }

    #[inline]
    fn delivered(&mut self, now: f64, consumer: ConsumerId, held: &Held<MsgOf<K>, K::Life>) {
        // Without crashes a consumer keeps the id it joined with: consecutive from `first`.
        let st = &self.side.queues[self.q];
        let c = if K::L { st.global[consumer] as usize } else { st.first as usize + consumer };
        let cons = &self.side.consumers[c];
        // `network_delay` runs in the full mode only, so a plain run never pays this test.
        if K::L && cons.delay > 0.0 {
            // On the wire: the consumer sees it `delay` later.
            self.side.calendar.schedule(now + cons.delay, Event::Reach(c as u32));
        } else if !cons.busy {
            self.side.start_service(now, c, held.entry.msg.enq_t);
        }
    }

    #[inline]
    fn died(&mut self, now: f64, entry: mq::Entry<MsgOf<K>, K::Life>, reason: Reason) {
        let post = u64::from(now >= self.side.warmup);
        let st = &mut self.side.queues[self.q];
        match reason {
            Reason::Maxlen | Reason::Refused => st.dropped_post += post,
            Reason::Expired => st.expired_post += post,
            Reason::Rejected | Reason::DeliveryLimit => {}
        }
        if K::L && self.side.dead_lettering && reason.dead_letters() {
            self.side.dead.push_back((
                entry.msg,
                entry.priority(),
                entry.deliveries(),
                self.q as u32,
                reason,
            ));
        }
    }
}

/// One replication's state. `L`: the scenario uses the message lifecycle (TTLs,
/// dead-lettering, priorities, failures, crashes); without it those paths are compiled out,
/// so a first-edition scenario runs as fast as before they existed.
struct Engine<'m, K: Mode> {
    model: &'m Model,
    now: f64,
    cores: Vec<CoreOf<K>>,
    side: Side<'m, K>,
    producers: Vec<ProducerState<'m>>,
    events: u64,
    /// Queues whose `initial_messages` backlog has not drained yet.
    draining: usize,
    /// Do the counts carry the lifecycle's fields (the whole model's choice, for a part)?
    lifecycle_counts: bool,
}

/// Random stream kinds of [`stream_seed`]: each source of randomness has its own, so adding
/// a feature never moves the draws of another.
pub mod stream {
    /// A producer's inter-arrival times.
    pub const ARRIVALS: u64 = 0;
    /// A consumer group's service times.
    pub const SERVICE: u64 = 1;
    /// A producer's weighted priorities.
    pub const PRIORITY: u64 = 2;
    /// A consumer group's failure draws.
    pub const FAILURE: u64 = 3;
    /// A consumer group's up and down times.
    pub const CRASH: u64 = 4;
    /// A producer's batch sizes.
    pub const BATCH: u64 = 5;
    /// A producer's weighted routing keys.
    pub const KEYS: u64 = 6;
}

impl<'m, K: Mode> Engine<'m, K> {
    /// Replication `replication` of `model`, which is the `part` of a larger model when
    /// given: its producers' and groups' streams are then seeded by their whole-model index.
    fn new(model: &'m Model, replication: u32, part: Option<&Part>) -> Self {
        let sim = &model.simulation;
        let seed = |kind, i| {
            Xoshiro256PlusPlus::seed_from_u64(stream_seed(sim.seed, replication, kind, i))
        };
        // Streams belong to the whole model's producers and groups.
        let (producer_id, group_id) = (
            |i: usize| part.map_or(i, |part| part.producers[i]),
            |i: usize| part.map_or(i, |part| part.groups[i]),
        );
        let warmup = sim.warmup;
        let mut cores: Vec<CoreOf<K>> =
            model.queues.iter().map(|q| mq::Queue::new(q.core_config())).collect();
        let mut queues: Vec<QueueState> = model
            .queues
            .iter()
            .map(|q| QueueState {
                global: Vec::new(),
                first: 0,
                busy: 0,
                wait_at_success: q
                    .groups
                    .iter()
                    .any(|&g| model.groups[g].failure.is_some() || model.groups[g].crash.is_some()),
                expiry_at: f64::INFINITY,
                expired_post: 0,
                dead_lettered: 0,
                dead_letter_unroutable: 0,
                dead_letter_cycles: 0,
                by_priority: Vec::new(),
                max_priority: q.max_priority,
                wait: LatencyRecorder::new(),
                sojourn: LatencyRecorder::new(),
                ready_avg: TimeAverage::new(warmup),
                busy_avg: TimeAverage::new(warmup),
                offered_post: 0,
                dropped_post: 0,
                completed_post: 0,
                completed: 0,
                draining: q.initial_messages.is_some(),
                drain_time: None,
            })
            .collect();
        // Numbered queue by queue, in group order within a queue, which is the order they
        // join its line.
        let mut consumers = Vec::new();
        for (q, (core, st)) in cores.iter_mut().zip(&mut queues).enumerate() {
            st.first = consumers.len() as u32;
            for &gi in &model.queues[q].groups {
                let g = &model.groups[gi];
                for _ in 0..g.count {
                    let local = core.add_consumer(0.0, g.prefetch, g.ack, &mut NoObserver);
                    debug_assert_eq!(local, st.global.len());
                    st.global.push(consumers.len() as u32);
                    consumers.push(Consumer {
                        queue: q as u32,
                        local: local as u32,
                        group: gi as u32,
                        busy: false,
                        started: 0.0,
                        service_event: None,
                        up: true,
                        delay: g.network_delay,
                        arrived: 0,
                        settling: 0,
                    });
                }
            }
        }
        let producers = model
            .producers
            .iter()
            .enumerate()
            .map(|(i, p)| ProducerState {
                arrival: &p.arrival,
                state: ArrivalState::default(),
                batch: p.batch.as_ref(),
                batch_rng: seed(stream::BATCH, producer_id(i)),
                keys: &p.weighted_keys,
                key_rng: seed(stream::KEYS, producer_id(i)),
                routes: &p.routes,
                key: p.key,
                ttl: p.ttl,
                priority: &p.priority,
                rng: seed(stream::ARRIVALS, producer_id(i)),
                priority_rng: seed(stream::PRIORITY, producer_id(i)),
                published: 0,
                unroutable: 0,
                end_to_end: LatencyRecorder::new(),
            })
            .collect();
        let groups = model
            .groups
            .iter()
            .enumerate()
            .map(|(i, g)| GroupState {
                service: &g.service,
                then: g.then.as_ref().map(|t| t.routes.as_slice()),
                then_key: g.then.as_ref().map_or(0, |t| t.key),
                rng: seed(stream::SERVICE, group_id(i)),
                failure: g.failure,
                failure_rng: seed(stream::FAILURE, group_id(i)),
                crash: g.crash.as_ref(),
                crash_rng: seed(stream::CRASH, group_id(i)),
                served: 0,
                unroutable_onward: 0,
            })
            .collect();
        let calendar = Calendar::with_capacity(consumers.len() + model.producers.len() + 16);
        Engine {
            model,
            now: 0.0,
            cores,
            side: Side {
                warmup,
                calendar,
                consumers,
                queues,
                groups,
                dead: std::collections::VecDeque::new(),
                dead_lettering: model.queues.iter().any(|q| q.dead_letter.is_some()),
                timeline: sim.window.map(|w| {
                    Box::new(super::timeline::Recorder::new(w, sim.windows(), model.queues.len()))
                }),
                lifecycle: model.queues.iter().any(|q| q.dead_letter.is_some())
                    || (0..model.queues.len()).any(|q| model.may_expire(q)),
            },
            producers,
            events: 0,
            draining: 0,
            lifecycle_counts: part.map_or_else(|| model.uses_message_lifecycle(), |p| p.lifecycle),
        }
    }

    /// A message copy arrives at queue `q`.
    #[inline(always)]
    fn arrive(&mut self, q: usize, msg: MsgOf<K>, props: Props) {
        let now = self.now;
        let post = now >= self.side.warmup;
        let st = &mut self.side.queues[q];
        st.offered_post += u64::from(post);
        if K::X
            && let Some(t) = self.side.timeline.as_mut()
        {
            t.offered(now, q);
        }
        let core = &mut self.cores[q];
        if K::L
            && let Some(max) = st.max_priority
            && post
        {
            let p = usize::from(props.priority.min(max));
            if st.by_priority.is_empty() {
                st.by_priority.resize_with(usize::from(max) + 1, || None);
            }
            st.by_priority[p]
                .get_or_insert_with(|| {
                    Box::new(PriorityRecorders {
                        offered_post: 0,
                        wait: LatencyRecorder::new(),
                        sojourn: LatencyRecorder::new(),
                    })
                })
                .offered_post += 1;
        }
        core.publish_with(now, msg, props, &mut SimObserver { q, side: &mut self.side });
        self.after(q);
    }

    /// After an operation on queue `q`: schedules its next expiry when it moved earlier,
    /// and republishes what died.
    #[inline(always)]
    fn after(&mut self, q: usize) {
        if !K::L || !self.side.lifecycle {
            return;
        }
        if let Some(t) = self.cores[q].next_expiry() {
            let st = &mut self.side.queues[q];
            if t < st.expiry_at {
                st.expiry_at = t;
                self.side.calendar.schedule(t.max(self.now), Event::Expire(q as u32));
            }
        }
        if !self.side.dead.is_empty() {
            self.republish_dead();
        }
    }

    /// Republishes dead letters through their queue's dead-letter exchange, in the order
    /// they died (a republish may kill more, which queue behind).
    fn republish_dead(&mut self) {
        while let Some((mut msg, priority, deliveries, from, reason)) = self.side.dead.pop_front() {
            let from = from as usize;
            let Some(dl) = &self.model.queues[from].dead_letter else { continue };
            let key = dl.key_for(msg.trail.key(), reason);
            msg.trail.set_key(key);
            let routes = &dl.routes[key as usize];
            let passes = dead_letter::pass_on(
                msg.trail.mask(),
                dl.cycle_bit,
                reason,
                dl.targets(self.model, key),
            );
            let st = &mut self.side.queues[from];
            if !passes {
                st.dead_letter_cycles += 1;
                continue;
            }
            st.dead_lettered += 1;
            if routes.is_empty() {
                st.dead_letter_unroutable += 1;
                continue;
            }
            msg.enq_t = self.now;
            // The expiration property is removed on dead-lettering (RabbitMQ), so it does
            // not expire again wherever it goes.
            let props = Props { ttl: None, priority, deliveries };
            for &t in routes {
                self.arrive(t, msg, props);
            }
        }
    }

    /// Consumer `c`'s service ends; whether it failed is drawn from its group's failure
    /// stream.
    fn service_end(&mut self, c: usize) {
        let failed = if !K::L {
            None
        } else {
            let group = &mut self.side.groups[self.side.consumers[c].group as usize];
            group.failure.and_then(|f| {
                (f.probability > 0.0
                    && rand::RngExt::random::<f64>(&mut group.failure_rng) < f.probability)
                    .then_some(f.requeue)
            })
        };
        if K::L && self.side.consumers[c].delay > 0.0 {
            self.service_end_delayed(c, failed);
        } else {
            self.settle_service(c, failed);
        }
    }

    /// With `network_delay`: consumer `c`'s service ends; the outcome is measured now, its
    /// ack or nack leaves for the broker (arriving `delay` later, when the core settles it),
    /// and the consumer starts on the next delivery that has reached it.
    fn service_end_delayed(&mut self, c: usize, failed: Option<bool>) {
        let now = self.now;
        let cons = &mut self.side.consumers[c];
        cons.service_event = None;
        cons.busy = false;
        let (q, local, g) = (cons.queue as usize, cons.local as usize, cons.group as usize);
        let (started, delay, index) = (cons.started, cons.delay, cons.settling as usize);
        cons.settling += 1;
        let st = &mut self.side.queues[q];
        st.busy -= 1;
        st.busy_avg.set(now, f64::from(st.busy));
        let settlement = match failed {
            Some(requeue) => Settlement::Nack { requeue },
            None => {
                let held = self.cores[q]
                    .held(local)
                    .nth(index)
                    .expect("the message just served is held until its ack arrives");
                let (msg, priority) = (held.entry.msg, held.entry.priority());
                self.record_success(now, q, g, msg, priority, started);
                Settlement::Ack
            }
        };
        self.side.calendar.schedule(now + delay, Event::Settle(c as u32, settlement));
        self.next_arrived(c);
        self.after(q);
    }

    /// With `network_delay`: a delivery reaches consumer `c`, which starts it if idle.
    fn reach(&mut self, c: usize) {
        let cons = &mut self.side.consumers[c];
        cons.arrived += 1;
        if !cons.busy {
            self.next_arrived(c);
        }
    }

    /// With `network_delay`: idle consumer `c` starts the oldest delivery that reached it,
    /// if any (held after the ones whose settlement is on its way).
    fn next_arrived(&mut self, c: usize) {
        let cons = &self.side.consumers[c];
        if cons.arrived == 0 {
            return;
        }
        let (q, local, index) = (cons.queue as usize, cons.local as usize, cons.settling as usize);
        let enq_t = self.cores[q]
            .held(local)
            .nth(index)
            .expect("a delivery that reached the consumer is held")
            .entry
            .msg
            .enq_t;
        self.side.consumers[c].arrived -= 1;
        self.side.start_service(self.now, c, enq_t);
    }

    /// With `network_delay`: consumer `c`'s oldest ack or nack reaches the broker, which
    /// settles it and so frees prefetch room.
    fn settle_arrives(&mut self, c: usize, settlement: Settlement) {
        let now = self.now;
        let cons = &mut self.side.consumers[c];
        cons.settling -= 1;
        let (q, local) = (cons.queue as usize, cons.local as usize);
        let obs = &mut SimObserver { q, side: &mut self.side };
        match settlement {
            Settlement::Ack => {
                self.cores[q].ack_oldest(now, local, obs);
            }
            Settlement::Nack { requeue } => {
                self.cores[q].nack_oldest(now, local, requeue, obs);
            }
        }
        self.after(q);
    }

    /// Consumer `c`'s service ends: its message is acked, or, when it failed
    /// (`Some(requeue)`), nacked.
    #[inline(always)]
    fn settle_service(&mut self, c: usize, failed: Option<bool>) {
        let now = self.now;
        let cons = &mut self.side.consumers[c];
        if K::L {
            cons.service_event = None;
        }
        let (q, local, g) = (cons.queue as usize, cons.local as usize, cons.group as usize);
        // Only the lifecycle's figures read the start of a service.
        let started = if K::L { cons.started } else { 0.0 };
        let st = &mut self.side.queues[q];
        st.busy -= 1;
        st.busy_avg.set(now, f64::from(st.busy));
        if let Some(requeue) = failed {
            // The consumer stays busy through its nack, as through an ack below.
            self.cores[q].nack_oldest(
                now,
                local,
                requeue,
                &mut SimObserver { q, side: &mut self.side },
            );
            self.next_service(c, q, local);
            self.after(q);
            return;
        }
        // The consumer stays busy through its ack, so a message the ack brings it waits in its
        // buffer behind the ones it already holds; it starts serving below, in order.
        let entry = self.cores[q]
            .ack_oldest(now, local, &mut SimObserver { q, side: &mut self.side })
            .expect("a busy consumer holds its message");
        self.record_success(now, q, g, entry.msg, entry.priority(), started);
        self.next_service(c, q, local);
        self.after(q);
    }

    /// A successful service of `msg` (priority `priority`, started at `started`) by group
    /// `g` on queue `q` ended now: its figures, and its onward publish or end to end.
    #[inline(always)]
    fn record_success(
        &mut self,
        now: f64,
        q: usize,
        g: usize,
        msg: MsgOf<K>,
        priority: u8,
        started: f64,
    ) {
        let warmup = self.side.warmup;
        let st = &mut self.side.queues[q];
        st.completed += 1;
        st.completed_post += u64::from(now >= warmup);
        if K::X
            && let Some(t) = self.side.timeline.as_mut()
        {
            t.completed(now, q);
            if K::L && st.wait_at_success {
                t.wait(msg.enq_t, q, started - msg.enq_t);
            }
        }
        if msg.enq_t >= warmup {
            st.sojourn.record(now - msg.enq_t);
            if K::L {
                if st.wait_at_success {
                    st.wait.record(started - msg.enq_t);
                }
                if let Some(Some(p)) = st.by_priority.get_mut(usize::from(priority)) {
                    p.wait.record(started - msg.enq_t);
                    p.sojourn.record(now - msg.enq_t);
                }
            }
        }
        let group = &mut self.side.groups[g];
        group.served += 1;

        match group.then {
            Some(routes) if !routes.is_empty() => {
                let key = group.then_key;
                let props = Props { ttl: None, priority, deliveries: 0 };
                for &nq in routes {
                    self.arrive(nq, Msg { enq_t: now, trail: K::Trail::new(key), ..msg }, props);
                }
            }
            then => {
                // The message's path ends here: no onward stage, or an onward publish that
                // matched no queue (counted, and the message's journey is over).
                if then.is_some() {
                    group.unroutable_onward += 1;
                }
                // Only an `initial_messages` backlog (a [`Mode::X`] feature) has no producer.
                if msg.origin_t >= warmup && (!K::X || msg.producer != NO_PRODUCER) {
                    self.producers[msg.producer as usize].end_to_end.record(now - msg.origin_t);
                }
            }
        }
    }

    /// Starts loading what the events likely to come next will read ([`crate::hint`]): for
    /// a service end among the heap's top six, its consumer; for one of the top two (the
    /// next event unless one just scheduled comes first), also its queue's figures and its
    /// slot in the core, found through the consumer, which an earlier event prefetched.
    #[inline(always)]
    fn prefetch_upcoming(&self) {
        for (i, ev) in self.side.calendar.upcoming().enumerate() {
            if let Event::ServiceEnd(c) = *ev {
                let cons = &self.side.consumers[c as usize];
                if i < 2 {
                    let q = cons.queue as usize;
                    crate::hint::prefetch(&self.side.queues[q]);
                    self.cores[q].prefetch_consumer(cons.local as usize);
                } else {
                    crate::hint::prefetch(cons);
                }
            }
        }
    }

    /// After a settlement: the consumer serves its next held message, or idles.
    #[inline(always)]
    fn next_service(&mut self, c: usize, q: usize, local: usize) {
        match self.cores[q].front_held(local) {
            Some(h) => {
                let enq_t = h.entry.msg.enq_t;
                self.side.start_service(self.now, c, enq_t);
            }
            None => self.side.consumers[c].busy = false,
        }
    }

    fn arrival(&mut self, p: usize) {
        let producer = &mut self.producers[p];
        let n = if K::X {
            producer.batch.map_or(1, |b| batch_size(b, &mut producer.batch_rng))
        } else {
            1
        };
        for _ in 0..n {
            self.publish_one(p);
        }
        let producer = &mut self.producers[p];
        if let Some(t) = producer.arrival.next(&mut producer.state, &mut producer.rng) {
            self.side.calendar.schedule(t, Event::Arrival(p as u32));
        }
    }

    /// One message of producer `p` (a publish, or one message of its batch).
    #[inline(always)]
    fn publish_one(&mut self, p: usize) {
        let now = self.now;
        let producer = &mut self.producers[p];
        producer.published += 1;
        let (routes, key) = if !K::X || producer.keys.is_empty() {
            (producer.routes, producer.key)
        } else {
            let k = &producer.keys[self.model.producers[p].draw_key(&mut producer.key_rng)];
            (k.routes.as_slice(), k.key)
        };
        if routes.is_empty() {
            producer.unroutable += 1;
        }
        let props = if K::L {
            let priority = producer.priority.sample(&mut producer.priority_rng);
            Props { ttl: producer.ttl, priority, deliveries: 0 }
        } else {
            Props::default()
        };
        // `publish_delay`: this arrival is the message reaching the broker; it was published
        // that long before, and its latencies count from then (the full mode only, which a
        // publish delay selects).
        let born = if K::L { now - self.model.producers[p].publish_delay } else { now };
        let msg =
            Msg { origin_t: born, enq_t: born, producer: p as u32, trail: K::Trail::new(key) };
        for &q in routes {
            self.arrive(q, msg, props);
        }
    }

    /// With a backlog not yet drained: has every queue's waiting line (ready and held
    /// messages not in service) emptied? The first instant it has is the drain time.
    #[cold]
    fn check_drains(&mut self) {
        let mut left = 0;
        for (core, st) in self.cores.iter().zip(&mut self.side.queues) {
            if !st.draining {
                continue;
            }
            if core.ready_len() as u64 + core.held_len() <= u64::from(st.busy) {
                st.draining = false;
                st.drain_time = Some(self.now);
            } else {
                left += 1;
            }
        }
        self.draining = left;
    }

    /// Time 0: each queue's `initial_messages`, ready before anything else happens.
    fn publish_backlogs(&mut self) {
        for (q, queue) in self.model.queues.iter().enumerate() {
            let Some(n) = queue.initial_messages else { continue };
            let msg = Msg {
                origin_t: 0.0,
                enq_t: 0.0,
                producer: NO_PRODUCER,
                trail: K::Trail::new(queue.initial_key),
            };
            for _ in 0..n {
                self.arrive(q, msg, Props::default());
            }
            // The backlog is in `counts.offered` (the core counted it) but not in the
            // offered rate, which is the producers' traffic.
            if self.side.warmup <= 0.0 {
                self.side.queues[q].offered_post -= n;
            }
        }
    }

    #[cold]
    fn lifecycle_event(&mut self, ev: Event) {
        match ev {
            Event::Expire(q) => self.expire(q as usize),
            Event::Crash(c) => self.crash(c as usize),
            Event::Restart(c) => self.restart(c as usize),
            Event::Reach(c) => self.reach(c as usize),
            Event::Settle(c, s) => self.settle_arrives(c as usize, s),
            Event::Arrival(_) | Event::ServiceEnd(_) => {}
        }
    }

    /// Queue `q`'s pending expiry is due.
    fn expire(&mut self, q: usize) {
        let now = self.now;
        let st = &mut self.side.queues[q];
        if st.expiry_at <= now {
            st.expiry_at = f64::INFINITY;
        }
        self.cores[q].expire(now, &mut SimObserver { q, side: &mut self.side });
        self.after(q);
    }

    /// Consumer `c` crashes: its service stops, the core requeues what it held.
    fn crash(&mut self, c: usize) {
        let now = self.now;
        let cons = &mut self.side.consumers[c];
        if !cons.up {
            return;
        }
        cons.up = false;
        let (q, local, g) = (cons.queue as usize, cons.local as usize, cons.group as usize);
        if std::mem::take(&mut cons.busy) {
            if let Some(id) = cons.service_event.take() {
                self.side.calendar.cancel(id);
            }
            let st = &mut self.side.queues[q];
            st.busy -= 1;
            st.busy_avg.set(now, f64::from(st.busy));
        }
        self.cores[q].remove_consumer(now, local, &mut SimObserver { q, side: &mut self.side });
        let group = &mut self.side.groups[g];
        if let Some(crash) = group.crash {
            let down = crash.restart.sample(&mut group.crash_rng);
            self.side.calendar.schedule(now + down, Event::Restart(c as u32));
        }
        self.after(q);
    }

    /// Consumer `c` is back: it subscribes again (at the back of the line).
    fn restart(&mut self, c: usize) {
        let now = self.now;
        let (q, g) = {
            let cons = &self.side.consumers[c];
            (cons.queue as usize, cons.group as usize)
        };
        let group = &self.model.groups[g];
        // The core may give it another id; the map must know it before the core delivers.
        let local = self.cores[q].free_slot();
        let st = &mut self.side.queues[q];
        if local == st.global.len() {
            st.global.push(c as u32);
        } else {
            st.global[local] = c as u32;
        }
        let cons = &mut self.side.consumers[c];
        cons.up = true;
        cons.local = local as u32;
        let got = self.cores[q].add_consumer(
            now,
            group.prefetch,
            group.ack,
            &mut SimObserver { q, side: &mut self.side },
        );
        debug_assert_eq!(got, local);
        self.schedule_crash(c);
        self.after(q);
    }

    fn schedule_crash(&mut self, c: usize) {
        let g = self.side.consumers[c].group as usize;
        let group = &mut self.side.groups[g];
        if let Some(crash) = group.crash {
            let up = crash.every.sample(&mut group.crash_rng);
            self.side.calendar.schedule(self.now + up, Event::Crash(c as u32));
        }
    }

    /// Runs to the horizon; `None` if `cancel` was set (polled about every
    /// [`CANCEL_POLL`] events): a truncated replication is discarded, not reported.
    fn run(mut self, series_step: Option<f64>, cancel: &Cancel) -> Option<ReplicationResult> {
        let horizon = self.model.simulation.horizon;
        self.publish_backlogs();
        self.draining = self.side.queues.iter().filter(|q| q.draining).count();
        if self.draining > 0 {
            self.check_drains();
        }
        for (p, producer) in self.producers.iter_mut().enumerate() {
            producer.state = producer.arrival.start(&mut producer.rng);
            if let Some(t) = producer.arrival.next(&mut producer.state, &mut producer.rng) {
                self.side.calendar.schedule(t, Event::Arrival(p as u32));
            }
        }
        if K::L {
            for c in 0..self.side.consumers.len() {
                self.schedule_crash(c);
            }
        }
        let nq = self.cores.len();
        let mut recorder = series_step.filter(|s| *s > 0.0).map(|step| Recorder::new(step, nq));
        // The stop flag is looked at when the clock passes `look_at`, a point ≤ the horizon
        // moved forward by a step adapted to about CANCEL_POLL events: the loop's one
        // comparison (`t > look_at`) stands for the horizon's, so polling costs no
        // instruction per event.
        let mut step = horizon * 2f64.powi(-20);
        let mut look_at = horizon.min(step);
        let mut looked = 0u64;
        // A model whose consumers' state outgrows the processor's caches waits on memory
        // at each event; a small one would only pay for the hints.
        let spread = self.side.consumers.len() >= PREFETCH_FROM;
        while let Some((t, ev)) = self.side.calendar.pop() {
            if t > look_at {
                if t > horizon {
                    break;
                }
                if cancel.requested() {
                    return None;
                }
                let n = self.events - looked;
                looked = self.events;
                if n < CANCEL_POLL / 2 {
                    step *= 2.0;
                } else if n > CANCEL_POLL * 2 {
                    step *= 0.5;
                }
                look_at = horizon.min(t + step);
            }
            if let Some(r) = recorder.as_mut() {
                r.advance(&self, t);
            }
            if K::X && self.draining > 0 {
                self.check_drains();
            }
            self.now = t;
            self.events += 1;
            if spread {
                self.prefetch_upcoming();
            }
            // The two events of every scenario first; the lifecycle's only exist with `L`.
            match ev {
                Event::ServiceEnd(c) => self.service_end(c as usize),
                // Without the lifecycle nothing else is ever scheduled: every other event
                // is an arrival, and the test above is the only one an event pays.
                other if !K::L => {
                    debug_assert!(matches!(other, Event::Arrival(_)));
                    self.arrival(other.index() as usize);
                }
                Event::Arrival(p) => self.arrival(p as usize),
                other => self.lifecycle_event(other),
            }
        }
        if self.draining > 0 {
            self.check_drains();
        }
        self.now = horizon;
        if let Some(r) = recorder.as_mut() {
            r.advance(&self, horizon);
        }
        let series = recorder.map(|r| r.series);
        let timeline = self.side.timeline.take().map(|mut t| {
            t.finish(horizon);
            *t
        });
        let v2 = self.lifecycle_counts;
        let queues = self
            .cores
            .iter()
            .zip(self.side.queues)
            .map(|(core, mut st)| {
                debug_assert!(core.balanced());
                let c = core.counters();
                let counts = Counts {
                    offered: c.offered,
                    delivered: c.delivered,
                    acked: c.acked,
                    dropped: c.dropped,
                    expired: v2.then_some(c.expired),
                    rejected: v2.then_some(c.rejected),
                    dead_lettered: v2.then_some(st.dead_lettered),
                    redelivered: v2.then_some(c.redelivered),
                    dead_letter_unroutable: v2.then_some(st.dead_letter_unroutable),
                    dead_letter_cycles: v2.then_some(st.dead_letter_cycles),
                    in_flight_at_end: core.in_flight(),
                    completed: st.completed,
                };
                // Close the time averages at the horizon.
                let (r, b) = (st.ready_avg.value(), st.busy_avg.value());
                st.ready_avg.set(horizon, r);
                st.busy_avg.set(horizon, b);
                let by_priority = st
                    .by_priority
                    .into_iter()
                    .map(|p| {
                        p.map(|p| PriorityStats {
                            offered_post: p.offered_post,
                            wait: p.wait.finish(),
                            sojourn: p.sojourn.finish(),
                        })
                    })
                    .collect();
                QueueStats {
                    wait: st.wait.finish(),
                    sojourn: st.sojourn.finish(),
                    ready: st.ready_avg,
                    busy: st.busy_avg,
                    offered_post: st.offered_post,
                    dropped_post: st.dropped_post,
                    completed_post: st.completed_post,
                    expired_post: st.expired_post,
                    drain_time: st.drain_time,
                    by_priority,
                    counts,
                }
            })
            .collect();
        let producers = self
            .producers
            .into_iter()
            .map(|p| ProducerStats {
                published: p.published,
                unroutable: p.unroutable,
                end_to_end: p.end_to_end.finish(),
            })
            .collect();
        let groups = self
            .side
            .groups
            .into_iter()
            .map(|g| GroupStats { served: g.served, unroutable_onward: g.unroutable_onward })
            .collect();
        Some(ReplicationResult {
            queues,
            producers,
            groups,
            topics: Vec::new(),
            events: self.events,
            series,
            timeline,
        })
    }
}

/// Runs replication number `replication` of `model` (seeded from the model's seed), and
/// records a state snapshot every `series_step` seconds when given.
pub fn simulate(model: &Model, replication: u32, series_step: Option<f64>) -> ReplicationResult {
    simulate_until(model, replication, series_step, &Cancel::new())
        .expect("nobody else holds the flag")
}

/// [`simulate`], stopping early when `cancel` is set: `None` then (the replication is
/// discarded: a truncated one would bias the statistics).
pub fn simulate_until(
    model: &Model,
    replication: u32,
    series_step: Option<f64>,
    cancel: &Cancel,
) -> Option<ReplicationResult> {
    simulate_parts(model, &Parts::of(model), replication, series_step, cancel)
}

/// [`simulate_until`] with `model`'s [`Parts`] worked out beforehand (once per run): part
/// by part when it has several, with the same result as whole.
pub fn simulate_parts(
    model: &Model,
    parts: &Parts,
    replication: u32,
    series_step: Option<f64>,
    cancel: &Cancel,
) -> Option<ReplicationResult> {
    // `network_delay` rides on the full mode's paths (its events and the global consumer ids).
    let full = model.uses_message_lifecycle()
        || model.groups.iter().any(|g| g.network_delay > 0.0)
        || model.producers.iter().any(|p| p.publish_delay > 0.0);
    let mut result = if full {
        by_parts::<Full>(model, parts, replication, series_step, cancel)
    } else if model.uses_varied_load() {
        by_parts::<Varied>(model, parts, replication, series_step, cancel)
    } else {
        by_parts::<Plain>(model, parts, replication, series_step, cancel)
    }?;
    result.topics = super::topic::simulate(model, replication, cancel)?;
    Some(result)
}

/// Runs `model` in mode `K` (the whole model's, whatever a part alone would choose), part
/// by part when `parts` has any, and puts the parts' results back in model order.
fn by_parts<K: Mode>(
    model: &Model,
    parts: &Parts,
    replication: u32,
    series_step: Option<f64>,
    cancel: &Cancel,
) -> Option<ReplicationResult> {
    if parts.is_empty() {
        return Engine::<K>::new(model, replication, None).run(series_step, cancel);
    }
    let mut queues: Vec<Option<QueueStats>> = vec![None; model.queues.len()];
    let mut producers = vec![ProducerStats::default(); model.producers.len()];
    let mut groups = vec![GroupStats::default(); model.groups.len()];
    let mut events = 0;
    let mut series: Option<Series> = None;
    let sim = &model.simulation;
    let mut timeline =
        sim.window.map(|w| super::timeline::Recorder::new(w, sim.windows(), model.queues.len()));
    for part in &parts.parts {
        let r = Engine::<K>::new(&part.model, replication, Some(part)).run(series_step, cancel)?;
        events += r.events;
        for (&q, s) in part.queues.iter().zip(r.queues) {
            queues[q] = Some(s);
        }
        for (&p, s) in part.producers.iter().zip(r.producers) {
            producers[p] = s;
        }
        for (&g, s) in part.groups.iter().zip(r.groups) {
            groups[g] = s;
        }
        if let Some(s) = r.series {
            // Every part samples the same grid, so its times are the whole model's.
            let all =
                series.get_or_insert_with(|| Series::empty(s.step, s.times.clone(), queues.len()));
            all.place(&part.queues, s);
        }
        if let (Some(all), Some(t)) = (timeline.as_mut(), r.timeline) {
            all.place(&part.queues, t);
        }
    }
    Some(ReplicationResult {
        queues: queues.into_iter().map(|q| q.expect("every queue is in a part")).collect(),
        producers,
        groups,
        topics: Vec::new(),
        events,
        series,
        timeline,
    })
}

/// About how many events pass between two looks at the stop flag: a replication notices a
/// stop within a millisecond or so.
pub const CANCEL_POLL: u64 = 4096;

#[cfg(test)]
impl<K: Mode> Engine<'_, K> {
    /// A consumer goes away mid-run, as a crash does (without a restart).
    fn lose_consumer(&mut self, c: usize) {
        self.crash(c);
    }
}

#[cfg(test)]
#[path = "differential_tests.rs"]
mod differential_tests;
