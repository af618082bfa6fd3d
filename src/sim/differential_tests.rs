//! The simulator and the in-crate broker make the same dispatch decisions: one scripted
//! sequence of publishes, acks (the end of a service) and consumer losses, driven through
//! the engine's own event handlers and through the broker's public API, gives the same
//! deliveries (tag, consumer, message, redelivered flag) after every step.

use super::{Engine, Msg};
use crate::broker::{Broker, ConsumerOptions, Delivery, QueueOptions};
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
    let mut e = Engine::<true>::new(&m, 0);
    let mut trace = Trace::new();
    let mut seen = 0;
    let mut id = 0u32;
    for (step, &op) in ops.iter().enumerate() {
        e.now = step as f64;
        match op {
            Op::Publish => {
                let msg =
                    Msg { origin_t: f64::from(id), enq_t: e.now, producer: 0, key: 0, dl_mask: 0 };
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
