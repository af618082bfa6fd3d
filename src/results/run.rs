//! The results of a run (`sim`) or a load test (`real`): [`RunReport`], serialised exactly
//! as the output contract's JSON.

use super::Latency;
use crate::stats::MeanCi;
use serde::{Deserialize, Serialize};

/// Time-averaged ready-queue length (Lq).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct QueueLength {
    /// Mean over replications.
    pub mean: f64,
    /// 95% half-width.
    pub ci95: Option<f64>,
    /// Largest ready count seen after the warm-up.
    pub max: u64,
}

/// Message counts over all replications, warm-up included. For every queue
/// `offered = acked + dropped + expired + rejected + in_flight_at_end` holds exactly.
///
/// The second edition's counts (`expired` … `dead_letter_cycles`) are `None`, and left out
/// of the JSON, for a scenario that uses none of its features, whose output stays as it was.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Counts {
    /// Messages routed to the queue (accepted or not).
    pub offered: u64,
    /// Messages handed to a consumer.
    pub delivered: u64,
    /// Messages acknowledged (manual: at service end; auto: on delivery).
    pub acked: u64,
    /// Messages dropped by the overflow policy (drop-head, reject-publish[-dlx]).
    pub dropped: u64,
    /// Messages whose TTL passed while they were ready.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expired: Option<u64>,
    /// Messages rejected by a failure with `action = "reject"`, or at `delivery_limit`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rejected: Option<u64>,
    /// Of the dropped, expired and rejected messages, those republished to the queue's
    /// dead-letter exchange (routed or unroutable there).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dead_lettered: Option<u64>,
    /// Deliveries of messages delivered before (requeue, crash).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub redelivered: Option<u64>,
    /// Dead letters that matched no queue on the dead-letter exchange (an extension).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dead_letter_unroutable: Option<u64>,
    /// Dead letters not republished because they would have gone round a cycle with no
    /// rejection in it (RabbitMQ's rule; an extension).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dead_letter_cycles: Option<u64>,
    /// Messages still ready or unacknowledged when the run stopped.
    pub in_flight_at_end: u64,
    /// Messages whose service ended (an extension: with auto ack, delivered ≠ served).
    pub completed: u64,
}

impl Counts {
    /// Does `offered = acked + dropped + expired + rejected + in_flight_at_end` hold?
    pub fn balanced(&self) -> bool {
        self.offered
            == self.acked
                + self.dropped
                + self.expired.unwrap_or(0)
                + self.rejected.unwrap_or(0)
                + self.in_flight_at_end
    }

    /// Adds another run's counts.
    pub fn add(&mut self, o: &Counts) {
        fn add(a: &mut Option<u64>, b: Option<u64>) {
            if let Some(b) = b {
                *a = Some(a.unwrap_or(0) + b);
            }
        }
        self.offered += o.offered;
        self.delivered += o.delivered;
        self.acked += o.acked;
        self.dropped += o.dropped;
        add(&mut self.expired, o.expired);
        add(&mut self.rejected, o.rejected);
        add(&mut self.dead_lettered, o.dead_lettered);
        add(&mut self.redelivered, o.redelivered);
        add(&mut self.dead_letter_unroutable, o.dead_letter_unroutable);
        add(&mut self.dead_letter_cycles, o.dead_letter_cycles);
        self.in_flight_at_end += o.in_flight_at_end;
        self.completed += o.completed;
    }
}

/// One queue's results.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct QueueReport {
    /// Queue name.
    pub name: String,
    /// Consumers reading the queue (all groups).
    pub consumers: u32,
    /// Messages routed to the queue per second.
    pub offered_rate: MeanCi,
    /// Messages whose service ended per second.
    pub throughput: MeanCi,
    /// Dropped ÷ offered.
    pub loss_probability: MeanCi,
    /// Entering the queue → start of service (Wq).
    pub wait_s: Latency,
    /// Entering the queue → end of service (W).
    pub sojourn_s: Latency,
    /// Ready messages, time-averaged (Lq).
    pub queue_length: QueueLength,
    /// Busy consumers ÷ consumers, time-averaged.
    pub utilization: MeanCi,
    /// Totals over all replications.
    pub counts: Counts,
    /// Expired ÷ offered, for a queue whose messages can expire (an extension).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expire_probability: Option<MeanCi>,
    /// With `initial_messages`: how long the backlog took to drain (an extension).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub drain_time_s: Option<DrainTime>,
    /// Per priority seen, highest first, for a priority queue.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub by_priority: Option<Vec<PriorityReport>>,
}

/// How long a queue's `initial_messages` backlog took to leave the queue (its last message
/// acked, or dropped, expired or rejected), from time 0 of each replication, whatever the
/// warm-up.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DrainTime {
    /// Mean over the replications in which it drained before the horizon; `None` if none did.
    pub mean: Option<f64>,
    /// Half-width of the 95% Student-t interval of that mean; `None` with fewer than two.
    pub ci95: Option<f64>,
    /// Replications in which the backlog drained before the horizon (of all run).
    pub drained_replications: u32,
}

/// One priority's figures in a priority queue.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PriorityReport {
    /// The priority (capped at the queue's `max_priority`).
    pub priority: u8,
    /// Messages offered with it after the warm-up, over all replications.
    pub offered: u64,
    /// Its wait, as the queue's.
    pub wait_s: Latency,
    /// Its sojourn, as the queue's.
    pub sojourn_s: Latency,
}

/// One producer's totals over all replications.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ProducerReport {
    /// Producer name.
    pub name: String,
    /// Publishes made.
    pub published: u64,
    /// Publishes that matched no queue.
    pub unroutable: u64,
}

/// End-to-end latency of one producer's messages: publish → end of the last stage.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EndToEnd {
    /// Producer name.
    pub producer: String,
    /// Mean (with its 95% half-width), percentiles and max, as for a queue.
    #[serde(flatten)]
    pub latency: Latency,
    /// Post-warm-up messages (copies, after fan-out) that completed every stage.
    pub completed: u64,
}

/// How faithfully a real-clock run followed the scenario (loadtest only).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Timing {
    /// Real seconds per scenario second.
    pub time_scale: f64,
    /// Mean of actual ÷ intended service time − 1.
    pub service_error_mean: f64,
    /// Σ actual ÷ Σ intended service time − 1: the error utilization feels (long services
    /// weigh in proportion, where the mean of ratios is dominated by the shortest ones).
    pub service_error_total: f64,
    /// Mean lateness of publishes relative to their schedule, scenario seconds.
    pub arrival_error_mean: f64,
    /// Publishes that left later than their scheduled time by more than the tolerance.
    pub late_publishes: u64,
}

/// Results of `run` (`backend: "sim"`) or `loadtest` (`backend: "real"`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunReport {
    /// Scenario name.
    pub scenario: String,
    /// `"sim"` or `"real"`.
    pub backend: String,
    /// Master seed.
    pub seed: u64,
    /// Independent replications.
    pub replications: u32,
    /// Scenario time per replication.
    pub horizon_s: f64,
    /// Discarded scenario time per replication.
    pub warmup_s: f64,
    /// Real seconds per scenario second (loadtest only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub time_scale: Option<f64>,
    /// Per queue, in file order.
    pub queues: Vec<QueueReport>,
    /// Per producer, in file order.
    pub producers: Vec<ProducerReport>,
    /// Per producer whose messages complete at least one stage.
    pub end_to_end_s: Vec<EndToEnd>,
    /// Kafka-style topics, in file order; left out for a scenario without topics.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub topics: Vec<super::TopicReport>,
    /// Real-clock fidelity (loadtest only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timing: Option<Timing>,
    /// The run was interrupted (Ctrl-C): the report holds what was finished (`run`: the
    /// completed replications; `loadtest`: the window measured so far). Left out when false.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub partial: bool,
    /// Of a partial `run`: the replications asked for (`replications` completed).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub replications_requested: Option<u32>,
    /// Of a partial `loadtest`: the horizon asked for, scenario seconds (`horizon_s` is
    /// where the measurement stopped).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub horizon_requested_s: Option<f64>,
    /// With `precision`: did every queue's mean sojourn reach it (`replications` then says
    /// how many it took)? Absent without `precision`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub precision_reached: Option<bool>,
    /// With `precision`: the relative 95% half-width asked for (extension).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub precision: Option<f64>,
    /// Per-window figures, with `window`; absent without.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeline: Option<super::Timeline>,
    /// The broker server a `"rabbitmq"` run measured (left out otherwise).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub server: Option<Server>,
}

/// A real broker server, as it introduced itself (AMQP `connection.start` properties).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Server {
    /// e.g. `"RabbitMQ"`.
    pub product: String,
    /// e.g. `"3.10.8"`.
    pub version: String,
}

impl RunReport {
    /// The JSON document of the output contract.
    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).expect("report serialises") + "\n"
    }
}
