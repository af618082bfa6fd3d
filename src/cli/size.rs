//! `mqsim size FILE --group NAME --target "p99 wait <= 500ms"`: how many consumers.

use super::output::{Charts, print, show_progress, write_atomic, write_figures};
use super::{CliError, Format, ScenarioArg, load, warn_model};
use indicatif::{ProgressBar, ProgressStyle};
use mqsim::report::{csv, figures, json, markdown, table};
use mqsim::size::{self, Target};
use std::path::PathBuf;

#[derive(Debug, clap::Args)]
pub struct SizeArgs {
    #[command(flatten)]
    scenario: ScenarioArg,
    /// The consumer group to size.
    #[arg(long)]
    group: String,
    /// e.g. "p99 wait <= 500ms", "mean sojourn <= 1s", "utilization <= 0.7", "loss <= 0.001";
    /// for a topic's group also "lag <= 1000" (records) or "lag_s <= 2s".
    #[arg(long, value_parser = |s: &str| s.parse::<Target>())]
    target: Target,
    /// Compare prefetch settings, e.g. 1,10,50 (default: the scenario's).
    #[arg(long, value_delimiter = ',')]
    prefetch: Vec<u32>,
    /// A topic's group: answer per partition count, e.g. 6,12,24 (default: the scenario's).
    #[arg(long, value_delimiter = ',')]
    partitions: Vec<u32>,
    /// The target must hold in every window of this length after the warm-up (the count
    /// for the peak), e.g. "5m"; the report names the window that decided it.
    #[arg(long, value_name = "DURATION", value_parser = super::duration_arg)]
    every_window: Option<f64>,
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

pub fn size(a: SizeArgs) -> Result<(), CliError> {
    super::output::prepare_out(a.out.as_deref())?;
    let mut model = load(&a.scenario.file)?;
    if let Some(r) = a.replications {
        model.simulation.replications = r;
    }
    super::apply_window(&mut model, a.every_window, "--every-window")?;
    let theory = mqsim::analytic::analyze(&model);
    super::refuse_absurd_run(&model, &theory, &a.scenario.file, None)?;
    if !a.quiet {
        warn_model(&model, &theory);
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
    let stop = super::stop_on_interrupt();
    if size::topic::find_group(&model, &a.group).is_some() {
        return size_topic(&a, &model, &bar, &stop);
    }
    if !a.partitions.is_empty() {
        return Err(CliError::Input(
            size::SizeError::NotForThisGroup(format!(
                "--partitions applies to a topic's consumer group; \"{}\" reads a queue",
                a.group
            ))
            .into(),
        ));
    }
    let report = size::size_every_window_until(
        &model,
        &a.group,
        &a.target,
        &a.prefetch,
        a.every_window,
        &|c| bar.set_message(format!("{c} done")),
        &stop,
    )
    .map_err(|e| CliError::Input(e.into()))?;
    bar.finish_and_clear();
    if let Some(dir) = &a.out {
        write_atomic(dir, "size.json", json::to_json(&report).as_bytes())?;
        write_atomic(dir, "size.csv", &csv::size(&report))?;
        let figs = [figures::sizing_figure(&report)];
        let written = write_figures(dir, &figs, Charts::Png)?;
        let md = markdown::size_markdown(&report, &written);
        write_atomic(dir, "report.md", md.as_bytes())?;
        let title = format!("Sizing {} in {}", report.group, report.scenario);
        super::output::write_html(dir, &title, &md, &figs, &written)?;
    }
    print(
        a.format,
        || table::render_size(&report),
        || json::to_json(&report),
        || csv::size(&report),
    );
    if report.partial { Err(CliError::Interrupted(None)) } else { Ok(()) }
}

/// `size` on a topic's group: per partition count, the smallest consumer count.
fn size_topic(
    a: &SizeArgs,
    model: &mqsim::scenario::Model,
    bar: &ProgressBar,
    stop: &mqsim::cancel::Cancel,
) -> Result<(), CliError> {
    let refuse = |what: &str| {
        Err(CliError::Input(
            size::SizeError::NotForThisGroup(format!(
                "{what} applies to a queue's consumer group; \"{}\" reads a topic",
                a.group
            ))
            .into(),
        ))
    };
    if !a.prefetch.is_empty() {
        return refuse("--prefetch");
    }
    if a.every_window.is_some() {
        return refuse("--every-window");
    }
    let report = size::topic::size_topic_until(
        model,
        &a.group,
        &a.target,
        &a.partitions,
        &|c| bar.set_message(format!("{c} done")),
        stop,
    )
    .map_err(|e| CliError::Input(e.into()))?;
    bar.finish_and_clear();
    let csv_bytes = || {
        let rows: Vec<_> = report.settings().into_iter().flat_map(|p| p.candidates).collect();
        csv::records(&rows)
    };
    if let Some(dir) = &a.out {
        write_atomic(dir, "size.json", json::to_json(&report).as_bytes())?;
        write_atomic(dir, "size.csv", &csv_bytes())?;
        let md = mqsim::report::topic::size_markdown(&report);
        write_atomic(dir, "report.md", md.as_bytes())?;
        let title = format!("Sizing {} in {}", report.group, report.scenario);
        super::output::write_html(dir, &title, &md, &[], &[])?;
    }
    print(
        a.format,
        || mqsim::report::topic::render_size(&report),
        || json::to_json(&report),
        csv_bytes,
    );
    if report.partial { Err(CliError::Interrupted(None)) } else { Ok(()) }
}
