//! The data behind the charts, for a user's own tools: percentile curves as tidy CSV
//! (`percentiles.csv`), each measured queue's wait and sojourn distributions in
//! HdrHistogram's percentile-distribution text (`*.hgrm`, what its `outputPercentileDistribution`
//! prints and its online plotter reads), and the time series as tidy CSV (`series.csv`).

use super::figures::{mean_band, rates, slug};
use crate::results::{AnalyticReport, Latency, PercentileCurve, QueueCurves};
use crate::sim::{Series, SimOutcome};
use crate::stats::{Distribution, LatencyHistogram};
use std::fmt::Write;

/// One point of a percentile curve.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct CurveRow<'a> {
    /// `sim`, `real` or `theory`.
    pub source: &'a str,
    /// Queue name.
    pub queue: &'a str,
    /// `wait` (to start of service) or `sojourn` (to end of service).
    pub metric: &'static str,
    /// Percentile of messages, in percent (99.9 for p99.9).
    pub percentile: f64,
    /// The latency at that percentile, seconds.
    pub value_s: f64,
    /// Lower end of its 95% band (empty without one: theory, or one replication).
    pub band_lo_s: Option<f64>,
    /// Upper end of its 95% band.
    pub band_hi_s: Option<f64>,
}

/// Percent from a quantile, without the binary noise of `q * 100` (0.9999 → 99.99).
fn percent(q: f64) -> f64 {
    (q * 1e8).round() / 1e6
}

fn push_curve<'a>(
    rows: &mut Vec<CurveRow<'a>>,
    source: &'a str,
    queue: &'a str,
    metric: &'static str,
    c: &PercentileCurve,
) {
    let band = c.pooled_band();
    for &(q, v) in &c.pooled {
        let b = band.iter().find(|b| (b.0 - q).abs() < 1e-12);
        rows.push(CurveRow {
            source,
            queue,
            metric,
            percentile: percent(q),
            value_s: v,
            band_lo_s: b.map(|b| b.1),
            band_hi_s: b.map(|b| b.2),
        });
    }
}

/// The rows of measured curves (`sim` or `real`): queue `names[i]` has `curves[i]`.
pub fn measured_curve_rows<'a>(
    source: &'a str,
    names: &[&'a str],
    curves: &[QueueCurves],
) -> Vec<CurveRow<'a>> {
    let mut rows = Vec::new();
    for (name, c) in names.iter().zip(curves) {
        push_curve(&mut rows, source, name, "wait", &c.wait);
        push_curve(&mut rows, source, name, "sojourn", &c.sojourn);
    }
    rows
}

/// The rows of theory's curves, for every queue whose model gives quantiles (no band).
pub fn theory_curve_rows(theory: &AnalyticReport) -> Vec<CurveRow<'_>> {
    let mut rows = Vec::new();
    for a in &theory.queues {
        let mut push = |metric, l: &Latency| {
            for &(q, v) in &l.curve {
                rows.push(CurveRow {
                    source: "theory",
                    queue: &a.name,
                    metric,
                    percentile: percent(q),
                    value_s: v,
                    band_lo_s: None,
                    band_hi_s: None,
                });
            }
        };
        push("wait", &a.wait_s);
        push("sojourn", &a.sojourn_s);
    }
    rows
}

/// Percentile-distribution steps per halving of the distance to 100%: HdrHistogram's default.
pub const HGRM_TICKS: u32 = 5;

/// Values in an `.hgrm` file are milliseconds, the unit HdrHistogram's plotter labels its
/// axis with.
const HGRM_UNIT_PER_S: f64 = 1e3;

/// A distribution in the text HdrHistogram's `outputPercentileDistribution` prints (values
/// in milliseconds): the header, one line per step (the last, at percentile 1, without the
/// `1/(1-Percentile)` column), and the three `#[...]` summary lines.
pub fn hgrm(d: &Distribution) -> String {
    let p = usize::from(d.significant_digits);
    let ms = |s: f64| s * HGRM_UNIT_PER_S;
    let mut out = format!(
        "{:>12} {:>14} {:>10} {:>14}\n\n",
        "Value", "Percentile", "TotalCount", "1/(1-Percentile)"
    );
    for s in &d.steps {
        if s.quantile < 1.0 {
            let _ = writeln!(
                out,
                "{:>12.p$} {:>2.12} {:>10} {:>14.2}",
                ms(s.value_s),
                s.quantile,
                s.total_count,
                1.0 / (1.0 - s.quantile)
            );
        } else {
            let _ = writeln!(
                out,
                "{:>12.p$} {:>2.12} {:>10}",
                ms(s.value_s),
                s.quantile,
                s.total_count
            );
        }
    }
    let _ = writeln!(
        out,
        "#[Mean    = {:>12.p$}, StdDeviation   = {:>12.p$}]",
        ms(d.mean_s),
        ms(d.stdev_s)
    );
    let _ = writeln!(
        out,
        "#[Max     = {:>12.p$}, Total count    = {:>12}]",
        ms(d.max_s),
        d.total_count
    );
    let _ = writeln!(out, "#[Buckets = {:>12}, SubBuckets     = {:>12}]", d.buckets, d.sub_buckets);
    out
}

/// The `.hgrm` files of one back end (`sim` or `real`): `SOURCE-QUEUE-wait.hgrm` and
/// `SOURCE-QUEUE-sojourn.hgrm` for every queue with measured messages, as (file name, text).
pub fn hgrm_files(
    source: &str,
    names: &[&str],
    wait: &[LatencyHistogram],
    sojourn: &[LatencyHistogram],
) -> Vec<(String, String)> {
    let mut files = Vec::new();
    for ((name, w), s) in names.iter().zip(wait).zip(sojourn) {
        for (metric, h) in [("wait", w), ("sojourn", s)] {
            if h.count() > 0 {
                files.push((
                    format!("{source}-{}-{metric}.hgrm", slug(name)),
                    hgrm(&h.distribution(HGRM_TICKS)),
                ));
            }
        }
    }
    files
}

/// One point of a time series: a window × queue × metric, the mean over replications and
/// its 95% band.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct SeriesRow<'a> {
    /// Window end, scenario seconds.
    pub time_s: f64,
    /// Window length, seconds.
    pub window_s: f64,
    /// Queue name.
    pub queue: &'a str,
    /// `ready`, `unacked`, `busy_consumers` (mean over the window), `throughput`,
    /// `offered_rate`, `dropped_rate`, `expired_rate` (per second over the window).
    pub metric: &'static str,
    /// Mean over replications.
    pub mean: f64,
    /// Lower end of its 95% Student-t band (empty with one replication).
    pub band_lo: Option<f64>,
    /// Upper end.
    pub band_hi: Option<f64>,
    /// Replications averaged.
    pub replications: usize,
}

/// The time series of a simulation (`series.csv`): every queue's state per window, the mean
/// over replications with its 95% band, as the time-series charts draw them. Empty without
/// a series.
pub fn series_rows(sim: &SimOutcome) -> Vec<SeriesRow<'_>> {
    let all = &sim.series_all;
    let Some(s0) = all.first() else { return Vec::new() };
    let mut rows = Vec::new();
    type Pick = fn(&Series, usize) -> Vec<f64>;
    let metrics: [(&'static str, Pick); 7] = [
        ("ready", |s, q| s.ready[q].clone()),
        ("unacked", |s, q| s.unacked[q].clone()),
        ("busy_consumers", |s, q| s.busy[q].clone()),
        ("throughput", |s, q| rates(&s.completed[q], s.step)),
        ("offered_rate", |s, q| rates(&s.offered[q], s.step)),
        ("dropped_rate", |s, q| rates(&s.dropped[q], s.step)),
        ("expired_rate", |s, q| rates(&s.expired[q], s.step)),
    ];
    for (q, qr) in sim.report.queues.iter().enumerate() {
        for (metric, pick) in metrics {
            let per: Vec<Vec<f64>> = all.iter().map(|s| pick(s, q)).collect();
            let (points, band) = mean_band(&s0.times, &per);
            for (x, mean) in points {
                let b = band.iter().find(|b| b.0 == x);
                rows.push(SeriesRow {
                    time_s: x,
                    window_s: s0.step,
                    queue: &qr.name,
                    metric,
                    mean,
                    band_lo: b.map(|b| b.1),
                    band_hi: b.map(|b| b.2),
                    replications: all.len(),
                });
            }
        }
    }
    rows
}

/// One back end's measured latencies, as the export reads them: per queue (in `names`
/// order) the pooled wait and sojourn histograms and the percentile curves with their bands.
#[derive(Debug, Clone, Copy)]
pub struct Measured<'a> {
    /// `sim` or `real`.
    pub source: &'a str,
    /// Queue names.
    pub names: &'a [&'a str],
    /// Pooled wait histograms.
    pub wait: &'a [LatencyHistogram],
    /// Pooled sojourn histograms.
    pub sojourn: &'a [LatencyHistogram],
    /// Percentile curves.
    pub curves: &'a [QueueCurves],
}

/// Every export file of an `--out` directory, as (file name, bytes): `percentiles.csv`
/// (the measured back ends' curves and theory's), the `.hgrm` files of each measured back
/// end, and `series.csv` when the simulation kept its time series.
pub fn files(
    measured: &[Measured<'_>],
    theory: Option<&AnalyticReport>,
    sim: Option<&SimOutcome>,
) -> Vec<(String, Vec<u8>)> {
    let mut rows = Vec::new();
    for m in measured {
        rows.extend(measured_curve_rows(m.source, m.names, m.curves));
    }
    if let Some(t) = theory {
        rows.extend(theory_curve_rows(t));
    }
    let mut out = Vec::new();
    if !rows.is_empty() {
        out.push(("percentiles.csv".to_string(), super::csv::records(&rows)));
    }
    for m in measured {
        out.extend(
            hgrm_files(m.source, m.names, m.wait, m.sojourn)
                .into_iter()
                .map(|(n, t)| (n, t.into_bytes())),
        );
    }
    if let Some(sim) = sim.filter(|s| !s.series_all.is_empty()) {
        out.push(("series.csv".to_string(), super::csv::records(&series_rows(sim))));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Parses an `.hgrm` text back: (value, percentile, total count) rows and the footer's
    /// total count.
    fn parse(text: &str) -> (Vec<(f64, f64, u64)>, u64) {
        let mut lines = text.lines();
        let header: Vec<&str> = lines.next().unwrap().split_whitespace().collect();
        assert_eq!(header, ["Value", "Percentile", "TotalCount", "1/(1-Percentile)"]);
        assert_eq!(lines.next(), Some(""));
        let mut rows = Vec::new();
        let mut total = None;
        for l in lines {
            if let Some(rest) = l.strip_prefix("#[Max     = ") {
                let n = rest.split("Total count    =").nth(1).unwrap();
                total = Some(n.trim().trim_end_matches(']').trim().parse().unwrap());
                continue;
            }
            if l.starts_with("#[") {
                continue;
            }
            let f: Vec<&str> = l.split_whitespace().collect();
            assert!(f.len() == 4 || f.len() == 3, "{l}");
            rows.push((f[0].parse().unwrap(), f[1].parse().unwrap(), f[2].parse().unwrap()));
        }
        (rows, total.expect("a Max/Total count line"))
    }

    #[test]
    fn hgrm_parses_back_monotone_to_one_with_every_count() {
        let mut h = LatencyHistogram::new();
        let mut state = 0x9E37_79B9_7F4A_7C15u64;
        for _ in 0..20_000 {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            // Exponential-ish, mean 10 ms.
            let u = ((state >> 11) as f64 + 0.5) / (1u64 << 53) as f64;
            h.record(-0.01 * u.ln());
        }
        let text = hgrm(&h.distribution(HGRM_TICKS));
        let (rows, total) = parse(&text);
        assert_eq!(total, 20_000);
        assert!(rows.len() > 20, "{} rows", rows.len());
        for w in rows.windows(2) {
            assert!(w[1].0 >= w[0].0 && w[1].1 >= w[0].1 && w[1].2 >= w[0].2, "{w:?}");
        }
        let last = rows.last().unwrap();
        assert_eq!(last.1, 1.0);
        assert_eq!(last.2, 20_000);
        // Values are milliseconds: the median of an exponential of mean 10 ms is 6.93 ms.
        let median = rows.iter().find(|r| r.1 >= 0.5).unwrap().0;
        assert!((median - 6.93).abs() < 0.3, "median {median} ms");
        // Only the last line lacks the 1/(1-Percentile) column; footer as HdrHistogram's.
        let body: Vec<&str> =
            text.lines().filter(|l| !l.is_empty() && !l.starts_with('#')).collect();
        assert_eq!(body.iter().filter(|l| l.split_whitespace().count() == 3).count(), 1);
        assert!(text.contains("#[Buckets = "), "{text}");
        assert!(text.lines().any(|l| l.starts_with("#[Mean    = ")));
        assert!(text.ends_with("SubBuckets     =         2048]\n"), "{text}");
    }

    #[test]
    fn hgrm_of_an_empty_histogram_has_no_rows() {
        let (rows, total) = parse(&hgrm(&LatencyHistogram::new().distribution(HGRM_TICKS)));
        assert!(rows.is_empty());
        assert_eq!(total, 0);
        assert!(
            hgrm_files("sim", &["q"], &[LatencyHistogram::new()], &[LatencyHistogram::new()])
                .is_empty()
        );
    }

    #[test]
    fn percent_has_no_binary_noise() {
        assert_eq!(percent(0.9999), 99.99);
        assert_eq!(percent(0.9993), 99.93);
        assert_eq!(percent(0.5), 50.0);
    }
}
