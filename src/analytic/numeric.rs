//! Small numeric helpers shared by the models: inverting a survival function by bisection
//! and Poisson probabilities computed without overflow or premature underflow.

/// Smallest `t >= 0` with `survival(t) <= 1 - p`, i.e. the p-quantile of a non-negative
/// random variable whose survival function `P(X > t)` is `survival`.
///
/// `scale` is a positive guess of the magnitude of the answer (e.g. the mean); the bracket
/// is grown from it by doubling. Returns `Some(0.0)` when the quantile falls in an atom at
/// zero (`survival(0) <= 1 - p`), and `None` if no finite bracket is found (a defective or
/// numerically broken distribution) or `p` is not in `(0, 1)`.
///
/// Time: O(log(answer/scale) + 200) evaluations of `survival`.
pub(crate) fn quantile_by_bisection(
    survival: impl Fn(f64) -> f64,
    p: f64,
    scale: f64,
) -> Option<f64> {
    if !(p > 0.0 && p < 1.0) {
        return None;
    }
    let target = 1.0 - p;
    if survival(0.0) <= target {
        return Some(0.0);
    }
    let mut hi = if scale.is_finite() && scale > 0.0 { scale } else { 1.0 };
    let mut lo = 0.0;
    let mut grown = 0;
    while survival(hi) > target {
        lo = hi;
        hi *= 2.0;
        grown += 1;
        if grown > 200 || !hi.is_finite() {
            return None;
        }
    }
    // Invariant: survival(lo) > target >= survival(hi).
    for _ in 0..200 {
        let mid = 0.5 * (lo + hi);
        if mid <= lo || mid >= hi {
            break;
        }
        if survival(mid) > target {
            lo = mid;
        } else {
            hi = mid;
        }
        if hi - lo <= 1e-13 * hi {
            break;
        }
    }
    Some(hi)
}

/// The Poisson(x) probabilities of `lo..=hi`, as `(j, pmf)`, each computed in log space
/// (`ln pmf(j) = -x + j ln x - ln j!`), so that a large `x` does not underflow `e^{-x}`.
pub(crate) fn poisson_terms(x: f64, lo: usize, hi: usize) -> impl Iterator<Item = (usize, f64)> {
    let lx = x.ln();
    (lo..=hi).map(move |j| {
        // ln j! from the log-gamma function per term rather than a running sum, whose
        // rounding would accumulate over thousands of terms.
        let v = if x > 0.0 {
            (-x + j as f64 * lx - statrs::function::gamma::ln_gamma(j as f64 + 1.0)).exp()
        } else if j == 0 {
            1.0
        } else {
            0.0
        };
        (j, v)
    })
}

/// `ln(x^a e^{−x} / Γ(a+1))`, the log of the Poisson-like prefactor of the incomplete
/// gamma function, without the catastrophic cancellation of its three large terms when a
/// is large: `−a·(r − 1 − ln r) − ½ln(2πa) − δ(a)` with `r = x/a` and Stirling's error
/// `δ(a) = lnΓ(a+1) − (a+½)ln a + a − ½ln(2π)` (Loader, "Fast and accurate computation of
/// binomial probabilities", 2000: the deviance form and the series for δ).
fn ln_gamma_prefactor(a: f64, x: f64) -> f64 {
    use statrs::function::gamma::ln_gamma;
    let ln_2pi = (2.0 * std::f64::consts::PI).ln();
    let delta = if a >= 15.0 {
        let a2 = a * a;
        (1.0 / 12.0
            - (1.0 / 360.0 - (1.0 / 1260.0 - (1.0 / 1680.0 - 1.0 / (1188.0 * a2)) / a2) / a2) / a2)
            / a
    } else {
        ln_gamma(a + 1.0) - (a + 0.5) * a.ln() + a - 0.5 * ln_2pi
    };
    // r − 1 − ln r with d = r − 1, by its series Σ_{k>=2} (−d)^k/k near d = 0.
    let d = (x - a) / a;
    let dev = if d.abs() < 0.5 {
        let (mut pow, mut sum) = (d * d, 0.0);
        for k in 2..80 {
            let term = pow / f64::from(k);
            sum += if k % 2 == 0 { term } else { -term };
            if term.abs() <= 1e-18 * sum.abs() {
                break;
            }
            pow *= d;
        }
        sum
    } else {
        // Not d − ln(1 + d): 1 + d would lose x's digits when x ≪ a.
        let r = x / a;
        r - 1.0 - r.ln()
    };
    -a * dev - 0.5 * (ln_2pi + a.ln()) - delta
}

/// `ln P(a, x)`, the logarithm of the regularized lower incomplete gamma function
/// `P(a, x) = γ(a, x)/Γ(a)` (the Gamma(a, 1) distribution function), for `a > 0`, `x >= 0`
/// (−∞ at `x = 0`). Kept in log space so that ratios of tiny values stay exact. Series
/// `P = x^a e^{−x}/Γ(a+1) · Σ_k x^k/((a+1)…(a+k))` for `x < a + 1`, else `P = 1 − Q` with
/// Legendre's continued fraction for Q evaluated by the modified Lentz method (Press et
/// al., *Numerical Recipes* 3rd ed., §6.2; Abramowitz & Stegun 6.5.29, 6.5.31); the
/// prefactor by [`ln_gamma_prefactor`], so the result keeps ~1e-14 relative accuracy for
/// large a too. NaN for invalid arguments or if a sum does not converge in 10⁷ terms
/// (a beyond ~10¹⁴).
pub(crate) fn ln_gamma_p(a: f64, x: f64) -> f64 {
    if !(a > 0.0 && a.is_finite() && x >= 0.0) {
        return f64::NAN;
    }
    if x == 0.0 {
        return f64::NEG_INFINITY;
    }
    if x.is_infinite() {
        return 0.0;
    }
    const MAX_TERMS: usize = 10_000_000;
    if x < a + 1.0 {
        // Every ratio x/(a + k) < 1: the terms decrease from the start.
        let (mut term, mut sum) = (1.0f64, 1.0f64);
        let mut k = 0.0;
        for _ in 0..MAX_TERMS {
            k += 1.0;
            term *= x / (a + k);
            sum += term;
            if term <= 1e-17 * sum {
                return ln_gamma_prefactor(a, x) + sum.ln();
            }
        }
        return f64::NAN;
    }
    let tiny = 1e-300;
    let mut b = x + 1.0 - a;
    let mut c = 1.0 / tiny;
    let mut d = 1.0 / b;
    let mut h = d;
    for i in 1..MAX_TERMS {
        let an = -(i as f64) * (i as f64 - a);
        b += 2.0;
        d = an * d + b;
        if d.abs() < tiny {
            d = tiny;
        }
        c = b + an / c;
        if c.abs() < tiny {
            c = tiny;
        }
        d = 1.0 / d;
        let del = d * c;
        h *= del;
        if (del - 1.0).abs() <= 1e-16 {
            // Q = x^a e^{−x}/Γ(a) · h and Γ(a) = Γ(a+1)/a.
            let ln_q = ln_gamma_prefactor(a, x) + a.ln() + h.ln();
            return (-ln_q.exp()).ln_1p();
        }
    }
    f64::NAN
}

/// Test-only brute force: the stationary distribution of a finite continuous-time Markov
/// chain with `n` states and the given transitions `(from, to, rate)`, by Gauss–Seidel
/// sweeps over the global balance equations `π_j Σ_k q_jk = Σ_i π_i q_ij` (Stewart,
/// *Introduction to the Numerical Solution of Markov Chains*, 1994, §3.2), renormalised
/// after every sweep. Stops when a sweep changes no probability by more than `tol` (in
/// total variation); `None` if that takes more than `max_sweeps` sweeps. Independent of
/// every closed form in this module, so the models' tests can compare against it.
#[cfg(test)]
pub(crate) fn ctmc_stationary(
    n: usize,
    transitions: &[(usize, usize, f64)],
    tol: f64,
    max_sweeps: usize,
) -> Option<Vec<f64>> {
    let mut out = vec![0.0; n];
    let mut incoming: Vec<Vec<(usize, f64)>> = vec![Vec::new(); n];
    for &(i, j, q) in transitions {
        if i != j && q > 0.0 {
            out[i] += q;
            incoming[j].push((i, q));
        }
    }
    let mut pi = vec![1.0 / n as f64; n];
    for _ in 0..max_sweeps {
        let mut change = 0.0;
        for j in 0..n {
            if out[j] == 0.0 {
                continue;
            }
            let new = incoming[j].iter().map(|&(i, q)| pi[i] * q).sum::<f64>() / out[j];
            change += (new - pi[j]).abs();
            pi[j] = new;
        }
        let total: f64 = pi.iter().sum();
        pi.iter_mut().for_each(|x| *x /= total);
        if change / total <= tol {
            return Some(pi);
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bisection_inverts_an_exponential() {
        // P(X > t) = e^{-2t}: the p-quantile is -ln(1-p)/2.
        for p in [0.5, 0.9, 0.99, 0.999] {
            let q = quantile_by_bisection(|t| (-2.0 * t).exp(), p, 0.5).unwrap();
            let want = -(1.0f64 - p).ln() / 2.0;
            assert!((q - want).abs() < 1e-10 * want, "p={p}: {q} vs {want}");
        }
        // An atom of 0.6 at zero: the median is 0.
        assert_eq!(quantile_by_bisection(|t| 0.4 * (-t).exp(), 0.5, 1.0), Some(0.0));
        assert_eq!(quantile_by_bisection(|_| 1.0, 0.5, 1.0), None);
    }

    #[test]
    fn poisson_pmfs_match_direct_sums() {
        // P(N <= 2), N ~ Poisson(1.5) = e^{-1.5}(1 + 1.5 + 1.125) = 0.8088468305...
        let s: f64 = poisson_terms(1.5, 0, 2).map(|(_, p)| p).sum();
        assert!((s - 0.808_846_830_538_058).abs() < 1e-12, "{s}");
        // Large mean, where e^{-x} alone underflows: P(N <= 1000), N ~ Poisson(1000)
        // = 0.5084093671... (log-space sum, checked independently).
        let s: f64 = poisson_terms(1000.0, 0, 1000).map(|(_, p)| p).sum();
        let tail: f64 = poisson_terms(1000.0, 700, 1000).map(|(_, p)| p).sum();
        assert!((s - tail).abs() < 1e-13, "terms far below the mean are negligible");
        assert!((s - 0.508_409_367_168).abs() < 1e-9, "{s}");
    }

    #[test]
    fn incomplete_gamma_matches_closed_forms() {
        // P(1, x) = 1 − e^{−x}; P(n, x) = 1 − e^{−x} Σ_{k<n} x^k/k! (Abramowitz & Stegun
        // 6.5.13).
        for x in [1e-8f64, 0.01, 0.5, 1.0, 2.0, 7.5, 30.0, 300.0] {
            let want: f64 = -(-x).exp_m1();
            assert!((ln_gamma_p(1.0, x) - want.ln()).abs() < 1e-13, "x={x}");
            for n in [3u32, 10, 40] {
                let mut term = 1.0;
                let mut sum = 1.0;
                for k in 1..n {
                    term *= x / f64::from(k);
                    sum += term;
                }
                let q = (-x).exp() * sum;
                let got = ln_gamma_p(f64::from(n), x).exp();
                assert!((got - (1.0 - q)).abs() < 1e-12 * (1.0 - q).max(1e-300) + 1e-15, "{n} {x}");
            }
        }
        // P(1/2, z²/2) = erf(z/√2) = P(|N(0,1)| < z): the 1σ, 2σ and 3σ probabilities.
        for (x, want) in [
            (0.5, 0.682_689_492_137_085_9),
            (2.0, 0.954_499_736_103_641_6),
            (4.5, 0.997_300_203_936_739_8),
        ] {
            assert!((ln_gamma_p(0.5, x).exp() - want).abs() < 1e-14, "{x}");
        }
        // Deep lower tail: P(50, 1) = e^{−1} Σ_{k>=50} 1/k! ≈ e^{−1}/50! (1 + 1/51 + …),
        // ln ≈ −1 − ln 50! + ln(1.0200…) — finite where P itself is ~1e-65.
        let ln50f = statrs::function::factorial::ln_factorial(50);
        let want = -1.0 - ln50f
            + f64::ln(1.0 + 1.0 / 51.0 + 1.0 / (51.0 * 52.0) + 1.0 / (51.0 * 52.0 * 53.0));
        assert!((ln_gamma_p(50.0, 1.0) - want).abs() < 1e-6, "{}", ln_gamma_p(50.0, 1.0));
        assert_eq!(ln_gamma_p(2.0, 0.0), f64::NEG_INFINITY);
        assert!(ln_gamma_p(0.0, 1.0).is_nan());
    }

    #[test]
    fn incomplete_gamma_is_accurate_for_large_shape() {
        // Gamma(a, 1) is ≈ Normal(a, a) for large a: P(a, a + z√a) → Φ(z) (error O(1/√a);
        // with the Wilson–Hilferty refinement far smaller). At a = 10⁸ the naive
        // a ln x − x − lnΓ(a+1) loses ~1e-7; the deviance form must not.
        let a: f64 = 1e8;
        for z in [-3.0, -1.0, 0.0, 1.0, 2.5] {
            let x: f64 = a + z * a.sqrt();
            let got = ln_gamma_p(a, x).exp();
            // Wilson–Hilferty: P(a, x) ≈ Φ(((x/a)^{1/3} − 1 + 1/(9a)) · 3√a).
            let w = ((x / a).cbrt() - 1.0 + 1.0 / (9.0 * a)) * 3.0 * a.sqrt();
            let want = 0.5 * statrs::function::erf::erfc(-w / std::f64::consts::SQRT_2);
            assert!((got - want).abs() < 1e-7, "z={z}: {got} vs {want}");
        }
        // The prefactor against the direct formula where the latter is still exact enough.
        for (a, x) in [(20.0, 3.0), (20.0, 19.5), (300.0, 310.0), (3.0, 0.5)] {
            let direct = a * f64::ln(x) - x - statrs::function::gamma::ln_gamma(a + 1.0);
            assert!((ln_gamma_prefactor(a, x) - direct).abs() < 1e-11, "{a} {x}");
        }
    }

    #[test]
    fn gauss_seidel_solves_a_birth_death_chain() {
        // M/M/2/6 with λ = 3, μ = 1 against Gross & Harris eq. 2.41 (via mmck).
        let (lam, mu, c, k) = (3.0, 1.0, 2usize, 6usize);
        let mut tr = Vec::new();
        for n in 0..k {
            tr.push((n, n + 1, lam));
            tr.push((n + 1, n, mu * (n + 1).min(c) as f64));
        }
        let pi = ctmc_stationary(k + 1, &tr, 1e-15, 100_000).unwrap();
        let want = super::super::mmck::mmck(lam, mu, c as u32, k as u64).unwrap();
        for (n, (got, want)) in pi.iter().zip(&want.p).enumerate() {
            assert!((got - want).abs() < 1e-12, "{n}: {got} vs {want}");
        }
    }
}
