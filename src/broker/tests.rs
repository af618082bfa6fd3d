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

/// Seconds the soak test runs: 6 in the suite; `MQSIM_SOAK_SECS=600 cargo test --release
/// --lib soak -- --nocapture` for the long version (documented in docs/architecture.md).
fn soak_secs() -> f64 {
    std::env::var("MQSIM_SOAK_SECS").ok().and_then(|s| s.parse().ok()).unwrap_or(6.0)
}

/// A payload that counts how many of it exist: a broker structure that still holds a
/// message it no longer accounts for keeps one alive after a drain.
struct Tracked {
    id: u64,
    live: Arc<std::sync::atomic::AtomicI64>,
}

impl Tracked {
    fn new(id: u64, live: &Arc<std::sync::atomic::AtomicI64>) -> Self {
        live.fetch_add(1, Ordering::SeqCst);
        Tracked { id, live: Arc::clone(live) }
    }
}

impl Drop for Tracked {
    fn drop(&mut self) {
        self.live.fetch_sub(1, Ordering::SeqCst);
    }
}

/// Resident memory of this process in bytes, from `/proc/self/statm` (`None` off Linux).
fn rss_bytes() -> Option<u64> {
    let statm = std::fs::read_to_string("/proc/self/statm").ok()?;
    let pages: u64 = statm.split_whitespace().nth(1)?.parse().ok()?;
    Some(pages * 4096)
}

/// The soak: two publishers fan out to an open queue, a drop-head one, a reject-publish one
/// and one whose messages expire (or are nacked) into a dead-letter exchange and a parked
/// queue, while six workers subscribe to any of them with a random prefetch and ack mode,
/// ack, nack with and without requeue, walk away holding deliveries and resubscribe, at
/// random. The run is cut in rounds; within a round, every 20 ms, every queue's counts
/// balance, the drop-head queue keeps its limit and each fanout queue has been offered
/// exactly what the publishers had published (give or take the publishes under way). At
/// the end of each round publishers and workers stop and a drain empties every queue;
/// then every message is accounted for exactly, no payload is alive anywhere in the
/// broker, and every consumer registry is back to empty (its slots reused, never piling
/// up); the process's resident memory after each drain is printed.
#[test]
fn soak_publishers_and_churning_consumers_never_lose_a_message() {
    use rand::rngs::Xoshiro256PlusPlus;
    use rand::{RngExt, SeedableRng};
    use std::sync::atomic::AtomicI64;
    const WORKERS: u64 = 6;
    const PUBLISHERS: u64 = 2;
    let _serial = cpu_heavy();
    let b: Broker<Tracked> = Broker::new();
    b.declare_exchange("ev", ExchangeKind::Fanout).unwrap();
    b.declare_exchange("dlx", ExchangeKind::Direct).unwrap();
    let expiring = QueueDeclaration {
        options: QueueOptions { message_ttl: Some(0.004), ..QueueOptions::default() },
        dead_letter: Some(DeadLetterOptions {
            exchange: "dlx".into(),
            routing_key: Some("parked".into()),
            ..DeadLetterOptions::default()
        }),
    };
    let fanout: [(&str, QueueDeclaration); 4] = [
        ("open", QueueOptions::default().into()),
        ("head", bounded(40, Overflow::DropHead).into()),
        ("refuse", bounded(25, Overflow::RejectPublish).into()),
        ("expiring", expiring),
    ];
    for (q, d) in fanout.clone() {
        b.declare_queue(q, d).unwrap();
        b.bind(q, "ev", "").unwrap();
    }
    b.declare_queue("parked", QueueOptions::default()).unwrap();
    b.bind("parked", "dlx", "parked").unwrap();
    let names = ["open", "head", "refuse", "expiring", "parked"];

    let secs = soak_secs();
    // The long version runs alone: one malloc arena there, so that what the allocator keeps
    // per thread (a fresh set of threads each round) does not hide what the broker keeps.
    let long = secs >= 60.0;
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    if long {
        // SAFETY: mallopt only tunes the allocator; M_ARENA_MAX limits arenas created later.
        unsafe {
            libc::mallopt(libc::M_ARENA_MAX, 1);
        }
    }
    // Rounds of a tenth of the run, between 1 and 10 s: at least a few drains in the short
    // run, and a drain every 10 s in a long one.
    let round = Duration::from_secs_f64((secs / 10.0).clamp(1.0, 10.0).min(secs));
    let rounds = ((secs / round.as_secs_f64()).round() as u64).max(1);
    let live = Arc::new(AtomicI64::new(0));
    let published = Arc::new(AtomicU64::new(0));
    let mut checkpoints = 0u64;
    let mut rss = Vec::new();
    for r in 0..rounds {
        let stop = Arc::new(AtomicBool::new(false));
        let mut threads = Vec::new();
        for p in 0..PUBLISHERS {
            let (b, stop, live, published) =
                (b.clone(), Arc::clone(&stop), Arc::clone(&live), Arc::clone(&published));
            threads.push(thread::spawn(move || {
                let mut rng = Xoshiro256PlusPlus::seed_from_u64(1000 * r + p);
                let mut i = 0;
                while !stop.load(Ordering::Relaxed) {
                    // Bursts and pauses: queues fill and empty, and the 2-core CI machine
                    // keeps some room.
                    for _ in 0..rng.random_range(1..64) {
                        let id = (r << 48) | (p << 40) | i;
                        b.publish("ev", "", Tracked::new(id, &live)).unwrap();
                        published.fetch_add(1, Ordering::SeqCst);
                        i += 1;
                    }
                    thread::sleep(Duration::from_micros(rng.random_range(100..1500)));
                }
            }));
        }
        for w in 0..WORKERS {
            let (b, stop) = (b.clone(), Arc::clone(&stop));
            threads.push(thread::spawn(move || {
                let mut rng = Xoshiro256PlusPlus::seed_from_u64(1000 * r + 100 + w);
                while !stop.load(Ordering::Relaxed) {
                    let q = names[rng.random_range(0..names.len())];
                    let ack = if rng.random_bool(0.2) { Ack::Auto } else { Ack::Manual };
                    let options = ConsumerOptions { prefetch: rng.random_range(0..6), ack };
                    let c = b.consume(q, options).unwrap();
                    let mut kept = Vec::new();
                    for _ in 0..rng.random_range(1..200) {
                        let Ok(d) = c.recv_timeout(Duration::from_millis(2)) else { continue };
                        // Every earlier round's messages were drained: none comes back.
                        assert_eq!(d.payload().id >> 48, r, "a drained message came back");
                        match rng.random_range(0..10) {
                            0 if ack == Ack::Manual => d.nack(true).unwrap(),
                            1 if ack == Ack::Manual => d.nack(false).unwrap(),
                            2 => kept.push(d),
                            _ => d.ack().unwrap(),
                        }
                    }
                    // Dropped holding deliveries: they go back (manual) or count as acked.
                    drop(c);
                    drop(kept);
                }
            }));
        }
        let until = Instant::now() + round;
        while Instant::now() < until {
            thread::sleep(Duration::from_millis(20));
            let before = published.load(Ordering::SeqCst);
            let stats = b.stats();
            let after = published.load(Ordering::SeqCst);
            for s in &stats {
                assert!(s.balanced(), "round {r}, checkpoint {checkpoints}: {s:?}");
            }
            for s in &stats[..4] {
                // Each publish reaches every fanout queue: those done before the snapshot
                // at least, and at most those done after it plus one under way per
                // publisher.
                assert!(
                    before <= s.offered && s.offered <= after + PUBLISHERS,
                    "round {r}: published {before}..{after}, {s:?}"
                );
            }
            // Drop-head keeps its limit even against requeues (reject-publish refuses new
            // messages only: a dropped consumer's requeued ones may take it over).
            assert!(stats[1].ready <= 40, "drop-head keeps its limit: {:?}", stats[1]);
            checkpoints += 1;
        }
        stop.store(true, Ordering::SeqCst);
        for t in threads {
            t.join().unwrap();
        }
        // Drain: ack everything until nothing is ready, held or about to expire into parked.
        let drainers: Vec<_> = names.iter().map(|q| b.consume(q, manual(0)).unwrap()).collect();
        let deadline = Instant::now() + Duration::from_secs(5);
        loop {
            for c in &drainers {
                while let Ok(d) = c.try_recv() {
                    d.ack().unwrap();
                }
            }
            let stats = b.stats();
            let e = &stats[3];
            let settled = e.dropped + e.expired + e.rejected == e.dead_lettered;
            let parked_all = stats[4].offered == e.dead_lettered - e.dead_letter_unroutable;
            if stats.iter().all(|s| s.ready + s.unacked == 0) && settled && parked_all {
                break;
            }
            assert!(Instant::now() < deadline, "round {r}: drain stuck: {stats:?}");
            thread::sleep(Duration::from_millis(1));
        }
        drop(drainers);
        // Quiescent: every message is accounted for exactly.
        let stats = b.stats();
        let p = published.load(Ordering::SeqCst);
        for s in &stats {
            assert_eq!((s.ready, s.unacked, s.consumers), (0, 0, 0), "round {r}: {s:?}");
            assert_eq!(s.offered, s.acked + s.dropped + s.expired + s.rejected, "round {r}: {s:?}");
        }
        for s in &stats[..4] {
            assert_eq!(s.offered, p, "round {r}: every publish reaches every fanout queue: {s:?}");
        }
        let (e, parked) = (&stats[3], &stats[4]);
        assert_eq!(e.dead_letter_unroutable + e.dead_letter_cycles, 0, "{e:?}");
        assert_eq!(parked.offered, e.dead_lettered, "round {r}: {e:?} {parked:?}");
        // Nothing kept: no payload alive, every consumer registry empty.
        assert_eq!(live.load(Ordering::SeqCst), 0, "round {r}: payloads alive after the drain");
        for f in b.footprint() {
            assert_eq!((f.line, f.live_links, f.buffered), (0, 0, 0), "round {r}: {f:?}");
            // Slots are reused: never more than the consumers ever subscribed at once.
            assert!(f.slots <= (WORKERS + 1) as usize, "round {r}: slots pile up: {f:?}");
            assert_eq!(f.slots, f.links, "round {r}: {f:?}");
        }
        rss.extend(rss_bytes());
    }
    // Every path was taken.
    let stats = b.stats();
    let sum = |f: &dyn Fn(&QueueStats) -> u64| stats.iter().map(f).sum::<u64>();
    let (redelivered, rejected, expired) =
        (sum(&|s| s.redelivered), sum(&|s| s.rejected), stats[3].expired);
    let dropped = stats[1].dropped + stats[2].dropped;
    let p = published.load(Ordering::SeqCst);
    let mb = |b: &u64| b / (1 << 20);
    eprintln!(
        "soak: {secs} s, {rounds} rounds, {checkpoints} checkpoints, {p} published, {redelivered} redelivered, {rejected} rejected, {expired} expired, {dropped} dropped; RSS after each drain (MB): {:?}",
        rss.iter().map(mb).collect::<Vec<_>>()
    );
    assert!(checkpoints >= 10 * rounds.min(5) && p > 1000, "{checkpoints} {p}");
    assert!(redelivered > 0 && rejected > 0 && expired > 0 && dropped > 0, "{stats:?}");
    // Resident memory: in the long version (one arena) the second half's highest reading
    // stays within 1.5x the first half's: a queue gives a drained backlog's buffer back
    // (`release_idle_memory`), so what is kept follows the backlog now, not the largest one
    // ever. 60 s, 10 rounds: 32, 50, 66, 73, 84, 65, 74, 81, 57, 68 MB. (With glibc's default
    // arenas the same run climbs from 75 to about 200 MB: memory the allocator keeps per
    // thread, not the broker; the 6 s version in the suite only prints it.)
    if long && rss.len() >= 4 {
        let half = rss.len() / 2;
        let first = rss[..half].iter().max().copied().unwrap_or(0);
        let second = rss[half..].iter().max().copied().unwrap_or(0);
        assert!(
            second as f64 <= 1.5 * first as f64,
            "resident memory grew: {:?} MB",
            rss.iter().map(mb).collect::<Vec<_>>()
        );
    }
}

fn dead_letter_to(exchange: &str) -> DeadLetterOptions {
    DeadLetterOptions { exchange: exchange.into(), ..DeadLetterOptions::default() }
}

/// Takes every delivery waiting for `c` now: (payload, priority, last death's reason).
fn take_all(c: &Consumer<u32>) -> Vec<(u32, u8, Option<Reason>)> {
    let mut got = Vec::new();
    while let Ok(d) = c.try_recv() {
        got.push((*d.payload(), d.priority(), d.last_death().map(|x| x.reason)));
        d.ack().unwrap();
    }
    got
}

/// Every way to die, on a clock the test moves: which dead letters go where, with what
/// key, priority and delivery count, and which the cycle rule drops.
#[test]
fn dead_letters_follow_reasons_keys_and_the_cycle_rule() {
    let (b, time) = Broker::<u32>::with_manual_clock();
    b.declare_exchange("in", ExchangeKind::Direct).unwrap();
    b.declare_exchange("dlx", ExchangeKind::Direct).unwrap();
    let src = QueueDeclaration {
        options: QueueOptions {
            max_length: Some(1),
            message_ttl: Some(10.0),
            delivery_limit: Some(2),
            max_priority: Some(5),
            ..QueueOptions::default()
        },
        dead_letter: Some(DeadLetterOptions {
            limit_routing_key: Some("limit".into()),
            ..dead_letter_to("dlx")
        }),
    };
    b.declare_queue("src", src).unwrap();
    b.bind("src", "in", "k").unwrap();
    let prio = QueueOptions { max_priority: Some(9), ..QueueOptions::default() };
    b.declare_queue("dead", prio).unwrap();
    b.bind("dead", "dlx", "k").unwrap(); // the messages' own key
    b.declare_queue("limit", QueueOptions::default()).unwrap();
    b.bind("limit", "dlx", "limit").unwrap();
    let dead = b.consume("dead", manual(0)).unwrap();
    let limit = b.consume("limit", manual(0)).unwrap();

    // drop-head: 1 goes when 2 comes; its priority 7 was capped at 5 in src.
    b.publish_with("in", "k", 1, Props { priority: 7, ..Props::default() }).unwrap();
    b.publish("in", "k", 2).unwrap();
    assert_eq!(take_all(&dead), [(1, 5, Some(Reason::Maxlen))]);
    // 2 expires at t = 10 with nothing else happening, once the expiry pass runs.
    time.set(9.5);
    b.expire_due();
    assert!(take_all(&dead).is_empty());
    time.set(10.0);
    b.expire_due();
    assert_eq!(take_all(&dead), [(2, 0, Some(Reason::Expired))]);
    // A per-message TTL shorter than the queue's.
    b.publish_with("in", "k", 3, Props { ttl: Some(0.5), ..Props::default() }).unwrap();
    time.set(10.5);
    b.expire_due();
    assert_eq!(take_all(&dead), [(3, 0, Some(Reason::Expired))]);

    // A nack without requeue dead-letters; at the delivery limit, to the limit key.
    let c = b.consume("src", manual(1)).unwrap();
    b.publish_with("in", "k", 4, Props { priority: 2, ..Props::default() }).unwrap();
    c.try_recv().unwrap().nack(false).unwrap();
    assert_eq!(take_all(&dead), [(4, 2, Some(Reason::Rejected))]);
    b.publish("in", "k", 5).unwrap();
    c.try_recv().unwrap().nack(true).unwrap(); // delivery 1: requeued
    let d = c.try_recv().unwrap(); // delivery 2: at the limit
    assert!(d.redelivered());
    d.nack(true).unwrap();
    assert_eq!(take_all(&limit), [(5, 0, Some(Reason::DeliveryLimit))]);
    // A consumer that goes away holding a message at its limit rejects it the same way.
    b.publish("in", "k", 6).unwrap();
    c.try_recv().unwrap().nack(true).unwrap();
    let held = c.try_recv().unwrap();
    drop(c);
    drop(held);
    assert_eq!(take_all(&limit), [(6, 0, Some(Reason::DeliveryLimit))]);
    let s = b.queue_stats("src").unwrap();
    assert_eq!((s.offered, s.dropped, s.expired, s.rejected), (6, 1, 2, 3), "{s:?}");
    assert_eq!((s.dead_lettered, s.dead_letter_unroutable, s.dead_letter_cycles), (6, 0, 0));
    assert_eq!(s.offered_by_priority, [4, 0, 1, 0, 0, 1], "{s:?}");
    assert!(s.balanced());

    // The cycle rule: a queue that dead-letters expired messages to itself drops them at
    // once; a rejection clears the history, so a reject loop goes on.
    let looping = |name: &str, ttl| QueueDeclaration {
        options: QueueOptions { message_ttl: ttl, ..QueueOptions::default() },
        dead_letter: Some(DeadLetterOptions {
            routing_key: Some(name.to_string()),
            ..dead_letter_to("")
        }),
    };
    b.declare_queue("expiring", looping("expiring", Some(1.0))).unwrap();
    b.publish("", "expiring", 7).unwrap();
    time.set(11.5);
    b.expire_due();
    let s = b.queue_stats("expiring").unwrap();
    assert_eq!((s.offered, s.expired, s.dead_lettered, s.dead_letter_cycles), (1, 1, 0, 1));
    b.declare_queue("rejecting", looping("rejecting", None)).unwrap();
    let r = b.consume("rejecting", manual(1)).unwrap();
    b.publish("", "rejecting", 8).unwrap();
    for _ in 0..3 {
        let d = r.try_recv().unwrap();
        assert_eq!((*d.payload(), d.redelivered()), (8, false), "a dead letter is a new message");
        d.nack(false).unwrap();
    }
    let s = b.queue_stats("rejecting").unwrap();
    assert_eq!((s.offered, s.rejected, s.dead_lettered, s.ready + s.unacked), (4, 3, 3, 1));
    // Expired in a, then in b: back to a would be a cycle.
    b.declare_queue("a", looping("b", Some(1.0))).unwrap();
    b.declare_queue("b", looping("a", Some(1.0))).unwrap();
    b.publish("", "a", 9).unwrap();
    time.set(12.5);
    b.expire_due(); // a → b
    time.set(13.5);
    b.expire_due(); // b → a: a cycle
    let (sa, sb) = (b.queue_stats("a").unwrap(), b.queue_stats("b").unwrap());
    assert_eq!((sa.dead_lettered, sb.dead_lettered, sb.dead_letter_cycles), (1, 0, 1));

    // A dead-letter exchange that does not exist: unroutable, counted.
    b.declare_queue(
        "nowhere",
        QueueDeclaration {
            options: QueueOptions::default(),
            dead_letter: Some(dead_letter_to("missing")),
        },
    )
    .unwrap();
    let n = b.consume("nowhere", manual(1)).unwrap();
    b.publish("", "nowhere", 10).unwrap();
    n.try_recv().unwrap().nack(false).unwrap();
    let s = b.queue_stats("nowhere").unwrap();
    assert_eq!((s.rejected, s.dead_lettered, s.dead_letter_unroutable), (1, 1, 1));
    // Refused by reject-publish: never dead-lettered; by reject-publish-dlx: dead-lettered.
    for (name, overflow, dl) in
        [("rp", Overflow::RejectPublish, 0), ("rpd", Overflow::RejectPublishDlx, 1)]
    {
        let options = bounded(0, overflow);
        b.declare_queue(
            name,
            QueueDeclaration { options, dead_letter: Some(dead_letter_to("dlx")) },
        )
        .unwrap();
        let o = b.publish("", name, 11).unwrap();
        assert_eq!(o.rejected, 1);
        let s = b.queue_stats(name).unwrap();
        assert_eq!((s.dropped, s.dead_lettered, s.dead_letter_unroutable), (1, dl, dl), "{name}");
    }
    for s in b.stats() {
        assert!(s.balanced(), "{s:?}");
    }
}

/// Priorities: the highest ready priority goes first, FIFO within one; above the queue's
/// maximum counts as the maximum; a FIFO queue ignores them.
#[test]
fn priorities_order_deliveries() {
    let b: Broker<u32> = Broker::new();
    b.declare_queue("p", QueueOptions { max_priority: Some(3), ..QueueOptions::default() })
        .unwrap();
    b.declare_queue("fifo", QueueOptions::default()).unwrap();
    for (i, prio) in [0u8, 2, 9, 1, 2, 3].into_iter().enumerate() {
        let props = Props { priority: prio, ..Props::default() };
        b.publish_with("", "p", i as u32, props).unwrap();
        b.publish_with("", "fifo", i as u32, props).unwrap();
    }
    let c = b.consume("p", manual(0)).unwrap();
    let got: Vec<(u32, u8)> = take_all(&c).into_iter().map(|(m, p, _)| (m, p)).collect();
    assert_eq!(got, [(2, 3), (5, 3), (1, 2), (4, 2), (3, 1), (0, 0)]);
    let c = b.consume("fifo", manual(0)).unwrap();
    let got: Vec<(u32, u8)> = take_all(&c).into_iter().map(|(m, p, _)| (m, p)).collect();
    assert_eq!(got, (0..6).map(|i| (i, 0)).collect::<Vec<_>>());
}

/// A delay queue nobody consumes still lets its messages go on time: the expiry thread
/// wakes for the earliest head expiry, and is woken early when a publish makes an earlier
/// one. `close` stops and joins it; so does dropping the broker.
#[test]
fn messages_expire_on_time_with_nothing_else_happening() {
    let _serial = cpu_heavy();
    let b: Broker<u32> = Broker::new();
    b.declare_exchange("out", ExchangeKind::Fanout).unwrap();
    b.declare_queue("done", QueueOptions::default()).unwrap();
    b.bind("done", "out", "").unwrap();
    let delay = |ttl| QueueDeclaration {
        options: QueueOptions { message_ttl: ttl, ..QueueOptions::default() },
        dead_letter: Some(dead_letter_to("out")),
    };
    b.declare_queue("slow", delay(Some(10.0))).unwrap();
    b.declare_queue("fast", delay(None)).unwrap();
    let done = b.consume("done", manual(0)).unwrap();
    let t0 = Instant::now();
    b.publish("", "slow", 1).unwrap(); // the thread now sleeps until t0 + 10 s
    b.publish_with("", "fast", 2, Props { ttl: Some(0.03), ..Props::default() }).unwrap();
    let d = done.recv_timeout(T).unwrap();
    let took = t0.elapsed();
    assert_eq!(*d.payload(), 2);
    let death = *d.last_death().unwrap();
    assert_eq!((death.queue, death.reason), (b.queue_id("fast").unwrap(), Reason::Expired));
    // On time: not before its TTL, and late only by a thread wake-up (well under 1 ms on
    // an idle machine; 70 ms allowed for one shared with compilers), not at the 10 s the
    // thread was sleeping for.
    assert!(took >= Duration::from_millis(30), "{took:?}");
    assert!(took < Duration::from_millis(100), "expired {took:?} after publish, TTL 30 ms");
    assert!(death.at.duration_since(t0) >= Duration::from_millis(30));
    d.ack().unwrap();
    let s = b.queue_stats("fast").unwrap();
    assert_eq!((s.expired, s.dead_lettered, s.ready), (1, 1, 0));
    assert_eq!(b.queue_stats("slow").unwrap().ready, 1, "10 s to go");

    let expiry = Arc::clone(&b.inner.expiry);
    assert!(expiry.ctl().thread.is_some());
    let t = Instant::now();
    b.close();
    assert!(t.elapsed() < Duration::from_millis(500), "close joins promptly");
    assert!(expiry.ctl().thread.is_none());
    // A broker dropped without close stops its thread too.
    let b: Broker<u32> = Broker::new();
    b.declare_queue("q", QueueOptions { message_ttl: Some(5.0), ..QueueOptions::default() })
        .unwrap();
    let expiry = Arc::clone(&b.inner.expiry);
    assert!(expiry.ctl().thread.is_some());
    drop(b);
    // Joined at once, unless the thread itself held the broker's last handle for a moment
    // (then it stops by itself, detached).
    let t = Instant::now();
    while !{
        let ctl = expiry.ctl();
        ctl.stop && ctl.thread.is_none()
    } {
        assert!(t.elapsed() < T, "the expiry thread outlived its broker");
        thread::sleep(Duration::from_millis(1));
    }
}

/// A retry loop under churn: publishers with priorities and TTLs feed a bounded work
/// queue whose dead letters go through a retry exchange to a delay queue and, expired,
/// back to work (a delivery limit parks them; a dropped or expired message that comes
/// round again is a cycle); a side queue dead-letters to an exchange that does not exist.
/// Consumers ack, nack with and without requeue, walk away holding messages, and are
/// dropped and resubscribed. Counts balance in every queue at every checkpoint; after the
/// drain, every published message is accounted for exactly once.
#[test]
fn retry_cycle_under_churn_accounts_for_every_message() {
    use rand::rngs::Xoshiro256PlusPlus;
    use rand::{RngExt, SeedableRng};
    use std::collections::HashSet;
    let _serial = cpu_heavy();
    let b: Broker<u64> = Broker::new();
    b.declare_exchange("jobs", ExchangeKind::Direct).unwrap();
    b.declare_exchange("retry", ExchangeKind::Direct).unwrap();
    let work = QueueDeclaration {
        options: QueueOptions {
            max_length: Some(20),
            max_priority: Some(3),
            delivery_limit: Some(4),
            ..QueueOptions::default()
        },
        dead_letter: Some(DeadLetterOptions {
            limit_routing_key: Some("parked".into()),
            ..dead_letter_to("retry")
        }),
    };
    let delay = QueueDeclaration {
        options: QueueOptions { message_ttl: Some(0.005), ..QueueOptions::default() },
        dead_letter: Some(dead_letter_to("jobs")), // back with its own key, "job"
    };
    let side = QueueDeclaration {
        options: QueueOptions { message_ttl: Some(0.003), ..QueueOptions::default() },
        dead_letter: Some(dead_letter_to("missing")),
    };
    b.declare_queue("work", work).unwrap();
    b.declare_queue("delay", delay).unwrap();
    b.declare_queue("parked", QueueOptions::default()).unwrap();
    b.declare_queue("side", side).unwrap();
    b.bind("work", "jobs", "job").unwrap();
    b.bind("side", "jobs", "side").unwrap();
    b.bind("delay", "retry", "job").unwrap();
    b.bind("parked", "retry", "parked").unwrap();
    let names = ["work", "delay", "parked", "side"];

    let stop = Arc::new(AtomicBool::new(false));
    let acked_ids = Arc::new(std::sync::Mutex::new(Vec::new()));
    let mut publishers = Vec::new();
    for p in 0..2u64 {
        let (b, stop) = (b.clone(), Arc::clone(&stop));
        publishers.push(thread::spawn(move || {
            let mut rng = Xoshiro256PlusPlus::seed_from_u64(100 + p);
            let mut published = 0u64;
            while !stop.load(Ordering::Relaxed) {
                for _ in 0..rng.random_range(1..40) {
                    let key = if rng.random_bool(0.1) { "side" } else { "job" };
                    let ttl = rng.random_bool(0.3).then(|| rng.random_range(0.0..0.01));
                    let props = Props { ttl, priority: rng.random_range(0..6), deliveries: 0 };
                    let o = b.publish_with("jobs", key, p << 40 | published, props).unwrap();
                    assert_eq!(o.routed, 1);
                    published += 1;
                }
                thread::sleep(Duration::from_micros(rng.random_range(500..3000)));
            }
            published
        }));
    }
    let mut workers = Vec::new();
    for w in 0..4u64 {
        let (b, stop, acked_ids) = (b.clone(), Arc::clone(&stop), Arc::clone(&acked_ids));
        workers.push(thread::spawn(move || {
            let mut rng = Xoshiro256PlusPlus::seed_from_u64(w);
            let mut mine = Vec::new();
            while !stop.load(Ordering::Relaxed) {
                let c = b.consume("work", manual(rng.random_range(1..5))).unwrap();
                let mut kept = Vec::new();
                for _ in 0..rng.random_range(1..100) {
                    let Ok(d) = c.recv_timeout(Duration::from_millis(2)) else { continue };
                    match rng.random_range(0..20) {
                        0..=2 => d.nack(true).unwrap(),
                        3..=5 => d.nack(false).unwrap(),
                        6 => kept.push(d),
                        7 => thread::sleep(Duration::from_micros(300)),
                        _ => {
                            let id = *d.payload();
                            d.ack().unwrap();
                            mine.push(id);
                        }
                    }
                }
                drop(c); // holding some: they go back, or to the DLX at their limit
                drop(kept);
            }
            acked_ids.lock().unwrap().extend(mine);
        }));
    }
    let until = Instant::now() + Duration::from_millis(1200);
    let mut checkpoints = 0;
    while Instant::now() < until {
        thread::sleep(Duration::from_millis(20));
        for s in b.stats() {
            assert!(s.balanced(), "checkpoint {checkpoints}: {s:?}");
            if s.name == "work" {
                assert!(s.ready <= 20, "drop-head keeps its limit: {s:?}");
            }
        }
        checkpoints += 1;
    }
    stop.store(true, Ordering::SeqCst);
    let published: u64 = publishers.into_iter().map(|h| h.join().unwrap()).sum();
    for h in workers {
        h.join().unwrap();
    }
    // Drain: ack whatever reaches work or parked until delay and side are empty.
    let mut acked = acked_ids.lock().unwrap().clone();
    let drainers = [b.consume("work", manual(0)).unwrap(), b.consume("parked", manual(0)).unwrap()];
    let deadline = Instant::now() + Duration::from_secs(2);
    loop {
        for c in &drainers {
            while let Ok(d) = c.try_recv() {
                acked.push(*d.payload());
                d.ack().unwrap();
            }
        }
        // Empty, and no dead letter between its death and its next queue (the expiry
        // thread may be carrying one).
        let stats = b.stats();
        let sum = |f: &dyn Fn(&QueueStats) -> u64| stats.iter().map(f).sum::<u64>();
        let routed_dead = sum(&|s| s.dead_lettered - s.dead_letter_unroutable);
        let handed_on = |s: &QueueStats| {
            s.name == "parked"
                || s.dropped + s.expired + s.rejected == s.dead_lettered + s.dead_letter_cycles
        };
        if stats.iter().all(|s| s.ready + s.unacked == 0 && handed_on(s))
            && sum(&|s| s.offered) == published + routed_dead
        {
            break;
        }
        assert!(Instant::now() < deadline, "drain stuck: {stats:?}");
        thread::sleep(Duration::from_millis(2));
    }
    drop(drainers);
    let stats = b.stats();
    let sum = |f: &dyn Fn(&QueueStats) -> u64| stats.iter().map(f).sum::<u64>();
    for s in &stats {
        assert!(s.balanced(), "{s:?}");
        assert_eq!(s.offered, s.acked + s.dropped + s.expired + s.rejected, "{s:?}");
        if s.name != "parked" {
            // Every death in a queue with a dead-letter exchange was republished or
            // dropped as a cycle (none was refused by reject-publish).
            assert_eq!(s.dropped + s.expired + s.rejected, s.dead_lettered + s.dead_letter_cycles);
        }
    }
    // Each publish reached one queue, each routed dead letter one queue: offers are the
    // publishes plus the routed dead letters...
    assert_eq!(
        sum(&|s| s.offered),
        published + sum(&|s| s.dead_lettered - s.dead_letter_unroutable)
    );
    // ...and every message ended once: acked, died where nothing follows (parked has no
    // dead-letter exchange), dropped as a cycle, or unroutable as a dead letter.
    let parked = &stats[2];
    let ended = sum(&|s| s.acked)
        + parked.dropped
        + parked.expired
        + parked.rejected
        + sum(&|s| s.dead_letter_cycles)
        + sum(&|s| s.dead_letter_unroutable);
    assert_eq!(ended, published, "{stats:#?}");
    // Acked ids: each once, as many as the broker counted.
    let n = acked.len();
    assert_eq!(n as u64, sum(&|s| s.acked));
    let distinct: HashSet<u64> = acked.into_iter().collect();
    assert_eq!(distinct.len(), n, "a message was acked twice");
    // Every path was taken.
    let [w, d, p, side] = &stats[..] else { unreachable!() };
    assert!(published > 1000 && checkpoints >= 10, "{published} {checkpoints}");
    assert!(w.dropped > 0 && w.expired > 0 && w.rejected > 0 && w.redelivered > 0, "{w:?}");
    assert!(w.dead_letter_cycles > 0 && d.expired > 0 && d.dead_lettered > 0, "{w:?} {d:?}");
    assert!(p.offered > 0, "{p:?}");
    assert!(side.expired > 0 && side.dead_letter_unroutable == side.expired, "{side:?}");
    assert_eq!(stats.iter().map(|s| s.name.as_str()).collect::<Vec<_>>(), names);
}
