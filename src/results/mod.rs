//! The bottom layer of data: what every back end produces and `report` only reads. The
//! simulator and the load test fill a [`RunReport`], the analytic back end an
//! [`AnalyticReport`]; both use the one [`Latency`] type. Percentile curves
//! ([`PercentileCurve`]) are the simulator's extra material for charts, [`SpeedRow`] its
//! measured speed.
//!
//! Plain data and serde only: this module depends on `stats` and nothing else in the crate,
//! so any back end and any writer can use it without a cycle.

mod curves;
mod latency;
mod prediction;
mod run;
mod speed;
mod timeline;
mod topic;

pub use curves::{CURVE_QUANTILES, PercentileCurve, QueueCurves, REAL_BATCHES, RealOutcome};
pub use latency::{Latency, serialize_prediction};
pub use prediction::{
    AnalyticReport, AnalyticTimeline, EndToEndPath, MeanCount, PredictedWindow,
    PredictedWindowQueue, PriorityAnalysis, QueueAnalysis, TimelineModel, WindowTheory,
    WindowTheoryWait,
};
pub use run::{
    Counts, DrainTime, EndToEnd, PriorityReport, ProducerReport, QueueLength, QueueReport,
    RunReport, Server, Timing,
};
pub use speed::SpeedRow;
pub use timeline::{Timeline, Window, WindowQueue, WindowWait};
pub use topic::{
    Hottest, LagSeconds, MemberAnalysis, MemberReport, PartitionAnalysis, PartitionReport,
    TopicAnalysis, TopicCounts, TopicGroupAnalysis, TopicGroupReport, TopicLag, TopicReport,
};
