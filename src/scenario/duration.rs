//! The one duration parser of the scenario contract: a number is seconds, a string carries
//! a unit (`"250ms"`, `"2s"`, `"5m"`, `"1h"`, `"750us"`, `"100ns"`, also `"1m 30s"`),
//! parsed by `humantime`.

use serde::de::{self, Deserializer, Visitor};
use std::fmt;

/// A duration as written in a scenario file, already converted to seconds.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Seconds(pub f64);

/// Parses a duration string with a unit into seconds.
pub fn parse_duration(text: &str) -> Result<f64, String> {
    let t = text.trim();
    if let Ok(v) = t.parse::<f64>() {
        return Err(format!(
            "\"{text}\" has no unit: write {v} (a number, seconds) or add a unit such as \"{v}s\" or \"{v}ms\""
        ));
    }
    // humantime wants integers per unit; accept decimals like "0.5s" or "2.5ms" ourselves.
    if let Some(split) = t.find(|c: char| c.is_ascii_alphabetic()) {
        let (num, unit) = t.split_at(split);
        if let Ok(v) = num.trim().parse::<f64>() {
            let scale = match unit.trim() {
                "ns" => Some(1e-9),
                "us" | "µs" => Some(1e-6),
                "ms" => Some(1e-3),
                "s" | "sec" => Some(1.0),
                "m" | "min" => Some(60.0),
                "h" => Some(3600.0),
                "d" => Some(86400.0),
                _ => None,
            };
            if let Some(scale) = scale {
                return Ok(v * scale);
            }
        }
    }
    humantime::parse_duration(t).map(|d| d.as_secs_f64()).map_err(|e| {
        format!("\"{text}\" is not a duration ({e}); write seconds as a number or e.g. \"250ms\", \"2s\", \"5m\", \"1h\"")
    })
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
}
