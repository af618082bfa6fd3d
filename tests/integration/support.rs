//! Helpers shared by the integration tests: running replications of a scenario text, and
//! checking a simulated figure against theory with a tolerance taken from its own
//! confidence interval.

use mqsim::scenario::Model;
use mqsim::sim::{ReplicationResult, simulate};
use mqsim::stats::student_t_975;
use rayon::prelude::*;
use statrs::distribution::{ContinuousCDF, StudentsT};

pub fn model(text: &str) -> Model {
    Model::from_toml(text, "test.toml").unwrap_or_else(|e| panic!("{e}"))
}

pub fn replications(m: &Model) -> Vec<ReplicationResult> {
    (0..m.simulation.replications).into_par_iter().map(|r| simulate(m, r, None)).collect()
}

/// Mean and standard error of per-replication values.
pub fn mean_se(values: &[f64]) -> (f64, f64) {
    let n = values.len() as f64;
    let mean = values.iter().sum::<f64>() / n;
    let var = values.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / (n - 1.0);
    (mean, (var / n).sqrt())
}

/// Asserts that `theory` lies in the 99.9% Student-t interval of the per-replication
/// `values`. Seeds are fixed, so the outcome is deterministic; a correct simulator misses
/// the 99.9% interval on only 1 seed in 1000, so a failure points at a bug, not bad luck.
/// Returns (mean, half-width of the 95% interval, relative error) for the report.
pub fn assert_theory_in_ci(what: &str, values: &[f64], theory: f64) -> (f64, f64, f64) {
    let (mean, se) = mean_se(values);
    let df = values.len() as u32 - 1;
    let t999 = StudentsT::new(0.0, 1.0, f64::from(df)).unwrap().inverse_cdf(0.9995);
    let half999 = t999 * se;
    let half95 = student_t_975(df) * se;
    let rel = (mean - theory) / theory;
    eprintln!(
        "{what}: theory {theory:.6}, sim {mean:.6} ± {half95:.6} (95%), rel err {:+.2}%",
        rel * 100.0
    );
    assert!(
        (mean - theory).abs() <= half999,
        "{what}: theory {theory} outside sim {mean} ± {half999} (99.9% CI)"
    );
    (mean, half95, rel)
}

/// A single-queue scenario: Poisson arrivals at `rate`, `count` consumers with prefetch 1.
pub fn single_queue(
    rate: f64,
    count: u32,
    service: &str,
    extra_queue: &str,
    horizon: &str,
    reps: u32,
    seed: u64,
) -> String {
    format!(
        r#"
[simulation]
horizon = "{horizon}"
warmup = "5m"
replications = {reps}
seed = {seed}

[[producers]]
name = "p"
routing_key = "q"
arrival = {{ dist = "exponential", rate = {rate} }}

[[queues]]
name = "q"
{extra_queue}

[[consumers]]
name = "c"
queue = "q"
count = {count}
prefetch = 1
service = {service}
"#
    )
}
