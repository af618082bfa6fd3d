//! The in-process broker on its own: declare a topic exchange and two queues, bind them,
//! run two competing consumers with prefetch 1 on one queue, publish, acknowledge, and read
//! the counters.
//!
//! Run with `cargo run --example broker`.

use mqsim::broker::{Ack, Broker, ConsumerOptions, ExchangeKind, Overflow, QueueOptions};
use std::thread;
use std::time::Duration;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let broker: Broker<String> = Broker::new();
    broker.declare_exchange("events", ExchangeKind::Topic)?;
    broker.declare_queue("orders", QueueOptions::default())?;
    broker.declare_queue(
        "audit",
        QueueOptions { max_length: Some(100), overflow: Overflow::DropHead, ..Default::default() },
    )?;
    broker.bind("orders", "events", "order.*")?;
    broker.bind("audit", "events", "#")?;

    // Two competing consumers on "orders", fair dispatch (prefetch 1, manual ack).
    let workers: Vec<_> = (0..2)
        .map(|w| {
            let c = broker.consume("orders", ConsumerOptions { prefetch: 1, ack: Ack::Manual })?;
            Ok(thread::spawn(move || {
                let mut served = 0;
                while let Ok(d) = c.recv_timeout(Duration::from_millis(200)) {
                    thread::sleep(Duration::from_millis(1)); // the work
                    println!("worker {w}: {} (redelivered: {})", d.payload(), d.redelivered());
                    d.ack().expect("consumer alive");
                    served += 1;
                }
                served
            }))
        })
        .collect::<Result<_, mqsim::broker::BrokerError>>()?;

    for i in 0..10 {
        let key = if i % 2 == 0 { "order.created" } else { "order.paid" };
        let out = broker.publish("events", key, format!("order-{i} {key}"))?;
        assert_eq!(out.routed, 2); // "orders" and "audit"
    }
    let unroutable = broker.publish("", "no-such-queue", "lost?".to_string())?;
    println!("publish to a missing queue: unroutable = {}", unroutable.unroutable());

    let served: Vec<usize> = workers.into_iter().map(|h| h.join().expect("worker")).collect();
    println!("served per worker: {served:?}");
    for s in broker.stats() {
        println!(
            "{:>7}: offered {:>2} delivered {:>2} acked {:>2} dropped {} ready {:>2} unacked {} (balanced: {})",
            s.name,
            s.offered,
            s.delivered,
            s.acked,
            s.dropped,
            s.ready,
            s.unacked,
            s.balanced()
        );
    }
    broker.close();
    Ok(())
}
