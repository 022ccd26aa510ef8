//! Decoding what Google Cloud pushes to an event function: the Pub/Sub push envelope, and
//! CloudEvents in binary mode (`ce-*` headers) and structured mode
//! (`application/cloudevents+json`). Eventarc wraps a Pub/Sub message in a CloudEvent whose data
//! is the push envelope; that is unwrapped too, so the handler always sees the original message.

use crate::metrics::{Counter, Metrics};
use aetherveil_bus::{Delivery, Handler, HandlerError, Message};
use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde::Deserialize;
use serde_json::Value;
use std::collections::BTreeMap;
use std::sync::Arc;
use thiserror::Error;

/// The CloudEvent type Google uses for a Pub/Sub message.
pub const PUBSUB_MESSAGE_PUBLISHED: &str = "google.cloud.pubsub.topic.v1.messagePublished";

#[derive(Debug, Error, PartialEq)]
pub enum DecodeError {
    #[error("body is not JSON: {0}")]
    Json(String),
    #[error("missing {0}")]
    Missing(&'static str),
    #[error("unsupported CloudEvents specversion {0:?} (expected 1.0)")]
    SpecVersion(String),
    #[error("message data is not valid base64")]
    Base64,
    #[error("neither a Pub/Sub push envelope nor a CloudEvent")]
    Unrecognized,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Envelope {
    message: PubsubMessage,
    subscription: Option<String>,
    delivery_attempt: Option<u32>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct PubsubMessage {
    data: Option<String>,
    #[serde(default)]
    attributes: BTreeMap<String, String>,
    message_id: Option<String>,
    #[serde(rename = "message_id")]
    message_id_snake: Option<String>,
    ordering_key: Option<String>,
}

fn from_envelope(env: Envelope) -> Result<Delivery, DecodeError> {
    let m = env.message;
    let id = m.message_id.or(m.message_id_snake).ok_or(DecodeError::Missing("message.messageId"))?;
    let data = match m.data {
        Some(d) => STANDARD.decode(d.as_bytes()).map_err(|_| DecodeError::Base64)?,
        None => Vec::new(),
    };
    let topic = m
        .attributes
        .get("topic")
        .cloned()
        .or_else(|| env.subscription.as_deref().and_then(|s| s.rsplit('/').next()).map(str::to_owned))
        .unwrap_or_default();
    // Our own publisher sets the logical message id as an attribute; prefer it so redeliveries
    // and republishes dedupe on the same key.
    let id = m.attributes.get("message_id").cloned().unwrap_or(id);
    Ok(Delivery {
        message: Message { id, topic, key: m.ordering_key.filter(|k| !k.is_empty()), attributes: m.attributes, data },
        attempt: env.delivery_attempt.unwrap_or(1).max(1),
    })
}

fn header<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

/// Builds a delivery from CloudEvent context attributes and data.
fn from_cloudevent(attrs: BTreeMap<String, String>, data: Vec<u8>) -> Result<Delivery, DecodeError> {
    let spec = attrs.get("specversion").ok_or(DecodeError::Missing("specversion"))?;
    if spec != "1.0" {
        return Err(DecodeError::SpecVersion(spec.clone()));
    }
    let id = attrs.get("id").ok_or(DecodeError::Missing("id"))?.clone();
    let source = attrs.get("source").ok_or(DecodeError::Missing("source"))?.clone();
    let ty = attrs.get("type").ok_or(DecodeError::Missing("type"))?.clone();
    if ty == PUBSUB_MESSAGE_PUBLISHED {
        if let Ok(env) = serde_json::from_slice::<Envelope>(&data) {
            return from_envelope(env);
        }
    }
    let attempt = attrs.get("deliveryattempt").and_then(|a| a.parse().ok()).unwrap_or(1);
    let topic = attrs.get("topic").cloned().unwrap_or(source);
    let key = attrs.get("orderingkey").cloned();
    Ok(Delivery { message: Message { id, topic, key, attributes: attrs, data }, attempt })
}

/// Decodes one push request into the delivery the handler sees.
pub fn decode(headers: &HeaderMap, body: &[u8]) -> Result<Delivery, DecodeError> {
    let content_type = header(headers, "content-type").unwrap_or("").to_ascii_lowercase();
    if headers.contains_key("ce-specversion") || headers.contains_key("ce-id") {
        let attrs = headers
            .iter()
            .filter_map(|(name, value)| {
                let key = name.as_str().strip_prefix("ce-")?;
                Some((key.to_owned(), value.to_str().ok()?.to_owned()))
            })
            .collect();
        return from_cloudevent(attrs, body.to_vec());
    }
    let json: Value = serde_json::from_slice(body).map_err(|e| DecodeError::Json(e.to_string()))?;
    if content_type.starts_with("application/cloudevents+json") || json.get("specversion").is_some() {
        let Value::Object(mut obj) = json else {
            return Err(DecodeError::Unrecognized);
        };
        let data = match (obj.remove("data_base64"), obj.remove("data")) {
            (Some(Value::String(b64)), _) => STANDARD.decode(b64.as_bytes()).map_err(|_| DecodeError::Base64)?,
            (_, Some(Value::String(text))) => text.into_bytes(),
            (_, Some(other)) => other.to_string().into_bytes(),
            (_, None) => Vec::new(),
        };
        let attrs = obj
            .into_iter()
            .filter_map(|(k, v)| match v {
                Value::String(s) => Some((k, s)),
                Value::Number(n) => Some((k, n.to_string())),
                Value::Bool(b) => Some((k, b.to_string())),
                _ => None,
            })
            .collect();
        return from_cloudevent(attrs, data);
    }
    if json.get("message").is_some() {
        let env: Envelope = serde_json::from_value(json).map_err(|e| DecodeError::Json(e.to_string()))?;
        return from_envelope(env);
    }
    Err(DecodeError::Unrecognized)
}

#[derive(Clone)]
struct PushState {
    handler: Arc<dyn Handler>,
    metrics: Arc<Metrics>,
}

/// The router of a single event-function container: every `POST` is a push delivery.
/// 2xx acknowledges; 503 asks Pub/Sub to redeliver with backoff; 422 marks a permanent failure,
/// which Pub/Sub's dead-letter policy moves to the dead-letter topic; 400 is a body we cannot read.
pub fn push_router(handler: Arc<dyn Handler>, metrics: Arc<Metrics>) -> Router {
    Router::new().fallback(axum::routing::post(push)).with_state(PushState { handler, metrics })
}

/// [`push_router`] behind an optional push-token check ([`crate::oidc`]): with a verifier, a push
/// without a valid OIDC token is refused with 401 before it is decoded. `None` (the default, and
/// the emulator's case: it sends no token) checks nothing.
pub fn push_router_with_auth(
    handler: Arc<dyn Handler>,
    metrics: Arc<Metrics>,
    auth: Option<Arc<crate::oidc::OidcVerifier>>,
) -> Router {
    let router = push_router(handler, metrics);
    match auth {
        Some(verifier) => crate::oidc::require_push_token(router, verifier),
        None => router,
    }
}

async fn push(State(state): State<PushState>, headers: HeaderMap, body: Bytes) -> Response {
    let delivery = match decode(&headers, &body) {
        Ok(d) => d,
        Err(e) => {
            state.metrics.inc(Counter::PushDeliveries, &[("result", "undecodable")]);
            tracing::warn!(error = %e, "push delivery could not be decoded");
            return (StatusCode::BAD_REQUEST, e.to_string()).into_response();
        }
    };
    match state.handler.handle(&delivery).await {
        Ok(()) => {
            state.metrics.inc(Counter::PushDeliveries, &[("result", "ok")]);
            StatusCode::NO_CONTENT.into_response()
        }
        Err(HandlerError::Retry(e)) => {
            state.metrics.inc(Counter::PushDeliveries, &[("result", "retry")]);
            tracing::warn!(message = %delivery.message.id, error = %e, "push delivery failed; asking for redelivery");
            (StatusCode::SERVICE_UNAVAILABLE, "retry later").into_response()
        }
        Err(HandlerError::Permanent(e)) => {
            state.metrics.inc(Counter::PushDeliveries, &[("result", "permanent")]);
            tracing::error!(message = %delivery.message.id, error = %e, "push delivery failed permanently");
            (StatusCode::UNPROCESSABLE_ENTITY, "permanent failure").into_response()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.insert(*k, HeaderValue::from_str(v).expect("header"));
        }
        h
    }

    fn envelope(data: &[u8]) -> Value {
        serde_json::json!({
            "message": {
                "data": STANDARD.encode(data),
                "attributes": {"topic": "pipeline-events", "kind": "run"},
                "messageId": "136969346945",
                "publishTime": "2026-11-27T12:00:00.000Z",
                "orderingKey": "run-42"
            },
            "subscription": "projects/p/subscriptions/monitor",
            "deliveryAttempt": 3
        })
    }

    #[test]
    fn pubsub_push_envelope() {
        let body = envelope(br#"{"x":1}"#).to_string();
        let d = decode(&headers(&[("content-type", "application/json")]), body.as_bytes()).expect("decode");
        assert_eq!(d.message.id, "136969346945");
        assert_eq!(d.message.topic, "pipeline-events");
        assert_eq!(d.message.key.as_deref(), Some("run-42"));
        assert_eq!(d.message.data, br#"{"x":1}"#);
        assert_eq!(d.message.attributes["kind"], "run");
        assert_eq!(d.attempt, 3);
    }

    #[test]
    fn binary_mode_cloudevent() {
        let h = headers(&[
            ("ce-specversion", "1.0"),
            ("ce-id", "evt-1"),
            ("ce-source", "//aetherveil/webhook"),
            ("ce-type", "dev.aetherveil.pipeline_event"),
            ("ce-topic", "pipeline-events"),
            ("content-type", "application/json"),
        ]);
        let d = decode(&h, br#"{"y":2}"#).expect("decode");
        assert_eq!((d.message.id.as_str(), d.message.topic.as_str()), ("evt-1", "pipeline-events"));
        assert_eq!(d.message.data, br#"{"y":2}"#);
        assert_eq!(d.message.attributes["type"], "dev.aetherveil.pipeline_event");
    }

    #[test]
    fn binary_mode_wrapping_a_pubsub_message_is_unwrapped() {
        let h = headers(&[
            ("ce-specversion", "1.0"),
            ("ce-id", "eventarc-id"),
            ("ce-source", "//pubsub.googleapis.com/projects/p/topics/pipeline-events"),
            ("ce-type", PUBSUB_MESSAGE_PUBLISHED),
        ]);
        let d = decode(&h, envelope(b"inner").to_string().as_bytes()).expect("decode");
        assert_eq!(d.message.id, "136969346945");
        assert_eq!(d.message.data, b"inner");
    }

    #[test]
    fn structured_mode_cloudevent_with_json_and_base64_data() {
        let body = serde_json::json!({
            "specversion": "1.0", "id": "s-1", "source": "pipeline-events", "type": "t",
            "datacontenttype": "application/json", "data": {"z": 3}
        });
        let h = headers(&[("content-type", "application/cloudevents+json; charset=utf-8")]);
        let d = decode(&h, body.to_string().as_bytes()).expect("decode");
        assert_eq!(d.message.id, "s-1");
        assert_eq!(serde_json::from_slice::<Value>(&d.message.data).expect("json"), serde_json::json!({"z": 3}));
        let body = serde_json::json!({"specversion": "1.0", "id": "s-2", "source": "s", "type": "t", "data_base64": STANDARD.encode(b"\x00\x01")});
        assert_eq!(decode(&h, body.to_string().as_bytes()).expect("decode").message.data, b"\x00\x01");
    }

    #[test]
    fn bad_inputs_say_why() {
        let json = headers(&[("content-type", "application/json")]);
        assert!(matches!(decode(&json, b"{nope"), Err(DecodeError::Json(_))));
        assert_eq!(decode(&json, b"{}").err(), Some(DecodeError::Unrecognized));
        let bad_b64 = serde_json::json!({"message": {"data": "!!!", "messageId": "1"}}).to_string();
        assert_eq!(decode(&json, bad_b64.as_bytes()).err(), Some(DecodeError::Base64));
        let no_id = serde_json::json!({"message": {"data": ""}}).to_string();
        assert_eq!(decode(&json, no_id.as_bytes()).err(), Some(DecodeError::Missing("message.messageId")));
        let h = headers(&[("ce-specversion", "0.3"), ("ce-id", "x"), ("ce-source", "s"), ("ce-type", "t")]);
        assert!(matches!(decode(&h, b""), Err(DecodeError::SpecVersion(_))));
        let h = headers(&[("ce-specversion", "1.0"), ("ce-source", "s"), ("ce-type", "t")]);
        assert_eq!(decode(&h, b"").err(), Some(DecodeError::Missing("id")));
    }
}
