//! The webhook's second half with `webhook.intake = "queued"`: reads each acknowledged delivery
//! back from the store, normalizes it, and commits its records, its final outcome and its
//! pipeline event in one batch.
//!
//! Messages on `webhook-intake` arrive at least once. The batch is conditional on the queued
//! record's version, and a record that is no longer `queued` was done before, so a redelivered
//! message or a crash between commit and acknowledgement writes and publishes nothing twice.

use crate::{Arrival, event_label, normalize, normalized_batch};
use aetherveil_bus::{Delivery, Handler, HandlerError};
use aetherveil_models::github::EventType;
use aetherveil_models::{DeliveryId, Outcome, names};
use aetherveil_runtime::Metrics;
use aetherveil_runtime::metrics::Counter;
use aetherveil_store::{Precondition, Store, StoreError};
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use std::sync::Arc;

/// The subscription (and, on Google Cloud, the function) that reads `webhook-intake`.
pub const SUBSCRIPTION: &str = "webhook-normalize";

/// Tries against concurrent redelivery counts before the bus retries the message.
const MAX_TRIES: usize = 16;

pub struct Normalizer {
    store: Arc<dyn Store>,
    metrics: Arc<Metrics>,
}

impl Normalizer {
    /// `store` should be a handle whose writes yield to the webhook's own (the embedded store's
    /// background lane), so that a burst is acknowledged first and normalized after.
    pub fn new(store: Arc<dyn Store>, metrics: Arc<Metrics>) -> Self {
        Self { store, metrics }
    }
}

fn retry(e: StoreError) -> HandlerError {
    HandlerError::Retry(e.to_string())
}

#[async_trait]
impl Handler for Normalizer {
    async fn handle(&self, delivery: &Delivery) -> Result<(), HandlerError> {
        let id = delivery
            .message
            .attributes
            .get("delivery_id")
            .and_then(|id| DeliveryId::parse(id))
            .ok_or_else(|| HandlerError::Permanent("intake message without a valid delivery_id".to_owned()))?;
        for _ in 0..MAX_TRIES {
            let Some(record) = self.store.get(names::DELIVERIES, id.as_str()).await.map_err(retry)? else {
                return Err(HandlerError::Permanent(format!("queued delivery {} has no record", id.as_str())));
            };
            if record.data["outcome"] != Outcome::Queued.label() {
                return Ok(()); // normalized before: this message is a redelivery
            }
            let field = |name: &str| record.data[name].as_str().map(str::to_owned);
            let (Some(event), Some(raw_key), Some(received_at)) =
                (field("event"), field("raw_key"), field("received_at").and_then(|t| t.parse::<DateTime<Utc>>().ok()))
            else {
                return Err(HandlerError::Permanent(format!(
                    "queued delivery {} has an unreadable record",
                    id.as_str()
                )));
            };
            let body =
                self.store.get_blob(names::RAW_DELIVERIES_BLOBS, &raw_key).await.map_err(retry)?.ok_or_else(|| {
                    HandlerError::Permanent(format!("queued delivery {} has no raw body", id.as_str()))
                })?;
            // The webhook checked the syntax before acknowledging, so this parses.
            let n = normalize(EventType::from_header(&event), &event, &id, received_at, &body)
                .map_err(|e| HandlerError::Permanent(format!("queued delivery {}: {e}", id.as_str())))?;
            let arrival = Arrival { id: id.as_str(), event: &event, received_at, body_bytes: body.len(), raw_key };
            let (batch, outcome) =
                normalized_batch(&arrival, n, Precondition::Version(record.version), Some(&record.data));
            match self.store.commit(batch).await {
                Ok(_) => {
                    let labels = [("outcome", outcome.label()), ("event", event_label(&event))];
                    self.metrics.inc(Counter::WebhookNormalized, &labels);
                    return Ok(());
                }
                // A redelivery was counted on the record in between: read it again.
                Err(StoreError::Conflict { .. }) => continue,
                Err(e) => return Err(retry(e)),
            }
        }
        Err(HandlerError::Retry(format!("delivery {} kept changing while it was normalized", id.as_str())))
    }
}
