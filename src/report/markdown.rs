//! `report.md`: a page a person can read on the repository site, for every command that
//! writes one — a run's tables, the simulation beside theory with the relative error and
//! whether theory lies in the 95% interval, a comparison, an analysis, a sizing, a sweep,
//! a validation — with the charts embedded. `figures` arguments are the (file name,
//! caption) pairs of charts written next to report.md.

use super::charts::{fmt_duration, trim_num};
use super::compare::{Comparison3, compare};
use super::headline;
use super::table::{
    self, validation_rel, validation_summary, validation_value, validation_verdict,
};
use crate::dist::fmt_secs;
use crate::results::{AnalyticReport, RunReport};
use crate::size::SizeReport;
use crate::sweep::{Cell, SetSpec};
use crate::validate::{
    Summary, TUTORIAL_CONSUMERS, TUTORIAL_RATE, TUTORIAL_SATURATION_RATE, TUTORIAL_SERVICE_S,
    Validation,
};
use std::fmt::Write;

fn fmt_value(metric: &str, v: Option<f64>) -> String {
    match v {
        None => "-".into(),
        Some(x) if metric.contains("_s.") => fmt_duration(x),
        Some(x) if metric == "utilization" || metric.ends_with("probability") => headline::pct(x),
        Some(x) => trim_num(x, 4),
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
                f.sim_vs_analytic.map_or("-".into(), headline::rel_error_text),
                in_ci.map_or("-", |b| if b { "yes" } else { "no" }),
            );
        }
    }
    out
}

/// The report page of a run (`run`, `loadtest`).
pub fn run_markdown(
    r: &RunReport,
    theory: Option<&AnalyticReport>,
    figures: &[(String, String)],
) -> String {
    run_page("#", r, theory, figures)
}

/// A run's page under a title that starts with `heading` (`#`, or a sub-heading when the
/// run is part of a larger page).
fn run_page(
    heading: &str,
    r: &RunReport,
    theory: Option<&AnalyticReport>,
    figures: &[(String, String)],
) -> String {
    let mut out = String::new();
    let backend = if r.backend == "real" { "real broker (loadtest)" } else { "simulation" };
    let _ = writeln!(out, "{heading} {} — {backend}\n", r.scenario);
    if let Some(note) = super::table::partial_note(r) {
        let _ = writeln!(out, "**{note}**\n");
    }
    let _ = writeln!(out, "{}\n", headline::run_headline(r, theory));
    let _ = writeln!(
        out,
        "{} replication(s) of {} scenario time (first {} discarded), seed {}.\n",
        r.replications,
        fmt_secs(r.horizon_s),
        fmt_secs(r.warmup_s),
        r.seed
    );
    let queues = !r.queues.is_empty() || r.topics.is_empty();
    if queues {
        out.push_str("## Results\n\n| queue | consumers | offered/s | throughput/s | loss | utilization | Lq | Wq mean | Wq p50 | Wq p99 | W mean | W p99 |\n|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|\n");
    }
    for q in &r.queues {
        let _ = writeln!(
            out,
            "| {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} |",
            q.name,
            q.consumers,
            headline::num_pm(&q.offered_rate),
            headline::num_pm(&q.throughput),
            headline::pct_pm(&q.loss_probability),
            headline::pct_pm(&q.utilization),
            trim_num(q.queue_length.mean, 3),
            headline::secs_pm(q.wait_s.mean, q.wait_s.ci95),
            headline::dur(q.wait_s.p50),
            headline::dur(q.wait_s.p99),
            headline::secs_pm(q.sojourn_s.mean, q.sojourn_s.ci95),
            headline::dur(q.sojourn_s.p99),
        );
    }
    if queues {
        out.push_str("\nWq: wait until service starts (time in a consumer's prefetch buffer included); W: sojourn until service ends. ± is the half-width of the 95% Student-t interval over replications; percentiles pool all post-warm-up messages.\n");
    }
    if let Some(t) = theory {
        let c = compare(t, r, None);
        if c.queues.iter().any(|q| q.figures.iter().any(|f| f.analytic.is_some())) {
            out.push_str("\n## Against queueing theory\n\n");
            let varying: Vec<String> = t
                .queues
                .iter()
                .filter(|q| q.time_varying_arrivals)
                .map(|q| format!("`{}`", q.name))
                .collect();
            if !varying.is_empty() {
                let _ = writeln!(
                    out,
                    "The load on {} changes over time: theory here is the stationary model at the long-run mean rate, so its throughput and utilization are the run's averages but its waits describe no instant of the run (the timeline below has the per-window figures).\n",
                    varying.join(", ")
                );
            }
            out.push_str(&theory_table(&c));
            out.push_str("\nPercentiles pool all replications; their 95% interval is the band in the charts (batch means over replications, centred on the pooled line). Notes on the models:\n\n");
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
    out.push_str(&super::topic::markdown(r, theory));
    if let Some(t) = &r.timeline {
        out.push_str("\n## Timeline\n\n```text\n");
        out.push_str(&table::render_timeline(t));
        out.push_str("```\n\nEvery window of every queue is in `timeline.csv` (tidy: one row per window × queue × metric × statistic) and in `report.json`.\n");
    }
    if let Some(reached) = r.precision_reached {
        let _ = writeln!(
            out,
            "\nPrecision: {} after {} replications (asked: every queue's mean sojourn within ±{}% at 95%).",
            if reached { "reached" } else { "**not reached** (max_replications hit)" },
            r.replications,
            r.precision.unwrap_or(0.0) * 100.0
        );
    }
    if !figures.is_empty() {
        out.push_str("\n## Charts\n\n");
        for (file, caption) in figures {
            let _ = writeln!(out, "{caption}\n\n![{caption}]({file})\n");
        }
    }
    // The terminal table's queue figures, topics and timeline are above already; its
    // message counts, producers and end-to-end latencies are not.
    if !r.queues.is_empty() {
        out.push_str("\n## Message counts, producers, end to end\n\n```text\n");
        out.push_str(table::render_counts(r).trim_start());
        out.push_str("```\n");
    }
    out
}

/// The page of `compare`: the comparison table, then the simulation's page as a section.
pub fn compare_markdown(
    c: &Comparison3,
    sim: &RunReport,
    theory: &AnalyticReport,
    figures: &[(String, String)],
) -> String {
    let mut md = format!(
        "# {} — theory vs simulation vs real broker\n\n{}\n\n```text\n{}```\n",
        c.scenario,
        compare_headline(c),
        table::render_comparison(c)
    );
    md.push_str(&run_page("## Simulation:", sim, Some(theory), figures));
    md
}

/// The bold line of a comparison: per queue, p99 wait of theory, simulation and the real
/// broker.
pub fn compare_headline(c: &Comparison3) -> String {
    // A queue none of the back ends measured a wait on (a delay queue, a parking lot)
    // has nothing to say in the headline; its row stays in the tables.
    let measured = |q: &&super::compare::QueueComparison| {
        q.figures.iter().any(|f| {
            f.metric == "wait_s.p99"
                && (f.analytic.is_some() || f.sim.is_some() || f.real.is_some())
        })
    };
    let parts: Vec<String> = c
        .queues
        .iter()
        .filter(measured)
        .map(|q| {
            let f = q.figures.iter().find(|f| f.metric == "wait_s.p99");
            let get = |v: Option<f64>| v.map_or("-".to_string(), fmt_duration);
            match f {
                Some(f) => format!(
                    "`{}` p99 wait: theory {}{}, simulated {}, real broker {}{}{}",
                    q.name,
                    get(f.analytic),
                    if f.analytic.is_some() && !q.exact { " (not exact)" } else { "" },
                    get(f.sim),
                    get(f.real),
                    f.real_vs_sim
                        .map_or(String::new(), |e| format!(" ({:+.0}% vs simulated)", 100.0 * e)),
                    f.rabbitmq.map_or(String::new(), |r| format!(
                        ", RabbitMQ {}{}",
                        get(r),
                        f.rabbitmq_vs_sim.flatten().map_or(String::new(), |e| format!(
                            " ({:+.0}% vs simulated)",
                            100.0 * e
                        ))
                    ))
                ),
                None => format!("`{}`: no p99 wait measured", q.name),
            }
        })
        .chain(c.topics.iter().map(|g| {
            let f = g.figures.iter().find(|f| f.metric == "sojourn_s.mean");
            let get = |v: Option<f64>| v.map_or("-".to_string(), fmt_duration);
            match f {
                Some(f) => format!(
                    "`{}` mean sojourn: theory {}{}, simulated {}, real broker {}",
                    g.name,
                    get(f.analytic),
                    if f.analytic.is_some() && !g.exact { " (not exact)" } else { "" },
                    get(f.sim),
                    get(f.real),
                ),
                None => format!("`{}`: no sojourn measured", g.name),
            }
        }))
        .collect();
    format!("**{}**", parts.join("; "))
}

/// The page of `analyze`: the analysis table and theory's percentile charts.
pub fn analytic_markdown(report: &AnalyticReport, figures: &[(String, String)]) -> String {
    let parts: Vec<String> = report
        .queues
        .iter()
        .map(|q| {
            format!(
                "`{}` {}: p99 wait {}, utilization {}{}",
                q.name,
                q.model.as_deref().unwrap_or("no model"),
                q.wait_s.p99.map_or("-".into(), fmt_duration),
                q.utilization.map_or("-".into(), headline::pct),
                if q.time_varying_arrivals {
                    " at the long-run mean rate (the load varies: peaks are worse, see the per-window figures)"
                } else {
                    ""
                }
            )
        })
        .collect();
    let mut md = format!(
        "# {} — queueing theory\n\n**{}**\n\n```text\n{}```\n",
        report.scenario,
        parts.join("; "),
        table::render_analytic(report)
    );
    for (f, cap) in figures {
        let _ = write!(md, "\n{cap}\n\n![{cap}]({f})\n");
    }
    md
}

/// The page of `size`: the target, the sizing table and the sizing chart.
pub fn size_markdown(r: &SizeReport, figures: &[(String, String)]) -> String {
    let mut md = format!(
        "# Sizing `{}` in {}\n\n{}\n\nTarget: {}. Recommended = the smallest count whose simulated figure, at the upper end of its 95% interval, meets the target.\n",
        r.group,
        r.scenario,
        headline::size_headline(r),
        r.target,
    );
    for (f, cap) in figures {
        let _ = writeln!(md, "\n![{cap}]({f})");
    }
    let _ = write!(md, "\n```text\n{}```\n", table::render_size(r));
    md
}

/// The page of `sweep` over the scenario file `file`: the charts, then the table.
pub fn sweep_markdown(
    file: &str,
    specs: &[SetSpec],
    cells: &[Cell],
    figures: &[(String, String)],
) -> String {
    let mut md = format!(
        "# Sweep of {}\n\n**{} cells over {}**\n\n",
        file,
        cells.len(),
        specs.iter().map(|s| format!("`{}`", s.path)).collect::<Vec<_>>().join(", ")
    );
    for (f, cap) in figures {
        let _ = write!(md, "{cap}\n\n![{cap}]({f})\n\n");
    }
    let _ = write!(md, "```text\n{}```\n", table::render_sweep(specs, cells));
    md
}

/// The page of `validate`: how a comparison passes, the summary, the tutorial's formulas
/// and the whole matrix.
pub fn validation_markdown(v: &Validation, s: &Summary) -> String {
    let mut out = String::from("# Validation: simulation against queueing theory\n\n");
    let _ = writeln!(
        out,
        "**{} of {} exact comparisons pass{}**\n",
        s.exact_passed,
        s.exact_total,
        s.approximations
            .iter()
            .map(|(m, n, _, median)| format!(
                "; {m}: median error {} over {n}",
                headline::pct(*median)
            ))
            .collect::<String>()
    );
    out.push_str("Produced by `mqsim validate --out reports/validation`. Every cell is a queue the simulator runs with independent replications; the analytic back end predicts the same figures. A comparison **passes** when theory lies inside the simulation's 99.9% Student-t interval (a guard against the ~20 chance misses 95% intervals would give over ~400 comparisons); the 95% column is shown too. Approximate models (Allen–Cunneen, Kingman, the fluid drain time, PSA and MOL per window of a time-varying load) get their error reported, not a verdict.\n\n## Summary\n\n");
    out.push_str(&validation_summary(v, s).replace("\n  ", "\n- "));
    let _ = write!(
        out,
        "\n## The tutorial's formulas (§4.1–4.4)\n\nEvaluated on the `mmc-demo` system: W = {} msg/s, D = {} ms, G = {} consumers. §4.4's simulated figure is the throughput of the same group driven into saturation (offered {} msg/s into a bounded queue).\n\n",
        TUTORIAL_RATE,
        TUTORIAL_SERVICE_S * 1e3,
        TUTORIAL_CONSUMERS,
        TUTORIAL_SATURATION_RATE
    );
    out.push_str("| § | formula | value | unit | claimed | correct quantity | theory | simulated |\n|---|---|--:|---|---|---|--:|--:|\n");
    for r in &v.tutorial {
        let _ = writeln!(
            out,
            "| {} | `{}` | {:.4} | {} | {} | {} | {} | {:.4} |",
            r.section,
            r.formula,
            r.value,
            r.unit,
            r.claimed,
            r.correct_quantity,
            r.theory.map_or("-".into(), |x| format!("{x:.4}")),
            r.simulated
        );
    }
    out.push('\n');
    for r in &v.tutorial {
        let _ = writeln!(out, "- **{} `{}`** — {}", r.section, r.formula, r.verdict);
    }
    out.push_str("\n## The matrix\n\n| cell | model | metric | theory | simulated ±95% | rel. error | in 95% CI | verdict |\n|---|---|---|--:|--:|--:|:-:|:-:|\n");
    for r in &v.rows {
        let _ = writeln!(
            out,
            "| {} | {} | {} | {} | {} ±{} | {} | {} | {} |",
            r.cell,
            r.model,
            r.metric,
            validation_value(&r.metric, r.theory),
            validation_value(&r.metric, r.simulated),
            validation_value(&r.metric, r.ci95),
            validation_rel(r.rel_error),
            if r.in_ci95 { "yes" } else { "no" },
            validation_verdict(r)
        );
    }
    out
}
