//! `mqsim calibrate --broker URL`: measures a live RabbitMQ and writes the scenario
//! fragment `run`, `analyze` and `compare --calibration` apply; and the one place that
//! reads such a fragment for them.

use super::CliError;
use mqsim::rabbitmq::calibrate::{Plan, calibrate as measure};
use mqsim::scenario::Model;
use mqsim::scenario::calibration::Calibration;
use std::path::{Path, PathBuf};

#[derive(Debug, clap::Args)]
pub struct CalibrateArgs {
    /// The server, e.g. amqp://guest:guest@127.0.0.1:5672/%2f.
    #[arg(long, value_name = "URL")]
    broker: String,
    /// Write the fragment here (default: stdout).
    #[arg(long, value_name = "FILE")]
    out: Option<PathBuf>,
    /// Length of the saturation phase, seconds (the whole run, classic and quorum queues, takes about 16 s more).
    #[arg(long, default_value_t = 4.0)]
    flood_secs: f64,
    /// No summary on stderr.
    #[arg(long, short)]
    quiet: bool,
}

pub fn calibrate(a: CalibrateArgs) -> Result<(), CliError> {
    if !(a.flood_secs.is_finite() && a.flood_secs > 0.0 && a.flood_secs <= 600.0) {
        return Err(CliError::Input(anyhow::anyhow!(
            "--flood-secs must be in (0, 600], got {}",
            a.flood_secs
        )));
    }
    let plan = Plan { flood: std::time::Duration::from_secs_f64(a.flood_secs), ..Plan::default() };
    let m = measure(&a.broker, plan).map_err(|e| {
        if e.is_bad_input() {
            CliError::Input(anyhow::anyhow!("{e}"))
        } else {
            CliError::Other(anyhow::anyhow!("{e}"))
        }
    })?;
    let text = m.to_toml(&a.broker);
    if !a.quiet {
        let ms = |s: f64| format!("{:.3} ms", s * 1e3);
        let line = |f: &mqsim::rabbitmq::calibrate::Figures| {
            let (p, k) = (&f.publish_deliver, &f.ack_round_trip);
            format!(
                "publish -> deliver mean {} (p50 {}, p99 {}, {} msgs); ack round trip mean {} (p50 {}, p99 {})",
                ms(p.mean),
                ms(p.p50),
                ms(p.p99),
                p.samples,
                ms(k.mean),
                ms(k.p50),
                ms(k.p99)
            )
        };
        eprintln!(
            "{}: {}; one queue sustained {:.0} msgs/s",
            m.server,
            line(&m.classic),
            m.max_rate
        );
        if let Some(q) = &m.quorum {
            eprintln!("quorum queue: {}", line(q));
        }
    }
    match &a.out {
        Some(path) => std::fs::write(path, &text).map_err(|e| {
            CliError::Other(anyhow::anyhow!("cannot write {}: {e}", path.display()))
        })?,
        None => print!("{text}"),
    }
    Ok(())
}

/// Reads a calibration fragment (bad input, exit 2, if unreadable or invalid).
pub fn read(path: &Path) -> Result<Calibration, CliError> {
    let text = std::fs::read_to_string(path).map_err(|e| {
        CliError::Input(anyhow::anyhow!("cannot read calibration {}: {e}", path.display()))
    })?;
    Ok(Calibration::from_toml(&text, &path.display().to_string())?)
}

/// Applies `--calibration FILE` to `model`, printing its notes unless `quiet`.
pub fn apply(model: &mut Model, path: Option<&Path>, quiet: bool) -> Result<(), CliError> {
    let Some(path) = path else { return Ok(()) };
    let notes = read(path)?
        .apply(model)
        .map_err(|e| CliError::Input(anyhow::anyhow!("{}: {e}", path.display())))?;
    if !quiet {
        for n in notes {
            eprintln!("note: {n}");
        }
    }
    Ok(())
}
