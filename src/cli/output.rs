//! Where results go: stdout in the chosen format, and `--out DIR` files written atomically
//! (each file is written to a temporary name in the same directory, then renamed).

use super::{CliError, Format};
use anyhow::Context;
use std::path::Path;

/// Writes `bytes` to `dir/name` atomically, creating `dir`.
pub fn write_atomic(dir: &Path, name: &str, bytes: &[u8]) -> Result<(), CliError> {
    std::fs::create_dir_all(dir)
        .with_context(|| format!("cannot create output directory {}", dir.display()))?;
    let target = dir.join(name);
    let tmp = dir.join(format!(".{name}.tmp-{}", std::process::id()));
    std::fs::write(&tmp, bytes).with_context(|| format!("cannot write {}", tmp.display()))?;
    std::fs::rename(&tmp, &target)
        .with_context(|| format!("cannot rename {} to {}", tmp.display(), target.display()))?;
    Ok(())
}

/// Makes sure `--out DIR` can be written **before** any work: creates it and writes then
/// removes a probe file. Without this a regular file or an over-long name given as `DIR`
/// failed only after the whole simulation, losing its results.
pub fn prepare_out(dir: Option<&Path>) -> Result<(), CliError> {
    let Some(dir) = dir else { return Ok(()) };
    let input = |e: anyhow::Error| CliError::Input(e);
    if dir.exists() && !dir.is_dir() {
        return Err(input(anyhow::anyhow!(
            "--out {}: is not a directory; give a directory to write the report files into",
            dir.display()
        )));
    }
    std::fs::create_dir_all(dir).map_err(|e| {
        input(anyhow::anyhow!("--out {}: cannot create the output directory: {e}", dir.display()))
    })?;
    let probe = dir.join(format!(".mqsim-probe-{}", std::process::id()));
    std::fs::write(&probe, b"").map_err(|e| {
        input(anyhow::anyhow!(
            "--out {}: cannot write into the output directory: {e}",
            dir.display()
        ))
    })?;
    let _ = std::fs::remove_file(&probe);
    Ok(())
}

/// Prints one of three renderings on stdout, chosen by `format`.
pub fn print(
    format: Format,
    table: impl FnOnce() -> String,
    json: impl FnOnce() -> String,
    csv: impl FnOnce() -> Vec<u8>,
) {
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    let _ = match format {
        Format::Table => out.write_all(table().as_bytes()),
        Format::Json => out.write_all(json().as_bytes()),
        Format::Csv => out.write_all(&csv()),
    };
}

/// Should a progress bar be drawn? Only for a person watching a terminal.
pub fn show_progress(quiet: bool, format: Format) -> bool {
    use std::io::IsTerminal;
    !quiet && format != Format::Json && std::io::stderr().is_terminal()
}

/// Which chart files `--out` writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Charts {
    /// PNG images (embedded in report.md).
    Png,
    /// SVG images.
    Svg,
    /// Both.
    Both,
    /// No charts.
    None,
}

/// Width of every chart, pixels (the legend column included).
const FIGURE_WIDTH: u32 = 1100;

/// Renders and writes figures into `dir`; returns (file, caption) for report.md.
pub fn write_figures(
    dir: &Path,
    figures: &[mqsim::report::figures::Figure],
    charts: Charts,
) -> Result<Vec<(String, String)>, CliError> {
    use mqsim::report::charts::{ImageFormat, render};
    let formats: &[ImageFormat] = match charts {
        Charts::Png => &[ImageFormat::Png],
        Charts::Svg => &[ImageFormat::Svg],
        Charts::Both => &[ImageFormat::Png, ImageFormat::Svg],
        Charts::None => &[],
    };
    let mut written = Vec::new();
    // Stems are unique by construction (see `figures::slug`); this makes sure of it even for
    // a name crafted to equal another's hashed stem: no chart ever overwrites another.
    let mut used = std::collections::HashSet::new();
    for f in figures {
        let mut stem = f.stem.clone();
        let mut n = 2;
        while !used.insert(stem.clone()) {
            stem = format!("{}-{n}", f.stem);
            n += 1;
        }
        for (i, &fmt) in formats.iter().enumerate() {
            let bytes = render(&f.panels, fmt, FIGURE_WIDTH, f.panel_height)
                .map_err(|e| CliError::Other(e.into()))?;
            let name = format!("{stem}.{}", fmt.ext());
            write_atomic(dir, &name, &bytes)?;
            if i == 0 {
                written.push((name, f.caption.clone()));
            }
        }
    }
    Ok(written)
}

/// Writes `report.html`: the page of `md` with each written chart (`written`, in the order
/// of `figures`) inlined as SVG.
pub fn write_html(
    dir: &Path,
    title: &str,
    md: &str,
    figures: &[mqsim::report::figures::Figure],
    written: &[(String, String)],
) -> Result<(), CliError> {
    use mqsim::report::charts::{ImageFormat, render};
    let mut svgs = Vec::new();
    for (f, (name, _)) in figures.iter().zip(written) {
        let bytes = render(&f.panels, ImageFormat::Svg, FIGURE_WIDTH, f.panel_height)
            .map_err(|e| CliError::Other(e.into()))?;
        svgs.push((name.clone(), String::from_utf8_lossy(&bytes).into_owned()));
    }
    let page = mqsim::report::html::page(title, md, &svgs);
    write_atomic(dir, "report.html", page.as_bytes())
}

/// The files every `run` or `loadtest` report directory has: `report.json`, `results.csv`
/// and `summary.txt`.
pub fn write_run_files(dir: &Path, report: &mqsim::results::RunReport) -> Result<(), CliError> {
    use mqsim::report::{csv, table};
    write_atomic(dir, "report.json", report.to_json().as_bytes())?;
    write_atomic(dir, "results.csv", &csv::to_csv(&csv::run_rows(report)))?;
    if let Some(t) = &report.timeline {
        write_atomic(dir, "timeline.csv", &csv::records(&csv::timeline_rows(t)))?;
    }
    write_atomic(dir, "summary.txt", table::render_run(report).as_bytes())
}

/// Writes the data behind the charts (see [`mqsim::report::export::files`]).
pub fn write_exports(dir: &Path, files: Vec<(String, Vec<u8>)>) -> Result<(), CliError> {
    for (name, bytes) in files {
        write_atomic(dir, &name, &bytes)?;
    }
    Ok(())
}

/// The queue names of a report, for [`mqsim::report::export::Measured`].
pub fn queue_names(r: &mqsim::results::RunReport) -> Vec<&str> {
    r.queues.iter().map(|q| q.name.as_str()).collect()
}

/// Prints a `run` or `loadtest` report on stdout in the chosen format.
pub fn print_run(format: Format, report: &mqsim::results::RunReport) {
    use mqsim::report::{csv, table};
    print(
        format,
        || table::render_run(report),
        || report.to_json(),
        || csv::to_csv(&csv::run_rows(report)),
    );
}
