//! `mqsim loadtest FILE`: the scenario on the real in-crate broker and the real clock.

use super::output::{
    Charts, print_run, queue_names, show_progress, write_atomic, write_exports, write_figures,
    write_run_files,
};
use super::{CliError, Format, ScenarioArg, load, warn_model};
use indicatif::{ProgressBar, ProgressStyle};
use mqsim::cancel::Cancel;
use mqsim::loadtest::LoadtestError;
use mqsim::report::{export, markdown};
use mqsim::results::RealOutcome;
use mqsim::scenario::{Model, parse_duration};
use std::path::PathBuf;

#[derive(Debug, clap::Args)]
pub struct LoadtestArgs {
    #[command(flatten)]
    scenario: ScenarioArg,
    /// Output format on stdout.
    #[arg(long, value_enum, default_value_t = Format::Table)]
    format: Format,
    /// Also write report.json, results.csv, summary.txt, latency charts and report.md here.
    #[arg(long, value_name = "DIR")]
    out: Option<PathBuf>,
    /// Override `[loadtest] time_scale` (real seconds per scenario second).
    #[arg(long)]
    time_scale: Option<f64>,
    /// Override `[loadtest] horizon` (real time, e.g. "20s"); the warm-up stays 10% of it.
    #[arg(long)]
    duration: Option<String>,
    /// Run against a real RabbitMQ instead of the in-crate broker, e.g.
    /// amqp://guest:guest@127.0.0.1:5672/%2f (see scripts/rabbitmq.sh). Everything is
    /// declared under a per-run prefix and deleted afterwards.
    #[arg(long, value_name = "URL")]
    broker: Option<String>,
    /// No progress bar and no warnings.
    #[arg(long, short)]
    quiet: bool,
}

/// Applies the command-line overrides to the model's loadtest settings.
pub fn apply_overrides(
    model: &mut Model,
    time_scale: Option<f64>,
    duration: Option<&str>,
) -> Result<(), CliError> {
    if let Some(t) = time_scale {
        if !(t.is_finite() && t > 0.0) {
            return Err(CliError::Input(anyhow::anyhow!(
                "--time-scale must be a number > 0, got {t}"
            )));
        }
        model.loadtest.time_scale = t;
    }
    if let Some(d) = duration {
        let secs = d
            .parse::<f64>()
            .or_else(|_| parse_duration(d))
            .map_err(|e| CliError::Input(anyhow::anyhow!("--duration: {e}")))?;
        if !(secs.is_finite() && secs > 0.0) {
            return Err(CliError::Input(anyhow::anyhow!("--duration must be > 0, got {d}")));
        }
        model.loadtest.horizon = secs;
        model.loadtest.warmup = secs / 10.0;
    }
    Ok(())
}

/// Before a real-clock run: refuses scaled times the clock cannot honour (exit 2, naming
/// the producer or group and a `time_scale` that works), warns near the limit, and says so
/// when the file has no `[loadtest]` and the defaults apply. Everything goes to stderr, so
/// `--format json` keeps stdout clean.
pub fn check_real_run(model: &Model, file: &std::path::Path, quiet: bool) -> Result<(), CliError> {
    let warning = mqsim::loadtest::clock::check(model).map_err(|e| {
        CliError::Input(anyhow::anyhow!(
            "{}: cannot load-test on the real clock: {e}",
            file.display()
        ))
    })?;
    if quiet {
        return Ok(());
    }
    if !model.loadtest_declared {
        let lt = &model.loadtest;
        eprintln!(
            "note: {} has no [loadtest] section: running the defaults, time_scale {} for {} of real time (warm-up {}); add [loadtest] or use --time-scale / --duration",
            file.display(),
            lt.time_scale,
            mqsim::dist::fmt_secs(lt.horizon),
            mqsim::dist::fmt_secs(lt.warmup)
        );
    }
    if let Some(w) = warning {
        eprintln!("warning: {w}");
    }
    Ok(())
}

/// After a real-clock run: warns (stderr) when the services' total length missed the
/// scenario's by more than 1%, which inflates utilization and waits by about as much.
pub fn warn_timing(report: &mqsim::results::RunReport, quiet: bool) {
    let Some(t) = report.timing.as_ref().filter(|t| t.service_error_total.abs() > 0.01) else {
        return;
    };
    if quiet {
        return;
    }
    let why = match mqsim::loadtest::clock::realtime() {
        Some(false) => {
            "the pacing threads ran at ordinary priority (real-time scheduling needs root or CAP_SYS_NICE), so other processes delayed them; "
        }
        _ => "",
    };
    eprintln!(
        "warning: services ran {:+.1}% long in total (timing.service_error_total), so utilization and waits are inflated by about as much; {why}use a larger time_scale or a quieter machine",
        t.service_error_total * 100.0
    );
}

/// Runs the load test with a progress bar when a person is watching.
pub fn run_real(
    model: &Model,
    quiet: bool,
    format: Format,
    stop: &Cancel,
) -> Result<RealOutcome, CliError> {
    let bar = if show_progress(quiet, format) {
        let b = ProgressBar::new(1000);
        b.set_style(
            ProgressStyle::with_template(
                "{spinner} loadtest (real time) [{bar:30}] {elapsed_precise} (eta {eta})",
            )
            .expect("valid template"),
        );
        b
    } else {
        ProgressBar::hidden()
    };
    let r = mqsim::loadtest::run_loadtest_outcome(
        model,
        &|f| bar.set_position((f * 1000.0) as u64),
        stop,
    )
    .map_err(|e| match e {
        LoadtestError::Interrupted => CliError::Interrupted(Some(format!("loadtest {e}"))),
        e => CliError::Other(anyhow::anyhow!("loadtest failed: {e}")),
    });
    bar.finish_and_clear();
    r
}

/// Runs the load test against the RabbitMQ at `url`, with a progress bar when a person is
/// watching. Connection, login and declaration problems are bad input (exit 2).
pub fn run_rabbitmq(
    model: &Model,
    url: &str,
    quiet: bool,
    format: Format,
    stop: &Cancel,
) -> Result<mqsim::results::RunReport, CliError> {
    use mqsim::rabbitmq::RabbitError;
    let bar = if show_progress(quiet, format) {
        let b = ProgressBar::new(1000);
        b.set_style(
            ProgressStyle::with_template(
                "{spinner} loadtest (RabbitMQ) [{bar:30}] {elapsed_precise} (eta {eta})",
            )
            .expect("valid template"),
        );
        b
    } else {
        ProgressBar::hidden()
    };
    let r = mqsim::rabbitmq::run_loadtest_until(
        model,
        url,
        &|f| bar.set_position((f * 1000.0) as u64),
        stop,
        None,
    )
    .map_err(|e| match e {
        RabbitError::Interrupted => CliError::Interrupted(Some(format!("loadtest {e}"))),
        e if e.is_bad_input() => CliError::Input(anyhow::anyhow!("{e}")),
        e => CliError::Other(anyhow::anyhow!("{e}")),
    });
    bar.finish_and_clear();
    r
}

pub fn loadtest(a: LoadtestArgs) -> Result<(), CliError> {
    super::output::prepare_out(a.out.as_deref())?;
    let stop = super::stop_on_interrupt();
    let mut model = load(&a.scenario.file)?;
    apply_overrides(&mut model, a.time_scale, a.duration.as_deref())?;
    check_real_run(&model, &a.scenario.file, a.quiet)?;
    let theory = mqsim::analytic::analyze(&model);
    if !a.quiet {
        warn_model(&model, &theory);
    }
    let outcome = match &a.broker {
        // The RabbitMQ driver reports percentiles, not histograms: its charts draw the
        // report's points, and it has no curve exports.
        Some(url) => mqsim::results::RealOutcome {
            report: run_rabbitmq(&model, url, a.quiet, a.format, &stop)?,
            wait: Vec::new(),
            sojourn: Vec::new(),
            curves: Vec::new(),
        },
        None => run_real(&model, a.quiet, a.format, &stop)?,
    };
    let report = &outcome.report;
    warn_timing(report, a.quiet);
    if let Some(dir) = &a.out {
        write_run_files(dir, report)?;
        let figs = mqsim::report::figures::real_figures(&outcome, Some(&theory));
        let written = write_figures(dir, &figs, Charts::Png)?;
        write_atomic(
            dir,
            "report.md",
            markdown::run_markdown(report, Some(&theory), &written).as_bytes(),
        )?;
        let names = queue_names(report);
        let real = export::Measured {
            source: "real",
            names: &names,
            wait: &outcome.wait,
            sojourn: &outcome.sojourn,
            curves: &outcome.curves,
        };
        if !outcome.wait.is_empty() {
            write_exports(dir, export::files(&[real], Some(&theory), None))?;
        }
    }
    print_run(a.format, report);
    if report.partial { Err(CliError::Interrupted(None)) } else { Ok(()) }
}
