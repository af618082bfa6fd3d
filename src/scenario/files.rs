//! The files a scenario refers to (a `trace`'s publish times, an `empirical`
//! distribution's observations). Reading them is the caller's business ([`Files`]: the CLI
//! reads them next to the scenario file); this module only turns their text into numbers,
//! with errors that name the file and the line.

/// Reads the files a scenario names, by the path as written in the scenario (relative to
/// the scenario file). The scenario layer itself never touches the file system.
pub trait Files {
    /// The text of `path`, or why it cannot be read (the message names the file).
    fn read(&self, path: &str) -> Result<String, String>;
}

/// No files: a scenario given as text alone (a test, a generated cell) cannot refer to one.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoFiles;

impl Files for NoFiles {
    fn read(&self, path: &str) -> Result<String, String> {
        Err(format!(
            "cannot read \"{path}\": this scenario was not loaded from a file, so files it names cannot be found"
        ))
    }
}

/// One number per line (seconds, or a count). Blank lines and lines starting with `#` are
/// skipped, and so is a header on the first line that starts with a letter (`time_s`).
/// Errors name `name` and the 1-based line. Non-empty, every value finite and ≥ 0.
pub fn numbers(text: &str, name: &str) -> Result<Vec<f64>, String> {
    let mut out = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let l = line.trim();
        if l.is_empty() || l.starts_with('#') {
            continue;
        }
        if i == 0 && l.starts_with(|c: char| c.is_ascii_alphabetic()) {
            continue;
        }
        let v: f64 = l.parse().map_err(|_| {
            let head: String = l.chars().take(40).collect();
            format!(
                "{name}:{}: \"{head}\" is not a number (one number, in seconds, per line)",
                i + 1
            )
        })?;
        if !(v.is_finite() && v >= 0.0) {
            return Err(format!("{name}:{}: {l} must be a finite number >= 0", i + 1));
        }
        out.push(v);
    }
    if out.is_empty() {
        return Err(format!("{name} is empty: it needs at least one number"));
    }
    Ok(out)
}

/// A trace's publish times: [`numbers`], in non-decreasing order.
pub fn trace_times(text: &str, name: &str) -> Result<Vec<f64>, String> {
    let mut out: Vec<f64> = Vec::new();
    let mut last: Option<(usize, f64)> = None;
    // Walk again for line numbers of the order check (numbers() skips lines).
    for (i, line) in text.lines().enumerate() {
        let l = line.trim();
        if l.is_empty()
            || l.starts_with('#')
            || (i == 0 && l.starts_with(|c: char| c.is_ascii_alphabetic()))
        {
            continue;
        }
        let v = numbers(line, &format!("{name}:{}", i + 1)).map_err(|_| {
            let head: String = l.chars().take(40).collect();
            format!(
                "{name}:{}: \"{head}\" is not a publish time (one time, in seconds >= 0, per line)",
                i + 1
            )
        })?[0];
        if let Some((li, lv)) = last
            && v < lv
        {
            return Err(format!(
                "{name}:{}: {l} comes before the time on line {} ({lv}): publish times must be sorted in increasing order",
                i + 1,
                li + 1
            ));
        }
        last = Some((i, v));
        out.push(v);
    }
    if out.is_empty() {
        return Err(format!("{name} is empty: a trace needs at least one publish time"));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_skip_comments_and_a_header_and_name_bad_lines() {
        assert_eq!(numbers("time_s\n0.5\n\n# x\n2\n", "a.csv").unwrap(), vec![0.5, 2.0]);
        let e = numbers("1\n2\nabc\n", "a.csv").unwrap_err();
        assert!(e.starts_with("a.csv:3: \"abc\" is not a number"), "{e}");
        assert!(numbers("\n# only\n", "a.csv").unwrap_err().contains("a.csv is empty"));
        assert!(numbers("-1\n", "a.csv").unwrap_err().contains("a.csv:1:"));
    }

    #[test]
    fn traces_must_be_sorted() {
        assert_eq!(trace_times("0\n1\n1\n3\n", "t.csv").unwrap(), vec![0.0, 1.0, 1.0, 3.0]);
        let e = trace_times("0\n2\n1.5\n", "t.csv").unwrap_err();
        assert!(e.starts_with("t.csv:3: 1.5 comes before the time on line 2"), "{e}");
        let e = trace_times("0\nx\n", "t.csv").unwrap_err();
        assert!(e.starts_with("t.csv:2: \"x\" is not a publish time"), "{e}");
        assert!(trace_times("", "t.csv").unwrap_err().contains("t.csv is empty"));
    }
}
