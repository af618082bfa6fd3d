//! The charts mqsim draws, described as [`LineChart`]s from results: latency percentile
//! curves (simulated with its 95% band, theory dashed, real where measured), ready and
//! unacknowledged messages over time, throughput and utilization over time, sizing
//! curves and sweep curves. Rendering is [`super::charts::render`]; writing files is the CLI's.

use super::charts::{Line, LineChart, Mark, RefLine, XAxis};
use crate::results::{
    AnalyticReport, Latency, PercentileCurve, QueueAnalysis, QueueReport, REAL_BATCHES,
    RealOutcome, RunReport,
};
use crate::scenario::Model;
use crate::sim::SimOutcome;
use crate::size::{Candidate, Metric, SizeReport};
use crate::stats::summarize;
use crate::sweep::{Cell, SetSpec, value_number, value_text};

/// A chart to write: file stem, caption, and the stacked panels.
#[derive(Debug, Clone)]
pub struct Figure {
    /// File name without extension, e.g. `latency-orders`.
    pub stem: String,
    /// One-line caption for report.md.
    pub caption: String,
    /// Panels, stacked vertically.
    pub panels: Vec<LineChart>,
    /// Height of each panel, pixels.
    pub panel_height: u32,
}

/// Longest name kept as it is in a chart file name; longer ones are cut and hashed, so a
/// stem stays far below the 255-byte file-name limit of common file systems.
const SLUG_KEEP: usize = 64;

/// A file-name-safe version of a queue name (or sweep path). A name that is already safe
/// (ASCII letters, digits, `-`, `_`) and short is kept as it is, so ordinary names give
/// ordinary files (`latency-orders.png`). Any other name is sanitised, cut to
/// [`SLUG_KEEP`] characters and followed by a short stable hash of the original, because
/// sanitising alone maps different names to one file (`a b` and `a_b`, or two CJK names
/// both to `__`) and one queue's chart would overwrite another's.
pub fn slug(name: &str) -> String {
    let safe = |c: char| c.is_ascii_alphanumeric() || c == '-' || c == '_';
    if !name.is_empty() && name.len() <= SLUG_KEEP && name.chars().all(safe) {
        return name.to_string();
    }
    let cleaned: String =
        name.chars().take(SLUG_KEEP).map(|c| if safe(c) { c } else { '_' }).collect();
    format!("{cleaned}-{:08x}", fnv1a(name.as_bytes()) as u32)
}

/// FNV-1a, 64 bits: a hash that, unlike `std`'s, is the same in every build, so a chart's
/// file name does not change between versions.
fn fnv1a(bytes: &[u8]) -> u64 {
    bytes
        .iter()
        .fold(0xcbf2_9ce4_8422_2325, |h, &b| (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3))
}

/// The theory line's legend: the model and how far to trust it ("exact", "approx.",
/// "lower bound"), so an approximation is never drawn as if exact.
pub fn theory_label(a: &QueueAnalysis) -> String {
    let model = a.model.as_deref().unwrap_or("model");
    format!("theory: {model} ({})", theory_kind(a))
}

/// "exact", "lower bound" (pooled M/M/c under a prefetch > 1, by the analysis' own note) or
/// "approx.".
pub fn theory_kind(a: &QueueAnalysis) -> &'static str {
    if a.exact {
        "exact"
    } else if a.notes.iter().any(|n| n.contains("LOWER BOUND")) {
        "lower bound"
    } else {
        "approx."
    }
}

fn sim_line(name: &str, c: &PercentileCurve, color: usize) -> Line {
    Line {
        name: name.into(),
        points: c.pooled.clone(),
        band: c.pooled_band(),
        color,
        ..Line::default()
    }
}

/// Theory's quantile curve on the dense grid (the model is closed form), else through the
/// contract's percentiles; none with fewer than 2 points.
fn percentile_line(name: &str, l: &Latency, dashed: bool, color: usize) -> Option<Line> {
    let points: Vec<(f64, f64)> = if l.curve.len() >= 2 {
        l.curve.clone()
    } else {
        l.percentiles().into_iter().filter_map(|(q, v)| v.map(|v| (q, v))).collect()
    };
    (points.len() >= 2).then(|| Line {
        name: name.into(),
        points,
        dashed,
        color,
        ..Line::default()
    })
}

/// The real broker's curve: on the dense grid with the 95% band of its time batches (batch
/// means, as the simulation's band comes from replications) where the run had them, else
/// through the report's percentiles.
fn real_line(l: &Latency, curve: Option<&PercentileCurve>, color: usize) -> Option<Line> {
    match curve.filter(|c| c.pooled.len() >= 2) {
        Some(c) => {
            let band = c.pooled_band();
            let name = if band.is_empty() {
                "real broker (one run, too few messages per time batch for a band)".to_string()
            } else {
                format!("real broker (one run, 95% band from {REAL_BATCHES} time batches)")
            };
            Some(Line { name, points: c.pooled.clone(), band, color, ..Line::default() })
        }
        None => percentile_line("real broker (one run, no interval)", l, false, color),
    }
}

/// A latency figure: the wait until service starts above the sojourn until it ends, each
/// panel titled after `who` (scenario and queue or group).
fn latency_figure(
    stem: String,
    caption: String,
    who: &str,
    wait: Vec<Line>,
    soj: Vec<Line>,
) -> Figure {
    Figure {
        stem,
        caption,
        panels: vec![
            percentile_panel(format!("{who}: wait until service starts"), "wait", wait),
            percentile_panel(format!("{who}: sojourn until service ends"), "sojourn", soj),
        ],
        panel_height: PANEL_H,
    }
}

fn percentile_panel(title: String, y: &str, lines: Vec<Line>) -> LineChart {
    LineChart {
        title,
        x_label: "percentile of messages".into(),
        y_label: y.into(),
        x_axis: XAxis::Nines,
        log_y: true,
        y_seconds: true,
        lines,
        ..LineChart::default()
    }
}

fn band_name(replications: u32) -> String {
    if replications > 1 {
        format!("simulated, {replications} replications pooled (95% band)")
    } else {
        "simulated (one replication: no band)".into()
    }
}

/// Most queues overlaid on one plot; beyond that the lines cannot be told apart.
const OVERLAY_MAX: usize = 6;

/// Wait and sojourn percentile curves of every queue: simulated (pooled, with its 95%
/// band), theory on the same quantile grid where a model gives quantiles, and the real
/// broker's where a loadtest report is given. A scenario with 2 to [`OVERLAY_MAX`] queues
/// also gets every queue's curves overlaid on one nines plot, so variants compare at a
/// glance on one scale.
pub fn latency_figures(
    sim: &SimOutcome,
    theory: Option<&AnalyticReport>,
    real: Option<&RealOutcome>,
) -> Vec<Figure> {
    let r = &sim.report;
    let sc = &r.scenario;
    let shown: Vec<usize> =
        (0..r.queues.len()).filter(|q| !sim.curves[*q].sojourn.pooled.is_empty()).collect();
    let mut figs: Vec<Figure> = shown
        .iter()
        .map(|&q| {
            let qr = &r.queues[q];
            let a = theory.and_then(|t| t.queue(&qr.name));
            let rq = real.and_then(|rr| {
                let i = rr.report.queues.iter().position(|x| x.name == qr.name)?;
                Some((&rr.report.queues[i], rr.curves.get(i)))
            });
            let name = band_name(r.replications);
            let mut wait = vec![sim_line(&name, &sim.curves[q].wait, 0)];
            let mut soj = vec![sim_line(&name, &sim.curves[q].sojourn, 0)];
            if let Some(a) = a {
                wait.extend(percentile_line(&theory_label(a), &a.wait_s, true, 1));
                soj.extend(percentile_line(&theory_label(a), &a.sojourn_s, true, 1));
            }
            if let Some((rq, c)) = rq {
                wait.extend(real_line(&rq.wait_s, c.map(|c| &c.wait), 2));
                soj.extend(real_line(&rq.sojourn_s, c.map(|c| &c.sojourn), 2));
            }
            latency_figure(
                format!("latency-{}", slug(&qr.name)),
                format!("Wait and sojourn percentiles of queue `{}`", qr.name),
                &format!("{sc} · {}", qr.name),
                wait,
                soj,
            )
        })
        .collect();
    if (2..=OVERLAY_MAX).contains(&shown.len()) {
        let (mut wait, mut soj) = (Vec::new(), Vec::new());
        for (k, &q) in shown.iter().enumerate() {
            let name = &r.queues[q].name;
            let a = theory.and_then(|t| t.queue(name));
            wait.push(sim_line(&format!("{name}, simulated"), &sim.curves[q].wait, k));
            soj.push(sim_line(&format!("{name}, simulated"), &sim.curves[q].sojourn, k));
            if let Some(a) = a {
                let label = format!("{name}, theory ({})", theory_kind(a));
                wait.extend(percentile_line(&label, &a.wait_s, true, k));
                soj.extend(percentile_line(&label, &a.sojourn_s, true, k));
            }
        }
        figs.insert(
            0,
            Figure {
                stem: "latency-all-queues".into(),
                caption: "Every queue's wait and sojourn percentiles on one scale (simulated solid with 95% band, theory dashed)".into(),
                panels: vec![
                    percentile_panel(format!("{sc}: wait until service starts, every queue"), "wait", wait),
                    percentile_panel(format!("{sc}: sojourn until service ends, every queue"), "sojourn", soj),
                ],
                panel_height: PANEL_H,
            },
        );
    }
    figs
}

/// One percentile figure per consumer group of a Kafka-style topic that timed records:
/// simulated with its band, theory dashed (the group's model per consumer, labelled exact or
/// approx.). Stems start `group-latency-`, so no queue's name can match one.
pub fn topic_group_figures(sim: &SimOutcome, theory: Option<&AnalyticReport>) -> Vec<Figure> {
    let r = &sim.report;
    let sc = &r.scenario;
    let name = band_name(r.replications);
    let mut figs = Vec::new();
    for (topic, curves) in r.topics.iter().zip(&sim.topic_curves) {
        for (group, c) in topic.groups.iter().zip(curves) {
            if c.sojourn.pooled.is_empty() {
                continue;
            }
            let a = theory
                .and_then(|t| t.topics.iter().find(|x| x.name == topic.name))
                .and_then(|t| t.groups.iter().find(|g| g.name == group.name));
            let mut wait = vec![sim_line(&name, &c.wait, 0)];
            let mut soj = vec![sim_line(&name, &c.sojourn, 0)];
            if let Some(a) = a.filter(|a| a.stable) {
                let label =
                    format!("theory: {} ({})", a.model, if a.exact { "exact" } else { "approx." });
                wait.extend(percentile_line(&label, &a.wait_s, true, 1));
                soj.extend(percentile_line(&label, &a.sojourn_s, true, 1));
            }
            figs.push(latency_figure(
                format!("group-latency-{}-{}", slug(&topic.name), slug(&group.name)),
                format!(
                    "Wait and sojourn percentiles of group `{}` on topic `{}`",
                    group.name, topic.name
                ),
                &format!("{sc} · {} · group {}", topic.name, group.name),
                wait,
                soj,
            ));
        }
    }
    figs
}

/// Adds a real RabbitMQ's and a calibrated simulation's percentile curves to the
/// per-queue latency figures of [`latency_figures`] (`compare --broker --calibration`).
pub fn add_broker_lines(
    figs: &mut [Figure],
    rabbitmq: Option<&RunReport>,
    calibrated: Option<&RunReport>,
) {
    for f in figs.iter_mut() {
        let Some(stem) = f.stem.strip_prefix("latency-") else { continue };
        let find = |r: &RunReport| r.queues.iter().find(|q| slug(&q.name) == stem).cloned();
        if f.panels.len() < 2 {
            continue;
        }
        if let Some(q) = calibrated.and_then(find) {
            let label = "simulated, calibrated (pooled)";
            f.panels[0].lines.extend(percentile_line(label, &q.wait_s, false, 4));
            f.panels[1].lines.extend(percentile_line(label, &q.sojourn_s, false, 4));
        }
        if let Some(q) = rabbitmq.and_then(find) {
            let label = "RabbitMQ (one run, no interval)";
            f.panels[0].lines.extend(percentile_line(label, &q.wait_s, false, 3));
            f.panels[1].lines.extend(percentile_line(label, &q.sojourn_s, false, 3));
        }
    }
}

/// Height of one panel, pixels.
pub const PANEL_H: u32 = 420;
/// Height of one time-series panel, pixels.
const SERIES_PANEL_H: u32 = 300;

/// Theory's wait and sojourn percentile curves for every queue whose model gives quantiles
/// (`analyze --out`).
pub fn analytic_figures(theory: &AnalyticReport) -> Vec<Figure> {
    theory
        .queues
        .iter()
        .filter_map(|a| {
            let label = theory_label(a);
            let wait = percentile_line(&label, &a.wait_s, true, 1)?;
            let mut panels = vec![percentile_panel(
                format!("{} · {}: wait until service starts", theory.scenario, a.name),
                "wait",
                vec![wait],
            )];
            if let Some(soj) = percentile_line(&label, &a.sojourn_s, true, 1) {
                panels.push(percentile_panel(
                    format!("{} · {}: sojourn until service ends", theory.scenario, a.name),
                    "sojourn",
                    vec![soj],
                ));
            }
            Some(Figure {
                stem: format!("latency-{}", slug(&a.name)),
                caption: format!("Theory's wait and sojourn percentiles of queue `{}`", a.name),
                panels,
                panel_height: PANEL_H,
            })
        })
        .collect()
}

/// The real broker's wait and sojourn percentiles of every queue, with theory dashed where
/// a model gives quantiles (`loadtest --out`).
pub fn real_figures(outcome: &RealOutcome, theory: Option<&AnalyticReport>) -> Vec<Figure> {
    let real = &outcome.report;
    real.queues
        .iter()
        .enumerate()
        .filter_map(|(i, rq)| {
            let a = theory.and_then(|t| t.queue(&rq.name)).filter(|a| a.stable);
            let c = outcome.curves.get(i);
            let mut wait = vec![real_line(&rq.wait_s, c.map(|c| &c.wait), 2)?];
            let mut soj: Vec<Line> =
                real_line(&rq.sojourn_s, c.map(|c| &c.sojourn), 2).into_iter().collect();
            if let Some(a) = a {
                wait.extend(percentile_line(&theory_label(a), &a.wait_s, true, 1));
                soj.extend(percentile_line(&theory_label(a), &a.sojourn_s, true, 1));
            }
            Some(latency_figure(
                format!("latency-{}", slug(&rq.name)),
                format!("Real broker: wait and sojourn percentiles of queue `{}`", rq.name),
                &format!("{} · {} (real broker)", real.scenario, rq.name),
                wait,
                soj,
            ))
        })
        .collect()
}

fn time_unit(horizon: f64) -> (f64, &'static str) {
    if horizon >= 3.0 * 3600.0 {
        (3600.0, "h")
    } else if horizon >= 180.0 {
        (60.0, "min")
    } else {
        (1.0, "s")
    }
}

/// Mean over replications at every window, and its 95% Student-t band.
/// Points and a band of a line.
type Curve = (Vec<(f64, f64)>, Vec<(f64, f64, f64)>);

pub(crate) fn mean_band(t: &[f64], per_rep: &[Vec<f64>]) -> Curve {
    let mut pts = Vec::new();
    let mut band = Vec::new();
    for (i, &x) in t.iter().enumerate() {
        let v: Vec<f64> = per_rep.iter().filter_map(|r| r.get(i).copied()).collect();
        if let Some(s) = summarize(&v) {
            pts.push((x, s.mean));
            if let Some(h) = s.ci95 {
                band.push((x, (s.mean - h).max(0.0), s.mean + h));
            }
        }
    }
    (pts, band)
}

/// Per-window rates (per second) from a cumulative count.
pub(crate) fn rates(cum: &[u64], step: f64) -> Vec<f64> {
    let mut prev = 0;
    cum.iter()
        .map(|&c| {
            let r = c.saturating_sub(prev) as f64 / step;
            prev = c;
            r
        })
        .collect()
}

/// Over time, one panel per queue, the mean over replications with its 95% band: ready and
/// unacknowledged messages stacked (as RabbitMQ's management UI shows them) with
/// `max_length` drawn across; throughput with the offered rate and, where messages are
/// dropped or expire, their rates; utilization in % with theory's. Empty without a series.
pub fn time_figures(
    sim: &SimOutcome,
    model: &Model,
    theory: Option<&AnalyticReport>,
) -> Vec<Figure> {
    let Some(s0) = sim.series_all.first() else { return Vec::new() };
    let all = &sim.series_all;
    let r = &sim.report;
    if r.queues.is_empty() {
        // Topics only: the series are the queues'.
        return Vec::new();
    }
    let sc = &r.scenario;
    let (unit, uname) = time_unit(r.horizon_s);
    let t: Vec<f64> = s0.times.iter().map(|t| t / unit).collect();
    let shade =
        (r.warmup_s > 0.0).then(|| (0.0, r.warmup_s / unit, "warm-up (discarded)".to_string()));
    let window = crate::report::charts::fmt_duration(s0.step);
    let n = all.len();
    let reps = if n > 1 {
        format!("mean of {n} replications, 95% band")
    } else {
        "one replication".into()
    };
    let panel = |title: String, y: &str, lines: Vec<Line>, refs: Vec<RefLine>| LineChart {
        title,
        x_label: format!("scenario time ({uname}); each point is a {window} window"),
        y_label: y.into(),
        lines,
        shade_x: shade.clone(),
        refs,
        ..LineChart::default()
    };
    let (mut backlog, mut thr, mut util) = (Vec::new(), Vec::new(), Vec::new());
    for (q, qr) in r.queues.iter().enumerate() {
        let per = |f: &dyn Fn(&crate::sim::Series) -> Vec<f64>| -> Vec<Vec<f64>> {
            all.iter().map(f).collect()
        };
        let (ready, _) = mean_band(&t, &per(&|s| s.ready[q].clone()));
        let (total, total_band) = mean_band(
            &t,
            &per(&|s| s.ready[q].iter().zip(&s.unacked[q]).map(|(a, b)| a + b).collect()),
        );
        let mut lines = vec![Line {
            name: "ready".into(),
            points: ready.clone(),
            band: ready.iter().map(|&(x, y)| (x, 0.0, y)).collect(),
            color: 0,
            area: true,
            ..Line::default()
        }];
        if all.iter().any(|s| s.unacked[q].iter().any(|&x| x > 0.0)) {
            lines.push(Line {
                name: "unacked (held by consumers)".into(),
                points: total.clone(),
                band: ready.iter().zip(&total).map(|(&(x, a), &(_, b))| (x, a, b)).collect(),
                color: 3,
                area: true,
                ..Line::default()
            });
        }
        lines.push(Line {
            name: format!("total, {reps}"),
            points: total,
            band: total_band,
            color: 7,
            ..Line::default()
        });
        let mut refs = Vec::new();
        if let Some(m) = model.queues.get(q).and_then(|mq| mq.max_length) {
            refs.push(RefLine {
                y: m as f64,
                label: format!("max_length = {m} (ready)"),
                color: Some(1),
            });
        }
        if let Some(l) = theory.and_then(|th| th.queue(&qr.name)).and_then(|a| a.in_system.mean) {
            refs.push(RefLine {
                y: l,
                label: format!("theory: mean in queue {}", crate::report::charts::trim_num(l, 3)),
                color: Some(2),
            });
        }
        backlog.push(panel(
            format!("{sc} · {}: messages in the queue", qr.name),
            "messages",
            lines,
            refs,
        ));

        let (thru, thru_band) = mean_band(&t, &per(&|s| rates(&s.completed[q], s.step)));
        let mut lines = vec![Line {
            name: format!("services ended/s, {reps}"),
            points: thru,
            band: thru_band,
            color: 0,
            ..Line::default()
        }];
        let (off, _) = mean_band(&t, &per(&|s| rates(&s.offered[q], s.step)));
        lines.push(Line {
            name: "offered/s (mean)".into(),
            points: off,
            color: 7,
            dashed: true,
            ..Line::default()
        });
        if all.iter().any(|s| s.dropped[q].last().copied().unwrap_or(0) > 0) {
            let (d, _) = mean_band(&t, &per(&|s| rates(&s.dropped[q], s.step)));
            lines.push(Line {
                name: "dropped/s (max_length)".into(),
                points: d,
                color: 1,
                ..Line::default()
            });
        }
        if all.iter().any(|s| s.expired[q].last().copied().unwrap_or(0) > 0) {
            let (d, _) = mean_band(&t, &per(&|s| rates(&s.expired[q], s.step)));
            lines.push(Line {
                name: "expired/s (TTL)".into(),
                points: d,
                color: 4,
                ..Line::default()
            });
        }
        let refs = vec![RefLine {
            y: qr.offered_rate.mean,
            label: format!(
                "offered rate, run mean {}/s",
                crate::report::charts::trim_num(qr.offered_rate.mean, 3)
            ),
            color: None,
        }];
        thr.push(panel(format!("{sc} · {}: throughput", qr.name), "messages / s", lines, refs));

        if qr.consumers > 0 {
            let c = f64::from(qr.consumers);
            let (u, ub) =
                mean_band(&t, &per(&|s| s.busy[q].iter().map(|b| 100.0 * b / c).collect()));
            let refs: Vec<RefLine> = theory
                .and_then(|th| th.queue(&qr.name))
                .and_then(|a| a.utilization)
                .map(|u| RefLine {
                    y: 100.0 * u,
                    label: format!("theory: {}%", crate::report::charts::trim_num(100.0 * u, 3)),
                    color: Some(1),
                })
                .into_iter()
                .collect();
            util.push(panel(
                format!("{sc} · {}: utilization ({} consumers)", qr.name, qr.consumers),
                "busy consumers (%)",
                vec![Line {
                    name: format!("utilization, {reps}"),
                    points: u,
                    band: ub,
                    color: 0,
                    ..Line::default()
                }],
                refs,
            ));
        }
    }
    let mut figs = vec![
        Figure {
            stem: "queue-length".into(),
            caption: format!(
                "Messages in each queue over time: ready and unacknowledged stacked, {reps}, {window} windows"
            ),
            panels: backlog,
            panel_height: SERIES_PANEL_H,
        },
        Figure {
            stem: "throughput".into(),
            caption: format!(
                "Throughput of each queue over time against the offered rate, {reps}, {window} windows"
            ),
            panels: thr,
            panel_height: SERIES_PANEL_H,
        },
    ];
    if !util.is_empty() {
        figs.push(Figure {
            stem: "utilization".into(),
            caption: format!(
                "Utilization of each queue's consumers over time, in %, {reps}, {window} windows"
            ),
            panels: util,
            panel_height: SERIES_PANEL_H,
        });
    }
    figs
}

/// The timeline's charts, the ones that show the peak: per window, every queue's p99 wait
/// (pooled over replications, with the 95% band of the replications' own p99s) and its
/// backlog (mean ready messages with their 95% band; the largest seen dashed). Empty
/// without a timeline.
pub fn timeline_figures(r: &RunReport) -> Vec<Figure> {
    let Some(t) = &r.timeline else { return Vec::new() };
    let (unit, uname) = time_unit(r.horizon_s);
    let shade = (r.warmup_s > 0.0).then(|| (0.0, r.warmup_s / unit, "warm-up".to_string()));
    let panel = |title: String, y: &str, seconds: bool, lines: Vec<Line>| LineChart {
        title: format!("{} · {title}", r.scenario),
        x_label: format!(
            "scenario time, middle of each {} window ({uname})",
            crate::dist::fmt_secs(t.window_s)
        ),
        y_label: y.into(),
        x_axis: XAxis::Linear,
        log_y: false,
        y_seconds: seconds,
        x_integer: false,
        lines,
        shade_x: shade.clone(),
        ..LineChart::default()
    };
    let mid = |w: &crate::results::Window| (w.start_s + w.end_s) / 2.0 / unit;
    let nq = t.windows.first().map_or(0, |w| w.queues.len());
    let mut p99 = Vec::new();
    let mut backlog = Vec::new();
    for q in 0..nq {
        let name = &t.windows[0].queues[q].name;
        let mut points = Vec::new();
        let mut band = Vec::new();
        for w in &t.windows {
            let c = &w.queues[q].wait_s;
            if let Some(v) = c.p99 {
                points.push((mid(w), v));
                let h = c.p99_ci95.unwrap_or(0.0);
                band.push((mid(w), (v - h).max(0.0), v + h));
            }
        }
        p99.push(Line {
            name: format!("{name} p99 wait"),
            points,
            band,
            color: q,
            ..Line::default()
        });
        let (mut points, mut band, mut max) = (Vec::new(), Vec::new(), Vec::new());
        for w in &t.windows {
            let l = &w.queues[q].queue_length;
            points.push((mid(w), l.mean));
            let h = l.ci95.unwrap_or(0.0);
            band.push((mid(w), (l.mean - h).max(0.0), l.mean + h));
            max.push((mid(w), l.max as f64));
        }
        backlog.push(Line {
            name: format!("{name} mean ready"),
            points,
            band,
            color: q,
            ..Line::default()
        });
        backlog.push(Line {
            name: format!("{name} max ready"),
            points: max,
            band: vec![],
            dashed: true,
            color: q,
            ..Line::default()
        });
    }
    vec![Figure {
        stem: "timeline".into(),
        caption: format!(
            "Per {} window: p99 wait of the messages that entered in it (band: 95% CI of the replications' p99s), and the backlog (mean ready messages with its 95% band; dashed: the largest seen)",
            crate::dist::fmt_secs(t.window_s)
        ),
        panels: vec![
            panel("p99 wait per window".into(), "p99 wait", true, p99),
            panel("Backlog per window".into(), "ready messages", false, backlog),
        ],
        panel_height: PANEL_H,
    }]
}

/// Keeps a time series to at most ~`points` samples: the step a run should record at.
pub fn series_step(horizon: f64, points: usize) -> f64 {
    horizon / points.max(10) as f64
}

/// The sizing chart: the target's simulated figure against the consumer count (log axis,
/// a marker at every count simulated) with the upper end of its 95% interval — the figure
/// the recommendation is made on — as a band, one colour per prefetch setting; theory
/// dashed (once, and said to ignore prefetch, when it gives the same figure for every
/// setting); the target across and each recommended count marked and labelled. Below,
/// utilization in %.
pub fn sizing_figure(r: &SizeReport) -> Figure {
    let sets = r.settings();
    let lat_name = if r.target.metric == Metric::Wait { "wait" } else { "sojourn" };
    let latency_target = matches!(r.target.metric, Metric::Wait | Metric::Sojourn);
    let what = if latency_target {
        r.target.to_string().split(" <=").next().unwrap_or("").to_string()
    } else {
        format!("p99 {lat_name}")
    };
    let mut lat_lines = Vec::new();
    let mut util_lines = Vec::new();
    let mut marks = Vec::new();
    let theories: Vec<Vec<(f64, f64)>> = sets
        .iter()
        .map(|s| {
            s.candidates
                .iter()
                .filter_map(|c| c.analytic.map(|v| (f64::from(c.count), v)))
                .collect()
        })
        .collect();
    let prefetch_blind = theories.len() > 1
        && theories.windows(2).all(|w| {
            w[0].iter().all(|a| w[1].iter().find(|b| b.0 == a.0).is_none_or(|b| b.1 == a.1))
        });
    for (i, set) in sets.iter().enumerate() {
        let pf = set.prefetch;
        let suffix = if sets.len() > 1 { format!(", prefetch {pf}") } else { String::new() };
        let sim: Vec<&Candidate> = set.candidates.iter().filter(|c| c.value.is_some()).collect();
        let fig = |c: &Candidate| if latency_target { c.value } else { c.p99 };
        let points: Vec<(f64, f64)> =
            sim.iter().filter_map(|c| fig(c).map(|v| (f64::from(c.count), v))).collect();
        let band: Vec<(f64, f64, f64)> = if latency_target {
            sim.iter()
                .filter_map(|c| {
                    let (v, u) = (c.value?, c.ci95_upper?);
                    Some((f64::from(c.count), (2.0 * v - u).max(v * 0.5), u))
                })
                .collect()
        } else {
            Vec::new()
        };
        lat_lines.push(Line {
            name: format!(
                "simulated {what}{suffix}{}",
                if band.is_empty() { "" } else { " (95% band)" }
            ),
            points,
            band,
            color: i,
            markers: true,
            ..Line::default()
        });
        let th = &theories[i];
        if latency_target && th.len() >= 2 && (!prefetch_blind || i == 0) {
            let name = if prefetch_blind {
                let others: Vec<String> =
                    sets.iter().skip(1).map(|s| s.prefetch.to_string()).collect();
                format!(
                    "theory: {what} (pooled model, blind to prefetch: for prefetch {} a lower bound)",
                    others.join(", ")
                )
            } else {
                format!("theory: {what}{suffix}")
            };
            lat_lines.push(Line {
                name,
                points: th.clone(),
                dashed: true,
                color: if prefetch_blind { 7 } else { i },
                ..Line::default()
            });
        }
        if let Some(rec) = set.recommended
            && let Some(c) = set.candidates.iter().find(|c| c.count == rec)
        {
            let y = if latency_target { c.ci95_upper.or(c.value) } else { c.p99 };
            if let Some(y) = y {
                marks.push(Mark {
                    x: f64::from(rec),
                    y,
                    label: format!("{rec} consumers{suffix}"),
                    color: i,
                });
            }
        }
        util_lines.push(Line {
            name: format!("utilization{suffix}"),
            points: sim.iter().map(|c| (f64::from(c.count), 100.0 * c.utilization)).collect(),
            color: i,
            markers: true,
            ..Line::default()
        });
    }
    let lat_panel = LineChart {
        title: format!("{} · group {}: {what} against consumers", r.scenario, r.group),
        x_label: "consumers in the group (log scale)".into(),
        y_label: if latency_target { what.clone() } else { format!("p99 {lat_name}") },
        x_axis: XAxis::Log,
        log_y: true,
        y_seconds: true,
        x_integer: true,
        lines: lat_lines,
        hline: latency_target.then(|| (r.target.value, format!("target: {}", r.target))),
        marks: if latency_target { marks.clone() } else { Vec::new() },
        ..LineChart::default()
    };
    let util_panel = LineChart {
        title: format!("{} · group {}: utilization against consumers", r.scenario, r.group),
        x_label: "consumers in the group (log scale)".into(),
        y_label: "busy consumers (%)".into(),
        x_axis: XAxis::Log,
        x_integer: true,
        lines: util_lines,
        hline: (r.target.metric == Metric::Utilization)
            .then(|| (100.0 * r.target.value, format!("target: {}", r.target))),
        ..LineChart::default()
    };
    Figure {
        stem: "sizing".into(),
        caption: format!("Sizing curve of group `{}` (target {})", r.group, r.target),
        panels: vec![lat_panel, util_panel],
        panel_height: PANEL_H,
    }
}

/// One chart per swept parameter: p99 sojourn and utilization of every queue against the
/// parameter, one line per queue and per combination of the other parameters (first 6).
pub fn sweep_figures(specs: &[SetSpec], cells: &[Cell]) -> Vec<Figure> {
    let mut figs = Vec::new();
    for (k, spec) in specs.iter().enumerate() {
        if spec.values.len() < 2 || spec.values.iter().any(|v| value_number(v).is_none()) {
            continue;
        }
        let others = |c: &Cell| -> String {
            c.values
                .iter()
                .enumerate()
                .filter(|(i, _)| *i != k)
                .map(|(i, v)| format!("{}={}", specs[i].path, value_text(v)))
                .collect::<Vec<_>>()
                .join(", ")
        };
        let mut combos: Vec<String> = cells.iter().map(others).collect();
        combos.dedup();
        let mut seen = Vec::new();
        for c in combos {
            if !seen.contains(&c) {
                seen.push(c);
            }
        }
        seen.truncate(6);
        let queues: Vec<String> = cells
            .first()
            .map(|c| c.report.queues.iter().map(|q| q.name.clone()).collect())
            .unwrap_or_default();
        let (mut p99, mut util) = (Vec::new(), Vec::new());
        let mut color = 0;
        for combo in &seen {
            for q in &queues {
                let pts = |f: &dyn Fn(&QueueReport) -> Option<f64>| -> Vec<(f64, f64)> {
                    cells
                        .iter()
                        .filter(|c| &others(c) == combo)
                        .filter_map(|c| {
                            let qr = c.report.queues.iter().find(|x| &x.name == q)?;
                            Some((value_number(&c.values[k])?, f(qr)?))
                        })
                        .collect()
                };
                let name = if combo.is_empty() { q.clone() } else { format!("{q} ({combo})") };
                p99.push(Line {
                    name: name.clone(),
                    points: pts(&|r| r.sojourn_s.p99),
                    color,
                    ..Line::default()
                });
                util.push(Line {
                    name,
                    points: pts(&|r| Some(r.utilization.mean)),
                    color,
                    ..Line::default()
                });
                color += 1;
            }
        }
        let integer = spec.values.iter().all(|v| matches!(v, toml::Value::Integer(_)));
        let panel = |title: String, y: &str, secs: bool, lines: Vec<Line>| LineChart {
            title,
            x_label: spec.path.clone(),
            y_label: y.into(),
            x_axis: XAxis::Linear,
            log_y: secs,
            y_seconds: secs,
            x_integer: integer,
            lines,
            ..LineChart::default()
        };
        figs.push(Figure {
            stem: format!("sweep-{}", slug(&spec.path)),
            caption: format!("p99 sojourn and utilization against `{}`", spec.path),
            panels: vec![
                panel(format!("p99 sojourn against {}", spec.path), "p99 sojourn", true, p99),
                panel(
                    format!("utilization against {}", spec.path),
                    "busy consumers / consumers",
                    false,
                    util,
                ),
            ],
            panel_height: PANEL_H,
        });
    }
    figs
}

/// Absolute floors of the validation heatmap's relative error, by the metric's unit: a
/// difference is divided by theory's value or this floor, whichever is larger, so that a
/// difference of nanoseconds on a wait of nanoseconds (a lightly loaded queue) cannot read
/// as a "250%" error. Times: 1 ms; message counts (queue length, lag): 0.01 messages; the
/// rest (probabilities such as utilization and loss, rates): 0.001.
pub const HEATMAP_FLOOR_S: f64 = 1e-3;
/// See [`HEATMAP_FLOOR_S`].
pub const HEATMAP_FLOOR_PROBABILITY: f64 = 1e-3;
/// See [`HEATMAP_FLOOR_S`].
pub const HEATMAP_FLOOR_MESSAGES: f64 = 1e-2;

/// The floor that applies to a validation metric (`wait_s.p99`, `utilization`, …).
pub fn heatmap_floor(metric: &str) -> f64 {
    if metric.contains("_s.") || metric.ends_with("_s") {
        HEATMAP_FLOOR_S
    } else if metric.contains("length") || metric.contains("lag") {
        HEATMAP_FLOOR_MESSAGES
    } else {
        HEATMAP_FLOOR_PROBABILITY
    }
}

/// |simulated − theory| ÷ max(|theory|, the metric's floor).
pub fn floored_rel_error(metric: &str, theory: f64, simulated: f64) -> f64 {
    (simulated - theory).abs() / theory.abs().max(heatmap_floor(metric))
}

/// The validation matrix as a heatmap: one row per model, one column per load (the cell
/// label's `rho=`), the colour the largest floored relative error over the cell's metrics
/// (hover: which metric, theory and simulation); saturating at 25%.
pub fn validation_heatmap(v: &crate::validate::Validation) -> super::charts::Heatmap {
    let split = |cell: &str| -> (String, String) {
        match cell.rsplit_once(" rho=") {
            Some((m, r)) => (m.to_string(), r.to_string()),
            None => (cell.to_string(), "network".to_string()),
        }
    };
    let mut models: Vec<String> = Vec::new();
    let mut loads: Vec<String> = Vec::new();
    for r in &v.rows {
        let (m, l) = split(&r.cell);
        if !models.contains(&m) {
            models.push(m);
        }
        if !loads.contains(&l) {
            loads.push(l);
        }
    }
    loads.sort_by(|a, b| match (a.parse::<f64>(), b.parse::<f64>()) {
        (Ok(x), Ok(y)) => x.total_cmp(&y),
        _ => a.cmp(b),
    });
    let mut cells = vec![vec![None; loads.len()]; models.len()];
    for r in &v.rows {
        let (m, l) = split(&r.cell);
        let (i, j) = (
            models.iter().position(|x| *x == m).expect("listed"),
            loads.iter().position(|x| *x == l).expect("listed"),
        );
        let e = floored_rel_error(&r.metric, r.theory, r.simulated);
        let worse = match &cells[i][j] {
            Some((prev, _, _)) => e > *prev,
            None => true,
        };
        if worse {
            let text = format!("{}%", crate::report::charts::trim_num(100.0 * e, 2));
            let hover = format!(
                "{}: worst {} ({}), theory {}, simulated {}",
                r.cell,
                r.metric,
                if r.exact { "exact" } else { "approx." },
                crate::report::charts::trim_num(r.theory, 4),
                crate::report::charts::trim_num(r.simulated, 4)
            );
            cells[i][j] = Some((e, text, hover));
        }
    }
    super::charts::Heatmap {
        title: "Validation: worst relative error of simulation against theory, by model and load"
            .into(),
        columns: loads
            .iter()
            .map(|l| if l.parse::<f64>().is_ok() { format!("ρ = {l}") } else { l.clone() })
            .collect(),
        rows: models,
        cells,
        max: 0.25,
        scale_label: format!(
            "|sim − theory| ÷ max(|theory|, floor {}, {} msgs, {})",
            crate::report::charts::fmt_duration(HEATMAP_FLOOR_S),
            HEATMAP_FLOOR_MESSAGES,
            HEATMAP_FLOOR_PROBABILITY
        ),
    }
}

#[cfg(test)]
mod heatmap_tests {
    use super::*;

    /// Nanoseconds against nanoseconds are no "250%" error; real differences stay relative.
    #[test]
    fn the_floor_stops_tiny_absolute_differences_from_looking_huge() {
        // 2 ns simulated against 0.8 ns of theory: 150% plainly, 0.00012% with the floor.
        assert!(floored_rel_error("wait_s.mean", 0.8e-9, 2.0e-9) < 1e-5);
        // Above the floor the error is the plain relative error.
        assert!((floored_rel_error("wait_s.p99", 0.2, 0.21) - 0.05).abs() < 1e-12);
        // Probabilities: a 0.0001 loss against 0.0003 is 0.2 points of the 0.001 floor.
        assert!((floored_rel_error("loss_probability", 0.0001, 0.0003) - 0.2).abs() < 1e-12);
        assert!((floored_rel_error("utilization", 0.8, 0.88) - 0.1).abs() < 1e-12);
        assert_eq!(heatmap_floor("queue_length.mean"), HEATMAP_FLOOR_MESSAGES);
        assert_eq!(heatmap_floor("end_to_end_s.mean"), HEATMAP_FLOOR_S);
        assert_eq!(heatmap_floor("partition[2].lag.mean"), HEATMAP_FLOOR_MESSAGES);
        assert_eq!(heatmap_floor("consumer[2].sojourn_s.mean"), HEATMAP_FLOOR_S);
    }

    #[test]
    fn the_heatmap_puts_models_in_rows_and_loads_in_columns() {
        use crate::validate::{Row, Validation};
        let row = |cell: &str, metric: &str, theory: f64, simulated: f64| Row {
            cell: cell.into(),
            model: "M/M/c".into(),
            exact: true,
            metric: metric.into(),
            theory,
            simulated,
            ci95: 0.0,
            rel_error: 0.0,
            in_ci95: true,
            pass: Some(true),
        };
        let v = Validation {
            replications: 2,
            customers: 100,
            rows: vec![
                row("M/M/1 rho=0.9", "wait_s.mean", 9.0, 9.9),
                row("M/M/1 rho=0.5", "wait_s.mean", 1e-9, 3e-9),
                row("M/M/1 rho=0.5", "utilization", 0.5, 0.51),
                row("M/D/2 rho=0.5", "wait_s.p99", 0.1, 0.1),
            ],
            tutorial: Vec::new(),
        };
        let h = validation_heatmap(&v);
        assert_eq!(h.rows, ["M/M/1", "M/D/2"]);
        assert_eq!(h.columns, ["ρ = 0.5", "ρ = 0.9"]);
        let (e, text, hover) = h.cells[0][0].clone().unwrap();
        // The worst of the cell is utilization's 2%, not the nanoseconds' "200%".
        assert!((e - 0.02).abs() < 1e-12, "{e}");
        assert_eq!(text, "2%");
        assert!(hover.contains("utilization"), "{hover}");
        assert!((h.cells[0][1].clone().unwrap().0 - 0.1).abs() < 1e-12);
        assert!(h.cells[1][1].is_none());
        assert!(h.scale_label.contains("floor 1 ms"), "{}", h.scale_label);
    }
}
