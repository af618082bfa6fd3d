//! End-to-end paths of a pipeline: every path a producer's messages take through the
//! queues (`then` publishes), each with the sum of its stage sojourn means.

use crate::results::{EndToEndPath, QueueAnalysis};
use crate::routing::QueueId;
use crate::scenario::Model;

/// Most paths listed per producer in `end_to_end_s`.
const MAX_PATHS: usize = 32;

/// Lists each producer's paths (at most [`MAX_PATHS`]) with the sum of stage sojourn means.
pub(super) fn end_to_end(model: &Model, queues: &[QueueAnalysis]) -> Vec<EndToEndPath> {
    let mut out = Vec::new();
    for p in &model.producers {
        let mut paths: Vec<Vec<QueueId>> = Vec::new();
        let mut stack: Vec<Vec<QueueId>> = p.routes.iter().map(|&q| vec![q]).collect();
        while let Some(path) = stack.pop() {
            if paths.len() >= MAX_PATHS {
                break;
            }
            let q = *path.last().unwrap_or(&0);
            let mut next: Vec<QueueId> = model.successors(q).collect();
            let ends_here = model.path_can_end_at(q);
            next.sort_unstable();
            next.dedup();
            // A path longer than the number of queues would mean a cycle: stop there.
            if path.len() > model.queues.len() {
                continue;
            }
            if ends_here && !paths.contains(&path) {
                paths.push(path.clone());
            }
            for n in next.into_iter().rev() {
                let mut p2 = path.clone();
                p2.push(n);
                stack.push(p2);
            }
        }
        for path in paths {
            let mean: Option<f64> = path.iter().map(|&q| queues[q].sojourn_s.mean).sum();
            out.push(EndToEndPath {
                producer: p.name.clone(),
                path: path.iter().map(|&q| queues[q].name.clone()).collect(),
                mean,
                exact: path.iter().all(|&q| queues[q].exact),
            });
        }
    }
    out
}
