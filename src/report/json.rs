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

fn sweep_params(specs: &[SetSpec], values: &[toml::Value]) -> serde_json::Value {
    let params: serde_json::Map<String, serde_json::Value> = specs
        .iter()
        .zip(values)
        .map(|(s, v)| (s.path.clone(), serde_json::to_value(v).unwrap_or(serde_json::Value::Null)))
        .collect();
    params.into()
}

fn sweep_cells(specs: &[SetSpec], cells: &[Cell]) -> Vec<serde_json::Value> {
    cells
        .iter()
        .map(|c| {
            serde_json::json!({"cell": c.index, "set": sweep_params(specs, &c.values), "report": c.report})
        })
        .collect()
}

/// The `sweep` document: per cell, its index, the value of each `--set` path and its run
/// report.
pub fn sweep_json(specs: &[SetSpec], cells: &[Cell]) -> String {
    to_json(&sweep_cells(specs, cells))
}

/// The document of an interrupted sweep: `{"partial": true, "cells": [the finished cells,
/// as in [`sweep_json`]], "not_run": [{"cell", "set"}]}`.
pub fn sweep_json_partial(
    specs: &[SetSpec],
    cells: &[Cell],
    not_run: &[(usize, Vec<toml::Value>)],
) -> String {
    let not_run: Vec<serde_json::Value> = not_run
        .iter()
        .map(|(i, values)| serde_json::json!({"cell": i, "set": sweep_params(specs, values)}))
        .collect();
    to_json(&serde_json::json!({
        "partial": true,
        "cells": sweep_cells(specs, cells),
        "not_run": not_run,
    }))
}
