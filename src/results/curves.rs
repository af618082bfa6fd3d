//! Percentile curves of a simulation or a load test: the raw material of latency charts,
//! kept beside the report because the JSON contract has no room for them.

use super::RunReport;
use crate::stats::{LatencyHistogram, MeanCi, summarize};

/// Quantiles at which percentile curves are drawn: dense enough on the nines axis that a
/// straight segment between two points stays close to the curve, out to 99.99%.
pub const CURVE_QUANTILES: [f64; 22] = [
    0.5, 0.6, 0.7, 0.75, 0.8, 0.85, 0.9, 0.925, 0.95, 0.96, 0.97, 0.98, 0.99, 0.993, 0.995, 0.997,
    0.998, 0.999, 0.9993, 0.9995, 0.9997, 0.9999,
];

/// A percentile curve: pooled quantiles and, per quantile, the 95% interval of the
/// per-replication quantiles (absent with one replication).
#[derive(Debug, Clone, Default)]
pub struct PercentileCurve {
    /// (q, pooled quantile) for each q of [`CURVE_QUANTILES`] with data.
    pub pooled: Vec<(f64, f64)>,
    /// (q, mean, half-width): the mean of the replications' q-quantiles and the half-width
    /// of its 95% Student-t interval.
    pub replicated: Vec<(f64, f64, f64)>,
}

/// Percentile curves of one queue.
#[derive(Debug, Clone, Default)]
pub struct QueueCurves {
    /// Wait (to start of service).
    pub wait: PercentileCurve,
    /// Sojourn (to end of service).
    pub sojourn: PercentileCurve,
}

impl PercentileCurve {
    /// The curve of `pooled` on the [`CURVE_QUANTILES`] grid, with at each quantile the
    /// Student-t interval of the `batches`' own quantiles (replications of a simulation,
    /// time batches of a load test; `quantile` reads one batch); no interval from fewer
    /// than two batches with data.
    pub fn from_batches<B>(
        pooled: &LatencyHistogram,
        batches: &[B],
        quantile: impl Fn(&B, f64) -> Option<f64>,
    ) -> Self {
        let mut c = PercentileCurve::default();
        for (q, v) in CURVE_QUANTILES.into_iter().zip(pooled.quantiles(&CURVE_QUANTILES)) {
            if let Some(v) = v {
                c.pooled.push((q, v));
            }
            let per: Vec<f64> = batches.iter().filter_map(|b| quantile(b, q)).collect();
            if let Some(MeanCi { mean, ci95: Some(h) }) = summarize(&per) {
                c.replicated.push((q, mean, h));
            }
        }
        c
    }

    /// The 95% band around the pooled line: at each q, pooled ± the half-width of the
    /// per-replication q-quantiles' Student-t interval. Each replication is one batch, so
    /// that half-width estimates the pooled estimate's own uncertainty (batch means); the
    /// band is centred on what the line shows, so the line is always inside it, whereas the
    /// per-replication quantiles' own interval sits below the pooled tail (a replication
    /// sees a tenth of the messages, so its far tail quantile is biased low).
    pub fn pooled_band(&self) -> Vec<(f64, f64, f64)> {
        self.pooled
            .iter()
            .filter_map(|&(q, v)| {
                let (_, _, h) = *self.replicated.iter().find(|r| (r.0 - q).abs() < 1e-12)?;
                Some((q, (v - h).max(0.0), v + h))
            })
            .collect()
    }
}

/// Time batches a load test's run is cut into for its curves' intervals: the batch-means
/// method on one long run (each batch's quantiles are one observation), as replications
/// are for the simulation.
pub const REAL_BATCHES: usize = 10;

/// A load test's result: its report and, per queue (in the report's order), the pooled wait
/// and sojourn histograms and the percentile curves with their batch-means band.
#[derive(Debug, Clone)]
pub struct RealOutcome {
    /// The contract's report.
    pub report: RunReport,
    /// Pooled wait histograms per queue.
    pub wait: Vec<LatencyHistogram>,
    /// Pooled sojourn histograms per queue.
    pub sojourn: Vec<LatencyHistogram>,
    /// Per queue: wait and sojourn curves, the band from [`REAL_BATCHES`] time batches.
    pub curves: Vec<QueueCurves>,
}
