//! Latency histograms: HdrHistogram's buckets over nanoseconds with 3 significant digits, so
//! every reported percentile is within 0.1% of the exact sample quantile, in O(1) memory
//! whatever the number of messages.
//!
//! Memory follows need. A [`LatencyRecorder`] keeps the bucket index of each value (4 bytes)
//! while that is smaller than counters would be, then counters covering 1 ns up to the largest
//! value (1024 per power of two above 2 µs: about 180 KB for values up to 2 s). A finished
//! [`LatencyHistogram`] holds its non-zero buckets, sparse (8 bytes each) while that is
//! under half the dense counters' size, dense otherwise; pooling adds counts, and a
//! [`HistogramPool`] pools many replications' sparse histograms in one pass. A queue that
//! saw 80 messages in a replication therefore costs under a kilobyte, not two dense arrays.
//! Every figure (counts, quantiles, CCDF, the `hgrm` distribution) is the one `hdrhistogram`
//! gives for the same values recorded one by one (the tests compare them with `==`);
//! `hdrhistogram` itself is built only for [`LatencyHistogram::distribution`].

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

/// A non-negative duration in seconds in ns, as `(secs * 1e9) as u64` saturated at HIGH
/// (`hdrhistogram`'s saturation at the top of the range).
#[inline]
fn to_ns(secs: f64) -> u64 {
    let x = secs * NS_PER_S;
    // Below 2^62 the cheaper signed conversion truncates identically.
    if x < HIGH_F64 { x as i64 as u64 } else { HIGH }
}

/// Dense counters reaching index `i`: to the end of its bucket, at least the first two.
fn dense_len(i: usize) -> usize {
    ((i / SUB_BUCKET_HALF_COUNT + 1) * SUB_BUCKET_HALF_COUNT).max(2 * SUB_BUCKET_HALF_COUNT)
}

/// Bucket counts: (index, count) in ascending index while few buckets are used, else one
/// counter per index up to the largest used. A sparse count takes 4 bytes, which halves the
/// memory (and the memory traffic of pooling) of a large model's many small histograms: a
/// histogram of more than `u32::MAX` values, whose one bucket might need more, is dense.
#[derive(Debug, Clone)]
enum Counts {
    Sparse(Vec<(u32, u32)>),
    Dense(Vec<u64>),
}

/// Most values a sparse histogram holds (so that no count of it overflows).
const SPARSE_MAX_TOTAL: u64 = u32::MAX as u64;

/// Bytes of one sparse entry and of one dense counter.
const SPARSE_ENTRY_BYTES: usize = std::mem::size_of::<(u32, u32)>();
const COUNTER_BYTES: usize = std::mem::size_of::<u64>();

impl Counts {
    /// Sparse `entries` (ascending, non-zero), or dense once they take more than half the
    /// counters' bytes: adding into counters costs what is added, into entries the whole
    /// pool, and a pool of that many entries is near its counters' size anyway.
    fn from_sparse(entries: Vec<(u32, u32)>) -> Counts {
        match entries.last() {
            Some(&(top, _))
                if 2 * entries.len() * SPARSE_ENTRY_BYTES
                    > dense_len(top as usize) * COUNTER_BYTES =>
            {
                let mut dense = vec![0; dense_len(top as usize)];
                for (i, c) in entries {
                    dense[i as usize] += u64::from(c);
                }
                Counts::Dense(dense)
            }
            _ => Counts::Sparse(entries),
        }
    }

    /// The dense counters, converted and grown to reach index `i`.
    fn dense_to(&mut self, i: usize) -> &mut Vec<u64> {
        if let Counts::Sparse(entries) = self {
            let top = entries.last().map_or(0, |e| e.0 as usize).max(i);
            let mut dense = vec![0; dense_len(top)];
            for &(j, c) in entries.iter() {
                dense[j as usize] += u64::from(c);
            }
            *self = Counts::Dense(dense);
        }
        let Counts::Dense(dense) = self else { unreachable!("made dense above") };
        if dense.len() <= i {
            dense.resize(dense_len(i), 0);
        }
        dense
    }

    fn heap_bytes(&self) -> usize {
        match self {
            Counts::Sparse(e) => e.capacity() * SPARSE_ENTRY_BYTES,
            Counts::Dense(d) => d.capacity() * COUNTER_BYTES,
        }
    }
}

/// A histogram of durations in seconds, plus exact count, sum, minimum and maximum.
#[derive(Debug, Clone)]
pub struct LatencyHistogram {
    counts: Counts,
    total: u64,
    sum: f64,
    max: f64,
    /// Smallest non-zero value recorded (ns) minus one: `u64::MAX` while there is none.
    min_nz_minus_one: u64,
}

impl Default for LatencyHistogram {
    fn default() -> Self {
        Self::new()
    }
}

impl LatencyHistogram {
    /// An empty histogram for 1 ns to ~146 years (values above saturate); its memory grows
    /// with what it holds.
    pub fn new() -> Self {
        LatencyHistogram {
            counts: Counts::Sparse(Vec::new()),
            total: 0,
            sum: 0.0,
            max: 0.0,
            min_nz_minus_one: u64::MAX,
        }
    }

    /// Records one duration in seconds (negative values, from clock jitter, count as 0).
    /// Counts densely: for many values, [`LatencyRecorder`] is cheaper while they are few.
    #[inline]
    pub fn record(&mut self, secs: f64) {
        let secs = secs.max(0.0);
        let ns = to_ns(secs);
        let i = index_for(ns);
        self.counts.dense_to(i)[i] += 1;
        self.total += 1;
        // 0 wraps to u64::MAX and never becomes the minimum.
        self.min_nz_minus_one = self.min_nz_minus_one.min(ns.wrapping_sub(1));
        self.sum += secs;
        if secs > self.max {
            self.max = secs;
        }
    }

    /// Number of recorded values.
    pub fn count(&self) -> u64 {
        self.total
    }

    /// Exact mean, or `None` when empty.
    pub fn mean(&self) -> Option<f64> {
        (self.count() > 0).then(|| self.sum / self.count() as f64)
    }

    /// Exact maximum, or `None` when empty.
    pub fn max(&self) -> Option<f64> {
        (self.count() > 0).then_some(self.max)
    }

    /// The `q`-quantile (0 ≤ q ≤ 1) within 0.1% relative error, or `None` when empty:
    /// `hdrhistogram`'s `value_at_quantile` of the same values.
    pub fn quantile(&self, q: f64) -> Option<f64> {
        self.quantiles(&[q])[0]
    }

    /// The quantiles at `qs`, each as [`quantile`](Self::quantile) gives it, in one pass
    /// over the non-zero buckets when `qs` ascend (a falling one starts the pass again).
    pub fn quantiles(&self, qs: &[f64]) -> Vec<Option<f64>> {
        match &self.counts {
            Counts::Sparse(e) => {
                quantiles_of(e.iter().map(|&(i, c)| (i as usize, u64::from(c))), self.total, qs)
            }
            Counts::Dense(d) => quantiles_of(
                d.iter().enumerate().filter(|(_, c)| **c > 0).map(|(i, &c)| (i, c)),
                self.total,
                qs,
            ),
        }
    }

    /// Fraction of values strictly greater than `secs` (the empirical CCDF), counting as
    /// `hdrhistogram`'s `count_between(0, secs)` does: whole buckets up to `secs`'s own.
    pub fn ccdf(&self, secs: f64) -> Option<f64> {
        let n = self.count();
        (n > 0).then(|| {
            let last = index_for((secs.max(0.0) * NS_PER_S) as u64);
            let below: u64 = match &self.counts {
                Counts::Sparse(e) => e
                    .iter()
                    .take_while(|(i, _)| *i as usize <= last)
                    .map(|&(_, c)| u64::from(c))
                    .sum(),
                Counts::Dense(d) => d.iter().take(last.saturating_add(1)).sum(),
            };
            (n - below.min(n)) as f64 / n as f64
        })
    }

    /// Bytes held (for memory estimates).
    pub fn heap_bytes(&self) -> usize {
        self.counts.heap_bytes()
    }

    /// Adds every value of `other` (pooling replications); grows to hold them, sparse
    /// while that is much smaller. Many histograms are pooled faster by a [`HistogramPool`].
    pub fn merge(&mut self, other: &LatencyHistogram) {
        self.merge_totals(other);
        self.merge_counts(&other.counts);
    }

    /// Adds `other`'s count, sum and extremes (in the order histograms are added, which
    /// fixes the sum's rounding).
    fn merge_totals(&mut self, other: &LatencyHistogram) {
        self.total += other.total;
        self.sum += other.sum;
        self.max = self.max.max(other.max);
        self.min_nz_minus_one = self.min_nz_minus_one.min(other.min_nz_minus_one);
    }

    /// Adds bucket counts (after their totals: a sparse sum must stay within a `u32`).
    fn merge_counts(&mut self, other: &Counts) {
        match (&mut self.counts, other) {
            (_, Counts::Sparse(o)) if o.is_empty() => {}
            (Counts::Sparse(s), Counts::Sparse(o)) if self.total <= SPARSE_MAX_TOTAL => {
                let merged = merge_sorted(s, o);
                self.counts = Counts::from_sparse(merged);
            }
            (counts, Counts::Sparse(o)) => {
                let top = o.last().expect("not empty").0 as usize;
                let d = counts.dense_to(top);
                for &(i, c) in o {
                    d[i as usize] += u64::from(c);
                }
            }
            (counts, Counts::Dense(o)) => {
                let d = counts.dense_to(o.len() - 1);
                for (a, b) in d.iter_mut().zip(o) {
                    *a += b;
                }
            }
        }
    }

    /// The `hdrhistogram` that recording each value one by one would have built: same
    /// counts, total, minimum and maximum.
    fn to_hdr(&self) -> Histogram<u64> {
        let nonzero: Vec<(usize, u64)> = match &self.counts {
            Counts::Sparse(e) => e.iter().map(|&(i, c)| (i as usize, u64::from(c))).collect(),
            Counts::Dense(d) => {
                d.iter().enumerate().filter(|(_, c)| **c > 0).map(|(i, &c)| (i, c)).collect()
            }
        };
        hdr_from_counts(&nonzero, self.total, self.max, self.min_nz_minus_one)
    }
}

/// Histograms pooled one after another (a queue's replications), with the figures of
/// [`LatencyHistogram::merge`] applied in the same order, in less time when they are many
/// and sparse. Merging each into a growing sparse pool reads and rewrites the whole pool
/// every time: for a thousand queues' pools, far larger than the caches, that is memory
/// traffic quadratic in the number of replications. Here sparse histograms wait, as they
/// are, until their entries outnumber the pool's (and a floor); then all of them and the
/// pool are added at once, counted into scratch counters spanning their indices and read
/// back (each entry read once, the pool written once), or, when they are few over a wide
/// span, sorted as one list.
#[derive(Debug, Clone, Default)]
pub struct HistogramPool {
    pooled: LatencyHistogram,
    /// Sparse histograms' entries added since the last count, one ascending run each.
    pending: Vec<Vec<(u32, u32)>>,
    pending_entries: usize,
}

thread_local! {
    /// Counters for [`HistogramPool`] to count into, kept at zero between uses.
    static SCRATCH: std::cell::RefCell<Vec<u64>> = const { std::cell::RefCell::new(Vec::new()) };
}

/// Entries that may wait whatever the pool's size (8 bytes each).
const PENDING_FIRST: usize = 16 * 1024;

impl HistogramPool {
    /// Nothing pooled.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds every value of `h`.
    pub fn add(&mut self, h: LatencyHistogram) {
        self.pooled.merge_totals(&h);
        match (&self.pooled.counts, h.counts) {
            (_, Counts::Sparse(entries)) if entries.is_empty() => {}
            (Counts::Sparse(pooled), Counts::Sparse(entries))
                if self.pooled.total <= SPARSE_MAX_TOTAL =>
            {
                self.pending_entries += entries.len();
                self.pending.push(entries);
                if self.pending_entries >= pooled.len().max(PENDING_FIRST) {
                    self.count_in();
                }
            }
            (_, counts) => {
                self.count_in();
                self.pooled.merge_counts(&counts);
            }
        }
    }

    /// Number of values pooled.
    pub fn count(&self) -> u64 {
        self.pooled.count()
    }

    /// The waiting entries added into the pool's counts.
    fn count_in(&mut self) {
        if self.pending.is_empty() {
            return;
        }
        let pending = std::mem::take(&mut self.pending);
        self.pending_entries = 0;
        match &mut self.pooled.counts {
            Counts::Sparse(pooled) if self.pooled.total <= SPARSE_MAX_TOTAL => {
                let runs = || std::iter::once(&*pooled).chain(&pending).filter(|r| !r.is_empty());
                let lo = runs().map(|r| r[0].0).min().expect("not empty") as usize;
                let hi = runs().map(|r| r[r.len() - 1].0).max().expect("not empty") as usize;
                let most: usize = runs().map(Vec::len).sum();
                // Counting costs the span of indices, sorting n log n of the entries: a few
                // replications of a small queue are sorted, many or large ones counted.
                let mut entries = if most * most.ilog2() as usize <= hi - lo {
                    let mut all: Vec<u64> = Vec::with_capacity(most);
                    for run in runs() {
                        all.extend(run.iter().map(|&(i, c)| (u64::from(i) << 32) | u64::from(c)));
                    }
                    all.sort_unstable();
                    let mut entries: Vec<(u32, u32)> = Vec::with_capacity(most);
                    for x in all {
                        let (i, c) = ((x >> 32) as u32, x as u32);
                        match entries.last_mut() {
                            // At most the pool's total, which fits.
                            Some(e) if e.0 == i => e.1 += c,
                            _ => entries.push((i, c)),
                        }
                    }
                    entries
                } else {
                    SCRATCH.with_borrow_mut(|scratch| {
                        if scratch.len() <= hi - lo {
                            scratch.resize(hi - lo + 1, 0);
                        }
                        let scratch = &mut scratch[..=hi - lo];
                        for run in runs() {
                            for &(i, c) in run {
                                scratch[i as usize - lo] += u64::from(c);
                            }
                        }
                        let mut entries = Vec::with_capacity(most.min(scratch.len()));
                        for (i, c) in (lo as u32..).zip(scratch) {
                            if *c > 0 {
                                // At most the pool's total, which fits.
                                entries.push((i, std::mem::take(c) as u32));
                            }
                        }
                        entries
                    })
                };
                // Sized exactly: a thousand queues' pools are most of a large run's memory.
                entries.shrink_to_fit();
                self.pooled.counts = Counts::from_sparse(entries);
            }
            counts => {
                for run in pending {
                    let top = run.last().expect("not empty").0 as usize;
                    let dense = counts.dense_to(top);
                    for (i, c) in run {
                        dense[i as usize] += u64::from(c);
                    }
                }
            }
        }
    }

    /// The pooled histogram.
    pub fn finish(mut self) -> LatencyHistogram {
        self.count_in();
        self.pooled
    }
}

/// Two ascending (index, count) lists added into one.
fn merge_sorted(a: &[(u32, u32)], b: &[(u32, u32)]) -> Vec<(u32, u32)> {
    let mut out = vec![(0, 0); a.len() + b.len()];
    let (mut i, mut j, mut k) = (0, 0, 0);
    // Without a branch on which side is smaller (the indices interleave at random, so a
    // branch would be mispredicted half the time): both advance on equal indices.
    while i < a.len() && j < b.len() {
        let (x, y) = (a[i], b[j]);
        let (take_a, take_b) = (x.0 <= y.0, y.0 <= x.0);
        out[k] = (x.0.min(y.0), if take_a { x.1 } else { 0 } + if take_b { y.1 } else { 0 });
        i += usize::from(take_a);
        j += usize::from(take_b);
        k += 1;
    }
    for rest in [&a[i..], &b[j..]] {
        out[k..k + rest.len()].copy_from_slice(rest);
        k += rest.len();
    }
    out.truncate(k);
    out
}

/// `hdrhistogram`'s `value_at_quantile` for each of `qs`, from the non-zero buckets
/// (ascending index) of `total` values; `None` for each when `total` is 0. Its rule: the
/// first bucket whose cumulative count reaches ⌈q·n⌉ (at least 1, q capped at 1), reported
/// as that bucket's lowest value for q = 0 and its highest otherwise. The exact extremes
/// `hdrhistogram` keeps play no part: they sit in their own buckets.
fn quantiles_of(
    nonzero: impl Iterator<Item = (usize, u64)> + Clone,
    total: u64,
    qs: &[f64],
) -> Vec<Option<f64>> {
    if total == 0 {
        return vec![None; qs.len()];
    }
    let mut out = Vec::with_capacity(qs.len());
    let mut rest = nonzero.clone();
    let (mut acc, mut at, mut last_target) = (0u64, None, 0u64);
    for &q in qs {
        let q = if q > 1.0 { 1.0 } else { q };
        let target = ((q * total as f64).ceil() as u64).max(1);
        if target < last_target {
            (rest, acc, at) = (nonzero.clone(), 0, None);
        }
        last_target = target;
        while acc < target {
            let Some((i, c)) = rest.next() else {
                // Only when rounding puts the target above the total: `hdrhistogram` says 0.
                at = None;
                break;
            };
            acc += c;
            at = Some(i);
        }
        let ns = match at {
            Some(i) if acc >= target => {
                let low = value_for(i);
                if q == 0.0 {
                    low
                } else {
                    let bucket = LEADING_ZERO_COUNT_BASE - (low | SUB_BUCKET_MASK).leading_zeros();
                    low.saturating_add(1u64 << bucket) - 1
                }
            }
            _ => 0,
        };
        out.push(Some(ns as f64 / NS_PER_S));
    }
    out
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
        distribution_of(&self.to_hdr(), ticks_per_half_distance)
    }
}

/// [`LatencyHistogram::distribution`] of an `hdrhistogram`.
fn distribution_of(h: &Histogram<u64>, ticks_per_half_distance: u32) -> Distribution {
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

/// Indices a recorder's log first makes room for (then it doubles): few reallocations for a
/// queue that sees tens of messages, 256 bytes once one comes.
const LOG_FIRST: usize = 64;

/// The recording half of a [`LatencyHistogram`], for the simulation's hot loop.
///
/// `hdrhistogram`'s `saturating_record` spends ~65 instructions per value (index through
/// `Option`s, a resize check, min/max and total bookkeeping). This counts into the same
/// buckets directly (~10 instructions), and [`finish`](Self::finish) hands over a histogram
/// whose every figure is the one `hdrhistogram` gives for the values recorded one by one
/// (the tests compare them with `==`). The seconds' sum and maximum accumulate in the same
/// order with the same operations as [`LatencyHistogram::record`], so every figure derived
/// from either is bit-identical.
///
/// While few values have come it keeps their bucket indices (4 bytes each), and switches to
/// counters covering the values so far (grown by whole buckets when a larger value comes)
/// once the indices would take more room than the counters: a queue that sees a hundred
/// messages in a replication costs under a kilobyte, one that sees millions about 170 KB
/// for latencies under a second. The hot loop pays for the switch only on its cold path.
#[derive(Debug, Clone)]
pub struct LatencyRecorder {
    /// Dense counters; empty while the values are kept in `log`.
    counts: Vec<u64>,
    /// Bucket indices of the values, in recording order, until the counters take over.
    log: Vec<u32>,
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
        LatencyRecorder {
            counts: Vec::new(),
            log: Vec::new(),
            sum: 0.0,
            max: 0.0,
            min_nz_minus_one: u64::MAX,
        }
    }

    /// Records one duration in seconds, as [`LatencyHistogram::record`] does.
    #[inline]
    pub fn record(&mut self, secs: f64) {
        let secs = secs.max(0.0);
        // Values above HIGH are clamped to HIGH, whose index is the full layout's last.
        let ns = to_ns(secs);
        let i = index_for(ns);
        if let Some(c) = self.counts.get_mut(i) {
            *c += 1;
        } else if self.counts.is_empty() && self.log.len() < self.log.capacity() {
            // A sparse recorder with room in its log (most of a large model's queues): no
            // call, no decision to make.
            self.log.push(i as u32);
        } else {
            self.record_cold(i);
        }
        // 0 wraps to u64::MAX and never becomes the minimum.
        self.min_nz_minus_one = self.min_nz_minus_one.min(ns.wrapping_sub(1));
        self.sum += secs;
        if secs > self.max {
            self.max = secs;
        }
    }

    /// Counts one value at index `i` when the counters do not reach it: in the log while
    /// that is smaller than counters would be, else in counters grown to the end of `i`'s
    /// bucket.
    #[cold]
    #[inline(never)]
    fn record_cold(&mut self, i: usize) {
        if self.counts.is_empty() {
            // Decided when the log would double: its next size against the counters' size.
            if self.log.len() < self.log.capacity() {
                self.log.push(i as u32);
                return;
            }
            if !self.log_outgrows_counters(i) {
                self.log.reserve_exact(self.log.len().max(LOG_FIRST));
                self.log.push(i as u32);
                return;
            }
            let log = std::mem::take(&mut self.log);
            let top = log.iter().map(|&j| j as usize).fold(i, usize::max);
            self.counts = vec![0; dense_len(top)];
            for j in log {
                self.counts[j as usize] += 1;
            }
        } else if self.counts.len() <= i {
            self.counts.resize(dense_len(i), 0);
        }
        self.counts[i] += 1;
    }

    /// Whether the log, doubled, would take more bytes than counters up to its largest
    /// index and `i`.
    fn log_outgrows_counters(&self, i: usize) -> bool {
        let doubled = (self.log.len() * 2).max(LOG_FIRST) * std::mem::size_of::<u32>();
        doubled
            > dense_len(self.log.iter().map(|&j| j as usize).fold(i, usize::max)) * COUNTER_BYTES
    }

    /// Bytes held by the counters or the log.
    pub fn heap_bytes(&self) -> usize {
        self.counts.capacity() * COUNTER_BYTES + self.log.capacity() * std::mem::size_of::<u32>()
    }

    /// The histogram these values make.
    pub fn finish(self) -> LatencyHistogram {
        let LatencyRecorder { counts, mut log, sum, max, min_nz_minus_one } = self;
        // Counted here rather than per value: the hot loop stays as short as it can be.
        let total = log.len() as u64 + counts.iter().sum::<u64>();
        let counts = if counts.is_empty()
            && log.len() >= COUNT_FROM
            && let top = log.iter().copied().max().unwrap_or(0) as usize
            && counting_beats_sorting(log.len(), top)
        {
            // A long log over a narrow range: counted per index rather than sorted (the same
            // entries, in the same ascending order).
            let mut per_index = vec![0u32; top + 1];
            for &i in &log {
                per_index[i as usize] += 1;
            }
            let mut entries = Vec::with_capacity(per_index.iter().filter(|&&n| n > 0).count());
            entries.extend((0u32..).zip(per_index).filter(|&(_, n)| n > 0));
            Counts::Sparse(entries)
        } else if counts.is_empty() {
            log.sort_unstable();
            // Sized exactly: a replication's figures wait in memory until folded in order.
            let distinct =
                log.windows(2).filter(|w| w[0] != w[1]).count() + usize::from(!log.is_empty());
            let mut entries: Vec<(u32, u32)> = Vec::with_capacity(distinct);
            for i in log {
                match entries.last_mut() {
                    Some(e) if e.0 == i => e.1 += 1,
                    _ => entries.push((i, 1)),
                }
            }
            Counts::Sparse(entries)
        } else {
            Counts::Dense(counts)
        };
        LatencyHistogram { counts, total, sum, max, min_nz_minus_one }
    }
}

/// Whether a log is better turned into bucket counts by counting per index (linear in the
/// log and in its largest index) than by sorting (n log n). The log never holds more than
/// about twice as many entries as dense counters would (it switches to them), so a count
/// per index fits a `u32`.
fn counting_beats_sorting(n: usize, top: usize) -> bool {
    n >= COUNT_FROM && n * n.ilog2() as usize >= top
}

/// Shortest log that may be counted rather than sorted (a shorter one is not even scanned
/// for its largest index).
const COUNT_FROM: usize = 1024;

/// Builds the `hdrhistogram` that recording each value one by one would have built, from
/// the non-zero bucket counts (ascending index) of `total` values, the seconds' maximum,
/// and the smallest non-zero value in ns minus one (`u64::MAX` when none).
fn hdr_from_counts(
    counts: &[(usize, u64)],
    total: u64,
    max: f64,
    min_nz_minus_one: u64,
) -> Histogram<u64> {
    // Sized as recording the values one by one into `hist_to(2)` grows it: to cover the
    // largest.
    let top = if total > 0 { to_ns(max) } else { 0 };
    let mut hist = hist_to(top);
    // hdrhistogram also keeps the exact extremes: record those values themselves (their
    // buckets' other values at the bucket's lowest value, the same bucket).
    debug_assert_eq!(HIGH_F64 as u64, HIGH + 1);
    let mut exact = Vec::with_capacity(2);
    if total > 0 {
        // `as u64` is monotone, so the largest value in ns is that of the largest in s.
        exact.push(top);
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
    for &(i, c) in counts {
        let c = c - less.iter().find(|l| l.0 == i).map_or(0, |l| l.1);
        if c > 0 {
            hist.record_n(value_for(i), c).expect("in range");
        }
    }
    for &v in &exact {
        hist.record(v).expect("in range");
    }
    hist
}

/// A latency histogram for many small populations recorded in any order (the timeline's
/// windows): the buckets of [`LatencyHistogram`] in a map, so an empty one costs nothing and
/// one with n values at most n entries, and it can be read while recording goes on. Its
/// quantiles are those of [`LatencyHistogram`] of the same values (tests compare them with
/// `==`).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SparseLatency {
    /// (bucket index, count).
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

    /// The histogram of the same values.
    pub fn to_histogram(&self) -> LatencyHistogram {
        LatencyHistogram {
            counts: if self.count() <= SPARSE_MAX_TOTAL {
                Counts::from_sparse(self.counts.iter().map(|(&i, &c)| (i, c as u32)).collect())
            } else {
                let top = self.counts.keys().next_back().map_or(0, |&i| i as usize);
                let mut dense = vec![0; dense_len(top)];
                for (&i, &c) in &self.counts {
                    dense[i as usize] = c;
                }
                Counts::Dense(dense)
            },
            total: self.count(),
            sum: self.sum,
            max: self.max,
            min_nz_minus_one: self.min_nz_minus_one.unwrap_or(u64::MAX),
        }
    }

    /// The `q`-quantile (0 ≤ q ≤ 1), as [`LatencyHistogram::quantile`] of the same values
    /// gives it; `None` when empty.
    pub fn quantile(&self, q: f64) -> Option<f64> {
        quantiles_of(self.counts.iter().map(|(&i, &c)| (i as usize, c)), self.count(), &[q])[0]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What the histograms stood for before they were kept compact: `hdrhistogram` fed
    /// each value one by one, with the seconds' sum and maximum beside it.
    struct Reference {
        hist: Histogram<u64>,
        sum: f64,
        max: f64,
    }

    impl Reference {
        fn of(values: &[f64]) -> Reference {
            let mut r = Reference { hist: hist_to(2), sum: 0.0, max: 0.0 };
            for &v in values {
                let secs = v.max(0.0);
                r.hist.record(((secs * NS_PER_S) as u64).min(HIGH)).expect("grows to fit");
                r.sum += secs;
                if secs > r.max {
                    r.max = secs;
                }
            }
            r
        }

        fn merge(&mut self, other: &Reference) {
            self.hist.add(&other.hist).expect("grows to fit");
            self.sum += other.sum;
            self.max = self.max.max(other.max);
        }
    }

    /// Quantiles every test asks for: the edges, the curve's and beyond 1.
    const QS: [f64; 12] =
        [0.0, 1e-9, 0.1, 0.5, 0.9, 0.99, 0.999, 0.9999, 1.0 - 1e-12, 1.0, 1.5, -0.5];

    /// `h` holds what `r` holds: the same `hdrhistogram` (counts, total, min, max), sums
    /// and maxima to the bit, and every quantile (one by one, in one pass, and as
    /// `value_at_quantiles` gives them), CCDF and distribution the same.
    fn assert_matches(h: &LatencyHistogram, r: &Reference, what: &str) {
        let hdr = h.to_hdr();
        assert!(hdr == r.hist, "histograms differ: {what}");
        assert_eq!(hdr.len(), r.hist.len(), "{what}");
        assert_eq!(hdr.max(), r.hist.max(), "{what}");
        assert_eq!(hdr.min_nz(), r.hist.min_nz(), "{what}");
        assert_eq!(h.count(), r.hist.len(), "{what}");
        assert_eq!(h.sum.to_bits(), r.sum.to_bits(), "{what}");
        assert_eq!(h.max.to_bits(), r.max.to_bits(), "{what}");
        let empty = r.hist.is_empty();
        let one: Vec<Option<f64>> = QS.iter().map(|&q| h.quantile(q)).collect();
        let expected: Vec<Option<f64>> = QS
            .iter()
            .map(|&q| (!empty).then(|| r.hist.value_at_quantile(q) as f64 / NS_PER_S))
            .collect();
        assert_eq!(one, expected, "{what}");
        // Unsorted: the pass starts again where a quantile falls.
        assert_eq!(h.quantiles(&QS), expected, "{what}");
        let mut sorted = QS.to_vec();
        sorted.sort_by(f64::total_cmp);
        let many: Vec<Option<f64>> = r
            .hist
            .value_at_quantiles(sorted.iter().copied())
            .map(|v| (!empty).then(|| v as f64 / NS_PER_S))
            .collect();
        assert_eq!(h.quantiles(&sorted), many, "{what}");
        for secs in [0.0, 1e-9, 1e-6, 0.001, 0.25, 1.0, 3.0, 1e12, f64::INFINITY] {
            let n = r.hist.len();
            let old = (n > 0).then(|| {
                let below = r.hist.count_between(0, (secs * NS_PER_S) as u64);
                (n - below.min(n)) as f64 / n as f64
            });
            assert_eq!(h.ccdf(secs), old, "{what}: ccdf {secs}");
        }
        assert_eq!(h.distribution(5), distribution_of(&r.hist, 5), "{what}");
    }

    /// Same values through every path (the recorder, direct recording, sparse recording)
    /// and their merges: identical to `hdrhistogram` fed the values one by one.
    fn assert_same(values: &[f64]) {
        let r = Reference::of(values);
        let mut direct = LatencyHistogram::new();
        let mut rec = LatencyRecorder::new();
        let mut sparse = SparseLatency::default();
        for &v in values {
            direct.record(v);
            rec.record(v);
            sparse.record(v);
        }
        let what = format!("{} values from {:?}", values.len(), &values[..values.len().min(4)]);
        assert_matches(&rec.finish(), &r, &format!("recorder, {what}"));
        assert_matches(&direct, &r, &format!("direct, {what}"));
        assert_matches(&sparse.to_histogram(), &r, &format!("sparse, {what}"));
        for q in QS {
            assert_eq!(sparse.quantile(q), direct.quantile(q), "{what}: q {q}");
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
        // Long logs over a narrow range (under 2 s), which a recorder counts per index
        // rather than sorts; and one just too short for that.
        let narrow: Vec<f64> = values.iter().copied().filter(|v| *v < 2.0).take(5000).collect();
        let top = narrow.iter().map(|&v| index_for(to_ns(v.max(0.0)))).max().unwrap();
        assert!(counting_beats_sorting(narrow.len(), top) && !counting_beats_sorting(1023, 0));
        assert_same(&narrow);
        assert_same(&narrow[..1023]);
        assert_same(&narrow[..1024]);
    }

    #[test]
    fn single_values_at_the_edges() {
        assert_same(&[1e30]); // HIGH, saturated
        assert_same(&[HIGH as f64 / NS_PER_S]);
        assert_same(&[1e-9]);
        assert_same(&[0.0]);
        assert_same(&[-0.0]);
        let empty = LatencyRecorder::new().finish();
        assert_eq!(empty.quantiles(&QS), vec![None; QS.len()]);
        assert_eq!(
            (empty.count(), empty.mean(), empty.max(), empty.ccdf(1.0)),
            (0, None, None, None)
        );
    }

    /// Deterministic values between `lo` and `hi` seconds, log-uniform, with some zeros.
    fn values(n: usize, lo: f64, hi: f64, seed: u64) -> Vec<f64> {
        let mut state = seed | 1;
        (0..n)
            .map(|_| {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                let u = (state >> 11) as f64 / (1u64 << 53) as f64;
                if state.is_multiple_of(29) { 0.0 } else { lo * (hi / lo).powf(u) }
            })
            .collect()
    }

    #[test]
    fn recorder_keeps_indices_while_few_then_counters() {
        // Values up to 0.2 s: counters to index 19 455 (152 KiB); the log doubles to 16 384
        // indices (64 KiB), then 32 768 (128 KiB), and would next take 256 KiB: it switches
        // at its 32 769th value.
        let all = values(40_000, 1e-4, 0.2, 7);
        let mut rec = LatencyRecorder::new();
        for (n, &v) in all.iter().enumerate() {
            assert_eq!(rec.counts.is_empty(), n <= 32_768, "after {n} values");
            rec.record(v);
        }
        for n in [1, 4, 5, 80, 1000, 32_768, 32_769, 32_770, 40_000] {
            assert_same(&all[..n]);
        }
        // A queue that saw 80 messages costs well under a kilobyte, recording and finished.
        let mut small = LatencyRecorder::new();
        for &v in &all[..80] {
            small.record(v);
        }
        assert!(small.heap_bytes() <= 128 * 4, "{}", small.heap_bytes());
        assert!(small.finish().heap_bytes() <= 80 * 16, "finished");
        // Values far apart switch early: a log of doubled size would outgrow few counters.
        let mut tiny = LatencyRecorder::new();
        for i in 0..10_000 {
            tiny.record(f64::from(i % 7) * 1e-7);
        }
        assert!(!tiny.counts.is_empty());
        assert_eq!(tiny.counts.len(), 2048);
    }

    #[test]
    fn merges_of_every_kind_match_hdrhistogram() {
        // Recorded sparse (few values), dense (many), directly (dense), and empty.
        let sets = [
            values(50, 1e-3, 2.0, 1),
            values(60_000, 1e-6, 0.5, 2),
            Vec::new(),
            values(3, 5.0, 50.0, 3),
            values(2_000, 1e-9, 1e-3, 4),
            vec![0.0, 1e30],
            values(70_000, 1e-3, 1e4, 5),
            values(1, 0.1, 0.2, 6),
        ];
        let parts: Vec<(LatencyHistogram, Reference)> = sets
            .iter()
            .enumerate()
            .map(|(k, vs)| {
                let h = if k % 3 == 2 {
                    let mut h = LatencyHistogram::new();
                    vs.iter().for_each(|&v| h.record(v));
                    h
                } else {
                    let mut r = LatencyRecorder::new();
                    vs.iter().for_each(|&v| r.record(v));
                    r.finish()
                };
                (h, Reference::of(vs))
            })
            .collect();
        // Every order of adding from every starting part, as the pool grows from sparse to dense.
        for start in 0..parts.len() {
            let mut pool = LatencyHistogram::new();
            let mut reference = Reference::of(&[]);
            for k in (start..parts.len()).chain(0..start) {
                pool.merge(&parts[k].0);
                reference.merge(&parts[k].1);
                assert_matches(&pool, &reference, &format!("pool from {start} after {k}"));
            }
        }
        // Sparse pools that stay sparse, then turn dense once that is smaller.
        let mut pool = LatencyHistogram::new();
        let mut reference = Reference::of(&[]);
        for seed in 10..110 {
            let vs = values(400, 1e-6, 1.0, seed);
            let mut r = LatencyRecorder::new();
            vs.iter().for_each(|&v| r.record(v));
            pool.merge(&r.finish());
            reference.merge(&Reference::of(&vs));
            assert_matches(&pool, &reference, &format!("sparse pool, seed {seed}"));
        }
        assert!(matches!(pool.counts, Counts::Dense(_)), "40 000 values over 22 528 counters");
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

    /// Every figure of two histograms, to the bit (the representation may differ).
    fn assert_identical(a: &LatencyHistogram, b: &LatencyHistogram, what: &str) {
        assert_eq!(a.count(), b.count(), "{what}");
        assert_eq!(a.sum.to_bits(), b.sum.to_bits(), "{what}");
        assert_eq!(a.max.to_bits(), b.max.to_bits(), "{what}");
        assert_eq!(a.min_nz_minus_one, b.min_nz_minus_one, "{what}");
        let nonzero = |h: &LatencyHistogram| -> Vec<(usize, u64)> {
            match &h.counts {
                Counts::Sparse(e) => e.iter().map(|&(i, c)| (i as usize, u64::from(c))).collect(),
                Counts::Dense(d) => {
                    d.iter().enumerate().filter(|e| *e.1 > 0).map(|(i, &c)| (i, c)).collect()
                }
            }
        };
        assert_eq!(nonzero(a), nonzero(b), "{what}");
    }

    #[test]
    fn a_pool_matches_merging_one_by_one() {
        // A few small replications (sorted in), many (counted in), a few large ones (counted
        // in past the floor of waiting entries), a dense one and an empty one in the middle.
        let small: Vec<Vec<f64>> = (0..40).map(|k| values(80, 1e-4, 5.0, 101 + 2 * k)).collect();
        let large: Vec<Vec<f64>> = (0..6).map(|k| values(9_000, 1e-3, 2.0, 201 + 2 * k)).collect();
        let dense = [values(70_000, 1e-3, 1e4, 5), Vec::new()];
        let mixed: Vec<Vec<f64>> = small[..5]
            .iter()
            .chain(&large[..2])
            .chain(&dense)
            .chain(&small[5..])
            .chain(&large[2..])
            .cloned()
            .collect();
        let few = small[..10].to_vec();
        for (name, sets) in [("few", few), ("small", small), ("large", large), ("mixed", mixed)] {
            let mut merged = LatencyHistogram::new();
            let mut pool = HistogramPool::new();
            let mut reference = Reference::of(&[]);
            for (k, vs) in sets.iter().enumerate() {
                let mut r = LatencyRecorder::new();
                vs.iter().for_each(|&v| r.record(v));
                let h = r.finish();
                merged.merge(&h);
                pool.add(h);
                reference.merge(&Reference::of(vs));
                assert_eq!(pool.count(), merged.count(), "{name} after {k}");
            }
            let pooled = pool.finish();
            assert_identical(&pooled, &merged, name);
            assert_matches(&pooled, &reference, name);
        }
    }

    #[test]
    fn counts_past_u32_go_dense() {
        // A sparse histogram of u32::MAX values in one bucket, as a long run might pool.
        let big = |i: u32| LatencyHistogram {
            counts: Counts::Sparse(vec![(i, u32::MAX)]),
            total: u64::from(u32::MAX),
            sum: 1.0,
            max: 1e-6,
            min_nz_minus_one: 999,
        };
        let one = |i: u32| LatencyHistogram {
            counts: Counts::Sparse(vec![(i, 1)]),
            total: 1,
            sum: 1e-6,
            max: 1e-6,
            min_nz_minus_one: 999,
        };
        let mut merged = big(1000);
        merged.merge(&one(1000));
        let mut pool = HistogramPool::new();
        pool.add(big(1000));
        pool.add(one(1000));
        pool.add(one(1001));
        let pooled = pool.finish();
        for (h, n) in [(&merged, 1u64 << 32), (&pooled, 1 << 32)] {
            let Counts::Dense(d) = &h.counts else { panic!("a count past u32 is dense") };
            assert_eq!(d[1000], n);
            assert_eq!(h.count(), d.iter().sum::<u64>());
        }
        assert_eq!(pooled.quantile(1.0), Some(value_for(1001) as f64 / NS_PER_S));
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
