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
//! Memory is bounded by the number of messages in the system, never by the horizon.

use super::calendar::Calendar;
use crate::dist::Dist;
use crate::mq::{self, ConsumerId, Held, NoObserver, Observer, QueueConfig};
use crate::results::Counts;
use crate::scenario::Model;
use crate::stats::{LatencyHistogram, LatencyRecorder, TimeAverage};
use rand::SeedableRng;
use rand::rngs::Xoshiro256PlusPlus;

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

/// A consumer as the simulator sees it: where it reads from, and whether it is serving.
struct Consumer {
    queue: u32,
    /// Its id in its queue's core.
    local: u32,
    group: u32,
    /// Serving its oldest held message.
    busy: bool,
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
    /// Per queue: mean messages delivered to consumers and not yet settled (in their buffers
    /// or in service; auto-ack ones included) in each window.
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

/// Per-queue figures, kept together: the hot path touches one of these per step.
struct QueueState {
    /// Global index of its first consumer: the others follow, by their id in the core.
    first: u32,
    /// Consumers in service.
    busy: u32,
    wait: LatencyRecorder,
    sojourn: LatencyRecorder,
    ready_avg: TimeAverage,
    busy_avg: TimeAverage,
    offered_post: u64,
    dropped_post: u64,
    completed_post: u64,
    /// Services ended.
    completed: u64,
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

/// Everything but the queues' cores, so that the core of one queue can be borrowed while
/// its observer (which starts services and records figures) borrows the rest.
struct Side<'m> {
    warmup: f64,
    calendar: Calendar<Event>,
    consumers: Vec<Consumer>,
    queues: Vec<QueueState>,
    groups: Vec<GroupState<'m>>,
}

impl Side<'_> {
    /// Consumer `c` starts serving a message that entered its queue at `enq_t`.
    #[inline]
    fn start_service(&mut self, now: f64, c: usize, enq_t: f64) {
        let cons = &mut self.consumers[c];
        cons.busy = true;
        let (q, g) = (cons.queue as usize, cons.group as usize);
        let st = &mut self.queues[q];
        if enq_t >= self.warmup {
            st.wait.record(now - enq_t);
        }
        st.busy += 1;
        st.busy_avg.set(now, f64::from(st.busy));
        let group = &mut self.groups[g];
        let s = group.service.sample(&mut group.rng);
        self.calendar.schedule(now + s, Event::ServiceEnd(c as u32));
    }
}

/// The simulator's view of one queue's core: statistics, and a delivery to an idle
/// consumer starts its service.
struct SimObserver<'a, 'm> {
    q: usize,
    side: &'a mut Side<'m>,
}

impl Observer<Msg> for SimObserver<'_, '_> {
    #[inline]
    fn ready_changed(&mut self, now: f64, ready: usize) {
        self.side.queues[self.q].ready_avg.set(now, ready as f64);
    }

    #[inline]
    fn delivered(&mut self, now: f64, consumer: ConsumerId, held: &Held<Msg>) {
        let c = self.side.queues[self.q].first as usize + consumer;
        if !self.side.consumers[c].busy {
            self.side.start_service(now, c, held.entry.msg.enq_t);
        }
    }

    #[inline]
    fn dropped(&mut self, now: f64, _entry: mq::Entry<Msg>) {
        self.side.queues[self.q].dropped_post += u64::from(now >= self.side.warmup);
    }
}

struct Engine<'m> {
    model: &'m Model,
    now: f64,
    cores: Vec<mq::Queue<Msg>>,
    side: Side<'m>,
    producers: Vec<ProducerState<'m>>,
    events: u64,
}

impl<'m> Engine<'m> {
    fn new(model: &'m Model, replication: u32) -> Self {
        let sim = &model.simulation;
        let seed = |kind, i| {
            Xoshiro256PlusPlus::seed_from_u64(stream_seed(sim.seed, replication, kind, i))
        };
        let warmup = sim.warmup;
        let mut cores: Vec<mq::Queue<Msg>> = model
            .queues
            .iter()
            .map(|q| mq::Queue::new(QueueConfig { max_length: q.max_length, overflow: q.overflow }))
            .collect();
        let mut queues: Vec<QueueState> = model
            .queues
            .iter()
            .map(|_| QueueState {
                first: 0,
                busy: 0,
                wait: LatencyRecorder::new(),
                sojourn: LatencyRecorder::new(),
                ready_avg: TimeAverage::new(warmup),
                busy_avg: TimeAverage::new(warmup),
                offered_post: 0,
                dropped_post: 0,
                completed_post: 0,
                completed: 0,
            })
            .collect();
        // Numbered queue by queue, so a queue's consumers are contiguous and the core's id of
        // one is its offset from the queue's first; within a queue, in group order, which is
        // the order they join its line.
        let mut consumers = Vec::new();
        for (q, (core, st)) in cores.iter_mut().zip(&mut queues).enumerate() {
            st.first = consumers.len() as u32;
            for &gi in &model.queues[q].groups {
                let g = &model.groups[gi];
                for _ in 0..g.count {
                    let local = core.add_consumer(0.0, g.prefetch, g.ack, &mut NoObserver);
                    debug_assert_eq!(st.first as usize + local, consumers.len());
                    consumers.push(Consumer {
                        queue: q as u32,
                        local: local as u32,
                        group: gi as u32,
                        busy: false,
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
        let calendar = Calendar::with_capacity(consumers.len() + model.producers.len() + 16);
        Engine {
            model,
            now: 0.0,
            cores,
            side: Side { warmup, calendar, consumers, queues, groups },
            producers,
            events: 0,
        }
    }

    /// A message copy arrives at queue `q`.
    #[inline(always)]
    fn arrive(&mut self, q: usize, msg: Msg) {
        let now = self.now;
        self.side.queues[q].offered_post += u64::from(now >= self.side.warmup);
        self.cores[q].publish(now, msg, &mut SimObserver { q, side: &mut self.side });
    }

    fn service_end(&mut self, c: usize) {
        let now = self.now;
        let warmup = self.side.warmup;
        let cons = &self.side.consumers[c];
        let (q, local, g) = (cons.queue as usize, cons.local as usize, cons.group as usize);
        // The consumer stays busy through its ack, so a message the ack brings it waits in its
        // buffer behind the ones it already holds; it starts serving below, in order.
        let msg = self.cores[q]
            .ack_oldest(now, local, &mut SimObserver { q, side: &mut self.side })
            .expect("a busy consumer holds its message")
            .msg;
        let st = &mut self.side.queues[q];
        st.completed += 1;
        st.completed_post += u64::from(now >= warmup);
        if msg.enq_t >= warmup {
            st.sojourn.record(now - msg.enq_t);
        }
        st.busy -= 1;
        st.busy_avg.set(now, f64::from(st.busy));
        let group = &mut self.side.groups[g];
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
                if msg.origin_t >= warmup {
                    self.producers[msg.producer as usize].end_to_end.record(now - msg.origin_t);
                }
            }
        }

        match self.cores[q].front_held(local) {
            Some(h) => {
                let enq_t = h.entry.msg.enq_t;
                self.side.start_service(now, c, enq_t);
            }
            None => self.side.consumers[c].busy = false,
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
        self.side.calendar.schedule(now + gap, Event::Arrival(p as u32));
    }

    fn run(mut self, series_step: Option<f64>) -> ReplicationResult {
        let horizon = self.model.simulation.horizon;
        for (p, producer) in self.producers.iter_mut().enumerate() {
            let gap = producer.arrival.sample(&mut producer.rng);
            self.side.calendar.schedule(gap, Event::Arrival(p as u32));
        }
        let nq = self.cores.len();
        let mut recorder = series_step.filter(|s| *s > 0.0).map(|step| Recorder::new(step, nq));
        while let Some((t, ev)) = self.side.calendar.pop() {
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
                    in_flight_at_end: core.in_flight(),
                    completed: st.completed,
                };
                // Close the time averages at the horizon.
                let (r, b) = (st.ready_avg.value(), st.busy_avg.value());
                st.ready_avg.set(horizon, r);
                st.busy_avg.set(horizon, b);
                QueueStats {
                    wait: st.wait.finish(),
                    sojourn: st.sojourn.finish(),
                    ready: st.ready_avg,
                    busy: st.busy_avg,
                    offered_post: st.offered_post,
                    dropped_post: st.dropped_post,
                    completed_post: st.completed_post,
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
        ReplicationResult { queues, producers, groups, events: self.events, series }
    }
}

/// Runs replication number `replication` of `model` (seeded from the model's seed), and
/// records a state snapshot every `series_step` seconds when given.
pub fn simulate(model: &Model, replication: u32, series_step: Option<f64>) -> ReplicationResult {
    Engine::new(model, replication).run(series_step)
}

#[cfg(test)]
impl Engine<'_> {
    /// A consumer goes away mid-run (what a crash will do): the core requeues what it held.
    fn lose_consumer(&mut self, c: usize) {
        let now = self.now;
        let cons = &mut self.side.consumers[c];
        let (q, local) = (cons.queue as usize, cons.local as usize);
        if std::mem::take(&mut cons.busy) {
            let st = &mut self.side.queues[q];
            st.busy -= 1;
            st.busy_avg.set(now, f64::from(st.busy));
        }
        self.cores[q].remove_consumer(now, local, &mut SimObserver { q, side: &mut self.side });
    }
}

#[cfg(test)]
#[path = "differential_tests.rs"]
mod differential_tests;
