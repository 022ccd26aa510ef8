//! The webhook function: `POST /webhook/github`.
//!
//! Acknowledge fast, work later. A request is verified, deduplicated, persisted and enqueued in
//! one atomic commit, then answered; no GitHub API call happens here.
//!
//! | request                                  | answer | recorded                           |
//! |------------------------------------------|--------|------------------------------------|
//! | body over `max_body_bytes`               | 413    | metric only (nothing stored)       |
//! | missing or wrong `X-Hub-Signature-256`   | 401    | metric only (nothing stored)       |
//! | missing event header / bad delivery id   | 400    | metric only                        |
//! | JSON that does not parse                 | 400    | metric only, with the parser's reason |
//! | a delivery id already stored             | 200    | `duplicate` (redelivery counted)   |
//! | `ping`                                   | 200    | `processed`                        |
//! | handled event (workflow_run, ...)        | 200    | `processed`, records + event       |
//! | any other event type                     | 202    | `ignored`, raw body kept           |
//!
//! Unauthenticated input is never written to the store, so it cannot fill the disk; it is
//! counted in `aetherveil_webhook_outcomes_total{outcome="rejected",reason=...}` and logged.

mod normalize;
pub mod signature;

use aetherveil_models::github::EventType;
use aetherveil_models::{DeliveryId, Outcome, RejectReason, names};
use aetherveil_runtime::metrics::{Counter, Histogram};
use aetherveil_runtime::{Metrics, Platform};
use aetherveil_store::{Message, Store, StoreError, WriteBatch};
use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use chrono::{DateTime, Utc};
use http_body_util::{BodyExt, LengthLimitError, Limited};
use serde_json::json;
use signature::Secret;
use std::sync::Arc;
use std::time::Instant;

pub use normalize::{Normalized, normalize};

/// The path GitHub is configured to deliver to.
pub const PATH: &str = "/webhook/github";

pub struct Webhook {
    secret: Secret,
    max_body_bytes: usize,
    store: Arc<dyn Store>,
    metrics: Arc<Metrics>,
}

/// What the handler answers, before it becomes an HTTP response.
#[derive(Debug, Clone, PartialEq)]
pub struct Reply {
    pub status: StatusCode,
    pub outcome: Outcome,
    pub delivery_id: Option<String>,
    /// A human-readable reason for rejections.
    pub detail: Option<String>,
}

impl Reply {
    fn rejected(status: StatusCode, reason: RejectReason, detail: impl Into<String>) -> Self {
        Self { status, outcome: Outcome::Rejected { reason }, delivery_id: None, detail: Some(detail.into()) }
    }
}

impl IntoResponse for Reply {
    fn into_response(self) -> Response {
        let body = match &self.outcome {
            Outcome::Rejected { reason } => {
                json!({"error": reason.label(), "message": self.detail})
            }
            other => json!({"outcome": other.label(), "delivery_id": self.delivery_id}),
        };
        (self.status, [(header::CONTENT_TYPE, "application/json")], body.to_string()).into_response()
    }
}

fn header_str<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

impl Webhook {
    pub fn new(secret: &[u8], max_body_bytes: usize, store: Arc<dyn Store>, metrics: Arc<Metrics>) -> Self {
        Self { secret: Secret::new(secret), max_body_bytes, store, metrics }
    }

    pub fn from_platform(platform: &Platform, secret: &[u8]) -> Self {
        let max = usize::try_from(platform.config.webhook.max_body_bytes).unwrap_or(usize::MAX);
        Self::new(secret, max, platform.store.clone(), platform.metrics.clone())
    }

    /// The router mounting `POST /webhook/github`.
    pub fn router(self: Arc<Self>) -> Router {
        Router::new().route(PATH, post(receive)).with_state(self)
    }

    /// Reads the body within the size limit; `Err` is the 413/400 reply.
    pub async fn read_body(&self, headers: &HeaderMap, body: Body) -> Result<Bytes, Reply> {
        let too_large = || {
            Reply::rejected(
                StatusCode::PAYLOAD_TOO_LARGE,
                RejectReason::TooLarge,
                format!("body exceeds {} bytes", self.max_body_bytes),
            )
        };
        let declared = header_str(headers, "content-length").and_then(|v| v.parse::<u64>().ok());
        if declared.is_some_and(|n| n > self.max_body_bytes as u64) {
            return Err(too_large());
        }
        match Limited::new(body, self.max_body_bytes).collect().await {
            Ok(collected) => Ok(collected.to_bytes()),
            Err(e) if e.downcast_ref::<LengthLimitError>().is_some() => Err(too_large()),
            Err(e) => Err(Reply::rejected(
                StatusCode::BAD_REQUEST,
                RejectReason::MalformedJson,
                format!("cannot read body: {e}"),
            )),
        }
    }

    /// The pure core: decides and records the outcome of one delivery whose body is in memory.
    pub async fn handle(&self, headers: &HeaderMap, body: Bytes) -> Result<Reply, StoreError> {
        let Some(signature) = header_str(headers, "x-hub-signature-256") else {
            return Ok(Reply::rejected(
                StatusCode::UNAUTHORIZED,
                RejectReason::MissingSignature,
                "missing X-Hub-Signature-256",
            ));
        };
        if !self.secret.verify(&body, signature) {
            return Ok(Reply::rejected(
                StatusCode::UNAUTHORIZED,
                RejectReason::BadSignature,
                "signature does not match",
            ));
        }
        let Some(event) = header_str(headers, "x-github-event").filter(|e| !e.is_empty()) else {
            return Ok(Reply::rejected(
                StatusCode::BAD_REQUEST,
                RejectReason::MissingEventHeader,
                "missing X-GitHub-Event",
            ));
        };
        let Some(delivery_id) = header_str(headers, "x-github-delivery").and_then(DeliveryId::parse) else {
            return Ok(Reply::rejected(
                StatusCode::BAD_REQUEST,
                RejectReason::BadDeliveryId,
                "missing or malformed X-GitHub-Delivery (letters, digits, '-', '_', '.'; at most 128)",
            ));
        };
        let content_type = header_str(headers, "content-type").unwrap_or("application/json");
        if !content_type.starts_with("application/json") {
            return Ok(Reply::rejected(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                RejectReason::UnsupportedMediaType,
                "set the webhook's content type to application/json",
            ));
        }
        let event_type = EventType::from_header(event);
        let received_at = Utc::now();
        let normalized = match normalize(event_type, event, &delivery_id, received_at, &body) {
            Ok(n) => n,
            Err(e) => {
                return Ok(Reply::rejected(
                    StatusCode::BAD_REQUEST,
                    RejectReason::MalformedJson,
                    format!("invalid JSON: {e}"),
                ));
            }
        };
        self.persist(event, delivery_id, received_at, body, normalized).await
    }

    async fn persist(
        &self,
        event: &str,
        delivery_id: DeliveryId,
        received_at: DateTime<Utc>,
        body: Bytes,
        n: Normalized,
    ) -> Result<Reply, StoreError> {
        let (outcome, code) = match &n.ignored {
            Some(_) => (Outcome::Ignored { event: event.to_owned() }, StatusCode::ACCEPTED),
            None => (Outcome::Processed, StatusCode::OK),
        };
        let id = delivery_id.as_str();
        // The raw body and the event are keyed by arrival time, then delivery id: their keys grow
        // monotonically, so they append to their indexes instead of touching a random page each.
        let arrival = format!("{:016x}-{id}", received_at.timestamp_nanos_opt().unwrap_or_default());
        let message_id = n.event.as_ref().map(|_| format!("gh-{arrival}"));
        let delivery_doc = json!({
            "delivery_id": id,
            "event": event,
            "action": n.action,
            "repo": n.repo,
            "received_at": received_at,
            "body_bytes": body.len(),
            "outcome": outcome.label(),
            "ignored_reason": n.ignored,
            "raw_key": arrival,
            "message_id": message_id,
            "redeliveries": 0,
        });
        let mut batch = WriteBatch::new().create(names::DELIVERIES, id, delivery_doc).blob(
            names::RAW_DELIVERIES_BLOBS,
            &arrival,
            body.to_vec(),
        );
        for (collection, doc_id, data, order) in n.records {
            batch = batch.put_if_newer(collection, &doc_id, data, order);
        }
        if let (Some(event_data), Some(message_id)) = (n.event, message_id) {
            batch = batch.publish(Message {
                id: message_id,
                topic: names::TOPIC_PIPELINE_EVENTS.to_owned(),
                key: n.ordering_key,
                attributes: [
                    ("delivery_id".to_owned(), id.to_owned()),
                    ("event".to_owned(), event.to_owned()),
                    ("kind".to_owned(), n.kind.to_owned()),
                ]
                .into_iter()
                .collect(),
                data: event_data,
            });
        }
        match self.store.commit(batch).await {
            Ok(_) => Ok(Reply { status: code, outcome, delivery_id: Some(id.to_owned()), detail: None }),
            Err(StoreError::Conflict { .. }) => {
                self.count_redelivery(id).await;
                Ok(Reply {
                    status: StatusCode::OK,
                    outcome: Outcome::Duplicate,
                    delivery_id: Some(id.to_owned()),
                    detail: None,
                })
            }
            Err(e) => Err(e),
        }
    }

    async fn count_redelivery(&self, id: &str) {
        let result = aetherveil_store::update(self.store.as_ref(), names::DELIVERIES, id, |cur| {
            let mut doc = cur.cloned().unwrap_or_else(|| json!({}));
            let n = doc["redeliveries"].as_u64().unwrap_or(0) + 1;
            doc["redeliveries"] = json!(n);
            doc["last_redelivery_at"] = json!(Utc::now());
            doc
        })
        .await;
        if let Err(e) = result {
            // The duplicate is still answered and counted in metrics; only the counter on the
            // stored delivery is behind.
            tracing::warn!(delivery = id, error = %e, "cannot count a redelivery on the stored delivery");
        }
    }

    fn record(&self, event: Option<&str>, reply: &Reply, started: Instant) {
        let event = match event {
            Some(e) if EventType::from_header(e).is_some() => e,
            Some(_) => "other",
            None => "none",
        };
        match &reply.outcome {
            Outcome::Rejected { reason } => self.metrics.inc(
                Counter::WebhookOutcomes,
                &[("outcome", "rejected"), ("reason", reason.label()), ("event", event)],
            ),
            other => self.metrics.inc(Counter::WebhookOutcomes, &[("outcome", other.label()), ("event", event)]),
        }
        self.metrics.observe(Histogram::WebhookSeconds, &[], started.elapsed().as_secs_f64());
        if let Outcome::Rejected { reason } = &reply.outcome {
            tracing::warn!(
                reason = reason.label(),
                detail = reply.detail.as_deref().unwrap_or(""),
                "webhook delivery rejected"
            );
        }
    }
}

async fn receive(State(webhook): State<Arc<Webhook>>, headers: HeaderMap, body: Body) -> Response {
    let started = Instant::now();
    let event = header_str(&headers, "x-github-event").map(str::to_owned);
    let reply = match webhook.read_body(&headers, body).await {
        Ok(bytes) => match webhook.handle(&headers, bytes).await {
            Ok(reply) => reply,
            Err(e) => {
                // Nothing was acknowledged: GitHub (or the sender) will redeliver.
                tracing::error!(error = %e, "cannot persist webhook delivery");
                webhook
                    .metrics
                    .inc(Counter::WebhookOutcomes, &[("outcome", "error"), ("reason", "store"), ("event", "none")]);
                return (
                    StatusCode::SERVICE_UNAVAILABLE,
                    [(header::CONTENT_TYPE, "application/json")],
                    r#"{"error":"unavailable","message":"try again later"}"#,
                )
                    .into_response();
            }
        },
        Err(reply) => reply,
    };
    webhook.record(event.as_deref(), &reply, started);
    reply.into_response()
}
