//! Ctrl-C keeps results: `run` and `loadtest` started as child processes, interrupted with
//! a real signal (the `kill` command), must exit with status 130 after printing what they
//! finished, marked partial, with every queue's counts balanced.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::thread;
use std::time::{Duration, Instant};

fn start(args: &[&str]) -> Child {
    Command::new(assert_cmd::cargo::cargo_bin!("mqsim"))
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("mqsim starts")
}

fn signal(child: &Child, sig: &str) {
    let ok = Command::new("kill")
        .args([sig, &child.id().to_string()])
        .status()
        .expect("the kill command runs")
        .success();
    assert!(ok, "kill {sig} {}", child.id());
}

/// Sends `sig` after `after`, then waits (at most `limit` in all) for the child to exit.
fn interrupt(child: Child, sig: &str, after: Duration, limit: Duration) -> Output {
    let t0 = Instant::now();
    thread::sleep(after);
    signal(&child, sig);
    let out = child.wait_with_output().expect("mqsim exits");
    assert!(t0.elapsed() < limit, "took {:?} to stop after {sig}", t0.elapsed());
    out
}

fn json(out: &Output) -> serde_json::Value {
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "stdout is not one JSON document ({e}); stderr: {}",
            String::from_utf8_lossy(&out.stderr)
        )
    })
}

/// `offered = acked + dropped + expired + rejected + in_flight_at_end` for every queue.
fn assert_balanced(v: &serde_json::Value) {
    let queues = v["queues"].as_array().expect("queues");
    assert!(!queues.is_empty());
    for q in queues {
        let c = &q["counts"];
        let n = |k: &str| c[k].as_u64().unwrap_or(0);
        assert!(n("offered") > 0, "{}: nothing offered", q["name"]);
        assert_eq!(
            n("offered"),
            n("acked") + n("dropped") + n("expired") + n("rejected") + n("in_flight_at_end"),
            "{}: counts do not balance: {c}",
            q["name"]
        );
    }
}

struct TempDir(PathBuf);
impl TempDir {
    fn new(tag: &str) -> Self {
        let d = std::env::temp_dir().join(format!("mqsim-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        TempDir(d)
    }
    fn path(&self) -> &Path {
        &self.0
    }
}
impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

#[test]
fn run_interrupted_reports_the_completed_replications_as_partial() {
    // mmc: about 0.15 s per replication on one thread; 1000 would take minutes.
    let child = start(&[
        "run",
        "scenarios/mmc.toml",
        "--format",
        "json",
        "--replications",
        "1000",
        "--threads",
        "1",
        "--quiet",
    ]);
    let out = interrupt(child, "-INT", Duration::from_secs(2), Duration::from_secs(8));
    assert_eq!(out.status.code(), Some(130), "{}", String::from_utf8_lossy(&out.stderr));
    let v = json(&out);
    assert_eq!(v["partial"], true);
    assert_eq!(v["replications_requested"], 1000);
    let n = v["replications"].as_u64().expect("replications");
    assert!((1..1000).contains(&n), "replications {n}");
    assert_balanced(&v);

    // Deterministic for the replications it has: the same count run to the end gives the
    // same figures (replications 0..n, in order; one thread runs them in order).
    let full = Command::new(assert_cmd::cargo::cargo_bin!("mqsim"))
        .args(["run", "scenarios/mmc.toml", "--format", "json", "--quiet"])
        .args(["--replications", &n.to_string()])
        .output()
        .expect("mqsim runs");
    assert!(full.status.success());
    let full = json(&full);
    assert!(full.get("partial").is_none(), "a complete report has no partial field");
    assert_eq!(v["queues"], full["queues"]);
}

#[test]
fn run_terminated_writes_partial_files_and_table() {
    let dir = TempDir::new("sigterm-run");
    let child = start(&[
        "run",
        "scenarios/mmc.toml",
        "--replications",
        "1000",
        "--threads",
        "2",
        "--charts",
        "none",
        "--quiet",
        "--out",
        dir.path().to_str().unwrap(),
    ]);
    let out = interrupt(child, "-TERM", Duration::from_millis(1500), Duration::from_secs(8));
    assert_eq!(out.status.code(), Some(130), "{}", String::from_utf8_lossy(&out.stderr));
    let table = String::from_utf8(out.stdout).unwrap();
    let first = table.lines().next().unwrap_or_default();
    assert!(
        first.starts_with("PARTIAL: interrupted after ")
            && first.ends_with(" of 1000 replications"),
        "{table}"
    );
    let report: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.path().join("report.json")).unwrap()).unwrap();
    assert_eq!(report["partial"], true);
    assert_balanced(&report);
    let md = std::fs::read_to_string(dir.path().join("report.md")).unwrap();
    assert!(md.contains("PARTIAL: interrupted after "), "{md}");
    let summary = std::fs::read_to_string(dir.path().join("summary.txt")).unwrap();
    assert!(summary.starts_with(first), "{summary}");
}

#[test]
fn run_interrupted_before_any_replication_completes_reports_nothing() {
    // Two replications of 400 hours each: tens of seconds each, so none completes, and the
    // ones in progress must notice the stop promptly (the engine polls the flag).
    let dir = TempDir::new("long-run");
    std::fs::create_dir_all(dir.path()).unwrap();
    let text = std::fs::read_to_string("scenarios/mmc.toml")
        .unwrap()
        .replace("horizon = \"2h\"", "horizon = \"400h\"");
    let file = dir.path().join("long.toml");
    std::fs::write(&file, text).unwrap();
    let child = start(&[
        "run",
        file.to_str().unwrap(),
        "--format",
        "json",
        "--replications",
        "2",
        "--quiet",
    ]);
    let out = interrupt(child, "-INT", Duration::from_millis(700), Duration::from_secs(3));
    assert_eq!(out.status.code(), Some(130));
    assert!(out.stdout.is_empty(), "{}", String::from_utf8_lossy(&out.stdout));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("no replication of 2 completed"), "{err}");
}

#[test]
fn loadtest_interrupted_reports_the_window_so_far_balanced() {
    // Every lifecycle feature (retries, delays, expiry, rejects) across three queues;
    // 20 s of real time, warm-up 2 s, stopped after 3.5 s.
    let child = start(&[
        "loadtest",
        "scenarios/retry-with-delay.toml",
        "--duration",
        "20s",
        "--format",
        "json",
        "--quiet",
    ]);
    let out = interrupt(child, "-INT", Duration::from_millis(3500), Duration::from_secs(6));
    assert_eq!(out.status.code(), Some(130), "{}", String::from_utf8_lossy(&out.stderr));
    let v = json(&out);
    assert_eq!(v["partial"], true);
    assert_eq!(v["backend"], "real");
    let (horizon, asked) =
        (v["horizon_s"].as_f64().unwrap(), v["horizon_requested_s"].as_f64().unwrap());
    let warmup = v["warmup_s"].as_f64().unwrap();
    assert!(warmup < horizon && horizon < asked, "window {warmup}..{horizon} of {asked}");
    assert_balanced(&v);
}

#[test]
fn loadtest_interrupted_in_its_warm_up_reports_nothing() {
    let child = start(&["loadtest", "scenarios/mmc.toml", "--duration", "20s", "--quiet"]);
    let out = interrupt(child, "-INT", Duration::from_millis(800), Duration::from_secs(3));
    assert_eq!(out.status.code(), Some(130));
    assert!(out.stdout.is_empty(), "{}", String::from_utf8_lossy(&out.stdout));
    assert!(String::from_utf8_lossy(&out.stderr).contains("warm-up"));
}

#[test]
fn sweep_interrupted_reports_finished_cells_and_lists_the_rest() {
    let child = start(&[
        "sweep",
        "scenarios/mmc.toml",
        "--set",
        "consumers.order-workers.count=8..40",
        "--replications",
        "2",
        "--format",
        "json",
        "--quiet",
    ]);
    let out = interrupt(child, "-INT", Duration::from_millis(2500), Duration::from_secs(8));
    assert_eq!(out.status.code(), Some(130), "{}", String::from_utf8_lossy(&out.stderr));
    let v = json(&out);
    assert_eq!(v["partial"], true);
    let cells = v["cells"].as_array().expect("cells");
    let not_run = v["not_run"].as_array().expect("not_run");
    assert!(
        !cells.is_empty() && !not_run.is_empty(),
        "{} done, {} not",
        cells.len(),
        not_run.len()
    );
    let mut seen: Vec<u64> =
        cells.iter().chain(not_run).map(|c| c["cell"].as_u64().unwrap()).collect();
    seen.sort_unstable();
    assert_eq!(seen, (0..33).collect::<Vec<u64>>(), "every cell once, finished or not run");
    for c in cells {
        // A finished cell has every replication asked for: not itself partial.
        assert_eq!(c["report"]["replications"], 2);
        assert!(c["report"].get("partial").is_none());
        assert_balanced(&c["report"]);
    }
    for c in not_run {
        assert!(c["set"]["consumers.order-workers.count"].is_i64(), "{c}");
    }
}

#[test]
fn size_interrupted_reports_finished_counts_and_lists_the_rest() {
    let child = start(&[
        "size",
        "scenarios/mmc.toml",
        "--group",
        "order-workers",
        "--target",
        "p99 wait <= 50ms",
        "--replications",
        "5",
        "--format",
        "json",
        "--quiet",
    ]);
    let out = interrupt(child, "-INT", Duration::from_millis(1500), Duration::from_secs(8));
    assert_eq!(out.status.code(), Some(130), "{}", String::from_utf8_lossy(&out.stderr));
    let v = json(&out);
    assert_eq!(v["partial"], true);
    let not_run: Vec<u64> =
        v["not_run"].as_array().expect("not_run").iter().map(|c| c.as_u64().unwrap()).collect();
    assert!(!not_run.is_empty());
    for c in v["candidates"].as_array().expect("candidates") {
        assert!(!not_run.contains(&c["count"].as_u64().unwrap()), "{c} listed as not run");
    }
    // A recommendation survives only if the search had bracketed it: count − 1 fails.
    if let Some(r) = v["recommended"].as_u64() {
        let c = v["candidates"].as_array().unwrap();
        assert!(c.iter().any(|c| c["count"] == r && c["meets"] == true));
        assert!(c.iter().any(|c| c["count"] == r - 1 && c["meets"] == false));
    } else {
        assert!(v["none_reason"].as_str().unwrap().contains("interrupted"));
    }
}
