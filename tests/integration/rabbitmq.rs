//! Against a real RabbitMQ (Debian's rabbitmq-server, `scripts/rabbitmq.sh start`), at
//! `MQSIM_RABBITMQ_URL` or amqp://guest:guest@127.0.0.1:5672/%2f. Without a server these
//! tests say loudly that they were skipped; with `CI=true` they fail instead, because CI
//! (`.ci/run`) starts one.

use assert_cmd::Command;
use mqsim::cancel::Cancel;
use mqsim::rabbitmq::{RabbitError, run_loadtest_until};
use mqsim::scenario::Model;
use std::time::Duration;

fn url() -> String {
    std::env::var("MQSIM_RABBITMQ_URL")
        .unwrap_or_else(|_| "amqp://guest:guest@127.0.0.1:5672/%2f".into())
}

/// Is the server there? If not: skipped, loudly, or failed under CI.
fn server(test: &str) -> bool {
    match mqsim::rabbitmq::server_info(&url()) {
        Ok(_) => true,
        Err(e) => {
            let msg = format!(
                "no RabbitMQ at {} ({e:?}): start one with scripts/rabbitmq.sh start",
                mqsim::rabbitmq::redact(&url())
            );
            if std::env::var("CI").is_ok_and(|v| v == "true") {
                panic!("{test}: {msg} (CI=true: the RabbitMQ tests must run)");
            }
            eprintln!("\n!!!!! SKIPPED {test}: {msg} !!!!!\n");
            false
        }
    }
}

/// Queues this process left on the server (names start with `mqsim-<pid>-`), by
/// `rabbitmqctl` when it is at hand (the server's own word); `None` without it.
/// The tests that use the server run one at a time: each checks that it left nothing
/// behind, which another test's queues, alive meanwhile, would contradict.
fn one_at_a_time() -> std::sync::MutexGuard<'static, ()> {
    static SERVER: std::sync::Mutex<()> = std::sync::Mutex::new(());
    SERVER.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

fn leftovers() -> Option<Vec<String>> {
    let out = std::process::Command::new("rabbitmqctl")
        .args(["-q", "-n", "rabbit@localhost", "list_queues", "name"])
        .output()
        .ok()
        .filter(|o| o.status.success())?;
    let prefix = format!("mqsim-{}-", std::process::id());
    Some(
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .filter(|l| l.starts_with(&prefix))
            .map(String::from)
            .collect(),
    )
}

const TWO_QUEUES: &str = r#"
name = "rabbit-two-queues"
[simulation]
horizon = "1h"
seed = 7
[loadtest]
time_scale = 0.01
horizon = "2.5s"
warmup = "0.5s"
[[producers]]
name = "p"
exchange = "x"
arrival = { dist = "exponential", rate = 20.0 }
[[exchanges]]
name = "x"
type = "fanout"
[[queues]]
name = "open"
bindings = [{ exchange = "x" }]
[[queues]]
name = "small"
bindings = [{ exchange = "x" }]
max_length = 3
overflow = "drop-head"
[[consumers]]
name = "workers"
queue = "open"
count = 2
prefetch = 5
service = { dist = "exponential", mean = "80ms" }
failure = { probability = 0.1, action = "requeue" }
[[consumers]]
name = "slow"
queue = "small"
count = 1
prefetch = 1
service = { dist = "constant", value = "200ms" }
"#;

#[test]
fn rabbitmq_loadtest_balances_counts_and_cleans_up() {
    let _one = one_at_a_time();

    if !server("rabbitmq_loadtest_balances_counts_and_cleans_up") {
        return;
    }
    let m = Model::from_toml(TWO_QUEUES, "t.toml").unwrap();
    let r = run_loadtest_until(&m, &url(), &|_| {}, &Cancel::new(), None).unwrap();
    assert_eq!(r.backend, "rabbitmq");
    let s = r.server.as_ref().expect("the server introduced itself");
    assert_eq!(s.product, "RabbitMQ");
    assert!(s.version.chars().next().is_some_and(|c| c.is_ascii_digit()), "{s:?}");
    for q in &r.queues {
        assert!(q.counts.balanced(), "{}: {:?}", q.name, q.counts);
        assert!(q.counts.acked > 50, "{}: {:?}", q.name, q.counts);
    }
    let [open, small] = &r.queues[..] else { panic!() };
    assert_eq!(open.counts.dropped, 0, "{:?}", open.counts);
    // Nacked with requeue about one in ten: redelivered.
    assert!(open.counts.redelivered.unwrap() > 0, "{:?}", open.counts);
    // 20/s into a queue served at 5/s holding 3: RabbitMQ dropped heads.
    assert!(small.counts.dropped > 100, "{:?}", small.counts);
    assert!(open.wait_s.mean.is_some() && open.sojourn_s.p99.is_some());
    if let Some(left) = leftovers() {
        assert!(left.is_empty(), "left on the server: {left:?}");
    }
}

#[test]
fn rabbitmq_a_killed_consumer_connection_is_redelivered_and_counts_balance() {
    let _one = one_at_a_time();

    if !server("rabbitmq_a_killed_consumer_connection_is_redelivered_and_counts_balance") {
        return;
    }
    let text = TWO_QUEUES.replace("count = 2\nprefetch = 5", "count = 2\nprefetch = 20");
    let m = Model::from_toml(&text, "t.toml").unwrap();
    let r = run_loadtest_until(&m, &url(), &|_| {}, &Cancel::new(), Some(Duration::from_secs(1)))
        .unwrap();
    let open = &r.queues[0];
    assert!(open.counts.balanced(), "{:?}", open.counts);
    // The killed consumer held up to 20 unacked: they came back, to the other one.
    assert!(open.counts.redelivered.unwrap() > 0, "{:?}", open.counts);
    assert!(open.counts.acked > 50, "{:?}", open.counts);
}

#[test]
fn rabbitmq_errors_are_one_line_name_the_url_and_hide_the_password() {
    // Nothing listens on port 1: no server needed for this one.
    let e = run_loadtest_until(
        &Model::from_toml(TWO_QUEUES, "t.toml").unwrap(),
        "amqp://guest:secret@127.0.0.1:1/%2f",
        &|_| {},
        &Cancel::new(),
        None,
    )
    .unwrap_err();
    assert!(matches!(e, RabbitError::Unreachable { .. }) && e.is_bad_input(), "{e}");
    let msg = e.to_string();
    assert!(msg.contains("127.0.0.1:1") && !msg.contains("secret") && !msg.contains('\n'), "{msg}");
    let _one = one_at_a_time();

    if !server("rabbitmq_errors_are_one_line_name_the_url_and_hide_the_password") {
        return;
    }
    let bad = url().replacen("guest:guest@", "guest:wrong-password@", 1);
    let dir = std::env::temp_dir().join(format!("mqsim-rabbit-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("two.toml");
    std::fs::write(&file, TWO_QUEUES).unwrap();
    let out = Command::cargo_bin("mqsim")
        .unwrap()
        .args(["loadtest", file.to_str().unwrap(), "--quiet", "--broker", &bad])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("refused the login") && !err.contains("wrong-password"), "{err}");
    assert_eq!(err.trim_end().lines().count(), 1, "{err}");
}

#[test]
fn rabbitmq_refuses_by_name_what_it_does_not_publish() {
    // Refused before connecting: no server needed (nothing listens on port 1).
    let cases = [
        (
            "arrival = { dist = \"exponential\", rate = 20.0 }",
            "batch = { dist = \"constant\", value = 3 }\n",
            "`batch`",
        ),
        (
            "arrival = { dist = \"exponential\", rate = 20.0 }",
            "routing_keys = [{ key = \"a\", weight = 1.0 }, { key = \"b\", weight = 1.0 }]\n",
            "`routing_keys`",
        ),
        (
            "arrival = { dist = \"exponential\", rate = 20.0 }",
            "publish_delay = \"1ms\"\n",
            "`publish_delay`",
        ),
    ];
    for (arrival, extra, what) in cases {
        let text = TWO_QUEUES.replacen(arrival, &format!("{arrival}\n{extra}"), 1);
        let model = match Model::from_toml(&text, "t.toml") {
            Ok(m) => m,
            Err(e) => panic!("{what}: {e}"),
        };
        let e = run_loadtest_until(
            &model,
            "amqp://guest:guest@127.0.0.1:1/%2f",
            &|_| {},
            &Cancel::new(),
            None,
        )
        .unwrap_err();
        let msg = e.to_string();
        assert!(matches!(e, RabbitError::Unsupported(_)) && msg.contains(what), "{msg}");
    }
    let backlog =
        TWO_QUEUES.replacen("name = \"open\"\n", "name = \"open\"\ninitial_messages = 10\n", 1);
    let e = run_loadtest_until(
        &Model::from_toml(&backlog, "t.toml").unwrap(),
        "amqp://guest:guest@127.0.0.1:1/%2f",
        &|_| {},
        &Cancel::new(),
        None,
    )
    .unwrap_err();
    assert!(e.to_string().contains("`initial_messages`"), "{e}");
}

/// A short M/M/1 for the `compare --broker` and `calibrate` tests: 2 s of real time.
const TINY: &str = r#"
name = "rabbit-tiny"
[simulation]
horizon = "10m"
replications = 2
seed = 11
[loadtest]
time_scale = 0.05
horizon = "2s"
warmup = "0.2s"
[[producers]]
name = "p"
routing_key = "q"
arrival = { dist = "exponential", rate = 5.0 }
[[queues]]
name = "q"
[[consumers]]
name = "c"
queue = "q"
count = 1
service = { dist = "exponential", mean = "100ms" }
"#;

#[test]
fn rabbitmq_compare_broker_adds_the_rabbitmq_column_and_counts_balance() {
    let _one = one_at_a_time();

    if !server("rabbitmq_compare_broker_adds_the_rabbitmq_column_and_counts_balance") {
        return;
    }
    let dir = std::env::temp_dir().join(format!("mqsim-rabbit-cmp-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("tiny.toml");
    std::fs::write(&file, TINY).unwrap();
    let out_dir = dir.join("out");
    let out = Command::cargo_bin("mqsim")
        .unwrap()
        .args(["compare", file.to_str().unwrap(), "--quiet", "--no-real", "--format", "json"])
        .args(["--broker", &url(), "--out", out_dir.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let server = &v["rabbitmq"]["server"];
    assert_eq!(server["product"], "RabbitMQ", "{v}");
    let figs = v["queues"][0]["figures"].as_array().unwrap();
    let soj = figs.iter().find(|f| f["metric"] == "sojourn_s.mean").unwrap();
    let r = soj["rabbitmq"].as_f64().expect("a measured RabbitMQ sojourn");
    // Service alone averages 100 ms (scenario time): the server's sojourn cannot be less
    // than a third of it, nor (at ρ = 0.5, about 200 ms) ten times more.
    assert!(r > 0.03 && r < 2.0, "{soj}");
    assert!(soj["rabbitmq_vs_analytic"].is_f64() && soj["rabbitmq_vs_sim"].is_f64(), "{soj}");
    // Without --calibration the calibrated column is absent, not null.
    assert!(soj.get("sim_calibrated").is_none(), "{soj}");
    // The RabbitMQ run's own document balances exactly.
    let run: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out_dir.join("rabbitmq.json")).unwrap()).unwrap();
    let c = &run["queues"][0]["counts"];
    let n = |k: &str| c[k].as_u64().unwrap_or(0);
    assert!(n("acked") > 5, "{c}");
    assert_eq!(run["backend"], "rabbitmq");
    // No loss, no failure, no TTL here: offered = acked + dropped + left, exactly.
    assert_eq!(n("offered"), n("acked") + n("dropped") + n("in_flight_at_end"), "{c}");
    assert_eq!(n("dropped"), 0, "{c}");
    let csv = std::fs::read_to_string(out_dir.join("compare.csv")).unwrap();
    assert!(csv.lines().next().unwrap().contains(",rabbitmq,rabbitmq_vs_analytic"), "{csv}");
    assert!(out_dir.join("latency-q.png").exists());
}

#[test]
fn rabbitmq_calibrate_measures_sane_positive_figures_and_writes_a_fragment_that_applies() {
    let _one = one_at_a_time();

    if !server(
        "rabbitmq_calibrate_measures_sane_positive_figures_and_writes_a_fragment_that_applies",
    ) {
        return;
    }
    let plan = mqsim::rabbitmq::calibrate::Plan {
        probes: 100,
        backlog: 200,
        flood: Duration::from_secs(1),
        quorum: true,
    };
    let m = mqsim::rabbitmq::calibrate::calibrate(&url(), plan).unwrap();
    assert!(m.server.starts_with("RabbitMQ "), "{m:?}");
    let (p, a) = (&m.classic.publish_deliver, &m.classic.ack_round_trip);
    assert_eq!(p.samples, 100, "{m:?}");
    assert_eq!(a.samples, 199, "{m:?}");
    // Positive, ordered, and below a second on a local server however loaded.
    for s in [p, a] {
        assert!(s.mean > 0.0 && s.p50 > 0.0 && s.p99 >= s.p50 && s.p99 < 1.0, "{m:?}");
    }
    assert!(m.max_rate > 50.0 && m.max_rate < 1e7, "{m:?}");
    let text = m.to_toml(&url());
    let c = mqsim::scenario::calibration::Calibration::from_toml(&text, "cal.toml").unwrap();
    assert!((c.network_delay - m.classic.network_delay()).abs() < 1e-6, "{text}");
    assert!(c.network_delay > 0.0 && c.broker_overhead >= 0.0, "{text}");
    // The quorum queue's figures too, in the fragment as measured.
    let q = m.quorum.expect("measured on a quorum queue");
    assert_eq!(q.publish_deliver.samples, 100, "{m:?}");
    for s in [&q.publish_deliver, &q.ack_round_trip] {
        assert!(s.mean > 0.0 && s.p99 >= s.p50 && s.p99 < 1.0, "{m:?}");
    }
    let (nd, bo) = c.quorum.expect("[calibration.quorum] written");
    assert!((nd - q.network_delay()).abs() < 1e-6 && bo >= 0.0, "{text}");
    if let Some(left) = leftovers() {
        assert!(left.is_empty(), "left on the server: {left:?}");
    }
}
