//! Arrival processes: when a producer publishes next. One implementation, used by the
//! simulator (`sim::engine`) and the real-clock load test (`loadtest::ArrivalSchedule`), so
//! both publish at the same instants from the same random stream.
//!
//! A renewal process (`{ dist = … }`, the first edition's) draws one gap per publish exactly
//! as before, so a stationary scenario's draws and outputs are unchanged. The second
//! edition's processes are exact samplers of their point process:
//! - `schedule`: piecewise-constant Poisson rates repeating every period, sampled by
//!   inverting the cumulative rate Λ(t): one unit exponential E per publish, and the next
//!   publish is where Λ grows by E (Çinlar 1975, *Introduction to Stochastic Processes*,
//!   §4.7: a non-homogeneous Poisson process is a unit-rate one in the time Λ(t)).
//! - `sinusoid`: rate(t) = m (1 + a sin(2π t / P)), sampled by thinning a Poisson process of
//!   rate m (1 + a) (Lewis & Shedler 1979, "Simulation of nonhomogeneous Poisson processes
//!   by thinning", *Naval Res. Logist. Q.* 26(3)).
//! - `mmpp`: a Markov-modulated Poisson process whose states are visited in a cycle
//!   0 → 1 → … → 0 with exponential sojourns; within a state, Poisson at its rate (by
//!   memorylessness a candidate gap beyond the switch is discarded and redrawn after it).
//! - `trace`: the recorded publish times, replayed once (no publish after the last one).
//!
//! No I/O here: a trace's times are read by the scenario's caller and handed over as numbers.

use crate::dist::{Dist, fmt_secs};
use rand::{Rng, RngExt};
use rand_distr::{Distribution, Exp1};
use std::sync::Arc;

/// A producer's arrival process, validated, times in seconds.
#[derive(Debug, Clone)]
pub enum Arrival {
    /// Independent gaps from one distribution (the first edition's `{ dist = … }`).
    Renewal(Dist),
    /// Piecewise-constant Poisson rates repeating every period.
    Schedule(Schedule),
    /// Poisson with rate `mean_rate (1 + amplitude sin(2π t / period))`.
    Sinusoid {
        /// Mean rate, per second.
        mean_rate: f64,
        /// Relative amplitude, 0..=1.
        amplitude: f64,
        /// Period, seconds.
        period: f64,
    },
    /// Markov-modulated Poisson process, states visited in a cycle.
    Mmpp(Mmpp),
    /// Recorded publish times, seconds, non-decreasing.
    Trace(Trace),
}

/// A `schedule`: rate `rates[i]` from `starts[i]` to the next start (the last to `period`).
#[derive(Debug, Clone, PartialEq)]
pub struct Schedule {
    /// The repeat period, seconds.
    pub period: f64,
    /// Start of each piece within the period, seconds; the first is 0, strictly increasing.
    pub starts: Vec<f64>,
    /// Rate of each piece, per second (may be 0).
    pub rates: Vec<f64>,
    /// Expected publishes per period, Λ(period).
    per_period: f64,
}

impl Schedule {
    /// A schedule; the caller has checked that `starts` begins at 0, increases strictly
    /// and stays below `period`, and that every rate is finite and ≥ 0.
    pub fn new(period: f64, starts: Vec<f64>, rates: Vec<f64>) -> Self {
        let per_period =
            (0..starts.len()).map(|i| rates[i] * (Self::end(&starts, period, i) - starts[i])).sum();
        Schedule { period, starts, rates, per_period }
    }

    fn end(starts: &[f64], period: f64, i: usize) -> f64 {
        starts.get(i + 1).copied().unwrap_or(period)
    }

    /// The rate in force at time `t`.
    pub fn rate_at(&self, t: f64) -> f64 {
        let off = t - (t / self.period).floor() * self.period;
        let i = self.starts.partition_point(|&s| s <= off).max(1) - 1;
        self.rates[i]
    }

    /// Long-run mean rate, per second.
    pub fn mean_rate(&self) -> f64 {
        self.per_period / self.period
    }
}

/// An `mmpp`: state `i` has Poisson rate `rates[i]` and lasts an exponential time of mean
/// `mean_durations[i]`; the states follow each other in a cycle.
#[derive(Debug, Clone, PartialEq)]
pub struct Mmpp {
    /// Rate in each state, per second (at least one > 0).
    pub rates: Vec<f64>,
    /// Mean sojourn in each state, seconds.
    pub mean_durations: Vec<f64>,
}

impl Mmpp {
    /// Long-run mean rate: each state's rate weighted by its share of time.
    pub fn mean_rate(&self) -> f64 {
        let t: f64 = self.mean_durations.iter().sum();
        self.rates.iter().zip(&self.mean_durations).map(|(r, d)| r * d).sum::<f64>() / t
    }
}

/// A recorded trace: publish times and the rate they make over the simulated horizon.
#[derive(Debug, Clone, PartialEq)]
pub struct Trace {
    /// Publish times, seconds, non-decreasing, ≥ 0.
    pub times: Arc<[f64]>,
    /// Publishes per second over `[0, horizon]` (the ones after it never happen).
    pub mean_rate: f64,
}

/// Where a producer stands in its process: one per producer and replication.
#[derive(Debug, Clone, Default)]
pub struct ArrivalState {
    /// Time of the last publish (0 before the first).
    now: f64,
    /// `schedule`: the current piece; `mmpp`: the current state; `trace`: the next index.
    index: usize,
    /// `schedule`: start of the current period; `mmpp`: when the current state ends.
    mark: f64,
}

impl Arrival {
    /// The state at time 0. An `mmpp` starts in state 0 and draws its first sojourn here.
    pub fn start<R: Rng + ?Sized>(&self, rng: &mut R) -> ArrivalState {
        let mark = match self {
            Arrival::Mmpp(m) => exp1(rng) * m.mean_durations[0],
            _ => 0.0,
        };
        ArrivalState { now: 0.0, index: 0, mark }
    }

    /// The time of the next publish, after the last one; `None` when there is none (a
    /// trace replayed to its end, a schedule whose rates are all 0).
    #[inline(always)]
    pub fn next<R: Rng + ?Sized>(&self, st: &mut ArrivalState, rng: &mut R) -> Option<f64> {
        if let Arrival::Renewal(d) = self {
            // As the first edition's engine: the previous instant plus one gap. Inlined
            // into the caller's loop; the processes below stay out of line, so that a
            // stationary run does not pay for their code.
            st.now += d.sample(rng);
            return Some(st.now);
        }
        self.next_of_process(st, rng)
    }

    #[inline(never)]
    fn next_of_process<R: Rng + ?Sized>(&self, st: &mut ArrivalState, rng: &mut R) -> Option<f64> {
        match self {
            // Only reached through `next`, which serves renewals itself.
            Arrival::Renewal(_) => self.next(st, rng),
            Arrival::Schedule(s) => schedule_next(s, st, rng),
            Arrival::Sinusoid { mean_rate, amplitude, period } => {
                let max = mean_rate * (1.0 + amplitude);
                let w = std::f64::consts::TAU / period;
                loop {
                    st.now += exp1(rng) / max;
                    let rate = mean_rate * (1.0 + amplitude * (w * st.now).sin());
                    if rng.random::<f64>() * max < rate {
                        return Some(st.now);
                    }
                }
            }
            Arrival::Mmpp(m) => loop {
                let r = m.rates[st.index];
                if r > 0.0 {
                    let t = st.now + exp1(rng) / r;
                    if t < st.mark {
                        st.now = t;
                        return Some(t);
                    }
                }
                st.now = st.mark;
                st.index = (st.index + 1) % m.rates.len();
                st.mark = st.now + exp1(rng) * m.mean_durations[st.index];
            },
            Arrival::Trace(t) => {
                let next = t.times.get(st.index).copied();
                st.index += 1;
                next
            }
        }
    }

    /// Long-run publishes per second (a trace's over the simulated horizon).
    pub fn mean_rate(&self) -> f64 {
        match self {
            Arrival::Renewal(d) => {
                let m = d.mean();
                if m > 0.0 { 1.0 / m } else { f64::INFINITY }
            }
            Arrival::Schedule(s) => s.mean_rate(),
            Arrival::Sinusoid { mean_rate, .. } => *mean_rate,
            Arrival::Mmpp(m) => m.mean_rate(),
            Arrival::Trace(t) => t.mean_rate,
        }
    }

    /// Mean time between publishes in the long run, seconds: `1 / mean_rate`.
    pub fn mean(&self) -> f64 {
        match self {
            Arrival::Renewal(d) => d.mean(),
            other => 1.0 / other.mean_rate(),
        }
    }

    /// The squared coefficient of variation of the gaps for a renewal process; the other
    /// processes are locally Poisson (1), which is what a stationary model at their mean
    /// rate assumes (the analytic back end says so and treats an `mmpp` on its own).
    pub fn scv(&self) -> f64 {
        match self {
            Arrival::Renewal(d) => d.scv(),
            _ => 1.0,
        }
    }

    /// True for a homogeneous Poisson process (an exponential renewal process).
    pub fn is_exponential(&self) -> bool {
        matches!(self, Arrival::Renewal(d) if d.is_exponential())
    }

    /// True for a renewal process (stationary, independent gaps).
    pub fn is_renewal(&self) -> bool {
        matches!(self, Arrival::Renewal(_))
    }

    /// True when the rate changes with the clock (`schedule`, `sinusoid`, `trace`): a
    /// long-run answer averages over peaks and troughs.
    pub fn is_time_varying(&self) -> bool {
        matches!(self, Arrival::Schedule(_) | Arrival::Sinusoid { .. } | Arrival::Trace(_))
    }

    /// A short human label, e.g. `exponential(mean=100ms)` or `mmpp(2 states, mean 9/s)`.
    pub fn label(&self) -> String {
        match self {
            Arrival::Renewal(d) => d.label(),
            Arrival::Schedule(s) => format!(
                "schedule({} pieces over {}, mean {}/s)",
                s.rates.len(),
                fmt_secs(s.period),
                fmt_rate(s.mean_rate())
            ),
            Arrival::Sinusoid { mean_rate, amplitude, period } => format!(
                "sinusoid(mean {}/s, amplitude {amplitude}, period {})",
                fmt_rate(*mean_rate),
                fmt_secs(*period)
            ),
            Arrival::Mmpp(m) => {
                format!("mmpp({} states, mean {}/s)", m.rates.len(), fmt_rate(m.mean_rate()))
            }
            Arrival::Trace(t) => {
                format!("trace({} publishes, {}/s)", t.times.len(), fmt_rate(t.mean_rate))
            }
        }
    }
}

fn fmt_rate(r: f64) -> String {
    let s = format!("{r:.3}");
    s.trim_end_matches('0').trim_end_matches('.').to_string()
}

#[inline]
fn exp1<R: Rng + ?Sized>(rng: &mut R) -> f64 {
    Exp1.sample(rng)
}

/// Inverts the cumulative rate from the last publish: walks the pieces, spending a unit
/// exponential's worth of expected publishes; whole periods are skipped in one step.
fn schedule_next<R: Rng + ?Sized>(s: &Schedule, st: &mut ArrivalState, rng: &mut R) -> Option<f64> {
    if s.per_period <= 0.0 {
        return None;
    }
    let mut e: f64 = exp1(rng);
    // The piece of the last publish: `st.index` within the period starting at `st.mark`.
    let (mut base, mut i, mut t) = (st.mark, st.index, st.now);
    if e >= s.per_period {
        let k = (e / s.per_period).floor();
        e -= k * s.per_period;
        base += k * s.period;
        t += k * s.period;
    }
    loop {
        let end = base + Schedule::end(&s.starts, s.period, i);
        let r = s.rates[i];
        let mass = r * (end - t);
        if e < mass {
            t += e / r;
            // Rounding can put t at the piece's end; it still belongs to this piece's draw.
            let t = t.min(end);
            *st = ArrivalState { now: t, index: i, mark: base };
            return Some(t);
        }
        e -= mass;
        t = end;
        i += 1;
        if i == s.starts.len() {
            i = 0;
            base += s.period;
            // Exact bookkeeping: the next period starts where the last piece ended.
            t = base;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use rand::rngs::Xoshiro256PlusPlus;

    fn counts(a: &Arrival, horizon: f64, bins: usize) -> Vec<u64> {
        let mut rng = Xoshiro256PlusPlus::seed_from_u64(11);
        let mut st = a.start(&mut rng);
        let mut c = vec![0u64; bins];
        let mut last = 0.0;
        while let Some(t) = a.next(&mut st, &mut rng) {
            assert!(t >= last, "times go forward");
            last = t;
            if t >= horizon {
                break;
            }
            c[(t / horizon * bins as f64) as usize] += 1;
        }
        c
    }

    #[test]
    fn schedule_follows_its_rates_piece_by_piece() {
        // 10/s for 20 s, nothing for 10 s, 40/s for 10 s; repeated 250 times.
        let s = Schedule::new(40.0, vec![0.0, 20.0, 30.0], vec![10.0, 0.0, 40.0]);
        assert!((s.mean_rate() - 15.0).abs() < 1e-12);
        let a = Arrival::Schedule(s.clone());
        let horizon = 40.0 * 250.0;
        let c = counts(&a, horizon, 250 * 4);
        // Per 10-second quarter of the period: expected 100, 100, 0, 400.
        let mut per_quarter = [0u64; 4];
        for (k, n) in c.iter().enumerate() {
            per_quarter[k % 4] += n;
        }
        for (q, want) in [100.0, 100.0, 0.0, 400.0].iter().enumerate() {
            let got = per_quarter[q] as f64 / 250.0;
            // Poisson: sd of a 250-period mean is sqrt(want / 250) ≤ 1.3; 5 sd.
            assert!((got - want).abs() <= 5.0 * (want / 250.0f64).sqrt() + 1e-9, "{q}: {got}");
        }
        assert_eq!(s.rate_at(25.0), 0.0);
        assert_eq!(s.rate_at(45.0), 10.0);
    }

    #[test]
    fn schedule_of_zero_rates_never_publishes() {
        let a = Arrival::Schedule(Schedule::new(10.0, vec![0.0], vec![0.0]));
        let mut rng = Xoshiro256PlusPlus::seed_from_u64(1);
        let mut st = a.start(&mut rng);
        assert_eq!(a.next(&mut st, &mut rng), None);
    }

    #[test]
    fn sinusoid_peaks_a_quarter_period_in() {
        let a = Arrival::Sinusoid { mean_rate: 50.0, amplitude: 0.8, period: 100.0 };
        let c = counts(&a, 100.0 * 200.0, 200 * 4);
        let mut q = [0u64; 4];
        for (k, n) in c.iter().enumerate() {
            q[k % 4] += n;
        }
        // ∫ over each quarter of m(1 + a sin): 25 m (1 ± 2a/π) per period.
        let hi = 25.0 * 50.0 * (1.0 + 1.6 / std::f64::consts::PI) * 200.0;
        let lo = 25.0 * 50.0 * (1.0 - 1.6 / std::f64::consts::PI) * 200.0;
        for (k, want) in [hi, hi, lo, lo].iter().enumerate() {
            let got = q[k] as f64;
            assert!((got - want).abs() < 5.0 * want.sqrt(), "{k}: {got} vs {want}");
        }
    }

    #[test]
    fn mmpp_spends_time_and_publishes_in_proportion() {
        let m = Mmpp { rates: vec![4.0, 14.0], mean_durations: vec![20.0, 20.0] };
        assert!((m.mean_rate() - 9.0).abs() < 1e-12);
        let a = Arrival::Mmpp(m);
        let total: u64 = counts(&a, 200_000.0, 1).iter().sum();
        // 1.8 M expected; the count's sd is dominated by the modulation (≈ 1.8e6 · 2.4 %),
        // far below the 5 % margin.
        let rate = total as f64 / 200_000.0;
        assert!((rate - 9.0).abs() < 0.45, "{rate}");
    }

    #[test]
    fn trace_replays_its_times_then_stops() {
        let a = Arrival::Trace(Trace { times: vec![0.0, 0.5, 0.5, 2.0].into(), mean_rate: 2.0 });
        let mut rng = Xoshiro256PlusPlus::seed_from_u64(1);
        let mut st = a.start(&mut rng);
        let got: Vec<f64> = std::iter::from_fn(|| a.next(&mut st, &mut rng)).collect();
        assert_eq!(got, vec![0.0, 0.5, 0.5, 2.0]);
    }

    #[test]
    fn renewal_draws_as_the_first_edition() {
        let d = Dist::exponential(0.1).unwrap();
        let a = Arrival::Renewal(d.clone());
        let (mut r1, mut r2) =
            (Xoshiro256PlusPlus::seed_from_u64(5), Xoshiro256PlusPlus::seed_from_u64(5));
        let mut st = a.start(&mut r1);
        let mut now = 0.0;
        for _ in 0..100 {
            now += d.sample(&mut r2);
            assert_eq!(a.next(&mut st, &mut r1), Some(now));
        }
    }
}
