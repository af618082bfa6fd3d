//! Percentile curves of a simulation: the raw material of latency charts, kept beside the
//! report because the JSON contract has no room for them.

/// Quantiles at which percentile curves are drawn.
pub const CURVE_QUANTILES: [f64; 13] =
    [0.5, 0.6, 0.7, 0.8, 0.9, 0.95, 0.97, 0.98, 0.99, 0.995, 0.998, 0.999, 0.9999];

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
