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
//!
//! With `webhook.intake = "queued"` the acknowledging commit holds only the raw body, the record
//! with outcome `queued` and a message on `webhook-intake`; a valid delivery is answered `200
//! queued` (`202` for an unhandled event type), and the [`Normalizer`] records the outcome in the
//! table above, the records and the event in one commit after. The syntax of the JSON is still
//! checked before the answer, so a broken body still gets its 400.
//!
//! With `webhook.intake = "log"` a valid delivery is appended to the [`IngestLog`] and answered
//! the same way (`200 queued`, `202` unhandled) without a store commit; the [`Applier`] stores it
//! after. A delivery id pending in the log, or found in the store, is answered `duplicate` and a
//! redelivery record is appended for the applier to count.

mod applier;
pub mod ingest;
mod normalize;
mod normalizer;
pub mod signature;

use aetherveil_models::github::EventType;
use aetherveil_models::{DeliveryId, Outcome, RejectReason, names};
use aetherveil_runtime::metrics::{Counter, Histogram};
use aetherveil_runtime::{Metrics, Platform};
use aetherveil_store::{Message, Precondition, Store, StoreError, WriteBatch};
use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use chrono::{DateTime, Utc};
use http_body_util::{BodyExt, LengthLimitError, Limited};
use serde_json::{Value, json};
use signature::Secret;
use std::sync::Arc;
use std::time::Instant;

pub use aetherveil_config::WebhookIntake as Intake;
pub use applier::Applier;
pub use ingest::IngestLog;
pub use normalize::{Normalized, normalize, ordering_key};
pub use normalizer::{Normalizer, SUBSCRIPTION as NORMALIZE_SUBSCRIPTION};

/// The path GitHub is configured to deliver to.
pub const PATH: &str = "/webhook/github";

pub struct Webhook {
    secret: Secret,
    max_body_bytes: usize,
    store: Arc<dyn Store>,
    metrics: Arc<Metrics>,
    intake: Intake,
    /// The ingest log, with [`Intake::Log`].
    log: Option<IngestLog>,
}

/// Why a delivery could not be persisted (answered 503: nothing was acknowledged).
#[derive(Debug, thiserror::Error)]
pub enum PersistError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Log(#[from] ingest::IngestError),
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

/// The `event` label of the webhook's metrics: the event type, or `other` for one we do not handle
/// (any string a sender chooses would otherwise become a label value).
fn event_label(event: &str) -> &str {
    if EventType::from_header(event).is_some() { event } else { "other" }
}

fn header_str<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

impl Webhook {
    /// A webhook that works inline; see [`Webhook::with_intake`].
    pub fn new(secret: &[u8], max_body_bytes: usize, store: Arc<dyn Store>, metrics: Arc<Metrics>) -> Self {
        Self { secret: Secret::new(secret), max_body_bytes, store, metrics, intake: Intake::Inline, log: None }
    }

    /// With [`Intake::Queued`], a [`Normalizer`] must read `webhook-intake`. [`Intake::Log`]
    /// needs its log: see [`Webhook::with_log`].
    pub fn with_intake(self, intake: Intake) -> Self {
        Self { intake, ..self }
    }

    /// [`Intake::Log`] into `log`; an [`Applier`] must apply it.
    pub fn with_log(self, log: IngestLog) -> Self {
        Self { intake: Intake::Log, log: Some(log), ..self }
    }

    /// The webhook as `webhook.*` configures it; `log` is the ingest log with `intake = "log"`.
    pub fn from_platform(platform: &Platform, secret: &[u8], log: Option<IngestLog>) -> Self {
        let max = usize::try_from(platform.config.webhook.max_body_bytes).unwrap_or(usize::MAX);
        let webhook = Self::new(secret, max, platform.store.clone(), platform.metrics.clone());
        match log {
            Some(log) => webhook.with_log(log),
            None => webhook.with_intake(platform.config.webhook.intake),
        }
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
    pub async fn handle(&self, headers: &HeaderMap, body: Bytes) -> Result<Reply, PersistError> {
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
        let invalid = |e: serde_json::Error| {
            Reply::rejected(StatusCode::BAD_REQUEST, RejectReason::MalformedJson, format!("invalid JSON: {e}"))
        };
        let arrival = Arrival::new(delivery_id.as_str(), event, Utc::now(), body.len());
        match (self.intake, &self.log) {
            (Intake::Log, Some(log)) => match ordering_key(event_type, &body) {
                Ok(_) => self.append(log, arrival, event_type.is_some(), &body).await,
                Err(e) => Ok(invalid(e)),
            },
            (Intake::Queued, _) => match ordering_key(event_type, &body) {
                Ok(key) => Ok(self.enqueue(arrival, event_type.is_some(), body, key).await?),
                Err(e) => Ok(invalid(e)),
            },
            (Intake::Log, None) => Err(ingest::IngestError::Closed.into()),
            (Intake::Inline, _) => match normalize(event_type, event, &delivery_id, arrival.received_at, &body) {
                Ok(n) => Ok(self.persist(arrival, body, n).await?),
                Err(e) => Ok(invalid(e)),
            },
        }
    }

    /// `webhook.intake = "inline"`: the delivery, its records and its event in one commit.
    async fn persist(&self, arrival: Arrival<'_>, body: Bytes, n: Normalized) -> Result<Reply, StoreError> {
        let (batch, outcome) = normalized_batch(&arrival, n, Precondition::Absent, None);
        let status = match outcome {
            Outcome::Ignored { .. } => StatusCode::ACCEPTED,
            _ => StatusCode::OK,
        };
        let batch = batch.blob(names::RAW_DELIVERIES_BLOBS, &arrival.raw_key, body.to_vec());
        self.commit_delivery(arrival.id, batch, status, outcome).await
    }

    /// `webhook.intake = "queued"`: the delivery's record (outcome `queued`), its raw body and a
    /// message for the [`Normalizer`] in one small commit.
    async fn enqueue(
        &self,
        arrival: Arrival<'_>,
        handled: bool,
        body: Bytes,
        key: Option<String>,
    ) -> Result<Reply, StoreError> {
        let doc = arrival.record(&Outcome::Queued);
        let message = Message {
            id: format!("in-{}", arrival.raw_key),
            topic: names::TOPIC_WEBHOOK_INTAKE.to_owned(),
            key,
            attributes: [
                ("delivery_id".to_owned(), arrival.id.to_owned()),
                ("event".to_owned(), arrival.event.to_owned()),
            ]
            .into_iter()
            .collect(),
            data: Vec::new(),
        };
        let batch = WriteBatch::new()
            .create(names::DELIVERIES, arrival.id, doc)
            .blob(names::RAW_DELIVERIES_BLOBS, &arrival.raw_key, body.to_vec())
            .publish(message);
        // The answer GitHub shows: 202 for an event type we do not handle, as inline.
        let status = if handled { StatusCode::OK } else { StatusCode::ACCEPTED };
        self.commit_delivery(arrival.id, batch, status, Outcome::Queued).await
    }

    /// `webhook.intake = "log"`: the delivery appended to the ingest log; the [`Applier`] stores
    /// it. A delivery id pending in the log or in the store is a redelivery.
    async fn append(
        &self,
        log: &IngestLog,
        arrival: Arrival<'_>,
        handled: bool,
        body: &[u8],
    ) -> Result<Reply, PersistError> {
        let (id, event, at) = (arrival.id, arrival.event, arrival.received_at);
        let appended = if !log.is_pending(id) && self.store.get(names::DELIVERIES, id).await?.is_some() {
            log.append_redelivery(id, event, at).await?;
            ingest::Appended::Duplicate
        } else {
            log.append(id, event, at, body).await?
        };
        let (status, outcome) = match appended {
            ingest::Appended::Fresh if handled => (StatusCode::OK, Outcome::Queued),
            ingest::Appended::Fresh => (StatusCode::ACCEPTED, Outcome::Queued),
            ingest::Appended::Duplicate => (StatusCode::OK, Outcome::Duplicate),
        };
        Ok(Reply { status, outcome, delivery_id: Some(id.to_owned()), detail: None })
    }

    /// Commits a fresh delivery's batch; a delivery id already stored is a redelivery.
    async fn commit_delivery(
        &self,
        id: &str,
        batch: WriteBatch,
        status: StatusCode,
        outcome: Outcome,
    ) -> Result<Reply, StoreError> {
        match self.store.commit(batch).await {
            Ok(_) => Ok(Reply { status, outcome, delivery_id: Some(id.to_owned()), detail: None }),
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
        let event = event.map_or("none", event_label);
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

/// One verified delivery, as its stored record names it.
struct Arrival<'a> {
    id: &'a str,
    event: &'a str,
    received_at: DateTime<Utc>,
    body_bytes: usize,
    /// The raw body's key: arrival time, then delivery id. Keys grow monotonically, so the raw
    /// bodies and events append to their indexes instead of touching a random page each.
    raw_key: String,
}

impl<'a> Arrival<'a> {
    fn new(id: &'a str, event: &'a str, received_at: DateTime<Utc>, body_bytes: usize) -> Self {
        let raw_key = format!("{:016x}-{id}", received_at.timestamp_nanos_opt().unwrap_or_default());
        Self { id, event, received_at, body_bytes, raw_key }
    }

    /// The delivery's record with `outcome`; the normalized fields are filled in by
    /// [`normalized_batch`].
    fn record(&self, outcome: &Outcome) -> Value {
        json!({
            "delivery_id": self.id,
            "event": self.event,
            "received_at": self.received_at,
            "body_bytes": self.body_bytes,
            "outcome": outcome.label(),
            "raw_key": self.raw_key,
            "redeliveries": 0,
        })
    }
}

/// The record the API shows for a delivery acknowledged into the ingest log and not yet applied:
/// the one queued intake stores, with the redeliveries counted so far.
pub fn pending_record(delivery_id: &str, p: &ingest::Pending) -> Value {
    let mut doc = Arrival::new(delivery_id, &p.event, p.received_at, p.body_bytes).record(&Outcome::Queued);
    doc["redeliveries"] = json!(p.redeliveries);
    doc
}

/// The normalized delivery's record, its records and its event, in one batch. The record is
/// written with `precondition`: absent inline, the queued record's version by the normalizer,
/// whose redelivery count (`queued`) it keeps.
fn normalized_batch(
    arrival: &Arrival<'_>,
    n: Normalized,
    precondition: Precondition,
    queued: Option<&Value>,
) -> (WriteBatch, Outcome) {
    let outcome = match &n.ignored {
        Some(_) => Outcome::Ignored { event: arrival.event.to_owned() },
        None => Outcome::Processed,
    };
    let message_id = n.event.as_ref().map(|_| format!("gh-{}", arrival.raw_key));
    let mut doc = arrival.record(&outcome);
    doc["action"] = json!(n.action);
    doc["repo"] = json!(n.repo);
    doc["ignored_reason"] = json!(n.ignored);
    doc["message_id"] = json!(message_id);
    for field in ["redeliveries", "last_redelivery_at"] {
        if let Some(v) = queued.and_then(|q| q.get(field)) {
            doc[field] = v.clone();
        }
    }
    let mut batch = WriteBatch::new().put_with(names::DELIVERIES, arrival.id, doc, precondition);
    for (collection, doc_id, data, order) in n.records {
        batch = batch.put_if_newer(collection, &doc_id, data, order);
    }
    if let (Some(event_data), Some(message_id)) = (n.event, message_id) {
        batch = batch.publish(Message {
            id: message_id,
            topic: names::TOPIC_PIPELINE_EVENTS.to_owned(),
            key: n.ordering_key,
            attributes: [
                ("delivery_id".to_owned(), arrival.id.to_owned()),
                ("event".to_owned(), arrival.event.to_owned()),
                ("kind".to_owned(), n.kind.to_owned()),
            ]
            .into_iter()
            .collect(),
            data: event_data,
        });
    }
    (batch, outcome)
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
                let reason = match e {
                    PersistError::Store(_) => "store",
                    PersistError::Log(_) => "log",
                };
                webhook
                    .metrics
                    .inc(Counter::WebhookOutcomes, &[("outcome", "error"), ("reason", reason), ("event", "none")]);
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
