//! Exchanges, bindings and routing as AMQP 0-9-1 / RabbitMQ define them.
//!
//! This is the **one** routing implementation: the simulator resolves each publish point's
//! destination queues through it, the analytic back end uses it for the traffic equations,
//! and the real broker calls it per message.
//!
//! - `direct`: the binding key equals the routing key (a hash map: cost independent of the
//!   number of bindings).
//! - `fanout`: every bound queue, keys ignored.
//! - `topic`: keys are split on `.`; in a binding key `*` matches exactly one word and `#`
//!   zero or more words. Matching walks a trie of binding words, so non-matching bindings
//!   that diverge on the first word cost nothing.
//! - the default exchange `""`: routes to the queue whose name is the routing key.
//!
//! A message goes to every matching queue **once**, however many bindings match it. As in
//! RabbitMQ, the empty key `""` has zero words (so `#` matches it and `*` does not), and
//! `"a..b"` has three words, the middle one empty.

use std::collections::HashMap;

/// Index of a queue in the model.
pub type QueueId = usize;
/// Index of an exchange in the [`Router`]; 0 is always the default exchange.
pub type ExchangeId = usize;

/// The exchange types of the scenario contract.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ExchangeKind {
    /// The binding key must equal the routing key.
    Direct,
    /// Every bound queue receives a copy.
    Fanout,
    /// Word-wise pattern matching with `*` and `#`.
    Topic,
}

#[derive(Debug, Clone, Default)]
struct TopicNode {
    children: HashMap<String, usize>,
    star: Option<usize>,
    hash: Option<usize>,
    queues: Vec<QueueId>,
}

/// A trie over binding-key words.
#[derive(Debug, Clone)]
struct TopicTrie {
    nodes: Vec<TopicNode>,
}

impl TopicTrie {
    fn new() -> Self {
        TopicTrie { nodes: vec![TopicNode::default()] }
    }

    fn child(&mut self, node: usize, word: &str) -> usize {
        let existing = match word {
            "*" => self.nodes[node].star,
            "#" => self.nodes[node].hash,
            w => self.nodes[node].children.get(w).copied(),
        };
        if let Some(n) = existing {
            return n;
        }
        let n = self.nodes.len();
        self.nodes.push(TopicNode::default());
        match word {
            "*" => self.nodes[node].star = Some(n),
            "#" => self.nodes[node].hash = Some(n),
            w => {
                self.nodes[node].children.insert(w.to_string(), n);
            }
        }
        n
    }

    fn insert(&mut self, binding_key: &str, queue: QueueId) {
        let mut node = 0;
        for word in words(binding_key) {
            node = self.child(node, word);
        }
        if !self.nodes[node].queues.contains(&queue) {
            self.nodes[node].queues.push(queue);
        }
    }

    /// Adds to `out` the queues of every binding matching `key`. `#` may swallow any number
    /// of words, so a naive walk retries each way a run of `#`s can split the key:
    /// exponential in the number of `#` (14 `#.a` words against 28 key words took 7 s).
    /// Whatever lies below a `#` node depends only on where in the key it resumes, so each
    /// (`#` node, key position) pair is walked once: polynomial, O(nodes × words²) at worst.
    /// The memo is only allocated once a `#` is met, so keys without one pay nothing.
    fn collect(&self, key: &[&str], out: &mut Vec<QueueId>) {
        let mut seen: Option<std::collections::HashSet<(usize, usize)>> = None;
        self.walk(0, key, 0, &mut seen, out);
    }

    fn walk(
        &self,
        node: usize,
        key: &[&str],
        at: usize,
        seen: &mut Option<std::collections::HashSet<(usize, usize)>>,
        out: &mut Vec<QueueId>,
    ) {
        let n = &self.nodes[node];
        if let Some(h) = n.hash {
            // `#` swallows zero, one, … or all of the remaining words.
            for skip in at..=key.len() {
                if seen.get_or_insert_with(Default::default).insert((h, skip)) {
                    self.walk(h, key, skip, seen, out);
                }
            }
        }
        match key.get(at) {
            None => out.extend_from_slice(&n.queues),
            Some(first) => {
                if let Some(&c) = n.children.get(*first) {
                    self.walk(c, key, at + 1, seen, out);
                }
                if let Some(s) = n.star {
                    self.walk(s, key, at + 1, seen, out);
                }
            }
        }
    }
}

/// Splits a routing or binding key into words; the empty key has no words.
fn words(key: &str) -> impl Iterator<Item = &str> {
    let mut it = key.split('.');
    if key.is_empty() {
        it.next();
    }
    it
}

#[derive(Debug, Clone)]
enum Table {
    Default,
    Direct(HashMap<String, Vec<QueueId>>),
    Fanout(Vec<QueueId>),
    Topic(TopicTrie),
}

/// One exchange and its bindings.
#[derive(Debug, Clone)]
struct Exchange {
    name: String,
    table: Table,
}

/// All exchanges of a system and their bindings.
#[derive(Debug, Clone)]
pub struct Router {
    exchanges: Vec<Exchange>,
    queue_by_name: HashMap<String, QueueId>,
}

/// A binding refused by [`Router::bind`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RoutingError {
    /// Queues cannot be bound to the default exchange.
    #[error("queues cannot be bound to the default exchange \"\"; it routes by queue name")]
    BindDefault,
    /// No exchange with that id.
    #[error("no exchange with id {0}")]
    NoSuchExchange(ExchangeId),
}

impl Router {
    /// A router with only the default exchange, knowing the queue names (in id order).
    pub fn new<S: AsRef<str>>(queue_names: &[S]) -> Self {
        Router {
            exchanges: vec![Exchange { name: String::new(), table: Table::Default }],
            queue_by_name: queue_names
                .iter()
                .enumerate()
                .map(|(i, n)| (n.as_ref().to_string(), i))
                .collect(),
        }
    }

    /// Registers a queue created after the router, so the default exchange can reach it.
    pub fn add_queue(&mut self, name: &str, id: QueueId) {
        self.queue_by_name.insert(name.to_string(), id);
    }

    /// Declares an exchange and returns its id. Declaring an existing name returns that id.
    pub fn declare(&mut self, name: &str, kind: ExchangeKind) -> ExchangeId {
        if let Some(id) = self.exchange_id(name) {
            return id;
        }
        let table = match kind {
            ExchangeKind::Direct => Table::Direct(HashMap::new()),
            ExchangeKind::Fanout => Table::Fanout(Vec::new()),
            ExchangeKind::Topic => Table::Topic(TopicTrie::new()),
        };
        self.exchanges.push(Exchange { name: name.to_string(), table });
        self.exchanges.len() - 1
    }

    /// Looks an exchange up by name (`""` is the default exchange, id 0).
    pub fn exchange_id(&self, name: &str) -> Option<ExchangeId> {
        self.exchanges.iter().position(|e| e.name == name)
    }

    /// The exchange's name.
    pub fn exchange_name(&self, id: ExchangeId) -> &str {
        &self.exchanges[id].name
    }

    /// Number of exchanges, the default one included.
    pub fn exchange_count(&self) -> usize {
        self.exchanges.len()
    }

    /// Binds `queue` to `exchange` with `key`; binding the same pair twice is a no-op.
    pub fn bind(
        &mut self,
        exchange: ExchangeId,
        key: &str,
        queue: QueueId,
    ) -> Result<(), RoutingError> {
        let ex = self.exchanges.get_mut(exchange).ok_or(RoutingError::NoSuchExchange(exchange))?;
        match &mut ex.table {
            Table::Default => return Err(RoutingError::BindDefault),
            Table::Direct(map) => {
                let qs = map.entry(key.to_string()).or_default();
                if !qs.contains(&queue) {
                    qs.push(queue);
                }
            }
            Table::Fanout(qs) => {
                if !qs.contains(&queue) {
                    qs.push(queue);
                }
            }
            Table::Topic(trie) => trie.insert(key, queue),
        }
        Ok(())
    }

    /// The queues a message published to `exchange` with `routing_key` goes to, each once,
    /// in ascending id order; empty means unroutable. `out` is cleared first, so a caller on
    /// a hot path can reuse one buffer.
    pub fn route_into(&self, exchange: ExchangeId, routing_key: &str, out: &mut Vec<QueueId>) {
        out.clear();
        let Some(ex) = self.exchanges.get(exchange) else {
            return;
        };
        match &ex.table {
            Table::Default => out.extend(self.queue_by_name.get(routing_key).copied()),
            Table::Direct(map) => {
                if let Some(qs) = map.get(routing_key) {
                    out.extend_from_slice(qs);
                }
            }
            Table::Fanout(qs) => out.extend_from_slice(qs),
            Table::Topic(trie) => {
                let key: Vec<&str> = words(routing_key).collect();
                trie.collect(&key, out);
            }
        }
        out.sort_unstable();
        out.dedup();
    }

    /// Allocating convenience form of [`route_into`](Router::route_into).
    pub fn route(&self, exchange: ExchangeId, routing_key: &str) -> Vec<QueueId> {
        let mut out = Vec::new();
        self.route_into(exchange, routing_key, &mut out);
        out
    }
}

/// Does the topic binding key `pattern` match `routing_key`? A one-binding router, for
/// tests and for callers that need a yes/no answer.
pub fn topic_matches(pattern: &str, routing_key: &str) -> bool {
    let mut r = Router::new::<&str>(&[]);
    let ex = r.declare("t", ExchangeKind::Topic);
    r.bind(ex, pattern, 0).expect("topic exchange accepts bindings");
    !r.route(ex, routing_key).is_empty()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn rabbitmq_topic_edge_cases() {
        let yes = [
            ("#", ""),
            ("#", "a"),
            ("#", "a.b.c"),
            ("a.#", "a"),
            ("a.#", "a.b"),
            ("a.#", "a.b.c"),
            ("#.b", "b"),
            ("#.b", "a.b"),
            ("#.b", "x.y.b"),
            ("a.#.b", "a.b"),
            ("a.#.b", "a.x.b"),
            ("a.#.b", "a.x.y.b"),
            ("a.*", "a.b"),
            ("*.b", "a.b"),
            ("*", "a"),
            ("a.*.c", "a..c"),
            ("a..c", "a..c"),
            ("*.*", "a."),
            ("#.#", ""),
            ("a.#.#", "a"),
            ("", ""),
            ("order.*.created", "order.eu.created"),
        ];
        for (p, k) in yes {
            assert!(topic_matches(p, k), "{p:?} should match {k:?}");
        }
        let no = [
            ("*", ""),
            ("a.*", "a"),
            ("a.*", "a.b.c"),
            ("*.b", "b"),
            ("a.#.b", "a.b.c"),
            ("a.b", "a.b.c"),
            ("a", "a.b"),
            ("", "a"),
            ("a..c", "a.b.c"),
            ("a.#", "b.a"),
        ];
        for (p, k) in no {
            assert!(!topic_matches(p, k), "{p:?} should not match {k:?}");
        }
    }

    #[test]
    fn one_copy_per_queue_however_many_bindings_match() {
        let mut r = Router::new(&["q0", "q1"]);
        let t = r.declare("events", ExchangeKind::Topic);
        r.bind(t, "order.#", 0).unwrap();
        r.bind(t, "*.created", 0).unwrap();
        r.bind(t, "#", 1).unwrap();
        assert_eq!(r.route(t, "order.created"), vec![0, 1]);
        assert_eq!(r.route(t, "user.deleted"), vec![1]);
    }

    #[test]
    fn default_direct_and_fanout() {
        let mut r = Router::new(&["orders", "audit", "mail"]);
        assert_eq!(r.route(0, "orders"), vec![0]);
        assert!(r.route(0, "nope").is_empty());
        assert_eq!(r.bind(0, "x", 1), Err(RoutingError::BindDefault));
        let d = r.declare("direct", ExchangeKind::Direct);
        r.bind(d, "k", 2).unwrap();
        r.bind(d, "k", 1).unwrap();
        r.bind(d, "k", 1).unwrap();
        assert_eq!(r.route(d, "k"), vec![1, 2]);
        assert!(r.route(d, "k2").is_empty());
        let f = r.declare("fan", ExchangeKind::Fanout);
        r.bind(f, "ignored", 0).unwrap();
        r.bind(f, "", 2).unwrap();
        assert_eq!(r.route(f, "anything.at.all"), vec![0, 2]);
        assert_eq!(r.declare("fan", ExchangeKind::Fanout), f);
    }

    #[test]
    fn many_hash_words_route_in_polynomial_time() {
        // 14 `#.a` pairs against 28 words took 7 s; 50 `#` words never finished.
        let start = std::time::Instant::now();
        let pattern = vec!["#.a"; 14].join(".");
        let key = vec!["a"; 28].join(".");
        assert!(topic_matches(&pattern, &key));
        assert!(!topic_matches(&pattern, &vec!["b"; 28].join(".")));
        let hashes = vec!["#"; 50].join(".");
        assert!(!topic_matches(&format!("{hashes}.z"), &vec!["a"; 60].join(".")));
        assert!(topic_matches(&hashes, &vec!["a"; 60].join(".")));
        let deep = vec!["#.a.*"; 30].join(".");
        assert!(topic_matches(&deep, &vec!["a"; 200].join(".")));
        assert!(!topic_matches(&deep, &vec!["b"; 200].join(".")));
        assert!(start.elapsed() < std::time::Duration::from_secs(2), "{:?}", start.elapsed());
    }

    /// A direct, obviously correct matcher to check the trie against.
    fn reference(pattern: &[String], key: &[String]) -> bool {
        match pattern.split_first() {
            None => key.is_empty(),
            Some((p, prest)) if p == "#" => (0..=key.len()).any(|i| reference(prest, &key[i..])),
            Some((p, prest)) => match key.split_first() {
                None => false,
                Some((k, krest)) => (p == "*" || p == k) && reference(prest, krest),
            },
        }
    }

    fn split(s: &str) -> Vec<String> {
        words(s).map(str::to_string).collect()
    }

    proptest! {
        #[test]
        fn trie_agrees_with_reference(
            pattern in prop::collection::vec(prop::sample::select(vec!["a", "b", "", "*", "#"]), 0..5),
            key in prop::collection::vec(prop::sample::select(vec!["a", "b", ""]), 0..6),
        ) {
            let p = pattern.join(".");
            let k = key.join(".");
            prop_assert_eq!(topic_matches(&p, &k), reference(&split(&p), &split(&k)), "{:?} vs {:?}", p, k);
        }

        /// Long patterns full of `#` and `*`: the memoised walk must still agree with the
        /// direct definition (which stays fast at these sizes).
        #[test]
        fn memoised_trie_agrees_with_reference_on_hash_heavy_patterns(
            pattern in prop::collection::vec(prop::sample::select(vec!["a", "b", "*", "#", "#"]), 0..9),
            key in prop::collection::vec(prop::sample::select(vec!["a", "b", ""]), 0..10),
        ) {
            let p = pattern.join(".");
            let k = key.join(".");
            prop_assert_eq!(topic_matches(&p, &k), reference(&split(&p), &split(&k)), "{:?} vs {:?}", p, k);
        }

        #[test]
        fn hash_matches_everything(key in "[a-c.]{0,12}") {
            prop_assert!(topic_matches("#", &key));
        }
    }
}
