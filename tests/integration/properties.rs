//! Property tests over randomly generated scenarios: counts balance exactly in every queue,
//! and the same seed gives the same result.

use mqsim::scenario::Model;
use mqsim::sim::simulate;
use proptest::prelude::*;

#[derive(Debug, Clone)]
struct Q {
    max_length: Option<u8>,
    reject: bool,
    count: u8,
    prefetch: u8,
    auto_ack: bool,
    service: u8,
    then_to: Option<u8>,
}

fn scenario(rate: f64, queues: &[Q]) -> String {
    let mut s = format!(
        "[simulation]\nhorizon = 120\nwarmup = 10\nreplications = 1\nseed = 9\n\
         [[exchanges]]\nname = \"fan\"\ntype = \"fanout\"\n\
         [[producers]]\nname = \"p\"\nexchange = \"fan\"\narrival = {{ dist = \"exponential\", rate = {rate} }}\n"
    );
    for (i, q) in queues.iter().enumerate() {
        s += &format!("[[queues]]\nname = \"q{i}\"\n");
        if i == 0 {
            s += "bindings = [{ exchange = \"fan\" }]\n";
        }
        if let Some(m) = q.max_length {
            s += &format!(
                "max_length = {m}\noverflow = \"{}\"\n",
                if q.reject { "reject-publish" } else { "drop-head" }
            );
        }
    }
    let services = [
        "{ dist = \"exponential\", mean = 0.2 }",
        "{ dist = \"constant\", value = 0.1 }",
        "{ dist = \"lognormal\", mean = 0.3, cv = 2.0 }",
        "{ dist = \"uniform\", min = 0.0, max = 0.4 }",
    ];
    for (i, q) in queues.iter().enumerate() {
        s += &format!(
            "[[consumers]]\nname = \"c{i}\"\nqueue = \"q{i}\"\ncount = {}\nprefetch = {}\nack = \"{}\"\nservice = {}\n",
            q.count,
            q.prefetch,
            if q.auto_ack { "auto" } else { "manual" },
            services[q.service as usize % services.len()]
        );
        // Onward only to a later queue, so pipelines never cycle.
        if let Some(t) = q.then_to {
            let target = i + 1 + t as usize;
            if target < queues.len() {
                s += &format!("then = {{ routing_key = \"q{target}\" }}\n");
            }
        }
    }
    s
}

fn arb_queue() -> impl Strategy<Value = Q> {
    (
        prop::option::of(0u8..8),
        any::<bool>(),
        1u8..4,
        0u8..4,
        prop::bool::weighted(0.2),
        0u8..4,
        prop::option::of(0u8..2),
    )
        .prop_map(|(max_length, reject, count, prefetch, auto_ack, service, then_to)| Q {
            max_length,
            reject,
            count,
            prefetch,
            auto_ack,
            service,
            then_to,
        })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    #[test]
    fn counts_balance_and_runs_repeat(rate in 0.5f64..30.0, queues in prop::collection::vec(arb_queue(), 1..4)) {
        let text = scenario(rate, &queues);
        let m = Model::from_toml(&text, "prop.toml").map_err(|e| TestCaseError::fail(e.to_string()))?;
        let a = simulate(&m, 0, None);
        for (i, q) in a.queues.iter().enumerate() {
            prop_assert!(q.counts.balanced(), "queue {i}: {:?}\n{text}", q.counts);
            prop_assert!(q.counts.delivered + q.counts.dropped <= q.counts.offered, "a delivered message is never dropped");
            prop_assert!(q.counts.completed <= q.counts.delivered);
        }
        let published = a.producers[0].published;
        prop_assert_eq!(a.queues[0].counts.offered, published, "the fanout copies every publish to q0");
        let b = simulate(&m, 0, None);
        for (x, y) in a.queues.iter().zip(&b.queues) {
            prop_assert_eq!(x.counts, y.counts);
            prop_assert_eq!(x.wait.mean(), y.wait.mean());
        }
    }
}

/// A queue of a random lifecycle scenario: every second-edition feature at random.
#[derive(Debug, Clone)]
struct L {
    ttl: Option<u8>,
    max_length: Option<u8>,
    overflow: u8,
    max_priority: Option<u8>,
    delivery_limit: Option<u8>,
    dead_letter_to: Option<u8>,
    count: u8,
    prefetch: u8,
    failure: Option<(u8, bool)>,
    crash: bool,
    then_to: Option<u8>,
}

fn arb_lifecycle_queue() -> impl Strategy<Value = L> {
    (
        (prop::option::of(0u8..4), prop::option::of(0u8..6), 0u8..3, prop::option::of(1u8..4)),
        (prop::option::of(1u8..4), prop::option::of(0u8..4), 0u8..3, 0u8..3),
        (
            prop::option::of((0u8..6, any::<bool>())),
            prop::bool::weighted(0.3),
            prop::option::of(0u8..2),
        ),
    )
        .prop_map(
            |(
                (ttl, max_length, overflow, max_priority),
                (delivery_limit, dead_letter_to, count, prefetch),
                (failure, crash, then_to),
            )| L {
                ttl,
                max_length,
                overflow,
                max_priority,
                delivery_limit,
                dead_letter_to,
                count,
                prefetch,
                failure,
                crash,
                then_to,
            },
        )
}

fn lifecycle_scenario(rate: f64, ttl: Option<u8>, queues: &[L]) -> String {
    let mut s = format!(
        "[simulation]\nhorizon = 60\nwarmup = 5\nreplications = 1\nseed = 5\n\
         [[exchanges]]\nname = \"dlx\"\ntype = \"direct\"\n\
         [[producers]]\nname = \"p\"\nrouting_key = \"q0\"\narrival = {{ dist = \"exponential\", rate = {rate} }}\n\
         priority = {{ values = [0, 1, 3], weights = [1, 1, 1] }}\n"
    );
    if let Some(t) = ttl {
        s += &format!("ttl = {}\n", f64::from(t) * 0.3);
    }
    let n = queues.len();
    for (i, q) in queues.iter().enumerate() {
        s += &format!(
            "[[queues]]\nname = \"q{i}\"\nbindings = [{{ exchange = \"dlx\", key = \"q{i}\" }}]\n"
        );
        if let Some(t) = q.ttl {
            s += &format!("message_ttl = {}\n", f64::from(t) * 0.2);
        }
        if let Some(m) = q.max_length {
            let o = ["drop-head", "reject-publish", "reject-publish-dlx"][q.overflow as usize % 3];
            s += &format!("max_length = {m}\noverflow = \"{o}\"\n");
        }
        if let Some(p) = q.max_priority {
            s += &format!("max_priority = {p}\n");
        }
        if let Some(l) = q.delivery_limit {
            s += &format!("delivery_limit = {l}\n");
        }
        if let Some(t) = q.dead_letter_to {
            // Any queue, itself and earlier ones included: dead-letter cycles are allowed.
            s += &format!(
                "dead_letter_exchange = \"dlx\"\ndead_letter_routing_key = \"q{}\"\n",
                t as usize % n
            );
        }
    }
    for (i, q) in queues.iter().enumerate() {
        if q.count == 0 {
            continue;
        }
        s += &format!(
            "[[consumers]]\nname = \"c{i}\"\nqueue = \"q{i}\"\ncount = {}\nprefetch = {}\nservice = {{ dist = \"exponential\", mean = 0.15 }}\n",
            q.count, q.prefetch
        );
        if let Some((p, requeue)) = q.failure {
            s += &format!(
                "failure = {{ probability = {}, action = \"{}\" }}\n",
                f64::from(p) / 6.0,
                if requeue { "requeue" } else { "reject" }
            );
        }
        if q.crash {
            s += "crash = { every = { dist = \"exponential\", mean = 3 }, restart = { dist = \"constant\", value = 0.5 } }\n";
        }
        if let Some(t) = q.then_to {
            let target = i + 1 + t as usize;
            if target < n {
                s += &format!("then = {{ routing_key = \"q{target}\" }}\n");
            }
        }
    }
    s
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    /// Nothing is lost: with TTLs, dead-letter cycles, priorities, delivery limits, failures
    /// and crashes, every queue balances exactly, and every message offered anywhere is a
    /// publish, an onward copy or a dead letter republished to exactly one queue.
    #[test]
    fn lifecycle_counts_balance_and_every_copy_is_accounted_for(
        rate in 1.0f64..25.0,
        ttl in prop::option::of(0u8..4),
        queues in prop::collection::vec(arb_lifecycle_queue(), 1..4),
    ) {
        let text = lifecycle_scenario(rate, ttl, &queues);
        let m = Model::from_toml(&text, "prop.toml").map_err(|e| TestCaseError::fail(e.to_string()))?;
        let a = simulate(&m, 0, None);
        let mut offered = 0;
        let mut republished = 0;
        for (i, q) in a.queues.iter().enumerate() {
            let c = &q.counts;
            prop_assert!(c.balanced(), "queue {i}: {c:?}\n{text}");
            let (expired, rejected) = (c.expired.unwrap(), c.rejected.unwrap());
            let dead = c.dead_lettered.unwrap() + c.dead_letter_cycles.unwrap();
            prop_assert!(dead <= c.dropped + expired + rejected, "queue {i}: {c:?}\n{text}");
            if m.queues[i].dead_letter.is_none() {
                prop_assert_eq!(dead, 0);
            }
            prop_assert!(c.redelivered <= Some(c.delivered));
            offered += c.offered;
            republished += c.dead_lettered.unwrap() - c.dead_letter_unroutable.unwrap();
        }
        let routed = a.producers[0].published - a.producers[0].unroutable;
        let onward: u64 = m
            .groups
            .iter()
            .zip(&a.groups)
            .filter(|(g, _)| g.then.as_ref().is_some_and(|t| !t.routes.is_empty()))
            .map(|(_, s)| s.served)
            .sum();
        prop_assert_eq!(offered, routed + onward + republished, "{}", text);
        let b = simulate(&m, 0, None);
        for (x, y) in a.queues.iter().zip(&b.queues) {
            prop_assert_eq!(x.counts, y.counts);
        }
    }
}
