//! The queue graph of a [`Model`]: an edge `q → n` for every consumer group reading `q`
//! whose onward publish (`then`) routes to `n`. The routes are resolved once at load time,
//! so the graph is plain indices.
//!
//! This is the one walk of that graph: the loader's cycle check, the traffic equations'
//! order and the end-to-end paths all go through these methods, so they cannot disagree on
//! what follows a queue (edge order included, which the analytic sums depend on).

use super::Model;
use crate::routing::QueueId;

impl Model {
    /// The onward edges out of queue `q` as `(group, next queue)`: the groups reading `q` in
    /// file order, each with the queues its `then` routes to in route order. A group without
    /// `then`, or whose `then` matches no queue, contributes nothing.
    ///
    /// Panics if `q` is not a queue index of the model.
    pub fn onward_edges(&self, q: QueueId) -> impl Iterator<Item = (usize, QueueId)> + '_ {
        self.queues[q].groups.iter().flat_map(move |&g| {
            let routes = self.groups[g].then.as_ref().map_or(&[][..], |t| t.routes.as_slice());
            routes.iter().map(move |&n| (g, n))
        })
    }

    /// The queues a message served at `q` is published onward to (with repeats when two
    /// groups of `q` reach the same queue), in [`Model::onward_edges`] order.
    pub fn successors(&self, q: QueueId) -> impl Iterator<Item = QueueId> + '_ {
        self.onward_edges(q).map(|(_, n)| n)
    }

    /// Whether a message's journey can end at queue `q`: nobody reads it, or some group
    /// reading it publishes nothing onward (no `then`, or a `then` that matches no queue).
    pub fn path_can_end_at(&self, q: QueueId) -> bool {
        let groups = &self.queues[q].groups;
        groups.is_empty()
            || groups
                .iter()
                .any(|&g| self.groups[g].then.as_ref().is_none_or(|t| t.routes.is_empty()))
    }

    /// The queues in an order where every queue comes after all queues that publish to it
    /// (Kahn's algorithm; among queues ready at once, the lowest index first, then depth
    /// first). The loader refuses cycles; queues on a cycle anyway are left out.
    ///
    /// Time: O(queues + edges).
    pub fn topological_order(&self) -> Vec<QueueId> {
        let nq = self.queues.len();
        let mut indeg = vec![0usize; nq];
        for q in 0..nq {
            for n in self.successors(q) {
                indeg[n] += 1;
            }
        }
        let mut ready: Vec<QueueId> = (0..nq).rev().filter(|&q| indeg[q] == 0).collect();
        let mut order = Vec::with_capacity(nq);
        while let Some(q) = ready.pop() {
            order.push(q);
            for n in self.successors(q) {
                indeg[n] -= 1;
                if indeg[n] == 0 {
                    ready.push(n);
                }
            }
        }
        order
    }
}
