//! The validation matrix behind `mqsim validate`: the simulator and the analytic back end on
//! a grid of textbook queues — ρ ∈ {0.1 … 0.95}, c ∈ {1, 2, 8, 64}, service exponential,
//! constant, Erlang-4 and log-normal (CV 2), finite buffers (M/M/c/K under reject-publish and
//! drop-head, one consumer with prefetch > 1 among them), a Jackson tandem, and the message
//! lifecycle (TTL as M/M/c+D, requeued and rejected failures, priorities, crashes, a retry
//! loop through a dead-letter exchange and a delay queue), `network_delay` with prefetch 1
//! (the credit held E[S] + 2d: M/G/1 exact, M/G/c approximate), Kafka-style topics, and
//! load that is not a stationary stream of single messages (MMPP/M/1, M^X/M/1, the fluid
//! drain time of a backlog, PSA and MOL per window of a time-varying M(t)/M/c:
//! `validate::load`) —
//! and, beside them, the tutorial's four formulas against theory and simulation.
//!
//! A cell **passes** when theory lies inside the simulation's 99.9% Student-t interval over
//! replications (the 95% interval is reported too). The wider interval is a multiple-
//! comparison guard: with ~400 comparisons, 95% intervals would miss theory ~20 times by
//! chance alone, 99.9% intervals ~0.4 times. Exact models must pass everywhere;
//! approximations report their relative error and are not given a verdict.

mod load;
mod topic;

use crate::analytic::{self, tutorial};
use crate::scenario::Model;
use crate::sim::{self, NoProgress, SimOutcome};
use crate::stats::{MeanCi, student_t_975};
use rayon::prelude::*;
use serde::Serialize;
use statrs::distribution::{ContinuousCDF, StudentsT};

/// One comparison: one metric of one cell.
#[derive(Debug, Clone, Serialize)]
pub struct Row {
    /// Cell label, e.g. `M/M/8 rho=0.8`.
    pub cell: String,
    /// The analytic model used (`M/M/c`, `M/G/c (Allen–Cunneen)`, …).
    pub model: String,
    /// Whether the model is exact for the cell.
    pub exact: bool,
    /// `wait_s.mean`, `wait_s.p99`, `queue_length.mean`, `utilization`, `loss_probability`,
    /// `end_to_end_s.mean`.
    pub metric: String,
    /// Theory's value.
    pub theory: f64,
    /// Simulated mean over replications.
    pub simulated: f64,
    /// Half-width of the simulated 95% interval.
    pub ci95: f64,
    /// (simulated − theory) ÷ theory; 0 when both are 0.
    pub rel_error: f64,
    /// Theory inside the 95% interval.
    pub in_ci95: bool,
    /// Exact models: theory inside the 99.9% interval. Approximations: `None`.
    pub pass: Option<bool>,
}

/// One of the tutorial's formulas beside theory and simulation.
#[derive(Debug, Clone, Serialize)]
pub struct TutorialRow {
    /// Section, e.g. `§4.2`.
    pub section: String,
    /// The formula as written.
    pub formula: String,
    /// Its value with the scenario's numbers.
    pub value: f64,
    /// Its real unit.
    pub unit: String,
    /// What the tutorial says it is.
    pub claimed: String,
    /// The quantity that answers the tutorial's question.
    pub correct_quantity: String,
    /// Theory's value of it.
    pub theory: Option<f64>,
    /// The simulation's value of it.
    pub simulated: f64,
    /// Holds / wrong, and why.
    pub verdict: String,
}

/// Everything `validate` measured.
#[derive(Debug, Clone, Serialize)]
pub struct Validation {
    /// Replications per cell.
    pub replications: u32,
    /// Customers per replication (approximately).
    pub customers: u64,
    /// The matrix.
    pub rows: Vec<Row>,
    /// The tutorial's formulas.
    pub tutorial: Vec<TutorialRow>,
}

struct Cell {
    label: String,
    model: Model,
    kind: Kind,
}

/// What a cell's simulation is compared with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    /// The long-run figures of every queue (and topic) against the analytic back end.
    Stationary,
    /// Only the drain time of an initial backlog against the fluid approximation.
    Drain,
    /// Only the per-window waits against PSA and MOL (`analytic::timevarying`).
    Windows,
}

#[allow(clippy::too_many_arguments)]
fn single(
    label: String,
    lambda: f64,
    c: u32,
    service: &str,
    extra: &str,
    horizon: f64,
    reps: u32,
    seed: u64,
    prefetch: u32,
) -> Cell {
    let text = format!(
        "[simulation]\nhorizon = {horizon}\nwarmup = {}\nreplications = {reps}\nseed = {seed}\n\
         [[producers]]\nname = \"p\"\nrouting_key = \"q\"\narrival = {{ dist = \"exponential\", rate = {lambda} }}\n\
         [[queues]]\nname = \"q\"\n{extra}\n\
         [[consumers]]\nname = \"c\"\nqueue = \"q\"\ncount = {c}\nprefetch = {prefetch}\nservice = {service}\n",
        horizon / 10.0
    );
    Cell {
        label,
        model: Model::from_toml(&text, "validate.toml").expect("generated cell is valid"),
        kind: Kind::Stationary,
    }
}

const MU: f64 = 10.0;

/// A one-queue cell with second-edition settings: `producer`, `queue` and `consumer` are
/// extra TOML lines for the producer, the queue and the consumer group.
#[allow(clippy::too_many_arguments)]
fn lifecycle_cell(
    label: &str,
    lambda: f64,
    c: u32,
    producer: &str,
    queue: &str,
    consumer: &str,
    customers: u64,
    reps: u32,
    seed: u64,
) -> Cell {
    let horizon = (customers as f64 / lambda).max(200.0);
    let text = format!(
        "[simulation]\nhorizon = {horizon}\nwarmup = {}\nreplications = {reps}\nseed = {seed}\n\
         [[producers]]\nname = \"p\"\nrouting_key = \"q\"\narrival = {{ dist = \"exponential\", rate = {lambda} }}\n{producer}\n\
         [[queues]]\nname = \"q\"\n{queue}\n\
         [[consumers]]\nname = \"c\"\nqueue = \"q\"\ncount = {c}\nprefetch = 1\nservice = {{ dist = \"exponential\", mean = 0.1 }}\n{consumer}\n",
        horizon / 10.0
    );
    Cell {
        label: label.into(),
        model: Model::from_toml(&text, "validate.toml").expect("generated cell is valid"),
        kind: Kind::Stationary,
    }
}

/// The second edition's models: TTL (M/M/c+D), requeued and rejected failures, priorities,
/// crashes, and a retry loop through a dead-letter exchange and a delay queue.
fn lifecycle_cells(quick: bool, reps: u32, customers: u64) -> Vec<Cell> {
    let mut out = vec![
        lifecycle_cell(
            "M/M/2+D ttl=0.3s rho=1.5",
            30.0,
            2,
            "",
            "message_ttl = 0.3",
            "",
            customers,
            reps,
            2001,
        ),
        lifecycle_cell(
            "M/M/1+D ttl=0.2s rho=0.8",
            8.0,
            1,
            "",
            "message_ttl = 0.2",
            "",
            customers,
            reps,
            2002,
        ),
        lifecycle_cell(
            "M/M/2 requeue p=0.2 rho=0.7",
            11.2,
            2,
            "",
            "",
            "failure = { probability = 0.2, action = \"requeue\" }",
            customers,
            reps,
            2003,
        ),
        lifecycle_cell(
            "M/M/4 priorities 1:3 rho=0.8",
            32.0,
            4,
            "priority = { values = [5, 1], weights = [0.25, 0.75] }",
            "max_priority = 5",
            "",
            customers,
            reps,
            2004,
        ),
        lifecycle_cell(
            "M/M/1 crashes up=20s down=2s rho=0.5",
            5.0,
            1,
            "",
            "",
            "crash = { every = { dist = \"exponential\", mean = 20 }, restart = { dist = \"exponential\", mean = 2 } }",
            customers * 4,
            reps,
            2005,
        ),
        // network_delay: one credit is held E[S] + 2d, an exact M/G/1 for the ready queue.
        lifecycle_cell(
            "M/M/1 prefetch=1 network_delay=50ms rho'=0.7",
            3.5,
            1,
            "",
            "",
            "network_delay = 0.05",
            customers,
            reps,
            2010,
        ),
        // A calibrated model's shape: publish_delay shifts every latency by exactly 20 ms
        // on top of the exact M/G/1 of the credit loop.
        lifecycle_cell(
            "M/M/1 prefetch=1 publish_delay=20ms network_delay=10ms rho'=0.7",
            5.8,
            1,
            "publish_delay = 0.02",
            "",
            "network_delay = 0.01",
            customers,
            reps,
            2012,
        ),
    ];
    if !quick {
        out.push(lifecycle_cell(
            "M/M/4 prefetch=1 network_delay=50ms rho'=0.7",
            14.0,
            4,
            "",
            "",
            "network_delay = 0.05",
            customers,
            reps,
            2011,
        ));
        out.push(lifecycle_cell(
            "M/M/1 crashes up=20s down=2s constant rho=0.5",
            5.0,
            1,
            "",
            "",
            "crash = { every = { dist = \"exponential\", mean = 20 }, restart = { dist = \"constant\", value = 2 } }",
            customers * 4,
            reps,
            2006,
        ));
        out.push(lifecycle_cell(
            "M/M/4 crashes up=20s down=2s rho=0.5",
            20.0,
            4,
            "",
            "",
            "crash = { every = { dist = \"exponential\", mean = 20 }, restart = { dist = \"exponential\", mean = 2 } }",
            customers * 4,
            reps,
            2007,
        ));
        out.push(lifecycle_cell(
            "M/M/2 reject p=0.1 rho=0.8",
            16.0,
            2,
            "",
            "",
            "failure = { probability = 0.1, action = \"reject\" }",
            customers,
            reps,
            2008,
        ));
    }
    let lambda = 40.0;
    let horizon = (customers as f64 / lambda).max(200.0);
    let retry = format!(
        "[simulation]\nhorizon = {horizon}\nwarmup = {}\nreplications = {reps}\nseed = 2009\n\
         [[producers]]\nname = \"p\"\nrouting_key = \"work\"\narrival = {{ dist = \"exponential\", rate = {lambda} }}\n\
         [[exchanges]]\nname = \"retry\"\ntype = \"direct\"\n\
         [[queues]]\nname = \"work\"\ndead_letter_exchange = \"retry\"\ndelivery_limit = 3\ndelivery_limit_routing_key = \"parked\"\n\
         [[queues]]\nname = \"delay\"\nbindings = [{{ exchange = \"retry\", key = \"work\" }}]\nmessage_ttl = 1\ndead_letter_exchange = \"\"\ndead_letter_routing_key = \"work\"\n\
         [[queues]]\nname = \"parked\"\nbindings = [{{ exchange = \"retry\", key = \"parked\" }}]\nmessage_ttl = 1\n\
         [[consumers]]\nname = \"w\"\nqueue = \"work\"\ncount = 6\nprefetch = 1\nservice = {{ dist = \"exponential\", mean = 0.1 }}\nfailure = {{ probability = 0.3, action = \"reject\" }}\n",
        horizon / 10.0
    );
    out.push(Cell {
        label: "retry loop p=0.3 limit=3 delay=1s".into(),
        model: Model::from_toml(&retry, "retry.toml").expect("generated retry loop is valid"),
        kind: Kind::Stationary,
    });
    out
}

/// The tutorial's system (`mmc-demo`): arrival rate W, msgs/s.
pub const TUTORIAL_RATE: f64 = 64.0;
/// The tutorial's system: mean service time D, seconds (exponential, the first of the
/// matrix's services).
pub const TUTORIAL_SERVICE_S: f64 = 1.0 / MU;
/// The tutorial's system: consumers G.
pub const TUTORIAL_CONSUMERS: u32 = 8;
/// Offered rate, msgs/s, that drives the tutorial's group into saturation (§4.4's measured
/// capacity).
pub const TUTORIAL_SATURATION_RATE: f64 = 160.0;
const SERVICES: [(&str, &str); 4] = [
    ("M", "{ dist = \"exponential\", mean = 0.1 }"),
    ("D", "{ dist = \"constant\", value = 0.1 }"),
    ("E4", "{ dist = \"erlang\", k = 4, mean = 0.1 }"),
    ("LN(cv=2)", "{ dist = \"lognormal\", mean = 0.1, cv = 2.0 }"),
];

fn cells(quick: bool, reps: u32, customers: u64) -> Vec<Cell> {
    let rhos: &[f64] = if quick { &[0.3, 0.8] } else { &[0.1, 0.3, 0.5, 0.7, 0.8, 0.9, 0.95] };
    let cs: &[u32] = if quick { &[1, 8] } else { &[1, 2, 8, 64] };
    let services: &[(&str, &str)] = if quick { &SERVICES[..2] } else { &SERVICES };
    let mut out = Vec::new();
    let mut seed = 1000;
    for &(sname, service) in services {
        for &c in cs {
            for &rho in rhos {
                let lambda = rho * f64::from(c) * MU;
                // Heavy traffic relaxes slowly (time scale ~ 1/(μ(1−√ρ)²)): give it more
                // customers so the interval stays informative.
                let factor = if rho >= 0.9 { 4.0 } else { 1.0 };
                let horizon = (customers as f64 * factor / lambda).max(200.0);
                seed += 1;
                out.push(single(
                    format!("M/{sname}/{c} rho={rho}"),
                    lambda,
                    c,
                    service,
                    "",
                    horizon,
                    reps,
                    seed,
                    1,
                ));
            }
        }
    }
    // (consumers, max_length, ρ, prefetch, overflow). Prefetch > 1 only with one consumer,
    // where the model is exact: max_length counts ready messages, so K = max_length +
    // prefetch, and drop-head never drops the messages the consumer holds.
    let buffers: &[(u32, u32, f64, u32, &str)] = if quick {
        &[(4, 10, 1.2, 1, "reject-publish"), (1, 3, 0.9, 5, "drop-head")]
    } else {
        &[
            (1, 5, 0.8, 1, "reject-publish"),
            (1, 5, 1.2, 1, "reject-publish"),
            (4, 10, 0.8, 1, "reject-publish"),
            (4, 10, 1.2, 1, "reject-publish"),
            (4, 40, 1.0, 1, "reject-publish"),
            (4, 10, 1.2, 1, "drop-head"),
            (1, 3, 0.9, 5, "reject-publish"),
            (1, 3, 0.9, 5, "drop-head"),
            (1, 1, 1.2, 2, "drop-head"),
            (1, 5, 0.9, 10, "drop-head"),
        ]
    };
    for &(c, max, rho, prefetch, overflow) in buffers {
        let lambda = rho * f64::from(c) * MU;
        seed += 1;
        let pf = if prefetch > 1 { format!(" prefetch={prefetch}") } else { String::new() };
        let of = if overflow == "drop-head" { " drop-head" } else { "" };
        out.push(single(
            format!("M/M/{c}/K max_length={max}{pf}{of} rho={rho}"),
            lambda,
            c,
            SERVICES[0].1,
            &format!("max_length = {max}\noverflow = \"{overflow}\""),
            customers as f64 / lambda,
            reps,
            seed,
            prefetch,
        ));
    }
    let horizon = customers as f64 / 6.0;
    let tandem = format!(
        "[simulation]\nhorizon = {horizon}\nwarmup = {}\nreplications = {reps}\nseed = {}\n\
         [[producers]]\nname = \"p\"\nrouting_key = \"stage1\"\narrival = {{ dist = \"exponential\", rate = 6.0 }}\n\
         [[queues]]\nname = \"stage1\"\n[[queues]]\nname = \"stage2\"\n\
         [[consumers]]\nname = \"s1\"\nqueue = \"stage1\"\ncount = 1\nprefetch = 1\nservice = {{ dist = \"exponential\", mean = 0.1 }}\nthen = {{ routing_key = \"stage2\" }}\n\
         [[consumers]]\nname = \"s2\"\nqueue = \"stage2\"\ncount = 2\nprefetch = 1\nservice = {{ dist = \"exponential\", mean = 0.25 }}\n",
        horizon / 10.0,
        seed + 1
    );
    out.push(Cell {
        label: "tandem M/M/1 → M/M/2".into(),
        model: Model::from_toml(&tandem, "tandem.toml").expect("generated tandem is valid"),
        kind: Kind::Stationary,
    });
    out.extend(lifecycle_cells(quick, reps, customers));
    out.extend(topic::cells(quick, reps, customers));
    out.extend(load::cells(quick, reps, customers));
    out
}

fn t999_over_t975(df: u32) -> f64 {
    let t999 = StudentsT::new(0.0, 1.0, f64::from(df.max(1))).expect("df >= 1").inverse_cdf(0.9995);
    t999 / student_t_975(df)
}

/// `scale` is the metric's natural unit (the service time for times, 1 for counts and
/// probabilities). When every replication measured the same value the interval has zero
/// width; a theoretical difference below 10⁻⁶ of the scale is then accepted, because an
/// effect that touches fewer than one message in 10⁶ is invisible in a few million
/// messages (rule of three: zero events in N trials bounds the rate by 3/N at 95%).
#[allow(clippy::too_many_arguments)]
fn row(
    cell: &str,
    model: &str,
    exact: bool,
    metric: &str,
    theory: f64,
    sim: MeanCi,
    widen: f64,
    scale: f64,
) -> Row {
    let h = sim.ci95.unwrap_or(0.0);
    let diff = (sim.mean - theory).abs();
    let tiny = if h == 0.0 { 1e-6 * scale } else { 1e-12 * theory.abs().max(1.0) };
    // A percentile read from an HDR histogram with 3 significant digits is exact only to
    // 1e-3 of its value: when every replication lands in the same bucket (a TTL caps the
    // waits, so the p99 of each sits at the cap) the interval has zero width, and the
    // bucket's resolution is the honest tolerance.
    let tiny = if metric.contains(".p") { tiny.max(1e-3 * theory.abs()) } else { tiny };
    let rel_error = if theory.abs() > tiny {
        (sim.mean - theory) / theory
    } else if diff <= tiny {
        0.0
    } else {
        f64::INFINITY
    };
    Row {
        cell: cell.into(),
        model: model.into(),
        exact,
        metric: metric.into(),
        theory,
        simulated: sim.mean,
        ci95: h,
        rel_error,
        in_ci95: diff <= h + tiny,
        pass: exact.then_some(diff <= h * widen + tiny),
    }
}

fn compare_cell(cell: &Cell, out: &SimOutcome) -> Vec<Row> {
    let widen = t999_over_t975(cell.model.simulation.replications.saturating_sub(1));
    if cell.kind != Kind::Stationary {
        return load::compare(cell, out, widen);
    }
    let theory = analytic::analyze(&cell.model);
    let mut rows = Vec::new();
    for (qi, q) in out.report.queues.iter().enumerate() {
        let Some(a) = theory.queue(&q.name) else { continue };
        let Some(model) = a.model.clone() else { continue };
        let label = if out.report.queues.len() > 1 {
            format!("{} [{}]", cell.label, q.name)
        } else {
            cell.label.clone()
        };
        let service = cell.model.queues[qi]
            .groups
            .first()
            .map_or(1.0, |&g| cell.model.groups[g].service.mean());
        let mut push = |metric: &str, t: Option<f64>, s: Option<MeanCi>| {
            if let (Some(t), Some(s)) = (t, s) {
                let scale = if metric.contains("_s.") { service } else { 1.0 };
                rows.push(row(&label, &model, a.exact, metric, t, s, widen, scale));
            }
        };
        push("wait_s.mean", a.wait_s.mean, mean_ci(q.wait_s.mean, q.wait_s.ci95));
        let p99 = out.curves[qi].wait.replicated.iter().find(|r| (r.0 - 0.99).abs() < 1e-12);
        push("wait_s.p99", a.wait_s.p99, p99.map(|&(_, m, h)| MeanCi { mean: m, ci95: Some(h) }));
        push(
            "queue_length.mean",
            a.queue_length.mean,
            Some(MeanCi { mean: q.queue_length.mean, ci95: q.queue_length.ci95 }),
        );
        push("utilization", a.utilization, Some(q.utilization));
        if cell.model.queues[qi].max_length.is_some() {
            push("loss_probability", a.loss_probability, Some(q.loss_probability));
        }
        if cell.model.uses_message_lifecycle()
            || cell.model.groups.iter().any(|g| g.network_delay > 0.0)
        {
            push("throughput", a.throughput, Some(q.throughput));
            push("sojourn_s.mean", a.sojourn_s.mean, mean_ci(q.sojourn_s.mean, q.sojourn_s.ci95));
            push("expire_probability", a.expire_probability, q.expire_probability);
            if let (Some(ap), Some(sp)) = (&a.by_priority, &q.by_priority) {
                for p in ap {
                    let Some(s) = sp.iter().find(|s| s.priority == p.priority) else { continue };
                    push(
                        &format!("by_priority[{}].wait_s.mean", p.priority),
                        p.wait_s.mean,
                        mean_ci(s.wait_s.mean, s.wait_s.ci95),
                    );
                }
            }
        }
    }
    if let (Some(e), Some(s)) = (theory.end_to_end_s.first(), out.report.end_to_end_s.first())
        && out.report.queues.len() > 1
        && let (Some(t), Some(sim)) = (e.mean, mean_ci(s.latency.mean, s.latency.ci95))
    {
        let scale = cell.model.groups.iter().map(|g| g.service.mean()).sum();
        rows.push(row(
            &cell.label,
            if cell.model.queues.iter().any(|q| q.dead_letter.is_some()) {
                "BCMP mean-value (retries included)"
            } else {
                "Jackson (sum of stages)"
            },
            e.exact,
            "end_to_end_s.mean",
            t,
            sim,
            widen,
            scale,
        ));
    }
    rows.extend(topic::compare(cell, out, widen));
    rows
}

/// A mean and its half-width, when the mean exists.
fn mean_ci(mean: Option<f64>, ci95: Option<f64>) -> Option<MeanCi> {
    mean.map(|mean| MeanCi { mean, ci95 })
}

/// The tutorial's four formulas on the `mmc-demo` system (λ = 64/s, D = 100 ms, G = 8),
/// each beside the correct theory and the simulation of the same system (and, for §4.4, of
/// the same group driven into saturation, whose throughput is the real capacity).
fn tutorial_rows(reps: u32, customers: u64) -> Vec<TutorialRow> {
    let horizon = customers as f64 / TUTORIAL_RATE;
    let base = single(
        "tutorial".into(),
        TUTORIAL_RATE,
        TUTORIAL_CONSUMERS,
        SERVICES[0].1,
        "",
        horizon,
        reps,
        77,
        1,
    );
    let sat = single(
        "tutorial saturated".into(),
        TUTORIAL_SATURATION_RATE,
        TUTORIAL_CONSUMERS,
        SERVICES[0].1,
        "max_length = 100\noverflow = \"reject-publish\"",
        horizon,
        reps,
        78,
        1,
    );
    let (run, sat_run) = rayon::join(
        || sim::run(&base.model, None, &NoProgress),
        || sim::run(&sat.model, None, &NoProgress),
    );
    let q = &run.report.queues[0];
    let per_consumer = q.throughput.mean / (q.utilization.mean * f64::from(TUTORIAL_CONSUMERS));
    tutorial::tutorial_report(&base.model)
        .into_iter()
        .map(|v| {
            let simulated = match v.section {
                "§4.1" => q.queue_length.mean,
                "§4.2" => q.sojourn_s.mean.unwrap_or(f64::NAN),
                "§4.3" => per_consumer,
                _ => sat_run.report.queues[0].throughput.mean,
            };
            TutorialRow {
                section: v.section.into(),
                formula: v.formula.into(),
                value: v.value,
                unit: v.unit.into(),
                claimed: v.claimed.into(),
                correct_quantity: v.correct_quantity.into(),
                theory: v.correct_value,
                simulated,
                verdict: v.verdict,
            }
        })
        .collect()
}

/// Runs the matrix. `quick` is a small subset for CI; `on_cell(done, total)` reports
/// progress. Deterministic: fixed seeds, results in cell order.
pub fn run(quick: bool, on_cell: &(dyn Fn(usize, usize) + Sync)) -> Validation {
    let (reps, customers) = if quick { (10, 30_000) } else { (20, 200_000) };
    let cells = cells(quick, reps, customers);
    let total = cells.len();
    let done = std::sync::atomic::AtomicUsize::new(0);
    let (rows, tutorial) = rayon::join(
        || {
            cells
                .par_iter()
                .map(|c| {
                    let out = sim::run(&c.model, None, &NoProgress);
                    let rows = compare_cell(c, &out);
                    on_cell(done.fetch_add(1, std::sync::atomic::Ordering::Relaxed) + 1, total);
                    rows
                })
                .collect::<Vec<_>>()
                .concat()
        },
        || tutorial_rows(reps, customers),
    );
    Validation { replications: reps, customers, rows, tutorial }
}

/// Summary figures of a validation.
#[derive(Debug, Clone, Serialize)]
pub struct Summary {
    /// Exact comparisons that passed.
    pub exact_passed: usize,
    /// Exact comparisons.
    pub exact_total: usize,
    /// Worst |relative error| of an exact model (finite values only) and where.
    pub exact_worst: Option<(f64, String)>,
    /// Per approximate model: comparisons, worst and median |relative error|.
    pub approximations: Vec<(String, usize, f64, f64)>,
}

impl Validation {
    /// Pass counts and error extremes.
    pub fn summary(&self) -> Summary {
        let exact: Vec<&Row> = self.rows.iter().filter(|r| r.exact).collect();
        let exact_passed = exact.iter().filter(|r| r.pass == Some(true)).count();
        let exact_worst = exact
            .iter()
            .filter(|r| r.rel_error.is_finite() && r.ci95 > 0.0)
            .map(|r| {
                let width = r.ci95 / r.theory.abs().max(1e-300);
                (
                    r.rel_error.abs(),
                    format!(
                        "{} {}, whose 95% interval is ±{:.1}% of theory",
                        r.cell,
                        r.metric,
                        width * 100.0
                    ),
                )
            })
            .max_by(|a, b| a.0.total_cmp(&b.0));
        let mut models: Vec<String> =
            self.rows.iter().filter(|r| !r.exact).map(|r| r.model.clone()).collect();
        models.sort();
        models.dedup();
        let approximations = models
            .into_iter()
            .map(|m| {
                let mut errs: Vec<f64> = self
                    .rows
                    .iter()
                    .filter(|r| !r.exact && r.model == m && r.rel_error.is_finite() && r.ci95 > 0.0)
                    .map(|r| r.rel_error.abs())
                    .collect();
                errs.sort_by(f64::total_cmp);
                let worst = errs.last().copied().unwrap_or(0.0);
                let median = errs.get(errs.len() / 2).copied().unwrap_or(0.0);
                (m, errs.len(), worst, median)
            })
            .collect();
        Summary { exact_passed, exact_total: exact.len(), exact_worst, approximations }
    }

    /// Did every exact comparison pass?
    pub fn all_exact_pass(&self) -> bool {
        self.rows.iter().all(|r| r.pass != Some(false))
    }
}
