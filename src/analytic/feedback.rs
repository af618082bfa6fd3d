//! Redeliveries: Bernoulli feedback (a consumer requeues a message it could not process)
//! and a retry loop through a delay station with an optional delivery limit.
//!
//! - [`mmc_requeue`]: M/M/c where after each processing attempt, independently with
//!   probability p, the message is requeued **to the head** (RabbitMQ `basic.nack` /
//!   `reject` with `requeue = true`): it is taken again at once (the consumer that
//!   released it is free, and it is first in line), so its total processing is a
//!   geometric sum of G ~ Geometric(1 − p) independent Exp(μ) times, which is exactly
//!   Exp(μ(1 − p)) (Feller vol. 2, or Takács, "A single-server queue with feedback",
//!   *Bell System Tech. J.* 42 (1963), who treats the general-service M/G/1 case). So the
//!   queue is M/M/c with service rate μ(1 − p), order of service unchanged: sojourn
//!   = Wq(M/M/c, μ(1−p)) + 1/(μ(1−p)) exactly, in distribution too. The wait until the
//!   final attempt starts is `Wq + (E[G] − 1)/μ = sojourn − 1/μ` (the final attempt is an
//!   ordinary Exp(μ), since the requeue decision does not depend on its length). With
//!   requeue to the tail instead (Takács's feedback), the number in the system is the same
//!   birth–death chain, so the mean sojourn (Little) is the same; the split into waits is
//!   not.
//! - [`retry_loop`]: a work queue (FIFO, c consumers, Exp(μ)) fed by Poisson(λ₀); each
//!   delivery fails independently with probability p; a failed message goes to a delay
//!   station (a retry/dead-letter queue with a TTL, modelled as an infinite-server station
//!   with any delay distribution of mean d) and then back to the work queue. With a
//!   delivery limit L, a message failing its L-th delivery goes to a parking lot instead.
//!   Traffic equations: the j-th delivery happens with probability p^{j−1}, so
//!   `λ_work = λ₀ Σ_{j=0}^{L−1} p^j = λ₀(1 − p^L)/(1 − p)` (L = ∞: λ₀/(1−p)), parking rate
//!   `λ₀p^L`, success rate `λ₀(1 − p^L)`, retry (delay-station) rate `λ_work − λ₀`.
//!
//!   Why the work queue is exactly M/M/c at λ_work: with a limit, routing after a failure
//!   depends on a message's history, which plain Jackson networks do not allow. Give each
//!   message a class = its delivery count j = 1..L. Then routing is Markov in (station,
//!   class): work station class j → out (success, 1 − p), → delay station class j (p, if
//!   j < L) or → parking lot (p, if j = L); delay station class j → work station class
//!   j + 1. This is an open BCMP network (Baskett, Chandy, Muntz & Palacios, "Open, closed
//!   and mixed networks of queues with different classes of customers", *JACM* 22 (1975)):
//!   the FCFS work station serves every class at the same exponential rate μ (BCMP's
//!   condition for FCFS), the delay station is infinite-server (any class-dependent delay
//!   distribution, only its mean matters: insensitivity), external arrivals are Poisson.
//!   So the stationary distribution is product form, the work station's total count is
//!   M/M/c's at λ_work, and by the arrival theorem for open product-form networks every
//!   delivery finds it in equilibrium: each delivery waits `Wq(M/M/c, λ_work)` on average.
//!   Routing decisions are independent of the waits, so a message that succeeds at
//!   delivery j spends on average `j(Wq + 1/μ) + (j−1)d`; weighting by
//!   `P(succeed at j) ∝ p^{j−1}(1−p)` gives the successful messages' mean.
//!
//! Only means (and, for head requeue, the exact distributions of the equivalent M/M/c)
//! are given: the successive waits of one message in the retry loop are correlated, and we
//! do not claim a distribution for their sum.

use super::mmc::{MmcResult, mmc};

/// M/M/c with immediate requeue to the head. Times in seconds, rates per second.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RequeueResult {
    /// Arrival rate λ (= throughput: every message eventually succeeds).
    pub lambda: f64,
    /// Service rate of one attempt μ.
    pub mu: f64,
    /// Consumers c.
    pub c: u32,
    /// Requeue probability p after each attempt.
    pub p: f64,
    /// Mean attempts (deliveries) per message, 1/(1 − p).
    pub deliveries_mean: f64,
    /// Deliveries per second to the consumers, λ/(1 − p).
    pub delivery_rate: f64,
    /// Consumer utilisation λ/(cμ(1 − p)).
    pub utilization: f64,
    /// Mean wait before the first attempt, Wq of M/M/c with rate μ(1 − p).
    pub wait_first_mean: f64,
    /// Mean wait before the final attempt starts, `sojourn_mean − 1/μ`.
    pub wait_final_mean: f64,
    /// Mean sojourn (arrival to final completion), Wq + 1/(μ(1 − p)).
    pub sojourn_mean: f64,
    /// The equivalent M/M/c (rate μ(1 − p)): its wait distribution is exactly the wait
    /// before the first attempt, its sojourn distribution exactly the sojourn.
    pub equivalent: MmcResult,
}

/// M/M/c with Bernoulli requeue to the head (module docs). `None` for invalid input
/// (p must be in [0, 1)) or an unstable queue, `λ >= cμ(1 − p)`.
pub fn mmc_requeue(lambda: f64, mu: f64, c: u32, p: f64) -> Option<RequeueResult> {
    if !((0.0..1.0).contains(&p) && mu.is_finite() && mu > 0.0) {
        return None;
    }
    let eq = mmc(lambda, mu * (1.0 - p), c)?;
    Some(RequeueResult {
        lambda,
        mu,
        c,
        p,
        deliveries_mean: 1.0 / (1.0 - p),
        delivery_rate: lambda / (1.0 - p),
        utilization: eq.rho,
        wait_first_mean: eq.wq,
        wait_final_mean: eq.w - 1.0 / mu,
        sojourn_mean: eq.w,
        equivalent: eq,
    })
}

/// A solved retry loop. Times in seconds, rates per second.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RetryLoopResult {
    /// External arrival rate λ₀.
    pub lambda0: f64,
    /// Service rate of one delivery μ.
    pub mu: f64,
    /// Consumers c.
    pub c: u32,
    /// Failure probability p of each delivery.
    pub p_fail: f64,
    /// Mean time in the delay station d.
    pub delay_mean: f64,
    /// Delivery limit L (`None`: unlimited).
    pub max_deliveries: Option<u32>,
    /// Deliveries per second into the work queue, `λ₀ Σ_{j<L} p^j`.
    pub lambda_work: f64,
    /// Rate into the delay station (retries), `λ_work − λ₀`.
    pub retry_rate: f64,
    /// Rate of messages that eventually succeed, `λ₀(1 − p^L)`.
    pub success_rate: f64,
    /// Rate of messages parked after L failed deliveries, `λ₀p^L` (0 when unlimited).
    pub parked_rate: f64,
    /// Fraction of messages parked, `p^L`.
    pub parked_fraction: f64,
    /// Mean deliveries per message, `λ_work/λ₀`.
    pub deliveries_mean: f64,
    /// Mean deliveries of the messages that succeed, `Σ j p^{j−1} / Σ p^{j−1}` over
    /// j = 1..L. `None` if none succeeds (p = 1).
    pub success_deliveries_mean: Option<f64>,
    /// The work queue: M/M/c at λ_work. Its `wq` is the mean wait of every delivery.
    pub work: MmcResult,
    /// Mean number of messages in the delay station, `retry_rate · d` (Little).
    pub delayed_mean: f64,
    /// Mean end-to-end time (arrival to success) of the messages that succeed. `None` if
    /// none succeeds.
    pub success_sojourn_mean: Option<f64>,
    /// Mean time from arrival to parking of parked messages, `L(Wq + 1/μ) + (L−1)d`.
    /// `None` when nothing is parked (L = ∞ or p = 0).
    pub parked_sojourn_mean: Option<f64>,
    /// Mean time in the system over all messages (until success or parking),
    /// `E[J](Wq + 1/μ) + (E[J] − 1)d` with E\[J\] = `deliveries_mean`.
    pub sojourn_mean_all: f64,
}

/// Largest limit for which the successful messages' mean delivery count is summed term by
/// term (exact for any p); beyond it the closed form is used.
const DIRECT_SUM_LIMIT: u32 = 100_000;

/// The retry loop of the module docs. `None` for invalid input (rates finite and
/// positive, `c > 0`, `p_fail` in [0, 1], `delay_mean` finite and >= 0, a limit of at
/// least 1; p = 1 needs a limit), or when the work queue is unstable, `λ_work >= cμ`.
pub fn retry_loop(
    lambda0: f64,
    mu: f64,
    c: u32,
    p_fail: f64,
    delay_mean: f64,
    max_deliveries: Option<u32>,
) -> Option<RetryLoopResult> {
    let p = p_fail;
    let ok = lambda0.is_finite()
        && lambda0 > 0.0
        && (0.0..=1.0).contains(&p)
        && delay_mean.is_finite()
        && delay_mean >= 0.0
        && max_deliveries != Some(0)
        && !(p == 1.0 && max_deliveries.is_none());
    if !ok {
        return None;
    }
    // p^L, Σ_{j<L} p^j (= E[J]) and the successful messages' mean delivery count
    // Σ_{j<=L} j p^{j−1} / Σ_{j<=L} p^{j−1}: summed term by term up to DIRECT_SUM_LIMIT
    // (exact for every p, 0 and 1 included), closed forms beyond.
    let (p_l, visits, success_deliveries_mean) = match max_deliveries {
        None => (0.0, 1.0 / (1.0 - p), Some(1.0 / (1.0 - p))),
        Some(l) if l <= DIRECT_SUM_LIMIT => {
            let (mut w, mut s0, mut s1) = (1.0, 0.0, 0.0);
            for j in 1..=l {
                s0 += w;
                s1 += f64::from(j) * w;
                w *= p;
            }
            (w, s0, Some(s1 / s0))
        }
        Some(l) if p == 1.0 => (1.0, f64::from(l), None),
        Some(l) => {
            let lf = f64::from(l);
            let one_minus = -(lf * p.ln()).exp_m1();
            let p_l = 1.0 - one_minus;
            (p_l, one_minus / (1.0 - p), Some(1.0 / (1.0 - p) - lf * p_l / one_minus))
        }
    };
    let success_deliveries_mean = success_deliveries_mean.filter(|_| p < 1.0);
    let lambda_work = lambda0 * visits;
    let work = mmc(lambda_work, mu, c)?;
    let per_delivery = work.wq + 1.0 / mu;
    let time = |j: f64| j * per_delivery + (j - 1.0) * delay_mean;
    let parked_sojourn_mean = match max_deliveries {
        Some(l) if p_l > 0.0 => Some(time(f64::from(l))),
        _ => None,
    };
    Some(RetryLoopResult {
        lambda0,
        mu,
        c,
        p_fail,
        delay_mean,
        max_deliveries,
        lambda_work,
        retry_rate: lambda_work - lambda0,
        success_rate: lambda0 * (1.0 - p_l),
        parked_rate: lambda0 * p_l,
        parked_fraction: p_l,
        deliveries_mean: visits,
        success_deliveries_mean,
        work,
        delayed_mean: (lambda_work - lambda0) * delay_mean,
        success_sojourn_mean: success_deliveries_mean.map(time),
        parked_sojourn_mean,
        sojourn_mean_all: time(visits),
    })
}

#[cfg(test)]
mod tests {
    use super::super::numeric::poisson_terms;
    use super::*;
    use rand::rngs::Xoshiro256PlusPlus;
    use rand::{RngExt, SeedableRng};
    use rand_distr::{Distribution, Exp};

    fn rel(a: f64, b: f64) -> f64 {
        (a - b).abs() / b.abs().max(1e-300)
    }

    #[test]
    fn requeue_is_mmc_with_the_geometric_total_service() {
        for (lam, mu, c, p) in [(0.5, 1.0, 1, 0.2), (5.0, 1.0, 8, 0.3), (64.0, 10.0, 8, 0.0)] {
            let r = mmc_requeue(lam, mu, c, p).unwrap();
            let m = mmc(lam, mu * (1.0 - p), c).unwrap();
            assert!(rel(r.sojourn_mean, m.w) < 1e-15 && rel(r.wait_first_mean, m.wq) < 1e-15);
            // Wait to the final attempt = Wq + (E[G] − 1) attempts of mean 1/μ, E[G] =
            // Σ j (1−p) p^{j−1} summed term by term.
            let eg: f64 = (1..2_000).map(|j| f64::from(j) * (1.0 - p) * p.powi(j - 1)).sum();
            assert!(rel(eg, r.deliveries_mean) < 1e-13);
            let want = m.wq + (eg - 1.0) / mu;
            assert!((r.wait_final_mean - want).abs() < 1e-13 * want.max(1.0), "{r:?}");
            assert!(rel(r.delivery_rate / (f64::from(c) * mu), r.utilization) < 1e-14);
        }
        // p = 0 is plain M/M/c.
        let m = mmc(5.0, 1.0, 8).unwrap();
        let r = mmc_requeue(5.0, 1.0, 8, 0.0).unwrap();
        assert!(rel(r.wait_final_mean, m.wq) < 1e-13 && rel(r.sojourn_mean, m.w) < 1e-15);
        // Requeues can destabilise: 5 messages/s, 8 consumers, p = 0.4 → 8.33 deliveries/s.
        assert!(mmc_requeue(5.0, 1.0, 8, 0.4).is_none());
        assert!(mmc_requeue(5.0, 1.0, 8, 1.0).is_none());
        assert!(mmc_requeue(5.0, 1.0, 8, -0.1).is_none());
    }

    #[test]
    fn geometric_sum_of_exponentials_is_exponential() {
        // P(Σ_{j<=G} S_j > t) = Σ_j (1−p)p^{j−1} P(Erlang(j, μ) > t), with
        // P(Erlang(j, μ) > t) = P(Poisson(μt) < j), must be e^{−μ(1−p)t}: the identity
        // that makes head requeue an M/M/c with rate μ(1 − p).
        let (mu, p): (f64, f64) = (2.0, 0.35);
        for t in [0.1, 0.5, 1.0, 3.0] {
            let pois: Vec<f64> = poisson_terms(mu * t, 0, 200).map(|(_, v)| v).collect();
            let mut cdf = 0.0;
            let mut total = 0.0;
            for j in 1..200usize {
                cdf += pois[j - 1];
                total += (1.0 - p) * p.powi(j as i32 - 1) * cdf;
            }
            let want = (-mu * (1.0 - p) * t).exp();
            assert!(rel(total, want) < 1e-12, "{t}: {total} vs {want}");
        }
    }

    #[test]
    fn retry_loop_limits() {
        let (lam, mu, c, d) = (3.0, 1.0, 5, 2.0);
        // p = 0: M/M/c, nothing retried or parked.
        let m = mmc(lam, mu, c).unwrap();
        let r = retry_loop(lam, mu, c, 0.0, d, Some(3)).unwrap();
        assert_eq!(r.lambda_work, lam);
        assert_eq!(r.success_deliveries_mean, Some(1.0));
        assert!(rel(r.success_sojourn_mean.unwrap(), m.w) < 1e-15);
        assert_eq!((r.parked_fraction, r.retry_rate, r.parked_sojourn_mean), (0.0, 0.0, None));
        // L = 1: no retries; a failure parks the message after one delivery.
        let r = retry_loop(lam, mu, c, 0.3, d, Some(1)).unwrap();
        assert_eq!(r.lambda_work, lam);
        assert!(r.parked_fraction == 0.3 && r.retry_rate == 0.0);
        assert!(rel(r.success_sojourn_mean.unwrap(), m.w) < 1e-15);
        assert!(rel(r.parked_sojourn_mean.unwrap(), m.w) < 1e-15);
        // L = ∞: geometric formulas.
        let p: f64 = 0.3;
        let r = retry_loop(lam, mu, c, p, d, None).unwrap();
        let w = mmc(lam / (1.0 - p), mu, c).unwrap();
        assert!(rel(r.lambda_work, lam / (1.0 - p)) < 1e-15);
        assert_eq!(r.parked_fraction, 0.0);
        let want = w.w / (1.0 - p) + p / (1.0 - p) * d;
        assert!(rel(r.success_sojourn_mean.unwrap(), want) < 1e-14);
        assert!(rel(r.delayed_mean, lam * p / (1.0 - p) * d) < 1e-14);
        // A large limit approaches L = ∞.
        let big = retry_loop(lam, mu, c, p, d, Some(200)).unwrap();
        assert!(rel(big.success_sojourn_mean.unwrap(), want) < 1e-12);
        // p = 1 with a limit: everything is parked after exactly L deliveries.
        let r = retry_loop(0.5, mu, c, 1.0, d, Some(4)).unwrap();
        assert_eq!((r.lambda_work, r.parked_fraction, r.success_sojourn_mean), (2.0, 1.0, None));
        assert!(retry_loop(0.5, mu, c, 1.0, d, None).is_none());
        assert!(retry_loop(0.5, mu, c, 0.5, d, Some(0)).is_none());
        assert!(retry_loop(4.0, mu, c, 0.5, d, None).is_none(), "λ_work = 8 > c μ");
    }

    #[test]
    fn success_and_parked_times_add_up_to_the_mean_over_all() {
        // (1 − p^L)·E[T | success] + p^L·E[T | parked] = E[T] = E[J](Wq+1/μ) + (E[J]−1)d:
        // ties the weighted success formula to the traffic equations, for the term-by-term
        // sum and for the closed form beyond DIRECT_SUM_LIMIT (and their agreement there).
        for (p, l) in
            [(0.3, 3), (0.9, 7), (0.999_99, DIRECT_SUM_LIMIT), (0.999_99, DIRECT_SUM_LIMIT + 1)]
        {
            let r = retry_loop(1e-6, 1.0, 4, p, 0.7, Some(l)).unwrap();
            let s = r.success_sojourn_mean.unwrap();
            let parked = r.parked_sojourn_mean.unwrap();
            let mix = (1.0 - r.parked_fraction) * s + r.parked_fraction * parked;
            assert!(
                rel(mix, r.sojourn_mean_all) < 1e-9,
                "{p} {l}: {mix} vs {}",
                r.sojourn_mean_all
            );
        }
        let a = retry_loop(1e-6, 1.0, 4, 0.999_99, 0.7, Some(DIRECT_SUM_LIMIT)).unwrap();
        let b = retry_loop(1e-6, 1.0, 4, 0.999_99, 0.7, Some(DIRECT_SUM_LIMIT + 1)).unwrap();
        assert!(
            (a.lambda_work - b.lambda_work) / a.lambda_work < 1e-5 && b.lambda_work > a.lambda_work
        );
        let (x, y) = (a.success_deliveries_mean.unwrap(), b.success_deliveries_mean.unwrap());
        assert!((y - x) > 0.0 && (y - x) < 1.0, "{x} {y}");
    }

    /// The retry loop simulated: c consumers, FIFO work queue, fixed delay d, limit l.
    /// Per batch (by finished messages): (mean wait per delivery, mean end-to-end time of
    /// successful messages, parked fraction).
    fn simulate(lam: f64, mu: f64, c: usize, p: f64, d: f64, l: u32, seed: u64) -> Vec<[f64; 3]> {
        use std::collections::VecDeque;
        let mut rng = Xoshiro256PlusPlus::seed_from_u64(seed);
        let (ia, sv) = (Exp::new(lam).unwrap(), Exp::new(mu).unwrap());
        let mut born: Vec<f64> = Vec::new();
        let mut deliveries: Vec<u32> = Vec::new();
        let mut queue: VecDeque<(usize, f64)> = VecDeque::new();
        let mut delayed: VecDeque<(f64, usize)> = VecDeque::new();
        let mut servers: Vec<Option<(f64, usize)>> = vec![None; c];
        let mut next_arrival = ia.sample(&mut rng);
        let (warmup, per, batches) = (10_000usize, 25_000usize, 20usize);
        let mut finished = 0usize;
        let mut acc = [0.0f64; 5]; // Σ wait, #deliveries, Σ success time, #success, #parked
        let mut out = Vec::new();
        while out.len() < batches {
            let mut finished_now = false;
            let (si, done) = servers
                .iter()
                .enumerate()
                .filter_map(|(i, s)| s.map(|(t, _)| (i, t)))
                .min_by(|a, b| a.1.total_cmp(&b.1))
                .unwrap_or((0, f64::INFINITY));
            let back = delayed.front().map_or(f64::INFINITY, |x| x.0);
            let t = next_arrival.min(done).min(back);
            let entering = if t == next_arrival {
                born.push(t);
                deliveries.push(0);
                next_arrival = t + ia.sample(&mut rng);
                Some(born.len() - 1)
            } else if t == back {
                Some(delayed.pop_front().unwrap().1)
            } else {
                let m = servers[si].take().unwrap().1;
                if rng.random_bool(p) {
                    if deliveries[m] < l {
                        delayed.push_back((t + d, m));
                    } else {
                        finished_now = true;
                        acc[4] += 1.0;
                    }
                } else {
                    finished_now = true;
                    acc[2] += t - born[m];
                    acc[3] += 1.0;
                }
                if let Some((next, since)) = queue.pop_front() {
                    deliveries[next] += 1;
                    acc[0] += t - since;
                    acc[1] += 1.0;
                    servers[si] = Some((t + sv.sample(&mut rng), next));
                }
                None
            };
            if let Some(m) = entering {
                if let Some(free) = servers.iter().position(Option::is_none) {
                    deliveries[m] += 1;
                    acc[1] += 1.0;
                    servers[free] = Some((t + sv.sample(&mut rng), m));
                } else {
                    queue.push_back((m, t));
                }
            }
            if finished_now {
                finished += 1;
                if finished == warmup {
                    acc = [0.0; 5];
                } else if finished > warmup && (finished - warmup).is_multiple_of(per) {
                    out.push([acc[0] / acc[1], acc[2] / acc[3], acc[4] / (acc[3] + acc[4])]);
                    acc = [0.0; 5];
                }
            }
        }
        out
    }

    #[test]
    fn retry_loop_with_a_limit_matches_a_simulation() {
        // c = 2, L = 3, p = 0.3, fixed delay 0.5 (not exponential: the delay station's
        // insensitivity is part of the claim). λ_work = 1.39, ρ = 0.695. 5·10⁵ messages in
        // 20 batches, tolerance 5 standard errors of the batch means.
        let (lam, mu, c, p, d, l) = (1.0, 1.0, 2u32, 0.3, 0.5, 3u32);
        let r = retry_loop(lam, mu, c, p, d, Some(l)).unwrap();
        assert!(rel(r.lambda_work, 1.39) < 1e-14);
        let b = simulate(lam, mu, c as usize, p, d, l, 3);
        let n = b.len() as f64;
        let wants = [r.work.wq, r.success_sojourn_mean.unwrap(), r.parked_fraction];
        for (k, want) in wants.into_iter().enumerate() {
            let mean = b.iter().map(|x| x[k]).sum::<f64>() / n;
            let se = (b.iter().map(|x| (x[k] - mean).powi(2)).sum::<f64>() / (n - 1.0) / n).sqrt();
            assert!(se < 0.03 * want, "{k}: σ = {se}");
            assert!((mean - want).abs() < 5.0 * se, "{k}: sim {mean} ± {se} vs {want}");
        }
    }
}
