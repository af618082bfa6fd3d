//! Tidy CSV: one row per queue (or producer) × metric × statistic, the shape notebooks and
//! spreadsheets pivot easily.

use super::{Latency, RunReport};
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

/// Serialises tidy rows as CSV bytes with a header.
pub fn to_csv(rows: &[TidyRow<'_>]) -> Vec<u8> {
    let mut w = csv::Writer::from_writer(Vec::new());
    for r in rows {
        w.serialize(r).expect("in-memory CSV cannot fail");
    }
    w.into_inner().expect("in-memory CSV cannot fail")
}
