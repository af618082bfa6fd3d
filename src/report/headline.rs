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
    for (w, q) in queue_windows(t, name) {
        let span = w.end_s - w.start_s;
        let growth = (q.offered_rate - q.throughput) * span;
        if growth >= 10.0_f64.max(0.05 * q.offered_rate * span)
            && worst.is_none_or(|(g, _, _)| growth > g)
        {
            worst = Some((growth, w, q));
        }
    }
    let (_, w, q) = worst?;
    let peak = queue_windows(t, name).map(|(_, q)| q.queue_length.max).max().unwrap_or(0);
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

/// A measured figure against theory's, as a person reads it: a signed percentage to two
/// significant digits ("+0.9%", "-39%"), or a ratio once they are more than a factor of two
/// apart ("3.8× theory"), where a percentage in the hundreds says less than the ratio.
pub fn vs_theory(measured: f64, theory: f64) -> Option<String> {
    if !(theory > 0.0 && measured.is_finite() && measured >= 0.0) {
        return None;
    }
    Some(rel_error_text(measured / theory - 1.0))
}

/// A relative error `e` = measured ÷ theory − 1 as [`vs_theory`] writes it.
pub fn rel_error_text(e: f64) -> String {
    let ratio = 1.0 + e;
    if !(0.5..=2.0).contains(&ratio) {
        return format!("{}× theory", trim_num(ratio, 2));
    }
    let p = 100.0 * e;
    let sign = if p > 0.0 { "+" } else { "" };
    format!("{sign}{}%", trim_num(p, 2))
}

/// The worst window of a time-varying run for queue `name` (highest p99 wait after the
/// warm-up): (window, its p99 wait).
fn worst_window<'a>(t: &'a Timeline, name: &'a str) -> Option<(&'a crate::results::Window, f64)> {
    queue_windows(t, name)
        .filter_map(|(w, q)| Some((w, q.wait_s.p99?)))
        .max_by(|a, b| a.1.total_cmp(&b.1))
}

/// Queue `name`'s figures in every window after the warm-up, in time order.
fn queue_windows<'a>(
    t: &'a Timeline,
    name: &'a str,
) -> impl Iterator<Item = (&'a crate::results::Window, &'a crate::results::WindowQueue)> {
    t.windows
        .iter()
        .filter(|w| !w.warmup)
        .filter_map(move |w| Some((w, w.queues.iter().find(|q| q.name == name)?)))
}

/// One queue's part of the headline: p99 wait (with theory's where a model gives it),
/// utilization, loss and the verdict. Under a load that changes over time a stationary
/// model describes no instant of the run, so the headline gives the worst window instead
/// (with the time-varying approximation's figure for it where there is one).
fn queue_part(r: &RunReport, q: &QueueReport, theory: Option<&AnalyticReport>) -> String {
    let mut s = format!("`{}` p99 wait {}", q.name, dur(q.wait_s.p99));
    let a = theory.and_then(|t| t.queue(&q.name));
    if a.is_some_and(|a| a.time_varying_arrivals) {
        s.push_str(" over the run");
        if let Some((w, p99)) = r.timeline.as_ref().and_then(|t| worst_window(t, &q.name)) {
            let _ = write!(
                s,
                ", {} in the worst window ({}–{}",
                fmt_duration(p99),
                crate::dist::fmt_secs(w.start_s),
                crate::dist::fmt_secs(w.end_s)
            );
            let mol = theory
                .and_then(|t| t.timeline.as_ref())
                .and_then(|t| t.windows.iter().find(|pw| pw.start_s == w.start_s))
                .and_then(|pw| pw.queues.iter().find(|pq| pq.name == q.name))
                .and_then(|pq| pq.mol.as_ref());
            if let Some(m) = mol {
                let _ = write!(s, "; MOL approx. {}", fmt_duration(m.wait_s.p99));
                if p99 > 2.0 * m.wait_s.p99 {
                    s.push_str(", blind to the backlog a peak leaves");
                }
            }
            s.push(')');
        }
    } else if let Some(a) = a
        && let (Some(t), Some(m)) = (a.wait_s.p99, q.wait_s.p99)
    {
        let kind = super::figures::theory_kind(a);
        let _ = write!(s, " (theory {}, {kind}", fmt_duration(t));
        if let Some(d) = vs_theory(m, t) {
            let _ = write!(s, ", {d}");
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

/// One row candidate of the index: a queue, or a consumer group on a topic.
struct IndexEntry<'a> {
    label: String,
    wait: &'a crate::results::Latency,
    utilization: f64,
    loss: f64,
    verdict: String,
}

/// The verdict on a consumer group of a topic: whether it keeps up with what is produced
/// (records left unconsumed at the end beyond what is normally in flight) and how many of
/// its consumers have no partition.
fn topic_verdict(g: &crate::results::TopicGroupReport) -> String {
    let left = g.counts.in_flight_at_end;
    let mut v = if left as f64 > 10f64.max(0.05 * g.counts.offered as f64) {
        format!("falls behind: {left} of {} records unconsumed at the end", g.counts.offered)
    } else {
        "keeps up".to_string()
    };
    if g.idle_consumers > 0 {
        let _ = write!(v, "; {} of {} consumers idle", g.idle_consumers, g.consumers);
    }
    v
}

/// Every queue and every topic's consumer group of a run, as index rows.
fn index_entries(r: &RunReport) -> Vec<IndexEntry<'_>> {
    let queues = r.queues.iter().map(|q| IndexEntry {
        label: format!("`{}`", q.name),
        wait: &q.wait_s,
        utilization: q.utilization.mean,
        loss: q.loss_probability.mean,
        verdict: run_verdict(r, q),
    });
    let groups = r.topics.iter().flat_map(|t| {
        t.groups.iter().map(move |g| IndexEntry {
            label: format!("`{}` on `{}`", g.name, t.name),
            wait: &g.wait_s,
            utilization: g.members.iter().map(|m| m.utilization.mean).fold(0.0, f64::max),
            loss: 0.0,
            verdict: topic_verdict(g),
        })
    });
    queues.chain(groups).collect()
}

/// `reports/index.md`: one row per shipped scenario — the busiest queue's (or topic
/// group's) p50/p99/p99.9 wait and utilization, the largest loss, the worst verdict — then
/// the other reports (sizing, validation, comparisons) with their headline.
pub fn index_markdown(runs: &[IndexRun<'_>], others: &[(String, String)]) -> String {
    let mut md = String::from(
        "# Reports\n\nOne row per shipped scenario (`scenarios/*.toml`), regenerated by `scripts/regenerate-reports.sh`. Wait percentiles and utilization are the busiest queue's or topic consumer group's (highest utilization; for a group, its busiest consumer's); loss is the largest over queues (a topic keeps every record); the verdict is the worst over queues and groups.\n\n| scenario | queues, groups | busiest | p50 wait | p99 wait | p99.9 wait | utilization | loss | verdict |\n|---|--:|---|--:|--:|--:|--:|--:|---|\n",
    );
    for run in runs {
        let entries = index_entries(run.report);
        let Some(busy) = entries.iter().max_by(|a, b| a.utilization.total_cmp(&b.utilization))
        else {
            continue;
        };
        let worst_loss = entries.iter().map(|e| e.loss).fold(0.0, f64::max);
        let worst = entries
            .iter()
            .find(|e| !FINE.contains(&e.verdict.as_str()))
            .map_or_else(|| "keeps up".to_string(), |e| format!("{} {}", e.label, e.verdict));
        let _ = writeln!(
            md,
            "| [{}]({}/report.md) | {} | {} | {} | {} | {} | {} | {} | {} |",
            run.dir,
            run.dir,
            entries.len(),
            busy.label,
            dur(busy.wait.p50),
            dur(busy.wait.p99),
            dur(busy.wait.p999),
            pct(busy.utilization),
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
    fn against_theory_two_significant_digits_or_a_ratio() {
        assert_eq!(vs_theory(1.009, 1.0).as_deref(), Some("+0.9%"));
        assert_eq!(vs_theory(0.608, 1.0).as_deref(), Some("-39%"));
        assert_eq!(vs_theory(1.0996, 1.0).as_deref(), Some("+10%"));
        assert_eq!(vs_theory(1.0, 1.0).as_deref(), Some("0%"));
        assert_eq!(vs_theory(3.836, 1.0).as_deref(), Some("3.8× theory"));
        assert_eq!(vs_theory(0.25, 1.0).as_deref(), Some("0.25× theory"));
        assert_eq!(vs_theory(1.0, 0.0), None);
    }

    /// A load that changes over time gets its worst window, not a percentage against the
    /// long-run stationary model (which once read "+579562.1%" on flash-sale).
    #[test]
    fn a_varying_load_headline_gives_the_worst_window_not_a_stationary_comparison() {
        let text = "[simulation]\nhorizon = \"2h\"\nwarmup = \"0s\"\nreplications = 2\nseed = 5\nwindow = \"30m\"\n\
            [[queues]]\nname = \"q\"\n\
            [[producers]]\nname = \"p\"\nrouting_key = \"q\"\narrival = { process = \"schedule\", period = \"2h\", rates = [ { at = \"0s\", rate = 5.0 }, { at = \"1h\", rate = 9.0 } ] }\n\
            [[consumers]]\nname = \"g\"\nqueue = \"q\"\ncount = 1\nservice = { dist = \"exponential\", mean = \"100ms\" }\n";
        let mut m = crate::scenario::Model::from_toml(text, "t.toml").expect("valid");
        m.simulation.replications = 2;
        let out = crate::sim::run(&m, None, &crate::sim::NoProgress);
        let mut theory = crate::analytic::analyze(&m);
        assert!(theory.queues[0].time_varying_arrivals);
        theory.timeline = Some(crate::analytic::timevarying::timeline(&m, 1800.0));
        let h = run_headline(&out.report, Some(&theory));
        assert!(h.contains(" over the run, ") && h.contains(" in the worst window (1h"), "{h}");
        assert!(h.contains("MOL approx. ") && !h.contains("(theory "), "{h}");
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
        let idx = index_markdown(&[IndexRun { dir: "topic", report: &out.report }], &[]);
        assert!(idx.contains("| [topic](topic/report.md) | 1 | `g` on `t` | "), "{idx}");
        assert!(idx.contains("`g` on `t` keeps up; 1 of 4 consumers idle |"), "{idx}");
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
