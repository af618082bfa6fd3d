//! `mqsim analyze FILE`: closed-form queueing theory, in milliseconds.

use super::output::{print, write_atomic};
use super::{CliError, Format, ScenarioArg, load, warn_model};
use mqsim::analytic::{self, AnalyticReport};
use mqsim::report::csv;
use std::path::PathBuf;

#[derive(Debug, clap::Args)]
pub struct AnalyzeArgs {
    #[command(flatten)]
    scenario: ScenarioArg,
    /// Output format on stdout.
    #[arg(long, value_enum, default_value_t = Format::Table)]
    format: Format,
    /// Also write report.json, results.csv and summary.txt into this directory.
    #[arg(long, value_name = "DIR")]
    out: Option<PathBuf>,
    /// No warnings on stderr.
    #[arg(long, short)]
    quiet: bool,
}

pub fn analyze(a: AnalyzeArgs) -> Result<(), CliError> {
    let model = load(&a.scenario.file)?;
    if !a.quiet {
        warn_model(&model);
    }
    let report: AnalyticReport = analytic::analyze(&model);
    let csv_bytes = || csv::to_csv(&analytic::csv_rows(&report));
    if let Some(dir) = &a.out {
        write_atomic(dir, "report.json", report.to_json().as_bytes())?;
        write_atomic(dir, "results.csv", &csv_bytes())?;
        write_atomic(dir, "summary.txt", analytic::render_table(&report).as_bytes())?;
    }
    print(a.format, || analytic::render_table(&report), || report.to_json(), csv_bytes);
    Ok(())
}
