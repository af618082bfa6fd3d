//! Plain-text tables for the terminal — aligned columns, numbers right-aligned, and the
//! human formatting of figures (durations with units, mean ± CI) — and the terminal view
//! of every command's result: run, analysis, comparison, sizing, sweep, validation, speed.

use super::compare::Comparison3;
use crate::dist::fmt_secs;
use crate::results::{
    AnalyticReport, AnalyticTimeline, Latency, QueueAnalysis, RunReport, SpeedRow, Timeline,
    WindowTheory,
};
use crate::scenario::{Ack, Model};
use crate::size::{Candidate, Metric, PrefetchSizing, SizeReport, Target};
use crate::stats::MeanCi;
use crate::sweep::{Cell, SetSpec, value_text};
use crate::validate::{
    Row, Summary, TUTORIAL_CONSUMERS, TUTORIAL_RATE, TUTORIAL_SERVICE_S, TutorialRow, Validation,
};
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
                // Padding by hand, not with `{c:<w$}`: a width argument above u16::MAX
                // panics in `fmt` ("Formatting argument out of range"), and a cell may be
                // a name of any length.
                let pad = " ".repeat(w.saturating_sub(c.chars().count()));
                if i == 0 {
                    line.push_str(c);
                    line.push_str(&pad);
                } else {
                    line.push_str("  ");
                    line.push_str(&pad);
                    line.push_str(c);
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

/// The line a partial run or load test report starts with (`None` for a full one).
pub fn partial_note(r: &RunReport) -> Option<String> {
    if !r.partial {
        return None;
    }
    Some(match (r.replications_requested, r.horizon_requested_s) {
        (Some(asked), _) => {
            format!("PARTIAL: interrupted after {} of {asked} replications", r.replications)
        }
        (None, Some(asked)) => format!(
            "PARTIAL: interrupted after {} of {} scenario time",
            fmt_secs(r.horizon_s),
            fmt_secs(asked)
        ),
        (None, None) => "PARTIAL: interrupted".to_string(),
    })
}

/// The line an interrupted sweep's table and page start with: how many cells finished and
/// which were not run.
pub fn sweep_partial_note(finished: usize, not_run: &[(usize, Vec<toml::Value>)]) -> String {
    let list: Vec<String> = not_run.iter().map(|(i, _)| i.to_string()).collect();
    format!(
        "PARTIAL: interrupted after {finished} of {} cells; not run: cell{} {}",
        finished + not_run.len(),
        if not_run.len() == 1 { "" } else { "s" },
        list.join(", ")
    )
}

/// The terminal view of a `run` or `loadtest` report.
pub fn render_run(r: &RunReport) -> String {
    let mut out = String::new();
    if let Some(note) = partial_note(r) {
        let _ = writeln!(out, "{note}\n");
    }
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
    if r.queues.is_empty() && !r.topics.is_empty() {
        // Topics only: no queue tables.
        out.push_str(super::topic::render_run(&r.topics).trim_start());
        out.push_str(&timing_line(r));
        return out;
    }
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

    out.push_str(&render_counts(r));
    if !r.topics.is_empty() {
        out.push_str(&super::topic::render_run(&r.topics));
    }
    if let Some(t) = &r.timeline {
        out.push('\n');
        out.push_str(&render_timeline(t));
    }
    if let Some(reached) = r.precision_reached {
        let _ = writeln!(
            out,
            "\nPrecision {}: {} after {} replications (every queue's mean sojourn within ±{:.1}% at 95%).",
            r.precision.map_or_else(String::new, |p| format!("{p}")),
            if reached { "reached" } else { "NOT reached (max_replications hit)" },
            r.replications,
            r.precision.unwrap_or(0.0) * 100.0,
        );
    }
    out.push_str(&timing_line(r));
    out
}

/// The message counts per queue (and what the lifecycle adds), the producers and the end to
/// end latencies: the part of the run table below the queue figures.
pub fn render_counts(r: &RunReport) -> String {
    let mut out = String::new();
    // The second edition's counts appear when the scenario uses its features.
    let lifecycle = r.queues.iter().any(|q| q.counts.expired.is_some());
    let mut heads = vec!["queue", "offered", "delivered", "acked", "dropped"];
    if lifecycle {
        heads.extend(["expired", "rejected", "dead-lettered", "redelivered"]);
    }
    heads.extend(["in flight at end", "balanced"]);
    let mut c = Table::new(&heads);
    for q in &r.queues {
        let k = &q.counts;
        let mut row = vec![
            q.name.clone(),
            k.offered.to_string(),
            k.delivered.to_string(),
            k.acked.to_string(),
            k.dropped.to_string(),
        ];
        if lifecycle {
            let n = |v: Option<u64>| v.unwrap_or(0).to_string();
            row.extend([n(k.expired), n(k.rejected), n(k.dead_lettered), n(k.redelivered)]);
        }
        row.push(k.in_flight_at_end.to_string());
        row.push(if k.balanced() { "yes".into() } else { "NO".into() });
        c.row(row);
    }
    out.push_str("\nMessage counts (all replications, warm-up included):\n");
    out.push_str(&c.render());
    if lifecycle {
        out.push_str(
            "balanced: offered = acked + dropped + expired + rejected + in flight at end.\n",
        );
        for q in &r.queues {
            let k = &q.counts;
            let (cy, un) =
                (k.dead_letter_cycles.unwrap_or(0), k.dead_letter_unroutable.unwrap_or(0));
            if cy > 0 || un > 0 {
                out.push_str(&format!(
                    "{}: of its dead letters {un} matched no queue, and {cy} were dropped instead of going round a cycle with no rejection in it (RabbitMQ's rule).\n",
                    q.name
                ));
            }
        }
    }
    for q in &r.queues {
        if let Some(e) = &q.expire_probability {
            out.push_str(&format!(
                "{}: expired {:.4}{} of its offered messages (TTL); its waits and sojourns above are those of the messages served.\n",
                q.name,
                e.mean,
                e.ci95.map(|h| format!(" ±{h:.4}")).unwrap_or_default()
            ));
        }
    }
    for q in &r.queues {
        let Some(bp) = &q.by_priority else { continue };
        let mut t = Table::new(&["priority", "offered", "Wq mean", "Wq p99", "W mean", "W p99"]);
        for p in bp {
            t.row(vec![
                p.priority.to_string(),
                p.offered.to_string(),
                secs(p.wait_s.mean),
                secs(p.wait_s.p99),
                secs(p.sojourn_s.mean),
                secs(p.sojourn_s.p99),
            ]);
        }
        out.push_str(&format!("\nBy priority, queue {} (post-warm-up):\n", q.name));
        out.push_str(&t.render());
    }

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
    out
}

fn timing_line(r: &RunReport) -> String {
    r.timing.as_ref().map_or_else(String::new, |tm| {
        format!(
            "\nTiming: service error {:+.2}% (mean of ratios), {:+.2}% (total), mean publish lateness {}, late publishes {}\n",
            tm.service_error_mean * 100.0,
            tm.service_error_total * 100.0,
            fmt_secs(tm.arrival_error_mean),
            tm.late_publishes
        )
    })
}

fn num(x: Option<f64>, digits: usize) -> String {
    // Fixed decimals read best, but an absurd figure (ρ = 1e300) would print 300 digits.
    x.map_or_else(
        || "-".to_string(),
        |v| if v.abs() >= 1e9 { format!("{v:.digits$e}") } else { format!("{v:.digits$}") },
    )
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

/// Most windows a timeline table shows; past it, the windows with the highest p99 wait.
pub const TIMELINE_ROWS: usize = 48;

/// The windows a timeline table shows for queue `q`: all of them, or the
/// [`TIMELINE_ROWS`] with the highest p99 wait, in time order.
pub fn timeline_shown(t: &Timeline, q: usize) -> Vec<usize> {
    let mut idx: Vec<usize> = (0..t.windows.len()).collect();
    if idx.len() > TIMELINE_ROWS {
        let p99 = |w: usize| t.windows[w].queues[q].wait_s.p99.unwrap_or(-1.0);
        idx.sort_by(|&a, &b| p99(b).total_cmp(&p99(a)).then(a.cmp(&b)));
        idx.truncate(TIMELINE_ROWS);
        idx.sort_unstable();
    }
    idx
}

/// The terminal view of a timeline: per queue, one row per window (offered and
/// throughput per second, ready messages mean and max, Wq mean and p99 with their 95%
/// half-widths); a long timeline shows its busiest windows.
pub fn render_timeline(t: &Timeline) -> String {
    let mut out = String::new();
    let nq = t.windows.first().map_or(0, |w| w.queues.len());
    for q in 0..nq {
        let name = &t.windows[0].queues[q].name;
        let shown = timeline_shown(t, q);
        let _ = writeln!(
            out,
            "Timeline of queue {name}, windows of {}{}:",
            fmt_secs(t.window_s),
            if shown.len() < t.windows.len() {
                format!(
                    " (the {} of {} windows with the highest p99 wait; all in timeline.csv or --format json)",
                    shown.len(),
                    t.windows.len()
                )
            } else {
                String::new()
            }
        );
        let mut tab = Table::new(&[
            "window",
            "offered/s",
            "throughput/s",
            "Lq mean",
            "Lq max",
            "Wq mean",
            "Wq p99",
        ]);
        for &w in &shown {
            let win = &t.windows[w];
            let c = &win.queues[q];
            let ci = |m: f64, h: Option<f64>, d: usize| match h {
                Some(h) => format!("{m:.d$} ±{h:.d$}"),
                None => format!("{m:.d$}"),
            };
            tab.row(vec![
                format!(
                    "{}–{}{}",
                    fmt_secs(win.start_s),
                    fmt_secs(win.end_s),
                    if win.warmup { " (warm-up)" } else { "" }
                ),
                ci(c.offered_rate, c.offered_rate_ci95, 2),
                ci(c.throughput, c.throughput_ci95, 2),
                ci(c.queue_length.mean, c.queue_length.ci95, 2),
                c.queue_length.max.to_string(),
                secs_ci(c.wait_s.mean, c.wait_s.ci95),
                secs_ci(c.wait_s.p99, c.wait_s.p99_ci95),
            ]);
        }
        out.push_str(&tab.render());
    }
    out.push_str("A message belongs to the window it entered the queue in. Means over replications (± 95% CI); p99 pools the window's messages of every replication (± the 95% CI of the replications' own p99s).\n");
    out
}

/// The terminal view of per-window theory: per queue with a model, one row per window
/// (offered rate; PSA's and MOL's Lq, Wq mean and p99; "-" where the load reaches
/// capacity); a long timeline shows the windows with the highest offered rate.
pub fn render_analytic_timeline(t: &AnalyticTimeline) -> String {
    let mut out = String::new();
    for (qi, m) in t.queues.iter().filter(|m| m.model.is_some()).enumerate() {
        let mut idx: Vec<usize> = (0..t.windows.len()).collect();
        let long = idx.len() > TIMELINE_ROWS;
        if long {
            let rate = |w: usize| t.windows[w].queues[qi].offered_rate;
            idx.sort_by(|&a, &b| rate(b).total_cmp(&rate(a)).then(a.cmp(&b)));
            idx.truncate(TIMELINE_ROWS);
            idx.sort_unstable();
        }
        let _ = writeln!(
            out,
            "Per-window theory of queue {} ({}, approximate), windows of {}{}:",
            m.name,
            m.model.as_deref().unwrap_or("-"),
            fmt_secs(t.window_s),
            if long {
                format!(
                    " (the {TIMELINE_ROWS} of {} windows with the highest rate)",
                    t.windows.len()
                )
            } else {
                String::new()
            }
        );
        let mut tab = Table::new(&[
            "window",
            "offered/s",
            "PSA Lq",
            "PSA Wq mean",
            "PSA Wq p99",
            "MOL Lq",
            "MOL Wq mean",
            "MOL Wq p99",
        ]);
        for &w in &idx {
            let win = &t.windows[w];
            let c = &win.queues[qi];
            let fig = |f: &Option<WindowTheory>| match f {
                Some(f) => [
                    num(f.queue_length.mean, 2),
                    secs(Some(f.wait_s.mean)),
                    secs(Some(f.wait_s.p99)),
                ],
                None => ["-".into(), "-".into(), "-".into()],
            };
            let [pl, pm, pp] = fig(&c.psa);
            let [ml, mm, mp] = fig(&c.mol);
            tab.row(vec![
                format!("{}–{}", fmt_secs(win.start_s), fmt_secs(win.end_s)),
                format!("{:.2}", c.offered_rate),
                pl,
                pm,
                pp,
                ml,
                mm,
                mp,
            ]);
        }
        out.push_str(&tab.render());
    }
    for m in t.queues.iter().filter(|m| m.model.is_none()) {
        let _ = writeln!(out, "  [{}] no per-window theory: {}", m.name, m.notes.join("; "));
    }
    out.push_str("PSA: the stationary queue at each instant's rate; MOL: at the offered load of the infinite-server queue, which lags the rate. \"-\": the load reaches capacity in the window.\n");
    out
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
    if report.queues.is_empty() && !report.topics.is_empty() {
        return format!(
            "{} — analytic (queueing theory)\n{}",
            report.scenario,
            super::topic::render_analytic(&report.topics)
        );
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
    out.push_str(&super::topic::render_analytic(&report.topics));
    if let Some(t) = &report.timeline {
        out.push('\n');
        out.push_str(&render_analytic_timeline(t));
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

/// The terminal view of a `compare`: each queue's model, then one row per queue × figure
/// with the relative differences.
pub fn render_comparison(c: &Comparison3) -> String {
    let v = |m: &str, x: Option<f64>| match x {
        None => "-".to_string(),
        Some(x) if m.contains("_s.") => fmt_secs(x),
        Some(x) => format!("{x:.4}"),
    };
    let pct = |x: Option<f64>| x.map_or("-".into(), |x| format!("{:+.1}%", x * 100.0));
    let with_ci = |m: &str, x: Option<f64>, ci: Option<f64>| match (x, ci) {
        (Some(s), Some(c)) => format!("{} ±{}", v(m, Some(s)), v(m, Some(c))),
        (s, _) => v(m, s),
    };
    // The optional columns appear when any figure has them (`--calibration`, `--broker`).
    let first = c.queues.iter().flat_map(|q| q.figures.first()).next();
    let calibrated = first.is_some_and(|f| f.sim_calibrated.is_some());
    let rabbit = first.is_some_and(|f| f.rabbitmq.is_some());
    let mut head = vec![
        if c.topics.is_empty() { "queue" } else { "queue or topic/group" },
        "metric",
        "theory",
        "simulated",
        "real",
        "sim vs theory",
        "real vs theory",
        "real vs sim",
    ];
    if calibrated {
        head.push("sim calibrated");
    }
    if rabbit {
        head.extend(["rabbitmq", "rmq vs theory", "rmq vs sim"]);
        if calibrated {
            head.push("rmq vs calibrated");
        }
    }
    let mut t = Table::new(&head);
    for q in c.queues.iter().chain(&c.topics) {
        for f in &q.figures {
            let mut row = vec![
                q.name.clone(),
                f.metric.clone(),
                v(&f.metric, f.analytic),
                with_ci(&f.metric, f.sim, f.sim_ci95),
                v(&f.metric, f.real),
                pct(f.sim_vs_analytic),
                pct(f.real_vs_analytic),
                pct(f.real_vs_sim),
            ];
            if calibrated {
                row.push(with_ci(
                    &f.metric,
                    f.sim_calibrated.flatten(),
                    f.sim_calibrated_ci95.flatten(),
                ));
            }
            if rabbit {
                row.push(v(&f.metric, f.rabbitmq.flatten()));
                row.push(pct(f.rabbitmq_vs_analytic.flatten()));
                row.push(pct(f.rabbitmq_vs_sim.flatten()));
                if calibrated {
                    row.push(pct(f.rabbitmq_vs_sim_calibrated.flatten()));
                }
            }
            t.row(row);
        }
    }
    let mut out = format!("{} — theory vs simulation vs real broker\n\n", c.scenario);
    for q in c.queues.iter().chain(&c.topics) {
        out += &format!(
            "  {}: {}\n",
            q.name,
            q.model.as_ref().map_or("no analytic model".to_string(), |m| format!(
                "{m} ({})",
                if q.exact { "exact" } else { "approximate" }
            ))
        );
    }
    out.push('\n');
    out += &t.render();
    if let (Some(ts), Some(e)) = (c.time_scale, c.service_error_mean) {
        out += &format!(
            "\nreal run: time scale {ts}, service error {:+.2}% (mean of ratios), {:+.2}% (total)\n",
            e * 100.0,
            c.service_error_total.unwrap_or(0.0) * 100.0
        );
    }
    if let Some(r) = &c.rabbitmq {
        out += &format!(
            "rabbitmq run: {}, time scale {}, service error {}{}\n",
            r.server
                .as_ref()
                .map_or("server unknown".into(), |s| format!("{} {}", s.product, s.version)),
            r.time_scale.map_or("-".into(), |t| t.to_string()),
            r.service_error_mean.map_or("-".into(), |e| format!("{:+.2}%", e * 100.0)),
            r.calibration.as_ref().map_or(String::new(), |f| format!(", calibration {f}"))
        );
    }
    out
}

fn size_value(t: &Target, v: Option<f64>) -> String {
    match t.metric {
        Metric::Wait | Metric::Sojourn => secs(v),
        _ => v.map_or("-".into(), |x| format!("{x:.4}")),
    }
}

fn candidates_table(t: &Target, cands: &[Candidate]) -> String {
    let mut tab = Table::new(&[
        "consumers",
        "prefetch",
        "meets",
        "simulated",
        "95% upper",
        "theory",
        "utilization",
        "p50",
        "p95",
        "p99",
        "loss",
    ]);
    for c in cands {
        tab.row(vec![
            c.count.to_string(),
            c.prefetch.to_string(),
            if c.meets { "yes".into() } else { "no".into() },
            size_value(t, c.value),
            size_value(t, c.ci95_upper),
            size_value(t, c.analytic),
            format!("{:.3}", c.utilization),
            secs(c.p50),
            secs(c.p95),
            secs(c.p99),
            c.loss.map_or("-".into(), |l| format!("{l:.4}")),
        ]);
    }
    tab.render()
}

/// The terminal view of a sizing: per prefetch setting the candidates and the
/// recommendation, then the tutorial's rule beside it.
pub fn render_size(r: &SizeReport) -> String {
    let mut out = String::new();
    if r.partial {
        let _ = writeln!(out, "PARTIAL: interrupted before the search finished\n");
    }
    let _ = write!(out, "{} — sizing group \"{}\" for {}\n\n", r.scenario, r.group, r.target);
    for PrefetchSizing { prefetch, recommended: rec, analytic_guess: guess, candidates, not_run } in
        r.settings()
    {
        let _ = writeln!(out, "prefetch {prefetch}:");
        out.push_str(&candidates_table(&r.target, &candidates));
        if !not_run.is_empty() {
            let counts: Vec<String> = not_run.iter().map(u32::to_string).collect();
            let _ = writeln!(out, "not run: {} consumers", counts.join(", "));
        }
        let _ = writeln!(
            out,
            "→ recommended: {}   (theory's first guess: {})\n",
            rec.map_or_else(
                || r.none_reason.clone().unwrap_or_else(|| "none within the search limit".into()),
                |c| format!("{c} consumers")
            ),
            guess.map_or("no model".into(), |g| g.to_string()),
        );
    }
    let _ = writeln!(
        out,
        "The tutorial's rule P_c = G·P ≥ arrival rate would give {} consumers{}.",
        r.tutorial_guess,
        match r.recommended {
            Some(rec) if rec > r.tutorial_guess =>
                format!(", {} short of meeting the target", rec - r.tutorial_guess),
            _ => String::new(),
        }
    );
    out.push_str("Recommended = smallest count whose simulated figure, at the upper end of its 95% interval, meets the target.\n");
    if let Some(w) = r.every_window_s {
        let _ = writeln!(
            out,
            "Every window: the figure of each count is that of its worst {} window after the warm-up.",
            fmt_secs(w)
        );
        for x in &r.worst_windows {
            let _ = writeln!(
                out,
                "  {} consumers: worst window from {}: {} (upper {})",
                x.count,
                fmt_secs(x.start_s),
                secs(x.value),
                secs(x.ci95_upper)
            );
        }
        if let Some(d) = &r.decided_by {
            let _ = writeln!(
                out,
                "Decided by the window {}–{}: with {} consumers it has {} (upper {}).",
                fmt_secs(d.start_s),
                fmt_secs(d.end_s),
                d.count,
                secs(d.value),
                secs(d.ci95_upper)
            );
        }
    }
    out
}

/// The terminal view of a sweep: one row per cell × queue.
pub fn render_sweep(specs: &[SetSpec], cells: &[Cell]) -> String {
    let mut head: Vec<String> = vec!["cell".into()];
    head.extend(specs.iter().map(|s| s.path.clone()));
    head.extend(
        ["queue", "util", "loss", "Wq mean", "Wq p99", "W mean", "W p99"].map(String::from),
    );
    let mut t = Table::new(&head);
    for c in cells {
        for q in &c.report.queues {
            let mut row = vec![c.index.to_string()];
            row.extend(c.values.iter().map(value_text));
            row.extend([
                q.name.clone(),
                format!("{:.3}", q.utilization.mean),
                format!("{:.4}", q.loss_probability.mean),
                secs(q.wait_s.mean),
                secs(q.wait_s.p99),
                secs(q.sojourn_s.mean),
                secs(q.sojourn_s.p99),
            ]);
            t.row(row);
        }
    }
    t.render()
}

/// A validation figure: a duration for latency metrics, four decimals otherwise.
pub(super) fn validation_value(metric: &str, v: f64) -> String {
    if metric.contains("_s.") { fmt_secs(v) } else { format!("{v:.4}") }
}

/// A relative error in percent; `∞` when theory is zero.
pub(super) fn validation_rel(e: f64) -> String {
    if e.is_finite() { format!("{:+.2}%", e * 100.0) } else { "∞".into() }
}

/// `pass`, `FAIL`, or `approx` for an approximation (no verdict).
pub(super) fn validation_verdict(r: &Row) -> &'static str {
    match r.pass {
        Some(true) => "pass",
        Some(false) => "FAIL",
        None => "approx",
    }
}

fn matrix_table(v: &Validation) -> String {
    let mut t = Table::new(&[
        "cell",
        "model",
        "metric",
        "theory",
        "simulated ±95%",
        "rel. error",
        "in 95% CI",
        "verdict",
    ]);
    for r in &v.rows {
        t.row(vec![
            r.cell.clone(),
            r.model.clone(),
            r.metric.clone(),
            validation_value(&r.metric, r.theory),
            format!(
                "{} ±{}",
                validation_value(&r.metric, r.simulated),
                validation_value(&r.metric, r.ci95)
            ),
            validation_rel(r.rel_error),
            if r.in_ci95 { "yes" } else { "no" }.into(),
            validation_verdict(r).into(),
        ]);
    }
    t.render()
}

/// The validation's pass counts and approximation errors, one line per approximate model.
pub fn validation_summary(v: &Validation, s: &Summary) -> String {
    let mut out = format!(
        "{} replications per cell, ~{} customers each. Exact models: {}/{} comparisons pass (theory inside the 99.9% interval)",
        v.replications, v.customers, s.exact_passed, s.exact_total
    );
    if let Some((e, at)) = &s.exact_worst {
        let _ = write!(out, "; worst relative error {:.2}% ({at})", e * 100.0);
    }
    out.push_str(".\nApproximations (|relative error|):\n");
    for (m, n, worst, median) in &s.approximations {
        let _ = writeln!(
            out,
            "  {m}: {n} comparisons, median {:.1}%, worst {:.1}%",
            median * 100.0,
            worst * 100.0
        );
    }
    out
}

fn tutorial_table(rows: &[TutorialRow]) -> String {
    let mut t = Table::new(&[
        "§",
        "formula",
        "value",
        "unit",
        "claimed",
        "correct quantity",
        "theory",
        "simulated",
    ]);
    for r in rows {
        t.row(vec![
            r.section.clone(),
            r.formula.clone(),
            format!("{:.4}", r.value),
            r.unit.clone(),
            r.claimed.clone(),
            r.correct_quantity.clone(),
            r.theory.map_or("-".into(), |x| format!("{x:.4}")),
            format!("{:.4}", r.simulated),
        ]);
    }
    let mut out = t.render();
    out.push('\n');
    for r in rows {
        let _ = writeln!(out, "{} {}: {}", r.section, r.formula, r.verdict);
    }
    out
}

/// The terminal view of a validation: the matrix, its summary, the tutorial's formulas.
pub fn render_validation(v: &Validation, s: &Summary) -> String {
    format!(
        "{}\n{}\nThe tutorial's formulas on mmc-demo (W = {}/s, D = {} ms, G = {}):\n\n{}",
        matrix_table(v),
        validation_summary(v, s),
        TUTORIAL_RATE,
        TUTORIAL_SERVICE_S * 1e3,
        TUTORIAL_CONSUMERS,
        tutorial_table(&v.tutorial)
    )
}

/// The terminal view of `bench`: events and messages per second and the ratio to the
/// reference loop, best of `runs`.
pub fn render_speed(rows: &[SpeedRow], runs: usize) -> String {
    let mut t = Table::new(&["case", "events/s", "messages/s", "engine ÷ floor"]);
    for r in rows {
        t.row(vec![
            r.name.clone(),
            format!("{:.2}M", r.events_per_s / 1e6),
            format!("{:.2}M", r.messages_per_s / 1e6),
            r.ratio_to_floor.map_or("-".into(), |x| format!("{x:.2}")),
        ]);
    }
    format!(
        "single thread, best of {runs} runs; engine ÷ floor = engine time ÷ reference-loop time for the same work\n\n{}",
        t.render()
    )
}

/// What `mqsim check` shows of the scenario file `file` once resolved: simulation
/// settings, each producer's rate and routes, each queue's bound, each group.
pub fn render_check(file: &str, m: &Model) -> String {
    let mut out = String::new();
    let s = &m.simulation;
    let _ = writeln!(out, "{}: ok — scenario \"{}\"", file, m.name);
    let _ = writeln!(
        out,
        "  simulation: horizon {}, warm-up {}, {} replications, seed {}",
        fmt_secs(s.horizon),
        fmt_secs(s.warmup),
        s.replications,
        s.seed
    );
    for p in &m.producers {
        let to: Vec<&str> = p.routes.iter().map(|&q| m.queues[q].name.as_str()).collect();
        let _ = writeln!(
            out,
            "  producer {}: {:.3} msg/s ({}) → exchange \"{}\" key \"{}\" → {}",
            p.name,
            1.0 / p.arrival.mean(),
            p.arrival.label(),
            m.router.exchange_name(p.exchange),
            p.routing_key,
            if to.is_empty() { "(unroutable)".to_string() } else { to.join(", ") }
        );
    }
    for q in &m.queues {
        let bound = q
            .max_length
            .map_or("unbounded".to_string(), |l| format!("max_length {l}, {:?}", q.overflow));
        let _ = writeln!(out, "  queue {}: {bound}", q.name);
    }
    for g in &m.groups {
        let then = g.then.as_ref().map_or(String::new(), |t| {
            let to: Vec<&str> = t.routes.iter().map(|&q| m.queues[q].name.as_str()).collect();
            format!(" then → {}", to.join(", "))
        });
        let _ = writeln!(
            out,
            "  consumers {}: {} × {} on {}, prefetch {}, ack {}{then}",
            g.name,
            g.count,
            g.service.label(),
            m.queues[g.queue].name,
            if g.prefetch == 0 { "unlimited".to_string() } else { g.prefetch.to_string() },
            if g.ack == Ack::Manual { "manual" } else { "auto" },
        );
    }
    out
}
