//! Theory, simulation and the real broker side by side: for every queue the same figures
//! from each back end, and their relative differences. The back end that is missing a
//! figure (no model, not measured) shows `null`. A real RabbitMQ (`compare --broker`) and a
//! calibrated simulation (`--calibration`) are further columns, present only when asked for,
//! so a plain comparison's document is unchanged.

use crate::results::{AnalyticReport, Latency, RunReport, Server};
use serde::Serialize;

/// One figure from the three back ends.
#[derive(Debug, Clone, Serialize)]
pub struct Figure3 {
    /// `wait_s.mean`, `wait_s.p50`, `wait_s.p99`, `sojourn_s.…`, `throughput`,
    /// `queue_length.mean`, `utilization`, `loss_probability`.
    pub metric: String,
    /// Theory.
    pub analytic: Option<f64>,
    /// Simulation (mean over replications, or pooled percentile).
    pub sim: Option<f64>,
    /// Simulation 95% half-width where one exists.
    pub sim_ci95: Option<f64>,
    /// Real broker.
    pub real: Option<f64>,
    /// (sim − analytic) ÷ analytic.
    pub sim_vs_analytic: Option<f64>,
    /// (real − analytic) ÷ analytic.
    pub real_vs_analytic: Option<f64>,
    /// (real − sim) ÷ sim.
    pub real_vs_sim: Option<f64>,
    /// The calibrated simulation (`--calibration`); absent without one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sim_calibrated: Option<Option<f64>>,
    /// Its 95% half-width where one exists; absent without a calibration.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sim_calibrated_ci95: Option<Option<f64>>,
    /// RabbitMQ (`--broker`); absent without one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rabbitmq: Option<Option<f64>>,
    /// (rabbitmq − analytic) ÷ analytic; absent without `--broker`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rabbitmq_vs_analytic: Option<Option<f64>>,
    /// (rabbitmq − sim) ÷ sim; absent without `--broker`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rabbitmq_vs_sim: Option<Option<f64>>,
    /// (rabbitmq − sim_calibrated) ÷ sim_calibrated; absent without both.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rabbitmq_vs_sim_calibrated: Option<Option<f64>>,
}

/// One queue's comparison.
#[derive(Debug, Clone, Serialize)]
pub struct QueueComparison {
    /// Queue name.
    pub name: String,
    /// Analytic model (`null` if none).
    pub model: Option<String>,
    /// Is the model exact?
    pub exact: bool,
    /// The figures.
    pub figures: Vec<Figure3>,
}

/// The `compare` document.
#[derive(Debug, Clone, Serialize)]
pub struct Comparison3 {
    /// Scenario name.
    pub scenario: String,
    /// Real seconds per scenario second of the real run (`null` without one).
    pub time_scale: Option<f64>,
    /// Real-clock fidelity of the real run: the mean of actual ÷ intended service − 1.
    pub service_error_mean: Option<f64>,
    /// Σ actual ÷ Σ intended service − 1 of the real run (absent without one).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub service_error_total: Option<f64>,
    /// Per queue.
    pub queues: Vec<QueueComparison>,
    /// Per consumer group of a topic, named `TOPIC/GROUP` (absent without topics).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub topics: Vec<QueueComparison>,
    /// The RabbitMQ run's time scale, server and fidelity; absent without `--broker`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rabbitmq: Option<RabbitSide>,
}

/// What a comparison says about its RabbitMQ run as a whole.
#[derive(Debug, Clone, Serialize)]
pub struct RabbitSide {
    /// The server's product and version.
    pub server: Option<Server>,
    /// Real seconds per scenario second.
    pub time_scale: Option<f64>,
    /// Real-clock fidelity of the emulated service.
    pub service_error_mean: Option<f64>,
    /// The calibration applied to the calibrated simulation (its file), if any.
    pub calibration: Option<String>,
}

/// The optional columns of a comparison: a real RabbitMQ and a calibrated simulation.
#[derive(Debug, Clone, Copy, Default)]
pub struct Extra<'a> {
    /// A run against RabbitMQ.
    pub rabbitmq: Option<&'a RunReport>,
    /// The simulation of the calibrated model.
    pub calibrated: Option<&'a RunReport>,
    /// The calibration file's name, for the record.
    pub calibration: Option<&'a str>,
}

impl Figure3 {
    /// A figure of theory, the simulation (with its interval) and the real broker, with
    /// their differences; the optional columns empty until `compare_with` fills them.
    fn new(
        metric: String,
        an: Option<f64>,
        (s, sci): (Option<f64>, Option<f64>),
        re: Option<f64>,
    ) -> Self {
        Figure3 {
            metric,
            analytic: an,
            sim: s,
            sim_ci95: sci,
            real: re,
            sim_vs_analytic: rel(s, an),
            real_vs_analytic: rel(re, an),
            real_vs_sim: rel(re, s),
            sim_calibrated: None,
            sim_calibrated_ci95: None,
            rabbitmq: None,
            rabbitmq_vs_analytic: None,
            rabbitmq_vs_sim: None,
            rabbitmq_vs_sim_calibrated: None,
        }
    }
}

fn rel(a: Option<f64>, b: Option<f64>) -> Option<f64> {
    match (a, b) {
        (Some(a), Some(b)) if b.abs() > 1e-12 => Some((a - b) / b),
        _ => None,
    }
}

/// A latency figure of a measurement and, for the mean, its 95% half-width.
fn with_ci(l: &Latency, stat: &str) -> (Option<f64>, Option<f64>) {
    (l.stat(stat), if stat == "mean" { l.ci95 } else { None })
}

/// Builds the comparison; `real` is optional (e.g. `--no-real`).
pub fn compare(theory: &AnalyticReport, sim: &RunReport, real: Option<&RunReport>) -> Comparison3 {
    compare_with(theory, sim, real, Extra::default())
}

/// A queue's figure from a report by metric name (the same names as the figures').
fn figure_of(q: &crate::results::QueueReport, metric: &str) -> (Option<f64>, Option<f64>) {
    let lat = |l: &Latency, stat: &str| with_ci(l, stat);
    match metric.split_once('.') {
        Some(("wait_s", stat)) => lat(&q.wait_s, stat),
        Some(("sojourn_s", stat)) => lat(&q.sojourn_s, stat),
        Some(("queue_length", "mean")) => (Some(q.queue_length.mean), q.queue_length.ci95),
        _ => match metric {
            "throughput" => (Some(q.throughput.mean), q.throughput.ci95),
            "utilization" => (Some(q.utilization.mean), q.utilization.ci95),
            "loss_probability" => (Some(q.loss_probability.mean), q.loss_probability.ci95),
            "expire_probability" => {
                q.expire_probability.as_ref().map_or((None, None), |e| (Some(e.mean), e.ci95))
            }
            _ => (None, None),
        },
    }
}

/// Builds the comparison with the optional columns of `extra`.
pub fn compare_with(
    theory: &AnalyticReport,
    sim: &RunReport,
    real: Option<&RunReport>,
    extra: Extra<'_>,
) -> Comparison3 {
    let mut queues = Vec::new();
    for sq in &sim.queues {
        let a = theory.queue(&sq.name);
        let rq = real.and_then(|r| r.queues.iter().find(|q| q.name == sq.name));
        let mq = extra.rabbitmq.map(|r| r.queues.iter().find(|q| q.name == sq.name));
        let cq = extra.calibrated.map(|r| r.queues.iter().find(|q| q.name == sq.name));
        let mut figures = Vec::new();
        let mut push = |metric: String,
                        an: Option<f64>,
                        (s, sci): (Option<f64>, Option<f64>),
                        re: Option<f64>| {
            figures.push(Figure3::new(metric, an, (s, sci), re));
        };
        let stable = a.is_some_and(|a| a.stable);
        for (name, sl, al, rl) in [
            ("wait_s", &sq.wait_s, a.map(|a| &a.wait_s), rq.map(|r| &r.wait_s)),
            ("sojourn_s", &sq.sojourn_s, a.map(|a| &a.sojourn_s), rq.map(|r| &r.sojourn_s)),
        ] {
            for stat in ["mean", "p50", "p99"] {
                push(
                    format!("{name}.{stat}"),
                    al.filter(|_| stable).and_then(|l| l.stat(stat)),
                    with_ci(sl, stat),
                    rl.and_then(|l| l.stat(stat)),
                );
            }
        }
        push(
            "throughput".into(),
            a.and_then(|a| a.throughput),
            (Some(sq.throughput.mean), sq.throughput.ci95),
            rq.map(|r| r.throughput.mean),
        );
        push(
            "queue_length.mean".into(),
            a.filter(|_| stable).and_then(|a| a.queue_length.mean),
            (Some(sq.queue_length.mean), sq.queue_length.ci95),
            rq.map(|r| r.queue_length.mean),
        );
        push(
            "utilization".into(),
            a.and_then(|a| a.utilization),
            (Some(sq.utilization.mean), sq.utilization.ci95),
            rq.map(|r| r.utilization.mean),
        );
        push(
            "loss_probability".into(),
            a.and_then(|a| a.loss_probability),
            (Some(sq.loss_probability.mean), sq.loss_probability.ci95),
            rq.map(|r| r.loss_probability.mean),
        );
        // The second edition's figures, where the queue has them.
        if let Some(e) = &sq.expire_probability {
            push(
                "expire_probability".into(),
                a.and_then(|a| a.expire_probability),
                (Some(e.mean), e.ci95),
                rq.and_then(|r| r.expire_probability.as_ref()).map(|x| x.mean),
            );
        }
        if let Some(bp) = &sq.by_priority {
            for p in bp {
                let ap = a
                    .and_then(|a| a.by_priority.as_ref())
                    .and_then(|v| v.iter().find(|x| x.priority == p.priority));
                let rp = rq
                    .and_then(|r| r.by_priority.as_ref())
                    .and_then(|v| v.iter().find(|x| x.priority == p.priority));
                for (name, sl, al, rl) in [
                    ("wait_s", &p.wait_s, ap.map(|x| &x.wait_s), rp.map(|x| &x.wait_s)),
                    ("sojourn_s", &p.sojourn_s, ap.map(|x| &x.sojourn_s), rp.map(|x| &x.sojourn_s)),
                ] {
                    push(
                        format!("priority {}: {name}.mean", p.priority),
                        al.filter(|_| stable).and_then(|l| l.mean),
                        with_ci(sl, "mean"),
                        rl.and_then(|l| l.mean),
                    );
                }
            }
        }
        // The optional columns, by the metric each figure names (priority classes have
        // none: RabbitMQ's report does not split them the same way).
        for f in &mut figures {
            let cal = cq.map(|q| q.map_or((None, None), |q| figure_of(q, &f.metric)));
            let rab = mq.map(|q| q.and_then(|q| figure_of(q, &f.metric).0));
            if let Some((c, cci)) = cal {
                f.sim_calibrated = Some(c);
                f.sim_calibrated_ci95 = Some(cci);
            }
            if let Some(r) = rab {
                f.rabbitmq = Some(r);
                f.rabbitmq_vs_analytic = Some(rel(r, f.analytic));
                f.rabbitmq_vs_sim = Some(rel(r, f.sim));
                if let Some((c, _)) = cal {
                    f.rabbitmq_vs_sim_calibrated = Some(rel(r, c));
                }
            }
        }
        queues.push(QueueComparison {
            name: sq.name.clone(),
            model: a.and_then(|a| a.model.clone()),
            exact: a.is_some_and(|a| a.exact),
            figures,
        });
    }
    Comparison3 {
        topics: topic_groups(theory, sim, real),
        scenario: sim.scenario.clone(),
        time_scale: real.and_then(|r| r.time_scale),
        service_error_mean: real.and_then(|r| r.timing.as_ref().map(|t| t.service_error_mean)),
        service_error_total: real.and_then(|r| r.timing.as_ref().map(|t| t.service_error_total)),
        queues,
        rabbitmq: extra.rabbitmq.map(|r| RabbitSide {
            server: r.server.clone(),
            time_scale: r.time_scale,
            service_error_mean: r.timing.as_ref().map(|t| t.service_error_mean),
            calibration: extra.calibration.map(str::to_string),
        }),
    }
}

/// Per topic group: the group's wait and sojourn, throughput and idle consumers, each
/// consumer's utilization and mean sojourn, and each partition's rate and mean lag, from
/// the three back ends. Theory has means only (no percentiles).
fn topic_groups(
    theory: &AnalyticReport,
    sim: &RunReport,
    real: Option<&RunReport>,
) -> Vec<QueueComparison> {
    let mut out = Vec::new();
    for st in &sim.topics {
        let at = theory.topics.iter().find(|t| t.name == st.name);
        let rt = real.and_then(|r| r.topics.iter().find(|t| t.name == st.name));
        for sg in &st.groups {
            let ag = at.and_then(|t| t.groups.iter().find(|g| g.name == sg.name));
            let rg = rt.and_then(|t| t.groups.iter().find(|g| g.name == sg.name));
            let stable = ag.is_some_and(|g| g.stable);
            let mut figures = Vec::new();
            let mut push = |metric: String,
                            an: Option<f64>,
                            (s, sci): (Option<f64>, Option<f64>),
                            re: Option<f64>| {
                figures.push(Figure3::new(metric, an, (s, sci), re));
            };
            for (name, sl, al, rl) in [
                ("wait_s", &sg.wait_s, ag.map(|g| &g.wait_s), rg.map(|g| &g.wait_s)),
                ("sojourn_s", &sg.sojourn_s, ag.map(|g| &g.sojourn_s), rg.map(|g| &g.sojourn_s)),
            ] {
                for stat in ["mean", "p50", "p99"] {
                    push(
                        format!("{name}.{stat}"),
                        al.filter(|_| stable).and_then(|l| l.stat(stat)),
                        with_ci(sl, stat),
                        rl.and_then(|l| l.stat(stat)),
                    );
                }
            }
            push(
                "throughput".into(),
                ag.map(|g| g.throughput),
                (Some(sg.throughput.mean), sg.throughput.ci95),
                rg.map(|g| g.throughput.mean),
            );
            push(
                "idle_consumers".into(),
                ag.map(|g| f64::from(g.idle_consumers)),
                (Some(f64::from(sg.idle_consumers)), None),
                rg.map(|g| f64::from(g.idle_consumers)),
            );
            for m in &sg.members {
                let am = ag.and_then(|g| g.members.iter().find(|x| x.index == m.index));
                let rm = rg.and_then(|g| g.members.iter().find(|x| x.index == m.index));
                push(
                    format!("consumer {} utilization", m.index),
                    am.map(|x| x.rho.min(1.0)),
                    (Some(m.utilization.mean), m.utilization.ci95),
                    rm.map(|x| x.utilization.mean),
                );
                push(
                    format!("consumer {} sojourn_s.mean", m.index),
                    am.filter(|_| stable).and_then(|x| x.sojourn_mean_s),
                    m.sojourn_mean_s.map_or((None, None), |x| (Some(x.mean), x.ci95)),
                    rm.and_then(|x| x.sojourn_mean_s).map(|x| x.mean),
                );
            }
            for p in &st.partitions {
                let ap = at.and_then(|t| t.partitions.iter().find(|x| x.index == p.index));
                let rp = rt.and_then(|t| t.partitions.iter().find(|x| x.index == p.index));
                push(
                    format!("partition {} offered_rate", p.index),
                    ap.map(|x| x.offered_rate),
                    (Some(p.offered_rate.mean), p.offered_rate.ci95),
                    rp.map(|x| x.offered_rate.mean),
                );
                // The lag is the group furthest behind's: compared once, with the first group.
                if std::ptr::eq(sg, &st.groups[0]) {
                    push(
                        format!("partition {} lag.mean", p.index),
                        ap.and_then(|x| x.lag_mean),
                        (Some(p.lag.mean), p.lag.ci95),
                        rp.map(|x| x.lag.mean),
                    );
                }
            }
            out.push(QueueComparison {
                name: format!("{}/{}", st.name, sg.name),
                model: ag.map(|g| g.model.clone()),
                exact: ag.is_some_and(|g| g.exact),
                figures,
            });
        }
    }
    out
}
