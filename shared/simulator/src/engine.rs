//! The running simulator: the REST server, the clock that plays the timeline in compressed
//! time, and the senders that post each webhook, signed, to the platform.

use crate::api::{self, ApiState};
use crate::report::Report;
use crate::scenario::Scenario;
use crate::world::{Delivery, World};
use chrono::{DateTime, Utc};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};
use tokio::sync::{Notify, mpsc};

/// How long the report waits for the platform's next diagnosis before scoring what it has.
const DIAGNOSIS_PATIENCE: Duration = Duration::from_secs(20);

#[derive(Debug, Clone)]
pub struct SimOptions {
    /// Where webhooks go (`http://host:port/webhook/github`); `None` plays the scenario without
    /// sending (the REST side still answers).
    pub target: Option<String>,
    pub secret: Vec<u8>,
    /// Address of the simulated REST API (port 0 picks one).
    pub bind: SocketAddr,
    /// Concurrent webhook senders.
    pub connections: usize,
    /// How long to keep serving after the last event, for the platform's late reruns.
    pub drain: Duration,
    /// Where the platform's read API lives (`http://host:port`), for the report's detections.
    pub platform: Option<String>,
}

impl Default for SimOptions {
    fn default() -> Self {
        Self {
            target: None,
            secret: Vec::new(),
            bind: SocketAddr::from(([127, 0, 0, 1], 0)),
            connections: 16,
            drain: Duration::from_secs(3),
            platform: None,
        }
    }
}

/// Maps wall time to simulated time once the clock runs.
pub struct Clock {
    sim_start: DateTime<Utc>,
    compression: f64,
    started: Mutex<Option<Instant>>,
}

impl Clock {
    /// Simulated now (the start, until the clock runs).
    pub fn now(&self) -> DateTime<Utc> {
        let started = *self.started.lock().unwrap_or_else(|e| e.into_inner());
        match started {
            None => self.sim_start,
            Some(t) => {
                let sim_ms = t.elapsed().as_secs_f64() * 1000.0 * self.compression;
                self.sim_start + chrono::Duration::milliseconds(sim_ms as i64)
            }
        }
    }

    /// Wall time left until simulated time `at`.
    fn until(&self, at: DateTime<Utc>) -> Duration {
        let ahead = (at - self.now()).num_milliseconds().max(0) as f64;
        Duration::from_secs_f64(ahead / 1000.0 / self.compression)
    }
}

/// Counters of the webhook side.
#[derive(Default)]
pub struct SendStats {
    pub sent: AtomicU64,
    pub accepted: AtomicU64,
    pub failed: AtomicU64,
    pub retries: AtomicU64,
    pub in_flight: AtomicU64,
}

pub struct Shared {
    pub world: Mutex<World>,
    pub clock: Clock,
    pub wake: Notify,
    pub sends: SendStats,
    pub api: ApiState,
}

impl Shared {
    pub fn world(&self) -> MutexGuard<'_, World> {
        self.world.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// A simulator with its REST API listening. [`Simulator::run`] plays the scenario.
pub struct Simulator {
    shared: Arc<Shared>,
    addr: SocketAddr,
    options: SimOptions,
    server: tokio::task::JoinHandle<()>,
}

/// Where a run stands, for progress lines.
#[derive(Debug, Clone)]
pub struct Progress {
    pub sim_now: DateTime<Utc>,
    pub fraction: f64,
    /// Simulated days played, and in all.
    pub day: f64,
    pub days: f64,
    pub deliveries: u64,
    pub failed_deliveries: u64,
    pub reruns: usize,
}

impl Simulator {
    pub async fn start(scenario: Scenario, options: SimOptions) -> std::io::Result<Self> {
        let compression = scenario.compression();
        let api_settings = scenario.api.clone();
        let world = World::new(scenario, Utc::now());
        let listener = tokio::net::TcpListener::bind(options.bind).await?;
        let addr = listener.local_addr()?;
        let shared = Arc::new(Shared {
            clock: Clock { sim_start: world.sim_start, compression, started: Mutex::new(None) },
            world: Mutex::new(world),
            wake: Notify::new(),
            sends: SendStats::default(),
            api: ApiState::new(api_settings, format!("http://{addr}")),
        });
        let router = api::router(shared.clone());
        let server = tokio::spawn(async move {
            if let Err(e) = axum::serve(listener, router).await {
                tracing::error!(error = %e, "simulated GitHub API stopped");
            }
        });
        Ok(Self { shared, addr, options, server })
    }

    /// Base URL of the simulated REST API (what the platform uses as its GitHub API URL).
    pub fn api_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub fn shared(&self) -> &Arc<Shared> {
        &self.shared
    }

    /// Plays the scenario to its end, serves `drain` longer for late reruns, and reports.
    pub async fn run(&self, mut progress: impl FnMut(&Progress)) -> Report {
        *self.shared.clock.started.lock().unwrap_or_else(|e| e.into_inner()) = Some(Instant::now());
        let wall = Instant::now();
        let (tx, rx) = mpsc::channel::<Delivery>(4096);
        let senders = self.spawn_senders(rx);
        let mut last_progress = Instant::now();
        let mut idle_since: Option<Instant> = None;
        loop {
            let now = self.shared.clock.now();
            let (batch, next) = {
                let mut world = self.shared.world();
                let mut batch = Vec::new();
                while batch.len() < 512 {
                    match world.step(now) {
                        Some(deliveries) => batch.extend(deliveries),
                        None => break,
                    }
                }
                (batch, world.next_at())
            };
            let progressed = !batch.is_empty();
            for d in batch {
                if tx.send(d).await.is_err() {
                    break;
                }
            }
            if last_progress.elapsed() >= Duration::from_secs(5) {
                last_progress = Instant::now();
                progress(&self.progress());
            }
            if progressed {
                idle_since = None;
                continue;
            }
            if let Some(at) = next {
                idle_since = None;
                let wait = self.shared.clock.until(at).min(Duration::from_millis(250));
                tokio::select! {
                    _ = tokio::time::sleep(wait) => {}
                    _ = self.shared.wake.notified() => {}
                }
                continue;
            }
            // Nothing scheduled: let the senders finish, then wait for late reruns.
            let sending = self.shared.sends.in_flight.load(Ordering::Relaxed) > 0 || tx.capacity() < tx.max_capacity();
            if sending {
                tokio::time::sleep(Duration::from_millis(20)).await;
                continue;
            }
            let since = *idle_since.get_or_insert_with(Instant::now);
            if since.elapsed() >= self.options.drain {
                break;
            }
            tokio::select! {
                _ = tokio::time::sleep(Duration::from_millis(100)) => {}
                _ = self.shared.wake.notified() => {}
            }
        }
        drop(tx);
        for s in senders {
            if let Err(e) = s.await {
                tracing::error!(error = %e, "webhook sender stopped abnormally");
            }
        }
        progress(&self.progress());
        let (detections, diagnoses) = match &self.options.platform {
            Some(url) => (crate::report::fetch_detections(url).await, self.wait_for_diagnoses(url).await),
            None => (None, None),
        };
        let world = self.shared.world();
        Report::build(&world, &self.shared, wall.elapsed(), detections, diagnoses)
    }

    /// The platform diagnoses failed jobs after their webhook, fetching logs: wait until every
    /// failed job has a diagnosis, or until no new one arrived for [`DIAGNOSIS_PATIENCE`] (a
    /// quarter of it while there is none at all).
    async fn wait_for_diagnoses(&self, platform: &str) -> Option<Vec<crate::report::Diagnosed>> {
        let (repos, failed): (Vec<String>, usize) = {
            let world = self.shared.world();
            (world.scenario.repos.iter().map(|r| r.name.clone()).collect(), world.failures.len())
        };
        let mut last = (0, Instant::now());
        loop {
            let seen = crate::report::fetch_diagnoses(platform, &repos).await?;
            // A platform that has diagnosed nothing yet is not reading this simulator's logs
            // (its github.api_url points elsewhere): do not make the user wait for nothing.
            let patience = if seen.is_empty() { DIAGNOSIS_PATIENCE / 4 } else { DIAGNOSIS_PATIENCE };
            if seen.len() >= failed || last.1.elapsed() >= patience {
                return Some(seen);
            }
            if seen.len() > last.0 {
                last = (seen.len(), Instant::now());
            }
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
    }

    fn progress(&self) -> Progress {
        let world = self.shared.world();
        let now = self.shared.clock.now();
        let played = (now - world.sim_start).num_milliseconds() as f64;
        let span = (world.sim_end - world.sim_start).num_milliseconds().max(1) as f64;
        Progress {
            sim_now: now,
            fraction: (played / span).clamp(0.0, 1.0),
            day: (played / 86_400_000.0).clamp(0.0, world.scenario.days),
            days: world.scenario.days,
            deliveries: self.shared.sends.sent.load(Ordering::Relaxed),
            failed_deliveries: self.shared.sends.failed.load(Ordering::Relaxed),
            reruns: world.reruns.len(),
        }
    }

    fn spawn_senders(&self, rx: mpsc::Receiver<Delivery>) -> Vec<tokio::task::JoinHandle<()>> {
        let rx = Arc::new(tokio::sync::Mutex::new(rx));
        let client = reqwest::Client::builder()
            .timeout(Duration::from_secs(30))
            .pool_max_idle_per_host(self.options.connections)
            .build()
            .unwrap_or_default();
        (0..self.options.connections.max(1))
            .map(|_| {
                let rx = rx.clone();
                let client = client.clone();
                let shared = self.shared.clone();
                let target = self.options.target.clone();
                let secret = self.options.secret.clone();
                tokio::spawn(async move {
                    loop {
                        let next = rx.lock().await.recv().await;
                        let Some(delivery) = next else { break };
                        shared.sends.in_flight.fetch_add(1, Ordering::Relaxed);
                        if let Some(url) = &target {
                            send(&client, url, &secret, &delivery, &shared.sends).await;
                        }
                        shared.sends.in_flight.fetch_sub(1, Ordering::Relaxed);
                    }
                })
            })
            .collect()
    }

    pub fn shutdown(self) {
        self.server.abort();
    }
}

/// Posts one webhook, signed, retrying (with the same delivery id, as a GitHub redelivery
/// would) while the platform is unreachable or answers 5xx.
async fn send(client: &reqwest::Client, url: &str, secret: &[u8], delivery: &Delivery, stats: &SendStats) {
    let body = match serde_json::to_vec(&delivery.body) {
        Ok(b) => b,
        Err(e) => {
            tracing::error!(error = %e, "cannot serialize a webhook body");
            stats.failed.fetch_add(1, Ordering::Relaxed);
            return;
        }
    };
    let signature = crate::payloads::sign(secret, &body);
    let id = uuid::Uuid::new_v4().to_string();
    stats.sent.fetch_add(1, Ordering::Relaxed);
    let mut backoff = Duration::from_millis(100);
    for attempt in 1..=6 {
        let result = client
            .post(url)
            .header("content-type", "application/json")
            .header("user-agent", "GitHub-Hookshot/aetherveil-sim")
            .header("x-github-event", delivery.event)
            .header("x-github-delivery", &id)
            .header("x-github-hook-id", "424242")
            .header("x-github-hook-installation-target-type", "repository")
            .header("x-hub-signature-256", &signature)
            .body(body.clone())
            .send()
            .await;
        match result {
            Ok(r) if r.status().is_success() => {
                stats.accepted.fetch_add(1, Ordering::Relaxed);
                return;
            }
            Ok(r) if !r.status().is_server_error() => {
                tracing::warn!(status = %r.status(), event = delivery.event, "platform refused a webhook");
                stats.failed.fetch_add(1, Ordering::Relaxed);
                return;
            }
            Ok(r) => tracing::debug!(status = %r.status(), attempt, "webhook answered 5xx; redelivering"),
            Err(e) => tracing::debug!(error = %e, attempt, "webhook not delivered; redelivering"),
        }
        stats.retries.fetch_add(1, Ordering::Relaxed);
        tokio::time::sleep(backoff).await;
        backoff = (backoff * 2).min(Duration::from_secs(3));
    }
    tracing::warn!(event = delivery.event, "webhook given up after 6 attempts");
    stats.failed.fetch_add(1, Ordering::Relaxed);
}
