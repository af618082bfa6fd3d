//! One replication of the messaging state machine: producers publish renewal arrivals,
//! the pre-resolved routes copy each message into its queues, queues dispatch ready
//! messages round-robin to consumers with prefetch room, consumers serve their delivered
//! messages one at a time in order, acknowledge, and optionally publish onward.
//!
//! RabbitMQ semantics kept on purpose:
//! - a queue keeps the consumers that have prefetch room in a FIFO ring; a delivery goes
//!   to the front one, which rejoins the back while it still has room (round-robin among
//!   consumers with room; with prefetch 1 the longest-idle consumer is served first);
//! - a message that arrives when a consumer has room is delivered at once and never
//!   counts as ready; `max_length` counts ready messages only;
//! - with prefetch > 1 (or 0 = unlimited) messages are pushed into a busy consumer's
//!   buffer and wait there even while another consumer is idle: the cost of prefetch;
//! - `ack = "auto"` acknowledges on delivery and prefetch no longer limits the consumer.
//!
//! Memory is bounded by the number of messages in the system, never by the horizon.

use super::calendar::Calendar;
use crate::report::Counts;
use crate::scenario::{Ack, Model, Overflow};
use crate::stats::{LatencyHistogram, TimeAverage};
use rand::SeedableRng;
use rand::rngs::Xoshiro256PlusPlus;
use std::collections::VecDeque;

/// A message copy inside one queue.
#[derive(Debug, Clone, Copy)]
struct Msg {
    /// Time of the first publish (end-to-end latency starts here).
    origin_t: f64,
    /// Time the copy entered its current queue.
    enq_t: f64,
    /// Producer of the first publish.
    producer: u32,
}

#[derive(Debug, Clone, Copy)]
enum Event {
    Arrival(u32),
    ServiceEnd(u32),
}

struct Consumer {
    queue: u32,
    group: u32,
    /// Most unacknowledged messages; `u32::MAX` when unlimited (prefetch 0 or auto ack).
    limit: u32,
    manual: bool,
    /// Delivered, not yet served; the front one is in service when `busy`.
    buffer: VecDeque<Msg>,
    busy: bool,
    in_ring: bool,
}

impl Consumer {
    fn has_room(&self) -> bool {
        self.limit == u32::MAX || (self.buffer.len() as u32) < self.limit
    }
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
    /// Totals, warm-up included.
    pub counts: Counts,
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
    /// Per queue: mean unacknowledged messages held by consumers in each window.
    pub unacked: Vec<Vec<f64>>,
    /// Per queue: mean busy consumers in each window.
    pub busy: Vec<Vec<f64>>,
    /// Per queue: services ended so far (cumulative) at the end of each window.
    pub completed: Vec<Vec<u64>>,
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
            series: Series {
                step,
                ready: vec![Vec::new(); queues],
                unacked: vec![Vec::new(); queues],
                busy: vec![Vec::new(); queues],
                completed: vec![Vec::new(); queues],
                ..Series::default()
            },
            next: 0.0,
            n: 0,
            sums: vec![[0.0; 3]; queues],
        }
    }

    /// Takes every sample due before `t` (the state is constant between events).
    fn advance(&mut self, e: &Engine, t: f64) {
        let sub = self.series.step / f64::from(SUBSAMPLES);
        while self.next < t {
            for (q, s) in self.sums.iter_mut().enumerate() {
                s[0] += e.ready[q].len() as f64;
                s[1] += f64::from(e.unacked[q]);
                s[2] += f64::from(e.busy[q]);
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
                    self.series.completed[q].push(e.queues[q].counts.completed);
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
    /// Events processed.
    pub events: u64,
    /// State snapshots, when asked for.
    pub series: Option<Series>,
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

struct Engine<'m> {
    model: &'m Model,
    warmup: f64,
    now: f64,
    calendar: Calendar<Event>,
    producer_rng: Vec<Xoshiro256PlusPlus>,
    group_rng: Vec<Xoshiro256PlusPlus>,
    consumers: Vec<Consumer>,
    /// Per queue: its consumers (global indices) that have prefetch room, in ring order.
    rings: Vec<VecDeque<u32>>,
    ready: Vec<VecDeque<Msg>>,
    unacked: Vec<u32>,
    busy: Vec<u32>,
    queues: Vec<QueueStats>,
    producers: Vec<ProducerStats>,
    groups: Vec<GroupStats>,
    events: u64,
}

impl<'m> Engine<'m> {
    fn new(model: &'m Model, replication: u32) -> Self {
        let sim = &model.simulation;
        let seed = |kind, i| {
            Xoshiro256PlusPlus::seed_from_u64(stream_seed(sim.seed, replication, kind, i))
        };
        let mut consumers = Vec::new();
        let mut rings = vec![VecDeque::new(); model.queues.len()];
        for (gi, g) in model.groups.iter().enumerate() {
            let limit = if g.ack == Ack::Auto || g.prefetch == 0 { u32::MAX } else { g.prefetch };
            for _ in 0..g.count {
                rings[g.queue].push_back(consumers.len() as u32);
                consumers.push(Consumer {
                    queue: g.queue as u32,
                    group: gi as u32,
                    limit,
                    manual: g.ack == Ack::Manual,
                    buffer: VecDeque::new(),
                    busy: false,
                    in_ring: true,
                });
            }
        }
        let nq = model.queues.len();
        let warmup = sim.warmup;
        Engine {
            model,
            warmup,
            now: 0.0,
            calendar: Calendar::with_capacity(consumers.len() + model.producers.len() + 16),
            producer_rng: (0..model.producers.len()).map(|i| seed(0, i)).collect(),
            group_rng: (0..model.groups.len()).map(|i| seed(1, i)).collect(),
            consumers,
            rings,
            ready: vec![VecDeque::new(); nq],
            unacked: vec![0; nq],
            busy: vec![0; nq],
            queues: (0..nq)
                .map(|_| QueueStats {
                    wait: LatencyHistogram::new(),
                    sojourn: LatencyHistogram::new(),
                    ready: TimeAverage::new(warmup),
                    busy: TimeAverage::new(warmup),
                    offered_post: 0,
                    dropped_post: 0,
                    completed_post: 0,
                    counts: Counts::default(),
                })
                .collect(),
            producers: vec![ProducerStats::default(); model.producers.len()],
            groups: vec![GroupStats::default(); model.groups.len()],
            events: 0,
        }
    }

    fn post_warmup(&self) -> bool {
        self.now >= self.warmup
    }

    /// A message copy arrives at queue `q`.
    fn arrive(&mut self, q: usize, msg: Msg) {
        let post = self.post_warmup();
        let st = &mut self.queues[q];
        st.counts.offered += 1;
        st.offered_post += u64::from(post);
        if self.ready[q].is_empty() && !self.rings[q].is_empty() {
            self.deliver_next(q, msg);
            return;
        }
        let queue = &self.model.queues[q];
        let full = queue.max_length.is_some_and(|m| self.ready[q].len() as u64 >= m);
        let st = &mut self.queues[q];
        if full {
            st.counts.dropped += 1;
            st.dropped_post += u64::from(post);
            if queue.overflow == Overflow::RejectPublish {
                return;
            }
            // drop-head: the oldest ready message makes room (with max_length 0, the new one
            // is itself the oldest).
            if self.ready[q].pop_front().is_none() {
                return;
            }
        }
        self.ready[q].push_back(msg);
        let len = self.ready[q].len() as f64;
        self.queues[q].ready.set(self.now, len);
    }

    /// Hands `msg` to the consumer at the front of queue `q`'s ring.
    fn deliver_next(&mut self, q: usize, msg: Msg) {
        let c = self.rings[q].pop_front().expect("caller checked the ring") as usize;
        let cons = &mut self.consumers[c];
        cons.buffer.push_back(msg);
        let st = &mut self.queues[q].counts;
        st.delivered += 1;
        if cons.manual {
            self.unacked[q] += 1;
        } else {
            st.acked += 1;
        }
        if cons.has_room() {
            self.rings[q].push_back(c as u32);
        } else {
            cons.in_ring = false;
        }
        if !self.consumers[c].busy {
            self.start_service(c);
        }
    }

    /// Moves ready messages to consumers with room, in ring order.
    fn dispatch(&mut self, q: usize) {
        let mut moved = false;
        while !self.rings[q].is_empty() {
            let Some(msg) = self.ready[q].pop_front() else { break };
            self.deliver_next(q, msg);
            moved = true;
        }
        if moved {
            let len = self.ready[q].len() as f64;
            self.queues[q].ready.set(self.now, len);
        }
    }

    fn start_service(&mut self, c: usize) {
        let cons = &mut self.consumers[c];
        let msg = *cons.buffer.front().expect("a consumer starts service only with a message");
        cons.busy = true;
        let (q, g) = (cons.queue as usize, cons.group as usize);
        if msg.enq_t >= self.warmup {
            self.queues[q].wait.record(self.now - msg.enq_t);
        }
        self.busy[q] += 1;
        let busy = f64::from(self.busy[q]);
        self.queues[q].busy.set(self.now, busy);
        let s = self.model.groups[g].service.sample(&mut self.group_rng[g]);
        self.calendar.schedule(self.now + s, Event::ServiceEnd(c as u32));
    }

    fn service_end(&mut self, c: usize) {
        let post = self.post_warmup();
        let cons = &mut self.consumers[c];
        let msg = cons.buffer.pop_front().expect("a busy consumer holds its message");
        cons.busy = false;
        let (q, g) = (cons.queue as usize, cons.group as usize);
        let regained_room = !cons.in_ring && cons.has_room();
        let manual = cons.manual;
        let next = !cons.buffer.is_empty();
        let st = &mut self.queues[q];
        st.counts.completed += 1;
        st.completed_post += u64::from(post);
        if manual {
            st.counts.acked += 1;
            self.unacked[q] -= 1;
        }
        if msg.enq_t >= self.warmup {
            st.sojourn.record(self.now - msg.enq_t);
        }
        self.busy[q] -= 1;
        let busy = f64::from(self.busy[q]);
        st.busy.set(self.now, busy);
        self.groups[g].served += 1;

        let then = self.model.groups[g].then.as_ref();
        match then.map(|t| t.routes.as_slice()) {
            Some(routes) if !routes.is_empty() => {
                for &nq in routes {
                    self.arrive(nq, Msg { enq_t: self.now, ..msg });
                }
            }
            _ => {
                // The message's path ends here: no onward stage, or an onward publish that
                // matched no queue (counted, and the message's journey is over).
                if then.is_some() {
                    self.groups[g].unroutable_onward += 1;
                }
                if msg.origin_t >= self.warmup {
                    self.producers[msg.producer as usize]
                        .end_to_end
                        .record(self.now - msg.origin_t);
                }
            }
        }

        if next {
            self.start_service(c);
        }
        if regained_room {
            self.consumers[c].in_ring = true;
            self.rings[q].push_back(c as u32);
            self.dispatch(q);
        }
    }

    fn arrival(&mut self, p: usize) {
        let producer = &self.model.producers[p];
        let stats = &mut self.producers[p];
        stats.published += 1;
        if producer.routes.is_empty() {
            stats.unroutable += 1;
        }
        let msg = Msg { origin_t: self.now, enq_t: self.now, producer: p as u32 };
        for i in 0..producer.routes.len() {
            self.arrive(self.model.producers[p].routes[i], msg);
        }
        let gap = self.model.producers[p].arrival.sample(&mut self.producer_rng[p]);
        self.calendar.schedule(self.now + gap, Event::Arrival(p as u32));
    }

    fn run(mut self, series_step: Option<f64>) -> ReplicationResult {
        let horizon = self.model.simulation.horizon;
        for p in 0..self.model.producers.len() {
            let gap = self.model.producers[p].arrival.sample(&mut self.producer_rng[p]);
            self.calendar.schedule(gap, Event::Arrival(p as u32));
        }
        let nq = self.model.queues.len();
        let mut recorder = series_step.filter(|s| *s > 0.0).map(|step| Recorder::new(step, nq));
        while let Some((t, ev)) = self.calendar.pop() {
            if t > horizon {
                break;
            }
            if let Some(r) = recorder.as_mut() {
                r.advance(&self, t);
            }
            self.now = t;
            self.events += 1;
            match ev {
                Event::Arrival(p) => self.arrival(p as usize),
                Event::ServiceEnd(c) => self.service_end(c as usize),
            }
        }
        self.now = horizon;
        if let Some(r) = recorder.as_mut() {
            r.advance(&self, horizon);
        }
        let series = recorder.map(|r| r.series);
        for q in 0..nq {
            let st = &mut self.queues[q];
            st.counts.in_flight_at_end = self.ready[q].len() as u64 + u64::from(self.unacked[q]);
            // Close the time averages at the horizon.
            let (r, b) = (st.ready.value(), st.busy.value());
            st.ready.set(horizon, r);
            st.busy.set(horizon, b);
        }
        ReplicationResult {
            queues: self.queues,
            producers: self.producers,
            groups: self.groups,
            events: self.events,
            series,
        }
    }
}

/// Runs replication number `replication` of `model` (seeded from the model's seed), and
/// records a state snapshot every `series_step` seconds when given.
pub fn simulate(model: &Model, replication: u32, series_step: Option<f64>) -> ReplicationResult {
    Engine::new(model, replication).run(series_step)
}
