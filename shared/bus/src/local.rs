//! The embedded bus over the SQLite outbox.

use crate::{Bus, BusError, Delivery, Handler, HandlerError, Message};
use aetherveil_models::names;
use aetherveil_store::sqlite::{EncodedOp, apply_op, now_millis};
use aetherveil_store::{Precondition, SqliteStore, Store, StoreError, WriteBatch, WriteOp};
use async_trait::async_trait;
use rusqlite::{Connection, OptionalExtension, params};
use serde::Serialize;
use serde_json::json;
use std::collections::{BTreeMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::runtime::Handle;
use tokio::sync::watch;
use tokio::task::JoinSet;

/// Messages read from the outbox per dispatch round.
const BATCH: usize = 256;
/// How long a woken dispatcher waits for more messages before a round.
const GATHER: Duration = Duration::from_millis(5);
/// Due retries taken per round.
const RETRY_BATCH: usize = 64;
/// Retry with exponential backoff: attempt n waits `initial * 2^(n-1)`, capped at `max`.
/// After `max_attempts` deliveries the message is dead-lettered.
#[derive(Debug, Clone, Copy)]
pub struct RetryPolicy {
    pub max_attempts: u32,
    pub initial_backoff: Duration,
    pub max_backoff: Duration,
    /// Delivered messages older than this are pruned from the outbox.
    pub retention: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            max_attempts: 8,
            initial_backoff: Duration::from_millis(500),
            max_backoff: Duration::from_secs(300),
            retention: Duration::from_secs(7 * 24 * 3600),
        }
    }
}

impl RetryPolicy {
    pub fn backoff(&self, attempt: u32) -> Duration {
        let factor = 1u32.checked_shl(attempt.saturating_sub(1)).unwrap_or(u32::MAX);
        self.initial_backoff.saturating_mul(factor).min(self.max_backoff)
    }
}

#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct SubscriptionStats {
    pub subscription: String,
    pub topic: String,
    /// Messages published on the topic that the subscription has not reached yet.
    pub backlog: u64,
    /// Messages waiting for a retry.
    pub retrying: u64,
}

struct Inner {
    store: SqliteStore,
    policy: RetryPolicy,
    subscriptions: Mutex<HashSet<String>>,
    tasks: Mutex<JoinSet<()>>,
    /// Where the dispatchers (and so the handlers) run; the caller's runtime if `None`.
    runtime: Option<Handle>,
    stop: watch::Sender<bool>,
}

/// The embedded [`Bus`]. Cheap to clone.
#[derive(Clone)]
pub struct LocalBus {
    inner: Arc<Inner>,
}

impl LocalBus {
    pub fn new(store: SqliteStore, policy: RetryPolicy) -> Self {
        Self::start(store, policy, None)
    }

    /// A bus whose handlers run on `runtime` (for example a background one, see
    /// `aetherveil_runtime::background`).
    pub fn on_runtime(store: SqliteStore, policy: RetryPolicy, runtime: Handle) -> Self {
        Self::start(store, policy, Some(runtime))
    }

    fn start(store: SqliteStore, policy: RetryPolicy, runtime: Option<Handle>) -> Self {
        let (stop, _) = watch::channel(false);
        let bus = Self {
            inner: Arc::new(Inner {
                store,
                policy,
                subscriptions: Mutex::new(HashSet::new()),
                tasks: Mutex::new(JoinSet::new()),
                runtime,
                stop,
            }),
        };
        bus.spawn(prune_loop(bus.inner.clone()));
        bus
    }

    fn spawn(&self, fut: impl std::future::Future<Output = ()> + Send + 'static) {
        if let Ok(mut tasks) = self.inner.tasks.lock() {
            match &self.inner.runtime {
                Some(runtime) => tasks.spawn_on(fut, runtime),
                None => tasks.spawn(fut),
            };
        }
    }
}

#[async_trait]
impl Bus for LocalBus {
    async fn publish(&self, message: Message) -> Result<bool, BusError> {
        let applied = self.inner.store.commit(WriteBatch::new().publish(message)).await?;
        Ok(applied.first().copied().unwrap_or(false))
    }

    fn subscribe(&self, subscription: &str, topic: &str, handler: Arc<dyn Handler>) -> Result<(), BusError> {
        if *self.inner.stop.borrow() {
            return Err(BusError::Closed);
        }
        let mut subs = self.inner.subscriptions.lock().map_err(|_| BusError::Closed)?;
        if !subs.insert(subscription.to_owned()) {
            return Err(BusError::DuplicateSubscription(subscription.to_owned()));
        }
        let dispatcher = Dispatcher {
            inner: self.inner.clone(),
            subscription: subscription.to_owned(),
            topic: topic.to_owned(),
            handler,
        };
        self.spawn(dispatcher.run());
        Ok(())
    }

    async fn stats(&self) -> Result<Vec<SubscriptionStats>, BusError> {
        let stats = self
            .inner
            .store
            .read(|conn| {
                let mut stmt = conn.prepare_cached(
                    "SELECT c.subscription, c.topic,
                        (SELECT COUNT(*) FROM outbox o WHERE o.topic = c.topic AND o.seq > c.seq),
                        (SELECT COUNT(*) FROM bus_retries r WHERE r.subscription = c.subscription)
                     FROM bus_cursors c ORDER BY c.subscription",
                )?;
                let rows = stmt.query_map([], |r| {
                    Ok(SubscriptionStats {
                        subscription: r.get(0)?,
                        topic: r.get(1)?,
                        backlog: r.get::<_, i64>(2)? as u64,
                        retrying: r.get::<_, i64>(3)? as u64,
                    })
                })?;
                Ok(rows.collect::<Result<Vec<_>, _>>()?)
            })
            .await?;
        Ok(stats)
    }

    async fn shutdown(&self) {
        self.inner.stop.send_replace(true);
        // Unfinished rounds move no cursor: their messages come again after a restart, as after
        // a crash.
        crate::stop_tasks(&self.inner.tasks, "they will be delivered again after a restart").await;
    }
}

struct Pending {
    seq: i64,
    attempts: u32,
    message: Message,
}

enum Verdict {
    Done,
    Retry(String),
    Dead(String),
}

struct Dispatcher {
    inner: Arc<Inner>,
    subscription: String,
    topic: String,
    handler: Arc<dyn Handler>,
}

fn read_message(r: &rusqlite::Row<'_>, offset: usize) -> rusqlite::Result<Message> {
    let attributes: String = r.get(offset + 2)?;
    Ok(Message {
        id: r.get(offset)?,
        topic: r.get(offset + 1)?,
        attributes: serde_json::from_str::<BTreeMap<String, String>>(&attributes).unwrap_or_default(),
        key: r.get(offset + 3)?,
        data: r.get(offset + 4)?,
    })
}

impl Dispatcher {
    async fn run(self) {
        let mut published = self.inner.store.outbox_watch();
        let mut stop = self.inner.stop.subscribe();
        if let Err(e) = self.ensure_cursor().await {
            tracing::error!(subscription = %self.subscription, error = %e, "cannot register subscription");
            return;
        }
        loop {
            if *stop.borrow() {
                break;
            }
            let worked = match self.round().await {
                Ok(worked) => worked,
                Err(e) => {
                    tracing::error!(subscription = %self.subscription, error = %e, "dispatch round failed");
                    false
                }
            };
            if worked {
                continue;
            }
            let wait = self.next_retry_in().await.unwrap_or(Duration::from_secs(1)).min(Duration::from_secs(1));
            tokio::select! {
                _ = published.changed() => {
                    // Let a few more publishes land so one round (one read, one cursor write)
                    // carries them all, instead of one round per message under a trickle.
                    tokio::time::sleep(GATHER).await;
                }
                _ = stop.changed() => {}
                _ = tokio::time::sleep(wait) => {}
            }
        }
    }

    async fn ensure_cursor(&self) -> Result<(), StoreError> {
        let (sub, topic) = (self.subscription.clone(), self.topic.clone());
        self.inner
            .store
            .write(move |conn| {
                conn.execute(
                    "INSERT INTO bus_cursors (subscription, topic, seq) VALUES (?1, ?2, 0)
                     ON CONFLICT (subscription) DO UPDATE SET topic = excluded.topic",
                    params![sub, topic],
                )?;
                Ok(())
            })
            .await
    }

    /// One dispatch round: new messages, then due retries. Returns whether it did anything.
    async fn round(&self) -> Result<bool, StoreError> {
        let (sub, topic) = (self.subscription.clone(), self.topic.clone());
        let now = now_millis();
        let (fresh, due) = self
            .inner
            .store
            .read(move |conn| {
                let cursor: i64 = conn
                    .prepare_cached("SELECT seq FROM bus_cursors WHERE subscription = ?1")?
                    .query_row(params![sub], |r| r.get(0))
                    .optional()?
                    .unwrap_or(0);
                let mut stmt = conn.prepare_cached(
                    "SELECT seq, id, topic, attributes, key, data FROM outbox WHERE topic = ?1 AND seq > ?2 ORDER BY seq LIMIT ?3",
                )?;
                let fresh = stmt
                    .query_map(params![topic, cursor, BATCH as i64], |r| {
                        Ok(Pending { seq: r.get(0)?, attempts: 0, message: read_message(r, 1)? })
                    })?
                    .collect::<Result<Vec<_>, _>>()?;
                let mut stmt = conn.prepare_cached(
                    "SELECT r.seq, r.attempts, o.id, o.topic, o.attributes, o.key, o.data
                     FROM bus_retries r JOIN outbox o ON o.seq = r.seq
                     WHERE r.subscription = ?1 AND r.next_at <= ?2 ORDER BY r.next_at LIMIT ?3",
                )?;
                let due = stmt
                    .query_map(params![sub, now, RETRY_BATCH as i64], |r| {
                        Ok(Pending { seq: r.get(0)?, attempts: r.get::<_, i64>(1)? as u32, message: read_message(r, 2)? })
                    })?
                    .collect::<Result<Vec<_>, _>>()?;
                Ok((fresh, due))
            })
            .await?;
        if fresh.is_empty() && due.is_empty() {
            return Ok(false);
        }
        let new_cursor = fresh.last().map(|p| p.seq);
        let mut all = fresh;
        all.extend(due);
        let verdicts = self.deliver_all(all).await;
        self.record(new_cursor, verdicts).await?;
        Ok(true)
    }

    /// Delivers a batch: messages with the same ordering key go one after another, in order;
    /// different keys go concurrently.
    async fn deliver_all(&self, batch: Vec<Pending>) -> Vec<(Pending, Verdict)> {
        let mut by_key: BTreeMap<Option<String>, Vec<Pending>> = BTreeMap::new();
        let mut unkeyed = Vec::new();
        for p in batch {
            match p.message.key.clone() {
                Some(k) => by_key.entry(Some(k)).or_default().push(p),
                None => unkeyed.push(vec![p]),
            }
        }
        let mut set = JoinSet::new();
        for group in by_key.into_values().chain(unkeyed) {
            let handler = self.handler.clone();
            let policy = self.inner.policy;
            set.spawn(async move {
                let mut out = Vec::with_capacity(group.len());
                for p in group {
                    let attempt = p.attempts + 1;
                    let delivery = Delivery { message: p.message.clone(), attempt };
                    // Its own task, so a panicking handler fails this message (retried, then
                    // dead-lettered) instead of the whole round.
                    let h = handler.clone();
                    let outcome = tokio::spawn(async move { h.handle(&delivery).await })
                        .await
                        .unwrap_or_else(|e| Err(HandlerError::Retry(format!("handler panicked: {e}"))));
                    let verdict = match outcome {
                        Ok(()) => Verdict::Done,
                        Err(HandlerError::Permanent(e)) => Verdict::Dead(e),
                        Err(HandlerError::Retry(e)) if attempt >= policy.max_attempts => Verdict::Dead(e),
                        Err(HandlerError::Retry(e)) => Verdict::Retry(e),
                    };
                    out.push((Pending { attempts: attempt, ..p }, verdict));
                }
                out
            });
        }
        let mut verdicts = Vec::new();
        while let Some(res) = set.join_next().await {
            match res {
                Ok(v) => verdicts.extend(v),
                // Handlers cannot take a group down (see above); if a group task fails anyway,
                // acknowledge nothing, so every message of the round is delivered again.
                Err(e) => {
                    tracing::error!(subscription = %self.subscription, error = %e, "dispatch task failed; not acknowledging");
                    return Vec::new();
                }
            }
        }
        verdicts
    }

    async fn record(&self, new_cursor: Option<i64>, verdicts: Vec<(Pending, Verdict)>) -> Result<(), StoreError> {
        if verdicts.is_empty() && new_cursor.is_some() {
            // Nothing was acknowledged (a handler panicked): leave the cursor for redelivery.
            return Ok(());
        }
        let sub = self.subscription.clone();
        let policy = self.inner.policy;
        self.inner
            .store
            .write(move |conn| {
                let now = now_millis();
                for (p, verdict) in &verdicts {
                    match verdict {
                        Verdict::Done => clear_retry(conn, &sub, p.seq)?,
                        Verdict::Retry(error) => {
                            let next_at = now + policy.backoff(p.attempts).as_millis() as i64;
                            conn.prepare_cached(
                                "INSERT INTO bus_retries (subscription, seq, attempts, next_at, last_error)
                                 VALUES (?1, ?2, ?3, ?4, ?5)
                                 ON CONFLICT (subscription, seq) DO UPDATE SET attempts = excluded.attempts,
                                 next_at = excluded.next_at, last_error = excluded.last_error",
                            )?
                            .execute(params![sub, p.seq, p.attempts as i64, next_at, error])?;
                            tracing::warn!(subscription = %sub, message = %p.message.id, attempt = p.attempts, error = %error, "delivery failed; will retry");
                        }
                        Verdict::Dead(error) => {
                            dead_letter(conn, &sub, p, error, now)?;
                            clear_retry(conn, &sub, p.seq)?;
                        }
                    }
                }
                if let Some(seq) = new_cursor {
                    conn.prepare_cached("UPDATE bus_cursors SET seq = MAX(seq, ?2) WHERE subscription = ?1")?
                        .execute(params![sub, seq])?;
                }
                Ok(())
            })
            .await
    }

    async fn next_retry_in(&self) -> Option<Duration> {
        let sub = self.subscription.clone();
        let next: Option<i64> = self
            .inner
            .store
            .read(move |conn| {
                Ok(conn
                    .prepare_cached("SELECT MIN(next_at) FROM bus_retries WHERE subscription = ?1")?
                    .query_row(params![sub], |r| r.get(0))?)
            })
            .await
            .ok()
            .flatten();
        next.map(|at| Duration::from_millis((at - now_millis()).max(0) as u64))
    }
}

fn clear_retry(conn: &Connection, sub: &str, seq: i64) -> Result<(), StoreError> {
    conn.prepare_cached("DELETE FROM bus_retries WHERE subscription = ?1 AND seq = ?2")?.execute(params![sub, seq])?;
    Ok(())
}

fn dead_letter(conn: &Connection, sub: &str, p: &Pending, error: &str, now: i64) -> Result<(), StoreError> {
    tracing::error!(subscription = %sub, message = %p.message.id, attempts = p.attempts, error = %error, "message dead-lettered");
    let data = match std::str::from_utf8(&p.message.data) {
        Ok(text) => json!({"text": text}),
        Err(_) => json!({"base64_len": p.message.data.len()}),
    };
    let doc = json!({
        "subscription": sub,
        "topic": p.message.topic,
        "message_id": p.message.id,
        "key": p.message.key,
        "attributes": p.message.attributes,
        "seq": p.seq,
        "attempts": p.attempts,
        "last_error": error,
        "failed_at_ms": now,
        "data": data,
    });
    let op = WriteOp::Put {
        collection: names::DEAD_LETTERS.into(),
        id: format!("{sub}:{}", p.message.id),
        data: doc,
        precondition: Precondition::None,
    };
    apply_op(conn, &EncodedOp::new(op)?, now)?;
    Ok(())
}

/// Prunes outbox messages every subscription has passed, once older than the retention.
async fn prune_loop(inner: Arc<Inner>) {
    let mut stop = inner.stop.subscribe();
    loop {
        tokio::select! {
            _ = stop.changed() => return,
            _ = tokio::time::sleep(Duration::from_secs(60)) => {}
        }
        let cutoff = now_millis() - inner.policy.retention.as_millis() as i64;
        let res = inner
            .store
            .write(move |conn| {
                Ok(conn.execute(
                    "DELETE FROM outbox WHERE published_at < ?1
                     AND seq <= COALESCE((SELECT MIN(c.seq) FROM bus_cursors c WHERE c.topic = outbox.topic), seq)
                     AND seq NOT IN (SELECT seq FROM bus_retries)",
                    params![cutoff],
                )?)
            })
            .await;
        match res {
            Ok(0) => {}
            Ok(n) => tracing::debug!(pruned = n, "pruned delivered outbox messages"),
            Err(e) => tracing::warn!(error = %e, "outbox pruning failed"),
        }
    }
}
