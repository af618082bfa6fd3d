//! `mqsim bench [FILES…]`: the speed table a user would quote — the engine beside its
//! physical floor (Lindley recursion for M/M/1, a minimal heap loop for M/M/64), then
//! messages per second of wall time for each scenario (default: every shipped one).

use super::output::print;
use super::{CliError, Format, load};
use mqsim::report::table::Table;
use mqsim::sim::speed::{self, SpeedRow};
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
    let mut rows: Vec<SpeedRow> = speed::floor_comparison(100_000.0, a.runs);
    for f in &files {
        let m = load(f)?;
        rows.push(speed::measure(
            &format!("{} (1 replication, {})", m.name, mqsim::dist::fmt_secs(m.simulation.horizon)),
            &m,
            a.runs,
        ));
    }
    print(
        a.format,
        || {
            let mut t = Table::new(&["case", "events/s", "messages/s", "engine ÷ floor"]);
            for r in &rows {
                t.row(vec![
                    r.name.clone(),
                    format!("{:.2}M", r.events_per_s / 1e6),
                    format!("{:.2}M", r.messages_per_s / 1e6),
                    r.ratio_to_floor.map_or("-".into(), |x| format!("{x:.2}")),
                ]);
            }
            format!(
                "single thread, best of {} runs; engine ÷ floor = engine time ÷ reference-loop time for the same work\n\n{}",
                a.runs,
                t.render()
            )
        },
        || serde_json::to_string_pretty(&rows).expect("rows serialise") + "\n",
        || {
            let mut w = csv::Writer::from_writer(Vec::new());
            for r in &rows {
                w.serialize(r).expect("in-memory CSV");
            }
            w.into_inner().expect("in-memory CSV")
        },
    );
    Ok(())
}
