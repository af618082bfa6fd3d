//! The simulator at scale (issue 14): 1000 queues behind a fanout, 10 consumers each at
//! ρ = 0.8, 10 replications, against one queue of the same kind simulated for 1000 times
//! as long (the same messages, events and replications), both through `sim::run` (every
//! replication, the Aggregator's folding and the report). The goal is at least half the
//! single queue's events per second.
//!
//! Run: `cargo bench --bench scale` (`-- --quick` for a short run). After criterion's
//! report the bench prints both events per second and their ratio (best of 3), and writes
//! the scale scenario to `target/scale-1000x10.toml` for its peak memory, measured apart:
//! `/usr/bin/time -v target/release/mqsim run target/scale-1000x10.toml --quiet` (goal
//! under 1 GB; its horizon there is the bench's, 10 s).

use criterion::{Criterion, Throughput, criterion_group};
use mqsim::scenario::Model;
use mqsim::sim::{NoProgress, run};
use std::fmt::Write as _;
use std::hint::black_box;
use std::time::Instant;

const QUEUES: usize = 1000;
/// Scenario seconds per queue: 8 messages/s × 10 s × 1000 queues × 10 replications is
/// 800 000 messages (about 2.4 million events).
const HORIZON: f64 = 10.0;

/// `queues` queues behind one fanout, each with 10 consumers of mean 1 s, at 8 publishes/s.
fn scenario(queues: usize, horizon: f64) -> String {
    let mut t = format!(
        "name = \"scale-{queues}x10\"\n[simulation]\nhorizon = {horizon}\nwarmup = 0\nreplications = 10\nseed = 7\n\
         [[producers]]\nname = \"events\"\nexchange = \"fan\"\nrouting_key = \"\"\narrival = {{ dist = \"exponential\", rate = 8.0 }}\n\
         [[exchanges]]\nname = \"fan\"\ntype = \"fanout\"\n"
    );
    for i in 0..queues {
        let _ = write!(
            t,
            "[[queues]]\nname = \"q{i}\"\nbindings = [{{ exchange = \"fan\" }}]\n\
             [[consumers]]\nname = \"w{i}\"\nqueue = \"q{i}\"\ncount = 10\nprefetch = 1\nservice = {{ dist = \"exponential\", mean = 1.0 }}\n"
        );
    }
    t
}

fn models() -> (Model, Model) {
    let scale = Model::from_toml(&scenario(QUEUES, HORIZON), "scale.toml").expect("valid");
    let single =
        Model::from_toml(&scenario(1, HORIZON * QUEUES as f64), "single.toml").expect("valid");
    (scale, single)
}

fn bench(c: &mut Criterion) {
    let (scale, single) = models();
    let mut g = c.benchmark_group("scale");
    g.sample_size(10);
    for (name, m) in [("1000-queues-x10", &scale), ("1-queue-x10", &single)] {
        g.throughput(Throughput::Elements(run(m, None, &NoProgress).events));
        g.bench_function(name, |b| b.iter(|| run(black_box(m), None, &NoProgress).events));
    }
    g.finish();
}

/// Best of `runs`: events per second of a whole run.
fn events_per_s(m: &Model, runs: usize) -> (f64, u64) {
    let mut best = f64::INFINITY;
    let mut events = 0;
    for _ in 0..runs {
        let t = Instant::now();
        events = black_box(run(black_box(m), None, &NoProgress)).events;
        best = best.min(t.elapsed().as_secs_f64());
    }
    (events as f64 / best, events)
}

fn ratio() {
    let (scale, single) = models();
    let (s_eps, s_events) = events_per_s(&scale, 3);
    let (o_eps, o_events) = events_per_s(&single, 3);
    println!(
        "\nscale, best of 3 on {} threads: 1000 queues x 10 consumers x 10 replications",
        rayon::current_num_threads()
    );
    println!("{:<18} {:>12} {:>14}", "scenario", "events", "events/s");
    println!("{:<18} {s_events:>12} {s_eps:>14.0}", "1000 queues");
    println!("{:<18} {o_events:>12} {o_eps:>14.0}", "1 queue");
    println!("ratio (goal >= 0.5): {:.3}", s_eps / o_eps);
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("target/scale-1000x10.toml");
    if std::fs::write(&path, scenario(QUEUES, HORIZON)).is_ok() {
        println!(
            "peak memory: /usr/bin/time -v target/release/mqsim run {} --quiet",
            path.display()
        );
    }
}

criterion_group!(benches, bench);

fn main() {
    benches();
    Criterion::default().configure_from_args().final_summary();
    ratio();
}
