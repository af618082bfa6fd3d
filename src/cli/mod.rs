//! Command-line definitions (clap) and the one place that prints, writes files and exits.
//! Each subcommand lives in its own file; errors become exit codes here: 2 for bad input
//! (scenario or arguments), 1 for anything else.

mod analyze;
mod bench;
mod calibrate;
mod check;
mod compare;
mod loadtest;
mod output;
mod run;
mod size;
mod sweep;
mod validate;

use clap::{Parser, Subcommand, ValueEnum};
use mqsim::cancel::Cancel;
use mqsim::scenario::{Model, ScenarioError};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::OnceLock;

/// Message-queue capacity planning: theory, simulation and a real broker from one scenario.
#[derive(Debug, Parser)]
#[command(name = "mqsim", version, about, long_about = None)]
pub struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Simulate a scenario: independent replications, confidence intervals, percentiles.
    Run(run::RunArgs),
    /// Closed-form queueing theory for every queue (M/M/c, M/G/1, M/M/c/K, G/G/c, Jackson).
    Analyze(analyze::AnalyzeArgs),
    /// Run the scenario on the real in-crate broker, on the real clock.
    Loadtest(loadtest::LoadtestArgs),
    /// Theory, simulation and the real broker side by side for every queue.
    Compare(compare::CompareArgs),
    /// Measure a live RabbitMQ and write the calibration fragment (`--calibration FILE`).
    Calibrate(calibrate::CalibrateArgs),
    /// How many consumers a group needs to meet a latency, utilization or loss target.
    Size(size::SizeArgs),
    /// A what-if grid over scenario parameters, in parallel (or as a jobs file).
    Sweep(sweep::SweepArgs),
    /// Combine the CSVs of sweep cells run elsewhere (e.g. from --jobs-file).
    Merge(sweep::MergeArgs),
    /// Validate a scenario file and print what it resolves to.
    Check(check::CheckArgs),
    /// Simulator vs theory on a built-in matrix, and the tutorial's formulas put to the test.
    Validate(validate::ValidateArgs),
    /// Time the simulator: engine vs its physical floor, and messages/s per scenario.
    Bench(bench::BenchArgs),
}

/// Output formats of measuring commands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    /// Aligned columns for people.
    Table,
    /// The output contract's JSON, alone on stdout.
    Json,
    /// Tidy CSV: one row per queue × metric × statistic.
    Csv,
}

/// An error with its exit code.
#[derive(Debug)]
pub enum CliError {
    /// Bad input: exit code 2.
    Input(anyhow::Error),
    /// Anything else: exit code 1.
    Other(anyhow::Error),
    /// Stopped by Ctrl-C or SIGTERM: exit code 130 (128 + SIGINT), after whatever was
    /// finished has been printed; with a message when nothing was.
    Interrupted(Option<String>),
}

impl From<anyhow::Error> for CliError {
    fn from(e: anyhow::Error) -> Self {
        CliError::Other(e)
    }
}

impl From<ScenarioError> for CliError {
    fn from(e: ScenarioError) -> Self {
        CliError::Input(e.into())
    }
}

/// Reads and validates a scenario file; the file's problems are input errors.
pub fn load(path: &Path) -> Result<Model, CliError> {
    let text = std::fs::read_to_string(path).map_err(|e| {
        CliError::Input(anyhow::anyhow!("cannot read scenario {}: {e}", path.display()))
    })?;
    Ok(Model::from_toml_with_files(&text, &path.display().to_string(), &NextTo::of(path))?)
}

/// The files a scenario names (traces, observations), read relative to its directory.
pub struct NextTo(std::path::PathBuf);

impl NextTo {
    /// The files next to the scenario at `path`.
    pub fn of(path: &Path) -> Self {
        NextTo(path.parent().map(Path::to_path_buf).unwrap_or_default())
    }
}

impl mqsim::scenario::Files for NextTo {
    fn read(&self, name: &str) -> Result<String, String> {
        let full = self.0.join(name);
        std::fs::read_to_string(&full)
            .map_err(|e| format!("cannot read {name} ({}): {e}", full.display()))
    }
}

/// Prints the model's warnings on stderr ([`mqsim::report::warnings::model_warnings`]).
pub fn warn_model(model: &Model, theory: &mqsim::results::AnalyticReport) {
    let threads = rayon::current_num_threads();
    for w in mqsim::report::warnings::model_warnings(model, theory, threads) {
        eprintln!("warning: {w}");
    }
}

/// Entry point: parse, dispatch, map errors to exit codes.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Run(a) => run::run(a),
        Command::Analyze(a) => analyze::analyze(a),
        Command::Check(a) => check::check(a),
        Command::Loadtest(a) => loadtest::loadtest(a),
        Command::Compare(a) => compare::compare(a),
        Command::Calibrate(a) => calibrate::calibrate(a),
        Command::Size(a) => size::size(a),
        Command::Sweep(a) => sweep::sweep(a),
        Command::Merge(a) => sweep::merge(a),
        Command::Bench(a) => bench::bench(a),
        Command::Validate(a) => validate::validate(a),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(CliError::Input(e)) => {
            eprintln!("error: {e:#}");
            ExitCode::from(2)
        }
        Err(CliError::Other(e)) => {
            eprintln!("error: {e:#}");
            ExitCode::from(1)
        }
        Err(CliError::Interrupted(message)) => {
            if let Some(m) = message {
                eprintln!("interrupted: {m}");
            }
            ExitCode::from(INTERRUPTED)
        }
    }
}

/// The exit status of an interrupted command (128 + SIGINT), partial results or not.
pub const INTERRUPTED: u8 = 130;

/// Installs the process's one Ctrl-C (and SIGTERM) handler, the first time it is called,
/// and returns the stop flag it sets: the first signal asks the running computation to stop
/// and report what it has finished; a second one exits at once with status 130.
pub fn stop_on_interrupt() -> Cancel {
    static FLAG: OnceLock<Cancel> = OnceLock::new();
    FLAG.get_or_init(|| {
        let flag = Cancel::new();
        let seen = flag.clone();
        let installed = ctrlc::set_handler(move || {
            if seen.requested() {
                std::process::exit(i32::from(INTERRUPTED));
            }
            seen.request();
            eprintln!(
                "\ninterrupted: stopping and reporting what is finished (again to quit at once)"
            );
        });
        if let Err(e) = installed {
            // Without the handler the default applies: the signal ends the process.
            eprintln!("warning: cannot catch Ctrl-C ({e}); it will stop without results");
        }
        flag
    })
    .clone()
}

/// Common arguments of the commands that take a scenario.
#[derive(Debug, clap::Args)]
pub struct ScenarioArg {
    /// Scenario file (TOML).
    pub file: PathBuf,
}

/// Refuses a simulation too large to finish (see
/// [`mqsim::report::warnings::check_run_size`]) or to fit in the memory available
/// ([`mqsim::report::warnings::check_run_memory`], with `series_points` per queue per
/// replication when charts are drawn): bad input, exit 2, before any work.
pub fn refuse_absurd_run(
    model: &Model,
    theory: &mqsim::results::AnalyticReport,
    file: &Path,
    series_points: Option<usize>,
) -> Result<(), CliError> {
    mqsim::report::warnings::check_run_size(model)
        .and_then(|()| match available_memory() {
            Some(bytes) => {
                mqsim::report::warnings::check_run_memory(model, theory, series_points, bytes)
            }
            None => Ok(()),
        })
        .map_err(|e| CliError::Input(anyhow::anyhow!("{}: {e}", file.display())))
}

/// Memory the system can give a new allocation (Linux `MemAvailable` plus free swap), in
/// bytes; `None` where it cannot be read (the memory check is then skipped).
fn available_memory() -> Option<f64> {
    let info = std::fs::read_to_string("/proc/meminfo").ok()?;
    let field = |name: &str| -> Option<f64> {
        let line = info.lines().find(|l| l.starts_with(name))?;
        line.split_whitespace().nth(1)?.parse::<f64>().ok().map(|kb| kb * 1024.0)
    };
    Some(field("MemAvailable:")? + field("SwapFree:").unwrap_or(0.0))
}

/// Parses a duration argument: seconds as a number, or with a unit (`"5m"`, `"250ms"`).
pub fn duration_arg(s: &str) -> Result<f64, String> {
    s.trim().parse::<f64>().or_else(|_| mqsim::scenario::parse_duration(s))
}

/// Applies `--window` (the timeline's window, overriding the file's): bad input, exit 2,
/// for a window that is not positive or gives too many windows.
pub fn apply_window(model: &mut Model, window: Option<f64>, flag: &str) -> Result<(), CliError> {
    if let Some(w) = window {
        model
            .simulation
            .check_window(w, model.queues.len())
            .map_err(|e| CliError::Input(anyhow::anyhow!("{flag}: {e}")))?;
        model.simulation.window = Some(w);
    }
    Ok(())
}
