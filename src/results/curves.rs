//! Percentile curves of a simulation: the raw material of latency charts, kept beside the
//! report because the JSON contract has no room for them.

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
