//! The shipped scenarios' JSON, byte for byte, against the recorded outputs in
//! `tests/golden/` (see its README for what they are and the deliberate changes since).

use assert_cmd::cargo::cargo_bin_cmd;
use std::path::Path;

#[test]
fn shipped_scenarios_give_the_recorded_json() {
    let mut files: Vec<_> = ["scenarios", "scenarios/fidelity"]
        .iter()
        .flat_map(|d| std::fs::read_dir(d).unwrap().map(|e| e.unwrap().path()))
        .filter(|p| p.extension().is_some_and(|x| x == "toml"))
        .collect();
    files.sort();
    assert!(files.len() >= 11, "{files:?}");
    let mut differ = Vec::new();
    for f in &files {
        let stem = f.file_stem().unwrap().to_str().unwrap();
        let golden = Path::new("tests/golden").join(format!("{stem}.json"));
        let want = std::fs::read(&golden).unwrap_or_else(|e| {
            panic!("{}: {e} (record it: see tests/golden/README.md)", golden.display())
        });
        let out = cargo_bin_cmd!("mqsim")
            .args([
                "run",
                f.to_str().unwrap(),
                "--replications",
                "3",
                "--format",
                "json",
                "--quiet",
            ])
            .output()
            .unwrap();
        assert!(out.status.success(), "{}: {}", f.display(), String::from_utf8_lossy(&out.stderr));
        if out.stdout != want {
            differ.push(stem.to_string());
        }
    }
    assert!(
        differ.is_empty(),
        "output changed for {differ:?}: a fix updates tests/golden in the same commit"
    );
}
