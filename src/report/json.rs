//! JSON documents of the commands whose results are not one of the contract's reports
//! (`compare`, `size`, `sweep`, `validate`, `bench`): pretty-printed, with a trailing
//! newline, like [`RunReport::to_json`](crate::results::RunReport::to_json) and
//! [`AnalyticReport::to_json`](crate::results::AnalyticReport::to_json).

use crate::sweep::{Cell, SetSpec};
use serde::Serialize;

/// Any serialisable result as a pretty JSON document. The result types are plain structs
/// with string keys, so serialisation cannot fail.
pub fn to_json<T: Serialize + ?Sized>(value: &T) -> String {
    serde_json::to_string_pretty(value).expect("serialises") + "\n"
}

/// The `sweep` document: per cell, its index, the value of each `--set` path and its run
/// report.
pub fn sweep_json(specs: &[SetSpec], cells: &[Cell]) -> String {
    let doc: Vec<serde_json::Value> = cells
        .iter()
        .map(|c| {
            let params: serde_json::Map<String, serde_json::Value> = specs
                .iter()
                .zip(&c.values)
                .map(|(s, v)| {
                    (s.path.clone(), serde_json::to_value(v).unwrap_or(serde_json::Value::Null))
                })
                .collect();
            serde_json::json!({"cell": c.index, "set": params, "report": c.report})
        })
        .collect();
    to_json(&doc)
}
