//! The outbox relay: messages a document store keeps in the `outbox` collection reach Pub/Sub.

use crate::{config, start, start_on};
use aetherveil_bus::Bus;
use aetherveil_bus::testsuite::{Recorder, eventually, message};
use aetherveil_store::{Store, WriteBatch, outbox};
use serde_json::json;
use std::time::Duration;

/// What a document store without a bus of its own (Firestore) does with `WriteOp::Publish`.
async fn write_like_a_document_store(store: &dyn Store, m: &aetherveil_store::Message) {
    let batch = WriteBatch::new().create(outbox::COLLECTION, &m.id, outbox::to_doc(m, None));
    store.commit(batch).await.expect("commit outbox document");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn outbox_documents_are_relayed_oldest_first_and_marked_published() {
    let (h, bus, _store, _guard) = start(config()).await;
    let rec = Recorder::accepting();
    h.bus.subscribe("s", "t", rec.clone()).expect("subscribe");
    let ids: Vec<String> = (0..6).map(|i| format!("r{i}")).collect();
    for id in &ids {
        write_like_a_document_store(h.store.as_ref(), &message(id, "t", Some("run-1"))).await;
    }
    eventually("six relayed deliveries", || rec.seen().len() >= 6).await;
    let order: Vec<String> = rec.seen().into_iter().map(|(id, _)| id).collect();
    assert_eq!(order, ids, "one key, so delivered in the order written");
    for id in &ids {
        let mut marked = false;
        for _ in 0..100 {
            let doc = h.store.get(outbox::COLLECTION, id).await.expect("get").expect("outbox doc");
            if doc.data["published"] == json!(true) {
                marked = true;
                break;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        assert!(marked, "{id} is marked published");
    }
    bus.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_crash_before_marking_republishes_with_the_same_message_id() {
    let c = config();
    let (h, first, store, _guard) = start(c.clone()).await;
    let rec = Recorder::accepting();
    h.bus.subscribe("s", "t", rec.clone()).expect("subscribe");
    assert!(h.bus.publish(message("once", "t", None)).await.expect("publish"));
    eventually("the first delivery", || !rec.seen().is_empty()).await;
    first.shutdown().await;
    // As if the publisher had died between publishing and marking: unmarked, lease expired.
    let doc = h.store.get(outbox::COLLECTION, "once").await.expect("get").expect("outbox doc");
    assert_eq!(doc.data["published"], json!(true));
    let mut data = doc.data.clone();
    data["published"] = json!(false);
    data["lease_until_ms"] = json!(0);
    h.store.put(outbox::COLLECTION, "once", data).await.expect("unmark");
    // The next process relays it again, under the same id, so its handler can dedupe.
    let (h2, second) = start_on(c, store).await;
    let again = Recorder::accepting();
    h2.bus.subscribe("s", "t", again.clone()).expect("subscribe");
    eventually("the republished delivery", || !again.seen().is_empty()).await;
    assert_eq!(again.attempts_of("once"), [1]);
    second.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stats_count_what_waits_in_the_outbox() {
    let mut c = config();
    // A relay that does not come round during the test.
    c.relay_interval = Duration::from_secs(3600);
    let (h, bus, _store, _guard) = start(c).await;
    h.bus.subscribe("s", "t", Recorder::accepting()).expect("subscribe");
    write_like_a_document_store(h.store.as_ref(), &message("waiting", "t", None)).await;
    write_like_a_document_store(h.store.as_ref(), &message("other", "elsewhere", None)).await;
    let stats = h.bus.stats().await.expect("stats");
    let s = stats.iter().find(|s| s.subscription == "s").expect("stats of s");
    assert_eq!((s.topic.as_str(), s.backlog, s.retrying), ("t", 1, 0));
    bus.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_relay_with_an_origin_relays_only_its_own_documents() {
    let mut c = config();
    c.outbox_origin = Some("monitor".into());
    let (h, bus, _store, _guard) = start(c).await;
    let rec = Recorder::accepting();
    h.bus.subscribe("s", "t", rec.clone()).expect("subscribe");
    let (mine, theirs) = (message("mine", "t", None), message("theirs", "t", None));
    for (m, origin) in [(&theirs, "logscan"), (&mine, "monitor")] {
        let batch = WriteBatch::new().create(outbox::COLLECTION, &m.id, outbox::to_doc(m, Some(origin)));
        h.store.commit(batch).await.expect("commit outbox document");
    }
    eventually("its own document relayed", || rec.seen().iter().any(|(id, _)| id == "mine")).await;
    // Ten relay rounds later, the other function's document is still waiting for its relay.
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert!(rec.seen().iter().all(|(id, _)| id != "theirs"), "{:?}", rec.seen());
    let doc = h.store.get(outbox::COLLECTION, "theirs").await.expect("get").expect("outbox doc");
    assert_eq!(doc.data["published"], json!(false), "{}", doc.data);
    bus.shutdown().await;
}
