//! The dashboard end to end, without a browser: the alert rule for a repository's failure rate
//! fires to a webhook receiver on loopback when the scenario breaks the repository, and resolves
//! when it recovers; the OpenAPI document lists routes that answer; the new metrics are exported.

use crate::support::{Server, get_json, start_with_simulator};
use aetherveil_simulator::Scenario;
use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde_json::Value;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// One repository, one job, no transient failures: the only failures are the breakage's.
pub const BREAKAGE_SCENARIO: &str = r#"
name = "alerts"
seed = 5
days = 1
wall_seconds = 20
[[repos]]
name = "acme/alerting"
pushes_per_day = 48
[[repos.workflows]]
name = "CI"
file = "ci.yml"
on = ["push"]
[[repos.workflows.jobs]]
name = "test"
runs_on = ["ubuntu-latest"]
tool = "cargo"
duration = { median = "3m", p95 = "4m" }
[[breakages]]
repo = "acme/alerting"
job = "test"
at_push = 16
kind = "test_failure"
fixed_after = 6
"#;

/// A Slack-compatible receiver that refuses the first request with a 503 (so the notifier has to
/// retry) and records every message it accepts.
#[derive(Clone, Default)]
struct Receiver {
    seen: Arc<Mutex<Vec<Value>>>,
    requests: Arc<Mutex<u32>>,
}

async fn receive(State(r): State<Receiver>, Json(body): Json<Value>) -> StatusCode {
    let n = {
        let mut n = r.requests.lock().expect("lock");
        *n += 1;
        *n
    };
    if n == 1 {
        return StatusCode::SERVICE_UNAVAILABLE;
    }
    r.seen.lock().expect("lock").push(body);
    StatusCode::OK
}

async fn start_receiver() -> (Receiver, String) {
    let r = Receiver::default();
    let app = axum::Router::new().route("/hook", axum::routing::post(receive)).with_state(r.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let url = format!("http://{}/hook", listener.local_addr().expect("addr"));
    tokio::spawn(async move { axum::serve(listener, app).await.expect("receiver") });
    (r, url)
}

fn field<'a>(message: &'a Value, title: &str) -> Option<&'a str> {
    message["attachments"][0]["fields"].as_array()?.iter().find(|f| f["title"] == title)?["value"].as_str()
}

fn failure_rate_messages(r: &Receiver, status: &str) -> Vec<Value> {
    r.seen
        .lock()
        .expect("lock")
        .iter()
        .filter(|m| field(m, "rule") == Some("failure_rate") && field(m, "status") == Some(status))
        .cloned()
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failure_rate_alert_fires_to_the_webhook_and_resolves() {
    let (receiver, hook) = start_receiver().await;
    let dir = tempfile::tempdir().expect("tempdir");
    let scenario = Scenario::from_toml(BREAKAGE_SCENARIO, "alerts scenario").expect("scenario");
    let env = [
        ("AETHERVEIL_ALERTS_INTERVAL_SECS", "1"),
        ("AETHERVEIL_ALERTS_WEBHOOK_URL", &hook),
        ("AETHERVEIL_ALERTS_WEBHOOK_BACKOFF_MS", "50"),
        ("AETHERVEIL_ALERTS_FAILURE_RATE_WINDOW_RUNS", "10"),
    ];
    let (sim, server) = start_with_simulator(scenario, &dir.path().join("data"), Duration::from_secs(1), &env).await;
    let report = sim.run(|_| {}).await;
    let report = serde_json::to_value(&report).expect("report");
    assert!(report["runs"].as_u64() > Some(20), "{report}");

    // Fired while the breakage held the failure rate above 20%: exactly one firing notification
    // for the repository (de-duplicated across the evaluations that saw the condition).
    let fired = failure_rate_messages(&receiver, "firing");
    assert_eq!(fired.len(), 1, "one firing notification: {fired:?}");
    assert_eq!(field(&fired[0], "subject"), Some("acme/alerting"));
    assert!(fired[0]["text"].as_str().is_some_and(|t| t.contains("acme/alerting")), "{}", fired[0]);

    // Resolved once the last 10 runs were green again.
    let deadline = Instant::now() + Duration::from_secs(30);
    while failure_rate_messages(&receiver, "resolved").is_empty() && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let resolved = failure_rate_messages(&receiver, "resolved");
    assert_eq!(resolved.len(), 1, "{resolved:?}");
    assert_eq!(field(&resolved[0], "subject"), Some("acme/alerting"));

    let client = reqwest::Client::new();
    let (status, alerts) = get_json(&client, &server.url("/api/v1/alerts")).await;
    assert_eq!(status, 200, "{alerts}");
    let mine: Vec<&Value> = alerts["alerts"]
        .as_array()
        .expect("alerts")
        .iter()
        .filter(|a| a["rule"] == "failure_rate" && a["subject"] == "acme/alerting")
        .collect();
    assert_eq!(mine.len(), 1, "{alerts}");
    let a = mine[0];
    assert_eq!(a["status"], "resolved");
    assert!(a["value"].as_f64() > Some(0.2), "{a}");
    let notes = a["notifications"].as_array().expect("notifications");
    assert!(notes.iter().all(|n| n["result"] == "delivered"), "{a}");
    assert!(notes.iter().any(|n| n["attempts"].as_u64() > Some(1)), "the first attempt got a 503 and was retried: {a}");
    let (status, _) = get_json(&client, &server.url("/api/v1/alerts?status=sometimes")).await;
    assert_eq!(status, 400);

    // The alerts page shows it.
    let page = client.get(server.url("/alerts")).send().await.expect("page").text().await.expect("text");
    assert!(page.contains("acme/alerting") && page.contains("resolved"), "{page}");

    // The metrics the issue names are exported.
    let metrics = client.get(server.url("/metrics")).send().await.expect("metrics").text().await.expect("text");
    for name in [
        "aetherveil_pipeline_duration_seconds_bucket{repo=\"acme/alerting\"",
        "aetherveil_health_score{repo=\"acme/alerting\"}",
        "aetherveil_health_score{repo=\"*\"}",
        "aetherveil_alert_notifications_total{event=\"firing\",result=\"delivered\"}",
        "aetherveil_webhook_outcomes_total",
        "aetherveil_bus_backlog_messages",
        "aetherveil_dead_letters",
    ] {
        assert!(metrics.contains(name), "{name} missing:\n{metrics}");
    }
}

#[tokio::test]
async fn every_documented_get_answers() {
    let dir = tempfile::tempdir().expect("tempdir");
    let server = Server::start(&dir.path().join("data"));
    let client = reqwest::Client::new();
    let (status, doc) = get_json(&client, &server.url("/api/v1/openapi.json")).await;
    assert_eq!(status, 200);
    assert_eq!(doc["openapi"], "3.1.0");
    let paths = doc["paths"].as_object().expect("paths");
    for (path, item) in paths {
        if item.get("get").is_none() {
            continue;
        }
        // Fill path parameters and required-looking queries with values that exist or are valid.
        let url = path
            .replace("{owner}", "acme")
            .replace("{name}", "shop")
            .replace("{run_id}", "1")
            .replace("{job_id}", "1")
            .replace("{delivery_id}", "none")
            .replace("{id}", "none");
        let url = match url.as_str() {
            "/api/v1/forecasts" | "/api/v1/analytics/durations" => format!("{url}?repo=acme/shop&workflow=CI&job=test"),
            _ => url,
        };
        let r = client.get(server.url(&url)).send().await.expect("get");
        let code = r.status().as_u16();
        // A route that does not exist would answer 404 without the API's JSON error body.
        let body = r.text().await.unwrap_or_default();
        assert!(code == 200 || (code == 404 && body.contains("not_found")), "{path}: {code} {body}");
    }
    for page in ["/", "/analytics", "/anomalies", "/failures", "/healing", "/security", "/alerts"] {
        let r = client.get(server.url(page)).send().await.expect("page");
        assert_eq!(r.status(), 200, "{page}");
        let html = r.text().await.expect("html");
        assert!(html.starts_with("<!doctype html>") && !html.contains("<script"), "{page}");
    }
}
