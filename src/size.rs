//! Consumer-group sizing: "how many consumers for p99 wait ≤ 500 ms?". Theory proposes a
//! first count (Erlang C / the model that fits the queue), the simulation checks that count
//! and its neighbours in parallel, and the answer is the smallest count whose simulated
//! figure, at the upper end of its 95% interval, meets the target. The tutorial's rule
//! (P_c = G·P ≥ arrival rate) is reported beside it, to show what it would have chosen.
//!
//! Changing a group's size leaves every arrival time unchanged (each source has its own
//! random stream), so neighbouring counts are compared on the same traffic (common random
//! numbers), which makes their difference much more precise than either figure alone.

use crate::analytic::{self, tutorial};
use crate::cancel::Cancel;
use crate::results::QueueAnalysis;
use crate::scenario::{Model, parse_duration};
use crate::sim::{self, NoProgress, SimOutcome};
use rayon::prelude::*;
use serde::Serialize;
use std::fmt;
use std::str::FromStr;

pub mod topic;

/// What is measured.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum Metric {
    /// Entering the queue → start of service.
    #[serde(rename = "wait_s")]
    Wait,
    /// Entering the queue → end of service.
    #[serde(rename = "sojourn_s")]
    Sojourn,
    /// Busy consumers ÷ consumers.
    #[serde(rename = "utilization")]
    Utilization,
    /// Dropped ÷ offered.
    #[serde(rename = "loss_probability")]
    Loss,
    /// A topic group's lag in records: the time-averaged mean of the partition furthest
    /// behind (records published to it and not yet completely processed by the group).
    #[serde(rename = "lag")]
    Lag,
    /// A topic group's lag in seconds: the partition furthest behind's mean lag ÷ its
    /// rate (Little's law: the mean time its records wait until processed).
    #[serde(rename = "lag_s")]
    LagSeconds,
}

impl Metric {
    /// Measured in seconds (a duration bound).
    pub fn is_time(self) -> bool {
        matches!(self, Metric::Wait | Metric::Sojourn | Metric::LagSeconds)
    }

    /// Only a topic group has it.
    pub fn topic_only(self) -> bool {
        matches!(self, Metric::Lag | Metric::LagSeconds)
    }
}

/// Which statistic of the metric.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Stat {
    /// Mean.
    Mean,
    /// 50th percentile.
    P50,
    /// 90th percentile.
    P90,
    /// 95th percentile.
    P95,
    /// 99th percentile.
    P99,
    /// 99.9th percentile.
    P999,
}

impl Stat {
    /// The quantile, or `None` for the mean.
    pub fn quantile(self) -> Option<f64> {
        match self {
            Stat::Mean => None,
            Stat::P50 => Some(0.5),
            Stat::P90 => Some(0.9),
            Stat::P95 => Some(0.95),
            Stat::P99 => Some(0.99),
            Stat::P999 => Some(0.999),
        }
    }
}

/// A sizing target such as `p99 wait <= 100ms`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Target {
    /// Metric.
    pub metric: Metric,
    /// Statistic.
    pub stat: Stat,
    /// Always `<=` (a figure no larger than `value`).
    pub op: &'static str,
    /// Bound, seconds for times, a fraction for utilization and loss.
    pub value: f64,
}

impl fmt::Display for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let stat = serde_json::to_value(self.stat)
            .ok()
            .and_then(|v| v.as_str().map(str::to_string))
            .unwrap_or_default();
        match self.metric {
            Metric::Wait => write!(f, "{stat} wait <= {}", crate::dist::fmt_secs(self.value)),
            Metric::Sojourn => write!(f, "{stat} sojourn <= {}", crate::dist::fmt_secs(self.value)),
            Metric::Utilization => write!(f, "utilization <= {}", self.value),
            Metric::Loss => write!(f, "loss <= {}", self.value),
            Metric::Lag => write!(f, "lag <= {}", self.value),
            Metric::LagSeconds => write!(f, "lag_s <= {}", crate::dist::fmt_secs(self.value)),
        }
    }
}

impl FromStr for Target {
    type Err = String;

    /// Accepts `p99 wait <= 500ms`, `mean sojourn <= 1s`, `wait p95 <= 0.2`,
    /// `utilization <= 0.7`, `loss <= 0.001` (also percentages like `1%`), and for a
    /// topic's group `lag <= 1000` (records) or `lag_s <= 2s`. A strict `<`
    /// is refused, not read as `<=`: the two differ at the bound, and reading one as the
    /// other silently changed what was asked.
    fn from_str(s: &str) -> Result<Self, String> {
        let help = "write a target like \"p99 wait <= 500ms\", \"mean sojourn <= 1s\", \"utilization <= 0.7\", \"loss <= 0.001\", or for a topic's group \"lag <= 1000\" or \"lag_s <= 2s\"";
        let (lhs, rhs) = match s.split_once("<=") {
            Some(parts) => parts,
            None if s.contains('<') => {
                return Err(format!(
                    "target \"{s}\": only `<=` is supported (the figure may equal the bound); write \"{}\"",
                    s.replacen('<', "<=", 1)
                ));
            }
            None => return Err(format!("target \"{s}\" has no `<=`: {help}")),
        };
        let words: Vec<String> = lhs.split_whitespace().map(str::to_lowercase).collect();
        let mut metric = None;
        let mut stat = None;
        for w in &words {
            match w.as_str() {
                "wait" | "wait_s" => metric = Some(Metric::Wait),
                "sojourn" | "sojourn_s" | "latency" => metric = Some(Metric::Sojourn),
                "utilization" | "util" => metric = Some(Metric::Utilization),
                "loss" | "loss_probability" => metric = Some(Metric::Loss),
                "lag" => metric = Some(Metric::Lag),
                "lag_s" => metric = Some(Metric::LagSeconds),
                "mean" => stat = Some(Stat::Mean),
                "p50" | "median" => stat = Some(Stat::P50),
                "p90" => stat = Some(Stat::P90),
                "p95" => stat = Some(Stat::P95),
                "p99" => stat = Some(Stat::P99),
                "p999" | "p99.9" => stat = Some(Stat::P999),
                other => return Err(format!("target \"{s}\": unknown word \"{other}\"; {help}")),
            }
        }
        let metric = metric.ok_or_else(|| {
            format!(
                "target \"{s}\" names no metric (wait, sojourn, utilization, loss, lag, lag_s); {help}"
            )
        })?;
        let rhs = rhs.trim();
        let value = match metric {
            Metric::Wait | Metric::Sojourn | Metric::LagSeconds => rhs
                .parse::<f64>()
                .or_else(|_| parse_duration(rhs))
                .map_err(|e| format!("target \"{s}\": {e}"))?,
            Metric::Utilization | Metric::Loss => match rhs.strip_suffix('%') {
                Some(p) => p.trim().parse::<f64>().map(|v| v / 100.0),
                None => rhs.parse::<f64>(),
            }
            .map_err(|_| format!("target \"{s}\": \"{rhs}\" is not a number"))?,
            Metric::Lag => rhs
                .parse::<f64>()
                .map_err(|_| format!("target \"{s}\": \"{rhs}\" is not a number of records"))?,
        };
        if !(value.is_finite() && value >= 0.0) {
            return Err(format!("target \"{s}\": the bound must be a finite number >= 0"));
        }
        let stat = match metric {
            Metric::Utilization | Metric::Loss | Metric::Lag | Metric::LagSeconds => {
                if stat.is_some_and(|s| s != Stat::Mean) {
                    return Err(format!("target \"{s}\": {metric:?} has only a mean"));
                }
                Stat::Mean
            }
            _ => stat.unwrap_or(Stat::Mean),
        };
        Ok(Target { metric, stat, op: "<=", value })
    }
}

/// One consumer count, simulated (when stable) and analysed.
#[derive(Debug, Clone, Serialize)]
pub struct Candidate {
    /// Consumers in the group.
    pub count: u32,
    /// Does the simulated figure's 95% upper bound meet the target?
    pub meets: bool,
    /// Simulated figure (pooled percentile or mean); `null` when not simulated (unstable).
    pub value: Option<f64>,
    /// Upper end of its 95% interval.
    pub ci95_upper: Option<f64>,
    /// Theory's figure, `null` where no model gives it.
    pub analytic: Option<f64>,
    /// Simulated utilization (theory's when not simulated).
    pub utilization: f64,
    /// Prefetch used (extension).
    pub prefetch: u32,
    /// Simulated p50, p95, p99 of the target's latency metric (wait or sojourn; the
    /// sojourn for utilization and loss targets) — extension, for the sizing chart.
    pub p50: Option<f64>,
    /// See `p50`.
    pub p95: Option<f64>,
    /// See `p50`.
    pub p99: Option<f64>,
    /// Simulated loss probability (extension).
    pub loss: Option<f64>,
    /// Why a count was not simulated (extension; `null` when it was). Always present, so
    /// CSV rows keep one shape.
    pub note: Option<String>,
    /// With `--every-window`: the start of the window whose figure is the worst (and is
    /// `value`). Reported through [`SizeReport::worst_windows`], so the candidates' CSV
    /// keeps one shape.
    #[serde(skip)]
    pub window_start_s: Option<f64>,
}

/// With `--every-window`: the window that decided the count — where one consumer fewer
/// fails the target (or, when the smallest count searched meets it, the tightest window).
#[derive(Debug, Clone, Serialize)]
pub struct DecidingWindow {
    /// Window start, seconds.
    pub start_s: f64,
    /// Window end, seconds.
    pub end_s: f64,
    /// The consumer count this figure is for.
    pub count: u32,
    /// The target's figure in that window at `count`.
    pub value: Option<f64>,
    /// Its upper 95% bound.
    pub ci95_upper: Option<f64>,
}

/// The search for one prefetch setting.
#[derive(Debug, Clone, Serialize)]
pub struct PrefetchSizing {
    /// Prefetch.
    pub prefetch: u32,
    /// Smallest count meeting the target; `null` if none up to the search limit.
    pub recommended: Option<u32>,
    /// Theory's smallest count meeting the target.
    pub analytic_guess: Option<u32>,
    /// Counts evaluated, ascending.
    pub candidates: Vec<Candidate>,
    /// Interrupted: counts whose simulation was due but did not finish (extension; absent
    /// when empty).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub not_run: Vec<u32>,
}

/// The answer of `mqsim size`.
#[derive(Debug, Clone, Serialize)]
pub struct SizeReport {
    /// Scenario name.
    pub scenario: String,
    /// Consumer group sized.
    pub group: String,
    /// The target.
    pub target: Target,
    /// Smallest count whose simulated figure (upper 95% bound) meets the target, at the
    /// scenario's prefetch.
    pub recommended: Option<u32>,
    /// What theory alone says (`null` where no model applies).
    pub analytic_guess: Option<u32>,
    /// What the tutorial's P_c = G·P ≥ arrival rate gives.
    pub tutorial_guess: u32,
    /// Counts evaluated at the scenario's prefetch.
    pub candidates: Vec<Candidate>,
    /// With `--prefetch`: the same search per prefetch setting (extension).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub by_prefetch: Vec<PrefetchSizing>,
    /// When nothing is recommended: which counts were searched (extension; absent when a
    /// count is recommended).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub none_reason: Option<String>,
    /// The search was interrupted (Ctrl-C): the candidates are the counts finished,
    /// `recommended` is `null` unless the search had already bracketed it, and the
    /// prefetch settings not searched are absent (extension; absent when false).
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub partial: bool,
    /// Interrupted: the headline search's counts not run (extension; absent when empty).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub not_run: Vec<u32>,
    /// With `--every-window`: the window length; the target must hold in every window
    /// after the warm-up (extension; absent otherwise).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub every_window_s: Option<f64>,
    /// With `--every-window`: the window that decided the recommendation (extension).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub decided_by: Option<DecidingWindow>,
    /// With `--every-window`: per simulated count, its worst window (extension; absent
    /// otherwise).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub worst_windows: Vec<WorstWindow>,
}

/// A candidate count's worst window.
#[derive(Debug, Clone, Serialize)]
pub struct WorstWindow {
    /// Consumers.
    pub count: u32,
    /// Window start, seconds.
    pub start_s: f64,
    /// The target's figure there.
    pub value: Option<f64>,
    /// Its upper 95% bound.
    pub ci95_upper: Option<f64>,
}

impl SizeReport {
    /// The search per prefetch setting: `by_prefetch`, or without `--prefetch` one entry
    /// made of the headline figures.
    pub fn settings(&self) -> Vec<PrefetchSizing> {
        if self.by_prefetch.is_empty() {
            vec![PrefetchSizing {
                prefetch: self.candidates.first().map_or(0, |c| c.prefetch),
                recommended: self.recommended,
                analytic_guess: self.analytic_guess,
                candidates: self.candidates.clone(),
                not_run: self.not_run.clone(),
            }]
        } else {
            self.by_prefetch.clone()
        }
    }
}

/// Why sizing could not start.
#[derive(Debug, Clone, thiserror::Error)]
pub enum SizeError {
    /// No such group.
    #[error("no consumer group named \"{0}\" (groups: {1})")]
    NoGroup(String, String),
    /// The group's queue receives nothing.
    #[error("queue \"{0}\" of group \"{1}\" receives no traffic: there is nothing to size")]
    NoTraffic(String, String),
    /// A per-window target other than the wait.
    #[error(
        "--every-window sizes on the wait per window (\"mean wait <= …\" or \"p99 wait <= …\"), not \"{0}\""
    )]
    PerWindow(String),
    /// A lag target on a queue's group.
    #[error(
        "\"{0}\" is a topic group's target (a queue has no lag): size a queue's group on \"mean wait\", \"p99 wait\", \"utilization\" or \"loss\""
    )]
    TopicOnly(String),
    /// A setting that applies to one kind of group only.
    #[error("{0}")]
    NotForThisGroup(String),
    /// No number of consumers can meet the target; the reason says why.
    #[error("target \"{0}\" cannot be met with any number of consumers: {1}")]
    Infeasible(String, String),
}

/// Why no consumer count can meet `target`, found before any simulation: a bound that more
/// consumers cannot beat. `d` is the group's mean service time, `lambda` the queue's
/// offered rate, `needed_for` the count a utilization bound needs (others' consumers
/// deducted), and `max_count` the most consumers the search will try.
fn infeasible(
    target: &Target,
    service: &crate::dist::Dist,
    lambda: f64,
    others: u32,
    max_count: u32,
) -> Option<String> {
    use crate::dist::fmt_secs;
    let d = service.mean();
    match (target.metric, target.stat.quantile()) {
        (Metric::Utilization, _) if target.value <= 0.0 => Some(format!(
            "the queue receives {lambda:.4} messages/s, so its consumers are busy a fraction > 0 of the time with any count"
        )),
        (Metric::Utilization, _) => {
            let needed = (lambda * d / target.value).ceil() - f64::from(others);
            (needed > f64::from(max_count)).then(|| {
                format!(
                    "{:.0} consumers would be needed (offered load {:.3} ÷ {}), more than the search limit of {max_count}",
                    needed,
                    lambda * d,
                    target.value
                )
            })
        }
        (Metric::Sojourn, None) if target.value < d => Some(format!(
            "the mean service time alone is {} (more consumers shorten the wait, never the service)",
            fmt_secs(d)
        )),
        (Metric::Sojourn, Some(p)) => service.quantile(p).filter(|&q| target.value < q).map(|q| {
            format!(
                "the service time alone has that percentile at {} (more consumers shorten the wait, never the service)",
                fmt_secs(q)
            )
        }),
        _ => None,
    }
}

fn analytic_figure(a: &QueueAnalysis, t: &Target) -> Option<f64> {
    if !a.stable {
        return None;
    }
    let l = match t.metric {
        Metric::Wait => &a.wait_s,
        Metric::Sojourn => &a.sojourn_s,
        Metric::Utilization => return a.utilization,
        Metric::Loss => return a.loss_probability,
        // A queue has no lag: refused before any search.
        Metric::Lag | Metric::LagSeconds => return None,
    };
    match t.stat.quantile() {
        None => l.mean,
        Some(q) => l.percentile(q),
    }
}

/// (value, upper 95% bound) of the target's figure in a simulation of queue `q`.
fn sim_figure(out: &SimOutcome, q: usize, t: &Target) -> (Option<f64>, Option<f64>) {
    let r = &out.report.queues[q];
    let with_ci = |m: f64, c: Option<f64>| (Some(m), Some(m + c.unwrap_or(0.0)));
    match (t.metric, t.stat.quantile()) {
        (Metric::Utilization, _) => with_ci(r.utilization.mean, r.utilization.ci95),
        (Metric::Loss, _) => with_ci(r.loss_probability.mean, r.loss_probability.ci95),
        (Metric::Wait, None) => r.wait_s.mean.map_or((None, None), |m| with_ci(m, r.wait_s.ci95)),
        (Metric::Sojourn, None) => {
            r.sojourn_s.mean.map_or((None, None), |m| with_ci(m, r.sojourn_s.ci95))
        }
        (Metric::Lag | Metric::LagSeconds, _) => (None, None),
        (metric, Some(p)) => {
            let curve =
                if metric == Metric::Wait { &out.curves[q].wait } else { &out.curves[q].sojourn };
            let pooled = curve.pooled.iter().find(|x| (x.0 - p).abs() < 1e-12).map(|x| x.1);
            let half =
                curve.replicated.iter().find(|x| (x.0 - p).abs() < 1e-12).map_or(0.0, |x| x.2);
            (pooled, pooled.map(|v| v + half))
        }
    }
}

/// With a timeline: the worst non-warm-up window's (value, upper 95% bound, start, end) of
/// the target's wait figure (mean: mean + its half-width; a percentile: the window's pooled
/// p99 + the half-width of the replications' p99s).
fn worst_window(out: &SimOutcome, q: usize, t: &Target) -> Option<(f64, f64, f64, f64)> {
    let tl = out.report.timeline.as_ref()?;
    let mut worst: Option<(f64, f64, f64, f64)> = None;
    for w in tl.windows.iter().filter(|w| !w.warmup) {
        let c = &w.queues[q].wait_s;
        let (v, h) = match t.stat {
            Stat::Mean => (c.mean, c.ci95),
            _ => (c.p99, c.p99_ci95),
        };
        let Some(v) = v else { continue };
        let upper = v + h.unwrap_or(0.0);
        if worst.is_none_or(|x| upper > x.1) {
            worst = Some((v, upper, w.start_s, w.end_s));
        }
    }
    worst
}

/// Most consumers a sizing search will try.
pub const MAX_COUNT: u32 = 100_000;

struct Search<'m> {
    model: &'m Model,
    cancel: &'m Cancel,
    group: usize,
    queue: usize,
    target: Target,
    prefetch: u32,
    every_window: Option<f64>,
}

impl Search<'_> {
    fn variant(&self, count: u32) -> Model {
        let mut m = self.model.clone();
        m.groups[self.group].count = count;
        m.groups[self.group].prefetch = self.prefetch;
        m.simulation.window = self.every_window;
        m
    }

    fn analysis(&self, count: u32) -> Option<QueueAnalysis> {
        analytic::analyze(&self.variant(count)).queues.into_iter().nth(self.queue)
    }

    /// Smallest count (≤ `limit`) theory says meets the target. Every metric here only
    /// improves with more consumers, so this bisects: a linear scan analysed up to 100 000
    /// models, each costing O(count), which for a large group took minutes.
    fn analytic_guess(&self, from: u32, limit: u32) -> Option<u32> {
        let meets = |c: u32| {
            self.analysis(c)
                .and_then(|a| analytic_figure(&a, &self.target))
                .is_some_and(|v| v <= self.target.value)
        };
        let (mut lo, mut hi) = (from.max(1), limit);
        if lo > hi || !meets(hi) {
            return None;
        }
        while lo < hi {
            let mid = lo + (hi - lo) / 2;
            if meets(mid) {
                hi = mid;
            } else {
                lo = mid + 1;
            }
        }
        Some(lo)
    }

    /// The candidate, or `None` if a stop was requested before its simulation finished.
    fn evaluate(&self, count: u32) -> Option<Candidate> {
        let a = self.analysis(count);
        let analytic = a.as_ref().and_then(|a| analytic_figure(a, &self.target));
        let unstable = a.as_ref().is_some_and(|a| !a.stable);
        if unstable {
            return Some(Candidate {
                count,
                meets: false,
                value: None,
                ci95_upper: None,
                analytic,
                utilization: 1.0,
                prefetch: self.prefetch,
                p50: None,
                p95: None,
                p99: None,
                loss: None,
                note: Some(
                    "unstable (offered load ≥ capacity, unbounded queue): not simulated".into(),
                ),
                window_start_s: None,
            });
        }
        if self.cancel.requested() {
            return None;
        }
        let out = sim::run_until(&self.variant(count), None, &NoProgress, self.cancel)?;
        if out.report.partial {
            return None;
        }
        let (mut value, mut upper) = sim_figure(&out, self.queue, &self.target);
        let mut window_start_s = None;
        if self.every_window.is_some() {
            let w = worst_window(&out, self.queue, &self.target);
            value = w.map(|w| w.0);
            upper = w.map(|w| w.1);
            window_start_s = w.map(|w| w.2);
        }
        let r = &out.report.queues[self.queue];
        let lat = if self.target.metric == Metric::Wait { &r.wait_s } else { &r.sojourn_s };
        Some(Candidate {
            count,
            meets: upper.is_some_and(|u| u <= self.target.value),
            value,
            ci95_upper: upper,
            analytic,
            utilization: r.utilization.mean,
            prefetch: self.prefetch,
            p50: lat.p50,
            p95: lat.p95,
            p99: lat.p99,
            loss: Some(r.loss_probability.mean),
            note: None,
            window_start_s,
        })
    }

    /// Evaluates `counts` in parallel: the candidates finished, and the counts not run.
    fn evaluate_all(
        &self,
        counts: &[u32],
        on_count: &(dyn Fn(u32) + Sync),
    ) -> (Vec<Candidate>, Vec<u32>) {
        let out: Vec<(u32, Option<Candidate>)> = counts
            .par_iter()
            .map(|&c| {
                let cand = self.evaluate(c);
                if cand.is_some() {
                    on_count(c);
                }
                (c, cand)
            })
            .collect();
        let mut not_run = Vec::new();
        let done = out
            .into_iter()
            .filter_map(|(c, cand)| {
                if cand.is_none() {
                    not_run.push(c);
                }
                cand
            })
            .collect();
        (done, not_run)
    }
}

/// What the count search needs of an evaluated count.
pub(crate) trait Evaluated {
    /// Consumers.
    fn count(&self) -> u32;
    /// Meets the target.
    fn meets(&self) -> bool;
}

impl Evaluated for Candidate {
    fn count(&self) -> u32 {
        self.count
    }
    fn meets(&self) -> bool {
        self.meets
    }
}

/// The counts a search found: the smallest meeting one, every count evaluated (ascending),
/// the counts not run, and whether it was interrupted.
pub(crate) struct Searched<C> {
    pub recommended: Option<u32>,
    pub candidates: Vec<C>,
    pub not_run: Vec<u32>,
    pub interrupted: bool,
}

/// Evaluates counts: the candidates finished and the counts not run.
pub(crate) type EvalAll<'a, C> = dyn Fn(&[u32]) -> (Vec<C>, Vec<u32>) + 'a;

/// The count search shared by a queue's and a topic's group: simulates around `start`
/// until the smallest meeting count is bracketed (a count that meets with count − 1
/// failing, or count = `min`), growing by about 10% per round, then fills in the curve
/// from a few below the answer to three past it so a chart shows the knee. `eval_all`
/// evaluates counts (in parallel) and returns the candidates finished and the counts not
/// run. Interrupted, it stops with no recommendation (unless already bracketed).
pub(crate) fn search_counts<C: Evaluated>(
    start: u32,
    min: u32,
    limit: u32,
    cancel: &Cancel,
    eval_all: &EvalAll<'_, C>,
) -> Searched<C> {
    let mut done: Vec<C> = Vec::new();
    let mut not_run: Vec<u32> = Vec::new();
    let eval = |counts: Vec<u32>, done: &mut Vec<C>, not_run: &mut Vec<u32>| {
        let counts: Vec<u32> = counts
            .into_iter()
            .filter(|c| (min..=limit).contains(c) && !done.iter().any(|d| d.count() == *c))
            .collect();
        let (new, missed) = eval_all(&counts);
        done.extend(new);
        done.sort_by_key(Evaluated::count);
        not_run.extend(missed);
    };
    let start = start.clamp(min, limit);
    eval(vec![start.saturating_sub(1), start, start + 1], &mut done, &mut not_run);
    let bracketed = |done: &[C]| {
        let c = done.iter().find(|c| c.meets()).map(Evaluated::count)?;
        (c == min || done.iter().any(|d| d.count() == c - 1 && !d.meets())).then_some(c)
    };
    let (recommended, mut interrupted) = loop {
        if cancel.requested() {
            break (bracketed(&done), true);
        }
        let lowest_meeting = done.iter().find(|c| c.meets()).map(Evaluated::count);
        match lowest_meeting {
            Some(c) if c == min || done.iter().any(|d| d.count() == c - 1 && !d.meets()) => {
                break (Some(c), false);
            }
            Some(c) => eval(vec![c - 1, c.saturating_sub(2)], &mut done, &mut not_run),
            None => {
                let top = done.last().map_or(start, Evaluated::count);
                if top >= limit {
                    break (None, false);
                }
                // Grow by about 10% per round (at least 2 counts), in parallel. Clamped
                // to the limit: a count past it was filtered out, nothing new was
                // evaluated, and the search looped forever at full CPU.
                let step = (top / 10).max(1);
                let next = |k: u32| top.saturating_add(k.saturating_mul(step)).min(limit);
                eval(vec![next(1), next(2)], &mut done, &mut not_run);
            }
        }
    };
    // Fill in the curve from the smallest stable count to a few past the answer, so the
    // sizing chart shows the knee, not just the bracket.
    let hi = recommended.unwrap_or(start).saturating_add(3).min(limit);
    let lo = hi.saturating_sub(11).max(min);
    let missing: Vec<u32> = (lo..=hi).filter(|c| !done.iter().any(|d| d.count() == *c)).collect();
    if interrupted {
        not_run.extend(missing);
    } else {
        let (more, missed) = eval_all(&missing);
        done.extend(more);
        interrupted |= !missed.is_empty();
        not_run.extend(missed);
    }
    done.sort_by_key(Evaluated::count);
    not_run.retain(|n| !done.iter().any(|c| c.count() == *n));
    not_run.sort_unstable();
    not_run.dedup();
    Searched { recommended, candidates: done, not_run, interrupted }
}

/// Sizes `group_name` for `target`. `prefetches` empty: the scenario's prefetch only;
/// otherwise one search per prefetch (the first one is the headline answer).
/// `on_count(count)` reports each simulated count.
pub fn size(
    model: &Model,
    group_name: &str,
    target: &Target,
    prefetches: &[u32],
    on_count: &(dyn Fn(u32) + Sync),
) -> Result<SizeReport, SizeError> {
    size_until(model, group_name, target, prefetches, on_count, &Cancel::new())
}

/// [`size`], stopping early when `cancel` is set: the report then has `partial` set, the
/// counts finished as candidates, the counts not run in `not_run`, and a recommendation
/// only if the search had already bracketed it; prefetch settings not reached are left out.
pub fn size_until(
    model: &Model,
    group_name: &str,
    target: &Target,
    prefetches: &[u32],
    on_count: &(dyn Fn(u32) + Sync),
    cancel: &Cancel,
) -> Result<SizeReport, SizeError> {
    size_every_window_until(model, group_name, target, prefetches, None, on_count, cancel)
}

/// [`size_until`]; with `every_window` (a window length, seconds) the target must hold in
/// every window of the timeline after the warm-up — the count for the peak — and the
/// report names the window that decided it.
pub fn size_every_window_until(
    model: &Model,
    group_name: &str,
    target: &Target,
    prefetches: &[u32],
    every_window: Option<f64>,
    on_count: &(dyn Fn(u32) + Sync),
    cancel: &Cancel,
) -> Result<SizeReport, SizeError> {
    if target.metric.topic_only() {
        return Err(SizeError::TopicOnly(target.to_string()));
    }
    if every_window.is_some()
        && (target.metric != Metric::Wait || !matches!(target.stat, Stat::Mean | Stat::P99))
    {
        return Err(SizeError::PerWindow(target.to_string()));
    }
    let group = model.group_id(group_name).ok_or_else(|| {
        SizeError::NoGroup(
            group_name.into(),
            model.groups.iter().map(|g| g.name.as_str()).collect::<Vec<_>>().join(", "),
        )
    })?;
    let queue = model.groups[group].queue;
    let base = analytic::analyze(model);
    let qa = &base.queues[queue];
    let lambda = qa.offered_rate.unwrap_or(0.0);
    if lambda <= 0.0 {
        return Err(SizeError::NoTraffic(model.queues[queue].name.clone(), group_name.into()));
    }
    let d = model.groups[group].service.mean();
    let others: u32 = model.queues[queue]
        .groups
        .iter()
        .filter(|&&g| g != group)
        .map(|&g| model.groups[g].count)
        .sum();
    // With an unbounded queue fewer consumers than the offered load can never keep up.
    let min = if model.queues[queue].max_length.is_none() {
        ((lambda * d).floor() as u32 + 1).saturating_sub(others).max(1)
    } else {
        1
    };
    let mut limit = (min.saturating_mul(4)).max(min + 64).min(MAX_COUNT);
    if let Some(why) = infeasible(target, &model.groups[group].service, lambda, others, MAX_COUNT) {
        return Err(SizeError::Infeasible(target.to_string(), why));
    }
    if target.metric == Metric::Utilization {
        // Utilization falls as 1/count: search as far as the bound needs.
        let needed = (lambda * d / target.value).ceil() - f64::from(others);
        limit = limit.max((needed.max(0.0) as u32).saturating_add(2).min(MAX_COUNT));
    }
    let tutorial_guess = tutorial::tutorial_guess(lambda, d);
    let settings: Vec<u32> = if prefetches.is_empty() {
        vec![model.groups[group].prefetch]
    } else {
        prefetches.to_vec()
    };
    let mut by_prefetch = Vec::new();
    let mut interrupted = false;
    for &prefetch in &settings {
        if interrupted {
            break;
        }
        let s =
            Search { model, cancel, group, queue, target: target.clone(), prefetch, every_window };
        let analytic_guess = s.analytic_guess(min, limit);
        let start = analytic_guess.unwrap_or(tutorial_guess.max(min));
        let Searched { recommended, candidates, not_run, interrupted: stopped } =
            search_counts(start, min, limit, cancel, &|counts| s.evaluate_all(counts, on_count));
        interrupted |= stopped;
        by_prefetch.push(PrefetchSizing {
            prefetch,
            recommended,
            analytic_guess,
            candidates,
            not_run,
        });
    }
    let partial = interrupted;
    let head = by_prefetch[0].clone();
    let none_reason = head.recommended.is_none().then(|| {
        if partial {
            return "interrupted before the search found the smallest count meeting the target"
                .to_string();
        }
        // Why: the nearest the search came, so the gap to the target is visible.
        let closest = head
            .candidates
            .iter()
            .filter_map(|c| c.ci95_upper.map(|u| (c.count, u)))
            .min_by(|a, b| a.1.total_cmp(&b.1))
            .map_or_else(String::new, |(count, upper)| {
                let shown = if target.metric.is_time() {
                    crate::dist::fmt_secs(upper)
                } else {
                    format!("{upper:.4}")
                };
                format!(" (closest: {count} consumers, upper 95% bound {shown})")
            });
        format!(
            "no count from {min} to {limit} consumers (the search limit) meets {target}{closest}; \
             more consumers no longer help: check the target against the service time, or size a different group"
        )
    });
    let decided_by = every_window.and_then(|w| {
        let rec = head.recommended?;
        let at = |c: u32| head.candidates.iter().find(|x| x.count == c);
        let below =
            rec.checked_sub(1).and_then(at).filter(|c| !c.meets && c.window_start_s.is_some());
        let c = below.or_else(|| at(rec))?;
        let start_s = c.window_start_s?;
        Some(DecidingWindow {
            start_s,
            end_s: (start_s + w).min(model.simulation.horizon),
            count: c.count,
            value: c.value,
            ci95_upper: c.ci95_upper,
        })
    });
    let worst_windows: Vec<WorstWindow> = head
        .candidates
        .iter()
        .filter_map(|c| {
            Some(WorstWindow {
                count: c.count,
                start_s: c.window_start_s?,
                value: c.value,
                ci95_upper: c.ci95_upper,
            })
        })
        .collect();
    Ok(SizeReport {
        scenario: model.name.clone(),
        group: group_name.into(),
        target: target.clone(),
        recommended: head.recommended,
        analytic_guess: head.analytic_guess,
        tutorial_guess,
        candidates: head.candidates,
        by_prefetch: if prefetches.is_empty() { Vec::new() } else { by_prefetch },
        none_reason,
        partial,
        not_run: head.not_run,
        every_window_s: every_window,
        decided_by,
        worst_windows,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn targets_parse() {
        let t: Target = "p99 wait <= 100ms".parse().unwrap();
        assert_eq!((t.metric, t.stat, t.value), (Metric::Wait, Stat::P99, 0.1));
        let t: Target = "mean sojourn <= 1s".parse().unwrap();
        assert_eq!((t.metric, t.stat, t.value), (Metric::Sojourn, Stat::Mean, 1.0));
        let t: Target = "utilization <= 70%".parse().unwrap();
        assert_eq!((t.metric, t.stat), (Metric::Utilization, Stat::Mean));
        assert!((t.value - 0.7).abs() < 1e-12);
        let t: Target = "loss <= 0.001".parse().unwrap();
        assert_eq!(t.metric, Metric::Loss);
        assert!("p99 wait".parse::<Target>().unwrap_err().contains("<="));
        // `<` was silently read as `<=`.
        let e = "p99 wait < 500ms".parse::<Target>().unwrap_err();
        assert!(e.contains("only `<=` is supported") && e.contains("p99 wait <= 500ms"), "{e}");
        assert!("p99 banana <= 1s".parse::<Target>().unwrap_err().contains("banana"));
        assert!("p99 loss <= 0.1".parse::<Target>().is_err());
        assert_eq!(
            serde_json::to_string(&"p99 wait <= 100ms".parse::<Target>().unwrap()).unwrap(),
            r#"{"metric":"wait_s","stat":"p99","op":"<=","value":0.1}"#
        );
    }

    fn mmc() -> Model {
        let text = std::fs::read_to_string("scenarios/mmc.toml").unwrap();
        Model::from_toml(&text, "mmc.toml").unwrap()
    }

    #[test]
    fn infeasible_size_target_stops_with_the_reason() {
        // `mean sojourn <= 90ms` (service mean 100 ms), `utilization <= 0` and
        // `mean sojourn <= 0` looped forever at full CPU with no output.
        let m = mmc();
        for (t, why) in [
            ("mean sojourn <= 90ms", "mean service time alone is 100ms"),
            ("mean sojourn <= 0", "mean service time alone is 100ms"),
            ("utilization <= 0", "busy a fraction > 0"),
            ("utilization <= 0.000001", "more than the search limit of 100000"),
            ("p99 sojourn <= 400ms", "has that percentile at 460.5ms"),
        ] {
            let t: Target = t.parse().unwrap();
            let e = size(&m, "order-workers", &t, &[], &|_| {}).unwrap_err().to_string();
            assert!(
                e.contains("cannot be met with any number of consumers") && e.contains(why),
                "{t}: {e}"
            );
        }
    }

    #[test]
    fn a_search_that_reaches_its_limit_stops() {
        // A target only unreachable in simulation: the search used to step past its limit,
        // evaluate nothing new and spin. Short runs keep the test fast.
        let mut m = mmc();
        m.simulation.horizon = 20.0;
        m.simulation.warmup = 0.0;
        m.simulation.replications = 2;
        // Log-normal service (mean 100 ms, cv 1) has its p99 near 490 ms, a bound theory
        // does not know in closed form, so only the search can find it unreachable.
        m.groups[0].service =
            crate::dist::Dist::new(crate::dist::DistKind::LogNormal { mean: 0.1, cv: 1.0 })
                .unwrap();
        let t: Target = "p99 sojourn <= 200ms".parse().unwrap();
        let r = size(&m, "order-workers", &t, &[], &|_| {}).unwrap();
        assert_eq!(r.recommended, None);
        assert!(r.none_reason.as_deref().unwrap().contains("search limit"), "{:?}", r.none_reason);
    }

    #[test]
    fn sizing_finds_the_erlang_c_answer_on_mmc() {
        // λ = 64, μ = 10: Erlang C gives p99 wait 0.239 s with 8 consumers, 0.0737 s with 10
        // and 0.126 with 9 (output contract example). Target 100 ms ⇒ 10 consumers.
        let text = std::fs::read_to_string("scenarios/mmc.toml").unwrap();
        let mut m = Model::from_toml(&text, "mmc.toml").unwrap();
        m.simulation.horizon = 1800.0;
        m.simulation.warmup = 120.0;
        let t: Target = "p99 wait <= 100ms".parse().unwrap();
        let r = size(&m, "order-workers", &t, &[], &|_| {}).unwrap();
        assert_eq!(r.analytic_guess, Some(10));
        assert_eq!(r.recommended, Some(10));
        assert_eq!(r.tutorial_guess, 7);
        let c9 = r.candidates.iter().find(|c| c.count == 9).unwrap();
        assert!(!c9.meets && (c9.analytic.unwrap() - 0.1256).abs() < 1e-3, "{c9:?}");
        let c7 = r.candidates.iter().find(|c| c.count == 7);
        assert!(c7.is_none_or(|c| !c.meets));
        assert!(size(&m, "nope", &t, &[], &|_| {}).is_err());
    }
}
