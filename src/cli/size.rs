//! `mqsim size FILE --group NAME --target "p99 wait <= 500ms"`: how many consumers.

use super::output::{Charts, print, show_progress, write_atomic, write_figures};
use super::{CliError, Format, ScenarioArg, load, warn_model};
use indicatif::{ProgressBar, ProgressStyle};
use mqsim::report::charts::{Line, LineChart, XAxis};
use mqsim::report::figures::Figure;
use mqsim::report::table::{Table, secs};
use mqsim::size::{self, Candidate, Metric, PrefetchSizing, SizeReport, Target};
use std::fmt::Write;
use std::path::PathBuf;

#[derive(Debug, clap::Args)]
pub struct SizeArgs {
    #[command(flatten)]
    scenario: ScenarioArg,
    /// The consumer group to size.
    #[arg(long)]
    group: String,
    /// e.g. "p99 wait <= 500ms", "mean sojourn <= 1s", "utilization <= 0.7", "loss <= 0.001".
    #[arg(long, value_parser = |s: &str| s.parse::<Target>())]
    target: Target,
    /// Compare prefetch settings, e.g. 1,10,50 (default: the scenario's).
    #[arg(long, value_delimiter = ',')]
    prefetch: Vec<u32>,
    /// Override the number of replications per count.
    #[arg(long, value_parser = clap::value_parser!(u32).range(2..))]
    replications: Option<u32>,
    /// Output format on stdout.
    #[arg(long, value_enum, default_value_t = Format::Table)]
    format: Format,
    /// Also write size.json, size.csv, sizing.png and report.md here.
    #[arg(long, value_name = "DIR")]
    out: Option<PathBuf>,
    /// No progress and no warnings.
    #[arg(long, short)]
    quiet: bool,
}

fn value(t: &Target, v: Option<f64>) -> String {
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
            value(t, c.value),
            value(t, c.ci95_upper),
            value(t, c.analytic),
            format!("{:.3}", c.utilization),
            secs(c.p50),
            secs(c.p95),
            secs(c.p99),
            c.loss.map_or("-".into(), |l| format!("{l:.4}")),
        ]);
    }
    tab.render()
}

/// The search per prefetch setting; one entry (the headline) without `--prefetch`.
fn settings(r: &SizeReport) -> Vec<PrefetchSizing> {
    if r.by_prefetch.is_empty() {
        vec![PrefetchSizing {
            prefetch: r.candidates.first().map_or(0, |c| c.prefetch),
            recommended: r.recommended,
            analytic_guess: r.analytic_guess,
            candidates: r.candidates.clone(),
        }]
    } else {
        r.by_prefetch.clone()
    }
}

fn render(r: &SizeReport) -> String {
    let mut out = format!("{} — sizing group \"{}\" for {}\n\n", r.scenario, r.group, r.target);
    for PrefetchSizing { prefetch, recommended: rec, analytic_guess: guess, candidates } in
        settings(r)
    {
        let _ = writeln!(out, "prefetch {prefetch}:");
        out.push_str(&candidates_table(&r.target, &candidates));
        let _ = writeln!(
            out,
            "→ recommended: {}   (theory's first guess: {})\n",
            rec.map_or("none within the search limit".into(), |c| format!("{c} consumers")),
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
    out
}

fn chart(r: &SizeReport) -> Figure {
    let sets: Vec<Vec<Candidate>> = settings(r).into_iter().map(|p| p.candidates).collect();
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

pub fn size(a: SizeArgs) -> Result<(), CliError> {
    let mut model = load(&a.scenario.file)?;
    if let Some(r) = a.replications {
        model.simulation.replications = r;
    }
    if !a.quiet {
        warn_model(&model);
    }
    let bar = if show_progress(a.quiet, a.format) {
        let b = ProgressBar::new_spinner();
        b.set_style(
            ProgressStyle::with_template("{spinner} simulating counts: {msg} {elapsed_precise}")
                .expect("valid template"),
        );
        b.enable_steady_tick(std::time::Duration::from_millis(120));
        b
    } else {
        ProgressBar::hidden()
    };
    let report = size::size(&model, &a.group, &a.target, &a.prefetch, &|c| {
        bar.set_message(format!("{c} done"))
    })
    .map_err(|e| CliError::Input(e.into()))?;
    bar.finish_and_clear();
    let json = || serde_json::to_string_pretty(&report).expect("serialises") + "\n";
    let csv_bytes = || {
        let mut w = csv::Writer::from_writer(Vec::new());
        for c in settings(&report).iter().flat_map(|p| p.candidates.iter()) {
            w.serialize(c).expect("in-memory CSV");
        }
        w.into_inner().expect("in-memory CSV")
    };
    if let Some(dir) = &a.out {
        write_atomic(dir, "size.json", json().as_bytes())?;
        write_atomic(dir, "size.csv", &csv_bytes())?;
        let written = write_figures(dir, &[chart(&report)], Charts::Png)?;
        let mut md = format!(
            "# Sizing `{}` in {}\n\nTarget: **{}**.\n\n```text\n{}```\n",
            report.group,
            report.scenario,
            report.target,
            render(&report)
        );
        for (f, cap) in &written {
            let _ = writeln!(md, "\n![{cap}]({f})");
        }
        write_atomic(dir, "report.md", md.as_bytes())?;
    }
    print(a.format, || render(&report), json, csv_bytes);
    Ok(())
}
