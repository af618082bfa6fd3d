//! Reference loops: the tightest code that simulates the same queue as the engine, used as
//! the physical floor the engine's speed is measured against (benches and `mqsim bench`).
//! They share the engine's RNG (`Xoshiro256PlusPlus`) and samplers (`rand_distr::Exp`), so a
//! ratio of run times is the cost of the engine's generality, not of randomness.

use rand::SeedableRng;
use rand::rngs::Xoshiro256PlusPlus;
use rand_distr::{Distribution, Exp};
use std::cmp::Reverse;
use std::collections::{BinaryHeap, VecDeque};

/// M/M/1 by the Lindley recursion W(n+1) = max(0, W(n) + S(n) − A(n+1)) over `n` customers.
/// Returns the mean wait. Two random draws and a handful of flops per customer.
pub fn lindley_mm1(lambda: f64, mu: f64, n: u64, seed: u64) -> f64 {
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(seed);
    let (arr, svc) = (Exp::new(lambda).expect("rate > 0"), Exp::new(mu).expect("rate > 0"));
    let (mut w, mut sum) = (0.0f64, 0.0f64);
    for _ in 0..n {
        sum += w;
        w = (w + svc.sample(&mut rng) - arr.sample(&mut rng)).max(0.0);
    }
    sum / n as f64
}

/// Total order on non-negative finite f64 through their bit patterns (valid for x ≥ 0).
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
struct T(u64);

/// M/M/c with a minimal event loop: a binary heap of (time, kind) events and a FIFO of
/// arrival times, simulated up to `horizon`. Returns (events processed, mean wait).
pub fn heap_mmc(lambda: f64, mu: f64, c: u32, horizon: f64, seed: u64) -> (u64, f64) {
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(seed);
    let (arr, svc) = (Exp::new(lambda).expect("rate > 0"), Exp::new(mu).expect("rate > 0"));
    // kind 0 = arrival, 1 = departure; ties broken by kind then insertion is irrelevant here.
    let mut heap: BinaryHeap<Reverse<(T, u8)>> = BinaryHeap::with_capacity(c as usize + 2);
    let mut queue: VecDeque<f64> = VecDeque::new();
    let mut idle = c;
    let (mut events, mut served, mut wsum) = (0u64, 0u64, 0.0f64);
    heap.push(Reverse((T(arr.sample(&mut rng).to_bits()), 0)));
    while let Some(Reverse((T(bits), kind))) = heap.pop() {
        let now = f64::from_bits(bits);
        if now > horizon {
            break;
        }
        events += 1;
        if kind == 0 {
            heap.push(Reverse((T((now + arr.sample(&mut rng)).to_bits()), 0)));
            if idle > 0 {
                idle -= 1;
                served += 1;
                heap.push(Reverse((T((now + svc.sample(&mut rng)).to_bits()), 1)));
            } else {
                queue.push_back(now);
            }
        } else if let Some(t) = queue.pop_front() {
            wsum += now - t;
            served += 1;
            heap.push(Reverse((T((now + svc.sample(&mut rng)).to_bits()), 1)));
        } else {
            idle += 1;
        }
    }
    (events, if served > 0 { wsum / served as f64 } else { 0.0 })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reference_loops_agree_with_theory() {
        // M/M/1 ρ = 0.5: Wq = ρ/(μ−λ) = 0.5/5 = 0.1. 2·10⁶ customers: relative SE ≈ 1%.
        let w = lindley_mm1(5.0, 10.0, 2_000_000, 1);
        assert!((w / 0.1 - 1.0).abs() < 0.05, "{w}");
        // M/M/2, λ = 10, μ = 10: a = 1, ρ = 0.5, C = 1/3, Wq = C/(cμ−λ) = 1/30.
        let (events, w) = heap_mmc(10.0, 10.0, 2, 100_000.0, 2);
        assert!(events > 1_900_000);
        assert!((w * 30.0 - 1.0).abs() < 0.05, "{w}");
    }
}
