//! The capacity formulas of the project's seed tutorial (§4.1–4.4, in Chinese), implemented
//! **exactly as stated**, each beside the queueing theory that should replace it, so that a
//! `validate` command can print "formula, value, correct value, verdict".
//!
//! The tutorial's symbols: W = write (arrival) rate, msgs/s; R = processing rate, msgs/s;
//! D = processing time of one message, s; G = consumers in the group.
//!
//! Its worked example: W = 10 msgs/s, D = 2 s, then `C = 10/2 = 5 "seconds"`,
//! `Δt = 5·2/10 = 1 s`, `P = 5/2 = 2.5 msgs/s`, `P_c = 3·2.5 = 7.5 msgs/s`. It divides by
//! D = 2 s where its formula asks for the rate R (and an earlier draft of the same text
//! writes `C = 10/5 = 20 s`, which is not even arithmetic, then `Δt = 20·2/10 = 4 s`).
//! With D = 2 s one consumer processes R = 1/D = 0.5 msgs/s, so the load is
//! W·D = 20 Erlangs: at least 21 consumers are needed for the queue not to grow without
//! bound, the claimed 1 s latency is shorter than the 2 s it takes to process a single
//! message, and 2.5 msgs/s per consumer is five times what one consumer can do.

use super::analyze;
use crate::results::AnalyticReport;
use crate::scenario::Model;
use serde::Serialize;

/// §4.1 "queue capacity" `C = W / R`.
///
/// Dimensions: (msgs/s) / (msgs/s) = **dimensionless**. With R the rate of one consumer
/// (1/D) this is the offered load `a = λ·E[S]` in Erlangs — the mean number of busy
/// consumers the traffic needs — not a number of messages and not seconds (the tutorial
/// labels it "seconds"). With R the whole system's rate (G/D) it is the utilization ρ.
/// Neither is a capacity. What a queue actually holds on average is `Lq = λ·Wq` ready
/// messages (Little's law), with Wq from M/M/c (Erlang C) or the model that fits; a
/// buffer limit is chosen from the queue-length distribution, e.g. M/M/c/K's loss p_K.
pub fn capacity(w: f64, r: f64) -> f64 {
    w / r
}

/// §4.2 "average latency" `Δt = C·D / W`.
///
/// Dimensions: 1 · s / (msgs/s) = **s²/msg**, not a time. Substituting §4.1, `C·D/W =
/// D/R`; with R = 1/D that is D², so a 2 s job would have 4 "seconds" of latency and a
/// 100 ms job 10 ms — less than its own processing time. The mean latency is the sojourn
/// `W = Wq + D` (never below D), with Wq = C(c, a)/(cμ − λ) for M/M/c (Gross & Harris
/// §2.3) and `L = λW` by Little's law.
pub fn delay(c: f64, d: f64, w: f64) -> f64 {
    c * d / w
}

/// §4.3 "processing capacity" `P = C / D`.
///
/// Dimensions: 1 / s = **1/s**: a rate, at least. But with §4.1's `C = W·D` (R = 1/D) it
/// equals `W·D/D = W`: it returns the arrival rate, whatever the consumers can do. A
/// consumer's capacity is `μ = 1/D` messages per second; c consumers process at most
/// `c·μ = c/D`, and the queue is stable only if `λ < c·μ`.
pub fn processing_capacity(c: f64, d: f64) -> f64 {
    c / d
}

/// §4.4 "group concurrent capacity" `P_c = G·P`.
///
/// Dimensions: 1 · msgs/s = **msgs/s**. With P the capacity of one consumer (1/D) this is
/// right: `G·μ` is the group's maximum throughput. But the tutorial then uses "capacity ≥
/// arrival rate" as if it were a sizing rule; it is only the stability boundary: at
/// `G·μ = λ` exactly the queue grows without bound (ρ = 1), and just above it the wait is
/// enormous (Wq ∝ 1/(1 − ρ)). Sizing needs a latency target and the wait distribution
/// (Erlang C: `P(Wq > t) = C·e^{−(cμ−λ)t}`).
pub fn group_capacity(g: f64, p: f64) -> f64 {
    g * p
}

/// The tutorial's sizing rule: the smallest G with `P_c = G·P >= λ`, where P is one
/// consumer's processing capacity, read as the tutorial intends in §4.4 ("单个消费者的处理
/// 能力", the processing capacity of a single consumer): `P = 1/D` msgs/s for a mean
/// processing time D. So `G = ⌈λ·D⌉`, the offered load rounded up.
///
/// Note what this gives: when λD is an integer, ρ = 1 exactly (an unstable queue); in
/// general ρ = λD/⌈λD⌉, often above 0.9. At least 1 is returned (a group has at least one
/// consumer), and `u32::MAX` when λD is not finite. A relative tolerance of 1e-9 keeps
/// float noise (6.4000000001) from adding a consumer.
pub fn tutorial_guess(lambda: f64, service_mean: f64) -> u32 {
    let a = lambda * service_mean;
    if a.is_nan() || a <= 0.0 {
        return 1;
    }
    if !a.is_finite() || a >= f64::from(u32::MAX) {
        return u32::MAX;
    }
    ((a * (1.0 - 1e-9)).ceil() as u32).max(1)
}

/// One tutorial formula evaluated for one queue, beside the correct theory.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TutorialVerdict {
    /// Queue name.
    pub queue: String,
    /// Section of the tutorial, e.g. `§4.1`.
    pub section: &'static str,
    /// The formula as written, e.g. `C = W/R`.
    pub formula: &'static str,
    /// The inputs used, in words.
    pub inputs: String,
    /// The formula's value.
    pub value: f64,
    /// Its real dimension (`dimensionless`, `s²/msg`, `msgs/s`).
    pub unit: &'static str,
    /// What the tutorial claims the value is.
    pub claimed: &'static str,
    /// The quantity theory uses instead.
    pub correct_quantity: &'static str,
    /// Its value from the analytic back end (`None` where the model gives none, e.g. an
    /// unstable queue).
    pub correct_value: Option<f64>,
    /// One-line verdict.
    pub verdict: String,
}

/// Evaluates the four formulas for every queue that has traffic and consumers with a
/// positive mean service time, with W = the queue's offered rate, D = the consumers' mean
/// service time, R = 1/D, G = the queue's consumer count, beside the analytic back end's
/// figures. Queues where the formulas cannot be evaluated are skipped.
pub fn tutorial_report(model: &Model) -> Vec<TutorialVerdict> {
    let report = analyze(model);
    verdicts(&report)
}

/// As [`tutorial_report`], from an existing analysis.
pub fn verdicts(report: &AnalyticReport) -> Vec<TutorialVerdict> {
    let mut out = Vec::new();
    for q in &report.queues {
        let (Some(w), Some(d)) = (q.offered_rate, q.service_mean_s) else { continue };
        if !(w > 0.0 && d > 0.0 && q.consumers > 0) {
            continue;
        }
        let g = f64::from(q.consumers);
        let r = 1.0 / d;
        let c = capacity(w, r);
        let dt = delay(c, d, w);
        let p = processing_capacity(c, d);
        let pc = group_capacity(g, r);
        let name = q.name.clone();
        let guess = tutorial_guess(w, d);
        out.push(TutorialVerdict {
            queue: name.clone(),
            section: "§4.1",
            formula: "C = W/R",
            inputs: format!("W = {w:.6} msgs/s, R = 1/D = {r:.6} msgs/s"),
            value: c,
            unit: "dimensionless",
            claimed: "queue capacity (messages; the example says seconds)",
            correct_quantity: "mean messages waiting Lq = λ·Wq (Little's law)",
            correct_value: q.waiting.mean,
            verdict: format!(
                "wrong: W/R = {c:.4} is the offered load in Erlangs (busy consumers needed), not a capacity; the queue holds {} messages on average",
                q.waiting.mean.map_or_else(|| "an unbounded number of".into(), |x| format!("{x:.4}"))
            ),
        });
        out.push(TutorialVerdict {
            queue: name.clone(),
            section: "§4.2",
            formula: "Δt = C·D/W",
            inputs: format!("C = {c:.6}, D = {d:.6} s, W = {w:.6} msgs/s"),
            value: dt,
            unit: "s²/msg",
            claimed: "mean latency (seconds)",
            correct_quantity: "mean sojourn W = Wq + D",
            correct_value: q.sojourn_s.mean,
            verdict: format!(
                "wrong: the units are s²/msg and the value is D/R = D² = {dt:.6}; the mean latency is {}",
                q.sojourn_s
                    .mean
                    .map_or_else(|| "unbounded (unstable queue)".into(), |x| format!("{x:.6} s, never below D = {d:.6} s"))
            ),
        });
        out.push(TutorialVerdict {
            queue: name.clone(),
            section: "§4.3",
            formula: "P = C/D",
            inputs: format!("C = {c:.6}, D = {d:.6} s"),
            value: p,
            unit: "msgs/s",
            claimed: "processing capacity of the system",
            correct_quantity: "capacity of one consumer μ = 1/D",
            correct_value: Some(r),
            verdict: format!(
                "wrong: C/D = W·D/D returns the arrival rate ({p:.6} msgs/s) whatever the consumers can do; one consumer processes at most 1/D = {r:.6} msgs/s"
            ),
        });
        let pool = super::mmc::mmc(w, r, guess);
        out.push(TutorialVerdict {
            queue: name,
            section: "§4.4",
            formula: "P_c = G·P",
            inputs: format!("G = {}, P = 1/D = {r:.6} msgs/s", q.consumers),
            value: pc,
            unit: "msgs/s",
            claimed: "group processing capacity",
            correct_quantity: "maximum throughput c·μ; stability needs λ < c·μ",
            correct_value: Some(g * r),
            verdict: format!(
                "right as a capacity (with P = 1/D), wrong as a sizing rule: P_c ≥ W gives G = {guess} at ρ = {:.4}, {}",
                w * d / f64::from(guess),
                pool.map_or_else(
                    || "where the queue is unstable".to_string(),
                    |m| format!("where the mean wait is {:.6} s (M/M/c)", m.wq)
                )
            ),
        });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formulas_reproduce_the_tutorials_worked_example() {
        // §4.1: "每秒写入 10 条消息，每条消息的处理时间为 2 秒 … C = 10/2 = 5".
        assert_eq!(capacity(10.0, 2.0), 5.0);
        // §4.2: Δt = 5·2/10 = 1.
        assert_eq!(delay(5.0, 2.0, 10.0), 1.0);
        // §4.3: P = 5/2 = 2.5.
        assert_eq!(processing_capacity(5.0, 2.0), 2.5);
        // §4.4: P_c = 3·2.5 = 7.5.
        assert_eq!(group_capacity(3.0, 2.5), 7.5);
        // The earlier draft: C = 10/5 is 2, not the 20 it prints; its Δt = 20·2/10 = 4.
        assert_eq!(capacity(10.0, 5.0), 2.0);
        assert_eq!(delay(20.0, 2.0, 10.0), 4.0);
    }

    #[test]
    fn tutorial_guess_rounds_the_offered_load_up() {
        // The output contract's example: λ = 64/s, D = 100 ms → a = 6.4 → 7.
        assert_eq!(tutorial_guess(64.0, 0.1), 7);
        // Exactly integral load: 8 consumers at ρ = 1 (the rule's blind spot).
        assert_eq!(tutorial_guess(80.0, 0.1), 8);
        // The tutorial's own example: 10 msgs/s at 2 s each needs G = 20 by its rule.
        assert_eq!(tutorial_guess(10.0, 2.0), 20);
        assert_eq!(tutorial_guess(0.0, 0.1), 1);
        assert_eq!(tutorial_guess(f64::INFINITY, 0.1), u32::MAX);
    }

    #[test]
    fn report_puts_each_formula_beside_theory() {
        let text = r#"
[simulation]
horizon = "1h"
[[producers]]
name = "p"
routing_key = "q"
arrival = { dist = "exponential", rate = 10.0 }
[[queues]]
name = "q"
[[consumers]]
name = "g"
queue = "q"
count = 25
prefetch = 1
service = { dist = "exponential", mean = "2s" }
"#;
        let model = Model::from_toml(text, "tut.toml").unwrap();
        let v = tutorial_report(&model);
        assert_eq!(v.len(), 4);
        // C = W/R with R = 1/D: 10 · 2 = 20 Erlangs.
        assert!((v[0].value - 20.0).abs() < 1e-12);
        // Δt = D² = 4 "s"; the real mean sojourn is above D = 2 s.
        assert!((v[1].value - 4.0).abs() < 1e-12);
        assert!(v[1].correct_value.unwrap() > 2.0);
        // P = C/D returns W = 10.
        assert!((v[2].value - 10.0).abs() < 1e-12);
        assert_eq!(v[2].correct_value, Some(0.5));
        // P_c = G/D = 12.5 msgs/s: right as a capacity.
        assert!((v[3].value - 12.5).abs() < 1e-12);
        assert_eq!(v[3].correct_value, Some(12.5));
        // The tutorial's G = 20 sizing is exactly ρ = 1.
        assert!(
            v[3].verdict.contains("G = 20") && v[3].verdict.contains("unstable"),
            "{}",
            v[3].verdict
        );
    }
}
