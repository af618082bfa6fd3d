//! Sizing a Kafka-style topic's consumer group: the smallest consumer count that meets a
//! latency or lag target, per partition count (`--partitions 6,12,24`), and when adding
//! consumers cannot help, why.
//!
//! The search is the queues' ([`super::search_counts`]): theory's smallest meeting count
//! (each consumer one work-conserving server over the partitions its assignor gives it,
//! [`crate::analytic::topic`]) is the first guess, the simulation checks it and its
//! neighbours, and the answer is the smallest count whose simulated figure, at the upper end
//! of its 95% interval, meets the target. The group is simulated alone on its topic: every
//! group receives every record and no group waits for another, so the others change nothing
//! of its figures, and its random streams (indexed by its place in the file) stay the same
//! at every count (common random numbers).
//!
//! Two limits no consumer count gets past, said plainly in the report: a partition has one
//! consumer per group, so with P partitions consumers beyond P are idle (the search stops at
//! P); and a partition hotter than one consumer can process (a hot key) stays behind
//! whatever the count. More partitions split the keys differently, but never one key: when
//! the hottest key alone is more than a consumer can process, more partitions cannot help
//! either.

use super::{Evaluated, Metric, SizeError, Target, search_counts};
use crate::analytic::{topic as theory, tutorial};
use crate::cancel::Cancel;
use crate::mq::log::key_partitions;
use crate::results::TopicGroupAnalysis;
use crate::scenario::{Keys, Model};
use crate::sim::topic::{TopicStats, aggregate, simulate};
use crate::stats::summarize;
use rayon::prelude::*;
use serde::Serialize;
use std::sync::Arc;

/// One consumer count at one partition count.
#[derive(Debug, Clone, Serialize)]
pub struct TopicCandidate {
    /// Partitions of the topic.
    pub partitions: u32,
    /// Consumers in the group.
    pub count: u32,
    /// Does the simulated figure's 95% upper bound meet the target?
    pub meets: bool,
    /// Simulated figure; `null` when not simulated (a consumer cannot keep up).
    pub value: Option<f64>,
    /// Upper end of its 95% interval.
    pub ci95_upper: Option<f64>,
    /// Theory's figure, `null` where no model gives it.
    pub analytic: Option<f64>,
    /// Consumers with no partition.
    pub idle_consumers: u32,
    /// The most loaded consumer by theory.
    pub hottest_consumer: Option<u32>,
    /// Its load ρ by theory.
    pub hottest_rho: f64,
    /// Simulated utilization of the busiest consumer (theory's ρ when not simulated).
    pub utilization: f64,
    /// Simulated mean lag (records) of the partition furthest behind.
    pub lag_max_partition: Option<f64>,
    /// Simulated p50, p95, p99 of the target's latency (the wait for a wait target, else
    /// the sojourn).
    pub p50: Option<f64>,
    /// See `p50`.
    pub p95: Option<f64>,
    /// See `p50`.
    pub p99: Option<f64>,
    /// Why a count was not simulated (`null` when it was).
    pub note: Option<String>,
}

impl Evaluated for TopicCandidate {
    fn count(&self) -> u32 {
        self.count
    }
    fn meets(&self) -> bool {
        self.meets
    }
}

/// The search at one partition count.
#[derive(Debug, Clone, Serialize)]
pub struct PartitionSizing {
    /// Partitions.
    pub partitions: u32,
    /// Smallest consumer count meeting the target; `null` if none up to `partitions`.
    pub recommended: Option<u32>,
    /// Theory's smallest count meeting the target.
    pub analytic_guess: Option<u32>,
    /// Counts evaluated, ascending.
    pub candidates: Vec<TopicCandidate>,
    /// Why more consumers cannot help here (`null` when a count meets the target).
    pub cannot_help: Option<String>,
    /// Theory's fewest consumers with which every consumer keeps up (ρ < 1); fewer are not
    /// simulated (`null`: no count up to `partitions` keeps up).
    pub fewest_keeping_up: Option<u32>,
    /// Interrupted: counts whose simulation was due but did not finish.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub not_run: Vec<u32>,
}

/// The answer of `mqsim size` for a topic's group.
#[derive(Debug, Clone, Serialize)]
pub struct TopicSizeReport {
    /// Scenario name.
    pub scenario: String,
    /// Consumer group sized.
    pub group: String,
    /// Its topic.
    pub topic: String,
    /// The target.
    pub target: Target,
    /// Partitions of the headline answer (the first of `--partitions`, else the scenario's).
    pub partitions: u32,
    /// Smallest consumer count meeting the target at `partitions`.
    pub recommended: Option<u32>,
    /// What theory alone says at `partitions`.
    pub analytic_guess: Option<u32>,
    /// What the tutorial's P_c = G·P ≥ arrival rate gives (blind to partitions and keys).
    pub tutorial_guess: u32,
    /// Counts evaluated at `partitions`.
    pub candidates: Vec<TopicCandidate>,
    /// Why more consumers cannot help at `partitions` (`null` when a count meets).
    pub cannot_help: Option<String>,
    /// Theory's fewest consumers that keep up at `partitions` (see [`PartitionSizing`]).
    pub fewest_keeping_up: Option<u32>,
    /// The scenario's consumers beyond its partitions, idle (`null` when none are).
    pub idle_in_scenario: Option<String>,
    /// With `--partitions`: the search per partition count (absent otherwise).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub by_partitions: Vec<PartitionSizing>,
    /// With `--partitions`: the fewest partitions, of those given, with which some
    /// consumer count meets the target (absent otherwise).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub partitions_recommended: Option<u32>,
    /// Interrupted (Ctrl-C): the counts finished only (absent when false).
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub partial: bool,
    /// Interrupted: the headline search's counts not run (absent when empty).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub not_run: Vec<u32>,
}

impl TopicSizeReport {
    /// The search per partition count: `by_partitions`, or without `--partitions` one entry
    /// made of the headline figures.
    pub fn settings(&self) -> Vec<PartitionSizing> {
        if self.by_partitions.is_empty() {
            vec![PartitionSizing {
                partitions: self.partitions,
                recommended: self.recommended,
                analytic_guess: self.analytic_guess,
                candidates: self.candidates.clone(),
                cannot_help: self.cannot_help.clone(),
                fewest_keeping_up: self.fewest_keeping_up,
                not_run: self.not_run.clone(),
            }]
        } else {
            self.by_partitions.clone()
        }
    }
}

/// Where a topic's group is: (topic index, group index in the topic), if `name` is one.
pub fn find_group(model: &Model, name: &str) -> Option<(usize, usize)> {
    model
        .topics
        .iter()
        .enumerate()
        .find_map(|(ti, t)| t.groups.iter().position(|g| g.name == name).map(|gi| (ti, gi)))
}

/// The model reduced to topic `ti` with `partitions` partitions (keys re-hashed) and group
/// `gi` alone on it.
fn reduced(model: &Model, ti: usize, gi: usize, partitions: u32) -> Model {
    let mut m = model.clone();
    let mut topic = model.topics[ti].clone();
    if partitions != topic.partitions {
        topic.partitions = partitions;
        for p in &mut topic.producers {
            if !matches!(p.keys, Keys::None) {
                let keys = p.key_partition.len() as u64;
                p.key_partition = Arc::new(key_partitions(keys, partitions));
            }
        }
    }
    topic.groups = vec![topic.groups[gi].clone()];
    m.topics = vec![topic];
    m
}

fn with_count(base: &Model, count: u32) -> Model {
    let mut m = base.clone();
    m.topics[0].groups[0].count = count;
    m
}

fn analysis(m: &Model) -> TopicGroupAnalysis {
    theory::analyze(m).swap_remove(0).groups.swap_remove(0)
}

/// `P(X > t)` of the group's wait (`wait`) or sojourn over all records, for M/M/1
/// consumers: each consumer's FIFO sojourn is Exp(1/W_c) and its wait ρ_c·Exp(1/W_c)
/// (Kleinrock vol. 1 §3.2), weighted by its share of the records. Exact for consumers with
/// one partition; with several, polls serve partitions in turn, which changes the
/// distribution (not the mean): approximate.
fn mm1_ccdf(g: &TopicGroupAnalysis, wait: bool, t: f64) -> f64 {
    let total: f64 = g.members.iter().map(|m| m.arrival_rate).sum();
    g.members
        .iter()
        .filter(|m| m.arrival_rate > 0.0)
        .map(|m| {
            let w = m.sojourn_mean_s.unwrap_or(f64::INFINITY);
            let atom = if wait { m.rho } else { 1.0 };
            m.arrival_rate / total * atom * (-t / w).exp()
        })
        .sum()
}

/// Theory's figure of `target` for the group's analysis.
fn analytic_figure(g: &TopicGroupAnalysis, partition_rates: &[f64], t: &Target) -> Option<f64> {
    if !g.stable {
        return None;
    }
    let owner_sojourn = |p: usize| {
        g.members.iter().find(|m| m.partitions.contains(&(p as u32))).and_then(|m| m.sojourn_mean_s)
    };
    match (t.metric, t.stat.quantile()) {
        (Metric::Wait, None) => g.wait_s.mean,
        (Metric::Sojourn, None) => g.sojourn_s.mean,
        (Metric::Wait | Metric::Sojourn, Some(q)) => {
            // Percentiles only for M/M/1 consumers (no interruptions, Poisson arrivals).
            if g.model != "M/M/1" {
                return None;
            }
            let wait = t.metric == Metric::Wait;
            let tail = 1.0 - q;
            if mm1_ccdf(g, wait, 0.0) <= tail {
                return Some(0.0);
            }
            let (mut lo, mut hi) = (0.0f64, 1e-3f64);
            while mm1_ccdf(g, wait, hi) > tail {
                hi *= 2.0;
                if hi > 1e9 {
                    return None;
                }
            }
            for _ in 0..100 {
                let mid = 0.5 * (lo + hi);
                if mm1_ccdf(g, wait, mid) > tail { lo = mid } else { hi = mid }
            }
            Some(hi)
        }
        (Metric::Utilization, _) => g.hottest.as_ref().map(|h| h.rho),
        // Little's law per partition: λ_p × its consumer's mean sojourn.
        (Metric::Lag, _) => (0..partition_rates.len())
            .filter(|&p| partition_rates[p] > 0.0)
            .map(|p| owner_sojourn(p).map(|w| partition_rates[p] * w))
            .try_fold(0.0f64, |acc, l| l.map(|l| acc.max(l))),
        (Metric::LagSeconds, _) => (0..partition_rates.len())
            .filter(|&p| partition_rates[p] > 0.0)
            .map(owner_sojourn)
            .try_fold(0.0f64, |acc, l| l.map(|l| acc.max(l))),
        (Metric::Loss, _) => None,
    }
}

/// The simulated (value, upper 95% bound) of the target, and the lag of the partition
/// furthest behind, from the replications of a reduced model.
fn sim_figures(m: &Model, reps: &[Vec<TopicStats>], t: &Target) -> TopicSim {
    let views: Vec<&[TopicStats]> = reps.iter().map(Vec::as_slice).collect();
    let report = aggregate(m, &views).swap_remove(0);
    let g = &report.groups[0];
    let span = m.simulation.horizon - m.simulation.warmup;
    let horizon = m.simulation.horizon;
    let with_ci = |mean: f64, ci: Option<f64>| (Some(mean), Some(mean + ci.unwrap_or(0.0)));
    let worst_lag = report
        .partitions
        .iter()
        .max_by(|a, b| a.lag.mean.total_cmp(&b.lag.mean))
        .map(|p| (p.lag.mean, p.lag.ci95));
    let (value, upper) = match (t.metric, t.stat.quantile()) {
        (Metric::Wait, None) => g.wait_s.mean.map_or((None, None), |v| with_ci(v, g.wait_s.ci95)),
        (Metric::Sojourn, None) => {
            g.sojourn_s.mean.map_or((None, None), |v| with_ci(v, g.sojourn_s.ci95))
        }
        (metric @ (Metric::Wait | Metric::Sojourn), Some(q)) => {
            let lat = if metric == Metric::Wait { &g.wait_s } else { &g.sojourn_s };
            // The pooled percentile, its interval from the replications' own percentiles
            // (as for a queue).
            let per_rep: Vec<f64> = reps
                .iter()
                .filter_map(|r| {
                    let gs = &r[0].groups[0];
                    if metric == Metric::Wait {
                        gs.wait.quantile(q)
                    } else {
                        gs.sojourn.quantile(q)
                    }
                })
                .collect();
            let half = summarize(&per_rep).and_then(|s| s.ci95).unwrap_or(0.0);
            let pooled = lat.percentile(q);
            (pooled, pooled.map(|v| v + half))
        }
        (Metric::Utilization, _) => g
            .members
            .iter()
            .max_by(|a, b| a.utilization.mean.total_cmp(&b.utilization.mean))
            .map_or((None, None), |x| with_ci(x.utilization.mean, x.utilization.ci95)),
        (Metric::Lag, _) => worst_lag.map_or((None, None), |(v, ci)| with_ci(v, ci)),
        (Metric::LagSeconds, _) => {
            // Per partition and replication: time-averaged lag ÷ offered rate.
            (0..report.partitions.len())
                .filter_map(|p| {
                    let per: Vec<f64> = reps
                        .iter()
                        .filter_map(|r| {
                            let ps = &r[0].partitions[p];
                            let rate = ps.offered_post as f64 / span;
                            (rate > 0.0).then(|| ps.lag.average(horizon) / rate)
                        })
                        .collect();
                    summarize(&per)
                })
                .max_by(|a, b| a.mean.total_cmp(&b.mean))
                .map_or((None, None), |s| with_ci(s.mean, s.ci95))
        }
        (Metric::Loss, _) => (None, None),
    };
    let lat = if t.metric == Metric::Wait { &g.wait_s } else { &g.sojourn_s };
    TopicSim {
        value,
        upper,
        utilization: g.members.iter().map(|x| x.utilization.mean).fold(0.0, f64::max),
        lag: worst_lag.map(|l| l.0),
        p50: lat.p50,
        p95: lat.p95,
        p99: lat.p99,
    }
}

struct TopicSim {
    value: Option<f64>,
    upper: Option<f64>,
    utilization: f64,
    lag: Option<f64>,
    p50: Option<f64>,
    p95: Option<f64>,
    p99: Option<f64>,
}

/// One partition count's search.
struct Search<'m> {
    base: Model,
    target: &'m Target,
    cancel: &'m Cancel,
    partitions: u32,
    rates: Vec<f64>,
}

impl Search<'_> {
    fn figure(&self, g: &TopicGroupAnalysis) -> Option<f64> {
        analytic_figure(g, &self.rates, self.target)
    }

    /// The candidate, or `None` if a stop was requested before its simulation finished.
    fn evaluate(&self, count: u32) -> Option<TopicCandidate> {
        let m = with_count(&self.base, count);
        let a = analysis(&m);
        let hottest = a.hottest.as_ref();
        let mut c = TopicCandidate {
            partitions: self.partitions,
            count,
            meets: false,
            value: None,
            ci95_upper: None,
            analytic: self.figure(&a),
            idle_consumers: a.idle_consumers,
            hottest_consumer: hottest.map(|h| h.consumer),
            hottest_rho: hottest.map_or(0.0, |h| h.rho),
            utilization: hottest.map_or(0.0, |h| h.rho.min(1.0)),
            lag_max_partition: None,
            p50: None,
            p95: None,
            p99: None,
            note: None,
        };
        if !a.stable {
            c.note = Some(format!(
                "unstable: consumer {} (partitions {:?}) at rho = {:.3} cannot keep up; not simulated",
                c.hottest_consumer.unwrap_or(0),
                hottest.map(|h| h.partitions.clone()).unwrap_or_default(),
                c.hottest_rho
            ));
            return Some(c);
        }
        if self.cancel.requested() {
            return None;
        }
        let reps: Option<Vec<Vec<TopicStats>>> = (0..m.simulation.replications)
            .into_par_iter()
            .map(|r| simulate(&m, r, self.cancel))
            .collect();
        let reps = reps?;
        let s = sim_figures(&m, &reps, self.target);
        c.meets = s.upper.is_some_and(|u| u <= self.target.value);
        c.value = s.value;
        c.ci95_upper = s.upper;
        c.utilization = s.utilization;
        c.lag_max_partition = s.lag;
        (c.p50, c.p95, c.p99) = (s.p50, s.p95, s.p99);
        Some(c)
    }

    fn evaluate_all(
        &self,
        counts: &[u32],
        on_count: &(dyn Fn(u32) + Sync),
    ) -> (Vec<TopicCandidate>, Vec<u32>) {
        let out: Vec<(u32, Option<TopicCandidate>)> = counts
            .par_iter()
            .map(|&c| {
                let cand = self.evaluate(c);
                if cand.is_some() {
                    on_count(c);
                }
                (c, cand)
            })
            .collect();
        let mut done = Vec::new();
        let mut not_run = Vec::new();
        for (c, cand) in out {
            match cand {
                Some(x) => done.push(x),
                None => not_run.push(c),
            }
        }
        (done, not_run)
    }
}

/// The rate of the single hottest key over the topic's producers (key-0 is every keyed
/// distribution's most frequent key), records per second.
fn hottest_key_rate(m: &Model) -> f64 {
    m.topics[0]
        .producers
        .iter()
        .map(|p| {
            let rate = 1.0 / p.arrival.mean();
            match p.keys {
                Keys::None => 0.0,
                Keys::Uniform { count } => rate / count as f64,
                Keys::Zipf { count, exponent } => {
                    let h: f64 = (1..=count).map(|i| (i as f64).powf(-exponent)).sum();
                    rate / h
                }
            }
        })
        .sum()
}

/// Why no consumer count meets the target at this partition count: the consumers would
/// be idle past `partitions`, and, when theory says so, a hot partition (or key) no count
/// relieves.
fn why_not(search: &Search<'_>, closest: Option<&TopicCandidate>) -> String {
    let p = search.partitions;
    let target = search.target;
    let full = analysis(&with_count(&search.base, p));
    let d = search.base.topics[0].groups[0].service.mean();
    let (hot_p, hot_rate) = search
        .rates
        .iter()
        .enumerate()
        .max_by(|a, b| a.1.total_cmp(b.1))
        .map_or((0, 0.0), |(i, &r)| (i, r));
    let total: f64 = search.rates.iter().sum();
    let mut why = format!(
        "no count from 1 to {p} consumers meets {target}; with {p} partitions more consumers cannot help: each partition has one consumer per group, so consumers beyond {p} would be idle"
    );
    if let Some(c) = closest
        && let Some(u) = c.ci95_upper
    {
        let shown =
            if target.metric.is_time() { crate::dist::fmt_secs(u) } else { format!("{u:.4}") };
        why.push_str(&format!(" (closest: {} consumers, upper 95% bound {shown})", c.count));
    }
    let fails_alone = !full.stable || search.figure(&full).is_some_and(|v| v > target.value);
    if fails_alone {
        let key_rate = hottest_key_rate(&search.base);
        why.push_str(&format!(
            ". Partition {hot_p}, the busiest, receives {hot_rate:.1} of {total:.1} records/s: rho = {:.3} for the one consumer that may read it, which {}",
            hot_rate * d,
            if full.stable {
                "misses the target even with that partition to itself"
            } else {
                "cannot keep up whatever the count: its lag grows without bound"
            }
        ));
        if key_rate * d >= 1.0 {
            why.push_str(&format!(
                ". More partitions cannot help either: its hottest key, key-0, alone sends {key_rate:.1} records/s (rho = {:.3}), and every record of a key goes to the same partition; only faster processing (or spreading that key's records over several keys) can",
                key_rate * d
            ));
        } else if key_rate > 0.0 {
            why.push_str(&format!(
                ". More partitions may help by spreading its keys (its hottest key, key-0, sends {key_rate:.1} records/s, rho = {:.3} on its own), unless one key dominates it: compare with --partitions",
                key_rate * d
            ));
        } else {
            why.push_str(". More partitions spread its records: compare with --partitions");
        }
    } else {
        why.push_str(". More partitions allow more consumers: compare with --partitions");
    }
    why
}

/// Sizes topic group `group_name` for `target` at each partition count of `partitions`
/// (empty: the scenario's), stopping early when `cancel` is set. `on_count(count)` reports
/// each simulated count.
pub fn size_topic_until(
    model: &Model,
    group_name: &str,
    target: &Target,
    partitions: &[u32],
    on_count: &(dyn Fn(u32) + Sync),
    cancel: &Cancel,
) -> Result<TopicSizeReport, SizeError> {
    let (ti, gi) = find_group(model, group_name).ok_or_else(|| {
        let names: Vec<&str> = model
            .groups
            .iter()
            .map(|g| g.name.as_str())
            .chain(model.topics.iter().flat_map(|t| t.groups.iter().map(|g| g.name.as_str())))
            .collect();
        SizeError::NoGroup(group_name.into(), names.join(", "))
    })?;
    let topic = &model.topics[ti];
    let group = &topic.groups[gi];
    if target.metric == Metric::Loss {
        return Err(SizeError::NotForThisGroup(format!(
            "\"{target}\": a topic loses no records; size topic group \"{group_name}\" on its wait, sojourn, utilization, lag or lag_s"
        )));
    }
    if let Some(&bad) =
        partitions.iter().find(|&&p| p == 0 || i64::from(p) > crate::scenario::MAX_PARTITIONS)
    {
        return Err(SizeError::NotForThisGroup(format!(
            "--partitions {bad}: a partition count must be from 1 to {}",
            crate::scenario::MAX_PARTITIONS
        )));
    }
    let total_rate: f64 = topic.partition_rates().iter().sum();
    if total_rate <= 0.0 {
        return Err(SizeError::NoTraffic(topic.name.clone(), group_name.into()));
    }
    let d = group.service.mean();
    if target.metric == Metric::Sojourn && target.stat.quantile().is_none() && target.value < d {
        return Err(SizeError::Infeasible(
            target.to_string(),
            format!(
                "the mean processing time alone is {} (more consumers shorten the wait, never the processing)",
                crate::dist::fmt_secs(d)
            ),
        ));
    }
    let tutorial_guess = tutorial::tutorial_guess(total_rate, d);
    let counts: Vec<u32> =
        if partitions.is_empty() { vec![topic.partitions] } else { partitions.to_vec() };
    let mut out: Vec<PartitionSizing> = Vec::new();
    let mut interrupted = false;
    for &p in &counts {
        if interrupted {
            break;
        }
        let base = reduced(model, ti, gi, p);
        let rates = base.topics[0].partition_rates();
        let s = Search { base, target, cancel, partitions: p, rates };
        // Theory's scan: counts from 1 to P (more would be idle); the first stable count
        // is where simulation starts to make sense.
        let scan: Vec<(u32, bool, Option<f64>)> = (1..=p)
            .map(|c| {
                let a = analysis(&with_count(&s.base, c));
                (c, a.stable, s.figure(&a))
            })
            .collect();
        let analytic_guess =
            scan.iter().find(|x| x.2.is_some_and(|v| v <= target.value)).map(|x| x.0);
        let min_stable = scan.iter().find(|x| x.1).map(|x| x.0);
        let Some(min) = min_stable else {
            // Even one consumer per partition cannot keep up: no simulation can change that.
            let cands: Vec<TopicCandidate> = s.evaluate_all(&[p], on_count).0;
            let why = why_not(&s, None);
            out.push(PartitionSizing {
                partitions: p,
                recommended: None,
                analytic_guess: None,
                candidates: cands,
                cannot_help: Some(why),
                fewest_keeping_up: None,
                not_run: Vec::new(),
            });
            continue;
        };
        let start = analytic_guess.unwrap_or(tutorial_guess.clamp(min, p));
        let found = search_counts(start, min, p, cancel, &|cs| s.evaluate_all(cs, on_count));
        interrupted |= found.interrupted;
        let cannot_help = (found.recommended.is_none() && !found.interrupted).then(|| {
            let closest =
                found.candidates.iter().filter(|c| c.ci95_upper.is_some()).min_by(|a, b| {
                    a.ci95_upper.unwrap_or(0.0).total_cmp(&b.ci95_upper.unwrap_or(0.0))
                });
            why_not(&s, closest)
        });
        out.push(PartitionSizing {
            partitions: p,
            recommended: found.recommended,
            analytic_guess,
            candidates: found.candidates,
            cannot_help,
            fewest_keeping_up: Some(min),
            not_run: found.not_run,
        });
    }
    let head = out[0].clone();
    let idle_in_scenario = (group.count > topic.partitions).then(|| {
        format!(
            "the scenario's {} consumers on {} partitions leave {} idle: a partition has one consumer per group",
            group.count,
            topic.partitions,
            group.count - topic.partitions
        )
    });
    let partitions_recommended = if partitions.is_empty() {
        None
    } else {
        out.iter().filter(|x| x.recommended.is_some()).map(|x| x.partitions).min()
    };
    Ok(TopicSizeReport {
        scenario: model.name.clone(),
        group: group_name.into(),
        topic: topic.name.clone(),
        target: target.clone(),
        partitions: head.partitions,
        recommended: head.recommended,
        analytic_guess: head.analytic_guess,
        tutorial_guess,
        candidates: head.candidates,
        cannot_help: head.cannot_help,
        fewest_keeping_up: head.fewest_keeping_up,
        idle_in_scenario,
        by_partitions: if partitions.is_empty() { Vec::new() } else { out },
        partitions_recommended,
        partial: interrupted,
        not_run: head.not_run,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Uniform keys, Poisson records, exponential processing: 4 partitions at 40, 40, 40, 40
    /// records/s would make the arithmetic plain, but keys hash unevenly; the test computes
    /// each consumer's M/M/1 from the actual key map instead, as a reader would.
    const SMALL: &str = r#"
name = "small-topic"
[simulation]
horizon = 400
warmup = 40
replications = 6
seed = 5
[[topics]]
name = "t"
partitions = 4
[[producers]]
name = "p"
topic = "t"
keys = { dist = "uniform", count = 400 }
arrival = { dist = "exponential", rate = 80.0 }
[[consumers]]
name = "g"
topic = "t"
count = 6
assignment = "range"
max_poll_records = 1
service = { dist = "exponential", mean = "20ms" }
"#;

    /// Each consumer's M/M/1 mean sojourn 1/(μ − λ_c) from the key map and the range
    /// assignment, the group's mean weighted by the consumers' shares.
    fn mm1_mean_sojourn(m: &Model, count: u32) -> Option<f64> {
        let t = &m.topics[0];
        let rates = t.partition_rates();
        let owners = crate::mq::log::assign(
            crate::mq::log::Assignor::Range,
            t.partitions,
            &(0..count).collect::<Vec<_>>(),
            &[],
        );
        let mu = 1.0 / 0.02;
        let total: f64 = rates.iter().sum();
        let mut mean = 0.0;
        for c in 0..count {
            let lambda: f64 =
                (0..rates.len()).filter(|&p| owners[p] == Some(c)).map(|p| rates[p]).sum();
            if lambda >= mu {
                return None;
            }
            if lambda > 0.0 {
                mean += lambda / total / (mu - lambda);
            }
        }
        Some(mean)
    }

    #[test]
    fn finds_the_smallest_count_whose_mm1_consumers_meet_the_target() {
        let m = Model::from_toml(SMALL, "small.toml").unwrap();
        // Theory: 1 consumer (rho 1.6) cannot keep up; with 3 one consumer keeps two
        // partitions (range), so 3 is little better than 2 and 4 much better than 3.
        let by_theory: Vec<Option<f64>> = (1..=4).map(|c| mm1_mean_sojourn(&m, c)).collect();
        assert!(by_theory[0].is_none());
        let (three, four) = (by_theory[2].unwrap(), by_theory[3].unwrap());
        // A bound between the 3- and 4-consumer figures, far from both (the simulated means
        // have half-widths of a few per cent here).
        let bound = (three * four).sqrt();
        assert!(three > 1.3 * bound && four < bound / 1.3, "{by_theory:?}");
        let want = (1..=4u32).find(|&c| by_theory[c as usize - 1].is_some_and(|v| v <= bound));
        let target: Target = format!("mean sojourn <= {bound}").parse().unwrap();
        let r = size_topic_until(&m, "g", &target, &[], &|_| {}, &Cancel::new()).unwrap();
        assert_eq!(r.analytic_guess, want);
        assert_eq!(r.recommended, want);
        // One consumer (rho 1.6) cannot keep up: theory rules it out, it is not simulated.
        assert_eq!(r.fewest_keeping_up, Some(2));
        assert!(r.candidates.iter().all(|c| c.count >= 2));
        for c in r.candidates.iter().filter(|c| c.value.is_some()) {
            let th = mm1_mean_sojourn(&m, c.count).unwrap();
            assert!((c.analytic.unwrap() - th).abs() < 1e-9 * th, "{c:?} vs {th}");
            // Theory inside the simulated mean's interval, widened 3×: never flaky.
            let half = c.ci95_upper.unwrap() - c.value.unwrap();
            assert!((c.value.unwrap() - th).abs() <= 3.0 * half.max(0.002 * th), "{c:?} vs {th}");
        }
        // The scenario's 6 consumers on 4 partitions: two idle, said so.
        assert!(r.idle_in_scenario.as_deref().unwrap().contains("leave 2 idle"));
        assert!(r.cannot_help.is_none());
    }

    #[test]
    fn says_when_consumers_cannot_help() {
        let m = Model::from_toml(SMALL, "small.toml").unwrap();
        // Nothing below the processing time: no count of 4 consumers gets the mean sojourn
        // under 21 ms (one consumer per partition still queues); 8 partitions split the keys.
        let target: Target = "mean sojourn <= 21ms".parse().unwrap();
        let r = size_topic_until(&m, "g", &target, &[4], &|_| {}, &Cancel::new()).unwrap();
        assert_eq!(r.recommended, None);
        let why = r.cannot_help.as_deref().unwrap();
        assert!(why.contains("consumers beyond 4 would be idle"), "{why}");
        assert!(r.candidates.iter().all(|c| c.count <= 4));
        // A hot key: Zipf 2.0 over 400 keys sends about 61% of 80/s to key-0, 48.6/s, more
        // than one consumer's 50/s capacity once its partition's other keys are added.
        let hot = SMALL.replace(
            "{ dist = \"uniform\", count = 400 }",
            "{ dist = \"zipf\", count = 400, exponent = 2.0 }",
        );
        let hot = hot.replace("rate = 80.0", "rate = 90.0");
        let m = Model::from_toml(&hot, "hot.toml").unwrap();
        let target: Target = "lag <= 100".parse().unwrap();
        let r = size_topic_until(&m, "g", &target, &[4, 16], &|_| {}, &Cancel::new()).unwrap();
        assert!(r.by_partitions.iter().all(|s| s.recommended.is_none()), "{r:?}");
        for s in &r.by_partitions {
            let why = s.cannot_help.as_deref().unwrap();
            assert!(
                why.contains("cannot keep up whatever the count")
                    && why.contains("More partitions cannot help"),
                "{why}"
            );
        }
        assert_eq!(r.partitions_recommended, None);
    }
}
