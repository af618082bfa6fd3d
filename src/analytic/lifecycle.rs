//! The models of a queue whose messages have a lifecycle (the second edition): a TTL
//! (M/M/c+D, Zeltyn & Mandelbaum), consumer failures (requeue: Takács' Bernoulli feedback,
//! M/M/c at μ(1 − p); reject: M/M/c, a share p of the served messages rejected),
//! priorities (Cobham's non-preemptive M/M/c with equal rates), crashes (one consumer: the
//! two-phase QBD or Gaver's completion time; several: Allen–Cunneen on the completion time,
//! an approximation). Each model's source is in its own file; this one picks the model and
//! fills the figures.
//!
//! Exact where the model's assumptions are the scenario's: Poisson arrivals, exponential
//! service, one FIFO pool (prefetch 1, or one consumer with prefetch 1), no `max_length`,
//! one lifecycle feature at a time (a reject failure composes with any: it only removes
//! served messages). Elsewhere the queue gets the first edition's model and a note that
//! says which feature it leaves out.

use super::choose::{Dispatch, Station};
use super::traffic::Stream;
use super::{Downtime, mm1_breakdowns_general, mmc, mmc_breakdowns_approx, mmc_plus_d};
use super::{mmc_priority, mmc_requeue};
use crate::results::{Latency, PriorityAnalysis, QueueAnalysis};
use crate::routing::QueueId;
use crate::scenario::{Failure, Model};

/// The lifecycle features of queue `q` that change its model.
struct Features {
    /// The TTL every message of the queue has (queue TTL, or the same producer TTL).
    ttl: Option<f64>,
    /// Some messages have a TTL, but not all the same one.
    mixed_ttl: bool,
    failure: Option<Failure>,
    /// Per priority offered (rate), highest first, when more than one is offered.
    classes: Vec<(u8, f64)>,
    crash: Option<(f64, Downtime)>,
    crash_unsupported: Option<String>,
}

fn features(model: &Model, q: QueueId) -> Features {
    let queue = &model.queues[q];
    let producers: Vec<_> = model.producers.iter().filter(|p| p.routes.contains(&q)).collect();
    let ttls: Vec<Option<f64>> = producers
        .iter()
        .map(|p| match (p.ttl, queue.message_ttl) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        })
        .collect();
    let fed_otherwise =
        model.groups.iter().any(|g| g.then.as_ref().is_some_and(|t| t.routes.contains(&q)))
            || model.queues.iter().any(|x| x.dead_letter.is_some());
    let (ttl, mixed_ttl) = if ttls.is_empty() || fed_otherwise {
        (queue.message_ttl, queue.message_ttl.is_none() && model.may_expire(q))
    } else if ttls.windows(2).all(|w| w[0] == w[1]) {
        (ttls[0], false)
    } else {
        (None, true)
    };
    let groups: Vec<_> = queue.groups.iter().map(|&g| &model.groups[g]).collect();
    let failure = groups.first().and_then(|g| g.failure);
    let mut classes: Vec<(u8, f64)> = Vec::new();
    if let Some(max) = queue.max_priority {
        for p in &producers {
            let rate = p.message_rate();
            for (v, share) in p.priority.shares() {
                let v = v.min(max);
                match classes.iter_mut().find(|c| c.0 == v) {
                    Some(c) => c.1 += rate * share,
                    None => classes.push((v, rate * share)),
                }
            }
        }
        classes.sort_by_key(|c| std::cmp::Reverse(c.0));
        if classes.len() < 2 {
            classes.clear();
        }
    }
    let (mut crash, mut crash_unsupported) = (None, None);
    if let Some(c) = groups.first().and_then(|g| g.crash.as_ref()) {
        let down = if c.restart.is_exponential() {
            Some(Downtime::Exponential { mean: c.restart.mean() })
        } else if c.restart.is_constant() {
            Some(Downtime::Deterministic { duration: c.restart.mean() })
        } else {
            None
        };
        match (c.every.is_exponential(), down) {
            (true, Some(d)) => crash = Some((1.0 / c.every.mean(), d)),
            _ => {
                crash_unsupported = Some(format!(
                    "crashes with up time {} and restart {}: the models need exponential up times and exponential or constant restarts",
                    c.every.label(),
                    c.restart.label()
                ))
            }
        }
    }
    Features { ttl, mixed_ttl, failure, classes, crash, crash_unsupported }
}

/// Does queue `q` use any lifecycle feature that changes its model?
pub(super) fn applies(model: &Model, q: QueueId) -> bool {
    let queue = &model.queues[q];
    model.may_expire(q)
        || queue.max_priority.is_some()
        || queue
            .groups
            .iter()
            .any(|&g| model.groups[g].failure.is_some() || model.groups[g].crash.is_some())
}

fn latency(mean: Option<f64>) -> Latency {
    Latency { mean, ..Latency::default() }
}

/// The figures of queue `q` (its station `st`, load already in `qa`) with its lifecycle.
/// `Err`: no lifecycle model applies; the caller uses the first edition's model (then
/// [`adjust_after`]), which is not exact when the flag says a feature was left out.
pub(super) fn analyze(
    model: &Model,
    q: QueueId,
    st: &Station,
    mut qa: QueueAnalysis,
) -> Result<(QueueAnalysis, Stream), Box<(QueueAnalysis, bool)>> {
    let f = features(model, q);
    let pooled_fifo = match st.dispatch {
        Dispatch::Prefetch(1) => true,
        Dispatch::Prefetch(_) | Dispatch::Unlimited => false,
    };
    let markov = st.poisson && st.exp_service && pooled_fifo && st.max_length.is_none();
    let requeue = f.failure.filter(|x| x.requeue && x.probability > 0.0);
    let kinds = [f.ttl.is_some(), requeue.is_some(), !f.classes.is_empty(), f.crash.is_some()];
    let n_kinds = kinds.iter().filter(|&&k| k).count();
    if f.mixed_ttl {
        qa.notes.push("messages reach this queue with different TTLs: the TTL model needs one TTL per queue, so expiry is left out of these figures".into());
    }
    if let Some(why) = &f.crash_unsupported {
        qa.notes.push(format!("{why}; crashes are left out of these figures"));
    }
    let ignored = f.mixed_ttl || f.crash_unsupported.is_some();
    if n_kinds == 0 {
        return Err(Box::new((qa, ignored)));
    }
    // One consumer serves its deliveries in order whatever its prefetch (a crash requeues
    // them to the head), and the crash model for several consumers is approximate anyway.
    let crash_regime = st.poisson && st.exp_service && st.max_length.is_none();
    let fits = if f.crash.is_some() { crash_regime } else { markov };
    if n_kinds > 1 || !fits {
        qa.notes.push(format!(
            "{}: no model combines them or covers this queue's regime (the lifecycle models need Poisson arrivals, exponential service, prefetch 1 and no max_length); the figures below leave them out",
            describe(&kinds)
        ));
        return Err(Box::new((qa, true)));
    }
    let (lambda, mu, c) = (st.lambda, st.mu(), st.c);
    if let Some(d) = f.ttl {
        let r = mmc_plus_d(lambda, mu, c, d).ok_or_else(|| Box::new((qa.clone(), true)))?;
        qa.model = Some(if c == 1 { "M/M/1+D" } else { "M/M/c+D" }.into());
        qa.exact = true;
        qa.stable = true;
        qa.expire_probability = Some(r.expire_probability);
        qa.loss_probability = Some(0.0);
        qa.throughput = Some(r.served_rate);
        qa.utilization = Some(r.utilization);
        qa.wait_s =
            Latency::from_quantile_fn(Some(r.wait_served_mean), |p| r.wait_served_quantile(p));
        qa.sojourn_s = latency(Some(r.sojourn_served_mean));
        qa.queue_length.mean = Some(r.queue_length_mean);
        qa.waiting.mean = Some(r.queue_length_mean);
        qa.in_system.mean = Some(r.queue_length_mean + r.served_rate / mu);
        qa.notes.push(format!(
            "TTL {d} s as deterministic patience: M/M/c+D (Zeltyn & Mandelbaum 2005, after Baccelli & Hébuterne 1981), exact for a FIFO queue whose messages expire after exactly the TTL of waiting; P(expire) = {:.6}; waits and sojourns are those of the served messages; a queue with a TTL is stable whatever ρ",
            r.expire_probability
        ));
        return Ok((qa, Stream { rate: r.served_rate, scv: 1.0, poisson: false }));
    }
    if let Some(fail) = requeue {
        let r = mmc_requeue(lambda, mu, c, fail.probability)
            .ok_or_else(|| Box::new((qa.clone(), true)))?;
        let eq = r.equivalent;
        qa.model = Some("M/M/c, Bernoulli feedback".into());
        qa.exact = st.max_length.is_none() && model.queues[q].delivery_limit.is_none();
        qa.stable = true;
        qa.throughput = Some(lambda);
        qa.loss_probability = Some(0.0);
        qa.utilization = Some(r.utilization);
        qa.wait_s = latency(Some(r.wait_final_mean));
        qa.sojourn_s = Latency::from_quantile_fn(Some(r.sojourn_mean), |p| eq.sojourn_quantile(p));
        qa.queue_length.mean = Some(eq.lq);
        qa.waiting.mean = Some(eq.lq);
        qa.in_system.mean = Some(eq.lq + lambda / (mu * (1.0 - fail.probability)));
        qa.notes.push(format!(
            "each delivery fails with p = {} and is requeued at the head: Bernoulli feedback (Takács 1963); with exponential service the queue is M/M/c at μ(1 − p) = {:.6}/s, exact; {:.4} deliveries per message; the wait is to the start of the final, successful service",
            fail.probability,
            mu * (1.0 - fail.probability),
            r.deliveries_mean
        ));
        if !qa.exact {
            qa.notes.push("with a delivery limit some messages leave before success, so the feedback model (which serves every message to success) overstates the load a little: approximate".into());
        }
        return Ok((qa, Stream { rate: lambda, scv: 1.0, poisson: false }));
    }
    if !f.classes.is_empty() {
        let lambdas: Vec<f64> = f.classes.iter().map(|c| c.1).collect();
        let per = mmc_priority(&lambdas, mu, c).ok_or_else(|| Box::new((qa.clone(), true)))?;
        let base = mmc(lambda, mu, c).ok_or_else(|| Box::new((qa.clone(), true)))?;
        qa.model = Some("M/M/c, non-preemptive priorities".into());
        qa.exact = true;
        qa.throughput = Some(lambda);
        qa.loss_probability = Some(0.0);
        qa.utilization = Some(base.rho);
        let total: f64 = lambdas.iter().sum();
        let mean = |f: &dyn Fn(&super::PriorityClass) -> Option<f64>| -> Option<f64> {
            per.iter().map(|k| f(k).map(|v| v * k.lambda / total)).sum()
        };
        qa.wait_s = latency(mean(&|k| k.wait_mean));
        qa.sojourn_s = latency(mean(&|k| k.sojourn_mean));
        qa.queue_length.mean = Some(base.lq);
        qa.waiting.mean = Some(base.lq);
        qa.in_system.mean = Some(base.lq + base.offered_load);
        qa.by_priority = Some(
            f.classes
                .iter()
                .zip(&per)
                .map(|(&(p, rate), k)| PriorityAnalysis {
                    priority: p,
                    offered: rate,
                    wait_s: latency(k.wait_mean),
                    sojourn_s: latency(k.sojourn_mean),
                })
                .collect(),
        );
        qa.notes.push("priorities: Cobham's non-preemptive formula for M/M/c with equal service rates (Cobham 1954; Gross & Harris §3.4), exact: W_k = C(c, a)/(cμ) / ((1 − σ_{k−1})(1 − σ_k)); the number waiting is M/M/c's; means only".into());
        return Ok((qa, Stream { rate: lambda, scv: 1.0, poisson: false }));
    }
    if let Some((xi, down)) = f.crash {
        if c == 1 {
            let r = mm1_breakdowns_general(lambda, mu, xi, down, true)
                .ok_or_else(|| Box::new((qa.clone(), true)))?;
            qa.model = Some("M/M/1 with crashes".into());
            qa.exact = true;
            qa.stable = r.stable;
            qa.throughput = Some(if r.stable { lambda } else { r.capacity });
            qa.loss_probability = Some(0.0);
            qa.wait_s = latency(r.wait_mean);
            qa.sojourn_s = latency(r.sojourn_mean);
            qa.notes.push(format!(
                "the consumer crashes after exponential up times (mean {:.6} s) whether busy or idle and restarts after a {} down time; the message in service is requeued and served again: {} (Neuts 1981; Gaver 1962 with Welch's exceptional first service), exact for the means; availability {:.6}",
                1.0 / xi,
                match down { Downtime::Exponential { .. } => "exponential", Downtime::Deterministic { .. } => "constant" },
                match down { Downtime::Exponential { .. } => "a two-phase quasi-birth-death process solved by the matrix-geometric method", Downtime::Deterministic { .. } => "an M/G/1 on the completion time" },
                r.availability
            ));
            return Ok((qa, Stream { rate: lambda, scv: 1.0, poisson: false }));
        }
        let eta = 1.0 / down.mean();
        let r = mmc_breakdowns_approx(lambda, mu, c, xi, eta)
            .ok_or_else(|| Box::new((qa.clone(), true)))?;
        qa.model = Some("M/G/c with crashes (Allen–Cunneen on the completion time)".into());
        qa.exact = false;
        qa.stable = r.rho < 1.0;
        qa.throughput = Some(lambda);
        qa.loss_probability = Some(0.0);
        qa.wait_s = latency(Some(r.wait_mean));
        qa.sojourn_s = latency(Some(r.sojourn_mean));
        if !pooled_fifo {
            qa.notes.push("prefetch > 1: a crash hands back all the consumer's unacked messages, which this approximation does not see; its error has no known sign and can be large (`mqsim validate` measures it)".into());
        }
        qa.notes.push(format!(
            "crashes with {c} consumers: APPROXIMATE — each message's completion time (service plus the down times that interrupt it, mean {:.6} s, SCV {:.4}) as the service of an M/G/c queue (Allen–Cunneen); idle crashes are ignored",
            r.completion_mean, r.completion_scv
        ));
        return Ok((qa, Stream { rate: lambda, scv: 1.0, poisson: false }));
    }
    Err(Box::new((qa, ignored)))
}

fn describe(kinds: &[bool; 4]) -> String {
    let names = ["a TTL", "requeued failures", "priorities", "crashes"];
    let used: Vec<&str> = names.iter().zip(kinds).filter(|(_, k)| **k).map(|(n, _)| *n).collect();
    format!("this queue has {}", used.join(" and "))
}

/// After any model: consumers that reject a share p of their deliveries (no requeue) ack
/// only the rest; the waits are unchanged (a failure is decided after the service).
pub(super) fn adjust_after(model: &Model, q: QueueId, qa: &mut QueueAnalysis, out: &mut Stream) {
    let Some(f) = model.queues[q].groups.first().and_then(|&g| model.groups[g].failure) else {
        return;
    };
    if f.requeue || f.probability <= 0.0 {
        return;
    }
    if let Some(t) = qa.throughput.as_mut() {
        *t *= 1.0 - f.probability;
    }
    out.rate *= 1.0 - f.probability;
    qa.reject_probability = Some(f.probability * (1.0 - qa.loss_probability.unwrap_or(0.0)));
    qa.notes.push(format!(
        "each delivery fails with p = {} after its service and is rejected: the queue's model is unchanged (the failure is decided after the service), throughput counts the acked messages only",
        f.probability
    ));
}
