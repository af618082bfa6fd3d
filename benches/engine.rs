//! Engine speed, each beside the floor it is measured against in the same run:
//! - M/M/1: the engine vs the Lindley recursion (same RNG, same samplers);
//! - M/M/64: the engine vs a minimal binary-heap event loop;
//! - topic routing with 10/100/1000 non-matching bindings (per-message cost);
//! - a 3-stage pipeline with topic routing (`scenarios/order-pipeline.toml`);
//! - 8 replications on 1 vs 2 threads.
//!
//! Run: `cargo bench --bench engine`. After criterion's own report the bench prints the
//! ratios table (engine time ÷ floor time, best of 5).

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group};
use mqsim::routing::{ExchangeKind, Router};
use mqsim::scenario::Model;
use mqsim::sim::{NoProgress, reference, simulate, speed};
use std::hint::black_box;

const HORIZON: f64 = 20_000.0; // M/M/1 at λ = 8: 160 000 customers, 320 000 events

fn textbook(c: &mut Criterion) {
    let m1 = speed::mmc_model(8.0, 10.0, 1, HORIZON);
    let events1 = simulate(&m1, 0, None).events;
    let mut g = c.benchmark_group("mm1");
    g.throughput(Throughput::Elements(events1));
    g.bench_function("engine", |b| b.iter(|| simulate(black_box(&m1), 0, None).events));
    g.bench_function("lindley-floor", |b| {
        b.iter(|| reference::lindley_mm1(8.0, 10.0, black_box((8.0 * HORIZON) as u64), 1))
    });
    g.finish();

    let h64 = HORIZON / 64.0;
    let m64 = speed::mmc_model(512.0, 10.0, 64, h64);
    let events64 = simulate(&m64, 0, None).events;
    let mut g = c.benchmark_group("mmc64");
    g.throughput(Throughput::Elements(events64));
    g.bench_function("engine", |b| b.iter(|| simulate(black_box(&m64), 0, None).events));
    g.bench_function("heap-floor", |b| {
        b.iter(|| reference::heap_mmc(512.0, 10.0, 64, black_box(h64), 1))
    });
    g.finish();
}

fn routing(c: &mut Criterion) {
    let mut g = c.benchmark_group("topic-routing");
    g.throughput(Throughput::Elements(1));
    for n in [10usize, 100, 1000] {
        let names: Vec<String> = (0..=n).map(|i| format!("q{i}")).collect();
        let mut r = Router::new(&names);
        let ex = r.declare("logs", ExchangeKind::Topic);
        for i in 0..n {
            r.bind(ex, &format!("svc{i}.*.error"), i).unwrap();
        }
        r.bind(ex, "web.#", n).unwrap();
        let mut out = Vec::new();
        g.bench_with_input(BenchmarkId::new("route", n), &n, |b, _| {
            b.iter(|| {
                r.route_into(ex, black_box("web.frontend.info"), &mut out);
                out.len()
            })
        });
    }
    g.finish();
}

fn pipeline_and_threads(c: &mut Criterion) {
    let text =
        std::fs::read_to_string("scenarios/order-pipeline.toml").expect("run from the crate root");
    let mut m = Model::from_toml(&text, "order-pipeline.toml").unwrap();
    m.simulation.horizon = 600.0;
    m.simulation.warmup = 60.0;
    let events = simulate(&m, 0, None).events;
    let mut g = c.benchmark_group("pipeline-3-stage");
    g.throughput(Throughput::Elements(events));
    g.bench_function("engine", |b| b.iter(|| simulate(black_box(&m), 0, None).events));
    g.finish();

    m.simulation.replications = 8;
    let mut g = c.benchmark_group("replications-8");
    g.sample_size(10);
    for threads in [1usize, 2] {
        let pool = rayon::ThreadPoolBuilder::new().num_threads(threads).build().unwrap();
        g.bench_with_input(BenchmarkId::new("threads", threads), &threads, |b, _| {
            b.iter(|| pool.install(|| mqsim::sim::run(&m, None, &NoProgress).events))
        });
    }
    g.finish();
}

fn ratios() {
    println!("\nengine vs floor (best of 5, single thread):");
    println!("{:<28} {:>14} {:>14} {:>16}", "case", "events/s", "messages/s", "engine ÷ floor");
    for r in speed::floor_comparison(HORIZON * 5.0, 5) {
        println!(
            "{:<28} {:>14.0} {:>14.0} {:>16.2}",
            r.name,
            r.events_per_s,
            r.messages_per_s,
            r.ratio_to_floor.unwrap_or(f64::NAN)
        );
    }
}

criterion_group!(benches, textbook, routing, pipeline_and_threads);

fn main() {
    benches();
    Criterion::default().configure_from_args().final_summary();
    ratios();
}
