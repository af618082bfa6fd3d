//! Tidy CSV: one row per queue (or producer) × metric × statistic, the shape notebooks and
//! spreadsheets pivot easily.

use crate::results::{AnalyticReport, Latency, RunReport};
use crate::stats::MeanCi;

/// One tidy row.
#[derive(Debug, serde::Serialize)]
pub struct TidyRow<'a> {
    /// `sim`, `real` or `analytic`.
    pub backend: &'a str,
    /// `queue` or `producer`.
    pub entity: &'a str,
    /// Its name.
    pub name: &'a str,
    /// Metric name as in the JSON (`wait_s`, `throughput`, …).
    pub metric: &'a str,
    /// `mean`, `ci95`, `p99`, …
    pub stat: &'a str,
    /// The value (empty when unknown).
    pub value: Option<f64>,
}

fn push_mean_ci<'a>(
    rows: &mut Vec<TidyRow<'a>>,
    base: (&'a str, &'a str, &'a str),
    metric: &'a str,
    v: &MeanCi,
) {
    let (backend, entity, name) = base;
    rows.push(TidyRow { backend, entity, name, metric, stat: "mean", value: Some(v.mean) });
    rows.push(TidyRow { backend, entity, name, metric, stat: "ci95", value: v.ci95 });
}

fn push_latency<'a>(
    rows: &mut Vec<TidyRow<'a>>,
    base: (&'a str, &'a str, &'a str),
    metric: &'a str,
    l: &Latency,
) {
    let (backend, entity, name) = base;
    for (stat, value) in [
        ("mean", l.mean),
        ("ci95", l.ci95),
        ("p50", l.p50),
        ("p90", l.p90),
        ("p95", l.p95),
        ("p99", l.p99),
        ("p999", l.p999),
        ("max", l.max),
    ] {
        rows.push(TidyRow { backend, entity, name, metric, stat, value });
    }
}

/// The tidy rows of a run or loadtest report.
pub fn run_rows(r: &RunReport) -> Vec<TidyRow<'_>> {
    let mut rows = Vec::new();
    let b = r.backend.as_str();
    for q in &r.queues {
        let base = (b, "queue", q.name.as_str());
        push_mean_ci(&mut rows, base, "offered_rate", &q.offered_rate);
        push_mean_ci(&mut rows, base, "throughput", &q.throughput);
        push_mean_ci(&mut rows, base, "loss_probability", &q.loss_probability);
        push_mean_ci(&mut rows, base, "utilization", &q.utilization);
        push_latency(&mut rows, base, "wait_s", &q.wait_s);
        push_latency(&mut rows, base, "sojourn_s", &q.sojourn_s);
        rows.push(TidyRow {
            backend: b,
            entity: "queue",
            name: &q.name,
            metric: "queue_length",
            stat: "mean",
            value: Some(q.queue_length.mean),
        });
        rows.push(TidyRow {
            backend: b,
            entity: "queue",
            name: &q.name,
            metric: "queue_length",
            stat: "ci95",
            value: q.queue_length.ci95,
        });
        rows.push(TidyRow {
            backend: b,
            entity: "queue",
            name: &q.name,
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
                name: &q.name,
                metric: "counts",
                stat,
                value: Some(v as f64),
            });
        }
    }
    for e in &r.end_to_end_s {
        push_latency(&mut rows, (b, "producer", e.producer.as_str()), "end_to_end_s", &e.latency);
    }
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
            name: q.name.as_str(),
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
