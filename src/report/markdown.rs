//! `report.md`: a page a person can read on the repository site — the run's tables, the
//! simulation beside theory with the relative error and whether theory lies in the 95%
//! interval, and the charts embedded.

use super::table::{num_ci, secs, secs_ci};
use super::{RunReport, table};
use crate::analytic::AnalyticReport;
use crate::dist::fmt_secs;
use crate::stats::MeanCi;
use std::fmt::Write;

/// One row of a theory-vs-measurement comparison.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Comparison {
    /// Queue.
    pub queue: String,
    /// Metric, e.g. `wait_s.mean`.
    pub metric: String,
    /// Theory's value (`None` where no model gives it).
    pub theory: Option<f64>,
    /// Measured mean.
    pub measured: Option<f64>,
    /// Measured 95% half-width, where one exists.
    pub ci95: Option<f64>,
    /// (measured − theory) ÷ theory.
    pub rel_error: Option<f64>,
    /// Does theory lie in the 95% interval?
    pub in_ci: Option<bool>,
    /// Is the theory exact for this queue?
    pub exact: bool,
}

fn cmp(
    queue: &str,
    metric: &str,
    theory: Option<f64>,
    measured: Option<f64>,
    ci95: Option<f64>,
    exact: bool,
) -> Comparison {
    let rel_error = match (theory, measured) {
        (Some(t), Some(m)) if t.abs() > 1e-12 => Some((m - t) / t),
        (Some(t), Some(m)) if t.abs() <= 1e-12 => {
            Some(if m.abs() <= 1e-12 { 0.0 } else { f64::INFINITY })
        }
        _ => None,
    };
    let in_ci = match (theory, measured, ci95) {
        (Some(t), Some(m), Some(h)) => Some((m - t).abs() <= h.max(1e-12)),
        _ => None,
    };
    Comparison {
        queue: queue.into(),
        metric: metric.into(),
        theory,
        measured,
        ci95,
        rel_error,
        in_ci,
        exact,
    }
}

/// Theory beside a run or loadtest report, queue by queue, for the figures both give.
pub fn compare(measured: &RunReport, theory: &AnalyticReport) -> Vec<Comparison> {
    let mut rows = Vec::new();
    for q in &measured.queues {
        let Some(a) = theory.queue(&q.name) else { continue };
        if !a.stable {
            continue;
        }
        let mc = |v: &MeanCi| (Some(v.mean), v.ci95);
        let n = q.name.as_str();
        let e = a.exact;
        let (m, h) = mc(&q.throughput);
        rows.push(cmp(n, "throughput", a.throughput, m, h, e));
        let (m, h) = mc(&q.loss_probability);
        rows.push(cmp(n, "loss_probability", a.loss_probability, m, h, e));
        let (m, h) = mc(&q.utilization);
        rows.push(cmp(n, "utilization", a.utilization, m, h, e));
        rows.push(cmp(
            n,
            "queue_length.mean",
            a.queue_length.mean,
            Some(q.queue_length.mean),
            q.queue_length.ci95,
            e,
        ));
        rows.push(cmp(n, "wait_s.mean", a.wait_s.mean, q.wait_s.mean, q.wait_s.ci95, e));
        rows.push(cmp(n, "wait_s.p99", a.wait_s.p99, q.wait_s.p99, None, e));
        rows.push(cmp(
            n,
            "sojourn_s.mean",
            a.sojourn_s.mean,
            q.sojourn_s.mean,
            q.sojourn_s.ci95,
            e,
        ));
        rows.push(cmp(n, "sojourn_s.p99", a.sojourn_s.p99, q.sojourn_s.p99, None, e));
    }
    rows
}

fn fmt_value(metric: &str, v: Option<f64>) -> String {
    match v {
        None => "-".into(),
        Some(x) if metric.contains("_s.") => fmt_secs(x),
        Some(x) => format!("{x:.4}"),
    }
}

/// Markdown rows of a comparison table.
pub fn comparison_table(rows: &[Comparison]) -> String {
    let mut out = String::from(
        "| queue | metric | theory | exact | measured | ±95% | rel. error | theory in CI |\n|---|---|---:|:-:|---:|---:|---:|:-:|\n",
    );
    for r in rows {
        let _ = writeln!(
            out,
            "| {} | {} | {} | {} | {} | {} | {} | {} |",
            r.queue,
            r.metric,
            fmt_value(&r.metric, r.theory),
            if r.exact { "yes" } else { "no" },
            fmt_value(&r.metric, r.measured),
            fmt_value(&r.metric, r.ci95),
            r.rel_error.map_or("-".into(), |e| if e.is_finite() {
                format!("{:+.2}%", e * 100.0)
            } else {
                "∞".into()
            }),
            r.in_ci.map_or("-", |b| if b { "yes" } else { "no" }),
        );
    }
    out
}

/// The report page of a run: `figures` are (file name, caption) pairs next to report.md.
pub fn run_markdown(
    r: &RunReport,
    theory: Option<&AnalyticReport>,
    figures: &[(String, String)],
) -> String {
    let mut out = String::new();
    let backend = if r.backend == "real" { "real broker (loadtest)" } else { "simulation" };
    let _ = writeln!(out, "# {} — {backend}\n", r.scenario);
    let _ = writeln!(
        out,
        "{} replication(s) of {} scenario time (first {} discarded), seed {}.\n",
        r.replications,
        fmt_secs(r.horizon_s),
        fmt_secs(r.warmup_s),
        r.seed
    );
    out.push_str("## Results\n\n| queue | consumers | offered/s | throughput/s | loss | utilization | Lq | Wq mean | Wq p99 | W mean | W p99 |\n|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|\n");
    for q in &r.queues {
        let _ = writeln!(
            out,
            "| {} | {} | {} | {} | {} | {} | {:.3} | {} | {} | {} | {} |",
            q.name,
            q.consumers,
            num_ci(&q.offered_rate, 2),
            num_ci(&q.throughput, 2),
            num_ci(&q.loss_probability, 4),
            num_ci(&q.utilization, 3),
            q.queue_length.mean,
            secs_ci(q.wait_s.mean, q.wait_s.ci95),
            secs(q.wait_s.p99),
            secs_ci(q.sojourn_s.mean, q.sojourn_s.ci95),
            secs(q.sojourn_s.p99),
        );
    }
    out.push_str("\nWq: wait until service starts (time in a consumer's prefetch buffer included); W: sojourn until service ends. ± is the half-width of the 95% Student-t interval over replications; percentiles pool all post-warm-up messages.\n");
    if let Some(t) = theory {
        let rows = compare(r, t);
        if !rows.is_empty() {
            out.push_str("\n## Against queueing theory\n\n");
            out.push_str(&comparison_table(&rows));
            out.push_str("\nPercentiles have no interval here (they pool all replications); the charts show their per-replication 95% band. Notes on the models:\n\n");
            for q in &t.queues {
                for n in &q.notes {
                    let _ = writeln!(
                        out,
                        "- `{}` ({}): {n}",
                        q.name,
                        q.model.as_deref().unwrap_or("no model")
                    );
                }
            }
        }
    }
    if !figures.is_empty() {
        out.push_str("\n## Charts\n\n");
        for (file, caption) in figures {
            let _ = writeln!(out, "{caption}\n\n![{caption}]({file})\n");
        }
    }
    out.push_str("\n## Full table\n\n```text\n");
    out.push_str(&table::render_run(r));
    out.push_str("```\n");
    out
}
