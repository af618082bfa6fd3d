//! The scenario file contract: TOML text → validated, resolved [`Model`].
//!
//! Parsing happens in two steps, as ripgrep turns low-level flags into high-level ones:
//! serde reads the text into raw types that mirror the file (`raw`, unknown fields are
//! errors), then [`Model::from_toml`] checks every value and reference and resolves names
//! into indices, durations into seconds and distributions into samplers. Every problem
//! carries the field path (`consumers[2].service.cv`) and, where it can be found, the line.
//! Nothing here reads files: the caller passes the text and the name to report it under.

pub mod calibration;
mod duration;
pub mod files;
mod graph;
mod locate;
mod raw;
mod topics;

pub use duration::parse_duration;
pub use files::{Files, NoFiles};
pub use topics::{Keys, MAX_KEYS, MAX_PARTITIONS, Topic, TopicGroup, TopicProducer};

use crate::arrival::{Arrival, Mmpp, Schedule, Trace};
use crate::dist::{Dist, DistKind, MIN_MEAN_SECONDS};
use crate::routing::{ExchangeId, ExchangeKind, QueueId, Router};
use locate::Locator;
use raw::*;
use std::collections::{HashMap, HashSet};
use std::fmt;

/// One thing wrong with a scenario.
#[derive(Debug, Clone, PartialEq)]
pub struct Problem {
    /// Field path, e.g. `consumers[2].service.cv`; empty for the document as a whole.
    pub path: String,
    /// 1-based line in the file, where known.
    pub line: Option<usize>,
    /// What is wrong and, where possible, how to fix it.
    pub message: String,
}

/// A scenario that could not be loaded: the file name and every problem found.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub struct ScenarioError {
    /// The file (or other origin) the text came from.
    pub origin: String,
    /// At least one problem.
    pub problems: Vec<Problem>,
}

impl fmt::Display for ScenarioError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let n = self.problems.len();
        write!(
            f,
            "invalid scenario {}: {n} problem{}",
            self.origin,
            if n == 1 { "" } else { "s" }
        )?;
        for p in &self.problems {
            write!(f, "\n  {}", self.origin)?;
            if let Some(l) = p.line {
                write!(f, ":{l}")?;
            }
            if !p.path.is_empty() {
                write!(f, ": {}", p.path)?;
            }
            write!(f, ": {}", p.message)?;
        }
        Ok(())
    }
}

/// Simulation settings, seconds.
#[derive(Debug, Clone, PartialEq)]
pub struct Simulation {
    /// Simulated time per replication.
    pub horizon: f64,
    /// Discarded from statistics at the start of each replication.
    pub warmup: f64,
    /// `warmup = "auto"`: the simulator chooses `warmup` by MSER-5 on pilot runs.
    pub warmup_auto: bool,
    /// Independent replications.
    pub replications: u32,
    /// Master seed; each replication derives its own streams from it.
    pub seed: u64,
    /// `window`: also report each queue's figures per window of this many seconds of
    /// scenario time (the timeline); `None`: no timeline.
    pub window: Option<f64>,
    /// `precision`: add replications until every queue's mean sojourn has a 95% half-width
    /// at most this fraction of its mean; `None`: exactly `replications`.
    pub precision: Option<f64>,
    /// `max_replications`: with `precision`, the most replications run.
    pub max_replications: u32,
}

/// Most windows a timeline may have (each window holds a few numbers per queue and per
/// replication, so memory grows with windows × queues).
pub const MAX_WINDOWS: usize = 100_000;
/// Most windows × queues a timeline may have.
pub const MAX_WINDOW_CELLS: usize = 1_000_000;
/// Default `max_replications` with `precision`.
pub const DEFAULT_MAX_REPLICATIONS: u32 = 200;

impl Simulation {
    /// Windows of the timeline over the horizon (the last may be shorter), or 0 without one.
    pub fn windows(&self) -> usize {
        self.window.map_or(0, |w| (self.horizon / w).ceil().max(1.0) as usize)
    }

    /// Checks a window length (from the file or `--window`) for this horizon and `queues`
    /// queues: a positive duration giving at most [`MAX_WINDOWS`] windows and
    /// [`MAX_WINDOW_CELLS`] windows × queues. The message says what to change.
    pub fn check_window(&self, window: f64, queues: usize) -> Result<(), String> {
        if !(window.is_finite() && window > 0.0) {
            return Err(format!("must be a duration > 0, got {window} s"));
        }
        let n = (self.horizon / window).ceil();
        if n > MAX_WINDOWS as f64 || n * queues.max(1) as f64 > MAX_WINDOW_CELLS as f64 {
            return Err(format!(
                "{} over a horizon of {} gives {n:.0} windows for {queues} queue(s); the limit is {MAX_WINDOWS} windows and {MAX_WINDOW_CELLS} windows × queues: choose a longer window",
                crate::dist::fmt_secs(window),
                crate::dist::fmt_secs(self.horizon),
            ));
        }
        Ok(())
    }
}

/// Loadtest settings; `horizon` and `warmup` are real (wall-clock) seconds.
#[derive(Debug, Clone, PartialEq)]
pub struct Loadtest {
    /// Real seconds per simulated second.
    pub time_scale: f64,
    /// Real duration of the test.
    pub horizon: f64,
    /// Real warm-up.
    pub warmup: f64,
}

/// A source of messages.
#[derive(Debug, Clone)]
pub struct Producer {
    /// Unique name.
    pub name: String,
    /// Exchange published to.
    pub exchange: ExchangeId,
    /// Routing key of every publish (the first of `routing_keys` when weighted).
    pub routing_key: String,
    /// When it publishes.
    pub arrival: Arrival,
    /// Messages per publish (`batch`: a distribution, rounded, at least 1); `None` = 1.
    pub batch: Option<Dist>,
    /// Queues some publish reaches (every key's routes; empty: unroutable), resolved by
    /// the [`Router`].
    pub routes: Vec<QueueId>,
    /// Its routing key in [`Model::keys`] (a dead-lettered message keeps it).
    pub key: KeyId,
    /// `routing_keys`: each message's key drawn by weight; empty with one `routing_key`.
    pub weighted_keys: Vec<WeightedKey>,
    /// Per-message TTL (`expiration`), seconds.
    pub ttl: Option<f64>,
    /// Priority of each message.
    pub priority: Priority,
    /// One way, producer → broker, seconds (`publish_delay`; 0 = none): a message enters its
    /// queues this long after it was published, and its wait, sojourn and end to end count
    /// from publishing. A constant shift of the arrival instants, so it adds exactly this
    /// to every latency of a message straight from a producer and changes nothing else.
    pub publish_delay: f64,
}

/// A routing key's index in [`Model::keys`].
pub type KeyId = u32;

/// One of a producer's weighted routing keys.
#[derive(Debug, Clone, PartialEq)]
pub struct WeightedKey {
    /// The key.
    pub routing_key: String,
    /// The queues it reaches.
    pub routes: Vec<QueueId>,
    /// Its index in [`Model::keys`].
    pub key: KeyId,
    /// Running sum of the normalised weights up to and including this one (the last is 1).
    pub cumulative: f64,
    /// Its normalised weight: the share of messages that carry it.
    pub share: f64,
}

impl Producer {
    /// Draws the index of a weighted key (call only with `weighted_keys` non-empty).
    #[inline]
    pub fn draw_key(&self, rng: &mut impl rand::Rng) -> usize {
        let u: f64 = rand::RngExt::random(rng);
        self.weighted_keys.partition_point(|k| k.cumulative <= u).min(self.weighted_keys.len() - 1)
    }

    /// Each queue a message of this producer can reach, with the share of its messages
    /// that reach it (1 without weighted keys).
    pub fn queue_shares(&self) -> Vec<(QueueId, f64)> {
        if self.weighted_keys.is_empty() {
            return self.routes.iter().map(|&q| (q, 1.0)).collect();
        }
        self.routes
            .iter()
            .map(|&q| {
                let s = self
                    .weighted_keys
                    .iter()
                    .filter(|k| k.routes.contains(&q))
                    .map(|k| k.share)
                    .sum();
                (q, s)
            })
            .collect()
    }

    /// Mean messages per publish: `E[max(1, round(B))]` for a batch `B`, computed exactly
    /// for a constant or an empirical batch, else approximated by `max(1, E[B])`.
    pub fn batch_mean(&self) -> f64 {
        self.batch.as_ref().map_or(1.0, |b| batch_moments(b).0)
    }

    /// Messages published per second in the long run: publishes × mean batch.
    pub fn message_rate(&self) -> f64 {
        self.arrival.mean_rate() * self.batch_mean()
    }
}

/// The number of messages one publish of batch distribution `b` carries.
#[inline]
pub fn batch_size(b: &Dist, rng: &mut impl rand::Rng) -> u64 {
    (b.sample(rng).round() as u64).max(1)
}

/// First two moments of a batch's size `N = max(1, round(B))` and whether they are exact:
/// exact for a constant or an empirical `B` (N takes known values); otherwise from the
/// continuous moments of `B` (rounding adds about 1/12 to the variance; the cut at 1
/// is ignored), which is an approximation.
pub fn batch_moments(b: &Dist) -> (f64, f64, bool) {
    let n = |x: f64| (x.round()).max(1.0);
    match b.kind() {
        DistKind::Constant { value } => {
            let v = n(*value);
            (v, v * v, true)
        }
        DistKind::Empirical { values } => {
            let k = values.len() as f64;
            let m1 = values.iter().map(|&x| n(x)).sum::<f64>() / k;
            let m2 = values.iter().map(|&x| n(x) * n(x)).sum::<f64>() / k;
            (m1, m2, true)
        }
        _ => {
            let m = b.mean().max(1.0);
            let var = b.scv() * b.mean() * b.mean() + 1.0 / 12.0;
            (m, var + m * m, false)
        }
    }
}

/// The priority a producer gives its messages.
#[derive(Debug, Clone, PartialEq)]
pub enum Priority {
    /// Always this one (0 = no priority).
    Fixed(u8),
    /// One of `values`, drawn with the probabilities `weights` (normalised; `cumulative`
    /// holds their running sums, the last being 1).
    Weighted {
        /// The priorities.
        values: Vec<u8>,
        /// Running sums of the normalised weights.
        cumulative: Vec<f64>,
    },
}

impl Priority {
    /// Draws one priority; a fixed one draws nothing.
    #[inline]
    pub fn sample(&self, rng: &mut impl rand::Rng) -> u8 {
        match self {
            Priority::Fixed(p) => *p,
            Priority::Weighted { values, cumulative } => {
                let u: f64 = rand::RngExt::random(rng);
                let i = cumulative.partition_point(|&c| c <= u).min(values.len() - 1);
                values[i]
            }
        }
    }

    /// Mean share of each priority value: `(value, probability)`.
    pub fn shares(&self) -> Vec<(u8, f64)> {
        match self {
            Priority::Fixed(p) => vec![(*p, 1.0)],
            Priority::Weighted { values, cumulative } => {
                let mut prev = 0.0;
                values
                    .iter()
                    .zip(cumulative)
                    .map(|(&v, &c)| {
                        let w = c - prev;
                        prev = c;
                        (v, w)
                    })
                    .collect()
            }
        }
    }
}

// The queue semantics' own vocabulary lives with the messaging core; the model uses it.
pub use crate::mq::{Ack, Overflow};

/// Where a queue's dead letters go (`dead_letter_exchange`).
#[derive(Debug, Clone)]
pub struct DeadLetter {
    /// The exchange they are republished to.
    pub exchange: ExchangeId,
    /// `dead_letter_routing_key`: the key they are republished with; `None` = their own.
    pub routing_key: Option<KeyId>,
    /// `delivery_limit_routing_key` (an mqsim extension): the key of messages rejected at
    /// their delivery limit, e.g. to reach a parking-lot queue; `None` = as the others.
    pub limit_routing_key: Option<KeyId>,
    /// The queues a dead letter republished with key `k` reaches: `routes[k]`.
    pub routes: Vec<Vec<QueueId>>,
    /// This queue's bit in a message's dead-letter history (RabbitMQ's cycle rule).
    pub cycle_bit: u8,
}

impl DeadLetter {
    /// The key a message with key `own` is republished with, for `reason`.
    pub fn key_for(&self, own: KeyId, reason: crate::mq::Reason) -> KeyId {
        crate::mq::dead_letter::dead_letter_key(
            reason,
            own,
            self.routing_key,
            self.limit_routing_key,
        )
    }

    /// The queues a dead letter with key `key` reaches, each with its cycle bit (`None` for
    /// a queue without a dead-letter exchange: no message ever died there with one).
    pub fn targets<'a>(
        &'a self,
        model: &'a Model,
        key: KeyId,
    ) -> impl Iterator<Item = Option<u8>> + 'a {
        self.routes[key as usize]
            .iter()
            .map(|&t| model.queues[t].dead_letter.as_ref().map(|d| d.cycle_bit))
    }
}

/// A consumer's failures (`failure`).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Failure {
    /// Probability that a delivery fails, after its full service.
    pub probability: f64,
    /// `requeue` (nack with requeue) or `reject` (without: dead-lettered if the queue has
    /// a dead-letter exchange).
    pub requeue: bool,
}

/// A consumer's crashes (`crash`).
#[derive(Debug, Clone)]
pub struct Crash {
    /// Up time before a crash.
    pub every: Dist,
    /// Down time before it is back.
    pub restart: Dist,
}

/// A queue.
#[derive(Debug, Clone)]
pub struct Queue {
    /// Unique name.
    pub name: String,
    /// Most ready messages held (unacknowledged ones not counted); `None` = unbounded.
    pub max_length: Option<u64>,
    /// Policy when full.
    pub overflow: Overflow,
    /// Consumer groups reading this queue.
    pub groups: Vec<usize>,
    /// `message_ttl`, seconds.
    pub message_ttl: Option<f64>,
    /// `max_priority`: a priority queue.
    pub max_priority: Option<u8>,
    /// `delivery_limit`.
    pub delivery_limit: Option<u32>,
    /// `dead_letter_exchange` and where its dead letters go.
    pub dead_letter: Option<DeadLetter>,
    /// Its bindings as declared: (exchange, binding key), what a real broker is told.
    pub bindings: Vec<(ExchangeId, String)>,
    /// `initial_messages`: a ready backlog at time 0.
    pub initial_messages: Option<u64>,
    /// The routing key the backlog's messages carry (the queue's name, as if published
    /// to the default exchange), for dead-lettering with their own key.
    pub initial_key: KeyId,
}

impl Queue {
    /// The part of the declaration the messaging core enforces, times in seconds.
    pub fn core_config(&self) -> crate::mq::QueueConfig {
        crate::mq::QueueConfig {
            max_length: self.max_length,
            overflow: self.overflow,
            message_ttl: self.message_ttl,
            max_priority: self.max_priority,
            delivery_limit: self.delivery_limit,
        }
    }

    /// Is it a quorum queue on RabbitMQ? Only quorum queues take `x-delivery-limit` (3.10),
    /// so a queue with `delivery_limit` is declared as one (and calibrated as one).
    pub fn is_quorum(&self) -> bool {
        self.delivery_limit.is_some()
    }
}

/// Where a consumer publishes after service.
#[derive(Debug, Clone)]
pub struct Then {
    /// Exchange.
    pub exchange: ExchangeId,
    /// Routing key.
    pub routing_key: String,
    /// Queues reached, resolved by the [`Router`].
    pub routes: Vec<QueueId>,
    /// The routing key in [`Model::keys`].
    pub key: KeyId,
}

/// A group of competing consumers on one queue.
#[derive(Debug, Clone)]
pub struct ConsumerGroup {
    /// Unique name.
    pub name: String,
    /// The queue consumed.
    pub queue: QueueId,
    /// Consumers in the group.
    pub count: u32,
    /// Most unacknowledged messages per consumer; 0 = unlimited.
    pub prefetch: u32,
    /// Acknowledgement mode.
    pub ack: Ack,
    /// Service time of one message.
    pub service: Dist,
    /// Onward publish after service.
    pub then: Option<Then>,
    /// Failed deliveries.
    pub failure: Option<Failure>,
    /// Crashes and restarts.
    pub crash: Option<Crash>,
    /// One-way transport delay broker <-> consumer, seconds (`network_delay`; 0 = none): a
    /// delivery reaches the consumer this late and its ack frees prefetch room this late.
    pub network_delay: f64,
}

/// An exchange as declared.
#[derive(Debug, Clone)]
pub struct ExchangeDecl {
    /// Name.
    pub name: String,
    /// Type.
    pub kind: ExchangeKind,
}

/// A validated scenario with every name resolved to an index and every time in seconds.
#[derive(Debug, Clone)]
pub struct Model {
    /// Scenario name (defaults to the file stem).
    pub name: String,
    /// Free text.
    pub description: Option<String>,
    /// Simulation settings.
    pub simulation: Simulation,
    /// Loadtest settings (defaults when the file has no `[loadtest]`).
    pub loadtest: Loadtest,
    /// Did the file have a `[loadtest]` section? Without one, `loadtest` says it runs the
    /// defaults rather than starting a 30 s real-time test unannounced.
    pub loadtest_declared: bool,
    /// Producers, in file order.
    pub producers: Vec<Producer>,
    /// Declared exchanges, in file order (the default exchange is implicit).
    pub exchanges: Vec<ExchangeDecl>,
    /// Routing tables; exchange id `i + 1` is `exchanges[i]`, 0 the default exchange.
    pub router: Router,
    /// Queues, in file order.
    pub queues: Vec<Queue>,
    /// Consumer groups, in file order.
    pub groups: Vec<ConsumerGroup>,
    /// Things that are legal but probably not meant (a queue nobody consumes, …).
    pub warnings: Vec<String>,
    /// Every routing key a message can carry (producers', `then`s', dead-letter keys).
    pub keys: Vec<String>,
    /// Kafka-style topics with their producers and consumer groups, in file order.
    pub topics: Vec<Topic>,
}

struct Checker<'a> {
    loc: Locator<'a>,
    problems: Vec<Problem>,
    files: &'a dyn Files,
}

impl Checker<'_> {
    fn err(&mut self, path: impl Into<String>, message: impl Into<String>) {
        let path = path.into();
        let line = self.loc.line(&path);
        self.problems.push(Problem { path, line, message: message.into() });
    }

    fn positive_secs(&mut self, path: &str, v: f64) -> f64 {
        if !(v.is_finite() && v > 0.0) {
            self.err(path, format!("must be a duration > 0, got {} s", crate::dist::fmt_num(v)));
        }
        v
    }

    /// A TTL: a duration >= 0 (0 = expire unless delivered at once).
    fn ttl(&mut self, path: &str, v: f64) -> f64 {
        if !(v.is_finite() && v >= 0.0) {
            self.err(path, format!("must be a duration >= 0, got {} s", crate::dist::fmt_num(v)));
        }
        v
    }

    fn dist(&mut self, path: &str, raw: &RawDist) -> Option<Dist> {
        let kind = match *raw {
            RawDist::Exponential { mean, rate } => match (mean, rate) {
                (Some(m), None) => DistKind::Exponential { mean: m.0 },
                (None, Some(r)) => {
                    if !(r.is_finite() && r > 0.0) {
                        self.err(
                            format!("{path}.rate"),
                            format!(
                                "must be a rate > 0 per second, got {}",
                                crate::dist::fmt_num(r)
                            ),
                        );
                        return None;
                    }
                    // The mean is 1 / rate: refuse here a rate whose mean is out of range,
                    // so the message names the field the user wrote.
                    let (lo, hi) = (1.0 / crate::dist::MAX_SECONDS, 1.0 / MIN_MEAN_SECONDS);
                    if !(lo..=hi).contains(&r) {
                        self.err(
                            format!("{path}.rate"),
                            format!(
                                "{} per second is out of range: allowed from {lo:e} to {hi:e} per second",
                                crate::dist::fmt_num(r)
                            ),
                        );
                        return None;
                    }
                    DistKind::Exponential { mean: 1.0 / r }
                }
                (Some(_), Some(_)) => {
                    self.err(path, "give either `mean` or `rate` for an exponential, not both");
                    return None;
                }
                (None, None) => {
                    self.err(
                        path,
                        "an exponential needs `mean` (a duration) or `rate` (per second)",
                    );
                    return None;
                }
            },
            RawDist::Constant { value } => DistKind::Constant { value: value.0 },
            RawDist::Uniform { min, max } => DistKind::Uniform { min: min.0, max: max.0 },
            RawDist::Erlang { k, mean } => {
                if !(1..=u32::MAX as i64).contains(&k) {
                    self.err(format!("{path}.k"), format!("must be an integer >= 1, got {k}"));
                    return None;
                }
                DistKind::Erlang { k: k as u32, mean: mean.0 }
            }
            RawDist::Gamma { shape, mean } => DistKind::Gamma { shape, mean: mean.0 },
            RawDist::Lognormal { mean, cv } => DistKind::LogNormal { mean: mean.0, cv },
            RawDist::Weibull { shape, mean } => DistKind::Weibull { shape, mean: mean.0 },
            RawDist::Pareto { shape, mean } => DistKind::Pareto { shape, mean: mean.0 },
            RawDist::Hyperexponential { mean, cv } => {
                DistKind::HyperExponential { mean: mean.0, cv }
            }
            RawDist::Empirical { ref file } => {
                let values = self.files.read(file).and_then(|text| files::numbers(&text, file));
                match values {
                    Ok(v) => DistKind::Empirical { values: v.into() },
                    Err(e) => {
                        self.err(format!("{path}.file"), e);
                        return None;
                    }
                }
            }
        };
        match Dist::new(kind) {
            Ok(d) => Some(d),
            Err(e) => {
                self.err(format!("{path}.{}", e.param), e.message);
                None
            }
        }
    }

    /// A rate per second: finite, > 0 (or ≥ 0 with `zero_ok`), and with a mean gap in range.
    fn rate(&mut self, path: &str, r: f64, zero_ok: bool) -> bool {
        let hi = 1.0 / MIN_MEAN_SECONDS;
        let ok = r.is_finite() && (if zero_ok { r >= 0.0 } else { r > 0.0 }) && r <= hi;
        if !ok {
            self.err(
                path,
                format!(
                    "must be a rate {} per second (at most {hi:e}), got {}",
                    if zero_ok { ">= 0" } else { "> 0" },
                    crate::dist::fmt_num(r)
                ),
            );
        }
        ok
    }

    /// `arrival`: a renewal process or one of the second edition's processes.
    fn arrival(&mut self, path: &str, raw: &RawArrival, horizon: f64) -> Option<Arrival> {
        let process = match raw {
            RawArrival::Renewal(d) => return self.dist(path, d).map(Arrival::Renewal),
            RawArrival::Process(p) => p,
        };
        match process {
            RawProcess::Schedule { period, rates } => {
                let period = self.positive_secs(&format!("{path}.period"), period.0);
                if rates.is_empty() {
                    self.err(
                        format!("{path}.rates"),
                        "needs at least one { at = \"0h\", rate = … }",
                    );
                    return None;
                }
                let mut ok = period.is_finite() && period > 0.0;
                let mut last = None;
                for (i, pt) in rates.iter().enumerate() {
                    let at = pt.at.0;
                    let at_path = format!("{path}.rates[{i}].at");
                    if i == 0 && at != 0.0 {
                        self.err(
                            &at_path,
                            format!(
                                "the first piece must start at 0, got {} s",
                                crate::dist::fmt_num(at)
                            ),
                        );
                        ok = false;
                    } else if !(at.is_finite() && at >= 0.0 && at < period) {
                        self.err(
                            &at_path,
                            format!(
                                "must be a time from 0 to below the period ({period} s), got {} s",
                                crate::dist::fmt_num(at)
                            ),
                        );
                        ok = false;
                    } else if let Some(prev) = last
                        && at <= prev
                    {
                        self.err(
                            &at_path,
                            format!("must be later than rates[{}].at ({prev} s): list the pieces in time order", i - 1),
                        );
                        ok = false;
                    }
                    last = Some(at);
                    ok &= self.rate(&format!("{path}.rates[{i}].rate"), pt.rate, true);
                }
                ok.then(|| {
                    Arrival::Schedule(Schedule::new(
                        period,
                        rates.iter().map(|p| p.at.0).collect(),
                        rates.iter().map(|p| p.rate).collect(),
                    ))
                })
            }
            RawProcess::Sinusoid { mean_rate, amplitude, period } => {
                let mut ok = self.rate(&format!("{path}.mean_rate"), *mean_rate, false);
                if !(0.0..=1.0).contains(amplitude) {
                    self.err(
                        format!("{path}.amplitude"),
                        format!(
                            "must be from 0 to 1 (a rate never below 0), got {}",
                            crate::dist::fmt_num(*amplitude)
                        ),
                    );
                    ok = false;
                }
                let period = self.positive_secs(&format!("{path}.period"), period.0);
                ok &= period.is_finite() && period > 0.0;
                ok.then_some(Arrival::Sinusoid {
                    mean_rate: *mean_rate,
                    amplitude: *amplitude,
                    period,
                })
            }
            RawProcess::Mmpp { states } => {
                if states.is_empty() {
                    self.err(
                        format!("{path}.states"),
                        "needs at least one { rate = …, mean_duration = … }",
                    );
                    return None;
                }
                let mut ok = true;
                for (i, st) in states.iter().enumerate() {
                    ok &= self.rate(&format!("{path}.states[{i}].rate"), st.rate, true);
                    let d = st.mean_duration.0;
                    if !(d.is_finite()
                        && (MIN_MEAN_SECONDS..=crate::dist::MAX_SECONDS).contains(&d))
                    {
                        self.err(
                            format!("{path}.states[{i}].mean_duration"),
                            format!("must be a duration > 0, got {} s", crate::dist::fmt_num(d)),
                        );
                        ok = false;
                    }
                }
                if ok && states.iter().all(|s| s.rate == 0.0) {
                    self.err(format!("{path}.states"), "at least one state needs a rate > 0");
                    ok = false;
                }
                ok.then(|| {
                    Arrival::Mmpp(Mmpp {
                        rates: states.iter().map(|s| s.rate).collect(),
                        mean_durations: states.iter().map(|s| s.mean_duration.0).collect(),
                    })
                })
            }
            RawProcess::Trace { file } => {
                match self.files.read(file).and_then(|text| files::trace_times(&text, file)) {
                    Ok(times) => {
                        let within = times.iter().filter(|&&t| t <= horizon).count();
                        let mean_rate = within as f64 / horizon;
                        Some(Arrival::Trace(Trace { times: times.into(), mean_rate }))
                    }
                    Err(e) => {
                        self.err(format!("{path}.file"), e);
                        None
                    }
                }
            }
        }
    }

    fn unique<'n>(&mut self, kind: &str, names: impl Iterator<Item = &'n str>) {
        let mut seen: HashMap<&str, usize> = HashMap::new();
        for (i, n) in names.enumerate() {
            if n.is_empty() {
                self.err(format!("{kind}[{i}].name"), "must not be empty");
            } else if n.len() > MAX_NAME_BYTES {
                self.err(format!("{kind}[{i}].name"), too_long(n));
            } else if let Some(first) = seen.insert(n, i) {
                self.err(
                    format!("{kind}[{i}].name"),
                    format!("duplicate name \"{n}\" (already used by {kind}[{first}])"),
                );
            }
        }
    }
}

/// Longest name or key accepted, bytes: AMQP 0-9-1 carries queue, exchange and consumer
/// names and routing keys as short strings (at most 255 bytes), so nothing longer could
/// exist on a real broker, and every report stays readable.
pub const MAX_NAME_BYTES: usize = 255;

fn too_long(s: &str) -> String {
    let head: String = s.chars().take(20).collect();
    format!(
        "\"{head}…\" is {} bytes long; names and keys are limited to {MAX_NAME_BYTES} bytes (an AMQP short string)",
        s.len()
    )
}

fn suggest<'n>(known: impl Iterator<Item = &'n str>) -> String {
    let known: Vec<&str> = known.filter(|k| !k.is_empty()).collect();
    if known.is_empty() {
        " (none are declared)".to_string()
    } else {
        format!(
            " (declared: {})",
            known.iter().map(|k| format!("\"{k}\"")).collect::<Vec<_>>().join(", ")
        )
    }
}

/// Most consumers one group may have. A million is beyond any broker's connections (and
/// about 200 MB per replication running at ~200 bytes each); `count = 1000000000` used to be
/// accepted and abort allocating.
pub const MAX_CONSUMERS: i64 = 1_000_000;

/// A consumer group's `count`: an integer from 1 to [`MAX_CONSUMERS`].
fn consumer_count(c: &mut Checker, path: &str, v: i64) -> Option<u32> {
    if (1..=MAX_CONSUMERS).contains(&v) {
        Some(v as u32)
    } else {
        c.err(
            path,
            format!(
                "must be an integer from 1 to {MAX_CONSUMERS} (consumers in the group), got {v}"
            ),
        );
        None
    }
}

fn nonneg_int(c: &mut Checker, path: &str, v: i64, min: i64) -> Option<u64> {
    if v < min {
        c.err(path, format!("must be an integer >= {min}, got {v}"));
        None
    } else {
        Some(v as u64)
    }
}

impl Model {
    /// Parses and validates a scenario. `origin` names the text in messages (the file
    /// path); its stem is the default scenario name.
    pub fn from_toml(text: &str, origin: &str) -> Result<Model, ScenarioError> {
        Model::from_toml_with_files(text, origin, &NoFiles)
    }

    /// [`Model::from_toml`] for a scenario that may name files (a `trace`, an `empirical`
    /// distribution): `files` reads them, by the path as written.
    pub fn from_toml_with_files(
        text: &str,
        origin: &str,
        files: &dyn Files,
    ) -> Result<Model, ScenarioError> {
        let mut c = Checker { loc: Locator::new(text), problems: Vec::new(), files };
        let raw: RawScenario = match parse_raw(text, &c.loc) {
            Ok(r) => r,
            Err(p) => return Err(ScenarioError { origin: origin.to_string(), problems: vec![p] }),
        };
        let model = resolve(&mut c, raw, origin);
        match model {
            Some(m) if c.problems.is_empty() => Ok(m),
            _ => {
                let mut problems = c.problems;
                problems.sort_by_key(|p| p.line.unwrap_or(usize::MAX));
                Err(ScenarioError { origin: origin.to_string(), problems })
            }
        }
    }
}

fn parse_raw(text: &str, loc: &Locator) -> Result<RawScenario, Problem> {
    let de = toml::Deserializer::parse(text).map_err(|e| Problem {
        path: String::new(),
        line: e.span().map(|s| loc.line_of(s.start)),
        message: e.message().trim().to_string(),
    })?;
    serde_path_to_error::deserialize(de).map_err(|e| {
        let path = e.path().to_string();
        let inner = e.into_inner();
        let path = if path == "." { String::new() } else { path };
        let line = inner.span().map(|s| loc.line_of(s.start)).or_else(|| loc.line(&path));
        Problem { line, path, message: user_words(inner.message().trim()) }
    })
}

/// serde names the Rust type it expected (`expected internally tagged enum RawDist`); a
/// user knows the file, not the code, so each type is replaced by what to write.
fn user_words(message: &str) -> String {
    const WORDS: &[(&str, &str)] = &[
        (
            "internally tagged enum RawProcess",
            "an arrival process table like { process = \"mmpp\", states = [...] }",
        ),
        ("struct RawRatePoint", "a table like { at = \"8h\", rate = 60 }"),
        ("struct RawMmppState", "a table like { rate = 14, mean_duration = \"20s\" }"),
        ("struct RawWeightedKey", "a table like { key = \"order.eu\", weight = 3 }"),
        (
            "data did not match any variant of untagged enum RawPriority",
            "expected an integer 0..=255 or a table like { values = [9, 1], weights = [0.25, 0.75] }",
        ),
        ("struct RawWeighted", "a table like { values = [9, 1], weights = [0.25, 0.75] }"),
        ("struct RawFailure", "a table like { probability = 0.05, action = \"requeue\" }"),
        ("enum RawFailureAction", "\"requeue\" or \"reject\""),
        (
            "struct RawCrash",
            "a table like { every = { dist = \"exponential\", mean = \"1h\" }, restart = { dist = \"constant\", value = \"30s\" } }",
        ),
        (
            "internally tagged enum RawDist",
            "a distribution table like { dist = \"exponential\", mean = \"100ms\" }",
        ),
        ("struct RawScenario", "a scenario document with a [simulation] table"),
        ("struct RawSimulation", "a [simulation] table like { horizon = \"1h\" }"),
        ("struct RawProducer", "a [[producers]] table with name, routing_key and arrival"),
        ("struct RawExchange", "an [[exchanges]] table with name and type"),
        ("struct RawBinding", "a binding table like { exchange = \"events\", key = \"order.*\" }"),
        ("struct RawQueue", "a [[queues]] table with a name"),
        (
            "struct RawConsumer",
            "a [[consumers]] table with name, queue (or topic), count and service",
        ),
        ("struct RawTopic", "a [[topics]] table with name and partitions"),
        (
            "internally tagged enum RawKeys",
            "a key table like { dist = \"uniform\", count = 1000 }, { dist = \"zipf\", count = 1000, exponent = 1.1 } or { dist = \"none\" }",
        ),
        ("enum RawAssignment", "\"range\", \"round-robin\" or \"cooperative-sticky\""),
        ("struct RawThen", "a table like { exchange = \"\", routing_key = \"next-queue\" }"),
        ("struct RawLoadtest", "a [loadtest] table like { time_scale = 0.05 }"),
        ("enum RawOverflow", "\"drop-head\", \"reject-publish\" or \"reject-publish-dlx\""),
        ("enum RawAck", "\"manual\" or \"auto\""),
        ("enum ExchangeKind", "\"direct\", \"fanout\" or \"topic\""),
        ("enum RawWarmup", "a duration or \"auto\""),
    ];
    WORDS.iter().fold(message.to_string(), |m, (from, to)| m.replace(from, to))
}

/// Checks `raw` and resolves it into a [`Model`], reporting every problem into `c`. Returns
/// `None` when something could not be resolved; `c` then holds at least one problem. The
/// parts run in file-contract order and each reports what it finds, so one pass lists
/// every problem (the cycle check alone needs a complete model, so it runs last).
fn resolve(c: &mut Checker, raw: RawScenario, origin: &str) -> Option<Model> {
    let mut warnings = Vec::new();
    let simulation = resolve_simulation(c, &raw.simulation, raw.queues.len());
    let loadtest = resolve_loadtest(c, raw.loadtest.as_ref());
    check_unique_names(c, &raw);

    let queue_names: Vec<&str> = raw.queues.iter().map(|q| q.name.as_str()).collect();
    let (exchanges, mut router) = resolve_exchanges(&raw.exchanges, &queue_names);
    let mut queues = resolve_queues(c, &raw, &mut router, &mut warnings);
    let publish = PublishResolver { router: &router, exchanges: &raw.exchanges };
    let producers =
        resolve_producers(c, &raw.producers, &publish, simulation.horizon, &mut warnings);
    let groups =
        resolve_groups(c, &raw.consumers, &queue_names, &publish, &mut queues, &mut warnings);
    if !c.problems.is_empty() {
        return None;
    }
    let mut producers = producers;
    let mut groups = groups;
    let keys = resolve_dead_letters(c, &raw, &router, &mut queues, &mut producers, &mut groups);
    let topics = topics::resolve(c, &raw);
    if !c.problems.is_empty() {
        return None;
    }
    warn_unconsumed_queues(&queues, &producers, &groups, &mut warnings);

    let name = raw.name.clone().unwrap_or_else(|| {
        std::path::Path::new(origin)
            .file_stem()
            .map_or_else(|| "scenario".to_string(), |s| s.to_string_lossy().into_owned())
    });
    let model = Model {
        name,
        description: raw.description.clone(),
        simulation,
        loadtest,
        loadtest_declared: raw.loadtest.is_some(),
        producers,
        exchanges,
        router,
        queues,
        groups,
        warnings,
        keys,
        topics,
    };
    check_then_cycles(c, &model).then_some(model)
}

/// `[simulation]`: horizon, warm-up (fixed, or `auto` for the simulator to choose),
/// replications and seed.
fn resolve_simulation(c: &mut Checker, s: &RawSimulation, queues: usize) -> Simulation {
    let horizon = c.positive_secs("simulation.horizon", s.horizon.0);
    let warmup = match s.warmup {
        None => 0.0,
        Some(RawWarmup::Fixed(w)) => {
            if !(w.0.is_finite() && w.0 >= 0.0) {
                c.err("simulation.warmup", format!("must be a duration >= 0, got {} s", w.0));
            } else if w.0 >= horizon {
                c.err(
                    "simulation.warmup",
                    format!("({} s) must be shorter than simulation.horizon ({horizon} s)", w.0),
                );
            }
            w.0
        }
        Some(RawWarmup::Auto) => 0.0,
    };
    let replications = s.replications.unwrap_or(10);
    if !(1..=1_000_000).contains(&replications) {
        c.err(
            "simulation.replications",
            format!("must be between 1 and 1000000, got {replications}"),
        );
    }
    if let Some(p) = s.precision
        && !(p.is_finite() && p > 0.0 && p < 1.0)
    {
        c.err(
            "simulation.precision",
            format!("must be a fraction between 0 and 1 (0.02 = a half-width of 2% of the mean), got {p}"),
        );
    }
    let max_replications = match (s.max_replications, s.precision) {
        (Some(_), None) => {
            c.err(
                "simulation.max_replications",
                "only applies with simulation.precision (set precision = 0.02, say, or remove it)",
            );
            1
        }
        (Some(m), Some(_)) if !(1..=1_000_000).contains(&m) || m < replications => {
            c.err(
                "simulation.max_replications",
                format!(
                    "must be between simulation.replications ({replications}, the first batch) and 1000000, got {m}"
                ),
            );
            1
        }
        (Some(m), Some(_)) => m as u32,
        (None, _) => DEFAULT_MAX_REPLICATIONS.max(replications.clamp(1, 1_000_000) as u32),
    };
    let sim = Simulation {
        horizon,
        warmup,
        warmup_auto: matches!(s.warmup, Some(RawWarmup::Auto)),
        replications: replications.clamp(1, 1_000_000) as u32,
        seed: s.seed.unwrap_or(1),
        window: s.window.map(|w| w.0),
        precision: s.precision,
        max_replications,
    };
    if let Some(w) = sim.window
        && horizon > 0.0
        && let Err(e) = sim.check_window(w, queues)
    {
        c.err("simulation.window", e);
    }
    sim
}

/// `[loadtest]` (optional): time scale, real horizon and warm-up, with their defaults.
fn resolve_loadtest(c: &mut Checker, l: Option<&RawLoadtest>) -> Loadtest {
    let time_scale = l.and_then(|l| l.time_scale).unwrap_or(1.0);
    if !(time_scale.is_finite() && time_scale > 0.0) {
        c.err(
            "loadtest.time_scale",
            format!("must be > 0 (real seconds per simulated second), got {time_scale}"),
        );
    }
    let lh = l.and_then(|l| l.horizon).map_or(30.0, |h| h.0);
    c.positive_secs("loadtest.horizon", lh);
    let lw = l.and_then(|l| l.warmup).map_or(lh / 10.0, |w| w.0);
    if !(lw.is_finite() && lw >= 0.0 && lw < lh) {
        c.err(
            "loadtest.warmup",
            format!("must be >= 0 and shorter than loadtest.horizon ({lh} s), got {lw} s"),
        );
    }
    Loadtest { time_scale, horizon: lh, warmup: lw }
}

/// Names are how the file refers to things: each kind's names must be non-empty and unique.
fn check_unique_names(c: &mut Checker, raw: &RawScenario) {
    c.unique("producers", raw.producers.iter().map(|p| p.name.as_str()));
    c.unique("exchanges", raw.exchanges.iter().map(|e| e.name.as_str()));
    c.unique("queues", raw.queues.iter().map(|q| q.name.as_str()));
    c.unique("consumers", raw.consumers.iter().map(|g| g.name.as_str()));
    c.unique("topics", raw.topics.iter().map(|t| t.name.as_str()));
}

/// Declares every exchange in a fresh router over the queues (a duplicate or empty name is
/// declared once: [`check_unique_names`] reports it). The declarations are kept as written.
fn resolve_exchanges(raw: &[RawExchange], queue_names: &[&str]) -> (Vec<ExchangeDecl>, Router) {
    let mut router = Router::new(queue_names);
    let mut exchanges = Vec::new();
    for e in raw {
        if !e.name.is_empty() && router.exchange_id(&e.name).is_none() {
            router.declare(&e.name, e.kind);
        }
        exchanges.push(ExchangeDecl { name: e.name.clone(), kind: e.kind });
    }
    (exchanges, router)
}

/// Queues with their bindings (bound into `router`), length limit and overflow policy; their
/// consumer groups are filled in by [`resolve_groups`].
fn resolve_queues(
    c: &mut Checker,
    raw: &RawScenario,
    router: &mut Router,
    warnings: &mut Vec<String>,
) -> Vec<Queue> {
    let exchange_names = || raw.exchanges.iter().map(|e| e.name.as_str());
    let mut queues = Vec::new();
    for (qi, q) in raw.queues.iter().enumerate() {
        let mut bindings = Vec::new();
        for (bi, b) in q.bindings.iter().enumerate() {
            if b.key.len() > MAX_NAME_BYTES {
                c.err(format!("queues[{qi}].bindings[{bi}].key"), too_long(&b.key));
                continue;
            }
            let path = format!("queues[{qi}].bindings[{bi}].exchange");
            if b.exchange.is_empty() {
                c.err(
                    path,
                    "cannot bind to the default exchange \"\": it already routes by queue name",
                );
                continue;
            }
            match router.exchange_id(&b.exchange) {
                Some(ex) => {
                    router.bind(ex, &b.key, qi).expect("declared exchange accepts bindings");
                    bindings.push((ex, b.key.clone()));
                }
                None => c.err(
                    path,
                    format!("no exchange named \"{}\"{}", b.exchange, suggest(exchange_names())),
                ),
            }
        }
        let max_length =
            q.max_length.and_then(|m| nonneg_int(c, &format!("queues[{qi}].max_length"), m, 0));
        let overflow = match q.overflow {
            None | Some(RawOverflow::DropHead) => Overflow::DropHead,
            Some(RawOverflow::RejectPublish) => Overflow::RejectPublish,
            Some(RawOverflow::RejectPublishDlx) => Overflow::RejectPublishDlx,
        };
        let path = format!("queues[{qi}]");
        let message_ttl = q.message_ttl.map(|t| c.ttl(&format!("{path}.message_ttl"), t.0));
        let max_priority = q.max_priority.and_then(|p| {
            if (1..=255).contains(&p) {
                Some(p as u8)
            } else {
                c.err(format!("{path}.max_priority"), format!("must be from 1 to 255, got {p}"));
                None
            }
        });
        let delivery_limit = q.delivery_limit.and_then(|l| {
            if (1..=i64::from(u32::MAX)).contains(&l) {
                Some(l as u32)
            } else {
                c.err(
                    format!("{path}.delivery_limit"),
                    format!("must be an integer >= 1 (deliveries allowed per message), got {l}"),
                );
                None
            }
        });
        if q.dead_letter_exchange.is_none() {
            for (field, v) in [
                ("dead_letter_routing_key", &q.dead_letter_routing_key),
                ("delivery_limit_routing_key", &q.delivery_limit_routing_key),
            ] {
                if v.is_some() {
                    c.err(format!("{path}.{field}"), "needs a dead_letter_exchange");
                }
            }
        }
        if q.delivery_limit_routing_key.is_some() && q.delivery_limit.is_none() {
            c.err(format!("{path}.delivery_limit_routing_key"), "needs a delivery_limit");
        }
        let initial_messages = q.initial_messages.and_then(|n| {
            let n = nonneg_int(c, &format!("{path}.initial_messages"), n, 0)?;
            if let Some(max) = max_length
                && n > max
            {
                c.err(
                    format!("{path}.initial_messages"),
                    format!(
                        "{n} is more than max_length ({max}): the backlog must fit in the queue"
                    ),
                );
                return None;
            }
            Some(n)
        });
        if q.overflow.is_some() && q.max_length.is_none() {
            warnings.push(format!(
                "queues[{qi}] \"{}\": `overflow` has no effect without `max_length`",
                q.name
            ));
        }
        queues.push(Queue {
            name: q.name.clone(),
            max_length,
            overflow,
            groups: Vec::new(),
            message_ttl,
            max_priority,
            delivery_limit,
            dead_letter: None,
            bindings,
            initial_messages,
            initial_key: 0,
        });
    }
    queues
}

/// Resolves a publish point (a producer, or a group's `then`) through the finished router:
/// its keys are fixed, so its routes are computed once here and never per message.
struct PublishResolver<'a> {
    router: &'a Router,
    exchanges: &'a [RawExchange],
}

impl PublishResolver<'_> {
    /// The exchange id and the queues `key` reaches on `exchange`; `None` (reported at
    /// `{path}.exchange`) when no such exchange is declared.
    fn resolve(
        &self,
        c: &mut Checker,
        path: &str,
        exchange: &str,
        key: &str,
    ) -> Option<(ExchangeId, Vec<QueueId>)> {
        if key.len() > MAX_NAME_BYTES {
            c.err(format!("{path}.routing_key"), too_long(key));
            return None;
        }
        match self.router.exchange_id(exchange) {
            Some(ex) => Some((ex, self.router.route(ex, key))),
            None => {
                let declared = suggest(self.exchanges.iter().map(|e| e.name.as_str()));
                c.err(
                    format!("{path}.exchange"),
                    format!("no exchange named \"{exchange}\"{declared}"),
                );
                None
            }
        }
    }
}

/// Producers: arrival process, batches and routes. A producer with a problem is left out
/// (the problem is reported, so no model is built).
fn resolve_producers(
    c: &mut Checker,
    raw: &[RawProducer],
    publish: &PublishResolver,
    horizon: f64,
    warnings: &mut Vec<String>,
) -> Vec<Producer> {
    let mut producers = Vec::new();
    for (pi, p) in raw.iter().enumerate() {
        let path = format!("producers[{pi}]");
        if p.topic.is_some() {
            // A topic's producer: `topics::resolve` checks it.
            continue;
        }
        if p.keys.is_some() {
            c.err(format!("{path}.keys"), "needs `topic`: keys pick a topic's partition");
        }
        let arrival = c.arrival(&format!("{path}.arrival"), &p.arrival, horizon);
        let batch = match &p.batch {
            None => Some(None),
            Some(b) => c.dist(&format!("{path}.batch"), b).and_then(|d| {
                // A drawn size is rounded and raised to 1, but a constant that rounds to 0
                // asks for empty publishes: a mistake to report, not to round away.
                if let DistKind::Constant { value } = d.kind()
                    && value.round() < 1.0
                {
                    c.err(
                        format!("{path}.batch.value"),
                        format!(
                            "a publish carries at least 1 message, got a batch of {}",
                            crate::dist::fmt_num(*value)
                        ),
                    );
                    return None;
                }
                Some(Some(d))
            }),
        };
        let Some(keys) = resolve_keys(c, &path, p) else { continue };
        let mut resolved = Vec::new();
        for (ki, (key_path, key, _)) in keys.iter().enumerate() {
            let r = publish.resolve(c, key_path, &p.exchange, key);
            if ki == 0 || r.is_some() {
                resolved.push(r);
            }
        }
        if resolved.iter().any(Option::is_none) {
            continue;
        }
        let resolved: Vec<(ExchangeId, Vec<QueueId>)> = resolved.into_iter().flatten().collect();
        let (Some(arrival), Some(batch)) = (arrival, batch) else { continue };
        let exchange = resolved[0].0;
        for ((_, key, _), (_, routes)) in keys.iter().zip(&resolved) {
            if routes.is_empty() {
                warnings.push(format!(
                    "{path} \"{}\": routing key \"{key}\" on exchange \"{}\" matches no queue; every publish{} will be unroutable",
                    p.name,
                    p.exchange,
                    if keys.len() > 1 { " with that key" } else { "" }
                ));
            }
        }
        if let Arrival::Schedule(s) = &arrival
            && s.mean_rate() == 0.0
        {
            warnings.push(format!(
                "{path} \"{}\": every rate of its schedule is 0; it never publishes",
                p.name
            ));
        }
        let ttl = p.ttl.map(|t| c.ttl(&format!("{path}.ttl"), t.0));
        let publish_delay =
            p.publish_delay.map_or(0.0, |d| c.ttl(&format!("{path}.publish_delay"), d.0));
        let Some(priority) = resolve_priority(c, &format!("{path}.priority"), &p.priority) else {
            continue;
        };
        let mut routes: Vec<QueueId> = Vec::new();
        for (_, r) in &resolved {
            for &q in r {
                if !routes.contains(&q) {
                    routes.push(q);
                }
            }
        }
        let weighted_keys = if p.routing_keys.is_some() {
            let total: f64 = keys.iter().map(|k| k.2).sum();
            let mut acc = 0.0;
            let mut wk: Vec<WeightedKey> = keys
                .iter()
                .zip(&resolved)
                .map(|((_, key, w), (_, r))| {
                    acc += w / total;
                    WeightedKey {
                        routing_key: key.clone(),
                        routes: r.clone(),
                        key: 0,
                        cumulative: acc,
                        share: w / total,
                    }
                })
                .collect();
            if let Some(last) = wk.last_mut() {
                last.cumulative = 1.0;
            }
            wk
        } else {
            Vec::new()
        };
        producers.push(Producer {
            name: p.name.clone(),
            exchange,
            routing_key: keys[0].1.clone(),
            arrival,
            batch,
            routes,
            key: 0,
            weighted_keys,
            ttl,
            priority,
            publish_delay,
        });
    }
    producers
}

/// A producer's keys as `(field path, key, weight)`: its one `routing_key` (weight 1), or
/// its weighted `routing_keys`. `None` (reported) when both are given or a weight is bad.
fn resolve_keys(
    c: &mut Checker,
    path: &str,
    p: &RawProducer,
) -> Option<Vec<(String, String, f64)>> {
    match (&p.routing_key, &p.routing_keys) {
        (Some(_), Some(_)) => {
            c.err(
                format!("{path}.routing_keys"),
                "give either `routing_key` or weighted `routing_keys`, not both",
            );
            None
        }
        (None, Some(ks)) => {
            if ks.is_empty() {
                c.err(
                    format!("{path}.routing_keys"),
                    "needs at least one { key = \"…\", weight = … }",
                );
                return None;
            }
            let mut ok = true;
            for (i, k) in ks.iter().enumerate() {
                if !(k.weight.is_finite() && k.weight >= 0.0) {
                    c.err(
                        format!("{path}.routing_keys[{i}].weight"),
                        format!("must be a weight >= 0, got {}", crate::dist::fmt_num(k.weight)),
                    );
                    ok = false;
                }
            }
            let total: f64 = ks.iter().map(|k| k.weight).sum();
            if ok && !(total.is_finite() && total > 0.0) {
                c.err(
                    format!("{path}.routing_keys"),
                    "the weights must add up to a positive number",
                );
                ok = false;
            }
            ok.then(|| {
                ks.iter()
                    .enumerate()
                    .map(|(i, k)| (format!("{path}.routing_keys[{i}]"), k.key.clone(), k.weight))
                    .collect()
            })
        }
        (key, None) => Some(vec![(path.to_string(), key.clone().unwrap_or_default(), 1.0)]),
    }
}

/// Consumer groups: queue, count, prefetch, ack mode, service and onward publish; each
/// group is listed in its queue's `groups`. A group with a problem is left out (the
/// problem is reported, so no model is built).
fn resolve_groups(
    c: &mut Checker,
    raw: &[RawConsumer],
    queue_names: &[&str],
    publish: &PublishResolver,
    queues: &mut [Queue],
    warnings: &mut Vec<String>,
) -> Vec<ConsumerGroup> {
    let mut groups = Vec::new();
    for (gi, g) in raw.iter().enumerate() {
        let path = format!("consumers[{gi}]");
        if g.topic.is_some() {
            // A topic's group: `topics::resolve` checks it.
            continue;
        }
        let Some(queue_name) = &g.queue else {
            c.err(
                &path,
                "needs `queue` (a queue's consumer group) or `topic` (a topic's consumer group)",
            );
            continue;
        };
        let queue = queue_names.iter().position(|q| q == queue_name);
        if queue.is_none() {
            c.err(
                format!("{path}.queue"),
                format!("no queue named \"{queue_name}\"{}", suggest(queue_names.iter().copied())),
            );
        }
        topics::refuse_topic_fields(c, &path, g);
        let count = consumer_count(c, &format!("{path}.count"), g.count);
        let prefetch = nonneg_int(c, &format!("{path}.prefetch"), g.prefetch.unwrap_or(0), 0)
            .map(|p| p.min(u64::from(u32::MAX)) as u32);
        let service = c.dist(&format!("{path}.service"), &g.service);
        let then = match &g.then {
            None => Some(None),
            Some(t) => publish.resolve(c, &format!("{path}.then"), &t.exchange, &t.routing_key).map(|(exchange, routes)| {
                if routes.is_empty() {
                    warnings.push(format!(
                        "{path}.then: routing key \"{}\" on exchange \"{}\" matches no queue; onward publishes will be unroutable",
                        t.routing_key, t.exchange
                    ));
                }
                Some(Then { exchange, routing_key: t.routing_key.clone(), routes, key: 0 })
            }),
        };
        let ack = match g.ack {
            None | Some(RawAck::Manual) => Ack::Manual,
            Some(RawAck::Auto) => Ack::Auto,
        };
        let failure = g.failure.as_ref().and_then(|f| {
            let p = f.probability;
            if !(0.0..=1.0).contains(&p) {
                c.err(
                    format!("{path}.failure.probability"),
                    format!("must be a probability from 0 to 1, got {}", crate::dist::fmt_num(p)),
                );
                return None;
            }
            if ack == Ack::Auto {
                c.err(
                    format!("{path}.failure"),
                    "needs ack = \"manual\": an auto-ack delivery is settled when it is delivered, so it cannot be nacked",
                );
                return None;
            }
            Some(Failure { probability: p, requeue: matches!(f.action, RawFailureAction::Requeue) })
        });
        let crash = match &g.crash {
            None => Some(None),
            Some(cr) => {
                let every = c.dist(&format!("{path}.crash.every"), &cr.every);
                let restart = c.dist(&format!("{path}.crash.restart"), &cr.restart);
                if let Some(e) = &every
                    && e.mean() <= 0.0
                {
                    c.err(
                        format!("{path}.crash.every"),
                        "must have a mean > 0 (up time between crashes)",
                    );
                }
                every.zip(restart).map(|(every, restart)| Some(Crash { every, restart }))
            }
        };
        let network_delay = match g.network_delay {
            None => 0.0,
            Some(d) => {
                let path = format!("{path}.network_delay");
                let d = c.ttl(&path, d.0);
                if d > 0.0 && g.crash.is_some() {
                    // What a crash does to deliveries and acks still on the wire is a model
                    // of its own (which acks made it before the connection died?); refused
                    // rather than guessed.
                    c.err(path, "cannot be combined with `crash` (acks in transit when a consumer crashes are not modelled)");
                }
                d
            }
        };
        if g.failure.is_some() && failure.is_none() {
            continue;
        }
        if let (Some(queue), Some(count), Some(prefetch), Some(service), Some(then), Some(crash)) =
            (queue, count, prefetch, service, then, crash)
        {
            queues[queue].groups.push(groups.len());
            groups.push(ConsumerGroup {
                name: g.name.clone(),
                queue,
                count,
                prefetch,
                ack,
                service,
                then,
                failure,
                crash,
                network_delay,
            });
        }
    }
    groups
}

/// `priority`: a fixed value or weighted values, each 0..=255.
fn resolve_priority(c: &mut Checker, path: &str, raw: &Option<RawPriority>) -> Option<Priority> {
    let value = |c: &mut Checker, path: String, v: i64| -> Option<u8> {
        u8::try_from(v).ok().or_else(|| {
            c.err(path, format!("must be a priority from 0 to 255, got {v}"));
            None
        })
    };
    match raw {
        None => Some(Priority::Fixed(0)),
        Some(RawPriority::Fixed(v)) => value(c, path.to_string(), *v).map(Priority::Fixed),
        Some(RawPriority::Weighted(w)) => {
            if w.values.is_empty() || w.values.len() != w.weights.len() {
                c.err(
                    path,
                    format!(
                        "needs as many weights as values, at least one each (got {} values, {} weights)",
                        w.values.len(),
                        w.weights.len()
                    ),
                );
                return None;
            }
            let values: Option<Vec<u8>> = w
                .values
                .iter()
                .enumerate()
                .map(|(i, &v)| value(c, format!("{path}.values[{i}]"), v))
                .collect();
            let total: f64 = w.weights.iter().sum();
            if let Some((i, bad)) =
                w.weights.iter().enumerate().find(|(_, x)| !(x.is_finite() && **x >= 0.0))
            {
                c.err(format!("{path}.weights[{i}]"), format!("must be a weight >= 0, got {bad}"));
                return None;
            }
            if !(total.is_finite() && total > 0.0) {
                c.err(format!("{path}.weights"), "must add up to a positive number");
                return None;
            }
            let mut acc = 0.0;
            let mut cumulative: Vec<f64> = w
                .weights
                .iter()
                .map(|x| {
                    acc += x / total;
                    acc
                })
                .collect();
            *cumulative.last_mut().expect("non-empty") = 1.0;
            values.map(|values| Priority::Weighted { values, cumulative })
        }
    }
}

/// Most queues with a dead-letter exchange: a message's dead-letter history is one bit per
/// such queue in a `u32` (kept small: every message in the simulator carries it).
pub const MAX_DEAD_LETTER_QUEUES: usize = 32;

/// Interns every routing key a message can carry and resolves each queue's dead-letter
/// exchange into routes per key. Returns the key table.
fn resolve_dead_letters(
    c: &mut Checker,
    raw: &RawScenario,
    router: &Router,
    queues: &mut [Queue],
    producers: &mut [Producer],
    groups: &mut [ConsumerGroup],
) -> Vec<String> {
    let mut keys: Vec<String> = Vec::new();
    let mut intern = |k: &str| -> KeyId {
        match keys.iter().position(|x| x == k) {
            Some(i) => i as KeyId,
            None => {
                keys.push(k.to_string());
                (keys.len() - 1) as KeyId
            }
        }
    };
    for p in producers.iter_mut() {
        p.key = intern(&p.routing_key);
        for k in &mut p.weighted_keys {
            k.key = intern(&k.routing_key);
        }
    }
    for g in groups.iter_mut() {
        if let Some(t) = g.then.as_mut() {
            t.key = intern(&t.routing_key);
        }
    }
    for q in queues.iter_mut().filter(|q| q.initial_messages.is_some()) {
        q.initial_key = intern(&q.name);
    }
    let mut declared = Vec::new();
    for (qi, q) in raw.queues.iter().enumerate() {
        let Some(ex) = &q.dead_letter_exchange else { continue };
        let path = format!("queues[{qi}]");
        let Some(exchange) = router.exchange_id(ex) else {
            c.err(
                format!("{path}.dead_letter_exchange"),
                format!(
                    "no exchange named \"{ex}\"{}",
                    suggest(raw.exchanges.iter().map(|e| e.name.as_str()))
                ),
            );
            continue;
        };
        let mut key = |field: &str, k: &Option<String>| {
            k.as_ref().and_then(|k| {
                if k.len() > MAX_NAME_BYTES {
                    c.err(format!("{path}.{field}"), too_long(k));
                    None
                } else {
                    Some(intern(k))
                }
            })
        };
        let routing_key = key("dead_letter_routing_key", &q.dead_letter_routing_key);
        let limit_routing_key = key("delivery_limit_routing_key", &q.delivery_limit_routing_key);
        declared.push((qi, exchange, routing_key, limit_routing_key));
    }
    if declared.len() > MAX_DEAD_LETTER_QUEUES {
        c.err(
            format!("queues[{}].dead_letter_exchange", declared[MAX_DEAD_LETTER_QUEUES].0),
            format!("at most {MAX_DEAD_LETTER_QUEUES} queues may have a dead-letter exchange"),
        );
        return keys;
    }
    for (bit, (qi, exchange, routing_key, limit_routing_key)) in declared.into_iter().enumerate() {
        let routes = keys.iter().map(|k| router.route(exchange, k)).collect();
        queues[qi].dead_letter = Some(DeadLetter {
            exchange,
            routing_key,
            limit_routing_key,
            routes,
            cycle_bit: bit as u8,
        });
    }
    keys
}

/// Legal but probably not meant: a queue nobody consumes only grows.
fn warn_unconsumed_queues(
    queues: &[Queue],
    producers: &[Producer],
    groups: &[ConsumerGroup],
    warnings: &mut Vec<String>,
) {
    for (qi, q) in queues.iter().enumerate() {
        // A queue with a TTL and no consumers is a delay queue: its messages expire. A
        // queue that only dead letters reach is a parking lot: kept for people to inspect.
        let published = producers.iter().any(|p| p.routes.contains(&qi))
            || groups.iter().any(|g| g.then.as_ref().is_some_and(|t| t.routes.contains(&qi)));
        let dead_letters_reach = queues.iter().any(|x| {
            x.dead_letter.as_ref().is_some_and(|d| d.routes.iter().any(|r| r.contains(&qi)))
        });
        if q.groups.is_empty() && q.message_ttl.is_none() && (published || !dead_letters_reach) {
            warnings.push(format!(
                "queue \"{}\" has no consumers: its messages will only accumulate",
                q.name
            ));
        }
    }
}

/// Pipelines must end: refuses a `then` chain that returns to a queue it left (every
/// message on it would cycle forever). Reports the first such publish only, searching
/// depth first from each group's queue in group order. Returns whether there is none.
fn check_then_cycles(c: &mut Checker, model: &Model) -> bool {
    for (gi, g) in model.groups.iter().enumerate() {
        let mut seen = HashSet::new();
        let mut stack = vec![g.queue];
        while let Some(q) = stack.pop() {
            if !seen.insert(q) {
                continue;
            }
            for (next_g, nq) in model.onward_edges(q) {
                if nq == g.queue {
                    c.err(
                        format!("consumers[{next_g}].then"),
                        format!(
                            "publishes back to queue \"{}\" (read by consumers[{gi}] \"{}\"): every message would cycle forever",
                            model.queues[nq].name, g.name
                        ),
                    );
                    return false;
                }
                stack.push(nq);
            }
        }
    }
    true
}

impl Model {
    /// Looks a queue up by name.
    pub fn queue_id(&self, name: &str) -> Option<QueueId> {
        self.queues.iter().position(|q| q.name == name)
    }

    /// Looks a consumer group up by name.
    pub fn group_id(&self, name: &str) -> Option<usize> {
        self.groups.iter().position(|g| g.name == name)
    }

    /// Does the scenario use any of the second edition's queue features (TTL,
    /// dead-lettering, priorities, delivery limits, failures, crashes)? Without them every
    /// output stays byte for byte as the first edition's.
    pub fn uses_message_lifecycle(&self) -> bool {
        self.queues.iter().any(|q| {
            q.message_ttl.is_some()
                || q.max_priority.is_some()
                || q.delivery_limit.is_some()
                || q.dead_letter.is_some()
                || q.overflow == Overflow::RejectPublishDlx
        }) || self.producers.iter().any(|p| p.ttl.is_some() || p.priority != Priority::Fixed(0))
            || self.groups.iter().any(|g| g.failure.is_some() || g.crash.is_some())
    }

    /// Does it use what a stationary first-edition scenario never did: a timeline
    /// `window`, arrival processes other than a renewal distribution, `batch`, weighted
    /// `routing_keys` or `initial_messages`? (The simulator compiles their checks out
    /// otherwise.)
    pub fn uses_varied_load(&self) -> bool {
        self.simulation.window.is_some()
            || self.producers.iter().any(|p| {
                !p.arrival.is_renewal() || p.batch.is_some() || !p.weighted_keys.is_empty()
            })
            || self.queues.iter().any(|q| q.initial_messages.is_some())
    }

    /// Can messages in queue `q` expire (a queue TTL, or a producer TTL routed to it)?
    pub fn may_expire(&self, q: QueueId) -> bool {
        self.queues[q].message_ttl.is_some()
            || self.producers.iter().any(|p| p.ttl.is_some() && p.routes.contains(&q))
    }

    /// Total consumers reading queue `q` (all its groups).
    pub fn consumers_on(&self, q: QueueId) -> u32 {
        self.queues[q].groups.iter().map(|&g| self.groups[g].count).sum()
    }
}

#[cfg(test)]
mod tests;
