//! The journal: the consumers' side record of every pipeline event, one document per message
//! id in `events`. It is idempotent (a redelivered message finds its document and is skipped),
//! which is the contract every consumer of the at-least-once bus must keep.

use aetherveil_bus::{Delivery, Handler, HandlerError};
use aetherveil_models::{DeliveryId, RepoName, names};
use aetherveil_runtime::Metrics;
use aetherveil_runtime::metrics::Counter;
use aetherveil_store::Store;
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde::Deserialize;
use serde_json::json;
use std::sync::Arc;

/// The fields of a [`aetherveil_models::PipelineEvent`] the journal keeps; the record itself is
/// skipped unparsed.
#[derive(Deserialize)]
struct Header {
    delivery_id: DeliveryId,
    github_event: String,
    action: Option<String>,
    repo: Option<RepoName>,
    received_at: DateTime<Utc>,
    #[serde(rename = "kind")]
    _kind: String,
}

pub struct Journal {
    pub store: Arc<dyn Store>,
    pub metrics: Arc<Metrics>,
}

#[async_trait]
impl Handler for Journal {
    async fn handle(&self, delivery: &Delivery) -> Result<(), HandlerError> {
        let event: Header = serde_json::from_slice(&delivery.message.data)
            .map_err(|e| HandlerError::Permanent(format!("not a pipeline event: {e}")))?;
        let kind = delivery.message.attributes.get("kind").cloned().unwrap_or_default();
        let doc = json!({
            "message_id": delivery.message.id,
            "delivery_id": event.delivery_id,
            "github_event": event.github_event,
            "action": event.action,
            "repo": event.repo,
            "kind": kind,
            "attempt": delivery.attempt,
            "received_at": event.received_at,
            "journaled_at": Utc::now(),
        });
        let created = self
            .store
            .create(names::EVENTS, &delivery.message.id, doc)
            .await
            .map_err(|e| HandlerError::Retry(e.to_string()))?;
        let label = if created { kind.as_str() } else { "duplicate" };
        self.metrics.inc(Counter::JournalEvents, &[("kind", label)]);
        Ok(())
    }
}
