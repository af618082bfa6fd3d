//! Time-weighted averages of piecewise-constant quantities (queue length, busy consumers),
//! counting only the time after the warm-up.

/// Integrates a step function over `[warmup, end]`.
#[derive(Debug, Clone)]
pub struct TimeAverage {
    warmup: f64,
    last_t: f64,
    value: f64,
    area: f64,
    max: f64,
}

impl TimeAverage {
    /// Starts at value 0 at time 0; time before `warmup` is not counted.
    pub fn new(warmup: f64) -> Self {
        TimeAverage { warmup, last_t: 0.0, value: 0.0, area: 0.0, max: 0.0 }
    }

    /// The value changes to `v` at time `t` (non-decreasing times).
    #[inline]
    pub fn set(&mut self, t: f64, v: f64) {
        if self.last_t > self.warmup && t > self.warmup {
            // The common case, past the warm-up: the general code below with its tests
            // decided (`last_t.max(warmup)` is `last_t`). Values are counts, never NaN, so
            // the comparison takes the same maximum as `f64::max`.
            self.area += self.value * (t - self.last_t);
            if v > self.max {
                self.max = v;
            }
            self.last_t = t;
            self.value = v;
            return;
        }
        if t > self.warmup {
            if self.last_t <= self.warmup {
                // The value held across the end of the warm-up counts towards the max.
                self.max = self.max.max(self.value);
            }
            self.area += self.value * (t - self.last_t.max(self.warmup));
        }
        if t >= self.warmup {
            self.max = self.max.max(v);
        }
        self.last_t = t;
        self.value = v;
    }

    /// Current value.
    pub fn value(&self) -> f64 {
        self.value
    }

    /// Largest value held after the warm-up (including the value held at the warm-up).
    pub fn max(&self) -> f64 {
        if self.last_t <= self.warmup { self.max.max(self.value) } else { self.max }
    }

    /// Average over `[warmup, end]`.
    pub fn average(&self, end: f64) -> f64 {
        let span = end - self.warmup;
        if span > 0.0 { self.integral(end) / span } else { 0.0 }
    }

    /// Integral over `[warmup, end]` (value × seconds).
    pub fn integral(&self, end: f64) -> f64 {
        let from = self.last_t.max(self.warmup);
        self.area + self.value * (end - from).max(0.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn integrates_after_warmup_only() {
        let mut a = TimeAverage::new(10.0);
        a.set(5.0, 4.0); // 4 from t=5, but only [10, 20) counts
        a.set(20.0, 0.0);
        a.set(25.0, 2.0);
        // [10,20): 4 → 40; [20,25): 0; [25,30): 2 → 10; total 50 over 20 s
        assert!((a.average(30.0) - 2.5).abs() < 1e-12);
        assert_eq!(a.max(), 4.0);
    }
}
