//! What a person should hear about a scenario before its results: the loader's warnings,
//! a run long enough to deserve a word, and every queue theory calls unstable. Returned as
//! lines of text; the CLI prints them on stderr.

use crate::analytic;
use crate::dist::fmt_secs;
use crate::scenario::Model;

/// Publishes in a run above which the expected duration is worth announcing.
const LONG_RUN_PUBLISHES: f64 = 2e9;
/// Rough simulator speed, messages per second per core, for that announcement.
const MESSAGES_PER_CORE_S: f64 = 1e7;

/// Publishes in one command above which the run is refused rather than started: at the
/// rough speed below that is more than a day of one core, and a simulated backlog of that
/// many messages would not fit in memory either. An arrival rate of 1e300 per second used to
/// start, and run until memory ran out.
pub const MAX_RUN_PUBLISHES: f64 = 1e12;

/// Expected publishes of a simulation of `model`: every producer over every replication.
pub fn expected_publishes(model: &Model) -> f64 {
    let s = &model.simulation;
    model.producers.iter().map(|p| s.horizon / p.arrival.mean().max(1e-300)).sum::<f64>()
        * f64::from(s.replications)
}

/// Refuses a simulation whose size is absurd (more than [`MAX_RUN_PUBLISHES`] publishes),
/// stating the estimate, the limit and what to change.
pub fn check_run_size(model: &Model) -> Result<(), String> {
    let publishes = expected_publishes(model);
    if publishes <= MAX_RUN_PUBLISHES {
        return Ok(());
    }
    let s = &model.simulation;
    let rate: f64 = model.producers.iter().map(|p| 1.0 / p.arrival.mean().max(1e-300)).sum();
    Err(format!(
        "refusing to simulate about {publishes:.1e} publishes (arrivals {rate:.3e}/s over a horizon of {} × {} replications); \
         the limit is {MAX_RUN_PUBLISHES:.0e}, about {} of one core at ~10 million messages/s. \
         Shorten simulation.horizon, lower simulation.replications, or check the arrival rates and their units",
        fmt_secs(s.horizon),
        s.replications,
        fmt_secs(MAX_RUN_PUBLISHES / MESSAGES_PER_CORE_S),
    ))
}

/// The model's warnings, then one if the run is long on `threads` cores, then one for
/// every queue that theory says is unstable (offered load at or above capacity with no
/// `max_length`): its backlog grows for as long as the run lasts, so its figures describe
/// the horizon, not a steady state.
pub fn model_warnings(model: &Model, threads: usize) -> Vec<String> {
    let mut out = model.warnings.clone();
    let s = &model.simulation;
    let publishes = expected_publishes(model);
    if publishes > LONG_RUN_PUBLISHES {
        out.push(format!(
            "about {publishes:.1e} publishes over {} replications: at ~10 million messages/s per core this takes about {}",
            s.replications,
            fmt_secs(publishes / MESSAGES_PER_CORE_S / threads.max(1) as f64)
        ));
    }
    for q in analytic::analyze(model).queues {
        if !q.stable && q.consumers > 0 {
            // Scientific notation past a million: ρ = 1e300 printed 300 digits.
            let rho = q.rho.map_or_else(
                || "unknown".to_string(),
                |r| if r.abs() >= 1e6 { format!("{r:.3e}") } else { format!("{r:.3}") },
            );
            out.push(format!(
                "queue \"{}\" is unstable (rho = {rho} >= 1, no max_length): its backlog grows without bound; \
                 figures depend on the horizon",
                q.name
            ));
        }
    }
    out
}
