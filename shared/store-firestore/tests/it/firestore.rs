//! Firestore behaviour beyond the shared suite: the stored layout, awkward ids and JSON, the
//! outbox documents, several operations on one document in a batch, and error messages.

use crate::firestore_store;
use aetherveil_store::blob::FsBlobStore;
use aetherveil_store::{Message, Order, Precondition, Query, Store, StoreError, WriteBatch, outbox};
use aetherveil_store_firestore::{FirestoreConfig, FirestoreStore};
use serde_json::json;
use std::collections::BTreeMap;
use std::sync::Arc;

fn message(id: &str) -> Message {
    Message {
        id: id.into(),
        topic: "pipeline-events".into(),
        key: Some("run-7".into()),
        attributes: BTreeMap::from([("kind".to_owned(), "workflow_run".to_owned())]),
        data: vec![0, 1, 2, 255],
    }
}

/// The document as the emulator's REST API shows it (its JSON form of Firestore values).
async fn raw_document(host: &str, project: &str, collection: &str, stored_id: &str) -> serde_json::Value {
    let url = format!("http://{host}/v1/projects/{project}/databases/(default)/documents/{collection}/{stored_id}");
    let response =
        reqwest::Client::new().get(&url).bearer_auth("owner").send().await.unwrap_or_else(|e| panic!("GET {url}: {e}"));
    assert!(response.status().is_success(), "GET {url}: {}", response.status());
    response.json().await.expect("document JSON")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn documents_are_stored_as_data_version_and_order_fields() {
    let (store, project) = firestore_store().await;
    store.put("runs", "r1", json!({"repo": "o/a", "n": 3})).await.expect("put");
    let raw = raw_document(&project.host, &project.project_id, "runs", "r1").await;
    let fields = &raw["fields"];
    assert_eq!(fields["v"]["integerValue"], "1", "{raw}");
    assert_eq!(fields["d"]["mapValue"]["fields"]["repo"]["stringValue"], "o/a", "{raw}");
    assert!(fields.get("o").is_none(), "no order key after a plain put: {raw}");

    let newer = WriteBatch::new().put_if_newer("runs", "r1", json!({"n": 4}), "0005".into());
    assert_eq!(store.commit(newer).await.expect("commit"), [true]);
    let raw = raw_document(&project.host, &project.project_id, "runs", "r1").await;
    assert_eq!(raw["fields"]["o"]["stringValue"], "0005", "{raw}");
    assert_eq!(raw["fields"]["v"]["integerValue"], "2", "{raw}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ids_firestore_refuses_are_stored_and_read_back() {
    let (store, _project) = firestore_store().await;
    let ids = ["owner/repo/123", "__x__", ".", "..", "%", "50%/done", "é ü", "a:b@c"];
    for (i, id) in ids.iter().enumerate() {
        store.put("things", id, json!({"i": i})).await.unwrap_or_else(|e| panic!("put {id:?}: {e}"));
    }
    for (i, id) in ids.iter().enumerate() {
        let doc = store.get("things", id).await.expect("get").unwrap_or_else(|| panic!("{id:?} missing"));
        assert_eq!((doc.id.as_str(), doc.data["i"].as_u64()), (*id, Some(i as u64)));
    }
    let mut listed: Vec<String> =
        store.query("things", Query::new()).await.expect("query").into_iter().map(|d| d.id).collect();
    listed.sort();
    let mut expected: Vec<String> = ids.iter().map(|s| s.to_string()).collect();
    expected.sort();
    assert_eq!(listed, expected, "query results carry the original ids");
    assert!(matches!(store.put("things", "", json!({})).await, Err(StoreError::Invalid(_))));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn json_round_trips_exactly() {
    let (store, _project) = firestore_store().await;
    let data = json!({
        "int": -7, "big": u64::MAX, "float": 0.1, "whole_float": 2.0, "s": "text", "t": true, "null": null,
        "empty_obj": {}, "empty_arr": [], "nested_arrays": [[1, [2, [3]]], [], [{"k": [[null]]}]],
        "": "empty key", "__reserved__": 1, "a.b": "dotted key", "a/b": 2, "%u": "not a wrapper", "%a": [1],
        "unicode": "ü → 🚀"
    });
    store.put("things", "j", data.clone()).await.expect("put");
    assert_eq!(store.get("things", "j").await.expect("get").expect("present").data, data);
    for top in [json!([[1], 2]), json!("just a string"), json!(42), json!(null)] {
        store.put("things", "top", top.clone()).await.expect("put");
        assert_eq!(store.get("things", "top").await.expect("get").expect("present").data, top);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_publish_creates_its_outbox_document_once() {
    let (store, _project) = firestore_store().await;
    let m = message("delivery-1");
    let batch = WriteBatch::new().put("deliveries", "delivery-1", json!({"ok": true})).publish(m.clone());
    assert_eq!(store.commit(batch).await.expect("commit"), [true, true]);
    let doc = store.get(outbox::COLLECTION, "delivery-1").await.expect("get").expect("outbox document");
    assert_eq!(outbox::from_doc(&doc).expect("decode"), m);
    assert_eq!(doc.data["published"], false);
    let created_at = doc.data["created_at"].as_str().expect("created_at").to_owned();

    // The same message id again: no-op, not a conflict, and the document is untouched.
    let again = WriteBatch::new().publish(message("delivery-1"));
    assert_eq!(store.commit(again).await.expect("commit"), [false]);
    let doc = store.get(outbox::COLLECTION, "delivery-1").await.expect("get").expect("outbox document");
    assert_eq!((doc.version, doc.data["created_at"].as_str()), (1, Some(created_at.as_str())));

    // The relay finds unpublished messages by query.
    let pending = Query::new().eq("published", false).order_by("created_at", Order::Asc);
    let found = store.query(outbox::COLLECTION, pending).await.expect("query");
    assert_eq!(found.iter().map(|d| d.id.as_str()).collect::<Vec<_>>(), ["delivery-1"]);

    // A batch refused by a precondition publishes nothing.
    let refused = WriteBatch::new().publish(message("delivery-2")).create("deliveries", "delivery-1", json!({}));
    assert!(matches!(store.commit(refused).await, Err(StoreError::Conflict { .. })));
    assert!(store.get(outbox::COLLECTION, "delivery-2").await.expect("get").is_none());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn operations_on_one_document_apply_in_order_within_a_batch() {
    let (store, _project) = firestore_store().await;
    let batch = WriteBatch::new()
        .create("things", "a", json!({"step": 1}))
        .put_with("things", "a", json!({"step": 2}), Precondition::Version(1))
        .delete("things", "gone")
        .put_if_newer("things", "a", json!({"step": 3}), "0001".into());
    assert_eq!(store.commit(batch).await.expect("commit"), [true, true, false, true]);
    let doc = store.get("things", "a").await.expect("get").expect("present");
    assert_eq!((doc.version, &doc.data), (3, &json!({"step": 3})));

    // A plain put clears the order key, so any later put_if_newer applies (as in SQLite).
    store.put("things", "a", json!({"step": 4})).await.expect("put");
    let older = WriteBatch::new().put_if_newer("things", "a", json!({"step": 5}), "0000".into());
    assert_eq!(store.commit(older).await.expect("commit"), [true]);

    let batch = WriteBatch::new().delete("things", "a").create("things", "a", json!({"step": 6}));
    assert_eq!(store.commit(batch).await.expect("commit"), [true, true]);
    let doc = store.get("things", "a").await.expect("get").expect("present");
    assert_eq!((doc.version, &doc.data), (1, &json!({"step": 6})), "a re-created document starts again at 1");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn null_equality_finds_null_fields() {
    let (store, _project) = firestore_store().await;
    store.put("things", "1", json!({"x": null})).await.expect("put");
    store.put("things", "2", json!({"x": 1})).await.expect("put");
    let found = store.query("things", Query::new().eq("x", serde_json::Value::Null)).await.expect("query");
    assert_eq!(found.iter().map(|d| d.id.as_str()).collect::<Vec<_>>(), ["1"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unreachable_endpoint_is_named_in_the_error() {
    let blobs = Arc::new(FsBlobStore::new(tempfile::tempdir().expect("tempdir").path()));
    // Port 9 (discard) on loopback: nothing listens there on a test machine.
    let config = FirestoreConfig::emulator("p", "127.0.0.1:9");
    let error = match FirestoreStore::connect(&config, blobs).await {
        Err(e) => e,
        Ok(store) => store.get("things", "a").await.expect_err("nothing listens on 127.0.0.1:9"),
    };
    eprintln!("error for an unreachable endpoint: {error}");
    assert!(matches!(error, StoreError::Open { .. } | StoreError::Database(_)), "{error:?}");
    assert!(error.to_string().contains("127.0.0.1:9"), "{error}");
}

/// Two stores (as two Cloud Run instances would be) do not share the in-process write queue, so
/// their transactions contend inside Firestore: the aborted ones must be retried, and no update
/// may be lost. (Each contended round costs the emulator's 2 s lock timeout, so this stays small.)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn contention_between_processes_is_retried_without_losing_updates() {
    let (first, project) = firestore_store().await;
    let blobs = Arc::new(FsBlobStore::new(tempfile::tempdir().expect("tempdir").path()));
    let second = FirestoreStore::connect(&FirestoreConfig::emulator(&project.project_id, &project.host), blobs)
        .await
        .expect("second connection");
    let mut tasks = Vec::new();
    for store in [first.clone(), second.clone(), first.clone(), second] {
        tasks.push(tokio::spawn(async move {
            aetherveil_store::update(
                &store,
                "counters",
                "c",
                |cur| json!({"n": cur.and_then(|v| v["n"].as_i64()).unwrap_or(0) + 1}),
            )
            .await
        }));
    }
    for t in tasks {
        t.await.expect("join").expect("update");
    }
    let doc = first.get("counters", "c").await.expect("get").expect("present");
    assert_eq!((doc.data["n"].as_i64(), doc.version), (Some(4), 4));
}

/// The workspace compiles rustls with two crypto providers, so nothing picks one by itself: the
/// store must install one before it builds the TLS configuration of an `https` endpoint (the
/// production one), rather than panic. Nothing listens on 127.0.0.1:9, so the connection fails.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_https_endpoint_gets_a_tls_setup_instead_of_a_panic() {
    let blobs = Arc::new(FsBlobStore::new(tempfile::tempdir().expect("tempdir").path()));
    let config =
        FirestoreConfig { endpoint: Some("https://127.0.0.1:9".into()), ..FirestoreConfig::emulator("p", "x") };
    let error = match FirestoreStore::connect(&config, blobs).await {
        Err(e) => e,
        Ok(store) => store.get("things", "a").await.expect_err("nothing listens on 127.0.0.1:9"),
    };
    assert!(error.to_string().contains("https://127.0.0.1:9"), "{error}");
}
