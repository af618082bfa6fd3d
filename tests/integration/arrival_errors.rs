//! Bad load-over-time input, as a user meets it: `mqsim check` exits with code 2 and one
//! line naming the scenario file, the line, the field path and what is wrong — for
//! schedules, sinusoids, MMPPs, trace files (naming the trace file and its line), batches,
//! weighted routing keys and initial backlogs. Never a panic.

use assert_cmd::cargo::cargo_bin_cmd;
use std::path::PathBuf;

/// A directory of its own per test, so the trace files of one never meet another's.
fn dir(test: &str) -> PathBuf {
    let d =
        std::env::temp_dir().join(format!("mqsim-arrival-errors-{}-{test}", std::process::id()));
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// One queue with one consumer; `producer` is the rest of the producer's table (line 12
/// onwards), `queue` extra lines of the queue's table (line 5 onwards).
fn scenario(queue: &str, producer: &str) -> String {
    format!(
        "[simulation]\nhorizon = \"1h\"\n[[queues]]\nname = \"q\"\n{queue}\n[[consumers]]\nname = \"c\"\nqueue = \"q\"\ncount = 1\nservice = {{ dist = \"exponential\", mean = \"100ms\" }}\n[[producers]]\nname = \"p\"\n{producer}\n"
    )
}

/// Runs `mqsim check` on `text` written as `name` in `dir`; asserts exit code 2, no panic,
/// and that stderr contains `file:line: ` followed by each of `wants`.
fn refused(dir: &std::path::Path, name: &str, text: &str, line: usize, wants: &[&str]) {
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    let out = cargo_bin_cmd!("mqsim").arg("check").arg(&path).output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{name}: {err}");
    assert!(!err.contains("panicked"), "{name}: {err}");
    let at = format!("{}:{line}: ", path.display());
    let l =
        err.lines().find(|l| l.contains(&at)).unwrap_or_else(|| panic!("{name}: no {at} in {err}"));
    for w in wants {
        assert!(l.contains(w), "{name}: {w:?} missing from {l:?}");
    }
}

#[test]
fn bad_schedules_and_sinusoids_name_the_field() {
    let d = dir("schedule");
    let p = |arrival: &str| format!("routing_key = \"q\"\narrival = {arrival}");
    refused(
        &d,
        "unsorted.toml",
        &scenario(
            "",
            &p(
                "{ process = \"schedule\", period = \"24h\", rates = [{ at = \"0h\", rate = 10 }, { at = \"8h\", rate = 60 }, { at = \"6h\", rate = 25 }] }",
            ),
        ),
        14,
        &["producers[0].arrival.rates[2].at", "later than rates[1].at", "time order"],
    );
    refused(
        &d,
        "first.toml",
        &scenario(
            "",
            &p(
                "{ process = \"schedule\", period = \"24h\", rates = [{ at = \"1h\", rate = 10 }] }",
            ),
        ),
        14,
        &["producers[0].arrival.rates[0].at", "start at 0"],
    );
    refused(
        &d,
        "beyond.toml",
        &scenario(
            "",
            &p(
                "{ process = \"schedule\", period = \"1h\", rates = [{ at = \"0h\", rate = 10 }, { at = \"2h\", rate = 5 }] }",
            ),
        ),
        14,
        &["producers[0].arrival.rates[1].at", "below the period"],
    );
    refused(
        &d,
        "negative.toml",
        &scenario(
            "",
            &p(
                "{ process = \"schedule\", period = \"24h\", rates = [{ at = \"0h\", rate = 10 }, { at = \"8h\", rate = -6 }] }",
            ),
        ),
        14,
        &["producers[0].arrival.rates[1].rate", ">= 0", "got -6"],
    );
    refused(
        &d,
        "empty.toml",
        &scenario("", &p("{ process = \"schedule\", period = \"24h\", rates = [] }")),
        14,
        &["producers[0].arrival.rates", "at least one"],
    );
    refused(
        &d,
        "amplitude.toml",
        &scenario(
            "",
            &p("{ process = \"sinusoid\", mean_rate = 30, amplitude = 1.5, period = \"24h\" }"),
        ),
        14,
        &["producers[0].arrival.amplitude", "from 0 to 1", "got 1.5"],
    );
    refused(
        &d,
        "mean.toml",
        &scenario(
            "",
            &p("{ process = \"sinusoid\", mean_rate = -3, amplitude = 0.5, period = \"24h\" }"),
        ),
        14,
        &["producers[0].arrival.mean_rate", "> 0", "got -3"],
    );
    refused(
        &d,
        "period.toml",
        &scenario(
            "",
            &p("{ process = \"sinusoid\", mean_rate = 3, amplitude = 0.5, period = \"0s\" }"),
        ),
        14,
        &["producers[0].arrival.period"],
    );
}

#[test]
fn bad_mmpp_states_name_the_state() {
    let d = dir("mmpp");
    let p = |states: &str| {
        format!("routing_key = \"q\"\narrival = {{ process = \"mmpp\", states = [{states}] }}")
    };
    refused(
        &d,
        "rate.toml",
        &scenario(
            "",
            &p("{ rate = 4, mean_duration = \"20s\" }, { rate = -14, mean_duration = \"20s\" }"),
        ),
        14,
        &["producers[0].arrival.states[1].rate", ">= 0", "got -14"],
    );
    refused(
        &d,
        "duration.toml",
        &scenario(
            "",
            &p("{ rate = 4, mean_duration = \"0s\" }, { rate = 14, mean_duration = \"20s\" }"),
        ),
        14,
        &["producers[0].arrival.states[0].mean_duration", "> 0"],
    );
    refused(
        &d,
        "none.toml",
        &scenario("", &p("")),
        14,
        &["producers[0].arrival.states", "at least one"],
    );
    refused(
        &d,
        "silent.toml",
        &scenario(
            "",
            &p("{ rate = 0, mean_duration = \"20s\" }, { rate = 0, mean_duration = \"5s\" }"),
        ),
        14,
        &["producers[0].arrival.states", "rate > 0"],
    );
    refused(
        &d,
        "unknown.toml",
        &scenario("", &p("{ rate = 4, mean_duration = \"20s\", switch_to = 1 }")),
        14,
        &["switch_to"],
    );
}

#[test]
fn bad_trace_files_name_the_file_and_its_line() {
    let d = dir("trace");
    let p = |file: &str| {
        format!("routing_key = \"q\"\narrival = {{ process = \"trace\", file = \"{file}\" }}")
    };
    std::fs::write(d.join("empty.csv"), "time_s\n\n# nothing recorded\n").unwrap();
    std::fs::write(d.join("unsorted.csv"), "time_s\n0.5\n1.25\n1.0\n").unwrap();
    std::fs::write(d.join("words.csv"), "0.5\n1.0\nlater\n").unwrap();
    std::fs::write(d.join("negative.csv"), "0.5\n-1.0\n").unwrap();
    refused(
        &d,
        "missing.toml",
        &scenario("", &p("no-such-trace.csv")),
        14,
        &["producers[0].arrival.file", "no-such-trace.csv"],
    );
    refused(
        &d,
        "empty.toml",
        &scenario("", &p("empty.csv")),
        14,
        &["producers[0].arrival.file", "empty.csv is empty"],
    );
    refused(
        &d,
        "unsorted.toml",
        &scenario("", &p("unsorted.csv")),
        14,
        &["producers[0].arrival.file", "unsorted.csv:4", "sorted"],
    );
    refused(
        &d,
        "words.toml",
        &scenario("", &p("words.csv")),
        14,
        &["producers[0].arrival.file", "words.csv:3", "\"later\"", "not a publish time"],
    );
    refused(
        &d,
        "negative.toml",
        &scenario("", &p("negative.csv")),
        14,
        &["producers[0].arrival.file", "negative.csv:2"],
    );
}

#[test]
fn bad_batches_keys_and_backlogs_name_the_field() {
    let d = dir("batch");
    let rate = "arrival = { dist = \"exponential\", rate = 5 }";
    refused(
        &d,
        "zero.toml",
        &scenario(
            "",
            &format!("routing_key = \"q\"\n{rate}\nbatch = {{ dist = \"constant\", value = 0 }}"),
        ),
        15,
        &["producers[0].batch.value", "at least 1 message", "got a batch of 0"],
    );
    refused(
        &d,
        "negative.toml",
        &scenario(
            "",
            &format!("routing_key = \"q\"\n{rate}\nbatch = {{ dist = \"constant\", value = -3 }}"),
        ),
        15,
        &["producers[0].batch.value", "got -3"],
    );
    refused(
        &d,
        "weight.toml",
        &scenario(
            "",
            &format!(
                "routing_keys = [{{ key = \"q\", weight = 1 }}, {{ key = \"q\", weight = -2 }}]\n{rate}"
            ),
        ),
        13,
        &["producers[0].routing_keys[1].weight", ">= 0", "got -2"],
    );
    refused(
        &d,
        "both.toml",
        &scenario(
            "",
            &format!("routing_key = \"q\"\nrouting_keys = [{{ key = \"q\", weight = 1 }}]\n{rate}"),
        ),
        14,
        &["producers[0].routing_keys", "not both"],
    );
    refused(
        &d,
        "backlog.toml",
        &scenario("initial_messages = -5", &format!("routing_key = \"q\"\n{rate}")),
        5,
        &["queues[0].initial_messages", ">= 0", "got -5"],
    );
    refused(
        &d,
        "overfull.toml",
        &scenario(
            "max_length = 10\ninitial_messages = 50",
            &format!("routing_key = \"q\"\n{rate}"),
        ),
        6,
        &["queues[0].initial_messages", "more than max_length"],
    );
}
