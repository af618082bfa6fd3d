//! Kafka-style topics in the scenario file: `[[topics]]`, producers with `topic` and
//! `keys`, consumer groups with `topic`, `assignment`, `max_poll_records` and
//! `rebalance_pause`. Validation into [`Topic`]s, each holding its producers and groups;
//! the partition of every key is computed here once, by the messaging core's partitioner.

use super::raw::{RawArrival, RawAssignment, RawConsumer, RawKeys, RawScenario};
use super::{Checker, Crash, MAX_NAME_BYTES, suggest, too_long};
use crate::dist::Dist;
use crate::mq::log::{Assignor, GroupConfig, key_partitions};
use std::sync::Arc;

/// Most keys a producer may draw from (the key → partition table is computed at load).
pub const MAX_KEYS: i64 = 10_000_000;

/// Most partitions a topic may have.
pub const MAX_PARTITIONS: i64 = 100_000;

/// How a topic producer picks its records' keys.
#[derive(Debug, Clone, PartialEq)]
pub enum Keys {
    /// No key: round-robin over the partitions.
    None,
    /// `key-0` … `key-(count−1)`, equally likely.
    Uniform {
        /// Number of keys.
        count: u64,
    },
    /// Zipf: key-i with probability ∝ 1/(i+1)^exponent (key-0 the most frequent).
    Zipf {
        /// Number of keys.
        count: u64,
        /// Zipf exponent (> 0).
        exponent: f64,
    },
}

/// A producer publishing to a topic.
#[derive(Debug, Clone)]
pub struct TopicProducer {
    /// Name.
    pub name: String,
    /// Its index among the file's `[[producers]]` (its random streams' index).
    pub file_index: usize,
    /// Time between publishes.
    pub arrival: Dist,
    /// Key distribution.
    pub keys: Keys,
    /// Partition of each key (empty without keys), by Kafka's default partitioner.
    pub key_partition: Arc<Vec<u32>>,
}

impl TopicProducer {
    /// Probability that a record goes to each partition (`partitions` entries): from the
    /// key distribution and the actual key → partition map; without keys, 1/P each.
    pub fn partition_shares(&self, partitions: u32) -> Vec<f64> {
        let p = partitions as usize;
        let mut shares = vec![0.0; p];
        match self.keys {
            Keys::None => shares.iter_mut().for_each(|s| *s = 1.0 / p as f64),
            Keys::Uniform { count } => {
                for &k in self.key_partition.iter() {
                    shares[k as usize] += 1.0 / count as f64;
                }
            }
            Keys::Zipf { count, exponent } => {
                let weights: Vec<f64> = (1..=count).map(|i| (i as f64).powf(-exponent)).collect();
                let total: f64 = weights.iter().sum();
                for (&k, w) in self.key_partition.iter().zip(&weights) {
                    shares[k as usize] += w / total;
                }
            }
        }
        shares
    }
}

/// A consumer group subscribed to a topic.
#[derive(Debug, Clone)]
pub struct TopicGroup {
    /// Name.
    pub name: String,
    /// Its index among the file's `[[consumers]]` (its random streams' index).
    pub file_index: usize,
    /// Consumers.
    pub count: u32,
    /// Assignment strategy.
    pub assignor: Assignor,
    /// Most records per poll.
    pub max_poll_records: u32,
    /// Service time per record.
    pub service: Dist,
    /// Crashes and restarts of each consumer.
    pub crash: Option<Crash>,
    /// How long a rebalance stops the group (eager) or the moved partitions (cooperative).
    pub rebalance_pause: f64,
}

impl TopicGroup {
    /// The messaging core's configuration of the group.
    pub fn core_config(&self) -> GroupConfig {
        GroupConfig {
            count: self.count,
            assignor: self.assignor,
            max_poll_records: self.max_poll_records,
            rebalance_pause: self.rebalance_pause,
        }
    }
}

/// A Kafka-style topic.
#[derive(Debug, Clone)]
pub struct Topic {
    /// Name.
    pub name: String,
    /// Partitions (at least 1).
    pub partitions: u32,
    /// Producers publishing to it, in file order.
    pub producers: Vec<TopicProducer>,
    /// Groups subscribed to it, in file order.
    pub groups: Vec<TopicGroup>,
}

impl Topic {
    /// Records per second to each partition, from every producer's rate and key map.
    pub fn partition_rates(&self) -> Vec<f64> {
        let mut rates = vec![0.0; self.partitions as usize];
        for p in &self.producers {
            let rate = 1.0 / p.arrival.mean();
            for (r, s) in rates.iter_mut().zip(p.partition_shares(self.partitions)) {
                *r += rate * s;
            }
        }
        rates
    }
}

/// Refuses topic-only fields on a queue's consumer group (at `path`).
pub(super) fn refuse_topic_fields(c: &mut Checker, path: &str, g: &RawConsumer) {
    for (field, given) in [
        ("assignment", g.assignment.is_some()),
        ("max_poll_records", g.max_poll_records.is_some()),
        ("rebalance_pause", g.rebalance_pause.is_some()),
    ] {
        if given {
            c.err(format!("{path}.{field}"), "applies to a topic's group only (give `topic`)");
        }
    }
}

/// Resolves `[[topics]]` with the producers and groups that name one. Reports every
/// problem into `c`; the result is only used when there is none.
pub(super) fn resolve(c: &mut Checker, raw: &RawScenario) -> Vec<Topic> {
    let mut topics: Vec<Topic> = Vec::new();
    for (ti, t) in raw.topics.iter().enumerate() {
        let partitions = if (1..=MAX_PARTITIONS).contains(&t.partitions) {
            t.partitions as u32
        } else {
            c.err(
                format!("topics[{ti}].partitions"),
                format!("must be an integer from 1 to {MAX_PARTITIONS}, got {}", t.partitions),
            );
            1
        };
        topics.push(Topic {
            name: t.name.clone(),
            partitions,
            producers: Vec::new(),
            groups: Vec::new(),
        });
    }
    let names = || raw.topics.iter().map(|t| t.name.as_str());
    let find = |c: &mut Checker, path: String, name: &str| {
        let found = raw.topics.iter().position(|t| t.name == name);
        if found.is_none() {
            c.err(path, format!("no topic named \"{name}\"{}", suggest(names())));
        }
        found
    };
    for (pi, p) in raw.producers.iter().enumerate() {
        let Some(topic) = &p.topic else { continue };
        let path = format!("producers[{pi}]");
        if topic.len() > MAX_NAME_BYTES {
            c.err(format!("{path}.topic"), too_long(topic));
            continue;
        }
        let ti = find(c, format!("{path}.topic"), topic);
        for (field, given) in [
            ("exchange", !p.exchange.is_empty()),
            ("routing_key", p.routing_key.is_some()),
            ("routing_keys", p.routing_keys.is_some()),
            ("batch", p.batch.is_some()),
            ("ttl", p.ttl.is_some()),
            ("priority", p.priority.is_some()),
            ("publish_delay", p.publish_delay.is_some()),
        ] {
            if given {
                c.err(
                    format!("{path}.{field}"),
                    "does not apply to a topic's producer (records go to `topic`)",
                );
            }
        }
        let arrival = match &p.arrival {
            RawArrival::Renewal(d) => c.dist(&format!("{path}.arrival"), d),
            RawArrival::Process(_) => {
                c.err(
                    format!("{path}.arrival"),
                    "a topic's producer takes a renewal arrival ({ dist = \"exponential\", rate = … }); arrival processes are for queues' producers",
                );
                None
            }
        };
        let keys = match &p.keys {
            None => {
                c.err(
                    &path,
                    "a topic's producer needs `keys`: { dist = \"uniform\", count = N }, { dist = \"zipf\", count = N, exponent = s } or { dist = \"none\" }",
                );
                None
            }
            Some(RawKeys::None) => Some(Keys::None),
            Some(RawKeys::Uniform { count }) => {
                key_count(c, &path, *count).map(|count| Keys::Uniform { count })
            }
            Some(RawKeys::Zipf { count, exponent }) => {
                let count = key_count(c, &path, *count);
                if !(exponent.is_finite() && *exponent > 0.0) {
                    c.err(
                        format!("{path}.keys.exponent"),
                        format!("must be a number > 0, got {}", crate::dist::fmt_num(*exponent)),
                    );
                    None
                } else {
                    count.map(|count| Keys::Zipf { count, exponent: *exponent })
                }
            }
        };
        if let (Some(ti), Some(arrival), Some(keys)) = (ti, arrival, keys) {
            let partitions = topics[ti].partitions;
            let key_partition = match keys {
                Keys::None => Vec::new(),
                Keys::Uniform { count } | Keys::Zipf { count, .. } => {
                    key_partitions(count, partitions)
                }
            };
            topics[ti].producers.push(TopicProducer {
                name: p.name.clone(),
                file_index: pi,
                arrival,
                keys,
                key_partition: Arc::new(key_partition),
            });
        }
    }
    for (gi, g) in raw.consumers.iter().enumerate() {
        let Some(topic) = &g.topic else { continue };
        let path = format!("consumers[{gi}]");
        let ti = find(c, format!("{path}.topic"), topic);
        for (field, given) in [
            ("queue", g.queue.is_some()),
            ("prefetch", g.prefetch.is_some()),
            ("ack", g.ack.is_some()),
            ("then", g.then.is_some()),
            ("failure", g.failure.is_some()),
        ] {
            if given {
                c.err(
                    format!("{path}.{field}"),
                    "does not apply to a topic's consumer group (it reads `topic`)",
                );
            }
        }
        let count = super::consumer_count(c, &format!("{path}.count"), g.count);
        let max_poll_records = match g.max_poll_records {
            None => Some(500),
            Some(m) if (1..=i64::from(u32::MAX)).contains(&m) => Some(m as u32),
            Some(m) => {
                c.err(
                    format!("{path}.max_poll_records"),
                    format!("must be an integer >= 1, got {m}"),
                );
                None
            }
        };
        let rebalance_pause = match g.rebalance_pause {
            None => 0.0,
            Some(s) if s.0.is_finite() && s.0 >= 0.0 => s.0,
            Some(s) => {
                c.err(
                    format!("{path}.rebalance_pause"),
                    format!("must be a duration >= 0, got {} s", crate::dist::fmt_num(s.0)),
                );
                0.0
            }
        };
        let service = c.dist(&format!("{path}.service"), &g.service);
        let crash = match &g.crash {
            None => Some(None),
            Some(cr) => {
                let every = c.dist(&format!("{path}.crash.every"), &cr.every);
                let restart = c.dist(&format!("{path}.crash.restart"), &cr.restart);
                if let Some(e) = &every
                    && e.mean() <= 0.0
                {
                    c.err(
                        format!("{path}.crash.every"),
                        "must have a mean > 0 (up time between crashes)",
                    );
                }
                every.zip(restart).map(|(every, restart)| Some(Crash { every, restart }))
            }
        };
        let assignor = match g.assignment {
            None | Some(RawAssignment::Range) => Assignor::Range,
            Some(RawAssignment::RoundRobin) => Assignor::RoundRobin,
            Some(RawAssignment::CooperativeSticky) => Assignor::CooperativeSticky,
        };
        if let (Some(ti), Some(count), Some(max_poll_records), Some(service), Some(crash)) =
            (ti, count, max_poll_records, service, crash)
        {
            topics[ti].groups.push(TopicGroup {
                name: g.name.clone(),
                file_index: gi,
                count,
                assignor,
                max_poll_records,
                service,
                crash,
                rebalance_pause,
            });
        }
    }
    topics
}

fn key_count(c: &mut Checker, path: &str, count: i64) -> Option<u64> {
    if (1..=MAX_KEYS).contains(&count) {
        Some(count as u64)
    } else {
        c.err(
            format!("{path}.keys.count"),
            format!("must be an integer from 1 to {MAX_KEYS}, got {count}"),
        );
        None
    }
}

#[cfg(test)]
mod tests {
    use crate::mq::log::Assignor;
    use crate::scenario::{Keys, Model};

    /// The contract's example (shared/spec/scenario.md, "Kafka-style topics"), as written.
    const CONTRACT: &str = r#"
[simulation]
horizon = "1h"

[[topics]]
name = "clicks"
partitions = 12

[[producers]]
name = "web"
topic = "clicks"                                       # instead of exchange / routing_key
keys = { dist = "uniform", count = 100000 }            # or { dist = "zipf", count = 10000, exponent = 1.1 },
                                                       # or { dist = "none" } (no key: round-robin over partitions)
arrival = { dist = "exponential", rate = 500.0 }

[[consumers]]
name = "analytics"
topic = "clicks"                                       # instead of queue: a consumer group on the topic
count = 8
assignment = "range"                                   # range (Kafka's default) | round-robin | cooperative-sticky
max_poll_records = 500                                 # a poll takes up to this many records from the consumer's partitions
service = { dist = "exponential", mean = "5ms" }       # per record
rebalance_pause = "3s"                                 # with `crash`: how long the group stops while it rebalances
"#;

    #[test]
    fn the_contract_example_parses() {
        let m = Model::from_toml(CONTRACT, "t.toml").unwrap();
        assert!(m.queues.is_empty() && m.producers.is_empty() && m.groups.is_empty());
        let t = &m.topics[0];
        assert_eq!((t.name.as_str(), t.partitions), ("clicks", 12));
        assert_eq!(t.producers[0].keys, Keys::Uniform { count: 100_000 });
        assert_eq!(t.producers[0].key_partition.len(), 100_000);
        let g = &t.groups[0];
        assert_eq!((g.count, g.assignor, g.max_poll_records), (8, Assignor::Range, 500));
        assert_eq!(g.rebalance_pause, 3.0);
        let rates = t.partition_rates();
        assert!((rates.iter().sum::<f64>() - 500.0).abs() < 1e-6);
        for other in [r#"{ dist = "zipf", count = 10000, exponent = 1.1 }"#, r#"{ dist = "none" }"#]
        {
            let text = CONTRACT.replace(r#"{ dist = "uniform", count = 100000 }"#, other);
            let m = Model::from_toml(&text, "t.toml").unwrap();
            let rates = m.topics[0].partition_rates();
            assert!((rates.iter().sum::<f64>() - 500.0).abs() < 1e-6);
        }
    }

    fn problems(text: &str) -> Vec<String> {
        let e = Model::from_toml(text, "t.toml").unwrap_err();
        e.problems.iter().map(|p| format!("{}: {}", p.path, p.message)).collect()
    }

    #[test]
    fn mistakes_name_their_field() {
        let cases = [
            ("partitions = 12", "partitions = 0", "topics[0].partitions"),
            (
                "topic = \"clicks\"                                       # instead of exchange",
                "topic = \"clocks\" #",
                "producers[0].topic",
            ),
            ("count = 100000 }", "count = 0 }", "producers[0].keys.count"),
            ("assignment = \"range\"", "assignment = \"sticky\"", "consumers[0].assignment"),
            ("max_poll_records = 500", "max_poll_records = 0", "consumers[0].max_poll_records"),
            (
                "rebalance_pause = \"3s\"",
                "rebalance_pause = \"3s\"\nprefetch = 1",
                "consumers[0].prefetch",
            ),
            ("name = \"web\"", "name = \"web\"\nrouting_key = \"x\"", "producers[0].routing_key"),
            ("keys = { dist = \"uniform\", count = 100000 }", "", "producers[0]"),
            (
                "name = \"web\"",
                "name = \"web\"\nbatch = { dist = \"constant\", value = 2 }",
                "producers[0].batch",
            ),
            (
                "name = \"web\"",
                "name = \"web\"\npublish_delay = \"1ms\"",
                "producers[0].publish_delay",
            ),
            (
                "arrival = { dist = \"exponential\", rate = 500.0 }",
                "arrival = { process = \"sinusoid\", mean_rate = 500, amplitude = 0.5, period = \"1h\" }",
                "producers[0].arrival",
            ),
        ];
        for (from, to, path) in cases {
            assert!(CONTRACT.contains(from), "{from}");
            let p = problems(&CONTRACT.replacen(from, to, 1));
            assert!(p.iter().any(|p| p.starts_with(&format!("{path}:"))), "{path}: {p:?}");
        }
        let p = problems(&CONTRACT.replace(
            "topic = \"clicks\"                                       # instead of queue",
            "queue = \"q\" #",
        ));
        assert!(p.iter().any(|p| p.starts_with("consumers[0].queue:")), "{p:?}");
        let p = problems(&CONTRACT.replace(
            "topic = \"clicks\"                                       # instead of queue",
            "#",
        ));
        assert!(p.iter().any(|p| p.starts_with("consumers[0]:") && p.contains("`topic`")), "{p:?}");
    }
}
