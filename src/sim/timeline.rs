//! The timeline's raw material: what one replication saw in each window of scenario time
//! ([`Recorder`]), and its fold over replications, in replication order, into the report's
//! [`Timeline`] ([`Accumulator`]).
//!
//! A message belongs to the window in which it entered its queue (its wait is timed
//! there, whenever it is served); a service end belongs to the window in which it ends; the
//! ready count is integrated over each window. Memory is O(windows × queues) per
//! replication, bounded by [`crate::scenario::MAX_WINDOW_CELLS`]; the accumulator keeps
//! running means and variances (Welford) so replications are folded and dropped.

use crate::results::{QueueLength, Timeline, Window, WindowQueue, WindowWait};
use crate::scenario::Model;
use crate::stats::{SparseLatency, student_t_975};

/// One queue in one window of one replication.
#[derive(Debug, Clone, Default)]
pub struct Cell {
    /// Messages offered in the window.
    pub offered: u64,
    /// Services ended in the window.
    pub completed: u64,
    /// ∫ ready dt over the window.
    pub ready_area: f64,
    /// Largest ready count held in the window.
    pub ready_max: f64,
    /// Waits of the messages that entered in the window (timed when served).
    pub wait: SparseLatency,
}

/// One replication's timeline, filled while it runs.
#[derive(Debug, Clone)]
pub struct Recorder {
    window: f64,
    windows: usize,
    queues: usize,
    /// Window-major: cell of window `w`, queue `q` at `w * queues + q`.
    pub cells: Vec<Cell>,
    /// Per queue: (time of the last change, ready count since).
    ready: Vec<(f64, f64)>,
}

impl Recorder {
    /// An empty timeline of `windows` windows of `window` seconds for `queues` queues.
    pub fn new(window: f64, windows: usize, queues: usize) -> Self {
        Recorder {
            window,
            windows,
            queues,
            cells: vec![Cell::default(); windows * queues],
            ready: vec![(0.0, 0.0); queues],
        }
    }

    /// The window holding time `t` (the horizon itself falls in the last one).
    #[inline]
    fn index(&self, t: f64) -> usize {
        ((t / self.window) as usize).min(self.windows - 1)
    }

    #[inline]
    fn cell(&mut self, t: f64, q: usize) -> &mut Cell {
        let i = self.index(t) * self.queues + q;
        &mut self.cells[i]
    }

    /// A message is offered to queue `q` at `t`.
    #[inline]
    pub fn offered(&mut self, t: f64, q: usize) {
        self.cell(t, q).offered += 1;
    }

    /// A service of queue `q` ends at `t`.
    #[inline]
    pub fn completed(&mut self, t: f64, q: usize) {
        self.cell(t, q).completed += 1;
    }

    /// A message that entered queue `q` at `enq_t` waited `wait` seconds.
    #[inline]
    pub fn wait(&mut self, enq_t: f64, q: usize, wait: f64) {
        self.cell(enq_t, q).wait.record(wait);
    }

    /// Queue `q`'s ready count becomes `v` at `t`: the count held since the last change is
    /// integrated over every window it spanned, and counts towards each one's maximum.
    pub fn ready(&mut self, t: f64, q: usize, v: f64) {
        let (mut from, held) = self.ready[q];
        let last = self.index(t);
        let mut w = self.index(from);
        loop {
            let end = if w == last { t } else { (w + 1) as f64 * self.window };
            let cell = &mut self.cells[w * self.queues + q];
            cell.ready_area += held * (end - from).max(0.0);
            if held > cell.ready_max {
                cell.ready_max = held;
            }
            if w >= last {
                break;
            }
            from = end;
            w += 1;
        }
        let cell = &mut self.cells[last * self.queues + q];
        if v > cell.ready_max {
            cell.ready_max = v;
        }
        self.ready[q] = (t, v);
    }

    /// Closes the ready integrals at the horizon.
    pub fn finish(&mut self, horizon: f64) {
        for q in 0..self.queues {
            let v = self.ready[q].1;
            self.ready(horizon, q, v);
        }
    }

    /// Puts a part's finished timeline in place (`sim::parts`): its queue `i` is queue
    /// `queues[i]` here. Every cell is one queue's in one window, so nothing is combined.
    pub fn place(&mut self, queues: &[usize], part: Recorder) {
        debug_assert!(self.window == part.window && self.windows == part.windows);
        for (i, cell) in part.cells.into_iter().enumerate() {
            let (w, q) = (i / part.queues, queues[i % part.queues]);
            self.cells[w * self.queues + q] = cell;
        }
        for (&q, ready) in queues.iter().zip(part.ready) {
            self.ready[q] = ready;
        }
    }
}

/// Running mean and sum of squared deviations (Welford), folded in replication order.
#[derive(Debug, Clone, Copy, Default)]
struct Running {
    n: u32,
    mean: f64,
    m2: f64,
}

impl Running {
    fn add(&mut self, x: f64) {
        self.n += 1;
        let d = x - self.mean;
        self.mean += d / f64::from(self.n);
        self.m2 += d * (x - self.mean);
    }

    /// Mean and 95% Student-t half-width (none with fewer than two values), or `None`
    /// with no value.
    fn summary(&self) -> Option<(f64, Option<f64>)> {
        (self.n > 0).then(|| {
            let ci = (self.n >= 2).then(|| {
                let var = self.m2 / f64::from(self.n - 1);
                student_t_975(self.n - 1) * (var / f64::from(self.n)).sqrt()
            });
            (self.mean, ci)
        })
    }
}

#[derive(Debug, Clone, Default)]
struct AccCell {
    offered: Running,
    throughput: Running,
    ready: Running,
    ready_max: f64,
    wait_mean: Running,
    wait_p99: Running,
    wait: SparseLatency,
}

/// Replications' timelines folded in replication order.
#[derive(Debug, Clone)]
pub struct Accumulator {
    window: f64,
    horizon: f64,
    warmup: f64,
    queues: usize,
    cells: Vec<AccCell>,
}

impl Accumulator {
    /// For `model`'s timeline; `None` without a window.
    pub fn new(model: &Model) -> Option<Self> {
        let sim = &model.simulation;
        let window = sim.window?;
        let queues = model.queues.len();
        Some(Accumulator {
            window,
            horizon: sim.horizon,
            warmup: sim.warmup,
            queues,
            cells: vec![AccCell::default(); sim.windows() * queues],
        })
    }

    fn span(&self, w: usize) -> (f64, f64) {
        let start = w as f64 * self.window;
        (start, (start + self.window).min(self.horizon))
    }

    /// Adds the next replication's timeline.
    pub fn add(&mut self, rep: &Recorder) {
        for (i, (acc, c)) in self.cells.iter_mut().zip(&rep.cells).enumerate() {
            let start = (i / self.queues) as f64 * self.window;
            let span = (start + self.window).min(self.horizon) - start;
            acc.offered.add(c.offered as f64 / span);
            acc.throughput.add(c.completed as f64 / span);
            acc.ready.add(c.ready_area / span);
            acc.ready_max = acc.ready_max.max(c.ready_max);
            if let Some(m) = c.wait.mean() {
                acc.wait_mean.add(m);
            }
            if let Some(p) = c.wait.quantile(0.99) {
                acc.wait_p99.add(p);
            }
            acc.wait.merge(&c.wait);
        }
    }

    /// The report's timeline.
    pub fn finish(&self, model: &Model) -> Timeline {
        let windows = self.cells.len() / self.queues.max(1);
        let windows = (0..windows)
            .map(|w| {
                let (start_s, end_s) = self.span(w);
                let queues = (0..self.queues)
                    .map(|q| {
                        let c = &self.cells[w * self.queues + q];
                        let (offered_rate, offered_rate_ci95) =
                            c.offered.summary().unwrap_or((0.0, None));
                        let (throughput, throughput_ci95) =
                            c.throughput.summary().unwrap_or((0.0, None));
                        let (lq, lq_ci) = c.ready.summary().unwrap_or((0.0, None));
                        let mean = c.wait_mean.summary();
                        WindowQueue {
                            name: model.queues[q].name.clone(),
                            offered_rate,
                            offered_rate_ci95,
                            throughput,
                            throughput_ci95,
                            queue_length: QueueLength {
                                mean: lq,
                                ci95: lq_ci,
                                max: c.ready_max as u64,
                            },
                            wait_s: WindowWait {
                                mean: mean.map(|m| m.0),
                                ci95: mean.and_then(|m| m.1),
                                p99: c.wait.quantile(0.99),
                                p99_ci95: c.wait_p99.summary().and_then(|m| m.1),
                                messages: c.wait.count(),
                            },
                        }
                    })
                    .collect();
                Window { start_s, end_s, warmup: start_s < self.warmup, queues }
            })
            .collect();
        Timeline { window_s: self.window, windows }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ready_integrates_across_windows() {
        let mut r = Recorder::new(10.0, 3, 1);
        r.ready(5.0, 0, 2.0); // 2 from 5 to 25
        r.ready(25.0, 0, 1.0); // 1 from 25 to 30
        r.finish(30.0);
        let areas: Vec<f64> = r.cells.iter().map(|c| c.ready_area).collect();
        assert_eq!(areas, vec![10.0, 20.0, 10.0 + 5.0]);
        let maxes: Vec<f64> = r.cells.iter().map(|c| c.ready_max).collect();
        assert_eq!(maxes, vec![2.0, 2.0, 2.0]);
        r.offered(30.0, 0); // the horizon falls in the last window
        assert_eq!(r.cells[2].offered, 1);
    }

    #[test]
    fn welford_matches_the_two_pass_summary() {
        let xs = [1.0, 2.0, 3.0, 4.0];
        let mut r = Running::default();
        xs.iter().for_each(|&x| r.add(x));
        let (m, h) = r.summary().unwrap();
        let s = crate::stats::summarize(&xs).unwrap();
        assert!((m - s.mean).abs() < 1e-12 && (h.unwrap() - s.ci95.unwrap()).abs() < 1e-12);
    }
}
