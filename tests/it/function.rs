//! `aetherveil run-function`: one function per process, as its Cloud Run container runs it.

use crate::support::{SECRET, bin, free_addr, post};
use aetherveil::fixtures;
use base64::Engine;
use std::process::{Command, Stdio};
use std::time::Duration;

struct Child(std::process::Child);

impl Drop for Child {
    fn drop(&mut self) {
        let _ignored = self.0.kill();
        let _ignored = self.0.wait();
    }
}

async fn start(target: &str, data_dir: &std::path::Path) -> (Child, String) {
    let port = free_addr().port();
    let child = Child(
        Command::new(bin())
            .args(["run-function", "--data-dir"])
            .arg(data_dir)
            .env("FUNCTION_TARGET", target)
            .env("PORT", port.to_string())
            .env("AETHERVEIL_WEBHOOK_SECRET", SECRET)
            .env("AETHERVEIL_LOG_LEVEL", "warn")
            .stdout(Stdio::null())
            .spawn()
            .expect("spawn"),
    );
    let base = format!("http://127.0.0.1:{port}");
    let client = reqwest::Client::new();
    for _ in 0..500 {
        if client.get(format!("{base}/healthz")).send().await.is_ok_and(|r| r.status() == 200) {
            return (child, base);
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("function {target} never became healthy");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_webhook_function_serves_alone_on_port() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (_child, base) = start("webhook", dir.path()).await;
    let body = serde_json::to_vec(&fixtures::workflow_run(
        "fn/test",
        77,
        1,
        "requested",
        None,
        "abc",
        "push",
        chrono::Utc::now(),
    ))
    .expect("json");
    let r = post(&reqwest::Client::new(), &base, "workflow_run", "fn-1", body).await.expect("post");
    assert_eq!(r.status(), 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_event_function_takes_pubsub_pushes_and_cloudevents() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (_child, base) = start("journal", dir.path()).await;
    let client = reqwest::Client::new();
    let event = serde_json::json!({
        "delivery_id": "push-1", "github_event": "push", "action": null, "repo": "fn/test",
        "installation_id": null, "received_at": "2026-11-27T12:00:00Z",
        "kind": "push", "record": {"git_ref": "refs/heads/main", "before": "a", "after": "b", "forced": false,
            "created": false, "deleted": false, "changed_paths": [".github/workflows/ci.yml"]}
    });
    let data = base64::engine::general_purpose::STANDARD.encode(event.to_string());
    let envelope = serde_json::json!({"message": {"data": data, "messageId": "m-1", "attributes": {"kind": "push"}}, "subscription": "projects/p/subscriptions/journal"});
    let r = client.post(&base).json(&envelope).send().await.expect("push");
    assert_eq!(r.status(), 204);
    let r = client
        .post(format!("{base}/"))
        .header("ce-specversion", "1.0")
        .header("ce-id", "m-2")
        .header("ce-source", "//aetherveil/webhook")
        .header("ce-type", "dev.aetherveil.pipeline_event")
        .header("content-type", "application/json")
        .body(event.to_string())
        .send()
        .await
        .expect("cloudevent");
    assert_eq!(r.status(), 204);
    // Not a pipeline event: a permanent failure, which Pub/Sub dead-letters.
    let bad = serde_json::json!({"message": {"data": base64::engine::general_purpose::STANDARD.encode("{}"), "messageId": "m-3"}});
    assert_eq!(client.post(&base).json(&bad).send().await.expect("push").status(), 422);
    assert_eq!(client.post(&base).body("{oops").send().await.expect("push").status(), 400);
}
