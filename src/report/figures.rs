//! The charts mqsim draws, described as [`LineChart`]s from results: latency percentile
//! curves (simulated with its 95% band, theory dashed, real where measured), ready and
//! unacknowledged messages over time, throughput and utilization over time, and sizing
//! curves. Rendering is [`super::charts::render`]; writing files is the CLI's.

use super::charts::{Line, LineChart, XAxis};
use crate::results::{AnalyticReport, Latency, PercentileCurve, RunReport};
use crate::sim::SimOutcome;

/// A chart to write: file stem, caption, and the stacked panels.
#[derive(Debug, Clone)]
pub struct Figure {
    /// File name without extension, e.g. `latency-orders`.
    pub stem: String,
    /// One-line caption for report.md.
    pub caption: String,
    /// Panels, stacked vertically.
    pub panels: Vec<LineChart>,
}

/// A file-name-safe version of a queue name.
pub fn slug(name: &str) -> String {
    name.chars()
        .map(|c| if c.is_ascii_alphanumeric() || c == '-' || c == '_' { c } else { '_' })
        .collect()
}

fn sim_lines(name: &str, c: &PercentileCurve, color: usize) -> Line {
    Line {
        name: name.to_string(),
        points: c.pooled.clone(),
        band: c.replicated.iter().map(|&(q, m, h)| (q, (m - h).max(0.0), m + h)).collect(),
        dashed: false,
        color,
    }
}

/// The percentile line of a latency, through the percentiles it has; none with fewer than 2.
fn percentile_line(name: &str, l: &Latency, dashed: bool, color: usize) -> Option<Line> {
    let points: Vec<(f64, f64)> =
        l.percentiles().into_iter().filter_map(|(q, v)| v.map(|v| (q, v))).collect();
    (points.len() >= 2).then(|| Line { name: name.into(), points, band: vec![], dashed, color })
}

fn theory_line(l: &Latency, color: usize) -> Option<Line> {
    percentile_line("theory", l, true, color)
}

fn real_line(l: &Latency, color: usize) -> Option<Line> {
    percentile_line("real broker", l, false, color)
}

fn percentile_panel(title: String, y: &str, lines: Vec<Line>) -> LineChart {
    LineChart {
        title,
        x_label: "percentile of messages".into(),
        y_label: y.into(),
        x_axis: XAxis::Nines,
        log_y: true,
        y_seconds: true,
        x_integer: false,
        lines,
        shade_x: None,
        hline: None,
    }
}

/// Wait and sojourn percentile curves of every queue: simulated (pooled, with the 95% band
/// of per-replication percentiles), theory where a model gives quantiles, and the real
/// broker's where a loadtest report is given.
pub fn latency_figures(
    sim: &SimOutcome,
    theory: Option<&AnalyticReport>,
    real: Option<&RunReport>,
) -> Vec<Figure> {
    let r = &sim.report;
    r.queues
        .iter()
        .enumerate()
        .filter(|(q, _)| !sim.curves[*q].sojourn.pooled.is_empty())
        .map(|(q, qr)| {
            let a = theory.and_then(|t| t.queue(&qr.name));
            let rq = real.and_then(|rr| rr.queues.iter().find(|x| x.name == qr.name));
            let mut wait = vec![sim_lines("simulated (95% band)", &sim.curves[q].wait, 0)];
            let mut soj = vec![sim_lines("simulated (95% band)", &sim.curves[q].sojourn, 0)];
            if let Some(a) = a {
                wait.extend(theory_line(&a.wait_s, 1));
                soj.extend(theory_line(&a.sojourn_s, 1));
            }
            if let Some(rq) = rq {
                wait.extend(real_line(&rq.wait_s, 2));
                soj.extend(real_line(&rq.sojourn_s, 2));
            }
            Figure {
                stem: format!("latency-{}", slug(&qr.name)),
                caption: format!("Wait and sojourn percentiles of queue `{}`", qr.name),
                panels: vec![
                    percentile_panel(
                        format!("{}: wait until service starts", qr.name),
                        "wait",
                        wait,
                    ),
                    percentile_panel(
                        format!("{}: sojourn until service ends", qr.name),
                        "sojourn",
                        soj,
                    ),
                ],
            }
        })
        .collect()
}

/// Theory's wait and sojourn percentile curves for every queue whose model gives quantiles
/// (`analyze --out`).
pub fn analytic_figures(theory: &AnalyticReport) -> Vec<Figure> {
    theory
        .queues
        .iter()
        .filter_map(|a| {
            let wait = theory_line(&a.wait_s, 1)?;
            let mut panels = vec![percentile_panel(
                format!(
                    "{}: wait until service starts ({})",
                    a.name,
                    a.model.as_deref().unwrap_or("-")
                ),
                "wait",
                vec![wait],
            )];
            if let Some(soj) = theory_line(&a.sojourn_s, 1) {
                panels.push(percentile_panel(
                    format!("{}: sojourn until service ends", a.name),
                    "sojourn",
                    vec![soj],
                ));
            }
            Some(Figure {
                stem: format!("latency-{}", slug(&a.name)),
                caption: format!("Theory's wait and sojourn percentiles of queue `{}`", a.name),
                panels,
            })
        })
        .collect()
}

/// The real broker's wait and sojourn percentiles of every queue, with theory dashed where
/// a model gives quantiles (`loadtest --out`).
pub fn real_figures(real: &RunReport, theory: Option<&AnalyticReport>) -> Vec<Figure> {
    real.queues
        .iter()
        .filter_map(|rq| {
            let a = theory.and_then(|t| t.queue(&rq.name)).filter(|a| a.stable);
            let mut wait = vec![real_line(&rq.wait_s, 2)?];
            let mut soj: Vec<Line> = real_line(&rq.sojourn_s, 2).into_iter().collect();
            if let Some(a) = a {
                wait.extend(theory_line(&a.wait_s, 1));
                soj.extend(theory_line(&a.sojourn_s, 1));
            }
            Some(Figure {
                stem: format!("latency-{}", slug(&rq.name)),
                caption: format!(
                    "Real broker: wait and sojourn percentiles of queue `{}`",
                    rq.name
                ),
                panels: vec![
                    percentile_panel(
                        format!("{} (real broker): wait until service starts", rq.name),
                        "wait",
                        wait,
                    ),
                    percentile_panel(
                        format!("{} (real broker): sojourn until service ends", rq.name),
                        "sojourn",
                        soj,
                    ),
                ],
            })
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

/// Ready and unacknowledged messages over time (replication 0), warm-up shaded; throughput
/// and utilization over time. Empty without a series.
pub fn time_figures(sim: &SimOutcome) -> Vec<Figure> {
    let Some(s) = &sim.series else { return Vec::new() };
    let r = &sim.report;
    let (unit, uname) = time_unit(r.horizon_s);
    let t: Vec<f64> = s.times.iter().map(|t| t / unit).collect();
    let shade =
        (r.warmup_s > 0.0).then(|| (0.0, r.warmup_s / unit, "warm-up (discarded)".to_string()));
    let panel = |title: &str, y: &str, lines: Vec<Line>| LineChart {
        title: title.into(),
        x_label: format!("scenario time ({uname})"),
        y_label: y.into(),
        x_axis: XAxis::Linear,
        log_y: false,
        y_seconds: false,
        x_integer: false,
        lines,
        shade_x: shade.clone(),
        hline: None,
    };
    let series_line = |name: String, ys: Vec<f64>, color: usize, dashed: bool| Line {
        name,
        points: t.iter().copied().zip(ys).collect(),
        band: vec![],
        dashed,
        color,
    };
    let mut backlog = Vec::new();
    let mut thr = Vec::new();
    let mut util = Vec::new();
    for (q, qr) in r.queues.iter().enumerate() {
        backlog.push(series_line(format!("{} ready", qr.name), s.ready[q].clone(), q, false));
        if s.unacked[q].iter().any(|&x| x > 0.0) {
            backlog.push(series_line(
                format!("{} unacked (in consumers)", qr.name),
                s.unacked[q].clone(),
                q,
                true,
            ));
        }
        let mut prev = 0;
        let rate: Vec<f64> = s.completed[q]
            .iter()
            .map(|&c| {
                let r = (c - prev) as f64 / s.step;
                prev = c;
                r
            })
            .collect();
        thr.push(series_line(qr.name.clone(), rate, q, false));
        if qr.consumers > 0 {
            let busy: Vec<f64> = s.busy[q].iter().map(|&b| b / f64::from(qr.consumers)).collect();
            util.push(series_line(qr.name.clone(), busy, q, false));
        }
    }
    vec![
        Figure {
            stem: "queue-length".into(),
            caption: "Ready messages (solid) and unacknowledged messages held by consumers (dashed), window averages over time, replication 1".into(),
            panels: vec![panel("Messages in queues over time (replication 1)", "messages", backlog)],
        },
        Figure {
            stem: "throughput".into(),
            caption: "Throughput and utilization over time, replication 1 (window averages)".into(),
            panels: vec![
                panel("Throughput over time (replication 1)", "services ended / s", thr),
                panel("Utilization over time (replication 1)", "busy consumers / consumers", util),
            ],
        },
    ]
}

/// Keeps a time series to at most ~`points` samples: the step a run should record at.
pub fn series_step(horizon: f64, points: usize) -> f64 {
    horizon / points.max(10) as f64
}
