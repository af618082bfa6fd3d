//! `mqsim calibrate --broker URL`: what a live RabbitMQ adds to every message, measured on
//! one scratch queue (`mqsim-<pid>-<hex>.calibrate`, deleted afterwards), in three short
//! phases, all on the real clock:
//!
//! 1. **publish → deliver at low load**: one message every 10 ms (the queue is empty and the
//!    consumer idle each time), the publish instant in a header; the latency's distribution.
//! 2. **ack round trip**: a backlog of messages, a consumer with prefetch 1 serving each for
//!    [`SERVICE`] on the real clock: the gap from its ack to the next delivery is the ack's
//!    way to the server and the next delivery's way back, the credit loop's fixed cost.
//! 3. **the highest rate one queue sustains**: publishers flood the queue while a consumer
//!    (prefetch 100, acking each message, no work) drains it; its delivery rate.
//!
//! Phases 1 and 2 are measured the way the load test's threads meet the server (a
//! publisher thread pacing its publishes, a consumer thread waiting for deliveries, each
//! calling the client as the driver does, the service emulated by the same waiter): what a
//! thread's wake-up and the client's hand-offs add is part of what a run against this
//! server pays, so it is part of the calibration. They are repeated on a quorum queue of
//! their own (`….calibrate-quorum`), what a scenario's queue with `delivery_limit` is.
//!
//! The result becomes a scenario fragment ([`crate::scenario::calibration`]).

use super::{Link, RabbitError, redact, runtime};
use crate::loadtest::pacer::Pacer;
use crate::stats::LatencyHistogram;
use futures_lite::StreamExt;
use lapin::BasicProperties;
use lapin::options::{
    BasicAckOptions, BasicCancelOptions, BasicConsumeOptions, BasicPublishOptions, BasicQosOptions,
    ConfirmSelectOptions, QueueDeclareOptions, QueueDeleteOptions,
};
use lapin::types::{AMQPValue, FieldTable};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

/// Phase durations and sizes (real time). The defaults take about 20 s.
#[derive(Debug, Clone, Copy)]
pub struct Plan {
    /// Messages of phase 1, one every 10 ms.
    pub probes: u32,
    /// Backlog of phase 2.
    pub backlog: u32,
    /// Length of phase 3.
    pub flood: Duration,
    /// Phases 1 and 2 again on a quorum queue (what a scenario's queue with
    /// `delivery_limit` is declared as).
    pub quorum: bool,
}

impl Default for Plan {
    fn default() -> Self {
        Plan { probes: 400, backlog: 1000, flood: Duration::from_secs(4), quorum: true }
    }
}

/// A distribution's summary, real seconds.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Spread {
    /// Mean.
    pub mean: f64,
    /// Median.
    pub p50: f64,
    /// 99th percentile.
    pub p99: f64,
    /// Observations.
    pub samples: u64,
}

/// What `calibrate` measured.
#[derive(Debug, Clone)]
pub struct Measured {
    /// e.g. `RabbitMQ 3.10.8`.
    pub server: String,
    /// Phases 1 and 2 on a classic queue.
    pub classic: Figures,
    /// Phase 3, messages per second.
    pub max_rate: f64,
    /// Phases 1 and 2 on a quorum queue, when measured.
    pub quorum: Option<Figures>,
}

/// Phases 1 and 2 of one kind of queue.
#[derive(Debug, Clone, Copy)]
pub struct Figures {
    /// Phase 1.
    pub publish_deliver: Spread,
    /// Phase 2.
    pub ack_round_trip: Spread,
}

impl Figures {
    /// The model's one-way delay: half the ack round trip (its mean).
    pub fn network_delay(&self) -> f64 {
        self.ack_round_trip.mean / 2.0
    }

    /// The publish path: the publish → deliver mean less the one-way delay (at least 0).
    pub fn broker_overhead(&self) -> f64 {
        (self.publish_deliver.mean - self.network_delay()).max(0.0)
    }

    fn from(pd: &LatencyHistogram, ack: &LatencyHistogram) -> Figures {
        Figures { publish_deliver: spread(pd), ack_round_trip: spread(ack) }
    }
}

impl Measured {
    /// The scenario fragment `run`, `analyze` and `compare --calibration` read.
    pub fn to_toml(&self, url: &str) -> String {
        let us = |s: f64| format!("\"{:.1}us\"", s * 1e6);
        let spread = |s: &Spread| {
            format!(
                "{{ mean = {:e}, p50 = {:e}, p99 = {:e}, samples = {} }}",
                s.mean, s.p50, s.p99, s.samples
            )
        };
        let mut t = format!(
            "# mqsim calibrate against {server} at {url}: real time.\n\
             # Applied by run/analyze/compare --calibration (docs/scenario.md, \"Calibration\"):\n\
             # every consumer group's network_delay grows by network_delay and every producer's\n\
             # publish_delay by broker_overhead, each divided by the scenario's [loadtest] time_scale\n\
             # ([calibration.quorum]'s figures for quorum queues, those with delivery_limit).\n\
             [calibration]\n\
             server = \"{server}\"\n\
             network_delay = {nd}      # one way broker <-> consumer: half the ack round trip\n\
             broker_overhead = {bo}    # publish path: publish -> deliver mean at low load, less network_delay\n\
             max_rate = {rate:.0}           # msgs/s one queue sustained (consumer doing no work): a capacity check\n",
            server = self.server,
            url = redact(url),
            nd = us(self.classic.network_delay()),
            bo = us(self.classic.broker_overhead()),
            rate = self.max_rate,
        );
        if let Some(q) = &self.quorum {
            t += &format!(
                "\n[calibration.quorum]        # the same on a quorum queue (durable, replicated log)\n\
                 network_delay = {}\n\
                 broker_overhead = {}\n",
                us(q.network_delay()),
                us(q.broker_overhead())
            );
        }
        t += &format!(
            "\n[calibration.measured]     # seconds; for the record, not applied\n\
             publish_deliver = {}\n\
             ack_round_trip = {}\n",
            spread(&self.classic.publish_deliver),
            spread(&self.classic.ack_round_trip)
        );
        if let Some(q) = &self.quorum {
            t += &format!(
                "quorum_publish_deliver = {}\nquorum_ack_round_trip = {}\n",
                spread(&q.publish_deliver),
                spread(&q.ack_round_trip)
            );
        }
        t
    }
}

fn spread(h: &LatencyHistogram) -> Spread {
    Spread {
        mean: h.mean().unwrap_or(0.0),
        p50: h.quantile(0.5).unwrap_or(0.0),
        p99: h.quantile(0.99).unwrap_or(0.0),
        samples: h.count(),
    }
}

const SENT: &str = "x-mqsim-sent-ns";

/// Runs the three phases against the server at `url`.
pub fn calibrate(url: &str, plan: Plan) -> Result<Measured, RabbitError> {
    let info = super::server_info(url)
        .map_err(|e| RabbitError::Unreachable { url: redact(url), reason: format!("{e:?}") })?;
    let rt = runtime()?;
    let publisher = Link::connect(&rt, url)?;
    let consumer = Link::connect(&rt, url)?;
    let pch = publisher.channel()?;
    let cch = consumer.channel()?;
    let name = format!("mqsim-{}-{:08x}.calibrate", std::process::id(), rand::random::<u32>());
    let fail = |what: &str, e: String| RabbitError::Run {
        url: redact(url),
        reason: format!("{what}: {e}"),
    };
    rt.block_on(async {
        pch.confirm_select(ConfirmSelectOptions::default()).await?;
        pch.queue_declare(
            name.as_str().into(),
            QueueDeclareOptions { auto_delete: false, ..QueueDeclareOptions::default() },
            FieldTable::default(),
        )
        .await
        .map(|_| ())
    })
    .map_err(|e| fail("declaring the calibration queue", e.to_string()))?;
    let t0 = Instant::now();
    let result = threaded_phases(&rt, &pch, &cch, &name, t0, plan).and_then(|(pd, ack)| {
        rt.block_on(flood_phase(&pch, &cch, &name, plan)).map(|rate| (pd, ack, rate))
    });
    delete(&rt, &pch, &name);
    let quorum = match (&result, plan.quorum) {
        (Ok(_), true) => Some(quorum_phases(&rt, &pch, &cch, &name, t0, plan)),
        _ => None,
    };
    consumer.close();
    publisher.close();
    let (pd, ack, rate) = result.map_err(|e| fail("calibrating", e))?;
    let quorum = quorum.transpose().map_err(|e| fail("calibrating a quorum queue", e))?;
    Ok(Measured {
        server: format!("{} {}", info.product, info.version),
        classic: Figures::from(&pd, &ack),
        max_rate: rate,
        quorum,
    })
}

/// Deletes scratch queue `q` whatever happened before (the queue is this run's own).
fn delete(rt: &tokio::runtime::Runtime, ch: &lapin::Channel, q: &str) {
    let _ = rt.block_on(async {
        tokio::time::timeout(
            Duration::from_secs(10),
            ch.queue_delete(q.into(), QueueDeleteOptions::default()),
        )
        .await
    });
}

/// Phases 1 and 2 on a quorum queue of its own (`<name>-quorum`), deleted afterwards.
fn quorum_phases(
    rt: &tokio::runtime::Runtime,
    pch: &lapin::Channel,
    cch: &lapin::Channel,
    name: &str,
    t0: Instant,
    plan: Plan,
) -> Result<Figures, String> {
    let q = format!("{name}-quorum");
    let mut args = FieldTable::default();
    args.insert("x-queue-type".into(), AMQPValue::LongString("quorum".into()));
    rt.block_on(pch.queue_declare(
        q.as_str().into(),
        // Quorum queues must be durable.
        QueueDeclareOptions { durable: true, ..QueueDeclareOptions::default() },
        args,
    ))
    .map_err(|e| format!("declaring {q}: {e}"))?;
    let r = threaded_phases(rt, pch, cch, &q, t0, plan);
    delete(rt, pch, &q);
    let (pd, ack) = r?;
    Ok(Figures::from(&pd, &ack))
}

fn stamped(t0: Instant) -> BasicProperties {
    let mut h = FieldTable::default();
    let ns = t0.elapsed().as_nanos() as i64;
    h.insert(SENT.into(), AMQPValue::LongLongInt(ns));
    BasicProperties::default().with_headers(h)
}

async fn publish(ch: &lapin::Channel, q: &str, props: BasicProperties) -> lapin::Result<()> {
    ch.basic_publish("".into(), q.into(), BasicPublishOptions::default(), b"", props).await?;
    Ok(())
}

async fn consume(ch: &lapin::Channel, q: &str, prefetch: u16) -> Result<lapin::Consumer, String> {
    ch.basic_qos(prefetch, BasicQosOptions::default()).await.map_err(|e| e.to_string())?;
    ch.basic_consume(q.into(), "".into(), BasicConsumeOptions::default(), FieldTable::default())
        .await
        .map_err(|e| e.to_string())
}

async fn cancel(ch: &lapin::Channel, c: &lapin::Consumer) {
    let _ = ch.basic_cancel(c.tag(), BasicCancelOptions::default()).await;
}

/// Phase 2's emulated service: long enough that the consumer thread sleeps between
/// deliveries, as it does serving a scenario's messages.
pub const SERVICE: Duration = Duration::from_millis(1);

/// A phase may take at most this long (a server that stalls fails the run, not hangs it).
const PHASE_LIMIT: Duration = Duration::from_secs(60);

async fn limit<T>(
    what: &str,
    f: impl std::future::Future<Output = Result<T, String>>,
) -> Result<T, String> {
    tokio::time::timeout(PHASE_LIMIT, f)
        .await
        .map_err(|_| format!("{what}: no progress within {} s", PHASE_LIMIT.as_secs()))?
}

/// Phases 1 and 2, on threads that call the client as the load test's do.
fn threaded_phases(
    rt: &tokio::runtime::Runtime,
    pch: &lapin::Channel,
    cch: &lapin::Channel,
    q: &str,
    t0: Instant,
    plan: Plan,
) -> Result<(LatencyHistogram, LatencyHistogram), String> {
    let e = |e: lapin::Error| e.to_string();
    let give_up = Instant::now() + PHASE_LIMIT;
    // The next delivery, as the driver's consumer waits for it (polling a stop deadline).
    let next = |consumer: &mut lapin::Consumer, what: &str| loop {
        if Instant::now() > give_up {
            return Err(format!("{what}: no progress within {} s", PHASE_LIMIT.as_secs()));
        }
        match rt.block_on(async { tokio::time::timeout(super::RECV_POLL, consumer.next()).await }) {
            Err(_) => continue,
            Ok(Some(Ok(d))) => return Ok(d),
            Ok(Some(Err(x))) => return Err(x.to_string()),
            Ok(None) => return Err("consumer closed".into()),
        }
    };
    // Phase 1: a paced publisher thread, a consumer on this one.
    let mut consumer = rt.block_on(consume(cch, q, 100))?;
    let stop = AtomicBool::new(false);
    let mut pd = LatencyHistogram::new();
    let received = std::thread::scope(|s| {
        let sender = s.spawn(|| {
            let mut pacer = Pacer::new();
            let start = Instant::now();
            for k in 1..=u64::from(plan.probes) {
                if !pacer.wait_until(start + Duration::from_millis(10 * k), &stop) {
                    return Ok(());
                }
                rt.block_on(publish(pch, q, stamped(t0))).map_err(e)?;
            }
            Ok::<_, String>(())
        });
        let recv = (|| {
            for _ in 0..plan.probes {
                let d = next(&mut consumer, "publish -> deliver")?;
                let now = t0.elapsed().as_nanos() as i64;
                if let Some(AMQPValue::LongLongInt(sent)) =
                    d.properties.headers().as_ref().and_then(|h| h.inner().get(SENT).cloned())
                {
                    pd.record((now - sent).max(0) as f64 * 1e-9);
                }
                rt.block_on(d.acker.ack(BasicAckOptions::default())).map_err(e)?;
            }
            Ok::<_, String>(())
        })();
        stop.store(true, Ordering::Relaxed);
        let sent = sender.join().unwrap_or_else(|_| Err("the publisher thread panicked".into()));
        recv.and(sent)
    });
    rt.block_on(cancel(cch, &consumer));
    received?;
    // Phase 2: a confirmed backlog, then prefetch 1 and the gaps from an ack to the next
    // delivery.
    rt.block_on(limit("backlog", async {
        for _ in 0..plan.backlog {
            publish(pch, q, BasicProperties::default()).await.map_err(e)?;
        }
        pch.wait_for_confirms().await.map_err(e).map(|_| ())
    }))?;
    let mut consumer = rt.block_on(consume(cch, q, 1))?;
    let mut ack = LatencyHistogram::new();
    let never = AtomicBool::new(false);
    let mut pacer = Pacer::new();
    let looped = (|| {
        let mut acked_at: Option<Instant> = None;
        for _ in 0..plan.backlog {
            let d = next(&mut consumer, "ack round trip")?;
            if let Some(a) = acked_at {
                ack.record(a.elapsed().as_secs_f64());
            }
            pacer.wait_until(Instant::now() + SERVICE, &never);
            acked_at = Some(Instant::now());
            rt.block_on(d.acker.ack(BasicAckOptions::default())).map_err(e)?;
        }
        Ok::<_, String>(())
    })();
    rt.block_on(cancel(cch, &consumer));
    looped?;
    Ok((pd, ack))
}

/// Phase 3: the highest rate one queue sustains.
async fn flood_phase(
    pch: &lapin::Channel,
    cch: &lapin::Channel,
    q: &str,
    plan: Plan,
) -> Result<f64, String> {
    let e = |e: lapin::Error| e.to_string();
    // Phase 3: flood, drain, count what was delivered in the window.
    let mut consumer = consume(cch, q, 100).await?;
    let delivered = limit("highest rate", async {
        let start = Instant::now();
        let end = start + plan.flood;
        let recv = async {
            let mut n = 0u64;
            while Instant::now() < end {
                let next = tokio::time::timeout(Duration::from_millis(200), consumer.next()).await;
                let Ok(Some(d)) = next else { continue };
                let d = d.map_err(e)?;
                d.acker.ack(BasicAckOptions::default()).await.map_err(e)?;
                n += 1;
            }
            Ok::<_, String>(n)
        };
        let send = async {
            let mut k = 0u32;
            while Instant::now() < end {
                publish(pch, q, BasicProperties::default()).await.map_err(e)?;
                k += 1;
                // Confirms now and then, so the publisher cannot run away from the server.
                if k.is_multiple_of(500) {
                    pch.wait_for_confirms().await.map_err(e)?;
                }
            }
            Ok::<_, String>(())
        };
        let (r, s) = futures_lite::future::zip(recv, send).await;
        s?;
        r.map(|n| n as f64 / plan.flood.as_secs_f64())
    })
    .await?;
    cancel(cch, &consumer).await;
    Ok(delivered)
}
