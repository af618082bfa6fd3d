//! The choice of model for each queue, from RabbitMQ semantics (see the module docs of
//! [`crate::analytic`]): degenerate queues (no consumers, no traffic, zero service,
//! heterogeneous groups) answered without a model; otherwise the queue is resolved into a
//! [`Station`] and sent to round-robin (unlimited prefetch, several consumers) or to one
//! pooled FIFO server group, with or without a finite buffer.

use super::erlang_k_m1;
use super::figures::{finite_buffer, infinite_buffer, round_robin};
use super::lifecycle;
use super::traffic::Stream;
use super::transport;
use crate::results::{Latency, MeanCount, QueueAnalysis};
use crate::routing::QueueId;
use crate::scenario::{Ack, ConsumerGroup, Model, Overflow};

/// How a group hands messages to its consumers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Dispatch {
    /// Manual ack with a finite prefetch p.
    Prefetch(u32),
    /// prefetch 0 (unlimited) or auto ack: pushed at once, round-robin.
    Unlimited,
}

fn dispatch_of(g: &ConsumerGroup) -> Dispatch {
    if g.ack == Ack::Auto || g.prefetch == 0 {
        Dispatch::Unlimited
    } else {
        Dispatch::Prefetch(g.prefetch)
    }
}

fn finite(x: f64) -> Option<f64> {
    x.is_finite().then_some(x)
}

/// A queue's analysis before any model: its name and arrival stream, no figures.
pub(super) fn blank(model: &Model, q: QueueId, input: Stream) -> QueueAnalysis {
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
        expire_probability: None,
        reject_probability: None,
        by_priority: None,
        drain_time_s: None,
        time_varying_arrivals: false,
    }
}

/// Everything a queue model needs, resolved from the scenario.
pub(super) struct Station {
    pub(super) lambda: f64,
    pub(super) ca2: f64,
    pub(super) poisson: bool,
    pub(super) c: u32,
    pub(super) s_mean: f64,
    pub(super) cs2: f64,
    pub(super) exp_service: bool,
    pub(super) const_service: bool,
    pub(super) dispatch: Dispatch,
    pub(super) max_length: Option<u64>,
    pub(super) overflow: Overflow,
}

impl Station {
    pub(super) fn mu(&self) -> f64 {
        1.0 / self.s_mean
    }
    pub(super) fn capacity(&self) -> f64 {
        f64::from(self.c) / self.s_mean
    }
}

/// Analyses queue `q` fed by `input`; returns its figures and its departure stream, with
/// the notes on time-varying load and the drain time of a backlog
/// ([`super::load::annotate`]).
pub(super) fn analyze_queue(model: &Model, q: QueueId, input: Stream) -> (QueueAnalysis, Stream) {
    let (mut qa, out) = analyze_stationary(model, q, input);
    super::load::annotate(model, q, &mut qa);
    (qa, out)
}

fn analyze_stationary(model: &Model, q: QueueId, input: Stream) -> (QueueAnalysis, Stream) {
    let queue = &model.queues[q];
    let mut qa = blank(model, q, input);
    let lambda = input.rate;
    let groups: Vec<_> = queue.groups.iter().map(|&g| &model.groups[g]).collect();
    let c64: u64 = groups.iter().map(|g| u64::from(g.count)).sum();
    qa.consumers = u32::try_from(c64).unwrap_or(u32::MAX);

    if (groups.is_empty() || c64 == 0)
        && let Some(d) = queue.message_ttl
        && queue.max_length.is_none()
        && lambda.is_finite()
    {
        // A delay queue: every message stays exactly its TTL and expires (an
        // infinite-server station with constant service: exact, whatever the arrivals).
        qa.model = Some("delay (TTL, no consumers)".into());
        qa.exact = true;
        qa.throughput = Some(0.0);
        qa.loss_probability = Some(0.0);
        qa.expire_probability = Some(if lambda > 0.0 { 1.0 } else { 0.0 });
        qa.queue_length.mean = Some(lambda * d);
        qa.notes.push(format!(
            "no consumers and a TTL of {d} s: every message waits exactly the TTL and expires; the queue holds λ·TTL = {:.6} messages on average (Little)",
            lambda * d
        ));
        let out = Stream { rate: 0.0, scv: 1.0, poisson: false };
        return (qa, out);
    }
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
    let delay = first.network_delay;
    if groups.iter().any(|g| g.network_delay != delay) {
        qa.notes.push(
            "consumer groups on this queue differ in network_delay: no model implemented".into(),
        );
        let capacity = c64 as f64 / first.service.mean();
        qa.stable = lambda < capacity || queue.max_length.is_some();
        return (qa, Stream { rate: lambda.min(capacity), scv: 1.0, poisson: false });
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
    if st.max_length == Some(0) && st.overflow != Overflow::DropHead {
        // RabbitMQ checks reject-publish's limit before delivering, so with max_length 0
        // every publish is refused, even with an idle consumer: no queueing at all.
        qa.throughput = Some(0.0);
        qa.loss_probability = Some(1.0);
        qa.utilization = Some(0.0);
        qa.queue_length.mean = Some(0.0);
        qa.waiting.mean = Some(0.0);
        qa.in_system.mean = Some(0.0);
        qa.notes.push("max_length = 0 with reject-publish: every message is refused, even when a consumer is idle (the limit is checked before delivery); loss probability 1 (exact, no model needed), and no message is ever served, so there are no latency figures".into());
        return (qa, Stream::NONE);
    }
    let a = lambda * st.s_mean;
    let rho = a / f64::from(st.c);
    qa.offered_load_erlangs = Some(a);
    qa.rho = Some(rho);

    let mut qa = match super::load::analyze(model, q, &st, qa) {
        Ok(done) => return done,
        Err(back) => *back,
    };
    let mut left_out = false;
    if lifecycle::applies(model, q) {
        match lifecycle::analyze(model, q, &st, qa) {
            Ok((mut qa, mut out)) => {
                if delay > 0.0 {
                    transport::adjust(&st, delay, false, &mut qa);
                }
                lifecycle::adjust_after(model, q, &mut qa, &mut out);
                return (qa, out);
            }
            Err(back) => {
                (qa, left_out) = *back;
            }
        }
    }
    let credit = transport::credit_station(&st, delay);
    let (mut qa, mut out) = match (&credit, st.dispatch) {
        (Some(cs), _) => pooled(cs, qa),
        (None, Dispatch::Unlimited) if st.c > 1 => round_robin(&st, qa),
        (None, _) => pooled(&st, qa),
    };
    if delay > 0.0 {
        transport::adjust(&st, delay, credit.is_some(), &mut qa);
    }
    lifecycle::adjust_after(model, q, &mut qa, &mut out);
    if left_out {
        qa.exact = false;
    }
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
        if st.max_length.is_none() {
            qa.notes.push(format!(
                "prefetch = {p} > 1 with {c} consumers: a message may wait in a busy consumer's buffer while another consumer idles; the pooled model below ignores this, so its waits are a LOWER BOUND (for exponential service a work-conserving pooled FIFO minimises the number waiting)"
            ));
        } else {
            // With a finite buffer the pooled idealisation changes the loss too, and less
            // admitted traffic can mean shorter waits: no direction is proven.
            qa.notes.push(format!(
                "prefetch = {p} > 1 with {c} consumers: a message may wait in a busy consumer's buffer while another consumer idles; the pooled model below ignores this. With max_length it changes the loss as well as the wait, so its figures are an approximation, not a proven bound"
            ));
        }
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
