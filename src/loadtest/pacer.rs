//! Waiting until an instant precisely: sleep for most of the way, then yield-spin the last
//! stretch, because Linux sleeps overshoot by tens of microseconds (timer slack), which at
//! a small `time_scale` is several percent of a millisecond-long service time.
//!
//! On a machine shared with other work, the overshoot that matters is the scheduler's: a
//! woken thread waits for a core behind every runnable process, and a yield hands the core
//! away for a whole time slice. So each pacing thread asks, once, for a timer slack of 1 ns
//! and for the lowest real-time priority (`SCHED_RR` 1), which runs it ahead of ordinary
//! processes — a core is then free for it whenever it wakes. The real-time class needs
//! root or `CAP_SYS_NICE`; without it the thread paces as an ordinary one. Measured on a
//! 2-core machine at load 6–7 (docs/architecture.md), the total service error at 1 ms mean
//! services went from +0.6…+25% to +0.1…+0.2%. It cannot starve the machine: a pacing
//! thread sleeps but for the last few hundred microseconds of each wait, and Linux keeps
//! 5% of every second for ordinary processes whatever real-time threads do.

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

/// Whether a pacing thread got the real-time class: unknown until one asked.
static REALTIME: std::sync::OnceLock<bool> = std::sync::OnceLock::new();

/// Did the pacing threads get real-time priority? `None` before any asked (no real-clock
/// run yet in this process).
pub fn realtime() -> Option<bool> {
    REALTIME.get().copied()
}

/// Timer slack of 1 ns and `SCHED_RR` priority 1 for the calling thread, as far as allowed.
#[cfg(target_os = "linux")]
fn prefer_this_thread() {
    // SAFETY: both calls take plain integers and a pointer to a live `sched_param`, and
    // affect only the calling thread (pid 0); a refusal leaves the thread as it was.
    let granted = unsafe {
        libc::prctl(libc::PR_SET_TIMERSLACK, 1 as libc::c_ulong, 0, 0, 0);
        let param = libc::sched_param { sched_priority: 1 };
        libc::sched_setscheduler(0, libc::SCHED_RR, &param) == 0
    };
    let _ = REALTIME.set(granted);
}

#[cfg(not(target_os = "linux"))]
fn prefer_this_thread() {
    let _ = REALTIME.set(false);
}

/// One thread's precise waiter; it learns that thread's sleep overshoot.
#[derive(Debug)]
pub(crate) struct Pacer {
    /// Exponentially weighted mean of how much a sleep overshoots, in seconds.
    overshoot: f64,
}

impl Pacer {
    /// A waiter for the calling thread, which it moves to the real-time class if it may
    /// (see the module docs): call it on the thread that will wait.
    pub(crate) fn new() -> Self {
        prefer_this_thread();
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
