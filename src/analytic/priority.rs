//! Non-preemptive priority classes (Cobham's formulas): Poisson arrivals per class, one
//! queue per class served highest class first, FIFO within a class; a message in service
//! is never interrupted. Classes are indexed 0..K from the highest priority to the lowest.
//!
//! Sources: A. Cobham, "Priority assignment in waiting line problems", *Operations
//! Research* 2 (1954) (both the M/G/1 and the equal-rate M/M/c results); Gross, Shortle,
//! Thompson & Harris, *Fundamentals of Queueing Theory* (4th ed., 2008), §3.4 (priority
//! disciplines; non-preemptive M/G/1: `W_k = W₀/((1−σ_{k−1})(1−σ_k))`,
//! `W₀ = Σ_i λ_i E[S_i²]/2`, and the multi-server case, M/M/c with every class served at
//! the same rate μ:
//! `W_k = (C(c, a)/(cμ)) / ((1−σ_{k−1})(1−σ_k))` with C Erlang's delay formula for the total
//! load `a = Σλ_i/μ`); Kleinrock, *Queueing Systems* vol. 2 (1976), §3.7 (the M/G/1
//! conservation law `Σ_k ρ_k W_k = ρW₀/(1−ρ)`, the same for every work-conserving
//! non-preemptive discipline). Here `σ_k = Σ_{i<=k} ρ_i` with `ρ_i = λ_iE[S_i]/c`.
//!
//! With equal exponential rates the number of busy consumers does not depend on the order
//! of service, so it is M/M/c's and an arrival of any class waits with probability C(c, a)
//! (PASTA). No distribution is given: the per-class wait distributions have no simple
//! closed form (they involve the busy periods of the higher classes), and we give no
//! made-up quantiles.
//!
//! Overload: class k is stable iff `σ_k < 1`, whatever the lower classes do. When the
//! total load is >= 1 the lowest classes' backlog grows without bound and the consumers
//! are always busy; the stable classes then see the limit of the formulas: `C = 1` for
//! M/M/c (`W₀ = 1/(cμ)`), and for M/G/1 a server that works a fraction ρ_i on each stable
//! class i and the remaining `1 − σ` on the first unstable class (the classes below it are
//! never served), so `W₀ = Σ_{stable} λ_iE[S_i²]/2 + (1 − σ_stable)·E[S_u²]/(2E[S_u])`
//! (the time-average residual service). Unstable classes get `None` means.

use super::mmc::erlang_c;

/// One priority class of a solved queue. Times in seconds, rates per second.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PriorityClass {
    /// Arrival rate λ_k of this class.
    pub lambda: f64,
    /// Mean service time E\[S_k\].
    pub service_mean: f64,
    /// This class's load per consumer, ρ_k = λ_kE\[S_k\]/c.
    pub load: f64,
    /// Cumulative load σ_k = Σ_{i<=k} ρ_i of this class and all higher ones.
    pub sigma: f64,
    /// Whether this class has a steady state (`σ_k < 1`); lower classes may not.
    pub stable: bool,
    /// Probability an arrival of this class finds every consumer busy and waits: Erlang
    /// C(c, a) for the total load (the same for all classes), ρ for M/G/1; 1 when the total
    /// load is >= 1.
    pub p_wait: f64,
    /// Mean wait before service (Cobham). `None` if the class is unstable.
    pub wait_mean: Option<f64>,
    /// Mean sojourn, `wait_mean + E[S_k]`. `None` if the class is unstable.
    pub sojourn_mean: Option<f64>,
}

/// Fills the per-class figures from `W₀` and the per-class loads.
fn classes(
    lambdas: &[f64],
    means: &[f64],
    loads: &[f64],
    w0: f64,
    p_wait: f64,
) -> Vec<PriorityClass> {
    let mut prev = 0.0;
    let mut out = Vec::with_capacity(lambdas.len());
    for ((&lambda, &service_mean), &load) in lambdas.iter().zip(means).zip(loads) {
        let sigma = prev + load;
        let stable = sigma < 1.0;
        let wait_mean = stable.then(|| w0 / ((1.0 - prev) * (1.0 - sigma)));
        out.push(PriorityClass {
            lambda,
            service_mean,
            load,
            sigma,
            stable,
            p_wait,
            wait_mean,
            sojourn_mean: wait_mean.map(|w| w + service_mean),
        });
        prev = sigma;
    }
    out
}

fn rates_ok(lambdas: &[f64]) -> bool {
    !lambdas.is_empty() && lambdas.iter().all(|l| l.is_finite() && *l >= 0.0)
}

/// Non-preemptive priorities in M/M/c with the same service rate μ for every class
/// (Cobham 1954; Gross & Harris §3.4), `lambdas[0]` the highest priority. `None` for an
/// empty or invalid `lambdas`, a non-positive or non-finite μ, or `c == 0`. Returns every
/// class, stable or not (see the module docs for overload).
pub fn mmc_priority(lambdas: &[f64], mu: f64, c: u32) -> Option<Vec<PriorityClass>> {
    if !(rates_ok(lambdas) && mu.is_finite() && mu > 0.0 && c > 0) {
        return None;
    }
    let cmu = f64::from(c) * mu;
    let total: f64 = lambdas.iter().sum();
    let p_wait = erlang_c(c, total / mu);
    let means = vec![1.0 / mu; lambdas.len()];
    let loads: Vec<f64> = lambdas.iter().map(|l| l / cmu).collect();
    Some(classes(lambdas, &means, &loads, p_wait / cmu, p_wait))
}

/// Non-preemptive priorities in M/G/1, class k with its own service mean E\[S_k\] and
/// squared coefficient of variation `c_k² = Var S_k / E[S_k]²` (Cobham 1954; Gross & Harris
/// §3.4): `W_k = W₀/((1−σ_{k−1})(1−σ_k))`, `W₀ = Σ λ_iE[S_i](1 + c_i²)E[S_i]/2`.
/// `None` when the slices are empty or of different lengths, or hold a negative or
/// non-finite rate, a non-positive or non-finite mean, or a negative or non-finite SCV.
pub fn mg1_priority(
    lambdas: &[f64],
    service_means: &[f64],
    service_scvs: &[f64],
) -> Option<Vec<PriorityClass>> {
    let n = lambdas.len();
    let ok = rates_ok(lambdas)
        && service_means.len() == n
        && service_scvs.len() == n
        && service_means.iter().all(|m| m.is_finite() && *m > 0.0)
        && service_scvs.iter().all(|s| s.is_finite() && *s >= 0.0);
    if !ok {
        return None;
    }
    let loads: Vec<f64> = lambdas.iter().zip(service_means).map(|(l, m)| l * m).collect();
    // W₀ = time-average residual service: each class's share of the server's time times
    // its mean residual E[S²]/(2E[S]) = E[S](1 + c²)/2.
    let mut w0 = 0.0;
    let mut sigma = 0.0;
    for ((&load, &m), &scv) in loads.iter().zip(service_means).zip(service_scvs) {
        let residual = m * (1.0 + scv) / 2.0;
        if sigma + load < 1.0 {
            w0 += load * residual;
            sigma += load;
        } else {
            w0 += (1.0 - sigma) * residual;
            sigma = 1.0;
            break;
        }
    }
    Some(classes(lambdas, service_means, &loads, w0, sigma.min(1.0)))
}

#[cfg(test)]
mod tests {
    use super::super::mg1::mg1;
    use super::super::mmc::mmc;
    use super::super::numeric::ctmc_stationary;
    use super::*;

    fn rel(a: f64, b: f64) -> f64 {
        (a - b).abs() / b.abs().max(1e-300)
    }

    #[test]
    fn one_class_is_mmc_and_pollaczek_khinchine() {
        for (lam, mu, c) in [(0.8, 1.0, 1), (64.0, 10.0, 8), (9.0, 1.0, 10)] {
            let p = mmc_priority(&[lam], mu, c).unwrap();
            let m = mmc(lam, mu, c).unwrap();
            assert!(rel(p[0].wait_mean.unwrap(), m.wq) < 1e-14);
            assert!(rel(p[0].sojourn_mean.unwrap(), m.w) < 1e-14);
            assert!(rel(p[0].p_wait, m.p_wait) < 1e-14);
            // Splitting one class into equal-priority halves is not the same as two
            // priorities, but a zero-rate class anywhere changes nothing for the others.
            let z = mmc_priority(&[0.0, lam, 0.0], mu, c).unwrap();
            assert!(rel(z[1].wait_mean.unwrap(), m.wq) < 1e-14);
        }
        for scv in [0.0, 1.0, 2.5] {
            let p = mg1_priority(&[0.7], &[1.2], &[scv]).unwrap();
            let m = mg1(0.7, 1.2, scv).unwrap();
            assert!(rel(p[0].wait_mean.unwrap(), m.wq) < 1e-14, "{scv}");
            assert!(rel(p[0].p_wait, m.rho) < 1e-14);
        }
    }

    #[test]
    fn mg1_with_equal_exponential_service_is_mmc_priority_with_one_consumer() {
        for lambdas in [vec![0.2, 0.3, 0.4], vec![0.5, 0.9]] {
            let a = mg1_priority(&lambdas, &vec![1.0; lambdas.len()], &vec![1.0; lambdas.len()]);
            let b = mmc_priority(&lambdas, 1.0, 1).unwrap();
            for (x, y) in a.unwrap().iter().zip(&b) {
                assert_eq!(x.stable, y.stable);
                assert_eq!(x.wait_mean.is_some(), y.wait_mean.is_some());
                if let (Some(p), Some(q)) = (x.wait_mean, y.wait_mean) {
                    assert!(rel(p, q) < 1e-14, "{lambdas:?}: {p} vs {q}");
                }
            }
        }
    }

    #[test]
    fn kleinrock_conservation_law() {
        // M/G/1: Σ ρ_k W_k = ρ W₀/(1−ρ) = ρ · Wq(FCFS), the FCFS wait of the merged stream
        // (P–K with the mixture's E[S] and E[S²]), whatever the priority order.
        let lambdas = [0.3, 0.1, 0.2];
        let means = [0.5, 2.0, 1.0];
        let scvs = [0.0, 3.0, 1.0];
        let lam: f64 = lambdas.iter().sum();
        let es = lambdas.iter().zip(&means).map(|(l, m)| l * m).sum::<f64>() / lam;
        let es2 =
            (0..3).map(|i| lambdas[i] * means[i] * means[i] * (1.0 + scvs[i])).sum::<f64>() / lam;
        let fcfs = mg1(lam, es, es2 / (es * es) - 1.0).unwrap();
        for order in [[0, 1, 2], [2, 1, 0], [1, 0, 2]] {
            let pick = |v: &[f64]| order.iter().map(|&i| v[i]).collect::<Vec<f64>>();
            let p = mg1_priority(&pick(&lambdas), &pick(&means), &pick(&scvs)).unwrap();
            let sum: f64 = p.iter().map(|k| k.load * k.wait_mean.unwrap()).sum();
            assert!(
                rel(sum, fcfs.rho * fcfs.wq) < 1e-13,
                "{order:?}: {sum} vs {}",
                fcfs.rho * fcfs.wq
            );
        }
        // M/M/c with equal rates: the number waiting is M/M/c's for any order, so
        // Σ λ_k W_k = λ Wq(M/M/c).
        let p = mmc_priority(&[1.0, 2.0, 3.0, 0.5], 1.0, 8).unwrap();
        let m = mmc(6.5, 1.0, 8).unwrap();
        let sum: f64 = p.iter().map(|k| k.lambda * k.wait_mean.unwrap()).sum();
        assert!(rel(sum, m.lq) < 1e-13, "{sum} vs {}", m.lq);
        // Priority helps the top class and hurts the bottom one relative to FCFS.
        assert!(p[0].wait_mean.unwrap() < m.wq && p[3].wait_mean.unwrap() > m.wq);
    }

    /// Two classes, exponential service with rates `mu[0]`, `mu[1]`, one server: the exact
    /// CTMC on (class in service or idle, q₀, q₁) truncated at `n` per queue. Returns
    /// (W₀, W₁) by Little on E[q_k].
    fn ctmc_one_server(lam: [f64; 2], mu: [f64; 2], n: usize) -> (f64, f64) {
        let side = n + 1;
        let id = |s: usize, q0: usize, q1: usize| 1 + s * side * side + q0 * side + q1;
        let states = 1 + 2 * side * side;
        let mut tr = vec![(0, id(0, 0, 0), lam[0]), (0, id(1, 0, 0), lam[1])];
        for (s, &rate) in mu.iter().enumerate() {
            for q0 in 0..=n {
                for q1 in 0..=n {
                    let from = id(s, q0, q1);
                    if q0 < n {
                        tr.push((from, id(s, q0 + 1, q1), lam[0]));
                    }
                    if q1 < n {
                        tr.push((from, id(s, q0, q1 + 1), lam[1]));
                    }
                    let to = if q0 > 0 {
                        id(0, q0 - 1, q1)
                    } else if q1 > 0 {
                        id(1, 0, q1 - 1)
                    } else {
                        0
                    };
                    tr.push((from, to, rate));
                }
            }
        }
        let pi = ctmc_stationary(states, &tr, 1e-15, 20_000).unwrap();
        let (mut l0, mut l1) = (0.0, 0.0);
        for s in 0..2 {
            for q0 in 0..=n {
                for q1 in 0..=n {
                    l0 += q0 as f64 * pi[id(s, q0, q1)];
                    l1 += q1 as f64 * pi[id(s, q0, q1)];
                }
            }
        }
        (l0 / lam[0], l1 / lam[1])
    }

    #[test]
    fn mg1_priority_matches_the_exact_chain_with_unequal_rates() {
        // Class 0: λ = 0.3, E[S] = 1; class 1: λ = 0.15, E[S] = 2 (ρ = 0.6), exponential.
        let (w0, w1) = ctmc_one_server([0.3, 0.15], [1.0, 0.5], 45);
        let p = mg1_priority(&[0.3, 0.15], &[1.0, 2.0], &[1.0, 1.0]).unwrap();
        assert!(rel(p[0].wait_mean.unwrap(), w0) < 1e-7, "{:?} vs {w0}", p[0]);
        assert!(rel(p[1].wait_mean.unwrap(), w1) < 1e-7, "{:?} vs {w1}", p[1]);
        // The reverse order too (the long jobs first).
        let (w0, w1) = ctmc_one_server([0.15, 0.3], [0.5, 1.0], 70);
        let p = mg1_priority(&[0.15, 0.3], &[2.0, 1.0], &[1.0, 1.0]).unwrap();
        assert!(rel(p[0].wait_mean.unwrap(), w0) < 1e-7, "{:?} vs {w0}", p[0]);
        assert!(rel(p[1].wait_mean.unwrap(), w1) < 1e-7, "{:?} vs {w1}", p[1]);
    }

    #[test]
    fn mmc_priority_matches_the_exact_chain_with_two_servers() {
        // c = 2, μ = 1, λ = (0.5, 0.7): states (b busy, no queue) for b < 2, then
        // (2 busy, q₀, q₁); with equal rates the class in service does not matter.
        let (lam, mu, c, n) = ([0.5, 0.7], 1.0, 2usize, 45usize);
        let side = n + 1;
        let id = |q0: usize, q1: usize| c + q0 * side + q1;
        let mut tr = Vec::new();
        for b in 0..c {
            let up = if b + 1 < c { b + 1 } else { id(0, 0) };
            tr.push((b, up, lam[0] + lam[1]));
            if b > 0 {
                tr.push((b, b - 1, b as f64 * mu));
            }
        }
        for q0 in 0..=n {
            for q1 in 0..=n {
                let from = id(q0, q1);
                if q0 < n {
                    tr.push((from, id(q0 + 1, q1), lam[0]));
                }
                if q1 < n {
                    tr.push((from, id(q0, q1 + 1), lam[1]));
                }
                let to = if q0 > 0 {
                    id(q0 - 1, q1)
                } else if q1 > 0 {
                    id(0, q1 - 1)
                } else {
                    c - 1
                };
                tr.push((from, to, c as f64 * mu));
            }
        }
        let pi = ctmc_stationary(c + side * side, &tr, 1e-15, 20_000).unwrap();
        let (mut l0, mut l1, mut busy) = (0.0, 0.0, 0.0);
        for q0 in 0..=n {
            for q1 in 0..=n {
                l0 += q0 as f64 * pi[id(q0, q1)];
                l1 += q1 as f64 * pi[id(q0, q1)];
                busy += pi[id(q0, q1)];
            }
        }
        let p = mmc_priority(&lam, mu, c as u32).unwrap();
        assert!(rel(p[0].wait_mean.unwrap(), l0 / lam[0]) < 1e-7, "{:?} vs {}", p[0], l0 / lam[0]);
        assert!(rel(p[1].wait_mean.unwrap(), l1 / lam[1]) < 1e-7, "{:?} vs {}", p[1], l1 / lam[1]);
        assert!(rel(p[1].p_wait, busy) < 1e-7, "P(all busy) {busy}");
    }

    #[test]
    fn overload_keeps_the_top_classes_finite() {
        // Class 1 alone overloads two consumers (σ₁ > 1), class 0 is light: the consumers
        // are always busy, each completion (rate cμ) serves a waiting top message first, so
        // the top class waits as in M/M/1 with service rate cμ: W₀ = 1/(cμ − λ₀).
        let p = mmc_priority(&[0.5, 5.0], 1.0, 2).unwrap();
        assert!(p[0].stable && !p[1].stable);
        assert!(rel(p[0].wait_mean.unwrap(), 1.0 / (2.0 - 0.5)) < 1e-14);
        assert_eq!(p[1].wait_mean, None);
        assert_eq!(p[1].sojourn_mean, None);
        assert_eq!(p[0].p_wait, 1.0);
        // The M/G/1 limit agrees with it for equal exponential service.
        let g = mg1_priority(&[0.5, 5.0, 1.0], &[1.0; 3], &[1.0; 3]).unwrap();
        assert!(rel(g[0].wait_mean.unwrap(), 1.0 / (1.0 - 0.5)) < 1e-14);
        assert!(!g[1].stable && !g[2].stable);
        // Invalid input.
        assert!(mmc_priority(&[], 1.0, 1).is_none());
        assert!(mmc_priority(&[-1.0], 1.0, 1).is_none());
        assert!(mmc_priority(&[1.0], 1.0, 0).is_none());
        assert!(mg1_priority(&[1.0], &[1.0, 2.0], &[1.0]).is_none());
        assert!(mg1_priority(&[1.0], &[0.0], &[1.0]).is_none());
        assert!(mg1_priority(&[1.0], &[1.0], &[f64::NAN]).is_none());
    }
}
