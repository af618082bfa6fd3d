//! Nothing-lost tests: counts balance under concurrency, dead consumers' messages are
//! redelivered, prefetch bounds what a consumer holds, routing agrees with `Router`.

use super::*;
use crate::routing::Router;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::thread;
use std::time::{Duration, Instant};

const T: Duration = Duration::from_secs(5);

/// Held by the tests that load every core or need the real clock to be punctual, so the
/// test harness's parallel threads do not run them on top of each other.
pub(crate) static CPU_HEAVY: std::sync::Mutex<()> = std::sync::Mutex::new(());

/// Takes [`CPU_HEAVY`] (a failed test elsewhere must not poison the others).
pub(crate) fn cpu_heavy() -> std::sync::MutexGuard<'static, ()> {
    CPU_HEAVY.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

fn manual(prefetch: u32) -> ConsumerOptions {
    ConsumerOptions { prefetch, ack: Ack::Manual }
}

fn bounded(max: u64, overflow: Overflow) -> QueueOptions {
    QueueOptions { max_length: Some(max), overflow, ..QueueOptions::default() }
}

#[test]
fn counts_balance_after_concurrent_publishers() {
    let _serial = cpu_heavy();
    let b: Broker<u64> = Broker::new();
    b.declare_exchange("ev", ExchangeKind::Topic).unwrap();
    let queues = [
        ("all", QueueOptions::default(), "*.*"),
        ("orders", bounded(50, Overflow::DropHead), "order.*"),
        ("eu", bounded(20, Overflow::RejectPublish), "*.eu"),
        ("zero", bounded(0, Overflow::DropHead), "order.eu"),
        ("idle", bounded(30, Overflow::RejectPublish), "#.us"),
    ];
    for (q, o, k) in queues {
        b.declare_queue(q, o).unwrap();
        b.bind(q, "ev", k).unwrap();
    }
    let keys = ["order.eu", "order.us", "user.eu", "user.us", "nothing"];
    let stop = Arc::new(AtomicBool::new(false));
    let acks = Arc::new(AtomicU64::new(0));
    // Consumers on three of the queues, with different prefetch, acking as they go.
    let mut consumers = Vec::new();
    for (q, prefetch) in [("all", 0), ("all", 3), ("orders", 1), ("zero", 2), ("eu", 5)] {
        let c = b.consume(q, manual(prefetch)).unwrap();
        let (stop, acks) = (Arc::clone(&stop), Arc::clone(&acks));
        consumers.push(thread::spawn(move || {
            while !stop.load(Ordering::Relaxed) {
                if let Ok(d) = c.recv_timeout(Duration::from_millis(5)) {
                    d.ack().unwrap();
                    acks.fetch_add(1, Ordering::Relaxed);
                }
            }
        }));
    }
    // The balance must hold at every snapshot, not only at the end.
    let monitor = {
        let (b, stop) = (b.clone(), Arc::clone(&stop));
        thread::spawn(move || {
            let mut snapshots = 0;
            while !stop.load(Ordering::Relaxed) {
                for s in b.stats() {
                    assert!(s.balanced(), "unbalanced mid-run: {s:?}");
                }
                snapshots += 1;
                thread::yield_now();
            }
            snapshots
        })
    };
    let publishers: Vec<_> = (0..4u64)
        .map(|p| {
            let b = b.clone();
            thread::spawn(move || {
                let mut total = PublishOutcome::default();
                let mut unroutable = 0;
                for i in 0..10_000u64 {
                    let o = b.publish("ev", keys[((i + p) % 5) as usize], i).unwrap();
                    total.routed += o.routed;
                    total.accepted += o.accepted;
                    total.rejected += o.rejected;
                    total.dropped_head += o.dropped_head;
                    unroutable += u64::from(o.unroutable());
                }
                (total, unroutable)
            })
        })
        .collect();
    let mut total = PublishOutcome::default();
    let mut unroutable = 0;
    for p in publishers {
        let (o, u) = p.join().unwrap();
        total.routed += o.routed;
        total.accepted += o.accepted;
        total.rejected += o.rejected;
        unroutable += u;
    }
    stop.store(true, Ordering::Relaxed);
    for c in consumers {
        c.join().unwrap();
    }
    assert!(monitor.join().unwrap() > 0);

    let stats = b.stats();
    let by = |n: &str| stats.iter().find(|s| s.name == n).unwrap().clone();
    for s in &stats {
        assert!(s.balanced(), "{s:?}");
        assert_eq!(s.unacked, 0, "consumers are gone: {s:?}");
        assert!(s.ready <= 50 || s.name == "all", "max_length holds: {s:?}");
    }
    // Each key is published 8000 times; every two-word key reaches "all".
    assert_eq!(unroutable, 8_000);
    assert_eq!(by("all").offered, 32_000);
    assert_eq!(by("all").dropped, 0);
    assert_eq!(by("orders").offered, 16_000);
    assert_eq!(by("eu").offered, 16_000);
    assert_eq!(by("zero").offered, 8_000);
    assert_eq!(by("idle").offered, 16_000);
    assert_eq!(by("idle").ready, 30);
    assert_eq!(by("idle").dropped, 16_000 - 30);
    let offered: u64 = stats.iter().map(|s| s.offered).sum();
    let dropped_rejected = by("eu").dropped + by("idle").dropped;
    assert_eq!(total.routed as u64, offered);
    assert_eq!(total.rejected as u64, dropped_rejected);
    assert_eq!(total.accepted + total.rejected, total.routed);
    let acked: u64 = stats.iter().map(|s| s.acked).sum();
    assert_eq!(acks.load(Ordering::Relaxed), acked);
}

#[test]
fn dropped_consumer_returns_unacked_to_the_head_in_order() {
    let b: Broker<u32> = Broker::new();
    b.declare_queue("q", QueueOptions::default()).unwrap();
    let a = b.consume("q", manual(5)).unwrap();
    for i in 1..=10 {
        b.publish("", "q", i).unwrap();
    }
    let s = b.queue_stats("q").unwrap();
    assert_eq!((s.ready, s.unacked), (5, 5), "prefetch 5 holds five, the rest wait");
    let d1 = a.recv_timeout(T).unwrap();
    let d2 = a.recv_timeout(T).unwrap();
    assert_eq!((*d1.payload(), *d2.payload()), (1, 2));
    d1.ack().unwrap();
    let s = b.queue_stats("q").unwrap();
    assert_eq!((s.ready, s.unacked), (4, 5), "the ack made room for message 6");
    // Dies mid-message: d2 taken but unacked, 3 to 6 still in its buffer.
    drop(a);
    let s = b.queue_stats("q").unwrap();
    assert_eq!((s.ready, s.unacked, s.acked), (9, 0, 1));
    assert!(s.balanced());
    assert_eq!(d2.ack(), Err(SettleError::ConsumerGone), "a late ack is void");

    let c = b.consume("q", manual(0)).unwrap();
    let got: Vec<(u32, bool)> = (0..9)
        .map(|_| {
            let d = c.recv_timeout(T).unwrap();
            let r = (*d.payload(), d.redelivered());
            d.ack().unwrap();
            r
        })
        .collect();
    let want: Vec<(u32, bool)> = (2..=10).map(|i| (i, i <= 6)).collect();
    assert_eq!(got, want);
    let s = b.queue_stats("q").unwrap();
    assert_eq!((s.acked, s.redelivered, s.delivered, s.ready, s.unacked), (10, 5, 15, 0, 0));
}

#[test]
fn consumer_thread_panicking_with_deliveries_is_redelivered_to_the_group() {
    // Panics cost a burst of CPU (backtraces): keep them off the real-clock tests.
    let _serial = cpu_heavy();
    let b: Broker<u32> = Broker::new();
    b.declare_queue("q", QueueOptions::default()).unwrap();
    let doomed = b.consume("q", manual(3)).unwrap();
    for i in 0..6 {
        b.publish("", "q", i).unwrap();
    }
    let crashed = thread::spawn(move || {
        let held = doomed.recv_timeout(T).unwrap();
        let _also = doomed.recv_timeout(T).unwrap();
        panic!("consumer crashed while serving {}", held.payload());
    });
    assert!(crashed.join().is_err());
    let s = b.queue_stats("q").unwrap();
    assert_eq!((s.ready, s.unacked), (6, 0), "all six are back: {s:?}");

    // The survivor (joined after the crash) gets all six, the first three as redeliveries.
    let survivor = b.consume("q", manual(1)).unwrap();
    let mut seen = Vec::new();
    while let Ok(d) = survivor.recv_timeout(Duration::from_millis(200)) {
        seen.push((*d.payload(), d.redelivered()));
        d.ack().unwrap();
    }
    seen.sort();
    assert_eq!(seen, (0..6).map(|i| (i, i < 3)).collect::<Vec<_>>());
    let s = b.queue_stats("q").unwrap();
    assert_eq!((s.acked, s.redelivered, s.ready, s.unacked), (6, 3, 0, 0));
}

#[test]
fn redelivery_reaches_a_running_group_member() {
    // Panics cost a burst of CPU (backtraces): keep them off the real-clock tests.
    let _serial = cpu_heavy();
    let b: Broker<u32> = Broker::new();
    b.declare_queue("q", QueueOptions::default()).unwrap();
    let n = 200u32;
    let flaky_acked = Arc::new(AtomicU64::new(0));
    // Registered before anything is published, with prefetch 4: round-robin hands it at
    // least four messages, and it dies holding the fourth.
    let flaky = {
        let c = b.consume("q", manual(4)).unwrap();
        let acked = Arc::clone(&flaky_acked);
        thread::spawn(move || {
            for k in 0.. {
                let d = c.recv_timeout(T).unwrap();
                if k == 3 {
                    panic!("dies holding {}", d.payload());
                }
                d.ack().unwrap();
                acked.fetch_add(1, Ordering::SeqCst);
            }
        })
    };
    let worker = {
        let c = b.consume("q", manual(1)).unwrap();
        let b = b.clone();
        thread::spawn(move || {
            let started = Instant::now();
            let mut got = Vec::new();
            while b.queue_stats("q").unwrap().acked < u64::from(n) && started.elapsed() < T {
                if let Ok(d) = c.recv_timeout(Duration::from_millis(10)) {
                    got.push(*d.payload());
                    d.ack().unwrap();
                }
            }
            got
        })
    };
    for i in 0..n {
        b.publish("", "q", i).unwrap();
    }
    assert!(flaky.join().is_err());
    let mut got = worker.join().unwrap();
    let s = b.queue_stats("q").unwrap();
    assert_eq!((s.acked, s.ready, s.unacked), (u64::from(n), 0, 0), "{s:?}");
    assert!(s.redelivered >= 1, "{s:?}");
    assert_eq!(flaky_acked.load(Ordering::SeqCst), 3);
    assert_eq!(got.len() as u32, n - 3);
    got.sort_unstable();
    got.dedup();
    assert_eq!(got.len() as u32, n - 3, "no message acked twice");
}

#[test]
fn prefetch_bounds_unacked_per_consumer() {
    let b: Broker<u32> = Broker::new();
    b.declare_queue("q", QueueOptions::default()).unwrap();
    let prefetch = 3;
    let n = 60;
    let settled = Arc::new(AtomicU64::new(0));
    let handles: Vec<_> = (0..3)
        .map(|_| {
            let c = b.consume("q", manual(prefetch)).unwrap();
            let settled = Arc::clone(&settled);
            thread::spawn(move || {
                let started = Instant::now();
                let mut held = Vec::new();
                let mut max_held = 0;
                while settled.load(Ordering::SeqCst) < n && started.elapsed() < T {
                    match c.recv_timeout(Duration::from_millis(20)) {
                        Ok(d) => {
                            held.push(d);
                            max_held = max_held.max(held.len());
                        }
                        // Nothing more can come until we ack: settle and carry on.
                        Err(_) => {
                            settled.fetch_add(held.len() as u64, Ordering::SeqCst);
                            held.drain(..).for_each(|d| d.ack().unwrap());
                        }
                    }
                }
                max_held
            })
        })
        .collect();
    for i in 0..n as u32 {
        b.publish("", "q", i).unwrap();
        let s = b.queue_stats("q").unwrap();
        assert!(s.unacked <= 3 * u64::from(prefetch), "{s:?}");
    }
    let max_held: Vec<usize> = handles.into_iter().map(|h| h.join().unwrap()).collect();
    for &m in &max_held {
        assert!(m <= prefetch as usize, "held {m} > prefetch {prefetch}");
    }
    assert_eq!(settled.load(Ordering::SeqCst), n);
    assert!(max_held.contains(&(prefetch as usize)), "prefetch was reached: {max_held:?}");
    let s = b.queue_stats("q").unwrap();
    assert_eq!((s.acked, s.redelivered), (n, 0));
}

#[test]
fn round_robin_among_consumers_with_room() {
    let b: Broker<u32> = Broker::new();
    b.declare_queue("q", QueueOptions::default()).unwrap();
    let cs: Vec<_> = (0..3).map(|_| b.consume("q", manual(1)).unwrap()).collect();
    for i in 0..4 {
        b.publish("", "q", i).unwrap();
    }
    let first: Vec<u32> = cs.iter().map(|c| *c.try_recv().unwrap().payload()).collect();
    // The deliveries were dropped unsettled, so they were requeued at the head; 3 stays behind.
    assert_eq!(first, vec![0, 1, 2]);
    let s = b.queue_stats("q").unwrap();
    assert_eq!((s.ready, s.unacked, s.redelivered), (1, 3, 3), "{s:?}");

    // Unlimited prefetch takes everything; auto ack ignores prefetch, and its deliveries are
    // in flight until the application is done with them.
    let b: Broker<u32> = Broker::new();
    b.declare_queue("u", QueueOptions::default()).unwrap();
    b.declare_queue("a", QueueOptions::default()).unwrap();
    let _u = b.consume("u", manual(0)).unwrap();
    let auto = b.consume("a", ConsumerOptions { prefetch: 1, ack: Ack::Auto }).unwrap();
    for i in 0..100 {
        b.publish("", "u", i).unwrap();
        b.publish("", "a", i).unwrap();
    }
    let s = b.queue_stats("u").unwrap();
    assert_eq!((s.ready, s.unacked), (0, 100));
    let s = b.queue_stats("a").unwrap();
    assert_eq!((s.ready, s.unacked, s.acked), (0, 100, 0), "auto ack ignores prefetch");
    let d = auto.try_recv().unwrap();
    assert_eq!(d.nack(true), Err(SettleError::AutoAck));
    let s = b.queue_stats("a").unwrap();
    assert_eq!((s.unacked, s.acked), (99, 1), "a refused nack of an auto-ack delivery acks it");
    drop(auto);
    let s = b.queue_stats("a").unwrap();
    assert_eq!((s.ready, s.unacked, s.acked), (0, 0, 100), "settled on delivery: not requeued");
}

#[test]
fn overflow_policies_count_ready_only() {
    let b: Broker<u32> = Broker::new();
    b.declare_queue("dh", bounded(3, Overflow::DropHead)).unwrap();
    b.declare_queue("rp", bounded(3, Overflow::RejectPublish)).unwrap();
    let hold_dh = b.consume("dh", manual(2)).unwrap();
    let hold_rp = b.consume("rp", manual(2)).unwrap();
    for i in 0..7 {
        let o = b.publish("", "dh", i).unwrap();
        assert_eq!(o.dropped_head, usize::from(i >= 5));
        let o = b.publish("", "rp", i).unwrap();
        assert_eq!(o.rejected, usize::from(i >= 5));
    }
    for (q, c, want) in [("dh", &hold_dh, [0, 1, 4, 5, 6]), ("rp", &hold_rp, [0, 1, 2, 3, 4])] {
        let s = b.queue_stats(q).unwrap();
        assert_eq!((s.offered, s.ready, s.unacked, s.dropped), (7, 3, 2, 2), "{s:?}");
        let mut got = Vec::new();
        while let Ok(d) = c.recv_timeout(Duration::from_millis(50)) {
            got.push(*d.payload());
            d.ack().unwrap();
        }
        assert_eq!(got, want, "{q}: which messages survive");
    }
    // nack without requeue discards and counts as rejected.
    b.publish("", "dh", 99).unwrap();
    let d = hold_dh.recv_timeout(T).unwrap();
    d.nack(false).unwrap();
    let s = b.queue_stats("dh").unwrap();
    assert_eq!((s.offered, s.acked, s.dropped, s.rejected), (8, 5, 2, 1));
    assert!(s.balanced());
}

#[test]
fn routing_through_the_broker_matches_router() {
    let b: Broker<()> = Broker::new();
    let names = ["q0", "q1", "q2", "q3", "q4"];
    let mut r = Router::new(&names);
    for n in names {
        b.declare_queue(n, QueueOptions::default()).unwrap();
    }
    let exchanges =
        [("t", ExchangeKind::Topic), ("f", ExchangeKind::Fanout), ("d", ExchangeKind::Direct)];
    for (e, k) in exchanges {
        assert_eq!(b.declare_exchange(e, k).unwrap(), r.declare(e, k));
    }
    let bindings = [
        ("q0", "t", "order.#"),
        ("q1", "t", "*.eu"),
        ("q2", "t", "#"),
        ("q3", "t", "order.*.created"),
        ("q4", "t", "a..c"),
        ("q0", "f", "ignored"),
        ("q3", "f", ""),
        ("q1", "d", "k"),
        ("q2", "d", "k"),
        ("q4", "d", "other"),
    ];
    for (q, e, k) in bindings {
        b.bind(q, e, k).unwrap();
        let q = names.iter().position(|n| *n == q).unwrap();
        r.bind(r.exchange_id(e).unwrap(), k, q).unwrap();
    }
    let keys =
        ["", "order", "order.eu", "order.eu.created", "user.eu", "a..c", "a.b.c", "k", "q3", "x"];
    for (e, _) in exchanges.iter().chain([&("", ExchangeKind::Direct)]) {
        for key in keys.iter().chain(&names) {
            let before: Vec<u64> = b.stats().iter().map(|s| s.offered).collect();
            let o = b.publish(e, key, ()).unwrap();
            let after: Vec<u64> = b.stats().iter().map(|s| s.offered).collect();
            let reached: Vec<usize> = (0..names.len()).filter(|&i| after[i] > before[i]).collect();
            let want = r.route(r.exchange_id(e).unwrap(), key);
            assert_eq!(reached, want, "exchange {e:?} key {key:?}");
            assert_eq!(o.routed, want.len());
        }
    }
    assert_eq!(b.publish("nope", "k", ()), Err(BrokerError::NoSuchExchange("nope".into())));
    assert!(matches!(
        b.declare_exchange("t", ExchangeKind::Fanout),
        Err(BrokerError::ExchangeKindMismatch { .. })
    ));
    assert_eq!(b.bind("q0", "", "x"), Err(BrokerError::DefaultExchange));
}

#[test]
fn close_wakes_blocked_consumers_and_refuses_publishes() {
    let b: Broker<u32> = Broker::new();
    b.declare_queue("q", QueueOptions::default()).unwrap();
    let c = b.consume("q", manual(1)).unwrap();
    let started = Instant::now();
    let blocked = thread::spawn(move || c.recv());
    thread::sleep(Duration::from_millis(20));
    b.close();
    assert_eq!(blocked.join().unwrap().unwrap_err(), RecvError::Closed);
    assert!(started.elapsed() < T);
    assert_eq!(b.publish("", "q", 1), Err(BrokerError::Closed));
    assert!(matches!(b.consume("q", manual(1)), Err(BrokerError::Closed)));
}

#[test]
fn ready_integral_and_peak() {
    let b: Broker<u32> = Broker::new();
    b.declare_queue("q", QueueOptions::default()).unwrap();
    let s0 = b.queue_stats("q").unwrap();
    for i in 0..4 {
        b.publish("", "q", i).unwrap();
    }
    let t0 = Instant::now();
    thread::sleep(Duration::from_millis(30));
    let s1 = b.queue_stats("q").unwrap();
    let dt = t0.elapsed().as_secs_f64();
    let avg = (s1.ready_integral_s - s0.ready_integral_s) / dt;
    assert!((avg - 4.0).abs() < 0.2, "time-averaged ready {avg}");
    assert_eq!(s1.ready_peak, 4);
    let c = b.consume("q", manual(0)).unwrap();
    b.reset_ready_peaks();
    assert_eq!(b.queue_stats("q").unwrap().ready_peak, 0);
    drop(c);
    assert_eq!(b.queue_stats("q").unwrap().ready_peak, 4, "requeued messages count");
}

/// Seconds the soak test runs: 2 in the suite; `MQSIM_SOAK_SECS=600 cargo test --release
/// --lib soak -- --nocapture` for the long version (documented in docs/architecture.md).
fn soak_secs() -> f64 {
    std::env::var("MQSIM_SOAK_SECS").ok().and_then(|s| s.parse().ok()).unwrap_or(2.0)
}

#[test]
fn soak_publishers_and_churning_consumers_never_lose_a_message() {
    use rand::rngs::Xoshiro256PlusPlus;
    use rand::{RngExt, SeedableRng};
    let _serial = cpu_heavy();
    let b: Broker<u64> = Broker::new();
    b.declare_exchange("ev", ExchangeKind::Fanout).unwrap();
    let queues = [
        ("open", QueueOptions::default()),
        ("head", bounded(40, Overflow::DropHead)),
        ("refuse", bounded(25, Overflow::RejectPublish)),
    ];
    for (q, o) in queues {
        b.declare_queue(q, o).unwrap();
        b.bind(q, "ev", "").unwrap();
    }
    let secs = soak_secs();
    let stop = Arc::new(AtomicBool::new(false));
    let mut threads = Vec::new();
    for p in 0..2u64 {
        let (b, stop) = (b.clone(), Arc::clone(&stop));
        threads.push(thread::spawn(move || {
            let mut i = 0;
            while !stop.load(Ordering::Relaxed) {
                b.publish("ev", "", p << 40 | i).unwrap();
                i += 1;
                if i % 64 == 0 {
                    thread::yield_now();
                }
            }
        }));
    }
    // Each worker subscribes with a random prefetch and ack mode, handles a random number of
    // deliveries (ack, nack with or without requeue, or walk away holding some), then drops
    // its consumer and subscribes again.
    for w in 0..6u64 {
        let (b, stop) = (b.clone(), Arc::clone(&stop));
        threads.push(thread::spawn(move || {
            let mut rng = Xoshiro256PlusPlus::seed_from_u64(w);
            let names = ["open", "head", "refuse"];
            while !stop.load(Ordering::Relaxed) {
                let q = names[rng.random_range(0..3)];
                let ack = if rng.random_bool(0.2) { Ack::Auto } else { Ack::Manual };
                let options = ConsumerOptions { prefetch: rng.random_range(0..6), ack };
                let c = b.consume(q, options).unwrap();
                let mut kept = Vec::new();
                for _ in 0..rng.random_range(1..200) {
                    let Ok(d) = c.recv_timeout(Duration::from_millis(2)) else { continue };
                    match rng.random_range(0..10) {
                        0 if ack == Ack::Manual => d.nack(true).unwrap(),
                        1 if ack == Ack::Manual => d.nack(false).unwrap(),
                        2 => kept.push(d),
                        _ => d.ack().unwrap(),
                    }
                }
                drop(c); // with deliveries still held: they go back (manual) or count as acked
                drop(kept);
            }
        }));
    }
    let until = Instant::now() + Duration::from_secs_f64(secs);
    let mut checkpoints = 0;
    while Instant::now() < until {
        thread::sleep(Duration::from_millis(20));
        for s in b.stats() {
            assert!(s.balanced(), "checkpoint {checkpoints}: {s:?}");
            if s.name == "head" {
                assert!(s.ready <= 40, "drop-head keeps its limit: {s:?}");
            }
        }
        checkpoints += 1;
    }
    stop.store(true, Ordering::SeqCst);
    for t in threads {
        t.join().unwrap();
    }
    // Drain what is left; then every message offered was acked, dropped or rejected.
    for (q, _) in queues {
        let c = b.consume(q, manual(0)).unwrap();
        while let Ok(d) = c.recv_timeout(Duration::from_millis(50)) {
            d.ack().unwrap();
        }
        drop(c);
        let s = b.queue_stats(q).unwrap();
        assert_eq!((s.ready, s.unacked, s.consumers), (0, 0, 0), "{s:?}");
        assert_eq!(s.offered, s.acked + s.dropped + s.rejected, "{s:?}");
        assert!(s.redelivered > 0 && s.rejected > 0 && s.offered > 1000, "{s:?}");
    }
    assert!(checkpoints >= 10);
}
