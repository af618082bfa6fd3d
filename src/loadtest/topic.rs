//! The load test of Kafka-style topics: drives the broker's [`TopicBroker`] from the model
//! on the real clock and measures in scenario time, as the queues' load test does.
//!
//! It draws from the simulator's replication-0 streams (`sim::topic`'s kinds: arrivals 16,
//! keys 17, services 18, crashes 19), so a producer publishes at the simulated instants
//! with the simulated keys, and the k-th service started in a group lasts the k-th simulated
//! service time (the group's threads share its stream behind a mutex). One publisher thread
//! per producer, one thread per consumer; a consumer with `crash` leaves the group after
//! its drawn up time, sleeps its restart time and joins again.

use super::pacer::Pacer;
use crate::broker::topic::TopicBroker;
use crate::cancel::Cancel;
use crate::mq::log::{GroupConfig, RoundRobin};
use crate::results::Latency;
use crate::results::{
    LagSeconds, MemberReport, PartitionReport, TopicCounts, TopicGroupReport, TopicLag, TopicReport,
};
use crate::scenario::{Keys, Model, Topic};
use crate::sim::stream_seed;
use crate::stats::{LatencyHistogram, MeanCi};
use rand::SeedableRng;
use rand::rngs::Xoshiro256PlusPlus;
use rand_distr::{Distribution, Zipf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

fn rng(model: &Model, kind: u64, index: usize) -> Xoshiro256PlusPlus {
    Xoshiro256PlusPlus::seed_from_u64(stream_seed(model.simulation.seed, 0, kind, index))
}

/// What one consumer thread measured (scenario seconds).
#[derive(Default)]
struct Member {
    completed_post: u64,
    busy_real: f64,
    wait: LatencyHistogram,
    sojourn: LatencyHistogram,
    sojourn_sum: f64,
    sojourn_n: u64,
}

/// Runs every topic of `model` for the load test's real `horizon` (warm-up `warmup`) and
/// reports them in scenario time; empty at once for a model without topics. Stops early
/// (publishing and consuming) when `cancel` is set.
pub fn run(
    model: &Model,
    horizon: Duration,
    warmup: Duration,
    cancel: &Cancel,
) -> Vec<TopicReport> {
    if model.topics.is_empty() {
        return Vec::new();
    }
    thread::scope(|s| {
        let handles: Vec<_> = model
            .topics
            .iter()
            .map(|t| s.spawn(move || run_topic(model, t, horizon, warmup, cancel)))
            .collect();
        handles.into_iter().map(|h| h.join().expect("topic load test thread")).collect()
    })
}

fn run_topic(
    model: &Model,
    topic: &Topic,
    horizon: Duration,
    warmup: Duration,
    cancel: &Cancel,
) -> TopicReport {
    let scale = model.loadtest.time_scale;
    // The broker's clock is real seconds: the pause is scaled like every duration.
    let configs: Vec<_> = topic
        .groups
        .iter()
        .map(|g| GroupConfig { rebalance_pause: g.rebalance_pause * scale, ..g.core_config() })
        .collect();
    let broker = TopicBroker::new(topic.partitions, &configs, warmup.as_secs_f64());
    let t0 = Instant::now();
    let (warm, end) = (t0 + warmup, t0 + horizon);
    let stop = AtomicBool::new(false);
    let (broker, stop) = (&broker, &stop);
    let results: Vec<Vec<Member>> = thread::scope(|s| {
        let mut consumers = Vec::new();
        for (gi, g) in topic.groups.iter().enumerate() {
            let service = Arc::new(Mutex::new(rng(model, 18, g.file_index)));
            let crash = Arc::new(Mutex::new(rng(model, 19, g.file_index)));
            // Each consumer's first up time, drawn in consumer order as the simulator does.
            let ups: Vec<Option<f64>> = (0..g.count)
                .map(|_| {
                    g.crash.as_ref().map(|cr| cr.every.sample(&mut *crash.lock().expect("rng")))
                })
                .collect();
            let mut group = Vec::new();
            for (c, up) in (0..g.count).zip(ups) {
                let (service, crash) = (Arc::clone(&service), Arc::clone(&crash));
                group.push(s.spawn(move || {
                    let mut m = Member::default();
                    let mut pacer = Pacer::new();
                    let mut crash_at = up.map(|u| t0 + Duration::from_secs_f64(u * scale));
                    while !stop.load(Ordering::Relaxed) && Instant::now() < end {
                        if let Some(at) = crash_at
                            && Instant::now() >= at
                        {
                            let cr = g.crash.as_ref().expect("crashes");
                            broker.leave(gi, c);
                            let (back, next_up) = {
                                let mut r = crash.lock().expect("rng");
                                (cr.restart.sample(&mut *r), cr.every.sample(&mut *r))
                            };
                            let back_at = Instant::now() + Duration::from_secs_f64(back * scale);
                            pacer.wait_until(back_at.min(end), stop);
                            broker.join(gi, c);
                            crash_at =
                                Some(Instant::now() + Duration::from_secs_f64(next_up * scale));
                            continue;
                        }
                        let deadline = crash_at.map_or(end, |a| a.min(end));
                        let Some(r) = broker.next_record(gi, c, deadline) else { continue };
                        let started = broker.now();
                        let svc = g.service.sample(&mut *service.lock().expect("rng"));
                        let done_at = Instant::now() + Duration::from_secs_f64(svc * scale);
                        if let Some(at) = crash_at
                            && at < done_at
                        {
                            // Crashes mid-service: the record is abandoned at `leave`.
                            pacer.wait_until(at, stop);
                            continue;
                        }
                        pacer.wait_until(done_at, stop);
                        if stop.load(Ordering::Relaxed) {
                            break;
                        }
                        broker.complete(gi, c);
                        let finished = broker.now();
                        let after_warm = Instant::now() >= warm;
                        if after_warm {
                            m.completed_post += 1;
                            m.busy_real += finished - started;
                        }
                        if r.published_at >= warmup.as_secs_f64() {
                            let sojourn = (finished - r.published_at) / scale;
                            m.wait.record((started - r.published_at) / scale);
                            m.sojourn.record(sojourn);
                            m.sojourn_sum += sojourn;
                            m.sojourn_n += 1;
                        }
                    }
                    m
                }));
            }
            consumers.push(group);
        }
        let publishers: Vec<_> = topic
            .producers
            .iter()
            .map(|p| {
                s.spawn(move || {
                    let mut arrivals = rng(model, 16, p.file_index);
                    let mut keys = rng(model, 17, p.file_index);
                    let mut rr = RoundRobin::default();
                    let zipf = match p.keys {
                        Keys::Zipf { count, exponent } => {
                            Some(Zipf::new(count as f64, exponent).expect("checked at load"))
                        }
                        _ => None,
                    };
                    let mut pacer = Pacer::new();
                    let mut at = 0.0;
                    let mut published = 0u64;
                    loop {
                        at += p.arrival.sample(&mut arrivals);
                        let when = t0 + Duration::from_secs_f64(at * scale);
                        if when >= end || !pacer.wait_until(when, stop) {
                            break;
                        }
                        let partition = match (&p.keys, &zipf) {
                            (Keys::None, _) => rr.next(topic.partitions),
                            (Keys::Uniform { count }, _) => {
                                p.key_partition
                                    [rand::RngExt::random_range(&mut keys, 0..*count) as usize]
                            }
                            (_, Some(z)) => {
                                p.key_partition[(z.sample(&mut keys) as usize).max(1) - 1]
                            }
                            (Keys::Zipf { .. }, None) => unreachable!("built above"),
                        };
                        broker.publish(partition);
                        published += 1;
                    }
                    published
                })
            })
            .collect();
        // Watch for a stop request until the horizon.
        while Instant::now() < end {
            if cancel.requested() {
                stop.store(true, Ordering::Relaxed);
                break;
            }
            thread::sleep(
                Duration::from_millis(20).min(end.saturating_duration_since(Instant::now())),
            );
        }
        for p in publishers {
            p.join().expect("publisher thread");
        }
        stop.store(true, Ordering::Relaxed);
        consumers
            .into_iter()
            .map(|g| g.into_iter().map(|h| h.join().expect("consumer thread")).collect())
            .collect()
    });
    let end_s = (Instant::now().min(end) - t0).as_secs_f64();
    let span = (end_s - warmup.as_secs_f64()).max(1e-9) / scale;
    report(topic, broker, &results, end_s, span, scale)
}

fn one(v: f64) -> MeanCi {
    MeanCi { mean: v, ci95: None }
}

fn report(
    topic: &Topic,
    broker: &TopicBroker,
    members: &[Vec<Member>],
    end_s: f64,
    span: f64,
    scale: f64,
) -> TopicReport {
    let lags = broker.lag(end_s);
    let groups: Vec<TopicGroupReport> = topic
        .groups
        .iter()
        .enumerate()
        .map(|(gi, g)| {
            let c = broker.counts(gi);
            let ms = &members[gi];
            let mut wait = LatencyHistogram::new();
            let mut sojourn = LatencyHistogram::new();
            for m in ms {
                wait.merge(&m.wait);
                sojourn.merge(&m.sojourn);
            }
            let first = crate::mq::log::assign(
                g.assignor,
                topic.partitions,
                &(0..g.count).collect::<Vec<_>>(),
                &[],
            );
            TopicGroupReport {
                name: g.name.clone(),
                consumers: g.count,
                idle_consumers: g.count.saturating_sub(topic.partitions),
                assignment: g.assignor.name().to_string(),
                throughput: one(ms.iter().map(|m| m.completed_post).sum::<u64>() as f64 / span),
                wait_s: Latency::from_histogram(&wait, wait.mean().map(one)),
                sojourn_s: Latency::from_histogram(&sojourn, sojourn.mean().map(one)),
                counts: TopicCounts {
                    offered: c.offered,
                    acked: c.acked,
                    in_flight_at_end: c.in_flight,
                },
                rebalances: g.crash.is_some().then(|| broker.rebalances(gi)),
                members: ms
                    .iter()
                    .enumerate()
                    .map(|(i, m)| MemberReport {
                        index: i as u32,
                        partitions: (0..topic.partitions)
                            .filter(|&p| first[p as usize] == Some(i as u32))
                            .collect(),
                        throughput: one(m.completed_post as f64 / span),
                        utilization: one(m.busy_real / scale / span),
                        sojourn_mean_s: (m.sojourn_n > 0)
                            .then(|| one(m.sojourn_sum / m.sojourn_n as f64)),
                    })
                    .collect(),
            }
        })
        .collect();
    let partitions = lags
        .iter()
        .enumerate()
        .map(|(p, &(mean, max))| {
            let rate = broker.published_after_warmup(p as u32) as f64 / span;
            PartitionReport {
                index: p as u32,
                offered_rate: one(rate),
                lag: TopicLag { mean, ci95: None, max: max as u64 },
                lag_s: LagSeconds { mean: (rate > 0.0).then(|| mean / rate), max: None },
            }
        })
        .collect();
    TopicReport { name: topic.name.clone(), partitions, groups }
}

#[cfg(test)]
mod tests {
    use crate::scenario::Model;

    /// A keyed topic with a crashing eager group and an idle consumer, 1.5 s of real time:
    /// every group's counts balance, every group got every record, and the throughput
    /// follows the offered rate (a loose bound: a real clock on a shared machine).
    #[test]
    fn topic_loadtest_balances_and_keeps_up() {
        let text = r#"
[simulation]
horizon = 100
seed = 5
[[topics]]
name = "t"
partitions = 3
[[producers]]
name = "p"
topic = "t"
keys = { dist = "uniform", count = 100 }
arrival = { dist = "exponential", rate = 20.0 }
[[consumers]]
name = "g"
topic = "t"
count = 4
service = { dist = "exponential", mean = 0.02 }
[[consumers]]
name = "crashing"
topic = "t"
count = 2
max_poll_records = 3
service = { dist = "constant", value = 0.01 }
crash = { every = { dist = "exponential", mean = 20 }, restart = { dist = "constant", value = 3 } }
rebalance_pause = 1
[loadtest]
time_scale = 0.01
horizon = "1.5s"
warmup = "0.2s"
"#;
        let m = Model::from_toml(text, "t.toml").unwrap();
        let r = super::super::run_loadtest(&m, &|_| {}).unwrap();
        assert_eq!(r.backend, "real");
        let t = &r.topics[0];
        let offered = t.groups[0].counts.offered;
        assert!(offered > 1500, "{offered}");
        for g in &t.groups {
            assert!(g.counts.balanced(), "{}: {:?}", g.name, g.counts);
            assert_eq!(g.counts.offered, offered);
        }
        assert_eq!(t.groups[0].idle_consumers, 1);
        let thr = t.groups[0].throughput.mean;
        assert!((thr - 20.0).abs() < 5.0, "throughput {thr}");
        let rate: f64 = t.partitions.iter().map(|p| p.offered_rate.mean).sum();
        assert!((rate - 20.0).abs() < 5.0, "offered {rate}");
    }
}
