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
    start_with(target, data_dir, &[]).await
}

async fn start_with(target: &str, data_dir: &std::path::Path, env: &[(&str, &str)]) -> (Child, String) {
    let port = free_addr().port();
    let child = Child(
        Command::new(bin())
            .args(["run-function", "--data-dir"])
            .arg(data_dir)
            .envs(env.iter().copied())
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_logscan_function_diagnoses_a_pushed_failed_job_from_the_github_api() {
    use aetherveil_simulator::{Scenario, SimOptions, Simulator, payloads};
    let scenario = Scenario::from_toml(
        r#"
name = "fn"
seed = 5
days = 1
wall_seconds = 1
[[repos]]
name = "fn/logs"
pushes_per_day = 6
[[repos.workflows]]
name = "CI"
file = "ci.yml"
on = ["push"]
[[repos.workflows.jobs]]
name = "build"
runs_on = ["ubuntu-latest"]
tool = "cargo"
duration = { median = "3m", p95 = "4m" }
[[breakages]]
repo = "fn/logs"
job = "build"
at_push = 1
kind = "compile"
"#,
        "fn",
    )
    .expect("scenario");
    let sim = Simulator::start(scenario, SimOptions { drain: Duration::from_millis(50), ..SimOptions::default() })
        .await
        .expect("simulator");
    sim.run(|_| {}).await;
    let job = {
        let world = sim.shared().world();
        let failure = world.failures.first().expect("the breakage fails a job");
        world.jobs[&failure.job_id].info.clone()
    };
    // The event the webhook function publishes for GitHub's `workflow_job` completed payload.
    let body = serde_json::to_vec(&payloads::workflow_job_event("completed", &job)).expect("payload");
    let delivery = aetherveil_models::DeliveryId("fn-job".into());
    let event_type = aetherveil_models::github::EventType::WorkflowJob;
    let normalized =
        aetherveil_webhook::normalize(Some(event_type), "workflow_job", &delivery, chrono::Utc::now(), &body)
            .expect("normalized");
    let event = normalized.event.expect("a job event");

    let dir = tempfile::tempdir().expect("tempdir");
    let api = sim.api_url();
    let (_child, base) =
        start_with("logscan", dir.path(), &[("AETHERVEIL_GITHUB_API_URL", &api), ("AETHERVEIL_GITHUB_TOKEN", "t")])
            .await;
    let data = base64::engine::general_purpose::STANDARD.encode(&event);
    let envelope = serde_json::json!({"message": {"data": data, "messageId": "m-1"}, "subscription": "projects/p/subscriptions/logscan"});
    let r = reqwest::Client::new().post(&base).json(&envelope).send().await.expect("push");
    assert_eq!(r.status(), 204);

    let store =
        aetherveil_store::SqliteStore::open(dir.path().join("aetherveil.db"), aetherveil_store::Synchronous::Normal)
            .expect("store");
    let doc = aetherveil_store::Store::get(&store, "diagnoses", &job.job_id.to_string())
        .await
        .expect("read")
        .expect("the pushed failed job is diagnosed");
    assert_eq!(doc.data["cause"], "compilation", "{}", doc.data);
    assert!(doc.data["lines"].as_array().is_some_and(|l| !l.is_empty()), "{}", doc.data);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_api_function_serves_the_json_api_and_the_web_ui_beside_health_and_metrics() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (_child, base) = start("api", dir.path()).await;
    let client = reqwest::Client::new();
    for path in ["/healthz", "/metrics", "/api/v1/runs?repo=acme/app", "/api/v1/health", "/api/v1/plans", "/"] {
        let r = client.get(format!("{base}{path}")).send().await.expect("get");
        assert_eq!(r.status(), 200, "{path}");
    }
    let r = client.get(format!("{base}/api/v1/runs/424242")).send().await.expect("get");
    assert_eq!(r.status(), 404, "an unknown run");
}
