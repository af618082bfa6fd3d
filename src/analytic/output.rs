//! Writers of the [`AnalyticReport`]: a human table and tidy CSV rows (the JSON writer is
//! [`AnalyticReport::to_json`]). They reuse the report module's table and CSV shapes, so
//! analytic rows line up with simulated and real ones.

use super::{AnalyticReport, QueueAnalysis};
use crate::report::csv::TidyRow;
use crate::report::table::{Table, secs};
use std::fmt::Write;

fn num(x: Option<f64>, digits: usize) -> String {
    x.map_or_else(|| "-".to_string(), |v| format!("{v:.digits$}"))
}

fn row(q: &QueueAnalysis) -> Vec<String> {
    vec![
        q.name.clone(),
        q.model.clone().unwrap_or_else(|| "-".into()),
        if q.exact { "yes" } else { "no" }.into(),
        num(q.rho, 3),
        if q.stable { "yes" } else { "NO" }.into(),
        num(q.throughput, 3),
        q.loss_probability.map_or_else(|| "-".into(), |l| format!("{l:.4}")),
        secs(q.wait_s.mean),
        secs(q.wait_s.p50),
        secs(q.wait_s.p99),
        secs(q.sojourn_s.mean),
        secs(q.sojourn_s.p99),
        num(q.queue_length.mean, 3),
    ]
}

/// A human-readable table: one row per queue (model, exact, ρ, stable, throughput/s, loss,
/// Wq mean, p50 and p99, W mean and p99, Lq), then every queue's notes, then end-to-end means.
pub fn render_table(report: &AnalyticReport) -> String {
    let mut t = Table::new(&[
        "queue",
        "model",
        "exact",
        "rho",
        "stable",
        "throughput/s",
        "loss",
        "Wq mean",
        "Wq p50",
        "Wq p99",
        "W mean",
        "W p99",
        "Lq",
    ]);
    for q in &report.queues {
        t.row(row(q));
    }
    let mut out = format!("{} — analytic (queueing theory)\n\n{}", report.scenario, t.render());
    if report.queues.iter().any(|q| !q.notes.is_empty()) {
        out += "\nnotes:\n";
        for q in &report.queues {
            for n in &q.notes {
                let _ = writeln!(out, "  [{}] {n}", q.name);
            }
        }
    }
    if !report.end_to_end_s.is_empty() {
        out += "\nend to end (mean, sum of stage sojourns):\n";
        for e in &report.end_to_end_s {
            let _ = writeln!(
                out,
                "  {}: {} = {}{}",
                e.producer,
                e.path.join(" → "),
                secs(e.mean),
                if e.exact { "" } else { " (approximate)" }
            );
        }
    }
    out
}

/// Tidy rows (`backend,entity,name,metric,stat,value`), the same shape as `run`'s: latency
/// metrics by statistic, rates and probabilities as `mean`, model facts as `value`
/// (booleans 1/0); a null figure has an empty value.
pub fn csv_rows(report: &AnalyticReport) -> Vec<TidyRow<'_>> {
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
            for (stat, value) in [
                ("mean", l.mean),
                ("p50", l.p50),
                ("p90", l.p90),
                ("p95", l.p95),
                ("p99", l.p99),
                ("p999", l.p999),
            ] {
                rows.push(row(metric, stat, value));
            }
        }
    }
    rows
}
