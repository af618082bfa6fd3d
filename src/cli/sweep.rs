//! `mqsim sweep FILE --set PATH=VALUES …`: a what-if grid, run in parallel on this machine,
//! or written as one self-contained command per cell (`--jobs-file`) for a batch system;
//! `mqsim merge` combines the per-cell CSVs.

use super::output::{Charts, show_progress, write_atomic, write_figures};
use super::{CliError, Format, ScenarioArg};
use indicatif::{ProgressBar, ProgressStyle};
use mqsim::report::charts::{Line, LineChart, XAxis};
use mqsim::report::figures::{Figure, slug};
use mqsim::report::table::Table;
use mqsim::sweep::{self, Cell, SetSpec, value_text};
use std::io::Write;
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

fn csv_bytes(specs: &[SetSpec], cells: &[Cell]) -> Vec<u8> {
    let mut w = csv::Writer::from_writer(Vec::new());
    w.write_record(sweep::csv_header(specs)).expect("in-memory CSV");
    for c in cells {
        for r in sweep::csv_records(c) {
            w.write_record(r).expect("in-memory CSV");
        }
    }
    w.into_inner().expect("in-memory CSV")
}

fn table(specs: &[SetSpec], cells: &[Cell]) -> String {
    let mut head: Vec<String> = vec!["cell".into()];
    head.extend(specs.iter().map(|s| s.path.clone()));
    head.extend(
        ["queue", "util", "loss", "Wq mean", "Wq p99", "W mean", "W p99"].map(String::from),
    );
    let mut t = Table::new(&head);
    let secs = mqsim::report::table::secs;
    for c in cells {
        for q in &c.report.queues {
            let mut row = vec![c.index.to_string()];
            row.extend(c.values.iter().map(value_text));
            row.extend([
                q.name.clone(),
                format!("{:.3}", q.utilization.mean),
                format!("{:.4}", q.loss_probability.mean),
                secs(q.wait_s.mean),
                secs(q.wait_s.p99),
                secs(q.sojourn_s.mean),
                secs(q.sojourn_s.p99),
            ]);
            t.row(row);
        }
    }
    t.render()
}

fn numeric(v: &toml::Value) -> Option<f64> {
    match v {
        toml::Value::Integer(i) => Some(*i as f64),
        toml::Value::Float(f) => Some(*f),
        toml::Value::String(s) => mqsim::scenario::parse_duration(s).ok(),
        _ => None,
    }
}

/// One chart per swept parameter: p99 sojourn and utilization of every queue against the
/// parameter, one line per queue and per combination of the other parameters (first 6).
fn charts(specs: &[SetSpec], cells: &[Cell]) -> Vec<Figure> {
    let mut figs = Vec::new();
    for (k, spec) in specs.iter().enumerate() {
        if spec.values.len() < 2 || spec.values.iter().any(|v| numeric(v).is_none()) {
            continue;
        }
        let others = |c: &Cell| -> String {
            c.values
                .iter()
                .enumerate()
                .filter(|(i, _)| *i != k)
                .map(|(i, v)| format!("{}={}", specs[i].path, value_text(v)))
                .collect::<Vec<_>>()
                .join(", ")
        };
        let mut combos: Vec<String> = cells.iter().map(others).collect();
        combos.dedup();
        let mut seen = Vec::new();
        for c in combos {
            if !seen.contains(&c) {
                seen.push(c);
            }
        }
        seen.truncate(6);
        let queues: Vec<String> = cells
            .first()
            .map(|c| c.report.queues.iter().map(|q| q.name.clone()).collect())
            .unwrap_or_default();
        let (mut p99, mut util) = (Vec::new(), Vec::new());
        let mut color = 0;
        for combo in &seen {
            for q in &queues {
                let pts =
                    |f: &dyn Fn(&mqsim::results::QueueReport) -> Option<f64>| -> Vec<(f64, f64)> {
                        cells
                            .iter()
                            .filter(|c| &others(c) == combo)
                            .filter_map(|c| {
                                let qr = c.report.queues.iter().find(|x| &x.name == q)?;
                                Some((numeric(&c.values[k])?, f(qr)?))
                            })
                            .collect()
                    };
                let name = if combo.is_empty() { q.clone() } else { format!("{q} ({combo})") };
                p99.push(Line {
                    name: name.clone(),
                    points: pts(&|r| r.sojourn_s.p99),
                    band: vec![],
                    dashed: false,
                    color,
                });
                util.push(Line {
                    name,
                    points: pts(&|r| Some(r.utilization.mean)),
                    band: vec![],
                    dashed: false,
                    color,
                });
                color += 1;
            }
        }
        let integer = spec.values.iter().all(|v| matches!(v, toml::Value::Integer(_)));
        let panel = |title: String, y: &str, secs: bool, lines: Vec<Line>| LineChart {
            title,
            x_label: spec.path.clone(),
            y_label: y.into(),
            x_axis: XAxis::Linear,
            log_y: secs,
            y_seconds: secs,
            x_integer: integer,
            lines,
            shade_x: None,
            hline: None,
        };
        figs.push(Figure {
            stem: format!("sweep-{}", slug(&spec.path)),
            caption: format!("p99 sojourn and utilization against `{}`", spec.path),
            panels: vec![
                panel(format!("p99 sojourn against {}", spec.path), "p99 sojourn", true, p99),
                panel(
                    format!("utilization against {}", spec.path),
                    "busy consumers / consumers",
                    false,
                    util,
                ),
            ],
        });
    }
    figs
}

pub fn sweep(a: SweepArgs) -> Result<(), CliError> {
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
    let mut models = sweep::models(&text, &file.display().to_string(), &a.sets, &cells)
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
    let results = sweep::run(&models, &cells, &|| bar.inc(1));
    bar.finish_and_clear();
    if let Some(dir) = &a.out {
        write_atomic(dir, "sweep.csv", &csv_bytes(&a.sets, &results))?;
        let written = write_figures(dir, &charts(&a.sets, &results), Charts::Png)?;
        let mut md = format!(
            "# Sweep of {}\n\n{} cells, parameters: {}.\n\n",
            file.display(),
            results.len(),
            a.sets.iter().map(|s| format!("`{}`", s.path)).collect::<Vec<_>>().join(", ")
        );
        for (f, cap) in &written {
            md += &format!("{cap}\n\n![{cap}]({f})\n\n");
        }
        md += &format!("```text\n{}```\n", table(&a.sets, &results));
        write_atomic(dir, "report.md", md.as_bytes())?;
    }
    let mut stdout = std::io::stdout().lock();
    let _ = match a.format {
        Format::Table => stdout.write_all(table(&a.sets, &results).as_bytes()),
        Format::Csv => stdout.write_all(&csv_bytes(&a.sets, &results)),
        Format::Json => {
            let doc: Vec<serde_json::Value> = results
                .iter()
                .map(|c| {
                    let params: serde_json::Map<String, serde_json::Value> = a
                        .sets
                        .iter()
                        .zip(&c.values)
                        .map(|(s, v)| {
                            (
                                s.path.clone(),
                                serde_json::to_value(v).unwrap_or(serde_json::Value::Null),
                            )
                        })
                        .collect();
                    serde_json::json!({"cell": c.index, "set": params, "report": c.report})
                })
                .collect();
            stdout.write_all(
                (serde_json::to_string_pretty(&doc).expect("serialises") + "\n").as_bytes(),
            )
        }
    };
    Ok(())
}

#[derive(Debug, clap::Args)]
pub struct MergeArgs {
    /// CSV files written by `mqsim sweep --format csv` (e.g. by a --jobs-file's commands).
    #[arg(required = true)]
    files: Vec<PathBuf>,
}

/// Concatenates sweep CSVs that share a header, rows ordered by cell.
pub fn merge(a: MergeArgs) -> Result<(), CliError> {
    let mut header: Option<csv::StringRecord> = None;
    let mut rows: Vec<(usize, csv::StringRecord)> = Vec::new();
    for f in &a.files {
        let mut r = csv::Reader::from_path(f)
            .map_err(|e| CliError::Input(anyhow::anyhow!("cannot read {}: {e}", f.display())))?;
        let h = r
            .headers()
            .map_err(|e| CliError::Input(anyhow::anyhow!("{}: {e}", f.display())))?
            .clone();
        match &header {
            None => header = Some(h),
            Some(first) if *first != h => {
                return Err(CliError::Input(anyhow::anyhow!(
                    "{}: its columns differ from the first file's ({} vs {}): were they written by the same sweep?",
                    f.display(),
                    h.iter().collect::<Vec<_>>().join(","),
                    first.iter().collect::<Vec<_>>().join(",")
                )));
            }
            _ => {}
        }
        for (i, rec) in r.records().enumerate() {
            let rec = rec.map_err(|e| {
                CliError::Input(anyhow::anyhow!("{} record {}: {e}", f.display(), i + 1))
            })?;
            let cell = rec.get(0).and_then(|c| c.parse::<usize>().ok()).unwrap_or(usize::MAX);
            rows.push((cell, rec));
        }
    }
    rows.sort_by_key(|r| r.0);
    let mut w = csv::Writer::from_writer(std::io::stdout().lock());
    if let Some(h) = header {
        w.write_record(&h).map_err(|e| CliError::Other(e.into()))?;
    }
    for (_, r) in rows {
        w.write_record(&r).map_err(|e| CliError::Other(e.into()))?;
    }
    w.flush().map_err(|e| CliError::Other(e.into()))?;
    Ok(())
}
