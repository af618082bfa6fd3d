//! `mqsim analyze FILE`: closed-form queueing theory, in milliseconds.

use super::output::{Charts, print, write_atomic, write_figures};
use super::{CliError, Format, ScenarioArg, load, warn_model};
use mqsim::analytic;
use mqsim::report::{csv, figures, markdown, table};
use mqsim::results::AnalyticReport;
use std::path::PathBuf;

#[derive(Debug, clap::Args)]
pub struct AnalyzeArgs {
    #[command(flatten)]
    scenario: ScenarioArg,
    /// Output format on stdout.
    #[arg(long, value_enum, default_value_t = Format::Table)]
    format: Format,
    /// Also write report.json, results.csv, summary.txt, charts and report.md here.
    #[arg(long, value_name = "DIR")]
    out: Option<PathBuf>,
    /// Also give per-window predictions (PSA and MOL) for time-varying arrivals, e.g. "5m";
    /// overrides the scenario's `simulation.window`.
    #[arg(long, value_name = "DURATION", value_parser = super::duration_arg)]
    window: Option<f64>,
    /// Apply a calibration fragment written by `mqsim calibrate` (docs/scenario.md,
    /// "Calibration").
    #[arg(long, value_name = "FILE")]
    calibration: Option<PathBuf>,
    /// No warnings on stderr.
    #[arg(long, short)]
    quiet: bool,
}

pub fn analyze(a: AnalyzeArgs) -> Result<(), CliError> {
    super::output::prepare_out(a.out.as_deref())?;
    let mut model = load(&a.scenario.file)?;
    super::apply_window(&mut model, a.window, "--window")?;
    super::calibrate::apply(&mut model, a.calibration.as_deref(), a.quiet)?;
    let mut report: AnalyticReport = analytic::analyze(&model);
    if !a.quiet {
        warn_model(&model, &report);
    }
    report.timeline = model.simulation.window.map(|w| analytic::timevarying::timeline(&model, w));
    let csv_bytes = || csv::to_csv(&csv::analytic_rows(&report));
    if let Some(dir) = &a.out {
        write_atomic(dir, "report.json", report.to_json().as_bytes())?;
        write_atomic(dir, "results.csv", &csv_bytes())?;
        write_atomic(dir, "summary.txt", table::render_analytic(&report).as_bytes())?;
        let written = write_figures(dir, &figures::analytic_figures(&report), Charts::Png)?;
        write_atomic(dir, "report.md", markdown::analytic_markdown(&report, &written).as_bytes())?;
    }
    print(a.format, || table::render_analytic(&report), || report.to_json(), csv_bytes);
    Ok(())
}
