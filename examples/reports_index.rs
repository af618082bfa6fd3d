//! Writes `reports/index.md` from the report directories under `reports/` (run by
//! `scripts/regenerate-reports.sh` after every report is written): one row per scenario
//! run (a directory with `report.json`), then every other report with its headline.
//!
//! Usage: `cargo run --release --example reports_index -- reports`

use mqsim::report::headline::{IndexRun, headline_of, index_markdown};
use mqsim::results::RunReport;
use std::path::Path;

fn main() -> anyhow::Result<()> {
    let root = std::env::args().nth(1).unwrap_or_else(|| "reports".into());
    let root = Path::new(&root);
    let mut dirs: Vec<String> = std::fs::read_dir(root)?
        .filter_map(|e| e.ok())
        .filter(|e| e.path().is_dir())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    dirs.sort();
    let mut runs: Vec<(String, RunReport)> = Vec::new();
    let mut others = Vec::new();
    for d in &dirs {
        let json = root.join(d).join("report.json");
        // Only a simulation run's report.json is a RunReport; theory-only reports
        // (`analyze-*`) have a report.json of another shape and are listed by headline.
        if json.exists() && !d.starts_with("analyze-") {
            let r: RunReport = serde_json::from_str(&std::fs::read_to_string(&json)?)
                .map_err(|e| anyhow::anyhow!("{}: {e}", json.display()))?;
            runs.push((d.clone(), r));
        } else if let Ok(md) = std::fs::read_to_string(root.join(d).join("report.md")) {
            others.push((d.clone(), headline_of(&md).unwrap_or_default()));
        }
    }
    let rows: Vec<IndexRun<'_>> =
        runs.iter().map(|(d, r)| IndexRun { dir: d.as_str(), report: r }).collect();
    std::fs::write(root.join("index.md"), index_markdown(&rows, &others))?;
    Ok(())
}
