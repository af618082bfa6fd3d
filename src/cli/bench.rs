//! `mqsim bench [FILES…]`: the speed table a user would quote — the engine beside its
//! physical floor (Lindley recursion for M/M/1, a minimal heap loop for M/M/64), then
//! messages per second of wall time for each scenario (default: every shipped one).

use super::output::print;
use super::{CliError, Format, load};
use mqsim::report::{csv, json, table};
use mqsim::results::SpeedRow;
use mqsim::sim::speed;
use std::path::PathBuf;

#[derive(Debug, clap::Args)]
pub struct BenchArgs {
    /// Scenarios to time, one replication each (default: scenarios/*.toml).
    files: Vec<PathBuf>,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Table)]
    format: Format,
    /// Timed runs per case; the best one counts.
    #[arg(long, default_value_t = 3)]
    runs: usize,
}

pub fn bench(a: BenchArgs) -> Result<(), CliError> {
    let files = if a.files.is_empty() {
        let mut v: Vec<PathBuf> = std::fs::read_dir("scenarios")
            .map_err(|e| {
                CliError::Input(anyhow::anyhow!(
                    "no scenario files given and cannot read ./scenarios: {e}"
                ))
            })?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|x| x == "toml"))
            .collect();
        v.sort();
        v
    } else {
        a.files.clone()
    };
    let mut rows: Vec<SpeedRow> = speed::floor_comparison(speed::FLOOR_HORIZON_S, a.runs);
    for f in &files {
        rows.push(speed::measure_scenario(&load(f)?, a.runs));
    }
    print(
        a.format,
        || table::render_speed(&rows, a.runs),
        || json::to_json(&rows),
        || csv::records(&rows),
    );
    Ok(())
}
