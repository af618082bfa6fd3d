//! The writers on a real analysis: shapes of the analytic table, CSV and JSON.

use super::{csv, table};
use crate::analytic::analyze;
use crate::scenario::Model;

const PIPELINE: &str = r#"
[simulation]
horizon = "1h"
[[producers]]
name = "web"
routing_key = "orders"
arrival = { dist = "exponential", rate = 64.0 }
[[producers]]
name = "batch"
routing_key = "payments"
arrival = { dist = "exponential", rate = 6.0 }
[[queues]]
name = "orders"
[[queues]]
name = "payments"
[[consumers]]
name = "order-workers"
queue = "orders"
count = 8
prefetch = 1
service = { dist = "exponential", mean = "100ms" }
then = { routing_key = "payments" }
[[consumers]]
name = "pay-workers"
queue = "payments"
count = 2
prefetch = 1
service = { dist = "exponential", mean = "20ms" }
"#;

#[test]
fn analytic_writers_emit_table_and_tidy_csv() {
    let m = Model::from_toml(PIPELINE, "t.toml").unwrap_or_else(|e| panic!("{e}"));
    let r = analyze(&m);
    let table = table::render_analytic(&r);
    assert!(table.contains("orders") && table.contains("M/M/c") && table.contains("notes:"));
    assert!(table.contains("orders → payments"));
    let csv = String::from_utf8(csv::to_csv(&csv::analytic_rows(&r))).unwrap();
    let mut lines = csv.lines();
    assert_eq!(lines.next(), Some("backend,entity,name,metric,stat,value"));
    let rows: Vec<&str> = lines.collect();
    assert_eq!(rows.len(), r.queues.len() * 27);
    assert!(rows.iter().any(|l| l.starts_with("analytic,queue,orders,rho,value,0.8")), "{rows:?}");
}

/// One latency type serves both contracts: a prediction's JSON has no `ci95` or `max`.
#[test]
fn analytic_latency_json_has_the_prediction_shape() {
    let m = Model::from_toml(PIPELINE, "t.toml").unwrap_or_else(|e| panic!("{e}"));
    let v: serde_json::Value = serde_json::from_str(&analyze(&m).to_json()).unwrap();
    let keys: Vec<&String> = v["queues"][0]["wait_s"].as_object().unwrap().keys().collect();
    assert_eq!(keys, ["mean", "p50", "p90", "p95", "p99", "p999"]);
}
