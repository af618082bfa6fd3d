//! The simulator's speed, as `mqsim bench` and the criterion benches measure it.

/// One measured configuration.
#[derive(Debug, Clone, serde::Serialize)]
pub struct SpeedRow {
    /// What ran.
    pub name: String,
    /// Events processed by the engine per wall-clock second, single thread.
    pub events_per_s: f64,
    /// Messages (publishes) simulated per wall-clock second, single thread.
    pub messages_per_s: f64,
    /// Engine time ÷ reference-loop time for the same work (`None` without a reference).
    pub ratio_to_floor: Option<f64>,
}
