//! M/M/c/K: Poisson arrivals, exponential service, c consumers, at most K messages in the
//! system (waiting + in service). A RabbitMQ queue with `max_length = m` read by c
//! consumers with prefetch 1 and manual ack holds at most `K = m + c` messages: m ready,
//! one unacknowledged per consumer.
//!
//! Source: Gross, Shortle, Thompson & Harris, *Fundamentals of Queueing Theory* (4th ed.),
//! §2.5 (M/M/c/K: eq. 2.41 for p_n, the blocking probability p_K, `λ_eff = λ(1 − p_K)`,
//! Little's law with λ_eff) and §2.5's waiting-time distribution of accepted customers (a
//! mixture of Erlangs, eq. 2.44 ff.). The drop-head (push-out) served-wait computation is
//! our own first-step analysis of an absorbing Markov chain, documented below.

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

    /// Drop-head (RabbitMQ's default overflow): the mean wait of the messages that are
    /// **served**, and the probability a message entering the queue is served. `None` when
    /// `K − c > MAX_DROP_HEAD_READY`.
    ///
    /// Under drop-head every arrival enters; when the system is full the oldest ready
    /// message is dropped. Loss probability and queue length equal reject-publish's (same
    /// state process) but served messages wait less, since the old ones are the ones
    /// dropped. First-step analysis of a tagged message: state (j, m) = its position j in
    /// the ready queue (1 = head) and m ready messages behind it, Q = K − c ready places.
    /// From (j, m), at rate cμ a service ends and it moves to j − 1 (j = 1: its service
    /// starts, absorbed as *served*); at rate λ a message arrives: m + 1 if j + m < Q, else
    /// the head is dropped (j = 1: the tagged one, absorbed as *dropped*; otherwise
    /// (j − 1, m + 1)). By PASTA an arrival finding n < c is served at once, c <= n < K
    /// enters at (n − c + 1, 0), n = K enters at (Q, 0) after the head is dropped.
    pub fn drop_head(&self) -> Option<DropHead> {
        let q = (self.k - u64::from(self.c)) as usize;
        if q as u64 > MAX_DROP_HEAD_READY {
            return None;
        }
        let c = self.c as usize;
        let served_at_once: f64 = self.p[..c].iter().sum();
        if q == 0 {
            // No ready places: an arrival finding every consumer busy is dropped at once.
            return Some(DropHead {
                p_served: served_at_once,
                wq_served: 0.0,
                mean_ready_time_all: 0.0,
            });
        }
        let (cm, lam) = (f64::from(self.c) * self.mu, self.lambda);
        let rate = cm + lam;
        // v[j][m]: P(served); ts[j][m]: E[T·1{served}]; ta[j][m]: E[T] (time in the ready
        // queue until served or dropped). Row m holds j = 1..=Q−m; index j−1.
        // Successors of (j, m) are (j−1, m), (j, m+1) or (j−1, m+1): sweep m downward.
        let mut v_next: Vec<f64> = Vec::new(); // row m + 1
        let mut ts_next: Vec<f64> = Vec::new();
        let mut ta_next: Vec<f64> = Vec::new();
        let mut row0 = (Vec::new(), Vec::new(), Vec::new());
        for m in (0..q).rev() {
            let len = q - m;
            let (mut v, mut ts, mut ta) = (vec![0.0; len], vec![0.0; len], vec![0.0; len]);
            for j in 1..=len {
                // Service completion: to (j − 1, m), or served when j = 1.
                let (sv, sts, sta) =
                    if j == 1 { (1.0, 0.0, 0.0) } else { (v[j - 2], ts[j - 2], ta[j - 2]) };
                // Arrival.
                let (av, ats, ata) = if j + m < q {
                    (v_next[j - 1], ts_next[j - 1], ta_next[j - 1])
                } else if j == 1 {
                    (0.0, 0.0, 0.0) // the tagged message is the dropped head
                } else {
                    (v_next[j - 2], ts_next[j - 2], ta_next[j - 2])
                };
                let vj = (cm * sv + lam * av) / rate;
                v[j - 1] = vj;
                ts[j - 1] = vj / rate + (cm * sts + lam * ats) / rate;
                ta[j - 1] = 1.0 / rate + (cm * sta + lam * ata) / rate;
            }
            if m == 0 {
                row0 = (v.clone(), ts.clone(), ta.clone());
            }
            v_next = v;
            ts_next = ts;
            ta_next = ta;
        }
        let (v0, ts0, ta0) = row0;
        let (mut p_served, mut t_served, mut t_all) = (served_at_once, 0.0, 0.0);
        for n in c..=self.k as usize {
            let j = if n < self.k as usize { n - c + 1 } else { q };
            p_served += self.p[n] * v0[j - 1];
            t_served += self.p[n] * ts0[j - 1];
            t_all += self.p[n] * ta0[j - 1];
        }
        Some(DropHead {
            p_served,
            wq_served: if p_served > 0.0 { t_served / p_served } else { 0.0 },
            mean_ready_time_all: t_all,
        })
    }
}

/// Served-message figures of M/M/c/K under drop-head.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct DropHead {
    /// Probability an arriving message is eventually served (= 1 − p_K).
    pub p_served: f64,
    /// Mean wait of served messages.
    pub wq_served: f64,
    /// Mean time in the ready queue over **all** arrivals, dropped ones included (by
    /// Little's law λ times this is Lq).
    pub mean_ready_time_all: f64,
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
            assert!((lam * d.mean_ready_time_all - r.lq).abs() < 1e-10 * r.lq.max(1.0));
            assert!(d.wq_served <= r.wq + 1e-12, "served messages wait less under drop-head");
        }
    }
}
