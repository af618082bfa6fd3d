//! Every shipped scenario parses, and its simulation balances its counts exactly.

use mqsim::scenario::Model;
use std::fs;

pub fn shipped() -> Vec<(String, String)> {
    let mut v: Vec<(String, String)> = ["scenarios", "scenarios/fidelity"]
        .iter()
        .flat_map(|d| fs::read_dir(d).unwrap())
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "toml"))
        .map(|p| (p.display().to_string(), fs::read_to_string(&p).unwrap()))
        .collect();
    v.sort();
    v
}

#[test]
fn all_shipped_scenarios_parse_without_warnings() {
    let files = shipped();
    let names: Vec<&str> = files.iter().map(|(p, _)| p.as_str()).collect();
    for want in [
        "mm1",
        "mmc",
        "md1",
        "finite-buffer",
        "order-pipeline",
        "log-collection",
        "email-sending",
        "prefetch-cost",
        "retry-with-delay",
        "priority-support",
        "expiring-notifications",
        "flaky-consumers",
    ] {
        assert!(
            names.contains(&format!("scenarios/{want}.toml").as_str()),
            "missing {want} in {names:?}"
        );
    }
    for (path, text) in &files {
        let m = Model::from_toml(text, path).unwrap_or_else(|e| panic!("{e}"));
        assert!(m.warnings.is_empty(), "{path}: {:?}", m.warnings);
    }
}

#[test]
fn shipped_scenarios_balance_their_counts() {
    for (path, text) in shipped() {
        let mut m = Model::from_toml(&text, &path).unwrap();
        // A short run keeps the test fast; the balance must hold at any horizon.
        m.simulation.horizon = m.simulation.horizon.min(300.0);
        m.simulation.warmup = m.simulation.warmup.min(30.0);
        m.simulation.replications = 3;
        let out = mqsim::sim::run(&m, None, &mqsim::sim::NoProgress);
        for q in &out.report.queues {
            assert!(q.counts.balanced(), "{path} {}: {:?}", q.name, q.counts);
            assert!(q.counts.offered > 0, "{path} {} got no messages", q.name);
        }
    }
}
