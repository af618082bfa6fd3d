//! The answer first: the one bold line every `report.md` opens with (a run's key figures
//! and verdict per queue, a sizing's recommended counts), the number formats a person
//! reads at a glance (percentages, ± to two significant digits), and `reports/index.md`,
//! one row per shipped scenario.

use super::charts::{fmt_duration, trim_num};
use crate::results::{AnalyticReport, QueueReport, RunReport, Timeline};
use crate::size::{Metric, SizeReport};
use crate::stats::MeanCi;
use std::fmt::Write;

/// A fraction as a percentage a person reads: "80%", "0.52%", "0.0031%", "0%".
pub fn pct(x: f64) -> String {
    if x == 0.0 {
        return "0%".into();
    }
    let p = 100.0 * x;
    if p.abs() >= 10.0 { format!("{p:.0}%") } else { format!("{}%", trim_num(p, 2)) }
}

/// The half-width `h` to two significant digits and `v` rounded to the same decimal place:
/// (value, half-width) as text. `7.98 ±0.017` rather than `7.9809 ±0.0173`.
fn round_pm(v: f64, h: f64) -> (String, String) {
    if h <= 0.0 || !h.is_finite() {
        return (trim_num(v, 4), "0".into());
    }
    let mag = h.abs().log10().floor() as i32;
    let decimals = (1 - mag).max(0) as usize;
    let scale = 10f64.powi(1 - mag);
    let (v, h) = ((v * scale).round() / scale, (h * scale).round() / scale);
    (format!("{v:.decimals$}"), format!("{h:.decimals$}"))
}

/// A number with its 95% half-width rounded to two significant digits.
pub fn num_pm(m: &MeanCi) -> String {
    match m.ci95 {
        Some(h) => {
            let (v, h) = round_pm(m.mean, h);
            format!("{v} ±{h}")
        }
        None => trim_num(m.mean, 4),
    }
}

/// A fraction in % with its half-width (two significant digits).
pub fn pct_pm(m: &MeanCi) -> String {
    match m.ci95 {
        Some(h) if h > 0.0 => {
            let (v, h) = round_pm(100.0 * m.mean, 100.0 * h);
            format!("{v}% ±{h}")
        }
        _ => pct(m.mean),
    }
}

/// A duration with its half-width (two significant digits), both in one unit.
pub fn secs_pm(mean: Option<f64>, h: Option<f64>) -> String {
    match (mean, h) {
        (Some(m), Some(h)) if h > 0.0 => {
            let (k, u) = super::charts::seconds_unit(m.abs().max(h));
            let (v, h) = round_pm(m / k, h / k);
            format!("{v} ±{h} {u}")
        }
        (Some(m), _) => fmt_duration(m),
        _ => "-".into(),
    }
}

/// A duration or "-".
pub fn dur(v: Option<f64>) -> String {
    v.map_or_else(|| "-".into(), fmt_duration)
}

/// Verdicts that are no problem: the index's worst verdict skips them.
const FINE: [&str; 3] =
    ["keeps up", "delay queue: messages leave by TTL to the dead-letter exchange", "unused"];

/// The verdict on one queue: what an operator must know first. A queue without consumers is
/// judged by how messages leave it: a delay queue (they expire and are dead-lettered, as
/// designed) is fine; one where they pile up says how fast.
pub fn verdict(q: &QueueReport) -> String {
    let lost = q.loss_probability.mean;
    let expired = q.expire_probability.as_ref().map_or(0.0, |e| e.mean);
    if q.consumers == 0 {
        let c = &q.counts;
        if c.offered == 0 {
            "unused".into()
        } else if c.expired.unwrap_or(0) > 0
            && c.dead_lettered.unwrap_or(0) >= c.expired.unwrap_or(0)
            && lost < 0.001
        {
            FINE[1].into()
        } else {
            format!(
                "no consumers: {}/s accumulate",
                trim_num(q.offered_rate.mean * (1.0 - lost - expired).max(0.0), 2)
            )
        }
    } else if lost >= 0.001 {
        format!("drops {} of messages", pct(lost))
    } else if expired >= 0.001 {
        format!("{} of messages expire", pct(expired))
    } else if q.utilization.mean >= 0.95 {
        "near saturation".into()
    } else if lost > 0.0 || expired > 0.0 {
        "keeps up (rare losses)".into()
    } else {
        "keeps up".into()
    }
}

/// A queue's worst window of a timeline, if in it the offered rate outran the throughput
/// enough that the backlog grew (by at least 10 messages and 5% of the window's offered
/// messages): "falls behind in a peak: …". The run's averages can say "keeps up" while a
/// transient spike leaves a backlog for an hour.
fn peak_verdict(t: &Timeline, name: &str) -> Option<String> {
    let mut worst: Option<(f64, &crate::results::Window, &crate::results::WindowQueue)> = None;
    for w in t.windows.iter().filter(|w| !w.warmup) {
        let Some(q) = w.queues.iter().find(|q| q.name == name) else { continue };
        let span = w.end_s - w.start_s;
        let growth = (q.offered_rate - q.throughput) * span;
        if growth >= 10.0_f64.max(0.05 * q.offered_rate * span)
            && worst.is_none_or(|(g, _, _)| growth > g)
        {
            worst = Some((growth, w, q));
        }
    }
    let (_, w, q) = worst?;
    let peak = t
        .windows
        .iter()
        .filter(|w| !w.warmup)
        .filter_map(|w| w.queues.iter().find(|q| q.name == name))
        .map(|q| q.queue_length.max)
        .max()
        .unwrap_or(0);
    Some(format!(
        "falls behind in a peak: offered {}/s against {}/s served at {}–{}, backlog up to {peak}",
        trim_num(q.offered_rate, 3),
        trim_num(q.throughput, 3),
        crate::dist::fmt_secs(w.start_s),
        crate::dist::fmt_secs(w.end_s),
    ))
}

/// [`verdict`] of queue `q` of run `r`, judging its worst window when the run has a
/// timeline and the queue's averages see no worse problem.
pub fn run_verdict(r: &RunReport, q: &QueueReport) -> String {
    let v = verdict(q);
    if q.consumers == 0 || (!FINE.contains(&v.as_str()) && !v.starts_with("keeps up")) {
        return v;
    }
    r.timeline.as_ref().and_then(|t| peak_verdict(t, &q.name)).unwrap_or(v)
}

fn loss_text(q: &QueueReport) -> String {
    if q.loss_probability.mean == 0.0 {
        "no loss".into()
    } else {
        format!("loss {}", pct(q.loss_probability.mean))
    }
}

/// One queue's part of the headline: p99 wait (with theory's where a model gives it),
/// utilization, loss and the verdict.
fn queue_part(r: &RunReport, q: &QueueReport, theory: Option<&AnalyticReport>) -> String {
    let mut s = format!("`{}` p99 wait {}", q.name, dur(q.wait_s.p99));
    if let Some(a) = theory.and_then(|t| t.queue(&q.name))
        && let (Some(t), Some(m)) = (a.wait_s.p99, q.wait_s.p99)
    {
        let kind = super::figures::theory_kind(a);
        let _ = write!(s, " (theory {}, {kind}", fmt_duration(t));
        if t > 0.0 {
            let _ = write!(s, ", {:+.1}%", 100.0 * (m - t) / t);
        }
        s.push(')');
    }
    let _ = write!(
        s,
        ", utilization {}, {} — {}",
        pct(q.utilization.mean),
        loss_text(q),
        run_verdict(r, q)
    );
    s
}

/// The bold line a run's report opens with.
pub fn run_headline(r: &RunReport, theory: Option<&AnalyticReport>) -> String {
    let mut parts: Vec<String> = r.queues.iter().map(|q| queue_part(r, q, theory)).collect();
    parts.extend(r.topics.iter().flat_map(topic_parts));
    format!("**{}**", parts.join("; "))
}

/// A topic's part of the headline: per group its p99 sojourn, throughput and idle
/// consumers, and the partition with the largest mean lag against the average.
fn topic_parts(t: &crate::results::TopicReport) -> Vec<String> {
    let n = t.partitions.len().max(1) as f64;
    let avg = t.partitions.iter().map(|p| p.lag.mean).sum::<f64>() / n;
    let hot = t.partitions.iter().max_by(|a, b| a.lag.mean.total_cmp(&b.lag.mean));
    t.groups
        .iter()
        .map(|g| {
            let mut s = format!(
                "`{}` on `{}`: p99 sojourn {}, {}/s",
                g.name,
                t.name,
                dur(g.sojourn_s.p99),
                crate::report::charts::trim_num(g.throughput.mean, 3)
            );
            if g.idle_consumers > 0 {
                let _ = write!(s, ", {} of {} consumers idle", g.idle_consumers, g.consumers);
            }
            if let Some(h) = hot {
                let _ = write!(
                    s,
                    ", hottest partition {} lag {} (average {})",
                    h.index,
                    crate::report::charts::trim_num(h.lag.mean, 3),
                    crate::report::charts::trim_num(avg, 3)
                );
            }
            s
        })
        .collect()
}

/// The bold line a sizing report opens with: the recommended count per prefetch setting
/// with the figure it rests on.
pub fn size_headline(r: &SizeReport) -> String {
    let sets = r.settings();
    let mut parts = Vec::new();
    for (i, s) in sets.iter().enumerate() {
        let Some(rec) = s.recommended else {
            parts
                .push(format!("prefetch {}: no count up to the search limit meets it", s.prefetch));
            continue;
        };
        let c = s.candidates.iter().find(|c| c.count == rec);
        if i == 0 {
            let mut p = format!("**{rec} consumers** (prefetch {}) meet {}", s.prefetch, r.target);
            if let Some(c) = c {
                let is_time = matches!(r.target.metric, Metric::Wait | Metric::Sojourn);
                let f = |v: Option<f64>| {
                    v.map_or("-".into(), |v| if is_time { fmt_duration(v) } else { pct(v) })
                };
                let _ = write!(
                    p,
                    ": {}, upper bound {}, utilization {}",
                    f(c.value),
                    f(c.ci95_upper),
                    pct(c.utilization)
                );
            }
            parts.push(p);
        } else {
            parts.push(format!("prefetch {} needs {rec}", s.prefetch));
        }
    }
    if parts.is_empty() {
        return format!("**No consumer count meets {}**", r.target);
    }
    let first = parts.remove(0);
    if parts.is_empty() { first } else { format!("{first}; {}", parts.join("; ")) }
}

/// What `reports/index.md` shows of a run: its directory and report.
pub struct IndexRun<'a> {
    /// Directory name under reports/.
    pub dir: &'a str,
    /// The run's report.
    pub report: &'a RunReport,
}

/// `reports/index.md`: one row per shipped scenario — the busiest queue's p50/p99/p99.9
/// wait and utilization, the largest loss over queues, the worst verdict — then the other
/// reports (sizing, validation, comparisons) with their headline.
pub fn index_markdown(runs: &[IndexRun<'_>], others: &[(String, String)]) -> String {
    let mut md = String::from(
        "# Reports\n\nOne row per shipped scenario (`scenarios/*.toml`), regenerated by `scripts/regenerate-reports.sh`. Wait percentiles and utilization are the busiest queue's (highest utilization); loss is the largest over queues; the verdict is the worst over queues.\n\n| scenario | queues | busiest | p50 wait | p99 wait | p99.9 wait | utilization | loss | verdict |\n|---|--:|---|--:|--:|--:|--:|--:|---|\n",
    );
    for run in runs {
        let r = run.report;
        let Some(busy) =
            r.queues.iter().max_by(|a, b| a.utilization.mean.total_cmp(&b.utilization.mean))
        else {
            continue;
        };
        let worst_loss = r.queues.iter().map(|q| q.loss_probability.mean).fold(0.0, f64::max);
        let verdicts: Vec<String> = r.queues.iter().map(|q| run_verdict(r, q)).collect();
        let worst = verdicts
            .iter()
            .zip(&r.queues)
            .find(|(v, _)| !FINE.contains(&v.as_str()))
            .map_or_else(|| "keeps up".to_string(), |(v, q)| format!("`{}` {v}", q.name));
        let _ = writeln!(
            md,
            "| [{}]({}/report.md) | {} | `{}` | {} | {} | {} | {} | {} | {} |",
            run.dir,
            run.dir,
            r.queues.len(),
            busy.name,
            dur(busy.wait_s.p50),
            dur(busy.wait_s.p99),
            dur(busy.wait_s.p999),
            pct(busy.utilization.mean),
            pct(worst_loss),
            worst
        );
    }
    if !others.is_empty() {
        md.push_str("\n## Other reports\n\n");
        for (dir, headline) in others {
            let _ = writeln!(md, "- [{dir}]({dir}/report.md): {headline}");
        }
    }
    md
}

/// The first bold line of a report.md (its headline), if any.
pub fn headline_of(report_md: &str) -> Option<String> {
    report_md.lines().find(|l| l.starts_with("**")).map(str::to_string)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plus_minus_to_two_significant_digits() {
        assert_eq!(num_pm(&MeanCi { mean: 7.9809, ci95: Some(0.0173) }), "7.981 ±0.017");
        assert_eq!(pct_pm(&MeanCi { mean: 0.7987, ci95: Some(0.0027) }), "79.87% ±0.27");
        assert_eq!(secs_pm(Some(0.3998), Some(0.01358)), "400 ±14 ms");
        assert_eq!(pct(0.0), "0%");
        assert_eq!(pct(0.8), "80%");
        assert_eq!(pct(0.00523), "0.52%");
    }

    #[test]
    fn a_topic_only_run_has_a_headline_naming_its_groups_and_hot_partition() {
        let text = "[simulation]\nhorizon = \"60s\"\nwarmup = \"5s\"\nreplications = 2\nseed = 3\n\
            [[topics]]\nname = \"t\"\npartitions = 3\n\
            [[producers]]\nname = \"p\"\ntopic = \"t\"\nkeys = { dist = \"none\" }\narrival = { dist = \"exponential\", rate = 30.0 }\n\
            [[consumers]]\nname = \"g\"\ntopic = \"t\"\ncount = 4\nservice = { dist = \"exponential\", mean = \"10ms\" }\n";
        let m = crate::scenario::Model::from_toml(text, "t.toml").expect("valid");
        let out = crate::sim::run(&m, None, &crate::sim::NoProgress);
        let h = run_headline(&out.report, None);
        assert!(h.starts_with("**`g` on `t`: p99 sojourn "), "{h}");
        assert!(h.contains("1 of 4 consumers idle") && h.contains("hottest partition "), "{h}");
    }

    #[test]
    fn a_run_headline_gives_each_queue_its_figures_and_verdict() {
        use crate::analytic::analyze;
        use crate::analytic::tests::{PIPELINE, model};
        let mut m = model(PIPELINE);
        m.simulation.replications = 3;
        m.simulation.horizon = 600.0;
        m.simulation.warmup = 60.0;
        let out = crate::sim::run(&m, None, &crate::sim::NoProgress);
        let theory = analyze(&m);
        let h = run_headline(&out.report, Some(&theory));
        assert!(h.starts_with("**`orders` p99 wait ") && h.ends_with("**"), "{h}");
        assert!(h.contains("(theory ") && h.contains(", exact, "), "{h}");
        assert!(h.contains("%, no loss — keeps up"), "{h}");
        assert_eq!(h.matches(" — ").count(), out.report.queues.len(), "{h}");
        let idx = index_markdown(&[IndexRun { dir: "pipe", report: &out.report }], &[]);
        assert!(idx.contains("| [pipe](pipe/report.md) | "), "{idx}");
        assert_eq!(headline_of(&format!("# t\n\n{h}\n")), Some(h));
    }
}

#[cfg(test)]
mod verdict_tests {
    use super::*;

    fn run(path: &str, horizon: f64, window: Option<f64>) -> RunReport {
        let text = std::fs::read_to_string(path).expect("a shipped scenario");
        let mut m = crate::scenario::Model::from_toml(&text, path).expect("valid");
        m.simulation.replications = 2;
        m.simulation.horizon = horizon;
        m.simulation.warmup = m.simulation.warmup.min(horizon / 10.0);
        if let Some(w) = window {
            m.simulation.window = Some(w);
        }
        crate::sim::run(&m, None, &crate::sim::NoProgress).report
    }

    /// A delay queue (TTL, dead-lettered back, no consumers by design) is fine; a parking
    /// lot says how fast it fills; the index flags neither as "no consumers".
    #[test]
    fn a_delay_queue_is_not_a_queue_without_consumers() {
        let r = run("scenarios/retry-with-delay.toml", 1800.0, None);
        let q = |n: &str| r.queues.iter().find(|q| q.name == n).unwrap();
        assert_eq!(run_verdict(&r, q("work.delay")), FINE[1]);
        let parked = run_verdict(&r, q("work.parking-lot"));
        assert!(
            parked.starts_with("no consumers: 0.0") && parked.ends_with("/s accumulate"),
            "{parked}"
        );
        let idx = index_markdown(&[IndexRun { dir: "retry", report: &r }], &[]);
        assert!(!idx.contains("`work.delay`"), "{idx}");
        assert!(idx.contains("`work.parking-lot` no consumers: "), "{idx}");
    }

    /// A transient spike the run's averages hide: the worst window's backlog grows, so the
    /// verdict is not "keeps up"; the same run without a timeline keeps its average verdict.
    #[test]
    fn a_spike_whose_backlog_grows_does_not_keep_up() {
        let r = run("scenarios/flash-sale.toml", 10_800.0, Some(300.0));
        let q = &r.queues[0];
        assert_eq!(verdict(q), "keeps up");
        let v = run_verdict(&r, q);
        assert!(v.starts_with("falls behind in a peak: offered 16"), "{v}");
        let idx = index_markdown(&[IndexRun { dir: "flash", report: &r }], &[]);
        assert!(idx.contains("falls behind in a peak") && !idx.ends_with("keeps up |\n"), "{idx}");
        let mut flat = r.clone();
        flat.timeline = None;
        assert_eq!(run_verdict(&flat, &flat.queues[0]), "keeps up");
    }
}
