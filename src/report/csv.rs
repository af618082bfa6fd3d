//! CSV writers. Reports (`run`, `loadtest`, `analyze`) are tidy: one row per queue (or
//! producer) × metric × statistic, the shape notebooks and spreadsheets pivot easily. The
//! other commands write one record per result row: a comparison figure, a sizing
//! candidate, a sweep cell's queue, a validation cell.

use super::compare::Comparison3;
use crate::results::{AnalyticReport, Latency, RunReport, Timeline, TopicAnalysis, TopicReport};
use crate::size::SizeReport;
use crate::stats::MeanCi;
use crate::sweep::{Cell, SetSpec, value_text};
use serde::Serialize;
use std::borrow::Cow;

/// One tidy row.
#[derive(Debug, serde::Serialize)]
pub struct TidyRow<'a> {
    /// `sim`, `real` or `analytic`.
    pub backend: &'a str,
    /// `queue`, `producer`, or for a topic `topic_group`, `partition` (named
    /// `TOPIC/INDEX`) and `consumer` (named `GROUP/INDEX`).
    pub entity: &'a str,
    /// Its name.
    pub name: Cow<'a, str>,
    /// Metric name as in the JSON (`wait_s`, `throughput`, …).
    pub metric: &'a str,
    /// `mean`, `ci95`, `p99`, …
    pub stat: &'a str,
    /// The value (empty when unknown).
    pub value: Option<f64>,
}

type Base<'a> = (&'a str, &'a str, Cow<'a, str>);

fn push_mean_ci<'a>(rows: &mut Vec<TidyRow<'a>>, base: &Base<'a>, metric: &'a str, v: &MeanCi) {
    let (backend, entity, name) = base.clone();
    rows.push(TidyRow {
        backend,
        entity,
        name: name.clone(),
        metric,
        stat: "mean",
        value: Some(v.mean),
    });
    rows.push(TidyRow { backend, entity, name, metric, stat: "ci95", value: v.ci95 });
}

fn push_latency<'a>(rows: &mut Vec<TidyRow<'a>>, base: &Base<'a>, metric: &'a str, l: &Latency) {
    let (backend, entity, name) = base;
    for stat in ["mean", "ci95", "p50", "p90", "p95", "p99", "p999", "max"] {
        rows.push(TidyRow {
            backend,
            entity,
            name: name.clone(),
            metric,
            stat,
            value: l.stat(stat),
        });
    }
}

/// A row of a single figure.
fn push_value<'a>(
    rows: &mut Vec<TidyRow<'a>>,
    base: &Base<'a>,
    metric: &'a str,
    stat: &'a str,
    value: Option<f64>,
) {
    let (backend, entity, name) = base.clone();
    rows.push(TidyRow { backend, entity, name, metric, stat, value });
}

/// The tidy rows of a run's topics, in the queues' shape: per group (`topic_group`) its
/// throughput, wait, sojourn, idle consumers, counts and rebalances; per partition
/// (`partition`, named `TOPIC/INDEX`) its offered rate and lag; per consumer (`consumer`,
/// named `GROUP/INDEX`) its throughput, utilization and mean sojourn.
fn topic_rows<'a>(rows: &mut Vec<TidyRow<'a>>, b: &'a str, topics: &'a [TopicReport]) {
    for t in topics {
        for g in &t.groups {
            let base: Base<'a> = (b, "topic_group", Cow::Borrowed(g.name.as_str()));
            push_mean_ci(rows, &base, "throughput", &g.throughput);
            push_latency(rows, &base, "wait_s", &g.wait_s);
            push_latency(rows, &base, "sojourn_s", &g.sojourn_s);
            push_value(rows, &base, "consumers", "value", Some(f64::from(g.consumers)));
            push_value(rows, &base, "idle_consumers", "value", Some(f64::from(g.idle_consumers)));
            let k = &g.counts;
            for (stat, v) in [
                ("offered", k.offered),
                ("acked", k.acked),
                ("in_flight_at_end", k.in_flight_at_end),
            ] {
                push_value(rows, &base, "counts", stat, Some(v as f64));
            }
            if let Some(r) = g.rebalances {
                push_value(rows, &base, "rebalances", "value", Some(r as f64));
            }
        }
        for p in &t.partitions {
            let base: Base<'a> = (b, "partition", Cow::Owned(format!("{}/{}", t.name, p.index)));
            push_mean_ci(rows, &base, "offered_rate", &p.offered_rate);
            push_value(rows, &base, "lag", "mean", Some(p.lag.mean));
            push_value(rows, &base, "lag", "ci95", p.lag.ci95);
            push_value(rows, &base, "lag", "max", Some(p.lag.max as f64));
            push_value(rows, &base, "lag_s", "mean", p.lag_s.mean);
            push_value(rows, &base, "lag_s", "max", p.lag_s.max);
        }
        for g in &t.groups {
            for m in &g.members {
                let base: Base<'a> = (b, "consumer", Cow::Owned(format!("{}/{}", g.name, m.index)));
                push_mean_ci(rows, &base, "throughput", &m.throughput);
                push_mean_ci(rows, &base, "utilization", &m.utilization);
                push_value(rows, &base, "sojourn_s", "mean", m.sojourn_mean_s.map(|x| x.mean));
                push_value(rows, &base, "sojourn_s", "ci95", m.sojourn_mean_s.and_then(|x| x.ci95));
            }
        }
    }
}

/// The tidy rows of an analysis's topics, the same entities as a run's: per group its
/// model facts and means, per partition its rate and mean lag, per consumer its rate,
/// load and means.
fn topic_analytic_rows<'a>(rows: &mut Vec<TidyRow<'a>>, topics: &'a [TopicAnalysis]) {
    let b = |v: bool| Some(if v { 1.0 } else { 0.0 });
    for t in topics {
        for g in &t.groups {
            let base: Base<'a> = ("analytic", "topic_group", Cow::Borrowed(g.name.as_str()));
            for (metric, stat, value) in [
                ("exact", "value", b(g.exact)),
                ("stable", "value", b(g.stable)),
                ("consumers", "value", Some(f64::from(g.consumers))),
                ("idle_consumers", "value", Some(f64::from(g.idle_consumers))),
                ("hottest_rho", "value", g.hottest.as_ref().map(|h| h.rho)),
                ("throughput", "mean", Some(g.throughput)),
                ("wait_s", "mean", g.wait_s.mean),
                ("sojourn_s", "mean", g.sojourn_s.mean),
            ] {
                push_value(rows, &base, metric, stat, value);
            }
        }
        for p in &t.partitions {
            let base: Base<'a> =
                ("analytic", "partition", Cow::Owned(format!("{}/{}", t.name, p.index)));
            push_value(rows, &base, "offered_rate", "mean", Some(p.offered_rate));
            push_value(rows, &base, "keys", "value", Some(p.keys as f64));
            push_value(rows, &base, "lag", "mean", p.lag_mean);
        }
        for g in &t.groups {
            for m in &g.members {
                let base: Base<'a> =
                    ("analytic", "consumer", Cow::Owned(format!("{}/{}", g.name, m.index)));
                push_value(rows, &base, "arrival_rate", "mean", Some(m.arrival_rate));
                push_value(rows, &base, "rho", "value", Some(m.rho));
                push_value(rows, &base, "wait_s", "mean", m.wait_mean_s);
                push_value(rows, &base, "sojourn_s", "mean", m.sojourn_mean_s);
                push_value(rows, &base, "sojourn_s", "p99", m.sojourn_p99_s);
            }
        }
    }
}

/// The tidy rows of a run or loadtest report.
pub fn run_rows(r: &RunReport) -> Vec<TidyRow<'_>> {
    let mut rows = Vec::new();
    let b = r.backend.as_str();
    for q in &r.queues {
        let base: Base<'_> = (b, "queue", Cow::Borrowed(q.name.as_str()));
        push_mean_ci(&mut rows, &base, "offered_rate", &q.offered_rate);
        push_mean_ci(&mut rows, &base, "throughput", &q.throughput);
        push_mean_ci(&mut rows, &base, "loss_probability", &q.loss_probability);
        push_mean_ci(&mut rows, &base, "utilization", &q.utilization);
        push_latency(&mut rows, &base, "wait_s", &q.wait_s);
        push_latency(&mut rows, &base, "sojourn_s", &q.sojourn_s);
        rows.push(TidyRow {
            backend: b,
            entity: "queue",
            name: Cow::Borrowed(&q.name),
            metric: "queue_length",
            stat: "mean",
            value: Some(q.queue_length.mean),
        });
        rows.push(TidyRow {
            backend: b,
            entity: "queue",
            name: Cow::Borrowed(&q.name),
            metric: "queue_length",
            stat: "ci95",
            value: q.queue_length.ci95,
        });
        rows.push(TidyRow {
            backend: b,
            entity: "queue",
            name: Cow::Borrowed(&q.name),
            metric: "queue_length",
            stat: "max",
            value: Some(q.queue_length.max as f64),
        });
        let k = &q.counts;
        for (stat, v) in [
            ("offered", k.offered),
            ("delivered", k.delivered),
            ("acked", k.acked),
            ("dropped", k.dropped),
            ("in_flight_at_end", k.in_flight_at_end),
            ("completed", k.completed),
        ] {
            rows.push(TidyRow {
                backend: b,
                entity: "queue",
                name: Cow::Borrowed(&q.name),
                metric: "counts",
                stat,
                value: Some(v as f64),
            });
        }
    }
    for e in &r.end_to_end_s {
        let base: Base<'_> = (b, "producer", Cow::Borrowed(e.producer.as_str()));
        push_latency(&mut rows, &base, "end_to_end_s", &e.latency);
    }
    topic_rows(&mut rows, b, &r.topics);
    rows
}

/// The tidy rows of an analytic report, the same shape as `run`'s: latency metrics by
/// statistic (no `ci95` or `max`: theory has neither), rates and probabilities as `mean`,
/// model facts as `value` (booleans 1/0); a null figure has an empty value.
pub fn analytic_rows(report: &AnalyticReport) -> Vec<TidyRow<'_>> {
    let mut rows = Vec::new();
    for q in &report.queues {
        let b = |v: bool| Some(if v { 1.0 } else { 0.0 });
        let row = |metric: &'static str, stat: &'static str, value: Option<f64>| TidyRow {
            backend: "analytic",
            entity: "queue",
            name: Cow::Borrowed(q.name.as_str()),
            metric,
            stat,
            value,
        };
        for (metric, stat, value) in [
            ("exact", "value", b(q.exact)),
            ("stable", "value", b(q.stable)),
            ("consumers", "value", Some(f64::from(q.consumers))),
            ("arrival_scv", "value", q.arrival_scv),
            ("service_mean_s", "value", q.service_mean_s),
            ("service_scv", "value", q.service_scv),
            ("offered_load_erlangs", "value", q.offered_load_erlangs),
            ("rho", "value", q.rho),
            ("offered_rate", "mean", q.offered_rate),
            ("throughput", "mean", q.throughput),
            ("loss_probability", "mean", q.loss_probability),
            ("utilization", "mean", q.utilization),
            ("queue_length", "mean", q.queue_length.mean),
            ("waiting", "mean", q.waiting.mean),
            ("in_system", "mean", q.in_system.mean),
        ] {
            rows.push(row(metric, stat, value));
        }
        for (metric, l) in [("wait_s", &q.wait_s), ("sojourn_s", &q.sojourn_s)] {
            for stat in ["mean", "p50", "p90", "p95", "p99", "p999"] {
                rows.push(row(metric, stat, l.stat(stat)));
            }
        }
    }
    topic_analytic_rows(&mut rows, &report.topics);
    rows
}

/// Serialises tidy rows as CSV bytes with a header.
pub fn to_csv(rows: &[TidyRow<'_>]) -> Vec<u8> {
    let mut w = csv::Writer::from_writer(Vec::new());
    for r in rows {
        w.serialize(r).expect("in-memory CSV cannot fail");
    }
    w.into_inner().expect("in-memory CSV cannot fail")
}

/// One tidy row of a timeline: a window × queue × metric × statistic.
#[derive(Debug, serde::Serialize)]
pub struct TimelineRow<'a> {
    /// Window start, seconds.
    pub start_s: f64,
    /// Window end, seconds.
    pub end_s: f64,
    /// The window starts inside the warm-up.
    pub warmup: bool,
    /// Queue name.
    pub queue: &'a str,
    /// Metric name as in the JSON.
    pub metric: &'static str,
    /// `mean`, `ci95`, `max`, `p99`, `p99_ci95`, `messages`.
    pub stat: &'static str,
    /// The value (empty when there is none).
    pub value: Option<f64>,
}

/// The tidy rows of a run's timeline (`timeline.csv`).
pub fn timeline_rows(t: &Timeline) -> Vec<TimelineRow<'_>> {
    let mut rows = Vec::new();
    for w in &t.windows {
        for q in &w.queues {
            let mut push = |metric, stat, value| {
                rows.push(TimelineRow {
                    start_s: w.start_s,
                    end_s: w.end_s,
                    warmup: w.warmup,
                    queue: &q.name,
                    metric,
                    stat,
                    value,
                })
            };
            push("offered_rate", "mean", Some(q.offered_rate));
            push("offered_rate", "ci95", q.offered_rate_ci95);
            push("throughput", "mean", Some(q.throughput));
            push("throughput", "ci95", q.throughput_ci95);
            push("queue_length", "mean", Some(q.queue_length.mean));
            push("queue_length", "ci95", q.queue_length.ci95);
            push("queue_length", "max", Some(q.queue_length.max as f64));
            push("wait_s", "mean", q.wait_s.mean);
            push("wait_s", "ci95", q.wait_s.ci95);
            push("wait_s", "p99", q.wait_s.p99);
            push("wait_s", "p99_ci95", q.wait_s.p99_ci95);
            push("wait_s", "messages", Some(q.wait_s.messages as f64));
        }
    }
    rows
}

/// Any list of flat records (validation rows, tutorial rows, speed rows), one CSV record
/// each with a header from the field names.
pub fn records<T: Serialize>(rows: &[T]) -> Vec<u8> {
    let mut w = csv::Writer::from_writer(Vec::new());
    for r in rows {
        w.serialize(r).expect("in-memory CSV");
    }
    w.into_inner().expect("in-memory CSV")
}

/// The `compare` CSV: one record per queue × figure.
pub fn comparison(c: &Comparison3) -> Vec<u8> {
    let mut w = csv::Writer::from_writer(Vec::new());
    // The optional columns (`--calibration`, `--broker`) only when present, so a plain
    // comparison's CSV is unchanged.
    let first = c.queues.iter().flat_map(|q| q.figures.first()).next();
    let calibrated = first.is_some_and(|f| f.sim_calibrated.is_some());
    let rabbit = first.is_some_and(|f| f.rabbitmq.is_some());
    // csv cannot serialise flattened structs (they are maps): one flat record per figure.
    let mut head = vec![
        "queue",
        "metric",
        "analytic",
        "sim",
        "sim_ci95",
        "real",
        "sim_vs_analytic",
        "real_vs_analytic",
        "real_vs_sim",
    ];
    if calibrated {
        head.extend(["sim_calibrated", "sim_calibrated_ci95"]);
    }
    if rabbit {
        head.extend(["rabbitmq", "rabbitmq_vs_analytic", "rabbitmq_vs_sim"]);
        if calibrated {
            head.push("rabbitmq_vs_sim_calibrated");
        }
    }
    w.write_record(&head).expect("in-memory CSV");
    let o = |v: Option<f64>| v.map_or_else(String::new, |x| x.to_string());
    for q in c.queues.iter().chain(&c.topics) {
        for f in &q.figures {
            let mut row = vec![
                q.name.clone(),
                f.metric.clone(),
                o(f.analytic),
                o(f.sim),
                o(f.sim_ci95),
                o(f.real),
                o(f.sim_vs_analytic),
                o(f.real_vs_analytic),
                o(f.real_vs_sim),
            ];
            if calibrated {
                row.push(o(f.sim_calibrated.flatten()));
                row.push(o(f.sim_calibrated_ci95.flatten()));
            }
            if rabbit {
                row.push(o(f.rabbitmq.flatten()));
                row.push(o(f.rabbitmq_vs_analytic.flatten()));
                row.push(o(f.rabbitmq_vs_sim.flatten()));
                if calibrated {
                    row.push(o(f.rabbitmq_vs_sim_calibrated.flatten()));
                }
            }
            w.write_record(&row).expect("in-memory CSV");
        }
    }
    w.into_inner().expect("in-memory CSV")
}

/// The `size` CSV: one record per candidate count, every prefetch setting in turn.
pub fn size(r: &SizeReport) -> Vec<u8> {
    let candidates: Vec<_> = r.settings().into_iter().flat_map(|p| p.candidates).collect();
    records(&candidates)
}

/// The `sweep` CSV: `cell`, one column per `--set` path, then one record per queue of each
/// cell. `mqsim merge` relies on the first column being the cell index.
pub fn sweep(specs: &[SetSpec], cells: &[Cell]) -> Vec<u8> {
    let mut w = csv::Writer::from_writer(Vec::new());
    w.write_record(sweep_header(specs)).expect("in-memory CSV");
    for c in cells {
        for r in sweep_records(c) {
            w.write_record(r).expect("in-memory CSV");
        }
    }
    w.into_inner().expect("in-memory CSV")
}

/// CSV header of sweep results: `cell`, one column per path, then the per-queue figures.
pub(crate) fn sweep_header(specs: &[SetSpec]) -> Vec<String> {
    let mut h = vec!["cell".to_string()];
    h.extend(specs.iter().map(|s| s.path.clone()));
    h.extend(
        [
            "queue",
            "consumers",
            "offered_rate",
            "throughput",
            "loss_probability",
            "utilization",
            "queue_length",
            "wait_mean_s",
            "wait_p50_s",
            "wait_p99_s",
            "sojourn_mean_s",
            "sojourn_p50_s",
            "sojourn_p99_s",
            "sojourn_ci95_s",
        ]
        .map(str::to_string),
    );
    h
}

/// One CSV record per queue of a cell.
fn sweep_records(cell: &Cell) -> Vec<Vec<String>> {
    let o = |v: Option<f64>| v.map_or_else(String::new, |x| x.to_string());
    cell.report
        .queues
        .iter()
        .map(|q| {
            let mut r = vec![cell.index.to_string()];
            r.extend(cell.values.iter().map(value_text));
            r.extend([
                q.name.clone(),
                q.consumers.to_string(),
                q.offered_rate.mean.to_string(),
                q.throughput.mean.to_string(),
                q.loss_probability.mean.to_string(),
                q.utilization.mean.to_string(),
                q.queue_length.mean.to_string(),
                o(q.wait_s.mean),
                o(q.wait_s.p50),
                o(q.wait_s.p99),
                o(q.sojourn_s.mean),
                o(q.sojourn_s.p50),
                o(q.sojourn_s.p99),
                o(q.sojourn_s.ci95),
            ]);
            r
        })
        .collect()
}
