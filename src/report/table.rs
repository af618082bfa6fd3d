//! Plain-text tables for the terminal: aligned columns, numbers right-aligned, and the
//! human formatting of figures (durations with units, mean ± CI).

use crate::dist::fmt_secs;
use crate::results::{AnalyticReport, Latency, QueueAnalysis, RunReport};
use crate::stats::MeanCi;
use std::fmt::Write;

/// A table of text cells; the first column is left-aligned, the others right-aligned.
#[derive(Debug, Default)]
pub struct Table {
    header: Vec<String>,
    rows: Vec<Vec<String>>,
}

impl Table {
    /// A table with these column titles.
    pub fn new<S: ToString>(header: &[S]) -> Self {
        Table { header: header.iter().map(ToString::to_string).collect(), rows: Vec::new() }
    }

    /// Appends a row (missing cells are blank).
    pub fn row(&mut self, cells: Vec<String>) {
        self.rows.push(cells);
    }

    /// Renders with two spaces between columns.
    pub fn render(&self) -> String {
        let n = self.header.len();
        let mut width = vec![0; n];
        for r in std::iter::once(&self.header).chain(&self.rows) {
            for (i, c) in r.iter().enumerate().take(n) {
                width[i] = width[i].max(c.chars().count());
            }
        }
        let mut out = String::new();
        for (ri, r) in std::iter::once(&self.header).chain(&self.rows).enumerate() {
            let mut line = String::new();
            for (i, w) in width.iter().enumerate() {
                let c = r.get(i).map_or("", String::as_str);
                if i == 0 {
                    let _ = write!(line, "{c:<w$}");
                } else {
                    let _ = write!(line, "  {c:>w$}");
                }
            }
            out.push_str(line.trim_end());
            out.push('\n');
            if ri == 0 {
                let total = width.iter().sum::<usize>() + 2 * (n.saturating_sub(1));
                out.push_str(&"-".repeat(total));
                out.push('\n');
            }
        }
        out
    }
}

/// A duration, or `-` when there is none.
pub fn secs(v: Option<f64>) -> String {
    v.map_or_else(|| "-".to_string(), fmt_secs)
}

/// A duration with its CI half-width: `37.4ms ±1.2ms`.
pub fn secs_ci(mean: Option<f64>, ci: Option<f64>) -> String {
    match (mean, ci) {
        (Some(m), Some(c)) => format!("{} ±{}", fmt_secs(m), fmt_secs(c)),
        (Some(m), None) => fmt_secs(m),
        _ => "-".into(),
    }
}

/// A number with `digits` decimals and its CI half-width.
pub fn num_ci(v: &MeanCi, digits: usize) -> String {
    match v.ci95 {
        Some(c) => format!("{:.digits$} ±{:.digits$}", v.mean, c),
        None => format!("{:.digits$}", v.mean),
    }
}

fn latency_cells(l: &Latency) -> [String; 3] {
    [secs_ci(l.mean, l.ci95), secs(l.p50), secs(l.p99)]
}

/// The terminal view of a `run` or `loadtest` report.
pub fn render_run(r: &RunReport) -> String {
    let mut out = String::new();
    let what = if r.backend == "real" { "real broker (loadtest)" } else { "simulation" };
    let _ = writeln!(
        out,
        "{} — {what}: {} replication{} × {} (warm-up {}), seed {}{}\n",
        r.scenario,
        r.replications,
        if r.replications == 1 { "" } else { "s" },
        fmt_secs(r.horizon_s),
        fmt_secs(r.warmup_s),
        r.seed,
        r.time_scale.map_or(String::new(), |t| format!(", time scale {t}")),
    );
    let mut t = Table::new(&[
        "queue",
        "consumers",
        "offered/s",
        "throughput/s",
        "loss",
        "utilization",
        "Lq",
        "Wq mean",
        "Wq p50",
        "Wq p99",
        "W mean",
        "W p50",
        "W p99",
    ]);
    for q in &r.queues {
        let [wm, w50, w99] = latency_cells(&q.wait_s);
        let [sm, s50, s99] = latency_cells(&q.sojourn_s);
        t.row(vec![
            q.name.clone(),
            q.consumers.to_string(),
            num_ci(&q.offered_rate, 2),
            num_ci(&q.throughput, 2),
            num_ci(&q.loss_probability, 4),
            num_ci(&q.utilization, 3),
            format!("{:.3}", q.queue_length.mean),
            wm,
            w50,
            w99,
            sm,
            s50,
            s99,
        ]);
    }
    out.push_str(&t.render());
    out.push_str("\nWq = wait until service starts (prefetch buffers included), W = sojourn until service ends; ± is the 95% CI over replications.\n");

    let mut c = Table::new(&[
        "queue",
        "offered",
        "delivered",
        "acked",
        "dropped",
        "in flight at end",
        "balanced",
    ]);
    for q in &r.queues {
        let k = &q.counts;
        c.row(vec![
            q.name.clone(),
            k.offered.to_string(),
            k.delivered.to_string(),
            k.acked.to_string(),
            k.dropped.to_string(),
            k.in_flight_at_end.to_string(),
            if k.balanced() { "yes".into() } else { "NO".into() },
        ]);
    }
    out.push_str("\nMessage counts (all replications, warm-up included):\n");
    out.push_str(&c.render());

    let mut p = Table::new(&["producer", "published", "unroutable"]);
    for pr in &r.producers {
        p.row(vec![pr.name.clone(), pr.published.to_string(), pr.unroutable.to_string()]);
    }
    out.push('\n');
    out.push_str(&p.render());

    if !r.end_to_end_s.is_empty() {
        let mut e = Table::new(&["end to end", "mean", "p50", "p90", "p99", "max", "completed"]);
        for x in &r.end_to_end_s {
            e.row(vec![
                x.producer.clone(),
                secs_ci(x.latency.mean, x.latency.ci95),
                secs(x.latency.p50),
                secs(x.latency.p90),
                secs(x.latency.p99),
                secs(x.latency.max),
                x.completed.to_string(),
            ]);
        }
        out.push('\n');
        out.push_str(&e.render());
    }
    if let Some(tm) = &r.timing {
        let _ = writeln!(
            out,
            "\nTiming: service error {:+.2}%, mean publish lateness {}, late publishes {}",
            tm.service_error_mean * 100.0,
            fmt_secs(tm.arrival_error_mean),
            tm.late_publishes
        );
    }
    out
}

fn num(x: Option<f64>, digits: usize) -> String {
    x.map_or_else(|| "-".to_string(), |v| format!("{v:.digits$}"))
}

fn analytic_row(q: &QueueAnalysis) -> Vec<String> {
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

/// The terminal view of an [`AnalyticReport`]: one row per queue (model, exact, ρ, stable,
/// throughput/s, loss, Wq mean, p50 and p99, W mean and p99, Lq), then every queue's notes,
/// then end-to-end means.
pub fn render_analytic(report: &AnalyticReport) -> String {
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
        t.row(analytic_row(q));
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
