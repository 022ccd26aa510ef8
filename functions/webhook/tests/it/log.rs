//! With `webhook.intake = "log"`: the ingest log and its applier.

use super::*;
use aetherveil_webhook::{Applier, IngestLog};
use std::io::Write;

const MAX: u64 = 1 << 30;

struct LogEnv {
    env: Env,
    log: IngestLog,
    applier: Applier,
    dir: std::path::PathBuf,
}

fn log_env() -> LogEnv {
    let env = env();
    let dir = env._dir.path().join("ingest");
    let log = IngestLog::open(&dir, false, MAX).expect("open log");
    let webhook =
        Webhook::new(SECRET, 25 * 1024 * 1024, Arc::new(env.store.clone()), env.metrics.clone()).with_log(log.clone());
    let applier = Applier::new(log.clone(), Arc::new(env.store.background()), env.metrics.clone());
    LogEnv { env: Env { router: Arc::new(webhook).router(), ..env }, log, applier, dir }
}

#[tokio::test]
async fn a_logged_delivery_is_acknowledged_before_the_store_and_applied_once() {
    let t = log_env();
    let payload = run_payload(42, 1, "completed", "completed", Some("failure"), "2026-11-01T10:05:00Z");
    let (status, answer) = send(&t.env, signed("workflow_run", "l-42", &payload)).await;
    assert_eq!((status, answer), (StatusCode::OK, json!({"outcome": "queued", "delivery_id": "l-42"})));

    // Acknowledged: in the log and pending, nothing in the store yet.
    assert!(t.env.store.get(names::DELIVERIES, "l-42").await.expect("get").is_none());
    let pending = t.log.pending("l-42").expect("pending");
    assert_eq!(
        (pending.event.as_str(), pending.body_bytes),
        ("workflow_run", serde_json::to_vec(&payload).expect("json").len())
    );
    let shown = aetherveil_webhook::pending_record("l-42", &pending);
    assert_eq!(shown["outcome"], "queued");

    // Redelivered while pending: a duplicate, counted once applied.
    let (status, answer) = send(&t.env, signed("workflow_run", "l-42", &payload)).await;
    assert_eq!((status, answer["outcome"].as_str()), (StatusCode::OK, Some("duplicate")));

    t.applier.drain().await.expect("applied");
    assert!(t.log.pending("l-42").is_none());
    let delivery = t.env.store.get(names::DELIVERIES, "l-42").await.expect("get").expect("stored");
    assert_eq!(delivery.data["outcome"], "processed");
    assert_eq!(delivery.data["redeliveries"], 1);
    let raw_key = delivery.data["raw_key"].as_str().expect("raw key");
    let raw = t.env.store.get_blob(names::RAW_DELIVERIES_BLOBS, raw_key).await.expect("blob").expect("raw kept");
    assert_eq!(raw, serde_json::to_vec(&payload).expect("json"));
    let run = t.env.store.get(names::RUNS, "42").await.expect("get").expect("run");
    assert_eq!(run.data["conclusion"], "failure");
    let events = published(&t.env.store, names::TOPIC_PIPELINE_EVENTS).await;
    assert_eq!(events.len(), 1);
    assert_eq!(events[0].key.as_deref(), Some("run-42"));

    // Redelivered once stored: found in the store, counted by the applier.
    let (status, answer) = send(&t.env, signed("workflow_run", "l-42", &payload)).await;
    assert_eq!((status, answer["outcome"].as_str()), (StatusCode::OK, Some("duplicate")));
    t.applier.drain().await.expect("applied");
    let delivery = t.env.store.get(names::DELIVERIES, "l-42").await.expect("get").expect("stored");
    assert_eq!(delivery.data["redeliveries"], 2);
    assert_eq!(published(&t.env.store, names::TOPIC_PIPELINE_EVENTS).await.len(), 1, "published once");
}

#[tokio::test]
async fn logged_deliveries_end_ignored_or_refused_as_inline_ones_do() {
    let t = log_env();
    let star = json!({"action": "created", "repository": {"full_name": "acme/widgets"}});
    let (status, answer) = send(&t.env, signed("star", "ls-1", &star)).await;
    assert_eq!((status, answer["outcome"].as_str()), (StatusCode::ACCEPTED, Some("queued")));
    let broken = b"{\"action\": ".to_vec();
    let sig = Secret::new(SECRET).sign(&broken);
    let (status, answer) = send(&t.env, request("workflow_run", "ls-2", broken, Some(sig))).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(answer["message"].as_str().expect("reason").contains("EOF"), "{answer}");
    assert!(t.log.pending("ls-2").is_none(), "nothing logged");
    let (status, _) = send(&t.env, request("workflow_run", "ls-3", b"{}".to_vec(), Some("sha256=00".into()))).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(t.log.pending_count(), 1);

    t.applier.drain().await.expect("applied");
    let star = t.env.store.get(names::DELIVERIES, "ls-1").await.expect("get").expect("recorded");
    assert_eq!(star.data["outcome"], "ignored");
    assert!(published(&t.env.store, names::TOPIC_PIPELINE_EVENTS).await.is_empty());
}

#[tokio::test]
async fn a_reopened_log_applies_what_was_left_cuts_a_torn_tail_and_doubles_nothing() {
    let t = log_env();
    let states = [("requested", "queued", None), ("completed", "completed", Some("success"))];
    for run in 0..3u64 {
        for (i, (action, status, conclusion)) in states.iter().enumerate() {
            let payload = run_payload(200 + run, 1, action, status, *conclusion, &format!("2026-11-01T10:0{i}:00Z"));
            let id = format!("r-{run}-{i}");
            assert_eq!(send(&t.env, signed("workflow_run", &id, &payload)).await.0, StatusCode::OK);
        }
    }
    // Applied up to here once, as if the process died before saving the applied position.
    t.applier.drain().await.expect("applied");
    let applied = std::fs::read_to_string(t.dir.join("applied")).expect("applied file");
    std::fs::write(t.dir.join("applied"), "0").expect("rewind");
    t.log.close();
    // And a write that never completed (never acknowledged).
    let segment = t.dir.join(format!("{:020}.log", 0));
    std::fs::OpenOptions::new().append(true).open(&segment).expect("segment").write_all(&[9, 0, 0]).expect("torn");

    let log = IngestLog::open(&t.dir, false, MAX).expect("reopen");
    assert_eq!(log.pending_count(), 6, "everything after the saved position is pending again");
    let applier = Applier::new(log.clone(), Arc::new(t.env.store.background()), t.env.metrics.clone());
    applier.drain().await.expect("applied again");
    assert_eq!(log.pending_count(), 0);
    assert_eq!(std::fs::read_to_string(t.dir.join("applied")).expect("applied file"), applied);
    let end: u64 = applied.parse().expect("position");
    assert_eq!(std::fs::metadata(&segment).expect("segment").len(), end, "the torn tail is cut off");
    assert_eq!(published(&t.env.store, names::TOPIC_PIPELINE_EVENTS).await.len(), 6, "each event once");
    for run in 0..3u64 {
        let doc = t.env.store.get(names::RUNS, &(200 + run).to_string()).await.expect("get").expect("run");
        assert_eq!(doc.data["status"], "completed");
        for i in 0..2 {
            let d = t.env.store.get(names::DELIVERIES, &format!("r-{run}-{i}")).await.expect("get").expect("stored");
            assert_eq!(d.data["redeliveries"], 0, "a replay is not a redelivery");
        }
    }
}

#[tokio::test]
async fn a_full_log_refuses_new_deliveries_with_503_until_applied() {
    let env = env();
    let dir = env._dir.path().join("ingest");
    let log = IngestLog::open(&dir, false, 1 << 20).expect("open log");
    let webhook =
        Webhook::new(SECRET, 25 * 1024 * 1024, Arc::new(env.store.clone()), env.metrics.clone()).with_log(log.clone());
    let applier = Applier::new(log.clone(), Arc::new(env.store.background()), env.metrics.clone());
    let env = Env { router: Arc::new(webhook).router(), ..env };
    let mut payload = run_payload(7, 1, "requested", "queued", None, "2026-11-01T10:00:00Z");
    payload["padding"] = json!("x".repeat(300 << 10));
    let mut statuses = Vec::new();
    for i in 0..5 {
        statuses.push(send(&env, signed("workflow_run", &format!("f-{i}"), &payload)).await.0);
    }
    assert_eq!(statuses[..3], [StatusCode::OK; 3]);
    assert_eq!(statuses[3..], [StatusCode::SERVICE_UNAVAILABLE; 2]);
    assert!(log.pending("f-3").is_none(), "a refused delivery is not pending");
    applier.drain().await.expect("applied");
    assert_eq!(send(&env, signed("workflow_run", "f-3", &payload)).await.0, StatusCode::OK);
}

#[tokio::test]
async fn segments_roll_over_and_applied_ones_are_deleted() {
    let t = log_env();
    let mut payload = run_payload(8, 1, "requested", "queued", None, "2026-11-01T10:00:00Z");
    payload["padding"] = json!("y".repeat(5 << 20));
    for i in 0..14 {
        assert_eq!(send(&t.env, signed("workflow_run", &format!("s-{i}"), &payload)).await.0, StatusCode::OK);
    }
    let segments = || {
        std::fs::read_dir(&t.dir)
            .expect("dir")
            .filter(|e| e.as_ref().is_ok_and(|e| e.file_name().to_string_lossy().ends_with(".log")))
            .count()
    };
    assert!(segments() >= 2, "over 64 MiB starts a new segment");
    t.applier.drain().await.expect("applied");
    assert_eq!(segments(), 1, "only the segment being written is kept");
    assert_eq!(count(&t.env.store, names::DELIVERIES).await, 14);
}
