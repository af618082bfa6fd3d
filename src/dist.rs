//! Probability distributions of the scenario contract (inter-arrival and service times).
//!
//! A [`Dist`] is a validated, resolved distribution in seconds: it samples with `rand_distr`
//! and knows its [`mean`](Dist::mean) and squared coefficient of variation
//! ([`scv`](Dist::scv)), which is all the analytic back end needs from it.

use rand::Rng;
use rand::RngExt;
use rand_distr::{Distribution, Exp, Gamma, LogNormal, Pareto, Uniform, Weibull};
use statrs::function::gamma::gamma;

/// A resolved distribution of non-negative durations, in seconds.
#[derive(Debug, Clone)]
pub struct Dist {
    kind: DistKind,
    sampler: Sampler,
}

/// What the user asked for, with every parameter in seconds.
#[derive(Debug, Clone, PartialEq)]
pub enum DistKind {
    /// Exponential with the given mean.
    Exponential {
        /// Mean, seconds.
        mean: f64,
    },
    /// Always the same value.
    Constant {
        /// The value, seconds.
        value: f64,
    },
    /// Uniform on `[min, max)`.
    Uniform {
        /// Lower bound, seconds.
        min: f64,
        /// Upper bound, seconds.
        max: f64,
    },
    /// Sum of `k` exponentials (gamma with integer shape).
    Erlang {
        /// Number of phases.
        k: u32,
        /// Mean, seconds.
        mean: f64,
    },
    /// Gamma with the given shape and mean.
    Gamma {
        /// Shape parameter (SCV = 1/shape).
        shape: f64,
        /// Mean, seconds.
        mean: f64,
    },
    /// Log-normal parameterised by its mean and coefficient of variation.
    LogNormal {
        /// Mean, seconds.
        mean: f64,
        /// Coefficient of variation (std / mean).
        cv: f64,
    },
    /// Weibull with the given shape and mean (shape < 1: heavier tail than exponential).
    Weibull {
        /// Shape k.
        shape: f64,
        /// Mean, seconds.
        mean: f64,
    },
    /// Pareto (heavy tail) with shape α > 2 (finite variance) and the given mean.
    Pareto {
        /// Shape α.
        shape: f64,
        /// Mean, seconds.
        mean: f64,
    },
    /// Two-phase hyperexponential with balanced means, fitted to a mean and a CV ≥ 1.
    HyperExponential {
        /// Mean, seconds.
        mean: f64,
        /// Coefficient of variation, at least 1.
        cv: f64,
    },
    /// Observations, each drawn with equal probability (an mqsim extension: resampling a
    /// recorded sample, read from a file by the scenario's caller).
    Empirical {
        /// The observations, seconds (or counts, for a batch size).
        values: std::sync::Arc<[f64]>,
    },
}

#[derive(Debug, Clone)]
enum Sampler {
    Exp(Exp<f64>),
    Const(f64),
    Uniform(Uniform<f64>),
    Gamma(Gamma<f64>),
    LogNormal(LogNormal<f64>),
    Weibull(Weibull<f64>),
    Pareto(Pareto<f64>),
    /// With probability `p` an exponential of rate `r1`, otherwise of rate `r2`.
    Hyper {
        p: f64,
        e1: Exp<f64>,
        e2: Exp<f64>,
    },
    /// One of the observations, uniformly; their mean and SCV computed once.
    Empirical {
        values: std::sync::Arc<[f64]>,
        mean: f64,
        scv: f64,
    },
}

/// Why a distribution's parameters were refused; the caller adds the field path.
#[derive(Debug, Clone, PartialEq)]
pub struct DistError {
    /// The offending parameter (`mean`, `cv`, …).
    pub param: &'static str,
    /// What is wrong with it.
    pub message: String,
}

/// Largest duration a distribution parameter may take, seconds (about 31 700 years). Far
/// beyond any planning question, and small enough that no sum, midpoint or rate derived from
/// it can overflow or underflow an `f64`.
pub const MAX_SECONDS: f64 = 1e12;
/// Smallest non-zero mean a distribution may have, seconds (one picosecond): its rate
/// `1 / mean` stays finite, unlike a subnormal mean's.
pub const MIN_MEAN_SECONDS: f64 = 1e-12;
/// Largest squared coefficient of variation accepted (cv ≤ 1000). Beyond it the samplers
/// lose the distribution: a hyperexponential's rare phase rounds to probability 0, a gamma's
/// or Weibull's draws underflow to 0, and the moments overflow, so the simulated mean would
/// no longer be the declared one.
pub const MAX_SCV: f64 = 1e6;

/// A number for a message: as written for ordinary magnitudes (`-1`, `0.5`), in scientific
/// notation at the extremes, so `1e300` does not print as 301 digits.
pub fn fmt_num(v: impl std::borrow::Borrow<f64>) -> String {
    let v = *v.borrow();
    if v.is_finite() && v != 0.0 && !(1e-5..1e16).contains(&v.abs()) {
        format!("{v:e}")
    } else {
        format!("{v}")
    }
}

fn err(param: &'static str, message: String) -> DistError {
    DistError { param, message }
}

/// A mean or other positive duration: finite, within [`MIN_MEAN_SECONDS`, `MAX_SECONDS`].
fn positive(param: &'static str, v: f64) -> Result<f64, DistError> {
    if v.is_finite() && (MIN_MEAN_SECONDS..=MAX_SECONDS).contains(&v) {
        Ok(v)
    } else if v.is_finite() && v > 0.0 {
        Err(err(
            param,
            format!(
                "{v_} s is out of range: allowed from {MIN_MEAN_SECONDS} s (1ps) to {MAX_SECONDS:e} s",
                v_ = fmt_num(v)
            ),
        ))
    } else {
        Err(err(param, format!("must be a finite number > 0, got {v_}", v_ = fmt_num(v))))
    }
}

/// A duration that may be 0 (a constant's value, a uniform's bounds): finite, in
/// `[0, MAX_SECONDS]`.
fn non_negative(param: &'static str, v: f64) -> Result<f64, DistError> {
    if v.is_finite() && (0.0..=MAX_SECONDS).contains(&v) {
        Ok(v)
    } else if v.is_finite() && v > MAX_SECONDS {
        Err(err(
            param,
            format!("{v_} s is out of range: allowed up to {MAX_SECONDS:e} s", v_ = fmt_num(v)),
        ))
    } else {
        Err(err(param, format!("must be a finite number >= 0, got {v_}", v_ = fmt_num(v))))
    }
}

/// A shape or CV: finite and > 0 (the variance bound is checked on the built distribution).
fn finite_positive(param: &'static str, v: f64) -> Result<f64, DistError> {
    if v.is_finite() && v > 0.0 {
        Ok(v)
    } else {
        Err(err(param, format!("must be a finite number > 0, got {v_}", v_ = fmt_num(v))))
    }
}

/// Turns a `rand_distr` constructor error into a refusal of `param` instead of a panic: the
/// checks above are meant to make this unreachable, and if one is missed the user still
/// gets a message naming the field rather than a crash.
fn built<T, E: std::fmt::Debug>(
    param: &'static str,
    what: &str,
    r: Result<T, E>,
) -> Result<T, DistError> {
    r.map_err(|e| err(param, format!("cannot build a {what} sampler from it ({e:?})")))
}

/// The parameter whose size sets the variance, for the [`MAX_SCV`] refusal.
fn variance_param(kind: &DistKind) -> &'static str {
    match kind {
        DistKind::LogNormal { .. } | DistKind::HyperExponential { .. } => "cv",
        DistKind::Uniform { .. } => "max",
        DistKind::Erlang { .. } => "k",
        DistKind::Exponential { .. } | DistKind::Constant { .. } => "mean",
        DistKind::Empirical { .. } => "file",
        DistKind::Gamma { .. } | DistKind::Weibull { .. } | DistKind::Pareto { .. } => "shape",
    }
}

impl Dist {
    /// Builds a sampler, checking every parameter: anything refused here gets a message
    /// naming the parameter and its allowed range, and anything accepted can be sampled
    /// (finite, ≥ 0) and has a finite mean and SCV.
    pub fn new(kind: DistKind) -> Result<Self, DistError> {
        let sampler = match &kind {
            DistKind::Exponential { mean } => {
                let mean = positive("mean", *mean)?;
                Sampler::Exp(built("mean", "exponential", Exp::new(1.0 / mean))?)
            }
            DistKind::Constant { value } => Sampler::Const(non_negative("value", *value)?),
            DistKind::Uniform { min, max } => {
                let min = non_negative("min", *min)?;
                if !(max.is_finite() && *max > min) {
                    return Err(err(
                        "max",
                        format!(
                            "must be greater than min ({min_}), got {max_}",
                            max_ = fmt_num(max),
                            min_ = fmt_num(min)
                        ),
                    ));
                }
                let max = non_negative("max", *max)?;
                Sampler::Uniform(built("max", "uniform", Uniform::new(min, max))?)
            }
            DistKind::Erlang { k, mean } => {
                let mean = positive("mean", *mean)?;
                if *k == 0 {
                    return Err(err("k", "must be >= 1, got 0".into()));
                }
                let k = f64::from(*k);
                Sampler::Gamma(built("k", "gamma", Gamma::new(k, mean / k))?)
            }
            DistKind::Gamma { shape, mean } => {
                let mean = positive("mean", *mean)?;
                let shape = finite_positive("shape", *shape)?;
                if 1.0 / shape > MAX_SCV {
                    return Err(err(
                        "shape",
                        format!(
                            "{shape_} is too small: the squared coefficient of variation 1/shape must be <= {MAX_SCV:e}, so shape >= {min:e}",
                            shape_ = fmt_num(shape),
                            min = 1.0 / MAX_SCV
                        ),
                    ));
                }
                let scale = mean / shape;
                if !(scale.is_normal()) {
                    return Err(err(
                        "shape",
                        format!(
                            "{shape_} is too large for mean {mean_} s: mean / shape underflows",
                            mean_ = fmt_num(mean),
                            shape_ = fmt_num(shape)
                        ),
                    ));
                }
                Sampler::Gamma(built("shape", "gamma", Gamma::new(shape, scale))?)
            }
            DistKind::LogNormal { mean, cv } => {
                let mean = positive("mean", *mean)?;
                let cv = finite_positive("cv", *cv)?;
                if cv * cv > MAX_SCV {
                    return Err(err(
                        "cv",
                        format!(
                            "{cv_} is too large: allowed up to {lim}",
                            cv_ = fmt_num(cv),
                            lim = MAX_SCV.sqrt()
                        ),
                    ));
                }
                // Moments of the log-normal: E = exp(mu + s²/2), CV² = exp(s²) − 1.
                let s2 = cv.mul_add(cv, 1.0).ln();
                let mu = mean.ln() - s2 / 2.0;
                Sampler::LogNormal(built("cv", "log-normal", LogNormal::new(mu, s2.sqrt()))?)
            }
            DistKind::Weibull { shape, mean } => {
                let mean = positive("mean", *mean)?;
                let shape = finite_positive("shape", *shape)?;
                // E = λ Γ(1 + 1/k).
                let scale = mean / gamma(1.0 + 1.0 / shape);
                if !scale.is_normal() {
                    return Err(err(
                        "shape",
                        format!("{shape_} is too small to sample", shape_ = fmt_num(shape)),
                    ));
                }
                Sampler::Weibull(built("shape", "Weibull", Weibull::new(scale, shape))?)
            }
            DistKind::Pareto { shape, mean } => {
                let mean = positive("mean", *mean)?;
                if !(shape.is_finite() && *shape > 2.0) {
                    return Err(err(
                        "shape",
                        format!(
                            "must be > 2 (a finite variance, which queueing formulas need), got {shape_}",
                            shape_ = fmt_num(shape)
                        ),
                    ));
                }
                // E = α x_m / (α − 1).
                let xm = mean * (shape - 1.0) / shape;
                Sampler::Pareto(built("shape", "Pareto", Pareto::new(xm, *shape))?)
            }
            DistKind::HyperExponential { mean, cv } => {
                let mean = positive("mean", *mean)?;
                if !(cv.is_finite() && *cv >= 1.0) {
                    return Err(err(
                        "cv",
                        format!(
                            "must be >= 1 for a hyperexponential, got {cv_}",
                            cv_ = fmt_num(cv)
                        ),
                    ));
                }
                if cv * cv > MAX_SCV {
                    return Err(err(
                        "cv",
                        format!(
                            "{cv_} is too large: allowed from 1 to {lim}",
                            cv_ = fmt_num(cv),
                            lim = MAX_SCV.sqrt()
                        ),
                    ));
                }
                // Balanced means (Whitt 1982): p/r1 = (1 − p)/r2 = mean/2.
                let c2 = cv * cv;
                let p = (1.0 + ((c2 - 1.0) / (c2 + 1.0)).sqrt()) / 2.0;
                let (r1, r2) = (2.0 * p / mean, 2.0 * (1.0 - p) / mean);
                if r2 <= 0.0 {
                    Sampler::Exp(built("cv", "exponential", Exp::new(r1))?)
                } else {
                    Sampler::Hyper {
                        p,
                        e1: built("cv", "exponential", Exp::new(r1))?,
                        e2: built("cv", "exponential", Exp::new(r2))?,
                    }
                }
            }
            DistKind::Empirical { values } => {
                if values.is_empty() {
                    return Err(err("file", "has no observations".into()));
                }
                if let Some(v) =
                    values.iter().find(|v| !(v.is_finite() && (0.0..=MAX_SECONDS).contains(*v)))
                {
                    return Err(err(
                        "file",
                        format!(
                            "has an observation out of range ({v_}): each must be from 0 to {MAX_SECONDS:e}",
                            v_ = fmt_num(v)
                        ),
                    ));
                }
                let n = values.len() as f64;
                let mean = values.iter().sum::<f64>() / n;
                let var = values.iter().map(|v| (v - mean) * (v - mean)).sum::<f64>() / n;
                let scv = if mean > 0.0 { var / (mean * mean) } else { 0.0 };
                Sampler::Empirical { values: values.clone(), mean, scv }
            }
        };
        let d = Dist { kind, sampler };
        let scv = d.scv();
        if !(scv.is_finite() && scv <= MAX_SCV) {
            return Err(err(
                variance_param(&d.kind),
                format!(
                    "gives a squared coefficient of variation of {scv:e}; allowed up to {MAX_SCV:e} (cv <= {})",
                    MAX_SCV.sqrt()
                ),
            ));
        }
        Ok(d)
    }

    /// Exponential with the given mean, the common case in tests and examples.
    pub fn exponential(mean: f64) -> Result<Self, DistError> {
        Dist::new(DistKind::Exponential { mean })
    }

    /// What was asked for.
    pub fn kind(&self) -> &DistKind {
        &self.kind
    }

    /// Draws one value, seconds.
    ///
    /// The exponential, by far the commonest, is drawn inline at the caller (the engine's
    /// event loop draws one per event); the other families stay out of line.
    #[inline(always)]
    pub fn sample<R: Rng + ?Sized>(&self, rng: &mut R) -> f64 {
        if let Sampler::Exp(d) = &self.sampler {
            return d.sample(rng);
        }
        self.sample_other(rng)
    }

    #[inline(never)]
    fn sample_other<R: Rng + ?Sized>(&self, rng: &mut R) -> f64 {
        match &self.sampler {
            // Served by `sample` itself.
            Sampler::Exp(d) => d.sample(rng),
            Sampler::Const(v) => *v,
            Sampler::Uniform(d) => d.sample(rng),
            Sampler::Gamma(d) => d.sample(rng),
            Sampler::LogNormal(d) => d.sample(rng),
            Sampler::Weibull(d) => d.sample(rng),
            Sampler::Pareto(d) => d.sample(rng),
            Sampler::Hyper { p, e1, e2 } => {
                if rng.random::<f64>() < *p {
                    e1.sample(rng)
                } else {
                    e2.sample(rng)
                }
            }
            Sampler::Empirical { values, .. } => values[rng.random_range(0..values.len())],
        }
    }

    /// Mean, seconds.
    pub fn mean(&self) -> f64 {
        match self.kind {
            DistKind::Exponential { mean } => mean,
            DistKind::Constant { value } => value,
            DistKind::Uniform { min, max } => (min + max) / 2.0,
            DistKind::Erlang { mean, .. } | DistKind::Gamma { mean, .. } => mean,
            DistKind::LogNormal { mean, .. } => mean,
            DistKind::Weibull { mean, .. } | DistKind::Pareto { mean, .. } => mean,
            DistKind::HyperExponential { mean, .. } => mean,
            DistKind::Empirical { .. } => match self.sampler {
                Sampler::Empirical { mean, .. } => mean,
                _ => unreachable!("an empirical kind has an empirical sampler"),
            },
        }
    }

    /// The `p` quantile where it has a closed form (exponential, constant, uniform), else
    /// `None`: a lower bound on a sojourn percentile, which no consumer count can beat.
    pub fn quantile(&self, p: f64) -> Option<f64> {
        match self.kind {
            DistKind::Exponential { mean } => Some(-mean * (1.0 - p).ln()),
            DistKind::Constant { value } => Some(value),
            DistKind::Uniform { min, max } => Some(min + p * (max - min)),
            _ => None,
        }
    }

    /// Squared coefficient of variation, Var / mean².
    pub fn scv(&self) -> f64 {
        match self.kind {
            DistKind::Exponential { .. } => 1.0,
            DistKind::Constant { .. } => 0.0,
            DistKind::Uniform { min, max } => {
                let m = (min + max) / 2.0;
                (max - min).powi(2) / 12.0 / (m * m)
            }
            DistKind::Erlang { k, .. } => 1.0 / f64::from(k),
            DistKind::Gamma { shape, .. } => 1.0 / shape,
            DistKind::LogNormal { cv, .. } => cv * cv,
            DistKind::Weibull { shape, .. } => {
                let g1 = gamma(1.0 + 1.0 / shape);
                gamma(1.0 + 2.0 / shape) / (g1 * g1) - 1.0
            }
            DistKind::Pareto { shape, .. } => 1.0 / (shape * (shape - 2.0)),
            DistKind::HyperExponential { cv, .. } => cv * cv,
            DistKind::Empirical { .. } => match self.sampler {
                Sampler::Empirical { scv, .. } => scv,
                _ => unreachable!("an empirical kind has an empirical sampler"),
            },
        }
    }

    /// True for the exponential distribution (memoryless: the "M" in Kendall's notation).
    pub fn is_exponential(&self) -> bool {
        matches!(self.kind, DistKind::Exponential { .. })
    }

    /// True for the constant distribution (the "D" in Kendall's notation).
    pub fn is_constant(&self) -> bool {
        matches!(self.kind, DistKind::Constant { .. })
    }

    /// A short human label, e.g. `exp(mean=100ms)`.
    pub fn label(&self) -> String {
        match self.kind {
            DistKind::Exponential { mean } => format!("exponential(mean={})", fmt_secs(mean)),
            DistKind::Constant { value } => format!("constant({})", fmt_secs(value)),
            DistKind::Uniform { min, max } => {
                format!("uniform({}..{})", fmt_secs(min), fmt_secs(max))
            }
            DistKind::Erlang { k, mean } => format!("erlang(k={k}, mean={})", fmt_secs(mean)),
            DistKind::Gamma { shape, mean } => {
                format!("gamma(shape={shape}, mean={})", fmt_secs(mean))
            }
            DistKind::LogNormal { mean, cv } => {
                format!("lognormal(mean={}, cv={cv})", fmt_secs(mean))
            }
            DistKind::Weibull { shape, mean } => {
                format!("weibull(shape={shape}, mean={})", fmt_secs(mean))
            }
            DistKind::Pareto { shape, mean } => {
                format!("pareto(shape={shape}, mean={})", fmt_secs(mean))
            }
            DistKind::HyperExponential { mean, cv } => {
                format!("hyperexponential(mean={}, cv={cv})", fmt_secs(mean))
            }
            DistKind::Empirical { ref values } => {
                format!("empirical({} observations, mean={})", values.len(), fmt_secs(self.mean()))
            }
        }
    }
}

/// Formats seconds with a readable unit (`100ms`, `2.5s`, `750us`).
pub fn fmt_secs(s: f64) -> String {
    // Beyond a century, years in scientific notation: humantime (used before) saturated at
    // u64::MAX seconds ("584542046090years") and no one reads a span that long to the minute.
    const YEAR: f64 = 365.25 * 86400.0;
    if s.is_finite() && s >= 100.0 * YEAR {
        return format!("{:.1e} years", s / YEAR);
    }
    if s.is_finite() && s >= 60.0 {
        // Long spans read best as "2h", "10m", "1h 30m"; in hours past a day ("36h"), not
        // "1day 12h", so that what a report prints is a duration a scenario accepts.
        let total = s.round() as u64;
        let parts = [(total / 3600, "h"), (total / 60 % 60, "m"), (total % 60, "s")];
        let shown: Vec<String> =
            parts.iter().filter(|(n, _)| *n > 0).map(|(n, unit)| format!("{n}{unit}")).collect();
        return shown.join(" ");
    }
    let (v, unit) = if s == 0.0 {
        (0.0, "s")
    } else if s.abs() >= 1.0 {
        (s, "s")
    } else if s.abs() >= 1e-3 {
        (s * 1e3, "ms")
    } else if s.abs() >= 1e-6 {
        (s * 1e6, "µs")
    } else {
        (s * 1e9, "ns")
    };
    // Four significant digits: enough to compare with theory, few enough to read.
    let digits = if v.abs() >= 100.0 {
        1
    } else if v.abs() >= 10.0 {
        2
    } else {
        3
    };
    let txt = format!("{v:.digits$}");
    let txt =
        if txt.contains('.') { txt.trim_end_matches('0').trim_end_matches('.') } else { &txt };
    format!("{txt}{unit}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use rand::rngs::Xoshiro256PlusPlus;

    fn moments(d: &Dist, n: usize) -> (f64, f64) {
        let mut rng = Xoshiro256PlusPlus::seed_from_u64(7);
        let (mut s, mut s2) = (0.0, 0.0);
        for _ in 0..n {
            let x = d.sample(&mut rng);
            assert!(x >= 0.0);
            s += x;
            s2 += x * x;
        }
        let m = s / n as f64;
        (m, (s2 / n as f64 - m * m) / (m * m))
    }

    #[test]
    fn sample_moments_match_declared_mean_and_scv() {
        let cases = [
            DistKind::Exponential { mean: 0.1 },
            DistKind::Constant { value: 0.1 },
            DistKind::Uniform { min: 0.05, max: 0.15 },
            DistKind::Erlang { k: 4, mean: 0.1 },
            DistKind::Gamma { shape: 0.5, mean: 0.1 },
            DistKind::LogNormal { mean: 0.1, cv: 0.5 },
            DistKind::Weibull { shape: 0.8, mean: 0.1 },
            DistKind::Weibull { shape: 2.0, mean: 0.1 },
            DistKind::Pareto { shape: 4.5, mean: 0.1 },
            DistKind::HyperExponential { mean: 0.1, cv: 1.4 },
        ];
        for kind in cases {
            let d = Dist::new(kind.clone()).unwrap();
            let (m, scv) = moments(&d, 400_000);
            // 400k samples: the standard error of the mean is ≤ 0.3% for these SCVs (≤ 2),
            // and of the SCV a few percent; 2% / 6% bounds are > 5 standard errors.
            assert!((m / d.mean() - 1.0).abs() < 0.02, "{kind:?}: mean {m}");
            assert!((scv - d.scv()).abs() < 0.06 * d.scv().max(0.02), "{kind:?}: scv {scv}");
        }
    }

    #[test]
    fn bad_parameters_are_refused_with_the_parameter_named() {
        let e = Dist::new(DistKind::LogNormal { mean: 0.1, cv: 0.0 }).unwrap_err();
        assert_eq!(e.param, "cv");
        let e = Dist::new(DistKind::Uniform { min: 0.2, max: 0.1 }).unwrap_err();
        assert_eq!(e.param, "max");
        let e = Dist::new(DistKind::Erlang { k: 0, mean: 0.1 }).unwrap_err();
        assert_eq!(e.param, "k");
        assert!(Dist::new(DistKind::Exponential { mean: f64::NAN }).is_err());
    }

    #[test]
    fn fmt_secs_picks_units() {
        assert_eq!(fmt_secs(0.1), "100ms");
        assert_eq!(fmt_secs(2.5), "2.5s");
        assert_eq!(fmt_secs(0.00075), "750µs");
        assert_eq!(fmt_secs(90.0), "1m 30s");
        assert_eq!(fmt_secs(7200.0), "2h");
        assert_eq!(fmt_secs(3661.4), "1h 1m 1s");
        // Past a day, still hours: every printed span parses back as a duration.
        assert_eq!(fmt_secs(86_400.0), "24h");
        assert_eq!(fmt_secs(3.0 * 86_400.0 + 60.0), "72h 1m");
        for s in [60.0, 86_400.0, 1e6, 3e9] {
            let back = crate::scenario::parse_duration(&fmt_secs(s)).unwrap();
            assert!((back - s).abs() <= 0.5, "{s}: {}", fmt_secs(s));
        }
    }

    #[test]
    fn fmt_secs_of_absurd_spans_is_short() {
        // 1.8e19 s printed as "584542046090years" (humantime saturating at u64::MAX).
        assert_eq!(fmt_secs(1.8e19), "5.7e11 years");
    }
}
