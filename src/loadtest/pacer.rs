//! Waiting until an instant precisely: sleep for most of the way, then yield-spin the last
//! stretch, because Linux sleeps overshoot by tens of microseconds (timer slack), which at
//! a small `time_scale` is several percent of a millisecond-long service time.

use std::sync::atomic::{AtomicBool, Ordering};
use std::thread;
use std::time::{Duration, Instant};

/// Shortest and longest stretch spun rather than slept. Spinning costs a core, and on a
/// small shared machine with dozens of consumer threads it must stay short, so the margin
/// follows the overshoot actually observed, within these bounds.
const MIN_MARGIN: Duration = Duration::from_micros(60);
const MAX_MARGIN: Duration = Duration::from_micros(400);
/// Below this, spin without yielding: on a busy machine a yield can hand the core to another
/// process for a whole time slice, which would turn a few microseconds into milliseconds.
const PURE_SPIN: Duration = Duration::from_micros(30);
/// Longest single sleep, so a stop request is noticed within this time.
const MAX_SLEEP: Duration = Duration::from_millis(20);

/// One thread's precise waiter; it learns that thread's sleep overshoot.
#[derive(Debug)]
pub(crate) struct Pacer {
    /// Exponentially weighted mean of how much a sleep overshoots, in seconds.
    overshoot: f64,
}

impl Pacer {
    pub(crate) fn new() -> Self {
        Pacer { overshoot: 60e-6 }
    }

    fn margin(&self) -> Duration {
        // Twice the mean overshoot covers most wake-ups without spinning for long.
        Duration::from_secs_f64(2.0 * self.overshoot).clamp(MIN_MARGIN, MAX_MARGIN)
    }

    /// Waits until `deadline`; returns `false` early (without reaching it) if `stop` is set.
    pub(crate) fn wait_until(&mut self, deadline: Instant, stop: &AtomicBool) -> bool {
        loop {
            if stop.load(Ordering::Relaxed) {
                return false;
            }
            let now = Instant::now();
            if now >= deadline {
                return true;
            }
            let left = deadline - now;
            let margin = self.margin();
            if left > margin {
                let nap = (left - margin).min(MAX_SLEEP);
                thread::sleep(nap);
                let over = now.elapsed().saturating_sub(nap).as_secs_f64();
                // Large overshoots are the scheduler (a loaded machine), not timer slack:
                // cap them so one descheduling does not make every later wait spin long.
                self.overshoot = 0.9 * self.overshoot + 0.1 * over.min(1e-3);
            } else if left > PURE_SPIN {
                thread::yield_now();
            } else {
                std::hint::spin_loop();
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    #[ignore = "real-clock precision: run alone on a quiet machine (see .ci/run)"]
    fn realclock_pacer_waits_precisely_and_stops_early() {
        let _serial = crate::broker::tests::cpu_heavy();
        let stop = AtomicBool::new(false);
        let mut p = Pacer::new();
        let (mut paced, mut slept) = (Vec::new(), Vec::new());
        for _ in 0..21 {
            let deadline = Instant::now() + Duration::from_millis(2);
            assert!(p.wait_until(deadline, &stop));
            // Never early (`-` would panic if it were).
            paced.push(Instant::now() - deadline);
            let deadline = Instant::now() + Duration::from_millis(2);
            thread::sleep(Duration::from_millis(2));
            slept.push(Instant::now() - deadline);
        }
        // Medians, not worst cases: another process may take the core at any moment on a
        // shared machine. Precise when the machine lets it be, and never worse than a
        // plain sleep in the same conditions.
        paced.sort();
        slept.sort();
        let (paced, slept) = (paced[10], slept[10]);
        assert!(
            paced < Duration::from_micros(200) || paced <= slept,
            "median lateness {paced:?}, plain sleep {slept:?}"
        );
        stop.store(true, Ordering::Relaxed);
        let t = Instant::now();
        assert!(!p.wait_until(t + Duration::from_secs(10), &stop));
        assert!(t.elapsed() < Duration::from_secs(1));
    }
}
