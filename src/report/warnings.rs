//! What a person should hear about a scenario before its results: the loader's warnings,
//! a run long enough to deserve a word, a run large enough in memory to deserve one, and
//! every queue theory calls unstable (with the memory its backlog will take). Returned as
//! lines of text; the CLI prints them on stderr. The refusals of what cannot finish or
//! cannot fit are here too; what memory is available is the caller's to say (no I/O here).

use crate::analytic;
use crate::dist::fmt_secs;
use crate::results::AnalyticReport;
use crate::scenario::Model;

/// Publishes in a run above which the expected duration is worth announcing.
const LONG_RUN_PUBLISHES: f64 = 2e9;
/// Rough simulator speed, messages per second per core, for that announcement.
const MESSAGES_PER_CORE_S: f64 = 1e7;

/// Publishes in one command above which the run is refused rather than started: at the
/// rough speed below that is more than a day of one core, and a simulated backlog of that
/// many messages would not fit in memory either. An arrival rate of 1e300 per second used to
/// start, and run until memory ran out.
pub const MAX_RUN_PUBLISHES: f64 = 1e12;

/// Expected publishes of a simulation of `model`: every producer over every replication.
pub fn expected_publishes(model: &Model) -> f64 {
    let s = &model.simulation;
    model.producers.iter().map(|p| s.horizon / p.arrival.mean().max(1e-300)).sum::<f64>()
        * f64::from(s.replications)
}

/// Refuses a simulation whose size is absurd (more than [`MAX_RUN_PUBLISHES`] publishes),
/// stating the estimate, the limit and what to change.
pub fn check_run_size(model: &Model) -> Result<(), String> {
    let publishes = expected_publishes(model);
    if publishes <= MAX_RUN_PUBLISHES {
        return Ok(());
    }
    let s = &model.simulation;
    let rate: f64 = model.producers.iter().map(|p| 1.0 / p.arrival.mean().max(1e-300)).sum();
    Err(format!(
        "refusing to simulate about {publishes:.1e} publishes (arrivals {rate:.3e}/s over a horizon of {} × {} replications); \
         the limit is {MAX_RUN_PUBLISHES:.0e}, about {} of one core at ~10 million messages/s. \
         Shorten simulation.horizon, lower simulation.replications, or check the arrival rates and their units",
        fmt_secs(s.horizon),
        s.replications,
        fmt_secs(MAX_RUN_PUBLISHES / MESSAGES_PER_CORE_S),
    ))
}

/// Bytes of one latency histogram counter; a dense histogram holds 1024 of them per power
/// of two of nanoseconds up to its largest value (`stats::histogram`).
const COUNTER_BYTES: f64 = 8.0;
/// Bytes per value of a histogram kept sparse (`stats::histogram`): at most one 8-byte
/// (bucket, count) entry per value, whether it waits in a pool for its turn to be added
/// (`HistogramPool`) or has been (a pool's distinct buckets are fewer than its values,
/// which makes up for the two briefly held together); a 4-byte index per value (up to
/// twice that as its log doubles) while recorded. A histogram is sparse while that is well
/// under its dense counters' size.
const SPARSE_BYTES_PER_VALUE: f64 = 8.0;
/// Bytes per queue per replication running, besides its histograms: the queue's state in
/// the engine and the messaging core, its dispatch line, and its figures on their way to
/// the pooled ones. Measured with `/usr/bin/time -v` (see docs/architecture.md, Memory).
const BYTES_PER_QUEUE: f64 = 4e3;
/// Bytes a replication's figures keep per queue once folded (its means, rates and the 22
/// quantiles of each of its two curves, for the intervals across replications).
const BYTES_PER_QUEUE_REPLICATION: f64 = 1e3;
/// Bytes per simulated consumer (queue or topic) per replication running: its state in the
/// engine and its queue's core, its place in the dispatch line and its calendar slot
/// (measured: 10 queues × 100 000 consumers, 125 MB).
const BYTES_PER_CONSUMER: f64 = 128.0;
/// Bytes per message waiting in a queue: its entry (~29 bytes) and the queue's spare
/// capacity as it doubles (measured: 5 million waiting at rho = 2, 236 MB).
pub const BYTES_PER_WAITING_MESSAGE: f64 = 45.0;
/// Bytes per queue, per point of the state series kept for charts (eight figures).
const BYTES_PER_SERIES_POINT: f64 = 64.0;
/// The program, its model and what does not grow with the scenario.
const BASE_BYTES: f64 = 16e6;
/// A run estimated to need more than this is announced before it starts.
pub const LARGE_RUN_BYTES: f64 = 1e9;

/// What a simulation of a model needs in memory, by part (bytes), each with what to change
/// to reduce it.
#[derive(Debug, Clone, PartialEq)]
pub struct MemoryEstimate {
    /// Replications running at once (the threads, at most the replications).
    pub at_once: usize,
    /// (what, bytes, what to reduce), largest first.
    pub parts: Vec<(String, f64, &'static str)>,
}

impl MemoryEstimate {
    /// All parts together.
    pub fn total(&self) -> f64 {
        BASE_BYTES + self.parts.iter().map(|p| p.1).sum::<f64>()
    }
}

/// Bytes of a dense latency histogram that covers values up to `secs`.
fn histogram_bytes(secs: f64) -> f64 {
    // 1024 counters per power of two above 2048 ns, 2048 below.
    let powers = (secs.max(1e-9) * 1e9).log2().ceil().max(11.0) - 11.0 + 2.0;
    powers * 1024.0 * COUNTER_BYTES
}

/// Bytes of a latency histogram of `values` values up to `secs`: sparse while that is
/// smaller, dense otherwise.
fn histogram_bytes_of(values: f64, secs: f64) -> f64 {
    (values * SPARSE_BYTES_PER_VALUE).min(histogram_bytes(secs))
}

/// Growth of an unstable queue's backlog, messages per second (λ − cμ = λ(1 − 1/ρ)), for
/// the queues theory calls unstable that have consumers: `(name, rate)`.
fn backlog_growth(analysis: &AnalyticReport) -> Vec<(&str, f64)> {
    analysis
        .queues
        .iter()
        .filter(|q| !q.stable && q.consumers > 0)
        .filter_map(|q| {
            let rate = q.offered_rate? * (1.0 - 1.0 / q.rho.filter(|r| *r >= 1.0)?);
            Some((q.name.as_str(), rate))
        })
        .collect()
}

/// The memory a simulation of `model` needs with `threads` replications at once, and with
/// a state series of `series_points` per queue per replication when charts are drawn.
///
/// Per replication running: each queue's wait and sojourn histograms (sparse for the
/// messages theory expects it to time after the warm-up, or dense up to the horizon, no
/// latency exceeding it, whichever is smaller; a priority queue's per-priority pair
/// besides), its state, its consumers, and the backlog an unstable queue builds by the
/// horizon; pooled over replications: the histograms of every replication's messages and
/// a few numbers per queue per replication. An estimate (within about a factor of two on
/// the runs measured), not a bound.
pub fn estimated_memory(
    model: &Model,
    threads: usize,
    series_points: Option<usize>,
) -> MemoryEstimate {
    estimate_with(model, &analytic::analyze(model), threads, series_points)
}

fn estimate_with(
    model: &Model,
    analysis: &AnalyticReport,
    threads: usize,
    series_points: Option<usize>,
) -> MemoryEstimate {
    let s = &model.simulation;
    let reps = f64::from(s.replications.max(s.precision.map_or(0, |_| s.max_replications)));
    let at_once = threads.clamp(1, reps.max(1.0) as usize);
    let n = at_once as f64;
    let queues = model.queues.len() as f64;
    // Per replication, (values timed, histograms): a queue's wait and sojourn time the
    // messages offered after the warm-up (a queue theory has no rate for is taken as
    // dense), a priority queue's per-priority pair each message once more; a producer's end
    // to end at most each publish.
    let span = (s.horizon - s.warmup).max(0.0);
    let timed: Vec<(f64, f64)> = model
        .queues
        .iter()
        .enumerate()
        .map(|(q, queue)| {
            let values = analysis
                .queues
                .get(q)
                .filter(|a| a.name == queue.name)
                .and_then(|a| a.offered_rate)
                .map_or(f64::INFINITY, |rate| rate * span);
            (values, if queue.max_priority.is_some() { 4.0 } else { 2.0 })
        })
        .chain(model.producers.iter().map(|p| (span / p.arrival.mean().max(1e-300), 1.0)))
        .collect();
    // Bytes of those histograms holding `reps` replications' values.
    let hists = |reps: f64| -> f64 {
        timed.iter().map(|&(v, k)| k * histogram_bytes_of(v * reps, s.horizon)).sum()
    };
    let consumers: f64 = model.groups.iter().map(|g| f64::from(g.count)).sum::<f64>()
        + model.topics.iter().flat_map(|t| &t.groups).map(|g| f64::from(g.count)).sum::<f64>();
    let mut parts = vec![
        (
            format!(
                "{} queues' latency histograms, {at_once} replications at once",
                model.queues.len()
            ),
            // Per replication running: its recorders, then its finished histograms waiting to
            // be folded in order (the space of one often reused for the other); pooled: every
            // replication's values.
            1.5 * n * hists(1.0)
                + if reps > 1.0 { hists(reps) } else { 0.0 }
                + n * queues * BYTES_PER_QUEUE,
            "fewer queues, or fewer threads (--threads)",
        ),
        (
            format!("{consumers:.0} consumers, {at_once} replications at once"),
            n * consumers * BYTES_PER_CONSUMER,
            "lower consumers[].count",
        ),
        (
            format!("{} queues × {reps:.0} replications' figures", model.queues.len()),
            queues * reps * BYTES_PER_QUEUE_REPLICATION,
            "fewer simulation.replications",
        ),
    ];
    for (name, rate) in backlog_growth(analysis) {
        parts.push((
            format!("unstable queue \"{name}\"'s backlog by the horizon"),
            n * rate * s.horizon * BYTES_PER_WAITING_MESSAGE,
            "a shorter simulation.horizon, a max_length, or more consumers",
        ));
    }
    if let Some(points) = series_points {
        parts.push((
            format!("the charts' state series ({points} points per queue per replication)"),
            queues * reps * points as f64 * BYTES_PER_SERIES_POINT,
            "fewer simulation.replications, or no --out",
        ));
    }
    parts.sort_by(|a, b| b.1.total_cmp(&a.1));
    MemoryEstimate { at_once, parts }
}

/// Refuses a simulation whose estimated memory ([`estimated_memory`], one replication at a
/// time) exceeds `available` bytes, naming its largest part and what to reduce: such a run
/// used to abort allocating (`count = 1000000000` consumers) or exhaust the machine.
/// `analysis` is the model's (callers make it once: a thousand queues' percentiles take a
/// tenth of a second to work out).
pub fn check_run_memory(
    model: &Model,
    analysis: &AnalyticReport,
    series_points: Option<usize>,
    available: f64,
) -> Result<(), String> {
    let e = estimate_with(model, analysis, 1, series_points);
    let need = e.total();
    if need <= available {
        return Ok(());
    }
    let (what, bytes, reduce) = &e.parts[0];
    Err(format!(
        "refusing to simulate: the run needs about {} of memory and about {} is available; \
         the largest part is {what} (about {}): {reduce}",
        fmt_bytes(need),
        fmt_bytes(available),
        fmt_bytes(*bytes),
    ))
}

/// `1.3 GB`, `250 MB`, `12 kB`, `8.0 TB`; `2.0e4 TB` past a petabyte.
pub fn fmt_bytes(b: f64) -> String {
    if b >= 1e15 {
        format!("{:.1e} TB", b / 1e12)
    } else if b >= 1e12 {
        format!("{:.1} TB", b / 1e12)
    } else if b >= 1e9 {
        format!("{:.1} GB", b / 1e9)
    } else if b >= 1e6 {
        format!("{:.0} MB", b / 1e6)
    } else {
        format!("{:.0} kB", b / 1e3)
    }
}

/// The model's warnings, then one if the run is long on `threads` cores, then one for
/// every queue that theory says is unstable (offered load at or above capacity with no
/// `max_length`): its backlog grows for as long as the run lasts, so its figures describe
/// the horizon, not a steady state. `analysis` is the model's.
pub fn model_warnings(model: &Model, analysis: &AnalyticReport, threads: usize) -> Vec<String> {
    let mut out = model.warnings.clone();
    let s = &model.simulation;
    let publishes = expected_publishes(model);
    if publishes > LONG_RUN_PUBLISHES {
        out.push(format!(
            "about {publishes:.1e} publishes over {} replications: at ~10 million messages/s per core this takes about {}",
            s.replications,
            fmt_secs(publishes / MESSAGES_PER_CORE_S / threads.max(1) as f64)
        ));
    }
    let mem = estimate_with(model, analysis, threads, None);
    if mem.total() > LARGE_RUN_BYTES {
        let (what, bytes, _) = &mem.parts[0];
        out.push(format!(
            "a simulation of this scenario needs about {} of memory ({} replications at once on {} threads; most of it {what}: about {})",
            fmt_bytes(mem.total()),
            mem.at_once,
            threads.max(1),
            fmt_bytes(*bytes),
        ));
    }
    let growth = backlog_growth(analysis);
    for q in &analysis.queues {
        if !q.stable && q.consumers > 0 {
            // Scientific notation past a million: ρ = 1e300 printed 300 digits.
            let rho = q.rho.map_or_else(
                || "unknown".to_string(),
                |r| if r.abs() >= 1e6 { format!("{r:.3e}") } else { format!("{r:.3}") },
            );
            // ~29 bytes per waiting message: 1000 h at rho = 2 took 1 GB without a word.
            let memory = growth
                .iter()
                .find(|(name, _)| *name == q.name)
                .map(|(_, rate)| {
                    let waiting = rate * s.horizon;
                    format!(
                        "; by the horizon about {waiting:.3e} messages wait, about {} of memory per replication",
                        fmt_bytes(waiting * BYTES_PER_WAITING_MESSAGE)
                    )
                })
                .unwrap_or_default();
            out.push(format!(
                "queue \"{}\" is unstable (rho = {rho} >= 1, no max_length): its backlog grows without bound; \
                 figures depend on the horizon{memory}",
                q.name
            ));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn histograms_are_sized_to_the_horizon() {
        // 100 s = 1e11 ns: 28 powers of two of 1024 counters (index_for's layout).
        assert_eq!(histogram_bytes(100.0), 28.0 * 1024.0 * 8.0);
        assert_eq!(histogram_bytes(1e-12), 2.0 * 1024.0 * 8.0);
    }

    /// 1000 queues behind a fanout, 10 consumers each at 8 messages/s, 10 replications
    /// (`benches/scale.rs`).
    fn fanout(horizon: u32, rate: u32) -> Model {
        let mut t = format!(
            "[simulation]\nhorizon = {horizon}\nwarmup = 0\nreplications = 10\n[[producers]]\nname = \"p\"\nexchange = \"f\"\nrouting_key = \"\"\narrival = {{ dist = \"exponential\", rate = {rate} }}\n[[exchanges]]\nname = \"f\"\ntype = \"fanout\"\n"
        );
        for i in 0..1000 {
            t.push_str(&format!("[[queues]]\nname = \"q{i}\"\nbindings = [{{ exchange = \"f\" }}]\n[[consumers]]\nname = \"w{i}\"\nqueue = \"q{i}\"\ncount = 10\nservice = {{ dist = \"exponential\", mean = {} }}\n", 8.0 / f64::from(rate)));
        }
        Model::from_toml(&t, "fanout.toml").unwrap()
    }

    #[test]
    fn histograms_cost_what_their_messages_need() {
        // Peak resident memory measured on one thread (docs/architecture.md, Memory): 44 MB
        // for 10 s, 129 MB for 100 s. The estimate is within a factor of two of both.
        for (horizon, measured) in [(10, 44e6), (100, 129e6)] {
            let e = estimated_memory(&fanout(horizon, 8), 1, None).total();
            assert!(e > measured / 2.0 && e < measured * 2.0, "{horizon} s: {e:e}");
        }
        // 1000 messages/s per queue: dense histograms, over a gigabyte.
        assert!(estimated_memory(&fanout(100, 1000), 1, None).total() > LARGE_RUN_BYTES);
    }

    #[test]
    fn bytes_read_as_people_write_them() {
        assert_eq!(fmt_bytes(12e3), "12 kB");
        assert_eq!(fmt_bytes(250e6), "250 MB");
        assert_eq!(fmt_bytes(1.34e9), "1.3 GB");
        assert_eq!(fmt_bytes(8.01e12), "8.0 TB");
        assert_eq!(fmt_bytes(2.03e16), "2.0e4 TB");
    }

    #[test]
    fn the_estimate_grows_with_what_runs_at_once_and_the_refusal_names_the_largest_part() {
        let text = std::fs::read_to_string("scenarios/mmc.toml").unwrap();
        let m = Model::from_toml(&text, "mmc.toml").unwrap();
        let one = estimated_memory(&m, 1, None);
        let four = estimated_memory(&m, 4, None);
        assert!(four.total() > one.total());
        assert!(one.total() < LARGE_RUN_BYTES, "{one:?}");
        let a = analytic::analyze(&m);
        assert!(check_run_memory(&m, &a, None, 8e9).is_ok());
        let err = check_run_memory(&m, &a, Some(300), 1e6).unwrap_err();
        assert!(err.starts_with("refusing to simulate: the run needs about "), "{err}");
        assert!(err.contains("and about 1 MB is available; the largest part is "), "{err}");
    }
}
