//! Writers of the [`AnalyticReport`]: a human table and a tidy CSV (the JSON writer is
//! [`AnalyticReport::to_json`]). They return strings; only the CLI prints or writes files.

use super::{AnalyticReport, QueueAnalysis};
use crate::dist::fmt_secs;

fn secs(x: Option<f64>) -> String {
    x.map_or_else(|| "-".to_string(), fmt_secs)
}

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
        q.loss_probability.map_or_else(|| "-".into(), |l| format!("{:.3}%", l * 100.0)),
        secs(q.wait_s.mean),
        secs(q.wait_s.p99),
        secs(q.sojourn_s.mean),
        secs(q.sojourn_s.p99),
        num(q.queue_length.mean, 3),
    ]
}

/// A human-readable table: one row per queue (model, exact, ρ, stable, throughput/s, loss,
/// Wq mean and p99, W mean and p99, Lq), then every queue's notes, then end-to-end means.
pub fn render_table(report: &AnalyticReport) -> String {
    let header: Vec<String> = [
        "queue", "model", "exact", "ρ", "stable", "thrpt/s", "loss", "Wq mean", "Wq p99", "W mean",
        "W p99", "Lq",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    let rows: Vec<Vec<String>> = report.queues.iter().map(row).collect();
    let width = |i: usize| {
        std::iter::once(&header).chain(rows.iter()).map(|r| r[i].chars().count()).max().unwrap_or(0)
    };
    let widths: Vec<usize> = (0..header.len()).map(width).collect();
    let line = |r: &[String]| {
        let cells: Vec<String> = r
            .iter()
            .enumerate()
            .map(|(i, cell)| {
                let pad = widths[i] - cell.chars().count();
                // Names and labels left-aligned, numbers right-aligned.
                if i < 3 {
                    format!("{cell}{}", " ".repeat(pad))
                } else {
                    format!("{}{cell}", " ".repeat(pad))
                }
            })
            .collect();
        cells.join("  ").trim_end().to_string() + "\n"
    };
    let mut out = format!("scenario {} — analytic back end\n\n", report.scenario);
    out += &line(&header);
    let rule: Vec<String> = widths.iter().map(|w| "-".repeat(*w)).collect();
    out += &line(&rule);
    for r in &rows {
        out += &line(r);
    }
    let any_notes = report.queues.iter().any(|q| !q.notes.is_empty());
    if any_notes {
        out += "\nnotes:\n";
        for q in &report.queues {
            for n in &q.notes {
                out += &format!("  [{}] {n}\n", q.name);
            }
        }
    }
    if !report.end_to_end_s.is_empty() {
        out += "\nend to end (mean, sum of stage sojourns):\n";
        for e in &report.end_to_end_s {
            out += &format!(
                "  {}: {} = {}{}\n",
                e.producer,
                e.path.join(" → "),
                secs(e.mean),
                if e.exact { "" } else { " (approximate)" }
            );
        }
    }
    out
}

/// Tidy CSV: header `queue,metric,value,backend`, one row per queue × metric, metrics named
/// as the JSON paths (`wait_s.p99`); a null figure is an empty value; booleans are 1/0.
pub fn to_csv(report: &AnalyticReport) -> String {
    let mut w = csv::Writer::from_writer(Vec::new());
    // Writing to a Vec cannot fail with an I/O error; record-shape errors cannot happen
    // since every record has four fields. Errors are therefore ignored.
    let _ = w.write_record(["queue", "metric", "value", "backend"]);
    for q in &report.queues {
        let b = |v: bool| Some(if v { 1.0 } else { 0.0 });
        let metrics: [(&str, Option<f64>); 27] = [
            ("exact", b(q.exact)),
            ("stable", b(q.stable)),
            ("offered_rate", q.offered_rate),
            ("arrival_scv", q.arrival_scv),
            ("consumers", Some(f64::from(q.consumers))),
            ("service_mean_s", q.service_mean_s),
            ("service_scv", q.service_scv),
            ("offered_load_erlangs", q.offered_load_erlangs),
            ("rho", q.rho),
            ("utilization", q.utilization),
            ("throughput", q.throughput),
            ("loss_probability", q.loss_probability),
            ("wait_s.mean", q.wait_s.mean),
            ("wait_s.p50", q.wait_s.p50),
            ("wait_s.p90", q.wait_s.p90),
            ("wait_s.p95", q.wait_s.p95),
            ("wait_s.p99", q.wait_s.p99),
            ("wait_s.p999", q.wait_s.p999),
            ("sojourn_s.mean", q.sojourn_s.mean),
            ("sojourn_s.p50", q.sojourn_s.p50),
            ("sojourn_s.p90", q.sojourn_s.p90),
            ("sojourn_s.p95", q.sojourn_s.p95),
            ("sojourn_s.p99", q.sojourn_s.p99),
            ("sojourn_s.p999", q.sojourn_s.p999),
            ("queue_length.mean", q.queue_length.mean),
            ("waiting.mean", q.waiting.mean),
            ("in_system.mean", q.in_system.mean),
        ];
        for (metric, value) in metrics {
            let v = value.map_or_else(String::new, |x| x.to_string());
            let _ = w.write_record([q.name.as_str(), metric, v.as_str(), report.backend.as_str()]);
        }
    }
    let bytes = w.into_inner().unwrap_or_default();
    String::from_utf8(bytes).unwrap_or_default()
}
