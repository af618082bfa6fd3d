//! Erlang's formulas and the M/M/c queue (M/M/1 is the case c = 1): Poisson arrivals,
//! exponential service, c identical servers, one FIFO queue, unlimited waiting room.
//!
//! Sources: Gross, Shortle, Thompson & Harris, *Fundamentals of Queueing Theory*
//! (4th ed., 2008), §2.2–2.3 (M/M/1, M/M/c, the waiting-time distributions, eq. 2.37 for
//! `P(Wq > t)`); Kleinrock, *Queueing Systems* vol. 1 (1975), §3.2–3.5. The Erlang B
//! recursion is the standard stable one (e.g. Gross & Harris §2.6, Jagerman 1974).

use super::numeric::quantile_by_bisection;

/// Erlang's loss formula B(c, a): the blocking probability of M/M/c/c with offered load
/// `a = λ/μ` Erlangs.
///
/// Computed by the recursion `B(0) = 1`, `B(k) = a·B(k−1) / (k + a·B(k−1))`, whose every
/// iterate lies in `[0, 1]`: no factorials, no overflow, stable for any `c` (O(c) time;
/// 10 000 servers take microseconds). Returns NaN for a negative or non-finite `a`.
pub fn erlang_b(c: u32, a: f64) -> f64 {
    if !(a.is_finite() && a >= 0.0) {
        return f64::NAN;
    }
    let mut b = 1.0;
    for k in 1..=c {
        let ab = a * b;
        b = ab / (f64::from(k) + ab);
    }
    b
}

/// Erlang's delay formula C(c, a): in M/M/c with offered load `a = λ/μ` Erlangs, the
/// probability that an arriving message must wait (all c consumers busy).
///
/// From Erlang B by `C = c·B / (c − a·(1 − B))` (Gross & Harris eq. 2.33 rearranged), which
/// inherits the recursion's stability. Returns 1 when `a >= c` (an unstable queue: every
/// arrival eventually waits) and when `c == 0` (no consumer: every arrival waits). NaN for
/// a negative or non-finite `a`.
pub fn erlang_c(c: u32, a: f64) -> f64 {
    if !(a.is_finite() && a >= 0.0) {
        return f64::NAN;
    }
    if c == 0 || a >= f64::from(c) {
        return 1.0;
    }
    let b = erlang_b(c, a);
    let cf = f64::from(c);
    (cf * b / (cf - a * (1.0 - b))).clamp(0.0, 1.0)
}

/// A solved, stable M/M/c queue. All times in seconds, rates per second.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct MmcResult {
    /// Arrival rate λ.
    pub lambda: f64,
    /// Service rate of one consumer μ = 1 / mean service time.
    pub mu: f64,
    /// Number of consumers c.
    pub c: u32,
    /// Offered load a = λ/μ, Erlangs (mean number of busy consumers).
    pub offered_load: f64,
    /// Utilization ρ = a / c (< 1).
    pub rho: f64,
    /// Probability of waiting, Erlang C(c, a).
    pub p_wait: f64,
    /// Mean wait in queue Wq = C / (cμ − λ).
    pub wq: f64,
    /// Mean sojourn W = Wq + 1/μ.
    pub w: f64,
    /// Mean number waiting Lq = λ·Wq.
    pub lq: f64,
    /// Mean number in system L = λ·W.
    pub l: f64,
}

/// Solves M/M/c (Gross & Harris §2.3). `None` when the parameters are not finite positive
/// numbers, `c == 0`, or the queue is unstable (`λ >= cμ`): then no steady state exists.
pub fn mmc(lambda: f64, mu: f64, c: u32) -> Option<MmcResult> {
    if !(lambda.is_finite() && lambda >= 0.0 && mu.is_finite() && mu > 0.0 && c > 0) {
        return None;
    }
    let a = lambda / mu;
    let cf = f64::from(c);
    if a >= cf {
        return None;
    }
    let p_wait = erlang_c(c, a);
    let wq = p_wait / (cf * mu - lambda);
    let w = wq + 1.0 / mu;
    Some(MmcResult {
        lambda,
        mu,
        c,
        offered_load: a,
        rho: a / cf,
        p_wait,
        wq,
        w,
        lq: lambda * wq,
        l: lambda * w,
    })
}

impl MmcResult {
    /// Rate of the exponential tail of the wait, θ = cμ − λ.
    fn theta(&self) -> f64 {
        f64::from(self.c) * self.mu - self.lambda
    }

    /// `P(Wq > t) = C·e^{−(cμ−λ)t}` for `t >= 0` (Gross & Harris eq. 2.37): an atom of
    /// mass `1 − C` at zero and an exponential tail.
    pub fn wait_survival(&self, t: f64) -> f64 {
        if t < 0.0 {
            return 1.0;
        }
        self.p_wait * (-self.theta() * t).exp()
    }

    /// The p-quantile of the wait, exactly: 0 when `p <= 1 − C` (the quantile falls in the
    /// atom of messages served at once), else `ln(C / (1 − p)) / (cμ − λ)`. `None` unless
    /// `0 < p < 1`.
    pub fn wait_quantile(&self, p: f64) -> Option<f64> {
        if !(p > 0.0 && p < 1.0) {
            return None;
        }
        if 1.0 - p >= self.p_wait {
            return Some(0.0);
        }
        Some((self.p_wait / (1.0 - p)).ln() / self.theta())
    }

    /// `P(W > t)` for the sojourn W = Wq + S, S ~ Exp(μ) independent of Wq (a message's own
    /// service does not depend on what it waited). With θ = cμ − λ:
    /// `P(W > t) = (1 − C)e^{−μt} + C·P(X + S > t)`, X ~ Exp(θ), where the
    /// hypoexponential tail is `(μe^{−θt} − θe^{−μt})/(μ − θ)` for θ ≠ μ and
    /// `(1 + μt)e^{−μt}` for θ = μ (Gross & Harris §2.3, the M/M/c sojourn distribution).
    /// Near θ = μ the difference is evaluated through `expm1` so that it does not cancel.
    pub fn sojourn_survival(&self, t: f64) -> f64 {
        if t < 0.0 {
            return 1.0;
        }
        let (mu, theta) = (self.mu, self.theta());
        let d = mu - theta;
        let hypo = if (d * t).abs() < 1.0 {
            // e^{−θt}(1 + θ·(1 − e^{−dt})/d), with (1 − e^{−dt})/d → t as d → 0.
            let g = if d == 0.0 { t } else { -(-d * t).exp_m1() / d };
            (-theta * t).exp() * (1.0 + theta * g)
        } else {
            (mu * (-theta * t).exp() - theta * (-mu * t).exp()) / d
        };
        ((1.0 - self.p_wait) * (-mu * t).exp() + self.p_wait * hypo).clamp(0.0, 1.0)
    }

    /// The p-quantile of the sojourn, by bisection on [`sojourn_survival`]
    /// (`MmcResult::sojourn_survival`); accurate to ~1e-13 relative.
    ///
    /// [`sojourn_survival`]: MmcResult::sojourn_survival
    pub fn sojourn_quantile(&self, p: f64) -> Option<f64> {
        quantile_by_bisection(|t| self.sojourn_survival(t), p, self.w)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mm1_textbook_case() {
        // Gross & Harris §2.2: M/M/1 with λ = 0.8, μ = 1: ρ = 0.8, L = ρ/(1−ρ) = 4,
        // W = 1/(μ−λ) = 5, Wq = ρ/(μ−λ) = 4, Lq = ρ²/(1−ρ) = 3.2.
        let r = mmc(0.8, 1.0, 1).unwrap();
        assert!((r.rho - 0.8).abs() < 1e-12);
        assert!((r.p_wait - 0.8).abs() < 1e-12, "M/M/1: P(wait) = ρ");
        assert!((r.wq - 4.0).abs() < 1e-12);
        assert!((r.w - 5.0).abs() < 1e-12);
        assert!((r.lq - 3.2).abs() < 1e-12);
        assert!((r.l - 4.0).abs() < 1e-12);
        // The M/M/1 sojourn is Exp(μ − λ): P(W > t) = e^{−0.2t}, p99 = ln(100)/0.2.
        for t in [0.0, 1.0, 5.0, 20.0] {
            assert!((r.sojourn_survival(t) - (-0.2 * t).exp()).abs() < 1e-12);
        }
        let p99 = r.sojourn_quantile(0.99).unwrap();
        assert!((p99 - 100f64.ln() / 0.2).abs() < 1e-9, "{p99}");
        // Wait: atom 0.2 at 0, so the median is ln(0.8/0.5)/0.2 and p10 is 0.
        assert!((r.wait_quantile(0.5).unwrap() - (1.6f64).ln() / 0.2).abs() < 1e-12);
        assert_eq!(r.wait_quantile(0.1), Some(0.0));
    }

    #[test]
    fn erlang_tables() {
        // Erlang B published tables (e.g. Gross & Harris Table / any traffic table):
        // B(1, 1) = 0.5; B(2, 1) = 0.2; B(10, 5) = 0.018384.
        assert!((erlang_b(1, 1.0) - 0.5).abs() < 1e-15);
        assert!((erlang_b(2, 1.0) - 0.2).abs() < 1e-15);
        assert!((erlang_b(10, 5.0) - 0.018_384).abs() < 1e-6);
        // Erlang C: C(2, 1) = 1/3 (M/M/2 at ρ = 0.5, Gross & Harris ex. 2.x:
        // p0 = 1/3, C = a^c/(c!(1−ρ)) p0 = 1/3). C(10, 8) = 0.409 (traffic tables).
        assert!((erlang_c(2, 1.0) - 1.0 / 3.0).abs() < 1e-14);
        assert!((erlang_c(10, 8.0) - 0.409_2).abs() < 1e-3, "{}", erlang_c(10, 8.0));
        assert_eq!(erlang_c(3, 3.0), 1.0);
        assert_eq!(erlang_c(0, 0.5), 1.0);
        assert!(erlang_c(3, f64::NAN).is_nan());
    }

    #[test]
    fn erlang_c_is_stable_for_ten_thousand_servers() {
        // c = 10 000 at ρ = 0.99: by the Halfin–Whitt heavy-traffic limit with
        // β = (1−ρ)√c = 1, C ≈ [1 + β Φ(β)/φ(β)]⁻¹ = [1 + 0.8413/0.2420]⁻¹ ≈ 0.223.
        let c = erlang_c(10_000, 9_900.0);
        assert!(c.is_finite() && c > 0.0 && c < 1.0, "{c}");
        assert!((c - 0.223).abs() < 0.02, "{c}");
        // Light load: essentially no waiting, but still a number.
        let c = erlang_c(10_000, 5_000.0);
        assert!(c.is_finite() && (0.0..1e-100).contains(&c), "{c}");
        let r = mmc(9_900.0, 1.0, 10_000).unwrap();
        assert!(r.wq.is_finite() && r.w.is_finite());
        assert!(r.sojourn_quantile(0.99).unwrap().is_finite());
    }

    #[test]
    fn mmc_means_match_gross_harris() {
        // M/M/c, λ = 6.4·… the output contract's demo: λ = 64/s, mean service 100 ms, c = 8
        // (a = 6.4, ρ = 0.8). Check against the explicit p0 formula of Gross & Harris
        // eq. 2.31: p0 = [Σ_{n<c} a^n/n! + a^c/(c!(1−ρ))]⁻¹, Lq = a^c ρ p0/(c!(1−ρ)²).
        let (lambda, mu, c) = (64.0, 10.0, 8u32);
        let a: f64 = lambda / mu;
        let rho = a / 8.0;
        let mut fact = 1.0;
        let mut sum = 0.0;
        for n in 0..8 {
            if n > 0 {
                fact *= n as f64;
            }
            sum += a.powi(n) / fact;
        }
        let cfact = fact * 8.0;
        let p0 = 1.0 / (sum + a.powi(8) / (cfact * (1.0 - rho)));
        let lq = a.powi(8) * rho * p0 / (cfact * (1.0 - rho).powi(2));
        let r = mmc(lambda, mu, c).unwrap();
        assert!((r.lq - lq).abs() < 1e-12 * lq.max(1.0), "{} vs {lq}", r.lq);
        assert!((r.wq - lq / lambda).abs() < 1e-12);
        assert!(mmc(80.0, 10.0, 8).is_none(), "ρ = 1 is unstable");
        assert!(mmc(1.0, 0.0, 8).is_none());
    }

    #[test]
    fn quantiles_invert_their_survival_functions() {
        for (lambda, mu, c) in [(0.8, 1.0, 1), (64.0, 10.0, 8), (9.0, 1.0, 10), (1.0, 1.0, 2)] {
            let r = mmc(lambda, mu, c).unwrap();
            for p in [0.5, 0.9, 0.95, 0.99, 0.999] {
                let q = r.wait_quantile(p).unwrap();
                if q > 0.0 {
                    assert!((r.wait_survival(q) - (1.0 - p)).abs() < 1e-12);
                } else {
                    assert!(r.wait_survival(0.0) <= 1.0 - p);
                }
                let s = r.sojourn_quantile(p).unwrap();
                assert!((r.sojourn_survival(s) - (1.0 - p)).abs() < 1e-9, "{lambda} {c} {p}");
            }
        }
    }

    #[test]
    fn sojourn_survival_is_continuous_through_theta_equal_mu() {
        // c = 2, μ = 1, λ = 1 gives θ = cμ − λ = 1 = μ exactly; nearby λ must agree.
        let exact = mmc(1.0, 1.0, 2).unwrap();
        let near = mmc(1.0 + 1e-9, 1.0, 2).unwrap();
        for t in [0.1, 1.0, 3.0, 10.0] {
            assert!((exact.sojourn_survival(t) - near.sojourn_survival(t)).abs() < 1e-8);
        }
        // And the mean of the sojourn distribution (∫ survival) equals W.
        let r = mmc(64.0, 10.0, 8).unwrap();
        let (n, hi) = (200_000, 3.0);
        let h = hi / n as f64;
        let integral: f64 = (0..n).map(|i| r.sojourn_survival((i as f64 + 0.5) * h) * h).sum();
        assert!((integral - r.w).abs() < 1e-6, "{integral} vs {}", r.w);
    }
}
