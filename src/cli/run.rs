//! `mqsim run FILE`: the discrete-event simulation.

use super::output::{
    Charts, print_run, queue_names, show_progress, write_atomic, write_exports, write_figures,
    write_html, write_run_files,
};
use super::{CliError, Format, ScenarioArg, load, warn_model};
use anyhow::Context;
use indicatif::{ProgressBar, ProgressStyle};
use mqsim::report::{export, figures, markdown};
use mqsim::sim::{self, Progress};
use std::path::PathBuf;

#[derive(Debug, clap::Args)]
pub struct RunArgs {
    #[command(flatten)]
    scenario: ScenarioArg,
    /// Output format on stdout.
    #[arg(long, value_enum, default_value_t = Format::Table)]
    format: Format,
    /// Also write report files into this directory: report.json, results.csv, summary.txt,
    /// charts and report.md.
    #[arg(long, value_name = "DIR")]
    out: Option<PathBuf>,
    /// Chart files written with --out.
    #[arg(long, value_enum, default_value_t = Charts::Png)]
    charts: Charts,
    /// Override the scenario's seed.
    #[arg(long)]
    seed: Option<u64>,
    /// Override the scenario's number of replications.
    #[arg(long, value_parser = clap::value_parser!(u32).range(1..))]
    replications: Option<u32>,
    /// Also report every queue's figures per window of scenario time (the timeline), e.g.
    /// "1m"; overrides the scenario's `simulation.window`.
    #[arg(long, value_name = "DURATION", value_parser = super::duration_arg)]
    window: Option<f64>,
    /// Worker threads for replications (default: all cores). Results do not depend on it.
    #[arg(long, value_parser = clap::value_parser!(u32).range(1..))]
    threads: Option<u32>,
    /// Apply a calibration fragment written by `mqsim calibrate` (docs/scenario.md,
    /// "Calibration").
    #[arg(long, value_name = "FILE")]
    calibration: Option<PathBuf>,
    /// No progress bar and no warnings.
    #[arg(long, short)]
    quiet: bool,
}

struct Bar(ProgressBar);
impl Progress for Bar {
    fn replication_done(&self, done: u32, _total: u32) {
        self.0.set_position(u64::from(done));
    }
}

pub fn run(a: RunArgs) -> Result<(), CliError> {
    super::output::prepare_out(a.out.as_deref())?;
    let stop = super::stop_on_interrupt();
    let mut model = load(&a.scenario.file)?;
    if let Some(s) = a.seed {
        model.simulation.seed = s;
    }
    if let Some(r) = a.replications {
        model.simulation.replications = r;
        model.simulation.max_replications = model.simulation.max_replications.max(r);
    }
    super::apply_window(&mut model, a.window, "--window")?;
    super::calibrate::apply(&mut model, a.calibration.as_deref(), a.quiet)?;
    // Worked out once: the memory check, the warnings and the charts all read it.
    let mut theory = mqsim::analytic::analyze(&model);
    super::refuse_absurd_run(&model, &theory, &a.scenario.file, a.out.as_ref().map(|_| 300))?;
    if !a.quiet {
        warn_model(&model, &theory);
    }
    let bar = if show_progress(a.quiet, a.format) {
        let sim = &model.simulation;
        let most = if sim.precision.is_some() { sim.max_replications } else { sim.replications };
        let b = ProgressBar::new(u64::from(most));
        b.set_style(
            ProgressStyle::with_template(
                "{spinner} replications {pos}/{len} [{bar:30}] {elapsed_precise} (eta {eta})",
            )
            .expect("valid template"),
        );
        b
    } else {
        ProgressBar::hidden()
    };
    // Replications are the unit of parallel work and the simulator is CPU-bound, so more
    // threads than replications or than cores only cost memory and start-up (100 000 were
    // accepted and each got a stack): cap there, and say so.
    let cores = std::thread::available_parallelism().map_or(1, usize::from);
    let threads = a.threads.map(|t| {
        let cap = cores.min(model.simulation.replications as usize).max(1);
        if t as usize > cap && !a.quiet {
            eprintln!(
                "note: --threads {t} capped at {cap} ({cores} cores, {} replications)",
                model.simulation.replications
            );
        }
        (t as usize).min(cap)
    });
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(threads.unwrap_or(0))
        .build()
        .context("cannot start worker threads")?;
    let bar = Bar(bar);
    let step = a.out.as_ref().map(|_| figures::series_step(model.simulation.horizon, 300));
    let outcome = pool.install(|| sim::run_until(&model, step, &bar, &stop));
    bar.0.finish_and_clear();
    let Some(outcome) = outcome else {
        return Err(CliError::Interrupted(Some(format!(
            "no replication of {} completed: nothing to report",
            model.simulation.replications
        ))));
    };
    let report = &outcome.report;
    if let Some(dir) = &a.out {
        write_run_files(dir, report)?;
        // Per-window theory (PSA, MOL) for the headline's worst window of a varying load.
        theory.timeline = report
            .timeline
            .as_ref()
            .map(|t| mqsim::analytic::timevarying::timeline(&model, t.window_s));
        let mut figs = figures::latency_figures(&outcome, Some(&theory), None);
        figs.extend(figures::topic_group_figures(&outcome, Some(&theory)));
        figs.extend(figures::timeline_figures(report));
        figs.extend(figures::time_figures(&outcome, &model, Some(&theory)));
        let written = write_figures(dir, &figs, a.charts)?;
        let md = markdown::run_markdown(report, Some(&theory), &written);
        write_atomic(dir, "report.md", md.as_bytes())?;
        write_html(dir, &report.scenario, &md, &figs, &written)?;
        let names = queue_names(report);
        let sim = export::Measured {
            source: "sim",
            names: &names,
            wait: &outcome.wait,
            sojourn: &outcome.sojourn,
            curves: &outcome.curves,
        };
        write_exports(dir, export::files(&[sim], Some(&theory), Some(&outcome)))?;
    }
    print_run(a.format, report);
    if report.partial { Err(CliError::Interrupted(None)) } else { Ok(()) }
}
