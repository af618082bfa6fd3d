//! The writers on a real analysis: shapes of the analytic table, CSV and JSON.

use super::{csv, table};
use crate::analytic::analyze;
use crate::analytic::tests::{PIPELINE, model};

#[test]
fn analytic_writers_emit_table_and_tidy_csv() {
    let m = model(PIPELINE);
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
    let m = model(PIPELINE);
    let v: serde_json::Value = serde_json::from_str(&analyze(&m).to_json()).unwrap();
    let keys: Vec<&String> = v["queues"][0]["wait_s"].as_object().unwrap().keys().collect();
    assert_eq!(keys, ["mean", "p50", "p90", "p95", "p99", "p999"]);
}
