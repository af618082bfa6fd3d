//! What the real clock can honour: the load test sleeps and spins to emulate every scaled
//! service and paces every scaled inter-arrival gap, and below some tens of microseconds
//! the operating system's timers, thread wake-ups and the broker's own work take longer
//! than the time being emulated. Then the run silently measures the machine, not the
//! scenario (at `time_scale` 1e-5 a test ran 8× over its duration with a +268% service
//! error; at 1e-7 it never finished), so such a run is refused before it starts, and one
//! close to the limit is announced.

pub use super::pacer::realtime;
use crate::dist::{fmt_num, fmt_secs};
use crate::scenario::Model;

/// Scaled mean times below this are refused: the clock cannot honour them.
pub const REFUSE_BELOW_S: f64 = 50e-6;
/// Scaled mean times below this are allowed with a warning: expect timing errors of
/// several percent.
pub const WARN_BELOW_S: f64 = 1e-3;

/// The smallest scaled mean time of the model: (what, scenario mean, scaled mean).
fn shortest(model: &Model) -> Option<(String, f64)> {
    let producers = model.producers.iter().enumerate().map(|(i, p)| {
        (format!("producers[{i}] \"{}\" (mean inter-arrival", p.name), p.arrival.mean())
    });
    let groups =
        model.groups.iter().enumerate().map(|(i, g)| {
            (format!("consumers[{i}] \"{}\" (mean service", g.name), g.service.mean())
        });
    producers.chain(groups).filter(|(_, m)| *m > 0.0).min_by(|a, b| a.1.total_cmp(&b.1))
}

/// A `time_scale` that brings a scenario mean of `mean` seconds to at least 1 ms of real
/// time, rounded up to 1, 2 or 5 times a power of ten.
fn workable_scale(mean: f64) -> f64 {
    let need = WARN_BELOW_S / mean;
    let p = 10f64.powf(need.log10().floor());
    [1.0, 2.0, 5.0, 10.0]
        .into_iter()
        .map(|m| m * p)
        .find(|&s| s >= need * (1.0 - 1e-12))
        .unwrap_or(need)
}

/// Checks the model's scaled times against the real clock: `Err` (with the producer or
/// group, its scaled time, the limit and a `time_scale` that would work) when the
/// shortest scaled mean is below [`REFUSE_BELOW_S`], a warning below [`WARN_BELOW_S`].
pub fn check(model: &Model) -> Result<Option<String>, String> {
    let scale = model.loadtest.time_scale;
    let Some((what, mean)) = shortest(model) else { return Ok(None) };
    let scaled = mean * scale;
    let detail = format!(
        "{what} {} × time_scale {} = {} of real time",
        fmt_secs(mean),
        fmt_num(scale),
        fmt_secs(scaled)
    );
    let fix = format!(
        "use time_scale >= {} ([loadtest] time_scale or --time-scale)",
        workable_scale(mean)
    );
    if scaled < REFUSE_BELOW_S {
        Err(format!(
            "{detail}): below the {} the real clock can honour, the run would measure timer and thread overhead, not the scenario; {fix}",
            fmt_secs(REFUSE_BELOW_S)
        ))
    } else if scaled < WARN_BELOW_S {
        Ok(Some(format!(
            "{detail}): below {}, timer and wake-up overhead will inflate services and latencies by several percent; {fix} for accurate timing",
            fmt_secs(WARN_BELOW_S)
        )))
    } else {
        Ok(None)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mmc(scale: f64) -> Model {
        let text = std::fs::read_to_string("scenarios/mmc.toml").unwrap();
        let mut m = Model::from_toml(&text, "mmc.toml").unwrap();
        m.loadtest.time_scale = scale;
        m
    }

    #[test]
    fn loadtest_time_scale_below_the_clock_is_refused() {
        // time_scale 1e-7 never finished; 1e-5 ran 8× over its duration. mmc: arrivals every
        // 15.6 ms, services 100 ms.
        let e = check(&mmc(1e-7)).unwrap_err();
        assert!(e.contains("producers[0] \"web\" (mean inter-arrival 15.62ms"), "{e}");
        assert!(e.contains("below the 50µs the real clock can honour"), "{e}");
        assert!(e.contains("use time_scale >= 0.1"), "{e}");
        assert!(check(&mmc(1e-3)).unwrap_err().contains("time_scale >= 0.1"));
        let w = check(&mmc(0.01)).unwrap().unwrap();
        assert!(w.contains("several percent"), "{w}");
        assert_eq!(check(&mmc(0.1)).unwrap(), None);
    }
}
