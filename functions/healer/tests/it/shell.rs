//! The healer's shell against a real store, without GitHub.

use aetherveil_bus::{Delivery, Message};
use aetherveil_github::{Config, GitHub};
use aetherveil_healer::{Handled, Healer, HealerConfig};
use aetherveil_models::names;
use aetherveil_store::{SqliteStore, Synchronous};
use serde_json::json;
use std::sync::Arc;

fn failed_run_event() -> Vec<u8> {
    let at = "2026-11-27T10:00:00Z";
    json!({
        "delivery_id": "d-1",
        "github_event": "workflow_run",
        "action": "completed",
        "repo": "acme/app",
        "installation_id": null,
        "received_at": at,
        "kind": "run",
        "record": {
            "run_id": 42, "repo": "acme/app", "workflow_id": 7, "workflow_name": "CI",
            "workflow_path": ".github/workflows/ci.yml", "run_number": 3, "run_attempt": 1,
            "event": "push", "status": "completed", "conclusion": "failure", "head_sha": "abc",
            "head_branch": "main", "head_repo": "acme/app", "from_fork": false, "actor": "dev",
            "pull_requests": [], "created_at": at, "updated_at": at, "run_started_at": at,
            "html_url": null, "installation_id": null
        }
    })
    .to_string()
    .into_bytes()
}

#[tokio::test]
async fn without_github_credentials_a_failed_run_is_left_alone_without_calling_github() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = SqliteStore::open(dir.path().join("db.sqlite"), Synchronous::Normal).expect("open");
    // Nothing listens there: a call would fail after its retries instead of answering at once.
    let github = GitHub::new(Config::new("http://127.0.0.1:9", "")).expect("client");
    let healer = Healer::new(Arc::new(store), github.clone(), HealerConfig::default());
    let message = Message {
        id: "m-1".into(),
        topic: names::TOPIC_PIPELINE_EVENTS.into(),
        key: Some("42".into()),
        attributes: Default::default(),
        data: failed_run_event(),
    };
    let handled = healer.process(&Delivery { message, attempt: 1 }).await.expect("handled");
    assert_eq!(handled, Handled::NoCredentials);
    assert_eq!(github.stats().requests_total, 0, "no request without credentials");
}
