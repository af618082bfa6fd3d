//! The analytic back end's prediction: [`AnalyticReport`], serialised exactly as the
//! `mqsim analyze --format json` contract.

use super::Latency;
use super::latency::serialize_prediction;
use serde::Serialize;

/// A time-averaged count (`{"mean": …}`).
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct MeanCount {
    /// Mean; `None` where the model cannot give it.
    pub mean: Option<f64>,
}

/// One priority's prediction in a priority queue (the shape of the run's `by_priority`,
/// with `offered` a rate).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PriorityAnalysis {
    /// The priority.
    pub priority: u8,
    /// Messages of this priority offered per second.
    pub offered: f64,
    /// Its wait.
    #[serde(serialize_with = "serialize_prediction")]
    pub wait_s: Latency,
    /// Its sojourn.
    #[serde(serialize_with = "serialize_prediction")]
    pub sojourn_s: Latency,
}

/// One queue's analytic figures, serialised as one element of the contract's `queues`.
/// The fields after `notes` are additions to the contract.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct QueueAnalysis {
    /// Queue name.
    pub name: String,
    /// Kendall notation of the model used (`M/M/c`, `M/M/c/K`, `E_c/M/1 (round-robin)`,
    /// `GI/G/c (Allen–Cunneen)`, …); `None` when no model covers the queue.
    pub model: Option<String>,
    /// True when every non-null figure is exact for the scenario's semantics (given the
    /// model's assumptions, all stated in `notes`); false for approximations and bounds.
    pub exact: bool,
    /// Offered load a = λ·E\[S\], Erlangs: the mean number of busy consumers needed.
    pub offered_load_erlangs: Option<f64>,
    /// Utilization ρ = a / c.
    pub rho: Option<f64>,
    /// False when the queue grows without bound (ρ >= 1 with no effective `max_length`, or
    /// no consumers with no `max_length`).
    pub stable: bool,
    /// Messages whose service ends per second.
    pub throughput: Option<f64>,
    /// Fraction of offered messages dropped by the overflow policy.
    pub loss_probability: Option<f64>,
    /// Entering the queue → start of service (Wq), over served messages.
    #[serde(serialize_with = "serialize_prediction")]
    pub wait_s: Latency,
    /// Entering the queue → end of service (W), over served messages.
    #[serde(serialize_with = "serialize_prediction")]
    pub sojourn_s: Latency,
    /// Ready messages, time-averaged (Lq of the ready queue; with unlimited prefetch the
    /// waiting messages sit in consumers' buffers, not here).
    pub queue_length: MeanCount,
    /// Why this model applies, which approximation was used and its known error.
    pub notes: Vec<String>,
    /// Messages routed to the queue per second (accepted or not) — addition.
    pub offered_rate: Option<f64>,
    /// Squared coefficient of variation of the arrival process used by the model —
    /// addition. 1 for Poisson.
    pub arrival_scv: Option<f64>,
    /// Whether the arrivals are exactly Poisson (every source exponential, or a Burke
    /// departure stream) — addition.
    pub poisson_arrivals: bool,
    /// Consumers reading the queue (all groups) — addition.
    pub consumers: u32,
    /// Mean service time, seconds — addition.
    pub service_mean_s: Option<f64>,
    /// Service time SCV — addition.
    pub service_scv: Option<f64>,
    /// Busy consumers ÷ consumers — addition.
    pub utilization: Option<f64>,
    /// Messages waiting for service anywhere (ready + in consumers' prefetch buffers),
    /// time-averaged — addition. Little's law: `throughput · wait_s.mean` (reject-publish).
    pub waiting: MeanCount,
    /// Messages in the system (waiting + in service), time-averaged (L) — addition.
    pub in_system: MeanCount,
    /// Probability that a message offered to the queue expires (a queue whose messages
    /// can expire).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expire_probability: Option<f64>,
    /// Probability that a message offered to the queue is rejected by a consumer (failures
    /// with `action = "reject"`, or the delivery limit); an extension.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reject_probability: Option<f64>,
    /// Per priority, highest first, for a priority queue.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub by_priority: Option<Vec<PriorityAnalysis>>,
    /// With `initial_messages`: the fluid drain time of the backlog, seconds
    /// (approximate); an extension.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub drain_time_s: Option<f64>,
    /// Some producer feeding the queue changes its rate over time (schedule, sinusoid,
    /// trace): the figures are taken at the long-run mean rate and do not describe a peak;
    /// an extension, present only when true.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub time_varying_arrivals: bool,
}

/// Mean end-to-end latency along one path of a producer's messages through a pipeline.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct EndToEndPath {
    /// Producer name.
    pub producer: String,
    /// Queues visited, in order.
    pub path: Vec<String>,
    /// Sum of the stage sojourn means (the mean of a sum is the sum of the means, whatever
    /// the dependence between stages); `None` if a stage has no mean.
    pub mean: Option<f64>,
    /// True when every stage mean is exact.
    pub exact: bool,
}

/// The result of `mqsim analyze`, serialised exactly as the output contract.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AnalyticReport {
    /// Scenario name.
    pub scenario: String,
    /// Always `"analytic"`.
    pub backend: String,
    /// Per queue, in file order.
    pub queues: Vec<QueueAnalysis>,
    /// Per producer and path through the pipeline (addition): publish → end of the last
    /// stage's service, mean only.
    pub end_to_end_s: Vec<EndToEndPath>,
    /// Kafka-style topics, in file order; left out for a scenario without topics.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub topics: Vec<super::TopicAnalysis>,
    /// With a window: theory's figures per window for time-varying arrivals (extension;
    /// absent without a window).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub timeline: Option<AnalyticTimeline>,
}

/// Per-window predictions of the time-varying approximations (PSA and MOL), for the queues
/// they cover. Always approximate.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AnalyticTimeline {
    /// Window length, seconds.
    pub window_s: f64,
    /// Per queue: which model applies, or why none does.
    pub queues: Vec<TimelineModel>,
    /// Windows in time order.
    pub windows: Vec<PredictedWindow>,
}

/// Which time-varying model a queue gets.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TimelineModel {
    /// Queue name.
    pub name: String,
    /// `"M(t)/M/c"`, or `null` where the approximations do not apply.
    pub model: Option<String>,
    /// Always false: PSA and MOL are approximations.
    pub exact: bool,
    /// How the figures were made, or why there are none.
    pub notes: Vec<String>,
}

/// One window's predictions.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PredictedWindow {
    /// Start, seconds.
    pub start_s: f64,
    /// End, seconds.
    pub end_s: f64,
    /// The queues with a model, in file order.
    pub queues: Vec<PredictedWindowQueue>,
}

/// One queue's predictions in one window.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PredictedWindowQueue {
    /// Queue name.
    pub name: String,
    /// Mean arrival rate over the window.
    pub offered_rate: f64,
    /// Pointwise-stationary approximation; `null` if the load reaches capacity in the window.
    pub psa: Option<WindowTheory>,
    /// Modified-offered-load approximation; `null` if its load reaches capacity.
    pub mol: Option<WindowTheory>,
}

/// One approximation's figures for a window, as the run's timeline names them.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct WindowTheory {
    /// Highest utilization at any instant of the window.
    pub rho_max: f64,
    /// Ready messages, time average over the window.
    pub queue_length: MeanCount,
    /// Wait of the window's arrivals.
    pub wait_s: WindowTheoryWait,
}

/// Mean and p99 wait of a window's arrivals.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct WindowTheoryWait {
    /// Mean.
    pub mean: f64,
    /// 99th percentile.
    pub p99: f64,
}

impl AnalyticReport {
    /// The JSON document of the output contract, pretty-printed, with a trailing newline.
    pub fn to_json(&self) -> String {
        // Non-finite floats never reach here (every figure is checked), and the types are
        // plain structs, so serialisation cannot fail.
        serde_json::to_string_pretty(self).unwrap_or_default() + "\n"
    }

    /// The analysis of the queue named `name`.
    pub fn queue(&self, name: &str) -> Option<&QueueAnalysis> {
        self.queues.iter().find(|q| q.name == name)
    }
}
