//! The binary as a user drives it.

use assert_cmd::cargo::cargo_bin_cmd;
use predicates::prelude::*;
use std::io::Write;

fn scenario_file(text: &str) -> tempfile_path::TempToml {
    tempfile_path::TempToml::new(text)
}

mod tempfile_path {
    /// A scenario written to a unique file under the target directory, removed on drop.
    pub struct TempToml(pub std::path::PathBuf);
    impl TempToml {
        pub fn new(text: &str) -> Self {
            use std::sync::atomic::{AtomicU32, Ordering};
            static N: AtomicU32 = AtomicU32::new(0);
            let dir = std::env::temp_dir().join(format!("mqsim-test-{}", std::process::id()));
            std::fs::create_dir_all(&dir).unwrap();
            let p = dir.join(format!("s{}.toml", N.fetch_add(1, Ordering::Relaxed)));
            std::fs::write(&p, text).unwrap();
            TempToml(p)
        }
    }
    impl Drop for TempToml {
        fn drop(&mut self) {
            let _ = std::fs::remove_file(&self.0);
        }
    }
}

#[test]
fn run_json_is_clean_and_follows_the_contract() {
    let out = cargo_bin_cmd!("mqsim")
        .args(["run", "scenarios/mmc.toml", "--format", "json", "--replications", "4"])
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    let v: serde_json::Value = serde_json::from_slice(&out).expect("stdout is one JSON document");
    assert_eq!(v["scenario"], "mmc-demo");
    assert_eq!(v["backend"], "sim");
    assert_eq!(v["seed"], 42);
    assert_eq!(v["replications"], 4);
    assert_eq!(v["horizon_s"], 7200.0);
    assert_eq!(v["warmup_s"], 600.0);
    let q = &v["queues"][0];
    assert_eq!(q["name"], "orders");
    for key in ["offered_rate", "throughput", "loss_probability", "utilization"] {
        assert!(q[key]["mean"].is_number() && q[key]["ci95"].is_number(), "{key}: {}", q[key]);
    }
    for key in ["wait_s", "sojourn_s"] {
        for stat in ["mean", "ci95", "p50", "p90", "p95", "p99", "p999", "max"] {
            assert!(q[key][stat].is_number(), "{key}.{stat}");
        }
    }
    assert!(q["queue_length"]["mean"].is_number() && q["queue_length"]["max"].is_u64());
    let c = &q["counts"];
    let n = |k: &str| c[k].as_u64().unwrap();
    assert_eq!(n("offered"), n("acked") + n("dropped") + n("in_flight_at_end"));
    assert_eq!(v["producers"][0]["name"], "web");
    assert_eq!(v["producers"][0]["published"].as_u64().unwrap(), n("offered"));
    assert_eq!(v["end_to_end_s"][0]["producer"], "web");
    assert!(v["end_to_end_s"][0]["p99"].is_number());
}

#[test]
fn same_seed_same_output_whatever_the_thread_count() {
    let run = |threads: &str| {
        cargo_bin_cmd!("mqsim")
            .args([
                "run",
                "scenarios/order-pipeline.toml",
                "--format",
                "json",
                "--replications",
                "5",
                "--threads",
                threads,
            ])
            .assert()
            .success()
            .get_output()
            .stdout
            .clone()
    };
    let one = run("1");
    assert_eq!(one, run("2"));
    assert_eq!(one, run("5"));
    let other = cargo_bin_cmd!("mqsim")
        .args([
            "run",
            "scenarios/order-pipeline.toml",
            "--format",
            "json",
            "--replications",
            "5",
            "--seed",
            "8",
        ])
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    assert_ne!(one, other, "a different seed gives different numbers");
}

#[test]
fn table_and_csv_formats() {
    cargo_bin_cmd!("mqsim")
        .args(["run", "scenarios/mm1.toml", "--replications", "2"])
        .assert()
        .success()
        .stdout(predicate::str::contains("jobs").and(predicate::str::contains("Wq p99")));
    let out = cargo_bin_cmd!("mqsim")
        .args(["run", "scenarios/mm1.toml", "--replications", "2", "--format", "csv"])
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    let text = String::from_utf8(out).unwrap();
    assert!(text.starts_with("backend,entity,name,metric,stat,value\n"), "{text}");
    assert!(text.contains("sim,queue,jobs,wait_s,p99,"));
}

#[test]
fn out_dir_gets_the_report_files() {
    let dir = std::env::temp_dir().join(format!("mqsim-out-{}", std::process::id()));
    cargo_bin_cmd!("mqsim")
        .args(["run", "scenarios/mm1.toml", "--replications", "2", "--quiet", "--out"])
        .arg(&dir)
        .assert()
        .success();
    for f in ["report.json", "results.csv", "summary.txt"] {
        assert!(dir.join(f).is_file(), "{f} missing");
    }
    // The data behind the charts: tidy percentile curves (simulation with its band, theory
    // without), HdrHistogram distributions per queue and metric, and the time series.
    let curves = std::fs::read_to_string(dir.join("percentiles.csv")).unwrap();
    let mut lines = curves.lines();
    assert_eq!(lines.next(), Some("source,queue,metric,percentile,value_s,band_lo_s,band_hi_s"));
    let rows: Vec<Vec<&str>> = lines.map(|l| l.split(',').collect()).collect();
    let sim99 = rows.iter().find(|r| r[0] == "sim" && r[2] == "wait" && r[3] == "99.0").unwrap();
    let (v, lo, hi): (f64, f64, f64) =
        (sim99[4].parse().unwrap(), sim99[5].parse().unwrap(), sim99[6].parse().unwrap());
    assert!(lo <= v && v <= hi, "{sim99:?}");
    assert!(rows.iter().any(|r| r[0] == "theory" && r[2] == "sojourn" && r[5].is_empty()));
    for metric in ["wait", "sojourn"] {
        let text = std::fs::read_to_string(dir.join(format!("sim-jobs-{metric}.hgrm"))).unwrap();
        assert!(text.starts_with("       Value     Percentile TotalCount 1/(1-Percentile)\n\n"));
        assert!(text.contains("#[Max     = ") && text.contains("#[Buckets = "), "{text}");
    }
    let series = std::fs::read_to_string(dir.join("series.csv")).unwrap();
    assert!(
        series.starts_with("time_s,window_s,queue,metric,mean,band_lo,band_hi,replications\n"),
        "{series}"
    );
    assert!(series.lines().any(|l| l.contains(",jobs,unacked,") && l.ends_with(",2")));
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn bad_input_exits_2_with_file_field_and_line() {
    let f = scenario_file(
        "[simulation]\nhorizon = \"1h\"\n[[queues]]\nname = \"q\"\n[[consumers]]\nname = \"c\"\nqueue = \"q\"\ncount = 2\nprefech = 5\nservice = { dist = \"constant\", value = 1 }\n",
    );
    cargo_bin_cmd!("mqsim").args(["run"]).arg(&f.0).assert().code(2).stderr(
        predicate::str::contains(f.0.display().to_string() + ":9")
            .and(predicate::str::contains("consumers[0]"))
            .and(predicate::str::contains("prefech"))
            .and(predicate::str::contains("panicked").not()),
    );
    let g = scenario_file(
        "[simulation]\nhorizon = \"1h\"\n[[queues]]\nname = \"q\"\n[[consumers]]\nname = \"c\"\nqueue = \"q\"\ncount = 2\nservice = { dist = \"lognormal\", mean = \"1s\", cv = -1 }\n",
    );
    cargo_bin_cmd!("mqsim").args(["check"]).arg(&g.0).assert().code(2).stderr(
        predicate::str::contains(
            ":9: consumers[0].service.cv: must be a finite number > 0, got -1",
        ),
    );
    cargo_bin_cmd!("mqsim")
        .args(["run", "no/such/file.toml"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("cannot read scenario no/such/file.toml"));
}

#[test]
fn check_describes_the_resolved_model() {
    cargo_bin_cmd!("mqsim")
        .args(["check", "scenarios/log-collection.toml"])
        .assert()
        .success()
        .stdout(
            predicate::str::contains("producer web-errors").and(
                predicate::str::contains("alerts, cold-storage, web-parser")
                    .or(predicate::str::contains("alerts")),
            ),
        );
}

#[test]
fn warnings_go_to_stderr_and_json_stays_clean() {
    let f = scenario_file(
        "[simulation]\nhorizon = \"10m\"\nreplications = 2\n[[producers]]\nname = \"p\"\nrouting_key = \"nowhere\"\narrival = { dist = \"exponential\", rate = 5 }\n[[queues]]\nname = \"q\"\n",
    );
    let out = cargo_bin_cmd!("mqsim")
        .args(["run", "--format", "json"])
        .arg(&f.0)
        .assert()
        .success()
        .get_output()
        .clone();
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let published = v["producers"][0]["published"].as_u64().unwrap();
    assert!(published > 0);
    assert_eq!(v["producers"][0]["unroutable"].as_u64().unwrap(), published);
    let err = String::from_utf8(out.stderr).unwrap();
    assert!(err.contains("matches no queue") && err.contains("has no consumers"), "{err}");
    let _ = std::io::stderr().flush();
}

#[test]
fn validate_quick_passes_every_exact_model() {
    let dir = std::env::temp_dir().join(format!("mqsim-validate-{}", std::process::id()));
    let out = cargo_bin_cmd!("mqsim")
        .args(["validate", "--quick", "--quiet", "--out"])
        .arg(&dir)
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    let text = String::from_utf8(out).unwrap();
    assert!(text.contains("comparisons pass") && !text.contains("FAIL"), "{text}");
    assert!(text.contains("§4.2") && text.contains("wrong"), "{text}");
    for f in
        ["validation.csv", "tutorial.csv", "validation.json", "report.md", "validation-heatmap.png"]
    {
        assert!(dir.join(f).is_file(), "{f} missing");
    }
    let md = std::fs::read_to_string(dir.join("report.md")).unwrap();
    assert!(md.contains("(validation-heatmap.png)") && md.contains("1 ms for times"), "{md}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn analyze_json_follows_the_contract() {
    let out = cargo_bin_cmd!("mqsim")
        .args(["analyze", "scenarios/mmc.toml", "--format", "json"])
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    let v: serde_json::Value = serde_json::from_slice(&out).unwrap();
    assert_eq!(v["backend"], "analytic");
    let q = &v["queues"][0];
    assert_eq!(q["model"], "M/M/c");
    assert_eq!(q["exact"], true);
    assert_eq!(q["stable"], true);
    assert!((q["rho"].as_f64().unwrap() - 0.8).abs() < 1e-12);
    assert!((q["offered_load_erlangs"].as_f64().unwrap() - 6.4).abs() < 1e-12);
    // Erlang C for c = 8, a = 6.4: Wq = C/(cμ − λ) = 0.457645/16.
    assert!((q["wait_s"]["mean"].as_f64().unwrap() - 0.457_645 / 16.0).abs() < 1e-6);
    for k in ["p50", "p90", "p95", "p99"] {
        assert!(q["wait_s"][k].is_number(), "{k}");
    }
    assert!(
        q["sojourn_s"]["p99"].is_number()
            && q["queue_length"]["mean"].is_number()
            && q["notes"].is_array()
    );
}

#[test]
fn unstable_queue_warns_with_rho_and_still_runs() {
    let f = scenario_file(
        "[simulation]\nhorizon = \"10m\"\nreplications = 2\n[[producers]]\nname = \"p\"\nrouting_key = \"q\"\narrival = { dist = \"exponential\", rate = 12 }\n[[queues]]\nname = \"q\"\n[[consumers]]\nname = \"c\"\nqueue = \"q\"\ncount = 1\nservice = { dist = \"exponential\", mean = \"100ms\" }\n",
    );
    let out = cargo_bin_cmd!("mqsim")
        .args(["run", "--format", "json"])
        .arg(&f.0)
        .assert()
        .success()
        .get_output()
        .clone();
    let err = String::from_utf8(out.stderr).unwrap();
    assert!(err.contains("queue \"q\" is unstable (rho = 1.200"), "{err}");
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(
        v["queues"][0]["counts"]["in_flight_at_end"].as_u64().unwrap() > 100,
        "the backlog grows"
    );
    let a = cargo_bin_cmd!("mqsim")
        .args(["analyze", "--format", "json"])
        .arg(&f.0)
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    let a: serde_json::Value = serde_json::from_slice(&a).unwrap();
    assert_eq!(a["queues"][0]["stable"], false);
    assert!(a["queues"][0]["wait_s"]["mean"].is_null());
}

#[test]
fn run_out_writes_charts_and_report_md() {
    let dir = std::env::temp_dir().join(format!("mqsim-charts-{}", std::process::id()));
    cargo_bin_cmd!("mqsim")
        .args([
            "run",
            "scenarios/order-pipeline.toml",
            "--replications",
            "3",
            "--quiet",
            "--charts",
            "both",
            "--out",
        ])
        .arg(&dir)
        .assert()
        .success();
    for f in [
        "latency-orders.png",
        "latency-orders.svg",
        "queue-length.png",
        "throughput.svg",
        "report.md",
    ] {
        let p = dir.join(f);
        assert!(p.is_file() && std::fs::metadata(&p).unwrap().len() > 1000, "{f} missing or empty");
    }
    let md = std::fs::read_to_string(dir.join("report.md")).unwrap();
    assert!(
        md.contains("![") && md.contains("Against queueing theory") && md.contains("M/M/c"),
        "{md}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn size_answers_the_contract_question() {
    let out = cargo_bin_cmd!("mqsim")
        .args([
            "size",
            "scenarios/mmc.toml",
            "--group",
            "order-workers",
            "--target",
            "p99 wait <= 100ms",
            "--format",
            "json",
            "--replications",
            "6",
        ])
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    let v: serde_json::Value = serde_json::from_slice(&out).unwrap();
    assert_eq!(v["group"], "order-workers");
    assert_eq!(
        v["target"],
        serde_json::json!({"metric": "wait_s", "stat": "p99", "op": "<=", "value": 0.1})
    );
    // Erlang C: 9 consumers give p99 wait 0.126 s, 10 give 0.074 s.
    assert_eq!(v["recommended"], 10);
    assert_eq!(v["analytic_guess"], 10);
    assert_eq!(v["tutorial_guess"], 7);
    let c = v["candidates"].as_array().unwrap();
    let nine = c.iter().find(|c| c["count"] == 9).unwrap();
    assert_eq!(nine["meets"], false);
    for k in ["value", "ci95_upper", "analytic", "utilization"] {
        assert!(nine[k].is_number(), "{k}");
    }
    cargo_bin_cmd!("mqsim")
        .args(["size", "scenarios/mmc.toml", "--group", "nope", "--target", "p99 wait <= 100ms"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("no consumer group named \"nope\""));
    cargo_bin_cmd!("mqsim")
        .args([
            "size",
            "scenarios/mmc.toml",
            "--group",
            "order-workers",
            "--target",
            "p99 wait 100ms",
        ])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("<="));
}

#[test]
fn compare_and_loadtest_on_a_short_real_run() {
    let out = cargo_bin_cmd!("mqsim")
        .args(["loadtest", "scenarios/mm1.toml", "--duration", "2s", "--format", "json", "--quiet"])
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    let v: serde_json::Value = serde_json::from_slice(&out).unwrap();
    assert_eq!(v["backend"], "real");
    assert_eq!(v["replications"], 1);
    assert!(v["time_scale"].is_number() && v["timing"]["service_error_mean"].is_number());
    let c = &v["queues"][0]["counts"];
    let n = |k: &str| c[k].as_u64().unwrap();
    assert!(n("offered") > 0);
    assert_eq!(n("offered"), n("acked") + n("dropped") + n("in_flight_at_end"));
    let out = cargo_bin_cmd!("mqsim")
        .args([
            "compare",
            "scenarios/mm1.toml",
            "--no-real",
            "--replications",
            "3",
            "--format",
            "json",
            "--quiet",
        ])
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    let v: serde_json::Value = serde_json::from_slice(&out).unwrap();
    let figs = v["queues"][0]["figures"].as_array().unwrap();
    let dir = std::env::temp_dir().join(format!("mqsim-compare-{}", std::process::id()));
    let csv = cargo_bin_cmd!("mqsim")
        .args([
            "compare",
            "scenarios/mm1.toml",
            "--no-real",
            "--replications",
            "3",
            "--format",
            "csv",
            "--quiet",
            "--out",
        ])
        .arg(&dir)
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    let csv = String::from_utf8(csv).unwrap();
    assert!(csv.starts_with("queue,metric,analytic,sim,sim_ci95,real,"), "{csv}");
    assert!(csv.contains("\njobs,wait_s.mean,0.4"), "{csv}");
    for f in ["compare.json", "compare.csv", "latency-jobs.png", "report.md"] {
        assert!(dir.join(f).is_file(), "{f} missing");
    }
    let _ = std::fs::remove_dir_all(&dir);
    let wait = figs.iter().find(|f| f["metric"] == "wait_s.mean").unwrap();
    assert!((wait["analytic"].as_f64().unwrap() - 0.4).abs() < 1e-9);
    assert!(wait["sim"].is_number() && wait["real"].is_null());
}

#[test]
fn sweep_in_parallel_equals_jobs_file_cells_merged() {
    let dir = std::env::temp_dir().join(format!("mqsim-sweep-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let sets = [
        "--set",
        "consumers.order-workers.count=8..9",
        "--set",
        "producers.web.arrival.rate=48,64",
    ];
    let direct = cargo_bin_cmd!("mqsim")
        .args(["sweep", "scenarios/mmc.toml", "--replications", "2", "--format", "csv", "--quiet"])
        .args(sets)
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    let text = String::from_utf8(direct.clone()).unwrap();
    assert_eq!(text.lines().count(), 1 + 4, "{text}");
    assert!(
        text.starts_with("cell,consumers.order-workers.count,producers.web.arrival.rate,queue,")
    );
    let jobs = dir.join("jobs.txt");
    cargo_bin_cmd!("mqsim")
        .args(["sweep", "scenarios/mmc.toml", "--replications", "2", "--jobs-file"])
        .arg(&jobs)
        .args(sets)
        .assert()
        .success();
    let lines = std::fs::read_to_string(&jobs).unwrap();
    assert_eq!(lines.lines().count(), 4);
    // Run each cell the way a line of the jobs file does (in reverse, as a batch system might).
    let mut files = Vec::new();
    for i in (0..4).rev() {
        let out = cargo_bin_cmd!("mqsim")
            .args([
                "sweep",
                "scenarios/mmc.toml",
                "--cell",
                &i.to_string(),
                "--replications",
                "2",
                "--format",
                "csv",
                "--quiet",
            ])
            .args(sets)
            .assert()
            .success()
            .get_output()
            .stdout
            .clone();
        let f = dir.join(format!("cell-{i}.csv"));
        std::fs::write(&f, out).unwrap();
        files.push(f);
    }
    let merged = cargo_bin_cmd!("mqsim")
        .arg("merge")
        .args(&files)
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    assert_eq!(merged, direct, "merged cells equal the in-process sweep");
    cargo_bin_cmd!("mqsim")
        .args(["sweep", "scenarios/mmc.toml", "--set", "consumers.ghost.count=1..2"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("no consumers named \"ghost\""));
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn automatic_warmup_is_chosen_by_mser5_and_reported() {
    let text = std::fs::read_to_string("scenarios/mm1.toml")
        .unwrap()
        .replace("warmup = \"10m\"", "warmup = \"auto\"");
    let f = scenario_file(&text);
    let run = || {
        let out = cargo_bin_cmd!("mqsim")
            .args(["run", "--format", "json", "--quiet"])
            .arg(&f.0)
            .assert()
            .success()
            .get_output()
            .stdout
            .clone();
        serde_json::from_slice::<serde_json::Value>(&out).unwrap()
    };
    let v = run();
    let w = v["warmup_s"].as_f64().unwrap();
    // Starting empty, an M/M/1 at ρ = 0.8 needs a short warm-up: some, and at most half the run.
    assert!(w > 0.0 && w <= 3600.0, "warm-up {w}");
    assert_eq!(v, run(), "the choice is deterministic");
    let q = &v["queues"][0]["wait_s"];
    let (m, h) = (q["mean"].as_f64().unwrap(), q["ci95"].as_f64().unwrap());
    // Theory Wq = 0.4 s inside the 99.9% interval: t(0.9995; 9) / t(0.975; 9) = 4.781 / 2.262
    // = 2.11 times the 95% half-width.
    assert!((m - 0.4).abs() <= 2.11 * h, "Wq {m} ± {h}");
}
