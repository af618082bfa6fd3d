//! The one latency type of every back end: mean (with its interval where replications give
//! one), percentiles and max, in seconds. A run reports all eight figures; a prediction
//! has no interval and no max, and its JSON leaves them out ([`serialize_prediction`]), as
//! the output contract fixes the two shapes.

use super::curves::CURVE_QUANTILES;
use crate::stats::{LatencyHistogram, MeanCi};
use serde::{Deserialize, Serialize, Serializer};

/// Latency figures of one queue or producer, seconds; `None` (JSON `null`) where there is
/// no figure (no messages measured, or no model gives it).
///
/// In a run, percentiles are over all post-warm-up messages of all replications pooled.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Latency {
    /// Mean; in a run, the mean over replications of each replication's mean.
    pub mean: Option<f64>,
    /// 95% half-width of `mean` (runs only).
    pub ci95: Option<f64>,
    /// Median.
    pub p50: Option<f64>,
    /// 90th percentile.
    pub p90: Option<f64>,
    /// 95th percentile.
    pub p95: Option<f64>,
    /// 99th percentile.
    pub p99: Option<f64>,
    /// 99.9th percentile.
    pub p999: Option<f64>,
    /// Largest value seen (runs only).
    pub max: Option<f64>,
    /// A prediction's quantile function on the chart grid [`CURVE_QUANTILES`]: (q, value)
    /// where the model gives one, so a chart draws theory as densely as the simulation.
    /// Not part of either JSON contract (empty in a run and after deserialising).
    #[serde(skip)]
    pub curve: Vec<(f64, f64)>,
}

impl Latency {
    /// Percentiles and max from a pooled histogram; the mean and its interval from
    /// `replicated` (the per-replication means), or the histogram's own mean without one.
    pub fn from_histogram(pooled: &LatencyHistogram, replicated: Option<MeanCi>) -> Self {
        let (mean, ci95) = match replicated {
            Some(s) => (Some(s.mean), s.ci95),
            None => (pooled.mean(), None),
        };
        // One pass over the buckets for the five.
        let p = pooled.quantiles(&[0.5, 0.9, 0.95, 0.99, 0.999]);
        Latency {
            mean,
            ci95,
            p50: p[0],
            p90: p[1],
            p95: p[2],
            p99: p[3],
            p999: p[4],
            max: pooled.max(),
            curve: Vec::new(),
        }
    }

    /// A prediction: `mean` and the percentiles from a quantile function (`None` where it
    /// has none); no interval, no max.
    pub fn from_quantile_fn(mean: Option<f64>, q: impl Fn(f64) -> Option<f64>) -> Self {
        Latency {
            mean,
            ci95: None,
            p50: q(0.5),
            p90: q(0.9),
            p95: q(0.95),
            p99: q(0.99),
            p999: q(0.999),
            max: None,
            curve: CURVE_QUANTILES.iter().filter_map(|&p| q(p).map(|v| (p, v))).collect(),
        }
    }

    /// A prediction of zero latency (zero service time, nothing ever waits).
    pub fn zero() -> Self {
        Self::from_quantile_fn(Some(0.0), |_| Some(0.0))
    }

    /// The figure named as in the JSON: `mean`, `p50`, `p90`, `p95`, `p99`, `p999`, `max`
    /// (`ci95` too); `None` for another name.
    pub fn stat(&self, name: &str) -> Option<f64> {
        match name {
            "mean" => self.mean,
            "ci95" => self.ci95,
            "p50" => self.p50,
            "p90" => self.p90,
            "p95" => self.p95,
            "p99" => self.p99,
            "p999" => self.p999,
            "max" => self.max,
            _ => None,
        }
    }

    /// The percentile at quantile `q` (0.5, 0.9, 0.95, 0.99 or 0.999); `None` for another q.
    pub fn percentile(&self, q: f64) -> Option<f64> {
        self.percentiles().into_iter().find(|&(x, _)| x == q).and_then(|(_, v)| v)
    }

    /// (quantile, value) of every percentile, in increasing order.
    pub fn percentiles(&self) -> [(f64, Option<f64>); 5] {
        [(0.5, self.p50), (0.9, self.p90), (0.95, self.p95), (0.99, self.p99), (0.999, self.p999)]
    }
}

/// Serialises a predicted [`Latency`] in the analytic contract's shape: `mean` and the
/// percentiles, without the run-only `ci95` and `max` (use with `serialize_with`).
pub fn serialize_prediction<S: Serializer>(l: &Latency, s: S) -> Result<S::Ok, S::Error> {
    #[derive(Serialize)]
    struct Prediction {
        mean: Option<f64>,
        p50: Option<f64>,
        p90: Option<f64>,
        p95: Option<f64>,
        p99: Option<f64>,
        p999: Option<f64>,
    }
    Prediction { mean: l.mean, p50: l.p50, p90: l.p90, p95: l.p95, p99: l.p99, p999: l.p999 }
        .serialize(s)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_accessor_reads_the_same_field() {
        let l = Latency::from_quantile_fn(Some(1.0), |q| Some(q * 10.0));
        for (q, v) in l.percentiles() {
            assert_eq!(l.percentile(q), v);
        }
        assert_eq!(l.stat("mean"), Some(1.0));
        assert_eq!(l.stat("p99"), l.p99);
        assert_eq!(l.stat("p999"), l.percentile(0.999));
        assert_eq!((l.ci95, l.max, l.stat("ci95"), l.stat("nope")), (None, None, None, None));
        assert_eq!(l.percentile(0.42), None);
    }

    /// The two JSON shapes of the output contract from the one type.
    #[test]
    fn run_and_prediction_shapes() {
        let l = Latency::zero();
        let run = serde_json::to_value(&l).unwrap();
        assert_eq!(run.as_object().unwrap().len(), 8);
        let mut buf = Vec::new();
        serialize_prediction(&l, &mut serde_json::Serializer::new(&mut buf)).unwrap();
        assert_eq!(
            String::from_utf8(buf).unwrap(),
            r#"{"mean":0.0,"p50":0.0,"p90":0.0,"p95":0.0,"p99":0.0,"p999":0.0}"#
        );
    }
}
