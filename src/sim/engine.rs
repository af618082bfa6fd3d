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
use crate::dist::Dist;
use crate::results::Counts;
use crate::scenario::{Ack, Model, Overflow};
use crate::stats::{LatencyHistogram, LatencyRecorder, TimeAverage};
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
            for (st, s) in e.queues.iter().zip(&mut self.sums) {
                s[0] += st.ready.len() as f64;
                s[1] += f64::from(st.unacked);
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

/// Per-queue state and figures, kept together: the hot path touches one of these per step.
struct QueueState {
    /// Ready messages, oldest first.
    ready: VecDeque<Msg>,
    /// The queue's consumers (global indices) that have prefetch room, in ring order.
    ring: VecDeque<u32>,
    /// Messages delivered to manual-ack consumers and not acknowledged yet.
    unacked: u32,
    /// Consumers in service.
    busy: u32,
    max_length: Option<u64>,
    overflow: Overflow,
    wait: LatencyRecorder,
    sojourn: LatencyRecorder,
    ready_avg: TimeAverage,
    busy_avg: TimeAverage,
    offered_post: u64,
    dropped_post: u64,
    completed_post: u64,
    counts: Counts,
}

impl QueueState {
    fn finish(self) -> QueueStats {
        QueueStats {
            wait: self.wait.finish(),
            sojourn: self.sojourn.finish(),
            ready: self.ready_avg,
            busy: self.busy_avg,
            offered_post: self.offered_post,
            dropped_post: self.dropped_post,
            completed_post: self.completed_post,
            counts: self.counts,
        }
    }
}

/// A producer: its renewal process, routes and figures.
struct ProducerState<'m> {
    arrival: &'m Dist,
    routes: &'m [usize],
    rng: Xoshiro256PlusPlus,
    published: u64,
    unroutable: u64,
    end_to_end: LatencyRecorder,
}

/// A consumer group: its service time, onward publish and figures.
struct GroupState<'m> {
    service: &'m Dist,
    /// The queues an onward publish (`then`) routes to; `None` without `then`.
    then: Option<&'m [usize]>,
    rng: Xoshiro256PlusPlus,
    served: u64,
    unroutable_onward: u64,
}

struct Engine<'m> {
    model: &'m Model,
    warmup: f64,
    now: f64,
    calendar: Calendar<Event>,
    consumers: Vec<Consumer>,
    queues: Vec<QueueState>,
    producers: Vec<ProducerState<'m>>,
    groups: Vec<GroupState<'m>>,
    events: u64,
}

impl<'m> Engine<'m> {
    fn new(model: &'m Model, replication: u32) -> Self {
        let sim = &model.simulation;
        let seed = |kind, i| {
            Xoshiro256PlusPlus::seed_from_u64(stream_seed(sim.seed, replication, kind, i))
        };
        let warmup = sim.warmup;
        let mut queues: Vec<QueueState> = model
            .queues
            .iter()
            .map(|queue| QueueState {
                ready: VecDeque::new(),
                ring: VecDeque::new(),
                unacked: 0,
                busy: 0,
                max_length: queue.max_length,
                overflow: queue.overflow,
                wait: LatencyRecorder::new(),
                sojourn: LatencyRecorder::new(),
                ready_avg: TimeAverage::new(warmup),
                busy_avg: TimeAverage::new(warmup),
                offered_post: 0,
                dropped_post: 0,
                completed_post: 0,
                counts: Counts::default(),
            })
            .collect();
        let mut consumers = Vec::new();
        for (gi, g) in model.groups.iter().enumerate() {
            let limit = if g.ack == Ack::Auto || g.prefetch == 0 { u32::MAX } else { g.prefetch };
            for _ in 0..g.count {
                queues[g.queue].ring.push_back(consumers.len() as u32);
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
        let producers = model
            .producers
            .iter()
            .enumerate()
            .map(|(i, p)| ProducerState {
                arrival: &p.arrival,
                routes: &p.routes,
                rng: seed(0, i),
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
                rng: seed(1, i),
                served: 0,
                unroutable_onward: 0,
            })
            .collect();
        Engine {
            model,
            warmup,
            now: 0.0,
            calendar: Calendar::with_capacity(consumers.len() + model.producers.len() + 16),
            consumers,
            queues,
            producers,
            groups,
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
        if st.ready.is_empty() && !st.ring.is_empty() {
            self.deliver_next(q, msg);
            return;
        }
        let full = st.max_length.is_some_and(|m| st.ready.len() as u64 >= m);
        if full {
            st.counts.dropped += 1;
            st.dropped_post += u64::from(post);
            if st.overflow == Overflow::RejectPublish {
                return;
            }
            // drop-head: the oldest ready message makes room (with max_length 0, the new one
            // is itself the oldest).
            if st.ready.pop_front().is_none() {
                return;
            }
        }
        st.ready.push_back(msg);
        let len = st.ready.len() as f64;
        st.ready_avg.set(self.now, len);
    }

    /// Hands `msg` to the consumer at the front of queue `q`'s ring.
    fn deliver_next(&mut self, q: usize, msg: Msg) {
        let st = &mut self.queues[q];
        let c = st.ring.pop_front().expect("caller checked the ring") as usize;
        let cons = &mut self.consumers[c];
        cons.buffer.push_back(msg);
        st.counts.delivered += 1;
        if cons.manual {
            st.unacked += 1;
        } else {
            st.counts.acked += 1;
        }
        if cons.has_room() {
            st.ring.push_back(c as u32);
        } else {
            cons.in_ring = false;
        }
        if !cons.busy {
            self.start_service(c);
        }
    }

    /// Moves ready messages to consumers with room, in ring order.
    fn dispatch(&mut self, q: usize) {
        let mut moved = false;
        while !self.queues[q].ring.is_empty() {
            let Some(msg) = self.queues[q].ready.pop_front() else { break };
            self.deliver_next(q, msg);
            moved = true;
        }
        if moved {
            let st = &mut self.queues[q];
            let len = st.ready.len() as f64;
            st.ready_avg.set(self.now, len);
        }
    }

    fn start_service(&mut self, c: usize) {
        let now = self.now;
        let cons = &mut self.consumers[c];
        let msg = *cons.buffer.front().expect("a consumer starts service only with a message");
        cons.busy = true;
        let (q, g) = (cons.queue as usize, cons.group as usize);
        let st = &mut self.queues[q];
        if msg.enq_t >= self.warmup {
            st.wait.record(now - msg.enq_t);
        }
        st.busy += 1;
        st.busy_avg.set(now, f64::from(st.busy));
        let group = &mut self.groups[g];
        let s = group.service.sample(&mut group.rng);
        self.calendar.schedule(now + s, Event::ServiceEnd(c as u32));
    }

    fn service_end(&mut self, c: usize) {
        let post = self.post_warmup();
        let now = self.now;
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
            st.unacked -= 1;
        }
        if msg.enq_t >= self.warmup {
            st.sojourn.record(now - msg.enq_t);
        }
        st.busy -= 1;
        st.busy_avg.set(now, f64::from(st.busy));
        let group = &mut self.groups[g];
        group.served += 1;

        match group.then {
            Some(routes) if !routes.is_empty() => {
                for &nq in routes {
                    self.arrive(nq, Msg { enq_t: now, ..msg });
                }
            }
            then => {
                // The message's path ends here: no onward stage, or an onward publish that
                // matched no queue (counted, and the message's journey is over).
                if then.is_some() {
                    group.unroutable_onward += 1;
                }
                if msg.origin_t >= self.warmup {
                    self.producers[msg.producer as usize].end_to_end.record(now - msg.origin_t);
                }
            }
        }

        if next {
            self.start_service(c);
        }
        if regained_room {
            self.consumers[c].in_ring = true;
            self.queues[q].ring.push_back(c as u32);
            self.dispatch(q);
        }
    }

    fn arrival(&mut self, p: usize) {
        let now = self.now;
        let producer = &mut self.producers[p];
        producer.published += 1;
        let routes = producer.routes;
        if routes.is_empty() {
            producer.unroutable += 1;
        }
        let msg = Msg { origin_t: now, enq_t: now, producer: p as u32 };
        for &q in routes {
            self.arrive(q, msg);
        }
        let producer = &mut self.producers[p];
        let gap = producer.arrival.sample(&mut producer.rng);
        self.calendar.schedule(now + gap, Event::Arrival(p as u32));
    }

    fn run(mut self, series_step: Option<f64>) -> ReplicationResult {
        let horizon = self.model.simulation.horizon;
        for (p, producer) in self.producers.iter_mut().enumerate() {
            let gap = producer.arrival.sample(&mut producer.rng);
            self.calendar.schedule(gap, Event::Arrival(p as u32));
        }
        let nq = self.queues.len();
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
        let queues = self
            .queues
            .into_iter()
            .map(|mut st| {
                st.counts.in_flight_at_end = st.ready.len() as u64 + u64::from(st.unacked);
                // Close the time averages at the horizon.
                let (r, b) = (st.ready_avg.value(), st.busy_avg.value());
                st.ready_avg.set(horizon, r);
                st.busy_avg.set(horizon, b);
                st.finish()
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
            .groups
            .into_iter()
            .map(|g| GroupStats { served: g.served, unroutable_onward: g.unroutable_onward })
            .collect();
        ReplicationResult { queues, producers, groups, events: self.events, series }
    }
}

/// Runs replication number `replication` of `model` (seeded from the model's seed), and
/// records a state snapshot every `series_step` seconds when given.
pub fn simulate(model: &Model, replication: u32, series_step: Option<f64>) -> ReplicationResult {
    Engine::new(model, replication).run(series_step)
}
