//! Terminal tables of Kafka-style topics: per partition (rate, lag), per group (idle
//! consumers, throughput, wait, sojourn, counts) and per consumer, for a run and for an
//! analysis.

use super::table::{Table, num_ci, secs, secs_ci};
use crate::results::{AnalyticReport, RunReport, TopicAnalysis, TopicReport};
use std::fmt::Write;

/// The topics of a run or load test.
pub fn render_run(topics: &[TopicReport]) -> String {
    let mut out = String::new();
    for t in topics {
        let _ = writeln!(out, "\ntopic {} — {} partitions", t.name, t.partitions.len());
        let mut p = Table::new(&["partition", "offered/s", "lag mean", "lag max", "lag s mean"]);
        for x in &t.partitions {
            p.row(vec![
                x.index.to_string(),
                num_ci(&x.offered_rate, 2),
                format!(
                    "{:.3}{}",
                    x.lag.mean,
                    x.lag.ci95.map(|h| format!(" ±{h:.3}")).unwrap_or_default()
                ),
                x.lag.max.to_string(),
                secs(x.lag_s.mean),
            ]);
        }
        out.push_str(&p.render());
        let mut g = Table::new(&[
            "group",
            "assignment",
            "consumers",
            "idle",
            "throughput/s",
            "wait mean",
            "wait p99",
            "sojourn mean",
            "sojourn p99",
            "offered",
            "acked",
            "in flight at end",
            "balanced",
        ]);
        for x in &t.groups {
            g.row(vec![
                x.name.clone(),
                x.assignment.clone(),
                x.consumers.to_string(),
                x.idle_consumers.to_string(),
                num_ci(&x.throughput, 2),
                secs_ci(x.wait_s.mean, x.wait_s.ci95),
                secs(x.wait_s.p99),
                secs_ci(x.sojourn_s.mean, x.sojourn_s.ci95),
                secs(x.sojourn_s.p99),
                x.counts.offered.to_string(),
                x.counts.acked.to_string(),
                x.counts.in_flight_at_end.to_string(),
                if x.counts.balanced() { "yes" } else { "NO" }.into(),
            ]);
        }
        out.push('\n');
        out.push_str(&g.render());
        for x in &t.groups {
            let mut m = Table::new(&[
                "consumer",
                "partitions",
                "throughput/s",
                "utilization",
                "sojourn mean",
            ]);
            for c in &x.members {
                m.row(vec![
                    c.index.to_string(),
                    partitions(&c.partitions),
                    num_ci(&c.throughput, 2),
                    num_ci(&c.utilization, 3),
                    c.sojourn_mean_s.map_or_else(|| "-".into(), |s| secs_ci(Some(s.mean), s.ci95)),
                ]);
            }
            let _ = writeln!(
                out,
                "\ngroup {} by consumer (partitions with every member alive):",
                x.name
            );
            out.push_str(&m.render());
            if x.idle_consumers > 0 {
                let _ = writeln!(
                    out,
                    "{} of {} consumers are idle: a partition has one consumer per group, and there are only {} partitions.",
                    x.idle_consumers,
                    x.consumers,
                    t.partitions.len()
                );
            }
            if let Some(r) = x.rebalances {
                let _ = writeln!(out, "rebalances: {r} (all replications)");
            }
        }
    }
    out.push_str("\nlag = records published to the partition not yet processed by the group furthest behind (the one in service included); wait = publish to start of processing, sojourn = to its end; balanced: offered = acked + in flight at end.\n");
    out
}

fn partitions(p: &[u32]) -> String {
    if p.is_empty() {
        "- (idle)".into()
    } else {
        p.iter().map(u32::to_string).collect::<Vec<_>>().join(",")
    }
}

fn opt(x: Option<f64>, digits: usize) -> String {
    x.map_or_else(|| "-".into(), |v| format!("{v:.digits$}"))
}

/// The topics of an analysis.
pub fn render_analytic(topics: &[TopicAnalysis]) -> String {
    let mut out = String::new();
    for t in topics {
        let _ = writeln!(out, "\ntopic {} — {} partitions", t.name, t.partitions.len());
        let mut p = Table::new(&["partition", "keys", "offered/s", "lag mean"]);
        for x in &t.partitions {
            p.row(vec![
                x.index.to_string(),
                x.keys.to_string(),
                format!("{:.2}", x.offered_rate),
                opt(x.lag_mean, 3),
            ]);
        }
        out.push_str(&p.render());
        for g in &t.groups {
            let _ = writeln!(
                out,
                "\ngroup {} ({}, {} consumers, {} idle): {}{}, {}; throughput {:.2}/s, wait mean {}, sojourn mean {}",
                g.name,
                g.assignment,
                g.consumers,
                g.idle_consumers,
                g.model,
                if g.exact { " (exact)" } else { " (approximate)" },
                if g.stable { "stable" } else { "UNSTABLE" },
                g.throughput,
                secs(g.wait_s.mean),
                secs(g.sojourn_s.mean),
            );
            let mut m = Table::new(&[
                "consumer",
                "partitions",
                "arrivals/s",
                "rho",
                "stable",
                "wait mean",
                "sojourn mean",
                "sojourn p99",
            ]);
            for c in &g.members {
                m.row(vec![
                    c.index.to_string(),
                    partitions(&c.partitions),
                    format!("{:.2}", c.arrival_rate),
                    format!("{:.3}", c.rho),
                    if c.stable { "yes" } else { "NO" }.into(),
                    secs(c.wait_mean_s),
                    secs(c.sojourn_mean_s),
                    secs(c.sojourn_p99_s),
                ]);
            }
            out.push_str(&m.render());
            for n in &g.notes {
                let _ = writeln!(out, "  [{}] {n}", g.name);
            }
        }
    }
    out
}

fn rel(sim: f64, theory: f64) -> String {
    if theory == 0.0 { "-".into() } else { format!("{:+.2}%", (sim - theory) / theory * 100.0) }
}

/// The `report.md` section of a run's topics beside theory: per partition (rate, lag) and
/// per consumer (load, sojourn), with the relative error. Empty without topics.
pub fn markdown(r: &RunReport, theory: Option<&AnalyticReport>) -> String {
    let mut out = String::new();
    for t in &r.topics {
        let a = theory.and_then(|a| a.topics.iter().find(|x| x.name == t.name));
        let _ = writeln!(out, "\n## Topic {} ({} partitions)\n", t.name, t.partitions.len());
        out.push_str("| partition | offered/s | theory | lag mean | theory | lag max | lag (s) mean |\n|--:|--:|--:|--:|--:|--:|--:|\n");
        for p in &t.partitions {
            let pa = a.and_then(|a| a.partitions.get(p.index as usize));
            let _ = writeln!(
                out,
                "| {} | {} | {} | {:.3}{} | {} | {} | {} |",
                p.index,
                num_ci(&p.offered_rate, 2),
                pa.map_or("-".into(), |x| format!("{:.2}", x.offered_rate)),
                p.lag.mean,
                p.lag.ci95.map(|h| format!(" ±{h:.3}")).unwrap_or_default(),
                opt(pa.and_then(|x| x.lag_mean), 3),
                p.lag.max,
                secs(p.lag_s.mean),
            );
        }
        for g in &t.groups {
            let ga = a.and_then(|a| a.groups.iter().find(|x| x.name == g.name));
            let _ = writeln!(
                out,
                "\n### Group {} ({}, {} consumers, {} idle)\n",
                g.name, g.assignment, g.consumers, g.idle_consumers
            );
            if let Some(ga) = ga {
                let _ = writeln!(
                    out,
                    "Theory: {}{}. Sojourn mean: simulated {}, theory {}{}.\n",
                    ga.model,
                    if ga.exact { " (exact)" } else { " (approximate)" },
                    secs_ci(g.sojourn_s.mean, g.sojourn_s.ci95),
                    secs(ga.sojourn_s.mean),
                    match (g.sojourn_s.mean, ga.sojourn_s.mean) {
                        (Some(s), Some(t)) => format!(" ({})", rel(s, t)),
                        _ => String::new(),
                    }
                );
            }
            out.push_str("| consumer | partitions | utilization | theory rho | sojourn mean | theory | rel. error |\n|--:|--|--:|--:|--:|--:|--:|\n");
            for m in &g.members {
                let ma = ga.and_then(|x| x.members.get(m.index as usize));
                let sim = m.sojourn_mean_s.map(|s| s.mean);
                let th = ma.and_then(|x| x.sojourn_mean_s);
                let _ = writeln!(
                    out,
                    "| {} | {} | {} | {} | {} | {} | {} |",
                    m.index,
                    partitions(&m.partitions),
                    num_ci(&m.utilization, 3),
                    ma.map_or("-".into(), |x| format!("{:.3}", x.rho)),
                    m.sojourn_mean_s.map_or("-".into(), |s| secs_ci(Some(s.mean), s.ci95)),
                    secs(th),
                    match (sim, th) {
                        (Some(s), Some(t)) => rel(s, t),
                        _ => "-".into(),
                    },
                );
            }
            let _ = writeln!(
                out,
                "\nCounts: offered {}, acked {}, in flight at end {} ({}).",
                g.counts.offered,
                g.counts.acked,
                g.counts.in_flight_at_end,
                if g.counts.balanced() { "balanced" } else { "NOT balanced" }
            );
            if g.idle_consumers > 0 {
                let _ = writeln!(
                    out,
                    "\n**{} of {} consumers are idle**: each partition has exactly one consumer in the group and there are only {} partitions; more consumers cannot help, more partitions can.",
                    g.idle_consumers,
                    g.consumers,
                    t.partitions.len()
                );
            }
            if let Some(ga) = ga {
                out.push('\n');
                for n in &ga.notes {
                    let _ = writeln!(out, "- {n}");
                }
            }
        }
    }
    out
}

/// The `report.md` section of a real (load test) run's topics beside theory, for
/// `compare`'s page; empty without topics.
pub fn real_markdown(real: &RunReport, theory: &AnalyticReport) -> String {
    if real.topics.is_empty() {
        return String::new();
    }
    let mut out = format!(
        "\n# The in-crate broker (loadtest): {} scenario seconds (warm-up {}), time scale {}\n",
        real.horizon_s,
        real.warmup_s,
        real.time_scale.unwrap_or(1.0)
    );
    out.push_str("\nOne run on the real clock (no interval), on replication 0's sample path.\n");
    out.push_str(&markdown(real, Some(theory)).replace("\n## Topic", "\n## Real broker: topic"));
    out
}

fn size_value(t: &crate::size::Target, v: Option<f64>) -> String {
    if t.metric.is_time() { secs(v) } else { v.map_or("-".into(), |x| format!("{x:.4}")) }
}

/// The terminal view of a topic group's sizing: per partition count the candidates and
/// the answer, why more consumers cannot help where none meets, then the tutorial's rule.
pub fn render_size(r: &crate::size::topic::TopicSizeReport) -> String {
    let mut out = String::new();
    if r.partial {
        let _ = writeln!(out, "PARTIAL: interrupted before the search finished\n");
    }
    let _ = write!(
        out,
        "{} — sizing group \"{}\" on topic \"{}\" for {}\n\n",
        r.scenario, r.group, r.topic, r.target
    );
    for s in r.settings() {
        let _ = writeln!(out, "{} partitions:", s.partitions);
        let mut tab = Table::new(&[
            "consumers",
            "idle",
            "meets",
            "simulated",
            "95% upper",
            "theory",
            "hottest rho",
            "max utilization",
            "worst lag",
            "p99",
        ]);
        for c in &s.candidates {
            tab.row(vec![
                c.count.to_string(),
                c.idle_consumers.to_string(),
                if c.meets { "yes".into() } else { "no".into() },
                size_value(&r.target, c.value),
                size_value(&r.target, c.ci95_upper),
                size_value(&r.target, c.analytic),
                format!("{:.3}", c.hottest_rho),
                if c.value.is_some() { format!("{:.3}", c.utilization) } else { "-".into() },
                c.lag_max_partition.map_or("-".into(), |l| format!("{l:.2}")),
                secs(c.p99),
            ]);
        }
        out.push_str(&tab.render());
        match s.fewest_keeping_up {
            Some(k) if k > 1 => {
                let _ = writeln!(
                    out,
                    "fewer than {k} consumers: one of them gets more than it can process (theory), not simulated"
                );
            }
            _ => {}
        }
        if !s.not_run.is_empty() {
            let counts: Vec<String> = s.not_run.iter().map(u32::to_string).collect();
            let _ = writeln!(out, "not run: {} consumers", counts.join(", "));
        }
        let _ = writeln!(
            out,
            "→ recommended: {}   (theory's first guess: {})",
            s.recommended.map_or_else(|| "none".into(), |c| format!("{c} consumers")),
            s.analytic_guess.map_or_else(
                || {
                    if s.candidates.iter().any(|c| c.analytic.is_some()) {
                        "no count meets".to_string()
                    } else {
                        "no model".to_string()
                    }
                },
                |g| g.to_string()
            ),
        );
        if let Some(why) = &s.cannot_help {
            let _ = writeln!(out, "  {why}.");
        }
        out.push('\n');
    }
    if let Some(p) = r.partitions_recommended {
        let _ = writeln!(out, "Fewest partitions of those given that meet the target: {p}.");
    } else if !r.by_partitions.is_empty() {
        let _ = writeln!(out, "No partition count given meets the target.");
    }
    if let Some(idle) = &r.idle_in_scenario {
        let _ = writeln!(out, "Note: {idle}.");
    }
    let _ = writeln!(
        out,
        "The tutorial's rule P_c = G·P ≥ arrival rate would give {} consumers (blind to partitions and keys).",
        r.tutorial_guess
    );
    out.push_str("Recommended = smallest count whose simulated figure, at the upper end of its 95% interval, meets the target; consumers beyond the partition count are never tried (they would be idle).\n");
    out
}

/// The report.md of a topic group's sizing.
pub fn size_markdown(r: &crate::size::topic::TopicSizeReport) -> String {
    let answer = match (r.recommended, &r.cannot_help) {
        (Some(c), _) => format!(
            "**{c} consumers** meet {} with {} partitions (theory's guess: {}).",
            r.target,
            r.partitions,
            r.analytic_guess.map_or("none".into(), |g| g.to_string())
        ),
        (None, Some(why)) => format!("**No consumer count meets {}**: {why}.", r.target),
        (None, None) => format!("No consumer count meets {} (search interrupted).", r.target),
    };
    format!(
        "# Sizing `{}` on topic `{}` in {}\n\n{answer}\n\n```text\n{}```\n",
        r.group,
        r.topic,
        r.scenario,
        render_size(r)
    )
}
