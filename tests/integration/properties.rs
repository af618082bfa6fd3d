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
