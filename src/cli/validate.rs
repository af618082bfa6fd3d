//! `mqsim validate [--quick] [--out DIR]`: the simulator against theory on a built-in
//! matrix, and the tutorial's formulas put to the test. Exits 1 if an exact model fails.

use super::output::{print, show_progress, write_atomic};
use super::{CliError, Format};
use indicatif::{ProgressBar, ProgressStyle};
use mqsim::report::{csv, json, markdown, table};
use mqsim::validate;
use std::path::PathBuf;

#[derive(Debug, clap::Args)]
pub struct ValidateArgs {
    /// A small subset (CI): 2 loads × 2 sizes × 2 services, one finite buffer, the tandem.
    #[arg(long)]
    quick: bool,
    /// Output format on stdout.
    #[arg(long, value_enum, default_value_t = Format::Table)]
    format: Format,
    /// Write validation.csv, tutorial.csv, validation.json and report.md here.
    #[arg(long, value_name = "DIR")]
    out: Option<PathBuf>,
    /// No progress bar.
    #[arg(long, short)]
    quiet: bool,
}

pub fn validate(a: ValidateArgs) -> Result<(), CliError> {
    super::output::prepare_out(a.out.as_deref())?;
    let bar = if show_progress(a.quiet, a.format) {
        let b = ProgressBar::new(0);
        b.set_style(
            ProgressStyle::with_template(
                "{spinner} cells {pos}/{len} [{bar:30}] {elapsed_precise}",
            )
            .expect("valid template"),
        );
        b
    } else {
        ProgressBar::hidden()
    };
    let v = validate::run(a.quick, &|done, total| {
        bar.set_length(total as u64);
        bar.set_position(done as u64);
    });
    bar.finish_and_clear();
    let s = v.summary();
    if let Some(dir) = &a.out {
        write_atomic(dir, "validation.csv", &csv::records(&v.rows))?;
        write_atomic(dir, "tutorial.csv", &csv::records(&v.tutorial))?;
        write_atomic(dir, "validation.json", json::to_json(&v).as_bytes())?;
        write_atomic(dir, "report.md", markdown::validation_markdown(&v, &s).as_bytes())?;
    }
    print(
        a.format,
        || table::render_validation(&v, &s),
        || json::to_json(&v),
        || csv::records(&v.rows),
    );
    if v.all_exact_pass() {
        Ok(())
    } else {
        Err(CliError::Other(anyhow::anyhow!(
            "{} of {} exact comparisons failed: the simulator and theory disagree beyond the 99.9% interval",
            s.exact_total - s.exact_passed,
            s.exact_total
        )))
    }
}
