//! `mqsim validate [--quick] [--out DIR]`: the simulator against theory on a built-in
//! matrix, and the tutorial's formulas put to the test. Exits 1 if an exact model fails.

use super::output::{print, show_progress, write_atomic};
use super::{CliError, Format};
use indicatif::{ProgressBar, ProgressStyle};
use mqsim::dist::fmt_secs;
use mqsim::report::table::Table;
use mqsim::validate::{self, Row, Summary, TutorialRow, Validation};
use std::fmt::Write;
use std::path::PathBuf;

#[derive(Debug, clap::Args)]
pub struct ValidateArgs {
    /// A small subset (CI): 2 loads × 2 sizes × 2 services, one finite buffer, the tandem.
    #[arg(long)]
    quick: bool,
    /// Output format on stdout.
    #[arg(long, value_enum, default_value_t = Format::Table)]
    format: Format,
    /// Write validation.csv, tutorial.csv, validation.json and report.md here.
    #[arg(long, value_name = "DIR")]
    out: Option<PathBuf>,
    /// No progress bar.
    #[arg(long, short)]
    quiet: bool,
}

fn value(metric: &str, v: f64) -> String {
    if metric.contains("_s.") { fmt_secs(v) } else { format!("{v:.4}") }
}

fn rel(e: f64) -> String {
    if e.is_finite() { format!("{:+.2}%", e * 100.0) } else { "∞".into() }
}

fn verdict(r: &Row) -> &'static str {
    match r.pass {
        Some(true) => "pass",
        Some(false) => "FAIL",
        None => "approx",
    }
}

fn matrix_table(v: &Validation) -> String {
    let mut t = Table::new(&[
        "cell",
        "model",
        "metric",
        "theory",
        "simulated ±95%",
        "rel. error",
        "in 95% CI",
        "verdict",
    ]);
    for r in &v.rows {
        t.row(vec![
            r.cell.clone(),
            r.model.clone(),
            r.metric.clone(),
            value(&r.metric, r.theory),
            format!("{} ±{}", value(&r.metric, r.simulated), value(&r.metric, r.ci95)),
            rel(r.rel_error),
            if r.in_ci95 { "yes" } else { "no" }.into(),
            verdict(r).into(),
        ]);
    }
    t.render()
}

fn summary_text(v: &Validation, s: &Summary) -> String {
    let mut out = format!(
        "{} replications per cell, ~{} customers each. Exact models: {}/{} comparisons pass (theory inside the 99.9% interval)",
        v.replications, v.customers, s.exact_passed, s.exact_total
    );
    if let Some((e, at)) = &s.exact_worst {
        let _ = write!(out, "; worst relative error {:.2}% ({at})", e * 100.0);
    }
    out.push_str(".\nApproximations (|relative error|):\n");
    for (m, n, worst, median) in &s.approximations {
        let _ = writeln!(
            out,
            "  {m}: {n} comparisons, median {:.1}%, worst {:.1}%",
            median * 100.0,
            worst * 100.0
        );
    }
    out
}

fn tutorial_table(rows: &[TutorialRow]) -> String {
    let mut t = Table::new(&[
        "§",
        "formula",
        "value",
        "unit",
        "claimed",
        "correct quantity",
        "theory",
        "simulated",
    ]);
    for r in rows {
        t.row(vec![
            r.section.clone(),
            r.formula.clone(),
            format!("{:.4}", r.value),
            r.unit.clone(),
            r.claimed.clone(),
            r.correct_quantity.clone(),
            r.theory.map_or("-".into(), |x| format!("{x:.4}")),
            format!("{:.4}", r.simulated),
        ]);
    }
    let mut out = t.render();
    out.push('\n');
    for r in rows {
        let _ = writeln!(out, "{} {}: {}", r.section, r.formula, r.verdict);
    }
    out
}

fn markdown(v: &Validation, s: &Summary) -> String {
    let mut out = String::from("# Validation: simulation against queueing theory\n\n");
    out.push_str("Produced by `mqsim validate --out reports/validation`. Every cell is a queue the simulator runs with independent replications; the analytic back end predicts the same figures. A comparison **passes** when theory lies inside the simulation's 99.9% Student-t interval (a guard against the ~20 chance misses 95% intervals would give over ~400 comparisons); the 95% column is shown too. Approximate models (Allen–Cunneen, Kingman) get their error reported, not a verdict.\n\n## Summary\n\n");
    out.push_str(&summary_text(v, s).replace("\n  ", "\n- "));
    out.push_str("\n## The tutorial's formulas (§4.1–4.4)\n\nEvaluated on the `mmc-demo` system: W = 64 msg/s, D = 100 ms, G = 8 consumers. §4.4's simulated figure is the throughput of the same group driven into saturation (offered 160 msg/s into a bounded queue).\n\n| § | formula | value | unit | claimed | correct quantity | theory | simulated |\n|---|---|--:|---|---|---|--:|--:|\n");
    for r in &v.tutorial {
        let _ = writeln!(
            out,
            "| {} | `{}` | {:.4} | {} | {} | {} | {} | {:.4} |",
            r.section,
            r.formula,
            r.value,
            r.unit,
            r.claimed,
            r.correct_quantity,
            r.theory.map_or("-".into(), |x| format!("{x:.4}")),
            r.simulated
        );
    }
    out.push('\n');
    for r in &v.tutorial {
        let _ = writeln!(out, "- **{} `{}`** — {}", r.section, r.formula, r.verdict);
    }
    out.push_str("\n## The matrix\n\n| cell | model | metric | theory | simulated ±95% | rel. error | in 95% CI | verdict |\n|---|---|---|--:|--:|--:|:-:|:-:|\n");
    for r in &v.rows {
        let _ = writeln!(
            out,
            "| {} | {} | {} | {} | {} ±{} | {} | {} | {} |",
            r.cell,
            r.model,
            r.metric,
            value(&r.metric, r.theory),
            value(&r.metric, r.simulated),
            value(&r.metric, r.ci95),
            rel(r.rel_error),
            if r.in_ci95 { "yes" } else { "no" },
            verdict(r)
        );
    }
    out
}

fn rows_csv<T: serde::Serialize>(rows: &[T]) -> Vec<u8> {
    let mut w = csv::Writer::from_writer(Vec::new());
    for r in rows {
        w.serialize(r).expect("in-memory CSV");
    }
    w.into_inner().expect("in-memory CSV")
}

pub fn validate(a: ValidateArgs) -> Result<(), CliError> {
    let bar = if show_progress(a.quiet, a.format) {
        let b = ProgressBar::new(0);
        b.set_style(
            ProgressStyle::with_template(
                "{spinner} cells {pos}/{len} [{bar:30}] {elapsed_precise}",
            )
            .expect("valid template"),
        );
        b
    } else {
        ProgressBar::hidden()
    };
    let v = validate::run(a.quick, &|done, total| {
        bar.set_length(total as u64);
        bar.set_position(done as u64);
    });
    bar.finish_and_clear();
    let s = v.summary();
    if let Some(dir) = &a.out {
        write_atomic(dir, "validation.csv", &rows_csv(&v.rows))?;
        write_atomic(dir, "tutorial.csv", &rows_csv(&v.tutorial))?;
        write_atomic(
            dir,
            "validation.json",
            (serde_json::to_string_pretty(&v).expect("serialises") + "\n").as_bytes(),
        )?;
        write_atomic(dir, "report.md", markdown(&v, &s).as_bytes())?;
    }
    print(
        a.format,
        || {
            format!(
                "{}\n{}\nThe tutorial's formulas on mmc-demo (W = 64/s, D = 100 ms, G = 8):\n\n{}",
                matrix_table(&v),
                summary_text(&v, &s),
                tutorial_table(&v.tutorial)
            )
        },
        || serde_json::to_string_pretty(&v).expect("serialises") + "\n",
        || rows_csv(&v.rows),
    );
    if v.all_exact_pass() {
        Ok(())
    } else {
        Err(CliError::Other(anyhow::anyhow!(
            "{} of {} exact comparisons failed: the simulator and theory disagree beyond the 99.9% interval",
            s.exact_total - s.exact_passed,
            s.exact_total
        )))
    }
}
