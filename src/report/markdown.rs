//! `report.md`: a page a person can read on the repository site — the run's tables, the
//! simulation beside theory with the relative error and whether theory lies in the 95%
//! interval, and the charts embedded.

use super::compare::{Comparison3, compare};
use super::table;
use super::table::{num_ci, secs, secs_ci};
use crate::dist::fmt_secs;
use crate::results::{AnalyticReport, RunReport};
use std::fmt::Write;

fn fmt_value(metric: &str, v: Option<f64>) -> String {
    match v {
        None => "-".into(),
        Some(x) if metric.contains("_s.") => fmt_secs(x),
        Some(x) => format!("{x:.4}"),
    }
}

/// Markdown table of theory against one measurement (the simulation), from the same
/// comparison `mqsim compare` prints: relative error and whether theory lies in the 95%
/// interval where the measurement has one.
pub fn theory_table(c: &Comparison3) -> String {
    let mut out = String::from(
        "| queue | metric | theory | exact | measured | ±95% | rel. error | theory in CI |\n|---|---|---:|:-:|---:|---:|---:|:-:|\n",
    );
    for q in &c.queues {
        for f in q.figures.iter().filter(|f| f.analytic.is_some()) {
            let in_ci = match (f.analytic, f.sim, f.sim_ci95) {
                (Some(t), Some(m), Some(h)) => Some((m - t).abs() <= h.max(1e-12)),
                _ => None,
            };
            let _ = writeln!(
                out,
                "| {} | {} | {} | {} | {} | {} | {} | {} |",
                q.name,
                f.metric,
                fmt_value(&f.metric, f.analytic),
                if q.exact { "yes" } else { "no" },
                fmt_value(&f.metric, f.sim),
                fmt_value(&f.metric, f.sim_ci95),
                f.sim_vs_analytic.map_or("-".into(), |e| format!("{:+.2}%", e * 100.0)),
                in_ci.map_or("-", |b| if b { "yes" } else { "no" }),
            );
        }
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
        let c = compare(t, r, None);
        if c.queues.iter().any(|q| q.figures.iter().any(|f| f.analytic.is_some())) {
            out.push_str("\n## Against queueing theory\n\n");
            out.push_str(&theory_table(&c));
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
