//! M/M/c/K: Poisson arrivals, exponential service, c consumers, at most K messages in the
//! system (waiting + in service). A RabbitMQ queue with `max_length = m` read by c
//! consumers with prefetch 1 and manual ack holds at most `K = m + c` messages: m ready,
//! one unacknowledged per consumer. One consumer with prefetch p holds at most p (one in
//! service, p − 1 in its buffer, in order), so `K = m + p` with c = 1: M/M/1/K.
//!
//! Source: Gross, Shortle, Thompson & Harris, *Fundamentals of Queueing Theory* (4th ed.),
//! §2.5 (M/M/c/K: eq. 2.41 for p_n, the blocking probability p_K, `λ_eff = λ(1 − p_K)`,
//! Little's law with λ_eff) and §2.5's waiting-time distribution of accepted customers (a
//! mixture of Erlangs, eq. 2.44 ff.). Drop-head (push-out of the oldest **ready** message,
//! never a held one) changes which messages are served, not the count: its served-message
//! wait is our own first-step analysis of the absorbing Markov chain of a tagged message
//! (the tagged-customer method), and its distribution the same chain uniformized (a
//! phase-type distribution: Neuts, *Matrix-Geometric Solutions in Stochastic Models*, 1981;
//! uniformization: Grassmann 1977), both documented below and checked against an
//! independent dense solve and the simulator.

use super::numeric::{poisson_terms, quantile_by_bisection};

/// Largest K solved: p_n is a vector of K + 1 numbers.
pub const MAX_K: u64 = 2_000_000;

/// Largest number of ready places (`K − c`) for which the drop-head served-wait chain is
/// solved; it has about (K − c)²/2 states.
pub const MAX_DROP_HEAD_READY: u64 = 4_000;

/// A solved M/M/c/K queue. Times in seconds, rates per second.
#[derive(Debug, Clone, PartialEq)]
pub struct MmckResult {
    /// Arrival rate λ (offered).
    pub lambda: f64,
    /// Service rate of one consumer μ.
    pub mu: f64,
    /// Consumers c.
    pub c: u32,
    /// System capacity K (>= c).
    pub k: u64,
    /// `p[n]` = steady-state probability of n messages in the system, n = 0..=K.
    pub p: Vec<f64>,
    /// Probability an arrival finds the system full, p_K: the loss probability. By PASTA
    /// it is the same for drop-head and reject-publish (the state process is identical:
    /// either way the count stays at K).
    pub loss: f64,
    /// Throughput λ_eff = λ(1 − p_K).
    pub throughput: f64,
    /// Mean messages in the system L = Σ n p_n.
    pub l: f64,
    /// Mean messages waiting (ready) Lq = Σ (n − c)⁺ p_n.
    pub lq: f64,
    /// Mean busy consumers L − Lq (= λ_eff / μ).
    pub busy: f64,
    /// Mean wait of accepted messages under reject-publish, Wq = Lq / λ_eff (Little).
    pub wq: f64,
    /// Mean sojourn of accepted messages under reject-publish, W = L / λ_eff.
    pub w: f64,
    /// Tail sums `tail[n] = Σ_{m >= n, m < K} p_m / (1 − p_K)`: the probability an accepted
    /// arrival finds at least n in the system.
    tail: Vec<f64>,
}

/// Solves M/M/c/K (Gross & Harris eq. 2.41), in log space so that large c and K neither
/// overflow nor underflow: `ln w_n = ln w_{n−1} + ln(a/n)` for n <= c and `+ ln(a/c)`
/// beyond. `None` for non-finite or non-positive rates, `c == 0`, `K < c` or `K > MAX_K`.
/// Any λ is allowed (a finite system is always stable). O(K) time and memory.
pub fn mmck(lambda: f64, mu: f64, c: u32, k: u64) -> Option<MmckResult> {
    if !(lambda.is_finite() && lambda > 0.0 && mu.is_finite() && mu > 0.0 && c > 0) {
        return None;
    }
    if k < u64::from(c) || k > MAX_K {
        return None;
    }
    let a = lambda / mu;
    let cf = f64::from(c);
    let mut logw = Vec::with_capacity(k as usize + 1);
    logw.push(0.0);
    for n in 1..=k {
        let step = if n <= u64::from(c) { (a / n as f64).ln() } else { (a / cf).ln() };
        logw.push(logw[n as usize - 1] + step);
    }
    let max = logw.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    let mut p: Vec<f64> = logw.iter().map(|lw| (lw - max).exp()).collect();
    let total: f64 = p.iter().sum();
    p.iter_mut().for_each(|x| *x /= total);
    let loss = p[k as usize];
    let throughput = lambda * (1.0 - loss);
    let l: f64 = p.iter().enumerate().map(|(n, x)| n as f64 * x).sum();
    let lq: f64 = p.iter().enumerate().skip(c as usize).map(|(n, x)| (n as f64 - cf) * x).sum();
    let mut tail = vec![0.0; k as usize + 1];
    let accepted = 1.0 - loss;
    let mut acc = 0.0;
    for n in (0..k as usize).rev() {
        acc += p[n] / accepted;
        tail[n] = acc;
    }
    Some(MmckResult {
        lambda,
        mu,
        c,
        k,
        loss,
        throughput,
        l,
        lq,
        busy: l - lq,
        wq: lq / throughput,
        w: l / throughput,
        p,
        tail,
    })
}

impl MmckResult {
    /// `P(Wq > t)` for an accepted message under reject-publish and FIFO. An accepted arrival
    /// that finds n >= c in the system waits for n − c + 1 service completions at rate cμ,
    /// an Erlang(n − c + 1, cμ); so with x = cμt and π_n = p_n / (1 − p_K),
    /// `P(Wq > t) = Σ_{n=c}^{K−1} π_n P(Poisson(x) <= n − c) = Σ_j Pois_x(j)·tail[c + j]`.
    /// O(K) per call.
    pub fn wait_survival(&self, t: f64) -> f64 {
        let c = self.c as usize;
        let waiting_states = self.k as usize - c; // n = c..K−1
        if waiting_states == 0 {
            return 0.0;
        }
        if t <= 0.0 {
            return self.tail[c];
        }
        let x = f64::from(self.c) * self.mu * t;
        // Only Poisson terms within ~40 standard deviations of the mean matter (the rest
        // are below e^{-800}): O(√x) work instead of O(K) once x is large.
        let spread = 40.0 * x.sqrt() + 50.0;
        let j_lo = (x - spread).max(0.0) as usize;
        let j_hi = ((x + spread) as usize).min(waiting_states - 1);
        if j_lo > j_hi {
            return 0.0;
        }
        poisson_terms(x, j_lo, j_hi)
            .map(|(j, pj)| pj * self.tail[c + j])
            .sum::<f64>()
            .clamp(0.0, 1.0)
    }

    /// The p-quantile of an accepted message's wait under reject-publish (exact, by
    /// bisection on [`wait_survival`](MmckResult::wait_survival)); 0 when it falls in the
    /// atom of messages served at once.
    pub fn wait_quantile(&self, p: f64) -> Option<f64> {
        let scale = if self.wq > 0.0 { self.wq } else { 1.0 / self.mu };
        quantile_by_bisection(|t| self.wait_survival(t), p, scale)
    }

    /// Drop-head (RabbitMQ's default overflow) with prefetch 1: the consumers hold one
    /// message each, every other message is ready and may be dropped. See
    /// [`drop_head_holding`](MmckResult::drop_head_holding) with `held = c`.
    pub fn drop_head(&self) -> Option<DropHead> {
        self.drop_head_holding(u64::from(self.c))
    }

    /// Drop-head (RabbitMQ's default overflow): the mean wait of the messages that are
    /// **served**, and the probability a message entering the queue is served, when the
    /// consumers hold `held` messages (in service or in their prefetch buffers) that drop-head
    /// can never touch. `None` when `K − c > MAX_DROP_HEAD_READY` or `held` is not in
    /// `c..=K`.
    ///
    /// Exact for `held = c` (prefetch 1, pooled FIFO servers) and for `c = 1`, `held = p`
    /// (one consumer, prefetch p: one message in service, p − 1 in its buffer in order, and
    /// ready messages only once it holds p). With `c > 1` and `held = c·p` it is the pooled
    /// idealisation, not the real system.
    ///
    /// Under drop-head every arrival enters; when the system is full (N = K) the oldest
    /// **ready** message is dropped. The count N is the same birth–death chain as under
    /// reject-publish (so loss = p_K and the queue length agree), but served messages wait
    /// less, since old ones are dropped. Method: first-step analysis of an absorbing Markov
    /// chain of a tagged message (the tagged-customer method; cf. Gross & Harris §2.5's
    /// waiting times and the standard phase-type treatment). Positions 1..=c are in service,
    /// c+1..=held are held by a consumer (protected), held+1..=K are ready (held+1 is the
    /// head). State (w, j): the tagged message waits at position c + w with j messages
    /// behind it, w + j ≤ Q = K − c. At rate cμ a service ends: w − 1 (w = 1: its service
    /// starts, absorbed as *served*). At rate λ a message arrives: j + 1 if the system is not
    /// full; if it is full, the ready head is dropped: the tagged one itself when it is the
    /// head (absorbed as *dropped*), one ahead of it when it is behind the head ((w − 1,
    /// j + 1)), one behind it when it is held (the newcomer replaces it: no change). By PASTA
    /// an arrival finding n < c is served at once, c ≤ n < K enters at (n − c + 1, 0), and
    /// n = K enters at (Q, 0) after the head is dropped — or is itself dropped when there are
    /// no ready places (K = held). O(Q) memory, O(Q²) time.
    pub fn drop_head_holding(&self, held: u64) -> Option<DropHead> {
        let q = (self.k - u64::from(self.c)) as usize;
        if q as u64 > MAX_DROP_HEAD_READY || held < u64::from(self.c) || held > self.k {
            return None;
        }
        // Waiting positions w <= h are held by a consumer; h + 1 is the ready head.
        let h = (held - u64::from(self.c)) as usize;
        let c = self.c as usize;
        let served_at_once: f64 = self.p[..c].iter().sum();
        if q == 0 {
            // No waiting places: an arrival finding every consumer busy is dropped at once.
            return Some(DropHead { p_served: served_at_once, wq_served: 0.0, mean_wait_all: 0.0 });
        }
        let (cm, lam) = (f64::from(self.c) * self.mu, self.lambda);
        let rate = cm + lam;
        // v[w][j]: P(served); ts[w][j]: E[T·1{served}]; ta[w][j]: E[T] (time waiting until
        // served or dropped). Row j holds w = 1..=Q−j; index w−1. Successors of (w, j) are
        // (w−1, j), (w, j+1), (w−1, j+1) or (w, j) itself: sweep j downward, w upward.
        let mut v_next: Vec<f64> = Vec::new(); // row j + 1
        let mut ts_next: Vec<f64> = Vec::new();
        let mut ta_next: Vec<f64> = Vec::new();
        let mut row0 = (Vec::new(), Vec::new(), Vec::new());
        for j in (0..q).rev() {
            let len = q - j;
            let (mut v, mut ts, mut ta) = (vec![0.0; len], vec![0.0; len], vec![0.0; len]);
            for w in 1..=len {
                // Service completion: to (w − 1, j), or served when w = 1.
                let (sv, sts, sta) =
                    if w == 1 { (1.0, 0.0, 0.0) } else { (v[w - 2], ts[w - 2], ta[w - 2]) };
                if w + j == q && w <= h {
                    // Full and held: an arrival only swaps a ready message behind the tagged
                    // one for the newcomer, a self-loop, so only service moves it (rate cμ).
                    v[w - 1] = sv;
                    ts[w - 1] = sv / cm + sts;
                    ta[w - 1] = 1.0 / cm + sta;
                    continue;
                }
                let (av, ats, ata) = if w + j < q {
                    (v_next[w - 1], ts_next[w - 1], ta_next[w - 1])
                } else if w == h + 1 {
                    (0.0, 0.0, 0.0) // the tagged message is the dropped ready head
                } else {
                    (v_next[w - 2], ts_next[w - 2], ta_next[w - 2])
                };
                let vw = (cm * sv + lam * av) / rate;
                v[w - 1] = vw;
                ts[w - 1] = vw / rate + (cm * sts + lam * ats) / rate;
                ta[w - 1] = 1.0 / rate + (cm * sta + lam * ata) / rate;
            }
            if j == 0 {
                row0 = (v.clone(), ts.clone(), ta.clone());
            }
            v_next = v;
            ts_next = ts;
            ta_next = ta;
        }
        let (v0, ts0, ta0) = row0;
        let (mut p_served, mut t_served, mut t_all) = (served_at_once, 0.0, 0.0);
        for (n, &pn) in self.p.iter().enumerate().skip(c) {
            let w = match entry_position(n, c, self.k as usize, h) {
                Some(w) => w,
                None => continue, // dropped on arrival: never served, never waits
            };
            p_served += pn * v0[w - 1];
            t_served += pn * ts0[w - 1];
            t_all += pn * ta0[w - 1];
        }
        Some(DropHead {
            p_served,
            wq_served: if p_served > 0.0 { t_served / p_served } else { 0.0 },
            mean_wait_all: t_all,
        })
    }

    /// The distributions of the wait and the sojourn of **served** messages under drop-head
    /// with `held` messages protected by the consumers (as
    /// [`drop_head_holding`](MmckResult::drop_head_holding)), by uniformization of the same
    /// tagged-message chain: at total rate Λ = λ + cμ the chain jumps (or stays) N(t) ~
    /// Poisson(Λt) times by time t, so `P(W ≤ t, served) = Σ_k P(N(t) = k)·a_k` with a_k the
    /// probability that the wait has ended (service started) within k jumps of the embedded
    /// chain (Grassmann 1977; phase-type distributions, Neuts 1981). The sojourn adds the
    /// tagged message's own Exp(μ) service as one more phase. `None` when the chain is not
    /// solvable (see `drop_head_holding`) or the iteration would take more than `budget`
    /// state updates (≈ Q²/2 per jump, until all but 10⁻¹³ of the mass is absorbed).
    pub fn drop_head_distribution(&self, held: u64, budget: u64) -> Option<DropHeadDistribution> {
        let d = self.drop_head_holding(held)?;
        let q = (self.k - u64::from(self.c)) as usize;
        let h = (held - u64::from(self.c)) as usize;
        let c = self.c as usize;
        let (cm, lam, mu) = (f64::from(self.c) * self.mu, self.lambda, self.mu);
        let big = cm + lam;
        let (a, b, stay) = (cm / big, lam / big, 1.0 - mu / big);
        // Row j of the triangle holds w = 1..=Q−j.
        let off = |j: usize| j * q - j * j.saturating_sub(1) / 2;
        let idx = |w: usize, j: usize| off(j) + w - 1;
        let states = q * (q + 1) / 2;
        let mut cur = vec![0.0; states];
        // The tagged message's mass: waiting (cur), in service (s), done (served and left).
        let mut in_service: f64 = self.p[..c].iter().sum();
        let (mut started, mut done) = (in_service, 0.0);
        for (n, &pn) in self.p.iter().enumerate().skip(c) {
            if let Some(w) = entry_position(n, c, self.k as usize, h) {
                cur[idx(w, 0)] += pn;
            }
        }
        let mut wait_cdf = vec![started];
        let mut sojourn_cdf = vec![done];
        let tol = 1e-13 * d.p_served.max(1e-300);
        let mut next = vec![0.0; states];
        let mut work: u64 = 0;
        let mut remaining: f64 = cur.iter().sum::<f64>() + in_service;
        // Rows j > k are still empty after k jumps (j grows by at most one per jump).
        let mut rows = 1;
        while remaining > tol {
            // One update per active state, plus one pass to sum the remaining mass.
            work += 2 * (off((rows + 1).min(q)) + 1) as u64;
            if work > budget {
                return None;
            }
            next[..off((rows + 1).min(q))].iter_mut().for_each(|x| *x = 0.0);
            let mut to_service = 0.0;
            for j in 0..rows.min(q) {
                for w in 1..=q - j {
                    let x = cur[idx(w, j)];
                    if x == 0.0 {
                        continue;
                    }
                    if w == 1 {
                        to_service += a * x;
                    } else {
                        next[idx(w - 1, j)] += a * x;
                    }
                    let r = b * x;
                    if w + j < q {
                        next[idx(w, j + 1)] += r;
                    } else if w <= h {
                        next[idx(w, j)] += r;
                    } else if w > h + 1 {
                        next[idx(w - 1, j + 1)] += r;
                    } // else: the tagged message is the dropped ready head
                }
            }
            done += (1.0 - stay) * in_service;
            in_service = stay * in_service + to_service;
            started += to_service;
            wait_cdf.push(started);
            sojourn_cdf.push(done);
            std::mem::swap(&mut cur, &mut next);
            rows += 1;
            // Only the active rows hold mass: summing them keeps a jump O(active states).
            remaining = cur[..off(rows.min(q))].iter().sum::<f64>() + in_service;
        }
        Some(DropHeadDistribution { summary: d, mu, rate: big, wait_cdf, sojourn_cdf })
    }
}

/// The waiting position w (1 = next to start service) of a message arriving to find n ≥ c
/// in a system of capacity k with h held places beyond the c in service; `None` when it is
/// dropped on arrival (full with no ready places).
fn entry_position(n: usize, c: usize, k: usize, h: usize) -> Option<usize> {
    if n < k {
        Some(n - c + 1)
    } else if k - c > h {
        Some(k - c) // the ready head was dropped, the newcomer is last
    } else {
        None
    }
}

/// Served-message figures of M/M/c/K under drop-head.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct DropHead {
    /// Probability an arriving message is eventually served (= 1 − p_K).
    pub p_served: f64,
    /// Mean wait of served messages.
    pub wq_served: f64,
    /// Mean time waiting (ready or in a consumer's buffer) over **all** arrivals, dropped
    /// ones included (by Little's law λ times this is Lq, every message waiting).
    pub mean_wait_all: f64,
}

/// The wait and sojourn distributions of served messages under drop-head, from
/// [`MmckResult::drop_head_distribution`].
#[derive(Debug, Clone, PartialEq)]
pub struct DropHeadDistribution {
    /// The means.
    pub summary: DropHead,
    mu: f64,
    /// The uniformization rate Λ = λ + cμ.
    rate: f64,
    /// `wait_cdf[k]`: P(served and its service started within k jumps).
    wait_cdf: Vec<f64>,
    /// `sojourn_cdf[k]`: P(served and its service ended within k jumps).
    sojourn_cdf: Vec<f64>,
}

impl DropHeadDistribution {
    /// `E[1 − cdf[N]/P(served)]` with N ~ Poisson(Λt): the conditional survival at t.
    fn survival(&self, cdf: &[f64], t: f64) -> f64 {
        let total = self.summary.p_served;
        if total <= 0.0 {
            return 0.0;
        }
        let last = cdf.len() - 1;
        if t <= 0.0 {
            return (1.0 - cdf[0] / total).clamp(0.0, 1.0);
        }
        let x = self.rate * t;
        // Poisson terms beyond ~40 standard deviations are below e^{-800}.
        let spread = 40.0 * x.sqrt() + 50.0;
        let lo = (x - spread).max(0.0) as usize;
        let hi = (x + spread) as usize;
        if lo > last {
            // Past the iteration: all but 10⁻¹³ of the mass was absorbed.
            return 0.0;
        }
        // Beyond `last` the cdf is within 10⁻¹³ of its limit: those terms add nothing.
        super::numeric::poisson_terms(x, lo, hi.min(last))
            .map(|(k, pk)| pk * (1.0 - cdf[k] / total).max(0.0))
            .sum::<f64>()
            .clamp(0.0, 1.0)
    }

    /// `P(Wq > t | served)`.
    pub fn wait_survival(&self, t: f64) -> f64 {
        self.survival(&self.wait_cdf, t)
    }

    /// `P(W > t | served)`, W the sojourn (wait + own service).
    pub fn sojourn_survival(&self, t: f64) -> f64 {
        self.survival(&self.sojourn_cdf, t)
    }

    /// The p-quantile of a served message's wait.
    pub fn wait_quantile(&self, p: f64) -> Option<f64> {
        let scale =
            if self.summary.wq_served > 0.0 { self.summary.wq_served } else { 1.0 / self.mu };
        quantile_by_bisection(|t| self.wait_survival(t), p, scale)
    }

    /// The p-quantile of a served message's sojourn.
    pub fn sojourn_quantile(&self, p: f64) -> Option<f64> {
        quantile_by_bisection(
            |t| self.sojourn_survival(t),
            p,
            self.summary.wq_served + 1.0 / self.mu,
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mm1k_textbook_case() {
        // M/M/1/K, Gross & Harris eq. 2.41 with c = 1: p_n = (1−ρ)ρ^n/(1−ρ^{K+1}).
        // λ = 1, μ = 1.25 (ρ = 0.8), K = 3: p_3 = 0.2·0.512/(1−0.4096) = 0.173442...
        let r = mmck(1.0, 1.25, 1, 3).unwrap();
        let rho: f64 = 0.8;
        let denom = 1.0 - rho.powi(4);
        for n in 0..=3 {
            assert!((r.p[n] - (1.0 - rho) * rho.powi(n as i32) / denom).abs() < 1e-14);
        }
        assert!((r.loss - 0.173_441_734_417_344).abs() < 1e-12, "{}", r.loss);
        assert!((r.throughput - (1.0 - r.loss)).abs() < 1e-15);
    }

    #[test]
    fn mmck_reduces_to_erlang_b_and_to_mmc() {
        // K = c: M/M/c/c, the loss is Erlang B (Gross & Harris §2.6). B(10, 5) = 0.018384.
        let r = mmck(5.0, 1.0, 10, 10).unwrap();
        assert!((r.loss - super::super::mmc::erlang_b(10, 5.0)).abs() < 1e-14);
        assert_eq!(r.lq, 0.0);
        // K large, ρ < 1: M/M/c.
        let big = mmck(64.0, 10.0, 8, 5_000).unwrap();
        let inf = super::super::mmc::mmc(64.0, 10.0, 8).unwrap();
        assert!(big.loss < 1e-100);
        assert!((big.wq - inf.wq).abs() < 1e-12);
        for p in [0.5, 0.9, 0.99] {
            let (a, b) = (big.wait_quantile(p).unwrap(), inf.wait_quantile(p).unwrap());
            assert!((a - b).abs() < 1e-9 * b.max(1e-3), "{p}: {a} vs {b}");
        }
    }

    #[test]
    fn mmck_overloaded_is_still_solved() {
        // ρ = 2 with K = 12, c = 2: about half the offered traffic is lost.
        let r = mmck(4.0, 1.0, 2, 12).unwrap();
        assert!(r.loss > 0.45 && r.loss < 0.55, "{}", r.loss);
        assert!((r.busy - r.throughput / r.mu).abs() < 1e-12, "busy = λ_eff/μ");
    }

    #[test]
    fn wait_quantile_inverts_survival_and_mean_matches() {
        let r = mmck(9.0, 1.0, 10, 40).unwrap();
        for p in [0.5, 0.9, 0.99] {
            let q = r.wait_quantile(p).unwrap();
            if q > 0.0 {
                assert!((r.wait_survival(q) - (1.0 - p)).abs() < 1e-10);
            }
        }
        // ∫ P(Wq > t) dt = Wq.
        let (n, hi) = (100_000, 40.0);
        let h = hi / n as f64;
        let mean: f64 = (0..n).map(|i| r.wait_survival((i as f64 + 0.5) * h) * h).sum();
        assert!((mean - r.wq).abs() < 1e-6, "{mean} vs {}", r.wq);
    }

    #[test]
    fn drop_head_hand_case() {
        // c = 1, K = 2 (one ready place), λ = μ = 1: p_n = 1/3 each. An arrival finding 1
        // or 2 sits at the head; it is served (rate 1) before the next arrival pushes it out
        // (rate 1) with probability 1/2, after a mean 1/2 · 1/2 = 1/4 of E[T·1served].
        // Mean served wait = (2/3 · 1/4) / (1/3 + 2/3 · 1/2) = 1/4 (reject-publish: 1/2).
        let r = mmck(1.0, 1.0, 1, 2).unwrap();
        let d = r.drop_head().unwrap();
        assert!((d.p_served - 2.0 / 3.0).abs() < 1e-14);
        assert!((d.wq_served - 0.25).abs() < 1e-14);
        assert!((r.wq - 0.5).abs() < 1e-14);
    }

    #[test]
    fn drop_head_balances_with_little() {
        for (lam, mu, c, k) in [(9.0, 1.0, 10, 40), (3.0, 1.0, 2, 12), (0.9, 1.0, 1, 5)] {
            let r = mmck(lam, mu, c, k).unwrap();
            let d = r.drop_head().unwrap();
            // Served fraction is 1 − p_K and all ready time obeys Little: Lq = λ·E[T].
            assert!((d.p_served - (1.0 - r.loss)).abs() < 1e-12);
            assert!((lam * d.mean_wait_all - r.lq).abs() < 1e-10 * r.lq.max(1.0));
            assert!(d.wq_served <= r.wq + 1e-12, "served messages wait less under drop-head");
        }
    }

    /// The tagged-message chain written out independently, as the dense linear system
    /// `R·v(s) − Σ rate·v(s') = cμ·1{next is service}` and `R·t(s) − Σ rate·t(s') = v(s)`
    /// over positions i = c+1..=K in the system (not the waiting positions the solver uses),
    /// solved by Gaussian elimination, with p_n from the product formula. Returns
    /// (P(served), E[Wq | served]).
    fn brute_force(lam: f64, mu: f64, c: usize, k: usize, held: usize) -> (f64, f64) {
        let mut states = Vec::new();
        for i in c + 1..=k {
            for j in 0..=k - i {
                states.push((i, j));
            }
        }
        let n = states.len();
        let at = |i: usize, j: usize| states.iter().position(|&s| s == (i, j)).unwrap();
        let cm = c as f64 * mu;
        let mut a = vec![vec![0.0; n]; n];
        let mut b = vec![0.0; n];
        for (s, &(i, j)) in states.iter().enumerate() {
            a[s][s] += lam + cm;
            if i - 1 <= c {
                b[s] += cm;
            } else {
                a[s][at(i - 1, j)] -= cm;
            }
            if i + j < k {
                a[s][at(i, j + 1)] -= lam;
            } else if i <= held {
                a[s][s] -= lam;
            } else if i > held + 1 {
                a[s][at(i - 1, j + 1)] -= lam;
            }
        }
        let solve = |mut a: Vec<Vec<f64>>, mut b: Vec<f64>| {
            for col in 0..n {
                let piv = (col..n).max_by(|&x, &y| a[x][col].abs().total_cmp(&a[y][col].abs()));
                let piv = piv.unwrap();
                a.swap(col, piv);
                b.swap(col, piv);
                for row in 0..n {
                    if row != col {
                        let f = a[row][col] / a[col][col];
                        let pivot_row = a[col].clone();
                        a[row].iter_mut().zip(&pivot_row).for_each(|(x, y)| *x -= f * y);
                        b[row] -= f * b[col];
                    }
                }
            }
            (0..n).map(|i| b[i] / a[i][i]).collect::<Vec<f64>>()
        };
        let v = solve(a.clone(), b);
        let t = solve(a, v.clone());
        // p_n ∝ a^n/n! for n <= c, a^c/c!·(a/c)^{n−c} beyond (Gross & Harris eq. 2.41).
        let off = lam / mu;
        let mut p = vec![1.0];
        for m in 1..=k {
            p.push(p[m - 1] * off / (m.min(c) as f64));
        }
        let total: f64 = p.iter().sum();
        let (mut served, mut time) = (p[..c].iter().sum::<f64>() / total, 0.0);
        for (m, pm) in p.iter().enumerate().skip(c) {
            let entry = if m < k {
                Some(m + 1)
            } else if k > held {
                Some(k)
            } else {
                None
            };
            if let Some(i) = entry {
                served += pm / total * v[at(i, 0)];
                time += pm / total * t[at(i, 0)];
            }
        }
        (served, time / served)
    }

    #[test]
    fn drop_head_chain_matches_an_independent_dense_solve() {
        // (λ, μ, c, K, held): one consumer with prefetch p (held = p, K = m + p), prefetch 1
        // pools (held = c), and the extremes m = 0 and m = 1.
        for (lam, mu, c, k, held) in [
            (1.0, 1.0 / 0.9, 1, 8, 5),
            (1.0, 1.25, 1, 3, 2),
            (2.0, 1.0, 1, 15, 10),
            (0.5, 1.0, 1, 6, 6),
            (3.0, 1.0, 2, 12, 2),
            (9.0, 1.0, 10, 16, 10),
            (1.0, 1.0, 1, 2, 1),
        ] {
            let r = mmck(lam, mu, c, k).unwrap();
            let d = r.drop_head_holding(held).unwrap();
            let (served, wq) = brute_force(lam, mu, c as usize, k as usize, held as usize);
            let case = format!("λ={lam} μ={mu} c={c} K={k} held={held}");
            assert!((d.p_served - served).abs() < 1e-12, "{case}: {} vs {served}", d.p_served);
            assert!(
                (d.wq_served - wq).abs() < 1e-10 * wq.max(1.0),
                "{case}: {} vs {wq}",
                d.wq_served
            );
            // Every arrival at N = K loses exactly one message, whichever it is.
            assert!((d.p_served - (1.0 - r.loss)).abs() < 1e-12, "{case}");
            // All waiting time (held or ready, served or dropped) obeys Little: Lq = λ·E[T].
            assert!((lam * d.mean_wait_all - r.lq).abs() < 1e-10 * r.lq.max(1.0), "{case}");
            // Protecting more messages from drop-head keeps older ones: longer served waits,
            // never longer than reject-publish's (nothing pushed out).
            if held > u64::from(c) {
                assert!(d.wq_served > r.drop_head().unwrap().wq_served, "{case}");
            }
            assert!(d.wq_served <= r.wq + 1e-12, "{case}");
        }
    }

    #[test]
    fn drop_head_with_all_places_held_is_reject_publish() {
        // m = 0: no ready place, so drop-head only ever drops the newcomer, exactly as
        // reject-publish would: the served wait is reject-publish's.
        let r = mmck(0.5, 1.0, 1, 6).unwrap();
        let d = r.drop_head_holding(6).unwrap();
        assert!((d.wq_served - r.wq).abs() < 1e-12, "{} vs {}", d.wq_served, r.wq);
        assert!(r.drop_head_holding(7).is_none() && r.drop_head_holding(0).is_none());
    }

    #[test]
    fn drop_head_distribution_integrates_to_its_means_and_inverts() {
        for (lam, mu, c, k, held) in
            [(1.0, 1.0 / 0.9, 1, 8, 5), (3.0, 1.0, 2, 12, 2), (12.0, 10.0, 1, 15, 10)]
        {
            let r = mmck(lam, mu, c, k).unwrap();
            let dist = r.drop_head_distribution(held, u64::MAX).unwrap();
            let d = dist.summary;
            // The wait ends for exactly the served mass: the iteration agrees with the
            // linear solve.
            let last = *dist.wait_cdf.last().unwrap();
            assert!((last - d.p_served).abs() < 1e-12, "{last} vs {}", d.p_served);
            // ∫ P(X > t) dt = E[X] for the wait and for the sojourn (wait + Exp(μ)).
            let hi = 60.0 * (d.wq_served + 1.0 / mu);
            let steps = 20_000;
            let h = hi / f64::from(steps);
            let integral = |f: &dyn Fn(f64) -> f64| {
                (0..steps).map(|i| f((f64::from(i) + 0.5) * h) * h).sum::<f64>()
            };
            let wq = integral(&|t| dist.wait_survival(t));
            let w = integral(&|t| dist.sojourn_survival(t));
            assert!(
                (wq - d.wq_served).abs() < 1e-6 * d.wq_served.max(1.0),
                "{wq} vs {}",
                d.wq_served
            );
            let want = d.wq_served + 1.0 / mu;
            assert!((w - want).abs() < 1e-6 * want, "{w} vs {want}");
            for p in [0.5, 0.9, 0.99, 0.999] {
                let q = dist.wait_quantile(p).unwrap();
                if q > 0.0 {
                    assert!((dist.wait_survival(q) - (1.0 - p)).abs() < 1e-9, "p={p}");
                }
                let s = dist.sojourn_quantile(p).unwrap();
                assert!((dist.sojourn_survival(s) - (1.0 - p)).abs() < 1e-9, "p={p}");
                assert!(s >= q);
            }
        }
        // A budget too small for the chain: no distribution, rather than a slow one.
        let r = mmck(1.0, 1.0, 1, 200).unwrap();
        assert!(r.drop_head_distribution(5, 1_000).is_none());
    }
}
