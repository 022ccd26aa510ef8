//! The webhook function through its router, over a real SQLite store and local bus.

use aetherveil_bus::testsuite::{Recorder, eventually};
use aetherveil_bus::{Bus, Delivery, Handler, LocalBus, Message, RetryPolicy};
use aetherveil_models::names;
use aetherveil_runtime::Metrics;
use aetherveil_runtime::metrics::Counter;
use aetherveil_store::{Query, SqliteStore, Store, Synchronous};
use aetherveil_webhook::signature::Secret;
use aetherveil_webhook::{Intake, NORMALIZE_SUBSCRIPTION, Normalizer, Webhook};
use axum::Router;
use axum::body::Body;
use axum::http::{Request, StatusCode};
use http_body_util::BodyExt;
use serde_json::{Value, json};
use std::sync::Arc;
use tower::ServiceExt;

const SECRET: &[u8] = b"It's a Secret to Everybody";

struct Env {
    router: Router,
    store: SqliteStore,
    bus: LocalBus,
    metrics: Arc<Metrics>,
    _dir: tempfile::TempDir,
}

fn env_with_limit(max_body: usize) -> Env {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = SqliteStore::open(dir.path().join("aetherveil.db"), Synchronous::Normal).expect("open");
    let bus = LocalBus::new(store.clone(), RetryPolicy::default());
    let metrics = Arc::new(Metrics::new());
    let webhook = Arc::new(Webhook::new(SECRET, max_body, Arc::new(store.clone()), metrics.clone()));
    Env { router: webhook.router(), store, bus, metrics, _dir: dir }
}

fn env() -> Env {
    env_with_limit(25 * 1024 * 1024)
}

fn request(event: &str, delivery: &str, body: Vec<u8>, signature: Option<String>) -> Request<Body> {
    let mut r = Request::post("/webhook/github")
        .header("content-type", "application/json")
        .header("x-github-event", event)
        .header("x-github-delivery", delivery);
    if let Some(sig) = signature {
        r = r.header("x-hub-signature-256", sig);
    }
    r.body(Body::from(body)).expect("request")
}

fn signed(event: &str, delivery: &str, body: &Value) -> Request<Body> {
    let bytes = serde_json::to_vec(body).expect("json");
    let sig = Secret::new(SECRET).sign(&bytes);
    request(event, delivery, bytes, Some(sig))
}

async fn send(env: &Env, req: Request<Body>) -> (StatusCode, Value) {
    let res = env.router.clone().oneshot(req).await.expect("response");
    let status = res.status();
    let bytes = res.into_body().collect().await.expect("body").to_bytes();
    (status, serde_json::from_slice(&bytes).unwrap_or(Value::Null))
}

async fn count(store: &SqliteStore, collection: &str) -> usize {
    store.query(collection, Query::new()).await.expect("query").len()
}

async fn blob_count(store: &SqliteStore) -> i64 {
    store.read(|c| Ok(c.query_row("SELECT COUNT(*) FROM blobs", [], |r| r.get(0))?)).await.expect("count")
}

async fn outbox_len(store: &SqliteStore) -> i64 {
    store.read(|c| Ok(c.query_row("SELECT COUNT(*) FROM outbox", [], |r| r.get(0))?)).await.expect("count")
}

/// A minimal workflow_run payload of our own (not GitHub's example files).
fn run_payload(
    run_id: u64,
    attempt: u32,
    action: &str,
    status: &str,
    conclusion: Option<&str>,
    updated_at: &str,
) -> Value {
    json!({
        "action": action,
        "workflow_run": {
            "id": run_id, "name": "CI", "path": ".github/workflows/ci.yml", "workflow_id": 7,
            "run_number": 12, "run_attempt": attempt, "event": "push", "status": status,
            "conclusion": conclusion, "head_sha": "deadbeef", "head_branch": "main",
            "head_repository": {"id": 1, "full_name": "acme/widgets"},
            "pull_requests": [], "actor": {"login": "dev"},
            "created_at": "2026-11-01T10:00:00Z", "updated_at": updated_at, "run_started_at": "2026-11-01T10:00:01Z"
        },
        "repository": {"id": 1, "full_name": "acme/widgets", "fork": false},
        "sender": {"login": "dev"}
    })
}

#[tokio::test]
async fn githubs_test_vector_passes_verification_over_http() {
    let env = env();
    let sig = "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17".to_owned();
    let (status, body) = send(&env, request("ping", "vector-1", b"Hello, World!".to_vec(), Some(sig))).await;
    // Authentic, so it gets past the 401; then the body is not JSON.
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body["error"], "malformed_json");
    assert!(body["message"].as_str().expect("reason").contains("line 1"), "{body}");
}

#[tokio::test]
async fn bad_signatures_get_401_and_store_nothing() {
    let env = env();
    let body =
        serde_json::to_vec(&run_payload(1, 1, "requested", "queued", None, "2026-11-01T10:00:00Z")).expect("json");
    let good = Secret::new(SECRET).sign(&body);
    let mut tampered = body.clone();
    tampered[20] ^= 1;
    for (req, reason) in [
        (request("workflow_run", "d-1", tampered, Some(good.clone())), "bad_signature"),
        (request("workflow_run", "d-2", body.clone(), Some(Secret::new(b"wrong").sign(&body))), "bad_signature"),
        (request("workflow_run", "d-3", body.clone(), None), "missing_signature"),
    ] {
        let (status, answer) = send(&env, req).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
        assert_eq!(answer["error"], reason);
    }
    assert_eq!(count(&env.store, names::DELIVERIES).await, 0);
    assert_eq!(count(&env.store, names::RUNS).await, 0);
    assert_eq!(outbox_len(&env.store).await, 0);
    assert_eq!(blob_count(&env.store).await, 0);
    assert_eq!(
        env.metrics.counter(
            Counter::WebhookOutcomes,
            &[("outcome", "rejected"), ("reason", "bad_signature"), ("event", "workflow_run")]
        ),
        2
    );
}

#[tokio::test]
async fn oversized_bodies_get_413_and_store_nothing() {
    // The real limit, 25 MiB, declared up front in Content-Length.
    let env = env();
    let big = vec![b' '; 25 * 1024 * 1024 + 1];
    let sig = Secret::new(SECRET).sign(&big);
    let mut req = request("push", "big-1", big, Some(sig));
    req.headers_mut().insert("content-length", (25 * 1024 * 1024 + 1).to_string().parse().expect("header"));
    let (status, answer) = send(&env, req).await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(answer["error"], "too_large");

    // Without Content-Length the body is cut off while it is read.
    let env = env_with_limit(1024);
    let body = vec![b' '; 4096];
    let sig = Secret::new(SECRET).sign(&body);
    let (status, _) = send(&env, request("push", "big-2", body, Some(sig))).await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(count(&env.store, names::DELIVERIES).await, 0);
    assert_eq!(blob_count(&env.store).await, 0);
    assert_eq!(outbox_len(&env.store).await, 0);
}

#[tokio::test]
async fn broken_json_gets_400_with_the_parsers_reason() {
    let env = env();
    for (event, body) in [
        ("workflow_run", &b"{\"action\": \"completed\", "[..]),
        ("star", &b"[1, 2"[..]),
        ("ping", &b"{\"zen\": tru}"[..]),
    ] {
        let sig = Secret::new(SECRET).sign(body);
        let (status, answer) = send(&env, request(event, "j-1", body.to_vec(), Some(sig))).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{event}");
        assert_eq!(answer["error"], "malformed_json");
        let reason = answer["message"].as_str().expect("reason");
        assert!(reason.contains("line 1 column"), "{reason}");
    }
    assert_eq!(count(&env.store, names::DELIVERIES).await, 0);
}

#[tokio::test]
async fn missing_headers_get_400() {
    let env = env();
    let body = b"{}".to_vec();
    let sig = Secret::new(SECRET).sign(&body);
    let (status, answer) = send(&env, request("", "h-1", body.clone(), Some(sig.clone()))).await;
    assert_eq!((status, answer["error"].as_str()), (StatusCode::BAD_REQUEST, Some("missing_event_header")));
    let (status, answer) = send(&env, request("push", "../../etc", body, Some(sig))).await;
    assert_eq!((status, answer["error"].as_str()), (StatusCode::BAD_REQUEST, Some("bad_delivery_id")));
}

#[tokio::test]
async fn a_handled_event_is_stored_normalized_and_published_once() {
    let env = env();
    let rec = Recorder::accepting();
    env.bus.subscribe("probe", names::TOPIC_PIPELINE_EVENTS, rec.clone()).expect("subscribe");
    let payload = run_payload(42, 1, "completed", "completed", Some("failure"), "2026-11-01T10:05:00Z");
    let (status, answer) = send(&env, signed("workflow_run", "del-42", &payload)).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(answer, json!({"outcome": "processed", "delivery_id": "del-42"}));

    let delivery = env.store.get(names::DELIVERIES, "del-42").await.expect("get").expect("stored");
    assert_eq!(delivery.data["outcome"], "processed");
    assert_eq!(delivery.data["event"], "workflow_run");
    assert_eq!(delivery.data["repo"], "acme/widgets");
    let raw_key = delivery.data["raw_key"].as_str().expect("raw key");
    let raw = env.store.get_blob(names::RAW_DELIVERIES_BLOBS, raw_key).await.expect("blob").expect("raw kept");
    assert_eq!(raw, serde_json::to_vec(&payload).expect("json"), "the raw body is kept byte for byte");
    let run = env.store.get(names::RUNS, "42").await.expect("get").expect("run");
    assert_eq!((run.data["conclusion"].as_str(), run.data["run_attempt"].as_u64()), (Some("failure"), Some(1)));

    eventually("the event reaches the subscriber", || !rec.seen().is_empty()).await;
    let (status, answer) = send(&env, signed("workflow_run", "del-42", &payload)).await;
    assert_eq!((status, answer["outcome"].as_str()), (StatusCode::OK, Some("duplicate")));
    let delivery = env.store.get(names::DELIVERIES, "del-42").await.expect("get").expect("stored");
    assert_eq!(delivery.data["redeliveries"], 1);
    assert_eq!(outbox_len(&env.store).await, 1, "a redelivery publishes nothing");
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    let message_id = delivery.data["message_id"].as_str().expect("message id");
    assert!(message_id.starts_with("gh-") && message_id.ends_with("-del-42"), "{message_id}");
    assert_eq!(rec.attempts_of(message_id), [1]);
    let event: Value = serde_json::from_slice(
        &env.store
            .read(|c| Ok(c.query_row("SELECT data FROM outbox", [], |r| r.get::<_, Vec<u8>>(0))?))
            .await
            .expect("outbox"),
    )
    .expect("json");
    assert_eq!(event["kind"], "run");
    assert_eq!(event["record"]["run_id"], 42);
    assert_eq!(event["delivery_id"], "del-42");
    env.bus.shutdown().await;
}

#[tokio::test]
async fn late_out_of_order_deliveries_do_not_overwrite_newer_state() {
    let env = env();
    let completed = run_payload(7, 1, "completed", "completed", Some("success"), "2026-11-01T10:09:00Z");
    let in_progress = run_payload(7, 1, "in_progress", "in_progress", None, "2026-11-01T10:01:00Z");
    let rerun_requested = run_payload(7, 2, "requested", "queued", None, "2026-11-01T11:00:00Z");
    assert_eq!(send(&env, signed("workflow_run", "o-1", &completed)).await.0, StatusCode::OK);
    assert_eq!(send(&env, signed("workflow_run", "o-2", &in_progress)).await.0, StatusCode::OK);
    let run = env.store.get(names::RUNS, "7").await.expect("get").expect("run");
    assert_eq!(run.data["status"], "completed", "the late in_progress is recorded but does not win");
    assert_eq!(send(&env, signed("workflow_run", "o-3", &rerun_requested)).await.0, StatusCode::OK);
    let run = env.store.get(names::RUNS, "7").await.expect("get").expect("run");
    assert_eq!((run.data["status"].as_str(), run.data["run_attempt"].as_u64()), (Some("queued"), Some(2)));
    assert_eq!(outbox_len(&env.store).await, 3, "every delivery is still published for the monitor");
}

#[tokio::test]
async fn unknown_events_and_unexpected_shapes_are_ignored_with_a_recorded_outcome() {
    let env = env();
    let (status, answer) =
        send(&env, signed("star", "s-1", &json!({"action": "created", "repository": {"full_name": "acme/widgets"}})))
            .await;
    assert_eq!((status, answer["outcome"].as_str()), (StatusCode::ACCEPTED, Some("ignored")));
    let doc = env.store.get(names::DELIVERIES, "s-1").await.expect("get").expect("recorded");
    assert_eq!(doc.data["outcome"], "ignored");
    assert_eq!(doc.data["repo"], "acme/widgets");
    assert!(doc.data["ignored_reason"].as_str().expect("reason").contains("not handled"));

    // A handled type whose payload lacks what we need: kept, recorded, not an error.
    let (status, _) =
        send(&env, signed("workflow_run", "s-2", &json!({"action": "completed", "workflow_run": {"id": "x"}}))).await;
    assert_eq!(status, StatusCode::ACCEPTED);
    let doc = env.store.get(names::DELIVERIES, "s-2").await.expect("get").expect("recorded");
    assert!(doc.data["ignored_reason"].as_str().expect("reason").contains("shape"), "{}", doc.data);
    let raw_key = doc.data["raw_key"].as_str().expect("raw key");
    assert!(env.store.get_blob(names::RAW_DELIVERIES_BLOBS, raw_key).await.expect("blob").is_some());
    assert_eq!(outbox_len(&env.store).await, 0);
}

#[tokio::test]
async fn concurrent_redeliveries_of_one_id_store_and_publish_once() {
    let env = env();
    let payload = run_payload(9, 1, "requested", "queued", None, "2026-11-01T10:00:00Z");
    let mut tasks = Vec::new();
    for _ in 0..12 {
        let router = env.router.clone();
        let req = signed("workflow_run", "same-id", &payload);
        tasks.push(tokio::spawn(async move { router.oneshot(req).await.expect("response").status() }));
    }
    for t in tasks {
        assert_eq!(t.await.expect("join"), StatusCode::OK);
    }
    assert_eq!(outbox_len(&env.store).await, 1);
    let doc = env.store.get(names::DELIVERIES, "same-id").await.expect("get").expect("stored");
    assert_eq!(doc.data["redeliveries"], 11);
}

// With `webhook.intake = "queued"`.

fn queued_env() -> (Env, Arc<Normalizer>) {
    let env = env();
    let webhook = Webhook::new(SECRET, 25 * 1024 * 1024, Arc::new(env.store.clone()), env.metrics.clone())
        .with_intake(Intake::Queued);
    let normalizer = Arc::new(Normalizer::new(Arc::new(env.store.background()), env.metrics.clone()));
    (Env { router: Arc::new(webhook).router(), ..env }, normalizer)
}

/// The messages on `topic`, read from the outbox.
async fn published(store: &SqliteStore, topic: &str) -> Vec<Message> {
    let topic = topic.to_owned();
    store
        .read(move |c| {
            let mut stmt = c.prepare("SELECT id, key, attributes, data FROM outbox WHERE topic = ?1 ORDER BY seq")?;
            let rows = stmt.query_map([&topic], |r| {
                let attributes: String = r.get(2)?;
                Ok(Message {
                    id: r.get(0)?,
                    topic: topic.clone(),
                    key: r.get(1)?,
                    attributes: serde_json::from_str(&attributes).unwrap_or_default(),
                    data: r.get(3)?,
                })
            })?;
            Ok(rows.collect::<Result<Vec<_>, _>>()?)
        })
        .await
        .expect("outbox")
}

async fn normalize_all(env: &Env, normalizer: &Normalizer) {
    for message in published(&env.store, names::TOPIC_WEBHOOK_INTAKE).await {
        normalizer.handle(&Delivery { message, attempt: 1 }).await.expect("normalized");
    }
}

#[tokio::test]
async fn a_queued_delivery_is_acknowledged_first_and_normalized_once() {
    let (env, normalizer) = queued_env();
    let payload = run_payload(42, 1, "completed", "completed", Some("failure"), "2026-11-01T10:05:00Z");
    let (status, answer) = send(&env, signed("workflow_run", "q-42", &payload)).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(answer, json!({"outcome": "queued", "delivery_id": "q-42"}));

    // Acknowledged: the raw body and a queued record, no run yet, one message for the normalizer.
    let delivery = env.store.get(names::DELIVERIES, "q-42").await.expect("get").expect("stored");
    assert_eq!(delivery.data["outcome"], "queued");
    let raw_key = delivery.data["raw_key"].as_str().expect("raw key").to_owned();
    let raw = env.store.get_blob(names::RAW_DELIVERIES_BLOBS, &raw_key).await.expect("blob").expect("raw kept");
    assert_eq!(raw, serde_json::to_vec(&payload).expect("json"));
    assert!(env.store.get(names::RUNS, "42").await.expect("get").is_none());
    let intake = published(&env.store, names::TOPIC_WEBHOOK_INTAKE).await;
    assert_eq!(intake.len(), 1);
    assert_eq!(intake[0].key.as_deref(), Some("run-42"), "the key normalize gives the run's events");
    assert!(published(&env.store, names::TOPIC_PIPELINE_EVENTS).await.is_empty());

    // A redelivery while it waits is a duplicate, counted on the queued record.
    let (status, answer) = send(&env, signed("workflow_run", "q-42", &payload)).await;
    assert_eq!((status, answer["outcome"].as_str()), (StatusCode::OK, Some("duplicate")));

    // The normalizer, twice (the bus delivers at least once): one run, one event, the count kept.
    normalize_all(&env, &normalizer).await;
    normalize_all(&env, &normalizer).await;
    let delivery = env.store.get(names::DELIVERIES, "q-42").await.expect("get").expect("stored");
    assert_eq!(delivery.data["outcome"], "processed");
    assert_eq!(delivery.data["repo"], "acme/widgets");
    assert_eq!(delivery.data["redeliveries"], 1);
    assert_eq!(delivery.data["raw_key"], raw_key.as_str());
    let run = env.store.get(names::RUNS, "42").await.expect("get").expect("run");
    assert_eq!(run.data["conclusion"], "failure");
    let events = published(&env.store, names::TOPIC_PIPELINE_EVENTS).await;
    assert_eq!(events.len(), 1);
    assert_eq!(events[0].key.as_deref(), Some("run-42"));
    let event: Value = serde_json::from_slice(&events[0].data).expect("json");
    assert_eq!((event["delivery_id"].as_str(), event["kind"].as_str()), (Some("q-42"), Some("run")));
}

#[tokio::test]
async fn queued_deliveries_end_ignored_or_refused_as_inline_ones_do() {
    let (env, normalizer) = queued_env();
    let star = json!({"action": "created", "repository": {"full_name": "acme/widgets"}});
    let (status, answer) = send(&env, signed("star", "qs-1", &star)).await;
    assert_eq!((status, answer["outcome"].as_str()), (StatusCode::ACCEPTED, Some("queued")));
    let odd = json!({"action": "completed", "workflow_run": {"id": "x"}});
    assert_eq!(send(&env, signed("workflow_run", "qs-2", &odd)).await.0, StatusCode::OK);
    let broken = b"{\"action\": ".to_vec();
    let sig = Secret::new(SECRET).sign(&broken);
    let (status, answer) = send(&env, request("workflow_run", "qs-3", broken, Some(sig))).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(answer["message"].as_str().expect("reason").contains("EOF"), "{answer}");
    assert!(env.store.get(names::DELIVERIES, "qs-3").await.expect("get").is_none(), "nothing stored");

    normalize_all(&env, &normalizer).await;
    let star = env.store.get(names::DELIVERIES, "qs-1").await.expect("get").expect("recorded");
    assert_eq!((star.data["outcome"].as_str(), star.data["repo"].as_str()), (Some("ignored"), Some("acme/widgets")));
    assert!(star.data["ignored_reason"].as_str().expect("reason").contains("not handled"));
    let odd = env.store.get(names::DELIVERIES, "qs-2").await.expect("get").expect("recorded");
    assert_eq!(odd.data["outcome"], "ignored");
    assert!(odd.data["ignored_reason"].as_str().expect("reason").contains("shape"), "{}", odd.data);
    assert!(published(&env.store, names::TOPIC_PIPELINE_EVENTS).await.is_empty());
}

#[tokio::test]
async fn over_the_bus_every_queued_delivery_is_published_once() {
    let (env, normalizer) = queued_env();
    let rec = Recorder::accepting();
    env.bus.subscribe(NORMALIZE_SUBSCRIPTION, names::TOPIC_WEBHOOK_INTAKE, normalizer).expect("subscribe");
    env.bus.subscribe("probe", names::TOPIC_PIPELINE_EVENTS, rec.clone()).expect("subscribe");
    let states = [
        ("requested", "queued", None),
        ("in_progress", "in_progress", None),
        ("completed", "completed", Some("success")),
    ];
    let mut ids = Vec::new();
    for run in 0..4u64 {
        for (i, (action, status, conclusion)) in states.iter().enumerate() {
            let at = format!("2026-11-01T10:0{i}:00Z");
            let id = format!("b-{run}-{i}");
            let payload = run_payload(100 + run, 1, action, status, *conclusion, &at);
            assert_eq!(send(&env, signed("workflow_run", &id, &payload)).await.0, StatusCode::OK);
            ids.push(id);
        }
    }
    eventually("every queued delivery is published", || rec.seen().len() >= ids.len()).await;
    for id in &ids {
        let doc = env.store.get(names::DELIVERIES, id).await.expect("get").expect("stored");
        assert_eq!(doc.data["outcome"], "processed", "{id}");
    }
    for run in 0..4u64 {
        let doc = env.store.get(names::RUNS, &(100 + run).to_string()).await.expect("get").expect("run");
        assert_eq!(doc.data["status"], "completed", "the newest state wins");
    }
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    let seen = rec.seen();
    let mut distinct: Vec<&String> = seen.iter().map(|(id, _)| id).collect();
    distinct.sort();
    distinct.dedup();
    assert_eq!((seen.len(), distinct.len()), (ids.len(), ids.len()), "each event once: {seen:?}");
    env.bus.shutdown().await;
}

mod log;
