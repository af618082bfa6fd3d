//! Speed measurements shared by `mqsim bench` and the criterion benches: the engine on the
//! textbook queues beside the reference loops of [`super::reference`], as ratios measured
//! in the same process (stable across machines of different speed), and wall-clock
//! throughput on any model.

use super::{reference, simulate};
use crate::results::SpeedRow;
use crate::scenario::Model;
use std::time::Instant;

/// Best of `runs` timings of `f`, seconds (the minimum is the least noisy estimate of cost).
pub fn best_of<R>(runs: usize, mut f: impl FnMut() -> R) -> (f64, R) {
    let mut best = f64::INFINITY;
    let mut last = None;
    for _ in 0..runs.max(1) {
        let t = Instant::now();
        let r = std::hint::black_box(f());
        best = best.min(t.elapsed().as_secs_f64());
        last = Some(r);
    }
    (best, last.expect("at least one run"))
}

/// A one-queue Poisson/exponential model for the comparisons.
pub fn mmc_model(lambda: f64, mu: f64, c: u32, horizon: f64) -> Model {
    let text = format!(
        "[simulation]\nhorizon = {horizon}\nreplications = 1\n[[producers]]\nname = \"p\"\nrouting_key = \"q\"\n\
         arrival = {{ dist = \"exponential\", rate = {lambda} }}\n[[queues]]\nname = \"q\"\n\
         [[consumers]]\nname = \"c\"\nqueue = \"q\"\ncount = {c}\nprefetch = 1\n\
         service = {{ dist = \"exponential\", rate = {mu} }}\n"
    );
    Model::from_toml(&text, "bench.toml").expect("generated model is valid")
}

/// Wall-clock speed of one replication of `model` (single thread, best of `runs`).
pub fn measure(name: &str, model: &Model, runs: usize) -> SpeedRow {
    let (secs, res) = best_of(runs, || simulate(model, 0, None));
    let published: u64 = res.producers.iter().map(|p| p.published).sum();
    SpeedRow {
        name: name.to_string(),
        events_per_s: res.events as f64 / secs,
        messages_per_s: published as f64 / secs,
        ratio_to_floor: None,
    }
}

/// Simulated seconds of the M/M/1 floor comparison that `mqsim bench` quotes: long enough
/// (800 000 messages) that timer resolution and start-up do not count.
pub const FLOOR_HORIZON_S: f64 = 100_000.0;

/// Wall-clock speed of one replication of a scenario, named by the scenario and its horizon.
pub fn measure_scenario(model: &Model, runs: usize) -> SpeedRow {
    let name = format!(
        "{} (1 replication, {})",
        model.name,
        crate::dist::fmt_secs(model.simulation.horizon)
    );
    measure(&name, model, runs)
}

/// The engine on M/M/1 (ρ = 0.8) against the Lindley recursion, and on M/M/8 and M/M/64
/// (ρ = 0.8) against a minimal binary-heap event loop, each over `horizon` simulated seconds.
pub fn floor_comparison(horizon: f64, runs: usize) -> Vec<SpeedRow> {
    let mut rows = Vec::new();
    let m1 = mmc_model(8.0, 10.0, 1, horizon);
    let mut r1 = measure("engine M/M/1 (rho 0.8)", &m1, runs);
    let customers = (8.0 * horizon) as u64;
    let (floor1, _) = best_of(runs, || reference::lindley_mm1(8.0, 10.0, customers, 1));
    let engine1 = customers as f64 / r1.messages_per_s;
    r1.ratio_to_floor = Some(engine1 / floor1);
    rows.push(r1);
    for c in [8u32, 64] {
        let h = horizon / f64::from(c);
        let lambda = 8.0 * f64::from(c);
        let m = mmc_model(lambda, 10.0, c, h);
        let mut r = measure(&format!("engine M/M/{c} (rho 0.8)"), &m, runs);
        let (floor, (events, _)) = best_of(runs, || reference::heap_mmc(lambda, 10.0, c, h, 1));
        let engine = events as f64 / r.events_per_s;
        r.ratio_to_floor = Some(engine / floor);
        rows.push(r);
    }
    rows
}
