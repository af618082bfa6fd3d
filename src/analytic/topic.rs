//! Theory for Kafka-style topics.
//!
//! - **Partition rates** come from the actual key → partition map (Kafka's murmur2
//!   partitioner applied to `key-0` … `key-(n−1)`) weighted by the key distribution
//!   (uniform, or Zipf with key-0 the most frequent); records without a key go round-robin,
//!   1/P of the rate to each partition.
//! - **Each consumer is one work-conserving single server** over its partitions (the
//!   assignment every member alive, as the assignor computes it). Its arrivals are the sum
//!   of its partitions' streams. A Poisson producer's keyed records, each sent to a
//!   partition independently, split it into independent Poisson streams (Poisson thinning),
//!   so a consumer of a Poisson producer sees Poisson arrivals and
//!   - exponential service: **M/M/1, exact** for the mean: the consumer serves its
//!     partitions in polls rather than in publish order, but for a work-conserving server
//!     whose order does not look at service times the number of records in the system, and
//!     so the mean sojourn, is the same as FIFO's (Kleinrock vol. 1 §3.2's conservation
//!     argument; Little's law). The sojourn's 99th percentile, `ln(100)/(μ − λ)`, is FIFO's
//!     and exact only for a consumer with one partition;
//!   - general service: **M/G/1 Pollaczek–Khinchine** mean (Kleinrock eq. 5.72), exact for
//!     the mean by the same argument.
//! - **Other arrivals** (a non-Poisson producer, or round-robin keyless records, which give
//!   a consumer k of every P records in a fixed pattern) use Kingman's G/G/1 formula with
//!   the arrival SCV of the thinned stream: random thinning with probability q of a renewal
//!   stream of SCV c² has SCV `q c² + 1 − q` (exact for a renewal stream); taking k of every
//!   P records in turn is taken as a sum of P/k interarrivals, SCV `c² k/P`; several
//!   producers are superposed by Whitt's QNA rate-weighted SCV (Whitt 1983). Labelled
//!   approximate.
//! - **Bulk polls**: with `max_poll_records > 1` a consumer takes up to that many records at
//!   once and then serves them one by one; with no per-poll cost this changes only the
//!   order, so the means above hold whatever the poll size. Percentiles do depend on it
//!   (a record polled behind a large batch of another partition waits for the batch): the
//!   p99 given is FIFO's, approximate for a consumer with several partitions.
//! - **The hottest consumer decides stability**: the group keeps up only if every consumer's
//!   ρ = λ_c E\[S\] < 1, however idle the others are (a partition is never shared).
//! - **Rebalance pauses** (`crash` with `rebalance_pause`) are treated as service
//!   interruptions of fixed length D = the pause, arriving as a Poisson stream, hitting a
//!   consumer busy or idle: for exponential service, M/M/1 with breakdowns, exact for that
//!   model ([`super::crash::mm1_breakdowns_general`]); otherwise Gaver's completion time
//!   `E[T] = E[S](1 + fD)`, `E[T²] = E[S²](1 + fD)² + f D² E[S]` in P–K. The interruption
//!   rate f: with an eager assignor every crash and every restart of any of the n members
//!   stops every partition, `f = 2n / (E[up] + E[restart])`; with cooperative-sticky a
//!   consumer's partitions stop when it crashes and when partitions move back at its
//!   restart, `f ≈ 2 / (E[up] + E[restart])`. Approximate: real rebalances are not Poisson,
//!   a crashed consumer's load moves to the others while it is down, and the record it was
//!   processing is processed again.

use super::crash::{Downtime, mm1_breakdowns_general};
use super::mg1::mg1;
use crate::mq::log::assign;
use crate::results::{
    Hottest, Latency, MemberAnalysis, PartitionAnalysis, TopicAnalysis, TopicGroupAnalysis,
};
use crate::scenario::{Keys, Model, Topic, TopicGroup};

/// Theory for every topic of the model (empty without topics).
pub fn analyze(model: &Model) -> Vec<TopicAnalysis> {
    model.topics.iter().map(analyze_topic).collect()
}

/// One consumer's queue: its figures and whether they are exact.
struct Solved {
    rho: f64,
    stable: bool,
    wait: Option<f64>,
    sojourn: Option<f64>,
    p99: Option<f64>,
}

fn analyze_topic(topic: &Topic) -> TopicAnalysis {
    let rates = topic.partition_rates();
    let mut keys = vec![0u64; topic.partitions as usize];
    for p in &topic.producers {
        for &k in p.key_partition.iter() {
            keys[k as usize] += 1;
        }
    }
    let groups: Vec<TopicGroupAnalysis> =
        topic.groups.iter().map(|g| analyze_group(topic, g, &rates)).collect();
    // The lag of a partition: λ_p times its consumer's mean sojourn (Little's law, with the
    // consumer's mean standing for each of its partitions: exact with one partition per
    // consumer), the largest over groups.
    let partitions = (0..topic.partitions)
        .map(|p| {
            let lag = groups
                .iter()
                .map(|g| {
                    let m = g.members.iter().find(|m| m.partitions.contains(&p))?;
                    m.sojourn_mean_s.map(|w| rates[p as usize] * w)
                })
                .try_fold(0.0f64, |acc, l| l.map(|l| acc.max(l)));
            PartitionAnalysis {
                index: p,
                offered_rate: rates[p as usize],
                keys: keys[p as usize],
                lag_mean: lag,
            }
        })
        .collect();
    TopicAnalysis { name: topic.name.clone(), partitions, groups }
}

/// Arrival SCV of the records a consumer owning `owned` partitions receives, and whether
/// its arrivals are exactly Poisson.
fn arrival_scv(topic: &Topic, owned: &[u32]) -> (f64, bool) {
    let mut weighted = 0.0;
    let mut total = 0.0;
    let mut poisson = true;
    for p in &topic.producers {
        let rate = 1.0 / p.arrival.mean();
        let shares = p.partition_shares(topic.partitions);
        let q: f64 = owned.iter().map(|&i| shares[i as usize]).sum();
        if q <= 0.0 {
            continue;
        }
        let c2 = p.arrival.scv();
        let is_poisson = (c2 - 1.0).abs() < 1e-12;
        let (scv, exact) = match p.keys {
            _ if q >= 1.0 - 1e-12 => (c2, is_poisson),
            Keys::None => (c2 * q, false),
            _ => (q * c2 + 1.0 - q, is_poisson),
        };
        poisson &= exact;
        weighted += rate * q * scv;
        total += rate * q;
    }
    if total > 0.0 { (weighted / total, poisson) } else { (1.0, true) }
}

fn analyze_group(topic: &Topic, g: &TopicGroup, rates: &[f64]) -> TopicGroupAnalysis {
    let all: Vec<u32> = (0..g.count).collect();
    let owners = assign(g.assignor, topic.partitions, &all, &[]);
    let m = g.service.mean();
    let cs2 = g.service.scv();
    let exponential_service = (cs2 - 1.0).abs() < 1e-12;
    let mut notes = Vec::new();
    // Interruptions by rebalances.
    let interruptions = g.crash.as_ref().and_then(|cr| {
        let cycle = cr.every.mean() + cr.restart.mean();
        let pause = g.rebalance_pause;
        (pause > 0.0 && cycle > 0.0).then(|| {
            let f = if g.assignor.eager() { 2.0 * f64::from(g.count) / cycle } else { 2.0 / cycle };
            (f, pause)
        })
    });
    let mut exact = interruptions.is_none();
    let mut model_name = if exponential_service { "M/M/1" } else { "M/G/1" }.to_string();
    let mut members = Vec::new();
    for c in 0..g.count {
        let partitions: Vec<u32> =
            (0..topic.partitions).filter(|&p| owners[p as usize] == Some(c)).collect();
        let lambda: f64 = partitions.iter().map(|&p| rates[p as usize]).sum();
        let (ca2, poisson) = arrival_scv(topic, &partitions);
        if !poisson {
            exact = false;
            model_name = "G/G/1 (Kingman)".into();
        }
        let s = solve(lambda, m, cs2, ca2, poisson, interruptions);
        members.push(MemberAnalysis {
            index: c,
            partitions,
            arrival_rate: lambda,
            rho: s.rho,
            stable: s.stable,
            wait_mean_s: s.wait,
            sojourn_mean_s: s.sojourn,
            sojourn_p99_s: s.p99,
        });
    }
    if interruptions.is_some() {
        model_name = format!("{model_name} with rebalance interruptions");
    }
    let idle = members.iter().filter(|m| m.partitions.is_empty()).count() as u32;
    let stable = members.iter().all(|m| m.stable);
    let hottest = members
        .iter()
        .filter(|m| !m.partitions.is_empty())
        .max_by(|a, b| a.rho.total_cmp(&b.rho))
        .map(|m| Hottest { consumer: m.index, rho: m.rho, partitions: m.partitions.clone() });
    let total: f64 = rates.iter().sum();
    let mean_of = |f: &dyn Fn(&MemberAnalysis) -> Option<f64>| -> Option<f64> {
        if !stable || total <= 0.0 {
            return None;
        }
        members
            .iter()
            .filter(|m| m.arrival_rate > 0.0)
            .try_fold(0.0, |acc, m| f(m).map(|v| acc + m.arrival_rate / total * v))
    };
    let wait = mean_of(&|m| m.wait_mean_s);
    let sojourn = mean_of(&|m| m.sojourn_mean_s);
    notes.push(format!(
        "{} assignment over {} partitions: each consumer is one work-conserving server over its partitions; the group's means weigh each consumer by its share of the records",
        g.assignor.name(),
        topic.partitions
    ));
    if idle > 0 {
        notes.push(format!(
            "{idle} of {} consumers are idle: a partition has one consumer per group, so consumers beyond the {} partitions get none and adding more cannot help",
            g.count, topic.partitions
        ));
    }
    if let Some(h) = &hottest {
        notes.push(format!(
            "the hottest consumer, number {} (partitions {:?}), runs at rho = {:.3}: it decides stability{}",
            h.consumer,
            h.partitions,
            h.rho,
            if stable { "" } else { " — it cannot keep up, its lag grows without bound" }
        ));
    }
    if g.max_poll_records > 1 {
        notes.push(format!(
            "polls of up to {} records change the order records are served in, not the means (work conservation); the p99 is FIFO's, approximate for consumers with several partitions",
            g.max_poll_records
        ));
    }
    if !exact && interruptions.is_none() {
        notes.push(
            "arrivals at a consumer are not Poisson (non-exponential producer, or keyless round-robin): Kingman's G/G/1 with the thinned stream's SCV (approximate)".into(),
        );
    }
    if let Some((f, d)) = interruptions {
        notes.push(format!(
            "rebalance pauses of {d} s treated as Poisson service interruptions at {f:.4}/s per consumer ({}) — approximate",
            if g.assignor.eager() {
                "eager: every crash and restart of any member stops every partition"
            } else {
                "cooperative-sticky: only a consumer's moved partitions stop"
            }
        ));
    }
    TopicGroupAnalysis {
        name: g.name.clone(),
        assignment: g.assignor.name().to_string(),
        consumers: g.count,
        idle_consumers: idle,
        model: model_name,
        exact,
        stable,
        hottest,
        // An overloaded consumer processes at its capacity λ/ρ, the rest keep up.
        throughput: members
            .iter()
            .map(|m| if m.rho > 1.0 { m.arrival_rate / m.rho } else { m.arrival_rate })
            .sum(),
        wait_s: Latency { mean: wait, ..Latency::default() },
        sojourn_s: Latency { mean: sojourn, ..Latency::default() },
        members,
        notes,
    }
}

fn solve(
    lambda: f64,
    m: f64,
    cs2: f64,
    ca2: f64,
    poisson: bool,
    interruptions: Option<(f64, f64)>,
) -> Solved {
    if lambda <= 0.0 {
        return Solved { rho: 0.0, stable: true, wait: None, sojourn: None, p99: None };
    }
    let exponential = (cs2 - 1.0).abs() < 1e-12;
    if let Some((f, d)) = interruptions {
        if exponential && poisson {
            let r = mm1_breakdowns_general(
                lambda,
                1.0 / m,
                f,
                Downtime::Deterministic { duration: d },
                true,
            );
            if let Some(r) = r {
                return Solved {
                    rho: r.rho,
                    stable: r.stable,
                    wait: r.sojourn_mean.map(|w| w - m),
                    sojourn: r.sojourn_mean,
                    p99: None,
                };
            }
        }
        // Gaver's completion time in Pollaczek–Khinchine (Kingman for non-Poisson).
        let et = m * (1.0 + f * d);
        let et2 = m * m * (1.0 + cs2) * (1.0 + f * d).powi(2) + f * d * d * m;
        let ct2 = et2 / (et * et) - 1.0;
        return kingman(lambda, et, ct2, ca2, m);
    }
    if poisson {
        let rho = lambda * m;
        match mg1(lambda, m, cs2) {
            Some(r) => Solved {
                rho,
                stable: true,
                wait: Some(r.wq),
                sojourn: Some(r.w),
                // M/M/1 FIFO sojourn ~ Exp(μ − λ).
                p99: exponential.then(|| 100f64.ln() / (1.0 / m - lambda)),
            },
            None => Solved { rho, stable: false, wait: None, sojourn: None, p99: None },
        }
    } else {
        kingman(lambda, m, cs2, ca2, m)
    }
}

/// Kingman's G/G/1 mean wait `ρ/(1−ρ) · (c_a² + c_s²)/2 · E[S]` with service time `es`
/// (SCV `cs2`); the sojourn adds the record's own processing `own`.
fn kingman(lambda: f64, es: f64, cs2: f64, ca2: f64, own: f64) -> Solved {
    let rho = lambda * es;
    if rho >= 1.0 {
        return Solved { rho, stable: false, wait: None, sojourn: None, p99: None };
    }
    let wq = rho / (1.0 - rho) * (ca2 + cs2) / 2.0 * es;
    // The interruptions inside the record's own completion count as wait.
    let wait = wq + (es - own);
    Solved { rho, stable: true, wait: Some(wait), sojourn: Some(wq + es), p99: None }
}
