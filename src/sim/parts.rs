//! A model's independent parts: sets of queues, with their consumer groups and producers,
//! that no message, consumer or producer connects. Each part is simulated on its own, one
//! after another, with its own calendar, and the results are put back in model order.
//!
//! Why: the engine's cost at scale is memory. A thousand queues simulated together keep
//! thousands of pending events and megabytes of state, read at random, so each event waits
//! on the caches; a part of one queue keeps its state in the first-level cache, as a
//! single-queue model does (docs/architecture.md, "Memory and scale").
//!
//! Why the results are the same, to the bit: every random stream belongs to one producer or
//! one consumer group ([`super::stream_seed`], seeded by its index in the whole model, which
//! a part keeps), and the calendar orders events by (time, scheduling order), so within a
//! part events leave in the same order whether other parts' events are interleaved or not.
//! Nothing a part computes reads another's state. A test runs every shipped scenario both
//! ways and compares.
//!
//! Every mode splits: a dead-letter exchange joins a queue to every queue its dead letters
//! can reach (with any key), as a producer's routes and an onward publish do. The state
//! series and a `window` timeline are per queue, so a part's are put in place too.

use crate::routing::Router;
use crate::scenario::Model;
use petgraph::unionfind::UnionFind;

/// One part: a model of its own, and the whole model's index of each of its queues,
/// producers and consumer groups (ascending, so a part keeps the whole model's order).
#[derive(Debug, Clone)]
pub struct Part {
    /// The part as a model: its producers, queues and groups, renumbered.
    pub model: Model,
    /// Whole-model index of each of its queues.
    pub queues: Vec<usize>,
    /// Whole-model index of each of its producers (the index that seeds its streams).
    pub producers: Vec<usize>,
    /// Whole-model index of each of its consumer groups.
    pub groups: Vec<usize>,
    /// Does the whole model use the message lifecycle? Its counts then carry the lifecycle's
    /// fields in every queue, whether or not this part uses them.
    pub lifecycle: bool,
}

/// How a model is simulated: whole, or part by part.
#[derive(Debug, Clone, Default)]
pub struct Parts {
    /// Empty: the model runs whole.
    pub(super) parts: Vec<Part>,
}

impl Parts {
    /// Runs `model` whole.
    pub fn whole() -> Self {
        Parts::default()
    }

    /// `model`'s independent parts, or [`Parts::whole`] when it has only one.
    pub fn of(model: &Model) -> Self {
        // One queue is one part.
        if model.queues.len() <= 1 {
            return Parts::whole();
        }
        let labels = components(model);
        let (nq, np) = (model.queues.len(), model.producers.len());
        // Parts numbered by their first member in model order (queues, then producers).
        let mut part_of_label = vec![usize::MAX; nq + np];
        let mut members: Vec<(Vec<usize>, Vec<usize>)> = Vec::new();
        for (node, &label) in labels.iter().enumerate() {
            if part_of_label[label] == usize::MAX {
                part_of_label[label] = members.len();
                members.push((Vec::new(), Vec::new()));
            }
            let m = &mut members[part_of_label[label]];
            if node < nq { m.0.push(node) } else { m.1.push(node - nq) }
        }
        if members.len() < 2 {
            return Parts::whole();
        }
        // Each queue's index within its part.
        let mut local = vec![0usize; nq];
        for (queues, _) in &members {
            for (i, &q) in queues.iter().enumerate() {
                local[q] = i;
            }
        }
        let lifecycle = model.uses_message_lifecycle();
        let parts = members
            .into_iter()
            .map(|(queues, producers)| part(model, queues, producers, &local, lifecycle))
            .collect();
        Parts { parts }
    }

    /// How many parts (0 when whole).
    pub fn len(&self) -> usize {
        self.parts.len()
    }

    /// No parts: the model runs whole.
    pub fn is_empty(&self) -> bool {
        self.parts.is_empty()
    }
}

/// A label per queue (`0..nq`) then per producer (`nq..`): equal labels, same part. A
/// producer joins the queues it can reach; a group's queue joins the queues its onward
/// publish reaches, and a queue the queues its dead letters can reach. A producer that
/// reaches no queue is a part of its own.
fn components(model: &Model) -> Vec<usize> {
    let nq = model.queues.len();
    let mut uf = UnionFind::<usize>::new(nq + model.producers.len());
    for (p, producer) in model.producers.iter().enumerate() {
        let keys = producer.weighted_keys.iter().flat_map(|k| &k.routes);
        for &q in producer.routes.iter().chain(keys) {
            uf.union(nq + p, q);
        }
    }
    for g in &model.groups {
        for &q in g.then.iter().flat_map(|t| &t.routes) {
            uf.union(g.queue, q);
        }
    }
    for (q, queue) in model.queues.iter().enumerate() {
        for &t in queue.dead_letter.iter().flat_map(|d| &d.routes).flatten() {
            uf.union(q, t);
        }
    }
    uf.into_labeling()
}

/// The part of `queues` and `producers` as a model of its own. `local` is every queue's
/// index within its part.
fn part(
    model: &Model,
    queues: Vec<usize>,
    producers: Vec<usize>,
    local: &[usize],
    lifecycle: bool,
) -> Part {
    let remap = |routes: &[usize]| routes.iter().map(|&q| local[q]).collect::<Vec<_>>();
    let mut groups: Vec<usize> =
        queues.iter().flat_map(|&q| &model.queues[q].groups).copied().collect();
    groups.sort_unstable();
    let group_local = |g: usize| groups.binary_search(&g).expect("a group of the part");
    let names: Vec<&str> = queues.iter().map(|&q| model.queues[q].name.as_str()).collect();
    let sub = Model {
        name: model.name.clone(),
        description: None,
        simulation: model.simulation.clone(),
        loadtest: model.loadtest.clone(),
        loadtest_declared: model.loadtest_declared,
        producers: producers
            .iter()
            .map(|&p| {
                let mut p = model.producers[p].clone();
                p.routes = remap(&p.routes);
                for k in &mut p.weighted_keys {
                    k.routes = remap(&k.routes);
                }
                p
            })
            .collect(),
        // The engine reads resolved routes only (a dead letter's by its key's index, which
        // the part keeps); exchanges, bindings and the key table's names are for
        // validation and reports.
        exchanges: Vec::new(),
        router: Router::new(&names),
        queues: queues
            .iter()
            .map(|&q| {
                let mut q = model.queues[q].clone();
                q.groups = q.groups.iter().map(|&g| group_local(g)).collect();
                q.bindings = Vec::new();
                if let Some(d) = &mut q.dead_letter {
                    for routes in &mut d.routes {
                        *routes = remap(routes);
                    }
                }
                q
            })
            .collect(),
        groups: groups
            .iter()
            .map(|&g| {
                let mut g = model.groups[g].clone();
                g.queue = local[g.queue];
                if let Some(t) = &mut g.then {
                    t.routes = remap(&t.routes);
                }
                g
            })
            .collect(),
        warnings: Vec::new(),
        keys: Vec::new(),
        topics: Vec::new(),
    };
    Part { model: sub, queues, producers, groups, lifecycle }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cancel::Cancel;
    use crate::sim::simulate_parts;
    use std::fmt::Write as _;

    /// Reads the files a shipped scenario names, next to it.
    struct Scenarios;
    impl crate::scenario::Files for Scenarios {
        fn read(&self, path: &str) -> Result<String, String> {
            std::fs::read_to_string(format!("scenarios/{path}")).map_err(|e| e.to_string())
        }
    }

    /// `queues` queues, each with its own producer and two consumers, plus the `extra` text.
    fn independent(queues: usize, extra: &str) -> Model {
        let mut t =
            String::from("[simulation]\nhorizon = 200\nwarmup = 20\nreplications = 2\nseed = 11\n");
        for i in 0..queues {
            let _ = write!(
                t,
                "[[producers]]\nname = \"p{i}\"\nexchange = \"\"\nrouting_key = \"q{i}\"\narrival = {{ dist = \"exponential\", rate = {} }}\n\
                 [[queues]]\nname = \"q{i}\"\n\
                 [[consumers]]\nname = \"w{i}\"\nqueue = \"q{i}\"\ncount = 2\nservice = {{ dist = \"exponential\", mean = 0.1 }}\n",
                3 + i
            );
        }
        Model::from_toml(&(t + extra), "parts.toml").expect("valid")
    }

    /// One replication, whole and by parts, as text: every figure to the bit (`{:?}` of an
    /// `f64` is exact).
    fn both(m: &Model, replication: u32, step: Option<f64>) -> (String, String) {
        let cancel = Cancel::new();
        let whole = simulate_parts(m, &Parts::whole(), replication, step, &cancel).expect("ran");
        let split = simulate_parts(m, &Parts::of(m), replication, step, &cancel).expect("ran");
        (format!("{whole:?}"), format!("{split:?}"))
    }

    #[test]
    fn independent_queues_are_parts_and_give_the_whole_models_results() {
        let m = independent(5, "");
        let parts = Parts::of(&m);
        assert_eq!(parts.len(), 5);
        for (i, p) in parts.parts.iter().enumerate() {
            assert_eq!((&p.queues, &p.producers, &p.groups), (&vec![i], &vec![i], &vec![i]));
        }
        for r in 0..2 {
            let (whole, split) = both(&m, r, Some(5.0));
            assert_eq!(whole, split, "replication {r}");
        }
    }

    #[test]
    fn shared_routes_and_onward_publishes_join_parts() {
        // p0 and p1 both reach q1 (a fanout over q0 and q1); q2's consumers publish on
        // to q3; q4 stands alone; an unroutable producer is a part of its own.
        let m = {
            let mut t = String::from(
                "[simulation]\nhorizon = 200\nreplications = 1\nseed = 3\n\
                [[exchanges]]\nname = \"fan\"\ntype = \"fanout\"\n\
                [[producers]]\nname = \"shared\"\nexchange = \"fan\"\nrouting_key = \"\"\narrival = { dist = \"exponential\", rate = 2 }\n\
                [[producers]]\nname = \"lost\"\nexchange = \"\"\nrouting_key = \"nowhere\"\narrival = { dist = \"exponential\", rate = 1 }\n",
            );
            for i in 0..5 {
                let bind = if i < 2 { "bindings = [{ exchange = \"fan\" }]\n" } else { "" };
                let then =
                    if i == 2 { "then = { exchange = \"\", routing_key = \"q3\" }\n" } else { "" };
                let _ = write!(
                    t,
                    "[[producers]]\nname = \"p{i}\"\nexchange = \"\"\nrouting_key = \"q{i}\"\narrival = {{ dist = \"exponential\", rate = 3 }}\n\
                     [[queues]]\nname = \"q{i}\"\n{bind}\
                     [[consumers]]\nname = \"w{i}\"\nqueue = \"q{i}\"\ncount = 2\nservice = {{ dist = \"exponential\", mean = 0.1 }}\n{then}"
                );
            }
            Model::from_toml(&t, "join.toml").expect("valid")
        };
        let parts = Parts::of(&m);
        let shape: Vec<(Vec<usize>, Vec<usize>, Vec<usize>)> = parts
            .parts
            .iter()
            .map(|p| (p.queues.clone(), p.producers.clone(), p.groups.clone()))
            .collect();
        assert_eq!(
            shape,
            vec![
                (vec![0, 1], vec![0, 2, 3], vec![0, 1]),
                (vec![2, 3], vec![4, 5], vec![2, 3]),
                (vec![4], vec![6], vec![4]),
                (vec![], vec![1], vec![]),
            ]
        );
        // The onward publish reaches the part's own q3, renumbered.
        assert_eq!(
            parts.parts[1].model.groups[0].then.as_ref().map(|t| t.routes.clone()),
            Some(vec![1])
        );
        let (whole, split) = both(&m, 0, None);
        assert_eq!(whole, split);
    }

    #[test]
    fn every_mode_and_a_timeline_split_and_one_queue_runs_whole() {
        let ttl = independent(3, "[[queues]]\nname = \"ttl\"\nmessage_ttl = \"1s\"\n");
        assert_eq!(Parts::of(&ttl).len(), 4);
        let mut m = independent(3, "");
        m.simulation.window = Some(15.0);
        assert_eq!(Parts::of(&m).len(), 3);
        let (whole, split) = both(&m, 0, None);
        assert!(whole.contains("timeline: Some"));
        assert_eq!(whole, split);
        assert!(Parts::of(&independent(1, "")).is_empty());
    }

    #[test]
    fn every_shipped_scenario_gives_the_same_results_by_parts() {
        let mut split = 0;
        for entry in std::fs::read_dir("scenarios").expect("scenarios/") {
            let path = entry.expect("entry").path();
            if path.extension().is_none_or(|e| e != "toml") {
                continue;
            }
            let text = std::fs::read_to_string(&path).expect("readable");
            let mut m = Model::from_toml_with_files(&text, &path.display().to_string(), &Scenarios)
                .expect("a shipped scenario is valid");
            // A short horizon keeps this quick.
            m.simulation.horizon = m.simulation.horizon.min(600.0);
            m.simulation.warmup = m.simulation.warmup.min(m.simulation.horizon / 4.0);
            if Parts::of(&m).is_empty() {
                continue;
            }
            split += 1;
            let (whole, parts) = both(&m, 1, Some(m.simulation.horizon / 50.0));
            assert_eq!(whole, parts, "{}", path.display());
        }
        assert!(split >= 1, "no shipped scenario has independent parts");
    }

    /// A random model of 2 to 7 queues: producers through the default exchange, a direct
    /// exchange (one key may reach several queues) or weighted keys, in batches or not, at
    /// renewal, MMPP or scheduled rates; queues with a length limit or a backlog; groups
    /// with onward publishes (to a later queue); a `window` timeline or not. With
    /// `lifecycle`, some of: per-message and queue TTLs, priorities, delivery limits,
    /// dead-lettering to a later queue (also of what a full queue refuses), failures that
    /// requeue or reject, crashes, network and publish delays.
    fn random_model(rng: &mut impl rand::Rng, lifecycle: bool) -> Model {
        use rand::RngExt;
        let nq = rng.random_range(2..8);
        // `text` with probability `p` in a lifecycle model.
        let maybe = |rng: &mut _, p: f64, text: &str| -> String {
            if lifecycle && RngExt::random_bool(rng, p) { text.to_string() } else { String::new() }
        };
        let window = if rng.random_bool(0.3) { "window = \"40s\"\n" } else { "" };
        let mut t = format!(
            "[simulation]\nhorizon = 300\nwarmup = 30\nreplications = 1\nseed = 5\n{window}\
             [[exchanges]]\nname = \"d\"\ntype = \"direct\"\n",
        );
        for i in 0..rng.random_range(1..nq + 2) {
            let route = match rng.random_range(0..3) {
                0 => format!("exchange = \"\"\nrouting_key = \"q{}\"\n", rng.random_range(0..nq)),
                1 => format!("exchange = \"d\"\nrouting_key = \"k{}\"\n", rng.random_range(0..4)),
                _ => format!(
                    "exchange = \"d\"\nrouting_keys = [{{ key = \"k{}\", weight = 2 }}, {{ key = \"k{}\", weight = 1 }}]\n",
                    rng.random_range(0..4),
                    rng.random_range(0..4)
                ),
            };
            let arrival = match rng.random_range(0..3) {
                0 => "arrival = { dist = \"exponential\", rate = 4 }\n",
                1 => {
                    "arrival = { process = \"mmpp\", states = [{ rate = 1, mean_duration = \"20s\" }, { rate = 9, mean_duration = \"10s\" }] }\n"
                }
                _ => {
                    "arrival = { process = \"schedule\", period = \"100s\", rates = [{ at = \"0s\", rate = 2 }, { at = \"60s\", rate = 7 }] }\n"
                }
            };
            let batch = if rng.random_bool(0.3) {
                "batch = { dist = \"constant\", value = 3 }\n"
            } else {
                ""
            };
            let extra = maybe(rng, 0.3, "ttl = \"1s\"\n")
                + &maybe(rng, 0.4, "priority = { values = [5, 1], weights = [0.3, 0.7] }\n")
                + &maybe(rng, 0.2, "publish_delay = \"5ms\"\n");
            let _ = write!(t, "[[producers]]\nname = \"p{i}\"\n{route}{arrival}{batch}{extra}");
        }
        for q in 0..nq {
            let key = rng.random_range(0..5);
            let bind = if key < 4 {
                format!("bindings = [{{ exchange = \"d\", key = \"k{key}\" }}]\n")
            } else {
                String::new()
            };
            let limit = if rng.random_bool(0.3) {
                if lifecycle && rng.random_bool(0.5) {
                    "max_length = 5\noverflow = \"reject-publish-dlx\"\n"
                } else {
                    "max_length = 5\noverflow = \"reject-publish\"\n"
                }
            } else {
                ""
            };
            let backlog = if limit.is_empty() && rng.random_bool(0.2) {
                "initial_messages = 50\n"
            } else {
                ""
            };
            let mut extra = maybe(rng, 0.3, "message_ttl = \"2s\"\n")
                + &maybe(rng, 0.3, "max_priority = 5\n")
                + &maybe(rng, 0.2, "delivery_limit = 2\n");
            // Dead letters to a later queue, through the default exchange.
            if q + 1 < nq {
                let to = rng.random_range(q + 1..nq);
                extra += &maybe(
                    rng,
                    0.4,
                    &format!("dead_letter_exchange = \"\"\ndead_letter_routing_key = \"q{to}\"\n"),
                );
            }
            let _ = write!(t, "[[queues]]\nname = \"q{q}\"\n{bind}{limit}{backlog}{extra}");
            for g in 0..rng.random_range(1..3) {
                // Onward to a later queue only: a cycle is refused.
                let then = if q + 1 < nq && rng.random_bool(0.2) {
                    format!(
                        "then = {{ exchange = \"\", routing_key = \"q{}\" }}\n",
                        rng.random_range(q + 1..nq)
                    )
                } else {
                    String::new()
                };
                let action = if rng.random_bool(0.5) { "requeue" } else { "reject" };
                let crash = maybe(
                    rng,
                    0.2,
                    "crash = { every = { dist = \"exponential\", mean = \"30s\" }, restart = { dist = \"constant\", value = \"2s\" } }\n",
                );
                // Acks in transit at a crash are not modelled: no delay with crashes.
                let delay = if crash.is_empty() {
                    maybe(rng, 0.2, "network_delay = \"2ms\"\n")
                } else {
                    String::new()
                };
                let extra = maybe(
                    rng,
                    0.3,
                    &format!("failure = {{ probability = 0.1, action = \"{action}\" }}\n"),
                ) + &crash
                    + &delay;
                let _ = write!(
                    t,
                    "[[consumers]]\nname = \"w{q}-{g}\"\nqueue = \"q{q}\"\ncount = {}\nprefetch = {}\nservice = {{ dist = \"lognormal\", mean = 0.2, cv = 1.5 }}\n{then}{extra}",
                    rng.random_range(1..4),
                    rng.random_range(1..4),
                );
            }
        }
        Model::from_toml(&t, "random.toml").unwrap_or_else(|e| panic!("{e}\n{t}"))
    }

    #[test]
    fn random_models_give_the_same_results_by_parts() {
        use rand::SeedableRng;
        let mut rng = rand::rngs::Xoshiro256PlusPlus::seed_from_u64(2026);
        let (mut split, mut full, mut windows) = (0, 0, 0);
        for i in 0..60 {
            let m = random_model(&mut rng, i % 2 == 1);
            if Parts::of(&m).is_empty() {
                continue;
            }
            split += 1;
            full += usize::from(m.uses_message_lifecycle());
            windows += usize::from(m.simulation.window.is_some());
            let (whole, parts) = both(&m, i, Some(10.0));
            assert_eq!(whole, parts, "random model {i}");
        }
        assert!(
            split >= 20 && full >= 10 && windows >= 5,
            "only {split} of 60 random models split, {full} with the lifecycle, {windows} with a window"
        );
    }
}
