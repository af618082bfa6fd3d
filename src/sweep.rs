//! What-if grids: `--set consumers.workers.count=1..16 --set producers.web.arrival.rate=10,20,40`
//! rewrites the scenario document once per combination, validates each variant like any
//! scenario file, and simulates the cells in parallel. Every cell keeps the scenario's seed,
//! so cells differ only by the parameters (common random numbers).
//!
//! A path is `KIND.NAME.FIELD[.SUBFIELD…]` for `producers`, `exchanges`, `queues` and
//! `consumers` (the item whose `name` is NAME), or `TABLE.FIELD` for `simulation` and
//! `loadtest`. Values are a comma list (`10,20,40`, `"100ms","200ms"`) or an inclusive
//! integer range `1..16`, optionally with a step `1..16:3`.

use crate::cancel::Cancel;
use crate::results::RunReport;
use crate::scenario::{Model, ScenarioError, parse_duration};
use crate::sim::{self, NoProgress};
use rayon::prelude::*;
use toml::{Table, Value};

/// One `--set PATH=VALUES`.
#[derive(Debug, Clone, PartialEq)]
pub struct SetSpec {
    /// The path as written.
    pub path: String,
    /// The values, in order.
    pub values: Vec<Value>,
}

/// A sweep that cannot start.
#[derive(Debug, thiserror::Error)]
pub enum SweepError {
    /// Malformed `--set`.
    #[error("--set {0}: {1}")]
    Spec(String, String),
    /// A variant of the scenario is invalid.
    #[error("cell {cell} ({assignment}): {error}")]
    Cell {
        /// Cell index.
        cell: usize,
        /// `path=value, …`.
        assignment: String,
        /// Why.
        error: ScenarioError,
    },
    /// The scenario text itself does not parse.
    #[error("{0}")]
    Scenario(ScenarioError),
}

fn parse_value(s: &str) -> Value {
    let t = s.trim();
    if let Ok(i) = t.parse::<i64>() {
        Value::Integer(i)
    } else if t.parse::<u64>().is_ok() {
        // Above TOML's integer range (a seed up to 2⁶⁴ − 1): kept exact as digits, which
        // the seed field accepts, rather than rounded to a float it rightly refuses.
        Value::String(t.to_string())
    } else if let Ok(f) = t.parse::<f64>() {
        Value::Float(f)
    } else if t == "true" || t == "false" {
        Value::Boolean(t == "true")
    } else {
        Value::String(t.trim_matches('"').trim_matches('\'').to_string())
    }
}

impl std::str::FromStr for SetSpec {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        let (path, values) = s.split_once('=').ok_or_else(|| {
            format!("\"{s}\" is not PATH=VALUES (e.g. consumers.workers.count=1..16)")
        })?;
        let path = path.trim().to_string();
        if path.split('.').count() < 2 {
            return Err(format!("path \"{path}\" needs at least TABLE.FIELD or KIND.NAME.FIELD"));
        }
        let values = values.trim();
        let out = if let Some((a, rest)) = values.split_once("..") {
            let (b, step) = rest.split_once(':').unwrap_or((rest, "1"));
            let parse = |x: &str| {
                x.trim().parse::<i64>().map_err(|_| {
                    format!("range \"{values}\" needs integers, like 1..16 or 2..32:2")
                })
            };
            let (a, b, step) = (parse(a)?, parse(b)?, parse(step)?);
            if step <= 0 || b < a {
                return Err(format!("range \"{values}\" is empty or has a step <= 0"));
            }
            if (b - a) / step > 10_000 {
                return Err(format!("range \"{values}\" has more than 10 000 values"));
            }
            (a..=b).step_by(step as usize).map(Value::Integer).collect()
        } else {
            values.split(',').filter(|v| !v.trim().is_empty()).map(parse_value).collect::<Vec<_>>()
        };
        if out.is_empty() {
            return Err(format!("\"{s}\" gives no values"));
        }
        Ok(SetSpec { path, values: out })
    }
}

/// Sets `path` to `value` in a scenario document.
fn assign(doc: &mut Table, path: &str, value: &Value) -> Result<(), String> {
    let parts: Vec<&str> = path.split('.').collect();
    let (target, fields): (&mut Table, &[&str]) = match parts[0] {
        "producers" | "exchanges" | "queues" | "consumers" => {
            if parts.len() < 3 {
                return Err(format!("\"{path}\": write {}.NAME.FIELD", parts[0]));
            }
            let list = doc
                .get_mut(parts[0])
                .and_then(Value::as_array_mut)
                .ok_or_else(|| format!("the scenario has no [[{}]]", parts[0]))?;
            let names: Vec<String> = list
                .iter()
                .filter_map(|v| v.get("name").and_then(Value::as_str).map(str::to_string))
                .collect();
            let item = list
                .iter_mut()
                .find(|v| v.get("name").and_then(Value::as_str) == Some(parts[1]))
                .and_then(Value::as_table_mut)
                .ok_or_else(|| {
                    format!("no {} named \"{}\" (names: {})", parts[0], parts[1], names.join(", "))
                })?;
            (item, &parts[2..])
        }
        "simulation" | "loadtest" => {
            let t = doc.entry(parts[0]).or_insert_with(|| Value::Table(Table::new()));
            (t.as_table_mut().ok_or_else(|| format!("{} is not a table", parts[0]))?, &parts[1..])
        }
        other => {
            return Err(format!(
                "\"{other}\" is not a sweepable section (producers, exchanges, queues, consumers, simulation, loadtest)"
            ));
        }
    };
    let mut t = target;
    for (i, f) in fields.iter().enumerate() {
        if i + 1 == fields.len() {
            t.insert((*f).to_string(), value.clone());
        } else {
            t = t
                .entry(*f)
                .or_insert_with(|| Value::Table(Table::new()))
                .as_table_mut()
                .ok_or_else(|| format!("\"{path}\": {f} is not a table"))?;
        }
    }
    Ok(())
}

/// One cell of the grid and its results.
#[derive(Debug, Clone)]
pub struct Cell {
    /// Index in the grid (row-major in the order of the `--set`s).
    pub index: usize,
    /// One value per `--set`.
    pub values: Vec<Value>,
    /// The simulation report.
    pub report: RunReport,
}

/// The cells of the grid: the cartesian product of the specs' values, first spec slowest.
pub fn grid(specs: &[SetSpec]) -> Vec<Vec<Value>> {
    let mut cells: Vec<Vec<Value>> = vec![Vec::new()];
    for s in specs {
        cells = cells
            .into_iter()
            .flat_map(|prefix| {
                s.values.iter().map(move |v| {
                    let mut c = prefix.clone();
                    c.push(v.clone());
                    c
                })
            })
            .collect();
    }
    cells
}

/// Renders a value as a command-line / CSV token.
pub fn value_text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// Builds and validates the model of every cell (all errors before any simulation).
pub fn models(
    text: &str,
    origin: &str,
    files: &dyn crate::scenario::Files,
    specs: &[SetSpec],
    cells: &[(usize, Vec<Value>)],
) -> Result<Vec<Model>, SweepError> {
    // A path given twice would label rows with the first value and run the second.
    for (i, s) in specs.iter().enumerate() {
        if specs[..i].iter().any(|p| p.path == s.path) {
            return Err(SweepError::Spec(
                s.path.clone(),
                "this path is given twice; give each path once, with all its values (PATH=1,2,3)"
                    .into(),
            ));
        }
    }
    Model::from_toml_with_files(text, origin, files).map_err(SweepError::Scenario)?;
    let doc: Table =
        toml::from_str(text).map_err(|e| SweepError::Spec("(scenario)".into(), e.to_string()))?;
    cells
        .iter()
        .map(|(index, values)| {
            let mut d = doc.clone();
            for (s, v) in specs.iter().zip(values) {
                assign(&mut d, &s.path, v).map_err(|e| SweepError::Spec(s.path.clone(), e))?;
            }
            let variant = toml::to_string(&d)
                .map_err(|e| SweepError::Spec("(scenario)".into(), e.to_string()))?;
            Model::from_toml_with_files(&variant, origin, files).map_err(|mut error| {
                // Lines refer to the rewritten variant, not to the user's file: drop them.
                error.problems.iter_mut().for_each(|p| p.line = None);
                SweepError::Cell {
                    cell: *index,
                    assignment: specs
                        .iter()
                        .zip(values)
                        .map(|(s, v)| format!("{}={}", s.path, value_text(v)))
                        .collect::<Vec<_>>()
                        .join(", "),
                    error,
                }
            })
        })
        .collect()
}

/// Simulates the given cells in parallel, results in cell order.
pub fn run(
    models: &[Model],
    cells: &[(usize, Vec<Value>)],
    on_cell: &(dyn Fn() + Sync),
) -> Vec<Cell> {
    let (done, not_run) = run_until(models, cells, on_cell, &Cancel::new());
    debug_assert!(not_run.is_empty());
    done
}

/// [`run`], stopping early when `cancel` is set: returns the cells finished (every
/// replication; in cell order) and, in grid order, the cells not run — not started, or
/// stopped part-way (their completed replications are discarded, so every cell reported
/// has the replications asked for).
pub fn run_until(
    models: &[Model],
    cells: &[(usize, Vec<Value>)],
    on_cell: &(dyn Fn() + Sync),
    cancel: &Cancel,
) -> (Vec<Cell>, Vec<(usize, Vec<Value>)>) {
    let outcomes: Vec<Option<RunReport>> = models
        .par_iter()
        .map(|m| {
            if cancel.requested() {
                return None;
            }
            let report = sim::run_until(m, None, &NoProgress, cancel)?.report;
            on_cell();
            (!report.partial).then_some(report)
        })
        .collect();
    let (mut done, mut not_run) = (Vec::new(), Vec::new());
    for (report, (index, values)) in outcomes.into_iter().zip(cells) {
        match report {
            Some(report) => done.push(Cell { index: *index, values: values.clone(), report }),
            None => not_run.push((*index, values.clone())),
        }
    }
    (done, not_run)
}

/// A swept value as a number, for chart axes: integers, floats and durations (`"250ms"`);
/// `None` for any other value.
pub fn value_number(v: &Value) -> Option<f64> {
    match v {
        Value::Integer(i) => Some(*i as f64),
        Value::Float(f) => Some(*f),
        Value::String(s) => parse_duration(s).ok(),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn specs_parse() {
        let s: SetSpec = "consumers.workers.count=1..4".parse().unwrap();
        assert_eq!(
            s.values,
            vec![Value::Integer(1), Value::Integer(2), Value::Integer(3), Value::Integer(4)]
        );
        let s: SetSpec = "consumers.w.count=2..9:3".parse().unwrap();
        assert_eq!(s.values.len(), 3);
        let s: SetSpec = "producers.web.arrival.rate=10,20.5".parse().unwrap();
        assert_eq!(s.values, vec![Value::Integer(10), Value::Float(20.5)]);
        let s: SetSpec = "consumers.w.service.mean=100ms,\"200ms\"".parse().unwrap();
        assert_eq!(s.values, vec![Value::String("100ms".into()), Value::String("200ms".into())]);
        assert!("nonsense".parse::<SetSpec>().is_err());
        assert!("a.b=5..1".parse::<SetSpec>().is_err());
    }

    #[test]
    fn sweep_with_the_same_set_path_twice_is_refused() {
        let text = std::fs::read_to_string("scenarios/mmc.toml").unwrap();
        let a: SetSpec = "consumers.order-workers.count=8".parse().unwrap();
        let b: SetSpec = "consumers.order-workers.count=9".parse().unwrap();
        let cells: Vec<_> = grid(&[a.clone(), b.clone()]).into_iter().enumerate().collect();
        let e = models(&text, "mmc.toml", &crate::scenario::NoFiles, &[a, b], &cells)
            .unwrap_err()
            .to_string();
        assert!(e.contains("--set consumers.order-workers.count: this path is given twice"), "{e}");
    }

    #[test]
    fn a_seed_beyond_toml_integers_stays_exact() {
        let s: SetSpec = "simulation.seed=18446744073709551615".parse().unwrap();
        let text = std::fs::read_to_string("scenarios/mmc.toml").unwrap();
        let cells: Vec<_> = grid(std::slice::from_ref(&s)).into_iter().enumerate().collect();
        let m = models(&text, "mmc.toml", &crate::scenario::NoFiles, &[s], &cells).unwrap();
        assert_eq!(m[0].simulation.seed, u64::MAX);
    }

    #[test]
    fn grid_is_the_cartesian_product() {
        let a: SetSpec = "x.a=1,2".parse().unwrap();
        let b: SetSpec = "x.b=1..3".parse().unwrap();
        let g = grid(&[a, b]);
        assert_eq!(g.len(), 6);
        assert_eq!(g[1], vec![Value::Integer(1), Value::Integer(2)]);
    }

    #[test]
    fn variants_are_validated_with_the_cell_named() {
        let text = std::fs::read_to_string("scenarios/mmc.toml").unwrap();
        let specs: Vec<SetSpec> = vec![
            "consumers.order-workers.count=8,9".parse().unwrap(),
            "producers.web.arrival.rate=32".parse().unwrap(),
        ];
        let cells: Vec<(usize, Vec<Value>)> = grid(&specs).into_iter().enumerate().collect();
        let ms = models(&text, "mmc.toml", &crate::scenario::NoFiles, &specs, &cells).unwrap();
        assert_eq!(ms[1].groups[0].count, 9);
        assert!((ms[1].producers[0].arrival.mean() - 1.0 / 32.0).abs() < 1e-15);
        let bad: Vec<SetSpec> = vec!["consumers.order-workers.count=0".parse().unwrap()];
        let cells: Vec<(usize, Vec<Value>)> = grid(&bad).into_iter().enumerate().collect();
        let e = models(&text, "mmc.toml", &crate::scenario::NoFiles, &bad, &cells)
            .unwrap_err()
            .to_string();
        assert!(e.contains("cell 0") && e.contains("consumers[0].count"), "{e}");
        let missing: Vec<SetSpec> = vec!["consumers.nobody.count=1".parse().unwrap()];
        let cells: Vec<(usize, Vec<Value>)> = grid(&missing).into_iter().enumerate().collect();
        let e = models(&text, "mmc.toml", &crate::scenario::NoFiles, &missing, &cells)
            .unwrap_err()
            .to_string();
        assert!(e.contains("no consumers named \"nobody\""), "{e}");
    }
}
