//! The analytic back end: closed-form and approximate queueing predictions for every queue
//! of a [`Model`], serialised exactly as the `mqsim analyze --format json` contract.
//!
//! This module owns
//! - the queueing models, one file each, every formula with its textbook source:
//!   [`mod@mmc`] (Erlang B/C, M/M/1, M/M/c with exact wait and sojourn distributions),
//!   [`mod@mmck`] (M/M/c/K for `max_length`, reject-publish and drop-head), [`mod@mg1`]
//!   (Pollaczek–Khinchine, exact M/D/1 wait distribution), [`ggc`] (Allen–Cunneen, Kingman,
//!   GI/M/1 for round-robin dispatch);
//! - the traffic equations of a pipeline (producers → queues → `then` → queues), solved in
//!   one topological pass, with Burke's theorem / Jackson networks where they hold and
//!   Whitt's QNA two-moment approximations where they do not;
//! - the report ([`AnalyticReport`]) and its writers (JSON, table, CSV);
//! - the tutorial's formulas and their verdicts ([`tutorial`]).
//!
//! Nothing here prints, reads files or panics on a valid model: a queue no model covers is
//! reported with `model: null` and a note, a figure a model cannot give is `None`.
//!
//! ## How a queue is mapped to a model (RabbitMQ semantics of the scenario contract)
//! - `prefetch = 1`, manual ack: a consumer takes a message only when idle, so the group is
//!   one pool of `c = Σ count` servers fed from one FIFO queue: M/M/c (or M/G/1, G/G/c).
//!   With `max_length = m` the system holds at most `K = m + c` (m ready + one unacked per
//!   consumer): M/M/c/K.
//! - One consumer (`c = 1`), any prefetch: still one FIFO server; time in its prefetch
//!   buffer counts as wait. With `max_length = m` and prefetch p, `K = m + p`.
//! - `prefetch = 0` (unlimited) or `ack = "auto"`, `c > 1`: the broker pushes each message
//!   to the next consumer round-robin at once, so each consumer is its own FIFO queue fed
//!   every c-th arrival. For Poisson arrivals that is exactly E_c/M/1 per consumer (Erlang-c
//!   interarrivals), solved exactly as GI/M/1; the ready queue stays empty, so
//!   `max_length` never drops anything.
//! - `prefetch = p > 1`, manual ack, `c > 1`: between the two. Messages may wait in a busy
//!   consumer's buffer while another idles, which pooled M/M/c ignores: its figures are a
//!   **lower bound** (for exponential service, a pooled work-conserving FIFO pool minimises
//!   the number waiting), reported with `exact: false`. The p → ∞ limit is the round-robin
//!   model above, given in the notes for reference.
//! - Several groups on one queue with the same service distribution and dispatch regime
//!   are one pool of `Σ count` consumers; each group's onward (`then`) traffic is its share
//!   `count / Σ count` of the throughput (identical consumers serve equal shares). Groups
//!   with different service or regime: `model: null`.

pub mod ggc;
pub mod mg1;
pub mod mmc;
pub mod mmck;
mod numeric;
mod output;
pub mod tutorial;

pub use ggc::{GgcApprox, Gim1Result, allen_cunneen, erlang_k_m1, gim1};
pub use mg1::{Mg1Result, md1_wait_cdf, md1_wait_quantile, mg1};
pub use mmc::{MmcResult, erlang_b, erlang_c, mmc};
pub use mmck::{DropHead, MmckResult, mmck};
pub use output::{csv_rows, render_table};

use crate::routing::QueueId;
use crate::scenario::{Ack, Model, Overflow};
use serde::Serialize;

/// Latency figures in seconds; `None` (JSON `null`) where the model cannot give them.
/// `p50`, `p90`, `p95` and `p999` on `sojourn_s`, and `p999` on `wait_s`, are additions to
/// the contract's schema (which fixes `mean` and `p99` for the sojourn).
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Latency {
    /// Mean.
    pub mean: Option<f64>,
    /// Median.
    pub p50: Option<f64>,
    /// 90th percentile.
    pub p90: Option<f64>,
    /// 95th percentile.
    pub p95: Option<f64>,
    /// 99th percentile.
    pub p99: Option<f64>,
    /// 99.9th percentile (addition).
    pub p999: Option<f64>,
}

impl Latency {
    fn zero() -> Self {
        let z = Some(0.0);
        Latency { mean: z, p50: z, p90: z, p95: z, p99: z, p999: z }
    }

    fn from_fn(mean: Option<f64>, q: impl Fn(f64) -> Option<f64>) -> Self {
        Latency { mean, p50: q(0.5), p90: q(0.9), p95: q(0.95), p99: q(0.99), p999: q(0.999) }
    }
}

/// A time-averaged count (`{"mean": …}`).
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct MeanCount {
    /// Mean; `None` where the model cannot give it.
    pub mean: Option<f64>,
}

/// One queue's analytic figures, serialised as one element of the contract's `queues`.
/// The fields after `notes` are additions to the contract.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct QueueAnalysis {
    /// Queue name.
    pub name: String,
    /// Kendall notation of the model used (`M/M/c`, `M/M/c/K`, `E_c/M/1 (round-robin)`,
    /// `GI/G/c (Allen–Cunneen)`, …); `None` when no model covers the queue.
    pub model: Option<String>,
    /// True when every non-null figure is exact for the scenario's semantics (given the
    /// model's assumptions, all stated in `notes`); false for approximations and bounds.
    pub exact: bool,
    /// Offered load a = λ·E\[S\], Erlangs: the mean number of busy consumers needed.
    pub offered_load_erlangs: Option<f64>,
    /// Utilization ρ = a / c.
    pub rho: Option<f64>,
    /// False when the queue grows without bound (ρ >= 1 with no effective `max_length`, or
    /// no consumers with no `max_length`).
    pub stable: bool,
    /// Messages whose service ends per second.
    pub throughput: Option<f64>,
    /// Fraction of offered messages dropped by the overflow policy.
    pub loss_probability: Option<f64>,
    /// Entering the queue → start of service (Wq), over served messages.
    pub wait_s: Latency,
    /// Entering the queue → end of service (W), over served messages.
    pub sojourn_s: Latency,
    /// Ready messages, time-averaged (Lq of the ready queue; with unlimited prefetch the
    /// waiting messages sit in consumers' buffers, not here).
    pub queue_length: MeanCount,
    /// Why this model applies, which approximation was used and its known error.
    pub notes: Vec<String>,
    /// Messages routed to the queue per second (accepted or not) — addition.
    pub offered_rate: Option<f64>,
    /// Squared coefficient of variation of the arrival process used by the model —
    /// addition. 1 for Poisson.
    pub arrival_scv: Option<f64>,
    /// Whether the arrivals are exactly Poisson (every source exponential, or a Burke
    /// departure stream) — addition.
    pub poisson_arrivals: bool,
    /// Consumers reading the queue (all groups) — addition.
    pub consumers: u32,
    /// Mean service time, seconds — addition.
    pub service_mean_s: Option<f64>,
    /// Service time SCV — addition.
    pub service_scv: Option<f64>,
    /// Busy consumers ÷ consumers — addition.
    pub utilization: Option<f64>,
    /// Messages waiting for service anywhere (ready + in consumers' prefetch buffers),
    /// time-averaged — addition. Little's law: `throughput · wait_s.mean` (reject-publish).
    pub waiting: MeanCount,
    /// Messages in the system (waiting + in service), time-averaged (L) — addition.
    pub in_system: MeanCount,
}

/// Mean end-to-end latency along one path of a producer's messages through a pipeline.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct EndToEndPath {
    /// Producer name.
    pub producer: String,
    /// Queues visited, in order.
    pub path: Vec<String>,
    /// Sum of the stage sojourn means (the mean of a sum is the sum of the means, whatever
    /// the dependence between stages); `None` if a stage has no mean.
    pub mean: Option<f64>,
    /// True when every stage mean is exact.
    pub exact: bool,
}

/// The result of `mqsim analyze`, serialised exactly as the output contract.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AnalyticReport {
    /// Scenario name.
    pub scenario: String,
    /// Always `"analytic"`.
    pub backend: String,
    /// Per queue, in file order.
    pub queues: Vec<QueueAnalysis>,
    /// Per producer and path through the pipeline (addition): publish → end of the last
    /// stage's service, mean only.
    pub end_to_end_s: Vec<EndToEndPath>,
}

impl AnalyticReport {
    /// The JSON document of the output contract, pretty-printed, with a trailing newline.
    pub fn to_json(&self) -> String {
        // Non-finite floats never reach here (every figure is checked), and the types are
        // plain structs, so serialisation cannot fail.
        serde_json::to_string_pretty(self).unwrap_or_default() + "\n"
    }

    /// The analysis of the queue named `name`.
    pub fn queue(&self, name: &str) -> Option<&QueueAnalysis> {
        self.queues.iter().find(|q| q.name == name)
    }
}

/// Most paths listed per producer in `end_to_end_s`.
const MAX_PATHS: usize = 32;

/// An arrival stream described by two moments (Whitt's QNA, 1983).
#[derive(Debug, Clone, Copy, PartialEq)]
struct Stream {
    rate: f64,
    scv: f64,
    poisson: bool,
}

impl Stream {
    const NONE: Stream = Stream { rate: 0.0, scv: 1.0, poisson: true };

    /// Superposition: rates add; the SCV is the rate-weighted mean of the SCVs (QNA's
    /// "asymptotic method", Whitt 1983 eq. 33). Exactly Poisson iff every part is.
    fn merge(parts: &[Stream]) -> Stream {
        let rate: f64 = parts.iter().map(|s| s.rate).sum();
        if parts.is_empty() || rate <= 0.0 {
            return Stream::NONE;
        }
        if !rate.is_finite() {
            return Stream { rate, scv: 1.0, poisson: false };
        }
        let scv = parts.iter().map(|s| s.rate / rate * s.scv).sum();
        Stream { rate, scv, poisson: parts.iter().all(|s| s.poisson) }
    }

    /// A share `p` of the stream (QNA splitting: `p·c² + 1 − p`). Not flagged Poisson when
    /// `p < 1`: the split between groups is not an independent random thinning.
    fn share(self, p: f64) -> Stream {
        if p >= 1.0 {
            return self;
        }
        Stream { rate: self.rate * p, scv: p * self.scv + 1.0 - p, poisson: false }
    }
}

/// QNA departure SCV of a G/G/c station (Whitt 1983 eq. 38):
/// `c_d² = 1 + (1 − ρ²)(c_a² − 1) + ρ²(c_s² − 1)/√c`.
fn departure_scv(rho: f64, ca2: f64, cs2: f64, c: u32) -> f64 {
    let rho = rho.clamp(0.0, 1.0);
    (1.0 + (1.0 - rho * rho) * (ca2 - 1.0) + rho * rho * (cs2 - 1.0) / f64::from(c).sqrt()).max(0.0)
}

fn finite(x: f64) -> Option<f64> {
    x.is_finite().then_some(x)
}

/// Analyses every queue of the model: traffic equations, then one model per queue, then
/// end-to-end means along each producer's paths. Never panics on a valid [`Model`].
pub fn analyze(model: &Model) -> AnalyticReport {
    let nq = model.queues.len();
    let mut inflow: Vec<Vec<Stream>> = vec![Vec::new(); nq];
    for p in &model.producers {
        let mean = p.arrival.mean();
        let s = Stream {
            rate: if mean > 0.0 { 1.0 / mean } else { f64::INFINITY },
            scv: p.arrival.scv(),
            poisson: p.arrival.is_exponential(),
        };
        for &q in &p.routes {
            inflow[q].push(s);
        }
    }
    let mut results: Vec<Option<QueueAnalysis>> = vec![None; nq];
    for q in model.topological_order() {
        let input = Stream::merge(&inflow[q]);
        let (mut qa, out) = analyze_queue(model, q, input);
        qa.notes.splice(0..0, merge_notes(&inflow[q], input));
        let total: u64 =
            model.queues[q].groups.iter().map(|&g| u64::from(model.groups[g].count)).sum();
        for (g, nq2) in model.onward_edges(q) {
            let share = if total > 0 { model.groups[g].count as f64 / total as f64 } else { 0.0 };
            inflow[nq2].push(out.share(share));
        }
        results[q] = Some(qa);
    }
    let queues: Vec<QueueAnalysis> = results
        .into_iter()
        .enumerate()
        .map(|(q, r)| {
            r.unwrap_or_else(|| {
                let mut qa = QueueAnalysis::blank(model, q, Stream::NONE);
                qa.offered_rate = None;
                qa.arrival_scv = None;
                qa.notes.push(
                    "not analysed: the `then` routes form a cycle through this queue, so the traffic equations have no topological order".into(),
                );
                qa
            })
        })
        .collect();
    let end_to_end_s = end_to_end(model, &queues);
    AnalyticReport {
        scenario: model.name.clone(),
        backend: "analytic".into(),
        queues,
        end_to_end_s,
    }
}

/// What theory says about the queue read by group `group` if that group had `count`
/// consumers, everything else unchanged (upstream traffic included). `None` if `group` is
/// not a group index of the model. This is the building block of a sizing search.
pub fn analyze_queue_with_count(model: &Model, group: usize, count: u32) -> Option<QueueAnalysis> {
    let q = model.groups.get(group)?.queue;
    let mut m = model.clone();
    m.groups[group].count = count;
    analyze(&m).queues.into_iter().nth(q)
}

fn merge_notes(parts: &[Stream], merged: Stream) -> Vec<String> {
    if parts.len() < 2 {
        return Vec::new();
    }
    if merged.poisson {
        vec![format!(
            "arrivals: superposition of {} Poisson streams, itself Poisson (rate {:.6})",
            parts.len(),
            merged.rate
        )]
    } else {
        vec![format!(
            "arrivals: superposition of {} streams, not all Poisson: not a renewal process in general; the models use the rate-weighted arrival SCV c_a² = {:.4} (Whitt's QNA asymptotic method), an approximation",
            parts.len(),
            merged.scv
        )]
    }
}

/// How a group hands messages to its consumers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Dispatch {
    /// Manual ack with a finite prefetch p.
    Prefetch(u32),
    /// prefetch 0 (unlimited) or auto ack: pushed at once, round-robin.
    Unlimited,
}

fn dispatch_of(g: &crate::scenario::ConsumerGroup) -> Dispatch {
    if g.ack == Ack::Auto || g.prefetch == 0 {
        Dispatch::Unlimited
    } else {
        Dispatch::Prefetch(g.prefetch)
    }
}

impl QueueAnalysis {
    fn blank(model: &Model, q: QueueId, input: Stream) -> QueueAnalysis {
        QueueAnalysis {
            name: model.queues[q].name.clone(),
            model: None,
            exact: false,
            offered_load_erlangs: None,
            rho: None,
            stable: true,
            throughput: None,
            loss_probability: None,
            wait_s: Latency::default(),
            sojourn_s: Latency::default(),
            queue_length: MeanCount::default(),
            notes: Vec::new(),
            offered_rate: finite(input.rate),
            arrival_scv: finite(input.scv),
            poisson_arrivals: input.poisson,
            consumers: 0,
            service_mean_s: None,
            service_scv: None,
            utilization: None,
            waiting: MeanCount::default(),
            in_system: MeanCount::default(),
        }
    }
}

/// Everything a queue model needs, resolved from the scenario.
struct Station {
    lambda: f64,
    ca2: f64,
    poisson: bool,
    c: u32,
    s_mean: f64,
    cs2: f64,
    exp_service: bool,
    const_service: bool,
    dispatch: Dispatch,
    max_length: Option<u64>,
    overflow: Overflow,
}

impl Station {
    fn mu(&self) -> f64 {
        1.0 / self.s_mean
    }
    fn capacity(&self) -> f64 {
        f64::from(self.c) / self.s_mean
    }
}

/// Analyses queue `q` fed by `input`; returns its figures and its departure stream.
fn analyze_queue(model: &Model, q: QueueId, input: Stream) -> (QueueAnalysis, Stream) {
    let queue = &model.queues[q];
    let mut qa = QueueAnalysis::blank(model, q, input);
    let lambda = input.rate;
    let groups: Vec<_> = queue.groups.iter().map(|&g| &model.groups[g]).collect();
    let c64: u64 = groups.iter().map(|g| u64::from(g.count)).sum();
    qa.consumers = u32::try_from(c64).unwrap_or(u32::MAX);

    if groups.is_empty() || c64 == 0 {
        qa.notes
            .push("no consumers read this queue: no service, so no queueing model applies".into());
        qa.throughput = Some(0.0);
        qa.utilization = None;
        if lambda > 0.0 {
            match queue.max_length {
                Some(m) => {
                    // Exact without a model: the queue fills to max_length and then every
                    // new message is dropped (drop-head drops old ones, reject-publish new
                    // ones; either way one out per one in).
                    qa.loss_probability = Some(1.0);
                    qa.queue_length.mean = Some(m as f64);
                    qa.notes.push(format!(
                        "the queue fills to max_length = {m} and then drops one message per arrival: loss probability 1 in the long run"
                    ));
                }
                None => {
                    qa.stable = false;
                    qa.loss_probability = Some(0.0);
                    qa.notes.push("messages accumulate without bound".into());
                }
            }
        } else {
            qa.loss_probability = Some(0.0);
            qa.queue_length.mean = Some(0.0);
        }
        return (qa, Stream::NONE);
    }
    if !lambda.is_finite() {
        qa.stable = queue.max_length.is_some();
        qa.notes.push(
            "infinite arrival rate (a producer with zero inter-arrival time): no queueing model applies".into(),
        );
        return (qa, Stream { rate: 0.0, scv: 1.0, poisson: false });
    }

    let first = groups[0];
    let dispatch = dispatch_of(first);
    if groups.iter().any(|g| g.service.kind() != first.service.kind()) {
        let capacity: f64 = groups.iter().map(|g| f64::from(g.count) / g.service.mean()).sum();
        qa.stable = lambda < capacity || queue.max_length.is_some();
        qa.notes.push(format!(
            "consumer groups on this queue have different service distributions ({}): heterogeneous consumers, no model implemented; total capacity Σ count/E[S] = {:.6} msgs/s",
            groups.iter().map(|g| format!("{}: {}", g.name, g.service.label())).collect::<Vec<_>>().join(", "),
            capacity
        ));
        let out = Stream { rate: lambda.min(capacity), scv: 1.0, poisson: false };
        return (qa, out);
    }
    if groups.iter().any(|g| dispatch_of(g) != dispatch) {
        qa.notes.push(
            "consumer groups on this queue differ in prefetch/ack (dispatch regime): no model implemented".into(),
        );
        let capacity = c64 as f64 / first.service.mean();
        qa.stable = lambda < capacity || queue.max_length.is_some();
        return (qa, Stream { rate: lambda.min(capacity), scv: 1.0, poisson: false });
    }
    let st = Station {
        lambda,
        ca2: input.scv,
        poisson: input.poisson,
        c: qa.consumers,
        s_mean: first.service.mean(),
        cs2: first.service.scv(),
        exp_service: first.service.is_exponential(),
        const_service: first.service.is_constant(),
        dispatch,
        max_length: queue.max_length,
        overflow: queue.overflow,
    };
    qa.service_mean_s = Some(st.s_mean);
    qa.service_scv = Some(st.cs2);
    if groups.len() > 1 {
        qa.notes.push(format!(
            "{} consumer groups with the same service distribution and dispatch: one pool of {} consumers; each group's onward traffic is its share count/{} of the throughput",
            groups.len(),
            st.c,
            st.c
        ));
    }

    if lambda <= 0.0 {
        qa.offered_load_erlangs = Some(0.0);
        qa.rho = Some(0.0);
        qa.throughput = Some(0.0);
        qa.loss_probability = Some(0.0);
        qa.utilization = Some(0.0);
        qa.queue_length.mean = Some(0.0);
        qa.waiting.mean = Some(0.0);
        qa.in_system.mean = Some(0.0);
        qa.notes.push("no traffic reaches this queue: no message is ever served, so there are no latency figures".into());
        return (qa, Stream::NONE);
    }
    if st.s_mean <= 0.0 {
        qa.offered_load_erlangs = Some(0.0);
        qa.rho = Some(0.0);
        qa.throughput = Some(lambda);
        qa.loss_probability = Some(0.0);
        qa.utilization = Some(0.0);
        qa.wait_s = Latency::zero();
        qa.sojourn_s = Latency::zero();
        qa.queue_length.mean = Some(0.0);
        qa.waiting.mean = Some(0.0);
        qa.in_system.mean = Some(0.0);
        qa.notes.push("zero service time: every message is served the instant it arrives; no queueing model is needed (figures are exact)".into());
        return (qa, input);
    }
    let a = lambda * st.s_mean;
    let rho = a / f64::from(st.c);
    qa.offered_load_erlangs = Some(a);
    qa.rho = Some(rho);

    match st.dispatch {
        Dispatch::Unlimited if st.c > 1 => round_robin(&st, qa),
        _ => pooled(&st, qa),
    }
}

/// Fills the figures of an unstable queue (ρ >= 1, no effective bound).
fn unstable(st: &Station, mut qa: QueueAnalysis, label: String) -> (QueueAnalysis, Stream) {
    qa.model = Some(label);
    qa.exact = true;
    qa.stable = false;
    qa.throughput = Some(st.capacity());
    qa.loss_probability = Some(0.0);
    qa.utilization = Some(1.0);
    qa.notes.push(format!(
        "unstable: ρ = {:.4} >= 1 (offered {:.6} msgs/s, capacity c/E[S] = {:.6} msgs/s); the queue grows without bound, so there is no steady state and no latency figures; throughput is the capacity",
        qa.rho.unwrap_or(f64::NAN),
        st.lambda,
        st.capacity()
    ));
    let out = Stream {
        rate: st.capacity(),
        scv: departure_scv(1.0, st.ca2, st.cs2, st.c),
        poisson: false,
    };
    (qa, out)
}

/// One FIFO pool of c servers (prefetch 1, or one consumer, or prefetch p > 1 as a bound).
fn pooled(st: &Station, mut qa: QueueAnalysis) -> (QueueAnalysis, Stream) {
    let c = st.c;
    let exact_regime = match st.dispatch {
        Dispatch::Prefetch(p) => p == 1 || c == 1,
        Dispatch::Unlimited => c == 1,
    };
    // Messages the system holds besides the ready ones: one per consumer with prefetch 1,
    // p with one consumer of prefetch p, c·p as the bound's approximation.
    let k = match (st.dispatch, st.max_length) {
        (_, None) => None,
        (Dispatch::Unlimited, Some(m)) => {
            qa.notes.push(format!(
                "max_length = {m} never binds: with unlimited prefetch / auto ack every message is pushed to the consumer at once, the ready queue stays empty and nothing is dropped"
            ));
            None
        }
        (Dispatch::Prefetch(p), Some(m)) => {
            Some(m.saturating_add(u64::from(c).saturating_mul(u64::from(p))))
        }
    };
    if let Dispatch::Prefetch(p) = st.dispatch
        && p > 1
        && c > 1
    {
        qa.notes.push(format!(
            "prefetch = {p} > 1 with {c} consumers: a message may wait in a busy consumer's buffer while another consumer idles; the pooled model below ignores this, so its waits are a LOWER BOUND (for exponential service a work-conserving pooled FIFO minimises the number waiting)"
        ));
        if let Some(rr) =
            erlang_k_m1(st.lambda, c, st.mu()).filter(|_| st.poisson && st.exp_service)
        {
            qa.notes.push(format!(
                "for reference, the prefetch → ∞ limit (round-robin push, E_{c}/M/1 per consumer) gives mean wait {:.6} s; prefetch {p} lies between the two for light load, but this is not a proven upper bound",
                rr.wq
            ));
        }
    }
    match k {
        Some(k) => finite_buffer(st, qa, k, exact_regime),
        None => infinite_buffer(st, qa, exact_regime),
    }
}

fn infinite_buffer(
    st: &Station,
    mut qa: QueueAnalysis,
    exact_regime: bool,
) -> (QueueAnalysis, Stream) {
    let c = st.c;
    let rho = st.lambda * st.s_mean / f64::from(c);
    let (label, kind) = if st.poisson && st.exp_service {
        (if c == 1 { "M/M/1" } else { "M/M/c" }.to_string(), 0)
    } else if st.poisson && c == 1 && st.const_service {
        ("M/D/1".to_string(), 1)
    } else if st.poisson && c == 1 {
        ("M/G/1".to_string(), 2)
    } else if c == 1 {
        ("GI/G/1 (Kingman)".to_string(), 3)
    } else if st.poisson {
        ("M/G/c (Allen–Cunneen)".to_string(), 3)
    } else {
        ("GI/G/c (Allen–Cunneen)".to_string(), 3)
    };
    if rho >= 1.0 {
        let (mut qa, out) = unstable(st, qa, label);
        qa.exact = exact_regime;
        return (qa, out);
    }
    qa.model = Some(label);
    qa.utilization = Some(rho);
    qa.throughput = Some(st.lambda);
    qa.loss_probability = Some(0.0);
    let mut out =
        Stream { rate: st.lambda, scv: departure_scv(rho, st.ca2, st.cs2, c), poisson: false };
    let (wq, w) = match kind {
        0 => {
            let Some(r) = mmc(st.lambda, st.mu(), c) else { return (qa, out) };
            qa.exact = exact_regime;
            qa.wait_s = Latency::from_fn(Some(r.wq), |p| r.wait_quantile(p));
            qa.sojourn_s = Latency::from_fn(Some(r.w), |p| r.sojourn_quantile(p));
            qa.notes.push(format!(
                "Poisson arrivals, exponential service, {c} consumer(s) fed from one FIFO queue: exact M/M/{} (Gross & Harris §2.2–2.3); P(wait) = Erlang C = {:.6}; wait quantiles from P(Wq > t) = C·e^{{−(cμ−λ)t}}, sojourn quantiles by inverting the exact Wq + S distribution",
                if c == 1 { "1".to_string() } else { "c".to_string() },
                r.p_wait
            ));
            if exact_regime {
                // Burke's theorem: the departures of a stable M/M/c are Poisson(λ), so the
                // next stage of a pipeline sees Poisson arrivals (Jackson network).
                out = Stream { rate: st.lambda, scv: 1.0, poisson: true };
            }
            (r.wq, r.w)
        }
        1 => {
            let Some(r) = mg1(st.lambda, st.s_mean, 0.0) else { return (qa, out) };
            qa.exact = exact_regime;
            let d = st.s_mean;
            let wait_q = |p: f64| md1_wait_quantile(st.lambda, d, p);
            qa.wait_s = Latency::from_fn(Some(r.wq), wait_q);
            qa.sojourn_s = Latency::from_fn(Some(r.w), |p| wait_q(p).map(|x| x + d));
            qa.notes.push("Poisson arrivals, constant service, one consumer: exact M/D/1; mean by Pollaczek–Khinchine Wq = ρD/(2(1−ρ)) (Kleinrock §5.7), quantiles from Erlang's exact M/D/1 waiting-time distribution (Crommelin 1932), sojourn = wait + D".into());
            if qa.wait_s.p999.is_none() || qa.wait_s.p99.is_none() {
                qa.notes.push("some M/D/1 tail quantiles are null: the exact alternating series loses too much to round-off that far out".into());
            }
            (r.wq, r.w)
        }
        2 => {
            let Some(r) = mg1(st.lambda, st.s_mean, st.cs2) else { return (qa, out) };
            qa.exact = exact_regime;
            qa.wait_s.mean = Some(r.wq);
            qa.sojourn_s.mean = Some(r.w);
            qa.notes.push(format!(
                "Poisson arrivals, general service (SCV {:.4}), one consumer: M/G/1; means are exact by Pollaczek–Khinchine (Kleinrock eq. 5.72); quantiles need the whole service distribution (Takács), not computed",
                st.cs2
            ));
            (r.wq, r.w)
        }
        _ => {
            let Some(r) = allen_cunneen(st.lambda, st.s_mean, c, st.ca2, st.cs2) else {
                return (qa, out);
            };
            qa.exact = false;
            qa.wait_s = Latency::from_fn(Some(r.wq), |p| r.wait_quantile(p));
            qa.sojourn_s.mean = Some(r.w);
            let what = if c == 1 {
                "Kingman's GI/G/1 formula Wq ≈ ρ/(1−ρ)·(c_a²+c_s²)/2·E[S] (Kingman 1961): asymptotically exact as ρ → 1, pessimistic at light load with regular arrivals"
            } else {
                "Allen–Cunneen Wq ≈ (c_a²+c_s²)/2·Wq(M/M/c) (Allen 1990 §6.4): typically within ~10% for 0.5 ≤ c² ≤ 2 at ρ ≥ 0.5; larger errors at light load, for c² ≫ 1 or nearly deterministic arrivals (Whitt 1993)"
            };
            qa.notes.push(format!(
                "approximation (c_a² = {:.4}, c_s² = {:.4}): {what}",
                st.ca2, st.cs2
            ));
            qa.notes.push("wait quantiles assume an exponential tail P(Wq > t) ≈ P_w·e^{−P_w t/Wq} with P_w the M/M/c waiting probability (exact for M/M/c); unreliable for heavy-tailed service; sojourn quantiles not computed".into());
            (r.wq, r.w)
        }
    };
    let lq = st.lambda * wq;
    qa.waiting.mean = Some(lq);
    qa.in_system.mean = Some(st.lambda * w);
    // Ready messages are the waiting ones, except with a prefetch > 1 where some wait in
    // consumers' buffers: then the ready count is not given by the model.
    qa.queue_length.mean = match st.dispatch {
        Dispatch::Prefetch(1) => Some(lq),
        // Reached with c == 1 only: the lone consumer takes every message at once.
        Dispatch::Unlimited => Some(0.0),
        Dispatch::Prefetch(_) => None,
    };
    if qa.queue_length.mean.is_none() {
        qa.notes.push("queue_length (ready messages only) is not given by the model when prefetch > 1: waiting messages are split between the ready queue and consumers' buffers; `waiting` gives their total".into());
    }
    (qa, out)
}

fn finite_buffer(
    st: &Station,
    mut qa: QueueAnalysis,
    k: u64,
    exact_regime: bool,
) -> (QueueAnalysis, Stream) {
    let c = st.c;
    let m = st.max_length.unwrap_or(0);
    let fallback = Stream { rate: st.lambda.min(st.capacity()), scv: 1.0, poisson: false };
    if !(st.poisson && st.exp_service) {
        qa.notes.push(format!(
            "max_length = {m} with non-Poisson arrivals or non-exponential service: no finite-buffer model implemented (M/M/c/K needs both exponential); onward traffic estimated as min(λ, c/E[S])"
        ));
        return (qa, fallback);
    }
    let Some(r) = mmck(st.lambda, st.mu(), c, k) else {
        qa.notes.push(format!("K = {k} exceeds the largest M/M/c/K solved ({})", mmck::MAX_K));
        return (qa, fallback);
    };
    qa.model = Some(if c == 1 { "M/M/1/K" } else { "M/M/c/K" }.to_string());
    qa.exact = exact_regime;
    qa.throughput = Some(r.throughput);
    qa.loss_probability = Some(r.loss);
    qa.utilization = Some(r.busy / f64::from(c));
    let per = match st.dispatch {
        Dispatch::Prefetch(p) => p,
        Dispatch::Unlimited => 1,
    };
    // Ready messages: those beyond the c·per the consumers hold (= Lq for prefetch 1).
    let held = (u64::from(c) * u64::from(per)) as usize;
    let ready: f64 = r.p.iter().enumerate().skip(held).map(|(n, x)| (n - held) as f64 * x).sum();
    qa.queue_length.mean = Some(ready);
    qa.in_system.mean = Some(r.l);
    qa.notes.push(format!(
        "max_length = {m}: at most K = max_length + {} = {k} messages in the system ({m} ready + {per} unacknowledged per consumer); M/M/c/K (Gross & Harris §2.5), loss = p_K, the same for drop-head and reject-publish",
        u64::from(c) * u64::from(per)
    ));
    if !exact_regime {
        qa.notes.push(
            "with prefetch > 1 the M/M/c/K figures idealise the buffers as pooled: approximate"
                .into(),
        );
    }
    match st.overflow {
        Overflow::RejectPublish => {
            qa.wait_s = Latency::from_fn(Some(r.wq), |p| r.wait_quantile(p));
            qa.sojourn_s.mean = Some(r.w);
            qa.waiting.mean = Some(r.lq);
            qa.notes.push("reject-publish: figures are for accepted messages; the wait distribution is the exact mixture of Erlangs (an arrival finding n ≥ c waits for n − c + 1 completions at rate cμ); sojourn quantiles not computed".into());
        }
        Overflow::DropHead => {
            qa.waiting.mean = Some(r.lq);
            match r.drop_head() {
                Some(d) => {
                    qa.wait_s.mean = Some(d.wq_served);
                    qa.sojourn_s.mean = Some(d.wq_served + st.s_mean);
                    qa.notes.push(format!(
                        "drop-head: loss and queue length as reject-publish, but served messages wait less (the oldest are dropped): mean wait of served messages by first-step analysis of the tagged message's position; reject-publish would give {:.6} s; wait quantiles under drop-head not computed",
                        r.wq
                    ));
                }
                None => qa.notes.push(format!(
                    "drop-head: the served-message wait needs a chain of (K−c)²/2 states; max_length {m} exceeds {} so it is not computed (reject-publish would give {:.6} s)",
                    mmck::MAX_DROP_HEAD_READY,
                    r.wq
                )),
            }
        }
    }
    let out = Stream {
        rate: r.throughput,
        scv: departure_scv(r.busy / f64::from(c), 1.0, 1.0, c),
        poisson: false,
    };
    (qa, out)
}

/// prefetch 0 / auto ack with c > 1: each consumer its own FIFO queue, fed round-robin.
fn round_robin(st: &Station, mut qa: QueueAnalysis) -> (QueueAnalysis, Stream) {
    let c = st.c;
    let rho = st.lambda * st.s_mean / f64::from(c);
    let exact = st.poisson && st.exp_service;
    let label = if exact {
        "E_c/M/1 (round-robin)".to_string()
    } else {
        "GI/G/1 per consumer (round-robin, Kingman)".to_string()
    };
    qa.notes.push(format!(
        "prefetch unlimited or auto ack with {c} consumers: the broker pushes each message at once to the next consumer round-robin, so each consumer is its own FIFO queue fed every {c}-th arrival (λ/{c} each); waiting happens in the consumers' buffers, the ready queue stays empty"
    ));
    if let Some(m) = st.max_length {
        qa.notes.push(format!(
            "max_length = {m} never binds here: nothing is ever ready, nothing is dropped"
        ));
    }
    if rho >= 1.0 {
        let (mut qa, out) = unstable(st, qa, label);
        qa.exact = exact;
        return (qa, out);
    }
    qa.model = Some(label);
    qa.utilization = Some(rho);
    qa.throughput = Some(st.lambda);
    qa.loss_probability = Some(0.0);
    qa.queue_length.mean = Some(0.0);
    let (wq, w) = if exact {
        let Some(r) = erlang_k_m1(st.lambda, c, st.mu()) else {
            return (qa, Stream::NONE);
        };
        qa.exact = true;
        qa.wait_s = Latency::from_fn(Some(r.wq), |p| r.wait_quantile(p));
        qa.sojourn_s = Latency::from_fn(Some(r.w), |p| r.sojourn_quantile(p));
        qa.notes.push(format!(
            "every {c}-th arrival of a Poisson stream: Erlang-{c} interarrivals; exact GI/M/1 solution (Gross & Harris §6.3) with σ = {:.6}: P(Wq > t) = σe^{{−μ(1−σ)t}}",
            r.sigma
        ));
        (r.wq, r.w)
    } else {
        // Every c-th arrival of a renewal stream: the sum of c interarrivals has SCV c_a²/c.
        let ca2 = st.ca2 / f64::from(c);
        let Some(r) = allen_cunneen(st.lambda / f64::from(c), st.s_mean, 1, ca2, st.cs2) else {
            return (qa, Stream::NONE);
        };
        qa.exact = false;
        qa.wait_s = Latency::from_fn(Some(r.wq), |p| r.wait_quantile(p));
        qa.sojourn_s.mean = Some(r.w);
        qa.notes.push(format!(
            "approximation: Kingman's GI/G/1 per consumer (Kingman 1961) with c_a² = {:.4} (every {c}-th arrival: c_a²/{c}), c_s² = {:.4}; asymptotically exact as ρ → 1, pessimistic at light load; quantiles from an exponential-tail assumption; sojourn quantiles not computed",
            ca2, st.cs2
        ));
        (r.wq, r.w)
    };
    if let Some(pool) = mmc(st.lambda, st.mu(), c).filter(|_| exact) {
        qa.notes.push(format!(
            "for comparison, fair dispatch (prefetch 1, pooled M/M/c) would give mean wait {:.6} s",
            pool.wq
        ));
    }
    qa.waiting.mean = Some(st.lambda * wq);
    qa.in_system.mean = Some(st.lambda * w);
    let out =
        Stream { rate: st.lambda, scv: departure_scv(rho, st.ca2, st.cs2, c), poisson: false };
    (qa, out)
}

/// Lists each producer's paths (at most [`MAX_PATHS`]) with the sum of stage sojourn means.
fn end_to_end(model: &Model, queues: &[QueueAnalysis]) -> Vec<EndToEndPath> {
    let mut out = Vec::new();
    for p in &model.producers {
        let mut paths: Vec<Vec<QueueId>> = Vec::new();
        let mut stack: Vec<Vec<QueueId>> = p.routes.iter().map(|&q| vec![q]).collect();
        while let Some(path) = stack.pop() {
            if paths.len() >= MAX_PATHS {
                break;
            }
            let q = *path.last().unwrap_or(&0);
            let mut next: Vec<QueueId> = model.successors(q).collect();
            let ends_here = model.path_can_end_at(q);
            next.sort_unstable();
            next.dedup();
            // A path longer than the number of queues would mean a cycle: stop there.
            if path.len() > model.queues.len() {
                continue;
            }
            if ends_here && !paths.contains(&path) {
                paths.push(path.clone());
            }
            for n in next.into_iter().rev() {
                let mut p2 = path.clone();
                p2.push(n);
                stack.push(p2);
            }
        }
        for path in paths {
            let mean: Option<f64> = path.iter().map(|&q| queues[q].sojourn_s.mean).sum();
            out.push(EndToEndPath {
                producer: p.name.clone(),
                path: path.iter().map(|&q| queues[q].name.clone()).collect(),
                mean,
                exact: path.iter().all(|&q| queues[q].exact),
            });
        }
    }
    out
}

#[cfg(test)]
mod tests;
