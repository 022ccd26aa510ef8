//! kill -9 in the middle of a stream of deliveries: every delivery acknowledged with 2xx must be
//! present after a restart, exactly once, and its event must reach the consumers' side exactly
//! once.

use crate::support::{Server, get_json, post, settled_delivery};
use aetherveil::fixtures;
use aetherveil_models::names;
use aetherveil_store::{Query, SqliteStore, Store, Synchronous};
use chrono::Utc;
use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

const SENDERS: u64 = 8;
const KILL_AFTER_ACKS: u64 = 300;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn acknowledged_deliveries_survive_kill_9_exactly_once() {
    survives_kill_9("inline").await;
}

/// Queued: a kill between the acknowledging commit and the normalizer's leaves the delivery
/// queued; after the restart the normalizer finishes it, once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn queued_deliveries_survive_kill_9_and_are_normalized_exactly_once() {
    survives_kill_9("queued").await;
}

/// Log: a kill after the acknowledging write leaves the delivery in the ingest log; after the
/// restart the applier stores it, once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn logged_deliveries_survive_kill_9_and_are_applied_exactly_once() {
    survives_kill_9("log").await;
}

async fn survives_kill_9(intake: &str) {
    let dir = tempfile::tempdir().expect("tempdir");
    let env = [("AETHERVEIL_WEBHOOK_INTAKE", intake)];
    let mut server = Server::start_with(dir.path(), &env);
    let base = server.url("");
    let acked: Arc<Mutex<Vec<String>>> = Arc::default();
    let acks = Arc::new(AtomicU64::new(0));
    let stop = Arc::new(AtomicBool::new(false));

    let mut senders = Vec::new();
    for s in 0..SENDERS {
        let (base, acked, acks, stop) = (base.clone(), acked.clone(), acks.clone(), stop.clone());
        senders.push(tokio::spawn(async move {
            let client = reqwest::Client::builder().timeout(Duration::from_secs(5)).build().expect("client");
            for i in 0..100_000u64 {
                if stop.load(Ordering::Relaxed) {
                    break;
                }
                let job_id = s * 1_000_000 + i;
                let payload = fixtures::workflow_job(
                    "crash/test",
                    5_000 + s,
                    job_id,
                    1,
                    "build",
                    "completed",
                    Some("success"),
                    &["ubuntu-latest"],
                    Utc::now(),
                );
                let delivery = format!("crash-{s}-{i}");
                match post(&client, &base, "workflow_job", &delivery, serde_json::to_vec(&payload).expect("json")).await
                {
                    Ok(r) if r.status().is_success() => {
                        acked.lock().expect("lock").push(delivery);
                        acks.fetch_add(1, Ordering::Relaxed);
                    }
                    // The server died under us: this one was never acknowledged.
                    _ => break,
                }
            }
        }));
    }
    for _ in 0..3000 {
        if acks.load(Ordering::Relaxed) >= KILL_AFTER_ACKS {
            break;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    assert!(acks.load(Ordering::Relaxed) >= KILL_AFTER_ACKS, "the stream never got going");
    server.kill9();
    stop.store(true, Ordering::Relaxed);
    for s in senders {
        s.await.expect("sender");
    }
    let acked = acked.lock().expect("lock").clone();
    eprintln!("acknowledged before kill -9: {}", acked.len());

    let server = Server::start_with(dir.path(), &env);
    let client = reqwest::Client::new();
    for id in &acked {
        let (status, doc) = settled_delivery(&client, &server, id).await;
        assert_eq!(status, 200, "acknowledged delivery {id} lost");
        assert_eq!(doc["outcome"], "processed");
        assert_eq!(doc["redeliveries"], 0);
    }

    // The consumers' side: wait until the journal has drained the outbox, then count. The test
    // reads the SQLite file directly (a second reader beside the server is fine in WAL mode).
    let store = SqliteStore::open(server.data_dir.join("aetherveil.db"), Synchronous::Normal).expect("open");
    let mut journal: BTreeMap<String, usize> = BTreeMap::new();
    // Polled for up to 30 s: the reacting functions run at idle priority with intake = "log".
    for _ in 0..1200 {
        journal.clear();
        for doc in store.query(names::EVENTS, Query::new().eq("repo", "crash/test")).await.expect("query") {
            *journal.entry(doc.data["delivery_id"].as_str().expect("id").to_owned()).or_default() += 1;
        }
        if acked.iter().all(|id| journal.contains_key(id)) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    let missing: BTreeSet<_> = acked.iter().filter(|id| !journal.contains_key(*id)).collect();
    assert!(missing.is_empty(), "acknowledged but never delivered to consumers: {missing:?}");
    let twice: Vec<_> = journal.iter().filter(|(_, n)| **n != 1).collect();
    assert!(twice.is_empty(), "delivered to consumers more than once: {twice:?}");

    // A redelivery of an acknowledged delivery after the restart is a duplicate, not a new event.
    let first = &acked[0];
    let (s, i) = first.trim_start_matches("crash-").split_once('-').expect("id");
    let (s, i): (u64, u64) = (s.parse().expect("s"), i.parse().expect("i"));
    let payload = fixtures::workflow_job(
        "crash/test",
        5_000 + s,
        s * 1_000_000 + i,
        1,
        "build",
        "completed",
        Some("success"),
        &["ubuntu-latest"],
        Utc::now(),
    );
    let r = post(&client, &server.url(""), "workflow_job", first, serde_json::to_vec(&payload).expect("json"))
        .await
        .expect("post");
    assert_eq!(r.json::<serde_json::Value>().await.expect("json")["outcome"], "duplicate");
    let (_, body) = get_json(&client, &server.url(&format!("/api/v1/events?delivery_id={first}"))).await;
    assert_eq!(body["events"].as_array().expect("events").len(), 1);
}
