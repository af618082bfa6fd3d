//! Impatient messages: M/M/c+D (a TTL — a message that has waited in the queue, not yet
//! taken by a consumer, for longer than a constant D expires and leaves unserved) and
//! M/M/c+M (Erlang-A: exponential patience). Poisson arrivals λ, c exponential consumers of
//! rate μ, one FIFO queue. Expired messages never occupy a consumer.
//!
//! Sources and derivation:
//! - The M/M/n+G queue (general patience distribution G) is solved exactly through the
//!   *offered* (virtual) wait V: the time an arrival with infinite patience would wait.
//!   An arrival is served iff its own patience exceeds V. Baccelli & Hébuterne, "On queues
//!   with impatient customers", *Performance '81* (1981); in the form used here, Zeltyn &
//!   Mandelbaum, "Call centers with impatient customers: many-server asymptotics of the
//!   M/M/n+G queue", *Queueing Systems* 51 (2005), §2 (eqs. for π₀, J, P{Ab}, f_V). With
//!   π_k = π₀ a^k/k! (a = λ/μ) the probability of k < n busy consumers and no one waiting,
//!   `H(x) = ∫₀^x Ḡ(u) du` (Ḡ = 1 − G the patience survival function), V has the atom
//!   `P(V = 0) = Σ_{k<n} π_k` and on (0, ∞) the density
//!   `f_V(x) = λ π_{n−1} exp(λH(x) − nμx)`. (Level crossing, Brill & Posner 1977: V falls
//!   at slope 1; it is crossed upwards by arrivals that find n − 1 busy, jump
//!   Exp(nμ), and by arrivals at level y < x that will be served, probability Ḡ(y), and
//!   jump Exp(nμ); so `f(x) = λπ_{n−1}e^{−nμx} + λ∫₀^x f(y)Ḡ(y)e^{−nμ(x−y)}dy`, whose
//!   solution is the density above.) Normalisation fixes π₀:
//!   `π₀⁻¹ = Σ_{k<n} a^k/k! + λ J a^{n−1}/(n−1)!` with `J = ∫₀^∞ exp(λH(x) − nμx) dx`, and
//!   `P{Ab} = ∫ f_V(x) G(x) dx` (Zeltyn & Mandelbaum's `(1 + (λ − nμ)J)/(ε + λJ)`).
//!   We compute `Σ_{k<n} π_k = P(V = 0)` and `π_{n−1}` through Erlang B:
//!   `π_{n−1} = B(n−1, a)·P(V = 0)`, which stays finite for any n.
//! - Deterministic patience D (the TTL): `Ḡ = 1` on [0, D), so `H(x) = min(x, D)`. With
//!   `θ = nμ − λ` (any sign) the integrals are elementary:
//!   `P(0 < V < D) = λπ_{n−1}∫₀^D e^{−θx}dx`, `P{Ab} = P(V >= D) = λπ_{n−1}e^{−θD}/(nμ)`,
//!   `E[V; V < D] = λπ_{n−1}∫₀^D x e^{−θx}dx`. For n = 1 this is the M/M/1+D closed form:
//!   `f_V(x) = λπ₀e^{−(μ−λ)x}` on (0, D), `λπ₀e^{λD}e^{−μx}` beyond. All of these are
//!   evaluated after scaling by `e^{−max(0, −θD)}`, so an overloaded queue with a long TTL
//!   (e^{|θ|D} far beyond f64) is still solved. D = 0 gives Erlang's loss system
//!   (P{Ab} = B(n, a)); D = ∞ gives M/M/c.
//! - Exponential patience of rate θ_p (Erlang-A, Palm 1943; Garnett, Mandelbaum & Reiman,
//!   "Designing a call center with impatient customers", *M&SOM* 4 (2002)): the number in
//!   system is a birth–death chain with death rate `min(n, c)μ + (n − c)⁺θ_p`, solved
//!   numerically (log space, truncated once the remaining mass is below ~1e-19 of the
//!   largest term). `P{Ab} = θ_p E[Q]/λ` (every waiting message abandons at rate θ_p;
//!   Little's law for the abandonment stream). A served message's mean wait comes from the
//!   tagged-message chain: with k messages ahead, it moves up at rate `cμ + kθ_p` and
//!   abandons at rate θ_p, so `P(served | k) = Π_{i=0}^{k} (cμ+iθ_p)/(cμ+(i+1)θ_p)` and
//!   `E[W·1{served} | k] = P(served | k)·Σ_{i=0}^{k} 1/(cμ+(i+1)θ_p)`. Its distribution is the
//!   M/M/n+G density above with `H(x) = (1 − e^{−θ_p x})/θ_p`, killed at rate θ_p; the
//!   substitution `u = e^{−θ_p x}` turns the tail integral into an incomplete gamma
//!   function: `P(W > t | served, W > 0) = P(s, βe^{−θ_p t})/P(s, β)` with
//!   `s = cμ/θ_p + 1`, `β = λ/θ_p` and P the regularized lower incomplete gamma function
//!   (our own substitution in Zeltyn & Mandelbaum's formulas; checked against the chain in
//!   the tests).
//!
//! Both models are stable for every λ (messages cannot wait forever), except D = ∞ or
//! θ_p = 0, which are M/M/c and need λ < cμ.

use super::mmc::erlang_b;
use super::numeric::{ln_gamma_p, quantile_by_bisection};

/// Largest number of states of the Erlang-A birth–death chain that is solved (8 bytes
/// each). Reached only when the abandonment rate is tiny and the queue overloaded.
pub const MAX_ERLANG_A_STATES: usize = 2_000_000;

/// What a served message's wait distribution is made of (the data of
/// [`ImpatienceResult::wait_served_survival`]).
#[derive(Debug, Clone, Copy, PartialEq)]
enum ServedWait {
    /// Deterministic patience `d` (possibly ∞): on (0, d) the wait has density ∝ e^{−θx},
    /// `θ = cμ − λ`; `i0` is `∫₀^d e^{−θx}dx` in the module's scaling.
    Deterministic { d: f64, theta: f64, i0: f64 },
    /// Exponential patience of rate `rate`: `P(W > t | served, W > 0) =
    /// P(s, β e^{−rate·t}) / P(s, β)`, `ln_p_beta = ln P(s, β)`. `tagged_p_served` is
    /// P(served) summed over the tagged-message chain (equal to `1 − expire_probability`
    /// up to round-off; kept for the tests).
    Exponential { rate: f64, s: f64, beta: f64, ln_p_beta: f64, tagged_p_served: f64 },
}

/// A solved queue with impatient messages (M/M/c+D or M/M/c+M). Times in seconds, rates
/// per second. "Wait" is the time in the queue before a consumer takes the message.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ImpatienceResult {
    /// Arrival rate λ.
    pub lambda: f64,
    /// Service rate of one consumer μ.
    pub mu: f64,
    /// Number of consumers c.
    pub c: u32,
    /// Offered load a = λ/μ, Erlangs (may exceed c).
    pub offered_load: f64,
    /// Probability that an arrival finds all c consumers busy (PASTA), i.e. `P(V > 0)`:
    /// it must wait, and then either is served or expires. With D = 0 every such arrival
    /// expires at once (and nobody actually waits).
    pub p_wait: f64,
    /// P(abandon): the probability that a message expires before a consumer takes it.
    pub expire_probability: f64,
    /// Throughput of served messages, λ(1 − P(abandon)).
    pub served_rate: f64,
    /// Busy fraction of the consumers, `served_rate / (cμ)` (< 1 for any λ).
    pub utilization: f64,
    /// Probability that a served message waited at all, `P(W > 0 | served)`.
    pub p_wait_served: f64,
    /// Mean wait of the messages that are served, `E[W | served]` (< D).
    pub wait_served_mean: f64,
    /// Mean sojourn of served messages, `wait_served_mean + 1/μ`.
    pub sojourn_served_mean: f64,
    /// Mean time in the queue over all arrivals, expired ones counted with the time they
    /// spent waiting (D for a TTL, their exponential patience for Erlang-A).
    pub wait_mean_all: f64,
    /// Mean number of messages waiting (ready), `λ · wait_mean_all` (Little).
    pub queue_length_mean: f64,
    served_wait: ServedWait,
}

/// `(1 − e^{−z})/z`, 1 at z = 0, for z >= 0 (∫₀¹ e^{−zy} dy).
fn g(z: f64) -> f64 {
    if z == 0.0 { 1.0 } else { -(-z).exp_m1() / z }
}

/// `∫₀¹ y e^{−zy} dy = (1 − e^{−z}(1 + z))/z²`, 1/2 at z = 0, for z >= 0; by its Taylor
/// series `Σ_k (−z)^k/(k!(k+2))` below z = 1, where the closed form cancels.
fn h(z: f64) -> f64 {
    if z < 1.0 {
        let (mut term, mut sum) = (1.0, 0.5);
        for k in 1..30 {
            term *= -z / f64::from(k);
            sum += term / f64::from(k + 2);
        }
        sum
    } else {
        (1.0 - (-z).exp() * (1.0 + z)) / (z * z)
    }
}

fn valid(lambda: f64, mu: f64, c: u32) -> bool {
    lambda.is_finite() && lambda > 0.0 && mu.is_finite() && mu > 0.0 && c > 0
}

/// M/M/c+D: a TTL of `d` seconds on the time a message waits in the queue (Zeltyn &
/// Mandelbaum 2005 with deterministic patience, see the module docs). Stable for every λ
/// when `d` is finite; `d = ∞` is M/M/c and needs `λ < cμ`. `None` for non-finite or
/// non-positive rates, `c == 0`, a negative or NaN `d`, `d = ∞` with `λ >= cμ`, or a
/// result that would overflow f64.
/// O(c) time (the Erlang B recursion).
pub fn mmc_plus_d(lambda: f64, mu: f64, c: u32, d: f64) -> Option<ImpatienceResult> {
    if !(valid(lambda, mu, c) && d >= 0.0) {
        return None;
    }
    let cmu = f64::from(c) * mu;
    let theta = cmu - lambda;
    let a = lambda / mu;
    // λπ_{c−1} / P(V = 0) = λB(c − 1, a).
    let lb = lambda * erlang_b(c - 1, a);
    // The integrals ∫₀^D e^{−θx}, ∫₀^D x e^{−θx}, ∫_D^∞ e^{λD − cμx} and the normaliser's
    // 1, all multiplied by e^{−max(0, −θD)}.
    let (i0, i1, tail, one) = if d.is_infinite() {
        if theta <= 0.0 {
            return None;
        }
        (1.0 / theta, 1.0 / (theta * theta), 0.0, 1.0)
    } else {
        let m = theta.abs() * d;
        if theta >= 0.0 {
            (d * g(m), d * d * h(m), (-m).exp() / cmu, 1.0)
        } else {
            // e^{−|θ|D}∫₀^D x e^{|θ|x}dx = ∫₀^D (D − u)e^{−|θ|u}du.
            (d * g(m), d * d * (g(m) - h(m)), 1.0 / cmu, (-m).exp())
        }
    };
    let denom = one + lb * (i0 + tail);
    let p_zero = one / denom;
    // λπ_{c−1} in the same scaling.
    let kappa = lb / denom;
    let delayed_served = kappa * i0;
    let p_served = p_zero + delayed_served;
    let expire = kappa * tail;
    let wait_sum = kappa * i1;
    let wait_all = wait_sum + if expire > 0.0 { d * expire } else { 0.0 };
    let wait_served_mean = wait_sum / p_served;
    if !(wait_all.is_finite() && wait_served_mean.is_finite()) {
        // Only for absurd inputs (e.g. λ = cμ exactly with D ~ 1e200: ∫x dx overflows).
        return None;
    }
    let served_rate = lambda * p_served;
    Some(ImpatienceResult {
        lambda,
        mu,
        c,
        offered_load: a,
        p_wait: lb * (i0 + tail) / denom,
        expire_probability: expire,
        served_rate,
        utilization: served_rate / cmu,
        p_wait_served: delayed_served / p_served,
        wait_served_mean,
        sojourn_served_mean: wait_served_mean + 1.0 / mu,
        wait_mean_all: wait_all,
        queue_length_mean: lambda * wait_all,
        served_wait: ServedWait::Deterministic { d, theta, i0 },
    })
}

/// M/M/1+D, the one-consumer case of [`mmc_plus_d`].
pub fn mm1_plus_d(lambda: f64, mu: f64, d: f64) -> Option<ImpatienceResult> {
    mmc_plus_d(lambda, mu, 1, d)
}

/// Erlang-A (M/M/c+M): every waiting message abandons at rate `theta` (mean patience
/// 1/θ), Garnett, Mandelbaum & Reiman 2002; see the module docs for the chain, the
/// tagged-message wait and the wait distribution. `theta = 0` is M/M/c (via
/// [`mmc_plus_d`] with D = ∞). `None` for invalid input (negative or non-finite θ),
/// `theta = 0` with `λ >= cμ`, or a chain longer than [`MAX_ERLANG_A_STATES`] (a tiny θ
/// with an overloaded queue). O(number of states) time and memory.
pub fn erlang_a(lambda: f64, mu: f64, c: u32, theta: f64) -> Option<ImpatienceResult> {
    if !(valid(lambda, mu, c) && theta.is_finite() && theta >= 0.0) {
        return None;
    }
    if theta == 0.0 {
        return mmc_plus_d(lambda, mu, c, f64::INFINITY);
    }
    let cu = c as usize;
    let cmu = f64::from(c) * mu;
    let death = |n: usize| {
        if n <= cu { n as f64 * mu } else { cmu + (n - cu) as f64 * theta }
    };
    // ln of the unnormalised p_n: ln w_n = ln w_{n−1} + ln(λ / death(n)).
    let mut lw = vec![0.0f64];
    let mut lmax = 0.0f64;
    loop {
        let n = lw.len();
        if n > MAX_ERLANG_A_STATES {
            return None;
        }
        let r = lambda / death(n);
        let l = lw[n - 1] + r.ln();
        lw.push(l);
        lmax = lmax.max(l);
        // Beyond c the ratios only decrease, so once r < 1 the rest of Σ (m + 1) w_m is at
        // most w_n (n + 1)/(1 − r)²: stop when that is below e^{−45} of the largest term.
        if n > cu && r < 1.0 && l + ((n + 1) as f64).ln() - 2.0 * (-r).ln_1p() < lmax - 45.0 {
            break;
        }
    }
    let (mut z, mut zero, mut queue, mut delayed_served, mut wait_sum) = (0.0, 0.0, 0.0, 0.0, 0.0);
    // Tagged message with k ahead: P(served | k) and Σ 1/(cμ + (i+1)θ), i = 0..=k.
    let (mut p_k, mut s_k) = (1.0f64, 0.0f64);
    for (n, &l) in lw.iter().enumerate() {
        let w = (l - lmax).exp();
        z += w;
        if n < cu {
            zero += w;
            continue;
        }
        let k = (n - cu) as f64;
        queue += k * w;
        p_k *= (cmu + k * theta) / (cmu + (k + 1.0) * theta);
        s_k += 1.0 / (cmu + (k + 1.0) * theta);
        delayed_served += w * p_k;
        wait_sum += w * p_k * s_k;
    }
    let (p_zero, eq) = (zero / z, queue / z);
    let tagged_p_served = p_zero + delayed_served / z;
    let expire = (theta * eq / lambda).min(1.0);
    let wait_served_mean = wait_sum / z / tagged_p_served;
    let s = cmu / theta + 1.0;
    let beta = lambda / theta;
    let ln_p_beta = ln_gamma_p(s, beta);
    if !ln_p_beta.is_finite() {
        return None;
    }
    let served_rate = lambda * (1.0 - expire);
    Some(ImpatienceResult {
        lambda,
        mu,
        c,
        offered_load: lambda / mu,
        p_wait: 1.0 - p_zero,
        expire_probability: expire,
        served_rate,
        utilization: served_rate / cmu,
        p_wait_served: delayed_served / z / tagged_p_served,
        wait_served_mean,
        sojourn_served_mean: wait_served_mean + 1.0 / mu,
        wait_mean_all: eq / lambda,
        queue_length_mean: eq,
        served_wait: ServedWait::Exponential { rate: theta, s, beta, ln_p_beta, tagged_p_served },
    })
}

impl ImpatienceResult {
    /// `P(W > t | served)`, the wait of the messages that are served, exactly (module
    /// docs): an atom `1 − p_wait_served` at zero, then for a TTL D a truncated
    /// exponential-type density ∝ e^{−(cμ−λ)x} on (0, D) (0 from D on), for Erlang-A the
    /// incomplete-gamma form. 1 for t < 0.
    pub fn wait_served_survival(&self, t: f64) -> f64 {
        if t < 0.0 {
            return 1.0;
        }
        if self.p_wait_served <= 0.0 {
            return 0.0;
        }
        let tail = match self.served_wait {
            ServedWait::Deterministic { d, theta, i0 } => {
                if t >= d {
                    return 0.0;
                }
                // ∫_t^D e^{−θx}dx in the module's scaling, over its value at t = 0.
                let seg = if d.is_infinite() {
                    (-theta * t).exp() / theta
                } else {
                    let len = d - t;
                    if theta >= 0.0 {
                        (-theta * t).exp() * len * g(theta * len)
                    } else {
                        len * g(-theta * len)
                    }
                };
                seg / i0
            }
            ServedWait::Exponential { rate, s, beta, ln_p_beta, .. } => {
                (ln_gamma_p(s, beta * (-rate * t).exp()) - ln_p_beta).exp()
            }
        };
        (self.p_wait_served * tail).clamp(0.0, self.p_wait_served)
    }

    /// The p-quantile of a served message's wait, by bisection on
    /// [`wait_served_survival`](ImpatienceResult::wait_served_survival) (0 inside the atom
    /// at zero). `None` unless `0 < p < 1`.
    pub fn wait_served_quantile(&self, p: f64) -> Option<f64> {
        quantile_by_bisection(|t| self.wait_served_survival(t), p, self.wait_served_mean)
    }
}

#[cfg(test)]
mod tests {
    use super::super::mmc::{erlang_b, mmc};
    use super::*;
    use rand::SeedableRng;
    use rand::rngs::Xoshiro256PlusPlus;
    use rand_distr::{Distribution, Exp};

    fn rel(a: f64, b: f64) -> f64 {
        (a - b).abs() / b.abs().max(1e-300)
    }

    #[test]
    fn ttl_zero_is_erlang_b_and_infinite_ttl_is_mmc() {
        for (lam, mu, c) in [(0.8, 1.0, 1), (5.0, 1.0, 10), (12.0, 1.0, 10), (64.0, 10.0, 8)] {
            let r = mmc_plus_d(lam, mu, c, 0.0).unwrap();
            let b = erlang_b(c, lam / mu);
            assert!(rel(r.expire_probability, b) < 1e-13, "{lam} {c}: {r:?} vs B = {b}");
            assert_eq!(r.wait_served_mean, 0.0);
            assert_eq!(r.wait_mean_all, 0.0);
            assert_eq!(r.wait_served_quantile(0.99), Some(0.0));
        }
        for (lam, mu, c) in [(0.8, 1.0, 1), (64.0, 10.0, 8), (9.0, 1.0, 10)] {
            let m = mmc(lam, mu, c).unwrap();
            // D = ∞ exactly, and D = 60 mean waits: the expiry term e^{−θD} is negligible.
            for d in [f64::INFINITY, 60.0 * m.wq.max(1.0 / mu)] {
                let r = mmc_plus_d(lam, mu, c, d).unwrap();
                assert!(r.expire_probability < 1e-20, "{d}: {}", r.expire_probability);
                assert!(rel(r.p_wait, m.p_wait) < 1e-12, "{d}: {} vs {}", r.p_wait, m.p_wait);
                assert!(
                    rel(r.wait_served_mean, m.wq) < 1e-10,
                    "{} vs {}",
                    r.wait_served_mean,
                    m.wq
                );
                assert!(rel(r.queue_length_mean, m.lq) < 1e-10);
                for p in [0.5, 0.9, 0.99] {
                    let (a, b) = (r.wait_served_quantile(p).unwrap(), m.wait_quantile(p).unwrap());
                    assert!((a - b).abs() < 1e-9 * b.max(1e-3), "{p}: {a} vs {b}");
                }
            }
        }
        assert!(mmc_plus_d(1.0, 1.0, 1, f64::INFINITY).is_none(), "M/M/1 at ρ = 1");
        assert!(mmc_plus_d(1.0, 1.0, 1, -1.0).is_none());
        assert!(mmc_plus_d(1.0, 1.0, 1, f64::NAN).is_none());
        assert!(mmc_plus_d(1.0, 1.0, 0, 1.0).is_none());
    }

    #[test]
    fn mm1_plus_d_overloaded_by_hand() {
        // λ = 2, μ = 1, D = 1 (ρ = 2): θ = μ − λ = −1, J = ∫₀¹ e^x dx + e^{λD}∫₁^∞ e^{−x}dx
        // = (e − 1) + e = 2e − 1, π₀ = 1/(1 + λJ) = 1/(4e − 1),
        // P{Ab} = λπ₀ e^{λD − μD}/μ = 2e/(4e − 1) = 0.550 641...
        let e = std::f64::consts::E;
        let r = mm1_plus_d(2.0, 1.0, 1.0).unwrap();
        let pab = 2.0 * e / (4.0 * e - 1.0);
        assert!(rel(r.expire_probability, pab) < 1e-14, "{} vs {pab}", r.expire_probability);
        assert!(rel(r.p_wait, 1.0 - 1.0 / (4.0 * e - 1.0)) < 1e-14);
        // The consumer's busy fraction 1 − π₀ equals served_rate/μ, and is below 1.
        assert!(rel(r.utilization, 1.0 - 1.0 / (4.0 * e - 1.0)) < 1e-14);
        assert!(r.served_rate < 1.0 && r.served_rate > 0.85);
        assert!(rel(r.expire_probability, 1.0 - r.served_rate / r.lambda) < 1e-14);
        // E[V; V < D] = λπ₀ ∫₀¹ x e^x dx = λπ₀ · 1.
        let pi0 = 1.0 / (4.0 * e - 1.0);
        assert!(rel(r.wait_served_mean * (1.0 - pab), 2.0 * pi0) < 1e-14);
        assert!(rel(r.wait_mean_all, 2.0 * pi0 + pab) < 1e-14, "expired messages waited D = 1");
        // Heavier overload and a TTL with e^{|θ|D} = e^{9 000} (beyond f64): still a finite
        // answer, the consumer saturates (served → μ) and P{Ab} → 1 − μ/λ.
        let r = mm1_plus_d(10.0, 1.0, 1_000.0).unwrap();
        assert!(r.served_rate <= 1.0 + 1e-12 && rel(r.served_rate, 1.0) < 1e-2, "{r:?}");
        assert!(rel(r.expire_probability, 0.9) < 1e-2);
        assert!(r.wait_served_mean.is_finite() && r.wait_served_mean < 1_000.0);
        assert!(r.wait_served_mean > 990.0, "a saturated FIFO queue serves at ≈ D: {r:?}");
        assert!(r.wait_served_quantile(0.5).unwrap() <= 1_000.0);
    }

    #[test]
    fn busy_consumers_balance_the_served_flow() {
        // E[busy] = Σ_{k<c} k π_k + c·P(V > 0) must equal served_rate/μ (Little on the
        // consumers): a relation between the atom, the density mass and P{Ab}, which the
        // formulas do not impose term by term. Σ_{k<c} k π_k = a(P(V=0) − π_{c−1}).
        for (lam, mu, c, d) in
            [(1.8, 1.0, 2, 0.7), (2.5, 1.0, 2, 0.3), (9.0, 1.0, 10, 0.05), (14.0, 1.0, 10, 2.0)]
        {
            let r = mmc_plus_d(lam, mu, c, d).unwrap();
            let a = lam / mu;
            let p0 = 1.0 - r.p_wait;
            let pi_last = erlang_b(c - 1, a) * p0;
            let busy = a * (p0 - pi_last) + f64::from(c) * r.p_wait;
            assert!(
                rel(busy, r.served_rate / mu) < 1e-12,
                "{lam} {c} {d}: {busy} vs {}",
                r.served_rate
            );
        }
    }

    #[test]
    fn matches_zeltyn_mandelbaum_with_numeric_quadrature() {
        // P{Ab} = (1 + (λ − nμ)J)/(ε + λJ), ε = Σ_{j<n} a^j/j! / (a^{n−1}/(n−1)!),
        // J = ∫₀^∞ exp(λ min(x, D) − nμx)dx by the midpoint rule (Zeltyn & Mandelbaum §2).
        for (lam, mu, c, d) in [(1.8, 1.0, 2, 0.7), (3.0, 1.0, 2, 0.4), (4.0, 2.0, 3, 1.5)] {
            let a: f64 = lam / mu;
            let n = f64::from(c) * mu;
            let (steps, hi) = (400_000, 40.0);
            let dx = hi / f64::from(steps);
            let j: f64 = (0..steps)
                .map(|i| {
                    let x = (f64::from(i) + 0.5) * dx;
                    (lam * x.min(d) - n * x).exp() * dx
                })
                .sum();
            let (mut term, mut sum) = (1.0, 1.0);
            for k in 1..c {
                term *= a / f64::from(k);
                sum += term;
            }
            let eps = sum / term;
            let pab = (1.0 + (lam - n) * j) / (eps + lam * j);
            let r = mmc_plus_d(lam, mu, c, d).unwrap();
            assert!(rel(r.expire_probability, pab) < 1e-6, "{} vs {pab}", r.expire_probability);
        }
    }

    #[test]
    fn served_wait_distribution_integrates_to_its_mean_and_inverts() {
        for (lam, mu, c, d) in [(1.8, 1.0, 2, 0.7), (2.5, 1.0, 2, 3.0), (0.5, 1.0, 1, 2.0)] {
            let r = mmc_plus_d(lam, mu, c, d).unwrap();
            let steps = 100_000;
            let h = d / f64::from(steps);
            let mean: f64 =
                (0..steps).map(|i| r.wait_served_survival((f64::from(i) + 0.5) * h) * h).sum();
            assert!(rel(mean, r.wait_served_mean) < 1e-8, "{mean} vs {}", r.wait_served_mean);
            assert!((r.wait_served_survival(0.0) - r.p_wait_served).abs() < 1e-15);
            assert_eq!(r.wait_served_survival(d), 0.0);
            for p in [0.5, 0.9, 0.99, 0.999] {
                let q = r.wait_served_quantile(p).unwrap();
                assert!(q < d);
                if q > 0.0 {
                    assert!((r.wait_served_survival(q) - (1.0 - p)).abs() < 1e-10, "p={p}");
                }
            }
        }
    }

    /// FIFO M/M/c+D by direct simulation: a message starts at the earliest time a consumer
    /// frees (Kiefer–Wolfowitz order of a FIFO multi-server queue); if that is more than D
    /// after its arrival it expires and takes no consumer. Returns per-batch
    /// (P(expire), mean served wait).
    fn simulate(lam: f64, mu: f64, c: usize, d: f64, seed: u64) -> Vec<(f64, f64)> {
        let mut rng = Xoshiro256PlusPlus::seed_from_u64(seed);
        let (ia, sv) = (Exp::new(lam).unwrap(), Exp::new(mu).unwrap());
        let mut free = vec![0.0f64; c];
        let mut t = 0.0;
        let (warmup, batches, per) = (10_000, 20, 10_000);
        let mut out = Vec::new();
        for b in 0..=batches {
            let n = if b == 0 { warmup } else { per };
            let (mut expired, mut served, mut wait) = (0u32, 0u32, 0.0);
            for _ in 0..n {
                t += ia.sample(&mut rng);
                let (i, f) =
                    free.iter().copied().enumerate().min_by(|x, y| x.1.total_cmp(&y.1)).unwrap();
                let start = f.max(t);
                if start - t > d {
                    expired += 1;
                } else {
                    free[i] = start + sv.sample(&mut rng);
                    served += 1;
                    wait += start - t;
                }
            }
            if b > 0 {
                out.push((f64::from(expired) / f64::from(n), wait / f64::from(served)));
            }
        }
        out
    }

    #[test]
    fn mm2_plus_d_matches_a_simulation() {
        // 2·10⁵ simulated arrivals in 20 batches; the batch means are nearly independent,
        // so their standard error (not the binomial one, which ignores the queue's
        // correlation) bounds the simulation noise. Tolerance 5σ; σ itself must be small
        // for the test to mean anything.
        for (lam, d, seed) in [(1.6, 1.0, 7), (2.6, 0.5, 11)] {
            let r = mmc_plus_d(lam, 1.0, 2, d).unwrap();
            let batches = simulate(lam, 1.0, 2, d, seed);
            let n = batches.len() as f64;
            for (k, want) in [(0, r.expire_probability), (1, r.wait_served_mean)] {
                let xs: Vec<f64> = batches.iter().map(|b| if k == 0 { b.0 } else { b.1 }).collect();
                let mean = xs.iter().sum::<f64>() / n;
                let var = xs.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / (n - 1.0);
                let se = (var / n).sqrt();
                assert!(se < 0.01, "{lam}: σ = {se}");
                assert!((mean - want).abs() < 5.0 * se, "{lam} {k}: sim {mean} ± {se} vs {want}");
            }
        }
    }

    /// p_n of the Erlang-A chain by direct products, truncated at `n_max`.
    fn chain(lam: f64, mu: f64, c: usize, theta: f64, n_max: usize) -> Vec<f64> {
        let mut p = vec![1.0];
        for n in 1..=n_max {
            let death = if n <= c { n as f64 * mu } else { c as f64 * mu + (n - c) as f64 * theta };
            p.push(p[n - 1] * lam / death);
        }
        let z: f64 = p.iter().sum();
        p.iter().map(|x| x / z).collect()
    }

    #[test]
    fn erlang_a_with_patience_rate_mu_is_poisson() {
        // θ = μ: every message in the system leaves at rate μ, served or not, so N is
        // M/M/∞'s Poisson(a) and P{Ab} = θE[(N − c)⁺]/λ.
        for (lam, c) in [(3.0, 2u32), (12.0, 10), (0.5, 1)] {
            let r = erlang_a(lam, 1.0, c, 1.0).unwrap();
            let mut pmf = (-lam).exp();
            let mut eq = 0.0;
            for n in 1..400u32 {
                pmf *= lam / f64::from(n);
                eq += f64::from(n.saturating_sub(c)) * pmf;
            }
            assert!(rel(r.queue_length_mean, eq) < 1e-12, "{} vs {eq}", r.queue_length_mean);
            assert!(rel(r.expire_probability, eq / lam) < 1e-12);
        }
    }

    #[test]
    fn erlang_a_served_probability_two_ways() {
        // P(served) from the tagged-message chain vs 1 − θE[Q]/λ (Little's law on the
        // abandonment stream): independent sums over the same p_n.
        for (lam, mu, c, th) in
            [(1.8, 1.0, 2, 0.5), (3.0, 1.0, 2, 0.2), (48.0, 1.0, 50, 0.1), (12.0, 1.0, 10, 5.0)]
        {
            let r = erlang_a(lam, mu, c, th).unwrap();
            let ServedWait::Exponential { tagged_p_served, .. } = r.served_wait else {
                panic!("not Erlang-A")
            };
            assert!((tagged_p_served - (1.0 - r.expire_probability)).abs() < 1e-12, "{r:?}");
            assert!(rel(r.utilization * f64::from(c) * mu, r.served_rate) < 1e-12);
        }
    }

    #[test]
    fn erlang_a_tends_to_mmc_as_patience_grows() {
        let m = mmc(9.0, 1.0, 10).unwrap();
        let r = erlang_a(9.0, 1.0, 10, 1e-7).unwrap();
        assert!(r.expire_probability < 1e-6);
        assert!(rel(r.wait_served_mean, m.wq) < 1e-5, "{} vs {}", r.wait_served_mean, m.wq);
        assert!(rel(r.p_wait, m.p_wait) < 1e-5);
        // θ = 0 is M/M/c exactly; overloaded without abandonment has no steady state.
        let r = erlang_a(9.0, 1.0, 10, 0.0).unwrap();
        assert!(rel(r.wait_served_mean, m.wq) < 1e-12);
        assert!(erlang_a(11.0, 1.0, 10, 0.0).is_none());
        // Tiny θ and overload: the chain would need ~10⁹ states; refused, not attempted.
        assert!(erlang_a(11.0, 1.0, 10, 1e-9).is_none());
    }

    #[test]
    fn erlang_a_wait_distribution_matches_the_chain() {
        for (lam, mu, c, th) in [(1.8, 1.0, 2, 0.5), (3.0, 1.0, 2, 0.2), (12.0, 1.0, 10, 5.0)] {
            let r = erlang_a(lam, mu, c, th).unwrap();
            // Mass of served waits > 0 from the M/M/n+G density (Zeltyn & Mandelbaum) with
            // exponential patience: λπ_{c−1} e^β Γ(s) β^{−s} P(s, β)/θ, against the chain.
            let p = chain(lam, mu, c as usize, th, 600);
            let (s, beta) = (f64::from(c) * mu / th + 1.0, lam / th);
            let ln_mass =
                lam.ln() + p[c as usize - 1].ln() + beta + statrs::function::gamma::ln_gamma(s)
                    - s * beta.ln()
                    + ln_gamma_p(s, beta)
                    - th.ln();
            let ServedWait::Exponential { tagged_p_served, .. } = r.served_wait else { panic!() };
            let chain_mass = r.p_wait_served * tagged_p_served;
            assert!(rel(ln_mass.exp(), chain_mass) < 1e-10, "{} vs {chain_mass}", ln_mass.exp());
            // ∫ P(W > t | served) dt = the tagged chain's E[W | served].
            let hi = 40.0 * (r.wait_served_mean + 1.0 / (f64::from(c) * mu));
            let steps = 200_000;
            let h = hi / f64::from(steps);
            let mean: f64 =
                (0..steps).map(|i| r.wait_served_survival((f64::from(i) + 0.5) * h) * h).sum();
            assert!(rel(mean, r.wait_served_mean) < 1e-7, "{mean} vs {}", r.wait_served_mean);
            for q in [0.5, 0.9, 0.99] {
                let t = r.wait_served_quantile(q).unwrap();
                if t > 0.0 {
                    assert!((r.wait_served_survival(t) - (1.0 - q)).abs() < 1e-9);
                }
            }
        }
    }

    #[test]
    fn longer_ttl_expires_fewer_and_serves_more() {
        // P{Ab} falls from Erlang B (D = 0) to its D = ∞ limit: 0 when stable, 1 − cμ/λ
        // when overloaded (the consumers saturate); the served wait grows towards M/M/c's.
        for (lam, c) in [(6.0, 10u32), (14.0, 10)] {
            let mut last = mmc_plus_d(lam, 1.0, c, 0.0).unwrap();
            for d in [0.01, 0.1, 0.5, 1.0, 3.0] {
                let r = mmc_plus_d(lam, 1.0, c, d).unwrap();
                assert!(r.expire_probability < last.expire_probability, "{lam} {d}");
                assert!(r.served_rate >= last.served_rate && r.utilization <= 1.0 + 1e-12);
                assert!(r.wait_served_mean > last.wait_served_mean);
                last = r;
            }
            let last = mmc_plus_d(lam, 1.0, c, 100.0).unwrap();
            let limit = if lam < f64::from(c) { 0.0 } else { 1.0 - f64::from(c) / lam };
            assert!((last.expire_probability - limit).abs() < 1e-3, "{lam}: {last:?}");
        }
    }
}
