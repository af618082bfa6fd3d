//! One consumer that crashes: M/M/1 with server breakdowns. Poisson arrivals λ,
//! exponential service μ, one FIFO queue. The consumer alternates between up periods,
//! exponential with mean 1/ξ (`every`), and down periods (`restart`), exponential with
//! mean 1/η or of fixed length. Arrivals continue while it is down.
//!
//! Assumptions, stated once:
//! - A crash returns the message being processed to the head of the queue (it was not
//!   acknowledged); after the restart it is processed again from scratch with a fresh
//!   exponential service time. By memorylessness that is the same as resuming the
//!   interrupted one (preemptive-repeat-different = preemptive-resume for exponential
//!   service), so a message's total service work is still Exp(μ).
//! - By default a consumer process crashes whether busy or idle (`fails_when_idle`): the
//!   up clock runs all the time. The variant where it can only fail while processing
//!   (`fails_when_idle = false`) is the classical "breakdowns during service" model.
//!
//! What is computed:
//! - Sojourn = arrival to the final, successful completion. Wait = arrival to the start of
//!   the final, successful processing attempt. An attempt ends by completion (rate μ) or
//!   crash (rate ξ), whichever comes first, so the successful attempt lasts
//!   `min(S, U) | S < U ~ Exp(μ + ξ)`: **`wait_mean = sojourn_mean − 1/(μ + ξ)`**. Earlier
//!   failed attempts and the down times count as wait.
//! - The completion time T of a message (start of its first attempt to completion, at a
//!   consumer that is up when it starts) is `S + Σ_{i<=N(S)} D_i`, N(S) ~ Poisson(ξS):
//!   `E[T] = E[S](1 + ξE[D])`, `E[T²] = E[S²](1 + ξE[D])² + ξE[S]E[D²]` (Gaver, "A waiting
//!   line with interrupted service, including priorities", *J. Roy. Stat. Soc. B* 24
//!   (1962); Avi-Itzhak & Naor, "Some queuing problems with the service station subject
//!   to breakdown", *Operations Research* 11 (1963)). Stable iff `λE[T] < 1`, i.e.
//!   `λ < μA` with availability `A = 1/(1 + ξE[D]) = η/(ξ + η)`.
//!
//! Two exact methods, checked against each other and against a truncated CTMC in the tests:
//! - [`mm1_breakdowns`] / [`mm1_breakdowns_with`] (exponential down times): a
//!   quasi-birth–death process, levels = messages in the system, phases = (up, down),
//!   solved by the matrix-geometric method (Neuts, *Matrix-Geometric Solutions in
//!   Stochastic Models*, 1981, ch. 3): `π_n = π_0 R^n`, R the minimal solution of
//!   `A₀ + RA₁ + R²A₂ = 0` with `A₀ = λI`, `A₁ = [[−(λ+μ+ξ), ξ], [η, −(λ+η)]]`,
//!   `A₂ = diag(μ, 0)`. Levels only go down in phase up, so the first-passage matrix is
//!   `G = 1·e_upᵀ` and `R = A₀(−A₁ − A₀G)⁻¹` in closed form:
//!   `R = (λ/μ)·[[1, ξ/(λ+η)], [1, (μ+ξ)/(λ+η)]]`. The boundary `π_0(B₁ + RA₂) = 0` gives
//!   `π_0 ∝ (1, ξ/(λ+η))` (idle failures; `B₁ = A₁ + diag(μ, 0)`) or `(1, 0)` (busy-only),
//!   normalised by `π_0(I − R)⁻¹1 = 1`; `L = π_0R(I − R)⁻²1`, sojourn = L/λ (Little).
//! - [`mm1_breakdowns_general`] (exponential or deterministic down times): M/G/1 with
//!   service T, and with idle failures an *exceptional first service* for the message that
//!   opens a busy period, `X = R + T`, R the remaining down time it finds (Welch, "On a
//!   generalized M/G/1 queuing process in which the first customer of each busy period
//!   receives exceptional service", *Operations Research* 12 (1964)). From the embedded
//!   chain at departures: `P₀ = (1−ρ)/(1−ρ+λE[X])` and
//!   `L = [(1−P₀)(1 − ρ + λ²E[T²]) + P₀(λ²E[X²] + λE[X])] / (2(1−ρ))`, which is P–K when
//!   X = T. An idle period starts with the consumer up and lasts Exp(λ); with
//!   `δ = E[e^{−λD}]`, the arrival finds it down with probability
//!   `ξ(1−δ)/(λ + ξ(1−δ))` and `E[R^k] = ξ·E[∫₀^D λe^{−λu}(D−u)^k du] / (λ + ξ(1−δ))`
//!   (first-step analysis over up/down cycles; our derivation).

use super::allen_cunneen;
use super::ggc::GgcApprox;

/// How long a crashed consumer stays down.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Downtime {
    /// Exponential with this mean 1/η, seconds.
    Exponential {
        /// Mean down time, seconds.
        mean: f64,
    },
    /// Always exactly this long (a fixed restart time), seconds.
    Deterministic {
        /// Down time, seconds.
        duration: f64,
    },
}

impl Downtime {
    fn valid(self) -> bool {
        let v = match self {
            Downtime::Exponential { mean } => mean,
            Downtime::Deterministic { duration } => duration,
        };
        v.is_finite() && v > 0.0
    }

    /// E\[D\].
    pub fn mean(self) -> f64 {
        match self {
            Downtime::Exponential { mean } => mean,
            Downtime::Deterministic { duration } => duration,
        }
    }

    /// E\[D²\].
    pub fn second_moment(self) -> f64 {
        match self {
            Downtime::Exponential { mean } => 2.0 * mean * mean,
            Downtime::Deterministic { duration } => duration * duration,
        }
    }

    /// `(1 − E[e^{−λD}], E[∫₀^D λe^{−λu}(D−u)du], E[∫₀^D λe^{−λu}(D−u)²du])`: the
    /// probability that an Exp(λ) clock rings during one down period, and the first two
    /// moments of the remaining down time on that event.
    fn killed_moments(self, lambda: f64) -> (f64, f64, f64) {
        match self {
            Downtime::Exponential { mean: m } => {
                // Memoryless: on the event, the remainder is again Exp(1/m).
                let p = lambda * m / (1.0 + lambda * m);
                (p, p * m, p * 2.0 * m * m)
            }
            Downtime::Deterministic { duration: d } => {
                // ∫₀^D λe^{−λu}(D−u)du = D·k₁(λD), ∫₀^D λe^{−λu}(D−u)²du = D²·k₂(λD) with
                // k₁(z) = 1 − (1 − e^{−z})/z, k₂(z) = 1 − 2/z + 2(1 − e^{−z})/z²; Taylor
                // series below z = 1, where the closed forms cancel.
                let z = lambda * d;
                let (k1, k2) = if z < 1.0 {
                    let (mut k1, mut k2, mut term) = (0.0, 0.0, 1.0);
                    for k in 1..40 {
                        // term = (−1)^{k+1} z^k / k!
                        term *= if k == 1 { z } else { -z / f64::from(k) };
                        k1 += term / f64::from(k + 1);
                        k2 += 2.0 * term / (f64::from(k + 1) * f64::from(k + 2));
                    }
                    (k1, k2)
                } else {
                    let one_minus = -(-z).exp_m1();
                    (1.0 - one_minus / z, 1.0 - 2.0 / z + 2.0 * one_minus / (z * z))
                };
                (-(-z).exp_m1(), d * k1, d * d * k2)
            }
        }
    }
}

/// A solved M/M/1 with breakdowns. Times in seconds, rates per second.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BreakdownResult {
    /// Arrival rate λ.
    pub lambda: f64,
    /// Service rate μ.
    pub mu: f64,
    /// Crash rate ξ while up (1/ξ = mean up time, `every`).
    pub xi: f64,
    /// Mean down time E\[D\] (`restart`).
    pub down_mean: f64,
    /// Whether the consumer also crashes while idle (else only while processing).
    pub fails_when_idle: bool,
    /// Fraction of time a consumer that always has work is up, `A = 1/(1 + ξE[D])`
    /// (= η/(ξ+η) for exponential down times). With idle failures it is also the
    /// long-run fraction of time up.
    pub availability: f64,
    /// Largest sustainable throughput μA.
    pub capacity: f64,
    /// Mean completion time E\[T\] = (1 + ξE\[D\])/μ: start of a message's first attempt
    /// to its completion, down times included.
    pub completion_mean: f64,
    /// Squared coefficient of variation of T.
    pub completion_scv: f64,
    /// Mean processing attempts (deliveries to the consumer) per message, 1 + ξ/μ.
    pub attempts_mean: f64,
    /// ρ = λE\[T\] = λ/(μA), the consumer's busy-or-down-while-holding-work fraction.
    pub rho: f64,
    /// ρ < 1.
    pub stable: bool,
    /// P(no message in the system). `None` when unstable.
    pub p_empty: Option<f64>,
    /// Mean messages in the system (waiting, in service or held by a down consumer).
    pub in_system_mean: Option<f64>,
    /// Mean sojourn: arrival to final completion (Little: L/λ).
    pub sojourn_mean: Option<f64>,
    /// Mean wait: arrival to the start of the final, successful attempt,
    /// `sojourn_mean − 1/(μ + ξ)`.
    pub wait_mean: Option<f64>,
}

fn rates_ok(lambda: f64, mu: f64, xi: f64) -> bool {
    lambda.is_finite() && lambda > 0.0 && mu.is_finite() && mu > 0.0 && xi.is_finite() && xi >= 0.0
}

/// The parts common to both methods; the queue figures are filled in by the caller.
fn base(lambda: f64, mu: f64, xi: f64, down: Downtime, fails_when_idle: bool) -> BreakdownResult {
    let ed = down.mean();
    let stretch = 1.0 + xi * ed;
    let et = stretch / mu;
    let et2 = 2.0 / (mu * mu) * stretch * stretch + xi * down.second_moment() / mu;
    let rho = lambda * et;
    BreakdownResult {
        lambda,
        mu,
        xi,
        down_mean: ed,
        fails_when_idle,
        availability: 1.0 / stretch,
        capacity: mu / stretch,
        completion_mean: et,
        completion_scv: et2 / (et * et) - 1.0,
        attempts_mean: 1.0 + xi / mu,
        rho,
        stable: rho < 1.0,
        p_empty: None,
        in_system_mean: None,
        sojourn_mean: None,
        wait_mean: None,
    }
}

fn with_queue(mut r: BreakdownResult, p_empty: f64, l: f64) -> BreakdownResult {
    let w = l / r.lambda;
    r.p_empty = Some(p_empty);
    r.in_system_mean = Some(l);
    r.sojourn_mean = Some(w);
    r.wait_mean = Some(w - 1.0 / (r.mu + r.xi));
    r
}

type M2 = [[f64; 2]; 2];

fn mat_vec(m: &M2, v: [f64; 2]) -> [f64; 2] {
    [m[0][0] * v[0] + m[0][1] * v[1], m[1][0] * v[0] + m[1][1] * v[1]]
}

/// The QBD's R (closed form, module docs) and boundary vector π_0 (normalised), or `None`
/// if unstable.
fn qbd(lambda: f64, mu: f64, xi: f64, eta: f64, fails_when_idle: bool) -> Option<(M2, [f64; 2])> {
    if lambda * (xi + eta) >= mu * eta {
        return None;
    }
    let r0 = lambda / mu;
    let r = [[r0, r0 * xi / (lambda + eta)], [r0, r0 * (mu + xi) / (lambda + eta)]];
    // (I − R)⁻¹ 1.
    let (a, b, c, d) = (1.0 - r[0][0], -r[0][1], -r[1][0], 1.0 - r[1][1]);
    let det = a * d - b * c;
    let inv = [[d / det, -b / det], [-c / det, a / det]];
    let v = mat_vec(&inv, [1.0, 1.0]);
    let y = if fails_when_idle { xi / (lambda + eta) } else { 0.0 };
    let x = 1.0 / (v[0] + y * v[1]);
    Some((r, [x, x * y]))
}

/// M/M/1 with exponential up (rate ξ) and down (rate η) periods, crashing whether busy or
/// idle: [`mm1_breakdowns_with`]`(…, true)`.
pub fn mm1_breakdowns(lambda: f64, mu: f64, xi: f64, eta: f64) -> Option<BreakdownResult> {
    mm1_breakdowns_with(lambda, mu, xi, eta, true)
}

/// M/M/1 with exponential breakdowns solved exactly as a QBD by the matrix-geometric
/// method (module docs). `None` for invalid input (λ, μ, η must be finite and positive, ξ
/// finite and >= 0); an unstable queue (`λ >= μη/(ξ+η)`) gives `stable = false` and no
/// queue figures.
pub fn mm1_breakdowns_with(
    lambda: f64,
    mu: f64,
    xi: f64,
    eta: f64,
    fails_when_idle: bool,
) -> Option<BreakdownResult> {
    if !(rates_ok(lambda, mu, xi) && eta.is_finite() && eta > 0.0) {
        return None;
    }
    let base = base(lambda, mu, xi, Downtime::Exponential { mean: 1.0 / eta }, fails_when_idle);
    let Some((r, pi0)) = qbd(lambda, mu, xi, eta, fails_when_idle) else {
        return Some(BreakdownResult { stable: false, ..base });
    };
    // L = π_0 R (I − R)⁻² 1.
    let (a, b, c, d) = (1.0 - r[0][0], -r[0][1], -r[1][0], 1.0 - r[1][1]);
    let det = a * d - b * c;
    let inv = [[d / det, -b / det], [-c / det, a / det]];
    let u = mat_vec(&r, mat_vec(&inv, mat_vec(&inv, [1.0, 1.0])));
    let l = pi0[0] * u[0] + pi0[1] * u[1];
    Some(with_queue(BreakdownResult { stable: true, ..base }, pi0[0] + pi0[1], l))
}

/// M/M/1 with exponential up periods (rate ξ) and `down` times exponential or fixed, by
/// the completion-time M/G/1 with an exceptional first service when the consumer also
/// fails while idle (Gaver 1962; Welch 1964; module docs). Exact. `None` for invalid
/// input; unstable (`λE[T] >= 1`) gives `stable = false` and no queue figures.
pub fn mm1_breakdowns_general(
    lambda: f64,
    mu: f64,
    xi: f64,
    down: Downtime,
    fails_when_idle: bool,
) -> Option<BreakdownResult> {
    if !(rates_ok(lambda, mu, xi) && down.valid()) {
        return None;
    }
    let base = base(lambda, mu, xi, down, fails_when_idle);
    if !base.stable {
        return Some(base);
    }
    let rho = base.rho;
    let et = base.completion_mean;
    let et2 = et * et * (1.0 + base.completion_scv);
    // The remaining down time R found by the message that opens a busy period.
    let (er, er2) = if fails_when_idle && xi > 0.0 {
        let (p_kill, m1, m2) = down.killed_moments(lambda);
        let denom = lambda + xi * p_kill;
        (xi * m1 / denom, xi * m2 / denom)
    } else {
        (0.0, 0.0)
    };
    let ex = er + et;
    let ex2 = er2 + 2.0 * er * et + et2;
    let p0 = (1.0 - rho) / (1.0 - rho + lambda * ex);
    let l = ((1.0 - p0) * (1.0 - rho + lambda * lambda * et2)
        + p0 * (lambda * lambda * ex2 + lambda * ex))
        / (2.0 * (1.0 - rho));
    Some(with_queue(base, p0, l))
}

/// An **approximation** for c crashing consumers: each consumer's completion time T (as
/// in the single-consumer model: mean `(1 + ξ/η)/μ`, SCV from Gaver's second moment with
/// exponential down times) is treated as the service time of an M/G/c queue solved by
/// Allen–Cunneen (`(1 + c_T²)/2 · Wq(M/M/c)` with mean service E\[T\]; see [`allen_cunneen`]).
/// It ignores crashes of idle consumers and the correlation between consumers' states, and
/// inherits Allen–Cunneen's errors (typically within ~10–20% at moderate to heavy load,
/// worse when c_T² is large). For c = 1 it is exact for busy-only failures (P–K).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BreakdownApprox {
    /// Availability A = η/(ξ+η) of a consumer that always has work.
    pub availability: f64,
    /// E\[T\] = (1 + ξ/η)/μ.
    pub completion_mean: f64,
    /// SCV of T.
    pub completion_scv: f64,
    /// ρ = λE\[T\]/c.
    pub rho: f64,
    /// Approximate mean wait to the start of the first attempt (Allen–Cunneen).
    pub wait_first_mean: f64,
    /// Approximate mean sojourn, `wait_first_mean + E[T]`.
    pub sojourn_mean: f64,
    /// Approximate mean wait to the start of the final attempt, `sojourn − 1/(μ+ξ)`.
    pub wait_mean: f64,
    /// The underlying Allen–Cunneen figures for service time T.
    pub approx: GgcApprox,
}

/// c consumers with exponential crashes (rate ξ) and restarts (rate η): the labelled
/// approximation [`BreakdownApprox`]. `None` for invalid input or `λE[T] >= c`.
pub fn mmc_breakdowns_approx(
    lambda: f64,
    mu: f64,
    c: u32,
    xi: f64,
    eta: f64,
) -> Option<BreakdownApprox> {
    if !(rates_ok(lambda, mu, xi) && eta.is_finite() && eta > 0.0 && c > 0) {
        return None;
    }
    let b = base(lambda, mu, xi, Downtime::Exponential { mean: 1.0 / eta }, false);
    let approx = allen_cunneen(lambda, b.completion_mean, c, 1.0, b.completion_scv)?;
    Some(BreakdownApprox {
        availability: b.availability,
        completion_mean: b.completion_mean,
        completion_scv: b.completion_scv,
        rho: approx.rho,
        wait_first_mean: approx.wq,
        sojourn_mean: approx.w,
        wait_mean: approx.w - 1.0 / (mu + xi),
        approx,
    })
}

#[cfg(test)]
mod tests {
    use super::super::mg1::mg1;
    use super::super::mmc::mmc;
    use super::super::numeric::ctmc_stationary;
    use super::*;
    use rand::SeedableRng;
    use rand::rngs::Xoshiro256PlusPlus;
    use rand_distr::{Distribution, Exp};

    fn rel(a: f64, b: f64) -> f64 {
        (a - b).abs() / b.abs().max(1e-300)
    }

    #[test]
    fn r_solves_the_matrix_quadratic_and_is_minimal() {
        for (lam, mu, xi, eta) in [
            (0.5, 1.0, 0.1, 0.5),
            (0.8, 1.0, 0.01, 2.0),
            (0.3, 2.0, 1.0, 1.0),
            (0.83, 1.0, 0.1, 0.5),
        ] {
            let (r, _) = qbd(lam, mu, xi, eta, true).unwrap();
            let a0 = [[lam, 0.0], [0.0, lam]];
            let a1 = [[-(lam + mu + xi), xi], [eta, -(lam + eta)]];
            let a2 = [[mu, 0.0], [0.0, 0.0]];
            let mul = |x: &M2, y: &M2| {
                let mut z = [[0.0; 2]; 2];
                for i in 0..2 {
                    for j in 0..2 {
                        z[i][j] = x[i][0] * y[0][j] + x[i][1] * y[1][j];
                    }
                }
                z
            };
            let (ra1, rra2) = (mul(&r, &a1), mul(&mul(&r, &r), &a2));
            for i in 0..2 {
                for j in 0..2 {
                    let res = a0[i][j] + ra1[i][j] + rra2[i][j];
                    assert!(res.abs() < 1e-14, "{lam} {xi} {eta}: residual {res}");
                }
            }
            // Spectral radius < 1 (the minimal solution of a positive recurrent QBD).
            let (tr, det) = (r[0][0] + r[1][1], r[0][0] * r[1][1] - r[0][1] * r[1][0]);
            let sp = (tr + (tr * tr - 4.0 * det).sqrt()) / 2.0;
            assert!(sp < 1.0, "{sp}");
            // Phase balance: the long-run fraction of time up is η/(ξ+η) = Σ_n π_n(up).
            let (_, pi0) = qbd(lam, mu, xi, eta, true).unwrap();
            let (a, b, c, d) = (1.0 - r[0][0], -r[0][1], -r[1][0], 1.0 - r[1][1]);
            let det = a * d - b * c;
            let up = pi0[0] * d / det + pi0[1] * (-c) / det;
            assert!(rel(up, eta / (xi + eta)) < 1e-13, "{up}");
        }
        // Just past the stability boundary λ = μη/(ξ+η): no R.
        assert!(qbd(0.834, 1.0, 0.1, 0.5, true).is_none());
        assert!(
            mm1_breakdowns(0.834, 1.0, 0.1, 0.5)
                .is_some_and(|r| !r.stable && r.sojourn_mean.is_none())
        );
    }

    /// The truncated CTMC on (n ≤ n_max, up/down), solved by Gauss–Seidel: (L, P(N = 0)).
    fn ctmc(lam: f64, mu: f64, xi: f64, eta: f64, idle: bool, n_max: usize) -> (f64, f64) {
        let id = |n: usize, down: usize| 2 * n + down;
        let mut tr = Vec::new();
        for n in 0..=n_max {
            if n < n_max {
                tr.push((id(n, 0), id(n + 1, 0), lam));
                tr.push((id(n, 1), id(n + 1, 1), lam));
            }
            if n > 0 {
                tr.push((id(n, 0), id(n - 1, 0), mu));
            }
            if n > 0 || idle {
                tr.push((id(n, 0), id(n, 1), xi));
            }
            tr.push((id(n, 1), id(n, 0), eta));
        }
        let pi = ctmc_stationary(2 * n_max + 2, &tr, 1e-15, 200_000).unwrap();
        let l = (0..=n_max).map(|n| n as f64 * (pi[id(n, 0)] + pi[id(n, 1)])).sum();
        (l, pi[0] + pi[1])
    }

    #[test]
    fn qbd_matches_a_truncated_ctmc() {
        for (lam, mu, xi, eta) in [(0.5, 1.0, 0.1, 0.5), (0.4, 1.0, 0.5, 2.0), (1.2, 2.0, 0.2, 1.0)]
        {
            for idle in [true, false] {
                let r = mm1_breakdowns_with(lam, mu, xi, eta, idle).unwrap();
                let (l, p0) = ctmc(lam, mu, xi, eta, idle, 300);
                let case = format!("{lam} {mu} {xi} {eta} idle={idle}");
                assert!(rel(r.in_system_mean.unwrap(), l) < 1e-8, "{case}: {r:?} vs {l}");
                assert!(rel(r.p_empty.unwrap(), p0) < 1e-8, "{case}: {r:?} vs {p0}");
            }
        }
    }

    #[test]
    fn qbd_matches_the_completion_time_method() {
        for (lam, mu, xi, eta) in [
            (0.5, 1.0, 0.1, 0.5),
            (0.4, 1.0, 0.5, 2.0),
            (1.2, 2.0, 0.2, 1.0),
            (0.8, 1.0, 0.01, 2.0),
        ] {
            for idle in [true, false] {
                let q = mm1_breakdowns_with(lam, mu, xi, eta, idle).unwrap();
                let down = Downtime::Exponential { mean: 1.0 / eta };
                let g = mm1_breakdowns_general(lam, mu, xi, down, idle).unwrap();
                assert!(
                    rel(q.sojourn_mean.unwrap(), g.sojourn_mean.unwrap()) < 1e-12,
                    "{q:?}\n{g:?}"
                );
                assert!(rel(q.p_empty.unwrap(), g.p_empty.unwrap()) < 1e-12);
            }
            // Busy-only failures: P–K with the completion time T (Gaver 1962).
            let q = mm1_breakdowns_with(lam, mu, xi, eta, false).unwrap();
            let pk = mg1(lam, q.completion_mean, q.completion_scv).unwrap();
            assert!(rel(q.sojourn_mean.unwrap(), pk.w) < 1e-12);
            // Idle failures only add delay.
            assert!(mm1_breakdowns(lam, mu, xi, eta).unwrap().sojourn_mean > q.sojourn_mean);
        }
    }

    #[test]
    fn no_crashes_is_mm1() {
        let m = mmc(0.7, 1.0, 1).unwrap();
        for idle in [true, false] {
            let q = mm1_breakdowns_with(0.7, 1.0, 0.0, 0.5, idle).unwrap();
            assert!(rel(q.sojourn_mean.unwrap(), m.w) < 1e-14);
            assert!(rel(q.wait_mean.unwrap(), m.wq) < 1e-13);
            let d = Downtime::Deterministic { duration: 3.0 };
            let g = mm1_breakdowns_general(0.7, 1.0, 0.0, d, idle).unwrap();
            assert!(rel(g.sojourn_mean.unwrap(), m.w) < 1e-14);
        }
        // Availability and stability: A = η/(ξ+η), stable iff λ < μA.
        let r = mm1_breakdowns(0.9, 1.0, 0.25, 1.0).unwrap();
        assert!(rel(r.availability, 0.8) < 1e-15 && rel(r.capacity, 0.8) < 1e-15);
        assert!(!r.stable && r.in_system_mean.is_none());
        assert!(mm1_breakdowns(0.5, 1.0, -0.1, 1.0).is_none());
        assert!(mm1_breakdowns(0.5, 1.0, 0.1, 0.0).is_none());
    }

    #[test]
    fn deterministic_restart_in_light_traffic() {
        // λ → 0: a lone message finds the consumer down with the time-average probability
        // ξD/(1 + ξD) and then waits the mean residual D/2, so
        // sojourn → ξD²/(2(1+ξD)) + E[T]; without idle failures, sojourn → E[T].
        let (xi, d, mu) = (0.2, 3.0, 1.0);
        let down = Downtime::Deterministic { duration: d };
        let lam = 1e-7;
        let g = mm1_breakdowns_general(lam, mu, xi, down, true).unwrap();
        let et = (1.0 + xi * d) / mu;
        let want = xi * d * d / (2.0 * (1.0 + xi * d)) + et;
        assert!(rel(g.sojourn_mean.unwrap(), want) < 1e-5, "{g:?} vs {want}");
        let g = mm1_breakdowns_general(lam, mu, xi, down, false).unwrap();
        assert!(rel(g.sojourn_mean.unwrap(), et) < 1e-5);
        // And the series branch (λD < 1) meets the closed form (λD >= 1) continuously.
        let at = |lam: f64| Downtime::Deterministic { duration: 1.0 }.killed_moments(lam);
        let (a, b) = (at(1.0 - 1e-12), at(1.0 + 1e-12));
        assert!(
            (a.0 - b.0).abs() < 1e-11 && (a.1 - b.1).abs() < 1e-11 && (a.2 - b.2).abs() < 1e-11
        );
    }

    /// Event simulation of one crashing consumer with fixed restart time `d`, crashing
    /// whether busy or idle; the message in service goes back to the head and restarts
    /// with a fresh Exp(μ). Per batch: (mean sojourn, mean wait to the final attempt).
    fn simulate(lam: f64, mu: f64, xi: f64, d: f64, seed: u64) -> Vec<(f64, f64)> {
        use std::collections::VecDeque;
        let mut rng = Xoshiro256PlusPlus::seed_from_u64(seed);
        let (ia, sv, up_time) =
            (Exp::new(lam).unwrap(), Exp::new(mu).unwrap(), Exp::new(xi).unwrap());
        let mut queue: VecDeque<f64> = VecDeque::new();
        let mut next_arrival = ia.sample(&mut rng);
        let mut next_crash = up_time.sample(&mut rng);
        let mut next_repair = f64::INFINITY;
        let mut next_done = f64::INFINITY;
        let mut attempt_start = 0.0;
        let (warmup, per, batches) = (5_000, 50_000, 20);
        let (mut done, mut sum_w, mut sum_q) = (0usize, 0.0, 0.0);
        let mut out = Vec::new();
        while out.len() < batches {
            let t = next_arrival.min(next_crash).min(next_repair).min(next_done);
            if t == next_arrival {
                queue.push_back(t);
                next_arrival = t + ia.sample(&mut rng);
                if queue.len() == 1 && next_repair.is_infinite() {
                    attempt_start = t;
                    next_done = t + sv.sample(&mut rng);
                }
            } else if t == next_crash {
                next_crash = f64::INFINITY;
                next_done = f64::INFINITY;
                next_repair = t + d;
            } else if t == next_repair {
                next_repair = f64::INFINITY;
                next_crash = t + up_time.sample(&mut rng);
                if !queue.is_empty() {
                    attempt_start = t;
                    next_done = t + sv.sample(&mut rng);
                }
            } else {
                let arrived = queue.pop_front().unwrap();
                done += 1;
                if done > warmup {
                    sum_w += t - arrived;
                    sum_q += attempt_start - arrived;
                    if (done - warmup).is_multiple_of(per) {
                        out.push((sum_w / per as f64, sum_q / per as f64));
                        (sum_w, sum_q) = (0.0, 0.0);
                    }
                }
                next_done = f64::INFINITY;
                if !queue.is_empty() {
                    attempt_start = t;
                    next_done = t + sv.sample(&mut rng);
                }
            }
        }
        out
    }

    #[test]
    fn deterministic_restart_matches_a_simulation() {
        // 10⁶ simulated messages in 20 batches; tolerance 5 standard errors of the batch
        // means. Checks the exceptional-first-service formula with a non-exponential R and
        // the wait = sojourn − 1/(μ+ξ) decomposition (the simulation measures the wait to
        // the final attempt directly).
        let (lam, mu, xi, d) = (0.5, 1.0, 0.2, 1.0);
        let g = mm1_breakdowns_general(lam, mu, xi, Downtime::Deterministic { duration: d }, true);
        let g = g.unwrap();
        let batches = simulate(lam, mu, xi, d, 5);
        let n = batches.len() as f64;
        for (k, want) in [(0, g.sojourn_mean.unwrap()), (1, g.wait_mean.unwrap())] {
            let xs: Vec<f64> = batches.iter().map(|b| if k == 0 { b.0 } else { b.1 }).collect();
            let mean = xs.iter().sum::<f64>() / n;
            let se = (xs.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / (n - 1.0) / n).sqrt();
            assert!(se < 0.03 * want, "σ = {se}");
            assert!((mean - want).abs() < 5.0 * se, "{k}: sim {mean} ± {se} vs {want}");
        }
    }

    #[test]
    fn many_consumer_approximation_sanity() {
        // c = 1: Allen–Cunneen is P–K, i.e. the exact busy-only model.
        let (lam, mu, xi, eta) = (0.5, 1.0, 0.1, 0.5);
        let a = mmc_breakdowns_approx(lam, mu, 1, xi, eta).unwrap();
        let exact = mm1_breakdowns_with(lam, mu, xi, eta, false).unwrap();
        assert!(rel(a.sojourn_mean, exact.sojourn_mean.unwrap()) < 1e-12);
        assert!(rel(a.wait_mean, exact.wait_mean.unwrap()) < 1e-12);
        // Against the exact model with idle failures too: close, and an underestimate.
        let idle = mm1_breakdowns(lam, mu, xi, eta).unwrap().sojourn_mean.unwrap();
        assert!(
            a.sojourn_mean < idle && rel(a.sojourn_mean, idle) < 0.15,
            "{} vs {idle}",
            a.sojourn_mean
        );
        // ξ = 0: M/M/c.
        let m = mmc(6.0, 1.0, 8).unwrap();
        let a = mmc_breakdowns_approx(6.0, 1.0, 8, 0.0, 1.0).unwrap();
        assert!(rel(a.sojourn_mean, m.w) < 1e-14 && rel(a.wait_mean, m.wq) < 1e-12);
        // More frequent crashes: longer sojourns, until unstable (λE[T] >= c).
        let mut last = a.sojourn_mean;
        for xi in [0.01, 0.05, 0.1, 0.2] {
            let s = mmc_breakdowns_approx(6.0, 1.0, 8, xi, 1.0).unwrap().sojourn_mean;
            assert!(s > last, "{xi}");
            last = s;
        }
        assert!(mmc_breakdowns_approx(6.0, 1.0, 8, 0.5, 1.0).is_none());
    }
}
