//! The simulator's speed with the second edition's arrival processes against plain Poisson
//! arrivals at the same mean rate, everything else equal (one queue, 4 exponential
//! consumers at μ = 10/s, the same horizon, so about the same messages and events):
//! - `poisson`: `{ dist = "exponential", rate = 76/3 }`;
//! - `schedule`: 20/s, 36/s for a third of each hour, 20/s (mean 76/3 per second): the
//!   issue's goal is within 10% of `poisson`;
//! - `sinusoid` and `mmpp` at the same mean, for reference.
//!
//! Run: `cargo bench --bench arrival` (`-- --quick` for a short run). After criterion's
//! report the bench prints each process's time ÷ Poisson's (best of 5, single thread).

use criterion::{Criterion, Throughput, criterion_group};
use mqsim::scenario::Model;
use mqsim::sim::simulate;
use std::hint::black_box;
use std::time::Instant;

/// 20 000 s at 25.3/s: about 500 000 messages, 1 000 000 events per replication.
const HORIZON: f64 = 20_000.0;
const MEAN_RATE: f64 = 76.0 / 3.0;

const PROCESSES: [(&str, &str); 4] = [
    ("poisson", "{ dist = \"exponential\", rate = 25.333333333333332 }"),
    (
        "schedule",
        "{ process = \"schedule\", period = \"1h\", rates = [{ at = \"0m\", rate = 20 }, { at = \"20m\", rate = 36 }, { at = \"40m\", rate = 20 }] }",
    ),
    (
        "sinusoid",
        "{ process = \"sinusoid\", mean_rate = 25.333333333333332, amplitude = 0.4, period = \"1h\" }",
    ),
    (
        "mmpp",
        "{ process = \"mmpp\", states = [{ rate = 20, mean_duration = \"40m\" }, { rate = 36, mean_duration = \"20m\" }] }",
    ),
];

fn model(arrival: &str) -> Model {
    let text = format!(
        "[simulation]\nhorizon = {HORIZON}\nwarmup = 0\nreplications = 1\nseed = 7\n\
         [[producers]]\nname = \"p\"\nrouting_key = \"q\"\narrival = {arrival}\n\
         [[queues]]\nname = \"q\"\n\
         [[consumers]]\nname = \"c\"\nqueue = \"q\"\ncount = 4\nprefetch = 1\nservice = {{ dist = \"exponential\", mean = 0.1 }}\n"
    );
    let m = Model::from_toml(&text, "arrival-bench.toml").expect("bench scenario is valid");
    assert!((m.producers[0].arrival.mean_rate() - MEAN_RATE).abs() < 1e-9);
    m
}

fn processes(c: &mut Criterion) {
    let mut g = c.benchmark_group("arrival-process");
    g.sample_size(10);
    for (name, arrival) in PROCESSES {
        let m = model(arrival);
        let events = simulate(&m, 0, None).events;
        g.throughput(Throughput::Elements(events));
        g.bench_function(name, |b| b.iter(|| simulate(black_box(&m), 0, None).events));
    }
    g.finish();
}

/// Best of `runs` wall-clock times of one replication, and its events.
fn best(m: &Model, runs: usize) -> (f64, u64) {
    let mut best = f64::INFINITY;
    let mut events = 0;
    for _ in 0..runs {
        let t = Instant::now();
        events = black_box(simulate(black_box(m), 0, None)).events;
        best = best.min(t.elapsed().as_secs_f64());
    }
    (best, events)
}

fn ratios() {
    println!("\narrival processes vs Poisson at the same mean rate (best of 5, single thread):");
    println!(
        "{:<10} {:>12} {:>14} {:>14} {:>18}",
        "process", "events", "ns/event", "events/s", "time ÷ poisson"
    );
    let (base, base_events) = best(&model(PROCESSES[0].1), 5);
    for (name, arrival) in PROCESSES {
        let (t, events) =
            if name == "poisson" { (base, base_events) } else { best(&model(arrival), 5) };
        // Per event, so a process that happened to draw a few more messages is not charged
        // for them.
        let per_event = t / events as f64;
        let ratio = per_event / (base / base_events as f64);
        println!(
            "{name:<10} {events:>12} {:>14.1} {:>14.0} {ratio:>18.3}",
            per_event * 1e9,
            1.0 / per_event
        );
    }
}

criterion_group!(benches, processes);

fn main() {
    benches();
    Criterion::default().configure_from_args().final_summary();
    ratios();
}
