//! The timeline (`window`), stopping at a precision, and the per-window theory (PSA, MOL):
//! the JSON shape of the contract, determinism across thread counts, and theory against
//! the simulation on a slowly varying schedule.

use assert_cmd::cargo::cargo_bin_cmd;
use mqsim::scenario::Model;
use mqsim::sim::{self, NoProgress};

/// One consumer at μ = 10/s; the rate steps 4 → 7 → 5 per second every 10 minutes. Each
/// level lasts thousands of mean waits, so the queue spends nearly all of each window at
/// its level's steady state: the regime in which PSA is meant to hold.
const SLOW: &str = r#"
[simulation]
horizon = "30m"
replications = 8
window = "10m"
seed = 5

[[queues]]
name = "q"

[[producers]]
name = "p"
routing_key = "q"
arrival = { process = "schedule", period = "30m", rates = [{ at = "0m", rate = 4 }, { at = "10m", rate = 7 }, { at = "20m", rate = 5 }] }

[[consumers]]
name = "c"
queue = "q"
count = 1
prefetch = 1
service = { dist = "exponential", mean = "100ms" }
"#;

fn write(text: &str, name: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("mqsim-timeline-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let p = dir.join(name);
    std::fs::write(&p, text).unwrap();
    p
}

fn json(args: &[&str]) -> serde_json::Value {
    let out = cargo_bin_cmd!("mqsim").args(args).arg("--format").arg("json").output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    serde_json::from_slice(&out.stdout).unwrap()
}

#[test]
fn timeline_json_has_the_contract_shape() {
    let f = write(SLOW, "slow.toml");
    let v = json(&["run", f.to_str().unwrap(), "--window", "5m", "--replications", "3"]);
    let t = &v["timeline"];
    assert_eq!(t["window_s"], 300.0);
    let windows = t["windows"].as_array().unwrap();
    assert_eq!(windows.len(), 6);
    for (i, w) in windows.iter().enumerate() {
        assert_eq!(w["start_s"], i as f64 * 300.0);
        assert!(w.get("warmup").is_none(), "no warm-up, no flag");
        let q = &w["queues"][0];
        assert_eq!(q["name"], "q");
        for k in ["offered_rate", "throughput"] {
            assert!(q[k].is_f64(), "{k} is a number in the contract");
        }
        assert!(q["queue_length"]["mean"].is_f64() && q["queue_length"]["max"].is_u64());
        assert!(q["wait_s"]["mean"].is_f64() && q["wait_s"]["p99"].is_f64());
    }
    // The rate steps show in the offered rate (4, 7, 5 per second).
    let rate = |i: usize| windows[i]["queues"][0]["offered_rate"].as_f64().unwrap();
    assert!(
        (rate(0) - 4.0).abs() < 0.3 && (rate(2) - 7.0).abs() < 0.3 && (rate(5) - 5.0).abs() < 0.3
    );
    // Without a window there is no timeline (the first edition's output is unchanged).
    let v = json(&["run", "scenarios/mm1.toml", "--replications", "2"]);
    assert!(v.get("timeline").is_none() && v.get("precision_reached").is_none());
    // Windows inside the warm-up are flagged.
    let with_warmup = SLOW.replace("seed = 5", "seed = 5\nwarmup = \"7m\"");
    let f = write(&with_warmup, "warm.toml");
    let v = json(&["run", f.to_str().unwrap(), "--replications", "2"]);
    let flags: Vec<bool> = v["timeline"]["windows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|w| w.get("warmup") == Some(&serde_json::Value::Bool(true)))
        .collect();
    assert_eq!(flags, vec![true, false, false]);
}

#[test]
fn absurd_windows_are_refused() {
    let f = write(SLOW, "slow2.toml");
    let out = cargo_bin_cmd!("mqsim")
        .args(["run", f.to_str().unwrap(), "--window", "1ms"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("windows"));
    let bad = SLOW.replace("window = \"10m\"", "window = \"10us\"");
    let e = Model::from_toml(&bad, "bad.toml").unwrap_err().to_string();
    assert!(e.contains("simulation.window") && e.contains("longer window"), "{e}");
}

#[test]
fn timeline_and_precision_are_the_same_on_one_thread_and_two() {
    let text = SLOW
        .replace("replications = 8", "replications = 3\nprecision = 0.03\nmax_replications = 60");
    let f = write(&text, "prec.toml");
    let one = json(&["run", f.to_str().unwrap(), "--threads", "1"]);
    let two = json(&["run", f.to_str().unwrap(), "--threads", "2"]);
    assert_eq!(one, two);
    assert!(one["timeline"].is_object());
}

#[test]
fn precision_adds_replications_until_reached_or_capped() {
    let mut m = Model::from_toml(SLOW, "slow.toml").unwrap();
    m.simulation.window = None;
    m.simulation.replications = 3;
    m.simulation.precision = Some(0.03);
    m.simulation.max_replications = 200;
    let r = sim::run(&m, None, &NoProgress).report;
    assert_eq!(r.precision_reached, Some(true));
    assert!(r.replications > 3, "3 replications are not that precise: {}", r.replications);
    let q = &r.queues[0].sojourn_s;
    assert!(q.ci95.unwrap() <= 0.03 * q.mean.unwrap());
    // The same replications as asking for that many: replication i is always the same.
    let mut fixed = m.clone();
    fixed.simulation.precision = None;
    fixed.simulation.replications = r.replications;
    assert_eq!(sim::run(&fixed, None, &NoProgress).report.queues, r.queues);
    // A cap below what the precision needs: stops there and says so.
    m.simulation.precision = Some(0.001);
    m.simulation.max_replications = 6;
    let r = sim::run(&m, None, &NoProgress).report;
    assert_eq!((r.replications, r.precision_reached), (6, Some(false)));
    assert!(r.to_json().contains("\"precision_reached\": false"));
}

#[test]
fn psa_and_mol_follow_a_slowly_varying_schedule() {
    let m = Model::from_toml(SLOW, "slow.toml").unwrap();
    let sim = sim::run(&m, None, &NoProgress).report;
    let theory = mqsim::analytic::timevarying::timeline(&m, 600.0);
    let t = sim.timeline.unwrap();
    for (w, p) in t.windows.iter().zip(&theory.windows) {
        let s = &w.queues[0];
        let (mean, ci) = (s.wait_s.mean.unwrap(), s.wait_s.ci95.unwrap());
        for approx in [p.queues[0].psa.as_ref().unwrap(), p.queues[0].mol.as_ref().unwrap()] {
            // Each level holds for 10 minutes against a relaxation time of a few seconds, so
            // the approximations' own error (the transients at the steps, ~1% of a window)
            // is far below the simulation's sampling error: theory must fall in the 99.9%
            // interval (the 95% half-width × 3.4/2.36 for 7 degrees of freedom; ×1.6 more
            // covers that transient bias).
            let tol = ci * (5.41 / 2.365) * 1.6;
            assert!(
                (approx.wait_s.mean - mean).abs() <= tol,
                "window {}: theory {} vs sim {mean} ± {ci}",
                w.start_s,
                approx.wait_s.mean
            );
        }
    }
}
