//! The validation matrix's cells for load that is not a stationary stream of single Poisson
//! messages (`analytic::load`, `analytic::timevarying`):
//!
//! - **MMPP/M/1** (exact, matrix-geometric) at three loads and burst lengths, from fast
//!   switching to bursts that overload the consumer for tens of seconds;
//! - **M^X/M/1** (exact means) with a constant batch and a batch size uniform on 1..=8 (an
//!   `empirical` batch read from an in-memory file, whose moments are exact);
//! - the **fluid drain time** B/(cμ − λ) of an initial backlog (approximate): its relative
//!   error against the simulated first instant at which nothing waits, per replication;
//! - **PSA and MOL** per window for time-varying M(t)/M/c queues (approximate): their mean
//!   and p99 wait per window against the simulation's timeline, windows after the warm-up.
//!
//! The exact cells are ordinary stationary cells (the generic comparison of `validate`);
//! the drain and timeline cells compare only what their approximation predicts, since the
//! long-run figures of a queue that starts with a backlog or follows a changing rate are
//! not what the stationary models describe.

use super::{Cell, Kind, Row, row};
use crate::analytic::{self, timevarying};
use crate::scenario::{Files, Model};
use crate::sim::SimOutcome;
use crate::stats::MeanCi;

/// The in-memory file of an `empirical` batch: sizes 1 to 8, once each (uniform).
struct BatchFile;

const UNIFORM_BATCH: &str = "uniform-batch.csv";

impl Files for BatchFile {
    fn read(&self, path: &str) -> Result<String, String> {
        if path == UNIFORM_BATCH {
            Ok((1..=8).map(|n| format!("{n}\n")).collect())
        } else {
            Err(format!("no built-in file \"{path}\""))
        }
    }
}

/// One queue, one exponential consumer group (`c` consumers of mean `service` seconds,
/// prefetch 1), the producer's `arrival` and `extra` producer lines, the queue's `queue`
/// lines and the `[simulation]` lines `sim`.
#[allow(clippy::too_many_arguments)]
fn text(
    sim: &str,
    arrival: &str,
    producer: &str,
    queue: &str,
    c: u32,
    service: f64,
    reps: u32,
    seed: u64,
) -> String {
    format!(
        "[simulation]\n{sim}\nreplications = {reps}\nseed = {seed}\n\
         [[producers]]\nname = \"p\"\nrouting_key = \"q\"\narrival = {arrival}\n{producer}\n\
         [[queues]]\nname = \"q\"\n{queue}\n\
         [[consumers]]\nname = \"c\"\nqueue = \"q\"\ncount = {c}\nprefetch = 1\nservice = {{ dist = \"exponential\", mean = {service} }}\n"
    )
}

fn cell(label: String, text: &str, kind: Kind) -> Cell {
    Cell {
        label,
        model: Model::from_toml_with_files(text, "load-cell.toml", &BatchFile)
            .expect("generated load cell is valid"),
        kind,
    }
}

/// Stationary cells run for `customers` messages (at least 200 s), a tenth as warm-up.
fn stationary_sim(customers: f64, lambda: f64) -> String {
    let horizon = (customers / lambda).max(200.0);
    format!("horizon = {horizon}\nwarmup = {}", horizon / 10.0)
}

/// The load cells; `quick` leaves out two drains and the long-service M(t)/M/c.
pub(super) fn cells(quick: bool, reps: u32, customers: u64) -> Vec<Cell> {
    let n = customers as f64;
    let mut out = Vec::new();
    // MMPP/M/1, μ = 10: (rates, mean durations, customers factor). Slow bursts relax
    // slowly, so they get more customers for an informative interval.
    let mmpps: &[([f64; 2], [f64; 2], f64)] = &[
        ([2.0, 12.0], [0.5, 0.5], 1.0),
        ([3.0, 9.0], [5.0, 5.0], 2.0),
        ([4.0, 12.0], [20.0, 20.0], 4.0),
    ];
    for (i, &(rates, durations, factor)) in mmpps.iter().enumerate() {
        let mean =
            (rates[0] * durations[0] + rates[1] * durations[1]) / (durations[0] + durations[1]);
        let arrival = format!(
            "{{ process = \"mmpp\", states = [{{ rate = {}, mean_duration = {} }}, {{ rate = {}, mean_duration = {} }}] }}",
            rates[0], durations[0], rates[1], durations[1]
        );
        out.push(cell(
            format!(
                "MMPP/M/1 rates {}/{} per {}s rho={}",
                rates[0],
                rates[1],
                durations[0],
                mean / 10.0
            ),
            &text(
                &stationary_sim(n * factor, mean),
                &arrival,
                "",
                "",
                1,
                0.1,
                reps,
                6001 + i as u64,
            ),
            Kind::Stationary,
        ));
    }
    // M^X/M/1, μ = 10: (label, batch, publishes per second).
    let batches: &[(&str, String, f64)] = &[
        ("M^X/M/1 batch=5 rho=0.7", "batch = { dist = \"constant\", value = 5 }".into(), 1.4),
        (
            "M^X/M/1 batch uniform 1..8 rho=0.72",
            format!("batch = {{ dist = \"empirical\", file = \"{UNIFORM_BATCH}\" }}"),
            1.6,
        ),
    ];
    for (i, (label, batch, rate)) in batches.iter().enumerate() {
        let msgs = rate * if i == 0 { 5.0 } else { 4.5 };
        let arrival = format!("{{ dist = \"exponential\", rate = {rate} }}");
        out.push(cell(
            (*label).into(),
            &text(
                &stationary_sim(2.0 * n, msgs),
                &arrival,
                batch,
                "",
                1,
                0.1,
                reps,
                6101 + i as u64,
            ),
            Kind::Stationary,
        ));
    }
    // Fluid drain of an initial backlog: (backlog, consumers, arrival rate), μ = 10. The
    // horizon is three fluid drain times, so every replication drains.
    let drains: &[(u64, u32, f64)] = if quick {
        &[(5000, 4, 20.0), (1000, 1, 8.0)]
    } else {
        &[(5000, 4, 20.0), (1000, 1, 8.0), (200, 8, 64.0), (20000, 16, 120.0)]
    };
    for (i, &(b, c, lambda)) in drains.iter().enumerate() {
        let fluid = b as f64 / (f64::from(c) * 10.0 - lambda);
        let arrival = format!("{{ dist = \"exponential\", rate = {lambda} }}");
        out.push(cell(
            format!("drain B={b} M/M/{c} rho={}", lambda / (f64::from(c) * 10.0)),
            &text(
                &format!("horizon = {}\nwarmup = 0", 3.0 * fluid),
                &arrival,
                "",
                &format!("initial_messages = {b}"),
                c,
                0.1,
                reps.max(20),
                6201 + i as u64,
            ),
            Kind::Drain,
        ));
    }
    // M(t)/M/c per window: (label, arrival, consumers, mean service, period, window). Two
    // periods are run and the first is the warm-up, so the compared windows see the
    // periodic regime; replications are as many as the budget of the other cells buys.
    let mut varying: Vec<(&str, &str, u32, f64, f64, f64, f64)> = vec![
        (
            "M(t)/M/4 sinusoid 30/s ±25% period 120s",
            "{ process = \"sinusoid\", mean_rate = 30, amplitude = 0.25, period = 120 }",
            4,
            0.1,
            120.0,
            10.0,
            30.0,
        ),
        (
            "M(t)/M/4 schedule 20/s, 36/s for 60s, 20/s",
            "{ process = \"schedule\", period = 180, rates = [{ at = 0, rate = 20 }, { at = 60, rate = 36 }, { at = 120, rate = 20 }] }",
            4,
            0.1,
            180.0,
            10.0,
            25.3,
        ),
    ];
    if !quick {
        varying.push((
            "M(t)/M/10 service 2s sinusoid 4/s ±20% period 60s",
            "{ process = \"sinusoid\", mean_rate = 4, amplitude = 0.2, period = 60 }",
            10,
            2.0,
            60.0,
            5.0,
            4.0,
        ));
    }
    // A window's mean wait is nearly one correlated sample per replication, so measuring
    // an approximation's error of a few percent takes thousands of replications: the full
    // matrix gives these cells four times a stationary cell's messages; the quick one only
    // shows that the rows exist (their intervals are wide).
    let budget = f64::from(reps) * n * if quick { 1.0 } else { 4.0 };
    for (i, &(label, arrival, c, service, period, window, rate)) in varying.iter().enumerate() {
        let per_rep = 2.0 * period * rate;
        let reps = ((budget / per_rep) as u32).clamp(reps, 4000);
        out.push(cell(
            label.into(),
            &text(
                &format!("horizon = {}\nwarmup = {period}\nwindow = {window}", 2.0 * period),
                arrival,
                "",
                "",
                c,
                service,
                reps,
                6301 + i as u64,
            ),
            Kind::Windows,
        ));
    }
    out
}

/// Theory against simulation for a drain or timeline cell (the stationary ones go through
/// the generic comparison).
pub(super) fn compare(cell: &Cell, out: &SimOutcome, widen: f64) -> Vec<Row> {
    match cell.kind {
        Kind::Stationary => Vec::new(),
        Kind::Drain => drain(cell, out, widen),
        Kind::Windows => windows(cell, out, widen),
    }
}

fn drain(cell: &Cell, out: &SimOutcome, widen: f64) -> Vec<Row> {
    let theory = analytic::analyze(&cell.model);
    let mut rows = Vec::new();
    for q in &out.report.queues {
        let (Some(a), Some(d)) = (theory.queue(&q.name), &q.drain_time_s) else { continue };
        let (Some(t), Some(mean)) = (a.drain_time_s, d.mean) else { continue };
        rows.push(row(
            &cell.label,
            "fluid B/(cμ − λ)",
            false,
            "drain_time_s.mean",
            t,
            MeanCi { mean, ci95: d.ci95 },
            widen,
            1.0,
        ));
    }
    rows
}

fn windows(cell: &Cell, out: &SimOutcome, widen: f64) -> Vec<Row> {
    let Some(sim) = &out.report.timeline else { return Vec::new() };
    let theory = timevarying::timeline(&cell.model, sim.window_s);
    let scale = cell.model.groups[0].service.mean();
    let mut rows = Vec::new();
    for (k, (w, p)) in sim.windows.iter().zip(&theory.windows).enumerate() {
        if w.warmup {
            continue;
        }
        for (s, t) in w.queues.iter().zip(&p.queues) {
            for (name, approx) in [("PSA", &t.psa), ("MOL", &t.mol)] {
                let Some(approx) = approx else { continue };
                let model = format!("{name} (M(t)/M/c)");
                let metric = |m: &str| format!("window[{k}] {}s {m}", w.start_s);
                if let Some(mean) = s.wait_s.mean {
                    rows.push(row(
                        &cell.label,
                        &model,
                        false,
                        &metric("wait_s.mean"),
                        approx.wait_s.mean,
                        MeanCi { mean, ci95: s.wait_s.ci95 },
                        widen,
                        scale,
                    ));
                }
                if let Some(p99) = s.wait_s.p99 {
                    rows.push(row(
                        &cell.label,
                        &model,
                        false,
                        &metric("wait_s.p99"),
                        approx.wait_s.p99,
                        MeanCi { mean: p99, ci95: s.wait_s.p99_ci95 },
                        widen,
                        scale,
                    ));
                }
            }
        }
    }
    rows
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sim::{self, NoProgress};

    /// The exact cells (MMPP/M/1, M^X/M/1) hold within the simulation's 99.9% interval
    /// (fixed seeds: the verdicts are deterministic; a correct simulator misses that
    /// interval on about 1 seed in 1000 per comparison), and the approximate cells give a
    /// row for every compared window and every drain.
    #[test]
    fn exact_load_cells_pass_and_approximations_are_measured() {
        let cells = cells(true, 10, 30_000);
        let mut exact = 0;
        for c in &cells {
            let out = sim::run(&c.model, None, &NoProgress);
            let rows = super::super::compare_cell(c, &out);
            match c.kind {
                Kind::Stationary => {
                    assert!(rows.len() >= 3, "{}: {rows:?}", c.label);
                    for r in &rows {
                        assert!(r.exact, "{} {} should be exact: {r:?}", c.label, r.metric);
                        assert_eq!(r.pass, Some(true), "{} {}: {r:?}", c.label, r.metric);
                        exact += 1;
                    }
                }
                Kind::Drain => {
                    let [r] = &rows[..] else { panic!("{}: {rows:?}", c.label) };
                    assert!(r.pass.is_none(), "{r:?}");
                    let d = out.report.queues[0].drain_time_s.as_ref().unwrap();
                    assert_eq!(d.drained_replications, c.model.simulation.replications);
                    // With exponential service the drain is a birth–death passage: from
                    // B messages to c (the first instant nothing is ready), each level
                    // down takes 1/(cμ − λ) on average, so E[drain] = (B − c)/(cμ − λ)
                    // exactly; the fluid time is off by c/(cμ − λ), and the simulated
                    // mean must hold that within its 99.9% interval.
                    let g = &c.model.groups[0];
                    let net =
                        f64::from(g.count) / g.service.mean() - c.model.producers[0].message_rate();
                    let exact = r.theory - f64::from(g.count) / net;
                    let widen = super::super::t999_over_t975(c.model.simulation.replications - 1);
                    assert!(
                        (r.simulated - exact).abs() <= widen * r.ci95,
                        "{}: {r:?} vs {exact}",
                        c.label
                    );
                }
                Kind::Windows => {
                    // Every window after the warm-up, PSA and MOL, mean and p99 (where
                    // the approximation has an answer: the load stays below capacity).
                    assert!(rows.len() >= 4 * 8, "{}: {} rows", c.label, rows.len());
                    assert!(rows.iter().all(|r| r.pass.is_none() && r.rel_error.is_finite()));
                }
            }
        }
        assert!(exact >= 5 * 3, "{exact} exact comparisons");
    }
}
