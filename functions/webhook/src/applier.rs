//! The ingest log's second half: applies acknowledged deliveries to the store in large batches.
//!
//! Each chunk of records (up to [`CHUNK_RECORDS`]) is read and normalized on a blocking thread,
//! then committed as one write batch per delivery, all sent at once so the embedded store's
//! writer takes them in a few group commits: the raw body, the final outcome, the records and the
//! pipeline event, as inline intake commits them. Redeliveries in the chunk are counted after.
//! Only then does the log move its applied position past the chunk and forget its deliveries.
//!
//! Applying is idempotent, so a crash anywhere loses and doubles nothing: a delivery already in
//! the store with the same raw key was applied before the crash (skipped); with another raw key it
//! is a redelivery that raced the log's pending check (counted). A redelivery is counted only if
//! it is newer than the record's `last_redelivery_at`.

use crate::ingest::{IngestError, IngestLog, Kind, Record};
use crate::{Arrival, event_label, normalize, normalized_batch};
use aetherveil_models::github::EventType;
use aetherveil_models::{DeliveryId, Outcome, names};
use aetherveil_runtime::Metrics;
use aetherveil_runtime::metrics::Counter;
use aetherveil_store::{Precondition, Store, StoreError, WriteBatch};
use chrono::{DateTime, Utc};
use futures_util::future::join_all;
use serde_json::json;
use std::sync::Arc;
use std::time::Duration;

/// Records applied per chunk.
pub const CHUNK_RECORDS: usize = 1024;
/// The wait before a chunk that failed is tried again.
const RETRY_AFTER: Duration = Duration::from_secs(1);

#[derive(Debug, thiserror::Error)]
enum ApplyError {
    #[error(transparent)]
    Log(#[from] IngestError),
    #[error("store: {0}")]
    Store(#[from] StoreError),
    #[error("blocking task: {0}")]
    Task(String),
}

pub struct Applier {
    log: IngestLog,
    store: Arc<dyn Store>,
    metrics: Arc<Metrics>,
}

/// A delivery record, normalized: what it is and its batch.
struct Prepared {
    delivered: Delivered,
    batch: WriteBatch,
}

struct Delivered {
    delivery_id: String,
    event: String,
    received_at: DateTime<Utc>,
    raw_key: String,
    outcome: &'static str,
}

impl Applier {
    /// `store` should be a handle whose writes yield to acknowledgements and API calls (the
    /// embedded store's background lane).
    pub fn new(log: IngestLog, store: Arc<dyn Store>, metrics: Arc<Metrics>) -> Self {
        Self { log, store, metrics }
    }

    /// Applies the log as it grows, until the task is dropped.
    pub async fn run(self) {
        let mut written = self.log.written();
        loop {
            let to = *written.borrow_and_update();
            let from = self.log.applied();
            if from >= to {
                if written.changed().await.is_err() {
                    return; // the log's writer is gone
                }
                continue;
            }
            if let Err(e) = self.apply_chunk(from, to).await {
                tracing::error!(error = %e, position = from, "cannot apply the ingest log; trying again");
                tokio::time::sleep(RETRY_AFTER).await;
            }
        }
    }

    /// Applies everything written so far.
    pub async fn drain(&self) -> Result<(), String> {
        loop {
            let to = *self.log.written().borrow();
            let from = self.log.applied();
            if from >= to {
                return Ok(());
            }
            self.apply_chunk(from, to).await.map_err(|e| e.to_string())?;
        }
    }

    async fn apply_chunk(&self, from: u64, to: u64) -> Result<(), ApplyError> {
        let log = self.log.clone();
        let (records, prepared) = tokio::task::spawn_blocking(move || {
            let mut records = log.read(from, to, CHUNK_RECORDS)?;
            let prepared: Vec<Prepared> = records.iter_mut().filter_map(prepare).collect();
            Ok::<_, IngestError>((records, prepared))
        })
        .await
        .map_err(|e| ApplyError::Task(e.to_string()))??;
        let Some(end) = records.last().map(|r| r.end) else {
            return Ok(());
        };
        // Sent in log order, so the writer commits (and the outbox publishes) in that order.
        let (delivered, batches): (Vec<Delivered>, Vec<WriteBatch>) =
            prepared.into_iter().map(|p| (p.delivered, p.batch)).unzip();
        let results = join_all(batches.into_iter().map(|b| self.store.commit(b))).await;
        let mut failed = None;
        for (p, result) in delivered.iter().zip(results) {
            match result {
                Ok(_) => self
                    .metrics
                    .inc(Counter::WebhookNormalized, &[("outcome", p.outcome), ("event", event_label(&p.event))]),
                Err(StoreError::Conflict { .. }) => self.settle_conflict(p).await?,
                Err(e) => failed = Some(e),
            }
        }
        if let Some(e) = failed {
            return Err(e.into()); // the chunk is tried again; what was committed is skipped then
        }
        for r in records.iter().filter(|r| r.kind == Kind::Redelivery) {
            self.count_redelivery(&r.delivery_id, r.received_at).await?;
        }
        let ids: Vec<&str> =
            records.iter().filter(|r| r.kind == Kind::Delivery).map(|r| r.delivery_id.as_str()).collect();
        self.log.mark_applied(end, &ids)?;
        Ok(())
    }

    /// A delivery already in the store: applied before a crash (same raw key), or a redelivery
    /// that raced the log's pending check (counted as one).
    async fn settle_conflict(&self, p: &Delivered) -> Result<(), ApplyError> {
        let stored = self.store.get(names::DELIVERIES, &p.delivery_id).await?;
        if stored.as_ref().is_some_and(|d| d.data["raw_key"] != p.raw_key.as_str()) {
            self.count_redelivery(&p.delivery_id, p.received_at).await?;
            let labels = [("outcome", Outcome::Duplicate.label()), ("event", event_label(&p.event))];
            self.metrics.inc(Counter::WebhookNormalized, &labels);
        }
        Ok(())
    }

    async fn count_redelivery(&self, id: &str, at: DateTime<Utc>) -> Result<(), ApplyError> {
        aetherveil_store::update(self.store.as_ref(), names::DELIVERIES, id, |cur| {
            let mut doc = cur.cloned().unwrap_or_else(|| json!({"delivery_id": id}));
            let last = doc["last_redelivery_at"].as_str().and_then(|t| t.parse::<DateTime<Utc>>().ok());
            if last.is_none_or(|last| last < at) {
                doc["redeliveries"] = json!(doc["redeliveries"].as_u64().unwrap_or(0) + 1);
                doc["last_redelivery_at"] = json!(at);
            }
            doc
        })
        .await?;
        Ok(())
    }
}

/// Normalizes a delivery record into its batch; `None` for a redelivery record, or a delivery
/// whose id or body is unusable (checked before it was acknowledged, so only a bug gets here).
fn prepare(r: &mut Record) -> Option<Prepared> {
    if r.kind != Kind::Delivery {
        return None;
    }
    let Some(id) = DeliveryId::parse(&r.delivery_id) else {
        tracing::error!(delivery = r.delivery_id, "ingest log record with a malformed delivery id; skipped");
        return None;
    };
    let n = match normalize(EventType::from_header(&r.event), &r.event, &id, r.received_at, &r.body) {
        Ok(n) => n,
        Err(e) => {
            tracing::error!(delivery = r.delivery_id, error = %e, "ingest log record that does not parse; skipped");
            return None;
        }
    };
    let arrival = Arrival::new(&r.delivery_id, &r.event, r.received_at, r.body.len());
    let (batch, outcome) = normalized_batch(&arrival, n, Precondition::Absent, None);
    let raw_key = arrival.raw_key;
    let batch = batch.blob(names::RAW_DELIVERIES_BLOBS, &raw_key, std::mem::take(&mut r.body));
    let delivered = Delivered {
        delivery_id: r.delivery_id.clone(),
        event: r.event.clone(),
        received_at: r.received_at,
        raw_key,
        outcome: outcome.label(),
    };
    Some(Prepared { delivered, batch })
}
