//! Time-varying arrivals, M(t)/M/c, per window of scenario time — **approximate**.
//!
//! Two classical approximations, both built on the stationary M/M/c ([`super::mmc`]):
//!
//! - **PSA**, the pointwise-stationary approximation (Green, Kolesar & Svoronos, "Some
//!   effects of nonstationarity on multiserver Markovian queueing systems", *Operations
//!   Research* 39(3), 1991): at each instant t the queue is taken to be the stationary
//!   M/M/c at the rate λ(t) in force. Good when the rate changes slowly compared with the
//!   time the queue takes to settle (~1/(cμ − λ)); it ignores the lag with which a backlog
//!   builds and drains, and has no answer where λ(t) ≥ cμ at some instant.
//! - **MOL**, the modified-offered-load approximation (Jennings, Mandelbaum, Massey & Whitt,
//!   "Server staffing to meet time-varying demand", *Management Science* 42(10), 1996): the
//!   stationary M/M/c at the offered load m(t) of the infinite-server M(t)/M/∞ queue, the
//!   mean number of busy servers had there been enough, which solves m'(t) = λ(t) − μ m(t)
//!   (here from m(0) = 0: the run starts empty). m(t) lags and smooths λ(t), which is what
//!   PSA misses; both still assume the queue is not overloaded at the time.
//!
//! Per window, as the simulator's timeline measures it: the backlog is the time average of
//! the instantaneous Lq over the window; a message belongs to the window it arrived in, so
//! the wait's mean and p99 are those of the mixture over the window's arrivals, weighted by
//! λ(t): P(Wq > x) = ∫ λ(t) C(t) e^{−(cμ − λ*(t)) x} dt / ∫ λ(t) dt, where λ*(t) is λ(t)
//! for PSA and μ m(t) for MOL, and C(t) Erlang's C at that load. The integrals are taken on
//! a fine grid (the rate at the middle of each step; for MOL the ODE is solved exactly over
//! each step with the rate held).

use super::mmc::{MmcResult, mmc};
use super::numeric::quantile_by_bisection;
use crate::arrival::Arrival;
use crate::results::{
    AnalyticTimeline, MeanCount, PredictedWindow, PredictedWindowQueue, TimelineModel,
    WindowTheory, WindowTheoryWait,
};
use crate::scenario::{Ack, Model, Producer};

/// An arrival rate as a function of scenario time.
type Rate<'m> = Box<dyn Fn(f64) -> f64 + 'm>;

/// A producer's arrival rate over time, when its arrivals are Poisson (possibly with a
/// time-varying rate): `None` for any other process.
fn rate_of(p: &Producer) -> Option<Rate<'_>> {
    if p.batch.is_some() {
        // Batches arrive together: not a Poisson stream of messages.
        return None;
    }
    match &p.arrival {
        Arrival::Schedule(s) => Some(Box::new(move |t| s.rate_at(t))),
        &Arrival::Sinusoid { mean_rate, amplitude, period } => Some(Box::new(move |t| {
            mean_rate * (1.0 + amplitude * (2.0 * std::f64::consts::PI * t / period).sin())
        })),
        a if a.is_exponential() => {
            let r = a.mean_rate();
            Some(Box::new(move |_| r))
        }
        _ => None,
    }
}

/// Why queue `q` is not an M(t)/M/c queue, or its (rate, μ, c).
fn m_t_m_c(model: &Model, q: usize) -> Result<(Rate<'_>, f64, u32), String> {
    let queue = &model.queues[q];
    let [g] = queue.groups[..] else {
        return Err(if queue.groups.is_empty() {
            "no consumers: nothing to predict".into()
        } else {
            "several consumer groups: PSA and MOL here take one group of identical consumers".into()
        });
    };
    let g = &model.groups[g];
    if g.count == 0 || !g.service.is_exponential() {
        return Err("the approximations need exponential service (M(t)/M/c)".into());
    }
    if g.failure.is_some() || g.crash.is_some() {
        return Err("failures or crashes change the service process: not M(t)/M/c".into());
    }
    if g.count > 1 && !(g.ack == Ack::Manual && g.prefetch == 1) {
        return Err(
            "with prefetch other than 1 messages wait in busy consumers' buffers: not one FIFO line (M/M/c)"
                .into(),
        );
    }
    if queue.max_length.is_some()
        || queue.max_priority.is_some()
        || queue.delivery_limit.is_some()
        || model.may_expire(q)
    {
        return Err("a finite buffer, priorities, TTLs or a delivery limit: not M(t)/M/c".into());
    }
    let fed_by_stage =
        model.groups.iter().any(|o| o.then.as_ref().is_some_and(|t| t.routes.contains(&q)));
    let fed_by_dead_letters = model
        .queues
        .iter()
        .any(|o| o.dead_letter.as_ref().is_some_and(|d| d.routes.iter().any(|r| r.contains(&q))));
    if fed_by_stage || fed_by_dead_letters {
        return Err(
            "fed by another queue (then, dead letters): its arrivals are not Poisson".into()
        );
    }
    let mut rates = Vec::new();
    for p in model.producers.iter().filter(|p| p.routes.contains(&q)) {
        match rate_of(p) {
            Some(r) => rates.push(r),
            None => {
                return Err(format!(
                    "producer \"{}\" is not a Poisson process (exponential gaps or a time-varying Poisson rate)",
                    p.name
                ));
            }
        }
    }
    if rates.is_empty() {
        return Err("no producer publishes to it".into());
    }
    let rate: Rate<'_> = Box::new(move |t| rates.iter().map(|r| r(t)).sum());
    Ok((rate, 1.0 / g.service.mean(), g.count))
}

fn theory(f: &WindowFigures) -> WindowTheory {
    WindowTheory {
        rho_max: f.rho_max,
        queue_length: MeanCount { mean: Some(f.lq) },
        wait_s: WindowTheoryWait { mean: f.wait_mean, p99: f.wait_p99 },
    }
}

/// PSA and MOL per window of `window` seconds over the model's horizon, for every queue
/// that is M(t)/M/c (Poisson arrivals at a possibly time-varying rate, exponential service,
/// one FIFO line of c consumers, unlimited buffer); the others are listed with the reason.
pub fn timeline(model: &Model, window: f64) -> AnalyticTimeline {
    let horizon = model.simulation.horizon;
    let mut queues = Vec::new();
    let mut per_queue = Vec::new();
    for (q, queue) in model.queues.iter().enumerate() {
        match m_t_m_c(model, q) {
            Ok((rate, mu, c)) => {
                queues.push(TimelineModel {
                    name: queue.name.clone(),
                    model: Some("M(t)/M/c".into()),
                    exact: false,
                    notes: vec![format!(
                        "approximate: PSA (Green, Kolesar & Svoronos 1991) takes the stationary M/M/{c} at each instant's rate; MOL (Jennings, Mandelbaum, Massey & Whitt 1996) at the offered load of M(t)/M/∞ from an empty start, which lags the rate as a backlog does. Both have no answer in a window where the load reaches capacity"
                    )],
                });
                per_queue.push((queue.name.clone(), predict(&*rate, mu, c, window, horizon)));
            }
            Err(why) => queues.push(TimelineModel {
                name: queue.name.clone(),
                model: None,
                exact: false,
                notes: vec![why],
            }),
        }
    }
    let windows = (horizon / window).ceil().max(1.0) as usize;
    let windows = (0..windows)
        .map(|w| {
            let start_s = w as f64 * window;
            PredictedWindow {
                start_s,
                end_s: (start_s + window).min(horizon),
                queues: per_queue
                    .iter()
                    .map(|(name, p)| PredictedWindowQueue {
                        name: name.clone(),
                        offered_rate: p[w].offered_rate,
                        psa: p[w].psa.as_ref().map(theory),
                        mol: p[w].mol.as_ref().map(theory),
                    })
                    .collect(),
            }
        })
        .collect();
    AnalyticTimeline { window_s: window, queues, windows }
}

/// One approximation's figures in one window; `None` when the window holds an instant at
/// which the approximated load reaches capacity (the approximation has no steady state to
/// offer there).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct WindowFigures {
    /// Time-averaged number of ready (waiting) messages.
    pub lq: f64,
    /// Mean wait of the window's arrivals.
    pub wait_mean: f64,
    /// 99th percentile of the wait of the window's arrivals.
    pub wait_p99: f64,
    /// Highest utilization at any instant of the window.
    pub rho_max: f64,
}

/// Both approximations for one window.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct WindowPrediction {
    /// Window start, seconds.
    pub start: f64,
    /// Window end, seconds.
    pub end: f64,
    /// Mean arrival rate over the window.
    pub offered_rate: f64,
    /// Pointwise-stationary approximation.
    pub psa: Option<WindowFigures>,
    /// Modified-offered-load approximation.
    pub mol: Option<WindowFigures>,
}

/// Steps per window of the integration grid, chosen so the whole timeline costs at most
/// about a million M/M/c evaluations.
fn steps_per_window(windows: usize) -> usize {
    (1_000_000 / windows.max(1)).clamp(4, 256)
}

/// One window's figures from the loads at each step: (arrival weight, stationary M/M/c)
/// pairs; `None` if any step is unstable.
fn window_figures(points: &[(f64, Option<MmcResult>)]) -> Option<WindowFigures> {
    let mut lq = 0.0;
    let mut weight = 0.0;
    let mut wait = 0.0;
    let mut rho_max: f64 = 0.0;
    let mut solved = Vec::with_capacity(points.len());
    for (w, r) in points {
        let r = (*r)?;
        lq += r.lq;
        weight += w;
        wait += w * r.wq;
        rho_max = rho_max.max(r.rho);
        solved.push((*w, r));
    }
    let n = points.len() as f64;
    if weight <= 0.0 {
        // No arrivals: nothing waits.
        return Some(WindowFigures { lq: lq / n, wait_mean: 0.0, wait_p99: 0.0, rho_max });
    }
    let survival =
        |x: f64| solved.iter().map(|(w, r)| w * r.wait_survival(x)).sum::<f64>() / weight;
    let scale = (wait / weight).max(1e-9);
    let p99 = quantile_by_bisection(survival, 0.99, scale)?;
    Some(WindowFigures { lq: lq / n, wait_mean: wait / weight, wait_p99: p99, rho_max })
}

/// PSA and MOL per window of `window` seconds over `[0, horizon)`, for Poisson arrivals at
/// rate `rate(t)` to `c` consumers serving exponentially at rate `mu` each.
pub fn predict(
    rate: &dyn Fn(f64) -> f64,
    mu: f64,
    c: u32,
    window: f64,
    horizon: f64,
) -> Vec<WindowPrediction> {
    let windows = (horizon / window).ceil().max(1.0) as usize;
    let k = steps_per_window(windows);
    let mut m = 0.0; // MOL's offered load, from an empty start
    let mut out = Vec::with_capacity(windows);
    for w in 0..windows {
        let start = w as f64 * window;
        let end = (start + window).min(horizon);
        let dt = (end - start) / k as f64;
        let mut psa = Vec::with_capacity(k);
        let mut mol = Vec::with_capacity(k);
        let mut total = 0.0;
        for i in 0..k {
            let t = start + (i as f64 + 0.5) * dt;
            let l = rate(t).max(0.0);
            total += l;
            psa.push((l, mmc(l, mu, c)));
            // m' = λ − μ m over the step with λ held: exact exponential relaxation. The
            // step's load is taken at its middle.
            let target = l / mu;
            let decay = (-mu * dt * 0.5).exp();
            let m_mid = target + (m - target) * decay;
            m = target + (m_mid - target) * decay;
            mol.push((l, mmc(mu * m_mid, mu, c)));
        }
        out.push(WindowPrediction {
            start,
            end,
            offered_rate: total / k as f64,
            psa: window_figures(&psa),
            mol: window_figures(&mol),
        });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_constant_rate_gives_the_stationary_queue() {
        // λ = 64, μ = 10, c = 8: PSA is exactly the stationary M/M/c in every window; MOL
        // starts empty and settles to it within a few service times.
        let r = mmc(64.0, 10.0, 8).unwrap();
        let p = predict(&|_| 64.0, 10.0, 8, 60.0, 600.0);
        assert_eq!(p.len(), 10);
        for w in &p {
            let psa = w.psa.unwrap();
            assert!((psa.lq - r.lq).abs() < 1e-12 && (psa.wait_mean - r.wq).abs() < 1e-12);
            let q = r.wait_quantile(0.99).unwrap();
            assert!((psa.wait_p99 - q).abs() < 1e-9 * q.max(1.0), "{} vs {q}", psa.wait_p99);
        }
        let late = p[5].mol.unwrap();
        assert!((late.wait_mean - r.wq).abs() < 1e-9, "{late:?}");
        // The first window includes the empty start: less waiting than stationary.
        assert!(p[0].mol.unwrap().lq < r.lq);
    }

    #[test]
    fn mol_lags_a_step_up_and_psa_does_not() {
        // From 5/s to 9/s at t = 100 with one consumer at μ = 10: PSA jumps at once, MOL's
        // load relaxes towards 0.9 over ~1/μ, so just after the step it predicts less.
        let rate = |t: f64| if t < 100.0 { 5.0 } else { 9.0 };
        let p = predict(&rate, 10.0, 1, 0.25, 101.0);
        let just_after = p.iter().find(|w| w.start >= 100.0).unwrap();
        let (psa, mol) = (just_after.psa.unwrap(), just_after.mol.unwrap());
        assert!(mol.lq < psa.lq, "{mol:?} {psa:?}");
        // An overload instant: PSA has no answer for that window.
        let p = predict(&|t| if t < 10.0 { 5.0 } else { 12.0 }, 10.0, 1, 5.0, 20.0);
        assert!(p[0].psa.is_some() && p[3].psa.is_none());
    }
}
