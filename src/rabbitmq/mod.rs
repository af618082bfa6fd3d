//! A real RabbitMQ as a back end: `mqsim loadtest FILE --broker amqp://…` drives a live
//! server through AMQP 0-9-1 ([`lapin`]) from the same [`Model`] and measures it into the
//! same [`RunReport`] as every other back end (`backend = "rabbitmq"`, with the server's
//! product and version).
//!
//! This module owns the AMQP side: the asynchronous client lives here, on a private tokio
//! runtime, behind a small synchronous API ([`Link`]) that the publisher and consumer
//! threads call; nothing async leaks into the rest of the crate. Pacing, the arrival
//! instants and the service times are the in-crate load test's (`loadtest::ArrivalSchedule`,
//! the replication-0 streams, the precise waiter), so the two real back ends differ only in
//! the broker.
//!
//! - **Topology.** Every exchange and queue of the scenario is declared under a name
//!   prefixed with a per-run id (`mqsim-<pid>-<hex>.<name>`), so a run never touches
//!   anything it did not create; queues carry `x-max-length`, `x-overflow`,
//!   `x-message-ttl` (scaled to real time), `x-dead-letter-exchange`,
//!   `x-dead-letter-routing-key` and `x-max-priority`; a queue with `delivery_limit` is
//!   declared a **quorum** queue (`x-queue-type = quorum`, `x-delivery-limit`), the only
//!   kind that has one in RabbitMQ 3.10. Everything declared is deleted when the run ends,
//!   however it ends (an error, a panic, Ctrl-C): the [`Topology`] guard deletes on drop.
//! - **Publishers.** One thread and one connection per producer, publisher confirms on;
//!   open loop at the scheduled instants; the scheduled instant travels in the header
//!   `x-mqsim-scheduled-ns` (nanoseconds from the run's time zero), so latency is measured
//!   from it (no coordinated omission). Confirms are awaited off the publishing path and
//!   counted (`confirmed`, and `nacked` for `reject-publish`).
//! - **Consumers.** One thread and one connection per consumer (a connection can be killed
//!   on its own), `basic.qos(prefetch)`, manual or auto ack as the group says; service is
//!   emulated on the real clock; a failure nacks (requeue) or rejects (no requeue).
//! - **Counts.** Per queue: `offered` = publishes routed to it (the scenario's routing,
//!   which is RabbitMQ's), `delivered`/`redelivered`/`acked`/`rejected` as the consumers
//!   saw them, `in_flight_at_end` = what the server says is left (a passive declare's
//!   `message_count`, after the consumers closed and their unacknowledged messages went
//!   back). What RabbitMQ removed on its own (drop-head, reject-publish, TTL) is the
//!   remainder, reported as `dropped` (or `expired` for a TTL queue without `max_length`);
//!   for a queue that can lose nothing the remainder must be 0, and a run where it is not
//!   fails naming the queue. A queue fed by dead-lettering counts what its consumers and
//!   the server saw (the server does not tell a client what it dead-lettered).

use crate::cancel::Cancel;
use crate::loadtest::{ArrivalSchedule, Stream, stream_rng};
use crate::results::{
    Counts, EndToEnd, Latency, ProducerReport, QueueLength, QueueReport, RunReport, Server, Timing,
};
use crate::routing::ExchangeKind;
use crate::scenario::{Ack, Model, Overflow};
use crate::stats::{LatencyHistogram, MeanCi};
use futures_lite::StreamExt;
use lapin::options::{
    BasicAckOptions, BasicConsumeOptions, BasicNackOptions, BasicPublishOptions, BasicQosOptions,
    BasicRejectOptions, ConfirmSelectOptions, ExchangeDeclareOptions, ExchangeDeleteOptions,
    QueueBindOptions, QueueDeclareOptions, QueueDeleteOptions,
};
use lapin::types::{AMQPValue, FieldTable, ShortString};
use lapin::{BasicProperties, Connection, ConnectionProperties};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

pub mod calibrate;
mod server;

pub use server::server_info;

/// How long connecting and each declaration may take before the run gives up.
const RPC_TIMEOUT: Duration = Duration::from_secs(10);
/// How long a consumer waits for a delivery before looking at the stop flag again.
const RECV_POLL: Duration = Duration::from_millis(50);
/// Header carrying a message's first scheduled publish instant (ns from time zero).
const SCHEDULED: &str = "x-mqsim-scheduled-ns";
/// Header carrying the instant it entered its current queue (ns from time zero).
const ENTERED: &str = "x-mqsim-entered-ns";
/// Header carrying its producer's index.
const PRODUCER: &str = "x-mqsim-producer";

/// Why a run against RabbitMQ could not be done. Each says which server (the URL without
/// its password), what failed and what to do.
#[derive(Debug, thiserror::Error)]
pub enum RabbitError {
    /// The URL is not an AMQP URL.
    #[error(
        "--broker {url}: not an AMQP URL ({reason}); write it like amqp://guest:guest@127.0.0.1:5672/%2f"
    )]
    BadUrl {
        /// The URL as given, password hidden.
        url: String,
        /// What is wrong with it.
        reason: String,
    },
    /// Nothing answers at the URL.
    #[error(
        "cannot reach RabbitMQ at {url}: {reason}; is it running? (start a local one with scripts/rabbitmq.sh start)"
    )]
    Unreachable {
        /// The URL, password hidden.
        url: String,
        /// The system's word for it.
        reason: String,
    },
    /// The server refused the user or password.
    #[error(
        "RabbitMQ at {url} refused the login: {reason}; check the user and password in the URL (guest/guest works only from localhost)"
    )]
    Credentials {
        /// The URL, password hidden.
        url: String,
        /// The server's word for it.
        reason: String,
    },
    /// The server refused to declare an object.
    #[error(
        "RabbitMQ at {url} refused to declare {object}: {reason}; delete the conflicting object or change the scenario"
    )]
    Declare {
        /// The URL, password hidden.
        url: String,
        /// e.g. `queue "mqsim-1-ab.orders"`.
        object: String,
        /// The server's word for it.
        reason: String,
    },
    /// The scenario uses something this back end does not drive.
    #[error("{0}")]
    Unsupported(String),
    /// The run started but failed.
    #[error("the run against RabbitMQ at {url} failed: {reason}")]
    Run {
        /// The URL, password hidden.
        url: String,
        /// What happened.
        reason: String,
    },
    /// Stopped during the warm-up, before anything was measured.
    #[error("stopped during the warm-up, before anything was measured")]
    Interrupted,
}

impl RabbitError {
    /// Is it the user's input (URL, credentials, scenario, a server that is not there)
    /// rather than a run that failed? The CLI exits 2 for these, 1 otherwise.
    pub fn is_bad_input(&self) -> bool {
        !matches!(self, RabbitError::Run { .. } | RabbitError::Interrupted)
    }
}

/// The URL with its password replaced by `***`, for messages.
pub fn redact(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else { return url.to_string() };
    let (auth, host) = match rest.rsplit_once('@') {
        Some((a, h)) => (a, h),
        None => return url.to_string(),
    };
    match auth.split_once(':') {
        Some((user, _)) => format!("{scheme}://{user}:***@{host}"),
        None => url.to_string(),
    }
}

/// A connection to the server, with the runtime its client runs on: the small synchronous
/// face of the async client.
pub struct Link {
    rt: Arc<tokio::runtime::Runtime>,
    conn: Connection,
    url: String,
}

impl Link {
    /// Connects (within 10 s).
    pub fn connect(rt: &Arc<tokio::runtime::Runtime>, url: &str) -> Result<Link, RabbitError> {
        let shown = redact(url);
        let props = ConnectionProperties::default();
        let r = rt.block_on(async {
            tokio::time::timeout(RPC_TIMEOUT, Connection::connect(url, props)).await
        });
        match r {
            Ok(Ok(conn)) => Ok(Link { rt: Arc::clone(rt), conn, url: shown }),
            Ok(Err(e)) => Err(classify(&shown, &e.to_string())),
            Err(_) => Err(RabbitError::Unreachable {
                url: shown,
                reason: format!("no answer within {} s", RPC_TIMEOUT.as_secs()),
            }),
        }
    }

    fn run_err(&self, what: &str, e: impl std::fmt::Display) -> RabbitError {
        RabbitError::Run { url: self.url.clone(), reason: format!("{what}: {e}") }
    }

    /// A new channel.
    pub fn channel(&self) -> Result<lapin::Channel, RabbitError> {
        self.rt
            .block_on(self.conn.create_channel())
            .map_err(|e| self.run_err("opening a channel", e))
    }

    /// Closes the connection (a consumer's: the server requeues what it held).
    pub fn close(&self) {
        let _ = self.rt.block_on(async {
            tokio::time::timeout(RPC_TIMEOUT, self.conn.close(200, "mqsim done".into())).await
        });
    }
}

/// Login failures from the rest, by the server's reply.
fn classify(url: &str, message: &str) -> RabbitError {
    let m = message.to_ascii_lowercase();
    if m.contains("access_refused")
        || m.contains("access-refused")
        || m.contains("login")
        || m.contains("auth")
        || m.contains("403")
    {
        RabbitError::Credentials { url: url.into(), reason: message.into() }
    } else {
        RabbitError::Unreachable { url: url.into(), reason: message.into() }
    }
}

/// Everything this run declared, deleted when dropped (also on an error, a panic or
/// Ctrl-C), on a connection of its own.
pub struct Topology {
    link: Link,
    channel: lapin::Channel,
    /// `mqsim-<pid>-<hex>`: the prefix of every name.
    pub run_id: String,
    /// Declared queue names, model order.
    pub queues: Vec<String>,
    exchanges: Vec<String>,
    /// Did any queue need to be a quorum queue (for `delivery_limit`)?
    pub quorum: Vec<String>,
}

impl Topology {
    /// The server name of exchange `id` (0, the default exchange, stays `""`).
    pub fn exchange(&self, model: &Model, id: usize) -> String {
        if id == 0 {
            String::new()
        } else {
            format!("{}.{}", self.run_id, model.exchanges[id - 1].name)
        }
    }

    /// The routing key a publish to exchange `id` carries: on the default exchange a key
    /// names a queue, so it is the queue's server name.
    pub fn key(&self, id: usize, key: &str) -> String {
        if id == 0 { format!("{}.{key}", self.run_id) } else { key.to_string() }
    }

    /// Declares the model's exchanges, queues and bindings.
    pub fn declare(link: Link, model: &Model) -> Result<Topology, RabbitError> {
        let channel = link.channel()?;
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.subsec_nanos());
        let run_id = format!("mqsim-{}-{nanos:x}", std::process::id());
        let mut t = Topology {
            link,
            channel,
            run_id,
            queues: Vec::new(),
            exchanges: Vec::new(),
            quorum: Vec::new(),
        };
        let scale = model.loadtest.time_scale;
        for e in &model.exchanges {
            let name = format!("{}.{}", t.run_id, e.name);
            let kind = match e.kind {
                ExchangeKind::Direct => lapin::ExchangeKind::Direct,
                ExchangeKind::Fanout => lapin::ExchangeKind::Fanout,
                ExchangeKind::Topic => lapin::ExchangeKind::Topic,
            };
            // Recorded before declaring, so a half-done declaration is still cleaned up.
            t.exchanges.push(name.clone());
            let ch = t.channel.clone();
            t.rpc(&format!("exchange \"{name}\""), async move {
                ch.exchange_declare(
                    name.as_str().into(),
                    kind,
                    ExchangeDeclareOptions::default(),
                    FieldTable::default(),
                )
                .await
            })?;
        }
        for q in &model.queues {
            let name = format!("{}.{}", t.run_id, q.name);
            let mut args = FieldTable::default();
            let mut put = |k: &str, v: AMQPValue| {
                args.insert(ShortString::from(k), v);
            };
            if let Some(m) = q.max_length {
                put("x-max-length", AMQPValue::LongLongInt(m.min(i64::MAX as u64) as i64));
                let o = match q.overflow {
                    Overflow::DropHead => "drop-head",
                    Overflow::RejectPublish => "reject-publish",
                    Overflow::RejectPublishDlx => "reject-publish-dlx",
                };
                put("x-overflow", AMQPValue::LongString(o.into()));
            }
            if let Some(ttl) = q.message_ttl {
                put("x-message-ttl", AMQPValue::LongLongInt((ttl * scale * 1000.0).round() as i64));
            }
            if let Some(dl) = &q.dead_letter {
                put(
                    "x-dead-letter-exchange",
                    AMQPValue::LongString(t.exchange(model, dl.exchange).into()),
                );
                if let Some(k) = dl.routing_key {
                    let key = t.key(dl.exchange, &model.keys[k as usize]);
                    put("x-dead-letter-routing-key", AMQPValue::LongString(key.into()));
                }
            }
            if let Some(p) = q.max_priority {
                put("x-max-priority", AMQPValue::ShortShortUInt(p));
            }
            if let Some(l) = q.delivery_limit {
                put("x-queue-type", AMQPValue::LongString("quorum".into()));
                put("x-delivery-limit", AMQPValue::LongLongInt(i64::from(l)));
                t.quorum.push(name.clone());
            }
            t.queues.push(name.clone());
            let ch = t.channel.clone();
            // Quorum queues must be durable; the others are transient, as a test's should be.
            let options =
                QueueDeclareOptions { durable: q.is_quorum(), ..QueueDeclareOptions::default() };
            let n = name.clone();
            t.rpc(&format!("queue \"{name}\""), async move {
                ch.queue_declare(n.as_str().into(), options, args).await.map(|_| ())
            })?;
            for (ex, key) in &q.bindings {
                let exchange = t.exchange(model, *ex);
                let ch = t.channel.clone();
                let object = format!(
                    "the binding of queue \"{name}\" to exchange \"{exchange}\" with key \"{key}\""
                );
                let (n, k) = (name.clone(), key.clone());
                t.rpc(&object, async move {
                    ch.queue_bind(
                        n.as_str().into(),
                        exchange.as_str().into(),
                        k.as_str().into(),
                        QueueBindOptions::default(),
                        FieldTable::default(),
                    )
                    .await
                })?;
            }
        }
        Ok(t)
    }

    fn rpc<T>(
        &mut self,
        object: &str,
        f: impl std::future::Future<Output = lapin::Result<T>>,
    ) -> Result<T, RabbitError> {
        let r = self.link.rt.block_on(async { tokio::time::timeout(RPC_TIMEOUT, f).await });
        let reason = match r {
            Ok(Ok(v)) => return Ok(v),
            Ok(Err(e)) => e.to_string(),
            Err(_) => format!("no answer within {} s", RPC_TIMEOUT.as_secs()),
        };
        // A refused declaration closes the channel: the clean-up needs a fresh one.
        if let Ok(ch) = self.link.channel() {
            self.channel = ch;
        }
        Err(RabbitError::Declare { url: self.link.url.clone(), object: object.into(), reason })
    }

    /// Messages the server holds ready in queue `i` (a passive declare), once it counts no
    /// consumer: a quorum queue learns of a closed connection through its log, a moment
    /// after the close, and only then returns what the consumer held; asked again every
    /// 20 ms for up to [`RPC_TIMEOUT`].
    fn message_count(&mut self, i: usize) -> Result<u32, RabbitError> {
        let name = self.queues[i].clone();
        let give_up = Instant::now() + RPC_TIMEOUT;
        loop {
            let ch = self.channel.clone();
            let options = QueueDeclareOptions { passive: true, ..QueueDeclareOptions::default() };
            let n = name.clone();
            let (m, c) = self.rpc(&format!("queue \"{name}\" (passive)"), async move {
                ch.queue_declare(n.as_str().into(), options, FieldTable::default())
                    .await
                    .map(|q| (q.message_count(), q.consumer_count()))
            })?;
            if c == 0 {
                return Ok(m);
            }
            if Instant::now() > give_up {
                return Err(RabbitError::Run {
                    url: self.link.url.clone(),
                    reason: format!(
                        "queue \"{name}\" still has {c} consumer(s) {} s after they closed",
                        RPC_TIMEOUT.as_secs()
                    ),
                });
            }
            thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Topology {
    fn drop(&mut self) {
        let ch = self.channel.clone();
        let rt = &self.link.rt;
        for q in &self.queues {
            let _ = rt.block_on(async {
                tokio::time::timeout(
                    RPC_TIMEOUT,
                    ch.queue_delete(q.as_str().into(), QueueDeleteOptions::default()),
                )
                .await
            });
        }
        for e in &self.exchanges {
            let _ = rt.block_on(async {
                tokio::time::timeout(
                    RPC_TIMEOUT,
                    ch.exchange_delete(e.as_str().into(), ExchangeDeleteOptions::default()),
                )
                .await
            });
        }
        self.link.close();
    }
}

/// The private runtime of the client: two workers are plenty for the socket I/O.
pub fn runtime() -> Result<Arc<tokio::runtime::Runtime>, RabbitError> {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .thread_name("amqp")
        .enable_all()
        .build()
        .map(Arc::new)
        .map_err(|e| RabbitError::Run {
            url: String::new(),
            reason: format!("starting the AMQP client's runtime: {e}"),
        })
}

/// The run's real-time frame.
#[derive(Debug, Clone, Copy)]
struct Frame {
    scale: f64,
    t0: Instant,
    warm: Instant,
    end: Instant,
}

impl Frame {
    fn scn(&self, d: Duration) -> f64 {
        d.as_secs_f64() / self.scale
    }
    fn at(&self, ns: i64) -> Instant {
        self.t0 + Duration::from_nanos(ns.max(0) as u64)
    }
    fn ns(&self, t: Instant) -> i64 {
        t.saturating_duration_since(self.t0).as_nanos().min(i64::MAX as u128) as i64
    }
}

#[derive(Debug, Default)]
struct PublisherResult {
    published: u64,
    lateness_s: f64,
    late: u64,
}

/// Publisher confirms, counted as they come.
#[derive(Debug, Default)]
struct Confirms {
    acked: AtomicU64,
    nacked: AtomicU64,
    failed: AtomicU64,
}

fn header_i64(p: &BasicProperties, k: &str) -> Option<i64> {
    match p.headers().as_ref()?.inner().get(k)? {
        AMQPValue::LongLongInt(v) => Some(*v),
        AMQPValue::LongInt(v) => Some(i64::from(*v)),
        _ => None,
    }
}

fn properties(
    scheduled: i64,
    entered: i64,
    producer: u32,
    priority: u8,
    ttl_ms: Option<u64>,
) -> BasicProperties {
    let mut h = FieldTable::default();
    h.insert(SCHEDULED.into(), AMQPValue::LongLongInt(scheduled));
    h.insert(ENTERED.into(), AMQPValue::LongLongInt(entered));
    h.insert(PRODUCER.into(), AMQPValue::LongLongInt(i64::from(producer)));
    let mut p = BasicProperties::default().with_headers(h).with_priority(priority);
    if let Some(ms) = ttl_ms {
        p = p.with_expiration(ms.to_string().into());
    }
    p
}

struct PublisherJob {
    rt: Arc<tokio::runtime::Runtime>,
    channel: lapin::Channel,
    index: usize,
    exchange: String,
    key: String,
    schedule: ArrivalSchedule,
    ttl_ms: Option<u64>,
    priority: crate::scenario::Priority,
    priority_rng: rand::rngs::Xoshiro256PlusPlus,
    frame: Frame,
    stop: Arc<AtomicBool>,
    confirms: Arc<Confirms>,
}

fn run_publisher(job: PublisherJob) -> PublisherResult {
    let PublisherJob {
        rt,
        channel,
        index,
        exchange,
        key,
        schedule,
        ttl_ms,
        priority,
        mut priority_rng,
        frame,
        stop,
        confirms,
    } = job;
    let mut r = PublisherResult::default();
    let mut pacer = crate::loadtest::pacer::Pacer::new();
    for t in schedule {
        let Some(scheduled) =
            Duration::try_from_secs_f64(t * frame.scale).ok().and_then(|d| frame.t0.checked_add(d))
        else {
            break;
        };
        if scheduled >= frame.end || !pacer.wait_until(scheduled, &stop) {
            break;
        }
        let late = scheduled.elapsed();
        let ns = frame.ns(scheduled);
        let props = properties(ns, ns, index as u32, priority.sample(&mut priority_rng), ttl_ms);
        let sent = rt.block_on(channel.basic_publish(
            exchange.as_str().into(),
            key.as_str().into(),
            BasicPublishOptions::default(),
            b"",
            props,
        ));
        match sent {
            Ok(confirm) => {
                r.published += 1;
                let c = Arc::clone(&confirms);
                rt.spawn(async move {
                    match confirm.await {
                        Ok(x) if x.is_nack() => c.nacked.fetch_add(1, Ordering::Relaxed),
                        Ok(_) => c.acked.fetch_add(1, Ordering::Relaxed),
                        Err(_) => c.failed.fetch_add(1, Ordering::Relaxed),
                    };
                });
            }
            Err(_) => break,
        }
        r.lateness_s += late.as_secs_f64();
        r.late += u64::from(late > crate::loadtest::LATE_TOLERANCE);
    }
    let _ =
        rt.block_on(async { tokio::time::timeout(RPC_TIMEOUT, channel.wait_for_confirms()).await });
    r
}

#[derive(Debug)]
struct ConsumerResult {
    queue: usize,
    wait: LatencyHistogram,
    sojourn: LatencyHistogram,
    end_to_end: Vec<LatencyHistogram>,
    delivered: u64,
    redelivered: u64,
    acked: u64,
    rejected: u64,
    onward: u64,
    completed_in_window: u64,
    busy_s: f64,
    service_error_sum: f64,
    service_actual_s: f64,
    service_intended_s: f64,
    services: u64,
}

/// A consumer's kill switch: tests close its connection mid-run.
pub type Kill = Arc<AtomicBool>;

struct ConsumerJob {
    rt: Arc<tokio::runtime::Runtime>,
    link: Link,
    consumer: lapin::Consumer,
    channel: lapin::Channel,
    auto_ack: bool,
    queue: usize,
    service: Arc<Mutex<(crate::dist::Dist, rand::rngs::Xoshiro256PlusPlus)>>,
    failures: Option<(crate::scenario::Failure, Arc<Mutex<rand::rngs::Xoshiro256PlusPlus>>)>,
    then: Option<(String, String)>,
    producers: usize,
    frame: Frame,
    stop: Arc<AtomicBool>,
    kill: Kill,
}

fn run_consumer(job: ConsumerJob) -> ConsumerResult {
    let ConsumerJob {
        rt,
        link,
        mut consumer,
        channel,
        auto_ack,
        queue,
        service,
        failures,
        then,
        producers,
        frame,
        stop,
        kill,
    } = job;
    let mut r = ConsumerResult {
        queue,
        wait: LatencyHistogram::new(),
        sojourn: LatencyHistogram::new(),
        end_to_end: (0..producers).map(|_| LatencyHistogram::new()).collect(),
        delivered: 0,
        redelivered: 0,
        acked: 0,
        rejected: 0,
        onward: 0,
        completed_in_window: 0,
        busy_s: 0.0,
        service_error_sum: 0.0,
        service_actual_s: 0.0,
        service_intended_s: 0.0,
        services: 0,
    };
    let mut pacer = crate::loadtest::pacer::Pacer::new();
    let overlap = |a: Instant, b: Instant| {
        let (a, b) = (a.max(frame.warm), b.min(frame.end));
        b.saturating_duration_since(a).as_secs_f64()
    };
    while !stop.load(Ordering::Relaxed) {
        if kill.load(Ordering::Relaxed) {
            // Killed: the connection goes, and with it every unacknowledged delivery.
            link.close();
            return r;
        }
        let next = rt.block_on(async { tokio::time::timeout(RECV_POLL, consumer.next()).await });
        let d = match next {
            Err(_) => continue,
            Ok(Some(Ok(d))) => d,
            Ok(_) => break, // cancelled or the connection went
        };
        r.delivered += 1;
        r.redelivered += u64::from(d.redelivered);
        let start = Instant::now();
        let intended = {
            let mut g = service.lock().unwrap_or_else(PoisonError::into_inner);
            let (dist, rng) = &mut *g;
            dist.sample(rng) * frame.scale
        };
        let target = Duration::try_from_secs_f64(intended)
            .ok()
            .and_then(|i| start.checked_add(i))
            .unwrap_or(frame.end + Duration::from_secs(3600));
        if !pacer.wait_until(target, &stop) {
            break; // stopped mid-service: left unacked, the server requeues it
        }
        let done = Instant::now();
        if intended > 0.0 {
            let actual = (done - start).as_secs_f64();
            r.service_error_sum += actual / intended - 1.0;
            r.service_actual_s += actual;
            r.service_intended_s += intended;
            r.services += 1;
        }
        r.busy_s += overlap(start, done);
        let failed = failures.as_ref().and_then(|(f, rng)| {
            (f.probability > 0.0
                && rand::RngExt::random::<f64>(
                    &mut *rng.lock().unwrap_or_else(PoisonError::into_inner),
                ) < f.probability)
                .then_some(f.requeue)
        });
        if let Some(requeue) = failed {
            let sent = if requeue {
                rt.block_on(d.acker.nack(BasicNackOptions { requeue: true, multiple: false }))
            } else {
                rt.block_on(d.acker.reject(BasicRejectOptions { requeue: false }))
            };
            r.rejected += u64::from(!requeue && sent.is_ok());
            continue;
        }
        let scheduled = header_i64(&d.properties, SCHEDULED).unwrap_or(0);
        let entered = header_i64(&d.properties, ENTERED).unwrap_or(scheduled);
        let producer = header_i64(&d.properties, PRODUCER).unwrap_or(0).max(0) as usize;
        if done >= frame.warm && done <= frame.end {
            r.completed_in_window += 1;
            let entered_at = frame.at(entered);
            r.wait.record(frame.scn(start.saturating_duration_since(entered_at)));
            r.sojourn.record(frame.scn(done.saturating_duration_since(entered_at)));
        }
        let last_stage = match &then {
            None => true,
            Some((exchange, key)) => {
                let props = properties(
                    scheduled,
                    frame.ns(done),
                    producer as u32,
                    d.properties.priority().unwrap_or(0),
                    None,
                );
                let ok = rt
                    .block_on(channel.basic_publish(
                        exchange.as_str().into(),
                        key.as_str().into(),
                        BasicPublishOptions::default(),
                        b"",
                        props,
                    ))
                    .is_ok();
                r.onward += u64::from(ok);
                false
            }
        };
        if last_stage
            && done >= frame.warm
            && done <= frame.end
            && let Some(h) = r.end_to_end.get_mut(producer)
        {
            h.record(frame.scn(done.saturating_duration_since(frame.at(scheduled))));
        }
        if auto_ack || rt.block_on(d.acker.ack(BasicAckOptions::default())).is_ok() {
            r.acked += 1;
        }
    }
    // Closing the connection returns what this consumer still held to the queue.
    link.close();
    r
}

/// Runs the scenario against the RabbitMQ at `url`; see the module docs. `kill_after`
/// (tests) closes the connection of the first consumer of the first group that long
/// (real) into the run.
pub fn run_loadtest_until(
    model: &Model,
    url: &str,
    progress: &dyn Fn(f64),
    cancel: &Cancel,
    kill_after: Option<Duration>,
) -> Result<RunReport, RabbitError> {
    if let Some(g) = model.groups.iter().find(|g| g.crash.is_some()) {
        return Err(RabbitError::Unsupported(format!(
            "consumer group \"{}\" has `crash`: not driven against a real RabbitMQ (kill consumer connections yourself, or run it on the in-crate broker)",
            g.name
        )));
    }
    if let Some(g) = model.groups.iter().find(|g| g.network_delay > 0.0) {
        return Err(RabbitError::Unsupported(format!(
            "consumer group \"{}\" has `network_delay`: against a real RabbitMQ the network is real; remove it (or measure it with `mqsim calibrate`)",
            g.name
        )));
    }
    if let Some(p) = model.producers.iter().find(|p| p.publish_delay > 0.0) {
        return Err(RabbitError::Unsupported(format!(
            "producer \"{}\" has `publish_delay`: against a real RabbitMQ the publish path is real; remove it (or measure it with `mqsim calibrate`)",
            p.name
        )));
    }
    // Features the RabbitMQ driver does not publish yet: refused by name, never ignored.
    let unsupported = |what: String| {
        Err(RabbitError::Unsupported(format!(
            "{what}: not driven against a real RabbitMQ yet; run it with `run` or on the in-crate broker (`loadtest` without --broker)"
        )))
    };
    if let Some(p) = model.producers.iter().find(|p| p.batch.is_some()) {
        return unsupported(format!("producer \"{}\" has `batch`", p.name));
    }
    if let Some(p) = model.producers.iter().find(|p| !p.weighted_keys.is_empty()) {
        return unsupported(format!("producer \"{}\" has `routing_keys`", p.name));
    }
    if let Some(q) = model.queues.iter().find(|q| q.initial_messages.is_some()) {
        return unsupported(format!("queue \"{}\" has `initial_messages`", q.name));
    }
    if let Some(t) = model.topics.first() {
        return unsupported(format!("topic \"{}\" (Kafka-style topics)", t.name));
    }
    let shown = redact(url);
    if !url.starts_with("amqp://") {
        return Err(RabbitError::BadUrl {
            url: shown,
            reason: "only amqp:// is supported (no TLS)".into(),
        });
    }
    let server = server_info(url).map_err(|e| match e {
        server::InfoError::Unreachable(reason) => {
            RabbitError::Unreachable { url: shown.clone(), reason }
        }
        server::InfoError::BadUrl(reason) => RabbitError::BadUrl { url: shown.clone(), reason },
    })?;
    let lt = &model.loadtest;
    let (horizon, warmup) =
        match (Duration::try_from_secs_f64(lt.horizon), Duration::try_from_secs_f64(lt.warmup)) {
            (Ok(h), Ok(w)) if w < h && lt.time_scale > 0.0 => (h, w),
            _ => {
                return Err(RabbitError::Unsupported(format!(
                    "invalid loadtest window: warmup {} s, horizon {} s",
                    lt.warmup, lt.horizon
                )));
            }
        };
    let rt = runtime()?;
    let mut topo = Topology::declare(Link::connect(&rt, url)?, model)?;
    let stop = Arc::new(AtomicBool::new(false));
    let publish_stop = Arc::new(AtomicBool::new(false));
    let t0 = Instant::now() + Duration::from_millis(200);
    let frame = Frame { scale: lt.time_scale, t0, warm: t0 + warmup, end: t0 + horizon };
    let seed = model.simulation.seed;
    let mut consumers: Vec<JoinHandle<ConsumerResult>> = Vec::new();
    let mut kills = Vec::new();
    // From here on every thread is stopped and joined however this function leaves.
    struct Stopper<'a> {
        flags: [&'a AtomicBool; 2],
    }
    impl Drop for Stopper<'_> {
        fn drop(&mut self) {
            for f in self.flags {
                f.store(true, Ordering::SeqCst);
            }
        }
    }
    let stopper = Stopper { flags: [&publish_stop, &stop] };
    let spawn_err = |e: std::io::Error| RabbitError::Run {
        url: shown.clone(),
        reason: format!("starting a thread: {e}"),
    };
    for (gi, g) in model.groups.iter().enumerate() {
        let service =
            Arc::new(Mutex::new((g.service.clone(), stream_rng(seed, Stream::Group(gi)))));
        let failures =
            g.failure.map(|f| (f, Arc::new(Mutex::new(stream_rng(seed, Stream::Failure(gi))))));
        for i in 0..g.count {
            let link = Link::connect(&rt, url)?;
            let channel = link.channel()?;
            let auto_ack = g.ack == Ack::Auto;
            let qname = topo.queues[g.queue].clone();
            let prefetch = u16::try_from(g.prefetch).unwrap_or(u16::MAX);
            let consumer = rt
                .block_on(async {
                    if prefetch > 0 && !auto_ack {
                        channel.basic_qos(prefetch, BasicQosOptions::default()).await?;
                    }
                    channel
                        .basic_consume(
                            qname.as_str().into(),
                            "".into(),
                            BasicConsumeOptions {
                                no_ack: auto_ack,
                                ..BasicConsumeOptions::default()
                            },
                            FieldTable::default(),
                        )
                        .await
                })
                .map_err(|e| RabbitError::Declare {
                    url: shown.clone(),
                    object: format!("a consumer on queue \"{qname}\""),
                    reason: e.to_string(),
                })?;
            let kill: Kill = Arc::new(AtomicBool::new(false));
            kills.push(Arc::clone(&kill));
            let job = ConsumerJob {
                rt: Arc::clone(&rt),
                link,
                consumer,
                channel,
                auto_ack,
                queue: g.queue,
                service: Arc::clone(&service),
                failures: failures.clone(),
                then: g.then.as_ref().map(|t| {
                    (topo.exchange(model, t.exchange), topo.key(t.exchange, &t.routing_key))
                }),
                producers: model.producers.len(),
                frame,
                stop: Arc::clone(&stop),
                kill,
            };
            consumers.push(
                thread::Builder::new()
                    .name(format!("{}-{i}", g.name))
                    .spawn(move || run_consumer(job))
                    .map_err(spawn_err)?,
            );
        }
    }
    let confirms: Vec<Arc<Confirms>> =
        model.producers.iter().map(|_| Arc::new(Confirms::default())).collect();
    let mut publishers = Vec::new();
    let mut publisher_links = Vec::new();
    for (pi, p) in model.producers.iter().enumerate() {
        let link = Link::connect(&rt, url)?;
        let channel = link.channel()?;
        rt.block_on(channel.confirm_select(ConfirmSelectOptions::default()))
            .map_err(|e| link.run_err("confirm.select", e))?;
        let job = PublisherJob {
            rt: Arc::clone(&rt),
            channel,
            index: pi,
            exchange: topo.exchange(model, p.exchange),
            key: topo.key(p.exchange, &p.routing_key),
            schedule: ArrivalSchedule::new(model, pi),
            ttl_ms: p.ttl.map(|t| (t * lt.time_scale * 1000.0).round() as u64),
            priority: p.priority.clone(),
            priority_rng: stream_rng(seed, Stream::Priority(pi)),
            frame,
            stop: Arc::clone(&publish_stop),
            confirms: Arc::clone(&confirms[pi]),
        };
        publisher_links.push(link);
        publishers.push(
            thread::Builder::new()
                .name(format!("publish-{}", p.name))
                .spawn(move || run_publisher(job))
                .map_err(spawn_err)?,
        );
    }
    // Wait for the horizon, reporting progress, noticing Ctrl-C and the kill.
    let mut killed = kill_after.is_none();
    let mut partial = false;
    loop {
        let now = Instant::now();
        if now >= frame.end {
            break;
        }
        if cancel.requested() {
            if now < frame.warm {
                return Err(RabbitError::Interrupted); // the guards stop, join and delete
            }
            partial = true;
            break;
        }
        if !killed
            && let Some(k) = kill_after
            && now >= t0 + k
        {
            kills[0].store(true, Ordering::SeqCst);
            killed = true;
        }
        progress(
            (now.saturating_duration_since(t0).as_secs_f64() / horizon.as_secs_f64())
                .clamp(0.0, 1.0),
        );
        thread::sleep(Duration::from_millis(50));
    }
    let end = Instant::now().min(frame.end);
    publish_stop.store(true, Ordering::SeqCst);
    let mut pubs = Vec::new();
    for h in publishers {
        pubs.push(h.join().map_err(|_| RabbitError::Run {
            url: shown.clone(),
            reason: "a publisher thread panicked".into(),
        })?);
    }
    for l in &publisher_links {
        l.close();
    }
    drop(stopper);
    let mut cons = Vec::new();
    for h in consumers {
        cons.push(h.join().map_err(|_| RabbitError::Run {
            url: shown.clone(),
            reason: "a consumer thread panicked".into(),
        })?);
    }
    // Every consumer connection is closed: what they held is back in its queue. The server
    // settles that asynchronously; read until two reads a moment apart agree.
    let mut left = Vec::new();
    for i in 0..model.queues.len() {
        let mut last = topo.message_count(i)?;
        loop {
            thread::sleep(Duration::from_millis(100));
            let now = topo.message_count(i)?;
            if now == last {
                break;
            }
            last = now;
        }
        left.push(u64::from(last));
    }
    progress(1.0);
    let report =
        assemble(model, &server, frame, end, partial, &pubs, &confirms, &cons, &left, &shown)?;
    drop(topo);
    Ok(report)
}

#[allow(clippy::too_many_arguments)]
fn assemble(
    model: &Model,
    server: &Server,
    frame: Frame,
    end: Instant,
    partial: bool,
    pubs: &[PublisherResult],
    confirms: &[Arc<Confirms>],
    cons: &[ConsumerResult],
    left: &[u64],
    url: &str,
) -> Result<RunReport, RabbitError> {
    let scale = frame.scale;
    let horizon_s = end.saturating_duration_since(frame.t0).as_secs_f64();
    let window_real = end.saturating_duration_since(frame.warm).as_secs_f64().max(1e-9);
    let window_s = window_real / scale;
    let mut queues = Vec::new();
    for (qi, q) in model.queues.iter().enumerate() {
        let mine: Vec<&ConsumerResult> = cons.iter().filter(|c| c.queue == qi).collect();
        let mut wait = LatencyHistogram::new();
        let mut sojourn = LatencyHistogram::new();
        for c in &mine {
            wait.merge(&c.wait);
            sojourn.merge(&c.sojourn);
        }
        let sum = |f: fn(&ConsumerResult) -> u64| mine.iter().map(|c| f(c)).sum::<u64>();
        let published: u64 = model
            .producers
            .iter()
            .zip(pubs)
            .filter(|(p, _)| p.routes.contains(&qi))
            .map(|(_, r)| r.published)
            .sum();
        // Consumer results are in group order, `count` per group.
        let mut onward = 0;
        let mut first = 0;
        for g in &model.groups {
            let n = g.count as usize;
            if g.then.as_ref().is_some_and(|t| t.routes.contains(&qi)) {
                onward += cons[first..first + n].iter().map(|c| c.onward).sum::<u64>();
            }
            first += n;
        }
        let acked = sum(|c| c.acked);
        let rejected = sum(|c| c.rejected);
        let fed_by_dead_letters = model.queues.iter().any(|o| {
            o.dead_letter.as_ref().is_some_and(|dl| dl.routes.iter().any(|r| r.contains(&qi)))
        });
        let mut offered = published + onward;
        let accounted = acked + rejected + left[qi];
        if fed_by_dead_letters {
            offered = offered.max(accounted);
        }
        let remainder = offered.checked_sub(accounted).ok_or_else(|| RabbitError::Run {
            url: url.into(),
            reason: format!("queue \"{}\": the server and the consumers account for {accounted} messages, more than the {offered} published to it", q.name),
        })?;
        let can_lose = q.max_length.is_some() || model.may_expire(qi);
        if remainder > 0 && !can_lose {
            return Err(RabbitError::Run {
                url: url.into(),
                reason: format!(
                    "queue \"{}\": {remainder} of the {offered} messages published to it are neither acked, rejected nor left in the queue (counts do not balance)",
                    q.name
                ),
            });
        }
        let (dropped, expired) =
            if q.max_length.is_some() { (remainder, 0) } else { (0, remainder) };
        let v2 = model.uses_message_lifecycle();
        let counts = Counts {
            offered,
            delivered: sum(|c| c.delivered),
            acked,
            dropped,
            expired: v2.then_some(expired),
            rejected: v2.then_some(rejected),
            dead_lettered: None,
            redelivered: Some(sum(|c| c.redelivered)),
            dead_letter_unroutable: None,
            dead_letter_cycles: None,
            in_flight_at_end: left[qi],
            completed: acked,
        };
        let completed_in_window = sum(|c| c.completed_in_window);
        let consumers = model.consumers_on(qi);
        let busy: f64 = mine.iter().map(|c| c.busy_s).sum();
        let offered_rate = published as f64 / (horizon_s / scale).max(1e-9);
        queues.push(QueueReport {
            name: q.name.clone(),
            consumers,
            offered_rate: one(offered_rate),
            throughput: one(completed_in_window as f64 / window_s),
            loss_probability: one(if offered > 0 { dropped as f64 / offered as f64 } else { 0.0 }),
            wait_s: Latency::from_histogram(&wait, None),
            sojourn_s: Latency::from_histogram(&sojourn, None),
            // The server does not report its ready length over time to a client: Little's
            // law on the measured waits (messages waiting, prefetch buffers included).
            queue_length: QueueLength {
                mean: completed_in_window as f64 / window_s * wait.mean().unwrap_or(0.0),
                ci95: None,
                max: left[qi],
            },
            utilization: one(if consumers > 0 {
                busy / (window_real * f64::from(consumers))
            } else {
                0.0
            }),
            counts,
            expire_probability: None,
            drain_time_s: None,
            by_priority: None,
        });
    }
    let producers = model
        .producers
        .iter()
        .zip(pubs)
        .map(|(p, r)| ProducerReport {
            name: p.name.clone(),
            published: r.published,
            unroutable: u64::from(p.routes.is_empty()) * r.published,
        })
        .collect();
    let end_to_end_s = model
        .producers
        .iter()
        .enumerate()
        .map(|(pi, p)| {
            let mut h = LatencyHistogram::new();
            for c in cons {
                h.merge(&c.end_to_end[pi]);
            }
            EndToEnd {
                producer: p.name.clone(),
                completed: h.count(),
                latency: Latency::from_histogram(&h, None),
            }
        })
        .collect();
    let services: u64 = cons.iter().map(|c| c.services).sum();
    let published: u64 = pubs.iter().map(|p| p.published).sum();
    let (actual, intended): (f64, f64) = cons
        .iter()
        .map(|c| (c.service_actual_s, c.service_intended_s))
        .fold((0.0, 0.0), |a, b| (a.0 + b.0, a.1 + b.1));
    let _ = confirms;
    Ok(RunReport {
        scenario: model.name.clone(),
        backend: "rabbitmq".into(),
        seed: model.simulation.seed,
        replications: 1,
        horizon_s: horizon_s / scale,
        warmup_s: frame.warm.saturating_duration_since(frame.t0).as_secs_f64() / scale,
        time_scale: Some(scale),
        queues,
        producers,
        end_to_end_s,
        topics: Vec::new(),
        timing: Some(Timing {
            time_scale: scale,
            service_error_mean: if services > 0 {
                cons.iter().map(|c| c.service_error_sum).sum::<f64>() / services as f64
            } else {
                0.0
            },
            service_error_total: if intended > 0.0 { actual / intended - 1.0 } else { 0.0 },
            arrival_error_mean: if published > 0 {
                pubs.iter().map(|p| p.lateness_s).sum::<f64>() / published as f64 / scale
            } else {
                0.0
            },
            late_publishes: pubs.iter().map(|p| p.late).sum(),
        }),
        partial,
        replications_requested: None,
        horizon_requested_s: None,
        server: Some(server.clone()),
        precision_reached: None,
        precision: None,
        timeline: None,
    })
}

fn one(mean: f64) -> MeanCi {
    MeanCi { mean, ci95: None }
}
