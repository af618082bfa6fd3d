//! The timeline (`[simulation] window` or `--window`): each queue's figures per window of
//! scenario time, serialised as the output contract's `timeline`. The contract's fields
//! (`offered_rate`, `throughput`, `queue_length {mean, max}`, `wait_s {mean, p99}`) are
//! exactly as written; the 95% half-widths beside them (`*_ci95`, `ci95`) are extensions.

use super::QueueLength;
use serde::{Deserialize, Serialize};

/// Per-window figures of a run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Timeline {
    /// Window length, seconds (the last window may be cut short by the horizon).
    pub window_s: f64,
    /// Windows in time order, the first starting at 0.
    pub windows: Vec<Window>,
}

/// One window of the timeline.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Window {
    /// Start, seconds of scenario time.
    pub start_s: f64,
    /// End (extension): the next window's start, or the horizon for the last one.
    pub end_s: f64,
    /// The window starts before the warm-up ends (present only then).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub warmup: bool,
    /// Per queue, in file order.
    pub queues: Vec<WindowQueue>,
}

/// One queue in one window. Rates, the backlog and the mean wait are means over
/// replications; `p99` pools the waits of every replication's messages that entered the
/// queue in the window.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WindowQueue {
    /// Queue name.
    pub name: String,
    /// Messages routed to the queue in the window, per second.
    pub offered_rate: f64,
    /// 95% half-width of `offered_rate` (extension).
    pub offered_rate_ci95: Option<f64>,
    /// Services ended in the window, per second.
    pub throughput: f64,
    /// 95% half-width of `throughput` (extension).
    pub throughput_ci95: Option<f64>,
    /// Ready messages: time average over the window (with its half-width) and the largest
    /// seen in the window in any replication.
    pub queue_length: QueueLength,
    /// Wait of the messages that entered the queue in the window and were served.
    pub wait_s: WindowWait,
}

/// Wait figures of one window; `null` when no message that entered in it was served.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WindowWait {
    /// Mean over replications of each replication's mean wait in the window.
    pub mean: Option<f64>,
    /// 95% half-width of `mean` (extension).
    pub ci95: Option<f64>,
    /// 99th percentile of the pooled waits.
    pub p99: Option<f64>,
    /// 95% half-width of the mean of the replications' own p99s: the band of the p99
    /// chart (extension).
    pub p99_ci95: Option<f64>,
    /// Messages timed, over all replications (extension).
    pub messages: u64,
}
