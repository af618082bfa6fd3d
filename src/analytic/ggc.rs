//! Approximations for general arrivals or general service with several consumers, and the
//! exact GI/M/1 solution used for round-robin dispatch.
//!
//! - Allen–Cunneen: `Wq(GI/G/c) ≈ (c_a² + c_s²)/2 · Wq(M/M/c)`. A. O. Allen, *Probability,
//!   Statistics, and Queueing Theory* (2nd ed., 1990), §6.4; also Gross & Harris (4th ed.)
//!   §7.3. Exact for M/M/c and for M/G/1 (where it reduces to Pollaczek–Khinchine); errors
//!   are typically within ~10% for 0.5 <= c² <= 2 at moderate-to-heavy load, and grow for
//!   light load, highly variable (c² ≫ 1) or nearly deterministic arrivals (Whitt 1993,
//!   "Approximations for the GI/G/m queue").
//! - Kingman: `Wq(GI/G/1) ≈ ρ/(1−ρ) · (c_a² + c_s²)/2 · E[S]`. J. F. C. Kingman, "The single
//!   server queue in heavy traffic", Proc. Camb. Phil. Soc. 57 (1961). Asymptotically exact
//!   as ρ → 1; it overestimates at light load with low-variance arrivals.
//! - GI/M/1: Gross & Harris §6.3 (Kleinrock vol. 1 §6.4): with σ the root in (0, 1) of
//!   `σ = A*(μ(1 − σ))` (A* the Laplace–Stieltjes transform of the interarrival time),
//!   `P(Wq > t) = σ e^{−μ(1−σ)t}`, `Wq = σ / (μ(1 − σ))`. With round-robin dispatch of a
//!   Poisson(λ) stream to c consumers each consumer sees every c-th arrival: Erlang(c, λ)
//!   interarrivals, `A*(s) = (λ/(λ+s))^c` — E_c/M/1.

use super::mmc::mmc;

/// A G/G/c approximation's means. Times in seconds.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct GgcApprox {
    /// ρ = λE\[S\]/c.
    pub rho: f64,
    /// Probability of waiting used by the tail approximation: Erlang C for the M/M/c with
    /// the same λ, μ, c (exact for M/M/c; for c = 1 it is ρ, exact for any M/G/1).
    pub p_wait: f64,
    /// Approximate mean wait.
    pub wq: f64,
    /// Wq + E\[S\].
    pub w: f64,
}

/// Allen–Cunneen (Allen 1990 §6.4): `(c_a² + c_s²)/2 · Wq(M/M/c)`; for c = 1 this is
/// Kingman's formula exactly (Wq(M/M/1) = ρE\[S\]/(1−ρ)). `None` for invalid input or ρ >= 1.
pub fn allen_cunneen(
    lambda: f64,
    service_mean: f64,
    c: u32,
    arrival_scv: f64,
    service_scv: f64,
) -> Option<GgcApprox> {
    if !(service_mean.is_finite() && service_mean > 0.0) {
        return None;
    }
    if !(arrival_scv.is_finite() && arrival_scv >= 0.0 && service_scv.is_finite()) {
        return None;
    }
    let m = mmc(lambda, 1.0 / service_mean, c)?;
    let wq = (arrival_scv + service_scv) / 2.0 * m.wq;
    Some(GgcApprox { rho: m.rho, p_wait: m.p_wait, wq, w: wq + service_mean })
}

impl GgcApprox {
    /// Approximate `P(Wq > t) ≈ P_w · e^{−P_w t / Wq}`: an atom and an exponential tail with
    /// the approximate mean. Exact for M/M/c; for other cases it is only as good as the
    /// shape assumption (poor for heavy-tailed service).
    pub fn wait_quantile(&self, p: f64) -> Option<f64> {
        if !(p > 0.0 && p < 1.0) {
            return None;
        }
        if 1.0 - p >= self.p_wait || self.wq <= 0.0 {
            return Some(0.0);
        }
        Some((self.p_wait / (1.0 - p)).ln() * self.wq / self.p_wait)
    }
}

/// A solved GI/M/1 queue. Times in seconds.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Gim1Result {
    /// Arrival rate λ of this consumer's stream.
    pub lambda: f64,
    /// Service rate μ.
    pub mu: f64,
    /// ρ = λ/μ.
    pub rho: f64,
    /// The root σ: the probability an arrival must wait.
    pub sigma: f64,
    /// Wq = σ / (μ(1 − σ)).
    pub wq: f64,
    /// W = 1 / (μ(1 − σ)) (the sojourn is exponential with rate μ(1 − σ)).
    pub w: f64,
}

/// GI/M/1 (Gross & Harris §6.3): solves `σ = A*(μ(1 − σ))` by bisection on (0, 1), where
/// `lst` is the interarrival Laplace–Stieltjes transform and `lambda` its rate. `None` for
/// invalid parameters or ρ >= 1.
pub fn gim1(lambda: f64, mu: f64, lst: impl Fn(f64) -> f64) -> Option<Gim1Result> {
    if !(lambda.is_finite() && lambda > 0.0 && mu.is_finite() && mu > 0.0) {
        return None;
    }
    let rho = lambda / mu;
    if rho >= 1.0 {
        return None;
    }
    // g(σ) = A*(μ(1−σ)) − σ: g(0) = A*(μ) > 0 and g(1) = 0 with slope g'(1) = μE[A] − 1 =
    // 1/ρ − 1 > 0, so g < 0 just left of 1; the root sought is the unique one in (0, 1).
    let g = |s: f64| lst(mu * (1.0 - s)) - s;
    let (mut lo, mut hi) = (0.0f64, 1.0f64);
    // Move hi off the trivial root at 1 to a point where g < 0.
    let mut step = 1.0 - rho;
    hi -= step;
    while g(hi) >= 0.0 {
        step /= 2.0;
        hi = 1.0 - step;
        if step < 1e-15 {
            return None;
        }
    }
    for _ in 0..200 {
        let mid = 0.5 * (lo + hi);
        if g(mid) > 0.0 {
            lo = mid;
        } else {
            hi = mid;
        }
        if hi - lo < 1e-15 {
            break;
        }
    }
    let sigma = 0.5 * (lo + hi);
    let r = mu * (1.0 - sigma);
    Some(Gim1Result { lambda, mu, rho, sigma, wq: sigma / r, w: 1.0 / r })
}

/// E_k/M/1: each of c round-robin consumers of a Poisson(λ) stream sees Erlang(c, λ)
/// interarrivals (every c-th arrival). `None` for invalid input or λ/c >= μ.
pub fn erlang_k_m1(lambda: f64, c: u32, mu: f64) -> Option<Gim1Result> {
    if c == 0 {
        return None;
    }
    let k = f64::from(c);
    gim1(lambda / k, mu, |s| (lambda / (lambda + s)).powf(k))
}

impl Gim1Result {
    /// `P(Wq > t) = σ e^{−μ(1−σ)t}`.
    pub fn wait_survival(&self, t: f64) -> f64 {
        if t < 0.0 { 1.0 } else { self.sigma * (-self.mu * (1.0 - self.sigma) * t).exp() }
    }

    /// Exact wait quantile: 0 in the atom, else `ln(σ/(1−p)) / (μ(1−σ))`.
    pub fn wait_quantile(&self, p: f64) -> Option<f64> {
        if !(p > 0.0 && p < 1.0) {
            return None;
        }
        if 1.0 - p >= self.sigma {
            return Some(0.0);
        }
        Some((self.sigma / (1.0 - p)).ln() / (self.mu * (1.0 - self.sigma)))
    }

    /// Exact sojourn quantile: the GI/M/1 sojourn is Exp(μ(1 − σ)).
    pub fn sojourn_quantile(&self, p: f64) -> Option<f64> {
        if !(p > 0.0 && p < 1.0) {
            return None;
        }
        Some(-(1.0 - p).ln() / (self.mu * (1.0 - self.sigma)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn allen_cunneen_is_exact_for_mmc_and_pk_for_mg1() {
        let m = mmc(64.0, 10.0, 8).unwrap();
        let a = allen_cunneen(64.0, 0.1, 8, 1.0, 1.0).unwrap();
        assert!((a.wq - m.wq).abs() < 1e-15);
        // c = 1, Poisson arrivals, deterministic service: P–K's M/D/1 value ρ/(2μ(1−ρ)) = 2
        // at λ = 0.8, μ = 1 (Kleinrock §5.7).
        let d = allen_cunneen(0.8, 1.0, 1, 1.0, 0.0).unwrap();
        assert!((d.wq - 2.0).abs() < 1e-12);
        // Kingman for D/D/1: no variability, no wait.
        assert_eq!(allen_cunneen(0.8, 1.0, 1, 0.0, 0.0).unwrap().wq, 0.0);
        assert!(allen_cunneen(1.0, 1.0, 1, 1.0, 1.0).is_none());
    }

    #[test]
    fn gim1_with_poisson_arrivals_is_mm1() {
        // M/M/1 as GI/M/1: σ = ρ (Gross & Harris §6.3).
        let r = gim1(0.8, 1.0, |s| 0.8 / (0.8 + s)).unwrap();
        assert!((r.sigma - 0.8).abs() < 1e-12);
        assert!((r.wq - 4.0).abs() < 1e-9);
        assert!((r.w - 5.0).abs() < 1e-9);
    }

    #[test]
    fn e2_m1_textbook_root() {
        // E_2/M/1 with per-consumer rate λ' = 1/2 (Poisson λ = 1 split over 2), μ = 1:
        // σ = (λ/(λ + 1 − σ))² with λ = 1 ⇒ σ(2 − σ)² = 1 ⇒ (σ−1)(σ² − 3σ + 1) = 0,
        // σ = (3 − √5)/2 = 0.381966 (Gross & Harris §6.3, E_k/M/1 example form).
        let r = erlang_k_m1(1.0, 2, 1.0).unwrap();
        let want = (3.0 - 5f64.sqrt()) / 2.0;
        assert!((r.sigma - want).abs() < 1e-12, "{}", r.sigma);
        // Less waiting than M/M/1 at the same ρ (more regular arrivals)...
        assert!(r.wq < mmc(0.5, 1.0, 1).unwrap().wq);
        // ...but more than the pooled M/M/2 (a busy consumer's buffer while the other idles).
        assert!(r.wq > mmc(1.0, 1.0, 2).unwrap().wq);
        for p in [0.5, 0.9, 0.99] {
            let q = r.wait_quantile(p).unwrap();
            if q > 0.0 {
                assert!((r.wait_survival(q) - (1.0 - p)).abs() < 1e-12);
            }
        }
    }
}
