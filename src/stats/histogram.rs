//! Latency histograms: `hdrhistogram` over nanoseconds with 3 significant digits, so every
//! reported percentile is within 0.1% of the exact sample quantile, in O(1) memory whatever
//! the number of messages.
//!
//! Memory follows need: a histogram covers 1 ns up to the largest value it holds (1024
//! counters per power of two above 2 µs: about 180 KB for values up to 2 s, against 430 KB
//! for the whole range to 146 years) and grows when a larger value or a merge needs it. The
//! bucket layout does not depend on the range, so every percentile is the same as with a
//! full-range histogram.

use hdrhistogram::Histogram;

/// Seconds ↔ the histogram's integer unit.
const NS_PER_S: f64 = 1e9;

/// Lowest discernible value (ns), highest trackable value (ns) and significant digits.
const LOW: u64 = 1;
const HIGH: u64 = u64::MAX / 4;
const SIGFIG: u8 = 3;
/// 2^62 = HIGH + 1, exactly: every `f64` below it converts to at most HIGH.
const HIGH_F64: f64 = 4_611_686_018_427_387_904.0;

/// An empty histogram covering 1 ns to `high` ns (at least 2), growing as values need.
fn hist_to(high: u64) -> Histogram<u64> {
    let mut h = Histogram::new_with_bounds(LOW, high.clamp(2, HIGH), SIGFIG).expect("valid bounds");
    h.auto(true);
    h
}

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
    /// An empty histogram for 1 ns to ~146 years (values above saturate); its memory grows
    /// with the largest value recorded.
    pub fn new() -> Self {
        LatencyHistogram { hist: hist_to(2), sum: 0.0, max: 0.0 }
    }

    /// Records one duration in seconds (negative values, from clock jitter, count as 0).
    #[inline]
    pub fn record(&mut self, secs: f64) {
        let secs = secs.max(0.0);
        // Saturated at HIGH by hand: `record` grows the histogram to fit (its
        // `saturating_record` would clamp at the current top instead).
        self.hist.record(((secs * NS_PER_S) as u64).min(HIGH)).expect("grows to fit");
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

    /// Bytes held (for memory estimates).
    pub fn heap_bytes(&self) -> usize {
        self.hist.distinct_values() * std::mem::size_of::<u64>()
    }

    /// Adds every value of `other` (pooling replications); grows to hold them.
    pub fn merge(&mut self, other: &LatencyHistogram) {
        self.hist.add(&other.hist).expect("grows to fit");
        self.sum += other.sum;
        self.max = self.max.max(other.max);
    }
}

/// One step of HdrHistogram's percentile iteration (its `outputPercentileDistribution`).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct DistributionStep {
    /// The highest value equivalent to the bucket reached, seconds.
    pub value_s: f64,
    /// The quantile iterated to (0 to 1; the last step is 1).
    pub quantile: f64,
    /// Values at or below `value_s`.
    pub total_count: u64,
}

/// A histogram's percentile distribution as HdrHistogram reports it: the steps of its
/// percentile iterator and the summary lines' figures (the histogram's own mean and
/// standard deviation, from bucket midpoints as HdrHistogram computes them).
#[derive(Debug, Clone, PartialEq)]
pub struct Distribution {
    /// The steps, in increasing quantile.
    pub steps: Vec<DistributionStep>,
    /// Mean, seconds.
    pub mean_s: f64,
    /// Standard deviation, seconds.
    pub stdev_s: f64,
    /// Largest value (highest equivalent of its bucket), seconds.
    pub max_s: f64,
    /// Values recorded.
    pub total_count: u64,
    /// Buckets of the histogram.
    pub buckets: u32,
    /// Sub-buckets per bucket.
    pub sub_buckets: u32,
    /// Significant value digits (the decimals HdrHistogram prints values with).
    pub significant_digits: u8,
}

impl LatencyHistogram {
    /// The percentile distribution with `ticks_per_half_distance` steps per halving of the
    /// distance to 100% (HdrHistogram's default is 5), from the crate's quantile iterator.
    pub fn distribution(&self, ticks_per_half_distance: u32) -> Distribution {
        let h = &self.hist;
        let steps = if h.is_empty() {
            Vec::new()
        } else {
            h.iter_quantiles(ticks_per_half_distance.max(1))
                .scan(0u64, |total, v| {
                    *total += v.count_since_last_iteration();
                    Some(DistributionStep {
                        value_s: v.value_iterated_to() as f64 / NS_PER_S,
                        quantile: v.quantile_iterated_to(),
                        total_count: *total,
                    })
                })
                .collect()
        };
        Distribution {
            steps,
            mean_s: if h.is_empty() { 0.0 } else { h.mean() / NS_PER_S },
            stdev_s: if h.is_empty() { 0.0 } else { h.stdev() / NS_PER_S },
            max_s: h.max() as f64 / NS_PER_S,
            total_count: h.len(),
            // The full range's layout, whatever this histogram has grown to: its buckets are
            // the same and HdrHistogram's files state them.
            buckets: FULL_RANGE_BUCKETS,
            sub_buckets: 2 * SUB_BUCKET_HALF_COUNT as u32,
            significant_digits: h.sigfig(),
        }
    }
}

/// Bucket layout of `Histogram::new_with_bounds(LOW, HIGH, SIGFIG)`, as hdrhistogram 7
/// computes it: unit magnitude 0 (`LOW` = 1), 2048 sub-buckets (the power of two above
/// 2·10³), of which the upper half (1024) is used in every bucket after the first.
const SUB_BUCKET_HALF_COUNT_MAGNITUDE: u32 = 10;
const SUB_BUCKET_HALF_COUNT: usize = 1 << SUB_BUCKET_HALF_COUNT_MAGNITUDE;
const SUB_BUCKET_MASK: u64 = (1 << (SUB_BUCKET_HALF_COUNT_MAGNITUDE + 1)) - 1;
/// 64 − unit magnitude − sub-bucket count magnitude.
const LEADING_ZERO_COUNT_BASE: u32 = 64 - (SUB_BUCKET_HALF_COUNT_MAGNITUDE + 1);

/// Buckets of the layout up to `HIGH`: 2048 · 2^(k−1) > HIGH = 2^62 − 1 first at k = 52.
const FULL_RANGE_BUCKETS: u32 = 52;

/// hdrhistogram's counts index of `value` (its `index_for`, with our constants).
#[inline]
fn index_for(value: u64) -> usize {
    let bucket = LEADING_ZERO_COUNT_BASE - (value | SUB_BUCKET_MASK).leading_zeros();
    let sub_bucket = (value >> bucket) as usize;
    ((bucket as usize + 1) << SUB_BUCKET_HALF_COUNT_MAGNITUDE) + sub_bucket - SUB_BUCKET_HALF_COUNT
}

/// hdrhistogram's `value_for`: the lowest value counted at `index`.
fn value_for(index: usize) -> u64 {
    let mut bucket = (index >> SUB_BUCKET_HALF_COUNT_MAGNITUDE) as i64 - 1;
    let mut sub_bucket = (index & (SUB_BUCKET_HALF_COUNT - 1)) + SUB_BUCKET_HALF_COUNT;
    if bucket < 0 {
        sub_bucket -= SUB_BUCKET_HALF_COUNT;
        bucket = 0;
    }
    (sub_bucket as u64) << bucket
}

/// The recording half of a [`LatencyHistogram`], for the simulation's hot loop.
///
/// `hdrhistogram`'s `saturating_record` spends ~65 instructions per value (index through
/// `Option`s, a resize check, min/max and total bookkeeping). This counts into the same
/// buckets directly (~10 instructions) and [`finish`](Self::finish) hands the counts to an
/// `hdrhistogram` built exactly as recording each value one by one would have built it:
/// same counts, total, minimum and maximum (the tests compare them with `==`). The
/// seconds' sum and maximum accumulate in the same order with the same operations as
/// [`LatencyHistogram::record`], so every figure derived from either is bit-identical.
///
/// Its counters cover the values recorded so far (grown by whole buckets when a larger
/// value comes), so a queue whose latencies stay under a second holds about 170 KB.
#[derive(Debug, Clone)]
pub struct LatencyRecorder {
    counts: Vec<u64>,
    sum: f64,
    max: f64,
    /// Smallest non-zero value recorded (ns) minus one: `u64::MAX` while there is none.
    min_nz_minus_one: u64,
}

impl Default for LatencyRecorder {
    fn default() -> Self {
        Self::new()
    }
}

impl LatencyRecorder {
    /// An empty recorder over the same range as [`LatencyHistogram::new`].
    pub fn new() -> Self {
        LatencyRecorder { counts: Vec::new(), sum: 0.0, max: 0.0, min_nz_minus_one: u64::MAX }
    }

    /// Records one duration in seconds, as [`LatencyHistogram::record`] does.
    #[inline]
    pub fn record(&mut self, secs: f64) {
        let secs = secs.max(0.0);
        let x = secs * NS_PER_S;
        // `x as u64`, saturated at HIGH as `saturating_record` does (HIGH's bucket is the
        // last one): below 2^62 the cheaper signed conversion truncates identically.
        let ns = if x < HIGH_F64 { x as i64 as u64 } else { HIGH };
        // Values above HIGH are clamped to HIGH, whose index is the full layout's last.
        let i = index_for(ns);
        match self.counts.get_mut(i) {
            Some(c) => *c += 1,
            None => self.grow_to(i),
        }
        // 0 wraps to u64::MAX and never becomes the minimum.
        self.min_nz_minus_one = self.min_nz_minus_one.min(ns.wrapping_sub(1));
        self.sum += secs;
        if secs > self.max {
            self.max = secs;
        }
    }

    /// Counts one value at index `i`, beyond the counters held so far: grows them to the
    /// end of `i`'s bucket.
    #[cold]
    #[inline(never)]
    fn grow_to(&mut self, i: usize) {
        let len = (i / SUB_BUCKET_HALF_COUNT + 1) * SUB_BUCKET_HALF_COUNT;
        self.counts.resize(len.max(2 * SUB_BUCKET_HALF_COUNT), 0);
        self.counts[i] += 1;
    }

    /// Bytes held by the counters.
    pub fn heap_bytes(&self) -> usize {
        self.counts.capacity() * std::mem::size_of::<u64>()
    }

    /// The histogram these values make.
    pub fn finish(self) -> LatencyHistogram {
        let LatencyRecorder { counts, sum, max, min_nz_minus_one } = self;
        from_counts(
            counts.iter().enumerate().filter(|(_, c)| **c > 0).map(|(i, &c)| (i, c)),
            sum,
            max,
            min_nz_minus_one,
        )
    }
}

/// Builds the histogram that recording each value one by one would have built, from the
/// non-zero bucket counts (ascending index), the seconds' sum and maximum, and the smallest
/// non-zero value in ns minus one (`u64::MAX` when none).
fn from_counts(
    counts: impl Iterator<Item = (usize, u64)> + Clone,
    sum: f64,
    max: f64,
    min_nz_minus_one: u64,
) -> LatencyHistogram {
    {
        let total: u64 = counts.clone().map(|(_, c)| c).sum();
        // Sized as recording the values one by one into `LatencyHistogram::new` grows it:
        // to cover the largest.
        let top = if total > 0 { ((max * NS_PER_S) as u64).min(HIGH) } else { 0 };
        let mut hist = hist_to(top);
        // hdrhistogram also keeps the exact extremes: record those values themselves (their
        // buckets' other values at the bucket's lowest value, the same bucket).
        debug_assert_eq!(HIGH_F64 as u64, HIGH + 1);
        let mut exact = Vec::with_capacity(2);
        if total > 0 {
            // `as u64` is monotone, so the largest value in ns is that of the largest in s.
            exact.push(((max * NS_PER_S) as u64).min(HIGH));
        }
        let min_nz = min_nz_minus_one.wrapping_add(1);
        if min_nz != 0 && exact.first() != Some(&min_nz.min(HIGH)) {
            exact.push(min_nz.min(HIGH));
        }
        // The extremes are recorded on their own below: take them out of their buckets.
        let mut less: Vec<(usize, u64)> = Vec::with_capacity(2);
        for &v in &exact {
            match less.iter_mut().find(|(i, _)| *i == index_for(v)) {
                Some(l) => l.1 += 1,
                None => less.push((index_for(v), 1)),
            }
        }
        for (i, c) in counts {
            let c = c - less.iter().find(|l| l.0 == i).map_or(0, |l| l.1);
            if c > 0 {
                hist.record_n(value_for(i), c).expect("in range");
            }
        }
        for &v in &exact {
            hist.record(v).expect("in range");
        }
        LatencyHistogram { hist, sum, max }
    }
}

/// A latency histogram for many small populations (the timeline's windows): the buckets of
/// [`LatencyHistogram`] kept sparse, so an empty one costs nothing and one with n values at
/// most n entries, where a dense one always holds ~50 000 counters. Its quantiles are those
/// of the dense histogram of the same values (tests compare them with `==`).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SparseLatency {
    /// (bucket index, count), in recording order until [`SparseLatency::sorted`].
    counts: std::collections::BTreeMap<u32, u64>,
    sum: f64,
    max: f64,
    min_nz_minus_one: Option<u64>,
}

impl SparseLatency {
    /// Records one duration in seconds, as [`LatencyHistogram::record`] does.
    pub fn record(&mut self, secs: f64) {
        let secs = secs.max(0.0);
        let x = secs * NS_PER_S;
        let ns = if x < HIGH_F64 { x as i64 as u64 } else { HIGH };
        *self.counts.entry(index_for(ns) as u32).or_insert(0) += 1;
        let m = self.min_nz_minus_one.unwrap_or(u64::MAX);
        self.min_nz_minus_one = Some(m.min(ns.wrapping_sub(1)));
        self.sum += secs;
        if secs > self.max {
            self.max = secs;
        }
    }

    /// Number of recorded values.
    pub fn count(&self) -> u64 {
        self.counts.values().sum()
    }

    /// Mean, or `None` when empty.
    pub fn mean(&self) -> Option<f64> {
        let n = self.count();
        (n > 0).then(|| self.sum / n as f64)
    }

    /// Adds every value of `other`.
    pub fn merge(&mut self, other: &SparseLatency) {
        for (&i, &c) in &other.counts {
            *self.counts.entry(i).or_insert(0) += c;
        }
        self.sum += other.sum;
        self.max = self.max.max(other.max);
        self.min_nz_minus_one = match (self.min_nz_minus_one, other.min_nz_minus_one) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
    }

    /// The dense histogram of the same values.
    pub fn to_histogram(&self) -> LatencyHistogram {
        from_counts(
            self.counts.iter().map(|(&i, &c)| (i as usize, c)),
            self.sum,
            self.max,
            self.min_nz_minus_one.unwrap_or(u64::MAX),
        )
    }

    /// The `q`-quantile (0 < q ≤ 1), as [`LatencyHistogram::quantile`] of the same values
    /// gives it, without building the dense histogram; `None` when empty.
    pub fn quantile(&self, q: f64) -> Option<f64> {
        let n = self.count();
        if n == 0 {
            return None;
        }
        if q <= 0.0 {
            return self.to_histogram().quantile(q);
        }
        // hdrhistogram's `value_at_quantile`: the first bucket whose cumulative count
        // reaches ⌈q·n⌉ (at least 1), reported as the highest value of that bucket — except
        // that the exact maximum is recorded on its own, in the same bucket.
        let target = ((q.min(1.0) * n as f64).ceil() as u64).max(1);
        let mut acc = 0;
        for (&i, &c) in &self.counts {
            acc += c;
            if acc >= target {
                let low = value_for(i as usize);
                let bucket = LEADING_ZERO_COUNT_BASE - (low | SUB_BUCKET_MASK).leading_zeros();
                let high = low.saturating_add(1u64 << bucket) - 1;
                return Some(high as f64 / NS_PER_S);
            }
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Same values through both paths: identical histograms (counts, total, min, max) and
    /// identical derived figures.
    fn assert_same(values: &[f64]) {
        let mut direct = LatencyHistogram::new();
        let mut rec = LatencyRecorder::new();
        for &v in values {
            direct.record(v);
            rec.record(v);
        }
        let fast = rec.finish();
        assert!(fast.hist == direct.hist, "histograms differ for {values:?}");
        assert_eq!(fast.hist.len(), direct.hist.len());
        assert_eq!(fast.hist.max(), direct.hist.max());
        assert_eq!(fast.hist.min_nz(), direct.hist.min_nz());
        assert_eq!(fast.sum.to_bits(), direct.sum.to_bits());
        assert_eq!(fast.max.to_bits(), direct.max.to_bits());
        for q in [0.0, 0.1, 0.5, 0.9, 0.99, 0.999, 1.0] {
            assert_eq!(fast.quantile(q), direct.quantile(q));
        }
    }

    #[test]
    fn index_layout_matches_hdrhistogram() {
        assert_eq!(HIGH_F64 as u64, HIGH + 1);
        let hist = hist_to(HIGH);
        let len = hist.distinct_values();
        assert_eq!(index_for(HIGH), len - 1, "hdrhistogram bucket layout changed");
        assert_eq!(u32::from(hist.buckets()), FULL_RANGE_BUCKETS);
        let mut small = LatencyHistogram::new();
        small.record(0.001);
        assert_eq!(small.distribution(5).buckets, FULL_RANGE_BUCKETS);
        for i in 0..len {
            let v = value_for(i);
            assert_eq!(index_for(v), i, "index {i}");
            assert_eq!(hist.lowest_equivalent(v), v, "index {i}");
            // The next index starts right after this bucket's highest value.
            assert_eq!(index_for(hist.highest_equivalent(v)), i, "index {i}");
        }
    }

    #[test]
    fn recorder_matches_direct_recording() {
        assert_same(&[]);
        assert_same(&[0.0]);
        assert_same(&[0.0, 0.0, -1.0]);
        assert_same(&[0.25]);
        assert_same(&[0.25, 0.25]);
        assert_same(&[1e-9, 1.5e-9, 0.0]);
        assert_same(&[1.0, 1.0004, 1.0]); // min and max distinct, same bucket
        assert_same(&[1e12, 5e9, 2e9, 1e30, f64::INFINITY, 3.0]); // saturation
        // Around 2^62 ns (HIGH + 1), where the conversion switches to saturation.
        let edge = HIGH_F64 / NS_PER_S;
        let (below, above) =
            (f64::from_bits(edge.to_bits() - 1), f64::from_bits(edge.to_bits() + 1));
        assert_same(&[below, edge, above]);
        assert_same(&[edge, below]);
        assert_same(&[below]);
        assert_same(&[f64::NAN, -0.0, 5e-10, 1e-9]);
        // Every magnitude, with ties and zeros.
        let mut state = 0x9E37_79B9_7F4A_7C15u64;
        let mut values = Vec::new();
        for _ in 0..100_000 {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            let mantissa = (state >> 11) as f64 / (1u64 << 53) as f64;
            let exp = (state % 40) as i32 - 12;
            values.push(if state.is_multiple_of(17) { 0.0 } else { mantissa * 10f64.powi(exp) });
        }
        assert_same(&values);
        for chunk in values[..7_000].chunks(7) {
            assert_same(chunk);
        }
    }

    #[test]
    fn sparse_matches_dense() {
        let mut state = 0x2545_F491_4F6C_DD1Du64;
        let mut all = SparseLatency::default();
        let mut dense_all = LatencyHistogram::new();
        for n in [0usize, 1, 2, 3, 10, 100, 5000] {
            let mut sparse = SparseLatency::default();
            let mut dense = LatencyHistogram::new();
            for _ in 0..n {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                let mantissa = (state >> 11) as f64 / (1u64 << 53) as f64;
                let exp = (state % 12) as i32 - 6;
                let v = if state.is_multiple_of(13) { 0.0 } else { mantissa * 10f64.powi(exp) };
                sparse.record(v);
                dense.record(v);
            }
            assert_eq!(sparse.count(), dense.count());
            for q in [0.0, 0.1, 0.5, 0.9, 0.99, 0.999, 1.0] {
                assert_eq!(sparse.quantile(q), dense.quantile(q), "n {n} q {q}");
                assert_eq!(sparse.to_histogram().quantile(q), dense.quantile(q), "n {n} q {q}");
            }
            all.merge(&sparse);
            dense_all.merge(&dense);
        }
        for q in [0.5, 0.99, 1.0] {
            assert_eq!(all.quantile(q), dense_all.quantile(q));
        }
    }

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
