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
                "{spinner} cells {pos}/{len} [{bar:30}] {elapsed_precise} (eta {eta})",
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
        let mut md = markdown::validation_markdown(&v, &s);
        let heat = mqsim::report::figures::validation_heatmap(&v);
        if !heat.rows.is_empty() {
            let height = 160 + 40 * heat.rows.len() as u32;
            let png = mqsim::report::charts::render_heatmap(
                &heat,
                mqsim::report::charts::ImageFormat::Png,
                1100,
                height,
            )
            .map_err(|e| CliError::Other(e.into()))?;
            write_atomic(dir, "validation-heatmap.png", &png)?;
            md.push_str(&format!(
                "\n## Relative error by model and load\n\n![Worst relative error per model and load](validation-heatmap.png)\n\nEach cell is the largest relative error over the cell's metrics, |simulated − theory| ÷ max(|theory|, floor), so that a difference of nanoseconds on a wait of nanoseconds cannot read as a large error. The floors: {} for times, {} messages for queue lengths and lags, {} for the rest (utilization, loss and other probabilities, rates). The colour saturates at 25%.\n",
                mqsim::report::charts::fmt_duration(mqsim::report::figures::HEATMAP_FLOOR_S),
                mqsim::report::figures::HEATMAP_FLOOR_MESSAGES,
                mqsim::report::figures::HEATMAP_FLOOR_PROBABILITY,
            ));
        }
        write_atomic(dir, "report.md", md.as_bytes())?;
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
