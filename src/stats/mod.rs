//! Statistics shared by the simulator and the load test: latency histograms with bounded
//! relative error, time-weighted averages, and means over replications with Student-t
//! confidence intervals.

mod histogram;
pub mod mser;
mod replication;
mod time_average;

pub use histogram::{
    Distribution, DistributionStep, HistogramPool, LatencyHistogram, LatencyRecorder, SparseLatency,
};
pub use replication::{MeanCi, student_t_975, summarize};
pub use time_average::TimeAverage;
