//! Latency histograms: `hdrhistogram` over nanoseconds with 3 significant digits, so every
//! reported percentile is within 0.1% of the exact sample quantile, in O(1) memory whatever
//! the number of messages.

use hdrhistogram::Histogram;

/// Seconds ↔ the histogram's integer unit.
const NS_PER_S: f64 = 1e9;

/// A histogram of durations in seconds, plus exact count, sum and maximum.
#[derive(Debug, Clone)]
pub struct LatencyHistogram {
    hist: Histogram<u64>,
    sum: f64,
    max: f64,
}

impl Default for LatencyHistogram {
    fn default() -> Self {
        Self::new()
    }
}

impl LatencyHistogram {
    /// An empty histogram covering 1 ns to ~146 years (values above saturate).
    pub fn new() -> Self {
        LatencyHistogram {
            hist: Histogram::new_with_bounds(1, u64::MAX / 4, 3).expect("valid bounds"),
            sum: 0.0,
            max: 0.0,
        }
    }

    /// Records one duration in seconds (negative values, from clock jitter, count as 0).
    #[inline]
    pub fn record(&mut self, secs: f64) {
        let secs = secs.max(0.0);
        self.hist.saturating_record((secs * NS_PER_S) as u64);
        self.sum += secs;
        if secs > self.max {
            self.max = secs;
        }
    }

    /// Number of recorded values.
    pub fn count(&self) -> u64 {
        self.hist.len()
    }

    /// Exact mean, or `None` when empty.
    pub fn mean(&self) -> Option<f64> {
        (self.count() > 0).then(|| self.sum / self.count() as f64)
    }

    /// Exact maximum, or `None` when empty.
    pub fn max(&self) -> Option<f64> {
        (self.count() > 0).then_some(self.max)
    }

    /// The `q`-quantile (0 ≤ q ≤ 1) within 0.1% relative error, or `None` when empty.
    pub fn quantile(&self, q: f64) -> Option<f64> {
        (self.count() > 0).then(|| self.hist.value_at_quantile(q) as f64 / NS_PER_S)
    }

    /// Fraction of values strictly greater than `secs` (the empirical CCDF).
    pub fn ccdf(&self, secs: f64) -> Option<f64> {
        let n = self.count();
        (n > 0).then(|| {
            let below = self.hist.count_between(0, (secs.max(0.0) * NS_PER_S) as u64);
            (n - below.min(n)) as f64 / n as f64
        })
    }

    /// Adds every value of `other` (pooling replications).
    pub fn merge(&mut self, other: &LatencyHistogram) {
        self.hist.add(&other.hist).expect("same bounds");
        self.sum += other.sum;
        self.max = self.max.max(other.max);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantiles_within_a_thousandth() {
        let mut h = LatencyHistogram::new();
        for i in 1..=100_000 {
            h.record(i as f64 * 1e-5); // 10 µs … 1 s
        }
        for q in [0.5, 0.9, 0.99, 0.999] {
            let exact = q * 1.0;
            let got = h.quantile(q).unwrap();
            assert!((got / exact - 1.0).abs() <= 1e-3, "q{q}: {got} vs {exact}");
        }
        assert!((h.mean().unwrap() - 0.500005).abs() < 1e-9);
        assert_eq!(h.max(), Some(1.0));
        assert!((h.ccdf(0.9).unwrap() - 0.1).abs() < 2e-3);
    }

    #[test]
    fn zeros_and_merge() {
        let mut a = LatencyHistogram::new();
        let mut b = LatencyHistogram::new();
        for _ in 0..60 {
            a.record(0.0);
        }
        for _ in 0..40 {
            b.record(2.0);
        }
        a.merge(&b);
        assert_eq!(a.count(), 100);
        assert_eq!(a.quantile(0.5), Some(0.0));
        assert!((a.quantile(0.99).unwrap() - 2.0).abs() < 2e-3);
        assert_eq!(LatencyHistogram::new().quantile(0.5), None);
    }
}
