//! The scenario loader fed hostile input: every field of every table of the shipped
//! scenarios replaced by values at the edges of what TOML and `f64` can hold, every field
//! removed, and random byte-level mutations of the text. Whatever comes in, the loader must
//! not panic, and must return either a model or an error whose every problem names a line;
//! no message may show an internal type name. Every model it accepts must be usable: each distribution builds (the loader did
//! that) and samples finite, non-negative values, with a finite mean and SCV, and its
//! warnings (which run the analytic back end) are computed without a panic.

use mqsim::scenario::Model;
use proptest::prelude::*;
use rand::SeedableRng;
use rand::rngs::Xoshiro256PlusPlus;
use std::panic::{AssertUnwindSafe, catch_unwind};
use toml::Value;

fn shipped() -> Vec<(String, String)> {
    let mut out = Vec::new();
    for e in std::fs::read_dir("scenarios").unwrap() {
        let p = e.unwrap().path();
        if p.extension().is_some_and(|x| x == "toml") {
            out.push((p.display().to_string(), std::fs::read_to_string(&p).unwrap()));
        }
    }
    out.sort();
    assert!(out.len() >= 5, "shipped scenarios not found");
    out
}

/// Values at the edges: zeros of both signs, subnormals, f64's extremes, infinities and
/// NaN, their spellings as strings, empty and huge strings, wrong types, deep nesting.
fn edge_values() -> Vec<Value> {
    let mut deep = Value::Array(vec![Value::Integer(1)]);
    for _ in 0..40 {
        deep = Value::Array(vec![deep]);
    }
    let mut v = vec![
        Value::Integer(0),
        Value::Integer(-1),
        Value::Integer(1),
        Value::Integer(i64::MAX),
        Value::Integer(i64::MIN),
        Value::Float(0.0),
        Value::Float(-0.0),
        Value::Float(1e-310),
        Value::Float(5e-324),
        Value::Float(1e308),
        Value::Float(-1e308),
        Value::Float(f64::INFINITY),
        Value::Float(f64::NEG_INFINITY),
        Value::Float(f64::NAN),
        Value::Float(1e155),
        Value::Float(2.0000000001),
        Value::String(String::new()),
        Value::String("inf".into()),
        Value::String("nan".into()),
        Value::String("-0ms".into()),
        Value::String("1e308s".into()),
        Value::String("1e-310s".into()),
        Value::String("99999999999999999999h".into()),
        Value::String("1month".into()),
        Value::String("auto".into()),
        Value::String("#.#.#.*.#".into()),
        Value::String("x".repeat(70_000)),
        Value::Boolean(true),
        Value::Table(toml::Table::new()),
        Value::Array(Vec::new()),
        deep,
    ];
    for d in ["exponential", "lognormal", "hyperexponential", "gamma", "weibull", "pareto"] {
        let mut t = toml::Table::new();
        t.insert("dist".into(), Value::String(d.into()));
        t.insert("mean".into(), Value::Float(1e-300));
        t.insert("cv".into(), Value::Float(1e154));
        v.push(Value::Table(t));
    }
    v
}

/// Every path to a value in the document, as a list of keys / indices.
#[derive(Clone, Debug)]
enum Step {
    Key(String),
    Index(usize),
}

fn paths(v: &Value, prefix: &mut Vec<Step>, out: &mut Vec<Vec<Step>>) {
    match v {
        Value::Table(t) => {
            for (k, c) in t {
                prefix.push(Step::Key(k.clone()));
                out.push(prefix.clone());
                paths(c, prefix, out);
                prefix.pop();
            }
        }
        Value::Array(a) => {
            for (i, c) in a.iter().enumerate() {
                prefix.push(Step::Index(i));
                out.push(prefix.clone());
                paths(c, prefix, out);
                prefix.pop();
            }
        }
        _ => {}
    }
}

/// Replaces (`Some`) or removes (`None`) the value at `path`.
fn mutate(doc: &Value, path: &[Step], new: Option<&Value>) -> Value {
    let mut d = doc.clone();
    let mut cur = &mut d;
    for (i, s) in path.iter().enumerate() {
        let last = i + 1 == path.len();
        match (s, cur) {
            (Step::Key(k), Value::Table(t)) => {
                if last {
                    match new {
                        Some(v) => {
                            t.insert(k.clone(), v.clone());
                        }
                        None => {
                            t.remove(k);
                        }
                    }
                    return d;
                }
                cur = t.get_mut(k).unwrap();
            }
            (Step::Index(j), Value::Array(a)) => {
                if last {
                    match new {
                        Some(v) => a[*j] = v.clone(),
                        None => {
                            a.remove(*j);
                        }
                    }
                    return d;
                }
                cur = &mut a[*j];
            }
            _ => unreachable!("paths come from this document"),
        }
    }
    d
}

/// The property itself, for one text.
fn check(text: &str, what: &str) {
    let result = catch_unwind(AssertUnwindSafe(|| {
        let loaded = Model::from_toml(text, "fuzz.toml");
        if let Ok(m) = &loaded {
            use_model(m);
        }
        loaded
    }));
    let loaded = result.unwrap_or_else(|_| panic!("panic on {what}"));
    match loaded {
        Ok(_) => {}
        Err(e) => {
            assert!(!e.problems.is_empty(), "{what}: an error without problems");
            for p in &e.problems {
                assert!(
                    p.line.is_some(),
                    "{what}: problem at {} has no line: {}",
                    p.path,
                    p.message
                );
                assert!(!p.message.contains("Raw"), "{what}: internal type name in {}", p.message);
            }
        }
    }
}

/// Everything validation accepted must build and sample.
fn use_model(m: &Model) {
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(3);
    for p in &m.producers {
        let a = &p.arrival;
        assert!(a.mean().is_finite() && a.scv().is_finite(), "{}", a.label());
        let mut st = a.start(&mut rng);
        let mut last = 0.0;
        for _ in 0..50 {
            let Some(t) = a.next(&mut st, &mut rng) else { break };
            assert!(t.is_finite() && t >= last, "{}: published at {t}", a.label());
            last = t;
        }
    }
    let dists = m.groups.iter().map(|g| &g.service);
    for d in dists {
        assert!(d.mean().is_finite() && d.scv().is_finite(), "{}", d.label());
        for _ in 0..50 {
            let x = d.sample(&mut rng);
            assert!(x.is_finite() && x >= 0.0, "{}: sampled {x}", d.label());
        }
    }
    let _ = mqsim::report::warnings::model_warnings(m, &mqsim::analytic::analyze(m), 1);
    let _ = mqsim::report::warnings::check_run_size(m);
    let _ = mqsim::loadtest::clock::check(m);
}

#[test]
fn every_field_of_every_shipped_scenario_at_the_edges() {
    let values = edge_values();
    let start = std::time::Instant::now();
    let mut cases = 0;
    for (name, text) in shipped() {
        let doc: Value = toml::from_str(&text).unwrap();
        let mut all = Vec::new();
        paths(&doc, &mut Vec::new(), &mut all);
        for path in &all {
            let at = format!("{name} {path:?}");
            check(&toml::to_string(&mutate(&doc, path, None)).unwrap(), &format!("{at} removed"));
            for v in &values {
                let text = toml::to_string(&mutate(&doc, path, Some(v))).unwrap();
                check(
                    &text,
                    &format!("{at} = {}", v.to_string().chars().take(60).collect::<String>()),
                );
                cases += 1;
            }
        }
    }
    eprintln!("{cases} mutated scenarios in {:?}", start.elapsed());
}

fn scenario_texts() -> impl Strategy<Value = String> {
    let texts: Vec<String> = shipped().into_iter().map(|(_, t)| t).collect();
    prop::sample::select(texts)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 300, ..ProptestConfig::default() })]

    /// Random edits of the text: a byte range replaced by an arbitrary string.
    #[test]
    fn mutated_scenario_text_never_panics(
        text in scenario_texts(),
        at in 0.0f64..1.0,
        len in 0usize..40,
        insert in "(\\PC|[\\[\\]{}=\".#*\n0-9e+-]){0,30}",
    ) {
        let mut start = (at * text.len() as f64) as usize;
        while !text.is_char_boundary(start) { start -= 1; }
        let mut end = (start + len).min(text.len());
        while !text.is_char_boundary(end) { end -= 1; }
        let mutated = format!("{}{}{}", &text[..start], insert, &text[end..]);
        check(&mutated, &format!("{mutated:?}"));
    }

    /// Arbitrary short documents made of TOML-ish tokens.
    #[test]
    fn arbitrary_toml_never_panics(text in "(\\[+[a-z]*\\]+\n|[a-z_]+ = |[0-9.e+-]+|\"[a-z0-9 ]*\"|\\{|\\}|,|\n|inf|nan){0,40}") {
        check(&text, &format!("{text:?}"));
    }
}
