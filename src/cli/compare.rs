//! `mqsim compare FILE`: theory, simulation and the real broker for every queue, side by side.

use super::loadtest::{apply_overrides, run_rabbitmq, run_real};
use super::output::{Charts, print, queue_names, write_atomic, write_exports, write_figures};
use super::{CliError, Format, ScenarioArg, load, warn_model};
use mqsim::report::compare::{Extra, compare_with};
use mqsim::report::{csv, export, figures, json, markdown, table};
use mqsim::sim::{self, NoProgress};
use std::path::PathBuf;

#[derive(Debug, clap::Args)]
pub struct CompareArgs {
    #[command(flatten)]
    scenario: ScenarioArg,
    /// Output format on stdout.
    #[arg(long, value_enum, default_value_t = Format::Table)]
    format: Format,
    /// Also write compare.json, compare.csv, charts and report.md here.
    #[arg(long, value_name = "DIR")]
    out: Option<PathBuf>,
    /// Skip the real-clock load test on the in-crate broker.
    #[arg(long)]
    no_real: bool,
    /// Also run the scenario against a real RabbitMQ, e.g.
    /// amqp://guest:guest@127.0.0.1:5672/%2f, and add it as a column (see `loadtest --broker`).
    #[arg(long, value_name = "URL")]
    broker: Option<String>,
    /// Also simulate the model calibrated by this fragment (`mqsim calibrate`) and add it as
    /// a column; theory and the plain simulation stay uncalibrated.
    #[arg(long, value_name = "FILE")]
    calibration: Option<PathBuf>,
    /// Override `[loadtest] time_scale`.
    #[arg(long)]
    time_scale: Option<f64>,
    /// Override `[loadtest] horizon` (real time).
    #[arg(long)]
    duration: Option<String>,
    /// Override the number of replications of the simulation.
    #[arg(long, value_parser = clap::value_parser!(u32).range(1..))]
    replications: Option<u32>,
    /// No progress bar and no warnings.
    #[arg(long, short)]
    quiet: bool,
}

pub fn compare(a: CompareArgs) -> Result<(), CliError> {
    super::output::prepare_out(a.out.as_deref())?;
    let mut model = load(&a.scenario.file)?;
    apply_overrides(&mut model, a.time_scale, a.duration.as_deref())?;
    if !a.no_real || a.broker.is_some() {
        super::loadtest::check_real_run(&model, &a.scenario.file, a.quiet)?;
    }
    if let Some(r) = a.replications {
        model.simulation.replications = r;
    }
    let theory = mqsim::analytic::analyze(&model);
    super::refuse_absurd_run(&model, &theory, &a.scenario.file, a.out.as_ref().map(|_| 300))?;
    if !a.quiet {
        warn_model(&model, &theory);
    }
    let step = a.out.as_ref().map(|_| figures::series_step(model.simulation.horizon, 300));
    let sim = sim::run(&model, step, &NoProgress);
    let calibrated = match &a.calibration {
        Some(path) => {
            let mut cal = model.clone();
            super::calibrate::apply(&mut cal, Some(path), a.quiet)?;
            Some(sim::run(&cal, None, &NoProgress).report)
        }
        None => None,
    };
    let real = if a.no_real {
        None
    } else {
        let r = run_real(&model, a.quiet, a.format, &mqsim::cancel::Cancel::new())?;
        super::loadtest::warn_timing(&r.report, a.quiet);
        Some(r)
    };
    let rabbit = match &a.broker {
        Some(url) => {
            Some(run_rabbitmq(&model, url, a.quiet, a.format, &mqsim::cancel::Cancel::new())?)
        }
        None => None,
    };
    let cal_name = a.calibration.as_ref().map(|p| p.display().to_string());
    let extra = Extra {
        rabbitmq: rabbit.as_ref(),
        calibrated: calibrated.as_ref(),
        calibration: cal_name.as_deref(),
    };
    let c = compare_with(&theory, &sim.report, real.as_ref().map(|r| &r.report), extra);
    if let Some(dir) = &a.out {
        write_atomic(dir, "compare.json", json::to_json(&c).as_bytes())?;
        write_atomic(dir, "compare.csv", &csv::comparison(&c))?;
        let mut figs = figures::latency_figures(&sim, Some(&theory), real.as_ref());
        figures::add_broker_lines(&mut figs, rabbit.as_ref(), calibrated.as_ref());
        let written = write_figures(dir, &figs, Charts::Png)?;
        let mut md = markdown::compare_markdown(&c, &sim.report, &theory, &written);
        if let Some(r) = real.as_ref().map(|r| &r.report).filter(|r| !r.topics.is_empty()) {
            // Topics are not in the queue comparison: the real run's own figures instead.
            md.push_str(&mqsim::report::topic::real_markdown(r, &theory));
            write_atomic(dir, "real.json", r.to_json().as_bytes())?;
        }
        if let Some(r) = &rabbit {
            // The RabbitMQ run's own document: counts, server, timing.
            write_atomic(dir, "rabbitmq.json", r.to_json().as_bytes())?;
        }
        write_atomic(dir, "report.md", md.as_bytes())?;
        super::output::write_html(dir, &c.scenario, &md, &figs, &written)?;
        let sim_names = queue_names(&sim.report);
        let mut measured = vec![export::Measured {
            source: "sim",
            names: &sim_names,
            wait: &sim.wait,
            sojourn: &sim.sojourn,
            curves: &sim.curves,
        }];
        let real_names = real.as_ref().map(|r| queue_names(&r.report)).unwrap_or_default();
        if let Some(r) = &real {
            measured.push(export::Measured {
                source: "real",
                names: &real_names,
                wait: &r.wait,
                sojourn: &r.sojourn,
                curves: &r.curves,
            });
        }
        write_exports(dir, export::files(&measured, Some(&theory), Some(&sim)))?;
    }
    print(a.format, || table::render_comparison(&c), || json::to_json(&c), || csv::comparison(&c));
    Ok(())
}
