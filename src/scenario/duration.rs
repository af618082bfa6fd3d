//! The one duration parser of the scenario contract: a number is seconds, a string carries
//! a unit (`"250ms"`, `"2s"`, `"5m"`, `"1h"`, `"750us"`, `"100ns"`, also `"1m 30s"`): exactly
//! the units the documentation lists.

use serde::de::{self, Deserializer, Visitor};
use std::fmt;

/// A duration as written in a scenario file, already converted to seconds.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Seconds(pub f64);

/// The units of the contract (docs/scenario.md) and their length in seconds. Exactly
/// these: `humantime`, used before, also took "1month", "2weeks" or "1y", which the
/// documentation never promised and whose lengths are conventions.
const UNITS: [(&str, f64); 7] = [
    ("ns", 1e-9),
    ("us", 1e-6),
    ("µs", 1e-6),
    ("ms", 1e-3),
    ("s", 1.0),
    ("m", 60.0),
    ("h", 3600.0),
];

const ALLOWED: &str = "ns, us (or µs), ms, s, m, h";

/// Parses a duration string with a unit into seconds: one or more `NUMBER UNIT` parts
/// (`"250ms"`, `"2.5 s"`, `"1m 30s"`, `"1h30m"`), added up. Only the first number may have
/// a sign, so a negative duration reaches validation and is refused there by name.
pub fn parse_duration(text: &str) -> Result<f64, String> {
    let t = text.trim();
    if let Ok(v) = t.parse::<f64>() {
        return Err(format!(
            "\"{text}\" has no unit: write {v} (a number, seconds) or add a unit such as \"{v}s\" or \"{v}ms\""
        ));
    }
    let bad = |why: String| {
        format!(
            "\"{text}\" is not a duration ({why}); write seconds as a number or a number with a unit ({ALLOWED}), e.g. \"250ms\", \"2s\", \"5m\", \"1m 30s\""
        )
    };
    if t.is_empty() {
        return Err(bad("it is empty".into()));
    }
    let mut rest = t;
    let mut total = 0.0;
    let mut first = true;
    while !rest.is_empty() {
        let signed = first && rest.starts_with(['-', '+']);
        let num_end = rest
            .char_indices()
            .find(|&(i, c)| !(c.is_ascii_digit() || c == '.' || (signed && i == 0)))
            .map_or(rest.len(), |(i, _)| i);
        let number = &rest[..num_end];
        let v: f64 = number.parse().map_err(|_| bad(format!("expected a number at \"{rest}\"")))?;
        let after = rest[num_end..].trim_start();
        let unit_end = after.find(|c: char| !c.is_alphabetic()).unwrap_or(after.len());
        let unit = &after[..unit_end];
        if unit.is_empty() {
            return Err(bad(format!("{number} has no unit")));
        }
        let scale = UNITS
            .iter()
            .find(|(u, _)| *u == unit)
            .map(|(_, s)| *s)
            .ok_or_else(|| bad(format!("unknown unit \"{unit}\"")))?;
        total += v * scale;
        rest = after[unit_end..].trim_start();
        first = false;
    }
    Ok(total)
}

impl<'de> serde::Deserialize<'de> for Seconds {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = Seconds;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str(
                    "a duration: a number of seconds or a string with a unit like \"250ms\"",
                )
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<Seconds, E> {
                Ok(Seconds(v))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Seconds, E> {
                Ok(Seconds(v as f64))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Seconds, E> {
                Ok(Seconds(v as f64))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Seconds, E> {
                parse_duration(v).map(Seconds).map_err(E::custom)
            }
        }
        d.deserialize_any(V)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn contract_units() {
        let cases = [
            ("250ms", 0.25),
            ("2s", 2.0),
            ("5m", 300.0),
            ("1h", 3600.0),
            ("750us", 750e-6),
            ("100ns", 100e-9),
            ("0.5s", 0.5),
            ("1m 30s", 90.0),
        ];
        for (t, v) in cases {
            let got = parse_duration(t).unwrap();
            assert!((got - v).abs() < 1e-12 * v.max(1.0), "{t}: {got}");
        }
    }

    #[test]
    fn unitless_and_garbage_strings_are_explained() {
        assert!(parse_duration("100").unwrap_err().contains("no unit"));
        assert!(parse_duration("2x").unwrap_err().contains("not a duration"));
    }

    #[test]
    fn undocumented_units_are_refused_naming_the_allowed_ones() {
        // "1month" was accepted (humantime) though the docs list ns…h only.
        for t in ["1month", "2weeks", "1d", "3sec", "5min", "1y"] {
            let e = parse_duration(t).unwrap_err();
            assert!(
                e.contains("unknown unit") && e.contains("ns, us (or µs), ms, s, m, h"),
                "{t}: {e}"
            );
        }
        assert!((parse_duration("1h30m").unwrap() - 5400.0).abs() < 1e-9);
        assert!((parse_duration("2.5 ms").unwrap() - 0.0025).abs() < 1e-15);
        assert_eq!(parse_duration("-5s").unwrap(), -5.0);
        assert!(parse_duration("").is_err() && parse_duration("5s 3").is_err());
    }
}
