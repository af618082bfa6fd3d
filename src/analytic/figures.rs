//! The figures of each model once a queue's model is chosen: an unstable queue's capacity,
//! M/M/c, M/D/1, M/G/1 and Allen–Cunneen/Kingman for an unbounded pool, M/M/c/K with
//! reject-publish or drop-head for a bounded one, E_c/M/1 (or Kingman) per consumer for
//! round-robin push; every note states the model's source and its known error. Each
//! returns the filled analysis and the queue's departure stream for the traffic equations.

use super::choose::{Dispatch, Station};
use super::traffic::{Stream, departure_scv};
use super::{allen_cunneen, erlang_k_m1, md1_wait_quantile, mg1, mmc, mmck};
use crate::results::{Latency, QueueAnalysis};
use crate::scenario::Overflow;

/// Fills the figures of an unstable queue (ρ >= 1, no effective bound).
pub(super) fn unstable(
    st: &Station,
    mut qa: QueueAnalysis,
    label: String,
) -> (QueueAnalysis, Stream) {
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

pub(super) fn infinite_buffer(
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
            qa.wait_s = Latency::from_quantile_fn(Some(r.wq), |p| r.wait_quantile(p));
            qa.sojourn_s = Latency::from_quantile_fn(Some(r.w), |p| r.sojourn_quantile(p));
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
            qa.wait_s = Latency::from_quantile_fn(Some(r.wq), wait_q);
            qa.sojourn_s = Latency::from_quantile_fn(Some(r.w), |p| wait_q(p).map(|x| x + d));
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
            qa.wait_s = Latency::from_quantile_fn(Some(r.wq), |p| r.wait_quantile(p));
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

pub(super) fn finite_buffer(
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
    if c == 1 {
        // One consumer: one FIFO server whatever its prefetch (its buffer is a FIFO in front
        // of it, filled only while nothing is ready), so N = held + ready is exactly the
        // M/M/1/K birth–death chain with K = max_length + prefetch.
        let holds = if per > 1 {
            format!(
                "up to {per} (one in service, the rest in its prefetch buffer, whose time counts as wait)"
            )
        } else {
            "one (in service)".to_string()
        };
        qa.notes.push(format!(
            "max_length = {m} counts ready messages only: one consumer holding {holds}, so at most K = {m} + {per} = {k} messages in the system; exact M/M/1/K (Gross & Harris §2.5 with c = 1), loss = p_K, the same for drop-head and reject-publish"
        ));
    } else {
        qa.notes.push(format!(
            "max_length = {m}: at most K = max_length + {} = {k} messages in the system ({m} ready + {per} unacknowledged per consumer); M/M/c/K (Gross & Harris §2.5), loss = p_K, the same for drop-head and reject-publish",
            u64::from(c) * u64::from(per)
        ));
    }
    if !exact_regime {
        qa.notes.push(
            "with prefetch > 1 the M/M/c/K figures idealise the buffers as pooled: approximate"
                .into(),
        );
    }
    match st.overflow {
        Overflow::RejectPublish | Overflow::RejectPublishDlx => {
            qa.wait_s = Latency::from_quantile_fn(Some(r.wq), |p| r.wait_quantile(p));
            qa.sojourn_s.mean = Some(r.w);
            qa.waiting.mean = Some(r.lq);
            qa.notes.push("reject-publish: figures are for accepted messages; the wait distribution is the exact mixture of Erlangs (an arrival finding n ≥ c waits for n − c + 1 completions at rate cμ); sojourn quantiles not computed".into());
        }
        Overflow::DropHead => {
            qa.waiting.mean = Some(r.lq);
            drop_head(st, &mut qa, &r, u64::from(c) * u64::from(per), exact_regime);
        }
    }
    let out = Stream {
        rate: r.throughput,
        scv: departure_scv(r.busy / f64::from(c), 1.0, 1.0, c),
        poisson: false,
    };
    (qa, out)
}

/// Work allowed for the drop-head wait distribution (state updates of its uniformized
/// chain, 10–20 ns each): about 0.3 s at most (measured: max_length 1000 hits it), so a
/// `size` search stays usable; beyond it the quantiles are left out rather than computed
/// slowly.
const DROP_HEAD_DISTRIBUTION_BUDGET: u64 = 20_000_000;

/// Drop-head figures of served messages. `held` = messages the consumers hold (c·p): with
/// one consumer (or prefetch 1) they are exactly the ones drop-head cannot touch, so the
/// tagged-message chain is exact; with c > 1 and prefetch > 1 the pooled model is an
/// idealisation anyway and keeps its prefetch-1 chain (buffers treated as ready places).
fn drop_head(
    st: &Station,
    qa: &mut QueueAnalysis,
    r: &mmck::MmckResult,
    held: u64,
    exact_regime: bool,
) {
    let protected = if exact_regime { held } else { u64::from(st.c) };
    let Some(d) = r.drop_head_holding(protected) else {
        qa.notes.push(format!(
            "drop-head: the served-message wait needs a chain of (K−c)²/2 states; K − c = {} exceeds {} so it is not computed (reject-publish would give {:.6} s)",
            r.k - u64::from(st.c),
            mmck::MAX_DROP_HEAD_READY,
            r.wq
        ));
        return;
    };
    qa.wait_s.mean = Some(d.wq_served);
    qa.sojourn_s.mean = Some(d.wq_served + st.s_mean);
    let whom = if held > u64::from(st.c) && exact_regime {
        format!(
            "the oldest READY message is dropped, never one of the {held} the consumer holds (in service or in its prefetch buffer), so a message waits safely once delivered"
        )
    } else {
        "the oldest ready message is dropped".to_string()
    };
    qa.notes.push(format!(
        "drop-head: loss and queue length as reject-publish (the number in system is the same birth–death chain), but {whom}; served messages wait less. Mean wait of served messages by first-step analysis of an absorbing Markov chain of a tagged message (its position, the number behind it); reject-publish would give {:.6} s",
        r.wq
    ));
    if !exact_regime {
        qa.notes.push("drop-head with prefetch > 1 and several consumers: the chain treats the consumers' buffers as pooled ready places that drop-head may empty; an approximation".into());
        return;
    }
    match r.drop_head_distribution(protected, DROP_HEAD_DISTRIBUTION_BUDGET) {
        Some(dist) => {
            qa.wait_s = Latency::from_quantile_fn(Some(d.wq_served), |p| dist.wait_quantile(p));
            qa.sojourn_s = Latency::from_quantile_fn(Some(d.wq_served + st.s_mean), |p| {
                dist.sojourn_quantile(p)
            });
            qa.notes.push("drop-head wait and sojourn quantiles of served messages: exact, by uniformization of the same tagged-message chain (a phase-type distribution; the sojourn adds the message's own exponential service)".into());
        }
        None => qa.notes.push(format!(
            "drop-head wait quantiles not computed: uniformizing the tagged-message chain (K − c = {}) would exceed the work budget",
            r.k - u64::from(st.c)
        )),
    }
}

/// prefetch 0 / auto ack with c > 1: each consumer its own FIFO queue, fed round-robin.
pub(super) fn round_robin(st: &Station, mut qa: QueueAnalysis) -> (QueueAnalysis, Stream) {
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
        qa.wait_s = Latency::from_quantile_fn(Some(r.wq), |p| r.wait_quantile(p));
        qa.sojourn_s = Latency::from_quantile_fn(Some(r.w), |p| r.sojourn_quantile(p));
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
        qa.wait_s = Latency::from_quantile_fn(Some(r.wq), |p| r.wait_quantile(p));
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
