//! The traffic equations of a pipeline (producers → queues → `then` → queues), solved in one
//! topological pass: each arrival stream described by its rate and SCV (Whitt's QNA), with
//! Burke's theorem keeping the departures of an exact M/M/c Poisson (a Jackson network) and
//! QNA's two-moment approximations for superposition, splitting and departures elsewhere.

use super::choose;
use crate::results::QueueAnalysis;
use crate::scenario::Model;

/// An arrival stream described by two moments (Whitt's QNA, 1983).
#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) struct Stream {
    pub(super) rate: f64,
    pub(super) scv: f64,
    pub(super) poisson: bool,
}

impl Stream {
    pub(super) const NONE: Stream = Stream { rate: 0.0, scv: 1.0, poisson: true };

    /// Superposition: rates add; the SCV is the rate-weighted mean of the SCVs (QNA's
    /// "asymptotic method", Whitt 1983 eq. 33). Exactly Poisson iff every part is.
    pub(super) fn merge(parts: &[Stream]) -> Stream {
        let rate: f64 = parts.iter().map(|s| s.rate).sum();
        if parts.is_empty() || rate <= 0.0 {
            return Stream::NONE;
        }
        if !rate.is_finite() {
            return Stream { rate, scv: 1.0, poisson: false };
        }
        let scv = parts.iter().map(|s| s.rate / rate * s.scv).sum();
        Stream { rate, scv, poisson: parts.iter().all(|s| s.poisson) }
    }

    /// A share `p` of the stream (QNA splitting: `p·c² + 1 − p`). Not flagged Poisson when
    /// `p < 1`: the split between groups is not an independent random thinning.
    pub(super) fn share(self, p: f64) -> Stream {
        if p >= 1.0 {
            return self;
        }
        Stream { rate: self.rate * p, scv: p * self.scv + 1.0 - p, poisson: false }
    }
}

/// QNA departure SCV of a G/G/c station (Whitt 1983 eq. 38):
/// `c_d² = 1 + (1 − ρ²)(c_a² − 1) + ρ²(c_s² − 1)/√c`.
pub(super) fn departure_scv(rho: f64, ca2: f64, cs2: f64, c: u32) -> f64 {
    let rho = rho.clamp(0.0, 1.0);
    (1.0 + (1.0 - rho * rho) * (ca2 - 1.0) + rho * rho * (cs2 - 1.0) / f64::from(c).sqrt()).max(0.0)
}

/// Solves the traffic equations: producers' streams into their queues, then, queue by queue
/// in topological order, each queue analysed ([`choose::analyze_queue`]) and its departures
/// (shared between its groups) fed to the queues its groups publish to. One analysis per
/// queue, in file order; a queue on a `then` cycle gets a note and no figures.
pub(super) fn solve(model: &Model) -> Vec<QueueAnalysis> {
    let nq = model.queues.len();
    let mut inflow: Vec<Vec<Stream>> = vec![Vec::new(); nq];
    for p in &model.producers {
        for (q, s) in super::load::producer_streams(p) {
            inflow[q].push(s);
        }
    }
    let mut results: Vec<Option<QueueAnalysis>> = vec![None; nq];
    for q in model.topological_order() {
        let input = Stream::merge(&inflow[q]);
        let (mut qa, out) = choose::analyze_queue(model, q, input);
        qa.notes.splice(0..0, merge_notes(&inflow[q], input));
        let total: u64 =
            model.queues[q].groups.iter().map(|&g| u64::from(model.groups[g].count)).sum();
        for (g, nq2) in model.onward_edges(q) {
            let share = if total > 0 { model.groups[g].count as f64 / total as f64 } else { 0.0 };
            inflow[nq2].push(out.share(share));
        }
        results[q] = Some(qa);
    }
    results
        .into_iter()
        .enumerate()
        .map(|(q, r)| {
            r.unwrap_or_else(|| {
                let mut qa = choose::blank(model, q, Stream::NONE);
                qa.offered_rate = None;
                qa.arrival_scv = None;
                qa.notes.push(
                    "not analysed: the `then` routes form a cycle through this queue, so the traffic equations have no topological order".into(),
                );
                qa
            })
        })
        .collect()
}

fn merge_notes(parts: &[Stream], merged: Stream) -> Vec<String> {
    if parts.len() < 2 {
        return Vec::new();
    }
    if merged.poisson {
        vec![format!(
            "arrivals: superposition of {} Poisson streams, itself Poisson (rate {:.6})",
            parts.len(),
            merged.rate
        )]
    } else {
        vec![format!(
            "arrivals: superposition of {} streams, not all Poisson: not a renewal process in general; the models use the rate-weighted arrival SCV c_a² = {:.4} (Whitt's QNA asymptotic method), an approximation",
            parts.len(),
            merged.scv
        )]
    }
}
