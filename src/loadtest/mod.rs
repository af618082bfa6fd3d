//! The real-clock load test: drives the in-process [`broker`](crate::broker) from a
//! scenario [`Model`] with real threads and measures it, in scenario time, into the same
//! [`RunReport`] as the simulator.
//!
//! This module owns pacing, service emulation and measurement; it never prints (progress
//! goes to the caller's callback).
//!
//! - **Open loop.** One publisher thread per producer draws every inter-arrival gap from
//!   the producer's distribution and publishes at the *scheduled* instant
//!   (`scenario time × time_scale` after the start). A publisher that falls behind publishes
//!   back to back to catch up; it never waits for the broker. Latency is measured from the
//!   scheduled instant, so a stalled broker cannot hide its own delay (no coordinated
//!   omission); how late publishes left is reported in [`Timing`].
//! - **Service emulation.** Each consumer group is `count` threads subscribed with the
//!   group's prefetch and ack mode. A consumer serves its deliveries one at a time: it
//!   takes the next service time from its group's shared stream, scales it, and waits
//!   precisely (sleep, then yield-spin the last stretch; see `pacer`). The ratio actual ÷
//!   intended − 1 is averaged into `timing.service_error_mean`. With `then`, the message is
//!   published onward when its service ends and acknowledged after that (at least once: a
//!   crash between the two would redeliver, never lose).
//! - **The message lifecycle.** Publishers publish with the producer's TTL (scaled to real
//!   seconds) and a priority drawn as the simulator draws it; queues are declared with their
//!   TTL (scaled), priorities, delivery limit and dead-letter exchange
//!   ([`queue_declarations`]), and the broker does the rest (expiry on time, dead-lettering
//!   with the cycle rule). A group with `failure` draws, after each full service, from its
//!   failure stream (shared by its threads, as the service stream is) whether the service
//!   failed, and nacks the message (requeue or reject) instead of acking it. A group with
//!   `crash` draws each thread's up time from its crash stream: when it has passed, the
//!   thread drops its subscription — the broker requeues everything it held, the message
//!   half served included, whose service is abandoned — sleeps the drawn restart time and
//!   subscribes again, drawing its next up time. Up and restart times are kept on the
//!   schedule they were drawn for (a late crash does not push the next one back).
//! - **Measurement.** Messages carry their first scheduled publish instant, the instant they
//!   entered their current queue (the scheduled instant for a producer's publish, the end of
//!   the previous service for an onward one; a dead letter entered when it was republished,
//!   which the broker tells with [`Delivery::last_death`]) and their producer. Messages
//!   whose final, successful service ends in the window `[warm-up, horizon]` (real) are
//!   recorded, as the simulator does: wait (entered → start of that service), sojourn
//!   (entered → its ack) and, after the last stage, end-to-end (first scheduled publish →
//!   end of service, across any dead-letter hops); for a priority queue, also per priority.
//!   Ready length is integrated exactly by the broker; consumer busy time (failed and cut
//!   services included) is clipped to the window.
//! - **Shutdown and counts.** Publishers stop at the horizon; then consumers stop (one in
//!   the middle of a service abandons it), the broker is closed (which stops its expiry
//!   thread), and the final counts are read while the consumers are still subscribed: what
//!   is ready, in a consumer's buffer or half served is `in_flight_at_end`, whatever the ack
//!   mode (as the simulator counts it), so `offered = acked + dropped + expired + rejected +
//!   in_flight_at_end` holds exactly for every queue.
//!
//! Seeds: the load test draws from the simulator's random streams of replication 0 (see
//! [`stream_rng`]): a publisher publishes at the instants replication 0 has its producer's
//! arrivals ([`ArrivalSchedule`]) with the priorities of its priority stream, and a consumer
//! group's threads share the group's service, failure and crash streams, one draw per
//! service start, per finished service and per crash or restart, so the k-th service
//! started in the group lasts the k-th service time of the simulated group and the k-th
//! service finished fails if the simulated group's k-th does. The random numbers — though
//! not the real-clock interleaving, which decides which message gets which service time
//! when a group has several consumers — are the same run after run, and the same as the
//! simulator's: `mqsim compare` pairs two runs of one sample path, so their difference is
//! the broker's own effect, not sampling noise.

pub mod clock;
pub(crate) mod pacer;
#[cfg(test)]
mod tests;
mod topic;

use crate::arrival::{Arrival, ArrivalState};
use crate::broker::{
    Broker, BrokerError, Consumer, ConsumerOptions, DeadLetterOptions, Delivery, Props,
    QueueDeclaration, QueueOptions, QueueStats, RecvError,
};
use crate::cancel::Cancel;
use crate::dist::Dist;
use crate::results::{
    Counts, EndToEnd, Latency, PercentileCurve, PriorityReport, ProducerReport, QueueCurves,
    QueueLength, QueueReport, REAL_BATCHES, RealOutcome, RunReport, Timing,
};
use crate::routing::ExchangeId;
use crate::scenario::{Crash, Failure, KeyId, Loadtest, Model, Priority};
use crate::stats::{LatencyHistogram, MeanCi, SparseLatency};
use pacer::Pacer;
use rand::SeedableRng;
use rand::rngs::Xoshiro256PlusPlus;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, OnceLock, PoisonError};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

/// A publish that leaves more than this (real time) after its scheduled instant counts in
/// `timing.late_publishes`. One millisecond is well above the sleep overshoot of an idle
/// machine (~0.1 ms), so a late publish means the publisher or the machine fell behind.
pub const LATE_TOLERANCE: Duration = Duration::from_millis(1);

/// Time between the last thread's start and the scenario's time zero, so every thread is
/// waiting for time zero, not still starting, when it comes.
const START_DELAY: Duration = Duration::from_millis(20);

/// How long a consumer blocks in `recv` before looking at the stop flag again.
const RECV_POLL: Duration = Duration::from_millis(50);

/// How often the caller's progress callback is called.
const PROGRESS_EVERY: Duration = Duration::from_millis(100);

/// Why a load test could not run.
#[derive(Debug, thiserror::Error)]
pub enum LoadtestError {
    /// The model's loadtest settings cannot be run (a `Model` built by hand).
    #[error("invalid loadtest settings: {0}")]
    Settings(String),
    /// The broker refused the scenario's topology.
    #[error("setting up the broker: {0}")]
    Broker(#[from] BrokerError),
    /// A thread could not be started (too many consumers for this machine?).
    #[error("could not start a {role} thread: {source}; try fewer consumers")]
    Spawn {
        /// `publisher` or `consumer`.
        role: &'static str,
        /// The operating system's error.
        #[source]
        source: std::io::Error,
    },
    /// A publisher or consumer thread panicked (a bug).
    #[error("a {0} thread panicked")]
    Panicked(&'static str),
    /// Stopped before the measurement window began (during the warm-up): nothing measured.
    #[error("stopped during the warm-up, before anything was measured")]
    Interrupted,
}

/// A random stream of the load test.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stream {
    /// The inter-arrival gaps of producer `i`.
    Producer(usize),
    /// The service times of consumer group `i`, shared by all its consumers.
    Group(usize),
    /// The weighted priorities of producer `i`.
    Priority(usize),
    /// The failure draws of consumer group `i`.
    Failure(usize),
    /// The up and restart times of consumer group `i`.
    Crash(usize),
    /// The batch sizes of producer `i`.
    Batch(usize),
    /// The weighted routing keys of producer `i`.
    Keys(usize),
}

/// The generator of one stream: the simulator's stream of the same source in replication 0
/// (`sim::stream_seed(seed, 0, kind, index)`, kinds from [`crate::sim::stream`]), so the load
/// test and that replication draw the same numbers. A test checks this against the engine
/// itself.
pub fn stream_rng(seed: u64, stream: Stream) -> Xoshiro256PlusPlus {
    use crate::sim::stream as kind;
    let (kind, index) = match stream {
        Stream::Producer(i) => (kind::ARRIVALS, i),
        Stream::Group(i) => (kind::SERVICE, i),
        Stream::Priority(i) => (kind::PRIORITY, i),
        Stream::Failure(i) => (kind::FAILURE, i),
        Stream::Crash(i) => (kind::CRASH, i),
        Stream::Batch(i) => (kind::BATCH, i),
        Stream::Keys(i) => (kind::KEYS, i),
    };
    Xoshiro256PlusPlus::seed_from_u64(crate::sim::stream_seed(seed, 0, kind, index))
}

/// The scenario instants (seconds from time zero) at which a producer publishes: its
/// arrival process ([`crate::arrival::Arrival`], the simulator's own) driven by its
/// [`Stream::Producer`] stream, exactly as the simulator's engine schedules each next
/// arrival. So the load test publishes at replication 0's arrival instants (scaled to real
/// time). Ends only when the process does (a trace replayed to its end).
#[derive(Debug, Clone)]
pub struct ArrivalSchedule {
    arrival: Arrival,
    state: ArrivalState,
    rng: Xoshiro256PlusPlus,
}

impl ArrivalSchedule {
    /// The schedule of producer `producer` of `model`. Panics if there is no such producer.
    pub fn new(model: &Model, producer: usize) -> Self {
        let arrival = model.producers[producer].arrival.clone();
        let mut rng = stream_rng(model.simulation.seed, Stream::Producer(producer));
        let state = arrival.start(&mut rng);
        ArrivalSchedule { arrival, state, rng }
    }
}

impl Iterator for ArrivalSchedule {
    type Item = f64;

    fn next(&mut self) -> Option<f64> {
        self.arrival.next(&mut self.state, &mut self.rng)
    }
}

/// One consumer group's service times, shared by its consumer threads: each service start
/// takes the next sample, so the k-th service started in the group gets the k-th sample of
/// the group's [`Stream::Group`] stream, as in the simulator. A mutex is enough: it is taken
/// once per service, for one sample.
#[derive(Debug, Clone)]
struct ServiceTimes(Arc<Mutex<(Dist, Xoshiro256PlusPlus)>>);

impl ServiceTimes {
    fn new(model: &Model, group: usize) -> Self {
        let rng = stream_rng(model.simulation.seed, Stream::Group(group));
        ServiceTimes(Arc::new(Mutex::new((model.groups[group].service.clone(), rng))))
    }

    /// The next service time, scenario seconds.
    fn next(&self) -> f64 {
        // Sampling cannot panic, so a poisoned lock still holds a consistent stream.
        let mut guard = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        let (service, rng) = &mut *guard;
        service.sample(rng)
    }
}

/// A random stream shared by a group's consumer threads (failure or crash draws), one draw
/// at a time in whatever order the threads come, as [`ServiceTimes`] shares the service
/// stream.
#[derive(Debug, Clone)]
struct SharedStream(Arc<Mutex<Xoshiro256PlusPlus>>);

impl SharedStream {
    fn new(seed: u64, stream: Stream) -> Self {
        SharedStream(Arc::new(Mutex::new(stream_rng(seed, stream))))
    }

    fn draw<R>(&self, f: impl FnOnce(&mut Xoshiro256PlusPlus) -> R) -> R {
        // Drawing cannot panic, so a poisoned lock still holds a consistent stream.
        f(&mut self.0.lock().unwrap_or_else(PoisonError::into_inner))
    }
}

/// A group's failures: whether a finished service failed, drawn as the simulator draws it
/// (nothing is drawn when the probability is 0), and then whether to requeue.
#[derive(Debug, Clone)]
struct Failures {
    failure: Failure,
    stream: SharedStream,
}

impl Failures {
    /// `Some(requeue)` when the service failed.
    fn draw(&self) -> Option<bool> {
        let f = self.failure;
        (f.probability > 0.0
            && self.stream.draw(|rng| rand::RngExt::random::<f64>(rng) < f.probability))
        .then_some(f.requeue)
    }
}

/// A group's crashes: up times and restart times from the group's crash stream.
#[derive(Debug, Clone)]
struct Crashes {
    crash: Crash,
    stream: SharedStream,
}

impl Crashes {
    /// Scenario seconds up before the next crash.
    fn up(&self) -> f64 {
        self.stream.draw(|rng| self.crash.every.sample(rng))
    }

    /// Scenario seconds down after a crash.
    fn down(&self) -> f64 {
        self.stream.draw(|rng| self.crash.restart.sample(rng))
    }
}

/// What travels through the broker.
#[derive(Debug, Clone, Copy)]
struct Msg {
    /// The producer; [`NO_PRODUCER`] for a queue's `initial_messages`.
    producer: u32,
    first_scheduled: Instant,
    entered: Instant,
}

/// The `producer` of a message of an `initial_messages` backlog.
const NO_PRODUCER: u32 = u32::MAX;

/// The real-time frame of the run, fixed once every thread has been started (however long
/// starting hundreds of consumers takes), and handed to them through a [`OnceLock`].
type Start = Arc<OnceLock<Frame>>;

/// Waits for the frame; `None` if the run was called off first.
fn await_start(start: &Start, stop: &AtomicBool) -> Option<Frame> {
    loop {
        if let Some(f) = start.get() {
            return Some(*f);
        }
        if stop.load(Ordering::Relaxed) {
            return None;
        }
        thread::sleep(Duration::from_millis(1));
    }
}

/// The real-time frame of the run.
#[derive(Debug, Clone, Copy)]
struct Frame {
    scale: f64,
    t0: Instant,
    warm: Instant,
    end: Instant,
}

impl Frame {
    /// Real duration → scenario seconds.
    fn scn(&self, d: Duration) -> f64 {
        d.as_secs_f64() / self.scale
    }

    /// Scenario seconds → real duration; `None` if not representable (beyond any horizon).
    fn real(&self, scenario_s: f64) -> Option<Duration> {
        Duration::try_from_secs_f64(scenario_s * self.scale).ok()
    }

    fn in_window(&self, t: Instant) -> bool {
        t >= self.warm && t <= self.end
    }

    /// Which of the [`REAL_BATCHES`] equal time batches of the measurement window `t` (in
    /// it) falls in.
    fn batch(&self, t: Instant) -> usize {
        let span = self.end.saturating_duration_since(self.warm).as_secs_f64();
        let into = t.saturating_duration_since(self.warm).as_secs_f64();
        if span > 0.0 {
            ((into / span * REAL_BATCHES as f64) as usize).min(REAL_BATCHES - 1)
        } else {
            0
        }
    }

    /// The part of `[a, b]` inside the measurement window, seconds.
    fn overlap(&self, a: Instant, b: Instant) -> f64 {
        let (a, b) = (a.max(self.warm), b.min(self.end));
        b.saturating_duration_since(a).as_secs_f64()
    }
}

#[derive(Debug, Default)]
struct PublisherResult {
    published: u64,
    unroutable: u64,
    lateness_s: f64,
    late: u64,
}

struct PublisherJob {
    broker: Broker<Msg>,
    index: usize,
    exchange: ExchangeId,
    routing_key: String,
    /// Weighted routing keys (empty: `routing_key` alone), drawn from `key_rng`.
    keys: Vec<String>,
    model_producer: crate::scenario::Producer,
    key_rng: Xoshiro256PlusPlus,
    /// Messages per publish, drawn from `batch_rng`.
    batch: Option<Dist>,
    batch_rng: Xoshiro256PlusPlus,
    schedule: ArrivalSchedule,
    /// The producer's TTL, real seconds.
    ttl: Option<f64>,
    /// `publish_delay` in real time (`None`: none).
    publish_delay: Option<Duration>,
    priority: Priority,
    /// Its [`Stream::Priority`] stream (a fixed priority draws nothing from it).
    priority_rng: Xoshiro256PlusPlus,
    start: Start,
    /// Set at the end of the run, or when the run is stopped early (then before the
    /// consumers' flag: publishing stops first, consumers keep serving).
    stop: Arc<AtomicBool>,
}

fn run_publisher(job: PublisherJob) -> PublisherResult {
    let PublisherJob {
        broker,
        index,
        exchange,
        routing_key,
        keys,
        model_producer,
        mut key_rng,
        batch,
        mut batch_rng,
        schedule,
        ttl,
        publish_delay,
        priority,
        mut priority_rng,
        start,
        stop,
    } = job;
    let mut r = PublisherResult::default();
    let Some(frame) = await_start(&start, &stop) else { return r };
    let mut pacer = Pacer::new();
    for t in schedule {
        // From time zero, not from the previous publish: no rounding drift between the
        // real schedule and the scenario instants.
        let Some(scheduled) = frame.real(t).and_then(|d| frame.t0.checked_add(d)) else { break };
        if scheduled >= frame.end || !pacer.wait_until(scheduled, &stop) {
            break;
        }
        let late = scheduled.elapsed();
        // `publish_delay`: the schedule's instants are those at which messages reach the
        // broker (as in the simulator); each was published that long before, and its
        // latencies count from then.
        let born = publish_delay.and_then(|d| scheduled.checked_sub(d)).unwrap_or(scheduled);
        let msg = Msg { producer: index as u32, first_scheduled: born, entered: born };
        // Drawn per publish and per message, in the simulator's engine's order.
        let n = batch.as_ref().map_or(1, |b| crate::scenario::batch_size(b, &mut batch_rng));
        let mut closed = false;
        for _ in 0..n {
            let key = if keys.is_empty() {
                &routing_key
            } else {
                &keys[model_producer.draw_key(&mut key_rng)]
            };
            let props = Props { ttl, priority: priority.sample(&mut priority_rng), deliveries: 0 };
            match broker.publish_to_with(exchange, key, msg, props) {
                Ok(o) => {
                    r.published += 1;
                    r.unroutable += u64::from(o.unroutable());
                }
                Err(_) => {
                    closed = true; // the run is being torn down
                    break;
                }
            }
        }
        if closed {
            break;
        }
        r.lateness_s += late.as_secs_f64();
        r.late += u64::from(late > LATE_TOLERANCE);
    }
    r
}

#[derive(Debug)]
struct ConsumerResult {
    queue: usize,
    wait: LatencyHistogram,
    sojourn: LatencyHistogram,
    /// Wait and sojourn per time batch of the measurement window (by the service's end), for
    /// the curves' batch-means band; sparse, as a thread serves few messages per batch.
    batches: Vec<(SparseLatency, SparseLatency)>,
    /// Per priority (index), for a priority queue: wait and sojourn.
    by_priority: Vec<(LatencyHistogram, LatencyHistogram)>,
    end_to_end: Vec<LatencyHistogram>,
    /// Successful services (acked).
    completed: u64,
    completed_in_window: u64,
    busy_s: f64,
    service_error_sum: f64,
    /// Σ actual and Σ intended service seconds (real), for `service_error_total`.
    service_actual_s: f64,
    service_intended_s: f64,
    services: u64,
}

struct ConsumerJob {
    broker: Broker<Msg>,
    consumer: Consumer<Msg>,
    options: ConsumerOptions,
    queue: usize,
    /// The queue's `max_priority`.
    max_priority: Option<u8>,
    service: ServiceTimes,
    failures: Option<Failures>,
    /// The group's crashes, and this thread's first up time (scenario seconds), drawn when
    /// the threads were started, in their order, as the simulator draws them at time zero.
    crashes: Option<(Crashes, f64)>,
    then: Option<(ExchangeId, String)>,
    /// The group's `network_delay`, scenario seconds (0: none).
    network_delay: f64,
    producers: usize,
    start: Start,
    /// Where the measurement window ends when the run is stopped early (before the horizon).
    cut: Cut,
    stop: Arc<AtomicBool>,
}

/// The instant a run stopped early ends its measurement window at, set once.
type Cut = Arc<OnceLock<Instant>>;

/// What a consumer thread hands back when it stops: its figures, and its subscription (if
/// it is not down after a crash) with the delivery it was serving, kept alive until the
/// final counts are read so that what it still held is counted in flight (dropping them
/// would requeue manual-ack messages and settle auto-ack ones).
type ConsumerExit = (ConsumerResult, Option<Consumer<Msg>>, Vec<Delivery<Msg>>);

/// A settlement on the wire (`network_delay`): when it reaches the broker, the delivery,
/// and `Some(requeue)` for a nack.
type Wired = (Instant, Delivery<Msg>, Option<bool>);

/// With `network_delay`: carries one consumer's acks and nacks to the broker, each `delay`
/// after its service ended (in order: the delay is constant). Stopped, it hands back what
/// was still on the wire, unsettled, so it is counted in flight.
fn run_courier(rx: std::sync::mpsc::Receiver<Wired>, stop: Arc<AtomicBool>) -> Vec<Delivery<Msg>> {
    let mut pacer = Pacer::new();
    loop {
        match rx.recv_timeout(RECV_POLL) {
            Ok((due, d, nack)) => {
                if !pacer.wait_until(due, &stop) {
                    let mut left = vec![d];
                    left.extend(rx.try_iter().map(|(_, d, _)| d));
                    return left;
                }
                let _ = match nack {
                    Some(requeue) => d.nack(requeue),
                    None => d.ack(),
                };
            }
            Err(std::sync::mpsc::RecvTimeoutError::Timeout) => {
                if stop.load(Ordering::Relaxed) {
                    return rx.try_iter().map(|(_, d, _)| d).collect();
                }
            }
            Err(std::sync::mpsc::RecvTimeoutError::Disconnected) => return Vec::new(),
        }
    }
}

/// A consumer thread: serves deliveries one at a time, settles each as its group's failure
/// stream says, and crashes and restarts as its crash stream says.
fn run_consumer(job: ConsumerJob) -> ConsumerExit {
    let ConsumerJob {
        broker,
        consumer,
        options,
        queue,
        max_priority,
        service,
        failures,
        crashes,
        then,
        network_delay,
        producers,
        start,
        cut,
        stop,
    } = job;
    let levels = max_priority.map_or(0, |m| usize::from(m) + 1);
    let r = ConsumerResult {
        queue,
        wait: LatencyHistogram::new(),
        sojourn: LatencyHistogram::new(),
        batches: vec![Default::default(); REAL_BATCHES],
        by_priority: (0..levels)
            .map(|_| (LatencyHistogram::new(), LatencyHistogram::new()))
            .collect(),
        end_to_end: (0..producers).map(|_| LatencyHistogram::new()).collect(),
        completed: 0,
        completed_in_window: 0,
        busy_s: 0.0,
        service_error_sum: 0.0,
        service_actual_s: 0.0,
        service_intended_s: 0.0,
        services: 0,
    };
    let consumer = Some(consumer);
    let Some(frame) = await_start(&start, &stop) else { return (r, consumer, Vec::new()) };
    // With `network_delay` a courier thread carries the settlements (crash is refused with
    // a delay, so it never has to forget any).
    let wire = frame.real(network_delay).filter(|d| !d.is_zero());
    let courier = match wire {
        None => None,
        Some(_) => {
            let (tx, rx) = std::sync::mpsc::channel::<Wired>();
            let stop = Arc::clone(&stop);
            match thread::Builder::new().name("courier".into()).spawn(move || run_courier(rx, stop))
            {
                Ok(h) => Some((tx, h)),
                // Without its courier the consumer cannot settle anything: it stops, and
                // what it holds stays in flight.
                Err(_) => return (r, consumer, Vec::new()),
            }
        }
    };
    let (r, consumer, mut left) = serve(
        r,
        consumer,
        frame,
        &ConsumerCtx {
            broker,
            options,
            queue,
            service,
            failures,
            crashes,
            then,
            cut,
            stop,
            wire,
            courier: courier.as_ref().map(|(tx, _)| tx.clone()),
        },
    );
    if let Some((tx, h)) = courier {
        drop(tx);
        if let Ok(on_wire) = h.join() {
            left.extend(on_wire);
        }
    }
    (r, consumer, left)
}

/// What a consumer thread serves with.
struct ConsumerCtx {
    broker: Broker<Msg>,
    options: ConsumerOptions,
    queue: usize,
    service: ServiceTimes,
    failures: Option<Failures>,
    crashes: Option<(Crashes, f64)>,
    then: Option<(ExchangeId, String)>,
    cut: Cut,
    stop: Arc<AtomicBool>,
    /// `network_delay` in real time, when there is one.
    wire: Option<Duration>,
    /// Where settlements go when there is a delay.
    courier: Option<std::sync::mpsc::Sender<Wired>>,
}

/// The consumer's loop: see [`run_consumer`].
fn serve(
    mut r: ConsumerResult,
    mut consumer: Option<Consumer<Msg>>,
    frame: Frame,
    ctx: &ConsumerCtx,
) -> ConsumerExit {
    let ConsumerCtx {
        broker,
        options,
        queue,
        service,
        failures,
        crashes,
        then,
        cut,
        stop,
        wire,
        courier,
    } = ctx;
    let (options, queue) = (*options, *queue);
    // The window as it stands: to the horizon, or to where the run was stopped.
    let window = || match cut.get() {
        Some(&c) => Frame { end: frame.end.min(c), ..frame },
        None => frame,
    };
    // Beyond any run: a crash that never comes, a service that ends only with the run.
    let never = frame.end + Duration::from_secs(3600);
    let after = |from: Instant, scenario_s: f64| {
        frame.real(scenario_s).and_then(|d| from.checked_add(d)).unwrap_or(never)
    };
    let mut crash_at = crashes.as_ref().map_or(never, |(_, up)| after(frame.t0, *up));
    let mut pacer = Pacer::new();
    while !stop.load(Ordering::Relaxed) {
        if Instant::now() >= crash_at {
            // Crash: the broker requeues everything this consumer held.
            drop(consumer.take());
            let (c, _) = crashes.as_ref().expect("a crash time comes from crashes");
            let back = after(crash_at, c.down());
            if !pacer.wait_until(back, stop) {
                return (r, None, Vec::new());
            }
            match broker.consume_id(queue, options) {
                Ok(new) => consumer = Some(new),
                Err(_) => return (r, None, Vec::new()), // closed: the run is over
            }
            crash_at = after(back, c.up());
            continue;
        }
        let c = consumer.as_ref().expect("subscribed while up");
        let poll = RECV_POLL.min(crash_at.saturating_duration_since(Instant::now()));
        let d = match c.recv_timeout(poll) {
            Ok(d) => d,
            Err(RecvError::Timeout) => continue,
            Err(RecvError::Closed) => break,
        };
        if let (Some(wire), Some(at)) = (wire, d.delivered_at()) {
            // On the wire: it reaches this consumer `network_delay` after the queue sent it.
            if let Some(reach) = at.checked_add(*wire)
                && !pacer.wait_until(reach, stop)
            {
                return (r, consumer, vec![d]);
            }
        }
        let start = Instant::now();
        let intended = frame.real(service.next());
        // A service too long to represent ends only with the run.
        let target = intended.and_then(|i| start.checked_add(i)).unwrap_or(never);
        if !pacer.wait_until(target.min(crash_at), stop) {
            return (r, consumer, vec![d]); // stopped mid-service: still in flight
        }
        if target > crash_at {
            // Crashed mid-service: the service is abandoned, the message requeued with the
            // consumer (dropped first, so it goes back with the others it held, in order);
            // the loop's top restarts it.
            r.busy_s += window().overlap(start, Instant::now());
            drop(consumer.take());
            drop(d);
            continue;
        }
        let done = Instant::now();
        let intended = intended.unwrap_or_default().as_secs_f64();
        if intended > 0.0 {
            let actual = (done - start).as_secs_f64();
            r.service_error_sum += actual / intended - 1.0;
            r.service_actual_s += actual;
            r.service_intended_s += intended;
            r.services += 1;
        }
        r.busy_s += window().overlap(start, done);
        if let Some(requeue) = failures.as_ref().and_then(Failures::draw) {
            // A failed service: the message goes back (requeue) or dies (reject, to the
            // dead-letter exchange if any). Only the final, successful service is measured.
            settle(courier, *wire, done, d, Some(requeue));
            continue;
        }
        r.completed += 1;
        let m = *d.payload();
        // A dead letter entered this queue when it was republished.
        let entered = d.last_death().map_or(m.entered, |death| death.at);
        let in_window = window().in_window(done);
        if in_window {
            r.completed_in_window += 1;
            let wait = frame.scn(start.saturating_duration_since(entered));
            let sojourn = frame.scn(done.saturating_duration_since(entered));
            r.wait.record(wait);
            r.sojourn.record(sojourn);
            // Batches cut the whole window (to the horizon), so a run stopped early has its
            // last batches empty, not every batch shortened.
            let (bw, bs) = &mut r.batches[frame.batch(done)];
            bw.record(wait);
            bs.record(sojourn);
            if let Some((w, s)) = r.by_priority.get_mut(usize::from(d.priority())) {
                w.record(wait);
                s.record(sojourn);
            }
        }
        let last_stage = match &then {
            None => true,
            Some((exchange, key)) => {
                let props = Props { ttl: None, priority: d.priority(), deliveries: 0 };
                broker
                    .publish_to_with(*exchange, key, Msg { entered: done, ..m }, props)
                    .is_ok_and(|o| o.unroutable())
            }
        };
        if last_stage && in_window && m.producer != NO_PRODUCER {
            r.end_to_end[m.producer as usize]
                .record(frame.scn(done.saturating_duration_since(m.first_scheduled)));
        }
        // Manual: the ack. Auto: RabbitMQ settled it on delivery; the broker counts it done
        // now. Either way it cannot fail while this consumer is alive.
        settle(courier, *wire, done, d, None);
    }
    (r, consumer, Vec::new())
}

/// Settles `d` (an ack, or a nack with `Some(requeue)`) now, or with a delay through the
/// courier, which settles it `wire` after `done`.
fn settle(
    courier: &Option<std::sync::mpsc::Sender<Wired>>,
    wire: Option<Duration>,
    done: Instant,
    d: Delivery<Msg>,
    nack: Option<bool>,
) {
    if let (Some(tx), Some(wire)) = (courier, wire) {
        let due = done.checked_add(wire).unwrap_or(done);
        // A courier that has gone (stopped) hands the delivery back in the error: dropped
        // here it would be requeued, which is what an unsettled delivery is anyway.
        let _ = tx.send((due, d, nack));
        return;
    }
    let _ = match nack {
        Some(requeue) => d.nack(requeue),
        None => d.ack(),
    };
}

fn latency(h: &LatencyHistogram) -> Latency {
    Latency::from_histogram(h, None)
}

fn one(mean: f64) -> MeanCi {
    MeanCi { mean, ci95: None }
}

/// Sleeps until `until`, calling `progress` with the fraction of the horizon done; `false`
/// if `cancel` was set first (looked at every [`PROGRESS_EVERY`] at most).
fn wait_reporting(
    until: Instant,
    frame: &Frame,
    horizon: Duration,
    progress: &dyn Fn(f64),
    cancel: &Cancel,
) -> bool {
    loop {
        if cancel.requested() {
            return false;
        }
        let now = Instant::now();
        if now >= until {
            return true;
        }
        thread::sleep((until - now).min(PROGRESS_EVERY));
        let done = Instant::now().saturating_duration_since(frame.t0);
        progress((done.as_secs_f64() / horizon.as_secs_f64()).clamp(0.0, 1.0));
    }
}

/// The threads started so far and what they share. However `run_loadtest` leaves — an
/// error, or a panic in the caller's progress callback — dropping the crew stops, wakes and
/// joins every thread still in it, so no thread outlives the call.
struct Crew {
    broker: Broker<Msg>,
    start: Start,
    /// The publishers' stop flag.
    publish_stop: Arc<AtomicBool>,
    cut: Cut,
    /// The consumers' stop flag.
    stop: Arc<AtomicBool>,
    publishers: Vec<JoinHandle<PublisherResult>>,
    consumers: Vec<JoinHandle<ConsumerExit>>,
}

impl Crew {
    fn new(broker: Broker<Msg>) -> Self {
        Crew {
            broker,
            start: Arc::new(OnceLock::new()),
            publish_stop: Arc::new(AtomicBool::new(false)),
            cut: Arc::new(OnceLock::new()),
            stop: Arc::new(AtomicBool::new(false)),
            publishers: Vec::new(),
            consumers: Vec::new(),
        }
    }
}

impl Drop for Crew {
    fn drop(&mut self) {
        self.publish_stop.store(true, Ordering::SeqCst);
        self.stop.store(true, Ordering::SeqCst);
        self.broker.close();
        for h in self.publishers.drain(..) {
            let _ = h.join();
        }
        for h in self.consumers.drain(..) {
            let _ = h.join();
        }
    }
}

/// Runs the load test of `model` on the real clock and reports it in scenario time.
///
/// Blocks for `loadtest.horizon` (real) plus at most one `RECV_POLL` and the time to stop
/// the threads; calls `progress` with the fraction done (0 to 1) about every 100 ms from
/// the calling thread. Starts one thread per producer and one per consumer.
pub fn run_loadtest(model: &Model, progress: &dyn Fn(f64)) -> Result<RunReport, LoadtestError> {
    run_loadtest_until(model, progress, &Cancel::new())
}

/// [`run_loadtest`], stopping early when `cancel` is set: publishing stops, the consumers
/// are stopped as at the horizon (what they hold stays in flight), every thread is joined,
/// and the report covers the window measured so far — `horizon_s` is where it stopped,
/// `partial` is set, and the counts balance as ever. Stopped during the warm-up, there is
/// nothing to report: [`LoadtestError::Interrupted`].
pub fn run_loadtest_until(
    model: &Model,
    progress: &dyn Fn(f64),
    cancel: &Cancel,
) -> Result<RunReport, LoadtestError> {
    run_loadtest_outcome(model, progress, cancel).map(|o| o.report)
}

/// [`run_loadtest_until`] with what the charts and exports need beside the report: every
/// queue's pooled histograms and percentile curves, whose 95% band comes from
/// [`REAL_BATCHES`] time batches of the run (batch means), as the simulation's comes from
/// its replications.
pub fn run_loadtest_outcome(
    model: &Model,
    progress: &dyn Fn(f64),
    cancel: &Cancel,
) -> Result<RealOutcome, LoadtestError> {
    let (horizon, warmup) = real_window(&model.loadtest)?;
    clock::check(model).map_err(LoadtestError::Settings)?;
    // Topics run beside the queues on their own threads (nothing routes between them).
    thread::scope(|s| {
        let topics = s.spawn(|| topic::run(model, horizon, warmup, cancel));
        let queues = (|| {
            let mut crew = Crew::new(broker_for(model)?);
            // Consumers first, so all are subscribed before the first publish.
            spawn_consumers(&mut crew, model)?;
            spawn_publishers(&mut crew, model)?;
            let measured =
                measure(&mut crew, model.loadtest.time_scale, horizon, warmup, progress, cancel)?;
            Ok(assemble_report(model, &measured))
        })();
        let topics = topics.join().expect("topic load test");
        queues.map(|mut o: RealOutcome| {
            o.report.topics = topics;
            o
        })
    })
}

/// The run's real horizon and warm-up, checked (a `Model` built by hand may hold anything).
fn real_window(lt: &Loadtest) -> Result<(Duration, Duration), LoadtestError> {
    if !(lt.time_scale.is_finite() && lt.time_scale > 0.0) {
        return Err(LoadtestError::Settings(format!(
            "time_scale must be > 0, got {}",
            lt.time_scale
        )));
    }
    match (Duration::try_from_secs_f64(lt.horizon), Duration::try_from_secs_f64(lt.warmup)) {
        (Ok(h), Ok(w)) if w < h => Ok((h, w)),
        _ => Err(LoadtestError::Settings(format!(
            "need 0 <= warmup < horizon (real seconds), got warmup {} and horizon {}",
            lt.warmup, lt.horizon
        ))),
    }
}

/// A broker with the model's topology: its router (exchanges and bindings) and its queues
/// as [`queue_declarations`] declares them.
fn broker_for(model: &Model) -> Result<Broker<Msg>, LoadtestError> {
    Ok(Broker::from_router(model.router.clone(), queue_declarations(model))?)
}

/// How the broker declares each of the model's queues, in model order (so broker queue ids
/// are model queue ids): the core's options with the TTL scaled to real seconds (the
/// broker's clock), and the dead-letter exchange and keys by name.
pub(crate) fn queue_declarations(model: &Model) -> Vec<(String, QueueDeclaration)> {
    let scale = model.loadtest.time_scale;
    let key = |k: KeyId| model.keys[k as usize].clone();
    model
        .queues
        .iter()
        .map(|q| {
            let options =
                QueueOptions { message_ttl: q.message_ttl.map(|t| t * scale), ..q.core_config() };
            let dead_letter = q.dead_letter.as_ref().map(|dl| DeadLetterOptions {
                exchange: model.router.exchange_name(dl.exchange).to_string(),
                routing_key: dl.routing_key.map(key),
                limit_routing_key: dl.limit_routing_key.map(key),
            });
            (q.name.clone(), QueueDeclaration { options, dead_letter })
        })
        .collect()
}

/// Subscribes and starts `count` consumer threads per group, in group order.
fn spawn_consumers(crew: &mut Crew, model: &Model) -> Result<(), LoadtestError> {
    let seed = model.simulation.seed;
    for (gi, g) in model.groups.iter().enumerate() {
        let service = ServiceTimes::new(model, gi);
        let failures = g.failure.map(|failure| Failures {
            failure,
            stream: SharedStream::new(seed, Stream::Failure(gi)),
        });
        let crashes = g.crash.as_ref().map(|crash| Crashes {
            crash: crash.clone(),
            stream: SharedStream::new(seed, Stream::Crash(gi)),
        });
        for index in 0..g.count {
            let options = ConsumerOptions { prefetch: g.prefetch, ack: g.ack };
            let consumer = crew.broker.consume_id(g.queue, options)?;
            let job = ConsumerJob {
                broker: crew.broker.clone(),
                consumer,
                options,
                queue: g.queue,
                max_priority: model.queues[g.queue].max_priority,
                service: service.clone(),
                failures: failures.clone(),
                crashes: crashes.as_ref().map(|c| (c.clone(), c.up())),
                then: g.then.as_ref().map(|t| (t.exchange, t.routing_key.clone())),
                network_delay: g.network_delay,
                producers: model.producers.len(),
                start: Arc::clone(&crew.start),
                cut: Arc::clone(&crew.cut),
                stop: Arc::clone(&crew.stop),
            };
            match thread::Builder::new()
                .name(format!("{}-{index}", g.name))
                .spawn(move || run_consumer(job))
            {
                Ok(h) => crew.consumers.push(h),
                Err(source) => return Err(LoadtestError::Spawn { role: "consumer", source }),
            }
        }
    }
    Ok(())
}

/// Starts one publisher thread per producer.
fn spawn_publishers(crew: &mut Crew, model: &Model) -> Result<(), LoadtestError> {
    let scale = model.loadtest.time_scale;
    for (pi, p) in model.producers.iter().enumerate() {
        let job = PublisherJob {
            broker: crew.broker.clone(),
            index: pi,
            exchange: p.exchange,
            routing_key: p.routing_key.clone(),
            keys: p.weighted_keys.iter().map(|k| k.routing_key.clone()).collect(),
            model_producer: p.clone(),
            key_rng: stream_rng(model.simulation.seed, Stream::Keys(pi)),
            batch: p.batch.clone(),
            batch_rng: stream_rng(model.simulation.seed, Stream::Batch(pi)),
            schedule: ArrivalSchedule::new(model, pi),
            // The broker's clock is real seconds.
            ttl: p.ttl.map(|t| t * scale),
            publish_delay: Duration::try_from_secs_f64(p.publish_delay * scale)
                .ok()
                .filter(|d| !d.is_zero()),
            priority: p.priority.clone(),
            priority_rng: stream_rng(model.simulation.seed, Stream::Priority(pi)),
            start: Arc::clone(&crew.start),
            stop: Arc::clone(&crew.publish_stop),
        };
        match thread::Builder::new()
            .name(format!("publish-{}", p.name))
            .spawn(move || run_publisher(job))
        {
            Ok(h) => crew.publishers.push(h),
            Err(source) => return Err(LoadtestError::Spawn { role: "publisher", source }),
        }
    }
    // The queues' `initial_messages`, published at time zero through the default exchange
    // (by the queue's name), by one more thread after the producers' (its result counts no
    // publish: these are no producer's, and the broker's counters count them as offered).
    let backlogs: Vec<(String, u64)> = model
        .queues
        .iter()
        .filter_map(|q| q.initial_messages.filter(|&n| n > 0).map(|n| (q.name.clone(), n)))
        .collect();
    if !backlogs.is_empty() {
        let broker = crew.broker.clone();
        let (start, stop) = (Arc::clone(&crew.start), Arc::clone(&crew.publish_stop));
        let job = move || {
            let Some(frame) = await_start(&start, &stop) else { return PublisherResult::default() };
            let msg = Msg { producer: NO_PRODUCER, first_scheduled: frame.t0, entered: frame.t0 };
            for (queue, n) in backlogs {
                for _ in 0..n {
                    if broker.publish_to_with(0, &queue, msg, Props::default()).is_err() {
                        break;
                    }
                }
            }
            PublisherResult::default()
        };
        match thread::Builder::new().name("publish-backlogs".into()).spawn(job) {
            Ok(h) => crew.publishers.push(h),
            Err(source) => return Err(LoadtestError::Spawn { role: "publisher", source }),
        }
    }
    Ok(())
}

/// What the measurement window produced: broker snapshots at its two ends and after the
/// consumers left, and every thread's figures.
struct Measured {
    time_scale: f64,
    /// Where the window ended: the horizon, or where the run was stopped.
    horizon: Duration,
    /// Stopped before the horizon?
    partial: bool,
    warmup: Duration,
    at_warm: Vec<QueueStats>,
    at_end: Vec<QueueStats>,
    finals: Vec<QueueStats>,
    /// Real seconds between the two window snapshots (the ready-length integral's span).
    snapshot_span: f64,
    publishers: Vec<PublisherResult>,
    consumers: Vec<ConsumerResult>,
}

/// Fixes time zero (releasing every waiting thread), snapshots the broker at the warm-up
/// and at the horizon, then stops the threads and collects their figures: publishers first
/// (they stop at the horizon by themselves), then consumers (stopped, so whatever they hold
/// goes back to the ready lists before the final snapshot).
fn measure(
    crew: &mut Crew,
    time_scale: f64,
    horizon: Duration,
    warmup: Duration,
    progress: &dyn Fn(f64),
    cancel: &Cancel,
) -> Result<Measured, LoadtestError> {
    let t0 = Instant::now() + START_DELAY;
    let frame = Frame { scale: time_scale, t0, warm: t0 + warmup, end: t0 + horizon };
    crew.start.set(frame).expect("set once, here");
    progress(0.0);
    if !wait_reporting(frame.warm, &frame, horizon, progress, cancel) {
        return Err(LoadtestError::Interrupted); // dropping the crew joins every thread
    }
    let at_warm = crew.broker.stats();
    let warm_taken = Instant::now();
    crew.broker.reset_ready_peaks();
    let partial = !wait_reporting(frame.end, &frame, horizon, progress, cancel);
    let horizon = if partial {
        // Stopped early: the window ends now. Publishing stops (the publishers are joined
        // below, as at the horizon, where they stop by themselves), and the consumers
        // measure nothing past this instant.
        let cut = Instant::now();
        let _ = crew.cut.set(cut);
        crew.publish_stop.store(true, Ordering::SeqCst);
        cut.saturating_duration_since(t0).max(warmup)
    } else {
        horizon
    };

    let mut publishers = Vec::new();
    let mut panicked = None;
    for h in std::mem::take(&mut crew.publishers) {
        match h.join() {
            Ok(r) => publishers.push(r),
            Err(_) => panicked = Some("publisher"),
        }
    }
    let at_end = crew.broker.stats();
    let end_taken = Instant::now();
    crew.stop.store(true, Ordering::SeqCst);
    crew.broker.close();
    let mut consumers = Vec::new();
    let mut subscriptions = Vec::new();
    for h in std::mem::take(&mut crew.consumers) {
        match h.join() {
            Ok((r, consumer, unfinished)) => {
                consumers.push(r);
                subscriptions.push((consumer, unfinished));
            }
            Err(_) => panicked = Some("consumer"),
        }
    }
    if let Some(role) = panicked {
        return Err(LoadtestError::Panicked(role));
    }
    // Every consumer has stopped but is still subscribed (unless it was down after a
    // crash): what it holds (in its buffer or half served) is unacked, in flight, whatever
    // its ack mode — as the simulator counts it.
    let finals = crew.broker.stats();
    drop(subscriptions);
    if !partial {
        progress(1.0);
    }
    Ok(Measured {
        time_scale,
        horizon,
        partial,
        warmup,
        at_warm,
        at_end,
        finals,
        snapshot_span: end_taken.saturating_duration_since(warm_taken).as_secs_f64(),
        publishers,
        consumers,
    })
}

/// The run's report, in scenario time, with its latency detail.
fn assemble_report(model: &Model, m: &Measured) -> RealOutcome {
    let lt = &model.loadtest;
    let (queues, detail) = queue_reports(model, m);
    let (mut wait, mut sojourn, mut curves) = (Vec::new(), Vec::new(), Vec::new());
    for (w, s, c) in detail {
        wait.push(w);
        sojourn.push(s);
        curves.push(c);
    }
    let report = RunReport {
        scenario: model.name.clone(),
        backend: "real".to_string(),
        seed: model.simulation.seed,
        replications: 1,
        horizon_s: if m.partial {
            m.horizon.as_secs_f64() / lt.time_scale
        } else {
            lt.horizon / lt.time_scale
        },
        warmup_s: lt.warmup / lt.time_scale,
        time_scale: Some(lt.time_scale),
        queues,
        producers: producer_reports(model, m),
        end_to_end_s: end_to_end_reports(model, m),
        topics: Vec::new(),
        timing: Some(timing(m)),
        partial: m.partial,
        replications_requested: None,
        horizon_requested_s: m.partial.then(|| lt.horizon / lt.time_scale),
        server: None,
        precision_reached: None,
        precision: None,
        timeline: None,
    };
    RealOutcome { report, wait, sojourn, curves }
}

/// A queue's pooled histograms and curves: the pooled wait and sojourn, and the curves
/// whose band comes from the time batches (each merged over the queue's consumers).
type QueueDetail = (LatencyHistogram, LatencyHistogram, QueueCurves);

/// Per queue: rates and utilisation over the window, latencies of the messages whose
/// service ended in it, the ready length between the window snapshots, and the whole run's
/// counts (which balance exactly); beside them, each queue's latency detail.
fn queue_reports(model: &Model, m: &Measured) -> (Vec<QueueReport>, Vec<QueueDetail>) {
    let window_real = (m.horizon - m.warmup).as_secs_f64();
    let window_scn = window_real / m.time_scale;
    let mut queues = Vec::new();
    let mut detail = Vec::new();
    let v2 = model.uses_message_lifecycle();
    for (qi, q) in model.queues.iter().enumerate() {
        let (w, e, f) = (&m.at_warm[qi], &m.at_end[qi], &m.finals[qi]);
        let mut wait = LatencyHistogram::new();
        let mut sojourn = LatencyHistogram::new();
        let (mut completed, mut completed_in_window, mut busy) = (0, 0, 0.0);
        let levels = q.max_priority.map_or(0, |p| usize::from(p) + 1);
        let mut by_priority: Vec<_> =
            (0..levels).map(|_| (LatencyHistogram::new(), LatencyHistogram::new())).collect();
        let mut batches: Vec<(SparseLatency, SparseLatency)> =
            vec![Default::default(); REAL_BATCHES];
        for r in m.consumers.iter().filter(|r| r.queue == qi) {
            wait.merge(&r.wait);
            sojourn.merge(&r.sojourn);
            for ((w, s), (rw, rs)) in batches.iter_mut().zip(&r.batches) {
                w.merge(rw);
                s.merge(rs);
            }
            for ((w, s), (rw, rs)) in by_priority.iter_mut().zip(&r.by_priority) {
                w.merge(rw);
                s.merge(rs);
            }
            completed += r.completed;
            completed_in_window += r.completed_in_window;
            busy += r.busy_s;
        }
        let consumers = model.consumers_on(qi);
        let offered = e.offered - w.offered;
        let dropped = e.dropped - w.dropped;
        let ratio = |n: u64| if offered > 0 { n as f64 / offered as f64 } else { 0.0 };
        queues.push(QueueReport {
            name: q.name.clone(),
            consumers,
            offered_rate: one(offered as f64 / window_scn),
            throughput: one(completed_in_window as f64 / window_scn),
            loss_probability: one(ratio(dropped)),
            wait_s: latency(&wait),
            sojourn_s: latency(&sojourn),
            queue_length: QueueLength {
                mean: if m.snapshot_span > 0.0 {
                    (e.ready_integral_s - w.ready_integral_s) / m.snapshot_span
                } else {
                    0.0
                },
                ci95: None,
                max: e.ready_peak,
            },
            utilization: one(if consumers > 0 {
                busy / (f64::from(consumers) * window_real)
            } else {
                0.0
            }),
            counts: Counts {
                offered: f.offered,
                delivered: f.delivered,
                acked: f.acked,
                dropped: f.dropped,
                expired: v2.then_some(f.expired),
                rejected: v2.then_some(f.rejected),
                dead_lettered: v2.then_some(f.dead_lettered),
                redelivered: v2.then_some(f.redelivered),
                dead_letter_unroutable: v2.then_some(f.dead_letter_unroutable),
                dead_letter_cycles: v2.then_some(f.dead_letter_cycles),
                in_flight_at_end: f.ready + f.unacked,
                completed,
            },
            expire_probability: model.may_expire(qi).then(|| one(ratio(e.expired - w.expired))),
            drain_time_s: None,
            by_priority: q.max_priority.map(|_| {
                by_priority
                    .iter()
                    .enumerate()
                    .rev()
                    .filter_map(|(p, (wait, sojourn))| {
                        let offered = e.offered_by_priority[p] - w.offered_by_priority[p];
                        (offered > 0 || sojourn.count() > 0).then(|| PriorityReport {
                            priority: p as u8,
                            offered,
                            wait_s: latency(wait),
                            sojourn_s: latency(sojourn),
                        })
                    })
                    .collect()
            }),
        });
        let curves = QueueCurves {
            wait: PercentileCurve::from_batches(&wait, &batches, |b, q| b.0.quantile(q)),
            sojourn: PercentileCurve::from_batches(&sojourn, &batches, |b, q| b.1.quantile(q)),
        };
        detail.push((wait, sojourn, curves));
    }
    (queues, detail)
}

fn producer_reports(model: &Model, m: &Measured) -> Vec<ProducerReport> {
    model
        .producers
        .iter()
        .zip(&m.publishers)
        .map(|(p, r)| ProducerReport {
            name: p.name.clone(),
            published: r.published,
            unroutable: r.unroutable,
        })
        .collect()
}

/// End-to-end latency per producer whose publishes reach a consumed queue, pooled over
/// every path's last stage.
fn end_to_end_reports(model: &Model, m: &Measured) -> Vec<EndToEnd> {
    let mut end_to_end = Vec::new();
    for (pi, p) in model.producers.iter().enumerate() {
        if !p.routes.iter().any(|&q| model.consumers_on(q) > 0) {
            continue;
        }
        let mut h = LatencyHistogram::new();
        for r in &m.consumers {
            h.merge(&r.end_to_end[pi]);
        }
        let l = latency(&h);
        end_to_end.push(EndToEnd { producer: p.name.clone(), latency: l, completed: h.count() });
    }
    end_to_end
}

/// How faithfully the threads kept to the scenario's clock.
fn timing(m: &Measured) -> Timing {
    let services: u64 = m.consumers.iter().map(|r| r.services).sum();
    let published: u64 = m.publishers.iter().map(|r| r.published).sum();
    Timing {
        time_scale: m.time_scale,
        service_error_mean: if services > 0 {
            m.consumers.iter().map(|r| r.service_error_sum).sum::<f64>() / services as f64
        } else {
            0.0
        },
        service_error_total: {
            let actual: f64 = m.consumers.iter().map(|r| r.service_actual_s).sum();
            let intended: f64 = m.consumers.iter().map(|r| r.service_intended_s).sum();
            if intended > 0.0 { actual / intended - 1.0 } else { 0.0 }
        },
        arrival_error_mean: if published > 0 {
            m.publishers.iter().map(|r| r.lateness_s).sum::<f64>() / published as f64 / m.time_scale
        } else {
            0.0
        },
        late_publishes: m.publishers.iter().map(|r| r.late).sum(),
    }
}
