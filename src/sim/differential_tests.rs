//! The simulator and the in-crate broker make the same dispatch decisions: one scripted
//! sequence of publishes, acks (the end of a service) and consumer losses, driven through
//! the engine's own event handlers and through the broker's public API, gives the same
//! deliveries (tag, consumer, message, redelivered flag) after every step.

use super::{DeadLetterTrail, Engine, Full, Msg, Trail};
use crate::broker::{Broker, Consumer, ConsumerOptions, Delivery, QueueOptions};
use crate::mq::Props;
use crate::scenario::{Ack, Model, Overflow};
use proptest::prelude::*;
use std::collections::VecDeque;

#[derive(Debug, Clone, Copy)]
enum Op {
    Publish,
    /// Consumer k finishes the message it is serving (its oldest held one) and acks it.
    Ack(usize),
    /// Consumer k goes away.
    Lose(usize),
}

/// (step, delivery tag, consumer, message id, redelivered)
type Trace = Vec<(usize, u64, usize, u32, bool)>;

struct Setup {
    consumers: u32,
    prefetch: u32,
    max_length: Option<u64>,
    overflow: Overflow,
}

fn model(s: &Setup) -> Model {
    let bound = match s.max_length {
        Some(m) => format!(
            "max_length = {m}\noverflow = \"{}\"",
            if s.overflow == Overflow::DropHead { "drop-head" } else { "reject-publish" }
        ),
        None => String::new(),
    };
    let text = format!(
        "[simulation]\nhorizon = 10\nreplications = 1\n[[producers]]\nname = \"p\"\n\
         routing_key = \"q\"\narrival = {{ dist = \"exponential\", rate = 1 }}\n\
         [[queues]]\nname = \"q\"\n{bound}\n[[consumers]]\nname = \"c\"\nqueue = \"q\"\n\
         count = {}\nprefetch = {}\nservice = {{ dist = \"exponential\", rate = 1 }}\n",
        s.consumers, s.prefetch
    );
    Model::from_toml(&text, "script.toml").expect("valid script scenario")
}

fn through_simulator(s: &Setup, ops: &[Op]) -> Trace {
    let m = model(s);
    let mut e = Engine::<Full>::new(&m, 0, None);
    let mut trace = Trace::new();
    let mut seen = 0;
    let mut id = 0u32;
    for (step, &op) in ops.iter().enumerate() {
        e.now = step as f64;
        match op {
            Op::Publish => {
                let msg = Msg {
                    origin_t: f64::from(id),
                    enq_t: e.now,
                    producer: 0,
                    trail: DeadLetterTrail::new(0),
                };
                e.arrive(0, msg, Props::default());
                id += 1;
            }
            Op::Ack(k) => {
                if e.cores[0].front_held(k).is_some() {
                    e.service_end(k);
                }
            }
            Op::Lose(k) => {
                if e.cores[0].has_consumer(k) {
                    e.lose_consumer(k);
                }
            }
        }
        let mut new: Vec<_> = (0..s.consumers as usize)
            .flat_map(|k| {
                e.cores[0].held(k).filter(|h| h.tag > seen).map(move |h| {
                    (step, h.tag, k, h.entry.msg.origin_t as u32, h.entry.redelivered)
                })
            })
            .collect();
        new.sort_unstable_by_key(|d| d.1);
        seen = new.last().map_or(seen, |d| d.1);
        trace.extend(new);
    }
    trace
}

fn through_broker(s: &Setup, ops: &[Op]) -> Trace {
    let b: Broker<u32> = Broker::new();
    let options =
        QueueOptions { max_length: s.max_length, overflow: s.overflow, ..QueueOptions::default() };
    b.declare_queue("q", options).unwrap();
    let mut consumers: Vec<_> = (0..s.consumers)
        .map(|_| {
            let o = ConsumerOptions { prefetch: s.prefetch, ack: Ack::Manual };
            Some(b.consume("q", o).unwrap())
        })
        .collect();
    let mut held: Vec<VecDeque<Delivery<u32>>> =
        consumers.iter().map(|_| VecDeque::new()).collect();
    let mut trace = Trace::new();
    let mut id = 0u32;
    for (step, &op) in ops.iter().enumerate() {
        match op {
            Op::Publish => {
                b.publish("", "q", id).unwrap();
                id += 1;
            }
            Op::Ack(k) => {
                if let Some(d) = held[k].pop_front() {
                    d.ack().unwrap();
                }
            }
            Op::Lose(k) => {
                // The consumer goes first, so its deliveries return with it, in order.
                drop(consumers[k].take());
                held[k].clear();
            }
        }
        let mut new = Vec::new();
        for (k, c) in consumers.iter().enumerate() {
            let Some(c) = c else { continue };
            while let Ok(d) = c.try_recv() {
                new.push((step, d.delivery_tag(), k, *d.payload(), d.redelivered()));
                held[k].push_back(d);
            }
        }
        new.sort_unstable_by_key(|d| d.1);
        trace.extend(new);
    }
    trace
}

fn op(consumers: usize) -> impl Strategy<Value = Op> {
    prop_oneof![
        5 => Just(Op::Publish),
        4 => (0..consumers).prop_map(Op::Ack),
        1 => (0..consumers).prop_map(Op::Lose),
    ]
}

#[test]
fn a_fixed_script_gives_the_same_deliveries() {
    // Prefetch 1: after the acks of 1 then 0, the line is [1, 0], so message 3 goes to
    // consumer 1 (the longest idle). The broker used to scan from a cursor past the last
    // consumer served (2), and gave it to 0.
    use Op::*;
    let s = Setup { consumers: 3, prefetch: 1, max_length: None, overflow: Overflow::DropHead };
    let ops = [
        Publish,
        Publish,
        Publish,
        Ack(1),
        Ack(0),
        Publish,
        Publish,
        Publish,
        Lose(1),
        Ack(0),
        Ack(2),
    ];
    let sim = through_simulator(&s, &ops);
    assert_eq!(sim, through_broker(&s, &ops));
    let (ids, to): (Vec<u32>, Vec<usize>) = sim.iter().map(|d| (d.3, d.2)).unzip();
    assert_eq!(ids, [0, 1, 2, 3, 4, 3, 5]);
    assert_eq!(to, [0, 1, 2, 1, 0, 0, 2]);
    assert!(sim[5].4, "message 3 comes back redelivered");
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    #[test]
    fn random_scripts_give_the_same_deliveries(
        consumers in 1u32..4,
        prefetch in 0u32..4,
        max_length in prop::option::of(0u64..4),
        reject in any::<bool>(),
        seed_ops in prop::collection::vec(op(3), 1..80),
    ) {
        let overflow = if reject { Overflow::RejectPublish } else { Overflow::DropHead };
        let s = Setup { consumers, prefetch, max_length, overflow };
        let ops: Vec<Op> = seed_ops
            .into_iter()
            .map(|o| match o {
                Op::Ack(k) => Op::Ack(k % consumers as usize),
                Op::Lose(k) => Op::Lose(k % consumers as usize),
                p => p,
            })
            .collect();
        prop_assert_eq!(through_simulator(&s, &ops), through_broker(&s, &ops));
    }
}

/// One step of a lifecycle script.
#[derive(Debug, Clone, Copy)]
enum Step {
    /// A publish to `q` with a priority and a per-message TTL (in steps).
    Publish { priority: u8, ttl: Option<u8> },
    /// Consumer k's service of its oldest held message ends: ack.
    Ack(usize),
    /// Consumer k's service fails: nack, with or without requeue.
    Nack(usize, bool),
    /// Consumer k goes away.
    Lose(usize),
    /// Time passes.
    Wait,
}

/// (step, delivery tag, consumer, message id, redelivered, priority), deliveries from `q`.
type LifeTrace = Vec<(usize, u64, usize, u32, bool, u8)>;

/// Per step and queue: offered, delivered, acked, dropped, expired, rejected, redelivered,
/// ready, held, dead-lettered, unroutable dead letters, cycle drops.
type Counters = Vec<[u64; 12]>;

struct Lifecycle {
    consumers: u32,
    prefetch: u32,
    max_length: Option<u64>,
    /// `q`'s TTL, in steps.
    ttl: Option<u8>,
}

/// `q` (priorities up to 3, a delivery limit of 3) dead-letters into the `retry` exchange:
/// to a delay queue with its own key (TTL 2 steps, which dead-letters back to `q` by name
/// through the default exchange), or to `parked` at the delivery limit.
fn lifecycle_model(s: &Lifecycle) -> Model {
    let mut extra = String::new();
    if let Some(m) = s.max_length {
        extra += &format!("max_length = {m}\n");
    }
    if let Some(t) = s.ttl {
        extra += &format!("message_ttl = {t}\n");
    }
    let text = format!(
        r#"
[simulation]
horizon = 1000
replications = 1
[[exchanges]]
name = "retry"
type = "direct"
[[producers]]
name = "p"
routing_key = "q"
arrival = {{ dist = "exponential", rate = 1 }}
[[queues]]
name = "q"
max_priority = 3
delivery_limit = 3
dead_letter_exchange = "retry"
delivery_limit_routing_key = "parked"
{extra}
[[queues]]
name = "delay"
bindings = [{{ exchange = "retry", key = "q" }}]
message_ttl = 2
dead_letter_exchange = ""
[[queues]]
name = "parked"
bindings = [{{ exchange = "retry", key = "parked" }}]
[[consumers]]
name = "c"
queue = "q"
count = {}
prefetch = {}
service = {{ dist = "exponential", rate = 1 }}
"#,
        s.consumers, s.prefetch
    );
    let mut m = Model::from_toml(&text, "lifecycle.toml").expect("valid lifecycle scenario");
    m.loadtest.time_scale = 1.0;
    m
}

fn props(priority: u8, ttl: Option<u8>) -> Props {
    Props { ttl: ttl.map(f64::from), priority, deliveries: 0 }
}

fn lifecycle_through_simulator(s: &Lifecycle, steps: &[Step]) -> (LifeTrace, Counters) {
    let m = lifecycle_model(s);
    let mut e = Engine::<Full>::new(&m, 0, None);
    let (mut trace, mut counters) = (LifeTrace::new(), Counters::new());
    let mut seen = 0;
    // New deliveries from q, in tag order.
    let collect = |e: &Engine<Full>, step, seen: &mut u64, trace: &mut LifeTrace| {
        let mut new: Vec<_> = (0..s.consumers as usize)
            .flat_map(|k| {
                e.cores[0].held(k).filter(|h| h.tag > *seen).map(move |h| {
                    let id = h.entry.msg.origin_t as u32;
                    (step, h.tag, k, id, h.entry.redelivered, h.entry.priority())
                })
            })
            .collect();
        new.sort_unstable_by_key(|d| d.1);
        *seen = new.last().map_or(*seen, |d| d.1);
        trace.extend(new);
    };
    let mut id = 0u32;
    for (step, &op) in steps.iter().enumerate() {
        e.now = step as f64;
        for q in 0..e.cores.len() {
            e.expire(q);
        }
        // What the expiries brought (a consumer may serve it within this step).
        collect(&e, step, &mut seen, &mut trace);
        match op {
            Step::Publish { priority, ttl } => {
                let msg = Msg {
                    origin_t: f64::from(id),
                    enq_t: e.now,
                    producer: 0,
                    trail: DeadLetterTrail::new(0),
                };
                e.arrive(0, msg, props(priority, ttl));
                id += 1;
            }
            Step::Ack(k) | Step::Nack(k, _) => {
                if e.cores[0].front_held(k).is_some() {
                    let failed = match op {
                        Step::Nack(_, requeue) => Some(requeue),
                        _ => None,
                    };
                    e.settle_service(k, failed);
                }
            }
            Step::Lose(k) => {
                if e.cores[0].has_consumer(k) {
                    e.lose_consumer(k);
                }
            }
            Step::Wait => {}
        }
        collect(&e, step, &mut seen, &mut trace);
        for (core, st) in e.cores.iter().zip(&e.side.queues) {
            let c = core.counters();
            counters.push([
                c.offered,
                c.delivered,
                c.acked,
                c.dropped,
                c.expired,
                c.rejected,
                c.redelivered,
                core.ready_len() as u64,
                core.held_len(),
                st.dead_lettered,
                st.dead_letter_unroutable,
                st.dead_letter_cycles,
            ]);
        }
    }
    (trace, counters)
}

fn lifecycle_through_broker(s: &Lifecycle, steps: &[Step]) -> (LifeTrace, Counters) {
    let m = lifecycle_model(s);
    // Declared exactly as the load test declares a model's queues.
    let (b, time) = Broker::<u32>::from_router_on_manual_clock(
        m.router.clone(),
        crate::loadtest::queue_declarations(&m),
    )
    .unwrap();
    let mut consumers: Vec<_> = (0..s.consumers)
        .map(|_| {
            let o = ConsumerOptions { prefetch: s.prefetch, ack: Ack::Manual };
            Some(b.consume("q", o).unwrap())
        })
        .collect();
    let mut held: Vec<VecDeque<Delivery<u32>>> =
        consumers.iter().map(|_| VecDeque::new()).collect();
    let (mut trace, mut counters) = (LifeTrace::new(), Counters::new());
    // New deliveries from q, in tag order, into the consumers' hands.
    let collect = |consumers: &[Option<Consumer<u32>>],
                   held: &mut [VecDeque<Delivery<u32>>],
                   step,
                   trace: &mut LifeTrace| {
        let mut new = Vec::new();
        for (k, c) in consumers.iter().enumerate() {
            let Some(c) = c else { continue };
            while let Ok(d) = c.try_recv() {
                let tag = d.delivery_tag();
                new.push((step, tag, k, *d.payload(), d.redelivered(), d.priority()));
                held[k].push_back(d);
            }
        }
        new.sort_unstable_by_key(|d| d.1);
        trace.extend(new);
    };
    let mut id = 0u32;
    for (step, &op) in steps.iter().enumerate() {
        time.set(step as f64);
        b.expire_due();
        collect(&consumers, &mut held, step, &mut trace);
        match op {
            Step::Publish { priority, ttl } => {
                b.publish_with("", "q", id, props(priority, ttl)).unwrap();
                id += 1;
            }
            Step::Ack(k) => {
                if let Some(d) = held[k].pop_front() {
                    d.ack().unwrap();
                }
            }
            Step::Nack(k, requeue) => {
                if let Some(d) = held[k].pop_front() {
                    d.nack(requeue).unwrap();
                }
            }
            Step::Lose(k) => {
                drop(consumers[k].take());
                held[k].clear();
            }
            Step::Wait => {}
        }
        collect(&consumers, &mut held, step, &mut trace);
        for q in b.stats() {
            counters.push([
                q.offered,
                q.delivered,
                q.acked,
                q.dropped,
                q.expired,
                q.rejected,
                q.redelivered,
                q.ready,
                q.unacked,
                q.dead_lettered,
                q.dead_letter_unroutable,
                q.dead_letter_cycles,
            ]);
        }
    }
    (trace, counters)
}

fn step(consumers: usize) -> impl Strategy<Value = Step> {
    prop_oneof![
        5 => (0u8..6, prop::option::weighted(0.3, 0u8..4))
            .prop_map(|(priority, ttl)| Step::Publish { priority, ttl }),
        3 => (0..consumers).prop_map(Step::Ack),
        2 => (0..consumers, any::<bool>()).prop_map(|(k, r)| Step::Nack(k, r)),
        1 => (0..consumers).prop_map(Step::Lose),
        1 => Just(Step::Wait),
    ]
}

#[test]
fn a_fixed_lifecycle_script_gives_the_same_deliveries() {
    use Step::*;
    let s = Lifecycle { consumers: 2, prefetch: 1, max_length: Some(2), ttl: Some(5) };
    let p = |priority| Publish { priority, ttl: None };
    // Priorities, a rejection into the delay queue and back, a per-message TTL, a requeue
    // that overfills the drop-head queue, requeues up to the delivery limit, a lost consumer.
    let steps = [
        p(0),
        p(1),
        p(0),
        p(3),
        Nack(0, false),
        Publish { priority: 2, ttl: Some(1) },
        Nack(1, true),
        Wait,
        Ack(0),
        Nack(0, true),
        Nack(1, true),
        Nack(0, true),
        Ack(1),
        Ack(0),
        Lose(0),
        Ack(1),
        Wait,
        Ack(1),
    ];
    let sim = lifecycle_through_simulator(&s, &steps);
    let broker = lifecycle_through_broker(&s, &steps);
    assert_eq!(sim, broker);
    let (trace, counters) = sim;
    // Message 0, rejected at step 4, waits 2 steps in the delay queue and comes back: a new
    // message to q, not a redelivery.
    assert!(trace.iter().any(|d| d.3 == 0 && d.0 > 4 && !d.4), "{trace:?}");
    // Priority 3 overtook message 2.
    let order: Vec<u32> = trace.iter().map(|d| d.3).collect();
    let at = |i| order.iter().position(|&x| x == i);
    assert!(at(3) < at(2), "{order:?}");
    let last = &counters[counters.len() - 3..];
    let (q, delay) = (last[0], last[1]);
    assert!(q[3] >= 1 && q[4] >= 1 && q[5] >= 1, "dropped, expired, rejected: {q:?}");
    assert!(q[9] >= 3 && delay[4] >= 1 && delay[9] >= 1, "q {q:?} delay {delay:?}");
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    #[test]
    fn random_lifecycle_scripts_give_the_same_deliveries_and_counts(
        consumers in 1u32..4,
        prefetch in 0u32..4,
        max_length in prop::option::of(0u64..4),
        ttl in prop::option::of(1u8..6),
        raw in prop::collection::vec(step(3), 1..80),
    ) {
        let s = Lifecycle { consumers, prefetch, max_length, ttl };
        let n = consumers as usize;
        let steps: Vec<Step> = raw
            .into_iter()
            .map(|o| match o {
                Step::Ack(k) => Step::Ack(k % n),
                Step::Nack(k, r) => Step::Nack(k % n, r),
                Step::Lose(k) => Step::Lose(k % n),
                p => p,
            })
            .collect();
        let (trace, counters) = lifecycle_through_simulator(&s, &steps);
        let broker = lifecycle_through_broker(&s, &steps);
        prop_assert_eq!(&trace, &broker.0);
        prop_assert_eq!(&counters, &broker.1);
    }
}
