//! Broker throughput and latency, each beside a bare `std::sync::mpsc` pipeline doing the
//! same work in the same run, so the numbers say what the broker's semantics cost over the
//! cheapest way to move a message between threads.
//!
//! Fixed scenarios:
//! - `1p-1q-1c`: one publisher thread → default exchange → one queue → one consumer thread
//!   (manual ack, prefetch unlimited, no service time), `N` messages.
//! - `4p-fanout-4q-4c`: four publisher threads → a fanout exchange → four queues, one
//!   consumer each; every message is delivered four times (`4N` deliveries).
//! - publish → deliver latency at low load (one message every 200 µs), p50/p99.
//!
//! `cargo bench --bench broker` (add `-- --quick` for a faster, rougher run).

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use mqsim::broker::{Ack, Broker, ConsumerOptions, ExchangeKind, QueueOptions};
use mqsim::stats::LatencyHistogram;
use std::hint::black_box;
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

/// Messages per publisher per iteration.
const N: u64 = 20_000;
const RECV_TIMEOUT: Duration = Duration::from_secs(10);

fn broker_pipeline(publishers: u64, queues: usize) -> Duration {
    let b: Broker<u64> = Broker::new();
    let exchange = if queues == 1 {
        b.declare_queue("q0", QueueOptions::default()).unwrap();
        ""
    } else {
        b.declare_exchange("fan", ExchangeKind::Fanout).unwrap();
        for q in 0..queues {
            let name = format!("q{q}");
            b.declare_queue(&name, QueueOptions::default()).unwrap();
            b.bind(&name, "fan", "").unwrap();
        }
        "fan"
    };
    let ex = b.exchange_id(exchange).unwrap();
    let consumers: Vec<_> = (0..queues)
        .map(|q| {
            let c = b
                .consume(&format!("q{q}"), ConsumerOptions { prefetch: 0, ack: Ack::Manual })
                .unwrap();
            thread::spawn(move || {
                for _ in 0..N * publishers {
                    let d = c.recv_timeout(RECV_TIMEOUT).expect("delivery");
                    black_box(d.payload());
                    d.ack().unwrap();
                }
            })
        })
        .collect();
    let start = Instant::now();
    let pubs: Vec<_> = (0..publishers)
        .map(|_| {
            let b = b.clone();
            thread::spawn(move || {
                for i in 0..N {
                    b.publish_to(ex, "q0", i).unwrap();
                }
            })
        })
        .collect();
    pubs.into_iter().for_each(|h| h.join().unwrap());
    consumers.into_iter().for_each(|h| h.join().unwrap());
    start.elapsed()
}

fn mpsc_pipeline(publishers: u64, queues: usize) -> Duration {
    let (txs, rxs): (Vec<_>, Vec<_>) = (0..queues).map(|_| mpsc::channel::<u64>()).unzip();
    let consumers: Vec<_> = rxs
        .into_iter()
        .map(|rx| {
            thread::spawn(move || {
                for _ in 0..N * publishers {
                    black_box(rx.recv_timeout(RECV_TIMEOUT).expect("message"));
                }
            })
        })
        .collect();
    let start = Instant::now();
    let pubs: Vec<_> = (0..publishers)
        .map(|_| {
            let txs = txs.clone();
            thread::spawn(move || {
                for i in 0..N {
                    for tx in &txs {
                        tx.send(i).unwrap();
                    }
                }
            })
        })
        .collect();
    pubs.into_iter().for_each(|h| h.join().unwrap());
    consumers.into_iter().for_each(|h| h.join().unwrap());
    start.elapsed()
}

fn median_rate(runs: usize, deliveries: u64, f: impl Fn() -> Duration) -> f64 {
    let mut rates: Vec<f64> = (0..runs).map(|_| deliveries as f64 / f().as_secs_f64()).collect();
    rates.sort_by(f64::total_cmp);
    rates[runs / 2]
}

fn throughput(c: &mut Criterion) {
    for (name, publishers, queues) in [("1p-1q-1c", 1u64, 1usize), ("4p-fanout-4q-4c", 4, 4)] {
        let deliveries = N * publishers * queues as u64;
        let mut g = c.benchmark_group(format!("throughput/{name}"));
        g.throughput(Throughput::Elements(deliveries));
        g.sample_size(10);
        g.measurement_time(Duration::from_secs(4));
        g.bench_function(BenchmarkId::from_parameter("broker"), |b| {
            b.iter_custom(|iters| (0..iters).map(|_| broker_pipeline(publishers, queues)).sum())
        });
        g.bench_function(BenchmarkId::from_parameter("mpsc"), |b| {
            b.iter_custom(|iters| (0..iters).map(|_| mpsc_pipeline(publishers, queues)).sum())
        });
        g.finish();
        // Criterion reports each alone; the ratio needs both from the same moment of a
        // shared machine, so measure them interleaved here.
        let broker = median_rate(7, deliveries, || broker_pipeline(publishers, queues));
        let mpsc = median_rate(7, deliveries, || mpsc_pipeline(publishers, queues));
        println!(
            "{name}: broker {:.0} deliveries/s, mpsc {:.0} deliveries/s, broker/mpsc = {:.2}",
            broker,
            mpsc,
            broker / mpsc
        );
    }
}

/// Publish → `recv` returns, one message every `GAP`, so nothing queues.
fn latency(_: &mut Criterion) {
    const SAMPLES: usize = 5_000;
    const GAP: Duration = Duration::from_micros(200);
    let pace = |i: usize, start: Instant| {
        let due = start + GAP * i as u32;
        while Instant::now() < due {
            std::hint::spin_loop();
        }
    };

    let b: Broker<Instant> = Broker::new();
    b.declare_queue("q", QueueOptions::default()).unwrap();
    let c = b.consume("q", ConsumerOptions { prefetch: 1, ack: Ack::Manual }).unwrap();
    let rx = thread::spawn(move || {
        let mut h = LatencyHistogram::new();
        for _ in 0..SAMPLES {
            let d = c.recv_timeout(RECV_TIMEOUT).expect("delivery");
            h.record(d.payload().elapsed().as_secs_f64());
            d.ack().unwrap();
        }
        h
    });
    let start = Instant::now();
    for i in 0..SAMPLES {
        pace(i, start);
        b.publish("", "q", Instant::now()).unwrap();
    }
    let broker = rx.join().unwrap();

    let (tx, rx) = mpsc::channel::<Instant>();
    let rx = thread::spawn(move || {
        let mut h = LatencyHistogram::new();
        for _ in 0..SAMPLES {
            h.record(rx.recv_timeout(RECV_TIMEOUT).expect("message").elapsed().as_secs_f64());
        }
        h
    });
    let start = Instant::now();
    for i in 0..SAMPLES {
        pace(i, start);
        tx.send(Instant::now()).unwrap();
    }
    let mpsc = rx.join().unwrap();
    let us = |h: &LatencyHistogram, q: f64| h.quantile(q).unwrap_or(f64::NAN) * 1e6;
    println!(
        "latency publish->deliver (1 msg / 200 us): broker p50 {:.1} us p99 {:.1} us; mpsc p50 {:.1} us p99 {:.1} us",
        us(&broker, 0.5),
        us(&broker, 0.99),
        us(&mpsc, 0.5),
        us(&mpsc, 0.99)
    );
}

criterion_group!(benches, throughput, latency);
criterion_main!(benches);
