//! The traffic equations of a model with dead-letter exchanges, whose routes may form
//! cycles (the retry-with-delay pattern: work queue → DLX → delay queue → back), solved by
//! fixed-point iteration.
//!
//! A message's fate depends on its history — its routing key (a dead letter keeps it
//! unless the queue sets one), its delivery count (a delivery limit), and the queues it
//! died in since its last rejection (RabbitMQ's cycle rule) — so flows are kept per class
//! `(key, deliveries, dead-letter history)`, as BCMP networks do with classes: each queue
//! sees the sum of its classes, and sends each class on by its own rules. Routing by class
//! is Markov, so where every station is product-form (exponential FCFS servers with
//! Poisson external arrivals, infinite-server delay queues) the network is a BCMP network
//! (Baskett, Chandy, Muntz & Palacios 1975) and each queue's marginal is that of the queue
//! alone at its total rate: the dead-letter flow enters each queue's model as a Poisson
//! stream, with a note saying so.
//!
//! Each pass analyses the queues in `then` order with the dead-letter inflows of the pass
//! before; the flows converge geometrically (each lap of a loop carries a fraction < 1 of
//! the traffic, a rejection probability or a cycle drop).

use super::choose;
use super::traffic::Stream;
use crate::mq::{Reason, dead_letter};
use crate::results::{EndToEndPath, QueueAnalysis};
use crate::scenario::{KeyId, Model};
use std::collections::BTreeMap;

/// `(producer, routing key, deliveries so far, dead-letter history)`.
type Class = (u32, KeyId, u32, u32);
/// Per class: `(rate, rate × mean time since the first publish)`, so that the mean time a
/// class has spent so far travels with it (mean-value analysis along the paths).
type Flows = BTreeMap<Class, (f64, f64)>;

/// Passes before giving up on convergence (a loop that keeps 99% of its traffic per lap
/// converges to 1e-12 in about 2 700 passes).
const MAX_PASSES: usize = 5000;

fn add(flows: &mut Flows, class: Class, rate: f64, time_sum: f64) {
    if rate > 0.0 {
        let e = flows.entry(class).or_insert((0.0, 0.0));
        e.0 += rate;
        e.1 += time_sum;
    }
}

fn total(flows: &Flows) -> f64 {
    flows.values().map(|v| v.0).sum()
}

/// Analyses every queue of a model with dead-letter exchanges, and each producer's mean
/// end-to-end time over the messages that complete (retries included).
pub(super) fn solve(model: &Model) -> (Vec<QueueAnalysis>, Vec<EndToEndPath>) {
    let nq = model.queues.len();
    let mut external: Vec<Vec<(Stream, Class)>> = vec![Vec::new(); nq];
    for (pi, p) in model.producers.iter().enumerate() {
        for (q, s) in super::load::producer_streams(p) {
            external[q].push((s, (pi as u32, p.key, 0, 0)));
        }
    }
    let order = model.topological_order();
    let mut dead_in: Vec<Flows> = vec![Flows::new(); nq];
    let mut results: Vec<Option<QueueAnalysis>> = vec![None; nq];
    let mut converged = false;
    let mut passes = 0;
    let mut ended: Vec<(f64, f64)> = Vec::new();
    let mut visited: Vec<Vec<bool>> = Vec::new();
    while passes < MAX_PASSES && !converged {
        passes += 1;
        let mut then_in: Vec<Vec<(Stream, Flows)>> = vec![Vec::new(); nq];
        let mut next_dead: Vec<Flows> = vec![Flows::new(); nq];
        ended = vec![(0.0, 0.0); model.producers.len()];
        visited = vec![vec![false; nq]; model.producers.len()];
        for &q in &order {
            let mut parts: Vec<Stream> = external[q].iter().map(|(s, _)| *s).collect();
            parts.extend(then_in[q].iter().map(|(s, _)| *s));
            let dead_rate = total(&dead_in[q]);
            if dead_rate > 0.0 {
                parts.push(Stream { rate: dead_rate, scv: 1.0, poisson: true });
            }
            let input = Stream::merge(&parts);
            let (mut qa, out) = choose::analyze_queue(model, q, input);
            if dead_rate > 0.0 {
                qa.notes.insert(
                    0,
                    format!(
                        "dead letters arrive at {dead_rate:.6} msgs/s; they enter the model as a Poisson stream, which holds for the queue's marginal in a product-form (BCMP) network: Poisson publishers, exponential FCFS consumers, infinite-server delay queues"
                    ),
                );
            }
            let mut classes = Flows::new();
            for (s, c) in &external[q] {
                add(&mut classes, *c, s.rate, 0.0);
            }
            for flows in then_in[q].iter().map(|(_, f)| f).chain([&dead_in[q]]) {
                for (c, (r, t)) in flows {
                    add(&mut classes, *c, *r, *t);
                }
            }
            for c in classes.keys() {
                visited[c.0 as usize][q] = true;
            }
            let (rejected, successes) = send_on(model, q, &qa, &classes, &mut next_dead);
            let offered = total(&classes);
            if model.groups.iter().any(|g| g.failure.is_some() && g.queue == q) && offered > 0.0 {
                qa.reject_probability = Some(rejected / offered);
            }
            let consumers: u64 =
                model.queues[q].groups.iter().map(|&g| u64::from(model.groups[g].count)).sum();
            for (g, nq2) in model.onward_edges(q) {
                let share = if consumers > 0 {
                    f64::from(model.groups[g].count) / consumers as f64
                } else {
                    0.0
                };
                let key = model.groups[g].then.as_ref().map_or(0, |t| t.key);
                let mut flows = Flows::new();
                for (c, (r, t)) in &successes {
                    add(&mut flows, (c.0, key, 0, 0), r * share, t * share);
                }
                then_in[nq2].push((out.share(share), flows));
            }
            if model.path_can_end_at(q) && !model.queues[q].groups.is_empty() {
                // The share of the successes that ends here: groups without an onward route.
                let ending: u64 = model.queues[q]
                    .groups
                    .iter()
                    .filter(|&&g| model.groups[g].then.as_ref().is_none_or(|t| t.routes.is_empty()))
                    .map(|&g| u64::from(model.groups[g].count))
                    .sum();
                let share = if consumers > 0 { ending as f64 / consumers as f64 } else { 0.0 };
                for (c, (r, t)) in &successes {
                    let e = &mut ended[c.0 as usize];
                    e.0 += r * share;
                    e.1 += t * share;
                }
            }
            results[q] = Some(qa);
        }
        converged = dead_in.iter().zip(&next_dead).all(|(a, b)| {
            let (ra, rb) = (total(a), total(b));
            let (ta, tb): (f64, f64) =
                (a.values().map(|v| v.1).sum(), b.values().map(|v| v.1).sum());
            (ra - rb).abs() <= 1e-12 * (1.0 + rb) && (ta - tb).abs() <= 1e-12 * (1.0 + tb)
        });
        dead_in = next_dead;
    }
    let analyses: Vec<QueueAnalysis> = results
        .into_iter()
        .enumerate()
        .map(|(q, r)| {
            let mut qa = r.unwrap_or_else(|| {
                let mut qa = choose::blank(model, q, Stream::NONE);
                qa.notes.push(
                    "not analysed: the `then` routes form a cycle through this queue".into(),
                );
                qa
            });
            if !converged {
                qa.notes.push(format!(
                    "the dead-letter flows did not converge in {MAX_PASSES} passes: figures are from the last pass"
                ));
            }
            qa
        })
        .collect();
    let paths = model
        .producers
        .iter()
        .enumerate()
        .filter(|(pi, _)| ended[*pi].0 > 0.0)
        .map(|(pi, p)| {
            let seen: Vec<usize> = (0..nq).filter(|&q| visited[pi][q]).collect();
            EndToEndPath {
                producer: p.name.clone(),
                path: seen.iter().map(|&q| analyses[q].name.clone()).collect(),
                mean: Some(ended[pi].1 / ended[pi].0),
                // A queue nobody reads and without a TTL (a parking lot) holds no message
                // that completes: it does not bear on the mean.
                exact: converged
                    && seen
                        .iter()
                        .filter(|&&q| {
                            analyses[q].model.is_some() || !model.queues[q].groups.is_empty()
                        })
                        .all(|&q| analyses[q].exact),
            }
        })
        .collect();
    (analyses, paths)
}

/// Sends the classes offered to queue `q` on: what dies there goes to its dead-letter
/// exchange (by reason, key, delivery count and history), with RabbitMQ's cycle rule, each
/// class carrying its mean time so far plus its time here (a delivery: the queue's mean
/// sojourn; an expiry: the TTL). Returns the rate of messages the queue's consumers reject,
/// and the classes acked here with their times.
fn send_on(
    model: &Model,
    q: usize,
    qa: &QueueAnalysis,
    classes: &Flows,
    next_dead: &mut [Flows],
) -> (f64, Flows) {
    let queue = &model.queues[q];
    let loss = qa.loss_probability.unwrap_or(0.0).clamp(0.0, 1.0);
    let expire = qa.expire_probability.unwrap_or(0.0).clamp(0.0, 1.0 - loss);
    let drops_dead_letter = queue.overflow != crate::mq::Overflow::RejectPublish;
    let served = (1.0 - loss - expire).max(0.0);
    // The consumers' failures: one setting for the queue (the first group's), as the
    // model of the queue assumes identical consumers.
    let failure = queue.groups.first().and_then(|&g| model.groups[g].failure);
    let limit = queue.delivery_limit;
    let visit = qa.sojourn_s.mean.unwrap_or(0.0);
    let ttl = queue.message_ttl.unwrap_or(0.0);
    let mut rejected = 0.0;
    let mut successes = Flows::new();
    for (&(producer, key, d, mask), &(r, t)) in classes {
        // Mean time so far of this class.
        let so_far = if r > 0.0 { t / r } else { 0.0 };
        let mut die = |reason: Reason, deliveries: u32, rate: f64, time_here: f64| {
            let Some(dl) = &queue.dead_letter else { return };
            if rate <= 0.0 {
                return;
            }
            let mut mask = mask;
            let key = dl.key_for(key, reason);
            let routes = &dl.routes[key as usize];
            if dead_letter::pass_on(&mut mask, dl.cycle_bit, reason, dl.targets(model, key)) {
                for &tq in routes {
                    let class = (producer, key, deliveries, mask);
                    add(&mut next_dead[tq], class, rate, rate * (so_far + time_here));
                }
            }
        };
        if drops_dead_letter {
            die(Reason::Maxlen, d, r * loss, 0.0);
        }
        die(Reason::Expired, d, r * expire, ttl);
        if queue.groups.is_empty() {
            continue;
        }
        let s = r * served;
        let mut acked = s;
        match failure {
            Some(f) if f.requeue => {
                // Delivered until it succeeds, or until the limit: J more deliveries at most.
                if let Some(l) = limit {
                    let j = l.saturating_sub(d).max(1);
                    let at_limit = s * f.probability.powi(j as i32);
                    rejected += at_limit;
                    acked -= at_limit;
                    die(Reason::DeliveryLimit, d + j, at_limit, visit);
                }
            }
            Some(f) => {
                let failed = s * f.probability;
                rejected += failed;
                acked -= failed;
                let reason = if limit.is_some_and(|l| d + 1 >= l) {
                    Reason::DeliveryLimit
                } else {
                    Reason::Rejected
                };
                die(reason, d + 1, failed, visit);
            }
            None => {}
        }
        add(&mut successes, (producer, key, d + 1, mask), acked, acked * (so_far + visit));
    }
    (rejected, successes)
}
