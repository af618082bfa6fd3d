//! The discrete-event simulator: the engine runs one replication; this module runs
//! independent replications in parallel (rayon) and folds them into a [`RunReport`].
//!
//! Each replication draws from its own random streams derived from (seed, replication), and
//! results are combined in replication order, so the output is identical whatever the
//! number of threads.

mod calendar;
mod engine;
pub mod reference;
pub mod speed;
pub mod timeline;
pub mod topic;

pub use calendar::{Calendar, EventId};
pub use engine::{
    CANCEL_POLL, ReplicationResult, Series, simulate, simulate_until, stream, stream_seed,
};

use crate::cancel::Cancel;
use crate::results::{
    Counts, DrainTime, EndToEnd, Latency, PercentileCurve, PriorityReport, ProducerReport,
    QueueCurves, QueueLength, QueueReport, RunReport,
};
use crate::scenario::Model;
use crate::stats::{LatencyHistogram, MeanCi, summarize};
use rayon::prelude::*;
use std::sync::atomic::{AtomicU32, Ordering};

/// What a caller may watch while replications run. Every method has a no-op default.
pub trait Progress: Sync {
    /// One more replication finished; `done` of `total`.
    fn replication_done(&self, _done: u32, _total: u32) {}
}

/// Watches nothing.
pub struct NoProgress;
impl Progress for NoProgress {}

/// Results of a simulation run: the report plus the raw material charts need.
#[derive(Debug, Clone)]
pub struct SimOutcome {
    /// The contract's report.
    pub report: RunReport,
    /// Pooled wait histograms per queue (for CCDF charts).
    pub wait: Vec<LatencyHistogram>,
    /// Pooled sojourn histograms per queue.
    pub sojourn: Vec<LatencyHistogram>,
    /// Per queue: wait and sojourn percentile curves with 95% bands over replications.
    pub curves: Vec<QueueCurves>,
    /// State over time of replication 0, when a step was asked for.
    pub series: Option<Series>,
    /// State over time of every completed replication, in replication order, when a step
    /// was asked for (the first is `series`): charts draw their mean and band.
    pub series_all: Vec<Series>,
    /// Events processed over all replications.
    pub events: u64,
}

fn curve(pooled: &LatencyHistogram, per_rep: &[&LatencyHistogram]) -> PercentileCurve {
    PercentileCurve::from_batches(pooled, per_rep, |h, q| h.quantile(q))
}

/// Pilot replications used to choose an automatic warm-up.
pub const MSER_PILOTS: u32 = 5;

/// Chooses a warm-up by MSER-5 (`warmup = "auto"`): runs up to [`MSER_PILOTS`] pilot
/// replications with no warm-up, records every queue's number of messages in the system
/// (ready + held by consumers) on a grid of 500 window averages, truncates each series by
/// MSER-5 and keeps the largest truncation over queues, averaged over pilots. The result
/// is at most half the horizon. Deterministic: pilots use replications 0, 1, ….
pub fn detect_warmup(model: &Model) -> f64 {
    detect_warmup_until(model, &Cancel::new()).expect("nobody else holds the flag")
}

/// [`detect_warmup`], or `None` if `cancel` was set before every pilot finished.
pub fn detect_warmup_until(model: &Model, cancel: &Cancel) -> Option<f64> {
    let mut pilot = model.clone();
    pilot.simulation.warmup = 0.0;
    let step = model.simulation.horizon / 500.0;
    let pilots = model.simulation.replications.min(MSER_PILOTS);
    let cuts: Option<Vec<f64>> = (0..pilots)
        .into_par_iter()
        .map(|r| {
            let s = simulate_until(&pilot, r, Some(step), cancel)?
                .series
                .expect("a series was asked for");
            let cut = (0..model.queues.len())
                .map(|q| {
                    let n: Vec<f64> = s.ready[q]
                        .iter()
                        .zip(&s.unacked[q])
                        .zip(&s.busy[q])
                        .map(|((r, u), b)| r + u.max(*b))
                        .collect();
                    crate::stats::mser::mser5(&n) as f64 * step
                })
                .fold(0.0, f64::max);
            Some(cut)
        })
        .collect();
    let cuts = cuts?;
    Some(if cuts.is_empty() { 0.0 } else { cuts.iter().sum::<f64>() / cuts.len() as f64 })
}

/// Runs every replication of `model` (its `simulation` settings) on the current rayon pool.
/// With `warmup = "auto"` the warm-up is chosen first by [`detect_warmup`] and reported as
/// `warmup_s`.
pub fn run(model: &Model, series_step: Option<f64>, progress: &dyn Progress) -> SimOutcome {
    run_until(model, series_step, progress, &Cancel::new()).expect("nobody else holds the flag")
}

/// [`run`], stopping early when `cancel` is set: replications not started are skipped, one
/// in progress stops at its next look at the flag ([`CANCEL_POLL`] events) and is
/// discarded. The report then aggregates the completed replications, in replication order,
/// with `replications` = how many completed and `partial` set; `None` if none completed
/// (or the stop came while the automatic warm-up was being chosen).
pub fn run_until(
    model: &Model,
    series_step: Option<f64>,
    progress: &dyn Progress,
    cancel: &Cancel,
) -> Option<SimOutcome> {
    if model.simulation.warmup_auto {
        let mut m = model.clone();
        m.simulation.warmup = detect_warmup_until(model, cancel)?;
        m.simulation.warmup_auto = false;
        return run_until(&m, series_step, progress, cancel);
    }
    let sim = &model.simulation;
    let mut acc = timeline::Accumulator::new(model);
    let mut completed: Vec<ReplicationResult> = Vec::new();
    let done = AtomicU32::new(0);
    let mut next = 0u32;
    // Replications run in batches: with `precision` each batch's size follows from the
    // results so far (never from the thread count), so the replications run, and thus the
    // report, are the same on any machine. Within a batch they run in chunks so that the
    // timelines are folded (in replication order) and dropped as they come.
    let mut batch_end = sim.replications;
    let mut precision_reached = None;
    let mut interrupted = false;
    loop {
        while next < batch_end && !interrupted {
            let end = batch_end.min(next.saturating_add(TIMELINE_CHUNK));
            let total = batch_end;
            let results: Vec<Option<ReplicationResult>> = (next..end)
                .into_par_iter()
                .map(|r| {
                    if cancel.requested() {
                        return None;
                    }
                    let res = simulate_until(model, r, series_step, cancel)?;
                    progress.replication_done(done.fetch_add(1, Ordering::Relaxed) + 1, total);
                    Some(res)
                })
                .collect();
            for r in results {
                match r {
                    Some(mut r) => {
                        if let (Some(a), Some(t)) = (acc.as_mut(), r.timeline.take()) {
                            a.add(&t);
                        }
                        completed.push(r);
                    }
                    None => interrupted = true,
                }
            }
            next = end;
        }
        let Some(p) = sim.precision else { break };
        if interrupted {
            break;
        }
        let needed = replications_for_precision(model, &completed, p);
        if needed.is_none() {
            precision_reached = Some(true);
            break;
        }
        if next >= sim.max_replications {
            precision_reached = Some(false);
            break;
        }
        // The estimate from the half-widths so far, at least one more and at most twice
        // as many as run (an early estimate from few replications is rough).
        let want = needed.unwrap_or(u32::MAX);
        batch_end =
            want.clamp(next + 1, next.saturating_mul(2).max(next + 1)).min(sim.max_replications);
    }
    if completed.is_empty() {
        return None;
    }
    let n = completed.len() as u32;
    let mut outcome = aggregate_with(model, completed, acc);
    outcome.report.replications = n;
    if interrupted {
        outcome.report.partial = true;
        outcome.report.replications_requested = Some(batch_end);
    }
    if sim.precision.is_some() {
        outcome.report.precision = sim.precision;
        outcome.report.precision_reached = precision_reached.or(Some(false));
    }
    Some(outcome)
}

/// Replications run together before their timelines are folded: bounds the memory of a
/// long timeline to this many replications' worth.
const TIMELINE_CHUNK: u32 = 64;

/// `None` when every queue's mean sojourn has a 95% half-width at most `precision` × its
/// mean over `results`; otherwise about how many replications would bring the worst queue
/// there (the half-width shrinks as 1/√n). Queues with no timed message in any replication
/// (no traffic, no consumers) have no mean to be precise about and are left out; a queue
/// timed in one replication only has no interval yet and needs more.
pub fn replications_for_precision(
    model: &Model,
    results: &[ReplicationResult],
    precision: f64,
) -> Option<u32> {
    let n = results.len() as f64;
    let mut need: Option<f64> = None;
    for q in 0..model.queues.len() {
        let means: Vec<f64> = results.iter().filter_map(|r| r.queues[q].sojourn.mean()).collect();
        let Some(s) = summarize(&means) else { continue };
        let ratio = match s.ci95 {
            Some(h) if h <= precision * s.mean => continue,
            Some(h) if s.mean > 0.0 => h / (precision * s.mean),
            _ => 2.0,
        };
        let k = (n * ratio * ratio).ceil();
        need = Some(need.map_or(k, |m: f64| m.max(k)));
    }
    need.map(|k| k.min(f64::from(u32::MAX)) as u32)
}

fn latency(per_rep: &[Option<f64>], pooled: &LatencyHistogram) -> Latency {
    let means: Vec<f64> = per_rep.iter().flatten().copied().collect();
    // With no replication means there is no mean either (not the pooled one).
    let s = summarize(&means);
    let mut l = Latency::from_histogram(pooled, s);
    if s.is_none() {
        l.mean = None;
    }
    l
}

/// A priority queue's figures per priority seen, highest first.
fn by_priority(results: &[ReplicationResult], q: usize, max: u8) -> Vec<PriorityReport> {
    (0..=max)
        .rev()
        .filter_map(|p| {
            let per: Vec<&engine::PriorityStats> = results
                .iter()
                .filter_map(|r| r.queues[q].by_priority.get(usize::from(p))?.as_ref())
                .collect();
            if per.is_empty() {
                return None;
            }
            let mut wait = LatencyHistogram::new();
            let mut sojourn = LatencyHistogram::new();
            for s in &per {
                wait.merge(&s.wait);
                sojourn.merge(&s.sojourn);
            }
            Some(PriorityReport {
                priority: p,
                offered: per.iter().map(|s| s.offered_post).sum(),
                wait_s: latency(&per.iter().map(|s| s.wait.mean()).collect::<Vec<_>>(), &wait),
                sojourn_s: latency(
                    &per.iter().map(|s| s.sojourn.mean()).collect::<Vec<_>>(),
                    &sojourn,
                ),
            })
        })
        .collect()
}

fn mean_ci(values: &[f64]) -> MeanCi {
    summarize(values).unwrap_or(MeanCi { mean: 0.0, ci95: None })
}

/// Folds replications (in replication order) into the report.
pub fn aggregate(model: &Model, mut results: Vec<ReplicationResult>) -> SimOutcome {
    let mut acc = timeline::Accumulator::new(model);
    if let Some(a) = acc.as_mut() {
        for r in &mut results {
            if let Some(t) = r.timeline.take() {
                a.add(&t);
            }
        }
    }
    aggregate_with(model, results, acc)
}

/// [`aggregate`], with the replications' timelines already folded into `timeline`.
fn aggregate_with(
    model: &Model,
    results: Vec<ReplicationResult>,
    timeline: Option<timeline::Accumulator>,
) -> SimOutcome {
    let sim = &model.simulation;
    let span = sim.horizon - sim.warmup;
    let mut queues = Vec::new();
    let mut waits = Vec::new();
    let mut sojourns = Vec::new();
    let mut curves = Vec::new();
    for (q, queue) in model.queues.iter().enumerate() {
        let per =
            |f: &dyn Fn(&ReplicationResult) -> f64| -> Vec<f64> { results.iter().map(f).collect() };
        let mut wait = LatencyHistogram::new();
        let mut sojourn = LatencyHistogram::new();
        let mut counts = Counts::default();
        let mut max_len = 0.0f64;
        for r in &results {
            wait.merge(&r.queues[q].wait);
            sojourn.merge(&r.queues[q].sojourn);
            counts.add(&r.queues[q].counts);
            max_len = max_len.max(r.queues[q].ready.max());
        }
        let consumers = model.consumers_on(q);
        let lq = mean_ci(&per(&|r| r.queues[q].ready.average(sim.horizon)));
        let loss: Vec<f64> = results
            .iter()
            .filter(|r| r.queues[q].offered_post > 0)
            .map(|r| r.queues[q].dropped_post as f64 / r.queues[q].offered_post as f64)
            .collect();
        queues.push(QueueReport {
            name: queue.name.clone(),
            consumers,
            offered_rate: mean_ci(&per(&|r| r.queues[q].offered_post as f64 / span)),
            throughput: mean_ci(&per(&|r| r.queues[q].completed_post as f64 / span)),
            loss_probability: mean_ci(&loss),
            wait_s: latency(
                &results.iter().map(|r| r.queues[q].wait.mean()).collect::<Vec<_>>(),
                &wait,
            ),
            sojourn_s: latency(
                &results.iter().map(|r| r.queues[q].sojourn.mean()).collect::<Vec<_>>(),
                &sojourn,
            ),
            queue_length: QueueLength { mean: lq.mean, ci95: lq.ci95, max: max_len as u64 },
            utilization: mean_ci(&per(&|r| {
                if consumers == 0 {
                    0.0
                } else {
                    r.queues[q].busy.average(sim.horizon) / f64::from(consumers)
                }
            })),
            counts,
            expire_probability: model.may_expire(q).then(|| {
                mean_ci(
                    &results
                        .iter()
                        .filter(|r| r.queues[q].offered_post > 0)
                        .map(|r| r.queues[q].expired_post as f64 / r.queues[q].offered_post as f64)
                        .collect::<Vec<_>>(),
                )
            }),
            drain_time_s: queue.initial_messages.map(|_| {
                let times: Vec<f64> =
                    results.iter().filter_map(|r| r.queues[q].drain_time).collect();
                let s = summarize(&times);
                DrainTime {
                    mean: s.as_ref().map(|s| s.mean),
                    ci95: s.and_then(|s| s.ci95),
                    drained_replications: times.len() as u32,
                }
            }),
            by_priority: queue.max_priority.map(|max| by_priority(&results, q, max)),
        });
        curves.push(QueueCurves {
            wait: curve(&wait, &results.iter().map(|r| &r.queues[q].wait).collect::<Vec<_>>()),
            sojourn: curve(
                &sojourn,
                &results.iter().map(|r| &r.queues[q].sojourn).collect::<Vec<_>>(),
            ),
        });
        waits.push(wait);
        sojourns.push(sojourn);
    }
    let mut producers = Vec::new();
    let mut end_to_end = Vec::new();
    for (p, producer) in model.producers.iter().enumerate() {
        let mut e2e = LatencyHistogram::new();
        let (mut published, mut unroutable) = (0, 0);
        for r in &results {
            e2e.merge(&r.producers[p].end_to_end);
            published += r.producers[p].published;
            unroutable += r.producers[p].unroutable;
        }
        producers.push(ProducerReport { name: producer.name.clone(), published, unroutable });
        if e2e.count() > 0 {
            let l = latency(
                &results.iter().map(|r| r.producers[p].end_to_end.mean()).collect::<Vec<_>>(),
                &e2e,
            );
            end_to_end.push(EndToEnd {
                producer: producer.name.clone(),
                latency: l,
                completed: e2e.count(),
            });
        }
    }
    let topics =
        topic::aggregate(model, &results.iter().map(|r| &r.topics[..]).collect::<Vec<_>>());
    let events = results.iter().map(|r| r.events).sum();
    let series_all: Vec<Series> = results.iter().filter_map(|r| r.series.clone()).collect();
    let series = series_all.first().cloned();
    SimOutcome {
        report: RunReport {
            scenario: model.name.clone(),
            backend: "sim".into(),
            seed: sim.seed,
            replications: sim.replications,
            horizon_s: sim.horizon,
            warmup_s: sim.warmup,
            time_scale: None,
            queues,
            producers,
            end_to_end_s: end_to_end,
            topics,
            timing: None,
            partial: false,
            replications_requested: None,
            horizon_requested_s: None,
            server: None,
            precision_reached: None,
            precision: None,
            timeline: timeline.map(|t| t.finish(model)),
        },
        wait: waits,
        sojourn: sojourns,
        curves,
        series,
        series_all,
        events,
    }
}

#[cfg(test)]
mod cancel_tests {
    use super::*;

    fn mm1(replications: u32) -> Model {
        let text = std::fs::read_to_string("scenarios/mm1.toml").unwrap();
        let mut m = Model::from_toml(&text, "mm1.toml").unwrap();
        m.simulation.horizon = 2000.0;
        m.simulation.warmup = 100.0;
        m.simulation.replications = replications;
        m
    }

    #[test]
    fn a_stop_before_the_start_runs_nothing() {
        let cancel = Cancel::new();
        cancel.request();
        assert!(run_until(&mm1(4), None, &NoProgress, &cancel).is_none());
        assert!(simulate_until(&mm1(1), 0, None, &cancel).is_none());
    }

    /// Requests a stop when the first replication completes.
    struct StopAfterOne(Cancel);
    impl Progress for StopAfterOne {
        fn replication_done(&self, _done: u32, _total: u32) {
            self.0.request();
        }
    }

    #[test]
    fn a_stop_keeps_the_completed_replications_in_order_and_marks_the_report() {
        let m = mm1(6);
        let stop = StopAfterOne(Cancel::new());
        let pool = rayon::ThreadPoolBuilder::new().num_threads(1).build().unwrap();
        let out = pool.install(|| run_until(&m, None, &stop, &stop.0)).expect("one completed");
        let r = &out.report;
        assert!(r.partial);
        assert_eq!((r.replications, r.replications_requested), (1, Some(6)));
        // The same figures as a run asked for that one replication.
        let mut one = m.clone();
        one.simulation.replications = 1;
        let full = run(&one, None, &NoProgress).report;
        assert!(!full.partial && full.replications_requested.is_none());
        assert_eq!(r.queues, full.queues);
        assert!(r.queues.iter().all(|q| q.counts.balanced()));
        let json = r.to_json();
        assert!(
            json.contains("\"partial\": true") && json.contains("\"replications_requested\": 6")
        );
        assert!(!full.to_json().contains("partial"));
    }
}
