//! The analytic back end: closed-form and approximate queueing predictions for every queue
//! of a [`Model`], returned as the [`AnalyticReport`] of [`crate::results`] (whose JSON is
//! the `mqsim analyze --format json` contract; its writers are in [`crate::report`]).
//!
//! This module owns
//! - the queueing models, one file each, every formula with its textbook source:
//!   [`mod@mmc`] (Erlang B/C, M/M/1, M/M/c with exact wait and sojourn distributions),
//!   [`mod@mmck`] (M/M/c/K for `max_length`, reject-publish and drop-head), [`mod@mg1`]
//!   (Pollaczek–Khinchine, exact M/D/1 wait distribution), [`ggc`] (Allen–Cunneen, Kingman,
//!   GI/M/1 for round-robin dispatch), [`impatience`] (a TTL as deterministic patience,
//!   M/M/c+D, and Erlang-A), [`priority`] (Cobham's non-preemptive priorities),
//!   [`crash`] (a consumer that crashes and restarts), [`feedback`] (requeue and retry
//!   loops). The last four are pure models not yet used by [`analyze`]; [`transport`]
//!   (`network_delay`: the closed loop of prefetch credits, by mean-value analysis);
//! - the traffic equations of a pipeline (producers → queues → `then` → queues), solved in
//!   one topological pass, with Burke's theorem / Jackson networks where they hold and
//!   Whitt's QNA two-moment approximations where they do not (`traffic`);
//! - the choice of model per queue, from the rules below (`choose`), and the figures each
//!   model gives (`figures`);
//! - the end-to-end paths of a pipeline and their mean latency (`network`);
//! - the tutorial's formulas and their verdicts ([`tutorial`]).
//!
//! Nothing here prints, reads files or panics on a valid model: a queue no model covers is
//! reported with `model: null` and a note, a figure a model cannot give is `None`.
//!
//! ## How a queue is mapped to a model (RabbitMQ semantics of the scenario contract)
//! - `prefetch = 1`, manual ack: a consumer takes a message only when idle, so the group is
//!   one pool of `c = Σ count` servers fed from one FIFO queue: M/M/c (or M/G/1, G/G/c).
//!   With `max_length = m` the system holds at most `K = m + c` (m ready + one unacked per
//!   consumer): M/M/c/K.
//! - One consumer (`c = 1`), any prefetch: still one FIFO server; time in its prefetch
//!   buffer counts as wait. With `max_length = m` and prefetch p, `K = m + p` (m ready + up
//!   to p held: one in service, p − 1 in its buffer), exactly M/M/1/K for both overflow
//!   policies. Reject-publish: FIFO without push-out, so the accepted messages' wait is the
//!   textbook M/M/1/K one. Drop-head: the oldest **ready** message is dropped, never one the
//!   consumer holds, so the served messages' wait comes from a tagged-message absorbing
//!   chain that protects the p held places (`mmck::MmckResult::drop_head_holding`); exact.
//! - `prefetch = 0` (unlimited) or `ack = "auto"`, `c > 1`: the broker pushes each message
//!   to the next consumer round-robin at once, so each consumer is its own FIFO queue fed
//!   every c-th arrival. For Poisson arrivals that is exactly E_c/M/1 per consumer (Erlang-c
//!   interarrivals), solved exactly as GI/M/1; the ready queue stays empty, so
//!   `max_length` never drops anything.
//! - `prefetch = p > 1`, manual ack, `c > 1`: between the two. Messages may wait in a busy
//!   consumer's buffer while another idles, which pooled M/M/c ignores: its figures are a
//!   **lower bound** (for exponential service, a pooled work-conserving FIFO pool minimises
//!   the number waiting), reported with `exact: false`. With `max_length` the pooled
//!   M/M/c/K (`K = m + c·p`) is an approximation without a proven direction, also
//!   `exact: false`. The p → ∞ limit is the round-robin
//!   model above, given in the notes for reference.
//! - Several groups on one queue with the same service distribution and dispatch regime
//!   are one pool of `Σ count` consumers; each group's onward (`then`) traffic is its share
//!   `count / Σ count` of the throughput (identical consumers serve equal shares). Groups
//!   with different service or regime: `model: null`.

mod choose;
pub mod crash;
mod deadletter;
pub mod feedback;
mod figures;
pub mod ggc;
pub mod impatience;
mod lifecycle;
pub mod load;
pub mod mg1;
pub mod mmc;
pub mod mmck;
mod network;
mod numeric;
pub mod priority;
pub mod timevarying;
pub mod topic;
mod traffic;
pub mod transport;
pub mod tutorial;

pub use crash::{
    BreakdownApprox, BreakdownResult, Downtime, mm1_breakdowns, mm1_breakdowns_general,
    mm1_breakdowns_with, mmc_breakdowns_approx,
};
pub use feedback::{RequeueResult, RetryLoopResult, mmc_requeue, retry_loop};
pub use ggc::{GgcApprox, Gim1Result, allen_cunneen, erlang_k_m1, gim1};
pub use impatience::{ImpatienceResult, erlang_a, mm1_plus_d, mmc_plus_d};
pub use load::{MmppM1, fluid_drain_time, mmpp_idc, mmpp_m1, mx_g1_wait};
pub use mg1::{Mg1Result, md1_wait_cdf, md1_wait_quantile, mg1};
pub use mmc::{MmcResult, erlang_b, erlang_c, mmc};
pub use mmck::{DropHead, MmckResult, mmck};
pub use priority::{PriorityClass, mg1_priority, mmc_priority};
pub use transport::{credit_loop_bound, credit_loop_throughput};

use crate::results::{AnalyticReport, QueueAnalysis};
use crate::scenario::Model;

/// Analyses every queue of the model: traffic equations, then one model per queue, then
/// end-to-end means along each producer's paths. Never panics on a valid [`Model`].
pub fn analyze(model: &Model) -> AnalyticReport {
    let (mut queues, mut end_to_end_s) = if model.queues.iter().any(|q| q.dead_letter.is_some()) {
        deadletter::solve(model)
    } else {
        let queues = traffic::solve(model);
        let paths = network::end_to_end(model, &queues);
        (queues, paths)
    };
    transport::publish_delay(model, &mut queues, &mut end_to_end_s);
    AnalyticReport {
        scenario: model.name.clone(),
        backend: "analytic".into(),
        queues,
        end_to_end_s,
        topics: topic::analyze(model),
        // Per-window theory is asked for on its own ([`timevarying::timeline`]): sizing
        // searches call this many times and need none of it.
        timeline: None,
    }
}

/// What theory says about the queue read by group `group` if that group had `count`
/// consumers, everything else unchanged (upstream traffic included). `None` if `group` is
/// not a group index of the model. This is the building block of a sizing search.
pub fn analyze_queue_with_count(model: &Model, group: usize, count: u32) -> Option<QueueAnalysis> {
    let q = model.groups.get(group)?.queue;
    let mut m = model.clone();
    m.groups[group].count = count;
    analyze(&m).queues.into_iter().nth(q)
}

#[cfg(test)]
pub(crate) mod tests;
