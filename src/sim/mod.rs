//! The discrete-event simulator: the engine runs one replication; this module runs
//! independent replications in parallel (rayon) and folds them into a [`RunReport`].
//!
//! Each replication draws from its own random streams derived from (seed, replication), and
//! results are combined in replication order, so the output is identical whatever the
//! number of threads.

mod calendar;
mod engine;
mod parts;
pub mod reference;
pub mod speed;
pub mod timeline;
pub mod topic;

pub use calendar::{Calendar, EventId};
pub use engine::{
    CANCEL_POLL, ReplicationResult, Series, simulate, simulate_parts, simulate_until, stream,
    stream_seed,
};
pub use parts::{Part, Parts};

use crate::cancel::Cancel;
use crate::results::{
    CURVE_QUANTILES, Counts, DrainTime, EndToEnd, Latency, PercentileCurve, PriorityReport,
    ProducerReport, QueueCurves, QueueLength, QueueReport, RunReport,
};
use crate::scenario::Model;
use crate::stats::{HistogramPool, LatencyHistogram, MeanCi, summarize};
use rayon::prelude::*;
use std::collections::BTreeMap;
use std::sync::Mutex;
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
    /// Per Kafka-style topic, per consumer group (model order): the same curves of its
    /// records.
    pub topic_curves: Vec<Vec<QueueCurves>>,
    /// State over time of replication 0, when a step was asked for.
    pub series: Option<Series>,
    /// State over time of every completed replication, in replication order, when a step
    /// was asked for (the first is `series`): charts draw their mean and band.
    pub series_all: Vec<Series>,
    /// Events processed over all replications.
    pub events: u64,
}

/// The curve of `pooled`, its band from each replication's quantiles at
/// [`CURVE_QUANTILES`] (kept when the replication was folded).
fn curve(pooled: &LatencyHistogram, per_rep: &[&[Option<f64>]]) -> PercentileCurve {
    PercentileCurve::from_batches(pooled, per_rep, |r, q| {
        r[CURVE_QUANTILES.iter().position(|&c| c == q).expect("a curve quantile")]
    })
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

/// Replications finished out of order, waiting for the ones before them to be folded.
struct InOrder<'m> {
    next: u32,
    /// `None`: stopped by the cancel flag (skipped).
    waiting: BTreeMap<u32, Option<Prepared>>,
    folded: Aggregator<'m>,
    /// A replication was stopped by the cancel flag.
    skipped: bool,
}

impl InOrder<'_> {
    fn fold_ready(&mut self) {
        while let Some(r) = self.waiting.remove(&self.next) {
            self.next += 1;
            match r {
                Some(r) => self.folded.add_prepared(r),
                None => self.skipped = true,
            }
        }
    }
}

/// [`run`], stopping early when `cancel` is set: replications not started are skipped, one
/// in progress stops at its next look at the flag ([`CANCEL_POLL`] events) and is
/// discarded. The report then aggregates the completed replications, in replication order,
/// with `replications` = how many completed and `partial` set; `None` if none completed
/// (or the stop came while the automatic warm-up was being chosen).
///
/// Memory: each replication is folded into the pooled histograms and a few numbers per
/// queue as soon as it and every one before it have finished (workers take replications
/// in order, so at most about one per worker waits); a pool holds its replications'
/// entries until they outnumber its own, or 16 384 of them (128 kB) for a small pool.
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
    let parts = Parts::of(model);
    let done = AtomicU32::new(0);
    let state = Mutex::new(InOrder {
        next: 0,
        waiting: BTreeMap::new(),
        folded: Aggregator::new(model),
        skipped: false,
    });
    let mut next = 0u32;
    // Replications run in batches: with `precision` each batch's size follows from the
    // results so far (never from the thread count), so the replications run, and thus the
    // report, are the same on any machine.
    let mut batch_end = sim.replications;
    let mut precision_reached = None;
    let mut interrupted = false;
    loop {
        if next < batch_end {
            let total = batch_end;
            let claim = AtomicU32::new(next);
            let workers = rayon::current_num_threads().clamp(1, (total - next) as usize);
            rayon::scope(|s| {
                for _ in 0..workers {
                    s.spawn(|_| {
                        loop {
                            let r = claim.fetch_add(1, Ordering::Relaxed);
                            if r >= total {
                                return;
                            }
                            let res = if cancel.requested() {
                                None
                            } else {
                                simulate_parts(model, &parts, r, series_step, cancel)
                                    .map(|r| Prepared::new(model, r))
                            };
                            if res.is_some() {
                                progress.replication_done(
                                    done.fetch_add(1, Ordering::Relaxed) + 1,
                                    total,
                                );
                            }
                            let mut st =
                                state.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
                            st.waiting.insert(r, res);
                            st.fold_ready();
                        }
                    });
                }
            });
            next = total;
        }
        let mut st = state.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        st.fold_ready();
        interrupted |= st.skipped;
        let Some(p) = sim.precision else { break };
        if interrupted {
            break;
        }
        let needed = st.folded.replications_for_precision(p);
        drop(st);
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
    let folded = state.into_inner().unwrap_or_else(std::sync::PoisonError::into_inner).folded;
    let n = folded.replications();
    if n == 0 {
        return None;
    }
    let mut outcome = folded.finish();
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
    precision_need(
        results.len(),
        (0..model.queues.len())
            .map(|q| results.iter().filter_map(|r| r.queues[q].sojourn.mean()).collect()),
        precision,
    )
}

/// [`replications_for_precision`] from each queue's replication means of the sojourn, over
/// `n` replications.
fn precision_need(
    n: usize,
    per_queue: impl Iterator<Item = Vec<f64>>,
    precision: f64,
) -> Option<u32> {
    let n = n as f64;
    let mut need: Option<f64> = None;
    for means in per_queue {
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

fn mean_ci(values: &[f64]) -> MeanCi {
    summarize(values).unwrap_or(MeanCi { mean: 0.0, ci95: None })
}

/// What the report needs of one queue in one replication once its histograms are pooled.
struct QueueSummary {
    wait_mean: Option<f64>,
    sojourn_mean: Option<f64>,
    /// The replication's quantiles at [`CURVE_QUANTILES`].
    wait_q: Vec<Option<f64>>,
    sojourn_q: Vec<Option<f64>>,
    ready_avg: f64,
    busy_avg: f64,
    offered_post: u64,
    dropped_post: u64,
    completed_post: u64,
    expired_post: u64,
    drain_time: Option<f64>,
}

/// One priority of one queue, pooled over the replications that saw it.
struct PriorityPool {
    offered: u64,
    wait: HistogramPool,
    sojourn: HistogramPool,
    wait_means: Vec<Option<f64>>,
    sojourn_means: Vec<Option<f64>>,
}

/// One queue, pooled.
struct QueuePool {
    wait: HistogramPool,
    sojourn: HistogramPool,
    counts: Counts,
    max_len: f64,
    /// Per priority (index), for a priority queue.
    by_priority: Vec<Option<PriorityPool>>,
    /// Per replication, in order.
    reps: Vec<QueueSummary>,
}

/// One producer, pooled.
struct ProducerPool {
    end_to_end: HistogramPool,
    means: Vec<Option<f64>>,
    published: u64,
    unroutable: u64,
}

/// Folds replications, in replication order, into pooled histograms and the few numbers
/// per replication that the intervals across replications need: a replication's own
/// histograms go to the pools ([`HistogramPool`], which adds them up once they outnumber
/// the pool). Adding in replication order keeps every figure (floating-point sums
/// included) identical whatever the number of threads.
pub struct Aggregator<'m> {
    model: &'m Model,
    queues: Vec<QueuePool>,
    producers: Vec<ProducerPool>,
    events: u64,
    series_all: Vec<Series>,
    timeline: Option<timeline::Accumulator>,
    /// The replications' topic figures, their group histograms moved into `topic_pools`.
    topics: Vec<Vec<topic::TopicStats>>,
    topic_pools: topic::TopicPools,
    replications: u32,
}

fn quantiles(h: &LatencyHistogram) -> Vec<Option<f64>> {
    h.quantiles(&CURVE_QUANTILES)
}

/// A replication with what needs no other replication already worked out (each queue's
/// means and curve quantiles): the worker that ran it does this, so that the fold, which
/// takes replications one at a time in order, only pools.
pub struct Prepared {
    result: ReplicationResult,
    summaries: Vec<QueueSummary>,
}

impl Prepared {
    /// Works out `r`'s own figures (`r` is a replication of `model`).
    pub fn new(model: &Model, r: ReplicationResult) -> Self {
        let horizon = model.simulation.horizon;
        let summaries = r
            .queues
            .iter()
            .map(|qs| QueueSummary {
                wait_mean: qs.wait.mean(),
                sojourn_mean: qs.sojourn.mean(),
                wait_q: quantiles(&qs.wait),
                sojourn_q: quantiles(&qs.sojourn),
                ready_avg: qs.ready.average(horizon),
                busy_avg: qs.busy.average(horizon),
                offered_post: qs.offered_post,
                dropped_post: qs.dropped_post,
                completed_post: qs.completed_post,
                expired_post: qs.expired_post,
                drain_time: qs.drain_time,
            })
            .collect();
        Prepared { result: r, summaries }
    }
}

impl<'m> Aggregator<'m> {
    /// Nothing added yet.
    pub fn new(model: &'m Model) -> Self {
        Aggregator {
            model,
            queues: model
                .queues
                .iter()
                .map(|_| QueuePool {
                    wait: HistogramPool::new(),
                    sojourn: HistogramPool::new(),
                    counts: Counts::default(),
                    max_len: 0.0,
                    by_priority: Vec::new(),
                    reps: Vec::new(),
                })
                .collect(),
            producers: model
                .producers
                .iter()
                .map(|_| ProducerPool {
                    end_to_end: HistogramPool::new(),
                    means: Vec::new(),
                    published: 0,
                    unroutable: 0,
                })
                .collect(),
            events: 0,
            series_all: Vec::new(),
            timeline: timeline::Accumulator::new(model),
            topics: Vec::new(),
            topic_pools: topic::TopicPools::new(),
            replications: 0,
        }
    }

    /// Replications added.
    pub fn replications(&self) -> u32 {
        self.replications
    }

    /// About how many replications would bring every queue's mean sojourn within
    /// `precision` (see [`replications_for_precision`]); `None` when those added do.
    pub fn replications_for_precision(&self, precision: f64) -> Option<u32> {
        precision_need(
            self.replications as usize,
            self.queues.iter().map(|p| p.reps.iter().filter_map(|r| r.sojourn_mean).collect()),
            precision,
        )
    }

    /// Adds the next replication (callers add them in replication order).
    pub fn add(&mut self, r: ReplicationResult) {
        self.add_prepared(Prepared::new(self.model, r));
    }

    /// [`Aggregator::add`] for a replication [`Prepared`] beforehand.
    pub fn add_prepared(&mut self, p: Prepared) {
        let Prepared { result: mut r, summaries } = p;
        if let (Some(a), Some(t)) = (self.timeline.as_mut(), r.timeline.take()) {
            a.add(&t);
        }
        if !r.topics.is_empty() {
            topic::pool_groups(&mut self.topic_pools, &r.topics);
            for g in r.topics.iter_mut().flat_map(|t| t.groups.iter_mut()) {
                g.wait = LatencyHistogram::new();
                g.sojourn = LatencyHistogram::new();
            }
            self.topics.push(r.topics);
        }
        for ((pool, qs), summary) in self.queues.iter_mut().zip(r.queues).zip(summaries) {
            pool.wait.add(qs.wait);
            pool.sojourn.add(qs.sojourn);
            pool.counts.add(&qs.counts);
            pool.max_len = pool.max_len.max(qs.ready.max());
            if pool.by_priority.len() < qs.by_priority.len() {
                pool.by_priority.resize_with(qs.by_priority.len(), || None);
            }
            for (slot, ps) in pool.by_priority.iter_mut().zip(qs.by_priority) {
                let Some(ps) = ps else { continue };
                let p = slot.get_or_insert_with(|| PriorityPool {
                    offered: 0,
                    wait: HistogramPool::new(),
                    sojourn: HistogramPool::new(),
                    wait_means: Vec::new(),
                    sojourn_means: Vec::new(),
                });
                p.offered += ps.offered_post;
                p.wait_means.push(ps.wait.mean());
                p.sojourn_means.push(ps.sojourn.mean());
                p.wait.add(ps.wait);
                p.sojourn.add(ps.sojourn);
            }
            pool.reps.push(summary);
        }
        for (pool, ps) in self.producers.iter_mut().zip(r.producers) {
            pool.means.push(ps.end_to_end.mean());
            pool.end_to_end.add(ps.end_to_end);
            pool.published += ps.published;
            pool.unroutable += ps.unroutable;
        }
        self.events += r.events;
        if let Some(s) = r.series {
            self.series_all.push(s);
        }
        self.replications += 1;
    }

    /// The report of the replications added.
    pub fn finish(self) -> SimOutcome {
        let model = self.model;
        let sim = &model.simulation;
        let span = sim.horizon - sim.warmup;
        // Queue by queue in parallel (a thousand queues' pools are added up here, and their
        // curves and intervals worked out), each from its own pool alone: the same figures in
        // the same order on any thread count.
        let per_queue: Vec<_> = self
            .queues
            .into_par_iter()
            .enumerate()
            .map(|(q, pool)| {
                let queue = &model.queues[q];
                let (wait, sojourn) = (pool.wait.finish(), pool.sojourn.finish());
                let reps = &pool.reps;
                let per =
                    |f: &dyn Fn(&QueueSummary) -> f64| -> Vec<f64> { reps.iter().map(f).collect() };
                let consumers = model.consumers_on(q);
                let lq = mean_ci(&per(&|r| r.ready_avg));
                let loss: Vec<f64> = reps
                    .iter()
                    .filter(|r| r.offered_post > 0)
                    .map(|r| r.dropped_post as f64 / r.offered_post as f64)
                    .collect();
                let by_priority = queue.max_priority.map(|max| {
                    let mut slots = pool.by_priority.into_iter().collect::<Vec<_>>();
                    slots.resize_with(usize::from(max) + 1, || None);
                    slots
                        .into_iter()
                        .enumerate()
                        .rev()
                        .filter_map(|(p, pp)| {
                            let pp = pp?;
                            Some(PriorityReport {
                                priority: p as u8,
                                offered: pp.offered,
                                wait_s: latency(&pp.wait_means, &pp.wait.finish()),
                                sojourn_s: latency(&pp.sojourn_means, &pp.sojourn.finish()),
                            })
                        })
                        .collect()
                });
                let report = QueueReport {
                    name: queue.name.clone(),
                    consumers,
                    offered_rate: mean_ci(&per(&|r| r.offered_post as f64 / span)),
                    throughput: mean_ci(&per(&|r| r.completed_post as f64 / span)),
                    loss_probability: mean_ci(&loss),
                    wait_s: latency(&reps.iter().map(|r| r.wait_mean).collect::<Vec<_>>(), &wait),
                    sojourn_s: latency(
                        &reps.iter().map(|r| r.sojourn_mean).collect::<Vec<_>>(),
                        &sojourn,
                    ),
                    queue_length: QueueLength {
                        mean: lq.mean,
                        ci95: lq.ci95,
                        max: pool.max_len as u64,
                    },
                    utilization: mean_ci(&per(&|r| {
                        if consumers == 0 { 0.0 } else { r.busy_avg / f64::from(consumers) }
                    })),
                    counts: pool.counts,
                    expire_probability: model.may_expire(q).then(|| {
                        mean_ci(
                            &reps
                                .iter()
                                .filter(|r| r.offered_post > 0)
                                .map(|r| r.expired_post as f64 / r.offered_post as f64)
                                .collect::<Vec<_>>(),
                        )
                    }),
                    drain_time_s: queue.initial_messages.map(|_| {
                        let times: Vec<f64> = reps.iter().filter_map(|r| r.drain_time).collect();
                        let s = summarize(&times);
                        DrainTime {
                            mean: s.as_ref().map(|s| s.mean),
                            ci95: s.and_then(|s| s.ci95),
                            drained_replications: times.len() as u32,
                        }
                    }),
                    by_priority,
                };
                let curves = QueueCurves {
                    wait: curve(&wait, &reps.iter().map(|r| &r.wait_q[..]).collect::<Vec<_>>()),
                    sojourn: curve(
                        &sojourn,
                        &reps.iter().map(|r| &r.sojourn_q[..]).collect::<Vec<_>>(),
                    ),
                };
                (report, curves, wait, sojourn)
            })
            .collect();
        let mut queues = Vec::with_capacity(per_queue.len());
        let mut waits = Vec::with_capacity(per_queue.len());
        let mut sojourns = Vec::with_capacity(per_queue.len());
        let mut curves = Vec::with_capacity(per_queue.len());
        for (report, curve, wait, sojourn) in per_queue {
            queues.push(report);
            curves.push(curve);
            waits.push(wait);
            sojourns.push(sojourn);
        }
        let mut producers = Vec::new();
        let mut end_to_end = Vec::new();
        for (producer, pool) in model.producers.iter().zip(self.producers) {
            producers.push(ProducerReport {
                name: producer.name.clone(),
                published: pool.published,
                unroutable: pool.unroutable,
            });
            let pooled = pool.end_to_end.finish();
            if pooled.count() > 0 {
                end_to_end.push(EndToEnd {
                    producer: producer.name.clone(),
                    latency: latency(&pool.means, &pooled),
                    completed: pooled.count(),
                });
            }
        }
        let topics = if model.topics.is_empty() {
            Vec::new()
        } else {
            topic::aggregate_pooled(
                model,
                &self.topics.iter().map(Vec::as_slice).collect::<Vec<_>>(),
                &self.topic_pools,
            )
        };
        let topic_curves = topic::group_curves(&self.topic_pools);
        let series = self.series_all.first().cloned();
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
                timeline: self.timeline.map(|t| t.finish(model)),
            },
            wait: waits,
            sojourn: sojourns,
            curves,
            topic_curves,
            series,
            series_all: self.series_all,
            events: self.events,
        }
    }
}

/// Folds replications (in replication order) into the report.
pub fn aggregate(model: &Model, results: Vec<ReplicationResult>) -> SimOutcome {
    let mut a = Aggregator::new(model);
    for r in results {
        a.add(r);
    }
    a.finish()
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
