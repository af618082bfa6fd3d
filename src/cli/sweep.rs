//! `mqsim sweep FILE --set PATH=VALUES …`: a what-if grid, run in parallel on this machine,
//! or written as one self-contained command per cell (`--jobs-file`) for a batch system;
//! `mqsim merge` combines the per-cell CSVs.

use super::output::{Charts, print, show_progress, write_atomic, write_figures};
use super::{CliError, Format, ScenarioArg};
use indicatif::{ProgressBar, ProgressStyle};
use mqsim::report::{csv, figures, json, markdown, table};
use mqsim::sweep::{self, SetSpec, value_text};
use std::path::PathBuf;

#[derive(Debug, clap::Args)]
pub struct SweepArgs {
    #[command(flatten)]
    scenario: ScenarioArg,
    /// PATH=VALUES, e.g. consumers.workers.count=1..16 or producers.web.arrival.rate=10,20,40.
    #[arg(long = "set", required = true, value_parser = |s: &str| s.parse::<SetSpec>())]
    sets: Vec<SetSpec>,
    /// Output format on stdout.
    #[arg(long, value_enum, default_value_t = Format::Table)]
    format: Format,
    /// Also write sweep.csv, one chart per swept parameter and report.md here.
    #[arg(long, value_name = "DIR")]
    out: Option<PathBuf>,
    /// Don't run: write one self-contained `mqsim sweep` command per cell to this file.
    #[arg(long, value_name = "FILE")]
    jobs_file: Option<PathBuf>,
    /// Run only this cell of the grid (what a --jobs-file line does).
    #[arg(long)]
    cell: Option<usize>,
    /// Override the number of replications per cell.
    #[arg(long, value_parser = clap::value_parser!(u32).range(1..))]
    replications: Option<u32>,
    /// No progress bar.
    #[arg(long, short)]
    quiet: bool,
}

fn shell_quote(s: &str) -> String {
    if s.chars().all(|c| c.is_ascii_alphanumeric() || "-_./=:,".contains(c)) {
        s.to_string()
    } else {
        format!("'{}'", s.replace('\'', "'\\''"))
    }
}

pub fn sweep(a: SweepArgs) -> Result<(), CliError> {
    super::output::prepare_out(a.out.as_deref())?;
    let file = &a.scenario.file;
    let text = std::fs::read_to_string(file).map_err(|e| {
        CliError::Input(anyhow::anyhow!("cannot read scenario {}: {e}", file.display()))
    })?;
    let all: Vec<(usize, Vec<toml::Value>)> =
        sweep::grid(&a.sets).into_iter().enumerate().collect();
    let cells: Vec<(usize, Vec<toml::Value>)> = match a.cell {
        Some(i) => {
            let c = all.get(i).cloned().ok_or_else(|| {
                CliError::Input(anyhow::anyhow!(
                    "--cell {i}: the grid has {} cells (0..{})",
                    all.len(),
                    all.len().saturating_sub(1)
                ))
            })?;
            vec![c]
        }
        None => all.clone(),
    };
    let mut models = sweep::models(
        &text,
        &file.display().to_string(),
        &super::NextTo::of(file),
        &a.sets,
        &cells,
    )
    .map_err(|e| CliError::Input(e.into()))?;
    if let Some(jobs) = &a.jobs_file {
        let abs = std::fs::canonicalize(file).unwrap_or_else(|_| file.clone());
        let mut out = String::new();
        for (i, _) in &all {
            let mut line =
                format!("mqsim sweep {} --cell {i}", shell_quote(&abs.display().to_string()));
            for s in &a.sets {
                let values: Vec<String> = s.values.iter().map(value_text).collect();
                line +=
                    &format!(" --set {}", shell_quote(&format!("{}={}", s.path, values.join(","))));
            }
            if let Some(r) = a.replications {
                line += &format!(" --replications {r}");
            }
            line += &format!(" --format csv --quiet > sweep-cell-{i:05}.csv\n");
            out += &line;
        }
        std::fs::write(jobs, out).map_err(|e| {
            CliError::Other(anyhow::anyhow!("cannot write {}: {e}", jobs.display()))
        })?;
        eprintln!(
            "wrote {} commands to {}; combine their outputs with `mqsim merge sweep-cell-*.csv`",
            all.len(),
            jobs.display()
        );
        return Ok(());
    }
    if let Some(r) = a.replications {
        models.iter_mut().for_each(|m| m.simulation.replications = r);
    }
    for m in &models {
        super::refuse_absurd_run(m, &mqsim::analytic::analyze(m), file, None)?;
    }
    let stop = super::stop_on_interrupt();
    let bar = if show_progress(a.quiet, a.format) {
        let b = ProgressBar::new(cells.len() as u64);
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
    let (results, not_run) = sweep::run_until(&models, &cells, &|| bar.inc(1), &stop);
    bar.finish_and_clear();
    // Interrupted: the finished cells, under a line that says which were not run. The CSV
    // keeps its columns (its rows are the finished cells', as `merge --partial` expects).
    let note = (!not_run.is_empty()).then(|| table::sweep_partial_note(results.len(), &not_run));
    let noted = |text: String| match &note {
        Some(n) => format!("{n}\n\n{text}"),
        None => text,
    };
    if let Some(dir) = &a.out {
        write_atomic(dir, "sweep.csv", &csv::sweep(&a.sets, &results))?;
        let written = write_figures(dir, &figures::sweep_figures(&a.sets, &results), Charts::Png)?;
        let md = markdown::sweep_markdown(&file.display().to_string(), &a.sets, &results, &written);
        let md = match &note {
            Some(n) => md.replacen("\n\n", &format!("\n\n**{n}**\n\n"), 1),
            None => md,
        };
        write_atomic(dir, "report.md", md.as_bytes())?;
    }
    print(
        a.format,
        || noted(table::render_sweep(&a.sets, &results)),
        || match note {
            Some(_) => json::sweep_json_partial(&a.sets, &results, &not_run),
            None => json::sweep_json(&a.sets, &results),
        },
        || csv::sweep(&a.sets, &results),
    );
    if not_run.is_empty() { Ok(()) } else { Err(CliError::Interrupted(None)) }
}

#[derive(Debug, clap::Args)]
pub struct MergeArgs {
    /// CSV files written by `mqsim sweep --format csv` (e.g. by a --jobs-file's commands).
    #[arg(required = true)]
    files: Vec<PathBuf>,
    /// Merge even when cells of the grid are missing (they are listed on stderr).
    #[arg(long)]
    partial: bool,
}

/// Combines sweep cell CSVs, rows ordered by cell, refusing garbage, duplicate and foreign
/// cells and (without `--partial`) missing ones: see [`mqsim::merge`].
pub fn merge(a: MergeArgs) -> Result<(), CliError> {
    use std::io::Write;
    let mut inputs = Vec::new();
    for f in &a.files {
        let bytes = std::fs::read(f)
            .map_err(|e| CliError::Input(anyhow::anyhow!("cannot read {}: {e}", f.display())))?;
        inputs.push(mqsim::merge::Input { name: f.display().to_string(), bytes });
    }
    let merged = mqsim::merge::merge(&inputs, a.partial)
        .map_err(|e| CliError::Input(anyhow::anyhow!("merge: {e}")))?;
    for n in &merged.notes {
        eprintln!("note: {n}");
    }
    std::io::stdout().lock().write_all(&merged.csv).map_err(|e| CliError::Other(e.into()))?;
    Ok(())
}
