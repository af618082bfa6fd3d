//! The results of Kafka-style topics: the run report's `topics` ([`TopicReport`], as the
//! output contract's "Topics" section, with a few additions) and the analysis's `topics`
//! ([`TopicAnalysis`]).

use super::Latency;
use crate::stats::MeanCi;
use serde::{Deserialize, Serialize};

/// A partition's lag: records published to it and not yet completely processed (the one
/// in service included) by the group furthest behind.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TopicLag {
    /// Time-averaged, mean over replications.
    pub mean: f64,
    /// 95% half-width of `mean` (an addition).
    pub ci95: Option<f64>,
    /// Largest lag seen after the warm-up.
    pub max: u64,
}

/// A partition's lag in seconds (an addition).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LagSeconds {
    /// Mean lag ÷ offered rate (Little's law): how long a record waits, on average, until
    /// every group has processed it.
    pub mean: Option<f64>,
    /// Longest time a post-warm-up record waited until every group had processed it.
    pub max: Option<f64>,
}

/// One partition's figures.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PartitionReport {
    /// Partition index.
    pub index: u32,
    /// Records published to it per second.
    pub offered_rate: MeanCi,
    /// Records not yet processed.
    pub lag: TopicLag,
    /// The lag in seconds.
    pub lag_s: LagSeconds,
}

/// A group's counts, over all replications, warm-up included:
/// `offered = acked + in_flight_at_end` exactly.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TopicCounts {
    /// Records published to the topic (every group receives every record).
    pub offered: u64,
    /// Records completely processed by the group.
    pub acked: u64,
    /// Records not processed when the run stopped (not yet fetched, polled or in service).
    pub in_flight_at_end: u64,
}

impl TopicCounts {
    /// Does `offered = acked + in_flight_at_end` hold?
    pub fn balanced(&self) -> bool {
        self.offered == self.acked + self.in_flight_at_end
    }
}

/// One consumer of a group (an addition).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MemberReport {
    /// Consumer number in the group (its member-id order).
    pub index: u32,
    /// Partitions it owns with every member alive.
    pub partitions: Vec<u32>,
    /// Records it completed per second.
    pub throughput: MeanCi,
    /// Fraction of time it processes a record.
    pub utilization: MeanCi,
    /// Mean publish → completion of the records it completed.
    pub sojourn_mean_s: Option<MeanCi>,
}

/// One consumer group on a topic.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TopicGroupReport {
    /// Group name.
    pub name: String,
    /// Consumers in the group.
    pub consumers: u32,
    /// Consumers with no partition when every member is alive (more consumers than
    /// partitions).
    pub idle_consumers: u32,
    /// Assignment strategy (an addition).
    pub assignment: String,
    /// Records completely processed per second.
    pub throughput: MeanCi,
    /// Publish → start of the final processing.
    pub wait_s: Latency,
    /// Publish → end of processing.
    pub sojourn_s: Latency,
    /// Totals.
    pub counts: TopicCounts,
    /// Rebalances over all replications, for a group whose consumers crash (an addition).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rebalances: Option<u64>,
    /// Per consumer (an addition).
    pub members: Vec<MemberReport>,
}

/// One topic's results.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TopicReport {
    /// Topic name.
    pub name: String,
    /// Per partition.
    pub partitions: Vec<PartitionReport>,
    /// Per group subscribed, file order.
    pub groups: Vec<TopicGroupReport>,
}

/// Theory for one partition.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PartitionAnalysis {
    /// Partition index.
    pub index: u32,
    /// Records per second, from the producers' rates and the key → partition map.
    pub offered_rate: f64,
    /// Keys that map to it (producers with keys).
    pub keys: u64,
    /// Mean lag (records) of the group furthest behind; `None` if some group is unstable.
    pub lag_mean: Option<f64>,
}

/// Theory for one consumer of a group.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct MemberAnalysis {
    /// Consumer number.
    pub index: u32,
    /// Its partitions (every member alive).
    pub partitions: Vec<u32>,
    /// Records per second it receives.
    pub arrival_rate: f64,
    /// Its load λE\[S\] (with crashes: of the effective service time).
    pub rho: f64,
    /// ρ < 1.
    pub stable: bool,
    /// Mean publish → start of processing.
    pub wait_mean_s: Option<f64>,
    /// Mean publish → end of processing.
    pub sojourn_mean_s: Option<f64>,
    /// 99th percentile of the sojourn where the model gives one (M/M/1).
    pub sojourn_p99_s: Option<f64>,
}

/// The consumer that decides a group's stability.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Hottest {
    /// Consumer number.
    pub consumer: u32,
    /// Its ρ.
    pub rho: f64,
    /// Its partitions.
    pub partitions: Vec<u32>,
}

/// Theory for one group on a topic.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TopicGroupAnalysis {
    /// Group name.
    pub name: String,
    /// Assignment strategy.
    pub assignment: String,
    /// Consumers.
    pub consumers: u32,
    /// Consumers with no partition.
    pub idle_consumers: u32,
    /// The model per consumer (`M/M/1`, `M/G/1`, `G/G/1 (Kingman)`, with interruptions …).
    pub model: String,
    /// Whether every figure is exact.
    pub exact: bool,
    /// Every consumer has ρ < 1.
    pub stable: bool,
    /// The most loaded consumer.
    pub hottest: Option<Hottest>,
    /// Records processed per second (the offered rate when stable).
    pub throughput: f64,
    /// Mean wait over all records.
    #[serde(serialize_with = "super::serialize_prediction")]
    pub wait_s: Latency,
    /// Mean sojourn over all records.
    #[serde(serialize_with = "super::serialize_prediction")]
    pub sojourn_s: Latency,
    /// Per consumer.
    pub members: Vec<MemberAnalysis>,
    /// Which model, which approximation, and why.
    pub notes: Vec<String>,
}

/// Theory for one topic.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TopicAnalysis {
    /// Topic name.
    pub name: String,
    /// Per partition.
    pub partitions: Vec<PartitionAnalysis>,
    /// Per group.
    pub groups: Vec<TopicGroupAnalysis>,
}
