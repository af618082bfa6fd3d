//! The charts mqsim draws, described as [`LineChart`]s from results: latency percentile
//! curves (simulated with its 95% band, theory dashed, real where measured), ready and
//! unacknowledged messages over time, throughput and utilization over time, sizing
//! curves and sweep curves. Rendering is [`super::charts::render`]; writing files is the CLI's.

use super::charts::{Line, LineChart, XAxis};
use crate::results::{AnalyticReport, Latency, PercentileCurve, QueueReport, RunReport};
use crate::sim::SimOutcome;
use crate::size::{Candidate, Metric, SizeReport};
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
    if r.queues.is_empty() {
        // Topics only: the series are the queues'.
        return Vec::new();
    }
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

/// The timeline's charts, the ones that show the peak: per window, every queue's p99 wait
/// (pooled over replications, with the 95% band of the replications' own p99s) and its
/// backlog (mean ready messages with their 95% band; the largest seen dashed). Empty
/// without a timeline.
pub fn timeline_figures(r: &RunReport) -> Vec<Figure> {
    let Some(t) = &r.timeline else { return Vec::new() };
    let (unit, uname) = time_unit(r.horizon_s);
    let shade = (r.warmup_s > 0.0).then(|| (0.0, r.warmup_s / unit, "warm-up".to_string()));
    let panel = |title: String, y: &str, seconds: bool, lines: Vec<Line>| LineChart {
        title,
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
        hline: None,
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
        p99.push(Line { name: format!("{name} p99 wait"), points, band, dashed: false, color: q });
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
            dashed: false,
            color: q,
        });
        backlog.push(Line {
            name: format!("{name} max ready"),
            points: max,
            band: vec![],
            dashed: true,
            color: q,
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
    }]
}

/// Keeps a time series to at most ~`points` samples: the step a run should record at.
pub fn series_step(horizon: f64, points: usize) -> f64 {
    horizon / points.max(10) as f64
}

/// The sizing chart: the target's latency (p50, p99; theory dashed) and utilization
/// against the consumer count, one line per prefetch setting, the target drawn across.
pub fn sizing_figure(r: &SizeReport) -> Figure {
    let sets: Vec<Vec<Candidate>> = r.settings().into_iter().map(|p| p.candidates).collect();
    let lat_name = if r.target.metric == Metric::Wait { "wait" } else { "sojourn" };
    let latency_target = matches!(r.target.metric, Metric::Wait | Metric::Sojourn);
    let mut lat_lines = Vec::new();
    let mut util_lines = Vec::new();
    for (i, cands) in sets.iter().enumerate() {
        let pf = cands.first().map_or(0, |c| c.prefetch);
        let suffix = if sets.len() > 1 { format!(", prefetch {pf}") } else { String::new() };
        let sim: Vec<&Candidate> = cands.iter().filter(|c| c.value.is_some()).collect();
        for (k, (label, get)) in [
            ("p50", (|c: &Candidate| c.p50) as fn(&Candidate) -> Option<f64>),
            ("p99", |c: &Candidate| c.p99),
        ]
        .into_iter()
        .enumerate()
        {
            lat_lines.push(Line {
                name: format!("{lat_name} {label}{suffix}"),
                points: sim
                    .iter()
                    .filter_map(|c| get(c).map(|v| (f64::from(c.count), v)))
                    .collect(),
                band: vec![],
                dashed: k == 0,
                color: i,
            });
        }
        let theory: Vec<(f64, f64)> =
            cands.iter().filter_map(|c| c.analytic.map(|v| (f64::from(c.count), v))).collect();
        if latency_target && theory.len() >= 2 {
            lat_lines.push(Line {
                name: format!(
                    "theory: {}{suffix}",
                    r.target.to_string().split(" <=").next().unwrap_or("")
                ),
                points: theory,
                band: vec![],
                dashed: true,
                color: i + 3,
            });
        }
        util_lines.push(Line {
            name: format!("utilization{suffix}"),
            points: sim.iter().map(|c| (f64::from(c.count), c.utilization)).collect(),
            band: vec![],
            dashed: false,
            color: i,
        });
    }
    let lat_panel = LineChart {
        title: format!("{}: {lat_name} against consumers", r.group),
        x_label: "consumers in the group".into(),
        y_label: lat_name.into(),
        x_axis: XAxis::Linear,
        log_y: true,
        y_seconds: true,
        x_integer: true,
        lines: lat_lines,
        shade_x: None,
        hline: latency_target.then(|| (r.target.value, format!("target: {}", r.target))),
    };
    let util_panel = LineChart {
        title: format!("{}: utilization against consumers", r.group),
        x_label: "consumers in the group".into(),
        y_label: "busy consumers / consumers".into(),
        x_axis: XAxis::Linear,
        log_y: false,
        y_seconds: false,
        x_integer: true,
        lines: util_lines,
        shade_x: None,
        hline: (r.target.metric == Metric::Utilization)
            .then(|| (r.target.value, format!("target: {}", r.target))),
    };
    Figure {
        stem: "sizing".into(),
        caption: format!("Sizing curve of group `{}` (target {})", r.group, r.target),
        panels: vec![lat_panel, util_panel],
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
                    band: vec![],
                    dashed: false,
                    color,
                });
                util.push(Line {
                    name,
                    points: pts(&|r| Some(r.utilization.mean)),
                    band: vec![],
                    dashed: false,
                    color,
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
            shade_x: None,
            hline: None,
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
        });
    }
    figs
}
