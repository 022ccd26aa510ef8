//! The push receiver: Pub/Sub POSTs each message of a subscription to
//! `/_pubsub/push/<subscription>`; the answer acknowledges it (2xx) or asks for a redelivery
//! after the subscription's backoff (503).
//!
//! Attempts are counted here, per subscription and message id, because the emulator sends no
//! `deliveryAttempt` and Pub/Sub's dead-letter policy accepts no fewer than 5 attempts. The
//! count the receiver uses is the larger of its own and Pub/Sub's (when the envelope has one, as
//! it does in the cloud with a dead-letter policy, across instances). The receiver's own count
//! lives in memory: after a restart it starts again from Pub/Sub's, and Pub/Sub's dead-letter
//! policy bounds the total.

use crate::{Failures, Inner, Registered, dead_letter_topic};
use aetherveil_bus::{Delivery, HandlerError, Message};
use aetherveil_models::names;
use aetherveil_runtime::cloudevent;
use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::json;
use std::sync::Arc;
use tokio::net::TcpListener;

/// Attribute carrying our message id (Pub/Sub assigns its own `messageId`).
pub const ATTR_MESSAGE_ID: &str = "message_id";
/// Attribute carrying our topic name (without the resource prefix).
pub const ATTR_TOPIC: &str = "topic";
/// Attribute carrying the ordering key, for pushers that leave it out of the envelope.
pub const ATTR_ORDERING_KEY: &str = "ordering_key";
/// Where the receiver listens for `subscription`, below the push base URL.
pub const PATH_PREFIX: &str = "/_pubsub/push/";
/// Longest error text carried in a dead-letter message attribute (Pub/Sub allows 1024 bytes).
const MAX_ERROR_ATTRIBUTE: usize = 900;

/// How many acknowledged message ids a subscription remembers.
const ACKED_REMEMBERED: usize = 10_000;

/// The ids of the messages a subscription acknowledged lately (bounded, oldest forgotten first).
#[derive(Default)]
pub(crate) struct Acked {
    ids: std::collections::HashSet<String>,
    order: std::collections::VecDeque<String>,
}

impl Acked {
    fn contains(&self, id: &str) -> bool {
        self.ids.contains(id)
    }

    fn insert(&mut self, id: &str) {
        if self.ids.insert(id.to_owned()) {
            self.order.push_back(id.to_owned());
        }
        while self.order.len() > ACKED_REMEMBERED {
            if let Some(old) = self.order.pop_front() {
                self.ids.remove(&old);
            }
        }
    }
}

pub(crate) fn endpoint(base: &str, subscription: &str) -> String {
    format!("{base}{PATH_PREFIX}{subscription}")
}

/// The receiver's routes; with `push_auth` configured, every push must carry a valid token.
pub(crate) fn router(inner: Arc<Inner>) -> Router {
    let router = Router::new().route("/_pubsub/push/{subscription}", axum::routing::post(receive));
    let router = match inner.config.push_auth.clone() {
        Some(verifier) => aetherveil_runtime::oidc::require_push_token(router, verifier),
        None => router,
    };
    router.with_state(inner)
}

pub(crate) async fn serve(inner: Arc<Inner>, listener: TcpListener) {
    let mut stop = inner.stop.subscribe();
    let app = router(inner.clone());
    let served = axum::serve(listener, app).with_graceful_shutdown(async move {
        if stop.wait_for(|s| *s).await.is_err() {
            tracing::debug!("the bus is gone; stopping the push receiver");
        }
    });
    if let Err(e) = served.await {
        tracing::error!(error = %e, "push receiver stopped");
    }
}

enum Verdict {
    Ack,
    Retry(String),
    Dead(String),
}

async fn receive(
    State(inner): State<Arc<Inner>>,
    Path(subscription): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let registered = inner.registered.read().ok().and_then(|r| r.get(&subscription).cloned());
    let Some(registered) = registered else {
        // Not (yet, or no longer) ours: Pub/Sub retries, and the subscription may come back.
        tracing::warn!(subscription, "push for an unknown subscription");
        return (StatusCode::NOT_FOUND, "unknown subscription").into_response();
    };
    let mut delivery = match cloudevent::decode(&headers, &body) {
        Ok(d) => d,
        Err(e) => {
            tracing::warn!(subscription, error = %e, "push delivery could not be decoded");
            return (StatusCode::BAD_REQUEST, "undecodable push").into_response();
        }
    };
    if delivery.message.key.is_none() {
        delivery.message.key = delivery.message.attributes.get(ATTR_ORDERING_KEY).cloned();
    }
    if delivery.message.topic.is_empty() {
        delivery.message.topic = registered.topic.clone();
    }
    let id = delivery.message.id.clone();
    if registered.acked.lock().is_ok_and(|a| a.contains(&id)) {
        tracing::debug!(subscription, message = %id, "redelivery of an acknowledged message; acknowledging again");
        return StatusCode::NO_CONTENT.into_response();
    }
    let previous = registered.failures.lock().ok().and_then(|f| f.get(&id).cloned()).unwrap_or_default();
    delivery.attempt = delivery.attempt.max(previous.count + 1);
    let max = inner.config.retry.max_attempts;

    let verdict = match previous.dead {
        // Decided already; only the dead-lettering itself failed last time.
        Some(error) => Verdict::Dead(error),
        None => match run_handler(&registered, &delivery).await {
            Ok(()) => Verdict::Ack,
            Err(HandlerError::Permanent(e)) => Verdict::Dead(e),
            Err(HandlerError::Retry(e)) if delivery.attempt >= max => Verdict::Dead(e),
            Err(HandlerError::Retry(e)) => Verdict::Retry(e),
        },
    };
    match verdict {
        Verdict::Ack => {
            forget(&registered, &id);
            StatusCode::NO_CONTENT.into_response()
        }
        Verdict::Retry(error) => {
            remember(&registered, &id, Failures { count: delivery.attempt, dead: None });
            tracing::warn!(subscription, message = %id, attempt = delivery.attempt, error = %error, "delivery failed; pub/sub will redeliver");
            (StatusCode::SERVICE_UNAVAILABLE, "retry later").into_response()
        }
        Verdict::Dead(error) => match dead_letter(&inner, &registered, &delivery, &error).await {
            Ok(()) => {
                forget(&registered, &id);
                StatusCode::NO_CONTENT.into_response()
            }
            Err(e) => {
                remember(&registered, &id, Failures { count: delivery.attempt, dead: Some(error) });
                tracing::error!(subscription, message = %id, error = %e, "cannot dead-letter; pub/sub will redeliver");
                (StatusCode::SERVICE_UNAVAILABLE, "retry later").into_response()
            }
        },
    }
}

/// Runs the handler in its own task, so a panic fails this message only.
async fn run_handler(registered: &Registered, delivery: &Delivery) -> Result<(), HandlerError> {
    let handler = registered.handler.clone();
    let d = delivery.clone();
    tokio::spawn(async move { handler.handle(&d).await })
        .await
        .unwrap_or_else(|e| Err(HandlerError::Retry(format!("handler panicked: {e}"))))
}

fn remember(registered: &Registered, id: &str, failures: Failures) {
    if let Ok(mut f) = registered.failures.lock() {
        f.insert(id.to_owned(), failures);
    }
}

/// The message is done with (handled, or dead-lettered).
fn forget(registered: &Registered, id: &str) {
    if let Ok(mut f) = registered.failures.lock() {
        f.remove(id);
    }
    if let Ok(mut a) = registered.acked.lock() {
        a.insert(id);
    }
}

/// The `dead_letters` document of a message, shaped as [`aetherveil_bus::LocalBus`] writes it.
pub fn dead_letter_doc(subscription: &str, message: &Message, attempts: u32, error: &str) -> serde_json::Value {
    let data = match std::str::from_utf8(&message.data) {
        Ok(text) => json!({"text": text}),
        Err(_) => json!({"base64_len": message.data.len()}),
    };
    json!({
        "subscription": subscription,
        "topic": message.topic,
        "message_id": message.id,
        "key": message.key,
        "attributes": message.attributes,
        "attempts": attempts,
        "last_error": error,
        "failed_at_ms": chrono::Utc::now().timestamp_millis(),
        "data": data,
    })
}

/// Records the message in the store's dead letters, then publishes it to the dead-letter topic.
async fn dead_letter(inner: &Inner, registered: &Registered, delivery: &Delivery, error: &str) -> Result<(), String> {
    let m = &delivery.message;
    tracing::error!(subscription = %registered.name, message = %m.id, attempts = delivery.attempt, error, "message dead-lettered");
    let doc = dead_letter_doc(&registered.name, m, delivery.attempt, error);
    let id = format!("{}:{}", registered.name, m.id);
    inner.store.put(names::DEAD_LETTERS, &id, doc).await.map_err(|e| e.to_string())?;
    let mut attributes = m.attributes.clone();
    attributes.insert("subscription".into(), registered.name.clone());
    attributes.insert("attempts".into(), delivery.attempt.to_string());
    attributes.insert("last_error".into(), truncate(error, MAX_ERROR_ATTRIBUTE));
    let letter =
        Message { id, topic: dead_letter_topic(&registered.topic), key: None, attributes, data: m.data.clone() };
    inner.send(&letter).await.map_err(|e| e.to_string())
}

fn truncate(s: &str, max: usize) -> String {
    if s.len() <= max {
        return s.to_owned();
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…", &s[..end])
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    #[test]
    fn dead_letter_documents_have_the_local_bus_shape() {
        let m = Message {
            id: "m1".into(),
            topic: "t".into(),
            key: Some("run-1".into()),
            attributes: BTreeMap::from([("a".to_owned(), "b".to_owned())]),
            data: b"{\"x\":1}".to_vec(),
        };
        let doc = dead_letter_doc("s", &m, 3, "boom");
        assert_eq!(doc["attempts"], 3);
        assert_eq!(doc["last_error"], "boom");
        assert_eq!(doc["topic"], "t");
        assert_eq!(doc["subscription"], "s");
        assert_eq!(doc["data"]["text"], "{\"x\":1}");
        let binary = Message { data: vec![0xff, 0xfe], ..m };
        assert_eq!(dead_letter_doc("s", &binary, 1, "x")["data"]["base64_len"], 2);
    }

    #[test]
    fn acknowledged_ids_are_remembered_up_to_a_bound() {
        let mut acked = Acked::default();
        for i in 0..=ACKED_REMEMBERED {
            acked.insert(&format!("m{i}"));
        }
        acked.insert("m5");
        assert!(!acked.contains("m0"), "the oldest is forgotten");
        assert!(acked.contains("m1") && acked.contains(&format!("m{ACKED_REMEMBERED}")));
        assert_eq!(acked.order.len(), ACKED_REMEMBERED);
    }

    #[test]
    fn long_errors_are_cut_on_a_character_boundary() {
        let s = "é".repeat(600);
        let t = truncate(&s, 901);
        assert!(t.len() <= 901 + '…'.len_utf8());
        assert!(t.ends_with('…'));
        assert_eq!(truncate("short", 900), "short");
    }
}
