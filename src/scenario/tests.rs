use super::*;

/// Every core example of the scenario contract, in one file.
const CONTRACT: &str = r#"
name = "mmc-demo"                 # optional, defaults to the file stem
description = "8 workers at 80%"  # optional

[simulation]                      # core
horizon = "2h"        # simulated time per replication (required)
warmup = "10m"        # discarded from statistics; default 0
replications = 10     # independent replications; default 10
seed = 42

[[producers]]
name = "web"
exchange = ""                     # the default exchange
routing_key = "orders"
arrival = { dist = "exponential", rate = 64.0 }

[[producers]]
name = "events"
exchange = "events"
routing_key = "order.eu"
arrival = { dist = "exponential", mean = "100ms" }

[[producers]]
name = "p3"
arrival = { dist = "constant", value = "100ms" }
routing_key = "orders"

[[producers]]
name = "p4"
arrival = { dist = "uniform", min = "50ms", max = "150ms" }
routing_key = "orders"

[[producers]]
name = "p5"
arrival = { dist = "erlang", k = 4, mean = "100ms" }
routing_key = "orders"

[[producers]]
name = "p6"
arrival = { dist = "gamma", shape = 0.5, mean = "100ms" }
routing_key = "orders"

[[producers]]
name = "p7"
arrival = { dist = "lognormal", mean = "100ms", cv = 2.0 }
routing_key = "orders"

[[exchanges]]
name = "events"
type = "topic"

[[exchanges]]
name = "payments"
type = "direct"

[[queues]]
name = "orders"
bindings = [{ exchange = "events", key = "order.#" }]
max_length = 1000
overflow = "reject-publish"

[[queues]]
name = "payments"
bindings = [{ exchange = "payments", key = "payment.requested" }]

[[consumers]]
name = "order-workers"
queue = "orders"
count = 8
prefetch = 1
ack = "manual"
service = { dist = "exponential", mean = "100ms" }
then = { exchange = "payments", routing_key = "payment.requested" }

[[consumers]]
name = "payment-workers"
queue = "payments"
count = 2
ack = "auto"
service = { dist = "constant", value = 0.05 }

[loadtest]
time_scale = 0.02
horizon = "30s"
warmup = "3s"
"#;

#[test]
fn the_contract_example_parses_and_resolves() {
    let m = Model::from_toml(CONTRACT, "scenarios/x.toml").unwrap();
    assert_eq!(m.name, "mmc-demo");
    assert_eq!(m.simulation.horizon, 7200.0);
    assert_eq!(m.simulation.warmup, 600.0);
    assert_eq!(m.simulation.seed, 42);
    assert_eq!(m.producers.len(), 7);
    assert!((m.producers[0].arrival.mean() - 1.0 / 64.0).abs() < 1e-15);
    assert_eq!(m.producers[0].routes, vec![0]);
    assert_eq!(m.producers[1].routes, vec![0], "order.eu matches order.#");
    assert_eq!(m.queues[0].max_length, Some(1000));
    assert_eq!(m.queues[0].overflow, Overflow::RejectPublish);
    assert_eq!(m.queues[1].overflow, Overflow::DropHead);
    let g = &m.groups[0];
    assert_eq!((g.count, g.prefetch, g.ack), (8, 1, Ack::Manual));
    assert_eq!(g.then.as_ref().unwrap().routes, vec![1]);
    assert_eq!(m.groups[1].prefetch, 0);
    assert_eq!(m.groups[1].ack, Ack::Auto);
    assert_eq!(m.loadtest, Loadtest { time_scale: 0.02, horizon: 30.0, warmup: 3.0 });
    assert!(m.warnings.is_empty(), "{:?}", m.warnings);
}

#[test]
fn defaults_apply() {
    let m = Model::from_toml(
        "[simulation]\nhorizon = 100\n[[queues]]\nname = \"q\"\n[[producers]]\nname = \"p\"\nrouting_key = \"q\"\narrival = { dist = \"exponential\", rate = 1 }\n[[consumers]]\nname = \"c\"\nqueue = \"q\"\ncount = 1\nservice = { dist = \"exponential\", mean = 0.5 }\n",
        "dir/my-file.toml",
    )
    .unwrap();
    assert_eq!(m.name, "my-file");
    assert_eq!(
        m.simulation,
        Simulation {
            horizon: 100.0,
            warmup: 0.0,
            warmup_auto: false,
            replications: 10,
            seed: 1,
            window: None,
            precision: None,
            max_replications: 200,
        }
    );
    assert_eq!((m.groups[0].prefetch, m.groups[0].ack), (0, Ack::Manual));
}

fn problems(doc: &str) -> Vec<Problem> {
    Model::from_toml(doc, "t.toml").unwrap_err().problems
}

const BASE: &str = "[simulation]\nhorizon = 100\n[[queues]]\nname = \"q\"\n";

#[test]
fn unknown_field_is_an_error_with_path_and_line() {
    let doc = format!(
        "{BASE}[[consumers]]\nname = \"c\"\nqueue = \"q\"\ncount = 1\nprefech = 5\nservice = {{ dist = \"constant\", value = 1 }}\n"
    );
    let p = problems(&doc);
    assert_eq!(p.len(), 1);
    assert!(p[0].message.contains("prefech"), "{p:?}");
    assert!(p[0].path.starts_with("consumers[0]"), "{p:?}");
    assert_eq!(p[0].line, Some(9), "{p:?}");
}

#[test]
fn bad_cv_names_the_field() {
    let doc = format!(
        "{BASE}[[consumers]]\nname = \"c\"\nqueue = \"q\"\ncount = 1\nservice = {{ dist = \"lognormal\", mean = \"1s\", cv = 0 }}\n"
    );
    let p = problems(&doc);
    assert_eq!(p[0].path, "consumers[0].service.cv");
    assert_eq!(p[0].line, Some(9));
}

#[test]
fn every_semantic_problem_is_reported_at_once() {
    let doc = "[simulation]\nhorizon = 0\nreplications = 0\n\
        [[queues]]\nname = \"q\"\nbindings = [{ exchange = \"nope\", key = \"k\" }]\n\
        [[queues]]\nname = \"q\"\n\
        [[producers]]\nname = \"p\"\nexchange = \"ghost\"\narrival = { dist = \"exponential\", rate = -1 }\n\
        [[consumers]]\nname = \"c\"\nqueue = \"missing\"\ncount = 0\nservice = { dist = \"uniform\", min = 2, max = 1 }\n";
    let p = problems(doc);
    let paths: Vec<&str> = p.iter().map(|p| p.path.as_str()).collect();
    for want in [
        "simulation.horizon",
        "simulation.replications",
        "queues[1].name",
        "queues[0].bindings[0].exchange",
        "producers[0].arrival.rate",
        "producers[0].exchange",
        "consumers[0].queue",
        "consumers[0].count",
        "consumers[0].service.max",
    ] {
        assert!(paths.contains(&want), "missing {want} in {paths:?}");
    }
    assert!(p.iter().all(|p| p.line.is_some()), "{p:?}");
    let text = ScenarioError { origin: "t.toml".into(), problems: p }.to_string();
    assert!(text.contains("t.toml:15: consumers[0].queue: no queue named \"missing\""), "{text}");
}

#[test]
fn bad_duration_and_syntax_errors_carry_lines() {
    let p = problems("[simulation]\nhorizon = \"2 fortnights\"\n");
    assert_eq!(p[0].path, "simulation.horizon");
    assert_eq!(p[0].line, Some(2));
    let p = problems("[simulation]\nhorizon = \n");
    assert_eq!(p[0].line, Some(2));
    let p = problems("[simulation]\nhorizon = \"100\"\n");
    assert!(p[0].message.contains("no unit"), "{p:?}");
}

#[test]
fn missing_required_field_is_named() {
    let p = problems("[simulation]\nwarmup = 1\n");
    assert!(p[0].message.contains("horizon"), "{p:?}");
    let doc = format!(
        "{BASE}[[consumers]]\nname = \"c\"\nqueue = \"q\"\nservice = {{ dist = \"constant\", value = 1 }}\n"
    );
    let p = problems(&doc);
    assert!(p[0].message.contains("count"), "{p:?}");
    assert_eq!(p[0].path, "consumers[0]");
}

#[test]
fn unknown_distribution_and_exchange_type_are_errors() {
    let doc = format!(
        "{BASE}[[consumers]]\nname = \"c\"\nqueue = \"q\"\ncount = 1\nservice = {{ dist = \"weibul\", mean = 1 }}\n"
    );
    let p = problems(&doc);
    assert!(p[0].message.contains("weibul"), "{p:?}");
    let p =
        problems("[simulation]\nhorizon = 1\n[[exchanges]]\nname = \"e\"\ntype = \"headers2\"\n");
    assert!(p[0].message.contains("headers2"), "{p:?}");
    assert_eq!(p[0].line, Some(5));
}

#[test]
fn pipeline_cycles_are_refused() {
    let doc = format!(
        "{BASE}[[consumers]]\nname = \"c\"\nqueue = \"q\"\ncount = 1\nservice = {{ dist = \"constant\", value = 1 }}\nthen = {{ routing_key = \"q\" }}\n"
    );
    let p = problems(&doc);
    assert_eq!(p[0].path, "consumers[0].then");
    assert!(p[0].message.contains("cycle"));
}

#[test]
fn warmup_must_fit_in_horizon() {
    let p = problems("[simulation]\nhorizon = \"1m\"\nwarmup = \"2m\"\n");
    assert_eq!(p[0].path, "simulation.warmup");
}

#[test]
fn heavy_tailed_distributions_parse_and_check_their_parameters() {
    let svc = |d: &str| {
        format!("{BASE}[[consumers]]\nname = \"c\"\nqueue = \"q\"\ncount = 1\nservice = {d}\n")
    };
    for ok in [
        "{ dist = \"weibull\", shape = 0.7, mean = \"100ms\" }",
        "{ dist = \"pareto\", shape = 3.5, mean = \"1s\" }",
        "{ dist = \"hyperexponential\", mean = \"1s\", cv = 3 }",
    ] {
        let m = Model::from_toml(&svc(ok), "t.toml").unwrap_or_else(|e| panic!("{ok}: {e}"));
        let mean = m.groups[0].service.mean();
        assert!(mean == 0.1 || mean == 1.0, "{ok}: mean {mean}");
    }
    let p = problems(&svc("{ dist = \"pareto\", shape = 1.5, mean = \"1s\" }"));
    assert_eq!(p[0].path, "consumers[0].service.shape");
    assert!(p[0].message.contains("> 2"), "{p:?}");
    let p = problems(&svc("{ dist = \"hyperexponential\", mean = \"1s\", cv = 0.5 }"));
    assert_eq!(p[0].path, "consumers[0].service.cv");
}

/// A diamond with a side exit: a → {b, c} (two groups on a, one also fanning out to c),
/// b → d, c → d; d has a group without `then` and one whose `then` matches nothing; e is
/// read by nobody.
const DIAMOND: &str = r#"
[simulation]
horizon = "1h"
[[producers]]
name = "p"
routing_key = "a"
arrival = { dist = "exponential", rate = 1.0 }
[[exchanges]]
name = "fan"
type = "fanout"
[[queues]]
name = "d"
[[queues]]
name = "c"
bindings = [{ exchange = "fan", key = "" }]
[[queues]]
name = "b"
bindings = [{ exchange = "fan", key = "" }]
[[queues]]
name = "a"
[[queues]]
name = "e"
[[consumers]]
name = "a1"
queue = "a"
count = 1
service = { dist = "exponential", mean = "10ms" }
then = { routing_key = "b" }
[[consumers]]
name = "a2"
queue = "a"
count = 1
service = { dist = "exponential", mean = "10ms" }
then = { exchange = "fan", routing_key = "" }
[[consumers]]
name = "b1"
queue = "b"
count = 1
service = { dist = "exponential", mean = "10ms" }
then = { routing_key = "d" }
[[consumers]]
name = "c1"
queue = "c"
count = 1
service = { dist = "exponential", mean = "10ms" }
then = { routing_key = "d" }
[[consumers]]
name = "d1"
queue = "d"
count = 1
service = { dist = "exponential", mean = "10ms" }
[[consumers]]
name = "d2"
queue = "d"
count = 1
service = { dist = "exponential", mean = "10ms" }
then = { routing_key = "nowhere" }
"#;

#[test]
fn the_queue_graph_follows_then_routes() {
    let m = Model::from_toml(DIAMOND, "diamond.toml").unwrap();
    let (d, c, b, a, e) = (0, 1, 2, 3, 4);
    let edges: Vec<(usize, QueueId)> = m.onward_edges(a).collect();
    // Group a1 (index 0) reaches b; a2 (index 1) fans out to c and b (queue order).
    assert_eq!(edges, vec![(0, b), (1, c), (1, b)]);
    assert_eq!(m.successors(a).collect::<Vec<_>>(), vec![b, c, b]);
    assert_eq!(m.successors(b).collect::<Vec<_>>(), vec![d]);
    assert_eq!(m.successors(d).count(), 0, "no then, and a then that matches nothing");
    assert_eq!(m.successors(e).count(), 0);
    assert!(!m.path_can_end_at(a) && !m.path_can_end_at(b) && !m.path_can_end_at(c));
    assert!(m.path_can_end_at(d), "d1 publishes nothing onward");
    assert!(m.path_can_end_at(e), "nobody reads e");

    let order = m.topological_order();
    assert_eq!(order.len(), 5);
    let at = |q: QueueId| order.iter().position(|&x| x == q).unwrap();
    for q in 0..5 {
        for n in m.successors(q) {
            assert!(at(q) < at(n), "{q} before {n} in {order:?}");
        }
    }
}

/// A one-group scenario with the given service distribution.
fn with_service(d: &str) -> String {
    format!("{BASE}[[consumers]]\nname = \"c\"\nqueue = \"q\"\ncount = 1\nservice = {d}\n")
}

#[test]
fn lognormal_with_a_huge_cv_is_refused_not_a_panic() {
    // cv = 1e155 made σ² = ln(1 + cv²) infinite and `LogNormal::new` panicked
    // ("parameters checked: BadVariance").
    let p = problems(&with_service("{ dist = \"lognormal\", mean = 0.1, cv = 1e155 }"));
    assert_eq!(p[0].path, "consumers[0].service.cv", "{p:?}");
    assert_eq!(p[0].line, Some(9));
    assert!(p[0].message.contains("allowed up to 1000"), "{p:?}");
}

#[test]
fn hyperexponential_with_a_huge_cv_is_refused_not_a_panic() {
    // Same cv: p became NaN and `Exp::new` panicked ("rate > 0: LambdaTooSmall").
    let p = problems(&with_service("{ dist = \"hyperexponential\", mean = 0.1, cv = 1e155 }"));
    assert_eq!(p[0].path, "consumers[0].service.cv", "{p:?}");
    assert!(p[0].message.contains("allowed from 1 to 1000"), "{p:?}");
}

#[test]
fn gamma_with_a_vanishing_shape_is_refused() {
    // shape = 1e-300 was accepted and every draw underflowed to 0 (utilization 0).
    let p = problems(&with_service("{ dist = \"gamma\", shape = 1e-300, mean = 0.1 }"));
    assert_eq!(p[0].path, "consumers[0].service.shape", "{p:?}");
    assert!(p[0].message.contains("shape >= 1e-6"), "{p:?}");
}

#[test]
fn uniform_near_f64_max_is_refused_on_its_bound() {
    // min = 1e308, max = 1.7e308 overflowed the mean (min + max) / 2 to infinity.
    let p = problems(&with_service("{ dist = \"uniform\", min = 1e308, max = 1.7e308 }"));
    assert_eq!(p[0].path, "consumers[0].service.min", "{p:?}");
    assert!(p[0].message.contains("allowed up to 1e12 s"), "{p:?}");
}

#[test]
fn subnormal_rate_blames_the_rate_not_the_mean() {
    // rate = 1e-310 made mean = 1/rate infinite and the error named `service.mean`.
    let p = problems(&with_service("{ dist = \"exponential\", rate = 1e-310 }"));
    assert_eq!(p[0].path, "consumers[0].service.rate", "{p:?}");
    assert!(p[0].message.contains("out of range: allowed from 1e-12 to 1e12 per second"), "{p:?}");
}

#[test]
fn near_degenerate_shapes_are_refused_on_their_variance() {
    // Pareto just above 2 and Weibull with a tiny shape have an SCV far beyond what a
    // simulation can reproduce (or an infinite one once Γ overflows).
    let p = problems(&with_service("{ dist = \"pareto\", shape = 2.0000000001, mean = 1 }"));
    assert_eq!(p[0].path, "consumers[0].service.shape", "{p:?}");
    assert!(p[0].message.contains("squared coefficient of variation"), "{p:?}");
    let p = problems(&with_service("{ dist = \"weibull\", shape = 0.01, mean = 1 }"));
    assert_eq!(p[0].path, "consumers[0].service.shape", "{p:?}");
}

#[test]
fn errors_show_no_internal_type_names() {
    // `service = "100ms"` said "expected internally tagged enum RawDist".
    let p = problems(&with_service("\"100ms\""));
    assert!(!p[0].message.contains("Raw"), "{p:?}");
    assert!(p[0].message.contains("a distribution table like { dist = \"exponential\""), "{p:?}");
    let p = problems("[simulation]\nhorizon = 1\n[[queues]]\nname = \"q\"\nbindings = [\"x\"]\n");
    assert!(!p[0].message.contains("Raw") && p[0].message.contains("binding table"), "{p:?}");
    let p = problems("simulation = 3\n");
    assert!(!p[0].message.contains("Raw"), "{p:?}");
}

#[test]
fn seeds_take_every_u64_exactly() {
    // `--set simulation.seed=18446744073709551615` was refused as a float while `--seed`
    // accepted it: the full range is accepted, as a string beyond TOML's integers.
    let m = Model::from_toml("[simulation]\nhorizon = 1\nseed = \"18446744073709551615\"\n", "t")
        .unwrap();
    assert_eq!(m.simulation.seed, u64::MAX);
    let m = Model::from_toml("[simulation]\nhorizon = 1\nseed = 7\n", "t").unwrap();
    assert_eq!(m.simulation.seed, 7);
    let p = problems("[simulation]\nhorizon = 1\nseed = -1\n");
    assert!(p[0].message.contains("0 to 18446744073709551615"), "{p:?}");
    assert!(problems("[simulation]\nhorizon = 1\nseed = 1.5\n")[0].path.contains("seed"));
}

#[test]
fn over_long_names_and_keys_are_refused() {
    // A queue name of 65 536 characters panicked the table writer.
    let long = "q".repeat(65_536);
    let p = problems(&format!("[simulation]\nhorizon = 1\n[[queues]]\nname = \"{long}\"\n"));
    assert_eq!(p[0].path, "queues[0].name");
    assert!(
        p[0].message.contains("65536 bytes long; names and keys are limited to 255 bytes"),
        "{p:?}"
    );
    let ok = "q".repeat(255);
    Model::from_toml(&format!("[simulation]\nhorizon = 1\n[[queues]]\nname = \"{ok}\"\n"), "t")
        .unwrap();
}

#[test]
fn message_lifecycle_fields_parse() {
    let doc = r#"
[simulation]
horizon = "1h"
[[exchanges]]
name = "retry"
type = "direct"
[[producers]]
name = "p"
routing_key = "work"
ttl = "10s"
priority = { values = [9, 1], weights = [1, 3] }
arrival = { dist = "exponential", rate = 10 }
[[queues]]
name = "work"
message_ttl = "30s"
dead_letter_exchange = "retry"
delivery_limit = 5
delivery_limit_routing_key = "parked"
max_priority = 9
overflow = "reject-publish-dlx"
max_length = 100
[[queues]]
name = "delay"
bindings = [{ exchange = "retry", key = "work" }]
message_ttl = "5s"
dead_letter_exchange = ""
dead_letter_routing_key = "work"
[[queues]]
name = "parked"
bindings = [{ exchange = "retry", key = "parked" }]
[[consumers]]
name = "w"
queue = "work"
count = 2
service = { dist = "exponential", mean = "10ms" }
failure = { probability = 0.1, action = "reject" }
crash = { every = { dist = "exponential", mean = "1h" }, restart = { dist = "constant", value = "30s" } }
"#;
    let m = Model::from_toml(doc, "t.toml").unwrap();
    assert!(m.uses_message_lifecycle());
    let w = &m.queues[0];
    assert_eq!((w.message_ttl, w.delivery_limit, w.max_priority), (Some(30.0), Some(5), Some(9)));
    assert_eq!(w.overflow, Overflow::RejectPublishDlx);
    let dl = w.dead_letter.as_ref().unwrap();
    let key = |k: &str| m.keys.iter().position(|x| x == k).unwrap() as KeyId;
    // Own key "work" reaches the delay queue; at the limit, "parked" the parking lot.
    assert_eq!(dl.routes[dl.key_for(key("work"), crate::mq::Reason::Rejected) as usize], [1]);
    assert_eq!(dl.routes[dl.key_for(key("work"), crate::mq::Reason::DeliveryLimit) as usize], [2]);
    let d = m.queues[1].dead_letter.as_ref().unwrap();
    assert_eq!(d.routes[d.key_for(key("parked"), crate::mq::Reason::Expired) as usize], [0]);
    assert_eq!(m.producers[0].ttl, Some(10.0));
    assert_eq!(m.producers[0].priority.shares(), [(9, 0.25), (1, 0.75)]);
    let g = &m.groups[0];
    assert_eq!(g.failure, Some(Failure { probability: 0.1, requeue: false }));
    assert!(g.crash.is_some());
    // A delay queue (TTL, no consumers) is not warned about.
    assert!(!m.warnings.iter().any(|w| w.contains("\"delay\"")), "{:?}", m.warnings);
    // A first-edition scenario uses none of it.
    assert!(!Model::from_toml(BASE, "t.toml").unwrap().uses_message_lifecycle());
}

#[test]
fn bad_message_lifecycle_values_name_field_and_line() {
    let cases: [(&str, &str, &str); 9] = [
        ("message_ttl = \"-1s\"", "queues[0].message_ttl", ""),
        ("max_priority = 0", "queues[0].max_priority", "from 1 to 255"),
        ("max_priority = 256", "queues[0].max_priority", "from 1 to 255"),
        ("delivery_limit = 0", "queues[0].delivery_limit", ">= 1"),
        (
            "dead_letter_exchange = \"nope\"",
            "queues[0].dead_letter_exchange",
            "no exchange named \"nope\"",
        ),
        (
            "dead_letter_routing_key = \"k\"",
            "queues[0].dead_letter_routing_key",
            "needs a dead_letter_exchange",
        ),
        ("overflow = \"reject-publish-dl\"", "queues[0].overflow", "reject-publish-dlx"),
        ("priority = 3", "queues[0]", "priority"),
        ("max_length = 3\nmessage_ttl = \"1 fortnight\"", "queues[0].message_ttl", ""),
    ];
    for (line, path, words) in cases {
        let doc = format!("{BASE}{line}\n");
        let p = problems(&doc);
        assert!(p[0].path.starts_with(path), "{line}: {p:?}");
        assert!(p[0].message.contains(words), "{line}: {p:?}");
        assert!(p[0].line.is_some(), "{line}: {p:?}");
    }
    let consumer = |extra: &str| {
        format!(
            "{BASE}[[consumers]]\nname = \"c\"\nqueue = \"q\"\ncount = 1\nservice = {{ dist = \"constant\", value = 1 }}\n{extra}\n"
        )
    };
    let p = problems(&consumer("failure = { probability = 1.5, action = \"requeue\" }"));
    assert_eq!((p[0].path.as_str(), p[0].line), ("consumers[0].failure.probability", Some(10)));
    let p = problems(&consumer("failure = { probability = 0.5, action = \"retry\" }"));
    assert!(p[0].message.contains("`requeue` or `reject`"), "{p:?}");
    let p = problems(&consumer(
        "ack = \"auto\"\nfailure = { probability = 0.5, action = \"requeue\" }",
    ));
    assert!(p[0].message.contains("auto-ack"), "{p:?}");
    let p = problems(&consumer(
        "crash = { every = { dist = \"exponential\", mean = \"-1h\" }, restart = { dist = \"constant\", value = 1 } }",
    ));
    assert!(p[0].path.starts_with("consumers[0].crash.every"), "{p:?}");
    let producer = |extra: &str| {
        format!(
            "{BASE}[[producers]]\nname = \"p\"\nrouting_key = \"q\"\narrival = {{ dist = \"constant\", value = 1 }}\n{extra}\n"
        )
    };
    let p = problems(&producer("priority = 300"));
    assert_eq!(p[0].path, "producers[0].priority");
    let p = problems(&producer("priority = { values = [1, 2], weights = [1] }"));
    assert!(p[0].message.contains("as many weights as values"), "{p:?}");
    let p = problems(&producer("ttl = \"-5s\""));
    assert_eq!(p[0].path, "producers[0].ttl");
}

#[test]
fn network_delay_is_parsed_and_refused_with_crash() {
    let ok = format!(
        "{BASE}[[consumers]]\nname = \"c\"\nqueue = \"q\"\ncount = 1\nservice = {{ dist = \"constant\", value = 1 }}\nnetwork_delay = \"1ms\"\n"
    );
    let m = Model::from_toml(&ok, "t.toml").unwrap();
    assert_eq!(m.groups[0].network_delay, 0.001);
    assert!(!m.uses_message_lifecycle());
    let bad = format!(
        "{ok}crash = {{ every = {{ dist = \"exponential\", mean = \"1h\" }}, restart = {{ dist = \"constant\", value = \"1s\" }} }}\n"
    );
    let p = problems(&bad);
    assert!(
        p.iter().any(|p| p.path == "consumers[0].network_delay" && p.message.contains("crash")),
        "{p:?}"
    );
    let p = problems(&ok.replace("\"1ms\"", "-1"));
    assert_eq!(p[0].path, "consumers[0].network_delay", "{p:?}");
}

#[test]
fn publish_delay_is_parsed_checked_and_refused_on_a_topic_producer() {
    let producer = |extra: &str| {
        format!(
            "{BASE}[[producers]]\nname = \"p\"\nrouting_key = \"q\"\narrival = {{ dist = \"constant\", value = 1 }}\n{extra}\n"
        )
    };
    let m = Model::from_toml(&producer("publish_delay = \"3ms\""), "t.toml").unwrap();
    assert_eq!(m.producers[0].publish_delay, 0.003);
    let m = Model::from_toml(&producer(""), "t.toml").unwrap();
    assert_eq!(m.producers[0].publish_delay, 0.0);
    for bad in ["publish_delay = -1", "publish_delay = \"nan s\"", "publish_delay = 1e400"] {
        let p = problems(&producer(bad));
        assert_eq!(p[0].path, "producers[0].publish_delay", "{bad}: {p:?}");
    }
}
