//! The in-process load generator: signed bodies from [`super::bodies`], keep-alive HTTP/1.1
//! connections (hyper's connection-level client, no pool), a closed loop for throughput and an open loop at a fixed
//! rate for latency.
//!
//! The open loop measures each request from its *intended* send time, so a server stall shows up
//! in the latency of every request scheduled during it (no coordinated omission). Intended times
//! come from a dedicated OS thread that sleeps with `std::thread::sleep` (tens of microseconds of
//! slack) rather than tokio's 1 ms timer wheel.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, anyhow};
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::client::conn::http1::SendRequest;
use hyper::header::{CONTENT_TYPE, HOST, HeaderValue, USER_AGENT};
use hyper::{Method, Request};
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;
use tokio::sync::{Mutex, mpsc};
use tokio::task::JoinSet;

use super::bodies::Bodies;
use super::stats::{PhaseStats, Reservoir};

/// Where and what to send.
#[derive(Debug)]
pub struct Target {
    pub addr: SocketAddr,
    pub host: HeaderValue,
    pub path: String,
    pub event: HeaderValue,
    pub bodies: Arc<Bodies>,
    /// Upper bound on one request's round trip before it counts as an error.
    pub request_timeout: Duration,
    /// Index of the next delivery; shared by every phase against this target, so no phase
    /// re-sends a run state an earlier one delivered.
    next: AtomicU64,
}

impl Target {
    pub fn new(addr: SocketAddr, path: &str, event: &str, bodies: Arc<Bodies>) -> anyhow::Result<Self> {
        Ok(Self {
            addr,
            host: HeaderValue::from_str(&addr.to_string())?,
            path: path.to_owned(),
            event: HeaderValue::from_str(event)?,
            bodies,
            request_timeout: Duration::from_secs(30),
            next: AtomicU64::new(0),
        })
    }

    /// The next delivery: its body, signature and the given delivery id.
    fn next_request(&self, delivery: &str) -> anyhow::Result<Request<Full<Bytes>>> {
        let signed = self.bodies.get(self.next.fetch_add(1, Ordering::Relaxed))?;
        let req = Request::builder()
            .method(Method::POST)
            .uri(self.path.as_str())
            .header(HOST, self.host.clone())
            .header(USER_AGENT, "GitHub-Hookshot/aetherveil-bench")
            .header(CONTENT_TYPE, "application/json")
            .header("x-github-event", self.event.clone())
            .header("x-github-delivery", delivery)
            .header("x-hub-signature-256", signed.signature)
            .body(Full::new(signed.body))?;
        Ok(req)
    }
}

type Sender = SendRequest<Full<Bytes>>;

async fn connect(addr: SocketAddr) -> anyhow::Result<Sender> {
    let stream = TcpStream::connect(addr).await?;
    stream.set_nodelay(true)?;
    let (sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream)).await?;
    // The connection task ends when the sender is dropped or the peer closes; its error (if any)
    // surfaces on the next send, where it is counted.
    tokio::spawn(async move {
        if let Err(e) = conn.await {
            tracing::debug!("bench connection closed: {e}");
        }
    });
    Ok(sender)
}

/// Opens `n` connections before a phase's clock starts, so connects are not billed to requests.
async fn open_connections(addr: SocketAddr, n: usize) -> anyhow::Result<Vec<Option<Sender>>> {
    let mut slots = Vec::with_capacity(n);
    for _ in 0..n {
        slots.push(Some(connect(addr).await.context("opening connections")?));
    }
    Ok(slots)
}

const DUPLICATE: &[u8] = b"\"duplicate\"";

/// What came back for one request.
struct Answer {
    status: u16,
    /// The body reported the `duplicate` outcome.
    duplicate: bool,
}

/// Sends one request on `slot` (connecting first if needed) and reads the whole response.
async fn round_trip(slot: &mut Option<Sender>, target: &Target, req: Request<Full<Bytes>>) -> anyhow::Result<Answer> {
    let attempt = async {
        if slot.as_ref().is_none_or(|s| s.is_closed()) {
            *slot = Some(connect(target.addr).await.context("connect")?);
        }
        let sender = slot.as_mut().ok_or_else(|| anyhow!("no connection"))?;
        sender.ready().await.context("connection not ready")?;
        let resp = sender.send_request(req).await.context("send")?;
        let status = resp.status().as_u16();
        let body = resp.into_body().collect().await.context("read body")?.to_bytes();
        // Every delivery id is fresh, so a `duplicate` outcome means the server got it wrong.
        let duplicate = body.windows(DUPLICATE.len()).any(|w| w == DUPLICATE);
        anyhow::Ok(Answer { status, duplicate })
    };
    let result = match tokio::time::timeout(target.request_timeout, attempt).await {
        Ok(r) => r,
        Err(_) => Err(anyhow!("no answer within {:?}", target.request_timeout)),
    };
    if result.is_err() {
        *slot = None;
    }
    result
}

fn record(
    stats: &mut PhaseStats,
    sample: &mut Reservoir,
    result: anyhow::Result<Answer>,
    latency: Duration,
    delivery: &str,
) {
    match result {
        Ok(answer) => {
            stats.latencies_us.push(u32::try_from(latency.as_micros()).unwrap_or(u32::MAX));
            if !(200..300).contains(&answer.status) {
                *stats.non_2xx.entry(answer.status).or_default() += 1;
            } else if answer.duplicate {
                stats.duplicates += 1;
            } else {
                stats.ok += 1;
                sample.offer(|| delivery.to_owned());
            }
        }
        Err(e) => {
            stats.errors += 1;
            if stats.first_error.is_none() {
                stats.first_error = Some(format!("{e:#}"));
            }
        }
    }
}

/// Closed loop: `connections` keep-alive connections, each sending its next request as soon as
/// the previous answer arrives, for `duration`. Requests still in flight at the end are waited
/// for and counted; `elapsed` runs until the last of them.
pub async fn closed_loop(
    target: Arc<Target>,
    connections: usize,
    duration: Duration,
    sample_size: usize,
) -> anyhow::Result<PhaseStats> {
    let slots = open_connections(target.addr, connections).await?;
    let start = Instant::now();
    let stop_at = start + duration;
    let mut set = JoinSet::new();
    for (w, mut slot) in slots.into_iter().enumerate() {
        let target = Arc::clone(&target);
        set.spawn(async move {
            let mut stats = PhaseStats::default();
            let mut sample = Reservoir::new(sample_size, 0x9e37_79b9 ^ (w as u64 + 1) << 20);
            while Instant::now() < stop_at {
                let delivery = uuid::Uuid::new_v4().hyphenated().to_string();
                let req = target.next_request(&delivery)?;
                let t = Instant::now();
                let result = round_trip(&mut slot, &target, req).await;
                let failed = result.is_err();
                record(&mut stats, &mut sample, result, t.elapsed(), &delivery);
                if failed {
                    // Do not spin on a dead server; the loop is bounded by `stop_at` anyway.
                    tokio::time::sleep(Duration::from_millis(10)).await;
                }
            }
            stats.acked_sample = sample.items;
            anyhow::Ok(stats)
        });
    }
    let mut total = PhaseStats::default();
    while let Some(joined) = set.join_next().await {
        total.merge(joined.context("load worker panicked")??);
    }
    total.elapsed = start.elapsed();
    Ok(total)
}

/// Open loop: requests are due at `rate` per second for `duration`, whatever the server does;
/// `connections` workers take the next due request, and each request's latency runs from its
/// due time to its answer. Requests not sent by `duration + drain` are abandoned (counted).
pub async fn open_loop(
    target: Arc<Target>,
    connections: usize,
    rate: f64,
    duration: Duration,
    drain: Duration,
    sample_size: usize,
) -> anyhow::Result<PhaseStats> {
    let total_jobs = (rate * duration.as_secs_f64()).round() as u64;
    let interval = Duration::from_secs_f64(1.0 / rate);
    let slots = open_connections(target.addr, connections).await?;
    let (tx, rx) = mpsc::unbounded_channel::<Instant>();
    let rx = Arc::new(Mutex::new(rx));
    let start = Instant::now() + Duration::from_millis(20);
    let hard_deadline = start + duration + drain;

    // The pacer: an OS thread, so due times are kept to tens of microseconds.
    let pacer = std::thread::Builder::new()
        .name("bench-pacer".into())
        .spawn(move || {
            for i in 0..total_jobs {
                let due = start + interval.mul_f64(i as f64);
                let now = Instant::now();
                if due > now {
                    std::thread::sleep(due - now);
                }
                if tx.send(due).is_err() {
                    return; // the workers are gone (error or interrupt)
                }
            }
        })
        .context("starting the pacer thread")?;

    let mut set = JoinSet::new();
    for (w, mut slot) in slots.into_iter().enumerate() {
        let target = Arc::clone(&target);
        let rx = Arc::clone(&rx);
        set.spawn(async move {
            let mut stats = PhaseStats::default();
            let mut sample = Reservoir::new(sample_size, 0x85eb_ca6b ^ (w as u64 + 1) << 24);
            let mut last_done = start;
            loop {
                let job = rx.lock().await.recv().await;
                let Some(due) = job else { break };
                if Instant::now() >= hard_deadline {
                    stats.abandoned += 1;
                    continue;
                }
                let delivery = uuid::Uuid::new_v4().hyphenated().to_string();
                let req = target.next_request(&delivery)?;
                let result = round_trip(&mut slot, &target, req).await;
                last_done = Instant::now();
                record(&mut stats, &mut sample, result, last_done - due, &delivery);
            }
            stats.acked_sample = sample.items;
            stats.elapsed = last_done.saturating_duration_since(start);
            anyhow::Ok(stats)
        });
    }
    let mut total = PhaseStats::default();
    let mut elapsed = Duration::ZERO;
    while let Some(joined) = set.join_next().await {
        let s = joined.context("load worker panicked")??;
        elapsed = elapsed.max(s.elapsed);
        total.merge(s);
    }
    total.elapsed = elapsed.max(duration);
    if pacer.join().is_err() {
        return Err(anyhow!("the pacer thread panicked"));
    }
    Ok(total)
}

/// `GET {prefix}{id}` for each id on one keep-alive connection; returns how many answered 200,
/// and the other outcomes seen.
pub async fn verify(addr: SocketAddr, prefix: &str, ids: &[String]) -> anyhow::Result<(usize, Vec<String>)> {
    let host = HeaderValue::from_str(&addr.to_string())?;
    let mut slot: Option<SendRequest<Full<Bytes>>> = None;
    let mut ok = 0;
    let mut problems = Vec::new();
    for id in ids {
        let req = Request::builder()
            .method(Method::GET)
            .uri(format!("{prefix}{id}"))
            .header(HOST, host.clone())
            .body(Full::new(Bytes::new()))?;
        let attempt = async {
            if slot.as_ref().is_none_or(|s| s.is_closed()) {
                slot = Some(connect(addr).await?);
            }
            let sender = slot.as_mut().ok_or_else(|| anyhow!("no connection"))?;
            sender.ready().await?;
            let resp = sender.send_request(req).await?;
            let status = resp.status().as_u16();
            let body = resp.into_body().collect().await?.to_bytes();
            anyhow::Ok((status, body))
        };
        match tokio::time::timeout(Duration::from_secs(10), attempt).await {
            Ok(Ok((200, _))) => ok += 1,
            Ok(Ok((code, body))) => {
                slot = None;
                let text = String::from_utf8_lossy(&body[..body.len().min(200)]).into_owned();
                problems.push(format!("{id}: HTTP {code} {text}"));
            }
            Ok(Err(e)) => {
                slot = None;
                problems.push(format!("{id}: {e:#}"));
            }
            Err(_) => {
                slot = None;
                problems.push(format!("{id}: timed out"));
            }
        }
    }
    Ok((ok, problems))
}
