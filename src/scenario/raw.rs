//! Serde types mirroring the scenario file exactly as written (`deny_unknown_fields`
//! everywhere), before validation. Field names are the contract's.

use super::duration::Seconds;
use crate::routing::ExchangeKind;
use serde::Deserialize;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawScenario {
    pub name: Option<String>,
    pub description: Option<String>,
    pub simulation: RawSimulation,
    #[serde(default)]
    pub producers: Vec<RawProducer>,
    #[serde(default)]
    pub exchanges: Vec<RawExchange>,
    #[serde(default)]
    pub queues: Vec<RawQueue>,
    #[serde(default)]
    pub consumers: Vec<RawConsumer>,
    pub loadtest: Option<RawLoadtest>,
    #[serde(default)]
    pub topics: Vec<RawTopic>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawSimulation {
    pub horizon: Seconds,
    pub warmup: Option<RawWarmup>,
    pub replications: Option<i64>,
    #[serde(default, deserialize_with = "seed")]
    pub seed: Option<u64>,
    pub window: Option<Seconds>,
    pub precision: Option<f64>,
    pub max_replications: Option<i64>,
}

/// A seed is any integer 0 … 2⁶⁴ − 1. TOML integers stop at 2⁶³ − 1, so a larger seed (as
/// `--seed` accepts) may be written as a string of digits; `--set simulation.seed=…` passes
/// it that way. A float is refused rather than rounded.
fn seed<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<u64>, D::Error> {
    struct V;
    impl serde::de::Visitor<'_> for V {
        type Value = Option<u64>;
        fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
            f.write_str("an integer from 0 to 18446744073709551615")
        }
        fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<Self::Value, E> {
            u64::try_from(v).map(Some).map_err(|_| {
                E::custom(format!("must be an integer from 0 to 18446744073709551615, got {v}"))
            })
        }
        fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<Self::Value, E> {
            Ok(Some(v))
        }
        fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<Self::Value, E> {
            v.trim().parse::<u64>().map(Some).map_err(|_| {
                E::custom(format!("must be an integer from 0 to 18446744073709551615, got \"{v}\""))
            })
        }
    }
    d.deserialize_any(V)
}

/// `warmup` is a duration or the word `"auto"`.
#[derive(Debug)]
pub enum RawWarmup {
    Fixed(Seconds),
    Auto,
}

impl<'de> Deserialize<'de> for RawWarmup {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl serde::de::Visitor<'_> for V {
            type Value = RawWarmup;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a duration or \"auto\"")
            }
            fn visit_f64<E: serde::de::Error>(self, v: f64) -> Result<RawWarmup, E> {
                Ok(RawWarmup::Fixed(Seconds(v)))
            }
            fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<RawWarmup, E> {
                Ok(RawWarmup::Fixed(Seconds(v as f64)))
            }
            fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<RawWarmup, E> {
                Ok(RawWarmup::Fixed(Seconds(v as f64)))
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<RawWarmup, E> {
                if v.trim() == "auto" {
                    Ok(RawWarmup::Auto)
                } else {
                    super::duration::parse_duration(v)
                        .map(|s| RawWarmup::Fixed(Seconds(s)))
                        .map_err(E::custom)
                }
            }
        }
        d.deserialize_any(V)
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawProducer {
    pub name: String,
    #[serde(default)]
    pub exchange: String,
    pub routing_key: Option<String>,
    pub routing_keys: Option<Vec<RawWeightedKey>>,
    pub arrival: RawArrival,
    pub batch: Option<RawDist>,
    pub ttl: Option<Seconds>,
    pub priority: Option<RawPriority>,
    /// One way, producer → broker: each message enters its queues this long after it was
    /// published.
    pub publish_delay: Option<Seconds>,
    /// Kafka-style topics: the topic published to, instead of exchange / routing key.
    pub topic: Option<String>,
    /// Kafka-style topics: the key distribution of the records.
    pub keys: Option<RawKeys>,
}

/// One of `routing_keys = [{ key = "order.eu", weight = 3 }, …]`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawWeightedKey {
    pub key: String,
    pub weight: f64,
}

/// `arrival`: a distribution of gaps (a renewal process, `{ dist = … }`) or a process
/// (`{ process = … }`). Told apart by the tag present, so each form's errors are its own.
#[derive(Debug)]
pub enum RawArrival {
    Renewal(RawDist),
    Process(RawProcess),
}

impl<'de> Deserialize<'de> for RawArrival {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        use serde::de::Error;
        let v = toml::Value::deserialize(d)?;
        let is_process = v.as_table().is_some_and(|t| t.contains_key("process"));
        if is_process {
            RawProcess::deserialize(v)
                .map(RawArrival::Process)
                .map_err(|e| D::Error::custom(e.message()))
        } else {
            RawDist::deserialize(v)
                .map(RawArrival::Renewal)
                .map_err(|e| D::Error::custom(e.message()))
        }
    }
}

/// An arrival process as written: `{ process = "…", … }`.
#[derive(Debug, Deserialize)]
#[serde(tag = "process", rename_all = "lowercase", deny_unknown_fields)]
pub enum RawProcess {
    Schedule { period: Seconds, rates: Vec<RawRatePoint> },
    Sinusoid { mean_rate: f64, amplitude: f64, period: Seconds },
    Mmpp { states: Vec<RawMmppState> },
    Trace { file: String },
}

/// One piece of a `schedule`: `{ at = "8h", rate = 60 }`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawRatePoint {
    pub at: Seconds,
    pub rate: f64,
}

/// One state of an `mmpp`: `{ rate = 14, mean_duration = "20s" }`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawMmppState {
    pub rate: f64,
    pub mean_duration: Seconds,
}

/// `priority = 5` or `priority = { values = [9, 1], weights = [0.25, 0.75] }`.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
pub enum RawPriority {
    Fixed(i64),
    Weighted(RawWeighted),
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawWeighted {
    pub values: Vec<i64>,
    pub weights: Vec<f64>,
}

/// A distribution as written: `{ dist = "…", … }`.
#[derive(Debug, Deserialize)]
#[serde(tag = "dist", rename_all = "lowercase", deny_unknown_fields)]
pub enum RawDist {
    Exponential {
        mean: Option<Seconds>,
        rate: Option<f64>,
    },
    Constant {
        value: Seconds,
    },
    Uniform {
        min: Seconds,
        max: Seconds,
    },
    Erlang {
        k: i64,
        mean: Seconds,
    },
    Gamma {
        shape: f64,
        mean: Seconds,
    },
    Lognormal {
        mean: Seconds,
        cv: f64,
    },
    Weibull {
        shape: f64,
        mean: Seconds,
    },
    Pareto {
        shape: f64,
        mean: Seconds,
    },
    Hyperexponential {
        mean: Seconds,
        cv: f64,
    },
    /// Observations read from a file (an mqsim extension).
    Empirical {
        file: String,
    },
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawExchange {
    pub name: String,
    #[serde(rename = "type")]
    pub kind: ExchangeKind,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawBinding {
    pub exchange: String,
    #[serde(default)]
    pub key: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawQueue {
    pub name: String,
    #[serde(default)]
    pub bindings: Vec<RawBinding>,
    pub max_length: Option<i64>,
    pub overflow: Option<RawOverflow>,
    pub message_ttl: Option<Seconds>,
    pub dead_letter_exchange: Option<String>,
    pub dead_letter_routing_key: Option<String>,
    pub delivery_limit_routing_key: Option<String>,
    pub max_priority: Option<i64>,
    pub delivery_limit: Option<i64>,
    pub initial_messages: Option<i64>,
}

#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum RawOverflow {
    DropHead,
    RejectPublish,
    RejectPublishDlx,
}

#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RawAck {
    Manual,
    Auto,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawThen {
    #[serde(default)]
    pub exchange: String,
    #[serde(default)]
    pub routing_key: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawConsumer {
    pub name: String,
    /// A queue's group; absent for a topic's group.
    pub queue: Option<String>,
    pub count: i64,
    pub prefetch: Option<i64>,
    pub ack: Option<RawAck>,
    pub service: RawDist,
    pub then: Option<RawThen>,
    pub failure: Option<RawFailure>,
    pub crash: Option<RawCrash>,
    pub network_delay: Option<Seconds>,
    /// Kafka-style topics: the topic the group subscribes to, instead of a queue.
    pub topic: Option<String>,
    /// Kafka-style topics: the partition assignment strategy.
    pub assignment: Option<RawAssignment>,
    /// Kafka-style topics: most records per poll.
    pub max_poll_records: Option<i64>,
    /// Kafka-style topics: how long a rebalance stops the group (or the moved partitions).
    pub rebalance_pause: Option<Seconds>,
}

#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RawFailureAction {
    Requeue,
    Reject,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawFailure {
    pub probability: f64,
    pub action: RawFailureAction,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawCrash {
    pub every: RawDist,
    pub restart: RawDist,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawLoadtest {
    pub time_scale: Option<f64>,
    pub horizon: Option<Seconds>,
    pub warmup: Option<Seconds>,
}

/// `[[topics]]`: a Kafka-style topic.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawTopic {
    pub name: String,
    pub partitions: i64,
}

/// A topic producer's keys: `{ dist = "uniform", count = 100000 }`,
/// `{ dist = "zipf", count = 10000, exponent = 1.1 }` or `{ dist = "none" }`.
#[derive(Debug, Deserialize)]
#[serde(tag = "dist", rename_all = "lowercase", deny_unknown_fields)]
pub enum RawKeys {
    Uniform { count: i64 },
    Zipf { count: i64, exponent: f64 },
    None,
}

#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum RawAssignment {
    Range,
    RoundRobin,
    CooperativeSticky,
}
