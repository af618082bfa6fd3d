//! `network_delay`: what a one-way delay d between the broker and a consumer does to a
//! queue. A delivery reaches the consumer d after the broker sent it, and its ack frees
//! prefetch room d after the service ended, so each of a consumer's p credits goes round a
//! closed loop: service (one server, FIFO) then 2d on the wire.
//!
//! - **Credit-limited capacity.** One consumer with prefetch p completes at most
//!   `min(1/E[S], p/(E[S] + 2d))` messages per second, whatever the service distribution
//!   (the asymptotic bounds of a closed network: Lazowska et al., *Quantitative System
//!   Performance*, 1984, §5.3). With exponential service the loop is a product-form closed
//!   network of a delay station (2d, infinite server: a constant delay has the same
//!   mean-value solution as any delay of that mean, BCMP) and a single-server FIFO station,
//!   and exact mean-value analysis (Reiser & Lavenberg 1980) gives its throughput X(p).
//! - **Prefetch 1, manual ack.** A consumer holds its one credit for transit + service +
//!   ack transit, S + 2d, and takes the next message only after that: the ready queue is
//!   exactly the pooled queue of c servers whose service time is S + 2d (mean E[S] + 2d,
//!   variance Var S). Wait (to the start of service) = that queue's wait + d, exactly
//!   shifted; sojourn (to the end of service) = wait + S in the mean.
//! - **Unlimited prefetch or auto ack.** Credits never bind: every message reaches its
//!   consumer's FIFO exactly d later, so the consumer sees the same arrival process shifted
//!   by a constant; wait and sojourn shift by d, exactly.
//! - **Prefetch p > 1.** The delay-free model, with wait and sojourn shifted by d (the
//!   delivery's transit), as long as λ stays below c·X(p); approximate (it ignores the time
//!   a message waits for a credit held by an ack still on the wire), and labelled so.

use super::choose::{Dispatch, Station};
use crate::results::{Latency, QueueAnalysis};

/// Throughput of one consumer's credit loop with exponential service: exact mean-value
/// analysis of the closed network (`credits` customers; a delay station of mean
/// `2 × one_way_delay`, a single FIFO server of mean `s_mean`). O(credits); for `credits`
/// above 100 000 the loop has long since reached 1/E[S] and that is returned.
pub fn credit_loop_throughput(s_mean: f64, one_way_delay: f64, credits: u32) -> f64 {
    let z = 2.0 * one_way_delay;
    if credits == 0 || s_mean <= 0.0 {
        return f64::INFINITY;
    }
    let mut q = 0.0;
    let mut x = 0.0;
    for n in 1..=credits.min(100_000) {
        // Arrival theorem: a customer arriving at the server sees the n−1 network's queue.
        let r = s_mean * (1.0 + q);
        x = f64::from(n) / (z + r);
        q = x * r;
        if 1.0 / s_mean - x <= 1e-12 / s_mean {
            break;
        }
    }
    if credits > 100_000 { 1.0 / s_mean } else { x }
}

/// The distribution-free bound on one consumer's throughput: `min(1/E[S], p/(E[S] + 2d))`.
pub fn credit_loop_bound(s_mean: f64, one_way_delay: f64, credits: u32) -> f64 {
    if credits == 0 {
        return 1.0 / s_mean;
    }
    (1.0 / s_mean).min(f64::from(credits) / (s_mean + 2.0 * one_way_delay))
}

/// Shifts every figure of `l` by `d` seconds.
fn shift(l: &mut Latency, d: f64) {
    for x in [&mut l.mean, &mut l.p50, &mut l.p90, &mut l.p95, &mut l.p99, &mut l.p999] {
        if let Some(v) = x.as_mut() {
            *v += d;
        }
    }
}

/// The station a prefetch-1 manual-ack queue behaves as with delay `d`: each consumer holds
/// its credit S + 2d per message. `None` for other dispatch regimes (the queue keeps its
/// station and [`adjust`] shifts the figures).
pub(super) fn credit_station(st: &Station, d: f64) -> Option<Station> {
    if st.dispatch != Dispatch::Prefetch(1) || d <= 0.0 {
        return None;
    }
    let held = st.s_mean + 2.0 * d;
    let var = st.cs2 * st.s_mean * st.s_mean;
    Some(Station {
        s_mean: held,
        cs2: var / (held * held),
        exp_service: false,
        // S + 2d is constant when S is: M/D/c stays M/D/c.
        const_service: st.const_service,
        ..*st
    })
}

/// Turns the figures of the delay-free model (or, with `credit` from [`credit_station`],
/// of the S + 2d station) into those of the queue with delay `d`. `st` is the queue's own
/// station (service S).
pub(super) fn adjust(st: &Station, d: f64, credit: bool, qa: &mut QueueAnalysis) {
    let lambda = st.lambda;
    let c = f64::from(st.c);
    let s = st.s_mean;
    match st.dispatch {
        Dispatch::Prefetch(p) => {
            let (x, how) = if st.exp_service {
                (credit_loop_throughput(s, d, p), "exact mean-value analysis of the closed loop of credits (exponential service)")
            } else {
                (credit_loop_bound(s, d, p), "the bound min(1/E[S], p/(E[S] + 2d)) (not exponential service: an upper bound)")
            };
            qa.notes.push(format!(
                "network_delay d = {d} s one way, prefetch {p}: each consumer completes at most {x:.6} msgs/s (1/E[S] = {:.6}), by {how}; the {} consumer(s) at most {:.6} msgs/s",
                1.0 / s,
                st.c,
                c * x
            ));
            if lambda >= c * x && !credit && st.max_length.is_none() {
                qa.stable = false;
                qa.throughput = Some(c * x);
                qa.utilization = Some(x * s);
                qa.wait_s = Latency::default();
                qa.sojourn_s = Latency::default();
                qa.queue_length.mean = None;
                qa.waiting.mean = None;
                qa.in_system.mean = None;
                qa.exact = false;
                qa.notes.push(format!(
                    "unstable: the offered {lambda:.6} msgs/s reach the credit-limited capacity {:.6} msgs/s: acks on the wire hold the credits, the queue grows without bound",
                    c * x
                ));
                return;
            }
        }
        Dispatch::Unlimited => qa.notes.push(format!(
            "network_delay d = {d} s one way with unlimited prefetch / auto ack: credits never bind, every message reaches its consumer exactly d later; wait and sojourn shift by d (exact for this model)"
        )),
    }
    if credit {
        // The pooled model ran on S + 2d: its wait is the ready queue's; the consumers are
        // busy serving only S of each S + 2d.
        let ready_wait = qa.wait_s.mean;
        shift(&mut qa.wait_s, d);
        qa.sojourn_s = Latency { mean: ready_wait.map(|w| w + d + s), ..Latency::default() };
        // Busy serving only E[S] of each E[S] + 2d the credit is held.
        qa.utilization = qa.throughput.map(|t| t * s / c);
        qa.notes.push(format!(
            "prefetch 1: a consumer holds its credit for E[S] + 2d = {:.6} s per message, so the ready queue is the pooled queue above with that service time (exact in the mean for M/G/1; as exact as the pooled model otherwise); wait = its wait + d (percentiles shifted), sojourn = wait + E[S] (mean only)",
            s + 2.0 * d
        ));
    } else {
        shift(&mut qa.wait_s, d);
        shift(&mut qa.sojourn_s, d);
        if let Some(n) = qa.in_system.mean.as_mut() {
            // Held while the delivery and its ack are on the wire (Little).
            *n += qa.throughput.unwrap_or(lambda) * 2.0 * d;
        }
        if let Dispatch::Prefetch(p) = st.dispatch {
            qa.exact = false;
            qa.notes.push(format!(
                "prefetch {p} > 1 with network_delay: the delay-free model's figures shifted by d (the delivery's transit); APPROXIMATE: a message may also wait for a credit still held by an ack on the wire, which this ignores (good while λ is well below the credit-limited capacity)"
            ));
        }
    }
}

/// `publish_delay`: each producer's messages reach the broker d_p after they were published
/// and count their latencies from publishing. The arrival instants at the broker are the
/// scenario's process (a constant shift of the publish instants), so queueing is unchanged
/// and every latency of a message straight from producer p grows by exactly d_p. A queue
/// fed only by producers with the same d: every figure shifts by d, exactness kept. A queue
/// fed by several delays (or by `then` and dead letters too): the mean shifts by the
/// rate-weighted average delay (exact, by linearity over its messages), the percentiles by
/// the same amount, which is approximate for a mixture and labelled so. Each producer's
/// end-to-end paths (summed before this shift) grow by its d.
pub(super) fn publish_delay(
    model: &crate::scenario::Model,
    queues: &mut [QueueAnalysis],
    paths: &mut [crate::results::EndToEndPath],
) {
    if model.producers.iter().all(|p| p.publish_delay <= 0.0) {
        return;
    }
    // Per queue: (Σ rate × d, Σ rate, the distinct delays seen) over its producers.
    let mut direct: Vec<(f64, f64, Vec<f64>)> = vec![(0.0, 0.0, Vec::new()); queues.len()];
    for p in &model.producers {
        for (q, s) in super::load::producer_streams(p) {
            let e = &mut direct[q];
            e.0 += s.rate * p.publish_delay;
            e.1 += s.rate;
            if !e.2.contains(&p.publish_delay) {
                e.2.push(p.publish_delay);
            }
        }
    }
    for (qa, (weighted, rate, delays)) in queues.iter_mut().zip(direct) {
        let total = qa.offered_rate.unwrap_or(rate);
        if rate <= 0.0 || total.is_nan() || total <= 0.0 || weighted <= 0.0 {
            continue;
        }
        // Messages from `then` and dead letters were republished by the broker's side and
        // carry no publish delay of their own.
        let whole = rate >= total * (1.0 - 1e-9) && delays.len() == 1;
        let d = weighted / rate.max(total);
        shift(&mut qa.wait_s, d);
        shift(&mut qa.sojourn_s, d);
        if whole {
            qa.notes.push(format!(
                "publish_delay {} one way, producer to broker: the arrivals at the broker are the scenario's process, so queueing is unchanged and wait and sojourn shift by exactly that (they count from publishing)",
                crate::dist::fmt_secs(d)
            ));
        } else {
            qa.exact = false;
            qa.notes.push(format!(
                "publish_delay: messages reach this queue with different delays (or none, from `then` and dead letters); the mean shifts by their rate-weighted average {} (exact), the percentiles by the same amount, APPROXIMATE for a mixture",
                crate::dist::fmt_secs(d)
            ));
        }
    }
    for path in paths {
        if let Some(p) = model.producers.iter().find(|p| p.name == path.producer)
            && let Some(m) = path.mean.as_mut()
        {
            *m += p.publish_delay;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credit_loop_matches_hand_mva_and_its_bounds() {
        // S = 10 ms, 2d = 10 ms. n = 1: R = 10 ms, X = 50; n = 2: Q = 0.5, R = 15 ms,
        // X = 2/25 ms = 80.
        assert!((credit_loop_throughput(0.01, 0.005, 1) - 50.0).abs() < 1e-9);
        assert!((credit_loop_throughput(0.01, 0.005, 2) - 80.0).abs() < 1e-9);
        for p in 1..40 {
            let x = credit_loop_throughput(0.01, 0.005, p);
            let b = credit_loop_bound(0.01, 0.005, p);
            assert!(x <= b + 1e-9, "p = {p}: {x} above the bound {b}");
            assert!(x >= credit_loop_throughput(0.01, 0.005, p.max(2) - 1) - 1e-9);
        }
        assert!((credit_loop_throughput(0.01, 0.005, 200) - 100.0).abs() < 1e-6);
        // No delay: one credit keeps the server busy.
        assert!((credit_loop_throughput(0.01, 0.0, 1) - 100.0).abs() < 1e-9);
    }
}
