//! The in-crate broker's Kafka-style topics: the messaging core's [`TopicLog`] (partitions,
//! per-group offsets, assignment, polls, rebalances) behind one mutex, on the real clock.
//! The broker adds no rule: consumer threads block on a condition variable until the core
//! gives them a record, and every change that may give one (a publish, a completion that
//! hands a partition over, a member leaving or joining) wakes them. A rebalance pause ends
//! by time alone, so a waiting consumer also looks again every few milliseconds.
//!
//! It also meters each partition's lag (records not yet processed by every group) as a
//! time average on its clock, as a Kafka broker exposes consumer lag.

use crate::mq::log::{GroupConfig, GroupCounts, Record, TopicLog};
use crate::stats::TimeAverage;
use std::sync::{Condvar, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

/// Longest a waiting consumer sleeps before looking again (a pause may have ended).
const RECHECK: Duration = Duration::from_millis(2);

struct State {
    log: TopicLog,
    /// Per partition: the lag of the group furthest behind, over time (broker seconds).
    lag: Vec<TimeAverage>,
    /// Per partition: records published from `lag_from` on.
    published_post: Vec<u64>,
    lag_from: f64,
}

/// One topic on the real clock. Share it between threads behind an `Arc`.
pub struct TopicBroker {
    state: Mutex<State>,
    changed: Condvar,
    start: Instant,
}

impl TopicBroker {
    /// A topic with `partitions` partitions and these groups, every member alive; lag is
    /// averaged from `lag_from` seconds of its clock on (a warm-up).
    pub fn new(partitions: u32, groups: &[GroupConfig], lag_from: f64) -> Self {
        TopicBroker {
            state: Mutex::new(State {
                log: TopicLog::new(partitions, groups),
                lag: (0..partitions).map(|_| TimeAverage::new(lag_from)).collect(),
                published_post: vec![0; partitions as usize],
                lag_from,
            }),
            changed: Condvar::new(),
            start: Instant::now(),
        }
    }

    /// Seconds since the topic was created: the clock of every time it reports.
    pub fn now(&self) -> f64 {
        self.start.elapsed().as_secs_f64()
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Appends a record to `partition`; returns its offset.
    pub fn publish(&self, partition: u32) -> u64 {
        let mut s = self.lock();
        let now = self.now();
        let offset = s.log.publish(partition, now);
        if now >= s.lag_from {
            s.published_post[partition as usize] += 1;
        }
        let lag = s.log.max_lag(partition) as f64;
        s.lag[partition as usize].set(now, lag);
        drop(s);
        self.changed.notify_all();
        offset
    }

    /// The next record for consumer `c` of group `g`, waiting until `deadline` for one.
    pub fn next_record(&self, g: usize, c: u32, deadline: Instant) -> Option<Record> {
        let mut s = self.lock();
        loop {
            if let Some(r) = s.log.start_next(g, c, self.now()) {
                return Some(r);
            }
            let now = Instant::now();
            if now >= deadline {
                return None;
            }
            let wait = (deadline - now).min(RECHECK);
            s = self.changed.wait_timeout(s, wait).unwrap_or_else(PoisonError::into_inner).0;
        }
    }

    /// Consumer `c` of group `g` has processed its record.
    pub fn complete(&self, g: usize, c: u32) -> Option<Record> {
        let mut s = self.lock();
        let (r, _) = s.log.complete(g, c)?;
        let now = self.now();
        let lag = s.log.max_lag(r.partition) as f64;
        s.lag[r.partition as usize].set(now, lag);
        drop(s);
        self.changed.notify_all();
        Some(r)
    }

    /// Consumer `c` of group `g` leaves (a crash); returns the record it abandoned.
    pub fn leave(&self, g: usize, c: u32) -> Option<Record> {
        let mut s = self.lock();
        let now = self.now();
        let (r, _) = s.log.leave(g, c, now);
        drop(s);
        self.changed.notify_all();
        r
    }

    /// Consumer `c` of group `g` comes back.
    pub fn join(&self, g: usize, c: u32) {
        let mut s = self.lock();
        let now = self.now();
        s.log.join(g, c, now);
        drop(s);
        self.changed.notify_all();
    }

    /// Group `g`'s counts (`offered = acked + in_flight`).
    pub fn counts(&self, g: usize) -> GroupCounts {
        self.lock().log.counts(g)
    }

    /// Rebalances of group `g`.
    pub fn rebalances(&self, g: usize) -> u64 {
        self.lock().log.rebalances(g)
    }

    /// Per partition: time-averaged lag over `[lag_from, end]` and the largest seen.
    pub fn lag(&self, end: f64) -> Vec<(f64, f64)> {
        self.lock().lag.iter().map(|a| (a.average(end), a.max())).collect()
    }

    /// Records published to `partition` from the metering start (`lag_from`) on.
    pub fn published_after_warmup(&self, partition: u32) -> u64 {
        self.lock().published_post[partition as usize]
    }

    /// Partitions consumer `c` of group `g` owns now.
    pub fn assigned(&self, g: usize, c: u32) -> Vec<u32> {
        self.lock().log.assigned(g, c).to_vec()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mq::log::Assignor;
    use std::sync::Arc;
    use std::thread;

    /// Two consumers of a group drain 2000 records published from another thread: every
    /// record is processed once, in order within its partition, and the counts balance.
    #[test]
    fn threads_drain_a_topic_in_partition_order() {
        let cfg = GroupConfig {
            count: 2,
            assignor: Assignor::RoundRobin,
            max_poll_records: 10,
            rebalance_pause: 0.0,
        };
        let t = Arc::new(TopicBroker::new(4, &[cfg], 0.0));
        let consumers: Vec<_> = (0..2)
            .map(|c| {
                let t = Arc::clone(&t);
                thread::spawn(move || {
                    let mut seen: Vec<(u32, u64)> = Vec::new();
                    let deadline = Instant::now() + Duration::from_secs(10);
                    while seen.len() < 1000 {
                        let Some(r) = t.next_record(0, c, deadline) else { break };
                        seen.push((r.partition, r.offset));
                        t.complete(0, c);
                    }
                    seen
                })
            })
            .collect();
        for i in 0..2000u32 {
            t.publish(i % 4);
        }
        for h in consumers {
            let seen = h.join().unwrap();
            assert_eq!(seen.len(), 1000);
            for p in 0..4 {
                let offsets: Vec<u64> = seen.iter().filter(|x| x.0 == p).map(|x| x.1).collect();
                assert!(offsets.windows(2).all(|w| w[1] == w[0] + 1), "partition {p}");
            }
        }
        let c = t.counts(0);
        assert!(c.balanced() && c.acked == 2000 && c.in_flight == 0, "{c:?}");
    }
}
