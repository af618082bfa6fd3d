//! `mqsim merge`: combines the CSVs of sweep cells run elsewhere (one per `--jobs-file`
//! line) into the CSV the sweep would have printed, and refuses what would make that
//! combination wrong. Before, garbage, duplicate, foreign and missing cells were all merged
//! with exit status 0.
//!
//! A sweep CSV has a `cell` column, one column per `--set` path, then the per-queue figures.
//! From the cells present the grid is inferred: column k takes `n_k` distinct values, the
//! grid has ∏ n_k cells numbered row-major (first path slowest, as `sweep::grid` numbers
//! them), so a cell's number fixes each of its values' position. A cell whose values
//! disagree with another's at the same position, or whose number is outside the grid,
//! comes from another sweep.

use std::collections::{BTreeMap, HashMap};

/// One input: a name for messages and the CSV bytes.
#[derive(Debug)]
pub struct Input {
    /// File name, as given.
    pub name: String,
    /// Its contents.
    pub bytes: Vec<u8>,
}

/// The merged CSV, and notes for stderr (missing cells accepted with `partial`).
#[derive(Debug)]
pub struct Merged {
    /// The combined CSV, rows ordered by cell.
    pub csv: Vec<u8>,
    /// Things to tell the user.
    pub notes: Vec<String>,
}

/// Columns after the `--set` paths, as `report::csv` writes them.
fn figure_columns() -> Vec<String> {
    crate::report::csv::sweep_header(&[])[1..].to_vec()
}

struct Row {
    cell: usize,
    file: usize,
    record: csv::StringRecord,
}

/// Merges sweep cell CSVs; `partial` accepts missing cells (listed in the notes).
pub fn merge(inputs: &[Input], partial: bool) -> Result<Merged, String> {
    let tail = figure_columns();
    let mut header: Option<csv::StringRecord> = None;
    let mut rows: Vec<Row> = Vec::new();
    for (fi, input) in inputs.iter().enumerate() {
        let name = &input.name;
        let mut r = csv::Reader::from_reader(input.bytes.as_slice());
        let h = r.headers().map_err(|e| format!("{name}: {e}"))?.clone();
        let cols: Vec<&str> = h.iter().collect();
        let is_sweep = cols.len() > tail.len() + 1
            && cols[0] == "cell"
            && cols[cols.len() - tail.len()..].iter().zip(&tail).all(|(a, b)| a == b);
        if !is_sweep {
            return Err(format!(
                "{name}: not a sweep cell CSV (expected the header `mqsim sweep --format csv` writes: cell, the --set paths, queue, consumers, …)"
            ));
        }
        match &header {
            None => header = Some(h.clone()),
            Some(first) if *first != h => {
                return Err(format!(
                    "{name}: its columns differ from the first file's ({} vs {}): were they written by the same sweep?",
                    h.iter().collect::<Vec<_>>().join(","),
                    first.iter().collect::<Vec<_>>().join(",")
                ));
            }
            _ => {}
        }
        let params = cols.len() - tail.len() - 1;
        for (i, rec) in r.records().enumerate() {
            let rec = rec.map_err(|e| format!("{name} record {}: {e}", i + 1))?;
            let cell = rec[0].parse::<usize>().map_err(|_| {
                format!("{name} record {}: cell \"{}\" is not a cell number", i + 1, &rec[0])
            })?;
            // Figures are numbers or empty; the queue name and count are checked as text.
            for (c, v) in rec.iter().enumerate().skip(1 + params + 2) {
                if !v.is_empty() && v.parse::<f64>().is_err() {
                    return Err(format!(
                        "{name} record {}: column {} is \"{v}\", not a number",
                        i + 1,
                        &h[c]
                    ));
                }
            }
            rows.push(Row { cell, file: fi, record: rec });
        }
    }
    let Some(header) = header else {
        return Err("no input".into());
    };
    let params = header.len() - tail.len() - 1;
    check_cells(inputs, &rows, params, partial).map(|notes| {
        let mut rows = rows;
        rows.sort_by_key(|r| r.cell);
        let mut w = csv::Writer::from_writer(Vec::new());
        w.write_record(&header).expect("in-memory CSV");
        for r in &rows {
            w.write_record(&r.record).expect("in-memory CSV");
        }
        Merged { csv: w.into_inner().expect("in-memory CSV"), notes }
    })
}

/// Duplicates, foreign cells and missing cells; returns notes on accepted partial input.
fn check_cells(
    inputs: &[Input],
    rows: &[Row],
    params: usize,
    partial: bool,
) -> Result<Vec<String>, String> {
    let file = |r: &Row| inputs[r.file].name.as_str();
    // One row per (cell, queue), and a cell's rows agree on its values.
    let mut seen: HashMap<(usize, &str), &Row> = HashMap::new();
    let mut cells: BTreeMap<usize, (&Row, Vec<&str>)> = BTreeMap::new();
    for r in rows {
        let queue = &r.record[1 + params];
        if let Some(prev) = seen.insert((r.cell, queue), r) {
            return Err(format!(
                "cell {} (queue \"{queue}\") appears twice: in {} and {}; merge each cell once",
                r.cell,
                file(prev),
                file(r)
            ));
        }
        let (first, queues) = cells.entry(r.cell).or_insert_with(|| (r, Vec::new()));
        if first.record.iter().skip(1).take(params).ne(r.record.iter().skip(1).take(params)) {
            return Err(format!(
                "cell {} has different parameter values in {} and {}: the files come from different sweeps",
                r.cell,
                file(first),
                file(r)
            ));
        }
        queues.push(queue);
    }
    // Every cell has the same queues.
    let mut it = cells.iter();
    if let Some((&c0, (r0, q0))) = it.next() {
        for (&c, (r, q)) in it {
            if q != q0 {
                return Err(format!(
                    "cell {c} ({}) has queues {q:?} but cell {c0} ({}) has {q0:?}: the files come from different scenarios",
                    file(r),
                    file(r0)
                ));
            }
        }
    }
    // The grid: distinct values per column, row-major numbering.
    let mut distinct: Vec<Vec<&str>> = vec![Vec::new(); params];
    for (r, _) in cells.values() {
        for (k, v) in r.record.iter().skip(1).take(params).enumerate() {
            if !distinct[k].contains(&v) {
                distinct[k].push(v);
            }
        }
    }
    let total: usize = distinct.iter().map(Vec::len).product();
    let mut strides = vec![1usize; params];
    for k in (0..params.saturating_sub(1)).rev() {
        strides[k] = strides[k + 1] * distinct[k + 1].len();
    }
    let mut slot: HashMap<(usize, usize), (&str, usize)> = HashMap::new();
    let mut value_slot: HashMap<(usize, &str), (usize, usize)> = HashMap::new();
    for (&cell, (r, _)) in &cells {
        if cell >= total {
            return Err(format!(
                "cell {cell} ({}) is outside the grid of {total} cells the files describe: it comes from another sweep",
                file(r)
            ));
        }
        for (k, v) in r.record.iter().skip(1).take(params).enumerate() {
            let pos = cell / strides[k] % distinct[k].len();
            let (v0, c0) = *slot.entry((k, pos)).or_insert((v, cell));
            let (p0, c1) = *value_slot.entry((k, v)).or_insert((pos, cell));
            if v0 != v || p0 != pos {
                let other = if v0 != v { c0 } else { c1 };
                return Err(format!(
                    "cell {cell} ({}) has {} = {v}, which does not fit the grid of cell {other}: the files come from different sweeps",
                    file(r),
                    header_name(inputs, r, 1 + k)
                ));
            }
        }
    }
    let missing: Vec<usize> = (0..total).filter(|c| !cells.contains_key(c)).collect();
    if missing.is_empty() {
        return Ok(Vec::new());
    }
    let list = missing.iter().map(ToString::to_string).collect::<Vec<_>>().join(", ");
    let msg = format!("{} of {total} cells missing: {list}", missing.len());
    if partial {
        Ok(vec![format!("{msg} (merged without them: --partial)")])
    } else {
        Err(format!("{msg}; run them, or pass --partial to merge what there is"))
    }
}

fn header_name(inputs: &[Input], r: &Row, col: usize) -> String {
    csv::Reader::from_reader(inputs[r.file].bytes.as_slice())
        .headers()
        .ok()
        .and_then(|h| h.get(col).map(str::to_string))
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header() -> String {
        let mut h = vec!["cell".to_string(), "a".to_string(), "b".to_string()];
        h.extend(figure_columns());
        h.join(",")
    }

    fn figures(v: &str) -> String {
        vec![v; figure_columns().len() - 2].join(",")
    }

    /// Cell `i` of a sweep with values `a`, `b`, in a file of its own.
    fn cell(i: usize, a: u32, b: &str) -> Input {
        Input {
            name: format!("cell-{i}.csv"),
            bytes: format!("{}\n{i},{a},{b},q,1,{}\n", header(), figures("1")).into_bytes(),
        }
    }

    /// The grid a ∈ {1, 2} × b ∈ {x, y}, row-major.
    fn grid() -> Vec<Input> {
        vec![cell(0, 1, "x"), cell(1, 1, "y"), cell(2, 2, "x"), cell(3, 2, "y")]
    }

    #[test]
    fn merge_refuses_garbage_duplicates_foreign_and_missing_cells() {
        // All of these merged with exit 0 before.
        let mut g = grid();
        g.reverse();
        let ok = merge(&g, false).unwrap();
        let text = String::from_utf8(ok.csv).unwrap();
        assert!(text.lines().nth(1).unwrap().starts_with("0,1,x,q"), "{text}");
        assert!(ok.notes.is_empty());

        let garbage = Input { name: "g.csv".into(), bytes: b"hello,world\n1,2\n".to_vec() };
        let e = merge(&[cell(0, 1, "x"), garbage], false).unwrap_err();
        assert!(e.contains("g.csv: not a sweep cell CSV"), "{e}");
        let bad = Input {
            name: "n.csv".into(),
            bytes: format!("{}\n0,1,x,q,1,{}\n", header(), figures("oops")).into_bytes(),
        };
        assert!(merge(&[bad], false).unwrap_err().contains("not a number"));

        let mut dup = grid();
        dup.push(cell(2, 2, "x"));
        let e = merge(&dup, false).unwrap_err();
        assert!(e.contains("cell 2 (queue \"q\") appears twice"), "{e}");

        // Cell 3 of another sweep (a = 2, b = z) in place of this one's.
        let mut foreign = grid();
        foreign[3] = cell(3, 2, "z");
        let e = merge(&foreign, false).unwrap_err();
        assert!(e.contains("different sweeps") || e.contains("outside the grid"), "{e}");
        let mut outside = grid();
        outside.push(cell(7, 1, "x"));
        assert!(merge(&outside, false).unwrap_err().contains("outside the grid of 4 cells"));

        let mut missing = grid();
        missing.remove(1);
        let e = merge(&missing, false).unwrap_err();
        assert!(e.contains("1 of 4 cells missing: 1; run them, or pass --partial"), "{e}");
        let m = merge(&missing, true).unwrap();
        assert!(m.notes[0].contains("1 of 4 cells missing: 1"), "{:?}", m.notes);
    }
}
