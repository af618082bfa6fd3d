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
}
