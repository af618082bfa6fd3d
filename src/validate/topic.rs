//! The validation matrix's Kafka-style topic cells: keyed topics whose consumers are exact
//! M/M/1 or M/G/1 servers over their partitions (range and round-robin assignment, a hot
//! key, idle consumers, large polls), and the labelled approximations (keyless round-robin
//! arrivals, rebalance pauses). Each consumer is compared on its load and mean sojourn,
//! each single-partition consumer's partition on its mean lag, the group on its mean
//! sojourn.

use super::{Cell, Kind, Row, row};
use crate::analytic;
use crate::scenario::Model;
use crate::sim::SimOutcome;
use crate::stats::MeanCi;

/// (label, partitions, consumers, assignment, keys, rate, service, max_poll, group extra).
type Spec =
    (&'static str, u32, u32, &'static str, &'static str, f64, &'static str, u32, &'static str);

const SPECS: [Spec; 6] = [
    (
        "topic range 6p/4c uniform keys M/M/1",
        6,
        4,
        "range",
        "{ dist = \"uniform\", count = 1000 }",
        21.0,
        "{ dist = \"exponential\", mean = 0.1 }",
        500,
        "",
    ),
    (
        "topic hot key zipf(1.2) 4p/4c M/M/1",
        4,
        4,
        "round-robin",
        "{ dist = \"zipf\", count = 200, exponent = 1.2 }",
        14.0,
        "{ dist = \"exponential\", mean = 0.1 }",
        500,
        "",
    ),
    (
        "topic idle consumers 3p/5c M/M/1",
        3,
        5,
        "range",
        "{ dist = \"uniform\", count = 500 }",
        18.0,
        "{ dist = \"exponential\", mean = 0.1 }",
        1,
        "",
    ),
    (
        "topic range 4p/2c M/D/1 polls of 100",
        4,
        2,
        "range",
        "{ dist = \"uniform\", count = 1000 }",
        14.0,
        "{ dist = \"constant\", value = 0.1 }",
        100,
        "",
    ),
    (
        "topic keyless round-robin 4p/2c (Kingman)",
        4,
        2,
        "range",
        "{ dist = \"none\" }",
        14.0,
        "{ dist = \"exponential\", mean = 0.1 }",
        500,
        "",
    ),
    (
        "topic cooperative-sticky rebalance pauses 4p/4c",
        4,
        4,
        "cooperative-sticky",
        "{ dist = \"uniform\", count = 1000 }",
        20.0,
        "{ dist = \"exponential\", mean = 0.1 }",
        500,
        "crash = { every = { dist = \"exponential\", mean = 600 }, restart = { dist = \"constant\", value = 20 } }\nrebalance_pause = 2",
    ),
];

/// The topic cells; `quick` keeps the exact ones with a smaller budget.
pub(super) fn cells(quick: bool, reps: u32, customers: u64) -> Vec<Cell> {
    SPECS
        .iter()
        .enumerate()
        .filter(|(i, _)| !quick || *i < 3)
        .map(|(i, &(label, partitions, count, assignment, keys, rate, service, poll, extra))| {
            let horizon = (customers as f64 / rate).max(2000.0);
            let text = format!(
                "[simulation]\nhorizon = {horizon}\nwarmup = {}\nreplications = {reps}\nseed = {}\n\
                 [[topics]]\nname = \"t\"\npartitions = {partitions}\n\
                 [[producers]]\nname = \"p\"\ntopic = \"t\"\nkeys = {keys}\narrival = {{ dist = \"exponential\", rate = {rate} }}\n\
                 [[consumers]]\nname = \"g\"\ntopic = \"t\"\ncount = {count}\nassignment = \"{assignment}\"\nmax_poll_records = {poll}\nservice = {service}\n{extra}\n",
                horizon / 10.0,
                5000 + i
            );
            Cell {
                label: label.into(),
                model: Model::from_toml(&text, "topic-cell.toml").expect("generated topic cell is valid"),
                kind: Kind::Stationary,
            }
        })
        .collect()
}

/// Theory against simulation for a topic cell's consumers, partitions and group.
pub(super) fn compare(cell: &Cell, out: &SimOutcome, widen: f64) -> Vec<Row> {
    let theory = analytic::analyze(&cell.model);
    let mut rows = Vec::new();
    for (t, ta) in out.report.topics.iter().zip(&theory.topics) {
        let topic = &cell.model.topics.iter().find(|x| x.name == t.name).expect("same model");
        for ((g, ga), gm) in t.groups.iter().zip(&ta.groups).zip(&topic.groups) {
            let scale = gm.service.mean();
            let mut push = |metric: String, th: Option<f64>, s: Option<MeanCi>| {
                if let (Some(th), Some(s)) = (th, s) {
                    rows.push(row(&cell.label, &ga.model, ga.exact, &metric, th, s, widen, scale));
                }
            };
            push(
                "sojourn_s.mean".into(),
                ga.sojourn_s.mean,
                g.sojourn_s.mean.map(|mean| MeanCi { mean, ci95: g.sojourn_s.ci95 }),
            );
            for (m, ma) in g.members.iter().zip(&ga.members) {
                if ma.partitions.is_empty() {
                    push(
                        format!("consumer[{}].utilization", m.index),
                        Some(0.0),
                        Some(m.utilization),
                    );
                    continue;
                }
                if ga.exact {
                    push(
                        format!("consumer[{}].utilization", m.index),
                        Some(ma.rho),
                        Some(m.utilization),
                    );
                }
                push(
                    format!("consumer[{}].sojourn_s.mean", m.index),
                    ma.sojourn_mean_s,
                    m.sojourn_mean_s,
                );
                if let [p] = ma.partitions[..] {
                    let (pr, pa) = (&t.partitions[p as usize], &ta.partitions[p as usize]);
                    push(
                        format!("partition[{p}].lag.mean"),
                        pa.lag_mean,
                        Some(MeanCi { mean: pr.lag.mean, ci95: pr.lag.ci95 }),
                    );
                }
            }
        }
    }
    rows
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sim::{self, NoProgress};

    /// Every exact topic comparison holds within the simulation's 99.9% interval (fixed
    /// seeds: the verdicts are deterministic), and every consumer of the idle-consumer cell
    /// beyond the partitions did nothing.
    #[test]
    fn exact_topic_cells_pass() {
        for cell in cells(true, 10, 20_000) {
            let out = sim::run(&cell.model, None, &NoProgress);
            let widen = super::super::t999_over_t975(9);
            let rows = compare(&cell, &out, widen);
            assert!(rows.len() >= 4, "{}: {rows:?}", cell.label);
            for r in rows.iter().filter(|r| r.exact) {
                assert_eq!(r.pass, Some(true), "{} {}: {r:?}", cell.label, r.metric);
            }
            for g in &out.report.topics[0].groups {
                assert!(g.counts.balanced(), "{:?}", g.counts);
            }
        }
    }
}
