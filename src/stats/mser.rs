//! MSER-5 warm-up detection (White 1997; White, Cobb & Spratt 2000): batch the output series
//! into means of 5, and truncate where the squared standard error of the remaining batches,
//! Σ(Zⱼ − Z̄_d)² / (m − d)², is smallest, searching only the first half of the run (a minimum
//! in the second half means the run is too short to tell).

/// Batch size of MSER-5.
pub const BATCH: usize = 5;

/// The number of leading observations to discard from `series` (a multiple of 5), or 0
/// when there are fewer than 10 batches. Time: O(n).
pub fn mser5(series: &[f64]) -> usize {
    let z: Vec<f64> =
        series.chunks_exact(BATCH).map(|c| c.iter().sum::<f64>() / BATCH as f64).collect();
    let m = z.len();
    if m < 10 {
        return 0;
    }
    // Suffix sums give every truncation's mean and sum of squares in one pass.
    let (mut s1, mut s2) = (vec![0.0; m + 1], vec![0.0; m + 1]);
    for j in (0..m).rev() {
        s1[j] = s1[j + 1] + z[j];
        s2[j] = s2[j + 1] + z[j] * z[j];
    }
    let mut best = (f64::INFINITY, 0);
    for d in 0..=m / 2 {
        let n = (m - d) as f64;
        let mean = s1[d] / n;
        let ss = (s2[d] - n * mean * mean).max(0.0);
        let stat = ss / (n * n);
        if stat < best.0 {
            best = (stat, d);
        }
    }
    best.1 * BATCH
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use rand::rngs::Xoshiro256PlusPlus;
    use rand_distr::{Distribution, Normal};

    #[test]
    fn finds_an_initial_transient() {
        let mut rng = Xoshiro256PlusPlus::seed_from_u64(3);
        let noise = Normal::new(0.0, 1.0).unwrap();
        // 200 observations decaying from 20 to 0, then 1800 of stationary noise.
        let series: Vec<f64> = (0..2000)
            .map(|i| {
                let trend = if i < 200 { 20.0 * (1.0 - i as f64 / 200.0) } else { 0.0 };
                trend + noise.sample(&mut rng)
            })
            .collect();
        let d = mser5(&series);
        assert!((150..=260).contains(&d), "truncated {d}");
        // A stationary series needs (almost) no truncation.
        let flat: Vec<f64> = (0..2000).map(|_| noise.sample(&mut rng)).collect();
        assert!(mser5(&flat) <= 200, "{}", mser5(&flat));
        assert_eq!(mser5(&[1.0; 20]), 0);
    }
}
