//! M/G/1 (Poisson arrivals, general service, one consumer) by the Pollaczek–Khinchine mean
//! value formula, and M/D/1's exact waiting-time distribution.
//!
//! Sources: Kleinrock, *Queueing Systems* vol. 1 (1975), §5.5–5.7 (P–K mean value formula
//! eq. 5.72 `Wq = λE[S²] / (2(1−ρ))`); Gross & Harris (4th ed.) §5.1. The M/D/1 waiting-time
//! distribution is Erlang's (1909), in the form given by Crommelin (1932) and Gross &
//! Harris §5.1.8: with service time D, λ the arrival rate and ρ = λD,
//! `P(Wq <= t) = (1−ρ) Σ_{k=0}^{⌊t/D⌋} [λ(kD − t)]^k / k! · e^{−λ(kD − t)}`.

use super::numeric::quantile_by_bisection;

/// A solved M/G/1 queue (means only). Times in seconds.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Mg1Result {
    /// Arrival rate λ.
    pub lambda: f64,
    /// Mean service time E\[S\].
    pub service_mean: f64,
    /// Service SCV c_s² = Var S / E\[S\]².
    pub service_scv: f64,
    /// ρ = λE\[S\] (< 1).
    pub rho: f64,
    /// Mean wait, P–K: `Wq = ρ E[S] (1 + c_s²) / (2(1 − ρ))`.
    pub wq: f64,
    /// Mean sojourn W = Wq + E\[S\].
    pub w: f64,
    /// Lq = λ Wq.
    pub lq: f64,
    /// L = λ W.
    pub l: f64,
}

/// Pollaczek–Khinchine (Kleinrock eq. 5.72, with `E[S²] = E[S]²(1 + c_s²)`). `None` for
/// invalid parameters or ρ >= 1.
pub fn mg1(lambda: f64, service_mean: f64, service_scv: f64) -> Option<Mg1Result> {
    let ok = lambda.is_finite()
        && lambda >= 0.0
        && service_mean.is_finite()
        && service_mean > 0.0
        && service_scv.is_finite()
        && service_scv >= 0.0;
    if !ok {
        return None;
    }
    let rho = lambda * service_mean;
    if rho >= 1.0 {
        return None;
    }
    let wq = rho * service_mean * (1.0 + service_scv) / (2.0 * (1.0 - rho));
    let w = wq + service_mean;
    Some(Mg1Result {
        lambda,
        service_mean,
        service_scv,
        rho,
        wq,
        w,
        lq: lambda * wq,
        l: lambda * w,
    })
}

/// Relative round-off we accept in the alternating Crommelin sum before refusing to answer.
const MD1_MAX_ERROR: f64 = 1e-8;

/// M/D/1's exact `P(Wq <= t)` (Crommelin's form, see the module docs), or `None` when the
/// alternating sum would lose more than ~1e-8 to round-off (its terms grow like
/// `e^{2λt}`, so this happens for t beyond roughly 15/λ: far tails of heavily loaded
/// queues). The sum is accumulated with Kahan compensation.
pub fn md1_wait_cdf(lambda: f64, d: f64, t: f64) -> Option<f64> {
    let rho = lambda * d;
    let valid = rho > 0.0 && rho < 1.0 && d > 0.0 && t.is_finite();
    if !valid {
        return None;
    }
    if t < 0.0 {
        return Some(0.0);
    }
    let kmax = (t / d).floor() as u64;
    let (mut sum, mut comp, mut abs_sum) = (0.0f64, 0.0f64, 0.0f64);
    for k in 0..=kmax {
        let x = lambda * (t - k as f64 * d); // >= 0
        // term = (−x)^k / k! · e^{x}, in log space for its magnitude.
        let ln_mag = if x > 0.0 {
            k as f64 * x.ln() - ln_factorial(k) + x
        } else if k == 0 {
            0.0
        } else {
            f64::NEG_INFINITY
        };
        let mag = ln_mag.exp();
        if !mag.is_finite() {
            return None;
        }
        let term = if k % 2 == 0 { mag } else { -mag };
        abs_sum += mag;
        let y = term - comp;
        let s = sum + y;
        comp = (s - sum) - y;
        sum = s;
    }
    if abs_sum * f64::EPSILON * 4.0 > MD1_MAX_ERROR {
        return None;
    }
    Some(((1.0 - rho) * sum).clamp(0.0, 1.0))
}

fn ln_factorial(k: u64) -> f64 {
    statrs::function::gamma::ln_gamma(k as f64 + 1.0)
}

/// The p-quantile of M/D/1's wait, exact up to the bisection tolerance; 0 when it falls in
/// the atom `P(Wq = 0) = 1 − ρ`. `None` where [`md1_wait_cdf`] cannot be evaluated reliably.
pub fn md1_wait_quantile(lambda: f64, d: f64, p: f64) -> Option<f64> {
    let wq = mg1(lambda, d, 0.0)?.wq;
    // Where the CDF cannot be evaluated we report survival 0: that only ever moves the
    // upper end of the bracket, so the answer is right iff the CDF is reliable at it.
    let q = quantile_by_bisection(
        |t| md1_wait_cdf(lambda, d, t).map_or(0.0, |f| 1.0 - f),
        p,
        wq.max(d),
    )?;
    let f = md1_wait_cdf(lambda, d, q)?;
    (f >= p - 1e-9).then_some(q)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn md1_mean_is_half_of_mm1() {
        // M/D/1: Wq = ρ/(2μ(1−ρ)) (Kleinrock §5.7). λ = 0.8, D = 1: Wq = 0.8/(2·0.2) = 2.
        let r = mg1(0.8, 1.0, 0.0).unwrap();
        assert!((r.wq - 2.0).abs() < 1e-12);
        assert!((r.w - 3.0).abs() < 1e-12);
        assert!((r.lq - 1.6).abs() < 1e-12);
        // With exponential service P–K gives M/M/1: Wq = 4.
        assert!((mg1(0.8, 1.0, 1.0).unwrap().wq - 4.0).abs() < 1e-12);
        assert!(mg1(1.0, 1.0, 0.0).is_none());
    }

    #[test]
    fn md1_distribution_has_the_right_atom_and_mean() {
        let (lambda, d) = (0.5, 1.0);
        // Atom at zero: P(Wq = 0) = 1 − ρ.
        assert!((md1_wait_cdf(lambda, d, 0.0).unwrap() - 0.5).abs() < 1e-15);
        // For 0 <= t < D: P(Wq <= t) = (1−ρ)e^{λt} (only k = 0).
        assert!((md1_wait_cdf(lambda, d, 0.5).unwrap() - 0.5 * 0.25f64.exp()).abs() < 1e-14);
        // ∫ P(Wq > t) dt = Wq = ρD/(2(1−ρ)) = 0.5.
        let (n, hi) = (15_000, 15.0);
        let h = hi / n as f64;
        let mean: f64 =
            (0..n).map(|i| 1.0 - md1_wait_cdf(lambda, d, (i as f64 + 0.5) * h).unwrap()).sum();
        assert!((mean * h - 0.5).abs() < 1e-6, "{}", mean * h);
        // Quantiles invert the CDF.
        for p in [0.6, 0.9, 0.99] {
            let q = md1_wait_quantile(lambda, d, p).unwrap();
            assert!((md1_wait_cdf(lambda, d, q).unwrap() - p).abs() < 1e-9, "{p}");
        }
        assert_eq!(md1_wait_quantile(lambda, d, 0.4), Some(0.0));
    }

    #[test]
    fn md1_refuses_where_round_off_would_dominate() {
        // ρ = 0.95: the p99 lies far out (≈ 40 D); the alternating sum cannot be trusted.
        assert_eq!(md1_wait_cdf(0.95, 1.0, 60.0), None);
        assert_eq!(md1_wait_quantile(0.95, 1.0, 0.99), None);
    }
}
