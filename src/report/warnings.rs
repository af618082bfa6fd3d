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

/// The model's warnings, then one if the run is long on `threads` cores, then one for
/// every queue that theory says is unstable (offered load at or above capacity with no
/// `max_length`): its backlog grows for as long as the run lasts, so its figures describe
/// the horizon, not a steady state.
pub fn model_warnings(model: &Model, threads: usize) -> Vec<String> {
    let mut out = model.warnings.clone();
    let s = &model.simulation;
    let publishes: f64 =
        model.producers.iter().map(|p| s.horizon / p.arrival.mean().max(1e-300)).sum::<f64>()
            * f64::from(s.replications);
    if publishes > LONG_RUN_PUBLISHES {
        out.push(format!(
            "about {publishes:.1e} publishes over {} replications: at ~10 million messages/s per core this takes about {}",
            s.replications,
            fmt_secs(publishes / MESSAGES_PER_CORE_S / threads.max(1) as f64)
        ));
    }
    for q in analytic::analyze(model).queues {
        if !q.stable && q.consumers > 0 {
            let rho = q.rho.map_or_else(|| "unknown".to_string(), |r| format!("{r:.3}"));
            out.push(format!(
                "queue \"{}\" is unstable (rho = {rho} >= 1, no max_length): its backlog grows without bound; \
                 figures depend on the horizon",
                q.name
            ));
        }
    }
    out
}
