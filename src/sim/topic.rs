//! The simulator's Kafka-style topics: one replication of every topic of a model, driving
//! the messaging core's [`TopicLog`] from a calendar of publishes, service ends, crashes,
//! restarts and the ends of rebalance pauses; and the aggregation of replications into the
//! report's `topics`.
//!
//! Topics share nothing with the queues (no route leads from one to the other), so they run
//! on their own calendar within each replication, with their own random streams: kinds 16
//! (a topic producer's arrivals), 17 (its keys), 18 (a topic group's services, one stream
//! shared by its consumers, one draw per service started) and 19 (its crashes: up and
//! restart times), indexed by the producer's or group's place in the file. A scenario
//! without topics never reaches this module.

use super::calendar::{Calendar, EventId};
use super::engine::{CANCEL_POLL, stream_seed};
use crate::cancel::Cancel;
use crate::mq::log::{RoundRobin, TopicLog};
use crate::results::{
    Latency, MemberReport, PartitionReport, QueueCurves, TopicCounts, TopicGroupReport, TopicLag,
    TopicReport,
};
use crate::scenario::{Keys, Model};
use crate::stats::{LatencyHistogram, MeanCi, TimeAverage, summarize};
use rand::SeedableRng;
use rand::rngs::Xoshiro256PlusPlus;
use rand_distr::{Distribution, Zipf};

const KIND_ARRIVAL: u64 = 16;
const KIND_KEY: u64 = 17;
const KIND_SERVICE: u64 = 18;
const KIND_CRASH: u64 = 19;

#[derive(Debug, Clone, Copy)]
enum Ev {
    Arrival { t: u32, p: u32 },
    ServiceEnd { t: u32, g: u32, c: u32 },
    Crash { t: u32, g: u32, c: u32 },
    Restart { t: u32, g: u32, c: u32 },
    Resume { t: u32, g: u32 },
}

/// One partition's figures in one replication.
#[derive(Debug, Clone)]
pub struct PartitionStats {
    /// Records published to it after the warm-up.
    pub offered_post: u64,
    /// Records not yet processed by every group, over time.
    pub lag: TimeAverage,
    /// Longest publish → processed by every group of a post-warm-up record, seconds.
    pub max_sojourn: f64,
}

/// One consumer's figures in one replication.
#[derive(Debug, Clone)]
pub struct MemberStats {
    /// Records it completed after the warm-up.
    pub completed_post: u64,
    /// 1 while it processes a record.
    pub busy: TimeAverage,
    /// Post-warm-up records it completed: their sojourns' sum and count.
    pub sojourn_sum: f64,
    /// Count of the above.
    pub sojourn_n: u64,
}

/// One group's figures in one replication.
#[derive(Debug, Clone)]
pub struct GroupStats {
    /// Offered, acked, in flight at the end (warm-up included).
    pub counts: TopicCounts,
    /// Completions after the warm-up.
    pub completed_post: u64,
    /// Publish → start of the final service, post-warm-up records.
    pub wait: LatencyHistogram,
    /// Publish → completion, post-warm-up records.
    pub sojourn: LatencyHistogram,
    /// Per consumer.
    pub members: Vec<MemberStats>,
    /// Rebalances (a crash and a restart make one each).
    pub rebalances: u64,
}

/// One topic's figures in one replication.
#[derive(Debug, Clone)]
pub struct TopicStats {
    /// Per partition.
    pub partitions: Vec<PartitionStats>,
    /// Per group, file order.
    pub groups: Vec<GroupStats>,
    /// Records published per producer (warm-up included).
    pub published: Vec<u64>,
}

enum KeyDraw {
    None(RoundRobin),
    Uniform(u64),
    Zipf(Zipf<f64>),
}

struct ProducerState {
    arrival_rng: Xoshiro256PlusPlus,
    key_rng: Xoshiro256PlusPlus,
    keys: KeyDraw,
}

struct GroupState {
    service_rng: Xoshiro256PlusPlus,
    crash_rng: Xoshiro256PlusPlus,
    /// Per consumer: the pending service end and when the service started.
    service: Vec<Option<(EventId, f64)>>,
}

struct TopicState {
    log: TopicLog,
    producers: Vec<ProducerState>,
    groups: Vec<GroupState>,
    stats: TopicStats,
}

/// Runs replication `replication` of every topic of `model`; `None` if `cancel` was set.
/// An empty vector for a model without topics.
pub fn simulate(model: &Model, replication: u32, cancel: &Cancel) -> Option<Vec<TopicStats>> {
    if model.topics.is_empty() {
        return Some(Vec::new());
    }
    let sim = &model.simulation;
    let (warmup, horizon) = (sim.warmup, sim.horizon);
    let rng = |kind, index| {
        Xoshiro256PlusPlus::seed_from_u64(stream_seed(sim.seed, replication, kind, index))
    };
    let mut cal: Calendar<Ev> = Calendar::with_capacity(64);
    let mut state: Vec<TopicState> = Vec::new();
    for (ti, topic) in model.topics.iter().enumerate() {
        let configs: Vec<_> = topic.groups.iter().map(|g| g.core_config()).collect();
        let mut producers = Vec::new();
        for (pi, p) in topic.producers.iter().enumerate() {
            let mut arrival_rng = rng(KIND_ARRIVAL, p.file_index);
            let keys = match p.keys {
                Keys::None => KeyDraw::None(RoundRobin::default()),
                Keys::Uniform { count } => KeyDraw::Uniform(count),
                Keys::Zipf { count, exponent } => {
                    KeyDraw::Zipf(Zipf::new(count as f64, exponent).expect("checked at load"))
                }
            };
            cal.schedule(
                p.arrival.sample(&mut arrival_rng),
                Ev::Arrival { t: ti as u32, p: pi as u32 },
            );
            producers.push(ProducerState {
                arrival_rng,
                key_rng: rng(KIND_KEY, p.file_index),
                keys,
            });
        }
        let mut groups = Vec::new();
        let mut group_stats = Vec::new();
        for (gi, g) in topic.groups.iter().enumerate() {
            let mut crash_rng = rng(KIND_CRASH, g.file_index);
            if let Some(cr) = &g.crash {
                for c in 0..g.count {
                    cal.schedule(
                        cr.every.sample(&mut crash_rng),
                        Ev::Crash { t: ti as u32, g: gi as u32, c },
                    );
                }
            }
            groups.push(GroupState {
                service_rng: rng(KIND_SERVICE, g.file_index),
                crash_rng,
                service: vec![None; g.count as usize],
            });
            group_stats.push(GroupStats {
                counts: TopicCounts::default(),
                completed_post: 0,
                wait: LatencyHistogram::new(),
                sojourn: LatencyHistogram::new(),
                members: (0..g.count)
                    .map(|_| MemberStats {
                        completed_post: 0,
                        busy: TimeAverage::new(warmup),
                        sojourn_sum: 0.0,
                        sojourn_n: 0,
                    })
                    .collect(),
                rebalances: 0,
            });
        }
        state.push(TopicState {
            log: TopicLog::new(topic.partitions, &configs),
            producers,
            groups,
            stats: TopicStats {
                partitions: (0..topic.partitions)
                    .map(|_| PartitionStats {
                        offered_post: 0,
                        lag: TimeAverage::new(warmup),
                        max_sojourn: 0.0,
                    })
                    .collect(),
                groups: group_stats,
                published: vec![0; topic.producers.len()],
            },
        });
    }

    let mut events: u64 = 0;
    while let Some((now, ev)) = cal.pop() {
        if now > horizon {
            break;
        }
        events += 1;
        if events.is_multiple_of(CANCEL_POLL) && cancel.requested() {
            return None;
        }
        match ev {
            Ev::Arrival { t, p } => {
                let (ti, pi) = (t as usize, p as usize);
                let topic = &model.topics[ti];
                let st = &mut state[ti];
                let prod = &mut st.producers[pi];
                let table = &topic.producers[pi].key_partition;
                let partition = match &mut prod.keys {
                    KeyDraw::None(rr) => rr.next(topic.partitions),
                    KeyDraw::Uniform(count) => {
                        table[rand::RngExt::random_range(&mut prod.key_rng, 0..*count) as usize]
                    }
                    // Zipf draws 1..=count; key-0 is rank 1, the most frequent.
                    KeyDraw::Zipf(z) => table[(z.sample(&mut prod.key_rng) as usize).max(1) - 1],
                };
                let next = now + topic.producers[pi].arrival.sample(&mut prod.arrival_rng);
                cal.schedule(next, Ev::Arrival { t, p });
                st.log.publish(partition, now);
                st.stats.published[pi] += 1;
                let ps = &mut st.stats.partitions[partition as usize];
                ps.offered_post += u64::from(now >= warmup);
                ps.lag.set(now, st.log.max_lag(partition) as f64);
                for g in 0..topic.groups.len() {
                    if let Some(o) = st.log.owner(g, partition) {
                        try_start(model, &mut cal, st, t, g, o, now);
                    }
                }
            }
            Ev::ServiceEnd { t, g, c } => {
                let (ti, gi) = (t as usize, g as usize);
                let st = &mut state[ti];
                let Some((_, started)) = st.groups[gi].service[c as usize].take() else {
                    continue;
                };
                let (r, wake) = st.log.complete(gi, c).expect("a record was in service");
                let gs = &mut st.stats.groups[gi];
                let ms = &mut gs.members[c as usize];
                ms.busy.set(now, 0.0);
                if now >= warmup {
                    gs.completed_post += 1;
                    ms.completed_post += 1;
                }
                if r.published_at >= warmup {
                    let sojourn = now - r.published_at;
                    gs.wait.record(started - r.published_at);
                    gs.sojourn.record(sojourn);
                    ms.sojourn_sum += sojourn;
                    ms.sojourn_n += 1;
                }
                let lag = st.log.max_lag(r.partition);
                let ps = &mut st.stats.partitions[r.partition as usize];
                if lag < ps.lag.value() as u64 && r.published_at >= warmup {
                    // The record is now processed by every group.
                    ps.max_sojourn = ps.max_sojourn.max(now - r.published_at);
                }
                ps.lag.set(now, lag as f64);
                try_start(model, &mut cal, st, t, gi, c, now);
                if let Some(w) = wake {
                    try_start(model, &mut cal, st, t, gi, w, now);
                }
            }
            Ev::Crash { t, g, c } => {
                let (ti, gi) = (t as usize, g as usize);
                let st = &mut state[ti];
                let (abandoned, until) = st.log.leave(gi, c, now);
                if abandoned.is_some()
                    && let Some((id, _)) = st.groups[gi].service[c as usize].take()
                {
                    cal.cancel(id);
                    st.stats.groups[gi].members[c as usize].busy.set(now, 0.0);
                }
                let crash = model.topics[ti].groups[gi].crash.as_ref().expect("crashes");
                let back = now + crash.restart.sample(&mut st.groups[gi].crash_rng);
                cal.schedule(back, Ev::Restart { t, g, c });
                if let Some(u) = until {
                    cal.schedule(u, Ev::Resume { t, g });
                }
                start_idle(model, &mut cal, st, t, gi, now);
            }
            Ev::Restart { t, g, c } => {
                let (ti, gi) = (t as usize, g as usize);
                let st = &mut state[ti];
                let until = st.log.join(gi, c, now);
                let crash = model.topics[ti].groups[gi].crash.as_ref().expect("crashes");
                let up = now + crash.every.sample(&mut st.groups[gi].crash_rng);
                cal.schedule(up, Ev::Crash { t, g, c });
                if let Some(u) = until {
                    cal.schedule(u, Ev::Resume { t, g });
                }
                start_idle(model, &mut cal, st, t, gi, now);
            }
            Ev::Resume { t, g } => {
                start_idle(model, &mut cal, &mut state[t as usize], t, g as usize, now);
            }
        }
    }
    Some(
        state
            .into_iter()
            .map(|mut st| {
                for (g, gs) in st.stats.groups.iter_mut().enumerate() {
                    let c = st.log.counts(g);
                    gs.counts = TopicCounts {
                        offered: c.offered,
                        acked: c.acked,
                        in_flight_at_end: c.in_flight,
                    };
                    gs.rebalances = st.log.rebalances(g);
                }
                st.stats
            })
            .collect(),
    )
}

/// Starts consumer `c`'s next record if it is idle and has one.
fn try_start(
    model: &Model,
    cal: &mut Calendar<Ev>,
    st: &mut TopicState,
    t: u32,
    g: usize,
    c: u32,
    now: f64,
) {
    if st.groups[g].service[c as usize].is_some() {
        return;
    }
    if st.log.start_next(g, c, now).is_some() {
        let group = &model.topics[t as usize].groups[g];
        let s = group.service.sample(&mut st.groups[g].service_rng);
        let id = cal.schedule(now + s, Ev::ServiceEnd { t, g: g as u32, c });
        st.groups[g].service[c as usize] = Some((id, now));
        st.stats.groups[g].members[c as usize].busy.set(now, 1.0);
    }
}

/// After a rebalance or a pause: every idle consumer of group `g` looks for work.
fn start_idle(
    model: &Model,
    cal: &mut Calendar<Ev>,
    st: &mut TopicState,
    t: u32,
    g: usize,
    now: f64,
) {
    for c in 0..model.topics[t as usize].groups[g].count {
        try_start(model, cal, st, t, g, c, now);
    }
}

fn mean_ci(values: &[f64]) -> MeanCi {
    summarize(values).unwrap_or(MeanCi { mean: 0.0, ci95: None })
}

fn latency(per_rep: &[Option<f64>], pooled: &LatencyHistogram) -> Latency {
    let means: Vec<f64> = per_rep.iter().flatten().copied().collect();
    let s = summarize(&means);
    let mut l = Latency::from_histogram(pooled, s);
    if s.is_none() {
        l.mean = None;
    }
    l
}

/// One group's latency histograms pooled over replications, with each replication's own
/// means (for the intervals across replications).
#[derive(Debug, Clone, Default)]
pub struct GroupPool {
    wait: LatencyHistogram,
    sojourn: LatencyHistogram,
    wait_means: Vec<Option<f64>>,
    sojourn_means: Vec<Option<f64>>,
    /// Each replication's wait and sojourn quantiles at `CURVE_QUANTILES`: the curves' bands.
    wait_q: Vec<Vec<Option<f64>>>,
    sojourn_q: Vec<Vec<Option<f64>>>,
}

/// Per topic, per group.
pub type TopicPools = Vec<Vec<GroupPool>>;

/// Adds one replication's group histograms (the next in replication order) to `pools`.
pub fn pool_groups(pools: &mut TopicPools, rep: &[TopicStats]) {
    if pools.len() < rep.len() {
        pools.resize_with(rep.len(), Vec::new);
    }
    for (tp, ts) in pools.iter_mut().zip(rep) {
        if tp.len() < ts.groups.len() {
            tp.resize_with(ts.groups.len(), GroupPool::default);
        }
        for (gp, gs) in tp.iter_mut().zip(&ts.groups) {
            gp.wait.merge(&gs.wait);
            gp.sojourn.merge(&gs.sojourn);
            gp.wait_means.push(gs.wait.mean());
            gp.sojourn_means.push(gs.sojourn.mean());
            gp.wait_q.push(super::quantiles(&gs.wait));
            gp.sojourn_q.push(super::quantiles(&gs.sojourn));
        }
    }
}

/// Per topic, per group: the wait and sojourn percentile curves of the pooled records, with
/// 95% bands over replications (as a queue's).
pub fn group_curves(pools: &TopicPools) -> Vec<Vec<QueueCurves>> {
    fn band(q: &[Vec<Option<f64>>]) -> Vec<&[Option<f64>]> {
        q.iter().map(Vec::as_slice).collect()
    }
    pools
        .iter()
        .map(|tp| {
            tp.iter()
                .map(|gp| QueueCurves {
                    wait: super::curve(&gp.wait, &band(&gp.wait_q)),
                    sojourn: super::curve(&gp.sojourn, &band(&gp.sojourn_q)),
                })
                .collect()
        })
        .collect()
}

/// Folds the replications' topic figures (replication order) into the report's `topics`.
pub fn aggregate(model: &Model, reps: &[&[TopicStats]]) -> Vec<TopicReport> {
    let mut pools = TopicPools::new();
    for r in reps {
        pool_groups(&mut pools, r);
    }
    aggregate_pooled(model, reps, &pools)
}

/// [`aggregate`], with the group histograms already pooled by [`pool_groups`] (the
/// replications' own histograms are then not read, and may have been dropped).
pub fn aggregate_pooled(
    model: &Model,
    reps: &[&[TopicStats]],
    pools: &TopicPools,
) -> Vec<TopicReport> {
    let sim = &model.simulation;
    let (span, horizon) = (sim.horizon - sim.warmup, sim.horizon);
    model
        .topics
        .iter()
        .enumerate()
        .map(|(ti, topic)| {
            let per = |f: &dyn Fn(&TopicStats) -> f64| -> Vec<f64> {
                reps.iter().map(|r| f(&r[ti])).collect()
            };
            let partitions = (0..topic.partitions as usize)
                .map(|p| {
                    let rate = mean_ci(&per(&|r| r.partitions[p].offered_post as f64 / span));
                    let lag = mean_ci(&per(&|r| r.partitions[p].lag.average(horizon)));
                    let max =
                        reps.iter().map(|r| r[ti].partitions[p].lag.max()).fold(0.0, f64::max);
                    let max_s =
                        reps.iter().map(|r| r[ti].partitions[p].max_sojourn).fold(0.0, f64::max);
                    PartitionReport {
                        index: p as u32,
                        offered_rate: rate,
                        lag: TopicLag { mean: lag.mean, ci95: lag.ci95, max: max as u64 },
                        lag_s: crate::results::LagSeconds {
                            // Little's law: the mean time a record waits to be processed by
                            // every group is the mean lag over the partition's rate.
                            mean: (rate.mean > 0.0).then(|| lag.mean / rate.mean),
                            max: (max_s > 0.0).then_some(max_s),
                        },
                    }
                })
                .collect();
            let idle_at_full = |count: u32| count.saturating_sub(topic.partitions);
            let groups = topic
                .groups
                .iter()
                .enumerate()
                .map(|(gi, g)| {
                    let empty = GroupPool::default();
                    let pool = pools.get(ti).and_then(|t| t.get(gi)).unwrap_or(&empty);
                    let mut counts = TopicCounts::default();
                    let mut rebalances = 0;
                    for r in reps {
                        let gs = &r[ti].groups[gi];
                        counts.offered += gs.counts.offered;
                        counts.acked += gs.counts.acked;
                        counts.in_flight_at_end += gs.counts.in_flight_at_end;
                        rebalances += gs.rebalances;
                    }
                    let first = crate::mq::log::assign(
                        g.assignor,
                        topic.partitions,
                        &(0..g.count).collect::<Vec<_>>(),
                        &[],
                    );
                    let members = (0..g.count as usize)
                        .map(|c| {
                            let sojourn: Vec<f64> = reps
                                .iter()
                                .map(|r| &r[ti].groups[gi].members[c])
                                .filter(|m| m.sojourn_n > 0)
                                .map(|m| m.sojourn_sum / m.sojourn_n as f64)
                                .collect();
                            MemberReport {
                                index: c as u32,
                                partitions: (0..topic.partitions)
                                    .filter(|&p| first[p as usize] == Some(c as u32))
                                    .collect(),
                                throughput: mean_ci(&per(&|r| {
                                    r.groups[gi].members[c].completed_post as f64 / span
                                })),
                                utilization: mean_ci(&per(&|r| {
                                    r.groups[gi].members[c].busy.average(horizon)
                                })),
                                sojourn_mean_s: summarize(&sojourn),
                            }
                        })
                        .collect();
                    TopicGroupReport {
                        name: g.name.clone(),
                        consumers: g.count,
                        idle_consumers: idle_at_full(g.count),
                        assignment: g.assignor.name().to_string(),
                        throughput: mean_ci(&per(&|r| r.groups[gi].completed_post as f64 / span)),
                        wait_s: latency(&pool.wait_means, &pool.wait),
                        sojourn_s: latency(&pool.sojourn_means, &pool.sojourn),
                        counts,
                        rebalances: g.crash.is_some().then_some(rebalances),
                        members,
                    }
                })
                .collect();
            TopicReport { name: topic.name.clone(), partitions, groups }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use crate::scenario::Model;
    use crate::sim::{NoProgress, run};

    const STORM: &str = r#"
[simulation]
horizon = 600
warmup = 60
replications = 4
seed = 3
[[topics]]
name = "t"
partitions = 5
[[producers]]
name = "keyed"
topic = "t"
keys = { dist = "zipf", count = 50, exponent = 1.0 }
arrival = { dist = "exponential", rate = 20.0 }
[[producers]]
name = "keyless"
topic = "t"
keys = { dist = "none" }
arrival = { dist = "constant", value = 0.2 }
[[consumers]]
name = "eager"
topic = "t"
count = 3
max_poll_records = 7
service = { dist = "exponential", mean = 0.05 }
crash = { every = { dist = "exponential", mean = 60 }, restart = { dist = "constant", value = 5 } }
rebalance_pause = 2
[[consumers]]
name = "coop"
topic = "t"
count = 7
assignment = "cooperative-sticky"
service = { dist = "uniform", min = 0.01, max = 0.1 }
crash = { every = { dist = "exponential", mean = 40 }, restart = { dist = "exponential", mean = 3 } }
rebalance_pause = 1
"#;

    #[test]
    fn crashing_groups_balance_and_runs_do_not_depend_on_threads() {
        let m = Model::from_toml(STORM, "storm.toml").unwrap();
        let one = rayon::ThreadPoolBuilder::new().num_threads(1).build().unwrap();
        let four = rayon::ThreadPoolBuilder::new().num_threads(4).build().unwrap();
        let a = one.install(|| run(&m, None, &NoProgress)).report;
        let b = four.install(|| run(&m, None, &NoProgress)).report;
        assert_eq!(a.to_json(), b.to_json());
        let t = &a.topics[0];
        let published: u64 = t.groups[0].counts.offered;
        assert!(published > 4 * 600 * 20);
        for g in &t.groups {
            assert!(g.counts.balanced(), "{}: {:?}", g.name, g.counts);
            assert_eq!(g.counts.offered, published, "every group receives every record");
            assert!(g.rebalances.unwrap() > 10, "{:?}", g.rebalances);
        }
        assert_eq!(t.groups[1].idle_consumers, 2);
    }

    /// Each group gets percentile curves of its records, as a queue does: the pooled
    /// curve's p50 and p99 are the report's, within their bands, and a chart is drawn.
    #[test]
    fn groups_have_percentile_curves_and_charts() {
        let m = Model::from_toml(STORM, "storm.toml").unwrap();
        let out = run(&m, None, &NoProgress);
        assert_eq!(out.topic_curves.len(), 1);
        assert_eq!(out.topic_curves[0].len(), 2);
        for (g, c) in out.report.topics[0].groups.iter().zip(&out.topic_curves[0]) {
            for (curve, latency) in [(&c.wait, &g.wait_s), (&c.sojourn, &g.sojourn_s)] {
                for (q, want) in [(0.5, latency.p50), (0.99, latency.p99)] {
                    let &(_, v) = curve.pooled.iter().find(|p| p.0 == q).unwrap();
                    assert_eq!(Some(v), want, "{} q{q}", g.name);
                    // The band: the replications' own q-quantiles, around the pooled one.
                    let &(_, mean, h) = curve.replicated.iter().find(|r| r.0 == q).unwrap();
                    assert!(
                        h >= 0.0 && (mean - v).abs() <= 2.0 * h,
                        "{} q{q}: {mean} ± {h} vs {v}",
                        g.name
                    );
                }
            }
        }
        let figs = crate::report::figures::topic_group_figures(&out, None);
        let stems: Vec<&str> = figs.iter().map(|f| f.stem.as_str()).collect();
        assert_eq!(stems, ["group-latency-t-eager", "group-latency-t-coop"]);
    }
}
