//! Load that is not a stationary stream of single Poisson messages: bursts (MMPP), batches,
//! time-varying rates and a backlog at time 0.
//!
//! - **MMPP/M/1**, exact: the queue length and the MMPP's state form a quasi-birth-death
//!   process (levels = messages in the system, phases = MMPP states) with `A_up = Λ`,
//!   `A_local = Q − Λ − μI`, `A_down = μI` and level 0's local block `Q − Λ`; its stationary
//!   distribution is matrix-geometric, `π_n = π_0 Rⁿ` (Neuts, *Matrix-Geometric Solutions in
//!   Stochastic Models*, 1981, Thm 3.1.1), R from G computed by logarithmic reduction
//!   (Latouche & Ramaswami 1993, *J. Appl. Prob.* 30; Latouche & Ramaswami, *Introduction to
//!   Matrix Analytic Methods*, 1999, §8.4), `R = A_up (−A_local − A_up G)⁻¹`. Then
//!   `L = π_0 R (I − R)⁻² 1`, `W = L / λ̄` (Little), `Wq = W − 1/μ`, and the ready messages
//!   with prefetch p: `E[(N − p)⁺] = π_0 R^{p+1} (I − R)⁻² 1`.
//! - **M^X/G/1**, exact means: a batch is one customer of service `B = S_1 + … + S_X` in an
//!   M/G/1 (P–K), plus the wait behind the messages ahead of it in its own batch:
//!   `Wq = λ E[B²] / (2(1 − ρ)) + E[S] (E[X²] − E[X]) / (2 E[X])`, with
//!   `E[B²] = E[X] Var S + E[X²] E[S]²` (Gross & Harris, *Fundamentals of Queueing Theory*,
//!   4th ed., §3.3.1 for M^X/M/1 and §5.1.9 / Chaudhry & Templeton 1983 for M^X/G/1).
//!   With c > 1 consumers the c are taken as one server c times as fast (a heavy-traffic
//!   approximation, labelled so).
//! - **Fluid drain time** of a backlog B at time 0: `B / (c μ − λ)`, the time for the excess
//!   to be worked off at the net rate (Newell, *Applications of Queueing Theory*, 2nd ed.,
//!   1982, ch. 2, the deterministic fluid approximation). Approximate: it ignores the
//!   randomness, which matters when the backlog is small against the queue's normal length.
//! - The stream a producer sends for the traffic equations: its message rate (publishes ×
//!   mean batch) and, for QNA's two-moment formulas, an SCV: a renewal process's own, an
//!   MMPP's asymptotic index of dispersion of counts (Fischer & Meier-Hellstern 1993, "The
//!   Markov-modulated Poisson process (MMPP) cookbook", *Perf. Eval.* 18, eq. (2.10)), and a
//!   batch multiplies the count variability: `I = E[X] (c_a² + c_X²)` (Whitt 1983, QNA,
//!   batch arrivals). A schedule, sinusoid or trace is taken at its long-run mean rate as
//!   locally Poisson (SCV 1): approximate, said in the notes.
//!
//! The matrices are a handful of states (one per MMPP state), so a small dense Gauss–Jordan
//! inverse is all the linear algebra needed.

use super::choose::Station;
use super::traffic::Stream;
use crate::arrival::{Arrival, Mmpp};
use crate::results::{Latency, QueueAnalysis};
use crate::routing::QueueId;
use crate::scenario::{Model, Producer, batch_moments};

type Mat = Vec<Vec<f64>>;

fn zeros(n: usize) -> Mat {
    vec![vec![0.0; n]; n]
}

fn eye(n: usize) -> Mat {
    let mut m = zeros(n);
    (0..n).for_each(|i| m[i][i] = 1.0);
    m
}

fn mul(a: &Mat, b: &Mat) -> Mat {
    let n = a.len();
    let mut c = zeros(n);
    for i in 0..n {
        for k in 0..n {
            let x = a[i][k];
            if x != 0.0 {
                for j in 0..n {
                    c[i][j] += x * b[k][j];
                }
            }
        }
    }
    c
}

fn add(a: &Mat, b: &Mat, s: f64) -> Mat {
    a.iter().zip(b).map(|(r, q)| r.iter().zip(q).map(|(x, y)| x + s * y).collect()).collect()
}

/// Gauss–Jordan with partial pivoting; `None` if singular.
fn inv(a: &Mat) -> Option<Mat> {
    let n = a.len();
    let mut m = a.clone();
    let mut r = eye(n);
    for col in 0..n {
        let p = (col..n).max_by(|&i, &j| m[i][col].abs().total_cmp(&m[j][col].abs()))?;
        if m[p][col].abs() < 1e-300 {
            return None;
        }
        m.swap(col, p);
        r.swap(col, p);
        let d = m[col][col];
        for j in 0..n {
            m[col][j] /= d;
            r[col][j] /= d;
        }
        for i in 0..n {
            if i != col {
                let f = m[i][col];
                if f != 0.0 {
                    for j in 0..n {
                        m[i][j] -= f * m[col][j];
                        r[i][j] -= f * r[col][j];
                    }
                }
            }
        }
    }
    Some(r)
}

fn row_times(v: &[f64], m: &Mat) -> Vec<f64> {
    (0..m.len()).map(|j| v.iter().zip(m).map(|(x, r)| x * r[j]).sum()).collect()
}

fn row_sums(m: &Mat) -> Vec<f64> {
    m.iter().map(|r| r.iter().sum()).collect()
}

/// The MMPP's generator: state i moves to i + 1 (cyclically) at rate 1 / mean_duration.
fn generator(m: &Mmpp) -> Mat {
    let n = m.rates.len();
    let mut q = zeros(n);
    if n > 1 {
        for i in 0..n {
            let r = 1.0 / m.mean_durations[i];
            q[i][(i + 1) % n] += r;
            q[i][i] -= r;
        }
    }
    q
}

/// Stationary distribution of the cyclic MMPP: time shares `d_i / Σ d`.
fn phase_shares(m: &Mmpp) -> Vec<f64> {
    let t: f64 = m.mean_durations.iter().sum();
    m.mean_durations.iter().map(|d| d / t).collect()
}

/// A solved MMPP/M/1 queue. Times in seconds.
#[derive(Debug, Clone, PartialEq)]
pub struct MmppM1 {
    /// Long-run arrival rate λ̄.
    pub lambda: f64,
    /// ρ = λ̄ / μ.
    pub rho: f64,
    /// Mean wait Wq.
    pub wq: f64,
    /// Mean sojourn W.
    pub w: f64,
    /// Mean messages in the system L.
    pub l: f64,
    /// Mean messages waiting Lq = L − ρ.
    pub lq: f64,
    /// Mean ready messages with prefetch p (`None` for unlimited prefetch: 0).
    pub ready: f64,
}

/// MMPP/M/1 by the matrix-geometric method (module docs). `prefetch`: the consumer's
/// prefetch (0 = unlimited), for the ready count. `None` if unstable or the numerics fail.
pub fn mmpp_m1(m: &Mmpp, mu: f64, prefetch: u32) -> Option<MmppM1> {
    let n = m.rates.len();
    let lambda = m.mean_rate();
    if !(mu > 0.0 && lambda < mu) {
        return None;
    }
    let q = generator(m);
    let mut up = zeros(n);
    (0..n).for_each(|i| up[i][i] = m.rates[i]);
    let down = {
        let mut d = zeros(n);
        (0..n).for_each(|i| d[i][i] = mu);
        d
    };
    let local = add(&add(&q, &up, -1.0), &eye(n), -mu);
    // Logarithmic reduction for G (minimal solution of D + L G + U G² = 0).
    let neg_l_inv = inv(&add(&zeros(n), &local, -1.0))?;
    let mut h = mul(&neg_l_inv, &up);
    let mut l = mul(&neg_l_inv, &down);
    let mut g = l.clone();
    let mut t = h.clone();
    for _ in 0..64 {
        let u = add(&mul(&h, &l), &mul(&l, &h), 1.0);
        let w = inv(&add(&eye(n), &u, -1.0))?;
        h = mul(&w, &mul(&h, &h));
        l = mul(&w, &mul(&l, &l));
        g = add(&g, &mul(&t, &l), 1.0);
        t = mul(&t, &h);
        if row_sums(&g).iter().all(|s| (1.0 - s).abs() < 1e-14) {
            break;
        }
    }
    // R = U (−L − U G)⁻¹.
    let r = mul(&up, &inv(&add(&add(&zeros(n), &local, -1.0), &mul(&up, &g), -1.0))?);
    let i_r_inv = inv(&add(&eye(n), &r, -1.0))?;
    // π_0 (Q − Λ + R μ) = 0, π_0 (I − R)⁻¹ 1 = 1: replace one equation by the normalisation.
    let b = add(&add(&q, &up, -1.0), &mul(&r, &down), 1.0);
    let norm = row_sums(&i_r_inv);
    let mut sys = zeros(n);
    for i in 0..n {
        for j in 0..n {
            sys[i][j] = if j == 0 { norm[i] } else { b[i][j] };
        }
    }
    let mut e0 = vec![0.0; n];
    e0[0] = 1.0;
    let pi0 = row_times(&e0, &inv(&sys)?);
    let i_r_inv2 = mul(&i_r_inv, &i_r_inv);
    let tail = |k: u32| -> f64 {
        // π_0 R^k (I − R)⁻² 1.
        let mut rk = eye(n);
        for _ in 0..k {
            rk = mul(&rk, &r);
        }
        row_times(&pi0, &mul(&rk, &i_r_inv2)).iter().sum()
    };
    let l_sys = tail(1);
    let ready = if prefetch == 0 { 0.0 } else { tail(prefetch + 1) };
    let w = l_sys / lambda;
    let rho = lambda / mu;
    let res = MmppM1 { lambda, rho, wq: w - 1.0 / mu, w, l: l_sys, lq: l_sys - rho, ready };
    [res.wq, res.w, res.l, res.lq, res.ready]
        .iter()
        .all(|x| x.is_finite() && *x >= -1e-9)
        .then_some(res)
}

/// Asymptotic index of dispersion of an MMPP's counts (module docs).
pub fn mmpp_idc(m: &Mmpp) -> f64 {
    let n = m.rates.len();
    let lambda = m.mean_rate();
    let pi = phase_shares(m);
    // (eπ − Q)⁻¹ − eπ: the deviation matrix.
    let q = generator(m);
    let e_pi: Mat = (0..n).map(|_| pi.clone()).collect();
    let Some(z) = inv(&add(&e_pi, &q, -1.0)) else { return 1.0 };
    let d = add(&z, &e_pi, -1.0);
    let pl: Vec<f64> = pi.iter().zip(&m.rates).map(|(p, r)| p * r).collect();
    let s: f64 = row_times(&pl, &d).iter().zip(&m.rates).map(|(x, r)| x * r).sum();
    1.0 + 2.0 * s / lambda
}

/// Mean wait of M^X/G/1 (module docs): batches at rate `lambda`, batch size moments
/// `ex = E[X]`, `ex2 = E[X²]`, service mean and SCV. `None` if ρ ≥ 1.
pub fn mx_g1_wait(lambda: f64, ex: f64, ex2: f64, s_mean: f64, s_scv: f64) -> Option<f64> {
    let rho = lambda * ex * s_mean;
    if !(rho < 1.0 && lambda > 0.0 && ex >= 1.0) {
        return None;
    }
    let var_s = s_scv * s_mean * s_mean;
    let eb2 = ex * var_s + ex2 * s_mean * s_mean;
    Some(lambda * eb2 / (2.0 * (1.0 - rho)) + s_mean * (ex2 - ex) / (2.0 * ex))
}

/// Fluid drain time of a backlog of `backlog` messages: `B / (capacity − λ)`; `None` if the
/// queue cannot drain (λ ≥ capacity).
pub fn fluid_drain_time(backlog: f64, capacity: f64, lambda: f64) -> Option<f64> {
    (capacity > lambda).then(|| backlog / (capacity - lambda))
}

/// The stream producer `p` sends, whole (module docs).
pub(super) fn producer_stream(p: &Producer) -> Stream {
    let rate = p.message_rate();
    let rate = if rate.is_finite() { rate } else { f64::INFINITY };
    let ca2 = match &p.arrival {
        Arrival::Mmpp(m) => mmpp_idc(m),
        a => a.scv(),
    };
    match &p.batch {
        None => Stream { rate, scv: ca2, poisson: p.arrival.is_exponential() },
        Some(b) => {
            let (ex, ex2, _) = batch_moments(b);
            let cx2 = (ex2 - ex * ex) / (ex * ex);
            Stream { rate, scv: ex * (ca2 + cx2), poisson: false }
        }
    }
}

/// The queues producer `p` feeds and the stream each receives.
pub(super) fn producer_streams(p: &Producer) -> Vec<(QueueId, Stream)> {
    let s = producer_stream(p);
    p.queue_shares().into_iter().map(|(q, share)| (q, s.share(share))).collect()
}

/// The one producer feeding queue `q`, all of whose messages reach it, when nothing else
/// does (no `then`, no dead letters, no other producer).
fn sole_producer(model: &Model, q: QueueId) -> Option<&Producer> {
    let mut feeding = model.producers.iter().filter(|p| p.routes.contains(&q));
    let p = feeding.next()?;
    let fed_otherwise = feeding.next().is_some()
        || model.groups.iter().any(|g| g.then.as_ref().is_some_and(|t| t.routes.contains(&q)))
        || model.uses_message_lifecycle();
    let whole = p.queue_shares().iter().any(|&(x, s)| x == q && s >= 1.0);
    (!fed_otherwise && whole).then_some(p)
}

/// MMPP/M/1 and M^X/G/1 (M^X/G/c approximately) where they apply exactly as the scenario
/// says; `Err(qa)` hands the analysis back untouched otherwise.
pub(super) fn analyze(
    model: &Model,
    q: QueueId,
    st: &Station,
    mut qa: QueueAnalysis,
) -> Result<(QueueAnalysis, Stream), Box<QueueAnalysis>> {
    let Some(p) = sole_producer(model, q) else { return Err(Box::new(qa)) };
    if st.max_length.is_some() {
        return Err(Box::new(qa));
    }
    let prefetch = match st.dispatch {
        super::choose::Dispatch::Prefetch(k) => k,
        super::choose::Dispatch::Unlimited => 0,
    };
    let mu = st.mu();
    let out = |qa: &QueueAnalysis| Stream {
        rate: st.lambda,
        scv: qa.arrival_scv.unwrap_or(1.0),
        poisson: false,
    };
    match (&p.arrival, &p.batch) {
        (Arrival::Mmpp(m), None) if st.c == 1 && st.exp_service => {
            let Some(r) = mmpp_m1(m, mu, prefetch) else { return Err(Box::new(qa)) };
            qa.model = Some(format!("MMPP({})/M/1", m.rates.len()));
            qa.exact = true;
            fill(&mut qa, st, r.wq, r.lq, Some(r.ready));
            qa.notes.push(format!(
                "Markov-modulated Poisson arrivals ({} states, mean {:.6} msgs/s, index of dispersion {:.3}) into one consumer with exponential service: solved exactly as a quasi-birth-death process by the matrix-geometric method (Neuts 1981; R by logarithmic reduction, Latouche & Ramaswami 1993)",
                m.rates.len(),
                r.lambda,
                mmpp_idc(m)
            ));
            let o = out(&qa);
            Ok((qa, o))
        }
        (a, Some(b)) if a.is_exponential() => {
            let (ex, ex2, exact_batch) = batch_moments(b);
            let lam_b = a.mean_rate();
            let (s_mean, label) = if st.c == 1 {
                (st.s_mean, "M^X/G/1".to_string())
            } else {
                (
                    st.s_mean / f64::from(st.c),
                    format!("M^X/G/{} (as one server {} times as fast)", st.c, st.c),
                )
            };
            // c consumers as one fast server: the service SCV of S/c stays c_s².
            let Some(wq) = mx_g1_wait(lam_b, ex, ex2, s_mean, st.cs2) else {
                return Err(Box::new(qa));
            };
            qa.model = Some(label);
            qa.exact = st.c == 1 && exact_batch;
            let lq = st.lambda * wq;
            let ready = match (st.c, prefetch) {
                (_, 0) => Some(0.0),
                (1, 1) => Some(lq),
                _ => None,
            };
            fill(&mut qa, st, wq, lq, ready);
            qa.notes.push(format!(
                "Poisson publishes ({lam_b:.6}/s) of batches of E[X] = {ex:.4} messages (E[X²] = {ex2:.4}{}): each batch is one M/G/1 customer, plus the wait behind the messages ahead in its batch (Gross & Harris §5.1.9){}",
                if exact_batch { "" } else { ", approximated from the batch distribution's mean and SCV" },
                if st.c > 1 { "; with several consumers the pool is taken as one server c times as fast, an approximation that is good in heavy traffic and pessimistic in light traffic" } else { "" }
            ));
            let o = out(&qa);
            Ok((qa, o))
        }
        _ => Err(Box::new(qa)),
    }
}

fn fill(qa: &mut QueueAnalysis, st: &Station, wq: f64, lq: f64, ready: Option<f64>) {
    let rho = st.lambda * st.s_mean / f64::from(st.c);
    qa.stable = true;
    qa.throughput = Some(st.lambda);
    qa.loss_probability = Some(0.0);
    qa.utilization = Some(rho);
    qa.wait_s = Latency { mean: Some(wq), ..Latency::default() };
    qa.sojourn_s = Latency { mean: Some(wq + st.s_mean), ..Latency::default() };
    qa.waiting.mean = Some(lq);
    qa.in_system.mean = Some(lq + st.lambda * st.s_mean);
    qa.queue_length.mean = ready;
}

/// What every queue's analysis adds for time-varying producers and a backlog: a note that
/// a long-run answer averages over the peaks (and is approximate), and the fluid drain time.
pub(super) fn annotate(model: &Model, q: QueueId, qa: &mut QueueAnalysis) {
    let varying: Vec<&str> = model
        .producers
        .iter()
        .filter(|p| p.routes.contains(&q) && p.arrival.is_time_varying())
        .map(|p| p.name.as_str())
        .collect();
    if !varying.is_empty() {
        qa.exact = false;
        qa.time_varying_arrivals = true;
        qa.notes.push(format!(
            "producers with a rate that changes over time ({}): analysed at their long-run mean rate as if stationary, so these figures are approximate averages over peaks and troughs; the peak is worse (see the simulation's per-window figures)",
            varying.join(", ")
        ));
    }
    if let Some(b) = model.queues[q].initial_messages {
        let capacity = qa.consumers as f64 / qa.service_mean_s.unwrap_or(f64::INFINITY);
        let lambda = qa.offered_rate.unwrap_or(0.0);
        qa.drain_time_s = fluid_drain_time(b as f64, capacity, lambda);
        qa.notes.push(match qa.drain_time_s {
            Some(t) => format!(
                "initial backlog of {b} messages: fluid drain time B/(cμ − λ) = {b}/({capacity:.6} − {lambda:.6}) = {t:.6} s (Newell 1982; approximate: it ignores randomness, fair when the backlog is large against the queue's normal length)"
            ),
            None => format!("initial backlog of {b} messages: it never drains, since the offered rate is not below the capacity"),
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_state_mmpp_is_mm1() {
        let m = Mmpp { rates: vec![8.0], mean_durations: vec![1.0] };
        let r = mmpp_m1(&m, 10.0, 1).unwrap();
        // M/M/1: W = 1/(μ − λ) = 0.5, Wq = ρ/(μ − λ) = 0.4, ready with prefetch 1 = Lq = ρ²/(1−ρ).
        assert!((r.w - 0.5).abs() < 1e-12, "{r:?}");
        assert!((r.wq - 0.4).abs() < 1e-12);
        assert!((r.ready - 3.2).abs() < 1e-10);
        assert!((mmpp_idc(&m) - 1.0).abs() < 1e-12);
    }

    #[test]
    fn two_state_mmpp_matches_a_truncated_ctmc() {
        let m = Mmpp { rates: vec![2.0, 12.0], mean_durations: vec![3.0, 1.0] };
        let mu = 10.0;
        let r = mmpp_m1(&m, mu, 1).unwrap();
        let cap = 400usize;
        let idx = |n: usize, s: usize| n * 2 + s;
        let mut tr = Vec::new();
        for n in 0..=cap {
            for s in 0..2 {
                tr.push((idx(n, s), idx(n, 1 - s), 1.0 / m.mean_durations[s]));
                if n < cap {
                    tr.push((idx(n, s), idx(n + 1, s), m.rates[s]));
                }
                if n > 0 {
                    tr.push((idx(n, s), idx(n - 1, s), mu));
                }
            }
        }
        let pi =
            super::super::numeric::ctmc_stationary(2 * (cap + 1), &tr, 1e-14, 200_000).unwrap();
        let l: f64 = (0..=cap).map(|n| n as f64 * (pi[idx(n, 0)] + pi[idx(n, 1)])).sum();
        assert!((r.l - l).abs() < 1e-6 * l, "{} vs {l}", r.l);
        // Bursts cost: worse than M/M/1 at the same mean rate (4.5/s): W = 1/5.5.
        assert!(r.w > 1.0 / 5.5);
        // Two-state IDC closed form (Heffes & Lucantoni 1986): 1 + 2 (λ1−λ2)² r1 r2 / ((r1+r2)³ λ̄)
        // with switching rates r1 = 1/3, r2 = 1.
        let (r1, r2, lb): (f64, f64, f64) = (1.0 / 3.0, 1.0, m.mean_rate());
        let want = 1.0 + 2.0 * 100.0 * r1 * r2 / ((r1 + r2).powi(3) * lb);
        assert!((mmpp_idc(&m) - want).abs() < 1e-10, "{} vs {want}", mmpp_idc(&m));
    }

    #[test]
    fn mx_g1_reduces_to_mg1_and_to_known_mxm1() {
        // X ≡ 1: P–K.
        let w = mx_g1_wait(5.0, 1.0, 1.0, 0.1, 1.0).unwrap();
        assert!((w - 0.1).abs() < 1e-12);
        // M^X/M/1 with constant X = 3, λ = 2, μ = 10: ρ = 0.6; Gross & Harris (3.43):
        // L = (ρ + r)/(1 − ρ) with r = λE[X²]/(2μ)·… — checked against the formula's parts:
        // Wq = λ(E[X]+E[X²])/μ² /(2(1−ρ)) + (E[X²]−E[X])/(2E[X]μ).
        let w = mx_g1_wait(2.0, 3.0, 9.0, 0.1, 1.0).unwrap();
        let want = 2.0 * (3.0 + 9.0) * 0.01 / (2.0 * 0.4) + 0.1 * 6.0 / 6.0;
        assert!((w - want).abs() < 1e-12);
        assert!(mx_g1_wait(4.0, 3.0, 9.0, 0.1, 1.0).is_none());
        assert_eq!(fluid_drain_time(1000.0, 20.0, 10.0), Some(100.0));
        assert_eq!(fluid_drain_time(1000.0, 10.0, 10.0), None);
    }
}
