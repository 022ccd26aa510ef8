//! How a document store without a bus of its own keeps the messages of a [`crate::WriteBatch`]
//! for an external bus (the transactional outbox on Firestore, relayed to Pub/Sub).
//!
//! Each message is one document in [`COLLECTION`], id = message id, created if absent inside the
//! same transaction as the data it describes (an id already there is a no-op). The relay
//! publishes documents with `published: false`, oldest `created_at` first, then sets
//! `published: true`. The SQLite store does not use this: its outbox is a table the local bus
//! reads directly.

use crate::{Doc, Message, Result, StoreError};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde_json::{Value, json};
use std::collections::BTreeMap;

pub const COLLECTION: &str = "outbox";

/// Field of an outbox document: which publisher wrote it (a function's name). A relay with an
/// origin relays only its own, so the relays of different functions never contend for one
/// document; the instances of one function share theirs, and take over a dead one's.
pub const ORIGIN_FIELD: &str = "origin";

/// The outbox document of `message`, not yet published, written by `origin` (see
/// [`ORIGIN_FIELD`]; `None`: relayed by relays without an origin).
pub fn to_doc(message: &Message, origin: Option<&str>) -> Value {
    json!({
        "origin": origin,
        "topic": message.topic,
        "key": message.key,
        "attributes": message.attributes,
        "data": STANDARD.encode(&message.data),
        "published": false,
        "created_at": chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Micros, true),
    })
}

/// The message an outbox document holds.
pub fn from_doc(doc: &Doc) -> Result<Message> {
    let bad = |reason: &str| StoreError::Decode { id: doc.id.clone(), reason: reason.to_owned() };
    let d = &doc.data;
    let topic = d["topic"].as_str().ok_or_else(|| bad("outbox document has no topic"))?.to_owned();
    let key = d["key"].as_str().map(str::to_owned);
    let attributes: BTreeMap<String, String> = match &d["attributes"] {
        Value::Null => BTreeMap::new(),
        a => serde_json::from_value(a.clone()).map_err(|e| bad(&format!("bad attributes: {e}")))?,
    };
    let data = STANDARD.decode(d["data"].as_str().unwrap_or_default()).map_err(|_| bad("outbox data is not base64"))?;
    Ok(Message { id: doc.id.clone(), topic, key, attributes, data })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_message_round_trips_through_its_document() {
        let m = Message {
            id: "delivery-1".into(),
            topic: "pipeline-events".into(),
            key: Some("run-7".into()),
            attributes: BTreeMap::from([("kind".to_owned(), "workflow_run".to_owned())]),
            data: vec![0, 1, 2, 255],
        };
        let data = to_doc(&m, None);
        assert_eq!(data["published"], false);
        let doc = Doc { id: m.id.clone(), version: 1, data };
        assert_eq!(from_doc(&doc).expect("decode"), m);
        let keyless = Message { key: None, ..m };
        let doc = Doc { id: keyless.id.clone(), version: 1, data: to_doc(&keyless, None) };
        assert_eq!(from_doc(&doc).expect("decode"), keyless);
    }

    #[test]
    fn a_document_without_a_topic_is_refused() {
        let doc = Doc { id: "x".into(), version: 1, data: json!({"data": ""}) };
        assert!(matches!(from_doc(&doc), Err(StoreError::Decode { .. })));
    }
}
