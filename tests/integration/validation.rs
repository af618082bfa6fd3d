//! The simulator against closed-form queueing theory. The formulas are written out here,
//! independently of the analytic back end, from the textbook (Gross, Shortle, Thompson &
//! Harris, *Fundamentals of Queueing Theory*, 4th ed., ch. 2–3 and 6). Every comparison
//! uses per-replication values, so autocorrelation inside a run cannot fake precision.

use crate::support::*;
use mqsim::scenario::Model;
use mqsim::sim::ReplicationResult;

fn per_rep(rs: &[ReplicationResult], f: impl Fn(&ReplicationResult) -> f64) -> Vec<f64> {
    rs.iter().map(f).collect()
}

/// Erlang C: probability of waiting in M/M/c with offered load `a` = λ/μ (stable recursion
/// through Erlang B).
fn erlang_c(c: u32, a: f64) -> f64 {
    let mut b = 1.0;
    for k in 1..=c {
        b = a * b / (f64::from(k) + a * b);
    }
    let rho = a / f64::from(c);
    b / (1.0 - rho * (1.0 - b))
}

#[test]
fn mm1_mean_and_tail_of_wait_and_sojourn() {
    // λ = 8, μ = 10, ρ = 0.8: Wq = ρ/(μ−λ) = 0.4 s, W = 1/(μ−λ) = 0.5 s, Lq = ρ²/(1−ρ) = 3.2.
    // P(Wq > t) = ρ e^{−(μ−λ)t} ⇒ p99 = ln(ρ/0.01)/(μ−λ); W ~ Exp(μ−λ) ⇒ p99 = ln 100/(μ−λ).
    let m = model(&single_queue(
        8.0,
        1,
        "{ dist = \"exponential\", mean = \"100ms\" }",
        "",
        "3h",
        20,
        101,
    ));
    let rs = replications(&m);
    let q = |r: &ReplicationResult| r.queues[0].clone();
    assert_theory_in_ci("M/M/1 Wq", &per_rep(&rs, |r| q(r).wait.mean().unwrap()), 0.4);
    assert_theory_in_ci("M/M/1 W", &per_rep(&rs, |r| q(r).sojourn.mean().unwrap()), 0.5);
    assert_theory_in_ci(
        "M/M/1 Lq",
        &per_rep(&rs, |r| q(r).ready.average(m.simulation.horizon)),
        3.2,
    );
    assert_theory_in_ci(
        "M/M/1 utilization",
        &per_rep(&rs, |r| q(r).busy.average(m.simulation.horizon)),
        0.8,
    );
    assert_theory_in_ci(
        "M/M/1 Wq p99",
        &per_rep(&rs, |r| q(r).wait.quantile(0.99).unwrap()),
        (0.8f64 / 0.01).ln() / 2.0,
    );
    assert_theory_in_ci(
        "M/M/1 W p99",
        &per_rep(&rs, |r| q(r).sojourn.quantile(0.99).unwrap()),
        100f64.ln() / 2.0,
    );
    assert_theory_in_ci(
        "M/M/1 W p50",
        &per_rep(&rs, |r| q(r).sojourn.quantile(0.5).unwrap()),
        2f64.ln() / 2.0,
    );
}

#[test]
fn mmc_matches_erlang_c() {
    // c = 8, λ = 64, μ = 10: a = 6.4, ρ = 0.8, C(8, 6.4) = 0.45764.
    // Wq = C/(cμ−λ), Lq = λ Wq, P(Wq > t) = C e^{−(cμ−λ)t}.
    let (c, lam, mu) = (8u32, 64.0, 10.0);
    let pc = erlang_c(c, lam / mu);
    assert!((pc - 0.45764).abs() < 1e-4);
    let m = model(&single_queue(
        lam,
        c,
        "{ dist = \"exponential\", mean = \"100ms\" }",
        "",
        "1h",
        20,
        202,
    ));
    let rs = replications(&m);
    let h = m.simulation.horizon;
    let rate = f64::from(c) * mu - lam;
    assert_theory_in_ci("M/M/8 Wq", &per_rep(&rs, |r| r.queues[0].wait.mean().unwrap()), pc / rate);
    assert_theory_in_ci(
        "M/M/8 W",
        &per_rep(&rs, |r| r.queues[0].sojourn.mean().unwrap()),
        pc / rate + 1.0 / mu,
    );
    assert_theory_in_ci(
        "M/M/8 Lq",
        &per_rep(&rs, |r| r.queues[0].ready.average(h)),
        lam * pc / rate,
    );
    assert_theory_in_ci(
        "M/M/8 utilization",
        &per_rep(&rs, |r| r.queues[0].busy.average(h) / 8.0),
        0.8,
    );
    assert_theory_in_ci(
        "M/M/8 Wq p99",
        &per_rep(&rs, |r| r.queues[0].wait.quantile(0.99).unwrap()),
        (pc / 0.01).ln() / rate,
    );
    // P(wait > 0) = C: the share of messages that found every consumer busy.
    assert_theory_in_ci(
        "M/M/8 P(wait>0)",
        &per_rep(&rs, |r| r.queues[0].wait.ccdf(0.0).unwrap()),
        pc,
    );
}

#[test]
fn md1_and_mg1_match_pollaczek_khinchine() {
    // P–K: Wq = λ E[S²] / (2(1−ρ)) = ρ (1 + c_s²) / (2 μ (1−ρ)).
    let pk = |rho: f64, mu: f64, scv: f64| rho * (1.0 + scv) / (2.0 * mu * (1.0 - rho));
    let cases = [
        ("M/D/1", "{ dist = \"constant\", value = \"100ms\" }", 8.0, 0.0, 303),
        ("M/E4/1", "{ dist = \"erlang\", k = 4, mean = \"100ms\" }", 7.0, 0.25, 304),
        ("M/U/1", "{ dist = \"uniform\", min = \"50ms\", max = \"150ms\" }", 7.0, 1.0 / 12.0, 305),
        ("M/LN(cv=2)/1", "{ dist = \"lognormal\", mean = \"100ms\", cv = 2.0 }", 6.0, 4.0, 306),
        (
            "M/H2(cv=2)/1",
            "{ dist = \"hyperexponential\", mean = \"100ms\", cv = 2.0 }",
            6.0,
            4.0,
            308,
        ),
        // Weibull shape 0.7: SCV = Γ(1 + 2/0.7)/Γ(1 + 1/0.7)² − 1 = 5.02914/1.26582² − 1 = 2.13869.
        ("M/W(0.7)/1", "{ dist = \"weibull\", shape = 0.7, mean = \"100ms\" }", 6.0, 2.13869, 309),
        // Pareto shape 4.5: SCV = 1/(α(α − 2)) = 1/11.25. (α > 4 keeps the wait's variance
        // finite — it needs E[S³] — so the replications' interval means something.)
        (
            "M/Pareto(4.5)/1",
            "{ dist = \"pareto\", shape = 4.5, mean = \"100ms\" }",
            7.0,
            1.0 / 11.25,
            310,
        ),
    ];
    for (name, service, lam, scv, seed) in cases {
        let m = model(&single_queue(lam, 1, service, "", "3h", 20, seed));
        let rs = replications(&m);
        let rho = lam / 10.0;
        assert_theory_in_ci(
            &format!("{name} Wq"),
            &per_rep(&rs, |r| r.queues[0].wait.mean().unwrap()),
            pk(rho, 10.0, scv),
        );
        assert_theory_in_ci(
            &format!("{name} Lq"),
            &per_rep(&rs, |r| r.queues[0].ready.average(m.simulation.horizon)),
            lam * pk(rho, 10.0, scv),
        );
    }
}

/// Erlang's M/D/1 waiting-time distribution (Crommelin 1932):
/// P(Wq ≤ t) = (1 − ρ) Σ_{k=0}^{⌊t/D⌋} [λ(kD − t)]^k / k! · e^{−λ(kD − t)}.
fn md1_wait_cdf(lam: f64, d: f64, t: f64) -> f64 {
    let mut s = 0.0;
    let mut fact = 1.0;
    for k in 0..=((t / d).floor() as i32) {
        if k > 0 {
            fact *= f64::from(k);
        }
        let x = lam * (f64::from(k) * d - t);
        s += x.powi(k) / fact * (-x).exp();
    }
    (1.0 - lam * d) * s
}

#[test]
fn md1_wait_percentiles_match_crommelin() {
    let m = model(&single_queue(
        8.0,
        1,
        "{ dist = \"constant\", value = \"100ms\" }",
        "",
        "3h",
        30,
        307,
    ));
    let rs = replications(&m);
    for q in [0.5, 0.9, 0.99] {
        // Invert the CDF by bisection on [0, 5 s].
        let (mut lo, mut hi) = (0.0, 5.0);
        for _ in 0..60 {
            let mid = (lo + hi) / 2.0;
            if md1_wait_cdf(8.0, 0.1, mid) < q { lo = mid } else { hi = mid }
        }
        assert_theory_in_ci(
            &format!("M/D/1 Wq p{}", q * 100.0),
            &per_rep(&rs, |r| r.queues[0].wait.quantile(q).unwrap()),
            hi,
        );
    }
}

/// Stationary distribution of M/M/c/K (birth–death): p_n ∝ Π λ/(min(k,c) μ).
fn mmck(lam: f64, mu: f64, c: u32, k: u32) -> Vec<f64> {
    let mut p = vec![1.0];
    for n in 1..=k {
        let last = p[p.len() - 1];
        p.push(last * lam / (f64::from(n.min(c)) * mu));
    }
    let s: f64 = p.iter().sum();
    p.iter().map(|x| x / s).collect()
}

#[test]
fn mmck_loss_and_queue_length_for_both_overflow_policies() {
    // RabbitMQ counts only ready messages in max_length: with prefetch 1 and manual ack the
    // system holds K = max_length + c. λ = 48, μ = 10, c = 4, max_length = 10 ⇒ K = 14.
    let (lam, mu, c, maxlen) = (48.0, 10.0, 4u32, 10u32);
    let p = mmck(lam, mu, c, maxlen + c);
    let loss = p[(maxlen + c) as usize];
    let lq: f64 = p.iter().enumerate().map(|(n, pn)| (n as f64 - f64::from(c)).max(0.0) * pn).sum();
    // Accepted messages' mean wait by Little: Lq / (λ (1 − P_K)).
    let wq_accepted = lq / (lam * (1.0 - loss));
    for (policy, seed) in [("reject-publish", 401), ("drop-head", 402)] {
        let extra = format!("max_length = {maxlen}\noverflow = \"{policy}\"");
        let m = model(&single_queue(
            lam,
            c,
            "{ dist = \"exponential\", mean = \"100ms\" }",
            &extra,
            "1h",
            20,
            seed,
        ));
        let rs = replications(&m);
        let h = m.simulation.horizon;
        assert_theory_in_ci(
            &format!("M/M/4/14 {policy} loss"),
            &per_rep(&rs, |r| r.queues[0].dropped_post as f64 / r.queues[0].offered_post as f64),
            loss,
        );
        assert_theory_in_ci(
            &format!("M/M/4/14 {policy} Lq"),
            &per_rep(&rs, |r| r.queues[0].ready.average(h)),
            lq,
        );
        if policy == "reject-publish" {
            // Every served message was accepted and never pushed out: Little's law applies.
            assert_theory_in_ci(
                "M/M/4/14 reject-publish Wq",
                &per_rep(&rs, |r| r.queues[0].wait.mean().unwrap()),
                wq_accepted,
            );
        } else {
            // drop-head serves the survivors of a pushed-out queue: they waited less.
            let (w, _) = mean_se(&per_rep(&rs, |r| r.queues[0].wait.mean().unwrap()));
            assert!(w < wq_accepted, "drop-head Wq {w} should be below {wq_accepted}");
        }
        for r in &rs {
            assert!(r.queues[0].counts.balanced(), "{:?}", r.queues[0].counts);
        }
    }
}

#[test]
fn tandem_is_a_jackson_network() {
    // Burke: the departures of a stable M/M/c are Poisson, so stage 2 is M/M/2 fed at λ and
    // E2E mean = W1 + W2. λ = 6; stage 1 M/M/1 μ = 10 (W = 0.25); stage 2 M/M/2 μ = 4
    // (a = 1.5, ρ = 0.75, C = 0.642857, Wq = C/(2·4 − 6) = 0.3214, W = 0.5714).
    let text = r#"
[simulation]
horizon = "3h"
warmup = "10m"
replications = 20
seed = 501

[[producers]]
name = "p"
routing_key = "stage1"
arrival = { dist = "exponential", rate = 6.0 }

[[exchanges]]
name = "x"
type = "direct"

[[queues]]
name = "stage1"

[[queues]]
name = "stage2"
bindings = [{ exchange = "x", key = "next" }]

[[consumers]]
name = "s1"
queue = "stage1"
count = 1
prefetch = 1
service = { dist = "exponential", mean = "100ms" }
then = { exchange = "x", routing_key = "next" }

[[consumers]]
name = "s2"
queue = "stage2"
count = 2
prefetch = 1
service = { dist = "exponential", mean = "250ms" }
"#;
    let m = model(text);
    let rs = replications(&m);
    let c2 = erlang_c(2, 1.5);
    let w1 = 1.0 / (10.0 - 6.0);
    let w2 = c2 / (8.0 - 6.0) + 0.25;
    assert_theory_in_ci(
        "tandem stage 1 W",
        &per_rep(&rs, |r| r.queues[0].sojourn.mean().unwrap()),
        w1,
    );
    assert_theory_in_ci(
        "tandem stage 2 W",
        &per_rep(&rs, |r| r.queues[1].sojourn.mean().unwrap()),
        w2,
    );
    assert_theory_in_ci(
        "tandem stage 2 rate",
        &per_rep(&rs, |r| r.queues[1].offered_post as f64 / (3.0 * 3600.0 - 600.0)),
        6.0,
    );
    assert_theory_in_ci(
        "tandem end-to-end",
        &per_rep(&rs, |r| r.producers[0].end_to_end.mean().unwrap()),
        w1 + w2,
    );
}

#[test]
fn routing_rates_through_topic_and_fanout() {
    // log-collection.toml: alerts get *.error (50 + 20), web-parser web.# (50 + 1200),
    // cold-storage # plus the audit fanout (2000 + 100), audit-index the fanout (100).
    let text = std::fs::read_to_string("scenarios/log-collection.toml").unwrap();
    let mut m = model(&text);
    m.simulation.horizon = 600.0;
    m.simulation.warmup = 60.0;
    let rs = replications(&m);
    let span = m.simulation.horizon - m.simulation.warmup;
    for (q, rate) in [(0, 70.0), (1, 1250.0), (2, 2100.0), (3, 100.0)] {
        assert_theory_in_ci(
            &format!("offered rate of {}", m.queues[q].name),
            &per_rep(&rs, |r| r.queues[q].offered_post as f64 / span),
            rate,
        );
    }
}

#[test]
fn prefetch_buffers_cost_waiting_time() {
    // Same arrivals (one fanout), same consumers: prefetch 50 must wait longer than
    // prefetch 1, by far more than either confidence interval.
    let text = std::fs::read_to_string("scenarios/prefetch-cost.toml").unwrap();
    let mut m = model(&text);
    m.simulation.horizon = 3600.0;
    let rs = replications(&m);
    let (fair, fair_se) = mean_se(&per_rep(&rs, |r| r.queues[0].wait.mean().unwrap()));
    let (greedy, greedy_se) = mean_se(&per_rep(&rs, |r| r.queues[1].wait.mean().unwrap()));
    eprintln!(
        "prefetch 1: Wq {fair:.4} ± {fair_se:.4}; prefetch 50: Wq {greedy:.4} ± {greedy_se:.4}"
    );
    assert!(
        greedy - fair > 5.0 * (fair_se + greedy_se),
        "prefetch 50 {greedy} vs prefetch 1 {fair}"
    );
    // And a message in a prefetch buffer is not "ready": the greedy queue's Lq is ~0.
    let lq: f64 = rs.iter().map(|r| r.queues[1].ready.average(m.simulation.horizon)).sum::<f64>();
    assert!(lq / rs.len() as f64 <= 0.01, "greedy Lq {lq}");
}

#[test]
fn auto_ack_messages_in_consumer_buffers_are_in_flight() {
    // Regression: auto-ack deliveries used to count as acked on delivery, so messages
    // waiting in an auto-ack consumer's buffer vanished from `in_flight_at_end`, the backlog
    // series and the automatic warm-up. An auto-ack consumer (prefetch does not limit it)
    // behaves exactly like a manual-ack one with unlimited prefetch: same sample path, same
    // counts, same backlog, same warm-up.
    let base =
        single_queue(9.5, 1, "{ dist = \"exponential\", mean = \"100ms\" }", "", "30m", 4, 601);
    let manual = model(&base.replace("prefetch = 1", "prefetch = 0"));
    let auto = model(&base.replace("prefetch = 1", "prefetch = 1\nack = \"auto\""));
    let (rm, ra) = (replications(&manual), replications(&auto));
    let mut in_flight = 0;
    for (m, a) in rm.iter().zip(&ra) {
        let (km, ka) = (m.queues[0].counts, a.queues[0].counts);
        assert!(ka.balanced(), "{ka:?}");
        assert_eq!(km, ka, "auto ack vs manual with unlimited prefetch");
        assert_eq!(ka.acked, ka.completed, "settled when served");
        in_flight += ka.in_flight_at_end;
    }
    assert!(in_flight > 0, "rho 0.95 leaves messages in the consumer's buffer at the end");
    let step = 10.0;
    let series = |m: &Model| mqsim::sim::simulate(m, 0, Some(step)).series.unwrap();
    let (sm, sa) = (series(&manual), series(&auto));
    assert_eq!(sm.unacked, sa.unacked, "the backlog series sees the auto-ack buffer");
    assert!(sa.unacked[0].iter().any(|&x| x > 1.0));
    let (mut wm, mut wa) = (manual.clone(), auto.clone());
    wm.simulation.warmup_auto = true;
    wa.simulation.warmup_auto = true;
    assert_eq!(mqsim::sim::detect_warmup(&wm), mqsim::sim::detect_warmup(&wa));
}
