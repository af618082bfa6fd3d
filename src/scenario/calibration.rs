//! A calibration fragment (`mqsim calibrate --out FILE`, applied by `run`, `analyze` and
//! `compare --calibration FILE`): what a live server adds to every message, measured in
//! real time, and how the model takes it on. Parsing and applying only; measuring is
//! `rabbitmq::calibrate`'s.
//!
//! Applied (docs/scenario.md, "Calibration"), the calibration's real seconds turned into
//! the scenario's at the scenario's `[loadtest] time_scale`: every consumer group's
//! `network_delay` grows by `network_delay / time_scale` (paid on the delivery and on the
//! ack, so a prefetch credit's loop costs the measured round trip) and every producer's
//! `publish_delay` by `broker_overhead / time_scale` (the publish path, which holds no
//! credit), so at low load a message reaches its consumer as late as the server delivered
//! it. `max_rate` is a capacity check (a note when a queue is offered more, in real
//! messages per second), not a model term.

use super::{Model, Problem, ScenarioError, parse_duration};
use serde::Deserialize;

/// The fragment's figures, real seconds.
#[derive(Debug, Clone, PartialEq)]
pub struct Calibration {
    /// One way broker ↔ consumer: half the measured ack round trip.
    pub network_delay: f64,
    /// Per message, per queue: the mean publish → deliver latency at low load, less
    /// `network_delay` (the publish path and the queue's own work).
    pub broker_overhead: f64,
    /// Messages per second one queue sustained with a consumer doing no work.
    pub max_rate: Option<f64>,
    /// `[calibration.quorum]`: (network_delay, broker_overhead) measured on a quorum
    /// queue, for the scenario's queues declared as one (those with `delivery_limit`).
    pub quorum: Option<(f64, f64)>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFile {
    calibration: RawCalibration,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawCalibration {
    #[serde(default)]
    server: Option<String>,
    network_delay: String,
    broker_overhead: String,
    #[serde(default)]
    max_rate: Option<f64>,
    #[serde(default)]
    quorum: Option<RawQuorum>,
    /// The raw measurements, kept for the record; not applied.
    #[serde(default)]
    #[allow(dead_code)]
    measured: Option<toml::Table>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawQuorum {
    network_delay: String,
    broker_overhead: String,
}

impl Calibration {
    /// Parses a fragment; `origin` names the file in errors.
    pub fn from_toml(text: &str, origin: &str) -> Result<Calibration, ScenarioError> {
        let err = |path: &str, message: String| ScenarioError {
            origin: origin.to_string(),
            problems: vec![Problem { path: path.into(), line: None, message }],
        };
        let raw: RawFile = toml::from_str(text).map_err(|e| err("", e.message().to_string()))?;
        let c = raw.calibration;
        let _ = c.server;
        let dur = |path: &str, s: &str| -> Result<f64, ScenarioError> {
            let v = parse_duration(s).map_err(|m| err(path, m))?;
            if (0.0..1.0).contains(&v) {
                Ok(v)
            } else {
                Err(err(path, format!("{s} is not a delay between 0 and 1 s")))
            }
        };
        let network_delay = dur("calibration.network_delay", &c.network_delay)?;
        let broker_overhead = dur("calibration.broker_overhead", &c.broker_overhead)?;
        if let Some(r) = c.max_rate
            && !(r.is_finite() && r > 0.0)
        {
            return Err(err("calibration.max_rate", format!("must be > 0 msgs/s, got {r}")));
        }
        let quorum = match &c.quorum {
            None => None,
            Some(q) => Some((
                dur("calibration.quorum.network_delay", &q.network_delay)?,
                dur("calibration.quorum.broker_overhead", &q.broker_overhead)?,
            )),
        };
        Ok(Calibration { network_delay, broker_overhead, max_rate: c.max_rate, quorum })
    }

    /// Applies the calibration to `model` (see the module docs) and returns notes on what
    /// it did and where the model is beyond what the server sustained. A group with
    /// `crash` cannot take a `network_delay`: an error naming it.
    pub fn apply(&self, model: &mut Model) -> Result<Vec<String>, String> {
        let scale = model.loadtest.time_scale;
        let add = self.network_delay / scale;
        let publish = self.broker_overhead / scale;
        let quorum_q: Vec<bool> = model.queues.iter().map(|q| q.is_quorum()).collect();
        let figures = |quorum: bool| match self.quorum {
            Some((nd, bo)) if quorum => (nd / scale, bo / scale),
            _ => (add, publish),
        };
        let mut notes = Vec::new();
        for g in &mut model.groups {
            if g.crash.is_some() {
                return Err(format!(
                    "consumer group \"{}\" has `crash`, which cannot be combined with the calibration's network_delay",
                    g.name
                ));
            }
            g.network_delay += figures(quorum_q[g.queue]).0;
        }
        for p in &mut model.producers {
            // A producer reaching a quorum queue pays its publish path (the replicated log).
            p.publish_delay += figures(p.routes.iter().any(|&q| quorum_q[q])).1;
        }
        notes.push(format!(
            "calibration: every consumer group's network_delay + {} and every producer's publish_delay + {} (scenario time: {} and {} real at time_scale {scale})",
            crate::dist::fmt_secs(add),
            crate::dist::fmt_secs(publish),
            crate::dist::fmt_secs(self.network_delay),
            crate::dist::fmt_secs(self.broker_overhead)
        ));
        if let Some((nd, bo)) = self.quorum
            && quorum_q.iter().any(|&q| q)
        {
            notes.push(format!(
                "calibration: quorum queues (delivery_limit) and the producers reaching them take [calibration.quorum]'s figures: network_delay + {}, publish_delay + {}",
                crate::dist::fmt_secs(nd / scale),
                crate::dist::fmt_secs(bo / scale)
            ));
        }
        if let Some(max) = self.max_rate {
            let theory = crate::analytic::analyze(model);
            for q in &theory.queues {
                let Some(rate) = q.offered_rate else { continue };
                let real = rate / scale;
                if real > max {
                    notes.push(format!(
                        "queue \"{}\": offered {real:.0} msgs/s of real time, above the {max:.0} msgs/s one queue sustained when calibrated; the model does not limit it",
                        q.name
                    ));
                }
            }
        }
        Ok(notes)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const FRAGMENT: &str = r#"
[calibration]
server = "RabbitMQ 3.10.8"
network_delay = "200us"
broker_overhead = "300us"
max_rate = 1000
[calibration.measured]
publish_deliver = { mean = 5e-4, p50 = 4e-4, p99 = 2e-3, samples = 400 }
"#;

    const MODEL: &str = r#"
name = "cal"
[simulation]
horizon = "1h"
[loadtest]
time_scale = 0.05
[[producers]]
name = "p"
routing_key = "q"
arrival = { dist = "exponential", rate = 8.0 }
[[queues]]
name = "q"
[[consumers]]
name = "a"
queue = "q"
count = 1
prefetch = 1
service = { dist = "exponential", mean = "100ms" }
network_delay = "1ms"
[[consumers]]
name = "b"
queue = "q"
count = 1
prefetch = 1
service = { dist = "exponential", mean = "100ms" }
network_delay = "1ms"
"#;

    #[test]
    fn the_fragment_parses_and_refuses_unknown_fields_by_path() {
        let c = Calibration::from_toml(FRAGMENT, "cal.toml").unwrap();
        assert!((c.network_delay - 200e-6).abs() < 1e-12);
        assert!((c.broker_overhead - 300e-6).abs() < 1e-12);
        assert_eq!(c.max_rate, Some(1000.0));
        let e = Calibration::from_toml(&FRAGMENT.replace("max_rate", "max_rat"), "cal.toml")
            .unwrap_err();
        assert!(e.to_string().contains("cal.toml"), "{e}");
        let e = Calibration::from_toml(&FRAGMENT.replace("\"200us\"", "\"-1ms\""), "cal.toml")
            .unwrap_err();
        assert_eq!(e.problems[0].path, "calibration.network_delay", "{e:?}");
    }

    #[test]
    fn applying_adds_the_scaled_delay_to_every_group_and_moves_the_theory() {
        let c = Calibration::from_toml(FRAGMENT, "cal.toml").unwrap();
        let mut m = Model::from_toml(MODEL, "m.toml").unwrap();
        let before = crate::analytic::analyze(&m).queues[0].sojourn_s.mean.unwrap();
        let notes = c.apply(&mut m).unwrap();
        // 0.2 ms of real time at time_scale 0.05 is 4 ms of scenario time, on top of 1 ms;
        // the 0.3 ms overhead is 6 ms of publish delay.
        for g in &m.groups {
            assert!((g.network_delay - 0.005).abs() < 1e-12, "{}", g.network_delay);
        }
        assert!((m.producers[0].publish_delay - 0.006).abs() < 1e-12);
        // 8 msgs/s of scenario time is 160 of real time: below max_rate, one note only.
        assert_eq!(notes.len(), 1, "{notes:?}");
        // Prefetch 1: each credit's loop grows by 2 × 4 ms, so the sojourn grows by more
        // than the 4 + 6 ms of transit alone.
        let after = crate::analytic::analyze(&m).queues[0].sojourn_s.mean.unwrap();
        assert!(after > before + 0.010, "{before} -> {after}");
        // A queue offered more than the server sustained gets a note.
        let slow = Calibration { max_rate: Some(100.0), ..c };
        let mut m = Model::from_toml(MODEL, "m.toml").unwrap();
        let notes = slow.apply(&mut m).unwrap();
        assert!(notes.iter().any(|n| n.contains("queue \"q\"")), "{notes:?}");
    }

    #[test]
    fn quorum_queues_and_their_producers_take_the_quorum_figures() {
        let text = FRAGMENT.replace(
            "[calibration.measured]",
            "[calibration.quorum]\nnetwork_delay = \"1ms\"\nbroker_overhead = \"2ms\"\n[calibration.measured]",
        );
        let c = Calibration::from_toml(&text, "cal.toml").unwrap();
        assert_eq!(c.quorum, Some((0.001, 0.002)));
        let model = MODEL.replace(
            "[[queues]]\nname = \"q\"\n",
            "[[queues]]\nname = \"q\"\ndelivery_limit = 3\n",
        );
        let mut m = Model::from_toml(&model, "m.toml").unwrap();
        let notes = c.apply(&mut m).unwrap();
        // 1 ms and 2 ms real at time_scale 0.05: 20 ms and 40 ms of scenario time.
        for g in &m.groups {
            assert!((g.network_delay - 0.021).abs() < 1e-12, "{}", g.network_delay);
        }
        assert!((m.producers[0].publish_delay - 0.040).abs() < 1e-12);
        assert!(notes.iter().any(|n| n.contains("quorum")), "{notes:?}");
        // A classic queue keeps the classic figures.
        let mut m = Model::from_toml(MODEL, "m.toml").unwrap();
        c.apply(&mut m).unwrap();
        assert!((m.groups[0].network_delay - 0.005).abs() < 1e-12);
        let e = Calibration::from_toml(
            &text.replace("broker_overhead = \"2ms\"", "overhead = \"2ms\""),
            "cal.toml",
        )
        .unwrap_err();
        assert!(e.to_string().contains("cal.toml"), "{e}");
    }
}
