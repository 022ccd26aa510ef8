//! The outbox relay: publishes the [`aetherveil_store::outbox`] documents a document store wrote
//! inside its transactions (`published: false`), oldest first, and marks them published.
//!
//! Several processes may relay the same outbox. A relay first takes a lease on a document (a
//! write conditioned on the version it read, so one relay wins), publishes, then marks it. A
//! relay that dies after publishing leaves the lease to expire; the next one publishes the same
//! message again, with the same `message_id` attribute, and handlers dedupe. Published documents
//! are kept for the retry policy's retention (they are what dedupes a republished id), then
//! pruned.

use crate::Inner;
use aetherveil_store::{Doc, Op, Order, Precondition, Query, StoreError, WriteBatch, outbox};
use serde_json::json;
use std::sync::Arc;
use std::time::Duration;

/// Outbox documents read per relay round.
pub const BATCH: usize = 100;
/// Field of an outbox document: until when (Unix milliseconds) a relay owns it.
pub const LEASE_FIELD: &str = "lease_until_ms";
/// How often published documents past their retention are pruned.
const PRUNE_EVERY: Duration = Duration::from_secs(600);

pub(crate) fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

pub(crate) fn lease_until(lease: Duration) -> i64 {
    now_ms() + lease.as_millis() as i64
}

pub(crate) async fn run(inner: Arc<Inner>) {
    let mut stop = inner.stop.subscribe();
    let mut last_prune = tokio::time::Instant::now();
    // A full round means more are waiting: the next round starts at once, not after the interval.
    let mut backlog = false;
    loop {
        if !backlog {
            tokio::select! {
                _ = stop.changed() => return,
                _ = tokio::time::sleep(inner.config.relay_interval) => {}
            }
        }
        if inner.stopped() {
            return;
        }
        backlog = false;
        match round(&inner).await {
            Ok(0) => {}
            Ok(n) => {
                backlog = n >= BATCH;
                tracing::debug!(relayed = n, "relayed outbox messages to pub/sub");
            }
            Err(e) => tracing::warn!(error = %e, "outbox relay round failed"),
        }
        if last_prune.elapsed() >= PRUNE_EVERY {
            last_prune = tokio::time::Instant::now();
            if let Err(e) = prune(&inner).await {
                tracing::warn!(error = %e, "outbox pruning failed");
            }
        }
    }
}

/// One relay round; returns how many messages it published. Stops at the first message it
/// cannot publish, so a later message of the same key does not overtake it.
pub(crate) async fn round(inner: &Inner) -> Result<usize, crate::PubsubError> {
    let pending = Query::new().eq("published", false).eq(outbox::ORIGIN_FIELD, inner.config.outbox_origin.clone());
    let docs = inner.store.query(outbox::COLLECTION, pending.order_by("created_at", Order::Asc).limit(BATCH)).await?;
    let mut published = 0;
    for doc in docs {
        if inner.stopped() {
            break;
        }
        if doc.data[LEASE_FIELD].as_i64().unwrap_or(0) > now_ms() {
            continue;
        }
        let Some(data) = claim(inner, &doc).await? else { continue };
        let message = match outbox::from_doc(&doc) {
            Ok(m) => m,
            Err(e) => {
                // It can never be published: set it aside (with the reason) instead of
                // retrying it forever.
                tracing::error!(id = %doc.id, error = %e, "outbox document does not decode; setting it aside");
                let mut data = data;
                data["undecodable"] = json!(e.to_string());
                inner.mark_published(&doc.id, data).await?;
                continue;
            }
        };
        inner.send(&message).await?;
        inner.mark_published(&doc.id, data).await?;
        published += 1;
    }
    Ok(published)
}

/// Takes the lease on `doc`; `None` if another relay took it first.
async fn claim(inner: &Inner, doc: &Doc) -> Result<Option<serde_json::Value>, StoreError> {
    let mut data = doc.data.clone();
    data[LEASE_FIELD] = json!(lease_until(inner.config.relay_lease));
    let batch =
        WriteBatch::new().put_with(outbox::COLLECTION, &doc.id, data.clone(), Precondition::Version(doc.version));
    match inner.store.commit(batch).await {
        Ok(_) => Ok(Some(data)),
        Err(StoreError::Conflict { .. }) => Ok(None),
        Err(e) => Err(e),
    }
}

/// Deletes published documents older than the retention.
async fn prune(inner: &Inner) -> Result<(), StoreError> {
    let retention = chrono::Duration::from_std(inner.config.retry.retention).unwrap_or(chrono::Duration::days(7));
    let cutoff = (chrono::Utc::now() - retention).to_rfc3339_opts(chrono::SecondsFormat::Micros, true);
    let old = inner
        .store
        .query(
            outbox::COLLECTION,
            Query::new()
                .eq("published", true)
                .filter("created_at", Op::Lt, cutoff)
                .order_by("created_at", Order::Asc)
                .limit(BATCH * 5),
        )
        .await?;
    if old.is_empty() {
        return Ok(());
    }
    let n = old.len();
    let batch = old.iter().fold(WriteBatch::new(), |b, d| b.delete(outbox::COLLECTION, &d.id));
    inner.store.commit(batch).await?;
    tracing::debug!(pruned = n, "pruned published outbox documents");
    Ok(())
}
