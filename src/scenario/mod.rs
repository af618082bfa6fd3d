//! The scenario file contract: TOML text → validated, resolved [`Model`].
//!
//! Parsing happens in two steps, as ripgrep turns low-level flags into high-level ones:
//! serde reads the text into raw types that mirror the file (`raw`, unknown fields are
//! errors), then [`Model::from_toml`] checks every value and reference and resolves names
//! into indices, durations into seconds and distributions into samplers. Every problem
//! carries the field path (`consumers[2].service.cv`) and, where it can be found, the line.
//! Nothing here reads files: the caller passes the text and the name to report it under.

mod duration;
mod graph;
mod locate;
mod raw;

pub use duration::parse_duration;

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

/// A source of messages (a renewal process).
#[derive(Debug, Clone)]
pub struct Producer {
    /// Unique name.
    pub name: String,
    /// Exchange published to.
    pub exchange: ExchangeId,
    /// Routing key of every publish.
    pub routing_key: String,
    /// Time between two publishes.
    pub arrival: Dist,
    /// Queues each publish reaches (empty: unroutable), resolved by the [`Router`].
    pub routes: Vec<QueueId>,
}

// The queue semantics' own vocabulary lives with the messaging core; the model uses it.
pub use crate::mq::{Ack, Overflow};

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
}

struct Checker<'a> {
    loc: Locator<'a>,
    problems: Vec<Problem>,
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
        };
        match Dist::new(kind) {
            Ok(d) => Some(d),
            Err(e) => {
                self.err(format!("{path}.{}", e.param), e.message);
                None
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
        let mut c = Checker { loc: Locator::new(text), problems: Vec::new() };
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
    const WORDS: [(&str, &str); 14] = [
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
        ("struct RawConsumer", "a [[consumers]] table with name, queue, count and service"),
        ("struct RawThen", "a table like { exchange = \"\", routing_key = \"next-queue\" }"),
        ("struct RawLoadtest", "a [loadtest] table like { time_scale = 0.05 }"),
        ("enum RawOverflow", "\"drop-head\" or \"reject-publish\""),
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
    let simulation = resolve_simulation(c, &raw.simulation);
    let loadtest = resolve_loadtest(c, raw.loadtest.as_ref());
    check_unique_names(c, &raw);

    let queue_names: Vec<&str> = raw.queues.iter().map(|q| q.name.as_str()).collect();
    let (exchanges, mut router) = resolve_exchanges(&raw.exchanges, &queue_names);
    let mut queues = resolve_queues(c, &raw, &mut router, &mut warnings);
    let publish = PublishResolver { router: &router, exchanges: &raw.exchanges };
    let producers = resolve_producers(c, &raw.producers, &publish, &mut warnings);
    let groups =
        resolve_groups(c, &raw.consumers, &queue_names, &publish, &mut queues, &mut warnings);
    if !c.problems.is_empty() {
        return None;
    }
    warn_unconsumed_queues(&queues, &mut warnings);

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
    };
    check_then_cycles(c, &model).then_some(model)
}

/// `[simulation]`: horizon, warm-up (fixed, or `auto` for the simulator to choose),
/// replications and seed.
fn resolve_simulation(c: &mut Checker, s: &RawSimulation) -> Simulation {
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
    Simulation {
        horizon,
        warmup,
        warmup_auto: matches!(s.warmup, Some(RawWarmup::Auto)),
        replications: replications.clamp(1, 1_000_000) as u32,
        seed: s.seed.unwrap_or(1),
    }
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
                    router.bind(ex, &b.key, qi).expect("declared exchange accepts bindings")
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
        };
        if q.overflow.is_some() && q.max_length.is_none() {
            warnings.push(format!(
                "queues[{qi}] \"{}\": `overflow` has no effect without `max_length`",
                q.name
            ));
        }
        queues.push(Queue { name: q.name.clone(), max_length, overflow, groups: Vec::new() });
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

/// Producers: arrival process and routes. A producer with a problem is left out (the
/// problem is reported, so no model is built).
fn resolve_producers(
    c: &mut Checker,
    raw: &[RawProducer],
    publish: &PublishResolver,
    warnings: &mut Vec<String>,
) -> Vec<Producer> {
    let mut producers = Vec::new();
    for (pi, p) in raw.iter().enumerate() {
        let path = format!("producers[{pi}]");
        let arrival = c.dist(&format!("{path}.arrival"), &p.arrival);
        let publish = publish.resolve(c, &path, &p.exchange, &p.routing_key);
        if let (Some(arrival), Some((exchange, routes))) = (arrival, publish) {
            if routes.is_empty() {
                warnings.push(format!(
                    "{path} \"{}\": routing key \"{}\" on exchange \"{}\" matches no queue; every publish will be unroutable",
                    p.name, p.routing_key, p.exchange
                ));
            }
            producers.push(Producer {
                name: p.name.clone(),
                exchange,
                routing_key: p.routing_key.clone(),
                arrival,
                routes,
            });
        }
    }
    producers
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
        let queue = queue_names.iter().position(|&q| q == g.queue);
        if queue.is_none() {
            c.err(
                format!("{path}.queue"),
                format!("no queue named \"{}\"{}", g.queue, suggest(queue_names.iter().copied())),
            );
        }
        let count = nonneg_int(c, &format!("{path}.count"), g.count, 1);
        let count = count.and_then(|n| {
            u32::try_from(n).ok().or_else(|| {
                c.err(format!("{path}.count"), format!("{n} is too large"));
                None
            })
        });
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
                Some(Then { exchange, routing_key: t.routing_key.clone(), routes })
            }),
        };
        let ack = match g.ack {
            None | Some(RawAck::Manual) => Ack::Manual,
            Some(RawAck::Auto) => Ack::Auto,
        };
        if let (Some(queue), Some(count), Some(prefetch), Some(service), Some(then)) =
            (queue, count, prefetch, service, then)
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
            });
        }
    }
    groups
}

/// Legal but probably not meant: a queue nobody consumes only grows.
fn warn_unconsumed_queues(queues: &[Queue], warnings: &mut Vec<String>) {
    for q in queues {
        if q.groups.is_empty() {
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

    /// Total consumers reading queue `q` (all its groups).
    pub fn consumers_on(&self, q: QueueId) -> u32 {
        self.queues[q].groups.iter().map(|&g| self.groups[g].count).sum()
    }
}

#[cfg(test)]
mod tests;
